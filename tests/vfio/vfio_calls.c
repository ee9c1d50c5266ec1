/* SPDX-License-Identifier: MIT */
/* The watching ioctl (vfio_calls.h). */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/vfio.h>

#include "vfio_calls.h"

struct vfio_calls vfio_calls;

static void note_failure(unsigned long request, uint64_t iova, uint64_t size,
			 int err)
{
	vfio_calls.last_errno = err;
	vfio_calls.last_request = request;
	vfio_calls.last_iova = iova;
	vfio_calls.last_size = size;
}

static int live_index(uint64_t iova)
{
	unsigned int i;

	for (i = 0; i < vfio_calls.nr_live; i++)
		if (iova >= vfio_calls.live[i].iova &&
		    iova - vfio_calls.live[i].iova < vfio_calls.live[i].size)
			return (int)i;
	return -1;
}

const struct vfio_live *vfio_calls_find(uint64_t iova)
{
	int i = live_index(iova);

	return i < 0 ? NULL : &vfio_calls.live[i];
}

static int do_map(int fd, unsigned long request,
		  struct vfio_iommu_type1_dma_map *m)
{
	int ret, err;

	if ((m->iova | m->size | m->vaddr) & vfio_calls.pgmask)
		vfio_calls.misaligned++;
	ret = ioctl(fd, request, m);
	if (ret < 0) {
		err = errno;
		vfio_calls.map_errors++;
		note_failure(request, m->iova, m->size, err);
		errno = err;
		return ret;
	}
	vfio_calls.maps++;
	if (vfio_calls.nr_live == VFIO_CALLS_LIVE_MAX) {
		vfio_calls.live_overflow = true;
		return ret;
	}
	vfio_calls.live[vfio_calls.nr_live++] = (struct vfio_live){
		m->iova, m->size, m->vaddr, m->flags };
	return ret;
}

static int do_unmap(int fd, unsigned long request,
		    struct vfio_iommu_type1_dma_unmap *u)
{
	uint64_t asked = u->size;
	int i = live_index(u->iova), ret, err;

	/* Exactly one whole mapping, nothing more, nothing less. */
	if (i < 0 || vfio_calls.live[i].iova != u->iova ||
	    vfio_calls.live[i].size != u->size || u->flags)
		vfio_calls.unmatched_unmaps++;
	ret = ioctl(fd, request, u);
	if (ret < 0) {
		err = errno;
		vfio_calls.unmap_errors++;
		note_failure(request, u->iova, asked, err);
		errno = err;
		return ret;
	}
	vfio_calls.unmaps++;
	if (u->size != asked)
		vfio_calls.short_unmaps++;
	if (i >= 0 && vfio_calls.live[i].iova == u->iova &&
	    vfio_calls.live[i].size == asked)
		vfio_calls.live[i] = vfio_calls.live[--vfio_calls.nr_live];
	return ret;
}

int vfio_calls_ioctl(int fd, unsigned long request, void *arg)
{
	if (request == VFIO_IOMMU_MAP_DMA)
		return do_map(fd, request, arg);
	if (request == VFIO_IOMMU_UNMAP_DMA)
		return do_unmap(fd, request, arg);
	vfio_calls.other++;
	return ioctl(fd, request, arg);
}
