/* SPDX-License-Identifier: MIT */
/*
 * The re-cut window on real x86 KVM.  A vCPU runs 32-bit paged code from
 * the memslot the library keeps re-cutting: every loop reloads CR3, so
 * each instruction fetch walks the guest's own page directory and page
 * table, which lie in the same slot, and bumps a counter there.  Another
 * thread protects and releases a page of that slot through the library
 * (a domain's root set and cleared), thousands of times; the slot budget
 * is small, so each change deletes the slot holding the code and the
 * page tables and creates its pieces again.
 *
 * With wpt_quiesce_ops (the vCPU kicked out of KVM_RUN with a signal and
 * immediate_exit, and held out until resume) the vCPU must never see the
 * slot missing: no failed emulation, no shutdown, no MMIO exit at all.
 * Without them (the control) the same run must show the failures the
 * window causes, or the test could not tell the two apart.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "wpt.h"
#include "kvm/gate.h"
#include "kvm/minivm.h"
#include "kvm/skip.h"
#include "kvm/widen.h" /* linked with --wrap=ioctl (mk/recut.mk) */

#define RAM_SIZE (4ull << 20)
#define CODE_GPA 0x1000ull
#define PD_GPA 0x2000ull    /* the guest's page directory */
#define PT_GPA 0x3000ull    /* its page table: 0..2 MiB identity */
#define COUNTER_GPA 0x4000ull
#define GDT_GPA 0x5000ull
#define ROOT_GPA 0x10000ull /* the IO table page protected and released */
#define ROUNDS 1500         /* each one protect and one release */
#define ROUNDS_SECONDS 200  /* bound of one run's rounds */
/* The control without the quiesce runs until its first failure, for up
 * to ten times as many rounds.  Both runs hold a deleted slot's gap open
 * for WIDEN_US (kvm/widen.h: left as KVM makes it, the window is met once
 * in a few thousand re-cuts on one host and in none on another). */
#define CONTROL_ENOUGH 1
#define CONTROL_ROUNDS (10 * ROUNDS)
#define WIDEN_US 2000

struct run {
	struct minivm mv;
	uint8_t *ram;
	struct wpt_vm *vm;
	struct wpt_domain *d;
	struct wpt_sink *sink;
	struct vcpu_gate gate;
	/* What the vCPU saw (its thread; read after the join). */
	uint64_t runs, kicks, gap_exits, failures;
	char first_failure[160];
};

static void flat_segment(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	*s = (struct kvm_segment){ .base = 0, .limit = 0xffffffff,
				   .selector = sel, .type = type,
				   .present = 1, .db = 1, .s = 1, .g = 1 };
}

/* 32-bit protected mode with paging (CR4 = 0: 4 KiB pages, two levels)
 * at CODE_GPA: what a reset or a failure leaves is replaced whole. */
static int vcpu_reset(struct run *r)
{
	struct kvm_regs regs = { .rip = CODE_GPA, .rflags = 2,
				 .rsp = 0x8000 };
	struct kvm_sregs s;

	if (ioctl(r->mv.vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	flat_segment(&s.cs, 0x08, 0xb);
	flat_segment(&s.ds, 0x10, 0x3);
	s.es = s.fs = s.gs = s.ss = s.ds;
	s.tr = (struct kvm_segment){ .selector = 0x18, .limit = 0x67,
				     .type = 0xb, .present = 1 };
	s.ldt = (struct kvm_segment){ .type = 2, .present = 1,
				      .limit = 0xffff };
	s.gdt.base = GDT_GPA;
	s.gdt.limit = 4 * 8 - 1;
	s.idt.base = 0;
	s.idt.limit = 0;
	s.cr0 = 0x80000011; /* PG, ET, PE */
	s.cr3 = PD_GPA;
	s.cr4 = 0;
	s.efer = 0;
	if (ioctl(r->mv.vcpu_fd, KVM_SET_SREGS, &s) < 0 ||
	    ioctl(r->mv.vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

static void guest_image(uint8_t *ram)
{
	static const uint8_t code[] = {
		0x0f, 0x20, 0xd8,                   /* mov eax, cr3 */
		0x0f, 0x22, 0xd8,                   /* mov cr3, eax: TLB gone */
		0xff, 0x05, 0x00, 0x40, 0x00, 0x00, /* inc dword [0x4000] */
		0xeb, 0xf2,                         /* jmp back to the start */
	};
	static const uint64_t gdt[] = {
		0, 0x00cf9b000000ffffull, 0x00cf93000000ffffull,
		0x00008b0000000067ull,
	};
	uint32_t *pd = (uint32_t *)(ram + PD_GPA);
	uint32_t *pt = (uint32_t *)(ram + PT_GPA);
	unsigned int i;

	memcpy(ram + CODE_GPA, code, sizeof(code));
	memcpy(ram + GDT_GPA, gdt, sizeof(gdt));
	/* Accessed and dirty already set: the walks only read. */
	pd[0] = PT_GPA | 0x23;
	for (i = 0; i < 512; i++)
		pt[i] = (i << 12) | 0x63;
}

static void note_failure(struct run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note_failure(struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->failures++) {
		va_start(ap, fmt);
		vsnprintf(r->first_failure, sizeof(r->first_failure), fmt, ap);
		va_end(ap);
	}
	vcpu_reset(r);
}

/* One KVM_RUN's outcome. */
static void vcpu_exit(struct run *r, int ret, int err)
{
	struct kvm_run *run = r->mv.run;

	if (ret < 0 && err == EINTR) {
		r->kicks++;
	} else if (ret < 0) {
		note_failure(r, "KVM_RUN failed: %s", strerror(err));
	} else if (run->exit_reason == KVM_EXIT_MMIO) {
		/* A data access in the gap: the library serves it.  Any
		 * MMIO exit means the vCPU met the slot missing. */
		int h = wpt_vm_handle_mmio(r->vm, run->mmio.phys_addr,
					   run->mmio.data, run->mmio.len,
					   run->mmio.is_write);

		r->gap_exits++;
		if (h != 1)
			note_failure(r, "an MMIO exit at 0x%llx the library "
				     "did not serve (%d)",
				     (unsigned long long)run->mmio.phys_addr, h);
		else if ((run->mmio.phys_addr & ~0xfffull) != COUNTER_GPA)
			note_failure(r, "an MMIO %s at 0x%llx, not the "
				     "counter: a fetch or a page walk",
				     run->mmio.is_write ? "store" : "load",
				     (unsigned long long)run->mmio.phys_addr);
	} else {
		note_failure(r, "exit reason %u (%s; suberror %u)",
			     run->exit_reason,
			     run->exit_reason == KVM_EXIT_SHUTDOWN ? "shutdown" :
			     run->exit_reason == KVM_EXIT_INTERNAL_ERROR ?
			     "internal error" : "other",
			     run->exit_reason == KVM_EXIT_INTERNAL_ERROR ?
			     run->internal.suberror : 0);
	}
}

static void *vcpu_thread(void *o)
{
	struct run *r = o;

	while (gate_enter(&r->gate)) {
		int ret = ioctl(r->mv.vcpu_fd, KVM_RUN, 0), err = errno;

		gate_leave(&r->gate);
		r->runs++;
		vcpu_exit(r, ret, err);
	}
	return NULL;
}

static void run_setup(struct run *r, bool quiesce)
{
	struct wpt_ram_region reg;
	/* One slot for all RAM and a budget of 4: past half of it the
	 * backend merges, so each change deletes the slot holding the code
	 * and the page tables (4 slot ioctls per protect or release). */
	struct wpt_kvm_cfg kvm = { .slot_base = 0, .slot_budget = 4,
				   .slot_granule = 0 };
	struct wpt_vm_cfg cfg = { .size = sizeof(cfg), .kvm = &kvm };
	struct wpt_format_cfg fmt = { .size = sizeof(fmt),
				      .format = WPT_FMT_ARM_LPAE_S1,
				      .granule = 4096, .ias = 48, .oas = 48,
				      .sl = -1 };

	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(minivm_open(&r->mv), 0);
	gate_init(&r->gate, r->mv.run);
	r->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(r->ram, MAP_FAILED);
	guest_image(r->ram);
	reg = (struct wpt_ram_region){ .gpa = 0, .size = RAM_SIZE,
				       .hva = r->ram };
	cfg.regions = &reg;
	cfg.nr_regions = 1;
	kvm.vm_fd = r->mv.vm_fd;
	if (quiesce) {
		cfg.quiesce = &gate_quiesce_ops;
		cfg.quiesce_opaque = &r->gate;
	}
	ck_assert_int_eq(wpt_vm_new(&cfg, &r->vm), 0);
	ck_assert_int_eq(wpt_sink_record_new(&r->sink), 0);
	ck_assert_int_eq(wpt_domain_new(r->vm, &fmt, r->sink, WPT_MODE_TRAP,
					&r->d), 0);
	ck_assert_int_eq(vcpu_reset(r), 0);
}

static void run_teardown(struct run *r)
{
	wpt_domain_free(r->d);
	wpt_sink_free(r->sink);
	wpt_vm_free(r->vm);
	minivm_close(&r->mv);
	munmap(r->ram, RAM_SIZE);
}

static uint32_t counter(struct run *r)
{
	return __atomic_load_n((uint32_t *)(r->ram + COUNTER_GPA),
			       __ATOMIC_RELAXED);
}

static int wait_progress(struct run *r)
{
	return gate_wait_progress(r->ram + COUNTER_GPA);
}

struct outcome {
	unsigned int rounds;
	uint64_t slot_ops, quiesces, failures, gap_exits, kicks, loops;
	double seconds;
	char first_failure[160];
	int kick_timeout;
};

/* Protect and release ROOT_GPA, the vCPU running between changes. */
static struct outcome churn(bool quiesce, unsigned int enough,
			    unsigned int max_rounds)
{
	struct run r;
	struct outcome o = { 0 };
	struct wpt_vm_stats st;
	struct timespec t0, t1;
	time_t end;

	run_setup(&r, quiesce);
	ck_assert_int_eq(pthread_create(&r.gate.thread, NULL, vcpu_thread,
					&r), 0);
	ck_assert_msg(wait_progress(&r) == 0, "the guest's loop did not "
		      "start within %d s (%llu KVM_RUNs, %llu failures: %s)",
		      GATE_WAIT_S, (unsigned long long)r.runs,
		      (unsigned long long)r.failures, r.first_failure);
	widen_gap(WIDEN_US);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	end = time(NULL) + ROUNDS_SECONDS;
	while (o.rounds < max_rounds && time(NULL) < end &&
	       __atomic_load_n(&r.failures, __ATOMIC_RELAXED) < enough) {
		ck_assert_int_eq(wpt_domain_set_root(r.d, ROOT_GPA), 0);
		ck_assert_int_eq(wpt_domain_clear_root(r.d), 0);
		o.rounds++;
		ck_assert_msg(wait_progress(&r) == 0, "the guest made no "
			      "progress within %d s after round %u (failures "
			      "%llu: %s)", GATE_WAIT_S, o.rounds,
			      (unsigned long long)r.failures, r.first_failure);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	widen_gap(0);
	gate_stop(&r.gate);
	pthread_join(r.gate.thread, NULL);
	wpt_vm_stats(r.vm, &st, sizeof(st));
	o.slot_ops = st.slot_ops;
	o.quiesces = st.quiesces;
	o.failures = r.failures;
	o.gap_exits = r.gap_exits;
	o.kicks = r.kicks;
	o.loops = counter(&r);
	o.kick_timeout = r.gate.kick_timeout;
	o.seconds = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	memcpy(o.first_failure, r.first_failure, sizeof(o.first_failure));
	run_teardown(&r);
	printf("# %s: %u rounds (%u re-cuts, %llu slot ioctls) in %.1f s, "
	       "%llu quiesces, %llu kicks, %llu guest loops; %llu failures, "
	       "%llu MMIO exits%s%s\n", quiesce ? "with quiesce" : "without",
	       o.rounds, 2 * o.rounds, (unsigned long long)o.slot_ops,
	       o.seconds, (unsigned long long)o.quiesces,
	       (unsigned long long)o.kicks, (unsigned long long)o.loops,
	       (unsigned long long)o.failures,
	       (unsigned long long)o.gap_exits,
	       o.failures ? "; first: " : "", o.first_failure);
	fflush(stdout);
	return o;
}

/* Each change must have re-cut the slot holding the code (else the test
 * would prove nothing): 4 ioctls per protect and per release. */
static void assert_code_slot_recut(const struct outcome *o)
{
	ck_assert_msg(o->slot_ops >= 8ull * o->rounds, "%llu slot ioctls "
		      "for %u rounds: the layout no longer re-cuts the code's "
		      "slot at every change", (unsigned long long)o->slot_ops,
		      o->rounds);
}

START_TEST(fetch_and_walk_with_quiesce)
{
	struct outcome o = churn(true, 1, ROUNDS);

	ck_assert_msg(!o.kick_timeout, "the vCPU did not leave KVM_RUN "
		      "within %d s of a kick", GATE_WAIT_S);
	ck_assert_msg(o.failures == 0, "%llu failures in %u rounds with the "
		      "quiesce; first: %s", (unsigned long long)o.failures,
		      o.rounds, o.first_failure);
	ck_assert_msg(o.rounds >= 1000, "only %u rounds in %d s",
		      o.rounds, ROUNDS_SECONDS);
	assert_code_slot_recut(&o);
	ck_assert_uint_ge(o.quiesces, 2ull * o.rounds);
	ck_assert_uint_eq(o.gap_exits, 0);
}
END_TEST

START_TEST(fetch_and_walk_without_quiesce_fails)
{
	struct outcome o = churn(false, CONTROL_ENOUGH, CONTROL_ROUNDS);

	assert_code_slot_recut(&o);
	ck_assert_uint_eq(o.quiesces, 0);
	ck_assert_msg(o.failures > 0, "no failure in %u rounds without the "
		      "quiesce: this KVM never let the vCPU meet the missing "
		      "slot, so the test cannot show the window",
		      o.rounds);
}
END_TEST

static void on_alarm(int sig)
{
	(void)sig; /* KVM_RUN returns -EINTR: all the probe needs */
}

/*
 * Whether this KVM runs the test's guest at all, before any re-cut: the
 * paged 32-bit loop alone, KVM_RUN interrupted every 50 ms, for up to a
 * second.  kvm_pvm (a host without VMX/SVM) runs only long-mode guests:
 * its first KVM_RUN shuts down.  Then the test cannot run here: SKIP
 * loudly, naming it (make check-kvm runs it on a standard KVM, nested).
 */
static void require_paged_guest(void)
{
	struct itimerval tick = { { 0, 50000 }, { 0, 50000 } }, off = { 0 };
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	struct run r;
	unsigned int i;
	int ret = 0, err = 0;

	memset(&r, 0, sizeof(r));
	r.ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r.ram == MAP_FAILED || minivm_open(&r.mv) ||
	    ioctl(r.mv.vm_fd, KVM_SET_USER_MEMORY_REGION,
		  &(struct kvm_userspace_memory_region){
			  .slot = 0, .memory_size = RAM_SIZE,
			  .userspace_addr = (uintptr_t)r.ram }) < 0) {
		printf("SKIP: cannot make the probe VM: %s\n", strerror(errno));
		exit(77);
	}
	guest_image(r.ram);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	setitimer(ITIMER_REAL, &tick, NULL);
	for (i = 0; i < 20 && !counter(&r); i++) {
		if (vcpu_reset(&r))
			break;
		ret = ioctl(r.mv.vcpu_fd, KVM_RUN, 0);
		err = errno;
		if (ret == 0 && (r.mv.run->exit_reason == KVM_EXIT_SHUTDOWN ||
				 r.mv.run->exit_reason ==
					 KVM_EXIT_INTERNAL_ERROR))
			break;
	}
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	if (!counter(&r)) {
		printf("SKIP: this KVM does not run the test's 32-bit paged "
		       "guest (%s): a host kvm_pvm runs long-mode guests only; "
		       "make check-kvm runs this test on a standard KVM\n",
		       ret < 0 ? strerror(err) :
		       r.mv.run->exit_reason == KVM_EXIT_SHUTDOWN ?
		       "its first KVM_RUN shut down" :
		       r.mv.run->exit_reason == KVM_EXIT_INTERNAL_ERROR ?
		       "KVM_EXIT_INTERNAL_ERROR" : "no progress in 1 s");
		exit(77);
	}
	minivm_close(&r.mv);
	munmap(r.ram, RAM_SIZE);
}

int main(void)
{
	Suite *s = suite_create("recut_kvm");
	TCase *tc = tcase_create("x86");
	SRunner *sr;
	int failed;

	kvm_require();
	require_paged_guest();
	tcase_set_timeout(tc, ROUNDS_SECONDS + 60);
	tcase_add_test(tc, fetch_and_walk_with_quiesce);
	tcase_add_test(tc, fetch_and_walk_without_quiesce_fails);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
