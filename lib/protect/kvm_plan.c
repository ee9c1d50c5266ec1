/* SPDX-License-Identifier: MIT */
/*
 * Re-cut plans: the new layout of every chunk that protecting or releasing
 * a range touches, chosen against the slot budget.  Pure data like
 * kvm_slots.c; kvm.c runs a plan with the ioctls, under the VM lock.
 *
 * A slot that only saves ioctls (a protected page's read-only slot of its
 * own, a released page's read-write one) is given back by merging when
 * the budget runs short; only a layout that needs more slots than the
 * budget even with every chunk merged is refused (-ENOSPC).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_slots.h"

/* A layout a re-cut may take, and the most slots it may leave in use, in
 * halves of the spare budget (what the chunks' own slots leave): a layout
 * that keeps released pages cut stops at half of it, so a burst of new
 * tables still finds slots without merging. */
struct plan_level {
	unsigned int merge;
	unsigned int halves;
};

/* Cheapest in ioctls first. */
static const struct plan_level per_page_levels[] = {
	{ 0, 1 },
	{ KVM_MERGE_RW, 2 },
	{ KVM_MERGE_RO | KVM_MERGE_RW, 2 },
};
static const struct plan_level merged_levels[] = {
	{ KVM_MERGE_RO, 1 },
	{ KVM_MERGE_RO | KVM_MERGE_RW, 2 },
};

struct kvm_piece *kvm_pieces_dup(const struct kvm_piece *p, unsigned int n)
{
	struct kvm_piece *copy = malloc((n ? n : 1) * sizeof(*copy));

	if (copy)
		memcpy(copy, p, n * sizeof(*copy));
	return copy;
}

/* The chunk of l holding gpa (which lies in guest RAM). */
static size_t chunk_index(const struct kvm_layout *l, uint64_t gpa)
{
	size_t lo = 0, hi = l->nr_chunks;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->chunks[mid].gpa <= gpa)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

void kvm_recut_plan_free(struct kvm_recut *plan, size_t n)
{
	size_t i;

	for (i = 0; plan && i < n; i++) {
		free(plan[i].old);
		free(plan[i].next);
	}
	free(plan);
}

bool kvm_recut_toggles(const struct kvm_recut *plan, size_t n, uint64_t gpa,
		       uint64_t size)
{
	uint64_t end = gpa + size;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct kvm_chunk *c = plan[i].chunk;
		uint64_t lo = gpa > c->gpa ? gpa : c->gpa;
		uint64_t hi = end < c->gpa + c->size ? end : c->gpa + c->size;
		const struct kvm_piece *p;

		if (lo >= hi)
			return false; /* a chunk the budget made merge */
		p = kvm_piece_at(plan[i].old, plan[i].nr_old, lo);
		if (!p || p->size != hi - lo || p->slot == KVM_SLOT_NONE)
			return false;
	}
	return true;
}

/* r's room for chunk c's old layout and its next (at most two pieces
 * more: one piece cut in three). */
static int recut_alloc(struct kvm_recut *r, struct kvm_chunk *c)
{
	r->chunk = c;
	r->nr_old = c->nr;
	r->old = kvm_pieces_dup(c->pieces, c->nr);
	r->next = malloc((c->nr + 2) * sizeof(*r->next));
	return r->old && r->next ? 0 : -ENOMEM;
}

/* Lay out plan[0..n) with merge after [gpa, gpa + size) changes kind:
 * the slots the plan uses more (negative: frees). */
static long plan_fill(struct kvm_recut *plan, size_t n, uint64_t gpa,
		      uint64_t size, bool readonly, unsigned int merge)
{
	long delta = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		struct kvm_recut *r = &plan[i];
		const struct kvm_chunk *c = r->chunk;

		r->nr_next = kvm_pieces_recut(c->pieces, c->nr, gpa, gpa + size,
					      readonly, merge, r->next);
		r->slot_delta = kvm_pieces_slot_delta(c->pieces, c->nr,
						      r->next, r->nr_next);
		delta += r->slot_delta;
	}
	return delta;
}

/* A chunk that merging could give slots back from, and how many. */
struct compact_candidate {
	size_t index;
	unsigned int frees;
};

static int candidate_cmp(const void *a, const void *b)
{
	const struct compact_candidate *x = a, *y = b;

	return (x->frees < y->frees) - (x->frees > y->frees);
}

/* Slots merging every neighbour of one kind in c would give back (pieces
 * KVM lost have none to give, so this is an estimate; the plan counts). */
static unsigned int chunk_mergeable(const struct kvm_chunk *c)
{
	unsigned int i, runs = c->nr ? 1 : 0;

	for (i = 1; i < c->nr; i++)
		runs += c->pieces[i].readonly != c->pieces[i - 1].readonly;
	return c->nr - runs;
}

/* The chunks outside [first, last] that merging would free slots in, the
 * most first; how many. */
static size_t compact_candidates(const struct kvm_layout *l, size_t first,
				 size_t last, struct compact_candidate *out)
{
	size_t i, n = 0;

	for (i = 0; i < l->nr_chunks; i++) {
		unsigned int frees = chunk_mergeable(&l->chunks[i]);

		if ((i < first || i > last) && frees)
			out[n++] = (struct compact_candidate){ i, frees };
	}
	qsort(out, n, sizeof(*out), candidate_cmp);
	return n;
}

/*
 * Add to *plan (n chunks) the merged layout of other chunks, those that
 * free most first, until the slots in use after it fit the budget (over:
 * how many they pass it by now).  -ENOSPC when merging every chunk would
 * not do.
 */
static int plan_compact(const struct kvm_layout *l, size_t first, size_t last,
			struct kvm_recut **plan, size_t *n, long over)
{
	struct compact_candidate *cand = malloc(l->nr_chunks * sizeof(*cand));
	struct kvm_recut *grown;
	size_t i, nr_cand;
	int ret = -ENOSPC;

	if (!cand)
		return -ENOMEM;
	nr_cand = compact_candidates(l, first, last, cand);
	grown = realloc(*plan, (*n + nr_cand) * sizeof(**plan));
	if (!grown) {
		free(cand);
		return -ENOMEM;
	}
	*plan = grown;
	for (i = 0; i < nr_cand && over > 0; i++) {
		struct kvm_recut *r = &grown[(*n)++];

		memset(r, 0, sizeof(*r));
		if (recut_alloc(r, &l->chunks[cand[i].index])) {
			ret = -ENOMEM;
			break;
		}
		over += plan_fill(r, 1, 0, 0, false,
				  KVM_MERGE_RO | KVM_MERGE_RW);
	}
	if (over <= 0)
		ret = 0;
	free(cand);
	return ret;
}

int kvm_recut_plan(const struct kvm_layout *l, uint64_t gpa, uint64_t size,
		   bool readonly, struct kvm_recut **out, size_t *nr,
		   bool *fell_back)
{
	size_t first = chunk_index(l, gpa), last = chunk_index(l, gpa + size - 1);
	size_t i, n = last - first + 1, nr_levels;
	const struct plan_level *levels;
	struct kvm_recut *plan = calloc(n, sizeof(*plan));
	long delta = 0;
	int ret = 0;

	if (!plan)
		return -ENOMEM;
	for (i = 0; i < n && !ret; i++)
		ret = recut_alloc(&plan[i], &l->chunks[first + i]);
	levels = l->per_page ? per_page_levels : merged_levels;
	nr_levels = l->per_page ? 3 : 2;
	for (i = 0; i < nr_levels && !ret; i++) {
		delta = plan_fill(plan, n, gpa, size, readonly,
				  levels[i].merge);
		if (((long)l->in_use + delta) * 2 <=
		    2 * (long)l->nr_chunks + ((long)l->budget -
		    (long)l->nr_chunks) * (long)levels[i].halves)
			break;
	}
	*fell_back = i > 0;
	if (!ret && i == nr_levels)
		ret = plan_compact(l, first, last, &plan, &n,
				   (long)l->in_use + delta - (long)l->budget);
	if (ret) {
		kvm_recut_plan_free(plan, n);
		return ret;
	}
	*out = plan;
	*nr = n;
	return 0;
}
