/* SPDX-License-Identifier: MIT */
/*
 * The VM context: guest RAM, the protection backend, the page index and
 * the domains; its statistics; the internal views tests and tools use.
 * The exit path is trap.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "pageindex.h"
#include "recut.h"
#include "relax.h"
#include "shadow.h"
#include "tracker.h"

/* The userfaultfd backend's settings, checked before anything is made. */
static int uffd_cfg_check(const struct wpt_vm_cfg *cfg)
{
	if (cfg->uffd != WPT_UFFD_SIGBUS && cfg->uffd != WPT_UFFD_BLOCK)
		return -EINVAL;
	if (cfg->uffd == WPT_UFFD_BLOCK && !cfg->uffd_kick)
		return -EINVAL;
	return 0;
}

static int vm_protect_new(struct wpt_vm *vm, const struct wpt_vm_cfg *cfg)
{
	int ret = 0;

	if (!!cfg->kvm + !!cfg->protect_ops + !!cfg->uffd > 1)
		return -EINVAL; /* one backend per VM */
	if (cfg->kvm) {
		ret = wpt_protect_kvm_new(cfg->kvm, &vm->mem, &vm->protect);
	} else if (cfg->uffd) {
		ret = uffd_cfg_check(cfg);
		if (!ret)
			ret = wpt_protect_uffd_new(&vm->mem,
						   cfg->uffd == WPT_UFFD_BLOCK,
						   &vm->protect);
		vm->blocked.kick = cfg->uffd_kick;
		vm->blocked.kick_opaque = cfg->uffd_kick_opaque;
	} else if (cfg->protect_ops) {
		ret = wpt_protect_callback_new(cfg->protect_ops,
					       cfg->protect_opaque,
					       &vm->protect);
	}
	if (ret || !vm->protect.ops)
		return ret;
	/* Every backend can take a single step (wpt_vm_step_begin). */
	return protect_init(&vm->protect);
}

int wpt_vm_new(const struct wpt_vm_cfg *ucfg, struct wpt_vm **out)
{
	struct wpt_vm_cfg cfg = { 0 };
	struct wpt_vm *vm;
	int ret;

	if (!ucfg || !out || ucfg->size < offsetof(struct wpt_vm_cfg, limits))
		return -EINVAL;
	/* A newer caller's longer struct: take what we know. */
	memcpy(&cfg, ucfg, ucfg->size < sizeof(cfg) ? ucfg->size : sizeof(cfg));
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	ret = guestmem_init(&vm->mem, cfg.regions, cfg.nr_regions);
	if (ret)
		goto err_free;
	ret = vm_protect_new(vm, &cfg);
	if (ret)
		goto err_mem;
	ret = recut_init(vm, &cfg);
	if (!ret)
		ret = pageindex_init(vm);
	if (ret)
		goto err_protect;
	ret = relax_new(vm);
	if (ret)
		goto err_index;
	pagepool_init(&vm->pool);
	vm->limits = cfg.limits;
	limits_fill(&vm->limits, NULL);
	vm->log = cfg.log;
	vm->log_opaque = cfg.log_opaque;
	LIST_INIT(&vm->domains);
	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->blocked.pending_lock, NULL);
	*out = vm;
	return 0;

err_index:
	pageindex_fini(vm);
err_protect:
	protect_free(&vm->protect);
err_mem:
	guestmem_fini(&vm->mem);
err_free:
	free(vm);
	return ret;
}

void wpt_vm_free(struct wpt_vm *vm)
{
	struct wpt_domain *d;

	if (!vm)
		return;
	while ((d = LIST_FIRST(&vm->domains)))
		wpt_domain_free(d);
	/* Every table went with its last domain, so the index is empty. */
	pageindex_fini(vm);
	pagepool_fini(&vm->pool);
	relax_free(vm);
	recut_protect_free(vm);
	uffd_blocked_free(&vm->blocked);
	guestmem_fini(&vm->mem);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}

static void stats_add_protect(struct wpt_vm *vm, struct wpt_vm_stats *s)
{
	struct wpt_protect_stats ps;

	protect_stats(&vm->protect, &ps);
	s->slot_ops = ps.slot_ops;
	s->slot_ns = ps.slot_ns;
	s->slots_in_use = ps.slots_in_use;
	s->zap_quirk_off = ps.zap_quirk_off;
	s->slot_recuts = ps.slot_recuts;
	s->slot_fallbacks = ps.slot_fallbacks;
	s->slot_cut_pages = ps.slot_cut_pages;
	s->slot_cut_ops = ps.slot_cut_ops;
	s->wp_ops = ps.wp_ops;
	s->wp_ns = ps.wp_ns;
	s->uffd_lifts = ps.lifts;
	s->uffd_faults = __atomic_load_n(&vm->blocked.faults,
					 __ATOMIC_RELAXED);
	s->uffd_kicks = __atomic_load_n(&vm->blocked.kicks, __ATOMIC_RELAXED);
}

int wpt_vm_stats(const struct wpt_vm *cvm, struct wpt_vm_stats *st,
		 size_t size)
{
	struct wpt_vm *vm = (struct wpt_vm *)cvm;
	struct wpt_vm_stats s;
	struct wpt_domain *d;

	if (!vm || !st || !size)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	s = vm->st;
	s.gap_accesses = __atomic_load_n(&vm->gap_accesses, __ATOMIC_RELAXED);
	s.quiesces = __atomic_load_n(&vm->quiesces, __ATOMIC_RELAXED);
	s.sink_calls = 0;
	LIST_FOREACH(d, &vm->domains, link) {
		struct wpt_shadow_stats ss;

		shadow_stats(d->shadow, &ss);
		s.sink_calls += ss.maps + ss.unmaps + ss.errors;
	}
	stats_add_protect(vm, &s);
	s.pool_bytes = vm->pool.bytes;
	s.pool_idle_bytes = vm->pool.empty_bytes;
	pthread_mutex_unlock(&vm->lock);
	memcpy(st, &s, size < sizeof(s) ? size : sizeof(s));
	return 0;
}

int wpt_vm_trim(struct wpt_vm *vm)
{
	if (!vm)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	pagepool_trim(&vm->pool);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

/* ------------------------------------------------ internal: tests, tools */

struct table_visit {
	wpt_table_fn fn;
	void *opaque;
};

static int visit_page_tables(void *opaque, struct wpt_page *pg)
{
	struct table_visit *v = opaque;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < pg->nr_tables && !ret; i++) {
		struct wpt_table *t = pg->tables[i];

		/* Once per table: from the page holding its start. */
		if ((t->gpa & WPT_PAGE_MASK) == pg->gpa)
			ret = v->fn(v->opaque, t->gpa, t->size, t->nr_uses);
	}
	return ret;
}

int wpt_vm_foreach_table(struct wpt_vm *vm, wpt_table_fn fn, void *opaque)
{
	struct table_visit v = { fn, opaque };
	int ret;

	pthread_mutex_lock(&vm->lock);
	ret = pageindex_foreach(vm, visit_page_tables, &v);
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

int wpt_vm_page_protected(struct wpt_vm *vm, uint64_t gpa)
{
	struct wpt_page *pg;
	int ret;

	pthread_mutex_lock(&vm->lock);
	pg = pageindex_find(vm, gpa & WPT_PAGE_MASK);
	ret = pg && pg->nr_protecting > 0;
	pthread_mutex_unlock(&vm->lock);
	return ret;
}
