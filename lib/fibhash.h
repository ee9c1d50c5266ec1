/* SPDX-License-Identifier: MIT */
/*
 * Fibonacci hashing (Knuth): a key times 2^64 over the golden ratio, its
 * top bits.  The library's small caches (rangemap.seen, the page index's)
 * and the exit's sampling use it, because the keys a guest works in come
 * in arithmetic progressions (a table every 2 MiB, a store every 1 GiB),
 * which the key's low bits would put all in one slot and this spreads
 * evenly.
 */
#ifndef WPT_FIBHASH_H
#define WPT_FIBHASH_H

#include <stdint.h>

#define FIB_MULT 0x9e3779b97f4a7c15ull

/* key's slot among 1 << bits (0 < bits < 64). */
static inline unsigned int fib_slot(uint64_t key, unsigned int bits)
{
	return (unsigned int)((key * FIB_MULT) >> (64 - bits));
}

/*
 * The caches that keep a guest's hot tables one load away (rangemap.seen,
 * the page index's): two ways of 1 << FIB_CACHE_SET_BITS sets, each way
 * an array of its own, the way used last first.  Direct-mapped over 256
 * slots (as they were), 64 tables a power of two apart (1 GiB: the
 * microbench's spread window at 16M pages) fell in 45 slots, and stores
 * to the other 19 paid a radix descent or a hash lookup in every cache:
 * 148 ns a store against 81 at 1M.  Two ways hold the 64 keys of every
 * power-of-two stride up to 2^39 (at most two share a set; test_rangemap
 * and test_vm check that both caches keep them), and of 64 random keys
 * lose 0.55 on average where 256 slots lost 7.3.
 *
 * Ways apart, not side by side: a hit in the first way touches only the
 * first array, as small as the direct-mapped cache was (with both ways
 * in one line, or 2048 slots, the stores at 64K and 1M pages took 3-5%
 * longer for the cache lines the 64 hot sets spread over).  A hit in the
 * second way swaps the two: left there, a hot key behind a cold one read
 * the cold one's key first on every hit, and the stores at 1M took 5%
 * longer.
 */
#define FIB_CACHE_SET_BITS 8
#define FIB_CACHE_SETS (1u << FIB_CACHE_SET_BITS)

struct fib_cache {
	void *way[2][FIB_CACHE_SETS]; /* way[1]: what way[0] had before */
};

/* key's set. */
static inline unsigned int fib_cache_set(uint64_t key)
{
	return fib_slot(key, FIB_CACHE_SET_BITS);
}

/* p, found in the second way, elsewhere or made: first in set i; what
 * was first moves second. */
static inline void fib_cache_put(struct fib_cache *c, unsigned int i, void *p)
{
	if (c->way[0][i] != p) {
		c->way[1][i] = c->way[0][i];
		c->way[0][i] = p;
	}
}

/* p going away: set i forgets it. */
static inline void fib_cache_drop(struct fib_cache *c, unsigned int i,
				  const void *p)
{
	if (c->way[0][i] == p) {
		c->way[0][i] = c->way[1][i];
		c->way[1][i] = NULL;
	} else if (c->way[1][i] == p) {
		c->way[1][i] = NULL;
	}
}

#endif
