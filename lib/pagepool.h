/* SPDX-License-Identifier: MIT */
/*
 * A VM's pool of 4 KiB blocks: the snapshot of every 4 KiB guest table
 * and the shadow's indexed chunk arrays (one per last-level table a
 * domain maps page by page) come from it, two blocks a guest table.
 *
 * Why not malloc: those two are 16 of the library's 18 bytes a mapped
 * page, and a walk over a big tree takes thousands of them.  From the
 * heap each is a large-bin search once the heap has been used (glibc
 * keeps no per-thread cache above 1 KiB: about a tenth of a warm
 * set_root's time here) and, while the heap grows, a page fault on first
 * touch, which on a nested guest costs 10 us.  Here a block is a pointer
 * off a free list, and a growing pool has the kernel fill its next
 * pages 64 at a time (madvise MADV_POPULATE_WRITE), a system call
 * instead of a fault each.
 *
 * Slabs of 2 MiB of address space (504 blocks), each at a 2 MiB boundary
 * so a block finds its slab by masking; a slab's first block is its
 * header, and its memory is only the blocks filled or used.  A slab
 * whose blocks are all back is kept, pages and all, and used before a
 * new one is mapped, until pagepool_trim (wpt_vm_trim) unmaps the empty
 * ones: what a pool keeps is never more than its peak.  pagepool_fini
 * unmaps them all.
 *
 * Not thread safe: every caller holds the VM lock.
 */
#ifndef WPT_PAGEPOOL_H
#define WPT_PAGEPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#define PAGEPOOL_BLOCK 4096u
/* Blocks lie a cache line more than their size apart: one at every 4
 * KiB would put the same entry of every table's snapshot (and of every
 * chunk array) in the same cache set, and stores to a few tables at one
 * index (the microbench's spread window, at index 0) read 0.93-0.96x
 * the speed they had with the heap's blocks, which lie 16 bytes more
 * than their size apart. */
#define PAGEPOOL_STRIDE (PAGEPOOL_BLOCK + 64u)
#define PAGEPOOL_SLAB_ALIGN (2ul << 20) /* a slab's size and alignment */
#define PAGEPOOL_SLAB_BLOCKS \
	((unsigned int)(PAGEPOOL_SLAB_ALIGN / PAGEPOOL_STRIDE))
/* Pages filled ahead at a time, once this many blocks are out. */
#define PAGEPOOL_FILL_BLOCKS 64u
#define PAGEPOOL_FILL_AFTER 64u

struct pagepool_slab;
LIST_HEAD(pagepool_list, pagepool_slab);

struct pagepool {
	struct pagepool_list partial;  /* slabs with a block to give */
	struct pagepool_list full;     /* slabs with none */
	struct pagepool_list empty;    /* wholly free, kept with their pages */
	uint64_t blocks_out;           /* handed out, not yet put back */
	uint64_t slabs;                /* mapped, empty ones included */
	uint64_t bytes;                /* filled or used (headers included) */
	uint64_t empty_bytes;          /* of them, in empty slabs */
};

void pagepool_init(struct pagepool *pp);
/* Unmap every slab; blocks still out are lost with them. */
void pagepool_fini(struct pagepool *pp);

/* A 4 KiB block, 64-byte aligned, its bytes undefined; NULL: no memory. */
void *pagepool_get(struct pagepool *pp);
/* Give back a block pagepool_get gave (NULL: nothing). */
void pagepool_put(struct pagepool *pp, void *block);
/* Unmap the slabs with no block out. */
void pagepool_trim(struct pagepool *pp);

#endif
