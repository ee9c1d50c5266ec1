/* SPDX-License-Identifier: MIT */
/*
 * Amplification at the scale a hostile guest can reach under the default
 * limits: structures built within every limit, one small store or
 * invalidation at a time, that make ONE later call do work out of
 * proportion to its size.  Each case measures the call's work (the
 * domain's descs_visited: descriptors decoded, uses visited, leaves
 * changed, uses torn down, all charged to max_walk_descs), its sink calls
 * and its peak heap growth (unit/meter.h), and asserts each against its
 * bound, printed beside it:
 *  - work <= max_walk_descs, per call (past it the domain faults with
 *    -E2BIG, having done at most that much);
 *  - sink calls <= 3 per unit of work (a leaf changed inside a run costs
 *    at most the run's unmap and a map of each remaining piece);
 *  - heap growth <= HEAP_FIXED + HEAP_PER_UNIT per unit of work (each unit
 *    makes at most one use, one leaf or one sink mapping);
 *  - per domain: uses <= max_table_uses, leaves <= max_leaves.
 * CPU time is printed, never asserted.
 *
 * The cases (one line each, "amplification: <case>: ..."):
 *  - many uses of one table: leaf table T linked from 127 level 2 tables,
 *    512 entries each: 65,024 uses of T (65,153 in all, under the
 *    default 65,536), built one level 1 store at a time; then one store
 *    to T maps a page through every use;
 *  - a store that changes many leaves through shared tables: a level 1
 *    entry cleared (512 uses and leaves go), then the root's entry
 *    (64,512 uses, each a walk of T, 33M descriptors: within the
 *    defaults, which bound it since max_table_uses walks of a table fit
 *    max_walk_descs; under tighter limits past max_walk_descs, the
 *    domain faults and its teardown unmaps everything);
 *  - a huge invalidation: the same tree in INVAL mode, T changed, one
 *    1 GiB invalidation (T is diffed once: the change reaches all its
 *    uses), then invalidate_all (65,024 walks of T: within the defaults,
 *    past the tighter limits);
 *  - many adjacent runs: T2 maps 2 MiB contiguously and is used 1,024
 *    times at adjacent 2 MiB IOVAs (1,024 runs, 524,288 leaves); one store
 *    in the middle of T2 splits every run (the closure step that was
 *    quadratic).
 */
#include "fixture.h"
#include "unit/meter.h"

#define B FX_RAM_GPA
#define ROOT (B + 0x10000)
#define L1 (B + 0x11000)
#define T (B + 0x20000)
#define T2 (B + 0x21000)
#define L2(i) (B + 0x100000 + 0x1000ull * (i)) /* the level 2 tables */
#define D (B + 0x800000)                       /* data: 2 MiB aligned */
#define E(t, i) ((t) + 8ull * (i))

#define NR_L2 127
#define USES (NR_L2 * 512)  /* uses of T */
#define RUN_L2 2
#define RUNS (RUN_L2 * 512) /* uses of T2, one 2 MiB run each */

#define HEAP_FIXED (1ull << 20)
#define HEAP_PER_UNIT 512ull
#define SINK_PER_UNIT 3

/* The library's defaults, as a VMM gets them (wpt.h). */
static const struct wpt_limits dflt = {
	.max_table_uses = 65536,
	.max_leaves = 1ull << 25,
	.max_walk_descs = 1ull << 26,
};

/* Limits a VMM may set below the defaults: the guest's tree (built within
 * the defaults) then asks more of one call than max_walk_descs allows. */
static const struct wpt_limits tight = {
	.max_table_uses = 65536,
	.max_leaves = 1ull << 20,
	.max_walk_descs = 1ull << 22,
};

static void dom_stats(struct wpt_domain *d, struct wpt_domain_stats *st)
{
	ck_assert_int_eq(wpt_domain_stats(d, st, sizeof(*st)), 0);
}

static uint64_t sink_calls(struct wpt_sink *s)
{
	uint64_t maps, unmaps;

	fx_sink_calls(s, &maps, &unmaps);
	return maps + unmaps;
}

struct amp {
	struct meter m;
	struct wpt_sink *s;
	uint64_t calls0;
};

static void amp_start(struct amp *a, const char *name, struct wpt_domain *d,
		      struct wpt_sink *s)
{
	a->s = s;
	a->calls0 = sink_calls(s);
	meter_start(&a->m, name, d);
}

/* Stop the meter, print the costs beside their bounds and assert them. */
static void amp_stop(struct amp *a, const struct wpt_limits *l)
{
	struct wpt_domain_stats st;
	uint64_t calls, hbound;
	int err;

	meter_stop(&a->m);
	calls = sink_calls(a->s) - a->calls0;
	hbound = HEAP_FIXED + HEAP_PER_UNIT * a->m.descs;
	err = wpt_domain_error(a->m.d);
	dom_stats(a->m.d, &st);
	fprintf(stderr, "amplification: %-34s error %-3d work %8llu <= %-8llu "
		"sink calls %7llu <= %-8llu heap %+10ld <= %-10llu leaves %7llu "
		"uses %6llu (cpu %.1f ms)\n", a->m.name, err,
		(unsigned long long)a->m.descs,
		(unsigned long long)l->max_walk_descs,
		(unsigned long long)calls,
		(unsigned long long)(SINK_PER_UNIT * a->m.descs), a->m.heap,
		(unsigned long long)hbound, (unsigned long long)st.leaves,
		(unsigned long long)st.table_uses, a->m.cpu_ns / 1e6);
	ck_assert_uint_le(a->m.descs, l->max_walk_descs);
	ck_assert_uint_le(calls, SINK_PER_UNIT * a->m.descs);
	ck_assert_int_le(a->m.heap, (long)hbound);
	ck_assert_uint_le(st.leaves, l->max_leaves);
	ck_assert_uint_le(st.table_uses, l->max_table_uses);
}

/* ------------------------------------------------ many uses of T */

/* ROOT -> L1 -> L2(0..NR_L2-1), every entry of every L2 -> T, which maps
 * one page: the L2s filled in RAM first, then linked one trapped store at
 * a time (each a walk of 512 uses of T, within the limit). */
static struct wpt_domain *many_uses(struct fx *f, struct wpt_sink **s,
				    enum wpt_mode mode)
{
	struct wpt_domain *d = fx_domain(f, s, mode, 4096, 48);
	struct amp a;
	int i, j;

	*fx_desc(f, E(ROOT, 0)) = s1_table(L1);
	*fx_desc(f, E(T, 0)) = s1_page(D);
	for (i = 0; i < NR_L2; i++)
		for (j = 0; j < 512; j++)
			*fx_desc(f, E(L2(i), j)) = s1_table(T);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	amp_start(&a, "build: 127 links of 512 uses", d, *s);
	for (i = 0; i < NR_L2; i++) {
		if (mode == WPT_MODE_INVAL) {
			*fx_desc(f, E(L1, i)) = s1_table(L2(i));
			ck_assert_int_eq(wpt_domain_invalidate(d,
				(uint64_t)i << 30, 1ull << 30), 0);
		} else {
			fx_store64(f, E(L1, i), s1_table(L2(i)));
		}
	}
	/* Per call: the bound holds for each of the 127 (a.m.descs / 127
	 * each, every link the same), so for the sum over 127 calls. */
	meter_stop(&a.m);
	ck_assert_uint_le(a.m.descs, NR_L2 * dflt.max_walk_descs);
	fprintf(stderr, "amplification: %-34s work %8llu in %d calls (%llu "
		"each <= %llu) heap %+ld (cpu %.1f ms)\n", a.m.name,
		(unsigned long long)a.m.descs, NR_L2,
		(unsigned long long)a.m.descs / NR_L2,
		(unsigned long long)dflt.max_walk_descs, a.m.heap,
		a.m.cpu_ns / 1e6);
	ck_assert_int_eq(wpt_domain_error(d), 0);
	ck_assert_int_eq(wpt_sink_record_get(*s, NULL, 0), USES);
	return d;
}

/* Verify walks the whole tree (USES walks of T, 33M descriptors) and more
 * for its own bookkeeping: the domain's limit is raised for it alone, so
 * the check does not depend on how close the defaults are. */
static void verify_big(struct wpt_domain *d)
{
	struct wpt_limits big = dflt;

	big.max_walk_descs = 1ull << 27;
	ck_assert_int_eq(wpt_domain_set_limits(d, &big), 0);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	ck_assert_int_eq(wpt_domain_set_limits(d, &dflt), 0);
}

/* The call's error: none within the limits, -E2BIG past them. */
static int past_limit(const struct wpt_limits *l)
{
	return l == &tight ? -E2BIG : 0;
}

START_TEST(test_many_uses_of_one_table)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = many_uses(f, &s, WPT_MODE_TRAP);
	struct wpt_limits small = dflt;
	struct amp a;

	/* One 8-byte store maps a page through 65,024 uses. */
	amp_start(&a, "one store to T, 65,024 uses", d, s);
	fx_store64(f, E(T, 1), s1_page(D + 0x1000));
	amp_stop(&a, &dflt);
	ck_assert_int_eq(wpt_domain_error(d), 0);
	ck_assert_uint_ge(a.m.descs, 2 * USES); /* a use and a leaf each */
	verify_big(d);
	/* The same store under a limit it exceeds: stopped within it. */
	small.max_walk_descs = 100000;
	ck_assert_int_eq(wpt_domain_set_limits(d, &small), 0);
	amp_start(&a, "the same, max_walk_descs 100000", d, s);
	fx_store64(f, E(T, 1), 0);
	amp_stop(&a, &small);
	ck_assert_int_eq(wpt_domain_error(d), -E2BIG);
	ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), 0);
	ck_assert(!fx_prot(f, T) && !fx_prot(f, L1));
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

/* _i 0: the defaults; 1: the tighter limits. */
START_TEST(test_store_through_shared_tables)
{
	const struct wpt_limits *l = _i ? &tight : &dflt;
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = many_uses(f, &s, WPT_MODE_TRAP);
	struct amp a;

	/* One store drops 512 uses of T and their leaves. */
	amp_start(&a, "level 1 entry cleared, 512 uses", d, s);
	fx_store64(f, E(L1, 0), 0);
	amp_stop(&a, &dflt);
	ck_assert_int_eq(wpt_domain_error(d), 0);
	ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), USES - 512);
	ck_assert_uint_ge(a.m.descs, 512);
	/* The root's entry: 64,512 uses of T to take apart, each a walk of
	 * T (33M descriptors): within the defaults all of it is done; past
	 * a tighter limit the domain faults, and its teardown (bounded by
	 * max_table_uses and max_leaves, not charged) still unmaps
	 * everything. */
	ck_assert_int_eq(wpt_domain_set_limits(d, l), 0);
	amp_start(&a, l == &tight ? "root entry cleared, tighter limits"
				  : "root entry cleared, 64,512 uses", d, s);
	fx_store64(f, E(ROOT, 0), 0);
	amp_stop(&a, l);
	ck_assert_int_eq(wpt_domain_error(d), past_limit(l));
	ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), 0);
	/* Healthy, the domain still tracks its root; faulted, nothing. */
	ck_assert_uint_eq(fx_uses(f), l == &tight ? 0 : 1);
	if (l != &tight)
		ck_assert_int_eq(wpt_domain_verify(d), 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

/* _i as for test_store_through_shared_tables. */
START_TEST(test_huge_invalidation)
{
	const struct wpt_limits *l = _i ? &tight : &dflt;
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = many_uses(f, &s, WPT_MODE_INVAL);
	struct amp a;

	/* One 1 GiB range: 512 uses of T re-walked, a leaf added each. */
	*fx_desc(f, E(T, 1)) = s1_page(D + 0x1000);
	amp_start(&a, "invalidate 1 GiB, 512 uses", d, s);
	ck_assert_int_eq(wpt_domain_invalidate(d, 0, 1ull << 30), 0);
	amp_stop(&a, &dflt);
	ck_assert_int_eq(wpt_domain_error(d), 0);
	/* Everything: 65,024 walks of T, within the defaults, past the
	 * tighter limit (then the domain faults and holds nothing). */
	ck_assert_int_eq(wpt_domain_set_limits(d, l), 0);
	amp_start(&a, l == &tight ? "invalidate all, tighter limits"
				  : "invalidate all, 65,024 uses", d, s);
	ck_assert_int_eq(wpt_domain_invalidate_all(d), 0);
	amp_stop(&a, l);
	ck_assert_int_eq(wpt_domain_error(d), past_limit(l));
	if (l == &tight)
		ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), 0);
	else
		verify_big(d);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

/* ------------------------------------------------ many adjacent runs */

START_TEST(test_many_adjacent_runs)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = fx_domain(f, &s, WPT_MODE_TRAP, 4096, 48);
	struct amp a;
	int i, j;

	/* T2 maps D..D+2M; L2(0..RUN_L2-1) use it at every entry, so the
	 * sink holds RUNS runs of 2 MiB at adjacent IOVAs (GPA-disjoint:
	 * each starts at D again). */
	*fx_desc(f, E(ROOT, 0)) = s1_table(L1);
	for (j = 0; j < 512; j++)
		*fx_desc(f, E(T2, j)) = s1_page(D + 0x1000ull * j);
	for (i = 0; i < RUN_L2; i++)
		for (j = 0; j < 512; j++)
			*fx_desc(f, E(L2(i), j)) = s1_table(T2);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	for (i = 0; i < RUN_L2; i++)
		fx_store64(f, E(L1, i), s1_table(L2(i)));
	ck_assert_int_eq(wpt_domain_error(d), 0);
	ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), RUNS);
	/* A page in the middle goes: every run splits in two. */
	amp_start(&a, "one store splits 1,024 runs", d, s);
	fx_store64(f, E(T2, 256), 0);
	amp_stop(&a, &dflt);
	ck_assert_int_eq(wpt_domain_error(d), 0);
	ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), 2 * RUNS);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("amplification");
	TCase *tc = tcase_create("amplification");
	SRunner *sr;
	int failed;

	heap_meter_init();
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_many_uses_of_one_table);
	tcase_add_loop_test(tc, test_store_through_shared_tables, 0, 2);
	tcase_add_loop_test(tc, test_huge_invalidation, 0, 2);
	tcase_add_test(tc, test_many_adjacent_runs);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
