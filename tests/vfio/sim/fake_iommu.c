/* SPDX-License-Identifier: MIT */
/* The fake kernel's IOMMU side: type1, iommufd, the address spaces. */
#include <errno.h>
#include <string.h>

#include <linux/vfio.h>

#include "../iommufd_cdev_uapi.h"
#include "fake_internal.h"

#define IOAS_ID         5
#define HWPT_ID         9
#define DEV_ID          7
/* VT-d with QEMU's default 39-bit address width; the IOAPIC/MSI window is
 * reserved. */
#define APERTURE_LAST   ((1ull << 39) - 1)
#define MSI_FIRST       0xfee00000ull
#define MSI_LAST        0xfeefffffull
#define MAPS_MAX        4096

struct fmap {
	uint64_t iova, size, vaddr;
	uint32_t perm; /* 1 read, 2 write */
};

struct space {
	struct fmap m[MAPS_MAX];
	unsigned int n;
};

/* What the container maps; what the IOAS maps; what IOAS_UNMAP removed
 * but a broken IOMMU still translates (cfg.stale_ioas_unmap). */
static struct space type1, ioas, stale;

static bool in_ranges(uint64_t iova, uint64_t size)
{
	uint64_t last = iova + size - 1;

	if (!size || last < iova || last > APERTURE_LAST)
		return false;
	return last < MSI_FIRST || iova > MSI_LAST;
}

static int find(const struct space *s, uint64_t iova)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (iova - s->m[i].iova < s->m[i].size)
			return (int)i;
	return -1;
}

static bool overlaps(const struct space *s, uint64_t iova, uint64_t size)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (iova < s->m[i].iova + s->m[i].size &&
		    s->m[i].iova < iova + size)
			return true;
	return false;
}

static int space_add(struct space *s, uint64_t iova, uint64_t size,
		     uint64_t vaddr, uint32_t perm)
{
	if (s->n == MAPS_MAX)
		return fake_fail(ENOMEM);
	s->m[s->n++] = (struct fmap){ iova, size, vaddr, perm };
	return 0;
}

/* Remove the maps inside [iova, iova + size): refuse if one sticks out
 * (bisect), say how many bytes went.  Removed maps go to keep if given. */
static int space_remove(struct space *s, uint64_t iova, uint64_t size,
			int bisect_err, uint64_t *done, struct space *keep)
{
	uint64_t last = iova + size - 1;
	unsigned int i;

	*done = 0;
	for (i = 0; i < s->n; i++) {
		uint64_t ml = s->m[i].iova + s->m[i].size - 1;

		if (s->m[i].iova <= last && ml >= iova &&
		    (s->m[i].iova < iova || ml > last))
			return fake_fail(bisect_err);
	}
	for (i = 0; i < s->n; i++) {
		if (s->m[i].iova < iova || s->m[i].iova > last)
			continue;
		*done += s->m[i].size;
		if (keep)
			space_add(keep, s->m[i].iova, s->m[i].size,
				  s->m[i].vaddr, s->m[i].perm);
		s->m[i--] = s->m[--s->n];
	}
	return 0;
}

/* ------------------------------------------------------------ type1 */

static int type1_info(struct vfio_iommu_type1_info *info)
{
	struct vfio_iommu_type1_info_cap_iova_range *r;
	struct vfio_iommu_type1_info_dma_avail *a;
	uint32_t off_r = sizeof(*info), off_a;
	uint32_t need;

	off_a = off_r + sizeof(*r) + 2 * sizeof(struct vfio_iova_range);
	off_a = (off_a + 7) & ~7u;
	need = off_a + sizeof(*a);
	info->flags = VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS;
	info->iova_pgsizes = 0x40201000ull; /* 4 KiB, 2 MiB, 1 GiB */
	if (info->argsz < need) {
		info->argsz = need;
		info->cap_offset = 0;
		return 0;
	}
	info->argsz = need;
	info->cap_offset = off_r;
	r = (void *)((char *)info + off_r);
	r->header = (struct vfio_info_cap_header){
		VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 1, off_a };
	r->nr_iovas = 2;
	r->iova_ranges[0].start = 0;
	r->iova_ranges[0].end = MSI_FIRST - 1;
	r->iova_ranges[1].start = MSI_LAST + 1;
	r->iova_ranges[1].end = APERTURE_LAST;
	a = (void *)((char *)info + off_a);
	a->header = (struct vfio_info_cap_header){
		VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 1, 0 };
	a->avail = st.avail;
	return 0;
}

static int type1_map(struct vfio_iommu_type1_dma_map *m)
{
	uint32_t perm = (m->flags & VFIO_DMA_MAP_FLAG_READ ? 1 : 0) |
			(m->flags & VFIO_DMA_MAP_FLAG_WRITE ? 2 : 0);

	if (!st.iommu_set)
		return fake_fail(EINVAL);
	if (!m->size || ((m->iova | m->size | m->vaddr) & 0xfff))
		return fake_fail(EINVAL);
	if (!in_ranges(m->iova, m->size))
		return fake_fail(EINVAL);
	if (overlaps(&type1, m->iova, m->size))
		return fake_fail(EEXIST);
	if (!st.avail)
		return fake_fail(ENOSPC);
	if (space_add(&type1, m->iova, m->size, m->vaddr, perm))
		return -1;
	st.avail--;
	fake_stats.type1_maps++;
	return 0;
}

static int type1_unmap(struct vfio_iommu_type1_dma_unmap *u)
{
	uint64_t done, before = type1.n;

	if (u->flags || !u->size)
		return fake_fail(EINVAL);
	if (space_remove(&type1, u->iova, u->size, EINVAL, &done, NULL))
		return -1;
	st.avail += (uint32_t)(before - type1.n);
	u->size = done;
	fake_stats.type1_unmaps++;
	return 0;
}

int fake_container_ioctl(unsigned long req, void *arg)
{
	switch (req) {
	case VFIO_GET_API_VERSION:
		return VFIO_API_VERSION;
	case VFIO_CHECK_EXTENSION:
		return (int)(uintptr_t)arg == VFIO_TYPE1v2_IOMMU ||
		       (int)(uintptr_t)arg == VFIO_TYPE1_IOMMU;
	case VFIO_SET_IOMMU:
		if (!st.group_set || (int)(uintptr_t)arg != VFIO_TYPE1v2_IOMMU)
			return fake_fail(EINVAL);
		st.iommu_set = true;
		st.limit = st.avail = st.param;
		return 0;
	case VFIO_IOMMU_GET_INFO:
		return st.iommu_set ? type1_info(arg) : fake_fail(EINVAL);
	case VFIO_IOMMU_MAP_DMA:
		return type1_map(arg);
	case VFIO_IOMMU_UNMAP_DMA:
		return type1_unmap(arg);
	}
	return fake_fail(ENOTTY);
}

int fake_group_ioctl(unsigned long req, void *arg)
{
	switch (req) {
	case VFIO_GROUP_GET_STATUS:
		((struct vfio_group_status *)arg)->flags =
			VFIO_GROUP_FLAGS_VIABLE |
			(st.group_set ? VFIO_GROUP_FLAGS_CONTAINER_SET : 0);
		return 0;
	case VFIO_GROUP_SET_CONTAINER:
		if (*(int *)arg != st.container || st.container < 0)
			return fake_fail(EINVAL);
		st.group_set = true;
		return 0;
	case VFIO_GROUP_GET_DEVICE_FD:
		if (!st.iommu_set || strcmp(arg, BDF))
			return fake_fail(EINVAL);
		if (st.gdev >= 0)
			return fake_fail(EBUSY);
		st.gdev = fake_new_fd_gdev();
		return st.gdev;
	}
	return fake_fail(ENOTTY);
}

/* ---------------------------------------------------------- iommufd */

static int ioas_ranges(struct iommu_ioas_iova_ranges *q)
{
	struct iommu_iova_range all[2] = {
		{ 0, MSI_FIRST - 1 }, { MSI_LAST + 1, APERTURE_LAST },
	};
	struct iommu_iova_range *out = (void *)(uintptr_t)q->allowed_iovas;
	unsigned int n = 2, i;

	if (q->size < sizeof(*q) || q->__reserved)
		return fake_fail(EINVAL);
	if (!st.ioas_alive || q->ioas_id != IOAS_ID)
		return fake_fail(ENOENT);
	/* A fresh IOAS allows everything; attaching narrows it. */
	if (!st.attached) {
		all[0] = (struct iommu_iova_range){ 0, UINT64_MAX };
		n = 1;
	}
	for (i = 0; i < n && i < q->num_iovas; i++)
		out[i] = all[i];
	fake_stats.iova_ranges++;
	q->out_iova_alignment = 4096;
	i = q->num_iovas;
	q->num_iovas = n;
	return i < n ? fake_fail(EMSGSIZE) : 0;
}

static bool ioas_allowed(uint64_t iova, uint64_t size)
{
	if (!st.attached)
		return size && iova + size - 1 >= iova;
	return in_ranges(iova, size);
}

static int ioas_map(struct iommu_ioas_map *m)
{
	uint32_t perm = (m->flags & IOMMU_IOAS_MAP_READABLE ? 1 : 0) |
			(m->flags & IOMMU_IOAS_MAP_WRITEABLE ? 2 : 0);

	if (m->size < sizeof(*m) || m->__reserved ||
	    (m->flags & ~7u))
		return fake_fail(EOPNOTSUPP);
	if (!st.ioas_alive || m->ioas_id != IOAS_ID)
		return fake_fail(ENOENT);
	/* The test's maps must all be at the guest's IOVA. */
	if (!(m->flags & IOMMU_IOAS_MAP_FIXED_IOVA)) {
		fake_stats.bad++;
		return fake_fail(EOPNOTSUPP);
	}
	if (!perm || !m->length)
		return fake_fail(EINVAL);
	if ((m->iova | m->length) & 0xfff || (m->iova ^ m->user_va) & 0xfff)
		return fake_fail(EINVAL);
	if (!ioas_allowed(m->iova, m->length))
		return fake_fail(EINVAL);
	if (overlaps(&ioas, m->iova, m->length))
		return fake_fail(EEXIST);
	if (space_add(&ioas, m->iova, m->length, m->user_va, perm))
		return -1;
	fake_stats.ioas_maps++;
	return 0;
}

static int ioas_unmap(struct iommu_ioas_unmap *u)
{
	uint64_t done;

	if (u->size < sizeof(*u))
		return fake_fail(EINVAL);
	if (!st.ioas_alive || u->ioas_id != IOAS_ID)
		return fake_fail(ENOENT);
	if (!u->length)
		return fake_fail(EINVAL);
	if (space_remove(&ioas, u->iova, u->length, ENOENT, &done,
			 cfg.stale_ioas_unmap ? &stale : NULL))
		return -1;
	if (!done)
		return fake_fail(ENOENT);
	u->length = done;
	fake_stats.ioas_unmaps++;
	return 0;
}

int fake_iommufd_ioctl(unsigned long req, void *arg)
{
	switch (req) {
	case IOMMU_IOAS_ALLOC: {
		struct iommu_ioas_alloc *a = arg;

		if (a->size < sizeof(*a) || a->flags || st.ioas_alive)
			return fake_fail(EINVAL);
		st.ioas_alive = true;
		a->out_ioas_id = IOAS_ID;
		return 0;
	}
	case IOMMU_IOAS_IOVA_RANGES:
		return ioas_ranges(arg);
	case IOMMU_IOAS_MAP:
		return ioas_map(arg);
	case IOMMU_IOAS_UNMAP:
		return ioas_unmap(arg);
	}
	return fake_fail(ENOTTY);
}

/* ------------------------------------------------------------ cdev */

int fake_cdev_iommu_ioctl(unsigned long req, void *arg)
{
	if (req == VFIO_DEVICE_BIND_IOMMUFD) {
		struct vfio_device_bind_iommufd *b = arg;

		if (b->argsz < 16 || b->flags || st.bound)
			return fake_fail(EINVAL);
		if (fake_kind(b->iommufd) != K_IOMMUFD)
			return fake_fail(EBADF);
		if (st.group >= 0) {
			fake_stats.busy++;
			return fake_fail(EBUSY);
		}
		if (cfg.bind_fails)
			return fake_fail(ENODEV);
		st.bound = true;
		b->out_devid = DEV_ID;
		fake_stats.binds++;
		return 0;
	}
	if (req == VFIO_DEVICE_ATTACH_IOMMUFD_PT) {
		struct vfio_device_attach_iommufd_pt *a = arg;

		if (!st.bound || a->argsz < 12 || a->flags)
			return fake_fail(EINVAL);
		if (a->pt_id != IOAS_ID || !st.ioas_alive)
			return fake_fail(ENOENT);
		st.attached = true;
		a->pt_id = HWPT_ID;
		fake_stats.attaches++;
		return 0;
	}
	return fake_fail(ENOTTY);
}


void fake_container_closed(void)
{
	st.iommu_set = st.group_set = false;
	type1.n = 0;
}

void fake_iommufd_closed(void)
{
	st.ioas_alive = false;
	ioas.n = stale.n = 0;
}

/* --------------------------------------------------------------- DMA */

uint8_t *fake_translate(uint64_t iova, bool write)
{
	const struct space *s = NULL;
	int i;

	if (st.gdev >= 0 && st.iommu_set)
		s = &type1;
	else if (st.cdev >= 0 && st.attached)
		s = &ioas;
	if (!s)
		return NULL;
	i = find(s, iova);
	if (i < 0 && s == &ioas) {
		s = &stale;
		i = find(s, iova);
	}
	if (i < 0 || !(s->m[i].perm & (write ? 2 : 1)))
		return NULL;
	return (uint8_t *)(uintptr_t)(s->m[i].vaddr + iova - s->m[i].iova);
}

