/* SPDX-License-Identifier: MIT */
/*
 * The bench guest driver's table edits (see pgtable.h): the arena, leaf
 * stores, table installs by cmpxchg, block splits and unmaps.
 */
#include "pgtable.h"
#include "plat.h"

/* A deferred table: its arena index | its level << DEFER_LEVEL_SHIFT. */
#define DEFER_LEVEL_SHIFT 16

uint64_t pgt_leaf_attrs(uint32_t perm)
{
	uint64_t a = PTE_AF | PTE_SH_IS | PTE_NG | PTE_AP_UNPRIV |
		     PTE_ATTRINDX(MAIR_IDX_CACHE);

	if (!(perm & BENCH_PERM_W))
		a |= PTE_AP_RDONLY;
	return a;
}

/* ---- the arena: 4K table pages, a free stack, valid-entry counts ---- */

/* A zeroed table page nothing points at yet, or 0 when the arena is
 * full. */
uint64_t pgt_table_alloc(struct drv *d)
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

void pgt_free_deferred(struct drv *d)
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

/* The table at pgt_leaf_level that holds iova, allocating the path. */
static int walk_alloc(struct drv *d, uint64_t iova, uint32_t pgt_leaf_level,
		      uint64_t *out)
{
	uint64_t table = d->root;
	uint32_t level;

	for (level = d->start_level; level < pgt_leaf_level; level++) {
		uint32_t i = PTE_INDEX(iova, level);
		uint64_t pte = plat_read64(table + i * 8);

		if (!pte_valid(pte)) {
			uint64_t t = pgt_table_alloc(d);

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

int pgt_leaf_level(uint64_t pgsize, uint32_t *level)
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
int pgt_map_leaves(struct drv *d, uint64_t iova, uint64_t gpa,
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

void pgt_gather_init(struct unmap_gather *g)
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
	uint64_t t = pgt_table_alloc(d), found;
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
		ret = pgt_unmap_table(d, g, t, level + 1, iova, end);
		g->nested--;
		return ret;
	}
	return 0;
}

/* Unmap [iova, end), which lies inside the span of table (at level). */
int pgt_unmap_table(struct drv *d, struct unmap_gather *g, uint64_t table,
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
		ret = pgt_unmap_table(d, g, pte_addr(pte), level + 1, a, next);
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

/* Table pages the arena can still give. */
uint32_t pgt_arena_left(const struct drv *d)
{
	return d->nfree + (d->arena_pages - d->fresh);
}

/*
 * Tables a split at one edge of an unmap range would take: one for each
 * level from the block holding addr down to where addr is aligned.
 */
uint32_t pgt_edge_split_tables(const struct drv *d, uint64_t addr)
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
