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

void apply_ram_store(void *hva, const void *data, uint32_t len)
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

int apply_rescan(struct wpt_vm *vm, uint64_t gpa, uint64_t len)
{
	struct wpt_page *pg;

	op_begin(vm);
	pg = pageindex_lookup(vm, gpa & WPT_PAGE_MASK);
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
					      "table page again after a "
					      "single step");
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
		struct wpt_page *pg = pageindex_lookup(vm, page);
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
