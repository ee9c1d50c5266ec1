/* SPDX-License-Identifier: MIT */
/*
 * The microbench's pure half (bench/microbench/mb_report.c): its options,
 * the goals it judges figures by, the table, the JSON and the chart data.
 * No timing here: speed is judged by the bench, never by make check.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../microbench/mb.h"

static int parse(struct mb_opts *o, const char *const *args)
{
	char *argv[32];
	int argc = 0;
	FILE *err = fopen("/dev/null", "w");
	int ret;

	argv[argc++] = (char *)"wpt-microbench";
	while (*args) {
		ck_assert_int_lt(argc, 31);
		argv[argc++] = (char *)*args++;
	}
	argv[argc] = NULL;
	ret = mb_parse_args(argc, argv, o, err);
	fclose(err);
	return ret;
}

START_TEST(scales_parsed)
{
	struct mb_opts o = { 0 };

	ck_assert_int_eq(mb_parse_scales("1k,64K,1m,16M", &o), 0);
	ck_assert_uint_eq(o.nr_scales, 4);
	ck_assert_uint_eq(o.scales[0], 1024);
	ck_assert_uint_eq(o.scales[1], 65536);
	ck_assert_uint_eq(o.scales[2], 1ull << 20);
	ck_assert_uint_eq(o.scales[3], 16ull << 20);
	ck_assert_int_eq(mb_parse_scales("4096", &o), 0);
	ck_assert_uint_eq(o.nr_scales, 1);
	ck_assert_uint_eq(o.scales[0], 4096);
}
END_TEST

/* Each refused, and the earlier list left as it was. */
static const char *const bad_scales[] = {
	"", "1000", "512", "64k,1k", "1k,1k", "1k,", ",1k", "1k,,2k", "1x",
	"-1k", "128m", "1k,2k,4k,8k,16k,32k,64k,128k,256k", "99999999999999999999",
};

START_TEST(bad_scales_refused)
{
	struct mb_opts o = { 0 };

	ck_assert_int_eq(mb_parse_scales("2k", &o), 0);
	ck_assert_int_eq(mb_parse_scales(bad_scales[_i], &o), -EINVAL);
	ck_assert_uint_eq(o.nr_scales, 1);
	ck_assert_uint_eq(o.scales[0], 2048);
}
END_TEST

START_TEST(args_defaults_and_quick)
{
	struct mb_opts o;

	ck_assert_int_eq(parse(&o, (const char *const[]){ NULL }), 0);
	ck_assert_uint_eq(o.nr_scales, 4);
	ck_assert_uint_eq(o.scales[3], 16ull << 20);
	ck_assert_uint_eq(o.batches, 200);
	ck_assert_uint_eq(o.runs, 3);
	ck_assert_uint_eq(o.record_max, 1ull << 24);
	ck_assert(o.chart && !o.quick && !o.contiguous && !o.hot);
	ck_assert_str_eq(o.json, "bench/results/microbench.json");
	ck_assert_int_eq(parse(&o, (const char *const[]){ "--quick", NULL }), 0);
	ck_assert(o.quick);
	ck_assert_uint_eq(o.nr_scales, 2);
	ck_assert_uint_eq(o.scales[1], 65536);
	ck_assert_uint_eq(o.batches, 64);
	ck_assert_uint_eq(o.runs, 1);
	/* Explicit values win over --quick's, in any order. */
	ck_assert_int_eq(parse(&o, (const char *const[]){ "--batches", "9",
		"--quick", "--scales", "8k", "--record-max", "0", "--no-chart",
		"--json", "/tmp/x.json", "--png", "/tmp/x.png", "--gpa",
		"contiguous", "--window", "hot", "--runs", "5", NULL }), 0);
	ck_assert(o.contiguous && o.hot);
	ck_assert_uint_eq(o.runs, 5);
	ck_assert_uint_eq(o.batches, 9);
	ck_assert_uint_eq(o.nr_scales, 1);
	ck_assert_uint_eq(o.scales[0], 8192);
	ck_assert_uint_eq(o.record_max, 0);
	ck_assert(!o.chart);
	ck_assert_str_eq(o.png, "/tmp/x.png");
}
END_TEST

static const char *const *const bad_args[] = {
	(const char *const[]){ "--batches", "0", NULL },
	(const char *const[]){ "--batches", "513", NULL },
	(const char *const[]){ "--batches", "5x", NULL },
	(const char *const[]){ "--batches", NULL },
	(const char *const[]){ "--record-max", "1q", NULL },
	(const char *const[]){ "--scales", "3k", NULL },
	(const char *const[]){ "--frobnicate", NULL },
	(const char *const[]){ "16m", NULL },
	(const char *const[]){ "--budget", "-1", NULL },
	(const char *const[]){ "--budget", "soon", NULL },
	(const char *const[]){ "--gpa", "random", NULL },
	(const char *const[]){ "--window", "cold", NULL },
	(const char *const[]){ "--runs", "0", NULL },
	(const char *const[]){ "--runs", "10", NULL },
	(const char *const[]){ "--runs", "-1", NULL },
	(const char *const[]){ "--runs", "2x", NULL },
};

START_TEST(bad_args_refused)
{
	struct mb_opts o;

	ck_assert_int_eq(parse(&o, bad_args[_i]), -EINVAL);
}
END_TEST

/* What the parser says of args on its error stream. */
static char *said(const char *const *args)
{
	char *argv[8], *text = NULL;
	size_t len = 0;
	int argc = 0;
	FILE *err = open_memstream(&text, &len);
	struct mb_opts o;

	ck_assert_ptr_nonnull(err);
	argv[argc++] = (char *)"wpt-microbench";
	while (*args)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	ck_assert_int_eq(mb_parse_args(argc, argv, &o, err), -EINVAL);
	fclose(err);
	return text;
}

/* A refusal names the option, the value and what it takes. */
START_TEST(bad_args_explained)
{
	char *t;

	t = said((const char *const[]){ "--batches", "1000", NULL });
	ck_assert_str_eq(t, "wpt-microbench: --batches: bad value '1000': "
			    "it takes a count from 1 to 512\n");
	free(t);
	t = said((const char *const[]){ "--runs=10", NULL });
	ck_assert_str_eq(t, "wpt-microbench: --runs: bad value '10': "
			    "it takes a count from 1 to 9\n");
	free(t);
	t = said((const char *const[]){ "--window", "cold", NULL });
	ck_assert_ptr_nonnull(strstr(t, "it takes spread or hot"));
	free(t);
	t = said((const char *const[]){ "--batches", NULL });
	ck_assert_str_eq(t, "wpt-microbench: --batches needs a value\n");
	free(t);
	t = said((const char *const[]){ "--frobnicate", NULL });
	ck_assert_str_eq(t, "wpt-microbench: bad option: --frobnicate "
			    "(--help lists them)\n");
	free(t);
}
END_TEST

static struct mb_scale scale(uint64_t pages, double store, double desc,
			     double mem)
{
	struct mb_scale s;
	int m;

	memset(&s, 0, sizeof(s));
	s.pages = pages;
	for (m = 0; m < MB_NR_METRICS; m++)
		s.value[m] = NAN;
	s.value[MB_STORE_MAP] = store;
	s.value[MB_ROOT_WALK] = desc;
	s.value[MB_MEMORY] = mem;
	s.fault_ns = s.fill_ns = s.root_fault_share = s.clock_ns =
		s.wall_clock_ns = NAN;
	return s;
}

START_TEST(goals_judged)
{
	struct mb_scale sc[3] = {
		scale(1024, 90, 30, 400),
		scale(1ull << 20, 100, 20, 24),
		scale(16ull << 20, 101, 19, 24.5),
	};
	struct mb_goal g[64];
	const struct mb_goal *x;
	size_t n;

	sc[2].defaults_err = -E2BIG;
	n = mb_goals_eval(sc, 3, g, 64);
	/* 3 default-limit goals; store 3 + flat; walk 3 + flat; memory 2
	 * (1M and up) + flat.  Unmeasured metrics have none. */
	ck_assert_uint_eq(n, 3 + 4 + 4 + 3);
	ck_assert((x = mb_goal_find(g, n, MB_STORE_MAP, 1ull << 20)) && x->met);
	ck_assert((x = mb_goal_find(g, n, MB_STORE_MAP, 16ull << 20)) && !x->met);
	ck_assert((x = mb_goal_find(g, n, MB_STORE_MAP, 0)) && x->met);
	ck_assert(fabs(x->value - 101.0 / 90) < 1e-9);
	ck_assert((x = mb_goal_find(g, n, MB_ROOT_WALK, 1024)) && !x->met);
	ck_assert((x = mb_goal_find(g, n, MB_ROOT_WALK, 0)) && !x->met);
	ck_assert(fabs(x->value - 30.0 / 19) < 1e-9);
	ck_assert_ptr_null(mb_goal_find(g, n, MB_MEMORY, 1024));
	ck_assert((x = mb_goal_find(g, n, MB_MEMORY, 1ull << 20)) && x->met);
	ck_assert((x = mb_goal_find(g, n, MB_MEMORY, 16ull << 20)) && !x->met);
	ck_assert((x = mb_goal_find(g, n, MB_NR_METRICS, 1024)) && x->met);
	ck_assert((x = mb_goal_find(g, n, MB_NR_METRICS, 16ull << 20)) && !x->met);
	ck_assert_ptr_null(mb_goal_find(g, n, MB_INVAL_1G, 1024));
	/* A failed scale judges nothing; max bounds what is written. */
	sc[1].error = -ENOMEM;
	ck_assert_uint_eq(mb_goals_eval(sc, 3, g, 2), 2 + 3 + 3 + 2);
}
END_TEST

/* Medians: the middle one, the mean of the middle two, NaNs left out. */
START_TEST(median_taken)
{
	double odd[] = { 9, 1, 5 }, even[] = { 4, 8, 1, 100 };
	double gaps[] = { NAN, 3, NAN, 7 }, none[] = { NAN, NAN };

	ck_assert(mb_median(odd, 3) == 5);
	ck_assert(mb_median(even, 4) == 6);
	ck_assert(mb_median(gaps, 4) == 5);
	ck_assert(isnan(mb_median(none, 2)));
	ck_assert(isnan(mb_median(odd, 0)));
}
END_TEST

/* Runs combined: each figure the lowest of the runs that measured it,
 * the clocks' costs their median. */
START_TEST(runs_combined)
{
	struct mb_scale run[4] = {
		scale(1024, 120, 30, 50), scale(1024, 90, NAN, 40),
		scale(1024, 100, 10, 60), scale(1024, 500, 500, 500),
	}, out;

	run[0].clock_ns = 1300;
	run[1].clock_ns = 1500;
	run[2].clock_ns = 1400;
	run[1].wall_clock_ns = 30;
	run[0].root_faults = 12;
	run[0].root_pool_pages = 5;
	run[3].skipped = true;
	mb_combine_runs(run, 4, &out);
	ck_assert(!out.error && !out.skipped);
	ck_assert_uint_eq(out.runs, 3);
	ck_assert(out.value[MB_STORE_MAP] == 90);
	ck_assert(out.value[MB_ROOT_WALK] == 10);  /* of 30 and 10 */
	ck_assert(out.value[MB_MEMORY] == 40);
	ck_assert(isnan(out.value[MB_SPLIT]));
	ck_assert(out.clock_ns == 1400);
	ck_assert(out.wall_clock_ns == 30);
	ck_assert(isnan(out.fault_ns));
	ck_assert_uint_eq(out.root_faults, 12);
	ck_assert_uint_eq(out.root_pool_pages, 5);
	/* One run alone is itself. */
	mb_combine_runs(run, 1, &out);
	ck_assert(out.value[MB_STORE_MAP] == 120 && out.runs == 1);
	/* A failure is the scale's, whatever the others measured. */
	run[2].error = -EIO;
	snprintf(run[2].note, sizeof(run[2].note), "verify");
	mb_combine_runs(run, 3, &out);
	ck_assert_int_eq(out.error, -EIO);
	ck_assert_str_eq(out.note, "verify");
	/* Skipped by every run: skipped, as the first run said. */
	run[3].pages = 1ull << 24;
	snprintf(run[3].note, sizeof(run[3].note), "over budget");
	mb_combine_runs(&run[3], 1, &out);
	ck_assert(out.skipped);
	ck_assert_str_eq(out.note, "over budget");
}
END_TEST

static char *capture(int (*fn)(FILE *, const struct mb_scale *, size_t),
		     const struct mb_scale *sc, size_t n, int *ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	*ret = fn(f, sc, n);
	fclose(f);
	return buf;
}

static int json(FILE *f, const struct mb_scale *sc, size_t n)
{
	struct mb_opts o = { .batches = 7, .runs = 2, .hot = true };

	return mb_write_json(f, "2 cpus, \"quoted\"\\", "2026-12-04", &o, sc, n);
}

/* What a scale measured of the machine: a 9.5 us page fault, 12 of them
 * in the first walk (45.04 ns a descriptor), the clocks' reads. */
static void machine_costs(struct mb_scale *s, double cpu_read, double wall_read)
{
	s->fault_ns = 9500;
	s->fill_ns = 4100;
	s->root_faults = 12;
	s->root_pool_pages = 3;
	s->root_fault_share = 45.04;
	s->clock_ns = cpu_read;
	s->wall_clock_ns = wall_read;
}

START_TEST(table_counts_missed)
{
	struct mb_scale sc[2] = { scale(1024, 540, 30, 170),
				  scale(65536, 60, 10, 20) };
	int ret;
	char *out = capture(mb_print_table, sc, 2, &ret);

	/* store 540 MISSED, flat 9x MISSED; walk 30 MISSED, flat 3x MISSED;
	 * memory flat 8.5x MISSED (no memory goal below 1M). */
	ck_assert_int_eq(ret, 5);
	ck_assert_ptr_nonnull(strstr(out, "1K"));
	ck_assert_ptr_nonnull(strstr(out, "64K"));
	ck_assert_ptr_nonnull(strstr(out, "540 MISSED"));
	ck_assert_ptr_nonnull(strstr(out, "60.0 met"));
	ck_assert_ptr_nonnull(strstr(out, "<=100 ns"));
	ck_assert_ptr_nonnull(strstr(out, "9 goals: 4 met, 5 MISSED"));
	/* No fault was measured: its row has dashes, and no line prices it. */
	ck_assert_ptr_nonnull(strstr(out, "  of it page faults (est.)"));
	ck_assert_ptr_null(strstr(out, "page faults: "));
	ck_assert_ptr_null(strstr(out, "timing: "));
	free(out);
	/* Measured: the share under the first walk (not a goal: the count
	 * stays), the price and count per scale under the table. */
	machine_costs(&sc[0], 1324, 27);
	sc[1].clock_ns = 1301;
	sc[1].wall_clock_ns = 26;
	out = capture(mb_print_table, sc, 2, &ret);
	ck_assert_int_eq(ret, 5);
	ck_assert_ptr_nonnull(strstr(out, "  of it page faults (est.)"
				      "                     45.0 "));
	ck_assert_ptr_nonnull(strstr(out, "page faults: a first touch of a "
				      "fresh 4 KiB page costs 9.5 us at 1K, "
				      "4.1 filled in bulk first (12 in the "
				      "first set_root, 3 of them the block "
				      "pool's);"));
	ck_assert_ptr_null(strstr(out, "at 64K ("));
	ck_assert_ptr_nonnull(strstr(out, "a read costs 1324 and 27, 1301 and "
				      "26 ns here (by scale)"));
	free(out);
	/* The default limits' refusal by its errno's name. */
	sc[1].defaults_err = -E2BIG;
	out = capture(mb_print_table, sc, 2, &ret);
	ck_assert_int_eq(ret, 6);
	ck_assert_ptr_nonnull(strstr(out, "E2BIG MISSED"));
	ck_assert_ptr_nonnull(strstr(out, "scale 64K: the default limits refused"));
	free(out);
}
END_TEST

START_TEST(json_written)
{
	struct mb_scale sc[2] = { scale(1024, 540.25, 30, 170),
				  scale(65536, 60, INFINITY, 20) };
	int ret, depth = 0;
	char *out, *p;

	snprintf(sc[1].note, sizeof(sc[1].note), "a \"note\"\n");
	machine_costs(&sc[0], 1324, 27);
	out = capture(json, sc, 2, &ret);
	ck_assert_int_eq(ret, 0);
	ck_assert_ptr_nonnull(strstr(out, "\"machine\": \"2 cpus, \\\"quoted\\\"\\\\\""));
	ck_assert_ptr_nonnull(strstr(out, "\"note\": \"a \\\"note\\\"\\u000a\""));
	ck_assert_ptr_nonnull(strstr(out, "\"store_map_ns\": {\"value\": 540.250"));
	ck_assert_ptr_nonnull(strstr(out, "\"inval_1g_ns_per_desc\": {\"value\": null"));
	ck_assert_ptr_nonnull(strstr(out, "\"goal\": \"flat\""));
	ck_assert_ptr_nonnull(strstr(out, "\"set_root_faults\": 12, "
				      "\"set_root_pool_pages\": 3, "
				      "\"first_touch_ns\": 9500.000, "
				      "\"filled_touch_ns\": 4100.000, "
				      "\"set_root_fault_ns_per_desc\": 45.040, "
				      "\"clock_read_ns\": 1324.000, "
				      "\"wall_clock_read_ns\": 27.000"));
	ck_assert_ptr_nonnull(strstr(out, "\"set_root_faults\": 0, "
				      "\"set_root_pool_pages\": 0, "
				      "\"first_touch_ns\": null"));
	ck_assert_ptr_nonnull(strstr(out, "\"gpa\": \"scattered\""));
	ck_assert_ptr_nonnull(strstr(out, "\"window\": \"hot\""));
	ck_assert_ptr_nonnull(strstr(out, "\"runs\": 2,"));
	ck_assert_ptr_null(strstr(out, "nan"));
	ck_assert_ptr_null(strstr(out, "inf"));
	for (p = out; *p; p++) {
		depth += (*p == '{' || *p == '[') - (*p == '}' || *p == ']');
		ck_assert_int_ge(depth, 0);
	}
	ck_assert_int_eq(depth, 0);
	free(out);
}
END_TEST

START_TEST(chart_data_written)
{
	struct mb_scale sc[2] = { scale(1024, 540, 30, 170),
				  scale(65536, 60, 10, 20) };
	int ret, m;
	char *out, *p;

	sc[1].error = -EIO;
	out = capture(mb_write_chart_data, sc, 2, &ret);
	ck_assert_int_eq(ret, 0);
	ck_assert_ptr_nonnull(strstr(out, "pages store_map_ns store_unmap_ns"));
	ck_assert_ptr_nonnull(strstr(out, "\n1024 540.000 - "));
	/* a failed scale: its line, every figure missing */
	p = strstr(out, "\n65536 ");
	ck_assert_ptr_nonnull(p);
	for (m = 0, p += 6; m < MB_NR_METRICS; m++, p += 2)
		ck_assert(!strncmp(p, " -", 2));
	ck_assert_str_eq(p, "\n");
	free(out);
}
END_TEST

START_TEST(budget_skips_what_would_not_fit)
{
	struct mb_opts o;
	struct mb_scale last = { .pages = 1ull << 20, .root_wall_s = 2,
				 .scale_wall_s = 10 }, out;

	ck_assert_int_eq(parse(&o, (const char *const[]){ "--record-max",
							   "1m", NULL }), 0);
	ck_assert(o.budget_s == 60);
	/* Nothing run yet: nothing to judge by. */
	ck_assert(!mb_over_budget(&o, NULL, 16ull << 20, 0, &out));
	/* 2 s at 1M: 2 x 2 s walks at 2M (no recording sink, no warm
	 * walk) plus 10 s = 18 s. */
	ck_assert(!mb_over_budget(&o, &last, 2ull << 20, 42, &out));
	ck_assert(mb_over_budget(&o, &last, 2ull << 20, 42.5, &out));
	ck_assert(out.skipped && out.pages == 2ull << 20 && !out.error);
	ck_assert_ptr_nonnull(strstr(out.note, "about 18 s"));
	/* 16M: 32 s a walk, 2 walks: skipped; --budget 0 runs it. */
	ck_assert(mb_over_budget(&o, &last, 16ull << 20, 0, &out));
	/* Within the recording sink's scales, its walk counts too: 22 s. */
	ck_assert_int_eq(parse(&o, (const char *const[]){ NULL }), 0);
	ck_assert(!mb_over_budget(&o, &last, 2ull << 20, 38, &out));
	ck_assert(mb_over_budget(&o, &last, 2ull << 20, 38.5, &out));
	ck_assert_ptr_nonnull(strstr(out.note, "about 22 s"));
	ck_assert_int_eq(parse(&o, (const char *const[]){ "--budget", "0",
							   NULL }), 0);
	ck_assert(!mb_over_budget(&o, &last, 16ull << 20, 1e6, &out));
}
END_TEST

START_TEST(scale_names)
{
	char b[16];

	mb_scale_name(1024, b, sizeof(b));
	ck_assert_str_eq(b, "1K");
	mb_scale_name(16ull << 20, b, sizeof(b));
	ck_assert_str_eq(b, "16M");
	mb_scale_name(1536, b, sizeof(b));
	ck_assert_str_eq(b, "1536");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("microbench");
	TCase *tc = tcase_create("report");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, scales_parsed);
	tcase_add_loop_test(tc, bad_scales_refused, 0,
			    sizeof(bad_scales) / sizeof(bad_scales[0]));
	tcase_add_test(tc, args_defaults_and_quick);
	tcase_add_loop_test(tc, bad_args_refused, 0,
			    sizeof(bad_args) / sizeof(bad_args[0]));
	tcase_add_test(tc, bad_args_explained);
	tcase_add_test(tc, goals_judged);
	tcase_add_test(tc, runs_combined);
	tcase_add_test(tc, median_taken);
	tcase_add_test(tc, table_counts_missed);
	tcase_add_test(tc, json_written);
	tcase_add_test(tc, chart_data_written);
	tcase_add_test(tc, budget_skips_what_would_not_fit);
	tcase_add_test(tc, scale_names);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
