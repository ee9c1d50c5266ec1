/* SPDX-License-Identifier: MIT */
/*
 * A chunk's words (rangemap_int.h): packed or indexed, and shared between
 * a follower and its source; and the word at a position, read and set
 * (rm_size, rm_flags, rm_set_flags).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pagepool.h"
#include "rangemap_int.h"

_Static_assert(RM_FAN * sizeof(uint64_t) == PAGEPOOL_BLOCK,
	       "an indexed array is one pool block");

static bool indexed(const struct rm_chunk *c)
{
	return c->cap == RM_FAN;
}

static void bit_put(uint64_t *bits, unsigned int off, bool on)
{
	if (on)
		bits[off >> 6] |= 1ull << (off & 63);
	else
		bits[off >> 6] &= ~(1ull << (off & 63));
}

/* ---------------------------------------------------------- a follower */

/* Stop following: the source may move or free its array again. */
static void unfollow(struct rm_chunk *f)
{
	f->peer->peer = NULL;
	free(f->ov);
	f->ov = NULL;
	f->peer = NULL;
}

static void own_put(struct rm_overlay *ov, unsigned int off, uint64_t word)
{
	unsigned int i = ov_rank(ov, off);

	memmove(&ov->w[i + 1], &ov->w[i], (ov->n - i) * sizeof(ov->w[0]));
	ov->w[i] = word;
	bit_put(&ov->g[off >> 6].own, off & 63, true);
	ov->n++;
}

static void own_drop(struct rm_overlay *ov, unsigned int off)
{
	unsigned int i = ov_rank(ov, off);

	memmove(&ov->w[i], &ov->w[i + 1], (ov->n - i - 1) * sizeof(ov->w[0]));
	bit_put(&ov->g[off >> 6].own, off & 63, false);
	ov->n--;
}

/*
 * The source is about to write word at off: a follower range there that
 * reads the old word takes it as its own first (room made by
 * chunk_reserve), and an own word the new one equals goes back to being
 * read from the source.
 */
static void source_writes(struct rm_chunk *f, unsigned int off, uint64_t word)
{
	struct rm_overlay *ov = f->ov;
	uint64_t old = f->e[off] & E_RANGE_MASK;

	word &= E_RANGE_MASK;
	if (!bit_test(f->start, off))
		return;
	if (ov_own(ov, off)) {
		if (ov->w[ov_rank(ov, off)] == word)
			own_drop(ov, off);
	} else if (old != word) {
		own_put(ov, off, old);
	}
}

/* A follower's new range at off: its own word only where the source's
 * array holds another. */
static void follower_add(struct rm_chunk *f, unsigned int off, uint64_t word)
{
	unsigned int flags = (unsigned int)(word >> E_FLAGS_SHIFT);

	word &= E_RANGE_MASK;
	ov_flags_put(f->ov, off, flags);
	if ((f->e[off] & E_RANGE_MASK) != word)
		own_put(f->ov, off, word);
}

/* Whether a word added at off needs an own word of c's follower, or of c
 * itself if it follows. */
static bool needs_own_slot(const struct rm_chunk *c, unsigned int off)
{
	const struct rm_chunk *f = c->ov ? c : c->peer;

	if (!f || f->ov->n < RM_OV_MAX)
		return false;
	return c->ov || (bit_test(f->start, off) && !ov_own(f->ov, off));
}

/* ------------------------------------------------------------- layout */

/* A new indexed array, zeroed (a follower compares words at offsets its
 * source has no range at): a block of c's pool, if its map has one. */
static uint64_t *indexed_new(const struct rm_chunk *c)
{
	uint64_t *e;

	if (!c->pool)
		return calloc(RM_FAN, sizeof(*e));
	e = pagepool_get(c->pool);
	if (e)
		memset(e, 0, RM_FAN * sizeof(*e));
	return e;
}

/* Free an array of cap words that c owned (packed ones are the heap's). */
static void words_release(const struct rm_chunk *c, uint64_t *e,
			  unsigned int cap)
{
	if (cap == RM_FAN && c->pool)
		pagepool_put(c->pool, e);
	else
		free(e);
}

/* Re-lay c's words into an array of its own: packed into cap words, or
 * indexed (cap RM_FAN).  A follower stops following.  -ENOMEM leaves the
 * chunk as it was. */
static int relay(struct rm_chunk *c, unsigned int cap)
{
	uint64_t *e = cap == RM_FAN ? indexed_new(c)
				    : malloc(cap * sizeof(*e));
	unsigned int off, i = 0;

	if (!e)
		return -ENOMEM;
	for (off = bits_next(c->start, 0); off < RM_FAN;
	     off = bits_next(c->start, off + 1), i++)
		e[cap == RM_FAN ? off : i] = chunk_word_get(c, off);
	if (c->ov)
		unfollow(c);
	else
		words_release(c, c->e, c->cap);
	c->e = e;
	c->cap = cap;
	return 0;
}

int chunk_reserve(struct rm_chunk *c, unsigned int off)
{
	uint64_t *e;
	unsigned int cap;

	/* A full overlay: the follower takes a copy of its own. */
	if (needs_own_slot(c, off) &&
	    relay(c->ov ? c : c->peer, RM_FAN))
		return -ENOMEM;
	if (c->ov || c->nr < c->cap)
		return 0;
	cap = c->cap ? c->cap * 2 : 4;
	if (cap > RM_SPARSE_MAX)
		return relay(c, RM_FAN);
	e = realloc(c->e, cap * sizeof(*e));
	if (!e)
		return -ENOMEM;
	c->e = e;
	c->cap = cap;
	return 0;
}

int chunk_index(struct rm_chunk *c)
{
	return chunk_packed(c) ? relay(c, RM_FAN) : 0;
}

int chunk_word_add_any(struct rm_chunk *c, unsigned int off, uint64_t word)
{
	unsigned int i = off;

	if (chunk_reserve(c, off))
		return -ENOMEM;
	if (c->ov) {
		follower_add(c, off, word);
	} else {
		if (c->peer)
			source_writes(c->peer, off, word);
		if (!indexed(c)) {
			i = bits_rank(c->start, off);
			memmove(&c->e[i + 1], &c->e[i],
				(c->nr - i) * sizeof(c->e[0]));
		}
		c->e[i] = word;
	}
	bit_put(c->start, off, true);
	c->nr++;
	return 0;
}

void chunk_word_del(struct rm_chunk *c, unsigned int off)
{
	unsigned int i;

	/* A source's word stays in its array: its follower may read it. */
	if (c->ov && ov_own(c->ov, off)) {
		own_drop(c->ov, off);
	} else if (!indexed(c)) {
		i = bits_rank(c->start, off);
		memmove(&c->e[i], &c->e[i + 1], (c->nr - i - 1) * sizeof(c->e[0]));
	}
	bit_put(c->start, off, false);
	c->nr--;
	/* Pack a chunk gone sparse (a failure only keeps it indexed); a
	 * source keeps its array where its follower reads it. */
	if (indexed(c) && !(c->peer && !c->ov) && c->nr &&
	    c->nr <= RM_DENSE_MIN)
		(void)relay(c, RM_SPARSE_MAX);
}

void chunk_set_flags(struct rm_chunk *c, unsigned int off, unsigned int flags)
{
	uint64_t *e;

	if (c->ov) {
		ov_flags_put(c->ov, off, flags);
		return;
	}
	/* A follower masks a source's flags: nothing to tell it. */
	e = &c->e[indexed(c) ? off : bits_rank(c->start, off)];
	*e = (*e & E_RANGE_MASK) | (uint64_t)flags << E_FLAGS_SHIFT;
}

/* --------------------------------------------------- sharing and freeing */

void chunk_words_free(struct rm_chunk *c)
{
	struct rm_chunk *f = c->peer;
	unsigned int off;

	if (c->ov) {
		unfollow(c);
		return;
	}
	if (!f) {
		words_release(c, c->e, c->cap);
		return;
	}
	/* The follower keeps the array: its words written in, in place (each
	 * offset reads only itself). */
	for (off = bits_next(f->start, 0); off < RM_FAN;
	     off = bits_next(f->start, off + 1))
		f->e[off] = chunk_word_get(f, off);
	free(f->ov);
	f->ov = NULL;
	f->peer = NULL;
	c->peer = NULL;
	c->e = NULL;
}

/* f's words from now on s's: 0, or -ENOMEM and f unchanged. */
static int follow(struct rm_chunk *f, struct rm_chunk *s)
{
	struct rm_overlay *ov;

	/* On a line of its own: two bit groups a line, as laid out. */
	if (posix_memalign((void **)&ov, 64, sizeof(*ov)))
		return -ENOMEM;
	memset(ov, 0, sizeof(*ov));
	words_release(f, f->e, f->cap);
	f->e = s->e;
	f->cap = RM_FAN;
	f->ov = ov;
	f->peer = s;
	s->peer = f;
	return 0;
}

void chunk_follow(struct rm_chunk *f, struct rm_chunk *s)
{
	/* Shared arrays pass from one to the other: one pool for both. */
	if (s && indexed(s) && !s->peer && !s->ov && s->pool == f->pool)
		(void)follow(f, s);
}

int chunk_share(struct rm_chunk *f, struct rm_chunk *s)
{
	unsigned int off;

	if (f->ov || f->peer || s->ov || s->peer || !indexed(s) ||
	    f->pool != s->pool || f->nr != s->nr ||
	    memcmp(f->start, s->start, sizeof(f->start)))
		return 1;
	for (off = bits_next(f->start, 0); off < RM_FAN;
	     off = bits_next(f->start, off + 1))
		if (chunk_word_get(f, off) != s->e[off] ||
		    (s->e[off] & ~E_RANGE_MASK))
			return 1;
	return follow(f, s);
}

/* ---- a position's word (rangemap.h), read and set ---- */

uint64_t rm_size(const struct rm_pos *p)
{
	return p->b ? p->b->m.size
		    : (uint64_t)e_np(chunk_word_get(p->c, p->off)) << WPT_PAGE_SHIFT;
}

unsigned int rm_flags(const struct rm_pos *p)
{
	return p->b ? p->b->flags
		    : (unsigned int)(chunk_word_get(p->c, p->off) >> E_FLAGS_SHIFT);
}

void rm_set_flags(struct rm_pos *p, unsigned int flags)
{
	if (p->b)
		p->b->flags = flags;
	else
		chunk_set_flags(p->c, p->off, flags);
}

/* Out of line and cold: rm_remove asks only in a map that has ranges
 * running on into the next chunk, and inlined there a follower's word
 * read (ov_rank's loop) made rm_remove half as long again. */
__attribute__((noinline, cold)) bool chunk_word_spills(const struct rm_chunk *c,
							unsigned int off)
{
	return spills(off, e_np(chunk_word_get(c, off)));
}
