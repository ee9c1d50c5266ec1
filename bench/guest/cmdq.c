/* SPDX-License-Identifier: MIT */
/*
 * The guest side of an SMMUv3 command queue: 16-byte commands in guest RAM,
 * a PROD register the guest writes (the doorbell, the one exit of an
 * invalidation) and a CONS register it reads only when the queue looks
 * full.  Both indexes carry a wrap bit just above the index bits (SMMUv3
 * Q_IDX / Q_WRP), so a full queue (same index, wraps differ) and an empty
 * one (same index, same wrap) are told apart.
 *
 * Completion: CMD_SYNC with CS = SIG_IRQ and an MSI address in guest RAM;
 * the VMM writes MSIData there while it handles the doorbell, so the guest
 * polls a word of its own memory instead of reading CONS (another exit).
 * As in Linux's arm_smmu_cmdq_poll_until_msi, a completed sync also tells
 * the driver that everything up to it was consumed.
 */
#include "drv.h"
#include "plat.h"

/* The poll is bounded: the VMM writes the word before the doorbell exit
 * returns, so the first read normally sees it. */
#define CMDQ_SYNC_POLLS (1u << 16)

#define CMDQ_CONS_ERR_MASK (0x7fu << 24)  /* SMMU_CMDQ_CONS.ERR [30:24] */
#define CMD_SYNC_CS_SHIFT 12
#define CMD_SYNC_MSIDATA_SHIFT 32
#define CMD_SYNC_MSIADDR_MASK 0x000ffffffffffffcull /* [51:2] */
#define CMD_TLBI_NUM_SHIFT 12
#define CMD_TLBI_SCALE_SHIFT 20
#define CMD_TLBI_ASID_SHIFT 48
#define CMD_TLBI_LEAF 1ull
#define CMD_TLBI_TG_SHIFT 10
#define CMD_TLBI_TG_4K 1ull
#define CMD_TLBI_ADDR_MASK 0xfffffffffffff000ull   /* [63:12] */
#define CMD_TLBI_RANGE_NUM_MAX 32                   /* NUM is 5 bits */
#define CMD_TLBI_RANGE_SCALE_MAX 31                 /* SCALE is 5 bits */
#define CMD_CFGI_SSID_SHIFT 12
#define CMD_CFGI_SID_SHIFT 32

static uint32_t q_entries(const struct cmdq *q)
{
	return 1u << q->log2;
}

/* Index and wrap together run modulo twice the queue size. */
static uint32_t q_wrap_mask(const struct cmdq *q)
{
	return (2u << q->log2) - 1;
}

static uint32_t q_used(const struct cmdq *q)
{
	return (q->prod - q->cons) & q_wrap_mask(q);
}

static bool q_full(const struct cmdq *q)
{
	return q_used(q) >= q_entries(q);
}

void cmdq_init(struct cmdq *q, uint64_t base, uint32_t log2, uint64_t mmio,
	       uint64_t sync_gpa)
{
	q->base = base;
	q->mmio = mmio;
	q->sync_gpa = sync_gpa;
	q->log2 = log2;
	q->prod = q->published = q->cons = 0;
	q->seq = 0;
	q->doorbells = q->cons_reads = 0;
	plat_store64(sync_gpa, 0);
	plat_fence();
	plat_mmio_write64(mmio + SMMU_R_CMDQ_BASE, base | log2);
}

static void cmdq_read_cons(struct cmdq *q)
{
	q->cons = plat_mmio_read32(q->mmio + SMMU_R_CMDQ_CONS) & q_wrap_mask(q);
	q->cons_reads++;
}

void cmdq_doorbell(struct cmdq *q)
{
	plat_fence();
	plat_mmio_write32(q->mmio + SMMU_R_CMDQ_PROD, q->prod);
	q->published = q->prod;
	q->doorbells++;
}

int cmdq_add(struct cmdq *q, uint64_t w0, uint64_t w1)
{
	uint64_t slot;

	if (q_full(q)) {
		cmdq_read_cons(q);
		if (q_full(q) && q->published != q->prod) {
			/* The SMMU cannot consume what it was not shown. */
			cmdq_doorbell(q);
			cmdq_read_cons(q);
		}
		if (q_full(q))
			return BENCH_E_CMDQ;
	}
	slot = q->base + (uint64_t)(q->prod & (q_entries(q) - 1)) * 16;
	plat_write_cmd(slot, w0, w1);
	q->prod = (q->prod + 1) & q_wrap_mask(q);
	return 0;
}

int cmdq_sync(struct cmdq *q)
{
	uint32_t polls;
	uint32_t seq;
	int ret;

	seq = ++q->seq;
	if (!seq) /* 0 is what the word held before the first sync */
		seq = ++q->seq;
	ret = cmdq_add(q, CMD_SYNC |
			  ((uint64_t)CMD_SYNC_CS_IRQ << CMD_SYNC_CS_SHIFT) |
			  ((uint64_t)seq << CMD_SYNC_MSIDATA_SHIFT),
		       q->sync_gpa & CMD_SYNC_MSIADDR_MASK);
	if (ret)
		return ret;
	cmdq_doorbell(q);
	for (polls = 0; polls < CMDQ_SYNC_POLLS; polls++) {
		if (plat_read32(q->sync_gpa) == seq) {
			q->cons = q->prod;
			return 0;
		}
	}
	/* Say why: a command the SMMU refused stops the queue there. */
	if (plat_mmio_read32(q->mmio + SMMU_R_CMDQ_CONS) & CMDQ_CONS_ERR_MASK)
		return BENCH_E_CMDQ;
	return BENCH_E_SYNC;
}

void cmd_cfgi_cd(uint64_t *w, uint32_t sid, uint32_t ssid, bool leaf)
{
	w[0] = CMD_CFGI_CD | ((uint64_t)(ssid & 0xfffff) << CMD_CFGI_SSID_SHIFT) |
	       ((uint64_t)sid << CMD_CFGI_SID_SHIFT);
	w[1] = leaf ? 1 : 0;
}

void cmd_tlbi_asid(uint64_t *w, uint16_t asid)
{
	w[0] = CMD_TLBI_NH_ASID | ((uint64_t)asid << CMD_TLBI_ASID_SHIFT);
	w[1] = 0;
}

void cmd_tlbi_va(uint64_t *w, uint16_t asid, uint64_t iova, uint32_t num,
		 uint32_t scale, bool leaf)
{
	w[0] = CMD_TLBI_NH_VA | ((uint64_t)(num & 0x1f) << CMD_TLBI_NUM_SHIFT) |
	       ((uint64_t)(scale & 0x1f) << CMD_TLBI_SCALE_SHIFT) |
	       ((uint64_t)asid << CMD_TLBI_ASID_SHIFT);
	/* TTL 0: no level hint (the range may mix levels). */
	w[1] = (leaf ? CMD_TLBI_LEAF : 0) |
	       (CMD_TLBI_TG_4K << CMD_TLBI_TG_SHIFT) |
	       (iova & CMD_TLBI_ADDR_MASK);
}

/*
 * One range command covers (NUM + 1) << SCALE pages.  Taking SCALE as the
 * lowest set bit of what remains and NUM + 1 as the next five bits up
 * covers the range exactly; what is left is a multiple of 32 << SCALE, so
 * each command eats at least five more bits and a 48-bit range needs at
 * most eight.  SCALE stops at 31: from there NUM + 1 may be even, and up
 * to 32 (2^36 pages, all of a 48-bit space, in one command).  Returns how
 * many commands; fills the first max of them.
 */
uint32_t cmdq_range_split(uint64_t pages, uint32_t *num, uint32_t *scale,
			  uint32_t max)
{
	uint32_t n = 0;

	while (pages) {
		uint32_t s = (uint32_t)__builtin_ctzll(pages);
		uint64_t chunks;

		if (s > CMD_TLBI_RANGE_SCALE_MAX)
			s = CMD_TLBI_RANGE_SCALE_MAX;
		chunks = (pages >> s) & (CMD_TLBI_RANGE_NUM_MAX - 1);
		if (!chunks) /* only when SCALE was capped */
			chunks = CMD_TLBI_RANGE_NUM_MAX;
		if (n < max) {
			num[n] = (uint32_t)chunks - 1;
			scale[n] = s;
		}
		n++;
		pages -= chunks << s;
	}
	return n;
}

int cmdq_inv_range(struct cmdq *q, uint16_t asid, uint64_t iova,
		   uint64_t size, bool leaf)
{
	uint32_t num[DRV_TLBI_MAX_CMDS], scale[DRV_TLBI_MAX_CMDS];
	uint64_t w[2];
	uint32_t n, i;
	int ret;

	n = cmdq_range_split(size >> DRV_PAGE_SHIFT, num, scale, DRV_TLBI_MAX_CMDS);
	if (!n || n > DRV_TLBI_MAX_CMDS)
		return cmdq_inv_asid(q, asid);
	for (i = 0; i < n; i++) {
		cmd_tlbi_va(w, asid, iova, num[i], scale[i], leaf);
		ret = cmdq_add(q, w[0], w[1]);
		if (ret)
			return ret;
		iova += ((uint64_t)num[i] + 1) << (scale[i] + DRV_PAGE_SHIFT);
	}
	return cmdq_sync(q);
}

int cmdq_inv_asid(struct cmdq *q, uint16_t asid)
{
	uint64_t w[2];
	int ret;

	cmd_tlbi_asid(w, asid);
	ret = cmdq_add(q, w[0], w[1]);
	return ret ? ret : cmdq_sync(q);
}
