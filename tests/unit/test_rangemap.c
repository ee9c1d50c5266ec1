/* SPDX-License-Identifier: MIT */
/*
 * The shadow's range map (lib/rangemap.c) against a plain sorted array:
 * ranges short and long (kept in chunks or in the tree), GPAs a chunk word
 * cannot hold, sparse keys far apart (radix levels made and freed), the
 * top of a 64-bit space, and ranges reaching from one chunk into the next.
 * After every change: the iteration order, "first ending at or after x"
 * and "first overlapping [a, b]" at ranges' edges and in the holes, exact
 * finds and the flags.  And a map that follows another (rm_follow,
 * rm_share): each still reads as its own model whatever is done to
 * either, in either order.
 */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pagepool.h"
#include "rangemap.h"
#include "rangemap_int.h"

#define K4 0x1000ull
#define M2 0x200000ull
#define MAXR 512
/* A model holds MAXR random ranges, or test_seen_chunks' twice what
 * rm->seen holds. */
#define SEEN_SLOTS (2 * FIB_CACHE_SETS) /* chunks rm->seen holds */
#define MODEL_CAP (2 * SEEN_SLOTS > MAXR ? 2 * SEEN_SLOTS : MAXR)

struct model {
	struct wpt_mapping r[MODEL_CAP];
	unsigned int flags[MODEL_CAP];
	unsigned int n;
};

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? rng % n : rng;
}

static uint64_t last_of(const struct wpt_mapping *m)
{
	return m->iova + m->size - 1;
}

static bool overlaps(const struct model *md, const struct wpt_mapping *m)
{
	unsigned int i;

	for (i = 0; i < md->n; i++)
		if (md->r[i].iova <= last_of(m) && m->iova <= last_of(&md->r[i]))
			return true;
	return false;
}

/* A random range: near a few bases (dense), far out, or at the top. */
static struct wpt_mapping random_range(void)
{
	static const uint64_t bases[] = { 0, 511ull << 30, 1ull << 47,
					  0xfffffffffff00000ull };
	static const uint64_t sizes[] = { 1, 2, 3, 511, 512, 513, 1024 };
	struct wpt_mapping m;
	uint64_t base = bases[rnd(4)];

	m.size = sizes[rnd(7)] * K4;
	m.iova = base + rnd(6 * M2 / K4) * K4;
	if (m.iova + m.size - 1 < m.iova || base == bases[3])
		m.iova = 0 - m.size - rnd(64) * K4; /* ends at the top, or near */
	m.gpa = rnd(4) ? rnd(1ull << 30) * K4 : (1ull << 60) + rnd(99) * K4;
	m.perm = (uint32_t)(1 + rnd(3));
	return m;
}

static void check_from(struct rangemap *rm, const struct model *md, uint64_t x)
{
	struct wpt_mapping got;
	struct rm_pos p;
	unsigned int i;

	for (i = 0; i < md->n && last_of(&md->r[i]) < x; i++)
		;
	ck_assert_int_eq(rm_from(rm, x, &p), i < md->n);
	if (i == md->n)
		return;
	rm_get(&p, &got);
	/* Field by field: the model's padding is not the map's to match. */
	ck_assert_msg(got.iova == md->r[i].iova && got.size == md->r[i].size &&
		      got.gpa == md->r[i].gpa && got.perm == md->r[i].perm,
		      "from %#llx: got %#llx+%#llx, want %#llx+%#llx",
		      (unsigned long long)x, (unsigned long long)got.iova,
		      (unsigned long long)got.size,
		      (unsigned long long)md->r[i].iova,
		      (unsigned long long)md->r[i].size);
	ck_assert_uint_eq(rm_flags(&p), md->flags[i]);
	ck_assert_uint_eq(rm_size(&p), md->r[i].size);
	/* Read back whole, the padding is zero (callers memcmp mappings). */
	if (sizeof(got) > offsetof(struct wpt_mapping, perm) + 4) {
		uint32_t pad;

		memcpy(&pad, (const char *)&got +
		       offsetof(struct wpt_mapping, perm) + 4, sizeof(pad));
		ck_assert_uint_eq(pad, 0);
	}
}

/* rm_overlap against the model: the first range overlapping [a, b]. */
static void check_overlap(struct rangemap *rm, const struct model *md,
			  uint64_t a, uint64_t b)
{
	struct wpt_mapping got;
	struct rm_pos p;
	unsigned int i;

	if (b < a)
		return;
	for (i = 0; i < md->n && last_of(&md->r[i]) < a; i++)
		;
	if (i == md->n || md->r[i].iova > b) {
		ck_assert_msg(!rm_overlap(rm, a, b, &p, &got),
			      "[%#llx, %#llx]: found %#llx, want none",
			      (unsigned long long)a, (unsigned long long)b,
			      (unsigned long long)got.iova);
		return;
	}
	ck_assert_msg(rm_overlap(rm, a, b, &p, &got),
		      "[%#llx, %#llx]: none found, want %#llx",
		      (unsigned long long)a, (unsigned long long)b,
		      (unsigned long long)md->r[i].iova);
	ck_assert_uint_eq(got.iova, md->r[i].iova);
	ck_assert_uint_eq(got.size, md->r[i].size);
	ck_assert_uint_eq(got.gpa, md->r[i].gpa);
}

/* Around range m: one page and a few pages at its edges, in the holes
 * beside it, and one 2 MiB chunk over it. */
static void check_overlaps(struct rangemap *rm, const struct model *md,
			   const struct wpt_mapping *m)
{
	uint64_t l = last_of(m);

	check_overlap(rm, md, m->iova, m->iova + K4 - 1);
	check_overlap(rm, md, m->iova - K4, m->iova - 1);
	check_overlap(rm, md, l + 1, l + K4);
	check_overlap(rm, md, l - K4 + 1, l + 3 * K4);
	check_overlap(rm, md, m->iova - 3 * K4, m->iova - 1);
	check_overlap(rm, md, m->iova & ~(M2 - 1), m->iova | (M2 - 1));
	check_overlap(rm, md, (l + 1) & ~(M2 - 1), (l + 1) | (M2 - 1));
}

/* rm_chunk_run against the model: the ranges from the first ending at or
 * after x to the last starting at or before last, read as fill_span
 * reads them (a chunk's run, or one tree range by rm_get, then rm_next),
 * in batches of at most max, each within one chunk, with p left on the
 * batch's last range. */
static void check_chunk_runs(struct rangemap *rm, const struct model *md,
			     uint64_t x, uint64_t last, unsigned int max)
{
	struct wpt_mapping got[8];
	struct rm_pos p;
	unsigned int i, k, n;
	bool ok;

	ck_assert_uint_le(max, 8);
	for (i = 0; i < md->n && last_of(&md->r[i]) < x; i++)
		;
	for (ok = rm_from(rm, x, &p); ok; ok = rm_next(rm, &p)) {
		struct rm_chunk *c = p.c;

		n = rm_chunk_run(rm, &p, last, got, max);
		if (!n && !p.c && (rm_get(&p, &got[0]), got[0].iova <= last))
			n = 1;
		if (!n)
			break;
		ck_assert_uint_le(n, max);
		ck_assert(p.c == c);  /* never left its chunk */
		for (k = 0; k < n; k++, i++) {
			ck_assert_uint_lt(i, md->n);
			ck_assert_uint_le(got[k].iova, last);
			ck_assert_uint_eq(got[k].iova, md->r[i].iova);
			ck_assert_uint_eq(got[k].size, md->r[i].size);
			ck_assert_uint_eq(got[k].gpa, md->r[i].gpa);
			ck_assert_uint_eq(got[k].perm, md->r[i].perm);
		}
		if (c) {
			struct wpt_mapping at;

			rm_get(&p, &at); /* left on the batch's last range */
			ck_assert_uint_eq(at.iova, got[n - 1].iova);
		}
	}
	/* Nothing the model has in [x, last] was left out. */
	ck_assert(i == md->n || md->r[i].iova > last);
}

/* rangemap.spill as it must be: the ranges a chunk word holds (shorter
 * than a chunk, a GPA frame and flags that fit) that run on into the next
 * chunk.  Too few and a range reaching a chunk's first pages from the
 * one before goes unseen; too many only costs lookups, so it is counted
 * here exactly. */
static uint64_t model_spill(const struct model *md)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < md->n; i++) {
		const struct wpt_mapping *m = &md->r[i];

		n += m->size < M2 && (m->gpa / K4) < E_FRAME_MAX &&
		     md->flags[i] < (1u << RM_F_BITS) &&
		     (m->iova / K4) % RM_FAN + m->size / K4 > RM_FAN;
	}
	return n;
}

static void check_all(struct rangemap *rm, struct model *md)
{
	struct wpt_mapping got;
	struct rm_pos p;
	unsigned int i, j;
	bool ok;

	ck_assert_uint_eq(rm->nr, md->n);
	ck_assert_uint_eq(rm->spill, model_spill(md));
	for (i = 0, ok = rm_from(rm, 0, &p); ok; ok = rm_next(rm, &p), i++) {
		ck_assert_uint_lt(i, md->n);
		rm_get(&p, &got);
		ck_assert_uint_eq(got.iova, md->r[i].iova);
		ck_assert_uint_eq(got.size, md->r[i].size);
		ck_assert_uint_eq(got.gpa, md->r[i].gpa);
		ck_assert_uint_eq(got.perm, md->r[i].perm);
	}
	ck_assert_uint_eq(i, md->n);
	for (i = 0; i < md->n; i++) {
		const struct wpt_mapping *m = &md->r[i];

		check_overlaps(rm, md, m);
		check_from(rm, md, m->iova);
		check_from(rm, md, last_of(m));
		check_from(rm, md, m->iova - K4);
		if (last_of(m) != UINT64_MAX)
			check_from(rm, md, last_of(m) + 1);
		ck_assert(rm_find(rm, m->iova, &p));
		ck_assert(!m->size || m->size == K4 ||
			  !rm_find(rm, m->iova + K4, &p));
	}
	for (j = 0; j < 32; j++)
		check_from(rm, md, rnd(0));
	check_chunk_runs(rm, md, 0, UINT64_MAX, 8);
	check_chunk_runs(rm, md, 0, UINT64_MAX, 1);
	for (j = 0; j < 8 && md->n; j++) {
		const struct wpt_mapping *a = &md->r[rnd(md->n)];
		const struct wpt_mapping *b = &md->r[rnd(md->n)];

		check_chunk_runs(rm, md, a->iova + rnd(a->size),
				 last_of(b) - rnd(b->size), 1 + (unsigned)rnd(8));
	}
}

static void model_insert(struct model *md, const struct wpt_mapping *m,
			 unsigned int flags)
{
	unsigned int i;

	md->r[md->n] = *m;
	md->flags[md->n++] = flags;
	/* Keep flags with their ranges through the sort. */
	for (i = md->n - 1; i > 0 && md->r[i].iova < md->r[i - 1].iova; i--) {
		struct wpt_mapping t = md->r[i];
		unsigned int f = md->flags[i];

		md->r[i] = md->r[i - 1];
		md->flags[i] = md->flags[i - 1];
		md->r[i - 1] = t;
		md->flags[i - 1] = f;
	}
}

/* The chunk rm->seen holds for key (NULL: none), in either way of the
 * set the map uses (fibhash.h).  A way naming a freed chunk is read
 * here: ASan reports it. */
static struct rm_chunk *seen_of(const struct rangemap *rm, uint64_t key)
{
	unsigned int i = fib_cache_set(key), w;

	for (w = 0; w < 2; w++) {
		struct rm_chunk *c = rm->seen.way[w][i];

		if (c && c->key == key)
			return c;
	}
	return NULL;
}

/*
 * The chunks found before (rm->seen), over more chunks than it holds,
 * many of them in one slot: a page in each of twice as many chunks as it
 * holds, a power of two apart, found in a scattered order, then every other chunk
 * emptied (dropped) and made again with another page.  A slot must never
 * answer for a chunk dropped (ASan sees the stale read) nor for another
 * key, and every lookup must still find exactly the model's ranges.
 */
START_TEST(test_seen_chunks)
{
	static struct model md;
	struct rangemap rm;
	struct wpt_mapping got;
	struct rm_pos p;
	unsigned int i, k, n = 2 * SEEN_SLOTS;
	uint64_t stride = 64 * M2; /* keys 64 apart: low bits all equal */

	memset(&md, 0, sizeof(md));
	rm_init(&rm);
	for (i = 0; i < n; i++) {
		struct wpt_mapping m = { .iova = i * stride + (i % 512) * K4,
					 .size = K4, .gpa = (1000 + i) * K4,
					 .perm = WPT_PERM_READ };

		ck_assert_int_eq(rm_insert(&rm, &m, 0, NULL), 0);
		model_insert(&md, &m, 0);
	}
	for (k = 0; k < 2 * n; k++) {
		i = (unsigned int)((k * 7919u) % n);
		ck_assert(rm_find(&rm, md.r[i].iova, &p));
		rm_get(&p, &got);
		ck_assert_uint_eq(got.gpa, md.r[i].gpa);
		/* Found, so remembered: the next store there skips the
		 * tree. */
		ck_assert_ptr_eq(seen_of(&rm, md.r[i].iova >> 21), p.c);
		ck_assert_uint_eq(p.c->key, md.r[i].iova >> 21);
	}
	/* Every other chunk emptied: its chunk dropped, its slot cleared. */
	for (i = 0; i < n; i += 2) {
		uint64_t key = md.r[i].iova >> 21;
		struct rm_chunk *dropped;

		ck_assert(rm_find(&rm, md.r[i].iova, &p));
		dropped = p.c;
		rm_remove(&rm, &p);
		/* Neither way of its set names the freed chunk (compared,
		 * not read: freed memory need not still hold its key). */
		ck_assert_ptr_ne(rm.seen.way[0][fib_cache_set(key)], dropped);
		ck_assert_ptr_ne(rm.seen.way[1][fib_cache_set(key)], dropped);
		ck_assert(!rm_find(&rm, md.r[i].iova, &p));
	}
	for (i = 0; i < n; i++)
		ck_assert(rm_find(&rm, md.r[i].iova, &p) == (i % 2 == 1));
	/* Made again, a page further in: found there, not at the old page. */
	for (i = 0; i < n; i += 2) {
		md.r[i].iova += K4;
		ck_assert_int_eq(rm_insert(&rm, &md.r[i], 0, NULL), 0);
	}
	for (k = 0; k < 2 * n; k++) {
		i = (unsigned int)((k * 104729u) % n);
		ck_assert(rm_find(&rm, md.r[i].iova, &p));
		rm_get(&p, &got);
		ck_assert_uint_eq(got.gpa, md.r[i].gpa);
		if (i % 2 == 0)
			ck_assert(!rm_find(&rm, md.r[i].iova - K4, &p));
	}
	check_all(&rm, &md);
	rm_free_all(&rm);
}
END_TEST

/*
 * A guest's hot tables a power of two apart all stay remembered: 64
 * chunks at a stride of 2^s chunks (every s up to 2^20 chunks: 2 TiB of
 * IOVA apart), each found once, are then every one still in rm->seen, so
 * the next store to any of them skips the radix descent.  Direct-mapped
 * over 256 slots, the stride of 512 chunks (the microbench's spread
 * window at 16M pages) kept only 45 of the 64.
 */
START_TEST(test_seen_hot_strides)
{
	struct rangemap rm;
	struct rm_pos p;
	unsigned int s, k;

	for (s = 0; s <= 20; s++) {
		uint64_t first = 256, step = 1ull << s;

		rm_init(&rm);
		for (k = 0; k < 64; k++) {
			struct wpt_mapping m = {
				.iova = (first + k * step) * M2, .size = K4,
				.gpa = (1000 + k) * K4, .perm = WPT_PERM_READ
			};

			ck_assert_int_eq(rm_insert(&rm, &m, 0, NULL), 0);
		}
		for (k = 0; k < 64; k++)
			ck_assert(rm_find(&rm, (first + k * step) * M2, &p));
		for (k = 0; k < 64; k++)
			ck_assert_msg(seen_of(&rm, first + k * step),
				      "stride 2^%u: chunk %u forgotten", s, k);
		rm_free_all(&rm);
	}
}
END_TEST

/*
 * A chunk dropped while it sits in its set's second way: chunks a and b
 * share a set, b was found last (first way), a is reached by a walk from
 * below (rm_from: no cache on the way) and emptied.  Neither way may name
 * it after, and b must still be found through the cache.
 */
START_TEST(test_seen_drop_second_way)
{
	struct rangemap rm;
	struct rm_pos p;
	uint64_t a = 5, b = a + 1, k;

	while (fib_cache_set(b) != fib_cache_set(a))
		b++;
	rm_init(&rm);
	for (k = a; k <= b; k += b - a) {
		struct wpt_mapping m = { .iova = k * M2, .size = K4,
					 .gpa = k * K4, .perm = WPT_PERM_READ };

		ck_assert_int_eq(rm_insert(&rm, &m, 0, NULL), 0);
	}
	ck_assert(rm_find(&rm, a * M2, &p));
	ck_assert(rm_find(&rm, b * M2, &p));
	ck_assert_ptr_eq(rm.seen.way[1][fib_cache_set(a)], seen_of(&rm, a));
	ck_assert(rm_from(&rm, 0, &p));
	ck_assert_uint_eq(p.c->key, a);
	rm_remove(&rm, &p);
	ck_assert_ptr_null(rm.seen.way[1][fib_cache_set(a)]);
	ck_assert_ptr_eq(seen_of(&rm, b), rm.seen.way[0][fib_cache_set(b)]);
	ck_assert(rm_find(&rm, b * M2, &p));
	ck_assert(!rm_find(&rm, a * M2, &p));
	rm_free_all(&rm);
}
END_TEST

START_TEST(test_against_model)
{
	static struct model md;
	struct rangemap rm;
	unsigned int step;

	memset(&md, 0, sizeof(md));
	rm_init(&rm);
	for (step = 0; step < 3000; step++) {
		struct rm_pos p;

		if (md.n < MAXR && rnd(3)) {
			struct wpt_mapping m = random_range();
			unsigned int flags = (unsigned int)rnd(4);

			if (overlaps(&md, &m))
				continue;
			ck_assert_int_eq(rm_insert(&rm, &m, flags, NULL), 0);
			model_insert(&md, &m, flags);
		} else if (md.n) {
			unsigned int i = (unsigned int)rnd(md.n);

			ck_assert(rm_find(&rm, md.r[i].iova, &p));
			if (rnd(2)) {
				rm_set_flags(&p, RM_F_JUDGED);
				md.flags[i] = RM_F_JUDGED;
				continue;
			}
			rm_remove(&rm, &p);
			memmove(&md.r[i], &md.r[i + 1],
				(md.n - i - 1) * sizeof(md.r[0]));
			memmove(&md.flags[i], &md.flags[i + 1],
				(md.n - i - 1) * sizeof(md.flags[0]));
			md.n--;
		}
		if (step % 50 == 0 || md.n < 4)
			check_all(&rm, &md);
	}
	check_all(&rm, &md);
	rm_free_all(&rm);
	ck_assert_uint_eq(rm.nr, 0);
}
END_TEST

/* One chunk filled page by page in a scattered order (its words packed,
 * then indexed past 64) and emptied the same way (packed again at 32). */
START_TEST(test_chunk_fills_and_empties)
{
	static struct model md;
	struct rangemap rm;
	struct rm_pos p;
	unsigned int k, i;

	memset(&md, 0, sizeof(md));
	rm_init(&rm);
	for (k = 0; k < 512; k++) {
		struct wpt_mapping m = { .iova = M2 + (k * 167 % 512) * K4,
					 .size = K4, .gpa = (k + 1) * K4,
					 .perm = 1 + k % 3 };

		ck_assert_int_eq(rm_insert(&rm, &m, k % 4, NULL), 0);
		model_insert(&md, &m, k % 4);
		if (k % 31 == 0 || (k > 60 && k < 70))
			check_all(&rm, &md);
	}
	check_all(&rm, &md);
	for (k = 0; k < 512; k++) {
		uint64_t iova = M2 + (k * 331 % 512) * K4;

		for (i = 0; md.r[i].iova != iova; i++)
			;
		ck_assert(rm_find(&rm, iova, &p));
		rm_remove(&rm, &p);
		memmove(&md.r[i], &md.r[i + 1], (md.n - i - 1) * sizeof(md.r[0]));
		memmove(&md.flags[i], &md.flags[i + 1],
			(md.n - i - 1) * sizeof(md.flags[0]));
		md.n--;
		if (k % 37 == 0 || (k > 475 && k < 485))
			check_all(&rm, &md);
	}
	ck_assert_ptr_null(rm.root);
	rm_free_all(&rm);
}
END_TEST

/* A range short enough for a chunk word may start in one chunk and end in
 * the next: a look that starts past the edge must find it before any
 * range starting later in the look, whatever else either chunk holds. */
START_TEST(test_overlap_across_chunk_edge)
{
	static struct model md;
	const struct wpt_mapping across = { .iova = 2 * M2 - 2 * K4,
					    .size = 6 * K4, .gpa = 0x100000,
					    .perm = 3 };
	const struct wpt_mapping later = { .iova = 2 * M2 + 8 * K4,
					   .size = K4, .gpa = 0x200000,
					   .perm = 1 };
	const struct wpt_mapping before = { .iova = M2 + 4 * K4, .size = K4,
					    .gpa = 0x300000, .perm = 1 };
	struct rangemap rm;
	unsigned int round;

	memset(&md, 0, sizeof(md));
	rm_init(&rm);
	for (round = 0; round < 3; round++) {
		const struct wpt_mapping *m =
			round == 0 ? &across : round == 1 ? &later : &before;

		ck_assert_int_eq(rm_insert(&rm, m, 0, NULL), 0);
		model_insert(&md, m, 0);
		/* From inside the crossing range's second chunk, from its
		 * first page, from before it, and one page past its end. */
		check_overlap(&rm, &md, 2 * M2 + K4, 2 * M2 + 16 * K4);
		check_overlap(&rm, &md, 2 * M2, 2 * M2 + 9 * K4);
		check_overlap(&rm, &md, 2 * M2 - 4 * K4, 2 * M2 + 9 * K4);
		check_overlap(&rm, &md, 2 * M2 + 4 * K4, 2 * M2 + 9 * K4 - 1);
		check_overlap(&rm, &md, 2 * M2 + 3 * K4, 2 * M2 + 3 * K4);
		check_all(&rm, &md);
	}
	rm_free_all(&rm);
}
END_TEST

static int by_iova(const void *a, const void *b)
{
	const struct wpt_mapping *x = a, *y = b;

	return x->iova < y->iova ? -1 : x->iova > y->iova;
}

/* Random ranges removed one at a time until MAXR / 2 are left. */
static void remove_to_half(struct rangemap *rm, struct model *md)
{
	struct rm_pos p;
	unsigned int i;

	while (md->n > MAXR / 2) {
		i = (unsigned int)rnd(md->n);
		ck_assert(rm_find(rm, md->r[i].iova, &p));
		rm_remove(rm, &p);
		md->r[i] = md->r[--md->n];
		qsort(md->r, md->n, sizeof(md->r[0]), by_iova);
	}
}

/* Batches of random ranges (chunk words and tree ranges, one chunk after
 * another or far apart) inserted together land as one at a time would,
 * between removals one at a time. */
START_TEST(test_insert_batch)
{
	static struct model md;
	struct wpt_mapping b[40];
	struct rangemap rm;
	unsigned int round, n, i;

	memset(&md, 0, sizeof(md));
	rm_init(&rm);
	for (round = 0; round < 200; round++) {
		for (n = 0; n < 40 && md.n + n < MAXR;) {
			struct wpt_mapping m = random_range();

			if (overlaps(&md, &m))
				continue;
			for (i = 0; i < n && (b[i].iova > last_of(&m) ||
					      m.iova > last_of(&b[i]));
			     i++)
				;
			if (i == n)
				b[n++] = m;
		}
		qsort(b, n, sizeof(b[0]), by_iova);
		ck_assert_int_eq(rm_insert_batch(&rm, b, n), 0);
		for (i = 0; i < n; i++)
			model_insert(&md, &b[i], 0);
		check_all(&rm, &md);
		remove_to_half(&rm, &md);
	}
	check_all(&rm, &md);
	rm_free_all(&rm);
}
END_TEST

/* A batch that takes a chunk past RM_DENSE_MIN ranges lays it out indexed
 * before its words go in (chunk_index): a chunk holding a few packed
 * words, then a batch of 33-64 single pages into it, lands as one at a
 * time would. */
START_TEST(test_dense_batch)
{
	static struct model md;
	struct wpt_mapping b[64];
	struct rangemap rm;
	unsigned int round, n, k, i, before, want, dense = 0;

	memset(&md, 0, sizeof(md));
	rm_init(&rm);
	for (round = 0; round < 60; round++) {
		uint64_t base = rnd(4) * M2;
		struct rm_chunk *c;

		for (k = (unsigned int)rnd(20); k; k--) {
			struct wpt_mapping m = {
				.iova = base + rnd(RM_FAN) * K4, .size = K4,
				.gpa = rnd(1ull << 30) * K4,
				.perm = (uint32_t)(1 + rnd(3)) };

			if (overlaps(&md, &m))
				continue;
			ck_assert_int_eq(rm_insert(&rm, &m, 0, NULL), 0);
			model_insert(&md, &m, 0);
		}
		c = chunk_lookup(&rm, base / M2);
		before = c ? c->nr : 0;
		want = RM_DENSE_MIN + 1 + (unsigned int)rnd(32);
		for (n = 0, i = (unsigned int)rnd(RM_FAN / 2);
		     n < want && i < RM_FAN; i++) {
			struct wpt_mapping m = {
				.iova = base + i * K4, .size = K4,
				.gpa = rnd(1ull << 30) * K4,
				.perm = (uint32_t)(1 + rnd(3)) };

			if (!overlaps(&md, &m))
				b[n++] = m;
		}
		ck_assert_int_eq(rm_insert_batch(&rm, b, n), 0);
		for (i = 0; i < n; i++)
			model_insert(&md, &b[i], 0);
		c = chunk_lookup(&rm, base / M2);
		ck_assert(c);
		if (before + n > RM_DENSE_MIN) {
			ck_assert_uint_eq(c->cap, RM_FAN);
			dense++;
		}
		check_all(&rm, &md);
		remove_to_half(&rm, &md);
	}
	/* Most rounds are such batches: the layout was checked. */
	ck_assert_uint_ge(dense, 30);
	check_all(&rm, &md);
	rm_free_all(&rm);
}
END_TEST

/* Emptied, the map frees every chunk and radix node (run under ASan, a
 * leak shows) and starts again from nothing. */
START_TEST(test_empties_and_refills)
{
	struct rangemap rm;
	struct rm_pos p;
	uint64_t i;

	rm_init(&rm);
	for (i = 0; i < 4; i++) {
		struct wpt_mapping m = { .iova = i << 40, .size = K4,
					 .gpa = K4, .perm = 1 };

		ck_assert_int_eq(rm_insert(&rm, &m, 0, NULL), 0);
	}
	for (i = 0; i < 4; i++) {
		ck_assert(rm_find(&rm, i << 40, &p));
		rm_remove(&rm, &p);
	}
	ck_assert_ptr_null(rm.root);
	ck_assert(!rm_from(&rm, 0, &p));
	rm_free_all(&rm);
}
END_TEST

/* ------------------------------------------------------- following */

static struct wpt_mapping page_at(uint64_t iova, uint64_t gpa_page)
{
	return (struct wpt_mapping){ .iova = iova, .size = K4,
				     .gpa = gpa_page * K4, .perm = 3 };
}

static struct rm_chunk *chunk_of(struct rangemap *rm, uint64_t iova)
{
	return chunk_lookup(rm, iova >> 21);
}

/* The follower tests' indexed arrays: from a pool, as the shadow's are
 * (each test runs in a process of its own). */
static struct pagepool pool;

/* Two empty maps, fol following src, and their empty models. */
static void follow_init(struct rangemap *src, struct rangemap *fol,
			struct model *ms, struct model *mf)
{
	memset(ms, 0, sizeof(*ms));
	memset(mf, 0, sizeof(*mf));
	pagepool_init(&pool);
	rm_init(src);
	rm_init(fol);
	rm_set_pool(src, &pool);
	rm_set_pool(fol, &pool);
	rm_follow(fol, src);
}

/* Both maps freed: every array went back to the pool, once (a block put
 * twice, or one kept, would miscount). */
static void follow_done(void)
{
	ck_assert_uint_eq(pool.blocks_out, 0);
	pagepool_fini(&pool);
}

static void model_remove_at(struct model *md, uint64_t iova)
{
	unsigned int i;

	for (i = 0; md->r[i].iova != iova; i++)
		;
	memmove(&md->r[i], &md->r[i + 1], (md->n - i - 1) * sizeof(md->r[0]));
	memmove(&md->flags[i], &md->flags[i + 1],
		(md->n - i - 1) * sizeof(md->flags[0]));
	md->n--;
}

static void map_put(struct rangemap *rm, struct model *md,
		    const struct wpt_mapping *m, unsigned int flags)
{
	ck_assert_int_eq(rm_insert(rm, m, flags, NULL), 0);
	model_insert(md, m, flags);
}

static void map_del(struct rangemap *rm, struct model *md, uint64_t iova)
{
	struct rm_pos p;

	ck_assert(rm_find(rm, iova, &p));
	rm_remove(rm, &p);
	model_remove_at(md, iova);
}

/* A source chunk filled past its packed size, then a follower given the
 * same ranges: it reads the source's array; a source's change under it
 * makes the old word its own; past RM_OV_MAX own words it takes a copy;
 * rm_share makes it follow again once equal; the source freed first
 * hands it the array. */
START_TEST(test_follower_reads_and_copies)
{
	static struct model ms, mf;
	struct rangemap src, fol;
	struct rm_chunk *fc;
	struct rm_pos p;
	unsigned int k;

	follow_init(&src, &fol, &ms, &mf);
	for (k = 0; k < 200; k++) {
		struct wpt_mapping m = page_at(M2 + k * K4, 1000 + k * 7);

		map_put(&src, &ms, &m, 0);
	}
	for (k = 0; k < 200; k++) {
		struct wpt_mapping m = page_at(M2 + k * K4, 1000 + k * 7);

		map_put(&fol, &mf, &m, 0);
	}
	fc = chunk_of(&fol, M2);
	ck_assert_ptr_nonnull(fc->ov);
	ck_assert_ptr_eq(fc->e, chunk_of(&src, M2)->e);
	ck_assert_uint_eq(fc->ov->n, 0);
	check_all(&src, &ms);
	check_all(&fol, &mf);

	/* Flags of the follower stay its own. */
	ck_assert(rm_find(&fol, M2, &p));
	rm_set_flags(&p, RM_F_JUDGED | RM_F_KILL);
	mf.flags[0] = RM_F_JUDGED | RM_F_KILL;
	check_all(&src, &ms);
	check_all(&fol, &mf);
	rm_set_flags(&p, 0);
	mf.flags[0] = 0;

	/* The source remaps pages under the follower, one by one. */
	for (k = 0; k <= RM_OV_MAX; k++) {
		struct wpt_mapping m = page_at(M2 + k * K4, 5000 + k);

		map_del(&src, &ms, m.iova);
		check_all(&fol, &mf);
		map_put(&src, &ms, &m, 0);
		check_all(&src, &ms);
		check_all(&fol, &mf);
		if (k < RM_OV_MAX)
			ck_assert_uint_eq(fc->ov->n, k + 1);
	}
	ck_assert_ptr_null(fc->ov); /* full: a copy of its own */
	ck_assert_ptr_ne(fc->e, chunk_of(&src, M2)->e);
	ck_assert_int_eq(rm_share(&fol, 0, UINT64_MAX), 0);

	/* Made equal again, it follows again. */
	for (k = 0; k <= RM_OV_MAX; k++) {
		struct wpt_mapping m = page_at(M2 + k * K4, 5000 + k);

		map_del(&fol, &mf, m.iova);
		map_put(&fol, &mf, &m, 0);
	}
	ck_assert_int_eq(rm_share(&fol, 0, UINT64_MAX), 1);
	ck_assert_ptr_nonnull(fc->ov);
	check_all(&fol, &mf);

	/* A page unmapped and mapped in both, as a store does: no own word. */
	map_del(&src, &ms, M2 + 9 * K4);
	map_del(&fol, &mf, M2 + 9 * K4);
	{
		struct wpt_mapping m = page_at(M2 + 9 * K4, 77);

		map_put(&src, &ms, &m, 0);
		map_put(&fol, &mf, &m, 0);
	}
	ck_assert_uint_eq(fc->ov->n, 0);
	check_all(&fol, &mf);

	/* The follower's own word for a page the source no longer has. */
	map_del(&src, &ms, M2 + 3 * K4);
	check_all(&fol, &mf);
	rm_free_all(&src);
	ck_assert_ptr_null(fc->ov);
	check_all(&fol, &mf);
	rm_free_all(&fol);
	follow_done();
}
END_TEST

/* Both maps changed at random over three chunks (inserts of the other's
 * range or of a new one, removals, flags, reserves kept or given back,
 * rm_share now and then), each checked against its model; freed in one
 * order or the other (ASan: nothing leaks, nothing is freed twice). */
static void follow_step(struct rangemap *rm[2], struct model *md[2])
{
	unsigned int w = (unsigned int)rnd(2), i;
	struct model *o = md[!w];
	struct wpt_mapping m;
	struct rm_pos p;

	if (md[w]->n < MAXR && rnd(3)) {
		if (o->n && rnd(3))
			m = o->r[rnd(o->n)]; /* what a store and its map do */
		else
			m = page_at(rnd(3 * 512) * K4, rnd(1 << 20));
		if (rnd(8) == 0)
			m.size = (1 + rnd(4)) * K4;
		if (overlaps(md[w], &m))
			return;
		if (rnd(4) == 0) {
			ck_assert_int_eq(rm_reserve(rm[w], &m), 0);
			if (rnd(2)) {
				rm_unreserve(rm[w], &m);
				return;
			}
		}
		map_put(rm[w], md[w], &m, (unsigned int)rnd(2) * RM_F_JUDGED);
	} else if (md[w]->n) {
		i = (unsigned int)rnd(md[w]->n);
		if (rnd(3) == 0) {
			ck_assert(rm_find(rm[w], md[w]->r[i].iova, &p));
			md[w]->flags[i] = (unsigned int)rnd(4);
			rm_set_flags(&p, md[w]->flags[i]);
		} else {
			map_del(rm[w], md[w], md[w]->r[i].iova);
		}
	}
}

/* Make the follower hold what the source holds, flags clear in both, and
 * share: then every follower chunk whose source chunk is indexed follows. */
static void follow_sync(struct rangemap *rm[2], struct model *md[2])
{
	struct model *ms = md[0], *mf = md[1];
	struct rm_chunk *c;
	struct rm_pos p;
	unsigned int i, j;

	for (i = 0; i < mf->n;) {
		for (j = 0; j < ms->n && memcmp(&ms->r[j], &mf->r[i],
						sizeof(ms->r[j])); j++)
			;
		if (j == ms->n)
			map_del(rm[1], mf, mf->r[i].iova);
		else
			i++;
	}
	for (j = 0; j < ms->n; j++) {
		ck_assert(rm_find(rm[0], ms->r[j].iova, &p));
		rm_set_flags(&p, ms->flags[j] = 0);
		if (!overlaps(mf, &ms->r[j]))
			map_put(rm[1], mf, &ms->r[j], 0);
	}
	for (i = 0; i < mf->n; i++) {
		ck_assert(rm_find(rm[1], mf->r[i].iova, &p));
		rm_set_flags(&p, mf->flags[i] = 0);
	}
	ck_assert_int_ge(rm_share(rm[1], 0, UINT64_MAX), 0);
	for (c = chunk_first_from(rm[1], 0); c; c = chunk_first_from(rm[1], c->key + 1))
		ck_assert(c->ov || chunk_lookup(rm[0], c->key)->cap != RM_FAN);
}

START_TEST(test_follower_against_models)
{
	static struct model ms, mf;
	struct rangemap src, fol;
	struct rangemap *rm[2] = { &src, &fol };
	struct model *md[2] = { &ms, &mf };
	unsigned int step;

	follow_init(&src, &fol, &ms, &mf);
	/* The source's chunks indexed first, as set_root's leaves are. */
	while (ms.n < 300) {
		struct wpt_mapping m = page_at(rnd(3 * 512) * K4, rnd(1 << 20));

		if (!overlaps(&ms, &m))
			map_put(&src, &ms, &m, 0);
	}
	/* Checked every few hundred steps: a check is quadratic in the
	 * ranges held (the model is a plain array). */
	for (step = 0; step < 8000; step++) {
		follow_step(rm, md);
		if (step % 997 == 0)
			follow_sync(rm, md);
		if (step % 331 == 0) {
			check_all(&src, &ms);
			check_all(&fol, &mf);
		}
	}
	check_all(&src, &ms);
	check_all(&fol, &mf);
	if (_i) {
		rm_free_all(&src);
		check_all(&fol, &mf);
		rm_free_all(&fol);
	} else {
		rm_free_all(&fol);
		check_all(&src, &ms);
		rm_free_all(&src);
	}
	follow_done();
}
END_TEST

/*
 * Adopting (rm_adopt_begin, rm_adopt, rm_adopt_end): the follower takes a
 * range its source holds at a start bit's cost, reads it back equal with
 * flags clear (a range removed there earlier left its flag bits behind),
 * and agrees with the model throughout.  Refused: a follower chunk that
 * went back to words of its own (packed after a removal), and a source
 * chunk too sparse to be followed (no chunk is left made for it).  A chunk
 * made for nothing is taken away again.
 */
static void fill_src(struct rangemap *src, struct model *ms, uint64_t base,
		     unsigned int n)
{
	struct wpt_mapping m;
	unsigned int k;

	for (k = 0; k < n; k++) {
		m = page_at(base + k * K4, (base >> 12) + 5000 - k * 3);
		map_put(src, ms, &m, 0);
	}
}

static void adopt_at(struct rangemap *src, struct rangemap *fol,
		     struct model *mf, struct rm_pos *fp, uint64_t iova)
{
	struct wpt_mapping m, got;
	struct rm_pos sp, p;

	ck_assert(rm_find(src, iova, &sp));
	rm_get(&sp, &m);
	rm_adopt(fol, fp, iova);
	model_insert(mf, &m, 0);
	ck_assert(rm_find(fol, iova, &p));
	rm_get(&p, &got);
	ck_assert_mem_eq(&got, &m, sizeof(m));
	ck_assert_uint_eq(rm_flags(&p), 0);
}

START_TEST(test_adopt)
{
	static struct model ms, mf;
	struct rangemap src, fol;
	struct wpt_mapping m;
	struct rm_pos sp, fp, p;
	unsigned int k;

	follow_init(&src, &fol, &ms, &mf);
	fill_src(&src, &ms, M2, 100);
	fill_src(&src, &ms, 2 * M2, 100);
	fill_src(&src, &ms, 4 * M2, 1); /* packed: not followed */
	fill_src(&src, &ms, 6 * M2, 100);
	for (k = 50; k < 90; k++) {
		ck_assert(rm_find(&src, M2 + k * K4, &sp));
		rm_get(&sp, &m);
		map_put(&fol, &mf, &m, 0);
	}
	ck_assert(rm_find(&src, M2 + 7 * K4, &sp));
	rm_get(&sp, &m);
	map_put(&fol, &mf, &m, RM_F_JUDGED | RM_F_KILL);
	map_del(&fol, &mf, M2 + 7 * K4);
	ck_assert(rm_adopt_begin(&fol, &sp, &fp));
	for (k = 0; k < 50; k++)
		adopt_at(&src, &fol, &mf, &fp, M2 + k * K4);
	rm_adopt_end(&fol, &fp);
	ck_assert_ptr_nonnull(chunk_of(&fol, M2)->ov);
	ck_assert_uint_eq(chunk_of(&fol, M2)->ov->n, 0);
	check_all(&fol, &mf);
	/* A follower chunk of few ranges packs on a removal: its own words. */
	for (k = 0; k < 2; k++) {
		ck_assert(rm_find(&src, 2 * M2 + k * K4, &sp));
		rm_get(&sp, &m);
		map_put(&fol, &mf, &m, 0);
	}
	map_del(&fol, &mf, 2 * M2);
	ck_assert(rm_find(&src, 2 * M2 + 5 * K4, &sp));
	ck_assert(!rm_adopt_begin(&fol, &sp, &fp));
	ck_assert(rm_find(&fol, 2 * M2 + K4, &p));
	ck_assert(rm_find(&src, 4 * M2, &sp));
	ck_assert(!rm_adopt_begin(&fol, &sp, &fp));
	ck_assert_ptr_null(chunk_of(&fol, 4 * M2));
	ck_assert(rm_find(&src, 6 * M2, &sp));
	ck_assert(rm_adopt_begin(&fol, &sp, &fp));
	ck_assert_ptr_nonnull(chunk_of(&fol, 6 * M2));
	rm_adopt_end(&fol, &fp);
	ck_assert_ptr_null(chunk_of(&fol, 6 * M2));
	check_all(&fol, &mf);
	check_all(&src, &ms);
	rm_free_all(&src);
	rm_free_all(&fol);
	follow_done();
}
END_TEST

/* A range adopted that runs on into the next chunk is counted in the
 * follower's spill once (its chunk's last, adopted first here, and again
 * a batch later below it), and the follower then finds it from the next
 * chunk's first page; one that does not run on is not counted. */
START_TEST(test_adopt_spill)
{
	static struct model ms, mf;
	const struct wpt_mapping across = { .iova = 9 * M2 - 2 * K4,
					    .size = 4 * K4, .gpa = 0x7000000,
					    .perm = 3 };
	struct rangemap src, fol;
	struct wpt_mapping got;
	struct rm_pos sp, fp, p;
	unsigned int k;

	follow_init(&src, &fol, &ms, &mf);
	fill_src(&src, &ms, 8 * M2, 100);
	map_put(&src, &ms, &across, 0);
	ck_assert_uint_eq(src.spill, 1);
	ck_assert(rm_find(&src, across.iova, &sp));
	ck_assert(rm_adopt_begin(&fol, &sp, &fp));
	adopt_at(&src, &fol, &mf, &fp, across.iova);
	for (k = 0; k < 100; k += 3)
		adopt_at(&src, &fol, &mf, &fp, 8 * M2 + k * K4);
	rm_adopt_end(&fol, &fp);
	ck_assert_uint_eq(fol.spill, 1);
	ck_assert(rm_adopt_begin(&fol, &sp, &fp));
	adopt_at(&src, &fol, &mf, &fp, 8 * M2 + 2 * K4);
	rm_adopt_end(&fol, &fp);
	ck_assert_uint_eq(fol.spill, 1);
	ck_assert(rm_overlap(&fol, 9 * M2, 9 * M2 + K4 - 1, &p, &got));
	ck_assert_uint_eq(got.iova, across.iova);
	check_all(&fol, &mf);
	/* Without the crossing range: nothing spills, nothing is found. */
	map_del(&fol, &mf, across.iova);
	ck_assert_uint_eq(fol.spill, 0);
	ck_assert(!rm_overlap(&fol, 9 * M2, 9 * M2 + K4 - 1, &p, &got));
	ck_assert(rm_find(&src, 8 * M2 + K4, &sp));
	ck_assert(rm_adopt_begin(&fol, &sp, &fp));
	adopt_at(&src, &fol, &mf, &fp, 8 * M2 + K4);
	rm_adopt_end(&fol, &fp);
	ck_assert_uint_eq(fol.spill, 0);
	check_all(&fol, &mf);
	check_all(&src, &ms);
	rm_free_all(&src);
	rm_free_all(&fol);
	follow_done();
}
END_TEST

static Suite *rangemap_suite(void)
{
	Suite *s = suite_create("rangemap");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_against_model);
	tcase_add_test(tc, test_seen_chunks);
	tcase_add_test(tc, test_seen_hot_strides);
	tcase_add_test(tc, test_seen_drop_second_way);
	tcase_add_test(tc, test_chunk_fills_and_empties);
	tcase_add_test(tc, test_overlap_across_chunk_edge);
	tcase_add_test(tc, test_empties_and_refills);
	tcase_add_test(tc, test_follower_reads_and_copies);
	tcase_add_loop_test(tc, test_follower_against_models, 0, 2);
	tcase_add_test(tc, test_insert_batch);
	tcase_add_test(tc, test_dense_batch);
	tcase_add_test(tc, test_adopt);
	tcase_add_test(tc, test_adopt_spill);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(rangemap_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
