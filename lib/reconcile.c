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
static bool leaves_agree(struct wpt_shadow *s, const struct wpt_mapping *h,
			 uint64_t first, uint64_t last)
{
	struct wpt_mapping r;
	struct rm_pos p;
	uint64_t x = first;
	bool ok;

	for (ok = rm_from(&s->leaves, first, &p); ok;
	     ok = rm_next(&s->leaves, &p)) {
		rm_get(&p, &r);
		if (r.iova > x)
			break; /* a hole at x */
		if (r.gpa - r.iova != h->gpa - h->iova || r.perm != h->perm)
			return false;
		if (map_last(&r) >= last)
			return true;
		x = map_last(&r) + 1;
	}
	return false;
}

/* Outside dirty and pending the leaves agree with what is held (the rule at
 * the top), so only those parts of h need comparing. */
static bool held_disagrees(struct wpt_shadow *s, const struct wpt_mapping *h)
{
	struct span_set *sets[2] = { &s->dirty, &s->pending };
	uint64_t last = map_last(h);
	struct span *sp;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		for (sp = spanset_from(sets[i], h->iova); sp && sp->first <= last;
		     sp = spanset_next(sets[i], sp)) {
			if (!leaves_agree(s, h,
					  sp->first > h->iova ? sp->first : h->iova,
					  sp->last < last ? sp->last : last))
				return true;
		}
	}
	return false;
}

/* Judged once per reconcile: the leaves do not change during one. */
static bool held_is_kill(struct wpt_shadow *s, struct rm_pos *p,
			 const struct wpt_mapping *h)
{
	unsigned int f = rm_flags(p);

	if (!(f & RM_F_JUDGED)) {
		f = RM_F_JUDGED | (held_disagrees(s, h) ? RM_F_KILL : 0);
		rm_set_flags(p, f);
	}
	return f & RM_F_KILL;
}

static void widen(uint64_t *first, uint64_t *last, const struct wpt_mapping *r)
{
	if (r->iova < *first)
		*first = r->iova;
	if (map_last(r) > *last)
		*last = map_last(r);
}

/* Widen [*first, *last] by every leaf and kill overlapping [a, b]. */
static void closure_scan(struct wpt_shadow *s, uint64_t a, uint64_t b,
			 uint64_t *first, uint64_t *last)
{
	struct wpt_mapping r;
	struct rm_pos p;
	bool ok;

	/* Leaves are disjoint: of those overlapping [a, b] only the one
	 * holding a and the one holding b can reach out of it.  Visiting
	 * every leaf between was most of a big walk's commit. */
	if (rm_from(&s->leaves, a, &p) && (rm_get(&p, &r), r.iova <= b)) {
		s->closure_steps++;
		widen(first, last, &r);
		if (map_last(&r) < b && rm_from(&s->leaves, b, &p) &&
		    (rm_get(&p, &r), r.iova <= b)) {
			s->closure_steps++;
			widen(first, last, &r);
		}
	}
	for (ok = rm_from(&s->held, a, &p); ok && (rm_get(&p, &r), r.iova <= b);
	     ok = rm_next(&s->held, &p)) {
		s->closure_steps++;
		if (held_is_kill(s, &p, &r))
			widen(first, last, &r);
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

/* Unmap the kills, and forget every judgement (all made over dirty, all
 * visited here): the fill that follows needs none. */
static int unmap_kills(struct wpt_shadow *s)
{
	struct span *sp;
	struct wpt_mapping h;
	struct rm_pos p, next;
	int ret = 0, r;
	bool ok;

	for (sp = spanset_first(&s->dirty); sp; sp = spanset_next(&s->dirty, sp)) {
		for (ok = rm_from(&s->held, sp->first, &p);
		     ok && (rm_get(&p, &h), h.iova <= sp->last); p = next) {
			unsigned int f = rm_flags(&p);

			next = p;
			ok = rm_next(&s->held, &next);
			if (f)
				rm_set_flags(&p, 0);
			if (f != (RM_F_JUDGED | RM_F_KILL))
				continue;
			r = wpt_sink_unmap(s->sink, h.iova, h.size);
			if (r) {
				/* Held still (and still owed): nothing is
				 * mapped over it, and the others go on. */
				s->errors++;
				ret = ret ? ret : r;
				continue;
			}
			s->unmaps++;
			rm_remove(&s->held, &p);
		}
	}
	return ret;
}

/* Runs ended in one span, mapped together (runs_map): one insert into
 * held for them all, where scattered pages (a run each) paid a
 * reservation and an insert each. */
#define RUN_BATCH 64

struct run_batch {
	unsigned int n;
	struct wpt_mapping m[RUN_BATCH];
	const struct wpt_ram_region *region[RUN_BATCH];
};

/* The pieces of leaves one map call is being gathered for. */
struct shadow_run {
	struct wpt_mapping m; /* m.size 0: none yet */
	const struct wpt_ram_region *region;
	const struct wpt_ram_region *last; /* the region found last */
	struct run_batch *batch; /* NULL: a run is mapped when it ends */
};

/* The sink call of run m in region reg, counted: 0 or its error. */
static int run_call(struct wpt_shadow *s, const struct wpt_mapping *m,
		    const struct wpt_ram_region *reg)
{
	int ret;

	/* Invariant 3 checked where it matters: at the call (run_add found
	 * the region holding the run's start, and grew it only inside). */
	if (!guestmem_region_holds(reg, m->gpa, m->size))
		return -EFAULT;
	ret = wpt_sink_map(s->sink, m->iova, m->gpa,
			   (char *)reg->hva + (m->gpa - reg->gpa), m->size,
			   m->perm);
	if (ret)
		s->errors++;
	else
		s->maps++;
	return ret;
}

/* Map the batch's runs.  Memory first, as run_map: they are recorded
 * held before their calls (if that fails, all stay owed), and a run the
 * sink refuses is taken out again and stays owed (dirty, not held).  0
 * or the first error. */
static int runs_map(struct wpt_shadow *s, struct run_batch *b)
{
	unsigned int i, n = b->n;
	struct rm_pos p;
	int ret = 0, err;

	b->n = 0;
	if (!n || rm_insert_batch(&s->held, b->m, n))
		return n ? -ENOMEM : 0;
	for (i = 0; i < n; i++) {
		err = run_call(s, &b->m[i], b->region[i]);
		if (!err)
			continue;
		if (rm_find(&s->held, b->m[i].iova, &p))
			rm_remove(&s->held, &p);
		ret = ret ? ret : err;
	}
	return ret;
}

/* Map the run and record it held (or, with a batch, leave that to
 * runs_map): 0 or the error (the run stays owed: dirty, not held). */
static inline int run_map(struct wpt_shadow *s, struct shadow_run *run)
{
	struct run_batch *b = run->batch;
	int ret;

	if (!run->m.size)
		return 0;
	if (b) {
		b->m[b->n] = run->m;
		b->region[b->n++] = run->region;
		run->m.size = 0;
		return b->n == RUN_BATCH ? runs_map(s, b) : 0;
	}
	/* Memory first: what the sink holds must be recorded.  A run that
	 * fails is dropped here and stays owed (dirty, not held). */
	ret = rm_reserve(&s->held, &run->m);
	if (!ret) {
		ret = run_call(s, &run->m, run->region);
		if (ret)
			rm_unreserve(&s->held, &run->m);
	}
	if (!ret)
		(void)rm_insert(&s->held, &run->m, 0, NULL);
	run->m.size = 0;
	return ret;
}

/* Extend the run by [first, last] of leaf r, or map it and start anew.
 * One call may not cross RAM regions: the HVA is contiguous only within
 * one. */
static int run_add(struct wpt_shadow *s, struct shadow_run *run,
		   const struct wpt_mapping *r, uint64_t first, uint64_t last)
{
	struct wpt_mapping p = { .iova = first,
				 .gpa = r->gpa + (first - r->iova),
				 .size = last - first + 1, .perm = r->perm };
	int ret;

	if (run->m.size && map_continues(&run->m, &p) &&
	    guestmem_region_holds(run->region, p.gpa, p.size)) {
		run->m.size += p.size;
		return 0;
	}
	ret = run_map(s, run); /* a failure still starts the next run */
	run->m = p;
	/* Scattered pages make a run each: the region search was cached. */
	run->region = guestmem_region_cached(s->gm, &run->last, p.gpa, p.size);
	return ret;
}

/* The held mappings fill_leaf walks alongside the leaves. */
struct held_cursor {
	struct rm_pos p;
	struct wpt_mapping m;
	bool ok;
};

/* The cursor at h->p if ok (rm_from's or rm_next's answer), else done. */
static void held_at(struct held_cursor *h, bool ok)
{
	h->ok = ok;
	if (ok)
		rm_get(&h->p, &h->m);
}

/* Add the parts of leaf r (or leaves joined, join_leaves) no held mapping
 * covers; h walks the held mappings alongside (a new one lands before it,
 * never after). */
static int fill_leaf(struct wpt_shadow *s, struct shadow_run *run,
		     const struct wpt_mapping *r, struct held_cursor *h)
{
	uint64_t x = r->iova, last = map_last(r), end;
	int ret = 0, err;

	for (;;) {
		while (h->ok && map_last(&h->m) < x)
			held_at(h, rm_next(&s->held, &h->p));
		if (h->ok && h->m.iova <= x) {
			if (map_last(&h->m) >= last)
				return 0;
			x = map_last(&h->m) + 1;
			continue;
		}
		end = h->ok && h->m.iova <= last ? h->m.iova - 1 : last;
		err = run_add(s, run, r, x, end);
		ret = ret ? ret : err;
		if (end == last)
			return ret;
		x = end + 1;
	}
}

#define FILL_BATCH 32 /* leaves read at once: 1 KiB of stack */

/* Join leaves r[0..n), from the first, into *out while they run on in IOVA
 * and GPA with one perm in one RAM region (run_add would, a leaf at a
 * time: a split's 511 pages, a contiguous buffer's): how many it took. */
static unsigned int join_leaves(struct wpt_shadow *s, struct shadow_run *run,
				const struct wpt_mapping *r, unsigned int n,
				struct wpt_mapping *out)
{
	const struct wpt_ram_region *reg = NULL;
	unsigned int j;

	*out = r[0];
	for (j = 1; j < n && map_continues(out, &r[j]); j++) {
		if (j == 1) /* scattered pages never get here */
			reg = guestmem_region_cached(s->gm, &run->last,
						     r[0].gpa, r[0].size);
		if (!guestmem_region_holds(reg, r[j].gpa, r[j].size))
			break;
		out->size += r[j].size;
	}
	return j;
}

static int fill_span(struct wpt_shadow *s, const struct span *sp)
{
	struct run_batch batch;
	struct shadow_run run = { .m.size = 0, .batch = &batch };
	struct held_cursor h;
	struct wpt_mapping r[FILL_BATCH], piece;
	struct rm_pos p;
	int ret = 0, err;
	bool ok;

	batch.n = 0;
	held_at(&h, rm_from(&s->held, sp->first, &h.p));
	/* A run the sink refuses does not hold back the others.  Leaves
	 * come a chunk's worth at a time (rm_chunk_run): a table's 512 in a
	 * few reads. */
	for (ok = rm_from(&s->leaves, sp->first, &p); ok;
	     ok = rm_next(&s->leaves, &p)) {
		unsigned int i, k, n = rm_chunk_run(&s->leaves, &p, sp->last,
						    r, FILL_BATCH);

		if (!n && !p.c && (rm_get(&p, &r[0]), r[0].iova <= sp->last))
			n = 1; /* a tree range */
		if (!n)
			break;
		for (i = 0; i < n; i += k) {
			k = join_leaves(s, &run, &r[i], n - i, &piece);
			err = fill_leaf(s, &run, &piece, &h);
			ret = ret ? ret : err;
		}
	}
	err = run_map(s, &run);
	ret = ret ? ret : err;
	err = runs_map(s, &batch);
	return ret ? ret : err;
}

/* The range in m's map at the first span of dirty: false if none is;
 * *exact whether it is the span's whole range. */
static bool at_dirty(struct rangemap *rm, const struct span *sp,
		     struct rm_pos *p, struct wpt_mapping *m, bool *exact)
{
	bool found = rm_overlap(rm, sp->first, sp->last, p, m);

	*exact = !found || (m->iova == sp->first && map_last(m) == sp->last);
	return found;
}

/*
 * The usual commit: one trapped store changed one leaf, so dirty is one
 * span that is that leaf's range, the sink holds at most one mapping
 * there, of exactly that range, and none of it is pending.  The closure
 * would then find nothing to widen and the result is at most one unmap
 * and one map: made here without it.  1: not that case.
 */
static int reconcile_one(struct wpt_shadow *s)
{
	struct span *sp = spanset_first(&s->dirty), *pd;
	struct shadow_run run = { .region = NULL };
	struct wpt_mapping held;
	struct rm_pos lp, hp;
	bool leaf, has_held, exact;
	int ret;

	pd = spanset_from(&s->pending, sp->first);
	if (spanset_next(&s->dirty, sp) || (pd && pd->first <= sp->last))
		return 1;
	if (!shadow_known(s, sp->first, sp->last, &leaf, &run.m)) {
		leaf = at_dirty(&s->leaves, sp, &lp, &run.m, &exact);
		if (!exact)
			return 1;
	}
	has_held = at_dirty(&s->held, sp, &hp, &held, &exact);
	if (!exact)
		return 1;
	if (has_held && (!leaf || held.gpa != run.m.gpa ||
			 held.perm != run.m.perm)) {
		ret = wpt_sink_unmap(s->sink, held.iova, held.size);
		if (ret) {
			s->errors++;
			return ret;
		}
		s->unmaps++;
		rm_remove(&s->held, &hp);
		has_held = false;
	}
	if (leaf && !has_held) {
		run.region = guestmem_region(s->gm, run.m.gpa, run.m.size);
		ret = run_map(s, &run);
		if (ret)
			return ret;
	}
	spanset_clear(&s->dirty);
	return 0;
}

int shadow_reconcile(struct wpt_shadow *s)
{
	struct span *sp;
	int ret;

	if (RB_EMPTY(&s->dirty.tree))
		return 0;
	ret = reconcile_one(s);
	if (ret <= 0)
		return ret;
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
	 * pending any more either, and held chunks equal to their leaves
	 * chunks share their words (no memory to share them: not shared). */
	for (sp = spanset_first(&s->dirty); sp; sp = spanset_next(&s->dirty, sp)) {
		spanset_sub(&s->pending, sp->first, sp->last);
		(void)rm_share(&s->held, sp->first, sp->last);
	}
	spanset_clear(&s->dirty);
	return 0;
}
