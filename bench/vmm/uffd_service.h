/* SPDX-License-Identifier: MIT */
/*
 * The bench VMM's side of the library's WPT_UFFD_BLOCK mode (wpt.h, "the
 * userfaultfd backend"): a thread that polls the library's userfaultfd and
 * services it, and the kick that interrupts a vCPU thread's KVM_RUN with a
 * signal.  What a VMM wires once; vmm.c and loop.c use it when
 * bvm_cfg.uffd_block is set.
 */
#ifndef WPT_BENCH_UFFD_SERVICE_H
#define WPT_BENCH_UFFD_SERVICE_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

struct wpt_vm;

/* The signal that kicks a vCPU (a no-op handler, SA_RESTART). */
#define UFFD_KICK_SIGNAL SIGUSR2
/* How long a kick waits for the vCPU to leave KVM_RUN.  A KVM whose fault
 * path returns -EINTR on a signal lets it out within microseconds (a few
 * milliseconds on a slow nested host); one where a fault blocked on
 * userfaultfd is only killable (Debian's 6.1 KVM, seen under
 * `make check-kvm`) never does. */
#define UFFD_KICK_WAIT_MS 2000

struct uffd_service {
	struct wpt_vm *wpt;       /* set before uffd_service_start */
	_Atomic int *tids;        /* the vCPU threads' ids (0: none) */
	/* per vCPU: how many times its KVM_RUN returned (the kick's proof
	 * that it got out) */
	_Atomic uint64_t *returns;
	unsigned int nr_tids;
	int stop_fd;              /* eventfd: asks the thread to stop */
	pthread_t thread;
	bool running;
	/* The first error the thread saw; -EOPNOTSUPP: a kicked vCPU stayed
	 * in KVM_RUN for UFFD_KICK_WAIT_MS (its page was lifted instead). */
	_Atomic int err;
	_Atomic uint64_t kicks, others, unheeded;
};

/* Install the kick signal's handler and make the stop eventfd.  tids and
 * returns have nr_tids entries.  0 or -errno. */
int uffd_service_init(struct uffd_service *s, _Atomic int *tids,
		      _Atomic uint64_t *returns, unsigned int nr_tids);

/* wpt_vm_cfg.uffd_kick, with opaque = the service.  Signals the vCPU and
 * waits, bounded, for its KVM_RUN to return: 1.  If it does not, the
 * fault is not interruptible on this KVM: err becomes -EOPNOTSUPP and 0
 * asks the library to lift the page, so the vCPU goes on rather than
 * hang; the VMM then stops the run with that reason. */
int uffd_service_kick(void *opaque, int tid);

/* Start the thread polling wpt_vm_uffd_fd(s->wpt).  0 or -errno. */
int uffd_service_start(struct uffd_service *s);

/* Stop and join it, close the eventfd.  Safe on a service never started
 * (stop_fd -1). */
void uffd_service_fini(struct uffd_service *s);

#endif
