/* SPDX-License-Identifier: MIT */
/*
 * What a VMM does before the library's VFIO or iommufd sink can map
 * anything.  Type1: open a container, attach the device's IOMMU group, pick
 * the IOMMU model, learn which IOVAs and page sizes it accepts, get the
 * device from the group.  iommufd (iommufd_setup.c): open /dev/iommu,
 * allocate an IOAS, open the device's cdev, bind it to the iommufd, attach
 * it to the IOAS, learn the IOAS's allowed IOVAs.  Either way the device
 * fd then gives BAR0 (mapped) and config space (memory decoding and bus
 * mastering on).  The sink only maps and unmaps.
 *
 * Every function returns 0 or a negative errno and, on failure, writes
 * what went wrong to why.
 */
#ifndef WPT_VFIO_SETUP_H
#define WPT_VFIO_SETUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VFIO_MAX_RANGES 16

struct vfio_range {
	uint64_t start, last; /* inclusive, as VFIO reports them */
};

/* What VFIO_IOMMU_GET_INFO or IOMMU_IOAS_IOVA_RANGES said. */
struct iommu_facts {
	/* type1: the IOMMU page sizes (0 if not reported); iommufd: only the
	 * IOVA alignment, the smallest page a map may use. */
	uint64_t pgsizes;
	bool have_ranges;      /* type1: VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE */
	unsigned int nr_ranges;
	struct vfio_range ranges[VFIO_MAX_RANGES];
	bool have_dma_avail;   /* type1: VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL */
	uint32_t dma_avail;
};

struct vfio_env {
	int container, group;         /* type1; -1 when not open */
	int iommufd;                  /* iommufd; -1 when not open */
	int device;                   /* from the group or the cdev; -1 */
	int api_version;
	int iommu_type;               /* VFIO_TYPE1v2_IOMMU or VFIO_TYPE1_IOMMU */
	uint32_t ioas_id, devid, hwpt_id; /* iommufd */
	char cdev[64];                /* /dev/vfio/devices/vfioN */
	struct iommu_facts facts;
	volatile uint8_t *bar0;
	uint64_t bar0_size;
	uint64_t config_offset;       /* of the config space region */
	uint16_t vendor, device_id, command;
	uint32_t num_regions;
};

void vfio_env_init(struct vfio_env *v);
void vfio_env_close(struct vfio_env *v);

/* /dev/vfio/vfio, API version, a type1 extension. */
int vfio_container_open(struct vfio_env *v, char *why, size_t n);

/* /dev/vfio/<group>: viable, attached to the container, IOMMU model set. */
int vfio_group_attach(struct vfio_env *v, unsigned int group, char *why,
		      size_t n);

/* VFIO_IOMMU_GET_INFO with its capability chain. */
int vfio_iommu_facts(int container, struct iommu_facts *f, char *why,
		     size_t n);

/* The device fd from the group, then vfio_device_setup(). */
int vfio_device_open(struct vfio_env *v, const char *bdf, char *why,
		     size_t n);

/* On v->device, however it was opened: identity, BAR0 mapped, memory
 * decoding and bus mastering on. */
int vfio_device_setup(struct vfio_env *v, const char *bdf, char *why,
		      size_t n);

/* [iova, iova + size) lies inside one reported range (true when the
 * kernel reported none: then nothing is known to be refused). */
bool iova_ok(const struct iommu_facts *f, uint64_t iova, uint64_t size);

/* vfio_iommu_type1's dma_entry_limit module parameter: how many mappings
 * a container may hold, read when the IOMMU model is set on a container. */
int vfio_dma_limit_get(uint32_t *val);
int vfio_dma_limit_set(uint32_t val);

#endif
