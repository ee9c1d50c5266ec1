/* SPDX-License-Identifier: MIT */
/*
 * wpt-bench's command line: the workloads and strategies it knows, and
 * the options that choose among them and size the runs.
 */
#ifndef WPT_BENCH_OPTIONS_H
#define WPT_BENCH_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "abi.h"
#include "report.h"

/* One case of the bench (a row of its table, once per strategy): a guest
 * workload and the VM it runs in. */
struct bench_case {
	const char *name;
	enum bench_workload w;
	unsigned int lazy;        /* unmaps per invalidation */
	unsigned int cpus;
	uint64_t granule;         /* slot_granule; ~0: the default */
	const char *only;         /* only this strategy, or NULL */
	bool cpl0;                /* guest at CPL0 whatever --cpl0 says */
	int uffd;                 /* WPT_UFFD_*: the userfaultfd backend */
	uint16_t layout;          /* wpt_kvm_cfg.layout */
	uint32_t budget;          /* wpt_kvm_cfg.slot_budget (0: KVM's) */
};

struct bench_strategy_name {
	const char *name;
	enum bench_strategy s;
};

#define BENCH_MAX_CASES 32
extern const struct bench_case bench_cases[];
extern const size_t bench_nr_cases;
#define BENCH_NR_STRATEGIES 5
extern const struct bench_strategy_name bench_strategies[BENCH_NR_STRATEGIES];
/* Whether w runs under the relaxed strategy too. */
bool bench_case_relaxed(const struct bench_case *w);

struct bench_opts {
	bool quick, cpl0, chart;
	bool want_w[BENCH_MAX_CASES];
	bool want_s[BENCH_NR_STRATEGIES];
	uint64_t ops;             /* stream pairs; churn ops = 2x churn_ops... */
	uint64_t churn_ops;
	uint64_t bulk;
	uint64_t window;
	unsigned int lazy;
	unsigned int reps;
	uint64_t seed;
	uint64_t granule;         /* default slot granule */
	const char *json, *png;
	const char *chart_from;   /* draw the chart of this JSON, run nothing */
	bool project;
	struct bench_units proj;
};

/* Parse argv into o: 0, or -EINVAL with the reason on stderr.  --help
 * prints the usage and exits. */
int bench_opts_parse(int argc, char **argv, struct bench_opts *o);
void bench_usage(FILE *f);

#endif
