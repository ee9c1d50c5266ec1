/* SPDX-License-Identifier: MIT */
/*
 * The guest model's state: its generator, the table-page allocator, who
 * references each table, the stores it makes and the invalidations it owes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest_model_int.h"

/* ------------------------------------------------------------- rng */

void gm_rng_seed(struct gm_rng *r, uint64_t seed)
{
	/* splitmix64 of the seed: xorshift must not start at 0. */
	uint64_t z = seed + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	r->s = (z ^ (z >> 31)) | 1;
}

uint64_t gm_rng_next(struct gm_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

uint64_t gm_rng_below(struct gm_rng *r, uint64_t n)
{
	return n ? gm_rng_next(r) % n : 0;
}

bool gm_chance(struct gm *m, unsigned int one_in)
{
	return gm_rng_below(&m->rng, one_in) == 0;
}

/* ------------------------------------------------------- geometry */

uint64_t gm_page_gpa(const struct gm *m, int32_t id)
{
	return m->cfg.arena_gpa + (uint64_t)id * m->granule;
}

int32_t gm_page_id(const struct gm *m, uint64_t gpa)
{
	if (gpa < m->cfg.arena_gpa || gpa - m->cfg.arena_gpa >= m->cfg.arena_size)
		return -1;
	return (int32_t)((gpa - m->cfg.arena_gpa) / m->granule);
}

uint64_t gm_entry_size(const struct gm *m, int level)
{
	return 1ull << geo_level_shift(&m->geo, level);
}

uint64_t gm_entries(const struct gm *m, int level)
{
	return geo_table_entries(&m->geo, level);
}

uint64_t gm_read(const struct gm *m, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, m->cfg.ram + (gpa - m->cfg.ram_gpa), 8);
	return v;
}

/* ---------------------------------------------------------- stores */

int gm_store(struct gm *m, uint64_t gpa, const void *bytes, unsigned int len)
{
	int ret = m->cfg.ops->store(m->cfg.opaque, gpa, bytes, len);

	if (ret && !m->err)
		m->err = ret;
	return ret;
}

int gm_store_desc(struct gm *m, uint64_t gpa, uint64_t desc, bool half_ok)
{
	uint32_t lo = (uint32_t)desc, hi = (uint32_t)(desc >> 32);
	uint64_t old, mid;
	bool lo_first;

	m->transient = false;
	/* A guest built without 64-bit single-copy atomic stores (or a
	 * compiler splitting a plain store) writes the halves apart; the
	 * walker may see either half-written state in between. */
	if (!half_ok || !gm_chance(m, 8))
		return gm_store(m, gpa, &desc, 8);
	old = gm_read(m, gpa);
	lo_first = gm_chance(m, 2);
	mid = lo_first ? (old & ~0xffffffffull) | lo
		       : ((uint64_t)hi << 32) | (old & 0xffffffffull);
	/* A valid in-between descriptor was live: a TLB may hold it until
	 * the guest invalidates, exactly like something unmapped. */
	m->transient = (mid & 1) && mid != old && mid != desc;
	if (lo_first)
		return gm_store(m, gpa, &lo, 4) ?: gm_store(m, gpa + 4, &hi, 4);
	return gm_store(m, gpa + 4, &hi, 4) ?: gm_store(m, gpa, &lo, 4);
}

/* Zero a table page the way memset would end up: only the words that are
 * not zero yet are stored (the page is not reachable, so the skipped
 * stores change nothing anyone sees, and traces stay short). */
static int zero_table(struct gm *m, uint64_t gpa, uint64_t size)
{
	static const uint64_t zero[2];
	uint64_t off;

	for (off = 0; off < size; off += 16) {
		bool a = gm_read(m, gpa + off), b = gm_read(m, gpa + off + 8);

		if (a && b)
			gm_store(m, gpa + off, zero, 16);
		else if (a)
			gm_store(m, gpa + off, zero, 8);
		else if (b)
			gm_store(m, gpa + off + 8, zero, 8);
	}
	return m->err;
}

/* ---------------------------------------------------- descriptors */

#define D_TYPE_MASK   3ull
#define D_TABLE       3ull
#define D_PAGE        3ull
#define D_BLOCK       1ull
#define D_ADDR(low)   ((~0ull >> 16) & (~0ull << (low))) /* [47:low] */
#define D_AF          (1ull << 10)
#define D_SH_INNER    (3ull << 8)
#define D_S1_ATTRIDX1 (1ull << 2)  /* MAIR index 1: Linux's cacheable */
#define D_S1_AP_UNPRV (1ull << 6)  /* AP[1]: Linux sets it */
#define D_S1_AP_RO    (1ull << 7)  /* AP[2] */
#define D_S1_NG       (1ull << 11)
#define D_S2_MEMATTR  (0xfull << 2) /* normal, write-back */
#define D_S2_AP_R     (1ull << 6)
#define D_S2_AP_W     (1ull << 7)
#define D_XN          (1ull << 54)
#define D_APTABLE_RO  (1ull << 62)

bool gm_is_table(const struct gm *m, int level, uint64_t desc)
{
	return level < WPT_LAST_LEVEL && (desc & D_TYPE_MASK) == D_TABLE;
}

bool gm_is_leaf(const struct gm *m, int level, uint64_t desc)
{
	if (level == WPT_LAST_LEVEL)
		return (desc & D_TYPE_MASK) == D_PAGE;
	return (desc & D_TYPE_MASK) == D_BLOCK;
}

int32_t gm_table_of(const struct gm *m, uint64_t desc)
{
	return gm_page_id(m, desc & D_ADDR(m->geo.granule_shift));
}

uint64_t gm_leaf_desc(const struct gm *m, int level, uint64_t gpa,
		      uint32_t perm)
{
	uint64_t d = gpa | D_AF | D_SH_INNER;

	d |= level == WPT_LAST_LEVEL ? D_PAGE : D_BLOCK;
	if (m->geo.flags & WPT_FMT_F_HPD)
		d |= D_XN; /* any bit the walk must ignore */
	if (m->cfg.fmt.format == WPT_FMT_ARM_LPAE_S1) {
		d |= D_S1_ATTRIDX1 | D_S1_AP_UNPRV | D_S1_NG;
		if (!(perm & WPT_PERM_WRITE))
			d |= D_S1_AP_RO;
		return d;
	}
	d |= D_S2_MEMATTR;
	if (perm & WPT_PERM_READ)
		d |= D_S2_AP_R;
	if (perm & WPT_PERM_WRITE)
		d |= D_S2_AP_W;
	return d;
}

uint64_t gm_table_desc(const struct gm *m, int32_t t, bool rdonly)
{
	uint64_t d = gm_page_gpa(m, t) | D_TABLE;

	/* APTable exists at stage 1 only (stage 2 table bits 63:59 RES0). */
	if (rdonly && m->cfg.fmt.format == WPT_FMT_ARM_LPAE_S1)
		d |= D_APTABLE_RO;
	return d;
}

/* ------------------------------------------------------ allocator */

int32_t gm_table_alloc(struct gm *m, int level, uint64_t pages)
{
	uint64_t start = gm_rng_below(&m->rng, m->nr_pages / pages) * pages;
	uint64_t i, j, id;

	/* A random first fit, so freed pages (stale bytes and all) come back
	 * in an order no one can rely on. */
	for (i = 0; i < m->nr_pages; i += pages) {
		id = (start + i) % (m->nr_pages - m->nr_pages % pages);
		for (j = 0; j < pages; j++)
			if (m->pages[id + j].state != GM_PAGE_FREE)
				break;
		if (j == pages)
			goto found;
	}
	return -1;
found:
	for (j = 0; j < pages; j++) {
		m->pages[id + j].state = j ? GM_PAGE_TAIL : GM_PAGE_TABLE;
		m->pages[id + j].level = (int8_t)level;
	}
	m->pages_in_use += pages;
	gm_ref_add(m, (int32_t)id, GM_REF_BUILD, 0);
	if (zero_table(m, gm_page_gpa(m, (int32_t)id), pages * m->granule)) {
		gm_ref_put(m, (int32_t)id, GM_REF_BUILD, 0);
		return -1;
	}
	return (int32_t)id;
}

void gm_ref_add(struct gm *m, int32_t t, int32_t parent, uint32_t idx)
{
	struct gm_page *p = &m->pages[t];

	if (p->nr_refs == p->cap_refs) {
		p->cap_refs = p->cap_refs ? 2 * p->cap_refs : 2;
		p->refs = realloc(p->refs, p->cap_refs * sizeof(*p->refs));
		if (!p->refs)
			abort();
	}
	p->refs[p->nr_refs++] = (struct gm_ref){ parent, idx };
}

static void table_free(struct gm *m, int32_t t)
{
	struct gm_page *p = &m->pages[t];
	int level = p->level;
	uint64_t n = gm_entries(m, level), i, pages;
	uint64_t gpa = gm_page_gpa(m, t);

	/* Linux's __arm_lpae_free_pgtable: the subtree goes too, and the
	 * pages keep whatever they held. */
	for (i = 0; i < n; i++) {
		uint64_t desc = gm_read(m, gpa + 8 * i);

		if (gm_is_table(m, level, desc))
			gm_ref_put(m, gm_table_of(m, desc), t, (uint32_t)i);
	}
	pages = level == m->geo.start_level && m->geo.root_size > m->granule
		? m->geo.root_size / m->granule : 1;
	for (i = 0; i < pages; i++)
		m->pages[t + i].state = GM_PAGE_FREE;
	m->pages_in_use -= pages;
}

void gm_ref_put(struct gm *m, int32_t t, int32_t parent, uint32_t idx)
{
	struct gm_page *p = &m->pages[t];
	uint32_t i;

	for (i = 0; i < p->nr_refs; i++)
		if (p->refs[i].parent == parent && p->refs[i].idx == idx)
			break;
	if (i == p->nr_refs)
		abort(); /* the model's own bookkeeping is broken */
	p->refs[i] = p->refs[--p->nr_refs];
	if (!p->nr_refs)
		table_free(m, t);
}

void gm_ref_install(struct gm *m, int32_t t, int32_t parent, uint32_t idx)
{
	gm_ref_add(m, t, parent, idx);
	gm_ref_put(m, t, GM_REF_BUILD, 0);
}

size_t gm_positions(const struct gm *m, int32_t t, struct gm_pos *out)
{
	const struct gm_page *p = &m->pages[t];
	struct gm_pos up[GM_MAX_POS];
	size_t n = 0, k, j;
	uint32_t i;

	for (i = 0; i < p->nr_refs; i++) {
		const struct gm_ref *r = &p->refs[i];

		if (r->parent == GM_REF_BUILD)
			continue;
		if (r->parent < 0) {
			if (n == GM_MAX_POS)
				abort();
			out[n++] = (struct gm_pos){ (unsigned int)(-1 - r->parent),
						    m->geo.start_level, 0 };
			continue;
		}
		k = gm_positions(m, r->parent, up);
		for (j = 0; j < k; j++) {
			if (n == GM_MAX_POS)
				abort();
			out[n++] = (struct gm_pos){
				up[j].d, up[j].level + 1,
				up[j].base + r->idx * gm_entry_size(m, up[j].level),
			};
		}
	}
	return n;
}

/* -------------------------------------------------- invalidations */

static int range_cmp(const void *a, const void *b)
{
	const struct gm_range *x = a, *y = b;

	return x->iova < y->iova ? -1 : x->iova > y->iova;
}

static void pending_add(struct gm_dom *dm, uint64_t iova, uint64_t size)
{
	size_t i, o;

	if (dm->nr_pending == dm->cap_pending) {
		dm->cap_pending = dm->cap_pending ? 2 * dm->cap_pending : 8;
		dm->pending = realloc(dm->pending,
				      dm->cap_pending * sizeof(*dm->pending));
		if (!dm->pending)
			abort();
	}
	dm->pending[dm->nr_pending++] = (struct gm_range){ iova, size };
	qsort(dm->pending, dm->nr_pending, sizeof(*dm->pending), range_cmp);
	for (i = 1, o = 0; i < dm->nr_pending; i++) {
		struct gm_range *last = &dm->pending[o], *r = &dm->pending[i];

		if (r->iova <= last->iova + last->size) {
			uint64_t end = r->iova + r->size;

			if (end > last->iova + last->size)
				last->size = end - last->iova;
		} else {
			dm->pending[++o] = *r;
		}
	}
	dm->nr_pending = o + 1;
}

/* Take [iova, iova + size) out of the waiting ranges (size 0: all).  The
 * ranges are sorted and disjoint, so at most one of them splits in two. */
static void pending_remove(struct gm_dom *dm, uint64_t iova, uint64_t size)
{
	struct gm_range *out;
	uint64_t end = iova + size;
	size_t i, n = 0;

	if (!size) {
		dm->nr_pending = 0;
		return;
	}
	out = malloc((dm->nr_pending + 1) * sizeof(*out));
	if (!out)
		abort();
	for (i = 0; i < dm->nr_pending; i++) {
		struct gm_range r = dm->pending[i];
		uint64_t rend = r.iova + r.size;

		if (rend <= iova || r.iova >= end) {
			out[n++] = r;
			continue;
		}
		if (r.iova < iova)
			out[n++] = (struct gm_range){ r.iova, iova - r.iova };
		if (rend > end)
			out[n++] = (struct gm_range){ end, rend - end };
	}
	free(dm->pending);
	dm->pending = out;
	dm->nr_pending = n;
	dm->cap_pending = dm->nr_pending + 1;
}

bool gm_pending_overlaps(const struct gm *m, unsigned int d, uint64_t iova,
			 uint64_t size)
{
	const struct gm_dom *dm = &m->dom[d];
	size_t i;

	for (i = 0; i < dm->nr_pending; i++)
		if (dm->pending[i].iova < iova + size &&
		    iova < dm->pending[i].iova + dm->pending[i].size)
			return true;
	return false;
}

int gm_invalidate(struct gm *m, unsigned int d, uint64_t iova, uint64_t size)
{
	int ret = m->cfg.ops->invalidate(m->cfg.opaque, d, iova, size);

	if (ret && !m->err)
		m->err = ret;
	pending_remove(&m->dom[d], iova, size);
	return ret;
}

int gm_before_map(struct gm *m, int32_t t, uint64_t off, uint64_t len)
{
	struct gm_pos pos[GM_MAX_POS];
	size_t n = gm_positions(m, t, pos), i, k;

	for (i = 0; i < n; i++) {
		struct gm_dom *dm = &m->dom[pos[i].d];
		uint64_t iova = pos[i].base + off;

		for (k = 0; k < dm->nr_pending; k++) {
			struct gm_range r = dm->pending[k];

			if (r.iova < iova + len && iova < r.iova + r.size) {
				gm_invalidate(m, pos[i].d, r.iova, r.size);
				k = (size_t)-1; /* the list changed */
			}
		}
	}
	return m->err;
}

int gm_changed(struct gm *m, int32_t t, uint64_t off, uint64_t len,
	       enum gm_change kind)
{
	struct gm_pos pos[GM_MAX_POS];
	size_t n = gm_positions(m, t, pos), i;

	for (i = 0; i < n; i++) {
		unsigned int d = pos[i].d;
		uint64_t iova = pos[i].base + off;

		if (m->dom[d].mode == WPT_MODE_INVAL || kind == GM_CHANGE_WALK)
			gm_invalidate(m, d, iova, len);
		else if (kind == GM_CHANGE_UNMAP)
			pending_add(&m->dom[d], iova, len);
	}
	return m->err;
}

int gm_flush(struct gm *m, unsigned int domain)
{
	struct gm_dom *dm = &m->dom[domain];

	if (!dm->nr_pending)
		return m->err;
	/* Linux's flush queue ends in a TLBI by ASID or by range. */
	if (dm->nr_pending > 4 || gm_chance(m, 3))
		return gm_invalidate(m, domain, 0, 0);
	while (dm->nr_pending)
		gm_invalidate(m, domain, dm->pending[0].iova,
			      dm->pending[0].size);
	return m->err;
}

/* -------------------------------------------------------- life */

int gm_new(const struct gm_cfg *cfg, struct gm **out)
{
	struct gm *m;
	unsigned int d;

	if (!cfg->nr_domains || cfg->nr_domains > GM_MAX_DOMAINS || !cfg->ops)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->cfg = *cfg;
	m->fmt = wpt_format_lookup(cfg->fmt.format);
	if (!m->fmt || m->fmt->init(&cfg->fmt, &m->geo))
		goto inval;
	m->granule = 1ull << m->geo.granule_shift;
	if (cfg->arena_gpa % m->granule || cfg->arena_size % m->granule ||
	    cfg->arena_gpa < cfg->ram_gpa ||
	    cfg->arena_gpa + cfg->arena_size > cfg->ram_gpa + cfg->ram_size ||
	    cfg->arena_size < m->geo.root_size * 2 * cfg->nr_domains)
		goto inval;
	m->nr_pages = cfg->arena_size / m->granule;
	m->pages = calloc(m->nr_pages, sizeof(*m->pages));
	if (!m->pages) {
		free(m);
		return -ENOMEM;
	}
	gm_rng_seed(&m->rng, cfg->seed);
	for (d = 0; d < cfg->nr_domains; d++) {
		m->dom[d].mode = cfg->mode[d];
		m->dom[d].root = -1;
	}
	*out = m;
	return 0;
inval:
	free(m);
	return -EINVAL;
}

void gm_free(struct gm *m)
{
	uint64_t i;
	unsigned int d;

	if (!m)
		return;
	for (i = 0; i < m->nr_pages; i++)
		free(m->pages[i].refs);
	for (d = 0; d < GM_MAX_DOMAINS; d++) {
		free(m->dom[d].pending);
		free(m->dom[d].allocs);
	}
	free(m->pages);
	free(m);
}

const struct wpt_pgtable_geo *gm_geo(const struct gm *m)
{
	return &m->geo;
}

uint64_t gm_root(const struct gm *m, unsigned int domain)
{
	return gm_page_gpa(m, m->dom[domain].root);
}

size_t gm_pending(const struct gm *m, unsigned int domain,
		  const struct gm_range **out)
{
	*out = m->dom[domain].pending;
	return m->dom[domain].nr_pending;
}

uint64_t gm_tables_in_use(const struct gm *m)
{
	return m->pages_in_use;
}
