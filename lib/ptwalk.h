/* SPDX-License-Identifier: MIT */
/*
 * The walker: the only code that reads descriptors at their place in a
 * tree.  It decodes through the domain's format ops, applies the
 * ancestors' permission masks, keeps leaves to registered RAM (invariant:
 * nothing else reaches a device) and bounds its work.  Three users:
 *  - the tracker's walks (adding and removing a use: a table's snapshot
 *    entry by entry, descending into tables, leaves to the shadow);
 *  - the invalidation path (the entries of one IOVA range, from the root);
 *  - verification (a read-only walk of guest RAM, touching nothing).
 * Under vm->lock, inside an operation (op.h), except ptwalk_tree.
 */
#ifndef WPT_PTWALK_H
#define WPT_PTWALK_H

#include <stdint.h>

#include "core.h"

/* The IOVA of entry idx of a table at base whose entries map 1 << shift
 * bytes each: for a walk that works the shift out once a table. */
static inline uint64_t ptwalk_iova_at(uint64_t base, unsigned int shift,
				      uint64_t idx)
{
	return base + (idx << shift);
}

/* The IOVA the entry idx of a table at (level, base) translates first. */
static inline uint64_t ptwalk_entry_iova(const struct wpt_pgtable_geo *geo,
					 int level, uint64_t base, uint64_t idx)
{
	return ptwalk_iova_at(base, geo_level_shift(geo, level), idx);
}

/* Add the use of the table at gpa found at (d, level, iova) and map what it
 * maps.  Errors fault d (torn down at the operation's end); returns d's
 * fault. */
int ptwalk_use_add(struct wpt_domain *d, int level, uint64_t iova,
		   uint64_t gpa, uint32_t perm_mask);
/* Remove the use of d's root and everything under it. */
void ptwalk_root_remove(struct wpt_domain *d);

/* Decode desc as found in u's table. */
void ptwalk_decode(const struct wpt_table_use *u, uint64_t desc,
		   struct wpt_desc *dd);
/* Map / unmap what entry idx of use u says (dd, decoded): leaves go to
 * the shadow, tables become uses of their own.  The removal undoes exactly
 * what the addition of the same dd did. */
void ptwalk_entry_add(struct wpt_table_use *u, uint64_t idx,
		      const struct wpt_desc *dd);
void ptwalk_entry_remove(struct wpt_table_use *u, uint64_t idx,
			 const struct wpt_desc *dd);

/*
 * The entries translating [lo, hi] (inclusive) in d's tree, from the root:
 * changed() is called for each whose RAM value differs from its table's
 * snapshot (the table pinned meanwhile), and the walk descends into the
 * tables of entries that did not change.  Charged to d's walk budget.
 */
typedef void (*ptwalk_changed_fn)(void *opaque, struct wpt_table *t,
				  uint64_t idx, uint64_t now);
void ptwalk_range(struct wpt_domain *d, uint64_t lo, uint64_t hi,
		  ptwalk_changed_fn changed, void *opaque);

/* Read-only: what a full walk of guest RAM from root finds now. */
struct ptwalk_cb {
	/* A table reached at (level, iova) that lies in RAM. */
	int (*table)(void *opaque, int level, uint64_t iova, uint64_t gpa,
		     uint64_t size, uint32_t perm_mask);
	/* A leaf in RAM with perm (after ancestors' masks) != 0. */
	int (*leaf)(void *opaque, uint64_t iova, uint64_t gpa, uint64_t size,
		    uint32_t perm);
	void *opaque;
};

/* Calls cb for every table and mapped leaf, in IOVA order.  Visits at most
 * max_descs descriptors (-E2BIG beyond).  A callback's nonzero return
 * stops and is returned. */
int ptwalk_tree(const struct wpt_format_ops *fmt,
		const struct wpt_pgtable_geo *geo,
		const struct wpt_guestmem *mem, uint64_t root_gpa,
		uint64_t max_descs, const struct ptwalk_cb *cb);

#endif
