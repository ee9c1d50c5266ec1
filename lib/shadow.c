/* SPDX-License-Identifier: MIT */
/*
 * The shadow: per domain, the leaves the guest tables map (the desired
 * state) and the mappings the sink holds, each a range map (rangemap.h),
 * plus two sets of IOVA spans: "dirty" (changed since the last successful
 * reconcile) and, with defer_removals, "pending" (removed, not yet flushed).
 *
 * What holds between calls: outside dirty and pending, the leaves and the
 * held mappings translate every page identically.  So a reconcile need only
 * look where those sets say, and deciding whether a held mapping still
 * agrees with the leaves only compares the leaves inside those sets: that
 * keeps one leaf change and its commit at O(1) however large the map.
 *
 * A reconcile (commit, flush, clear) over the dirty set:
 *  1. closure: a held mapping overlapping dirty that disagrees with the
 *     leaves anywhere is a kill and its whole range becomes dirty (VFIO
 *     type1 refuses to bisect a vfio_dma, so it goes whole and what stays is
 *     mapped back); a leaf overlapping dirty makes its whole range dirty, so
 *     runs are cut at leaf edges only; until nothing grows;
 *  2. unmap the kills, one call each;
 *  3. map, over dirty minus the mappings still held, each maximal run of
 *     leaves contiguous in IOVA and GPA with one perm inside one RAM region
 *     (the HVA is contiguous only within a region), one call each;
 *  4. on success dirty is empty and no longer pending.
 * A sink call that fails does not stop the reconcile: one mapping the sink
 * refuses (a page it cannot pin) must not hold back the others.  The held
 * tree changes only by the calls that succeeded, a kill whose unmap failed
 * stays held (nothing is mapped over it), and dirty stays whole, so the
 * next reconcile retries exactly what is still owed.
 *
 * Not thread safe: called under the VM lock (shadow.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "shadow_int.h"

/* ------------------------------------------------------------------ API */

int shadow_new(struct wpt_sink *sink, const struct wpt_guestmem *gm,
	       struct pagepool *pool, bool defer_removals,
	       struct wpt_shadow **out)
{
	struct wpt_shadow *s;

	if (!sink || !gm || !out)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (s)
		s->reserve = malloc(sizeof(*s->reserve));
	if (!s || !s->reserve) {
		free(s);
		return -ENOMEM;
	}
	s->sink = sink;
	s->gm = gm;
	s->defer_removals = defer_removals;
	rm_init(&s->leaves);
	rm_init(&s->held);
	rm_set_pool(&s->leaves, pool);
	rm_set_pool(&s->held, pool);
	rm_follow(&s->held, &s->leaves);
	spanset_init(&s->dirty);
	spanset_init(&s->pending);
	*out = s;
	return 0;
}

void shadow_free(struct wpt_shadow *s)
{
	if (!s)
		return;
	rm_free_all(&s->leaves);
	rm_free_all(&s->held);
	spanset_fini(&s->dirty);
	spanset_fini(&s->pending);
	free(s->reserve);
	free(s);
}

/* After a change to the leaves: the leaves over m's range are exactly m
 * (leaf) or none, or (m NULL) nothing is known (shadow_int.h). */
static void leaves_known(struct wpt_shadow *s, const struct wpt_mapping *m,
			 bool leaf)
{
	s->known_valid = m != NULL;
	if (!m)
		return;
	s->known = *m;
	s->known_leaf = leaf;
}

int shadow_leaf_add(struct wpt_shadow *s, uint64_t iova, uint64_t size,
		    uint64_t gpa, uint32_t perm)
{
	struct wpt_mapping m = { .iova = iova, .gpa = gpa, .size = size,
				 .perm = perm }, r;
	uint64_t last = iova + size - 1;
	struct rm_pos p;
	int ret;

	/* Sinks map whole pages (VFIO type1 wants page alignment). */
	if (!size || !perm || ((iova | size | gpa) & ~WPT_PAGE_MASK) ||
	    last < iova)
		return -EINVAL;
	if (!guestmem_region(s->gm, gpa, size))
		return -EINVAL;
	if (rm_overlap(&s->leaves, iova, last, &p, &r))
		return -EEXIST;
	/* Dirty first: if the insert then fails, a span dirty for nothing
	 * is only conservative (a reconcile finds nothing to do there). */
	ret = spanset_add(&s->dirty, iova, last, NULL);
	if (!ret)
		ret = rm_insert(&s->leaves, &m, 0, NULL);
	if (!ret)
		leaves_known(s, &m, true);
	return ret;
}

/* A leaf's own checks (shadow_leaf_add's -EINVAL), *reg caching the RAM
 * region found last. */
static bool leaf_valid(const struct wpt_shadow *s,
		       const struct wpt_ram_region **reg,
		       const struct wpt_mapping *m)
{
	/* Sinks map whole pages (VFIO type1 wants page alignment). */
	return m->size && m->perm &&
	       !((m->iova | m->size | m->gpa) & ~WPT_PAGE_MASK) &&
	       map_last(m) >= m->iova &&
	       guestmem_region_cached(s->gm, reg, m->gpa, m->size);
}

/* Take back the first n leaves of m, just inserted. */
static void leaves_unadd(struct wpt_shadow *s, const struct wpt_mapping *m,
			 unsigned int n)
{
	struct rm_pos p;

	leaves_known(s, NULL, false);
	while (n--)
		if (rm_find(&s->leaves, m[n].iova, &p))
			rm_remove(&s->leaves, &p);
}

/* Mark the leaves of m dirty: one span per run of adjacent leaves (a span
 * over a gap between them could reach a pending removal). */
static int leaves_dirty(struct wpt_shadow *s, const struct wpt_mapping *m,
			unsigned int n)
{
	unsigned int i, j;
	int ret;

	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && m[j].iova == map_last(&m[j - 1]) + 1;
		     j++)
			;
		ret = spanset_add(&s->dirty, m[i].iova, map_last(&m[j - 1]),
				  NULL);
		if (ret)
			return ret;
	}
	return 0;
}

int shadow_leaves_add(struct wpt_shadow *s, const struct wpt_mapping *m,
		      unsigned int n)
{
	const struct wpt_ram_region *reg = NULL;
	struct wpt_mapping r;
	struct rm_pos p;
	bool adjacent = true; /* one dirty span: a table's leaves, usually */
	unsigned int i;
	int ret = 0;

	for (i = 0; i < n; i++) {
		if (!leaf_valid(s, &reg, &m[i]))
			return -EINVAL;
		if (!i || m[i].iova == map_last(&m[i - 1]) + 1)
			continue;
		if (m[i].iova <= map_last(&m[i - 1]))
			return -EINVAL;
		adjacent = false;
	}
	if (!n)
		return 0;
	/* One look for the whole extent, gaps included. */
	if (rm_from(&s->leaves, m[0].iova, &p)) {
		rm_get(&p, &r);
		if (r.iova <= map_last(&m[n - 1]))
			return -EEXIST;
	}
	ret = rm_insert_batch(&s->leaves, m, n);
	if (ret)
		return ret;
	leaves_known(s, NULL, false);
	/* A span added before a failure says too much: only conservative. */
	ret = adjacent ? spanset_add(&s->dirty, m[0].iova,
				     map_last(&m[n - 1]), NULL)
		       : leaves_dirty(s, m, n);
	if (ret)
		leaves_unadd(s, m, n);
	return ret;
}

int shadow_leaf_remove(struct wpt_shadow *s, uint64_t iova, uint64_t size)
{
	struct wpt_mapping r;
	struct rm_pos p;
	int ret;

	if (!rm_find(&s->leaves, iova, &p))
		return -ENOENT;
	rm_get(&p, &r);
	if (r.size != size)
		return -ENOENT;
	/* HYBRID: the device may keep reaching the old page until the
	 * guest's invalidation says the IOTLB forgot it. */
	ret = spanset_add(s->defer_removals ? &s->pending : &s->dirty, iova,
		       map_last(&r), NULL);
	if (ret)
		return ret;
	rm_remove(&s->leaves, &p);
	/* Leaves are disjoint: nothing else was over r's range. */
	leaves_known(s, &r, false);
	return 0;
}

int shadow_leaves_remove(struct wpt_shadow *s, const struct wpt_mapping *m,
			 unsigned int n, unsigned int *removed)
{
	struct span_set *set = s->defer_removals ? &s->pending : &s->dirty;
	struct rm_pos p[SHADOW_BATCH_MAX];
	uint64_t found = 0, first = 0;
	unsigned int i;
	int ret;

	*removed = 0;
	if (n > SHADOW_BATCH_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (rm_find(&s->leaves, m[i].iova, &p[i]) &&
		    rm_size(&p[i]) == m[i].size)
			found |= 1ull << i;
	/* The spans first, one per run of adjacent leaves found: if one
	 * cannot be added, nothing is removed (and nothing lost). */
	for (i = 0; i < n; i++) {
		if (!(found >> i & 1))
			continue;
		if (!i || !(found >> (i - 1) & 1) ||
		    m[i].iova != map_last(&m[i - 1]) + 1)
			first = m[i].iova;
		if (i + 1 < n && (found >> (i + 1) & 1) &&
		    m[i + 1].iova == map_last(&m[i]) + 1)
			continue;
		ret = spanset_add(set, first, map_last(&m[i]), NULL);
		if (ret)
			return ret;
	}
	if (found)
		leaves_known(s, NULL, false);
	for (i = 0; i < n; i++)
		if (found >> i & 1) {
			rm_remove(&s->leaves, &p[i]);
			++*removed;
		}
	return 0;
}

uint64_t shadow_nr_leaves(const struct wpt_shadow *s)
{
	return s->leaves.nr;
}

int shadow_commit(struct wpt_shadow *s)
{
	return shadow_reconcile(s);
}

int shadow_flush(struct wpt_shadow *s, uint64_t iova, uint64_t size)
{
	uint64_t last = iova + size - 1;
	struct span *sp;
	int ret;

	if (!size || last < iova)
		last = UINT64_MAX;
	/* Whole pending spans go even where they pass the range: an early
	 * removal is legal, the IOTLB may evict any entry at any time. */
	for (sp = spanset_from(&s->pending, iova); sp && sp->first <= last;
	     sp = spanset_next(&s->pending, sp)) {
		ret = spanset_add(&s->dirty, sp->first, sp->last, NULL);
		if (ret)
			return ret;
	}
	return shadow_reconcile(s);
}

int shadow_flush_all(struct wpt_shadow *s)
{
	return shadow_flush(s, 0, 0);
}

int shadow_clear(struct wpt_shadow *s)
{
	int ret = spanset_add_all(&s->dirty, &s->reserve);

	if (ret)
		return ret;
	rm_free_all(&s->leaves);
	leaves_known(s, NULL, false);
	ret = shadow_reconcile(s);
	if (!s->reserve)
		s->reserve = malloc(sizeof(*s->reserve));
	return ret;
}

static int foreach_range(const struct rangemap *rm, shadow_iter_fn fn,
			 void *opaque)
{
	/* Looking up moves the map's cache only: const to its users. */
	struct rangemap *t = (struct rangemap *)rm;
	struct wpt_mapping m;
	struct rm_pos p;
	bool ok;
	int ret;

	for (ok = rm_from(t, 0, &p); ok; ok = rm_next(t, &p)) {
		rm_get(&p, &m);
		ret = fn(opaque, &m);
		if (ret)
			return ret;
	}
	return 0;
}

int shadow_foreach_leaf(const struct wpt_shadow *s, shadow_iter_fn fn,
			void *opaque)
{
	return foreach_range(&s->leaves, fn, opaque);
}

int shadow_foreach_mapping(const struct wpt_shadow *s, shadow_iter_fn fn,
			   void *opaque)
{
	return foreach_range(&s->held, fn, opaque);
}

bool shadow_is_pending(const struct wpt_shadow *s, uint64_t iova,
		       uint64_t size)
{
	struct span *sp;
	uint64_t last = iova + size - 1;

	if (!size)
		return false;
	if (last < iova)
		last = UINT64_MAX;
	sp = spanset_from(&s->pending, iova);
	return sp && sp->first <= iova && sp->last >= last;
}

void shadow_stats(const struct wpt_shadow *s, struct wpt_shadow_stats *st)
{
	*st = (struct wpt_shadow_stats){
		.leaves = s->leaves.nr,
		.mappings = s->held.nr,
		.pending_bytes = s->pending.bytes,
		.maps = s->maps,
		.unmaps = s->unmaps,
		.errors = s->errors,
		.closure_steps = s->closure_steps,
	};
}
