/* SPDX-License-Identifier: MIT */
/*
 * edu-dma BDF: drive QEMU's edu device through VFIO type1 in a guest, so the
 * guest's own SMMUv3 driver maps and unmaps IOVAs (and never invalidates on
 * map).  For buffers of several sizes: map two, DMA a page from the first
 * into edu and back into the second at several offsets, and check that
 * each landed where it should and nowhere else; then unmap.  Prints
 * "edu-dma: ok N" (N DMAs) or "edu-dma: FAIL why" (exit 1).  Static, for
 * a busybox guest; every wait is bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define EDU_ID        0x00
#define EDU_DMA_SRC   0x80
#define EDU_DMA_DST   0x88
#define EDU_DMA_CNT   0x90
#define EDU_DMA_CMD   0x98
#define EDU_DMA_RUN   0x1
#define EDU_DMA_TO_RAM 0x2     /* direction bit: edu's buffer -> RAM */
#define EDU_BUF       0x40000  /* edu's 4 KiB DMA buffer, in its space */
#define PAGE          4096ul
/* edu 7.2 refuses a DMA that ends at its buffer's end (an off-by-one in
 * edu_check_range): move half a page, from the middle of one. */
#define DMA_LEN       2048ul
#define DMA_AT        1024ul
#define DMA_WAIT_MS   5000     /* edu runs a DMA 100 ms after its command */

static volatile uint8_t *bar;
static int container, dmas;

static void fail(const char *what)
{
	printf("edu-dma: FAIL %s (%s)\n", what, strerror(errno));
	exit(1);
}

static void wr64(unsigned off, uint64_t v) { *(volatile uint64_t *)(bar + off) = v; }
static uint64_t rd64(unsigned off) { return *(volatile uint64_t *)(bar + off); }

static void edu_dma(uint64_t src, uint64_t dst, int to_ram)
{
	struct timespec ms = { 0, 1000000 };
	int waited;

	wr64(EDU_DMA_SRC, src);
	wr64(EDU_DMA_DST, dst);
	wr64(EDU_DMA_CNT, DMA_LEN);
	wr64(EDU_DMA_CMD, EDU_DMA_RUN | (to_ram ? EDU_DMA_TO_RAM : 0));
	for (waited = 0; rd64(EDU_DMA_CMD) & EDU_DMA_RUN; waited++) {
		if (waited >= DMA_WAIT_MS) {
			errno = ETIMEDOUT;
			fail("edu DMA did not finish within 5 s");
		}
		nanosleep(&ms, NULL);
	}
	dmas++;
}

static void map(void *va, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m), .vaddr = (uintptr_t)va, .iova = iova,
		.size = size,
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
	};
	if (ioctl(container, VFIO_IOMMU_MAP_DMA, &m))
		fail("VFIO_IOMMU_MAP_DMA");
}

static void unmap(uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .iova = iova, .size = size,
	};
	if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &u))
		fail("VFIO_IOMMU_UNMAP_DMA");
}

/* One size: pages of a through edu into b at the same offsets. */
static void run_size(uint64_t size, uint64_t iova_a, uint64_t iova_b, unsigned seed)
{
	uint8_t *a = mmap(NULL, size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *b = mmap(NULL, size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t offs[3] = { 0, (size / 2) & ~(PAGE - 1), size - PAGE }, i, k;

	if (a == MAP_FAILED || b == MAP_FAILED)
		fail("mmap");
	srand(seed);
	for (i = 0; i < size; i++)
		a[i] = rand();
	memset(b, 0x5a, size);
	map(a, iova_a, size);
	map(b, iova_b, size);
	for (k = 0; k < 3; k++) {
		edu_dma(iova_a + offs[k] + DMA_AT, EDU_BUF, 0);
		edu_dma(EDU_BUF, iova_b + offs[k] + DMA_AT, 1);
	}
	for (i = 0; i < size; i += PAGE) {
		int copied = i == offs[0] || i == offs[1] || i == offs[2];
		uint64_t j;

		for (j = 0; j < PAGE; j++) {
			int in = copied && j >= DMA_AT && j < DMA_AT + DMA_LEN;

			if (in ? b[i + j] != a[i + j] : b[i + j] != 0x5a) {
				errno = EIO;
				printf("edu-dma: size 0x%llx page 0x%llx byte %llu: 0x%02x\n",
				       (unsigned long long)size, (unsigned long long)i,
				       (unsigned long long)j, b[i + j]);
				fail(in ? "a DMA did not land" : "a DMA landed where none was sent");
			}
		}
	}
	unmap(iova_a, size);
	unmap(iova_b, size);
	munmap(a, size);
	munmap(b, size);
}

static void vfio_open(const char *bdf)
{
	char path[256], link[256];
	struct vfio_group_status st = { .argsz = sizeof(st) };
	struct vfio_region_info reg = { .argsz = sizeof(reg) };
	uint16_t cmd;
	ssize_t n;
	int group, dev;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		fail("no iommu_group: is the device behind the SMMU?");
	link[n] = 0;
	snprintf(path, sizeof(path), "/dev/vfio/%s", strrchr(link, '/') + 1);
	container = open("/dev/vfio/vfio", O_RDWR);
	group = open(path, O_RDWR);
	if (container < 0 || group < 0)
		fail("open /dev/vfio");
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &st) ||
	    !(st.flags & VFIO_GROUP_FLAGS_VIABLE))
		fail("group not viable");
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) ||
	    ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		fail("VFIO_SET_IOMMU type1v2");
	dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (dev < 0)
		fail("VFIO_GROUP_GET_DEVICE_FD");
	reg.index = VFIO_PCI_BAR0_REGION_INDEX;
	if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &reg))
		fail("BAR0 info");
	bar = mmap(NULL, reg.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, reg.offset);
	if (bar == MAP_FAILED)
		fail("mmap BAR0");
	if ((*(volatile uint32_t *)(bar + EDU_ID) & 0xff) != 0xed)
		fail("BAR0 is not edu's");
	reg.index = VFIO_PCI_CONFIG_REGION_INDEX;
	if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &reg) ||
	    pread(dev, &cmd, 2, reg.offset + 4) != 2)
		fail("config space");
	cmd |= 0x4; /* bus master */
	if (pwrite(dev, &cmd, 2, reg.offset + 4) != 2)
		fail("enable bus mastering");
}

int main(int argc, char **argv)
{
	static const uint64_t sizes[] = { PAGE, 16 * PAGE, 512 * PAGE };
	unsigned i, round;

	if (argc != 2) {
		fprintf(stderr, "usage: edu-dma BDF\n");
		return 2;
	}
	vfio_open(argv[1]);
	/* Two rounds at the same IOVAs: the second maps over what the first
	 * unmapped, which a stale mirror would send to the old pages. */
	for (round = 0; round < 2; round++)
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			run_size(sizes[i], 0x100000 + i * 0x1000000,
				 0x80000000 + i * 0x1000000, round * 10 + i);
	printf("edu-dma: ok %d\n", dmas);
	return 0;
}
