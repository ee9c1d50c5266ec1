/* SPDX-License-Identifier: MIT */
/*
 * The VFIO type1 sink: VFIO_IOMMU_MAP_DMA / VFIO_IOMMU_UNMAP_DMA on a
 * container fd.  The device reaches guest RAM at vaddr = the HVA of the GPA:
 * type1 pins the process pages behind vaddr, which compose IOVA -> GPA -> HPA.
 * The fd stays the caller's: the VMM attached its groups to it and closes it.
 */
#include <errno.h>
#include <stdlib.h>

#include <linux/vfio.h>

#include "sink.h"

struct vfio {
	int container_fd;
	wpt_ioctl_fn ioctl; /* ioctl(2), or a test's stand-in */
};

static int vfio_map(struct wpt_sink *s, uint64_t iova, uint64_t gpa,
		    void *hva, uint64_t size, uint32_t perm)
{
	struct vfio *v = s->priv;
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.vaddr = (uintptr_t)hva,
		.iova = iova,
		.size = size,
	};

	/* A mapping the device can neither read nor write is a caller bug
	 * (type1 refuses it too); unknown bits have no VFIO meaning. */
	if (!perm || (perm & ~(WPT_PERM_READ | WPT_PERM_WRITE)))
		return -EINVAL;
	if (perm & WPT_PERM_READ)
		map.flags |= VFIO_DMA_MAP_FLAG_READ;
	if (perm & WPT_PERM_WRITE)
		map.flags |= VFIO_DMA_MAP_FLAG_WRITE;
	return wpt_sink_ioctl(v->ioctl, v->container_fd, VFIO_IOMMU_MAP_DMA,
			      &map);
}

static int vfio_unmap(struct wpt_sink *s, uint64_t iova, uint64_t size)
{
	struct vfio *v = s->priv;
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = iova,
		.size = size,
	};
	int ret = wpt_sink_ioctl(v->ioctl, v->container_fd,
				 VFIO_IOMMU_UNMAP_DMA, &unmap);

	if (ret)
		return ret;
	/* Type1 writes back how much it unmapped and succeeds even when that
	 * is less than asked (nothing there, or only some whole mappings
	 * inside the range).  The shadow believes it removed exactly one
	 * mapping of this size; if the kernel did not, the shadow no longer
	 * matches what the device can reach, so report it. */
	if (unmap.size != size)
		return -EIO;
	return 0;
}

static const struct wpt_sink_backend_ops vfio_ops = {
	.name = "vfio",
	.map = vfio_map,
	.unmap = vfio_unmap,
};

int wpt_sink_vfio_new_ioctl(int container_fd, wpt_ioctl_fn fn,
			    struct wpt_sink **out)
{
	struct vfio v = { .container_fd = container_fd, .ioctl = fn };

	if (container_fd < 0 || !fn || !out)
		return -EINVAL;
	return wpt_sink_alloc_priv(&vfio_ops, &v, sizeof(v), out);
}

int wpt_sink_vfio_new(int container_fd, struct wpt_sink **out)
{
	return wpt_sink_vfio_new_ioctl(container_fd, wpt_sink_sys_ioctl, out);
}
