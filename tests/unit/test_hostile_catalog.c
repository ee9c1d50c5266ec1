/* SPDX-License-Identifier: MIT */
/*
 * The hostile-guest catalog: each case builds one kind of broken
 * or malicious table, runs the operation that meets it, and MEASURES what
 * it cost: descriptors visited (the domain's counter), CPU time
 * (CLOCK_PROCESS_CPUTIME_ID, so a loaded machine does not count) and the
 * peak heap growth during the operation (a counting malloc: glibc's own
 * allocator behind our malloc/free, or ASan's allocator hooks under
 * SAN=1).  Each cost is ASSERTED against a bound derived from the
 * domain's limits; see "Bounds" below.  After each case:
 *  - the domain says what happened (wpt_domain_error(), out_of_ram,
 *    addr_size_faults);
 *  - every sink mapping lies inside one registered RAM region;
 *  - every page the tracker calls protected is protected by the backend;
 *  - a healthy domain of the same VM keeps working and verifies.
 * Then "faults around the engine": random sink failures over guest-like
 * sequences, random protection-backend failures, and the VMM's own writes
 * over tracked pages.
 *
 * Every case prints one line "catalog: <case>: ..." with the measured
 * costs and their bounds.
 */
#include <pthread.h>

#include "fixture.h"
#include "sim/guest_model.h"

#include "unit/meter.h"

/* ----------------------------------------------------------- bounds */

/*
 * Bounds.  Every walk of one operation is charged to the domain and stops
 * at max_walk_descs (the charge that would cross it is refused), so:
 *  - descriptors visited by one operation <= max_walk_descs;
 *  - CPU: everything an operation does is proportional to what it
 *    visited (each visit makes at most one use or one leaf, a fault tears
 *    down at most what was made, a commit sends at most what was made;
 *    a store's uses visited, leaves changed and uses torn down count as
 *    visits too, so a store amplified through a shared table is held to
 *    the same bound: test_amplification), so the work is counted in
 *    those units (descs_visited) and asserted against max_walk_descs.
 *    The CPU time is printed beside it (about 0.05-0.3 us a unit here
 *    without sanitizers, under 1.5 us with ASan), never asserted: a
 *    loaded machine would fail a timed bound;
 *  - heap: what an operation can allocate is bounded by the uses and the
 *    leaves it may create (max_table_uses, max_leaves) and the distinct
 *    tables it may snapshot: HEAP_PER_USE covers a use (about 80 bytes)
 *    and its page-index entry, HEAP_PER_LEAF the shadow's leaf, the
 *    shadow's record of the sink mapping and the recording sink's node
 *    (about 250 bytes together), HEAP_PER_TABLE a table's header and page
 *    entry on top of its snapshot; each is about 3x what was measured, and
 *    HEAP_FIXED covers the hash table's growth and the use-key lists.
 */
#define HEAP_FIXED (2ull << 20)
#define HEAP_PER_USE 256ull
#define HEAP_PER_LEAF 768ull
#define HEAP_PER_TABLE 512ull

/* The limits of the hostile domains: small, so each case is quick, and
 * not a multiple of anything the tables hold. */
static const struct wpt_limits cat_limits = {
	.max_table_uses = 3000,
	.max_leaves = 20000,
	.max_walk_descs = 200000,
};

static uint64_t heap_bound(const struct wpt_limits *l, uint64_t tables,
			   uint64_t table_bytes)
{
	return HEAP_FIXED + l->max_table_uses * HEAP_PER_USE +
	       l->max_leaves * HEAP_PER_LEAF +
	       tables * (HEAP_PER_TABLE + table_bytes);
}

/* Assert the costs of ops operations measured by m against the bounds
 * for limits l and at most tables distinct tables of table_bytes. */
static void meter_assert(const struct meter *m, const struct wpt_limits *l,
			 uint64_t ops, uint64_t tables, uint64_t table_bytes,
			 int err)
{
	uint64_t dbound = ops * l->max_walk_descs;
	uint64_t hbound = heap_bound(l, tables, table_bytes);

	fprintf(stderr, "catalog: %-28s error %-4d work %8llu <= %-9llu "
		"(cpu %8.3f ms)  heap %9ld <= %-9llu (%s)\n",
		m->name, err, (unsigned long long)m->descs,
		(unsigned long long)dbound, m->cpu_ns / 1e6,
		m->heap, (unsigned long long)hbound, HEAP_METER);
	ck_assert_uint_le(m->descs, dbound);
	ck_assert_int_le(m->heap, (long)hbound);
}

/* ---------------------------------------------------------- the VM */

/*
 * Three RAM regions, each its own mapping:
 *   A [0x40000000, +16 MiB)   the hostile domains' tables and data
 *   hole [0x41000000, 0x42000000)   not RAM: the VMM's device MMIO
 *   B [0x42000000, +16 MiB)   the bystander's tables and data
 *   C [0x43000000, +4 MiB)    GPA-adjacent to B, HVA not
 */
#define RA 0x40000000ull
#define RA_SIZE (16ull << 20)
#define HOLE 0x41000000ull
#define RB 0x42000000ull
#define RB_SIZE (16ull << 20)
#define RC 0x43000000ull
#define RC_SIZE (4ull << 20)
#define SPAN_END (RC + RC_SIZE)
#define NPAGES ((SPAN_END - RA) >> 12)
#define NREG 3

struct hx {
	uint8_t *ram[NREG];
	struct wpt_ram_region r[NREG];
	uint8_t prot[NPAGES];
	/* Backend failure injection: the nth next protect (unprotect) call
	 * fails with err, changing nothing. */
	uint64_t protect_fail_in, unprotect_fail_in;
	int protect_err, unprotect_err;
	uint64_t protect_fails, unprotect_fails;
	pthread_mutex_t slot_lock; /* KVM's slot update vs a vCPU's store */
	struct wpt_vm *vm;
	/* the bystander */
	struct wpt_domain *by;
	struct wpt_sink *by_sink;
	unsigned int by_next;
};

static const struct wpt_ram_region *hx_region(struct hx *h, uint64_t gpa,
					      uint64_t len)
{
	int i;

	for (i = 0; i < NREG; i++)
		if (gpa >= h->r[i].gpa && len <= h->r[i].size &&
		    gpa - h->r[i].gpa <= h->r[i].size - len)
			return &h->r[i];
	return NULL;
}

static void *hx_hva(struct hx *h, uint64_t gpa, uint64_t len)
{
	const struct wpt_ram_region *r = hx_region(h, gpa, len);

	ck_assert_msg(r, "gpa %llx not RAM", (unsigned long long)gpa);
	return (uint8_t *)r->hva + (gpa - r->gpa);
}

static uint8_t *hx_prot(struct hx *h, uint64_t gpa)
{
	ck_assert(gpa >= RA && gpa < SPAN_END);
	return &h->prot[(gpa - RA) >> 12];
}

static int hx_protect(void *o, uint64_t gpa, uint64_t size)
{
	struct hx *h = o;
	uint64_t p;

	if (h->protect_fail_in && !--h->protect_fail_in) {
		h->protect_fails++;
		return h->protect_err;
	}
	pthread_mutex_lock(&h->slot_lock);
	for (p = gpa; p < gpa + size; p += 4096) {
		ck_assert_msg(hx_region(h, p, 4096), "protect %llx: not RAM",
			      (unsigned long long)p);
		ck_assert_msg(!*hx_prot(h, p), "page %llx protected twice",
			      (unsigned long long)p);
		*hx_prot(h, p) = 1;
	}
	pthread_mutex_unlock(&h->slot_lock);
	return 0;
}

static int hx_unprotect(void *o, uint64_t gpa, uint64_t size)
{
	struct hx *h = o;
	uint64_t p;

	if (h->unprotect_fail_in && !--h->unprotect_fail_in) {
		h->unprotect_fails++;
		return h->unprotect_err;
	}
	pthread_mutex_lock(&h->slot_lock);
	for (p = gpa; p < gpa + size; p += 4096) {
		ck_assert_msg(*hx_prot(h, p), "page %llx unprotected twice",
			      (unsigned long long)p);
		*hx_prot(h, p) = 0;
	}
	pthread_mutex_unlock(&h->slot_lock);
	return 0;
}

static const struct wpt_protect_ops hx_protect_ops = { hx_protect,
						       hx_unprotect };

static struct hx *hx_new(void)
{
	static const uint64_t base[NREG] = { RA, RB, RC };
	static const uint64_t size[NREG] = { RA_SIZE, RB_SIZE, RC_SIZE };
	struct wpt_vm_cfg cfg = { .size = sizeof(cfg) };
	struct hx *h = calloc(1, sizeof(*h));
	int i;

	ck_assert_ptr_nonnull(h);
	for (i = 0; i < NREG; i++) {
		h->ram[i] = mmap(NULL, size[i], PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ck_assert(h->ram[i] != MAP_FAILED);
		h->r[i] = (struct wpt_ram_region){ base[i], size[i], h->ram[i] };
	}
	pthread_mutex_init(&h->slot_lock, NULL);
	cfg.regions = h->r;
	cfg.nr_regions = NREG;
	cfg.protect_ops = &hx_protect_ops;
	cfg.protect_opaque = h;
	ck_assert_int_eq(wpt_vm_new(&cfg, &h->vm), 0);
	return h;
}

static uint64_t *hx_desc(struct hx *h, uint64_t gpa)
{
	return hx_hva(h, gpa, 8);
}

/* A guest store: trapped when its page is protected, as KVM does.  The
 * slot lock stands for KVM's memslot update: a protect that completed
 * before the store makes it exit, one that did not lets it reach RAM
 * first (and the library then snapshots it).  Returns what the library
 * returned (1 when the store did not trap). */
static int hx_store_ret(struct hx *h, uint64_t gpa, const void *data,
			uint32_t len)
{
	uint8_t buf[16];

	pthread_mutex_lock(&h->slot_lock);
	if (!*hx_prot(h, gpa)) {
		memcpy(hx_hva(h, gpa, len), data, len);
		pthread_mutex_unlock(&h->slot_lock);
		return 1;
	}
	pthread_mutex_unlock(&h->slot_lock);
	memcpy(buf, data, len);
	return wpt_vm_handle_mmio(h->vm, gpa, buf, len, 1);
}

static void hx_store64(struct hx *h, uint64_t gpa, uint64_t v)
{
	ck_assert_int_eq(hx_store_ret(h, gpa, &v, 8), 1);
}

static struct wpt_domain *hx_domain(struct hx *h, struct wpt_sink **s,
				    enum wpt_mode mode, uint32_t granule,
				    uint32_t ias, uint32_t oas,
				    const struct wpt_limits *lim)
{
	struct wpt_format_cfg c = {
		.size = sizeof(c), .format = WPT_FMT_ARM_LPAE_S1,
		.granule = granule, .ias = ias, .oas = oas, .sl = -1,
	};
	struct wpt_domain *d;

	ck_assert_int_eq(wpt_sink_record_new(s), 0);
	ck_assert_int_eq(wpt_domain_new(h->vm, &c, *s, mode, &d), 0);
	if (lim)
		ck_assert_int_eq(wpt_domain_set_limits(d, lim), 0);
	return d;
}

/* The bystander: a healthy TRAP domain in region B that maps a page of B
 * and one of C. */
#define E(t, i) ((t) + 8ull * (i))
#define BY_ROOT RB
#define BY_L1 (RB + 0x1000)
#define BY_L2 (RB + 0x2000)
#define BY_L3 (RB + 0x3000)
#define BY_DATA (RB + 0x100000)

static void hx_bystander(struct hx *h)
{
	h->by = hx_domain(h, &h->by_sink, WPT_MODE_TRAP, 4096, 48, 48, NULL);
	*hx_desc(h, BY_ROOT) = s1_table(BY_L1);
	*hx_desc(h, BY_L1) = s1_table(BY_L2);
	*hx_desc(h, BY_L2) = s1_table(BY_L3);
	*hx_desc(h, E(BY_L3, 0)) = s1_page(RC - 0x1000);
	*hx_desc(h, E(BY_L3, 1)) = s1_page(RC);
	ck_assert_int_eq(wpt_domain_set_root(h->by, BY_ROOT), 0);
	h->by_next = 2;
}

/* Every mapping the sink holds lies inside one registered region. */
static void sink_in_ram(struct hx *h, struct wpt_sink *s)
{
	long n = wpt_sink_record_get(s, NULL, 0), i;
	struct wpt_mapping *m;

	ck_assert_int_ge(n, 0);
	m = calloc(n + 1, sizeof(*m));
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(wpt_sink_record_get(s, m, n), n);
	for (i = 0; i < n; i++)
		ck_assert_msg(hx_region(h, m[i].gpa, m[i].size),
			      "sink maps iova %llx -> gpa %llx size %llx: "
			      "not inside one RAM region",
			      (unsigned long long)m[i].iova,
			      (unsigned long long)m[i].gpa,
			      (unsigned long long)m[i].size);
	free(m);
}

/* Never a page the tracker believes protected that the backend is not
 * protecting. */
static void protection_sound(struct hx *h)
{
	uint64_t p;

	for (p = RA; p < SPAN_END; p += 4096) {
		if (!hx_region(h, p, 4096))
			continue;
		if (wpt_vm_page_protected(h->vm, p))
			ck_assert_msg(*hx_prot(h, p),
				      "page %llx: tracker says protected, "
				      "backend does not",
				      (unsigned long long)p);
	}
}

/* The sink's mappings as "iova:gpa:size;" with adjacent ones merged where
 * the test (not the library) may merge them: same perm, IOVA and GPA
 * contiguous, inside one region. */
static const char *sink_runs(struct hx *h, struct wpt_sink *s, char *buf,
			     size_t len)
{
	struct wpt_mapping m[16], run = { 0 };
	long n = wpt_sink_record_get(s, m, 16), i;
	size_t off = 0;

	ck_assert_int_ge(n, 0);
	ck_assert_int_le(n, 16);
	buf[0] = 0;
	for (i = 0; i <= n; i++) {
		if (i < n && run.size && m[i].perm == run.perm &&
		    m[i].iova == run.iova + run.size &&
		    m[i].gpa == run.gpa + run.size &&
		    hx_region(h, run.gpa, run.size + m[i].size)) {
			run.size += m[i].size;
			continue;
		}
		if (run.size)
			off += snprintf(buf + off, len - off, "%llx:%llx:%llx;",
					(unsigned long long)run.iova,
					(unsigned long long)run.gpa,
					(unsigned long long)run.size);
		if (i < n)
			run = m[i];
	}
	return buf;
}

/* The bystander maps one more page and is exactly right. */
static void bystander_ok(struct hx *h)
{
	char buf[512], want[512];
	size_t off;

	ck_assert_uint_lt(h->by_next, 512);
	hx_store64(h, E(BY_L3, h->by_next),
		   s1_page(BY_DATA + 0x1000ull * h->by_next));
	h->by_next++;
	ck_assert_int_eq(wpt_domain_error(h->by), 0);
	ck_assert_int_eq(wpt_domain_verify(h->by), 0);
	/* Page 0 is B's last page and page 1 C's first: IOVA and GPA
	 * contiguous, but two regions, so never one sink mapping (the
	 * HVA is not contiguous); sink_in_ram() checks that. */
	off = snprintf(want, sizeof(want), "0:%llx:1000;1000:%llx:1000;",
		       (unsigned long long)(RC - 0x1000), (unsigned long long)RC);
	snprintf(want + off, sizeof(want) - off, "2000:%llx:%x;",
		 (unsigned long long)BY_DATA + 0x2000, (h->by_next - 2) * 0x1000);
	ck_assert_str_eq(sink_runs(h, h->by_sink, buf, sizeof(buf)), want);
	sink_in_ram(h, h->by_sink);
}

static void hx_free(struct hx *h)
{
	int i;

	protection_sound(h);
	if (h->by) {
		wpt_domain_free(h->by);
		wpt_sink_free(h->by_sink);
	}
	wpt_vm_free(h->vm);
	/* Everything the library protected went with its domains. */
	for (i = 0; i < (int)NPAGES; i++)
		ck_assert_msg(!h->prot[i], "page %llx still protected",
			      (unsigned long long)(RA + ((uint64_t)i << 12)));
	for (i = 0; i < NREG; i++)
		munmap(h->ram[i], h->r[i].size);
	pthread_mutex_destroy(&h->slot_lock);
	free(h);
}

/* After a case: what the domain says, and the invariants around it. */
static void after_case(struct hx *h, struct wpt_domain *d, struct wpt_sink *s,
		       int err)
{
	ck_assert_int_eq(wpt_domain_error(d), err);
	sink_in_ram(h, s);
	if (err) {
		long n = wpt_sink_record_get(s, NULL, 0);

		/* A faulted domain maps nothing and tracks nothing. */
		ck_assert_int_eq(n, 0);
		ck_assert_int_eq(wpt_domain_verify(d), err);
	} else {
		ck_assert_int_eq(wpt_domain_verify(d), 0);
	}
	protection_sound(h);
	bystander_ok(h);
}

/* The end of a case: its domain, sink and guest go. */
static void case_free(struct hx *h, struct wpt_domain *d, struct wpt_sink *s)
{
	wpt_domain_free(d);
	wpt_sink_free(s);
	hx_free(h);
}

static void dom_stats(struct wpt_domain *d, struct wpt_domain_stats *st)
{
	ck_assert_int_eq(wpt_domain_stats(d, st, sizeof(*st)), 0);
}

#define T(i) (RA + 0x10000ull + 0x1000ull * (i)) /* table pages in A */
#define DATA (RA + 0x800000ull)                   /* data pages in A */

static void fill(struct hx *h, uint64_t table, uint64_t v)
{
	int i;

	for (i = 0; i < 512; i++)
		*hx_desc(h, E(table, i)) = v;
}

/* --------------------------------------------------------- catalog */

/* Every entry of a root points at the root: at level 3 each is a page
 * mapping the root itself, 512^3 of them if nothing stopped it. */
START_TEST(test_self_pointing)
{
	struct hx *h = hx_new();
	struct wpt_domain *d;
	struct wpt_sink *s;
	struct meter m;

	hx_bystander(h);
	d = hx_domain(h, &s, WPT_MODE_TRAP, 4096, 48, 48, &cat_limits);
	fill(h, T(0), s1_table(T(0)) | S1_AF);
	meter_start(&m, "self-pointing table", d);
	ck_assert_int_eq(wpt_domain_set_root(d, T(0)), 0);
	meter_stop(&m);
	meter_assert(&m, &cat_limits, 1, 1, 4096, wpt_domain_error(d));
	after_case(h, d, s, -E2BIG);
	/* The guest repairs it: the same root works again. */
	fill(h, T(0), 0);
	*hx_desc(h, T(0)) = s1_table(T(1));
	*hx_desc(h, T(1)) = s1_table(T(2));
	*hx_desc(h, T(2)) = s1_table(T(3));
	*hx_desc(h, T(3)) = s1_page(DATA);
	ck_assert_int_eq(wpt_domain_set_root(d, T(0)), 0);
	after_case(h, d, s, 0);
	/* Now a store makes a table point at itself, one entry at a time:
	 * each store is one operation, each bounded. */
	{
		struct meter one;
		uint64_t worst = 0;
		int i;

		meter_start(&m, "self-pointing by stores", d);
		for (i = 1; i < 512 && !wpt_domain_error(d); i++) {
			meter_start(&one, "one store", d);
			hx_store64(h, E(T(1), i), s1_table(T(1)) | S1_AF);
			meter_stop(&one);
			ck_assert_uint_le(one.descs, cat_limits.max_walk_descs);
			worst = one.descs > worst ? one.descs : worst;
		}
		meter_stop(&m);
		fprintf(stderr, "catalog: %-28s %d stores, worst store %llu descs\n",
			"self-pointing by stores", i - 1,
			(unsigned long long)worst);
		meter_assert(&m, &cat_limits, i - 1, 3, 4096,
			     wpt_domain_error(d));
		after_case(h, d, s, -E2BIG);
	}
	case_free(h, d, s);
}
END_TEST

/* A table points back at an ancestor: T1 -> T2 -> T1 -> ... */
START_TEST(test_ancestor)
{
	struct hx *h = hx_new();
	struct wpt_domain *d;
	struct wpt_sink *s;
	struct meter m;
	int i;

	hx_bystander(h);
	d = hx_domain(h, &s, WPT_MODE_TRAP, 4096, 48, 48, &cat_limits);
	*hx_desc(h, T(0)) = s1_table(T(1));
	fill(h, T(1), s1_table(T(2)));
	fill(h, T(2), s1_table(T(1)) | S1_AF);
	meter_start(&m, "pointer to an ancestor", d);
	ck_assert_int_eq(wpt_domain_set_root(d, T(0)), 0);
	meter_stop(&m);
	meter_assert(&m, &cat_limits, 1, 3, 4096, wpt_domain_error(d));
	after_case(h, d, s, -E2BIG);
	/* Pointing at the root from level 1, made by one store.  (The
	 * test rewrites tables directly only while nothing tracks them.) */
	fill(h, T(1), 0);
	fill(h, T(2), 0);
	ck_assert_int_eq(wpt_domain_set_root(d, T(0)), 0);
	after_case(h, d, s, 0);
	ck_assert_int_eq(wpt_domain_clear_root(d), 0);
	fill(h, T(2), s1_table(T(0)) | S1_AF);
	for (i = 0; i < 64; i++)
		*hx_desc(h, E(T(0), i)) = s1_table(T(1));
	ck_assert_int_eq(wpt_domain_set_root(d, T(0)), 0);
	after_case(h, d, s, 0);
	meter_start(&m, "ancestor by one store", d);
	hx_store64(h, E(T(1), 7), s1_table(T(2)));
	meter_stop(&m);
	meter_assert(&m, &cat_limits, 1, 3, 4096, wpt_domain_error(d));
	after_case(h, d, s, -E2BIG);
	case_free(h, d, s);
}
END_TEST

/* One page is the table at every level: P[0] -> P, so P is used at levels
 * 0, 1, 2 and 3 (at IOVA 0 each); P[1] is a block, reserved at levels 0
 * and 3, a 1 GiB block (out of any region) at level 1, a 2 MiB block at
 * level 2.  Legal if odd: no fault, exactly those mappings. */
START_TEST(test_one_page_every_level)
{
	struct hx *h = hx_new();
	struct wpt_domain *d;
	struct wpt_domain_stats st;
	struct wpt_sink *s;
	struct meter m;
	char buf[256], want[256];
	uint64_t P = T(0), blk = RA + 0x600000; /* 2 MiB aligned */

	hx_bystander(h);
	d = hx_domain(h, &s, WPT_MODE_TRAP, 4096, 48, 48, &cat_limits);
	*hx_desc(h, E(P, 0)) = s1_table(P) | S1_AF;
	*hx_desc(h, E(P, 1)) = s1_block(blk);
	meter_start(&m, "one page at every level", d);
	ck_assert_int_eq(wpt_domain_set_root(d, P), 0);
	meter_stop(&m);
	meter_assert(&m, &cat_limits, 1, 1, 4096, wpt_domain_error(d));
	snprintf(want, sizeof(want), "0:%llx:1000;200000:%llx:200000;",
		 (unsigned long long)P, (unsigned long long)blk);
	ck_assert_str_eq(sink_runs(h, s, buf, sizeof(buf)), want);
	dom_stats(d, &st);
	ck_assert_uint_eq(st.table_uses, 4);
	ck_assert_uint_eq(st.out_of_ram, 1); /* the 1 GiB block */
	after_case(h, d, s, 0);
	/* P[1] becomes a page: a table (of zeros) at levels 0..2, a page at
	 * level 3. */
	hx_store64(h, E(P, 1), s1_page(DATA));
	snprintf(want, sizeof(want), "0:%llx:1000;1000:%llx:1000;",
		 (unsigned long long)P, (unsigned long long)DATA);
	ck_assert_str_eq(sink_runs(h, s, buf, sizeof(buf)), want);
	after_case(h, d, s, 0);
	/* Cut the chain at its top: only the root's use stays. */
	hx_store64(h, E(P, 0), 0);
	dom_stats(d, &st);
	ck_assert_uint_eq(st.table_uses, 2); /* P at 0, DATA at 1 */
	ck_assert_str_eq(sink_runs(h, s, buf, sizeof(buf)), "");
	after_case(h, d, s, 0);
	hx_store64(h, E(P, 0), s1_table(P) | S1_AF);
	ck_assert_str_eq(sink_runs(h, s, buf, sizeof(buf)), want);
	after_case(h, d, s, 0);
	case_free(h, d, s);
}
END_TEST

/* Every entry of every level points at one full table of the next level:
 * 512 x 512 x 512 pages, all of T3. */
static void fan_out_tree(struct hx *h)
{
	int i;

	fill(h, T(0), s1_table(T(1)));
	fill(h, T(1), s1_table(T(2)));
	fill(h, T(2), s1_table(T(3)));
	for (i = 0; i < 512; i++)
		*hx_desc(h, E(T(3), i)) = s1_page(DATA + 0x1000ull * i);
}

START_TEST(test_fan_out_bomb)
{
	struct hx *h = hx_new();
	/* lib/vm.c's defaults, which zero limits select. */
	const struct wpt_limits zero = { 0 }, dflt = {
		.max_table_uses = 65536, .max_leaves = 1 << 25,
		.max_walk_descs = 1 << 26,
	};
	struct wpt_domain *d;
	struct wpt_sink *s;
	struct meter m;
	int i;

	hx_bystander(h);
	d = hx_domain(h, &s, WPT_MODE_TRAP, 4096, 48, 48, &cat_limits);
	fan_out_tree(h);
	meter_start(&m, "fan-out bomb", d);
	ck_assert_int_eq(wpt_domain_set_root(d, T(0)), 0);
	meter_stop(&m);
	meter_assert(&m, &cat_limits, 1, 4, 4096, wpt_domain_error(d));
	after_case(h, d, s, -E2BIG);
	/* The same with the library's default limits: what a VMM that sets
	 * none pays for one hostile root. */
	ck_assert_int_eq(wpt_domain_set_limits(d, &zero), 0);
	meter_start(&m, "fan-out bomb, default limits", d);
	ck_assert_int_eq(wpt_domain_set_root(d, T(0)), 0);
	meter_stop(&m);
	meter_assert(&m, &dflt, 1, 4, 4096, wpt_domain_error(d));
	after_case(h, d, s, -E2BIG);
	/* Built by stores on a sane tree: each store that links a full
	 * subtree is charged for it, the limit stops the one that is too
	 * big. */
	ck_assert_int_eq(wpt_domain_set_limits(d, &cat_limits), 0);
	fill(h, T(0), 0);
	fill(h, T(1), 0);
	fill(h, T(2), 0);
	*hx_desc(h, T(0)) = s1_table(T(1));
	ck_assert_int_eq(wpt_domain_set_root(d, T(0)), 0);
	after_case(h, d, s, 0);
	meter_start(&m, "fan-out bomb by stores", d);
	for (i = 0; i < 512 && !wpt_domain_error(d); i++)
		hx_store64(h, E(T(2), i), s1_table(T(3)));
	for (i = 0; i < 512 && !wpt_domain_error(d); i++)
		hx_store64(h, E(T(1), i), s1_table(T(2)));
	meter_stop(&m);
	meter_assert(&m, &cat_limits, 2, 4, 4096, wpt_domain_error(d));
	after_case(h, d, s, -E2BIG);
	case_free(h, d, s);
}
END_TEST

/*
 * Amplification: a structure built within the limits, one small store at
 * a time, that makes ONE later operation do work out of proportion to its
 * size.  Leaf table AMP_T (one page mapped) is linked from AMP_USES
 * entries of a level 2 table: AMP_USES uses of it, one 4 KiB run each, at
 * 2 MiB strides (AMP_USES * 512 stays under cat_limits' walk, so verify
 * can still walk the whole tree).  Every use a store reaches and every
 * leaf it changes is charged to max_walk_descs (and the sink calls follow
 * the leaves: at most one unmap and one map per leaf changed), so the
 * meter's bounds hold for such a store as for a walk.
 */
#define AMP_USES 384
#define AMP_T T(8)

static struct wpt_domain *amp_tree(struct hx *h, struct wpt_sink **s,
				   enum wpt_mode mode)
{
	struct wpt_domain *d;
	int i;

	d = hx_domain(h, s, mode, 4096, 48, 48, &cat_limits);
	*hx_desc(h, T(0)) = s1_table(T(1));
	*hx_desc(h, T(1)) = s1_table(T(2));
	*hx_desc(h, AMP_T) = s1_page(DATA);
	ck_assert_int_eq(wpt_domain_set_root(d, T(0)), 0);
	/* One use per store (or per invalidation): each costs a walk of
	 * AMP_T, well within the limit. */
	for (i = 0; i < AMP_USES; i++) {
		if (mode == WPT_MODE_INVAL) {
			*hx_desc(h, E(T(2), i)) = s1_table(AMP_T);
			ck_assert_int_eq(wpt_domain_invalidate(d,
				(uint64_t)i << 21, 2 << 20), 0);
		} else {
			hx_store64(h, E(T(2), i), s1_table(AMP_T));
		}
	}
	after_case(h, d, *s, 0);
	ck_assert_int_eq(wpt_sink_record_get(*s, NULL, 0), AMP_USES);
	return d;
}

START_TEST(test_amplification)
{
	struct wpt_limits tight = cat_limits;
	struct hx *h = hx_new();
	struct wpt_domain *d;
	struct wpt_sink *s;
	struct meter m;

	hx_bystander(h);
	d = amp_tree(h, &s, WPT_MODE_TRAP);
	/* One store, AMP_USES leaves mapped by it. */
	meter_start(&m, "one store, 384 uses", d);
	hx_store64(h, E(AMP_T, 1), s1_page(DATA + 0x1000));
	meter_stop(&m);
	meter_assert(&m, &cat_limits, 1, 9, 4096, wpt_domain_error(d));
	ck_assert_uint_ge(m.descs, 2 * AMP_USES);
	after_case(h, d, s, 0);
	ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), 2 * AMP_USES);
	/* The same store under a limit it exceeds: stopped within it. */
	tight.max_walk_descs = AMP_USES;
	ck_assert_int_eq(wpt_domain_set_limits(d, &tight), 0);
	meter_start(&m, "one store, 384 uses, limit", d);
	hx_store64(h, E(AMP_T, 1), 0);
	meter_stop(&m);
	meter_assert(&m, &tight, 1, 9, 4096, wpt_domain_error(d));
	after_case(h, d, s, -E2BIG);
	wpt_domain_free(d);
	wpt_sink_free(s);
	/* INVAL: the guest rewrites the shared table and invalidates
	 * everything: one call re-walks every use of it, and changes a leaf
	 * through each. */
	d = amp_tree(h, &s, WPT_MODE_INVAL);
	fill(h, AMP_T, 0);
	*hx_desc(h, E(AMP_T, 7)) = s1_page(DATA + 0x7000);
	meter_start(&m, "invalidate all, 384 uses", d);
	ck_assert_int_eq(wpt_domain_invalidate_all(d), 0);
	meter_stop(&m);
	meter_assert(&m, &cat_limits, 1, 9, 4096, wpt_domain_error(d));
	/* 384 walks of AMP_T fit the limit; the leaves they change do not. */
	after_case(h, d, s, -E2BIG);
	case_free(h, d, s);
}
END_TEST

/* Tables and leaves outside RAM: below it, in the MMIO hole between two
 * regions, past the last region, straddling; and above the OAS. */
START_TEST(test_outside_ram)
{
	struct hx *h = hx_new();
	struct wpt_domain *d;
	struct wpt_domain_stats st;
	struct wpt_vm_stats vs0, vs1;
	struct wpt_sink *s;
	struct meter m;
	char buf[512], want[512];

	hx_bystander(h);
	d = hx_domain(h, &s, WPT_MODE_TRAP, 4096, 48, 40, &cat_limits);
	*hx_desc(h, E(T(0), 0)) = s1_table(T(1));
	*hx_desc(h, E(T(1), 0)) = s1_table(T(2));
	/* level 2 */
	*hx_desc(h, E(T(2), 0)) = s1_table(0x1000);             /* below RAM */
	*hx_desc(h, E(T(2), 1)) = s1_table(HOLE + 0x5000);      /* MMIO */
	*hx_desc(h, E(T(2), 2)) = s1_table(SPAN_END);           /* past RAM */
	*hx_desc(h, E(T(2), 3)) = s1_table(T(3));
	*hx_desc(h, E(T(2), 4)) = s1_block(HOLE);               /* MMIO */
	*hx_desc(h, E(T(2), 5)) = s1_block(HOLE - 0x200000);    /* A's end */
	*hx_desc(h, E(T(2), 6)) = s1_block(RC + 0x200000);      /* C's end */
	*hx_desc(h, E(T(2), 7)) = s1_block(SPAN_END);           /* past RAM */
	*hx_desc(h, E(T(2), 8)) = s1_table(1ull << 40);         /* OAS */
	*hx_desc(h, E(T(2), 9)) = s1_block((1ull << 40) | RA);  /* OAS */
	*hx_desc(h, E(T(2), 10)) = s1_table(RB + 0x400000);     /* in B: fine */
	/* level 3 */
	*hx_desc(h, E(T(3), 0)) = s1_page(HOLE);                /* MMIO */
	*hx_desc(h, E(T(3), 1)) = s1_page(HOLE - 0x1000);       /* A's last */
	*hx_desc(h, E(T(3), 2)) = s1_page(RB);                  /* B's first */
	*hx_desc(h, E(T(3), 3)) = s1_page(0xfee00000);          /* APIC */
	*hx_desc(h, E(T(3), 4)) = s1_page((1ull << 47) | RA);   /* OAS */
	*hx_desc(h, E(T(3), 5)) = s1_page(RC - 0x1000);         /* B's last */
	*hx_desc(h, E(T(3), 6)) = s1_page(RC);                  /* C's first */
	/* level 1: a 1 GiB block over A, the hole, B and C */
	*hx_desc(h, E(T(1), 1)) = s1_block(RA & ~((1ull << 30) - 1));
	wpt_vm_stats(h->vm, &vs0, sizeof(vs0));
	meter_start(&m, "outside RAM / MMIO / OAS", d);
	ck_assert_int_eq(wpt_domain_set_root(d, T(0)), 0);
	meter_stop(&m);
	meter_assert(&m, &cat_limits, 1, 5, 4096, wpt_domain_error(d));
	wpt_vm_stats(h->vm, &vs1, sizeof(vs1));
	dom_stats(d, &st);
	/* Tables: below, MMIO, past; blocks: MMIO, past, 1 GiB; pages:
	 * MMIO, APIC. */
	ck_assert_uint_eq(st.out_of_ram, 8);
	ck_assert_uint_eq(st.addr_size_faults, 3);
	ck_assert_uint_eq(vs1.out_of_ram - vs0.out_of_ram, 8);
	ck_assert_uint_eq(vs1.addr_size_faults - vs0.addr_size_faults, 3);
	snprintf(want, sizeof(want),
		 "601000:%llx:1000;602000:%llx:1000;605000:%llx:1000;"
		 "606000:%llx:1000;a00000:%llx:200000;c00000:%llx:200000;",
		 (unsigned long long)(HOLE - 0x1000), (unsigned long long)RB,
		 (unsigned long long)(RC - 0x1000), (unsigned long long)RC,
		 (unsigned long long)(HOLE - 0x200000),
		 (unsigned long long)(RC + 0x200000));
	ck_assert_str_eq(sink_runs(h, s, buf, sizeof(buf)), want);
	after_case(h, d, s, 0);
	/* The same by stores, one at a time, on an empty T3. */
	hx_store64(h, E(T(3), 7), s1_page(HOLE + 0x800000));
	hx_store64(h, E(T(3), 8), s1_page(1ull << 45));
	hx_store64(h, E(T(2), 11), s1_table(HOLE));
	dom_stats(d, &st);
	ck_assert_uint_eq(st.out_of_ram, 10);
	ck_assert_uint_eq(st.addr_size_faults, 4);
	after_case(h, d, s, 0);
	/* A root outside RAM: refused, nothing tracked; and in RAM but not
	 * aligned. */
	ck_assert_int_eq(wpt_domain_set_root(d, HOLE), -EFAULT);
	ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), 0);
	ck_assert_int_eq(wpt_domain_set_root(d, SPAN_END), -EFAULT);
	ck_assert_int_eq(wpt_domain_set_root(d, 1ull << 47), -EFAULT);
	ck_assert_int_eq(wpt_domain_set_root(d, T(0) + 8), -EINVAL);
	after_case(h, d, s, 0);
	case_free(h, d, s);
}
END_TEST

/* Reserved encodings translate nothing: a level-3 0b01, a block at level 0
 * (4K), at level 1 with 16K and 64K granules. */
START_TEST(test_reserved)
{
	static const struct {
		uint32_t granule, ias;
		int level; /* where the block sits */
	} cases[] = {
		{ 4096, 48, 0 }, { 4096, 48, 3 },
		{ 16384, 47, 1 }, { 16384, 47, 3 },
		{ 65536, 48, 1 }, { 65536, 48, 3 },
	};
	unsigned int c;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct hx *h = hx_new();
		uint64_t g = cases[c].granule, tbl[4];
		int start, lvl, k;
		struct wpt_domain *d;
		struct wpt_domain_stats st;
		struct wpt_sink *s;
		struct meter m;
		char name[64];

		hx_bystander(h);
		d = hx_domain(h, &s, WPT_MODE_TRAP, cases[c].granule,
			      cases[c].ias, 48, &cat_limits);
		start = g == 4096 ? 0 : 1;
		for (k = 0; k < 4; k++)
			tbl[k] = RA + 0x100000 + k * g;
		for (lvl = start; lvl < cases[c].level; lvl++)
			*hx_desc(h, tbl[lvl]) = s1_table(tbl[lvl + 1]);
		/* The reserved block, with a valid page next to it at level 3
		 * or a valid table next to it above. */
		*hx_desc(h, tbl[cases[c].level] + 8) = s1_block(RA + (4ull << 20)) |
						       (1ull << 52);
		if (cases[c].level == 3)
			*hx_desc(h, tbl[3] + 16) = s1_page(DATA);
		snprintf(name, sizeof(name), "reserved %uK L%d",
			 cases[c].granule / 1024, cases[c].level);
		meter_start(&m, name, d);
		ck_assert_int_eq(wpt_domain_set_root(d, tbl[start]), 0);
		meter_stop(&m);
		meter_assert(&m, &cat_limits, 1, 4, g, wpt_domain_error(d));
		dom_stats(d, &st);
		ck_assert_uint_eq(st.out_of_ram + st.addr_size_faults, 0);
		ck_assert_uint_eq(st.reserved_descs, 1); /* counted, readable */
		ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0),
				 cases[c].level == 3);
		after_case(h, d, s, 0);
		/* A store turning the page into the reserved form unmaps it. */
		if (cases[c].level == 3) {
			hx_store64(h, tbl[3] + 16, s1_block(DATA));
			ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), 0);
			dom_stats(d, &st);
			ck_assert_uint_eq(st.reserved_descs, 2);
			after_case(h, d, s, 0);
		}
		wpt_domain_free(d);
		wpt_sink_free(s);
		hx_free(h);
	}
}
END_TEST

/* The contiguous hint on entries that are not contiguous (different
 * outputs, holes, other perms): a hint only, so every descriptor maps
 * exactly what it says on its own. */
START_TEST(test_contiguous_hint)
{
	struct hx *h = hx_new();
	struct wpt_domain *d;
	struct wpt_sink *s;
	struct meter m;
	const uint64_t C = 1ull << 52;
	int i;

	hx_bystander(h);
	d = hx_domain(h, &s, WPT_MODE_TRAP, 4096, 48, 48, &cat_limits);
	*hx_desc(h, E(T(0), 0)) = s1_table(T(1));
	*hx_desc(h, E(T(1), 0)) = s1_table(T(2));
	*hx_desc(h, E(T(2), 0)) = s1_table(T(3));
	/* 16 entries (one 64 KiB contiguous set) in reverse order, entry 5
	 * invalid, entry 9 read-only. */
	for (i = 0; i < 16; i++)
		*hx_desc(h, E(T(3), i)) = s1_page(DATA + 0x1000ull * (15 - i)) |
					  C | (i == 9 ? S1_RO : 0);
	*hx_desc(h, E(T(3), 5)) = 0;
	/* 16 2 MiB blocks with the hint, only the first two really
	 * contiguous. */
	for (i = 0; i < 16; i++)
		*hx_desc(h, E(T(2), 16 + i)) =
			s1_block(RA + (i < 2 ? 0x200000ull * i : 0x600000)) | C;
	meter_start(&m, "contiguous hint, not contiguous", d);
	ck_assert_int_eq(wpt_domain_set_root(d, T(0)), 0);
	meter_stop(&m);
	meter_assert(&m, &cat_limits, 1, 4, 4096, wpt_domain_error(d));
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	/* Exactly per descriptor: 15 pages + 16 blocks, the first two
	 * blocks one run; the blocks 2..15 all map the same GPA (aliases). */
	{
		struct wpt_mapping mp[64];
		long n = wpt_sink_record_get(s, mp, 64);
		uint64_t pages = 0, blocks = 0, k;

		ck_assert_int_gt(n, 0);
		for (k = 0; k < (uint64_t)n; k++) {
			uint64_t x;

			for (x = 0; x < mp[k].size; x += 0x1000) {
				uint64_t iova = mp[k].iova + x, gpa = mp[k].gpa + x;

				if (iova < 0x10000) {
					ck_assert_uint_ne(iova >> 12, 5);
					ck_assert_uint_eq(gpa, DATA + 0x1000 *
							  (15 - (iova >> 12)));
					ck_assert_uint_eq(mp[k].perm,
							  iova >> 12 == 9 ? 1 : 3);
					pages++;
				} else {
					uint64_t b = (iova >> 21) - 16;

					ck_assert_uint_lt(b, 16);
					ck_assert_uint_eq(gpa, RA + (b < 2 ? b * 0x200000
							      : 0x600000) +
							  (iova & 0x1fffff));
					blocks++;
				}
			}
		}
		ck_assert_uint_eq(pages, 15);
		ck_assert_uint_eq(blocks, 16 * 512);
	}
	/* Changing one entry of the "set" changes that one mapping only. */
	hx_store64(h, E(T(3), 3), s1_page(DATA + 0x100000) | C);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	after_case(h, d, s, 0);
	case_free(h, d, s);
}
END_TEST

/* ---- a root switched while writes are in flight ---- */

/* Two trees sharing T(3) (a level-3 table): R1 = T(0) -> T(1) -> T(2) ->
 * T(3), R2 = T(10) -> T(11) -> T(12) -> T(3). */
static void two_trees(struct hx *h)
{
	*hx_desc(h, T(0)) = s1_table(T(1));
	*hx_desc(h, T(1)) = s1_table(T(2));
	*hx_desc(h, T(2)) = s1_table(T(3));
	*hx_desc(h, T(10)) = s1_table(T(11));
	*hx_desc(h, T(11)) = s1_table(T(12));
	*hx_desc(h, E(T(12), 0)) = s1_table(T(3));
	*hx_desc(h, E(T(12), 1)) = s1_table(T(13));
	*hx_desc(h, E(T(3), 0)) = s1_page(DATA);
}

START_TEST(test_root_switch_interleaved)
{
	struct hx *h = hx_new();
	struct wpt_domain *d;
	struct wpt_sink *s;
	struct meter m;
	struct gm_rng r;
	int i;

	hx_bystander(h);
	d = hx_domain(h, &s, WPT_MODE_TRAP, 4096, 48, 48, &cat_limits);
	two_trees(h);
	gm_rng_seed(&r, 42);
	meter_start(&m, "root switch interleaved", d);
	for (i = 0; i < 2000; i++) {
		/* A store to any table of either tree (protected or not
		 * depending on the current root), a leaf or a link. */
		static const int tables[] = { 1, 2, 3, 11, 12, 13 };
		int t = tables[gm_rng_below(&r, 6)];
		uint64_t idx = gm_rng_below(&r, 8) + (t == 12 ? 2 : 0);
		uint64_t v = gm_rng_below(&r, 4) ? s1_page(DATA + 0x1000 *
				     gm_rng_below(&r, 64)) : 0;

		if (t == 1 || t == 11 || (t == 2 && idx == 0))
			idx += 1; /* keep the trees' spines */
		hx_store64(h, E(T(t), idx), v);
		if (gm_rng_below(&r, 4) == 0) {
			uint64_t root = gm_rng_below(&r, 2) ? T(0) : T(10);

			ck_assert_int_eq(wpt_domain_set_root(d, root), 0);
		}
		if (i % 64 == 0) {
			ck_assert_int_eq(wpt_domain_verify(d), 0);
			protection_sound(h);
		}
	}
	meter_stop(&m);
	meter_assert(&m, &cat_limits, 2000, 8, 4096, wpt_domain_error(d));
	after_case(h, d, s, 0);
	case_free(h, d, s);
}
END_TEST

struct writer {
	struct hx *h;
	atomic_int stop;
	uint64_t stores;
};

/* A vCPU storing leaves into every table of both trees while the VMM
 * switches roots. */
static void *writer_main(void *o)
{
	struct writer *w = o;
	struct gm_rng r;
	static const int tables[] = { 3, 13, 2, 12 };

	gm_rng_seed(&r, 7);
	while (!atomic_load(&w->stop)) {
		int t = tables[gm_rng_below(&r, 4)];
		uint64_t idx = 2 + gm_rng_below(&r, 16);
		uint64_t v = gm_rng_below(&r, 3) ? s1_page(DATA + 0x1000 *
				     gm_rng_below(&r, 64)) : 0;
		int ret;

		if (t == 2 || t == 12) /* level 2: 2 MiB blocks */
			v = v ? s1_block(RA + 0x200000 * gm_rng_below(&r, 8)) : 0;
		ret = hx_store_ret(w->h, E(T(t), idx), &v, 8);
		ck_assert_int_eq(ret, 1);
		w->stores++;
	}
	return NULL;
}

START_TEST(test_root_switch_threaded)
{
	struct hx *h = hx_new();
	struct writer w = { .h = h };
	struct wpt_domain *d;
	struct wpt_sink *s;
	pthread_t th;
	int i;

	hx_bystander(h);
	d = hx_domain(h, &s, WPT_MODE_TRAP, 4096, 48, 48, &cat_limits);
	two_trees(h);
	ck_assert_int_eq(wpt_domain_set_root(d, T(0)), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, writer_main, &w), 0);
	for (i = 0; i < 400; i++) {
		ck_assert_int_eq(wpt_domain_set_root(d, i % 2 ? T(0) : T(10)), 0);
		if (i % 50 == 0)
			ck_assert_int_eq(wpt_domain_clear_root(d), 0);
	}
	atomic_store(&w.stop, 1);
	pthread_join(th, NULL);
	fprintf(stderr, "catalog: %-28s %llu stores during 400 switches\n",
		"root switch, threaded", (unsigned long long)w.stores);
	after_case(h, d, s, 0);
	case_free(h, d, s);
}
END_TEST

/* ---- a table freed and reused as data while still linked ---- */

/* Junk as a guest's data would look: small integers, pointers into RAM
 * (tables or data, any type bits), ASCII, all ones. */
static uint64_t junk(struct gm_rng *r)
{
	uint64_t v = gm_rng_next(r);

	switch (gm_rng_below(r, 6)) {
	case 0:
		return v & 0xff;
	case 1:
		return (T(gm_rng_below(r, 8)) | (v & 0xfff)) | S1_AF;
	case 2:
		return (RA + (v & (RA_SIZE - 1))) | (v >> 62);
	case 3:
		return 0x6f6c6c6568206f6full; /* text */
	case 4:
		return ~0ull;
	default:
		return v;
	}
}

START_TEST(test_freed_table_reused)
{
	static const unsigned int lens[] = { 1, 2, 4, 8, 8, 8, 16 };
	struct hx *h = hx_new();
	struct wpt_domain *d;
	struct wpt_sink *s;
	struct meter m, one;
	struct gm_rng r;
	uint64_t worst = 0;
	int level, i;

	hx_bystander(h);
	d = hx_domain(h, &s, WPT_MODE_TRAP, 4096, 48, 48, &cat_limits);
	gm_rng_seed(&r, 5);
	/* The guest "freed" the table at each level in turn and its
	 * allocator hands the page out as data while the parent still points
	 * at it: 4096 bytes of junk written into it by stores of every size. */
	meter_start(&m, "freed table reused as data", d);
	for (level = 1; level <= 3; level++) {
		/* Untracked first: the test writes the fresh tree directly. */
		ck_assert_int_eq(wpt_domain_clear_root(d), 0);
		for (i = 0; i < 8; i++)
			fill(h, T(i), 0);
		*hx_desc(h, T(0)) = s1_table(T(1));
		*hx_desc(h, T(1)) = s1_table(T(2));
		*hx_desc(h, T(2)) = s1_table(T(3));
		*hx_desc(h, T(3)) = s1_page(DATA);
		ck_assert_int_eq(wpt_domain_set_root(d, T(0)), 0);
		ck_assert_int_eq(wpt_domain_error(d), 0);
		for (i = 0; i < 4096;) {
			unsigned int len = lens[gm_rng_below(&r, 7)];
			uint64_t v[2] = { junk(&r), junk(&r) };

			meter_start(&one, "one junk store", d);
			ck_assert_int_eq(hx_store_ret(h, T(level) + i, v, len), 1);
			meter_stop(&one);
			ck_assert_uint_le(one.descs, cat_limits.max_walk_descs);
			worst = one.descs > worst ? one.descs : worst;
			i += len;
			if (getenv("WPT_CATALOG_DEBUG") || i % 256 == 0) {
				if (getenv("WPT_CATALOG_DEBUG"))
					fprintf(stderr, "L%d +%d len %u %llx %llx\n",
						level, i - len, len,
						(unsigned long long)v[0],
						(unsigned long long)v[1]);
				long v = wpt_domain_verify(d);

				ck_assert_msg(v == 0 || (v < 0 && v == wpt_domain_error(d)),
					      "level %d byte %d: verify %ld error %d",
					      level, i, v, wpt_domain_error(d));
				sink_in_ram(h, s);
				protection_sound(h);
			}
		}
		fprintf(stderr, "catalog: %-28s level %d: error %d, worst "
			"store %llu descs\n", "freed table reused", level,
			wpt_domain_error(d), (unsigned long long)worst);
		if (wpt_domain_error(d))
			after_case(h, d, s, wpt_domain_error(d));
		else
			after_case(h, d, s, 0);
	}
	meter_stop(&m);
	meter_assert(&m, &cat_limits, 3 * 4096, 8, 4096, wpt_domain_error(d));
	case_free(h, d, s);
}
END_TEST

/* ------------------------------------------- faults around the engine */

/*
 * A guest-like sequence from sim/guest_model over one RAM region,
 * two domains, with failures injected around the engine: the recording
 * sinks' (VFIO's ENOMEM, EEXIST, ENOSPC), the protection backend's, and
 * the VMM writing table pages itself.
 */
#define GX_RAM 0x40000000ull
/* 64 MiB of RAM, a quarter of it the table arena; the size is a variable
 * so a run can pick another layout (the known-bug reproducer does). */
static uint64_t gx_size = 64ull << 20;
#define GX_SIZE gx_size
#define GX_ARENA_SIZE (gx_size / 4)
#define GX_ARENA (GX_RAM + GX_SIZE - GX_ARENA_SIZE)
#define GX_PAGES (GX_SIZE >> 12)

struct gx {
	uint8_t *ram;
	uint8_t *prot, *stuck;   /* backend: protected; kept after a failed
				  * unprotect */
	struct wpt_vm *vm;
	struct wpt_domain *d[2];
	struct wpt_sink *sink[2];
	enum wpt_mode mode[2];
	struct gm *m;
	struct gm_rng r;
	unsigned int host_pct;   /* stores the VMM makes itself, percent */
	uint64_t protect_fail_in, unprotect_fail_in;
	int protect_err, unprotect_err;
	uint64_t protect_fails, unprotect_fails, host_writes;
	int errs[64];            /* errors library calls returned this step */
	unsigned int nerrs;
	char what[192];
	unsigned long step;
};

static int gx_protect(void *o, uint64_t gpa, uint64_t size)
{
	struct gx *g = o;
	uint64_t p;

	if (g->protect_fail_in && !--g->protect_fail_in) {
		g->protect_fails++;
		return g->protect_err;
	}
	for (p = gpa; p < gpa + size; p += 4096) {
		uint64_t i = (p - GX_RAM) >> 12;

		ck_assert(p >= GX_RAM && p < GX_RAM + GX_SIZE);
		ck_assert_msg(!g->prot[i] || g->stuck[i],
			      "page %llx protected twice", (unsigned long long)p);
		g->prot[i] = 1;
		g->stuck[i] = 0;
	}
	return 0;
}

static int gx_unprotect(void *o, uint64_t gpa, uint64_t size)
{
	struct gx *g = o;
	uint64_t p;

	if (g->unprotect_fail_in && !--g->unprotect_fail_in) {
		g->unprotect_fails++;
		for (p = gpa; p < gpa + size; p += 4096)
			g->stuck[(p - GX_RAM) >> 12] = 1;
		return g->unprotect_err;
	}
	for (p = gpa; p < gpa + size; p += 4096) {
		ck_assert_msg(g->prot[(p - GX_RAM) >> 12],
			      "page %llx unprotected twice",
			      (unsigned long long)p);
		g->prot[(p - GX_RAM) >> 12] = 0;
	}
	return 0;
}

static const struct wpt_protect_ops gx_protect_ops = { gx_protect,
						       gx_unprotect };

static void gx_err(struct gx *g, int ret)
{
	if (ret < 0 && g->nerrs < 64)
		g->errs[g->nerrs++] = ret;
}

static int gx_store(void *o, uint64_t gpa, const void *bytes, unsigned int len)
{
	struct gx *g = o;
	uint64_t i = (gpa - GX_RAM) >> 12;
	uint8_t buf[16];
	int ret;

	if (gm_rng_below(&g->r, 100) < g->host_pct) {
		/* The VMM's own write (an emulated device's DMA): straight
		 * to RAM, then told, sometimes over a wider range. */
		uint64_t lo = gpa, hi = gpa + len;

		memcpy(g->ram + (gpa - GX_RAM), bytes, len);
		if (gm_rng_below(&g->r, 4) == 0) {
			lo -= gm_rng_below(&g->r, lo - GX_RAM < 5000 ? 1 : 5000);
			hi += gm_rng_below(&g->r, 5000);
			if (hi > GX_RAM + GX_SIZE)
				hi = GX_RAM + GX_SIZE;
		}
		g->host_writes++;
		gx_err(g, wpt_vm_host_wrote(g->vm, lo, hi - lo));
		return 0;
	}
	if (!g->prot[i]) {
		memcpy(g->ram + (gpa - GX_RAM), bytes, len);
		return 0;
	}
	memcpy(buf, bytes, len);
	ret = wpt_vm_handle_mmio(g->vm, gpa, buf, len, 1);
	ck_assert_msg(ret == 1 || ret < 0, "step %lu (%s): store %llx: %d",
		      g->step, g->what, (unsigned long long)gpa, ret);
	ck_assert_msg(!memcmp(g->ram + (gpa - GX_RAM), bytes, len),
		      "step %lu: the store is not in RAM", g->step);
	gx_err(g, ret);
	return 0;
}

static int gx_invalidate(void *o, unsigned int d, uint64_t iova, uint64_t size)
{
	struct gx *g = o;

	gx_err(g, size ? wpt_domain_invalidate(g->d[d], iova, size)
		       : wpt_domain_invalidate_all(g->d[d]));
	return 0;
}

static int gx_set_root(void *o, unsigned int d, uint64_t gpa)
{
	struct gx *g = o;

	gx_err(g, wpt_domain_set_root(g->d[d], gpa));
	return 0;
}

static const struct gm_ops gx_gm_ops = { gx_store, gx_invalidate, gx_set_root };

static struct gx *gx_new(uint32_t granule, enum wpt_mode m0, enum wpt_mode m1,
			 uint64_t seed)
{
	struct gx *g = calloc(1, sizeof(*g));
	struct wpt_ram_region region;
	struct wpt_vm_cfg vc = { .size = sizeof(vc) };
	struct gm_cfg gc = {
		.ram_gpa = GX_RAM, .ram_size = GX_SIZE,
		.arena_gpa = GX_ARENA, .arena_size = GX_ARENA_SIZE,
		.nr_domains = 2, .seed = seed, .ops = &gx_gm_ops,
		.fmt = { .size = sizeof(gc.fmt), .format = WPT_FMT_ARM_LPAE_S1,
			 .granule = granule, .ias = 39, .oas = 40, .sl = -1 },
	};
	unsigned int d;

	ck_assert_ptr_nonnull(g);
	g->ram = mmap(NULL, GX_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert(g->ram != MAP_FAILED);
	g->prot = calloc(GX_PAGES, 1);
	g->stuck = calloc(GX_PAGES, 1);
	ck_assert(g->prot && g->stuck);
	gm_rng_seed(&g->r, seed * 31 + 1);
	region = (struct wpt_ram_region){ GX_RAM, GX_SIZE, g->ram };
	vc.regions = &region;
	vc.nr_regions = 1;
	vc.protect_ops = &gx_protect_ops;
	vc.protect_opaque = g;
	ck_assert_int_eq(wpt_vm_new(&vc, &g->vm), 0);
	g->mode[0] = gc.mode[0] = m0;
	g->mode[1] = gc.mode[1] = m1;
	for (d = 0; d < 2; d++) {
		ck_assert_int_eq(wpt_sink_record_new(&g->sink[d]), 0);
		ck_assert_int_eq(wpt_domain_new(g->vm, &gc.fmt, g->sink[d],
						g->mode[d], &g->d[d]), 0);
	}
	gc.ram = g->ram;
	gc.opaque = g;
	ck_assert_int_eq(gm_new(&gc, &g->m), 0);
	ck_assert_int_eq(gm_start(g->m), 0);
	ck_assert_int_eq(g->nerrs, 0);
	return g;
}

static void gx_free(struct gx *g)
{
	uint64_t i;
	unsigned int d;

	for (d = 0; d < 2; d++) {
		wpt_domain_free(g->d[d]);
		wpt_sink_free(g->sink[d]);
	}
	wpt_vm_free(g->vm);
	/* Everything is unprotected again but what the backend refused to
	 * unprotect. */
	for (i = 0; i < GX_PAGES; i++)
		ck_assert_msg(!g->prot[i] || g->stuck[i],
			      "page %llx left protected",
			      (unsigned long long)(GX_RAM + (i << 12)));
	gm_free(g->m);
	munmap(g->ram, GX_SIZE);
	free(g->prot);
	free(g->stuck);
	free(g);
}

struct mlist {
	struct wpt_mapping *v;
	size_t n, cap;
};

static int mlist_push(void *o, const struct wpt_mapping *m)
{
	struct mlist *l = o;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		ck_assert_ptr_nonnull(l->v);
	}
	l->v[l->n++] = *m;
	return 0;
}

/* What the shadow says the sink holds is exactly what it holds, all of
 * it inside RAM. */
static void gx_sink_is_shadow(struct gx *g, unsigned int d)
{
	struct mlist sh = { 0 };
	long n = wpt_sink_record_get(g->sink[d], NULL, 0), i;
	struct wpt_mapping *v;

	ck_assert_int_ge(n, 0);
	v = calloc(n + 1, sizeof(*v));
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(wpt_sink_record_get(g->sink[d], v, n), n);
	ck_assert_int_eq(wpt_domain_foreach_mapping(g->d[d], mlist_push, &sh), 0);
	ck_assert_msg((size_t)n == sh.n, "step %lu (%s): d%u sink holds %ld "
		      "mappings, shadow says %zu", g->step, g->what, d, n, sh.n);
	for (i = 0; i < n; i++) {
		ck_assert_msg(!memcmp(&v[i], &sh.v[i], sizeof(v[i])) ||
			      (v[i].iova == sh.v[i].iova && v[i].gpa == sh.v[i].gpa &&
			       v[i].size == sh.v[i].size && v[i].perm == sh.v[i].perm),
			      "step %lu (%s): d%u mapping %ld differs", g->step,
			      g->what, d, i);
		ck_assert(v[i].gpa >= GX_RAM &&
			  v[i].gpa + v[i].size <= GX_RAM + GX_SIZE);
	}
	free(v);
	free(sh.v);
}

static const int sink_errs[] = { -ENOMEM, -EEXIST, -ENOSPC };

/* One guest step; -ENOMEM from the model (its arena is full) is not an
 * error of the engine. */
static void gx_step(struct gx *g)
{
	int ret;

	g->nerrs = 0;
	snprintf(g->what, sizeof(g->what), "(choosing)");
	ret = gm_step(g->m, g->what, sizeof(g->what));
	ck_assert_msg(ret == 0 || ret == -ENOMEM, "step %lu: model %d",
		      g->step, ret);
}

static void sink_faults_run(uint32_t granule, enum wpt_mode m0,
			    enum wpt_mode m1, uint64_t seed, unsigned long steps,
			    uint64_t ram_size)
{
	struct gx *g;
	int armed[2] = { 0, 0 };
	bool owed[2] = { false, false };
	uint64_t fired = 0, retries = 0;
	unsigned int d, i;

	gx_size = ram_size;
	g = gx_new(granule, m0, m1, seed);

	for (g->step = 1; g->step <= steps; g->step++) {
		uint64_t e0[2];
		int fired_err[2] = { 0, 0 };

		if (gm_rng_below(&g->r, 3) == 0) {
			d = gm_rng_below(&g->r, 2);
			armed[d] = sink_errs[gm_rng_below(&g->r, 3)];
			ck_assert_int_eq(wpt_sink_record_fail_at(g->sink[d],
				1 + gm_rng_below(&g->r, 6), armed[d]), 0);
		}
		for (d = 0; d < 2; d++) {
			struct wpt_sink_stats st;

			wpt_sink_stats(g->sink[d], &st);
			e0[d] = st.errors;
		}
		gx_step(g);
		for (d = 0; d < 2; d++) {
			struct wpt_sink_stats st;

			wpt_sink_stats(g->sink[d], &st);
			if (st.errors == e0[d])
				continue;
			ck_assert_uint_eq(st.errors, e0[d] + 1);
			fired_err[d] = armed[d];
		}
		for (d = 0; d < 2; d++) {
			bool seen = false;

			if (!fired_err[d])
				continue;
			/* The injected failure happened: a call of this step
			 * returned it to the VMM.  One store into a table both
			 * domains use can fail in both sinks, and a call
			 * returns one errno (the first): then the other's is
			 * in its sink_errors count, not in a return value. */
			for (i = 0; i < g->nerrs; i++)
				seen |= g->errs[i] == armed[d];
			if (!seen && fired_err[!d] && g->nerrs) {
				struct wpt_domain_stats ds;

				ck_assert_int_eq(wpt_domain_stats(g->d[d], &ds,
								  sizeof(ds)), 0);
				ck_assert_uint_gt(ds.sink_errors, 0);
				seen = true;
			}
			ck_assert_msg(seen, "step %lu (%s): d%u sink failed "
				      "(armed %d), calls returned %d errors, "
				      "first %d", g->step, g->what, d, armed[d],
				      g->nerrs, g->nerrs ? g->errs[0] : 0);
			if (getenv("WPT_CATALOG_DEBUG"))
				fprintf(stderr, "step %lu (%s): d%u failed %d\n",
					g->step, g->what, d, armed[d]);
			armed[d] = 0;
			owed[d] = true;
			fired++;
		}
		/* And nothing else failed. */
		for (i = 0; i < g->nerrs; i++)
			ck_assert_msg(g->errs[i] == fired_err[0] ||
				      g->errs[i] == fired_err[1],
				      "step %lu (%s): unexpected error %d",
				      g->step, g->what, g->errs[i]);
		for (d = 0; d < 2; d++) {
			long v;

			/* A sink failure does not fault the domain. */
			ck_assert_int_eq(wpt_domain_error(g->d[d]), 0);
			gx_sink_is_shadow(g, d);
			v = wpt_domain_verify(g->d[d]);
			if (getenv("WPT_CATALOG_DEBUG"))
				fprintf(stderr, "step %lu (%s) d%u verify %ld errs %u\n",
					g->step, g->what, d, v, g->nerrs);
			ck_assert_int_ge(v, 0);
			if (!owed[d])
				ck_assert_msg(v == 0, "step %lu (%s): d%u verify "
					      "%ld", g->step, g->what, d, v);
			else if (v == 0)
				owed[d] = false; /* a later update caught up */
			if (owed[d] && gm_rng_below(&g->r, 2)) {
				/* The VMM retries: the guest's context again
				 * (TRAP, HYBRID), or an invalidation (INVAL). */
				ck_assert_int_eq(wpt_sink_record_fail_at(
					g->sink[d], 0, 0), 0);
				armed[d] = 0;
				ck_assert_int_eq(g->mode[d] == WPT_MODE_INVAL
					? wpt_domain_invalidate_all(g->d[d])
					: wpt_domain_set_root(g->d[d],
							gm_root(g->m, d)), 0);
				ck_assert_int_eq(wpt_domain_verify(g->d[d]), 0);
				gx_sink_is_shadow(g, d);
				owed[d] = false;
				retries++;
				if (getenv("WPT_CATALOG_DEBUG"))
					fprintf(stderr, "step %lu: d%u retried\n",
						g->step, d);
			}
		}
	}
	for (d = 0; d < 2; d++) {
		ck_assert_int_eq(wpt_sink_record_fail_at(g->sink[d], 0, 0), 0);
		ck_assert_int_eq(wpt_domain_set_root(g->d[d], gm_root(g->m, d)), 0);
		ck_assert_int_eq(wpt_domain_verify(g->d[d]), 0);
	}
	fprintf(stderr, "catalog: %-28s %uk modes %d+%d: %llu failures, %llu "
		"retries, %lu steps\n", "sink failures", granule / 1024, m0, m1,
		(unsigned long long)fired, (unsigned long long)retries, steps);
	ck_assert_uint_gt(fired, steps / 20);
	gx_free(g);
	gx_size = 64ull << 20;
}

/* WPT_CATALOG_LOOP=n runs only iteration n of the looped tests (to
 * reproduce one; with CK_RUN_CASE="faults around the engine"). */
static bool other_loop(int i)
{
	const char *e = getenv("WPT_CATALOG_LOOP");

	return e && *e && atoi(e) != i;
}

static const enum wpt_mode mode_pairs[][2] = {
	{ WPT_MODE_TRAP, WPT_MODE_TRAP },   { WPT_MODE_TRAP, WPT_MODE_INVAL },
	{ WPT_MODE_HYBRID, WPT_MODE_INVAL }, { WPT_MODE_HYBRID, WPT_MODE_TRAP },
};

START_TEST(test_sink_failures)
{
	static const uint32_t granules[] = { 4096, 16384, 65536 };
	unsigned int k = (unsigned int)_i;

	if (other_loop(_i))
		return;
	sink_faults_run(granules[k % 3], mode_pairs[k % 4][0],
			mode_pairs[k % 4][1], 100 + k, 150, 64ull << 20);
}
END_TEST

/*
 * Found by the run above with 128 MiB of RAM (4K granule, HYBRID + INVAL,
 * seed 106): at step 37 one guest store into a table both domains use
 * fails in both sinks at once (-ENOMEM injected in one, -EEXIST in the
 * other), and the store returns only the first errno.  It was first taken
 * for a shadow bug; it is the API's one return value, so the check above
 * accepts the second failure through the domain's sink_errors count.
 */
START_TEST(test_sink_failure_in_two_domains)
{
	sink_faults_run(4096, WPT_MODE_HYBRID, WPT_MODE_INVAL, 106, 60,
			128ull << 20);
}
END_TEST

/* Every table page tracked now is protected by the backend (both domains
 * trap), and no page the tracker calls protected is not. */
static int table_protected(void *o, uint64_t gpa, uint64_t size,
			   unsigned int uses)
{
	struct gx *g = o;
	uint64_t p;

	for (p = gpa & ~0xfffull; p < gpa + size; p += 4096)
		ck_assert_msg(g->prot[(p - GX_RAM) >> 12],
			      "step %lu (%s): tracked table page %llx is not "
			      "protected", g->step, g->what,
			      (unsigned long long)p);
	return 0;
}

static void gx_protection_sound(struct gx *g)
{
	struct wpt_vm_stats vs;
	uint64_t p, n = 0;

	ck_assert_int_eq(wpt_vm_foreach_table(g->vm, table_protected, g), 0);
	for (p = GX_ARENA; p < GX_RAM + GX_SIZE; p += 4096) {
		if (!wpt_vm_page_protected(g->vm, p))
			continue;
		n++;
		ck_assert_msg(g->prot[(p - GX_RAM) >> 12],
			      "step %lu (%s): page %llx: tracker says "
			      "protected, backend does not", g->step,
			      g->what, (unsigned long long)p);
	}
	/* The VM's count says the same as its pages (tables live in the
	 * arena only), failed unprotects included. */
	ck_assert_int_eq(wpt_vm_stats(g->vm, &vs, sizeof(vs)), 0);
	ck_assert_msg(vs.protected_pages == n, "step %lu (%s): %llu pages "
		      "protected by count, %llu by page", g->step, g->what,
		      (unsigned long long)vs.protected_pages,
		      (unsigned long long)n);
}

static const int protect_errs[] = { -ENOSPC, -ENOMEM, -EIO };

START_TEST(test_protect_failures)
{
	static const uint32_t granules[] = { 4096, 16384, 65536 };
	unsigned int k = (unsigned int)_i, d;
	uint64_t faults = 0;
	struct gx *g;

	if (other_loop(_i))
		return;
	g = gx_new(granules[k % 3], k & 1 ? WPT_MODE_HYBRID : WPT_MODE_TRAP,
		   WPT_MODE_TRAP, 300 + k);

	for (g->step = 1; g->step <= 150; g->step++) {
		uint64_t pf0 = g->protect_fails;

		if (!g->protect_fail_in && gm_rng_below(&g->r, 3) == 0) {
			g->protect_fail_in = 1 + gm_rng_below(&g->r, 8);
			g->protect_err = protect_errs[gm_rng_below(&g->r, 3)];
		}
		if (!g->unprotect_fail_in && gm_rng_below(&g->r, 8) == 0) {
			g->unprotect_fail_in = 1 + gm_rng_below(&g->r, 8);
			g->unprotect_err = -EIO;
		}
		gx_step(g);
		ck_assert_int_eq(g->nerrs, 0); /* the guest's calls succeed */
		gx_protection_sound(g);
		for (d = 0; d < 2; d++) {
			int e = wpt_domain_error(g->d[d]);

			if (!e) {
				ck_assert_int_eq(wpt_domain_verify(g->d[d]), 0);
				gx_sink_is_shadow(g, d);
				continue;
			}
			/* A clear error: the backend's own. */
			ck_assert_msg(g->protect_fails > pf0 &&
				      e == g->protect_err,
				      "step %lu: d%u error %d", g->step, d, e);
			ck_assert_int_eq(wpt_sink_record_get(g->sink[d], NULL, 0), 0);
			faults++;
			/* The VMM re-asserts the context once slots are
			 * free again. */
			g->protect_fail_in = 0;
			ck_assert_int_eq(wpt_domain_set_root(g->d[d],
						gm_root(g->m, d)), 0);
			ck_assert_int_eq(wpt_domain_error(g->d[d]), 0);
			ck_assert_int_eq(wpt_domain_verify(g->d[d]), 0);
			gx_protection_sound(g);
		}
	}
	fprintf(stderr, "catalog: %-28s %uk: %llu protect failures, %llu "
		"unprotect failures, %llu faults\n", "protect failures",
		granules[k % 3] / 1024, (unsigned long long)g->protect_fails,
		(unsigned long long)g->unprotect_fails,
		(unsigned long long)faults);
	ck_assert_uint_gt(faults, 0);
	g->unprotect_fail_in = 0;
	gx_free(g);
}
END_TEST

START_TEST(test_host_writes)
{
	static const uint32_t granules[] = { 4096, 16384, 65536 };
	unsigned int k = (unsigned int)_i, d;
	struct gx *g;

	if (other_loop(_i))
		return;
	g = gx_new(granules[k % 3], mode_pairs[k % 4][0], mode_pairs[k % 4][1],
		   500 + k);

	g->host_pct = 40;
	for (g->step = 1; g->step <= 150; g->step++) {
		gx_step(g);
		ck_assert_int_eq(g->nerrs, 0);
		for (d = 0; d < 2; d++) {
			ck_assert_int_eq(wpt_domain_error(g->d[d]), 0);
			ck_assert_msg(wpt_domain_verify(g->d[d]) == 0,
				      "step %lu (%s): d%u", g->step, g->what, d);
			gx_sink_is_shadow(g, d);
		}
	}
	/* A host write of junk over a whole tracked table page, then of
	 * what was there: the tables come back exactly. */
	{
		uint64_t root = gm_root(g->m, 0);
		uint8_t *save = malloc(granules[k % 3]), *hva = g->ram + (root - GX_RAM);

		ck_assert_ptr_nonnull(save);
		memcpy(save, hva, granules[k % 3]);
		memset(hva, 0xa5, granules[k % 3]);
		ck_assert_int_eq(wpt_vm_host_wrote(g->vm, root, granules[k % 3]), 0);
		ck_assert_int_eq(wpt_domain_verify(g->d[0]), 0);
		memcpy(hva, save, granules[k % 3]);
		ck_assert_int_eq(wpt_vm_host_wrote(g->vm, root - 3, granules[k % 3] + 7), 0);
		ck_assert_int_eq(wpt_domain_error(g->d[0]), 0);
		ck_assert_int_eq(wpt_domain_verify(g->d[0]), 0);
		free(save);
	}
	fprintf(stderr, "catalog: %-28s %uk modes %d+%d: %llu host writes\n",
		"host writes", granules[k % 3] / 1024, mode_pairs[k % 4][0],
		mode_pairs[k % 4][1], (unsigned long long)g->host_writes);
	gx_free(g);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("hostile_catalog");
	TCase *tc = tcase_create("catalog");
	TCase *tf = tcase_create("faults around the engine");
	SRunner *sr;
	int failed;

	heap_meter_init();
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_self_pointing);
	tcase_add_test(tc, test_ancestor);
	tcase_add_test(tc, test_one_page_every_level);
	tcase_add_test(tc, test_fan_out_bomb);
	tcase_add_test(tc, test_amplification);
	tcase_add_test(tc, test_outside_ram);
	tcase_add_test(tc, test_reserved);
	tcase_add_test(tc, test_contiguous_hint);
	tcase_add_test(tc, test_root_switch_interleaved);
	tcase_add_test(tc, test_root_switch_threaded);
	tcase_add_test(tc, test_freed_table_reused);
	suite_add_tcase(su, tc);
	tcase_set_timeout(tf, 300);
	tcase_add_loop_test(tf, test_sink_failures, 0, 12);
	tcase_add_test(tf, test_sink_failure_in_two_domains);
	tcase_add_loop_test(tf, test_protect_failures, 0, 6);
	tcase_add_loop_test(tf, test_host_writes, 0, 12);
	suite_add_tcase(su, tf);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
