/* SPDX-License-Identifier: MIT */
/*
 * The shadow's range map (lib/rangemap.c) against a plain sorted array:
 * ranges short and long (kept in chunks or in the tree), GPAs a chunk word
 * cannot hold, sparse keys far apart (radix levels made and freed), the
 * top of a 64-bit space, and ranges reaching from one chunk into the next.
 * After every change: the iteration order, "first ending at or after x"
 * at ranges' edges and in the holes, exact finds and the flags.
 */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "rangemap.h"

#define K4 0x1000ull
#define M2 0x200000ull
#define MAXR 512

struct model {
	struct wpt_mapping r[MAXR];
	unsigned int flags[MAXR];
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
	/* Read back whole, the padding is zero (callers memcmp mappings). */
	if (sizeof(got) > offsetof(struct wpt_mapping, perm) + 4) {
		uint32_t pad;

		memcpy(&pad, (const char *)&got +
		       offsetof(struct wpt_mapping, perm) + 4, sizeof(pad));
		ck_assert_uint_eq(pad, 0);
	}
}

static void check_all(struct rangemap *rm, struct model *md)
{
	struct wpt_mapping got;
	struct rm_pos p;
	unsigned int i, j;
	bool ok;

	ck_assert_uint_eq(rm->nr, md->n);
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

static int by_iova(const void *a, const void *b)
{
	const struct wpt_mapping *x = a, *y = b;

	return x->iova < y->iova ? -1 : x->iova > y->iova;
}

/* Batches of random ranges (chunk words and tree ranges, one chunk after
 * another or far apart) inserted together land as one at a time would,
 * between removals one at a time. */
START_TEST(test_insert_batch)
{
	static struct model md;
	struct wpt_mapping b[40];
	struct rangemap rm;
	struct rm_pos p;
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
		while (md.n > MAXR / 2) {
			i = (unsigned int)rnd(md.n);
			ck_assert(rm_find(&rm, md.r[i].iova, &p));
			rm_remove(&rm, &p);
			md.r[i] = md.r[--md.n];
			qsort(md.r, md.n, sizeof(md.r[0]), by_iova);
		}
	}
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

static Suite *rangemap_suite(void)
{
	Suite *s = suite_create("rangemap");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_against_model);
	tcase_add_test(tc, test_chunk_fills_and_empties);
	tcase_add_test(tc, test_empties_and_refills);
	tcase_add_test(tc, test_insert_batch);
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
