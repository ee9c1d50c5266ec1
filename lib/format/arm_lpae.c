/* SPDX-License-Identifier: MIT */
/*
 * Arm VMSAv8-64 long descriptors: the geometry checks and the descriptor
 * decoding that stage 1 and stage 2 share.  Pure functions, no state.
 */
#include <errno.h>

#include "arm_lpae.h"

static int granule_shift(uint32_t granule)
{
	switch (granule) {
	case 4096:
		return 12;
	case 16384:
		return 14;
	case 65536:
		return 16;
	default:
		return -EINVAL;
	}
}

int arm_lpae_geo_common(const struct wpt_format_cfg *cfg,
			enum wpt_format format, uint32_t known_flags,
			struct wpt_pgtable_geo *geo)
{
	int shift = granule_shift(cfg->granule);

	if (cfg->format != format || shift < 0 || (cfg->flags & ~known_flags))
		return -EINVAL;
	if (cfg->ias < ARM_LPAE_MIN_IAS || cfg->ias > ARM_LPAE_MAX_IAS ||
	    cfg->oas < ARM_LPAE_MIN_OAS || cfg->oas > ARM_LPAE_MAX_OAS)
		return -EINVAL;
	*geo = (struct wpt_pgtable_geo){
		.granule_shift = shift,
		.bits_per_level = shift - ARM_LPAE_DESC_SHIFT,
		.ias = cfg->ias,
		.oas = cfg->oas,
		.flags = cfg->flags,
	};
	return 0;
}

/*
 * VMSAv8-64 block descriptors without FEAT_LPA/FEAT_LPA2: 4K granule at
 * levels 1 (1 GiB) and 2 (2 MiB); 16K at level 2 (32 MiB); 64K at level 2
 * (512 MiB).  A 16K level 1 block needs DS=1 and a 64K level 1 block a
 * 52-bit OA; a level 0 block needs LPA2.  Elsewhere 0b01 is reserved and
 * translation faults.
 */
bool arm_lpae_block_allowed(const struct wpt_pgtable_geo *geo, int level)
{
	if (level == 2)
		return true;
	return level == 1 && geo->granule_shift == 12;
}

/* The address desc points at (a next table or an output address) and how
 * much a leaf maps; false if the type bits are reserved at this level. */
static bool decode_type(const struct wpt_pgtable_geo *geo, int level,
			uint64_t desc, struct wpt_desc *out)
{
	uint64_t type = desc & ARM_LPAE_DESC_TYPE_MASK;
	unsigned int low;

	if (level == WPT_LAST_LEVEL) {
		if (type != ARM_LPAE_DESC_TYPE_PAGE)
			return false;
		out->type = WPT_DESC_LEAF;
		low = geo->granule_shift;
	} else if (type == ARM_LPAE_DESC_TYPE_TABLE) {
		/* Next-level tables are always one granule, aligned to it. */
		out->type = WPT_DESC_TABLE;
		low = geo->granule_shift;
	} else {
		if (!arm_lpae_block_allowed(geo, level))
			return false;
		out->type = WPT_DESC_LEAF;
		low = geo_level_shift(geo, level);
	}
	out->addr = desc & ARM_LPAE_ADDR_MASK(low);
	if (out->type == WPT_DESC_LEAF) {
		out->size = 1ull << geo_level_shift(geo, level);
		out->contig = !!(desc & ARM_LPAE_DESC_CONTIG);
	}
	return true;
}

bool arm_lpae_decode_other(const struct wpt_pgtable_geo *geo, int level,
			   uint64_t desc, struct wpt_desc *out)
{
	*out = (struct wpt_desc){ .type = WPT_DESC_INVALID };
	if (!(desc & ARM_LPAE_DESC_VALID))
		return false;
	/* A level the geometry has no tables at holds no descriptors. */
	if (level < geo->start_level || level > WPT_LAST_LEVEL ||
	    !decode_type(geo, level, desc, out)) {
		arm_lpae_fault(out, WPT_FAULT_RESERVED);
		return false;
	}
	/*
	 * VMSAv8-64 fault priority: an Address size fault on a next-table or
	 * output address is taken before an Access flag fault, which is
	 * taken before a Permission fault.
	 */
	if (out->addr >> geo->oas) {
		arm_lpae_fault(out, WPT_FAULT_ADDR_SIZE);
		return false;
	}
	if (out->type == WPT_DESC_LEAF && !(desc & ARM_LPAE_DESC_AF)) {
		arm_lpae_fault(out, WPT_FAULT_NO_AF);
		return false;
	}
	return true;
}
