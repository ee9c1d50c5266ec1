/* SPDX-License-Identifier: MIT */
/*
 * The ioctl the test hands the library's VFIO sink (wpt_sink_vfio_new_ioctl):
 * it forwards every request to the real container and watches what goes by.
 *  - counts VFIO_IOMMU_MAP_DMA and VFIO_IOMMU_UNMAP_DMA calls (coalescing);
 *  - keeps the set of mappings the container holds because of the sink, and
 *    checks every unmap names exactly one of them (type1v2 refuses to
 *    bisect a mapping; the sink must never ask it to);
 *  - checks every map is aligned to the smallest reported IOMMU page size;
 *  - records each failure, so a test can tell an error it provoked from
 *    one it did not.
 * One global instance: the ioctl signature carries no context.  Used from
 * one thread.
 */
#ifndef WPT_VFIO_CALLS_H
#define WPT_VFIO_CALLS_H

#include <stdbool.h>
#include <stdint.h>

#define VFIO_CALLS_LIVE_MAX 4096

struct vfio_live {
	uint64_t iova, size, vaddr;
	uint32_t flags;
};

struct vfio_calls {
	uint64_t maps, unmaps;          /* calls that succeeded */
	uint64_t map_errors, unmap_errors;
	uint64_t expected_errors;       /* failures a test provoked and checked */
	uint64_t unmatched_unmaps;      /* unmap not exactly one live mapping */
	uint64_t short_unmaps;          /* kernel unmapped other than asked */
	uint64_t misaligned;            /* map not aligned to the min page size */
	uint64_t other;                 /* any other request */
	uint64_t pgmask;                /* smallest page size - 1 */
	/* The last failure. */
	int last_errno;
	unsigned long last_request;
	uint64_t last_iova, last_size;
	struct vfio_live live[VFIO_CALLS_LIVE_MAX];
	unsigned int nr_live;
	bool live_overflow;
};

extern struct vfio_calls vfio_calls;

/* The wpt_ioctl_fn. */
int vfio_calls_ioctl(int fd, unsigned long request, void *arg);

/* The live mapping containing iova, or NULL. */
const struct vfio_live *vfio_calls_find(uint64_t iova);

#endif
