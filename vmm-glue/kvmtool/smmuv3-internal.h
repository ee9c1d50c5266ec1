/* SPDX-License-Identifier: MIT */
/*
 * The SMMUv3 model's private state and the architecture's encodings
 * (IHI 0070: register offsets in 6.2, STE 5.2, CD 5.4, commands 4,
 * events 7.3).  Shared by the model's files only; never installed.
 */
#ifndef KVM__SMMUV3_INTERNAL_H
#define KVM__SMMUV3_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "smmuv3.h"

#define BIT(n) (1ull << (n))
#define GENMASK(h, l) (((~0ull) >> (63 - (h))) & ~((1ull << (l)) - 1))
#define FIELD(v, h, l) (((v) & GENMASK(h, l)) >> (l))

/* ---- registers (offsets in the 128 KiB frame) ---- */
#define SMMU_IDR0 0x00
#define SMMU_IDR1 0x04
#define SMMU_IDR2 0x08
#define SMMU_IDR3 0x0c
#define SMMU_IDR4 0x10
#define SMMU_IDR5 0x14
#define SMMU_IIDR 0x18
#define SMMU_AIDR 0x1c
#define SMMU_CR0 0x20
#define SMMU_CR0ACK 0x24
#define SMMU_CR1 0x28
#define SMMU_CR2 0x2c
#define SMMU_STATUSR 0x40
#define SMMU_GBPA 0x44
#define SMMU_IRQ_CTRL 0x50
#define SMMU_IRQ_CTRLACK 0x54
#define SMMU_GERROR 0x60
#define SMMU_GERRORN 0x64
#define SMMU_GERROR_IRQ_CFG0 0x68
#define SMMU_GERROR_IRQ_CFG1 0x70
#define SMMU_GERROR_IRQ_CFG2 0x74
#define SMMU_STRTAB_BASE 0x80
#define SMMU_STRTAB_BASE_CFG 0x88
#define SMMU_CMDQ_BASE 0x90
#define SMMU_CMDQ_PROD 0x98
#define SMMU_CMDQ_CONS 0x9c
#define SMMU_EVENTQ_BASE 0xa0
#define SMMU_EVENTQ_PROD 0x100a8  /* page 1 */
#define SMMU_EVENTQ_CONS 0x100ac
#define SMMU_EVENTQ_IRQ_CFG0 0xb0
#define SMMU_EVENTQ_IRQ_CFG1 0xb8
#define SMMU_EVENTQ_IRQ_CFG2 0xbc

/* IDR0: 2-level stream tables, terminate model, no stall, little-endian
 * tables, 16-bit ASIDs, MSI, coherent walks, AArch64 tables, stage 1. */
#define IDR0_ST_LEVEL_2LVL (1u << 27)
#define IDR0_TERM_MODEL (1u << 26)
#define IDR0_STALL_NONE (1u << 24)
#define IDR0_TTENDIAN_LE (2u << 21)
#define IDR0_ASID16 (1u << 12)
#define IDR0_MSI (1u << 13)
#define IDR0_COHACC (1u << 4)
#define IDR0_TTF_AA64 (2u << 2)
#define IDR0_S1P (1u << 1)
#define SMMU_CMDQS 19   /* IDR1.CMDQS: the largest queues allowed */
#define SMMU_EVTQS 19
#define SMMU_SIDSIZE 16
#define IDR3_RIL (1u << 14)
#define IDR3_HAD (1u << 2)
#define IDR5_GRAN (7u << 4) /* 4K, 16K, 64K */
#define SMMU_AIDR_V3_1 1

#define CR0_SMMUEN BIT(0)
#define CR0_EVTQEN BIT(2)
#define CR0_CMDQEN BIT(3)
#define CR0_MASK 0x1dull /* SMMUEN, EVTQEN, CMDQEN, ATSCHK (no PRIQ) */
#define GBPA_UPDATE (1u << 31)
#define GBPA_ABORT (1u << 20)
#define IRQ_CTRL_GERROR BIT(0)
#define IRQ_CTRL_EVTQ BIT(2)
#define GERROR_CMDQ_ERR (1u << 0)
#define GERROR_EVTQ_ABT (1u << 2)
#define GERROR_MSI_CMDQ_ABT (1u << 4)
#define GERROR_MASK 0x1fdu

#define Q_BASE_ADDR GENMASK(51, 5)
#define Q_BASE_LOG2 GENMASK(4, 0)
#define Q_BASE_MASK (BIT(62) | Q_BASE_ADDR | Q_BASE_LOG2)
#define CMDQ_CONS_ERR_SHIFT 24
#define CMDQ_CONS_ERR_MASK (0x7fu << CMDQ_CONS_ERR_SHIFT)
#define EVTQ_OVFLG (1u << 31)
#define CERROR_ILL 1
#define CERROR_ABT 2

#define STRTAB_BASE_MASK (BIT(62) | GENMASK(51, 6))
#define STRTAB_CFG_LOG2(c) FIELD(c, 5, 0)
#define STRTAB_CFG_SPLIT(c) FIELD(c, 10, 6)
#define STRTAB_CFG_FMT(c) FIELD(c, 17, 16)
#define STRTAB_FMT_2LVL 1
#define STRTAB_L1_SPAN(d) FIELD(d, 4, 0)
#define STRTAB_L1_L2PTR(d) ((d) & GENMASK(51, 6))

/* ---- STE (64 bytes) and CD (64 bytes) ---- */
#define STE_SIZE 64
#define STE0_V BIT(0)
#define STE0_CONFIG(w) FIELD(w, 3, 1)
#define STE_CFG_ABORT 0
#define STE_CFG_BYPASS 4
#define STE_CFG_S1 5
#define STE0_S1FMT(w) FIELD(w, 5, 4)
#define STE0_CTXPTR(w) ((w) & GENMASK(51, 6))
#define STE0_S1CDMAX(w) FIELD(w, 63, 59)
#define STE1_S1DSS(w) FIELD(w, 1, 0)

#define CD_SIZE 64
#define CD0_T0SZ(w) FIELD(w, 5, 0)
#define CD0_TG0(w) FIELD(w, 7, 6)
#define CD0_EPD0 BIT(14)
#define CD0_ENDI BIT(15)
#define CD0_V BIT(31)
#define CD0_IPS(w) FIELD(w, 34, 32)
#define CD0_AA64 BIT(41)
#define CD0_ASID(w) FIELD(w, 63, 48)
#define CD1_HAD0 BIT(1)
#define CD1_TTB0(w) ((w) & GENMASK(51, 4))

/* ---- commands (16 bytes) ---- */
#define CMD_SIZE 16
#define CMD_OP(w0) FIELD(w0, 7, 0)
#define CMD_SID(w0) FIELD(w0, 63, 32)
#define CMD_SSID(w0) FIELD(w0, 31, 12)
#define CMD_ASID(w0) FIELD(w0, 63, 48)
#define CMD_STE_RANGE(w1) FIELD(w1, 4, 0)
#define CMD_TLBI_NUM(w0) FIELD(w0, 16, 12)
#define CMD_TLBI_SCALE(w0) FIELD(w0, 24, 20)
#define CMD_TLBI_TG(w1) FIELD(w1, 11, 10)
#define CMD_TLBI_ADDR(w1) ((w1) & GENMASK(63, 12))
#define CMD_SYNC_CS(w0) FIELD(w0, 13, 12)
#define CMD_SYNC_CS_IRQ 1
#define CMD_SYNC_MSIDATA(w0) FIELD(w0, 63, 32)
#define CMD_SYNC_MSIADDR(w1) ((w1) & GENMASK(51, 2))

enum smmuv3_opcode {
	CMD_PREFETCH_CONFIG = 0x01,
	CMD_PREFETCH_ADDR = 0x02,
	CMD_CFGI_STE = 0x03,
	CMD_CFGI_STE_RANGE = 0x04, /* CFGI_ALL: Range 31 */
	CMD_CFGI_CD = 0x05,
	CMD_CFGI_CD_ALL = 0x06,
	CMD_TLBI_NH_ALL = 0x10,
	CMD_TLBI_NH_ASID = 0x11,
	CMD_TLBI_NH_VA = 0x12,
	CMD_TLBI_NH_VAA = 0x13,
	CMD_TLBI_NSNH_ALL = 0x30,
	CMD_RESUME = 0x44,
	CMD_STALL_TERM = 0x45,
	CMD_SYNC = 0x46,
};

/* ---- events (32 bytes) ---- */
#define EVT_SIZE 32
enum smmuv3_event {
	EVT_C_BAD_STREAMID = 0x02,
	EVT_F_STE_FETCH = 0x03,
	EVT_C_BAD_STE = 0x04,
	EVT_C_BAD_SUBSTREAMID = 0x08,
	EVT_F_CD_FETCH = 0x09,
	EVT_C_BAD_CD = 0x0a,
	EVT_F_WALK_EABT = 0x0b,
	EVT_F_TRANSLATION = 0x10,
	EVT_F_ADDR_SIZE = 0x11,
	EVT_F_CFG_CONFLICT = 0x21,
};

/* ---- the model ---- */

/* A domain: one stage-1 configuration on one sink. */
struct smmuv3_domain {
	struct wpt_domain *d;
	struct wpt_sink *sink;
	struct wpt_format_cfg fmt;
	uint64_t ttb0;
	uint16_t asid;
	unsigned int refs;       /* streams using it */
};

/* What a stream's STE and CD said at the last configuration read. */
enum smmuv3_stream_state {
	STREAM_ABORT,            /* no mapping */
	STREAM_BYPASS,           /* all RAM, through host->bypass */
	STREAM_S1,               /* dom holds its mapping */
};

struct smmuv3_stream {
	uint32_t sid;
	struct wpt_sink *sink;
	enum smmuv3_stream_state state;
	struct smmuv3_domain *dom; /* STREAM_S1 */
};

/* Decoded stage-1 configuration of a stream (from its STE and CD). */
struct smmuv3_s1cfg {
	struct wpt_format_cfg fmt;
	uint64_t ttb0;
	uint16_t asid;
};

struct smmuv3 {
	struct smmuv3_cfg cfg;
	pthread_mutex_t lock;    /* everything below */

	uint32_t cr0, cr1, cr2, gbpa, irq_ctrl;
	uint32_t gerror, gerrorn;
	uint64_t gerror_irq_cfg0, evtq_irq_cfg0;
	uint32_t gerror_irq_cfg1, gerror_irq_cfg2;
	uint32_t evtq_irq_cfg1, evtq_irq_cfg2;
	uint64_t strtab_base;
	uint32_t strtab_cfg;
	uint64_t cmdq_base, evtq_base;
	uint32_t cmdq_prod, cmdq_cons; /* cons: index | wrap | ERR */
	uint32_t evtq_prod, evtq_cons; /* prod: index | wrap | OVFLG */

	struct smmuv3_stream *streams;
	unsigned int nr_streams;
	/* One per sink at most, so never more than streams: both arrays
	 * grow only in smmuv3__add_stream, before any domain exists, and
	 * streams point into domains. */
	struct smmuv3_domain *domains;  /* slots with d == NULL are free */

	struct smmuv3_stats st;
};

/* Guest RAM through the host (smmuv3-regs.c). */
int smmuv3__read(struct smmuv3 *s, uint64_t gpa, void *buf, uint32_t len);
int smmuv3__write(struct smmuv3 *s, uint64_t gpa, const void *buf,
		  uint32_t len);
void smmuv3__irq(struct smmuv3 *s, enum smmuv3_irq irq);
void smmuv3__gerror_raise(struct smmuv3 *s, uint32_t bits);

/* Queues (smmuv3-queue.c). */
uint32_t smmuv3__q_log2(uint64_t base, unsigned int max);
bool smmuv3__q_empty(uint32_t prod, uint32_t cons, unsigned int log2);
bool smmuv3__q_full(uint32_t prod, uint32_t cons, unsigned int log2);
uint32_t smmuv3__q_inc(uint32_t idx, unsigned int log2);
uint64_t smmuv3__q_entry(uint64_t base, uint32_t idx, unsigned int log2,
			 unsigned int entry_size);
void smmuv3__cmdq_consume(struct smmuv3 *s);
void smmuv3__event(struct smmuv3 *s, enum smmuv3_event id, uint32_t sid,
		   uint64_t addr);

/* Stream configuration (smmuv3-config.c). */
void smmuv3__stream_reload(struct smmuv3 *s, struct smmuv3_stream *st,
			   bool report);
void smmuv3__reload_range(struct smmuv3 *s, uint64_t first, uint64_t last,
			  bool report);
struct smmuv3_stream *smmuv3__stream_find(struct smmuv3 *s, uint32_t sid);
void smmuv3__stream_detach(struct smmuv3 *s, struct smmuv3_stream *st);

/* Invalidation (smmuv3-tlbi.c). */
int smmuv3__tlbi(struct smmuv3 *s, const uint64_t cmd[2]);

#endif
