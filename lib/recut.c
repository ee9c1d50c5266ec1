/* SPDX-License-Identifier: MIT */
/*
 * The re-cut window (recut.h).  Why the quiesce is called where it is:
 * a vCPU thread inside a library call (a trapped store waiting for the VM
 * lock) is outside KVM_RUN, and the VMM's quiesce does not wait for it,
 * so quiescing with the lock dropped cannot deadlock on it; and the
 * thread that made the change re-cuts before it returns, so when a vCPU
 * resumes after a store that linked a table, that table is protected and
 * every store to it traps or was seen by the rescan (wpt.h, invariant 5
 * of the design: the trap path is synchronous).
 */
#include "apply.h"
#include "recut.h"

static bool recut_deferred(const struct wpt_vm *vm)
{
	return vm->protect.defer != NULL;
}

/* With the vCPUs out of KVM_RUN: make what is recorded. */
static int recut_window(struct wpt_vm *vm, int backend_err[2])
{
	int ret;

	vm->quiesce.quiesce(vm->quiesce_opaque);
	__atomic_fetch_add(&vm->quiesces, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&vm->lock);
	/* Another thread's window may have made it all already. */
	ret = apply_protect_flush(vm, backend_err);
	pthread_mutex_unlock(&vm->lock);
	vm->quiesce.resume(vm->quiesce_opaque);
	return ret;
}

int recut_unlock(struct wpt_vm *vm, int backend_err[2])
{
	bool pending = protect_pending(&vm->protect);

	if (backend_err)
		backend_err[0] = backend_err[1] = 0;
	pthread_mutex_unlock(&vm->lock);
	return pending ? recut_window(vm, backend_err) : 0;
}

int recut_init(struct wpt_vm *vm, const struct wpt_vm_cfg *cfg)
{
	if (!cfg->quiesce || !cfg->quiesce->quiesce || !cfg->quiesce->resume)
		return 0;
	vm->quiesce = *cfg->quiesce;
	vm->quiesce_opaque = cfg->quiesce_opaque;
	/* Only memslot re-cuts open a gap (the KVM backend's, and the
	 * callback backend's VMM's); userfaultfd changes no slot. */
	if (!vm->protect.ops || protect_lifts(&vm->protect))
		return 0;
	return protect_defer_enable(&vm->protect);
}

void recut_protect_free(struct wpt_vm *vm)
{
	bool window = recut_deferred(vm);

	if (window)
		vm->quiesce.quiesce(vm->quiesce_opaque);
	protect_free(&vm->protect);
	if (window)
		vm->quiesce.resume(vm->quiesce_opaque);
}
