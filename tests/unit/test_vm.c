/* SPDX-License-Identifier: MIT */
/*
 * The VM API and the exit path: what is and is not ours, stores split at
 * page boundaries, accesses that fall into a memslot gap, the VMM's own
 * writes, bad arguments, counters.
 */
#include <pthread.h>
#include <sys/mman.h>

#include "core.h"
#include "fixture.h"
#include "pageindex.h"

#define B FX_RAM_GPA
#define ROOT (B + 0x10000)
#define L1 (B + 0x11000)
#define L2 (B + 0x12000)
#define L3 (B + 0x13000)
#define D (B + 0x800000)
#define E(t, i) ((t) + 8 * (i))

static struct wpt_domain *setup(struct fx *f, struct wpt_sink **s)
{
	struct wpt_domain *d = fx_domain(f, s, WPT_MODE_TRAP, 4096, 48);

	*fx_desc(f, E(ROOT, 0)) = s1_table(L1);
	*fx_desc(f, E(L1, 0)) = s1_table(L2);
	*fx_desc(f, E(L2, 0)) = s1_table(L3);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	return d;
}

START_TEST(test_new_bad_config)
{
	uint8_t ram[8192] __attribute__((aligned(4096)));
	struct wpt_ram_region r[2] = { { 0x1000, 0x2000, ram },
				       { 0x2000, 0x1000, ram } };
	struct wpt_vm_cfg cfg = { .size = sizeof(cfg), .regions = r,
				  .nr_regions = 1 };
	struct wpt_vm *vm;

	ck_assert_int_eq(wpt_vm_new(NULL, &vm), -EINVAL);
	cfg.size = 4;
	ck_assert_int_eq(wpt_vm_new(&cfg, &vm), -EINVAL);
	cfg.size = sizeof(cfg);
	cfg.nr_regions = 2; /* overlapping */
	ck_assert_int_eq(wpt_vm_new(&cfg, &vm), -EINVAL);
	r[1].gpa = 0x3800; /* misaligned */
	ck_assert_int_eq(wpt_vm_new(&cfg, &vm), -EINVAL);
	cfg.nr_regions = 0;
	ck_assert_int_eq(wpt_vm_new(&cfg, &vm), -EINVAL);
	cfg.nr_regions = 1;
	ck_assert_int_eq(wpt_vm_new(&cfg, &vm), 0);
	wpt_vm_free(vm);
}
END_TEST

START_TEST(test_not_ours_and_bad_len)
{
	struct fx *f = fx_new();
	uint64_t v = 0x1234;

	ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, 0xfee00000, &v, 4, 1), 0);
	ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, B - 8, &v, 8, 0), 0);
	ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, B, &v, 9, 1), -EINVAL);
	ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, B, &v, 17, 1), -EINVAL);
	ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, B, &v, 0, 1), -EINVAL);
	ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, B, NULL, 8, 1), -EINVAL);
	/* Runs off the end of RAM. */
	ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, B + FX_RAM_SIZE - 4, &v, 8, 1),
			 -EFAULT);
	fx_free(f);
}
END_TEST

START_TEST(test_gap_accesses)
{
	struct fx *f = fx_new();
	struct wpt_vm_stats st;
	uint64_t v = 0x1122334455667788ull, r = 0;
	uint16_t h = 0xbeef;

	/* RAM that is no table: a vCPU that fell into a slot re-cut. */
	ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, D + 8, &v, 8, 1), 1);
	ck_assert_uint_eq(*fx_desc(f, D + 8), v);
	ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, D + 8, &r, 8, 0), 1);
	ck_assert_uint_eq(r, v);
	ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, D + 9, &h, 2, 1), 1);
	ck_assert_uint_eq(*fx_desc(f, D + 8), 0x1122334455beef88ull);
	wpt_vm_stats(f->vm, &st, sizeof(st));
	ck_assert_uint_eq(st.gap_accesses, 3);
	ck_assert_uint_eq(st.exits_handled, 0);
	fx_free(f);
}
END_TEST

START_TEST(test_store_across_pages)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = setup(f, &s);
	uint64_t v[2] = { s1_page(D), s1_page(D + 0x1000) };
	char buf[256];

	/* L3's last entry and the first of the page after it: KVM hands
	 * over one 16-byte store, the library splits it. */
	*fx_desc(f, E(L2, 1)) = 0;
	fx_store64(f, E(L2, 1), s1_table(L3 + 0x1000));
	ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, E(L3, 511), v, 16, 1), 1);
	ck_assert_uint_eq(*fx_desc(f, E(L3, 511)), v[0]);
	ck_assert_uint_eq(*fx_desc(f, E(L3 + 0x1000, 0)), v[1]);
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)),
			 "1ff000:40800000:1000:rw;200000:40801000:1000:rw;");
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

START_TEST(test_byte_stores)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = setup(f, &s);
	uint64_t v = s1_page(D + 0x3000);
	char buf[256];
	int i;

	/* A descriptor written a byte at a time: each step is decoded as
	 * it stands; the last one maps. */
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, E(L3, 4) + i,
						    (uint8_t *)&v + i, 1, 1), 1);
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)), "4000:40803000:1000:rw;");
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

/*
 * KVM x86 splits a page-crossing store into fragments and reports
 * run->mmio.len = min(8, fragment): an 8-byte store at offset 0xffd of a
 * table page arrives as 3 bytes, then 5 at the next page.  Each fragment
 * is applied byte for byte and the descriptors diffed as they stand.
 */
START_TEST(test_fragment_lengths)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = setup(f, &s);
	uint64_t next = s1_page(D + 0x1000), v;
	uint8_t bytes[8];
	char buf[256];
	uint32_t len;

	*fx_desc(f, E(L2, 1)) = 0;
	fx_store64(f, E(L2, 1), s1_table(L3 + 0x1000));
	/* Entry 511 from two stores: its low 5 bytes, then the top 3 as the
	 * head of the store that also writes the next page's entry 0. */
	v = s1_page(D);
	ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, E(L3, 511), &v, 5, 1), 1);
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)),
			 "1ff000:40800000:1000:rw;");
	memset(bytes, 0, 3);
	memcpy(bytes + 3, &next, 5);
	ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, E(L3, 511) + 5, bytes, 3,
					    1), 1);
	ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, L3 + 0x1000, bytes + 3, 5,
					    1), 1);
	ck_assert_uint_eq(*fx_desc(f, E(L3, 511)), s1_page(D));
	ck_assert_uint_eq(*fx_desc(f, E(L3 + 0x1000, 0)), next);
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)),
			 "1ff000:40800000:1000:rw;200000:40801000:1000:rw;");
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	/* Every length from 1 to 8 at every offset in a descriptor: only
	 * those bytes change (here: a non-table page, the gap path). */
	for (len = 1; len <= 8; len++) {
		uint32_t off;

		for (off = 0; off + len <= 16; off++) {
			uint8_t want[16], in[8], out[8] = { 0 };
			uint32_t i;

			for (i = 0; i < 16; i++)
				want[i] = (uint8_t)(0xa0 + i);
			memcpy(fx_desc(f, D), want, 16);
			for (i = 0; i < len; i++)
				in[i] = want[off + i] = (uint8_t)(len * 16 + i);
			ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, D + off, in,
							    len, 1), 1);
			ck_assert_mem_eq(fx_desc(f, D), want, 16);
			ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, D + off,
							    out, len, 0), 1);
			ck_assert_mem_eq(out, in, len);
		}
	}
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

START_TEST(test_host_wrote)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = setup(f, &s);
	char buf[256];

	/* An emulated device DMAs two descriptors into a table. */
	*fx_desc(f, E(L3, 0)) = s1_page(D);
	*fx_desc(f, E(L3, 1)) = s1_page(D + 0x1000);
	ck_assert_int_eq(wpt_vm_host_wrote(f->vm, E(L3, 0), 16), 0);
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)), "0:40800000:2000:rw;");
	ck_assert_int_eq(wpt_vm_host_wrote(f->vm, D, 0x10000), 0);
	ck_assert_int_eq(wpt_vm_host_wrote(f->vm, 0xfee00000, 8), -EINVAL);
	ck_assert_int_eq(wpt_vm_host_wrote(f->vm, B + FX_RAM_SIZE - 8, 16), -EINVAL);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

/* A sink failure leaves the mapping owed; an invalidation retries it,
 * in TRAP mode too. */
START_TEST(test_sink_failure_retried)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = setup(f, &s);
	uint64_t v = s1_page(D);
	char buf[256];

	ck_assert_int_eq(wpt_sink_record_fail_at(s, 1, -ENOMEM), 0);
	ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, E(L3, 0), &v, 8, 1),
			 -ENOMEM);
	/* RAM holds the store, the sink nothing, the domain is not
	 * faulted, and verify sees the owed page. */
	ck_assert_uint_eq(*fx_desc(f, E(L3, 0)), s1_page(D));
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)), "");
	ck_assert_int_eq(wpt_domain_error(d), 0);
	ck_assert_int_gt(wpt_domain_verify(d), 0);
	ck_assert_int_eq(wpt_domain_invalidate_all(d), 0);
	ck_assert_str_eq(fx_sink_str(s, buf, sizeof(buf)), "0:40800000:1000:rw;");
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	/* Nothing owed: no sink call. */
	ck_assert_int_eq(wpt_sink_record_fail_at(s, 1, -EIO), 0);
	ck_assert_int_eq(wpt_domain_invalidate_all(d), 0);
	ck_assert_int_eq(wpt_sink_record_fail_at(s, 0, 0), 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

START_TEST(test_counters)
{
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d = setup(f, &s);
	struct wpt_vm_stats st;
	struct wpt_domain_stats ds;

	fx_store64(f, E(L3, 0), s1_page(D));
	fx_store64(f, E(L3, 0), s1_page(D)); /* same value: nothing changes */
	fx_store64(f, E(L3, 0), 0);
	wpt_vm_stats(f->vm, &st, sizeof(st));
	ck_assert_uint_eq(st.exits_handled, 3);
	ck_assert_uint_eq(st.descs_changed, 2);
	ck_assert_uint_eq(st.sink_calls, 2);
	ck_assert_uint_eq(st.tracked_tables, 4);
	ck_assert_uint_eq(st.protected_pages, 4);
	ck_assert_uint_eq(st.protects, 4);
	wpt_domain_stats(d, &ds, sizeof(ds));
	ck_assert_uint_eq(ds.sink_maps, 1);
	ck_assert_uint_eq(ds.sink_unmaps, 1);
	ck_assert_uint_eq(ds.table_uses, 4);
	ck_assert_uint_eq(ds.leaves, 0);
	ck_assert_uint_eq(ds.descs_changed, 2);
	ck_assert_int_eq(wpt_vm_stats(f->vm, NULL, 0), -EINVAL);
	wpt_domain_free(d);
	wpt_vm_stats(f->vm, &st, sizeof(st));
	ck_assert_uint_eq(st.tracked_tables, 0);
	ck_assert_uint_eq(st.protected_pages, 0);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

/* The stores lib_ns times (lib_ns_sampled, core.h): one in 16 over all,
 * and within 25% of that in every residue of a workload that repeats
 * every 2 to 32 stores (every 16th store timed only one store of a map
 * and unmap pair, never the other). */
START_TEST(test_lib_ns_sampling)
{
	const uint64_t n = 1u << 16;
	uint64_t i, p, r, hit, all;

	for (i = 0, hit = 0; i < n; i++)
		hit += lib_ns_sampled(i);
	ck_assert_uint_ge(hit, (n >> LIB_NS_SAMPLE_BITS) * 99 / 100);
	ck_assert_uint_le(hit, (n >> LIB_NS_SAMPLE_BITS) * 101 / 100);
	for (p = 2; p <= 32; p++) {
		for (r = 0; r < p; r++) {
			for (i = r, hit = 0, all = 0; i < n; i += p, all++)
				hit += lib_ns_sampled(i);
			ck_assert_uint_ge(hit << LIB_NS_SAMPLE_BITS, all * 3 / 4);
			ck_assert_uint_le(hit << LIB_NS_SAMPLE_BITS, all * 5 / 4);
		}
	}
}
END_TEST

/*
 * The page index's cache keeps a guest's hot table pages a power of two
 * apart: 64 pages at a stride of 2^s pages (every s up to 2^20 pages, 4
 * GiB apart), each found once, are then every one in the cache, so the
 * next store to any of them skips the hash table; detached, none is left
 * in either way.  Direct-mapped over 256 entries, the stride of 512
 * pages (the microbench's spread window at 16M pages) kept only 46 of
 * the 64.
 */
START_TEST(test_page_cache_hot_strides)
{
	struct fx *f = fx_new();
	struct wpt_vm *vm = f->vm;
	static struct wpt_table t; /* only its address is kept */
	unsigned int s, k;

	pthread_mutex_lock(&vm->lock);
	for (s = 0; s <= 20; s++) {
		uint64_t first = 0x40000 + 2 + 64, step = 1ull << s;

		for (k = 0; k < 64; k++)
			ck_assert_int_eq(pageindex_attach(vm, (first + k * step)
							  << WPT_PAGE_SHIFT, &t), 0);
		for (k = 0; k < 64; k++)
			ck_assert_ptr_nonnull(pageindex_find(
				vm, (first + k * step) << WPT_PAGE_SHIFT));
		for (k = 0; k < 64; k++) {
			uint64_t frame = first + k * step;
			unsigned int i = fib_cache_set(frame);
			struct wpt_page *p0 = vm->page_cache.way[0][i],
					*p1 = vm->page_cache.way[1][i];
			uint64_t gpa = frame << WPT_PAGE_SHIFT;

			ck_assert_msg((p0 && p0->gpa == gpa) ||
					      (p1 && p1->gpa == gpa),
				      "stride 2^%u: page %u forgotten", s, k);
		}
		for (k = 0; k < 64; k++)
			pageindex_detach(vm, (first + k * step) << WPT_PAGE_SHIFT,
					 &t);
		/* Every page gone, from whichever way held it: nothing
		 * stale is left for a later find to read. */
		for (k = 0; k < 64; k++) {
			unsigned int i = fib_cache_set(first + k * step);

			ck_assert_ptr_null(vm->page_cache.way[0][i]);
			ck_assert_ptr_null(vm->page_cache.way[1][i]);
		}
	}
	pthread_mutex_unlock(&vm->lock);
	fx_free(f);
}
END_TEST

/* The page index is sized for the guest's RAM: a bucket per 2 MiB (the
 * last-level tables of all of it mapped page by page), a power of two
 * between the bounds.  And a VM over that much RAM opens and closes with
 * its index so sized (the RAM is never touched: nothing maps it here). */
START_TEST(test_pageindex_sized_for_ram)
{
	static const struct {
		uint64_t size[2];
		unsigned long buckets;
	} c[] = {
		{ { 0x1000, 0 }, PAGEINDEX_MIN_BUCKETS },
		{ { 128ull << 20, 0 }, PAGEINDEX_MIN_BUCKETS },
		{ { 128ull << 20, 2ull << 20 }, 128 },
		{ { 4ull << 30, 0 }, 2048 },
		{ { 32ull << 30, 32ull << 30 }, 32768 },
		{ { 64ull << 30, 0x1000 }, 65536 },
		{ { 256ull << 30, 0 }, PAGEINDEX_MAX_BUCKETS },
	};
	unsigned int i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct wpt_ram_region r[2] = {
			{ .gpa = 0, .size = c[i].size[0] },
			{ .gpa = 1ull << 44, .size = c[i].size[1] } };
		struct wpt_vm_cfg cfg = { .size = sizeof(cfg), .regions = r,
					  .nr_regions = c[i].size[1] ? 2 : 1 };
		struct wpt_guestmem gm = { .regions = r,
					   .nr = cfg.nr_regions };
		struct wpt_vm *vm;
		void *hva[2] = { NULL, NULL };
		unsigned int k;

		ck_assert_uint_eq(pageindex_buckets(&gm), c[i].buckets);
		for (k = 0; k < cfg.nr_regions; k++) {
			hva[k] = mmap(NULL, r[k].size, PROT_NONE,
				      MAP_PRIVATE | MAP_ANONYMOUS |
					      MAP_NORESERVE, -1, 0);
			ck_assert(hva[k] != MAP_FAILED);
			r[k].hva = hva[k];
		}
		ck_assert_int_eq(wpt_vm_new(&cfg, &vm), 0);
		wpt_vm_free(vm);
		for (k = 0; k < cfg.nr_regions; k++)
			munmap(hva[k], r[k].size);
	}
}
END_TEST

START_TEST(test_domain_bad_args)
{
	struct fx *f = fx_new();
	struct wpt_format_cfg c = { .size = sizeof(c),
		.format = WPT_FMT_ARM_LPAE_S1, .granule = 4096, .ias = 48,
		.oas = 48, .sl = -1 };
	struct wpt_ram_region r = { FX_RAM_GPA, FX_RAM_SIZE, f->ram };
	struct wpt_vm_cfg vc = { .size = sizeof(vc), .regions = &r,
				 .nr_regions = 1 };
	struct wpt_domain *d;
	struct wpt_sink *s;
	struct wpt_vm *bare;

	ck_assert_int_eq(wpt_sink_record_new(&s), 0);
	ck_assert_int_eq(wpt_domain_new(f->vm, &c, NULL, WPT_MODE_TRAP, &d), -EINVAL);
	ck_assert_int_eq(wpt_domain_new(f->vm, &c, s, 7, &d), -EINVAL);
	c.granule = 8192;
	ck_assert_int_eq(wpt_domain_new(f->vm, &c, s, WPT_MODE_TRAP, &d), -EINVAL);
	c.granule = 4096;
	c.format = 9;
	ck_assert_int_eq(wpt_domain_new(f->vm, &c, s, WPT_MODE_TRAP, &d), -EINVAL);
	c.format = WPT_FMT_ARM_LPAE_S1;
	/* Without a protection backend only INVAL can work. */
	ck_assert_int_eq(wpt_vm_new(&vc, &bare), 0);
	ck_assert_int_eq(wpt_domain_new(bare, &c, s, WPT_MODE_TRAP, &d), -EINVAL);
	ck_assert_int_eq(wpt_domain_new(bare, &c, s, WPT_MODE_INVAL, &d), 0);
	ck_assert_int_eq(wpt_domain_invalidate(d, 0, 0), -EINVAL);
	ck_assert_int_eq(wpt_domain_error(NULL), -EINVAL);
	wpt_domain_free(d);
	wpt_vm_free(bare);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

/* The tables' memory: a snapshot for each of the four tables and one
 * array for the last level's 512 leaves (the books share it), from the
 * VM's pool; kept when the domain goes, used again by the next, given
 * back by wpt_vm_trim. */
START_TEST(test_trim)
{
	const uint64_t want = (1 + 4 + 1) * PAGEPOOL_STRIDE; /* header too */
	struct fx *f = fx_new();
	struct wpt_sink *s;
	struct wpt_domain *d;
	struct wpt_vm_stats st;
	unsigned int i;

	for (i = 0; i < 512; i++)
		*fx_desc(f, E(L3, i)) = s1_page(D + 2 * i * 4096ull);
	d = setup(f, &s);
	wpt_vm_stats(f->vm, &st, sizeof(st));
	ck_assert_uint_eq(st.pool_bytes, want);
	ck_assert_uint_eq(st.pool_idle_bytes, 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	wpt_vm_stats(f->vm, &st, sizeof(st));
	ck_assert_uint_eq(st.pool_bytes, want);
	ck_assert_uint_eq(st.pool_idle_bytes, want);
	/* The next walk takes the same memory, no more. */
	d = setup(f, &s);
	wpt_vm_stats(f->vm, &st, sizeof(st));
	ck_assert_uint_eq(st.pool_bytes, want);
	ck_assert_uint_eq(st.pool_idle_bytes, 0);
	/* In use: trimming leaves it. */
	ck_assert_int_eq(wpt_vm_trim(f->vm), 0);
	wpt_vm_stats(f->vm, &st, sizeof(st));
	ck_assert_uint_eq(st.pool_bytes, want);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	ck_assert_int_eq(wpt_vm_trim(f->vm), 0);
	wpt_vm_stats(f->vm, &st, sizeof(st));
	ck_assert_uint_eq(st.pool_bytes, 0);
	ck_assert_uint_eq(st.pool_idle_bytes, 0);
	ck_assert_int_eq(wpt_vm_trim(NULL), -EINVAL);
	/* And a walk after the trim maps memory again. */
	d = setup(f, &s);
	wpt_vm_stats(f->vm, &st, sizeof(st));
	ck_assert_uint_eq(st.pool_bytes, want);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fx_free(f);
}
END_TEST

/* Domains made, walked and freed on two threads at once over one tree:
 * their tables' snapshots and their shadows' arrays come from the VM's
 * one block pool and go back to it, whichever thread frees.  Every other
 * domain's sink refuses every unmap, so the shadow still holds its arrays
 * when the domain is freed (a shadow freed outside the VM lock then raced
 * the other thread's walk: ThreadSanitizer in make check-threads, a
 * corrupt pool otherwise). */
struct churn_arg {
	struct fx *f;
	unsigned int errors;
};

static int churn_map(void *o, uint64_t iova, uint64_t gpa, void *hva,
		     uint64_t size, uint32_t perm)
{
	return 0;
}

static int churn_unmap(void *o, uint64_t iova, uint64_t size)
{
	return *(bool *)o ? -EIO : 0;
}

static void *domain_churn(void *o)
{
	struct churn_arg *a = o;
	struct wpt_format_cfg c = {
		.size = sizeof(c), .format = WPT_FMT_ARM_LPAE_S1,
		.granule = 4096, .ias = 48, .oas = 48, .sl = -1,
	};
	static const struct wpt_sink_ops ops = { churn_map, churn_unmap };
	struct wpt_domain *d;
	struct wpt_sink *s;
	unsigned int i;
	bool refuse;

	for (i = 0; i < 200; i++) {
		refuse = false;
		if (wpt_sink_callback_new(&ops, &refuse, &s)) {
			a->errors++;
			continue;
		}
		if (wpt_domain_new(a->f->vm, &c, s, WPT_MODE_INVAL, &d)) {
			a->errors++;
		} else {
			a->errors += wpt_domain_set_root(d, ROOT) != 0;
			a->errors += wpt_domain_verify(d) != 0;
			refuse = i & 1;
			wpt_domain_free(d);
		}
		wpt_sink_free(s);
	}
	return NULL;
}

START_TEST(test_domain_free_races_walk)
{
	struct fx *f = fx_new();
	struct churn_arg a[2] = { { .f = f }, { .f = f } };
	struct wpt_vm_stats st;
	pthread_t t[2];
	unsigned int i;

	*fx_desc(f, E(ROOT, 0)) = s1_table(L1);
	*fx_desc(f, E(L1, 0)) = s1_table(L2);
	*fx_desc(f, E(L2, 0)) = s1_table(L3);
	for (i = 0; i < 512; i++)
		*fx_desc(f, E(L3, i)) = s1_page(D + 2 * i * 4096ull);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, domain_churn,
						&a[i]), 0);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	ck_assert_uint_eq(a[0].errors + a[1].errors, 0);
	/* Every block back: all of the pool is idle, and trims to nothing. */
	wpt_vm_stats(f->vm, &st, sizeof(st));
	ck_assert_uint_gt(st.pool_bytes, 0);
	ck_assert_uint_eq(st.pool_idle_bytes, st.pool_bytes);
	ck_assert_int_eq(wpt_vm_trim(f->vm), 0);
	wpt_vm_stats(f->vm, &st, sizeof(st));
	ck_assert_uint_eq(st.pool_bytes, 0);
	fx_free(f);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("vm");
	TCase *tc = tcase_create("vm");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_new_bad_config);
	tcase_add_test(tc, test_not_ours_and_bad_len);
	tcase_add_test(tc, test_gap_accesses);
	tcase_add_test(tc, test_store_across_pages);
	tcase_add_test(tc, test_byte_stores);
	tcase_add_test(tc, test_fragment_lengths);
	tcase_add_test(tc, test_host_wrote);
	tcase_add_test(tc, test_sink_failure_retried);
	tcase_add_test(tc, test_counters);
	tcase_add_test(tc, test_lib_ns_sampling);
	tcase_add_test(tc, test_page_cache_hot_strides);
	tcase_add_test(tc, test_pageindex_sized_for_ram);
	tcase_add_test(tc, test_domain_bad_args);
	tcase_add_test(tc, test_trim);
	tcase_add_test(tc, test_domain_free_races_walk);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
