/* SPDX-License-Identifier: MIT */
/*
 * The bench VMM: the life of the VM reads top to bottom in bvm_new(),
 * bvm_run() and bvm_free().
 *
 *   bvm_new   /dev/kvm -> KVM_CREATE_VM -> RAM (mmap) -> x86 page tables,
 *             GDT, TSS -> guest image -> wpt_vm_new (the library registers
 *             RAM's memslots; with cfg.uffd the VMM registers one slot and
 *             the library write-protects through userfaultfd) -> vCPUs
 *             (run page, CPUID)
 *   bvm_run   params into each vCPU's area -> long mode through SREGS ->
 *             KVM_RUN loop per vCPU (a thread each when several) until the
 *             guest writes SMMU_R_DONE
 *   bvm_free  the library context, vCPUs, VM, RAM
 *
 * This file makes and frees the VM; loop.c runs it (bvm_run and each
 * vCPU's exit loop), step.c single-steps stores, vcpu.c holds what the
 * loop and the steps share (KVM_RUN, a vCPU's failure), x86.c the x86
 * state the guest starts in; vmm_impl.h declares what they share.
 *
 * What works on this host's kvm_pvm backend (a nested KVM without VMX),
 * found by booting raw code and the image with one field changed at a
 * time:
 * - Long mode straight from KVM_SET_SREGS, no 32-bit trampoline: CR0 =
 *   PE|MP|ET|NE|WP|PG, CR4 = PAE, EFER = LME|LMA, CR3 = the PML4, a 64-bit
 *   code segment (L=1, D=0), flat data segments, rflags = 2.  kvm_pvm also
 *   accepts CR0 = PE|PG alone, no TR, a null LDT, GDT base/limit 0, unusable
 *   data segments and no KVM_SET_CPUID2; we set all of them anyway (a busy
 *   64-bit TSS, an unusable LDT, a GDT in guest memory holding the same
 *   descriptors, the host's supported CPUID) so the state is one a guest
 *   could have loaded itself and a VMX/SVM host takes it too.
 * - The CPL is SS.DPL, as on VMX/SVM: cs.dpl = 3 with ss.dpl = 0 runs as
 *   CPL0, the reverse as CPL3 (judged by the exit cost).  CPL3 takes
 *   cs.dpl = ss.dpl = 3 with RPL-3 selectors (0x23, 0x1b) and the User bit
 *   at every page-table level; there cli and mov from CR3 fault (checked),
 *   and code runs natively (a dec/jnz loop: ~0.3 ns an iteration) while an
 *   MMIO exit round trip costs ~25 us (25-35 us seen, more on a busy host).
 * - CPL0: the same with dpl 0 and selectors 0x08/0x10.  Code is interpreted
 *   (~600 ns an instruction) and an exit costs ~11 us.
 * - No IDT and IF clear: any guest exception escalates to a triple fault,
 *   KVM_EXIT_SHUTDOWN, reported with RIP and CR2.
 * - With several vCPUs, a memslot re-cut under one vCPU's exit must not
 *   touch the chunk holding the system area (see bvm_new), unless the
 *   re-cuts are quiesced (cfg.quiesce, pause.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "wpt.h"
#include "vmm_impl.h"
#include "../clock.h"

extern const uint8_t bench_guest_image[], bench_guest_image_end[];

/* The spare slot for bvm_slot_roundtrip_ns, above the guest's 4 GiB. */
#define SPARE_SLOT_GPA (1ull << 32)
/* KVM_USER_MEM_SLOTS before Linux 5.x raised it; a floor when
 * KVM_CAP_NR_MEMSLOTS says nothing. */
#define FALLBACK_NR_MEMSLOTS 509

/* ------------------------------------------------------------- memory */

int bvm_load_image(struct bvm *vm)
{
	size_t size = bench_guest_image_end - bench_guest_image;

	if (size > BENCH_IMAGE_MAX)
		return -E2BIG;
	memcpy(vm->ram + BENCH_IMAGE_GPA, bench_guest_image, size);
	return 0;
}

/* ------------------------------------------------------------- vCPUs */

/* The host's supported CPUID, as is: long mode needs LM in 0x80000001. */
static int vcpus_set_cpuid(struct bvm *vm)
{
	struct kvm_cpuid2 *cpuid = NULL;
	unsigned int nent = 64, i;
	int ret = 0;

	for (;;) {
		free(cpuid);
		cpuid = calloc(1, sizeof(*cpuid) +
				  nent * sizeof(struct kvm_cpuid_entry2));
		if (!cpuid)
			return -ENOMEM;
		cpuid->nent = nent;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
			break;
		if (errno != E2BIG || nent >= 4096) {
			ret = -errno;
			goto out;
		}
		nent *= 2;
	}
	for (i = 0; i < vm->cfg.nr_cpus; i++) {
		if (ioctl(vm->cpus[i].fd, KVM_SET_CPUID2, cpuid) < 0) {
			ret = -errno;
			break;
		}
	}
out:
	free(cpuid);
	return ret;
}

static int vcpus_create(struct bvm *vm)
{
	int size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	unsigned int i;

	if (size < 0)
		return -errno;
	vm->run_size = size;
	for (i = 0; i < vm->cfg.nr_cpus; i++) {
		struct bvm_vcpu *v = &vm->cpus[i];
		void *run;

		v->vm = vm;
		v->index = i;
		v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, i);
		if (v->fd < 0)
			return -errno;
		run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			   v->fd, 0);
		if (run == MAP_FAILED)
			return -errno;
		v->run = run;
	}
	return vcpus_set_cpuid(vm);
}

/* ------------------------------------------------------------- VM */

static int kvm_cap(int fd, long cap)
{
	int ret = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	return ret < 0 ? 0 : ret;
}

/*
 * A store KVM's emulator cannot do (cmpxchg16b to a read-only slot) ends
 * in KVM_EXIT_INTERNAL_ERROR, and the VMM single-steps it.  Without this
 * capability a standard x86 KVM also queues #UD for the guest on that
 * exit (handle_emulation_failure), which the step then delivers: seen on
 * SVM as a triple fault (the bench guest has no IDT).  With it, KVM only
 * exits.  A KVM without it keeps the old behaviour.
 */
static void exit_on_emulation_failure(struct bvm *vm)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_EXIT_ON_EMULATION_FAILURE, .args = { 1 },
	};

	if (kvm_cap(vm->vm_fd, KVM_CAP_EXIT_ON_EMULATION_FAILURE))
		ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap);
}

/* The library's slot range [0, budget) and the spare slot just past it. */
static int slots_plan(struct bvm *vm, uint32_t *budget)
{
	int nr = kvm_cap(vm->vm_fd, KVM_CAP_NR_MEMSLOTS);

	if (nr <= 0)
		nr = FALLBACK_NR_MEMSLOTS;
	if (nr > 0x10000)
		nr = 0x10000;
	*budget = vm->cfg.slot_budget ? vm->cfg.slot_budget
				      : (uint32_t)nr - 1;
	if (*budget >= (uint32_t)nr)
		return -EINVAL;
	vm->spare_slot = *budget;
	return 0;
}

/* cfg.uffd: RAM is one read-write slot of the VMM's own, for good. */
static int ram_slot(struct bvm *vm)
{
	struct kvm_userspace_memory_region r = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = BENCH_RAM_SIZE,
		.userspace_addr = (uintptr_t)vm->ram,
	};

	vm->spare_slot = 1;
	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno
								    : 0;
}

static const struct wpt_quiesce_ops pause_ops = {
	.quiesce = bvm_pause_quiesce,
	.resume = bvm_pause_resume,
};

static int wpt_attach(struct bvm *vm)
{
	struct wpt_ram_region ram = {
		.gpa = 0, .size = BENCH_RAM_SIZE, .hva = vm->ram,
	};
	struct wpt_kvm_cfg kvm = {
		.vm_fd = vm->vm_fd, .slot_base = 0,
		.slot_granule = vm->cfg.slot_granule,
	};
	struct wpt_vm_cfg cfg = {
		.size = sizeof(cfg), .regions = &ram, .nr_regions = 1,
		.uffd_kick = uffd_service_kick, .uffd_kick_opaque = &vm->uffd,
	};
	int ret;

	if (vm->cfg.uffd_block) {
		cfg.uffd = WPT_UFFD_BLOCK;
		ret = uffd_service_init(&vm->uffd, vm->tids, vm->kvm_returns,
					BENCH_MAX_CPUS) ?:
		      ram_slot(vm) ?: wpt_vm_new(&cfg, &vm->wpt);
		if (ret)
			return ret;
		vm->uffd.wpt = vm->wpt;
		return uffd_service_start(&vm->uffd);
	}
	if (vm->cfg.uffd) {
		cfg.uffd = WPT_UFFD_SIGBUS;
		ret = ram_slot(vm);
	} else {
		cfg.kvm = &kvm;
		ret = slots_plan(vm, &kvm.slot_budget);
	}
	if (!ret && vm->cfg.quiesce) {
		cfg.quiesce = &pause_ops;
		cfg.quiesce_opaque = &vm->pause;
		ret = bvm_pause_init(&vm->pause);
	}
	return ret ? ret : wpt_vm_new(&cfg, &vm->wpt);
}

int bvm_new(const struct bvm_cfg *cfg, struct bvm **out)
{
	struct bvm *vm;
	unsigned int i;
	int ret;

	if (!cfg || !out || !cfg->nr_cpus || cfg->nr_cpus > BENCH_MAX_CPUS ||
	    cfg->slot_granule % 4096 ||
	    (cfg->uffd && (cfg->slot_granule || cfg->force_step)) ||
	    (cfg->uffd_block && (cfg->uffd || cfg->cpl0 ||
				 cfg->slot_granule || cfg->force_step)) ||
	    (cfg->quiesce && (cfg->uffd || cfg->uffd_block)))
		return -EINVAL;
	/*
	 * While one vCPU's exit re-cuts a chunk, the others keep running.
	 * If that chunk also holds the system area, a vCPU fetching code or
	 * walking its page tables finds no memslot there and triple-faults
	 * (seen on kvm_pvm within a few re-cuts).  So with several vCPUs the
	 * system area [0, BENCH_ARENA_GPA) must be chunks of its own,
	 * unless re-cuts hold every vCPU out of KVM_RUN (cfg->quiesce).
	 */
	if (cfg->nr_cpus > 1 && !cfg->uffd && !cfg->uffd_block &&
	    !cfg->quiesce &&
	    (!cfg->slot_granule || BENCH_ARENA_GPA % cfg->slot_granule))
		return -EINVAL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->cfg = *cfg;
	vm->vm_fd = -1;
	vm->uffd.stop_fd = -1;
	vm->ram = MAP_FAILED;
	for (i = 0; i < BENCH_MAX_CPUS; i++)
		vm->cpus[i].fd = -1;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		goto err_errno;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		goto err_errno;
	exit_on_emulation_failure(vm);
	vm->ram = mmap(NULL, BENCH_RAM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->ram == MAP_FAILED)
		goto err_errno;
	x86_build_system_area(vm->ram);
	ret = bvm_load_image(vm);
	if (ret)
		goto err;
	ret = wpt_attach(vm);
	if (ret)
		goto err;
	ret = vcpus_create(vm);
	if (ret)
		goto err;
	*out = vm;
	return 0;

err_errno:
	ret = -errno;
err:
	bvm_free(vm);
	return ret;
}

void bvm_free(struct bvm *vm)
{
	unsigned int i;

	if (!vm)
		return;
	/* The library leaves its slots read-write and registered; closing
	 * the VM fd drops them.  The uffd thread uses the library: first. */
	uffd_service_fini(&vm->uffd);
	wpt_vm_free(vm->wpt);
	if (vm->cfg.quiesce)
		bvm_pause_fini(&vm->pause);
	for (i = 0; i < BENCH_MAX_CPUS; i++) {
		if (vm->cpus[i].run)
			munmap(vm->cpus[i].run, vm->run_size);
		if (vm->cpus[i].fd >= 0)
			close(vm->cpus[i].fd);
	}
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->ram != MAP_FAILED)
		munmap(vm->ram, BENCH_RAM_SIZE);
	free(vm);
}

uint8_t *bvm_ram(struct bvm *vm)
{
	return vm->ram;
}

struct wpt_vm *bvm_wpt(struct bvm *vm)
{
	return vm->wpt;
}

int bvm_vm_fd(const struct bvm *vm)
{
	return vm->vm_fd;
}

const char *bvm_last_error(const struct bvm *vm)
{
	return vm->err;
}

int bvm_slot_roundtrip_ns(struct bvm *vm, uint64_t size, unsigned int n,
			  uint64_t *ns)
{
	struct kvm_userspace_memory_region r = {
		.slot = vm->spare_slot, .guest_phys_addr = SPARE_SLOT_GPA,
	};
	uint64_t t0, total = 0;
	unsigned int i;
	void *mem;
	int ret = 0;

	vm->err[0] = 0;
	if (!size || size % 4096 || !n || !ns)
		return -EINVAL;
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	r.userspace_addr = (uintptr_t)mem;
	for (i = 0; i < n; i++) {
		t0 = bench_now_ns();
		r.memory_size = size;
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
			ret = -errno;
			break;
		}
		r.memory_size = 0; /* delete */
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
			ret = -errno;
			break;
		}
		total += bench_now_ns() - t0;
	}
	munmap(mem, size);
	if (ret) {
		snprintf(vm->err, sizeof(vm->err),
			 "slot %u at 0x%llx, %llu bytes: %s", vm->spare_slot,
			 (unsigned long long)SPARE_SLOT_GPA,
			 (unsigned long long)size, strerror(-ret));
		return ret;
	}
	*ns = total / n;
	return 0;
}
