/* SPDX-License-Identifier: MIT */
/*
 * The trap stage of a backend whose faults block (userfaultfd,
 * WPT_UFFD_BLOCK), and of the VMM's own faulting stores (wpt.h, "the
 * userfaultfd backend").
 *
 * WPT_UFFD_SIGBUS: a vCPU's store comes back as an MMIO exit (KVM emulates
 * it) and takes the usual path (trap.c); a VMM thread's store raises
 * SIGBUS, whose handler asks wpt_vm_uffd_sigbus() to lift the page.
 * WPT_UFFD_BLOCK: the vCPU blocks; wpt_vm_uffd_service() reads its fault,
 * records it by thread id and kicks the thread, which finds it in
 * wpt_vm_uffd_step_begin() and single-steps the store; when the kick says
 * "not a vCPU", the page is lifted for that thread.  A lifted page is
 * protected again and diffed at the VMM's wpt_vm_host_wrote() over it
 * (apply.c), or at the next service.
 *
 * The pending faults of BLOCK are one per thread, a later fault replacing
 * an earlier, under their own lock; dropping any entry is safe: its
 * thread faults again and is served again.  Serving a fault never waits
 * for the VM lock (uffd_fault says why).  The backend is reached only through its ops
 * (protect.h): lift, wake, take_lifted, fault_fd, read_fault.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "core.h"
#include "pageindex.h"
#include "wpt_internal.h"

/* More threads than any VMM runs vCPUs: past it the oldest is dropped. */
#define UFFD_MAX_PENDING 1024
/* Faults one wpt_vm_uffd_service() call reads. */
#define UFFD_SERVICE_BATCH 64

static bool vm_blocks(const struct wpt_vm *vm)
{
	return vm && vm->protect.ops && vm->protect.ops->read_fault;
}

void uffd_blocked_free(struct uffd_blocked *b)
{
	pthread_mutex_destroy(&b->pending_lock);
	free(b->pending);
	memset(b, 0, sizeof(*b));
}

int wpt_vm_uffd_test_hook(struct wpt_vm *vm, void (*fn)(void *opaque),
			  void *opaque)
{
	return vm ? wpt_protect_uffd_test_hook(&vm->protect, fn, opaque)
		  : -EINVAL;
}

int wpt_vm_uffd_sigbus(struct wpt_vm *vm, const void *addr)
{
	uint64_t gpa;

	if (!vm || !protect_lifts(&vm->protect) || vm_blocks(vm))
		return -EINVAL;
	if (!guestmem_gpa_of_hva(&vm->mem, (uintptr_t)addr, &gpa))
		return 0;
	if (vm->protect.ops->lift_was_enough &&
	    vm->protect.ops->lift_was_enough(vm->protect.be, gpa))
		return 0; /* a real SIGBUS: lifting again would loop */
	return vm->protect.ops->lift(vm->protect.be, gpa);
}

/* ------------------------------------------------------ WPT_UFFD_BLOCK */
static struct uffd_pending *pending_find(struct uffd_blocked *b, int tid)
{
	unsigned int i;

	for (i = 0; i < b->nr_pending; i++)
		if (b->pending[i].tid == tid)
			return &b->pending[i];
	return NULL;
}

static void pending_drop(struct uffd_blocked *b, struct uffd_pending *p)
{
	/* Keep the order: the oldest goes first when the list is full. */
	memmove(p, p + 1, (size_t)(b->pending + b->nr_pending - (p + 1)) *
			  sizeof(*p));
	b->nr_pending--;
}

static int pending_set(struct uffd_blocked *b, int tid, uint64_t gpa)
{
	struct uffd_pending *p = pending_find(b, tid);

	if (p) {
		p->gpa = gpa;
		return 0;
	}
	if (b->nr_pending == UFFD_MAX_PENDING)
		pending_drop(b, &b->pending[0]);
	if (b->nr_pending == b->cap_pending) {
		unsigned int cap = b->cap_pending ? 2 * b->cap_pending : 8;
		struct uffd_pending *n = realloc(b->pending, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		b->pending = n;
		b->cap_pending = cap;
	}
	b->pending[b->nr_pending++] = (struct uffd_pending){ tid, gpa };
	return 0;
}

int wpt_vm_uffd_fd(const struct wpt_vm *vm)
{
	if (!vm_blocks(vm))
		return -EINVAL;
	return vm->protect.ops->fault_fd(vm->protect.be);
}

/*
 * One fault read off the fd: thread tid blocks on a store to page.  Never
 * takes the VM lock: the thread blocked may be one holding it (a sink's
 * map under the lock pinning a protected page: iommufd's pin, a VMM's
 * sink that copies), and it waits for this very call to lift the page.
 */
static int uffd_fault(struct wpt_vm *vm, uint64_t page, int tid)
{
	struct uffd_blocked *b = &vm->blocked;
	const struct wpt_protect_backend_ops *ops = vm->protect.ops;
	int ret, kicked = 0, lifted;

	/* Record first, then kick: the vCPU looks for its fault as soon as
	 * its KVM_RUN returns. */
	__atomic_fetch_add(&b->faults, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&b->pending_lock);
	ret = pending_set(b, tid, page);
	pthread_mutex_unlock(&b->pending_lock);
	if (!ret)
		kicked = b->kick(b->kick_opaque, tid);
	if (kicked > 0) {
		__atomic_fetch_add(&b->kicks, 1, __ATOMIC_RELAXED);
		return 0;
	}
	/* Not a vCPU (or no memory to remember it): let its store go on. */
	if (!ret) {
		struct uffd_pending *p;

		pthread_mutex_lock(&b->pending_lock);
		p = pending_find(b, tid);
		if (p && p->gpa == page)
			pending_drop(b, p);
		pthread_mutex_unlock(&b->pending_lock);
	}
	/* A page no table holds (released since its fault: only presence
	 * counts without the lock) only needs its waiter woken; otherwise
	 * it is recorded, and the next close protects it again if a table
	 * still wants that. */
	lifted = pageindex_lookup(vm, page) ? ops->lift(vm->protect.be, page)
					    : ops->wake(vm->protect.be, page);
	return ret ? ret : lifted < 0 ? lifted : 0;
}

int wpt_vm_uffd_service(struct wpt_vm *vm)
{
	int n = 0, ret = 0;

	if (!vm_blocks(vm))
		return -EINVAL;
	/* Pages lifted in an earlier round are protected again (and
	 * diffed) now.  A VMM thread still writing one faults again and is
	 * lifted again; but a vCPU that left KVM_RUN for another reason
	 * between its fault and its kick was lifted for as if it were the
	 * VMM's, and its store is mirrored here, at the latest. */
	if (vm->protect.ops->lifted_in(vm->protect.be, 0, UINT64_MAX) &&
	    !pthread_mutex_trylock(&vm->lock)) {
		/* Only if the lock is free: its holder may be blocked on a
		 * fault this call must serve first (see uffd_fault).  Busy:
		 * the next round closes them. */
		ret = apply_close_lifted(vm, 0, UINT64_MAX);
		pthread_mutex_unlock(&vm->lock);
	}
	while (n < UFFD_SERVICE_BATCH) {
		uint64_t page;
		int tid, r;

		r = vm->protect.ops->read_fault(vm->protect.be, &page, &tid);
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

	if (!vm_blocks(vm) || !st)
		return -EINVAL;
	pthread_mutex_lock(&vm->blocked.pending_lock);
	p = pending_find(&vm->blocked, tid);
	if (!p) {
		pthread_mutex_unlock(&vm->blocked.pending_lock);
		return 0;
	}
	gpa = p->gpa;
	pending_drop(&vm->blocked, p);
	pthread_mutex_unlock(&vm->blocked.pending_lock);
	/* The page may have been released or lifted since: begin looks
	 * afresh (and still returns 1: step the store either way). */
	return wpt_vm_step_begin(vm, gpa, st);
}
