/* SPDX-License-Identifier: MIT */
/*
 * The guest model's insides, shared by its files:
 *   guest_model.c      state, rng, table-page allocator, references,
 *                      stores, invalidation bookkeeping
 *   guest_model_pt.c   map, unmap, block split (io-pgtable-arm's moves)
 *   guest_model_step.c the random operations and their mix
 */
#ifndef WPT_SIM_GUEST_MODEL_INT_H
#define WPT_SIM_GUEST_MODEL_INT_H

#include "guest_model.h"

/* Where a table is referenced from: entry idx of table page parent, or the
 * root of a domain (parent = GM_REF_ROOT(d)), or a table being built off to
 * the side (GM_REF_BUILD) that nothing can reach yet. */
#define GM_REF_ROOT(d) (-1 - (int32_t)(d))
#define GM_REF_BUILD INT32_MIN

struct gm_ref {
	int32_t parent;
	uint32_t idx;
};

enum gm_page_state {
	GM_PAGE_FREE = 0, /* stale bytes, may be handed out again */
	GM_PAGE_TABLE,    /* first page of a table */
	GM_PAGE_TAIL,     /* later page of a concatenated root */
};

struct gm_page {
	uint8_t state;
	int8_t level;
	uint32_t nr_refs;
	uint32_t cap_refs;
	struct gm_ref *refs;
};

/* One map the guest made and has not wholly unmapped (a DMA API buffer). */
struct gm_alloc {
	uint64_t iova;
	uint64_t size;
};

struct gm_dom {
	enum wpt_mode mode;
	int32_t root;             /* page id of the root table */
	struct gm_range *pending; /* unmapped, not invalidated: sorted */
	size_t nr_pending, cap_pending;
	struct gm_alloc *allocs;
	size_t nr_allocs, cap_allocs;
	uint64_t window;          /* IOVA where most maps go */
};

/* A place a table is seen: domain d walks it at level, entry 0 at base. */
struct gm_pos {
	unsigned int d;
	int level;
	uint64_t base;
};
#define GM_MAX_POS 64

/* Kinds of change, for the invalidation each mode owes. */
enum gm_change {
	GM_CHANGE_MAP,   /* something became mapped */
	GM_CHANGE_UNMAP, /* leaves went away: lazy invalidation */
	GM_CHANGE_WALK,  /* a table went away: invalidated at once */
};

struct gm {
	struct gm_cfg cfg;
	const struct wpt_format_ops *fmt;
	struct wpt_pgtable_geo geo;
	struct gm_rng rng;
	uint64_t granule;
	uint64_t nr_pages;
	struct gm_page *pages;
	uint64_t pages_in_use;
	struct gm_dom dom[GM_MAX_DOMAINS];
	int err; /* first callback error */
	/* The last gm_store_desc left a different valid descriptor visible
	 * between its two halves. */
	bool transient;
};

/* ---- guest_model.c ---- */
uint64_t gm_page_gpa(const struct gm *m, int32_t id);
int32_t gm_page_id(const struct gm *m, uint64_t gpa); /* -1: not arena */
uint64_t gm_entry_size(const struct gm *m, int level);
uint64_t gm_entries(const struct gm *m, int level);
uint64_t gm_read(const struct gm *m, uint64_t gpa);
int gm_store(struct gm *m, uint64_t gpa, const void *bytes, unsigned int len);
/* One descriptor: an 8-byte store, or (half_ok, sometimes) two 4-byte
 * stores in either order; sets m->transient (see struct gm). */
int gm_store_desc(struct gm *m, uint64_t gpa, uint64_t desc, bool half_ok);
bool gm_chance(struct gm *m, unsigned int one_in);

/* A zeroed table of pages pages for level, with one GM_REF_BUILD
 * reference; -1 if the arena is full. */
int32_t gm_table_alloc(struct gm *m, int level, uint64_t pages);
void gm_ref_add(struct gm *m, int32_t t, int32_t parent, uint32_t idx);
/* Drop one reference; the last one frees t and drops its children's. */
void gm_ref_put(struct gm *m, int32_t t, int32_t parent, uint32_t idx);
/* t, built off to the side, is now referenced from (parent, idx). */
void gm_ref_install(struct gm *m, int32_t t, int32_t parent, uint32_t idx);
size_t gm_positions(const struct gm *m, int32_t t, struct gm_pos *out);

/* Descriptors as this driver writes them. */
bool gm_is_table(const struct gm *m, int level, uint64_t desc);
bool gm_is_leaf(const struct gm *m, int level, uint64_t desc);
int32_t gm_table_of(const struct gm *m, uint64_t desc);
uint64_t gm_leaf_desc(const struct gm *m, int level, uint64_t gpa,
		      uint32_t perm);
uint64_t gm_table_desc(const struct gm *m, int32_t t, bool rdonly);

/* Before making [off, off + len) of table t mapped: send the waiting
 * invalidations any domain owes there (the guest never reuses an IOVA
 * before its flush). */
int gm_before_map(struct gm *m, int32_t t, uint64_t off, uint64_t len);
/* After changing [off, off + len) of table t (offsets from its entry 0):
 * invalidate or queue what each domain that sees t is owed. */
int gm_changed(struct gm *m, int32_t t, uint64_t off, uint64_t len,
	       enum gm_change kind);
int gm_invalidate(struct gm *m, unsigned int d, uint64_t iova, uint64_t size);
bool gm_pending_overlaps(const struct gm *m, unsigned int d, uint64_t iova,
			 uint64_t size);

/* ---- guest_model_pt.c ---- */
/* Whether nothing in [iova, iova + size) of d is mapped or tabled beyond
 * what allows new leaves (no leaf, no table holding a leaf there). */
bool gm_range_free(const struct gm *m, unsigned int d, uint64_t iova,
		   uint64_t size);
/* A copy of the tree under t (level) in new pages; -1 if full. */
int32_t gm_tree_copy(struct gm *m, int32_t t, int level);

#endif
