/* SPDX-License-Identifier: MIT */
/*
 * The contract between the bench guest (bench/guest/, freestanding x86-64)
 * and its VMM (bench/vmm/, bench/smmu/, bench/wpt-bench.c): the guest
 * physical layout, the SMMUv3-style device's registers, the real SMMUv3
 * command and context-descriptor encodings the guest uses, and the
 * parameter and result blocks.  Types only from <stdint.h>, so both sides
 * include it.
 *
 * Guest physical map (identity-mapped by the guest's x86 page tables, all
 * pages user-accessible so the driver can run at CPL3):
 *
 *   0x0000_0000  BENCH_PT_GPA       x86-64 page tables (PML4, PDPT, PDs)
 *   0x0010_0000  BENCH_IMAGE_GPA    the flat guest image (code, data, bss)
 *   0x0020_0000  BENCH_CPU_GPA(c)   per-vCPU area: params, cmdq, CD, request,
 *                                   sync word, stack (BENCH_CPU_AREA each)
 *   0x0040_0000  BENCH_ARENA_GPA    the IOMMU table arena, halved per vCPU
 *   0x0400_0000  BENCH_DATA_GPA     data pages the IOMMU mappings point at
 *                                   (never touched by the guest)
 *   ...          BENCH_RAM_SIZE     end of guest RAM
 *   0xd000_0000  BENCH_MMIO_GPA(c)  one SMMU register page per vCPU
 *
 * The system area [0, BENCH_ARENA_GPA) and the arena sit in different
 * 2 MiB chunks, so with RAM pre-cut into 2 MiB slots a table page's slot
 * split never removes the slot holding running code or a stack.
 */
#ifndef WPT_BENCH_ABI_H
#define WPT_BENCH_ABI_H

#include <stdint.h>

#define BENCH_MAX_CPUS 2

#define BENCH_PT_GPA 0x0ull
#define BENCH_IMAGE_GPA 0x100000ull
#define BENCH_IMAGE_MAX 0x100000ull
#define BENCH_CPU_GPA(c) (0x200000ull + (uint64_t)(c) * BENCH_CPU_AREA)
#define BENCH_CPU_AREA 0x100000ull
#define BENCH_ARENA_GPA 0x400000ull
#define BENCH_ARENA_SIZE 0x3c00000ull /* 60 MiB: 15360 table pages */
#define BENCH_DATA_GPA 0x4000000ull
#define BENCH_DATA_SIZE 0x4000000ull  /* 64 MiB */
#define BENCH_RAM_SIZE (BENCH_DATA_GPA + BENCH_DATA_SIZE)
#define BENCH_MMIO_GPA(c) (0xd0000000ull + (uint64_t)(c) * 0x1000)
#define BENCH_MMIO_SIZE 0x1000ull

/* Inside a per-vCPU area (offsets from BENCH_CPU_GPA(c)). */
#define BENCH_OFF_PARAMS 0x0000   /* struct bench_params, then result */
#define BENCH_OFF_CD 0x1000       /* 64-byte context descriptor */
#define BENCH_OFF_REQ 0x2000      /* struct bench_req (explicit strategy) */
#define BENCH_OFF_SYNC 0x3000     /* CMD_SYNC completion word (MSI target) */
#define BENCH_OFF_DMA 0x4000      /* struct bench_dma_desc (device doorbell) */
#define BENCH_OFF_CMDQ 0x10000    /* command queue, 1 << BENCH_CMDQ_LOG2 */
#define BENCH_CMDQ_LOG2 8         /* entries of 16 bytes: 4 KiB */
#define BENCH_OFF_STACK_TOP 0x100000 /* stack grows down from the area end */

/* ---- the SMMU-style register page (offsets, all 64-bit or 32-bit) ---- */
#define SMMU_R_ID 0x00          /* r: BENCH_SMMU_ID */
#define SMMU_R_CMDQ_BASE 0x08   /* rw 64: GPA | LOG2SIZE[4:0], as SMMU_CMDQ_BASE */
#define SMMU_R_CMDQ_PROD 0x10   /* rw 32: index | wrap bit at LOG2SIZE */
#define SMMU_R_CMDQ_CONS 0x14   /* r 32: consumed up to */
#define SMMU_R_CD_BASE 0x18     /* rw 64: GPA of the CD (STE.S1ContextPtr) */
#define SMMU_R_REQ 0x20         /* w 64: GPA of a struct bench_req: one exit */
#define SMMU_R_DONE 0x28        /* w 64: guest finished, value = status */
#define SMMU_R_NOP 0x30         /* w 64: does nothing (exit calibration) */
#define SMMU_R_PHASE 0x38       /* w 64: phase marker, see BENCH_PHASE_* */
/* w 64: GPA of a struct bench_dma_desc.  Not the SMMU's: the doorbell of
 * the passed-through device behind it, in this page only so every
 * harness routes it (a real device's sits in its own BAR).  The VMM
 * registers these 8 bytes with wpt_vm_add_doorbell and checks at each
 * ring that the IOVAs handed over are mapped (the DMA check). */
#define SMMU_R_DEV_BELL 0x40
#define BENCH_SMMU_ID 0x534d4d5576336277ull

#define BENCH_PHASE_START 1     /* setup done: the timed part begins */
#define BENCH_PHASE_MID 2       /* bulk/split: maps done, unmaps begin */
#define BENCH_PHASE_END 3       /* timed part over (before DONE) */

/* ---- SMMUv3 commands: two little-endian 64-bit words ---- */
#define CMD_CFGI_CD 0x05        /* w0: SSID[31:12] SID[63:32]; w1: Leaf[0] */
#define CMD_TLBI_NH_ASID 0x11   /* w0: VMID[47:32] ASID[63:48] */
#define CMD_TLBI_NH_VA 0x12     /* w0: NUM[16:12] SCALE[24:20] VMID ASID;
				 * w1: Leaf[0] TTL[9:8] TG[11:10] ADDR[63:12] */
#define CMD_TLBI_NSNH_ALL 0x30
#define CMD_SYNC 0x46           /* w0: CS[13:12] MSIData[63:32];
				 * w1: MSIAddress[51:2] */
#define CMD_SYNC_CS_NONE 0
#define CMD_SYNC_CS_IRQ 1       /* with an MSI address: the VMM writes
				 * MSIData there when the sync completes */

/* ---- SMMUv3 context descriptor, first two 64-bit words ---- */
#define CD0_T0SZ(x) ((uint64_t)(x) & 0x3f)           /* [5:0] */
#define CD0_TG0(x) (((uint64_t)(x) & 3) << 6)        /* 0 4K, 1 64K, 2 16K */
#define CD0_EPD0 (1ull << 14)
#define CD0_V (1ull << 31)
#define CD0_AA64 (1ull << 41)
#define CD0_ASID(x) ((uint64_t)(x) << 48)
#define CD1_TTB0_MASK 0x000ffffffffffff0ull         /* [51:4] */

/* ---- what the VMM asks, what the guest reports ---- */
enum bench_workload {
	BENCH_W_STREAM4K = 1, /* map/unmap one 4K page over a hot window */
	BENCH_W_BULK4K,       /* map bulk_bytes as 4K pages, unmap it */
	BENCH_W_BULK2M,       /* the same with 2 MiB blocks */
	BENCH_W_CHURN,        /* random maps/unmaps over a 48-bit IOVA space */
	BENCH_W_SPLIT,        /* map 2 MiB blocks, unmap one 4K page in each */
	BENCH_W_CAL_EXIT,     /* ops writes to SMMU_R_NOP: exit calibration */
	/* Test aid (bench/tests/test_bench_guest.c): the stores a guest can
	 * make to a table that are not one aligned 8-byte store (4-byte
	 * halves, a store crossing out of a table page), with PHASE_MID
	 * checkpoints between the steps; ops, window and bulk are unused.
	 * TRAP, HYBRID and INVAL only; bench/guest/work.c says what it
	 * does. */
	BENCH_W_EDGES = 7,
	/* Test aid (tests/unit/test_singlestep_kvm.c): like CAL_EXIT, but
	 * between PHASE_START and PHASE_END one lock cmpxchg16b at the GPA
	 * p->iova_base (16-aligned, at or above BENCH_ARENA_GPA), expecting
	 * the 16 bytes there and writing p->seed (low) and p->bulk_bytes
	 * (high): a store KVM's x86 emulator refuses on a read-only slot.
	 * Status BENCH_E_CMPXCHG if the compare failed. */
	BENCH_W_CAL_CX16 = 8,
};

enum bench_strategy {
	BENCH_S_TRAP = 1,     /* no invalidation on map */
	BENCH_S_HYBRID,       /* guest behaves as for trap */
	BENCH_S_INVAL,        /* invalidate on map and on unmap */
	BENCH_S_EXPLICIT,     /* one SMMU_R_REQ exit per map and per unmap */
	BENCH_S_RELAXED,      /* guest as for trap; WPT_MODE_RELAXED */
};

#define BENCH_PARAMS_MAGIC 0x77707462u /* "btpw" */

struct bench_params {
	uint32_t magic;
	uint32_t cpu;
	uint32_t workload;       /* enum bench_workload */
	uint32_t strategy;       /* enum bench_strategy */
	uint32_t lazy;           /* unmaps per invalidation: 1 = strict */
	uint32_t asid;
	uint64_t ops;            /* operations (pairs, pages, blocks...) */
	uint64_t seed;
	uint64_t window_pages;   /* stream4k: hot IOVA window */
	uint64_t bulk_bytes;     /* bulk, split: bytes mapped */
	uint64_t arena_gpa;      /* this vCPU's share of the table arena */
	uint64_t arena_size;
	uint64_t data_gpa;       /* GPAs mapped lie in [data_gpa, +data_size) */
	uint64_t data_size;
	uint64_t mmio_gpa;       /* this vCPU's SMMU page */
	uint64_t iova_base;      /* stream, bulk, split start here */
	uint32_t ias;            /* 48 */
	uint32_t pad;
};

struct bench_result {
	uint64_t status;         /* 0 ok, else BENCH_E_* */
	uint64_t maps;           /* map operations done (pages or blocks) */
	uint64_t unmaps;
	uint64_t leaf_stores;    /* descriptor stores to tables */
	uint64_t tables_alloc;
	uint64_t tables_freed;
	uint64_t invals;         /* command-queue doorbells */
	uint64_t requests;       /* explicit requests */
	/* Guest-side timing by rdtsc: the TSC just before the PHASE_START and
	 * PHASE_END stores (so the VMM can scale cycles to ns), and the
	 * cycles spent in map calls of the timed part (stores, doorbell,
	 * request included). */
	uint64_t tsc_start, tsc_end;
	uint64_t map_cycles, map_calls;
	uint64_t dma_bells;      /* SMMU_R_DEV_BELL writes (one per map call) */
};

/* What the driver hands the device at SMMU_R_DEV_BELL: a range it just
 * mapped, for the device to DMA to (the harness checks the translation
 * instead of moving data). */
struct bench_dma_desc {
	uint64_t iova;
	uint64_t gpa;
	uint64_t size;
};

#define BENCH_OFF_RESULT 0x800   /* struct bench_result in the params page */

#define BENCH_E_ARENA 1          /* table arena exhausted */
#define BENCH_E_PARAMS 2         /* bad parameter block */
#define BENCH_E_CMDQ 3           /* command queue error (CONS did not move) */
#define BENCH_E_SYNC 4           /* CMD_SYNC never completed */
#define BENCH_E_CMPXCHG 5        /* BENCH_W_CAL_CX16: the compare failed */

/* Explicit strategy: the guest fills one of these and writes its GPA to
 * SMMU_R_REQ (virtio-iommu style MAP/UNMAP in one exit). */
#define BENCH_REQ_MAP 1
#define BENCH_REQ_UNMAP 2
#define BENCH_PERM_R 1
#define BENCH_PERM_W 2

struct bench_req {
	uint32_t op;
	uint32_t perm;           /* BENCH_PERM_* */
	uint64_t iova;
	uint64_t gpa;
	uint64_t size;
	uint64_t status;         /* written back by the VMM: 0 or -errno */
};

#endif
