/* SPDX-License-Identifier: MIT */
/* wpt-arm64-test's tests and their reporting. */
#ifndef ARM64_CHECK_H
#define ARM64_CHECK_H

#include <pthread.h>

#include "a64t.h"

#define A64T_PASS 0
#define A64T_FAIL 1
#define A64T_SKIP 2
/* RAM is pre-cut into slots of this size (the KVM backend's granule). */
#define A64T_SLOT_GRANULE (2ull << 20)

void a64t_report(int state, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The io-pgtable guest's run, phase by phase, and the fault tests. */
struct a64t_guest {
	struct a64t t;               /* first: the exit loop's view */
	unsigned int phase;          /* the phase running (A64T_PH_*) */
	char fail[A64T_PH_MAX + 1][200];
	struct a64t_counts start;    /* counts when the phase began */
	struct wpt_vm_stats after_casal;
	bool casal_seen;
	/* the fault test running (A64T_F_*) and what it saw */
	unsigned int mark;
	struct a64t_counts mark_start;
	unsigned int excs;
	uint64_t esr, far, elr;
	bool have_status;            /* the guest's A64T_CALL_STATUS */
	uint64_t status, word;
	struct wpt_a64_result verdict; /* the emulator's, for F_UNALIGNED_X */
	int verdict_ret;
	/* vCPU 1 (vcpu1.c): t1 is &vcpu1 once it exists */
	struct a64t vcpu1;
	struct a64t *t1;
	pthread_t vcpu1_thread;
	bool vcpu1_running;
};

/* Seconds one run of vCPU 1 may take. */
#define A64T_VCPU1_SECONDS 60

void a64t_guest_run(struct a64t_guest *g);
void a64t_memslot_checks(struct a64t_guest *g);
/* The re-cut window, on VMs of its own (recut.c). */
void a64t_recut_checks(void);
void a64t_pin(int cpu);
/* Boot vCPU 1 (made on first use) with x0 and run it on its own thread;
 * its hypercalls go to call.  0 or -errno. */
int a64t_vcpu1_start(struct a64t_guest *g, uint64_t x0, a64t_call_fn call);
void a64t_vcpu1_join(struct a64t_guest *g);
void a64t_vcpu1_call(struct a64t *t, uint64_t call);

#endif
