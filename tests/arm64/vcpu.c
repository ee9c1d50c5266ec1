/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "abi.h"
#include "vcpu.h"

#define PSTATE_SP          (1ull << 0)

int a64vm_open(struct a64vm *vm, char *why, size_t n)
{
	memset(vm, 0, sizeof(*vm));
	vm->vm_fd = -1;
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		snprintf(why, n, "/dev/kvm: %s", strerror(errno));
		return -errno;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		snprintf(why, n, "KVM_CREATE_VM: %s", strerror(errno));
		return -errno;
	}
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	vm->ram = mmap(NULL, A64T_RAM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		snprintf(why, n, "mmap of guest RAM: %s", strerror(errno));
		return -ENOMEM;
	}
	return 0;
}

void a64vm_close(struct a64vm *vm)
{
	if (vm->ram)
		munmap(vm->ram, A64T_RAM_SIZE);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
}

int a64vm_has(const struct a64vm *vm, long cap)
{
	return ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, cap) > 0;
}

int a64vm_vcpu(struct a64vm *vm, int id, struct a64vcpu *cpu)
{
	struct kvm_vcpu_init init;

	cpu->vm = vm;
	cpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (cpu->fd < 0)
		return -errno;
	if (ioctl(vm->vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0 ||
	    ioctl(cpu->fd, KVM_ARM_VCPU_INIT, &init) < 0)
		return -errno;
	cpu->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			cpu->fd, 0);
	if (cpu->run == MAP_FAILED) {
		cpu->run = NULL;
		return -errno;
	}
	return 0;
}

void a64vcpu_close(struct a64vcpu *cpu)
{
	if (cpu->run)
		munmap(cpu->run, cpu->vm->run_size);
	if (cpu->fd >= 0)
		close(cpu->fd);
}

int a64_get(const struct a64vcpu *cpu, uint64_t id, uint64_t *val)
{
	struct kvm_one_reg r = { .id = id, .addr = (uintptr_t)val };

	return ioctl(cpu->fd, KVM_GET_ONE_REG, &r) < 0 ? -errno : 0;
}

int a64_set(const struct a64vcpu *cpu, uint64_t id, uint64_t val)
{
	struct kvm_one_reg r = { .id = id, .addr = (uintptr_t)&val };

	return ioctl(cpu->fd, KVM_SET_ONE_REG, &r) < 0 ? -errno : 0;
}

/* The SP an instruction uses: SP_EL0 at EL0 or with PSTATE.SP = 0. */
static uint64_t sp_id(uint64_t pstate)
{
	return ((pstate >> 2) & 3) && (pstate & PSTATE_SP) ? A64_CORE(sp_el1)
							  : A64_CORE(regs.sp);
}

int a64_get_regs(const struct a64vcpu *cpu, struct wpt_a64_regs *r)
{
	int ret = a64_get(cpu, A64_CORE(regs.pstate), &r->pstate);

	for (unsigned int i = 0; !ret && i < 31; i++)
		ret = a64_get(cpu, A64_CORE(regs.regs[i]), &r->x[i]);
	if (!ret)
		ret = a64_get(cpu, A64_CORE(regs.pc), &r->pc);
	if (!ret)
		ret = a64_get(cpu, sp_id(r->pstate), &r->sp);
	return ret;
}

int a64_set_regs(const struct a64vcpu *cpu, const struct wpt_a64_regs *r)
{
	int ret = a64_set(cpu, A64_CORE(regs.pstate), r->pstate);

	for (unsigned int i = 0; !ret && i < 31; i++)
		ret = a64_set(cpu, A64_CORE(regs.regs[i]), r->x[i]);
	if (!ret)
		ret = a64_set(cpu, A64_CORE(regs.pc), r->pc);
	if (!ret)
		ret = a64_set(cpu, sp_id(r->pstate), r->sp);
	return ret;
}

int a64_get_mmu(const struct a64vcpu *cpu, struct wpt_a64_mmu *m)
{
	int ret = a64_get(cpu, A64_TTBR0, &m->ttbr0);

	if (!ret)
		ret = a64_get(cpu, A64_TTBR1, &m->ttbr1);
	if (!ret)
		ret = a64_get(cpu, A64_TCR, &m->tcr);
	if (!ret)
		ret = a64_get(cpu, A64_SCTLR, &m->sctlr);
	return ret;
}

int a64_run(struct a64vcpu *cpu)
{
	if (ioctl(cpu->fd, KVM_RUN, 0) < 0)
		return -errno;
	return cpu->run->exit_reason;
}

int a64_inject_ext_dabt(const struct a64vcpu *cpu)
{
	struct kvm_vcpu_events ev;

	memset(&ev, 0, sizeof(ev));
	ev.exception.ext_dabt_pending = 1;
	return ioctl(cpu->fd, KVM_SET_VCPU_EVENTS, &ev) < 0 ? -errno : 0;
}

int a64_deliver_sync(const struct a64vcpu *cpu, uint64_t esr, uint64_t far)
{
	uint64_t pstate, pc, vbar;
	int ret = a64_get(cpu, A64_CORE(regs.pstate), &pstate);

	if (!ret)
		ret = a64_get(cpu, A64_CORE(regs.pc), &pc);
	if (!ret)
		ret = a64_get(cpu, A64_VBAR, &vbar);
	if (!ret)
		ret = a64_set(cpu, A64_CORE(spsr[KVM_SPSR_EL1]), pstate);
	if (!ret)
		ret = a64_set(cpu, A64_CORE(elr_el1), pc);
	if (!ret)
		ret = a64_set(cpu, A64_ESR, esr);
	if (!ret)
		ret = a64_set(cpu, A64_FAR, far);
	if (!ret)
		ret = a64_set(cpu, A64_CORE(regs.pstate), A64_PSTATE_EL1H_MASKED);
	/* VBAR offsets: 0x200 current EL with SP_ELx, 0x400 lower EL. */
	if (!ret)
		ret = a64_set(cpu, A64_CORE(regs.pc),
			      vbar + (((pstate >> 2) & 3) ? 0x200 : 0x400));
	return ret;
}

/* ESR_ELx for a data or instruction abort: EC, IL, and the fault status
 * code (DFSC/IFSC) of the Arm ARM's tables; WnR for a data abort (these
 * are all stores). */
uint64_t a64_esr_of(const struct wpt_a64_result *res, unsigned int el)
{
	unsigned int lvl = res->fault_level & 3, fsc = 0, ec;

	switch (res->fault) {
	case WPT_A64_FAULT_TRANSLATION: fsc = 0x04 + lvl; break;
	case WPT_A64_FAULT_ADDR_SIZE:   fsc = 0x00 + lvl; break;
	case WPT_A64_FAULT_ACCESS_FLAG: fsc = 0x08 + lvl; break;
	case WPT_A64_FAULT_PERMISSION:  fsc = 0x0c + lvl; break;
	case WPT_A64_FAULT_ALIGNMENT:   fsc = 0x21; break;
	case WPT_A64_FAULT_EXTERNAL:    fsc = 0x10; break;
	default: break;
	}
	if (res->fault == WPT_A64_FAULT_SP_ALIGNMENT)
		return (0x26ull << 26) | (1ull << 25);
	if (res->fault_fetch)
		ec = el ? 0x21 : 0x20;
	else
		ec = el ? 0x25 : 0x24;
	return ((uint64_t)ec << 26) | (1ull << 25) |
	       (res->fault_fetch ? 0 : 1ull << 6) | fsc;
}

int a64_single_step(const struct a64vcpu *cpu, int on)
{
	struct kvm_guest_debug dbg = {
		.control = on ? KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP : 0,
	};

	return ioctl(cpu->fd, KVM_SET_GUEST_DEBUG, &dbg) < 0 ? -errno : 0;
}
