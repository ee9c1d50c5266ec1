/* SPDX-License-Identifier: MIT */
/*
 * The callback protection backend: each call reaches the VMM's ops with its
 * opaque and the exact range, the VMM's error comes back unchanged, a range
 * wpt.h promises never to send is refused before the VMM sees it, and a bad
 * ops table is refused at creation.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "protect/protect.h"

struct call {
	int protect; /* 1 protect, 0 unprotect */
	uint64_t gpa;
	uint64_t size;
	void *opaque;
};

struct vmm {
	struct call calls[8];
	unsigned int nr;
	int fail; /* next call returns this */
};

static int vmm_record(void *opaque, int protect, uint64_t gpa, uint64_t size)
{
	struct vmm *v = opaque;
	int e = v->fail;

	ck_assert_uint_lt(v->nr, 8);
	v->calls[v->nr++] = (struct call){ protect, gpa, size, opaque };
	v->fail = 0;
	return e;
}

static int vmm_protect(void *opaque, uint64_t gpa, uint64_t size)
{
	return vmm_record(opaque, 1, gpa, size);
}

static int vmm_unprotect(void *opaque, uint64_t gpa, uint64_t size)
{
	return vmm_record(opaque, 0, gpa, size);
}

static const struct wpt_protect_ops vmm_ops = {
	.protect = vmm_protect,
	.unprotect = vmm_unprotect,
};

static struct wpt_protect new_backend(struct vmm *v)
{
	struct wpt_protect p = { 0 };

	ck_assert_int_eq(wpt_protect_callback_new(&vmm_ops, v, &p), 0);
	ck_assert_ptr_nonnull(p.ops);
	ck_assert_str_eq(p.ops->name, "callback");
	return p;
}

START_TEST(forwards_range_and_opaque)
{
	struct vmm v = { 0 };
	struct wpt_protect p = new_backend(&v);
	struct wpt_protect_stats st = { .slot_ops = 99, .zap_quirk_off = 1 };

	ck_assert_int_eq(p.ops->protect(p.be, 0x40001000, 0x1000), 0);
	ck_assert_int_eq(p.ops->protect(p.be, 0x80000000, 0x3000), 0);
	ck_assert_int_eq(p.ops->unprotect(p.be, 0x40001000, 0x1000), 0);
	ck_assert_uint_eq(v.nr, 3);
	ck_assert_int_eq(v.calls[0].protect, 1);
	ck_assert_uint_eq(v.calls[0].gpa, 0x40001000);
	ck_assert_uint_eq(v.calls[0].size, 0x1000);
	ck_assert_ptr_eq(v.calls[0].opaque, &v);
	ck_assert_int_eq(v.calls[1].protect, 1);
	ck_assert_uint_eq(v.calls[1].gpa, 0x80000000);
	ck_assert_uint_eq(v.calls[1].size, 0x3000);
	ck_assert_int_eq(v.calls[2].protect, 0);
	ck_assert_uint_eq(v.calls[2].gpa, 0x40001000);
	/* The VMM owns its slots: the backend reports none. */
	p.ops->stats(p.be, &st);
	ck_assert_uint_eq(st.slot_ops, 0);
	ck_assert_uint_eq(st.slots_in_use, 0);
	ck_assert_uint_eq(st.protected_pages, 0);
	ck_assert_uint_eq(st.zap_quirk_off, 0);
	p.ops->free(p.be);
}
END_TEST

START_TEST(vmm_error_comes_back)
{
	struct vmm v = { .fail = -ENOSPC };
	struct wpt_protect p = new_backend(&v);

	ck_assert_int_eq(p.ops->protect(p.be, 0x1000, 0x1000), -ENOSPC);
	v.fail = -EIO;
	ck_assert_int_eq(p.ops->unprotect(p.be, 0x1000, 0x1000), -EIO);
	ck_assert_int_eq(p.ops->protect(p.be, 0x1000, 0x1000), 0);
	ck_assert_uint_eq(v.nr, 3);
	p.ops->free(p.be);
}
END_TEST

/* Ranges wpt.h promises the VMM it never gets. */
static const struct {
	uint64_t gpa, size;
} bad_ranges[] = {
	{ 0x1000, 0 },                    /* empty */
	{ 0x1800, 0x1000 },               /* gpa not page aligned */
	{ 0x1000, 0x800 },                /* size not a page multiple */
	{ 0xfffffffffffff000ull, 0x2000 } /* wraps */
};

START_TEST(bad_range_refused)
{
	struct vmm v = { 0 };
	struct wpt_protect p = new_backend(&v);

	ck_assert_int_eq(p.ops->protect(p.be, bad_ranges[_i].gpa,
					bad_ranges[_i].size), -EINVAL);
	ck_assert_int_eq(p.ops->unprotect(p.be, bad_ranges[_i].gpa,
					  bad_ranges[_i].size), -EINVAL);
	ck_assert_uint_eq(v.nr, 0);
	p.ops->free(p.be);
}
END_TEST

START_TEST(bad_ops_refused)
{
	struct wpt_protect_ops no_protect = { .unprotect = vmm_unprotect };
	struct wpt_protect_ops no_unprotect = { .protect = vmm_protect };
	struct wpt_protect p = { 0 };

	ck_assert_int_eq(wpt_protect_callback_new(NULL, NULL, &p), -EINVAL);
	ck_assert_int_eq(wpt_protect_callback_new(&no_protect, NULL, &p),
			 -EINVAL);
	ck_assert_int_eq(wpt_protect_callback_new(&no_unprotect, NULL, &p),
			 -EINVAL);
	ck_assert_int_eq(wpt_protect_callback_new(&vmm_ops, NULL, NULL),
			 -EINVAL);
	ck_assert_ptr_null(p.ops);
}
END_TEST

/* The backend keeps its own copy of the ops: a VMM may build them on its
 * stack. */
START_TEST(ops_copied)
{
	struct vmm v = { 0 };
	struct wpt_protect_ops *ops = malloc(sizeof(*ops));
	struct wpt_protect p = { 0 };

	*ops = vmm_ops;
	ck_assert_int_eq(wpt_protect_callback_new(ops, &v, &p), 0);
	ops->protect = NULL;
	free(ops);
	ck_assert_int_eq(p.ops->protect(p.be, 0x2000, 0x1000), 0);
	ck_assert_uint_eq(v.nr, 1);
	p.ops->free(p.be);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("protect_callback");
	TCase *tc = tcase_create("callback");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, forwards_range_and_opaque);
	tcase_add_test(tc, vmm_error_comes_back);
	tcase_add_loop_test(tc, bad_range_refused, 0,
			    sizeof(bad_ranges) / sizeof(bad_ranges[0]));
	tcase_add_test(tc, bad_ops_refused);
	tcase_add_test(tc, ops_copied);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
