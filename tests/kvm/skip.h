/* SPDX-License-Identifier: MIT */
/*
 * Tests that need a real /dev/kvm call kvm_require() first: where it cannot
 * be opened they print a SKIP line naming why and exit 77, which
 * scripts/run-tests.sh reports loudly, never as a pass.
 */
#ifndef WPT_TEST_KVM_SKIP_H
#define WPT_TEST_KVM_SKIP_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline void kvm_require(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("SKIP: cannot open /dev/kvm: %s\n", strerror(errno));
		exit(77);
	}
	close(fd);
}

#endif
