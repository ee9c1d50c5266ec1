/* SPDX-License-Identifier: MIT */
/*
 * The bench guest on the real /dev/kvm, for correctness (wpt-bench is for
 * speed): every workload under every strategy, small, wired as wpt-bench
 * wires one run (a fresh VM, a recording sink and an SMMU per vCPU, every
 * MMIO exit through the library first), each ending with the shadow
 * verified against a full walk and the exit counts the design promises:
 *
 *  - TRAP, HYBRID: the library took exactly the guest's descriptor stores
 *    between PHASE_START and PHASE_END, no more, no fewer;
 *  - INVAL, EXPLICIT: it took no store at all and protects nothing;
 *  - stream4k strict: 3 exits per map+unmap pair under TRAP and HYBRID,
 *    2 under INVAL and EXPLICIT; lazy: 2 plus the shared doorbells;
 *  - every other exit between the marks is a doorbell, a request or a
 *    PHASE_MID mark.
 *
 * Then BENCH_W_EDGES: a table installed by lock cmpxchg into a protected
 * parent, leaves written as two 4-byte halves in both orders, and an
 * unaligned 8-byte store crossing from a protected table page into an
 * unprotected one, checked at the guest's PHASE_MID checkpoints (RAM, what
 * the library protects, what the sink holds, the shadow verified).
 *
 * Sizes stay small: an exit costs ~25-65 us at CPL3 on the nested test
 * machines, and CPL0 guest code is interpreted (~300 ns an instruction).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wpt.h"
#include "wpt_internal.h"
#include "../smmu/smmu.h"
#include "../vmm/vmm.h"
#include "kvm/skip.h"

#define PAGE 4096ull
#define BLOCK (2ull << 20)
#define MIB (1ull << 20)
#define IOVA_BASE 0x100000000ull /* 4 GiB, as wpt-bench */
#define GRANULE (2ull << 20)

/* VMSAv8-64 stage 1, 4K granule: what the test reads of the guest's
 * tables. */
#define DESC_TYPE_MASK 3ull
#define DESC_TYPE_TABLE 3ull /* table (levels 0-2), page (level 3) */
#define DESC_AF (1ull << 10)
#define DESC_ADDR_MASK 0x0000fffffffff000ull

/* What BENCH_W_EDGES writes (bench/guest/work.c): UXN | PXN as a high
 * half, and the word its crossing store leaves in the next page. */
#define EDGE_XN_HIGH 0x00600000ull
#define EDGE_MARK 0x5eedc0deu
#define EDGE_LAST 511u
#define EDGE_CPS 4 /* PHASE_MID checkpoints */

struct workload {
	const char *name;
	enum bench_workload w;
	unsigned int lazy;    /* unmaps per invalidation */
	unsigned int cpus;
	uint64_t ops;         /* stream pairs, churn ops; per vCPU */
	uint64_t bulk;        /* bulk, split: bytes */
	unsigned int mids;    /* PHASE_MID marks the workload writes */
};

static const struct workload w_stream_strict = {
	"stream4k-strict", BENCH_W_STREAM4K, 1, 1, 300, 0, 0 };
static const struct workload w_stream_lazy = {
	"stream4k-lazy", BENCH_W_STREAM4K, 64, 1, 300, 0, 0 };
static const struct workload w_bulk4k = {
	"bulk4k", BENCH_W_BULK4K, 1, 1, 0, 8 * MIB, 1 };
static const struct workload w_bulk2m = {
	"bulk2m", BENCH_W_BULK2M, 1, 1, 0, 8 * MIB, 1 };
static const struct workload w_churn = {
	"churn", BENCH_W_CHURN, 1, 1, 300, 0, 0 };
static const struct workload w_split = {
	"split", BENCH_W_SPLIT, 1, 1, 0, 8 * MIB, 1 };
static const struct workload w_mt = {
	"mt", BENCH_W_STREAM4K, 1, 2, 150, 0, 0 };
/* CPL0: the guest is interpreted, so few operations. */
static const struct workload w_stream_cpl0 = {
	"stream4k-strict", BENCH_W_STREAM4K, 1, 1, 50, 0, 0 };
static const struct workload w_split_cpl0 = {
	"split", BENCH_W_SPLIT, 1, 1, 0, 4 * MIB, 1 };
static const struct workload w_edges = {
	"edges", BENCH_W_EDGES, 1, 1, 0, 0, EDGE_CPS };

/* Loop index -> strategy, for the loop tests. */
static const struct {
	const char *name;
	enum bench_strategy s;
} strategies[] = {
	{ "trap", BENCH_S_TRAP },
	{ "hybrid", BENCH_S_HYBRID },
	{ "inval", BENCH_S_INVAL },
	{ "explicit", BENCH_S_EXPLICIT },
};
#define NR_STRATEGIES 4

/* One edges checkpoint: what the VMM sees at a PHASE_MID. */
struct edge_cp {
	uint64_t exits_handled, protected_pages, gap_accesses;
	uint64_t table[4];      /* root, level 1, 2, 3 tables for IOVA_BASE */
	int prot[4], next_prot; /* protected?  next: the page after level 3 */
	uint64_t desc[4];       /* level 3 entries 0, 1, 2, 511 */
	uint32_t next_word;     /* first 4 bytes of the page after level 3 */
	bool mapped[4];         /* the sink translates IOVA_BASE + page... */
	uint64_t gpa[4];        /* ...to gpa with perm */
	uint32_t perm[4];
	long verify;
	int domain_error;
};

static const uint64_t edge_pages[4] = { 0, 1, 2, EDGE_LAST };

struct run {
	const struct workload *w;
	enum bench_strategy s;
	const char *sname;
	bool cpl0;
	struct bvm *vm;
	struct smmu *smmu[BENCH_MAX_CPUS];
	struct wpt_sink *sink[BENCH_MAX_CPUS];
	struct wpt_sink *check[BENCH_MAX_CPUS];
	struct bench_params p[BENCH_MAX_CPUS];
	struct bench_result res[BENCH_MAX_CPUS];
	struct bvm_cpu_stats st[BENCH_MAX_CPUS];
	/* wpt_vm_stats at each vCPU's phase marks (the last of each kind) */
	struct wpt_vm_stats at[BENCH_MAX_CPUS][4];
	bool taken[BENCH_MAX_CPUS][4];
	unsigned int mids[BENCH_MAX_CPUS];
	struct edge_cp cp[EDGE_CPS];
	uint64_t ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rd64(const uint8_t *ram, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, ram + gpa, sizeof(v));
	return v;
}

static uint32_t rd32(const uint8_t *ram, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, ram + gpa, sizeof(v));
	return v;
}

/* ---- what a recording sink holds ---- */

static long sink_get(const struct wpt_sink *s, struct wpt_mapping **out)
{
	long n = wpt_sink_record_get(s, NULL, 0);

	*out = NULL;
	if (n <= 0)
		return n;
	*out = calloc((size_t)n, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	return wpt_sink_record_get(s, *out, (size_t)n);
}

static uint64_t sink_bytes(const struct wpt_sink *s)
{
	struct wpt_mapping *m;
	long n = sink_get(s, &m), i;
	uint64_t bytes = 0;

	for (i = 0; i < n; i++)
		bytes += m[i].size;
	free(m);
	return bytes;
}

/* Whether the sink translates iova, and to what. */
static bool sink_lookup(const struct wpt_sink *s, uint64_t iova,
			uint64_t *gpa, uint32_t *perm)
{
	struct wpt_mapping *m;
	long n = sink_get(s, &m), i;
	bool found = false;

	for (i = 0; i < n && !found; i++) {
		if (iova >= m[i].iova && iova - m[i].iova < m[i].size) {
			*gpa = m[i].gpa + (iova - m[i].iova);
			*perm = m[i].perm;
			found = true;
		}
	}
	free(m);
	return found;
}

/* ---- the VMM side of one run, as wpt-bench's one_run() ---- */

static int on_mmio(void *opaque, unsigned int cpu, uint64_t gpa,
		   uint8_t *data, uint32_t len, bool is_write)
{
	struct run *r = opaque;

	if (cpu >= r->w->cpus || !r->smmu[cpu] || gpa < BENCH_MMIO_GPA(cpu) ||
	    gpa - BENCH_MMIO_GPA(cpu) >= BENCH_MMIO_SIZE)
		return -EFAULT;
	return smmu_mmio(r->smmu[cpu], gpa - BENCH_MMIO_GPA(cpu), data, len,
			 is_write);
}

/* An edges checkpoint: the guest's tables as RAM holds them, what the
 * library protects and the sink holds, the shadow verified. */
static void edge_snapshot(struct run *r, struct edge_cp *cp)
{
	const uint8_t *ram = bvm_ram(r->vm);
	struct wpt_vm *wpt = bvm_wpt(r->vm);
	struct wpt_domain *d = smmu_domain(r->smmu[0]);
	struct wpt_vm_stats vs;
	uint64_t t, l3;
	unsigned int i;

	memset(cp, 0, sizeof(*cp));
	wpt_vm_stats(wpt, &vs, sizeof(vs));
	cp->exits_handled = vs.exits_handled;
	cp->protected_pages = vs.protected_pages;
	cp->gap_accesses = vs.gap_accesses;
	t = rd64(ram, BENCH_CPU_GPA(0) + BENCH_OFF_CD + 8) & CD1_TTB0_MASK;
	cp->table[0] = t;
	for (i = 0; i < 3 && t && t < BENCH_RAM_SIZE; i++) {
		uint64_t pte = rd64(ram, t + 8 * ((IOVA_BASE >> (39 - 9 * i)) &
						  511));

		t = (pte & DESC_TYPE_MASK) == DESC_TYPE_TABLE ?
			    pte & DESC_ADDR_MASK : 0;
		cp->table[i + 1] = t;
	}
	for (i = 0; i < 4; i++)
		cp->prot[i] = cp->table[i] ?
				      wpt_vm_page_protected(wpt, cp->table[i]) :
				      -1;
	l3 = cp->table[3];
	if (l3 && l3 + 2 * PAGE <= BENCH_RAM_SIZE) {
		for (i = 0; i < 4; i++)
			cp->desc[i] = rd64(ram, l3 + 8 * edge_pages[i]);
		cp->next_word = rd32(ram, l3 + PAGE);
		cp->next_prot = wpt_vm_page_protected(wpt, l3 + PAGE);
	}
	for (i = 0; i < 4; i++)
		cp->mapped[i] = sink_lookup(r->sink[0],
					    IOVA_BASE + edge_pages[i] * PAGE,
					    &cp->gpa[i], &cp->perm[i]);
	cp->verify = d ? wpt_domain_verify(d) : -ENOENT;
	cp->domain_error = d ? wpt_domain_error(d) : -ENOENT;
}

/* At each phase mark, on the vCPU's thread, while it waits. */
static void on_phase(void *opaque, unsigned int cpu, unsigned int phase)
{
	struct run *r = opaque;

	if (cpu >= r->w->cpus || phase >= 4)
		return;
	wpt_vm_stats(bvm_wpt(r->vm), &r->at[cpu][phase],
		     sizeof(r->at[cpu][phase]));
	r->taken[cpu][phase] = true;
	if (phase != BENCH_PHASE_MID)
		return;
	if (r->w->w == BENCH_W_EDGES && r->mids[cpu] < EDGE_CPS)
		edge_snapshot(r, &r->cp[r->mids[cpu]]);
	r->mids[cpu]++;
}

static void params_for(const struct run *r, unsigned int cpu,
		       struct bench_params *p)
{
	const struct workload *w = r->w;
	uint64_t arena = BENCH_ARENA_SIZE / w->cpus;

	memset(p, 0, sizeof(*p));
	p->magic = BENCH_PARAMS_MAGIC;
	p->cpu = cpu;
	p->workload = w->w;
	p->strategy = r->s;
	p->lazy = w->lazy;
	p->asid = 1 + cpu;
	p->seed = 1 + cpu;
	p->window_pages = 64;
	p->bulk_bytes = w->bulk;
	p->arena_gpa = BENCH_ARENA_GPA + cpu * arena;
	p->arena_size = arena;
	p->data_gpa = BENCH_DATA_GPA;
	p->data_size = BENCH_DATA_SIZE;
	p->mmio_gpa = BENCH_MMIO_GPA(cpu);
	p->iova_base = IOVA_BASE;
	p->ias = 48;
	p->ops = w->bulk ? w->bulk / BLOCK : w->ops;
}

static void run_free(struct run *r)
{
	unsigned int c;

	for (c = 0; c < r->w->cpus; c++) {
		smmu_free(r->smmu[c]);
		if (r->sink[c])
			wpt_sink_free(r->sink[c]);
		if (r->check[c])
			wpt_sink_free(r->check[c]);
	}
	bvm_free(r->vm);
}

/* A fresh VM, sinks and SMMUs; run the workload to its DONE. */
static struct run *run_start(const struct workload *w, unsigned int si,
			     bool cpl0)
{
	struct run *r = calloc(1, sizeof(*r));
	struct bvm_cfg vc = {
		.nr_cpus = w->cpus, .cpl0 = cpl0, .slot_granule = GRANULE,
		.quiesce = true, /* as a VMM must: re-cuts with vCPUs out */
		.mmio = on_mmio, .phase = on_phase,
	};
	unsigned int c;
	uint64_t t0;
	int ret;

	ck_assert_ptr_nonnull(r);
	ck_assert_uint_lt(si, NR_STRATEGIES);
	r->w = w;
	r->s = strategies[si].s;
	r->sname = strategies[si].name;
	r->cpl0 = cpl0;
	vc.opaque = r;
	ret = bvm_new(&vc, &r->vm);
	ck_assert_msg(ret == 0, "bvm_new: %s", strerror(-ret));
	for (c = 0; c < w->cpus; c++) {
		struct smmu_cfg sc = {
			.vm = bvm_wpt(r->vm), .ram = bvm_ram(r->vm),
			.ram_gpa = 0, .ram_size = BENCH_RAM_SIZE,
			.strategy = r->s, .oas = 48,
		};

		ck_assert_int_eq(wpt_sink_record_new(&r->sink[c]), 0);
		if (r->s == BENCH_S_EXPLICIT)
			ck_assert_int_eq(wpt_sink_record_new(&r->check[c]), 0);
		sc.sink = r->sink[c];
		sc.check_sink = r->check[c];
		ck_assert_int_eq(smmu_new(&sc, &r->smmu[c]), 0);
		params_for(r, c, &r->p[c]);
	}
	t0 = now_ns();
	ret = bvm_run(r->vm, r->p, r->res, r->st);
	r->ns = now_ns() - t0;
	ck_assert_msg(ret == 0, "%s/%s%s: bvm_run: %d (%s)", w->name, r->sname,
		      cpl0 ? " cpl0" : "", ret, bvm_last_error(r->vm));
	return r;
}

/* Bytes the sink must hold after the workload (EDGES and the others
 * unmap everything they map; split leaves each block less its hole;
 * churn leaves what it still has live). */
static uint64_t expected_bytes(const struct run *r, unsigned int c)
{
	const struct bench_result *res = &r->res[c];

	switch (r->w->w) {
	case BENCH_W_SPLIT:
		return res->maps * BLOCK - res->unmaps * PAGE;
	case BENCH_W_CHURN:
		return (res->maps - res->unmaps) * PAGE;
	default:
		return 0;
	}
}

/* Operations the guest must report having done. */
static void check_ops(const struct run *r, unsigned int c, const char *who)
{
	const struct bench_result *res = &r->res[c];
	const struct bench_params *p = &r->p[c];

	switch (r->w->w) {
	case BENCH_W_STREAM4K:
		ck_assert_msg(res->maps == p->ops && res->unmaps == p->ops,
			      "%s: %llu maps, %llu unmaps of %llu", who,
			      (unsigned long long)res->maps,
			      (unsigned long long)res->unmaps,
			      (unsigned long long)p->ops);
		break;
	case BENCH_W_BULK4K:
		ck_assert_uint_eq(res->maps, p->bulk_bytes / PAGE);
		ck_assert_uint_eq(res->unmaps, p->bulk_bytes / PAGE);
		break;
	case BENCH_W_BULK2M:
		ck_assert_uint_eq(res->maps, p->bulk_bytes / BLOCK);
		ck_assert_uint_eq(res->unmaps, p->bulk_bytes / BLOCK);
		break;
	case BENCH_W_SPLIT:
		ck_assert_uint_eq(res->maps, p->bulk_bytes / BLOCK);
		ck_assert_uint_eq(res->unmaps, p->bulk_bytes / BLOCK);
		/* the level 1 and 2 tables the first block needs, then one
		 * new table per split */
		ck_assert_uint_eq(res->tables_alloc, 2 + p->bulk_bytes / BLOCK);
		break;
	case BENCH_W_CHURN:
		ck_assert_uint_eq(res->maps + res->unmaps, p->ops);
		ck_assert_uint_gt(res->unmaps, 0);
		break;
	case BENCH_W_EDGES:
		ck_assert_uint_eq(res->maps, 4);
		ck_assert_uint_eq(res->unmaps, 4);
		ck_assert_uint_eq(res->tables_alloc, 3);
		ck_assert_uint_eq(res->tables_freed, 0);
		ck_assert_uint_eq(res->leaf_stores, 14);
		ck_assert_uint_eq(res->invals,
				  r->s == BENCH_S_INVAL ? 11 : 4);
		break;
	default:
		break;
	}
}

/*
 * stream4k between the marks.  Strict: a pair is the map's store, the
 * unmap's store and the unmap's doorbell under TRAP and HYBRID; two
 * doorbells (INVAL) or two requests (EXPLICIT) otherwise.  Lazy: the
 * unmaps' doorbell is one per window of pairs (the window is 64, as
 * lazy), INVAL still rings once per map, EXPLICIT still asks twice.
 */
static void check_stream_exits(const struct run *r, unsigned int c,
			       uint64_t exits, const char *who)
{
	uint64_t pairs = r->p[c].ops, flushes, want;
	unsigned int lazy = r->w->lazy;

	flushes = lazy == 1 ? pairs : (pairs + lazy - 1) / lazy;
	switch (r->s) {
	case BENCH_S_TRAP:
	case BENCH_S_HYBRID:
		want = 2 * pairs + flushes;
		break;
	case BENCH_S_INVAL:
		want = pairs + flushes;
		break;
	default:
		want = 2 * pairs;
		break;
	}
	ck_assert_msg(exits == want, "%s: %llu exits for %llu pairs, want %llu",
		      who, (unsigned long long)exits,
		      (unsigned long long)pairs, (unsigned long long)want);
	if (lazy == 1)
		ck_assert_uint_eq(exits, (r->s == BENCH_S_TRAP ||
					  r->s == BENCH_S_HYBRID ? 3 : 2) *
						 pairs);
}

/*
 * What every run must show for vCPU c: a clean finish, a verified shadow,
 * no error anywhere, and the exits between the marks accounted for.
 */
static void check_cpu(const struct run *r, unsigned int c)
{
	const struct bvm_cpu_stats *st = &r->st[c];
	const struct bench_result *res = &r->res[c];
	const struct workload *w = r->w;
	struct smmu_stats ss;
	struct wpt_domain *d;
	uint64_t exits, lib, dev, bytes;
	bool trap = r->s == BENCH_S_TRAP || r->s == BENCH_S_HYBRID;
	char who[64];
	int ret;

	snprintf(who, sizeof(who), "%s/%s%s cpu %u", w->name, r->sname,
		 r->cpl0 ? " cpl0" : "", c);
	ck_assert_msg(st->done_status == 0 && res->status == 0,
		      "%s: guest status %llu", who,
		      (unsigned long long)res->status);
	ck_assert_msg(r->taken[c][BENCH_PHASE_START] &&
		      r->taken[c][BENCH_PHASE_END], "%s: no phase marks", who);
	ck_assert_uint_eq(r->mids[c], w->mids);
	ret = smmu_verify(r->smmu[c]);
	ck_assert_msg(ret == 0, "%s: smmu_verify %d: %s", who, ret,
		      smmu_last_error(r->smmu[c]));
	d = smmu_domain(r->smmu[c]);
	ck_assert_ptr_nonnull(d);
	ck_assert_msg(wpt_domain_error(d) == 0, "%s: domain error %d", who,
		      wpt_domain_error(d));
	smmu_stats(r->smmu[c], &ss);
	ck_assert_msg(!ss.domain_errors && !ss.cmd_errors && !ss.req_errors,
		      "%s: smmu errors: domain %llu cmd %llu req %llu (%s)",
		      who, (unsigned long long)ss.domain_errors,
		      (unsigned long long)ss.cmd_errors,
		      (unsigned long long)ss.req_errors,
		      smmu_last_error(r->smmu[c]));
	check_ops(r, c, who);
	bytes = sink_bytes(r->sink[c]);
	ck_assert_msg(bytes == expected_bytes(r, c),
		      "%s: sink holds %llu bytes, expected %llu", who,
		      (unsigned long long)bytes,
		      (unsigned long long)expected_bytes(r, c));

	/* Between the marks (END's own exit left out): trapped stores,
	 * device exits (doorbells, requests) and the MID marks. */
	exits = st->exits_at_phase[BENCH_PHASE_END] -
		st->exits_at_phase[BENCH_PHASE_START] - 1;
	lib = st->lib_exits_at_phase[BENCH_PHASE_END] -
	      st->lib_exits_at_phase[BENCH_PHASE_START];
	dev = st->dev_exits_at_phase[BENCH_PHASE_END] -
	      st->dev_exits_at_phase[BENCH_PHASE_START];
	ck_assert_msg(exits == lib + dev + w->mids,
		      "%s: %llu exits = %llu trapped + %llu device + %u marks?",
		      who, (unsigned long long)exits, (unsigned long long)lib,
		      (unsigned long long)dev, w->mids);
	ck_assert_msg(dev == res->invals + res->requests,
		      "%s: %llu device exits, %llu doorbells + %llu requests",
		      who, (unsigned long long)dev,
		      (unsigned long long)res->invals,
		      (unsigned long long)res->requests);
	ck_assert_uint_eq(res->requests > 0, r->s == BENCH_S_EXPLICIT);
	if (trap) {
		ck_assert_uint_gt(res->leaf_stores, 0);
		ck_assert_msg(lib == res->leaf_stores,
			      "%s: library took %llu stores, guest made %llu",
			      who, (unsigned long long)lib,
			      (unsigned long long)res->leaf_stores);
		if (w->cpus == 1)
			ck_assert_uint_eq(
				r->at[c][BENCH_PHASE_END].exits_handled -
					r->at[c][BENCH_PHASE_START].exits_handled,
				res->leaf_stores);
	} else {
		ck_assert_msg(st->lib_exits == 0, "%s: %llu trapped stores",
			      who, (unsigned long long)st->lib_exits);
	}
	if (w->w == BENCH_W_STREAM4K)
		check_stream_exits(r, c, exits, who);
}

static void run_check(struct run *r)
{
	struct wpt_vm_stats vs;
	unsigned int c;
	uint64_t exits = 0, lib = 0;

	for (c = 0; c < r->w->cpus; c++) {
		check_cpu(r, c);
		exits += r->st[c].mmio_exits;
		lib += r->st[c].lib_exits;
	}
	ck_assert_int_eq(wpt_vm_stats(bvm_wpt(r->vm), &vs, sizeof(vs)), 0);
	ck_assert_uint_eq(vs.errors, 0);
	ck_assert_uint_eq(vs.out_of_ram, 0);
	if (r->s == BENCH_S_INVAL || r->s == BENCH_S_EXPLICIT) {
		ck_assert_uint_eq(vs.exits_handled, 0);
		ck_assert_uint_eq(vs.protected_pages, 0);
	}
	printf("%-16s %-8s %s: %6.1f ms, %5llu exits, %5llu trapped, "
	       "%llu table pages protected\n", r->w->name, r->sname,
	       r->cpl0 ? "cpl0" : "cpl3", (double)r->ns / 1e6,
	       (unsigned long long)exits, (unsigned long long)lib,
	       (unsigned long long)vs.protected_pages);
}

static void run_workload(const struct workload *w, unsigned int si,
			 bool cpl0)
{
	struct run *r = run_start(w, si, cpl0);

	run_check(r);
	run_free(r);
	free(r);
}

/* ---- every workload under every strategy (the loop index) ---- */

START_TEST(stream4k_strict)
{
	run_workload(&w_stream_strict, (unsigned int)_i, false);
}
END_TEST

START_TEST(stream4k_lazy)
{
	run_workload(&w_stream_lazy, (unsigned int)_i, false);
}
END_TEST

START_TEST(bulk4k)
{
	run_workload(&w_bulk4k, (unsigned int)_i, false);
}
END_TEST

START_TEST(bulk2m)
{
	run_workload(&w_bulk2m, (unsigned int)_i, false);
}
END_TEST

START_TEST(churn)
{
	run_workload(&w_churn, (unsigned int)_i, false);
}
END_TEST

START_TEST(split)
{
	run_workload(&w_split, (unsigned int)_i, false);
}
END_TEST

START_TEST(mt_two_vcpus)
{
	run_workload(&w_mt, (unsigned int)_i, false);
}
END_TEST

START_TEST(stream4k_cpl0)
{
	run_workload(&w_stream_cpl0, (unsigned int)_i, true);
}
END_TEST

START_TEST(split_cpl0)
{
	run_workload(&w_split_cpl0, (unsigned int)_i, true);
}
END_TEST

/* ---- the edge cases ---- */

/* Step 3 of the edge cases: a store that crosses from a protected table
 * page into an unprotected one. */
static void check_edge_crossing(const struct run *r, uint64_t attrs)
{
	const struct edge_cp *cp = r->cp;
	bool trap = r->s != BENCH_S_INVAL;
	uint64_t base = r->at[0][BENCH_PHASE_START].exits_handled;
	uint64_t data = BENCH_DATA_GPA, last;

	/* 3: the store from the last descriptor's high half into the next
	 * page: RAM holds all 8 bytes, the library saw one store (the
	 * protected part; KVM wrote the rest itself), the next page was
	 * never protected, and the leaf maps what it did. */
	last = (data + 3 * PAGE) | attrs | EDGE_XN_HIGH << 32;
	ck_assert_uint_eq(cp[3].desc[3], last);
	ck_assert_uint_eq(cp[3].next_word, EDGE_MARK);
	ck_assert_int_eq(cp[3].next_prot, 0);
	ck_assert_int_eq(cp[3].prot[3], trap);
	ck_assert_uint_eq(cp[3].exits_handled - base, trap ? 10 : 0);
	ck_assert(cp[3].mapped[3]);
	ck_assert_uint_eq(cp[3].gpa[3], data + 3 * PAGE);
	ck_assert_uint_eq(cp[3].perm[3], WPT_PERM_READ | WPT_PERM_WRITE);
	ck_assert(cp[3].mapped[0] && cp[3].mapped[1] && cp[3].mapped[2]);
	/* Who wrote the unprotected part: KVM splits the store at the page
	 * boundary and writes what falls in a writable slot itself, so the
	 * library sees the first 4 bytes only; had it been handed all 8, it
	 * would have stored the rest as an access outside any table (a
	 * "gap" access).  Either is correct; say which happened. */
	ck_assert_uint_le(cp[3].gap_accesses - cp[2].gap_accesses, 1);
	if (trap)
		printf("edges %s: the crossing store reached the library as "
		       "%s\n", r->sname,
		       cp[3].gap_accesses == cp[2].gap_accesses ?
			       "its 4 protected bytes (KVM wrote the rest)" :
			       "all 8 bytes (the library wrote the rest)");
}

static void check_edges(const struct run *r)
{
	const struct edge_cp *cp = r->cp;
	bool trap = r->s != BENCH_S_INVAL;
	uint64_t base = r->at[0][BENCH_PHASE_START].exits_handled;
	uint64_t data = BENCH_DATA_GPA, attrs, a, b;
	unsigned int i, k;

	/* 1: three tables installed by lock cmpxchg, each into a parent the
	 * library protects, and one leaf: four trapped stores under
	 * TRAP/HYBRID, each new table tracked and protected at once. */
	for (i = 0; i < 4; i++) {
		ck_assert_msg(cp[0].table[i], "no level %u table", i);
		ck_assert_int_eq(cp[0].prot[i], trap);
	}
	ck_assert_uint_eq(cp[0].exits_handled - base, trap ? 4 : 0);
	ck_assert_uint_eq(cp[0].protected_pages, trap ? 4 : 0);
	attrs = cp[0].desc[0] & ~DESC_ADDR_MASK;
	ck_assert_uint_eq(cp[0].desc[0], data | attrs);
	ck_assert_uint_eq(attrs & DESC_TYPE_MASK, DESC_TYPE_TABLE);
	ck_assert(attrs & DESC_AF);
	ck_assert(cp[0].mapped[0]);
	ck_assert_uint_eq(cp[0].gpa[0], data);
	ck_assert_uint_eq(cp[0].perm[0], WPT_PERM_READ | WPT_PERM_WRITE);
	ck_assert(!cp[0].mapped[1] && !cp[0].mapped[2] && !cp[0].mapped[3]);

	/* 2: after the first half of each leaf.  a (low half first) is a
	 * valid page whose high half is 0: it maps its low half's address;
	 * b (high half first) has no valid bit yet: nothing. */
	a = (data + PAGE) | attrs | EDGE_XN_HIGH << 32;
	b = (data + 2 * PAGE) | attrs | EDGE_XN_HIGH << 32;
	ck_assert_uint_eq(cp[1].desc[1], a & 0xffffffffull);
	ck_assert_uint_eq(cp[1].desc[2], b & ~0xffffffffull);
	ck_assert_uint_eq(cp[1].exits_handled - base, trap ? 6 : 0);
	ck_assert(cp[1].mapped[1]);
	ck_assert_uint_eq(cp[1].gpa[1], data + PAGE);
	ck_assert_uint_eq(cp[1].perm[1], WPT_PERM_READ | WPT_PERM_WRITE);
	ck_assert(!cp[1].mapped[2]);

	/* ...and after the second halves: both whole, both mapped (the XN
	 * bits change nothing a device's mapping of RAM has). */
	ck_assert_uint_eq(cp[2].desc[1], a);
	ck_assert_uint_eq(cp[2].desc[2], b);
	ck_assert_uint_eq(cp[2].exits_handled - base, trap ? 8 : 0);
	for (i = 1; i <= 2; i++) {
		ck_assert(cp[2].mapped[i]);
		ck_assert_uint_eq(cp[2].gpa[i], data + i * PAGE);
		ck_assert_uint_eq(cp[2].perm[i],
				  WPT_PERM_READ | WPT_PERM_WRITE);
	}

	check_edge_crossing(r, attrs);

	/* The tables stayed where they were, and at every checkpoint the
	 * shadow verified. */
	for (k = 0; k < EDGE_CPS; k++) {
		ck_assert_msg(cp[k].verify == 0 && cp[k].domain_error == 0,
			      "checkpoint %u: verify %ld, domain error %d",
			      k + 1, cp[k].verify, cp[k].domain_error);
		for (i = 0; i < 4; i++)
			ck_assert_uint_eq(cp[k].table[i], cp[0].table[i]);
	}
}

static void edges_at(unsigned int si, bool cpl0)
{
	struct run *r = run_start(&w_edges, si, cpl0);

	run_check(r);
	check_edges(r);
	run_free(r);
	free(r);
}

/* TRAP, HYBRID, INVAL (loop index 0..2). */
START_TEST(edges)
{
	edges_at((unsigned int)_i, false);
}
END_TEST

START_TEST(edges_trap_cpl0)
{
	edges_at(0, true);
}
END_TEST

/* The guest refuses EDGES under EXPLICIT (it would have to describe half
 * leaves in requests) before touching a table. */
START_TEST(edges_explicit_refused)
{
	struct run *r = run_start(&w_edges, 3, false);

	ck_assert_uint_eq(r->res[0].status, BENCH_E_PARAMS);
	ck_assert_uint_eq(r->st[0].done_status, BENCH_E_PARAMS);
	ck_assert_uint_eq(r->mids[0], 0);
	ck_assert(!r->taken[0][BENCH_PHASE_START]);
	ck_assert_int_eq(smmu_verify(r->smmu[0]), 0);
	ck_assert_uint_eq(sink_bytes(r->sink[0]), 0);
	run_free(r);
	free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bench_guest");
	TCase *tc = tcase_create("workloads");
	TCase *te = tcase_create("edges");
	SRunner *sr;
	int failed;

	kvm_require();
	setvbuf(stdout, NULL, _IOLBF, 0);
	tcase_set_timeout(tc, 60);
	tcase_set_timeout(te, 60);
	tcase_add_loop_test(tc, stream4k_strict, 0, NR_STRATEGIES);
	tcase_add_loop_test(tc, stream4k_lazy, 0, NR_STRATEGIES);
	tcase_add_loop_test(tc, bulk4k, 0, NR_STRATEGIES);
	tcase_add_loop_test(tc, bulk2m, 0, NR_STRATEGIES);
	tcase_add_loop_test(tc, churn, 0, NR_STRATEGIES);
	tcase_add_loop_test(tc, split, 0, NR_STRATEGIES);
	tcase_add_loop_test(tc, mt_two_vcpus, 0, NR_STRATEGIES);
	tcase_add_loop_test(tc, stream4k_cpl0, 0, NR_STRATEGIES);
	tcase_add_loop_test(tc, split_cpl0, 0, NR_STRATEGIES);
	tcase_add_loop_test(te, edges, 0, 3);
	tcase_add_test(te, edges_trap_cpl0);
	tcase_add_test(te, edges_explicit_refused);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, te);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
