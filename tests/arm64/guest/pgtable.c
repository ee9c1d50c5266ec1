/* SPDX-License-Identifier: MIT */
/*
 * The IO page table writer, as Linux's io-pgtable-arm writes: a table
 * page is zeroed while nothing points at it, then installed in its
 * parent's empty slot with cmpxchg64 (the slot may have been filled by
 * another CPU meanwhile: the loser frees its table); leaves are single
 * plain stores (WRITE_ONCE).  Every store is written in assembly so the
 * instruction class a phase claims is the one that runs.
 */
#include "guest.h"

static unsigned int pool_next;

uint64_t *pgt_alloc(void)
{
	uint64_t *t;

	GUEST_CHECK(pool_next < A64T_POOL_PAGES);
	t = (uint64_t *)(uintptr_t)(A64T_POOL_GPA + 4096ull * pool_next++);
	for (unsigned int i = 0; i < 512; i++)
		str64(&t[i], 0);
	/* Linux: the zeroed table is visible before the install (dma_wmb). */
	asm volatile("dmb ishst" ::: "memory");
	return t;
}

static uint64_t cas_lse(uint64_t *p, uint64_t old, uint64_t new)
{
	register uint64_t x0 asm("x0") = old;

	asm volatile(".arch_extension lse\n\tcasal %0, %2, [%1]"
		     : "+r"(x0) : "r"(p), "r"(new) : "memory");
	return x0;
}

/* arch/arm64/include/asm/atomic_ll_sc.h's __CMPXCHG_CASE, full barrier. */
static uint64_t cas_llsc(uint64_t *p, uint64_t old, uint64_t new)
{
	uint64_t prev, tmp;

	asm volatile("1:	ldxr	%0, [%2]\n"
		     "	eor	%1, %0, %3\n"
		     "	cbnz	%1, 2f\n"
		     "	stlxr	%w1, %4, [%2]\n"
		     "	cbnz	%w1, 1b\n"
		     "	dmb	ish\n"
		     "2:"
		     : "=&r"(prev), "=&r"(tmp)
		     : "r"(p), "r"(old), "r"(new) : "memory");
	return prev;
}

uint64_t cmpxchg64(uint64_t *p, uint64_t old, uint64_t new, enum install how)
{
	return how == INSTALL_CASAL ? cas_lse(p, old, new) : cas_llsc(p, old, new);
}

static uint64_t *next_table(uint64_t *slot, enum install how)
{
	uint64_t d = *(volatile uint64_t *)slot, *t;

	if (d & PTE_VALID) {
		GUEST_CHECK(d & PTE_TYPE);
		return (uint64_t *)(uintptr_t)PTE_ADDR(d);
	}
	t = pgt_alloc();
	d = cmpxchg64(slot, 0, PTE_TABLE((uint64_t)(uintptr_t)t), how);
	GUEST_CHECK(d == 0);
	GUEST_CHECK(*(volatile uint64_t *)slot == PTE_TABLE((uint64_t)(uintptr_t)t));
	return t;
}

uint64_t *pgt_slot_l2(uint64_t *root, uint64_t iova, enum install how)
{
	uint64_t *l2 = next_table(&root[(iova >> 30) & 511], how);

	return &l2[(iova >> 21) & 511];
}

uint64_t *pgt_slot(uint64_t *root, uint64_t iova, enum install how)
{
	uint64_t *l3 = next_table(pgt_slot_l2(root, iova, how), how);

	return &l3[(iova >> 12) & 511];
}
