/* SPDX-License-Identifier: MIT */
/*
 * The guest model's table moves, as Linux's io-pgtable-arm makes them (up
 * to 6.12): map and unmap in chunks of the largest size the alignment
 * allows, tables installed with one 8-byte store (cmpxchg64), blocks split
 * on a partial unmap by a table filled off to the side, tables freed when
 * an unmap covers a whole entry that holds one.
 */
#include <errno.h>

#include "guest_model_int.h"

#define D_VALID      1ull
#define D_TYPE_MASK  3ull
#define D_ADDR(low)  ((~0ull >> 16) & (~0ull << (low))) /* [47:low] */
#define D_APTABLE_RO (1ull << 62)

/* VMSAv8-64 without FEAT_LPA2: blocks at level 2 for every granule, at
 * level 1 only with the 4K granule. */
static bool block_ok(const struct gm *m, int level)
{
	if (level < m->geo.start_level)
		return false;
	return level == 2 || (level == 1 && m->geo.granule_shift == 12);
}

/* iommu_pgsize(): the largest leaf whose size fits left and to which every
 * address in addr_bits is aligned. */
static int leaf_level(const struct gm *m, uint64_t addr_bits, uint64_t left)
{
	int level;

	for (level = m->geo.start_level; level < WPT_LAST_LEVEL; level++) {
		uint64_t sz = gm_entry_size(m, level);

		if (block_ok(m, level) && !(addr_bits & (sz - 1)) && sz <= left)
			return level;
	}
	return WPT_LAST_LEVEL;
}

/* Index of iova in the table at level whose entry 0 is base. */
static uint64_t entry_index(const struct gm *m, int level, uint64_t base,
			    uint64_t iova)
{
	return (iova - base) / gm_entry_size(m, level);
}

/* How many entries of size at level fit from iova to the end of its table. */
static uint64_t entries_left(const struct gm *m, int level, uint64_t iova)
{
	uint64_t sz = gm_entry_size(m, level);
	uint64_t span = sz * gm_entries(m, level);

	return gm_entries(m, level) - (iova % span) / sz;
}

static uint64_t entry_gpa(const struct gm *m, int32_t t, uint64_t idx)
{
	return gm_page_gpa(m, t) + 8 * idx;
}

static bool range_free_at(const struct gm *m, int32_t t, int level, uint64_t base,
		      uint64_t iova, uint64_t end)
{
	uint64_t sz = gm_entry_size(m, level);
	uint64_t i = entry_index(m, level, base, iova);
	uint64_t last = entry_index(m, level, base, end - 1);

	for (; i <= last; i++) {
		uint64_t desc = gm_read(m, entry_gpa(m, t, i));
		uint64_t lo = base + i * sz, hi = lo + sz;

		if (gm_is_leaf(m, level, desc))
			return false;
		if (gm_is_table(m, level, desc) &&
		    !range_free_at(m, gm_table_of(m, desc), level + 1, lo,
				      iova > lo ? iova : lo, end < hi ? end : hi))
			return false;
	}
	return true;
}

bool gm_range_free(const struct gm *m, unsigned int d, uint64_t iova,
		   uint64_t size)
{
	return range_free_at(m, m->dom[d].root, m->geo.start_level, 0, iova,
				iova + size);
}

/* Leaves for n entries from idx of t: plain stores, sometimes a 16-byte
 * pair (a store pair of two descriptors), sometimes split in halves.  An
 * entry whose half-written state mapped something else is owed an
 * invalidation like an unmap. */
static void write_leaves(struct gm *m, int32_t t, uint64_t idx, int level,
			 uint64_t gpa, uint64_t n, uint32_t perm)
{
	uint64_t sz = gm_entry_size(m, level), i;

	for (i = 0; i < n; i++) {
		uint64_t desc[2] = {
			gm_leaf_desc(m, level, gpa + i * sz, perm),
			gm_leaf_desc(m, level, gpa + (i + 1) * sz, perm),
		};

		if ((idx + i) % 2 == 0 && i + 1 < n && gm_chance(m, 6)) {
			gm_store(m, entry_gpa(m, t, idx + i), desc, 16);
			i++;
			continue;
		}
		gm_store_desc(m, entry_gpa(m, t, idx + i), desc[0], true);
		if (m->transient)
			gm_changed(m, t, (idx + i) * sz, sz, GM_CHANGE_UNMAP);
	}
}

static int clear_entries(struct gm *m, int32_t t, int L, uint64_t base,
			 uint64_t iova, uint64_t n);

/* __arm_lpae_map for n leaves at level L from iova, all inside one table. */
static int map_chunk(struct gm *m, unsigned int d, uint64_t iova,
		     uint64_t gpa, int L, uint64_t n, uint32_t perm)
{
	int32_t t = m->dom[d].root, top, nt;
	int level = m->geo.start_level;
	uint64_t base = 0, top_base, idx, desc, i;

	/* Read first: where the first store will land, and that nothing is
	 * in the way (then nothing is changed). */
	for (; level < L; level++) {
		idx = entry_index(m, level, base, iova);
		desc = gm_read(m, entry_gpa(m, t, idx));
		if (!gm_is_table(m, level, desc)) {
			if (desc & D_VALID)
				return -EEXIST;
			break;
		}
		base += idx * gm_entry_size(m, level);
		t = gm_table_of(m, desc);
	}
	if (level == L)
		for (i = 0, idx = entry_index(m, L, base, iova); i < n; i++)
			if (gm_is_leaf(m, L, gm_read(m, entry_gpa(m, t, idx + i))))
				return -EEXIST;
	top = t;
	top_base = base;
	if (gm_before_map(m, top, iova - top_base, n * gm_entry_size(m, L)))
		return m->err;
	for (; level < L; level++) {
		idx = entry_index(m, level, base, iova);
		nt = gm_table_alloc(m, level + 1, 1);
		if (nt < 0)
			return m->err ? m->err : -ENOMEM;
		/* arm_lpae_install_table: one cmpxchg64.  APTable is not
		 * something Linux sets; a stage 1 guest may. */
		gm_store_desc(m, entry_gpa(m, t, idx),
			      gm_table_desc(m, nt, gm_chance(m, 12)), false);
		gm_ref_install(m, nt, t, (uint32_t)idx);
		base += idx * gm_entry_size(m, level);
		t = nt;
	}
	/* arm_lpae_init_pte: a table where a block goes (empty, or the range
	 * would not be free) is unmapped and freed first. */
	if (clear_entries(m, t, L, base, iova, n))
		return m->err;
	write_leaves(m, t, entry_index(m, L, base, iova), L, gpa, n, perm);
	return gm_changed(m, top, iova - top_base, n * gm_entry_size(m, L),
			  GM_CHANGE_MAP);
}

int gm_map(struct gm *m, unsigned int d, uint64_t iova, uint64_t gpa,
	   uint64_t size, uint32_t perm)
{
	uint64_t done = 0, g = m->granule;
	int ret;

	if (d >= m->cfg.nr_domains || !size || (iova | gpa | size) % g ||
	    iova + size > (1ull << m->geo.ias) || iova + size < iova ||
	    gpa + size > (1ull << m->geo.oas) || !perm)
		return -EINVAL;
	if (!gm_range_free(m, d, iova, size))
		return -EEXIST;
	while (done < size) {
		uint64_t at = iova + done, left = size - done;
		int L = leaf_level(m, at | (gpa + done), left);
		uint64_t n = left / gm_entry_size(m, L);

		if (n > entries_left(m, L, at))
			n = entries_left(m, L, at);
		ret = map_chunk(m, d, at, gpa + done, L, n, perm);
		if (ret) {
			/* iommu_map undoes a partial map. */
			if (done)
				gm_unmap(m, d, iova, done);
			return ret;
		}
		done += n * gm_entry_size(m, L);
	}
	return m->err;
}

static int unmap_from(struct gm *m, int32_t t, int level, uint64_t base,
		      uint64_t iova, int L, uint64_t n);

/*
 * arm_lpae_split_blk_unmap (Linux <= 6.12): a new table at level + 1 that
 * maps what the block mapped, less the entries being unmapped when they
 * are of that size, is filled while unreachable and then replaces the
 * block with one store; a smaller unmap goes on inside it.
 */
static int split_block(struct gm *m, int32_t t, int level, uint64_t base,
		       uint64_t idx, uint64_t blk, uint64_t iova, int L,
		       uint64_t n)
{
	uint64_t cs = gm_entry_size(m, level + 1);
	uint64_t nbase = base + idx * gm_entry_size(m, level);
	uint64_t out = blk & D_ADDR(geo_level_shift(&m->geo, level));
	uint64_t attrs = blk & ~(D_ADDR(12) | D_TYPE_MASK);
	uint64_t type = level + 1 == WPT_LAST_LEVEL ? 3 : 1;
	uint64_t i, hole = 0, holes = 0;
	int32_t nt = gm_table_alloc(m, level + 1, 1);

	if (nt < 0)
		return m->err ? m->err : -ENOMEM;
	if (level + 1 == L) {
		hole = entry_index(m, L, nbase, iova);
		holes = n;
	}
	for (i = 0; i < gm_entries(m, level + 1); i++) {
		uint64_t desc = attrs | (out + i * cs) | type;

		if (i >= hole && i < hole + holes)
			continue;
		gm_store(m, entry_gpa(m, nt, i), &desc, 8);
	}
	gm_store_desc(m, entry_gpa(m, t, idx), gm_table_desc(m, nt, false),
		      false);
	gm_ref_install(m, nt, t, (uint32_t)idx);
	if (holes)
		return gm_changed(m, nt, hole * cs, holes * cs,
				  GM_CHANGE_UNMAP);
	return unmap_from(m, nt, level + 1, nbase, iova, L, n);
}

/* __arm_lpae_unmap at the chunk's own level: clear n entries; a table
 * among them is invalidated at once (the walk-cache flush) and freed,
 * leaves wait for the guest's invalidation policy. */
static int clear_entries(struct gm *m, int32_t t, int L, uint64_t base,
			 uint64_t iova, uint64_t n)
{
	uint64_t sz = gm_entry_size(m, L), idx = entry_index(m, L, base, iova);
	uint64_t i, run = 0, run_n = 0;
	static const uint64_t zero;

	for (i = 0; i <= n; i++) {
		uint64_t desc = i < n ? gm_read(m, entry_gpa(m, t, idx + i)) : 0;

		if (run_n && (i == n || !gm_is_leaf(m, L, desc))) {
			gm_changed(m, t, run * sz, run_n * sz, GM_CHANGE_UNMAP);
			run_n = 0;
		}
		if (!desc)
			continue;
		if (gm_is_table(m, L, desc)) {
			gm_store(m, entry_gpa(m, t, idx + i), &zero, 8);
			gm_changed(m, t, (idx + i) * sz, sz, GM_CHANGE_WALK);
			gm_ref_put(m, gm_table_of(m, desc), t,
				   (uint32_t)(idx + i));
			continue;
		}
		gm_store_desc(m, entry_gpa(m, t, idx + i), 0, true);
		if (!run_n)
			run = idx + i;
		run_n++;
	}
	return m->err;
}

static int unmap_from(struct gm *m, int32_t t, int level, uint64_t base,
		      uint64_t iova, int L, uint64_t n)
{
	for (; level < L; level++) {
		uint64_t idx = entry_index(m, level, base, iova);
		uint64_t desc = gm_read(m, entry_gpa(m, t, idx));

		if (gm_is_leaf(m, level, desc))
			return split_block(m, t, level, base, idx, desc, iova,
					   L, n);
		if (!gm_is_table(m, level, desc))
			return 0; /* nothing mapped here */
		base += idx * gm_entry_size(m, level);
		t = gm_table_of(m, desc);
	}
	return clear_entries(m, t, L, base, iova, n);
}

int gm_unmap(struct gm *m, unsigned int d, uint64_t iova, uint64_t size)
{
	uint64_t done = 0;
	int ret;

	if (d >= m->cfg.nr_domains || !size || (iova | size) % m->granule ||
	    iova + size > (1ull << m->geo.ias))
		return -EINVAL;
	while (done < size) {
		uint64_t at = iova + done;
		/* iommu_unmap sizes chunks by the IOVA alone. */
		int L = leaf_level(m, at, size - done);
		uint64_t n = (size - done) / gm_entry_size(m, L);

		if (n > entries_left(m, L, at))
			n = entries_left(m, L, at);
		ret = unmap_from(m, m->dom[d].root, m->geo.start_level, 0, at,
				 L, n);
		if (ret)
			return ret;
		done += n * gm_entry_size(m, L);
	}
	return m->err;
}

int32_t gm_tree_copy(struct gm *m, int32_t t, int level)
{
	uint64_t pages = level == m->geo.start_level &&
			 m->geo.root_size > m->granule
			 ? m->geo.root_size / m->granule : 1;
	int32_t nt = gm_table_alloc(m, level, pages), c;
	uint64_t i;

	if (nt < 0)
		return -1;
	for (i = 0; i < gm_entries(m, level); i++) {
		uint64_t desc = gm_read(m, entry_gpa(m, t, i));

		if (!desc)
			continue;
		if (gm_is_table(m, level, desc)) {
			c = gm_tree_copy(m, gm_table_of(m, desc), level + 1);
			if (c < 0) {
				gm_ref_put(m, nt, GM_REF_BUILD, 0);
				return -1;
			}
			desc = gm_table_desc(m, c, desc & D_APTABLE_RO);
			gm_ref_install(m, c, nt, (uint32_t)i);
		}
		gm_store(m, entry_gpa(m, nt, i), &desc, 8);
	}
	return nt;
}
