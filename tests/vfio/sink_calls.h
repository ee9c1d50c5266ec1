/* SPDX-License-Identifier: MIT */
/*
 * The ioctl the test hands the library's kernel-facing sinks
 * (wpt_sink_vfio_new_ioctl, wpt_sink_iommufd_new_ioctl): it forwards every
 * request to the real kernel and watches the maps and unmaps go by, the
 * same way for VFIO type1 (VFIO_IOMMU_MAP_DMA / UNMAP_DMA on a container)
 * and iommufd (IOMMU_IOAS_MAP / IOAS_UNMAP on an IOAS):
 *  - counts maps and unmaps (coalescing);
 *  - keeps the set of mappings the kernel holds because of the sink, and
 *    checks every unmap names exactly one of them (neither type1v2 nor
 *    iommufd bisects a mapping; the sink must never ask);
 *  - checks every map is aligned to the smallest IOMMU page (type1) or the
 *    IOAS's IOVA alignment (iommufd);
 *  - counts requests the sink should never send (an iommufd map without
 *    FIXED_IOVA or to another IOAS, a type1 unmap with flags);
 *  - records each failure, so a test can tell an error it provoked from
 *    one it did not.
 * One global instance: the ioctl signature carries no context.  Used from
 * one thread.
 */
#ifndef WPT_VFIO_SINK_CALLS_H
#define WPT_VFIO_SINK_CALLS_H

#include <stdbool.h>
#include <stdint.h>

#define SINK_CALLS_LIVE_MAX 4096

struct sink_live {
	uint64_t iova, size, vaddr;
	uint32_t perm;                  /* WPT_PERM_* */
};

struct sink_calls {
	uint64_t maps, unmaps;          /* calls that succeeded */
	uint64_t map_errors, unmap_errors;
	uint64_t expected_errors;       /* failures a test provoked and checked */
	uint64_t unmatched_unmaps;      /* unmap not exactly one live mapping */
	uint64_t short_unmaps;          /* kernel unmapped other than asked */
	uint64_t misaligned;            /* map not aligned to pgmask */
	uint64_t odd_requests;          /* flags or IDs the sink must not send */
	uint64_t other;                 /* any other request */
	uint64_t pgmask;                /* smallest page or alignment - 1 */
	uint32_t ioas_id;               /* iommufd: the IOAS the sink maps in */
	/* The last failure. */
	int last_errno;
	unsigned long last_request;
	uint64_t last_iova, last_size;
	struct sink_live live[SINK_CALLS_LIVE_MAX];
	unsigned int nr_live;
	bool live_overflow;
};

extern struct sink_calls sink_calls;

/* Forget everything (a new container or IOAS). */
void sink_calls_reset(uint64_t pgmask, uint32_t ioas_id);

/* The wpt_ioctl_fn. */
int sink_calls_ioctl(int fd, unsigned long request, void *arg);

/* The live mapping containing iova, or NULL. */
const struct sink_live *sink_calls_find(uint64_t iova);

#endif
