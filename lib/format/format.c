/* SPDX-License-Identifier: MIT */
/*
 * The table formats the library knows, indexed by enum wpt_format.  A new
 * format is one new file in lib/format/ and one line here.
 */
#include "format.h"

static const struct wpt_format_ops *const wpt_formats[] = {
	[WPT_FMT_ARM_LPAE_S1] = &wpt_arm_lpae_s1_ops,
	[WPT_FMT_ARM_LPAE_S2] = &wpt_arm_lpae_s2_ops,
};

const struct wpt_format_ops *wpt_format_lookup(enum wpt_format format)
{
	/* The enum comes from the VMM: any int may arrive. */
	if ((unsigned int)format >= sizeof(wpt_formats) / sizeof(wpt_formats[0]))
		return NULL;
	return wpt_formats[format];
}
