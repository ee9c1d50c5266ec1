/* SPDX-License-Identifier: MIT */
/*
 * The re-cut window on real arm64 KVM: a VM of its own whose one memslot
 * (a slot budget of 4: every change merges and re-cuts it whole) holds
 * the guest's code, stack and stage-1 tables.  vCPU 0 runs recut_main
 * (guest/recut.c: TLBI VMALLE1 every loop, so each fetch walks the
 * stage-1 tables again) while this thread sets and clears a domain's root
 * on a page of the same slot, thousands of times.
 *
 * With wpt_quiesce_ops (tests/kvm/gate.h: the vCPU kicked out of KVM_RUN
 * and held there) the guest must never meet the slot missing: no abort
 * injected, no MMIO exit.  Without them (the control) KVM injects an
 * instruction or stage-1-walk abort when the guest meets the gap, the
 * vectors report it, and the control must see some, or the test could
 * not tell the two apart.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <linux/kvm.h>

#include "check.h"
#include "../kvm/gate.h"
#include "../kvm/widen.h" /* the binary is linked with --wrap=ioctl */

#define RECUT_ROUNDS  1000  /* each one protect and one release */
#define RECUT_SECONDS 100   /* bound of one run's rounds */
#define RECUT_MIN     500   /* rounds a passing run did at least */
/* The control without the quiesce runs until its first abort, for up to
 * ten times as many rounds.  Both hold the window open (widen.h). */
#define RECUT_ENOUGH  1
#define RECUT_CONTROL_ROUNDS (10 * RECUT_ROUNDS)
#define RECUT_WIDEN_US 2000 /* a deleted slot's gap, held open */
#define RECUT_ROOT    A64T_POOL_GPA

extern const uint8_t a64t_guest_image[], a64t_guest_image_end[];

struct recut {
	struct a64t t; /* first: its call gets &t */
	struct vcpu_gate gate;
	/* The vCPU thread's; read after the join. */
	uint64_t failures, kicks;
	bool reboot;
	char first[200];
};

static void recut_failure(struct recut *rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void recut_failure(struct recut *rc, const char *fmt, ...)
{
	va_list ap;

	if (!rc->failures++) {
		va_start(ap, fmt);
		vsnprintf(rc->first, sizeof(rc->first), fmt, ap);
		va_end(ap);
	}
	rc->reboot = true;
}

/* The guest's hypercalls: an exception is the window's failure. */
static void recut_call(struct a64t *t, uint64_t call)
{
	struct recut *rc = (struct recut *)t;

	if (call == A64T_CALL_EXC)
		recut_failure(rc, "the guest took ESR 0x%llx at FAR 0x%llx, "
			      "ELR 0x%llx", (unsigned long long)t->arg[0],
			      (unsigned long long)t->arg[1],
			      (unsigned long long)t->arg[2]);
	else if (call == A64T_CALL_DONE)
		t->done = true;
	else
		recut_failure(rc, "hypercall %llu (0x%llx 0x%llx)",
			      (unsigned long long)call,
			      (unsigned long long)t->arg[0],
			      (unsigned long long)t->arg[1]);
}

static void *recut_vcpu(void *arg)
{
	struct recut *rc = arg;
	struct a64t *t = &rc->t;

	while (!t->done && gate_enter(&rc->gate)) {
		int exit = a64_run(&t->cpu);

		gate_leave(&rc->gate);
		if (exit == -EINTR)
			rc->kicks++;
		else if (exit == KVM_EXIT_MMIO && a64t_mmio(t))
			recut_failure(rc, "%s", t->error);
		else if (exit != KVM_EXIT_MMIO)
			recut_failure(rc, "exit %d", exit);
		t->error[0] = 0;
		/* After an abort the guest's state is the handler's: start
		 * its loop again.  Not as an MMIO exit's completion, which
		 * would step the new PC past the first instruction. */
		if (rc->reboot) {
			t->cpu.run->exit_reason = KVM_EXIT_UNKNOWN;
			if (a64_boot(&t->cpu, A64T_IMAGE_GPA, A64T_STACK_TOP,
				     A64T_RECUT_ENTRY)) {
				recut_failure(rc, "rebooting the vCPU: %s",
					      strerror(errno));
				break;
			}
		}
		rc->reboot = false;
	}
	return NULL;
}

static int recut_setup(struct recut *rc, bool quiesce, char *why, size_t n)
{
	struct a64t *t = &rc->t;
	struct wpt_ram_region r = { .gpa = A64T_RAM_GPA, .size = A64T_RAM_SIZE };
	struct wpt_kvm_cfg kvm = { .slot_budget = 4, .slot_granule = 0 };
	struct wpt_vm_cfg cfg = { .size = sizeof(cfg), .regions = &r,
				  .nr_regions = 1, .kvm = &kvm };
	struct wpt_format_cfg fmt = { .size = sizeof(fmt),
				      .format = WPT_FMT_ARM_LPAE_S1,
				      .granule = 4096, .ias = 39, .oas = 40 };
	int ret;

	t->cpu.fd = -1;
	if ((ret = a64vm_open(&t->vm, why, n)))
		return ret;
	memcpy(t->vm.ram, a64t_guest_image,
	       a64t_guest_image_end - a64t_guest_image);
	if ((ret = a64vm_vcpu(&t->vm, 0, &t->cpu))) {
		snprintf(why, n, "vCPU: %s", strerror(-ret));
		return ret;
	}
	gate_init(&rc->gate, t->cpu.run);
	r.hva = t->vm.ram;
	kvm.vm_fd = t->vm.vm_fd;
	if (quiesce) {
		cfg.quiesce = &gate_quiesce_ops;
		cfg.quiesce_opaque = &rc->gate;
	}
	t->call = recut_call;
	if ((ret = wpt_vm_new(&cfg, &t->wvm)) ||
	    (ret = wpt_sink_record_new(&t->sink)) ||
	    (ret = wpt_domain_new(t->wvm, &fmt, t->sink, WPT_MODE_TRAP,
				  &t->dom)) ||
	    (ret = a64_boot(&t->cpu, A64T_IMAGE_GPA, A64T_STACK_TOP,
			    A64T_RECUT_ENTRY)))
		snprintf(why, n, "setup: %s", strerror(-ret));
	return ret;
}

static void recut_teardown(struct recut *rc)
{
	struct a64t *t = &rc->t;

	if (t->dom)
		wpt_domain_free(t->dom);
	if (t->wvm)
		wpt_vm_free(t->wvm);
	if (t->sink)
		wpt_sink_free(t->sink);
	if (t->cpu.fd >= 0)
		a64vcpu_close(&t->cpu);
	a64vm_close(&t->vm);
}

static uint64_t recut_count(struct recut *rc)
{
	return __atomic_load_n((uint64_t *)(rc->t.vm.ram +
			       (A64T_RECUT_COUNT - A64T_RAM_GPA)),
			       __ATOMIC_RELAXED);
}

static int recut_progress(struct recut *rc)
{
	return gate_wait_progress(rc->t.vm.ram +
				  (A64T_RECUT_COUNT - A64T_RAM_GPA));
}

struct recut_outcome {
	unsigned int rounds;
	uint64_t slot_ops, quiesces, gap_exits;
	double seconds;
	int err;          /* the churn's own failure */
	char what[200];   /* what it was */
};

static void churn(struct recut *rc, unsigned int enough,
		  unsigned int max_rounds, struct recut_outcome *o)
{
	struct a64t *t = &rc->t;
	time_t end = time(NULL) + RECUT_SECONDS;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (recut_progress(rc)) {
		o->err = -ETIMEDOUT;
		snprintf(o->what, sizeof(o->what), "the guest's loop did not "
			 "start within %d s", GATE_WAIT_S);
	}
	while (!o->err && o->rounds < max_rounds && time(NULL) < end &&
	       __atomic_load_n(&rc->failures, __ATOMIC_RELAXED) < enough) {
		if ((o->err = wpt_domain_set_root(t->dom, RECUT_ROOT)) ||
		    (o->err = wpt_domain_clear_root(t->dom))) {
			snprintf(o->what, sizeof(o->what), "root change: %s",
				 strerror(-o->err));
			break;
		}
		o->rounds++;
		if ((o->err = recut_progress(rc)))
			snprintf(o->what, sizeof(o->what), "the guest made no "
				 "progress within %d s after round %u",
				 GATE_WAIT_S, o->rounds);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	o->seconds = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
}

static int recut_run(bool quiesce, unsigned int enough,
		     struct recut_outcome *o, struct recut *rc)
{
	struct wpt_vm_stats st;
	char why[256] = "";
	int r;

	memset(rc, 0, sizeof(*rc));
	memset(o, 0, sizeof(*o));
	r = recut_setup(rc, quiesce, why, sizeof(why));
	if (!r)
		r = -pthread_create(&rc->gate.thread, NULL, recut_vcpu, rc);
	if (r) {
		snprintf(o->what, sizeof(o->what), "%s", why[0] ? why :
			 strerror(-r));
		recut_teardown(rc);
		return r;
	}
	a64t_pin(0);
	widen_gap(RECUT_WIDEN_US);
	churn(rc, enough, quiesce ? RECUT_ROUNDS : RECUT_CONTROL_ROUNDS, o);
	widen_gap(0);
	gate_stop(&rc->gate);
	pthread_join(rc->gate.thread, NULL);
	wpt_vm_stats(rc->t.wvm, &st, sizeof(st));
	o->slot_ops = st.slot_ops;
	o->quiesces = st.quiesces;
	o->gap_exits = rc->t.n.mmio + rc->t.n.mmio_reads;
	printf("# recut %s: %u rounds (%u re-cuts, %llu slot ioctls) in "
	       "%.1f s, %llu quiesces, %llu kicks, %llu guest loops; %llu "
	       "failures, %llu MMIO exits%s%s\n",
	       quiesce ? "with quiesce" : "without", o->rounds, 2 * o->rounds,
	       (unsigned long long)o->slot_ops, o->seconds,
	       (unsigned long long)o->quiesces,
	       (unsigned long long)rc->kicks,
	       (unsigned long long)recut_count(rc),
	       (unsigned long long)rc->failures,
	       (unsigned long long)o->gap_exits,
	       rc->failures ? "; first: " : "", rc->first);
	recut_teardown(rc);
	return o->err;
}

static void with_quiesce(void)
{
	static struct recut rc;
	struct recut_outcome o;
	const char *name = "recut-fetch-walk-quiesced";

	if (recut_run(true, 1, &o, &rc))
		a64t_report(A64T_FAIL, name, "%s", o.what);
	else if (rc.gate.kick_timeout)
		a64t_report(A64T_FAIL, name, "the vCPU did not leave KVM_RUN "
			    "within %d s of a kick", GATE_WAIT_S);
	else if (rc.failures || o.gap_exits)
		a64t_report(A64T_FAIL, name, "%llu failures, %llu MMIO exits "
			    "in %u rounds with the quiesce; first: %s",
			    (unsigned long long)rc.failures,
			    (unsigned long long)o.gap_exits, o.rounds, rc.first);
	else if (o.rounds < RECUT_MIN || o.slot_ops < 8ull * o.rounds ||
		 o.quiesces < 2ull * o.rounds)
		a64t_report(A64T_FAIL, name, "%u rounds in %d s, %llu slot "
			    "ioctls, %llu quiesces: want at least %d rounds, "
			    "each two quiesced re-cuts of the code's slot",
			    o.rounds, RECUT_SECONDS,
			    (unsigned long long)o.slot_ops,
			    (unsigned long long)o.quiesces, RECUT_MIN);
	else
		a64t_report(A64T_PASS, name, "%u re-cuts of the slot holding "
			    "the code and stage-1 tables in %.1f s, no abort",
			    2 * o.rounds, o.seconds);
}

static void without_quiesce(void)
{
	static struct recut rc;
	struct recut_outcome o;
	const char *name = "recut-unquiesced-fails";

	if (recut_run(false, RECUT_ENOUGH, &o, &rc))
		a64t_report(A64T_FAIL, name, "%s", o.what);
	else if (o.slot_ops < 8ull * o.rounds || o.quiesces)
		a64t_report(A64T_FAIL, name, "%llu slot ioctls, %llu quiesces "
			    "in %u rounds: the code's slot was not re-cut "
			    "unquiesced at every change",
			    (unsigned long long)o.slot_ops,
			    (unsigned long long)o.quiesces, o.rounds);
	else if (!rc.failures)
		a64t_report(A64T_FAIL, name, "no failure in %u rounds without "
			    "the quiesce: this KVM never let the vCPU meet the "
			    "missing slot, so the test cannot show the window",
			    o.rounds);
	else
		a64t_report(A64T_PASS, name, "%llu aborts in %u re-cuts, as "
			    "expected without it; first: %s",
			    (unsigned long long)rc.failures, 2 * o.rounds,
			    rc.first);
}

void a64t_recut_checks(void)
{
	with_quiesce();
	without_quiesce();
}
