/* SPDX-License-Identifier: MIT */
/*
 * A set of IOVA spans: maximal inclusive intervals [first, last] in an RB
 * tree, touching spans merged, with the total bytes kept.  The shadow's
 * "dirty" and "pending" sets.  Inclusive ends throughout: a span may end
 * at the top of a 64-bit space.  Not thread safe (the shadow's caller
 * holds the VM lock).
 */
#ifndef WPT_SPANSET_H
#define WPT_SPANSET_H

#include <stdint.h>

#include <bsd/sys/tree.h>

struct span {
	RB_ENTRY(span) link;
	uint64_t first, last;
};

RB_HEAD(span_tree, span);

#define SPANSET_SPARES 1

struct span_set {
	struct span_tree tree;
	uint64_t bytes; /* 0 also when the set is the whole 64-bit space */
	/* A span freed, kept for the next add: the dirty set gains a span
	 * and is cleared on every trapped store, no malloc each time. */
	struct span *spare[SPANSET_SPARES];
	unsigned int nr_spare;
	struct span *hint; /* the span the last add grew, or NULL */
};

void spanset_init(struct span_set *set);

/* Add [first, last]; *out (if given) is the span now holding it.  Allocates
 * only when nothing overlaps or touches it, before changing anything:
 * 0 or -ENOMEM (then the set is unchanged). */
int spanset_add(struct span_set *set, uint64_t first, uint64_t last,
		struct span **out);

/* Take [first, last] out.  Cutting a hole in a span needs a new one; if
 * that allocation fails the span stays whole: a set that says too much is
 * only conservative (a reconcile finds nothing to do there). */
/* Add the whole 64-bit space.  An empty set takes *spare (then NULL)
 * instead of allocating, so a caller keeping a spare span can do it
 * without memory; a set not empty touches it and needs none: 0, or
 * -ENOMEM only when the set is empty and *spare is NULL. */
int spanset_add_all(struct span_set *set, struct span **spare);

void spanset_sub(struct span_set *set, uint64_t first, uint64_t last);

void spanset_clear(struct span_set *set);
/* Clear and free the spares too: the set is done with. */
void spanset_fini(struct span_set *set);

/* The first span, the one after sp, the first ending at or after x. */
struct span *spanset_first(const struct span_set *set);
struct span *spanset_next(const struct span_set *set, struct span *sp);
struct span *spanset_from(const struct span_set *set, uint64_t x);

#endif
