/* SPDX-License-Identifier: MIT */
/*
 * Relaxed mode's settings and sync points that come from outside
 * (relax.h): wpt_vm_set_relax, the doorbell ranges, the bound checked at
 * each exit, and wpt_vm_sync.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "recut.h"
#include "relax_int.h"

static bool bound_reached(struct wpt_relax *r)
{
	uint64_t max_exits = __atomic_load_n(&r->cfg.max_exits, __ATOMIC_RELAXED);
	uint64_t max_us = __atomic_load_n(&r->cfg.max_us, __ATOMIC_RELAXED);
	uint64_t n = __atomic_add_fetch(&r->exits, 1, __ATOMIC_RELAXED);

	if (max_exits && n >= max_exits)
		return true;
	return max_us && relax_now_ns() -
		__atomic_load_n(&r->since_ns, __ATOMIC_RELAXED) >= max_us * 1000;
}

static bool is_doorbell(const struct wpt_relax *r, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < r->nr_bells; i++)
		if (gpa >= r->bells[i].gpa &&
		    gpa - r->bells[i].gpa < r->bells[i].size)
			return true;
	return false;
}

void relax_exit(struct wpt_vm *vm, uint64_t gpa, bool mmio)
{
	struct wpt_relax *r = vm->relax;
	bool bound = bound_reached(r);

	if (!bound && !mmio)
		return;
	pthread_mutex_lock(&vm->lock);
	/* An error is the sink's: counted there, retried at the next
	 * update; the exit itself goes on as the VMM's. */
	if (bound)
		(void)relax_sync_locked(vm, RELAX_SYNC_BOUND);
	else if (is_doorbell(r, gpa))
		(void)relax_sync_locked(vm, RELAX_SYNC_DOORBELL);
	/* Pages that went quiet are protected again before the exit
	 * returns to the guest. */
	(void)recut_unlock(vm, NULL);
}

/* ------------------------------------------------------------- the API */

int wpt_vm_sync(struct wpt_vm *vm)
{
	int ret, r;

	if (!vm)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	ret = relax_sync_locked(vm, RELAX_SYNC_EXPLICIT);
	r = recut_unlock(vm, NULL);
	return ret ? ret : r;
}

int wpt_vm_set_relax(struct wpt_vm *vm, const struct wpt_relax_cfg *ucfg)
{
	struct wpt_relax_cfg c = { 0 };
	struct wpt_relax *r;
	uint64_t *pages;
	unsigned int cap;

	if (!vm || !ucfg || ucfg->size < offsetof(struct wpt_relax_cfg, max_exits))
		return -EINVAL;
	memcpy(&c, ucfg, ucfg->size < sizeof(c) ? ucfg->size : sizeof(c));
	cfg_fill(&c);
	if (c.max_pages > 1u << 16 || c.max_us > UINT64_MAX / 1000 ||
	    c.quiet_syncs > RELAX_QUIET_MAX)
		return -EINVAL;
	r = vm->relax;
	pthread_mutex_lock(&vm->lock);
	/* A smaller list keeps the pages unsynced now (none is added past
	 * max_pages) until they go quiet. */
	cap = c.max_pages > r->nr ? c.max_pages : r->nr;
	pages = calloc(2 * cap, sizeof(*pages));
	if (!pages) {
		pthread_mutex_unlock(&vm->lock);
		return -ENOMEM;
	}
	memcpy(pages, r->pages, r->nr * sizeof(*pages));
	free(r->pages);
	r->pages = pages;
	r->cap = cap;
	r->cfg.max_pages = c.max_pages;
	r->cfg.burst = c.burst;
	r->cfg.quiet_syncs = c.quiet_syncs;
	__atomic_store_n(&r->cfg.max_exits, c.max_exits, __ATOMIC_RELAXED);
	__atomic_store_n(&r->cfg.max_us, c.max_us, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

int wpt_vm_add_doorbell(struct wpt_vm *vm, uint64_t gpa, uint64_t size)
{
	struct wpt_relax *r;
	unsigned int i;
	int ret = 0;

	if (!vm || !size || gpa + size - 1 < gpa ||
	    guestmem_region(&vm->mem, gpa, 1) ||
	    guestmem_region(&vm->mem, gpa + size - 1, 1))
		return -EINVAL;
	r = vm->relax;
	pthread_mutex_lock(&vm->lock);
	for (i = 0; i < r->nr_bells && !ret; i++)
		if (gpa < r->bells[i].gpa + r->bells[i].size &&
		    r->bells[i].gpa < gpa + size)
			ret = -EINVAL;
	if (!ret && r->nr_bells == RELAX_MAX_BELLS)
		ret = -ENOSPC;
	if (!ret)
		r->bells[r->nr_bells++] = (struct relax_bell){ gpa, size };
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

int wpt_vm_remove_doorbell(struct wpt_vm *vm, uint64_t gpa, uint64_t size)
{
	struct wpt_relax *r;
	unsigned int i;
	int ret = -ENOENT;

	if (!vm)
		return -EINVAL;
	r = vm->relax;
	pthread_mutex_lock(&vm->lock);
	for (i = 0; i < r->nr_bells; i++) {
		if (r->bells[i].gpa == gpa && r->bells[i].size == size) {
			r->bells[i] = r->bells[--r->nr_bells];
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return ret;
}
