/* SPDX-License-Identifier: MIT */
/*
 * The trap stage: the exits and steps a VMM hands the library.
 * wpt_vm_handle_mmio() sees every MMIO exit of the VMM, so "not ours"
 * costs one binary search over the RAM regions; a store inside RAM takes
 * the VM lock if it is free, and there one look in the page cache says
 * whether it hit a tracked table (apply -> diff -> walk -> shadow -> sink)
 * or a page no table holds (a vCPU that fell into a memslot being re-cut:
 * served from RAM).  If the lock is busy, the RCU page index answers
 * first, so such a store never waits for it; reads only exit in a gap and
 * never take it.
 */
#include <errno.h>
#include <time.h>

#include "apply.h"
#include "core.h"
#include "hot.h"
#include "pageindex.h"
#include "recut.h"
#include "relax.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * A trapped store is timed one in LIB_NS_SAMPLE, and that time counts
 * LIB_NS_SAMPLE times: two clock reads cost 40-90 ns in a guest (a
 * paravirtual clock), about what the whole store should.  Which ones:
 * lib_ns_sampled (core.h).
 */
#define LIB_NS_SAMPLE (1u << LIB_NS_SAMPLE_BITS)

static bool page_tracked(struct wpt_vm *vm, uint64_t gpa)
{
	return pageindex_lookup(vm, gpa & WPT_PAGE_MASK) != NULL;
}

static int first_error(int a, int b)
{
	return a ? a : b;
}

static void count_gap(struct wpt_vm *vm)
{
	__atomic_fetch_add(&vm->gap_accesses, 1, __ATOMIC_RELAXED);
}

/*
 * A store to a page no table holds, made while another thread held the
 * lock: it fell into a memslot being re-cut, and KVM would have written
 * it to RAM, so do that, without the lock.  If the page became a table
 * meanwhile, its snapshot may predate this store: diff it.
 */
static int store_in_gap(struct wpt_vm *vm, uint64_t gpa, void *hva,
			const void *data, uint32_t len)
{
	int ret;

	apply_ram_store(hva, data, len);
	count_gap(vm);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!page_tracked(vm, gpa))
		return 1;
	pthread_mutex_lock(&vm->lock);
	ret = apply_rescan(vm, gpa, len);
	ret = first_error(ret, recut_unlock(vm, NULL));
	return ret ? ret : 1;
}

/* One store inside one page of RAM: 1 or -errno. */
static int store_piece(struct wpt_vm *vm, uint64_t gpa, void *hva,
		       const void *data, uint32_t len)
{
	struct wpt_page *pg;
	uint64_t t0 = 0;
	bool timed;
	int ret;

	/* Whether a page is protected is stable only under the lock, and
	 * there the page cache makes the lookup of a hot table a compare.
	 * A store to RAM no table uses never waits for the lock (a sink
	 * call may hold it for long): if it is busy, ask the index first. */
	if (pthread_mutex_trylock(&vm->lock)) {
		if (!protect_lifts(&vm->protect) && !page_tracked(vm, gpa))
			return store_in_gap(vm, gpa, hva, data, len);
		pthread_mutex_lock(&vm->lock);
	}
	pg = pageindex_find(vm, gpa & WPT_PAGE_MASK);
	if (!pg) {
		/* No table here: a vCPU that fell into a memslot being
		 * re-cut, or a table released since the store trapped.
		 * KVM would have written RAM: do that. */
		apply_ram_store(hva, data, len);
		count_gap(vm);
		pthread_mutex_unlock(&vm->lock);
		return 1;
	}
	timed = lib_ns_sampled(vm->st.exits_handled);
	if (timed)
		t0 = now_ns();
	relax_before_store(vm, gpa, data, len);
	ret = apply_store_locked(vm, pg, gpa, hva, data, len);
	if (ret) {
		/* What the failed store recorded is still made (or faults
		 * its domains) before the vCPU runs on. */
		(void)recut_unlock(vm, NULL);
		return ret;
	}
	ret = apply_rescan(vm, gpa, len);
	relax_after_trap(vm, gpa & WPT_PAGE_MASK);
	vm->st.exits_handled++;
	if (timed)
		vm->st.lib_ns += (now_ns() - t0) * LIB_NS_SAMPLE;
	/* A table the store linked is protected before the vCPU runs on. */
	ret = first_error(ret, recut_unlock(vm, NULL));
	return ret ? ret : 1;
}

WPT_HOT
int wpt_vm_handle_mmio(struct wpt_vm *vm, uint64_t gpa, void *data,
		       uint32_t len, int is_write)
{
	const struct wpt_ram_region *region;
	uint32_t done = 0;
	int ret = 1;

	/* KVM x86 splits a page-crossing store into fragments and reports
	 * min(8, fragment) bytes: every length up to 8 is real. */
	if (!vm || !data || !len || (len > 8 && len != 16))
		return -EINVAL;
	region = guestmem_region(&vm->mem, gpa, 1);
	/* Relaxed mode: every exit counts against its bound, and a
	 * registered doorbell is a sync point before the device hears. */
	if (relax_pending(vm))
		relax_exit(vm, gpa, !region);
	if (!region)
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
		if (g + n > region->gpa + region->size)
			region = guestmem_region(&vm->mem, g, n);
		if (!region)
			return -EFAULT; /* runs off the end of RAM */
		hva = (char *)region->hva + (g - region->gpa);
		if (!is_write) {
			/* Reads only exit inside a slot gap: serve them. */
			apply_ram_load((char *)data + done, hva, n);
			count_gap(vm);
		} else {
			int r = store_piece(vm, g, hva, (char *)data + done, n);

			if (r < 0 && ret == 1)
				ret = r;
		}
		done += n;
	}
	return ret;
}

/* Whether [gpa, gpa + len) touches a tracked or lifted page; -EINVAL if it
 * leaves RAM. */
static int host_write_matters(struct wpt_vm *vm, uint64_t gpa, uint64_t len)
{
	const struct wpt_protect_backend_ops *ops = vm->protect.ops;
	bool any = false;
	uint64_t g;

	for (g = gpa; g < gpa + len; g = (g & WPT_PAGE_MASK) + WPT_PAGE_SIZE) {
		if (!guestmem_region(&vm->mem, g, 1))
			return -EINVAL;
		any = any || page_tracked(vm, g);
	}
	if (!any && protect_lifts(&vm->protect))
		any = ops->lifted_in(vm->protect.be, gpa, len);
	return any;
}

int wpt_vm_host_wrote(struct wpt_vm *vm, uint64_t gpa, uint64_t len)
{
	uint64_t g;
	int ret;

	if (!vm || !len || gpa + len < gpa)
		return -EINVAL;
	/* Order the caller's stores before the lookups below; the tracker
	 * publishes a page (a full-barrier cmpxchg in cds_lfht_add) before
	 * it snapshots it, so one side always sees the other. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* Nothing tracked (the usual case: the VMM's emulated DMA hits
	 * data): no lock, so vCPUs writing completion and status words do
	 * not serialize on it.  A page tracked after this look is
	 * snapshotted from RAM that already holds the write. */
	ret = host_write_matters(vm, gpa, len);
	if (ret <= 0)
		return ret;
	pthread_mutex_lock(&vm->lock);
	/* Pages lifted for this write (the userfaultfd backend) are
	 * protected again before the diff. */
	ret = apply_close_lifted(vm, gpa, len);
	for (g = gpa; g < gpa + len && g >= gpa;
	     g = (g & WPT_PAGE_MASK) + WPT_PAGE_SIZE) {
		uint64_t end = (g & WPT_PAGE_MASK) + WPT_PAGE_SIZE;
		int r;

		if (end > gpa + len || end < g)
			end = gpa + len;
		if (!page_tracked(vm, g))
			continue;
		r = apply_rescan(vm, g, end - g);
		if (r && !ret)
			ret = r;
	}
	return first_error(ret, recut_unlock(vm, NULL));
}

/* ---------------------------------------------------- single step */

#define STEP_F_BEGUN (1u << 0)

int wpt_vm_step_begin(struct wpt_vm *vm, uint64_t gpa, struct wpt_step *st)
{
	uint64_t t0, page = gpa & WPT_PAGE_MASK;
	int ret = 1, r, backend_err[2];

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
	r = apply_page_open(vm, pageindex_find(vm, page), page);
	if (r < 0) {
		st->flags = 0;
		ret = r;
	} else if (r == 1) {
		st->page_gpa = page;
	}
	st->t0 = t0;
	vm->st.step_ns += now_ns() - t0;
	/* The page must be writable before the step runs. */
	recut_unlock(vm, backend_err);
	if (backend_err[0] && st->page_gpa != WPT_STEP_NO_PAGE) {
		wpt_vm_step_end(vm, st);
		return backend_err[0];
	}
	return ret;
}

int wpt_vm_step_end(struct wpt_vm *vm, struct wpt_step *st)
{
	struct wpt_page *pg;
	uint64_t t0;
	int ret, r, backend_err[2];

	if (!vm || !st || !(st->flags & STEP_F_BEGUN))
		return -EINVAL;
	st->flags = 0;
	if (st->page_gpa == WPT_STEP_NO_PAGE)
		return 0; /* nothing was made writable */
	t0 = now_ns();
	pthread_mutex_lock(&vm->lock);
	pg = pageindex_find(vm, st->page_gpa);
	/* Protect first, then diff: a store by another vCPU is then in RAM
	 * for the diff or traps after it (see wpt.h). */
	ret = apply_page_close(vm, pg, st->page_gpa);
	if (!ret && pg)
		ret = apply_rescan(vm, st->page_gpa, WPT_PAGE_SIZE);
	vm->st.steps++;
	vm->st.step_ns += now_ns() - t0;
	r = recut_unlock(vm, backend_err);
	return first_error(first_error(ret, backend_err[1]), r);
}
