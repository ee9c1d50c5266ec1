/* SPDX-License-Identifier: MIT */
/*
 * The microbench's fake guest: sparse RAM and the tables of N mapped 4K
 * pages (layout in mb_guest.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "mb_guest.h"

#define TBL_GPA 0x40000000ull
#define DATA_GPA (1ull << 40)

/* VMSAv8-64 descriptor bits: valid + table/page (0b11) or block (0b01),
 * AF set (a leaf without it would fault: VMSAv8-64 "Access flag fault"
 * without hardware AF management), AP[2] clear: read-write. */
#define DESC_TABLE 0x3ull
#define DESC_PAGE 0x3ull
#define DESC_BLOCK 0x1ull
#define DESC_AF (1ull << 10)

/* Scatters page i over data RAM: odd, so i -> i * M mod N is a
 * permutation for any power of two N, and far from 1, so neighbours never
 * touch. */
#define SCATTER 0x9e3779b1ull

uint64_t mb_desc_table(uint64_t next_gpa)
{
	return next_gpa | DESC_TABLE;
}

uint64_t mb_desc_page(uint64_t out_gpa)
{
	return out_gpa | DESC_AF | DESC_PAGE;
}

uint64_t mb_desc_block(uint64_t out_gpa)
{
	return out_gpa | DESC_AF | DESC_BLOCK;
}

uint64_t mb_leaf_slot(const struct mb_guest *g, uint64_t i)
{
	return g->l3 + 8 * i;
}

uint64_t mb_leaf_desc(const struct mb_guest *g, uint64_t i)
{
	uint64_t page = (i * g->scatter) & (g->pages - 1);

	return mb_desc_page(g->ram[1].gpa + page * MB_PAGE);
}

uint64_t *mb_guest_ptr(const struct mb_guest *g, uint64_t gpa)
{
	const struct wpt_ram_region *r = &g->ram[0];

	return (uint64_t *)((char *)r->hva + (gpa - r->gpa));
}

uint64_t mb_tree_descs(const struct mb_guest *g)
{
	return (2 + g->nr_l2 + g->nr_l3) * MB_DESCS;
}

static void *sparse(uint64_t size, int prot)
{
	void *p = mmap(NULL, size, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Write the tables a driver would have left after mapping every page. */
static void build_tables(struct mb_guest *g)
{
	uint64_t i;

	*mb_guest_ptr(g, g->root) = mb_desc_table(g->l1);
	for (i = 0; i < g->nr_l2; i++)
		mb_guest_ptr(g, g->l1)[i] = mb_desc_table(g->l2 + i * MB_PAGE);
	for (i = 0; i < g->nr_l3; i++)
		mb_guest_ptr(g, g->l2)[i] = mb_desc_table(g->l3 + i * MB_PAGE);
	for (i = 0; i < g->pages; i++)
		*mb_guest_ptr(g, mb_leaf_slot(g, i)) = mb_leaf_desc(g, i);
	for (i = 0; i < MB_NR_BLOCKS; i++)
		mb_guest_ptr(g, g->blk_l2)[i] =
			mb_desc_block(g->blocks_gpa + i * MB_BLOCK);
}

int mb_guest_new(struct mb_guest *g, uint64_t pages, bool contiguous)
{
	uint64_t tables, next;

	if (pages < MB_DESCS || (pages & (pages - 1)))
		return -EINVAL;
	memset(g, 0, sizeof(*g));
	g->pages = pages;
	g->scatter = contiguous ? 1 : SCATTER;
	g->nr_l3 = pages / MB_DESCS;
	g->nr_l2 = (g->nr_l3 + MB_DESCS - 1) / MB_DESCS;
	tables = 2 + g->nr_l2 + g->nr_l3 + 1 + MB_NR_BLOCKS;
	g->ram[0] = (struct wpt_ram_region){ .gpa = TBL_GPA,
					     .size = tables * MB_PAGE };
	g->ram[1] = (struct wpt_ram_region){
		.gpa = DATA_GPA, .size = pages * MB_PAGE + MB_NR_BLOCKS * MB_BLOCK
	};
	g->ram[0].hva = sparse(g->ram[0].size, PROT_READ | PROT_WRITE);
	/* Nothing reads what the leaves map: if the library ever did, the
	 * bench faults loudly instead of growing its RSS quietly. */
	g->ram[1].hva = sparse(g->ram[1].size, PROT_NONE);
	if (!g->ram[0].hva || !g->ram[1].hva) {
		mb_guest_free(g);
		return -ENOMEM;
	}
	next = TBL_GPA;
	g->root = next;
	g->l1 = next += MB_PAGE;
	g->l2 = next += MB_PAGE;
	g->l3 = next += g->nr_l2 * MB_PAGE;
	g->blk_l2 = next += g->nr_l3 * MB_PAGE;
	g->split_l3 = next + MB_PAGE;
	g->blocks_gpa = DATA_GPA + pages * MB_PAGE;
	build_tables(g);
	return 0;
}

void mb_guest_free(struct mb_guest *g)
{
	unsigned int i;

	for (i = 0; i < 2; i++)
		if (g->ram[i].hva)
			munmap(g->ram[i].hva, g->ram[i].size);
	memset(g, 0, sizeof(*g));
}
