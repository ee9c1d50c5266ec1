/* SPDX-License-Identifier: MIT */
/*
 * The VM's pool of 4 KiB blocks (lib/pagepool.c): blocks distinct, line
 * aligned, whole and a line apart in the cache's sets; given back and
 * handed out again; slabs kept when empty and unmapped by a trim; a
 * growing pool's pages filled ahead.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pagepool.h"

#define N 1500 /* blocks: three slabs (503 blocks each, past a header) */

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

START_TEST(test_blocks_distinct_and_whole)
{
	static void *b[N];
	struct pagepool pp;
	unsigned int i, k;

	pagepool_init(&pp);
	for (i = 0; i < N; i++) {
		b[i] = pagepool_get(&pp);
		ck_assert_ptr_nonnull(b[i]);
		ck_assert_uint_eq((uintptr_t)b[i] % 64, 0);
		memset(b[i], (int)(i & 0xff), PAGEPOOL_BLOCK);
	}
	/* No block's bytes reach another's. */
	for (i = 0; i < N; i++)
		for (k = 0; k < PAGEPOOL_BLOCK; k += 511)
			ck_assert_uint_eq(((unsigned char *)b[i])[k], i & 0xff);
	/* Consecutive blocks start in consecutive cache sets (64 lines of
	 * a 4 KiB way), not all in one. */
	for (i = 1; i < 64; i++)
		ck_assert_uint_eq(((uintptr_t)b[i] >> 6) % 64,
				  (((uintptr_t)b[0] >> 6) + i) % 64);
	qsort(b, N, sizeof(b[0]), cmp_ptr);
	for (i = 1; i < N; i++)
		ck_assert_uint_ge((uintptr_t)b[i] - (uintptr_t)b[i - 1],
				  PAGEPOOL_BLOCK);
	ck_assert_uint_eq(pp.blocks_out, N);
	ck_assert_uint_eq(pp.slabs, (N + PAGEPOOL_SLAB_BLOCKS - 2) /
					    (PAGEPOOL_SLAB_BLOCKS - 1));
	for (i = 0; i < N; i++)
		pagepool_put(&pp, b[i]);
	ck_assert_uint_eq(pp.blocks_out, 0);
	pagepool_put(&pp, NULL);
	pagepool_fini(&pp);
	ck_assert_uint_eq(pp.slabs, 0);
	ck_assert_uint_eq(pp.bytes, 0);
}
END_TEST

/* A block given back is the next handed out (still in the cache). */
START_TEST(test_put_then_get_same)
{
	struct pagepool pp;
	void *a, *b, *c;

	pagepool_init(&pp);
	a = pagepool_get(&pp);
	b = pagepool_get(&pp);
	pagepool_put(&pp, a);
	c = pagepool_get(&pp);
	ck_assert_ptr_eq(c, a);
	ck_assert_ptr_ne(c, b);
	pagepool_put(&pp, b);
	pagepool_put(&pp, c);
	pagepool_fini(&pp);
}
END_TEST

/* Emptied slabs stay, pages and all, and serve the next blocks before a
 * new slab is mapped; a trim unmaps only them. */
START_TEST(test_empty_kept_then_trimmed)
{
	static void *b[N];
	struct pagepool pp;
	uint64_t slabs, bytes;
	unsigned int i;
	void *keep;

	pagepool_init(&pp);
	for (i = 0; i < N; i++)
		b[i] = pagepool_get(&pp);
	slabs = pp.slabs;
	bytes = pp.bytes;
	for (i = 0; i < N; i++)
		pagepool_put(&pp, b[i]);
	ck_assert_uint_eq(pp.slabs, slabs);
	ck_assert_uint_eq(pp.empty_bytes, bytes);
	for (i = 0; i < N; i++)
		b[i] = pagepool_get(&pp);
	ck_assert_uint_eq(pp.slabs, slabs);
	ck_assert_uint_eq(pp.bytes, bytes);
	ck_assert_uint_eq(pp.empty_bytes, 0);
	/* One block out keeps its slab through a trim; the rest go. */
	keep = b[0];
	memset(keep, 0x5a, PAGEPOOL_BLOCK);
	for (i = 1; i < N; i++)
		pagepool_put(&pp, b[i]);
	pagepool_trim(&pp);
	ck_assert_uint_eq(pp.slabs, 1);
	ck_assert_uint_eq(pp.empty_bytes, 0);
	ck_assert_uint_eq(((unsigned char *)keep)[PAGEPOOL_BLOCK - 1], 0x5a);
	pagepool_put(&pp, keep);
	pagepool_trim(&pp);
	ck_assert_uint_eq(pp.slabs, 0);
	ck_assert_uint_eq(pp.bytes, 0);
	ck_assert_ptr_nonnull(keep = pagepool_get(&pp));
	pagepool_put(&pp, keep);
	pagepool_fini(&pp);
}
END_TEST

/* Past its first PAGEPOOL_FILL_AFTER blocks the pool has the kernel
 * fill the next PAGEPOOL_FILL_BLOCKS pages at once: resident before any
 * is touched. */
START_TEST(test_fill_ahead)
{
	const unsigned int n = PAGEPOOL_FILL_AFTER + 1;
	const uintptr_t page = 4096;
	unsigned char vec[2 * PAGEPOOL_FILL_BLOCKS];
	static void *b[PAGEPOOL_FILL_AFTER + 1];
	struct pagepool pp;
	uintptr_t from, to;
	unsigned int i;

	ck_assert_uint_eq(sysconf(_SC_PAGESIZE), page);
	pagepool_init(&pp);
	for (i = 0; i < n; i++)
		b[i] = pagepool_get(&pp);
	/* The header, one block each below the mark, then a fill. */
	ck_assert_uint_eq(pp.bytes, (uint64_t)(1 + PAGEPOOL_FILL_AFTER +
					       PAGEPOOL_FILL_BLOCKS) *
					    PAGEPOOL_STRIDE);
	/* Every page of the fill's blocks, from the last handed out on. */
	from = (uintptr_t)b[n - 1] & ~(page - 1);
	to = ((uintptr_t)b[n - 1] +
	      (PAGEPOOL_FILL_BLOCKS - 1) * PAGEPOOL_STRIDE + PAGEPOOL_BLOCK +
	      page - 1) & ~(page - 1);
	ck_assert_uint_le((to - from) / page, sizeof(vec));
	ck_assert_int_eq(mincore((void *)from, to - from, vec), 0);
	for (i = 0; i < (to - from) / page; i++)
		ck_assert_msg(vec[i] & 1, "page %u of the fill not resident",
			      i);
	for (i = 0; i < n; i++)
		pagepool_put(&pp, b[i]);
	pagepool_fini(&pp);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("pagepool");
	TCase *tc = tcase_create("pagepool");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_blocks_distinct_and_whole);
	tcase_add_test(tc, test_put_then_get_same);
	tcase_add_test(tc, test_empty_kept_then_trimmed);
	tcase_add_test(tc, test_fill_ahead);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
