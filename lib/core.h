/* SPDX-License-Identifier: MIT */
/*
 * The engine's objects: the VM, its domains, the table pages it tracks and
 * their uses.  Each stage's functions are declared in its own header
 * (README.md in this folder has the map).
 *
 * Locking: vm->lock serialises every change to any of these objects and
 * every sink and backend call.  The one lock-free reader is the exit path,
 * which looks pages up in vm->pages (an RCU hash table, urcu-bp flavour, so
 * VMM threads need not register) to decide whether a store needs the lock
 * at all.  Page entries are freed through call_rcu.
 */
#ifndef WPT_CORE_H
#define WPT_CORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <bsd/sys/tree.h>
#include <urcu-bp.h>
#include <urcu/rculfhash.h>

#include "wpt.h"
#include "wpt_internal.h"
#include "fibhash.h"
#include "guestmem.h"
#include "pagepool.h"
#include "shadow.h"
#include "format/format.h"
#include "protect/protect.h"

struct wpt_table;
struct wpt_relax;

/*
 * One place a table is used: domain d reaches it at level, its entry 0
 * translating iova.  Within a domain (level, iova) names one position of
 * the tree, so it is a key: a table under two parents, at two levels or in
 * two domains has one use per place.
 */
struct wpt_table_use {
	RB_ENTRY(wpt_table_use) node;  /* in table->uses */
	LIST_ENTRY(wpt_table_use) link; /* in d->uses */
	struct wpt_table *table;
	struct wpt_domain *d;
	int level;
	uint64_t iova;
	uint32_t perm_mask; /* what ancestors' APTable leave to its leaves */
};
RB_HEAD(wpt_use_tree, wpt_table_use);
RB_PROTOTYPE(wpt_use_tree, wpt_table_use, node, wpt_use_cmp)

/*
 * A tracked table: the bytes at [gpa, gpa + size) as last seen (snap).
 * While any use belongs to a TRAP or HYBRID domain its pages are protected
 * and snap equals guest RAM between operations.
 */
struct wpt_table {
	uint64_t gpa;
	uint64_t size;
	uint64_t *snap;
	uint64_t *hva;
	struct wpt_use_tree uses;
	unsigned int nr_uses;
	unsigned int nr_trap_uses; /* uses by domains that protect */
	unsigned int pins;         /* held by an operation in progress */
	bool protected;
	bool on_recheck;
	bool on_stale;
	struct wpt_table *recheck_next;
	struct wpt_table *stale_next;
};

/*
 * The first entry of t in [i, last] whose RAM differs from its snapshot
 * (*now: what RAM holds there), or last + 1.  Eight entries a step, their
 * differences or'ed: an invalidation over a GiB compares 262,144 entries
 * to find the few that changed, and a branch per entry cost more than the
 * loads.  Relaxed loads, as everywhere RAM is read: a vCPU may be writing.
 */
static inline uint64_t table_next_changed(const struct wpt_table *t,
					  uint64_t i, uint64_t last,
					  uint64_t *now)
{
	unsigned int k;

	for (; i + 8 <= last + 1; i += 8) {
		uint64_t x = 0;

		for (k = 0; k < 8; k++)
			x |= guestmem_load64(&t->hva[i + k]) ^ t->snap[i + k];
		if (x)
			break;
	}
	for (; i <= last; i++) {
		*now = guestmem_load64(&t->hva[i]);
		if (*now != t->snap[i])
			return i;
	}
	return i;
}

/* A 4 KiB guest page that holds (part of) one or more tracked tables. */
struct wpt_page {
	struct cds_lfht_node node;
	uint64_t gpa;
	unsigned int nr_tables;
	unsigned int cap;
	struct wpt_table **tables; /* under vm->lock */
	unsigned int nr_protecting; /* tables here with nr_trap_uses > 0 */
	struct rcu_head rcu;
	/* tables while a page holds one table (nearly always): a store to
	 * it then reads no array of its own. */
	struct wpt_table *first[1];
};

struct wpt_domain {
	struct wpt_vm *vm;
	LIST_ENTRY(wpt_domain) link;
	const struct wpt_format_ops *fmt;
	struct wpt_pgtable_geo geo;
	enum wpt_mode mode;
	struct wpt_shadow *shadow;
	struct wpt_sink *sink;
	struct wpt_limits limits;
	bool has_root;
	uint64_t root_gpa;
	int fault;          /* 0 or -errno: see wpt_domain_error(); written
			     * under the lock with atomic stores, since that
			     * reads it without */
	bool touched;       /* changed in the current operation */
	bool doomed;        /* faulted in the current operation */
	struct wpt_domain *touched_next;
	LIST_HEAD(, wpt_table_use) uses;
	uint64_t nr_uses;
	uint64_t op_descs;  /* descriptors visited by the current walk */
	uint64_t write_seq; /* vm->op_seq of the last store counted here */
	struct wpt_domain_stats st;
};

/* WPT_UFFD_BLOCK: a thread kicked out of a store blocked on a protected
 * page that has yet to call wpt_vm_uffd_step_begin. */
struct uffd_pending {
	int tid;
	uint64_t gpa;
};

/* The threads blocked on protected pages (trap_uffd.c): at most one
 * fault per thread, under pending_lock (never the VM lock: serving a
 * fault must not wait for it, trap_uffd.c's uffd_fault says why). */
struct uffd_blocked {
	int (*kick)(void *opaque, int tid);
	void *kick_opaque;
	pthread_mutex_t pending_lock;
	struct uffd_pending *pending;
	unsigned int nr_pending, cap_pending;
	uint64_t faults, kicks; /* atomic */
};
void uffd_blocked_free(struct uffd_blocked *b);

/*
 * Whether trapped store number n is one the library times (wpt.h's
 * lib_ns; trap.c): one in 1 << LIB_NS_SAMPLE_BITS, the n whose multiple
 * of the golden ratio falls in the first 16th of the unit interval (a
 * Weyl sequence), not every 16th.  A workload of two stores an operation
 * (a map, then an unmap) had every 16th store fall on the same kind, and
 * lib_ns timed only maps, or only unmaps; this picks each residue of any
 * short period about as often.
 */
#define LIB_NS_SAMPLE_BITS 4

static inline bool lib_ns_sampled(uint64_t n)
{
	return fib_slot(n, LIB_NS_SAMPLE_BITS) == 0;
}

struct wpt_vm {
	pthread_mutex_t lock;
	struct wpt_guestmem mem;
	struct wpt_protect protect; /* ops NULL: no backend */
	struct wpt_limits limits;
	struct cds_lfht *pages;     /* page gpa -> struct wpt_page */
	/* pageindex_find's cache of struct wpt_page by frame (fibhash.h;
	 * under lock; detach clears an entry). */
	struct fib_cache page_cache;
	LIST_HEAD(, wpt_domain) domains;
	/* The current operation (under lock). */
	struct wpt_domain *touched;     /* domains to commit */
	struct wpt_table *recheck;      /* tables whose protection or life
					 * may change at the end */
	struct wpt_table *stale;        /* tables to diff at the end */
	uint64_t op_seq;                /* operations begun */
	wpt_log_fn log;
	void *log_opaque;
	struct wpt_vm_stats st;         /* under lock, but for: */
	uint64_t gap_accesses;          /* atomic: counted without the lock */
	struct uffd_blocked blocked;    /* a backend whose faults block */
	/* Re-cuts wait for these (recut.c); quiesce NULL: they do not. */
	struct wpt_quiesce_ops quiesce;
	void *quiesce_opaque;
	uint64_t quiesces;              /* atomic */
	struct wpt_relax *relax;        /* unsynced pages (relax.c) */
	/* 4 KiB snapshots and shadow chunk arrays (under lock). */
	struct pagepool pool;
};

#endif
