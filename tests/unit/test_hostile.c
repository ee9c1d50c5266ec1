/* SPDX-License-Identifier: MIT */
/*
 * Hostile and broken guest tables: cycles, self references, pointers out of
 * RAM or into MMIO, and every work limit.  A domain that hits one faults with
 * a readable error, maps nothing, and the VM and its other domains go on.
 */
#include "fixture.h"

#define B FX_RAM_GPA
#define ROOT (B + 0x10000)
#define L1 (B + 0x11000)
#define L2 (B + 0x12000)
#define L3 (B + 0x13000)
#define OTHER (B + 0x20000) /* another domain's root */
#define D (B + 0x800000)
#define E(t, i) ((t) + 8 * (i))

/* A healthy domain next to the hostile one, mapping one page at IOVA 0. */
static struct wpt_domain *bystander(struct fx *f, struct wpt_sink **s)
{
	struct wpt_domain *d = fx_domain(f, s, WPT_MODE_TRAP, 4096, 39);

	*fx_desc(f, E(OTHER, 0)) = s1_table(OTHER + 0x1000);
	*fx_desc(f, E(OTHER + 0x1000, 0)) = s1_table(OTHER + 0x2000);
	*fx_desc(f, E(OTHER + 0x2000, 0)) = s1_page(D);
	ck_assert_int_eq(wpt_domain_set_root(d, OTHER), 0);
	return d;
}

static void bystander_ok(struct fx *f, struct wpt_domain *d, struct wpt_sink *s)
{
	char buf[256];

	/* It still tracks its own stores. */
	fx_store64(f, E(OTHER + 0x2000, 1), s1_page(D + 0x1000));
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)),
			 "0:40800000:1000:rw;1000:40801000:1000:rw;");
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	ck_assert_int_eq(wpt_domain_error(d), 0);
}

static void assert_faulted_clean(struct fx *f, struct wpt_domain *d,
				 struct wpt_sink *s, int err)
{
	char buf[64];

	ck_assert_int_eq(wpt_domain_error(d), err);
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)), "");
	ck_assert(!fx_prot(f, ROOT) && !fx_prot(f, L1));
}

START_TEST(test_self_pointing_root)
{
	struct fx *f = fx_new();
	struct wpt_sink *s, *bs;
	struct wpt_domain *by = bystander(f, &bs);
	struct wpt_domain *d = fx_domain(f, &s, WPT_MODE_TRAP, 4096, 48);
	int i;

	/* Every entry of the root points at the root: 512^3 uses. */
	for (i = 0; i < 512; i++)
		*fx_desc(f, E(ROOT, i)) = s1_table(ROOT) | S1_AF;
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	assert_faulted_clean(f, d, s, -E2BIG);
	ck_assert_int_eq(wpt_domain_verify(d), -E2BIG);
	bystander_ok(f, by, bs);
	/* The guest fixes its table and points the domain at it again. */
	for (i = 0; i < 512; i++)
		*fx_desc(f, E(ROOT, i)) = 0;
	*fx_desc(f, E(ROOT, 0)) = s1_table(L1);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert_int_eq(wpt_domain_error(d), 0);
	ck_assert(fx_prot(f, ROOT) && fx_prot(f, L1));
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	wpt_domain_free(d);
	wpt_domain_free(by);
	wpt_sink_free(s);
	wpt_sink_free(bs);
	fx_free(f);
}
END_TEST

START_TEST(test_cycle_made_by_a_store)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = fx_domain(f, &s, WPT_MODE_TRAP, 4096, 48);
	struct wpt_limits lim = { .max_table_uses = 2000 };
	int i;

	*fx_desc(f, E(ROOT, 0)) = s1_table(L1);
	*fx_desc(f, E(L1, 0)) = s1_table(L2);
	for (i = 0; i < 512; i++)
		*fx_desc(f, E(L2, i)) = s1_table(L1);
	ck_assert_int_eq(wpt_domain_set_limits(d, &lim), 0);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert_int_eq(wpt_domain_error(d), 0);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	/* L1 seen at level 3: its table descriptors are pages without AF.
	 * Now point L1 back at the root's level: an ancestor loop that
	 * multiplies uses past the limit. */
	for (i = 1; i < 512; i++)
		fx_store64(f, E(L1, i), s1_table(L2));
	ck_assert_int_eq(wpt_domain_error(d), -E2BIG);
	assert_faulted_clean(f, d, s, -E2BIG);
	ck_assert_uint_eq(fx_uses(f), 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

START_TEST(test_outside_ram_and_mmio)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = fx_domain(f, &s, WPT_MODE_TRAP, 4096, 48);
	struct wpt_domain_stats st;
	char buf[256];

	*fx_desc(f, E(ROOT, 0)) = s1_table(L1);
	*fx_desc(f, E(L1, 0)) = s1_table(L2);
	*fx_desc(f, E(L2, 0)) = s1_table(0x1000);            /* below RAM */
	*fx_desc(f, E(L2, 1)) = s1_table(0xfee00000);        /* MMIO */
	*fx_desc(f, E(L2, 2)) = s1_table(L3);
	*fx_desc(f, E(L3, 0)) = s1_page(0xfee00000);         /* leaf in MMIO */
	*fx_desc(f, E(L3, 1)) = s1_page(B + FX_RAM_SIZE - 0x1000);
	*fx_desc(f, E(L2, 3)) = s1_block(B + FX_RAM_SIZE - 0x200000);
	/* A block that straddles the end of RAM maps nothing. */
	*fx_desc(f, E(L2, 4)) = s1_block(B + FX_RAM_SIZE);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)),
			 "401000:40fff000:1000:rw;600000:40e00000:200000:rw;");
	wpt_domain_stats(d, &st, sizeof(st));
	ck_assert_uint_eq(st.out_of_ram, 4);
	ck_assert_int_eq(wpt_domain_error(d), 0);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	/* A root outside RAM: an error, nothing tracked. */
	ck_assert_int_eq(wpt_domain_set_root(d, 0xfee00000), -EFAULT);
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)), "");
	ck_assert_uint_eq(fx_uses(f), 0);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT + 8), -EINVAL);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

START_TEST(test_address_size_fault)
{
	struct fx *f = fx_new();
	struct wpt_format_cfg c = { .size = sizeof(c),
		.format = WPT_FMT_ARM_LPAE_S1, .granule = 4096, .ias = 48,
		.oas = 32, .sl = -1 };
	struct wpt_domain_stats st;
	struct wpt_domain *d;
	struct wpt_sink *s;
	char buf[256];

	ck_assert_int_eq(wpt_sink_record_new(&s), 0);
	ck_assert_int_eq(wpt_domain_new(f->vm, &c, s, WPT_MODE_TRAP, &d), 0);
	*fx_desc(f, E(ROOT, 0)) = s1_table(L1);
	*fx_desc(f, E(L1, 0)) = s1_table(L2);
	*fx_desc(f, E(L2, 0)) = s1_table(L3);
	*fx_desc(f, E(L3, 0)) = s1_page(D);
	/* Bit 32 set: at or above OAS 32, an address-size fault even though
	 * the low bits would land in RAM. */
	*fx_desc(f, E(L3, 1)) = s1_page(D + (1ull << 32));
	*fx_desc(f, E(L2, 1)) = s1_table(L3 + (1ull << 32));
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)), "0:40800000:1000:rw;");
	wpt_domain_stats(d, &st, sizeof(st));
	ck_assert_uint_eq(st.addr_size_faults, 2);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

START_TEST(test_leaf_limit)
{
	struct wpt_limits lim = { .max_leaves = 4 };
	struct fx *f = fx_new_limits(&lim);
	struct wpt_sink *s, *bs;
	struct wpt_domain *by = bystander(f, &bs);
	struct wpt_domain *d = fx_domain(f, &s, WPT_MODE_TRAP, 4096, 48);
	int i;

	*fx_desc(f, E(ROOT, 0)) = s1_table(L1);
	*fx_desc(f, E(L1, 0)) = s1_table(L2);
	*fx_desc(f, E(L2, 0)) = s1_table(L3);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	for (i = 0; i < 4; i++)
		fx_store64(f, E(L3, i), s1_page(D + i * 0x1000ull));
	ck_assert_int_eq(wpt_domain_error(d), 0);
	fx_store64(f, E(L3, 4), s1_page(D + 0x4000));
	assert_faulted_clean(f, d, s, -E2BIG);
	bystander_ok(f, by, bs);
	/* Later stores to its old tables are plain RAM writes now. */
	ck_assert(!fx_prot(f, L3));
	wpt_domain_free(d);
	wpt_domain_free(by);
	wpt_sink_free(s);
	wpt_sink_free(bs);
	fx_free(f);
}
END_TEST

/* The limit reached inside one table's leaves, which a walk adds
 * together: the domain faults as if they came one at a time, and is
 * walked again whole once the guest maps fewer. */
START_TEST(test_leaf_limit_in_one_table)
{
	struct wpt_limits lim = { .max_leaves = 4 };
	struct fx *f = fx_new_limits(&lim);
	struct wpt_sink *s;
	struct wpt_domain *d = fx_domain(f, &s, WPT_MODE_TRAP, 4096, 48);
	struct wpt_domain_stats st;
	char buf[128];
	int i;

	*fx_desc(f, E(ROOT, 0)) = s1_table(L1);
	*fx_desc(f, E(L1, 0)) = s1_table(L2);
	*fx_desc(f, E(L2, 0)) = s1_table(L3);
	for (i = 0; i < 8; i++)
		*fx_desc(f, E(L3, i)) = s1_page(D + i * 0x2000ull);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	assert_faulted_clean(f, d, s, -E2BIG);
	for (i = 4; i < 8; i++)
		*fx_desc(f, E(L3, i)) = 0;
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert_int_eq(wpt_domain_error(d), 0);
	ck_assert_int_eq(wpt_domain_stats(d, &st, sizeof(st)), 0);
	ck_assert_uint_eq(st.leaves, 4);
	ck_assert_ptr_nonnull(fx_sink_str(s, buf, sizeof(buf)));
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

START_TEST(test_walk_limit)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = fx_domain(f, &s, WPT_MODE_TRAP, 4096, 48);
	struct wpt_limits lim = { .max_walk_descs = 1000 };

	*fx_desc(f, E(ROOT, 0)) = s1_table(L1);
	*fx_desc(f, E(L1, 0)) = s1_table(L2);
	ck_assert_int_eq(wpt_domain_set_limits(d, &lim), 0);
	/* Root + L1 + L2 = 1536 descriptors in one walk. */
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	assert_faulted_clean(f, d, s, -E2BIG);
	lim.max_walk_descs = 2000;
	ck_assert_int_eq(wpt_domain_set_limits(d, &lim), 0);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert_int_eq(wpt_domain_error(d), 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

/*
 * Amplification: a leaf table T used 1024 times (every entry of two level 2
 * tables points at it), each use mapping one page.  One 8-byte store to T
 * then changes 1024 leaves and makes 1024 sink calls; that work was never
 * charged to max_walk_descs (descs_visited did not move), so no limit
 * bounded what one store could cost.
 */
#define AMP_L2A  (B + 0x30000)
#define AMP_L2B  (B + 0x31000)
#define AMP_T    (B + 0x32000)
#define AMP_USES 1024

static struct wpt_domain *amplifier(struct fx *f, struct wpt_sink **s)
{
	struct wpt_domain *d = fx_domain(f, s, WPT_MODE_TRAP, 4096, 48);
	struct wpt_domain_stats st;
	int i;

	*fx_desc(f, E(ROOT, 0)) = s1_table(L1);
	*fx_desc(f, E(L1, 0)) = s1_table(AMP_L2A);
	*fx_desc(f, E(L1, 1)) = s1_table(AMP_L2B);
	for (i = 0; i < 512; i++) {
		*fx_desc(f, E(AMP_L2A, i)) = s1_table(AMP_T);
		*fx_desc(f, E(AMP_L2B, i)) = s1_table(AMP_T);
	}
	*fx_desc(f, E(AMP_T, 0)) = s1_page(D);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert_int_eq(wpt_domain_error(d), 0);
	ck_assert_int_eq(wpt_domain_stats(d, &st, sizeof(st)), 0);
	ck_assert_uint_eq(st.leaves, AMP_USES);
	ck_assert_int_eq(wpt_sink_record_get(*s, NULL, 0), AMP_USES);
	return d;
}

static uint64_t descs_visited(struct wpt_domain *d)
{
	struct wpt_domain_stats st;

	ck_assert_int_eq(wpt_domain_stats(d, &st, sizeof(st)), 0);
	return st.descs_visited;
}

START_TEST(test_store_amplification)
{
	struct fx *f = fx_new();
	struct wpt_sink *s, *bs;
	struct wpt_domain *by = bystander(f, &bs);
	struct wpt_domain *d = amplifier(f, &s);
	struct wpt_limits lim = { .max_walk_descs = 600 };
	uint64_t v0 = descs_visited(d);

	/* Within the default limit: done, and every use and leaf paid for
	 * (a use visited and a leaf added, at least, for each of 1024). */
	fx_store64(f, E(AMP_T, 1), s1_page(D + 0x1000));
	ck_assert_int_eq(wpt_domain_error(d), 0);
	ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), 2 * AMP_USES);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	ck_assert_uint_ge(descs_visited(d) - v0, 2 * AMP_USES);
	/* Past a limit of 600: the domain faults after at most that much
	 * work, and its teardown unmaps everything. */
	ck_assert_int_eq(wpt_domain_set_limits(d, &lim), 0);
	v0 = descs_visited(d);
	fx_store64(f, E(AMP_T, 0), 0);
	ck_assert_uint_le(descs_visited(d) - v0, 600);
	assert_faulted_clean(f, d, s, -E2BIG);
	bystander_ok(f, by, bs);
	wpt_domain_free(d);
	wpt_domain_free(by);
	wpt_sink_free(s);
	wpt_sink_free(bs);
	fx_free(f);
}
END_TEST

START_TEST(test_protect_failure)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = fx_domain(f, &s, WPT_MODE_TRAP, 4096, 48);

	*fx_desc(f, E(ROOT, 0)) = s1_table(L1);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	/* The backend is out of slots for the next table: never a table
	 * left silently unprotected, the domain says why. */
	f->fail_protect = -ENOSPC;
	fx_store64(f, E(L1, 0), s1_table(L2));
	assert_faulted_clean(f, d, s, -ENOSPC);
	ck_assert_uint_eq(fx_uses(f), 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

START_TEST(test_sink_failure)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = fx_domain(f, &s, WPT_MODE_TRAP, 4096, 48);
	uint64_t v = s1_page(D + 0x1000);
	char buf[256];

	*fx_desc(f, E(ROOT, 0)) = s1_table(L1);
	*fx_desc(f, E(L1, 0)) = s1_table(L2);
	*fx_desc(f, E(L2, 0)) = s1_table(L3);
	*fx_desc(f, E(L3, 0)) = s1_page(D);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert_int_eq(wpt_sink_record_fail_at(s, 1, -ENOMEM), 0);
	/* The store lands in RAM, the sink error reaches the VMM. */
	ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, E(L3, 1), &v, 8, 1), -ENOMEM);
	ck_assert_uint_eq(*fx_desc(f, E(L3, 1)), v);
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)), "0:40800000:1000:rw;");
	/* The shadow still says what the sink holds; the next update
	 * catches up. */
	ck_assert_int_gt(wpt_domain_verify(d), 0);
	fx_store64(f, E(L3, 2), s1_page(D + 0x2000));
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("hostile");
	TCase *tc = tcase_create("hostile");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_self_pointing_root);
	tcase_add_test(tc, test_cycle_made_by_a_store);
	tcase_add_test(tc, test_outside_ram_and_mmio);
	tcase_add_test(tc, test_address_size_fault);
	tcase_add_test(tc, test_leaf_limit);
	tcase_add_test(tc, test_leaf_limit_in_one_table);
	tcase_add_test(tc, test_walk_limit);
	tcase_add_test(tc, test_store_amplification);
	tcase_add_test(tc, test_protect_failure);
	tcase_add_test(tc, test_sink_failure);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
