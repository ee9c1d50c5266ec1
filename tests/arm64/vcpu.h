/* SPDX-License-Identifier: MIT */
/*
 * A bare arm64 KVM VM for the tests: /dev/kvm, a VM, vCPUs, the register
 * file through KVM_{GET,SET}_ONE_REG in the library's wpt_a64_regs and
 * wpt_a64_mmu layouts, the stage-1 identity map of abi.h, and the ways a
 * VMM hands an abort to its guest.  Memslots are the library's.
 */
#ifndef ARM64_VCPU_H
#define ARM64_VCPU_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "wpt.h"

/* KVM_{GET,SET}_ONE_REG ids: a core register (struct kvm_regs field), and
 * the EL1 system registers the tests use. */
#define A64_CORE(name) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
			KVM_REG_ARM_CORE_REG(name))
#define A64_SCTLR   ARM64_SYS_REG(3, 0, 1, 0, 0)
#define A64_CPACR   ARM64_SYS_REG(3, 0, 1, 0, 2)
#define A64_TTBR0   ARM64_SYS_REG(3, 0, 2, 0, 0)
#define A64_TTBR1   ARM64_SYS_REG(3, 0, 2, 0, 1)
#define A64_TCR     ARM64_SYS_REG(3, 0, 2, 0, 2)
#define A64_ESR     ARM64_SYS_REG(3, 0, 5, 2, 0)
#define A64_FAR     ARM64_SYS_REG(3, 0, 6, 0, 0)
#define A64_MAIR    ARM64_SYS_REG(3, 0, 10, 2, 0)
#define A64_VBAR    ARM64_SYS_REG(3, 0, 12, 0, 0)
#define A64_PSTATE_EL1H_MASKED 0x3c5ull

struct a64vm {
	int kvm_fd;
	int vm_fd;
	uint8_t *ram;    /* A64T_RAM_GPA .. + A64T_RAM_SIZE */
	size_t run_size;
};

struct a64vcpu {
	struct a64vm *vm;
	int fd;
	struct kvm_run *run;
};

/* 0, or -errno with why filled ("no /dev/kvm", ...). */
int a64vm_open(struct a64vm *vm, char *why, size_t n);
void a64vm_close(struct a64vm *vm);
/* 1 if the VM offers cap, 0 if not. */
int a64vm_has(const struct a64vm *vm, long cap);
int a64vm_vcpu(struct a64vm *vm, int id, struct a64vcpu *cpu);
void a64vcpu_close(struct a64vcpu *cpu);

int a64_get(const struct a64vcpu *cpu, uint64_t id, uint64_t *val);
int a64_set(const struct a64vcpu *cpu, uint64_t id, uint64_t val);
int a64_get_regs(const struct a64vcpu *cpu, struct wpt_a64_regs *r);
int a64_set_regs(const struct a64vcpu *cpu, const struct wpt_a64_regs *r);
int a64_get_mmu(const struct a64vcpu *cpu, struct wpt_a64_mmu *m);

/* Write abi.h's stage-1 tables into RAM and point the vCPU at them:
 * MMU on, FP/SIMD on, PC = entry at EL1h, SP_EL1 = sp, x0 = arg. */
int a64_boot(struct a64vcpu *cpu, uint64_t entry, uint64_t sp, uint64_t arg);

/* KVM_RUN: the exit reason, or -errno (-EINTR: the run's alarm fired). */
int a64_run(struct a64vcpu *cpu);

/* An external data abort (KVM_SET_VCPU_EVENTS, ext_dabt_pending). */
int a64_inject_ext_dabt(const struct a64vcpu *cpu);
/* A synchronous exception to EL1, as the CPU takes it: SPSR, ELR = PC,
 * ESR, FAR, PSTATE = EL1h masked, PC = VBAR_EL1 + the vector. */
int a64_deliver_sync(const struct a64vcpu *cpu, uint64_t esr, uint64_t far);
/* The ESR of the abort wpt_a64_emulate asked for, taken from el. */
uint64_t a64_esr_of(const struct wpt_a64_result *res, unsigned int el);

/* KVM_SET_GUEST_DEBUG: single-step on (1) or off (0). */
int a64_single_step(const struct a64vcpu *cpu, int on);

#endif
