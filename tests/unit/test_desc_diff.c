/* SPDX-License-Identifier: MIT */
/*
 * Descriptor diffing, table-driven over every transition: a stage-1 4K
 * tree is set up in guest RAM, the guest makes one trapped store, and the
 * sink must hold exactly the expected mappings after exactly the expected
 * calls (one map per maximal run, never a partial unmap).
 */
#include "fixture.h"

#define B FX_RAM_GPA
#define ROOT (B + 0x10000)
#define L1 (B + 0x11000)
#define L2 (B + 0x12000)
#define L3 (B + 0x13000)
#define T1 (B + 0x14000)
#define D (B + 0x800000)         /* data, 2 MiB aligned */
#define E(t, i) ((t) + 8 * (i))  /* GPA of entry i of table t */

struct pre {
	uint64_t gpa, val;
};

struct diff_case {
	const char *name;
	struct pre pre[4];       /* written to RAM before the root is set */
	int fill_t1;             /* T1 := 512 pages at D + 2M, minus hole+1 */
	int hole;                /* with fill_t1: entry left invalid, 1-based */
	uint64_t gpa;            /* the trapped store */
	uint64_t val[2];
	uint32_t len;
	const char *sink;        /* expected after */
	uint64_t maps, unmaps;   /* calls the store made */
	int uses_delta;          /* table uses it added or removed */
};

static const struct diff_case cases[] = {
	{ "invalid->page", {}, 0, 0, E(L3, 1), { s1_page(D + 0x1000) }, 8,
	  "0:40800000:1000:rw;1000:40801000:1000:rw;", 1, 0, 0 },
	/* Page 0 and 1 were mapped as one run: removing 1 unmaps the run
	 * and maps page 0 back (VFIO type1 cannot bisect). */
	{ "page->invalid", { { E(L3, 1), s1_page(D + 0x1000) } }, 0, 0,
	  E(L3, 1), { 0 }, 8, "0:40800000:1000:rw;", 1, 1, 0 },
	{ "page->page new gpa", { { E(L3, 1), s1_page(D + 0x1000) } }, 0, 0,
	  E(L3, 1), { s1_page(D + 0x5000) }, 8,
	  "0:40800000:1000:rw;1000:40805000:1000:rw;", 2, 1, 0 },
	{ "page->page read-only", { { E(L3, 1), s1_page(D + 0x1000) } }, 0, 0,
	  E(L3, 1), { s1_page(D + 0x1000) | S1_RO }, 8,
	  "0:40800000:1000:rw;1000:40801000:1000:r;", 2, 1, 0 },
	{ "page, ignored bit", { { E(L3, 1), s1_page(D + 0x1000) } }, 0, 0,
	  E(L3, 1), { s1_page(D + 0x1000) | (1ull << 55) }, 8,
	  "0:40800000:2000:rw;", 0, 0, 0 },
	{ "invalid->block", {}, 0, 0, E(L2, 1), { s1_block(D + 0x200000) }, 8,
	  "0:40800000:1000:rw;200000:40a00000:200000:rw;", 1, 0, 0 },
	/* A split that keeps every page: nothing for the sink to do. */
	{ "block->table same pages", { { E(L2, 1), s1_block(D + 0x200000) } },
	  1, 0, E(L2, 1), { s1_table(T1) }, 8,
	  "0:40800000:1000:rw;200000:40a00000:200000:rw;", 0, 0, 1 },
	{ "block->table one page gone", { { E(L2, 1), s1_block(D + 0x200000) } },
	  1, 8, E(L2, 1), { s1_table(T1) }, 8,
	  "0:40800000:1000:rw;200000:40a00000:7000:rw;"
	  "208000:40a08000:1f8000:rw;", 2, 1, 1 },
	/* The block covers page 0 with the same GPA and perm: the held
	 * mapping stays (no window where DMA to it faults) and only the
	 * rest of the block is mapped. */
	{ "table->block", {}, 0, 0, E(L2, 0), { s1_block(D) }, 8,
	  "0:40800000:1000:rw;1000:40801000:1ff000:rw;", 1, 0, -1 },
	{ "invalid->table prefilled",
	  { { E(T1, 0), s1_page(D + 0x3000) }, { E(T1, 1), s1_page(D + 0x4000) } },
	  0, 0, E(L2, 1), { s1_table(T1) }, 8,
	  "0:40800000:1000:rw;200000:40803000:2000:rw;", 1, 0, 1 },
	{ "table->invalid", {}, 0, 0, E(L2, 0), { 0 }, 8, "", 0, 1, -1 },
	{ "table->table", { { E(T1, 0), s1_page(D + 0x9000) } }, 0, 0,
	  E(L2, 0), { s1_table(T1) }, 8, "0:40809000:1000:rw;", 1, 1, 0 },
	/* Half writes: the descriptor as the hardware sees it between two
	 * 4-byte stores. */
	{ "half write, low", {}, 0, 0, E(L3, 0),
	  { (uint32_t)s1_page(D + 0x7000) }, 4, "0:40807000:1000:rw;", 1, 1, 0 },
	{ "half write, high: out of RAM", {}, 0, 0, E(L3, 0) + 4, { 1 }, 4,
	  "", 0, 1, 0 },
	{ "leaf without AF", {}, 0, 0, E(L3, 1), { (D + 0x1000) | 3 }, 8,
	  "0:40800000:1000:rw;", 0, 0, 0 },
	{ "APTable read-only", {}, 0, 0, E(L1, 0), { s1_table(L2) | S1_APTABLE_RO },
	  8, "0:40800000:1000:r;", 1, 1, 0 },
	{ "16-byte store, two pages", {}, 0, 0, E(L3, 2),
	  { s1_page(D + 0x2000), s1_page(D + 0x3000) }, 16,
	  "0:40800000:1000:rw;2000:40802000:2000:rw;", 1, 0, 0 },
	{ "table under two parents", {}, 0, 0, E(L2, 1), { s1_table(L3) }, 8,
	  "0:40800000:1000:rw;200000:40800000:1000:rw;", 1, 0, 1 },
	/* L2 seen as a level-3 table: its table descriptors are pages
	 * without AF there, so nothing maps. */
	{ "table as its own child", {}, 0, 0, E(L2, 1), { s1_table(L2) }, 8,
	  "0:40800000:1000:rw;", 0, 0, 1 },
};

START_TEST(test_transition)
{
	const struct diff_case *c = &cases[_i];
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = fx_domain(f, &s, WPT_MODE_TRAP, 4096, 48);
	uint64_t maps0, unmaps0, maps1, unmaps1, uses0;
	char buf[512];
	int i;

	*fx_desc(f, E(ROOT, 0)) = s1_table(L1);
	*fx_desc(f, E(L1, 0)) = s1_table(L2);
	*fx_desc(f, E(L2, 0)) = s1_table(L3);
	*fx_desc(f, E(L3, 0)) = s1_page(D);
	for (i = 0; i < 4 && c->pre[i].gpa; i++)
		*fx_desc(f, c->pre[i].gpa) = c->pre[i].val;
	for (i = 0; c->fill_t1 && i < 512; i++)
		if (i + 1 != c->hole)
			*fx_desc(f, E(T1, i)) = s1_page(D + 0x200000 + i * 0x1000ull);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	fx_sink_calls(s, &maps0, &unmaps0);
	uses0 = fx_uses(f);

	fx_store(f, c->gpa, c->val, c->len);

	fx_sink_calls(s, &maps1, &unmaps1);
	ck_assert_msg(!strcmp(fx_sink_str(s, buf, sizeof(buf)), c->sink),
		      "%s: sink holds %s, want %s", c->name, buf, c->sink);
	ck_assert_msg(maps1 - maps0 == c->maps && unmaps1 - unmaps0 == c->unmaps,
		      "%s: %llu maps %llu unmaps, want %llu %llu", c->name,
		      (unsigned long long)(maps1 - maps0),
		      (unsigned long long)(unmaps1 - unmaps0),
		      (unsigned long long)c->maps, (unsigned long long)c->unmaps);
	ck_assert_int_eq((int64_t)(fx_uses(f) - uses0), c->uses_delta);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	ck_assert_int_eq(wpt_domain_error(d), 0);
	/* Protected pages are exactly the tracked tables' pages. */
	ck_assert(fx_prot(f, ROOT) && fx_prot(f, L1) && fx_prot(f, L2));
	ck_assert_int_eq(fx_prot(f, L3), wpt_vm_page_protected(f->vm, L3));
	ck_assert_int_eq(fx_prot(f, T1), wpt_vm_page_protected(f->vm, T1));
	wpt_domain_free(d);
	/* Nothing stays mapped, tracked or protected after the domain. */
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)), "");
	ck_assert_uint_eq(fx_uses(f), 0);
	for (i = 0; i < 0x20; i++)
		ck_assert(!fx_prot(f, B + 0x10000 + i * 0x1000ull));
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("desc_diff");
	TCase *tc = tcase_create("transitions");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_transition, 0,
			    sizeof(cases) / sizeof(cases[0]));
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
