/* SPDX-License-Identifier: MIT */
/*
 * The range map's chunks, for rangemap.c alone (rangemap_chunks.c: the
 * radix tree; rangemap_words.c: a chunk's words, and sharing them): a
 * chunk holds the ranges starting in one 2 MiB of IOVA (512 pages), one
 * word each, reached through a radix tree over chunk numbers.
 *
 * A chunk with few ranges keeps their words packed in offset order (the
 * index of a word is the number of ranges starting below it: a popcount of
 * the start bitmap); past RM_SPARSE_MAX (or a batch bringing it past
 * RM_DENSE_MIN) it becomes an array of 512 indexed by offset, and packs
 * again at RM_DENSE_MIN.  So a chunk costs at most about 150 bytes a range
 * however the guest scatters them (a hostile guest with the 64K granule
 * can put one page in each 2 MiB), and 8 bytes a range when they are
 * dense.
 */
#ifndef WPT_RANGEMAP_INT_H
#define WPT_RANGEMAP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "guestmem.h"
#include "rangemap.h"

#define RM_BITS 9
#define RM_FAN (1u << RM_BITS)   /* pages a chunk */
#define RM_SPARSE_MAX 64         /* packed words at most, then indexed */
#define RM_DENSE_MIN 32          /* an indexed chunk this empty packs again */
#define RM_OV_MAX 16             /* a follower's own words, then a copy */

/* A chunk's word: GPA frame (40 bits), pages (9), permissions (8), flags
 * (RM_F_BITS of the 7 left). */
#define E_NP_SHIFT 40
#define E_PERM_SHIFT 49
#define E_FLAGS_SHIFT 57
#define E_FRAME_MAX (1ull << E_NP_SHIFT)
#define E_RANGE_MASK ((1ull << E_FLAGS_SHIFT) - 1) /* the word less flags */
#define RM_F_BITS 2

/*
 * Sharing (rm_share): between reconciles the sink holds exactly what the
 * guest maps, page for page when every page is a mapping of its own, so
 * a chunk of held ranges would repeat its leaves chunk's 4 KiB word for
 * word.  Instead the held chunk (the follower) reads the leaves chunk's
 * (the source's) array, and keeps only where it differs: for an offset
 * where it has a range, the word is its own (in ov->w, packed by rank of
 * ov->own) or, if not own, the source array's word there (flag bits
 * masked: a follower's flags sit in ov->flag).
 *
 * What keeps that true without copying 4 KiB on a store: the source never
 * moves or frees its array while followed (it stays indexed; a chunk
 * freed hands the array to its follower), a source's removal leaves the
 * word in the array (only the start bit goes), and a source's write over
 * a word its follower reads makes that word the follower's own first.  A
 * trapped store then costs no copy: the leaf's removal touches only the
 * source's start bit, the held range's removal only the follower's, and
 * a leaf added and mapped writes the same word in both, which a follower
 * need not own.  Past RM_OV_MAX own words the follower takes a copy.
 */
/* A follower's bits for 64 offsets, side by side: reading a held word
 * (whether own, and its flags) touches one cache line, not three. */
struct rm_ovbits {
	uint64_t own;               /* bit i: the word at 64 g + i is in w */
	uint64_t flag[RM_F_BITS];   /* flag bit b of that offset's range */
	uint64_t pad;               /* 32 bytes: two groups a line */
};

struct rm_overlay {
	struct rm_ovbits g[RM_FAN / 64]; /* offsets 64 g .. 64 g + 63 */
	unsigned int n;             /* own words */
	uint64_t w[RM_OV_MAX];      /* own words, flags clear, by rank */
};

struct rm_chunk {
	uint64_t key;                /* chunk number: IOVA >> 21 */
	uint64_t start[RM_FAN / 64]; /* bit off: a range starts at page off */
	unsigned int nr;             /* ranges starting here */
	unsigned int cap;            /* words allocated; RM_FAN: indexed */
	uint64_t *e;                 /* the words (a follower: the source's) */
	struct rm_overlay *ov;       /* set: this chunk follows peer */
	struct rm_chunk *peer;       /* its follower, or (ov set) its source */
	struct pagepool *pool;       /* its map's (rm_set_pool) */
};

/* A word's pages. */
static inline unsigned int e_np(uint64_t e)
{
	return (e >> E_NP_SHIFT) & (RM_FAN - 1);
}

/* Whether a chunk range of np pages starting at off runs on into the
 * next chunk (rangemap.spill counts those). */
static inline bool spills(unsigned int off, uint64_t np)
{
	return off + np > RM_FAN;
}

/* The same for a mapping that fits a chunk: never one page (a walk's
 * insert of a 4K leaf pays a compare). */
static inline bool map_spills(const struct wpt_mapping *m)
{
	return m->size > WPT_PAGE_SIZE &&
	       spills((m->iova >> WPT_PAGE_SHIFT) & (RM_FAN - 1),
		      m->size >> WPT_PAGE_SHIFT);
}

/* The first bit set at or above i in a bitmap of RM_FAN (RM_FAN: none). */
static inline unsigned int bits_next(const uint64_t *bits, unsigned int i)
{
	unsigned int w = i >> 6;
	uint64_t m;

	if (i >= RM_FAN)
		return RM_FAN;
	m = bits[w] & (~0ull << (i & 63));
	for (;;) {
		if (m)
			return w * 64 + (unsigned int)__builtin_ctzll(m);
		if (++w == RM_FAN / 64)
			return RM_FAN;
		m = bits[w];
	}
}

/* The last bit set at or below off (-1: none). */
static inline int bits_prev(const uint64_t *bits, unsigned int off)
{
	int w = (int)(off >> 6);
	uint64_t m = bits[w] & (~0ull >> (63 - (off & 63)));

	for (;;) {
		if (m)
			return w * 64 + 63 - __builtin_clzll(m);
		if (--w < 0)
			return -1;
		m = bits[w];
	}
}

static inline bool bit_test(const uint64_t *bits, unsigned int off)
{
	return bits[off >> 6] >> (off & 63) & 1;
}

/* Bits set in x.  Inline where the target has no popcount instruction
 * (the x86-64 baseline Debian builds for): __builtin_popcountll is then a
 * call into libgcc, on every packed word's look. */
static inline unsigned int popcount64(uint64_t x)
{
#ifdef __POPCNT__
	return (unsigned int)__builtin_popcountll(x);
#else
	x -= (x >> 1) & 0x5555555555555555ull;
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (unsigned int)((x * 0x0101010101010101ull) >> 56);
#endif
}

/* Bits set below off: a packed word's index. */
static inline unsigned int bits_rank(const uint64_t *bits, unsigned int off)
{
	unsigned int w, n = 0;

	for (w = 0; w < off >> 6; w++)
		n += popcount64(bits[w]);
	if (off & 63)
		n += popcount64(bits[w] & ((1ull << (off & 63)) - 1));
	return n;
}

static inline bool ov_own(const struct rm_overlay *ov, unsigned int off)
{
	return ov->g[off >> 6].own >> (off & 63) & 1;
}

/* Own words below off: the index of off's in w. */
static inline unsigned int ov_rank(const struct rm_overlay *ov,
				   unsigned int off)
{
	unsigned int g, n = 0;

	for (g = 0; g < off >> 6; g++)
		n += popcount64(ov->g[g].own);
	if (off & 63)
		n += popcount64(ov->g[g].own & ((1ull << (off & 63)) - 1));
	return n;
}

/* The flags of a follower's range at off, in a word's flag bits. */
static inline uint64_t ov_flags(const struct rm_overlay *ov, unsigned int off)
{
	const struct rm_ovbits *g = &ov->g[off >> 6];
	uint64_t e = 0;
	unsigned int b;

	for (b = 0; b < RM_F_BITS; b++)
		e |= (g->flag[b] >> (off & 63) & 1) << (E_FLAGS_SHIFT + b);
	return e;
}

/* Set a follower's flags of the range at off. */
static inline void ov_flags_put(struct rm_overlay *ov, unsigned int off,
				unsigned int flags)
{
	struct rm_ovbits *g = &ov->g[off >> 6];
	uint64_t bit = 1ull << (off & 63);
	unsigned int b;

	for (b = 0; b < RM_F_BITS; b++)
		g->flag[b] = (g->flag[b] & ~bit) | (flags >> b & 1 ? bit : 0);
}

/* The chunk of key: found, or NULL / created (NULL: no memory). */
struct rm_chunk *chunk_lookup(struct rangemap *rm, uint64_t key);
struct rm_chunk *chunk_get(struct rangemap *rm, uint64_t key);
/* The first chunk with a key at least key, or NULL. */
struct rm_chunk *chunk_first_from(struct rangemap *rm, uint64_t key);
/* Free an empty chunk (and radix nodes it leaves empty) / all of them. */
void chunk_drop(struct rangemap *rm, struct rm_chunk *c);
void chunks_free(struct rangemap *rm);

/* ---- rangemap_words.c: a chunk's words ---- */

/* A follower's word at off (its range's start bit is set). */
static inline uint64_t follower_word(const struct rm_chunk *c,
				     unsigned int off)
{
	const struct rm_overlay *ov = c->ov;
	uint64_t e = ov_own(ov, off) ? ov->w[ov_rank(ov, off)]
				     : c->e[off] & E_RANGE_MASK;

	return e | ov_flags(ov, off);
}

/* The word of the range starting at off (its start bit is set), flags
 * included.  Inline: every range looked at reads one. */
static inline uint64_t chunk_word_get(const struct rm_chunk *c,
				      unsigned int off)
{
	if (c->ov)
		return follower_word(c, off);
	return c->e[c->cap == RM_FAN ? off : bits_rank(c->start, off)];
}

/* Room for one more word, at off: 0 or -ENOMEM.  Then
 * chunk_word_add(c, off, ...) cannot fail. */
int chunk_reserve(struct rm_chunk *c, unsigned int off);
/* c's words are packed (not indexed, and c no follower). */
static inline bool chunk_packed(const struct rm_chunk *c)
{
	return c->cap != RM_FAN && !c->ov;
}

/* Lay c's words out indexed now (a follower's are already): for a batch
 * that brings it past RM_DENSE_MIN, where growing the packed array a word
 * at a time costs four reallocations and the relay anyway.  Past
 * RM_DENSE_MIN ranges an indexed chunk costs at most 124 bytes a range.
 * 0, or -ENOMEM and c unchanged. */
int chunk_index(struct rm_chunk *c);
/* chunk_word_add's every case (below). */
int chunk_word_add_any(struct rm_chunk *c, unsigned int off, uint64_t word);

/*
 * Add the word of a range starting at off (no start bit there): 0 or
 * -ENOMEM, the chunk unchanged / take it away.  Inline for the two cases
 * a walk meets 512 times a table and a trapped store once or twice: an
 * indexed chunk whose follower has no range at off (nothing to tell it),
 * and a follower adding, flags clear, the very word its source's array
 * holds there (no own word).  A call and its reservation cost about as
 * much as the add itself.
 */
static inline int chunk_word_add(struct rm_chunk *c, unsigned int off,
				 uint64_t word)
{
	uint64_t bit = 1ull << (off & 63);
	unsigned int w = off >> 6;

	if (c->ov) {
		if (word >> E_FLAGS_SHIFT || (c->e[off] & E_RANGE_MASK) != word)
			return chunk_word_add_any(c, off, word);
		ov_flags_put(c->ov, off, 0);
	} else if (c->cap == RM_FAN &&
		   !(c->peer && bit_test(c->peer->start, off))) {
		c->e[off] = word;
	} else {
		return chunk_word_add_any(c, off, word);
	}
	c->start[w] |= bit;
	c->nr++;
	return 0;
}

/* Whether the range starting at off runs on into the next chunk. */
bool chunk_word_spills(const struct rm_chunk *c, unsigned int off);
/* Take the word of the range starting at off away (its start bit goes). */
void chunk_word_del(struct rm_chunk *c, unsigned int off);
/* The flags of the range at off (flags < 1 << RM_F_BITS). */
void chunk_set_flags(struct rm_chunk *c, unsigned int off,
		     unsigned int flags);
/* Let go of c's words before c is freed: a follower stops following, a
 * source hands its array to its follower. */
void chunk_words_free(struct rm_chunk *c);
/* Make new chunk f follow s (NULL: none) if s is indexed and not followed
 * yet (no memory: f is made as usual). */
void chunk_follow(struct rm_chunk *f, struct rm_chunk *s);
/* Make f (not sharing) follow s (indexed, not followed, same key) if
 * their ranges are equal, flags clear: 0 shared, 1 not equal, -ENOMEM. */
int chunk_share(struct rm_chunk *f, struct rm_chunk *s);

#endif
