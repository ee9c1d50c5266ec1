/* SPDX-License-Identifier: MIT */
/*
 * The arm64 test guest: one IO address space built and torn down in
 * phases, each with one class of store (abi.h's A64T_PH_*), then the
 * fault paths.  The VMM verifies the library's shadow at every
 * A64T_CALL_PHASE and checks each A64T_CALL_EXPECT/GONE against its sink.
 */
#include "guest.h"

#define PAGE 4096ull
#define MB2  (2ull << 20)
#define TGT  ((uint64_t)A64T_TARGET_GPA)

/* IOVAs: two 1 GiB level-1 slots, so each install mode builds its own
 * level-2 and level-3 tables. */
#define IOVA_A 0x10000000ull /* level-1 slot 0 */
#define IOVA_B 0x40000000ull /* level-1 slot 1 */
#define IOVA_BLOCK 0x20000000ull

void hcall(uint64_t call, uint64_t a0, uint64_t a1, uint64_t a2)
{
	volatile uint64_t *port = (volatile uint64_t *)(uintptr_t)A64T_PORT_GPA;

	port[A64T_P_ARG0 / 8] = a0;
	port[A64T_P_ARG1 / 8] = a1;
	port[A64T_P_ARG2 / 8] = a2;
	port[A64T_P_CALL / 8] = call;
}

static void expect(uint64_t iova, uint64_t pa, uint64_t size)
{
	hcall(A64T_CALL_EXPECT, iova, pa, size);
}

static void phase(uint64_t ph)
{
	hcall(A64T_CALL_PHASE, ph, 0, 0);
}

static void map_one(uint64_t *root, uint64_t iova, uint64_t pa, enum install how)
{
	str64(pgt_slot(root, iova, how), PTE_PAGE(pa));
	expect(iova, pa, PAGE);
}

static void stp_pair(uint64_t *root)
{
	uint64_t *s = pgt_slot(root, IOVA_A + 0x2000, INSTALL_CASAL);

	asm volatile("stp %1, %2, [%0]"
		     : : "r"(s), "r"(PTE_PAGE(TGT + 0x2000)),
		       "r"(PTE_PAGE(TGT + 0x3000)) : "memory");
	expect(IOVA_A + 0x2000, TGT + 0x2000, 2 * PAGE);
}

static void str_run(uint64_t *root)
{
	uint64_t *s = pgt_slot(root, IOVA_A + 0x10000, INSTALL_CASAL);

	for (unsigned int i = 0; i < 16; i++)
		str64(&s[i], PTE_PAGE(TGT + 0x10000 + i * PAGE));
	expect(IOVA_A + 0x10000, TGT + 0x10000, 16 * PAGE);
}

/* The forms a compiler's loop over descriptors takes. */
static void writeback(uint64_t *root)
{
	uint64_t *s = pgt_slot(root, IOVA_A + 0x20000, INSTALL_CASAL);
	uint64_t *p = s;

	/* s[0], s[1], s[3], s[4..5], s[6..7]; p ends at s + 8. */
	asm volatile("str %1, [%0], #8\n\t"
		     "str %2, [%0], #8\n\t"
		     "str %3, [%0, #8]!\n\t"
		     "stp %4, %5, [%0, #8]!\n\t"
		     "add %0, %0, #16\n\t"
		     "stp %6, %7, [%0], #16"
		     : "+r"(p)
		     : "r"(PTE_PAGE(TGT + 0x20000)), "r"(PTE_PAGE(TGT + 0x21000)),
		       "r"(PTE_PAGE(TGT + 0x23000)), "r"(PTE_PAGE(TGT + 0x24000)),
		       "r"(PTE_PAGE(TGT + 0x25000)), "r"(PTE_PAGE(TGT + 0x26000)),
		       "r"(PTE_PAGE(TGT + 0x27000))
		     : "memory");
	GUEST_CHECK(p == s + 8);
	expect(IOVA_A + 0x20000, TGT + 0x20000, 2 * PAGE);
	expect(IOVA_A + 0x23000, TGT + 0x23000, 5 * PAGE);
	hcall(A64T_CALL_GONE, IOVA_A + 0x22000, 0, 0);
}

/* Stores the emulator leaves to the single-step path: a SIMD store pair
 * (what a memcpy of descriptors compiles to) and a writeback into the
 * register it stores (CONSTRAINED UNPREDICTABLE). */
static uint64_t simd_src[4] __attribute__((aligned(16)));

static void declined(uint64_t *root)
{
	uint64_t *s = pgt_slot(root, IOVA_A + 0x30000, INSTALL_CASAL);
	uint64_t *p = &s[8];

	for (unsigned int i = 0; i < 4; i++)
		simd_src[i] = PTE_PAGE(TGT + 0x30000 + i * PAGE);
	asm volatile("ldp q0, q1, [%1]\n\tstp q0, q1, [%0]"
		     : : "r"(s), "r"(simd_src) : "v0", "v1", "memory");
	expect(IOVA_A + 0x30000, TGT + 0x30000, 4 * PAGE);
	/* STR x9, [x9], #8: stores p itself (8-aligned: an invalid
	 * descriptor) to s[8].  Encoded by hand: assemblers refuse or warn. */
	asm volatile("mov x9, %0\n\t.inst 0xf8008529\n\tmov %0, x9"
		     : "+r"(p) : : "x9", "memory");
	GUEST_CHECK(p == &s[9]);
	GUEST_CHECK(s[8] == (uint64_t)(uintptr_t)&s[8]);
	hcall(A64T_CALL_GONE, IOVA_A + 0x38000, 0, 0);
}

/* Linux up to 6.12 splitting a block to unmap a page of it. */
static void split(uint64_t *root)
{
	uint64_t *l2 = pgt_slot_l2(root, IOVA_BLOCK, INSTALL_CASAL);
	uint64_t *t = pgt_alloc(), old;

	str64(l2, PTE_BLOCK(TGT));
	expect(IOVA_BLOCK, TGT, MB2);
	for (unsigned int i = 0; i < 512; i++)
		if (i != 5)
			str64(&t[i], PTE_PAGE(TGT + i * PAGE));
	asm volatile("dmb ishst" ::: "memory");
	old = cmpxchg64(l2, PTE_BLOCK(TGT), PTE_TABLE((uint64_t)(uintptr_t)t),
			INSTALL_CASAL);
	GUEST_CHECK(old == PTE_BLOCK(TGT));
	expect(IOVA_BLOCK, TGT, 5 * PAGE);
	expect(IOVA_BLOCK + 6 * PAGE, TGT + 6 * PAGE, 506 * PAGE);
	hcall(A64T_CALL_GONE, IOVA_BLOCK + 5 * PAGE, 0, 0);
}

static void unmap(uint64_t *root)
{
	uint64_t *s = pgt_slot(root, IOVA_A + 0x10000, INSTALL_CASAL);

	for (unsigned int i = 0; i < 16; i++)
		str64(&s[i], 0);
	hcall(A64T_CALL_GONE, IOVA_A + 0x10000, 0, 0);
	hcall(A64T_CALL_GONE, IOVA_A + 0x1f000, 0, 0);
	/* The whole level-1 slot of IOVA_B: its tables go with it. */
	str64(&root[IOVA_B >> 30], 0);
	hcall(A64T_CALL_GONE, IOVA_B, 0, 0);
}

void guest_faults(uint64_t *root);
void guest_race(void);
void guest_atomics(void);

int guest_main(void)
{
	uint64_t *root = pgt_alloc();

	hcall(A64T_CALL_ROOT, (uint64_t)(uintptr_t)root, 0, 0);
	map_one(root, IOVA_A, TGT, INSTALL_CASAL);
	phase(A64T_PH_CASAL);
	map_one(root, IOVA_B, TGT + PAGE, INSTALL_LLSC);
	phase(A64T_PH_LLSC);
	stp_pair(root);
	phase(A64T_PH_STP);
	str_run(root);
	phase(A64T_PH_STR);
	writeback(root);
	phase(A64T_PH_WRITEBACK);
	declined(root);
	phase(A64T_PH_DECLINED);
	split(root);
	phase(A64T_PH_SPLIT);
	unmap(root);
	phase(A64T_PH_UNMAP);
	guest_faults(root);
	phase(A64T_PH_FAULTS);
	guest_race();
	phase(A64T_PH_RACE);
	guest_atomics();
	phase(A64T_PH_ATOMICS);
	return 0;
}
