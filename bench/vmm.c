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
 * The x86 state the guest starts in is vmm_x86.c; single steps (and the
 * userfaultfd kick's) are vmm_step.c; vmm_impl.h holds what they share.
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
 *   touch the chunk holding the system area (see bvm_new).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "wpt.h"
#include "vmm_impl.h"

extern const uint8_t bench_guest_image[], bench_guest_image_end[];

/* The lowest bytes of each vCPU's stack (just above its command queue)
 * hold a pattern the run must leave alone: there is no guard page under
 * 2 MiB mappings, so this is how an overflow shows. */
#define STACK_BOTTOM (BENCH_OFF_CMDQ + (16ull << BENCH_CMDQ_LOG2))
#define CANARY_LEN 256
#define CANARY_BYTE 0xc5

/* The spare slot for bvm_slot_roundtrip_ns, above the guest's 4 GiB. */
#define SPARE_SLOT_GPA (1ull << 32)
/* KVM_USER_MEM_SLOTS before Linux 5.x raised it; a floor when
 * KVM_CAP_NR_MEMSLOTS says nothing. */
#define FALLBACK_NR_MEMSLOTS 509

uint64_t bvm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ------------------------------------------------------------- memory */

static int load_image(struct bvm *vm)
{
	size_t size = bench_guest_image_end - bench_guest_image;

	if (size > BENCH_IMAGE_MAX)
		return -E2BIG;
	memcpy(vm->ram + BENCH_IMAGE_GPA, bench_guest_image, size);
	return 0;
}

/* ------------------------------------------------------------- errors */

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

/* ------------------------------------------------------------- exits */

/* A write to one of the vCPU's harness registers.  1 when it was DONE. */
static int harness_write(struct bvm_vcpu *v, uint64_t reg, uint64_t value)
{
	struct bvm_cpu_stats *st = &v->st;

	v->st.harness_exits++;
	switch (reg) {
	case SMMU_R_NOP:
		return 0;
	case SMMU_R_PHASE:
		if (value < BENCH_PHASE_START || value > BENCH_PHASE_END)
			return vcpu_fail(v, -EINVAL, "bad phase %llu",
					 (unsigned long long)value);
		/* The hook's own time stays outside the timed part: before
		 * the START stamp, after the others. */
		if (value == BENCH_PHASE_START && v->vm->cfg.phase)
			v->vm->cfg.phase(v->vm->cfg.opaque, v->index,
					 (unsigned int)value);
		st->phase_ns[value] = bvm_now_ns();
		st->exits_at_phase[value] = st->mmio_exits;
		st->lib_exits_at_phase[value] = st->lib_exits;
		st->dev_exits_at_phase[value] = st->dev_exits;
		if (value != BENCH_PHASE_START && v->vm->cfg.phase)
			v->vm->cfg.phase(v->vm->cfg.opaque, v->index,
					 (unsigned int)value);
		return 0;
	default: /* SMMU_R_DONE */
		st->done_status = value;
		return 1;
	}
}

static bool is_harness_reg(uint64_t reg)
{
	return reg == SMMU_R_NOP || reg == SMMU_R_PHASE || reg == SMMU_R_DONE;
}

/* One KVM_EXIT_MMIO: the library first, then the harness, then the
 * device.  0 go on, 1 the guest is done, or -errno. */
static int vcpu_mmio(struct bvm_vcpu *v)
{
	struct bvm *vm = v->vm;
	struct kvm_run *run = v->run;
	uint64_t gpa = run->mmio.phys_addr, mmio = BENCH_MMIO_GPA(v->index);
	uint32_t len = run->mmio.len;
	bool is_write = run->mmio.is_write;
	uint64_t t0 = bvm_now_ns(), value = 0;
	int ret;

	v->st.mmio_exits++;
	if (vm->cfg.force_step && is_write) {
		ret = vcpu_force_step(v, gpa, run->mmio.data, len);
		if (ret)
			return ret < 0 ? ret : 0;
	}
	ret = wpt_vm_handle_mmio(vm->wpt, gpa, run->mmio.data, len, is_write);
	if (ret == 1) {
		v->st.lib_exits++;
		v->st.lib_ns += bvm_now_ns() - t0;
		return 0;
	}
	if (ret < 0)
		return vcpu_fail(v, ret, "library: %s of %u bytes at 0x%llx: %s",
				 is_write ? "write" : "read", len,
				 (unsigned long long)gpa, strerror(-ret));
	if (gpa >= mmio && gpa - mmio < BENCH_MMIO_SIZE &&
	    is_harness_reg(gpa - mmio)) {
		if (!is_write) {
			memset(run->mmio.data, 0, sizeof(run->mmio.data));
			v->st.harness_exits++;
			return 0;
		}
		memcpy(&value, run->mmio.data,
		       len < sizeof(value) ? len : sizeof(value));
		return harness_write(v, gpa - mmio, value);
	}
	if (!vm->cfg.mmio)
		return vcpu_fail(v, -EFAULT, "%s of %u bytes at 0x%llx: no device",
				 is_write ? "write" : "read", len,
				 (unsigned long long)gpa);
	v->st.dev_exits++;
	ret = vm->cfg.mmio(vm->cfg.opaque, v->index, gpa, run->mmio.data, len,
			   is_write);
	if (ret < 0)
		return vcpu_fail(v, ret, "device: %s of %u bytes at 0x%llx: %s",
				 is_write ? "write" : "read", len,
				 (unsigned long long)gpa, strerror(-ret));
	return 0;
}

static int vcpu_loop(struct bvm_vcpu *v)
{
	int ret;

	v->exit_pending = false;
	for (;;) {
		if (v->exit_pending) {
			v->exit_pending = false; /* a step ended at it */
		} else if (vcpu_run(v) < 0) {
			if (errno == EINTR && v->vm->cfg.uffd_block) {
				ret = vcpu_uffd_kicked(v);
				if (ret)
					return ret;
				continue;
			}
			if (errno == EINTR || errno == EAGAIN)
				continue;
			ret = -errno;
			return vcpu_fail(v, ret, "KVM_RUN: %s", strerror(-ret));
		} else {
			v->st.runs++;
		}
		if (v->run->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
			ret = vcpu_refused_store(v);
			if (ret < 0)
				return ret;
			if (ret)
				continue;
		}
		if (v->run->exit_reason != KVM_EXIT_MMIO)
			return vcpu_unexpected(v);
		ret = vcpu_mmio(v);
		if (ret)
			return ret < 0 ? ret : 0;
	}
}

/* The loop on this thread. */
static int vcpu_loop_here(struct bvm_vcpu *v)
{
	int ret;

	v->tid = (int)gettid();
	ret = vcpu_loop(v);
	return ret;
}

static void *vcpu_thread(void *arg)
{
	vcpu_loop_here(arg);
	return NULL;
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
				 cfg->slot_granule || cfg->force_step)))
		return -EINVAL;
	/*
	 * While one vCPU's exit re-cuts a chunk, the others keep running.
	 * If that chunk also holds the system area, a vCPU fetching code or
	 * walking its page tables finds no memslot there and triple-faults
	 * (seen on kvm_pvm within a few re-cuts).  So with several vCPUs the
	 * system area [0, BENCH_ARENA_GPA) must be chunks of its own.
	 */
	if (cfg->nr_cpus > 1 && !cfg->uffd && !cfg->uffd_block &&
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
	ret = load_image(vm);
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

/* ------------------------------------------------------------- running */

static void *area_of(struct bvm *vm, unsigned int c, uint64_t off)
{
	return vm->ram + BENCH_CPU_GPA(c) + off;
}

static bool canary_intact(struct bvm *vm, unsigned int c)
{
	const uint8_t *p = area_of(vm, c, STACK_BOTTOM);
	unsigned int i;

	for (i = 0; i < CANARY_LEN; i++)
		if (p[i] != CANARY_BYTE)
			return false;
	return true;
}

int bvm_run(struct bvm *vm, const struct bench_params *params,
	    struct bench_result *res, struct bvm_cpu_stats *st)
{
	unsigned int n = vm->cfg.nr_cpus, c, started = 0;
	int ret = 0;

	vm->err[0] = 0;
	if (!params)
		return -EINVAL;
	/* A fresh image each run: its data and bss start as linked. */
	ret = load_image(vm);
	for (c = 0; c < n && !ret; c++) {
		struct bvm_vcpu *v = &vm->cpus[c];

		memcpy(area_of(vm, c, BENCH_OFF_PARAMS), &params[c],
		       sizeof(params[c]));
		memset(area_of(vm, c, BENCH_OFF_RESULT), 0,
		       sizeof(struct bench_result));
		memset(area_of(vm, c, STACK_BOTTOM), CANARY_BYTE, CANARY_LEN);
		memset(&v->st, 0, sizeof(v->st));
		v->err = 0;
		v->msg[0] = 0;
		ret = x86_vcpu_reset(v, vm->cfg.cpl0);
		if (ret)
			snprintf(vm->err, sizeof(vm->err),
				 "cpu %u: setting registers: %s", c,
				 strerror(-ret));
	}
	if (ret)
		return ret;

	if (n == 1) {
		vcpu_loop_here(&vm->cpus[0]);
	} else {
		for (c = 0; c < n; c++, started++) {
			ret = -pthread_create(&vm->cpus[c].thread, NULL,
					      vcpu_thread, &vm->cpus[c]);
			if (ret) {
				vcpu_fail(&vm->cpus[c], ret,
					  "pthread_create: %s", strerror(-ret));
				break;
			}
		}
		/* A vCPU that cannot start leaves the other one running to
		 * its DONE: there is no way to kick it that the guest would
		 * not see, and the guest ends on its own. */
		for (c = 0; c < started; c++)
			pthread_join(vm->cpus[c].thread, NULL);
	}

	ret = 0;
	for (c = 0; c < n; c++) {
		struct bvm_vcpu *v = &vm->cpus[c];

		if (st)
			st[c] = v->st;
		if (res)
			memcpy(&res[c], area_of(vm, c, BENCH_OFF_RESULT),
			       sizeof(res[c]));
		if (!v->err && !canary_intact(vm, c))
			vcpu_fail(v, -EOVERFLOW, "stack overflow: the stack "
				  "reached 0x%llx (the command queue's end)",
				  (unsigned long long)(BENCH_CPU_GPA(c) +
						       STACK_BOTTOM));
		if (v->err && !ret) {
			ret = v->err;
			snprintf(vm->err, sizeof(vm->err), "cpu %u: %s", c,
				 v->msg);
		}
	}
	return ret;
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
		t0 = bvm_now_ns();
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
		total += bvm_now_ns() - t0;
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
