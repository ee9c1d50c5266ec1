/* SPDX-License-Identifier: MIT */
/*
 * The tracker's books: which tables are tracked, where each is used, which
 * pages are protected, and the per-operation state (domains touched,
 * faults, the walk budget).  It walks nothing and diffs nothing: ptwalk.c
 * and diff.c call it.  Everything here runs under vm->lock.
 */
#ifndef WPT_TRACKER_H
#define WPT_TRACKER_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"

/* Fill zero limits from dflt (NULL: the library's defaults). */
void limits_fill(struct wpt_limits *lim, const struct wpt_limits *dflt);

/* Find a table of that exact placement, or its use at (d, level, iova). */
struct wpt_table *tracker_table_lookup(struct wpt_vm *vm, uint64_t gpa,
				       uint64_t size);
struct wpt_table_use *tracker_use_lookup(struct wpt_table *t,
					 struct wpt_domain *d, int level,
					 uint64_t iova);

/*
 * The table at gpa for a new use by d: found or created (its snapshot read
 * from RAM), protected first if d traps, and pinned (tracker_table_unpin).
 * A table that was tracked unprotected may be stale; it goes on vm->stale
 * for the operation's end to diff (op.c).  NULL: d faulted.
 */
struct wpt_table *tracker_table_get(struct wpt_domain *d, uint64_t gpa,
				    uint64_t size, void *hva);
void tracker_table_pin(struct wpt_table *t);
void tracker_table_unpin(struct wpt_vm *vm, struct wpt_table *t);

/* Link a new use of t (d has none at (level, iova)), or unlink one. */
struct wpt_table_use *tracker_use_link(struct wpt_table *t,
				       struct wpt_domain *d, int level,
				       uint64_t iova, uint32_t perm_mask);
void tracker_use_unlink(struct wpt_table_use *u);
/* Unlink every use of d (its mappings are the shadow's to clear). */
void tracker_drop_uses(struct wpt_domain *d);

/* Look at t again at the end of the operation: unprotect it if no use
 * traps, free it if nothing uses it (and nothing pins it). */
void tracker_table_recheck(struct wpt_vm *vm, struct wpt_table *t);
void tracker_release_rechecked(struct wpt_vm *vm);

/* d changes in this operation (its shadow is committed at the end). */
void tracker_touch(struct wpt_domain *d);
/* Record a fault on d (first one wins) and log it. */
void tracker_fault(struct wpt_domain *d, int err, const char *why);
/* Charge n visited descriptors to d's current walk; false (and d faulted)
 * past its limit. */
bool tracker_charge(struct wpt_domain *d, uint64_t n);
/* Count a descriptor the format refused (address size, reserved bits). */
void tracker_count_fault(struct wpt_domain *d, const struct wpt_desc *dd);

static inline bool domain_protects(const struct wpt_domain *d)
{
	return d->mode != WPT_MODE_INVAL;
}

#endif
