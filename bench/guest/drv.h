/* SPDX-License-Identifier: MIT */
/*
 * The bench guest's IOMMU driver: an SMMUv3 stage-1 driver over Arm
 * VMSAv8-64 tables with the 4K granule, behaving as Linux's io-pgtable-arm
 * with arm-smmu-v3 (up to 6.12) does where the VMM can see it:
 *
 *  - a new table is a zeroed arena page installed with one lock cmpxchg
 *    into an invalid parent entry (arm_lpae_install_table);
 *  - leaves are single 8-byte stores, attributes as Linux's stage-1 leaf
 *    for IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE (nG, AP[1], SH inner,
 *    AttrIndx 1, AF);
 *  - unmapping an entry's whole span clears it with one store; if it held
 *    a table, that range is invalidated at once (io_pgtable_tlb_flush_walk)
 *    and the table and its subtree go back to the arena;
 *  - unmapping part of a block fills a new table with what remains while
 *    nothing points at it, swaps it in with one cmpxchg, and invalidates
 *    the block's range (arm_lpae_split_blk_unmap);
 *  - optionally (churn) a table whose last valid entry goes is unlinked
 *    and freed too, so tables come and go all the time.
 *
 * The strategy (enum bench_strategy) picks what follows a map or unmap
 * call: nothing / an invalidation on the command queue / one explicit
 * request exit.  After every map, in every strategy, the device's own
 * driver rings the device's doorbell with the range mapped.  All state lives in struct drv, which the caller keeps
 * (on the stack in the guest): there are no globals, since every vCPU
 * runs the same image.  Not thread-safe: one struct drv per vCPU.
 *
 * Functions return 0 or a BENCH_E_* / DRV_E_* code.
 */
#ifndef BENCH_GUEST_DRV_H
#define BENCH_GUEST_DRV_H

#include <stdbool.h>
#include <stdint.h>

#include "../abi.h"

/* Driver failures bench/abi.h has no code for (status values). */
#define DRV_E_EXIST 0x100  /* a map found its range (partly) mapped */
#define DRV_E_REQ 0x101    /* the VMM refused an explicit request */
#define DRV_E_STATE 0x102  /* the tables are not what the driver wrote */

#define DRV_PAGE_SHIFT 12
#define DRV_PAGE_SIZE (1ull << DRV_PAGE_SHIFT)
#define DRV_BLOCK_2M (1ull << 21)
/* Table pages one vCPU may own: the whole arena (one vCPU). */
#define DRV_MAX_TABLES (BENCH_ARENA_SIZE >> DRV_PAGE_SHIFT)

/* ---- the command queue (cmdq.c) ---- */

struct cmdq {
	uint64_t base;       /* GPA of entry 0 */
	uint64_t mmio;       /* the SMMU register page */
	uint64_t sync_gpa;   /* CMD_SYNC's MSI target word */
	uint32_t log2;       /* entries = 1 << log2 */
	uint32_t prod;       /* next entry to write: index | wrap bit */
	uint32_t published;  /* prod as last written to SMMU_R_CMDQ_PROD */
	uint32_t cons;       /* what the driver knows the SMMU consumed */
	uint32_t seq;        /* last CMD_SYNC sequence number used */
	uint64_t doorbells;  /* SMMU_R_CMDQ_PROD writes */
	uint64_t cons_reads; /* SMMU_R_CMDQ_CONS reads (queue looked full) */
};

/* Program SMMU_R_CMDQ_BASE; the queue starts empty (PROD = CONS = 0). */
void cmdq_init(struct cmdq *q, uint64_t base, uint32_t log2, uint64_t mmio,
	       uint64_t sync_gpa);
/* Write one command at PROD (not yet published).  When the queue looks
 * full, read CONS (one exit); if the SMMU still has not made room,
 * publish what is queued and read again; then BENCH_E_CMDQ. */
int cmdq_add(struct cmdq *q, uint64_t w0, uint64_t w1);
/* Publish PROD: one write to SMMU_R_CMDQ_PROD, the doorbell. */
void cmdq_doorbell(struct cmdq *q);
/* Add CMD_SYNC (CS = SIG_IRQ, MSI to sync_gpa with the next sequence
 * number), ring the doorbell and poll the word until the SMMU wrote the
 * sequence: 0, or BENCH_E_SYNC after a bounded poll. */
int cmdq_sync(struct cmdq *q);

/* Command encoders (two little-endian words each). */
void cmd_cfgi_cd(uint64_t *w, uint32_t sid, uint32_t ssid, bool leaf);
void cmd_tlbi_asid(uint64_t *w, uint16_t asid);
void cmd_tlbi_va(uint64_t *w, uint16_t asid, uint64_t iova, uint32_t num,
		 uint32_t scale, bool leaf);

/*
 * Invalidate [iova, iova + size) of asid (4K-page aligned): range
 * CMD_TLBI_NH_VA commands covering it exactly, or one CMD_TLBI_NH_ASID
 * when that would take more than DRV_TLBI_MAX_CMDS commands, then a
 * CMD_SYNC; one doorbell.  (The driver also uses the ASID form for a
 * range as large as the whole input space.)
 */
#define DRV_TLBI_MAX_CMDS 4
int cmdq_inv_range(struct cmdq *q, uint16_t asid, uint64_t iova,
		   uint64_t size, bool leaf);
/* The range commands (NUM, SCALE) that cover pages exactly: how many,
 * the first max of them filled in. */
uint32_t cmdq_range_split(uint64_t pages, uint32_t *num, uint32_t *scale,
			  uint32_t max);
int cmdq_inv_asid(struct cmdq *q, uint16_t asid);

/* ---- the driver (drv.c) ---- */

struct drv {
	struct cmdq q;
	uint64_t cpu_area;     /* BENCH_CPU_GPA(cpu) */
	uint64_t mmio;         /* this vCPU's SMMU page */
	uint64_t arena;        /* first table page */
	uint64_t root;         /* TTB0 */
	uint32_t arena_pages;
	uint32_t fresh;        /* pages [fresh, arena_pages) never used yet */
	uint32_t nfree;        /* free[0..nfree): pages given back */
	uint32_t ndefer;       /* defer[0..ndefer): freed after invalidation */
	uint32_t ias;
	uint32_t start_level;
	uint32_t strategy;     /* enum bench_strategy */
	uint32_t lazy;         /* unmap calls per invalidation (>= 1) */
	uint32_t unflushed;    /* unmap calls whose leaves wait (lazy) */
	uint16_t asid;
	bool free_empty;       /* unlink tables whose last entry goes */
	bool timed;            /* between PHASE_START and PHASE_END */
	/* Counters of the timed part (drv_phase(START) clears them). */
	uint64_t maps, unmaps, leaf_stores, tables_alloc, tables_freed;
	uint64_t requests, doorbell_base;
	uint64_t tsc_start, tsc_end, map_cycles, map_calls;
	uint64_t dma_bells;    /* device doorbells (one per map call) */
	/* Valid entries of each arena table page (its index). */
	uint16_t count[DRV_MAX_TABLES];
	uint16_t free_pages[DRV_MAX_TABLES];
	/* Tables unlinked by the current unmap call: index | level << 16. */
	uint32_t defer[DRV_MAX_TABLES];
};

/* Validate p, take the arena, allocate and zero the root, set up the
 * command queue and the CD (CFGI_CD + SYNC).  Nothing is timed yet. */
int drv_init(struct drv *d, const struct bench_params *p);

/*
 * Map [iova, iova + size) to [gpa, gpa + size) with leaves of pgsize
 * (4 KiB page, 2 MiB or 1 GiB block; everything aligned to it), perm
 * BENCH_PERM_*, then what the strategy asks after a map.  A failure
 * (BENCH_E_ARENA, DRV_E_EXIST) undoes the part of this call already
 * mapped.
 */
int drv_map(struct drv *d, uint64_t iova, uint64_t gpa, uint64_t size,
	    uint64_t pgsize, uint32_t perm);
/* Unmap [iova, iova + size) (4K aligned), then what the strategy asks. */
int drv_unmap(struct drv *d, uint64_t iova, uint64_t size);
/* Send the invalidation lazy unmaps are waiting for, if any. */
int drv_flush(struct drv *d);
/* Write a phase marker to SMMU_R_PHASE; BENCH_PHASE_START also clears the
 * counters, so the result covers the timed part only.  The TSC is read
 * just before the START and END stores, and around every map call in
 * between (struct bench_result's guest-side timing). */
void drv_phase(struct drv *d, uint64_t phase);
/* Copy the counters into r (status excepted). */
void drv_result(const struct drv *d, struct bench_result *r);

/* Invalidate [iova, iova + size) of the driver's ASID on the command
 * queue: by range, or by ASID when it is all the input space. */
int drv_invalidate(struct drv *d, uint64_t iova, uint64_t size, bool leaf);

/* ---- the workloads (work.c) ---- */

/* Run p->workload on an initialised driver. */
int work_run(struct drv *d, const struct bench_params *p);
/* The guest's entry to the driver (main.c calls it; main.c writes
 * r->status): initialise a driver, run p->workload, fill r. */
int work_main(const struct bench_params *p, struct bench_result *r);

#endif
