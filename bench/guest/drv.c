/* SPDX-License-Identifier: MIT */
/*
 * The bench guest's SMMUv3 stage-1 driver: table building (map, unmap,
 * block split, table free), the context descriptor, and what each
 * strategy sends after a call.  See drv.h for the behaviour it copies.
 */
#include "drv.h"
#include "plat.h"

/* ---- VMSAv8-64 stage 1, 4K granule ---- */

#define PTE_VALID (1ull << 0)
#define PTE_TYPE_MASK 3ull
#define PTE_TYPE_BLOCK 1ull   /* levels 1 and 2 */
#define PTE_TYPE_TABLE 3ull   /* levels 0..2 */
#define PTE_TYPE_PAGE 3ull    /* level 3 */
#define PTE_ATTRINDX(i) ((uint64_t)(i) << 2)
#define PTE_AP_UNPRIV (1ull << 6)  /* AP[1]: EL0 too (no IOMMU_PRIV) */
#define PTE_AP_RDONLY (1ull << 7)  /* AP[2] */
#define PTE_SH_IS (3ull << 8)      /* inner shareable */
#define PTE_AF (1ull << 10)        /* no HTTU: AF clear would fault */
#define PTE_NG (1ull << 11)        /* stage 1: ASID-tagged */
#define PTE_ADDR_MASK 0x0000fffffffff000ull /* [47:12] */

/* Linux's MAIR layout for io-pgtable: index 1 is normal write-back
 * (ARM_LPAE_MAIR_ATTR_IDX_CACHE), what IOMMU_CACHE picks. */
#define MAIR_IDX_CACHE 1

#define LAST_LEVEL 3
#define PTES_PER_TABLE 512
#define LEVEL_SHIFT(l) (DRV_PAGE_SHIFT + 9 * (LAST_LEVEL - (l)))
#define LEVEL_SPAN(l) (1ull << LEVEL_SHIFT(l))
#define PTE_INDEX(iova, l) (((iova) >> LEVEL_SHIFT(l)) & (PTES_PER_TABLE - 1))

#define DEFER_LEVEL_SHIFT 16

static uint64_t leaf_attrs(uint32_t perm)
{
	uint64_t a = PTE_AF | PTE_SH_IS | PTE_NG | PTE_AP_UNPRIV |
		     PTE_ATTRINDX(MAIR_IDX_CACHE);

	if (!(perm & BENCH_PERM_W))
		a |= PTE_AP_RDONLY;
	return a;
}

static bool pte_valid(uint64_t pte)
{
	return pte & PTE_VALID;
}

static bool pte_is_table(uint64_t pte, uint32_t level)
{
	return level < LAST_LEVEL && (pte & PTE_TYPE_MASK) == PTE_TYPE_TABLE;
}

static uint64_t pte_addr(uint64_t pte)
{
	return pte & PTE_ADDR_MASK;
}

/* ---- the arena: 4K table pages, a free stack, valid-entry counts ---- */

static uint32_t table_index(const struct drv *d, uint64_t table)
{
	return (uint32_t)((table - d->arena) >> DRV_PAGE_SHIFT);
}

/* A zeroed table page nothing points at yet, or 0 when the arena is
 * full. */
static uint64_t table_alloc(struct drv *d)
{
	uint32_t idx;
	uint64_t gpa;

	if (d->nfree)
		idx = d->free_pages[--d->nfree];
	else if (d->fresh < d->arena_pages)
		idx = d->fresh++;
	else
		return 0;
	gpa = d->arena + ((uint64_t)idx << DRV_PAGE_SHIFT);
	plat_zero_page(gpa);
	d->count[idx] = 0;
	d->tables_alloc++;
	return gpa;
}

/* Give a table and every table below it back to the arena.  Called only
 * once the walk caches cannot hold it (after its invalidation); the
 * pages keep their stale bytes until they are zeroed again. */
static void table_free(struct drv *d, uint64_t table, uint32_t level)
{
	uint32_t idx = table_index(d, table);
	uint32_t i;

	if (level < LAST_LEVEL && d->count[idx]) {
		for (i = 0; i < PTES_PER_TABLE; i++) {
			uint64_t pte = plat_read64(table + i * 8);

			if (pte_valid(pte) && pte_is_table(pte, level))
				table_free(d, pte_addr(pte), level + 1);
		}
	}
	d->free_pages[d->nfree++] = (uint16_t)idx;
	d->tables_freed++;
}

static void defer_free(struct drv *d, uint64_t table, uint32_t level)
{
	d->defer[d->ndefer++] = table_index(d, table) |
				(level << DEFER_LEVEL_SHIFT);
}

static void free_deferred(struct drv *d)
{
	uint32_t i;

	for (i = 0; i < d->ndefer; i++) {
		uint32_t idx = d->defer[i] & ((1u << DEFER_LEVEL_SHIFT) - 1);

		table_free(d, d->arena + ((uint64_t)idx << DRV_PAGE_SHIFT),
			   d->defer[i] >> DEFER_LEVEL_SHIFT);
	}
	d->ndefer = 0;
}

/* ---- descriptor stores to live tables (each one exit under trap) ---- */

static void pte_set(struct drv *d, uint64_t table, uint32_t i, uint64_t pte)
{
	plat_store64(table + i * 8, pte);
	d->count[table_index(d, table)]++;
	d->leaf_stores++;
}

static void pte_clear(struct drv *d, uint64_t table, uint32_t i)
{
	plat_store64(table + i * 8, 0);
	d->count[table_index(d, table)]--;
	d->leaf_stores++;
}

/*
 * Put new_table into entry i of table, which held old (invalid for a new
 * table, the block for a split): one lock cmpxchg.  If the entry changed
 * under us (it cannot with one thread, but that is the contract Linux's
 * installer keeps) the new table goes back and the entry found is
 * returned for the caller to use.
 */
static void table_install(struct drv *d, uint64_t table, uint32_t i,
			  uint64_t old, uint64_t new_table, uint64_t *found)
{
	uint64_t pte = new_table | PTE_TYPE_TABLE;
	uint64_t prev = plat_cmpxchg64(table + i * 8, old, pte);

	d->leaf_stores++;
	if (prev == old || plat_read64(table + i * 8) == pte) {
		if (!pte_valid(old))
			d->count[table_index(d, table)]++;
		*found = pte;
		return;
	}
	d->free_pages[d->nfree++] = (uint16_t)table_index(d, new_table);
	d->tables_alloc--;
	*found = prev;
}

/* ---- map ---- */

/* The table at leaf_level that holds iova, allocating the path. */
static int walk_alloc(struct drv *d, uint64_t iova, uint32_t leaf_level,
		      uint64_t *out)
{
	uint64_t table = d->root;
	uint32_t level;

	for (level = d->start_level; level < leaf_level; level++) {
		uint32_t i = PTE_INDEX(iova, level);
		uint64_t pte = plat_read64(table + i * 8);

		if (!pte_valid(pte)) {
			uint64_t t = table_alloc(d);

			if (!t)
				return BENCH_E_ARENA;
			table_install(d, table, i, 0, t, &pte);
		}
		if (!pte_is_table(pte, level))
			return DRV_E_EXIST; /* a block covers it */
		table = pte_addr(pte);
	}
	*out = table;
	return 0;
}

static int leaf_level(uint64_t pgsize, uint32_t *level)
{
	switch (pgsize) {
	case 1ull << 12:
		*level = 3;
		return 0;
	case 1ull << 21:
		*level = 2;
		return 0;
	case 1ull << 30:
		*level = 1;
		return 0;
	default:
		return BENCH_E_PARAMS;
	}
}

/* Store the leaves of [iova, iova + size); *done says how much went in. */
static int map_leaves(struct drv *d, uint64_t iova, uint64_t gpa,
		      uint64_t size, uint32_t level, uint64_t attrs,
		      uint64_t *done)
{
	uint64_t span = LEVEL_SPAN(level);
	uint64_t type = level == LAST_LEVEL ? PTE_TYPE_PAGE : PTE_TYPE_BLOCK;

	*done = 0;
	while (*done < size) {
		uint64_t table;
		uint32_t i;
		int ret = walk_alloc(d, iova + *done, level, &table);

		if (ret)
			return ret;
		/* Every leaf this table holds, without walking again. */
		for (i = PTE_INDEX(iova + *done, level);
		     i < PTES_PER_TABLE && *done < size; i++) {
			if (pte_valid(plat_read64(table + i * 8)))
				return DRV_E_EXIST;
			pte_set(d, table, i, (gpa + *done) | attrs | type);
			*done += span;
		}
	}
	return 0;
}

/* ---- unmap ---- */

/* A block an unmap call split, as the explicit strategy must report it. */
struct split_rec {
	uint64_t base, span, oa;
	uint32_t perm;
};

/* Partial overlaps happen only at the two ends of an unmap range, so one
 * call splits at most two blocks (counting a nested split as its
 * outermost block's). */
#define DRV_MAX_SPLITS 2

/* What one unmap call cleared: the range to invalidate, whether a table
 * left the tree (then walk caches must go too: Leaf = 0), and the blocks
 * it split. */
struct unmap_gather {
	uint64_t start, end;
	bool tables;
	uint32_t nsplit, nested;
	struct split_rec split[DRV_MAX_SPLITS];
};

static void gather_init(struct unmap_gather *g)
{
	g->start = g->end = 0;
	g->tables = false;
	g->nsplit = g->nested = 0;
}

static void gather_add(struct unmap_gather *g, uint64_t start, uint64_t size)
{
	if (g->end == g->start) {
		g->start = start;
		g->end = start + size;
		return;
	}
	if (start < g->start)
		g->start = start;
	if (start + size > g->end)
		g->end = start + size;
}

static int unmap_table(struct drv *d, struct unmap_gather *g, uint64_t table,
		       uint32_t level, uint64_t iova, uint64_t end);

/*
 * [iova, end) covers part of the block in entry i of table: build the
 * next level's table holding the rest of the block while nothing points
 * at it (these stores reach no live table: the VMM sees none of them),
 * swap it in with one cmpxchg, and unmap what is left of [iova, end) in
 * it if that is smaller than its entries.
 */
static int split_block(struct drv *d, struct unmap_gather *g, uint64_t table,
		       uint32_t i, uint64_t pte, uint32_t level,
		       uint64_t base, uint64_t iova, uint64_t end)
{
	uint64_t sub_span = LEVEL_SPAN(level + 1);
	uint64_t type = level + 1 == LAST_LEVEL ? PTE_TYPE_PAGE : PTE_TYPE_BLOCK;
	uint64_t attrs = pte & ~PTE_ADDR_MASK & ~PTE_TYPE_MASK;
	uint64_t oa = pte_addr(pte);
	uint64_t t = table_alloc(d), found;
	uint32_t j, n = 0;

	if (!t)
		return BENCH_E_ARENA;
	for (j = 0; j < PTES_PER_TABLE; j++) {
		uint64_t s = base + j * sub_span;

		if (s >= iova && s + sub_span <= end)
			continue;
		plat_store64(t + j * 8, (oa + j * sub_span) | attrs | type);
		n++;
	}
	d->count[table_index(d, t)] = (uint16_t)n;
	table_install(d, table, i, pte, t, &found);
	if (found != (t | PTE_TYPE_TABLE))
		return DRV_E_STATE;
	/* The TLB may hold the block: invalidate all of it. */
	gather_add(g, base, LEVEL_SPAN(level));
	if (!g->nested) {
		struct split_rec *rec;

		if (g->nsplit == DRV_MAX_SPLITS)
			return DRV_E_STATE;
		rec = &g->split[g->nsplit++];
		rec->base = base;
		rec->span = LEVEL_SPAN(level);
		rec->oa = oa;
		rec->perm = pte & PTE_AP_RDONLY ? BENCH_PERM_R
						: BENCH_PERM_R | BENCH_PERM_W;
	}
	if ((iova | end) & (sub_span - 1)) {
		int ret;

		g->nested++;
		ret = unmap_table(d, g, t, level + 1, iova, end);
		g->nested--;
		return ret;
	}
	return 0;
}

/* Unmap [iova, end), which lies inside the span of table (at level). */
static int unmap_table(struct drv *d, struct unmap_gather *g, uint64_t table,
		       uint32_t level, uint64_t iova, uint64_t end)
{
	uint64_t span = LEVEL_SPAN(level);
	uint64_t a, next;
	int ret;

	for (a = iova; a < end; a = next) {
		uint64_t base = a & ~(span - 1);
		uint32_t i = PTE_INDEX(a, level);
		uint64_t pte = plat_read64(table + i * 8);

		next = base + span < end ? base + span : end;
		if (!pte_valid(pte))
			continue; /* nothing mapped there */
		if (a == base && next == base + span) {
			/* The whole entry: one store, whatever it holds. */
			pte_clear(d, table, i);
			gather_add(g, base, span);
			if (pte_is_table(pte, level)) {
				g->tables = true;
				defer_free(d, pte_addr(pte), level + 1);
			}
			continue;
		}
		if (!pte_is_table(pte, level)) {
			ret = split_block(d, g, table, i, pte, level, base, a,
					  next);
			if (ret)
				return ret;
			continue;
		}
		ret = unmap_table(d, g, pte_addr(pte), level + 1, a, next);
		if (ret)
			return ret;
		if (d->free_empty &&
		    !d->count[table_index(d, pte_addr(pte))]) {
			pte_clear(d, table, i);
			gather_add(g, base, span);
			g->tables = true;
			defer_free(d, pte_addr(pte), level + 1);
		}
	}
	return 0;
}

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
static int invalidate(struct drv *d, uint64_t iova, uint64_t size, bool leaf)
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
		ret = invalidate(d, g->start, g->end - g->start, !g->tables);
	} else if (++d->unflushed >= d->lazy) {
		ret = drv_flush(d);
	}
	if (!ret)
		free_deferred(d);
	return ret;
}

/* Table pages the arena can still give. */
static uint32_t arena_left(const struct drv *d)
{
	return d->nfree + (d->arena_pages - d->fresh);
}

/*
 * Tables a split at one edge of an unmap range would take: one for each
 * level from the block holding addr down to where addr is aligned.
 */
static uint32_t edge_split_tables(const struct drv *d, uint64_t addr)
{
	uint64_t table = d->root;
	uint32_t level, n = 0;

	for (level = d->start_level; level < LAST_LEVEL; level++) {
		uint64_t pte = plat_read64(table + PTE_INDEX(addr, level) * 8);

		if (!pte_valid(pte))
			return 0;
		if (!pte_is_table(pte, level))
			break;
		table = pte_addr(pte);
	}
	for (; level < LAST_LEVEL && (addr & (LEVEL_SPAN(level) - 1)); level++)
		n++;
	return n;
}

/* Both edges split blocks from level 1 down at worst. */
#define DRV_SPLIT_MAX_TABLES (2 * (LAST_LEVEL - 1))

static int unmap_range(struct drv *d, uint64_t iova, uint64_t size,
		       struct unmap_gather *g)
{
	int ret, done;

	gather_init(g);
	/* An unmap fails whole or not at all: with the arena nearly full,
	 * make sure its splits will find their tables before clearing
	 * anything.  (Free otherwise: the walk happens only here.) */
	if (arena_left(d) < DRV_SPLIT_MAX_TABLES &&
	    edge_split_tables(d, iova) + edge_split_tables(d, iova + size) >
		    arena_left(d))
		return BENCH_E_ARENA;
	ret = unmap_table(d, g, d->root, d->start_level, iova, iova + size);
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
	int ret = leaf_level(pgsize, &level);

	if (ret || !range_ok(d, iova, size, pgsize) || (gpa & (pgsize - 1)))
		return BENCH_E_PARAMS;
	ret = map_leaves(d, iova, gpa, size, level, leaf_attrs(perm), &done);
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
		return invalidate(d, iova, size, true);
	if (d->strategy == BENCH_S_EXPLICIT)
		return request(d, BENCH_REQ_MAP,
			       perm & (BENCH_PERM_R | BENCH_PERM_W), iova, gpa,
			       size);
	return 0; /* VMSAv8: no negative caching, nothing to invalidate */
}

int drv_map(struct drv *d, uint64_t iova, uint64_t gpa, uint64_t size,
	    uint64_t pgsize, uint32_t perm)
{
	uint64_t t0;
	int ret;

	if (!d->timed)
		return map_call(d, iova, gpa, size, pgsize, perm);
	t0 = plat_rdtsc();
	ret = map_call(d, iova, gpa, size, pgsize, perm);
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
		d->map_cycles = d->map_calls = 0;
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
	if (p->strategy < BENCH_S_TRAP || p->strategy > BENCH_S_EXPLICIT ||
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
	d->root = table_alloc(d);
	cmdq_init(&d->q, d->cpu_area + BENCH_OFF_CMDQ, BENCH_CMDQ_LOG2,
		  d->mmio, d->cpu_area + BENCH_OFF_SYNC);
	return write_cd(d);
}

int drv_run(const struct bench_params *p, struct bench_result *r)
{
	/* About 90 KiB: the guest stack has room (see BENCH_OFF_STACK_TOP). */
	struct drv d;
	int ret;

	ret = drv_init(&d, p);
	if (!ret)
		ret = work_run(&d, p);
	drv_result(&d, r);
	return ret;
}
