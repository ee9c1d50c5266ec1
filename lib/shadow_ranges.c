/* SPDX-License-Identifier: MIT */
/*
 * The shadow's range trees (shadow_int.h): leaves and held mappings, each
 * ordered by IOVA.
 */
#include <stdlib.h>

#include "shadow_int.h"

static int range_cmp(const struct shadow_range *a, const struct shadow_range *b)
{
	return a->m.iova < b->m.iova ? -1 : a->m.iova > b->m.iova;
}

RB_GENERATE(range_tree, shadow_range, link, range_cmp)

struct shadow_range *range_from(struct range_tree *t, uint64_t x)
{
	struct shadow_range key = { .m.iova = x }, *r, *p;

	r = RB_NFIND(range_tree, t, &key);
	p = r ? RB_PREV(range_tree, t, r) : RB_MAX(range_tree, t);
	return p && range_last(p) >= x ? p : r;
}

void range_free_all(struct range_tree *t)
{
	struct shadow_range *r, *next;

	RB_FOREACH_SAFE(r, range_tree, t, next) {
		RB_REMOVE(range_tree, t, r);
		free(r);
	}
}
