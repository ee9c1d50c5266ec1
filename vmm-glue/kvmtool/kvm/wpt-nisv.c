/* SPDX-License-Identifier: MIT */
/*
 * KVM_EXIT_ARM_NISV: a store to a read-only (table) page that carries no
 * instruction syndrome: CAS, the LSE atomics, STP, stores with writeback,
 * store-exclusives.  Linux writes every table descriptor it installs with
 * cmpxchg64, so this is the common exit, not a corner.  In order:
 *   1. wpt_a64_emulate: decode and perform it on guest RAM (the shadow and
 *      the VFIO container are current when it returns);
 *   2. anything it declines: single-step it with the page made writable
 *      (wpt_vm_step_begin/end), KVM_GUESTDBG_SINGLESTEP;
 *   3. a guest fault it reports (-EFAULT), or a store outside guest RAM:
 *      inject an external data abort, as QEMU does for such exits.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "kvm/kvm.h"
#include "kvm/kvm-cpu.h"
#include "kvm/util.h"

#include "wpt-glue-internal.h"

#define WPT_CORE_REG(x) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | \
			 KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(x))
#define WPT_STEP_MAX_RUNS 16  /* KVM_RUNs before the step counts as lost */

static int wpt_glue__one_reg(struct kvm_cpu *vcpu, u64 id, uint64_t *v,
			     bool set)
{
	struct kvm_one_reg reg = { .id = id, .addr = (u64)(unsigned long)v };

	if (ioctl(vcpu->vcpu_fd, set ? KVM_SET_ONE_REG : KVM_GET_ONE_REG,
		  &reg) < 0)
		return -errno;
	return 0;
}

/* PSTATE.M[0] (SPSel): SP_ELx, here SP_EL1; else SP_EL0. */
static u64 wpt_glue__sp_id(u64 pstate)
{
	return (pstate & 1) ? WPT_CORE_REG(sp_el1) : WPT_CORE_REG(regs.sp);
}

static int wpt_glue__regs(struct kvm_cpu *vcpu, struct wpt_a64_regs *regs,
			  bool set)
{
	int i, r = 0;

	if (!set)
		r = wpt_glue__one_reg(vcpu, WPT_CORE_REG(regs.pstate),
				      &regs->pstate, false);
	for (i = 0; i < 31 && !r; i++)
		r = wpt_glue__one_reg(vcpu, WPT_CORE_REG(regs.regs[i]),
				      &regs->x[i], set);
	if (!r)
		r = wpt_glue__one_reg(vcpu, wpt_glue__sp_id(regs->pstate),
				      &regs->sp, set);
	if (!r)
		r = wpt_glue__one_reg(vcpu, WPT_CORE_REG(regs.pc), &regs->pc,
				      set);
	return r;
}

static int wpt_glue__mmu(struct kvm_cpu *vcpu, struct wpt_a64_mmu *mmu)
{
	int r;

	r = wpt_glue__one_reg(vcpu, ARM64_SYS_REG(3, 0, 2, 0, 0), &mmu->ttbr0,
			      false);
	if (!r)
		r = wpt_glue__one_reg(vcpu, ARM64_SYS_REG(3, 0, 2, 0, 1),
				      &mmu->ttbr1, false);
	if (!r)
		r = wpt_glue__one_reg(vcpu, ARM64_SYS_REG(3, 0, 2, 0, 2),
				      &mmu->tcr, false);
	if (!r)
		r = wpt_glue__one_reg(vcpu, ARM64_SYS_REG(3, 0, 1, 0, 0),
				      &mmu->sctlr, false);
	return r;
}

static int wpt_glue__inject_dabt(struct kvm_cpu *vcpu)
{
	struct kvm_vcpu_events ev;

	memset(&ev, 0, sizeof(ev));
	ev.exception.ext_dabt_pending = 1;
	__atomic_fetch_add(&wpt_glue.nisv_aborts, 1, __ATOMIC_RELAXED);
	if (ioctl(vcpu->vcpu_fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	return 0;
}

/* Run the vCPU for one instruction: 0 once KVM_EXIT_DEBUG came.  Other
 * MMIO exits on the way (another vCPU may have protected a page again)
 * are served as usual, the library's hook first. */
static int wpt_glue__step_run(struct kvm_cpu *vcpu)
{
	struct kvm_run *run = vcpu->kvm_run;
	int i;

	for (i = 0; i < WPT_STEP_MAX_RUNS; i++) {
		int ret, err;

		/* A step runs guest code too: never inside a re-cut. */
		wpt_glue__vcpu_enter(vcpu);
		ret = ioctl(vcpu->vcpu_fd, KVM_RUN, 0);
		err = errno;
		wpt_glue__vcpu_exit(vcpu);
		if (ret < 0) {
			if (err == EINTR || err == EAGAIN)
				continue;
			return -err;
		}
		if (run->exit_reason == KVM_EXIT_DEBUG)
			return 0;
		if (run->exit_reason != KVM_EXIT_MMIO)
			return -EIO;
		kvm_cpu__emulate_mmio(vcpu, run->mmio.phys_addr,
				      run->mmio.data, run->mmio.len,
				      run->mmio.is_write);
	}
	return -ETIMEDOUT;
}

static int wpt_glue__step(struct kvm_cpu *vcpu, u64 ipa)
{
	struct kvm_guest_debug dbg = {
		.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP,
	};
	struct wpt_step st;
	int r = wpt_vm_step_begin(wpt_glue.vm, ipa, &st), end;

	if (r == 0) /* not guest RAM: a device store KVM could not decode */
		return wpt_glue__inject_dabt(vcpu);
	if (r < 0)
		return r;
	r = ioctl(vcpu->vcpu_fd, KVM_SET_GUEST_DEBUG, &dbg) < 0 ? -errno : 0;
	if (!r)
		r = wpt_glue__step_run(vcpu);
	dbg.control = 0;
	if (ioctl(vcpu->vcpu_fd, KVM_SET_GUEST_DEBUG, &dbg) < 0 && !r)
		r = -errno;
	/* Always: the page must be protected again, whatever happened. */
	end = wpt_vm_step_end(wpt_glue.vm, &st);
	__atomic_fetch_add(&wpt_glue.nisv_stepped, 1, __ATOMIC_RELAXED);
	if (end < 0)
		pr_warning("wpt: step at 0x%llx: %s", (unsigned long long)ipa,
			   strerror(-end));
	return r;
}

/* 0: the exit is served and the vCPU may run on; else -errno. */
int wpt_glue__nisv(struct kvm_cpu *vcpu)
{
	u64 ipa = vcpu->kvm_run->arm_nisv.fault_ipa;
	struct wpt_a64_result res;
	struct wpt_a64_regs regs;
	struct wpt_a64_mmu mmu;
	int r;

	__atomic_fetch_add(&wpt_glue.nisv_exits, 1, __ATOMIC_RELAXED);
	r = wpt_glue__regs(vcpu, &regs, false);
	if (!r)
		r = wpt_glue__mmu(vcpu, &mmu);
	if (r)
		return r;
	/* No exclusive monitor: a store-exclusive is stepped (Linux uses
	 * CAS wherever the CPU has LSE, as every v8.1+ CPU does). */
	r = wpt_glue.force_step ? 0 :
		wpt_a64_emulate(wpt_glue.vm, &mmu, &regs, NULL, ipa, &res);
	if (r == 1) {
		__atomic_fetch_add(&wpt_glue.nisv_emulated, 1,
				   __ATOMIC_RELAXED);
		if (res.sync_err)
			pr_warning("wpt: emulated store at 0x%llx: %s",
				   (unsigned long long)ipa,
				   strerror(-res.sync_err));
		return wpt_glue__regs(vcpu, &regs, true);
	}
	if (r == -EFAULT)
		return wpt_glue__inject_dabt(vcpu);
	if (r == 0)
		return wpt_glue__step(vcpu, ipa);
	return r;
}
