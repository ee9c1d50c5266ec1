/* SPDX-License-Identifier: MIT */
/*
 * The tracker's books (tracker.h).  A table reached from several places
 * (two parents, two levels, two domains) is tracked and protected once and
 * counted per use.
 *
 * Tables whose last use or last trapping use goes in an operation are
 * released only at its end: a subtree that moves (a root switch, a table
 * re-installed elsewhere in one store) then keeps its protection and its
 * snapshot instead of being unprotected and protected again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracker.h"
#include "pageindex.h"

/*
 * The defaults let one domain map 64 GiB of scattered 4K pages (16M
 * leaves in 32K last-level tables) and walk it in one call: set_root
 * there visits 16.8M descriptors and adds 16.8M leaves, both charged.
 * They still bound a hostile guest: table uses bound the snapshots (8 B
 * per descriptor: 512 MiB at 64K uses of 4K tables) and the leaves (512
 * a table), max_leaves the shadow (at most 16 bytes a dense leaf, about
 * 150 a scattered one), max_walk_descs one call's CPU (64M descriptors:
 * seconds).
 */
#define DEFAULT_MAX_TABLE_USES 65536ull
#define DEFAULT_MAX_LEAVES (1ull << 25)
#define DEFAULT_MAX_WALK_DESCS (1ull << 26)

void limits_fill(struct wpt_limits *lim, const struct wpt_limits *dflt)
{
	if (!lim->max_table_uses)
		lim->max_table_uses = dflt ? dflt->max_table_uses
					   : DEFAULT_MAX_TABLE_USES;
	if (!lim->max_leaves)
		lim->max_leaves = dflt ? dflt->max_leaves : DEFAULT_MAX_LEAVES;
	if (!lim->max_walk_descs)
		lim->max_walk_descs = dflt ? dflt->max_walk_descs
					   : DEFAULT_MAX_WALK_DESCS;
}

/* ------------------------------------------------------------ uses */

int wpt_use_cmp(const struct wpt_table_use *a, const struct wpt_table_use *b)
{
	if (a->d != b->d)
		return (uintptr_t)a->d < (uintptr_t)b->d ? -1 : 1;
	if (a->level != b->level)
		return a->level < b->level ? -1 : 1;
	return a->iova < b->iova ? -1 : a->iova > b->iova;
}
RB_GENERATE(wpt_use_tree, wpt_table_use, node, wpt_use_cmp)

struct wpt_table_use *tracker_use_lookup(struct wpt_table *t,
					 struct wpt_domain *d, int level,
					 uint64_t iova)
{
	struct wpt_table_use key = { .d = d, .level = level, .iova = iova };

	return RB_FIND(wpt_use_tree, &t->uses, &key);
}

/* ------------------------------------------------------------ tables */

#define table_first_page(t) ((t)->gpa & WPT_PAGE_MASK)
#define table_end(t) ((t)->gpa + (t)->size)

struct wpt_table *tracker_table_lookup(struct wpt_vm *vm, uint64_t gpa,
				       uint64_t size)
{
	struct wpt_page *pg = pageindex_find(vm, gpa & WPT_PAGE_MASK);
	unsigned int i;

	for (i = 0; pg && i < pg->nr_tables; i++)
		if (pg->tables[i]->gpa == gpa && pg->tables[i]->size == size)
			return pg->tables[i];
	return NULL;
}

/* Take t off its pages below end (all of them: table_end) and free it. */
/* A snapshot's memory: a 4 KiB table's from the VM's pool (pagepool.h:
 * most tables, and a walk makes thousands), any other size's from the
 * heap.  Its bytes are undefined: tracker_table_get fills a new one. */
static uint64_t *snap_new(struct wpt_vm *vm, uint64_t size)
{
	return size == PAGEPOOL_BLOCK ? pagepool_get(&vm->pool)
				      : malloc(size);
}

static void snap_free(struct wpt_vm *vm, struct wpt_table *t)
{
	if (t->size == PAGEPOOL_BLOCK)
		pagepool_put(&vm->pool, t->snap);
	else
		free(t->snap);
}

static void table_destroy(struct wpt_vm *vm, struct wpt_table *t, uint64_t end)
{
	uint64_t p;

	for (p = table_first_page(t); p < end; p += WPT_PAGE_SIZE)
		pageindex_detach(vm, p, t);
	vm->st.tracked_tables--;
	snap_free(vm, t);
	free(t);
}

static struct wpt_table *table_new(struct wpt_vm *vm, uint64_t gpa,
				   uint64_t size, uint64_t *hva)
{
	struct wpt_table *t = calloc(1, sizeof(*t));
	uint64_t p;

	if (!t)
		return NULL;
	t->snap = snap_new(vm, size);
	if (!t->snap) {
		free(t);
		return NULL;
	}
	t->gpa = gpa;
	t->size = size;
	t->hva = hva;
	RB_INIT(&t->uses);
	vm->st.tracked_tables++;
	for (p = table_first_page(t); p < table_end(t); p += WPT_PAGE_SIZE) {
		if (pageindex_attach(vm, p, t)) {
			table_destroy(vm, t, p);
			return NULL;
		}
	}
	return t;
}

void tracker_table_recheck(struct wpt_vm *vm, struct wpt_table *t)
{
	if (t->on_recheck)
		return;
	t->on_recheck = true;
	t->recheck_next = vm->recheck;
	vm->recheck = t;
}

void tracker_table_pin(struct wpt_table *t)
{
	t->pins++;
}

void tracker_table_unpin(struct wpt_vm *vm, struct wpt_table *t)
{
	t->pins--;
	tracker_table_recheck(vm, t);
}

/* -------------------------------------------------------- protection */

static bool page_flips(struct wpt_vm *vm, uint64_t p, bool on)
{
	struct wpt_page *pg = pageindex_find(vm, p);

	return on ? pg->nr_protecting == 0 : pg->nr_protecting == 1;
}

static int backend_call(struct wpt_vm *vm, bool on, uint64_t gpa, uint64_t len)
{
	int ret = protect_set(&vm->protect, gpa, len, on);

	if (!ret && on)
		vm->st.protects += len >> WPT_PAGE_SHIFT;
	else if (!ret)
		vm->st.unprotects += len >> WPT_PAGE_SHIFT;
	return ret;
}

/*
 * For each maximal run of pages in [lo, hi) whose protection flips when
 * protecting (on) or unprotecting, make one backend call: that change, or
 * with undo its reverse.  A failed protect stops there (*stop is where the
 * failed run began); a failed unprotect goes on with the other runs and
 * the first error is returned: a page left protected only costs exits.
 */
static int flip_runs(struct wpt_vm *vm, uint64_t lo, uint64_t hi, bool on,
		     bool undo, uint64_t *stop)
{
	uint64_t p, run = lo;
	bool in_run = false, protect = on != undo;
	int ret, first = 0;

	for (p = lo; p <= hi; p += WPT_PAGE_SIZE) {
		bool flip = p < hi && page_flips(vm, p, on);

		if (flip && !in_run) {
			run = p;
			in_run = true;
		} else if (!flip && in_run) {
			in_run = false;
			ret = backend_call(vm, protect, run, p - run);
			if (ret && protect) {
				*stop = run;
				return ret;
			}
			first = first ? first : ret;
		}
	}
	return first;
}

/*
 * Protect (or unprotect) a table's pages: pages shared with another
 * protected table are counted, not asked twice.  Protecting is all or
 * nothing.  Unprotecting always succeeds in the tracker's books: a page
 * the backend refused to unprotect is no longer counted as protected
 * (never the other way round: a page counted protected is protected), its
 * stores exit and are served from RAM as gap accesses, and a later
 * protect asks the backend again.  The error is still returned.
 */
static int table_set_protect(struct wpt_vm *vm, struct wpt_table *t, bool on)
{
	uint64_t p, stop, lo = table_first_page(t), hi = table_end(t);
	int ret;

	hi = (hi + WPT_PAGE_SIZE - 1) & WPT_PAGE_MASK;
	ret = flip_runs(vm, lo, hi, on, false, &stop);
	if (ret)
		vm->st.errors++;
	if (ret && on) {
		flip_runs(vm, lo, stop, on, true, &stop);
		return ret;
	}
	for (p = lo; p < hi; p += WPT_PAGE_SIZE) {
		struct wpt_page *pg = pageindex_find(vm, p);

		if (on && ++pg->nr_protecting == 1)
			vm->st.protected_pages++;
		else if (!on && --pg->nr_protecting == 0)
			vm->st.protected_pages--;
	}
	t->protected = on;
	return ret;
}

/* End of an operation: drop protection that no use needs, free the table
 * if nothing uses it. */
static void table_release(struct wpt_vm *vm, struct wpt_table *t)
{
	t->on_recheck = false;
	if (t->pins)
		return;
	/* A refusal leaves the pages protected in the backend only (see
	 * table_set_protect): nothing more to do here. */
	if (t->protected && !t->nr_trap_uses)
		(void)table_set_protect(vm, t, false);
	if (!t->nr_uses)
		table_destroy(vm, t, table_end(t));
}

void tracker_release_rechecked(struct wpt_vm *vm)
{
	while (vm->recheck) {
		struct wpt_table *t = vm->recheck;

		vm->recheck = t->recheck_next;
		table_release(vm, t);
	}
}

/* ------------------------------------------------------ the operation */

void tracker_touch(struct wpt_domain *d)
{
	if (d->touched)
		return;
	d->touched = true;
	d->op_descs = 0;
	d->touched_next = d->vm->touched;
	d->vm->touched = d;
}

void tracker_fault(struct wpt_domain *d, int err, const char *why)
{
	tracker_touch(d);
	if (d->doomed)
		return;
	d->doomed = true;
	__atomic_store_n(&d->fault, err, __ATOMIC_RELAXED); /* see wpt_domain_error */
	d->st.limit_faults += err == -E2BIG;
	d->vm->st.errors++;
	if (d->vm->log) {
		char msg[160];

		snprintf(msg, sizeof(msg), "domain %p faulted: %s (%s)",
			 (void *)d, why, strerror(-err));
		d->vm->log(d->vm->log_opaque, 1, msg);
	}
}

bool tracker_charge(struct wpt_domain *d, uint64_t n)
{
	tracker_touch(d);
	/* A refused charge is not visited, so it is not counted either: the
	 * counters then show that one operation never visits more than
	 * max_walk_descs (the hostile catalog asserts it). */
	if (n > d->limits.max_walk_descs - d->op_descs) {
		tracker_fault(d, -E2BIG, "walk visited too many descriptors");
		return false;
	}
	d->op_descs += n;
	d->st.descs_visited += n;
	d->vm->st.descs_visited += n;
	return true;
}

void tracker_count_fault(struct wpt_domain *d, const struct wpt_desc *dd)
{
	if (dd->fault == WPT_FAULT_ADDR_SIZE) {
		d->st.addr_size_faults++;
		d->vm->st.addr_size_faults++;
	} else if (dd->fault == WPT_FAULT_RESERVED) {
		d->st.reserved_descs++;
		d->vm->st.reserved_descs++;
	}
}

/* -------------------------------------------------- tables for a use */

/* An unprotected (INVAL-only) table may have moved on since its snapshot:
 * the operation's end diffs it (op.c), which brings every use up to date. */
static void table_mark_stale(struct wpt_vm *vm, struct wpt_table *t)
{
	if (t->on_stale)
		return;
	t->on_stale = true;
	t->pins++; /* until it is diffed */
	t->stale_next = vm->stale;
	vm->stale = t;
}

struct wpt_table *tracker_table_get(struct wpt_domain *d, uint64_t gpa,
				    uint64_t size, void *hva)
{
	struct wpt_vm *vm = d->vm;
	struct wpt_table *t = tracker_table_lookup(vm, gpa, size);
	bool fresh = !t, was_protected;
	int ret;

	if (fresh)
		t = table_new(vm, gpa, size, hva);
	if (!t) {
		tracker_fault(d, -ENOMEM, "out of memory");
		return NULL;
	}
	tracker_table_pin(t);
	was_protected = t->protected;
	/* Protect before (re)reading: a store that lands after the read then
	 * exits and is diffed, none is lost in between. */
	if (domain_protects(d) && !t->protected) {
		ret = table_set_protect(vm, t, true);
		if (ret) {
			/* A new table's snapshot is read only once protected:
			 * until the end of the operation drops it, it reads as
			 * empty (as a table first seen zeroed would). */
			if (fresh)
				memset(t->snap, 0, size);
			tracker_fault(d, ret, "cannot protect a table page");
			tracker_table_unpin(vm, t);
			return NULL;
		}
	}
	if (fresh) {
		uint64_t i;

		for (i = 0; i < size / 8; i++)
			t->snap[i] = guestmem_load64(&t->hva[i]);
	} else if (!was_protected) {
		table_mark_stale(vm, t);
	}
	return t;
}

struct wpt_table_use *tracker_use_link(struct wpt_table *t,
				       struct wpt_domain *d, int level,
				       uint64_t iova, uint32_t perm_mask)
{
	struct wpt_table_use *u = calloc(1, sizeof(*u));

	if (!u) {
		tracker_fault(d, -ENOMEM, "out of memory");
		return NULL;
	}
	*u = (struct wpt_table_use){ .table = t, .d = d, .level = level,
				     .iova = iova, .perm_mask = perm_mask };
	RB_INSERT(wpt_use_tree, &t->uses, u);
	LIST_INSERT_HEAD(&d->uses, u, link);
	d->nr_uses++;
	t->nr_uses++;
	t->nr_trap_uses += domain_protects(d);
	d->st.tables_walked++;
	d->vm->st.tables_walked++;
	return u;
}

void tracker_use_unlink(struct wpt_table_use *u)
{
	struct wpt_table *t = u->table;
	struct wpt_domain *d = u->d;

	RB_REMOVE(wpt_use_tree, &t->uses, u);
	LIST_REMOVE(u, link);
	d->nr_uses--;
	t->nr_uses--;
	t->nr_trap_uses -= domain_protects(d);
	tracker_table_recheck(d->vm, t);
	free(u);
}

void tracker_drop_uses(struct wpt_domain *d)
{
	struct wpt_table_use *u;

	while ((u = LIST_FIRST(&d->uses)))
		tracker_use_unlink(u);
}
