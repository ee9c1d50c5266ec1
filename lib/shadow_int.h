/* SPDX-License-Identifier: MIT */
/*
 * The shadow's insides, shared by shadow.c (the leaves: what the guest
 * tables map) and reconcile.c (bringing the sink in line with them), both
 * kept in range maps (rangemap.h).  Never included elsewhere.
 */
#ifndef WPT_SHADOW_INT_H
#define WPT_SHADOW_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "rangemap.h"
#include "shadow.h"
#include "spanset.h"

struct wpt_shadow {
	struct wpt_sink *sink;
	const struct wpt_guestmem *gm;
	bool defer_removals;
	/* leaves: what the guest tables map.  held: what the sink holds,
	 * flagged RM_F_JUDGED (and RM_F_KILL if it disagrees with the
	 * leaves) by the reconcile in progress, never between two. */
	struct rangemap leaves, held;
	struct span_set dirty, pending;
	/* The leaves over known's range are exactly known (known_leaf) or
	 * none, as the last leaf_add or leaf_remove left them: true until
	 * the leaves change again (every other change clears known_valid).
	 * A trapped store's commit (reconcile_one) reads its leaf here
	 * instead of looking it up again. */
	bool known_valid, known_leaf;
	struct wpt_mapping known;
	uint64_t maps, unmaps, errors;
	uint64_t closure_steps; /* leaves and held visited by closure scans */
	/* Kept for shadow_clear, which must not need an allocation: it is how
	 * a domain faulted by -ENOMEM unmaps everything. */
	struct span *reserve;
};

/* Inclusive ends throughout: a range may end at the top of a 64-bit space. */
static inline uint64_t map_last(const struct wpt_mapping *m)
{
	return m->iova + m->size - 1;
}

/* What reconcile_one may take as the leaves over [first, last] without a
 * look: true and *leaf (with *m if so) where the last single-leaf change
 * was exactly there and nothing changed the leaves since. */
static inline bool shadow_known(const struct wpt_shadow *s, uint64_t first,
				uint64_t last, bool *leaf,
				struct wpt_mapping *m)
{
	if (!s->known_valid || s->known.iova != first ||
	    map_last(&s->known) != last)
		return false;
	*leaf = s->known_leaf;
	if (*leaf)
		*m = s->known;
	return true;
}

/* ---- reconcile.c ---- */
/* Make the sink agree with the leaves over the dirty set (shadow.h's
 * commit): 0, or the first failing sink call's error, with everything
 * still owed left dirty. */
int shadow_reconcile(struct wpt_shadow *s);

/* ---- fill.c ---- */
/* Map what the leaves hold over dirty span sp and no held mapping covers
 * (the closure's kills unmapped first), recording each run held: 0 or
 * the first error, what failed staying owed (dirty, not held). */
int fill_span(struct wpt_shadow *s, const struct span *sp);
/* Map leaf m as one run and record it held: 0 or the error (owed still). */
int fill_run(struct wpt_shadow *s, const struct wpt_mapping *m);

#endif
