/* SPDX-License-Identifier: MIT */
/*
 * The guest's platform layer: its x86 page tables identity-map every GPA
 * the driver uses (RAM and the SMMU pages), so a GPA is a pointer.  Each
 * access is one volatile instruction the VMM can see whole when it exits.
 */
#include <stdint.h>

#include "plat.h"

static inline volatile uint64_t *ptr64(uint64_t gpa)
{
	return (volatile uint64_t *)(uintptr_t)gpa;
}

static inline volatile uint32_t *ptr32(uint64_t gpa)
{
	return (volatile uint32_t *)(uintptr_t)gpa;
}

uint64_t plat_read64(uint64_t gpa)
{
	return *ptr64(gpa);
}

uint32_t plat_read32(uint64_t gpa)
{
	return *ptr32(gpa);
}

void plat_store64(uint64_t gpa, uint64_t v)
{
	*ptr64(gpa) = v;
}

void plat_store32(uint64_t gpa, uint32_t v)
{
	*ptr32(gpa) = v;
}

void plat_store64_unaligned(uint64_t gpa, uint64_t v)
{
	/* A misaligned uint64_t pointer is undefined in C: say the one mov
	 * outright (x86 takes any alignment). */
	__asm__ volatile("movq %1, (%0)" : : "r"(gpa), "r"(v) : "memory");
}

uint64_t plat_cmpxchg64(uint64_t gpa, uint64_t old, uint64_t new_val)
{
	uint64_t prev;

	/* Spelled out so it is always the locked instruction Linux's
	 * cmpxchg64() is, whatever the compiler would pick. */
	__asm__ volatile("lock cmpxchgq %2, %1"
			 : "=a"(prev), "+m"(*ptr64(gpa))
			 : "r"(new_val), "0"(old)
			 : "memory", "cc");
	return prev;
}

void plat_zero_page(uint64_t gpa)
{
	uint64_t cnt = 4096 / 8;
	uint64_t dst = gpa;

	/* rep stosq: 8-byte stores, no vector unit. */
	__asm__ volatile("cld; rep stosq"
			 : "+D"(dst), "+c"(cnt)
			 : "a"(0ull)
			 : "memory", "cc");
}

void plat_write_cmd(uint64_t gpa, uint64_t w0, uint64_t w1)
{
	ptr64(gpa)[0] = w0;
	ptr64(gpa)[1] = w1;
}

void plat_mmio_write64(uint64_t gpa, uint64_t v)
{
	*ptr64(gpa) = v;
}

void plat_mmio_write32(uint64_t gpa, uint32_t v)
{
	*ptr32(gpa) = v;
}

uint32_t plat_mmio_read32(uint64_t gpa)
{
	return *ptr32(gpa);
}

uint64_t plat_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

void plat_fence(void)
{
	/* x86 keeps stores in order (TSO) and the register write is an
	 * uncached access that exits: only the compiler must not reorder. */
	__asm__ volatile("" ::: "memory");
}
