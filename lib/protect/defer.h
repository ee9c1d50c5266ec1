/* SPDX-License-Identifier: MIT */
/*
 * Protection changes held back until the vCPUs are out of KVM_RUN
 * (wpt_quiesce_ops): a queue of page changes in the order the tracker
 * made them, folded at flush time into the runs of pages whose protection
 * really changes.  Pure data, no backend call; protect.c owns one per VM
 * and uses it under the VM lock.
 */
#ifndef WPT_PROTECT_DEFER_H
#define WPT_PROTECT_DEFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One recorded change of one page, or (after defer_fold) one run. */
struct defer_change {
	uint64_t gpa;
	uint64_t seq;   /* order of recording; after the fold, pages in the run */
	bool on;        /* protect (true) or unprotect */
};

struct protect_defer {
	struct defer_change *c;
	size_t nr, cap;
	uint64_t seq;
};

/* Record that [gpa, gpa + size) (page aligned) is to be protected (on) or
 * unprotected.  All or nothing: 0 or -ENOMEM. */
int defer_record(struct protect_defer *q, uint64_t gpa, uint64_t size,
		 bool on);

static inline bool defer_pending(const struct protect_defer *q)
{
	return q->nr != 0;
}

/*
 * Take everything recorded, leaving q empty for what is recorded next.
 * *out (free it) holds the changes folded into maximal runs of adjacent
 * pages with one final state, each page's state before its first record
 * being the opposite of that record (the tracker protects only an
 * unprotected page and the reverse): a page protected then unprotected
 * in one batch is not in any run.  Returns how many runs; no allocation.
 */
size_t defer_take(struct protect_defer *q, struct defer_change **out);

void defer_fini(struct protect_defer *q);

#endif
