/* SPDX-License-Identifier: MIT */
/*
 * The userfaultfd write-protect backend, private to lib/protect/:
 * uffd.c (set up, protect, unprotect, read faults) and uffd_lift.c (the
 * pages lifted for the VMM's own stores).  uffd.c calls into uffd_lift.c,
 * never the other way.
 */
#ifndef WPT_PROTECT_UFFD_INT_H
#define WPT_PROTECT_UFFD_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "protect.h"

struct uffd {
	int fd;
	const struct wpt_guestmem *gm;
	uint64_t features;
	uint64_t wp_ops;
	uint64_t wp_ns;
	struct wpt_protect_backend_ops ops; /* uffd_ops, less what the mode lacks */
	/* Pages lifted for the VMM's stores, as gpa + 1 (0: free slot). */
	uint64_t lifted[WPT_UFFD_MAX_LIFTED];
	/* The wp_seq read before each slot's last lift, and the thread that
	 * lifted it (atomic). */
	uint64_t lift_seq[WPT_UFFD_MAX_LIFTED];
	int lift_tid[WPT_UFFD_MAX_LIFTED];
	/* Odd while a page is being write-protected, bumped before and after
	 * (atomic): a lift that read an even value and finds it unchanged
	 * knows nothing was protected since (uffd_lift_was_enough). */
	uint64_t wp_seq;
	uint64_t lifts; /* atomic */
	/* Tests only (wpt_internal.h): runs between a lift's claim and its
	 * ioctl, to widen that window. */
	void (*test_lift_hook)(void *opaque);
	void *test_lift_opaque;
};

/* Around every write-protect ioctl (not around lifts).  Async-signal-
 * safe. */
static inline void uffd_wp_seq_bump(struct uffd *u)
{
	__atomic_fetch_add(&u->wp_seq, 1, __ATOMIC_SEQ_CST);
}

/* The optional ops of protect.h (lift, wake, lifted_in, take_lifted). */
int uffd_lift(void *be, uint64_t gpa);
int uffd_wake(void *be, uint64_t gpa);
bool uffd_lifted_in(void *be, uint64_t gpa, uint64_t len);
bool uffd_take_lifted(void *be, uint64_t gpa, uint64_t len, uint64_t *page);
bool uffd_lift_was_enough(void *be, uint64_t gpa);

#endif
