/* SPDX-License-Identifier: MIT */
/*
 * The VM context and the exit path.  wpt_vm_handle_mmio() sees every MMIO
 * exit of the VMM, so "not ours" costs one binary search over the RAM
 * regions; an access inside RAM that is not a tracked table (a vCPU that
 * fell into a memslot being re-cut) is served from RAM without the lock;
 * only a store to a tracked table takes the VM lock and runs the tracker.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

#define DEFAULT_MAX_TABLE_USES 65536ull
#define DEFAULT_MAX_LEAVES (1ull << 20)
#define DEFAULT_MAX_WALK_DESCS (1ull << 22)

void wpt_limits_fill(struct wpt_limits *lim, const struct wpt_limits *dflt)
{
	if (!lim->max_table_uses)
		lim->max_table_uses = dflt ? dflt->max_table_uses
					   : DEFAULT_MAX_TABLE_USES;
	if (!lim->max_leaves)
		lim->max_leaves = dflt ? dflt->max_leaves : DEFAULT_MAX_LEAVES;
	if (!lim->max_walk_descs)
		lim->max_walk_descs = dflt ? dflt->max_walk_descs
					   : DEFAULT_MAX_WALK_DESCS;
}

static int vm_protect_new(struct wpt_vm *vm, const struct wpt_vm_cfg *cfg)
{
	int ret = 0;

	if (!!cfg->kvm + !!cfg->protect_ops + !!cfg->uffd > 1)
		return -EINVAL; /* one backend per VM */
	if (cfg->kvm)
		ret = wpt_protect_kvm_new(cfg->kvm, &vm->mem, &vm->protect);
	else if (cfg->uffd)
		ret = uffd_state_new(vm, cfg);
	else if (cfg->protect_ops)
		ret = wpt_protect_callback_new(cfg->protect_ops,
					       cfg->protect_opaque,
					       &vm->protect);
	if (ret || !vm->protect.ops)
		return ret;
	/* Every backend can take a single step (wpt_vm_step_begin). */
	ret = wpt_protect_step_wrap(&vm->protect);
	if (ret) {
		vm->protect.ops->free(vm->protect.be);
		vm->protect.ops = NULL;
		uffd_state_free(vm);
	}
	return ret;
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
	vm->pages = cds_lfht_new(64, 64, 0,
				 CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
				 NULL);
	if (!vm->pages) {
		ret = -ENOMEM;
		goto err_protect;
	}
	vm->limits = cfg.limits;
	wpt_limits_fill(&vm->limits, NULL);
	vm->log = cfg.log;
	vm->log_opaque = cfg.log_opaque;
	LIST_INIT(&vm->domains);
	pthread_mutex_init(&vm->lock, NULL);
	*out = vm;
	return 0;

err_protect:
	if (vm->protect.ops)
		vm->protect.ops->free(vm->protect.be);
	uffd_state_free(vm);
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
	cds_lfht_destroy(vm->pages, NULL);
	if (vm->protect.ops)
		vm->protect.ops->free(vm->protect.be);
	uffd_state_free(vm);
	/* Page entries are freed by call_rcu: wait for them. */
	rcu_barrier();
	guestmem_fini(&vm->mem);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}

struct wpt_page *vm_page_lookup(struct wpt_vm *vm, uint64_t page_gpa)
{
	struct wpt_page *pg;

	rcu_read_lock();
	pg = tracker_page_lookup(vm, page_gpa);
	rcu_read_unlock();
	return pg;
}

static bool page_tracked(struct wpt_vm *vm, uint64_t gpa)
{
	return vm_page_lookup(vm, gpa & WPT_PAGE_MASK) != NULL;
}

/* Re-read [gpa, gpa + len) (inside one page) under the lock. */
int vm_page_rescan(struct wpt_vm *vm, uint64_t gpa, uint64_t len)
{
	struct wpt_page *pg;
	int ret;

	tracker_op_begin(vm);
	pg = vm_page_lookup(vm, gpa & WPT_PAGE_MASK);
	if (pg)
		tracker_page_changed(vm, pg, gpa, len);
	ret = tracker_op_end(vm);
	return ret;
}

static void ram_store(void *hva, const void *data, uint32_t len)
{
	/* An aligned store stays single-copy atomic for other vCPUs (and
	 * for the library's readers on other threads), as the guest's own
	 * store would have been; only unaligned ones go bytewise. */
	uintptr_t a = (uintptr_t)hva;
	uint64_t v8;
	uint32_t v4;
	uint16_t v2;

	/* data (the exit's buffer) may be unaligned: copy it out first. */
	if (len == 8 && !(a & 7)) {
		memcpy(&v8, data, 8);
		__atomic_store_n((uint64_t *)hva, v8, __ATOMIC_RELAXED);
	} else if (len == 4 && !(a & 3)) {
		memcpy(&v4, data, 4);
		__atomic_store_n((uint32_t *)hva, v4, __ATOMIC_RELAXED);
	} else if (len == 2 && !(a & 1)) {
		memcpy(&v2, data, 2);
		__atomic_store_n((uint16_t *)hva, v2, __ATOMIC_RELAXED);
	} else if (len == 1) {
		__atomic_store_n((uint8_t *)hva, *(const uint8_t *)data,
				 __ATOMIC_RELAXED);
	} else {
		memcpy(hva, data, len);
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- a page made writable while the tracker counts it protected ---- */

/* Make page (pg's, may be NULL) writable if a table there is protected:
 * 1 opened, 0 nothing to open, or the backend's errno.  Under the lock. */
static int step_open_page(struct wpt_vm *vm, struct wpt_page *pg,
			  uint64_t page)
{
	int r;

	if (!pg || pg->nr_protecting == 0 || !vm->protect.ops)
		return 0;
	r = wpt_protect_step_begin(&vm->protect, page);
	if (r) {
		vm->st.errors++;
		return r;
	}
	return 1;
}

/* Protect an opened page again if a table there still wants it.  0, or
 * the backend's errno: then the domains trapping there are faulted. */
static int step_reprotect_page(struct wpt_vm *vm, struct wpt_page *pg,
			       uint64_t page)
{
	int ret = wpt_protect_step_end(&vm->protect, page,
				       pg && pg->nr_protecting > 0);

	if (ret) {
		vm->st.errors++;
		tracker_op_begin(vm);
		vm_fault_page(vm, pg, ret);
		tracker_op_end(vm);
	}
	return ret;
}

/*
 * The userfaultfd backend: pg's page may be write-protected in our own
 * page tables, where our store would raise SIGBUS.  Lift it around the
 * store, as a step does.  Under the lock.  0 or -errno (nothing stored).
 */
static int uffd_ram_store(struct wpt_vm *vm, struct wpt_page *pg,
			  uint64_t gpa, void *hva, const void *data,
			  uint32_t len)
{
	uint64_t page = gpa & WPT_PAGE_MASK;
	int r = step_open_page(vm, pg, page);

	if (r < 0)
		return r;
	ram_store(hva, data, len);
	return r ? step_reprotect_page(vm, pg, page) : 0;
}

/* One store inside one page of RAM. */
static int store_piece(struct wpt_vm *vm, uint64_t gpa, void *hva,
		       const void *data, uint32_t len)
{
	uint64_t t0;
	int ret;

	/* With memslots, a store to a page no table holds fell into a slot
	 * being re-cut; with userfaultfd, whether a page is protected is only
	 * stable under the lock, so those take the lock below. */
	if (!vm->uffd && !page_tracked(vm, gpa)) {
		/* KVM would have written it to RAM, so do that.  If the page
		 * became a table meanwhile, its snapshot may predate this
		 * store: diff it. */
		ram_store(hva, data, len);
		__atomic_fetch_add(&vm->gap_accesses, 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!page_tracked(vm, gpa))
			return 1;
		pthread_mutex_lock(&vm->lock);
		ret = vm_page_rescan(vm, gpa, len);
		pthread_mutex_unlock(&vm->lock);
		return ret ? ret : 1;
	}
	pthread_mutex_lock(&vm->lock);
	t0 = now_ns();
	if (vm->uffd) {
		/* Under the lock one lookup settles it: no table here any
		 * more (released since it trapped) is a plain store. */
		struct wpt_page *pg = vm_page_lookup(vm, gpa & WPT_PAGE_MASK);

		ret = pg ? uffd_ram_store(vm, pg, gpa, hva, data, len) : 0;
		if (!pg) {
			ram_store(hva, data, len);
			__atomic_fetch_add(&vm->gap_accesses, 1,
					   __ATOMIC_RELAXED);
		}
		if (ret || !pg) {
			pthread_mutex_unlock(&vm->lock);
			return ret ? ret : 1;
		}
	} else {
		ram_store(hva, data, len);
	}
	ret = vm_page_rescan(vm, gpa, len);
	vm->st.exits_handled++;
	vm->st.lib_ns += now_ns() - t0;
	pthread_mutex_unlock(&vm->lock);
	return ret ? ret : 1;
}

int wpt_vm_handle_mmio(struct wpt_vm *vm, uint64_t gpa, void *data,
		       uint32_t len, int is_write)
{
	const struct wpt_ram_region *r;
	uint32_t done = 0;
	int ret = 1;

	if (!vm || !data || (len != 1 && len != 2 && len != 4 && len != 8 &&
			     len != 16))
		return -EINVAL;
	r = guestmem_region(&vm->mem, gpa, 1);
	if (!r)
		return 0; /* device MMIO: the VMM's */
	while (done < len) {
		uint64_t g = gpa + done;
		uint32_t n = len - done;
		void *hva;

		/* A store crossing a page boundary is two stores. */
		if ((g & ~WPT_PAGE_MASK) + n > WPT_PAGE_SIZE)
			n = WPT_PAGE_SIZE - (g & ~WPT_PAGE_MASK);
		/* The region found above serves every piece inside it: one
		 * search per exit, not one more per piece. */
		if (g + n > r->gpa + r->size)
			r = guestmem_region(&vm->mem, g, n);
		if (!r)
			return -EFAULT; /* runs off the end of RAM */
		hva = (char *)r->hva + (g - r->gpa);
		if (!is_write) {
			/* Reads only exit inside a slot gap: serve them. */
			memcpy((char *)data + done, hva, n);
			__atomic_fetch_add(&vm->gap_accesses, 1,
					   __ATOMIC_RELAXED);
		} else {
			int r = store_piece(vm, g, hva, (char *)data + done, n);

			if (r < 0 && ret == 1)
				ret = r;
		}
		done += n;
	}
	return ret;
}

int wpt_vm_host_wrote(struct wpt_vm *vm, uint64_t gpa, uint64_t len)
{
	uint64_t g;
	int ret = 0;

	if (!vm || !len || gpa + len < gpa)
		return -EINVAL;
	bool any = false;

	/* Order the caller's stores before the lookups below; the tracker
	 * publishes a page (a full-barrier cmpxchg in cds_lfht_add) before
	 * it snapshots it, so one side always sees the other. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (g = gpa; g < gpa + len; g = (g & WPT_PAGE_MASK) + WPT_PAGE_SIZE) {
		if (!guestmem_region(&vm->mem, g, 1))
			return -EINVAL;
		any = any || page_tracked(vm, g);
	}
	/* Nothing tracked (the usual case: the VMM's emulated DMA hits
	 * data): no lock, so vCPUs writing completion and status words do
	 * not serialize on it.  A page tracked after this look is
	 * snapshotted from RAM that already holds the write. */
	if (!any && !uffd_lifted_in(vm, gpa, len))
		return 0;
	pthread_mutex_lock(&vm->lock);
	/* Pages a SIGBUS lifted for this write (the userfaultfd backend)
	 * are protected again before the diff. */
	ret = uffd_close_range(vm, gpa, len);
	for (g = gpa; g < gpa + len && g >= gpa;
	     g = (g & WPT_PAGE_MASK) + WPT_PAGE_SIZE) {
		uint64_t end = (g & WPT_PAGE_MASK) + WPT_PAGE_SIZE;
		int r;

		if (end > gpa + len || end < g)
			end = gpa + len;
		if (!page_tracked(vm, g))
			continue;
		r = vm_page_rescan(vm, g, end - g);
		if (r && !ret)
			ret = r;
	}
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

/* ---------------------------------------------------- single step */

#define STEP_F_BEGUN (1u << 0)

/* 1 opened (end it with vm_step_close_locked), 0 nothing to open, or the
 * backend's errno.  Under vm->lock. */
int vm_step_open_locked(struct wpt_vm *vm, uint64_t page)
{
	return step_open_page(vm, vm_page_lookup(vm, page), page);
}

int wpt_vm_step_begin(struct wpt_vm *vm, uint64_t gpa, struct wpt_step *st)
{
	uint64_t t0, page = gpa & WPT_PAGE_MASK;
	int ret = 1, r;

	if (!vm || !st)
		return -EINVAL;
	if (!guestmem_region(&vm->mem, gpa, 1))
		return 0; /* device MMIO: the VMM's */
	t0 = now_ns();
	/* The lock also waits out a memslot re-cut in progress: a vCPU that
	 * fell into its gap finds RAM in place when it steps. */
	pthread_mutex_lock(&vm->lock);
	st->gpa = gpa;
	st->page_gpa = WPT_STEP_NO_PAGE;
	st->flags = STEP_F_BEGUN;
	r = vm_step_open_locked(vm, page);
	if (r < 0) {
		st->flags = 0;
		ret = r;
	} else if (r == 1) {
		st->page_gpa = page;
	}
	st->t0 = t0;
	vm->st.step_ns += now_ns() - t0;
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

/* Re-protecting a stepped page failed: fault every domain that counts on
 * its stores trapping, so nothing relies on a writable page. */
void vm_fault_page(struct wpt_vm *vm, struct wpt_page *pg, int err)
{
	unsigned int i;

	for (i = 0; pg && i < pg->nr_tables; i++) {
		struct wpt_table_use *u;

		RB_FOREACH(u, wpt_use_tree, &pg->tables[i]->uses)
			if (u->d->mode != WPT_MODE_INVAL)
				tracker_fault(u->d, err, "cannot protect a "
					      "table page again after a "
					      "single step");
	}
}

/* The step of page (opened by vm_step_open_locked) is over: protect it
 * again if a table there still wants it, then diff it.  Under vm->lock. */
int vm_step_close_locked(struct wpt_vm *vm, uint64_t page)
{
	struct wpt_page *pg = vm_page_lookup(vm, page);
	/* Protect first, then diff: a store by another vCPU is then in RAM
	 * for the diff or traps after it (see wpt.h). */
	int ret = step_reprotect_page(vm, pg, page);

	if (!ret && pg)
		ret = vm_page_rescan(vm, page, WPT_PAGE_SIZE);
	return ret;
}

int wpt_vm_step_end(struct wpt_vm *vm, struct wpt_step *st)
{
	uint64_t t0;
	int ret;

	if (!vm || !st || !(st->flags & STEP_F_BEGUN))
		return -EINVAL;
	st->flags = 0;
	if (st->page_gpa == WPT_STEP_NO_PAGE)
		return 0; /* nothing was made writable */
	t0 = now_ns();
	pthread_mutex_lock(&vm->lock);
	ret = vm_step_close_locked(vm, st->page_gpa);
	vm->st.steps++;
	vm->st.step_ns += now_ns() - t0;
	pthread_mutex_unlock(&vm->lock);
	return ret;
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
	s.sink_calls = 0;
	LIST_FOREACH(d, &vm->domains, link) {
		struct wpt_shadow_stats ss;

		shadow_stats(d->shadow, &ss);
		s.sink_calls += ss.maps + ss.unmaps + ss.errors;
	}
	if (vm->protect.ops && vm->protect.ops->stats) {
		struct wpt_protect_stats ps = { 0 };

		vm->protect.ops->stats(vm->protect.be, &ps);
		s.slot_ops = ps.slot_ops;
		s.slot_ns = ps.slot_ns;
		s.slots_in_use = ps.slots_in_use;
		s.zap_quirk_off = ps.zap_quirk_off;
		s.wp_ops = ps.wp_ops;
		s.wp_ns = ps.wp_ns;
	}
	if (vm->uffd) {
		s.uffd_lifts = __atomic_load_n(&vm->uffd->lifts,
					       __ATOMIC_RELAXED);
		s.uffd_faults = vm->uffd->faults;
		s.uffd_kicks = vm->uffd->kicks;
	}
	pthread_mutex_unlock(&vm->lock);
	memcpy(st, &s, size < sizeof(s) ? size : sizeof(s));
	return 0;
}

/* ------------------------------------------------ internal: tests, tools */

int wpt_vm_foreach_table(struct wpt_vm *vm, wpt_table_fn fn, void *opaque)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;
	int ret = 0;

	pthread_mutex_lock(&vm->lock);
	rcu_read_lock();
	/* Not cds_lfht_for_each_entry: it computes container_of(NULL) when
	 * the walk ends, undefined behaviour UBSan reports. */
	cds_lfht_first(vm->pages, &it);
	for (; (n = cds_lfht_iter_get_node(&it)); cds_lfht_next(vm->pages, &it)) {
		struct wpt_page *pg = caa_container_of(n, struct wpt_page, node);
		unsigned int i;

		for (i = 0; i < pg->nr_tables && !ret; i++) {
			struct wpt_table *t = pg->tables[i];

			/* Once per table: from the page holding its start. */
			if ((t->gpa & WPT_PAGE_MASK) == pg->gpa)
				ret = fn(opaque, t->gpa, t->size, t->nr_uses);
		}
		if (ret)
			break;
	}
	rcu_read_unlock();
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

int wpt_vm_page_protected(struct wpt_vm *vm, uint64_t gpa)
{
	struct wpt_page *pg;
	int ret;

	pthread_mutex_lock(&vm->lock);
	rcu_read_lock();
	pg = tracker_page_lookup(vm, gpa & WPT_PAGE_MASK);
	ret = pg && pg->nr_protecting > 0;
	rcu_read_unlock();
	pthread_mutex_unlock(&vm->lock);
	return ret;
}
