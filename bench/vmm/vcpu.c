/* SPDX-License-Identifier: MIT */
/*
 * What the bench VMM's exit loop (loop.c) and its single steps (step.c)
 * both use: KVM_RUN itself, which publishes the vCPU's thread id to the
 * userfaultfd kick while inside, and a vCPU's failure, with its message.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "vmm_impl.h"

/*
 * KVM_RUN (entered only when no quiesce holds the vCPUs, with
 * cfg.quiesce), with this thread's id published for the userfaultfd kick
 * only while it is inside: a vCPU thread that blocks on a protected page while
 * running the VMM's own code (an emulated device writing guest RAM) must
 * be let through, not kicked (a signal would only retry its store).
 */
int vcpu_run(struct bvm_vcpu *v)
{
	struct bvm *vm = v->vm;
	int ret, err;

	if (vm->cfg.quiesce)
		bvm_pause_enter(&vm->pause, v->index, v->tid, v->run);
	vm->tids[v->index] = v->tid;
	ret = ioctl(v->fd, KVM_RUN, 0);
	err = errno;
	vm->tids[v->index] = 0;
	vm->kvm_returns[v->index]++;
	if (vm->cfg.quiesce)
		bvm_pause_leave(&vm->pause, v->index);
	errno = err;
	return ret;
}

int vcpu_fail(struct bvm_vcpu *v, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
	va_end(ap);
	v->err = err;
	return err;
}

static const char *exit_name(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_SHUTDOWN: return "SHUTDOWN (triple fault)";
	case KVM_EXIT_INTERNAL_ERROR: return "INTERNAL_ERROR";
	case KVM_EXIT_FAIL_ENTRY: return "FAIL_ENTRY";
	case KVM_EXIT_HLT: return "HLT";
	case KVM_EXIT_IO: return "IO";
	case KVM_EXIT_EXCEPTION: return "EXCEPTION";
	case KVM_EXIT_DEBUG: return "DEBUG";
	case KVM_EXIT_UNKNOWN: return "UNKNOWN";
	default: return "unexpected";
	}
}

int vcpu_unexpected(struct bvm_vcpu *v)
{
	struct kvm_run *run = v->run;
	struct kvm_regs regs = { 0 };
	struct kvm_sregs sregs = { 0 };
	char detail[96] = "";

	ioctl(v->fd, KVM_GET_REGS, &regs);
	ioctl(v->fd, KVM_GET_SREGS, &sregs);
	switch (run->exit_reason) {
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(detail, sizeof(detail), " suberror %u",
			 run->internal.suberror);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(detail, sizeof(detail), " reason 0x%llx",
			 (unsigned long long)
			 run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_IO:
		snprintf(detail, sizeof(detail), " %s port 0x%x",
			 run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
			 run->io.port);
		break;
	case KVM_EXIT_UNKNOWN:
		snprintf(detail, sizeof(detail), " hw reason 0x%llx",
			 (unsigned long long)run->hw.hardware_exit_reason);
		break;
	}
	/* AMD SVM: KVM reinitialises the VMCB on a shutdown intercept (its
	 * state is undefined after one), so the vCPU reads back as at reset
	 * (CS base 0xffff0000, RIP 0xfff0): the faulting RIP is lost.  VMX
	 * and kvm_pvm keep it.  Say so rather than report a false RIP. */
	if (run->exit_reason == KVM_EXIT_SHUTDOWN && regs.rip == 0xfff0 &&
	    sregs.cs.base == 0xffff0000)
		snprintf(detail, sizeof(detail), "; vCPU state reset by KVM "
			 "(SVM), faulting rip unknown");
	return vcpu_fail(v, -EIO,
			 "exit %u %s%s at rip 0x%llx (rsp 0x%llx cr2 0x%llx)",
			 run->exit_reason, exit_name(run->exit_reason), detail,
			 (unsigned long long)regs.rip,
			 (unsigned long long)regs.rsp,
			 (unsigned long long)sregs.cr2);
}
