/* SPDX-License-Identifier: MIT */
/*
 * What one bench run counted between its phase marks, turned into a row
 * of the report: the guest's results, each vCPU's exit counts, and the
 * library's, sink's and SMMU's counters read at each mark.
 */
#ifndef WPT_BENCH_TALLY_H
#define WPT_BENCH_TALLY_H

#include <stdbool.h>
#include <stdint.h>

#include "options.h"
#include "report.h"
#include "smmu/smmu.h"
#include "vmm/vmm.h"
#include "wpt.h"

/* Counters at a phase mark, per vCPU. */
struct bench_snap {
	struct wpt_vm_stats vm;
	struct wpt_sink_stats sink;
	struct smmu_stats smmu;
	bool taken;
};

/* The marks of one vCPU, by BENCH_PHASE_*. */
typedef struct bench_snap bench_marks[4];

/* Sums over the vCPUs, and the VM-wide counts of the timed part. */
struct bench_tally {
	uint64_t ops, exits, lib_exits, lib_ns, inval_ns;
	uint64_t sink_calls, maps, bytes, stores;
	uint64_t map_cycles, map_calls, tsc, tsc_ns;
	uint64_t t0, t1;          /* the timed part: first START, last END */
	/* VM-wide (struct wpt_vm_stats) between the marks */
	uint64_t writes;          /* trapped stores: handed over or stepped */
	uint64_t steps, step_ns;
	uint64_t wp, wp_ns;       /* userfaultfd write-protect ioctls */
	uint64_t slots, slot_ns;  /* memslot ioctls */
	uint64_t prot;            /* protects + unprotects */
	uint64_t recuts, fallbacks; /* memslot chunks re-cut; budget merges */
	uint64_t cut_pages, cut_ops; /* first cuts (wpt_vm_stats.slot_cut_*) */
};

void bench_tally_init(struct bench_tally *t);

/* Add one vCPU's part (whose marks were all taken); split rows also count
 * what the splits left in its sink. */
void bench_tally_cpu(struct bench_tally *t, const struct bench_case *w,
		     const struct bench_params *p,
		     const struct bench_result *res,
		     const struct bvm_cpu_stats *st, const bench_marks at,
		     const struct wpt_sink *sink, struct bench_row *row);

/* The VM-wide counters, from the marks of the cpus vCPUs. */
void bench_tally_vm(struct bench_tally *t, const struct bench_case *w,
		    const bench_marks *at, unsigned int cpus);

/* The row's per-op figures, priced with unit. */
void bench_tally_row(const struct bench_tally *t, const struct bench_case *w,
		     const struct bench_units *unit, struct bench_row *row);

#endif
