/* SPDX-License-Identifier: MIT */
/* How the kernel-facing sinks (VFIO, iommufd) issue a request, so tests can
 * put a stand-in where ioctl(2) goes and see what would be sent. */
#include <errno.h>
#include <sys/ioctl.h>

#include "sink.h"

int wpt_sink_sys_ioctl(int fd, unsigned long request, void *arg)
{
	return ioctl(fd, request, arg);
}

int wpt_sink_ioctl(wpt_ioctl_fn fn, int fd, unsigned long request, void *arg)
{
	errno = 0;
	if (fn(fd, request, arg) >= 0)
		return 0;
	/* A failure that set no errno must still not read as success. */
	return errno > 0 ? -errno : -EIO;
}
