/* SPDX-License-Identifier: MIT */
/*
 * The guest CPU's stage-1 translation (EL1&0 regime, VMSAv8-64), for the
 * NISV fast path: from the PC to the instruction, from the data VA to the
 * IPA.  Descriptors are decoded by the library's own stage-1 format
 * (lib/format/arm_lpae_s1.c), so the CPU's view and the IO tables' view
 * of a descriptor cannot drift apart.
 *
 * Model: no FEAT_LPA/LPA2/LVA (48-bit VA and IPA at most, TnSZ clamped to
 * 16..39 as the architecture allows for out-of-range values), EL0 and PAN
 * permission bits not checked (the hardware checked them before the
 * stage-2 fault that brought us here), hardware AF and dirty-state
 * updates (TCR.HA/HD) honoured as "the access does not fault" without
 * writing the descriptor back.
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

#define DESC_AP_EL0   (1ull << 6)  /* AP[1]: EL0 may access */
#define DESC_AF       (1ull << 10)
#define DESC_DBM      (1ull << 51)
#define DESC_APTABLE_NO_EL0 (1ull << 61) /* APTable[0] */

#define PSTATE_EL(p)  (((p) >> 2) & 3)
#define PSTATE_PAN    (1ull << 22)

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

/* Does the privilege of a data access allow it?  VMSAv8-64: EL0 needs
 * AP[1] and no APTable[0] on the way (unless HPD); PSTATE.PAN makes EL1
 * data accesses to pages EL0 may access fault. */
static bool priv_allows(uint64_t pstate, bool el0_page)
{
	if (PSTATE_EL(pstate) == 0)
		return el0_page;
	return !((pstate & PSTATE_PAN) && el0_page);
}

/* Walk from the table at base; geo from the TCR half va selects. */
static int walk(const struct wpt_guestmem *mem, const struct wpt_a64_mmu *mmu,
		const struct wpt_pgtable_geo *geo, uint64_t base, uint64_t va,
		uint64_t pstate, bool fetch, bool write, struct a64_xlate *out)
{
	const struct wpt_format_ops *fmt = &wpt_arm_lpae_s1_ops;
	bool be = mmu->sctlr & A64_SCTLR_EE;
	bool table_writable = true, table_el0 = true;
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
			table_writable &= !!(d.perm & WPT_PERM_WRITE);
			if (!(geo->flags & WPT_FMT_F_HPD))
				table_el0 &= !(desc & DESC_APTABLE_NO_EL0);
			table = d.addr;
			continue;
		}
		/* TCR.HD with DBM set: a write clears AP[2] (dirty state),
		 * it does not fault.  APTable still applies. */
		if (write && (!table_writable ||
			      (!(d.perm & WPT_PERM_WRITE) &&
			       !((mmu->tcr & TCR_HD) && (desc & DESC_DBM)))))
			return fail(out, WPT_A64_FAULT_PERMISSION, level);
		if (!fetch && !priv_allows(pstate, table_el0 && (desc & DESC_AP_EL0)))
			return fail(out, WPT_A64_FAULT_PERMISSION, level);
		out->ipa = d.addr | (va & (d.size - 1));
		return 0;
	}
	/* Unreachable: level 3 holds only pages or faults. */
	return fail(out, WPT_A64_FAULT_TRANSLATION, WPT_LAST_LEVEL);
}

int a64_translate(const struct wpt_guestmem *mem,
		  const struct wpt_a64_mmu *mmu, uint64_t pstate, uint64_t va,
		  bool fetch, bool write, struct a64_xlate *out)
{
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
	return walk(mem, mmu, &geo, base, va, pstate, fetch, write, out);
}
