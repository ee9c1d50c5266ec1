/* SPDX-License-Identifier: MIT */
/*
 * The callback sink: the VMM issues its own DMA mappings (it may already own
 * a VFIO container or an iommufd IOAS, or batch them its own way).  Every
 * call goes straight to its wpt_sink_ops with its opaque.
 */
#include <errno.h>
#include <stdlib.h>

#include "sink.h"

struct callback {
	struct wpt_sink_ops ops; /* a copy: the caller's table may be on its stack */
	void *opaque;
};

static int callback_map(struct wpt_sink *s, uint64_t iova, uint64_t gpa,
			void *hva, uint64_t size, uint32_t perm)
{
	struct callback *c = s->priv;

	return c->ops.map(c->opaque, iova, gpa, hva, size, perm);
}

static int callback_unmap(struct wpt_sink *s, uint64_t iova, uint64_t size)
{
	struct callback *c = s->priv;

	return c->ops.unmap(c->opaque, iova, size);
}

static const struct wpt_sink_backend_ops callback_ops = {
	.name = "callback",
	.map = callback_map,
	.unmap = callback_unmap,
};

int wpt_sink_callback_new(const struct wpt_sink_ops *ops, void *opaque,
			  struct wpt_sink **out)
{
	struct callback c = { .opaque = opaque };

	if (!ops || !ops->map || !ops->unmap || !out)
		return -EINVAL;
	c.ops = *ops;
	return wpt_sink_alloc_priv(&callback_ops, &c, sizeof(c), out);
}
