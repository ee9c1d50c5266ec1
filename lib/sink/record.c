/* SPDX-License-Identifier: MIT */
/*
 * The recording sink: mappings held in memory, ordered by IOVA.
 *
 * It is the test oracle for the shadow, so it is as strict as VFIO type1 and
 * stricter where type1 is lenient:
 *  - map() of a range overlapping a held mapping fails with -EEXIST (type1
 *    refuses a map that overlaps an existing vfio_dma);
 *  - unmap() must name exactly one held mapping, same IOVA and size.  Type1
 *    refuses to bisect a mapping (-EINVAL) but silently unmaps several whole
 *    ones or nothing at all; here both are -EINVAL too, so a shadow that
 *    ever unmaps anything but what it mapped is caught at once.
 * A failed call changes nothing.  Not thread-safe: like every sink it is
 * used under its domain's VM lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/sys/tree.h>

#include "sink.h"
#include "wpt_internal.h"

struct record_node {
	RB_ENTRY(record_node) link;
	struct wpt_mapping m;
};

static int record_node_cmp(const struct record_node *a,
			   const struct record_node *b)
{
	return a->m.iova < b->m.iova ? -1 : a->m.iova > b->m.iova;
}

RB_HEAD(record_tree, record_node);
/* tree.h marks static generated functions __unused, which libbsd leaves
 * undefined (Linux uapi structs have members by that name); define it only
 * around the expansion. */
#define __unused __attribute__((__unused__))
RB_GENERATE_STATIC(record_tree, record_node, link, record_node_cmp)
#undef __unused

struct record {
	struct record_tree tree;
	uint64_t nr;
	uint64_t fail_in; /* calls until the injected failure; 0: none armed */
	int fail_err;
};

/* Inclusive last byte, so a mapping may end at 2^64 - 1; -EINVAL for an
 * empty or wrapping range. */
static int range_last(uint64_t iova, uint64_t size, uint64_t *last)
{
	if (!size || iova + (size - 1) < iova)
		return -EINVAL;
	*last = iova + (size - 1);
	return 0;
}

static uint64_t node_last(const struct record_node *n)
{
	return n->m.iova + (n->m.size - 1);
}

/* Count one call against an armed failure: nonzero when this is the one. */
static int injected_failure(struct record *r)
{
	if (!r->fail_in || --r->fail_in)
		return 0;
	return r->fail_err;
}

/* Held mappings never overlap, so only the first one starting at or after
 * iova and the one before it can reach [iova, last]. */
static int overlaps_held(struct record *r, uint64_t iova, uint64_t last)
{
	struct record_node key = { .m.iova = iova };
	struct record_node *next = RB_NFIND(record_tree, &r->tree, &key);
	struct record_node *prev;

	if (next && next->m.iova <= last)
		return 1;
	prev = next ? RB_PREV(record_tree, &r->tree, next)
		    : RB_MAX(record_tree, &r->tree);
	return prev && node_last(prev) >= iova;
}

static int record_map(struct wpt_sink *s, uint64_t iova, uint64_t gpa,
		      void *hva, uint64_t size, uint32_t perm)
{
	struct record *r = s->priv;
	struct record_node *n;
	uint64_t last;
	int ret = injected_failure(r);

	if (ret)
		return ret;
	if (range_last(iova, size, &last) || !perm)
		return -EINVAL;
	if (overlaps_held(r, iova, last))
		return -EEXIST;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->m = (struct wpt_mapping){ .iova = iova, .gpa = gpa, .size = size,
				     .perm = perm };
	RB_INSERT(record_tree, &r->tree, n);
	r->nr++;
	return 0;
}

static int record_unmap(struct wpt_sink *s, uint64_t iova, uint64_t size)
{
	struct record *r = s->priv;
	struct record_node key = { .m.iova = iova };
	struct record_node *n;
	uint64_t last;
	int ret = injected_failure(r);

	if (ret)
		return ret;
	if (range_last(iova, size, &last))
		return -EINVAL;
	n = RB_FIND(record_tree, &r->tree, &key);
	if (!n || n->m.size != size)
		return -EINVAL;
	RB_REMOVE(record_tree, &r->tree, n);
	free(n);
	r->nr--;
	return 0;
}

static void record_free(struct wpt_sink *s)
{
	struct record *r = s->priv;
	struct record_node *n, *next;

	RB_FOREACH_SAFE(n, record_tree, &r->tree, next) {
		RB_REMOVE(record_tree, &r->tree, n);
		free(n);
	}
	free(r);
}

static const struct wpt_sink_backend_ops record_ops = {
	.name = "record",
	.map = record_map,
	.unmap = record_unmap,
	.free = record_free,
};

int wpt_sink_record_new(struct wpt_sink **out)
{
	struct record *r;
	int ret;

	if (!out)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	RB_INIT(&r->tree);
	ret = wpt_sink_alloc(&record_ops, r, out);
	if (ret)
		free(r);
	return ret;
}

/* The ops pointer says the kind: priv means nothing to another kind. */
static struct record *record_of(const struct wpt_sink *s)
{
	return s && s->ops == &record_ops ? s->priv : NULL;
}

long wpt_sink_record_get(const struct wpt_sink *sink, struct wpt_mapping *out,
			 size_t max)
{
	struct record *r = record_of(sink);
	struct record_node *n;
	size_t i = 0;

	if (!r || (max && !out))
		return -EINVAL;
	RB_FOREACH(n, record_tree, &r->tree) {
		if (i == max)
			break;
		out[i++] = n->m;
	}
	return (long)r->nr;
}

int wpt_sink_record_fail_at(struct wpt_sink *sink, uint64_t nth, int err)
{
	struct record *r = record_of(sink);

	if (!r || (nth && err >= 0))
		return -EINVAL;
	r->fail_in = nth;
	r->fail_err = nth ? err : 0;
	return 0;
}
