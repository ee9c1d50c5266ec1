/* SPDX-License-Identifier: MIT */
/* The watching ioctl (sink_calls.h). */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/vfio.h>

#include "iommufd_cdev_uapi.h"
#include "sink_calls.h"
#include "wpt.h"

struct sink_calls sink_calls;

/* One map or unmap, whichever interface carried it. */
struct request {
	uint64_t iova, size, vaddr;
	uint32_t perm;
	bool odd;
	__u64 *done; /* unmap: where the kernel writes back what it did */
};

void sink_calls_reset(uint64_t pgmask, uint32_t ioas_id)
{
	memset(&sink_calls, 0, sizeof(sink_calls));
	sink_calls.pgmask = pgmask;
	sink_calls.ioas_id = ioas_id;
}

/* Send the request on; a failure is counted in *errors and remembered. */
static int forward(int fd, unsigned long request, void *arg,
		   const struct request *q, uint64_t *errors)
{
	int ret = ioctl(fd, request, arg), err;

	if (ret < 0) {
		err = errno;
		(*errors)++;
		sink_calls.last_errno = err;
		sink_calls.last_request = request;
		sink_calls.last_iova = q->iova;
		sink_calls.last_size = q->size;
		errno = err;
	}
	return ret;
}

static int live_index(uint64_t iova)
{
	unsigned int i;

	for (i = 0; i < sink_calls.nr_live; i++)
		if (iova >= sink_calls.live[i].iova &&
		    iova - sink_calls.live[i].iova < sink_calls.live[i].size)
			return (int)i;
	return -1;
}

const struct sink_live *sink_calls_find(uint64_t iova)
{
	int i = live_index(iova);

	return i < 0 ? NULL : &sink_calls.live[i];
}

static int do_map(int fd, unsigned long request, void *arg,
		  const struct request *q)
{
	int ret;

	if ((q->iova | q->size | q->vaddr) & sink_calls.pgmask)
		sink_calls.misaligned++;
	sink_calls.odd_requests += q->odd;
	ret = forward(fd, request, arg, q, &sink_calls.map_errors);
	if (ret < 0)
		return ret;
	sink_calls.maps++;
	if (sink_calls.nr_live == SINK_CALLS_LIVE_MAX) {
		sink_calls.live_overflow = true;
		return ret;
	}
	sink_calls.live[sink_calls.nr_live++] = (struct sink_live){
		q->iova, q->size, q->vaddr, q->perm };
	return ret;
}

static int do_unmap(int fd, unsigned long request, void *arg,
		    const struct request *q)
{
	int i = live_index(q->iova), ret;
	struct sink_live *l = i < 0 ? NULL : &sink_calls.live[i];

	/* Exactly one whole mapping, nothing more, nothing less. */
	if (!l || l->iova != q->iova || l->size != q->size)
		sink_calls.unmatched_unmaps++;
	sink_calls.odd_requests += q->odd;
	ret = forward(fd, request, arg, q, &sink_calls.unmap_errors);
	if (ret < 0)
		return ret;
	sink_calls.unmaps++;
	if (*q->done != q->size)
		sink_calls.short_unmaps++;
	if (l && l->iova == q->iova && l->size == q->size)
		*l = sink_calls.live[--sink_calls.nr_live];
	return ret;
}

static uint32_t type1_perm(uint32_t flags)
{
	return (flags & VFIO_DMA_MAP_FLAG_READ ? WPT_PERM_READ : 0) |
	       (flags & VFIO_DMA_MAP_FLAG_WRITE ? WPT_PERM_WRITE : 0);
}

static uint32_t iommufd_perm(uint32_t flags)
{
	return (flags & IOMMU_IOAS_MAP_READABLE ? WPT_PERM_READ : 0) |
	       (flags & IOMMU_IOAS_MAP_WRITEABLE ? WPT_PERM_WRITE : 0);
}

int sink_calls_ioctl(int fd, unsigned long request, void *arg)
{
	if (request == VFIO_IOMMU_MAP_DMA) {
		struct vfio_iommu_type1_dma_map *m = arg;

		return do_map(fd, request, arg, &(struct request){
			.iova = m->iova, .size = m->size, .vaddr = m->vaddr,
			.perm = type1_perm(m->flags) });
	}
	if (request == VFIO_IOMMU_UNMAP_DMA) {
		struct vfio_iommu_type1_dma_unmap *u = arg;

		return do_unmap(fd, request, arg, &(struct request){
			.iova = u->iova, .size = u->size, .odd = u->flags != 0,
			.done = &u->size });
	}
	if (request == IOMMU_IOAS_MAP) {
		struct iommu_ioas_map *m = arg;

		return do_map(fd, request, arg, &(struct request){
			.iova = m->iova, .size = m->length, .vaddr = m->user_va,
			.perm = iommufd_perm(m->flags),
			.odd = !(m->flags & IOMMU_IOAS_MAP_FIXED_IOVA) ||
			       m->ioas_id != sink_calls.ioas_id });
	}
	if (request == IOMMU_IOAS_UNMAP) {
		struct iommu_ioas_unmap *u = arg;

		return do_unmap(fd, request, arg, &(struct request){
			.iova = u->iova, .size = u->length,
			.odd = u->ioas_id != sink_calls.ioas_id,
			.done = &u->length });
	}
	sink_calls.other++;
	return ioctl(fd, request, arg);
}
