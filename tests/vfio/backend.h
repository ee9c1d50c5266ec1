/* SPDX-License-Identifier: MIT */
/*
 * The two ways a VMM hands a device's DMA to the host IOMMU, as the test
 * drives them: VFIO type1 (a container and the device's IOMMU group) and
 * iommufd (an IOAS and the device's VFIO cdev).  A backend supplies only
 * what differs: its setup, the VMM's own scratch mapping, the library sink
 * on it, and its teardown.  Everything after setup (the edu checks, the
 * steps in each mode, the extra checks) is one piece of code for both
 * (wpt-vfio-test.c, run.c, steps.c, extras.c).
 *
 * Each backend has a fixed number of TAP points, all named "<name>: ...",
 * so the plan stays fixed whether it runs, is skipped (missing) or stops
 * after a failed setup.
 */
#ifndef WPT_VFIO_BACKEND_H
#define WPT_VFIO_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

struct rig;
struct wpt_sink;

struct backend {
	const char *name;                 /* "type1", "iommufd" */
	const char *map_call, *unmap_call; /* the requests, as points name them */
	const char *const *setup_points;  /* the setup points' short names */
	unsigned int nr_setup;
	bool has_dma_limit;               /* type1's dma_entry_limit point */
	/* NULL if the running kernel offers it, else why not, in buf (a TAP
	 * skip reason). */
	const char *(*missing)(struct rig *r, const char *bdf, char *buf,
			       size_t n);
	/* The setup points, nr_setup of them when all goes well; false if
	 * the device cannot be used (then the rest of the points fail). */
	bool (*setup)(struct rig *r, const char *bdf, unsigned int group);
	/* The VMM's own mapping of the scratch buffer at SCRATCH_IOVA, made
	 * directly, not through the library.  0 or -errno. */
	int (*map_scratch)(struct rig *r);
	/* A library sink on it, its ioctl watched by sink_calls. */
	int (*sink_new)(struct rig *r, struct wpt_sink **out);
	/* Let go of all setup opened (the device before its IOMMU side). */
	void (*close)(struct rig *r);
};

extern const struct backend backend_type1, backend_iommufd;

#endif
