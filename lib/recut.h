/* SPDX-License-Identifier: MIT */
/*
 * The re-cut window (wpt_quiesce_ops in wpt.h): where a VM's backend
 * re-cuts memslots and the VMM gave quiesce ops, an operation's
 * protection changes are only recorded under the VM lock (protect.c),
 * and made by the call that caused them before it returns: the VM lock
 * dropped, the VMM's quiesce() (no vCPU in KVM_RUN), the lock again, the
 * re-cuts and the rescan of what they protected (apply.c), the lock
 * dropped, resume().  Lock order: the VMM's pause state, then the VM
 * lock.  Every entry point that runs an operation ends with
 * recut_unlock() instead of unlocking.
 */
#ifndef WPT_RECUT_H
#define WPT_RECUT_H

#include "core.h"

/* Drop vm->lock, then make the re-cuts waiting, if any.  0 or the first
 * sink error of the rescans; backend_err (may be NULL) as
 * apply_protect_flush's.  A failed protect has faulted the domains
 * trapping on the page (wpt_domain_error), as at once it would have. */
int recut_unlock(struct wpt_vm *vm, int backend_err[2]);

/* The VM's backend re-cuts and the VMM gave quiesce ops: 0, or -ENOMEM
 * (setting up the record).  At wpt_vm_new. */
int recut_init(struct wpt_vm *vm, const struct wpt_vm_cfg *cfg);

/* Free the backend, its last re-cuts (all RAM made writable) inside a
 * quiesce window.  Under no lock. */
void recut_protect_free(struct wpt_vm *vm);

#endif
