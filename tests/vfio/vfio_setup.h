/* SPDX-License-Identifier: MIT */
/*
 * What a VMM does before the library's VFIO sink can map anything: open a
 * type1 container, attach the device's IOMMU group, pick the IOMMU model,
 * learn which IOVAs and page sizes it accepts, and open the device (BAR0
 * mapped, bus mastering on).  The sink only maps and unmaps.
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

/* What VFIO_IOMMU_GET_INFO said. */
struct vfio_iommu_facts {
	uint64_t pgsizes;      /* 0 if not reported */
	bool have_ranges;      /* VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE */
	unsigned int nr_ranges;
	struct vfio_range ranges[VFIO_MAX_RANGES];
	bool have_dma_avail;   /* VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL */
	uint32_t dma_avail;
};

struct vfio_env {
	int container, group, device; /* -1 when not open */
	int api_version;
	int iommu_type;               /* VFIO_TYPE1v2_IOMMU or VFIO_TYPE1_IOMMU */
	struct vfio_iommu_facts facts;
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
int vfio_iommu_facts(int container, struct vfio_iommu_facts *f, char *why,
		     size_t n);

/* The device fd, BAR0 mapped, memory decoding and bus mastering on. */
int vfio_device_open(struct vfio_env *v, const char *bdf, char *why,
		     size_t n);

/* [iova, iova + size) lies inside one reported range (true when the
 * kernel reported none: then nothing is known to be refused). */
bool vfio_iova_ok(const struct vfio_iommu_facts *f, uint64_t iova,
		  uint64_t size);

/* vfio_iommu_type1's dma_entry_limit module parameter: how many mappings
 * a container may hold, read when the IOMMU model is set on a container. */
int vfio_dma_limit_get(uint32_t *val);
int vfio_dma_limit_set(uint32_t val);

#endif
