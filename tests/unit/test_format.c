/* SPDX-License-Identifier: MIT */
/*
 * Arm VMSAv8-64 stage 1 and stage 2 formats: geometry (start level and
 * start-table size for every granule and input size, stage 2 concatenation)
 * and descriptor decoding, table-driven.  Every expected value below was
 * worked out by hand from the architecture's rules, not with the code's
 * formulas: level shifts are 4K 12/21/30/39, 16K 14/25/36/47, 64K
 * 16/29/42 for levels 3/2/1/0.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "format/format.h"

#define S1 WPT_FMT_ARM_LPAE_S1
#define S2 WPT_FMT_ARM_LPAE_S2
#define K4 4096
#define K16 16384
#define K64 65536
#define KIB(n) ((uint64_t)(n) << 10)
#define MIB(n) ((uint64_t)(n) << 20)
#define GIB(n) ((uint64_t)(n) << 30)
#define TIB(n) ((uint64_t)(n) << 40)

/* Descriptor bits, spelled from the architecture for the tests' own use. */
#define VALID  0x1ull
#define BLOCK  0x1ull             /* bits[1:0] = 0b01 */
#define TABLE  0x3ull             /* bits[1:0] = 0b11: table, or L3 page */
#define PAGE   0x3ull
#define AF     (1ull << 10)
#define AP_RO  (1ull << 7)        /* stage 1 AP[2] */
#define AP_EL0 (1ull << 6)        /* stage 1 AP[1] */
#define APT_RO (1ull << 62)       /* stage 1 APTable[1] */
#define APT_NOEL0 (1ull << 61)    /* stage 1 APTable[0] */
#define S2R    (1ull << 6)        /* S2AP[0] */
#define S2W    (1ull << 7)        /* S2AP[1] */
#define CONT   (1ull << 52)
#define HPD    WPT_FMT_F_HPD

#define R  WPT_PERM_READ
#define W  WPT_PERM_WRITE
#define RW (WPT_PERM_READ | WPT_PERM_WRITE)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static int init_geo(enum wpt_format fmt, uint32_t granule, uint32_t ias,
		    uint32_t oas, uint32_t flags, int32_t sl, uint32_t concat,
		    struct wpt_pgtable_geo *geo)
{
	const struct wpt_format_ops *ops = wpt_format_lookup(fmt);
	struct wpt_format_cfg cfg = {
		.size = sizeof(cfg), .format = fmt, .granule = granule,
		.ias = ias, .oas = oas, .flags = flags, .sl = sl,
		.concat = concat,
	};

	ck_assert_ptr_nonnull(ops);
	memset(geo, 0xa5, sizeof(*geo));
	return ops->init(&cfg, geo);
}

/* ---------------------------------------------------------- lookup */

START_TEST(test_lookup)
{
	const struct wpt_format_ops *s1 = wpt_format_lookup(S1);
	const struct wpt_format_ops *s2 = wpt_format_lookup(S2);

	ck_assert_ptr_eq(s1, &wpt_arm_lpae_s1_ops);
	ck_assert_ptr_eq(s2, &wpt_arm_lpae_s2_ops);
	ck_assert_int_eq(s1->format, S1);
	ck_assert_int_eq(s2->format, S2);
	ck_assert_str_ne(s1->name, s2->name);
	ck_assert_ptr_null(wpt_format_lookup(0));
	ck_assert_ptr_null(wpt_format_lookup(3));
	ck_assert_ptr_null(wpt_format_lookup((enum wpt_format)-1));
	ck_assert_ptr_null(wpt_format_lookup((enum wpt_format)1000));
}
END_TEST

/* ------------------------------------------------ geometry: levels */

/* The start level for a run of input sizes (sl = -1 for stage 2). */
struct level_range {
	enum wpt_format fmt;
	uint32_t granule, ias_lo, ias_hi;
	int start;
};

static const struct level_range level_ranges[] = {
	/* Stage 1: fewest levels whose tables resolve ias - granule bits. */
	{ S1, K4, 25, 30, 2 }, { S1, K4, 31, 39, 1 }, { S1, K4, 40, 48, 0 },
	{ S1, K16, 25, 25, 3 }, { S1, K16, 26, 36, 2 },
	{ S1, K16, 37, 47, 1 }, { S1, K16, 48, 48, 0 },
	{ S1, K64, 25, 29, 3 }, { S1, K64, 30, 42, 2 }, { S1, K64, 43, 48, 1 },
	/* Stage 2: concatenating up to 16 start tables covers 4 more bits;
	 * 4K cannot start at L3 (FEAT_TTST), 16K not at L0 (FEAT_LPA2). */
	{ S2, K4, 25, 34, 2 }, { S2, K4, 35, 43, 1 }, { S2, K4, 44, 48, 0 },
	{ S2, K16, 25, 29, 3 }, { S2, K16, 30, 40, 2 }, { S2, K16, 41, 48, 1 },
	{ S2, K64, 25, 33, 3 }, { S2, K64, 34, 46, 2 }, { S2, K64, 47, 48, 1 },
};

START_TEST(test_start_level_every_ias)
{
	static const enum wpt_format fmts[] = { S1, S2 };
	static const uint32_t granules[] = { K4, K16, K64 };
	unsigned int f, g, ias, k;

	for (f = 0; f < ARRAY_LEN(fmts); f++)
	for (g = 0; g < ARRAY_LEN(granules); g++)
	for (ias = 25; ias <= 48; ias++) {
		const struct level_range *r = NULL;
		struct wpt_pgtable_geo geo;
		unsigned int gs = granules[g] == K4 ? 12 :
				  granules[g] == K16 ? 14 : 16;

		for (k = 0; k < ARRAY_LEN(level_ranges); k++)
			if (level_ranges[k].fmt == fmts[f] &&
			    level_ranges[k].granule == granules[g] &&
			    ias >= level_ranges[k].ias_lo &&
			    ias <= level_ranges[k].ias_hi)
				r = &level_ranges[k];
		ck_assert_msg(r, "no expectation for fmt %d granule %u ias %u",
			      fmts[f], granules[g], ias);
		ck_assert_int_eq(init_geo(fmts[f], granules[g], ias, 48, 0, -1,
					  0, &geo), 0);
		ck_assert_msg(geo.start_level == r->start,
			      "fmt %d granule %u ias %u: start %d, want %d",
			      fmts[f], granules[g], ias, geo.start_level,
			      r->start);
		ck_assert_uint_eq(geo.granule_shift, gs);
		ck_assert_uint_eq(geo.bits_per_level, gs - 3);
		ck_assert_uint_eq(geo.ias, ias);
		ck_assert_uint_eq(geo.oas, 48);
		ck_assert_uint_eq(geo.flags, 0);
		/* The start table(s) cover exactly the input range, with at
		 * least two entries and at most 16 granules. */
		ck_assert_uint_eq(geo.root_size % 8, 0);
		ck_assert_uint_ge(geo.root_size, 16);
		ck_assert_uint_le(geo.root_size, 16ull * granules[g]);
		ck_assert_uint_eq((geo.root_size / 8)
				  << geo_level_shift(&geo, geo.start_level),
				  1ull << ias);
		if (fmts[f] == S1)
			ck_assert_uint_le(geo.root_size, granules[g]);
	}
}
END_TEST

/* ------------------------------------------- geometry: spot values */

struct geo_case {
	enum wpt_format fmt;
	uint32_t granule, ias;
	int32_t sl;
	uint32_t concat;
	int ret;
	int start;
	uint64_t root_size;
};

static const struct geo_case geo_cases[] = {
	/* Stage 1, 4K */
	{ S1, K4, 25, -1, 0, 0, 2, 128 },      /* 16 entries at L2 */
	{ S1, K4, 30, -1, 0, 0, 2, KIB(4) },
	{ S1, K4, 31, -1, 0, 0, 1, 16 },
	{ S1, K4, 32, -1, 0, 0, 1, 32 },
	{ S1, K4, 39, -1, 0, 0, 1, KIB(4) },
	{ S1, K4, 40, -1, 0, 0, 0, 16 },
	{ S1, K4, 48, -1, 0, 0, 0, KIB(4) },
	/* Stage 1, 16K */
	{ S1, K16, 25, -1, 0, 0, 3, KIB(16) }, /* one level, full table */
	{ S1, K16, 26, -1, 0, 0, 2, 16 },
	{ S1, K16, 36, -1, 0, 0, 2, KIB(16) },
	{ S1, K16, 37, -1, 0, 0, 1, 16 },
	{ S1, K16, 47, -1, 0, 0, 1, KIB(16) },
	{ S1, K16, 48, -1, 0, 0, 0, 16 },      /* 2 entries at L0 */
	/* Stage 1, 64K */
	{ S1, K64, 25, -1, 0, 0, 3, KIB(4) },
	{ S1, K64, 29, -1, 0, 0, 3, KIB(64) },
	{ S1, K64, 30, -1, 0, 0, 2, 16 },
	{ S1, K64, 42, -1, 0, 0, 2, KIB(64) },
	{ S1, K64, 43, -1, 0, 0, 1, 16 },
	{ S1, K64, 48, -1, 0, 0, 1, 512 },     /* 64 entries at L1 */
	/* Stage 1 has no SL0 or concatenation: the fields are ignored. */
	{ S1, K4, 39, 0, 0, 0, 1, KIB(4) },
	{ S1, K4, 39, 3, 4, 0, 1, KIB(4) },

	/* Stage 2, derived start level, 4K */
	{ S2, K4, 25, -1, 0, 0, 2, 128 },
	{ S2, K4, 30, -1, 0, 0, 2, KIB(4) },
	{ S2, K4, 31, -1, 0, 0, 2, KIB(8) },   /* 2 tables */
	{ S2, K4, 34, -1, 0, 0, 2, KIB(64) },  /* 16 tables */
	{ S2, K4, 35, -1, 0, 0, 1, 256 },
	{ S2, K4, 39, -1, 0, 0, 1, KIB(4) },
	{ S2, K4, 40, -1, 0, 0, 1, KIB(8) },
	{ S2, K4, 43, -1, 0, 0, 1, KIB(64) },
	{ S2, K4, 44, -1, 0, 0, 0, 256 },
	{ S2, K4, 48, -1, 0, 0, 0, KIB(4) },
	/* Stage 2, derived, 16K */
	{ S2, K16, 25, -1, 0, 0, 3, KIB(16) },
	{ S2, K16, 26, -1, 0, 0, 3, KIB(32) },
	{ S2, K16, 29, -1, 0, 0, 3, KIB(256) },
	{ S2, K16, 30, -1, 0, 0, 2, 256 },
	{ S2, K16, 36, -1, 0, 0, 2, KIB(16) },
	{ S2, K16, 37, -1, 0, 0, 2, KIB(32) },
	{ S2, K16, 40, -1, 0, 0, 2, KIB(256) },
	{ S2, K16, 41, -1, 0, 0, 1, 256 },
	{ S2, K16, 47, -1, 0, 0, 1, KIB(16) },
	{ S2, K16, 48, -1, 0, 0, 1, KIB(32) },
	/* Stage 2, derived, 64K */
	{ S2, K64, 25, -1, 0, 0, 3, KIB(4) },
	{ S2, K64, 29, -1, 0, 0, 3, KIB(64) },
	{ S2, K64, 30, -1, 0, 0, 3, KIB(128) },
	{ S2, K64, 33, -1, 0, 0, 3, MIB(1) },
	{ S2, K64, 34, -1, 0, 0, 2, 256 },
	{ S2, K64, 42, -1, 0, 0, 2, KIB(64) },
	{ S2, K64, 43, -1, 0, 0, 2, KIB(128) },
	{ S2, K64, 46, -1, 0, 0, 2, MIB(1) },
	{ S2, K64, 47, -1, 0, 0, 1, 256 },
	{ S2, K64, 48, -1, 0, 0, 1, 512 },
	/* Stage 2, given start level and concatenation */
	{ S2, K4, 40, 1, 0, 0, 1, KIB(8) },    /* concat 2 derived */
	{ S2, K4, 40, 1, 2, 0, 1, KIB(8) },
	{ S2, K4, 40, 0, 0, 0, 0, 16 },        /* 2 entries at L0 */
	{ S2, K4, 40, 0, 1, 0, 0, 16 },
	{ S2, K4, 32, 2, 4, 0, 2, KIB(16) },
	{ S2, K4, 32, 1, 0, 0, 1, 32 },
	{ S2, K4, 31, 1, 1, 0, 1, 16 },
	{ S2, K4, 48, 0, 1, 0, 0, KIB(4) },
	{ S2, K4, 34, -1, 16, 0, 2, KIB(64) },
	/* sl = -1 with a concat: the largest start level that gives it */
	{ S2, K4, 40, -1, 2, 0, 1, KIB(8) },
	{ S2, K4, 40, -1, 1, 0, 0, 16 },
	{ S2, K16, 25, 3, 0, 0, 3, KIB(16) },
	{ S2, K16, 40, 1, 0, 0, 1, 128 },
	{ S2, K64, 48, 1, 0, 0, 1, 512 },
	{ S2, K64, 33, 3, 16, 0, 3, MIB(1) },
	/* Stage 2 refusals */
	{ S2, K4, 44, 1, 0, -EINVAL, 0, 0 },         /* 32 tables at L1 */
	{ S2, K4, 44, 1, 16, -EINVAL, 0, 0 },
	{ S2, K64, 34, 3, 0, -EINVAL, 0, 0 },        /* 32 tables at L3 */
	{ S2, K4, 25, 3, 0, -EINVAL, 0, 0 },         /* 4K L3 start needs TTST */
	{ S2, K16, 48, 0, 0, -EINVAL, 0, 0 },        /* 16K L0 start needs LPA2 */
	{ S2, K64, 48, 0, 0, -EINVAL, 0, 0 },        /* 64K has no L0 */
	{ S2, K4, 39, 0, 0, -EINVAL, 0, 0 },         /* one entry at L0 */
	{ S2, K4, 30, 1, 0, -EINVAL, 0, 0 },         /* one entry at L1 */
	{ S2, K64, 42, 1, 0, -EINVAL, 0, 0 },        /* one entry at L1 */
	{ S2, K4, 40, 1, 1, -EINVAL, 0, 0 },         /* needs 2, not 1 */
	{ S2, K4, 40, 1, 4, -EINVAL, 0, 0 },
	{ S2, K4, 35, 1, 2, -EINVAL, 0, 0 },         /* partial table, not 2 */
	{ S2, K4, 40, 1, 3, -EINVAL, 0, 0 },         /* not a power of two */
	{ S2, K4, 40, 1, 6, -EINVAL, 0, 0 },
	{ S2, K4, 34, 2, 17, -EINVAL, 0, 0 },
	{ S2, K4, 34, -1, 32, -EINVAL, 0, 0 },
	{ S2, K4, 48, -1, 2, -EINVAL, 0, 0 },        /* L0 gives 1, L1 512 */
	{ S2, K16, 48, -1, 1, -EINVAL, 0, 0 },       /* L1 gives 2, no L0 */
	{ S2, K4, 40, 4, 0, -EINVAL, 0, 0 },
	{ S2, K4, 40, -2, 0, -EINVAL, 0, 0 },
	{ S2, K4, 40, 100, 0, -EINVAL, 0, 0 },
};

START_TEST(test_geometry_spots)
{
	const struct geo_case *c = &geo_cases[_i];
	struct wpt_pgtable_geo geo;
	int ret = init_geo(c->fmt, c->granule, c->ias, 40, 0, c->sl, c->concat,
			   &geo);

	ck_assert_msg(ret == c->ret, "case %d: ret %d, want %d", _i, ret,
		      c->ret);
	if (ret)
		return;
	ck_assert_msg(geo.start_level == c->start, "case %d: start %d, want %d",
		      _i, geo.start_level, c->start);
	ck_assert_msg(geo.root_size == c->root_size,
		      "case %d: root %llu, want %llu", _i,
		      (unsigned long long)geo.root_size,
		      (unsigned long long)c->root_size);
	ck_assert_uint_eq(geo.oas, 40);
	ck_assert_uint_eq(geo.ias, c->ias);
}
END_TEST

/* ------------------------------------------------ invalid configs */

struct bad_cfg {
	enum wpt_format ops;      /* whose init is called */
	struct wpt_format_cfg cfg;
};

#define CFG(f, g, i, o, fl, s, c) \
	{ .size = sizeof(struct wpt_format_cfg), .format = (f), .granule = (g), \
	  .ias = (i), .oas = (o), .flags = (fl), .sl = (s), .concat = (c) }

static const struct bad_cfg bad_cfgs[] = {
	{ S1, CFG(S2, K4, 39, 40, 0, -1, 0) },  /* another format's cfg */
	{ S2, CFG(S1, K4, 39, 40, 0, -1, 0) },
	{ S1, CFG(0, K4, 39, 40, 0, -1, 0) },
	{ S1, CFG(S1, 0, 39, 40, 0, -1, 0) },
	{ S1, CFG(S1, 2048, 39, 40, 0, -1, 0) },
	{ S1, CFG(S1, 8192, 39, 40, 0, -1, 0) },
	{ S1, CFG(S1, 32768, 39, 40, 0, -1, 0) },
	{ S2, CFG(S2, 1u << 21, 39, 40, 0, -1, 0) },
	{ S2, CFG(S2, K4 + 1, 39, 40, 0, -1, 0) },
	{ S1, CFG(S1, K4, 24, 40, 0, -1, 0) },
	{ S1, CFG(S1, K4, 49, 40, 0, -1, 0) },
	{ S1, CFG(S1, K16, 0, 40, 0, -1, 0) },
	{ S1, CFG(S1, K64, 64, 40, 0, -1, 0) },
	{ S2, CFG(S2, K4, 24, 40, 0, -1, 0) },
	{ S2, CFG(S2, K64, 49, 40, 0, -1, 0) },
	{ S1, CFG(S1, K4, 39, 31, 0, -1, 0) },
	{ S1, CFG(S1, K4, 39, 49, 0, -1, 0) },
	{ S1, CFG(S1, K4, 39, 52, 0, -1, 0) },
	{ S1, CFG(S1, K4, 39, 0, 0, -1, 0) },
	{ S2, CFG(S2, K4, 39, 31, 0, -1, 0) },
	{ S2, CFG(S2, K4, 39, 52, 0, -1, 0) },
	{ S1, CFG(S1, K4, 39, 40, 2, -1, 0) },  /* unknown flags */
	{ S1, CFG(S1, K4, 39, 40, HPD | 0x80000000u, -1, 0) },
	{ S2, CFG(S2, K4, 39, 40, HPD, -1, 0) }, /* HPD is stage 1 only */
};

START_TEST(test_invalid_configs)
{
	const struct bad_cfg *b = &bad_cfgs[_i];
	const struct wpt_format_ops *ops = wpt_format_lookup(b->ops);
	struct wpt_pgtable_geo geo;

	ck_assert_msg(ops->init(&b->cfg, &geo) == -EINVAL, "case %d accepted",
		      _i);
}
END_TEST

START_TEST(test_geo_all_fields)
{
	struct wpt_pgtable_geo geo;

	ck_assert_int_eq(init_geo(S1, K16, 47, 44, HPD, -1, 0, &geo), 0);
	ck_assert_uint_eq(geo.granule_shift, 14);
	ck_assert_uint_eq(geo.bits_per_level, 11);
	ck_assert_int_eq(geo.start_level, 1);
	ck_assert_uint_eq(geo.ias, 47);
	ck_assert_uint_eq(geo.oas, 44);
	ck_assert_uint_eq(geo.root_size, KIB(16));
	ck_assert_uint_eq(geo.flags, HPD);

	ck_assert_int_eq(init_geo(S2, K64, 46, 36, 0, 2, 16, &geo), 0);
	ck_assert_uint_eq(geo.granule_shift, 16);
	ck_assert_uint_eq(geo.bits_per_level, 13);
	ck_assert_int_eq(geo.start_level, 2);
	ck_assert_uint_eq(geo.ias, 46);
	ck_assert_uint_eq(geo.oas, 36);
	ck_assert_uint_eq(geo.root_size, MIB(1));
	ck_assert_uint_eq(geo.flags, 0);
	/* Non-start levels are one granule. */
	ck_assert_uint_eq(geo_table_size(&geo, 3), K64);
	ck_assert_uint_eq(geo_table_entries(&geo, 2), MIB(1) / 8);
}
END_TEST

/* ---------------------------------------------------------- decode */

enum { I = WPT_DESC_INVALID, T = WPT_DESC_TABLE, L = WPT_DESC_LEAF };
enum {
	F_NONE = WPT_FAULT_NONE, F_ASZ = WPT_FAULT_ADDR_SIZE,
	F_RES = WPT_FAULT_RESERVED, F_AF = WPT_FAULT_NO_AF,
	F_NOACC = WPT_FAULT_NO_ACCESS,
};

/* Expected decodings: a fault, a table (next GPA, subtree perms), a leaf. */
#define INV(f) { I, f, 0, 0, 0, false }
#define TBL(addr, perm) { T, F_NONE, addr, 0, perm, false }
#define LEAF(addr, size, perm) { L, F_NONE, addr, size, perm, false }
#define LEAF_CONTIG(addr, size, perm) { L, F_NONE, addr, size, perm, true }

struct expect {
	int type, fault;
	uint64_t addr, size;
	uint32_t perm;
	bool contig;
};

struct decode_case {
	const char *what;
	enum wpt_format fmt;
	uint32_t granule, ias, oas, flags;
	int level;
	uint64_t desc;
	struct expect want;
};

#define S1_4K(oas)  S1, K4, 48, oas, 0         /* levels 0..3 */
#define S1_16K(oas) S1, K16, 48, oas, 0        /* levels 0..3 */
#define S1_64K(oas) S1, K64, 48, oas, 0        /* levels 1..3 */
#define S2_4K(oas)  S2, K4, 48, oas, 0         /* levels 0..3 */
#define S2_16K(oas) S2, K16, 48, oas, 0        /* levels 1..3 */
#define S2_64K(oas) S2, K64, 48, oas, 0        /* levels 1..3 */

static const struct decode_case decode_cases[] = {
	/* Stage 1, 4K */
	{ "zero", S1_4K(48), 0, 0, INV(F_NONE) },
	{ "bit 0 clear, rest set", S1_4K(48), 0, ~VALID, INV(F_NONE) },
	{ "bit 0 clear at L3", S1_4K(48), 3, ~VALID, INV(F_NONE) },
	{ "0b10 at L3", S1_4K(48), 3, 0x1000 | AF | 0x2, INV(F_NONE) },
	{ "L0 table", S1_4K(48), 0, 0x123456789000ull | TABLE,
	  TBL(0x123456789000ull, RW) },
	{ "L0 table, top address bit", S1_4K(48), 0, 0xfffffffff000ull | TABLE,
	  TBL(0xfffffffff000ull, RW) },
	{ "L0 block reserved", S1_4K(48), 0, TIB(1) | BLOCK | AF, INV(F_RES) },
	/* Bit 10 means nothing in a table: 0b11 with it is no page there. */
	{ "L2 table, bit 10 set", S1_4K(48), 2, 0x40000000ull | TABLE | AF,
	  TBL(0x40000000ull, RW) },
	{ "L1 table, bit 10 set", S1_4K(48), 1, 0x7000ull | TABLE | AF,
	  TBL(0x7000ull, RW) },
	{ "L1 block", S1_4K(48), 1, GIB(1) | BLOCK | AF,
	  LEAF(GIB(1), GIB(1), RW) },
	{ "L1 block, RES0 [29:12] ignored", S1_4K(48), 1,
	  GIB(1) | 0x3ffff000 | BLOCK | AF, LEAF(GIB(1), GIB(1), RW) },
	{ "L2 block", S1_4K(48), 2, MIB(2) | BLOCK | AF,
	  LEAF(MIB(2), MIB(2), RW) },
	{ "L2 block at bit 47", S1_4K(48), 2, 0x800000000000ull | BLOCK | AF,
	  LEAF(0x800000000000ull, MIB(2), RW) },
	{ "L2 table", S1_4K(48), 2, 0x5000 | TABLE, TBL(0x5000, RW) },
	{ "L3 0b01 reserved", S1_4K(48), 3, 0x1000 | BLOCK | AF, INV(F_RES) },
	{ "L3 page", S1_4K(48), 3, 0x1000 | PAGE | AF,
	  LEAF(0x1000, K4, RW) },
	{ "L3 page, AF clear", S1_4K(48), 3, 0x1000 | PAGE, INV(F_AF) },
	{ "L1 block, AF clear", S1_4K(48), 1, GIB(1) | BLOCK, INV(F_AF) },
	{ "L3 page, AP[2]", S1_4K(48), 3, 0x1000 | PAGE | AF | AP_RO,
	  LEAF(0x1000, K4, R) },
	{ "L2 block, AP[2]", S1_4K(48), 2, MIB(4) | BLOCK | AF | AP_RO,
	  LEAF(MIB(4), MIB(2), R) },
	{ "L3 page, AP[1] only", S1_4K(48), 3, 0x1000 | PAGE | AF | AP_EL0,
	  LEAF(0x1000, K4, RW) },
	{ "L3 page, contiguous", S1_4K(48), 3, 0x1000 | PAGE | AF | CONT,
	  LEAF_CONTIG(0x1000, K4, RW) },
	/* bits 63:53 and 51:48 are attributes, software or RES0 */
	{ "L3 page, high bits", S1_4K(48), 3,
	  0xffef000000001000ull | PAGE | AF, LEAF(0x1000, K4, RW) },
	{ "L1 table, APTable[1]", S1_4K(48), 1, 0x5000 | TABLE | APT_RO,
	  TBL(0x5000, R) },
	{ "L1 table, APTable[1], HPD", S1, K4, 48, 48, HPD, 1,
	  0x5000 | TABLE | APT_RO, TBL(0x5000, RW) },
	{ "L0 table, APTable[0] only", S1_4K(48), 0, 0x5000 | TABLE | APT_NOEL0,
	  TBL(0x5000, RW) },
	{ "HPD leaves AP[2]", S1, K4, 48, 48, HPD, 3,
	  0x1000 | PAGE | AF | AP_RO, LEAF(0x1000, K4, R) },
	/* Address size, 4K */
	{ "page at 1T, OAS 40", S1_4K(40), 3, TIB(1) | PAGE | AF, INV(F_ASZ) },
	{ "page below 1T, OAS 40", S1_4K(40), 3,
	  (TIB(1) - K4) | PAGE | AF, LEAF(TIB(1) - K4, K4, RW) },
	{ "page at bit 47, OAS 40", S1_4K(40), 3,
	  0x800000000000ull | PAGE | AF, INV(F_ASZ) },
	{ "table at 1T, OAS 40", S1_4K(40), 0, TIB(1) | TABLE, INV(F_ASZ) },
	{ "table below 1T, OAS 40", S1_4K(40), 2, (TIB(1) - K4) | TABLE,
	  TBL(TIB(1) - K4, RW) },
	{ "L1 block at 1T, OAS 40", S1_4K(40), 1, TIB(1) | BLOCK | AF,
	  INV(F_ASZ) },
	{ "L1 block below 1T, OAS 40", S1_4K(40), 1,
	  (TIB(1) - GIB(1)) | BLOCK | AF, LEAF(TIB(1) - GIB(1), GIB(1), RW) },
	{ "addr size before AF", S1_4K(40), 3, TIB(1) | PAGE, INV(F_ASZ) },
	{ "reserved before addr size", S1_4K(40), 3, TIB(1) | BLOCK | AF,
	  INV(F_RES) },
	{ "bits 51:48 no addr size, OAS 40", S1_4K(40), 3,
	  0x000f000000001000ull | PAGE | AF, LEAF(0x1000, K4, RW) },
	{ "page at bit 47, OAS 48", S1_4K(48), 3,
	  0x800000000000ull | PAGE | AF, LEAF(0x800000000000ull, K4, RW) },
	{ "page at 4G, OAS 32", S1_4K(32), 3, GIB(4) | PAGE | AF, INV(F_ASZ) },
	{ "page below 4G, OAS 32", S1_4K(32), 3, (GIB(4) - K4) | PAGE | AF,
	  LEAF(GIB(4) - K4, K4, RW) },
	/* Stage 1, 16K */
	{ "16K L0 table", S1_16K(48), 0, 0x4000 | TABLE,
	  TBL(0x4000, RW) },
	{ "16K table, RES0 [13:12]", S1_16K(48), 1, 0x7000 | TABLE,
	  TBL(0x4000, RW) },
	{ "16K L0 block", S1_16K(48), 0, 0x800000000000ull | BLOCK | AF,
	  INV(F_RES) },
	{ "16K L1 block", S1_16K(48), 1, (1ull << 36) | BLOCK | AF, INV(F_RES) },
	{ "16K L2 block", S1_16K(48), 2, MIB(32) | BLOCK | AF,
	  LEAF(MIB(32), MIB(32), RW) },
	{ "16K L2 block, RES0 [24:12]", S1_16K(48), 2,
	  MIB(32) | 0x1fff000 | BLOCK | AF, LEAF(MIB(32), MIB(32), RW) },
	{ "16K L3 page", S1_16K(48), 3, 0x4000 | PAGE | AF,
	  LEAF(0x4000, K16, RW) },
	{ "16K L3 page, RES0 [13:12]", S1_16K(48), 3, 0x7000 | PAGE | AF,
	  LEAF(0x4000, K16, RW) },
	{ "16K L3 0b01", S1_16K(48), 3, 0x4000 | BLOCK | AF, INV(F_RES) },
	{ "16K L2 block at 1T, OAS 40", S1_16K(40), 2, TIB(1) | BLOCK | AF,
	  INV(F_ASZ) },
	/* Stage 1, 64K */
	{ "64K L1 table", S1_64K(48), 1, 0x10000 | TABLE,
	  TBL(0x10000, RW) },
	{ "64K table, [15:12] not OA", S1_64K(48), 1, 0x1f000 | TABLE,
	  TBL(0x10000, RW) },
	{ "64K L1 block", S1_64K(48), 1, TIB(4) | BLOCK | AF, INV(F_RES) },
	{ "64K L2 block", S1_64K(48), 2, MIB(512) | BLOCK | AF,
	  LEAF(MIB(512), MIB(512), RW) },
	{ "64K L3 page", S1_64K(48), 3, 0x10000 | PAGE | AF,
	  LEAF(0x10000, K64, RW) },
	{ "64K page, [15:12] no addr size", S1_64K(40), 3,
	  0x1f000 | PAGE | AF, LEAF(0x10000, K64, RW) },
	{ "64K L3 0b01", S1_64K(48), 3, 0x10000 | BLOCK | AF, INV(F_RES) },
	{ "64K table at 1T, OAS 40", S1_64K(40), 2, TIB(1) | TABLE, INV(F_ASZ) },
	{ "64K below start level", S1_64K(48), 0, 0x10000 | TABLE, INV(F_RES) },

	/* Stage 2, 4K */
	{ "s2 zero", S2_4K(48), 3, 0, INV(F_NONE) },
	{ "s2 bit 0 clear", S2_4K(48), 3, ~VALID, INV(F_NONE) },
	{ "s2 L0 block", S2_4K(48), 0, TIB(1) | BLOCK | AF | S2R | S2W,
	  INV(F_RES) },
	{ "s2 L0 table, bits 63:59", S2_4K(48), 0,
	  0x5000 | TABLE | (0x1full << 59), TBL(0x5000, RW) },
	{ "s2 L1 block", S2_4K(48), 1, GIB(3) | BLOCK | AF | S2R | S2W,
	  LEAF(GIB(3), GIB(1), RW) },
	{ "s2 L2 block", S2_4K(48), 2, MIB(2) | BLOCK | AF | S2R,
	  LEAF(MIB(2), MIB(2), R) },
	{ "s2 S2AP 00", S2_4K(48), 3, 0x1000 | PAGE | AF, INV(F_NOACC) },
	{ "s2 S2AP 01", S2_4K(48), 3, 0x1000 | PAGE | AF | S2R,
	  LEAF(0x1000, K4, R) },
	{ "s2 S2AP 10", S2_4K(48), 3, 0x1000 | PAGE | AF | S2W,
	  LEAF(0x1000, K4, W) },
	{ "s2 S2AP 11", S2_4K(48), 3, 0x1000 | PAGE | AF | S2R | S2W,
	  LEAF(0x1000, K4, RW) },
	{ "s2 block S2AP 00", S2_4K(48), 1, GIB(1) | BLOCK | AF, INV(F_NOACC) },
	{ "s2 AF before S2AP", S2_4K(48), 3, 0x1000 | PAGE, INV(F_AF) },
	{ "s2 AF clear", S2_4K(48), 2, MIB(2) | BLOCK | S2R | S2W, INV(F_AF) },
	{ "s2 L3 0b01", S2_4K(48), 3, 0x1000 | BLOCK | AF | S2R | S2W,
	  INV(F_RES) },
	{ "s2 contiguous", S2_4K(48), 3, 0x1000 | PAGE | AF | S2R | CONT,
	  LEAF_CONTIG(0x1000, K4, R) },
	{ "s2 page at 1T, OAS 40", S2_4K(40), 3,
	  TIB(1) | PAGE | AF | S2R | S2W, INV(F_ASZ) },
	{ "s2 addr size before S2AP", S2_4K(40), 3, TIB(1) | PAGE | AF,
	  INV(F_ASZ) },
	{ "s2 table at 1T, OAS 40", S2_4K(40), 1, TIB(1) | TABLE, INV(F_ASZ) },
	{ "s2 page at bit 47, OAS 48", S2_4K(48), 3,
	  0x800000000000ull | PAGE | AF | S2R,
	  LEAF(0x800000000000ull, K4, R) },
	/* Stage 2, 16K (starts at L1: no L0) */
	{ "s2 16K L1 block", S2_16K(48), 1, (1ull << 36) | BLOCK | AF | S2R,
	  INV(F_RES) },
	{ "s2 16K L2 block", S2_16K(48), 2, MIB(64) | BLOCK | AF | S2R | S2W,
	  LEAF(MIB(64), MIB(32), RW) },
	{ "s2 16K page, RES0 [13:12]", S2_16K(48), 3,
	  0x7000 | PAGE | AF | S2W, LEAF(0x4000, K16, W) },
	{ "s2 16K L1 table", S2_16K(48), 1, 0xc000 | TABLE,
	  TBL(0xc000, RW) },
	/* Stage 2, 64K */
	{ "s2 64K L1 block", S2_64K(48), 1, TIB(4) | BLOCK | AF | S2R,
	  INV(F_RES) },
	{ "s2 64K L2 block", S2_64K(48), 2, MIB(512) | BLOCK | AF | S2R,
	  LEAF(MIB(512), MIB(512), R) },
	{ "s2 64K page", S2_64K(48), 3, 0x1f0000 | PAGE | AF | S2R | S2W,
	  LEAF(0x1f0000, K64, RW) },
	{ "s2 64K page S2AP 00", S2_64K(48), 3, 0x10000 | PAGE | AF,
	  INV(F_NOACC) },
};

static void check_decode(const struct decode_case *c, int idx)
{
	const struct expect *w = &c->want;
	struct wpt_pgtable_geo geo;
	struct wpt_desc d;

	ck_assert_int_eq(init_geo(c->fmt, c->granule, c->ias, c->oas, c->flags,
				  -1, 0, &geo), 0);
	/* decode must fill every field, whatever out held. */
	memset(&d, 0xa5, sizeof(d));
	wpt_format_lookup(c->fmt)->decode(&geo, c->level, c->desc, &d);
	ck_assert_msg(d.type == (enum wpt_desc_type)w->type &&
		      d.fault == (enum wpt_desc_fault)w->fault,
		      "%d %s: type %d fault %d, want %d %d", idx, c->what,
		      d.type, d.fault, w->type, w->fault);
	ck_assert_msg(d.addr == w->addr && d.size == w->size,
		      "%d %s: addr %llx size %llx, want %llx %llx", idx,
		      c->what, (unsigned long long)d.addr,
		      (unsigned long long)d.size,
		      (unsigned long long)w->addr,
		      (unsigned long long)w->size);
	ck_assert_msg(d.perm == w->perm && d.contig == w->contig,
		      "%d %s: perm %u contig %d, want %u %d", idx, c->what,
		      d.perm, d.contig, w->perm, w->contig);
}

START_TEST(test_decode)
{
	check_decode(&decode_cases[_i], _i);
}
END_TEST

static bool desc_equal(const struct wpt_desc *a, const struct wpt_desc *b)
{
	return a->type == b->type && a->fault == b->fault &&
	       a->addr == b->addr && a->size == b->size &&
	       a->perm == b->perm && a->contig == b->contig;
}

/*
 * decode_many gives each entry what decode gives it, for a table's worth
 * of the case's descriptor, zeros, it with one bit flipped (type, AF, AP,
 * address, address size...) and random words; nothing past n is written.
 */
START_TEST(test_decode_many)
{
	const struct decode_case *c = &decode_cases[_i];
	const struct wpt_format_ops *ops = wpt_format_lookup(c->fmt);
	enum { N = 37, GUARD = 3 }; /* not a multiple of any batch */
	struct wpt_desc many[N + GUARD], one, guard;
	struct wpt_pgtable_geo geo;
	uint64_t desc[N], x = 0x9e3779b97f4a7c15ull * (uint64_t)(_i + 1);
	unsigned int i;

	ck_assert_int_eq(init_geo(c->fmt, c->granule, c->ias, c->oas, c->flags,
				  -1, 0, &geo), 0);
	for (i = 0; i < N; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		desc[i] = i == 0 ? c->desc : i == 1 ? 0 :
			  i < 24 ? c->desc ^ (1ull << (i * 3 % 64)) : x;
	}
	memset(many, 0xa5, sizeof(many));
	memset(&guard, 0xa5, sizeof(guard));
	ops->decode_many(&geo, c->level, desc, N, many);
	for (i = 0; i < N; i++) {
		memset(&one, 0x5a, sizeof(one));
		ops->decode(&geo, c->level, desc[i], &one);
		ck_assert_msg(desc_equal(&many[i], &one),
			      "%d %s: entry %u (%llx) decodes otherwise alone",
			      _i, c->what, i, (unsigned long long)desc[i]);
	}
	for (i = N; i < N + GUARD; i++)
		ck_assert_msg(!memcmp(&many[i], &guard, sizeof(guard)),
			      "%d %s: wrote past n", _i, c->what);
}
END_TEST

/*
 * A guest (or a torn emulation) that replaces only the low 32 bits of a
 * leaf: the descriptor now means what its new bits say, high half kept.
 */
struct half_case {
	const char *what;
	int level;
	uint64_t old;
	uint32_t new_lo;
	struct expect want;
};

static const struct half_case half_cases[] = {
	{ "page moved, now read-only", 3, 0x0000001234567000ull | PAGE | AF,
	  0x89abc000u | PAGE | AF | AP_RO,
	  LEAF(0x0000001289abc000ull, K4, R) },
	{ "page cleared low", 3, 0x0000001234567000ull | PAGE | AF, 0,
	  INV(F_NONE) },
	{ "page, low half lost AF", 3, 0x0000001234567000ull | PAGE | AF,
	  0x34567000u | PAGE, INV(F_AF) },
	{ "page, low half reserved", 3, 0x0000001234567000ull | PAGE | AF,
	  0x34567000u | BLOCK | AF, INV(F_RES) },
	{ "block became table", 2, 0x0000004000200000ull | BLOCK | AF,
	  0x00400000u | TABLE, TBL(0x0000004000400000ull, RW) },
	{ "AF-clear page gains AF", 3, 0x000000ff00001000ull | PAGE,
	  0x00002000u | PAGE | AF, LEAF(0x000000ff00002000ull, K4, RW) },
};

START_TEST(test_half_written)
{
	const struct half_case *h = &half_cases[_i];
	struct decode_case c = {
		.what = h->what, .fmt = S1, .granule = K4, .ias = 48,
		.oas = 40, .level = h->level,
		.desc = (h->old & ~0xffffffffull) | h->new_lo, .want = h->want,
	};

	check_decode(&c, _i);
}
END_TEST

/* The same table descriptor means different subtree permissions in the two
 * stages (APTable exists only at stage 1). */
START_TEST(test_aptable_stage_only)
{
	struct wpt_pgtable_geo g1, g2;
	struct wpt_desc d1, d2;
	uint64_t desc = 0x5000 | TABLE | APT_RO;

	ck_assert_int_eq(init_geo(S1, K4, 40, 40, 0, -1, 0, &g1), 0);
	ck_assert_int_eq(init_geo(S2, K4, 40, 40, 0, 1, 2, &g2), 0);
	wpt_arm_lpae_s1_ops.decode(&g1, 1, desc, &d1);
	wpt_arm_lpae_s2_ops.decode(&g2, 1, desc, &d2);
	ck_assert_int_eq(d1.type, WPT_DESC_TABLE);
	ck_assert_int_eq(d2.type, WPT_DESC_TABLE);
	ck_assert_uint_eq(d1.perm, R);
	ck_assert_uint_eq(d2.perm, RW);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("format");
	TCase *tc = tcase_create("format");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_lookup);
	tcase_add_test(tc, test_start_level_every_ias);
	tcase_add_loop_test(tc, test_geometry_spots, 0, ARRAY_LEN(geo_cases));
	tcase_add_loop_test(tc, test_invalid_configs, 0, ARRAY_LEN(bad_cfgs));
	tcase_add_test(tc, test_geo_all_fields);
	tcase_add_loop_test(tc, test_decode, 0, ARRAY_LEN(decode_cases));
	tcase_add_loop_test(tc, test_decode_many, 0, ARRAY_LEN(decode_cases));
	tcase_add_loop_test(tc, test_half_written, 0, ARRAY_LEN(half_cases));
	tcase_add_test(tc, test_aptable_stage_only);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
