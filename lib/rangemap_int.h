/* SPDX-License-Identifier: MIT */
/*
 * The range map's chunks (rangemap_chunks.c), for rangemap.c alone: a
 * chunk holds the ranges starting in one 2 MiB of IOVA (512 pages), one
 * word each, reached through a radix tree over chunk numbers.
 *
 * A chunk with few ranges keeps their words packed in offset order (the
 * index of a word is the number of ranges starting below it: a popcount of
 * the start bitmap); past RM_SPARSE_MAX it becomes an array of 512 indexed
 * by offset.  So a chunk costs at most about 150 bytes a range however the
 * guest scatters them (a hostile guest with the 64K granule can put one
 * page in each 2 MiB), and 8 bytes a range when they are dense.
 */
#ifndef WPT_RANGEMAP_INT_H
#define WPT_RANGEMAP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "rangemap.h"

#define RM_BITS 9
#define RM_FAN (1u << RM_BITS)   /* pages a chunk, slots a radix node */
#define RM_SPARSE_MAX 64         /* packed words at most, then indexed */

struct rm_chunk {
	uint64_t key;                /* chunk number: IOVA >> 21 */
	uint64_t start[RM_FAN / 64]; /* bit off: a range starts at page off */
	unsigned int nr;             /* ranges starting here */
	unsigned int cap;            /* words allocated; RM_FAN: indexed */
	uint64_t *e;                 /* the words */
};

/* The first bit set at or above i in a bitmap of RM_FAN (RM_FAN: none) /
 * the last at or below i (-1: none). */
unsigned int bits_next(const uint64_t *bits, unsigned int i);
int bits_prev(const uint64_t *bits, unsigned int i);

/* The chunk of key: found, or NULL / created (NULL: no memory). */
struct rm_chunk *chunk_lookup(struct rangemap *rm, uint64_t key);
struct rm_chunk *chunk_get(struct rangemap *rm, uint64_t key);
/* The first chunk with a key at least key, or NULL. */
struct rm_chunk *chunk_first_from(struct rangemap *rm, uint64_t key);
/* Free an empty chunk (and radix nodes it leaves empty) / all of them. */
void chunk_drop(struct rangemap *rm, struct rm_chunk *c);
void chunks_free(struct rangemap *rm);

/* Ranges starting below off: a packed word's index. */
static inline unsigned int chunk_rank(const struct rm_chunk *c,
				      unsigned int off)
{
	unsigned int w, n = 0;

	for (w = 0; w < off >> 6; w++)
		n += (unsigned int)__builtin_popcountll(c->start[w]);
	if (off & 63)
		n += (unsigned int)__builtin_popcountll(
			c->start[w] & ((1ull << (off & 63)) - 1));
	return n;
}

/* The word of the range starting at off (its start bit is set).  Inline:
 * every range looked at reads one. */
static inline uint64_t *chunk_word(struct rm_chunk *c, unsigned int off)
{
	return &c->e[c->cap == RM_FAN ? off : chunk_rank(c, off)];
}
/* Room for one more word: 0 or -ENOMEM.  Then chunk_word_add cannot
 * fail. */
int chunk_reserve(struct rm_chunk *c);
/* Add the word of a range starting at off (no start bit there): 0 or
 * -ENOMEM, the chunk unchanged / take it away. */
int chunk_word_add(struct rm_chunk *c, unsigned int off, uint64_t word);
void chunk_word_del(struct rm_chunk *c, unsigned int off);

#endif
