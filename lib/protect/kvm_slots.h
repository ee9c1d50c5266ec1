/* SPDX-License-Identifier: MIT */
/*
 * The KVM backend's slot layout, without the ioctls: a chunk of guest RAM
 * is tiled by pieces, each one memslot, read-write or read-only, and the
 * backend's slot ids come from a fixed range.  Pure data; the caller (kvm.c,
 * under the VM lock) turns a layout change into KVM_SET_USER_MEMORY_REGION
 * calls.
 */
#ifndef WPT_PROTECT_KVM_SLOTS_H
#define WPT_PROTECT_KVM_SLOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../guestmem.h"

/* A piece with no slot: KVM has no memslot there (a creation failed and
 * could not be undone), so the guest's accesses to it exit as MMIO and
 * wpt_vm_handle_mmio serves them from RAM. */
#define KVM_SLOT_NONE UINT32_MAX

struct kvm_piece {
	uint64_t gpa;
	uint64_t size;
	uint32_t slot;  /* slot id (without the address space), or KVM_SLOT_NONE */
	bool readonly;  /* KVM_MEM_READONLY: guest stores exit to the VMM */
};

/* A chunk of guest RAM: slot_granule bytes (at most) that one re-cut
 * touches, tiled by pieces. */
struct kvm_chunk {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
	struct kvm_piece *pieces; /* tile [gpa, gpa + size), sorted */
	unsigned int nr;
};

/* How many chunks gm's regions make at granule (0: one per region),
 * without walking them: a small granule over a large region is many
 * chunks, and the budget is 64 Ki. */
uint64_t kvm_chunks_count(const struct wpt_guestmem *gm, uint64_t granule);
/* Cut gm's regions into chunks[] (room for kvm_chunks_count()): bounds and
 * HVA only, no pieces. */
void kvm_chunks_cut(const struct wpt_guestmem *gm, uint64_t granule,
		    struct kvm_chunk *chunks);

/* kvm_pieces_recut's merge: which neighbours of one kind become one slot. */
#define KVM_MERGE_RO 1u /* read-only pieces protected by different calls */
#define KVM_MERGE_RW 2u /* read-write pieces */

/*
 * The tiling of cur[0..n) after [lo, hi) becomes readonly (or read-write),
 * into out (room for n + 2).  The parts of [lo, hi) become one piece;
 * other adjacent pieces of one kind merge only as merge allows.  Without
 * KVM_MERGE_RO each protected range keeps a read-only slot of its own, so
 * protecting a page next to it, or releasing it, leaves the neighbours'
 * slots alone.  Without KVM_MERGE_RW a released page keeps a read-write
 * slot of its own, so protecting it again (a table page reused, as
 * allocators do) costs one delete and one create instead of a re-cut of
 * its neighbours.  With lo >= hi, it is cur with the merges applied.
 * Pieces of out that equal a registered piece of cur keep its slot; the
 * others get KVM_SLOT_NONE.  Returns how many pieces out holds.
 */
unsigned int kvm_pieces_recut(const struct kvm_piece *cur, unsigned int n,
			      uint64_t lo, uint64_t hi, bool readonly,
			      unsigned int merge, struct kvm_piece *out);

/* The piece of set[0..n) (sorted, non-overlapping) starting at gpa, or
 * NULL. */
const struct kvm_piece *kvm_piece_at(const struct kvm_piece *set,
				     unsigned int n, uint64_t gpa);

/* Whether p is also in set[0..n) with a slot: same gpa, size and kind. */
bool kvm_piece_kept(const struct kvm_piece *p, const struct kvm_piece *set,
		    unsigned int n);

/* Give each piece of next[0..m) that cur[0..n) registered the same way
 * cur's slot id, and KVM_SLOT_NONE to the others. */
void kvm_pieces_match(const struct kvm_piece *cur, unsigned int n,
		      struct kvm_piece *next, unsigned int m);

/* How many slots going from cur to next uses more (negative: frees). */
long kvm_pieces_slot_delta(const struct kvm_piece *cur, unsigned int n,
			   const struct kvm_piece *next, unsigned int m);

/* 4 KiB pages in read-only pieces. */
uint64_t kvm_pieces_ro_pages(const struct kvm_piece *p, unsigned int n);

/* A copy of p[0..n) (malloc'd), or NULL. */
struct kvm_piece *kvm_pieces_dup(const struct kvm_piece *p, unsigned int n);

/* ---- re-cut plans (kvm_plan.c) ---- */

/* One chunk's change within a re-cut: the layout it had and the one it
 * gets. */
struct kvm_recut {
	struct kvm_chunk *chunk;
	struct kvm_piece *old, *next;
	unsigned int nr_old, nr_next;
	long slot_delta;
};

/* What a plan reads of the backend: its chunks (sorted by gpa), its slots
 * and its layout. */
struct kvm_layout {
	struct kvm_chunk *chunks;
	size_t nr_chunks;
	uint32_t in_use;
	uint32_t budget;
	bool per_page;  /* WPT_KVM_LAYOUT_PER_PAGE, else _MERGED */
};

/*
 * Plan making [gpa, gpa + size) (4 KiB aligned, inside guest RAM)
 * read-only or read-write: the new layout of each chunk it touches, in the
 * layout l asks for while the slots last, merging more as they run out,
 * and, when even the chunks touched merged would pass the budget, merging
 * other chunks too.  *fell_back says the budget made it merge.  0, -ENOSPC
 * (the budget cannot hold it however merged), -ENOMEM.  The chunks are
 * not changed: kvm.c runs the plan, then frees it.
 */
int kvm_recut_plan(const struct kvm_layout *l, uint64_t gpa, uint64_t size,
		   bool readonly, struct kvm_recut **plan, size_t *nr,
		   bool *fell_back);
void kvm_recut_plan_free(struct kvm_recut *plan, size_t n);
/* Whether plan[0..n) only changes the kind of slots that hold exactly
 * [gpa, gpa + size): in each chunk the range's part already was one
 * piece with a slot, so each costs one delete and one create. */
bool kvm_recut_toggles(const struct kvm_recut *plan, size_t n, uint64_t gpa,
		       uint64_t size);

/* Slot ids [base, base + budget): a stack of free ids, lowest on top, so a
 * freed id is the next one reused. */
struct kvm_slot_ids {
	uint32_t *free;
	uint32_t nr_free;
	uint32_t budget;
};

int kvm_slot_ids_init(struct kvm_slot_ids *ids, uint32_t base,
		      uint32_t budget);
void kvm_slot_ids_fini(struct kvm_slot_ids *ids);
/* A free id, or KVM_SLOT_NONE when the budget is spent. */
uint32_t kvm_slot_id_get(struct kvm_slot_ids *ids);
void kvm_slot_id_put(struct kvm_slot_ids *ids, uint32_t id);

static inline uint32_t kvm_slot_ids_in_use(const struct kvm_slot_ids *ids)
{
	return ids->budget - ids->nr_free;
}

#endif
