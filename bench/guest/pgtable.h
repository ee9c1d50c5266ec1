/* SPDX-License-Identifier: MIT */
/*
 * The bench guest driver's page tables: VMSAv8-64 stage 1 with the 4K
 * granule, the arena of table pages, and the table edits a map or an
 * unmap call makes (walk and allocate, store leaves, split a block, clear
 * and unlink).  drv.c decides what a call does and what follows it; this
 * file only edits tables, and calls nothing above it.
 *
 * Every store to a live table is one plat_* store (one exit under trap).
 * Functions return 0 or a BENCH_E_* / DRV_E_* code.
 */
#ifndef BENCH_GUEST_PGTABLE_H
#define BENCH_GUEST_PGTABLE_H

#include "drv.h"

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

static inline bool pte_valid(uint64_t pte)
{
	return pte & PTE_VALID;
}

static inline bool pte_is_table(uint64_t pte, uint32_t level)
{
	return level < LAST_LEVEL && (pte & PTE_TYPE_MASK) == PTE_TYPE_TABLE;
}

static inline uint64_t pte_addr(uint64_t pte)
{
	return pte & PTE_ADDR_MASK;
}

/* The arena index of a table page. */
static inline uint32_t table_index(const struct drv *d, uint64_t table)
{
	return (uint32_t)((table - d->arena) >> DRV_PAGE_SHIFT);
}

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

/* Both edges split blocks from level 1 down at worst. */
#define DRV_SPLIT_MAX_TABLES (2 * (LAST_LEVEL - 1))


/* Leaf attributes for perm (BENCH_PERM_*), as Linux's stage-1 leaf. */
uint64_t pgt_leaf_attrs(uint32_t perm);
/* The level whose leaves are pgsize (4K, 2M, 1G), or BENCH_E_PARAMS. */
int pgt_leaf_level(uint64_t pgsize, uint32_t *level);
/* A zeroed table page nothing points at yet, or 0 when the arena is full. */
uint64_t pgt_table_alloc(struct drv *d);
/* Give back the tables the last unmap unlinked (after its invalidation). */
void pgt_free_deferred(struct drv *d);
/* Table pages the arena can still give. */
uint32_t pgt_arena_left(const struct drv *d);
/* Tables a split at one edge of an unmap range would take. */
uint32_t pgt_edge_split_tables(const struct drv *d, uint64_t addr);
/* Store the leaves of [iova, iova + size) at level, allocating the tables
 * on the way; *done says how much went in. */
int pgt_map_leaves(struct drv *d, uint64_t iova, uint64_t gpa, uint64_t size,
		   uint32_t level, uint64_t attrs, uint64_t *done);
void pgt_gather_init(struct unmap_gather *g);
/* Unmap [iova, end), which lies inside the span of table (at level),
 * gathering what to invalidate and the blocks split into g. */
int pgt_unmap_table(struct drv *d, struct unmap_gather *g, uint64_t table,
		    uint32_t level, uint64_t iova, uint64_t end);

#endif
