/* SPDX-License-Identifier: MIT */
/* The guest image (tests/arm64/guest/, flattened) inside the test
 * program, so the program is all the initramfs needs.  The Makefile
 * passes its path as A64T_GUEST_BIN. */
	.section .rodata
	.balign 64
	.globl a64t_guest_image, a64t_guest_image_end
a64t_guest_image:
	.incbin A64T_GUEST_BIN
a64t_guest_image_end:
	.section .note.GNU-stack, "", @progbits
