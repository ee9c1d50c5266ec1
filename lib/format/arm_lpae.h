/* SPDX-License-Identifier: MIT */
/*
 * Arm VMSAv8-64 long descriptors: what stage 1 and stage 2 share.
 *
 * Both stages use the same 64-bit descriptor shape, the same granules, the
 * same level geometry and the same rules for where a block may sit; they
 * differ only in how a leaf grants access (AP vs S2AP), in hierarchical
 * table permissions (stage 1 only) and in how the start level is chosen
 * (TCR.TnSZ alone vs VTCR.SL0 with concatenated start tables).
 *
 * The model is an implementation without FEAT_LPA, FEAT_LPA2 and FEAT_TTST
 * (48-bit IA and OA at most, no level -1, TnSZ at most 39), which is what an
 * emulated SMMUv3 with OAS <= 48 presents.
 */
#ifndef WPT_FORMAT_ARM_LPAE_H
#define WPT_FORMAT_ARM_LPAE_H

#include <stdbool.h>
#include <stdint.h>

#include "format.h"

#define ARM_LPAE_BIT(n)          (1ull << (n))
/* Bits [hi:lo] set. */
#define ARM_LPAE_GENMASK(hi, lo) ((~0ull >> (63 - (hi))) & (~0ull << (lo)))

/* -------------------------------------------------------- geometry */

#define ARM_LPAE_DESC_SHIFT      3  /* 8-byte descriptors */
#define ARM_LPAE_MIN_IAS         25 /* TnSZ <= 39 without FEAT_TTST */
#define ARM_LPAE_MAX_IAS         48 /* no FEAT_LVA / FEAT_LPA2 */
#define ARM_LPAE_MIN_OAS         32 /* smallest PS / SMMU OAS encoding */
#define ARM_LPAE_MAX_OAS         48 /* no FEAT_LPA */

/* ------------------------------------------------ descriptor type */

/* bit 0: valid; bit 1 at levels 0..2: table (1) or block (0); at level 3
 * 0b11 is a page and 0b01 is reserved (VMSAv8-64 level 3 descriptor). */
#define ARM_LPAE_DESC_VALID      ARM_LPAE_BIT(0)
#define ARM_LPAE_DESC_TYPE_MASK  ARM_LPAE_GENMASK(1, 0)
#define ARM_LPAE_DESC_TYPE_BLOCK 0x1ull
#define ARM_LPAE_DESC_TYPE_TABLE 0x3ull
#define ARM_LPAE_DESC_TYPE_PAGE  0x3ull

/* ---------------------------------------------- address fields */

/*
 * Without FEAT_LPA every address field ends at bit 47: a table or page
 * address is bits [47:granule_shift], a block address bits [47:level
 * shift].  The bits between 12 and the field's low bit are RES0 and play
 * no part in the address, so they are ignored.  Bits [51:48] are not
 * address bits either (for 4K and 16K they become OA[51:48] only with
 * FEAT_LPA2's DS=1; in a leaf bits 51 and 50 are DBM and GP).  For the 64K
 * granule bits [15:12] hold OA[51:48] only with a 52-bit PA, which an OAS
 * of at most 48 excludes, so they are RES0 here too.
 */
#define ARM_LPAE_ADDR_TOP        47
#define ARM_LPAE_ADDR_MASK(low)  ARM_LPAE_GENMASK(ARM_LPAE_ADDR_TOP, low)

/* ---------------------------------------- leaf attributes (both) */

/* Access flag: VMSAv8-64 "AF clear faults without hardware AF update";
 * the SMMU may update it only with HTTU, which an emulated one lacks. */
#define ARM_LPAE_DESC_AF         ARM_LPAE_BIT(10)
/* Contiguous hint: a TLB hint only, the mapping is the same without it. */
#define ARM_LPAE_DESC_CONTIG     ARM_LPAE_BIT(52)

/* ------------------------------------------------------ helpers */

/* Geometry shared by both stages: checks cfg->format == format, granule,
 * IAS, OAS and that flags has no bit outside known_flags; fills every geo
 * field but start_level and root_size.  0 or -EINVAL. */
int arm_lpae_geo_common(const struct wpt_format_cfg *cfg,
			enum wpt_format format, uint32_t known_flags,
			struct wpt_pgtable_geo *geo);

/* Whether a block descriptor is allowed at level for geo's granule. */
bool arm_lpae_block_allowed(const struct wpt_pgtable_geo *geo, int level);

/* The descriptor a walk meets most, decoded with arm_lpae_decode_other's
 * checks in one test: a page at the last level (always a level the
 * geometry has), its access flag set (a valid page's type bits and AF),
 * inside the output size.  false: not that, decode it in full.  Inline:
 * a format's decode_many has it in its loop. */
static inline bool arm_lpae_decode_page(const struct wpt_pgtable_geo *geo,
					int level, uint64_t desc,
					struct wpt_desc *out)
{
	const uint64_t bits = ARM_LPAE_DESC_TYPE_MASK | ARM_LPAE_DESC_AF;
	uint64_t addr = desc & ARM_LPAE_ADDR_MASK(geo->granule_shift);

	if (level != WPT_LAST_LEVEL ||
	    (desc & bits) != (ARM_LPAE_DESC_TYPE_PAGE | ARM_LPAE_DESC_AF) ||
	    addr >> geo->oas)
		return false;
	*out = (struct wpt_desc){
		.type = WPT_DESC_LEAF, .addr = addr,
		.size = 1ull << geo->granule_shift,
		.contig = !!(desc & ARM_LPAE_DESC_CONTIG) };
	return true;
}

/* arm_lpae_decode_common for every descriptor but such a page. */
bool arm_lpae_decode_other(const struct wpt_pgtable_geo *geo, int level,
			   uint64_t desc, struct wpt_desc *out);

/*
 * Decode what both stages share: validity, type bits, block placement,
 * address and address size, and for a leaf its size, contiguous hint and
 * access flag.  Fills all of out with perm 0.  Returns true when desc is a
 * table or a mapped leaf and the caller must set out->perm from its own
 * stage's bits; false when out already says INVALID (with its fault).
 */
static inline bool arm_lpae_decode_common(const struct wpt_pgtable_geo *geo,
					  int level, uint64_t desc,
					  struct wpt_desc *out)
{
	return arm_lpae_decode_page(geo, level, desc, out) ||
	       arm_lpae_decode_other(geo, level, desc, out);
}

/* Turn out into an invalid descriptor that faults for reason. */
static inline void arm_lpae_fault(struct wpt_desc *out,
				  enum wpt_desc_fault reason)
{
	*out = (struct wpt_desc){ .type = WPT_DESC_INVALID, .fault = reason };
}

#endif
