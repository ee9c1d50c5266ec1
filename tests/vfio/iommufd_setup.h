/* SPDX-License-Identifier: MIT */
/*
 * The VMM's side of iommufd with a VFIO device cdev (Linux 6.6 on): what
 * it does before the library's iommufd sink can map anything (see
 * vfio_setup.h for the type1 side and for the device itself).
 *
 * Every function returns 0 or a negative errno and, on failure, writes
 * what went wrong to why.
 */
#ifndef WPT_VFIO_IOMMUFD_SETUP_H
#define WPT_VFIO_IOMMUFD_SETUP_H

#include <stddef.h>

#include "vfio_setup.h"

/* Where the device's cdev is listed: <this>/<bdf>/vfio-dev/vfioN. */
#define PCI_DEVICES_DIR "/sys/bus/pci/devices"

/* The path of bdf's cdev, /dev/vfio/devices/vfioN, into path; -ENOENT
 * when sysfs lists none (no cdev support, or not bound to vfio-pci). */
int vfio_cdev_find(const char *bdf, char *path, size_t len);

/* /dev/iommu opened and a new IOAS allocated in it. */
int iommufd_open(struct vfio_env *v, char *why, size_t n);

/* v->cdev opened as v->device, bound to v->iommufd, attached to
 * v->ioas_id; vfio_device_setup() does the rest. */
int vfio_cdev_open(struct vfio_env *v, char *why, size_t n);

/* IOMMU_IOAS_IOVA_RANGES of v->ioas_id: ranges and alignment (pgsizes). */
int iommufd_iova_facts(const struct vfio_env *v, struct iommu_facts *f,
		       char *why, size_t n);

#endif
