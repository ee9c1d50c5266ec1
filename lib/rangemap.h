/* SPDX-License-Identifier: MIT */
/*
 * A range map: disjoint, page-aligned IOVA ranges, each translating to a
 * GPA with permissions, in IOVA order.  The shadow's two books (the
 * leaves, and the mappings the sink holds) are range maps.
 *
 * Why not a tree of nodes: a guest mapping scattered 4K pages makes every
 * page a leaf and a sink mapping of its own, and a node per page (about
 * 100 bytes with its allocator header, and a cache miss per tree level)
 * was most of the library's memory and of a store's time.  Here a range
 * shorter than a chunk (2 MiB of IOVA, one last-level table's span with
 * the 4K granule) is one 8-byte word in its chunk's array of 512, found by
 * indexing; a chunk is reached through a radix tree over chunk numbers
 * (512-way, as deep as the highest IOVA needs), so a lookup costs the same
 * at any number of ranges.  Longer ranges (blocks, long runs), and the
 * rare range a word cannot describe, sit in an RB tree; there are few.
 *
 * Memory: a populated chunk costs 4 KiB plus its bitmap, no more than the
 * guest's own last-level table that filled it; the radix nodes cost what
 * the guest's upper tables do.
 *
 * Not thread safe: the shadow's caller holds the VM lock.
 */
#ifndef WPT_RANGEMAP_H
#define WPT_RANGEMAP_H

#include <stdbool.h>
#include <stdint.h>

#include <bsd/sys/tree.h>

#include "wpt.h"

/* Two bits a user may keep with each range (the shadow's reconcile). */
#define RM_F_JUDGED (1u << 0)
#define RM_F_KILL   (1u << 1)

struct rm_chunk;

struct rm_big {
	RB_ENTRY(rm_big) link;
	struct wpt_mapping m;
	unsigned int flags;
};
RB_HEAD(rm_big_tree, rm_big);

struct rangemap {
	void *root;           /* radix node, or a chunk when height is 0 */
	unsigned int height;  /* radix levels above the chunks */
	struct rm_big_tree big;
	uint64_t nr;          /* ranges held */
	struct rm_chunk *last; /* the chunk found last: stores hit one table */
	struct rm_big *spare;  /* rm_reserve's, for the next tree insert */
	/* big_cached: the first tree range starting at or after any IOVA
	 * in [big_lo, big_next's start] is big_next (NULL: none after). */
	bool big_cached;
	uint64_t big_lo;
	struct rm_big *big_next;
};

/* Where a range is: in a chunk (c, off) or the tree (b).  Stays valid
 * while ranges elsewhere are inserted or removed. */
struct rm_pos {
	struct rm_chunk *c;
	unsigned int off;
	struct rm_big *b;
};

void rm_init(struct rangemap *rm);
void rm_free_all(struct rangemap *rm);

/* The first range ending at or after x / the range starting exactly at
 * iova / the one after p: true and *p, or false. */
bool rm_from(struct rangemap *rm, uint64_t x, struct rm_pos *p);
bool rm_find(struct rangemap *rm, uint64_t iova, struct rm_pos *p);
bool rm_next(struct rangemap *rm, struct rm_pos *p);

void rm_get(const struct rm_pos *p, struct wpt_mapping *m);
unsigned int rm_flags(const struct rm_pos *p);
void rm_set_flags(struct rm_pos *p, unsigned int flags);

/* Make the memory a later rm_insert(m) needs: 0 or -ENOMEM.  Then that
 * insert cannot fail (the shadow records a mapping the sink made).  If it
 * is not made after all, rm_unreserve(m). */
int rm_reserve(struct rangemap *rm, const struct wpt_mapping *m);
void rm_unreserve(struct rangemap *rm, const struct wpt_mapping *m);

/* Insert m (page aligned, size > 0, overlapping nothing held) with flags:
 * 0 (and *p if given) or -ENOMEM, the map unchanged. */
int rm_insert(struct rangemap *rm, const struct wpt_mapping *m,
	      unsigned int flags, struct rm_pos *p);
/* Insert m[0..n) (sorted by IOVA, disjoint, page aligned, sizes > 0,
 * overlapping nothing held) with flags 0: 0, or -ENOMEM and the map
 * unchanged. */
int rm_insert_batch(struct rangemap *rm, const struct wpt_mapping *m,
		    unsigned int n);
/* Remove the range at p; p is then invalid. */
void rm_remove(struct rangemap *rm, struct rm_pos *p);

#endif
