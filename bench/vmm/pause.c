/* SPDX-License-Identifier: MIT */
/*
 * Holding the vCPUs out of KVM_RUN around the library's re-cuts
 * (pause.h).  A vCPU announces itself inside KVM_RUN under the lock and
 * clears immediate_exit there, so a quiesce either sees it inside and
 * kicks it (immediate_exit set first: a vCPU between the announcement and
 * the ioctl returns -EINTR at once), or sees it outside, and then it
 * waits at bvm_pause_enter until the last resume.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pause.h"

static void on_kick(int sig)
{
	(void)sig; /* KVM_RUN returns -EINTR: all a kick needs */
}

int bvm_pause_init(struct bvm_pause *p)
{
	struct sigaction sa = { .sa_handler = on_kick };

	memset(p, 0, sizeof(*p));
	sigemptyset(&sa.sa_mask);
	if (sigaction(BVM_PAUSE_SIGNAL, &sa, NULL) < 0)
		return -errno;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->changed, NULL);
	return 0;
}

void bvm_pause_fini(struct bvm_pause *p)
{
	pthread_cond_destroy(&p->changed);
	pthread_mutex_destroy(&p->lock);
}

void bvm_pause_enter(struct bvm_pause *p, unsigned int i, int tid,
		     struct kvm_run *run)
{
	pthread_mutex_lock(&p->lock);
	while (p->depth)
		pthread_cond_wait(&p->changed, &p->lock);
	p->run[i] = run;
	run->immediate_exit = 0;
	p->tid[i] = tid;
	pthread_mutex_unlock(&p->lock);
}

void bvm_pause_leave(struct bvm_pause *p, unsigned int i)
{
	pthread_mutex_lock(&p->lock);
	p->tid[i] = 0;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}

static bool any_inside(const struct bvm_pause *p)
{
	unsigned int i;

	for (i = 0; i < BENCH_MAX_CPUS; i++)
		if (p->tid[i])
			return true;
	return false;
}

void bvm_pause_quiesce(void *opaque)
{
	struct bvm_pause *p = opaque;
	struct timespec end;
	unsigned int i;

	pthread_mutex_lock(&p->lock);
	p->depth++;
	p->quiesces++;
	for (i = 0; i < BENCH_MAX_CPUS; i++) {
		if (!p->tid[i])
			continue;
		p->run[i]->immediate_exit = 1;
		if (!tgkill(getpid(), p->tid[i], BVM_PAUSE_SIGNAL))
			p->kicks++;
	}
	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += BVM_PAUSE_WAIT_S;
	while (any_inside(p))
		if (pthread_cond_timedwait(&p->changed, &p->lock, &end) ==
		    ETIMEDOUT) {
			/* Unsafe to go on, but a hang is worse: the run
			 * reports it (bvm_run fails). */
			p->timed_out = true;
			break;
		}
	pthread_mutex_unlock(&p->lock);
}

void bvm_pause_resume(void *opaque)
{
	struct bvm_pause *p = opaque;

	pthread_mutex_lock(&p->lock);
	p->depth--;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}
