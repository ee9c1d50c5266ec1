/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/queue.h>

#include "guestmem.h"
#include "pagepool.h"

/*
 * AddressSanitizer sees a slab as one mapping it knows nothing of: every
 * block not handed out is poisoned, so a use after pagepool_put (or of a
 * block never handed out) is still reported.
 */
#if defined(__SANITIZE_ADDRESS__)
#define WPT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WPT_ASAN 1
#endif
#endif
#ifdef WPT_ASAN
#include <sanitizer/asan_interface.h>
#define poison(p, len) ASAN_POISON_MEMORY_REGION((p), (len))
#define unpoison(p, len) ASAN_UNPOISON_MEMORY_REGION((p), (len))
#else
#define poison(p, len) do { } while (0)
#define unpoison(p, len) do { } while (0)
#endif

/* A slab's header, in its first block. */
struct pagepool_slab {
	LIST_ENTRY(pagepool_slab) link; /* in pp->partial or pp->full */
	void *free;          /* blocks given back, linked by their first word */
	unsigned int fresh;  /* blocks [fresh, PAGEPOOL_SLAB_BLOCKS) never
			      * handed out (the header is block 0) */
	unsigned int filled; /* blocks [1, filled) have their pages */
	unsigned int out;    /* blocks handed out */
};

void pagepool_init(struct pagepool *pp)
{
	*pp = (struct pagepool){ .slabs = 0 };
	LIST_INIT(&pp->partial);
	LIST_INIT(&pp->full);
	LIST_INIT(&pp->empty);
}

static struct pagepool_slab *slab_of(void *block)
{
	return (struct pagepool_slab *)((uintptr_t)block &
					~(PAGEPOOL_SLAB_ALIGN - 1));
}

/* What s holds in memory: its header and the blocks filled or used. */
static size_t slab_bytes(const struct pagepool_slab *s)
{
	return (size_t)s->filled * PAGEPOOL_STRIDE;
}

static char *block_at(struct pagepool_slab *s, unsigned int k)
{
	return (char *)s + (size_t)k * PAGEPOOL_STRIDE;
}

static bool slab_full(const struct pagepool_slab *s)
{
	return !s->free && s->fresh == PAGEPOOL_SLAB_BLOCKS;
}

static void slab_unmap(struct pagepool *pp, struct pagepool_slab *s)
{
	pp->slabs--;
	pp->bytes -= slab_bytes(s);
	unpoison(s, PAGEPOOL_SLAB_ALIGN);
	munmap(s, PAGEPOOL_SLAB_ALIGN);
}

/* A slab at a 2 MiB boundary (2 MiB more mapped, the ends cut off). */
static struct pagepool_slab *slab_map(struct pagepool *pp)
{
	char *p = mmap(NULL, 2 * PAGEPOOL_SLAB_ALIGN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t head;
	struct pagepool_slab *s;

	if (p == MAP_FAILED)
		return NULL;
	head = (size_t)(-(uintptr_t)p & (PAGEPOOL_SLAB_ALIGN - 1));
	if (head)
		munmap(p, head);
	munmap(p + head + PAGEPOOL_SLAB_ALIGN, PAGEPOOL_SLAB_ALIGN - head);
	s = (struct pagepool_slab *)(p + head);
	*s = (struct pagepool_slab){ .fresh = 1, .filled = 1 };
	poison(block_at(s, 1), PAGEPOOL_SLAB_ALIGN - PAGEPOOL_STRIDE);
	pp->slabs++;
	pp->bytes += slab_bytes(s);
	return s;
}

/* The slab the next block comes from: an empty one kept, else a new one. */
static struct pagepool_slab *slab_next(struct pagepool *pp)
{
	struct pagepool_slab *s = LIST_FIRST(&pp->empty);

	if (s) {
		LIST_REMOVE(s, link);
		pp->empty_bytes -= slab_bytes(s);
	} else if (!(s = slab_map(pp))) {
		return NULL;
	}
	LIST_INSERT_HEAD(&pp->partial, s, link);
	return s;
}

/*
 * Before s's next fresh block is handed out: once the pool is past its
 * first blocks, fill the next PAGEPOOL_FILL_BLOCKS pages in one system
 * call instead of a fault each (Linux 5.14 and later; an older kernel
 * refuses it and they fault as used).  A small VM's few blocks fault as
 * malloc's would: a fill costs a system call and more pages than it uses.
 */
static void slab_fill(struct pagepool *pp, struct pagepool_slab *s)
{
	unsigned int n = PAGEPOOL_SLAB_BLOCKS - s->fresh;
	uintptr_t from, to;

	if (pp->blocks_out < PAGEPOOL_FILL_AFTER)
		n = 1; /* the block itself, touched by its user */
	else if (n > PAGEPOOL_FILL_BLOCKS)
		n = PAGEPOOL_FILL_BLOCKS;
	if (n > 1) {
		/* The pages the n blocks lie on. */
		from = (uintptr_t)block_at(s, s->fresh) & WPT_PAGE_MASK;
		to = (uintptr_t)block_at(s, s->fresh + n) + WPT_PAGE_SIZE - 1;
		to &= WPT_PAGE_MASK;
		(void)madvise((void *)from, to - from, MADV_POPULATE_WRITE);
	}
	s->filled = s->fresh + n;
	pp->bytes += (size_t)n * PAGEPOOL_STRIDE;
}

void *pagepool_get(struct pagepool *pp)
{
	struct pagepool_slab *s = LIST_FIRST(&pp->partial);
	void *b;

	if (!s && !(s = slab_next(pp)))
		return NULL;
	if (s->free) {
		b = s->free;
		unpoison(b, PAGEPOOL_BLOCK);
		s->free = *(void **)b;
	} else {
		if (s->fresh >= s->filled)
			slab_fill(pp, s);
		b = block_at(s, s->fresh++);
		unpoison(b, PAGEPOOL_BLOCK);
	}
	s->out++;
	pp->blocks_out++;
	if (slab_full(s)) {
		LIST_REMOVE(s, link);
		LIST_INSERT_HEAD(&pp->full, s, link);
	}
	return b;
}

void pagepool_put(struct pagepool *pp, void *block)
{
	struct pagepool_slab *s;
	bool was_full;

	if (!block)
		return;
	s = slab_of(block);
	was_full = slab_full(s);
	*(void **)block = s->free;
	s->free = block;
	poison(block, PAGEPOOL_BLOCK);
	s->out--;
	pp->blocks_out--;
	if (s->out) {
		if (was_full) {
			LIST_REMOVE(s, link);
			LIST_INSERT_HEAD(&pp->partial, s, link);
		}
		return;
	}
	/* Empty: kept with its pages for the next walk (a domain set up
	 * again after a teardown, a guest rebooted) until pagepool_trim.
	 * Giving its pages back at once (MADV_FREE) made a walk after a
	 * teardown half again slower here, the kernel taking them back. */
	LIST_REMOVE(s, link);
	s->free = NULL;
	s->fresh = 1;
	LIST_INSERT_HEAD(&pp->empty, s, link);
	pp->empty_bytes += slab_bytes(s);
}

static void list_unmap(struct pagepool *pp, struct pagepool_list *l)
{
	struct pagepool_slab *s;

	while ((s = LIST_FIRST(l))) {
		LIST_REMOVE(s, link);
		slab_unmap(pp, s);
	}
}

void pagepool_trim(struct pagepool *pp)
{
	list_unmap(pp, &pp->empty);
	pp->empty_bytes = 0;
}

void pagepool_fini(struct pagepool *pp)
{
	list_unmap(pp, &pp->partial);
	list_unmap(pp, &pp->full);
	pagepool_trim(pp);
	pagepool_init(pp);
}
