/* SPDX-License-Identifier: MIT */
/*
 * One bench run: a fresh VM with one SMMU per vCPU, its own unit costs
 * measured first, the workload, every shadow verified, the counts tallied
 * into a row (see run.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "run.h"
#include "sink/sink.h"
#include "tally.h"

struct run {
	const struct bench_opts *o;
	struct bvm *vm;
	unsigned int cpus;
	struct smmu *smmu[BENCH_MAX_CPUS];
	struct wpt_sink *sink[BENCH_MAX_CPUS];
	struct wpt_sink *check[BENCH_MAX_CPUS];
	bench_marks at[BENCH_MAX_CPUS];
};

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
	struct bench_snap *s;

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

static int run_new(struct run *r, const struct bench_opts *o,
		   const struct bench_case *w, uint64_t granule,
		   enum bench_strategy s)
{
	unsigned int cpus = w ? w->cpus : 1;
	struct bvm_cfg vc = {
		/* blocking mode cannot run at CPL0 here (bench/vmm/vmm.h) */
		.nr_cpus = cpus,
		.cpl0 = (o->cpl0 || (w && w->cpl0)) &&
			!(w && w->uffd == WPT_UFFD_BLOCK),
		.uffd = w && w->uffd == WPT_UFFD_SIGBUS,
		.uffd_block = w && w->uffd == WPT_UFFD_BLOCK,
		.slot_granule = w && w->uffd ? 0 : granule,
		/* memslot rows: re-cuts with the vCPUs out of KVM_RUN, the
		 * cost a correct VMM pays (wpt_quiesce_ops) */
		.quiesce = !(w && w->uffd),
		.slot_budget = w ? w->budget : 0,
		.slot_layout = w ? w->layout : 0,
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

static void params_for(const struct bench_opts *o, const struct bench_case *w,
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

#define CAL_BATCHES 5

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The exit round trip (median of CAL_BATCHES batches of NOP writes) and
 * one memslot ioctl (half a create + delete of a slot of the layout's
 * size), measured on r's VM. */
static int unit_costs(const struct bench_opts *o, struct run *r,
		      struct bench_units *u)
{
	const struct bench_case cal = { "cal", BENCH_W_CAL_EXIT, 1, r->cpus,
				      ~0ull, NULL, false, false, 0, 0 };
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

/* A failed step of a run: the row says which, the VM goes. */
static int run_failed(struct run *r, struct bench_row *row, const char *what,
		      int ret)
{
	snprintf(row->note, sizeof(row->note), "%s: %s", what,
		 bvm_last_error(r->vm));
	run_free(r);
	return ret;
}

/* The device's DMA checks at its doorbells (every strategy): a fault
 * fails the row. */
static void check_dma(struct smmu *s, unsigned int c, struct bench_row *row)
{
	struct smmu_stats ss;

	smmu_stats(s, &ss);
	row->dma_checks += ss.dma_checks;
	row->dma_faults += ss.dma_faults;
	if (ss.dma_faults) {
		snprintf(row->note, sizeof(row->note), "cpu %u: %llu DMA "
			 "faults: %s", c, (unsigned long long)ss.dma_faults,
			 smmu_last_error(s));
		row->verified = false;
	}
}

/* Each vCPU's status, marks and shadow; the counts of those that marked
 * their timed part. */
static void check_cpus(struct run *r, const struct bench_case *w,
		       const struct bench_params *p,
		       const struct bench_result *res,
		       const struct bvm_cpu_stats *st, struct bench_tally *t,
		       struct bench_row *row)
{
	unsigned int c;

	row->verified = true;
	for (c = 0; c < w->cpus; c++) {
		if (st[c].done_status || res[c].status) {
			snprintf(row->note, sizeof(row->note),
				 "guest %u: status %llu", c,
				 (unsigned long long)res[c].status);
			row->verified = false;
		}
		if (!r->at[c][BENCH_PHASE_START].taken ||
		    !r->at[c][BENCH_PHASE_END].taken) {
			snprintf(row->note, sizeof(row->note),
				 "guest %u: no phase marks", c);
			row->verified = false;
			continue;
		}
		if (smmu_verify(r->smmu[c])) {
			snprintf(row->note, sizeof(row->note), "cpu %u: %s", c,
				 smmu_last_error(r->smmu[c]));
			row->verified = false;
		}
		check_dma(r->smmu[c], c, row);
		bench_tally_cpu(t, w, &p[c], &res[c], &st[c], r->at[c],
				r->sink[c], row);
	}
	bench_row_check_dma(row);
}

int bench_run_one(const struct bench_opts *o, const struct bench_case *w,
		  enum bench_strategy s, const char *sname,
		  const struct bench_units *u, struct bench_row *row)
{
	struct bench_params p[BENCH_MAX_CPUS];
	struct bench_result res[BENCH_MAX_CPUS];
	struct bvm_cpu_stats st[BENCH_MAX_CPUS];
	uint64_t granule = w->granule == ~0ull ? o->granule : w->granule;
	struct bench_tally t;
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
	if (ret)
		return run_failed(&r, row, "calibration", ret);
	row->unit_exit_ns = unit.exit_ns;
	row->unit_slot_ns = unit.slot_ns;
	memset(r.at, 0, sizeof(r.at));
	for (c = 0; c < w->cpus; c++)
		params_for(o, w, s, c, &p[c]);
	ret = bvm_run(r.vm, p, res, st);
	if (ret)
		return run_failed(&r, row, "run", ret);
	bench_tally_init(&t);
	check_cpus(&r, w, p, res, st, &t, row);
	bench_tally_vm(&t, w, r.at, w->cpus);
	wpt_vm_stats(bvm_wpt(r.vm), &end, sizeof(end));
	bench_tally_row(&t, w, &unit, row);
	row->tracked_pages = end.protected_pages;
	row->slots_in_use = end.slots_in_use;
	if (!w->uffd) {
		row->slot_layout = w->layout == WPT_KVM_LAYOUT_MERGED ?
					   "merged" : "per-page";
		row->slot_budget = w->budget;
	}
	run_free(&r);
	return 0;
}

/* The unit costs printed for the whole run: exit and slot on a fresh VM
 * (each run prices its floor with its own, see bench_run_one), and a call
 * through a recording sink. */
int bench_calibrate(const struct bench_opts *o, struct bench_units *u)
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
	t = bench_now_ns();
	for (i = 0; i < n && !ret; i++)
		ret = wpt_sink_map(sink, 0x1000, 0x40000, NULL, 4096,
				   WPT_PERM_READ | WPT_PERM_WRITE) ?:
		      wpt_sink_unmap(sink, 0x1000, 4096);
	u->sink_ns = (double)(bench_now_ns() - t) / (2.0 * n);
	wpt_sink_free(sink);
	return ret;
}
