/* SPDX-License-Identifier: MIT */
/*
 * The two iommufd requests the iommufd sink sends, IOAS map and unmap.
 *
 * The iommufd uapi (<linux/iommufd.h>) arrived in Linux 6.2; the build
 * machines carry linux-libc-dev 6.1, which lacks it.  So when no system
 * header provides it we define what we need here, written for this project
 * to the kernel's ABI: ioctl type ';', command numbers counted from
 * IOMMUFD_CMD_BASE 0x80 in the kernel's order (DESTROY, IOAS_ALLOC,
 * IOAS_ALLOW_IOVAS, IOAS_COPY, IOAS_IOVA_RANGES, IOAS_MAP, IOAS_UNMAP), the
 * numbers encoded with _IO (iommufd carries the struct size in the struct's
 * first u32, not in the request), and the struct layouts below.  Checked
 * against include/uapi/linux/iommufd.h of mainline Linux; the sizes and
 * offsets are pinned by the static assertions at the end, the request
 * numbers by tests/unit/test_sink.c.  A newer system header wins.
 */
#ifndef WPT_IOMMUFD_UAPI_H
#define WPT_IOMMUFD_UAPI_H

#if defined(__has_include)
#if __has_include(<linux/iommufd.h>)
#include <linux/iommufd.h>
#endif
#endif

#ifndef IOMMU_IOAS_MAP
#include <stddef.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define IOMMUFD_TYPE (';')

enum {
	IOMMUFD_CMD_BASE = 0x80,
	/* 0x80..0x84: DESTROY, IOAS_ALLOC, IOAS_ALLOW_IOVAS, IOAS_COPY,
	 * IOAS_IOVA_RANGES, which this library does not send. */
	IOMMUFD_CMD_IOAS_MAP = IOMMUFD_CMD_BASE + 5,
	IOMMUFD_CMD_IOAS_UNMAP = IOMMUFD_CMD_BASE + 6,
};

enum iommufd_ioas_map_flags {
	IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0, /* map at iova, do not allocate one */
	IOMMU_IOAS_MAP_WRITEABLE = 1 << 1,  /* the device may write */
	IOMMU_IOAS_MAP_READABLE = 1 << 2,   /* the device may read */
};

/* Map [user_va, user_va + length) of this process at iova in ioas_id.  With
 * FIXED_IOVA the range must be free: existing IOVA is never replaced. */
struct iommu_ioas_map {
	__u32 size; /* sizeof(struct iommu_ioas_map) */
	__u32 flags;
	__u32 ioas_id;
	__u32 __reserved; /* 0 */
	__aligned_u64 user_va;
	__aligned_u64 length;
	__aligned_u64 iova; /* in with FIXED_IOVA, else out */
};
#define IOMMU_IOAS_MAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP)

/* Unmap whole earlier maps covered by [iova, iova + length); the kernel
 * writes back in length how many bytes it unmapped. */
struct iommu_ioas_unmap {
	__u32 size; /* sizeof(struct iommu_ioas_unmap) */
	__u32 ioas_id;
	__aligned_u64 iova;
	__aligned_u64 length;
};
#define IOMMU_IOAS_UNMAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_UNMAP)

_Static_assert(sizeof(struct iommu_ioas_map) == 40, "iommu_ioas_map ABI");
_Static_assert(offsetof(struct iommu_ioas_map, user_va) == 16,
	       "iommu_ioas_map ABI");
_Static_assert(offsetof(struct iommu_ioas_map, iova) == 32,
	       "iommu_ioas_map ABI");
_Static_assert(sizeof(struct iommu_ioas_unmap) == 24, "iommu_ioas_unmap ABI");
_Static_assert(offsetof(struct iommu_ioas_unmap, length) == 16,
	       "iommu_ioas_unmap ABI");
#endif /* !IOMMU_IOAS_MAP */

#endif
