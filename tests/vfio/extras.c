/* SPDX-License-Identifier: MIT */
/*
 * Beyond the step sequence: coalescing counted in the sink's calls, the
 * IOVA ranges the kernel reported, type1's entry limit, and what the
 * watched ioctl saw in all.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "extras.h"
#include "run.h"
#include "sink_calls.h"

#define RW (WPT_PERM_READ | WPT_PERM_WRITE)

struct counts {
	uint64_t maps, unmaps, errors;
};

static struct counts counts_now(void)
{
	return (struct counts){ sink_calls.maps, sink_calls.unmaps,
				sink_calls.map_errors + sink_calls.unmap_errors };
}

static bool counts_are(struct rig *r, const char *what, struct counts c0,
		       uint64_t maps, uint64_t unmaps)
{
	struct counts c = counts_now();

	tap_diag("%s: %llu maps, %llu unmaps", what,
		 (unsigned long long)(c.maps - c0.maps),
		 (unsigned long long)(c.unmaps - c0.unmaps));
	if (c.maps - c0.maps == maps && c.unmaps - c0.unmaps == unmaps &&
	    c.errors == c0.errors)
		return true;
	tap_fail(&r->tap, "%s: %llu maps, %llu unmaps, %llu errors; want %llu "
		 "maps, %llu unmaps", what,
		 (unsigned long long)(c.maps - c0.maps),
		 (unsigned long long)(c.unmaps - c0.unmaps),
		 (unsigned long long)(c.errors - c0.errors),
		 (unsigned long long)maps, (unsigned long long)unmaps);
	return false;
}

/* A table built aside with n leaves, linked at iova (2 MiB aligned) by one
 * store; leaf i maps iova + i * stride to gpa + i * 4 KiB. */
static int link_leaves(struct run *u, uint64_t iova, uint64_t gpa,
		       unsigned int n, unsigned int stride_pages, int *link_ret)
{
	uint64_t t = guest_table_alloc(u->r->g), l2;
	unsigned int i;
	int ret;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		uint64_t io = iova + (uint64_t)i * stride_pages * SZ_4K;

		ret = model_add(&u->pt, io, gpa + i * SZ_4K, SZ_4K, RW);
		if (ret)
			return ret;
		pt_store(&u->pt, pt_desc_gpa(t, io, 3),
			 s1_leaf(gpa + i * SZ_4K, SZ_4K, RW));
	}
	l2 = pt_table(&u->pt, iova, 2);
	if (!l2)
		return -ENOMEM;
	*link_ret = guest_store64(u->r->g, pt_desc_gpa(l2, iova, 2),
				  t | S1_TABLE);
	return 0;
}

/*
 * INVAL: a 2 MiB block and 64 pages after it, contiguous in IOVA and GPA,
 * invalidated at once: one map.  Unmapping a page in the middle: one unmap
 * of the whole mapping and two maps of what stays (type1 cannot bisect).
 * TRAP: a table of 64 contiguous pages linked by one store: one map.
 */
void extra_coalesce(struct rig *r)
{
	const struct backend *b = r->backend;
	const uint64_t iova = 0x00800000, gpa = GUEST_BLOCKS_GPA + SZ_2M;
	struct counts c0;
	struct run u;
	unsigned int i;
	int ret = 0, link = 0;

	if (!run_open(&u, r, WPT_MODE_INVAL)) {
		snprintf(u.where, sizeof(u.where), "inval/coalesce");
		c0 = counts_now();
		ret = pt_map(&u.pt, iova, gpa, SZ_2M, RW);
		for (i = 0; i < 64 && !ret; i++)
			ret = pt_map(&u.pt, iova + SZ_2M + i * SZ_4K,
				     gpa + SZ_2M + i * SZ_4K, SZ_4K, RW);
		if (ret || u.pt.err)
			tap_fail(&r->tap, "inval/coalesce: stores failed");
		run_inval(&u, iova, 2 * SZ_2M);
		run_invalidate(&u);
		counts_are(r, "inval: a block and 64 pages, one invalidation",
			   c0, 1, 0);
		run_want(&u, iova + 0x1000, false, 0);
		run_want(&u, iova + SZ_2M + 0x3f000, true, 0);
		run_want(&u, iova + SZ_2M + 0x40000, false, 0);
		run_check_settled(&u, false);

		u.nr_want = u.nr_inval = 0;
		c0 = counts_now();
		ret = pt_unmap(&u.pt, iova + SZ_2M + 0x20000, SZ_4K);
		run_inval(&u, iova + SZ_2M + 0x20000, SZ_4K);
		run_invalidate(&u);
		counts_are(r, "inval: one page out of the middle", c0, 2, 1);
		run_want(&u, iova + SZ_2M + 0x20000, false,
			 gpa + SZ_2M + 0x20000);
		run_want(&u, iova + SZ_2M + 0x1f000, false, 0);
		run_want(&u, iova + SZ_2M + 0x21000, true, 0);
		run_check_settled(&u, false);
	}
	run_close(&u);

	if (!run_open(&u, r, WPT_MODE_TRAP)) {
		snprintf(u.where, sizeof(u.where), "trap/coalesce");
		c0 = counts_now();
		ret = link_leaves(&u, iova, gpa, 64, 1, &link);
		if (ret || link != 1)
			tap_fail(&r->tap, "trap/coalesce: link: %d/%d", ret,
				 link);
		counts_are(r, "trap: a table of 64 pages linked by one store",
			   c0, 1, 0);
		run_want(&u, iova + 0x3f000, false, 0);
		run_check_settled(&u, false);
	}
	run_close(&u);
	tap_point(&r->tap, "maps are coalesced: block + 64 pages in 1 %s, a "
		  "page out of it 1 %s + 2 %s, a linked table of 64 pages 1 %s",
		  b->map_call, b->unmap_call, b->map_call, b->map_call);
}

/* The first IOVAs the reported ranges exclude: the start of each hole between
 * ranges and the first address past the last range, below 2^48. */
static unsigned int outside_iovas(const struct iommu_facts *f,
				  uint64_t *out, unsigned int max)
{
	unsigned int i, n = 0;

	for (i = 0; i < f->nr_ranges && n < max; i++) {
		uint64_t next = f->ranges[i].last + 1;

		if (!next || next >= (1ull << 48) || (next & 0xfff))
			continue;
		if (!iova_ok(f, next, SZ_4K))
			out[n++] = next;
	}
	return n;
}

static void refuse_one(struct run *u, uint64_t iova)
{
	struct rig *r = u->r;
	struct counts c0 = counts_now();
	uint64_t gpa = GUEST_PAGES_GPA + 0x100 * SZ_4K;
	long nheld;
	int ret;

	snprintf(u->where, sizeof(u->where), "trap/outside %#llx",
		 (unsigned long long)iova);
	u->pt.err = 0;
	pt_map(&u->pt, iova, gpa, SZ_4K, RW);
	ret = u->pt.err;
	tap_diag("%s: the store returned %d (%s); the kernel said %s", u->where,
		 ret, ret ? strerror(-ret) : "-",
		 sink_calls.map_errors > c0.errors ?
		 strerror(sink_calls.last_errno) : "nothing");
	if (ret >= 0)
		tap_fail(&r->tap, "%s: a mapping outside the IOVA ranges "
			 "raised no error", u->where);
	if (sink_calls.map_errors != c0.errors + 1 ||
	    sink_calls.last_iova != iova)
		tap_fail(&r->tap, "%s: want exactly one failed %s at it",
			 u->where, r->backend->map_call);
	sink_calls.expected_errors += sink_calls.map_errors - c0.errors;
	nheld = rig_held(u->d, NULL, 0);
	if (nheld != 0)
		tap_fail(&r->tap, "%s: the shadow claims %ld mappings",
			 u->where, nheld);
	if (wpt_domain_verify(u->d) <= 0)
		tap_fail(&r->tap, "%s: verify does not see the mapping owed",
			 u->where);
	/* The guest takes it back: nothing owed, all consistent again. */
	u->pt.err = 0;
	pt_unmap(&u->pt, iova, SZ_4K);
	if (u->pt.err)
		tap_fail(&r->tap, "%s: taking it back: %s", u->where,
			 strerror(-u->pt.err));
	run_check_state(u);
}

/*
 * A guest mapping at an IOVA the kernel refuses (outside the ranges
 * VFIO_IOMMU_GET_INFO or IOMMU_IOAS_IOVA_RANGES reported): the error
 * reaches the caller (the trapped store), the shadow does not claim the
 * mapping, and once the guest takes it back all is consistent again.
 */
void extra_iova_ranges(struct rig *r)
{
	const struct iommu_facts *f = &r->vfio.facts;
	uint64_t bad[4];
	unsigned int nbad = 0, i;
	struct run u;

	if (!f->have_ranges) {
		tap_skip(&r->tap, "the kernel reported no IOVA ranges",
			 "IOVA ranges respected");
		return;
	}
	nbad = outside_iovas(f, bad, 4);
	if (!nbad) {
		tap_skip(&r->tap, "no IOVA below 2^48 is outside the ranges",
			 "IOVA ranges respected");
		return;
	}
	if (!run_open(&u, r, WPT_MODE_TRAP))
		for (i = 0; i < nbad; i++)
			refuse_one(&u, bad[i]);
	run_close(&u);
	tap_point(&r->tap, "IOVA ranges respected: %u IOVAs outside the ranges "
		  "the kernel reported refused with an error, not dropped", nbad);
}

#define LIMIT_IOVA 0x00c00000ull
#define LIMIT_GPA  GUEST_PAGES_GPA

/* Leaf i of the limit table: every other page, so no two coalesce. */
static uint64_t limit_iova(unsigned int i)
{
	return LIMIT_IOVA + (uint64_t)i * 2 * SZ_4K;
}

/* Link a table of avail + 3 leaves: the sink runs out after avail. */
static void limit_fill(struct run *u, uint32_t avail, unsigned int n)
{
	struct rig *r = u->r;
	struct counts c0 = counts_now();
	int link = 0, ret;
	long nheld;

	snprintf(u->where, sizeof(u->where), "trap/limit");
	ret = link_leaves(u, LIMIT_IOVA, LIMIT_GPA, n, 2, &link);
	tap_diag("limit: %u entries free; a table of %u leaves: the store "
		 "returned %d (%s)", avail, n, link,
		 link < 0 ? strerror(-link) : "-");
	if (ret || link != -ENOSPC)
		tap_fail(&r->tap, "%s: want -ENOSPC from the linking store, "
			 "got %d", u->where, ret ? ret : link);
	sink_calls.expected_errors += sink_calls.map_errors - c0.errors;
	/* The error came back through the store; the domain is not
	 * faulted by it: the mappings owed stay due and each later commit
	 * tries them again. */
	tap_diag("limit: wpt_domain_error = %d after the failed map",
		 wpt_domain_error(u->d));
	nheld = rig_held(u->d, NULL, 0);
	if (nheld != avail)
		tap_fail(&r->tap, "%s: shadow holds %ld, want %u", u->where,
			 nheld, avail);
	if (sink_calls.nr_live != avail)
		tap_fail(&r->tap, "%s: container holds %u, want %u", u->where,
			 sink_calls.nr_live, avail);
	if (wpt_domain_verify(u->d) <= 0)
		tap_fail(&r->tap, "%s: verify does not see the mappings owed",
			 u->where);
	/* The device reaches the first leaves and not the owed ones. */
	u->nr_want = 0;
	run_want(u, limit_iova(0), false, 0);
	run_want(u, limit_iova(n - 1), false, LIMIT_GPA + (n - 1) * SZ_4K);
	run_want(u, limit_iova(n - 2), true, LIMIT_GPA + (n - 2) * SZ_4K);
	rig_probe(r, u->d, u->want, u->nr_want, u->where);
}

/* Free three entries: the owed mappings land one by one. */
static void limit_recover(struct run *u, unsigned int n)
{
	struct rig *r = u->r;
	unsigned int i;

	for (i = 0; i < 3; i++) {
		struct counts c0 = counts_now();

		u->pt.err = 0;
		pt_unmap(&u->pt, limit_iova(i), SZ_4K);
		sink_calls.expected_errors += sink_calls.map_errors - c0.errors;
		tap_diag("limit: unmapping leaf %u: store %d", i, u->pt.err);
		if (i < 2 && u->pt.err != -ENOSPC)
			tap_fail(&r->tap, "%s: unmap %u: want -ENOSPC (still "
				 "owed), got %d", u->where, i, u->pt.err);
	}
	if (u->pt.err)
		tap_fail(&r->tap, "%s: the last owed mapping did not land: %d",
			 u->where, u->pt.err);
	u->nr_want = 0;
	run_want(u, limit_iova(0), false, LIMIT_GPA);
	run_want(u, limit_iova(n - 1), false, 0);
	run_want(u, limit_iova(n - 2), true, 0);
	run_check_settled(u, false);
}

/*
 * The container holds at most dma_entry_limit mappings.  A table whose
 * leaves need more (none contiguous) makes the sink fail with -ENOSPC:
 * the trapped store returns it, the shadow holds what was mapped, and each
 * entry the guest frees lets one owed mapping in.
 */
void extra_dma_limit(struct rig *r)
{
	uint32_t limit = r->dma_limit;
	const char *what = "dma_entry_limit: -ENOSPC reaches the caller";
	struct iommu_facts f;
	struct run u;
	char why[160];

	if (vfio_iommu_facts(r->vfio.container, &f, why, sizeof(why)) ||
	    !f.have_dma_avail) {
		tap_skip(&r->tap, "no DMA_AVAIL capability", "%s", what);
		return;
	}
	/* One level-3 table must hold twice as many pages. */
	if (!limit || f.dma_avail > 200) {
		tap_skip(&r->tap, "dma_entry_limit could not be lowered", "%s",
			 what);
		return;
	}
	if (!run_open(&u, r, WPT_MODE_TRAP)) {
		limit_fill(&u, f.dma_avail, f.dma_avail + 3);
		limit_recover(&u, f.dma_avail + 3);
	}
	run_close(&u);
	tap_point(&r->tap, "%s, the shadow holds what VFIO holds, owed "
		  "mappings land as entries free (%u entries)", what,
		  f.dma_avail);
}

/* What the watched ioctl saw of every sink on this backend. */
void extra_calls(struct rig *r)
{
	const struct backend *b = r->backend;
	struct sink_calls *c = &sink_calls;
	uint64_t errors = c->map_errors + c->unmap_errors;

	if (c->unmatched_unmaps)
		tap_fail(&r->tap, "%llu %s did not name exactly one whole "
			 "mapping", (unsigned long long)c->unmatched_unmaps,
			 b->unmap_call);
	if (c->short_unmaps)
		tap_fail(&r->tap, "%llu %s unmapped other than asked",
			 (unsigned long long)c->short_unmaps, b->unmap_call);
	if (c->misaligned)
		tap_fail(&r->tap, "%llu %s not aligned to the smallest IOMMU "
			 "page", (unsigned long long)c->misaligned, b->map_call);
	if (c->odd_requests)
		tap_fail(&r->tap, "%llu requests with flags or an IOAS the "
			 "sink must not send",
			 (unsigned long long)c->odd_requests);
	if (errors != c->expected_errors)
		tap_fail(&r->tap, "%llu %s/%s failed, %llu of them on purpose; "
			 "last: %s at %#llx+%#llx", (unsigned long long)errors,
			 b->map_call, b->unmap_call,
			 (unsigned long long)c->expected_errors,
			 strerror(c->last_errno),
			 (unsigned long long)c->last_iova,
			 (unsigned long long)c->last_size);
	if (c->nr_live || c->live_overflow)
		tap_fail(&r->tap, "the kernel still holds %u mappings of the "
			 "sink", c->nr_live);
	tap_point(&r->tap, "no unmap bisects a mapping, none fails unasked, "
		  "maps aligned to the IOMMU page: %llu %s, %llu %s, %llu "
		  "failures provoked", (unsigned long long)c->maps, b->map_call,
		  (unsigned long long)c->unmaps, b->unmap_call,
		  (unsigned long long)c->expected_errors);
}
