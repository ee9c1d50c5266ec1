/* SPDX-License-Identifier: MIT */
/*
 * The SMMUv3 model's register frame: identification, the CR0/CR0ACK and
 * IRQ_CTRL handshakes (acknowledged at once: the model has no pipeline to
 * drain), GBPA, GERROR/GERRORN, the stream table and queue registers.
 * Doorbells hand over to smmuv3-cmdq.c; enable changes to smmuv3-config.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smmuv3-internal.h"

static uint32_t smmuv3__idr(const struct smmuv3 *s, uint64_t off)
{
	switch (off) {
	case SMMU_IDR0:
		return IDR0_ST_LEVEL_2LVL | IDR0_TERM_MODEL | IDR0_STALL_NONE |
		       IDR0_TTENDIAN_LE | IDR0_ASID16 | IDR0_MSI |
		       IDR0_COHACC | IDR0_TTF_AA64 | IDR0_S1P;
	case SMMU_IDR1:
		return SMMU_CMDQS << 21 | SMMU_EVTQS << 16 | SMMU_SIDSIZE;
	case SMMU_IDR3:
		return IDR3_RIL | IDR3_HAD;
	case SMMU_IDR5: {
		/* IDR5.OAS: 0b101 is 48 bits, the most libwpt walks. */
		static const uint8_t bits[] = { 32, 36, 40, 42, 44, 48 };
		unsigned int i = 0;

		while (i + 1 < sizeof(bits) && bits[i + 1] <= s->cfg.oas)
			i++;
		return IDR5_GRAN | i;
	}
	case SMMU_AIDR:
		return SMMU_AIDR_V3_1;
	}
	return 0;
}

int smmuv3__read(struct smmuv3 *s, uint64_t gpa, void *buf, uint32_t len)
{
	return s->cfg.host.read(s->cfg.host.opaque, gpa, buf, len);
}

/* Every store the model makes to guest RAM (events, MSIs) may land on a
 * page the guest uses as a table: tell the library, as the DESIGN asks
 * of any emulated device's DMA. */
int smmuv3__write(struct smmuv3 *s, uint64_t gpa, const void *buf,
		  uint32_t len)
{
	int r = s->cfg.host.write(s->cfg.host.opaque, gpa, buf, len);

	if (r)
		return r;
	r = wpt_vm_host_wrote(s->cfg.vm, gpa, len);
	if (r < 0)
		s->st.lib_errors++;
	return 0;
}

void smmuv3__irq(struct smmuv3 *s, enum smmuv3_irq irq)
{
	if (s->cfg.host.irq)
		s->cfg.host.irq(s->cfg.host.opaque, irq);
}

/* GERROR bits are active while they differ from GERRORN: raising one that
 * is already active changes nothing (SMMUv3 7.5). */
void smmuv3__gerror_raise(struct smmuv3 *s, uint32_t bits)
{
	uint32_t fresh = bits & ~(s->gerror ^ s->gerrorn);

	if (!fresh)
		return;
	s->gerror ^= fresh;
	s->st.gerrors++;
	if (s->irq_ctrl & IRQ_CTRL_GERROR)
		smmuv3__irq(s, SMMUV3_IRQ_GERROR);
}

static uint64_t *smmuv3__reg64(struct smmuv3 *s, uint64_t off)
{
	switch (off) {
	case SMMU_GERROR_IRQ_CFG0: return &s->gerror_irq_cfg0;
	case SMMU_STRTAB_BASE: return &s->strtab_base;
	case SMMU_CMDQ_BASE: return &s->cmdq_base;
	case SMMU_EVENTQ_BASE: return &s->evtq_base;
	case SMMU_EVENTQ_IRQ_CFG0: return &s->evtq_irq_cfg0;
	}
	return NULL;
}

static uint32_t *smmuv3__reg32(struct smmuv3 *s, uint64_t off)
{
	switch (off) {
	case SMMU_CR0: case SMMU_CR0ACK: return &s->cr0;
	case SMMU_CR1: return &s->cr1;
	case SMMU_CR2: return &s->cr2;
	case SMMU_GBPA: return &s->gbpa;
	case SMMU_IRQ_CTRL: case SMMU_IRQ_CTRLACK: return &s->irq_ctrl;
	case SMMU_GERROR: return &s->gerror;
	case SMMU_GERRORN: return &s->gerrorn;
	case SMMU_GERROR_IRQ_CFG1: return &s->gerror_irq_cfg1;
	case SMMU_GERROR_IRQ_CFG2: return &s->gerror_irq_cfg2;
	case SMMU_STRTAB_BASE_CFG: return &s->strtab_cfg;
	case SMMU_CMDQ_PROD: return &s->cmdq_prod;
	case SMMU_CMDQ_CONS: return &s->cmdq_cons;
	case SMMU_EVENTQ_PROD: case SMMU_EVENTQ_PROD & 0xffff:
		return &s->evtq_prod;
	case SMMU_EVENTQ_CONS: case SMMU_EVENTQ_CONS & 0xffff:
		return &s->evtq_cons;
	case SMMU_EVENTQ_IRQ_CFG1: return &s->evtq_irq_cfg1;
	case SMMU_EVENTQ_IRQ_CFG2: return &s->evtq_irq_cfg2;
	}
	return NULL;
}

static uint64_t smmuv3__reg_read(struct smmuv3 *s, uint64_t off)
{
	uint64_t *r64 = smmuv3__reg64(s, off & ~7ull);
	uint32_t *r32;

	if (r64)
		return *r64 >> (8 * (off & 4));
	if (off <= SMMU_AIDR)
		return smmuv3__idr(s, off);
	r32 = smmuv3__reg32(s, off);
	return r32 ? *r32 : 0;
}

/* Reconfigure every stream: SMMUEN, or GBPA while SMMUEN is 0, changed. */
static void smmuv3__reload_all(struct smmuv3 *s)
{
	smmuv3__reload_range(s, 0, UINT32_MAX, false);
}

static void smmuv3__write_cr0(struct smmuv3 *s, uint32_t v)
{
	uint32_t old = s->cr0;

	s->cr0 = v & CR0_MASK;
	if ((old ^ s->cr0) & CR0_SMMUEN)
		smmuv3__reload_all(s);
	if (!(old & CR0_CMDQEN) && (s->cr0 & CR0_CMDQEN))
		smmuv3__cmdq_consume(s);
}

/* GERRORN acknowledges; a command error acknowledged lets the queue run
 * on from CONS (the guest has put a good command there: Linux a SYNC). */
static void smmuv3__write_gerrorn(struct smmuv3 *s, uint32_t v)
{
	bool was_err = (s->gerror ^ s->gerrorn) & GERROR_CMDQ_ERR;

	s->gerrorn = v & GERROR_MASK;
	if (was_err && !((s->gerror ^ s->gerrorn) & GERROR_CMDQ_ERR)) {
		s->cmdq_cons &= ~CMDQ_CONS_ERR_MASK;
		smmuv3__cmdq_consume(s);
	}
}

static uint32_t smmuv3__idx_mask(uint64_t base, unsigned int max)
{
	return (2u << smmuv3__q_log2(base, max)) - 1; /* index and wrap */
}

/* Queue and stream table registers: the architecture makes a base
 * register read-only while its queue (or the SMMU) is enabled. */
static void smmuv3__write_queue_reg(struct smmuv3 *s, uint64_t off,
				    uint32_t v)
{
	switch (off) {
	case SMMU_STRTAB_BASE_CFG:
		if (!(s->cr0 & CR0_SMMUEN))
			s->strtab_cfg = v & 0x307ff;
		break;
	case SMMU_CMDQ_PROD:
		s->cmdq_prod = v & smmuv3__idx_mask(s->cmdq_base, SMMU_CMDQS);
		smmuv3__cmdq_consume(s);
		break;
	case SMMU_CMDQ_CONS:
		if (!(s->cr0 & CR0_CMDQEN))
			s->cmdq_cons = v & smmuv3__idx_mask(s->cmdq_base,
							    SMMU_CMDQS);
		break;
	case SMMU_EVENTQ_PROD: case SMMU_EVENTQ_PROD & 0xffff:
		if (!(s->cr0 & CR0_EVTQEN))
			s->evtq_prod = v & smmuv3__idx_mask(s->evtq_base,
							    SMMU_EVTQS);
		break;
	case SMMU_EVENTQ_CONS: case SMMU_EVENTQ_CONS & 0xffff:
		s->evtq_cons = v & (EVTQ_OVFLG |
				    smmuv3__idx_mask(s->evtq_base, SMMU_EVTQS));
		break;
	}
}

static void smmuv3__reg_write32(struct smmuv3 *s, uint64_t off, uint32_t v)
{
	switch (off) {
	case SMMU_CR0:
		smmuv3__write_cr0(s, v);
		break;
	case SMMU_CR1: case SMMU_CR2:
		*smmuv3__reg32(s, off) = v;
		break;
	case SMMU_GBPA:
		/* An update completes at once: UPDATE reads back as 0. */
		if (v & GBPA_UPDATE) {
			s->gbpa = v & ~GBPA_UPDATE;
			if (!(s->cr0 & CR0_SMMUEN))
				smmuv3__reload_all(s);
		}
		break;
	case SMMU_IRQ_CTRL:
		s->irq_ctrl = v & 0x7;
		break;
	case SMMU_GERRORN:
		smmuv3__write_gerrorn(s, v);
		break;
	case SMMU_GERROR_IRQ_CFG1: case SMMU_GERROR_IRQ_CFG2:
	case SMMU_EVENTQ_IRQ_CFG1: case SMMU_EVENTQ_IRQ_CFG2:
		*smmuv3__reg32(s, off) = v;
		break;
	default:
		smmuv3__write_queue_reg(s, off, v);
	}
}

static void smmuv3__reg_write64(struct smmuv3 *s, uint64_t off, uint64_t v,
				uint64_t mask)
{
	uint64_t *r = smmuv3__reg64(s, off);
	uint64_t keep = BIT(63) | GENMASK(51, 0);

	if ((off == SMMU_STRTAB_BASE && (s->cr0 & CR0_SMMUEN)) ||
	    (off == SMMU_CMDQ_BASE && (s->cr0 & CR0_CMDQEN)) ||
	    (off == SMMU_EVENTQ_BASE && (s->cr0 & CR0_EVTQEN)))
		return;
	if (off == SMMU_STRTAB_BASE)
		keep = STRTAB_BASE_MASK;
	else if (off == SMMU_CMDQ_BASE || off == SMMU_EVENTQ_BASE)
		keep = Q_BASE_MASK;
	*r = (*r & ~mask) | (v & mask & keep);
}

int smmuv3__mmio(struct smmuv3 *s, uint64_t off, void *data, uint32_t len,
		 int is_write)
{
	bool is64 = smmuv3__reg64(s, off & ~7ull) != NULL;
	uint64_t v = 0;

	if ((len != 4 && !(len == 8 && is64)) || (off & (len - 1)) ||
	    off >= SMMUV3_FRAME_SIZE)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (!is_write) {
		v = smmuv3__reg_read(s, off);
		memcpy(data, &v, len); /* little-endian host and guest */
	} else {
		memcpy(&v, data, len);
		if (is64)
			smmuv3__reg_write64(s, off & ~7ull, v << (8 * (off & 4)),
					    len == 8 ? ~0ull :
					    GENMASK(31, 0) << (8 * (off & 4)));
		else
			smmuv3__reg_write32(s, off, (uint32_t)v);
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int smmuv3__new(const struct smmuv3_cfg *cfg, struct smmuv3 **out)
{
	struct smmuv3 *s;

	if (!cfg || !out || cfg->size < sizeof(*cfg) || !cfg->vm ||
	    !cfg->host.read || !cfg->host.write ||
	    (cfg->mode != WPT_MODE_TRAP && cfg->mode != WPT_MODE_HYBRID &&
	     cfg->mode != WPT_MODE_INVAL) ||
	    (cfg->oas && (cfg->oas < 32 || cfg->oas > 48)))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	if (!s->cfg.oas)
		s->cfg.oas = 48;
	/* Reset: DMA aborts until the guest's driver takes over (GBPA.ABORT
	 * is IMPLEMENTATION DEFINED at reset; aborting is the safe choice). */
	s->gbpa = GBPA_ABORT;
	pthread_mutex_init(&s->lock, NULL);
	*out = s;
	return 0;
}

void smmuv3__free(struct smmuv3 *s)
{
	unsigned int i;

	if (!s)
		return;
	for (i = 0; i < s->nr_streams; i++)
		smmuv3__stream_detach(s, &s->streams[i]);
	free(s->streams);
	free(s->domains);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void smmuv3__stats(struct smmuv3 *s, struct smmuv3_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}
