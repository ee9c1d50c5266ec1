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
 * (64-way, as deep as the highest IOVA needs), so a lookup costs the same
 * at any number of ranges.  Longer ranges (blocks, long runs), and the
 * rare range a word cannot describe, sit in an RB tree; there are few.
 *
 * Memory: a populated chunk costs 4 KiB plus its bitmap, no more than the
 * guest's own last-level table that filled it, and a chunk that follows
 * another map's (rm_follow) about 450 bytes; the radix nodes cost less
 * than the guest's upper tables do.
 *
 * Not thread safe: the shadow's caller holds the VM lock.
 */
#ifndef WPT_RANGEMAP_H
#define WPT_RANGEMAP_H

#include <stdbool.h>
#include <stdint.h>

#include <bsd/sys/tree.h>

#include "wpt.h"
#include "fibhash.h"

/* Two bits a user may keep with each range (the shadow's reconcile); no
 * more fit a chunk's word. */
#define RM_F_JUDGED (1u << 0)
#define RM_F_KILL   (1u << 1)

struct rm_chunk;
struct pagepool;

struct rm_big {
	RB_ENTRY(rm_big) link;
	struct wpt_mapping m;
	unsigned int flags;
};
RB_HEAD(rm_big_tree, rm_big);

struct rangemap {
	void *root;           /* radix node (NULL: no chunk) */
	unsigned int height;  /* radix levels above the chunks */
	struct rm_big_tree big;
	uint64_t nr;          /* ranges held */
	struct rm_chunk *last; /* the chunk found last: stores hit one table */
	uint64_t last_key;     /* its key, here: a store elsewhere in a big
				* map would miss the cache on last->key */
	/* Chunks found before, by a hash of their key: a store to one of the
	 * tables a guest is working in skips the descent through the radix
	 * tree's levels (two at 64K pages, three at 16M: a load each, each
	 * waiting for the last), in each of the four lookups it makes. */
	struct fib_cache seen; /* of struct rm_chunk, by key (fibhash.h) */
	struct rm_big *spare;  /* rm_reserve's, for the next tree insert */
	struct rangemap *source; /* rm_follow's: whose words chunks may read */
	/* big_cached: the first tree range starting at or after any IOVA
	 * in [big_lo, big_next's start] is big_next (NULL: none after). */
	bool big_cached;
	uint64_t big_lo;
	struct rm_big *big_next;
	/* Chunk ranges running on past their chunk's end (at most one a
	 * chunk, its last).  While there are none, no range reaches a page
	 * from the chunk before, and a question about a page with nothing
	 * before it in its chunk (a table's first leaf) skips the lookup of
	 * that chunk and of its last range: a spread store's two or three
	 * cache misses in each map. */
	uint64_t spill;
	/* Where indexed arrays (4 KiB) come from: the VM's pool, or NULL,
	 * the heap (rm_set_pool). */
	struct pagepool *pool;
};

/* Where a range is: in a chunk (c, off) or the tree (b).  Stays valid
 * while ranges elsewhere are inserted or removed. */
struct rm_pos {
	struct rm_chunk *c;
	unsigned int off;
	struct rm_big *b;
};

void rm_init(struct rangemap *rm);
/* An empty map's indexed chunk arrays (4 KiB, one a last-level table
 * mapped page by page) from pool (pagepool.h) instead of the heap: a walk
 * takes thousands.  A follower and its source share arrays, so they use
 * the same pool. */
void rm_set_pool(struct rangemap *rm, struct pagepool *pool);
/* Empty the map (its pool and its source kept). */
void rm_free_all(struct rangemap *rm);

/* The first range ending at or after x / the range starting exactly at
 * iova / the one after p: true and *p, or false. */
bool rm_from(struct rangemap *rm, uint64_t x, struct rm_pos *p);
bool rm_find(struct rangemap *rm, uint64_t iova, struct rm_pos *p);
bool rm_next(struct rangemap *rm, struct rm_pos *p);
/* The first range overlapping [first, last]: true, *p and its mapping *m,
 * or false.  Never looks past last (rm_from may search far for the next
 * range): the shadow's questions about one leaf's range cost the same
 * however sparse the map is. */
bool rm_overlap(struct rangemap *rm, uint64_t first, uint64_t last,
		struct rm_pos *p, struct wpt_mapping *m);

void rm_get(const struct rm_pos *p, struct wpt_mapping *m);
/* The range at p and those after it, as rm_next would give them, while
 * they are in p's chunk (p->c set), start at or below last and number at
 * most max: their mappings in m[], and p left at the last of them (so
 * rm_next goes on from there).  0 (p unchanged): the range at p starts
 * past last, or p is in the tree.  A walk over a table's leaves reads
 * them a chunk at a time, not a word lookup and a tree check apiece. */
unsigned int rm_chunk_run(struct rangemap *rm, struct rm_pos *p,
			  uint64_t last, struct wpt_mapping *m,
			  unsigned int max);
/* The size of the range at p alone (rm_get's m->size, without the rest:
 * a batch removal checks only that). */
uint64_t rm_size(const struct rm_pos *p);
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

/*
 * Let follower's chunks read source's words where the two hold the same
 * ranges, instead of keeping a copy (the shadow's held mappings and its
 * leaves: between reconciles the sink holds what the guest maps, page for
 * page when every page is a mapping of its own, and 4 KiB a chunk is
 * saved).  A chunk follower makes follows its source's chunk of the same
 * key from the start (if that is indexed); rm_share(follower, first,
 * last) makes those over [first, last] follow that hold exactly their
 * source chunk's ranges (flags clear): the count, or -ENOMEM (those made
 * so stay so).  Both maps stay free to change in any way: a change that
 * would show one the other's words makes a private copy of what it
 * touches, room for which rm_reserve and rm_insert make as they always
 * did.  Words are freed with the last map that reads them: the two may be
 * freed in either order.
 */
void rm_follow(struct rangemap *follower, struct rangemap *source);
int rm_share(struct rangemap *follower, uint64_t first, uint64_t last);

/*
 * Adopting: the follower takes ranges its source holds, word for word, at
 * a start bit each (the shadow's fill over what nothing held: the sink
 * now holds each leaf there as a mapping of its own).  rm_adopt_begin:
 * the follower's chunk of the key of source position sp's chunk, made if
 * missing, if it reads that chunk's words: true and *fp; else false (it
 * keeps words of its own, or no memory: insert as usual).  rm_adopt: the
 * range the source holds now starting at iova, in fp's chunk, where the
 * follower has none: no memory, cannot fail.  rm_adopt_end: a chunk
 * rm_adopt_begin made and nothing was adopted into is taken away again.
 */
bool rm_adopt_begin(struct rangemap *follower, const struct rm_pos *sp,
		    struct rm_pos *fp);
void rm_adopt(struct rangemap *follower, struct rm_pos *fp, uint64_t iova);
void rm_adopt_end(struct rangemap *follower, struct rm_pos *fp);

#endif
