/* SPDX-License-Identifier: MIT */
/*
 * The type1 and iommufd backends (backend.h): what the VMM sets up before
 * the library's sink can map, each step one TAP point.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "backend.h"
#include "iommufd_cdev_uapi.h"
#include "iommufd_setup.h"
#include "rig.h"
#include "sink/sink.h"
#include "sink_calls.h"

/* Enough for the steps (about 25 mappings at most at once) and small
 * enough that filling it takes one table. */
#define DMA_ENTRY_LIMIT 64

/* ------------------------------------------------------- both backends */

/* What the kernel accepts: the IOVAs and the smallest page the test relies
 * on.  Failures go to the open point. */
static void check_facts(struct rig *r)
{
	const struct iommu_facts *f = &r->vfio.facts;
	uint64_t smallest = f->pgsizes & -f->pgsizes;
	unsigned int i;

	for (i = 0; i < f->nr_ranges; i++)
		tap_diag("  IOVA range %u: [%#llx, %#llx]", i,
			 (unsigned long long)f->ranges[i].start,
			 (unsigned long long)f->ranges[i].last);
	/* The guest maps 4 KiB pages: a bigger smallest IOMMU page would
	 * refuse them all. */
	if (!smallest || smallest > SZ_4K)
		tap_fail(&r->tap, "smallest IOMMU page %#llx: 4 KiB maps will "
			 "be refused", (unsigned long long)smallest);
	sink_calls.pgmask = smallest ? smallest - 1 : 0xfff;
	if (!iova_ok(f, 0, 0x01000000) ||
	    !iova_ok(f, SCRATCH_IOVA, SCRATCH_SIZE) ||
	    !iova_ok(f, UNMAPPED_IOVA, SZ_4K))
		tap_fail(&r->tap, "the IOVAs the test uses (below 16 MiB, "
			 "%#llx, %#llx) are not all inside the ranges",
			 SCRATCH_IOVA, UNMAPPED_IOVA);
}

/* The device, however it was opened: edu, BAR0 mapped. */
static bool device_point(struct rig *r, const char *bdf, int ret,
			 const char *why)
{
	struct vfio_env *v = &r->vfio;

	if (ret)
		tap_fail(&r->tap, "%s", why);
	else if (v->vendor != EDU_VENDOR_ID || v->device_id != EDU_DEVICE_ID)
		tap_fail(&r->tap, "%s is %04x:%04x, not edu", bdf, v->vendor,
			 v->device_id);
	r->edu.bar0 = v->bar0;
	return tap_point(&r->tap, "device %s: %04x:%04x, %u regions, BAR0 "
			 "%llu KiB mapped, command %#x", bdf, v->vendor,
			 v->device_id, v->num_regions,
			 (unsigned long long)v->bar0_size >> 10, v->command);
}

static void close_env(struct rig *r)
{
	vfio_env_close(&r->vfio);
	r->edu.bar0 = NULL;
	r->scratch_mapped = false;
}

/* ---------------------------------------------------------------- type1 */

static const char *type1_missing(struct rig *r, const char *bdf, char *buf,
				 size_t n)
{
	if (!access("/dev/vfio/vfio", F_OK))
		return NULL;
	snprintf(buf, n, "no /dev/vfio/vfio: this kernel has no type1 "
		 "container");
	return buf;
}

static uint32_t lower_dma_limit(uint32_t *orig)
{
	int ret = vfio_dma_limit_get(orig);

	if (ret) {
		tap_diag("dma_entry_limit unreadable: %s", strerror(-ret));
		return 0;
	}
	ret = vfio_dma_limit_set(DMA_ENTRY_LIMIT);
	if (ret) {
		tap_diag("cannot lower dma_entry_limit: %s", strerror(-ret));
		return 0;
	}
	return DMA_ENTRY_LIMIT;
}

static void type1_facts(struct rig *r)
{
	struct iommu_facts *f = &r->vfio.facts;
	char why[200];

	if (vfio_iommu_facts(r->vfio.container, f, why, sizeof(why)))
		tap_fail(&r->tap, "%s", why);
	tap_diag("GET_INFO: iova_pgsizes %#llx, %s%u IOVA ranges, dma_avail %s%u",
		 (unsigned long long)f->pgsizes, f->have_ranges ? "" : "no ",
		 f->nr_ranges, f->have_dma_avail ? "" : "(none) ",
		 f->dma_avail);
	check_facts(r);
	if (r->dma_limit && f->have_dma_avail && f->dma_avail != r->dma_limit)
		tap_diag("dma_avail %u, not the dma_entry_limit %u set before "
			 "the container", f->dma_avail, r->dma_limit);
	tap_point(&r->tap, "GET_INFO: page sizes %#llx, %u IOVA ranges, "
		  "dma_avail %u", (unsigned long long)f->pgsizes, f->nr_ranges,
		  f->dma_avail);
}

static bool type1_setup(struct rig *r, const char *bdf, unsigned int group)
{
	struct vfio_env *v = &r->vfio;
	uint32_t orig_limit = 0;
	char why[200];
	bool ok;
	int ret;

	/* The container reads the limit when its IOMMU is set. */
	r->dma_limit = lower_dma_limit(&orig_limit);
	if (vfio_container_open(v, why, sizeof(why)))
		tap_fail(&r->tap, "%s", why);
	ok = tap_point(&r->tap, "container: API version %d, %s",
		       v->api_version, v->iommu_type == VFIO_TYPE1v2_IOMMU ?
		       "VFIO_TYPE1v2_IOMMU" : "VFIO_TYPE1_IOMMU");
	if (ok && vfio_group_attach(v, group, why, sizeof(why)))
		tap_fail(&r->tap, "%s", why);
	/* Put the module's value back for anyone else. */
	if (r->dma_limit)
		vfio_dma_limit_set(orig_limit);
	if (!ok || !tap_point(&r->tap, "group %u viable, set on the container, "
			      "IOMMU set", group))
		return false;
	type1_facts(r);
	ret = vfio_device_open(v, bdf, why, sizeof(why));
	return device_point(r, bdf, ret, why);
}

static int type1_map_scratch(struct rig *r)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)r->scratch,
		.iova = SCRATCH_IOVA,
		.size = SCRATCH_SIZE,
	};

	return ioctl(r->vfio.container, VFIO_IOMMU_MAP_DMA, &map) ? -errno : 0;
}

static int type1_sink_new(struct rig *r, struct wpt_sink **out)
{
	return wpt_sink_vfio_new_ioctl(r->vfio.container, sink_calls_ioctl,
				       out);
}

static const char *const type1_points[] = {
	"container", "group", "GET_INFO", "device",
};

const struct backend backend_type1 = {
	.name = "type1",
	.map_call = "MAP_DMA",
	.unmap_call = "UNMAP_DMA",
	.setup_points = type1_points,
	.nr_setup = sizeof(type1_points) / sizeof(type1_points[0]),
	.has_dma_limit = true,
	.missing = type1_missing,
	.setup = type1_setup,
	.map_scratch = type1_map_scratch,
	.sink_new = type1_sink_new,
	.close = close_env,
};

/* -------------------------------------------------------------- iommufd */

static const char *iommufd_missing(struct rig *r, const char *bdf, char *buf,
				   size_t n)
{
	struct utsname u;
	unsigned int major = 0, minor = 0;

	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "?");
	if (sscanf(u.release, "%u.%u", &major, &minor) != 2)
		major = minor = 0;
	if (access("/dev/iommu", F_OK)) {
		if (major && (major < 6 || (major == 6 && minor < 2)))
			snprintf(buf, n, "no /dev/iommu (kernel %u.%u predates "
				 "iommufd)", major, minor);
		else
			snprintf(buf, n, "no /dev/iommu (kernel %s: iommufd "
				 "not built or not loaded)", u.release);
		return buf;
	}
	if (vfio_cdev_find(bdf, r->vfio.cdev, sizeof(r->vfio.cdev))) {
		if (major && (major < 6 || (major == 6 && minor < 6)))
			snprintf(buf, n, "no VFIO device cdev for %s (kernel "
				 "%u.%u predates it)", bdf, major, minor);
		else
			snprintf(buf, n, "no VFIO device cdev for %s (kernel "
				 "%s: CONFIG_VFIO_DEVICE_CDEV unset?)", bdf,
				 u.release);
		return buf;
	}
	return NULL;
}

static bool iommufd_setup(struct rig *r, const char *bdf, unsigned int group)
{
	struct vfio_env *v = &r->vfio;
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	struct iommu_facts *f = &v->facts;
	char why[200];
	int ret;

	/* iommufd charges pinned pages to RLIMIT_MEMLOCK unless the caller
	 * has CAP_IPC_LOCK; this process is root, so either way suffices. */
	if (setrlimit(RLIMIT_MEMLOCK, &unlimited))
		tap_diag("setrlimit(RLIMIT_MEMLOCK): %s", strerror(errno));
	if (iommufd_open(v, why, sizeof(why)))
		tap_fail(&r->tap, "%s", why);
	if (!tap_point(&r->tap, "/dev/iommu open, IOAS %u allocated",
		       v->ioas_id))
		return false;
	sink_calls.ioas_id = v->ioas_id;

	if (vfio_cdev_open(v, why, sizeof(why)))
		tap_fail(&r->tap, "%s", why);
	if (!tap_point(&r->tap, "device cdev %s bound (devid %u), attached to "
		       "IOAS %u (page table %u)", v->cdev, v->devid, v->ioas_id,
		       v->hwpt_id))
		return false;

	/* The ranges narrow as devices attach: read them after. */
	if (iommufd_iova_facts(v, f, why, sizeof(why)))
		tap_fail(&r->tap, "%s", why);
	tap_diag("IOAS_IOVA_RANGES: %u IOVA ranges, IOVA alignment %#llx",
		 f->nr_ranges, (unsigned long long)f->pgsizes);
	check_facts(r);
	tap_point(&r->tap, "IOAS_IOVA_RANGES: %u ranges, IOVA alignment %#llx",
		  f->nr_ranges, (unsigned long long)f->pgsizes);

	ret = vfio_device_setup(v, bdf, why, sizeof(why));
	return device_point(r, bdf, ret, why);
}

static int iommufd_map_scratch(struct rig *r)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = r->vfio.ioas_id,
		.user_va = (uintptr_t)r->scratch,
		.length = SCRATCH_SIZE,
		.iova = SCRATCH_IOVA,
	};

	return ioctl(r->vfio.iommufd, IOMMU_IOAS_MAP, &map) ? -errno : 0;
}

static int iommufd_sink_new(struct rig *r, struct wpt_sink **out)
{
	return wpt_sink_iommufd_new_ioctl(r->vfio.iommufd, r->vfio.ioas_id,
					  sink_calls_ioctl, out);
}

static const char *const iommufd_points[] = {
	"/dev/iommu open, an IOAS allocated",
	"device cdev bound and attached to the IOAS",
	"IOAS_IOVA_RANGES",
	"device",
};

const struct backend backend_iommufd = {
	.name = "iommufd",
	.map_call = "IOAS_MAP",
	.unmap_call = "IOAS_UNMAP",
	.setup_points = iommufd_points,
	.nr_setup = sizeof(iommufd_points) / sizeof(iommufd_points[0]),
	.has_dma_limit = false,
	.missing = iommufd_missing,
	.setup = iommufd_setup,
	.map_scratch = iommufd_map_scratch,
	.sink_new = iommufd_sink_new,
	.close = close_env,
};
