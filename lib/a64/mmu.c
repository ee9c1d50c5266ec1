/* SPDX-License-Identifier: MIT */
/*
 * The guest CPU's stage-1 translation (EL1&0 regime, VMSAv8-64), for the
 * NISV fast path: from the PC to the instruction, from the data VA to the
 * IPA.  Descriptors are decoded by the library's own stage-1 format
 * (lib/format/arm_lpae_s1.c), so the CPU's view and the IO tables' view
 * of a descriptor cannot drift apart.
 *
 * Model: no FEAT_LPA/LPA2/LVA (48-bit VA and IPA at most, TnSZ clamped to
 * 16..39 as the architecture allows for out-of-range values), hardware AF
 * and dirty-state updates (TCR.HA/HD) honoured as "the access does not
 * fault" without writing the descriptor back.
 *
 * Permissions are checked in full for the access's exception level, as
 * AArch64.S1ComputePermissions does: AP[2:1], APTable[1:0], UXN/PXN and
 * their table bits, SCTLR.WXN, PSTATE.PAN (and SCTLR.EPAN).  The hardware
 * checked them for the instruction that faulted, but nothing ties the
 * word fetched after the exit to that instruction: an EL0 thread with
 * writable code (a JIT) can swap it while the vCPU is out, so the
 * emulated access must pass the same checks on its own.
 */
#include <errno.h>

#include "format/format.h"
#include "a64.h"

/* TCR_EL1 fields. */
#define TCR_T0SZ(t)   ((unsigned int)((t) & 0x3f))
#define TCR_EPD0      (1ull << 7)
#define TCR_TG0(t)    ((unsigned int)(((t) >> 14) & 3))
#define TCR_T1SZ(t)   ((unsigned int)(((t) >> 16) & 0x3f))
#define TCR_EPD1      (1ull << 23)
#define TCR_TG1(t)    ((unsigned int)(((t) >> 30) & 3))
#define TCR_IPS(t)    ((unsigned int)(((t) >> 32) & 7))
#define TCR_TBI0      (1ull << 37)
#define TCR_TBI1      (1ull << 38)
#define TCR_HA        (1ull << 39)
#define TCR_HD        (1ull << 40)
#define TCR_HPD0      (1ull << 41)
#define TCR_HPD1      (1ull << 42)
#define TCR_TBID0     (1ull << 51)
#define TCR_TBID1     (1ull << 52)

/* TTBRn_EL1.BADDR without FEAT_LPA: bits [47:1] (bit 0 is CnP). */
#define TTBR_BADDR    0x0000fffffffffffeull

#define DESC_AF       (1ull << 10)
#define DESC_DBM      (1ull << 51)
/* Leaf permission bits (VMSAv8-64 stage 1, EL1&0 regime). */
#define DESC_AP1      (1ull << 6)  /* EL0 may access */
#define DESC_AP2      (1ull << 7)  /* read-only */
#define DESC_PXN      (1ull << 53)
#define DESC_UXN      (1ull << 54)
/* Table bits that restrict everything below (ignored with TCR.HPDn). */
#define DESC_PXNTABLE (1ull << 59)
#define DESC_UXNTABLE (1ull << 60)
#define DESC_APTABLE0 (1ull << 61) /* no EL0 access below */
#define DESC_APTABLE1 (1ull << 62) /* no write access below */

#define SCTLR_WXN     (1ull << 19)
#define SCTLR_EPAN    (1ull << 57)

/* The PA size without FEAT_LPA: an IPA with stage 1 off must fit. */
#define A64_PA_BITS   48

/* The smallest and largest TnSZ without FEAT_LVA and FEAT_TTST: a value
 * outside is CONSTRAINED UNPREDICTABLE, and clamping is one of the
 * permitted behaviours. */
#define TNSZ_MIN 16
#define TNSZ_MAX 39

/* Granule bytes for TG0 (00 4K, 01 64K, 10 16K) and TG1 (01 16K, 10 4K,
 * 11 64K); a reserved value is treated as 4K, an IMPLEMENTATION DEFINED
 * choice the architecture allows. */
static uint32_t granule(bool upper, uint64_t tcr)
{
	static const uint32_t tg0[4] = { 4096, 65536, 16384, 4096 };
	static const uint32_t tg1[4] = { 4096, 16384, 4096, 65536 };

	return upper ? tg1[TCR_TG1(tcr)] : tg0[TCR_TG0(tcr)];
}

/* TCR.IPS: the intermediate physical address size; 52 bits (0b110)
 * needs FEAT_LPA, so it is taken as 48. */
static uint32_t ips_bits(uint64_t tcr)
{
	static const uint32_t ips[8] = { 32, 36, 40, 42, 44, 48, 48, 48 };

	return ips[TCR_IPS(tcr)];
}

static int fail(struct a64_xlate *out, enum wpt_a64_fault f, int level)
{
	out->fault = f;
	out->level = level;
	return -EFAULT;
}

static enum wpt_a64_fault desc_fault(enum wpt_desc_fault f)
{
	switch (f) {
	case WPT_FAULT_ADDR_SIZE:
		return WPT_A64_FAULT_ADDR_SIZE;
	case WPT_FAULT_NO_AF:
		return WPT_A64_FAULT_ACCESS_FLAG;
	default:
		return WPT_A64_FAULT_TRANSLATION;
	}
}

/* One descriptor as the walker reads it: a single-copy-atomic 64-bit
 * load, in the table endianness SCTLR.EE selects. */
static int read_desc(const struct wpt_guestmem *mem, uint64_t gpa, bool be,
		     uint64_t *desc)
{
	const void *hva = guestmem_hva(mem, gpa, 8);

	if (!hva)
		return -EFAULT;
	*desc = guestmem_load64(hva);
	if (be)
		*desc = __builtin_bswap64(*desc);
	return 0;
}

/*
 * May acc use a leaf with these bits?  table: the restricting table bits
 * collected on the way down.  The model of AArch64.S1ComputePermissions
 * for the EL1&0 regime: APTable[0] clears AP[1], APTable[1] sets AP[2],
 * a dirty-state leaf (TCR.HD and DBM) is writable, EL0-writable memory is
 * never privileged-executable, WXN makes writable memory execute-never,
 * and PAN takes privileged data access away from memory EL0 can read
 * (with EPAN: or execute).
 */
static bool permitted(const struct wpt_a64_mmu *mmu, uint64_t leaf,
		      uint64_t table, const struct a64_access *acc)
{
	bool ap1 = (leaf & DESC_AP1) && !(table & DESC_APTABLE0);
	bool ap2 = (leaf & DESC_AP2) &&
		   !((mmu->tcr & TCR_HD) && (leaf & DESC_DBM));
	bool wxn = mmu->sctlr & SCTLR_WXN;
	bool user_r, user_w, user_x, priv_w, priv_x;

	ap2 |= !!(table & DESC_APTABLE1);
	user_r = ap1;
	user_w = ap1 && !ap2;
	priv_w = !ap2;
	user_x = !((leaf | table) & (DESC_UXN | DESC_UXNTABLE)) &&
		 !(user_w && wxn);
	priv_x = !((leaf | table) & (DESC_PXN | DESC_PXNTABLE)) &&
		 !(priv_w && wxn) && !user_w;
	if (acc->el0)
		return acc->fetch ? user_x : user_r && (!acc->write || user_w);
	if (acc->fetch)
		return priv_x;
	if (acc->pan && (user_r || ((mmu->sctlr & SCTLR_EPAN) && user_x)))
		return false;
	return !acc->write || priv_w;
}

/* Walk from the table at base; geo from the TCR half va selects. */
static int walk(const struct wpt_guestmem *mem, const struct wpt_a64_mmu *mmu,
		const struct wpt_pgtable_geo *geo, uint64_t base, uint64_t va,
		const struct a64_access *acc, struct a64_xlate *out)
{
	const struct wpt_format_ops *fmt = &wpt_arm_lpae_s1_ops;
	bool be = mmu->sctlr & A64_SCTLR_EE;
	uint64_t table_bits = 0;
	uint64_t table = base;
	int level;

	for (level = geo->start_level; level <= WPT_LAST_LEVEL; level++) {
		unsigned int shift = geo_level_shift(geo, level);
		uint64_t idx = (va >> shift) & (geo_table_entries(geo, level) - 1);
		struct wpt_desc d;
		uint64_t desc;

		if (read_desc(mem, table + idx * 8, be, &desc))
			return fail(out, WPT_A64_FAULT_EXTERNAL, level);
		fmt->decode(geo, level, desc, &d);
		/* TCR.HA: the hardware sets AF instead of faulting. */
		if (d.type == WPT_DESC_INVALID && d.fault == WPT_FAULT_NO_AF &&
		    (mmu->tcr & TCR_HA))
			fmt->decode(geo, level, desc | DESC_AF, &d);
		if (d.type == WPT_DESC_INVALID)
			return fail(out, desc_fault(d.fault), level);
		if (d.type == WPT_DESC_TABLE) {
			/* TCR.HPDn: the table's permission bits are ignored. */
			if (!(geo->flags & WPT_FMT_F_HPD))
				table_bits |= desc;
			table = d.addr;
			continue;
		}
		if (!permitted(mmu, desc, table_bits, acc))
			return fail(out, WPT_A64_FAULT_PERMISSION, level);
		out->ipa = d.addr | (va & (d.size - 1));
		return 0;
	}
	/* Unreachable: level 3 holds only pages or faults. */
	return fail(out, WPT_A64_FAULT_TRANSLATION, WPT_LAST_LEVEL);
}

int a64_translate(const struct wpt_guestmem *mem,
		  const struct wpt_a64_mmu *mmu, uint64_t va,
		  const struct a64_access *acc, struct a64_xlate *out)
{
	bool fetch = acc->fetch;
	uint64_t tcr = mmu->tcr;
	struct wpt_pgtable_geo geo;
	struct wpt_format_cfg cfg;
	unsigned int tsz, top_bit;
	bool upper, tbi;
	uint64_t base, ttbr, hi;

	out->fault = WPT_A64_FAULT_NONE;
	out->level = 0;
	if (!(mmu->sctlr & A64_SCTLR_M)) {
		/* Stage 1 off: VA = IPA, which must fit the PA size. */
		if (va >> A64_PA_BITS)
			return fail(out, WPT_A64_FAULT_ADDR_SIZE, 0);
		out->ipa = va;
		return 0;
	}
	/* VA bit 55 picks the half, whatever TBI says. */
	upper = (va >> 55) & 1;
	tbi = tcr & (upper ? TCR_TBI1 : TCR_TBI0);
	if (fetch && (tcr & (upper ? TCR_TBID1 : TCR_TBID0)))
		tbi = false;
	tsz = upper ? TCR_T1SZ(tcr) : TCR_T0SZ(tcr);
	if (tsz < TNSZ_MIN)
		tsz = TNSZ_MIN;
	if (tsz > TNSZ_MAX)
		tsz = TNSZ_MAX;
	/* Bits [top:64-tsz] must all equal bit 55 (the top byte is out of
	 * the check with TBI). */
	top_bit = tbi ? 55 : 63;
	hi = (va >> (64 - tsz)) & ((2ull << (top_bit - (64 - tsz))) - 1);
	if (hi != (upper ? (2ull << (top_bit - (64 - tsz))) - 1 : 0))
		return fail(out, WPT_A64_FAULT_TRANSLATION, 0);
	if (tcr & (upper ? TCR_EPD1 : TCR_EPD0))
		return fail(out, WPT_A64_FAULT_TRANSLATION, 0);

	cfg = (struct wpt_format_cfg){
		.size = sizeof(cfg),
		.format = WPT_FMT_ARM_LPAE_S1,
		.granule = granule(upper, tcr),
		.ias = 64 - tsz,
		.oas = ips_bits(tcr),
		.flags = (tcr & (upper ? TCR_HPD1 : TCR_HPD0)) ? WPT_FMT_F_HPD : 0,
	};
	if (wpt_arm_lpae_s1_ops.init(&cfg, &geo))
		return fail(out, WPT_A64_FAULT_TRANSLATION, 0);
	ttbr = upper ? mmu->ttbr1 : mmu->ttbr0;
	/* BADDR bits below the start table's alignment are RES0; treating
	 * them as zero is a permitted behaviour. */
	base = ttbr & TTBR_BADDR & ~(geo.root_size - 1);
	if (base >> geo.oas)
		return fail(out, WPT_A64_FAULT_ADDR_SIZE, geo.start_level);
	return walk(mem, mmu, &geo, base, va, acc, out);
}
