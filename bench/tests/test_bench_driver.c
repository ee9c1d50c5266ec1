/* SPDX-License-Identifier: MIT */
/*
 * The bench guest's IOMMU driver (bench/guest/drv.c, pgtable.c, cmdq.c,
 * work.c) run hosted, without KVM: its platform layer is defined here over
 * a RAM buffer at GPA 0, a wpt_vm with callback protection write-protects table
 * pages, a guest store to a protected page goes through
 * wpt_vm_handle_mmio exactly as a trapped KVM store would, and register
 * accesses to the SMMU page go to the bench's SMMU emulation
 * (bench/smmu/) after passing the library first, as the bench VMM wires
 * them.  Every workload and strategy must run, leave a shadow that
 * verifies, and cost exactly the exits the design says.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "wpt.h"
#include "../smmu/smmu.h"

/* The driver, linked into this program with the plat_* below. */
#include "../guest/drv.h"
#include "../guest/pgtable.h"
#include "../guest/plat.h"

#define T_PAGES (BENCH_RAM_SIZE >> 12)
#define T_MMIO BENCH_MMIO_GPA(0)
#define T_IOVA 0x100000000ull /* 4 GiB: stream, bulk and split start here */

/* ---- the VM a test runs the driver in (one per forked test) ---- */

struct env {
	uint8_t *ram;
	uint8_t prot[T_PAGES];
	struct wpt_vm *vm;
	struct wpt_sink *sink, *check;
	struct smmu *s;
	uint64_t arena_lo, arena_hi; /* where table stores may go */
	/* Exits, as the VMM would count them: trapped stores plus accesses
	 * to the SMMU's registers (the harness registers apart). */
	uint64_t exits, trapped, trapped_cmpxchg, zero_trapped;
	uint64_t doorbells, requests, reg_reads, phases;
	uint64_t bells;   /* the device's doorbell (not the SMMU's exits) */
	uint64_t exits_at[4], trapped_at[4], doorbells_at[4], requests_at[4];
};

static struct env E;

static int t_protect(void *o, uint64_t gpa, uint64_t size)
{
	uint64_t p;

	for (p = gpa; p < gpa + size; p += 4096) {
		ck_assert_uint_lt(p >> 12, T_PAGES);
		ck_assert_msg(!E.prot[p >> 12], "page %llx protected twice",
			      (unsigned long long)p);
		E.prot[p >> 12] = 1;
	}
	return 0;
}

static int t_unprotect(void *o, uint64_t gpa, uint64_t size)
{
	uint64_t p;

	for (p = gpa; p < gpa + size; p += 4096) {
		ck_assert_msg(E.prot[p >> 12], "page %llx unprotected twice",
			      (unsigned long long)p);
		E.prot[p >> 12] = 0;
	}
	return 0;
}

static const struct wpt_protect_ops t_prot_ops = {
	.protect = t_protect,
	.unprotect = t_unprotect,
};

static void env_new(enum bench_strategy strategy)
{
	struct wpt_ram_region r;
	struct wpt_vm_cfg cfg = { .size = sizeof(cfg) };
	struct smmu_cfg sc;

	memset(&E, 0, sizeof(E));
	E.ram = mmap(NULL, BENCH_RAM_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert(E.ram != MAP_FAILED);
	r = (struct wpt_ram_region){ 0, BENCH_RAM_SIZE, E.ram };
	cfg.regions = &r;
	cfg.nr_regions = 1;
	cfg.protect_ops = &t_prot_ops;
	ck_assert_int_eq(wpt_vm_new(&cfg, &E.vm), 0);
	/* As the bench VMM does: the device's doorbell is a sync point. */
	ck_assert_int_eq(wpt_vm_add_doorbell(E.vm, T_MMIO + SMMU_R_DEV_BELL,
					     8), 0);
	ck_assert_int_eq(wpt_sink_record_new(&E.sink), 0);
	if (strategy == BENCH_S_EXPLICIT)
		ck_assert_int_eq(wpt_sink_record_new(&E.check), 0);
	sc = (struct smmu_cfg){
		.vm = E.vm, .ram = E.ram, .ram_gpa = 0,
		.ram_size = BENCH_RAM_SIZE, .strategy = strategy,
		.sink = E.sink, .check_sink = E.check, .oas = 48,
	};
	ck_assert_int_eq(smmu_new(&sc, &E.s), 0);
	E.arena_lo = BENCH_ARENA_GPA;
	E.arena_hi = BENCH_ARENA_GPA + BENCH_ARENA_SIZE;
}

static void env_reset_counts(void)
{
	E.exits = E.trapped = E.trapped_cmpxchg = E.zero_trapped = 0;
	E.doorbells = E.requests = E.reg_reads = E.phases = 0;
	memset(E.exits_at, 0, sizeof(E.exits_at));
	memset(E.trapped_at, 0, sizeof(E.trapped_at));
	memset(E.doorbells_at, 0, sizeof(E.doorbells_at));
	memset(E.requests_at, 0, sizeof(E.requests_at));
}

static void env_free(void)
{
	smmu_free(E.s);
	wpt_sink_free(E.sink);
	wpt_sink_free(E.check);
	wpt_vm_free(E.vm);
	munmap(E.ram, BENCH_RAM_SIZE);
}

/* ---- the platform layer over E ---- */

static void ram_check(uint64_t gpa, uint32_t len)
{
	ck_assert_msg(gpa + len <= BENCH_RAM_SIZE && gpa + len > gpa,
		      "guest access at %llx outside RAM",
		      (unsigned long long)gpa);
}

/* A guest store: through the library when its page is read-only. */
static void guest_store(uint64_t gpa, uint64_t v)
{
	bool table_area = gpa >= E.arena_lo && gpa < E.arena_hi;
	bool cpu_area = gpa >= BENCH_CPU_GPA(0) &&
			gpa < BENCH_CPU_GPA(0) + BENCH_CPU_AREA;

	ram_check(gpa, 8);
	ck_assert_msg(table_area || cpu_area,
		      "guest store at %llx: neither its arena nor its area",
		      (unsigned long long)gpa);
	ck_assert_uint_eq(gpa & 7, 0);
	if (E.prot[gpa >> 12]) {
		ck_assert_int_eq(wpt_vm_handle_mmio(E.vm, gpa, &v, 8, 1), 1);
		E.trapped++;
		E.exits++;
	} else {
		memcpy(E.ram + gpa, &v, 8);
	}
}

uint64_t plat_read64(uint64_t gpa)
{
	uint64_t v;

	ram_check(gpa, 8);
	memcpy(&v, E.ram + gpa, 8);
	return v;
}

uint32_t plat_read32(uint64_t gpa)
{
	uint32_t v;

	ram_check(gpa, 4);
	memcpy(&v, E.ram + gpa, 4);
	return v;
}

void plat_store64(uint64_t gpa, uint64_t v)
{
	guest_store(gpa, v);
}

/* KVM emulates a lock cmpxchg to a read-only slot as its compare and, on
 * success, one 8-byte write exit. */
uint64_t plat_cmpxchg64(uint64_t gpa, uint64_t old, uint64_t new_val)
{
	uint64_t cur = plat_read64(gpa);

	if (cur != old)
		return cur;
	if (E.prot[gpa >> 12])
		E.trapped_cmpxchg++;
	guest_store(gpa, new_val);
	return old;
}

void plat_zero_page(uint64_t gpa)
{
	uint32_t i;

	ck_assert_uint_eq(gpa & 4095, 0);
	if (!E.prot[gpa >> 12]) {
		ram_check(gpa, 4096);
		ck_assert(gpa >= E.arena_lo && gpa < E.arena_hi);
		memset(E.ram + gpa, 0, 4096);
		return;
	}
	E.zero_trapped++;
	for (i = 0; i < 512; i++)
		guest_store(gpa + i * 8, 0);
}

void plat_write_cmd(uint64_t gpa, uint64_t w0, uint64_t w1)
{
	guest_store(gpa, w0);
	guest_store(gpa + 8, w1);
}

/* A register access: the library first (it must say "not ours"), then
 * the harness registers here, the rest to the SMMU. */
static void reg_access(uint64_t gpa, void *data, uint32_t len, bool write)
{
	uint64_t off = gpa - T_MMIO;
	uint64_t v = 0;

	ck_assert_int_eq(wpt_vm_handle_mmio(E.vm, gpa, data, len, write), 0);
	ck_assert_msg(gpa >= T_MMIO && off < BENCH_MMIO_SIZE,
		      "register access at %llx", (unsigned long long)gpa);
	memcpy(&v, data, len);
	switch (off) {
	case SMMU_R_NOP:
		return;
	case SMMU_R_PHASE:
		ck_assert(write && len == 8);
		ck_assert_uint_ge(v, BENCH_PHASE_START);
		ck_assert_uint_le(v, BENCH_PHASE_END);
		E.exits_at[v] = E.exits;
		E.trapped_at[v] = E.trapped;
		E.doorbells_at[v] = E.doorbells;
		E.requests_at[v] = E.requests;
		E.phases |= 1u << v;
		return;
	case SMMU_R_DONE:
		ck_abort_msg("the driver wrote DONE: main.c's job");
		return;
	case SMMU_R_DEV_BELL:
		/* The device's: counted apart, so the exit counts below stay
		 * the IOMMU's; the SMMU model runs its DMA check. */
		ck_assert(write && len == 8);
		E.bells++;
		ck_assert_int_eq(smmu_mmio(E.s, off, data, len, write), 0);
		return;
	case SMMU_R_CMDQ_PROD:
		E.doorbells += write;
		break;
	case SMMU_R_REQ:
		E.requests += write;
		break;
	}
	if (!write)
		E.reg_reads++;
	E.exits++;
	ck_assert_msg(smmu_mmio(E.s, off, data, len, write) == 0,
		      "smmu_mmio off %llx len %u: %s", (unsigned long long)off,
		      len, smmu_last_error(E.s));
}

void plat_mmio_write64(uint64_t gpa, uint64_t v)
{
	reg_access(gpa, &v, 8, true);
}

void plat_mmio_write32(uint64_t gpa, uint32_t v)
{
	reg_access(gpa, &v, 4, true);
}

uint32_t plat_mmio_read32(uint64_t gpa)
{
	uint32_t v = 0;

	reg_access(gpa, &v, 4, false);
	return v;
}

uint64_t plat_rdtsc(void)
{
	static uint64_t t;

	return t += 10;
}

void plat_fence(void)
{
}

/* ---- parameters, runs and the shadow's verification ---- */

static struct bench_params params(enum bench_workload w,
				  enum bench_strategy s)
{
	return (struct bench_params){
		.magic = BENCH_PARAMS_MAGIC, .cpu = 0, .workload = w,
		.strategy = s, .lazy = 1, .asid = 5, .ops = 200, .seed = 42,
		.window_pages = 64, .bulk_bytes = 8ull << 20,
		.arena_gpa = BENCH_ARENA_GPA, .arena_size = BENCH_ARENA_SIZE / 2,
		.data_gpa = BENCH_DATA_GPA, .data_size = BENCH_DATA_SIZE,
		.mmio_gpa = T_MMIO, .iova_base = T_IOVA, .ias = 48,
	};
}

static void verify(void)
{
	struct smmu_stats st;
	struct wpt_domain *d = smmu_domain(E.s);

	ck_assert_ptr_nonnull(d);
	ck_assert_msg(smmu_verify(E.s) == 0, "verify: %s",
		      smmu_last_error(E.s));
	ck_assert_int_eq(wpt_domain_error(d), 0);
	smmu_stats(E.s, &st);
	ck_assert_uint_eq(st.cmd_errors, 0);
	ck_assert_uint_eq(st.req_errors, 0);
	ck_assert_uint_eq(st.domain_errors, 0);
	/* Every map call rang the device, and every ring found its range
	 * mapped to its GPAs. */
	ck_assert_uint_eq(st.dma_checks, E.bells);
	ck_assert_msg(st.dma_faults == 0, "DMA faults: %s",
		      smmu_last_error(E.s));
}

/* Run p, expect 0, the three phase marks, a verified shadow and no
 * table page zeroed while protected. */
static void run_ok(const struct bench_params *p, struct bench_result *r)
{
	int ret;

	memset(r, 0, sizeof(*r));
	ret = work_main(p, r);
	ck_assert_msg(ret == 0, "work_main: %d (%s)", ret, smmu_last_error(E.s));
	ck_assert(E.phases & (1u << BENCH_PHASE_START));
	ck_assert(E.phases & (1u << BENCH_PHASE_END));
	ck_assert_uint_eq(E.zero_trapped, 0);
	/* CONS is read only when the queue is full: never here. */
	ck_assert_uint_eq(E.reg_reads, 0);
	verify();
	/* Every workload maps in its timed part, and rings the device after
	 * each map call there: no bench row goes without DMA checks. */
	ck_assert_uint_gt(r->map_calls, 0);
	ck_assert_uint_eq(r->dma_bells, r->map_calls);
	if (p->strategy == BENCH_S_INVAL || p->strategy == BENCH_S_EXPLICIT)
		ck_assert_uint_eq(E.trapped, 0);
	if (p->strategy == BENCH_S_EXPLICIT)
		ck_assert_uint_eq(E.doorbells, 1); /* the CFGI_CD's */
	else
		ck_assert_uint_eq(E.requests, 0);
	ck_assert_uint_eq(r->invals, E.doorbells_at[BENCH_PHASE_END] -
					     E.doorbells_at[BENCH_PHASE_START]);
	ck_assert_uint_eq(r->requests, E.requests_at[BENCH_PHASE_END] -
					       E.requests_at[BENCH_PHASE_START]);
	if (p->strategy != BENCH_S_INVAL && p->strategy != BENCH_S_EXPLICIT)
		/* Every descriptor store to a live table trapped, alone. */
		ck_assert_uint_eq(r->leaf_stores,
				  E.trapped_at[BENCH_PHASE_END] -
					  E.trapped_at[BENCH_PHASE_START]);
	ck_assert_uint_ge(r->tsc_end, r->tsc_start);
}

#define SPAN(a, b, x) (E.x##_at[b] - E.x##_at[a])
#define TIMED(x) SPAN(BENCH_PHASE_START, BENCH_PHASE_END, x)

static const enum bench_strategy strategies[] = {
	BENCH_S_TRAP, BENCH_S_HYBRID, BENCH_S_INVAL, BENCH_S_EXPLICIT,
};

/* ---- every workload under every strategy ---- */

/* stream4k: 3 exits a pair under strict trap (two trapped stores and the
 * unmap's doorbell), 2 under inval (two doorbells) and explicit (two
 * requests). */
START_TEST(stream4k_strict)
{
	enum bench_strategy s = strategies[_i];
	struct bench_params p = params(BENCH_W_STREAM4K, s);
	struct bench_result r;
	uint64_t n = p.ops;

	env_new(s);
	run_ok(&p, &r);
	ck_assert_uint_eq(r.maps, n);
	ck_assert_uint_eq(r.unmaps, n);
	ck_assert_uint_eq(r.leaf_stores, 2 * n);
	ck_assert_uint_eq(r.tables_alloc, 0);
	ck_assert_uint_eq(r.tables_freed, 0);
	switch (s) {
	case BENCH_S_TRAP:
	case BENCH_S_HYBRID:
		ck_assert_uint_eq(TIMED(exits), 3 * n);
		ck_assert_uint_eq(TIMED(trapped), 2 * n);
		ck_assert_uint_eq(TIMED(doorbells), n);
		break;
	case BENCH_S_INVAL:
		ck_assert_uint_eq(TIMED(exits), 2 * n);
		ck_assert_uint_eq(TIMED(doorbells), 2 * n);
		break;
	default:
		ck_assert_uint_eq(TIMED(exits), 2 * n);
		ck_assert_uint_eq(TIMED(requests), 2 * n);
		break;
	}
	ck_assert_uint_eq(r.invals, TIMED(doorbells));
	env_free();
}
END_TEST

/* Lazy: one doorbell per `lazy` unmaps, so trap costs 2 + 1/lazy. */
START_TEST(stream4k_lazy)
{
	enum bench_strategy s = strategies[_i];
	struct bench_params p = params(BENCH_W_STREAM4K, s);
	struct bench_result r;
	uint64_t n = 256, lazy = 16;

	p.ops = n;
	p.lazy = (uint32_t)lazy;
	env_new(s);
	run_ok(&p, &r);
	switch (s) {
	case BENCH_S_TRAP:
	case BENCH_S_HYBRID:
		ck_assert_uint_eq(TIMED(exits), 2 * n + n / lazy);
		ck_assert_uint_eq(TIMED(doorbells), n / lazy);
		break;
	case BENCH_S_INVAL:
		ck_assert_uint_eq(TIMED(exits), n + n / lazy);
		break;
	default:
		ck_assert_uint_eq(TIMED(exits), 2 * n);
		break;
	}
	env_free();
}
END_TEST

/* A window smaller than lazy flushes before an IOVA comes round again. */
START_TEST(stream4k_lazy_small_window)
{
	struct bench_params p = params(BENCH_W_STREAM4K, BENCH_S_HYBRID);
	struct bench_result r;

	p.ops = 100;
	p.lazy = 64;
	p.window_pages = 10;
	env_new(BENCH_S_HYBRID);
	run_ok(&p, &r);
	ck_assert_uint_eq(TIMED(doorbells), 10);
	ck_assert_uint_eq(TIMED(exits), 2 * 100 + 10);
	env_free();
}
END_TEST

/* A window over several level-3 tables, none freed by the stream. */
START_TEST(stream4k_wide_window)
{
	struct bench_params p = params(BENCH_W_STREAM4K, BENCH_S_TRAP);
	struct bench_result r;

	p.ops = 1200;
	p.window_pages = 1100;
	p.iova_base = T_IOVA + 0x1ff000; /* straddles 2 MiB boundaries */
	env_new(BENCH_S_TRAP);
	run_ok(&p, &r);
	ck_assert_uint_eq(TIMED(exits), 3 * 1200);
	ck_assert_uint_eq(r.tables_alloc, 0);
	env_free();
}
END_TEST

/* bulk 4K: 2 MiB calls; each unmap clears one level-2 entry with one
 * store and frees the table under it after its invalidation. */
START_TEST(bulk4k)
{
	enum bench_strategy s = strategies[_i];
	struct bench_params p = params(BENCH_W_BULK4K, s);
	struct bench_result r;
	uint64_t blocks = p.bulk_bytes >> 21;

	env_new(s);
	run_ok(&p, &r);
	ck_assert(E.phases & (1u << BENCH_PHASE_MID));
	ck_assert_uint_eq(r.maps, blocks * 512);
	ck_assert_uint_eq(r.unmaps, blocks * 512);
	ck_assert_uint_eq(r.tables_freed, blocks);
	/* root present; L1, L2 on the way; one L3 a block */
	ck_assert_uint_eq(r.tables_alloc, blocks + 2);
	switch (s) {
	case BENCH_S_TRAP:
	case BENCH_S_HYBRID:
		ck_assert_uint_eq(SPAN(BENCH_PHASE_START, BENCH_PHASE_MID,
				       trapped),
				  blocks * 513 + 2);
		ck_assert_uint_eq(SPAN(BENCH_PHASE_MID, BENCH_PHASE_END,
				       trapped),
				  blocks);
		ck_assert_uint_eq(SPAN(BENCH_PHASE_MID, BENCH_PHASE_END,
				       doorbells),
				  blocks);
		ck_assert_uint_eq(SPAN(BENCH_PHASE_START, BENCH_PHASE_MID,
				       doorbells),
				  0);
		break;
	case BENCH_S_INVAL:
		ck_assert_uint_eq(TIMED(doorbells), 2 * blocks);
		break;
	default:
		ck_assert_uint_eq(TIMED(requests), 2 * blocks);
		break;
	}
	env_free();
}
END_TEST

START_TEST(bulk2m)
{
	enum bench_strategy s = strategies[_i];
	struct bench_params p = params(BENCH_W_BULK2M, s);
	struct bench_result r;
	uint64_t blocks = p.bulk_bytes >> 21;

	env_new(s);
	run_ok(&p, &r);
	ck_assert_uint_eq(r.maps, blocks);
	ck_assert_uint_eq(r.unmaps, blocks);
	ck_assert_uint_eq(r.tables_alloc, 2);
	ck_assert_uint_eq(r.tables_freed, 0);
	ck_assert_uint_eq(r.leaf_stores, 2 * blocks + 2);
	if (s == BENCH_S_TRAP || s == BENCH_S_HYBRID)
		ck_assert_uint_eq(TIMED(exits), 2 * blocks + 2 + blocks);
	else
		ck_assert_uint_eq(TIMED(exits), 2 * blocks);
	env_free();
}
END_TEST

/* split: each block's table is built aside and goes in with exactly one
 * (trapped) store, then one invalidation. */
START_TEST(split)
{
	enum bench_strategy s = strategies[_i];
	struct bench_params p = params(BENCH_W_SPLIT, s);
	struct bench_result r;
	uint64_t blocks = p.bulk_bytes >> 21, k, reqs = 0;

	env_new(s);
	run_ok(&p, &r);
	ck_assert_uint_eq(r.maps, blocks);
	ck_assert_uint_eq(r.unmaps, blocks);
	ck_assert_uint_eq(r.tables_alloc, 2 + blocks);
	switch (s) {
	case BENCH_S_TRAP:
	case BENCH_S_HYBRID:
		ck_assert_uint_eq(SPAN(BENCH_PHASE_MID, BENCH_PHASE_END,
				       trapped),
				  blocks);
		ck_assert_uint_eq(E.trapped_cmpxchg, 2 + blocks);
		ck_assert_uint_eq(SPAN(BENCH_PHASE_MID, BENCH_PHASE_END,
				       exits),
				  2 * blocks);
		break;
	case BENCH_S_INVAL:
		ck_assert_uint_eq(SPAN(BENCH_PHASE_MID, BENCH_PHASE_END,
				       exits),
				  blocks);
		break;
	default:
		/* A VFIO-like sink never bisects: the block goes and its two
		 * sides come back (one when the hole is at an end). */
		for (k = 0; k < blocks; k++) {
			uint64_t page = (k * 97 + 1) & 511;

			reqs += 1 + (page > 0) + (page < 511);
		}
		ck_assert_uint_eq(SPAN(BENCH_PHASE_MID, BENCH_PHASE_END,
				       requests),
				  reqs);
		break;
	}
	/* The sink holds each block as the two runs around its hole. */
	ck_assert_int_eq(wpt_sink_record_get(E.sink, NULL, 0),
			 (long)(2 * blocks));
	env_free();
}
END_TEST

/* churn: random pages over 48 bits, tables allocated and freed. */
START_TEST(churn)
{
	enum bench_strategy s = strategies[_i];
	struct bench_params p = params(BENCH_W_CHURN, s);
	struct bench_result r;

	p.ops = 400;
	env_new(s);
	run_ok(&p, &r);
	ck_assert_uint_eq(r.maps + r.unmaps, p.ops);
	ck_assert_uint_gt(r.unmaps, 100);
	ck_assert_uint_gt(r.tables_alloc, r.maps);
	ck_assert_uint_gt(r.tables_freed, r.unmaps);
	if (s == BENCH_S_EXPLICIT)
		ck_assert_uint_eq(TIMED(exits), p.ops);
	env_free();
}
END_TEST

/*
 * The relaxed strategy (WPT_MODE_RELAXED): the guest as for trap, leaf
 * table pages let go after a burst.  Every doorbell still finds its range
 * mapped (verify), the shadow verifies at the end, and a bulk map traps
 * a few stores per table, not one per leaf.
 */
START_TEST(relaxed)
{
	static const uint32_t w[] = {
		BENCH_W_STREAM4K, BENCH_W_STREAM4K, BENCH_W_BULK4K,
		BENCH_W_BULK2M, BENCH_W_CHURN,
	};
	struct bench_params p = params(w[_i], BENCH_S_RELAXED);
	struct bench_result r;
	struct wpt_vm_stats vs;
	int ret;

	if (_i == 1)
		p.lazy = 16;
	if (w[_i] == BENCH_W_CHURN)
		p.ops = 400;
	env_new(BENCH_S_RELAXED);
	memset(&r, 0, sizeof(r));
	ret = work_main(&p, &r);
	ck_assert_msg(ret == 0, "work_main: %d (%s)", ret, smmu_last_error(E.s));
	verify();
	ck_assert_uint_eq(r.dma_bells, r.map_calls);
	ck_assert_uint_gt(r.dma_bells, 0);
	ck_assert_int_eq(wpt_vm_stats(E.vm, &vs, sizeof(vs)), 0);
	if (w[_i] == BENCH_W_BULK4K) {
		ck_assert_uint_gt(vs.relaxed_pages, 0);
		ck_assert_msg(TIMED(trapped) * 50 < r.leaf_stores,
			      "%llu of %llu stores trapped",
			      (unsigned long long)TIMED(trapped),
			      (unsigned long long)r.leaf_stores);
	}
	if (w[_i] == BENCH_W_STREAM4K)
		ck_assert_uint_lt(TIMED(trapped), r.leaf_stores);
	env_free();
}
END_TEST

START_TEST(churn_lazy)
{
	enum bench_strategy s = strategies[_i];
	struct bench_params p = params(BENCH_W_CHURN, s);
	struct bench_result r;

	p.ops = 400;
	p.lazy = 8;
	env_new(s);
	run_ok(&p, &r);
	env_free();
}
END_TEST

/* ---- failures ---- */

/* A full arena is an error code, and the VM keeps working: the shadow
 * verifies, and another run (another arena) goes through. */
START_TEST(arena_exhausted)
{
	enum bench_strategy s = strategies[_i];
	struct bench_params p = params(BENCH_W_BULK4K, s);
	struct bench_result r = { 0 };

	p.arena_size = 6 * 4096; /* root, L1, L2 and three L3 of four */
	env_new(s);
	ck_assert_int_eq(work_main(&p, &r), BENCH_E_ARENA);
	ck_assert_uint_eq(r.maps, 3 * 512);
	verify();
	/* Under explicit the VMM holds what was requested, which a new root
	 * would not show: the check above is all there is. */
	if (s != BENCH_S_EXPLICIT) {
		p = params(BENCH_W_STREAM4K, s);
		p.arena_gpa = BENCH_ARENA_GPA + (32ull << 20);
		p.arena_size = 16 << 20;
		p.iova_base = T_IOVA << 4;
		env_reset_counts();
		run_ok(&p, &r);
		ck_assert_uint_eq(r.maps, p.ops);
	}
	env_free();
}
END_TEST

/* A map call that runs out of tables half way takes back what it mapped
 * (as iommu_map does), so the VMM never holds half a call. */
START_TEST(map_failure_rolls_back)
{
	enum bench_strategy s = strategies[_i];
	struct bench_params p = params(BENCH_W_BULK4K, s);
	static struct drv d;

	p.arena_size = 4 * 4096; /* root, L1, L2, one L3 */
	env_new(s);
	ck_assert_int_eq(drv_init(&d, &p), 0);
	ck_assert_int_eq(drv_map(&d, T_IOVA, BENCH_DATA_GPA, 4ull << 20,
				 4096, BENCH_PERM_R | BENCH_PERM_W),
			 BENCH_E_ARENA);
	verify();
	ck_assert_int_eq(wpt_sink_record_get(E.sink, NULL, 0), 0);
	/* The rollback cleared the whole level-2 entry: its table went. */
	ck_assert_uint_eq(d.tables_freed, 1);
	/* Explicit: no request at all for the failed call. */
	ck_assert_uint_eq(E.requests, 0);
	/* The same range fits once it needs one table. */
	ck_assert_int_eq(drv_map(&d, T_IOVA, BENCH_DATA_GPA, 2ull << 20, 4096,
				 BENCH_PERM_R),
			 0);
	if (s != BENCH_S_TRAP && s != BENCH_S_HYBRID)
		ck_assert_uint_eq(E.trapped, 0);
	verify();
	env_free();
}
END_TEST

/* An unmap that would split a block with no table left fails before it
 * changes anything: the block stays mapped, tables and VMM agree. */
START_TEST(split_without_tables)
{
	enum bench_strategy s = strategies[_i];
	struct bench_params p = params(BENCH_W_SPLIT, s);
	static struct drv d;

	p.arena_size = 3 * 4096; /* root, L1, L2 */
	env_new(s);
	ck_assert_int_eq(drv_init(&d, &p), 0);
	ck_assert_int_eq(drv_map(&d, T_IOVA, BENCH_DATA_GPA, 2ull << 20,
				 2ull << 20, BENCH_PERM_R | BENCH_PERM_W),
			 0);
	ck_assert_int_eq(drv_map(&d, T_IOVA + (2 << 20), BENCH_DATA_GPA,
				 2ull << 20, 2ull << 20, BENCH_PERM_R),
			 0);
	E.trapped = E.requests = E.doorbells = 0;
	ck_assert_int_eq(drv_unmap(&d, T_IOVA + (2 << 20) - 4096, 8192),
			 BENCH_E_ARENA);
	ck_assert_int_eq(drv_unmap(&d, T_IOVA + 4096, 4096), BENCH_E_ARENA);
	ck_assert_uint_eq(E.trapped + E.requests + E.doorbells, 0);
	verify();
	ck_assert_int_eq(wpt_sink_record_get(E.sink, NULL, 0), 2);
	/* A whole block still goes (no table needed); a split still fails. */
	ck_assert_int_eq(drv_unmap(&d, T_IOVA, 2 << 20), 0);
	ck_assert_int_eq(drv_unmap(&d, T_IOVA + (2 << 20), 4096), BENCH_E_ARENA);
	ck_assert_int_eq(pgt_edge_split_tables(&d, T_IOVA + (2 << 20) + 4096), 1);
	verify();
	env_free();
}
END_TEST

START_TEST(map_overlap_refused)
{
	struct bench_params p = params(BENCH_W_BULK4K, BENCH_S_TRAP);
	static struct drv d;

	env_new(BENCH_S_TRAP);
	ck_assert_int_eq(drv_init(&d, &p), 0);
	ck_assert_int_eq(drv_map(&d, T_IOVA, BENCH_DATA_GPA, 2ull << 20,
				 2ull << 20, BENCH_PERM_R | BENCH_PERM_W),
			 0);
	ck_assert_int_eq(drv_map(&d, T_IOVA + 4096, BENCH_DATA_GPA, 4096, 4096,
				 BENCH_PERM_R),
			 DRV_E_EXIST);
	ck_assert_int_eq(drv_map(&d, T_IOVA - 4096, BENCH_DATA_GPA, 8192, 4096,
				 BENCH_PERM_R),
			 DRV_E_EXIST);
	verify();
	ck_assert_int_eq(wpt_sink_record_get(E.sink, NULL, 0), 1);
	env_free();
}
END_TEST

START_TEST(bad_params)
{
	struct bench_params p = params(BENCH_W_STREAM4K, BENCH_S_TRAP);
	struct bench_result r;

	env_new(BENCH_S_TRAP);
	p.magic = 0;
	ck_assert_int_eq(work_main(&p, &r), BENCH_E_PARAMS);
	p = params(BENCH_W_STREAM4K, BENCH_S_TRAP);
	p.arena_gpa = BENCH_DATA_GPA; /* tables over the data pages */
	ck_assert_int_eq(work_main(&p, &r), BENCH_E_PARAMS);
	p = params(BENCH_W_STREAM4K, 9);
	ck_assert_int_eq(work_main(&p, &r), BENCH_E_PARAMS);
	p = params(77, BENCH_S_TRAP);
	ck_assert_int_eq(work_main(&p, &r), BENCH_E_PARAMS);
	p = params(BENCH_W_SPLIT, BENCH_S_TRAP);
	p.iova_base += 4096; /* blocks need 2 MiB alignment */
	ck_assert_int_eq(work_main(&p, &r), BENCH_E_PARAMS);
	p = params(BENCH_W_STREAM4K, BENCH_S_TRAP);
	p.iova_base = (1ull << 48) - 4096; /* window past the IAS */
	ck_assert_int_eq(work_main(&p, &r), BENCH_E_PARAMS);
	env_free();
}
END_TEST

/* ---- the command queue ---- */

/* Every exact range splits into (NUM + 1) << SCALE pieces that add up;
 * one command where one can do it. */
START_TEST(tlbi_range_encoding)
{
	static const struct {
		uint64_t pages;
		uint32_t cmds;
	} cases[] = {
		{ 1, 1 }, { 2, 1 }, { 3, 1 }, { 31, 1 }, { 32, 1 }, { 33, 2 },
		{ 512, 1 }, { 511, 2 }, { 1ull << 27, 1 }, { 96, 1 },
		{ 0xfffffffffull, 8 }, { 1ull << 35, 1 }, { 1ull << 36, 1 },
		{ (1ull << 36) - (1ull << 31), 1 }, { 3ull << 31, 1 },
	};
	uint32_t num[8], scale[8], i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t sum = 0;
		uint32_t n = cmdq_range_split(cases[i].pages, num, scale, 8);

		ck_assert_uint_eq(n, cases[i].cmds);
		for (k = 0; k < n; k++) {
			ck_assert_uint_le(num[k], 31);
			ck_assert_uint_le(scale[k], 31);
			sum += ((uint64_t)num[k] + 1) << scale[k];
		}
		ck_assert_uint_eq(sum, cases[i].pages);
	}
}
END_TEST

/* What reaches the SMMU: range commands, ASID beyond DRV_TLBI_MAX_CMDS. */
START_TEST(tlbi_commands_sent)
{
	struct bench_params p = params(BENCH_W_STREAM4K, BENCH_S_INVAL);
	static struct drv d;
	struct smmu_stats st0, st;

	env_new(BENCH_S_INVAL);
	ck_assert_int_eq(drv_init(&d, &p), 0);
	smmu_stats(E.s, &st0);
	ck_assert_int_eq(cmdq_inv_range(&d.q, d.asid, T_IOVA, 512 << 12,
					true),
			 0);
	ck_assert_int_eq(cmdq_inv_range(&d.q, d.asid, T_IOVA, 33 << 12, true),
			 0);
	ck_assert_int_eq(cmdq_inv_range(&d.q, d.asid, 0,
					0xfffffffffull << 12, false),
			 0);
	ck_assert_int_eq(cmdq_inv_range(&d.q, d.asid, 0, 1ull << 48, false),
			 0);
	/* The driver's own rule: all of the input space goes by ASID. */
	ck_assert_int_eq(drv_invalidate(&d, 0, 1ull << 48, false), 0);
	smmu_stats(E.s, &st);
	ck_assert_uint_eq(st.tlbi_va - st0.tlbi_va, 1 + 2 + 1);
	ck_assert_uint_eq(st.tlbi_asid - st0.tlbi_asid, 2);
	ck_assert_uint_eq(st.syncs - st0.syncs, 5);
	ck_assert_uint_eq(st.doorbells - st0.doorbells, 5);
	verify();
	env_free();
}
END_TEST

/* A queue full of unpublished commands: CONS is read (one exit), the
 * queue is rung, CONS read again, and the command goes in; PROD wraps. */
START_TEST(cmdq_full_and_wrap)
{
	struct bench_params p = params(BENCH_W_STREAM4K, BENCH_S_INVAL);
	static struct drv d;
	struct smmu_stats st;
	uint64_t w[2];
	uint32_t i, entries = 1u << BENCH_CMDQ_LOG2;

	env_new(BENCH_S_INVAL);
	ck_assert_int_eq(drv_init(&d, &p), 0);
	/* CFGI_CD + SYNC went in: the queue is at 2, all consumed. */
	ck_assert_uint_eq(d.q.prod, 2);
	ck_assert_uint_eq(E.reg_reads, 0);
	cmd_tlbi_asid(w, d.asid);
	for (i = 0; i < entries; i++)
		ck_assert_int_eq(cmdq_add(&d.q, w[0], w[1]), 0);
	ck_assert_uint_eq(E.reg_reads, 0);
	ck_assert_uint_eq(d.q.prod, 2 | entries); /* wrapped once */
	ck_assert_int_eq(cmdq_add(&d.q, w[0], w[1]), 0);
	ck_assert_uint_eq(E.reg_reads, 2);
	ck_assert_uint_eq(d.q.cons_reads, 2);
	ck_assert_uint_eq(d.q.cons, 2 | entries);
	ck_assert_int_eq(cmdq_sync(&d.q), 0);
	smmu_stats(E.s, &st);
	ck_assert_uint_eq(st.tlbi_asid, entries + 1);
	ck_assert_uint_eq(st.cmd_errors, 0);
	/* Around the ring many times over: 2 commands an invalidation. */
	for (i = 0; i < 3 * entries; i++)
		ck_assert_int_eq(cmdq_inv_range(&d.q, d.asid, T_IOVA, 4096,
						true),
				 0);
	ck_assert_uint_eq(E.reg_reads, 2);
	verify();
	env_free();
}
END_TEST

/* A command the SMMU refuses stops the queue: the sync never completes
 * and the driver says BENCH_E_CMDQ instead of spinning. */
START_TEST(cmdq_error_reported)
{
	struct bench_params p = params(BENCH_W_STREAM4K, BENCH_S_INVAL);
	static struct drv d;

	env_new(BENCH_S_INVAL);
	ck_assert_int_eq(drv_init(&d, &p), 0);
	ck_assert_int_eq(cmdq_add(&d.q, 0x7f, 0), 0); /* no such opcode */
	ck_assert_int_eq(cmdq_sync(&d.q), BENCH_E_CMDQ);
	env_free();
}
END_TEST

/* ---- what the driver writes ---- */

/* Descriptors as Linux's stage-1 leaves, the CD as the ABI says. */
START_TEST(descriptors_and_cd)
{
	struct bench_params p = params(BENCH_W_STREAM4K, BENCH_S_TRAP);
	static struct drv d;
	uint64_t cd0, cd1, l0, l1, l2, l3;
	uint64_t page_bits = (1ull << 10) | (3ull << 8) | (1ull << 11) |
			     (1ull << 6) | (1ull << 2);

	env_new(BENCH_S_TRAP);
	ck_assert_int_eq(drv_init(&d, &p), 0);
	cd0 = plat_read64(BENCH_CPU_GPA(0) + BENCH_OFF_CD);
	cd1 = plat_read64(BENCH_CPU_GPA(0) + BENCH_OFF_CD + 8);
	ck_assert_uint_eq(cd0, CD0_V | CD0_AA64 | CD0_TG0(0) | CD0_T0SZ(16) |
				       CD0_ASID(5));
	ck_assert_uint_eq(cd1, BENCH_ARENA_GPA);
	ck_assert_int_eq(drv_map(&d, T_IOVA + 0x3000, BENCH_DATA_GPA + 0x5000,
				 4096, 4096, BENCH_PERM_R),
			 0);
	ck_assert_int_eq(drv_map(&d, T_IOVA + 0x200000, BENCH_DATA_GPA, 2 << 20,
				 2 << 20, BENCH_PERM_R | BENCH_PERM_W),
			 0);
	l0 = plat_read64(BENCH_ARENA_GPA + 8 * PTE_INDEX(T_IOVA, 0));
	ck_assert_uint_eq(l0 & 3, 3);
	l1 = plat_read64((l0 & PTE_ADDR_MASK) + 8 * PTE_INDEX(T_IOVA, 1));
	ck_assert_uint_eq(l1 & 3, 3);
	l2 = plat_read64((l1 & PTE_ADDR_MASK) + 8 * PTE_INDEX(T_IOVA, 2));
	ck_assert_uint_eq(l2 & 3, 3);
	l3 = plat_read64((l2 & PTE_ADDR_MASK) + 8 * 3);
	ck_assert_uint_eq(l3, (BENCH_DATA_GPA + 0x5000) | page_bits |
				      (1ull << 7) | 3);
	l2 = plat_read64((l1 & PTE_ADDR_MASK) + 8 * (PTE_INDEX(T_IOVA, 2) + 1));
	ck_assert_uint_eq(l2, BENCH_DATA_GPA | page_bits | 1);
	/* Root, L1, L2, L3; each new table went in with one cmpxchg into a
	 * parent the library already protected. */
	ck_assert_uint_eq(d.tables_alloc, 4);
	ck_assert_uint_eq(E.trapped_cmpxchg, 3);
	verify();
	env_free();
}
END_TEST

/* Unmapping a range that covers a table's whole span clears the entry
 * and frees the table and its subtree, under every strategy. */
START_TEST(unmap_frees_subtree)
{
	struct bench_params p = params(BENCH_W_STREAM4K, BENCH_S_TRAP);
	static struct drv d;

	env_new(BENCH_S_TRAP);
	ck_assert_int_eq(drv_init(&d, &p), 0);
	/* Two L3 tables and a block under one L2 table, under one L1. */
	ck_assert_int_eq(drv_map(&d, T_IOVA, BENCH_DATA_GPA, 8192, 4096, 3), 0);
	ck_assert_int_eq(drv_map(&d, T_IOVA + (2 << 20), BENCH_DATA_GPA, 4096,
				 4096, 3),
			 0);
	ck_assert_int_eq(drv_map(&d, T_IOVA + (4 << 20), BENCH_DATA_GPA,
				 2 << 20, 2 << 20, 3),
			 0);
	ck_assert_uint_eq(d.tables_alloc, 1 + 4);
	/* One 1 GiB unmap: one store on the L1 entry, L2 + two L3 freed. */
	E.trapped = 0;
	ck_assert_int_eq(drv_unmap(&d, T_IOVA, 1ull << 30), 0);
	ck_assert_uint_eq(E.trapped, 1);
	ck_assert_uint_eq(d.tables_freed, 3);
	ck_assert_int_eq(wpt_sink_record_get(E.sink, NULL, 0), 0);
	verify();
	/* The freed pages come back (zeroed while unprotected). */
	ck_assert_int_eq(drv_map(&d, T_IOVA, BENCH_DATA_GPA, 4096, 4096, 3), 0);
	ck_assert_uint_eq(d.tables_alloc, 1 + 4 + 2);
	ck_assert_uint_eq(E.zero_trapped, 0);
	verify();
	env_free();
}
END_TEST

/*
 * A 1 GiB block unmapped 4K: split into 2 MiB blocks, the one holding the
 * page split again inside the new table, each new table swapped in with
 * one store.  (Tables only: a 1 GiB block cannot lie in the test's RAM,
 * so no strategy runs and the library never walks them.)
 */
START_TEST(split_nested)
{
	struct bench_params p = params(BENCH_W_STREAM4K, BENCH_S_INVAL);
	static struct drv d;
	struct unmap_gather g;
	uint64_t gb = 1ull << 30, done, l1, l2, l3, hole = 0x345000;
	uint64_t attrs = pgt_leaf_attrs(BENCH_PERM_R | BENCH_PERM_W);
	uint32_t i;

	env_new(BENCH_S_INVAL);
	ck_assert_int_eq(drv_init(&d, &p), 0);
	ck_assert_int_eq(pgt_map_leaves(&d, 4 * gb, 8 * gb, gb, 1, attrs, &done), 0);
	ck_assert_uint_eq(done, gb);
	l1 = pte_addr(plat_read64(d.root + 8 * 0));
	ck_assert_uint_eq(plat_read64(l1 + 8 * 4), 8 * gb | attrs | 1);
	pgt_gather_init(&g);
	ck_assert_int_eq(pgt_unmap_table(&d, &g, d.root, 0, 4 * gb + hole,
				     4 * gb + hole + 4096),
			 0);
	ck_assert_uint_eq(g.nsplit, 1);
	ck_assert_uint_eq(g.split[0].base, 4 * gb);
	ck_assert_uint_eq(g.split[0].span, gb);
	ck_assert_uint_eq(g.split[0].oa, 8 * gb);
	ck_assert_uint_eq(g.start, 4 * gb);
	ck_assert_uint_eq(g.end, 5 * gb);
	ck_assert(!g.tables);
	l2 = plat_read64(l1 + 8 * 4);
	ck_assert_uint_eq(l2 & 3, 3);
	l2 = pte_addr(l2);
	for (i = 0; i < 512; i++)
		if (i != hole >> 21)
			ck_assert_uint_eq(plat_read64(l2 + 8 * i),
					  (8 * gb + i * (2ull << 20)) | attrs |
						  1);
	l3 = plat_read64(l2 + 8 * (hole >> 21));
	ck_assert_uint_eq(l3 & 3, 3);
	l3 = pte_addr(l3);
	for (i = 0; i < 512; i++)
		ck_assert_uint_eq(plat_read64(l3 + 8 * i),
				  i == ((hole >> 12) & 511)
					  ? 0
					  : (8 * gb + (hole & ~0x1fffffull) +
					     i * 4096ull) | attrs | 3);
	ck_assert_uint_eq(d.count[table_index(&d, l2)], 512);
	ck_assert_uint_eq(d.count[table_index(&d, l3)], 511);
	env_free();
}
END_TEST

static Suite *suite(void)
{
	Suite *su = suite_create("bench_driver");
	TCase *tc = tcase_create("workloads");
	TCase *tf = tcase_create("failures");
	TCase *tq = tcase_create("cmdq");
	TCase *td = tcase_create("tables");
	int n = sizeof(strategies) / sizeof(strategies[0]);

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, stream4k_strict, 0, n);
	tcase_add_loop_test(tc, stream4k_lazy, 0, n);
	tcase_add_test(tc, stream4k_lazy_small_window);
	tcase_add_test(tc, stream4k_wide_window);
	tcase_add_loop_test(tc, bulk4k, 0, n);
	tcase_add_loop_test(tc, bulk2m, 0, n);
	tcase_add_loop_test(tc, split, 0, n);
	tcase_add_loop_test(tc, churn, 0, n);
	tcase_add_loop_test(tc, churn_lazy, 0, n);
	tcase_add_loop_test(tc, relaxed, 0, 5);
	suite_add_tcase(su, tc);
	tcase_add_loop_test(tf, arena_exhausted, 0, n);
	tcase_add_loop_test(tf, map_failure_rolls_back, 0, n);
	tcase_add_loop_test(tf, split_without_tables, 0, n);
	tcase_add_test(tf, map_overlap_refused);
	tcase_add_test(tf, bad_params);
	suite_add_tcase(su, tf);
	tcase_add_test(tq, tlbi_range_encoding);
	tcase_add_test(tq, tlbi_commands_sent);
	tcase_add_test(tq, cmdq_full_and_wrap);
	tcase_add_test(tq, cmdq_error_reported);
	suite_add_tcase(su, tq);
	tcase_add_test(td, descriptors_and_cd);
	tcase_add_test(td, unmap_frees_subtree);
	tcase_add_test(td, split_nested);
	suite_add_tcase(su, td);
	return su;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
