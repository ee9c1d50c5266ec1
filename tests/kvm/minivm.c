/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "minivm.h"

static int minivm_map_run(struct minivm *vm)
{
	int size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	void *run;

	if (size < 0)
		return -errno;
	run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vm->vcpu_fd, 0);
	if (run == MAP_FAILED)
		return -errno;
	vm->run = run;
	vm->run_size = size;
	return 0;
}

int minivm_open(struct minivm *vm)
{
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->vm_fd = vm->vcpu_fd = -1;
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return -errno;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		goto err;
	vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0)
		goto err;
	ret = minivm_map_run(vm);
	if (ret) {
		errno = -ret;
		goto err;
	}
	return 0;
err:
	ret = -errno;
	minivm_close(vm);
	return ret;
}

void minivm_close(struct minivm *vm)
{
	if (vm->run)
		munmap(vm->run, vm->run_size);
	if (vm->vcpu_fd >= 0)
		close(vm->vcpu_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = -1;
}

/* Real mode: a segment's base is its selector times 16, limit 64 KiB; a
 * base past 1 MiB keeps only what a guest reload would see in the
 * selector. */
static void minivm_real_segment(struct kvm_segment *seg, uint32_t base)
{
	seg->base = base;
	seg->selector = base >> 4;
	seg->limit = 0xffff;
}

int minivm_real_mode(struct minivm *vm, uint16_t entry, uint32_t ds_base,
		     const struct kvm_regs *regs)
{
	struct kvm_sregs sregs;
	struct kvm_regs r = *regs;

	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	/* After reset the vCPU is already in real mode (CR0.PE clear); only
	 * the segment bases move. */
	minivm_real_segment(&sregs.cs, 0);
	minivm_real_segment(&sregs.ds, ds_base);
	minivm_real_segment(&sregs.es, ds_base);
	minivm_real_segment(&sregs.ss, 0);
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;
	r.rip = entry;
	r.rflags = 0x2; /* bit 1 is reserved and reads as one */
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	return 0;
}

int minivm_run(struct minivm *vm)
{
	if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0)
		return -errno;
	return vm->run->exit_reason;
}

int minivm_get_regs(struct minivm *vm, struct kvm_regs *regs)
{
	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, regs) < 0)
		return -errno;
	return 0;
}
