/* SPDX-License-Identifier: MIT */
/*
 * Arm VMSAv8-64 stage 2 (VTCR/STE-style): the start level is configured
 * (VTCR.SL0) and up to 16 start-level tables may be concatenated instead
 * of adding a level; leaves grant read and write separately through S2AP,
 * and tables carry no hierarchical permissions.
 */
#include <errno.h>

#include "arm_lpae.h"

/* S2AP[0] grants read, S2AP[1] write; 0b00 grants nothing. */
#define ARM_LPAE_S2_S2AP_READ   ARM_LPAE_BIT(6)
#define ARM_LPAE_S2_S2AP_WRITE  ARM_LPAE_BIT(7)

/* VMSAv8-64: at most 16 (2^4) concatenated start-level tables. */
#define ARM_LPAE_S2_MAX_CONCAT_BITS 4

/*
 * Start levels VTCR.SL0 can encode without FEAT_TTST and FEAT_LPA2: 4K
 * starts at 0..2 (level 3 needs TTST), 16K and 64K at 1..3 (a 16K level 0
 * needs DS=1, and 64K has no level 0 encoding).
 */
static bool s2_level_encodable(const struct wpt_pgtable_geo *geo, int sl)
{
	if (geo->granule_shift == 12)
		return sl >= 0 && sl <= 2;
	return sl >= 1 && sl <= WPT_LAST_LEVEL;
}

/*
 * How many start-level tables a walk from sl needs to resolve geo->ias, or
 * 0 if sl cannot start it.  This is the architecture's consistency rule
 * for SL0 and T0SZ (AArch64.S2InconsistentSL): the start level must
 * decode at least one input bit (two entries) and may resolve at most one
 * level's bits plus four more by concatenation.
 */
static unsigned int s2_start_tables(const struct wpt_pgtable_geo *geo, int sl)
{
	unsigned int shift, full;

	if (!s2_level_encodable(geo, sl))
		return 0;
	shift = geo_level_shift(geo, sl);
	full = shift + geo->bits_per_level;
	if (geo->ias <= shift || geo->ias > full + ARM_LPAE_S2_MAX_CONCAT_BITS)
		return 0;
	return geo->ias <= full ? 1 : 1u << (geo->ias - full);
}

/* The start level for cfg (sl = -1: the largest, i.e. fewest levels, whose
 * table count fits and matches a given concat) and its table count, or
 * -EINVAL. */
static int s2_start_level(const struct wpt_format_cfg *cfg,
			  const struct wpt_pgtable_geo *geo,
			  unsigned int *tables)
{
	int sl;

	if (cfg->sl < -1 || cfg->sl > WPT_LAST_LEVEL)
		return -EINVAL;
	for (sl = WPT_LAST_LEVEL; sl >= 0; sl--) {
		if (cfg->sl != -1 && sl != cfg->sl)
			continue;
		/* Only powers of two up to 16 come back, so a concat that is
		 * neither never matches: no separate check is needed. */
		*tables = s2_start_tables(geo, sl);
		if (*tables && (!cfg->concat || *tables == cfg->concat))
			return sl;
	}
	return -EINVAL;
}

static int s2_init(const struct wpt_format_cfg *cfg,
		   struct wpt_pgtable_geo *geo)
{
	unsigned int tables = 0;
	int ret, sl;

	/* Hierarchical permissions are a stage 1 feature: no flag applies. */
	ret = arm_lpae_geo_common(cfg, WPT_FMT_ARM_LPAE_S2, 0, geo);
	if (ret)
		return ret;
	sl = s2_start_level(cfg, geo, &tables);
	if (sl < 0)
		return sl;
	geo->start_level = sl;
	/* Concatenated tables are whole granules; a single start table holds
	 * only the entries the input size reaches, as at stage 1. */
	if (tables > 1)
		geo->root_size = (uint64_t)tables << geo->granule_shift;
	else
		geo->root_size = 8ull << (geo->ias - geo_level_shift(geo, sl));
	return 0;
}

static void s2_decode(const struct wpt_pgtable_geo *geo, int level,
		      uint64_t desc, struct wpt_desc *out)
{
	if (!arm_lpae_decode_common(geo, level, desc, out))
		return;
	if (out->type == WPT_DESC_TABLE) {
		/* Stage 2 table descriptors' bits [63:59] are RES0. */
		out->perm = WPT_PERM_READ | WPT_PERM_WRITE;
		return;
	}
	if (desc & ARM_LPAE_S2_S2AP_READ)
		out->perm |= WPT_PERM_READ;
	if (desc & ARM_LPAE_S2_S2AP_WRITE)
		out->perm |= WPT_PERM_WRITE;
	/* S2AP = 0b00: every access takes a Permission fault. */
	if (!out->perm)
		arm_lpae_fault(out, WPT_FAULT_NO_ACCESS);
}

static void s2_decode_many(const struct wpt_pgtable_geo *geo, int level,
			   const uint64_t *desc, unsigned int n,
			   struct wpt_desc *out)
{
	format_decode_each(s2_decode, geo, level, desc, n, out);
}

const struct wpt_format_ops wpt_arm_lpae_s2_ops = {
	.name = "arm-lpae-s2",
	.format = WPT_FMT_ARM_LPAE_S2,
	.init = s2_init,
	.decode = s2_decode,
	.decode_many = s2_decode_many,
};
