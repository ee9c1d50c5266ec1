/* SPDX-License-Identifier: MIT */
/*
 * A64 decoding of the stores a data abort reports without an instruction
 * syndrome (ESR_ELx.ISV = 0): load/store pair, the LSE atomics and
 * compare-and-swap, store-exclusive, and single-register stores with
 * writeback.  Loads are left out on purpose: a load from a read-only slot
 * does not fault.  Field positions follow the Arm ARM's encoding tables
 * ("Loads and Stores" group, op0 = x1x0).
 */
#include "a64.h"

/* insn bits [hi:lo]. */
static inline uint32_t bits(uint32_t insn, unsigned int hi, unsigned int lo)
{
	return (insn >> lo) & ((1u << (hi - lo + 1)) - 1);
}

static inline int64_t sign_extend(uint64_t v, unsigned int width)
{
	uint64_t m = 1ull << (width - 1);

	return (int64_t)((v ^ m) - m);
}

static void regs_common(uint32_t insn, struct a64_insn *out)
{
	out->rt = bits(insn, 4, 0);
	out->rn = bits(insn, 9, 5);
	out->rs = bits(insn, 20, 16);
	out->rt2 = bits(insn, 14, 10);
}

/*
 * Load/store pair, general registers: opc 101 V=0 0 idx(2) L imm7 Rt2 Rn
 * Rt.  idx 00 is STNP (offset only; the non-temporal hint changes nothing
 * an emulator can see), 01 post-index, 10 signed offset, 11 pre-index.
 * opc 01 with L = 0 is STGP (MTE), not emulated.
 */
static bool decode_pair(uint32_t insn, struct a64_insn *out)
{
	static const enum a64_index idx[4] = {
		A64_IDX_OFFSET, A64_IDX_POST, A64_IDX_OFFSET, A64_IDX_PRE,
	};
	uint32_t opc = bits(insn, 31, 30);

	if (bits(insn, 29, 27) != 0x5 || bits(insn, 26, 26) ||
	    bits(insn, 25, 25) || bits(insn, 22, 22))
		return false;
	if (opc != 0 && opc != 2)
		return false;
	regs_common(insn, out);
	out->op = A64_OP_STP;
	out->size = opc ? 8 : 4;
	out->index = idx[bits(insn, 24, 23)];
	out->offset = sign_extend(bits(insn, 21, 15), 7) * (int64_t)out->size;
	return true;
}

/*
 * Load/store register (immediate), pre/post-index: size 111 V=0 00 opc 0
 * imm9 idx Rn Rt with idx 01 post, 11 pre (00 is STUR and 10 STTR, which
 * have a syndrome).  opc 00 is the store.
 */
static bool decode_str_writeback(uint32_t insn, struct a64_insn *out)
{
	uint32_t idx = bits(insn, 11, 10);

	if (bits(insn, 29, 27) != 0x7 || bits(insn, 26, 24) ||
	    bits(insn, 23, 22) || bits(insn, 21, 21) || !(idx & 1))
		return false;
	regs_common(insn, out);
	out->op = A64_OP_STR;
	out->size = 1u << bits(insn, 31, 30);
	out->index = idx == 1 ? A64_IDX_POST : A64_IDX_PRE;
	out->offset = sign_extend(bits(insn, 20, 12), 9);
	return true;
}

/*
 * Atomic memory operations: size 111 V=0 00 A R 1 Rs o3 opc 00 Rn Rt.
 * o3 = 0: LDADD, LDCLR, LDEOR, LDSET, LDSMAX, LDSMIN, LDUMAX, LDUMIN by
 * opc; o3 = 1, opc = 000: SWP.  (o3 = 1, opc = 100 is LDAPR, a load.)
 */
static bool decode_atomic(uint32_t insn, struct a64_insn *out)
{
	static const enum a64_op ops[8] = {
		A64_OP_LDADD, A64_OP_LDCLR, A64_OP_LDEOR, A64_OP_LDSET,
		A64_OP_LDSMAX, A64_OP_LDSMIN, A64_OP_LDUMAX, A64_OP_LDUMIN,
	};
	uint32_t o3 = bits(insn, 15, 15), opc = bits(insn, 14, 12);

	if (bits(insn, 29, 27) != 0x7 || bits(insn, 26, 24) ||
	    !bits(insn, 21, 21) || bits(insn, 11, 10))
		return false;
	if (o3 && opc)
		return false;
	regs_common(insn, out);
	out->op = o3 ? A64_OP_SWP : ops[opc];
	out->size = 1u << bits(insn, 31, 30);
	out->release = bits(insn, 22, 22);
	/* LD<op>A: "acquire semantics unless the destination is WZR/XZR"
	 * (so the ST<op> aliases never acquire).  SWPA keeps it for every
	 * Rt: stronger ordering is always allowed. */
	out->acquire = bits(insn, 23, 23) &&
		       (out->op == A64_OP_SWP || out->rt != A64_ZR);
	return true;
}

/*
 * Load/store exclusive group: size 001000 o2 L o1 Rs o0 Rt2 Rn Rt.
 *   o2 L o1 = 0 0 0: STXR (o0 = 1: STLXR), any size
 *   o2 L o1 = 0 0 1: STXP/STLXP (size 1x)
 *   o2 L o1 = 0 x 1: CASP (size 0x; L = acquire, o0 = release)
 *   o2 L o1 = 1 x 1: CAS (L = acquire, o0 = release), any size
 * Everything else there (loads, LDAR/STLR, LDLAR/STLLR) is left alone.
 */
static bool decode_exclusive(uint32_t insn, struct a64_insn *out)
{
	uint32_t size = bits(insn, 31, 30);
	uint32_t o2 = bits(insn, 23, 23), l = bits(insn, 22, 22);
	uint32_t o1 = bits(insn, 21, 21), o0 = bits(insn, 15, 15);

	if (bits(insn, 29, 24) != 0x08)
		return false;
	regs_common(insn, out);
	if (o2 && o1) {
		if (out->rt2 != A64_ZR)
			return false;
		out->op = A64_OP_CAS;
		out->size = 1u << size;
		out->acquire = l;
		out->release = o0;
		return true;
	}
	if (o2)
		return false; /* o1 = 0: LDAR/STLR, LDLAR/STLLR */
	if (!o1) {
		if (l || out->rt2 != A64_ZR)
			return false;
		out->op = A64_OP_STXR;
		out->size = 1u << size;
		out->release = o0;
		return true;
	}
	if (size & 2) {
		if (l)
			return false; /* LDXP/LDAXP */
		out->op = A64_OP_STXP;
		out->size = size & 1 ? 8 : 4;
		out->release = o0;
		return true;
	}
	/* CASP: Rs and Rt name even registers (odd is UNDEFINED). */
	if (out->rt2 != A64_ZR || (out->rs & 1) || (out->rt & 1))
		return false;
	out->op = A64_OP_CASP;
	out->size = size & 1 ? 8 : 4;
	out->acquire = bits(insn, 22, 22);
	out->release = o0;
	return true;
}

void a64_decode(uint32_t insn, struct a64_insn *out)
{
	*out = (struct a64_insn){ .op = A64_OP_NONE };
	/* Loads and stores: op0 bits [28:25] = x1x0. */
	if (bits(insn, 27, 27) != 1 || bits(insn, 25, 25) != 0)
		return;
	if (decode_pair(insn, out) || decode_str_writeback(insn, out) ||
	    decode_atomic(insn, out) || decode_exclusive(insn, out))
		return;
	*out = (struct a64_insn){ .op = A64_OP_NONE };
}
