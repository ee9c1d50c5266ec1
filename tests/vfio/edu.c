/* SPDX-License-Identifier: MIT */
/* The edu device's registers and DMA engine (edu.h). */
#include <errno.h>
#include <time.h>

#include "edu.h"

/* A transfer starts 100 ms after its command; a few seconds means the
 * device (or QEMU's timer) is gone. */
#define EDU_DMA_TIMEOUT_NS (10ull * 1000 * 1000 * 1000)
#define EDU_POLL_NS        (2 * 1000 * 1000)

static uint32_t rd32(struct edu *e, unsigned int reg)
{
	return *(volatile uint32_t *)(e->bar0 + reg);
}

static void wr32(struct edu *e, unsigned int reg, uint32_t v)
{
	*(volatile uint32_t *)(e->bar0 + reg) = v;
}

static uint64_t rd64(struct edu *e, unsigned int reg)
{
	return *(volatile uint64_t *)(e->bar0 + reg);
}

static void wr64(struct edu *e, unsigned int reg, uint64_t v)
{
	*(volatile uint64_t *)(e->bar0 + reg) = v;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int edu_probe(struct edu *e, uint32_t *id)
{
	static const uint32_t probes[] = { 0x12345678u, 0u, 0xa5a5a5a5u };
	unsigned int i;

	*id = rd32(e, EDU_REG_ID);
	if ((*id & EDU_ID_MAGIC_MASK) != EDU_ID_MAGIC)
		return -ENODEV;
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		wr32(e, EDU_REG_LIVENESS, probes[i]);
		if (rd32(e, EDU_REG_LIVENESS) != ~probes[i])
			return -ENODEV;
	}
	return 0;
}

/* Sleep between polls rather than spin: under TCG a spinning vCPU only
 * slows the emulator that has to run the device's timer. */
static int edu_wait_idle(struct edu *e)
{
	uint64_t start = now_ns();
	struct timespec pause = { 0, EDU_POLL_NS };

	while (rd64(e, EDU_REG_DMA_CMD) & EDU_DMA_CMD_RUN) {
		if (now_ns() - start > EDU_DMA_TIMEOUT_NS) {
			e->timeouts++;
			return -ETIMEDOUT;
		}
		nanosleep(&pause, NULL);
	}
	e->dma_ns += now_ns() - start;
	return 0;
}

int edu_dma(struct edu *e, int to_ram, uint64_t iova, uint32_t buf_off,
	    uint32_t len)
{
	uint64_t dev = EDU_BUF_ADDR + buf_off;
	int ret;

	if (!len || buf_off >= EDU_BUF_SIZE || len >= EDU_BUF_SIZE - buf_off ||
	    iova >= EDU_DMA_LIMIT || len > EDU_DMA_LIMIT - iova)
		return -EINVAL;
	ret = edu_wait_idle(e);
	if (ret)
		return ret;
	wr64(e, EDU_REG_DMA_SRC, to_ram ? dev : iova);
	wr64(e, EDU_REG_DMA_DST, to_ram ? iova : dev);
	wr64(e, EDU_REG_DMA_COUNT, len);
	wr64(e, EDU_REG_DMA_CMD,
	     EDU_DMA_CMD_RUN | (to_ram ? EDU_DMA_CMD_TO_RAM : 0));
	e->dmas++;
	return edu_wait_idle(e);
}
