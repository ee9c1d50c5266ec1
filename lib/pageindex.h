/* SPDX-License-Identifier: MIT */
/*
 * The page index: guest page GPA -> the tracked tables on that page.  The
 * one place the exit path asks "is this store ours?", so it is an RCU hash
 * table (urcu-bp flavour: VMM threads need not register) read without the
 * VM lock; every change happens under the lock, and entries are freed
 * through call_rcu.
 */
#ifndef WPT_PAGEINDEX_H
#define WPT_PAGEINDEX_H

#include <stdint.h>

struct wpt_vm;
struct wpt_page;
struct wpt_table;

struct wpt_guestmem;

/* The hash table's buckets for guest RAM mem: one per 2 MiB of it (the
 * last-level tables of all of it mapped page by page with the 4K
 * granule), a power of two within [MIN, MAX] (16 bytes each: 1 MiB at
 * most).  pageindex_init sizes the VM's table by it, so vm->mem is
 * filled first. */
#define PAGEINDEX_RAM_PER_BUCKET_SHIFT 21
#define PAGEINDEX_MIN_BUCKETS 64ul
#define PAGEINDEX_MAX_BUCKETS (1ul << 16)
unsigned long pageindex_buckets(const struct wpt_guestmem *mem);
int pageindex_init(struct wpt_vm *vm);
/* The index must be empty (every table went with its domain). */
void pageindex_fini(struct wpt_vm *vm);

/*
 * The tracked page at page_gpa, or NULL.  Takes its own RCU read section:
 * under the VM lock the entry stays valid afterwards; without the lock
 * only its presence means anything.
 */
struct wpt_page *pageindex_lookup(struct wpt_vm *vm, uint64_t page_gpa);
/* The same under the VM lock: a small cache of pages found lately is
 * looked at first, so the exit path's lookup of a hot table page costs a
 * compare, not an RCU read section and a hash chain. */
struct wpt_page *pageindex_find(struct wpt_vm *vm, uint64_t page_gpa);

/* Add table t to the page at gpa (creating and publishing the entry) or
 * take it off (freeing the entry after a grace period when it empties).
 * Under the VM lock.  attach: 0 or -ENOMEM. */
int pageindex_attach(struct wpt_vm *vm, uint64_t gpa, struct wpt_table *t);
void pageindex_detach(struct wpt_vm *vm, uint64_t gpa, struct wpt_table *t);

/* Call fn for every tracked page until it returns nonzero (returned). */
int pageindex_foreach(struct wpt_vm *vm,
		      int (*fn)(void *opaque, struct wpt_page *pg),
		      void *opaque);

#endif
