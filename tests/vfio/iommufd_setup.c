/* SPDX-License-Identifier: MIT */
/* The VMM's side of iommufd and the VFIO device cdev (iommufd_setup.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "iommufd_cdev_uapi.h"
#include "iommufd_setup.h"

#define FAIL(err, ...)                                                      \
	do {                                                                \
		snprintf(why, n, __VA_ARGS__);                              \
		return (err);                                               \
	} while (0)

int vfio_cdev_find(const char *bdf, char *path, size_t len)
{
	char dir[128];
	struct dirent *e;
	DIR *d;
	int ret = -ENOENT;

	snprintf(dir, sizeof(dir), "%s/%s/vfio-dev", PCI_DEVICES_DIR, bdf);
	d = opendir(dir);
	if (!d)
		return -ENOENT;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "vfio", 4))
			continue;
		snprintf(path, len, "/dev/vfio/devices/%s", e->d_name);
		ret = 0;
		break;
	}
	closedir(d);
	return ret;
}

int iommufd_open(struct vfio_env *v, char *why, size_t n)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };

	v->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (v->iommufd < 0)
		FAIL(-errno, "open /dev/iommu: %s", strerror(errno));
	if (ioctl(v->iommufd, IOMMU_IOAS_ALLOC, &alloc))
		FAIL(-errno, "IOMMU_IOAS_ALLOC: %s", strerror(errno));
	v->ioas_id = alloc.out_ioas_id;
	return 0;
}

/* devtmpfs makes the node a little after sysfs lists the cdev. */
static int open_cdev(const char *path)
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	int fd, tries = 0;

	while ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0 && errno == ENOENT &&
	       ++tries < 50)
		nanosleep(&pause, NULL);
	return fd;
}

int vfio_cdev_open(struct vfio_env *v, char *why, size_t n)
{
	struct vfio_device_bind_iommufd bind = {
		.argsz = sizeof(bind), .iommufd = v->iommufd,
	};
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach), .pt_id = v->ioas_id,
	};
	int err;

	v->device = open_cdev(v->cdev);
	if (v->device < 0)
		FAIL(-errno, "open %s: %s", v->cdev, strerror(errno));
	if (ioctl(v->device, VFIO_DEVICE_BIND_IOMMUFD, &bind)) {
		err = errno;
		/* The group and the cdev exclude each other. */
		FAIL(-err, "VFIO_DEVICE_BIND_IOMMUFD: %s%s", strerror(err),
		     err == EBUSY ? " (is the device's group still open?)" : "");
	}
	v->devid = bind.out_devid;
	if (ioctl(v->device, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		FAIL(-errno, "VFIO_DEVICE_ATTACH_IOMMUFD_PT(IOAS %u): %s",
		     v->ioas_id, strerror(errno));
	v->hwpt_id = attach.pt_id;
	return 0;
}

int iommufd_iova_facts(const struct vfio_env *v, struct iommu_facts *f,
		       char *why, size_t n)
{
	struct iommu_iova_range r[VFIO_MAX_RANGES];
	struct iommu_ioas_iova_ranges q = {
		.size = sizeof(q), .ioas_id = v->ioas_id,
		.num_iovas = VFIO_MAX_RANGES, .allowed_iovas = (uintptr_t)r,
	};
	unsigned int i;

	memset(f, 0, sizeof(*f));
	/* Too many ranges to fit still fills r and says how many there are:
	 * keep the first VFIO_MAX_RANGES, as GET_INFO's parser does. */
	if (ioctl(v->iommufd, IOMMU_IOAS_IOVA_RANGES, &q) && errno != EMSGSIZE)
		FAIL(-errno, "IOMMU_IOAS_IOVA_RANGES(IOAS %u): %s", v->ioas_id,
		     strerror(errno));
	f->pgsizes = q.out_iova_alignment;
	f->have_ranges = true;
	for (i = 0; i < q.num_iovas && i < VFIO_MAX_RANGES; i++) {
		f->ranges[i].start = r[i].start;
		f->ranges[i].last = r[i].last;
	}
	f->nr_ranges = i;
	return 0;
}
