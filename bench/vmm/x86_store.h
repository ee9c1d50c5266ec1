/* SPDX-License-Identifier: MIT */
/*
 * Just enough of an x86-64 decoder for the bench VMM's single-step path:
 * the instructions that store to memory through a ModRM operand (mov,
 * xchg, cmpxchg, cmpxchg8b/16b, movnti and the SSE stores), to find
 *  - where a store that already exited as KVM_EXIT_MMIO began (KVM has
 *    moved RIP past it), so force_step can run it again for real, and
 *  - which address an instruction KVM's emulator refused was storing to
 *    (KVM_EXIT_INTERNAL_ERROR leaves RIP on it).
 * Flat 64-bit code only (no segment bases, no VEX).  Host code.
 */
#ifndef WPT_BENCH_X86_STORE_H
#define WPT_BENCH_X86_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

struct x86_store {
	unsigned int len;   /* instruction bytes */
	unsigned int size;  /* bytes stored */
	uint64_t ea;        /* address stored to */
	int has_value;      /* value holds what a plain store writes */
	uint8_t value[8];
};

/* Decode the store at b[0..n) (rip: its address).  0, or -EINVAL if it is
 * none of the forms above (or needs more than n bytes). */
int x86_store_decode(const uint8_t *b, size_t n, uint64_t rip,
		     const struct kvm_regs *regs, struct x86_store *out);

/*
 * KVM reported a store of len bytes (data) at gpa and left RIP at rip_after:
 * find the instruction that ends at rip_after and made it.  code points at
 * the 15 bytes before rip_after.  A store crossing out of gpa's page exits
 * with its first part only, so an instruction storing more than len bytes
 * fits when the part it reported ends at a page boundary (then the bytes
 * past it, in next (or NULL), must be what it stored there).  0 and *out,
 * or -ENOENT.
 */
int x86_store_rewind(const uint8_t code[15], uint64_t rip_after,
		     const struct kvm_regs *regs, uint64_t gpa,
		     const uint8_t *data, uint32_t len, const uint8_t *next,
		     struct x86_store *out);

#endif
