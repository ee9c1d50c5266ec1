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
	struct wpt_mapping m, held;
	struct rm_pos lp, hp;
	bool leaf, has_held, exact;
	int ret;

	pd = spanset_from(&s->pending, sp->first);
	if (spanset_next(&s->dirty, sp) || (pd && pd->first <= sp->last))
		return 1;
	if (!shadow_known(s, sp->first, sp->last, &leaf, &m)) {
		leaf = at_dirty(&s->leaves, sp, &lp, &m, &exact);
		if (!exact)
			return 1;
	}
	has_held = at_dirty(&s->held, sp, &hp, &held, &exact);
	if (!exact)
		return 1;
	if (has_held && (!leaf || held.gpa != m.gpa ||
			 held.perm != m.perm)) {
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
		ret = fill_run(s, &m);
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
