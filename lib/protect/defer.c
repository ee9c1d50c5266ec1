/* SPDX-License-Identifier: MIT */
/*
 * The queue of held-back protection changes (defer.h).  Each change is
 * kept as it came, and folded only when the batch is flushed: a sort by
 * page then order, O(n log n) for a batch of n page changes however they
 * were split, so a walk that links thousands of tables costs no more
 * than sorting them.
 */
#include <errno.h>
#include <stdlib.h>

#include "defer.h"
#include "../guestmem.h"

int defer_record(struct protect_defer *q, uint64_t gpa, uint64_t size,
		 bool on)
{
	size_t n = size >> WPT_PAGE_SHIFT, i;

	if (q->nr + n > q->cap) {
		size_t cap = q->cap ? q->cap : 16;
		struct defer_change *c;

		while (cap < q->nr + n)
			cap *= 2;
		c = realloc(q->c, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		q->c = c;
		q->cap = cap;
	}
	for (i = 0; i < n; i++)
		q->c[q->nr++] = (struct defer_change){
			.gpa = gpa + (i << WPT_PAGE_SHIFT), .seq = q->seq++,
			.on = on };
	return 0;
}

static int change_cmp(const void *a, const void *b)
{
	const struct defer_change *x = a, *y = b;

	if (x->gpa != y->gpa)
		return x->gpa < y->gpa ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

size_t defer_take(struct protect_defer *q, struct defer_change **out)
{
	struct defer_change *c = q->c;
	size_t i = 0, n = 0, nr = q->nr;

	q->c = NULL;
	q->nr = q->cap = 0;
	qsort(c, nr, sizeof(*c), change_cmp);
	while (i < nr) {
		size_t j = i;
		bool first = c[i].on, last;

		while (j + 1 < nr && c[j + 1].gpa == c[i].gpa)
			j++;
		last = c[j].on;
		/* Its last state differs from where it started (the
		 * opposite of its first change); else nothing to do. */
		if (last == first) {
			uint64_t gpa = c[i].gpa;

			if (n && c[n - 1].on == last &&
			    c[n - 1].gpa + (c[n - 1].seq << WPT_PAGE_SHIFT) == gpa)
				c[n - 1].seq++;
			else
				c[n++] = (struct defer_change){ .gpa = gpa,
								.seq = 1,
								.on = last };
		}
		i = j + 1;
	}
	*out = c;
	return n;
}

void defer_fini(struct protect_defer *q)
{
	free(q->c);
	q->c = NULL;
	q->nr = q->cap = 0;
}
