/* SPDX-License-Identifier: MIT */
/*
 * Range maps (rangemap.h).  Page numbers (IOVA >> 12) throughout the
 * chunk side: a 64-bit space has 2^52 pages, 2^43 chunks of 512.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guestmem.h"
#include "hot.h"
#include "rangemap_int.h"

static int big_cmp(const struct rm_big *a, const struct rm_big *b)
{
	return a->m.iova < b->m.iova ? -1 : a->m.iova > b->m.iova;
}

/* tree.h marks static generated functions __unused, which libbsd leaves
 * undefined (Linux uapi structs have members by that name). */
#define __unused __attribute__((__unused__))
RB_GENERATE_STATIC(rm_big_tree, rm_big, link, big_cmp)
#undef __unused

static uint64_t big_last(const struct rm_big *b)
{
	return b->m.iova + b->m.size - 1;
}

void rm_init(struct rangemap *rm)
{
	*rm = (struct rangemap){ .root = NULL };
	RB_INIT(&rm->big);
}

void rm_set_pool(struct rangemap *rm, struct pagepool *pool)
{
	rm->pool = pool;
}

void rm_free_all(struct rangemap *rm)
{
	struct rangemap *source = rm->source;
	struct pagepool *pool = rm->pool;
	struct rm_big *b, *next;

	chunks_free(rm);
	RB_FOREACH_SAFE(b, rm_big_tree, &rm->big, next) {
		RB_REMOVE(rm_big_tree, &rm->big, b);
		free(b);
	}
	free(rm->spare);
	rm_init(rm);
	rm->source = source; /* emptied, still following */
	rm->pool = pool;
}

/* --------------------------------------------------------- positions */

static uint64_t pos_start_page(const struct rm_pos *p)
{
	return p->c ? p->c->key << RM_BITS | p->off
		    : p->b->m.iova >> WPT_PAGE_SHIFT;
}

static bool at_small(struct rm_pos *p, struct rm_chunk *c, unsigned int off)
{
	*p = (struct rm_pos){ .c = c, .off = off };
	return true;
}

/* The first range of a chunk after key's, if that chunk's key is at
 * most max_key: a bounded look stops there instead of searching the
 * radix tree further. */
static bool next_chunk_to(struct rangemap *rm, uint64_t key, uint64_t max_key,
			  struct rm_pos *p)
{
	struct rm_chunk *c;

	if (key >= max_key)
		return false;
	c = chunk_first_from(rm, key + 1);
	/* A chunk in the tree is never empty. */
	return c && c->key <= max_key && at_small(p, c, bits_next(c->start, 0));
}

/* The first chunk range starting at or above page pg (bounded as above). */
static bool small_from_start(struct rangemap *rm, uint64_t pg,
			     struct rm_pos *p)
{
	struct rm_chunk *c = chunk_lookup(rm, pg >> RM_BITS);
	unsigned int off;

	if (c && (off = bits_next(c->start, pg & (RM_FAN - 1))) < RM_FAN)
		return at_small(p, c, off);
	return next_chunk_to(rm, pg >> RM_BITS, UINT64_MAX, p);
}

/* Whether the last range of the chunk before pg's reaches page pg. */
static bool from_chunk_before(struct rangemap *rm, uint64_t pg,
			      struct rm_pos *p)
{
	struct rm_chunk *c;
	int s;

	if (!rm->spill || !(pg >> RM_BITS) ||
	    !(c = chunk_lookup(rm, (pg >> RM_BITS) - 1)) ||
	    (s = bits_prev(c->start, RM_FAN - 1)) < 0 ||
	    s + e_np(chunk_word_get(c, (unsigned int)s)) <=
		    (pg & (RM_FAN - 1)) + RM_FAN)
		return false;
	return at_small(p, c, (unsigned int)s);
}

/* The first chunk range overlapping pages [pg, last_pg] of one chunk,
 * told from the start bits: a word is read only for a range starting
 * before pg, to see whether it reaches it. */
WPT_HOT
static bool chunk_overlap(struct rangemap *rm, uint64_t pg, uint64_t last_pg,
			  struct rm_pos *p)
{
	unsigned int off = pg & (RM_FAN - 1), last = last_pg & (RM_FAN - 1);
	struct rm_chunk *c = chunk_lookup(rm, pg >> RM_BITS);
	int s;

	/* Ranges are disjoint: one starting at pg is the first there (the
	 * usual answer: a store's leaf, its mapping). */
	if (c && bit_test(c->start, off))
		return at_small(p, c, off);
	s = c && off ? bits_prev(c->start, off - 1) : -1;
	if (s >= 0 && s + e_np(chunk_word_get(c, (unsigned int)s)) > off)
		return at_small(p, c, (unsigned int)s);
	/* With nothing starting here before pg, a range of the chunk
	 * before may reach pg: it comes before any starting after it. */
	if (s < 0 && from_chunk_before(rm, pg, p))
		return true;
	off = c ? bits_next(c->start, off) : RM_FAN;
	return off <= last && at_small(p, c, off);
}

/* The first chunk range ending at or above page pg (bounded as above). */
static bool small_from_to(struct rangemap *rm, uint64_t pg, uint64_t max_key,
			  struct rm_pos *p)
{
	return chunk_overlap(rm, pg, pg | (RM_FAN - 1), p) ||
	       next_chunk_to(rm, pg >> RM_BITS, max_key, p);
}

/* The first tree range starting at or above iova.  Iterating over the
 * chunks asks this at every range: the answer for [big_lo, its start]
 * is kept (until the tree changes), so a walk over many pages between
 * two blocks searches the tree once, not once a page. */
static struct rm_big *big_from_start(struct rangemap *rm, uint64_t iova)
{
	struct rm_big key = { .m.iova = iova };

	if (RB_EMPTY(&rm->big))
		return NULL;
	if (rm->big_cached && iova >= rm->big_lo &&
	    (!rm->big_next || iova <= rm->big_next->m.iova))
		return rm->big_next;
	rm->big_next = RB_NFIND(rm_big_tree, &rm->big, &key);
	rm->big_lo = iova;
	rm->big_cached = true;
	return rm->big_next;
}

/* The earlier of a chunk range (if found) and a tree range (if any). */
static bool pick(struct rm_pos *p, bool found, struct rm_big *b)
{
	if (b && (!found || (b->m.iova >> WPT_PAGE_SHIFT) < pos_start_page(p))) {
		*p = (struct rm_pos){ .b = b };
		return true;
	}
	return found;
}

/* rm_from, looking at chunks no further than max_key. */
static bool from_to(struct rangemap *rm, uint64_t x, uint64_t max_key,
		    struct rm_pos *p)
{
	struct rm_big *b = NULL, *prev;

	if (!RB_EMPTY(&rm->big)) {
		b = big_from_start(rm, x);
		prev = b ? RB_PREV(rm_big_tree, &rm->big, b)
			 : RB_MAX(rm_big_tree, &rm->big);
		if (prev && big_last(prev) >= x)
			b = prev;
	}
	return pick(p, small_from_to(rm, x >> WPT_PAGE_SHIFT, max_key, p), b);
}

bool rm_from(struct rangemap *rm, uint64_t x, struct rm_pos *p)
{
	return from_to(rm, x, UINT64_MAX, p);
}

WPT_HOT
bool rm_overlap(struct rangemap *rm, uint64_t first, uint64_t last,
		struct rm_pos *p, struct wpt_mapping *m)
{
	uint64_t pg = first >> WPT_PAGE_SHIFT, last_pg = last >> WPT_PAGE_SHIFT;

	if (RB_EMPTY(&rm->big) && pg >> RM_BITS == last_pg >> RM_BITS) {
		if (!chunk_overlap(rm, pg, last_pg, p))
			return false;
	} else if (!from_to(rm, first, last_pg >> RM_BITS, p)) {
		return false;
	}
	rm_get(p, m);
	return m->iova <= last;
}

WPT_HOT
bool rm_find(struct rangemap *rm, uint64_t iova, struct rm_pos *p)
{
	uint64_t pg = iova >> WPT_PAGE_SHIFT;
	struct rm_chunk *c = chunk_lookup(rm, pg >> RM_BITS);
	unsigned int off = pg & (RM_FAN - 1);
	struct rm_big key = { .m.iova = iova }, *b;

	if (c && (c->start[off >> 6] >> (off & 63) & 1))
		return at_small(p, c, off);
	if (RB_EMPTY(&rm->big))
		return false;
	b = RB_FIND(rm_big_tree, &rm->big, &key);
	*p = (struct rm_pos){ .b = b };
	return b != NULL;
}

bool rm_next(struct rangemap *rm, struct rm_pos *p)
{
	uint64_t next_pg = pos_start_page(p) + 1;
	struct rm_big *b = NULL;
	unsigned int off;
	bool found;

	if (p->b) {
		b = RB_NEXT(rm_big_tree, &rm->big, p->b);
		found = small_from_start(rm, next_pg, p);
	} else {
		/* The last page of a 64-bit space has no page after it. */
		if (next_pg >> (64 - WPT_PAGE_SHIFT) == 0)
			b = big_from_start(rm, next_pg << WPT_PAGE_SHIFT);
		off = bits_next(p->c->start, p->off + 1);
		if (off < RM_FAN) {
			found = at_small(p, p->c, off);
		} else {
			struct rm_chunk *c = chunk_first_from(rm, p->c->key + 1);

			found = c && at_small(p, c, bits_next(c->start, 0));
		}
	}
	return pick(p, found, b);
}

/* ---------------------------------------------------------- contents */

/* The mapping of chunk word e of the range starting at page pg. */
static void word_mapping(uint64_t e, uint64_t pg, struct wpt_mapping *m)
{
	/* Zeroed first: callers may compare mappings whole, padding too. */
	memset(m, 0, sizeof(*m));
	m->iova = pg << WPT_PAGE_SHIFT;
	m->gpa = (e & (E_FRAME_MAX - 1)) << WPT_PAGE_SHIFT;
	m->size = (uint64_t)e_np(e) << WPT_PAGE_SHIFT;
	m->perm = (uint32_t)(e >> E_PERM_SHIFT) & 0xff;
}

void rm_get(const struct rm_pos *p, struct wpt_mapping *m)
{
	uint64_t e;

	if (p->b) {
		*m = p->b->m;
		return;
	}
	e = chunk_word_get(p->c, p->off);
	/* word_mapping's body, not a call: with the call, gcc 12 split
	 * rm_get's parameters (IPA-SRA) and a trapped store at 1K took 9%
	 * longer (113 against 104 ns in the microbench, side by side), with
	 * no more instructions. */
	memset(m, 0, sizeof(*m));
	m->iova = pos_start_page(p) << WPT_PAGE_SHIFT;
	m->gpa = (e & (E_FRAME_MAX - 1)) << WPT_PAGE_SHIFT;
	m->size = (uint64_t)e_np(e) << WPT_PAGE_SHIFT;
	m->perm = (uint32_t)(e >> E_PERM_SHIFT) & 0xff;
}

unsigned int rm_chunk_run(struct rangemap *rm, struct rm_pos *p,
			  uint64_t last, struct wpt_mapping *m,
			  unsigned int max)
{
	struct rm_chunk *c = p->c;
	const uint64_t *e;
	uint64_t base, stop = last >> WPT_PAGE_SHIFT, bits;
	struct rm_big *b;
	unsigned int off, end, w, n = 0, rank = 0;
	bool indexed, follower;

	if (!c)
		return 0;
	base = c->key << RM_BITS;
	/* A tree range after p comes before the chunk's ranges past it. */
	b = big_from_start(rm, (base | p->off) << WPT_PAGE_SHIFT);
	if (b && (b->m.iova >> WPT_PAGE_SHIFT) <= stop)
		stop = (b->m.iova >> WPT_PAGE_SHIFT) - 1;
	if (stop < (base | p->off))
		return 0;
	end = stop - base < RM_FAN ? (unsigned int)(stop - base) : RM_FAN - 1;
	/* In locals: the stores to m[] could alias the chunk's fields. */
	e = c->e;
	indexed = c->cap == RM_FAN;
	follower = c->ov;
	/* Packed words in offset order: the first's rank, then one more
	 * a range. */
	if (!follower && !indexed)
		rank = bits_rank(c->start, p->off);
	w = p->off >> 6;
	bits = c->start[w] & (~0ull << (p->off & 63));
	while (n < max) {
		while (!bits && ++w < RM_FAN / 64)
			bits = c->start[w];
		if (!bits)
			break;
		off = w * 64 + (unsigned int)__builtin_ctzll(bits);
		if (off > end)
			break;
		bits &= bits - 1;
		word_mapping(follower ? follower_word(c, off)
				      : e[indexed ? off : rank++],
			     base | off, &m[n++]);
		p->off = off;
	}
	return n;
}

/* Whether m fits a chunk word. */
static bool fits_chunk(const struct wpt_mapping *m, unsigned int flags)
{
	return m->size < ((uint64_t)RM_FAN << WPT_PAGE_SHIFT) &&
	       (m->gpa >> WPT_PAGE_SHIFT) < E_FRAME_MAX && m->perm <= 0xff &&
	       flags < (1u << RM_F_BITS);
}

int rm_reserve(struct rangemap *rm, const struct wpt_mapping *m)
{
	struct rm_chunk *c;

	if (fits_chunk(m, 0)) {
		c = chunk_get(rm, m->iova >> (WPT_PAGE_SHIFT + RM_BITS));
		if (c && !chunk_reserve(c, (m->iova >> WPT_PAGE_SHIFT) &
					   (RM_FAN - 1)))
			return 0;
		/* Nothing may stay empty: a chunk in the tree has a range. */
		if (c && !c->nr)
			chunk_drop(rm, c);
		return -ENOMEM;
	}
	if (!rm->spare)
		rm->spare = malloc(sizeof(*rm->spare));
	return rm->spare ? 0 : -ENOMEM;
}

void rm_unreserve(struct rangemap *rm, const struct wpt_mapping *m)
{
	struct rm_chunk *c;

	/* A chunk made for it alone would be empty: nothing may stay so. */
	if (fits_chunk(m, 0) &&
	    (c = chunk_lookup(rm, m->iova >> (WPT_PAGE_SHIFT + RM_BITS))) &&
	    !c->nr)
		chunk_drop(rm, c);
}

/* The chunk word of m (fits_chunk). */
static uint64_t word_of(const struct wpt_mapping *m, unsigned int flags)
{
	return m->gpa >> WPT_PAGE_SHIFT |
	       (m->size >> WPT_PAGE_SHIFT) << E_NP_SHIFT |
	       (uint64_t)m->perm << E_PERM_SHIFT |
	       (uint64_t)flags << E_FLAGS_SHIFT;
}

WPT_HOT
int rm_insert(struct rangemap *rm, const struct wpt_mapping *m,
	      unsigned int flags, struct rm_pos *p)
{
	uint64_t pg = m->iova >> WPT_PAGE_SHIFT;
	struct rm_pos tmp, *at = p ? p : &tmp;

	if (fits_chunk(m, flags)) {
		struct rm_chunk *c = chunk_get(rm, pg >> RM_BITS);
		unsigned int off = pg & (RM_FAN - 1);

		if (!c || chunk_word_add(c, off, word_of(m, flags))) {
			if (c && !c->nr)
				chunk_drop(rm, c);
			return -ENOMEM;
		}
		rm->spill += map_spills(m);
		at_small(at, c, off);
	} else {
		struct rm_big *b = rm->spare ? rm->spare : malloc(sizeof(*b));

		rm->spare = NULL;
		if (!b)
			return -ENOMEM;
		memset(&b->m, 0, sizeof(b->m));
		b->m.iova = m->iova;
		b->m.gpa = m->gpa;
		b->m.size = m->size;
		b->m.perm = m->perm;
		b->flags = flags;
		RB_INSERT(rm_big_tree, &rm->big, b);
		rm->big_cached = false;
		*at = (struct rm_pos){ .b = b };
	}
	rm->nr++;
	return 0;
}

/* How many of m[0..n) start in m[0]'s chunk, in a row. */
static unsigned int same_chunk(const struct wpt_mapping *m, unsigned int n)
{
	uint64_t key = m[0].iova >> (WPT_PAGE_SHIFT + RM_BITS);
	unsigned int i;

	for (i = 1; i < n && m[i].iova >> (WPT_PAGE_SHIFT + RM_BITS) == key;
	     i++)
		;
	return i;
}

int rm_insert_batch(struct rangemap *rm, const struct wpt_mapping *m,
		    unsigned int n)
{
	struct rm_chunk *c = NULL;
	struct rm_pos p;
	unsigned int i, spill = 0;

	for (i = 0; i < n; i++) {
		uint64_t pg = m[i].iova >> WPT_PAGE_SHIFT;

		if (!fits_chunk(&m[i], 0)) {
			if (rm_insert(rm, &m[i], 0, NULL))
				goto undo;
			continue;
		}
		/* A table's leaves fill one chunk after another: each
		 * found once, not once a range. */
		if (!c || c->key != pg >> RM_BITS) {
			c = chunk_get(rm, pg >> RM_BITS);
			if (!c)
				goto undo;
			/* No memory: word by word, as without a batch. */
			if (chunk_packed(c) &&
			    c->nr + same_chunk(&m[i], n - i) > RM_DENSE_MIN)
				(void)chunk_index(c);
		}
		if (chunk_word_add(c, pg & (RM_FAN - 1), word_of(&m[i], 0))) {
			if (!c->nr)
				chunk_drop(rm, c);
			goto undo;
		}
		spill += map_spills(&m[i]); /* rm's written once a batch */
		rm->nr++;
	}
	rm->spill += spill;
	return 0;
undo:
	rm->spill += spill;
	while (i--)
		if (rm_find(rm, m[i].iova, &p))
			rm_remove(rm, &p);
	return -ENOMEM;
}

void rm_remove(struct rangemap *rm, struct rm_pos *p)
{
	rm->nr--;
	if (p->b) {
		RB_REMOVE(rm_big_tree, &rm->big, p->b);
		rm->big_cached = false;
		free(p->b);
		return;
	}
	/* A map with none never reads the word here. */
	if (rm->spill && chunk_word_spills(p->c, p->off))
		rm->spill--;
	chunk_word_del(p->c, p->off);
	if (!p->c->nr)
		chunk_drop(rm, p->c);
}
