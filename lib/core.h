/* SPDX-License-Identifier: MIT */
/*
 * The engine's objects: the VM, its domains, the table pages it tracks and
 * their uses.  Shared by vm.c (API, exit path), domain.c (domain API),
 * wp_tracker.c (tracking and diffing) and ptwalk.c (read-only walks).
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
#include "guestmem.h"
#include "shadow.h"
#include "format/format.h"
#include "protect/protect.h"

struct wpt_table;

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
	struct wpt_table *recheck_next;
};

/* A 4 KiB guest page that holds (part of) one or more tracked tables. */
struct wpt_page {
	struct cds_lfht_node node;
	uint64_t gpa;
	unsigned int nr_tables;
	unsigned int cap;
	struct wpt_table **tables; /* under vm->lock */
	unsigned int nr_protecting; /* tables here with nr_trap_uses > 0 */
	struct rcu_head rcu;
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

/* The userfaultfd backend's side of the VM (uffd_fault.c). */
struct uffd_state {
	void *be;                 /* the backend: lift, fd, read */
	bool block;               /* WPT_UFFD_BLOCK, else WPT_UFFD_SIGBUS */
	int (*kick)(void *opaque, int tid);
	void *kick_opaque;
	/* BLOCK, under the VM lock: at most one per thread */
	struct uffd_pending *pending;
	unsigned int nr_pending, cap_pending;
	uint64_t faults, kicks;
	/* Pages a VMM thread's SIGBUS lifted, as gpa + 1 (0: free slot):
	 * claimed lock-free by the handler, cleared under the VM lock. */
	uint64_t lifted[WPT_UFFD_MAX_LIFTED];
	uint64_t lifts;           /* atomic */
};

struct wpt_vm {
	pthread_mutex_t lock;
	struct wpt_guestmem mem;
	struct wpt_protect protect; /* ops NULL: no backend */
	struct wpt_limits limits;
	struct cds_lfht *pages;     /* page gpa -> struct wpt_page */
	LIST_HEAD(, wpt_domain) domains;
	/* The current operation (under lock). */
	struct wpt_domain *touched;     /* domains to commit */
	struct wpt_table *recheck;      /* tables whose protection or life
					 * may change at the end */
	uint64_t op_seq;                /* operations begun */
	wpt_log_fn log;
	void *log_opaque;
	struct wpt_vm_stats st;         /* under lock, but for: */
	uint64_t gap_accesses;          /* atomic: counted without the lock */
	struct uffd_state *uffd;        /* the userfaultfd backend, or NULL */
};

/* ---- vm.c: one page made writable for a single step (under lock) ---- */

/* 1 opened (a protected table page), 0 nothing to open, or -errno. */
int vm_step_open_locked(struct wpt_vm *vm, uint64_t page);
/* Protect it again if still wanted, then diff it: 0 or -errno. */
int vm_step_close_locked(struct wpt_vm *vm, uint64_t page);
/* The tracked page at page_gpa, or NULL.  Under the lock the entry stays
 * valid after the RCU read section; without it, only its presence means
 * anything. */
struct wpt_page *vm_page_lookup(struct wpt_vm *vm, uint64_t page_gpa);
/* Diff [gpa, gpa + len) (inside one page) if it is tracked: 0 or the
 * first sink error. */
int vm_page_rescan(struct wpt_vm *vm, uint64_t gpa, uint64_t len);
/* Protecting a table page again failed: fault every domain that counts on
 * its stores trapping (pg may be NULL). */
void vm_fault_page(struct wpt_vm *vm, struct wpt_page *pg, int err);

/* ---- uffd_fault.c: the userfaultfd backend's faults ---- */

int uffd_state_new(struct wpt_vm *vm, const struct wpt_vm_cfg *cfg);
void uffd_state_free(struct wpt_vm *vm);
/* Protect again (if still wanted) and diff the pages lifted for VMM
 * threads inside [gpa, gpa + len): the VMM reported its write there.
 * Under lock; 0 or the first error (a protect that failed faults the
 * domains trapping there). */
int uffd_close_range(struct wpt_vm *vm, uint64_t gpa, uint64_t len);
/* Lock-free: does a lifted page lie inside [gpa, gpa + len)? */
bool uffd_lifted_in(struct wpt_vm *vm, uint64_t gpa, uint64_t len);

/* Fill zero limits from dflt (NULL: the library's defaults). */
void wpt_limits_fill(struct wpt_limits *lim, const struct wpt_limits *dflt);

/* ---- wp_tracker.c: tracking, diffing (all under vm->lock) ---- */

/* Start and end one operation (a store, an invalidation, a root change):
 * the end commits every touched domain's shadow, tears down domains that
 * faulted, and unprotects or frees tables no longer used.  Returns the
 * first sink error. */
void tracker_op_begin(struct wpt_vm *vm);
int tracker_op_end(struct wpt_vm *vm);

/* Add the use of the table at gpa found at (d, level, iova) and map what it
 * maps.  Errors fault d (recorded, torn down at op end); returns d's fault. */
int tracker_use_add(struct wpt_domain *d, int level, uint64_t iova,
		    uint64_t gpa, uint32_t perm_mask);

/* Re-read [gpa, gpa + len) of a tracked page and apply every descriptor
 * that changed to every use of its tables. */
void tracker_page_changed(struct wpt_vm *vm, struct wpt_page *pg,
			  uint64_t gpa, uint64_t len);

/* INVAL mode: diff the descriptors translating [lo, hi] (inclusive) from
 * the domain's root against the snapshot and apply what changed. */
void tracker_resync_range(struct wpt_domain *d, uint64_t lo, uint64_t hi);

/* Map / unmap what entry idx of use u says (desc): leaves go to the
 * shadow, tables become uses of their own. */
void tracker_entry_add(struct wpt_table_use *u, uint64_t idx, uint64_t desc);
void tracker_entry_remove(struct wpt_table_use *u, uint64_t idx,
			  uint64_t desc);

/* Charge n visited descriptors to d's current walk; false (and d faulted)
 * past its limit. */
bool tracker_charge(struct wpt_domain *d, uint64_t n);

/* Look at t again at the end of the operation: unprotect it if no use
 * traps, free it if nothing uses it (and nothing pins it). */
void tracker_table_recheck(struct wpt_vm *vm, struct wpt_table *t);

/* Diff all of a table against guest RAM and apply what changed. */
void tracker_table_resync(struct wpt_vm *vm, struct wpt_table *t);

/* Remove the use of d's root and everything under it (root switch). */
void tracker_root_remove(struct wpt_domain *d);

/* Remove all of d's uses and mappings (fault, clear_root, free). */
int tracker_drop_domain(struct wpt_domain *d);

/* Find a tracked page (caller holds the lock or an RCU read lock). */
struct wpt_page *tracker_page_lookup(struct wpt_vm *vm, uint64_t page_gpa);

/* Find a table of that exact placement, or NULL. */
struct wpt_table *tracker_table_lookup(struct wpt_vm *vm, uint64_t gpa,
				       uint64_t size);
struct wpt_table_use *tracker_use_lookup(struct wpt_table *t,
					 struct wpt_domain *d, int level,
					 uint64_t iova);

/* Record a fault on d (first one wins) and log it. */
void tracker_fault(struct wpt_domain *d, int err, const char *why);

/* ---- ptwalk.c: read-only walks over guest RAM ---- */

struct ptwalk_cb {
	/* A table reached at (level, iova) that lies in RAM. */
	int (*table)(void *opaque, int level, uint64_t iova, uint64_t gpa,
		     uint64_t size, uint32_t perm_mask);
	/* A leaf in RAM with perm (after ancestors' masks) != 0. */
	int (*leaf)(void *opaque, uint64_t iova, uint64_t gpa, uint64_t size,
		    uint32_t perm);
	void *opaque;
};

/* Walk the tree at root over guest RAM, calling cb for every table and
 * mapped leaf, in IOVA order.  Visits at most max_descs descriptors
 * (-E2BIG beyond).  A callback's nonzero return stops and is returned. */
int ptwalk_tree(const struct wpt_format_ops *fmt,
		const struct wpt_pgtable_geo *geo,
		const struct wpt_guestmem *mem, uint64_t root_gpa,
		uint64_t max_descs, const struct ptwalk_cb *cb);

/* The IOVA the entry idx of a table at (level, base) translates first. */
static inline uint64_t ptwalk_entry_iova(const struct wpt_pgtable_geo *geo,
					 int level, uint64_t base, uint64_t idx)
{
	return base + (idx << geo_level_shift(geo, level));
}

/* Whether a decoded leaf at gpa may be mapped: in one RAM region.  Counts
 * the refusal on d. */
bool tracker_leaf_in_ram(const struct wpt_guestmem *mem, uint64_t gpa,
			 uint64_t size);

#endif
