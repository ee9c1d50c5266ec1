/* SPDX-License-Identifier: MIT */
/*
 * Span sets (spanset.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "spanset.h"

static int span_cmp(const struct span *a, const struct span *b)
{
	return a->first < b->first ? -1 : a->first > b->first;
}

/* tree.h marks static generated functions __unused, which libbsd leaves
 * undefined (Linux uapi structs have members by that name). */
#define __unused __attribute__((__unused__))
RB_GENERATE_STATIC(span_tree, span, link, span_cmp)
#undef __unused

/* b starts at most one past a's last. */
static bool touches(uint64_t a_last, uint64_t b_first)
{
	return !b_first || b_first - 1 <= a_last;
}

void spanset_init(struct span_set *set)
{
	*set = (struct span_set){ .bytes = 0 };
	RB_INIT(&set->tree);
}

static struct span *span_alloc(struct span_set *set)
{
	return set->nr_spare ? set->spare[--set->nr_spare]
			     : malloc(sizeof(struct span));
}

static void span_release(struct span_set *set, struct span *sp)
{
	if (set->nr_spare < SPANSET_SPARES)
		set->spare[set->nr_spare++] = sp;
	else
		free(sp);
}


static uint64_t span_len(uint64_t first, uint64_t last)
{
	return last - first + 1; /* the whole 64-bit space wraps to 0 */
}

/* The first span ending at or after x. */
struct span *spanset_from(const struct span_set *set, uint64_t x)
{
	struct span key = { .first = x }, *sp, *p;

	sp = RB_NFIND(span_tree, (struct span_tree *)&set->tree, &key);
	p = sp ? RB_PREV(span_tree, (struct span_tree *)&set->tree, sp)
	       : RB_MAX(span_tree, (struct span_tree *)&set->tree);
	return p && p->last >= x ? p : sp;
}

struct span *spanset_next(const struct span_set *set, struct span *sp)
{
	return RB_NEXT(span_tree, (struct span_tree *)&set->tree, sp);
}

struct span *spanset_first(const struct span_set *set)
{
	return RB_MIN(span_tree, (struct span_tree *)&set->tree);
}

/* The set's one span, set as the root of an empty tree: a trapped store
 * dirties one leaf's range and clears it again, and a one-node tree needs
 * neither a search nor a rebalance. */
static int add_to_empty(struct span_set *set, uint64_t first, uint64_t last,
			struct span **out)
{
	struct span *sp = span_alloc(set);

	if (!sp)
		return -ENOMEM;
	sp->first = first;
	sp->last = last;
	RB_SET(sp, NULL, link);
	RB_COLOR(sp, link) = RB_BLACK;
	RB_ROOT(&set->tree) = sp;
	set->bytes = span_len(first, last);
	set->hint = sp;
	if (out)
		*out = sp;
	return 0;
}

int spanset_add(struct span_set *set, uint64_t first, uint64_t last,
		struct span **out)
{
	struct span *sp = set->hint, *n;
	uint64_t x = first ? first - 1 : 0;

	if (RB_EMPTY(&set->tree))
		return add_to_empty(set, first, last, out);
	/* A walk adds in IOVA order: the span grown last is then the one
	 * ending at or after x, found without a search. */
	if (!sp || sp->first > first || sp->last < x)
		sp = spanset_from(set, x);
	if (!sp || !touches(last, sp->first)) {
		sp = span_alloc(set);
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
		while ((n = spanset_next(set, sp)) && touches(sp->last, n->first)) {
			sp->last = n->last > sp->last ? n->last : sp->last;
			set->bytes -= span_len(n->first, n->last);
			RB_REMOVE(span_tree, &set->tree, n);
			span_release(set, n);
		}
		set->bytes += span_len(sp->first, sp->last);
	}
	set->hint = sp;
	if (out)
		*out = sp;
	return 0;
}

int spanset_add_all(struct span_set *set, struct span **spare)
{
	if (!RB_EMPTY(&set->tree) || !*spare)
		return spanset_add(set, 0, UINT64_MAX, NULL);
	set->hint = NULL;
	(*spare)->first = 0;
	(*spare)->last = UINT64_MAX;
	RB_INSERT(span_tree, &set->tree, *spare);
	set->bytes = 0; /* the whole 64-bit space wraps to 0 */
	*spare = NULL;
	return 0;
}

void spanset_sub(struct span_set *set, uint64_t first, uint64_t last)
{
	struct span *sp = spanset_from(set, first), *next, *n;

	set->hint = NULL;
	for (; sp && sp->first <= last; sp = next) {
		next = spanset_next(set, sp);
		if (sp->first < first && sp->last > last) {
			n = span_alloc(set);
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
			span_release(set, sp);
			continue;
		}
		if (sp->first < first)
			sp->last = first - 1;
		else
			sp->first = last + 1; /* still below next->first */
		set->bytes += span_len(sp->first, sp->last);
	}
}

void spanset_clear(struct span_set *set)
{
	struct span *sp = RB_ROOT(&set->tree), *next;

	if (sp && !RB_LEFT(sp, link) && !RB_RIGHT(sp, link)) {
		RB_INIT(&set->tree);
		span_release(set, sp);
	}

	RB_FOREACH_SAFE(sp, span_tree, &set->tree, next) {
		RB_REMOVE(span_tree, &set->tree, sp);
		span_release(set, sp);
	}
	set->bytes = 0;
	set->hint = NULL;
}

void spanset_fini(struct span_set *set)
{
	spanset_clear(set);
	while (set->nr_spare)
		free(set->spare[--set->nr_spare]);
}
