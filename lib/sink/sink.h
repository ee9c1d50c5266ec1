/* SPDX-License-Identifier: MIT */
/*
 * Sinks: where the shadow's mappings go.  Each kind fills one
 * wpt_sink_backend_ops; the shadow only calls wpt_sink_map/unmap, which
 * count.  A sink is used by one domain at a time, under that domain's VM
 * lock; it has no lock of its own.
 */
#ifndef WPT_SINK_H
#define WPT_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "wpt.h"

struct wpt_sink;

struct wpt_sink_backend_ops {
	const char *name;
	int (*map)(struct wpt_sink *s, uint64_t iova, uint64_t gpa, void *hva,
		   uint64_t size, uint32_t perm);
	int (*unmap)(struct wpt_sink *s, uint64_t iova, uint64_t size);
	void (*free)(struct wpt_sink *s); /* optional */
};

struct wpt_sink {
	const struct wpt_sink_backend_ops *ops;
	struct wpt_sink_stats stats;
	void *priv; /* the backend's */
};

/* Allocate a sink of a kind; priv is the backend's (its free op frees it).
 * -ENOMEM. */
int wpt_sink_alloc(const struct wpt_sink_backend_ops *ops, void *priv,
		   struct wpt_sink **out);
/* The same with a copy of size bytes of priv kept inside the sink's own
 * allocation (s->priv): nothing for the backend to free. */
int wpt_sink_alloc_priv(const struct wpt_sink_backend_ops *ops,
			const void *priv, size_t size, struct wpt_sink **out);

/* Call the backend and count.  size > 0, perm != 0. */
int wpt_sink_map(struct wpt_sink *s, uint64_t iova, uint64_t gpa, void *hva,
		 uint64_t size, uint32_t perm);
int wpt_sink_unmap(struct wpt_sink *s, uint64_t iova, uint64_t size);

/* For unit tests of what VFIO and iommufd sinks send: the same sinks with
 * the ioctl replaced by fn. */
typedef int (*wpt_ioctl_fn)(int fd, unsigned long request, void *arg);
int wpt_sink_vfio_new_ioctl(int container_fd, wpt_ioctl_fn fn,
			    struct wpt_sink **out);
int wpt_sink_iommufd_new_ioctl(int iommufd, uint32_t ioas_id, wpt_ioctl_fn fn,
			       struct wpt_sink **out);

/* The kernel-facing sinks' one way to issue a request: fn follows the
 * ioctl(2) contract (-1 and errno on failure); returns 0 or -errno, never 0
 * for a failure.  wpt_sink_sys_ioctl is ioctl(2) itself. */
int wpt_sink_ioctl(wpt_ioctl_fn fn, int fd, unsigned long request, void *arg);
int wpt_sink_sys_ioctl(int fd, unsigned long request, void *arg);

#endif
