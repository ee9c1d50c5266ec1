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

#include "core.h"
#include "a64.h"
#include "emu.h"
#include "atomic.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the A64 emulator assumes a little-endian host"
#endif

#define PSTATE_NRW      (1ull << 4)
#define PSTATE_EL(p)    (((p) >> 2) & 3)
#define PSTATE_PAN      (1ull << 22)

#define A64_INSN_BYTES  4
#define A64_PAGE        4096u /* HPFAR and the smallest granule */

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
	struct a64_access acc = { .fetch = true, .el0 = e->el0 };
	uint64_t pc = e->regs.pc;
	struct a64_xlate x;
	const void *hva;

	/* PC alignment fault: taken on the fetch of a misaligned PC. */
	if (pc & (A64_INSN_BYTES - 1))
		return fault(e, WPT_A64_FAULT_ALIGNMENT, 0, pc, true);
	if (a64_translate(&e->vm->mem, e->mmu, pc, &acc, &x))
		return fault(e, x.fault, x.level, pc, true);
	hva = guestmem_hva(&e->vm->mem, x.ipa, A64_INSN_BYTES);
	if (!hva || ((uintptr_t)hva & (A64_INSN_BYTES - 1)))
		return fault(e, WPT_A64_FAULT_EXTERNAL, 0, pc, true);
	/* A64 instructions are little-endian whatever SCTLR.EE says. */
	*insn = __atomic_load_n((const uint32_t *)hva, __ATOMIC_RELAXED);
	return 0;
}

/*
 * The IPA of [va, va + len) (inside one 4 KiB page), walked and checked
 * for this access at the vCPU's exception level and PAN.  With a fault
 * IPA the hardware has already walked some access; whether the one
 * emulated here is the same is checked afterwards (fault_ipa_matches), and
 * a stage-1 fault means it is not: 0, single-step.
 */
static int translate_piece(struct emu *e, uint64_t va, uint64_t *ipa)
{
	struct a64_access acc = {
		.write = true, .el0 = e->el0,
		.pan = !e->el0 && (e->regs.pstate & PSTATE_PAN),
	};
	struct a64_xlate x;

	if (a64_translate(&e->vm->mem, e->mmu, va, &acc, &x)) {
		if (e->fault_ipa != WPT_A64_NO_IPA)
			return 0;
		return fault(e, x.fault, x.level, va, false);
	}
	*ipa = x.ipa;
	return 1;
}

/*
 * The exit's fault IPA names the page that faulted (HPFAR) and the low 12
 * bits of the faulting address (FAR).  Nothing ties the instruction word
 * read after the exit to the one that faulted (another thread of the
 * guest may have rewritten it, or the tables), so the emulated access
 * must touch that very byte of that very page: else 0, single-step.
 */
static bool fault_ipa_matches(const struct emu *e)
{
	uint64_t page = e->fault_ipa & ~(uint64_t)(A64_PAGE - 1);
	uint64_t flo = e->fault_ipa & (A64_PAGE - 1);
	unsigned int i;

	if (e->fault_ipa == WPT_A64_NO_IPA)
		return true;
	for (i = 0; i < e->nr_span; i++) {
		const struct span *s = &e->span[i];
		uint64_t lo = s->gpa & (A64_PAGE - 1);

		if ((s->gpa & ~(uint64_t)(A64_PAGE - 1)) == page &&
		    flo >= lo && flo < lo + s->len)
			return true;
	}
	return false;
}

/* Find the access in guest RAM: one span, or two when it crosses a page
 * (only STP and STR, which need no single-copy atomicity across it).
 * 1 found, 0 single-step it, -EFAULT the guest takes an abort. */
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
		ret = translate_piece(e, va, &ipa);
		if (ret != 1)
			return ret;
		s->hva = guestmem_hva(&e->vm->mem, ipa, len);
		if (!s->hva)
			return fault(e, WPT_A64_FAULT_EXTERNAL, 0, va, false);
		s->gpa = ipa;
		s->off = off;
		s->len = len;
		off += len;
	}
	return fault_ipa_matches(e);
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
	bool el0 = e->el0;
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
	/* The EL2 and EL3 regimes are not modelled: the hardware does it. */
	if (PSTATE_EL(regs->pstate) > 1)
		return 0;
	e.el0 = PSTATE_EL(regs->pstate) == 0;
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
	if (ret != 1)
		return ret;
	ret = a64_execute(&e, mon);
	if (ret != 1)
		return ret;
	e.regs.pc += A64_INSN_BYTES;
	*regs = e.regs;
	if (e.stored)
		report_written(&e);
	return 1;
}
