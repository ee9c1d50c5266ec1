/* SPDX-License-Identifier: MIT */
/*
 * What the bench measured, and how it is printed: the stdout table with
 * ratios and goals, the JSON file, the gnuplot chart, and the pricing of
 * counts with unit costs (measured here, or given with --project).
 */
#ifndef WPT_BENCH_REPORT_H
#define WPT_BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Unit costs in ns: one MMIO exit round trip, one memslot ioctl, one sink
 * call. */
struct bench_units {
	double exit_ns;
	double slot_ns;
	double sink_ns;
};

/* Parse "exit=NS,slot=NS,map=NS" (any subset, any order; "sink" is an
 * alias of "map") over *u.  0, or -EINVAL with *u unchanged. */
int bench_units_parse(const char *s, struct bench_units *u);

/* A row's note: room for the VMM's last error after where it happened. */
#define BENCH_NOTE_LEN 200

struct bench_row {
	char workload[32];        /* stream4k-strict, bulk4k, ... */
	char backend[12];         /* "slots" (KVM memslots), "uffd" (SIGBUS
				   * mode) or "uffd-block" */
	char strategy[16];        /* trap, hybrid, inval, explicit */
	uint64_t ops;             /* pairs (stream, churn, mt), pages (bulk4k), blocks */
	double ns_per_op;         /* wall time of the timed phase / ops */
	double map_ns;            /* stream: guest-timed ns per map call, 0 if unknown */
	double exits_per_op;
	double lib_ns_per_write;  /* library time per trapped store, memslot
				   * ioctls left out; 0 if none */
	double slot_ns_in_run;    /* mean memslot ioctl seen in the run */
	double lib_ns_per_op;     /* library CPU (trap handling + invalidation walks) */
	double sink_calls_per_op;
	double pages_per_call;    /* 4K pages per sink map call */
	double slot_ioctls_per_op;
	double wp_ioctls_per_op;  /* userfaultfd backend: UFFDIO_WRITEPROTECT */
	double wp_ns_in_run;      /* mean one of those took in the run */
	double writes_per_op;     /* trapped stores */
	double stores_per_op;     /* descriptor stores the guest made */
	double floor_ns_per_op;   /* counts x measured unit costs */
	double unit_exit_ns;      /* this run's exit round trip */
	double unit_slot_ns;      /* this run's memslot ioctl */
	double slot_ioctls_per_table; /* slot ioctls / (protects + unprotects) */
	uint64_t tracked_pages;   /* protected table pages at the end */
	uint64_t slots_in_use;
	double recuts_per_table;  /* memslot chunks re-cut / (protects + unprotects) */
	/* Table pages changed by a re-cut that had to cut slots (the page's
	 * first cut out of a larger slot, or a merge the budget forced), the
	 * slot ioctls per such page, and slot_ioctls_per_table over the other
	 * changes: the steady state once every page has its own slot. */
	uint64_t slot_first_cuts;
	double slot_ioctls_per_cut;
	double slot_ioctls_steady;
	uint64_t slot_fallbacks;  /* re-cuts the slot budget made merge */
	const char *slot_layout;  /* "per-page", "merged"; NULL: no memslots */
	uint32_t slot_budget;     /* the library's slot budget */
	uint64_t split_runs;      /* split: contiguous runs the splits left */
	uint64_t split_maps;      /* split: sink map calls they made */
	bool verified;
	char note[BENCH_NOTE_LEN]; /* why not verified, skipped or failed, or "" */
	uint64_t dma_checks;      /* device doorbells checked (one per map call) */
	uint64_t dma_faults;      /* of those, a page not mapped to its GPA
				   * (the row is then not verified) */
	bool skipped;             /* not run here: note says why (this KVM
				   * cannot serve its backend, its trial
				   * timed out); no figures */
};

/* A measured row must have had its DMA checked: a row whose device was
 * never rung proves nothing about when maps reach the sink, so with
 * dma_checks == 0 it is not verified (note says why). */
void bench_row_check_dma(struct bench_row *r);

/* The rows of a JSON bench_write_json wrote (the fields the chart
 * uses): 0, -EINVAL (not such a file), -E2BIG (more than max rows). */
int bench_read_rows(FILE *f, struct bench_row *rows, size_t max, size_t *n);

/* The slot sweep's table: the churn rows on memslots (bench/sweep.c). */
void bench_print_slot_sweep(FILE *f, const struct bench_row *rows, size_t n);

/* The chart's slot sweep panel (bench/sweep.c): its data (how many
 * bars), and its gnuplot commands. */
size_t bench_sweep_chart_data(FILE *f, const struct bench_row *rows, size_t n);
void bench_sweep_chart_plot(FILE *f, const char *dat, size_t nw);

/* Counts of r priced with u: the floor. */
double bench_row_price(const struct bench_row *r, const struct bench_units *u);

struct bench_meta {
	const char *machine;
	const char *kernel;
	const char *date;
	const char *cpl;          /* "cpl3" or "cpl0" */
	bool quick;
	struct bench_units units; /* measured this run */
	/* Which KVM ran it: "host kvm_pvm", "nested SVM under TCG", ...
	 * (NULL: "unknown") */
	const char *kvm;
	/* Rows left out because this KVM cannot serve them, with why
	 * (NULL or "": none) */
	const char *not_run;
};

/* The JSON file: meta, units, and one object per row. */
int bench_write_json(FILE *f, const struct bench_meta *m,
		     const struct bench_row *rows, size_t n);

/* The human table, with ratios to explicit and inval of the same workload,
 * the floor, an optional projection, and the goals met or missed.  Returns
 * the number of goals missed. */
int bench_print_table(FILE *f, const struct bench_meta *m,
		      const struct bench_row *rows, size_t n,
		      const struct bench_units *project);

/* gnuplot data and script for a PNG of each strategy's time per op as a
 * ratio to explicit on the same workload (log scale), with the goals as
 * dashed lines; runs gnuplot.  0 or -errno (-ENOENT: no gnuplot,
 * -ENODATA: no workload has an explicit row to compare with). */
int bench_write_chart(const char *png, const struct bench_row *rows, size_t n);

#endif
