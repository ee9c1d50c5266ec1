/* SPDX-License-Identifier: MIT */
/*
 * Reconciling the sink with the leaves (shadow.c's commit, flush and
 * clear): the closure over the dirty set, then the sink calls.  See
 * shadow.c for what holds between calls and the four steps.
 */
#include <errno.h>
#include <stdlib.h>

#include "shadow_int.h"
#include "sink/sink.h"

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
	struct span *sp;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		for (sp = spanset_from(sets[i], h->m.iova); sp && sp->first <= last;
		     sp = spanset_next(sets[i], sp)) {
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
	     r = RB_NEXT(range_tree, &s->leaves, r)) {
		s->closure_steps++;
		widen(first, last, r);
	}
	for (r = range_from(&s->held, a); r && r->m.iova <= b;
	     r = RB_NEXT(range_tree, &s->held, r)) {
		s->closure_steps++;
		if (held_is_kill(s, r))
			widen(first, last, r);
	}
}

/*
 * Grow dirty span *spp until nothing overlapping it reaches out; each part
 * of it is scanned once (merged neighbours at most once more).  Below
 * closed_end (one past the last byte of the spans closed before it, 0 for
 * none) everything is closed already: a leaf or kill reaching there from
 * *spp overlaps a closed span, so that span holds it whole.  Scanning it
 * again when *spp grows into it made a reconcile quadratic in the number
 * of adjacent spans (thousands of adjacent kills: seconds under the VM
 * lock).
 */
static void close_span(struct wpt_shadow *s, struct span **spp,
		       uint64_t closed_end)
{
	struct span *sp = *spp;
	uint64_t done_first = sp->first, done_last = sp->last;
	uint64_t first = done_first, last = done_last;

	closure_scan(s, done_first, done_last, &first, &last);
	while (first < sp->first || last > sp->last) {
		/* Overlaps sp, so no allocation and no failure. */
		(void)spanset_add(&s->dirty, first, last, &sp);
		first = sp->first;
		last = sp->last;
		if (first < done_first && done_first > closed_end)
			closure_scan(s, first > closed_end ? first : closed_end,
				     done_first - 1, &first, &last);
		if (last > done_last)
			closure_scan(s, done_last + 1, last, &first, &last);
		done_first = sp->first;
		done_last = sp->last;
	}
	*spp = sp;
}

static void close_dirty(struct wpt_shadow *s)
{
	struct span *sp;
	uint64_t closed_end = 0;

	for (sp = spanset_first(&s->dirty); sp;
	     sp = spanset_next(&s->dirty, sp)) {
		close_span(s, &sp, closed_end);
		if (sp->last == UINT64_MAX)
			break;
		closed_end = sp->last + 1;
	}
}

/* ------------------------------------------------------------ sink calls */

static int unmap_kills(struct wpt_shadow *s)
{
	struct span *sp;
	struct shadow_range *h, *next;
	int ret = 0, r;

	for (sp = spanset_first(&s->dirty); sp; sp = spanset_next(&s->dirty, sp)) {
		for (h = range_from(&s->held, sp->first);
		     h && h->m.iova <= sp->last; h = next) {
			next = RB_NEXT(range_tree, &s->held, h);
			if (h->epoch != s->epoch || !h->kill)
				continue;
			r = wpt_sink_unmap(s->sink, h->m.iova, h->m.size);
			if (r) {
				/* Held still (and still a kill): nothing is
				 * mapped over it, and the others go on. */
				s->errors++;
				ret = ret ? ret : r;
				continue;
			}
			s->unmaps++;
			RB_REMOVE(range_tree, &s->held, h);
			s->nr_held--;
			free(h);
		}
	}
	return ret;
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
	/* Allocate first: what the sink holds must be recorded.  A run
	 * that fails is dropped here and stays owed (dirty, not held). */
	h = calloc(1, sizeof(*h));
	if (!h) {
		run->m.size = 0;
		return -ENOMEM;
	}
	ret = wpt_sink_map(s->sink, run->m.iova, run->m.gpa, hva, run->m.size,
			   run->m.perm);
	if (ret) {
		free(h);
		s->errors++;
		run->m.size = 0;
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
	ret = run_map(s, run); /* a failure still starts the next run */
	run->m = (struct wpt_mapping){ .iova = first, .gpa = gpa,
				       .size = last - first + 1,
				       .perm = r->m.perm };
	run->region = r->region;
	return ret;
}

/* Add the parts of leaf r no held mapping covers; *hp walks the held
 * mappings alongside (a new one lands before it, never after). */
static int fill_leaf(struct wpt_shadow *s, struct shadow_run *run,
		     const struct shadow_range *r, struct shadow_range **hp)
{
	uint64_t x = r->m.iova, last = range_last(r), end;
	struct shadow_range *h = *hp;
	int ret = 0, err;

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
		err = run_add(s, run, r, x, end);
		ret = ret ? ret : err;
		if (end == last)
			return ret;
		x = end + 1;
	}
}

static int fill_span(struct wpt_shadow *s, const struct span *sp)
{
	struct shadow_run run = { .m.size = 0 };
	struct shadow_range *r, *h = range_from(&s->held, sp->first);
	int ret = 0, err;

	/* A run the sink refuses does not hold back the others. */
	for (r = range_from(&s->leaves, sp->first);
	     r && r->m.iova <= sp->last;
	     r = RB_NEXT(range_tree, &s->leaves, r)) {
		err = fill_leaf(s, &run, r, &h);
		ret = ret ? ret : err;
	}
	err = run_map(s, &run);
	return ret ? ret : err;
}

int shadow_reconcile(struct wpt_shadow *s)
{
	struct span *sp;
	int ret;

	if (RB_EMPTY(&s->dirty.tree))
		return 0;
	s->epoch++;
	close_dirty(s);
	ret = unmap_kills(s);
	for (sp = spanset_first(&s->dirty); sp;
	     sp = spanset_next(&s->dirty, sp)) {
		int err = fill_span(s, sp);

		ret = ret ? ret : err;
	}
	if (ret)
		return ret;
	/* Leaves and sink agree over all of dirty now: nothing there is
	 * pending any more either. */
	for (sp = spanset_first(&s->dirty); sp; sp = spanset_next(&s->dirty, sp))
		spanset_sub(&s->pending, sp->first, sp->last);
	spanset_clear(&s->dirty);
	return 0;
}
