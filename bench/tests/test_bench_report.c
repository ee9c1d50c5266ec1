/* SPDX-License-Identifier: MIT */
/*
 * The bench's report: unit-cost parsing for --project, pricing counts,
 * the JSON file's fields, the goals the table checks, and the chart.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../report.h"

START_TEST(test_units_parse)
{
	struct bench_units u = { 1, 2, 3 };

	ck_assert_int_eq(bench_units_parse("exit=900,slot=20000,map=1500", &u), 0);
	ck_assert(u.exit_ns == 900 && u.slot_ns == 20000 && u.sink_ns == 1500);
	ck_assert_int_eq(bench_units_parse("sink=7.5", &u), 0);
	ck_assert(u.exit_ns == 900 && u.sink_ns == 7.5);
	/* Bad input leaves the units as they were. */
	ck_assert_int_eq(bench_units_parse("exit=", &u), -EINVAL);
	ck_assert_int_eq(bench_units_parse("exit=5,", &u), -EINVAL);
	ck_assert_int_eq(bench_units_parse("walk=5", &u), -EINVAL);
	ck_assert_int_eq(bench_units_parse("exit=-1", &u), -EINVAL);
	ck_assert_int_eq(bench_units_parse("exit=5x", &u), -EINVAL);
	ck_assert_int_eq(bench_units_parse("", &u), -EINVAL);
	ck_assert(u.exit_ns == 900 && u.slot_ns == 20000 && u.sink_ns == 7.5);
}
END_TEST

static struct bench_row row(const char *w, const char *s, double ns,
			    double exits, double sink, double slots)
{
	struct bench_row r;

	memset(&r, 0, sizeof(r));
	snprintf(r.workload, sizeof(r.workload), "%s", w);
	snprintf(r.strategy, sizeof(r.strategy), "%s", s);
	r.ops = 100;
	r.ns_per_op = ns;
	r.exits_per_op = exits;
	r.sink_calls_per_op = sink;
	r.slot_ioctls_per_op = slots;
	r.verified = true;
	return r;
}

START_TEST(test_price)
{
	struct bench_units u = { 1000, 50000, 100 };
	struct bench_row r = row("churn", "trap", 0, 3, 2, 0.5);

	ck_assert(bench_row_price(&r, &u) == 3 * 1000 + 2 * 100 + 0.5 * 50000);
	/* userfaultfd rows: write-protect ioctls at their in-run cost */
	r.wp_ioctls_per_op = 4;
	r.wp_ns_in_run = 2000;
	ck_assert(bench_row_price(&r, &u) ==
		  3 * 1000 + 2 * 100 + 0.5 * 50000 + 4 * 2000);
}
END_TEST

static char *capture(void (*fn)(FILE *f, void *), void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	fn(f, arg);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

struct table_args {
	struct bench_meta *m;
	struct bench_row *rows;
	size_t n;
	int missed;
};

static void do_json(FILE *f, void *arg)
{
	struct table_args *a = arg;

	ck_assert_int_eq(bench_write_json(f, a->m, a->rows, a->n), 0);
}

static void do_table(FILE *f, void *arg)
{
	struct table_args *a = arg;

	a->missed = bench_print_table(f, a->m, a->rows, a->n, NULL);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (; (hay = strstr(hay, needle)); hay++)
		n++;
	return n;
}

START_TEST(test_json)
{
	struct bench_meta m = { "2 cpus, \"quoted\" cpu", "6.1.0", "2026-11-30",
				"cpl3", true, { 65000, 30000, 80 },
				NULL, NULL };
	struct bench_row rows[2] = {
		row("stream4k-strict", "trap", 200000, 3, 2, 0),
		row("stream4k-strict", "explicit", 130000, 2, 2, 0),
	};
	struct table_args a = { &m, rows, 2, 0 };
	const char *keys[] = { "\"workload\"", "\"strategy\"", "\"ops\"",
			       "\"ns_per_op\"", "\"exits_per_op\"",
			       "\"lib_ns_per_write\"", "\"sink_calls_per_op\"",
			       "\"slot_ioctls_per_op\"", "\"floor_ns_per_op\"",
			       "\"backend\"", "\"wp_ioctls_per_op\"",
			       "\"verified\"" };
	char *out;
	size_t i;

	rows[1].verified = false;
	snprintf(rows[1].note, sizeof(rows[1].note), "cpu 0: page 0x1000");
	out = capture(do_json, &a);
	ck_assert_ptr_nonnull(strstr(out, "\"machine\": \"2 cpus, \\\"quoted\\\" cpu\""));
	ck_assert_ptr_nonnull(strstr(out, "\"kernel\": \"6.1.0\""));
	ck_assert_ptr_nonnull(strstr(out, "\"date\": \"2026-11-30\""));
	ck_assert_ptr_nonnull(strstr(out, "\"results\": ["));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_uint_eq(count(out, keys[i]), 2);
	ck_assert_ptr_nonnull(strstr(out, "\"verified\": false, \"note\": \"cpu 0: page 0x1000\""));
	ck_assert_uint_eq(count(out, "{"), count(out, "}"));
	ck_assert_uint_eq(count(out, "["), count(out, "]"));
	ck_assert_ptr_nonnull(strstr(out, "\"kvm\": \"unknown\""));
	ck_assert_ptr_nonnull(strstr(out, "\"not_run\": \"\""));
	free(out);
	/* Which KVM ran it, and what it could not serve. */
	m.kvm = "nested SVM under TCG";
	m.not_run = "churn-uffd-block (no interruptible faults)";
	out = capture(do_json, &a);
	ck_assert_ptr_nonnull(strstr(out, "\"kvm\": \"nested SVM under TCG\""));
	ck_assert_ptr_nonnull(strstr(out, "\"not_run\": \"churn-uffd-block (no interruptible faults)\""));
	free(out);
}
END_TEST

START_TEST(test_goals)
{
	struct bench_meta m = { "m", "k", "d", "cpl3", false, { 1000, 0, 0 },
				NULL, NULL };
	struct bench_row rows[3] = {
		row("stream4k-strict", "explicit", 2000, 2, 2, 0),
		row("stream4k-strict", "trap", 3100, 3, 2, 0),
		row("stream4k-strict", "inval", 2100, 2, 2, 0),
	};
	struct table_args a = { &m, rows, 3, 0 };
	char *out;

	/* All met: time within 1.15x the floor, 1 exit per store, library
	 * CPU under 10% of an exit, pair at most 1.6x explicit. */
	rows[0].floor_ns_per_op = 2000;
	rows[1].floor_ns_per_op = 3000;
	rows[2].floor_ns_per_op = 2000;
	rows[1].writes_per_op = rows[1].stores_per_op = 2;
	rows[1].lib_ns_per_write = 50;
	out = capture(do_table, &a);
	ck_assert_int_eq(a.missed, 0);
	ck_assert_ptr_nonnull(strstr(out, "1.55")); /* trap / explicit */
	ck_assert_ptr_null(strstr(out, "MISSED"));
	free(out);

	/* Each goal missed in turn. */
	rows[1].ns_per_op = 3600;   /* 1.2x floor, 1.8x explicit */
	rows[1].writes_per_op = 3;  /* an extra exit per op */
	rows[1].lib_ns_per_write = 150;
	out = capture(do_table, &a);
	ck_assert_int_eq(a.missed, 4);
	ck_assert_uint_eq(count(out, "MISSED"), 4);
	free(out);

	/* A shadow that did not verify is named. */
	rows[2].verified = false;
	snprintf(rows[2].note, sizeof(rows[2].note), "why");
	out = capture(do_table, &a);
	ck_assert_ptr_nonnull(strstr(out, "NOT VERIFIED: stream4k-strict inval: why"));
	free(out);
}
END_TEST

START_TEST(test_split_and_churn_goals)
{
	struct bench_meta m = { "m", "k", "d", "cpl3", false, { 1000, 0, 0 },
				NULL, NULL };
	struct bench_row rows[2] = {
		row("split", "trap", 0, 0, 0, 0),
		row("churn", "trap", 0, 0, 0, 0),
	};
	struct table_args a = { &m, rows, 2, 0 };
	char *out;

	rows[0].split_runs = 64;
	rows[0].split_maps = 64;
	rows[1].slot_ioctls_per_table = 2;
	out = capture(do_table, &a);
	ck_assert_int_eq(a.missed, 0);
	free(out);
	rows[0].split_maps = 96;
	rows[1].slot_ioctls_per_table = 4;
	out = capture(do_table, &a);
	ck_assert_int_eq(a.missed, 2);
	free(out);
}
END_TEST

/* Every measured row must have had its DMA checked; a row with no
 * doorbell is not verified, and rows skipped or failed are listed with
 * why, in the table and the JSON, and judged against no goal. */
START_TEST(test_dma_and_skipped_rows)
{
	struct bench_meta m = { "m", "k", "d", "cpl3", false, { 1000, 0, 0 },
				NULL, "churn-uffd-block (the trial had not "
				"ended)" };
	struct bench_row rows[5] = {
		row("churn", "trap", 3000, 3, 2, 0),
		row("churn", "explicit", 2000, 2, 2, 0),
		row("stream4k-strict", "relaxed", 0, 0, 0, 0),
		row("churn-uffd-block", "trap", 0, 0, 0, 0),
		row("stream4k-strict", "trap", 1000, 3, 2, 0),
	};
	struct table_args a = { &m, rows, 5, 0 };
	char *out;

	rows[0].dma_checks = 64;
	bench_row_check_dma(&rows[0]);
	ck_assert(rows[0].verified);
	ck_assert_str_eq(rows[0].note, "");
	/* No doorbell rang: not verified, and the note says why. */
	bench_row_check_dma(&rows[1]);
	ck_assert(!rows[1].verified);
	ck_assert_ptr_nonnull(strstr(rows[1].note, "no DMA check"));
	/* A run that failed keeps its own note. */
	rows[2].verified = false;
	snprintf(rows[2].note, sizeof(rows[2].note), "run: KVM_RUN timed out");
	bench_row_check_dma(&rows[2]);
	ck_assert_str_eq(rows[2].note, "run: KVM_RUN timed out");
	rows[3].skipped = true;
	rows[3].verified = false;
	snprintf(rows[3].note, sizeof(rows[3].note), "no trial");
	bench_row_check_dma(&rows[3]);
	ck_assert_str_eq(rows[3].note, "no trial");
	rows[4].dma_checks = 7;

	out = capture(do_table, &a);
	ck_assert_ptr_nonnull(strstr(out, "NOT VERIFIED: churn explicit: no DMA check"));
	ck_assert_ptr_nonnull(strstr(out, "stream4k-strict      relaxed  FAILED: run: KVM_RUN timed out"));
	ck_assert_ptr_nonnull(strstr(out, "churn-uffd-block     trap     SKIPPED: no trial"));
	ck_assert_ptr_nonnull(strstr(out, "SKIPPED: churn-uffd-block trap: no trial"));
	ck_assert_ptr_nonnull(strstr(out, "not run on this KVM: churn-uffd-block"));
	/* The dma column: the doorbells checked. */
	ck_assert_ptr_nonnull(strstr(out, "      64 "));
	/* The failed relaxed row meets no goal (0 ns is no figure). */
	ck_assert_ptr_null(strstr(out, "stream4k-strict      relaxed  vs trap"));
	free(out);

	out = capture(do_json, &a);
	ck_assert_uint_eq(count(out, "\"skipped\": true"), 1);
	ck_assert_ptr_nonnull(strstr(out, "\"dma_checks\": 64, \"dma_faults\": 0}"));
	ck_assert_ptr_nonnull(strstr(out, "\"note\": \"no trial\", \"dma_checks\": 0, "
					  "\"dma_faults\": 0, \"skipped\": true}"));
	free(out);
}
END_TEST

START_TEST(test_chart)
{
	struct bench_row rows[8] = {
		row("bulk4k", "explicit", 100, 1, 1, 0),
		row("bulk4k", "inval", 300, 0.01, 1, 0),
		row("bulk4k", "trap", 25000, 1, 1, 0),
		row("churn", "explicit", 50000, 2, 2, 0),
		row("churn-slot1", "trap", 600000, 9, 2, 18),
		row("churn-cpl0-slot1", "trap", 3000000, 9, 2, 18),
		row("bulk4k", "relaxed", 500, 0.01, 1, 0),
		row("churn-uffd-block", "trap", 0, 0, 0, 0),
	};
	char dir[] = "/tmp/wpt-chart-XXXXXX", png[128], dat[160], line[256];
	char gp[160], all[8192] = "";
	unsigned char magic[8] = { 0 };
	bool have = !system("command -v gnuplot >/dev/null 2>&1");
	FILE *f;
	int ret;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(png, sizeof(png), "%s/c.png", dir);
	/* Nothing to compare with: no chart, and gnuplot is not run. */
	ck_assert_int_eq(bench_write_chart(png, &rows[1], 2), -ENODATA);
	rows[7].skipped = true;
	rows[7].verified = false;
	ret = bench_write_chart(png, rows, 8);
	/* Ratios to explicit; the slot sweep's to churn's explicit; the
	 * -cpl0- rows and a skipped one left out; a missing strategy is
	 * "-". */
	snprintf(dat, sizeof(dat), "%s.dat", png);
	f = fopen(dat, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		strncat(all, line, sizeof(all) - strlen(all) - 1);
	fclose(f);
	ck_assert_str_eq(all, "workload explicit inval trap hybrid relaxed\n"
			      "bulk4k 1.0000 3.0000 250.0000 - 5.0000\n"
			      "churn 1.0000 - - - -\n"
			      "churn-slot1 - - 12.0000 - -\n");
	/* The goals are lines: bulk4k's relaxed goal at 3 x inval / explicit. */
	snprintf(gp, sizeof(gp), "%s.gp", png);
	f = fopen(gp, "r");
	ck_assert_ptr_nonnull(f);
	all[0] = 0;
	while (fgets(line, sizeof(line), f))
		strncat(all, line, sizeof(all) - strlen(all) - 1);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(all, "set arrow from 0-0.45,9 to 0+0.45,9 nohead"));
	ck_assert_ptr_nonnull(strstr(all, "rotate by 30 right"));
	if (!have) {
		ck_assert_int_eq(ret, -ENOENT);
		return;
	}
	ck_assert_int_eq(ret, 0);
	f = fopen(png, "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fread(magic, 1, 8, f), 8);
	fclose(f);
	ck_assert(!memcmp(magic, "\x89PNG\r\n\x1a\n", 8));
}
END_TEST

static void slurp(const char *path, char *all, size_t len)
{
	char line[256];
	FILE *f = fopen(path, "r");

	ck_assert_ptr_nonnull(f);
	all[0] = 0;
	while (fgets(line, sizeof(line), f))
		strncat(all, line, len - strlen(all) - 1);
	fclose(f);
}

static void do_sweep(FILE *f, void *arg)
{
	struct table_args *a = arg;

	bench_print_slot_sweep(f, a->rows, a->n);
}

/* The slot sweep: its table, its chart panel (slot ioctls per table page
 * in each layout's column, the goal of 2 as a line), and the rows read
 * back from the JSON for --chart-from. */
START_TEST(test_slot_sweep)
{
	struct bench_meta m = { "m", "k", "d", "cpl3", false, { 1, 1, 1 },
				NULL, NULL };
	struct bench_row rows[4] = {
		row("churn", "explicit", 50000, 2, 2, 0),
		row("churn-slot2m", "trap", 500000, 9, 2, 12),
		row("churn-slot2m-merged", "trap", 700000, 9, 2, 18),
		row("stream4k-strict", "trap", 80000, 3, 2, 0),
	};
	struct bench_row back[8];
	struct table_args a = { &m, rows, 4, 0 };
	char dir[] = "/tmp/wpt-sweep-XXXXXX", png[128], path[160];
	char all[8192];
	char *out;
	size_t n, i;
	FILE *f;

	rows[1].slot_layout = "per-page";
	rows[1].slot_ioctls_per_table = 2;
	rows[1].recuts_per_table = 1;
	rows[1].slot_ioctls_steady = 2;
	rows[1].slot_first_cuts = 17;
	rows[1].slot_ioctls_per_cut = 3.2;
	rows[2].slot_layout = "merged";
	rows[2].slot_ioctls_per_table = 3.1;
	rows[2].slot_budget = 80;
	rows[2].slot_fallbacks = 7;
	out = capture(do_sweep, &a);
	ck_assert_ptr_nonnull(strstr(out, "churn-slot2m               trap     "
					  "per-page  KVM's    2.000    1.000"));
	ck_assert_ptr_nonnull(strstr(out, "churn-slot2m-merged        trap     "
					  "merged       80    3.100"));
	ck_assert_ptr_null(strstr(out, "stream4k"));
	ck_assert_ptr_nonnull(strstr(out, "   2.000     17\n"));
	free(out);
	/* The goal is judged over the whole run; the steady state is shown
	 * beside it. */
	out = capture(do_table, &a);
	ck_assert_ptr_nonnull(strstr(out, "met    churn-slot2m         trap     "
					  "slot ioctls/table page 2.000"));
	ck_assert_ptr_nonnull(strstr(out, "churn-slot2m         trap       after "
					  "first cuts 2.000; 17 first cuts at 3.20 each"));
	ck_assert_ptr_nonnull(strstr(out, "MISSED churn-slot2m-merged  trap     "
					  "slot ioctls/table page 3.100"));
	free(out);

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(png, sizeof(png), "%s/c.png", dir);
	bench_write_chart(png, rows, 4);
	snprintf(path, sizeof(path), "%s.sweep.dat", png);
	slurp(path, all, sizeof(all));
	ck_assert_str_eq(all, "churn-slot2m 2.000 -\n"
			      "churn-slot2m-merged - 3.100\n");
	snprintf(path, sizeof(path), "%s.gp", png);
	slurp(path, all, sizeof(all));
	ck_assert_ptr_nonnull(strstr(all, "set multiplot"));
	ck_assert_ptr_nonnull(strstr(all, "first 2 to graph 1, first 2 nohead"));
	ck_assert_ptr_nonnull(strstr(all, "unset multiplot"));

	out = capture(do_json, &a);
	f = fmemopen(out, strlen(out), "r");
	ck_assert_int_eq(bench_read_rows(f, back, 8, &n), 0);
	ck_assert_uint_eq(n, 4);
	for (i = 0; i < n; i++) {
		ck_assert_str_eq(back[i].workload, rows[i].workload);
		ck_assert_str_eq(back[i].strategy, rows[i].strategy);
		ck_assert(back[i].ns_per_op == rows[i].ns_per_op);
		ck_assert(back[i].verified);
		ck_assert(back[i].slot_ioctls_per_table ==
			  rows[i].slot_ioctls_per_table);
		ck_assert(!back[i].slot_layout == !rows[i].slot_layout);
	}
	ck_assert_str_eq(back[2].slot_layout, "merged");
	rewind(f);
	ck_assert_int_eq(bench_read_rows(f, back, 3, &n), -E2BIG);
	fclose(f);
	free(out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bench_report");
	TCase *tc = tcase_create("report");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_units_parse);
	tcase_add_test(tc, test_price);
	tcase_add_test(tc, test_json);
	tcase_add_test(tc, test_goals);
	tcase_add_test(tc, test_split_and_churn_goals);
	tcase_add_test(tc, test_dma_and_skipped_rows);
	tcase_add_test(tc, test_chart);
	tcase_add_test(tc, test_slot_sweep);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
