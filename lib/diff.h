/* SPDX-License-Identifier: MIT */
/*
 * Descriptor diffing: descriptors of tracked tables changed (a trapped
 * store, the VMM's own write, a table found stale, an invalidation), so
 * every use of each table unmaps what the old value mapped and maps what
 * the new one maps, through the walker.  Under vm->lock, inside an
 * operation (op.h).
 */
#ifndef WPT_DIFF_H
#define WPT_DIFF_H

#include <stdint.h>

#include "core.h"

/* [gpa, gpa + len) of the tracked page pg may have changed: diff every
 * table on it there against RAM. */
void diff_page(struct wpt_vm *vm, struct wpt_page *pg, uint64_t gpa,
	       uint64_t len);

/* Diff all of t against RAM. */
void diff_table(struct wpt_vm *vm, struct wpt_table *t);

/* INVAL mode: diff the descriptors translating [lo, hi] (inclusive) in
 * d's tree against their snapshots. */
void diff_iova_range(struct wpt_domain *d, uint64_t lo, uint64_t hi);

#endif
