/* SPDX-License-Identifier: MIT */
/*
 * Two vCPUs' cmpxchg64 loops on one protected table page, as two CPUs
 * mapping in one domain at once: every CASAL and every STLXR exits
 * (KVM_EXIT_ARM_NISV) and the VMM emulates them on two threads.  An
 * update lost anywhere (a CAS not atomic against the other vCPU, a
 * store-exclusive that passes on a value the other vCPU changed) shows
 * as a sum short of 2 x 4 x A64T_RACE_N.
 */
#include "guest.h"

static void add4(uint64_t *p, enum install how)
{
	uint64_t old = *(volatile uint64_t *)p, prev;

	while ((prev = cmpxchg64(p, old, old + 4, how)) != old)
		old = prev;
}

static void race_adds(void)
{
	uint64_t *c = (uint64_t *)(uintptr_t)A64T_RACE_GPA;

	for (unsigned int i = 0; i < A64T_RACE_N; i++)
		add4(&c[0], INSTALL_CASAL);
	for (unsigned int i = 0; i < A64T_RACE_N; i++)
		add4(&c[1], INSTALL_LLSC);
}

/* vCPU 1. */
int race_main(void)
{
	race_adds();
	*(volatile uint64_t *)(uintptr_t)A64T_RACE_DONE = 1;
	return 0;
}

/* vCPU 0, once vCPU 1 is started: the VMM bounds the wait. */
void guest_race(void)
{
	const volatile uint64_t *c = (const volatile uint64_t *)(uintptr_t)A64T_RACE_GPA;

	hcall(A64T_CALL_RACE, 0, 0, 0);
	race_adds();
	while (!*(volatile uint64_t *)(uintptr_t)A64T_RACE_DONE)
		;
	if (c[0] != 8ull * A64T_RACE_N || c[1] != 8ull * A64T_RACE_N)
		hcall(A64T_CALL_FAIL, __LINE__, c[0], c[1]);
}
