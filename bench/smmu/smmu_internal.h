/* SPDX-License-Identifier: MIT */
/*
 * The SMMU device's insides, shared by its files: smmu.c (the instance
 * and its register page), cmdq.c (the command queue and its commands),
 * request.c (the explicit strategy's requests) and verify.c.  Calls go
 * from smmu.c down to cmdq.c and request.c; what they all use is here.
 */
#ifndef WPT_BENCH_SMMU_INTERNAL_H
#define WPT_BENCH_SMMU_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "smmu.h"

/* SMMU_IDR1.CMDQS: the largest command queue is 2^19 entries. */
#define SMMU_CMDQ_MAX_LOG2 19
#define SMMU_CMDQ_BASE_ADDR_MASK 0x000fffffffffffe0ull /* [51:5] */
#define SMMU_CMDQ_BASE_LOG2_MASK 0x1full               /* [4:0] */
#define SMMU_CMD_SIZE 16
#define SMMU_CMD_OPCODE(w0) ((w0) & 0xff)

/* STE.S1ContextPtr, [51:6]: a CD is 64 bytes, aligned to them. */
#define SMMU_CD_ADDR_MASK 0x000fffffffffffc0ull
#define SMMU_CD_SIZE 64
#define CD0_T0SZ_GET(w) ((unsigned int)((w) & 0x3f))
#define CD0_TG0_GET(w) ((unsigned int)(((w) >> 6) & 3))
#define CD0_ASID_GET(w) ((uint16_t)((w) >> 48))

/* Command fields (SMMUv3 4.2-4.7). */
#define CMD_ASID(w0) ((uint16_t)((w0) >> 48))
#define CMD_TLBI_NUM(w0) (((w0) >> 12) & 0x1f)
#define CMD_TLBI_SCALE(w0) (((w0) >> 20) & 0x1f)
#define CMD_TLBI_TG(w1) ((unsigned int)(((w1) >> 10) & 3))
#define CMD_TLBI_ADDR(w1) ((w1) & ~0xfffull)
#define CMD_SYNC_CS(w0) ((unsigned int)(((w0) >> 12) & 3))
#define CMD_SYNC_CS_SEV 2
#define CMD_SYNC_MSIDATA(w0) ((uint32_t)((w0) >> 32))
#define CMD_SYNC_MSIADDR(w1) ((w1) & 0x000ffffffffffffcull) /* [51:2] */

struct smmu {
	struct smmu_cfg cfg;
	struct wpt_domain *d;
	uint32_t granule, ias;    /* the domain's, valid while d != NULL */
	uint16_t asid;            /* the last valid CD's */

	/* Registers. */
	uint64_t cmdq_base;
	uint32_t prod, cons;      /* index | wrap, as last set */
	uint32_t cerror;          /* CONS.ERR */
	uint64_t cd_base;

	/* EXPLICIT with a sink we cannot read back: what the requests that
	 * succeeded mapped, for smmu_verify. */
	struct wpt_sink *mirror;
	bool mirror_diverged;

	struct smmu_stats st;
	char err[256];
};

static inline void set_error(struct smmu *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline void set_error(struct smmu *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
}

/* The HVA of [gpa, gpa + len) if it lies wholly in RAM, else NULL. */
static inline uint8_t *ram_ptr(const struct smmu *s, uint64_t gpa,
			       uint64_t len)
{
	uint64_t off = gpa - s->cfg.ram_gpa;

	if (gpa < s->cfg.ram_gpa || off > s->cfg.ram_size ||
	    len > s->cfg.ram_size - off)
		return NULL;
	return s->cfg.ram + off;
}

static inline bool is_record_sink(const struct wpt_sink *sink)
{
	return wpt_sink_record_get(sink, NULL, 0) >= 0;
}

/* A library call failed for a reason other than the guest's command. */
static inline void count_domain_error(struct smmu *s, const char *what, int ret)
{
	s->st.domain_errors++;
	set_error(s, "%s: %s", what, strerror(-ret));
}

/* cmdq.c: SMMU_R_CMDQ_PROD written, the doorbell: consume every command
 * from CONS to PROD, in order. */
void smmu_cmdq_prod_write(struct smmu *s, uint32_t val);

/* request.c: SMMU_R_REQ written with the request's GPA. */
void smmu_request(struct smmu *s, uint64_t gpa);

/* dma.c: SMMU_R_DEV_BELL written with a struct bench_dma_desc's GPA. */
void smmu_dma_check(struct smmu *s, uint64_t gpa);

#endif
