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

/*
 * Map bulk_bytes in 2 MiB calls (as pages or as blocks), then unmap it in
 * 2 MiB calls: with pages each unmap clears one level-2 entry and frees
 * the table under it; with blocks it clears one block.
 */
static int w_bulk(struct drv *d, const struct bench_params *p,
		  uint64_t pgsize)
{
	uint64_t per_call = BLOCK / pgsize;
	uint64_t off, gpa_off = 0;
	int ret = bulk_params(d, p);

	if (ret)
		return ret;
	drv_phase(d, BENCH_PHASE_START);
	for (off = 0; off < p->bulk_bytes; off += BLOCK) {
		ret = drv_map(d, p->iova_base + off, p->data_gpa + gpa_off,
			      BLOCK, pgsize, RW);
		if (ret)
			return ret;
		d->maps += per_call;
		gpa_off += BLOCK;
		if (gpa_off == p->data_size)
			gpa_off = 0;
	}
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
	uint64_t off, gpa_off = 0, k = 0;
	int ret = bulk_params(d, p);

	if (ret)
		return ret;
	drv_phase(d, BENCH_PHASE_START);
	for (off = 0; off < p->bulk_bytes; off += BLOCK) {
		ret = drv_map(d, p->iova_base + off, p->data_gpa + gpa_off,
			      BLOCK, BLOCK, RW);
		if (ret)
			return ret;
		d->maps++;
		gpa_off += BLOCK;
		if (gpa_off == p->data_size)
			gpa_off = 0;
	}
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
	default:
		return BENCH_E_PARAMS;
	}
}
