/* SPDX-License-Identifier: MIT */
/*
 * The KVM memslot backend's layouts and slot budget without KVM: the
 * backend itself (lib/protect/kvm.c and its plans) runs against a fake
 * KVM_SET_USER_MEMORY_REGION (ioctl wrapped at link time, -Wl,--wrap)
 * that refuses what KVM refuses (overlapping slots, deleting a slot that
 * is not there, re-creating a live one, ids past the capability) and
 * keeps the slots it holds.  After every change the fake's slots must
 * tile guest RAM with nothing missing, read-only exactly where pages are
 * protected, each at its own host address; what each layout costs in
 * ioctls is counted.  The same backend on a real KVM is test_protect_kvm.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "protect/protect.h"

#define PAGE 0x1000ull
#define MB2 (2ull << 20)
#define RAM_SIZE (8ull << 20)
#define RAM_PAGES (RAM_SIZE / PAGE)
#define FAKE_NR_SLOTS 512

/* ---- the fake KVM ---- */

struct fake_slot {
	bool used;
	bool readonly;
	uint64_t gpa, size, hva;
};

static int fake_fd = -1;
static struct fake_slot fake[FAKE_NR_SLOTS];
static uint64_t fake_ops, fake_deletes;

int __real_ioctl(int fd, unsigned long req, ...);

static int fake_refuse(int err)
{
	errno = err;
	return -1;
}

static bool fake_overlaps(const struct kvm_userspace_memory_region *r)
{
	unsigned int i;

	for (i = 0; i < FAKE_NR_SLOTS; i++)
		if (fake[i].used && fake[i].gpa < r->guest_phys_addr +
						      r->memory_size &&
		    r->guest_phys_addr < fake[i].gpa + fake[i].size)
			return true;
	return false;
}

static int fake_set_region(const struct kvm_userspace_memory_region *r)
{
	struct fake_slot *s;

	fake_ops++;
	if (r->slot >= FAKE_NR_SLOTS) /* address space 0 only */
		return fake_refuse(EINVAL);
	s = &fake[r->slot];
	if (!r->memory_size) {
		if (!s->used)
			return fake_refuse(EINVAL);
		fake_deletes++;
		s->used = false;
		return 0;
	}
	/* KVM cannot change READONLY on a live slot, and the backend never
	 * moves one: any change to a live slot is a bug here. */
	if (s->used)
		return fake_refuse(EINVAL);
	if (fake_overlaps(r))
		return fake_refuse(EEXIST);
	*s = (struct fake_slot){ .used = true,
				 .readonly = r->flags & KVM_MEM_READONLY,
				 .gpa = r->guest_phys_addr,
				 .size = r->memory_size,
				 .hva = r->userspace_addr };
	return 0;
}

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd != fake_fd)
		return __real_ioctl(fd, req, arg);
	switch (req) {
	case KVM_CHECK_EXTENSION:
		return (long)arg == KVM_CAP_NR_MEMSLOTS ? FAKE_NR_SLOTS : 0;
	case KVM_SET_USER_MEMORY_REGION:
		return fake_set_region(arg);
	default:
		return fake_refuse(EINVAL);
	}
}

/* ---- the backend over it ---- */

static uint8_t *ram;
static struct wpt_guestmem gm;
static struct wpt_protect prot;
static bool protected_page[RAM_PAGES];
static uint64_t setup_ops; /* the chunks' first slots */

static void setup(void)
{
	struct wpt_ram_region r;

	fake_fd = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(fake_fd, 0);
	memset(fake, 0, sizeof(fake));
	fake_ops = fake_deletes = 0;
	memset(protected_page, 0, sizeof(protected_page));
	/* Never touched: the backend only passes its addresses to KVM. */
	ram = mmap(NULL, RAM_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	ck_assert_ptr_ne(ram, MAP_FAILED);
	r = (struct wpt_ram_region){ .gpa = 0, .size = RAM_SIZE, .hva = ram };
	ck_assert_int_eq(guestmem_init(&gm, &r, 1), 0);
	memset(&prot, 0, sizeof(prot));
}

static void teardown(void)
{
	if (prot.ops)
		prot.ops->free(prot.be);
	guestmem_fini(&gm);
	munmap(ram, RAM_SIZE);
	close(fake_fd);
}

static void backend_new(uint16_t layout, uint64_t granule, uint32_t budget)
{
	struct wpt_kvm_cfg cfg = { .vm_fd = fake_fd, .slot_budget = budget,
				   .slot_granule = granule,
				   .layout = layout };

	ck_assert_int_eq(wpt_protect_kvm_new(&cfg, &gm, &prot), 0);
	setup_ops = fake_ops;
}

static struct wpt_protect_stats stats(void)
{
	struct wpt_protect_stats st;

	prot.ops->stats(prot.be, &st);
	return st;
}

static int slot_gpa_cmp(const void *a, const void *b)
{
	const struct fake_slot *x = a, *y = b;

	return (x->gpa > y->gpa) - (x->gpa < y->gpa);
}

/* The fake's slots tile RAM, read-only exactly over protected pages, at
 * their host addresses, and the backend counts them right.  Returns how
 * many slots there are. */
static unsigned int layout_check(void)
{
	struct fake_slot s[FAKE_NR_SLOTS];
	unsigned int i, n = 0;
	uint64_t at = 0, pg;

	for (i = 0; i < FAKE_NR_SLOTS; i++)
		if (fake[i].used)
			s[n++] = fake[i];
	/* Plain tests, not ck_assert: Check records every passed assertion,
	 * and this runs for every page after every change. */
	qsort(s, n, sizeof(s[0]), slot_gpa_cmp);
	for (i = 0; i < n; i++) {
		if (s[i].gpa != at)
			ck_abort_msg("RAM at %#llx has no slot",
				     (unsigned long long)at);
		if (s[i].hva != (uintptr_t)ram + s[i].gpa)
			ck_abort_msg("slot at %#llx: wrong host address",
				     (unsigned long long)s[i].gpa);
		for (pg = s[i].gpa / PAGE; pg < (s[i].gpa + s[i].size) / PAGE;
		     pg++)
			if (protected_page[pg] != s[i].readonly)
				ck_abort_msg("page %#llx: protected %d, slot "
					     "ro %d", (unsigned long long)pg,
					     protected_page[pg],
					     s[i].readonly);
		at += s[i].size;
	}
	ck_assert_uint_eq(at, RAM_SIZE);
	ck_assert_uint_eq(stats().slots_in_use, n);
	return n;
}

/* The fake's slot holding gpa. */
static const struct fake_slot *slot_at(uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < FAKE_NR_SLOTS; i++)
		if (fake[i].used && fake[i].gpa <= gpa &&
		    gpa < fake[i].gpa + fake[i].size)
			return &fake[i];
	ck_abort_msg("no slot at %#llx", (unsigned long long)gpa);
	return NULL;
}

/* The fewest slots RAM can be in with the protected pages as they are:
 * one per run of one kind inside each chunk of granule bytes. */
static unsigned int slots_needed(uint64_t granule)
{
	unsigned int pg, n = 0;

	for (pg = 0; pg < RAM_PAGES; pg++)
		n += !pg || pg % (granule / PAGE) == 0 ||
		     protected_page[pg] != protected_page[pg - 1];
	return n;
}

static int set_page(uint64_t pg, bool on)
{
	int ret = on ? prot.ops->protect(prot.be, pg * PAGE, PAGE)
		     : prot.ops->unprotect(prot.be, pg * PAGE, PAGE);

	if (!ret)
		protected_page[pg] = on;
	return ret;
}

/* Deterministic table-page churn, as a driver that frees and reuses table
 * pages makes: pick a page of pool[0..n), protect it if free, release it
 * if protected. */
static uint64_t churn_pick(uint64_t *seed, const uint64_t *pool,
			   unsigned int n)
{
	*seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
	return pool[(*seed >> 33) % n];
}

/* ---- the tests ---- */

/* pool: 24 adjacent pages in the second chunk, where Linux's page
 * allocator would put a burst of table pages. */
#define POOL_FIRST (MB2 / PAGE + 100)
#define POOL_PAGES 24

/* ioctls per protect or release over changes [warm, total) of a churn. */
static double churn_cost(uint16_t layout, unsigned int warm,
			 unsigned int total)
{
	uint64_t pool[POOL_PAGES], seed = 1, ops0 = 0;
	unsigned int i;

	for (i = 0; i < POOL_PAGES; i++)
		pool[i] = POOL_FIRST + i;
	backend_new(layout, MB2, 128);
	for (i = 0; i < total; i++) {
		uint64_t pg = churn_pick(&seed, pool, POOL_PAGES);

		if (i == warm)
			ops0 = fake_ops;
		ck_assert_int_eq(set_page(pg, !protected_page[pg]), 0);
		layout_check();
	}
	ck_assert_uint_eq(stats().slot_ops, fake_ops);
	ck_assert_uint_eq(stats().slot_fallbacks, 0);
	ck_assert_uint_eq(stats().slot_recuts, total);
	ck_assert_uint_le(stats().slot_cut_ops, fake_ops);
	return (double)(fake_ops - ops0) / (total - warm);
}

/* The changes after each page's first cut, counted by the backend: their
 * ioctls per page changed. */
static double steady_cost(unsigned int total)
{
	struct wpt_protect_stats st = stats();

	ck_assert_uint_lt(st.slot_cut_pages, total);
	return (double)(st.slot_ops - setup_ops - st.slot_cut_ops) /
	       (double)(total - st.slot_cut_pages);
}

/* Once each page of the pool has a slot of its own, protecting or
 * releasing it is one delete and one create, whatever its neighbours. */
START_TEST(per_page_churn_is_two_ioctls)
{
	double cost = churn_cost(WPT_KVM_LAYOUT_PER_PAGE, 400, 2400);
	struct wpt_protect_stats st = stats();

	printf("per page: %.3f slot ioctls per protect or release\n", cost);
	ck_assert_msg(cost == 2.0, "per page: %.3f ioctls", cost);
	/* The backend counts each pool page's first cut apart (a delete and
	 * two or three creates; a page whose neighbours were both cut first
	 * already has a slot of its own), and the rest is exactly 2 a
	 * change. */
	ck_assert_uint_gt(st.slot_cut_pages, 0);
	ck_assert_uint_le(st.slot_cut_pages, POOL_PAGES);
	ck_assert_uint_ge(st.slot_cut_ops, 3 * st.slot_cut_pages);
	ck_assert_uint_le(st.slot_cut_ops, 4 * st.slot_cut_pages);
	printf("per page: %llu first cuts, %.3f ioctls each\n",
	       (unsigned long long)st.slot_cut_pages,
	       (double)st.slot_cut_ops / (double)st.slot_cut_pages);
	ck_assert(steady_cost(2400) == 2.0);
}
END_TEST

/*
 * A page's first cut out of a larger slot: KVM can neither split a slot
 * nor change READONLY on a live one, so the slot goes (1) and every piece
 * of it comes back (the page's, and one or two around it).  Counted apart
 * from the changes after it, which are one delete and one create.
 */
START_TEST(first_cuts_counted_apart)
{
	const uint64_t x = MB2 / PAGE + 64;
	uint64_t ops;

	backend_new(WPT_KVM_LAYOUT_PER_PAGE, MB2, 64);
	ops = fake_ops; /* the chunks' slots */
	ck_assert_int_eq(set_page(x, true), 0);       /* inside the chunk */
	ck_assert_uint_eq(fake_ops - ops, 4);
	ops = fake_ops;
	ck_assert_int_eq(set_page(x + 1, true), 0);   /* a piece's edge */
	ck_assert_uint_eq(fake_ops - ops, 3);
	ck_assert_uint_eq(stats().slot_cut_pages, 2);
	ck_assert_uint_eq(stats().slot_cut_ops, 7);
	ops = fake_ops;
	ck_assert_int_eq(set_page(x, false), 0);
	ck_assert_int_eq(set_page(x, true), 0);
	ck_assert_int_eq(set_page(x + 1, false), 0);
	ck_assert_uint_eq(fake_ops - ops, 6);
	layout_check();
	ck_assert_uint_eq(stats().slot_cut_pages, 2);
	ck_assert_uint_eq(stats().slot_cut_ops, 7);
	ck_assert(steady_cost(5) == 2.0);
}
END_TEST

/* Merged, a page next to a protected one re-cuts their shared slot. */
START_TEST(merged_churn_costs_more)
{
	double cost = churn_cost(WPT_KVM_LAYOUT_MERGED, 400, 2400);

	printf("merged: %.3f slot ioctls per protect or release\n", cost);
	ck_assert_msg(cost > 2.5, "merged: %.3f ioctls", cost);
}
END_TEST

/*
 * A budget far too small for either layout's cache of slots: every change
 * the budget can hold with RAM merged as far as it goes succeeds (merging
 * pieces of any chunk to make room), every other is refused with -ENOSPC
 * and changes nothing.  Pool pages in two chunks, some adjacent, some not.
 */
static void tight_budget(uint16_t layout)
{
	uint64_t pool[16], seed = 7;
	unsigned int i, refused = 0, budget = 16;

	for (i = 0; i < 16; i++)
		pool[i] = (i < 8 ? MB2 : 2 * MB2) / PAGE + 40 + i % 8 +
			  (i % 8 > 3 ? 3 * (i % 8) : 0);
	backend_new(layout, MB2, budget);
	for (i = 0; i < 3000; i++) {
		uint64_t pg = churn_pick(&seed, pool, 16);
		bool on = !protected_page[pg];
		unsigned int need;
		int ret;

		protected_page[pg] = on;
		need = slots_needed(MB2);
		protected_page[pg] = !on;
		ret = set_page(pg, on);
		if (need <= budget)
			ck_assert_msg(ret == 0, "change %u: %d with %u of %u "
				      "slots needed", i, ret, need, budget);
		else
			ck_assert_int_eq(ret, -ENOSPC);
		refused += ret != 0;
		ck_assert_uint_le(layout_check(), budget);
	}
	printf("layout %u, budget %u: %llu fallbacks, %u refused, %llu ioctls\n",
	       layout, budget, (unsigned long long)stats().slot_fallbacks,
	       refused, (unsigned long long)fake_ops);
	ck_assert_uint_gt(stats().slot_fallbacks, 0);
	ck_assert_uint_gt(refused, 0); /* the walk reached the budget's end */
}

START_TEST(tight_budget_per_page)
{
	tight_budget(WPT_KVM_LAYOUT_PER_PAGE);
}
END_TEST

START_TEST(tight_budget_merged)
{
	tight_budget(WPT_KVM_LAYOUT_MERGED);
}
END_TEST

/* Slots a chunk holds only to save ioctls are taken back for a change in
 * another chunk that needs them. */
START_TEST(other_chunks_merge_to_make_room)
{
	const uint64_t x = MB2 / PAGE + 16, y = 2 * MB2 / PAGE + 16;
	unsigned int i;

	/* Four chunks; three adjacent pages of the second protected one by
	 * one each keep a read-only slot: [RW][RO][RO][RO][RW] + 3 = 8. */
	backend_new(WPT_KVM_LAYOUT_PER_PAGE, MB2, 8);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(set_page(x + i, true), 0);
	ck_assert_uint_eq(layout_check(), 8);
	/* The third chunk needs two more: merged alone it still does, so
	 * the second chunk's three read-only slots become one. */
	ck_assert_int_eq(set_page(y, true), 0);
	ck_assert_uint_eq(layout_check(), 8);
	ck_assert_uint_eq(slot_at(x * PAGE)->size, 3 * PAGE);
	/* Releasing the middle of the merged run would need ten slots
	 * however merged: refused, and nothing moves. */
	ck_assert_int_eq(set_page(x + 1, false), -ENOSPC);
	ck_assert_uint_eq(layout_check(), 8);
	/* Its last page joins the read-write piece after it. */
	ck_assert_int_eq(set_page(x + 2, false), 0);
	ck_assert_uint_eq(layout_check(), 8);
}
END_TEST

/* A protected range of several pages (a 16 KiB table page) is one slot,
 * and its neighbour of the same size another. */
START_TEST(per_page_range_is_one_slot)
{
	const uint64_t x = MB2 / PAGE + 64;
	unsigned int i;

	backend_new(WPT_KVM_LAYOUT_PER_PAGE, MB2, 64);
	ck_assert_int_eq(prot.ops->protect(prot.be, x * PAGE, 4 * PAGE), 0);
	ck_assert_int_eq(prot.ops->protect(prot.be, (x + 4) * PAGE,
					   4 * PAGE), 0);
	for (i = 0; i < 8; i++)
		protected_page[x + i] = true;
	/* [RW][RO 16K][RO 16K][RW] + 3 other chunks */
	ck_assert_uint_eq(layout_check(), 4 + 3);
	/* The second: its RW piece goes, RO and RW come. */
	ck_assert_uint_eq(fake_ops, 4 + 4 + 3);
}
END_TEST

START_TEST(unknown_layout_refused)
{
	struct wpt_kvm_cfg cfg = { .vm_fd = fake_fd, .slot_budget = 8,
				   .layout = WPT_KVM_LAYOUT_MERGED + 1 };

	ck_assert_int_eq(wpt_protect_kvm_new(&cfg, &gm, &prot), -EINVAL);
	ck_assert_uint_eq(fake_ops, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("protect_kvm_layout");
	TCase *tc = tcase_create("layout");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, per_page_churn_is_two_ioctls);
	tcase_add_test(tc, merged_churn_costs_more);
	tcase_add_test(tc, first_cuts_counted_apart);
	tcase_add_test(tc, tight_budget_per_page);
	tcase_add_test(tc, tight_budget_merged);
	tcase_add_test(tc, other_chunks_merge_to_make_room);
	tcase_add_test(tc, per_page_range_is_one_slot);
	tcase_add_test(tc, unknown_layout_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
