/* SPDX-License-Identifier: MIT */
/*
 * Applying a write: put the guest's (or the VMM's) bytes into guest RAM
 * where the read-only slot or the write-protection kept them out, then
 * hand the page to the diff.  Also the one place where a protected page
 * is opened for a store or a single step and protected again afterwards,
 * and where a failure to protect it again is answered.
 */
#ifndef WPT_APPLY_H
#define WPT_APPLY_H

#include <stdint.h>

#include "core.h"

/* Store len bytes at hva as the guest's store would have been: each byte
 * written once, in naturally aligned pieces that are single-copy atomic.
 * No lock needed. */
void apply_ram_store(void *hva, const void *data, uint32_t len);
/* Load len bytes from hva the same way (a read served in a slot gap). */
void apply_ram_load(void *data, const void *hva, uint32_t len);

/* Diff [gpa, gpa + len) (inside one page) if it is tracked, in an
 * operation of its own.  Under the lock: 0 or the first sink error. */
int apply_rescan(struct wpt_vm *vm, uint64_t gpa, uint64_t len);

/* Make page (pg's, may be NULL) writable if a table there is protected:
 * 1 opened, 0 nothing to open, or the backend's errno.  Under the lock. */
int apply_page_open(struct wpt_vm *vm, struct wpt_page *pg, uint64_t page);
/* Protect an opened page again if a table there still wants it.  0, or
 * the backend's errno: then the domains trapping there are faulted. */
int apply_page_close(struct wpt_vm *vm, struct wpt_page *pg, uint64_t page);

/* Store into the tracked page pg under the lock, opening it around the
 * store where the backend protects the VMM's own mapping too
 * (userfaultfd).  0 or -errno (nothing stored). */
int apply_store_locked(struct wpt_vm *vm, struct wpt_page *pg, uint64_t gpa,
		       void *hva, const void *data, uint32_t len);

/* Protect again (if still wanted) and diff the pages the backend lifted
 * for the VMM's own stores inside [gpa, gpa + len).  Under the lock; 0 or
 * the first error. */
int apply_close_lifted(struct wpt_vm *vm, uint64_t gpa, uint64_t len);

/* Make the protection changes held back for the vCPUs' quiesce
 * (protect_flush), diff every page protected by them, fault the domains
 * trapping on a page that could not be.  Under the lock, with the vCPUs
 * held out of KVM_RUN: 0 or the first sink error.  backend_err (may be
 * NULL) gets the first failed unprotect's errno in [0], protect's in [1]:
 * what a step's begin and end would have returned at once. */
int apply_protect_flush(struct wpt_vm *vm, int backend_err[2]);

#endif
