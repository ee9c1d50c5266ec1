/* SPDX-License-Identifier: MIT */
/*
 * Relaxed mode (WPT_MODE_RELAXED, wpt.h has the contract): table pages a
 * relaxed domain's guest writes in a burst are left writable ("unsynced")
 * with their snapshots kept, and brought back in step at sync points.
 * Sits between the trap stage and apply: trap.c tells it of trapped
 * stores and exits, domain.c of invalidations; it opens and closes pages
 * through apply.c (the step layer of protect/ holds an unsynced page
 * writable while the tracker still counts it protected) and diffs them
 * in one operation.
 *
 * Locking: everything under vm->lock except relax_pending() and
 * relax_exit(), which the exit path calls without it.
 */
#ifndef WPT_RELAX_H
#define WPT_RELAX_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"

/* Why a sync point happened (counted in wpt_vm_stats). */
enum relax_why {
	RELAX_SYNC_EXPLICIT,
	RELAX_SYNC_INVAL,
	RELAX_SYNC_DOORBELL,
	RELAX_SYNC_BOUND,
};

/* vm->relax: 0 or -ENOMEM; free takes NULL.  Pages still unsynced at free
 * are the protection backend's to forget (it goes right after). */
int relax_new(struct wpt_vm *vm);
void relax_free(struct wpt_vm *vm);

/* A relaxed domain is created (+1) or released (-1): with none, trapped
 * stores skip the burst bookkeeping.  Under the lock. */
void relax_count_domain(struct wpt_vm *vm, int delta);

/* Lock-free: is any page unsynced now?  Set before a page opens, so a
 * store that did not trap implies a caller that sees true. */
bool relax_pending(struct wpt_vm *vm);

/* The store at page (a tracked page, just applied and diffed) trapped:
 * leave the page writable if it is part of a burst.  Under the lock. */
void relax_after_trap(struct wpt_vm *vm, uint64_t page);

/* Before a trapped store of data at gpa is applied (under the lock, no
 * operation open): if it installs a new one-page table for relaxed
 * domains only, hold that page open from the start, so it is never
 * protected while the guest fills it. */
void relax_before_store(struct wpt_vm *vm, uint64_t gpa, const void *data,
			uint32_t len);

/* Any exit given to wpt_vm_handle_mmio while relax_pending(): count it
 * against the bound, and sync at the bound or (mmio: not guest RAM) at a
 * registered doorbell.  Takes the lock when it syncs. */
void relax_exit(struct wpt_vm *vm, uint64_t gpa, bool mmio);

/* A sync point: 0 or the first error.  Under the lock. */
int relax_sync_locked(struct wpt_vm *vm, enum relax_why why);

#endif
