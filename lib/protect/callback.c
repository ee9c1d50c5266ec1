/* SPDX-License-Identifier: MIT */
/*
 * The callback protection backend: a VMM that owns its memslots (QEMU does)
 * protects pages itself.  Every call goes to its wpt_protect_ops with its
 * opaque; the backend only holds wpt.h's promise that ranges are non-empty
 * and 4 KiB aligned, so a VMM never sees a range it would have to round.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "protect.h"

struct callback {
	struct wpt_protect_ops ops; /* a copy: the caller's may be on its stack */
	void *opaque;
};

static int range_ok(uint64_t gpa, uint64_t size)
{
	return size && !((gpa | size) & ~WPT_PAGE_MASK) && gpa + size > gpa;
}

static int callback_protect(void *be, uint64_t gpa, uint64_t size)
{
	struct callback *c = be;

	if (!range_ok(gpa, size))
		return -EINVAL;
	return c->ops.protect(c->opaque, gpa, size);
}

static int callback_unprotect(void *be, uint64_t gpa, uint64_t size)
{
	struct callback *c = be;

	if (!range_ok(gpa, size))
		return -EINVAL;
	return c->ops.unprotect(c->opaque, gpa, size);
}

/* The VMM's slots are its own business: nothing to count here. */
static void callback_stats(void *be, struct wpt_protect_stats *st)
{
	memset(st, 0, sizeof(*st));
}

static void callback_free(void *be)
{
	free(be);
}

static const struct wpt_protect_backend_ops callback_ops = {
	.name = "callback",
	.protect = callback_protect,
	.unprotect = callback_unprotect,
	.stats = callback_stats,
	.free = callback_free,
};

int wpt_protect_callback_new(const struct wpt_protect_ops *ops, void *opaque,
			     struct wpt_protect *out)
{
	struct callback *c;

	if (!ops || !ops->protect || !ops->unprotect || !out)
		return -EINVAL;
	c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ops = *ops;
	c->opaque = opaque;
	out->ops = &callback_ops;
	out->be = c;
	return 0;
}
