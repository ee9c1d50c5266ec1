/* SPDX-License-Identifier: MIT */
/*
 * The other stores KVM reports without syndrome, each once on a protected
 * table page (root slots past the IOVAs in use; the values stay invalid
 * descriptors, bit 0 clear): SWP, LD<op>, ST<op>, CASP success and
 * failure, an LDAXP/STLXP loop, 32-bit CAS, byte SWP.  The VMM emulates
 * each (its registers written back); the guest checks memory and its
 * registers against the Arm ARM.
 */
#include "guest.h"

#define LSE ".arch_extension lse\n\t"

static void swp_ldop(uint64_t *m)
{
	uint64_t old;

	str64(&m[0], 0x100);
	asm volatile(LSE "swpal %1, %0, [%2]" : "=&r"(old) : "r"(0x200ull), "r"(&m[0]) : "memory");
	GUEST_CHECK(old == 0x100 && m[0] == 0x200);
	str64(&m[1], 0x10);
	asm volatile(LSE "ldaddal %1, %0, [%2]" : "=&r"(old) : "r"(0x20ull), "r"(&m[1]) : "memory");
	GUEST_CHECK(old == 0x10 && m[1] == 0x30);
	str64(&m[2], 0x100);
	asm volatile(LSE "ldsetal %1, %0, [%2]" : "=&r"(old) : "r"(0x8ull), "r"(&m[2]) : "memory");
	GUEST_CHECK(old == 0x100 && m[2] == 0x108);
	str64(&m[3], 0x40);
	asm volatile(LSE "staddl %0, [%1]" : : "r"(0x4ull), "r"(&m[3]) : "memory");
	GUEST_CHECK(m[3] == 0x44);
}

static void casp(uint64_t *m)
{
	register uint64_t c0 asm("x4"), c1 asm("x5");
	register uint64_t n0 asm("x6") = 0x3000, n1 asm("x7") = 0x4000;

	str64(&m[4], 0x1000);
	str64(&m[5], 0x2000);
	c0 = 0x1000;
	c1 = 0x2000;
	asm volatile(LSE "caspal %0, %1, %2, %3, [%4]"
		     : "+r"(c0), "+r"(c1) : "r"(n0), "r"(n1), "r"(&m[4]) : "memory");
	GUEST_CHECK(c0 == 0x1000 && c1 == 0x2000 && m[4] == 0x3000 && m[5] == 0x4000);
	c0 = 0x4;
	c1 = 0x8;
	asm volatile(LSE "caspal %0, %1, %2, %3, [%4]"
		     : "+r"(c0), "+r"(c1) : "r"(n0), "r"(n1), "r"(&m[4]) : "memory");
	GUEST_CHECK(c0 == 0x3000 && c1 == 0x4000 && m[4] == 0x3000 && m[5] == 0x4000);
}

/* Both descriptors of a pair advanced by one exclusive pair store, as
 * Linux's cmpxchg_double: the loaded registers stay as loaded until the
 * store (the VMM rebuilds its monitor from them). */
static void ldxp_stxp(uint64_t *m)
{
	uint64_t lo, hi, nlo, nhi;
	uint32_t fail;

	str64(&m[6], 0x500);
	str64(&m[7], 0x600);
	asm volatile("1:	ldaxp	%0, %1, [%5]\n"
		     "	add	%2, %0, #4\n"
		     "	add	%3, %1, #4\n"
		     "	stlxp	%w4, %2, %3, [%5]\n"
		     "	cbnz	%w4, 1b"
		     : "=&r"(lo), "=&r"(hi), "=&r"(nlo), "=&r"(nhi), "=&r"(fail)
		     : "r"(&m[6]) : "memory");
	GUEST_CHECK(lo == 0x500 && m[6] == 0x504 && m[7] == 0x604);
}

static void narrow(uint64_t *m)
{
	uint32_t *w = (uint32_t *)&m[8];
	uint8_t *b = (uint8_t *)&m[9];
	uint32_t c = 0x44;
	uint32_t old8;

	str64(&m[8], 0x44);
	asm volatile(LSE "casal %w0, %w1, [%2]" : "+r"(c) : "r"(0x88u), "r"(w) : "memory");
	GUEST_CHECK(c == 0x44 && m[8] == 0x88);
	str64(&m[9], 0x1200);
	asm volatile(LSE "swpalb %w1, %w0, [%2]" : "=&r"(old8) : "r"(0xccu), "r"(b) : "memory");
	GUEST_CHECK(old8 == 0 && m[9] == 0x12cc);
}

void guest_atomics(void)
{
	uint64_t *m = (uint64_t *)(uintptr_t)A64T_ATOM_GPA;

	swp_ldop(m);
	casp(m);
	ldxp_stxp(m);
	narrow(m);
}
