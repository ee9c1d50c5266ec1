/* SPDX-License-Identifier: MIT */
/*
 * The sink's map calls of a reconcile (reconcile.c decides what is owed):
 * the leaves over a dirty span read a chunk at a time, gathered into runs
 * (one map call per maximal run of contiguous IOVA and GPA with one perm
 * in one RAM region), each recorded held before its call.
 */
#include <errno.h>
#include <stdlib.h>

#include "shadow_int.h"
#include "sink/sink.h"

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

/* The sink call of run m in region reg, counted: 0 or its error.  Inline:
 * a walk over scattered pages makes one a leaf, and the call's own frame
 * cost a tenth of the fill. */
static inline __attribute__((always_inline)) int
run_call(struct wpt_shadow *s, const struct wpt_mapping *m,
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

/*
 * Leaves r[0..n) of the leaves chunk at lp, where nothing is held: those
 * from the first that are each a run of their own (none runs on from the
 * run being gathered, or into the next leaf) are mapped one by one, and
 * the held map takes the leaves chunk's words for them as they are
 * (rm_adopt: a start bit each), with no run built and no word written.
 * A walk over scattered pages is nearly all such leaves.  How many it
 * took (0: none, the caller goes leaf by leaf); *ret the first error.
 */
static unsigned int fill_own(struct wpt_shadow *s, struct shadow_run *run,
			     const struct rm_pos *lp,
			     const struct wpt_mapping *r, unsigned int n,
			     struct held_cursor *h, int *ret)
{
	struct rm_pos fp;
	uint64_t held_from;
	unsigned int i, j;
	int err;

	while (h->ok && map_last(&h->m) < r[0].iova)
		held_at(h, rm_next(&s->held, &h->p));
	if ((h->ok && h->m.iova <= map_last(&r[0])) ||
	    (run->m.size && map_continues(&run->m, &r[0])))
		return 0;
	/* r[j - 1] is a run of its own only if r[j] is known not to go on
	 * from it: the last leaf read may run into the next read's first.
	 * Nothing held starts before held_from. */
	held_from = h->ok ? h->m.iova : UINT64_MAX;
	for (j = 1; j < n && !map_continues(&r[j - 1], &r[j]); j++)
		if (map_last(&r[j]) >= held_from)
			break;
	if (j == n || map_continues(&r[j - 1], &r[j]))
		j--;
	if (!j || !rm_adopt_begin(&s->held, lp, &fp))
		return 0;
	/* What was gathered before goes first (the calls stay in IOVA
	 * order); a call of it failing may take away the held chunk just
	 * made, empty still, so it is asked for again. */
	if (run->m.size || (run->batch && run->batch->n)) {
		err = run_map(s, run);
		*ret = *ret ? *ret : err;
		err = run->batch ? runs_map(s, run->batch) : 0;
		*ret = *ret ? *ret : err;
		if (!rm_adopt_begin(&s->held, lp, &fp))
			return 0;
	}
	for (i = 0; i < j; i++) {
		err = run_call(s, &r[i],
			       guestmem_region_cached(s->gm, &run->last,
						      r[i].gpa, r[i].size));
		if (!err)
			rm_adopt(&s->held, &fp, r[i].iova);
		*ret = *ret ? *ret : err; /* owed still: dirty, not held */
	}
	rm_adopt_end(&s->held, &fp);
	return j;
}

int fill_span(struct wpt_shadow *s, const struct span *sp)
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
			k = fill_own(s, &run, &p, &r[i], n - i, &h, &ret);
			if (k)
				continue;
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

int fill_run(struct wpt_shadow *s, const struct wpt_mapping *m)
{
	struct shadow_run run = { .m = *m, .batch = NULL };

	run.region = guestmem_region(s->gm, m->gpa, m->size);
	return run_map(s, &run);
}
