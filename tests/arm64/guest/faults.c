/* SPDX-License-Identifier: MIT */
/*
 * The fault paths: each test is announced (A64T_CALL_MARK) so the VMM
 * knows which exception the next store must end in; the handlers report
 * what was taken (A64T_CALL_EXC) and the VMM compares.
 */
#include "guest.h"

uint64_t run_user(void (*fn)(void), uint64_t a0, uint64_t a1, uint64_t a2);
void user_stp(void);

/* EL0 code: x0 = address, x1, x2 = the pair.  No stack. */
asm(".text\n"
    ".globl user_stp\n"
    "user_stp:\n"
    "	stp x1, x2, [x0]\n"
    "	svc #0\n");

void guest_report_exc(uint64_t esr, uint64_t far, uint64_t elr)
{
	hcall(A64T_CALL_EXC, esr, far, elr);
}

/* Report, and resume after the faulting instruction. */
uint64_t guest_exc_el1(uint64_t esr, uint64_t far, uint64_t elr)
{
	hcall(A64T_CALL_EXC, esr, far, elr);
	return elr + 4;
}

void guest_unexpected(uint64_t vector_esr, uint64_t esr, uint64_t elr)
{
	(void)vector_esr;
	hcall(A64T_CALL_FAIL, 0xe000, esr, elr);
}

/* The EL0 page becomes a level-3 IO table, so the library protects it
 * and an EL0 store to it exits. */
static void user_page_is_table(uint64_t *root)
{
	uint64_t *l2 = pgt_slot_l2(root, 0x30000000ull, INSTALL_CASAL);
	uint64_t *t = (uint64_t *)(uintptr_t)A64T_USER_GPA;

	for (unsigned int i = 0; i < 512; i++)
		str64(&t[i], 0);
	GUEST_CHECK(cmpxchg64(l2, 0, PTE_TABLE(A64T_USER_GPA), INSTALL_CASAL) == 0);
}

void guest_faults(uint64_t *root)
{
	uint64_t *nowhere = (uint64_t *)(uintptr_t)A64T_NOWHERE_GPA;
	volatile uint64_t *port = (volatile uint64_t *)(uintptr_t)A64T_PORT_GPA;
	uint64_t odd = A64T_USER_GPA + 1, status = 7, esr;

	user_page_is_table(root);
	hcall(A64T_CALL_MARK, A64T_F_NOWHERE, 0, 0);
	asm volatile("stp %1, %2, [%0]"
		     : : "r"(nowhere), "r"(1ull), "r"(2ull) : "memory");

	hcall(A64T_CALL_MARK, A64T_F_EL0_KONLY, 0, 0);
	esr = run_user(user_stp, A64T_KONLY_GPA - 8, 0x1111, 0x2222);
	GUEST_CHECK(esr != 0);
	/* The EL1-only page was not written.  The half on the user page is
	 * either untouched (the library emulated the pair and faulted it
	 * whole) or written (the emulator declined a pair whose second page
	 * is not the fault IPA's, and the CPU ran it in the single step: a
	 * store pair that faults on its second page leaves its first UNKNOWN,
	 * Arm ARM, "Data Abort on a multi-access instruction"). */
	GUEST_CHECK(((volatile uint64_t *)(uintptr_t)A64T_KONLY_GPA)[0] == 0);
	GUEST_CHECK(((volatile uint64_t *)(uintptr_t)A64T_KONLY_GPA)[-1] == 0 ||
		    ((volatile uint64_t *)(uintptr_t)A64T_KONLY_GPA)[-1] == 0x1111);

	/* The MARK's store and the STXR are adjacent: the VMM emulates the
	 * STXR at the MARK exit (PC + 4) to compare its verdict with the
	 * CPU's.  status stays 7 if the STXR faults (the handler skips it). */
	port[A64T_P_ARG0 / 8] = A64T_F_UNALIGNED_X;
	asm volatile("str %x3, [%2, %4]\n\t"
		     "stxr %w0, %x5, [%1]"
		     : "+r"(status)
		     : "r"(odd), "r"((uint64_t)A64T_PORT_GPA),
		       "r"((uint64_t)A64T_CALL_MARK), "i"(A64T_P_CALL),
		       "r"(0x3333ull)
		     : "memory");
	hcall(A64T_CALL_STATUS, status, *(volatile uint64_t *)(uintptr_t)A64T_USER_GPA, 0);
}
