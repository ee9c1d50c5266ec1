/* SPDX-License-Identifier: MIT */
/*
 * wpt-microbench: the engine's own CPU and memory cost, without KVM.
 *
 * A fake guest (sparse anonymous memory) holds Arm VMSAv8-64 stage 1
 * tables, 4K granule, mapping N 4K pages; the library sees it through the
 * callback protection backend (protect is a no-op: the "trapped" stores
 * are handed to wpt_vm_handle_mmio by the bench itself) and a sink that
 * does nothing (or the recording sink).  Each scale runs in a child
 * process of its own, so the resident memory it measures is its own.
 *
 * The pure parts (options, goals, the table, the JSON, the chart's data)
 * are in mb_args.c and mb_report.c, unit-tested
 * (bench/tests/test_microbench.c).
 */
#ifndef WPT_MICROBENCH_H
#define WPT_MICROBENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define MB_MAX_SCALES 8
#define MB_MAX_RUNS 9
#define MB_MAX_BATCHES 512 /* a sample each (mb_ctx.h) */
#define MB_MIN_PAGES 1024ull
#define MB_MAX_PAGES (1ull << 26)  /* 256 GiB of IOVA, one level 1 table */

/* The metrics, each a cost per unit: ns per store, ns per descriptor,
 * bytes per mapped page. */
enum mb_metric {
	MB_STORE_MAP,         /* a trapped leaf store that maps, no-op sink */
	MB_STORE_UNMAP,       /* one that unmaps, no-op sink */
	MB_STORE_MAP_REC,     /* the same with the recording sink */
	MB_STORE_UNMAP_REC,
	MB_ROOT_WALK,         /* set_root's initial walk (trap mode), in a
			       * fresh process: the heap grows (page faults) */
	MB_ROOT_AGAIN,        /* the same walk again after clear_root: the
			       * heap is warm, the engine's own work */
	MB_INVAL_2M,          /* inval mode: invalidation of 2 MiB */
	MB_INVAL_1G,          /* and of 1 GiB */
	MB_SPLIT,             /* a 2 MiB block split into a table (trap) */
	MB_TABLE_FREE,        /* a level 3 table freed whole (trap) */
	MB_MEMORY,            /* resident bytes per mapped 4K page */
	MB_NR_METRICS
};

struct mb_metric_info {
	const char *key;      /* JSON and chart name */
	const char *label;    /* the table's row name */
	const char *unit;     /* "ns" or "B" */
	double goal;          /* at most this */
	uint64_t goal_from;   /* the goal applies at this many pages and up */
};
extern const struct mb_metric_info mb_metrics[MB_NR_METRICS];

/* Every figure flat within this factor from the smallest scale to the
 * largest. */
#define MB_FLAT_GOAL 1.2

struct mb_opts {
	uint64_t scales[MB_MAX_SCALES]; /* mapped 4K pages, ascending */
	unsigned int nr_scales;
	unsigned int batches;   /* store batches of 64 per kind */
	unsigned int runs;      /* the whole run this many times: the lowest */
	uint64_t record_max;    /* the recording sink up to this many pages */
	double budget_s;        /* skip a scale estimated to end past it; 0: none */
	bool contiguous;        /* GPAs contiguous (one run), else scattered */
	bool hot;               /* the 64 stored leaves adjacent, else spread */
	bool quick, chart;
	const char *json, *png;
};

/* What one scale measured.  A metric not measured is NAN. */
struct mb_scale {
	uint64_t pages;
	double value[MB_NR_METRICS];
	uint64_t samples[MB_NR_METRICS]; /* medians of how many samples */
	uint64_t lib_descs[MB_NR_METRICS]; /* library's descs_visited per op */
	double root_wall_s;     /* one set_root, wall seconds */
	/* The first set_root's page faults (RUSAGE_THREAD minor faults), the
	 * machine's cost of a first touch of a fresh page (CPU ns, measured
	 * just before it) and so what its faults cost per descriptor: the
	 * part of that figure that is the machine's, not the engine's.  Of
	 * the faults, root_pool_pages are the pages of the VM's block pool
	 * (wpt_vm_stats' pool_bytes): the kernel fills those 64 at a time
	 * (and counts them as faults), so the share prices them at what a
	 * page filled that way costs to fill and then touch (fill_ns). */
	uint64_t root_faults;
	uint64_t root_pool_pages;
	/* What one read of the CPU-time clock (a system call) and of
	 * CLOCK_MONOTONIC (vDSO) add to an interval they time: measured in
	 * each phase's process and taken off every interval.  NAN: not
	 * measured. */
	double clock_ns, wall_clock_ns;
	double fault_ns, fill_ns;
	double root_fault_share;  /* ns per descriptor; NAN: not measured */
	double scale_wall_s;    /* the whole scale, wall seconds */
	int defaults_err;       /* set_root under default limits: 0 or -errno */
	bool limits_raised;     /* limits were raised for part of the run */
	bool skipped;           /* not run: over the time budget (note says) */
	unsigned int runs;      /* runs its figures are the lowest of */
	int error;              /* 0, or the -errno that stopped the scale */
	char note[160];
};

/* One goal, evaluated. */
struct mb_goal {
	enum mb_metric metric;  /* MB_NR_METRICS: the default-limits goal */
	uint64_t pages;         /* 0: the flatness goal over every scale */
	double value, goal;
	bool met;
};

/* mb_args.c and mb_report.c: pure */
int mb_parse_scales(const char *s, struct mb_opts *o);
int mb_parse_args(int argc, char **argv, struct mb_opts *o, FILE *err);
void mb_usage(FILE *f);
size_t mb_goals_eval(const struct mb_scale *sc, size_t n,
		     struct mb_goal *out, size_t max);
/* The goal of metric (MB_NR_METRICS: default limits) at pages (0: its
 * flatness) among g[0..n), or NULL. */
const struct mb_goal *mb_goal_find(const struct mb_goal *g, size_t n,
				   int metric, uint64_t pages);
int mb_print_table(FILE *f, const struct mb_scale *sc, size_t n);
int mb_write_json(FILE *f, const char *machine, const char *date,
		  const struct mb_opts *o, const struct mb_scale *sc, size_t n);
int mb_write_chart_data(FILE *f, const struct mb_scale *sc, size_t n);
void mb_scale_name(uint64_t pages, char *buf, size_t len);
/* Whether a scale of pages, started elapsed_s into the run, would end
 * past o->budget_s, judged from the last scale run (NULL: none yet); if
 * so, *out says it was skipped and why. */
bool mb_over_budget(const struct mb_opts *o, const struct mb_scale *last,
		    uint64_t pages, double elapsed_s, struct mb_scale *out);

/* The median of the numbers among v[0..n) (the mean of the middle two
 * for an even count; NaN: none is a number), v reordered. */
double mb_median(double *v, size_t n);

/* One scale's figures over its runs run[0..n): each the lowest that a
 * run measured (a failed or skipped run measures nothing; the first
 * failure is the result's), the clocks' and faults' costs the median.
 * n >= 1. */
void mb_combine_runs(const struct mb_scale *run, size_t n, struct mb_scale *out);

/* mb_scale.c: one scale; each phase in a child process */
int mb_run_scale(const struct mb_opts *o, uint64_t pages, struct mb_scale *out);

#endif
