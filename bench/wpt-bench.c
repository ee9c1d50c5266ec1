/* SPDX-License-Identifier: MIT */
/*
 * wpt-bench: what it costs to keep a shadow of a guest's IO page tables in
 * step on a real KVM guest, by trapping the guest's table writes (trap,
 * hybrid), by re-walking what it invalidates (inval), and by the floor of a
 * guest that asks for every map and unmap (explicit).
 *
 * Each run boots the bench guest (bench/guest/) in a fresh VM, lets its
 * SMMUv3-style driver run one workload under one strategy, verifies every
 * domain's shadow against a full walk of its tables, and prices the counts
 * it saw with unit costs measured at the start of the same run.
 *
 *   wpt-bench [--quick] [--workloads LIST] [--strategies LIST] [--ops N]
 *             [--bulk-mib N] [--window N] [--lazy N] [--reps N] [--cpl0]
 *             [--seed N] [--project exit=NS,slot=NS,map=NS]
 *             [--json PATH] [--png PATH] [--no-chart]
 *
 * Workloads: stream4k-strict stream4k-lazy bulk4k bulk2m churn split mt
 * slots (churn under trap with RAM as one slot, 2 MiB and 64 MiB slots,
 * and under the userfaultfd backend's blocking mode),
 * backends (the memslot layouts against the userfaultfd backend, churn and
 * stream4k under trap with the guest at CPL0).
 * Exit status: 0, 1 if any shadow failed verification or a run failed, 2
 * for a bad argument.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "abi.h"
#include "report.h"
#include "smmu.h"
#include "vmm.h"
#include "wpt.h"
#include "probe.h"
#include "sink/sink.h"

#define MAX_ROWS 64
/* A userfaultfd mode's trial: seconds on a host KVM, about a minute in
 * make bench's nested guest. */
#define UFFD_TRIAL_MS 120000

struct workload {
	const char *name;
	enum bench_workload w;
	unsigned int lazy;        /* unmaps per invalidation */
	unsigned int cpus;
	uint64_t granule;         /* slot_granule; ~0: the default */
	const char *only;         /* only this strategy, or NULL */
	bool cpl0;                /* guest at CPL0 whatever --cpl0 says */
	int uffd;                 /* WPT_UFFD_*: the userfaultfd backend */
};

static const struct workload workloads[] = {
	{ "stream4k-strict", BENCH_W_STREAM4K, 1, 1, ~0ull, NULL, false, false },
	{ "stream4k-lazy", BENCH_W_STREAM4K, 64, 1, ~0ull, NULL, false, false },
	{ "bulk4k", BENCH_W_BULK4K, 1, 1, ~0ull, NULL, false, false },
	{ "bulk2m", BENCH_W_BULK2M, 1, 1, ~0ull, NULL, false, false },
	{ "churn", BENCH_W_CHURN, 1, 1, ~0ull, NULL, false, false },
	{ "split", BENCH_W_SPLIT, 1, 1, ~0ull, NULL, false, false },
	{ "mt", BENCH_W_STREAM4K, 1, 2, ~0ull, NULL, false, false },
	/* the slot layout sweep */
	{ "churn-slot1", BENCH_W_CHURN, 1, 1, 0, "trap", false, false },
	{ "churn-slot2m", BENCH_W_CHURN, 1, 1, 2ull << 20, "trap", false, false },
	{ "churn-slot64m", BENCH_W_CHURN, 1, 1, 64ull << 20, "trap", false, false },
	/* and the userfaultfd backend's blocking mode, the one for native
	 * guest code (see bvm_cfg.uffd_block: here a step runs to the next
	 * exit) */
	{ "churn-uffd-block", BENCH_W_CHURN, 1, 1, 0, "trap", false,
	  WPT_UFFD_BLOCK },
	/* the protection backends side by side, at CPL0: here only code KVM
	 * interprets (CPL0) has its stores to a userfaultfd-protected page
	 * emulated and handed over (native CPL3 code makes KVM_RUN fail
	 * with -EFAULT), and the locked ones must be single-stepped, which
	 * works at CPL0 only */
	{ "churn-cpl0-slot1", BENCH_W_CHURN, 1, 1, 0, "trap", true, false },
	{ "churn-cpl0-slot2m", BENCH_W_CHURN, 1, 1, 2ull << 20, "trap", true, false },
	{ "churn-cpl0-slot64m", BENCH_W_CHURN, 1, 1, 64ull << 20, "trap", true, false },
	{ "churn-cpl0-uffd", BENCH_W_CHURN, 1, 1, 0, "trap", true,
	  WPT_UFFD_SIGBUS },
	{ "stream4k-cpl0-slot2m", BENCH_W_STREAM4K, 1, 1, 2ull << 20, "trap",
	  true, false },
	{ "stream4k-cpl0-uffd", BENCH_W_STREAM4K, 1, 1, 0, "trap", true,
	  WPT_UFFD_SIGBUS },
};
#define NR_WORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

static const struct {
	const char *name;
	enum bench_strategy s;
} strategies[] = {
	{ "explicit", BENCH_S_EXPLICIT },
	{ "inval", BENCH_S_INVAL },
	{ "trap", BENCH_S_TRAP },
	{ "hybrid", BENCH_S_HYBRID },
};
#define NR_STRATEGIES (sizeof(strategies) / sizeof(strategies[0]))

struct opts {
	bool quick, cpl0, chart;
	bool want_w[NR_WORKLOADS];
	bool want_s[NR_STRATEGIES];
	uint64_t ops;             /* stream pairs; churn ops = 2x churn_ops... */
	uint64_t churn_ops;
	uint64_t bulk;
	uint64_t window;
	unsigned int lazy;
	unsigned int reps;
	uint64_t seed;
	uint64_t granule;         /* default slot granule */
	const char *json, *png;
	bool project;
	struct bench_units proj;
};

/* Counters at a phase mark, per vCPU. */
struct snap {
	struct wpt_vm_stats vm;
	struct wpt_sink_stats sink;
	struct smmu_stats smmu;
	bool taken;
};

struct run {
	const struct opts *o;
	struct bvm *vm;
	unsigned int cpus;
	struct smmu *smmu[BENCH_MAX_CPUS];
	struct wpt_sink *sink[BENCH_MAX_CPUS];
	struct wpt_sink *check[BENCH_MAX_CPUS];
	struct snap at[BENCH_MAX_CPUS][4];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int on_mmio(void *opaque, unsigned int cpu, uint64_t gpa,
		   uint8_t *data, uint32_t len, bool is_write)
{
	struct run *r = opaque;

	if (cpu >= r->cpus || !r->smmu[cpu] || gpa < BENCH_MMIO_GPA(cpu) ||
	    gpa - BENCH_MMIO_GPA(cpu) >= BENCH_MMIO_SIZE)
		return -EFAULT;
	return smmu_mmio(r->smmu[cpu], gpa - BENCH_MMIO_GPA(cpu), data, len,
			 is_write);
}

/* At each phase mark, on the vCPU's thread before it runs on. */
static void on_phase(void *opaque, unsigned int cpu, unsigned int phase)
{
	struct run *r = opaque;
	struct snap *s;

	if (cpu >= r->cpus || phase >= 4)
		return;
	s = &r->at[cpu][phase];
	wpt_vm_stats(bvm_wpt(r->vm), &s->vm, sizeof(s->vm));
	wpt_sink_stats(r->sink[cpu], &s->sink);
	if (r->smmu[cpu])
		smmu_stats(r->smmu[cpu], &s->smmu);
	s->taken = true;
}

static void run_free(struct run *r)
{
	unsigned int c;

	for (c = 0; c < r->cpus; c++) {
		smmu_free(r->smmu[c]);
		if (r->sink[c])
			wpt_sink_free(r->sink[c]);
		if (r->check[c])
			wpt_sink_free(r->check[c]);
	}
	bvm_free(r->vm);
}

static int run_new(struct run *r, const struct opts *o,
		   const struct workload *w, uint64_t granule,
		   enum bench_strategy s)
{
	unsigned int cpus = w ? w->cpus : 1;
	struct bvm_cfg vc = {
		/* blocking mode cannot run at CPL0 here (bench/vmm.h) */
		.nr_cpus = cpus,
		.cpl0 = (o->cpl0 || (w && w->cpl0)) &&
			!(w && w->uffd == WPT_UFFD_BLOCK),
		.uffd = w && w->uffd == WPT_UFFD_SIGBUS,
		.uffd_block = w && w->uffd == WPT_UFFD_BLOCK,
		.slot_granule = w && w->uffd ? 0 : granule,
		.mmio = on_mmio, .phase = on_phase, .opaque = r,
	};
	unsigned int c;
	int ret;

	memset(r, 0, sizeof(*r));
	r->o = o;
	r->cpus = cpus;
	ret = bvm_new(&vc, &r->vm);
	if (ret)
		return ret;
	for (c = 0; c < cpus; c++) {
		struct smmu_cfg sc = {
			.vm = bvm_wpt(r->vm), .ram = bvm_ram(r->vm),
			.ram_gpa = 0, .ram_size = BENCH_RAM_SIZE,
			.strategy = s, .oas = 48,
		};

		ret = wpt_sink_record_new(&r->sink[c]);
		if (!ret && s == BENCH_S_EXPLICIT)
			ret = wpt_sink_record_new(&r->check[c]);
		if (ret)
			break;
		sc.sink = r->sink[c];
		sc.check_sink = r->check[c];
		ret = smmu_new(&sc, &r->smmu[c]);
		if (ret)
			break;
	}
	if (ret)
		run_free(r);
	return ret;
}

static void params_for(const struct opts *o, const struct workload *w,
		       enum bench_strategy s, unsigned int cpu,
		       struct bench_params *p)
{
	uint64_t arena = BENCH_ARENA_SIZE / w->cpus;

	memset(p, 0, sizeof(*p));
	p->magic = BENCH_PARAMS_MAGIC;
	p->cpu = cpu;
	p->workload = w->w;
	p->strategy = s;
	p->lazy = w->lazy > 1 ? (o->lazy ? o->lazy : w->lazy) : 1;
	p->asid = 1 + cpu;
	p->seed = o->seed + cpu;
	p->window_pages = o->window;
	p->bulk_bytes = o->bulk;
	p->arena_gpa = BENCH_ARENA_GPA + cpu * arena;
	p->arena_size = arena;
	p->data_gpa = BENCH_DATA_GPA;
	p->data_size = BENCH_DATA_SIZE;
	p->mmio_gpa = BENCH_MMIO_GPA(cpu);
	p->iova_base = 0x100000000ull;
	p->ias = 48;
	switch (w->w) {
	case BENCH_W_STREAM4K:
		p->ops = w->cpus > 1 ? o->ops / 2 : o->ops;
		/* CPL0 code is interpreted here: a quarter keeps it short */
		if (w->cpl0 && !o->cpl0 && p->ops >= 8)
			p->ops /= 4;
		break;
	case BENCH_W_CHURN:
		p->ops = 2 * o->churn_ops;
		break;
	case BENCH_W_CAL_EXIT:
		p->ops = o->ops;
		break;
	default:
		p->ops = o->bulk >> 21;
		break;
	}
}

/* ops as the report counts them for one vCPU's result. */
static uint64_t report_ops(const struct workload *w,
			   const struct bench_params *p,
			   const struct bench_result *res)
{
	switch (w->w) {
	case BENCH_W_STREAM4K:
		return res->unmaps;
	case BENCH_W_CHURN:
		return (res->maps + res->unmaps) / 2;
	case BENCH_W_BULK4K:
		return res->maps;
	default:
		return p->bulk_bytes >> 21;
	}
}

/* Contiguous runs a recording sink holds (for split: one call per run). */
static uint64_t sink_runs(const struct wpt_sink *s)
{
	long n = wpt_sink_record_get(s, NULL, 0);

	return n > 0 ? (uint64_t)n : 0;
}

#define CAL_BATCHES 5

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The exit round trip (median of CAL_BATCHES batches of NOP writes) and
 * one memslot ioctl (half a create + delete of a slot of the layout's
 * size), measured on r's VM. */
static int unit_costs(const struct opts *o, struct run *r,
		      struct bench_units *u)
{
	const struct workload cal = { "cal", BENCH_W_CAL_EXIT, 1, r->cpus,
				      ~0ull, NULL, false, false };
	struct bench_params p[BENCH_MAX_CPUS];
	struct bench_result res[BENCH_MAX_CPUS];
	struct bvm_cpu_stats st[BENCH_MAX_CPUS];
	double batch[CAL_BATCHES];
	uint64_t ns;
	unsigned int i, c;
	int ret;

	/* Every vCPU of the VM exits at once, as its workload will. */
	for (c = 0; c < r->cpus; c++) {
		params_for(o, &cal, BENCH_S_TRAP, c, &p[c]);
		p[c].ops = o->quick ? 50 : 100;
		p[c].seed = 0; /* non-zero asks for a test store first */
	}
	for (i = 0; i < CAL_BATCHES; i++) {
		ret = bvm_run(r->vm, p, res, st);
		if (ret)
			return ret;
		if (st[0].done_status)
			return -EIO;
		batch[i] = (double)(st[0].phase_ns[BENCH_PHASE_END] -
				    st[0].phase_ns[BENCH_PHASE_START]) /
			   (double)(st[0].exits_at_phase[BENCH_PHASE_END] -
				    st[0].exits_at_phase[BENCH_PHASE_START]);
	}
	qsort(batch, CAL_BATCHES, sizeof(batch[0]), dbl_cmp);
	u->exit_ns = batch[CAL_BATCHES / 2];
	ret = bvm_slot_roundtrip_ns(r->vm, o->granule ? o->granule : 2 << 20,
				    o->quick ? 10 : 20, &ns);
	if (ret)
		return ret;
	u->slot_ns = (double)ns / 2; /* one create + one delete */
	return 0;
}

static int one_run(const struct opts *o, const struct workload *w,
		   enum bench_strategy s, const char *sname,
		   const struct bench_units *u, struct bench_row *row)
{
	struct bench_params p[BENCH_MAX_CPUS];
	struct bench_result res[BENCH_MAX_CPUS];
	struct bvm_cpu_stats st[BENCH_MAX_CPUS];
	uint64_t granule = w->granule == ~0ull ? o->granule : w->granule;
	uint64_t ops = 0, exits = 0, lib_exits = 0, lib_ns = 0, inval_ns = 0;
	uint64_t writes = 0, sink_calls = 0, maps = 0, bytes = 0, slots = 0;
	uint64_t prot = 0, stores = 0, t0 = ~0ull, t1 = 0;
	uint64_t map_cycles = 0, map_calls = 0, tsc = 0, tsc_ns = 0;
	uint64_t slot_ns = 0, wp = 0, wp_ns = 0, steps = 0, step_ns = 0;
	struct wpt_vm_stats end;
	struct bench_units unit;
	struct run r;
	unsigned int c;
	int ret;

	memset(row, 0, sizeof(*row));
	snprintf(row->workload, sizeof(row->workload), "%s", w->name);
	snprintf(row->strategy, sizeof(row->strategy), "%s", sname);
	snprintf(row->backend, sizeof(row->backend), "%s",
		 w->uffd == WPT_UFFD_BLOCK ? "uffd-block" :
		 w->uffd ? "uffd" : "slots");
	ret = run_new(&r, o, w, granule, s);
	if (ret) {
		snprintf(row->note, sizeof(row->note), "setup: %s",
			 strerror(-ret));
		return ret;
	}
	/* This VM's own unit costs, just before its workload: an exit's
	 * round trip drifts on this shared host, and a floor priced with
	 * costs measured minutes earlier would drift with it. */
	unit = *u;
	ret = unit_costs(o, &r, &unit);
	if (ret) {
		snprintf(row->note, sizeof(row->note), "calibration: %s",
			 bvm_last_error(r.vm));
		run_free(&r);
		return ret;
	}
	row->unit_exit_ns = unit.exit_ns;
	row->unit_slot_ns = unit.slot_ns;
	memset(r.at, 0, sizeof(r.at));
	for (c = 0; c < w->cpus; c++)
		params_for(o, w, s, c, &p[c]);
	ret = bvm_run(r.vm, p, res, st);
	if (ret) {
		snprintf(row->note, sizeof(row->note), "run: %s",
			 bvm_last_error(r.vm));
		run_free(&r);
		return ret;
	}
	row->verified = true;
	for (c = 0; c < w->cpus; c++) {
		struct snap *a = &r.at[c][BENCH_PHASE_START];
		struct snap *b = &r.at[c][BENCH_PHASE_END];

		if (st[c].done_status || res[c].status) {
			snprintf(row->note, sizeof(row->note),
				 "guest %u: status %llu", c,
				 (unsigned long long)res[c].status);
			row->verified = false;
		}
		if (!a->taken || !b->taken) {
			snprintf(row->note, sizeof(row->note),
				 "guest %u: no phase marks", c);
			row->verified = false;
			continue;
		}
		ret = smmu_verify(r.smmu[c]);
		if (ret) {
			snprintf(row->note, sizeof(row->note), "cpu %u: %s", c,
				 smmu_last_error(r.smmu[c]));
			row->verified = false;
		}
		ops += report_ops(w, &p[c], &res[c]);
		/* The marks count their own exit: leave END's out. */
		exits += st[c].exits_at_phase[BENCH_PHASE_END] -
			 st[c].exits_at_phase[BENCH_PHASE_START] - 1;
		lib_exits += st[c].lib_exits_at_phase[BENCH_PHASE_END] -
			     st[c].lib_exits_at_phase[BENCH_PHASE_START];
		lib_ns += st[c].lib_ns;
		inval_ns += b->smmu.inval_ns - a->smmu.inval_ns;
		sink_calls += b->sink.maps + b->sink.unmaps - a->sink.maps -
			      a->sink.unmaps;
		maps += b->sink.maps - a->sink.maps;
		bytes += b->sink.bytes_mapped - a->sink.bytes_mapped;
		stores += res[c].leaf_stores;
		/* The guest times its map calls by TSC; the phase marks give
		 * the TSC's rate in ns. */
		if (res[c].tsc_end > res[c].tsc_start) {
			map_cycles += res[c].map_cycles;
			map_calls += res[c].map_calls;
			tsc += res[c].tsc_end - res[c].tsc_start;
			tsc_ns += st[c].phase_ns[BENCH_PHASE_END] -
				  st[c].phase_ns[BENCH_PHASE_START];
		}
		if (st[c].phase_ns[BENCH_PHASE_START] < t0)
			t0 = st[c].phase_ns[BENCH_PHASE_START];
		if (st[c].phase_ns[BENCH_PHASE_END] > t1)
			t1 = st[c].phase_ns[BENCH_PHASE_END];
		if (w->w == BENCH_W_SPLIT) {
			struct snap *m = &r.at[c][BENCH_PHASE_MID];

			row->split_maps += b->sink.maps - m->sink.maps;
			row->split_runs += sink_runs(r.sink[c]);
		}
	}
	/* VM-wide counters: the first vCPU's marks bound the timed part
	 * (mt: both vCPUs run the same length, close enough). */
	/* Trapped stores: handed over, or (uffd: locked ones) stepped. */
	writes = r.at[0][BENCH_PHASE_END].vm.exits_handled +
		 r.at[0][BENCH_PHASE_END].vm.steps -
		 r.at[0][BENCH_PHASE_START].vm.exits_handled -
		 r.at[0][BENCH_PHASE_START].vm.steps;
	/* A stepped store costs two exits, the refusal and the step; a
	 * kicked one (uffd-block) one more, the -EINTR (its step runs to an
	 * exit counted already).  The library's part is its step_ns. */
	steps = r.at[0][BENCH_PHASE_END].vm.steps -
		r.at[0][BENCH_PHASE_START].vm.steps;
	step_ns = r.at[0][BENCH_PHASE_END].vm.step_ns -
		  r.at[0][BENCH_PHASE_START].vm.step_ns;
	exits += (w->uffd == WPT_UFFD_BLOCK ? 1 : 2) * steps;
	wp = r.at[0][BENCH_PHASE_END].vm.wp_ops -
	     r.at[0][BENCH_PHASE_START].vm.wp_ops;
	wp_ns = r.at[0][BENCH_PHASE_END].vm.wp_ns -
		r.at[0][BENCH_PHASE_START].vm.wp_ns;
	slots = r.at[0][BENCH_PHASE_END].vm.slot_ops -
		r.at[0][BENCH_PHASE_START].vm.slot_ops;
	slot_ns = r.at[0][BENCH_PHASE_END].vm.slot_ns -
		  r.at[0][BENCH_PHASE_START].vm.slot_ns;
	prot = r.at[0][BENCH_PHASE_END].vm.protects +
	       r.at[0][BENCH_PHASE_END].vm.unprotects -
	       r.at[0][BENCH_PHASE_START].vm.protects -
	       r.at[0][BENCH_PHASE_START].vm.unprotects;
	if (w->cpus > 1) {
		struct wpt_vm_stats a0 = r.at[0][BENCH_PHASE_START].vm;
		struct wpt_vm_stats b1 = r.at[1][BENCH_PHASE_END].vm;

		/* whichever vCPU marked first and last */
		if (r.at[1][BENCH_PHASE_START].vm.exits_handled <
		    a0.exits_handled)
			a0 = r.at[1][BENCH_PHASE_START].vm;
		if (r.at[0][BENCH_PHASE_END].vm.exits_handled >
		    b1.exits_handled)
			b1 = r.at[0][BENCH_PHASE_END].vm;
		writes = b1.exits_handled + b1.steps - a0.exits_handled -
			 a0.steps;
		wp = b1.wp_ops - a0.wp_ops;
		wp_ns = b1.wp_ns - a0.wp_ns;
		slots = b1.slot_ops - a0.slot_ops;
		slot_ns = b1.slot_ns - a0.slot_ns;
		prot = b1.protects + b1.unprotects - a0.protects -
		       a0.unprotects;
	}
	wpt_vm_stats(bvm_wpt(r.vm), &end, sizeof(end));
	if (ops) {
		double per = (double)ops;

		/* mt: each vCPU's ops run side by side; a pair's wall time
		 * is the run's over one vCPU's share. */
		row->ops = ops;
		row->ns_per_op = (double)(t1 - t0) / (per / w->cpus);
		row->exits_per_op = (double)exits / per;
		row->writes_per_op = (double)writes / per;
		row->stores_per_op = (double)stores / per;
		/* The library's own work per trapped store: the memslot and
		 * write-protect ioctls it waited for are the kernel's cost,
		 * priced in the floor. */
		double lib = (double)lib_ns + (double)step_ns -
			     (double)slot_ns - (double)wp_ns;

		row->lib_ns_per_write = lib_exits + steps && lib > 0 ?
			lib / (double)(lib_exits + steps) : 0;
		row->lib_ns_per_op = lib + (double)inval_ns > 0 ?
			(lib + (double)inval_ns) / per : 0;
		row->wp_ioctls_per_op = (double)wp / per;
		row->wp_ns_in_run = wp ? (double)wp_ns / wp : 0;
		row->slot_ns_in_run = slots ? (double)slot_ns / slots : 0;
		row->sink_calls_per_op = (double)sink_calls / per;
		row->pages_per_call = maps ? (double)bytes / 4096.0 / maps : 0;
		row->slot_ioctls_per_op = (double)slots / per;
		row->slot_ioctls_per_table = prot ? (double)slots / prot : 0;
		/* Each vCPU pays its own exits side by side: the floor of
		 * one vCPU's op. */
		row->floor_ns_per_op = bench_row_price(row, &unit);
		if (map_calls && tsc)
			row->map_ns = (double)map_cycles / map_calls *
				      ((double)tsc_ns / tsc);
	}
	row->tracked_pages = end.protected_pages;
	row->slots_in_use = end.slots_in_use;
	run_free(&r);
	return 0;
}

/* The unit costs printed for the whole run: exit and slot on a fresh VM
 * (each run prices its floor with its own, see one_run), and a call
 * through a recording sink. */
static int calibrate(const struct opts *o, struct bench_units *u)
{
	struct wpt_sink *sink;
	struct run r;
	uint64_t t, n = o->quick ? 5000 : 20000, i;
	int ret;

	ret = run_new(&r, o, NULL, o->granule, BENCH_S_TRAP);
	if (ret)
		return ret;
	ret = unit_costs(o, &r, u);
	if (ret)
		fprintf(stderr, "wpt-bench: calibration run failed: %s\n",
			bvm_last_error(r.vm));
	run_free(&r);
	if (ret)
		return ret;
	ret = wpt_sink_record_new(&sink);
	if (ret)
		return ret;
	t = now_ns();
	for (i = 0; i < n && !ret; i++)
		ret = wpt_sink_map(sink, 0x1000, 0x40000, NULL, 4096,
				   WPT_PERM_READ | WPT_PERM_WRITE) ?:
		      wpt_sink_unmap(sink, 0x1000, 4096);
	u->sink_ns = (double)(now_ns() - t) / (2.0 * n);
	wpt_sink_free(sink);
	return ret;
}

static int pick(const char *list, const char *const *names, size_t n,
		bool *want, const char *what)
{
	char *dup = strdup(list), *tok, *save = NULL;
	size_t i;
	int ret = 0;

	if (!dup)
		return -ENOMEM;
	memset(want, 0, n * sizeof(*want));
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		bool found = false;

		for (i = 0; i < n; i++) {
			/* "slots" names the three layouts of the sweep,
			 * "backends" the CPL0 rows of memslots against
			 * userfaultfd, "stream4k" both invalidation policies */
			if (!strcmp(tok, names[i]) ||
			    (!strcmp(tok, "slots") && (!strncmp(names[i], "churn-slot", 10) ||
						       !strcmp(names[i], "churn-uffd-block"))) ||
			    (!strcmp(tok, "backends") && strstr(names[i], "-cpl0-")) ||
			    (!strcmp(tok, "stream4k") && !strncmp(names[i], "stream4k-", 9))) {
				want[i] = true;
				found = true;
			}
		}
		if (!found) {
			fprintf(stderr, "wpt-bench: unknown %s '%s'\n", what, tok);
			ret = -EINVAL;
		}
	}
	free(dup);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: wpt-bench [--quick] [--workloads LIST] [--strategies LIST]\n"
		"                 [--ops N] [--churn-ops N] [--bulk-mib N] [--window N]\n"
		"                 [--lazy N] [--reps N] [--cpl0] [--seed N]\n"
		"                 [--slot-granule BYTES] [--project exit=NS,slot=NS,map=NS]\n"
		"                 [--json PATH] [--png PATH] [--no-chart]\n"
		"workloads: stream4k-strict,stream4k-lazy,bulk4k,bulk2m,churn,split,mt,\n"
		"           slots (= churn-slot1,churn-slot2m,churn-slot64m,churn-uffd-block),\n"
		"           stream4k,\n"
		"           backends (= churn-cpl0-slot1,churn-cpl0-slot2m,churn-cpl0-slot64m,\n"
		"           churn-cpl0-uffd,stream4k-cpl0-slot2m,stream4k-cpl0-uffd)\n"
		"strategies: explicit,inval,trap,hybrid\n");
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || x < min || x > max)
		return -EINVAL;
	*v = x;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "workloads", required_argument, NULL, 'w' },
		{ "strategies", required_argument, NULL, 's' },
		{ "ops", required_argument, NULL, 'o' },
		{ "churn-ops", required_argument, NULL, 'c' },
		{ "bulk-mib", required_argument, NULL, 'b' },
		{ "window", required_argument, NULL, 'W' },
		{ "lazy", required_argument, NULL, 'l' },
		{ "reps", required_argument, NULL, 'r' },
		{ "cpl0", no_argument, NULL, '0' },
		{ "seed", required_argument, NULL, 'S' },
		{ "slot-granule", required_argument, NULL, 'g' },
		{ "project", required_argument, NULL, 'p' },
		{ "json", required_argument, NULL, 'j' },
		{ "png", required_argument, NULL, 'P' },
		{ "no-chart", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *wnames[NR_WORKLOADS], *snames[NR_STRATEGIES];
	const char *wl = NULL, *sl = NULL;
	uint64_t v;
	size_t i;
	int ch, ret = 0;

	for (i = 0; i < NR_WORKLOADS; i++)
		wnames[i] = workloads[i].name;
	for (i = 0; i < NR_STRATEGIES; i++)
		snames[i] = strategies[i].name;
	memset(o, 0, sizeof(*o));
	o->chart = true;
	o->seed = 1;
	o->window = 64;
	o->granule = 2ull << 20;
	o->json = "bench/results/latest.json";
	o->png = "bench/results/latest.png";
	/* sizes are set after --quick is known */
	o->ops = o->churn_ops = o->bulk = 0;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'q': o->quick = true; break;
		case 'w': wl = optarg; break;
		case 's': sl = optarg; break;
		case 'o': ret |= parse_u64(optarg, 1, 1000000, &o->ops); break;
		case 'c': ret |= parse_u64(optarg, 1, 100000, &o->churn_ops); break;
		case 'b':
			ret |= parse_u64(optarg, 2, BENCH_DATA_SIZE >> 20, &v);
			o->bulk = (v & ~1ull) << 20;
			break;
		case 'W': ret |= parse_u64(optarg, 1, 512, &o->window); break;
		case 'l':
			ret |= parse_u64(optarg, 1, 4096, &v);
			o->lazy = (unsigned int)v;
			break;
		case 'r':
			ret |= parse_u64(optarg, 1, 100, &v);
			o->reps = (unsigned int)v;
			break;
		case '0': o->cpl0 = true; break;
		case 'S': ret |= parse_u64(optarg, 0, ~0ull, &o->seed); break;
		case 'g':
			ret |= parse_u64(optarg, 0, BENCH_RAM_SIZE, &o->granule);
			if (o->granule & 0xfff)
				ret = -EINVAL;
			break;
		case 'p':
			o->project = true;
			ret |= bench_units_parse(optarg, &o->proj);
			break;
		case 'j': o->json = optarg; break;
		case 'P': o->png = optarg; break;
		case 'n': o->chart = false; break;
		case 'h': usage(stdout); exit(0);
		default: return -EINVAL;
		}
		if (ret) {
			fprintf(stderr, "wpt-bench: bad value '%s' for %s\n",
				optarg, argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "wpt-bench: unexpected argument '%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	for (i = 0; i < NR_WORKLOADS; i++)
		o->want_w[i] = true;
	for (i = 0; i < NR_STRATEGIES; i++)
		o->want_s[i] = true;
	if (wl && pick(wl, wnames, NR_WORKLOADS, o->want_w, "workload"))
		return -EINVAL;
	if (sl && pick(sl, snames, NR_STRATEGIES, o->want_s, "strategy"))
		return -EINVAL;
	if (!o->reps)
		o->reps = o->quick ? 1 : 3;
	if (!o->ops)
		o->ops = o->quick ? 300 : 2000;
	if (!o->churn_ops)
		o->churn_ops = o->quick ? 60 : 300;
	if (!o->bulk)
		o->bulk = (o->quick ? 16ull : 64ull) << 20;
	if (o->project && !o->proj.exit_ns && !o->proj.slot_ns &&
	    !o->proj.sink_ns)
		return -EINVAL;
	return 0;
}

/* One trial of a userfaultfd row's mode: a few operations in a child
 * process (bench/probe.h), so a KVM that cannot serve the mode answers
 * instead of hanging the bench (see test_singlestep_kvm's mode_trial). */
static int uffd_trial(void *arg, char *why, size_t len)
{
	struct workload w = *(const struct workload *)((const void **)arg)[0];
	struct opts o = *(const struct opts *)((const void **)arg)[1];
	struct bench_units u = { 0 };
	struct bench_row row;
	int ret;

	/* The row's backend and CPL, the smallest workload: a few stream
	 * pairs (as test_singlestep_kvm's trial). */
	w.w = BENCH_W_STREAM4K;
	o.ops = 8;
	o.quick = true;
	ret = one_run(&o, &w, BENCH_S_TRAP, "trap", &u, &row);
	snprintf(why, len, "%s", row.note);
	return ret ? ret : row.verified ? 0 : -EIO;
}

/* Whether w can run on this KVM: every row of a userfaultfd mode shares
 * its mode's one trial.  Else a line on stderr and why in not_run. */
static bool row_can_run(const struct opts *o, const struct workload *w,
			char *not_run, size_t len)
{
	static int verdict[3] = { 1, 0, 0 }; /* by WPT_UFFD_*; 1 unknown */
	static char why[3][200];
	const void *arg[2] = { w, o };
	size_t used = strlen(not_run);

	if (!w->uffd || w->uffd > WPT_UFFD_BLOCK)
		return true;
	if (!verdict[w->uffd])
		verdict[w->uffd] = bench_probe(uffd_trial, arg, UFFD_TRIAL_MS,
					       why[w->uffd],
					       sizeof(why[0])) ?: 1;
	if (verdict[w->uffd] == 1)
		return true;
	fprintf(stderr, "wpt-bench: %s NOT RUN: this KVM cannot serve its "
		"userfaultfd mode: %s\n", w->name, why[w->uffd]);
	snprintf(not_run + used, len - used, "%s%s (%s)", used ? "; " : "",
		 w->name, why[w->uffd]);
	return false;
}

static int row_cmp_ns(const void *a, const void *b)
{
	const struct bench_row *x = a, *y = b;

	return x->ns_per_op < y->ns_per_op ? -1 : x->ns_per_op > y->ns_per_op;
}

static void meta_fill(struct bench_meta *m, const struct opts *o,
		      char *machine, size_t mlen, char *kernel, size_t klen,
		      char *date, size_t dlen)
{
	static char kvm[128];

	struct utsname un;
	time_t t = time(NULL);
	char line[256];
	FILE *f;

	snprintf(machine, mlen, "unknown");
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && colon) {
			colon[strcspn(colon, "\n")] = 0;
			snprintf(machine, mlen, "%ld cpus, %s",
				 sysconf(_SC_NPROCESSORS_ONLN), colon + 2);
			break;
		}
	}
	if (f)
		fclose(f);
	snprintf(kernel, klen, "%s", uname(&un) ? "unknown" : un.release);
	strftime(date, dlen, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	m->machine = machine;
	m->kernel = kernel;
	m->date = date;
	m->cpl = o->cpl0 ? "cpl0" : "cpl3";
	m->kvm = bench_kvm_where(kvm, sizeof(kvm));
	m->quick = o->quick;
}

static int mkdir_for(const char *path)
{
	char dir[4096];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	*slash = 0;
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	static struct bench_row rows[MAX_ROWS], reps[100];
	char machine[256], kernel[128], date[64];
	static char not_run[1024];
	struct bench_meta meta = { .not_run = not_run };
	size_t nrows = 0, wi, si;
	unsigned int k, failed = 0;
	struct opts o;
	FILE *f;
	int ret, missed;

	if (parse_opts(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	meta_fill(&meta, &o, machine, sizeof(machine), kernel, sizeof(kernel),
		  date, sizeof(date));
	fprintf(stderr, "wpt-bench: calibrating (exit, slot ioctl, sink call)\n");
	ret = calibrate(&o, &meta.units);
	if (ret) {
		fprintf(stderr, "wpt-bench: calibration failed: %s%s\n",
			strerror(-ret), ret == -ENOENT || ret == -EACCES ?
			" (is /dev/kvm usable?)" : "");
		return 1;
	}
	for (wi = 0; wi < NR_WORKLOADS; wi++) {
		const struct workload *w = &workloads[wi];

		if (!o.want_w[wi] ||
		    !row_can_run(&o, w, not_run, sizeof(not_run)))
			continue;
		for (si = 0; si < NR_STRATEGIES; si++) {
			if (!o.want_s[si] ||
			    (w->only && strcmp(w->only, strategies[si].name)))
				continue;
			fprintf(stderr, "wpt-bench: %-20s %-8s\n", w->name,
				strategies[si].name);
			for (k = 0; k < o.reps; k++) {
				ret = one_run(&o, w, strategies[si].s,
					      strategies[si].name, &meta.units,
					      &reps[k]);
				if (ret)
					break;
			}
			if (ret || nrows == MAX_ROWS) {
				fprintf(stderr, "wpt-bench: %s %s FAILED: %s\n",
					w->name, strategies[si].name,
					reps[k < o.reps ? k : 0].note);
				failed++;
				continue;
			}
			/* The median repetition stands for the set. */
			qsort(reps, o.reps, sizeof(reps[0]), row_cmp_ns);
			rows[nrows] = reps[o.reps / 2];
			for (k = 0; k < o.reps; k++)
				if (!reps[k].verified)
					rows[nrows] = reps[k];
			if (!rows[nrows].verified)
				failed++;
			nrows++;
		}
	}
	missed = bench_print_table(stdout, &meta, rows, nrows,
				   o.project ? &o.proj : NULL);
	printf("\n%d goal(s) missed; %u run(s) failed or not verified\n",
	       missed, failed);
	fflush(stdout);
	if (mkdir_for(o.json) == 0 && (f = fopen(o.json, "w"))) {
		ret = bench_write_json(f, &meta, rows, nrows);
		if (fclose(f) || ret)
			fprintf(stderr, "wpt-bench: writing %s failed\n", o.json);
		else
			fprintf(stderr, "wpt-bench: wrote %s\n", o.json);
	} else {
		fprintf(stderr, "wpt-bench: cannot write %s: %s\n", o.json,
			strerror(errno));
		failed++;
	}
	if (o.chart) {
		ret = mkdir_for(o.png) ?: bench_write_chart(o.png, rows, nrows);
		if (ret)
			fprintf(stderr, "wpt-bench: chart %s: %s%s\n", o.png,
				strerror(-ret), ret == -ENOENT ?
				" (install gnuplot-nox)" : "");
		else
			fprintf(stderr, "wpt-bench: wrote %s\n", o.png);
	}
	if (failed)
		fprintf(stderr, "wpt-bench: FAILED: %u run(s) failed or their "
			"shadow did not verify\n", failed);
	return failed ? 1 : 0;
}
