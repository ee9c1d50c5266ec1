/* SPDX-License-Identifier: MIT */
/* The sink handle common to every kind: allocation, counting, freeing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sink.h"

int wpt_sink_alloc(const struct wpt_sink_backend_ops *ops, void *priv,
		   struct wpt_sink **out)
{
	struct wpt_sink *s;

	if (!ops || !out)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ops = ops;
	s->priv = priv;
	*out = s;
	return 0;
}

int wpt_sink_alloc_priv(const struct wpt_sink_backend_ops *ops,
			const void *priv, size_t size, struct wpt_sink **out)
{
	struct wpt_sink *s;

	if (!ops || !out)
		return -EINVAL;
	/* One block: the backend's state lives right after the handle and
	 * goes with it in wpt_sink_free. */
	s = calloc(1, sizeof(*s) + size);
	if (!s)
		return -ENOMEM;
	s->ops = ops;
	s->priv = s + 1;
	memcpy(s->priv, priv, size);
	*out = s;
	return 0;
}

int wpt_sink_map(struct wpt_sink *s, uint64_t iova, uint64_t gpa, void *hva,
		 uint64_t size, uint32_t perm)
{
	int ret = s->ops->map(s, iova, gpa, hva, size, perm);

	if (ret) {
		s->stats.errors++;
		return ret;
	}
	s->stats.maps++;
	s->stats.bytes_mapped += size;
	return 0;
}

int wpt_sink_unmap(struct wpt_sink *s, uint64_t iova, uint64_t size)
{
	int ret = s->ops->unmap(s, iova, size);

	if (ret) {
		s->stats.errors++;
		return ret;
	}
	s->stats.unmaps++;
	return 0;
}

void wpt_sink_stats(const struct wpt_sink *s, struct wpt_sink_stats *st)
{
	*st = s->stats;
}

void wpt_sink_free(struct wpt_sink *s)
{
	if (!s)
		return;
	if (s->ops->free)
		s->ops->free(s);
	free(s);
}
