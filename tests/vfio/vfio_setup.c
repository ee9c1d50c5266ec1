/* SPDX-License-Identifier: MIT */
/* The VMM's side of VFIO type1: container, group, IOMMU facts; and the
 * device, however it was opened (vfio_setup.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "vfio_setup.h"

#define DMA_LIMIT_PARAM "/sys/module/vfio_iommu_type1/parameters/dma_entry_limit"

#define FAIL(err, ...)                                                      \
	do {                                                                \
		snprintf(why, n, __VA_ARGS__);                              \
		return (err);                                               \
	} while (0)

void vfio_env_init(struct vfio_env *v)
{
	memset(v, 0, sizeof(*v));
	v->container = v->group = v->iommufd = v->device = -1;
}

void vfio_env_close(struct vfio_env *v)
{
	if (v->bar0)
		munmap((void *)v->bar0, v->bar0_size);
	if (v->device >= 0)
		close(v->device);
	if (v->group >= 0)
		close(v->group);
	if (v->container >= 0)
		close(v->container);
	if (v->iommufd >= 0)
		close(v->iommufd);
	vfio_env_init(v);
}

int vfio_container_open(struct vfio_env *v, char *why, size_t n)
{
	v->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (v->container < 0)
		FAIL(-errno, "open /dev/vfio/vfio: %s", strerror(errno));
	v->api_version = ioctl(v->container, VFIO_GET_API_VERSION);
	if (v->api_version != VFIO_API_VERSION)
		FAIL(-EPROTO, "VFIO_GET_API_VERSION = %d, want %d",
		     v->api_version, VFIO_API_VERSION);
	/* v2 unmaps whole mappings only and never bisects one: the
	 * behaviour the sink is written for.  v1 is accepted as a fallback. */
	if (ioctl(v->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0)
		v->iommu_type = VFIO_TYPE1v2_IOMMU;
	else if (ioctl(v->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) > 0)
		v->iommu_type = VFIO_TYPE1_IOMMU;
	else
		FAIL(-ENOTSUP, "container has neither VFIO_TYPE1v2_IOMMU nor "
		     "VFIO_TYPE1_IOMMU (vfio_iommu_type1 not loaded?)");
	return 0;
}

int vfio_group_attach(struct vfio_env *v, unsigned int group, char *why,
		      size_t n)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64];

	snprintf(path, sizeof(path), "/dev/vfio/%u", group);
	v->group = open(path, O_RDWR | O_CLOEXEC);
	if (v->group < 0)
		FAIL(-errno, "open %s: %s", path, strerror(errno));
	if (ioctl(v->group, VFIO_GROUP_GET_STATUS, &st))
		FAIL(-errno, "VFIO_GROUP_GET_STATUS: %s", strerror(errno));
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE))
		FAIL(-EBUSY, "group %u not viable (a device of it is bound to "
		     "a host driver)", group);
	if (ioctl(v->group, VFIO_GROUP_SET_CONTAINER, &v->container))
		FAIL(-errno, "VFIO_GROUP_SET_CONTAINER: %s", strerror(errno));
	if (ioctl(v->container, VFIO_SET_IOMMU, v->iommu_type)) {
		int err = errno;

		/* type1 refuses a group when the IOMMU cannot remap
		 * interrupts, unless allow_unsafe_interrupts is set. */
		FAIL(-err, "VFIO_SET_IOMMU(%s): %s%s",
		     v->iommu_type == VFIO_TYPE1v2_IOMMU ? "type1v2" : "type1",
		     strerror(err),
		     err == EPERM ? " (no interrupt remapping: intremap=on "
				    "or vfio_iommu_type1 "
				    "allow_unsafe_interrupts=1)" : "");
	}
	return 0;
}

static int parse_caps(struct iommu_facts *f, const uint8_t *buf,
		      size_t size, uint32_t off, char *why, size_t n)
{
	unsigned int hops = 0;

	while (off) {
		const struct vfio_info_cap_header *h;

		if (off < sizeof(struct vfio_iommu_type1_info) ||
		    off + sizeof(*h) > size || ++hops > 32)
			FAIL(-EPROTO, "GET_INFO capability chain broken at %u",
			     off);
		h = (const void *)(buf + off);
		if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
			const struct vfio_iommu_type1_info_cap_iova_range *r =
				(const void *)h;
			uint32_t i;

			if (off + sizeof(*r) > size ||
			    off + sizeof(*r) + (uint64_t)r->nr_iovas *
			    sizeof(r->iova_ranges[0]) > size)
				FAIL(-EPROTO, "IOVA range capability truncated");
			f->have_ranges = true;
			f->nr_ranges = 0;
			for (i = 0; i < r->nr_iovas && i < VFIO_MAX_RANGES; i++) {
				f->ranges[i].start = r->iova_ranges[i].start;
				f->ranges[i].last = r->iova_ranges[i].end;
				f->nr_ranges++;
			}
		} else if (h->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
			const struct vfio_iommu_type1_info_dma_avail *a =
				(const void *)h;

			if (off + sizeof(*a) > size)
				FAIL(-EPROTO, "DMA_AVAIL capability truncated");
			f->have_dma_avail = true;
			f->dma_avail = a->avail;
		}
		off = h->next;
	}
	return 0;
}

int vfio_iommu_facts(int container, struct iommu_facts *f, char *why,
		     size_t n)
{
	struct vfio_iommu_type1_info head = { .argsz = sizeof(head) };
	struct vfio_iommu_type1_info *info;
	size_t size;
	int ret = 0;

	memset(f, 0, sizeof(*f));
	if (ioctl(container, VFIO_IOMMU_GET_INFO, &head))
		FAIL(-errno, "VFIO_IOMMU_GET_INFO: %s", strerror(errno));
	/* The kernel raises argsz to what the capabilities need. */
	size = head.argsz > sizeof(head) ? head.argsz : sizeof(head);
	info = calloc(1, size);
	if (!info)
		FAIL(-ENOMEM, "out of memory");
	info->argsz = size;
	if (ioctl(container, VFIO_IOMMU_GET_INFO, info)) {
		ret = -errno;
		snprintf(why, n, "VFIO_IOMMU_GET_INFO (%zu bytes): %s", size,
			 strerror(errno));
		goto out;
	}
	if (info->flags & VFIO_IOMMU_INFO_PGSIZES)
		f->pgsizes = info->iova_pgsizes;
	if ((info->flags & VFIO_IOMMU_INFO_CAPS) && info->argsz <= size)
		ret = parse_caps(f, (const uint8_t *)info, info->argsz,
				 info->cap_offset, why, n);
out:
	free(info);
	return ret;
}

static int region_info(struct vfio_env *v, uint32_t index,
		       struct vfio_region_info *ri, char *why, size_t n)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->index = index;
	if (ioctl(v->device, VFIO_DEVICE_GET_REGION_INFO, ri))
		FAIL(-errno, "VFIO_DEVICE_GET_REGION_INFO(%u): %s", index,
		     strerror(errno));
	return 0;
}

static int config_rw(struct vfio_env *v, int write, uint32_t off, void *buf,
		     size_t len)
{
	ssize_t r = write ? pwrite(v->device, buf, len, v->config_offset + off)
			  : pread(v->device, buf, len, v->config_offset + off);

	if (r < 0)
		return -errno;
	return (size_t)r == len ? 0 : -EIO;
}

int vfio_device_open(struct vfio_env *v, const char *bdf, char *why,
		     size_t n)
{
	v->device = ioctl(v->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (v->device < 0)
		FAIL(-errno, "VFIO_GROUP_GET_DEVICE_FD(%s): %s", bdf,
		     strerror(errno));
	return vfio_device_setup(v, bdf, why, n);
}

int vfio_device_setup(struct vfio_env *v, const char *bdf, char *why,
		      size_t n)
{
	struct vfio_device_info di = { .argsz = sizeof(di) };
	struct vfio_region_info bar, cfg;
	uint16_t cmd;
	void *p;
	int ret;

	if (ioctl(v->device, VFIO_DEVICE_GET_INFO, &di))
		FAIL(-errno, "VFIO_DEVICE_GET_INFO: %s", strerror(errno));
	if (!(di.flags & VFIO_DEVICE_FLAGS_PCI))
		FAIL(-ENODEV, "%s is not a vfio-pci device", bdf);
	v->num_regions = di.num_regions;
	if (di.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX)
		FAIL(-ENODEV, "%s has only %u regions", bdf, di.num_regions);
	ret = region_info(v, VFIO_PCI_CONFIG_REGION_INDEX, &cfg, why, n);
	if (ret)
		return ret;
	v->config_offset = cfg.offset;
	if (config_rw(v, 0, PCI_VENDOR_ID, &v->vendor, 2) ||
	    config_rw(v, 0, PCI_DEVICE_ID, &v->device_id, 2))
		FAIL(-EIO, "cannot read config space of %s", bdf);
	ret = region_info(v, VFIO_PCI_BAR0_REGION_INDEX, &bar, why, n);
	if (ret)
		return ret;
	if (!bar.size || !(bar.flags & VFIO_REGION_INFO_FLAG_MMAP))
		FAIL(-ENODEV, "BAR0 of %s: size %llu flags %#x, not mappable",
		     bdf, (unsigned long long)bar.size, bar.flags);
	/* vfio-pci zaps BAR mappings while memory decoding is off, so turn
	 * it on before touching BAR0; bus mastering lets the device DMA. */
	if (config_rw(v, 0, PCI_COMMAND, &cmd, 2))
		FAIL(-EIO, "cannot read the PCI command register");
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (config_rw(v, 1, PCI_COMMAND, &cmd, 2) ||
	    config_rw(v, 0, PCI_COMMAND, &v->command, 2))
		FAIL(-EIO, "cannot write the PCI command register");
	if ((v->command & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) !=
	    (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER))
		FAIL(-EIO, "PCI command reads %#x after setting memory and "
		     "bus master", v->command);
	p = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, v->device,
		 (off_t)bar.offset);
	if (p == MAP_FAILED)
		FAIL(-errno, "mmap BAR0 (%llu bytes): %s",
		     (unsigned long long)bar.size, strerror(errno));
	v->bar0 = p;
	v->bar0_size = bar.size;
	return 0;
}

bool iova_ok(const struct iommu_facts *f, uint64_t iova, uint64_t size)
{
	uint64_t last = iova + size - 1;
	unsigned int i;

	if (!f->have_ranges)
		return true;
	for (i = 0; i < f->nr_ranges; i++)
		if (iova >= f->ranges[i].start && last <= f->ranges[i].last &&
		    last >= iova)
			return true;
	return false;
}

int vfio_dma_limit_get(uint32_t *val)
{
	FILE *fp = fopen(DMA_LIMIT_PARAM, "r");
	int ok;

	if (!fp)
		return -errno;
	ok = fscanf(fp, "%u", val) == 1;
	fclose(fp);
	return ok ? 0 : -EIO;
}

int vfio_dma_limit_set(uint32_t val)
{
	int fd = open(DMA_LIMIT_PARAM, O_WRONLY | O_CLOEXEC);
	char buf[16];
	int len, ret = 0;

	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%u\n", val);
	if (write(fd, buf, (size_t)len) != len)
		ret = -errno ? -errno : -EIO;
	close(fd);
	return ret;
}
