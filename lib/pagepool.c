/* SPDX-License-Identifier: MIT */
/*
 * The pool of 4 KiB blocks (pagepool.h).
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

#include "pagepool.h"

#if defined(__SANITIZE_ADDRESS__)
#define PP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PP_ASAN 1
#endif
#endif
#ifdef PP_ASAN
#include <sanitizer/asan_interface.h>
/* A freed block is poisoned as free()d memory would be: a use after free
 * of a snapshot or a chunk array still reports. */
#define pp_poison(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define pp_unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define pp_poison(p, n) ((void)(p), (void)(n))
#define pp_unpoison(p, n) ((void)(p), (void)(n))
#endif

#define PP_ARENA (2u << 20) /* an x86-64 and arm64 (4K granule) huge page */
#define PP_BLOCKS (PP_ARENA / PAGEPOOL_BLOCK)

/* Block 0 of its arena. */
struct pp_arena {
	struct pagepool *pool;
	struct pp_arena *next, **pprev; /* in pool->partial or pool->full */
	unsigned int nr;                /* blocks handed out */
	uint64_t used[PP_BLOCKS / 64];  /* bit b: block b handed out (0:
					 * this header, always) */
};

static void arena_link(struct pp_arena *a, struct pp_arena **head)
{
	a->next = *head;
	if (a->next)
		a->next->pprev = &a->next;
	a->pprev = head;
	*head = a;
}

static void arena_unlink(struct pp_arena *a)
{
	*a->pprev = a->next;
	if (a->next)
		a->next->pprev = a->pprev;
}

void pagepool_init(struct pagepool *pp)
{
	*pp = (struct pagepool){ .partial = NULL };
}

/* A fresh arena, aligned to its size (twice that mapped, the ends cut
 * off): NULL if mmap fails. */
static struct pp_arena *arena_new(struct pagepool *pp)
{
	uint8_t *raw = mmap(NULL, 2 * PP_ARENA, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t base;
	struct pp_arena *a;

	if (raw == MAP_FAILED)
		return NULL;
	base = ((uintptr_t)raw + PP_ARENA - 1) & ~(uintptr_t)(PP_ARENA - 1);
	if (base > (uintptr_t)raw)
		munmap(raw, base - (uintptr_t)raw);
	munmap((void *)(base + PP_ARENA), (uintptr_t)raw + PP_ARENA - base);
	/* Advice only: without THP (or with it off) the arena is 4 KiB
	 * pages, as malloc's would be.  The first arena stays so anyway. */
	if (pp->nr_arenas)
		(void)madvise((void *)base, PP_ARENA, MADV_HUGEPAGE);
	a = (struct pp_arena *)base;
	*a = (struct pp_arena){ .pool = pp, .used = { 1 } };
	pp_poison((uint8_t *)base + PAGEPOOL_BLOCK, PP_ARENA - PAGEPOOL_BLOCK);
	pp->nr_arenas++;
	arena_link(a, &pp->partial);
	return a;
}

static void arena_free(struct pp_arena *a)
{
	struct pagepool *pp = a->pool;

	arena_unlink(a);
	pp->nr_arenas--;
	/* Poison must not outlive the mapping: the next mmap may reuse it. */
	pp_unpoison(a, PP_ARENA);
	munmap(a, PP_ARENA);
}

void *pagepool_alloc(struct pagepool *pp)
{
	struct pp_arena *a = pp->partial ? pp->partial : arena_new(pp);
	unsigned int w = 0;
	uint8_t *block;

	if (!a)
		return NULL;
	while (!~a->used[w])
		w++;
	w = w * 64 + (unsigned int)__builtin_ctzll(~a->used[w]);
	a->used[w / 64] |= 1ull << (w % 64);
	if (++a->nr == PP_BLOCKS - 1) {
		arena_unlink(a);
		arena_link(a, &pp->full);
	}
	pp->blocks++;
	block = (uint8_t *)a + (size_t)w * PAGEPOOL_BLOCK;
	pp_unpoison(block, PAGEPOOL_BLOCK);
	return block;
}

void pagepool_free(void *block)
{
	uintptr_t base = (uintptr_t)block & ~(uintptr_t)(PP_ARENA - 1);
	struct pp_arena *a = (struct pp_arena *)base;
	unsigned int b = (unsigned int)(((uintptr_t)block - base) /
					PAGEPOOL_BLOCK);
	struct pagepool *pp;

	if (!block)
		return;
	pp = a->pool;
	pp_poison(block, PAGEPOOL_BLOCK);
	a->used[b / 64] &= ~(1ull << (b % 64));
	pp->blocks--;
	if (a->nr-- == PP_BLOCKS - 1) {
		arena_unlink(a);
		arena_link(a, &pp->partial);
	}
	/* Empty: unmapped if another arena has room, so that a VM that
	 * shrank gives its memory back and one at an arena's edge does
	 * not map and unmap one on every table. */
	if (!a->nr && (pp->partial != a || a->next))
		arena_free(a);
}

void pagepool_fini(struct pagepool *pp)
{
	while (pp->partial)
		arena_free(pp->partial);
	while (pp->full)
		arena_free(pp->full);
	pp->blocks = 0;
}
