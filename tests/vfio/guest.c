/* SPDX-License-Identifier: MIT */
/* The guest: RAM, protection by callback, stores, the table driver. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "guest.h"

/* ------------------------------------------------------------ protection */

static int guest_protect(void *opaque, uint64_t gpa, uint64_t size)
{
	struct guest *g = opaque;
	uint64_t p;

	g->protect_calls++;
	for (p = gpa; p < gpa + size; p += SZ_4K) {
		uint8_t *bit = &g->prot[(p - GUEST_RAM_GPA) >> 12];

		g->prot_errors += *bit;
		*bit = 1;
	}
	return 0;
}

static int guest_unprotect(void *opaque, uint64_t gpa, uint64_t size)
{
	struct guest *g = opaque;
	uint64_t p;

	g->unprotect_calls++;
	for (p = gpa; p < gpa + size; p += SZ_4K) {
		uint8_t *bit = &g->prot[(p - GUEST_RAM_GPA) >> 12];

		g->prot_errors += !*bit;
		*bit = 0;
	}
	return 0;
}

static const struct wpt_protect_ops guest_protect_ops = {
	.protect = guest_protect,
	.unprotect = guest_unprotect,
};

int guest_new(struct guest **out)
{
	struct guest *g = calloc(1, sizeof(*g));
	struct wpt_ram_region r;
	struct wpt_vm_cfg cfg = { .size = sizeof(cfg) };
	int ret;

	if (!g)
		return -ENOMEM;
	/* Shared would do as well; what matters is that VFIO can pin it. */
	g->ram = mmap(NULL, GUEST_RAM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (g->ram == MAP_FAILED) {
		ret = -errno;
		free(g);
		return ret;
	}
	r = (struct wpt_ram_region){ GUEST_RAM_GPA, GUEST_RAM_SIZE, g->ram };
	cfg.regions = &r;
	cfg.nr_regions = 1;
	cfg.protect_ops = &guest_protect_ops;
	cfg.protect_opaque = g;
	ret = wpt_vm_new(&cfg, &g->vm);
	if (ret) {
		munmap(g->ram, GUEST_RAM_SIZE);
		free(g);
		return ret;
	}
	*out = g;
	return 0;
}

void guest_free(struct guest *g)
{
	if (!g)
		return;
	wpt_vm_free(g->vm);
	munmap(g->ram, GUEST_RAM_SIZE);
	free(g);
}

int guest_store64(struct guest *g, uint64_t gpa, uint64_t val)
{
	if (guest_protected(g, gpa)) {
		g->traps++;
		return wpt_vm_handle_mmio(g->vm, gpa, &val, 8, 1);
	}
	__atomic_store_n((uint64_t *)guest_hva(g, gpa), val, __ATOMIC_RELAXED);
	return 0;
}

uint64_t guest_load64(struct guest *g, uint64_t gpa)
{
	return __atomic_load_n((uint64_t *)guest_hva(g, gpa), __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------- table pages */

static uint64_t table_gpa(unsigned int i)
{
	return GUEST_TABLES_GPA + (uint64_t)i * SZ_4K;
}

uint64_t guest_table_alloc(struct guest *g)
{
	unsigned int i;
	uint64_t gpa, off;

	if (g->nr_free)
		i = g->free_stack[--g->nr_free];
	else if (g->next_table < GUEST_NR_TABLES)
		i = g->next_table++;
	else
		return 0;
	g->table_used[i] = 1;
	gpa = table_gpa(i);
	/* The allocator zeroes the page; a page still protected here would
	 * be a table the engine failed to forget: the store says so. */
	for (off = 0; off < SZ_4K; off += 8)
		guest_store64(g, gpa + off, 0);
	return gpa;
}

void guest_table_free(struct guest *g, uint64_t gpa)
{
	unsigned int i = (unsigned int)((gpa - GUEST_TABLES_GPA) >> 12);

	if (i >= GUEST_NR_TABLES || !g->table_used[i])
		return;
	g->table_used[i] = 0;
	g->free_stack[g->nr_free++] = i;
}

void guest_tables_reset(struct guest *g)
{
	memset(g->table_used, 0, sizeof(g->table_used));
	g->nr_free = 0;
	g->next_table = 0;
}

/* ------------------------------------------------------------ data pages */

uint64_t guest_pattern(uint64_t gpa, uint32_t gen)
{
	/* splitmix64 of the GPA: every 8 bytes differ from every other. */
	uint64_t z = gpa * 0x9e3779b97f4a7c15ull + gen + 0x632be59bd9b4e019ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	/* No zero byte: refused reads may read as zeros. */
	return z | 0x0101010101010101ull;
}

void guest_fill_data(struct guest *g, uint32_t gen)
{
	uint64_t gpa;

	for (gpa = GUEST_PAGES_GPA; gpa < GUEST_RAM_GPA + GUEST_RAM_SIZE;
	     gpa += 8)
		*(uint64_t *)guest_hva(g, gpa) = guest_pattern(gpa, gen);
}

/* ------------------------------------------------------------ the driver */

/* 4 KiB granule, 48-bit input: level n resolves bits [47 - 9n : 39 - 9n]. */
static unsigned int level_shift(int level)
{
	return 39 - 9 * (unsigned int)level;
}

uint64_t pt_desc_gpa(uint64_t table, uint64_t iova, int level)
{
	return table + ((iova >> level_shift(level)) & 511) * 8;
}

uint64_t s1_leaf(uint64_t gpa, uint64_t size, uint32_t perm)
{
	uint64_t d = gpa | S1_AF | (size == SZ_4K ? S1_PAGE : S1_BLOCK);

	if (!(perm & WPT_PERM_WRITE))
		d |= S1_AP_RO;
	return d;
}

int pt_store(struct pt *p, uint64_t gpa, uint64_t desc)
{
	int ret = guest_store64(p->g, gpa, desc);

	p->stores++;
	p->trapped += ret != 0;
	if (ret < 0 && !p->err)
		p->err = ret;
	return ret < 0 ? ret : 0;
}

int pt_init(struct pt *p, struct guest *g)
{
	memset(p, 0, sizeof(*p));
	p->g = g;
	p->root = guest_table_alloc(g);
	return p->root ? 0 : -ENOMEM;
}

uint64_t pt_table(struct pt *p, uint64_t iova, int level)
{
	uint64_t table = p->root;
	int l;

	for (l = 0; l < level; l++) {
		uint64_t dgpa = pt_desc_gpa(table, iova, l);
		uint64_t desc = guest_load64(p->g, dgpa);

		if ((desc & 3) != S1_TABLE) {
			uint64_t next;

			if (desc)
				return 0; /* a leaf in the way */
			next = guest_table_alloc(p->g);
			if (!next)
				return 0;
			pt_store(p, dgpa, next | S1_TABLE);
			desc = next | S1_TABLE;
		}
		table = desc & 0x0000fffffffff000ull;
	}
	return table;
}

int pt_map(struct pt *p, uint64_t iova, uint64_t gpa, uint64_t size,
	   uint32_t perm)
{
	int level = size == SZ_2M ? 2 : 3;
	uint64_t table = pt_table(p, iova, level);
	int ret;

	if (!table)
		return -ENOMEM;
	ret = model_add(p, iova, gpa, size, perm);
	if (ret)
		return ret;
	return pt_store(p, pt_desc_gpa(table, iova, level),
			s1_leaf(gpa, size, perm));
}

int pt_unmap(struct pt *p, uint64_t iova, uint64_t size)
{
	int level = size == SZ_2M ? 2 : 3;
	uint64_t table = pt_table(p, iova, level);
	int ret;

	if (!table)
		return -ENOENT;
	ret = model_remove(p, iova, size);
	if (ret)
		return ret;
	return pt_store(p, pt_desc_gpa(table, iova, level), 0);
}

/* -------------------------------------------------------------- the model */

static unsigned int model_pos(const struct pt *p, uint64_t iova)
{
	unsigned int lo = 0, hi = p->nr_model;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;

		if (p->model[mid].iova < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int model_add(struct pt *p, uint64_t iova, uint64_t gpa, uint64_t size,
	      uint32_t perm)
{
	unsigned int i = model_pos(p, iova);

	if (p->nr_model == MODEL_MAX) {
		p->model_overflow = true;
		return -ENOSPC;
	}
	if ((i < p->nr_model && p->model[i].iova < iova + size) ||
	    (i && p->model[i - 1].iova + p->model[i - 1].size > iova))
		return -EEXIST;
	memmove(&p->model[i + 1], &p->model[i],
		(p->nr_model - i) * sizeof(p->model[0]));
	p->model[i] = (struct wpt_mapping){ iova, gpa, size, perm };
	p->nr_model++;
	return 0;
}

int model_remove(struct pt *p, uint64_t iova, uint64_t size)
{
	unsigned int i = model_pos(p, iova);

	if (i == p->nr_model || p->model[i].iova != iova ||
	    p->model[i].size != size)
		return -ENOENT;
	memmove(&p->model[i], &p->model[i + 1],
		(p->nr_model - i - 1) * sizeof(p->model[0]));
	p->nr_model--;
	return 0;
}

const struct wpt_mapping *model_find(const struct pt *p, uint64_t iova)
{
	unsigned int i = model_pos(p, iova + 1);

	if (!i)
		return NULL;
	i--;
	return iova - p->model[i].iova < p->model[i].size ? &p->model[i] : NULL;
}
