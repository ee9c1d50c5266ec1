/* SPDX-License-Identifier: MIT */
/*
 * The userfaultfd service thread and the vCPU kick (see uffd_service.h).
 * The thread sleeps in poll() on the library's userfaultfd and an eventfd
 * that asks it to stop; each wake-up hands the queued faults to
 * wpt_vm_uffd_service(), which calls uffd_service_kick() for each.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "wpt.h"
#include "../clock.h"
#include "uffd_service.h"

/* Only there to make a blocked KVM_RUN return -EINTR. */
static void on_kick(int sig)
{
	(void)sig;
}

int uffd_service_init(struct uffd_service *s, _Atomic int *tids,
		      _Atomic uint64_t *returns, unsigned int nr_tids)
{
	struct sigaction sa = { .sa_handler = on_kick, .sa_flags = SA_RESTART };

	s->tids = tids;
	s->returns = returns;
	s->nr_tids = nr_tids;
	sigemptyset(&sa.sa_mask);
	if (sigaction(UFFD_KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	return s->stop_fd < 0 ? -errno : 0;
}

/* Whether vCPU i's KVM_RUN returned since it read before, within
 * UFFD_KICK_WAIT_MS.  A vCPU that heeds the signal gets out in
 * microseconds, so the first looks come fast (yield, then sleeps from
 * 10 us doubling up to 1 ms): a fixed 1 ms sleep made every kick cost a
 * millisecond, ten times the rest of a churn operation. */
static bool left_kvm_run(struct uffd_service *s, unsigned int i,
			 uint64_t before)
{
	uint64_t end = bench_now_ns() + UFFD_KICK_WAIT_MS * 1000000ull;
	unsigned int tries = 0, sleep_us = 10;

	while (s->returns[i] == before) {
		if (bench_now_ns() >= end)
			return false;
		if (tries++ < 100) {
			sched_yield();
			continue;
		}
		usleep(sleep_us);
		if (sleep_us < 1000)
			sleep_us *= 2;
	}
	return true;
}

int uffd_service_kick(void *opaque, int tid)
{
	struct uffd_service *s = opaque;
	unsigned int i;

	for (i = 0; i < s->nr_tids; i++) {
		uint64_t before = s->returns[i];

		if (!tid || s->tids[i] != tid)
			continue;
		if (tgkill(getpid(), tid, UFFD_KICK_SIGNAL) < 0)
			break; /* it exited: nothing blocks any more */
		s->kicks++;
		if (left_kvm_run(s, i, before))
			return 1;
		s->unheeded++;
		if (!s->err)
			s->err = -EOPNOTSUPP;
		return 0;
	}
	/* Not a vCPU: the VMM's own thread gets the page lifted. */
	s->others++;
	return 0;
}

static void *service_thread(void *arg)
{
	struct uffd_service *s = arg;
	struct pollfd pfd[2] = {
		{ .fd = wpt_vm_uffd_fd(s->wpt), .events = POLLIN },
		{ .fd = s->stop_fd, .events = POLLIN },
	};

	for (;;) {
		int r = poll(pfd, 2, -1);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			s->err = -errno;
			break;
		}
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		r = wpt_vm_uffd_service(s->wpt);
		/* A sink error is the library's to retry; keep serving. */
		if (r < 0 && !s->err)
			s->err = r;
	}
	return NULL;
}

int uffd_service_start(struct uffd_service *s)
{
	int ret;

	if (!s->wpt || s->stop_fd < 0 || wpt_vm_uffd_fd(s->wpt) < 0)
		return -EINVAL;
	ret = -pthread_create(&s->thread, NULL, service_thread, s);
	if (!ret)
		s->running = true;
	return ret;
}

void uffd_service_fini(struct uffd_service *s)
{
	uint64_t one = 1;

	if (s->running) {
		if (write(s->stop_fd, &one, sizeof(one)) != sizeof(one))
			pthread_cancel(s->thread);
		pthread_join(s->thread, NULL);
		s->running = false;
	}
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	s->stop_fd = -1;
}
