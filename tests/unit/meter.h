/* SPDX-License-Identifier: MIT */
/*
 * The cost meter of tests that bound what one library call may cost: the
 * work it was charged (the domain's descs_visited: descriptors decoded,
 * uses visited, leaves changed, uses torn down), the peak heap growth
 * while it ran, and its CPU time (printed, never asserted).
 *
 * The heap: current and peak bytes allocated by the process.  Under ASan the allocator's
 * hooks report every malloc and free; otherwise the including program's
 * malloc and friends are defined here over glibc's __libc_* entry points,
 * which catches the library's (static) allocations and liburcu's too.
 * Include it from one file of a program (it defines malloc); call
 * heap_meter_init() first thing in main.
 */
#ifndef WPT_TEST_METER_H
#define WPT_TEST_METER_H

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <check.h>

#include "wpt.h"

static atomic_long heap_cur, heap_peak;

static void heap_add(long n)
{
	long cur = atomic_fetch_add(&heap_cur, n) + n;
	long peak = atomic_load(&heap_peak);

	while (cur > peak && !atomic_compare_exchange_weak(&heap_peak, &peak, cur))
		;
}

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define HEAP_METER "asan hooks"
size_t __sanitizer_get_allocated_size(const volatile void *p);
int __sanitizer_install_malloc_and_free_hooks(
	void (*malloc_hook)(const volatile void *, size_t),
	void (*free_hook)(const volatile void *));

static void asan_malloc_hook(const volatile void *p, size_t n)
{
	heap_add((long)n);
}

static void asan_free_hook(const volatile void *p)
{
	/* Called before the block goes: its size is still known. */
	heap_add(-(long)__sanitizer_get_allocated_size(p));
}

static void heap_meter_init(void)
{
	__sanitizer_install_malloc_and_free_hooks(asan_malloc_hook,
						  asan_free_hook);
}
#else
#define HEAP_METER "malloc wrapper"
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t m);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void __libc_free(void *p);

static void *counted(void *p)
{
	if (p)
		heap_add((long)malloc_usable_size(p));
	return p;
}

void *malloc(size_t n)
{
	return counted(__libc_malloc(n));
}

void *calloc(size_t n, size_t m)
{
	return counted(__libc_calloc(n, m));
}

void free(void *p)
{
	if (p)
		heap_add(-(long)malloc_usable_size(p));
	__libc_free(p);
}

void *realloc(void *p, size_t n)
{
	long old = p ? (long)malloc_usable_size(p) : 0;
	void *q = __libc_realloc(p, n);

	if (q || !n) {
		heap_add(-old);
		counted(q);
	}
	return q;
}

void *memalign(size_t align, size_t n)
{
	return counted(__libc_memalign(align, n));
}

void *aligned_alloc(size_t align, size_t n)
{
	return counted(__libc_memalign(align, n));
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p = counted(__libc_memalign(align, n));

	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

static void heap_meter_init(void)
{
}
#endif

/* ------------------------------------------------------- the meter */

static inline uint64_t cpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

struct meter {
	const char *name;
	struct wpt_domain *d;
	uint64_t cpu0, descs0;
	long heap0;
	/* results */
	uint64_t cpu_ns, descs;
	long heap;
};

static inline uint64_t dom_descs(struct wpt_domain *d)
{
	struct wpt_domain_stats st;

	ck_assert_int_eq(wpt_domain_stats(d, &st, sizeof(st)), 0);
	return st.descs_visited;
}

static inline void meter_start(struct meter *m, const char *name, struct wpt_domain *d)
{
	m->name = name;
	m->d = d;
	m->descs0 = dom_descs(d);
	m->heap0 = atomic_load(&heap_cur);
	atomic_store(&heap_peak, m->heap0);
	m->cpu0 = cpu_now_ns();
}

static inline void meter_stop(struct meter *m)
{
	m->cpu_ns = cpu_now_ns() - m->cpu0;
	m->heap = atomic_load(&heap_peak) - m->heap0;
	m->descs = dom_descs(m->d) - m->descs0;
}

#endif
