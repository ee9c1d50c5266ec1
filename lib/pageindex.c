/* SPDX-License-Identifier: MIT */
/*
 * The page index (pageindex.h): an RCU hash table of the guest pages that
 * hold tracked tables.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "pageindex.h"

static uint64_t page_hash(uint64_t gpa)
{
	/* Fibonacci hashing of the frame number: table pages are often
	 * consecutive frames, which this spreads over the buckets. */
	return (gpa >> WPT_PAGE_SHIFT) * FIB_MULT;
}

/*
 * ThreadSanitizer cannot see an RCU grace period (liburcu is not built with
 * it), so it would take every page freed by call_rcu for a race with the
 * lock-free lookups that read it earlier, and with the locked writes before
 * call_rcu.  Tell it what the grace period guarantees instead of silencing
 * it: every lookup finished so far, and everything the thread calling
 * call_rcu did, happen before the free.  A page still read after that (a
 * lookup whose result outlives its read-side section) is still reported.
 */
#if defined(__SANITIZE_THREAD__)
#define WPT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WPT_TSAN 1
#endif
#endif
#ifdef WPT_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
static char rcu_grace; /* only a TSan sync object: holds no state */
#define tsan_rcu_reader_done() __tsan_release(&rcu_grace)
#define tsan_rcu_free() __tsan_acquire(&rcu_grace)
/* Likewise cds_lfht_add's publication (a full-barrier cmpxchg) and the
 * lookup's dependent load: what was written before the add is seen. */
#define tsan_rcu_publish(pg) __tsan_release(pg)
#define tsan_rcu_deref(pg) __tsan_acquire((void *)(pg))
#else
#define tsan_rcu_reader_done() do { } while (0)
#define tsan_rcu_free() do { } while (0)
#define tsan_rcu_publish(pg) do { } while (0)
#define tsan_rcu_deref(pg) do { } while (0)
#endif

unsigned long pageindex_buckets(const struct wpt_guestmem *mem)
{
	uint64_t ram = 0, want;
	unsigned long n = PAGEINDEX_MIN_BUCKETS;
	unsigned int i;

	for (i = 0; i < mem->nr; i++)
		ram += mem->regions[i].size;
	want = (ram >> PAGEINDEX_RAM_PER_BUCKET_SHIFT) +
	       !!(ram & ((1ull << PAGEINDEX_RAM_PER_BUCKET_SHIFT) - 1));
	while (n < want && n < PAGEINDEX_MAX_BUCKETS)
		n <<= 1;
	return n;
}

/*
 * Sized for the guest's RAM from the start, and never shrunk below that:
 * liburcu grows a table in its own worker, a few grace periods a
 * doubling, and a set_root adding tables as fast as it walks outran it.
 * Created with 64 buckets (and 64 the least it may shrink to again), a
 * domain mapping 64 GiB of 4K pages (33,000 tables) read chains hundreds
 * long: a page lookup cost 0.6-8 us against 0.2 sized so (microbench,
 * 16M pages: set_root again 29.7 -> 21.3 ns a descriptor, a block split
 * 68.5 -> 18.9).  Auto-resize stays for a guest that puts more tables in
 * its RAM than that.
 */
int pageindex_init(struct wpt_vm *vm)
{
	unsigned long n = pageindex_buckets(&vm->mem);

	vm->pages = cds_lfht_new(n, n, 0,
				 CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
				 NULL);
	return vm->pages ? 0 : -ENOMEM;
}

void pageindex_fini(struct wpt_vm *vm)
{
	cds_lfht_destroy(vm->pages, NULL);
	/* Page entries are freed by call_rcu: wait for them. */
	rcu_barrier();
}

static int page_match(struct cds_lfht_node *node, const void *key)
{
	const struct wpt_page *pg = caa_container_of(node, struct wpt_page, node);

	tsan_rcu_deref(pg);
	return pg->gpa == *(const uint64_t *)key;
}

struct wpt_page *pageindex_lookup(struct wpt_vm *vm, uint64_t page_gpa)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	rcu_read_lock();
	cds_lfht_lookup(vm->pages, page_hash(page_gpa), page_match, &page_gpa,
			&it);
	node = cds_lfht_iter_get_node(&it);
	tsan_rcu_reader_done();
	rcu_read_unlock();
	return node ? caa_container_of(node, struct wpt_page, node) : NULL;
}

struct wpt_page *pageindex_find(struct wpt_vm *vm, uint64_t page_gpa)
{
	struct fib_cache *cache = &vm->page_cache;
	unsigned int i = fib_cache_set(page_gpa >> WPT_PAGE_SHIFT);
	struct wpt_page *pg = cache->way[0][i];

	if (pg && pg->gpa == page_gpa)
		return pg;
	pg = cache->way[1][i];
	if (!pg || pg->gpa != page_gpa)
		pg = pageindex_lookup(vm, page_gpa);
	if (pg)
		fib_cache_put(cache, i, pg);
	return pg;
}

static void page_free_rcu(struct rcu_head *head)
{
	struct wpt_page *pg = caa_container_of(head, struct wpt_page, rcu);

	tsan_rcu_free();
	if (pg->tables != pg->first)
		free(pg->tables);
	free(pg);
}

/* Room for one more table: the inline slot first, then an array. */
static int page_grow(struct wpt_page *pg)
{
	unsigned int cap = pg->cap ? pg->cap * 2 : 1;
	struct wpt_table **n;

	if (cap == 1) {
		n = pg->first;
	} else {
		n = malloc(cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		memcpy(n, pg->tables, pg->nr_tables * sizeof(*n));
		if (pg->tables != pg->first)
			free(pg->tables);
	}
	pg->tables = n;
	pg->cap = cap;
	return 0;
}

int pageindex_attach(struct wpt_vm *vm, uint64_t gpa, struct wpt_table *t)
{
	struct wpt_page *pg = pageindex_lookup(vm, gpa);

	if (!pg) {
		pg = calloc(1, sizeof(*pg));
		if (!pg)
			return -ENOMEM;
		pg->gpa = gpa;
		cds_lfht_node_init(&pg->node);
	}
	if (pg->nr_tables == pg->cap && page_grow(pg)) {
		if (!pg->nr_tables)
			page_free_rcu(&pg->rcu);
		return -ENOMEM;
	}
	pg->tables[pg->nr_tables++] = t;
	if (pg->nr_tables == 1) {
		/* Published before the table is protected or read, so a store
		 * that races with tracking finds it (see trap.c). */
		rcu_read_lock();
		tsan_rcu_publish(pg);
		cds_lfht_add(vm->pages, page_hash(gpa), &pg->node);
		rcu_read_unlock();
	}
	return 0;
}

void pageindex_detach(struct wpt_vm *vm, uint64_t gpa, struct wpt_table *t)
{
	struct wpt_page *pg = pageindex_lookup(vm, gpa);
	unsigned int i;

	if (!pg)
		return;
	for (i = 0; i < pg->nr_tables; i++) {
		if (pg->tables[i] == t) {
			pg->tables[i] = pg->tables[--pg->nr_tables];
			break;
		}
	}
	if (pg->nr_tables)
		return;
	fib_cache_drop(&vm->page_cache, fib_cache_set(gpa >> WPT_PAGE_SHIFT), pg);
	rcu_read_lock();
	cds_lfht_del(vm->pages, &pg->node);
	rcu_read_unlock();
	tsan_rcu_reader_done(); /* this thread's writes to pg, too */
	call_rcu(&pg->rcu, page_free_rcu);
}

int pageindex_foreach(struct wpt_vm *vm,
		      int (*fn)(void *opaque, struct wpt_page *pg),
		      void *opaque)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;
	int ret = 0;

	rcu_read_lock();
	/* Not cds_lfht_for_each_entry: it computes container_of(NULL) when
	 * the walk ends, undefined behaviour UBSan reports. */
	cds_lfht_first(vm->pages, &it);
	for (; !ret && (n = cds_lfht_iter_get_node(&it));
	     cds_lfht_next(vm->pages, &it))
		ret = fn(opaque, caa_container_of(n, struct wpt_page, node));
	rcu_read_unlock();
	return ret;
}
