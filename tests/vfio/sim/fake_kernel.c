/* SPDX-License-Identifier: MIT */
/*
 * The fake kernel's files, the device behind them and edu's DMA engine,
 * and the wrapped calls (fake_kernel.h); the IOMMU side is fake_iommu.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "../iommufd_cdev_uapi.h"
#include "../iommufd_setup.h"
#include "fake_internal.h"

#define DMA_LIMIT_PARAM "/sys/module/vfio_iommu_type1/parameters/dma_entry_limit"
#define CDEV_PATH       "/dev/vfio/devices/vfio0"
#define CONFIG_OFFSET   (7ull << 40)
#define BAR0_SIZE       (1u << 20)

int __real_open(const char *path, int flags, ...);
int __real_close(int fd);
int __real_access(const char *path, int mode);
int __real_ioctl(int fd, unsigned long request, ...);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off);
int __real_munmap(void *addr, size_t len);
ssize_t __real_pread(int fd, void *buf, size_t n, off_t off);
ssize_t __real_pwrite(int fd, const void *buf, size_t n, off_t off);
ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __real_write(int fd, const void *buf, size_t n);
FILE *__real_fopen(const char *path, const char *mode);
DIR *__real_opendir(const char *path);
int __real_uname(struct utsname *u);

struct fake_stats fake_stats;
struct fake_state st;
struct fake_cfg cfg;
static char sysfs_dir[256];

/* ------------------------------------------------------------ fds */

#define FDS_MAX 1024
static enum kind kinds[FDS_MAX];

enum kind fake_kind(int fd)
{
	return fd >= 0 && fd < FDS_MAX ? kinds[fd] : K_NONE;
}

static int new_fd(enum kind k)
{
	int fd = __real_open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd >= 0 && fd < FDS_MAX)
		kinds[fd] = k;
	return fd;
}

int fake_new_fd_gdev(void)
{
	return new_fd(K_GDEV);
}

void fake_kernel_init(const struct fake_cfg *c, const char *dir)
{
	cfg = *c;
	snprintf(sysfs_dir, sizeof(sysfs_dir), "%s", dir);
	st.container = st.group = st.gdev = st.iommufd = st.cdev = -1;
	st.param = 65535;
}

int fake_fail(int err)
{
	errno = err;
	return -1;
}

/* ----------------------------------------------------------- device */

static int device_ioctl(unsigned long req, void *arg)
{
	switch (req) {
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info *d = arg;

		d->flags = VFIO_DEVICE_FLAGS_PCI;
		d->num_regions = VFIO_PCI_NUM_REGIONS;
		d->num_irqs = VFIO_PCI_NUM_IRQS;
		return 0;
	}
	case VFIO_DEVICE_GET_REGION_INFO: {
		struct vfio_region_info *r = arg;

		if (r->index == VFIO_PCI_BAR0_REGION_INDEX) {
			r->size = BAR0_SIZE;
			r->offset = 0;
			r->flags = VFIO_REGION_INFO_FLAG_READ |
				   VFIO_REGION_INFO_FLAG_WRITE |
				   VFIO_REGION_INFO_FLAG_MMAP;
		} else if (r->index == VFIO_PCI_CONFIG_REGION_INDEX) {
			r->size = 256;
			r->offset = CONFIG_OFFSET;
			r->flags = VFIO_REGION_INFO_FLAG_READ |
				   VFIO_REGION_INFO_FLAG_WRITE;
		} else {
			r->size = r->offset = 0;
			r->flags = 0;
		}
		return 0;
	}
	}
	return fake_fail(ENOTTY);
}

static bool device_fd(int fd)
{
	return fake_kind(fd) == K_GDEV || (fake_kind(fd) == K_CDEV && st.bound);
}

/* ------------------------------------------------------------- edu */

static void log_fault(uint64_t iova, bool write)
{
	unsigned int seq = st.nr_kmsg;

	if (seq == sizeof(st.kmsg) / sizeof(st.kmsg[0]))
		return;
	snprintf(st.kmsg[seq], sizeof(st.kmsg[0]),
		 "3,%u,1000,-;DMAR: [DMA %s NO_PASID] Request device [%s] "
		 "fault addr %#llx [fault reason 0x%02x] PTE %s access is not "
		 "set", seq, write ? "Write" : "Read", &BDF[5],
		 (unsigned long long)iova, write ? 5 : 6,
		 write ? "Write" : "Read");
	st.nr_kmsg++;
	fake_stats.faults++;
}

static void edu_run(void)
{
	volatile uint64_t *cmd = (volatile uint64_t *)(st.bar + EDU_REG_DMA_CMD);
	uint64_t src = *(volatile uint64_t *)(st.bar + EDU_REG_DMA_SRC);
	uint64_t dst = *(volatile uint64_t *)(st.bar + EDU_REG_DMA_DST);
	uint64_t cnt = *(volatile uint64_t *)(st.bar + EDU_REG_DMA_COUNT);
	bool to_ram = *cmd & EDU_DMA_CMD_TO_RAM;
	uint64_t dev = to_ram ? src : dst, iova = to_ram ? dst : src, k;
	uint64_t last_fault = ~0ull;

	*cmd &= ~EDU_DMA_CMD_RUN;
	/* QEMU 7.2 aborts on a transfer that reaches the buffer's end. */
	if (dev < EDU_BUF_ADDR || dev - EDU_BUF_ADDR + cnt >= EDU_BUF_SIZE) {
		fake_stats.hw_errors++;
		return;
	}
	if (!(st.command & PCI_COMMAND_MASTER))
		return;
	if (st.gdev >= 0)
		fake_stats.dma_type1++;
	else
		fake_stats.dma_ioas++;
	for (k = 0; k < cnt; k++) {
		uint8_t *p = fake_translate(iova + k, to_ram);
		uint8_t *b = &st.buf[dev - EDU_BUF_ADDR + k];

		if (!p && (iova + k) >> 12 != last_fault) {
			log_fault(iova + k, to_ram);
			last_fault = (iova + k) >> 12;
		}
		if (to_ram && p)
			*p = *b;
		else if (!to_ram)
			*b = p ? *p : 0;
	}
}

/* ------------------------------------------------------------ wraps */

int __wrap_open(const char *path, int flags, ...)
{
	va_list ap;
	int mode;

	if (!strcmp(path, "/dev/vfio/vfio"))
		return cfg.type1 ? (st.container = new_fd(K_CONTAINER))
				 : fake_fail(ENOENT);
	if (!strncmp(path, "/dev/vfio/", 10) && path[10] >= '0' &&
	    path[10] <= '9') {
		if (!cfg.type1 || atoi(path + 10) != BDF_GROUP)
			return fake_fail(ENOENT);
		if (st.bound) {
			fake_stats.busy++;
			return fake_fail(EBUSY);
		}
		return st.group = new_fd(K_GROUP);
	}
	if (!strcmp(path, CDEV_PATH))
		return cfg.cdev ? (st.cdev = new_fd(K_CDEV)) : fake_fail(ENOENT);
	if (!strcmp(path, "/dev/iommu"))
		return cfg.iommufd ? (st.iommufd = new_fd(K_IOMMUFD))
				   : fake_fail(ENOENT);
	if (!strcmp(path, "/dev/kmsg"))
		return new_fd(K_KMSG);
	if (!strcmp(path, DMA_LIMIT_PARAM))
		return cfg.type1 ? new_fd(K_PARAM) : fake_fail(ENOENT);
	va_start(ap, flags);
	mode = va_arg(ap, int);
	va_end(ap);
	return __real_open(path, flags, mode);
}

int __wrap_close(int fd)
{
	switch (fake_kind(fd)) {
	case K_CONTAINER:
		st.container = -1;
		fake_container_closed();
		break;
	case K_GROUP:
		st.group = -1;
		break;
	case K_GDEV:
		st.gdev = -1;
		st.command = 0; /* vfio-pci disables the device */
		break;
	case K_IOMMUFD:
		st.iommufd = -1;
		fake_iommufd_closed();
		break;
	case K_CDEV:
		st.cdev = -1;
		st.bound = st.attached = false;
		st.command = 0;
		break;
	default:
		break;
	}
	if (fd >= 0 && fd < FDS_MAX)
		kinds[fd] = K_NONE;
	return __real_close(fd);
}

int __wrap_access(const char *path, int mode)
{
	if (!strcmp(path, "/dev/vfio/vfio"))
		return cfg.type1 ? 0 : fake_fail(ENOENT);
	if (!strcmp(path, "/dev/iommu"))
		return cfg.iommufd ? 0 : fake_fail(ENOENT);
	return __real_access(path, mode);
}

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	switch (fake_kind(fd)) {
	case K_CONTAINER:
		return fake_container_ioctl(req, arg);
	case K_GROUP:
		return fake_group_ioctl(req, arg);
	case K_GDEV:
		return device_ioctl(req, arg);
	case K_IOMMUFD:
		return fake_iommufd_ioctl(req, arg);
	case K_CDEV:
		if (req == VFIO_DEVICE_BIND_IOMMUFD ||
		    req == VFIO_DEVICE_ATTACH_IOMMUFD_PT)
			return fake_cdev_iommu_ioctl(req, arg);
		/* Before the bind the cdev does nothing else. */
		return st.bound ? device_ioctl(req, arg) : fake_fail(EINVAL);
	case K_PARAM:
	case K_KMSG:
		return fake_fail(ENOTTY);
	case K_NONE:
		break;
	}
	return __real_ioctl(fd, req, arg);
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off)
{
	if (fake_kind(fd) == K_NONE)
		return __real_mmap(addr, len, prot, flags, fd, off);
	if (!device_fd(fd) || off != 0 || len != BAR0_SIZE) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	/* One BAR for the life of the process: edu keeps its registers. */
	if (!st.bar) {
		st.bar = __real_mmap(NULL, BAR0_SIZE, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (st.bar == MAP_FAILED) {
			st.bar = NULL;
			return MAP_FAILED;
		}
		*(uint32_t *)(st.bar + EDU_REG_ID) = 0x010000ed;
	}
	return st.bar;
}

int __wrap_munmap(void *addr, size_t len)
{
	if (st.bar && addr == st.bar)
		return 0;
	return __real_munmap(addr, len);
}

static uint8_t config[256];

ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off)
{
	if (fake_kind(fd) == K_NONE)
		return __real_pread(fd, buf, n, off);
	if (!device_fd(fd) || (uint64_t)off < CONFIG_OFFSET ||
	    (uint64_t)off - CONFIG_OFFSET + n > sizeof(config))
		return fake_fail(EINVAL);
	config[0] = EDU_VENDOR_ID & 0xff;
	config[1] = EDU_VENDOR_ID >> 8;
	config[2] = EDU_DEVICE_ID & 0xff;
	config[3] = EDU_DEVICE_ID >> 8;
	memcpy(config + PCI_COMMAND, &st.command, 2);
	memcpy(buf, config + (off - CONFIG_OFFSET), n);
	return (ssize_t)n;
}

ssize_t __wrap_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (fake_kind(fd) == K_NONE)
		return __real_pwrite(fd, buf, n, off);
	if (!device_fd(fd) || (uint64_t)off < CONFIG_OFFSET ||
	    (uint64_t)off - CONFIG_OFFSET + n > sizeof(config))
		return fake_fail(EINVAL);
	if ((uint64_t)off - CONFIG_OFFSET == PCI_COMMAND && n == 2)
		memcpy(&st.command, buf, 2);
	return (ssize_t)n;
}

/* /dev/kmsg: one record a read, EAGAIN when there are no more. */
ssize_t __wrap_read(int fd, void *buf, size_t n)
{
	size_t len;

	if (fake_kind(fd) != K_KMSG)
		return __real_read(fd, buf, n);
	if (st.kmsg_read == st.nr_kmsg)
		return fake_fail(EAGAIN);
	len = strlen(st.kmsg[st.kmsg_read]);
	if (len + 1 > n)
		return fake_fail(EINVAL);
	memcpy(buf, st.kmsg[st.kmsg_read++], len);
	((char *)buf)[len] = '\n';
	return (ssize_t)len + 1;
}

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
	char tmp[16];

	if (fake_kind(fd) != K_PARAM)
		return __real_write(fd, buf, n);
	snprintf(tmp, sizeof(tmp), "%.*s", (int)(n < 15 ? n : 15),
		 (const char *)buf);
	st.param = (uint32_t)strtoul(tmp, NULL, 10);
	return (ssize_t)n;
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
	static char val[16];

	if (strcmp(path, DMA_LIMIT_PARAM))
		return __real_fopen(path, mode);
	if (!cfg.type1) {
		errno = ENOENT;
		return NULL;
	}
	snprintf(val, sizeof(val), "%u\n", st.param);
	return fmemopen(val, strlen(val), "r");
}

DIR *__wrap_opendir(const char *path)
{
	char want[128];

	snprintf(want, sizeof(want), "%s/%s/vfio-dev", PCI_DEVICES_DIR, BDF);
	if (strncmp(path, PCI_DEVICES_DIR "/", strlen(PCI_DEVICES_DIR) + 1))
		return __real_opendir(path);
	if (!cfg.cdev || strcmp(path, want)) {
		errno = ENOENT;
		return NULL;
	}
	return __real_opendir(sysfs_dir);
}

int __wrap_uname(struct utsname *u)
{
	int ret = __real_uname(u);

	if (!ret && cfg.release)
		snprintf(u->release, sizeof(u->release), "%s", cfg.release);
	return ret;
}

/* edu.c sleeps while it waits for a transfer: the device runs it then. */
int __wrap_nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (st.bar &&
	    (*(volatile uint64_t *)(st.bar + EDU_REG_DMA_CMD) & EDU_DMA_CMD_RUN))
		edu_run();
	return 0;
}

int __wrap_edu_probe(struct edu *e, uint32_t *id)
{
	*id = *(volatile uint32_t *)(e->bar0 + EDU_REG_ID);
	return e->bar0 == st.bar && (*id & EDU_ID_MAGIC_MASK) == EDU_ID_MAGIC
	       ? 0 : -ENODEV;
}
