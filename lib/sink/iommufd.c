/* SPDX-License-Identifier: MIT */
/*
 * The iommufd sink: IOMMU_IOAS_MAP / IOMMU_IOAS_UNMAP on one IOAS of an
 * iommufd.  The IOVA is the guest's (its IO page tables chose it), so every
 * map asks for that exact IOVA (FIXED_IOVA) rather than letting the kernel
 * allocate one.  user_va is the HVA of the GPA, as with VFIO type1.  The fd
 * stays the caller's.
 */
#include <errno.h>
#include <stdlib.h>

#include "iommufd_uapi.h"
#include "sink.h"

struct iommufd {
	int fd;
	uint32_t ioas_id;
	wpt_ioctl_fn ioctl; /* ioctl(2), or a test's stand-in */
};

static int iommufd_map(struct wpt_sink *s, uint64_t iova, uint64_t gpa,
		       void *hva, uint64_t size, uint32_t perm)
{
	struct iommufd *f = s->priv;
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA,
		.ioas_id = f->ioas_id,
		.user_va = (uintptr_t)hva,
		.length = size,
		.iova = iova,
	};

	/* Neither readable nor writeable maps nothing useful (the kernel
	 * refuses it); other bits have no iommufd meaning. */
	if (!perm || (perm & ~(WPT_PERM_READ | WPT_PERM_WRITE)))
		return -EINVAL;
	if (perm & WPT_PERM_READ)
		map.flags |= IOMMU_IOAS_MAP_READABLE;
	if (perm & WPT_PERM_WRITE)
		map.flags |= IOMMU_IOAS_MAP_WRITEABLE;
	return wpt_sink_ioctl(f->ioctl, f->fd, IOMMU_IOAS_MAP, &map);
}

static int iommufd_unmap(struct wpt_sink *s, uint64_t iova, uint64_t size)
{
	struct iommufd *f = s->priv;
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap),
		.ioas_id = f->ioas_id,
		.iova = iova,
		.length = size,
	};
	int ret = wpt_sink_ioctl(f->ioctl, f->fd, IOMMU_IOAS_UNMAP, &unmap);

	if (ret)
		return ret;
	/* iommufd unmaps the whole earlier maps inside the range and writes
	 * back how many bytes that was.  The shadow removed exactly one map of
	 * this size; any other count means it no longer matches what the
	 * device can reach. */
	if (unmap.length != size)
		return -EIO;
	return 0;
}

static const struct wpt_sink_backend_ops iommufd_ops = {
	.name = "iommufd",
	.map = iommufd_map,
	.unmap = iommufd_unmap,
};

int wpt_sink_iommufd_new_ioctl(int iommufd, uint32_t ioas_id, wpt_ioctl_fn fn,
			       struct wpt_sink **out)
{
	struct iommufd f = { .fd = iommufd, .ioas_id = ioas_id, .ioctl = fn };

	if (iommufd < 0 || !fn || !out)
		return -EINVAL;
	return wpt_sink_alloc_priv(&iommufd_ops, &f, sizeof(f), out);
}

int wpt_sink_iommufd_new(int iommufd, uint32_t ioas_id, struct wpt_sink **out)
{
	return wpt_sink_iommufd_new_ioctl(iommufd, ioas_id, wpt_sink_sys_ioctl,
					  out);
}
