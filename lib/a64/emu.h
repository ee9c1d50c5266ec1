/* SPDX-License-Identifier: MIT */
/*
 * The state of one emulated A64 store, shared by its two halves:
 * emulate.c (fetch, decode, checks, locate the access in guest RAM) and
 * execute.c (perform it on the HVA and update the registers).  Private
 * to lib/a64/.
 */
#ifndef WPT_A64_EMU_H
#define WPT_A64_EMU_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"
#include "a64.h"

/* One piece of the access inside one 4 KiB page. */
struct span {
	uint64_t gpa;
	uint8_t *hva;
	uint32_t off; /* from the access's first byte */
	uint32_t len;
};

struct emu {
	struct wpt_vm *vm;
	const struct wpt_a64_mmu *mmu;
	struct wpt_a64_regs regs; /* the new state, committed on success */
	struct wpt_a64_result *res;
	uint64_t fault_ipa;
	struct a64_insn in;
	uint64_t va;              /* the access's first byte */
	unsigned int len;
	struct span span[2];
	unsigned int nr_span;
	bool stored;
	bool el0;                 /* PSTATE.EL == 0 */
};

static inline uint64_t xreg(const struct wpt_a64_regs *r, unsigned int n)
{
	return n == A64_ZR ? 0 : r->x[n];
}

static inline void set_xreg(struct wpt_a64_regs *r, unsigned int n,
			    uint64_t v)
{
	if (n != A64_ZR)
		r->x[n] = v;
}

static inline uint64_t base_reg(const struct wpt_a64_regs *r, unsigned int n)
{
	return n == A64_SP ? r->sp : r->x[n];
}

static inline void set_base_reg(struct wpt_a64_regs *r, unsigned int n,
				uint64_t v)
{
	if (n == A64_SP)
		r->sp = v;
	else
		r->x[n] = v;
}

static inline uint64_t trunc_to(uint64_t v, unsigned int size)
{
	return size == 8 ? v : v & ((1ull << (8 * size)) - 1);
}

/* Perform the located, checked access e and update e->regs: 1 done, 0
 * single-step it instead (the HVA is misaligned for one host atomic). */
int a64_execute(struct emu *e, struct wpt_a64_monitor *mon);

#endif
