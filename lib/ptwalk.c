/* SPDX-License-Identifier: MIT */
/*
 * Read-only walks over guest RAM through a format's ops: what a full walk
 * from the root finds now, without touching the tracker.  The oracle for
 * wpt_domain_verify(); bounded like every walk.
 */
#include <errno.h>

#include "core.h"

struct walk {
	const struct wpt_format_ops *fmt;
	const struct wpt_pgtable_geo *geo;
	const struct wpt_guestmem *mem;
	const struct ptwalk_cb *cb;
	uint64_t left; /* descriptors it may still visit */
};

static int walk_table(struct walk *w, int level, uint64_t base, uint64_t gpa,
		      uint32_t mask)
{
	uint64_t size = geo_table_size(w->geo, level), n = size / 8, i;
	const uint64_t *hva = guestmem_hva(w->mem, gpa, size);
	int ret;

	if (!hva || gpa % 8)
		return 0; /* outside RAM: maps nothing */
	if (w->cb->table) {
		ret = w->cb->table(w->cb->opaque, level, base, gpa, size, mask);
		if (ret)
			return ret;
	}
	if (n > w->left)
		return -E2BIG;
	w->left -= n;
	for (i = 0; i < n; i++) {
		uint64_t iova = ptwalk_entry_iova(w->geo, level, base, i);
		struct wpt_desc dd;
		uint32_t perm;

		w->fmt->decode(w->geo, level, guestmem_load64(&hva[i]), &dd);
		if (dd.type == WPT_DESC_TABLE) {
			ret = walk_table(w, level + 1, iova, dd.addr,
					 mask & dd.perm);
			if (ret)
				return ret;
			continue;
		}
		perm = dd.perm & mask;
		if (dd.type != WPT_DESC_LEAF || !perm ||
		    !tracker_leaf_in_ram(w->mem, dd.addr, dd.size) || !w->cb->leaf)
			continue;
		ret = w->cb->leaf(w->cb->opaque, iova, dd.addr, dd.size, perm);
		if (ret)
			return ret;
	}
	return 0;
}

int ptwalk_tree(const struct wpt_format_ops *fmt,
		const struct wpt_pgtable_geo *geo,
		const struct wpt_guestmem *mem, uint64_t root_gpa,
		uint64_t max_descs, const struct ptwalk_cb *cb)
{
	struct walk w = { fmt, geo, mem, cb, max_descs };

	return walk_table(&w, geo->start_level, 0, root_gpa,
			  WPT_PERM_READ | WPT_PERM_WRITE);
}
