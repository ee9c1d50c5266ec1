/* SPDX-License-Identifier: MIT */
/*
 * A minimal KVM guest for tests: one VM, one vCPU, real mode, nothing else
 * (no in-kernel irqchip, no memslots: the caller or the library under test
 * registers guest RAM).  A test writes a few instructions into guest RAM,
 * points the vCPU at them and runs it until an exit it wants to look at.
 *
 * Single-threaded: one minivm belongs to one thread.
 */
#ifndef WPT_TEST_MINIVM_H
#define WPT_TEST_MINIVM_H

#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

struct minivm {
	int kvm_fd;
	int vm_fd;
	int vcpu_fd;
	struct kvm_run *run;  /* the vCPU's shared run page */
	size_t run_size;
};

/* Open /dev/kvm, create a VM and one vCPU.  0, or the failing call's
 * -errno (-ENOENT / -EACCES: no usable /dev/kvm).  On failure nothing is
 * left open. */
int minivm_open(struct minivm *vm);
void minivm_close(struct minivm *vm);

/*
 * Put the vCPU in 16-bit real mode at cs:ip = 0:entry (entry < 64 KiB) with
 * ds and es based at ds_base, general registers from regs (rip and rflags
 * are overwritten).  ds_base may be any 32-bit address: KVM_SET_SREGS loads
 * the hidden segment base as given ("unreal mode"), which is how a test
 * reaches RAM above 1 MiB with 16-bit code.  Checked to work on VMX with
 * unrestricted guest and on the kvm_pvm backend.
 */
int minivm_real_mode(struct minivm *vm, uint16_t entry, uint32_t ds_base,
		     const struct kvm_regs *regs);

/* KVM_RUN once: the exit reason (KVM_EXIT_*), or -errno. */
int minivm_run(struct minivm *vm);

int minivm_get_regs(struct minivm *vm, struct kvm_regs *regs);

#endif
