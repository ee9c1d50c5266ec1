/* SPDX-License-Identifier: MIT */
/*
 * A VMM's side of wpt_quiesce_ops for one vCPU thread, as wpt.h asks for
 * it: quiesce waits only for a vCPU inside KVM_RUN (kicked out by a
 * signal and kvm_run.immediate_exit, so one about to enter cannot miss
 * it), never for a thread outside it; quiesces nest (a count); the vCPU
 * enters KVM_RUN again only when the count is back at zero.  Every wait
 * is bounded: a vCPU that does not leave KVM_RUN within GATE_WAIT_S of a
 * kick sets kick_timeout (a test fails on it) rather than hang.
 * Header-only: the x86 and arm64 tests each include it.
 *
 * The vCPU thread's loop:
 *     while (gate_enter(g)) { r = ioctl(fd, KVM_RUN, 0); gate_leave(g); ... }
 */
#ifndef WPT_TEST_KVM_GATE_H
#define WPT_TEST_KVM_GATE_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <linux/kvm.h>

#include "wpt.h"

#define GATE_WAIT_S 5
#define GATE_SIGNAL SIGUSR1

struct vcpu_gate {
	pthread_mutex_t m;
	pthread_cond_t cv;
	struct kvm_run *run;  /* the vCPU's: immediate_exit */
	pthread_t thread;     /* the vCPU's, set before the first quiesce */
	int paused;           /* quiesce depth */
	bool in_run;
	bool stop;
	bool kick_timeout;
	uint64_t quiesces;
};

static void gate_signal_handler(int sig)
{
	(void)sig; /* KVM_RUN returns -EINTR: all a kick needs */
}

static inline void gate_init(struct vcpu_gate *g, struct kvm_run *run)
{
	struct sigaction sa = { .sa_handler = gate_signal_handler };

	pthread_mutex_init(&g->m, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->run = run;
	g->paused = 0;
	g->in_run = g->stop = g->kick_timeout = false;
	g->quiesces = 0;
	sigaction(GATE_SIGNAL, &sa, NULL); /* no SA_RESTART */
}

/* Under g->m: get the vCPU out of KVM_RUN and wait for it, bounded. */
static inline void gate_kick_locked(struct vcpu_gate *g)
{
	struct timespec end;

	if (g->in_run) {
		g->run->immediate_exit = 1;
		pthread_kill(g->thread, GATE_SIGNAL);
	}
	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += GATE_WAIT_S;
	while (g->in_run)
		if (pthread_cond_timedwait(&g->cv, &g->m, &end) == ETIMEDOUT) {
			g->kick_timeout = true;
			break;
		}
}

static inline void gate_quiesce(void *opaque)
{
	struct vcpu_gate *g = opaque;

	pthread_mutex_lock(&g->m);
	g->paused++;
	g->quiesces++;
	gate_kick_locked(g);
	pthread_mutex_unlock(&g->m);
}

static inline void gate_resume(void *opaque)
{
	struct vcpu_gate *g = opaque;

	pthread_mutex_lock(&g->m);
	g->paused--;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->m);
}

static const struct wpt_quiesce_ops gate_quiesce_ops = {
	.quiesce = gate_quiesce,
	.resume = gate_resume,
};

/* The vCPU thread, before KVM_RUN: false once the gate is stopped. */
static inline bool gate_enter(struct vcpu_gate *g)
{
	bool go;

	pthread_mutex_lock(&g->m);
	while (g->paused && !g->stop)
		pthread_cond_wait(&g->cv, &g->m);
	go = !g->stop;
	if (go) {
		g->run->immediate_exit = 0;
		g->in_run = true;
	}
	pthread_mutex_unlock(&g->m);
	return go;
}

/* The vCPU thread, after KVM_RUN. */
static inline void gate_leave(struct vcpu_gate *g)
{
	pthread_mutex_lock(&g->m);
	g->in_run = false;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->m);
}

/* Stop the vCPU thread's loop (then join it). */
static inline void gate_stop(struct vcpu_gate *g)
{
	pthread_mutex_lock(&g->m);
	g->stop = true;
	gate_kick_locked(g);
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->m);
}

/* Wait (bounded by GATE_WAIT_S) until the guest changes the 32-bit
 * counter at p (a loop's count; the low half of a 64-bit one): 0, or
 * -ETIMEDOUT.  Naps between looks: one CPU may be all there is. */
static inline int gate_wait_progress(const void *p)
{
	uint32_t c0 = __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
	time_t end = time(NULL) + GATE_WAIT_S;
	struct timespec nap = { 0, 20000 };

	while (__atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED) == c0) {
		if (time(NULL) > end)
			return -ETIMEDOUT;
		nanosleep(&nap, NULL);
	}
	return 0;
}

#endif
