/* SPDX-License-Identifier: MIT */
/*
 * The arm64 test guest's entry, vectors and EL0 trampoline.  The VMM
 * enters _start (the image's first byte) at EL1h with the MMU on (it
 * builds the stage-1 identity map, MAIR, TCR, SCTLR beforehand), SP_EL1 =
 * the vCPU's stack, FP/SIMD enabled (CPACR_EL1.FPEN) and x0 = the vCPU:
 * 0 runs guest_main, A64T_RACE_ENTRY race_main, A64T_RECUT_ENTRY
 * recut_main, any other value gap_main(x0).
 *
 * Exceptions: a synchronous one taken at EL1 goes to guest_exc_el1() (C),
 * which reports it and returns the ELR to resume at (past the faulting
 * instruction).  One taken from EL0 (an SVC when the user code is done, or
 * an abort the VMM delivered) returns from run_user() with its ESR (0 for
 * the SVC).  Anything else is a failure reported to the VMM.
 */
#include "../abi.h"

/* op (stp to save, ldp to restore) the registers in pairs at base + off,
 * base + off + 16, ...: the callee-saved ones run_user keeps for its
 * return (at x9), the caller-saved ones an EL1 handler keeps for the code
 * it interrupted (on the stack). */
	.macro	pairs op, base, off, r1, r2, rest:vararg
	\op	\r1, \r2, [\base, #\off]
	.ifnb	\rest
	pairs	\op, \base, (\off + 16), \rest
	.endif
	.endm
	.macro	callee op
	pairs	\op, x9, 0, x19, x20, x21, x22, x23, x24, x25, x26, x27, x28, x29, x30
	.endm
	.macro	caller op
	pairs	\op, sp, 0, x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15, x16, x17, x18, x30
	.endm

	.section .text.entry, "ax"
	.globl _start
_start:
	adr	x1, vectors
	msr	vbar_el1, x1
	isb
	cbz	x0, 1f
	cmp	x0, #A64T_RACE_ENTRY
	b.eq	4f
	cmp	x0, #A64T_RECUT_ENTRY
	b.eq	5f
	bl	gap_main
	b	2f
4:	bl	race_main
	b	2f
5:	bl	recut_main
	b	2f
1:	bl	guest_main
2:
	/* guest_main returned: DONE with its status, then spin. */
	ldr	x1, =A64T_PORT_GPA
	str	x0, [x1, #A64T_P_ARG0]
	mov	x0, #A64T_CALL_DONE
	str	x0, [x1, #A64T_P_CALL]
3:	wfi
	b	3b

/* x0 = the entry of EL0 code (asm, no stack), x1..x3 its arguments.
 * Returns the ESR of what ended it (0: its SVC). */
	.text
	.globl run_user
run_user:
	ldr	x9, =user_ctx
	callee	stp
	mov	x10, sp
	str	x10, [x9, #96]
	msr	elr_el1, x0
	mov	x10, #0x3c0		/* EL0t, interrupts masked */
	msr	spsr_el1, x10
	mov	x0, x1
	mov	x1, x2
	mov	x2, x3
	eret

/* From EL0: back into run_user's caller. */
el0_sync:
	mrs	x0, esr_el1
	lsr	x1, x0, #26
	cmp	x1, #0x15		/* SVC from AArch64: the user code is done */
	b.ne	1f
	mov	x0, #0
	b	2f
1:	ldr	x9, =user_ctx
	ldr	x10, [x9, #96]
	mov	sp, x10
	mrs	x1, far_el1
	mrs	x2, elr_el1
	bl	guest_report_exc
	mrs	x0, esr_el1
2:	ldr	x9, =user_ctx
	ldr	x10, [x9, #96]
	mov	sp, x10
	callee	ldp
	ret

/* From EL1: save what C may clobber, let C decide where to resume. */
el1_sync:
	sub	sp, sp, #192
	caller	stp
	mrs	x0, esr_el1
	mrs	x1, far_el1
	mrs	x2, elr_el1
	bl	guest_exc_el1
	msr	elr_el1, x0
	caller	ldp
	add	sp, sp, #192
	eret

unexpected:
	mrs	x1, esr_el1
	mrs	x2, elr_el1
	bl	guest_unexpected
1:	wfi
	b	1b

/* Sixteen 0x80-byte entries, four per group: synchronous, IRQ, FIQ,
 * SError.  Groups: current EL with SP_EL0, current EL with SP_ELx, lower
 * EL AArch64, lower EL AArch32. */
	.macro	vec4 sync
	.irp	target, \sync, unexpected, unexpected, unexpected
	.balign	0x80
	b	\target
	.endr
	.endm

	.balign	0x800
vectors:
	vec4	unexpected
	vec4	el1_sync
	vec4	el0_sync
	vec4	unexpected

	.bss
	.balign	16
user_ctx:
	.space	112
