/* SPDX-License-Identifier: MIT */
/*
 * The arm64 NISV fast path (lib/a64/): instruction words as the Arm ARM
 * encodes them (each checked against an assembler, written out beside
 * it), register states, and what the architecture's pseudocode says
 * memory and registers hold afterwards.
 *
 * The guest: RAM at FX_RAM_GPA, its stage-1 tables (4K granule, T0SZ =
 * T1SZ = 25, so 39-bit halves starting at level 1) in RAM:
 *   TTBR0 VA [1 GiB, 2 GiB)  -> a level 1 block onto RAM (identity)
 *   TTBR0 VA 0x80000000      -> level 2 -> level 3: page 0 -> DATA_P0,
 *                               page 1 -> DATA_P1 (not adjacent in IPA)
 *   TTBR1 VA 0xffffff8040000000 -> the same block as TTBR0's
 *   VA 0 (level 1 entry 0) is invalid.
 */
#include "fixture.h"

#define ROOT0    (FX_RAM_GPA + 0x1000)
#define L2       (FX_RAM_GPA + 0x2000)
#define L3       (FX_RAM_GPA + 0x3000)
#define ROOT1    (FX_RAM_GPA + 0x4000)
#define CODE     (FX_RAM_GPA + 0x100000)
#define DATA     (FX_RAM_GPA + 0x200000)
#define DATA_P0  (FX_RAM_GPA + 0x300000)
#define DATA_P1  (FX_RAM_GPA + 0x305000)
#define SPLIT_VA 0x80000000ull
#define HI_VA(pa) (0xffffff8000000000ull + (pa))

#define SCTLR_M  (1ull << 0)
#define SCTLR_A  (1ull << 1)
#define SCTLR_SA (1ull << 3)
/* T0SZ 25, T1SZ 25, TG1 4K (0b10), IPS 48 bits (0b101). */
#define TCR      (25ull | 25ull << 16 | 2ull << 30 | 5ull << 32)
#define PSTATE_EL1H 0x5ull

static struct fx *f;
static struct wpt_a64_mmu mmu;
static struct wpt_a64_regs regs;
static struct wpt_a64_result res;

static uint64_t *ram64(uint64_t gpa)
{
	return (uint64_t *)(f->ram + (gpa - FX_RAM_GPA));
}

static uint32_t *ram32(uint64_t gpa)
{
	return (uint32_t *)(f->ram + (gpa - FX_RAM_GPA));
}

static void setup(void)
{
	f = fx_new();
	*ram64(ROOT0 + 8) = s1_block(FX_RAM_GPA);      /* VA 1 GiB */
	*ram64(ROOT0 + 16) = s1_table(L2);             /* VA 2 GiB */
	*ram64(L2) = s1_table(L3);
	*ram64(L3) = s1_page(DATA_P0);
	*ram64(L3 + 8) = s1_page(DATA_P1);
	*ram64(ROOT1 + 8) = s1_block(FX_RAM_GPA);
	mmu = (struct wpt_a64_mmu){
		.ttbr0 = ROOT0, .ttbr1 = ROOT1, .tcr = TCR, .sctlr = SCTLR_M,
	};
	memset(&regs, 0, sizeof(regs));
	regs.pc = CODE;
	regs.pstate = PSTATE_EL1H;
	memset(&res, 0, sizeof(res));
}

static void teardown(void)
{
	fx_free(f);
}

/* Put insn at the PC and emulate it. */
static int run_mon(uint32_t insn, struct wpt_a64_monitor *mon,
		   uint64_t fault_ipa)
{
	uint64_t pc = regs.pc;

	if (pc >= FX_RAM_GPA && pc < FX_RAM_GPA + FX_RAM_SIZE)
		*ram32(pc & ~3ull) = insn;
	return wpt_a64_emulate(f->vm, &mmu, &regs, mon, fault_ipa, &res);
}

static int run(uint32_t insn)
{
	return run_mon(insn, NULL, WPT_A64_NO_IPA);
}

/* ------------------------------------------------------------ pairs */

START_TEST(stp_signed_offset)
{
	regs.x[1] = 0x1111111111111111ull;
	regs.x[2] = 0x2222222222222222ull;
	regs.x[3] = DATA;
	ck_assert_int_eq(run(0xa9010861), 1); /* stp x1, x2, [x3, #16] */
	ck_assert_uint_eq(*ram64(DATA + 16), 0x1111111111111111ull);
	ck_assert_uint_eq(*ram64(DATA + 24), 0x2222222222222222ull);
	ck_assert_uint_eq(regs.x[3], DATA);
	ck_assert_uint_eq(regs.pc, CODE + 4);
	ck_assert_uint_eq(res.nr_written, 1);
	ck_assert_uint_eq(res.written_gpa[0], DATA + 16);
	ck_assert_uint_eq(res.written_len[0], 16);
}
END_TEST

START_TEST(stp_pre_index_writeback)
{
	regs.x[1] = 1;
	regs.x[2] = 2;
	regs.x[3] = DATA + 16;
	ck_assert_int_eq(run(0xa9bf0861), 1); /* stp x1, x2, [x3, #-16]! */
	ck_assert_uint_eq(*ram64(DATA), 1);
	ck_assert_uint_eq(*ram64(DATA + 8), 2);
	ck_assert_uint_eq(regs.x[3], DATA);
}
END_TEST

START_TEST(stp_32bit_post_index)
{
	*ram64(DATA) = ~0ull;
	*ram64(DATA + 8) = ~0ull;
	regs.x[1] = 0xaaaaaaaa11111111ull; /* only W1 is stored */
	regs.x[2] = 0xbbbbbbbb22222222ull;
	regs.x[3] = DATA;
	ck_assert_int_eq(run(0x28810861), 1); /* stp w1, w2, [x3], #8 */
	ck_assert_uint_eq(*ram64(DATA), 0x2222222211111111ull);
	ck_assert_uint_eq(*ram64(DATA + 8), ~0ull);
	ck_assert_uint_eq(regs.x[3], DATA + 8);
}
END_TEST

START_TEST(stp_sp_base_and_xzr)
{
	regs.x[1] = 5;
	regs.x[2] = 6;
	regs.sp = DATA + 64;
	ck_assert_int_eq(run(0xa9be0be1), 1); /* stp x1, x2, [sp, #-32]! */
	ck_assert_uint_eq(*ram64(DATA + 32), 5);
	ck_assert_uint_eq(*ram64(DATA + 40), 6);
	ck_assert_uint_eq(regs.sp, DATA + 32);
	/* Rt = Rt2 = 31 is XZR: zeros are stored, no register is read. */
	regs.pc = CODE;
	regs.x[3] = DATA + 32;
	ck_assert_int_eq(run(0xa9007c7f), 1); /* stp xzr, xzr, [x3] */
	ck_assert_uint_eq(*ram64(DATA + 32), 0);
	ck_assert_uint_eq(*ram64(DATA + 40), 0);
}
END_TEST

START_TEST(stp_sp_alignment_fault)
{
	struct wpt_a64_regs before;

	mmu.sctlr |= SCTLR_SA;
	regs.sp = DATA + 72; /* not 16-aligned */
	before = regs;
	ck_assert_int_eq(run(0xa9be0be1), -EFAULT);
	ck_assert_int_eq(res.fault, WPT_A64_FAULT_SP_ALIGNMENT);
	ck_assert_int_eq(res.fault_fetch, 0);
	ck_assert_mem_eq(&regs, &before, sizeof(regs));
	ck_assert_uint_eq(*ram64(DATA + 40), 0);
}
END_TEST

START_TEST(stnp_offset)
{
	regs.x[1] = 7;
	regs.x[2] = 8;
	regs.x[3] = DATA;
	ck_assert_int_eq(run(0xa8008861), 1); /* stnp x1, x2, [x3, #8] */
	ck_assert_uint_eq(*ram64(DATA + 8), 7);
	ck_assert_uint_eq(*ram64(DATA + 16), 8);
	ck_assert_uint_eq(regs.x[3], DATA);
}
END_TEST

START_TEST(stp_writeback_into_source_single_steps)
{
	regs.x[3] = DATA;
	/* stp x3, x2, [x3, #16]!: CONSTRAINED UNPREDICTABLE. */
	ck_assert_int_eq(run(0xa9810863), 0);
	ck_assert_uint_eq(regs.pc, CODE);
	ck_assert_uint_eq(*ram64(DATA + 16), 0);
}
END_TEST

START_TEST(stp_crossing_pages)
{
	/* VA 0x80000ff8 + 16 spans two pages mapped far apart. */
	regs.x[1] = 0x0102030405060708ull;
	regs.x[2] = 0x1112131415161718ull;
	regs.x[3] = SPLIT_VA + 0xff0;
	ck_assert_int_eq(run(0xa9008861), 1); /* stp x1, x2, [x3, #8] */
	ck_assert_uint_eq(*ram64(DATA_P0 + 0xff8), 0x0102030405060708ull);
	ck_assert_uint_eq(*ram64(DATA_P1), 0x1112131415161718ull);
	ck_assert_uint_eq(res.nr_written, 2);
	ck_assert_uint_eq(res.written_gpa[1], DATA_P1);
	/* Misaligned: allowed to Normal memory without SCTLR.A... */
	regs.pc = CODE;
	regs.x[3] = SPLIT_VA + 0xff4;
	ck_assert_int_eq(run(0xa9008861), 1);
	ck_assert_uint_eq(*ram32(DATA_P0 + 0xffc), 0x05060708);
	ck_assert_uint_eq(*ram32(DATA_P1 + 8), 0x11121314);
	/* ...an Alignment fault with it. */
	regs.pc = CODE;
	mmu.sctlr |= SCTLR_A;
	ck_assert_int_eq(run(0xa9008861), -EFAULT);
	ck_assert_int_eq(res.fault, WPT_A64_FAULT_ALIGNMENT);
	ck_assert_uint_eq(res.fault_va, SPLIT_VA + 0xffc);
}
END_TEST

START_TEST(str_pre_and_post_index)
{
	regs.x[1] = 0xdeadbeefcafef00dull;
	regs.x[2] = DATA;
	ck_assert_int_eq(run(0xf8008c41), 1); /* str x1, [x2, #8]! */
	ck_assert_uint_eq(*ram64(DATA + 8), 0xdeadbeefcafef00dull);
	ck_assert_uint_eq(regs.x[2], DATA + 8);
	regs.pc = CODE;
	ck_assert_int_eq(run(0xb81fc441), 1); /* str w1, [x2], #-4 */
	ck_assert_uint_eq(*ram64(DATA + 8), 0xdeadbeefcafef00dull);
	ck_assert_uint_eq(regs.x[2], DATA + 4);
}
END_TEST

/* --------------------------------------------------- compare and swap */

START_TEST(cas_success_and_failure)
{
	*ram64(DATA) = 100;
	regs.x[1] = 100;
	regs.x[2] = 200;
	regs.x[3] = DATA;
	ck_assert_int_eq(run(0xc8a17c62), 1); /* cas x1, x2, [x3] */
	ck_assert_uint_eq(*ram64(DATA), 200);
	ck_assert_uint_eq(regs.x[1], 100);
	ck_assert_uint_eq(res.nr_written, 1);
	/* Compare fails: no store, Xs gets the value read. */
	regs.pc = CODE;
	regs.x[1] = 100;
	regs.x[2] = 300;
	ck_assert_int_eq(run(0xc8a17c62), 1);
	ck_assert_uint_eq(*ram64(DATA), 200);
	ck_assert_uint_eq(regs.x[1], 200);
	ck_assert_uint_eq(res.nr_written, 0);
	ck_assert_uint_eq(regs.pc, CODE + 4);
}
END_TEST

START_TEST(cas_32bit_and_narrow)
{
	*ram64(DATA) = 0xffffffff00000005ull;
	regs.x[1] = 0x1234567800000005ull; /* only W1 is compared */
	regs.x[2] = 0xaaaaaaaa00000009ull;
	regs.x[3] = DATA;
	ck_assert_int_eq(run(0x88e1fc62), 1); /* casal w1, w2, [x3] */
	ck_assert_uint_eq(*ram64(DATA), 0xffffffff00000009ull);
	ck_assert_uint_eq(regs.x[1], 5); /* W write zero-extends */
	regs.pc = CODE;
	regs.x[1] = 0x09;
	regs.x[2] = 0x77;
	ck_assert_int_eq(run(0x08a17c62), 1); /* casb w1, w2, [x3] */
	ck_assert_uint_eq(*ram64(DATA), 0xffffffff00000077ull);
	regs.pc = CODE;
	regs.x[1] = 0x0077;
	regs.x[2] = 0xbeef;
	ck_assert_int_eq(run(0x48a17c62), 1); /* cash w1, w2, [x3] */
	ck_assert_uint_eq(*ram64(DATA), 0xffffffff0000beefull);
	/* A misaligned CASH is an Alignment fault. */
	regs.pc = CODE;
	regs.x[3] = DATA + 1;
	ck_assert_int_eq(run(0x48a17c62), -EFAULT);
	ck_assert_int_eq(res.fault, WPT_A64_FAULT_ALIGNMENT);
}
END_TEST

START_TEST(cas_sp_base_xzr_compare)
{
	*ram64(DATA) = 0;
	regs.sp = DATA;
	regs.x[2] = 42;
	/* casa xzr, x2, [sp]: compares with zero, discards the result. */
	ck_assert_int_eq(run(0xc8ff7fe2), 1);
	ck_assert_uint_eq(*ram64(DATA), 42);
}
END_TEST

START_TEST(casp_pairs)
{
	*ram64(DATA) = 1;
	*ram64(DATA + 8) = 2;
	regs.x[0] = 1;
	regs.x[1] = 2;
	regs.x[2] = 3;
	regs.x[3] = 4;
	regs.x[4] = DATA;
	ck_assert_int_eq(run(0x48207c82), 1); /* casp x0, x1, x2, x3, [x4] */
	ck_assert_uint_eq(*ram64(DATA), 3);
	ck_assert_uint_eq(*ram64(DATA + 8), 4);
	/* Fails on the high half: both registers get memory's pair. */
	regs.pc = CODE;
	regs.x[0] = 3;
	regs.x[1] = 5;
	ck_assert_int_eq(run(0x48207c82), 1);
	ck_assert_uint_eq(regs.x[0], 3);
	ck_assert_uint_eq(regs.x[1], 4);
	ck_assert_uint_eq(*ram64(DATA + 8), 4);
	ck_assert_uint_eq(res.nr_written, 0);
	/* A pair must be aligned to its whole size. */
	regs.pc = CODE;
	regs.x[4] = DATA + 8;
	ck_assert_int_eq(run(0x48207c82), -EFAULT);
	ck_assert_int_eq(res.fault, WPT_A64_FAULT_ALIGNMENT);
}
END_TEST

START_TEST(casp_32bit_sp)
{
	*ram64(DATA) = 0x0000000b0000000aull;
	regs.x[4] = 0xa;
	regs.x[5] = 0xb;
	regs.x[6] = 0xc;
	regs.x[7] = 0xd;
	regs.sp = DATA;
	/* caspal w4, w5, w6, w7, [sp] */
	ck_assert_int_eq(run(0x0864ffe6), 1);
	ck_assert_uint_eq(*ram64(DATA), 0x0000000d0000000cull);
	ck_assert_uint_eq(regs.x[4], 0xa);
	ck_assert_uint_eq(regs.x[5], 0xb);
}
END_TEST

/* ---------------------------------------------------------- atomics */

START_TEST(swp_forms)
{
	*ram64(DATA) = 10;
	regs.x[1] = 20;
	regs.x[3] = DATA;
	ck_assert_int_eq(run(0xf8218062), 1); /* swp x1, x2, [x3] */
	ck_assert_uint_eq(*ram64(DATA), 20);
	ck_assert_uint_eq(regs.x[2], 10);
	regs.pc = CODE;
	regs.x[1] = 0xffffffff00000030ull;
	ck_assert_int_eq(run(0xb8e18062), 1); /* swpal w1, w2, [x3] */
	ck_assert_uint_eq(*ram64(DATA), 0x30);
	ck_assert_uint_eq(regs.x[2], 20);
}
END_TEST

struct ldop_case {
	const char *name;
	uint32_t insn;
	uint64_t mem, rs, want_mem, want_rt;
};

/* Rs = x1, Rt = x2, Rn = x3. */
static const struct ldop_case ldops[] = {
	{ "ldadd", 0xf8210062, 5, 7, 12, 5 },
	{ "ldclral", 0xf8e11062, 0xff, 0x0f, 0xf0, 0xff },
	{ "ldseta w", 0xb8a13062, 0xffffffff00000100ull, 0x1,
	  0xffffffff00000101ull, 0x100 },
	{ "ldeorl", 0xf8612062, 0xf0f0, 0xffff, 0x0f0f, 0xf0f0 },
	{ "ldsmax", 0xf8214062, (uint64_t)-5, 3, 3, (uint64_t)-5 },
	{ "ldumin w", 0xb8217062, 0x80000000u, 7, 7, 0x80000000u },
	/* stadd x1, [x3]: LDADD with Rt = XZR, nothing loaded. */
	{ "stadd", 0xf821007f, 40, 2, 42, 0xabcd },
};

START_TEST(ldop_family)
{
	const struct ldop_case *c = &ldops[_i];

	*ram64(DATA) = c->mem;
	regs.x[1] = c->rs;
	regs.x[2] = 0xabcd;
	regs.x[3] = DATA;
	ck_assert_msg(run(c->insn) == 1, "%s", c->name);
	ck_assert_msg(*ram64(DATA) == c->want_mem, "%s: mem %llx", c->name,
		      (unsigned long long)*ram64(DATA));
	ck_assert_msg(regs.x[2] == c->want_rt, "%s: rt %llx", c->name,
		      (unsigned long long)regs.x[2]);
	ck_assert_uint_eq(regs.pc, CODE + 4);
}
END_TEST

/* ------------------------------------------------- store-exclusive */

START_TEST(stxr_monitor)
{
	struct wpt_a64_monitor mon = {
		.va = DATA, .size = 8, .flags = WPT_A64_MON_VALID,
	};

	regs.x[1] = 0x55;
	regs.x[2] = 0x99;
	regs.x[3] = DATA;
	/* No monitor given: the VMM must single-step it. */
	ck_assert_int_eq(run(0xc8017c62), 0); /* stxr w1, x2, [x3] */
	ck_assert_int_eq(run_mon(0xc8017c62, &mon, WPT_A64_NO_IPA), 1);
	ck_assert_uint_eq(*ram64(DATA), 0x99);
	ck_assert_uint_eq(regs.x[1], 0);
	ck_assert_uint_eq(mon.flags, 0);
	/* Monitor lost (cleared by the first): status 1, no store. */
	regs.pc = CODE;
	regs.x[2] = 0x77;
	ck_assert_int_eq(run_mon(0xc8017c62, &mon, WPT_A64_NO_IPA), 1);
	ck_assert_uint_eq(*ram64(DATA), 0x99);
	ck_assert_uint_eq(regs.x[1], 1);
	ck_assert_uint_eq(res.nr_written, 0);
	/* Marked for another address: fails too. */
	regs.pc = CODE;
	mon = (struct wpt_a64_monitor){ .va = DATA + 8, .size = 8,
					.flags = WPT_A64_MON_VALID };
	ck_assert_int_eq(run_mon(0xc8017c62, &mon, WPT_A64_NO_IPA), 1);
	ck_assert_uint_eq(regs.x[1], 1);
	/* With the value the load-exclusive read: memory changed since. */
	regs.pc = CODE;
	mon = (struct wpt_a64_monitor){
		.va = DATA, .size = 8, .value = { 0x98 },
		.flags = WPT_A64_MON_VALID | WPT_A64_MON_VALUE,
	};
	ck_assert_int_eq(run_mon(0xc8017c62, &mon, WPT_A64_NO_IPA), 1);
	ck_assert_uint_eq(regs.x[1], 1);
	ck_assert_uint_eq(*ram64(DATA), 0x99);
	regs.pc = CODE;
	mon.value[0] = 0x99;
	mon.flags = WPT_A64_MON_VALID | WPT_A64_MON_VALUE;
	ck_assert_int_eq(run_mon(0xc8017c62, &mon, WPT_A64_NO_IPA), 1);
	ck_assert_uint_eq(regs.x[1], 0);
	ck_assert_uint_eq(*ram64(DATA), 0x77);
}
END_TEST

START_TEST(stlxr_32_and_stxp)
{
	struct wpt_a64_monitor mon = {
		.va = DATA, .size = 4, .flags = WPT_A64_MON_VALID,
	};

	*ram64(DATA) = ~0ull;
	regs.x[1] = 7;
	regs.x[2] = 0xffffffff12345678ull;
	regs.x[3] = DATA;
	ck_assert_int_eq(run_mon(0x8801fc62, &mon, WPT_A64_NO_IPA), 1);
	ck_assert_uint_eq(*ram64(DATA), 0xffffffff12345678ull);
	ck_assert_uint_eq(regs.x[1], 0);
	/* stxp w1, x2, x3, [x4]: Xt at the lower address. */
	regs.pc = CODE;
	regs.x[2] = 0xa;
	regs.x[3] = 0xb;
	regs.x[4] = DATA;
	mon = (struct wpt_a64_monitor){ .va = DATA, .size = 16,
					.flags = WPT_A64_MON_VALID };
	ck_assert_int_eq(run_mon(0xc8210c82, &mon, WPT_A64_NO_IPA), 1);
	ck_assert_uint_eq(*ram64(DATA), 0xa);
	ck_assert_uint_eq(*ram64(DATA + 8), 0xb);
	ck_assert_uint_eq(regs.x[1], 0);
	/* Status register = data register: CONSTRAINED UNPREDICTABLE. */
	regs.pc = CODE;
	mon.flags = WPT_A64_MON_VALID;
	ck_assert_int_eq(run_mon(0xc8037c62, &mon, WPT_A64_NO_IPA), 0);
	ck_assert_uint_eq(mon.flags, WPT_A64_MON_VALID);
	/* A misaligned store-exclusive faults whatever the monitor says. */
	regs.x[3] = DATA + 4;
	ck_assert_int_eq(run_mon(0xc8017c62, &mon, WPT_A64_NO_IPA), -EFAULT);
	ck_assert_int_eq(res.fault, WPT_A64_FAULT_ALIGNMENT);
}
END_TEST

/* ------------------------------------------- not ours, faults, MMU */

START_TEST(unknown_instructions)
{
	ck_assert_int_eq(run(0x8b030041), 0); /* add x1, x2, x3 */
	ck_assert_int_eq(run(0xf9400041), 0); /* ldr x1, [x2] */
	ck_assert_int_eq(run(0xc85f7c41), 0); /* ldxr x1, [x2] */
	ck_assert_uint_eq(res.insn, 0xc85f7c41);
	ck_assert_uint_eq(regs.pc, CODE);
}
END_TEST

START_TEST(fetch_faults)
{
	regs.pc = 0x1000; /* level 1 entry 0 is invalid */
	ck_assert_int_eq(run(0), -EFAULT);
	ck_assert_int_eq(res.fault, WPT_A64_FAULT_TRANSLATION);
	ck_assert_int_eq(res.fault_level, 1);
	ck_assert_int_eq(res.fault_fetch, 1);
	ck_assert_uint_eq(res.fault_va, 0x1000);
	/* Outside both halves' ranges. */
	regs.pc = 0x0000800000000000ull;
	ck_assert_int_eq(run(0), -EFAULT);
	ck_assert_int_eq(res.fault_level, 0);
	/* A misaligned PC. */
	regs.pc = CODE + 2;
	ck_assert_int_eq(run(0), -EFAULT);
	ck_assert_int_eq(res.fault, WPT_A64_FAULT_ALIGNMENT);
	ck_assert_int_eq(res.fault_fetch, 1);
	/* AF clear: an Access flag fault, unless TCR.HA. */
	*ram64(ROOT0 + 8) &= ~S1_AF;
	regs.pc = CODE;
	ck_assert_int_eq(run(0xf9400041), -EFAULT);
	ck_assert_int_eq(res.fault, WPT_A64_FAULT_ACCESS_FLAG);
	mmu.tcr |= 1ull << 39;
	ck_assert_int_eq(run(0xf9400041), 0);
}
END_TEST

START_TEST(data_translation)
{
	struct wpt_a64_regs before;

	/* Through TTBR1: PC and data in the upper half. */
	regs.pc = HI_VA(CODE);
	regs.x[1] = 3;
	regs.x[3] = HI_VA(DATA);
	*ram32(CODE) = 0xf8210062; /* ldadd x1, x2, [x3] */
	ck_assert_int_eq(wpt_a64_emulate(f->vm, &mmu, &regs, NULL,
					 WPT_A64_NO_IPA, &res), 1);
	ck_assert_uint_eq(*ram64(DATA), 3);
	ck_assert_uint_eq(regs.pc, HI_VA(CODE) + 4);
	/* The data VA unmapped: a data abort, nothing changed. */
	regs.pc = CODE;
	regs.x[3] = 0x2000;
	before = regs;
	ck_assert_int_eq(run(0xf8210062), -EFAULT);
	ck_assert_int_eq(res.fault, WPT_A64_FAULT_TRANSLATION);
	ck_assert_int_eq(res.fault_fetch, 0);
	ck_assert_mem_eq(&regs, &before, sizeof(regs));
	/* A fault IPA the walk does not reach: the word read is not the
	 * instruction that faulted (or the tables changed): single-step. */
	ck_assert_int_eq(run_mon(0xf8210062, NULL, DATA + 0x1000), 0);
	ck_assert_uint_eq(*ram64(DATA + 0x1000), 0);
	ck_assert_mem_eq(&regs, &before, sizeof(regs));
	/* Read-only at stage 1 (AP[2]): a Permission fault. */
	regs.pc = CODE;
	regs.x[3] = SPLIT_VA;
	*ram64(L3) |= S1_RO;
	ck_assert_int_eq(run(0xf8210062), -EFAULT);
	ck_assert_int_eq(res.fault, WPT_A64_FAULT_PERMISSION);
	ck_assert_int_eq(res.fault_level, 3);
	/* Stage 1 off: addresses are IPAs. */
	mmu.sctlr = 0;
	regs.x[3] = DATA;
	ck_assert_int_eq(run(0xf8210062), 1);
	ck_assert_uint_eq(*ram64(DATA), 6);
}
END_TEST

/* The stage-1 privilege checks a CPU makes before the store exits: an EL0
 * store to an EL1-only page (AP[1] clear, or APTable[0] above it) and an
 * EL1 store under PSTATE.PAN to a page EL0 may access must fault, not be
 * performed by the VMM on the guest's behalf. */
START_TEST(el0_and_pan_permissions)
{
	regs.x[1] = 3;
	regs.x[3] = SPLIT_VA;
	regs.pstate = 0; /* EL0t */
	ck_assert_int_eq(run(0xf8210062), -EFAULT); /* ldadd x1, x2, [x3] */
	ck_assert_int_eq(res.fault, WPT_A64_FAULT_PERMISSION);
	ck_assert_int_eq(res.fault_level, 3);
	ck_assert_uint_eq(*ram64(DATA_P0), 0);
	*ram64(L3) |= S1_AP_EL0;
	regs.pc = CODE;
	ck_assert_int_eq(run(0xf8210062), 1);
	ck_assert_uint_eq(*ram64(DATA_P0), 3);
	/* APTable[0] on the level-2 table descriptor: no EL0 access below,
	 * unless TCR.HPD0 turns the hierarchical permissions off. */
	*ram64(L2) |= S1_APTABLE_NO_EL0;
	regs.pc = CODE;
	ck_assert_int_eq(run(0xf8210062), -EFAULT);
	ck_assert_int_eq(res.fault, WPT_A64_FAULT_PERMISSION);
	mmu.tcr |= 1ull << 41;
	regs.pc = CODE;
	ck_assert_int_eq(run(0xf8210062), 1);
	ck_assert_uint_eq(*ram64(DATA_P0), 6);
	/* EL1 with PAN: the EL0-accessible page faults; without PAN not. */
	regs.pstate = PSTATE_EL1H | 1ull << 22;
	regs.pc = CODE;
	ck_assert_int_eq(run(0xf8210062), -EFAULT);
	ck_assert_int_eq(res.fault, WPT_A64_FAULT_PERMISSION);
	regs.pstate = PSTATE_EL1H;
	regs.pc = CODE;
	ck_assert_int_eq(run(0xf8210062), 1);
	ck_assert_uint_eq(*ram64(DATA_P0), 9);
}
END_TEST

START_TEST(aarch32_and_big_endian)
{
	regs.pstate |= 1u << 4;
	ck_assert_int_eq(run(0xf8210062), -EINVAL);
	regs.pstate = PSTATE_EL1H;
	mmu.sctlr |= 1ull << 25; /* EE: tables and data big-endian */
	ck_assert_int_eq(run(0xf8210062), -EFAULT); /* walk reads BE */
}
END_TEST

/* ------------------------------- stage-1 permissions: EL0, PAN, XN */

#define AP1        (1ull << 6)   /* EL0 access */
#define UXN        (1ull << 54)
#define PXN        (1ull << 53)
#define APTABLE0   (1ull << 61)  /* no EL0 access below */
#define PSTATE_PAN (1ull << 22)
#define TCR_HPD0   (1ull << 41)
#define SCTLR_EPAN (1ull << 57)
#define STP_X1_X2_X3 0xa9000861u /* stp x1, x2, [x3] */
#define STTR_X1_X3   0xf8000861u /* sttr x1, [x3]: unprivileged */
#define NO_IPA       WPT_A64_NO_IPA

/*
 * One access by the instruction at CODE to SPLIT_VA (root entry 2 ->
 * table -> L3 entry 0 -> DATA_P0), with extra bits in the leaf, in the
 * root's table descriptor and in CODE's block.  AArch64 stage 1, EL1&0:
 * AP[2:1] 00 EL1 RW, 01 EL1+EL0 RW, 10 EL1 RO, 11 EL1+EL0 RO; APTable[0]
 * takes EL0 access away below, APTable[1] write access; PAN takes a
 * privileged data access away from memory EL0 can read (EPAN: or run).
 */
static const struct perm_case {
	const char *name;
	uint64_t pstate, leaf, table, code, sctlr, tcr;
	uint32_t insn;
	uint64_t fault_ipa;
	int ret;                  /* 1, 0 or -EFAULT */
	enum wpt_a64_fault fault; /* for -EFAULT */
	int fetch;
} perm_cases[] = {
	{ "el0 stp to EL1-only page", 0, 0, 0, 0, 0, 0, STP_X1_X2_X3,
	  NO_IPA, -EFAULT, WPT_A64_FAULT_PERMISSION, 0 },
	{ "el0 stp to EL1-only page, ipa names a user page", 0, 0, 0, 0, 0,
	  0, STP_X1_X2_X3, DATA, 0, 0, 0 },
	{ "el0 stp to EL1-only page, ipa names that page", 0, 0, 0, 0, 0, 0,
	  STP_X1_X2_X3, DATA_P0, 0, 0, 0 },
	{ "el0 stp to EL0 RW page", 0, AP1, 0, 0, 0, 0, STP_X1_X2_X3, NO_IPA,
	  1, 0, 0 },
	{ "el0 stp to EL0 RW page, ipa matches", 0, AP1, 0, 0, 0, 0,
	  STP_X1_X2_X3, DATA_P0 + 8, 1, 0, 0 },
	{ "el0 stp to EL0 RO page", 0, AP1 | S1_RO, 0, 0, 0, 0, STP_X1_X2_X3,
	  NO_IPA, -EFAULT, WPT_A64_FAULT_PERMISSION, 0 },
	{ "el0 stp under APTable[0]", 0, AP1, APTABLE0, 0, 0, 0,
	  STP_X1_X2_X3, NO_IPA, -EFAULT, WPT_A64_FAULT_PERMISSION, 0 },
	{ "el0 stp under APTable[1]", 0, AP1, S1_APTABLE_RO, 0, 0, 0,
	  STP_X1_X2_X3, NO_IPA, -EFAULT, WPT_A64_FAULT_PERMISSION, 0 },
	{ "el0 stp under APTable[0] with HPD0", 0, AP1, APTABLE0, 0, 0,
	  TCR_HPD0, STP_X1_X2_X3, NO_IPA, 1, 0, 0 },
	{ "el0 fetch from UXN code", 0, AP1, 0, UXN, 0, 0, STP_X1_X2_X3,
	  NO_IPA, -EFAULT, WPT_A64_FAULT_PERMISSION, 1 },
	{ "el1 stp to EL1-only page", PSTATE_EL1H, 0, 0, 0, 0, 0,
	  STP_X1_X2_X3, NO_IPA, 1, 0, 0 },
	{ "el1 stp to EL0 page", PSTATE_EL1H, AP1, 0, 0, 0, 0, STP_X1_X2_X3,
	  NO_IPA, 1, 0, 0 },
	{ "el1 pan stp to EL0 page", PSTATE_EL1H | PSTATE_PAN, AP1, 0, 0, 0,
	  0, STP_X1_X2_X3, NO_IPA, -EFAULT, WPT_A64_FAULT_PERMISSION, 0 },
	{ "el1 pan stp to EL0 page, ipa matches", PSTATE_EL1H | PSTATE_PAN,
	  AP1, 0, 0, 0, 0, STP_X1_X2_X3, DATA_P0, 0, 0, 0 },
	{ "el1 pan stp to EL0 RO page", PSTATE_EL1H | PSTATE_PAN,
	  AP1 | S1_RO, 0, 0, 0, 0, STP_X1_X2_X3, NO_IPA, -EFAULT,
	  WPT_A64_FAULT_PERMISSION, 0 },
	{ "el1 pan stp, APTable[0] hides it from EL0",
	  PSTATE_EL1H | PSTATE_PAN, AP1, APTABLE0, 0, 0, 0, STP_X1_X2_X3,
	  NO_IPA, 1, 0, 0 },
	{ "el1 pan stp to EL1-only page", PSTATE_EL1H | PSTATE_PAN, 0, 0, 0,
	  0, 0, STP_X1_X2_X3, NO_IPA, 1, 0, 0 },
	{ "el1 epan stp to EL0-executable page", PSTATE_EL1H | PSTATE_PAN, 0,
	  0, 0, SCTLR_EPAN, 0, STP_X1_X2_X3, NO_IPA, -EFAULT,
	  WPT_A64_FAULT_PERMISSION, 0 },
	{ "el1 epan stp to UXN page", PSTATE_EL1H | PSTATE_PAN, UXN, 0, 0,
	  SCTLR_EPAN, 0, STP_X1_X2_X3, NO_IPA, 1, 0, 0 },
	{ "el1 pan sttr is never emulated", PSTATE_EL1H | PSTATE_PAN, AP1, 0,
	  0, 0, 0, STTR_X1_X3, NO_IPA, 0, 0, 0 },
	{ "el1 stp, ipa names another page", PSTATE_EL1H, 0, 0, 0, 0, 0,
	  STP_X1_X2_X3, DATA_P1, 0, 0, 0 },
	{ "el1 stp, ipa's byte outside the access", PSTATE_EL1H, 0, 0, 0, 0,
	  0, STP_X1_X2_X3, DATA_P0 + 0x800, 0, 0, 0 },
	{ "el1 stp, ipa's byte inside the access", PSTATE_EL1H, 0, 0, 0, 0, 0,
	  STP_X1_X2_X3, DATA_P0 + 15, 1, 0, 0 },
	{ "el1 fetch from PXN code", PSTATE_EL1H, 0, 0, PXN, 0, 0,
	  STP_X1_X2_X3, NO_IPA, -EFAULT, WPT_A64_FAULT_PERMISSION, 1 },
	{ "el1 fetch from EL0-writable code", PSTATE_EL1H, 0, 0, AP1, 0, 0,
	  STP_X1_X2_X3, NO_IPA, -EFAULT, WPT_A64_FAULT_PERMISSION, 1 },
	{ "el2 is not modelled", 0x9, 0, 0, 0, 0, 0, STP_X1_X2_X3, NO_IPA, 0,
	  0, 0 },
};

START_TEST(stage1_permissions)
{
	const struct perm_case *c = &perm_cases[_i];
	struct wpt_a64_regs before;
	int ret;

	*ram64(L3) |= c->leaf;
	*ram64(ROOT0 + 16) |= c->table;
	*ram64(ROOT0 + 8) |= c->code;
	mmu.sctlr |= c->sctlr;
	mmu.tcr |= c->tcr;
	regs.pstate = c->pstate;
	regs.x[1] = 0x1111111111111111ull;
	regs.x[2] = 0x2222222222222222ull;
	regs.x[3] = SPLIT_VA;
	before = regs;
	ret = run_mon(c->insn, NULL, c->fault_ipa);
	ck_assert_msg(ret == c->ret, "%s: returned %d, expected %d", c->name,
		      ret, c->ret);
	if (ret == -EFAULT) {
		ck_assert_msg(res.fault == c->fault && res.fault_fetch ==
			      c->fetch, "%s: fault %d fetch %d", c->name,
			      res.fault, res.fault_fetch);
	}
	if (ret == 1) {
		ck_assert_uint_eq(*ram64(DATA_P0), 0x1111111111111111ull);
		ck_assert_uint_eq(*ram64(DATA_P0 + 8), 0x2222222222222222ull);
		return;
	}
	ck_assert_msg(*ram64(DATA_P0) == 0 && *ram64(DATA_P0 + 8) == 0,
		      "%s: wrote guest RAM", c->name);
	ck_assert_mem_eq(&regs, &before, sizeof(regs));
}
END_TEST

/* ------------------------------------------ the shadow is updated */

#define IO_ROOT (FX_RAM_GPA + 0x400000)
#define IO_L2   (FX_RAM_GPA + 0x401000)

START_TEST(store_to_protected_table_updates_shadow)
{
	struct wpt_sink *sink;
	struct wpt_domain *d = fx_domain(f, &sink, WPT_MODE_TRAP, 4096, 39);
	char buf[512];

	ck_assert_int_eq(wpt_domain_set_root(d, IO_ROOT), 0);
	ck_assert(fx_prot(f, IO_ROOT));
	/* The guest builds a level 2 table aside with one 2 MiB block and
	 * installs it with a CAS from zero (Linux's cmpxchg64). */
	*ram64(IO_L2) = s1_block(FX_RAM_GPA + 0x600000);
	regs.x[1] = 0;
	regs.x[2] = s1_table(IO_L2);
	regs.x[3] = IO_ROOT;
	ck_assert_int_eq(run_mon(0xc8e1fc62, NULL, IO_ROOT), 1); /* casal */
	ck_assert_int_eq(res.sync_err, 0);
	ck_assert_str_eq(fx_sink_str(sink, buf, sizeof(buf)),
			 "0:40600000:200000:rw;");
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	ck_assert(fx_prot(f, IO_L2));
	/* Then an STP writes two blocks into the now protected table. */
	regs.pc = CODE;
	regs.x[1] = s1_block(FX_RAM_GPA + 0x800000);
	regs.x[2] = s1_block(FX_RAM_GPA + 0xa00000) | S1_RO;
	regs.x[3] = IO_L2;
	ck_assert_int_eq(run(0xa9008861), 1); /* stp x1, x2, [x3, #8] */
	ck_assert_str_eq(fx_sink_str(sink, buf, sizeof(buf)),
			 "0:40600000:200000:rw;200000:40800000:200000:rw;"
			 "400000:40a00000:200000:r;");
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	/* A CAS that fails changes nothing anywhere. */
	regs.pc = CODE;
	regs.x[1] = 0;
	regs.x[2] = 0;
	regs.x[3] = IO_L2;
	ck_assert_int_eq(run(0xc8e1fc62), 1);
	ck_assert_uint_eq(regs.x[1], s1_block(FX_RAM_GPA + 0x600000));
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	wpt_domain_free(d);
	wpt_sink_free(sink);
}
END_TEST

static Suite *a64_suite(void)
{
	Suite *s = suite_create("a64");
	TCase *tc = tcase_create("emulate");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, stp_signed_offset);
	tcase_add_test(tc, stp_pre_index_writeback);
	tcase_add_test(tc, stp_32bit_post_index);
	tcase_add_test(tc, stp_sp_base_and_xzr);
	tcase_add_test(tc, stp_sp_alignment_fault);
	tcase_add_test(tc, stnp_offset);
	tcase_add_test(tc, stp_writeback_into_source_single_steps);
	tcase_add_test(tc, stp_crossing_pages);
	tcase_add_test(tc, str_pre_and_post_index);
	tcase_add_test(tc, cas_success_and_failure);
	tcase_add_test(tc, cas_32bit_and_narrow);
	tcase_add_test(tc, cas_sp_base_xzr_compare);
	tcase_add_test(tc, casp_pairs);
	tcase_add_test(tc, casp_32bit_sp);
	tcase_add_test(tc, swp_forms);
	tcase_add_loop_test(tc, ldop_family, 0,
			    sizeof(ldops) / sizeof(ldops[0]));
	tcase_add_test(tc, stxr_monitor);
	tcase_add_test(tc, stlxr_32_and_stxp);
	tcase_add_test(tc, unknown_instructions);
	tcase_add_test(tc, fetch_faults);
	tcase_add_test(tc, data_translation);
	tcase_add_test(tc, el0_and_pan_permissions);
	tcase_add_loop_test(tc, stage1_permissions, 0,
			    sizeof(perm_cases) / sizeof(perm_cases[0]));
	tcase_add_test(tc, aarch32_and_big_endian);
	tcase_add_test(tc, store_to_protected_table_updates_shadow);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(a64_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
