/* SPDX-License-Identifier: MIT */
/*
 * Hold a deleted memslot's gap open, for the re-cut tests' controls.
 * After the library deletes a slot (KVM_SET_USER_MEMORY_REGION of size
 * 0), its next slot ioctl waits widen_gap()'s microseconds.  Left as KVM
 * makes it, a vCPU met the gap once in a few thousand re-cuts on one
 * nested host and in none of 20,000 on another, so a control without the
 * quiesce failed at random; with the wait it meets the gap whenever a
 * re-cut leaves one, and a quiesced run shows the quiesce holding its
 * vCPU out of KVM_RUN across the same open gap.
 *
 * Header-only, like gate.h: include it in one file of a binary linked
 * with -Wl,--wrap=ioctl, whose every ioctl then comes here first.  Only
 * the thread that changes slots sets the flag it reads.
 */
#ifndef WPT_TEST_KVM_WIDEN_H
#define WPT_TEST_KVM_WIDEN_H

#include <stdarg.h>
#include <stdbool.h>
#include <unistd.h>

#include <linux/kvm.h>

static unsigned int widen_us;
static bool widen_deleted;

/* Wait us after each slot deletion from now on (0: stop waiting). */
static inline void widen_gap(unsigned int us)
{
	__atomic_store_n(&widen_us, us, __ATOMIC_RELAXED);
	if (!us)
		widen_deleted = false;
}

int __real_ioctl(int fd, unsigned long req, ...);

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	const struct kvm_userspace_memory_region *r;
	unsigned int us = __atomic_load_n(&widen_us, __ATOMIC_RELAXED);
	va_list ap;
	void *arg;
	int ret;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (req != KVM_SET_USER_MEMORY_REGION || !us)
		return __real_ioctl(fd, req, arg);
	r = arg;
	if (widen_deleted)
		usleep(us);
	ret = __real_ioctl(fd, req, arg);
	widen_deleted = !ret && !r->memory_size;
	return ret;
}

#endif
