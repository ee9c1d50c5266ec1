/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM: GPA -> HVA over the VM's registered regions, with bounds checks.
 * Everything the library maps or reads goes through here, which is how it
 * keeps the rule that nothing outside registered RAM is ever mapped.
 *
 * Immutable after guestmem_init(): safe to read from any thread without a lock.
 */
#ifndef WPT_GUESTMEM_H
#define WPT_GUESTMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "wpt.h"

#define WPT_PAGE_SHIFT 12
#define WPT_PAGE_SIZE (1ull << WPT_PAGE_SHIFT)
#define WPT_PAGE_MASK (~(WPT_PAGE_SIZE - 1))

struct wpt_guestmem {
	struct wpt_ram_region *regions; /* sorted by gpa, non-overlapping */
	unsigned int nr;
};

/* Copy and sort regions; -EINVAL if misaligned, empty, overlapping or
 * wrapping. */
int guestmem_init(struct wpt_guestmem *gm, const struct wpt_ram_region *r,
		  unsigned int nr);
void guestmem_fini(struct wpt_guestmem *gm);

/* The region holding all of [gpa, gpa + len), or NULL.  len > 0.
 * Inline: a trapped store asks it four times (the exit, the old and new
 * leaf, the sink call), and the binary search over a VMM's few regions
 * is shorter than a call. */
static inline const struct wpt_ram_region *
guestmem_region(const struct wpt_guestmem *gm, uint64_t gpa, uint64_t len)
{
	unsigned int lo = 0, hi = gm->nr;

	if (!len || gpa + len < gpa)
		return NULL;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct wpt_ram_region *x = &gm->regions[mid];

		if (gpa < x->gpa)
			hi = mid;
		else if (gpa - x->gpa >= x->size)
			lo = mid + 1;
		else
			return len <= x->size - (gpa - x->gpa) ? x : NULL;
	}
	return NULL;
}

/* Whether region reg (NULL: none) holds all of [gpa, gpa + len), len > 0. */
static inline bool guestmem_region_holds(const struct wpt_ram_region *reg,
					 uint64_t gpa, uint64_t len)
{
	return reg && gpa >= reg->gpa && len && gpa + len >= gpa &&
	       gpa + len - reg->gpa <= reg->size;
}

/* guestmem_region through a cache: *last, the region found last, is tried
 * first (a walk's leaves fall in one region, one after another) and
 * updated.  *last NULL or stale costs the search only. */
static inline const struct wpt_ram_region *
guestmem_region_cached(const struct wpt_guestmem *gm,
		       const struct wpt_ram_region **last, uint64_t gpa,
		       uint64_t len)
{
	const struct wpt_ram_region *x = *last;

	if (guestmem_region_holds(x, gpa, len))
		return x;
	x = guestmem_region(gm, gpa, len);
	if (x)
		*last = x;
	return x;
}

/* HVA of gpa if all of [gpa, gpa + len) lies in one region, else NULL. */
void *guestmem_hva(const struct wpt_guestmem *gm, uint64_t gpa, uint64_t len);

/* The GPA behind hva, if a region maps it (a faulting address the kernel
 * reported).  No lock, no allocation: safe in a signal handler. */
bool guestmem_gpa_of_hva(const struct wpt_guestmem *gm, uintptr_t hva,
			 uint64_t *gpa);

/* One 8-byte descriptor as a concurrent vCPU could have left it: a single
 * relaxed 64-bit load.  gpa must be 8-aligned and in RAM (caller checked). */
static inline uint64_t guestmem_load64(const void *hva)
{
	return __atomic_load_n((const uint64_t *)hva, __ATOMIC_RELAXED);
}

#endif
