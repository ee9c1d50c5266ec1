/* SPDX-License-Identifier: MIT */
/*
 * The bench guest's entry, the first byte of the image.  The VMM enters
 * here in 64-bit mode (CPL3 or CPL0, interrupts off, no IDT) with
 *   rdi = the GPA of this vCPU's struct bench_params
 *         (BENCH_CPU_GPA(cpu) + BENCH_OFF_PARAMS)
 *   rsp = this vCPU's stack top (BENCH_CPU_GPA(cpu) + BENCH_OFF_STACK_TOP),
 *         16-byte aligned
 * and every other general register zero or stale.  bench_main ends by
 * writing SMMU_R_DONE, after which the VMM no longer runs this vCPU; should
 * it return instead, write DONE here with status START_RETURNED and spin.
 *
 * Constants from bench/abi.h (the header holds C types, so it cannot be
 * included here): BENCH_CPU_GPA(0) = 0x200000, BENCH_CPU_AREA = 1 MiB
 * (shift 20), BENCH_MMIO_GPA(c) = 0xd0000000 + c * 0x1000, SMMU_R_DONE =
 * 0x28.
 */
#define CPU_GPA0 0x200000
#define CPU_AREA_SHIFT 20
#define MMIO_GPA0 0xd0000000
#define MMIO_PAGE_SHIFT 12
#define SMMU_R_DONE 0x28
#define START_RETURNED 0xdead

	.section .text.entry, "ax", @progbits
	.code64
	.globl _start
	.type _start, @function
_start:
	cld
	mov	%rdi, %rbx		/* callee-saved: the params GPA */
	xor	%ebp, %ebp		/* the end of frame-pointer chains */
	call	bench_main

	/* bench_main returned: find this vCPU's SMMU page from its params. */
	lea	-CPU_GPA0(%rbx), %rax
	shr	$CPU_AREA_SHIFT, %rax
	shl	$MMIO_PAGE_SHIFT, %rax
	mov	$MMIO_GPA0, %ecx
	add	%rcx, %rax
	movq	$START_RETURNED, %rdx
	mov	%rdx, SMMU_R_DONE(%rax)
1:	pause
	jmp	1b
	.size _start, . - _start

	.section .note.GNU-stack, "", @progbits
