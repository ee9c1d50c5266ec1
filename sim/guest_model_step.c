/* SPDX-License-Identifier: MIT */
/*
 * The guest model's random operations and their mix: a DMA-API-like user
 * mapping and unmapping buffers (mostly inside a window of IOVA, as an
 * IOVA allocator hands them out), flushing its lazy invalidations, plus
 * the moves a plain Linux guest does not make but another guest may:
 * shared tables, root switches, stray data stores.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "guest_model_int.h"

#define MAX_ALLOCS 48
#define DESC_APTABLE_RO (1ull << 62)

static uint64_t pick_aligned(struct gm *m, uint64_t lo, uint64_t hi,
			     uint64_t size, uint64_t align)
{
	/* A random align-aligned start s with lo <= s, s + size <= hi. */
	uint64_t first = (lo + align - 1) / align * align;

	if (first + size > hi || first < lo)
		return UINT64_MAX;
	return first + gm_rng_below(&m->rng, (hi - size - first) / align + 1) *
		       align;
}

static uint64_t root_pages(const struct gm *m)
{
	return m->geo.root_size > m->granule ? m->geo.root_size / m->granule
					     : 1;
}

int gm_start(struct gm *m)
{
	uint64_t ias = 1ull << m->geo.ias, span = 16 * gm_entry_size(m, 2);
	unsigned int d;

	if (m->geo.start_level > 2 || span > ias)
		span = ias;
	for (d = 0; d < m->cfg.nr_domains; d++) {
		struct gm_dom *dm = &m->dom[d];
		int32_t r = gm_table_alloc(m, m->geo.start_level, root_pages(m));

		if (r < 0)
			return m->err ? m->err : -ENOMEM;
		gm_ref_install(m, r, GM_REF_ROOT(d), 0);
		dm->root = r;
		dm->window = gm_rng_below(&m->rng, ias / span) * span;
		if (m->cfg.ops->set_root(m->cfg.opaque, d, gm_page_gpa(m, r)))
			return -EIO;
	}
	return m->err;
}

static void alloc_add(struct gm_dom *dm, uint64_t iova, uint64_t size)
{
	if (dm->nr_allocs == dm->cap_allocs) {
		dm->cap_allocs = dm->cap_allocs ? 2 * dm->cap_allocs : 16;
		dm->allocs = realloc(dm->allocs,
				     dm->cap_allocs * sizeof(*dm->allocs));
		if (!dm->allocs)
			abort();
	}
	dm->allocs[dm->nr_allocs++] = (struct gm_alloc){ iova, size };
}

static bool alloc_overlaps(const struct gm_dom *dm, uint64_t iova,
			   uint64_t size)
{
	size_t i;

	for (i = 0; i < dm->nr_allocs; i++)
		if (dm->allocs[i].iova < iova + size &&
		    iova < dm->allocs[i].iova + dm->allocs[i].size)
			return true;
	return false;
}

/* Size and alignment of a new buffer: pages, blocks, or a run that fills
 * a whole last-level table (so its unmap frees the table). */
static void pick_size(struct gm *m, uint64_t *size, uint64_t *align,
		      bool *block)
{
	uint64_t g = m->granule, ias = 1ull << m->geo.ias;
	uint64_t span3 = gm_entries(m, WPT_LAST_LEVEL) * g;
	uint64_t r = gm_rng_below(&m->rng, 100);
	int level, levels[2], nl = 0;

	*size = (1 + gm_rng_below(&m->rng, 8)) * g;
	*align = g;
	*block = false;
	if (r < 55) {
		if (gm_chance(m, 10))
			*size = (1 + gm_rng_below(&m->rng, 2 * gm_entries(m, 3))) * g;
		return;
	}
	if (r >= 85) {
		if (gm_entries(m, 3) <= 2048 && span3 < ias)
			*size = *align = span3;
		return;
	}
	for (level = m->geo.start_level; level < WPT_LAST_LEVEL; level++)
		if ((level == 2 || (level == 1 && g == 4096)) &&
		    gm_entry_size(m, level) < ias)
			levels[nl++] = level;
	if (!nl)
		return;
	level = levels[gm_rng_below(&m->rng, nl)];
	*align = gm_entry_size(m, level);
	*size = *align * (1 + gm_rng_below(&m->rng, 2));
	if (*size >= ias)
		*size = *align;
	if (gm_chance(m, 3) && *size + 4 * g < ias)
		*size += (1 + gm_rng_below(&m->rng, 4)) * g;
	*block = true;
}

/* An output address: mostly in RAM, sometimes anywhere below the OAS (the
 * library must map none of what falls outside RAM). */
static uint64_t pick_gpa(struct gm *m, uint64_t size, uint64_t align)
{
	uint64_t lo = m->cfg.ram_gpa, hi = lo + m->cfg.ram_size, gpa;

	gpa = gm_chance(m, 20) ? UINT64_MAX : pick_aligned(m, lo, hi, size,
							    align);
	if (gpa == UINT64_MAX)
		gpa = pick_aligned(m, 0, 1ull << m->geo.oas, size, align);
	return gpa;
}

static uint32_t pick_perm(struct gm *m)
{
	uint64_t r = gm_rng_below(&m->rng, 20);

	if (r < 6)
		return WPT_PERM_READ;
	/* Stage 2 can grant write without read (S2AP = 0b10). */
	if (r < 8 && m->cfg.fmt.format == WPT_FMT_ARM_LPAE_S2)
		return WPT_PERM_WRITE;
	return WPT_PERM_READ | WPT_PERM_WRITE;
}

static uint64_t pick_iova(struct gm *m, unsigned int d, uint64_t size,
			  uint64_t align)
{
	struct gm_dom *dm = &m->dom[d];
	uint64_t ias = 1ull << m->geo.ias, span = 16 * gm_entry_size(m, 2);
	uint64_t iova;
	int tries;

	if (m->geo.start_level > 2 || span > ias)
		span = ias;
	for (tries = 0; tries < 8; tries++) {
		if (gm_chance(m, 5) || size * 4 > span)
			iova = pick_aligned(m, 0, ias, size, align);
		else
			iova = pick_aligned(m, dm->window, dm->window + span,
					    size, align);
		if (iova != UINT64_MAX && !alloc_overlaps(dm, iova, size) &&
		    gm_range_free(m, d, iova, size))
			return iova;
	}
	return UINT64_MAX;
}

static int op_unmap(struct gm *m, char *what, size_t len);

static int op_map(struct gm *m, char *what, size_t len)
{
	unsigned int d = (unsigned int)gm_rng_below(&m->rng, m->cfg.nr_domains);
	uint64_t size, align, iova, gpa;
	uint32_t perm;
	bool block;
	int ret;

	if (m->dom[d].nr_allocs >= MAX_ALLOCS)
		return op_unmap(m, what, len);
	pick_size(m, &size, &align, &block);
	iova = pick_iova(m, d, size, align);
	gpa = pick_gpa(m, size, block ? align : m->granule);
	perm = pick_perm(m);
	snprintf(what, len, "map d%u iova=%#llx gpa=%#llx size=%#llx perm=%u",
		 d, (unsigned long long)iova, (unsigned long long)gpa,
		 (unsigned long long)size, perm);
	if (iova == UINT64_MAX || gpa == UINT64_MAX)
		return 0; /* no room: the allocator said no */
	ret = gm_map(m, d, iova, gpa, size, perm);
	if (ret == -ENOMEM)
		return 0;
	if (!ret)
		alloc_add(&m->dom[d], iova, size);
	return ret;
}

static int op_unmap(struct gm *m, char *what, size_t len)
{
	unsigned int d = (unsigned int)gm_rng_below(&m->rng, m->cfg.nr_domains);
	struct gm_dom *dm = &m->dom[d];
	uint64_t g = m->granule, pages, first, n;
	struct gm_alloc a;
	size_t k;
	int ret;

	if (!dm->nr_allocs)
		return op_map(m, what, len);
	k = gm_rng_below(&m->rng, dm->nr_allocs);
	a = dm->allocs[k];
	pages = a.size / g;
	first = 0;
	n = pages;
	if (pages > 1 && gm_chance(m, 3)) {
		first = gm_rng_below(&m->rng, pages);
		n = 1 + gm_rng_below(&m->rng, pages - first);
	}
	snprintf(what, len, "unmap d%u iova=%#llx size=%#llx", d,
		 (unsigned long long)(a.iova + first * g),
		 (unsigned long long)(n * g));
	ret = gm_unmap(m, d, a.iova + first * g, n * g);
	if (ret == -ENOMEM)
		return 0; /* a split found no page: nothing was unmapped */
	dm->allocs[k] = dm->allocs[--dm->nr_allocs];
	if (first)
		alloc_add(dm, a.iova, first * g);
	if (first + n < pages)
		alloc_add(dm, a.iova + (first + n) * g, (pages - first - n) * g);
	return ret;
}

static int op_flush(struct gm *m, char *what, size_t len)
{
	unsigned int d = (unsigned int)gm_rng_below(&m->rng, m->cfg.nr_domains);

	snprintf(what, len, "flush d%u (%zu ranges)", d, m->dom[d].nr_pending);
	return gm_flush(m, d);
}

/* A store of data: to a page no table lives in (RAM anywhere, or a free
 * arena page with its stale bytes), or past the entries of a root table
 * smaller than its page. */
static int op_stray(struct gm *m, char *what, size_t len)
{
	unsigned int n = 1u << gm_rng_below(&m->rng, 5), d, tries;
	uint64_t bytes[2] = { gm_rng_next(&m->rng), gm_rng_next(&m->rng) };
	uint64_t gpa = UINT64_MAX, rs = m->geo.root_size;

	if (rs < m->granule && gm_chance(m, 3)) {
		d = (unsigned int)gm_rng_below(&m->rng, m->cfg.nr_domains);
		gpa = gm_root(m, d) + rs +
		      gm_rng_below(&m->rng, (m->granule - rs) / n) * n;
	}
	for (tries = 0; gpa == UINT64_MAX && tries < 16; tries++) {
		const struct gm_cfg *c = &m->cfg;
		int32_t id;

		gpa = gm_chance(m, 2)
			? c->arena_gpa + gm_rng_below(&m->rng, c->arena_size / n) * n
			: c->ram_gpa + gm_rng_below(&m->rng, c->ram_size / n) * n;
		id = gm_page_id(m, gpa);
		if (id >= 0 && m->pages[id].state != GM_PAGE_FREE)
			gpa = UINT64_MAX;
	}
	snprintf(what, len, "stray gpa=%#llx len=%u", (unsigned long long)gpa,
		 n);
	if (gpa == UINT64_MAX)
		return 0;
	return gm_store(m, gpa, bytes, n);
}

/* Random table page ids matching want(), into ids; how many. */
static size_t tables_where(struct gm *m, int32_t *ids,
			   bool (*want)(struct gm *, int32_t, void *), void *arg)
{
	size_t n = 0;
	uint64_t i;

	for (i = 0; i < m->nr_pages; i++)
		if (m->pages[i].state == GM_PAGE_TABLE &&
		    want(m, (int32_t)i, arg))
			ids[n++] = (int32_t)i;
	return n;
}

static bool shareable(struct gm *m, int32_t t, void *arg)
{
	/* At most two parents each keeps every table's places few. */
	return m->pages[t].level > m->geo.start_level &&
	       m->pages[t].nr_refs < 2;
}

struct parent_want {
	int level;
	unsigned int d;
};

static bool parent_in(struct gm *m, int32_t t, void *arg)
{
	struct parent_want *w = arg;
	struct gm_pos pos[GM_MAX_POS];
	size_t n, i;

	if (m->pages[t].level != w->level)
		return false;
	n = gm_positions(m, t, pos);
	for (i = 0; i < n; i++)
		if (pos[i].d == w->d)
			return true;
	return false;
}

/* The same table under a second parent, in the same domain or another. */
static int op_share(struct gm *m, char *what, size_t len)
{
	int32_t *ids = malloc(m->nr_pages * sizeof(*ids)), t, p;
	struct parent_want w;
	uint64_t idx = 0, es;
	size_t n;
	int tries, ret = 0;

	if (!ids)
		abort();
	snprintf(what, len, "share: nothing to share");
	n = tables_where(m, ids, shareable, NULL);
	if (!n)
		goto out;
	t = ids[gm_rng_below(&m->rng, n)];
	w.level = m->pages[t].level - 1;
	w.d = (unsigned int)gm_rng_below(&m->rng, m->cfg.nr_domains);
	n = tables_where(m, ids, parent_in, &w);
	if (!n)
		goto out;
	p = ids[gm_rng_below(&m->rng, n)];
	for (tries = 0; tries < 8; tries++) {
		idx = gm_rng_below(&m->rng, gm_entries(m, w.level));
		if (!gm_read(m, gm_page_gpa(m, p) + 8 * idx))
			break;
	}
	if (tries == 8)
		goto out;
	es = gm_entry_size(m, w.level);
	snprintf(what, len, "share table %#llx under %#llx[%llu] (d%u)",
		 (unsigned long long)gm_page_gpa(m, t),
		 (unsigned long long)gm_page_gpa(m, p),
		 (unsigned long long)idx, w.d);
	if (gm_before_map(m, p, idx * es, es))
		goto out;
	gm_store_desc(m, gm_page_gpa(m, p) + 8 * idx,
		      gm_table_desc(m, t, false), false);
	gm_ref_add(m, t, p, (uint32_t)idx);
	ret = gm_changed(m, p, idx * es, es, GM_CHANGE_MAP);
out:
	free(ids);
	return ret ? ret : m->err;
}

static bool shared(struct gm *m, int32_t t, void *arg)
{
	return m->pages[t].nr_refs > 1;
}

/* Take one parent's reference to a shared table away. */
static int op_unshare(struct gm *m, char *what, size_t len)
{
	int32_t *ids = malloc(m->nr_pages * sizeof(*ids)), t;
	static const uint64_t zero;
	struct gm_ref r;
	size_t n;

	if (!ids)
		abort();
	n = tables_where(m, ids, shared, NULL);
	snprintf(what, len, "unshare: nothing shared");
	if (!n) {
		free(ids);
		return 0;
	}
	t = ids[gm_rng_below(&m->rng, n)];
	free(ids);
	r = m->pages[t].refs[gm_rng_below(&m->rng, m->pages[t].nr_refs)];
	if (r.parent < 0)
		return 0; /* roots are never shared: a build reference */
	snprintf(what, len, "unshare table %#llx from %#llx[%u]",
		 (unsigned long long)gm_page_gpa(m, t),
		 (unsigned long long)gm_page_gpa(m, r.parent), r.idx);
	gm_store(m, gm_page_gpa(m, r.parent) + 8ull * r.idx, &zero, 8);
	gm_changed(m, r.parent, r.idx * gm_entry_size(m, m->pages[t].level - 1),
		   gm_entry_size(m, m->pages[t].level - 1), GM_CHANGE_WALK);
	gm_ref_put(m, t, r.parent, r.idx);
	return m->err;
}

/* A new root sharing every subtree of the old one. */
static int32_t root_shallow_copy(struct gm *m, int32_t old)
{
	int level = m->geo.start_level;
	int32_t nt = gm_table_alloc(m, level, root_pages(m));
	uint64_t i;

	if (nt < 0)
		return -1;
	for (i = 0; i < gm_entries(m, level); i++) {
		uint64_t desc = gm_read(m, gm_page_gpa(m, old) + 8 * i);

		if (!desc)
			continue;
		gm_store(m, gm_page_gpa(m, nt) + 8 * i, &desc, 8);
		if (gm_is_table(m, level, desc))
			gm_ref_add(m, gm_table_of(m, desc), nt, (uint32_t)i);
	}
	return nt;
}

/* Point a domain at a copy of its tree, drop the old root, and invalidate
 * everything (CFGI_CD then TLBI by ASID). */
static int op_root(struct gm *m, char *what, size_t len)
{
	unsigned int d = (unsigned int)gm_rng_below(&m->rng, m->cfg.nr_domains);
	bool deep = gm_chance(m, 2);
	int32_t old = m->dom[d].root, nt;

	nt = deep ? gm_tree_copy(m, old, m->geo.start_level)
		  : root_shallow_copy(m, old);
	snprintf(what, len, "root d%u %s copy -> %#llx", d,
		 deep ? "deep" : "shallow",
		 nt < 0 ? 0ull : (unsigned long long)gm_page_gpa(m, nt));
	if (nt < 0)
		return m->err;
	gm_ref_install(m, nt, GM_REF_ROOT(d), 0);
	m->dom[d].root = nt;
	if (m->cfg.ops->set_root(m->cfg.opaque, d, gm_page_gpa(m, nt)) &&
	    !m->err)
		m->err = -EIO;
	gm_ref_put(m, old, GM_REF_ROOT(d), 0);
	return gm_invalidate(m, d, 0, 0);
}

static const struct {
	int (*op)(struct gm *m, char *what, size_t len);
	unsigned int weight;
} ops[] = {
	{ op_map, 34 }, { op_unmap, 24 }, { op_flush, 10 }, { op_stray, 8 },
	{ op_share, 5 }, { op_unshare, 3 }, { op_root, 3 },
};

int gm_step(struct gm *m, char *what, size_t len)
{
	unsigned int total = 0, i;
	uint64_t r;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		total += ops[i].weight;
	r = gm_rng_below(&m->rng, total);
	for (i = 0; r >= ops[i].weight; i++)
		r -= ops[i].weight;
	return ops[i].op(m, what, len) ?: m->err;
}
