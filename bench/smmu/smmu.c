/* SPDX-License-Identifier: MIT */
/*
 * The bench's SMMUv3-style device (see smmu.h for what it simplifies): the
 * instance and its register page.  Register accesses come from the vCPU's
 * MMIO exits; a CMDQ_PROD write (the doorbell) goes to cmdq.c, a request
 * to request.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "smmu_internal.h"
#include "sink/sink.h"

int smmu_new(const struct smmu_cfg *cfg, struct smmu **out)
{
	struct smmu *s;

	if (!cfg || !out || !cfg->vm || !cfg->ram || !cfg->ram_size ||
	    cfg->ram_gpa + cfg->ram_size < cfg->ram_gpa || !cfg->sink)
		return -EINVAL;
	switch (cfg->strategy) {
	case BENCH_S_TRAP:
	case BENCH_S_HYBRID:
	case BENCH_S_INVAL:
	case BENCH_S_RELAXED:
		break;
	case BENCH_S_EXPLICIT:
		if (!cfg->check_sink || cfg->check_sink == cfg->sink)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	if (!s->cfg.oas)
		s->cfg.oas = 48;
	if (cfg->strategy == BENCH_S_EXPLICIT && !is_record_sink(cfg->sink) &&
	    wpt_sink_record_new(&s->mirror)) {
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void smmu_free(struct smmu *s)
{
	if (!s)
		return;
	wpt_domain_free(s->d);
	wpt_sink_free(s->mirror);
	free(s);
}

struct wpt_domain *smmu_domain(struct smmu *s)
{
	return s ? s->d : NULL;
}

const char *smmu_last_error(const struct smmu *s)
{
	return s ? s->err : "no smmu";
}

void smmu_stats(const struct smmu *s, struct smmu_stats *st)
{
	if (s)
		*st = s->st;
	else
		memset(st, 0, sizeof(*st));
}

/* Read len bytes of a 64-bit register at byte offset half (0 or 4). */
static void reg_read(uint64_t reg, unsigned int half, uint8_t *data,
		     uint32_t len)
{
	uint64_t v = reg >> (8 * half);

	memcpy(data, &v, len);
}

/* Merge a 4- or 8-byte write into a 64-bit register. */
static uint64_t reg_merge(uint64_t reg, unsigned int half, const uint8_t *data,
			  uint32_t len)
{
	uint64_t v = 0, mask = len == 8 ? ~0ull : 0xffffffffull;

	memcpy(&v, data, len);
	return (reg & ~(mask << (8 * half))) | (v << (8 * half));
}

int smmu_mmio(struct smmu *s, uint64_t off, uint8_t *data, uint32_t len,
	      bool is_write)
{
	unsigned int half = off & 4;
	uint32_t v32;

	if (!s || !data || (len != 4 && len != 8) || (off & (len - 1)) ||
	    off >= BENCH_MMIO_SIZE)
		return -EINVAL;
	switch (off) {
	case SMMU_R_CMDQ_PROD:
		if (len != 4)
			return -EINVAL;
		if (is_write) {
			memcpy(&v32, data, 4);
			smmu_cmdq_prod_write(s, v32);
		} else {
			memcpy(data, &s->prod, 4);
		}
		return 0;
	case SMMU_R_CMDQ_CONS:
		if (is_write)
			return -EINVAL;
		v32 = s->cons | (s->cerror << SMMU_CONS_ERR_SHIFT);
		memcpy(data, &v32, 4);
		return 0;
	}
	switch (off & ~7ull) {
	case SMMU_R_ID:
		if (is_write)
			return -EINVAL;
		reg_read(BENCH_SMMU_ID, half, data, len);
		return 0;
	case SMMU_R_CMDQ_BASE:
		if (!is_write) {
			reg_read(s->cmdq_base, half, data, len);
			return 0;
		}
		/* No CR0.CMDQEN here: a new base is a fresh, empty queue. */
		s->cmdq_base = reg_merge(s->cmdq_base, half, data, len);
		s->prod = s->cons = 0;
		s->cerror = SMMU_CERROR_NONE;
		return 0;
	case SMMU_R_CD_BASE:
		if (is_write)
			s->cd_base = reg_merge(s->cd_base, half, data, len);
		else
			reg_read(s->cd_base, half, data, len);
		return 0;
	case SMMU_R_REQ:
	case SMMU_R_DEV_BELL:
		if (!is_write || len != 8)
			return -EINVAL;
		{
			uint64_t gpa;

			memcpy(&gpa, data, 8);
			if (off == SMMU_R_REQ)
				smmu_request(s, gpa);
			else
				smmu_dma_check(s, gpa);
		}
		return 0;
	default:
		return -EINVAL;
	}
}
