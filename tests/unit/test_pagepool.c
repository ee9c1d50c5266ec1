/* SPDX-License-Identifier: MIT */
/*
 * The block pool (lib/pagepool.h): blocks aligned, disjoint and kept
 * apart across three arenas; the first arena on 4 KiB pages and the later
 * ones advised for huge pages (read back from /proc/self/smaps); an arena
 * left empty unmapped unless it is the last; blocks freed through another
 * pool's user; fini unmapping what is still out.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pagepool.h"

#define ARENA (2u << 20)
#define PER_ARENA (ARENA / PAGEPOOL_BLOCK - 1) /* block 0: the header */
#define N (2 * PER_ARENA + 5)

static void *blk[N];

/* Whether [p, p + 4K) is mapped: msync says ENOMEM where it is not. */
static bool mapped(const void *p)
{
	uintptr_t page = (uintptr_t)p & ~(uintptr_t)4095;

	return msync((void *)page, 4096, MS_ASYNC) == 0 || errno != ENOMEM;
}

/* The VmFlags of the mapping holding p ("" if none is found): "hg" is
 * MADV_HUGEPAGE. */
static void vmflags_of(const void *p, char *out, size_t n)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false;

	ck_assert_ptr_nonnull(f);
	out[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(out, n, "%s", line + 8);
			break;
		}
	}
	fclose(f);
}

static bool advised_huge(const void *p)
{
	char flags[512];

	vmflags_of(p, flags, sizeof(flags));
	ck_assert_msg(flags[0], "no mapping holds %p", p);
	return strstr(flags, " hg") != NULL;
}

static uintptr_t arena_of(const void *p)
{
	return (uintptr_t)p & ~(uintptr_t)(ARENA - 1);
}

static void fill_all(struct pagepool *pp)
{
	unsigned int i;

	for (i = 0; i < N; i++) {
		blk[i] = pagepool_alloc(pp);
		ck_assert_ptr_nonnull(blk[i]);
		ck_assert_uint_eq((uintptr_t)blk[i] % PAGEPOOL_BLOCK, 0);
		/* Never an arena's header block. */
		ck_assert_uint_ne((uintptr_t)blk[i], arena_of(blk[i]));
		memset(blk[i], (int)(i * 7 + 1), PAGEPOOL_BLOCK);
	}
}

START_TEST(test_blocks_disjoint)
{
	struct pagepool pp;
	unsigned int i, k;

	pagepool_init(&pp);
	fill_all(&pp);
	ck_assert_uint_eq(pp.nr_arenas, 3);
	ck_assert_uint_eq(pp.blocks, N);
	/* Every block still holds its own pattern, end to end: none
	 * overlaps another, nor the arena's header. */
	for (i = 0; i < N; i++)
		for (k = 0; k < PAGEPOOL_BLOCK; k += 511)
			ck_assert_uint_eq(((uint8_t *)blk[i])[k],
					  (uint8_t)(i * 7 + 1));
	pagepool_fini(&pp);
	ck_assert_uint_eq(pp.nr_arenas, 0);
	ck_assert_uint_eq(pp.blocks, 0);
	for (i = 0; i < N; i += PER_ARENA / 3)
		ck_assert(!mapped(blk[i]));
}
END_TEST

START_TEST(test_first_arena_small_pages)
{
	struct pagepool pp;

	if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK)) {
		printf("SKIP test_first_arena_small_pages: this kernel has no "
		       "transparent huge pages, so madvise(MADV_HUGEPAGE) is "
		       "refused and no arena is advised\n");
		return;
	}
	pagepool_init(&pp);
	fill_all(&pp);
	/* The first block came from the first arena, the last from the
	 * third. */
	ck_assert(!advised_huge(blk[0]));
	ck_assert(advised_huge(blk[PER_ARENA]));
	ck_assert(advised_huge(blk[N - 1]));
	pagepool_fini(&pp);
}
END_TEST

START_TEST(test_empty_arena_unmapped)
{
	struct pagepool pp;
	void *again;
	unsigned int i;

	pagepool_init(&pp);
	fill_all(&pp);
	/* The second arena emptied, in an order of its own: unmapped, since
	 * the third has room. */
	for (i = 0; i < PER_ARENA; i++)
		pagepool_free(blk[PER_ARENA + (i * 37) % PER_ARENA]);
	ck_assert_uint_eq(pp.nr_arenas, 2);
	ck_assert_uint_eq(pp.blocks, N - PER_ARENA);
	ck_assert(!mapped(blk[PER_ARENA]));
	ck_assert(mapped(blk[0]) && mapped(blk[N - 1]));
	/* A block freed from the full first arena is the next one out. */
	pagepool_free(blk[100]);
	again = pagepool_alloc(&pp);
	ck_assert_ptr_eq(again, blk[100]);
	/* Everything freed: the last arena stays for the next table. */
	for (i = 0; i < PER_ARENA; i++)
		pagepool_free(blk[i]);
	for (i = 2 * PER_ARENA; i < N; i++)
		pagepool_free(blk[i]);
	ck_assert_uint_eq(pp.blocks, 0);
	ck_assert_uint_eq(pp.nr_arenas, 1);
	again = pagepool_alloc(&pp);
	ck_assert_ptr_nonnull(again);
	ck_assert_uint_eq(pp.nr_arenas, 1);
	pagepool_free(again);
	pagepool_fini(&pp);
}
END_TEST

/* A range map hands an array to its follower in another map: the block
 * goes back to the pool it came from, whoever frees it. */
START_TEST(test_free_finds_its_pool)
{
	struct pagepool a, b;
	void *x, *y;

	pagepool_init(&a);
	pagepool_init(&b);
	x = pagepool_alloc(&a);
	y = pagepool_alloc(&b);
	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_nonnull(y);
	ck_assert_uint_ne(arena_of(x), arena_of(y));
	pagepool_free(x);
	ck_assert_uint_eq(a.blocks, 0);
	ck_assert_uint_eq(b.blocks, 1);
	pagepool_free(NULL);
	ck_assert_uint_eq(b.blocks, 1);
	pagepool_free(y);
	ck_assert_uint_eq(b.blocks, 0);
	pagepool_fini(&a);
	pagepool_fini(&b);
}
END_TEST

static Suite *pagepool_suite(void)
{
	Suite *s = suite_create("pagepool");
	TCase *tc = tcase_create("pool");

	tcase_add_test(tc, test_blocks_disjoint);
	tcase_add_test(tc, test_first_arena_small_pages);
	tcase_add_test(tc, test_empty_arena_unmapped);
	tcase_add_test(tc, test_free_finds_its_pool);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pagepool_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
