/* SPDX-License-Identifier: MIT */
/*
 * The SMMUv3 model's stream configuration: linear and 2-level stream
 * tables, STE and CD decoding into libwpt domains, the configuration
 * errors and their events, CFGI_* re-reads, one domain per sink, bypass.
 */
#include "smmuv3_fixture.h"



START_TEST(test_linear_ste_maps_and_traps)
{
	struct t *t = attached(WPT_MODE_TRAP);
	struct wpt_domain *d = smmuv3__stream_domain(t->s, SID);
	struct wpt_mapping m;
	char buf[256];

	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(wpt_sink_record_get(t->sink[0], &m, 1), 1);
	ck_assert_uint_eq(m.iova, 0);
	ck_assert_uint_eq(m.gpa, DATA);
	ck_assert_uint_eq(m.size, 4 * 4096);
	/* The guest maps a page with a plain store: no command at all. */
	ck_assert(fx_prot(t->f, L3T));
	fx_store64(t->f, L3T + 8 * 9, s1_page(DATA + 0x9000));
	fx_sink_str(t->sink[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "0:40800000:4000:rw;9000:40809000:1000:rw;");
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	t_free(t);
}
END_TEST

START_TEST(test_two_level_ste)
{
	struct t *t = t_new_mode(WPT_MODE_TRAP, 0);
	uint32_t sid = 0x123; /* split 8: level-1 index 1, level-2 0x23 */

	ck_assert_int_eq(smmuv3__add_stream(t->s, sid, t->sink[0]), 0);
	tables(t, 1);
	cd_s1(t, CDA, 25, ROOT, ASID);
	put64(t, STRTAB + 8, STRTAB_L2 | 7); /* Span 7: 64 STEs */
	ste_s1(t, STRTAB_L2 + 64 * 0x23, CDA);
	t_enable(t, 1u << 16 | 8 << 6 | 16);
	cfgi_ste(t, sid);
	ck_assert_int_eq(maps(t->sink[0]), 1);
	/* Beyond the span: C_BAD_STREAMID, and the mapping goes. */
	put64(t, STRTAB + 8, STRTAB_L2 | 6); /* 32 STEs: 0x23 is out */
	cfgi_ste(t, sid);
	ck_assert_int_eq(maps(t->sink[0]), 0);
	evt_expect(t, EVT_C_BAD_STREAMID, sid);
	/* Span 0: no level-2 table. */
	put64(t, STRTAB + 8, 0);
	cfgi_ste(t, sid);
	evt_expect(t, EVT_C_BAD_STREAMID, sid);
	t_free(t);
}
END_TEST

/* Each broken configuration: its event, and no mapping left. */
static const struct bad_case {
	const char *what;
	uint64_t off, value; /* stored at STRTAB + 64 * SID + off, or CDA */
	int in_cd;
	unsigned int event;
} bad_cases[] = {
	{ "STE.V clear", 0, 0, 0, EVT_C_BAD_STE },
	{ "STE stage 2", 0, STE0_V | 6ull << 1 | CDA, 0, EVT_C_BAD_STE },
	{ "STE reserved config", 0, STE0_V | 2ull << 1, 0, EVT_C_BAD_STE },
	{ "CD outside RAM", 0, STE0_V | 5ull << 1 | 0x1000, 0, EVT_F_CD_FETCH },
	{ "CD.V clear", 0, 25 | 5ull << 32 | CD0_AA64, 1, EVT_C_BAD_CD },
	{ "CD not AA64", 0, 25 | 5ull << 32 | CD0_V, 1, EVT_C_BAD_CD },
	{ "CD big-endian", 0, 25 | 5ull << 32 | CD0_V | CD0_AA64 | CD0_ENDI,
	  1, EVT_C_BAD_CD },
	{ "CD TG0 reserved", 0, 25 | 3 << 6 | 5ull << 32 | CD0_V | CD0_AA64,
	  1, EVT_C_BAD_CD },
	{ "CD T0SZ 40", 0, 40 | 5ull << 32 | CD0_V | CD0_AA64, 1,
	  EVT_C_BAD_CD },
	{ "CD IPS reserved", 0, 25 | 7ull << 32 | CD0_V | CD0_AA64, 1,
	  EVT_C_BAD_CD },
	{ "CD TTB0 misaligned", 8, ROOT + 0x10, 1, EVT_C_BAD_CD },
};

START_TEST(test_bad_config)
{
	const struct bad_case *c = &bad_cases[_i];
	struct t *t = attached(WPT_MODE_TRAP);

	ck_assert_int_eq(maps(t->sink[0]), 1);
	put64(t, (c->in_cd ? CDA : STRTAB + 64 * SID) + c->off, c->value);
	cfgi_ste(t, SID);
	ck_assert_msg(maps(t->sink[0]) == 0, "%s: still mapped", c->what);
	ck_assert_ptr_null(smmuv3__stream_domain(t->s, SID));
	evt_expect(t, c->event, SID);
	t_free(t);
}
END_TEST

START_TEST(test_bad_streamid_linear)
{
	struct t *t = t_new_mode(WPT_MODE_TRAP, 0);

	ck_assert_int_eq(smmuv3__add_stream(t->s, 64, t->sink[0]), 0);
	t_enable(t, 6); /* 64 STEs: 0..63 */
	cfgi_ste(t, 64);
	evt_expect(t, EVT_C_BAD_STREAMID, 64);
	t_free(t);
}
END_TEST

START_TEST(test_ste_fetch_abort)
{
	struct t *t = t_new_mode(WPT_MODE_TRAP, 0);
	uint64_t rec[4];

	ck_assert_int_eq(smmuv3__add_stream(t->s, SID, t->sink[0]), 0);
	t_enable(t, 6);
	wr32(t, SMMU_CR0, 0);
	wr64(t, SMMU_STRTAB_BASE, 0x1000); /* not RAM */
	wr32(t, SMMU_CR0, CR0_SMMUEN | CR0_CMDQEN | CR0_EVTQEN);
	/* SMMUEN re-read the stream silently: Linux enables the SMMU before
	 * it fills the stream table.  The CFGI reports. */
	ck_assert_uint_eq(evt_pop(t, rec), 0);
	cfgi_ste(t, SID);
	evt_pop(t, rec);
	ck_assert_uint_eq(rec[0] & 0xff, EVT_F_STE_FETCH);
	ck_assert_uint_eq(rec[3], 0x1000 + 64 * SID);
	t_free(t);
}
END_TEST

START_TEST(test_abort_and_reenable)
{
	struct t *t = attached(WPT_MODE_TRAP);

	ste_cfg(t, STRTAB + 64 * SID, STE_CFG_ABORT);
	cfgi_ste(t, SID);
	ck_assert_int_eq(maps(t->sink[0]), 0);
	ck_assert_ptr_null(smmuv3__stream_domain(t->s, SID));
	ck_assert(!fx_prot(t->f, L3T)); /* nothing tracked any more */
	ste_s1(t, STRTAB + 64 * SID, CDA);
	cfgi_ste(t, SID);
	ck_assert_int_eq(maps(t->sink[0]), 1);
	/* SMMUEN cleared: GBPA aborts (the reset value). */
	wr32(t, SMMU_CR0, CR0_CMDQEN | CR0_EVTQEN);
	ck_assert_int_eq(maps(t->sink[0]), 0);
	t_free(t);
}
END_TEST

START_TEST(test_cfgi_cd_reroots)
{
	struct t *t = attached(WPT_MODE_TRAP);
	struct wpt_domain *d = smmuv3__stream_domain(t->s, SID);
	struct smmuv3_stats st;
	char buf[256];

	put64(t, ROOT2, s1_table(ROOT2 + 0x1000));
	put64(t, ROOT2 + 0x1000, s1_block(DATA)); /* 2 MiB at IOVA 0 */
	cd_s1(t, CDA, 25, ROOT2, ASID);
	cfgi_cd(t, SID);
	ck_assert_ptr_eq(smmuv3__stream_domain(t->s, SID), d); /* in place */
	/* What both roots map alike stays mapped: the sink is not cleared
	 * and refilled, which a device doing DMA across a re-root needs. */
	fx_sink_str(t->sink[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "0:40800000:4000:rw;4000:40804000:1fc000:rw;");
	ck_assert(!fx_prot(t->f, L3T));
	ck_assert(fx_prot(t->f, ROOT2));
	/* A new granule needs a new domain. */
	put64(t, ROOT2, 0);
	put64(t, CDA, 25 | 2 << 6 | 5ull << 32 | CD0_AA64 | CD0_V);
	cmd(t, CMD_CFGI_CD_ALL | (uint64_t)SID << 32, 0);
	smmuv3__stats(t->s, &st);
	ck_assert_uint_eq(st.domains_created, 2);
	ck_assert_uint_eq(st.domains_freed, 1);
	ck_assert_uint_eq(maps(t->sink[0]), 0);
	t_free(t);
}
END_TEST

START_TEST(test_cfgi_range_and_all)
{
	struct t *t = attached(WPT_MODE_TRAP);

	ste_cfg(t, STRTAB + 64 * SID, STE_CFG_ABORT);
	/* Range 0: SIDs 0 and 1, not 3. */
	cmd(t, CMD_CFGI_STE_RANGE, 0);
	ck_assert_int_eq(maps(t->sink[0]), 1);
	/* Range 1 from SID 2: 0..3. */
	cmd(t, CMD_CFGI_STE_RANGE | 2ull << 32, 1);
	ck_assert_int_eq(maps(t->sink[0]), 0);
	ste_s1(t, STRTAB + 64 * SID, CDA);
	cmd(t, CMD_CFGI_STE_RANGE, 31); /* CFGI_ALL */
	ck_assert_int_eq(maps(t->sink[0]), 1);
	t_free(t);
}
END_TEST

START_TEST(test_epd0_and_hpd)
{
	struct t *t = attached(WPT_MODE_TRAP);

	put64(t, CDA, 25 | 5ull << 32 | CD0_AA64 | CD0_V | CD0_EPD0);
	cfgi_cd(t, SID);
	ck_assert_int_eq(maps(t->sink[0]), 0);
	/* HAD0: APTable ignored, so a read-only table grants write. */
	cd_s1(t, CDA, 25, ROOT, ASID);
	put64(t, CDA + 8, ROOT | CD1_HAD0);
	put64(t, ROOT, s1_table(L2T) | S1_APTABLE_RO);
	cfgi_cd(t, SID);
	struct wpt_mapping m;
	ck_assert_int_eq(wpt_sink_record_get(t->sink[0], &m, 1), 1);
	ck_assert_uint_eq(m.perm, WPT_PERM_READ | WPT_PERM_WRITE);
	t_free(t);
}
END_TEST

START_TEST(test_one_domain_per_sink)
{
	struct t *t = attached(WPT_MODE_TRAP);
	struct smmuv3_stats st;

	ck_assert_int_eq(smmuv3__add_stream(t->s, 4, t->sink[0]), -EBUSY);
	t_free(t);
	t = t_new_mode(WPT_MODE_TRAP, 0);
	ck_assert_int_eq(smmuv3__add_stream(t->s, 1, t->sink[0]), 0);
	ck_assert_int_eq(smmuv3__add_stream(t->s, 2, t->sink[0]), 0);
	ck_assert_int_eq(smmuv3__add_stream(t->s, 2, t->sink[1]), -EEXIST);
	ck_assert_int_eq(smmuv3__add_stream(t->s, 5, t->sink[1]), 0);
	tables(t, 2);
	cd_s1(t, CDA, 25, ROOT, ASID);
	cd_s1(t, CDB, 25, ROOT2, ASID + 1);
	ste_s1(t, STRTAB + 64, CDA);
	ste_s1(t, STRTAB + 128, CDA);     /* the same config: shared */
	ste_s1(t, STRTAB + 320, CDB);     /* its own sink: its own domain */
	t_enable(t, 6);
	ck_assert_ptr_nonnull(smmuv3__stream_domain(t->s, 1));
	ck_assert_ptr_eq(smmuv3__stream_domain(t->s, 1),
			 smmuv3__stream_domain(t->s, 2));
	ck_assert_ptr_ne(smmuv3__stream_domain(t->s, 5),
			 smmuv3__stream_domain(t->s, 1));
	/* Stream 2 moves to another root on the same container: refused. */
	ste_s1(t, STRTAB + 128, CDB);
	cfgi_ste(t, 2);
	evt_expect(t, EVT_F_CFG_CONFLICT, 2);
	ck_assert_ptr_null(smmuv3__stream_domain(t->s, 2));
	ck_assert_int_eq(maps(t->sink[0]), 1); /* stream 1's still there */
	ste_cfg(t, STRTAB + 64, STE_CFG_ABORT);
	cfgi_ste(t, 1);
	ck_assert_int_eq(maps(t->sink[0]), 0);
	cfgi_ste(t, 2); /* the sink is free now */
	ck_assert_ptr_nonnull(smmuv3__stream_domain(t->s, 2));
	smmuv3__stats(t->s, &st);
	ck_assert_uint_eq(st.cfg_conflicts, 1);
	ck_assert_uint_eq(st.domains_created, 3);
	t_free(t);
}
END_TEST

START_TEST(test_bypass)
{
	struct t *t = t_new_mode(WPT_MODE_TRAP, 1);
	struct smmuv3_stats st;

	ck_assert_int_eq(smmuv3__add_stream(t->s, SID, t->sink[0]), 0);
	/* SMMUEN 0 with GBPA.ABORT clear: bypass. */
	wr32(t, SMMU_GBPA, GBPA_UPDATE);
	ck_assert_uint_eq(rd32(t, SMMU_GBPA), 0);
	ck_assert_uint_eq(t->bypass_on, 1);
	wr32(t, SMMU_GBPA, GBPA_UPDATE | GBPA_ABORT);
	ck_assert_uint_eq(t->bypass_off, 1);
	ste_cfg(t, STRTAB + 64 * SID, STE_CFG_BYPASS);
	t_enable(t, 6);
	ck_assert_uint_eq(t->bypass_on, 2);
	t_free(t);
	/* Without the host's bypass: refused, counted, nothing mapped. */
	t = t_new_mode(WPT_MODE_TRAP, 0);
	ck_assert_int_eq(smmuv3__add_stream(t->s, SID, t->sink[0]), 0);
	ste_cfg(t, STRTAB + 64 * SID, STE_CFG_BYPASS);
	t_enable(t, 6);
	smmuv3__stats(t->s, &st);
	ck_assert_uint_eq(st.bypass_refused, 1);
	t_free(t);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("smmuv3_config");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_linear_ste_maps_and_traps);
	tcase_add_test(tc, test_two_level_ste);
	tcase_add_loop_test(tc, test_bad_config, 0,
			    sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, test_bad_streamid_linear);
	tcase_add_test(tc, test_ste_fetch_abort);
	tcase_add_test(tc, test_abort_and_reenable);
	tcase_add_test(tc, test_cfgi_cd_reroots);
	tcase_add_test(tc, test_cfgi_range_and_all);
	tcase_add_test(tc, test_epd0_and_hpd);
	tcase_add_test(tc, test_one_domain_per_sink);
	tcase_add_test(tc, test_bypass);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
