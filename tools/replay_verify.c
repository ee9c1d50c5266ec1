/* SPDX-License-Identifier: MIT */
/*
 * wpt-replay --verify: the invariants of DESIGN.md checked after every
 * command, from outside the engine (the public API and wpt_internal.h):
 *  - every domain's shadow equals a full walk of its tables
 *    (wpt_domain_verify, invariants 1 and 2), except an INVAL domain whose
 *    tables were stored to since its last full resync (it follows them only
 *    where the guest invalidates); a faulted domain maps nothing;
 *  - each recording sink holds exactly what the domain's shadow says;
 *  - every sink mapping lies inside one RAM region (invariant 3);
 *  - protection: the backend contract held (no double protect, no unprotect
 *    of an unprotected page, nothing outside RAM), the backend and the
 *    library agree on every tracked page, nothing else is protected, and
 *    with no INVAL domain every tracked page is protected (with one, a page
 *    may be tracked only for it, and the API cannot tell whose it is).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

static int __attribute__((format(printf, 2, 3)))
violated(struct replay *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	line_vmsg(r, "verify", fmt, ap);
	va_end(ap);
	return EXIT_VERIFY;
}

struct mapping_vec {
	struct wpt_mapping *v;
	size_t n, cap;
};

static int mapping_push(void *opaque, const struct wpt_mapping *m)
{
	struct mapping_vec *x = opaque;

	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 64;
		struct wpt_mapping *v = realloc(x->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		x->v = v;
		x->cap = cap;
	}
	x->v[x->n++] = *m;
	return 0;
}

/* The sink holds what the shadow says, every mapping inside RAM. */
static int verify_sink(struct replay *r, struct dom *dm)
{
	struct mapping_vec shadow = { 0 };
	struct wpt_mapping *held;
	long n = sink_mappings(dm->sink, &held), i;
	int ret = wpt_domain_foreach_mapping(dm->d, mapping_push, &shadow);

	if (n < 0 || ret < 0)
		ret = violated(r, "domain %s: cannot read mappings", dm->id);
	else if ((size_t)n != shadow.n)
		ret = violated(r, "domain %s: sink holds %ld mappings, shadow "
			       "says %zu", dm->id, n, shadow.n);
	for (i = 0; !ret && i < n; i++) {
		const struct wpt_mapping *a = &held[i], *b = &shadow.v[i];

		if (a->iova != b->iova || a->gpa != b->gpa ||
		    a->size != b->size || a->perm != b->perm)
			ret = violated(r, "domain %s: sink mapping at iova 0x%llx"
				       " differs from the shadow", dm->id,
				       (unsigned long long)a->iova);
		else if (!ram_find(r, a->gpa, a->size))
			ret = violated(r, "domain %s: sink maps gpa 0x%llx size"
				       " 0x%llx outside RAM", dm->id,
				       (unsigned long long)a->gpa,
				       (unsigned long long)a->size);
	}
	free(held);
	free(shadow.v);
	return ret;
}

static int verify_domain(struct replay *r, struct dom *dm)
{
	int err = wpt_domain_error(dm->d);
	long diffs;

	if (err) {
		/* Nothing of a faulted domain stays mapped. */
		if (wpt_sink_record_get(dm->sink, NULL, 0) != 0)
			return violated(r, "domain %s: faulted (%s) but its "
					"sink holds mappings", dm->id,
					errno_name(err));
	} else if (!dm->stale && (diffs = wpt_domain_verify(dm->d))) {
		if (diffs < 0)
			return violated(r, "domain %s: wpt_domain_verify: %s",
					dm->id, errno_name((int)diffs));
		return violated(r, "domain %s: shadow differs from a full "
				"walk in %ld places", dm->id, diffs);
	}
	return verify_sink(r, dm);
}

/* Pages of tracked tables, sorted, each once. */
struct page_vec {
	uint64_t *v;
	size_t n, cap;
};

static int table_pages(void *opaque, uint64_t gpa, uint64_t size,
		       unsigned int uses)
{
	struct page_vec *x = opaque;
	uint64_t p;

	for (p = gpa & ~(PAGE_SIZE - 1); p < gpa + size; p += PAGE_SIZE) {
		if (x->n == x->cap) {
			size_t cap = x->cap ? 2 * x->cap : 64;
			uint64_t *v = realloc(x->v, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			x->v = v;
			x->cap = cap;
		}
		x->v[x->n++] = p;
	}
	return 0;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static size_t sort_unique(uint64_t *v, size_t n)
{
	size_t i, k = 0;

	if (!n)
		return 0; /* v may be NULL: qsort must not see it */
	qsort(v, n, sizeof(*v), u64_cmp);
	for (i = 0; i < n; i++)
		if (!k || v[k - 1] != v[i])
			v[k++] = v[i];
	return k;
}

static bool any_inval_domain(const struct replay *r)
{
	unsigned int i;

	for (i = 0; i < r->nr_doms; i++)
		if (r->doms[i].mode == WPT_MODE_INVAL)
			return true;
	return false;
}

static int verify_protection(struct replay *r)
{
	struct page_vec pages = { 0 };
	bool all_trap = !any_inval_domain(r);
	uint64_t mine = 0;
	size_t i, n;
	int ret = 0;

	if (r->violation[0])
		return violated(r, "%s", r->violation);
	if (!r->vm)
		return 0;
	if (wpt_vm_foreach_table(r->vm, table_pages, &pages))
		return violated(r, "cannot list tracked tables");
	n = sort_unique(pages.v, pages.n);
	for (i = 0; !ret && i < n; i++) {
		uint8_t *b = page_prot(r, pages.v[i]);
		int lib = wpt_vm_page_protected(r->vm, pages.v[i]);

		mine += b && *b;
		if (!b)
			ret = violated(r, "table page 0x%llx tracked outside RAM",
				       (unsigned long long)pages.v[i]);
		else if (lib != *b)
			ret = violated(r, "page 0x%llx: library says %sprotected"
				       ", backend says %sprotected",
				       (unsigned long long)pages.v[i],
				       lib ? "" : "not ", *b ? "" : "not ");
		else if (all_trap && !*b)
			ret = violated(r, "tracked table page 0x%llx of a "
				       "trapping domain not protected",
				       (unsigned long long)pages.v[i]);
	}
	if (!ret && mine != r->nr_protected)
		ret = violated(r, "%llu protected pages hold no tracked table",
			       (unsigned long long)(r->nr_protected - mine));
	free(pages.v);
	return ret;
}

int verify_all(struct replay *r)
{
	unsigned int i;
	int ret;

	for (i = 0; i < r->nr_doms; i++) {
		ret = verify_domain(r, &r->doms[i]);
		if (ret)
			return ret;
	}
	return verify_protection(r);
}
