/* SPDX-License-Identifier: MIT */
/*
 * The bench's SMMUv3-style device without KVM: a wpt_vm over a RAM buffer
 * (callback protection), stage-1 4K tables laid out by hand, commands
 * written into a queue in RAM with the real SMMUv3 encodings and rung
 * through smmu_mmio, as the guest driver and the bench VMM will.
 */
#include "unit/fixture.h"
#include "../smmu/smmu.h"

#define B FX_RAM_GPA
#define CD (B + 0x1000)
#define REQ (B + 0x2000)
#define SYNCW (B + 0x3000)
#define ROOT (B + 0x10000)
#define L1 (B + 0x11000)
#define L2 (B + 0x12000)
#define L3 (B + 0x13000)
#define Q (B + 0x20000)
#define QLOG2 8
#define D (B + 0x800000)
#define E(t, i) ((t) + 8 * (i))
#define ASID 7

/* ---- the guest's side: command and CD encodings ---- */

static uint64_t cd0(unsigned int tg0, unsigned int t0sz, uint16_t asid)
{
	return CD0_V | CD0_AA64 | CD0_TG0(tg0) | CD0_T0SZ(t0sz) |
	       CD0_ASID(asid);
}

#define C_CFGI_CD(w) ((w)[0] = CMD_CFGI_CD, (w)[1] = 1)
static void c_tlbi_va(uint64_t *w, uint16_t asid, uint64_t addr,
		      unsigned int tg, unsigned int num, unsigned int scale)
{
	w[0] = CMD_TLBI_NH_VA | (uint64_t)num << 12 | (uint64_t)scale << 20 |
	       (uint64_t)asid << 48;
	w[1] = addr | (uint64_t)tg << 10;
}

static void c_tlbi_asid(uint64_t *w, uint16_t asid)
{
	w[0] = CMD_TLBI_NH_ASID | (uint64_t)asid << 48;
	w[1] = 0;
}

static void c_sync(uint64_t *w, uint64_t msi, uint32_t data)
{
	w[0] = CMD_SYNC | (uint64_t)CMD_SYNC_CS_IRQ << 12 |
	       (uint64_t)data << 32;
	w[1] = msi;
}

/* ---- a device and its guest ---- */

struct t {
	struct fx *f;
	struct wpt_sink *sink, *check;
	struct smmu *s;
	unsigned int log2;
	uint32_t prod; /* the guest's copy */
};

static int wr(struct t *t, uint64_t off, uint64_t v, uint32_t len)
{
	return smmu_mmio(t->s, off, (uint8_t *)&v, len, true);
}

static uint64_t rd(struct t *t, uint64_t off, uint32_t len)
{
	uint64_t v = 0;

	ck_assert_int_eq(smmu_mmio(t->s, off, (uint8_t *)&v, len, false), 0);
	return v;
}

static void set_queue(struct t *t, uint64_t base, unsigned int log2)
{
	ck_assert_int_eq(wr(t, SMMU_R_CMDQ_BASE, base | log2, 8), 0);
	t->log2 = log2;
	t->prod = 0;
}

static struct t *t_new_sinks(enum bench_strategy strategy,
			     struct wpt_sink *sink)
{
	struct t *t = calloc(1, sizeof(*t));
	struct smmu_cfg cfg;

	ck_assert_ptr_nonnull(t);
	t->f = fx_new();
	if (sink)
		t->sink = sink;
	else
		ck_assert_int_eq(wpt_sink_record_new(&t->sink), 0);
	if (strategy == BENCH_S_EXPLICIT)
		ck_assert_int_eq(wpt_sink_record_new(&t->check), 0);
	cfg = (struct smmu_cfg){
		.vm = t->f->vm, .ram = t->f->ram, .ram_gpa = FX_RAM_GPA,
		.ram_size = FX_RAM_SIZE, .strategy = strategy,
		.sink = t->sink, .check_sink = t->check, .oas = 48,
	};
	ck_assert_int_eq(smmu_new(&cfg, &t->s), 0);
	ck_assert_ptr_null(smmu_domain(t->s));
	ck_assert_str_eq(smmu_last_error(t->s), "");
	set_queue(t, Q, QLOG2);
	ck_assert_int_eq(wr(t, SMMU_R_CD_BASE, CD, 8), 0);
	return t;
}

static struct t *t_new(enum bench_strategy strategy)
{
	return t_new_sinks(strategy, NULL);
}

static void t_free(struct t *t)
{
	smmu_free(t->s);
	wpt_sink_free(t->sink);
	wpt_sink_free(t->check);
	fx_free(t->f);
	free(t);
}

/* Queue one command (not rung yet). */
static void push(struct t *t, const uint64_t *w)
{
	uint32_t entries = 1u << t->log2;
	uint64_t gpa = Q + (uint64_t)(t->prod & (entries - 1)) * 16;

	memcpy(t->f->ram + (gpa - B), w, 16);
	t->prod = (t->prod + 1) & ((entries << 1) - 1);
}

static void ring(struct t *t)
{
	ck_assert_int_eq(wr(t, SMMU_R_CMDQ_PROD, t->prod, 4), 0);
}

static uint32_t cons(struct t *t)
{
	return (uint32_t)rd(t, SMMU_R_CMDQ_CONS, 4);
}

/* Push one command and ring; the queue must have consumed it. */
static void run1(struct t *t, const uint64_t *w)
{
	push(t, w);
	ring(t);
	ck_assert_uint_eq(cons(t), t->prod);
}

static void write_cd(struct t *t, uint64_t w0, uint64_t ttb0)
{
	uint64_t *cd = (uint64_t *)(t->f->ram + (CD - B));

	memset(cd, 0, 64);
	cd[0] = w0;
	cd[1] = ttb0 & CD1_TTB0_MASK;
}

static void cfgi_cd(struct t *t, uint64_t w0, uint64_t ttb0)
{
	uint64_t w[2];

	write_cd(t, w0, ttb0);
	C_CFGI_CD(w);
	run1(t, w);
}

/* ROOT -> L1 -> L2 -> L3 at IOVA 0, L3 empty: 4K pages at i << 12. */
static void lay_tables(struct t *t)
{
	*fx_desc(t->f, E(ROOT, 0)) = s1_table(L1);
	*fx_desc(t->f, E(L1, 0)) = s1_table(L2);
	*fx_desc(t->f, E(L2, 0)) = s1_table(L3);
}

static void map_page(struct t *t, unsigned int i)
{
	fx_store64(t->f, E(L3, i), s1_page(D + ((uint64_t)i << 12)));
}

static void unmap_page(struct t *t, unsigned int i)
{
	fx_store64(t->f, E(L3, i), 0);
}

static bool sink_has(struct wpt_sink *s, uint64_t iova)
{
	struct wpt_mapping m[512];
	long n = wpt_sink_record_get(s, m, 512), i;

	ck_assert_int_ge(n, 0);
	ck_assert_int_le(n, 512);
	for (i = 0; i < n; i++)
		if (iova >= m[i].iova && iova - m[i].iova < m[i].size)
			return true;
	return false;
}

static long sink_count(struct wpt_sink *s)
{
	return wpt_sink_record_get(s, NULL, 0);
}

static struct smmu_stats stats(struct t *t)
{
	struct smmu_stats st;

	smmu_stats(t->s, &st);
	return st;
}

/* ---- tests ---- */

START_TEST(test_new_bad_config)
{
	struct fx *f = fx_new();
	struct wpt_sink *sink, *check;
	struct smmu_cfg cfg;
	struct smmu *s;

	ck_assert_int_eq(wpt_sink_record_new(&sink), 0);
	ck_assert_int_eq(wpt_sink_record_new(&check), 0);
	cfg = (struct smmu_cfg){ .vm = f->vm, .ram = f->ram, .ram_gpa = B,
				 .ram_size = FX_RAM_SIZE,
				 .strategy = BENCH_S_TRAP, .sink = sink };
	ck_assert_int_eq(smmu_new(NULL, &s), -EINVAL);
	ck_assert_int_eq(smmu_new(&cfg, NULL), -EINVAL);
	cfg.strategy = 0;
	ck_assert_int_eq(smmu_new(&cfg, &s), -EINVAL);
	cfg.strategy = BENCH_S_EXPLICIT; /* no check sink */
	ck_assert_int_eq(smmu_new(&cfg, &s), -EINVAL);
	cfg.check_sink = sink; /* the same sink twice */
	ck_assert_int_eq(smmu_new(&cfg, &s), -EINVAL);
	cfg.check_sink = check;
	cfg.sink = NULL;
	ck_assert_int_eq(smmu_new(&cfg, &s), -EINVAL);
	cfg.sink = sink;
	cfg.oas = 0; /* defaults to 48 */
	ck_assert_int_eq(smmu_new(&cfg, &s), 0);
	ck_assert_int_eq(smmu_verify(s), 0); /* nothing configured, nothing held */
	smmu_free(s);
	smmu_free(NULL);
	ck_assert_ptr_null(smmu_domain(NULL));
	ck_assert_int_eq(smmu_verify(NULL), -EINVAL);
	wpt_sink_free(sink);
	wpt_sink_free(check);
	fx_free(f);
}
END_TEST

START_TEST(test_registers)
{
	struct t *t = t_new(BENCH_S_TRAP);

	ck_assert_uint_eq(rd(t, SMMU_R_ID, 8), BENCH_SMMU_ID);
	ck_assert_uint_eq(rd(t, SMMU_R_ID, 4), (uint32_t)BENCH_SMMU_ID);
	ck_assert_uint_eq(rd(t, SMMU_R_ID + 4, 4), BENCH_SMMU_ID >> 32);
	ck_assert_uint_eq(rd(t, SMMU_R_CMDQ_BASE, 8), Q | QLOG2);
	ck_assert_uint_eq(rd(t, SMMU_R_CD_BASE, 8), CD);
	/* 32-bit halves of the 64-bit registers. */
	ck_assert_int_eq(wr(t, SMMU_R_CD_BASE + 4, 0x12, 4), 0);
	ck_assert_uint_eq(rd(t, SMMU_R_CD_BASE, 8), 0x12ull << 32 | CD);
	ck_assert_uint_eq(rd(t, SMMU_R_CD_BASE + 4, 4), 0x12);
	ck_assert_int_eq(wr(t, SMMU_R_CD_BASE + 4, 0, 4), 0);
	ck_assert_int_eq(wr(t, SMMU_R_CMDQ_BASE, Q | 4, 4), 0);
	ck_assert_int_eq(wr(t, SMMU_R_CMDQ_BASE + 4, 0, 4), 0);
	ck_assert_uint_eq(rd(t, SMMU_R_CMDQ_BASE, 8), Q | 4);
	ck_assert_uint_eq(rd(t, SMMU_R_CMDQ_BASE + 4, 4), 0);
	ck_assert_uint_eq(rd(t, SMMU_R_CMDQ_PROD, 4), 0);
	ck_assert_uint_eq(cons(t), 0);
	t_free(t);
}
END_TEST

/* Offsets and lengths no register has, and the wrong direction. */
static const struct bad_access {
	uint64_t off;
	uint32_t len;
	bool is_write;
} bad_accesses[] = {
	{ SMMU_R_ID, 8, true },          /* read-only */
	{ SMMU_R_CMDQ_CONS, 4, true },   /* read-only */
	{ SMMU_R_REQ, 8, false },        /* write-only */
	{ SMMU_R_REQ, 4, true },         /* 64-bit only */
	{ SMMU_R_CMDQ_PROD, 8, true },   /* 32-bit */
	{ SMMU_R_CMDQ_PROD, 8, false },
	{ SMMU_R_CMDQ_PROD, 2, true },
	{ SMMU_R_CMDQ_BASE, 2, false },
	{ SMMU_R_CMDQ_BASE, 1, true },
	{ SMMU_R_CMDQ_BASE + 4, 8, false }, /* misaligned */
	{ SMMU_R_CD_BASE + 2, 4, true },
	{ SMMU_R_DONE, 8, true },        /* the VMM's, not the device's */
	{ SMMU_R_NOP, 8, true },
	{ SMMU_R_PHASE, 8, true },
	{ 0x40, 8, false },
	{ 0xff8, 8, true },
	{ BENCH_MMIO_SIZE, 8, false },
	{ ~0ull - 7, 8, false },
};

START_TEST(test_bad_access)
{
	const struct bad_access *a = &bad_accesses[_i];
	struct t *t = t_new(BENCH_S_EXPLICIT);
	uint64_t v = REQ;

	ck_assert_int_eq(smmu_mmio(t->s, a->off, (uint8_t *)&v, a->len,
				   a->is_write), -EINVAL);
	ck_assert_int_eq(smmu_mmio(t->s, SMMU_R_ID, NULL, 8, false), -EINVAL);
	ck_assert_int_eq(smmu_mmio(NULL, SMMU_R_ID, (uint8_t *)&v, 8, false),
			 -EINVAL);
	ck_assert_uint_eq(stats(t).requests, 0);
	ck_assert_uint_eq(stats(t).doorbells, 0);
	t_free(t);
}
END_TEST

/* TRAP: the CD's TTB0 becomes the root; what the tables map is in the sink
 * at once, and so is every trapped store after. */
START_TEST(test_cfgi_cd_trap)
{
	struct t *t = t_new(BENCH_S_TRAP);
	struct smmu_stats st;
	char buf[256];

	lay_tables(t);
	*fx_desc(t->f, E(L3, 1)) = s1_page(D + 0x1000);
	cfgi_cd(t, cd0(0, 16, ASID), ROOT);
	ck_assert_ptr_nonnull(smmu_domain(t->s));
	ck_assert_str_eq(fx_sink_str(t->sink, buf, sizeof(buf)),
			 "1000:40801000:1000:rw;");
	ck_assert(fx_prot(t->f, ROOT) && fx_prot(t->f, L3));
	map_page(t, 2); /* trapped */
	ck_assert(sink_has(t->sink, 0x2000));
	ck_assert_int_eq(smmu_verify(t->s), 0);
	st = stats(t);
	ck_assert_uint_eq(st.doorbells, 1);
	ck_assert_uint_eq(st.cmds, 1);
	ck_assert_uint_eq(st.cfgi_cd, 1);
	ck_assert_uint_eq(st.cmd_errors, 0);
	/* A TLBI in TRAP mode is owed nothing and changes nothing. */
	{
		uint64_t w[2];

		c_tlbi_va(w, ASID, 0, 0, 0, 0);
		run1(t, w);
	}
	ck_assert_str_eq(fx_sink_str(t->sink, buf, sizeof(buf)),
			 "1000:40801000:1000:rw;2000:40802000:1000:rw;");
	ck_assert_uint_eq(stats(t).tlbi_va, 1);
	t_free(t);
}
END_TEST

/* INVAL: a leaf written after the CD reaches the sink only with a TLBI
 * covering it. */
START_TEST(test_cfgi_cd_inval)
{
	struct t *t = t_new(BENCH_S_INVAL);
	uint64_t w[2];

	lay_tables(t);
	cfgi_cd(t, cd0(0, 16, ASID), ROOT);
	ck_assert_ptr_nonnull(smmu_domain(t->s));
	ck_assert(!fx_prot(t->f, ROOT));
	map_page(t, 5);
	ck_assert_int_eq(sink_count(t->sink), 0);
	c_tlbi_va(w, ASID, 0x4000, 0, 0, 0); /* the page before: not it */
	run1(t, w);
	ck_assert_int_eq(sink_count(t->sink), 0);
	c_tlbi_va(w, ASID, 0x5000, 0, 0, 0);
	run1(t, w);
	ck_assert(sink_has(t->sink, 0x5000));
	unmap_page(t, 5);
	ck_assert(sink_has(t->sink, 0x5000));
	run1(t, w);
	ck_assert_int_eq(sink_count(t->sink), 0);
	ck_assert_int_eq(smmu_verify(t->s), 0);
	ck_assert_uint_eq(stats(t).tlbi_va, 3);
	ck_assert_uint_gt(stats(t).inval_ns, 0);
	t_free(t);
}
END_TEST

/* HYBRID: maps trap, an unmap waits for its invalidation. */
START_TEST(test_hybrid)
{
	struct t *t = t_new(BENCH_S_HYBRID);
	uint64_t w[2];

	lay_tables(t);
	cfgi_cd(t, cd0(0, 16, ASID), ROOT);
	map_page(t, 3);
	ck_assert(sink_has(t->sink, 0x3000));
	unmap_page(t, 3);
	ck_assert(sink_has(t->sink, 0x3000));
	ck_assert_int_eq(smmu_verify(t->s), 0); /* a pending removal is fine */
	c_tlbi_va(w, ASID, 0x3000, 1, 0, 0);
	run1(t, w);
	ck_assert_int_eq(sink_count(t->sink), 0);
	ck_assert_int_eq(smmu_verify(t->s), 0);
	t_free(t);
}
END_TEST

/* TLBI_NH_VA range decoding: pages 0x0f..0x50 are in the tables, the
 * command must bring in exactly [first, first + pages). */
static const struct range_case {
	uint64_t addr;
	unsigned int tg, num, scale;
	uint64_t first, pages; /* 4K pages expected */
} range_cases[] = {
	{ 0x10000, 0, 0, 0, 0x10, 1 },     /* no range: one (4K) granule */
	{ 0x10000, 0, 31, 31, 0x10, 1 },   /* NUM/SCALE ignored without TG */
	{ 0x10000, 1, 0, 0, 0x10, 1 },     /* 1 4K page */
	{ 0x10000, 1, 7, 2, 0x10, 32 },    /* (7 + 1) << 2 4K pages */
	{ 0x11000, 1, 2, 0, 0x11, 3 },
	{ 0x10000, 1, 1, 4, 0x10, 32 },    /* 2 << 4 */
	{ 0x10000, 2, 0, 0, 0x10, 4 },     /* one 16K page */
	{ 0x10000, 2, 2, 1, 0x10, 24 },    /* 3 << 1 16K pages */
	{ 0x10000, 3, 0, 0, 0x10, 16 },    /* one 64K page */
	{ 0x20000, 3, 1, 0, 0x20, 32 },    /* 2 64K pages */
	{ 0x40000, 3, 1, 0, 0x40, 0x11 },  /* the tables end at page 0x50 */
};

START_TEST(test_tlbi_va_range)
{
	const struct range_case *c = &range_cases[_i];
	struct t *t = t_new(BENCH_S_INVAL);
	uint64_t w[2], p;

	lay_tables(t);
	cfgi_cd(t, cd0(0, 16, ASID), ROOT);
	for (p = 0x0f; p <= 0x50; p++)
		map_page(t, p);
	/* Another ASID: nothing. */
	c_tlbi_va(w, ASID + 1, c->addr, c->tg, c->num, c->scale);
	run1(t, w);
	ck_assert_int_eq(sink_count(t->sink), 0);
	c_tlbi_va(w, ASID, c->addr, c->tg, c->num, c->scale);
	run1(t, w);
	for (p = 0x0e; p <= 0x51; p++) {
		bool in = p >= c->first && p < c->first + c->pages;

		ck_assert_msg(sink_has(t->sink, p << 12) == in,
			      "page 0x%llx %s", (unsigned long long)p,
			      in ? "missing" : "mapped");
	}
	ck_assert_uint_eq(stats(t).tlbi_va, 2);
	t_free(t);
}
END_TEST

/* TLBI_NH_ASID acts on the CD's ASID only; NSNH_ALL always. */
START_TEST(test_tlbi_asid_and_all)
{
	struct t *t = t_new(BENCH_S_INVAL);
	uint64_t w[2];

	lay_tables(t);
	cfgi_cd(t, cd0(0, 16, ASID), ROOT);
	map_page(t, 1);
	map_page(t, 300);
	c_tlbi_asid(w, ASID + 1);
	run1(t, w);
	ck_assert_int_eq(sink_count(t->sink), 0);
	c_tlbi_asid(w, ASID);
	run1(t, w);
	ck_assert(sink_has(t->sink, 0x1000) && sink_has(t->sink, 300 << 12));
	unmap_page(t, 1);
	map_page(t, 2);
	w[0] = CMD_TLBI_NSNH_ALL;
	w[1] = 0;
	run1(t, w);
	ck_assert(!sink_has(t->sink, 0x1000) && sink_has(t->sink, 0x2000));
	ck_assert_uint_eq(stats(t).tlbi_asid, 2);
	ck_assert_uint_eq(stats(t).tlbi_all, 1);
	ck_assert_int_eq(smmu_verify(t->s), 0);
	t_free(t);
}
END_TEST

static uint32_t sync_word(struct t *t)
{
	uint32_t v;

	memcpy(&v, t->f->ram + (SYNCW - B), 4);
	return v;
}

START_TEST(test_sync_msi)
{
	struct t *t = t_new(BENCH_S_TRAP);
	uint64_t w[2];

	c_sync(w, SYNCW, 0xabcd1234);
	run1(t, w);
	ck_assert_uint_eq(sync_word(t), 0xabcd1234);
	/* CS = none: no write. */
	c_sync(w, SYNCW, 0x1111);
	w[0] &= ~(3ull << 12);
	run1(t, w);
	ck_assert_uint_eq(sync_word(t), 0xabcd1234);
	/* MSIAddress[1:0] are not address bits. */
	c_sync(w, SYNCW | 3, 0x2222);
	run1(t, w);
	ck_assert_uint_eq(sync_word(t), 0x2222);
	/* An MSI outside RAM is dropped; the sync still completes. */
	c_sync(w, 0xfee00000, 0x3333);
	run1(t, w);
	ck_assert_uint_eq(sync_word(t), 0x2222);
	ck_assert_uint_eq(stats(t).syncs, 4);
	ck_assert_uint_eq(stats(t).msi_writes, 2);
	ck_assert_uint_eq(stats(t).cmd_errors, 0);
	t_free(t);
}
END_TEST

/* The MSI write is the VMM writing guest RAM: if it lands on a table page
 * the library must see it. */
START_TEST(test_sync_msi_on_table)
{
	struct t *t = t_new(BENCH_S_TRAP);
	uint64_t w[2];

	lay_tables(t);
	cfgi_cd(t, cd0(0, 16, ASID), ROOT);
	/* Low half of L3[4] := a page descriptor's low half (high half 0). */
	c_sync(w, E(L3, 4), (uint32_t)s1_page(D));
	run1(t, w);
	ck_assert(sink_has(t->sink, 0x4000));
	ck_assert_int_eq(smmu_verify(t->s), 0);
	t_free(t);
}
END_TEST

/* A 4-entry queue driven around many times: the wrap bit flips, entries
 * are read from the right slots, in order. */
START_TEST(test_queue_wrap)
{
	struct t *t = t_new(BENCH_S_TRAP);
	uint64_t w[2];
	uint32_t round, i, n = 0;

	set_queue(t, Q, 2);
	ck_assert_uint_eq(cons(t), 0);
	for (round = 0; round < 10; round++) {
		for (i = 0; i < 3; i++) {
			c_sync(w, SYNCW, ++n);
			push(t, w);
		}
		ring(t);
		ck_assert_uint_eq(cons(t), t->prod);
		ck_assert_uint_eq(cons(t), (3 * (round + 1)) & 7);
		ck_assert_uint_eq(sync_word(t), n);
	}
	/* A full queue (4 entries, index equal, wrap differs). */
	for (i = 0; i < 4; i++) {
		c_sync(w, SYNCW, ++n);
		push(t, w);
	}
	ring(t);
	ck_assert_uint_eq(cons(t), t->prod);
	ck_assert_uint_eq(sync_word(t), n);
	ck_assert_uint_eq(stats(t).syncs, 34);
	ck_assert_uint_eq(stats(t).doorbells, 11);
	/* More than a queue ahead of CONS: refused, nothing consumed. */
	ck_assert_int_eq(wr(t, SMMU_R_CMDQ_PROD, (cons(t) + 5) & 7, 4), 0);
	ck_assert_uint_eq(cons(t) >> SMMU_CONS_ERR_SHIFT, SMMU_CERROR_ILL);
	ck_assert_uint_eq(stats(t).syncs, 34);
	ck_assert_uint_eq(stats(t).cmd_errors, 1);
	t_free(t);
}
END_TEST

/* An illegal opcode stops the queue at it with CONS.ERR = CERROR_ILL; the
 * guest fixes the entry and rings again. */
START_TEST(test_illegal_opcode)
{
	struct t *t = t_new(BENCH_S_TRAP);
	uint64_t w[2];
	uint32_t c;

	c_sync(w, SYNCW, 1);
	push(t, w);
	w[0] = 0x99;
	w[1] = 0;
	push(t, w);
	c_sync(w, SYNCW, 2);
	push(t, w);
	ring(t);
	c = cons(t);
	ck_assert_uint_eq(c & ~SMMU_CONS_ERR_MASK, 1);
	ck_assert_uint_eq((c & SMMU_CONS_ERR_MASK) >> SMMU_CONS_ERR_SHIFT,
			  SMMU_CERROR_ILL);
	ck_assert_uint_eq(sync_word(t), 1);
	ck_assert_uint_eq(stats(t).cmd_errors, 1);
	ck_assert_ptr_nonnull(strstr(smmu_last_error(t->s), "0x99"));
	/* Replace the bad entry, ring again: ERR clears, the rest runs. */
	c_sync(w, SYNCW, 3);
	memcpy(t->f->ram + (Q + 16 - B), w, 16);
	ring(t);
	ck_assert_uint_eq(cons(t), 3);
	ck_assert_uint_eq(sync_word(t), 2);
	ck_assert_uint_eq(stats(t).syncs, 3);
	/* A queue outside RAM: abort on fetch. */
	set_queue(t, 0x1000, QLOG2);
	push(t, w);
	ring(t);
	ck_assert_uint_eq(cons(t), SMMU_CERROR_ABT << SMMU_CONS_ERR_SHIFT);
	ck_assert_uint_eq(stats(t).cmd_errors, 2);
	t_free(t);
}
END_TEST

/* V clear (or EPD0) clears the root: nothing mapped, nothing protected. */
START_TEST(test_cd_clear)
{
	struct t *t = t_new(BENCH_S_TRAP);
	struct wpt_domain *d;

	lay_tables(t);
	*fx_desc(t->f, E(L3, 0)) = s1_page(D);
	cfgi_cd(t, cd0(0, 16, ASID), ROOT);
	d = smmu_domain(t->s);
	ck_assert_int_eq(sink_count(t->sink), 1);
	cfgi_cd(t, cd0(0, 16, ASID) & ~CD0_V, ROOT);
	ck_assert_int_eq(sink_count(t->sink), 0);
	ck_assert(!fx_prot(t->f, ROOT) && !fx_prot(t->f, L3));
	ck_assert_ptr_eq(smmu_domain(t->s), d);
	ck_assert_int_eq(smmu_verify(t->s), 0);
	cfgi_cd(t, cd0(0, 16, ASID), ROOT);
	ck_assert_int_eq(sink_count(t->sink), 1);
	cfgi_cd(t, cd0(0, 16, ASID) | CD0_EPD0, ROOT);
	ck_assert_int_eq(sink_count(t->sink), 0);
	ck_assert_uint_eq(stats(t).cfgi_cd, 4);
	ck_assert_uint_eq(stats(t).cmd_errors, 0);
	t_free(t);
}
END_TEST

/* A new input size makes a new domain: the same tables read from a lower
 * start level. */
START_TEST(test_cd_new_geometry)
{
	struct t *t = t_new(BENCH_S_TRAP);
	char buf[256];

	lay_tables(t);
	*fx_desc(t->f, E(L3, 0)) = s1_page(D);
	/* At level 2 a table (of zeros) at D + 0x5000; at level 3 a page. */
	*fx_desc(t->f, E(L2, 1)) = s1_page(D + 0x5000);
	cfgi_cd(t, cd0(0, 16, ASID), ROOT);
	ck_assert_str_eq(fx_sink_str(t->sink, buf, sizeof(buf)),
			 "0:40800000:1000:rw;");
	/* ias 39: ROOT is level 1, so L2 is a level-3 table. */
	cfgi_cd(t, cd0(0, 25, ASID), ROOT);
	ck_assert_ptr_nonnull(smmu_domain(t->s));
	ck_assert_str_eq(fx_sink_str(t->sink, buf, sizeof(buf)),
			 "1000:40805000:1000:rw;");
	ck_assert_int_eq(smmu_verify(t->s), 0);
	t_free(t);
}
END_TEST

/* Bad CDs are command errors; the earlier context stays. */
static const struct bad_cd {
	uint64_t w0, ttb0, cd_base;
	const char *reason;
} bad_cds[] = {
	{ CD0_V | CD0_T0SZ(16), ROOT, CD, "AA64" },
	{ CD0_V | CD0_AA64 | CD0_TG0(3) | CD0_T0SZ(16), ROOT, CD, "TG0" },
	{ CD0_V | CD0_AA64 | CD0_T0SZ(15), ROOT, CD, "T0SZ" },
	{ CD0_V | CD0_AA64 | CD0_T0SZ(40), ROOT, CD, "T0SZ" },
	{ CD0_V | CD0_AA64 | CD0_T0SZ(16), ROOT + 0x10, CD, "misaligned" },
	{ CD0_V | CD0_AA64 | CD0_T0SZ(16), 0x1000, CD, "TTB0" },
	{ CD0_V | CD0_AA64 | CD0_T0SZ(16), ROOT, 0x1000, "CD at" },
};

START_TEST(test_cd_bad)
{
	const struct bad_cd *c = &bad_cds[_i];
	struct t *t = t_new(BENCH_S_TRAP);
	uint64_t w[2];

	lay_tables(t);
	*fx_desc(t->f, E(L3, 0)) = s1_page(D);
	cfgi_cd(t, cd0(0, 16, ASID), ROOT);
	write_cd(t, c->w0, c->ttb0);
	ck_assert_int_eq(wr(t, SMMU_R_CD_BASE, c->cd_base, 8), 0);
	C_CFGI_CD(w);
	push(t, w);
	ring(t);
	ck_assert_uint_eq(cons(t), (t->prod - 1) |
			  SMMU_CERROR_ILL << SMMU_CONS_ERR_SHIFT);
	ck_assert_msg(strstr(smmu_last_error(t->s), c->reason), "%s",
		      smmu_last_error(t->s));
	ck_assert_int_eq(sink_count(t->sink), 1);
	ck_assert_uint_eq(stats(t).cmd_errors, 1);
	t_free(t);
}
END_TEST

/* Before any CD, TLBIs have no domain to act on. */
START_TEST(test_tlbi_before_cd)
{
	struct t *t = t_new(BENCH_S_INVAL);
	uint64_t w[2];

	c_tlbi_va(w, ASID, 0, 0, 0, 0);
	run1(t, w);
	c_tlbi_asid(w, 0);
	run1(t, w);
	w[0] = CMD_TLBI_NSNH_ALL;
	run1(t, w);
	ck_assert_ptr_null(smmu_domain(t->s));
	ck_assert_uint_eq(stats(t).cmds, 3);
	ck_assert_uint_eq(stats(t).cmd_errors, 0);
	ck_assert_int_eq(smmu_verify(t->s), 0);
	t_free(t);
}
END_TEST

static int64_t request(struct t *t, uint32_t op, uint32_t perm, uint64_t iova,
		       uint64_t gpa, uint64_t size)
{
	struct bench_req r = { .op = op, .perm = perm, .iova = iova,
			       .gpa = gpa, .size = size, .status = 0x5a5a };

	memcpy(t->f->ram + (REQ - B), &r, sizeof(r));
	ck_assert_int_eq(wr(t, SMMU_R_REQ, REQ, 8), 0);
	memcpy(&r, t->f->ram + (REQ - B), sizeof(r));
	return (int64_t)r.status;
}

START_TEST(test_explicit_requests)
{
	struct t *t = t_new(BENCH_S_EXPLICIT);
	char buf[256];
	struct smmu_stats st;

	ck_assert_int_eq(request(t, BENCH_REQ_MAP, BENCH_PERM_R | BENCH_PERM_W,
				 0x100000, D, 0x2000), 0);
	ck_assert_int_eq(request(t, BENCH_REQ_MAP, BENCH_PERM_R, 0x200000,
				 D + 0x200000, 0x1000), 0);
	ck_assert_str_eq(fx_sink_str(t->sink, buf, sizeof(buf)),
			 "100000:40800000:2000:rw;200000:40a00000:1000:r;");
	ck_assert_int_eq(sink_count(t->check), 0);
	ck_assert_int_eq(request(t, BENCH_REQ_UNMAP, 0, 0x100000, 0, 0x2000),
			 0);
	ck_assert_str_eq(fx_sink_str(t->sink, buf, sizeof(buf)),
			 "200000:40a00000:1000:r;");
	/* GPA range leaving RAM: -EFAULT, nothing mapped. */
	ck_assert_int_eq(request(t, BENCH_REQ_MAP, BENCH_PERM_R, 0x300000,
				 B + FX_RAM_SIZE - 0x1000, 0x2000), -EFAULT);
	ck_assert_int_eq(request(t, BENCH_REQ_MAP, BENCH_PERM_R, 0x300000,
				 0x1000, 0x1000), -EFAULT);
	/* Malformed requests. */
	ck_assert_int_eq(request(t, BENCH_REQ_MAP, 0, 0x300000, D, 0x1000),
			 -EINVAL);
	ck_assert_int_eq(request(t, BENCH_REQ_MAP, 4, 0x300000, D, 0x1000),
			 -EINVAL);
	ck_assert_int_eq(request(t, BENCH_REQ_MAP, 1, 0x300800, D, 0x1000),
			 -EINVAL);
	ck_assert_int_eq(request(t, BENCH_REQ_MAP, 1, 0x300000, D, 0), -EINVAL);
	ck_assert_int_eq(request(t, 9, 1, 0x300000, D, 0x1000), -EINVAL);
	/* The sink's own refusals come back as they are. */
	ck_assert_int_eq(request(t, BENCH_REQ_MAP, 1, 0x200000, D, 0x1000),
			 -EEXIST);
	ck_assert_int_eq(request(t, BENCH_REQ_UNMAP, 0, 0x200000, 0, 0x2000),
			 -EINVAL);
	ck_assert_str_eq(fx_sink_str(t->sink, buf, sizeof(buf)),
			 "200000:40a00000:1000:r;");
	/* A request block outside RAM: nowhere to write a status. */
	ck_assert_int_eq(wr(t, SMMU_R_REQ, 0x1000, 8), 0);
	ck_assert_int_eq(wr(t, SMMU_R_REQ, B + FX_RAM_SIZE - 8, 8), 0);
	st = stats(t);
	ck_assert_uint_eq(st.requests, 14);
	ck_assert_uint_eq(st.req_errors, 11);
	ck_assert_ptr_nonnull(strstr(smmu_last_error(t->s), "not in RAM"));
	t_free(t);
}
END_TEST

/* Only the explicit strategy takes requests. */
START_TEST(test_request_not_explicit)
{
	struct t *t = t_new(BENCH_S_TRAP);

	ck_assert_int_eq(request(t, BENCH_REQ_MAP, 1, 0, D, 0x1000),
			 -EOPNOTSUPP);
	ck_assert_int_eq(sink_count(t->sink), 0);
	ck_assert_uint_eq(stats(t).req_errors, 1);
	t_free(t);
}
END_TEST

/* EXPLICIT: the guest writes its tables and asks for each map; TLBIs do not
 * walk the check domain; verify compares what the requests mapped with a
 * full walk, page by page (runs, not calls). */
static void explicit_verify(struct t *t, struct wpt_sink *readable)
{
	uint64_t w[2];

	lay_tables(t);
	cfgi_cd(t, cd0(0, 16, ASID), ROOT);
	map_page(t, 1);
	map_page(t, 2);
	ck_assert_int_eq(request(t, BENCH_REQ_MAP, 3, 0x1000, D + 0x1000,
				 0x1000), 0);
	ck_assert_int_eq(request(t, BENCH_REQ_MAP, 3, 0x2000, D + 0x2000,
				 0x1000), 0);
	c_tlbi_va(w, ASID, 0x1000, 1, 1, 0);
	run1(t, w);
	ck_assert_int_eq(sink_count(t->check), 0);
	ck_assert_uint_eq(stats(t).inval_ns, 0);
	ck_assert_int_eq(smmu_verify(t->s), 0);
	ck_assert_int_eq(sink_count(t->check), 1); /* one 8K run */
	if (readable)
		ck_assert_int_eq(sink_count(readable), 2);
	ck_assert_str_eq(smmu_last_error(t->s), "");
	/* A page the tables do not map. */
	ck_assert_int_eq(request(t, BENCH_REQ_MAP, 3, 0x3000, D + 0x3000,
				 0x1000), 0);
	ck_assert_int_eq(smmu_verify(t->s), -EIO);
	ck_assert_msg(strstr(smmu_last_error(t->s), "differ") &&
		      strstr(smmu_last_error(t->s), "from IOVA 0x3000"),
		      "%s", smmu_last_error(t->s));
	/* The guest maps it too: consistent again. */
	map_page(t, 3);
	ck_assert_int_eq(smmu_verify(t->s), 0);
	/* A wrong permission is a difference too. */
	ck_assert_int_eq(request(t, BENCH_REQ_UNMAP, 0, 0x3000, 0, 0x1000), 0);
	ck_assert_int_eq(request(t, BENCH_REQ_MAP, 1, 0x3000, D + 0x3000,
				 0x1000), 0);
	ck_assert_int_eq(smmu_verify(t->s), -EIO);
	/* A missing page too. */
	ck_assert_int_eq(request(t, BENCH_REQ_UNMAP, 0, 0x3000, 0, 0x1000), 0);
	ck_assert_int_eq(smmu_verify(t->s), -EIO);
	ck_assert_msg(strstr(smmu_last_error(t->s), "from IOVA 0x3000"), "%s",
		      smmu_last_error(t->s));
	unmap_page(t, 3);
	ck_assert_int_eq(smmu_verify(t->s), 0);
}

START_TEST(test_explicit_verify)
{
	struct t *t = t_new(BENCH_S_EXPLICIT);

	explicit_verify(t, t->sink);
	t_free(t);
}
END_TEST

static int cb_map(void *o, uint64_t iova, uint64_t gpa, void *hva,
		  uint64_t size, uint32_t perm)
{
	(*(int *)o)++;
	return 0;
}

static int cb_unmap(void *o, uint64_t iova, uint64_t size)
{
	(*(int *)o)--;
	return 0;
}

/* A sink that cannot be read back (VFIO, a callback): verify compares a
 * record of the requests that succeeded. */
START_TEST(test_explicit_verify_callback_sink)
{
	static const struct wpt_sink_ops ops = { cb_map, cb_unmap };
	struct wpt_sink *cb;
	int held = 0;
	struct t *t;

	ck_assert_int_eq(wpt_sink_callback_new(&ops, &held, &cb), 0);
	t = t_new_sinks(BENCH_S_EXPLICIT, cb);
	explicit_verify(t, NULL);
	ck_assert_int_eq(held, 2);
	t_free(t);
}
END_TEST

/* TRAP: a store the library never saw (made behind its back) fails
 * verification with a reason. */
START_TEST(test_verify_trap_detects)
{
	struct t *t = t_new(BENCH_S_TRAP);

	lay_tables(t);
	cfgi_cd(t, cd0(0, 16, ASID), ROOT);
	map_page(t, 1);
	ck_assert_int_eq(smmu_verify(t->s), 0);
	*fx_desc(t->f, E(L3, 9)) = s1_page(D); /* not trapped */
	ck_assert_int_eq(smmu_verify(t->s), -EIO);
	ck_assert_ptr_nonnull(strstr(smmu_last_error(t->s), "differences"));
	t_free(t);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bench_smmu");
	TCase *tc = tcase_create("smmu");

	tcase_add_test(tc, test_new_bad_config);
	tcase_add_test(tc, test_registers);
	tcase_add_loop_test(tc, test_bad_access, 0,
			    sizeof(bad_accesses) / sizeof(bad_accesses[0]));
	tcase_add_test(tc, test_cfgi_cd_trap);
	tcase_add_test(tc, test_cfgi_cd_inval);
	tcase_add_test(tc, test_hybrid);
	tcase_add_loop_test(tc, test_tlbi_va_range, 0,
			    sizeof(range_cases) / sizeof(range_cases[0]));
	tcase_add_test(tc, test_tlbi_asid_and_all);
	tcase_add_test(tc, test_sync_msi);
	tcase_add_test(tc, test_sync_msi_on_table);
	tcase_add_test(tc, test_queue_wrap);
	tcase_add_test(tc, test_illegal_opcode);
	tcase_add_test(tc, test_cd_clear);
	tcase_add_test(tc, test_cd_new_geometry);
	tcase_add_loop_test(tc, test_cd_bad, 0,
			    sizeof(bad_cds) / sizeof(bad_cds[0]));
	tcase_add_test(tc, test_tlbi_before_cd);
	tcase_add_test(tc, test_explicit_requests);
	tcase_add_test(tc, test_request_not_explicit);
	tcase_add_test(tc, test_explicit_verify);
	tcase_add_test(tc, test_explicit_verify_callback_sink);
	tcase_add_test(tc, test_verify_trap_detects);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
