/* SPDX-License-Identifier: MIT */
/*
 * wpt_a64_emulate(): the arm64 NISV fast path.  Fetch the instruction at
 * the guest's PC through its stage-1 tables, decode it, check what the
 * architecture checks before the access (SP alignment, alignment), find
 * the data in guest RAM, perform the access atomically on the HVA, update
 * the registers, then tell the tracker what changed (wpt_vm_host_wrote),
 * so the shadow and the sink hold the new mapping before the vCPU runs.
 *
 * Every fault is found before anything is written, so a -EFAULT or 0
 * return leaves guest RAM, registers and monitor as they were.
 */
#include <errno.h>
#include <string.h>

#include "core.h"
#include "a64.h"
#include "atomic.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the A64 emulator assumes a little-endian host"
#endif

#define PSTATE_NRW      (1ull << 4)
#define PSTATE_EL(p)    (((p) >> 2) & 3)

#define A64_INSN_BYTES  4
#define A64_PAGE        4096u /* HPFAR and the smallest granule */

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

static int fault(struct emu *e, enum wpt_a64_fault f, int level, uint64_t va,
		 bool fetch)
{
	if (e->res) {
		e->res->fault = f;
		e->res->fault_level = level;
		e->res->fault_fetch = fetch;
		e->res->fault_va = va;
	}
	return -EFAULT;
}

static int fetch_insn(struct emu *e, uint32_t *insn)
{
	uint64_t pc = e->regs.pc;
	struct a64_xlate x;
	const void *hva;

	/* PC alignment fault: taken on the fetch of a misaligned PC. */
	if (pc & (A64_INSN_BYTES - 1))
		return fault(e, WPT_A64_FAULT_ALIGNMENT, 0, pc, true);
	if (a64_translate(&e->vm->mem, e->mmu, e->regs.pstate, pc, true, false,
			  &x))
		return fault(e, x.fault, x.level, pc, true);
	hva = guestmem_hva(&e->vm->mem, x.ipa, A64_INSN_BYTES);
	if (!hva || ((uintptr_t)hva & (A64_INSN_BYTES - 1)))
		return fault(e, WPT_A64_FAULT_EXTERNAL, 0, pc, true);
	/* A64 instructions are little-endian whatever SCTLR.EE says. */
	*insn = __atomic_load_n((const uint32_t *)hva, __ATOMIC_RELAXED);
	return 0;
}

/*
 * The IPA of [va, va + len) when it lies in one 4 KiB page.  The exit's
 * fault_ipa names the page that faulted (HPFAR) and the low 12 bits of
 * the faulting address (FAR): when those bits fall inside this access,
 * the faulting page is this one and no walk is needed.
 */
static int translate_piece(struct emu *e, uint64_t va, unsigned int len,
			   uint64_t *ipa)
{
	uint64_t lo = va & (A64_PAGE - 1), flo = e->fault_ipa & (A64_PAGE - 1);
	struct a64_xlate x;

	if (e->fault_ipa != WPT_A64_NO_IPA && len == e->len && flo >= lo &&
	    flo < lo + len) {
		*ipa = (e->fault_ipa & ~(uint64_t)(A64_PAGE - 1)) | lo;
		return 0;
	}
	if (a64_translate(&e->vm->mem, e->mmu, e->regs.pstate, va, false, true,
			  &x))
		return fault(e, x.fault, x.level, va, false);
	*ipa = x.ipa;
	return 0;
}

/* Find the access in guest RAM: one span, or two when it crosses a page
 * (only STP and STR, which need no single-copy atomicity across it). */
static int map_access(struct emu *e)
{
	unsigned int off = 0;

	e->nr_span = 0;
	while (off < e->len) {
		uint64_t va = e->va + off, ipa;
		unsigned int len = A64_PAGE - (va & (A64_PAGE - 1));
		struct span *s = &e->span[e->nr_span++];
		int ret;

		if (len > e->len - off)
			len = e->len - off;
		ret = translate_piece(e, va, len, &ipa);
		if (ret)
			return ret;
		s->hva = guestmem_hva(&e->vm->mem, ipa, len);
		if (!s->hva)
			return fault(e, WPT_A64_FAULT_EXTERNAL, 0, va, false);
		s->gpa = ipa;
		s->off = off;
		s->len = len;
		off += len;
	}
	return 0;
}

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

/*
 * Cases the architecture leaves CONSTRAINED UNPREDICTABLE, or that this
 * host cannot do atomically: 0, so the VMM single-steps them and the
 * hardware picks its own behaviour.
 */
static bool single_step_instead(const struct a64_insn *in,
				const struct wpt_a64_monitor *mon)
{
	bool wb = in->index != A64_IDX_OFFSET && in->rn != A64_SP;

	switch (in->op) {
	case A64_OP_STR:
		return wb && in->rn == in->rt;
	case A64_OP_STP:
		return wb && (in->rn == in->rt || in->rn == in->rt2);
	case A64_OP_CASP:
		return in->size == 8 && !a64_have_cas128();
	case A64_OP_STXP:
		if (in->rs == in->rt2 ||
		    (in->size == 8 && !a64_have_cas128()))
			return true;
		/* fall through */
	case A64_OP_STXR:
		return !mon || in->rs == in->rt ||
		       (in->rs == in->rn && in->rn != A64_SP);
	default:
		return false;
	}
}

/* The address, after the checks the architecture makes before it. */
static int address(struct emu *e)
{
	const struct a64_insn *in = &e->in;
	bool el0 = PSTATE_EL(e->regs.pstate) == 0;
	uint64_t sctlr = e->mmu->sctlr;
	uint64_t base = base_reg(&e->regs, in->rn);
	unsigned int align;

	/* CheckSPAlignment(): a base of SP must be 16-aligned when
	 * SCTLR.SA (SA0 at EL0) is set. */
	if (in->rn == A64_SP && (base & 15) &&
	    (sctlr & (el0 ? A64_SCTLR_SA0 : A64_SCTLR_SA)))
		return fault(e, WPT_A64_FAULT_SP_ALIGNMENT, 0, base, false);
	e->va = base;
	if ((in->op == A64_OP_STP || in->op == A64_OP_STR) &&
	    in->index != A64_IDX_POST)
		e->va += (uint64_t)in->offset;
	e->len = a64_access_size(in);
	/* Plain stores are checked per register, and only with SCTLR.A;
	 * atomics and exclusives always, the pairs to their whole size
	 * (no FEAT_LSE2). */
	if (in->op == A64_OP_STP || in->op == A64_OP_STR)
		align = (sctlr & A64_SCTLR_A) ? in->size : 1;
	else
		align = e->len;
	if (e->va & (align - 1))
		return fault(e, WPT_A64_FAULT_ALIGNMENT, 0, e->va, false);
	return 0;
}

static int execute(struct emu *e, struct wpt_a64_monitor *mon)
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

/* Tell the tracker what changed; its error is the sink's, to retry. */
static void report_written(struct emu *e)
{
	unsigned int i;
	int err = 0;

	for (i = 0; i < e->nr_span; i++) {
		int r = wpt_vm_host_wrote(e->vm, e->span[i].gpa,
					  e->span[i].len);

		if (r && !err)
			err = r;
		if (e->res) {
			e->res->written_gpa[i] = e->span[i].gpa;
			e->res->written_len[i] = e->span[i].len;
		}
	}
	if (e->res) {
		e->res->nr_written = e->nr_span;
		e->res->sync_err = err;
	}
}

int wpt_a64_emulate(struct wpt_vm *vm, const struct wpt_a64_mmu *mmu,
		    struct wpt_a64_regs *regs, struct wpt_a64_monitor *mon,
		    uint64_t fault_ipa, struct wpt_a64_result *res)
{
	struct emu e = {
		.vm = vm, .mmu = mmu, .res = res, .fault_ipa = fault_ipa,
	};
	uint64_t big_endian;
	uint32_t insn;
	int ret;

	if (!vm || !mmu || !regs)
		return -EINVAL;
	/* Its stores would fault on the page they emulate a store to. */
	if (protect_lifts(&vm->protect))
		return -EOPNOTSUPP;
	if (res)
		*res = (struct wpt_a64_result){ .fault = WPT_A64_FAULT_NONE };
	if (regs->pstate & PSTATE_NRW)
		return -EINVAL; /* AArch32: not A64 */
	e.regs = *regs;
	ret = fetch_insn(&e, &insn);
	if (ret)
		return ret;
	if (res)
		res->insn = insn;
	a64_decode(insn, &e.in);
	if (e.in.op == A64_OP_NONE || single_step_instead(&e.in, mon))
		return 0;
	big_endian = PSTATE_EL(regs->pstate) ? A64_SCTLR_EE : A64_SCTLR_E0E;
	if (mmu->sctlr & big_endian)
		return 0;
	ret = address(&e);
	if (!ret)
		ret = map_access(&e);
	if (ret)
		return ret;
	ret = execute(&e, mon);
	if (ret != 1)
		return ret;
	e.regs.pc += A64_INSN_BYTES;
	*regs = e.regs;
	if (e.stored)
		report_written(&e);
	return 1;
}
