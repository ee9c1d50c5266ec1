/* SPDX-License-Identifier: MIT */
/*
 * The shadow's insides, shared by shadow.c (the leaves: what the guest
 * tables map), reconcile.c (bringing the sink in line with them) and
 * shadow_ranges.c (the trees both keep).  Never included elsewhere.
 */
#ifndef WPT_SHADOW_INT_H
#define WPT_SHADOW_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <bsd/sys/tree.h>

#include "shadow.h"
#include "spanset.h"

/* A leaf (in leaves) or one mapping the sink holds (in held). */
struct shadow_range {
	RB_ENTRY(shadow_range) link;
	struct wpt_mapping m;
	const struct wpt_ram_region *region; /* leaves: the RAM holding m.gpa */
	uint64_t epoch;                      /* held: reconcile that judged it */
	bool kill;                           /* held: judged to disagree */
};

RB_HEAD(range_tree, shadow_range);
RB_PROTOTYPE(range_tree, shadow_range, link, range_cmp)

struct wpt_shadow {
	struct wpt_sink *sink;
	const struct wpt_guestmem *gm;
	bool defer_removals;
	struct range_tree leaves, held;
	uint64_t nr_leaves, nr_held;
	struct span_set dirty, pending;
	uint64_t epoch; /* one per reconcile: dates the judgements of held */
	uint64_t maps, unmaps, errors;
	uint64_t closure_steps; /* leaves and held visited by closure scans */
	/* Kept for shadow_clear, which must not need an allocation: it is how
	 * a domain faulted by -ENOMEM unmaps everything. */
	struct span *reserve;
};

/* Inclusive ends throughout: a range may end at the top of a 64-bit space. */
static inline uint64_t range_last(const struct shadow_range *r)
{
	return r->m.iova + r->m.size - 1;
}

/* ---- shadow_ranges.c ---- */
/* The first range ending at or after x. */
struct shadow_range *range_from(struct range_tree *t, uint64_t x);
void range_free_all(struct range_tree *t);

/* ---- reconcile.c ---- */
/* Make the sink agree with the leaves over the dirty set (shadow.h's
 * commit): 0, or the first failing sink call's error, with everything
 * still owed left dirty. */
int shadow_reconcile(struct wpt_shadow *s);

#endif
