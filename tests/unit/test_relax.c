/* SPDX-License-Identifier: MIT */
/*
 * Relaxed mode (WPT_MODE_RELAXED): a burst of stores to a leaf table page
 * leaves it writable; every sync point (invalidation, registered doorbell,
 * wpt_vm_sync, the exit bound, a new root) brings the sink up to date and
 * protects the quiet pages again.  The property test drives random maps,
 * unmaps and table swaps through the fixture (a store traps exactly when
 * its page is protected, as under KVM) and checks at every sync point that
 * the sink holds exactly what the guest's tables map (so a removal is
 * never lost) and that wpt_domain_verify agrees.
 */
#include <stdbool.h>
#include <unistd.h>

#include "unit/fixture.h"

#define ROOT (FX_RAM_GPA + 0x0000)
#define L1 (FX_RAM_GPA + 0x1000)
#define L2 (FX_RAM_GPA + 0x2000)
#define L3(k) (FX_RAM_GPA + 0x3000 + (uint64_t)(k) * 0x1000)
#define NTABLES 4
#define DATA (FX_RAM_GPA + 0x100000)
#define BELL 0xd0000000ull

struct rx {
	struct fx *f;
	struct wpt_sink *s;
	struct wpt_domain *d;
};

/* Root -> L1 -> L2 -> NTABLES leaf tables (IOVA 0 .. NTABLES * 2 MiB),
 * written before the root is set, so nothing traps yet. */
static void rx_new(struct rx *x, enum wpt_mode mode)
{
	unsigned int k;

	x->f = fx_new();
	*fx_desc(x->f, ROOT) = s1_table(L1);
	*fx_desc(x->f, L1) = s1_table(L2);
	for (k = 0; k < NTABLES; k++)
		*fx_desc(x->f, L2 + 8 * k) = s1_table(L3(k));
	x->d = fx_domain(x->f, &x->s, mode, 4096, 48);
	ck_assert_int_eq(wpt_domain_set_root(x->d, ROOT), 0);
}

static void rx_free(struct rx *x)
{
	wpt_domain_free(x->d);
	wpt_sink_free(x->s);
	fx_free(x->f);
}

static void leaf_store(struct rx *x, unsigned int k, unsigned int i,
		       uint64_t desc)
{
	fx_store64(x->f, L3(k) + 8 * i, desc);
}

static uint64_t exits(struct rx *x)
{
	struct wpt_vm_stats st;

	ck_assert_int_eq(wpt_vm_stats(x->f->vm, &st, sizeof(st)), 0);
	return st.exits_handled;
}

static long sink_pages(struct rx *x)
{
	struct wpt_mapping m[512];
	long n = wpt_sink_record_get(x->s, m, 512), i, pages = 0;

	ck_assert_int_le(n, 512);
	for (i = 0; i < n; i++)
		pages += m[i].size >> 12;
	return pages;
}

START_TEST(test_burst_relaxes_and_sync_catches_up)
{
	struct rx x;
	struct wpt_vm_stats st;
	unsigned int i;

	rx_new(&x, WPT_MODE_RELAXED);
	ck_assert(fx_prot(x.f, L3(0)));
	/* The first two stores trap; the second leaves the page writable. */
	leaf_store(&x, 0, 0, s1_page(DATA));
	leaf_store(&x, 0, 1, s1_page(DATA + 0x1000));
	ck_assert_uint_eq(exits(&x), 2);
	ck_assert(!fx_prot(x.f, L3(0)));
	for (i = 2; i < 100; i++)
		leaf_store(&x, 0, i, s1_page(DATA + i * 0x1000));
	ck_assert_uint_eq(exits(&x), 2);
	ck_assert_int_eq(sink_pages(&x), 2); /* not synced yet */
	ck_assert_int_eq(wpt_vm_sync(x.f->vm), 0);
	ck_assert_int_eq(sink_pages(&x), 100);
	ck_assert_int_eq(wpt_domain_verify(x.d), 0);
	/* Written since the last sync point: still writable.  Quiet at the
	 * next one: protected again. */
	ck_assert(!fx_prot(x.f, L3(0)));
	ck_assert_int_eq(wpt_vm_sync(x.f->vm), 0);
	ck_assert(fx_prot(x.f, L3(0)));
	ck_assert_int_eq(wpt_vm_stats(x.f->vm, &st, sizeof(st)), 0);
	ck_assert_uint_eq(st.relaxed_pages, 1);
	ck_assert_uint_eq(st.unsynced_pages, 0);
	ck_assert_uint_eq(st.syncs, 2);
	/* The root and the tables above the leaves were never let go. */
	ck_assert(fx_prot(x.f, ROOT));
	ck_assert_int_eq(wpt_domain_error(x.d), 0);
	rx_free(&x);
}
END_TEST

/* A map and unmap stream over one leaf table: let go at the first unmap,
 * it stays writable through the invalidations (each a sync point), so
 * later pairs cost no trap at all; every invalidation still removes. */
START_TEST(test_stream_stays_relaxed)
{
	struct rx x;
	unsigned int i;

	rx_new(&x, WPT_MODE_RELAXED);
	for (i = 0; i < 20; i++) {
		leaf_store(&x, 0, i % 4, s1_page(DATA + i * 0x1000));
		ck_assert_int_eq(wpt_vm_sync(x.f->vm), 0); /* the doorbell */
		ck_assert_int_eq(sink_pages(&x), 1);
		leaf_store(&x, 0, i % 4, 0);
		ck_assert_int_eq(wpt_domain_invalidate(x.d, (i % 4) * 0x1000,
						       0x1000), 0);
		ck_assert_int_eq(sink_pages(&x), 0);
	}
	ck_assert_uint_eq(exits(&x), 2);
	ck_assert(!fx_prot(x.f, L3(0)));
	ck_assert_int_eq(wpt_domain_verify(x.d), 0);
	rx_free(&x);
}
END_TEST

/* A leaf table installed by a trapped store is held open from the start:
 * it is never protected while it is filled (no protect, no unprotect, no
 * trapped leaf), and it is protected once it has gone quiet. */
START_TEST(test_new_table_never_protected_while_filled)
{
	struct rx x;
	struct wpt_vm_stats st;
	uint64_t t = L3(NTABLES), calls;
	unsigned int i;

	rx_new(&x, WPT_MODE_RELAXED);
	calls = x.f->protect_calls;
	fx_store64(x.f, L2 + 8 * NTABLES, s1_table(t)); /* traps */
	ck_assert(!fx_prot(x.f, t));
	for (i = 0; i < 512; i++)
		leaf_store(&x, NTABLES, i, s1_page(DATA + i * 0x1000));
	ck_assert_uint_eq(exits(&x), 1);
	ck_assert_uint_eq(x.f->protect_calls, calls);
	ck_assert_int_eq(wpt_vm_sync(x.f->vm), 0);
	ck_assert_int_eq(sink_pages(&x), 512);
	ck_assert_int_eq(wpt_domain_verify(x.d), 0);
	ck_assert_int_eq(wpt_vm_sync(x.f->vm), 0); /* quiet: protected */
	ck_assert(fx_prot(x.f, t));
	ck_assert_uint_eq(x.f->protect_calls, calls + 1);
	/* Replaced by another new table (the parent's second store in a
	 * row lets the parent go too): the old one's leaves go, the new
	 * one's come, at the next sync point. */
	fx_store64(x.f, L2 + 8 * NTABLES, s1_table(L3(NTABLES + 1)));
	ck_assert(!fx_prot(x.f, L3(NTABLES + 1)));
	for (i = 0; i < 4; i++)
		leaf_store(&x, NTABLES + 1, i, s1_page(DATA));
	ck_assert_int_eq(wpt_vm_stats(x.f->vm, &st, sizeof(st)), 0);
	ck_assert_uint_eq(st.unsynced_pages, 2);
	ck_assert_int_eq(wpt_vm_sync(x.f->vm), 0);
	ck_assert_int_eq(sink_pages(&x), 4);
	ck_assert_int_eq(wpt_domain_verify(x.d), 0);
	rx_free(&x);
}
END_TEST

/* A table installed in an unsynced parent (no trap) and filled is held
 * open before the sync's walk first tracks it: found, mapped, and never
 * protected until it goes quiet. */
START_TEST(test_table_under_unsynced_parent_held)
{
	struct rx x;
	uint64_t calls;
	unsigned int i;

	rx_new(&x, WPT_MODE_RELAXED);
	/* Two trapped stores let the level-2 table go. */
	fx_store64(x.f, L2 + 8 * 100, 0);
	fx_store64(x.f, L2 + 8 * 101, 0);
	ck_assert(!fx_prot(x.f, L2));
	calls = x.f->protect_calls;
	fx_store64(x.f, L2 + 8 * NTABLES, s1_table(L3(NTABLES)));
	for (i = 0; i < 16; i++)
		leaf_store(&x, NTABLES, i, s1_page(DATA + i * 0x1000));
	ck_assert_uint_eq(exits(&x), 2);
	ck_assert_int_eq(wpt_vm_sync(x.f->vm), 0);
	ck_assert_int_eq(sink_pages(&x), 16);
	ck_assert_uint_eq(x.f->protect_calls, calls);
	ck_assert(!fx_prot(x.f, L3(NTABLES)));
	/* Still held: stores to it are caught at the next sync point. */
	leaf_store(&x, NTABLES, 20, s1_page(DATA));
	ck_assert_int_eq(wpt_vm_sync(x.f->vm), 0);
	ck_assert_int_eq(sink_pages(&x), 17);
	ck_assert_int_eq(wpt_vm_sync(x.f->vm), 0);
	ck_assert(fx_prot(x.f, L3(NTABLES)));
	ck_assert_int_eq(wpt_domain_verify(x.d), 0);
	rx_free(&x);
}
END_TEST

/* quiet_syncs: a page stays writable that many unwritten sync points. */
START_TEST(test_quiet_syncs)
{
	struct rx x;
	struct wpt_relax_cfg c = { .size = sizeof(c), .quiet_syncs = 3 };
	unsigned int i;

	rx_new(&x, WPT_MODE_RELAXED);
	ck_assert_int_eq(wpt_vm_set_relax(x.f->vm, &c), 0);
	for (i = 0; i < 4; i++)
		leaf_store(&x, 2, i, s1_page(DATA + i * 0x1000));
	for (i = 0; i < 3; i++) {
		ck_assert(!fx_prot(x.f, L3(2)));
		ck_assert_int_eq(wpt_vm_sync(x.f->vm), 0);
	}
	ck_assert(!fx_prot(x.f, L3(2)));
	ck_assert_int_eq(wpt_vm_sync(x.f->vm), 0);
	ck_assert(fx_prot(x.f, L3(2)));
	ck_assert_int_eq(sink_pages(&x), 4);
	c.quiet_syncs = 5000;
	ck_assert_int_eq(wpt_vm_set_relax(x.f->vm, &c), -EINVAL);
	rx_free(&x);
}
END_TEST

/* A TRAP domain keeps every store synchronous, however bursty. */
START_TEST(test_trap_mode_never_relaxes)
{
	struct rx x;
	unsigned int i;

	rx_new(&x, WPT_MODE_TRAP);
	for (i = 0; i < 50; i++)
		leaf_store(&x, 1, i, s1_page(DATA + i * 0x1000));
	ck_assert_uint_eq(exits(&x), 50);
	ck_assert(fx_prot(x.f, L3(1)));
	ck_assert_int_eq(sink_pages(&x), 50);
	rx_free(&x);
}
END_TEST

/* The root page is written rarely and must stay protected for a root
 * switch: a burst there still traps store by store. */
START_TEST(test_root_not_relaxed)
{
	struct rx x;
	unsigned int i;

	rx_new(&x, WPT_MODE_RELAXED);
	for (i = 1; i < 10; i++)
		fx_store64(x.f, ROOT + 8 * i, 0);
	ck_assert_uint_eq(exits(&x), 9);
	ck_assert(fx_prot(x.f, ROOT));
	rx_free(&x);
}
END_TEST

START_TEST(test_doorbell_syncs)
{
	struct rx x;
	uint64_t v = 1;

	rx_new(&x, WPT_MODE_RELAXED);
	ck_assert_int_eq(wpt_vm_add_doorbell(x.f->vm, BELL, 0x1000), 0);
	ck_assert_int_eq(wpt_vm_add_doorbell(x.f->vm, BELL + 0x800, 16), -EINVAL);
	ck_assert_int_eq(wpt_vm_add_doorbell(x.f->vm, FX_RAM_GPA, 16), -EINVAL);
	ck_assert_int_eq(wpt_vm_add_doorbell(x.f->vm, BELL - 8, 0), -EINVAL);
	ck_assert_int_eq(wpt_vm_add_doorbell(x.f->vm, ~0ull - 8, 64), -EINVAL);
	leaf_store(&x, 2, 0, s1_page(DATA));
	leaf_store(&x, 2, 1, s1_page(DATA + 0x1000));
	leaf_store(&x, 2, 2, s1_page(DATA + 0x2000));
	ck_assert_int_eq(sink_pages(&x), 2);
	/* Another device's register: no sync. */
	ck_assert_int_eq(wpt_vm_handle_mmio(x.f->vm, BELL + 0x1000, &v, 8, 1), 0);
	ck_assert_int_eq(sink_pages(&x), 2);
	/* The doorbell: the device hears of the map only after the sink. */
	ck_assert_int_eq(wpt_vm_handle_mmio(x.f->vm, BELL + 0x10, &v, 8, 1), 0);
	ck_assert_int_eq(sink_pages(&x), 3);
	ck_assert_int_eq(wpt_domain_verify(x.d), 0);
	ck_assert_int_eq(wpt_vm_remove_doorbell(x.f->vm, BELL, 0x1000), 0);
	ck_assert_int_eq(wpt_vm_remove_doorbell(x.f->vm, BELL, 0x1000), -ENOENT);
	rx_free(&x);
}
END_TEST

/* An unmap on an unsynced page reaches the sink by the time the guest's
 * invalidation of it returns. */
START_TEST(test_invalidation_syncs_unmap)
{
	struct rx x;
	unsigned int i;

	rx_new(&x, WPT_MODE_RELAXED);
	for (i = 0; i < 8; i++)
		leaf_store(&x, 3, i, s1_page(DATA + i * 0x1000));
	ck_assert_int_eq(wpt_vm_sync(x.f->vm), 0);
	ck_assert_int_eq(sink_pages(&x), 8);
	leaf_store(&x, 3, 5, 0);
	ck_assert(!fx_prot(x.f, L3(3)));
	ck_assert_int_eq(sink_pages(&x), 8); /* stale until the TLBI */
	ck_assert_int_eq(wpt_domain_invalidate(x.d, 3 * 0x200000 + 5 * 0x1000,
					       0x1000), 0);
	ck_assert_int_eq(sink_pages(&x), 7);
	ck_assert_int_eq(wpt_domain_verify(x.d), 0);
	rx_free(&x);
}
END_TEST

START_TEST(test_exit_bound)
{
	struct rx x;
	struct wpt_relax_cfg c = { .size = sizeof(c), .max_exits = 3 };
	uint64_t v = 0;

	rx_new(&x, WPT_MODE_RELAXED);
	ck_assert_int_eq(wpt_vm_set_relax(x.f->vm, &c), 0);
	c.size = 4;
	ck_assert_int_eq(wpt_vm_set_relax(x.f->vm, &c), -EINVAL);
	leaf_store(&x, 0, 0, s1_page(DATA));
	leaf_store(&x, 0, 1, s1_page(DATA + 0x1000));
	leaf_store(&x, 0, 2, s1_page(DATA + 0x2000));
	ck_assert_int_eq(sink_pages(&x), 2);
	ck_assert_int_eq(wpt_vm_handle_mmio(x.f->vm, BELL, &v, 8, 1), 0);
	ck_assert_int_eq(wpt_vm_handle_mmio(x.f->vm, BELL, &v, 8, 1), 0);
	ck_assert_int_eq(sink_pages(&x), 2);
	ck_assert_int_eq(wpt_vm_handle_mmio(x.f->vm, BELL, &v, 8, 1), 0);
	ck_assert_int_eq(sink_pages(&x), 3);
	rx_free(&x);
}
END_TEST

/* The time bound: checked at the next exit once it has passed. */
START_TEST(test_time_bound)
{
	struct rx x;
	struct wpt_relax_cfg c = { .size = sizeof(c), .max_us = 2000 };
	struct wpt_vm_stats st;
	uint64_t v = 0;

	rx_new(&x, WPT_MODE_RELAXED);
	ck_assert_int_eq(wpt_vm_set_relax(x.f->vm, &c), 0);
	leaf_store(&x, 1, 0, s1_page(DATA));
	leaf_store(&x, 1, 1, s1_page(DATA + 0x1000));
	leaf_store(&x, 1, 2, s1_page(DATA + 0x2000));
	ck_assert_int_eq(sink_pages(&x), 2);
	usleep(5000);
	ck_assert_int_eq(wpt_vm_handle_mmio(x.f->vm, BELL, &v, 8, 1), 0);
	ck_assert_int_eq(sink_pages(&x), 3);
	ck_assert_int_eq(wpt_vm_stats(x.f->vm, &st, sizeof(st)), 0);
	ck_assert_uint_eq(st.bound_syncs, 1);
	rx_free(&x);
}
END_TEST

/* max_pages caps the writable pages; the rest keep trapping. */
START_TEST(test_max_pages)
{
	struct rx x;
	struct wpt_relax_cfg c = { .size = sizeof(c), .max_pages = 1 };
	struct wpt_vm_stats st;
	unsigned int k, i;

	rx_new(&x, WPT_MODE_RELAXED);
	ck_assert_int_eq(wpt_vm_set_relax(x.f->vm, &c), 0);
	for (k = 0; k < 2; k++)
		for (i = 0; i < 4; i++)
			leaf_store(&x, k, i, s1_page(DATA + i * 0x1000));
	ck_assert(!fx_prot(x.f, L3(0)));
	ck_assert(fx_prot(x.f, L3(1)));
	ck_assert_int_eq(wpt_vm_stats(x.f->vm, &st, sizeof(st)), 0);
	ck_assert_uint_eq(st.unsynced_pages, 1);
	ck_assert_int_eq(wpt_vm_sync(x.f->vm), 0);
	ck_assert_int_eq(sink_pages(&x), 8);
	rx_free(&x);
}
END_TEST

/* ---------------------------------------------------------- property */

struct model {
	uint64_t leaf[NTABLES][512];  /* GPA mapped, 0: none */
	bool linked[NTABLES];
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The sink holds exactly what the model maps, page by page. */
static void check_sink(struct rx *x, const struct model *m, uint64_t seed,
		       unsigned int step)
{
	static struct wpt_mapping maps[NTABLES * 512];
	long n = wpt_sink_record_get(x->s, maps, NTABLES * 512), i;
	uint64_t want = 0, got = 0, p;
	unsigned int k, j;

	ck_assert_int_le(n, NTABLES * 512);
	for (k = 0; k < NTABLES; k++)
		for (j = 0; j < 512; j++)
			want += m->linked[k] && m->leaf[k][j];
	for (i = 0; i < n; i++) {
		for (p = 0; p < maps[i].size; p += 0x1000) {
			uint64_t iova = maps[i].iova + p;

			k = iova >> 21;
			j = (iova >> 12) & 511;
			ck_assert_msg(k < NTABLES && m->linked[k] &&
				      m->leaf[k][j] == maps[i].gpa + p,
				      "seed %llu step %u: iova %llx maps %llx",
				      (unsigned long long)seed, step,
				      (unsigned long long)iova,
				      (unsigned long long)(maps[i].gpa + p));
			got++;
		}
	}
	ck_assert_msg(got == want, "seed %llu step %u: sink has %llu pages, "
		      "tables map %llu", (unsigned long long)seed, step,
		      (unsigned long long)got, (unsigned long long)want);
	ck_assert_int_eq(wpt_domain_verify(x->d), 0);
}

/* Unlink leaf table k, or link it back cleared (zeroed through stores,
 * which trap exactly while it is still protected). */
static void swap_table(struct rx *x, struct model *m, unsigned int k)
{
	unsigned int j;

	if (m->linked[k]) {
		fx_store64(x->f, L2 + 8 * k, 0);
		m->linked[k] = false;
		return;
	}
	for (j = 0; j < 512; j++) {
		if (*fx_desc(x->f, L3(k) + 8 * j))
			leaf_store(x, k, j, 0);
		m->leaf[k][j] = 0;
	}
	fx_store64(x->f, L2 + 8 * k, s1_table(L3(k)));
	m->linked[k] = true;
}

/* One sync point of a random kind. */
static void sync_point(struct rx *x, uint64_t r)
{
	uint64_t v = 0;

	switch (r % 4) {
	case 0:
		ck_assert_int_eq(wpt_vm_sync(x->f->vm), 0);
		break;
	case 1:
		ck_assert_int_eq(wpt_vm_handle_mmio(x->f->vm, BELL, &v, 8, 1), 0);
		break;
	case 2:
		ck_assert_int_eq(wpt_domain_invalidate(x->d, (r >> 8) << 12,
						       0x1000), 0);
		break;
	default:
		ck_assert_int_eq(wpt_domain_invalidate_all(x->d), 0);
	}
}

static void property_run(uint64_t seed, unsigned int steps)
{
	static struct model m;
	struct wpt_vm_stats st;
	struct rx x;
	uint64_t s = seed;
	unsigned int step, k;

	memset(&m, 0, sizeof(m));
	rx_new(&x, WPT_MODE_RELAXED);
	for (k = 0; k < NTABLES; k++)
		m.linked[k] = true;
	ck_assert_int_eq(wpt_vm_add_doorbell(x.f->vm, BELL, 0x1000), 0);
	for (step = 0; step < steps; step++) {
		uint64_t r = rnd(&s);
		unsigned int j = (r >> 8) & 511;

		k = (r >> 20) % NTABLES;
		if (r % 100 < 2) {
			swap_table(&x, &m, k);
		} else if (r % 100 < 12) {
			sync_point(&x, r >> 24);
			check_sink(&x, &m, seed, step);
		} else if (r % 100 < 70) {
			uint64_t gpa = DATA + (rnd(&s) % 1024) * 0x1000;

			/* Bursts: the next few stores follow this one. */
			leaf_store(&x, k, j, s1_page(gpa));
			m.leaf[k][j] = gpa;
		} else {
			leaf_store(&x, k, j, 0);
			m.leaf[k][j] = 0;
		}
	}
	ck_assert_int_eq(wpt_vm_sync(x.f->vm), 0);
	check_sink(&x, &m, seed, step);
	ck_assert_int_eq(wpt_domain_error(x.d), 0);
	/* The run did exercise the mode: pages were let go and caught up. */
	ck_assert_int_eq(wpt_vm_stats(x.f->vm, &st, sizeof(st)), 0);
	ck_assert_uint_gt(st.relaxed_pages, 10);
	ck_assert_uint_gt(st.doorbell_syncs, 0);
	ck_assert_uint_lt(st.exits_handled, steps / 2);
	rx_free(&x);
}

START_TEST(test_property_sink_equals_tables_at_sync_points)
{
	uint64_t seed;

	for (seed = 1; seed <= 24; seed++)
		property_run(seed * 0x9e3779b97f4a7c15ull, 3000);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("relax");
	TCase *tc = tcase_create("relax");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_burst_relaxes_and_sync_catches_up);
	tcase_add_test(tc, test_stream_stays_relaxed);
	tcase_add_test(tc, test_new_table_never_protected_while_filled);
	tcase_add_test(tc, test_table_under_unsynced_parent_held);
	tcase_add_test(tc, test_quiet_syncs);
	tcase_add_test(tc, test_trap_mode_never_relaxes);
	tcase_add_test(tc, test_root_not_relaxed);
	tcase_add_test(tc, test_doorbell_syncs);
	tcase_add_test(tc, test_invalidation_syncs_unmap);
	tcase_add_test(tc, test_exit_bound);
	tcase_add_test(tc, test_time_bound);
	tcase_add_test(tc, test_max_pages);
	tcase_add_test(tc, test_property_sink_equals_tables_at_sync_points);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
