/* SPDX-License-Identifier: MIT */
/*
 * The fault paths on a real arm64 KVM, one test per A64T_F_* mark:
 *  - an STP outside RAM: KVM_EXIT_ARM_NISV, wpt_a64_emulate() says
 *    -EFAULT/EXTERNAL, the VMM injects an external data abort
 *    (KVM_SET_VCPU_EVENTS) and the guest takes it at EL1;
 *  - an EL0 STP across the end of an EL0 page the library protects into an
 *    EL1-only page: the emulator's stage-1 walk finds the permission fault
 *    and the VMM delivers it, as the CPU would, to EL1;
 *  - an unaligned STXR: no exit, and the emulator, asked about the same
 *    instruction with the same registers, gives the alignment fault the
 *    Arm ARM checks before the monitor.  The CPU takes that fault too, or
 *    (QEMU's TCG, which checks its monitor's address first) fails the
 *    store-exclusive without an access: both are accepted, and said.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

#define EC(esr)   (((esr) >> 26) & 0x3f)
#define FSC(esr)  ((esr) & 0x3f)
#define WNR(esr)  (((esr) >> 6) & 1)

static const char *const mark_name[] = {
	[A64T_F_NOWHERE] = "fault-store-outside-ram",
	[A64T_F_EL0_KONLY] = "fault-el0-store-el1-only-page",
	[A64T_F_UNALIGNED_X] = "fault-unaligned-exclusive",
};

#define D(f) ((unsigned long long)(g->t.n.f - g->mark_start.f))

static void unaligned_exclusive(struct a64t_guest *g, const char *name,
				const char *seen)
{
	uint64_t odd = A64T_USER_GPA + 1;
	bool cpu_faulted = g->excs == 1 && EC(g->esr) == 0x25 &&
			   FSC(g->esr) == 0x21 && g->far == odd;
	/* TCG: status 1, memory untouched, no exception. */
	bool cpu_failed_it = !g->excs && g->have_status && g->status == 1 &&
			     g->word == 0;

	if (D(nisv) || !(cpu_faulted || cpu_failed_it))
		a64t_report(A64T_FAIL, name, "want no exit and either the "
			    "alignment fault (EC 0x25, FSC 0x21) at 0x%llx or a "
			    "failed STXR; %s, status %llu",
			    (unsigned long long)odd, seen,
			    (unsigned long long)g->status);
	else if (g->verdict_ret != -EFAULT ||
		 g->verdict.fault != WPT_A64_FAULT_ALIGNMENT ||
		 g->verdict.fault_va != odd)
		a64t_report(A64T_FAIL, name, "the emulator says %d, fault %d at "
			    "0x%llx; want -EFAULT, an alignment fault at 0x%llx",
			    g->verdict_ret, g->verdict.fault,
			    (unsigned long long)g->verdict.fault_va,
			    (unsigned long long)odd);
	else
		a64t_report(A64T_PASS, name, "no exit; emulator: alignment fault "
			    "at 0x%llx; CPU: %s", (unsigned long long)odd,
			    cpu_faulted ? "the same fault" :
			    "failed the STXR without an access (TCG checks its "
			    "monitor first)");
}

static void judge(struct a64t_guest *g)
{
	const char *name = mark_name[g->mark];
	char seen[160];

	snprintf(seen, sizeof(seen), "%u exceptions, ESR 0x%llx FAR 0x%llx, "
		 "nisv %llu", g->excs, (unsigned long long)g->esr,
		 (unsigned long long)g->far, D(nisv));
	if (g->excs != 1 && g->mark != A64T_F_UNALIGNED_X) {
		a64t_report(A64T_FAIL, name, "guest took %s", seen);
		return;
	}
	switch (g->mark) {
	case A64T_F_NOWHERE:
		if (EC(g->esr) != 0x25 || FSC(g->esr) != 0x10 || D(ext_dabt) != 1 ||
		    D(nisv) != 1)
			a64t_report(A64T_FAIL, name, "want a synchronous external "
				    "abort (EC 0x25, FSC 0x10) injected after one "
				    "NISV exit; %s, injected %llu", seen, D(ext_dabt));
		else
			a64t_report(A64T_PASS, name, "NISV -> emulate -EFAULT "
				    "external -> KVM_SET_VCPU_EVENTS; %s", seen);
		break;
	case A64T_F_EL0_KONLY:
		if (EC(g->esr) != 0x24 || FSC(g->esr) != 0x0f || !WNR(g->esr) ||
		    g->far != A64T_KONLY_GPA)
			a64t_report(A64T_FAIL, name, "want a level-3 permission "
				    "fault from EL0 (EC 0x24, FSC 0x0f, WnR) at 0x%llx; %s",
				    (unsigned long long)A64T_KONLY_GPA, seen);
		else if (D(nisv) != 1)
			a64t_report(A64T_FAIL, name, "want the store to exit as "
				    "NISV first; %s", seen);
		else if (D(delivered) == 1)
			a64t_report(A64T_PASS, name, "NISV -> emulate -EFAULT "
				    "permission -> delivered to EL1; %s", seen);
		else if (D(stepped) >= 1)
			/* The emulator declines a pair whose second page is
			 * not the fault IPA's: the hardware decides. */
			a64t_report(A64T_PASS, name, "NISV -> emulator declined "
				    "-> single step -> the CPU's permission fault "
				    "to EL1; %s", seen);
		else
			a64t_report(A64T_FAIL, name, "the fault reached the guest "
				    "neither from the emulator nor from a single "
				    "step; %s", seen);
		break;
	case A64T_F_UNALIGNED_X:
		unaligned_exclusive(g, name, seen);
		break;
	}
}

/* At the MARK's exit the STXR is the next instruction: ask the emulator
 * about it with the vCPU's registers and an armed monitor. */
static void emulator_verdict(struct a64t_guest *g)
{
	struct wpt_a64_regs regs;
	struct wpt_a64_mmu mmu;
	struct wpt_a64_monitor mon = { .size = 8, .flags = WPT_A64_MON_VALID };

	memset(&g->verdict, 0, sizeof(g->verdict));
	g->verdict_ret = -EIO;
	if (a64_get_regs(&g->t.cpu, &regs) || a64_get_mmu(&g->t.cpu, &mmu))
		return;
	regs.pc += 4;
	mon.va = A64T_USER_GPA + 1;
	g->verdict_ret = wpt_a64_emulate(g->t.wvm, &mmu, &regs, &mon,
					 WPT_A64_NO_IPA, &g->verdict);
}

void a64t_faults_call(struct a64t_guest *g, uint64_t call)
{
	if (call == A64T_CALL_STATUS) {
		g->have_status = true;
		g->status = g->t.arg[0];
		g->word = g->t.arg[1];
		return;
	}
	if (call == A64T_CALL_EXC) {
		g->excs++;
		g->esr = g->t.arg[0];
		g->far = g->t.arg[1];
		g->elr = g->t.arg[2];
		return;
	}
	if (g->mark)
		judge(g);
	g->mark = g->t.arg[0] < sizeof(mark_name) / sizeof(mark_name[0]) ?
		  g->t.arg[0] : 0;
	g->mark_start = g->t.n;
	g->excs = 0;
	g->have_status = false;
	if (g->mark == A64T_F_UNALIGNED_X)
		emulator_verdict(g);
}

void a64t_faults_end(struct a64t_guest *g)
{
	if (g->mark)
		judge(g);
	g->mark = 0;
}
