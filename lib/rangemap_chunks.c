/* SPDX-License-Identifier: MIT */
/*
 * The range map's radix tree over its chunks (rangemap_int.h), and the
 * chunks a follower shares with its source (rm_share).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guestmem.h"
#include "hot.h"
#include "rangemap_int.h"

/*
 * 64-way nodes (528 bytes), not 512-way like a chunk (4 KiB a node): a
 * map is as tall as its highest key needs, and its nodes are a fixed cost
 * that a small domain pays per page (two 512-way nodes were 8 of the 56
 * bytes per page of 1K scattered pages).  A map of 16M pages needs the
 * same memory in nodes either way (0.02 byte a page); a lookup the chunk
 * cache misses descends a level or two more, through nodes that stay hot.
 */
#define RM_NODE_BITS 6
#define RM_NODE_FAN (1u << RM_NODE_BITS)
#define RM_MAX_HEIGHT 8          /* 8 x 6 bits >= 43 bits of chunk number */

struct rm_node {
	void *slot[RM_NODE_FAN];
	uint64_t used;              /* slot i is not NULL: found by ctz, a
				     * sparse map's next chunk costs no scan */
	unsigned int nr;
};

static void slot_set(struct rm_node *n, unsigned int i, void *v)
{
	n->slot[i] = v;
	if (v) {
		n->used |= 1ull << i;
		n->nr++;
	} else {
		n->used &= ~(1ull << i);
		n->nr--;
	}
}

/* The first slot used at or above i (RM_NODE_FAN: none). */
static unsigned int slot_next(const struct rm_node *n, unsigned int i)
{
	uint64_t m = i < RM_NODE_FAN ? n->used & (~0ull << i) : 0;

	return m ? (unsigned int)__builtin_ctzll(m) : RM_NODE_FAN;
}

/* Slot of key at radix level lvl (0: the chunk's own slot). */
static unsigned int slot_of(uint64_t key, int lvl)
{
	return (key >> (RM_NODE_BITS * lvl)) & (RM_NODE_FAN - 1);
}

/* ---------------------------------------------------- the radix tree */

/* c, found or made: the chunk to look at first for its key; seen too,
 * unless it answered from there. */
static void found(struct rangemap *rm, struct rm_chunk *c, bool seen)
{
	rm->last = c;
	rm->last_key = c->key;
	if (!seen)
		fib_cache_put(&rm->seen, fib_cache_set(c->key), c);
}

/* The chunk of key in rm->seen's set i, or NULL; found in the second
 * way, it moves to the first (a hot chunk stays where a hit reads nothing
 * else). */
static struct rm_chunk *seen_get(struct rangemap *rm, unsigned int i,
				 uint64_t key)
{
	struct rm_chunk *c = rm->seen.way[0][i];

	if (c && c->key == key)
		return c;
	c = rm->seen.way[1][i];
	if (!c || c->key != key)
		return NULL;
	fib_cache_put(&rm->seen, i, c);
	return c;
}

WPT_HOT
struct rm_chunk *chunk_lookup(struct rangemap *rm, uint64_t key)
{
	void *n = rm->root;
	struct rm_chunk *c;
	int lvl;

	if (rm->last && rm->last_key == key)
		return rm->last;
	/* A chunk freed leaves no way here (chunk_drop): c is live. */
	c = seen_get(rm, fib_cache_set(key), key);
	if (c) {
		found(rm, c, true);
		return c;
	}
	if (!n || key >> (RM_NODE_BITS * rm->height))
		return NULL;
	for (lvl = (int)rm->height - 1; lvl >= 0 && n; lvl--)
		n = ((struct rm_node *)n)->slot[slot_of(key, lvl)];
	if (n)
		found(rm, n, false);
	return n;
}

static int radix_grow(struct rangemap *rm, uint64_t key)
{
	while (!rm->height || key >> (RM_NODE_BITS * rm->height)) {
		struct rm_node *n;

		if (!rm->root) {
			rm->height++;
			continue;
		}
		n = calloc(1, sizeof(*n));
		if (!n)
			return -ENOMEM;
		slot_set(n, 0, rm->root);
		rm->root = n;
		rm->height++;
	}
	return 0;
}

/* The chunk of key, created if missing; NULL: no memory.  Nodes made on
 * the way before a failure stay, empty: harmless, freed with the map. */
struct rm_chunk *chunk_get(struct rangemap *rm, uint64_t key)
{
	struct rm_chunk *c = chunk_lookup(rm, key);
	struct rm_node *n, *child;
	unsigned int i;
	int lvl;

	if (c)
		return c;
	if (radix_grow(rm, key))
		return NULL;
	if (!rm->root && !(rm->root = calloc(1, sizeof(struct rm_node))))
		return NULL;
	n = rm->root;
	for (lvl = (int)rm->height - 1; lvl > 0; lvl--) {
		i = slot_of(key, lvl);
		child = n->slot[i];
		if (!child) {
			child = calloc(1, sizeof(*child));
			if (!child)
				return NULL;
			slot_set(n, i, child);
		}
		n = child;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->key = key;
	c->pool = rm->pool;
	if (rm->source)
		chunk_follow(c, chunk_lookup(rm->source, key));
	slot_set(n, slot_of(key, 0), c);
	found(rm, c, false);
	return c;
}

/* Unhook an empty chunk and the nodes it leaves empty, and free them. */
void chunk_drop(struct rangemap *rm, struct rm_chunk *c)
{
	struct rm_node *path[RM_MAX_HEIGHT];
	unsigned int idx[RM_MAX_HEIGHT];
	void *n = rm->root;
	int lvl;

	for (lvl = (int)rm->height - 1; lvl >= 0; lvl--) {
		path[lvl] = n;
		idx[lvl] = slot_of(c->key, lvl);
		n = path[lvl]->slot[idx[lvl]];
	}
	for (lvl = 0; lvl < (int)rm->height; lvl++) {
		slot_set(path[lvl], idx[lvl], NULL);
		if (path[lvl]->nr)
			break;
		free(path[lvl]);
		if (lvl == (int)rm->height - 1) {
			rm->root = NULL;
			rm->height = 0;
		}
	}
	if (rm->last == c)
		rm->last = NULL;
	fib_cache_drop(&rm->seen, fib_cache_set(c->key), c);
	chunk_words_free(c);
	free(c);
}

/* The first chunk under node n (at level lvl) with a key at least key
 * (bounded) or any (!bounded). */
static struct rm_chunk *node_first(struct rm_node *n, int lvl, uint64_t key,
				   bool bounded)
{
	unsigned int first = bounded ? slot_of(key, lvl) : 0, i;

	for (i = slot_next(n, first); i < RM_NODE_FAN; i = slot_next(n, i + 1)) {
		struct rm_chunk *c;

		if (!lvl)
			return n->slot[i];
		c = node_first(n->slot[i], lvl - 1, key, bounded && i == first);
		if (c)
			return c;
	}
	return NULL;
}

struct rm_chunk *chunk_first_from(struct rangemap *rm, uint64_t key)
{
	if (!rm->root || key >> (RM_NODE_BITS * rm->height))
		return NULL;
	return node_first(rm->root, (int)rm->height - 1, key, true);
}

static void node_free(struct rm_node *n, int lvl)
{
	unsigned int i;

	for (i = slot_next(n, 0); i < RM_NODE_FAN; i = slot_next(n, i + 1)) {
		struct rm_chunk *c = n->slot[i];

		if (lvl) {
			node_free(n->slot[i], lvl - 1);
		} else {
			chunk_words_free(c);
			free(c);
		}
	}
	free(n);
}

void chunks_free(struct rangemap *rm)
{
	if (rm->root)
		node_free(rm->root, (int)rm->height - 1);
	rm->root = NULL;
	rm->height = 0;
	rm->last = NULL;
	memset(&rm->seen, 0, sizeof(rm->seen));
}

/* ------------------------------------------ a follower and its source */

void rm_follow(struct rangemap *follower, struct rangemap *source)
{
	follower->source = source;
}

int rm_share(struct rangemap *follower, uint64_t first, uint64_t last)
{
	uint64_t key = first >> (WPT_PAGE_SHIFT + RM_BITS);
	uint64_t last_key = last >> (WPT_PAGE_SHIFT + RM_BITS);
	struct rm_chunk *f, *s;
	int shared = 0, r;

	for (f = chunk_first_from(follower, key); f && f->key <= last_key;
	     f = f->key == UINT64_MAX >> (WPT_PAGE_SHIFT + RM_BITS) ? NULL :
		 chunk_first_from(follower, f->key + 1)) {
		s = follower->source ? chunk_lookup(follower->source, f->key)
				     : NULL;
		if (!s)
			continue;
		r = chunk_share(f, s);
		if (r < 0)
			return r;
		shared += !r;
	}
	return shared;
}

bool rm_adopt_begin(struct rangemap *follower, const struct rm_pos *sp,
		    struct rm_pos *fp)
{
	struct rm_chunk *f;

	if (!sp->c || follower->source == NULL)
		return false;
	f = chunk_get(follower, sp->c->key);
	if (f && f->ov && f->peer == sp->c) {
		fp->c = f;
		fp->b = NULL;
		fp->off = 0;
		return true;
	}
	if (f && !f->nr)
		chunk_drop(follower, f);
	return false;
}

void rm_adopt(struct rangemap *follower, struct rm_pos *fp, uint64_t iova)
{
	struct rm_chunk *f = fp->c;
	unsigned int off = (iova >> WPT_PAGE_SHIFT) & (RM_FAN - 1);

	/* No range here, so no own word: the source's array is read. */
	ov_flags_put(f->ov, off, 0);
	f->start[off >> 6] |= 1ull << (off & 63);
	f->nr++;
	follower->nr++;
	/* The source's word: it runs on only if the source has such. */
	if (follower->source->spill)
		follower->spill += spills(off, e_np(f->e[off]));
	fp->off = off;
}

void rm_adopt_end(struct rangemap *follower, struct rm_pos *fp)
{
	if (!fp->c->nr)
		chunk_drop(follower, fp->c);
}
