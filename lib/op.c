/* SPDX-License-Identifier: MIT */
/*
 * Operations (op.h): the frame around every change, and its commit.
 */
#include "diff.h"
#include "op.h"
#include "shadow.h"
#include "tracker.h"

void op_begin(struct wpt_vm *vm)
{
	vm->touched = NULL;
	vm->recheck = NULL;
	vm->stale = NULL;
	vm->op_seq++;
}

int op_drop_domain(struct wpt_domain *d)
{
	tracker_drop_uses(d);
	return shadow_clear(d->shadow);
}

/* Tables the walker found tracked but unprotected since their snapshot:
 * diff them now, which may find more. */
static void diff_stale(struct wpt_vm *vm)
{
	while (vm->stale) {
		struct wpt_table *t = vm->stale;

		vm->stale = t->stale_next;
		t->on_stale = false;
		diff_table(vm, t);
		tracker_table_unpin(vm, t);
	}
}

int op_end(struct wpt_vm *vm)
{
	struct wpt_domain *d, *next;
	int ret = 0;

	diff_stale(vm);
	for (d = vm->touched; d; d = next) {
		int r;

		next = d->touched_next;
		d->touched = false;
		if (d->doomed) {
			/* Nothing of a faulted domain stays mapped: its tables
			 * may be hostile, so no partial walk is trusted. */
			r = op_drop_domain(d);
			d->doomed = false;
		} else {
			r = shadow_commit(d->shadow);
		}
		if (r) {
			/* (The domain's sink_errors are the shadow's.) */
			vm->st.errors++;
			ret = ret ? ret : r;
		}
	}
	vm->touched = NULL;
	tracker_release_rechecked(vm);
	return ret;
}
