/* SPDX-License-Identifier: MIT */
/*
 * Relaxed mode's state (relax.c: the unsynced pages and their sync;
 * relax_api.c: the settings, the doorbells, the bound and the API).
 * Under vm->lock but for the fields marked atomic.
 */
#ifndef WPT_RELAX_INT_H
#define WPT_RELAX_INT_H

#include <time.h>

#include "relax.h"

/* Trapped stores remembered to spot a burst: a leaf table being filled
 * hits one page over and over; eight covers a driver that alternates
 * between a few tables (a map that crosses into the next table). */
#define RELAX_RECENT 8
#define RELAX_MAX_BELLS 64
#define RELAX_DEFAULT_PAGES 64
#define RELAX_DEFAULT_BURST 2
#define RELAX_DEFAULT_QUIET 1
/* In an unsynced page's entry: let go since the last sync point.  Its
 * trapped stores were diffed already, so the page may read as its
 * snapshot; it is still being written and stays writable at its first
 * sync point (a map and unmap stream: let go at the unmap, synced at its
 * invalidation, written again by the next map). */
#define RELAX_FRESH 1ull
/* Bits 1-11 of an entry: the sync points in a row that found it unwritten
 * (protected again at cfg.quiet_syncs). */
#define RELAX_QUIET_SHIFT 1
#define RELAX_QUIET_MAX 2047u
#define entry_quiet(e) ((unsigned int)(((e) & ~WPT_PAGE_MASK) >> RELAX_QUIET_SHIFT))

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
static inline uint64_t relax_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static inline void cfg_fill(struct wpt_relax_cfg *c)
{
	if (!c->max_pages)
		c->max_pages = RELAX_DEFAULT_PAGES;
	if (!c->burst)
		c->burst = RELAX_DEFAULT_BURST;
	if (!c->quiet_syncs)
		c->quiet_syncs = RELAX_DEFAULT_QUIET;
}

#endif
