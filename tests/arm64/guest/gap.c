/* SPDX-License-Identifier: MIT */
/*
 * vCPU 1: stores to and loads from the page at x0 (at least 1000 times,
 * then until the VMM sets A64T_GAP_STOP), values with bit 0 clear: if the
 * page is an IO table, they are invalid descriptors and map nothing.  On
 * a page whose memslot the VMM keeps re-cutting, a store or load that
 * falls into a re-cut exits as MMIO into guest RAM, which the library
 * serves (wpt_vm_handle_mmio's gap path); every load must still see the
 * store before it.  On a page that was protected, no store may exit once
 * it is released.
 */
#include "guest.h"

int gap_main(uint64_t page)
{
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)page;
	volatile uint64_t *stop = (volatile uint64_t *)(uintptr_t)A64T_GAP_STOP;
	uint64_t n;

	for (n = 1; n <= 1000 || !*stop; n++) {
		p[n & 255] = n << 2;
		if (p[n & 255] != n << 2)
			hcall(A64T_CALL_FAIL, __LINE__, n << 2, p[n & 255]);
	}
	return 0;
}
