/* SPDX-License-Identifier: MIT */
/*
 * The bench VMM's single steps: the library's step protocol
 * (wpt_vm_step_begin, one KVM_GUESTDBG_SINGLESTEP, wpt_vm_step_end) for
 * force_step, for stores KVM's emulator refuses, and for stores the
 * userfaultfd backend's kick brings back (uffd_block).
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "wpt.h"
#include "vmm_impl.h"
#include "x86_store.h"
#include "../clock.h"

#define MAX_NESTED_STEPS 4

/* End the steps a kick began inside a step; ret, or the first failure. */
static int nested_steps_end(struct bvm_vcpu *v, struct wpt_step *nested,
			    unsigned int nr_nested, int ret)
{
	unsigned int i;
	int r;

	for (i = 0; i < nr_nested; i++) {
		r = wpt_vm_step_end(v->vm->wpt, &nested[i]);
		if (r < 0 && !ret)
			ret = vcpu_fail(v, r, "nested step end: %s",
					strerror(-r));
		else if (r >= 0)
			v->st.uffd_steps++;
	}
	return ret;
}

/*
 * Run one guest instruction: KVM_GUESTDBG_SINGLESTEP, KVM_RUN until
 * KVM_EXIT_DEBUG, debug off again.  A store that exits as MMIO on the way
 * (someone protected the page again meanwhile) goes to the library with
 * its data, and that completes the instruction: KVM has moved RIP past it.
 * Another MMIO exit ends the step early and is left in run for the loop
 * (exit_pending); any other exit is an error.  At CPL3 this host's KVM does not exit for a single
 * step but raises #DB in the guest (which has no IDT: a triple fault), so
 * uffd_block at CPL3 runs without KVM_GUESTDBG_SINGLESTEP: the "step" runs
 * to the vCPU's next exit.
 *
 * uffd_block: the step may block on another protected page (the stepped
 * store crossing into it, or at CPL3 any store before the next exit); the
 * kick interrupts it and that page's step begins too; all end here.
 */
static int vcpu_single_step(struct bvm_vcpu *v)
{
	struct kvm_guest_debug dbg = {
		.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP,
	};
	struct kvm_run *run = v->run;
	struct wpt_step nested[MAX_NESTED_STEPS];
	unsigned int nr_nested = 0;
	bool to_exit = v->vm->cfg.uffd_block && !v->vm->cfg.cpl0;
	int ret = 0, r;

	if (!to_exit && ioctl(v->fd, KVM_SET_GUEST_DEBUG, &dbg) < 0) {
		ret = -errno;
		return vcpu_fail(v, ret, "KVM_SET_GUEST_DEBUG: %s",
				 strerror(-ret));
	}
	for (;;) {
		if (vcpu_run(v) < 0) {
			if (errno == EINTR && v->vm->cfg.uffd_block) {
				v->st.kicks++;
				/* Out of room: end the step; the store
				 * faults again after it. */
				if (nr_nested == MAX_NESTED_STEPS)
					break;
				r = wpt_vm_uffd_step_begin(v->vm->wpt,
							   &nested[nr_nested]);
				if (r < 0) {
					ret = vcpu_fail(v, r, "nested step: %s",
							strerror(-r));
					break;
				}
				nr_nested += r;
				continue;
			}
			if (errno == EINTR || errno == EAGAIN)
				continue;
			ret = -errno;
			vcpu_fail(v, ret, "KVM_RUN (step): %s", strerror(-ret));
			break;
		}
		v->st.runs++;
		if (run->exit_reason == KVM_EXIT_DEBUG)
			break;
		if (run->exit_reason == KVM_EXIT_MMIO && run->mmio.is_write) {
			v->st.mmio_exits++;
			r = wpt_vm_handle_mmio(v->vm->wpt, run->mmio.phys_addr,
					       run->mmio.data, run->mmio.len, 1);
			if (r < 0)
				ret = vcpu_fail(v, r, "step: store at 0x%llx: "
						"%s", (unsigned long long)
						run->mmio.phys_addr,
						strerror(-r));
			if (r == 0) {
				v->st.mmio_exits--; /* counted by the loop */
				v->exit_pending = true;
			}
			break;
		}
		/* Running to the next exit, any exit ends the step; a real
		 * step can only be cut short by an MMIO exit. */
		if (to_exit || run->exit_reason == KVM_EXIT_MMIO)
			v->exit_pending = true;
		else
			ret = vcpu_unexpected(v);
		break;
	}
	ret = nested_steps_end(v, nested, nr_nested, ret);
	dbg.control = 0;
	if (!to_exit && ioctl(v->fd, KVM_SET_GUEST_DEBUG, &dbg) < 0 && !ret) {
		ret = -errno;
		vcpu_fail(v, ret, "KVM_SET_GUEST_DEBUG off: %s", strerror(-ret));
	}
	return ret;
}

/* begin, step, end: the library's single-step protocol (wpt.h).  With
 * rip set, RIP goes back there first. */
static int vcpu_step_store(struct bvm_vcpu *v, uint64_t gpa,
			   struct kvm_regs *regs, uint64_t rip)
{
	struct wpt_step step;
	int ret, r;

	ret = wpt_vm_step_begin(v->vm->wpt, gpa, &step);
	if (ret < 0)
		return vcpu_fail(v, ret, "wpt_vm_step_begin 0x%llx: %s",
				 (unsigned long long)gpa, strerror(-ret));
	if (ret == 0)
		return vcpu_fail(v, -EFAULT, "step of 0x%llx: not RAM",
				 (unsigned long long)gpa);
	ret = 0;
	if (regs && regs->rip != rip) {
		regs->rip = rip;
		if (ioctl(v->fd, KVM_SET_REGS, regs) < 0) {
			ret = -errno;
			vcpu_fail(v, ret, "KVM_SET_REGS: %s", strerror(-ret));
		}
	}
	if (!ret)
		ret = vcpu_single_step(v);
	/* Even when the step failed: the page must be protected again. */
	r = wpt_vm_step_end(v->vm->wpt, &step);
	if (r < 0 && !ret)
		ret = vcpu_fail(v, r, "wpt_vm_step_end 0x%llx: %s",
				(unsigned long long)gpa, strerror(-r));
	return ret;
}

/*
 * force_step: a store to RAM came as KVM_EXIT_MMIO with its data.  Treat
 * it as one that came without (an arm64 NISV): put RIP back on it and run
 * it again through the step path.  1 done, 0 not done here (not RAM, or
 * its start not found: the usual path takes it), or -errno.
 */
int vcpu_force_step(struct bvm_vcpu *v, uint64_t gpa,
			   const uint8_t *data, uint32_t len)
{
	struct bvm *vm = v->vm;
	struct kvm_regs regs;
	struct x86_store s;
	const uint8_t *next = NULL;
	uint64_t t0 = bench_now_ns();
	int ret;

	if (gpa >= BENCH_RAM_SIZE || len > BENCH_RAM_SIZE - gpa)
		return 0;
	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0) {
		ret = -errno;
		return vcpu_fail(v, ret, "KVM_GET_REGS: %s", strerror(-ret));
	}
	if (((gpa + len) & 4095) == 0 && gpa + len + 8 <= BENCH_RAM_SIZE)
		next = vm->ram + gpa + len;
	if (regs.rip < 15 || regs.rip > BENCH_RAM_SIZE ||
	    x86_store_rewind(vm->ram + regs.rip - 15, regs.rip, &regs, gpa,
			     data, len, next, &s)) {
		v->st.step_fallbacks++;
		return 0;
	}
	ret = vcpu_step_store(v, gpa, &regs, regs.rip - s.len);
	if (ret)
		return ret;
	v->st.steps++;
	v->st.lib_exits++;
	v->st.step_ns += bench_now_ns() - t0;
	v->st.lib_ns += bench_now_ns() - t0;
	return 1;
}

/*
 * KVM_EXIT_INTERNAL_ERROR: KVM's emulator refused an instruction (x86:
 * cmpxchg16b, SSE and AVX stores to a read-only slot).  If it is a store
 * to guest RAM, single-step it.  1 done, 0 not ours (the caller reports
 * the exit), or -errno.
 */
int vcpu_refused_store(struct bvm_vcpu *v)
{
	struct bvm *vm = v->vm;
	struct kvm_regs regs;
	struct x86_store s;
	uint64_t t0 = bench_now_ns();
	int ret;

	if (v->run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION)
		return 0;
	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0)
		return 0;
	if (regs.rip >= BENCH_RAM_SIZE - 15 ||
	    x86_store_decode(vm->ram + regs.rip, 15, regs.rip, &regs, &s) ||
	    s.ea >= BENCH_RAM_SIZE || s.size > BENCH_RAM_SIZE - s.ea)
		return 0;
	ret = vcpu_step_store(v, s.ea, NULL, 0);
	if (ret)
		return ret;
	v->st.steps++;
	v->st.step_refused++;
	v->st.step_ns += bench_now_ns() - t0;
	return 1;
}

/*
 * uffd_block: KVM_RUN returned -EINTR.  If the library kicked this vCPU
 * out of a store blocked on a protected page, single-step that store.
 */
int vcpu_uffd_kicked(struct bvm_vcpu *v)
{
	struct wpt_step step;
	uint64_t t0 = bench_now_ns();
	int ret, r;

	v->st.kicks++;
	/* A kick this KVM did not heed: its store went on unseen (lifted),
	 * and so would the next ones.  Stop with the reason. */
	if (v->vm->uffd.err == -EOPNOTSUPP)
		return vcpu_fail(v, -EOPNOTSUPP, "a kicked vCPU stayed in "
				 "KVM_RUN for %d ms: this KVM does not "
				 "interrupt a fault blocked on userfaultfd, "
				 "which WPT_UFFD_BLOCK needs",
				 UFFD_KICK_WAIT_MS);
	ret = wpt_vm_uffd_step_begin(v->vm->wpt, &step);
	if (ret <= 0)
		return ret < 0 ? vcpu_fail(v, ret, "wpt_vm_uffd_step_begin: %s",
					   strerror(-ret)) : 0;
	ret = vcpu_single_step(v);
	/* Even when the step failed: the page must be protected again, and
	 * before an exit the step ended at is handled. */
	r = wpt_vm_step_end(v->vm->wpt, &step);
	if (r < 0 && !ret)
		ret = vcpu_fail(v, r, "wpt_vm_step_end 0x%llx: %s",
				(unsigned long long)step.gpa, strerror(-r));
	if (ret)
		return ret;
	/* lib_ns is left alone: from the kick to the step's end the guest
	 * ran (to its next exit at CPL3), which is not the library's time;
	 * wpt_vm_stats.step_ns has that. */
	v->st.uffd_steps++;
	v->st.steps++;
	v->st.lib_exits++;
	v->st.step_ns += bench_now_ns() - t0;
	return 0;
}
