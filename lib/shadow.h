/* SPDX-License-Identifier: MIT */
/*
 * The shadow: per domain, the leaves the guest tables map now (the desired
 * state) and the mappings the sink holds, kept equal by shadow_commit().
 *
 * Rules it keeps:
 *  - one commit makes one sink map call per maximal run of contiguous IOVA
 *    and GPA with equal permissions among what it must (re)map;
 *  - a sink mapping is never unmapped in part: if any page of it must change,
 *    the whole mapping is unmapped and what stays is mapped back;
 *  - the record of sink mappings changes only when a sink call succeeds, so
 *    after an error it still equals what the sink holds, and the changes not
 *    yet made stay due for the next commit;
 *  - with defer_removals (HYBRID), a removal alone leaves the sink mapping in
 *    place, pending, until shadow_flush() covers it; a change that maps
 *    something over a pending range applies the removal first.
 *
 * Not thread safe: called under the VM lock.
 */
#ifndef WPT_SHADOW_H
#define WPT_SHADOW_H

#include <stdbool.h>
#include <stdint.h>

#include "wpt.h"
#include "guestmem.h"
#include "sink/sink.h"

struct pagepool;

struct wpt_shadow;

/* Whether n starts where m ends, in IOVA and in GPA, with m's perm: one
 * sink call could map both (RAM regions aside). */
static inline bool map_continues(const struct wpt_mapping *m,
				 const struct wpt_mapping *n)
{
	return m->iova + m->size == n->iova && m->gpa + m->size == n->gpa &&
	       m->perm == n->perm;
}

/* gm, sink and pool (the VM's, for the books' 4 KiB arrays; NULL: the
 * heap) must outlive the shadow. */
int shadow_new(struct wpt_sink *sink, const struct wpt_guestmem *gm,
	       struct pagepool *pool, bool defer_removals,
	       struct wpt_shadow **out);
/* Free memory only: the sink is not called. */
void shadow_free(struct wpt_shadow *s);

/* Desired state.  add: -EEXIST if it overlaps a leaf, -EINVAL if the GPA
 * range is not inside one RAM region or size/perm is 0; remove: the leaf
 * starting at iova with that size, else -ENOENT. */
int shadow_leaf_add(struct wpt_shadow *s, uint64_t iova, uint64_t size,
		    uint64_t gpa, uint32_t perm);
/* Add n leaves, m sorted by IOVA and disjoint, together: 0, or nothing
 * added and -EINVAL (a leaf shadow_leaf_add refuses so, or m unsorted),
 * -EEXIST (a leaf held anywhere from m[0]'s start to m[n - 1]'s end, gaps
 * included: the caller adds one at a time to learn more) or -ENOMEM. */
int shadow_leaves_add(struct wpt_shadow *s, const struct wpt_mapping *m,
		      unsigned int n);
int shadow_leaf_remove(struct wpt_shadow *s, uint64_t iova, uint64_t size);
/* Remove the leaves of m (sorted by IOVA, disjoint, n at most
 * SHADOW_BATCH_MAX) together, each as shadow_leaf_remove would: one not
 * held with that start and size is passed over.  0 and *removed, or
 * -ENOMEM (nothing removed) or -EINVAL. */
#define SHADOW_BATCH_MAX 64
int shadow_leaves_remove(struct wpt_shadow *s, const struct wpt_mapping *m,
			 unsigned int n, unsigned int *removed);
uint64_t shadow_nr_leaves(const struct wpt_shadow *s);

/* Bring the sink in line with the leaves over everything changed since the
 * last successful commit (removals excepted with defer_removals).  Returns
 * 0 or the first sink error. */
int shadow_commit(struct wpt_shadow *s);

/* defer_removals: send the removals pending in any part of
 * [iova, iova + size) (size 0 or a wrap means to the end of the space). */
int shadow_flush(struct wpt_shadow *s, uint64_t iova, uint64_t size);
int shadow_flush_all(struct wpt_shadow *s);

/* Forget every leaf and unmap every sink mapping (domain free, fault). */
int shadow_clear(struct wpt_shadow *s);

/* Iterate in IOVA order; fn returning nonzero stops and is returned. */
typedef int (*shadow_iter_fn)(void *opaque, const struct wpt_mapping *m);
int shadow_foreach_leaf(const struct wpt_shadow *s, shadow_iter_fn fn,
			void *opaque);
int shadow_foreach_mapping(const struct wpt_shadow *s, shadow_iter_fn fn,
			   void *opaque);

/* True if all of [iova, iova + size) lies in pending removals. */
bool shadow_is_pending(const struct wpt_shadow *s, uint64_t iova,
		       uint64_t size);

struct wpt_shadow_stats {
	uint64_t leaves;
	uint64_t mappings;      /* sink mappings held */
	uint64_t pending_bytes; /* bytes of IOVA in pending removals */
	uint64_t maps, unmaps, errors;
	uint64_t closure_steps; /* work: ranges visited closing dirty spans */
};
void shadow_stats(const struct wpt_shadow *s, struct wpt_shadow_stats *st);

#endif
