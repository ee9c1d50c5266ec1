/* SPDX-License-Identifier: MIT */
/*
 * The shadow: per domain, the leaves the guest tables map (the desired
 * state) and the mappings the sink holds, each an RB tree ordered by IOVA,
 * plus two sets of IOVA spans: "dirty" (changed since the last successful
 * reconcile) and, with defer_removals, "pending" (removed, not yet flushed).
 *
 * What holds between calls: outside dirty and pending, the leaves and the
 * held mappings translate every page identically.  So a reconcile need only
 * look where those sets say, and deciding whether a held mapping still
 * agrees with the leaves only compares the leaves inside those sets: that
 * keeps one leaf change and its commit at O(log n) however large the map.
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
 * A sink call that fails stops the reconcile; the held tree changed only by
 * the calls that succeeded and everything still owed stays dirty.
 *
 * Not thread safe: called under the VM lock (shadow.h).
 */
#include <errno.h>
#include <stdlib.h>

#include <bsd/sys/tree.h>

#include "shadow.h"

/* A leaf (in leaves) or one mapping the sink holds (in held). */
struct shadow_range {
	RB_ENTRY(shadow_range) link;
	struct wpt_mapping m;
	const struct wpt_ram_region *region; /* leaves: the RAM holding m.gpa */
	uint64_t epoch;                      /* held: reconcile that judged it */
	bool kill;                           /* held: judged to disagree */
};

/* A maximal span [first, last] of a span set: touching spans merge. */
struct shadow_span {
	RB_ENTRY(shadow_span) link;
	uint64_t first, last;
};

static int range_cmp(const struct shadow_range *a, const struct shadow_range *b)
{
	return a->m.iova < b->m.iova ? -1 : a->m.iova > b->m.iova;
}

static int span_cmp(const struct shadow_span *a, const struct shadow_span *b)
{
	return a->first < b->first ? -1 : a->first > b->first;
}

RB_HEAD(range_tree, shadow_range);
RB_HEAD(span_tree, shadow_span);
/* tree.h marks static generated functions __unused, which libbsd leaves
 * undefined (Linux uapi structs have members by that name). */
#define __unused __attribute__((__unused__))
RB_GENERATE_STATIC(range_tree, shadow_range, link, range_cmp)
RB_GENERATE_STATIC(span_tree, shadow_span, link, span_cmp)
#undef __unused

struct span_set {
	struct span_tree tree;
	uint64_t bytes;
};

struct wpt_shadow {
	struct wpt_sink *sink;
	const struct wpt_guestmem *gm;
	bool defer_removals;
	struct range_tree leaves, held;
	uint64_t nr_leaves, nr_held;
	struct span_set dirty, pending;
	uint64_t epoch; /* one per reconcile: dates the judgements of held */
	uint64_t maps, unmaps, errors;
};

/* Inclusive ends throughout: a range may end at the top of a 64-bit space. */
static uint64_t range_last(const struct shadow_range *r)
{
	return r->m.iova + r->m.size - 1;
}

/* b starts at most one past a's last. */
static bool touches(uint64_t a_last, uint64_t b_first)
{
	return !b_first || b_first - 1 <= a_last;
}

/* ----------------------------------------------------------- range trees */

/* The first range ending at or after x. */
static struct shadow_range *range_from(struct range_tree *t, uint64_t x)
{
	struct shadow_range key = { .m.iova = x }, *r, *p;

	r = RB_NFIND(range_tree, t, &key);
	p = r ? RB_PREV(range_tree, t, r) : RB_MAX(range_tree, t);
	return p && range_last(p) >= x ? p : r;
}

static void range_free_all(struct range_tree *t)
{
	struct shadow_range *r, *next;

	RB_FOREACH_SAFE(r, range_tree, t, next) {
		RB_REMOVE(range_tree, t, r);
		free(r);
	}
}

/* -------------------------------------------------------------- span sets */

static uint64_t span_len(uint64_t first, uint64_t last)
{
	return last - first + 1; /* the whole 64-bit space wraps to 0 */
}

/* The first span ending at or after x. */
static struct shadow_span *span_from(struct span_set *set, uint64_t x)
{
	struct shadow_span key = { .first = x }, *sp, *p;

	sp = RB_NFIND(span_tree, &set->tree, &key);
	p = sp ? RB_PREV(span_tree, &set->tree, sp)
	       : RB_MAX(span_tree, &set->tree);
	return p && p->last >= x ? p : sp;
}

static struct shadow_span *span_next(struct span_set *set,
				     struct shadow_span *sp)
{
	return RB_NEXT(span_tree, &set->tree, sp);
}

/* Add [first, last]; *out (if given) is the span now holding it.  Allocates
 * only when nothing overlaps or touches it, before changing anything. */
static int span_add(struct span_set *set, uint64_t first, uint64_t last,
		    struct shadow_span **out)
{
	struct shadow_span *sp = span_from(set, first ? first - 1 : 0), *n;

	if (!sp || !touches(last, sp->first)) {
		sp = malloc(sizeof(*sp));
		if (!sp)
			return -ENOMEM;
		sp->first = first;
		sp->last = last;
		RB_INSERT(span_tree, &set->tree, sp);
		set->bytes += span_len(first, last);
	} else {
		/* Lowering first keeps the order: the span before ends
		 * more than one below first. */
		set->bytes -= span_len(sp->first, sp->last);
		sp->first = first < sp->first ? first : sp->first;
		sp->last = last > sp->last ? last : sp->last;
		while ((n = span_next(set, sp)) && touches(sp->last, n->first)) {
			sp->last = n->last > sp->last ? n->last : sp->last;
			set->bytes -= span_len(n->first, n->last);
			RB_REMOVE(span_tree, &set->tree, n);
			free(n);
		}
		set->bytes += span_len(sp->first, sp->last);
	}
	if (out)
		*out = sp;
	return 0;
}

/* Take [first, last] out.  Cutting a hole in a span needs a new one; if
 * that allocation fails the span stays whole: a set that says too much is
 * only conservative (a reconcile finds nothing to do there). */
static void span_sub(struct span_set *set, uint64_t first, uint64_t last)
{
	struct shadow_span *sp = span_from(set, first), *next, *n;

	for (; sp && sp->first <= last; sp = next) {
		next = span_next(set, sp);
		if (sp->first < first && sp->last > last) {
			n = malloc(sizeof(*n));
			if (!n)
				return;
			n->first = last + 1;
			n->last = sp->last;
			sp->last = first - 1;
			RB_INSERT(span_tree, &set->tree, n);
			set->bytes -= span_len(first, last);
			return;
		}
		set->bytes -= span_len(sp->first, sp->last);
		if (sp->first >= first && sp->last <= last) {
			RB_REMOVE(span_tree, &set->tree, sp);
			free(sp);
			continue;
		}
		if (sp->first < first)
			sp->last = first - 1;
		else
			sp->first = last + 1; /* still below next->first */
		set->bytes += span_len(sp->first, sp->last);
	}
}

static void span_clear(struct span_set *set)
{
	struct shadow_span *sp, *next;

	RB_FOREACH_SAFE(sp, span_tree, &set->tree, next) {
		RB_REMOVE(span_tree, &set->tree, sp);
		free(sp);
	}
	set->bytes = 0;
}

/* ---------------------------------------------------------------- closure */

/* The leaves translate all of [first, last] as held mapping h does. */
static bool leaves_agree(struct wpt_shadow *s, const struct shadow_range *h,
			 uint64_t first, uint64_t last)
{
	struct shadow_range *r = range_from(&s->leaves, first);
	uint64_t x = first;

	for (; r && r->m.iova <= x; r = RB_NEXT(range_tree, &s->leaves, r)) {
		if (r->m.gpa - r->m.iova != h->m.gpa - h->m.iova ||
		    r->m.perm != h->m.perm)
			return false;
		if (range_last(r) >= last)
			return true;
		x = range_last(r) + 1;
	}
	return false; /* a hole at x */
}

/* Outside dirty and pending the leaves agree with what is held (the rule at
 * the top), so only those parts of h need comparing. */
static bool held_disagrees(struct wpt_shadow *s, const struct shadow_range *h)
{
	struct span_set *sets[2] = { &s->dirty, &s->pending };
	uint64_t last = range_last(h);
	struct shadow_span *sp;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		for (sp = span_from(sets[i], h->m.iova); sp && sp->first <= last;
		     sp = span_next(sets[i], sp)) {
			if (!leaves_agree(s, h,
					  sp->first > h->m.iova ? sp->first : h->m.iova,
					  sp->last < last ? sp->last : last))
				return true;
		}
	}
	return false;
}

/* Judged once per reconcile: the leaves do not change during one. */
static bool held_is_kill(struct wpt_shadow *s, struct shadow_range *h)
{
	if (h->epoch != s->epoch) {
		h->epoch = s->epoch;
		h->kill = held_disagrees(s, h);
	}
	return h->kill;
}

static void widen(uint64_t *first, uint64_t *last, const struct shadow_range *r)
{
	if (r->m.iova < *first)
		*first = r->m.iova;
	if (range_last(r) > *last)
		*last = range_last(r);
}

/* Widen [*first, *last] by every leaf and kill overlapping [a, b]. */
static void closure_scan(struct wpt_shadow *s, uint64_t a, uint64_t b,
			 uint64_t *first, uint64_t *last)
{
	struct shadow_range *r;

	for (r = range_from(&s->leaves, a); r && r->m.iova <= b;
	     r = RB_NEXT(range_tree, &s->leaves, r))
		widen(first, last, r);
	for (r = range_from(&s->held, a); r && r->m.iova <= b;
	     r = RB_NEXT(range_tree, &s->held, r))
		if (held_is_kill(s, r))
			widen(first, last, r);
}

/* Grow dirty span *spp until nothing overlapping it reaches out; each part
 * of it is scanned once (merged neighbours at most once more). */
static void close_span(struct wpt_shadow *s, struct shadow_span **spp)
{
	struct shadow_span *sp = *spp;
	uint64_t done_first = sp->first, done_last = sp->last;
	uint64_t first = done_first, last = done_last;

	closure_scan(s, done_first, done_last, &first, &last);
	while (first < sp->first || last > sp->last) {
		/* Overlaps sp, so no allocation and no failure. */
		(void)span_add(&s->dirty, first, last, &sp);
		first = sp->first;
		last = sp->last;
		if (first < done_first)
			closure_scan(s, first, done_first - 1, &first, &last);
		if (last > done_last)
			closure_scan(s, done_last + 1, last, &first, &last);
		done_first = sp->first;
		done_last = sp->last;
	}
	*spp = sp;
}

static void close_dirty(struct wpt_shadow *s)
{
	struct shadow_span *sp;

	for (sp = RB_MIN(span_tree, &s->dirty.tree); sp;
	     sp = span_next(&s->dirty, sp))
		close_span(s, &sp);
}

/* ------------------------------------------------------------ sink calls */

static int unmap_kills(struct wpt_shadow *s)
{
	struct shadow_span *sp;
	struct shadow_range *h, *next;
	int ret;

	RB_FOREACH(sp, span_tree, &s->dirty.tree) {
		for (h = range_from(&s->held, sp->first);
		     h && h->m.iova <= sp->last; h = next) {
			next = RB_NEXT(range_tree, &s->held, h);
			if (h->epoch != s->epoch || !h->kill)
				continue;
			ret = wpt_sink_unmap(s->sink, h->m.iova, h->m.size);
			if (ret) {
				s->errors++;
				return ret;
			}
			s->unmaps++;
			RB_REMOVE(range_tree, &s->held, h);
			s->nr_held--;
			free(h);
		}
	}
	return 0;
}

/* The pieces of leaves one map call is being gathered for. */
struct shadow_run {
	struct wpt_mapping m; /* m.size 0: none yet */
	const struct wpt_ram_region *region;
};

static int run_map(struct wpt_shadow *s, struct shadow_run *run)
{
	struct shadow_range *h;
	void *hva;
	int ret;

	if (!run->m.size)
		return 0;
	/* Invariant 3 checked where it matters: at the call. */
	hva = guestmem_hva(s->gm, run->m.gpa, run->m.size);
	if (!hva)
		return -EFAULT;
	/* Allocate first: what the sink holds must be recorded. */
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	ret = wpt_sink_map(s->sink, run->m.iova, run->m.gpa, hva, run->m.size,
			   run->m.perm);
	if (ret) {
		free(h);
		s->errors++;
		return ret;
	}
	s->maps++;
	h->m = run->m;
	h->epoch = s->epoch;
	RB_INSERT(range_tree, &s->held, h);
	s->nr_held++;
	run->m.size = 0;
	return 0;
}

/* Extend the run by [first, last] of leaf r, or map it and start anew. */
static int run_add(struct wpt_shadow *s, struct shadow_run *run,
		   const struct shadow_range *r, uint64_t first, uint64_t last)
{
	uint64_t gpa = r->m.gpa + (first - r->m.iova);
	int ret;

	if (run->m.size && run->m.iova + run->m.size == first &&
	    run->m.gpa + run->m.size == gpa && run->m.perm == r->m.perm &&
	    run->region == r->region) {
		run->m.size += last - first + 1;
		return 0;
	}
	ret = run_map(s, run);
	if (ret)
		return ret;
	run->m = (struct wpt_mapping){ .iova = first, .gpa = gpa,
				       .size = last - first + 1,
				       .perm = r->m.perm };
	run->region = r->region;
	return 0;
}

/* Add the parts of leaf r no held mapping covers; *hp walks the held
 * mappings alongside (a new one lands before it, never after). */
static int fill_leaf(struct wpt_shadow *s, struct shadow_run *run,
		     const struct shadow_range *r, struct shadow_range **hp)
{
	uint64_t x = r->m.iova, last = range_last(r), end;
	struct shadow_range *h = *hp;
	int ret;

	for (;;) {
		while (h && range_last(h) < x)
			h = RB_NEXT(range_tree, &s->held, h);
		*hp = h;
		if (h && h->m.iova <= x) {
			if (range_last(h) >= last)
				return 0;
			x = range_last(h) + 1;
			continue;
		}
		end = h && h->m.iova <= last ? h->m.iova - 1 : last;
		ret = run_add(s, run, r, x, end);
		if (ret || end == last)
			return ret;
		x = end + 1;
	}
}

static int fill_span(struct wpt_shadow *s, const struct shadow_span *sp)
{
	struct shadow_run run = { .m.size = 0 };
	struct shadow_range *r, *h = range_from(&s->held, sp->first);
	int ret = 0;

	for (r = range_from(&s->leaves, sp->first);
	     r && r->m.iova <= sp->last && !ret;
	     r = RB_NEXT(range_tree, &s->leaves, r))
		ret = fill_leaf(s, &run, r, &h);
	return ret ? ret : run_map(s, &run);
}

static int shadow_reconcile(struct wpt_shadow *s)
{
	struct shadow_span *sp;
	int ret;

	if (RB_EMPTY(&s->dirty.tree))
		return 0;
	s->epoch++;
	close_dirty(s);
	ret = unmap_kills(s);
	for (sp = RB_MIN(span_tree, &s->dirty.tree); sp && !ret;
	     sp = span_next(&s->dirty, sp))
		ret = fill_span(s, sp);
	if (ret)
		return ret;
	/* Leaves and sink agree over all of dirty now: nothing there is
	 * pending any more either. */
	RB_FOREACH(sp, span_tree, &s->dirty.tree)
		span_sub(&s->pending, sp->first, sp->last);
	span_clear(&s->dirty);
	return 0;
}

/* ------------------------------------------------------------------ API */

int shadow_new(struct wpt_sink *sink, const struct wpt_guestmem *gm,
	       bool defer_removals, struct wpt_shadow **out)
{
	struct wpt_shadow *s;

	if (!sink || !gm || !out)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->sink = sink;
	s->gm = gm;
	s->defer_removals = defer_removals;
	RB_INIT(&s->leaves);
	RB_INIT(&s->held);
	RB_INIT(&s->dirty.tree);
	RB_INIT(&s->pending.tree);
	*out = s;
	return 0;
}

void shadow_free(struct wpt_shadow *s)
{
	if (!s)
		return;
	range_free_all(&s->leaves);
	range_free_all(&s->held);
	span_clear(&s->dirty);
	span_clear(&s->pending);
	free(s);
}

int shadow_leaf_add(struct wpt_shadow *s, uint64_t iova, uint64_t size,
		    uint64_t gpa, uint32_t perm)
{
	const struct wpt_ram_region *region;
	struct shadow_range *r;
	uint64_t last = iova + size - 1;
	int ret;

	/* Sinks map whole pages (VFIO type1 wants page alignment). */
	if (!size || !perm || ((iova | size | gpa) & ~WPT_PAGE_MASK) ||
	    last < iova)
		return -EINVAL;
	region = guestmem_region(s->gm, gpa, size);
	if (!region)
		return -EINVAL;
	r = range_from(&s->leaves, iova);
	if (r && r->m.iova <= last)
		return -EEXIST;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	ret = span_add(&s->dirty, iova, last, NULL);
	if (ret) {
		free(r);
		return ret;
	}
	r->m = (struct wpt_mapping){ .iova = iova, .gpa = gpa, .size = size,
				     .perm = perm };
	r->region = region;
	RB_INSERT(range_tree, &s->leaves, r);
	s->nr_leaves++;
	return 0;
}

int shadow_leaf_remove(struct wpt_shadow *s, uint64_t iova, uint64_t size)
{
	struct shadow_range key = { .m.iova = iova }, *r;
	int ret;

	r = RB_FIND(range_tree, &s->leaves, &key);
	if (!r || r->m.size != size)
		return -ENOENT;
	/* HYBRID: the device may keep reaching the old page until the
	 * guest's invalidation says the IOTLB forgot it. */
	ret = span_add(s->defer_removals ? &s->pending : &s->dirty, iova,
		       range_last(r), NULL);
	if (ret)
		return ret;
	RB_REMOVE(range_tree, &s->leaves, r);
	s->nr_leaves--;
	free(r);
	return 0;
}

uint64_t shadow_nr_leaves(const struct wpt_shadow *s)
{
	return s->nr_leaves;
}

int shadow_commit(struct wpt_shadow *s)
{
	return shadow_reconcile(s);
}

int shadow_flush(struct wpt_shadow *s, uint64_t iova, uint64_t size)
{
	uint64_t last = iova + size - 1;
	struct shadow_span *sp;
	int ret;

	if (!size || last < iova)
		last = UINT64_MAX;
	/* Whole pending spans go even where they pass the range: an early
	 * removal is legal, the IOTLB may evict any entry at any time. */
	for (sp = span_from(&s->pending, iova); sp && sp->first <= last;
	     sp = span_next(&s->pending, sp)) {
		ret = span_add(&s->dirty, sp->first, sp->last, NULL);
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
	int ret = span_add(&s->dirty, 0, UINT64_MAX, NULL);

	if (ret)
		return ret;
	range_free_all(&s->leaves);
	s->nr_leaves = 0;
	return shadow_reconcile(s);
}

static int foreach_range(const struct range_tree *t, shadow_iter_fn fn,
			 void *opaque)
{
	struct shadow_range *r;
	int ret;

	RB_FOREACH(r, range_tree, (struct range_tree *)t) {
		ret = fn(opaque, &r->m);
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
	struct shadow_span *sp;
	uint64_t last = iova + size - 1;

	if (!size)
		return false;
	if (last < iova)
		last = UINT64_MAX;
	sp = span_from((struct span_set *)&s->pending, iova);
	return sp && sp->first <= iova && sp->last >= last;
}

void shadow_stats(const struct wpt_shadow *s, struct wpt_shadow_stats *st)
{
	*st = (struct wpt_shadow_stats){
		.leaves = s->nr_leaves,
		.mappings = s->nr_held,
		.pending_bytes = s->pending.bytes,
		.maps = s->maps,
		.unmaps = s->unmaps,
		.errors = s->errors,
	};
}
