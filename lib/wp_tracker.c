/* SPDX-License-Identifier: MIT */
/*
 * The tracker: which guest pages hold tables, where each table is used, and
 * what each use maps.  A table reached from several places (two parents,
 * two levels, two domains) is tracked and protected once and counted per
 * use; a use is added by walking the table's snapshot and removed by
 * walking it again, so a use maps exactly what its snapshot says.
 *
 * Everything here runs under vm->lock, inside tracker_op_begin/end.
 * Tables whose last use or last trapping use goes in an operation are
 * released only at its end: a subtree that moves (a root switch, a table
 * re-installed elsewhere in one store) then keeps its protection and its
 * snapshot instead of being unprotected and protected again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

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

/* ----------------------------------------------------------- pages */

static uint64_t page_hash(uint64_t gpa)
{
	/* Fibonacci hashing of the frame number: table pages are often
	 * consecutive frames, which this spreads over the buckets. */
	return (gpa >> WPT_PAGE_SHIFT) * 0x9e3779b97f4a7c15ull;
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

static int page_match(struct cds_lfht_node *node, const void *key)
{
	const struct wpt_page *pg = caa_container_of(node, struct wpt_page, node);

	tsan_rcu_deref(pg);
	return pg->gpa == *(const uint64_t *)key;
}

struct wpt_page *tracker_page_lookup(struct wpt_vm *vm, uint64_t page_gpa)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	cds_lfht_lookup(vm->pages, page_hash(page_gpa), page_match, &page_gpa,
			&it);
	node = cds_lfht_iter_get_node(&it);
	tsan_rcu_reader_done();
	return node ? caa_container_of(node, struct wpt_page, node) : NULL;
}

static void page_free_rcu(struct rcu_head *head)
{
	struct wpt_page *pg = caa_container_of(head, struct wpt_page, rcu);

	tsan_rcu_free();
	free(pg->tables);
	free(pg);
}

static int page_attach(struct wpt_vm *vm, uint64_t gpa, struct wpt_table *t)
{
	struct wpt_page *pg;

	rcu_read_lock();
	pg = tracker_page_lookup(vm, gpa);
	rcu_read_unlock();
	if (!pg) {
		pg = calloc(1, sizeof(*pg));
		if (!pg)
			return -ENOMEM;
		pg->gpa = gpa;
		cds_lfht_node_init(&pg->node);
	}
	if (pg->nr_tables == pg->cap) {
		unsigned int cap = pg->cap ? pg->cap * 2 : 2;
		struct wpt_table **n = realloc(pg->tables, cap * sizeof(*n));

		if (!n) {
			if (!pg->nr_tables)
				page_free_rcu(&pg->rcu);
			return -ENOMEM;
		}
		pg->tables = n;
		pg->cap = cap;
	}
	pg->tables[pg->nr_tables++] = t;
	if (pg->nr_tables == 1) {
		/* Published before the table is protected or read, so a store
		 * that races with tracking finds it (see vm.c). */
		rcu_read_lock();
		tsan_rcu_publish(pg);
		cds_lfht_add(vm->pages, page_hash(gpa), &pg->node);
		rcu_read_unlock();
	}
	return 0;
}

static void page_detach(struct wpt_vm *vm, uint64_t gpa, struct wpt_table *t)
{
	struct wpt_page *pg;
	unsigned int i;

	rcu_read_lock();
	pg = tracker_page_lookup(vm, gpa);
	rcu_read_unlock();
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
	rcu_read_lock();
	cds_lfht_del(vm->pages, &pg->node);
	rcu_read_unlock();
	tsan_rcu_reader_done(); /* this thread's writes to pg, too */
	call_rcu(&pg->rcu, page_free_rcu);
}

/* ------------------------------------------------------------ tables */

#define table_first_page(t) ((t)->gpa & WPT_PAGE_MASK)
#define table_end(t) ((t)->gpa + (t)->size)

struct wpt_table *tracker_table_lookup(struct wpt_vm *vm, uint64_t gpa,
				       uint64_t size)
{
	struct wpt_page *pg;
	unsigned int i;

	rcu_read_lock();
	pg = tracker_page_lookup(vm, gpa & WPT_PAGE_MASK);
	rcu_read_unlock();
	for (i = 0; pg && i < pg->nr_tables; i++)
		if (pg->tables[i]->gpa == gpa && pg->tables[i]->size == size)
			return pg->tables[i];
	return NULL;
}

static void table_destroy(struct wpt_vm *vm, struct wpt_table *t)
{
	uint64_t p;

	for (p = table_first_page(t); p < table_end(t); p += WPT_PAGE_SIZE)
		page_detach(vm, p, t);
	vm->st.tracked_tables--;
	free(t->snap);
	free(t);
}

static struct wpt_table *table_new(struct wpt_vm *vm, uint64_t gpa,
				   uint64_t size, void *hva)
{
	struct wpt_table *t = calloc(1, sizeof(*t));
	uint64_t p;

	if (!t)
		return NULL;
	t->snap = calloc(size / 8, 8);
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
		if (page_attach(vm, p, t)) {
			uint64_t q;

			for (q = table_first_page(t); q < p; q += WPT_PAGE_SIZE)
				page_detach(vm, q, t);
			vm->st.tracked_tables--;
			free(t->snap);
			free(t);
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

static bool page_flips(struct wpt_vm *vm, uint64_t p, bool on)
{
	struct wpt_page *pg;

	rcu_read_lock();
	pg = tracker_page_lookup(vm, p);
	rcu_read_unlock();
	return on ? pg->nr_protecting == 0 : pg->nr_protecting == 1;
}

static int backend_call(struct wpt_vm *vm, bool on, uint64_t gpa, uint64_t len)
{
	const struct wpt_protect_backend_ops *ops = vm->protect.ops;
	int ret = on ? ops->protect(vm->protect.be, gpa, len)
		     : ops->unprotect(vm->protect.be, gpa, len);

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
		struct wpt_page *pg;

		rcu_read_lock();
		pg = tracker_page_lookup(vm, p);
		rcu_read_unlock();
		if (on && ++pg->nr_protecting == 1)
			vm->st.protected_pages++;
		else if (!on && --pg->nr_protecting == 0)
			vm->st.protected_pages--;
	}
	t->protected = on;
	return ret;
}

static void table_pin(struct wpt_table *t)
{
	t->pins++;
}

static void table_unpin(struct wpt_vm *vm, struct wpt_table *t)
{
	t->pins--;
	tracker_table_recheck(vm, t);
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
		table_destroy(vm, t);
}

/* -------------------------------------------------------- operations */

static void domain_touch(struct wpt_domain *d)
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
	domain_touch(d);
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

void tracker_op_begin(struct wpt_vm *vm)
{
	vm->touched = NULL;
	vm->recheck = NULL;
	vm->op_seq++;
}

int tracker_op_end(struct wpt_vm *vm)
{
	struct wpt_domain *d, *next;
	int ret = 0;

	for (d = vm->touched; d; d = next) {
		int r;

		next = d->touched_next;
		d->touched = false;
		if (d->doomed) {
			/* Nothing of a faulted domain stays mapped: its tables
			 * may be hostile, so no partial walk is trusted. */
			r = tracker_drop_domain(d);
			d->doomed = false;
		} else {
			r = shadow_commit(d->shadow);
		}
		if (r) {
			d->st.sink_errors++;
			vm->st.errors++;
			ret = ret ? ret : r;
		}
	}
	vm->touched = NULL;
	while (vm->recheck) {
		struct wpt_table *t = vm->recheck;

		vm->recheck = t->recheck_next;
		table_release(vm, t);
	}
	return ret;
}

/* ----------------------------------------------------- entries, uses */

bool tracker_leaf_in_ram(const struct wpt_guestmem *mem, uint64_t gpa,
			 uint64_t size)
{
	return guestmem_region(mem, gpa, size) != NULL;
}

static void count_fault(struct wpt_domain *d, const struct wpt_desc *dd)
{
	if (dd->fault == WPT_FAULT_ADDR_SIZE) {
		d->st.addr_size_faults++;
		d->vm->st.addr_size_faults++;
	} else if (dd->fault == WPT_FAULT_RESERVED) {
		d->st.reserved_descs++;
		d->vm->st.reserved_descs++;
	}
}

static void use_remove(struct wpt_domain *d, int level, uint64_t iova,
		       uint64_t gpa);

/* Map what entry idx of use u says (desc), as part of walking it. */
void tracker_entry_add(struct wpt_table_use *u, uint64_t idx, uint64_t desc)
{
	struct wpt_domain *d = u->d;
	struct wpt_desc dd;
	uint64_t iova;
	uint32_t perm;
	int ret;

	if (d->doomed)
		return;
	d->fmt->decode(&d->geo, u->level, desc, &dd);
	iova = ptwalk_entry_iova(&d->geo, u->level, u->iova, idx);
	switch (dd.type) {
	case WPT_DESC_INVALID:
		count_fault(d, &dd);
		return;
	case WPT_DESC_TABLE:
		tracker_use_add(d, u->level + 1, iova, dd.addr,
				u->perm_mask & dd.perm);
		return;
	case WPT_DESC_LEAF:
		break;
	}
	perm = dd.perm & u->perm_mask;
	if (!perm)
		return;
	if (!tracker_leaf_in_ram(&d->vm->mem, dd.addr, dd.size)) {
		/* Invariant 3: only registered guest RAM reaches a device. */
		d->st.out_of_ram++;
		d->vm->st.out_of_ram++;
		return;
	}
	if (shadow_nr_leaves(d->shadow) >= d->limits.max_leaves) {
		tracker_fault(d, -E2BIG, "too many leaves mapped");
		return;
	}
	domain_touch(d);
	ret = shadow_leaf_add(d->shadow, iova, dd.size, dd.addr, perm);
	if (ret)
		tracker_fault(d, ret, "leaf overlaps another");
}

/* Undo tracker_entry_add for the same desc. */
void tracker_entry_remove(struct wpt_table_use *u, uint64_t idx, uint64_t desc)
{
	struct wpt_domain *d = u->d;
	struct wpt_desc dd;
	uint64_t iova;

	if (d->doomed)
		return;
	d->fmt->decode(&d->geo, u->level, desc, &dd);
	iova = ptwalk_entry_iova(&d->geo, u->level, u->iova, idx);
	if (dd.type == WPT_DESC_TABLE) {
		use_remove(d, u->level + 1, iova, dd.addr);
	} else if (dd.type == WPT_DESC_LEAF && (dd.perm & u->perm_mask) &&
		   tracker_leaf_in_ram(&d->vm->mem, dd.addr, dd.size)) {
		domain_touch(d);
		/* -ENOENT: the add was refused (a fault tore it down). */
		shadow_leaf_remove(d->shadow, iova, dd.size);
	}
}

static bool domain_protects(const struct wpt_domain *d)
{
	return d->mode != WPT_MODE_INVAL;
}

/* Charge n descriptors to the walk of this operation. */
bool tracker_charge(struct wpt_domain *d, uint64_t n)
{
	domain_touch(d);
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

static struct wpt_table *table_get(struct wpt_domain *d, uint64_t gpa,
				   uint64_t size, void *hva, bool *fresh)
{
	struct wpt_vm *vm = d->vm;
	struct wpt_table *t = tracker_table_lookup(vm, gpa, size);
	bool was_protected;
	int ret;

	*fresh = !t;
	if (!t) {
		t = table_new(vm, gpa, size, hva);
		if (!t) {
			tracker_fault(d, -ENOMEM, "out of memory");
			return NULL;
		}
	}
	table_pin(t);
	was_protected = t->protected;
	/* Protect before reading: a store that lands after the read then
	 * exits and is diffed, none is lost in between. */
	if (domain_protects(d) && !t->protected) {
		ret = table_set_protect(vm, t, true);
		if (ret) {
			tracker_fault(d, ret, "cannot protect a table page");
			table_unpin(vm, t);
			return NULL;
		}
	}
	if (*fresh) {
		uint64_t i;

		for (i = 0; i < size / 8; i++)
			t->snap[i] = guestmem_load64(&t->hva[i]);
	} else if (!was_protected) {
		/* Unprotected (INVAL-only) tables may have moved on since
		 * their snapshot: bring every use up to date first. */
		tracker_table_resync(vm, t);
	}
	return t;
}

int tracker_use_add(struct wpt_domain *d, int level, uint64_t iova,
		    uint64_t gpa, uint32_t perm_mask)
{
	struct wpt_vm *vm = d->vm;
	uint64_t size = geo_table_size(&d->geo, level), i, n = size / 8;
	struct wpt_table_use *u;
	struct wpt_table *t;
	void *hva;
	bool fresh;

	if (d->doomed)
		return d->fault;
	hva = guestmem_hva(&vm->mem, gpa, size);
	if (!hva || gpa % 8) {
		/* A table outside RAM (or in MMIO) maps nothing. */
		d->st.out_of_ram++;
		vm->st.out_of_ram++;
		return 0;
	}
	if (d->nr_uses >= d->limits.max_table_uses) {
		tracker_fault(d, -E2BIG, "too many table uses");
		return d->fault;
	}
	t = table_get(d, gpa, size, hva, &fresh);
	if (!t)
		return d->fault;
	if (tracker_use_lookup(t, d, level, iova)) {
		/* One position of one tree cannot hold two tables. */
		tracker_fault(d, -EEXIST, "table used twice at one place");
		goto out;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		tracker_fault(d, -ENOMEM, "out of memory");
		goto out;
	}
	*u = (struct wpt_table_use){ .table = t, .d = d, .level = level,
				     .iova = iova, .perm_mask = perm_mask };
	RB_INSERT(wpt_use_tree, &t->uses, u);
	LIST_INSERT_HEAD(&d->uses, u, link);
	d->nr_uses++;
	t->nr_uses++;
	t->nr_trap_uses += domain_protects(d);
	d->st.tables_walked++;
	vm->st.tables_walked++;
	if (tracker_charge(d, n))
		for (i = 0; i < n && !d->doomed; i++)
			if (t->snap[i])
				tracker_entry_add(u, i, t->snap[i]);
out:
	table_unpin(vm, t);
	return d->fault;
}

static void use_unlink(struct wpt_table_use *u)
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

static void use_remove(struct wpt_domain *d, int level, uint64_t iova,
		       uint64_t gpa)
{
	uint64_t size = geo_table_size(&d->geo, level), i;
	struct wpt_table_use *u;
	struct wpt_table *t;

	t = tracker_table_lookup(d->vm, gpa, size);
	u = t ? tracker_use_lookup(t, d, level, iova) : NULL;
	if (!u)
		return; /* never added: outside RAM, or refused */
	table_pin(t);
	for (i = 0; i < size / 8 && !d->doomed; i++)
		if (t->snap[i])
			tracker_entry_remove(u, i, t->snap[i]);
	use_unlink(u);
	table_unpin(d->vm, t);
}

void tracker_root_remove(struct wpt_domain *d)
{
	if (d->has_root && !d->doomed)
		use_remove(d, d->geo.start_level, 0, d->root_gpa);
}

int tracker_drop_domain(struct wpt_domain *d)
{
	struct wpt_table_use *u;

	while ((u = LIST_FIRST(&d->uses)))
		use_unlink(u);
	return shadow_clear(d->shadow);
}
