/* SPDX-License-Identifier: MIT */
/*
 * The bench workloads: what a device's DMA mapping pattern looks like to
 * the IOMMU driver.  Each one does its setup, writes PHASE_START, runs the
 * timed part and writes PHASE_END; the VMM times and counts between the
 * two.  Counters (struct drv) cover the timed part only.
 */
#include "drv.h"
#include "plat.h"

#define RW (BENCH_PERM_R | BENCH_PERM_W)
#define PAGE DRV_PAGE_SIZE
#define BLOCK DRV_BLOCK_2M
#define PAGES_PER_BLOCK (BLOCK / PAGE)

/* Live mappings churn keeps at most. */
#define CHURN_LIVE 64
/* Attempts at drawing a fresh IOVA before giving up (a collision in a
 * 48-bit space among 128 pages is already a one-in-10^9 event). */
#define CHURN_TRIES 16

static bool iova_range_ok(const struct drv *d, uint64_t iova, uint64_t size)
{
	return !(iova & (PAGE - 1)) && iova + size >= iova &&
	       iova + size <= 1ull << d->ias;
}

/*
 * A NIC-like loop: map one page, unmap it, over a hot window whose tables
 * stay allocated (a 4K unmap never frees a table without free_empty).  An
 * IOVA whose unmap still waits for a lazy invalidation is never mapped
 * again (Linux's flush queue holds the IOVA until then), so a window
 * smaller than lazy flushes early.
 */
static int w_stream4k(struct drv *d, const struct bench_params *p)
{
	uint64_t window = p->window_pages, data_pages = p->data_size / PAGE;
	uint64_t end = p->iova_base + window * PAGE;
	uint64_t a, i, slot = 0, page = 0;
	int ret;

	if (!window || window > (1ull << 36) ||
	    !iova_range_ok(d, p->iova_base, window * PAGE))
		return BENCH_E_PARAMS;
	/* Setup: every table the window needs, by mapping and unmapping one
	 * page in each 2 MiB the window touches. */
	for (a = p->iova_base; a < end; a = (a | (BLOCK - 1)) + 1) {
		ret = drv_map(d, a, p->data_gpa, PAGE, PAGE, RW);
		if (!ret)
			ret = drv_unmap(d, a, PAGE);
		if (ret)
			return ret;
	}
	ret = drv_flush(d);
	if (ret)
		return ret;
	drv_phase(d, BENCH_PHASE_START);
	for (i = 0; i < p->ops; i++) {
		uint64_t iova = p->iova_base + slot * PAGE;

		ret = drv_map(d, iova, p->data_gpa + page * PAGE, PAGE, PAGE,
			      RW);
		if (ret)
			return ret;
		d->maps++;
		ret = drv_unmap(d, iova, PAGE);
		if (ret)
			return ret;
		d->unmaps++;
		if (d->unflushed >= window) {
			ret = drv_flush(d);
			if (ret)
				return ret;
		}
		if (++slot == window)
			slot = 0;
		if (++page == data_pages)
			page = 0;
	}
	ret = drv_flush(d);
	if (ret)
		return ret;
	drv_phase(d, BENCH_PHASE_END);
	return 0;
}

/* bulk_bytes, the IOVA base and the data area in whole 2 MiB blocks. */
static int bulk_params(const struct drv *d, const struct bench_params *p)
{
	if (!p->bulk_bytes || (p->bulk_bytes | p->iova_base) & (BLOCK - 1) ||
	    p->data_size & (BLOCK - 1) || p->data_gpa & (BLOCK - 1) ||
	    !iova_range_ok(d, p->iova_base, p->bulk_bytes))
		return BENCH_E_PARAMS;
	return 0;
}

/* Map bulk_bytes from iova_base, one 2 MiB call at a time with leaves of
 * pgsize, over the data pages again and again. */
static int bulk_map(struct drv *d, const struct bench_params *p,
		    uint64_t pgsize)
{
	uint64_t off, gpa_off = 0;
	int ret;

	for (off = 0; off < p->bulk_bytes; off += BLOCK) {
		ret = drv_map(d, p->iova_base + off, p->data_gpa + gpa_off,
			      BLOCK, pgsize, RW);
		if (ret)
			return ret;
		d->maps += BLOCK / pgsize;
		gpa_off += BLOCK;
		if (gpa_off == p->data_size)
			gpa_off = 0;
	}
	return 0;
}

/*
 * Map bulk_bytes in 2 MiB calls (as pages or as blocks), then unmap it in
 * 2 MiB calls: with pages each unmap clears one level-2 entry and frees
 * the table under it; with blocks it clears one block.
 */
static int w_bulk(struct drv *d, const struct bench_params *p,
		  uint64_t pgsize)
{
	uint64_t per_call = BLOCK / pgsize;
	uint64_t off;
	int ret = bulk_params(d, p);

	if (ret)
		return ret;
	drv_phase(d, BENCH_PHASE_START);
	ret = bulk_map(d, p, pgsize);
	if (ret)
		return ret;
	drv_phase(d, BENCH_PHASE_MID);
	for (off = 0; off < p->bulk_bytes; off += BLOCK) {
		ret = drv_unmap(d, p->iova_base + off, BLOCK);
		if (ret)
			return ret;
		d->unmaps += per_call;
	}
	ret = drv_flush(d);
	if (ret)
		return ret;
	drv_phase(d, BENCH_PHASE_END);
	return 0;
}

/* Map bulk_bytes as 2 MiB blocks, then unmap one page inside each: every
 * unmap splits its block (a table of 511 pages swapped in). */
static int w_split(struct drv *d, const struct bench_params *p)
{
	uint64_t off, k = 0;
	int ret = bulk_params(d, p);

	if (ret)
		return ret;
	drv_phase(d, BENCH_PHASE_START);
	ret = bulk_map(d, p, BLOCK);
	if (ret)
		return ret;
	drv_phase(d, BENCH_PHASE_MID);
	for (off = 0; off < p->bulk_bytes; off += BLOCK, k++) {
		/* A different page in each block: first, middle, last... */
		uint64_t page = (k * 97 + 1) & (PAGES_PER_BLOCK - 1);

		ret = drv_unmap(d, p->iova_base + off + page * PAGE, PAGE);
		if (ret)
			return ret;
		d->unmaps++;
	}
	ret = drv_flush(d);
	if (ret)
		return ret;
	drv_phase(d, BENCH_PHASE_END);
	return 0;
}

/* xorshift64 (Marsaglia): small, seedable, good enough to scatter IOVAs. */
static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static bool in_set(const uint64_t *set, uint32_t n, uint64_t v)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (set[i] == v)
			return true;
	return false;
}

struct churn {
	uint64_t rng;
	uint64_t live[CHURN_LIVE];
	uint32_t nlive;
	/* Unmapped IOVAs a lazy invalidation still owes: not reused. */
	uint64_t pend[CHURN_LIVE];
	uint32_t npend;
};

static int churn_map(struct drv *d, const struct bench_params *p,
		     struct churn *c)
{
	uint64_t mask = ((1ull << d->ias) - 1) & ~(PAGE - 1);
	uint64_t iova = 0, gpa;
	uint32_t tries;
	int ret;

	for (tries = 0; tries < CHURN_TRIES; tries++) {
		iova = xorshift64(&c->rng) & mask;
		if (!in_set(c->live, c->nlive, iova) &&
		    !in_set(c->pend, c->npend, iova))
			break;
	}
	if (tries == CHURN_TRIES)
		return DRV_E_STATE;
	gpa = p->data_gpa + xorshift64(&c->rng) % (p->data_size / PAGE) * PAGE;
	ret = drv_map(d, iova, gpa, PAGE, PAGE, RW);
	if (ret)
		return ret;
	c->live[c->nlive++] = iova;
	d->maps++;
	return 0;
}

static int churn_unmap(struct drv *d, struct churn *c)
{
	uint32_t k = (uint32_t)(xorshift64(&c->rng) % c->nlive);
	uint64_t iova = c->live[k];
	uint32_t waiting = d->unflushed;
	int ret;

	c->live[k] = c->live[--c->nlive];
	ret = drv_unmap(d, iova, PAGE);
	if (ret)
		return ret;
	d->unmaps++;
	if (!d->unflushed)
		c->npend = 0;
	else if (d->unflushed > waiting)
		c->pend[c->npend++] = iova;
	if (c->npend == CHURN_LIVE) {
		c->npend = 0;
		return drv_flush(d);
	}
	return 0;
}

/*
 * Random maps and unmaps of single pages over the whole IOVA space, at
 * most CHURN_LIVE live at once, with empty tables unlinked and freed: most
 * maps allocate a path of tables and most unmaps free one.
 */
static int w_churn(struct drv *d, const struct bench_params *p)
{
	struct churn c;
	uint64_t i;
	int ret;

	c.rng = p->seed ? p->seed : 0x9e3779b97f4a7c15ull;
	c.nlive = c.npend = 0;
	d->free_empty = true;
	drv_phase(d, BENCH_PHASE_START);
	for (i = 0; i < p->ops; i++) {
		bool map = !c.nlive ||
			   (c.nlive < CHURN_LIVE && (xorshift64(&c.rng) & 1));

		ret = map ? churn_map(d, p, &c) : churn_unmap(d, &c);
		if (ret)
			return ret;
	}
	ret = drv_flush(d);
	if (ret)
		return ret;
	drv_phase(d, BENCH_PHASE_END);
	return 0;
}

/* ops writes to a register that does nothing: the exit round trip. */
static int w_cal_exit(struct drv *d, const struct bench_params *p)
{
	uint64_t i;

	drv_phase(d, BENCH_PHASE_START);
	for (i = 0; i < p->ops; i++)
		plat_mmio_write64(d->mmio + SMMU_R_NOP, i);
	drv_phase(d, BENCH_PHASE_END);
	return 0;
}

#if !__STDC_HOSTED__
/*
 * BENCH_W_EDGES: the table stores a guest can make that are not one
 * aligned 8-byte store, one step at a time, with a PHASE_MID checkpoint
 * after each so the VMM can look at RAM, the tracker and the sink there.
 * With B = iova_base (2 MiB aligned) and D = data_gpa:
 *
 *  1. map B -> D: the driver installs the level 1, 2 and 3 tables with
 *     lock cmpxchg into their (protected) parents, then one leaf.    MID 1
 *  2. leaf B + 4K -> D + 4K written as two 4-byte stores, low half first;
 *     leaf B + 8K -> D + 8K high half first.  After the first half of
 *     each:                                                          MID 2
 *     then the other halves:                                         MID 3
 *  3. map B + 511 * 4K -> D + 12K (the level 3 table's last entry), then
 *     one 8-byte store at the table's offset 4092: its low 4 bytes are
 *     that entry's high half, its high 4 bytes (EDGE_MARK) land in the
 *     next arena page, which must be one the arena never gave out (so no
 *     table, never protected).                                       MID 4
 *  4. unmap the four pages (driver calls), then PHASE_END.
 *
 * The high halves written are UXN | PXN (io-pgtable's IOMMU_NOEXEC bits):
 * nothing an IOMMU mapping of RAM depends on, so a leaf's first half alone
 * must already map its low half's address, as a walker would read it.
 * Under INVAL each store to a live table is followed by the invalidation
 * of its page, as the driver invalidates a map.  EXPLICIT is refused: the
 * guest would have to describe half-written leaves in requests.
 *
 * Result counters (the timed part is all of it): maps 4, unmaps 4,
 * tables_alloc 3, leaf_stores 14 (each half and the crossing store count
 * as one descriptor store), invals 4 (TRAP, HYBRID) or 11 (INVAL).
 */
#define EDGE_ADDR_MASK 0x0000fffffffff000ull
#define EDGE_TYPE_TABLE 3ull
#define EDGE_XN_HIGH 0x00600000u   /* bits 54:53 of the descriptor */
#define EDGE_MARK 0x5eedc0deu
#define EDGE_LAST 511u

/* The level 3 table holding iova's entry, or 0 if a table is missing. */
static uint64_t edge_l3_table(const struct drv *d, uint64_t iova)
{
	uint64_t table = d->root;
	uint32_t level;

	for (level = d->start_level; level < 3; level++) {
		uint32_t shift = 12 + 9 * (3 - level);
		uint64_t pte = plat_read64(table + ((iova >> shift) & 511) * 8);

		if ((pte & 3) != EDGE_TYPE_TABLE)
			return 0;
		table = pte & EDGE_ADDR_MASK;
	}
	return table;
}

/* After a store to a live leaf of iova: what the strategy owes. */
static int edge_stored(struct drv *d, uint64_t iova)
{
	d->leaf_stores++;
	if (d->strategy != BENCH_S_INVAL)
		return 0;
	return cmdq_inv_range(&d->q, d->asid, iova, PAGE, true);
}

/* Step 2: two leaves of table t (entries 1 and 2) written in halves. */
static int edge_halves(struct drv *d, uint64_t iova, uint64_t t,
		       uint64_t data, uint64_t attrs)
{
	uint64_t a = (data + PAGE) | attrs | (uint64_t)EDGE_XN_HIGH << 32;
	uint64_t b = (data + 2 * PAGE) | attrs | (uint64_t)EDGE_XN_HIGH << 32;
	uint64_t ea = t + 1 * 8, eb = t + 2 * 8;
	int ret;

	if (plat_read64(ea) || plat_read64(eb))
		return DRV_E_STATE;
	plat_store32(ea, (uint32_t)a);                  /* a: low first */
	ret = edge_stored(d, iova + PAGE);
	if (ret)
		return ret;
	plat_store32(eb + 4, (uint32_t)(b >> 32));      /* b: high first */
	ret = edge_stored(d, iova + 2 * PAGE);
	if (ret)
		return ret;
	drv_phase(d, BENCH_PHASE_MID);
	plat_store32(ea + 4, (uint32_t)(a >> 32));
	ret = edge_stored(d, iova + PAGE);
	if (ret)
		return ret;
	plat_store32(eb, (uint32_t)b);
	ret = edge_stored(d, iova + 2 * PAGE);
	if (ret)
		return ret;
	/* The driver's bookkeeping: two more valid entries in t. */
	d->count[(t - d->arena) >> DRV_PAGE_SHIFT] += 2;
	d->maps += 2;
	drv_phase(d, BENCH_PHASE_MID);
	return 0;
}

/* Step 3: the last entry of t, then a store from its high half into the
 * next page. */
static int edge_cross(struct drv *d, uint64_t iova, uint64_t t,
		      uint64_t data)
{
	uint64_t last = iova + EDGE_LAST * PAGE;
	uint32_t idx = (uint32_t)((t - d->arena) >> DRV_PAGE_SHIFT);
	int ret;

	ret = drv_map(d, last, data + 3 * PAGE, PAGE, PAGE, RW);
	if (ret)
		return ret;
	d->maps++;
	/* The next page must hold no table: one the arena never gave out. */
	if (d->nfree || d->fresh != idx + 1 || idx + 1 >= d->arena_pages)
		return DRV_E_STATE;
	plat_store64_unaligned(t + EDGE_LAST * 8 + 4,
			       (uint64_t)EDGE_MARK << 32 | EDGE_XN_HIGH);
	ret = edge_stored(d, last);
	if (ret)
		return ret;
	drv_phase(d, BENCH_PHASE_MID);
	return 0;
}

static int w_edges(struct drv *d, const struct bench_params *p)
{
	static const uint64_t pages[] = { 0, 1, 2, EDGE_LAST };
	uint64_t b = p->iova_base, t, attrs;
	uint32_t i;
	int ret;

	if (d->strategy == BENCH_S_EXPLICIT || (b & (BLOCK - 1)) ||
	    !iova_range_ok(d, b, BLOCK) || p->data_size < 4 * PAGE)
		return BENCH_E_PARAMS;
	drv_phase(d, BENCH_PHASE_START);
	ret = drv_map(d, b, p->data_gpa, PAGE, PAGE, RW);
	if (ret)
		return ret;
	d->maps++;
	t = edge_l3_table(d, b);
	if (!t)
		return DRV_E_STATE;
	/* The driver's own leaf attributes (and page type bits). */
	attrs = plat_read64(t) & ~EDGE_ADDR_MASK;
	drv_phase(d, BENCH_PHASE_MID);
	ret = edge_halves(d, b, t, p->data_gpa, attrs);
	if (!ret)
		ret = edge_cross(d, b, t, p->data_gpa);
	for (i = 0; !ret && i < sizeof(pages) / sizeof(pages[0]); i++) {
		ret = drv_unmap(d, b + pages[i] * PAGE, PAGE);
		d->unmaps += !ret;
	}
	if (!ret)
		ret = drv_flush(d);
	if (ret)
		return ret;
	drv_phase(d, BENCH_PHASE_END);
	return 0;
}
#endif

int work_run(struct drv *d, const struct bench_params *p)
{
	switch (p->workload) {
	case BENCH_W_STREAM4K:
		return w_stream4k(d, p);
	case BENCH_W_BULK4K:
		return w_bulk(d, p, PAGE);
	case BENCH_W_BULK2M:
		return w_bulk(d, p, BLOCK);
	case BENCH_W_CHURN:
		return w_churn(d, p);
	case BENCH_W_SPLIT:
		return w_split(d, p);
	case BENCH_W_CAL_EXIT:
		return w_cal_exit(d, p);
	case BENCH_W_EDGES:
#if __STDC_HOSTED__
		/* Hosted (test_bench_driver.c) there are no 4-byte or
		 * page-crossing stores to run it with. */
		return BENCH_E_PARAMS;
#else
		return w_edges(d, p);
#endif
	default:
		return BENCH_E_PARAMS;
	}
}

int work_main(const struct bench_params *p, struct bench_result *r)
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
