/* SPDX-License-Identifier: MIT */
/*
 * The re-cut window's guest: code, stack and stage-1 tables all lie in
 * the memslot the VMM keeps re-cutting.  Each loop drops the whole TLB,
 * so the next instruction fetch is a fresh stage-1 walk of those tables
 * and a fetch from that slot; a walk or fetch that finds the slot gone
 * is an abort KVM injects, which the vectors report (A64T_CALL_EXC).
 */
#include "guest.h"

int recut_main(void)
{
	volatile uint64_t *count = (volatile uint64_t *)(uintptr_t)A64T_RECUT_COUNT;
	volatile uint64_t *stop = (volatile uint64_t *)(uintptr_t)A64T_RECUT_STOP;

	while (!*stop) {
		asm volatile("tlbi vmalle1\n\t"
			     "dsb ish\n\t"
			     "isb" : : : "memory");
		*count = *count + 1;
	}
	return 0;
}
