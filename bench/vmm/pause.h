/* SPDX-License-Identifier: MIT */
/*
 * The bench VMM's side of wpt_quiesce_ops (bvm_cfg.quiesce): the library
 * calls bvm_pause_quiesce around every memslot re-cut, and it returns once
 * no vCPU is inside KVM_RUN; vCPUs enter KVM_RUN only through
 * bvm_pause_enter, which waits while a quiesce holds them.  A quiesce
 * waits only for the vCPUs inside KVM_RUN (a signal and immediate_exit
 * get them out), never for a vCPU thread outside it: that one may be in
 * a library call waiting for the library's lock, or in its own quiesce.
 * Quiesces nest.  What a VMM wires once; vmm.c and vcpu.c use it.
 */
#ifndef WPT_BENCH_PAUSE_H
#define WPT_BENCH_PAUSE_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "../abi.h"

/* The kick's signal (a no-op handler without SA_RESTART); not the
 * userfaultfd kick's, which bvm_cfg.quiesce excludes anyway. */
#define BVM_PAUSE_SIGNAL SIGUSR1
/* How long a quiesce waits for a kicked vCPU to leave KVM_RUN. */
#define BVM_PAUSE_WAIT_S 5

struct bvm_pause {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	unsigned int depth;                   /* quiesces in progress */
	struct kvm_run *run[BENCH_MAX_CPUS];  /* immediate_exit */
	int tid[BENCH_MAX_CPUS];              /* inside KVM_RUN: its thread */
	uint64_t quiesces, kicks;
	bool timed_out;  /* a vCPU stayed in KVM_RUN past the bound */
};

/* Install the kick's handler.  0 or -errno. */
int bvm_pause_init(struct bvm_pause *p);
void bvm_pause_fini(struct bvm_pause *p);

/* The vCPU thread tid, about to enter KVM_RUN on vCPU i (run its run
 * page): waits while a quiesce holds the vCPUs. */
void bvm_pause_enter(struct bvm_pause *p, unsigned int i, int tid,
		     struct kvm_run *run);
/* Back from KVM_RUN. */
void bvm_pause_leave(struct bvm_pause *p, unsigned int i);

/* wpt_quiesce_ops, opaque = the bvm_pause. */
void bvm_pause_quiesce(void *opaque);
void bvm_pause_resume(void *opaque);

#endif
