/* SPDX-License-Identifier: MIT */
/*
 * wpt_vm_step_begin/end without KVM: the callback backend of the fixture
 * (which fails the test on a page protected or unprotected twice) stands
 * for the memslots, and "the step" is the store written straight to RAM,
 * as the CPU does once the page is writable.  The real single step on
 * /dev/kvm is test_singlestep_kvm.c.
 */
#include "fixture.h"

#define ROOT (FX_RAM_GPA + 0x10000)
#define L1 (FX_RAM_GPA + 0x11000)
#define L2 (FX_RAM_GPA + 0x12000)
#define L3 (FX_RAM_GPA + 0x13000)
#define DATA (FX_RAM_GPA + 0x100000)

/* A TRAP domain whose tables reach L3 (IOVA 0..2 MiB), nothing mapped. */
static struct wpt_domain *tree(struct fx *f, struct wpt_sink **s)
{
	struct wpt_domain *d = fx_domain(f, s, WPT_MODE_TRAP, 4096, 48);

	*fx_desc(f, ROOT) = s1_table(L1);
	*fx_desc(f, L1) = s1_table(L2);
	*fx_desc(f, L2) = s1_table(L3);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert(fx_prot(f, L3));
	return d;
}

/* What "the vCPU" stores while its page is writable: a plain write, or a
 * trapped one if the page is protected after all. */
static void step_store(struct fx *f, uint64_t gpa, uint64_t v)
{
	fx_store64(f, gpa, v);
}

static void dtor(struct fx *f, struct wpt_domain *d, struct wpt_sink *s)
{
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}

START_TEST(test_not_ours)
{
	struct fx *f = fx_new();
	struct wpt_step st = { .page_gpa = 123 };
	uint64_t calls = f->protect_calls + f->unprotect_calls;

	ck_assert_int_eq(wpt_vm_step_begin(f->vm, 0x1000, &st), 0);
	ck_assert_int_eq(wpt_vm_step_begin(f->vm, FX_RAM_GPA + FX_RAM_SIZE,
					   &st), 0);
	ck_assert_uint_eq(st.page_gpa, 123); /* untouched */
	ck_assert_int_eq(wpt_vm_step_begin(NULL, DATA, &st), -EINVAL);
	ck_assert_int_eq(wpt_vm_step_begin(f->vm, DATA, NULL), -EINVAL);
	/* end without begin */
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(wpt_vm_step_end(f->vm, &st), -EINVAL);
	/* RAM that holds no table: 1, nothing made writable, nothing to do */
	ck_assert_int_eq(wpt_vm_step_begin(f->vm, DATA + 8, &st), 1);
	ck_assert_uint_eq(st.page_gpa, WPT_STEP_NO_PAGE);
	ck_assert_int_eq(wpt_vm_step_end(f->vm, &st), 0);
	ck_assert_int_eq(wpt_vm_step_end(f->vm, &st), -EINVAL); /* twice */
	ck_assert_uint_eq(f->protect_calls + f->unprotect_calls, calls);
	fx_free(f);
}
END_TEST

START_TEST(test_ours)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = tree(f, &s);
	struct wpt_vm_stats vs;
	struct wpt_step st;
	char buf[256];

	ck_assert_int_eq(wpt_vm_step_begin(f->vm, L3 + 3 * 8, &st), 1);
	ck_assert_uint_eq(st.page_gpa, L3);
	ck_assert(!fx_prot(f, L3));                  /* writable for real */
	ck_assert_int_eq(wpt_vm_page_protected(f->vm, L3), 1); /* counted */
	step_store(f, L3 + 3 * 8, s1_page(DATA));
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)), ""); /* not yet */
	ck_assert_int_eq(wpt_vm_step_end(f->vm, &st), 0);
	ck_assert(fx_prot(f, L3));
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)),
			 "3000:40100000:1000:rw;");
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	ck_assert_int_eq(wpt_vm_stats(f->vm, &vs, sizeof(vs)), 0);
	ck_assert_uint_eq(vs.steps, 1);
	ck_assert_uint_eq(vs.exits_handled, 0);
	ck_assert_uint_eq(vs.errors, 0);
	/* A table store through the step: a new L3 under L2 entry 1. */
	ck_assert_int_eq(wpt_vm_step_begin(f->vm, L2 + 8, &st), 1);
	ck_assert_uint_eq(st.page_gpa, L2);
	*fx_desc(f, L3 + 0x1000) = s1_page(DATA + 0x1000);
	step_store(f, L2 + 8, s1_table(L3 + 0x1000));
	ck_assert_int_eq(wpt_vm_step_end(f->vm, &st), 0);
	ck_assert(fx_prot(f, L2) && fx_prot(f, L3 + 0x1000));
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)),
			 "3000:40100000:1000:rw;200000:40101000:1000:rw;");
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	dtor(f, d, s);
}
END_TEST

/* The table on the stepped page is unlinked by another vCPU during the
 * step (and, second round, linked again). */
START_TEST(test_page_freed_during_step)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = tree(f, &s);
	uint64_t protects;
	struct wpt_step st;
	char buf[256];

	ck_assert_int_eq(wpt_vm_step_begin(f->vm, L3, &st), 1);
	fx_store64(f, L2, 0);                      /* trapped: L3 goes */
	ck_assert_int_eq(wpt_vm_page_protected(f->vm, L3), 0);
	ck_assert(!fx_prot(f, L3));
	protects = f->protect_calls;
	step_store(f, L3, s1_page(DATA));          /* into a freed page */
	ck_assert_int_eq(wpt_vm_step_end(f->vm, &st), 0);
	ck_assert(!fx_prot(f, L3));                /* nothing wants it */
	ck_assert_uint_eq(f->protect_calls, protects);
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)), "");
	ck_assert_int_eq(wpt_domain_verify(d), 0);

	/* Now L3 is linked again while a step holds it writable: tracked
	 * and snapshotted meanwhile, protected and diffed at the end. */
	*fx_desc(f, L3) = 0;
	fx_store64(f, L2, s1_table(L3));           /* protect L3 back... */
	ck_assert(fx_prot(f, L3));
	ck_assert_int_eq(wpt_vm_step_begin(f->vm, L3 + 8, &st), 1);
	fx_store64(f, L2, 0);                      /* ...unlink it... */
	fx_store64(f, L2, s1_table(L3));           /* ...and link it again */
	ck_assert(!fx_prot(f, L3));                /* the step holds it */
	ck_assert_int_eq(wpt_vm_page_protected(f->vm, L3), 1);
	step_store(f, L3 + 8, s1_page(DATA + 0x1000));
	ck_assert_int_eq(wpt_vm_step_end(f->vm, &st), 0);
	ck_assert(fx_prot(f, L3));
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)),
			 "1000:40101000:1000:rw;");
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	dtor(f, d, s);
}
END_TEST

/* Protecting the page again fails: an error for the caller, the domains
 * trapping there faulted, and no page the tracker counts protected left
 * writable. */
START_TEST(test_protect_fails)
{
	struct fx *f = fx_new();
	struct wpt_sink *s, *s2;
	struct wpt_domain *d = tree(f, &s);
	struct wpt_domain *inv = fx_domain(f, &s2, WPT_MODE_INVAL, 4096, 48);
	struct wpt_vm_stats vs;
	struct wpt_step st;
	char buf[256];

	ck_assert_int_eq(wpt_domain_set_root(inv, ROOT), 0);
	step_store(f, L3 + 8, 0); /* trapped, no change: warms nothing */
	ck_assert_int_eq(wpt_vm_step_begin(f->vm, L3, &st), 1);
	step_store(f, L3, s1_page(DATA));
	f->fail_protect = -ENOSPC;
	ck_assert_int_eq(wpt_vm_step_end(f->vm, &st), -ENOSPC);
	ck_assert_int_eq(wpt_domain_error(d), -ENOSPC);
	ck_assert_int_eq(wpt_domain_error(inv), 0);   /* never trapped */
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)), "");
	ck_assert(!fx_prot(f, L3));
	ck_assert_int_eq(wpt_vm_page_protected(f->vm, L3), 0);
	ck_assert_int_eq(wpt_vm_stats(f->vm, &vs, sizeof(vs)), 0);
	ck_assert_uint_eq(vs.protected_pages, 0);
	ck_assert_uint_ge(vs.errors, 1);
	/* The INVAL domain sees the store at its invalidation. */
	ck_assert_int_eq(wpt_domain_invalidate_all(inv), 0);
	ck_assert_str_eq(fx_sink_str(s2, buf, sizeof(buf)),
			 "0:40100000:1000:rw;");
	/* The VMM re-applies the root: all protected and mapped again. */
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert_int_eq(wpt_domain_error(d), 0);
	ck_assert(fx_prot(f, L3));
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)),
			 "0:40100000:1000:rw;");
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	wpt_domain_free(inv);
	wpt_sink_free(s2);
	dtor(f, d, s);
}
END_TEST

/* While the page is writable another vCPU stores to it without a trap:
 * the page diff at the end catches it.  Two steps of one page overlap:
 * the first end diffs but leaves the page writable, the last protects. */
START_TEST(test_other_vcpu_during_step)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = tree(f, &s);
	struct wpt_step a, b;
	char buf[256];

	ck_assert_int_eq(wpt_vm_step_begin(f->vm, L3, &a), 1);
	fx_store64(f, L3 + 5 * 8, s1_page(DATA + 0x5000)); /* vCPU B: no trap */
	step_store(f, L3, s1_page(DATA));
	ck_assert_int_eq(wpt_vm_step_end(f->vm, &a), 0);
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)),
			 "0:40100000:1000:rw;5000:40105000:1000:rw;");
	ck_assert(fx_prot(f, L3));

	ck_assert_int_eq(wpt_vm_step_begin(f->vm, L3 + 8, &a), 1);
	ck_assert_int_eq(wpt_vm_step_begin(f->vm, L3 + 16, &b), 1);
	ck_assert_uint_eq(a.page_gpa, b.page_gpa);
	step_store(f, L3 + 16, s1_page(DATA + 0x2000));
	ck_assert_int_eq(wpt_vm_step_end(f->vm, &b), 0);
	ck_assert(!fx_prot(f, L3));              /* a still steps */
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)),
			 "0:40100000:1000:rw;2000:40102000:1000:rw;"
			 "5000:40105000:1000:rw;");
	step_store(f, L3 + 8, s1_page(DATA + 0x1000));
	ck_assert_int_eq(wpt_vm_step_end(f->vm, &a), 0);
	ck_assert(fx_prot(f, L3));
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)),
			 "0:40100000:1000:rw;1000:40101000:1000:rw;"
			 "2000:40102000:1000:rw;5000:40105000:1000:rw;");
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	dtor(f, d, s);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("singlestep");
	TCase *tc = tcase_create("callback");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_not_ours);
	tcase_add_test(tc, test_ours);
	tcase_add_test(tc, test_page_freed_during_step);
	tcase_add_test(tc, test_protect_fails);
	tcase_add_test(tc, test_other_vcpu_during_step);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
