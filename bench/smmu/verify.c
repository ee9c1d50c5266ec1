/* SPDX-License-Identifier: MIT */
/*
 * smmu_verify: after a run, the shadow against the guest's tables (or,
 * for the explicit strategy, the sink against a walk of them).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "smmu_internal.h"
#include "sink/sink.h"

/* A sink's mappings as maximal runs (IOVA and GPA both continuing, same
 * perm), so two sinks that split the same translation differently compare
 * equal.  *out is malloc'd; returns the run count or -errno. */
static long sink_runs(const struct wpt_sink *sink, struct wpt_mapping **out)
{
	long n = wpt_sink_record_get(sink, NULL, 0), i, runs = 0;
	struct wpt_mapping *m;

	*out = NULL;
	if (n < 0)
		return n;
	m = calloc(n ? n : 1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	if (wpt_sink_record_get(sink, m, n) != n) {
		free(m);
		return -EIO;
	}
	for (i = 0; i < n; i++) {
		struct wpt_mapping *l = runs ? &m[runs - 1] : NULL;

		if (l && l->iova + l->size == m[i].iova &&
		    l->gpa + l->size == m[i].gpa && l->perm == m[i].perm)
			l->size += m[i].size;
		else
			m[runs++] = m[i];
	}
	*out = m;
	return runs;
}

static bool same_run(const struct wpt_mapping *a, const struct wpt_mapping *b)
{
	return a->iova == b->iova && a->gpa == b->gpa && a->size == b->size &&
	       a->perm == b->perm;
}

/* Where two runs (either may be missing) stop translating alike. */
static uint64_t first_difference(const struct wpt_mapping *a,
				 const struct wpt_mapping *b)
{
	if (!a || !b)
		return a ? a->iova : b->iova;
	if (a->iova != b->iova)
		return a->iova < b->iova ? a->iova : b->iova;
	if (a->gpa != b->gpa || a->perm != b->perm)
		return a->iova;
	return a->iova + (a->size < b->size ? a->size : b->size);
}

static const char *perm_str(uint32_t perm)
{
	static const char *const names[4] = { "-", "r", "w", "rw" };

	return names[perm & 3];
}

static int verify_domain(struct smmu *s, const char *what)
{
	long diffs;
	int err;

	if (!s->d)
		return 0;
	err = wpt_domain_error(s->d);
	if (err) {
		set_error(s, "%s faulted: %s", what, strerror(-err));
		return -EIO;
	}
	diffs = wpt_domain_verify(s->d);
	if (diffs < 0) {
		set_error(s, "%s: verify failed: %s", what, strerror(-diffs));
		return -EIO;
	}
	if (diffs) {
		set_error(s, "%s: %ld differences between the shadow and a "
			  "full walk of the tables", what, diffs);
		return -EIO;
	}
	return 0;
}

static int verify_explicit(struct smmu *s)
{
	struct wpt_sink *sink = s->mirror ? s->mirror : s->cfg.sink;
	struct wpt_mapping *a = NULL, *b = NULL;
	long na, nb, i;
	int ret = -EIO;

	if (s->mirror_diverged) {
		set_error(s, "the sink accepted a request its record refused");
		return -EIO;
	}
	if (s->d) {
		int r = wpt_domain_invalidate_all(s->d);

		if (r) {
			set_error(s, "check domain: invalidate_all: %s",
				  strerror(-r));
			return -EIO;
		}
	}
	ret = verify_domain(s, "check domain");
	if (ret)
		return ret;
	ret = -EIO;
	na = sink_runs(sink, &a);
	nb = sink_runs(s->cfg.check_sink, &b);
	if (na < 0 || nb < 0) {
		set_error(s, "cannot read the %s sink: %s",
			  na < 0 ? "explicit" : "check",
			  strerror(na < 0 ? -na : -nb));
		goto out;
	}
	for (i = 0; i < na || i < nb; i++) {
		char ta[96] = "nothing", tb[96] = "nothing";

		if (i < na && i < nb && same_run(&a[i], &b[i]))
			continue;
		if (i < na)
			snprintf(ta, sizeof(ta), "iova 0x%" PRIx64 "+0x%" PRIx64
				 " -> gpa 0x%" PRIx64 " %s", a[i].iova,
				 a[i].size, a[i].gpa, perm_str(a[i].perm));
		if (i < nb)
			snprintf(tb, sizeof(tb), "iova 0x%" PRIx64 "+0x%" PRIx64
				 " -> gpa 0x%" PRIx64 " %s", b[i].iova,
				 b[i].size, b[i].gpa, perm_str(b[i].perm));
		set_error(s, "explicit sink and tables differ from IOVA 0x%"
			  PRIx64 ": sink maps %s, tables map %s",
			  first_difference(i < na ? &a[i] : NULL,
					   i < nb ? &b[i] : NULL), ta, tb);
		goto out;
	}
	ret = 0;
out:
	free(a);
	free(b);
	return ret;
}

int smmu_verify(struct smmu *s)
{
	if (!s)
		return -EINVAL;
	s->err[0] = 0;
	if (s->cfg.strategy == BENCH_S_EXPLICIT)
		return verify_explicit(s);
	return verify_domain(s, "domain");
}
