/* SPDX-License-Identifier: MIT */
/*
 * The microbench's pure half: the goals and their evaluation, the budget,
 * the runs' combination, the stdout table, the JSON file and the chart's
 * data (its options: mb_args.c).  No library calls, no clocks:
 * bench/tests/test_microbench.c covers it.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../output.h"
#include "mb.h"

/* Goals: a trapped store at most 10% of a 1-2 us exit (100 ns); walks and
 * invalidations 20 ns per descriptor; 24 bytes per mapped page at 1M pages
 * and up (the table snapshot alone is 8). */
const struct mb_metric_info mb_metrics[MB_NR_METRICS] = {
	[MB_STORE_MAP] = { "store_map_ns", "store that maps (no-op sink)",
			   "ns", 100, 0 },
	[MB_STORE_UNMAP] = { "store_unmap_ns", "store that unmaps (no-op sink)",
			     "ns", 100, 0 },
	[MB_STORE_MAP_REC] = { "store_map_record_ns",
			       "store that maps (record sink)", "ns", 100, 0 },
	[MB_STORE_UNMAP_REC] = { "store_unmap_record_ns",
				 "store that unmaps (record sink)", "ns", 100, 0 },
	[MB_ROOT_WALK] = { "set_root_ns_per_desc", "set_root (first), per desc",
			   "ns", 20, 0 },
	[MB_ROOT_AGAIN] = { "set_root_again_ns_per_desc",
			    "set_root again (warm), per desc", "ns", 20, 0 },
	[MB_INVAL_2M] = { "inval_2m_ns_per_desc", "invalidate 2 MiB, per desc",
			  "ns", 20, 0 },
	[MB_INVAL_1G] = { "inval_1g_ns_per_desc", "invalidate 1 GiB, per desc",
			  "ns", 20, 0 },
	[MB_SPLIT] = { "split_ns_per_desc", "block split, per desc", "ns", 20, 0 },
	[MB_TABLE_FREE] = { "table_free_ns_per_desc", "table freed, per desc",
			    "ns", 20, 0 },
	[MB_MEMORY] = { "memory_bytes_per_page", "resident bytes per page",
			"B", 24, 1ull << 20 },
};

void mb_scale_name(uint64_t pages, char *buf, size_t len)
{
	if (pages >= (1ull << 20) && !(pages & ((1ull << 20) - 1)))
		snprintf(buf, len, "%lluM", (unsigned long long)(pages >> 20));
	else if (pages >= 1024 && !(pages & 1023))
		snprintf(buf, len, "%lluK", (unsigned long long)(pages >> 10));
	else
		snprintf(buf, len, "%llu", (unsigned long long)pages);
}

/*
 * Skip a scale that would end past the budget, so that the default run
 * stays within a minute; an engine fast enough runs every scale.  The
 * estimate: the last scale's first set_root (wall time, which grows
 * linearly with pages) times the full walks this scale makes (the trap
 * phase's, once more on a warm heap if a walk is short, the recording
 * sink's, the inval phase's), plus the last scale's whole time for the
 * parts that do not grow.
 */
bool mb_over_budget(const struct mb_opts *o, const struct mb_scale *last,
			uint64_t pages, double elapsed_s, struct mb_scale *out)
{
	double walk, est;

	if (!o->budget_s || !last)
		return false;
	walk = last->root_wall_s * (double)pages / (double)last->pages;
	est = walk * (2 + (pages <= o->record_max) + (walk < 1.0)) +
	      last->scale_wall_s;
	if (elapsed_s + est <= o->budget_s)
		return false;
	memset(out, 0, sizeof(*out));
	out->fault_ns = out->fill_ns = out->root_fault_share = out->clock_ns =
		out->wall_clock_ns = NAN;
	out->pages = pages;
	out->skipped = true;
	snprintf(out->note, sizeof(out->note), "about %.0f s (estimated from "
		 "the last scale), past the %.0f s budget (--budget 0 runs it)",
		 est, o->budget_s);
	return true;
}

static bool measured(const struct mb_scale *s, enum mb_metric m)
{
	return !s->error && !s->skipped && !isnan(s->value[m]);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double mb_median(double *v, size_t n)
{
	size_t k = 0, i;

	for (i = 0; i < n; i++)
		if (!isnan(v[i]))
			v[k++] = v[i];
	if (!k)
		return NAN;
	qsort(v, k, sizeof(v[0]), cmp_dbl);
	return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

/* The median of the double at offset off in the runs that measured. */
static double field_median(const struct mb_scale *run, size_t n, size_t off)
{
	double v[MB_MAX_RUNS];
	size_t i;

	for (i = 0; i < n; i++)
		v[i] = run[i].error || run[i].skipped ? NAN :
			*(const double *)((const char *)&run[i] + off);
	return mb_median(v, n);
}

void mb_combine_runs(const struct mb_scale *run, size_t n, struct mb_scale *out)
{
	size_t i, ok = 0, first_ok = n;
	int m;

	for (i = 0; i < n; i++)
		if (!run[i].error && !run[i].skipped && first_ok == n)
			first_ok = i;
	/* Counts, limits and wall times from the first run that measured;
	 * a failure wins over everything, else a scale no run measured is
	 * skipped as the first run said. */
	for (i = 0; i < n && !run[i].error; i++)
		;
	*out = run[i < n ? i : first_ok < n ? first_ok : 0];
	if (out->error || out->skipped)
		return;
	/* The lowest: on a shared machine noise only adds time (a run that
	 * met a neighbour's burst is slower, never faster), and here it
	 * comes in bursts of seconds that slow a whole run by up to 2x. */
	for (m = 0; m < MB_NR_METRICS; m++) {
		out->value[m] = NAN;
		for (i = 0; i < n; i++)
			if (measured(&run[i], m) && !(run[i].value[m] >=
						      out->value[m]))
				out->value[m] = run[i].value[m];
	}
	out->fault_ns = field_median(run, n, offsetof(struct mb_scale, fault_ns));
	out->fill_ns = field_median(run, n, offsetof(struct mb_scale, fill_ns));
	out->root_fault_share = field_median(run, n, offsetof(struct mb_scale,
							  root_fault_share));
	out->clock_ns = field_median(run, n, offsetof(struct mb_scale, clock_ns));
	out->wall_clock_ns = field_median(run, n, offsetof(struct mb_scale,
							wall_clock_ns));
	for (i = 0; i < n; i++)
		ok += !run[i].error && !run[i].skipped;
	out->runs = (unsigned int)ok;
}

/*
 * Every goal that has a figure: each metric at each scale its goal covers,
 * each metric's flatness (largest over smallest figure, over two scales or
 * more), and, per scale, whether the default limits let set_root map it.
 * Returns how many there are (may exceed max: only max are written).
 */
size_t mb_goals_eval(const struct mb_scale *sc, size_t n, struct mb_goal *out,
		     size_t max)
{
	size_t k = 0, i;
	int m;

#define PUT(...) do { if (k < max) out[k] = (struct mb_goal){ __VA_ARGS__ }; k++; } while (0)
	for (i = 0; i < n; i++)
		if (!sc[i].error && !sc[i].skipped)
			PUT(.metric = MB_NR_METRICS, .pages = sc[i].pages,
			    .value = -sc[i].defaults_err, .goal = 0,
			    .met = !sc[i].defaults_err);
	for (m = 0; m < MB_NR_METRICS; m++) {
		const struct mb_metric_info *mi = &mb_metrics[m];
		double lo = INFINITY, hi = 0;
		unsigned int seen = 0;

		for (i = 0; i < n; i++) {
			double v = sc[i].value[m];

			if (!measured(&sc[i], m))
				continue;
			seen++;
			lo = v < lo ? v : lo;
			hi = v > hi ? v : hi;
			if (sc[i].pages >= mi->goal_from)
				PUT(.metric = m, .pages = sc[i].pages, .value = v,
				    .goal = mi->goal, .met = v <= mi->goal);
		}
		if (seen >= 2)
			PUT(.metric = m, .pages = 0,
			    .value = lo > 0 ? hi / lo : INFINITY,
			    .goal = MB_FLAT_GOAL,
			    .met = lo > 0 && hi <= MB_FLAT_GOAL * lo);
	}
#undef PUT
	return k;
}

const struct mb_goal *mb_goal_find(const struct mb_goal *g, size_t n,
				  int metric, uint64_t pages)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((int)g[i].metric == metric && g[i].pages == pages)
			return &g[i];
	return NULL;
}

static void print_cell(FILE *f, const struct mb_scale *s, int m,
		       const struct mb_goal *g)
{
	char num[32];

	if (m == MB_NR_METRICS && s->defaults_err && !s->error && !s->skipped)
		/* the errno's name fits a cell (E2BIG); the note has more */
		snprintf(num, sizeof(num), "%s",
			 strerrorname_np(-s->defaults_err) ?: "error");
	else if (m == MB_NR_METRICS)
		snprintf(num, sizeof(num), "%s", s->error || s->skipped ? "-" : "yes");
	else if (s->skipped)
		snprintf(num, sizeof(num), "skipped");
	else if (!measured(s, m))
		snprintf(num, sizeof(num), "-");
	else
		snprintf(num, sizeof(num), s->value[m] < 100 ? "%.1f" : "%.0f",
			 s->value[m]);
	fprintf(f, " %8s %-6s", num, g ? (g->met ? "met" : "MISSED") : "");
}

static void print_row(FILE *f, const struct mb_scale *sc, size_t n, int m,
		      const struct mb_goal *g, size_t ng)
{
	const struct mb_goal *flat = mb_goal_find(g, ng, m, 0);
	char goal[24];
	size_t i;

	if (m == MB_NR_METRICS) {
		fprintf(f, "%-32s %-9s", "default limits allow it", "yes");
	} else {
		snprintf(goal, sizeof(goal), "<=%g %s", mb_metrics[m].goal,
			 mb_metrics[m].unit);
		fprintf(f, "%-32s %-9s", mb_metrics[m].label, goal);
	}
	for (i = 0; i < n; i++)
		print_cell(f, &sc[i], m, mb_goal_find(g, ng, m, sc[i].pages));
	if (flat)
		fprintf(f, "  %5.2fx %s", flat->value, flat->met ? "met" : "MISSED");
	fputc('\n', f);
}

/* Under the first set_root, what its page faults cost per descriptor at
 * this machine's price of a fresh page: a figure without a goal, since
 * it is the machine's (the kernel's zeroing, a hypervisor's backing). */
static void print_fault_row(FILE *f, const struct mb_scale *sc, size_t n)
{
	char num[32];
	size_t i;

	fprintf(f, "%-32s %-9s", "  of it page faults (est.)", "");
	for (i = 0; i < n; i++) {
		if (sc[i].error || sc[i].skipped || isnan(sc[i].root_fault_share))
			snprintf(num, sizeof(num), "-");
		else
			snprintf(num, sizeof(num), "%.1f", sc[i].root_fault_share);
		fprintf(f, " %8s %-6s", num, "");
	}
	fputc('\n', f);
}

/* The line under the table that prices those faults: a fault's cost as
 * measured in each scale's own process, and the first set_root's faults
 * there. */
static void print_fault_note(FILE *f, const struct mb_scale *sc, size_t n)
{
	bool any = false;
	char name[16];
	size_t i;

	for (i = 0; i < n; i++) {
		if (sc[i].error || sc[i].skipped || isnan(sc[i].fault_ns))
			continue;
		mb_scale_name(sc[i].pages, name, sizeof(name));
		fprintf(f, "%s%.1f us at %s, %.1f filled in bulk first (%llu "
			"in the first set_root, %llu of them the block pool's)",
			any ? ", " : "page faults: a first touch of a fresh "
			"4 KiB page costs ", sc[i].fault_ns / 1000, name,
			sc[i].fill_ns / 1000,
			(unsigned long long)sc[i].root_faults,
			(unsigned long long)sc[i].root_pool_pages);
		any = true;
	}
	if (any)
		fprintf(f, "; \"of it page faults\" is their count at those "
			"prices (the pool's pages filled in bulk), per "
			"descriptor\n");
}

/* The line that says what the clocks cost, as measured at each scale and
 * taken off every interval timed there. */
static void print_clock_note(FILE *f, const struct mb_scale *sc, size_t n)
{
	bool any = false;
	size_t i;

	for (i = 0; i < n; i++) {
		if (sc[i].error || sc[i].skipped || isnan(sc[i].clock_ns))
			continue;
		fprintf(f, "%s%.0f and %.0f", any ? ", " : "timing: walks by "
			"the thread's CPU time, the rest by CLOCK_MONOTONIC (no "
			"system call); a read costs ", sc[i].clock_ns,
			sc[i].wall_clock_ns);
		any = true;
	}
	if (any)
		fprintf(f, " ns here (by scale), taken off every interval\n");
}

/* The table: a row per metric, a column per scale, each figure with its
 * goal met or MISSED, the flatness last.  Returns the goals missed. */
int mb_print_table(FILE *f, const struct mb_scale *sc, size_t n)
{
	struct mb_goal g[MB_MAX_SCALES * (MB_NR_METRICS + 2) + MB_NR_METRICS];
	size_t ng = mb_goals_eval(sc, n, g, sizeof(g) / sizeof(g[0])), i;
	int m, missed = 0;
	char name[16];

	fprintf(f, "%-32s %-9s", "mapped 4K pages:", "goal");
	for (i = 0; i < n; i++) {
		mb_scale_name(sc[i].pages, name, sizeof(name));
		fprintf(f, " %8s %-6s", name, "");
	}
	fprintf(f, "  flat (max/min <= %.1fx)\n", MB_FLAT_GOAL);
	for (m = 0; m < MB_NR_METRICS; m++) {
		print_row(f, sc, n, m, g, ng);
		if (m == MB_ROOT_WALK)
			print_fault_row(f, sc, n);
	}
	print_row(f, sc, n, MB_NR_METRICS, g, ng);
	for (i = 0; i < ng; i++)
		missed += !g[i].met;
	fprintf(f, "\n%zu goals: %zu met, %d MISSED\n", ng, ng - (size_t)missed,
		missed);
	print_fault_note(f, sc, n);
	print_clock_note(f, sc, n);
	for (i = 0; i < n; i++) {
		mb_scale_name(sc[i].pages, name, sizeof(name));
		if (sc[i].error)
			fprintf(f, "scale %s FAILED: %s\n", name, sc[i].note);
		else if (sc[i].skipped)
			fprintf(f, "scale %s SKIPPED: %s\n", name, sc[i].note);
		else if (sc[i].defaults_err)
			fprintf(f, "scale %s: the default limits refused set_root "
				"(%s: the domain faulted): measured with limits "
				"raised\n", name, strerror(-sc[i].defaults_err));
	}
	return missed;
}

/* JSON has no NaN or infinity: null. */
static void json_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.3f", v);
	else
		fprintf(f, "null");
}

/* ", "key": v" after an object's first member. */
static void json_field(FILE *f, const char *key, double v)
{
	fprintf(f, ", \"%s\": ", key);
	json_num(f, v);
}

static void json_scale(FILE *f, const struct mb_scale *s)
{
	int m;

	fprintf(f, "    {\"pages\": %llu, \"error\": %d, \"skipped\": %s, "
		"\"note\": ", (unsigned long long)s->pages, s->error,
		s->skipped ? "true" : "false");
	bench_json_str(f, s->note);
	fprintf(f, ", \"defaults_err\": %d, \"limits_raised\": %s, "
		"\"set_root_wall_s\": ", s->defaults_err,
		s->limits_raised ? "true" : "false");
	json_num(f, s->root_wall_s);
	json_field(f, "scale_wall_s", s->scale_wall_s);
	fprintf(f, ", \"set_root_faults\": %llu, \"set_root_pool_pages\": %llu",
		(unsigned long long)s->root_faults,
		(unsigned long long)s->root_pool_pages);
	json_field(f, "first_touch_ns", s->fault_ns);
	json_field(f, "filled_touch_ns", s->fill_ns);
	json_field(f, "set_root_fault_ns_per_desc", s->root_fault_share);
	json_field(f, "clock_read_ns", s->clock_ns);
	json_field(f, "wall_clock_read_ns", s->wall_clock_ns);
	fprintf(f, ", \"runs\": %u", s->runs);
	for (m = 0; m < MB_NR_METRICS; m++) {
		fprintf(f, ",\n     \"%s\": {\"value\": ", mb_metrics[m].key);
		json_num(f, measured(s, m) ? s->value[m] : NAN);
		fprintf(f, ", \"samples\": %llu, \"lib_descs_visited\": %llu}",
			(unsigned long long)s->samples[m],
			(unsigned long long)s->lib_descs[m]);
	}
	fprintf(f, "}");
}

static void json_goals(FILE *f, const struct mb_scale *sc, size_t n)
{
	struct mb_goal g[MB_MAX_SCALES * (MB_NR_METRICS + 2) + MB_NR_METRICS];
	size_t ng = mb_goals_eval(sc, n, g, sizeof(g) / sizeof(g[0])), i;

	for (i = 0; i < ng; i++) {
		int m = g[i].metric;

		fprintf(f, "%s\n    {\"goal\": \"%s\", \"pages\": %llu, "
			"\"value\": ", i ? "," : "",
			m == MB_NR_METRICS ? "default_limits" :
			g[i].pages ? mb_metrics[m].key : "flat",
			(unsigned long long)g[i].pages);
		json_num(f, g[i].value);
		fprintf(f, ", \"at_most\": ");
		json_num(f, g[i].goal);
		if (m != MB_NR_METRICS && !g[i].pages)
			fprintf(f, ", \"metric\": \"%s\"", mb_metrics[m].key);
		fprintf(f, ", \"met\": %s}", g[i].met ? "true" : "false");
	}
}

int mb_write_json(FILE *f, const char *machine, const char *date,
		  const struct mb_opts *o, const struct mb_scale *sc, size_t n)
{
	size_t i;

	fprintf(f, "{\n  \"bench\": \"wpt-microbench\",\n  \"machine\": ");
	bench_json_str(f, machine);
	fprintf(f, ",\n  \"date\": ");
	bench_json_str(f, date);
	fprintf(f, ",\n  \"quick\": %s,\n  \"gpa\": \"%s\",\n  \"window\": \"%s\",\n"
		"  \"batches\": %u,\n  \"runs\": %u,\n  \"setup\": ",
		o->quick ? "true" : "false",
		o->contiguous ? "contiguous" : "scattered",
		o->hot ? "hot" : "spread", o->batches, o->runs);
	bench_json_str(f, "Arm LPAE stage 1, 4K granule, 48-bit IAS, trap mode "
		    "(inval mode for invalidations), callback protection, "
		    "thread CPU time, medians");
	fprintf(f, ",\n  \"scales\": [\n");
	for (i = 0; i < n; i++) {
		json_scale(f, &sc[i]);
		fprintf(f, "%s\n", i + 1 < n ? "," : "");
	}
	fprintf(f, "  ],\n  \"goals\": [");
	json_goals(f, sc, n);
	fprintf(f, "\n  ]\n}\n");
	return ferror(f) ? -EIO : 0;
}

/* gnuplot's data: pages, then each metric ("-": not measured). */
int mb_write_chart_data(FILE *f, const struct mb_scale *sc, size_t n)
{
	size_t i;
	int m;

	fprintf(f, "pages");
	for (m = 0; m < MB_NR_METRICS; m++)
		fprintf(f, " %s", mb_metrics[m].key);
	fputc('\n', f);
	for (i = 0; i < n; i++) {
		fprintf(f, "%llu", (unsigned long long)sc[i].pages);
		for (m = 0; m < MB_NR_METRICS; m++)
			if (measured(&sc[i], m))
				fprintf(f, " %.3f", sc[i].value[m]);
			else
				fprintf(f, " -");
		fputc('\n', f);
	}
	return ferror(f) ? -EIO : 0;
}
