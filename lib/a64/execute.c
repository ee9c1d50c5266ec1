/* SPDX-License-Identifier: MIT */
/*
 * Performing an emulated A64 store (emu.h): every check was made and the
 * access located before this runs, so from here it cannot fault; plain
 * stores single-copy atomic where aligned, the rest one host atomic each.
 */
#include <string.h>

#include "emu.h"
#include "atomic.h"

/* The host address of [off, off + size) if it lies in one span and is
 * aligned to size, else NULL. */
static void *span_ptr(const struct emu *e, unsigned int off, unsigned int size)
{
	unsigned int i;

	for (i = 0; i < e->nr_span; i++) {
		const struct span *s = &e->span[i];

		if (off >= s->off && off + size <= s->off + s->len) {
			uint8_t *p = s->hva + (off - s->off);

			return ((uintptr_t)p & (size - 1)) ? NULL : p;
		}
	}
	return NULL;
}

/* A plain store of one register (STP, STR): single-copy atomic when
 * aligned, as the architecture makes it; byte by byte otherwise, which is
 * all it promises then. */
static void store_reg(struct emu *e, unsigned int off, uint64_t v,
		      unsigned int size)
{
	void *p = span_ptr(e, off, size);
	unsigned int i;

	if (p) {
		a64_store(p, size, v, __ATOMIC_RELAXED);
		return;
	}
	for (i = 0; i < size; i++)
		a64_store(span_ptr(e, off + i, 1), 1, v >> (8 * i),
			  __ATOMIC_RELAXED);
}

/* STP, STNP, STR with writeback.  Writeback with Rn = Rt (or Rt2) and
 * Rn != 31 is CONSTRAINED UNPREDICTABLE: the caller single-steps it. */
static int do_store(struct emu *e)
{
	const struct a64_insn *in = &e->in;

	store_reg(e, 0, trunc_to(xreg(&e->regs, in->rt), in->size), in->size);
	if (in->op == A64_OP_STP)
		store_reg(e, in->size,
			  trunc_to(xreg(&e->regs, in->rt2), in->size),
			  in->size);
	e->stored = true;
	return 1;
}

static int do_cas(struct emu *e, void *p)
{
	const struct a64_insn *in = &e->in;
	int mo = a64_order(in->acquire, in->release);
	uint64_t old = trunc_to(xreg(&e->regs, in->rs), in->size);

	/* Compare fails: no store, Rs gets what memory holds. */
	e->stored = a64_cas(p, in->size, &old,
			    trunc_to(xreg(&e->regs, in->rt), in->size), mo);
	set_xreg(&e->regs, in->rs, old);
	return 1;
}

/* CASP: Xs at the lower address, X(s+1) at the higher (little-endian);
 * Rs = 30 pairs with XZR. */
static int do_casp(struct emu *e, void *p)
{
	const struct a64_insn *in = &e->in;
	int mo = a64_order(in->acquire, in->release);
	unsigned int sz = in->size;
	uint64_t cmp[2] = { trunc_to(xreg(&e->regs, in->rs), sz),
			    trunc_to(xreg(&e->regs, in->rs + 1), sz) };
	uint64_t val[2] = { trunc_to(xreg(&e->regs, in->rt), sz),
			    trunc_to(xreg(&e->regs, in->rt + 1), sz) };

	if (sz == 4) {
		uint64_t old = cmp[0] | cmp[1] << 32;

		e->stored = a64_cas(p, 8, &old, val[0] | val[1] << 32, mo);
		cmp[0] = old & 0xffffffffu;
		cmp[1] = old >> 32;
	} else {
		e->stored = a64_cas128(p, cmp, val, mo);
	}
	set_xreg(&e->regs, in->rs, cmp[0]);
	set_xreg(&e->regs, in->rs + 1, cmp[1]);
	return 1;
}

static int do_rmw(struct emu *e, void *p)
{
	const struct a64_insn *in = &e->in;
	uint64_t old;

	old = a64_rmw(p, in->size, in->op,
		      trunc_to(xreg(&e->regs, in->rs), in->size),
		      a64_order(in->acquire, in->release));
	set_xreg(&e->regs, in->rt, old);
	e->stored = true;
	return 1;
}

/*
 * STXR/STXP against the VMM's monitor.  It passes only for exactly the
 * marked address and size (the strictest check the architecture
 * permits); with a remembered value the store is a compare-and-swap
 * against it, so a store another agent made since the load-exclusive
 * (which would have cleared a real global monitor) fails it.  Status: 0
 * stored, 1 not.  The monitor is cleared either way.
 */
static int do_store_exclusive(struct emu *e, void *p,
			      struct wpt_a64_monitor *mon)
{
	const struct a64_insn *in = &e->in;
	int mo = in->release ? __ATOMIC_RELEASE : __ATOMIC_RELAXED;
	bool pair = in->op == A64_OP_STXP;
	unsigned int sz = in->size;
	uint64_t v0 = trunc_to(xreg(&e->regs, in->rt), sz);
	uint64_t v1 = pair ? trunc_to(xreg(&e->regs, in->rt2), sz) : 0;
	bool pass = (mon->flags & WPT_A64_MON_VALID) && mon->va == e->va &&
		    mon->size == e->len;

	if (pass && pair && sz == 8) {
		uint64_t val[2] = { v0, v1 }, cur[2];

		if (mon->flags & WPT_A64_MON_VALUE) {
			cur[0] = mon->value[0];
			cur[1] = mon->value[1];
			pass = a64_cas128(p, cur, val, mo);
		} else {
			/* No value to hold it to: a 16-byte atomic store. */
			memcpy(cur, p, sizeof(cur));
			while (!a64_cas128(p, cur, val, mo))
				;
		}
	} else if (pass) {
		uint64_t v = pair ? v0 | v1 << 32 : v0;
		unsigned int len = e->len;

		if (mon->flags & WPT_A64_MON_VALUE) {
			uint64_t cur = pair ? trunc_to(mon->value[0], 4) |
						      mon->value[1] << 32
					    : trunc_to(mon->value[0], len);

			pass = a64_cas(p, len, &cur, v, mo);
		} else {
			a64_store(p, len, v, mo);
		}
	}
	mon->flags = 0;
	set_xreg(&e->regs, in->rs, pass ? 0 : 1);
	e->stored = pass;
	return 1;
}

int a64_execute(struct emu *e, struct wpt_a64_monitor *mon)
{
	const struct a64_insn *in = &e->in;
	void *p;

	if (in->op == A64_OP_STP || in->op == A64_OP_STR) {
		do_store(e);
		if (in->index != A64_IDX_OFFSET)
			set_base_reg(&e->regs, in->rn,
				     base_reg(&e->regs, in->rn) +
				     (uint64_t)in->offset);
		return 1;
	}
	/* Aligned to its whole size: one span, one host atomic. */
	p = span_ptr(e, 0, e->len);
	if (!p)
		return 0; /* HVA misaligned: the VMM mapped RAM oddly */
	switch (in->op) {
	case A64_OP_CAS:
		return do_cas(e, p);
	case A64_OP_CASP:
		return do_casp(e, p);
	case A64_OP_STXR:
	case A64_OP_STXP:
		return do_store_exclusive(e, p, mon);
	default:
		return do_rmw(e, p);
	}
}
