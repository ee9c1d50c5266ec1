/* SPDX-License-Identifier: MIT */
/*
 * The library's re-cut window in kvmtool (wpt_quiesce_ops in wpt.h):
 * every vCPU held out of KVM_RUN while a memslot of guest RAM is deleted
 * and created again, so no instruction fetch or stage-1 walk meets RAM
 * without a slot (arm64 KVM would inject an abort).
 *
 * Not kvm__pause()/kvm__continue(): kvm__pause signals every vCPU, the
 * caller too, and each one parks inside its signal handler wherever it
 * is.  A re-cut starts from a vCPU's own exit (the store that linked a
 * table), so the calling vCPU would wait for itself; and a vCPU parked
 * while it holds the library's lock (handling its own trapped store)
 * would stop the re-cut from ever taking it.  Here a vCPU counts as
 * held when it is outside KVM_RUN; only the ones inside are kicked
 * (SIGKVMTASK with no task: KVM_RUN returns -EINTR, kvm_run.immediate_exit
 * for one about to enter), and the vCPU loop enters KVM_RUN only through
 * wpt_glue__vcpu_enter, which waits while a quiesce holds.  Quiesces
 * nest (two vCPUs may re-cut at once).
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "kvm/kvm.h"
#include "kvm/kvm-cpu.h"
#include "kvm/util.h"

#include "wpt-glue-internal.h"

/* A kicked vCPU that stays in KVM_RUN this long is named in the log
 * (it may be parked by kvm__pause: then it leaves at kvm__continue). */
#define WPT_QUIESCE_WARN_S 5

static struct {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	unsigned int depth;        /* quiesces in progress */
	struct kvm_cpu **inside;   /* [cpu_id]: inside KVM_RUN, or NULL */
	int nrcpus;
} wpt_quiesce = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.changed = PTHREAD_COND_INITIALIZER,
};

void wpt_glue__vcpu_enter(struct kvm_cpu *vcpu)
{
	if (!wpt_quiesce.inside)
		return;
	pthread_mutex_lock(&wpt_quiesce.lock);
	while (wpt_quiesce.depth)
		pthread_cond_wait(&wpt_quiesce.changed, &wpt_quiesce.lock);
	vcpu->kvm_run->immediate_exit = 0;
	wpt_quiesce.inside[vcpu->cpu_id] = vcpu;
	pthread_mutex_unlock(&wpt_quiesce.lock);
}

void wpt_glue__vcpu_exit(struct kvm_cpu *vcpu)
{
	if (!wpt_quiesce.inside)
		return;
	pthread_mutex_lock(&wpt_quiesce.lock);
	wpt_quiesce.inside[vcpu->cpu_id] = NULL;
	pthread_cond_broadcast(&wpt_quiesce.changed);
	pthread_mutex_unlock(&wpt_quiesce.lock);
}

/* Under the lock: kick the vCPUs inside KVM_RUN; how many there were. */
static int wpt_quiesce__kick(void)
{
	int i, n = 0;

	for (i = 0; i < wpt_quiesce.nrcpus; i++) {
		struct kvm_cpu *vcpu = wpt_quiesce.inside[i];

		if (!vcpu)
			continue;
		vcpu->kvm_run->immediate_exit = 1;
		pthread_kill(vcpu->thread, SIGKVMTASK);
		n++;
	}
	return n;
}

static void wpt_glue__quiesce(void *opaque)
{
	struct timespec end;

	pthread_mutex_lock(&wpt_quiesce.lock);
	wpt_quiesce.depth++;
	while (wpt_quiesce__kick()) {
		clock_gettime(CLOCK_REALTIME, &end);
		end.tv_sec += WPT_QUIESCE_WARN_S;
		if (pthread_cond_timedwait(&wpt_quiesce.changed,
					   &wpt_quiesce.lock, &end))
			pr_warning("wpt: a vCPU stays in KVM_RUN %d s after "
				   "its kick", WPT_QUIESCE_WARN_S);
	}
	pthread_mutex_unlock(&wpt_quiesce.lock);
}

static void wpt_glue__resume(void *opaque)
{
	pthread_mutex_lock(&wpt_quiesce.lock);
	wpt_quiesce.depth--;
	pthread_cond_broadcast(&wpt_quiesce.changed);
	pthread_mutex_unlock(&wpt_quiesce.lock);
}

const struct wpt_quiesce_ops wpt_glue__quiesce_ops = {
	.quiesce = wpt_glue__quiesce,
	.resume = wpt_glue__resume,
};

/* Before the library's VM: room for every vCPU's entry. */
void wpt_glue__quiesce_init(struct kvm *kvm)
{
	wpt_quiesce.nrcpus = kvm->nrcpus;
	wpt_quiesce.inside = calloc(kvm->nrcpus, sizeof(*wpt_quiesce.inside));
	if (!wpt_quiesce.inside)
		die("wpt: no memory for %d vCPUs' quiesce state", kvm->nrcpus);
}
