/* SPDX-License-Identifier: MIT */
/*
 * Applying a write (apply.h).
 */
#include <string.h>

#include "apply.h"
#include "diff.h"
#include "op.h"
#include "pageindex.h"
#include "tracker.h"

/*
 * The largest naturally aligned access at a that fits in len bytes.  An
 * access made of these writes (or reads) each byte exactly once, and is
 * single-copy atomic wherever the guest's own access would have been.
 */
static uint32_t ram_chunk(uintptr_t a, uint32_t len)
{
	uint32_t n = 8;

	while (n > len || (a & (n - 1)))
		n >>= 1;
	return n;
}

/* One aligned access of n bytes (ram_chunk's) between RAM and a buffer
 * (the exit's: it may be unaligned, so it goes through memcpy). */
static void ram_put(uint8_t *ram, const uint8_t *buf, uint32_t n)
{
	uint64_t v8;
	uint32_t v4;
	uint16_t v2;

	switch (n) {
	case 8:
		memcpy(&v8, buf, 8);
		__atomic_store_n((uint64_t *)ram, v8, __ATOMIC_RELAXED);
		break;
	case 4:
		memcpy(&v4, buf, 4);
		__atomic_store_n((uint32_t *)ram, v4, __ATOMIC_RELAXED);
		break;
	case 2:
		memcpy(&v2, buf, 2);
		__atomic_store_n((uint16_t *)ram, v2, __ATOMIC_RELAXED);
		break;
	default:
		__atomic_store_n(ram, *buf, __ATOMIC_RELAXED);
	}
}

static void ram_get(uint8_t *buf, const uint8_t *ram, uint32_t n)
{
	uint64_t v8;
	uint32_t v4;
	uint16_t v2;

	switch (n) {
	case 8:
		v8 = __atomic_load_n((const uint64_t *)ram, __ATOMIC_RELAXED);
		memcpy(buf, &v8, 8);
		break;
	case 4:
		v4 = __atomic_load_n((const uint32_t *)ram, __ATOMIC_RELAXED);
		memcpy(buf, &v4, 4);
		break;
	case 2:
		v2 = __atomic_load_n((const uint16_t *)ram, __ATOMIC_RELAXED);
		memcpy(buf, &v2, 2);
		break;
	default:
		*buf = __atomic_load_n(ram, __ATOMIC_RELAXED);
	}
}

/*
 * Copy an access between RAM (hva) and the exit's buffer.  Never memcpy
 * on RAM: it may write a byte twice (small copies use overlapping moves),
 * losing a byte another vCPU stored in between; each aligned piece stays
 * single-copy atomic for other vCPUs and the library's readers, as the
 * guest's own access was.  KVM x86 hands a page-crossing access over in
 * fragments of any length up to 8.
 */
static void ram_access(void *hva, void *data, uint32_t len, bool store)
{
	uint8_t *ram = hva, *buf = data;

	while (len) {
		uint32_t n = ram_chunk((uintptr_t)ram, len);

		if (store)
			ram_put(ram, buf, n);
		else
			ram_get(buf, ram, n);
		ram += n;
		buf += n;
		len -= n;
	}
}

void apply_ram_store(void *hva, const void *data, uint32_t len)
{
	ram_access(hva, (void *)data, len, true);
}

void apply_ram_load(void *data, const void *hva, uint32_t len)
{
	ram_access((void *)hva, data, len, false);
}

int apply_rescan(struct wpt_vm *vm, uint64_t gpa, uint64_t len)
{
	struct wpt_page *pg;

	op_begin(vm);
	pg = pageindex_find(vm, gpa & WPT_PAGE_MASK);
	if (pg)
		diff_page(vm, pg, gpa, len);
	return op_end(vm);
}

/*
 * Protecting a table page again failed (after a step, a store around a
 * lift, or a lift by the VMM): fault every domain that counts on its
 * stores trapping, so nothing relies on a writable page.
 */
static void reprotect_failed(struct wpt_vm *vm, struct wpt_page *pg, int err)
{
	unsigned int i;

	vm->st.errors++;
	op_begin(vm);
	for (i = 0; pg && i < pg->nr_tables; i++) {
		struct wpt_table_use *u;

		RB_FOREACH(u, wpt_use_tree, &pg->tables[i]->uses)
			if (domain_protects(u->d))
				tracker_fault(u->d, err, "cannot protect a "
					      "table page (again)");
	}
	op_end(vm);
}

int apply_page_open(struct wpt_vm *vm, struct wpt_page *pg, uint64_t page)
{
	int r;

	if (!pg || pg->nr_protecting == 0 || !vm->protect.ops)
		return 0;
	r = protect_step_begin(&vm->protect, page);
	if (r) {
		vm->st.errors++;
		return r;
	}
	return 1;
}

int apply_page_close(struct wpt_vm *vm, struct wpt_page *pg, uint64_t page)
{
	int ret = protect_step_end(&vm->protect, page,
				   pg && pg->nr_protecting > 0);

	if (ret)
		reprotect_failed(vm, pg, ret);
	return ret;
}

int apply_store_locked(struct wpt_vm *vm, struct wpt_page *pg, uint64_t gpa,
		       void *hva, const void *data, uint32_t len)
{
	uint64_t page = gpa & WPT_PAGE_MASK;
	int r = 0;

	/* Our own store would raise SIGBUS on a page protected in our page
	 * tables: lift it around the store, as a step does. */
	if (protect_lifts(&vm->protect))
		r = apply_page_open(vm, pg, page);
	if (r < 0)
		return r;
	apply_ram_store(hva, data, len);
	return r ? apply_page_close(vm, pg, page) : 0;
}

int apply_close_lifted(struct wpt_vm *vm, uint64_t gpa, uint64_t len)
{
	uint64_t page;
	int ret = 0;

	if (!protect_lifts(&vm->protect))
		return 0;
	while (vm->protect.ops->take_lifted(vm->protect.be, gpa, len, &page)) {
		struct wpt_page *pg = pageindex_find(vm, page);
		int r;

		/* A page no table wants protected any more stays open. */
		if (!pg || pg->nr_protecting == 0)
			continue;
		r = protect_reassert(&vm->protect, page);
		if (r)
			reprotect_failed(vm, pg, r);
		else
			/* Protected first, then diffed: nothing stored
			 * while it was lifted is lost. */
			r = apply_rescan(vm, page, WPT_PAGE_SIZE);
		if (r && !ret)
			ret = r;
	}
	return ret;
}

/* ------------------------------------------------ held-back re-cuts */

/* Rounds of one flush: a rescan that finds a new table protects it in
 * the next; with the vCPUs held, the second finds nothing new unless the
 * VMM's own threads write tables meanwhile.  What is left waits for the
 * next call's flush. */
#define FLUSH_ROUNDS 8

struct flush_ctx {
	struct wpt_vm *vm;
	int err;            /* the first sink error of the rescans */
	int backend_err[2]; /* the first failed unprotect's, protect's */
};

static void flushed(void *opaque, uint64_t gpa, uint64_t size, bool on,
		    int err)
{
	struct flush_ctx *f = opaque;
	uint64_t g;

	if (err && !on)
		f->vm->st.errors++; /* stays protected: costs exits only */
	if (!f->backend_err[on])
		f->backend_err[on] = err;
	for (g = gpa; on && g < gpa + size; g += WPT_PAGE_SIZE) {
		struct wpt_page *pg = pageindex_find(f->vm, g);
		int r = 0;

		if (pg && err)
			reprotect_failed(f->vm, pg, err);
		else if (pg)
			/* Protected now: a store between the table's
			 * snapshot and this re-cut is in RAM, find it. */
			r = apply_rescan(f->vm, g, WPT_PAGE_SIZE);
		f->err = f->err ? f->err : r;
	}
}

int apply_protect_flush(struct wpt_vm *vm, int backend_err[2])
{
	struct flush_ctx f = { .vm = vm };
	int round;

	for (round = 0; round < FLUSH_ROUNDS && protect_pending(&vm->protect);
	     round++)
		protect_flush(&vm->protect, flushed, &f);
	if (backend_err) {
		backend_err[0] = f.backend_err[0];
		backend_err[1] = f.backend_err[1];
	}
	return f.err;
}
