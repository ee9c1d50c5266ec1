/* SPDX-License-Identifier: MIT */
/*
 * Error paths must never lose a removal: after an allocation or a sink
 * failure, either the sink holds exactly what the guest tables map, or
 * the domain has faulted (wpt_domain_error) and the library's record of
 * what the sink holds (wpt_domain_foreach_mapping) is exact, so the VMM
 * knows which IOVAs a device may still reach.
 *
 * Allocation failures are injected at every allocation of an operation in
 * turn: this binary is linked with -Wl,--wrap=malloc,calloc,realloc
 * (mk/hardening.mk), which reroutes the library's calls (linked
 * statically) through the wrappers below; libcheck's and liburcu's own
 * (shared libraries) are not touched.
 */
#include <stdbool.h>

#include "fixture.h"
#include "rangemap.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);

/* Allocations left before the one that fails; 0: none fails. */
static unsigned long alloc_countdown;
static bool alloc_failed;

static bool alloc_fails_now(void)
{
	if (!alloc_countdown || --alloc_countdown)
		return false;
	alloc_failed = true;
	return true;
}

void *__wrap_malloc(size_t n)
{
	return alloc_fails_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	return alloc_fails_now() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	return alloc_fails_now() ? NULL : __real_realloc(p, n);
}

/* Fail the nth allocation from now (1: the next one). */
static void fail_alloc_in(unsigned long nth)
{
	alloc_failed = false;
	alloc_countdown = nth;
}

#define B FX_RAM_GPA
#define E(t, i) ((t) + 8 * (i))

/* --------------------------------------------- what holds afterwards */

static int record_str(void *o, const struct wpt_mapping *m)
{
	char *buf = o;
	size_t off = strlen(buf);

	snprintf(buf + off, 1024 - off, "%llx:%llx:%llx:%s;",
		 (unsigned long long)m->iova, (unsigned long long)m->gpa,
		 (unsigned long long)m->size,
		 m->perm == 3 ? "rw" : m->perm == 1 ? "r" : "w");
	return 0;
}

/*
 * The rule, after an operation that returned op_ret: the sink holds what
 * the library says it holds; a faulted domain's sink holds nothing (the
 * teardown needs no memory); a healthy domain's sink equals a full walk,
 * or, if the operation returned an error, what it still owes goes at the
 * next update, as a sink error's does (wpt_domain_error's contract).
 */
static void assert_nothing_lost(struct wpt_domain *d, struct wpt_sink *s,
				int op_ret, const char *what,
				unsigned long nth)
{
	char sink[1024], record[1024] = "";
	long diffs;

	fx_sink_str(s, sink, sizeof(sink));
	ck_assert_int_eq(wpt_domain_foreach_mapping(d, record_str, record), 0);
	ck_assert_msg(!strcmp(sink, record),
		      "%s, allocation %lu failed: sink holds %s, the library "
		      "says %s", what, nth, sink, record);
	if (wpt_domain_error(d)) {
		ck_assert_msg(!sink[0], "%s, allocation %lu failed: faulted "
			      "(%d) but the sink still holds %s", what, nth,
			      wpt_domain_error(d), sink);
		return;
	}
	diffs = wpt_domain_verify(d);
	if (diffs && op_ret < 0) {
		ck_assert_int_eq(wpt_domain_invalidate_all(d), 0);
		diffs = wpt_domain_verify(d);
	}
	ck_assert_msg(diffs == 0, "%s, allocation %lu failed (returned %d): "
		      "not faulted, yet verify finds %ld differences (sink: "
		      "%s)", what, nth, op_ret, diffs, sink);
}

/* ------------------------------------------ a leaf removed, no memory */

#define ROOT (B + 0x10000)
#define L1   (B + 0x11000)
#define L2   (B + 0x12000)
#define L3   (B + 0x13000)
#define D    (B + 0x800000)

static struct wpt_domain *three_levels(struct fx *f, struct wpt_sink **s,
				       enum wpt_mode mode)
{
	struct wpt_domain *d = fx_domain(f, s, mode, 4096, 48);

	*fx_desc(f, E(ROOT, 0)) = s1_table(L1);
	*fx_desc(f, E(L1, 0)) = s1_table(L2);
	*fx_desc(f, E(L2, 0)) = s1_table(L3);
	*fx_desc(f, E(L3, 1)) = s1_page(D);
	*fx_desc(f, E(L3, 3)) = s1_page(D + 0x5000);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	return d;
}

/*
 * A trapped store of 0 at gpa, with each allocation it makes failing in
 * turn; returns how many allocations it made.  shadow_leaf_remove's
 * -ENOMEM was ignored (the store returned 1, the sink kept the page,
 * verify found 2 differences).
 */
static unsigned long removal_without_memory(enum wpt_mode mode, uint64_t gpa,
					    const char *what)
{
	unsigned long nth;

	for (nth = 1;; nth++) {
		struct fx *f = fx_new();
		struct wpt_sink *s;
		struct wpt_domain *d = three_levels(f, &s, mode);
		uint64_t zero = 0;
		bool failed;
		int ret;

		fail_alloc_in(nth);
		ret = wpt_vm_handle_mmio(f->vm, gpa, &zero, 8, 1);
		failed = alloc_failed;
		fail_alloc_in(0);
		ck_assert_msg(ret == 1 || ret == -ENOMEM, "store: %d", ret);
		assert_nothing_lost(d, s, ret, what, nth);
		wpt_domain_free(d);
		wpt_sink_free(s);
		fx_free(f);
		if (!failed)
			return nth - 1; /* the store made fewer than nth */
	}
}

/* TRAP: the hot path allocates nothing (the dirty set reuses its span,
 * the shadow's words need no memory to go), so nothing can fail. */
START_TEST(leaf_removal_without_memory)
{
	ck_assert_uint_eq(removal_without_memory(WPT_MODE_TRAP, E(L3, 3),
						 "leaf removal"), 0);
}
END_TEST

/* HYBRID: the removal waits in the pending set, whose first span needs
 * memory; its failure must fault the domain. */
START_TEST(deferred_removal_without_memory)
{
	ck_assert_uint_gt(removal_without_memory(WPT_MODE_HYBRID, E(L3, 3),
						 "deferred leaf removal"), 0);
}
END_TEST

/* ------------------------------------------- destroy and the sink */

/* wpt_domain_free ignored a failed unmap: both mappings stayed in the
 * sink with no error and no way to retry.  destroy says so and keeps the
 * domain, inert, until a retry succeeds. */
START_TEST(destroy_reports_failed_unmap)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = three_levels(f, &s, WPT_MODE_TRAP);
	struct wpt_vm_stats st;
	char sink[256], record[1024] = "";

	ck_assert_str_eq(fx_sink_str(s, sink, sizeof(sink)),
			 "1000:40800000:1000:rw;3000:40805000:1000:rw;");
	ck_assert_int_eq(wpt_sink_record_fail_at(s, 2, -EIO), 0);
	ck_assert_int_eq(wpt_domain_destroy(d), -EIO);
	/* One unmap went through; the library knows which one stays. */
	ck_assert_int_eq(wpt_domain_foreach_mapping(d, record_str, record), 0);
	ck_assert_str_eq(record, fx_sink_str(s, sink, sizeof(sink)));
	ck_assert_str_eq(record, "3000:40805000:1000:rw;");
	/* Inert: its tables are no longer protected, a store maps nothing. */
	ck_assert(!fx_prot(f, L3));
	*fx_desc(f, E(L3, 5)) = s1_page(D);
	ck_assert_int_eq(wpt_domain_invalidate_all(d), 0);
	ck_assert_str_eq(fx_sink_str(s, sink, sizeof(sink)), "");
	ck_assert_int_eq(wpt_domain_destroy(d), 0);
	wpt_vm_stats(f->vm, &st, sizeof(st));
	ck_assert_uint_ge(st.errors, 1);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

START_TEST(destroy_retry_after_failure)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = three_levels(f, &s, WPT_MODE_HYBRID);
	char sink[256];

	ck_assert_int_eq(wpt_sink_record_fail_at(s, 1, -ENOSPC), 0);
	ck_assert_int_eq(wpt_domain_destroy(d), -ENOSPC);
	/* The refused unmap does not hold back the other one. */
	ck_assert_str_eq(fx_sink_str(s, sink, sizeof(sink)),
			 "1000:40800000:1000:rw;");
	ck_assert_int_eq(wpt_domain_destroy(d), 0);
	ck_assert_str_eq(fx_sink_str(s, sink, sizeof(sink)), "");
	ck_assert_int_eq(wpt_domain_destroy(NULL), -EINVAL);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

/* ------------------------------------- many tables on one page, no memory */

/*
 * Five domains whose 32-byte root tables (IAS 32, 4 KiB granule: level 1
 * holds 4 entries) share one page.  A store to any root, with each of its
 * allocations failing in turn: diffing more than four tables on a page
 * needs an array, and without one only four were diffed, silently.
 */
#define NR_DOMS 5
#define ROOTS   (B + 0x20000)
#define L2S     (B + 0x21000) /* domain i's level 2 table: L2S + i pages */

START_TEST(many_tables_on_a_page_without_memory)
{
	unsigned int target;

	for (target = 0; target < NR_DOMS; target++) {
		unsigned long nth;

		for (nth = 1;; nth++) {
			struct fx *f = fx_new();
			struct wpt_sink *s[NR_DOMS];
			struct wpt_domain *d[NR_DOMS];
			uint64_t v;
			bool failed;
			unsigned int i;
			int ret;

			for (i = 0; i < NR_DOMS; i++) {
				uint64_t l2 = L2S + i * 0x1000ull;

				d[i] = fx_domain(f, &s[i], WPT_MODE_TRAP, 4096,
						 32);
				*fx_desc(f, l2) = s1_block(B + 0x200000);
				*fx_desc(f, l2 + 8) = s1_block(B + 0x400000);
				*fx_desc(f, ROOTS + 32 * i) = s1_table(l2);
				ck_assert_int_eq(wpt_domain_set_root(
					d[i], ROOTS + 32 * i), 0);
			}
			/* The target's second level 1 entry: a new table. */
			v = s1_table(L2S + target * 0x1000ull);
			fail_alloc_in(nth);
			ret = wpt_vm_handle_mmio(f->vm, ROOTS + 32 * target + 8,
						 &v, 8, 1);
			failed = alloc_failed;
			fail_alloc_in(0);
			for (i = 0; i < NR_DOMS; i++) {
				assert_nothing_lost(d[i], s[i], ret, "root store",
						    nth);
				wpt_domain_free(d[i]);
				wpt_sink_free(s[i]);
			}
			fx_free(f);
			if (!failed)
				break;
		}
	}
}
END_TEST

/*
 * The shadow's range map: a batch insert that runs out of memory takes
 * back what it put in, and with it the count of ranges running on into
 * the next chunk (rangemap.spill), which says whether a range may reach a
 * chunk's first page from the one before.  Left one short, the range
 * that was there before would go unseen from the next chunk.
 */
START_TEST(range_batch_undone_without_memory)
{
	const struct wpt_mapping before = { .iova = 0x400000 - 0x2000,
					    .gpa = 0x10000000, .size = 0x4000,
					    .perm = 3 };
	const struct wpt_mapping batch[] = {
		{ .iova = 0x800000 - 0x2000, .gpa = 0x20000000,
		  .size = 0x4000, .perm = 3 }, /* runs on too */
		{ .iova = 0x1400000, .gpa = 0x30000000, .size = 0x1000,
		  .perm = 3 },                 /* a new chunk */
		{ .iova = 0x40000000, .gpa = 0x40000000, .size = 0x1000,
		  .perm = 3 },                 /* and radix nodes */
	};
	unsigned long nth;

	for (nth = 1;; nth++) {
		struct wpt_mapping m;
		struct rangemap rm;
		struct rm_pos p;
		bool failed;
		int ret;

		rm_init(&rm);
		ck_assert_int_eq(rm_insert(&rm, &before, 0, NULL), 0);
		fail_alloc_in(nth);
		ret = rm_insert_batch(&rm, batch, 3);
		failed = alloc_failed;
		fail_alloc_in(0);
		ck_assert_int_eq(ret, failed ? -ENOMEM : 0);
		ck_assert_uint_eq(rm.nr, failed ? 1 : 4);
		ck_assert_uint_eq(rm.spill, failed ? 1 : 2);
		ck_assert(rm_overlap(&rm, 0x400000, 0x400fff, &p, &m));
		ck_assert_uint_eq(m.iova, before.iova);
		ck_assert(failed != rm_overlap(&rm, 0x800000, 0x800fff, &p, &m));
		rm_free_all(&rm);
		if (!failed)
			break;
	}
	ck_assert_uint_gt(nth, 2);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("error_paths");
	TCase *tc = tcase_create("error_paths");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, leaf_removal_without_memory);
	tcase_add_test(tc, deferred_removal_without_memory);
	tcase_add_test(tc, destroy_reports_failed_unmap);
	tcase_add_test(tc, destroy_retry_after_failure);
	tcase_add_test(tc, many_tables_on_a_page_without_memory);
	tcase_add_test(tc, range_batch_undone_without_memory);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
