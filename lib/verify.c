/* SPDX-License-Identifier: MIT */
/*
 * wpt_domain_verify: the oracle.  A full read-only walk of the guest tables
 * from the root, compared with what the tracker built incrementally:
 *  - the leaves the shadow holds (the shadow equals a full walk),
 *  - the table uses the tracker holds (tracked = reachable from the roots),
 *  - what the shadow says the sink holds, page for page (in HYBRID mode
 *    extra pages are allowed where a removal waits for its invalidation).
 */
#include <errno.h>
#include <stdlib.h>

#include "ptwalk.h"
#include "tracker.h"

struct vec {
	struct wpt_mapping *v;
	size_t n, cap;
};

static int vec_push(struct vec *x, uint64_t iova, uint64_t gpa, uint64_t size,
		    uint32_t perm)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64;
		struct wpt_mapping *v = realloc(x->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		x->v = v;
		x->cap = cap;
	}
	x->v[x->n++] = (struct wpt_mapping){ iova, gpa, size, perm };
	return 0;
}

/* Append, merging with the last run when IOVA and GPA both continue. */
static int run_push(void *opaque, const struct wpt_mapping *m)
{
	struct vec *x = opaque;
	struct wpt_mapping *l = x->n ? &x->v[x->n - 1] : NULL;

	if (l && map_continues(l, m)) {
		l->size += m->size;
		return 0;
	}
	return vec_push(x, m->iova, m->gpa, m->size, m->perm);
}

static int leaf_push(void *opaque, const struct wpt_mapping *m)
{
	return vec_push(opaque, m->iova, m->gpa, m->size, m->perm);
}

struct walk_ctx {
	struct wpt_domain *d;
	struct vec leaves;
	uint64_t tables;
	long diffs;
};

static int walk_leaf(void *opaque, uint64_t iova, uint64_t gpa, uint64_t size,
		     uint32_t perm)
{
	struct walk_ctx *w = opaque;

	return vec_push(&w->leaves, iova, gpa, size, perm);
}

static int walk_table(void *opaque, int level, uint64_t iova, uint64_t gpa,
		      uint64_t size, uint32_t mask)
{
	struct walk_ctx *w = opaque;
	struct wpt_table *t = tracker_table_lookup(w->d->vm, gpa, size);
	struct wpt_table_use *u =
		t ? tracker_use_lookup(t, w->d, level, iova) : NULL;

	w->tables++;
	if (!u || u->perm_mask != mask)
		w->diffs++;
	return 0;
}

/* Count IOVA segments where a and b (sorted, non-overlapping) disagree;
 * b-only segments are fine where pending_ok says so. */
static long compare_runs(const struct vec *a, const struct vec *b,
			 const struct wpt_shadow *pending_in)
{
	size_t i = 0, j = 0;
	uint64_t x = 0;
	long diffs = 0;

	while (i < a->n || j < b->n) {
		const struct wpt_mapping *p = i < a->n ? &a->v[i] : NULL;
		const struct wpt_mapping *q = j < b->n ? &b->v[j] : NULL;
		bool in_p = p && p->iova <= x, in_q = q && q->iova <= x;
		uint64_t end = UINT64_MAX;

		if (!in_p && !in_q) {
			x = !p ? q->iova : !q ? p->iova
				 : p->iova < q->iova ? p->iova : q->iova;
			continue;
		}
		if (p)
			end = in_p ? p->iova + p->size : p->iova;
		if (q) {
			uint64_t e = in_q ? q->iova + q->size : q->iova;

			end = e < end ? e : end;
		}
		if (in_p && in_q) {
			if (p->gpa - p->iova != q->gpa - q->iova ||
			    p->perm != q->perm)
				diffs++;
		} else if (in_p || !pending_in ||
			   !shadow_is_pending(pending_in, x, end - x)) {
			diffs++;
		}
		x = end;
		if (p && x >= p->iova + p->size)
			i++;
		if (q && x >= q->iova + q->size)
			j++;
	}
	return diffs;
}

/* Descriptors the oracle may read: the domain's own walk limit, or every
 * table it tracks and one more if that is more.  The domain built its
 * tree over many operations, each charged only what it visited, so the
 * tree it may hold is bounded by max_table_uses, not by one walk's
 * max_walk_descs; the one more table lets the walk see one untracked. */
static uint64_t verify_budget(const struct wpt_domain *d)
{
	uint64_t root = geo_table_entries(&d->geo, d->geo.start_level);
	uint64_t leaf = geo_table_entries(&d->geo, WPT_LAST_LEVEL);
	uint64_t all = ((uint64_t)d->nr_uses + 1) * (root > leaf ? root : leaf);

	return all > d->limits.max_walk_descs ? all : d->limits.max_walk_descs;
}

static long verify_locked(struct wpt_domain *d)
{
	struct walk_ctx w = { .d = d };
	struct ptwalk_cb cb = { walk_table, walk_leaf, &w };
	struct vec held = { 0 }, want = { 0 }, mine = { 0 };
	uint64_t i;
	long ret = 0;

	if (d->fault)
		return d->fault;
	if (d->has_root)
		ret = ptwalk_tree(d->fmt, &d->geo, &d->vm->mem, d->root_gpa,
				  verify_budget(d), &cb);
	if (!ret)
		ret = shadow_foreach_leaf(d->shadow, leaf_push, &mine);
	if (ret)
		goto out;
	/* Leaves, one for one. */
	w.diffs += mine.n != w.leaves.n;
	for (i = 0; i < mine.n && i < w.leaves.n; i++) {
		const struct wpt_mapping *x = &mine.v[i], *y = &w.leaves.v[i];

		w.diffs += x->iova != y->iova || x->gpa != y->gpa ||
			   x->size != y->size || x->perm != y->perm;
	}
	/* The walk found a tracked use at each table it reached; as many
	 * as there are means no tracked use is unreachable. */
	w.diffs += w.tables != d->nr_uses;
	for (i = 0; i < w.leaves.n; i++)
		run_push(&want, &w.leaves.v[i]);
	ret = shadow_foreach_mapping(d->shadow, run_push, &held);
	if (ret)
		goto out;
	w.diffs += compare_runs(&want, &held,
				d->mode == WPT_MODE_HYBRID ? d->shadow : NULL);
	ret = w.diffs;
out:
	free(w.leaves.v);
	free(held.v);
	free(want.v);
	free(mine.v);
	return ret;
}

long wpt_domain_verify(struct wpt_domain *d)
{
	long ret;

	if (!d)
		return -EINVAL;
	pthread_mutex_lock(&d->vm->lock);
	ret = verify_locked(d);
	pthread_mutex_unlock(&d->vm->lock);
	return ret;
}
