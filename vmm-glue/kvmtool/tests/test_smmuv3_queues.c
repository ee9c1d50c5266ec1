/* SPDX-License-Identifier: MIT */
/*
 * The SMMUv3 model's registers and queues: identification, the CR0/CR0ACK
 * and IRQ_CTRL handshakes, 64-bit registers in halves, the command queue
 * (every command, illegal ones, fetch aborts, GERROR/GERRORN), CMD_SYNC's
 * MSI write seen by the library, TLBI_* as invalidations, the event queue
 * (overflow, disabled).
 */
#include "smmuv3_fixture.h"



START_TEST(test_id_registers)
{
	struct t *t = t_new_mode(WPT_MODE_TRAP, 0);
	uint32_t idr0 = rd32(t, SMMU_IDR0);

	ck_assert(idr0 & IDR0_S1P);
	ck_assert(!(idr0 & 1)); /* no stage 2 */
	ck_assert_uint_eq((idr0 >> 27) & 3, 1); /* 2-level stream tables */
	ck_assert_uint_eq((idr0 >> 2) & 3, 2);  /* AArch64 tables */
	ck_assert(idr0 & IDR0_MSI);
	ck_assert(idr0 & IDR0_COHACC);
	ck_assert_uint_eq(rd32(t, SMMU_IDR1) & 0x3f, SMMU_SIDSIZE);
	ck_assert_uint_eq((rd32(t, SMMU_IDR1) >> 6) & 0x1f, 0); /* SSIDSIZE */
	ck_assert(rd32(t, SMMU_IDR3) & IDR3_RIL);
	ck_assert_uint_eq(rd32(t, SMMU_IDR5) & 7, 5); /* OAS 48 */
	ck_assert_uint_eq(rd32(t, SMMU_IDR5) & IDR5_GRAN, IDR5_GRAN);
	ck_assert_uint_eq(rd32(t, SMMU_GBPA), GBPA_ABORT);
	ck_assert_uint_eq(rd32(t, 0x1f0), 0); /* RAZ */
	t_free(t);
}
END_TEST

START_TEST(test_access_sizes)
{
	struct t *t = t_new_mode(WPT_MODE_TRAP, 0);
	uint64_t v = 0;

	ck_assert_int_eq(smmuv3__mmio(t->s, SMMU_CR0, &v, 8, 0), -EINVAL);
	ck_assert_int_eq(smmuv3__mmio(t->s, SMMU_CR0, &v, 2, 1), -EINVAL);
	ck_assert_int_eq(smmuv3__mmio(t->s, SMMU_CMDQ_BASE + 4, &v, 8, 1),
			 -EINVAL);
	ck_assert_int_eq(smmuv3__mmio(t->s, SMMUV3_FRAME_SIZE, &v, 4, 0),
			 -EINVAL);
	/* A 64-bit register in two halves. */
	wr32(t, SMMU_CMDQ_BASE, (uint32_t)(CMDQ | 8));
	wr32(t, SMMU_CMDQ_BASE + 4, 0x40000000); /* RA, bit 62 */
	ck_assert_uint_eq(rd64(t, SMMU_CMDQ_BASE), CMDQ | 8 | 1ull << 62);
	ck_assert_uint_eq(rd32(t, SMMU_CMDQ_BASE + 4), 0x40000000);
	/* Base registers are read-only while their queue is enabled. */
	wr32(t, SMMU_CR0, CR0_CMDQEN);
	ck_assert_uint_eq(rd32(t, SMMU_CR0ACK), CR0_CMDQEN);
	wr64(t, SMMU_CMDQ_BASE, 0);
	ck_assert_uint_eq(rd64(t, SMMU_CMDQ_BASE), CMDQ | 8 | 1ull << 62);
	/* Event queue registers are in page 1 (and aliased in page 0). */
	wr32(t, SMMU_EVENTQ_CONS, 3);
	/* LOG2SIZE 0: one entry, so index 0 and the wrap bit. */
	ck_assert_uint_eq(rd32(t, SMMU_EVENTQ_CONS & 0xffff), 1);
	t_free(t);
}
END_TEST

START_TEST(test_sync_msi_reported)
{
	struct t *t = attached(WPT_MODE_TRAP);
	struct smmuv3_stats st;
	char buf[256];

	put64(t, MSI, 0x1111111111111111ull);
	sync_msi(t, MSI, 0);
	ck_assert_uint_eq(*fx_desc(t->f, MSI), 0x1111111100000000ull);
	/* The MSI lands on a table page: the library must see it, as it
	 * sees any DMA of an emulated device. */
	sync_msi(t, L3T + 8 * 7, (uint32_t)s1_page(DATA + 0x7000));
	fx_sink_str(t->sink[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "0:40800000:4000:rw;7000:40807000:1000:rw;");
	/* CS = IRQ without an address: the wired interrupt. */
	sync_msi(t, 0, 0);
	ck_assert_uint_eq(t->irqs[SMMUV3_IRQ_SYNC], 1);
	/* CS = SEV: nothing to write. */
	cmd(t, CMD_SYNC | 2 << 12, 0);
	smmuv3__stats(t->s, &st);
	ck_assert_uint_eq(st.syncs, 4);
	ck_assert_uint_eq(st.msi_writes, 2);
	ck_assert_uint_eq(rd32(t, SMMU_CMDQ_CONS), t->cmd_prod);
	t_free(t);
}
END_TEST

START_TEST(test_illegal_command_and_gerror)
{
	struct t *t = attached(WPT_MODE_TRAP);
	uint32_t cons, gerror;

	cmd(t, 0x2a, 0); /* TLBI_S2_IPA: no stage 2 */
	cons = rd32(t, SMMU_CMDQ_CONS);
	ck_assert_uint_eq(cons >> CMDQ_CONS_ERR_SHIFT, CERROR_ILL);
	ck_assert_uint_eq(cons & 0xfffff, t->cmd_prod - 1);
	gerror = rd32(t, SMMU_GERROR);
	ck_assert_uint_eq((gerror ^ rd32(t, SMMU_GERRORN)), GERROR_CMDQ_ERR);
	ck_assert_uint_eq(t->irqs[SMMUV3_IRQ_GERROR], 1);
	/* Stopped: a command behind it waits. */
	sync_msi(t, MSI, 0x77);
	ck_assert_uint_ne(*fx_desc(t->f, MSI), 0x77);
	/* The driver overwrites the bad entry with a SYNC and acks. */
	put64(t, CMDQ + 16 * (cons & 0xff), CMD_SYNC);
	put64(t, CMDQ + 16 * (cons & 0xff) + 8, 0);
	wr32(t, SMMU_GERRORN, gerror);
	ck_assert_uint_eq(rd32(t, SMMU_CMDQ_CONS), t->cmd_prod);
	ck_assert_uint_eq(*fx_desc(t->f, MSI), 0x77);
	/* CFGI_CD of a substream: SSIDSIZE is 0. */
	cmd(t, CMD_CFGI_CD | (uint64_t)SID << 32 | 1 << 12, 0);
	ck_assert_uint_eq(rd32(t, SMMU_CMDQ_CONS) >> CMDQ_CONS_ERR_SHIFT,
			  CERROR_ILL);
	t_free(t);
}
END_TEST

START_TEST(test_command_fetch_abort)
{
	struct t *t = t_new_mode(WPT_MODE_TRAP, 0);

	wr64(t, SMMU_CMDQ_BASE, 0x1000 | 4); /* not RAM */
	wr32(t, SMMU_CR0, CR0_CMDQEN);
	wr32(t, SMMU_CMDQ_PROD, 1);
	ck_assert_uint_eq(rd32(t, SMMU_CMDQ_CONS),
			  (uint32_t)CERROR_ABT << CMDQ_CONS_ERR_SHIFT);
	t_free(t);
}
END_TEST

START_TEST(test_prefetch_and_queue_wrap)
{
	struct t *t = attached(WPT_MODE_TRAP);
	struct smmuv3_stats st;
	unsigned int i;

	/* Twice round the queue: the wrap bit flips and nothing is lost. */
	for (i = 0; i < 2u << CMDQ_LOG2; i++)
		cmd(t, i & 1 ? CMD_PREFETCH_ADDR : CMD_PREFETCH_CONFIG, 0);
	ck_assert_uint_eq(rd32(t, SMMU_CMDQ_CONS), t->cmd_prod);
	ck_assert_uint_eq(t->cmd_prod, 1); /* the CFGI_STE, then twice round */
	smmuv3__stats(t->s, &st);
	ck_assert_uint_eq(st.cmd_errors, 0);
	ck_assert_uint_eq(st.cmds, 1 + (2u << CMDQ_LOG2));
	t_free(t);
}
END_TEST

/* HYBRID: an unmap waits for its invalidation.  Each TLBI form, and
 * whether it reaches the domain (ASID 5). */
static const struct tlbi_case {
	const char *what;
	uint64_t w0, w1;
	int hits;
} tlbi_cases[] = {
	{ "NH_VA, its ASID", CMD_TLBI_NH_VA | (uint64_t)ASID << 48, 0x2000, 1 },
	{ "NH_VA, another ASID", CMD_TLBI_NH_VA | 6ull << 48, 0x2000, 0 },
	{ "NH_VA, another page", CMD_TLBI_NH_VA | (uint64_t)ASID << 48,
	  0x3000, 0 },
	{ "NH_VA range 2 pages from 0x1000", CMD_TLBI_NH_VA | 1 << 12 |
	  (uint64_t)ASID << 48, 0x1000 | 1 << 10, 1 },
	{ "NH_VA range, scale 1: 4 pages from 0", CMD_TLBI_NH_VA | 1 << 12 |
	  1 << 20 | (uint64_t)ASID << 48, 0 | 1 << 10, 1 },
	{ "NH_VA range 1 page from 0x1000", CMD_TLBI_NH_VA |
	  (uint64_t)ASID << 48, 0x1000 | 1 << 10, 0 },
	{ "NH_VAA", CMD_TLBI_NH_VAA, 0x2000, 1 },
	{ "NH_ASID, its ASID", CMD_TLBI_NH_ASID | (uint64_t)ASID << 48, 0, 1 },
	{ "NH_ASID, another", CMD_TLBI_NH_ASID | 4ull << 48, 0, 0 },
	{ "NH_ALL", CMD_TLBI_NH_ALL, 0, 1 },
	{ "NSNH_ALL", CMD_TLBI_NSNH_ALL, 0, 1 },
	{ "VA above the IAS", CMD_TLBI_NH_VAA, 1ull << 40, 0 },
};

START_TEST(test_tlbi_hybrid)
{
	const struct tlbi_case *c = &tlbi_cases[_i];
	struct t *t = attached(WPT_MODE_HYBRID);
	struct wpt_domain_stats ds;
	char buf[256];

	fx_store64(t->f, L3T + 8 * 2, 0); /* unmap IOVA 0x2000 */
	wpt_domain_stats(smmuv3__stream_domain(t->s, SID), &ds, sizeof(ds));
	ck_assert_uint_eq(ds.pending_unmap_bytes, 4096);
	cmd(t, c->w0, c->w1);
	fx_sink_str(t->sink[0], buf, sizeof(buf));
	ck_assert_msg(!strcmp(buf, c->hits ?
			      "0:40800000:2000:rw;3000:40803000:1000:rw;" :
			      "0:40800000:4000:rw;"), "%s: %s", c->what, buf);
	ck_assert_int_eq(wpt_domain_verify(smmuv3__stream_domain(t->s, SID)),
			 0);
	t_free(t);
}
END_TEST

START_TEST(test_event_queue)
{
	struct t *t = t_new_mode(WPT_MODE_TRAP, 0);
	struct smmuv3_stats st;
	uint64_t rec[4];
	unsigned int i;

	ck_assert_int_eq(smmuv3__add_stream(t->s, SID, t->sink[0]), 0);
	t_enable(t, 6); /* STE 3 is zero: C_BAD_STE at each CFGI */
	ck_assert_uint_eq(t->irqs[SMMUV3_IRQ_EVTQ], 0);
	cfgi_ste(t, SID);
	ck_assert_uint_eq(t->irqs[SMMUV3_IRQ_EVTQ], 1);
	/* Fill the queue (8 entries, one taken), then one more overflows. */
	for (i = 0; i < 8; i++)
		cfgi_ste(t, SID);
	ck_assert_uint_eq(rd32(t, SMMU_EVENTQ_PROD) & EVTQ_OVFLG, EVTQ_OVFLG);
	for (i = 0; i < 8; i++) {
		ck_assert_uint_ne(evt_pop(t, rec), 0);
		ck_assert_uint_eq(rec[0], EVT_C_BAD_STE | (uint64_t)SID << 32);
	}
	ck_assert_uint_eq(evt_pop(t, rec), 0);
	/* The driver acknowledges the overflow. */
	wr32(t, SMMU_EVENTQ_CONS, t->evt_cons | EVTQ_OVFLG);
	cfgi_ste(t, SID);
	ck_assert_uint_eq(rd32(t, SMMU_EVENTQ_PROD) & EVTQ_OVFLG, EVTQ_OVFLG);
	ck_assert_uint_ne(evt_pop(t, rec), 0);
	/* Disabled: dropped. */
	wr32(t, SMMU_CR0, CR0_SMMUEN | CR0_CMDQEN);
	cfgi_ste(t, SID);
	ck_assert_uint_eq(evt_pop(t, rec), 0);
	smmuv3__stats(t->s, &st);
	ck_assert_uint_eq(st.events, 9);
	ck_assert_uint_eq(st.events_lost, 2);
	t_free(t);
}
END_TEST

/* Interrupts follow IRQ_CTRL, and an active GERROR bit raised again
 * changes nothing: one interrupt per error until GERRORN acknowledges. */
START_TEST(test_irq_gating)
{
	struct t *t = attached(WPT_MODE_TRAP);
	uint32_t gerror;

	wr32(t, SMMU_IRQ_CTRL, 0);
	ste_cfg(t, STRTAB + 64 * SID, 2); /* reserved: C_BAD_STE */
	cfgi_ste(t, SID);
	ck_assert_uint_eq(t->irqs[SMMUV3_IRQ_EVTQ], 0);
	evt_expect(t, EVT_C_BAD_STE, SID);
	wr32(t, SMMU_IRQ_CTRL, IRQ_CTRL_GERROR);
	cmd(t, 0x2a, 0);
	gerror = rd32(t, SMMU_GERROR);
	/* The driver rewrites the entry before acknowledging; a second
	 * doorbell meanwhile neither moves CONS nor raises GERROR again. */
	wr32(t, SMMU_CMDQ_PROD, t->cmd_prod);
	ck_assert_uint_eq(rd32(t, SMMU_GERROR), gerror);
	ck_assert_uint_eq(t->irqs[SMMUV3_IRQ_GERROR], 1);
	put64(t, CMDQ + 16 * ((t->cmd_prod - 1) & 0xff), CMD_SYNC);
	wr32(t, SMMU_GERRORN, gerror);
	cmd(t, 0x2a, 0);
	ck_assert_uint_eq(t->irqs[SMMUV3_IRQ_GERROR], 2);
	ck_assert_uint_eq(rd32(t, SMMU_GERROR) ^ rd32(t, SMMU_GERRORN),
			  GERROR_CMDQ_ERR);
	t_free(t);
}
END_TEST

START_TEST(test_event_write_abort)
{
	struct t *t = t_new_mode(WPT_MODE_TRAP, 0);

	ck_assert_int_eq(smmuv3__add_stream(t->s, SID, t->sink[0]), 0);
	wr64(t, SMMU_EVENTQ_BASE, 0x1000); /* not RAM */
	wr64(t, SMMU_CMDQ_BASE, CMDQ | CMDQ_LOG2);
	wr32(t, SMMU_CR0, CR0_EVTQEN | CR0_SMMUEN | CR0_CMDQEN);
	cfgi_ste(t, SID); /* STE 3 is zero: C_BAD_STE, not writable */
	ck_assert_uint_eq(rd32(t, SMMU_GERROR) ^ rd32(t, SMMU_GERRORN),
			  GERROR_EVTQ_ABT);
	t_free(t);
}
END_TEST

START_TEST(test_new_rejects)
{
	struct smmuv3_cfg c = { .size = sizeof(c) };
	struct smmuv3 *s;
	struct fx *f = fx_new();

	ck_assert_int_eq(smmuv3__new(&c, &s), -EINVAL);
	c.vm = f->vm;
	c.mode = WPT_MODE_TRAP;
	ck_assert_int_eq(smmuv3__new(&c, &s), -EINVAL); /* no read/write */
	c.host.read = t_read;
	c.host.write = t_write;
	c.oas = 52;
	ck_assert_int_eq(smmuv3__new(&c, &s), -EINVAL);
	c.oas = 40;
	ck_assert_int_eq(smmuv3__new(&c, &s), 0);
	uint32_t v;
	ck_assert_int_eq(smmuv3__mmio(s, SMMU_IDR5, &v, 4, 0), 0);
	ck_assert_uint_eq(v & 7, 2); /* 40 bits */
	ck_assert_int_eq(smmuv3__add_stream(s, 1u << 16, (void *)1), -EINVAL);
	smmuv3__free(s);
	fx_free(f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("smmuv3_queues");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_id_registers);
	tcase_add_test(tc, test_access_sizes);
	tcase_add_test(tc, test_sync_msi_reported);
	tcase_add_test(tc, test_illegal_command_and_gerror);
	tcase_add_test(tc, test_command_fetch_abort);
	tcase_add_test(tc, test_prefetch_and_queue_wrap);
	tcase_add_loop_test(tc, test_tlbi_hybrid, 0,
			    sizeof(tlbi_cases) / sizeof(tlbi_cases[0]));
	tcase_add_test(tc, test_event_queue);
	tcase_add_test(tc, test_irq_gating);
	tcase_add_test(tc, test_event_write_abort);
	tcase_add_test(tc, test_new_rejects);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
