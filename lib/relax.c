/* SPDX-License-Identifier: MIT */
/*
 * Relaxed mode (relax.h).  The idea is KVM's unsync shadow pages (and
 * gHyvi's for GPU tables): a page the guest keeps writing is cheaper to
 * let go and catch up with at the next point where the result can be
 * observed than to trap store by store.
 *
 * A page is unsynced through protect_step_begin (apply_page_open): the
 * backend makes it writable while the tracker keeps counting it
 * protected, exactly as during a single step, so the tracker's books and
 * the backend's contract stay as they are.  Closing it is a step's end:
 * protect first, then diff, so a store racing the close is in RAM for the
 * diff or traps after it.  A page that stays writable across a sync is
 * diffed while writable: the diff reads each descriptor once and takes
 * exactly that value into the snapshot, so a store landing after the read
 * differs from the snapshot at the next sync point and none is lost.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply.h"
#include "diff.h"
#include "op.h"
#include "pageindex.h"
#include "relax.h"

/* Trapped stores remembered to spot a burst: a leaf table being filled
 * hits one page over and over; eight covers a driver that alternates
 * between a few tables (a map that crosses into the next table). */
#define RELAX_RECENT 8
#define RELAX_MAX_BELLS 64
#define RELAX_DEFAULT_PAGES 64
#define RELAX_DEFAULT_BURST 2
/* In an unsynced page's entry: let go since the last sync point.  Its
 * trapped stores were diffed already, so the page may read as its
 * snapshot; it is still being written and stays writable at its first
 * sync point (a map and unmap stream: let go at the unmap, synced at its
 * invalidation, written again by the next map). */
#define RELAX_FRESH 1ull

struct relax_recent {
	uint64_t page;
	uint32_t hits;
};

struct relax_bell {
	uint64_t gpa, size;
};

struct wpt_relax {
	struct wpt_relax_cfg cfg;        /* defaults filled; bounds read
					  * without the lock (atomics) */
	unsigned int nr_domains;         /* relaxed domains */
	uint64_t *pages;                 /* unsynced (| RELAX_FRESH), at most
					  * cfg.max_pages; as many again after
					  * them: the pages a sync closes */
	unsigned int nr;
	unsigned int cap;                /* pages has 2 * cap entries */
	unsigned int nr_pending;         /* atomic copy of nr for the exit path */
	struct relax_recent recent[RELAX_RECENT];
	unsigned int recent_next;
	struct relax_bell bells[RELAX_MAX_BELLS];
	unsigned int nr_bells;
	uint64_t exits;                  /* atomic: exits since the first page
					  * of this round went unsynced */
	uint64_t since_ns;               /* atomic: when it did */
};

static uint64_t relax_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void cfg_fill(struct wpt_relax_cfg *c)
{
	if (!c->max_pages)
		c->max_pages = RELAX_DEFAULT_PAGES;
	if (!c->burst)
		c->burst = RELAX_DEFAULT_BURST;
}

int relax_new(struct wpt_vm *vm)
{
	struct wpt_relax *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->cfg.size = sizeof(r->cfg);
	cfg_fill(&r->cfg);
	r->cap = r->cfg.max_pages;
	r->pages = calloc(2 * r->cap, sizeof(*r->pages));
	if (!r->pages) {
		free(r);
		return -ENOMEM;
	}
	vm->relax = r;
	return 0;
}

void relax_free(struct wpt_vm *vm)
{
	if (!vm->relax)
		return;
	free(vm->relax->pages);
	free(vm->relax);
	vm->relax = NULL;
}

void relax_count_domain(struct wpt_vm *vm, int delta)
{
	vm->relax->nr_domains += delta;
}

bool relax_pending(struct wpt_vm *vm)
{
	return __atomic_load_n(&vm->relax->nr_pending, __ATOMIC_SEQ_CST) != 0;
}

/* ------------------------------------------------------ leaving a page */

/* Every use of every table on pg belongs to a live relaxed domain, below
 * its root (a root is written rarely, and a root switch must find it
 * protected). */
static bool page_relaxable(const struct wpt_page *pg)
{
	unsigned int i;

	if (!pg || !pg->nr_protecting)
		return false;
	for (i = 0; i < pg->nr_tables; i++) {
		struct wpt_table_use *u;

		RB_FOREACH(u, wpt_use_tree, &pg->tables[i]->uses)
			if (u->d->mode != WPT_MODE_RELAXED || u->d->doomed ||
			    u->level == u->d->geo.start_level)
				return false;
	}
	return true;
}

/* Count a trapped store to page among the recent ones: its hits. */
static uint32_t recent_hit(struct wpt_relax *r, uint64_t page)
{
	struct relax_recent *e;
	unsigned int i;

	for (i = 0; i < RELAX_RECENT; i++)
		if (r->recent[i].hits && r->recent[i].page == page)
			return ++r->recent[i].hits;
	e = &r->recent[r->recent_next];
	r->recent_next = (r->recent_next + 1) % RELAX_RECENT;
	*e = (struct relax_recent){ .page = page, .hits = 1 };
	return 1;
}

static void recent_forget(struct wpt_relax *r, uint64_t page)
{
	unsigned int i;

	for (i = 0; i < RELAX_RECENT; i++)
		if (r->recent[i].page == page)
			r->recent[i].hits = 0;
}

static bool is_unsynced(const struct wpt_relax *r, uint64_t page)
{
	unsigned int i;

	for (i = 0; i < r->nr; i++)
		if ((r->pages[i] & WPT_PAGE_MASK) == page)
			return true;
	return false;
}

void relax_after_trap(struct wpt_vm *vm, uint64_t page)
{
	struct wpt_relax *r = vm->relax;
	struct wpt_page *pg;

	if (!r->nr_domains || recent_hit(r, page) < r->cfg.burst ||
	    r->nr >= r->cfg.max_pages || is_unsynced(r, page))
		return;
	pg = pageindex_lookup(vm, page);
	if (!page_relaxable(pg))
		return;
	if (!r->nr) {
		__atomic_store_n(&r->exits, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&r->since_ns, relax_now_ns(), __ATOMIC_RELAXED);
	}
	/* Published before the page opens: a store that no longer traps
	 * comes after it, and so does the doorbell that follows it. */
	__atomic_store_n(&r->nr_pending, r->nr + 1, __ATOMIC_SEQ_CST);
	if (apply_page_open(vm, pg, page) != 1) {
		/* Left protected: it only keeps trapping. */
		__atomic_store_n(&r->nr_pending, r->nr, __ATOMIC_SEQ_CST);
		return;
	}
	r->pages[r->nr++] = page | RELAX_FRESH;
	recent_forget(r, page);
	vm->st.relaxed_pages++;
	vm->st.unsynced_pages = r->nr;
}

/* ---------------------------------------------------------- sync points */

#define RELAX_CHUNK (WPT_PAGE_SIZE / 64)

/*
 * Which 64-byte chunks of the page read differently in RAM than in the
 * snapshots of the tables there (bit k: bytes [64k, 64k + 64)): what was
 * written since the last sync point.  A sync then diffs only those, so a
 * page with one new leaf costs one chunk's diff, not 512 descriptors'.
 * memcmp is only the filter: a store it misses while it reads lands after
 * it, and leaves RAM and snapshot apart for the next sync point; the diff
 * itself reads each descriptor once, single-copy atomically.
 */
static uint64_t page_changes(const struct wpt_page *pg)
{
	uint64_t bits = 0;
	unsigned int i;

	for (i = 0; i < pg->nr_tables; i++) {
		const struct wpt_table *t = pg->tables[i];
		uint64_t lo = t->gpa > pg->gpa ? t->gpa : pg->gpa;
		uint64_t hi = t->gpa + t->size, a;

		if (hi > pg->gpa + WPT_PAGE_SIZE)
			hi = pg->gpa + WPT_PAGE_SIZE;
		for (a = lo; a < hi; a = (a | (RELAX_CHUNK - 1)) + 1) {
			uint64_t end = (a | (RELAX_CHUNK - 1)) + 1;
			uint64_t k = (a - t->gpa) / 8;

			if (end > hi)
				end = hi;
			if (memcmp(&t->hva[k], &t->snap[k], end - a))
				bits |= 1ull << ((a - pg->gpa) / RELAX_CHUNK);
		}
	}
	return bits;
}

/* Diff the chunks of page that changed (inside an operation). */
static void diff_changes(struct wpt_vm *vm, uint64_t page)
{
	struct wpt_page *pg = pageindex_lookup(vm, page);
	uint64_t bits = pg ? page_changes(pg) : 0;

	/* diff_page looks the page up again each time: a diff may track or
	 * release tables on it. */
	while (bits) {
		unsigned int k = __builtin_ctzll(bits);

		bits &= bits - 1;
		pg = pageindex_lookup(vm, page);
		if (pg)
			diff_page(vm, pg, page + k * RELAX_CHUNK, RELAX_CHUNK);
	}
}

/*
 * Protect again the pages that went quiet (or may no longer be relaxed)
 * and take them off the list; the others stay writable.  Before any diff:
 * a close protects first, so the diff that follows sees every store.
 * Returns the first protection error (those domains are faulted).
 */
static int close_quiet(struct wpt_vm *vm, uint64_t *closed, unsigned int *nc)
{
	struct wpt_relax *r = vm->relax;
	unsigned int i = 0;
	int ret = 0;

	while (i < r->nr) {
		uint64_t page = r->pages[i] & WPT_PAGE_MASK;
		struct wpt_page *pg = pageindex_lookup(vm, page);
		bool fresh = r->pages[i] & RELAX_FRESH;
		int e;

		if (page_relaxable(pg) && (fresh || page_changes(pg))) {
			r->pages[i++] = page;
			continue;
		}
		e = apply_page_close(vm, pg, page);
		ret = ret ? ret : e;
		closed[(*nc)++] = page;
		r->pages[i] = r->pages[--r->nr];
	}
	return ret;
}

int relax_sync_locked(struct wpt_vm *vm, enum relax_why why)
{
	struct wpt_relax *r = vm->relax;
	uint64_t t0, *closed = r->pages + r->cap;
	unsigned int nc = 0, i;
	int ret, e;

	if (!r->nr)
		return 0;
	t0 = relax_now_ns();
	ret = close_quiet(vm, closed, &nc);
	/* One operation for all: one commit to each sink. */
	op_begin(vm);
	for (i = 0; i < r->nr + nc; i++)
		diff_changes(vm, i < r->nr ? r->pages[i] & WPT_PAGE_MASK
					   : closed[i - r->nr]);
	e = op_end(vm);
	ret = ret ? ret : e;
	__atomic_store_n(&r->nr_pending, r->nr, __ATOMIC_SEQ_CST);
	__atomic_store_n(&r->exits, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&r->since_ns, relax_now_ns(), __ATOMIC_RELAXED);
	vm->st.syncs++;
	vm->st.doorbell_syncs += why == RELAX_SYNC_DOORBELL;
	vm->st.bound_syncs += why == RELAX_SYNC_BOUND;
	vm->st.unsynced_pages = r->nr;
	vm->st.sync_ns += relax_now_ns() - t0;
	return ret;
}

static bool bound_reached(struct wpt_relax *r)
{
	uint64_t max_exits = __atomic_load_n(&r->cfg.max_exits, __ATOMIC_RELAXED);
	uint64_t max_us = __atomic_load_n(&r->cfg.max_us, __ATOMIC_RELAXED);
	uint64_t n = __atomic_add_fetch(&r->exits, 1, __ATOMIC_RELAXED);

	if (max_exits && n >= max_exits)
		return true;
	return max_us && relax_now_ns() -
		__atomic_load_n(&r->since_ns, __ATOMIC_RELAXED) >= max_us * 1000;
}

static bool is_doorbell(const struct wpt_relax *r, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < r->nr_bells; i++)
		if (gpa >= r->bells[i].gpa &&
		    gpa - r->bells[i].gpa < r->bells[i].size)
			return true;
	return false;
}

void relax_exit(struct wpt_vm *vm, uint64_t gpa, bool mmio)
{
	struct wpt_relax *r = vm->relax;
	bool bound = bound_reached(r);

	if (!bound && !mmio)
		return;
	pthread_mutex_lock(&vm->lock);
	/* An error is the sink's: counted there, retried at the next
	 * update; the exit itself goes on as the VMM's. */
	if (bound)
		(void)relax_sync_locked(vm, RELAX_SYNC_BOUND);
	else if (is_doorbell(r, gpa))
		(void)relax_sync_locked(vm, RELAX_SYNC_DOORBELL);
	pthread_mutex_unlock(&vm->lock);
}

/* ------------------------------------------------------------- the API */

int wpt_vm_sync(struct wpt_vm *vm)
{
	int ret;

	if (!vm)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	ret = relax_sync_locked(vm, RELAX_SYNC_EXPLICIT);
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

int wpt_vm_set_relax(struct wpt_vm *vm, const struct wpt_relax_cfg *ucfg)
{
	struct wpt_relax_cfg c = { 0 };
	struct wpt_relax *r;
	uint64_t *pages;
	unsigned int cap;

	if (!vm || !ucfg || ucfg->size < offsetof(struct wpt_relax_cfg, max_exits))
		return -EINVAL;
	memcpy(&c, ucfg, ucfg->size < sizeof(c) ? ucfg->size : sizeof(c));
	cfg_fill(&c);
	if (c.max_pages > 1u << 16 || c.max_us > UINT64_MAX / 1000)
		return -EINVAL;
	r = vm->relax;
	pthread_mutex_lock(&vm->lock);
	/* A smaller list keeps the pages unsynced now (none is added past
	 * max_pages) until they go quiet. */
	cap = c.max_pages > r->nr ? c.max_pages : r->nr;
	pages = calloc(2 * cap, sizeof(*pages));
	if (!pages) {
		pthread_mutex_unlock(&vm->lock);
		return -ENOMEM;
	}
	memcpy(pages, r->pages, r->nr * sizeof(*pages));
	free(r->pages);
	r->pages = pages;
	r->cap = cap;
	r->cfg.max_pages = c.max_pages;
	r->cfg.burst = c.burst;
	__atomic_store_n(&r->cfg.max_exits, c.max_exits, __ATOMIC_RELAXED);
	__atomic_store_n(&r->cfg.max_us, c.max_us, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

int wpt_vm_add_doorbell(struct wpt_vm *vm, uint64_t gpa, uint64_t size)
{
	struct wpt_relax *r;
	unsigned int i;
	int ret = 0;

	if (!vm || !size || gpa + size - 1 < gpa ||
	    guestmem_region(&vm->mem, gpa, 1) ||
	    guestmem_region(&vm->mem, gpa + size - 1, 1))
		return -EINVAL;
	r = vm->relax;
	pthread_mutex_lock(&vm->lock);
	for (i = 0; i < r->nr_bells && !ret; i++)
		if (gpa < r->bells[i].gpa + r->bells[i].size &&
		    r->bells[i].gpa < gpa + size)
			ret = -EINVAL;
	if (!ret && r->nr_bells == RELAX_MAX_BELLS)
		ret = -ENOSPC;
	if (!ret)
		r->bells[r->nr_bells++] = (struct relax_bell){ gpa, size };
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

int wpt_vm_remove_doorbell(struct wpt_vm *vm, uint64_t gpa, uint64_t size)
{
	struct wpt_relax *r;
	unsigned int i;
	int ret = -ENOENT;

	if (!vm)
		return -EINVAL;
	r = vm->relax;
	pthread_mutex_lock(&vm->lock);
	for (i = 0; i < r->nr_bells; i++) {
		if (r->bells[i].gpa == gpa && r->bells[i].size == size) {
			r->bells[i] = r->bells[--r->nr_bells];
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return ret;
}
