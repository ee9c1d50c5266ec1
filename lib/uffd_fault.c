/* SPDX-License-Identifier: MIT */
/*
 * The trap stage for the userfaultfd backend: a store to a protected page
 * does not exit, it blocks its thread in the kernel and queues a fault on
 * the userfaultfd.  wpt_vm_uffd_service() reads the faults and hands each
 * to the VMM's kick: a vCPU thread is interrupted out of KVM_RUN and finds
 * its fault here (wpt_vm_uffd_step_begin), then single-steps it through the
 * usual step path; a thread that cannot be stepped (the VMM's own) gets the
 * page opened until the VMM reports its write (wpt_vm_host_wrote).
 *
 * Both lists are small and bounded: one pending fault per thread (a later
 * fault of the same thread replaces it), and WPT_UFFD_MAX_OPEN open pages.
 * Dropping an entry is always safe: a thread whose fault was forgotten
 * faults again and is served again.
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

int uffd_state_new(struct wpt_vm *vm, const struct wpt_uffd_cfg *cfg)
{
	struct uffd_state *u;
	void *be;
	int ret;

	if (!cfg->kick)
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	ret = wpt_protect_uffd_new(&vm->mem, &vm->protect, &be);
	if (ret) {
		free(u);
		return ret;
	}
	u->be = be;
	u->cfg = *cfg;
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

/* Close open page i: protect it again and diff it. */
static int open_close(struct wpt_vm *vm, unsigned int i)
{
	struct uffd_state *u = vm->uffd;
	uint64_t page = u->open[i];

	memmove(&u->open[i], &u->open[i + 1],
		(u->nr_open - i - 1) * sizeof(u->open[0]));
	u->nr_open--;
	return vm_step_close_locked(vm, page);
}

/* A thread that cannot be stepped blocks on page: open it (once). */
static int open_page(struct wpt_vm *vm, uint64_t page)
{
	struct uffd_state *u = vm->uffd;
	unsigned int i;
	int r, ret = 0;

	for (i = 0; i < u->nr_open; i++)
		if (u->open[i] == page)
			return 0; /* a stale fault: it is open already */
	if (u->nr_open == WPT_UFFD_MAX_OPEN)
		ret = open_close(vm, 0);
	r = vm_step_open_locked(vm, page);
	if (r == 1) {
		u->open[u->nr_open++] = page;
		vm->st.uffd_host_opens++;
	}
	return r < 0 ? r : ret;
}

int uffd_close_range(struct wpt_vm *vm, uint64_t gpa, uint64_t len)
{
	struct uffd_state *u = vm->uffd;
	unsigned int i = 0;
	int ret = 0;

	if (!u)
		return 0;
	while (i < u->nr_open) {
		uint64_t page = u->open[i];

		if (page + WPT_PAGE_SIZE > gpa && page < gpa + len) {
			int r = open_close(vm, i);

			if (r && !ret)
				ret = r;
		} else {
			i++;
		}
	}
	return ret;
}

int wpt_vm_uffd_fd(const struct wpt_vm *vm)
{
	if (!vm || !vm->uffd)
		return -EINVAL;
	return wpt_protect_uffd_fd(vm->uffd->be);
}

/* One fault read off the fd: tid blocks on a store to page. */
static int uffd_fault(struct wpt_vm *vm, uint64_t page, int tid)
{
	struct uffd_state *u = vm->uffd;
	int ret, kicked;

	/* Record first, then kick: the vCPU looks for its fault as soon as
	 * its KVM_RUN returns. */
	pthread_mutex_lock(&vm->lock);
	vm->st.uffd_faults++;
	ret = pending_set(u, tid, page);
	if (ret) {
		/* The thread must not stay blocked: let its store go on. */
		(void)open_page(vm, page);
		pthread_mutex_unlock(&vm->lock);
		return ret;
	}
	pthread_mutex_unlock(&vm->lock);
	kicked = u->cfg.kick(u->cfg.opaque, tid);
	pthread_mutex_lock(&vm->lock);
	if (kicked > 0) {
		vm->st.uffd_kicks++;
	} else {
		struct uffd_pending *p = pending_find(u, tid);

		if (p && p->gpa == page)
			pending_drop(u, p);
		ret = open_page(vm, page);
	}
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

int wpt_vm_uffd_service(struct wpt_vm *vm)
{
	int n = 0, ret = 0;

	if (!vm || !vm->uffd)
		return -EINVAL;
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

	if (!vm || !st || !vm->uffd)
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
	/* Between here and the step the page may be unprotected or
	 * protected again by another thread: begin looks afresh. */
	return wpt_vm_step_begin(vm, gpa, st);
}
