/* SPDX-License-Identifier: MIT */
/*
 * The trap stage of the userfaultfd backend: what happens to a store that
 * hits a write-protected page (wpt.h, "the userfaultfd backend").
 *
 * WPT_UFFD_SIGBUS: a vCPU's store comes back as an MMIO exit (KVM emulates
 * it) and takes the usual path (vm.c, store_piece).  WPT_UFFD_BLOCK: the
 * vCPU blocks; wpt_vm_uffd_service() reads its fault, records it by thread
 * id and kicks the thread, which finds it in wpt_vm_uffd_step_begin() and
 * single-steps the store.  Either way a VMM thread's store is served by
 * lifting the page until the VMM's wpt_vm_host_wrote() over it: from its
 * SIGBUS handler, or from the service when the kick says "not a vCPU".
 *
 * Lifted pages sit in a fixed array, claimed lock-free (a signal handler
 * claims them) and freed under the VM lock, which protects the page again
 * and diffs it.  The pending faults of BLOCK are one per thread, a later
 * fault replacing an earlier; dropping any entry is safe: its thread
 * faults again and is served again.
 *
 * A slot is claimed by compare-and-swap from 0 to page + 1 and freed under
 * the VM lock.  Freeing before protecting again is what keeps it safe: a
 * writer that faults in between claims a fresh slot and lifts the page
 * again, and the protect that follows makes it fault once more.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

/* More threads than any VMM runs vCPUs: past it the oldest is dropped. */
#define UFFD_MAX_PENDING 1024
/* Faults one wpt_vm_uffd_service() call reads. */
#define UFFD_SERVICE_BATCH 64

int uffd_state_new(struct wpt_vm *vm, const struct wpt_vm_cfg *cfg)
{
	bool block = cfg->uffd == WPT_UFFD_BLOCK;
	struct uffd_state *u;
	void *be;
	int ret;

	if ((cfg->uffd != WPT_UFFD_SIGBUS && !block) ||
	    (block && !cfg->uffd_kick))
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	ret = wpt_protect_uffd_new(&vm->mem, block, &vm->protect, &be);
	if (ret) {
		free(u);
		return ret;
	}
	u->be = be;
	u->block = block;
	u->kick = cfg->uffd_kick;
	u->kick_opaque = cfg->uffd_kick_opaque;
	vm->uffd = u;
	return 0;
}

void uffd_state_free(struct wpt_vm *vm)
{
	if (!vm->uffd)
		return;
	free(vm->uffd->pending);
	free(vm->uffd);
	vm->uffd = NULL;
}

/* Lift the page at hva (a VMM thread's store faulted there) and record it
 * for its wpt_vm_host_wrote.  Lock-free.  1, or -ENOSPC, or the ioctl's
 * -errno. */
static int uffd_lift(struct uffd_state *u, uint64_t gpa, uintptr_t hva)
{
	uint64_t tag = (gpa & WPT_PAGE_MASK) + 1;
	unsigned int i, slot = WPT_UFFD_MAX_LIFTED;
	int ret;

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
	ret = wpt_protect_uffd_lift(u->be, hva);
	if (ret) {
		__atomic_store_n(&u->lifted[slot], 0, __ATOMIC_RELEASE);
		return ret;
	}
	__atomic_fetch_add(&u->lifts, 1, __ATOMIC_RELAXED);
	return 1;
}

int wpt_vm_uffd_sigbus(struct wpt_vm *vm, const void *addr)
{
	uint64_t gpa;

	if (!vm || !vm->uffd || vm->uffd->block)
		return -EINVAL;
	if (!guestmem_gpa_of_hva(&vm->mem, (uintptr_t)addr, &gpa))
		return 0;
	return uffd_lift(vm->uffd, gpa, (uintptr_t)addr);
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
		pg = vm_page_lookup(vm, page);
		/* A page no table wants protected any more stays open. */
		if (!pg || pg->nr_protecting == 0)
			continue;
		r = wpt_protect_step_reassert(&vm->protect, page);
		if (r) {
			vm->st.errors++;
			tracker_op_begin(vm);
			vm_fault_page(vm, pg, r);
			tracker_op_end(vm);
		} else {
			/* Protected first, then diffed: nothing stored while
			 * it was lifted is lost. */
			r = vm_page_rescan(vm, page, WPT_PAGE_SIZE);
		}
		if (r && !ret)
			ret = r;
	}
	return ret;
}

/* ------------------------------------------------------ WPT_UFFD_BLOCK */

static struct uffd_pending *pending_find(struct uffd_state *u, int tid)
{
	unsigned int i;

	for (i = 0; i < u->nr_pending; i++)
		if (u->pending[i].tid == tid)
			return &u->pending[i];
	return NULL;
}

static void pending_drop(struct uffd_state *u, struct uffd_pending *p)
{
	/* Keep the order: the oldest goes first when the list is full. */
	memmove(p, p + 1, (size_t)(u->pending + u->nr_pending - (p + 1)) *
			  sizeof(*p));
	u->nr_pending--;
}

static int pending_set(struct uffd_state *u, int tid, uint64_t gpa)
{
	struct uffd_pending *p = pending_find(u, tid);

	if (p) {
		p->gpa = gpa;
		return 0;
	}
	if (u->nr_pending == UFFD_MAX_PENDING)
		pending_drop(u, &u->pending[0]);
	if (u->nr_pending == u->cap_pending) {
		unsigned int cap = u->cap_pending ? 2 * u->cap_pending : 8;
		struct uffd_pending *n = realloc(u->pending, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		u->pending = n;
		u->cap_pending = cap;
	}
	u->pending[u->nr_pending++] = (struct uffd_pending){ tid, gpa };
	return 0;
}

int wpt_vm_uffd_fd(const struct wpt_vm *vm)
{
	if (!vm || !vm->uffd || !vm->uffd->block)
		return -EINVAL;
	return wpt_protect_uffd_fd(vm->uffd->be);
}

/* One fault read off the fd: thread tid blocks on a store to page. */
static int uffd_fault(struct wpt_vm *vm, uint64_t page, int tid)
{
	struct uffd_state *u = vm->uffd;
	struct wpt_page *pg;
	uintptr_t hva;
	bool wanted;
	int ret, kicked = 0, lifted;

	/* Record first, then kick: the vCPU looks for its fault as soon as
	 * its KVM_RUN returns. */
	pthread_mutex_lock(&vm->lock);
	u->faults++;
	ret = pending_set(u, tid, page);
	pthread_mutex_unlock(&vm->lock);
	if (!ret)
		kicked = u->kick(u->kick_opaque, tid);
	if (kicked > 0) {
		pthread_mutex_lock(&vm->lock);
		u->kicks++;
		pthread_mutex_unlock(&vm->lock);
		return 0;
	}
	/* Not a vCPU (or no memory to remember it): let its store go on. */
	pthread_mutex_lock(&vm->lock);
	if (!ret) {
		struct uffd_pending *p = pending_find(u, tid);

		if (p && p->gpa == page)
			pending_drop(u, p);
	}
	pg = vm_page_lookup(vm, page);
	wanted = pg && pg->nr_protecting > 0;
	pthread_mutex_unlock(&vm->lock);
	hva = (uintptr_t)guestmem_hva(&vm->mem, page, 1);
	/* A page released since its fault only needs its waiter woken. */
	lifted = wanted ? uffd_lift(u, page, hva)
			: wpt_protect_uffd_lift(u->be, hva);
	return ret ? ret : lifted < 0 ? lifted : 0;
}

int wpt_vm_uffd_service(struct wpt_vm *vm)
{
	int n = 0, ret = 0;

	if (!vm || !vm->uffd || !vm->uffd->block)
		return -EINVAL;
	/* Pages lifted in an earlier round are protected again (and
	 * diffed) now.  A VMM thread still writing one faults again and is
	 * lifted again; but a vCPU that left KVM_RUN for another reason
	 * between its fault and its kick was lifted for as if it were the
	 * VMM's, and its store is mirrored here, at the latest. */
	if (uffd_lifted_in(vm, 0, UINT64_MAX)) {
		pthread_mutex_lock(&vm->lock);
		ret = uffd_close_range(vm, 0, UINT64_MAX);
		pthread_mutex_unlock(&vm->lock);
	}
	while (n < UFFD_SERVICE_BATCH) {
		uint64_t page;
		int tid, r;

		r = wpt_protect_uffd_read(vm->uffd->be, &page, &tid);
		if (r <= 0) {
			if (r < 0 && !ret)
				ret = r;
			break;
		}
		n++;
		r = uffd_fault(vm, page, tid);
		if (r && !ret)
			ret = r;
	}
	return ret ? ret : n;
}

int wpt_vm_uffd_step_begin(struct wpt_vm *vm, struct wpt_step *st)
{
	struct uffd_pending *p;
	int tid = (int)gettid();
	uint64_t gpa;

	if (!vm || !st || !vm->uffd || !vm->uffd->block)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	p = pending_find(vm->uffd, tid);
	if (!p) {
		pthread_mutex_unlock(&vm->lock);
		return 0;
	}
	gpa = p->gpa;
	pending_drop(vm->uffd, p);
	pthread_mutex_unlock(&vm->lock);
	/* The page may have been released or lifted since: begin looks
	 * afresh (and still returns 1: step the store either way). */
	return wpt_vm_step_begin(vm, gpa, st);
}
