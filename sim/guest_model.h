/* SPDX-License-Identifier: MIT */
/*
 * A simulated guest IOMMU driver: it builds Arm VMSAv8-64 tables in a RAM
 * buffer the way Linux's io-pgtable-arm (as used by the SMMUv3 driver, up
 * to 6.12) does, and says every store, invalidation and root change it
 * makes through callbacks, so a test can push them through the library and
 * a tool can print them as a trace.
 *
 * What it does like Linux:
 *  - a new table is a zeroed page installed with one 8-byte store (the
 *    cmpxchg64 of arm_lpae_install_table), leaves are plain 8-byte stores;
 *  - map and unmap go in chunks of the largest page or block size that the
 *    alignment allows (iommu_pgsize), unmap at the level of the chunk;
 *  - unmapping a whole entry that holds a table clears the entry, then
 *    invalidates that range at once (the walk-cache flush), then frees the
 *    table and everything under it (the pages keep their stale bytes and
 *    go back to the allocator);
 *  - unmapping part of a block splits it: a new table is filled while no
 *    walk can reach it, then replaces the block with one 8-byte store,
 *    and the split recurses down to the size being unmapped;
 *  - invalidations per mode: WPT_MODE_INVAL invalidates every change, map
 *    included (VT-d caching mode); TRAP and HYBRID invalidate unmaps lazily
 *    (a flush queue: ranges wait, then go as ranges or one "all"), never
 *    maps, and never remap an IOVA whose unmap still waits.
 * What it does beyond Linux, to exercise the engine: tables shared under
 * two parents or two domains, root switches (a shallow copy sharing every
 * subtree, or a deep copy), half-writes of leaf descriptors (two 4-byte
 * stores, either order), 16-byte stores of two leaves, APTable on stage 1
 * tables, write-only stage 2 leaves, leaves outside RAM, and stray data
 * stores (to pages holding no table, and to the unused tail of a small
 * root table's page).
 *
 * The model reads the tables straight from the RAM buffer (the guest reads
 * its own memory) and writes only through the store callback, which must
 * put the bytes into that buffer (directly or through the library).
 * No global state; not thread-safe.
 */
#ifndef WPT_SIM_GUEST_MODEL_H
#define WPT_SIM_GUEST_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wpt.h"
#include "format/format.h"

#define GM_MAX_DOMAINS 4

/* A small seeded generator (xorshift64*), so a seed reproduces a run. */
struct gm_rng {
	uint64_t s;
};

void gm_rng_seed(struct gm_rng *r, uint64_t seed);
uint64_t gm_rng_next(struct gm_rng *r);
/* Uniform in [0, n); 0 when n == 0. */
uint64_t gm_rng_below(struct gm_rng *r, uint64_t n);

struct gm_ops {
	/* A guest store of len bytes (1, 2, 4, 8 or 16), naturally aligned,
	 * bytes in memory order.  Must leave them in the RAM buffer. */
	int (*store)(void *opaque, uint64_t gpa, const void *bytes,
		     unsigned int len);
	/* The guest invalidated [iova, iova + size) of domain; size == 0
	 * means everything (TLBI by ASID / VMID). */
	int (*invalidate)(void *opaque, unsigned int domain, uint64_t iova,
			  uint64_t size);
	/* The guest pointed domain at a new root table (CD / STE write). */
	int (*set_root)(void *opaque, unsigned int domain, uint64_t gpa);
};

struct gm_cfg {
	uint8_t *ram;            /* the guest's RAM, ram_size bytes */
	uint64_t ram_gpa;
	uint64_t ram_size;
	uint64_t arena_gpa;      /* table pages come from here: granule */
	uint64_t arena_size;     /* aligned, inside RAM */
	struct wpt_format_cfg fmt; /* every domain's format */
	unsigned int nr_domains; /* 1..GM_MAX_DOMAINS */
	enum wpt_mode mode[GM_MAX_DOMAINS];
	uint64_t seed;
	const struct gm_ops *ops;
	void *opaque;
};

/* An IOVA range [iova, iova + size). */
struct gm_range {
	uint64_t iova;
	uint64_t size;
};

struct gm;

/* Validate cfg (the format through its ops) and set up; no store yet. */
int gm_new(const struct gm_cfg *cfg, struct gm **out);
void gm_free(struct gm *m);

/* Give every domain an empty root (zeroed, then set_root). */
int gm_start(struct gm *m);

/*
 * One random guest operation; what names it ("map d0 iova=... size=...")
 * and is always set.  Returns 0, or the first nonzero a callback returned,
 * or -ENOMEM when the arena is full (nothing half done is left visible).
 */
int gm_step(struct gm *m, char *what, size_t whatlen);

/* Operations a test may drive directly.  gm_map: gpa and iova aligned to
 * the page size, perm WPT_PERM_*; -EEXIST if part of the range is mapped. */
int gm_map(struct gm *m, unsigned int domain, uint64_t iova, uint64_t gpa,
	   uint64_t size, uint32_t perm);
int gm_unmap(struct gm *m, unsigned int domain, uint64_t iova, uint64_t size);
/* Send every waiting invalidation of domain. */
int gm_flush(struct gm *m, unsigned int domain);

/* The geometry every domain uses, and a domain's root now. */
const struct wpt_pgtable_geo *gm_geo(const struct gm *m);
uint64_t gm_root(const struct gm *m, unsigned int domain);

/* Ranges of domain the guest unmapped but has not invalidated yet, sorted,
 * non-overlapping.  Valid until the next call into the model. */
size_t gm_pending(const struct gm *m, unsigned int domain,
		  const struct gm_range **out);

/* Table pages in use now (counting the pages of roots). */
uint64_t gm_tables_in_use(const struct gm *m);

#endif
