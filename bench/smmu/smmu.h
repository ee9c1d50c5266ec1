/* SPDX-License-Identifier: MIT */
/*
 * The bench's SMMUv3-style device, VMM side: one register page per vCPU
 * (bench/abi.h), a command queue in guest RAM with the real SMMUv3 16-byte
 * command encodings, a context descriptor that sets the domain's root, and
 * a request register for the explicit strategy.  Each instance owns one
 * wpt_domain and turns the guest's CFGI_CD / TLBI commands into
 * wpt_domain_set_root / wpt_domain_invalidate calls.
 *
 * Threads: one instance per vCPU, called only from that vCPU's thread; no
 * lock inside an instance.  The library calls it makes are thread-safe.
 *
 * Simplifications against SMMUv3 (the guest driver must follow these):
 *  - no CR0/enable bits: the queue is live once CMDQ_BASE is written, and a
 *    CMDQ_BASE write resets PROD and CONS to 0;
 *  - LOG2SIZE above 19 (SMMU_IDR1.CMDQS's maximum) is treated as 19, and the
 *    base is aligned down to the queue's size (at least 32 bytes);
 *  - a command error stops consumption with CONS at the failed command and
 *    CONS.ERR set (CERROR_ILL, or CERROR_ABT when the queue entry lies
 *    outside RAM); there is no GERROR/GERRORN: the next PROD write clears
 *    ERR and resumes from CONS, so the guest rewrites the bad entry first;
 *  - a bad CD (V set but not AA64, reserved TG0, T0SZ outside 16..39, TTB0
 *    misaligned or outside RAM) is a command error of the CFGI_CD (a real
 *    SMMU raises C_BAD_CD later instead); CD.EPD0 set acts like V clear;
 *  - TLBI_NH_VA and TLBI_NH_ASID act only when their ASID is the CD's.
 *
 * The page also carries the passed-through device's doorbell
 * (SMMU_R_DEV_BELL): at each ring the device checks, in every strategy,
 * that the sink translates every page of the range handed over to the
 * GPA handed over, readable (smmu_stats' dma_checks, dma_faults).
 */
#ifndef WPT_BENCH_SMMU_H
#define WPT_BENCH_SMMU_H

#include <stdbool.h>
#include <stdint.h>

#include "wpt.h"
#include "../abi.h"

/* SMMU_CMDQ_CONS.ERR, bits [30:24]. */
#define SMMU_CONS_ERR_SHIFT 24
#define SMMU_CONS_ERR_MASK (0x7fu << SMMU_CONS_ERR_SHIFT)
#define SMMU_CERROR_NONE 0
#define SMMU_CERROR_ILL 1  /* illegal command (or bad CD, here) */
#define SMMU_CERROR_ABT 2  /* abort on command fetch: entry not in RAM */

struct smmu;

struct smmu_cfg {
	struct wpt_vm *vm;
	uint8_t *ram;            /* HVA of guest RAM at ram_gpa */
	uint64_t ram_gpa, ram_size;
	enum bench_strategy strategy;
	/* TRAP/HYBRID/INVAL/RELAXED: the domain's sink (that domain mode).
	 * EXPLICIT: each BENCH_REQ_MAP/UNMAP request goes straight to this
	 * sink (hva = ram + (gpa - ram_gpa)), and the domain is an INVAL-mode
	 * domain on check_sink that is never invalidated while the guest
	 * runs. */
	struct wpt_sink *sink;
	struct wpt_sink *check_sink;  /* EXPLICIT only (a record sink) */
	uint32_t oas;                 /* 0: 48 */
};

/* -EINVAL for a bad cfg, -ENOMEM. */
int smmu_new(const struct smmu_cfg *cfg, struct smmu **out);

/* Frees its domain, not the sinks. */
void smmu_free(struct smmu *s);

/*
 * One access to the register page, off = offset in the page.  0, or -EINVAL
 * for a malformed access: an offset that is no register of this device (the
 * harness registers DONE, NOP and PHASE included: the VMM handles those), a
 * length other than the register's (4 for PROD and CONS; 8, or 4 for either
 * half, for ID, CMDQ_BASE and CD_BASE; 8 for REQ), a misaligned access, a
 * read of REQ or a write of ID or CONS.  A guest error inside a command or
 * a request is not -errno: it is counted in the stats, and sets CONS.ERR or
 * the request's status.
 */
int smmu_mmio(struct smmu *s, uint64_t off, uint8_t *data, uint32_t len,
	      bool is_write);

/* NULL before the first valid CFGI_CD; may change when a later CD changes
 * the granule or the input size. */
struct wpt_domain *smmu_domain(struct smmu *s);

/*
 * After the run.  TRAP/HYBRID/INVAL/RELAXED: wpt_domain_verify of the
 * domain as it stands (RELAXED: the guest's last doorbell or
 * invalidation was its last sync point).  EXPLICIT: wpt_domain_invalidate_all on the check domain, then the
 * sink must translate exactly the pages check_sink translates, to the same
 * GPAs with the same perms (compared as maximal runs, so the two need not
 * have split their mappings alike).  A sink that is not a recording sink is
 * compared through a private record of the requests that succeeded.  0, or
 * -EIO with the reason in smmu_last_error.
 */
int smmu_verify(struct smmu *s);

/* The last verify failure or guest error, "" if none. */
const char *smmu_last_error(const struct smmu *s);

struct smmu_stats {
	uint64_t doorbells;      /* CMDQ_PROD writes */
	/* Commands fetched (one that failed included), and by opcode; a TLBI
	 * with another ASID or before any CD is counted but does nothing. */
	uint64_t cmds, tlbi_va, tlbi_asid, tlbi_all, cfgi_cd, syncs;
	uint64_t requests;       /* SMMU_R_REQ writes */
	uint64_t req_errors;     /* requests with a nonzero status or none */
	uint64_t cmd_errors;     /* times CONS.ERR was set */
	uint64_t inval_ns;       /* time inside wpt_domain_invalidate* */
	uint64_t domain_errors;  /* set_root/invalidate calls that failed
				  * for a reason other than the guest's
				  * command (a sink error, a work limit) */
	uint64_t msi_writes;     /* CMD_SYNC MSIData writes done */
	/* The device's doorbell (SMMU_R_DEV_BELL): ranges checked, and those
	 * with a page the sink did not translate to the GPA handed over
	 * (what a real device's DMA would have faulted on or misdirected). */
	uint64_t dma_checks, dma_faults;
};
void smmu_stats(const struct smmu *s, struct smmu_stats *st);

#endif
