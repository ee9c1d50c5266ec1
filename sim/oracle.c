/* SPDX-License-Identifier: MIT */
/*
 * The oracle: a full recursive walk, the normalized mapping list, and the
 * comparisons the property test makes.  Deliberately naive: no caching,
 * no incremental state, nothing shared with lib/ but the format decode.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"

struct walk {
	struct oracle *o;
	const struct wpt_format_ops *fmt;
	const struct wpt_pgtable_geo *geo;
	const struct oracle_ram *ram;
	unsigned int domain;
	uint64_t left;
};

void oracle_init(struct oracle *o)
{
	memset(o, 0, sizeof(*o));
}

void oracle_reset(struct oracle *o)
{
	o->nr_maps = 0;
	o->nr_uses = 0;
}

void oracle_fini(struct oracle *o)
{
	free(o->maps);
	free(o->uses);
	oracle_init(o);
}

static int grow(void **p, size_t *cap, size_t nr, size_t elem)
{
	void *q;

	if (nr < *cap)
		return 0;
	q = realloc(*p, (*cap ? 2 * *cap : 64) * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = *cap ? 2 * *cap : 64;
	return 0;
}

static const uint8_t *in_ram(const struct oracle_ram *ram, uint64_t gpa,
			     uint64_t size)
{
	if (gpa < ram->gpa || size > ram->size || gpa - ram->gpa > ram->size - size)
		return NULL;
	return ram->hva + (gpa - ram->gpa);
}

static int add_map(struct walk *w, uint64_t iova, uint64_t gpa, uint64_t size,
		   uint32_t perm)
{
	struct oracle *o = w->o;

	if (grow((void **)&o->maps, &o->cap_maps, o->nr_maps, sizeof(*o->maps)))
		return -ENOMEM;
	o->maps[o->nr_maps++] = (struct wpt_mapping){ iova, gpa, size, perm };
	return 0;
}

static int walk_table(struct walk *w, int level, uint64_t base, uint64_t gpa,
		      uint32_t mask)
{
	uint64_t size = geo_table_size(w->geo, level), n = size / 8, i;
	unsigned int shift = geo_level_shift(w->geo, level);
	const uint8_t *hva = in_ram(w->ram, gpa, size);
	struct oracle *o = w->o;
	int ret;

	if (!hva)
		return 0;
	if (grow((void **)&o->uses, &o->cap_uses, o->nr_uses, sizeof(*o->uses)))
		return -ENOMEM;
	o->uses[o->nr_uses++] =
		(struct oracle_use){ w->domain, level, base, gpa, size };
	if (n > w->left)
		return -E2BIG;
	w->left -= n;
	for (i = 0; i < n; i++) {
		uint64_t desc, iova = base + (i << shift);
		struct wpt_desc dd;

		memcpy(&desc, hva + 8 * i, 8);
		w->fmt->decode(w->geo, level, desc, &dd);
		if (dd.type == WPT_DESC_TABLE)
			ret = walk_table(w, level + 1, iova, dd.addr,
					 mask & dd.perm);
		else if (dd.type == WPT_DESC_LEAF && (dd.perm & mask) &&
			 in_ram(w->ram, dd.addr, dd.size))
			ret = add_map(w, iova, dd.addr, dd.size, dd.perm & mask);
		else
			ret = 0;
		if (ret)
			return ret;
	}
	return 0;
}

int oracle_walk(struct oracle *o, const struct wpt_format_ops *fmt,
		const struct wpt_pgtable_geo *geo, const struct oracle_ram *ram,
		uint64_t root_gpa, unsigned int domain, uint64_t max_descs)
{
	struct walk w = { o, fmt, geo, ram, domain, max_descs };

	return walk_table(&w, geo->start_level, 0, root_gpa,
			  WPT_PERM_READ | WPT_PERM_WRITE);
}

static int map_cmp(const void *a, const void *b)
{
	const struct wpt_mapping *x = a, *y = b;

	return x->iova < y->iova ? -1 : x->iova > y->iova;
}

size_t oracle_normalize(struct wpt_mapping *m, size_t n)
{
	size_t i, o = 0;

	if (!n)
		return 0;
	qsort(m, n, sizeof(*m), map_cmp);
	for (i = 1; i < n; i++) {
		struct wpt_mapping *last = &m[o];

		if (last->iova + last->size == m[i].iova &&
		    last->gpa + last->size == m[i].gpa &&
		    last->perm == m[i].perm)
			last->size += m[i].size;
		else
			m[++o] = m[i];
	}
	return o + 1;
}

static int table_cmp(const void *a, const void *b)
{
	const struct oracle_table *x = a, *y = b;

	if (x->gpa != y->gpa)
		return x->gpa < y->gpa ? -1 : 1;
	return x->size < y->size ? -1 : x->size > y->size;
}

long oracle_tables(const struct oracle *o, size_t n, struct oracle_table **out)
{
	size_t total = 0, i, k, nr = 0;
	struct oracle_table *t;

	for (i = 0; i < n; i++)
		total += o[i].nr_uses;
	t = malloc((total ? total : 1) * sizeof(*t));
	if (!t)
		return -1;
	for (i = 0; i < n; i++)
		for (k = 0; k < o[i].nr_uses; k++)
			t[nr++] = (struct oracle_table){ o[i].uses[k].gpa,
							 o[i].uses[k].size, 1 };
	qsort(t, nr, sizeof(*t), table_cmp);
	for (i = 0, k = 0; i < nr; i++) {
		if (k && t[k - 1].gpa == t[i].gpa && t[k - 1].size == t[i].size)
			t[k - 1].uses++;
		else
			t[k++] = t[i];
	}
	*out = t;
	return (long)k;
}

static void describe(char *buf, size_t len, const struct wpt_mapping *m)
{
	if (!m)
		snprintf(buf, len, "(none)");
	else
		snprintf(buf, len, "iova %#llx gpa %#llx size %#llx perm %u",
			 (unsigned long long)m->iova, (unsigned long long)m->gpa,
			 (unsigned long long)m->size, m->perm);
}

int oracle_compare(const struct wpt_mapping *want, size_t nw,
		   const struct wpt_mapping *got, size_t ng, char *msg,
		   size_t len)
{
	char a[96], b[96];
	size_t i;

	for (i = 0; i < nw || i < ng; i++) {
		const struct wpt_mapping *x = i < nw ? &want[i] : NULL;
		const struct wpt_mapping *y = i < ng ? &got[i] : NULL;

		if (x && y && x->iova == y->iova && x->gpa == y->gpa &&
		    x->size == y->size && x->perm == y->perm)
			continue;
		describe(a, sizeof(a), x);
		describe(b, sizeof(b), y);
		snprintf(msg, len, "mapping %zu of %zu/%zu: want %s, got %s", i,
			 nw, ng, a, b);
		return 1;
	}
	return 0;
}

/* The mapping of l[0..n) holding iova at or after *k, or NULL. */
static const struct wpt_mapping *covering(const struct wpt_mapping *l,
					  size_t n, size_t *k, uint64_t iova)
{
	while (*k < n && l[*k].iova + l[*k].size <= iova)
		(*k)++;
	return *k < n && l[*k].iova <= iova ? &l[*k] : NULL;
}

static bool pending_covers(const struct oracle_range *p, size_t np,
			   uint64_t lo, uint64_t hi)
{
	size_t i;

	/* Sorted and disjoint, but maybe touching: walk them in order. */
	for (i = 0; i < np && lo < hi; i++)
		if (p[i].iova <= lo && lo < p[i].iova + p[i].size)
			lo = p[i].iova + p[i].size;
	return lo >= hi;
}

/* The next boundary after x of any mapping in l (from *k on). */
static uint64_t next_edge(const struct wpt_mapping *l, size_t n, size_t k,
			  uint64_t x)
{
	for (; k < n; k++) {
		if (l[k].iova > x)
			return l[k].iova;
		if (l[k].iova + l[k].size > x)
			return l[k].iova + l[k].size;
	}
	return UINT64_MAX;
}

int oracle_compare_pending(const struct wpt_mapping *want, size_t nw,
			   const struct wpt_mapping *got, size_t ng,
			   const struct oracle_range *pending, size_t np,
			   char *msg, size_t len)
{
	size_t kw = 0, kg = 0;
	uint64_t lo = 0;
	char a[96], b[96];

	while ((kw < nw || kg < ng) && lo != UINT64_MAX) {
		const struct wpt_mapping *x = covering(want, nw, &kw, lo);
		const struct wpt_mapping *y = covering(got, ng, &kg, lo);
		uint64_t hi = next_edge(want, nw, kw, lo), h2;
		bool same;

		h2 = next_edge(got, ng, kg, lo);
		if (h2 < hi)
			hi = h2;
		same = x && y && x->perm == y->perm &&
		       x->gpa + (lo - x->iova) == y->gpa + (lo - y->iova);
		if ((x && !same) ||
		    (y && !same && !pending_covers(pending, np, lo, hi))) {
			describe(a, sizeof(a), x);
			describe(b, sizeof(b), y);
			snprintf(msg, len,
				 "at iova %#llx..%#llx: oracle %s, sink %s%s",
				 (unsigned long long)lo,
				 (unsigned long long)hi, a, b,
				 x ? "" : " (not waiting for an invalidation)");
			return 1;
		}
		lo = hi;
	}
	return 0;
}
