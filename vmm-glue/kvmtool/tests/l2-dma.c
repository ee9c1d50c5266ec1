/* SPDX-License-Identifier: MIT */
/*
 * The innermost guest's DMA check (make check-kvmtool's level 2): a plain
 * VFIO user, nothing of libwpt, driving QEMU's edu through the kvmtool
 * SMMUv3.  Each of BUFFERS pages is mapped (VFIO_IOMMU_MAP_DMA: the guest
 * kernel's arm-smmu-v3 writes its tables, which the library traps), filled
 * by edu's DMA and checked, unmapped, then targeted again: that DMA must
 * never reach the old page (level 0's SMMU refuses it once the library
 * took the mapping out of the level-1 container).  ROUNDS times over.
 *   l2-dma BDF GROUP [BUFFERS [ROUNDS]]
 * Prints one line per failure and a summary; exits 0 only if all held.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "edu.h"
#include "vfio_setup.h"

#define PAGE 4096u
#define IOVA_BASE 0x100000ull
#define LEN 1024u          /* bytes per transfer */
#define SRC_IOVA 0x80000ull

static int map(int container, void *va, uint64_t iova, int on)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m), .vaddr = (uintptr_t)va, .iova = iova,
		.size = PAGE,
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
	};
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .iova = iova, .size = PAGE,
	};

	if (ioctl(container, on ? VFIO_IOMMU_MAP_DMA : VFIO_IOMMU_UNMAP_DMA,
		  on ? (void *)&m : (void *)&u) < 0)
		return -errno;
	return 0;
}

static void pattern(uint8_t *p, unsigned int round)
{
	for (unsigned int i = 0; i < LEN; i++)
		p[i] = (uint8_t)(i * 7 + round * 31 + 1);
}

struct tally { unsigned int ok, refused, bad; };

/* One buffer: map, DMA in, check, unmap, DMA again, check it missed. */
static void one(struct vfio_env *v, struct edu *e, uint8_t *buf,
		uint64_t iova, const uint8_t *want, struct tally *t)
{
	int r = map(v->container, buf, iova, 1);

	memset(buf, 0, PAGE);
	if (r || edu_dma(e, 1, iova, 0, LEN) || memcmp(buf, want, LEN)) {
		printf("l2-dma: BAD: DMA to mapped IOVA %#llx (map %d)\n",
		       (unsigned long long)iova, r);
		t->bad++;
	} else {
		t->ok++;
	}
	if (map(v->container, buf, iova, 0)) {
		printf("l2-dma: BAD: unmap %#llx\n", (unsigned long long)iova);
		t->bad++;
		return;
	}
	memset(buf, 0xee, PAGE);
	if (edu_dma(e, 1, iova, 0, LEN) || buf[0] != 0xee ||
	    memcmp(buf, buf + 1, LEN - 1)) {
		printf("l2-dma: BAD: DMA to unmapped IOVA %#llx reached the "
		       "old page\n", (unsigned long long)iova);
		t->bad++;
	} else {
		t->refused++;
	}
}

int main(int argc, char **argv)
{
	unsigned int nbuf = argc > 3 ? atoi(argv[3]) : 16;
	unsigned int rounds = argc > 4 ? atoi(argv[4]) : 2, r, i;
	struct tally t = { 0, 0, 0 };
	struct vfio_env v;
	struct edu e = { 0 };
	uint8_t *mem, *src;
	uint32_t id;
	char why[256];

	if (argc < 3 || !nbuf || !rounds) {
		fprintf(stderr, "usage: l2-dma BDF GROUP [BUFFERS [ROUNDS]]\n");
		return 2;
	}
	vfio_env_init(&v);
	if (vfio_container_open(&v, why, sizeof(why)) ||
	    vfio_group_attach(&v, atoi(argv[2]), why, sizeof(why)) ||
	    vfio_device_open(&v, argv[1], why, sizeof(why))) {
		printf("l2-dma: FAIL: %s\n", why);
		return 1;
	}
	e.bar0 = v.bar0;
	if (edu_probe(&e, &id)) {
		printf("l2-dma: FAIL: no edu at %s (id %#x)\n", argv[1], id);
		return 1;
	}
	mem = mmap(NULL, (nbuf + 1) * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	src = mem + nbuf * PAGE;
	if (map(v.container, src, SRC_IOVA, 1)) {
		printf("l2-dma: FAIL: map the source page\n");
		return 1;
	}
	for (r = 0; r < rounds; r++) {
		pattern(src, r);
		/* Load edu's buffer from the source page: a DMA read. */
		if (edu_dma(&e, 0, SRC_IOVA, 0, LEN)) {
			printf("l2-dma: FAIL: DMA from the source page\n");
			return 1;
		}
		for (i = 0; i < nbuf; i++)
			one(&v, &e, mem + i * PAGE, IOVA_BASE + i * 2 * PAGE,
			    src, &t);
	}
	printf("l2-dma: %u DMAs landed, %u refused after unmap, %u bad "
	       "(%u buffers x %u rounds, %llu transfers)\n", t.ok, t.refused,
	       t.bad, nbuf, rounds, (unsigned long long)e.dmas);
	return t.bad || t.ok != nbuf * rounds ? 1 : 0;
}
