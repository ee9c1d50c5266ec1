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

#include "guestmem.h"
#include "hot.h"
#include "rangemap.h"
#include "sink.h"
#include "wpt_internal.h"

/* Held mappings in the shadow's own range map (rangemap.h): a map or
 * unmap costs the same at any number of mappings, so the bench's rows
 * through this sink measure the library, not an oracle's tree. */
struct record {
	struct rangemap held;
	uint64_t fail_in; /* calls until the injected failure; 0: none armed */
	int fail_err;
};

/* Inclusive last byte, so a mapping may end at 2^64 - 1; -EINVAL for an
 * empty or wrapping range, or one not made of whole pages (type1 wants
 * page alignment too). */
static int range_last(uint64_t iova, uint64_t size, uint64_t *last)
{
	if (!size || iova + (size - 1) < iova ||
	    (iova | size) & ~WPT_PAGE_MASK)
		return -EINVAL;
	*last = iova + (size - 1);
	return 0;
}

/* Count one call against an armed failure: nonzero when this is the one. */
static int injected_failure(struct record *r)
{
	if (!r->fail_in || --r->fail_in)
		return 0;
	return r->fail_err;
}

WPT_HOT
static int record_map(struct wpt_sink *s, uint64_t iova, uint64_t gpa,
		      void *hva, uint64_t size, uint32_t perm)
{
	struct record *r = s->priv;
	struct wpt_mapping m = { .iova = iova, .gpa = gpa, .size = size,
				 .perm = perm }, held;
	struct rm_pos p;
	uint64_t last;
	int ret = injected_failure(r);

	if (ret)
		return ret;
	if (range_last(iova, size, &last) || !perm || gpa & ~WPT_PAGE_MASK)
		return -EINVAL;
	if (rm_overlap(&r->held, iova, last, &p, &held))
		return -EEXIST;
	return rm_insert(&r->held, &m, 0, NULL);
}

WPT_HOT
static int record_unmap(struct wpt_sink *s, uint64_t iova, uint64_t size)
{
	struct record *r = s->priv;
	struct rm_pos p;
	uint64_t last;
	int ret = injected_failure(r);

	if (ret)
		return ret;
	if (range_last(iova, size, &last))
		return -EINVAL;
	/* Found by its start, so only the size is left to compare. */
	if (!rm_find(&r->held, iova, &p) || rm_size(&p) != size)
		return -EINVAL;
	rm_remove(&r->held, &p);
	return 0;
}

static void record_free(struct wpt_sink *s)
{
	struct record *r = s->priv;

	rm_free_all(&r->held);
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
	rm_init(&r->held);
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
	struct rm_pos p;
	size_t i = 0;
	bool ok;

	if (!r || (max && !out))
		return -EINVAL;
	for (ok = rm_from(&r->held, 0, &p); ok && i < max;
	     ok = rm_next(&r->held, &p))
		rm_get(&p, &out[i++]);
	return (long)r->held.nr;
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
