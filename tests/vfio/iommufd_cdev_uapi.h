/* SPDX-License-Identifier: MIT */
/*
 * The kernel interfaces the test's iommufd path uses beyond what
 * lib/sink/iommufd_uapi.h already defines (IOMMUFD_TYPE, IOMMUFD_CMD_BASE,
 * IOMMU_IOAS_MAP, IOMMU_IOAS_UNMAP): allocating an IOAS, reading its
 * allowed IOVA ranges, and binding a VFIO device cdev to an iommufd and
 * attaching it to the IOAS.
 *
 * The build machines carry Debian bookworm's linux-libc-dev (6.1), which
 * has neither <linux/iommufd.h> nor the cdev requests in <linux/vfio.h>.
 * Each block below stands only where the system headers lack it, says which
 * kernel added it, and is written for this project to the kernel's ABI:
 * iommufd requests are _IO(';', IOMMUFD_CMD_BASE + n) with the struct size
 * in the struct's first u32; VFIO requests are _IO(VFIO_TYPE, VFIO_BASE + n)
 * with argsz first.  The static assertions pin the layouts.
 */
#ifndef WPT_VFIO_IOMMUFD_CDEV_UAPI_H
#define WPT_VFIO_IOMMUFD_CDEV_UAPI_H

#include <stddef.h>
#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/vfio.h>

#include "sink/iommufd_uapi.h"

#ifndef IOMMU_IOAS_ALLOC
/* Linux 6.2 (the first iommufd): command numbers in the kernel's order from
 * IOMMUFD_CMD_BASE: DESTROY, IOAS_ALLOC, IOAS_ALLOW_IOVAS, IOAS_COPY,
 * IOAS_IOVA_RANGES, then IOAS_MAP and IOAS_UNMAP (in the sink's header). */
enum {
	IOMMUFD_CMD_IOAS_ALLOC = IOMMUFD_CMD_BASE + 1,
	IOMMUFD_CMD_IOAS_IOVA_RANGES = IOMMUFD_CMD_BASE + 4,
};

/* Linux 6.2: a new, empty IO address space; flags 0. */
struct iommu_ioas_alloc {
	__u32 size; /* sizeof(struct iommu_ioas_alloc) */
	__u32 flags;
	__u32 out_ioas_id;
};
#define IOMMU_IOAS_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC)

/* Linux 6.2: one IOVA interval, last inclusive. */
struct iommu_iova_range {
	__aligned_u64 start;
	__aligned_u64 last;
};

/* Linux 6.2: the IOVAs an IOAS may map, narrowed by every attached
 * device's IOMMU (its aperture and reserved regions).  num_iovas in: room
 * in allowed_iovas; out: how many there are (-EMSGSIZE when they did not
 * fit).  IOVA and length of a map must be multiples of out_iova_alignment. */
struct iommu_ioas_iova_ranges {
	__u32 size; /* sizeof(struct iommu_ioas_iova_ranges) */
	__u32 ioas_id;
	__u32 num_iovas;
	__u32 __reserved; /* 0 */
	__aligned_u64 allowed_iovas; /* user pointer to struct iommu_iova_range[] */
	__aligned_u64 out_iova_alignment;
};
#define IOMMU_IOAS_IOVA_RANGES _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_IOVA_RANGES)

_Static_assert(sizeof(struct iommu_ioas_alloc) == 12, "iommu_ioas_alloc ABI");
_Static_assert(sizeof(struct iommu_iova_range) == 16, "iommu_iova_range ABI");
_Static_assert(sizeof(struct iommu_ioas_iova_ranges) == 32,
	       "iommu_ioas_iova_ranges ABI");
_Static_assert(offsetof(struct iommu_ioas_iova_ranges, allowed_iovas) == 16,
	       "iommu_ioas_iova_ranges ABI");
#endif /* !IOMMU_IOAS_ALLOC */

#ifndef VFIO_DEVICE_BIND_IOMMUFD
/* Linux 6.6 (VFIO device cdev, /dev/vfio/devices/vfioN): bind the device
 * to an iommufd; nothing but this request works on a cdev fd before it
 * succeeds.  Refused (-EBUSY) while the device's group is open, and the
 * group cannot be opened while the device is bound.  Later kernels append
 * fields (a VF token pointer) behind out_devid, flagged in flags. */
struct vfio_device_bind_iommufd {
	__u32 argsz;
	__u32 flags; /* 0 */
	__s32 iommufd;
	__u32 out_devid;
};
#define VFIO_DEVICE_BIND_IOMMUFD _IO(VFIO_TYPE, VFIO_BASE + 18)

/* Linux 6.6: attach the bound device to an IOAS (the kernel finds or makes
 * a hardware page table for it, whose id may come back in pt_id) or to a
 * hardware page table.  Later kernels append a PASID, flagged in flags. */
struct vfio_device_attach_iommufd_pt {
	__u32 argsz;
	__u32 flags; /* 0 */
	__u32 pt_id;
};
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 19)

_Static_assert(sizeof(struct vfio_device_bind_iommufd) == 16,
	       "vfio_device_bind_iommufd ABI");
_Static_assert(sizeof(struct vfio_device_attach_iommufd_pt) == 12,
	       "vfio_device_attach_iommufd_pt ABI");
#endif /* !VFIO_DEVICE_BIND_IOMMUFD */

/* The request numbers as the kernel decodes them (type ';' in bits 8-15,
 * no size, no direction), whichever header defined them. */
_Static_assert(IOMMU_IOAS_ALLOC == 0x3b81, "IOMMU_IOAS_ALLOC number");
_Static_assert(IOMMU_IOAS_IOVA_RANGES == 0x3b84, "IOMMU_IOAS_IOVA_RANGES number");
_Static_assert(IOMMU_IOAS_MAP == 0x3b85, "IOMMU_IOAS_MAP number");
_Static_assert(IOMMU_IOAS_UNMAP == 0x3b86, "IOMMU_IOAS_UNMAP number");
_Static_assert(VFIO_DEVICE_BIND_IOMMUFD == 0x3b76,
	       "VFIO_DEVICE_BIND_IOMMUFD number");
_Static_assert(VFIO_DEVICE_ATTACH_IOMMUFD_PT == 0x3b77,
	       "VFIO_DEVICE_ATTACH_IOMMUFD_PT number");

#endif
