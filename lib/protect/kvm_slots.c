/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "../guestmem.h"
#include "kvm_slots.h"

/* The tiling kvm_pieces_recut builds, and whether its last piece lies in
 * the range being re-cut. */
struct recut_out {
	struct kvm_piece *p;
	unsigned int nr;
	unsigned int merge;
	bool last_in;
};

/*
 * Add [gpa, gpa + size) of one kind after o's pieces, merged into the last
 * one when they touch, are of one kind and may merge: parts of the range
 * being re-cut always do (it changes as one slot), other neighbours only
 * as o->merge allows for their kind.
 */
static void piece_append(struct recut_out *o, uint64_t gpa, uint64_t size,
			 bool readonly, bool in_range)
{
	struct kvm_piece *last = o->nr ? &o->p[o->nr - 1] : NULL;
	bool join = (in_range && o->last_in) ||
		    (o->merge & (readonly ? KVM_MERGE_RO : KVM_MERGE_RW));

	if (!size)
		return;
	o->last_in = in_range;
	if (last && join && last->readonly == readonly &&
	    last->gpa + last->size == gpa) {
		last->size += size;
		return;
	}
	o->p[o->nr++] = (struct kvm_piece){ .gpa = gpa, .size = size,
					    .slot = KVM_SLOT_NONE,
					    .readonly = readonly };
}

unsigned int kvm_pieces_recut(const struct kvm_piece *cur, unsigned int n,
			      uint64_t lo, uint64_t hi, bool readonly,
			      unsigned int merge, struct kvm_piece *out)
{
	struct recut_out o = { .p = out, .merge = merge };
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t start = cur[i].gpa, end = start + cur[i].size;
		uint64_t a = start > lo ? start : lo;
		uint64_t b = end < hi ? end : hi;

		if (a >= b) {
			piece_append(&o, start, end - start, cur[i].readonly,
				     false);
			continue;
		}
		piece_append(&o, start, a - start, cur[i].readonly, false);
		piece_append(&o, a, b - a, readonly, true);
		piece_append(&o, b, end - b, cur[i].readonly, false);
	}
	kvm_pieces_match(cur, n, out, o.nr);
	return o.nr;
}

const struct kvm_piece *kvm_piece_at(const struct kvm_piece *set,
				     unsigned int n, uint64_t gpa)
{
	unsigned int lo = 0, hi = n;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (set[mid].gpa == gpa)
			return &set[mid];
		if (set[mid].gpa < gpa)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool piece_same(const struct kvm_piece *a, const struct kvm_piece *b)
{
	return a && b && a->gpa == b->gpa && a->size == b->size &&
	       a->readonly == b->readonly;
}

bool kvm_piece_kept(const struct kvm_piece *p, const struct kvm_piece *set,
		    unsigned int n)
{
	const struct kvm_piece *q = kvm_piece_at(set, n, p->gpa);

	return p->slot != KVM_SLOT_NONE && piece_same(p, q) &&
	       q->slot == p->slot;
}

void kvm_pieces_match(const struct kvm_piece *cur, unsigned int n,
		      struct kvm_piece *next, unsigned int m)
{
	unsigned int j;

	for (j = 0; j < m; j++) {
		const struct kvm_piece *q = kvm_piece_at(cur, n, next[j].gpa);

		next[j].slot = piece_same(&next[j], q) ? q->slot
						       : KVM_SLOT_NONE;
	}
}

long kvm_pieces_slot_delta(const struct kvm_piece *cur, unsigned int n,
			   const struct kvm_piece *next, unsigned int m)
{
	long delta = 0;
	unsigned int i;

	for (i = 0; i < m; i++)
		delta += next[i].slot == KVM_SLOT_NONE;
	for (i = 0; i < n; i++)
		delta -= cur[i].slot != KVM_SLOT_NONE &&
			 !kvm_piece_kept(&cur[i], next, m);
	return delta;
}

uint64_t kvm_pieces_ro_pages(const struct kvm_piece *p, unsigned int n)
{
	uint64_t pages = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		if (p[i].readonly)
			pages += p[i].size >> WPT_PAGE_SHIFT;
	return pages;
}

int kvm_slot_ids_init(struct kvm_slot_ids *ids, uint32_t base,
		      uint32_t budget)
{
	uint32_t k;

	ids->free = calloc(budget, sizeof(*ids->free));
	if (!ids->free)
		return -ENOMEM;
	for (k = 0; k < budget; k++)
		ids->free[k] = base + budget - 1 - k;
	ids->nr_free = budget;
	ids->budget = budget;
	return 0;
}

void kvm_slot_ids_fini(struct kvm_slot_ids *ids)
{
	free(ids->free);
	ids->free = NULL;
	ids->nr_free = ids->budget = 0;
}

uint32_t kvm_slot_id_get(struct kvm_slot_ids *ids)
{
	return ids->nr_free ? ids->free[--ids->nr_free] : KVM_SLOT_NONE;
}

void kvm_slot_id_put(struct kvm_slot_ids *ids, uint32_t id)
{
	ids->free[ids->nr_free++] = id;
}

/*
 * Chunk boundaries sit at multiples of the granule in GPA, not at offsets
 * from the region start: KVM maps a huge page only where the slot's GPA
 * and HVA agree modulo its size, and a VMM aligns its RAM that way.
 */
static uint64_t chunk_end(uint64_t gpa, uint64_t region_end, uint64_t granule)
{
	uint64_t end;

	if (!granule)
		return region_end;
	end = (gpa / granule + 1) * granule;
	return end < region_end && end > gpa ? end : region_end;
}

/* How many chunks gm's regions make (without walking them: a small
 * granule over a large region is many chunks, and the budget is 64 Ki). */
uint64_t kvm_chunks_count(const struct wpt_guestmem *gm, uint64_t granule)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < gm->nr; i++) {
		const struct wpt_ram_region *r = &gm->regions[i];

		n += granule ? (r->gpa + r->size - 1) / granule -
				       r->gpa / granule + 1
			     : 1;
	}
	return n;
}

/* Cut gm's regions into chunks[] (room for kvm_chunks_count()): bounds and
 * HVA only; chunks_create() gives each its first piece. */
void kvm_chunks_cut(const struct wpt_guestmem *gm, uint64_t granule,
		    struct kvm_chunk *chunks)
{
	size_t n = 0;
	unsigned int i;

	for (i = 0; i < gm->nr; i++) {
		const struct wpt_ram_region *r = &gm->regions[i];
		uint64_t gpa, end, region_end = r->gpa + r->size;

		for (gpa = r->gpa; gpa < region_end; gpa = end, n++) {
			end = chunk_end(gpa, region_end, granule);
			chunks[n] = (struct kvm_chunk){
				.gpa = gpa, .size = end - gpa,
				.hva = (uint8_t *)r->hva + (gpa - r->gpa),
			};
		}
	}
}
