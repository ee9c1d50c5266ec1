/* SPDX-License-Identifier: MIT */
/*
 * The bench guest's SMMUv3 stage-1 driver: the map and unmap calls, what
 * each strategy sends after one (nothing, an invalidation, a request),
 * the context descriptor and the timed counters.  The table edits are
 * pgtable.c's.  See drv.h for the behaviour it copies.
 */
#include "drv.h"
#include "pgtable.h"
#include "plat.h"

/* ---- what follows a call, by strategy ---- */

static int request(struct drv *d, uint32_t op, uint32_t perm, uint64_t iova,
		   uint64_t gpa, uint64_t size)
{
	uint64_t req = d->cpu_area + BENCH_OFF_REQ;

	plat_store64(req + 0, op | (uint64_t)perm << 32);
	plat_store64(req + 8, iova);
	plat_store64(req + 16, gpa);
	plat_store64(req + 24, size);
	plat_store64(req + 32, ~0ull);
	plat_fence();
	plat_mmio_write64(d->mmio + SMMU_R_REQ, req);
	d->requests++;
	return plat_read64(req + 32) ? DRV_E_REQ : 0;
}

/* Invalidate a range: by ASID when it is all the input space. */
int drv_invalidate(struct drv *d, uint64_t iova, uint64_t size, bool leaf)
{
	if (size >= 1ull << d->ias)
		return cmdq_inv_asid(&d->q, d->asid);
	return cmdq_inv_range(&d->q, d->asid, iova, size, leaf);
}

/* After the tables changed for an unmap: the invalidation (now, or for
 * lazy leaves later), then the tables it unlinked go back to the arena. */
static int unmap_done(struct drv *d, struct unmap_gather *g)
{
	int ret = 0;

	if (g->end == g->start)
		return 0;
	if (d->strategy == BENCH_S_EXPLICIT) {
		/* Nothing cached to flush: the request already said it. */
	} else if (g->tables || d->lazy <= 1) {
		/* Tables go at once, lazy or not (io_pgtable_tlb_flush_walk). */
		ret = drv_invalidate(d, g->start, g->end - g->start, !g->tables);
	} else if (++d->unflushed >= d->lazy) {
		ret = drv_flush(d);
	}
	if (!ret)
		pgt_free_deferred(d);
	return ret;
}

static int unmap_range(struct drv *d, uint64_t iova, uint64_t size,
		       struct unmap_gather *g)
{
	int ret, done;

	pgt_gather_init(g);
	/* An unmap fails whole or not at all: with the arena nearly full,
	 * make sure its splits will find their tables before clearing
	 * anything.  (Free otherwise: the walk happens only here.) */
	if (pgt_arena_left(d) < DRV_SPLIT_MAX_TABLES &&
	    pgt_edge_split_tables(d, iova) + pgt_edge_split_tables(d, iova + size) >
		    pgt_arena_left(d))
		return BENCH_E_ARENA;
	ret = pgt_unmap_table(d, g, d->root, d->start_level, iova, iova + size);
	/* Whatever was cleared is flushed, even after a failure. */
	done = unmap_done(d, g);
	return ret ? ret : done;
}

/*
 * The explicit strategy's word for an unmap call.  A VFIO-style sink never
 * bisects a mapping, and the VMM was asked to map each block whole, so a
 * call that split blocks says so as a guest of such a VMM must: the block
 * goes (UNMAP of all of it) and what remains of it comes back (a MAP on
 * each side of the hole).  Otherwise one UNMAP of the call's range.
 */
static int unmap_requests(struct drv *d, const struct unmap_gather *g,
			  uint64_t iova, uint64_t size)
{
	uint64_t end = iova + size, cur = iova;
	uint32_t k;
	int ret;

	for (k = 0; k < g->nsplit; k++) {
		const struct split_rec *s = &g->split[k];
		uint64_t s_end = s->base + s->span;

		if (s->base > cur) {
			ret = request(d, BENCH_REQ_UNMAP, 0, cur, 0,
				      s->base - cur);
			if (ret)
				return ret;
		}
		ret = request(d, BENCH_REQ_UNMAP, 0, s->base, 0, s->span);
		if (!ret && iova > s->base)
			ret = request(d, BENCH_REQ_MAP, s->perm, s->base, s->oa,
				      iova - s->base);
		if (!ret && end < s_end)
			ret = request(d, BENCH_REQ_MAP, s->perm, end,
				      s->oa + (end - s->base), s_end - end);
		if (ret)
			return ret;
		cur = s_end;
	}
	if (cur < end)
		return request(d, BENCH_REQ_UNMAP, 0, cur, 0, end - cur);
	return 0;
}

static bool range_ok(const struct drv *d, uint64_t iova, uint64_t size,
		     uint64_t align)
{
	return size && !((iova | size) & (align - 1)) &&
	       iova + size > iova && iova + size <= 1ull << d->ias;
}

static int map_call(struct drv *d, uint64_t iova, uint64_t gpa, uint64_t size,
		    uint64_t pgsize, uint32_t perm)
{
	uint32_t level;
	uint64_t done;
	int ret = pgt_leaf_level(pgsize, &level);

	if (ret || !range_ok(d, iova, size, pgsize) || (gpa & (pgsize - 1)))
		return BENCH_E_PARAMS;
	ret = pgt_map_leaves(d, iova, gpa, size, level, pgt_leaf_attrs(perm), &done);
	if (ret) {
		/* As iommu_map(): take back the part already mapped.  The
		 * VMM was told nothing of it under explicit, so no request. */
		if (done) {
			struct unmap_gather g;

			unmap_range(d, iova, done, &g);
		}
		return ret;
	}
	if (d->strategy == BENCH_S_INVAL)
		return drv_invalidate(d, iova, size, true);
	if (d->strategy == BENCH_S_EXPLICIT)
		return request(d, BENCH_REQ_MAP,
			       perm & (BENCH_PERM_R | BENCH_PERM_W), iova, gpa,
			       size);
	return 0; /* VMSAv8: no negative caching, nothing to invalidate */
}

/*
 * The device's driver hands it the range it just mapped: a descriptor in
 * RAM, then the doorbell write, as a NIC driver posts a buffer.  Every
 * strategy's map must be in the host's IOMMU by the time the device sees
 * the doorbell; the VMM checks it there.
 */
static void dev_bell(struct drv *d, uint64_t iova, uint64_t gpa, uint64_t size)
{
	uint64_t desc = d->cpu_area + BENCH_OFF_DMA;

	plat_store64(desc + 0, iova);
	plat_store64(desc + 8, gpa);
	plat_store64(desc + 16, size);
	plat_fence();
	plat_mmio_write64(d->mmio + SMMU_R_DEV_BELL, desc);
	d->dma_bells++;
}

static int map_and_ring(struct drv *d, uint64_t iova, uint64_t gpa,
			uint64_t size, uint64_t pgsize, uint32_t perm)
{
	int ret = map_call(d, iova, gpa, size, pgsize, perm);

	if (!ret)
		dev_bell(d, iova, gpa, size);
	return ret;
}

int drv_map(struct drv *d, uint64_t iova, uint64_t gpa, uint64_t size,
	    uint64_t pgsize, uint32_t perm)
{
	uint64_t t0;
	int ret;

	if (!d->timed)
		return map_and_ring(d, iova, gpa, size, pgsize, perm);
	/* The doorbell is timed with the map: a map is done when the
	 * device may use it (relaxed mode catches up there). */
	t0 = plat_rdtsc();
	ret = map_and_ring(d, iova, gpa, size, pgsize, perm);
	d->map_cycles += plat_rdtsc() - t0;
	d->map_calls++;
	return ret;
}

int drv_unmap(struct drv *d, uint64_t iova, uint64_t size)
{
	struct unmap_gather g;
	int ret;

	if (!range_ok(d, iova, size, DRV_PAGE_SIZE))
		return BENCH_E_PARAMS;
	ret = unmap_range(d, iova, size, &g);
	if (ret)
		return ret;
	if (d->strategy == BENCH_S_EXPLICIT)
		return unmap_requests(d, &g, iova, size);
	return 0;
}

int drv_flush(struct drv *d)
{
	if (!d->unflushed)
		return 0;
	d->unflushed = 0;
	/* A flush queue's flush: Linux's flush_iotlb_all, by ASID. */
	return cmdq_inv_asid(&d->q, d->asid);
}

void drv_phase(struct drv *d, uint64_t phase)
{
	if (phase == BENCH_PHASE_START) {
		d->maps = d->unmaps = d->leaf_stores = 0;
		d->tables_alloc = d->tables_freed = d->requests = 0;
		d->map_cycles = d->map_calls = d->dma_bells = 0;
		d->doorbell_base = d->q.doorbells;
		d->timed = true;
		d->tsc_start = plat_rdtsc();
	} else if (phase == BENCH_PHASE_END) {
		d->timed = false;
		d->tsc_end = plat_rdtsc();
	}
	plat_fence();
	plat_mmio_write64(d->mmio + SMMU_R_PHASE, phase);
}

void drv_result(const struct drv *d, struct bench_result *r)
{
	r->maps = d->maps;
	r->unmaps = d->unmaps;
	r->leaf_stores = d->leaf_stores;
	r->tables_alloc = d->tables_alloc;
	r->tables_freed = d->tables_freed;
	r->invals = d->q.doorbells - d->doorbell_base;
	r->requests = d->requests;
	r->tsc_start = d->tsc_start;
	r->tsc_end = d->tsc_end;
	r->map_cycles = d->map_cycles;
	r->map_calls = d->map_calls;
	r->dma_bells = d->dma_bells;
}

/* ---- setup ---- */

static int check_params(const struct bench_params *p)
{
	uint64_t arena_end = p->arena_gpa + p->arena_size;
	uint64_t data_end = p->data_gpa + p->data_size;

	if (p->magic != BENCH_PARAMS_MAGIC || p->cpu >= BENCH_MAX_CPUS)
		return BENCH_E_PARAMS;
	if (p->workload == BENCH_W_CAL_EXIT)
		return p->mmio_gpa ? 0 : BENCH_E_PARAMS;
	if (p->strategy < BENCH_S_TRAP || p->strategy > BENCH_S_RELAXED ||
	    p->ias < 32 || p->ias > 48 || p->asid > 0xffff || !p->mmio_gpa)
		return BENCH_E_PARAMS;
	/* Tables only in the arena, mappings only to data pages. */
	if ((p->arena_gpa | p->arena_size) & (DRV_PAGE_SIZE - 1) ||
	    p->arena_size < 2 * DRV_PAGE_SIZE ||
	    p->arena_gpa < BENCH_ARENA_GPA || arena_end < p->arena_gpa ||
	    arena_end > BENCH_ARENA_GPA + BENCH_ARENA_SIZE)
		return BENCH_E_PARAMS;
	if ((p->data_gpa | p->data_size) & (DRV_PAGE_SIZE - 1) ||
	    !p->data_size || p->data_gpa < BENCH_DATA_GPA ||
	    data_end < p->data_gpa || data_end > BENCH_RAM_SIZE)
		return BENCH_E_PARAMS;
	return 0;
}

/* The CD as arm_smmu_write_ctx_desc fills it for a 4K, T0SZ = 64 - IAS
 * stage-1 table (only the fields the ABI names), then CFGI_CD + SYNC. */
static int write_cd(struct drv *d)
{
	uint64_t cd = d->cpu_area + BENCH_OFF_CD;
	uint64_t w[2];
	uint32_t i;
	int ret;

	for (i = 2; i < 8; i++)
		plat_store64(cd + i * 8, 0);
	plat_store64(cd + 8, d->root & CD1_TTB0_MASK);
	plat_store64(cd, CD0_V | CD0_AA64 | CD0_TG0(0) |
			 CD0_T0SZ(64 - d->ias) | CD0_ASID(d->asid));
	plat_fence();
	plat_mmio_write64(d->mmio + SMMU_R_CD_BASE, cd);
	cmd_cfgi_cd(w, 0, 0, true);
	ret = cmdq_add(&d->q, w[0], w[1]);
	return ret ? ret : cmdq_sync(&d->q);
}

int drv_init(struct drv *d, const struct bench_params *p)
{
	uint32_t levels, i;
	int ret;

	d->maps = d->unmaps = d->leaf_stores = 0;
	d->tables_alloc = d->tables_freed = d->requests = 0;
	d->doorbell_base = 0;
	d->q.doorbells = 0;
	d->timed = false;
	d->tsc_start = d->tsc_end = d->map_cycles = d->map_calls = 0;
	d->dma_bells = 0;
	ret = check_params(p);
	if (ret)
		return ret;
	d->cpu_area = BENCH_CPU_GPA(p->cpu);
	d->mmio = p->mmio_gpa;
	if (p->workload == BENCH_W_CAL_EXIT)
		return 0;
	d->arena = p->arena_gpa;
	d->arena_pages = (uint32_t)(p->arena_size >> DRV_PAGE_SHIFT);
	d->fresh = d->nfree = d->ndefer = 0;
	/* Touch every arena page once, before anything is timed: a real
	 * driver's table pages come from memory the guest has used, and a
	 * first touch here costs a host page fault that no strategy should
	 * be charged for.  (Faults after a memslot re-cut stay: they are
	 * the trap strategies' own cost.) */
	for (i = 0; i < d->arena_pages; i++)
		plat_store64(d->arena + ((uint64_t)i << DRV_PAGE_SHIFT), 0);
	d->ias = p->ias;
	/* VMSAv8-64 initial lookup level: the fewest 9-bit levels that
	 * resolve IAS - 12 bits. */
	levels = (d->ias - DRV_PAGE_SHIFT + 8) / 9;
	d->start_level = LAST_LEVEL + 1 - levels;
	d->strategy = p->strategy;
	d->lazy = p->lazy ? p->lazy : 1;
	d->unflushed = 0;
	d->asid = (uint16_t)p->asid;
	d->free_empty = false;
	d->root = pgt_table_alloc(d);
	cmdq_init(&d->q, d->cpu_area + BENCH_OFF_CMDQ, BENCH_CMDQ_LOG2,
		  d->mmio, d->cpu_area + BENCH_OFF_SYNC);
	return write_cd(d);
}

