/* SPDX-License-Identifier: MIT */
/*
 * The userfaultfd backend's side of the VM.  A vCPU's store to a protected
 * page comes back as an MMIO exit (KVM emulates it), so it takes the usual
 * trap path (vm.c, store_piece); what is left here is the other writer: a
 * VMM thread whose store to a protected page raised SIGBUS.  Its handler
 * lifts the page (wpt_vm_uffd_sigbus) and records it in a fixed array,
 * lock-free, since it runs in a signal handler; the VMM's
 * wpt_vm_host_wrote() over the page protects it again and diffs it.
 *
 * A slot is claimed by compare-and-swap from 0 to page + 1 and freed under
 * the VM lock.  Freeing before protecting again is what keeps it safe: a
 * writer that faults in between claims a fresh slot and lifts the page
 * again, and the protect that follows makes it fault once more.
 */
#include <errno.h>
#include <stdlib.h>

#include "core.h"

int uffd_state_new(struct wpt_vm *vm)
{
	struct uffd_state *u = calloc(1, sizeof(*u));
	void *be;
	int ret;

	if (!u)
		return -ENOMEM;
	ret = wpt_protect_uffd_new(&vm->mem, &vm->protect, &be);
	if (ret) {
		free(u);
		return ret;
	}
	u->be = be;
	vm->uffd = u;
	return 0;
}

void uffd_state_free(struct wpt_vm *vm)
{
	free(vm->uffd);
	vm->uffd = NULL;
}

/* HVA -> GPA over the regions (immutable: safe in a signal handler). */
static int hva_gpa(const struct wpt_guestmem *gm, uintptr_t hva,
		   uint64_t *gpa)
{
	unsigned int i;

	for (i = 0; i < gm->nr; i++) {
		uintptr_t base = (uintptr_t)gm->regions[i].hva;

		if (hva >= base && hva - base < gm->regions[i].size) {
			*gpa = gm->regions[i].gpa + (hva - base);
			return 1;
		}
	}
	return 0;
}

int wpt_vm_uffd_sigbus(struct wpt_vm *vm, const void *addr)
{
	struct uffd_state *u;
	uint64_t gpa, tag;
	unsigned int i, slot = WPT_UFFD_MAX_LIFTED;
	int ret;

	if (!vm || !vm->uffd)
		return -EINVAL;
	u = vm->uffd;
	if (!hva_gpa(&vm->mem, (uintptr_t)addr, &gpa))
		return 0;
	tag = (gpa & WPT_PAGE_MASK) + 1;
	for (i = 0; i < WPT_UFFD_MAX_LIFTED && slot == WPT_UFFD_MAX_LIFTED;
	     i++) {
		uint64_t free_slot = 0;

		/* Lifted already (and protected again by a trapped store
		 * since): lift once more, the slot stands. */
		if (__atomic_load_n(&u->lifted[i], __ATOMIC_ACQUIRE) == tag ||
		    __atomic_compare_exchange_n(&u->lifted[i], &free_slot, tag,
						false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			slot = i;
	}
	if (slot == WPT_UFFD_MAX_LIFTED)
		return -ENOSPC;
	ret = wpt_protect_uffd_lift(u->be, (uintptr_t)addr);
	if (ret) {
		__atomic_store_n(&u->lifted[slot], 0, __ATOMIC_RELEASE);
		return ret;
	}
	__atomic_fetch_add(&u->lifts, 1, __ATOMIC_RELAXED);
	return 1;
}

bool uffd_lifted_in(struct wpt_vm *vm, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	if (!vm->uffd)
		return false;
	for (i = 0; i < WPT_UFFD_MAX_LIFTED; i++) {
		uint64_t tag = __atomic_load_n(&vm->uffd->lifted[i],
					       __ATOMIC_ACQUIRE);

		if (tag && tag - 1 + WPT_PAGE_SIZE > gpa && tag - 1 < gpa + len)
			return true;
	}
	return false;
}

int uffd_close_range(struct wpt_vm *vm, uint64_t gpa, uint64_t len)
{
	struct uffd_state *u = vm->uffd;
	unsigned int i;
	int ret = 0;

	if (!u)
		return 0;
	for (i = 0; i < WPT_UFFD_MAX_LIFTED; i++) {
		uint64_t tag = __atomic_load_n(&u->lifted[i], __ATOMIC_ACQUIRE);
		uint64_t page = tag - 1;
		struct wpt_page *pg;
		int r;

		if (!tag || page + WPT_PAGE_SIZE <= gpa || page >= gpa + len)
			continue;
		/* Free first (see the top of the file). */
		if (!__atomic_compare_exchange_n(&u->lifted[i], &tag, 0, false,
						 __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			continue;
		rcu_read_lock();
		pg = tracker_page_lookup(vm, page);
		rcu_read_unlock();
		/* A page no table wants protected any more stays open. */
		if (!pg || pg->nr_protecting == 0)
			continue;
		r = wpt_protect_step_reassert(&vm->protect, page);
		if (r) {
			vm->st.errors++;
			tracker_op_begin(vm);
			vm_fault_page(vm, pg, r);
			tracker_op_end(vm);
			if (!ret)
				ret = r;
		}
	}
	return ret;
}
