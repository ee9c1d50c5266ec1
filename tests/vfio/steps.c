/* SPDX-License-Identifier: MIT */
/*
 * The guest's sequence, the same in every mode: what an SMMUv3 driver does
 * to its stage-1 tables (map pages and a block, link a table built aside,
 * unmap inside a run, split a block, free a table and reuse its page,
 * switch the context to a new root, disable translation).  Each step does
 * the guest's stores and names the ranges it then invalidates and the IOVAs
 * worth probing; the runner does the rest (steps.h).
 */
#include <errno.h>
#include <string.h>

#include "steps.h"
#include "sink_calls.h"

/* Everything below 16 MiB of IOVA: one level-2 table covers the first 1 GiB. */
#define IOVA_RUN    0x00100000ull /* 16 pages, contiguous GPAs */
#define IOVA_SCAT   0x00180000ull /* 4 pages 12 KiB apart; the last read-only */
#define IOVA_BLOCK  0x00400000ull /* a 2 MiB block, later split */
#define IOVA_TABLE  0x00600000ull /* a table of 32 pages linked in one store */

#define GPA_RUN     (GUEST_PAGES_GPA)
#define GPA_SCAT(k) (GUEST_PAGES_GPA + (0x40 + 5 * (uint64_t)(k)) * SZ_4K)
#define GPA_TABLE   (GUEST_PAGES_GPA + 0x80 * SZ_4K)
#define GPA_REUSE   (GUEST_PAGES_GPA + 0xc0 * SZ_4K)
#define GPA_BLOCK   (GUEST_BLOCKS_GPA)

#define RW (WPT_PERM_READ | WPT_PERM_WRITE)
#define RO (WPT_PERM_READ)

static int map_pages(struct run *u)
{
	unsigned int i;
	int ret = 0;

	for (i = 0; i < 16 && !ret; i++)
		ret = pt_map(&u->pt, IOVA_RUN + i * SZ_4K, GPA_RUN + i * SZ_4K,
			     SZ_4K, RW);
	for (i = 0; i < 4 && !ret; i++)
		ret = pt_map(&u->pt, IOVA_SCAT + i * 0x3000, GPA_SCAT(i), SZ_4K,
			     i == 3 ? RO : RW);
	run_want(u, IOVA_RUN + 0x3000, false, 0);
	run_want(u, IOVA_RUN + 0xf000, true, 0);
	run_want(u, IOVA_SCAT + 0x9000, true, 0);      /* read-only */
	run_want(u, IOVA_SCAT + 0x1000, false, 0);     /* a hole */
	run_want(u, UNMAPPED_IOVA, false, 0);
	run_inval(u, IOVA_RUN, 0x100000);
	return ret;
}

static int map_block(struct run *u)
{
	int ret = pt_map(&u->pt, IOVA_BLOCK, GPA_BLOCK, SZ_2M, RW);

	run_want(u, IOVA_BLOCK + 0x1ff000, false, 0);
	run_want(u, IOVA_BLOCK + 0x80000, true, 0);
	run_inval(u, IOVA_BLOCK, SZ_2M);
	return ret;
}

/* A driver fills a new table before it links it: those stores hit an
 * untracked page and go straight to RAM; the link is one trapped store. */
static int link_table(struct run *u)
{
	uint64_t t = guest_table_alloc(u->r->g), l2;
	unsigned int i;
	int ret;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < 32; i++) {
		ret = model_add(&u->pt, IOVA_TABLE + i * SZ_4K,
				GPA_TABLE + i * SZ_4K, SZ_4K, RW);
		if (ret)
			return ret;
		pt_store(&u->pt, t + i * 8, s1_leaf(GPA_TABLE + i * SZ_4K,
						     SZ_4K, RW));
	}
	l2 = pt_table(&u->pt, IOVA_TABLE, 2);
	if (!l2)
		return -ENOMEM;
	u->t_linked = t;
	ret = pt_store(&u->pt, pt_desc_gpa(l2, IOVA_TABLE, 2), t | S1_TABLE);
	run_want(u, IOVA_TABLE + 0x1f000, false, 0);
	run_want(u, IOVA_TABLE, true, 0);
	run_inval(u, IOVA_TABLE, SZ_2M);
	return ret;
}

static int unmap_in_run(struct run *u)
{
	unsigned int i;
	int ret = 0;

	for (i = 4; i < 8 && !ret; i++)
		ret = pt_unmap(&u->pt, IOVA_RUN + i * SZ_4K, SZ_4K);
	run_want(u, IOVA_RUN + 0x4000, false, GPA_RUN + 0x4000);
	run_want(u, IOVA_RUN + 0x7000, true, GPA_RUN + 0x7000);
	run_want(u, IOVA_RUN + 0x8000, false, 0);
	run_want(u, IOVA_RUN + 0x3000, true, 0);
	run_inval(u, IOVA_RUN + 0x4000, 0x4000);
	return ret;
}

/* Linux before 6.13: build the pages of the block aside, minus the part
 * being unmapped, and swap the table in with one store. */
static int split_block(struct run *u)
{
	uint64_t t = guest_table_alloc(u->r->g), l2;
	unsigned int i;
	int ret;

	if (!t)
		return -ENOMEM;
	ret = model_remove(&u->pt, IOVA_BLOCK, SZ_2M);
	for (i = 0; i < 512 && !ret; i++) {
		if (i >= 0x10 && i < 0x14)
			continue;
		ret = model_add(&u->pt, IOVA_BLOCK + i * SZ_4K,
				GPA_BLOCK + i * SZ_4K, SZ_4K, RW);
		pt_store(&u->pt, t + i * 8, s1_leaf(GPA_BLOCK + i * SZ_4K,
						     SZ_4K, RW));
	}
	if (ret)
		return ret;
	l2 = pt_table(&u->pt, IOVA_BLOCK, 2);
	if (!l2)
		return -ENOMEM;
	ret = pt_store(&u->pt, pt_desc_gpa(l2, IOVA_BLOCK, 2), t | S1_TABLE);
	run_want(u, IOVA_BLOCK + 0x10000, false, GPA_BLOCK + 0x10000);
	run_want(u, IOVA_BLOCK + 0x13000, true, GPA_BLOCK + 0x13000);
	run_want(u, IOVA_BLOCK + 0x14000, false, 0);
	run_want(u, IOVA_BLOCK + 0xf000, true, 0);
	run_inval(u, IOVA_BLOCK, SZ_2M);
	return ret;
}

static int free_table(struct run *u)
{
	uint64_t l2 = pt_table(&u->pt, IOVA_TABLE, 2);
	unsigned int i;
	int ret = 0;

	if (!l2)
		return -ENOMEM;
	for (i = 0; i < 32 && !ret; i++)
		ret = model_remove(&u->pt, IOVA_TABLE + i * SZ_4K, SZ_4K);
	if (!ret)
		ret = pt_store(&u->pt, pt_desc_gpa(l2, IOVA_TABLE, 2), 0);
	run_want(u, IOVA_TABLE, false, GPA_TABLE);
	run_want(u, IOVA_TABLE + 0x1f000, true, GPA_TABLE + 0x1f000);
	run_inval(u, IOVA_TABLE, SZ_2M);
	return ret;
}

/* After the invalidation the guest may give the page to anyone: it must
 * be writable, and what is written there must map nothing. */
static int free_table_after(struct run *u)
{
	uint64_t off;

	if (guest_protected(u->r->g, u->t_linked))
		tap_fail(&u->r->tap, "%s: the freed table page is still "
			 "protected", u->where);
	guest_table_free(u->r->g, u->t_linked);
	for (off = 0; off < SZ_4K; off += 8)
		pt_store(&u->pt, u->t_linked + off,
			 (GPA_TABLE + off * 512) | S1_PAGE | S1_AF);
	return 0;
}

static int reuse_table(struct run *u)
{
	int ret = pt_map(&u->pt, IOVA_TABLE, GPA_REUSE, SZ_4K, RW);

	if (pt_table(&u->pt, IOVA_TABLE, 3) != u->t_linked)
		tap_fail(&u->r->tap, "%s: the allocator did not hand the "
			 "freed table page back", u->where);
	run_want(u, IOVA_TABLE, false, 0);
	run_want(u, IOVA_TABLE + 0x1000, false, GPA_TABLE + 0x1000);
	run_want(u, IOVA_TABLE, true, 0);
	run_inval(u, IOVA_TABLE, SZ_2M);
	return ret;
}

/* A new context: a new level-0 and level-1 table sharing the level-2 table
 * of the old tree.  Nothing the device reaches changes, so the sink must
 * see no call at all. */
static int switch_root(struct run *u)
{
	struct guest *g = u->r->g;
	uint64_t old0 = u->pt.root, old1 = pt_table(&u->pt, 0, 1);
	uint64_t l2 = pt_table(&u->pt, 0, 2);
	uint64_t new0 = guest_table_alloc(g), new1 = guest_table_alloc(g);
	uint64_t maps = sink_calls.maps, unmaps = sink_calls.unmaps;
	int ret;

	if (!new0 || !new1 || !old1 || !l2)
		return -ENOMEM;
	pt_store(&u->pt, pt_desc_gpa(new0, 0, 0), new1 | S1_TABLE);
	pt_store(&u->pt, pt_desc_gpa(new1, 0, 1), l2 | S1_TABLE);
	ret = wpt_domain_set_root(u->d, new0);
	if (ret)
		return ret;
	u->pt.root = new0;
	if (sink_calls.maps != maps || sink_calls.unmaps != unmaps)
		tap_fail(&u->r->tap, "%s: a root switch that changes no "
			 "mapping made %llu maps and %llu unmaps", u->where,
			 (unsigned long long)(sink_calls.maps - maps),
			 (unsigned long long)(sink_calls.unmaps - unmaps));
	if (guest_protected(g, old0) || guest_protected(g, old1))
		tap_fail(&u->r->tap, "%s: the old root's tables are still "
			 "protected", u->where);
	guest_table_free(g, old0);
	guest_table_free(g, old1);
	run_want(u, IOVA_RUN + 0x2000, false, 0);
	return 0;
}

static int clear_root(struct run *u)
{
	int ret = wpt_domain_clear_root(u->d);

	u->pt.nr_model = 0;
	u->detached = true;
	run_want(u, IOVA_RUN, false, GPA_RUN);
	run_want(u, IOVA_BLOCK + 0x14000, false, GPA_BLOCK + 0x14000);
	run_want(u, IOVA_TABLE, true, GPA_REUSE);
	return ret;
}

const struct step steps[] = {
	{ "map 16 + 4 pages, one read-only", map_pages, NULL, false },
	{ "map a 2 MiB block", map_block, NULL, false },
	{ "link a table of 32 pages built aside", link_table, NULL, false },
	{ "unmap 4 pages inside a run", unmap_in_run, NULL, true },
	{ "split the block, 4 pages out", split_block, NULL, true },
	{ "free a table", free_table, free_table_after, true },
	{ "reuse the freed table page", reuse_table, NULL, false },
	{ "switch to a new root sharing the level-2 table", switch_root, NULL,
	  false },
	{ "disable translation (clear the root)", clear_root, NULL, true },
};
const unsigned int nr_steps = sizeof(steps) / sizeof(steps[0]);
