/* SPDX-License-Identifier: MIT */
/*
 * An Arm SMMUv3 for kvmtool's arm64 guests, whose stage-1 tables libwpt
 * mirrors into the VFIO container.  This header is the model's whole
 * interface: it depends on libwpt (include/wpt.h) and on the host callbacks
 * below, never on kvmtool, so it builds and is unit-tested without it.
 *
 * What the guest sees (SMMUv3 architecture, IHI 0070): a 128 KiB register
 * frame (page 0 and page 1), stage 1 only (IDR0.S1P), AArch64 tables with
 * 4K/16K/64K granules, linear and 2-level stream tables, one context
 * descriptor per stream (SSIDSIZE 0), command and event queues, GERROR,
 * range invalidation (IDR3.RIL), CMD_SYNC completion by MSI write (IDR0.MSI
 * with COHACC: Linux then polls the queue entry the MSI writes), wired
 * interrupts for the event queue, GERROR and CMD_SYNC.  No stage 2, ATS,
 * PRI or stalls.
 *
 * How the device's DMA is kept current: DMA of a passed-through device never
 * passes through this model; the host's IOMMU translates it with what the
 * VFIO container holds.  So each stream the host registers comes with the
 * sink of its container, and a stream whose STE says "stage 1" gets a libwpt
 * domain on that sink, rooted at its CD's TTB0.  CFGI_* re-read the STE and
 * CD and set, move or clear the root; TLBI_* become wpt_domain_invalidate.
 * Configuration is read only at those commands and when SMMUEN changes (the
 * architecture lets an SMMU cache STEs and CDs until they are invalidated).
 *
 * One domain per sink: a VFIO type1 container holds one IOVA space, so every
 * stream on one sink must use the same stage-1 configuration.  A stream
 * whose configuration differs from the one its sink already serves is
 * refused with an F_CFG_CONFLICT event and keeps no mapping of its own.
 *
 * Threads: smmuv3__mmio may be called from any vCPU thread; the model
 * serialises on a lock of its own.  Host callbacks are called with it held.
 */
#ifndef KVM__SMMUV3_H
#define KVM__SMMUV3_H

#include <stddef.h>
#include <stdint.h>

#include "wpt.h"

#define SMMUV3_FRAME_SIZE 0x20000ull /* page 0 and page 1 */

enum smmuv3_irq {
	SMMUV3_IRQ_EVTQ,   /* an event was queued (IRQ_CTRL.EVENTQ_IRQEN) */
	SMMUV3_IRQ_GERROR, /* a GERROR bit toggled (IRQ_CTRL.GERROR_IRQEN) */
	SMMUV3_IRQ_SYNC,   /* CMD_SYNC with CS=IRQ and no MSI address */
	SMMUV3_NR_IRQS,
};

/*
 * What the model needs from its VMM.  read/write access guest RAM (0 or a
 * negative errno: the model turns a failure into the architected abort).
 * The model reports its own writes to the library with wpt_vm_host_wrote.
 * irq may be NULL (no wired interrupts).  bypass may be NULL: then a stream
 * in bypass (STE.Config = bypass, or SMMUEN = 0 with GBPA.ABORT = 0) is
 * treated as aborting and counted in bypass_refused; otherwise it maps
 * (on = 1) or unmaps (on = 0) all guest RAM at IOVA = GPA for that sink.
 */
struct smmuv3_host {
	void *opaque;
	int (*read)(void *opaque, uint64_t gpa, void *buf, uint32_t len);
	int (*write)(void *opaque, uint64_t gpa, const void *buf, uint32_t len);
	void (*irq)(void *opaque, enum smmuv3_irq irq);
	int (*bypass)(void *opaque, struct wpt_sink *sink, int on);
};

struct smmuv3_cfg {
	size_t size;            /* sizeof(struct smmuv3_cfg) */
	struct wpt_vm *vm;
	struct smmuv3_host host;
	enum wpt_mode mode;     /* of every domain: TRAP, HYBRID (or INVAL) */
	uint32_t oas;           /* output address bits (IDR5.OAS); 0: 48 */
};

struct smmuv3;

/* -EINVAL for a bad cfg, -ENOMEM. */
int smmuv3__new(const struct smmuv3_cfg *cfg, struct smmuv3 **out);

/* Frees every domain (which unmaps what they mapped), not the sinks. */
void smmuv3__free(struct smmuv3 *s);

/* A device behind the SMMU: stream sid's DMA is mapped through sink.
 * Before the guest runs.  -EEXIST if sid is registered, -ENOMEM. */
int smmuv3__add_stream(struct smmuv3 *s, uint32_t sid, struct wpt_sink *sink);

/*
 * One register access, off from the frame's base.  0, or -EINVAL for an
 * access no SMMUv3 register takes (misaligned, a size other than 4, or 8
 * for the 64-bit registers): the caller drops it, as kvmtool drops an
 * access with no handler.  Writes to read-only registers are ignored and
 * unknown offsets read as zero (RES0/RAZ-WI), as the architecture says.
 */
int smmuv3__mmio(struct smmuv3 *s, uint64_t off, void *data, uint32_t len,
		 int is_write);

/* The domain serving stream sid now, or NULL.  For tests and statistics. */
struct wpt_domain *smmuv3__stream_domain(struct smmuv3 *s, uint32_t sid);

struct smmuv3_stats {
	uint64_t cmds;            /* commands consumed */
	uint64_t cmd_errors;      /* CMDQ_CONS.ERR set */
	uint64_t cfgi;            /* CFGI_* commands */
	uint64_t tlbi;            /* TLBI_* commands */
	uint64_t syncs;           /* CMD_SYNC */
	uint64_t msi_writes;      /* CMD_SYNC MSI writes done */
	uint64_t events;          /* records written to the event queue */
	uint64_t events_lost;     /* queue full or disabled */
	uint64_t gerrors;         /* GERROR bits raised */
	uint64_t domains_created;
	uint64_t domains_freed;
	uint64_t root_changes;    /* wpt_domain_set_root calls */
	uint64_t invalidations;   /* wpt_domain_invalidate(_all) calls */
	uint64_t lib_errors;      /* libwpt calls that failed */
	uint64_t cfg_conflicts;   /* streams refused: their sink serves another
				   * configuration */
	uint64_t bypass_refused;  /* bypass with no host->bypass */
};
void smmuv3__stats(struct smmuv3 *s, struct smmuv3_stats *st);

#endif
