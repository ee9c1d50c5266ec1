/* SPDX-License-Identifier: MIT */
/*
 * The walker (ptwalk.h).  Every walk classifies an entry the same way
 * (entry_classify): that is the one place where permissions are combined
 * and leaves are kept to RAM.
 */
#include <errno.h>
#include <stdbool.h>

#include "ptwalk.h"
#include "shadow.h"
#include "tracker.h"

enum entry_kind {
	ENTRY_NONE,       /* invalid, or a leaf that grants nothing */
	ENTRY_TABLE,      /* the next level's table at dd.addr */
	ENTRY_LEAF,       /* maps [dd.addr, + dd.size) of RAM with perm */
	ENTRY_OUTSIDE_RAM /* a leaf a device must never reach */
};

/* What decoded dd is under the ancestors' mask.  *perm: a leaf's
 * permissions, or the mask a table hands down to its own entries.  *reg
 * caches the RAM region found last (guestmem_region_cached): the leaves of
 * one table mostly lie in one region, and a search per leaf was a tenth of
 * a walk's time. */
static inline enum entry_kind
entry_kind(const struct wpt_guestmem *mem, const struct wpt_ram_region **reg,
	   const struct wpt_desc *dd, uint32_t mask, uint32_t *perm)
{
	*perm = dd->perm & mask;
	if (dd->type == WPT_DESC_TABLE)
		return ENTRY_TABLE;
	if (dd->type != WPT_DESC_LEAF || !*perm)
		return ENTRY_NONE;
	/* Invariant: only registered guest RAM reaches a device. */
	return guestmem_region_cached(mem, reg, dd->addr, dd->size)
		       ? ENTRY_LEAF
		       : ENTRY_OUTSIDE_RAM;
}

/* Decode desc at level and classify it (entry_kind). */
static enum entry_kind entry_classify(const struct wpt_format_ops *fmt,
				      const struct wpt_pgtable_geo *geo,
				      const struct wpt_guestmem *mem,
				      const struct wpt_ram_region **reg,
				      int level, uint64_t desc, uint32_t mask,
				      struct wpt_desc *dd, uint32_t *perm)
{
	fmt->decode(geo, level, desc, dd);
	return entry_kind(mem, reg, dd, mask, perm);
}

/* Where a table at gpa can be read, or NULL: outside RAM (or in MMIO),
 * or misaligned, it maps nothing. */
static uint64_t *table_hva(const struct wpt_guestmem *mem, uint64_t gpa,
			   uint64_t size)
{
	return gpa % 8 ? NULL : guestmem_hva(mem, gpa, size);
}

/* ------------------------------------------------- the tracker's walks */

static void use_remove(struct wpt_domain *d, int level, uint64_t iova,
		       uint64_t gpa);

/*
 * The leaves of one table's entries, gathered in IOVA order and added to
 * the shadow together (shadow_leaves_add): one overlap check, one dirty
 * span per run and one charge for the lot, where a leaf at a time paid a
 * lookup, a span and a reservation each (most of set_root's time).
 */
#define LEAF_BATCH SHADOW_BATCH_MAX

struct leaf_batch {
	const struct wpt_ram_region *reg; /* entry_kind's cache */
	bool add;                         /* else leaves to remove */
	unsigned int n;
	struct wpt_mapping m[LEAF_BATCH];
};

static void leaf_add(struct wpt_domain *d, const struct wpt_mapping *m)
{
	int ret;

	if (shadow_nr_leaves(d->shadow) >= d->limits.max_leaves) {
		tracker_fault(d, -E2BIG, "too many leaves mapped");
		return;
	}
	/* A leaf changed is charged like a descriptor visited: it costs a
	 * shadow update and, at the end, a share of the sink calls. */
	if (!tracker_charge(d, 1))
		return;
	ret = shadow_leaf_add(d->shadow, m->iova, m->size, m->gpa, m->perm);
	if (ret)
		tracker_fault(d, ret, "leaf overlaps another");
}

/* Add the batch's leaves, together when that does exactly what one at a
 * time would: the leaf limit not reached within it (else one at a time,
 * which faults at the leaf past it), nothing else in its span (else one
 * at a time, which faults at a leaf overlapped, if any is). */
static void batch_add(struct wpt_domain *d, struct leaf_batch *b,
		      unsigned int n)
{
	unsigned int i;
	int ret;

	if (n > d->limits.max_leaves - shadow_nr_leaves(d->shadow) ||
	    shadow_nr_leaves(d->shadow) > d->limits.max_leaves) {
		for (i = 0; i < n && !d->doomed; i++)
			leaf_add(d, &b->m[i]);
		return;
	}
	if (!tracker_charge(d, n))
		return;
	ret = shadow_leaves_add(d->shadow, b->m, n);
	for (i = 0; ret == -EEXIST && i < n; i++)
		ret = shadow_leaf_add(d->shadow, b->m[i].iova, b->m[i].size,
				      b->m[i].gpa, b->m[i].perm);
	if (ret)
		tracker_fault(d, ret, "leaf overlaps another");
}

/* Remove the batch's leaves, charged as one at a time would be: a leaf
 * not found (its add was refused) is visited all the same. */
static void batch_remove(struct wpt_domain *d, struct leaf_batch *b,
			 unsigned int n)
{
	unsigned int removed;
	int ret;

	if (!tracker_charge(d, n))
		return;
	/* -ENOMEM removed nothing: the teardown of the faulted domain
	 * unmaps them, so no removal is lost. */
	ret = shadow_leaves_remove(d->shadow, b->m, n, &removed);
	if (ret)
		tracker_fault(d, ret, "cannot record a leaf removal");
}

static void batch_flush(struct wpt_domain *d, struct leaf_batch *b)
{
	unsigned int n = b->n;

	b->n = 0;
	if (!n || d->doomed)
		return;
	if (b->add)
		batch_add(d, b, n);
	else
		batch_remove(d, b, n);
}

static void leaf_remove(struct wpt_domain *d, uint64_t iova, uint64_t size)
{
	int ret;

	/* Refused: the domain faults, and its teardown removes the leaf
	 * anyway. */
	if (!tracker_charge(d, 1))
		return;
	/* -ENOENT: the add was refused (a fault tore it down).  Any other
	 * error (-ENOMEM) leaves the leaf in the shadow: fault the domain,
	 * whose teardown unmaps everything, so the removal is never lost. */
	ret = shadow_leaf_remove(d->shadow, iova, size);
	if (ret && ret != -ENOENT)
		tracker_fault(d, ret, "cannot record a leaf removal");
}

void ptwalk_decode(const struct wpt_table_use *u, uint64_t desc,
		   struct wpt_desc *dd)
{
	u->d->fmt->decode(&u->d->geo, u->level, desc, dd);
}

/* Map (add) or unmap what entry idx of use u says (dd, decoded): the
 * removal undoes exactly what the addition of the same desc did.  With a
 * batch (adding), a leaf joins it instead of going to the shadow alone. */
static void entry_apply(struct wpt_table_use *u, uint64_t idx,
			const struct wpt_desc *dd, bool add,
			struct leaf_batch *b)
{
	struct wpt_domain *d = u->d;
	uint64_t iova = ptwalk_entry_iova(&d->geo, u->level, u->iova, idx);
	const struct wpt_ram_region *reg = NULL;
	uint32_t perm;

	if (d->doomed)
		return;
	switch (entry_kind(&d->vm->mem, b ? &b->reg : &reg, dd, u->perm_mask,
			   &perm)) {
	case ENTRY_NONE:
		if (add && dd->type == WPT_DESC_INVALID)
			tracker_count_fault(d, dd);
		return;
	case ENTRY_TABLE:
		if (b)
			batch_flush(d, b); /* IOVA order: these come first */
		if (add)
			ptwalk_use_add(d, u->level + 1, iova, dd->addr, perm);
		else
			use_remove(d, u->level + 1, iova, dd->addr);
		return;
	case ENTRY_OUTSIDE_RAM:
		d->st.out_of_ram += add;
		d->vm->st.out_of_ram += add;
		return;
	case ENTRY_LEAF:
		if (b) {
			b->m[b->n++] = (struct wpt_mapping){
				.iova = iova, .gpa = dd->addr,
				.size = dd->size, .perm = perm };
			if (b->n == LEAF_BATCH)
				batch_flush(d, b);
		} else if (add) {
			leaf_add(d, &(struct wpt_mapping){
				.iova = iova, .gpa = dd->addr,
				.size = dd->size, .perm = perm });
		} else {
			leaf_remove(d, iova, dd->size);
		}
		return;
	}
}

void ptwalk_entry_add(struct wpt_table_use *u, uint64_t idx,
		      const struct wpt_desc *dd)
{
	entry_apply(u, idx, dd, true, NULL);
}

void ptwalk_entry_remove(struct wpt_table_use *u, uint64_t idx,
			 const struct wpt_desc *dd)
{
	entry_apply(u, idx, dd, false, NULL);
}

/* What one use's entries share, read once (a use's fields never change):
 * a leaf's stores into the batch may alias them, so each entry read them. */
struct use_walk {
	const struct wpt_guestmem *mem;
	uint64_t iova;       /* the use's */
	unsigned int shift;  /* bytes an entry maps: 1 << shift */
	uint32_t perm_mask;  /* the use's */
};

/* A leaf at idx (dd) that maps RAM joins batch b: true.  Else false, for
 * entry_apply.  Inline: a table of leaves passes here 512 times, and
 * entry_apply's frame cost a leaf 40 instructions. */
static inline bool batch_leaf(struct wpt_domain *d, const struct use_walk *w,
			      struct leaf_batch *b, uint64_t idx,
			      const struct wpt_desc *dd)
{
	uint32_t perm;

	if (entry_kind(w->mem, &b->reg, dd, w->perm_mask, &perm) !=
	    ENTRY_LEAF)
		return false;
	b->m[b->n++] = (struct wpt_mapping){
		.iova = ptwalk_iova_at(w->iova, w->shift, idx),
		.gpa = dd->addr, .size = dd->size, .perm = perm };
	if (b->n == LEAF_BATCH)
		batch_flush(d, b);
	return true;
}

#define DECODE_BATCH 32 /* entries decoded at once: 1 KiB of stack */

/* Map (add) or unmap every entry of use u's table: one pass over the
 * snapshot, decoded a batch at a time from the next entry in use (a
 * sparse upper table's empty runs cost a test each), its leaves batched. */
static void use_entries(struct wpt_table_use *u, const uint64_t *snap,
			uint64_t n, bool add)
{
	struct wpt_domain *d = u->d;
	const struct use_walk w = {
		.mem = &d->vm->mem, .iova = u->iova,
		.shift = geo_level_shift(&d->geo, u->level),
		.perm_mask = u->perm_mask };
	struct leaf_batch b;
	struct wpt_desc dd[DECODE_BATCH];
	uint64_t i = 0, j, k;

	b.reg = NULL;
	b.add = add;
	b.n = 0;
	while (!d->doomed) {
		while (i < n && !snap[i])
			i++;
		if (i == n)
			break;
		k = n - i < DECODE_BATCH ? n - i : DECODE_BATCH;
		d->fmt->decode_many(&d->geo, u->level, &snap[i], k, dd);
		for (j = 0; j < k && !d->doomed; j++)
			if (snap[i + j] &&
			    !batch_leaf(d, &w, &b, i + j, &dd[j]))
				entry_apply(u, i + j, &dd[j], add, &b);
		i += k;
	}
	batch_flush(d, &b);
}

int ptwalk_use_add(struct wpt_domain *d, int level, uint64_t iova,
		   uint64_t gpa, uint32_t perm_mask)
{
	struct wpt_vm *vm = d->vm;
	uint64_t size = geo_table_size(&d->geo, level), n = size / 8;
	struct wpt_table_use *u;
	struct wpt_table *t;
	uint64_t *hva;

	if (d->doomed)
		return d->fault;
	hva = table_hva(&vm->mem, gpa, size);
	if (!hva) {
		d->st.out_of_ram++;
		vm->st.out_of_ram++;
		return 0;
	}
	if (d->nr_uses >= d->limits.max_table_uses) {
		tracker_fault(d, -E2BIG, "too many table uses");
		return d->fault;
	}
	t = tracker_table_get(d, gpa, size, hva);
	if (!t)
		return d->fault;
	if (tracker_use_lookup(t, d, level, iova)) {
		/* One position of one tree cannot hold two tables. */
		tracker_fault(d, -EEXIST, "table used twice at one place");
		goto out;
	}
	u = tracker_use_link(t, d, level, iova, perm_mask);
	if (u && tracker_charge(d, n))
		use_entries(u, t->snap, n, true);
out:
	tracker_table_unpin(vm, t);
	return d->fault;
}

static void use_remove(struct wpt_domain *d, int level, uint64_t iova,
		       uint64_t gpa)
{
	uint64_t size = geo_table_size(&d->geo, level);
	struct wpt_table_use *u;
	struct wpt_table *t;

	t = tracker_table_lookup(d->vm, gpa, size);
	u = t ? tracker_use_lookup(t, d, level, iova) : NULL;
	if (!u)
		return; /* never added: outside RAM, or refused */
	tracker_table_pin(t);
	/* Tearing a use down visits its descriptors, as adding it did. */
	if (tracker_charge(d, size / 8)) {
		use_entries(u, t->snap, size / 8, false);
		tracker_use_unlink(u);
	}
	tracker_table_unpin(d->vm, t);
}

void ptwalk_root_remove(struct wpt_domain *d)
{
	if (d->has_root && !d->doomed)
		use_remove(d, d->geo.start_level, 0, d->root_gpa);
}

/* ------------------------------------------------------- IOVA ranges */

struct range_walk {
	struct wpt_domain *d;
	ptwalk_changed_fn changed;
	void *opaque;
};

static void range_table(struct range_walk *w, int level, uint64_t base,
			uint64_t gpa, uint64_t lo, uint64_t hi)
{
	struct wpt_domain *d = w->d;
	uint64_t size = geo_table_size(&d->geo, level);
	unsigned int shift = geo_level_shift(&d->geo, level);
	struct wpt_table *t = tracker_table_lookup(d->vm, gpa, size);
	uint64_t first, last, i;

	if (!t || !tracker_use_lookup(t, d, level, base))
		return;
	first = lo > base ? (lo - base) >> shift : 0;
	last = (hi - base) >> shift;
	if (last >= size / 8)
		last = size / 8 - 1;
	if (first > last || !tracker_charge(d, last - first + 1))
		return;
	tracker_table_pin(t);
	/* The last level holds no tables: only its changed entries matter,
	 * and an unchanged one costs a compare, not a decode. */
	if (level == WPT_LAST_LEVEL) {
		uint64_t now;

		for (i = table_next_changed(t, first, last, &now);
		     i <= last && !d->doomed;
		     i = table_next_changed(t, i + 1, last, &now))
			w->changed(w->opaque, t, i, now);
		tracker_table_unpin(d->vm, t);
		return;
	}
	for (i = first; i <= last && !d->doomed; i++) {
		uint64_t now = guestmem_load64(&t->hva[i]);
		uint64_t iova = ptwalk_entry_iova(&d->geo, level, base, i);
		uint64_t end = iova + ((1ull << shift) - 1);
		struct wpt_desc dd;

		if (now != t->snap[i]) {
			/* A changed table was walked whole when added. */
			w->changed(w->opaque, t, i, now);
			continue;
		}
		d->fmt->decode(&d->geo, level, now, &dd);
		if (dd.type == WPT_DESC_TABLE)
			range_table(w, level + 1, iova, dd.addr,
				    lo > iova ? lo : iova, hi < end ? hi : end);
	}
	tracker_table_unpin(d->vm, t);
}

void ptwalk_range(struct wpt_domain *d, uint64_t lo, uint64_t hi,
		  ptwalk_changed_fn changed, void *opaque)
{
	struct range_walk w = { d, changed, opaque };

	if (d->has_root && !d->fault)
		range_table(&w, d->geo.start_level, 0, d->root_gpa, lo, hi);
}

/* ----------------------------------------------- read-only tree walks */

struct tree_walk {
	const struct wpt_format_ops *fmt;
	const struct wpt_pgtable_geo *geo;
	const struct wpt_guestmem *mem;
	const struct ptwalk_cb *cb;
	uint64_t left; /* descriptors it may still visit */
	const struct wpt_ram_region *reg; /* entry_kind's cache */
};

static int tree_table(struct tree_walk *w, int level, uint64_t base,
		      uint64_t gpa, uint32_t mask)
{
	uint64_t size = geo_table_size(w->geo, level), n = size / 8, i;
	const uint64_t *hva = table_hva(w->mem, gpa, size);
	int ret = 0;

	if (!hva)
		return 0;
	if (w->cb->table)
		ret = w->cb->table(w->cb->opaque, level, base, gpa, size, mask);
	if (ret)
		return ret;
	if (n > w->left)
		return -E2BIG;
	w->left -= n;
	for (i = 0; i < n && !ret; i++) {
		uint64_t iova = ptwalk_entry_iova(w->geo, level, base, i);
		struct wpt_desc dd;
		uint32_t perm;

		switch (entry_classify(w->fmt, w->geo, w->mem, &w->reg, level,
				       guestmem_load64(&hva[i]), mask, &dd,
				       &perm)) {
		case ENTRY_TABLE:
			ret = tree_table(w, level + 1, iova, dd.addr, perm);
			break;
		case ENTRY_LEAF:
			if (w->cb->leaf)
				ret = w->cb->leaf(w->cb->opaque, iova, dd.addr,
						  dd.size, perm);
			break;
		default:
			break;
		}
	}
	return ret;
}

int ptwalk_tree(const struct wpt_format_ops *fmt,
		const struct wpt_pgtable_geo *geo,
		const struct wpt_guestmem *mem, uint64_t root_gpa,
		uint64_t max_descs, const struct ptwalk_cb *cb)
{
	struct tree_walk w = { fmt, geo, mem, cb, max_descs, NULL };

	return tree_table(&w, geo->start_level, 0, root_gpa,
			  WPT_PERM_READ | WPT_PERM_WRITE);
}
