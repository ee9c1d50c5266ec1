/* SPDX-License-Identifier: MIT */
/*
 * A fake kernel for running tests/vfio/ on the host (never linked into the
 * guest's binary): the test's calls to open, ioctl, mmap, pread and the
 * rest are redirected here with -Wl,--wrap (the list is in the Makefile's
 * tests/vfio/sim block), and this file answers them as a kernel with VFIO
 * type1, iommufd and a VFIO device cdev would, with QEMU's edu device
 * behind an IOMMU:
 *
 *  - type1: /dev/vfio/vfio, group BDF_GROUP, MAP_DMA / UNMAP_DMA with
 *    type1v2's rules (no bisecting, EEXIST on overlap, the IOVA ranges,
 *    dma_entry_limit read at VFIO_SET_IOMMU), GET_INFO with its
 *    capability chain;
 *  - iommufd: /dev/iommu, IOAS_ALLOC, IOAS_IOVA_RANGES (the whole space
 *    until a device attaches, then narrowed), IOAS_MAP (FIXED_IOVA,
 *    EEXIST, the ranges, alignment) and IOAS_UNMAP (whole areas only,
 *    ENOENT otherwise, the length written back);
 *  - the cdev /dev/vfio/devices/vfio0, listed under
 *    /sys/bus/pci/devices/BDF/vfio-dev: nothing works on it before
 *    VFIO_DEVICE_BIND_IOMMUFD, which refuses (EBUSY) while the group is
 *    open, as opening the group is refused while the cdev is bound;
 *  - the device from either path: config space (the command register
 *    clears when the device is closed, as vfio-pci disables it), BAR0;
 *  - edu's DMA engine: a transfer runs when the test sleeps waiting for
 *    it (nanosleep), through whichever address space the device is
 *    attached to, with no bus mastering nothing at all; a refused read
 *    yields zeros, a refused write is dropped, and either logs a DMAR
 *    fault line readable from /dev/kmsg.
 * edu_probe is replaced (its liveness register needs a device that
 * answers between a store and the next load, which plain memory cannot).
 */
#ifndef WPT_VFIO_SIM_FAKE_KERNEL_H
#define WPT_VFIO_SIM_FAKE_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#define BDF       "0000:00:03.0"
#define BDF_GROUP 3

struct fake_cfg {
	const char *release;   /* what uname says */
	bool type1;            /* /dev/vfio/vfio and the group */
	bool iommufd;          /* /dev/iommu */
	bool cdev;             /* the device cdev, listed in sysfs */
	/* Faults to inject: */
	bool bind_fails;       /* VFIO_DEVICE_BIND_IOMMUFD: ENODEV */
	bool stale_ioas_unmap; /* IOAS_UNMAP succeeds, the IOMMU keeps the
				* old translation (a broken kernel) */
};

struct fake_stats {
	uint64_t type1_maps, type1_unmaps;
	uint64_t ioas_maps, ioas_unmaps, iova_ranges, binds, attaches;
	uint64_t busy;         /* group or bind refused: the other is in use */
	uint64_t dma_type1, dma_ioas; /* transfers through each space */
	uint64_t faults;       /* DMAR lines logged */
	uint64_t bad;          /* requests a real kernel would refuse */
	uint64_t hw_errors;    /* edu transfers QEMU would abort on */
};

extern struct fake_stats fake_stats;

/* Configure before running the test; dir is an existing directory the
 * fake sysfs listing of the cdev may use. */
void fake_kernel_init(const struct fake_cfg *cfg, const char *dir);

#endif
