/* SPDX-License-Identifier: MIT */
/*
 * The test rig: the backend in use (type1 or iommufd, backend.h), what the
 * VMM set up for it and the edu device, the guest, a scratch buffer the VMM
 * maps itself (outside the library) so the device's internal buffer can be
 * filled and read back, and the TAP state.
 *
 * Device-side checks ("probes") run in batches of one edu transfer each:
 *  1. fill the device buffer from scratch page 0: a marker under the read
 *     slots, a fresh pattern under the write slots;
 *  2. each write probe: device buffer slot -> IOVA;
 *  3. each read probe: IOVA -> device buffer slot;
 *  4. read the device buffer back into scratch page 1 and judge:
 *     - an IOVA the sink holds must read exactly the bytes at its GPA's
 *       HVA, and a write must land there (unless the mapping is read-only);
 *     - any other IOVA must read as refused (the marker left alone, or
 *       zeros: QEMU fills a read the IOMMU refused with zeros) and never
 *       as the bytes it used to reach; a write must change nothing.
 */
#ifndef WPT_VFIO_RIG_H
#define WPT_VFIO_RIG_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "edu.h"
#include "guest.h"
#include "tap.h"
#include "vfio_setup.h"

/* The VMM's own mapping, below the edu DMA mask and clear of every IOVA
 * the guest tables use (those stay below 16 MiB). */
#define SCRATCH_IOVA   0x0ff00000ull
#define SCRATCH_PAGES  4u
#define SCRATCH_SIZE   (SCRATCH_PAGES * 4096ull)
/* Never mapped by anyone. */
#define UNMAPPED_IOVA  0x0fe00000ull

#define PROBE_LEN      64u
#define PROBE_MAX      30u /* of each kind in one batch */
#define MARKER_BYTE    0x5a

struct rig {
	const struct backend *backend;
	struct vfio_env vfio;
	uint32_t dma_limit;       /* type1: dma_entry_limit set, 0 if not */
	struct edu edu;
	struct guest *g;
	uint8_t *scratch;
	bool scratch_mapped;
	struct tap tap;
	uint32_t seq;             /* varies probe offsets and patterns */
	uint32_t refused_zero, refused_marker; /* how refused reads looked */
	uint64_t probes_ok;
	/* Pages of every IOVA a probe expected the IOMMU to refuse: the
	 * DMAR faults the kernel logs must all be among them. */
	uint64_t refused_pages[512];
	unsigned int nr_refused_pages;
	/* HYBRID, before invalidations: removed IOVAs still mapped. */
	unsigned int stale_held, stale_gone;
};

struct probe {
	uint64_t iova;     /* any address in the page to probe */
	bool write;        /* device -> IOVA; else IOVA -> device */
	uint64_t old_gpa;  /* where the IOVA used to reach, 0 if nowhere */
	/* Filled by rig_probe(). */
	bool held;
	uint64_t gpa;
	uint32_t perm;
	uint32_t slot;
	uint8_t before[PROBE_LEN];
	uint8_t pattern[PROBE_LEN];
};

/* Run one batch against what domain d's shadow says its sink holds (d may
 * be NULL: then nothing is held but the scratch).  Failures go to the open
 * TAP point with where as context.  Returns how many probes failed, or a
 * negative errno if the device itself failed. */
int rig_probe(struct rig *r, struct wpt_domain *d, struct probe *pr,
	      unsigned int n, const char *where);

/* What the domain's shadow says the sink holds. */
long rig_held(struct wpt_domain *d, struct wpt_mapping *out, size_t max);

#endif
