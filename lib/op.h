/* SPDX-License-Identifier: MIT */
/*
 * One operation: everything one store, invalidation or root change does,
 * between op_begin and op_end under vm->lock.  The end is where the
 * pipeline's output leaves: stale tables are diffed, every touched
 * domain's shadow is committed to its sink (a faulted domain is torn
 * down instead), and tables no longer used are unprotected or freed.
 */
#ifndef WPT_OP_H
#define WPT_OP_H

#include "core.h"

void op_begin(struct wpt_vm *vm);
/* Returns the first sink error. */
int op_end(struct wpt_vm *vm);

/* Remove all of d's uses and mappings (fault, clear_root, free): 0 or the
 * sink's error. */
int op_drop_domain(struct wpt_domain *d);

#endif
