/* SPDX-License-Identifier: MIT */
/*
 * Descriptor diffing (diff.h).  Every transition is the same two steps:
 * invalid<->leaf, invalid<->table, leaf->leaf, block->table (a split: the
 * new table was filled while nobody tracked it and is walked now),
 * table->block and table->table.  The shadow nets the two steps out, so a
 * split that maps the same pages makes no sink call.  A 4-byte store to
 * one half of a descriptor is decoded as the hardware would see the whole
 * descriptor at that moment.
 *
 * The two steps run for all uses in turn, with the snapshot holding the old
 * value during removal and the new one during addition: a table that is its
 * own descendant (a hostile guest) then still removes exactly what it added.
 */
#include <errno.h>
#include <stdlib.h>

#include "diff.h"
#include "ptwalk.h"
#include "tracker.h"

struct use_key {
	struct wpt_domain *d;
	int level;
	uint64_t iova;
};

/* The uses of t at this moment, as keys: the uses themselves may go while
 * earlier ones are processed. */
static size_t collect_uses(struct wpt_table *t, struct use_key *stack,
			   size_t stack_n, struct use_key **out)
{
	struct wpt_table_use *u;
	struct use_key *keys = stack;
	size_t n = 0;

	if (t->nr_uses > stack_n) {
		keys = malloc(t->nr_uses * sizeof(*keys));
		if (!keys)
			return SIZE_MAX;
	}
	RB_FOREACH(u, wpt_use_tree, &t->uses)
		keys[n++] = (struct use_key){ u->d, u->level, u->iova };
	*out = keys;
	return n;
}

static bool same_decoded(const struct wpt_desc *x, const struct wpt_desc *y)
{
	if (x->type != y->type)
		return false;
	if (x->type == WPT_DESC_INVALID)
		return x->fault == y->fault;
	return x->addr == y->addr && x->perm == y->perm && x->size == y->size;
}

/* Apply to every use of t (remove if !add, else add) entry idx = desc,
 * where old and new differ in meaning. */
static void for_each_use(struct wpt_vm *vm, struct wpt_table *t, uint64_t idx,
			 uint64_t old, uint64_t new, bool add)
{
	struct use_key stack[8], *keys;
	size_t n = collect_uses(t, stack, 8, &keys), i;

	if (n == SIZE_MAX) {
		struct wpt_table_use *u;

		RB_FOREACH(u, wpt_use_tree, &t->uses)
			tracker_fault(u->d, -ENOMEM, "out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		struct wpt_table_use *u =
			tracker_use_lookup(t, keys[i].d, keys[i].level,
					   keys[i].iova);
		struct wpt_desc od, nd;

		if (!u || u->d->doomed)
			continue;
		/* Each value decoded once, for the comparison and the walk. */
		ptwalk_decode(u, old, &od);
		ptwalk_decode(u, new, &nd);
		if (same_decoded(&od, &nd))
			continue;
		/* Each use a store reaches is work the guest caused: a
		 * table with thousands of uses must not turn one store into
		 * thousands of unbounded updates. */
		if (!tracker_charge(u->d, 1))
			continue;
		if (add) {
			ptwalk_entry_add(u, idx, &nd);
		} else {
			u->d->st.descs_changed++;
			ptwalk_entry_remove(u, idx, &od);
		}
	}
	if (keys != stack)
		free(keys);
}

/*
 * One use, the usual case: no key list, and each value decoded once for
 * the comparison and the walk.  Removing an entry drops only uses at
 * deeper levels than the entry's table (a child's level is its parent's
 * + 1), so u outlives its own removal.
 */
static void sole_use_changed(struct wpt_table_use *u, uint64_t idx,
			     uint64_t old, uint64_t new)
{
	struct wpt_domain *d = u->d;
	struct wpt_table *t = u->table;
	struct wpt_desc od, nd;

	if (d->doomed)
		goto out;
	ptwalk_decode(u, old, &od);
	ptwalk_decode(u, new, &nd);
	if (same_decoded(&od, &nd) || !tracker_charge(d, 1))
		goto out;
	d->st.descs_changed++;
	ptwalk_entry_remove(u, idx, &od);
	t->snap[idx] = new;
	if (!d->doomed)
		ptwalk_entry_add(u, idx, &nd);
	return;
out:
	t->snap[idx] = new;
}

/* Descriptor idx of t now reads new (t is pinned by the caller or used). */
static void desc_changed(struct wpt_vm *vm, struct wpt_table *t, uint64_t idx,
			 uint64_t new)
{
	uint64_t old = t->snap[idx];

	vm->st.descs_changed++;
	tracker_table_pin(t);
	if (t->nr_uses == 1) {
		sole_use_changed(RB_ROOT(&t->uses), idx, old, new);
	} else {
		for_each_use(vm, t, idx, old, new, false);
		t->snap[idx] = new;
		for_each_use(vm, t, idx, old, new, true);
	}
	tracker_table_unpin(vm, t);
}

/* Diff descriptors [first, last] of t against RAM. */
static void diff_range(struct wpt_vm *vm, struct wpt_table *t, uint64_t first,
		       uint64_t last)
{
	uint64_t i, now;

	for (i = table_next_changed(t, first, last, &now); i <= last;
	     i = table_next_changed(t, i + 1, last, &now))
		desc_changed(vm, t, i, now);
}

void diff_table(struct wpt_vm *vm, struct wpt_table *t)
{
	diff_range(vm, t, 0, t->size / 8 - 1);
}

/* No memory to diff the page: fault every domain with a table there
 * (their teardown unmaps everything), so no change to it goes unseen. */
static void page_fault_domains(struct wpt_page *pg)
{
	unsigned int i;

	for (i = 0; i < pg->nr_tables; i++) {
		struct wpt_table_use *u;

		RB_FOREACH(u, wpt_use_tree, &pg->tables[i]->uses)
			tracker_fault(u->d, -ENOMEM, "cannot diff a table page");
	}
}

static void count_write(struct wpt_vm *vm, struct wpt_domain *d)
{
	if (d->write_seq != vm->op_seq) {
		d->write_seq = vm->op_seq;
		d->st.writes++;
	}
}

void diff_page(struct wpt_vm *vm, struct wpt_page *pg, uint64_t gpa,
	       uint64_t len)
{
	struct wpt_table *stack[4], **tables = stack;
	unsigned int n = pg->nr_tables, i;

	/* Copy and pin: diffing may track or free tables on this page. */
	if (n > 4) {
		tables = malloc(n * sizeof(*tables));
		if (!tables) {
			page_fault_domains(pg);
			return;
		}
	}
	for (i = 0; i < n; i++) {
		struct wpt_table_use *u;

		/* Copied here, not by memcpy: one table, the usual case, cost
		 * a call into libc on every store. */
		tables[i] = pg->tables[i];
		tracker_table_pin(tables[i]);
		/* A store to a table counts once for each domain using it
		 * (one use, the usual case, is the tree's root). */
		if (tables[i]->nr_uses == 1) {
			count_write(vm, RB_ROOT(&tables[i]->uses)->d);
			continue;
		}
		RB_FOREACH(u, wpt_use_tree, &tables[i]->uses)
			count_write(vm, u->d);
	}
	for (i = 0; i < n; i++) {
		struct wpt_table *t = tables[i];
		uint64_t lo = gpa > t->gpa ? gpa : t->gpa;
		uint64_t hi = gpa + len < t->gpa + t->size ? gpa + len
							  : t->gpa + t->size;

		if (lo < hi)
			diff_range(vm, t, (lo - t->gpa) / 8,
				   (hi - 1 - t->gpa) / 8);
	}
	for (i = 0; i < n; i++)
		tracker_table_unpin(vm, tables[i]);
	if (tables != stack)
		free(tables);
}

/* An entry the range walk found changed. */
static void range_changed(void *opaque, struct wpt_table *t, uint64_t idx,
			  uint64_t now)
{
	desc_changed(opaque, t, idx, now);
}

void diff_iova_range(struct wpt_domain *d, uint64_t lo, uint64_t hi)
{
	ptwalk_range(d, lo, hi, range_changed, d->vm);
}
