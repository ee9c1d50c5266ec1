/* SPDX-License-Identifier: MIT */
/*
 * The microbench's fake guest: two RAM regions of sparse anonymous memory
 * (MAP_NORESERVE: a 64 GiB region costs only the pages touched) and Arm
 * VMSAv8-64 stage 1 tables, 4K granule, 48-bit input (four levels), built
 * in the first one the way a driver leaves them after mapping N pages.
 *
 *   table RAM (TBL_GPA):  root (level 0), one level 1 table, the level 2
 *                         tables, the level 3 tables (consecutive: page
 *                         i's descriptor is at l3 + 8 i), a level 2 table
 *                         of 2 MiB blocks (not linked at first) and one
 *                         spare level 3 table per block, for its split
 *   data RAM (DATA_GPA):  what the leaves map; never touched
 *
 * IOVA i * 4K maps a scattered GPA (an odd multiplier modulo N), so no two
 * neighbours are contiguous: every page is a sink mapping of its own, the
 * worst case for the shadow (a guest's scattered DMA buffers); or, with
 * contiguous, GPA i * 4K: one run, the best case.  The blocks sit at IOVA
 * MB_BLOCK_IOVA.
 */
#ifndef WPT_MICROBENCH_GUEST_H
#define WPT_MICROBENCH_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "wpt.h"

#define MB_PAGE 4096ull
#define MB_BLOCK (2ull << 20)
#define MB_GIB (1ull << 30)
#define MB_DESCS 512ull                  /* per 4K table */
#define MB_NR_BLOCKS 32ull
#define MB_BLOCK_IOVA (511ull << 30)     /* the level 1 table's last entry */

struct mb_guest {
	uint64_t pages;                  /* N, a power of two */
	uint64_t scatter;                /* page i maps data page i * this mod N */
	struct wpt_ram_region ram[2];    /* table RAM, data RAM */
	uint64_t root, l1, l2, l3;       /* table GPAs */
	uint64_t nr_l2, nr_l3;
	uint64_t blk_l2, split_l3;       /* the block area's tables */
	uint64_t blocks_gpa;             /* data GPA of block 0 */
};

int mb_guest_new(struct mb_guest *g, uint64_t pages, bool contiguous);
void mb_guest_free(struct mb_guest *g);

/* Descriptor values */
uint64_t mb_desc_table(uint64_t next_gpa);
uint64_t mb_desc_page(uint64_t out_gpa);
uint64_t mb_desc_block(uint64_t out_gpa);

/* Page i: the GPA of its level 3 descriptor, and the descriptor that maps it. */
uint64_t mb_leaf_slot(const struct mb_guest *g, uint64_t i);
uint64_t mb_leaf_desc(const struct mb_guest *g, uint64_t i);

/* Guest RAM at gpa, as the bench's own pointer (for stores the library is
 * not told about: tables not linked yet, or INVAL-mode tables). */
uint64_t *mb_guest_ptr(const struct mb_guest *g, uint64_t gpa);

/* The number of table descriptors a walk of the whole tree reads. */
uint64_t mb_tree_descs(const struct mb_guest *g);

#endif
