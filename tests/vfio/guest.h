/* SPDX-License-Identifier: MIT */
/*
 * The guest this process plays: its RAM is a buffer of this process at a
 * fixed GPA, the engine's wpt_vm covers it with the callback protection
 * backend (a page bitmap here), and a "guest store" to a protected page
 * goes through wpt_vm_handle_mmio() as a store KVM trapped on a read-only
 * slot would; other stores go straight to RAM.
 *
 * On top, a small SMMU-style driver: it lays out Arm VMSAv8-64 stage-1
 * tables (4 KiB granule, 48-bit input, four levels) in guest RAM and keeps
 * a model of the leaves it wrote, which the checks compare with what the
 * shadow holds.
 *
 * RAM layout (offsets from GUEST_RAM_GPA):
 *   0x000000  table pages (256), handed out by guest_table_alloc()
 *   0x200000  data: 4 KiB pages
 *   0x400000  data: 2 MiB blocks, one per 2 MiB, to the end
 */
#ifndef WPT_VFIO_GUEST_H
#define WPT_VFIO_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "wpt.h"

#define GUEST_RAM_GPA    0x40000000ull
#define GUEST_RAM_SIZE   (16ull << 20)
#define GUEST_PAGES      (GUEST_RAM_SIZE >> 12)
#define GUEST_TABLES_GPA GUEST_RAM_GPA
#define GUEST_NR_TABLES  256u
#define GUEST_PAGES_GPA  (GUEST_RAM_GPA + 0x200000)
#define GUEST_BLOCKS_GPA (GUEST_RAM_GPA + 0x400000)

#define SZ_4K 0x1000ull
#define SZ_2M 0x200000ull

/* Stage-1 descriptors (VMSAv8-64): valid bit 0, table/page bit 1, AF bit
 * 10, AP[2] (read-only) bit 7. */
#define S1_VALID  (1ull << 0)
#define S1_TABLE  (3ull)
#define S1_PAGE   (3ull)
#define S1_BLOCK  (1ull)
#define S1_AF     (1ull << 10)
#define S1_AP_RO  (1ull << 7)

struct guest {
	uint8_t *ram;
	uint8_t prot[GUEST_PAGES];       /* 1: protected */
	uint64_t protect_calls, unprotect_calls;
	uint64_t prot_errors;            /* protected twice, unprotected twice */
	uint64_t traps;                  /* stores sent to wpt_vm_handle_mmio */
	struct wpt_vm *vm;
	uint8_t table_used[GUEST_NR_TABLES];
	unsigned int free_stack[GUEST_NR_TABLES]; /* freed tables, reused first */
	unsigned int nr_free;
	unsigned int next_table;
};

int guest_new(struct guest **out);
void guest_free(struct guest *g);

static inline void *guest_hva(struct guest *g, uint64_t gpa)
{
	return g->ram + (gpa - GUEST_RAM_GPA);
}

static inline bool guest_protected(const struct guest *g, uint64_t gpa)
{
	return g->prot[(gpa - GUEST_RAM_GPA) >> 12];
}

/* Store an aligned 64-bit value as the guest: trapped if protected.
 * Returns what wpt_vm_handle_mmio() returned (1, or a negative errno), or
 * 0 for a store straight to RAM. */
int guest_store64(struct guest *g, uint64_t gpa, uint64_t val);
uint64_t guest_load64(struct guest *g, uint64_t gpa);

/* A table page, zeroed by the guest (freed ones are reused first, as a
 * page allocator would); 0 when none is left. */
uint64_t guest_table_alloc(struct guest *g);
void guest_table_free(struct guest *g, uint64_t gpa);
/* Forget every table page (between domains). */
void guest_tables_reset(struct guest *g);

/* The byte pattern data pages hold: a 64-bit word per 8 bytes, from the
 * GPA and a generation, never zero and never the marker byte pattern. */
uint64_t guest_pattern(uint64_t gpa, uint32_t gen);
void guest_fill_data(struct guest *g, uint32_t gen);

/* --------------------------------------------------------- the driver */

#define MODEL_MAX 2048

struct pt {
	struct guest *g;
	uint64_t root;       /* level-0 table */
	int err;             /* first negative store result */
	unsigned int stores, trapped;
	struct wpt_mapping model[MODEL_MAX]; /* leaves written, IOVA order */
	unsigned int nr_model;
	bool model_overflow;
};

/* A new tree with an empty root table. */
int pt_init(struct pt *p, struct guest *g);

/* The table at level (1..3) covering iova, creating the missing ones on
 * the way down as a driver would (zeroed page, then the table descriptor
 * stored into its parent); 0 if out of table pages. */
uint64_t pt_table(struct pt *p, uint64_t iova, int level);
/* The descriptor address for iova at level. */
uint64_t pt_desc_gpa(uint64_t table, uint64_t iova, int level);

/* Map a 4 KiB page (level 3) or a 2 MiB block (level 2). */
int pt_map(struct pt *p, uint64_t iova, uint64_t gpa, uint64_t size,
	   uint32_t perm);
/* Clear the leaf at iova (size as mapped). */
int pt_unmap(struct pt *p, uint64_t iova, uint64_t size);
/* Store a descriptor as the guest (records the first error). */
int pt_store(struct pt *p, uint64_t gpa, uint64_t desc);

uint64_t s1_leaf(uint64_t gpa, uint64_t size, uint32_t perm);

/* The model of leaves. */
int model_add(struct pt *p, uint64_t iova, uint64_t gpa, uint64_t size,
	      uint32_t perm);
int model_remove(struct pt *p, uint64_t iova, uint64_t size);
/* The model leaf holding iova, or NULL. */
const struct wpt_mapping *model_find(const struct pt *p, uint64_t iova);

#endif
