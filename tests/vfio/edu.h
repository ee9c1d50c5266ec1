/* SPDX-License-Identifier: MIT */
/*
 * QEMU's "edu" teaching PCI device, driven from user space through a mapped
 * BAR0: its identity registers and its one-channel DMA engine.
 *
 * The DMA engine copies between a 4 KiB buffer inside the device (reached
 * at a fixed device-side address) and a bus address, which behind an IOMMU
 * is an IOVA.  It raises no error: a transfer the IOMMU refuses completes
 * like any other, so callers judge success by the bytes that moved.  QEMU
 * starts a transfer 100 ms (virtual clock) after the command is written,
 * so each one costs about that much: keep the count low.
 */
#ifndef WPT_VFIO_EDU_H
#define WPT_VFIO_EDU_H

#include <stdint.h>

#define EDU_VENDOR_ID      0x1234
#define EDU_DEVICE_ID      0x11e8

/* BAR0 registers.  Those below 0x80 take 32-bit accesses only; the DMA
 * registers take 32- or 64-bit accesses. */
#define EDU_REG_ID         0x00 /* 0xMMmm00ed: version major.minor, 0xed */
#define EDU_REG_LIVENESS   0x04 /* reads back the inverse of what was written */
#define EDU_REG_DMA_SRC    0x80
#define EDU_REG_DMA_DST    0x88
#define EDU_REG_DMA_COUNT  0x90
#define EDU_REG_DMA_CMD    0x98

#define EDU_ID_MAGIC       0xedu
#define EDU_ID_MAGIC_MASK  0xffu

/* DMA command bits.  The engine ignores every DMA register write while a
 * transfer is running, and clears RUN when it has finished. */
#define EDU_DMA_CMD_RUN    0x1ull
#define EDU_DMA_CMD_TO_RAM 0x2ull /* buffer -> bus address; clear: bus -> buffer */
#define EDU_DMA_CMD_IRQ    0x4ull

/* The internal buffer, as the DMA engine addresses it.  QEMU up to 7.2
 * judges a transfer out of bounds when it ends exactly at the buffer's end
 * (an off-by-one in its range check) and calls hw_error(), which aborts
 * QEMU: so a transfer must end at least one byte short.  EDU_BUF_USABLE is
 * the part the test moves in bulk. */
#define EDU_BUF_ADDR       0x40000ull
#define EDU_BUF_SIZE       4096u
#define EDU_BUF_USABLE     (EDU_BUF_SIZE - 64u)

/* QEMU's default dma_mask property: the engine drops address bits above
 * 28 (it clamps, it does not refuse), so every IOVA it is given must stay
 * below 256 MiB. */
#define EDU_DMA_LIMIT      (1ull << 28)

struct edu {
	volatile uint8_t *bar0;
	uint64_t dmas;      /* transfers started */
	uint64_t dma_ns;    /* time spent waiting for them */
	uint64_t timeouts;
};

/* Read the identity register and check the liveness register inverts
 * what is written.  0 or -ENODEV (*id holds what was read). */
int edu_probe(struct edu *e, uint32_t *id);

/*
 * One transfer of len bytes between IOVA iova and the device buffer at
 * offset buf_off: to_ram copies buffer -> iova, otherwise iova -> buffer.
 * Waits for the engine to go idle first and after.  0, -EINVAL for a range
 * not strictly inside the buffer (see EDU_BUF_USABLE) or an IOVA past the
 * engine's default mask, -ETIMEDOUT if the engine never finishes.
 */
int edu_dma(struct edu *e, int to_ram, uint64_t iova, uint32_t buf_off,
	    uint32_t len);

#endif
