/* SPDX-License-Identifier: MIT */
/*
 * Arm VMSAv8-64 stage 1 (TCR/CD-style): the start level follows from the
 * input size alone, leaves grant access through AP[2], and tables may take
 * write access away from their whole subtree through APTable[1].
 */
#include <errno.h>

#include "arm_lpae.h"

/* AP[2]: read-only at every exception level.  AP[1] (bit 6) selects EL0
 * access; a device's DMA is mirrored whatever its privilege, so it is not
 * read here, nor are the execute-never bits (VFIO maps have no exec). */
#define ARM_LPAE_S1_AP_RDONLY       ARM_LPAE_BIT(7)
/* APTable[1]: no write access at any level below this table. */
#define ARM_LPAE_S1_APTABLE_RDONLY  ARM_LPAE_BIT(62)

#define S1_PERM_RW (WPT_PERM_READ | WPT_PERM_WRITE)

/*
 * TCR.TnSZ fixes the input size; the walk starts at the level that leaves
 * the fewest levels able to resolve it (VMSAv8-64 initial lookup level),
 * and the start table holds only the entries the input size reaches.
 */
static int s1_init(const struct wpt_format_cfg *cfg,
		   struct wpt_pgtable_geo *geo)
{
	unsigned int levels;
	int ret;

	/* cfg->sl and cfg->concat are VTCR fields: stage 1 has neither. */
	ret = arm_lpae_geo_common(cfg, WPT_FMT_ARM_LPAE_S1, WPT_FMT_F_HPD, geo);
	if (ret)
		return ret;
	levels = (geo->ias - geo->granule_shift + geo->bits_per_level - 1) /
		 geo->bits_per_level;
	geo->start_level = WPT_LAST_LEVEL + 1 - levels;
	geo->root_size = 8ull << (geo->ias -
				  geo_level_shift(geo, geo->start_level));
	return 0;
}

static void s1_decode(const struct wpt_pgtable_geo *geo, int level,
		      uint64_t desc, struct wpt_desc *out)
{
	if (!arm_lpae_decode_common(geo, level, desc, out))
		return;
	if (out->type == WPT_DESC_TABLE) {
		/* TCR.HPDn = 1 makes APTable (and the XN table bits) ignored. */
		if ((desc & ARM_LPAE_S1_APTABLE_RDONLY) &&
		    !(geo->flags & WPT_FMT_F_HPD))
			out->perm = WPT_PERM_READ;
		else
			out->perm = S1_PERM_RW;
		return;
	}
	out->perm = desc & ARM_LPAE_S1_AP_RDONLY ? WPT_PERM_READ : S1_PERM_RW;
}

static void s1_decode_many(const struct wpt_pgtable_geo *geo, int level,
			   const uint64_t *desc, unsigned int n,
			   struct wpt_desc *out)
{
	format_decode_each(s1_decode, geo, level, desc, n, out);
}

const struct wpt_format_ops wpt_arm_lpae_s1_ops = {
	.name = "arm-lpae-s1",
	.format = WPT_FMT_ARM_LPAE_S1,
	.init = s1_init,
	.decode = s1_decode,
	.decode_many = s1_decode_many,
};
