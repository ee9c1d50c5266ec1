/* SPDX-License-Identifier: MIT */
/*
 * The tracker: tables shared between parents, domains and levels are
 * tracked and protected once, counted per use, and released with their last
 * use; the three modes; root switches; verify catching a lost store.
 */
#include "fixture.h"

#define B FX_RAM_GPA
#define ROOT (B + 0x10000)
#define ROOT2 (B + 0x18000)
#define L1 (B + 0x11000)
#define L2 (B + 0x12000)
#define L3 (B + 0x13000)
#define L3B (B + 0x14000)
#define D (B + 0x800000)
#define E(t, i) ((t) + 8 * (i))

/* ROOT -> L1 -> L2 -> L3 with page 0 -> D. */
static void build(struct fx *f, uint64_t root)
{
	*fx_desc(f, E(root, 0)) = s1_table(L1);
	*fx_desc(f, E(L1, 0)) = s1_table(L2);
	*fx_desc(f, E(L2, 0)) = s1_table(L3);
	*fx_desc(f, E(L3, 0)) = s1_page(D);
}

static struct wpt_table_count {
	uint64_t gpa;
	unsigned int uses;
} found;

static int find_table(void *o, uint64_t gpa, uint64_t size, unsigned int uses)
{
	if (gpa == *(uint64_t *)o)
		found = (struct wpt_table_count){ gpa, uses };
	return 0;
}

static unsigned int uses_of(struct fx *f, uint64_t gpa)
{
	found.uses = 0;
	wpt_vm_foreach_table(f->vm, find_table, &gpa);
	return found.uses;
}

START_TEST(test_shared_between_domains)
{
	struct fx *f = fx_new();
	struct wpt_sink *s1, *s2;
	struct wpt_domain *a = fx_domain(f, &s1, WPT_MODE_TRAP, 4096, 48);
	struct wpt_domain *b = fx_domain(f, &s2, WPT_MODE_TRAP, 4096, 48);
	char buf[256];

	build(f, ROOT);
	ck_assert_int_eq(wpt_domain_set_root(a, ROOT), 0);
	ck_assert_int_eq(wpt_domain_set_root(b, ROOT), 0);
	ck_assert_uint_eq(uses_of(f, L3), 2);
	ck_assert_uint_eq(f->protect_calls, 4); /* once per table page */
	/* One store reaches both domains. */
	fx_store64(f, E(L3, 1), s1_page(D + 0x1000));
	ck_assert_str_eq(fx_sink_str(s1, buf, sizeof(buf)),
			 "0:40800000:1000:rw;1000:40801000:1000:rw;");
	ck_assert_str_eq(fx_sink_str(s2, buf, sizeof(buf)),
			 "0:40800000:1000:rw;1000:40801000:1000:rw;");
	wpt_domain_free(b);
	ck_assert_uint_eq(uses_of(f, L3), 1);
	ck_assert(fx_prot(f, L3));
	ck_assert_str_eq(fx_sink_str(s2, buf, sizeof(buf)), "");
	wpt_domain_free(a);
	ck_assert(!fx_prot(f, L3) && !fx_prot(f, ROOT));
	ck_assert_uint_eq(f->unprotect_calls, 4);
	wpt_sink_free(s1);
	wpt_sink_free(s2);
	fx_free(f);
}
END_TEST

START_TEST(test_shared_parents_and_levels)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = fx_domain(f, &s, WPT_MODE_TRAP, 4096, 48);

	build(f, ROOT);
	*fx_desc(f, E(L2, 5)) = s1_table(L3);  /* a second parent entry */
	*fx_desc(f, E(L1, 1)) = s1_table(L3);  /* L3 as a level-2 table */
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert_uint_eq(uses_of(f, L3), 3);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	/* The last use going unprotects; not before. */
	fx_store64(f, E(L2, 5), 0);
	fx_store64(f, E(L1, 1), 0);
	ck_assert_uint_eq(uses_of(f, L3), 1);
	ck_assert(fx_prot(f, L3));
	fx_store64(f, E(L2, 0), 0);
	ck_assert_uint_eq(uses_of(f, L3), 0);
	ck_assert(!fx_prot(f, L3));
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

START_TEST(test_root_switch_keeps_shared)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = fx_domain(f, &s, WPT_MODE_TRAP, 4096, 48);
	uint64_t maps, unmaps, prot;
	char buf[256];

	build(f, ROOT);
	*fx_desc(f, E(ROOT2, 0)) = s1_table(L1);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	prot = f->protect_calls;
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT2), 0);
	/* The subtree moved whole: no sink call, only the new root
	 * protected, the old one released. */
	fx_sink_calls(s, &maps, &unmaps);
	ck_assert_uint_eq(maps, 1);
	ck_assert_uint_eq(unmaps, 0);
	ck_assert_uint_eq(f->protect_calls, prot + 1);
	ck_assert(!fx_prot(f, ROOT) && fx_prot(f, ROOT2) && fx_prot(f, L1));
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)), "0:40800000:1000:rw;");
	ck_assert_int_eq(wpt_domain_clear_root(d), 0);
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)), "");
	ck_assert_uint_eq(fx_uses(f), 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

START_TEST(test_inval_mode)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = fx_domain(f, &s, WPT_MODE_INVAL, 4096, 48);
	char buf[256];

	build(f, ROOT);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert(!fx_prot(f, ROOT) && !fx_prot(f, L3)); /* nothing protected */
	ck_assert_uint_eq(fx_uses(f), 4);
	fx_store64(f, E(L3, 1), s1_page(D + 0x1000));
	fx_store64(f, E(L2, 1), s1_block(D + 0x200000));
	/* Not seen until invalidated; an invalidation elsewhere changes
	 * nothing. */
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)), "0:40800000:1000:rw;");
	ck_assert_int_gt(wpt_domain_verify(d), 0);
	ck_assert_int_eq(wpt_domain_invalidate(d, 0x400000, 0x1000), 0);
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)), "0:40800000:1000:rw;");
	ck_assert_int_eq(wpt_domain_invalidate(d, 0x1000, 0x1000), 0);
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)),
			 "0:40800000:1000:rw;1000:40801000:1000:rw;");
	ck_assert_int_eq(wpt_domain_invalidate_all(d), 0);
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)),
			 "0:40800000:1000:rw;1000:40801000:1000:rw;"
			 "200000:40a00000:200000:rw;");
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	/* A table freed by the guest goes on its invalidation. */
	fx_store64(f, E(L2, 0), 0);
	ck_assert_int_eq(wpt_domain_invalidate(d, 0, 0x200000), 0);
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)),
			 "200000:40a00000:200000:rw;");
	ck_assert_uint_eq(uses_of(f, L3), 0);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

START_TEST(test_hybrid_mode)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = fx_domain(f, &s, WPT_MODE_HYBRID, 4096, 48);
	struct wpt_domain_stats st;
	uint64_t maps, unmaps;
	char buf[256];

	build(f, ROOT);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	fx_store64(f, E(L3, 1), s1_page(D + 0x1000)); /* maps go at once */
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)),
			 "0:40800000:1000:rw;1000:40801000:1000:rw;");
	fx_store64(f, E(L3, 0), 0);
	fx_store64(f, E(L3, 1), 0);
	/* Removals wait for the invalidation... */
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)),
			 "0:40800000:1000:rw;1000:40801000:1000:rw;");
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	wpt_domain_stats(d, &st, sizeof(st));
	ck_assert_uint_gt(st.pending_unmap_bytes, 0);
	fx_sink_calls(s, &maps, &unmaps);
	ck_assert_int_eq(wpt_domain_invalidate(d, 0, 0x2000), 0);
	/* ... then go together. */
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)), "");
	fx_sink_calls(s, &maps, &unmaps);
	ck_assert_uint_eq(unmaps, 2);
	/* A map over a pending removal is not hidden by it. */
	fx_store64(f, E(L3, 2), s1_page(D + 0x2000));
	fx_store64(f, E(L3, 2), s1_page(D + 0x6000));
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)),
			 "2000:40806000:1000:rw;");
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

START_TEST(test_verify_catches_lost_store)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = fx_domain(f, &s, WPT_MODE_TRAP, 4096, 48);

	build(f, ROOT);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	/* A store that bypassed the trap: verify must see it. */
	*fx_desc(f, E(L3, 9)) = s1_page(D + 0x9000);
	ck_assert_int_gt(wpt_domain_verify(d), 0);
	/* The VMM owning up to it fixes it. */
	ck_assert_int_eq(wpt_vm_host_wrote(f->vm, E(L3, 9), 8), 0);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	*fx_desc(f, E(L2, 3)) = s1_table(L3B);
	ck_assert_int_gt(wpt_domain_verify(d), 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

START_TEST(test_granules_and_stage2)
{
	/* One page per granule through a trapped store, stage 1 and 2. */
	static const struct { int s2; uint32_t granule, ias; int levels; } cfgs[] = {
		{ 0, 4096, 39, 3 }, { 0, 16384, 47, 3 }, { 0, 65536, 42, 2 },
		/* stage 2 concatenates up to 16 start tables instead of
		 * adding a level: 4K/40 starts at L1 with 2 tables */
		{ 1, 4096, 40, 3 }, { 1, 16384, 40, 2 }, { 1, 65536, 42, 2 },
	};
	unsigned int k;

	for (k = 0; k < sizeof(cfgs) / sizeof(cfgs[0]); k++) {
		struct fx *f = fx_new();
		struct wpt_format_cfg c = {
			.size = sizeof(c),
			.format = cfgs[k].s2 ? WPT_FMT_ARM_LPAE_S2
					     : WPT_FMT_ARM_LPAE_S1,
			.granule = cfgs[k].granule, .ias = cfgs[k].ias,
			.oas = 48, .sl = -1,
		};
		uint64_t g = cfgs[k].granule, root = B + 0x100000;
		uint64_t rw = cfgs[k].s2 ? (3ull << 6) : 0;
		struct wpt_sink *s;
		struct wpt_domain *d;
		struct wpt_mapping m[4];
		uint64_t t = root, next = root + 0x100000;
		int l;

		ck_assert_int_eq(wpt_sink_record_new(&s), 0);
		ck_assert_int_eq(wpt_domain_new(f->vm, &c, s, WPT_MODE_TRAP, &d), 0);
		/* Chain tables at entry 0 down to the last level. */
		for (l = 1; l < cfgs[k].levels; l++, next += g) {
			*fx_desc(f, t) = next | 3;
			t = next;
		}
		ck_assert_int_eq(wpt_domain_set_root(d, root), 0);
		fx_store64(f, t + 8, (D + g) | 3 | S1_AF | rw);
		ck_assert_int_eq(wpt_sink_record_get(s, m, 4), 1);
		ck_assert_uint_eq(m[0].iova, g);
		ck_assert_uint_eq(m[0].gpa, D + g);
		ck_assert_uint_eq(m[0].size, g);
		ck_assert_uint_eq(m[0].perm, 3);
		ck_assert_int_eq(wpt_domain_verify(d), 0);
		wpt_domain_free(d);
		wpt_sink_free(s);
		fx_free(f);
	}
}
END_TEST

int main(void)
{
	Suite *su = suite_create("wp_tracker");
	TCase *tc = tcase_create("tracker");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_shared_between_domains);
	tcase_add_test(tc, test_shared_parents_and_levels);
	tcase_add_test(tc, test_root_switch_keeps_shared);
	tcase_add_test(tc, test_inval_mode);
	tcase_add_test(tc, test_hybrid_mode);
	tcase_add_test(tc, test_verify_catches_lost_store);
	tcase_add_test(tc, test_granules_and_stage2);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
