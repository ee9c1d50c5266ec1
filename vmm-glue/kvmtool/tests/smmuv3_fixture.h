/* SPDX-License-Identifier: MIT */
/*
 * The SMMUv3 model's tests: a guest (tests/unit/fixture.h: RAM in a
 * buffer, protection by callback, recording sinks) and the guest driver's
 * side of the SMMU: STE, CD and command encodings written the way Linux's
 * arm-smmu-v3 writes them, a command queue and an event queue in RAM.
 * Header-only, like the fixture it builds on.
 */
#ifndef SMMUV3_TEST_FIXTURE_H
#define SMMUV3_TEST_FIXTURE_H

#include "unit/fixture.h"
#include "smmuv3-internal.h"

#define B FX_RAM_GPA
#define STRTAB (B + 0x0000)    /* linear, or level 1 */
#define STRTAB_L2 (B + 0x1000) /* level 2 */
#define CDA (B + 0x2000)
#define CDB (B + 0x2040)
#define CMDQ (B + 0x3000)
#define CMDQ_LOG2 8
#define EVTQ (B + 0x4000)
#define EVTQ_LOG2 3
#define MSI (B + 0x5000)
#define ROOT (B + 0x10000)      /* ias 39, 4K: levels 1, 2, 3 */
#define L2T (B + 0x11000)
#define L3T (B + 0x12000)
#define ROOT2 (B + 0x18000)
#define DATA (B + 0x800000)
#define ASID 5

struct t {
	struct fx *f;
	struct smmuv3 *s;
	struct wpt_sink *sink[2];
	uint32_t cmd_prod;   /* the driver's copy */
	uint32_t evt_cons;
	unsigned int irqs[SMMUV3_NR_IRQS];
	unsigned int bypass_on, bypass_off;
	int bypass_fail;
};

static inline int t_read(void *o, uint64_t gpa, void *buf, uint32_t len)
{
	struct t *t = o;

	if (gpa < B || gpa + len > B + FX_RAM_SIZE)
		return -EFAULT;
	memcpy(buf, t->f->ram + (gpa - B), len);
	return 0;
}

/* The VMM's own store: through its mapping, never trapped. */
static inline int t_write(void *o, uint64_t gpa, const void *buf, uint32_t len)
{
	struct t *t = o;

	if (gpa < B || gpa + len > B + FX_RAM_SIZE)
		return -EFAULT;
	memcpy(t->f->ram + (gpa - B), buf, len);
	return 0;
}

static inline void t_irq(void *o, enum smmuv3_irq irq)
{
	((struct t *)o)->irqs[irq]++;
}

static inline int t_bypass(void *o, struct wpt_sink *sink, int on)
{
	struct t *t = o;

	if (t->bypass_fail)
		return t->bypass_fail;
	if (on)
		t->bypass_on++;
	else
		t->bypass_off++;
	return 0;
}

static inline struct t *t_new_mode(enum wpt_mode mode, int with_bypass)
{
	struct t *t = calloc(1, sizeof(*t));
	struct smmuv3_cfg c = {
		.size = sizeof(c), .mode = mode,
		.host = { .read = t_read, .write = t_write, .irq = t_irq,
			  .bypass = with_bypass ? t_bypass : NULL },
	};

	ck_assert_ptr_nonnull(t);
	t->f = fx_new();
	c.vm = t->f->vm;
	c.host.opaque = t;
	ck_assert_int_eq(smmuv3__new(&c, &t->s), 0);
	ck_assert_int_eq(wpt_sink_record_new(&t->sink[0]), 0);
	ck_assert_int_eq(wpt_sink_record_new(&t->sink[1]), 0);
	return t;
}

static inline void t_free(struct t *t)
{
	smmuv3__free(t->s);
	wpt_sink_free(t->sink[0]);
	wpt_sink_free(t->sink[1]);
	fx_free(t->f);
	free(t);
}

static inline void wr32(struct t *t, uint64_t off, uint32_t v)
{
	ck_assert_int_eq(smmuv3__mmio(t->s, off, &v, 4, 1), 0);
}

static inline void wr64(struct t *t, uint64_t off, uint64_t v)
{
	ck_assert_int_eq(smmuv3__mmio(t->s, off, &v, 8, 1), 0);
}

static inline uint32_t rd32(struct t *t, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	ck_assert_int_eq(smmuv3__mmio(t->s, off, &v, 4, 0), 0);
	return v;
}

static inline uint64_t rd64(struct t *t, uint64_t off)
{
	uint64_t v = 0;

	ck_assert_int_eq(smmuv3__mmio(t->s, off, &v, 8, 0), 0);
	return v;
}

/* The driver's reset sequence, as arm_smmu_device_reset orders it: queues
 * and stream table programmed while disabled, then CR0 bit by bit, each
 * waited for in CR0ACK. */
static inline void t_enable(struct t *t, uint32_t strtab_cfg)
{
	uint32_t cr0 = 0;

	wr64(t, SMMU_STRTAB_BASE, STRTAB);
	wr32(t, SMMU_STRTAB_BASE_CFG, strtab_cfg);
	wr64(t, SMMU_CMDQ_BASE, CMDQ | CMDQ_LOG2);
	wr32(t, SMMU_CMDQ_PROD, 0);
	wr32(t, SMMU_CMDQ_CONS, 0);
	wr64(t, SMMU_EVENTQ_BASE, EVTQ | EVTQ_LOG2);
	wr32(t, SMMU_EVENTQ_PROD, 0);
	wr32(t, SMMU_EVENTQ_CONS, 0);
	wr32(t, SMMU_IRQ_CTRL, IRQ_CTRL_GERROR | IRQ_CTRL_EVTQ);
	ck_assert_uint_eq(rd32(t, SMMU_IRQ_CTRLACK), 5);
	for (uint32_t bit = CR0_CMDQEN; bit; bit = bit == CR0_CMDQEN ?
	     CR0_EVTQEN : bit == CR0_EVTQEN ? CR0_SMMUEN : 0) {
		cr0 |= bit;
		wr32(t, SMMU_CR0, cr0);
		ck_assert_uint_eq(rd32(t, SMMU_CR0ACK), cr0);
	}
}

/* ---- the driver's encodings ---- */

static inline void put64(struct t *t, uint64_t gpa, uint64_t v)
{
	*fx_desc(t->f, gpa) = v;
}

static inline void ste_s1(struct t *t, uint64_t ste, uint64_t cd)
{
	put64(t, ste, STE0_V | (uint64_t)STE_CFG_S1 << 1 | cd);
	put64(t, ste + 8, 0);
}

static inline void ste_cfg(struct t *t, uint64_t ste, unsigned int config)
{
	put64(t, ste, STE0_V | (uint64_t)config << 1);
}

/* A stage-1 CD: 4K granule (TG0 0), IPS 48 bits, AA64, valid. */
static inline void cd_s1(struct t *t, uint64_t cd, unsigned int t0sz,
			 uint64_t ttb0, uint16_t asid)
{
	put64(t, cd, t0sz | 5ull << 32 | CD0_AA64 | CD0_V |
		     (uint64_t)asid << 48);
	put64(t, cd + 8, ttb0);
}

/* Tables at ROOT mapping IOVA i * 4K to DATA + i * 4K for i < n. */
static inline void tables(struct t *t, unsigned int n)
{
	put64(t, ROOT, s1_table(L2T));
	put64(t, L2T, s1_table(L3T));
	for (unsigned int i = 0; i < n; i++)
		put64(t, L3T + 8 * i, s1_page(DATA + 4096ull * i));
}

/* Queue one command and ring the doorbell. */
static inline void cmd(struct t *t, uint64_t w0, uint64_t w1)
{
	uint64_t e = CMDQ + 16ull * (t->cmd_prod & ((1u << CMDQ_LOG2) - 1));

	put64(t, e, w0);
	put64(t, e + 8, w1);
	t->cmd_prod = smmuv3__q_inc(t->cmd_prod, CMDQ_LOG2);
	wr32(t, SMMU_CMDQ_PROD, t->cmd_prod);
}

static inline void cfgi_ste(struct t *t, uint32_t sid)
{
	cmd(t, CMD_CFGI_STE | (uint64_t)sid << 32, 1);
}

static inline void cfgi_cd(struct t *t, uint32_t sid)
{
	cmd(t, CMD_CFGI_CD | (uint64_t)sid << 32, 1);
}

static inline void tlbi_va(struct t *t, uint16_t asid, uint64_t iova,
			   unsigned int tg, unsigned int num,
			   unsigned int scale)
{
	cmd(t, CMD_TLBI_NH_VA | (uint64_t)num << 12 | (uint64_t)scale << 20 |
	    (uint64_t)asid << 48, iova | (uint64_t)tg << 10);
}

/* Linux's MSI polling: the SYNC's MSI writes MSIData over its own entry. */
static inline void sync_msi(struct t *t, uint64_t addr, uint32_t data)
{
	cmd(t, CMD_SYNC | (uint64_t)CMD_SYNC_CS_IRQ << 12 |
	    (uint64_t)data << 32, addr);
}

/* The next event record, or 0 if the queue is empty. */
static inline uint64_t evt_pop(struct t *t, uint64_t rec[4])
{
	uint32_t prod = rd32(t, SMMU_EVENTQ_PROD);
	uint64_t e;

	if (smmuv3__q_empty(prod, t->evt_cons, EVTQ_LOG2))
		return 0;
	e = EVTQ + 32ull * (t->evt_cons & ((1u << EVTQ_LOG2) - 1));
	memcpy(rec, t->f->ram + (e - B), 32);
	t->evt_cons = smmuv3__q_inc(t->evt_cons, EVTQ_LOG2);
	wr32(t, SMMU_EVENTQ_CONS, t->evt_cons);
	return rec[0];
}

static inline void evt_expect(struct t *t, unsigned int id, uint32_t sid)
{
	uint64_t rec[4];
	uint64_t w0 = evt_pop(t, rec);

	ck_assert_msg(w0, "no event, expected 0x%x", id);
	ck_assert_uint_eq(w0 & 0xff, id);
	ck_assert_uint_eq(w0 >> 32, sid);
}

/* Stream SID (3) with tables mapping 4 pages, its STE in a linear table
 * of 64, configured by the driver's CFGI_STE. */
#define SID 3
static inline struct t *attached(enum wpt_mode mode)
{
	struct t *t = t_new_mode(mode, 0);

	ck_assert_int_eq(smmuv3__add_stream(t->s, SID, t->sink[0]), 0);
	tables(t, 4);
	cd_s1(t, CDA, 25, ROOT, ASID);
	ste_s1(t, STRTAB + 64 * SID, CDA);
	t_enable(t, 6);
	cfgi_ste(t, SID);
	return t;
}

static inline long maps(struct wpt_sink *sink)
{
	return wpt_sink_record_get(sink, NULL, 0);
}

static inline int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
