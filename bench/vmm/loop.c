/* SPDX-License-Identifier: MIT */
/*
 * The bench VMM's run: bvm_run puts the parameters into each vCPU's area
 * and runs each vCPU's exit loop (a thread each when several) until the
 * guest writes SMMU_R_DONE.  Each KVM_EXIT_MMIO goes to the library
 * first, then the harness registers, then the device (cfg.mmio).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "wpt.h"
#include "vmm_impl.h"
#include "../clock.h"

/* The lowest bytes of each vCPU's stack (just above its command queue)
 * hold a pattern the run must leave alone: there is no guard page under
 * 2 MiB mappings, so this is how an overflow shows. */
#define STACK_BOTTOM (BENCH_OFF_CMDQ + (16ull << BENCH_CMDQ_LOG2))
#define CANARY_LEN 256
#define CANARY_BYTE 0xc5

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
		st->phase_ns[value] = bench_now_ns();
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
	uint64_t t0 = bench_now_ns(), value = 0;
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
		v->st.lib_ns += bench_now_ns() - t0;
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
	ret = bvm_load_image(vm);
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
	if (vm->cfg.quiesce && vm->pause.timed_out)
		vcpu_fail(&vm->cpus[0], -ETIMEDOUT, "a quiesce waited %d s "
			  "for a vCPU to leave KVM_RUN", BVM_PAUSE_WAIT_S);
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
