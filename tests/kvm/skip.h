/* SPDX-License-Identifier: MIT */
/*
 * Tests that need a real /dev/kvm call kvm_require() first: where it cannot
 * be opened, or opens but cannot make a VM (a KVM module whose hardware
 * support is missing or taken), they print a SKIP line naming why and exit
 * 77, which scripts/run-tests.sh and scripts/kvm/check.sh report loudly,
 * never as a pass.  tests/kvm/usable.c is the same check as a program, for
 * the harness that decides where the KVM tests run.
 */
#ifndef WPT_TEST_KVM_SKIP_H
#define WPT_TEST_KVM_SKIP_H

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

/* 0 when /dev/kvm can make a VM, else -errno with *what naming the step. */
static inline int kvm_usable(const char **what)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, err;

	if (fd < 0) {
		*what = "cannot open /dev/kvm";
		return -errno;
	}
	if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		err = errno ? errno : EINVAL;
		*what = "KVM_GET_API_VERSION is not 12";
		close(fd);
		return -err;
	}
	vm = ioctl(fd, KVM_CREATE_VM, 0);
	err = errno;
	close(fd);
	if (vm < 0) {
		*what = "/dev/kvm opens but KVM_CREATE_VM fails";
		return -err;
	}
	close(vm);
	return 0;
}

static inline void kvm_require(void)
{
	const char *what = "";
	int ret = kvm_usable(&what);

	if (ret) {
		printf("SKIP: %s: %s\n", what, strerror(-ret));
		exit(77);
	}
}

/*
 * ops scaled by WPT_KVM_OPS_PERCENT (1..100, default 100), at least 1.
 * make check-kvm sets it in its nested guest, where an exit costs about
 * ten times what it does on a host KVM and a memslot delete (which makes
 * x86 KVM drop every mapping of the VM) far more: the stress tests keep
 * every path and lose only repetitions.
 */
static inline uint64_t kvm_scaled_ops(uint64_t ops)
{
	const char *e = getenv("WPT_KVM_OPS_PERCENT");
	unsigned long pct = e ? strtoul(e, NULL, 10) : 100;

	if (pct < 1 || pct > 100)
		pct = 100;
	ops = ops * pct / 100;
	return ops ? ops : 1;
}

#endif
