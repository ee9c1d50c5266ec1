/* SPDX-License-Identifier: MIT */
/*
 * The KVM backend's slot layout without KVM: how a chunk's pieces are
 * re-cut when a range changes kind, which pieces keep their slot, how many
 * slots the change costs, and the slot id allocator.  Runs anywhere (the
 * ioctl side is test_protect_kvm, which needs /dev/kvm).
 */
#include <check.h>

#include "guestmem.h"
#include "protect/kvm_slots.h"

#define N KVM_SLOT_NONE
#define PG(x) ((uint64_t)(x) << WPT_PAGE_SHIFT)

/* A piece in pages: [from, to), slot, read-only. */
struct pc {
	unsigned int from, to;
	uint32_t slot;
	int ro;
};

static const struct recut_case {
	const char *what;
	struct pc cur[6];
	unsigned int nr_cur;
	unsigned int lo, hi; /* pages */
	int ro;
	struct pc want[6];
	unsigned int nr_want;
	long delta;
	int lazy;            /* read-write pieces do not merge */
	int page;            /* read-only pieces do not merge (per page) */
} cases[] = {
	{ "protect inside one piece",
	  { { 0, 16, 0, 0 } }, 1, 4, 5, 1,
	  { { 0, 4, N, 0 }, { 4, 5, N, 1 }, { 5, 16, N, 0 } }, 3, 2, 0, 0 },
	{ "adjacent page joins the read-only piece",
	  { { 0, 4, 0, 0 }, { 4, 5, 1, 1 }, { 5, 16, 2, 0 } }, 3, 5, 6, 1,
	  { { 0, 4, 0, 0 }, { 4, 6, N, 1 }, { 6, 16, N, 0 } }, 3, 0, 0, 0 },
	{ "protecting a protected page changes nothing",
	  { { 0, 4, 0, 0 }, { 4, 5, 1, 1 }, { 5, 16, 2, 0 } }, 3, 4, 5, 1,
	  { { 0, 4, 0, 0 }, { 4, 5, 1, 1 }, { 5, 16, 2, 0 } }, 3, 0, 0, 0 },
	{ "unprotect merges back into one piece",
	  { { 0, 4, 0, 0 }, { 4, 5, 1, 1 }, { 5, 16, 2, 0 } }, 3, 4, 5, 0,
	  { { 0, 16, N, 0 } }, 1, -2, 0, 0 },
	{ "filling a hole joins two read-only pieces",
	  { { 0, 4, 0, 0 }, { 4, 5, 1, 1 }, { 5, 6, 2, 0 }, { 6, 7, 3, 1 },
	    { 7, 16, 4, 0 } }, 5, 5, 6, 1,
	  { { 0, 4, 0, 0 }, { 4, 7, N, 1 }, { 7, 16, 4, 0 } }, 3, -2, 0, 0 },
	{ "first page of the chunk",
	  { { 0, 16, 7, 0 } }, 1, 0, 1, 1,
	  { { 0, 1, N, 1 }, { 1, 16, N, 0 } }, 2, 1, 0, 0 },
	{ "the whole chunk",
	  { { 0, 16, 7, 0 } }, 1, 0, 16, 1,
	  { { 0, 16, N, 1 } }, 1, 0, 0, 0 },
	{ "range past the chunk's end: only the chunk's part",
	  { { 0, 16, 7, 0 } }, 1, 12, 20, 1,
	  { { 0, 12, N, 0 }, { 12, 16, N, 1 } }, 2, 1, 0, 0 },
	{ "a piece KVM lost is created again",
	  { { 0, 4, 0, 0 }, { 4, 5, N, 1 }, { 5, 16, 2, 0 } }, 3, 4, 5, 1,
	  { { 0, 4, 0, 0 }, { 4, 5, N, 1 }, { 5, 16, 2, 0 } }, 3, 1, 0, 0 },
	/* Lazy: a released page keeps a slot of its own, so the next
	 * protect or release of it is one delete and one create. */
	{ "lazy: unprotect keeps the page's own slot",
	  { { 0, 4, 0, 0 }, { 4, 5, 1, 1 }, { 5, 16, 2, 0 } }, 3, 4, 5, 0,
	  { { 0, 4, 0, 0 }, { 4, 5, N, 0 }, { 5, 16, 2, 0 } }, 3, 0, 1, 0 },
	{ "lazy: protecting a page with its own slot",
	  { { 0, 4, 0, 0 }, { 4, 5, 1, 0 }, { 5, 16, 2, 0 } }, 3, 4, 5, 1,
	  { { 0, 4, 0, 0 }, { 4, 5, N, 1 }, { 5, 16, 2, 0 } }, 3, 0, 1, 0 },
	{ "lazy: read-only neighbours still merge",
	  { { 0, 4, 0, 0 }, { 4, 5, 1, 1 }, { 5, 6, 2, 0 }, { 6, 16, 3, 0 } },
	  4, 5, 6, 1,
	  { { 0, 4, 0, 0 }, { 4, 6, N, 1 }, { 6, 16, 3, 0 } }, 3, -1, 1, 0 },
	{ "lazy: protect inside one piece cuts it in three",
	  { { 0, 16, 0, 0 } }, 1, 4, 5, 1,
	  { { 0, 4, N, 0 }, { 4, 5, N, 1 }, { 5, 16, N, 0 } }, 3, 2, 1, 0 },
	{ "lazy: unprotect inside a read-only run",
	  { { 0, 4, 0, 0 }, { 4, 7, 1, 1 }, { 7, 16, 2, 0 } }, 3, 5, 6, 0,
	  { { 0, 4, 0, 0 }, { 4, 5, N, 1 }, { 5, 6, N, 0 }, { 6, 7, N, 1 },
	    { 7, 16, 2, 0 } }, 5, 2, 1, 0 },
	/* Per page: each protected range keeps a read-only slot of its own,
	 * so its neighbours' slots stay as they are. */
	{ "page: the page next to a protected one gets its own slot",
	  { { 0, 4, 0, 0 }, { 4, 5, 1, 1 }, { 5, 6, 2, 0 }, { 6, 16, 3, 0 } },
	  4, 5, 6, 1,
	  { { 0, 4, 0, 0 }, { 4, 5, 1, 1 }, { 5, 6, N, 1 }, { 6, 16, 3, 0 } },
	  4, 0, 1, 1 },
	{ "page: releasing a page between protected ones",
	  { { 0, 4, 0, 0 }, { 4, 5, 1, 1 }, { 5, 6, 2, 1 }, { 6, 7, 3, 1 },
	    { 7, 16, 4, 0 } }, 5, 5, 6, 0,
	  { { 0, 4, 0, 0 }, { 4, 5, 1, 1 }, { 5, 6, N, 0 }, { 6, 7, 3, 1 },
	    { 7, 16, 4, 0 } }, 5, 0, 1, 1 },
	{ "page: a range over two pieces becomes one",
	  { { 0, 4, 0, 0 }, { 4, 5, 1, 0 }, { 5, 6, 2, 0 }, { 6, 16, 3, 0 } },
	  4, 4, 6, 1,
	  { { 0, 4, 0, 0 }, { 4, 6, N, 1 }, { 6, 16, 3, 0 } }, 3, -1, 1, 1 },
	{ "page: the first cut of a piece is three pieces",
	  { { 0, 16, 0, 0 } }, 1, 4, 5, 1,
	  { { 0, 4, N, 0 }, { 4, 5, N, 1 }, { 5, 16, N, 0 } }, 3, 2, 1, 1 },
	{ "page, read-write merged: a release joins its neighbours",
	  { { 0, 4, 0, 0 }, { 4, 5, 1, 1 }, { 5, 6, 2, 1 }, { 6, 16, 3, 0 } },
	  4, 5, 6, 0,
	  { { 0, 4, 0, 0 }, { 4, 5, 1, 1 }, { 5, 16, N, 0 } }, 3, -1, 0, 1 },
	{ "empty range, everything merged: the chunk's fewest pieces",
	  { { 0, 4, 0, 0 }, { 4, 5, 1, 1 }, { 5, 6, 2, 1 }, { 6, 7, 3, 0 },
	    { 7, 16, 4, 0 } }, 5, 0, 0, 0,
	  { { 0, 4, 0, 0 }, { 4, 6, N, 1 }, { 6, 16, N, 0 } }, 3, -2, 0, 0 },
};

static void to_pieces(const struct pc *in, unsigned int n,
		      struct kvm_piece *out)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		out[i] = (struct kvm_piece){ .gpa = PG(in[i].from),
					     .size = PG(in[i].to - in[i].from),
					     .slot = in[i].slot,
					     .readonly = in[i].ro };
}

START_TEST(recut)
{
	const struct recut_case *c = &cases[_i];
	struct kvm_piece cur[6], next[8];
	unsigned int i, m;

	to_pieces(c->cur, c->nr_cur, cur);
	m = kvm_pieces_recut(cur, c->nr_cur, PG(c->lo), PG(c->hi), c->ro,
			     (c->page ? 0 : KVM_MERGE_RO) |
			     (c->lazy ? 0 : KVM_MERGE_RW), next);
	ck_assert_msg(m == c->nr_want, "%s: %u pieces", c->what, m);
	for (i = 0; i < m; i++) {
		const struct pc *w = &c->want[i];

		ck_assert_msg(next[i].gpa == PG(w->from) &&
			      next[i].size == PG(w->to - w->from) &&
			      next[i].slot == w->slot &&
			      next[i].readonly == w->ro,
			      "%s: piece %u is [%#llx +%#llx) slot %u ro %d",
			      c->what, i, (unsigned long long)next[i].gpa,
			      (unsigned long long)next[i].size, next[i].slot,
			      next[i].readonly);
	}
	ck_assert_msg(kvm_pieces_slot_delta(cur, c->nr_cur, next, m) ==
		      c->delta, "%s: slot delta", c->what);
}
END_TEST

START_TEST(kept_needs_same_slot)
{
	struct kvm_piece a = { .gpa = PG(4), .size = PG(1), .slot = 3,
			       .readonly = true };
	struct kvm_piece set[2] = {
		{ .gpa = 0, .size = PG(4), .slot = 1 },
		a,
	};

	ck_assert(kvm_piece_kept(&a, set, 2));
	set[1].slot = 5;
	ck_assert(!kvm_piece_kept(&a, set, 2));
	set[1].slot = 3;
	set[1].readonly = false;
	ck_assert(!kvm_piece_kept(&a, set, 2));
	a.slot = N;
	set[1] = a;
	ck_assert(!kvm_piece_kept(&a, set, 2));
}
END_TEST

START_TEST(ro_pages)
{
	struct kvm_piece p[3];
	const struct pc in[3] = { { 0, 4, 0, 1 }, { 4, 5, 1, 0 },
				  { 5, 16, 2, 1 } };

	to_pieces(in, 3, p);
	ck_assert_uint_eq(kvm_pieces_ro_pages(p, 3), 4 + 11);
}
END_TEST

/* Ids come lowest first, a freed one is the next reused, and the budget
 * is a hard limit. */
START_TEST(slot_ids)
{
	struct kvm_slot_ids ids;

	ck_assert_int_eq(kvm_slot_ids_init(&ids, 10, 3), 0);
	ck_assert_uint_eq(kvm_slot_ids_in_use(&ids), 0);
	ck_assert_uint_eq(kvm_slot_id_get(&ids), 10);
	ck_assert_uint_eq(kvm_slot_id_get(&ids), 11);
	ck_assert_uint_eq(kvm_slot_id_get(&ids), 12);
	ck_assert_uint_eq(kvm_slot_id_get(&ids), N);
	ck_assert_uint_eq(kvm_slot_ids_in_use(&ids), 3);
	kvm_slot_id_put(&ids, 11);
	ck_assert_uint_eq(kvm_slot_ids_in_use(&ids), 2);
	ck_assert_uint_eq(kvm_slot_id_get(&ids), 11);
	ck_assert_uint_eq(kvm_slot_id_get(&ids), N);
	kvm_slot_ids_fini(&ids);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("protect_kvm_slots");
	TCase *tc = tcase_create("layout");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, recut, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, kept_needs_same_slot);
	tcase_add_test(tc, ro_pages);
	tcase_add_test(tc, slot_ids);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
