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
 *
 * A new table installed by a trapped store (a driver's cmpxchg into its
 * parent), or found at a sync point under an unsynced parent, is held
 * open before the tracker first sees it
 * (protect_hold_unprotected): it is never protected while the guest
 * fills it, which saves two protection changes per table (each a memslot
 * re-cut with the KVM backend) and the stores that would trap before the
 * burst is noticed.  Pages unwritten for cfg.quiet_syncs sync points in
 * a row are protected again; a full list lets its quietest page go.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "diff.h"
#include "op.h"
#include "pageindex.h"
#include "relax_int.h"

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

/* The list is full: protect again the page unwritten at the most sync
 * points in a row, if one was unwritten at the last.  Under the lock,
 * outside an operation.  Whether one went. */
static bool evict_quietest(struct wpt_vm *vm)
{
	struct wpt_relax *r = vm->relax;
	unsigned int i, best = r->nr;
	uint64_t page;

	for (i = 0; i < r->nr; i++)
		if (entry_quiet(r->pages[i]) &&
		    (best == r->nr ||
		     entry_quiet(r->pages[i]) > entry_quiet(r->pages[best])))
			best = i;
	if (best == r->nr)
		return false;
	page = r->pages[best] & WPT_PAGE_MASK;
	r->pages[best] = r->pages[--r->nr];
	/* Protected first, then diffed, as at a sync point. */
	if (!apply_page_close(vm, pageindex_find(vm, page), page))
		(void)apply_rescan(vm, page, WPT_PAGE_SIZE);
	__atomic_store_n(&r->nr_pending, r->nr, __ATOMIC_SEQ_CST);
	vm->st.unsynced_pages = r->nr;
	return true;
}

/*
 * Add page to the list, opened by open(vm, pg, page) (1: held writable).
 * A full list first lets go of its quietest page, if one was quiet at the
 * last sync point.  Under the lock, outside an operation.
 */
static bool list_add(struct wpt_vm *vm, struct wpt_page *pg, uint64_t page,
		     int (*open)(struct wpt_vm *, struct wpt_page *, uint64_t))
{
	struct wpt_relax *r = vm->relax;

	if (r->nr >= r->cfg.max_pages && !evict_quietest(vm))
		return false;
	if (!r->nr) {
		__atomic_store_n(&r->exits, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&r->since_ns, relax_now_ns(), __ATOMIC_RELAXED);
	}
	/* Published before the page opens: a store that no longer traps
	 * comes after it, and so does the doorbell that follows it. */
	__atomic_store_n(&r->nr_pending, r->nr + 1, __ATOMIC_SEQ_CST);
	if (open(vm, pg, page) != 1) {
		/* Left as it was: it only keeps trapping. */
		__atomic_store_n(&r->nr_pending, r->nr, __ATOMIC_SEQ_CST);
		return false;
	}
	r->pages[r->nr++] = page | RELAX_FRESH;
	vm->st.relaxed_pages++;
	vm->st.unsynced_pages = r->nr;
	return true;
}

void relax_after_trap(struct wpt_vm *vm, uint64_t page)
{
	struct wpt_relax *r = vm->relax;
	struct wpt_page *pg;

	if (!r->nr_domains || recent_hit(r, page) < r->cfg.burst ||
	    is_unsynced(r, page))
		return;
	pg = pageindex_find(vm, page);
	if (page_relaxable(pg) && list_add(vm, pg, page, apply_page_open))
		recent_forget(r, page);
}

/* Open a page no table protects yet: held, so the tracker's protect of
 * it waits for the page's close. */
static int open_unprotected(struct wpt_vm *vm, struct wpt_page *pg,
			    uint64_t page)
{
	return protect_hold_unprotected(&vm->protect, page) ? 0 : 1;
}

/* The page a store of value at gpa installs as a new one-page table in
 * relaxed domains only, or 0. */
static uint64_t new_table_page(struct wpt_vm *vm, uint64_t gpa,
			       uint64_t value)
{
	struct wpt_page *pg = pageindex_find(vm, gpa & WPT_PAGE_MASK);
	uint64_t next = 0;
	unsigned int i;

	if (!page_relaxable(pg))
		return 0;
	for (i = 0; i < pg->nr_tables; i++) {
		struct wpt_table *t = pg->tables[i];
		struct wpt_table_use *u;
		struct wpt_desc dd;

		if (gpa < t->gpa || gpa >= t->gpa + t->size)
			continue;
		RB_FOREACH(u, wpt_use_tree, &t->uses) {
			u->d->fmt->decode(&u->d->geo, u->level, value, &dd);
			if (dd.type != WPT_DESC_TABLE || (next && dd.addr != next) ||
			    geo_table_size(&u->d->geo, u->level + 1) !=
				    WPT_PAGE_SIZE)
				return 0;
			next = dd.addr;
		}
	}
	return next;
}

/* If value at gpa installs a new one-page table for relaxed domains
 * only, hold its page open before the tracker first sees it. */
static void hold_if_new_table(struct wpt_vm *vm, uint64_t gpa, uint64_t value)
{
	uint64_t next = new_table_page(vm, gpa, value);
	struct wpt_page *npg;

	if (!next || next % WPT_PAGE_SIZE ||
	    !guestmem_region(&vm->mem, next, WPT_PAGE_SIZE) ||
	    is_unsynced(vm->relax, next))
		return;
	/* Tracked and protected already (a table used twice): the usual
	 * path, by its own stores. */
	npg = pageindex_find(vm, next);
	if (npg && npg->nr_protecting)
		return;
	list_add(vm, npg, next, open_unprotected);
}

void relax_before_store(struct wpt_vm *vm, uint64_t gpa, const void *data,
			uint32_t len)
{
	uint64_t value;

	if (!vm->relax->nr_domains || len != 8 || gpa % 8)
		return;
	memcpy(&value, data, 8);
	hold_if_new_table(vm, gpa, value);
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

/* The tables an unsynced page now points at that nobody tracks yet (a
 * driver installed them without a trap, then filled them): held open
 * before the sync's diff walks them, as a trapped install's are.  Under
 * the lock, outside an operation. */
static void hold_new_tables(struct wpt_vm *vm, uint64_t page)
{
	struct wpt_page *pg = pageindex_find(vm, page);
	uint64_t bits = pg ? page_changes(pg) : 0;

	while (bits) {
		unsigned int k = __builtin_ctzll(bits);
		uint64_t a = page + k * RELAX_CHUNK, end = a + RELAX_CHUNK;
		const uint64_t *hva = guestmem_hva(&vm->mem, a, RELAX_CHUNK);

		bits &= bits - 1;
		for (; hva && a < end; a += 8, hva++)
			hold_if_new_table(vm, a, guestmem_load64(hva));
	}
}

/* Diff the chunks of page that changed (inside an operation). */
static void diff_changes(struct wpt_vm *vm, uint64_t page)
{
	struct wpt_page *pg = pageindex_find(vm, page);
	uint64_t bits = pg ? page_changes(pg) : 0;

	/* diff_page looks the page up again each time: a diff may track or
	 * release tables on it. */
	while (bits) {
		unsigned int k = __builtin_ctzll(bits);

		bits &= bits - 1;
		pg = pageindex_find(vm, page);
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
		struct wpt_page *pg = pageindex_find(vm, page);
		bool fresh = r->pages[i] & RELAX_FRESH;
		unsigned int quiet = entry_quiet(r->pages[i]);
		int e;

		if (page_relaxable(pg) && (fresh || page_changes(pg))) {
			r->pages[i++] = page;
			continue;
		}
		if (page_relaxable(pg) && ++quiet < r->cfg.quiet_syncs) {
			r->pages[i++] = page | (uint64_t)quiet << RELAX_QUIET_SHIFT;
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
	for (i = 0; i < r->nr; i++)
		hold_new_tables(vm, r->pages[i] & WPT_PAGE_MASK);
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
