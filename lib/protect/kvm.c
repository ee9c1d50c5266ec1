/* SPDX-License-Identifier: MIT */
/*
 * The KVM memslot protection backend.  It owns the memslots of the VM's RAM
 * regions: each region is cut into chunks of slot_granule bytes, each chunk
 * tiled by pieces, one memslot each, read-write or KVM_MEM_READONLY (a guest
 * store to a read-only slot exits as KVM_EXIT_MMIO with the data; a load is
 * served from RAM).  KVM cannot change a live slot's flags or split it, so
 * protecting a page deletes the piece that holds it and creates the new
 * pieces; the granule bounds how much RAM one re-cut touches.  How the
 * pieces are cut, and how the slot budget is kept, is planned in
 * kvm_plan.c; this file runs the plans.
 *
 * Called only under the VM lock (protect.h); nothing here is thread safe.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include <linux/kvm.h>

#include "kvm_slots.h"
#include "protect.h"

#ifdef __x86_64__
/*
 * Missing from older uapi headers (added in Linux 6.12,
 * arch/x86/include/uapi/asm/kvm.h).  With this quirk on, deleting any
 * memslot zaps the shadow/TDP entries of the whole VM, so every re-cut
 * makes all vCPUs re-fault all of RAM; disabled, KVM zaps only the
 * deleted slot's range.  It is a quirk because zapping only the slot once
 * broke a GPU passthrough setup, so the default stays "all".
 */
#ifndef KVM_X86_QUIRK_SLOT_ZAP_ALL
#define KVM_X86_QUIRK_SLOT_ZAP_ALL (1 << 7)
#endif
#endif

/* KVM_SET_USER_MEMORY_REGION's slot field: address space in bits 16..31. */
#define KVM_SLOT_ID_LIMIT 0x10000u

struct kvm_backend {
	int vm_fd;
	uint32_t as_id;
	const struct wpt_guestmem *gm;
	struct kvm_chunk *chunks;  /* sorted by gpa */
	size_t nr_chunks;
	struct kvm_slot_ids ids;
	uint64_t slot_ops;
	uint64_t slot_ns;          /* time inside the memslot ioctl */
	uint64_t protected_pages;
	uint64_t recuts;           /* chunks re-cut */
	uint64_t fallbacks;        /* re-cuts the budget made merge */
	uint64_t cut_pages;        /* pages whose re-cut cut slots */
	uint64_t cut_ops;          /* the ioctls of those re-cuts */
	uint16_t layout;           /* WPT_KVM_LAYOUT_* */
	int zap_quirk_off;
};

/* Register (or, with delete, remove) one piece as a memslot. */
static int kvm_slot_set(struct kvm_backend *be, const struct kvm_chunk *c,
			const struct kvm_piece *p, int delete)
{
	struct kvm_userspace_memory_region r = {
		.slot = p->slot | be->as_id << 16,
		.flags = p->readonly ? KVM_MEM_READONLY : 0,
		.guest_phys_addr = p->gpa,
		/* memory_size 0 is how KVM deletes a slot. */
		.memory_size = delete ? 0 : p->size,
		.userspace_addr = (uintptr_t)(c->hva + (p->gpa - c->gpa)),
	};

	struct timespec t0, t1;
	int ret;

	be->slot_ops++;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = ioctl(be->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	be->slot_ns += (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull +
		       (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
	return ret;
}

/* Delete the pieces of c that next does not keep.  On failure c still
 * says what KVM holds: the pieces already deleted have no slot. */
static int chunk_delete_stale(struct kvm_backend *be, struct kvm_chunk *c,
			      const struct kvm_piece *next, unsigned int m)
{
	unsigned int i;
	int ret;

	for (i = 0; i < c->nr; i++) {
		struct kvm_piece *p = &c->pieces[i];

		if (p->slot == KVM_SLOT_NONE || kvm_piece_kept(p, next, m))
			continue;
		ret = kvm_slot_set(be, c, p, 1);
		if (ret)
			return ret;
		kvm_slot_id_put(&be->ids, p->slot);
		p->slot = KVM_SLOT_NONE;
	}
	return 0;
}

/* Create every piece of c that has no slot yet. */
static int chunk_create_missing(struct kvm_backend *be, struct kvm_chunk *c)
{
	unsigned int i;
	int ret;

	for (i = 0; i < c->nr; i++) {
		struct kvm_piece *p = &c->pieces[i];

		if (p->slot != KVM_SLOT_NONE)
			continue;
		p->slot = kvm_slot_id_get(&be->ids);
		if (p->slot == KVM_SLOT_NONE)
			return -ENOSPC;
		ret = kvm_slot_set(be, c, p, 0);
		if (ret) {
			kvm_slot_id_put(&be->ids, p->slot);
			p->slot = KVM_SLOT_NONE;
			return ret;
		}
	}
	return 0;
}

/*
 * Take chunk c to the layout target[0..m): delete what goes, then create
 * what comes.  Deleting first is forced (KVM refuses overlapping slots) and
 * keeps the time any RAM has no slot to a few ioctls; a vCPU that touches
 * it meanwhile gets an MMIO exit, which wpt_vm_handle_mmio serves from RAM.
 * Whatever happens, c afterwards describes what KVM holds.
 */
static int chunk_transition(struct kvm_backend *be, struct kvm_chunk *c,
			    const struct kvm_piece *target, unsigned int m)
{
	struct kvm_piece *next = malloc(m * sizeof(*next));
	uint64_t ro_before = kvm_pieces_ro_pages(c->pieces, c->nr);
	int ret;

	if (!next)
		return -ENOMEM;
	memcpy(next, target, m * sizeof(*next));
	kvm_pieces_match(c->pieces, c->nr, next, m);
	ret = chunk_delete_stale(be, c, next, m);
	if (ret) {
		free(next);
		return ret;
	}
	free(c->pieces);
	c->pieces = next;
	c->nr = m;
	be->protected_pages += kvm_pieces_ro_pages(next, m) - ro_before;
	return chunk_create_missing(be, c);
}

static long plan_delta(const struct kvm_recut *plan, size_t n)
{
	long delta = 0;
	size_t i;

	for (i = 0; i < n; i++)
		delta += plan[i].slot_delta;
	return delta;
}

static int recut_cmp(const void *a, const void *b)
{
	const struct kvm_recut *x = a, *y = b;

	return (x->slot_delta > y->slot_delta) - (x->slot_delta < y->slot_delta);
}

/*
 * Run a plan.  Chunks that free slots go first, so the slots in use never
 * pass max(now, after) and one check of the end state covers every step.
 * On a failure the chunks already changed go back to their old layout, in
 * reverse, each step again within the budget.
 */
static int recut_run(struct kvm_backend *be, struct kvm_recut *plan, size_t n)
{
	size_t i;
	int ret = 0;

	if (kvm_slot_ids_in_use(&be->ids) + plan_delta(plan, n) >
	    be->ids.budget)
		return -ENOSPC;
	qsort(plan, n, sizeof(*plan), recut_cmp);
	for (i = 0; i < n && !ret; i++)
		ret = chunk_transition(be, plan[i].chunk, plan[i].next,
				       plan[i].nr_next);
	if (!ret)
		return 0;
	while (i-- > 0)
		chunk_transition(be, plan[i].chunk, plan[i].old, plan[i].nr_old);
	return ret;
}

static int kvm_recut_range(void *opaque, uint64_t gpa, uint64_t size,
			   bool readonly)
{
	struct kvm_backend *be = opaque;
	struct kvm_layout l = {
		.chunks = be->chunks, .nr_chunks = be->nr_chunks,
		.in_use = kvm_slot_ids_in_use(&be->ids),
		.budget = be->ids.budget,
		.per_page = be->layout == WPT_KVM_LAYOUT_PER_PAGE,
	};
	struct kvm_recut *plan;
	uint64_t ops = be->slot_ops;
	bool fell_back, cut;
	size_t n;
	int ret;

	if (!size || (gpa | size) & ~WPT_PAGE_MASK ||
	    !guestmem_region(be->gm, gpa, size))
		return -EINVAL;
	ret = kvm_recut_plan(&l, gpa, size, readonly, &plan, &n, &fell_back);
	if (ret)
		return ret;
	/* Counted apart: the first cut of a range out of a larger slot (KVM
	 * cannot split a slot, so it deletes it and creates every piece
	 * again), and a re-cut the budget made merge. */
	cut = fell_back || !kvm_recut_toggles(plan, n, gpa, size);
	ret = recut_run(be, plan, n);
	if (!ret) {
		be->recuts += n;
		be->fallbacks += fell_back;
		if (cut) {
			be->cut_pages += size >> WPT_PAGE_SHIFT;
			be->cut_ops += be->slot_ops - ops;
		}
	}
	kvm_recut_plan_free(plan, n);
	return ret;
}

static int kvm_protect(void *be, uint64_t gpa, uint64_t size)
{
	return kvm_recut_range(be, gpa, size, true);
}

static int kvm_unprotect(void *be, uint64_t gpa, uint64_t size)
{
	return kvm_recut_range(be, gpa, size, false);
}

static void kvm_stats(void *opaque, struct wpt_protect_stats *st)
{
	const struct kvm_backend *be = opaque;

	st->slot_ops = be->slot_ops;
	st->slot_ns = be->slot_ns;
	st->slots_in_use = kvm_slot_ids_in_use(&be->ids);
	st->protected_pages = be->protected_pages;
	st->zap_quirk_off = be->zap_quirk_off;
	st->slot_recuts = be->recuts;
	st->slot_fallbacks = be->fallbacks;
	st->slot_cut_pages = be->cut_pages;
	st->slot_cut_ops = be->cut_ops;
}

/*
 * Leave all of RAM read-write: the VMM may keep running the guest after the
 * library is gone.  Only the read-only pieces are re-created (no merging),
 * so only the pages that were protected are briefly without a slot: once
 * the library is gone nobody serves an MMIO exit that falls in such a gap.
 */
static void chunk_release(struct kvm_backend *be, struct kvm_chunk *c)
{
	struct kvm_piece *rw = kvm_pieces_dup(c->pieces, c->nr);
	unsigned int i;

	if (rw) {
		for (i = 0; i < c->nr; i++)
			rw[i].readonly = false;
		chunk_transition(be, c, rw, c->nr);
		free(rw);
	}
	free(c->pieces);
}

static void kvm_free(void *opaque)
{
	struct kvm_backend *be = opaque;
	size_t i;

	for (i = 0; i < be->nr_chunks; i++)
		chunk_release(be, &be->chunks[i]);
	free(be->chunks);
	kvm_slot_ids_fini(&be->ids);
	free(be);
}

static const struct wpt_protect_backend_ops kvm_ops = {
	.name = "kvm",
	.protect = kvm_protect,
	.unprotect = kvm_unprotect,
	.stats = kvm_stats,
	.free = kvm_free,
};

/* KVM_CHECK_EXTENSION on the VM fd: the cap's value (0: absent, or KVM
 * does not say), or -errno (not a KVM VM fd). */
static int kvm_cap(int vm_fd, long cap)
{
	int ret = ioctl(vm_fd, KVM_CHECK_EXTENSION, cap);

	return ret < 0 ? -errno : ret;
}

static int kvm_cfg_check(const struct wpt_kvm_cfg *cfg)
{
	uint64_t end = (uint64_t)cfg->slot_base + cfg->slot_budget;
	int nr_slots, nr_as;

	if (cfg->vm_fd < 0 || !cfg->slot_budget || end > KVM_SLOT_ID_LIMIT ||
	    cfg->slot_granule & ~WPT_PAGE_MASK ||
	    cfg->layout > WPT_KVM_LAYOUT_MERGED)
		return -EINVAL;
	nr_slots = kvm_cap(cfg->vm_fd, KVM_CAP_NR_MEMSLOTS);
	if (nr_slots < 0)
		return nr_slots;
	if (nr_slots && end > (uint64_t)nr_slots)
		return -EINVAL;
	/* Without KVM_CAP_MULTI_ADDRESS_SPACE there is one address space. */
	nr_as = kvm_cap(cfg->vm_fd, KVM_CAP_MULTI_ADDRESS_SPACE);
	if (nr_as < 0)
		return nr_as;
	if (cfg->as_id >= (nr_as ? nr_as : 1))
		return -EINVAL;
	return 0;
}

/* Disable KVM_X86_QUIRK_SLOT_ZAP_ALL where the kernel offers it (6.12+):
 * 1 if it is off now.  Failing leaves the kernel's default, which is slow
 * but correct, so it is not an error. */
static int kvm_zap_quirk_disable(int vm_fd)
{
#ifdef __x86_64__
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_DISABLE_QUIRKS2,
		.args[0] = KVM_X86_QUIRK_SLOT_ZAP_ALL,
	};
	int offered = kvm_cap(vm_fd, KVM_CAP_DISABLE_QUIRKS2);

	if (offered <= 0 || !(offered & KVM_X86_QUIRK_SLOT_ZAP_ALL))
		return 0;
	return ioctl(vm_fd, KVM_ENABLE_CAP, &cap) == 0;
#else
	return 0;
#endif
}

/* The backend's chunks, each registered as one read-write slot. */
static int chunks_create(struct kvm_backend *be, uint64_t granule)
{
	size_t i;
	int ret;

	be->chunks = calloc(be->nr_chunks, sizeof(*be->chunks));
	if (!be->chunks)
		return -ENOMEM;
	kvm_chunks_cut(be->gm, granule, be->chunks);
	for (i = 0; i < be->nr_chunks; i++) {
		struct kvm_chunk *c = &be->chunks[i];

		c->pieces = malloc(sizeof(*c->pieces));
		if (!c->pieces)
			return -ENOMEM;
		c->pieces[0] = (struct kvm_piece){ .gpa = c->gpa,
						   .size = c->size,
						   .slot = KVM_SLOT_NONE };
		c->nr = 1;
		ret = chunk_create_missing(be, c);
		if (ret)
			return ret;
	}
	return 0;
}

/* Undo chunks_create: delete the slots it made. */
static void chunks_destroy(struct kvm_backend *be)
{
	size_t i;

	for (i = 0; be->chunks && i < be->nr_chunks; i++) {
		struct kvm_chunk *c = &be->chunks[i];

		if (c->pieces)
			chunk_delete_stale(be, c, NULL, 0);
		free(c->pieces);
	}
	free(be->chunks);
}

int wpt_protect_kvm_new(const struct wpt_kvm_cfg *cfg,
			const struct wpt_guestmem *gm, struct wpt_protect *out)
{
	struct kvm_backend *be;
	int ret;

	if (!cfg || !gm || !gm->nr || !out)
		return -EINVAL;
	ret = kvm_cfg_check(cfg);
	if (ret)
		return ret;
	if (kvm_chunks_count(gm, cfg->slot_granule) > cfg->slot_budget)
		return -ENOSPC;
	be = calloc(1, sizeof(*be));
	if (!be)
		return -ENOMEM;
	be->vm_fd = cfg->vm_fd;
	be->as_id = cfg->as_id;
	be->layout = cfg->layout;
	be->gm = gm;
	be->nr_chunks = kvm_chunks_count(gm, cfg->slot_granule);
	ret = kvm_slot_ids_init(&be->ids, cfg->slot_base, cfg->slot_budget);
	if (ret)
		goto err_free;
	/* Before the first slot: every later delete benefits. */
	be->zap_quirk_off = kvm_zap_quirk_disable(cfg->vm_fd);
	ret = chunks_create(be, cfg->slot_granule);
	if (ret)
		goto err_chunks;
	out->ops = &kvm_ops;
	out->be = be;
	return 0;

err_chunks:
	chunks_destroy(be);
	kvm_slot_ids_fini(&be->ids);
err_free:
	free(be);
	return ret;
}
