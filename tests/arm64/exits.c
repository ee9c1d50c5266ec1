/* SPDX-License-Identifier: MIT */
/*
 * The exit loop, as a VMM wires the library: every MMIO store exit to
 * wpt_vm_handle_mmio() first (0: not RAM, the VMM's device, here only the
 * hypercall port), every KVM_EXIT_ARM_NISV to wpt_a64_emulate() with the
 * vCPU's registers, then the single-step path for what it declines, and
 * the abort it asks for delivered to the guest.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "a64t.h"

void a64t_error(struct a64t *t, const char *fmt, ...)
{
	va_list ap;

	if (t->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(t->error, sizeof(t->error), fmt, ap);
	va_end(ap);
}

static bool in_ram(uint64_t gpa, uint64_t len)
{
	return gpa >= A64T_RAM_GPA && gpa + len <= A64T_RAM_GPA + A64T_RAM_SIZE;
}

static int port(struct a64t *t, uint64_t off, const void *data, bool write)
{
	uint64_t v = 0;

	if (!write || t->cpu.run->mmio.len != 8 || (off & 7))
		return 0; /* reads see zero; odd sizes are ignored */
	memcpy(&v, data, 8);
	if (off < A64T_P_CALL)
		t->arg[off / 8] = v;
	else if (off == A64T_P_CALL)
		t->call(t, v);
	return 0;
}

int a64t_mmio(struct a64t *t)
{
	struct kvm_run *run = t->cpu.run;
	uint64_t gpa = run->mmio.phys_addr;
	int r;

	if (gpa >= A64T_PORT_GPA && gpa < A64T_PORT_GPA + 0x20)
		return port(t, gpa - A64T_PORT_GPA, run->mmio.data,
			    run->mmio.is_write);
	r = wpt_vm_handle_mmio(t->wvm, gpa, run->mmio.data, run->mmio.len,
			       run->mmio.is_write);
	if (r == 1) {
		if (run->mmio.is_write)
			t->n.mmio++;
		else
			t->n.mmio_reads++;
		return 0;
	}
	a64t_error(t, "MMIO %s of %u bytes at 0x%llx: wpt_vm_handle_mmio %d",
		   run->mmio.is_write ? "store" : "load", run->mmio.len,
		   (unsigned long long)gpa, r);
	return -1;
}

/* The single-step path: the page writable for one instruction. */
static int step(struct a64t *t, uint64_t gpa)
{
	struct wpt_step st;
	int r = wpt_vm_step_begin(t->wvm, gpa, &st), exit, ret = 0, ticks = 0;

	if (r != 1) {
		a64t_error(t, "wpt_vm_step_begin(0x%llx): %d",
			   (unsigned long long)gpa, r);
		return -1;
	}
	if (a64_single_step(&t->cpu, 1) < 0) {
		a64t_error(t, "KVM_SET_GUEST_DEBUG single-step: %s", strerror(errno));
		ret = -1;
	}
	/* A step that never ends (a KVM that cannot step this code) must
	 * not hang the test: the run loop's tick interrupts it. */
	while (!ret) {
		exit = a64_run(&t->cpu);
		if (exit == KVM_EXIT_DEBUG)
			break;
		if (exit == KVM_EXIT_MMIO)
			ret = a64t_mmio(t);
		else if (exit == -EINTR && ++ticks < A64T_STEP_TICKS)
			continue;
		else {
			a64t_error(t, exit == -EINTR ?
				   "single step: no KVM_EXIT_DEBUG within %d s" :
				   "single step ended in exit %d",
				   exit == -EINTR ? A64T_STEP_TICKS : exit);
			ret = -1;
		}
	}
	if (a64_single_step(&t->cpu, 0) < 0 && !ret) {
		a64t_error(t, "KVM_SET_GUEST_DEBUG off: %s", strerror(errno));
		ret = -1;
	}
	r = wpt_vm_step_end(t->wvm, &st);
	if (r && !ret) {
		a64t_error(t, "wpt_vm_step_end: %d", r);
		ret = -1;
	}
	if (!ret)
		t->n.stepped++;
	return ret;
}

static const uint32_t *insn_at(struct a64t *t, uint64_t va)
{
	/* Stage 1 is the identity over RAM (abi.h). */
	if (!in_ram(va, 4) || (va & 3))
		return NULL;
	return (const uint32_t *)(t->vm.ram + (va - A64T_RAM_GPA));
}

/* The load-exclusive among the 8 instructions before pc that matches
 * (its bits under mask equal val, same base register rn), or 0. */
static uint32_t find_ldx(struct a64t *t, uint64_t pc, uint32_t mask,
			 uint32_t val, uint32_t rn)
{
	for (unsigned int k = 1; k <= 8; k++) {
		const uint32_t *q = insn_at(t, pc - 4 * k);

		if (!q)
			return 0;
		if ((*q & mask) == val && ((*q >> 5) & 31) == rn)
			return *q;
	}
	return 0;
}

int a64t_monitor_from_ldxr(struct a64t *t, const struct wpt_a64_regs *regs,
			   struct wpt_a64_monitor *mon)
{
	const uint32_t *p = insn_at(t, regs->pc);
	uint32_t st, ld, rn, rt, rt2;
	bool pair;

	if (!p)
		return 0;
	st = *p;
	rn = (st >> 5) & 31;
	/* STXR/STLXR: size 001000 0 0 0 Rs o0 11111 Rn Rt, its LDXR/LDAXR
	 * size 001000 0 1 0 11111 o0 11111 Rn Rt; STXP/STLXP: 1 sz 001000
	 * 0 0 1 Rs o0 Rt2 Rn Rt, its LDXP/LDAXP 1 sz 001000 0 1 1 11111 o0
	 * Rt2 Rn Rt. */
	if ((st & 0x3fe07c00) == 0x08007c00) {
		pair = false;
		ld = find_ldx(t, regs->pc, 0xffff7c00, 0x085f7c00 | (st & 0xc0000000), rn);
	} else if ((st & 0xbfe00000) == 0x88200000) {
		pair = true;
		ld = find_ldx(t, regs->pc, 0xffff0000, 0x887f0000 | (st & 0x40000000), rn);
	} else {
		return 0;
	}
	rt = ld & 31;
	rt2 = (ld >> 10) & 31;
	if (!ld || rt == 31 || (pair && rt2 == 31))
		return 0;
	*mon = (struct wpt_a64_monitor){
		.va = rn == 31 ? regs->sp : regs->x[rn],
		.value = { regs->x[rt], pair ? regs->x[rt2] : 0 },
		.size = pair ? 8u << ((st >> 30) & 1) : 1u << (st >> 30),
		.flags = WPT_A64_MON_VALID | WPT_A64_MON_VALUE,
	};
	return 1;
}

static int deliver(struct a64t *t, const struct wpt_a64_result *res,
		   const struct wpt_a64_regs *regs)
{
	int r;

	t->n.faulted++;
	if (res->fault == WPT_A64_FAULT_EXTERNAL) {
		t->n.ext_dabt++;
		r = a64_inject_ext_dabt(&t->cpu);
	} else {
		t->n.delivered++;
		r = a64_deliver_sync(&t->cpu, a64_esr_of(res, (regs->pstate >> 2) & 3),
				     res->fault_va);
	}
	if (r)
		a64t_error(t, "delivering abort %d: %s", res->fault, strerror(-r));
	return r ? -1 : 0;
}

int a64t_nisv(struct a64t *t)
{
	uint64_t ipa = t->cpu.run->arm_nisv.fault_ipa;
	struct wpt_a64_regs regs;
	struct wpt_a64_mmu mmu;
	struct wpt_a64_monitor mon;
	struct wpt_a64_result res;
	bool have_mon;
	int r;

	t->n.nisv++;
	if (a64_get_regs(&t->cpu, &regs) || a64_get_mmu(&t->cpu, &mmu)) {
		a64t_error(t, "KVM_GET_ONE_REG: %s", strerror(errno));
		return -1;
	}
	have_mon = a64t_monitor_from_ldxr(t, &regs, &mon);
	t->n.mon_ldxr += have_mon;
	r = wpt_a64_emulate(t->wvm, &mmu, &regs, have_mon ? &mon : NULL, ipa, &res);
	if (r == 1) {
		t->n.emulated++;
		if (res.sync_err)
			a64t_error(t, "emulated store at 0x%llx: sink error %d",
				   (unsigned long long)ipa, res.sync_err);
		if (a64_set_regs(&t->cpu, &regs)) {
			a64t_error(t, "KVM_SET_ONE_REG: %s", strerror(errno));
			return -1;
		}
		return t->error[0] ? -1 : 0;
	}
	if (r == 0)
		return step(t, ipa);
	if (r == -EFAULT)
		return deliver(t, &res, &regs);
	a64t_error(t, "wpt_a64_emulate at pc 0x%llx (insn 0x%08x, ipa 0x%llx): %d",
		   (unsigned long long)regs.pc, res.insn, (unsigned long long)ipa, r);
	return -1;
}

static void on_tick(int sig)
{
	(void)sig; /* only interrupts KVM_RUN */
}

/* A one-second tick for the calling thread alone (each vCPU thread has
 * its own), so KVM_RUN returns -EINTR and the loop can see its bound. */
static int tick_start(timer_t *timer)
{
	struct sigaction sa = { .sa_handler = on_tick }; /* no SA_RESTART */
	struct sigevent ev = { .sigev_notify = SIGEV_THREAD_ID,
			       .sigev_signo = SIGALRM };
	struct itimerspec its = { .it_value = { 1, 0 }, .it_interval = { 1, 0 } };

	sigaction(SIGALRM, &sa, NULL);
	ev._sigev_un._tid = gettid();
	if (timer_create(CLOCK_MONOTONIC, &ev, timer))
		return -errno;
	return timer_settime(*timer, 0, &its, NULL) ? -errno : 0;
}

static void unexpected(struct a64t *t, int exit)
{
	uint64_t pc = 0;

	a64_get(&t->cpu, A64_CORE(regs.pc), &pc);
	a64t_error(t, "unexpected exit %d (%s) at pc 0x%llx", exit,
		   exit < 0 ? strerror(-exit) : "exit reason",
		   (unsigned long long)pc);
}

int a64t_run(struct a64t *t, unsigned int timeout_s)
{
	time_t end = time(NULL) + timeout_s;
	timer_t timer;
	int exit, r = tick_start(&timer);

	if (r) {
		a64t_error(t, "timer_create: %s", strerror(-r));
		return -1;
	}
	while (!r && !t->done && !t->error[0]) {
		if (time(NULL) >= end) {
			a64t_error(t, "timed out after %u s waiting for the guest's DONE",
				   timeout_s);
			break;
		}
		exit = a64_run(&t->cpu);
		if (exit == -EINTR)
			continue;
		if (exit == KVM_EXIT_MMIO)
			r = a64t_mmio(t);
		else if (exit == KVM_EXIT_ARM_NISV)
			r = a64t_nisv(t);
		else
			unexpected(t, exit);
	}
	timer_delete(timer);
	return t->error[0] ? -1 : 0;
}
