/* SPDX-License-Identifier: MIT */
/*
 * A pool of 4 KiB blocks carved from 2 MiB arenas the kernel may back
 * with transparent huge pages: the tables' snapshots (tracker.c) and the
 * range maps' indexed chunk arrays (rangemap_words.c), 8 bytes each per
 * mapped 4K page, nearly all of the library's memory.
 *
 * Why not malloc: a walk of a million leaves takes 4,000 such blocks, and
 * each first touch of a fresh 4 KiB page was a page fault (about 1.4 us
 * nested, a fifth of the first set_root's time); glibc's heap cannot be
 * asked for huge pages from a library.  An arena (past a pool's first,
 * so that a small VM stays on 4 KiB pages) is madvise(MADV_HUGEPAGE)d:
 * one fault brings 512 blocks.
 *
 * A block's arena is found from its address (arenas are aligned to their
 * size, the header in block 0), so a block may be freed through any user
 * of the pool: a range map hands an array to its follower in another map.
 * An arena left empty is unmapped, unless it is the pool's last.
 *
 * Not thread safe: its users hold the VM lock.
 */
#ifndef WPT_PAGEPOOL_H
#define WPT_PAGEPOOL_H

#include <stddef.h>

#define PAGEPOOL_BLOCK 4096u

struct pp_arena;

struct pagepool {
	struct pp_arena *partial; /* arenas with a free block */
	struct pp_arena *full;    /* arenas without */
	unsigned int nr_arenas;
	size_t blocks;            /* handed out, not freed */
};

void pagepool_init(struct pagepool *pp);
/* A 4 KiB-aligned block of PAGEPOOL_BLOCK bytes, its contents undefined;
 * NULL: no memory (the mmap of a new arena failed). */
void *pagepool_alloc(struct pagepool *pp);
/* Give back a block of any pool (NULL: nothing). */
void pagepool_free(void *block);
/* Unmap every arena: the pool's blocks are gone, freed or not. */
void pagepool_fini(struct pagepool *pp);

#endif
