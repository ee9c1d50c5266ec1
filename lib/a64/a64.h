/* SPDX-License-Identifier: MIT */
/*
 * The arm64 NISV fast path, inside: an A64 decoder for the stores that
 * reach the VMM without an instruction syndrome, and the guest's stage-1
 * CPU translation (EL1&0 regime) that fetches the instruction and finds
 * the data.  emulate.c ties them to guest RAM and the tracker.
 *
 * Everything here is pure or reads guest RAM only: no lock, any thread.
 */
#ifndef WPT_A64_H
#define WPT_A64_H

#include <stdbool.h>
#include <stdint.h>

#include "guestmem.h"
#include "wpt.h"

/* -------------------------------------------------------- decoding */

enum a64_op {
	A64_OP_NONE = 0, /* not one we emulate: the VMM single-steps it */
	A64_OP_STR,      /* STR/STRB/STRH (immediate), pre- or post-index */
	A64_OP_STP,      /* STP/STNP: two registers */
	A64_OP_CAS,      /* CAS{A,L,AL}{B,H,} */
	A64_OP_CASP,     /* CASP{A,L,AL}: an even/odd register pair */
	A64_OP_SWP,      /* SWP{A,L,AL}{B,H,} */
	A64_OP_LDADD,    /* LD<op>{A,L,AL}{B,H,}, ST<op> when Rt = 31 */
	A64_OP_LDCLR,
	A64_OP_LDEOR,
	A64_OP_LDSET,
	A64_OP_LDSMAX,
	A64_OP_LDSMIN,
	A64_OP_LDUMAX,
	A64_OP_LDUMIN,
	A64_OP_STXR,     /* STXR/STLXR{B,H,} */
	A64_OP_STXP,     /* STXP/STLXP */
};

enum a64_index {
	A64_IDX_OFFSET = 0, /* [Xn, #imm]: no writeback */
	A64_IDX_PRE,        /* [Xn, #imm]!: address and Xn = Xn + imm */
	A64_IDX_POST,       /* [Xn], #imm: address Xn, then Xn = Xn + imm */
};

/* Register number 31 means XZR for rt, rt2 and rs, and SP for rn. */
#define A64_ZR 31
#define A64_SP 31

struct a64_insn {
	enum a64_op op;
	unsigned int size;  /* bytes of one register's access: 1, 2, 4, 8 */
	unsigned int rt, rt2, rs, rn;
	bool acquire;       /* the load half orders later accesses */
	bool release;       /* the store half orders earlier accesses */
	enum a64_index index;
	int64_t offset;     /* STP/STR: the scaled, sign-extended immediate */
};

/* Decode insn; out->op = A64_OP_NONE for anything else, including the
 * encodings the architecture leaves UNDEFINED (a CASP with an odd
 * register) which cannot have reached a data abort anyway. */
void a64_decode(uint32_t insn, struct a64_insn *out);

/* Bytes the instruction accesses in all (a pair: both registers). */
static inline unsigned int a64_access_size(const struct a64_insn *in)
{
	switch (in->op) {
	case A64_OP_STP:
	case A64_OP_CASP:
	case A64_OP_STXP:
		return 2 * in->size;
	default:
		return in->size;
	}
}

/* ------------------------------------------------ stage-1 translation */

/* SCTLR_ELx bits the emulator reads. */
#define A64_SCTLR_M   (1ull << 0)  /* stage 1 enabled */
#define A64_SCTLR_A   (1ull << 1)  /* alignment checking */
#define A64_SCTLR_SA  (1ull << 3)  /* SP alignment check at EL1 */
#define A64_SCTLR_SA0 (1ull << 4)  /* SP alignment check at EL0 */
#define A64_SCTLR_E0E (1ull << 24) /* EL0 data big-endian */
#define A64_SCTLR_EE  (1ull << 25) /* EL1 data and table walks big-endian */

/* What is accessed, from where: the inputs of the permission check. */
struct a64_access {
	bool fetch; /* an instruction fetch (TBID applies; XN checked) */
	bool write; /* a data write (else a data read) */
	bool el0;   /* from EL0 (an unprivileged access) */
	bool pan;   /* PSTATE.PAN, for a privileged data access */
};

struct a64_xlate {
	uint64_t ipa;
	enum wpt_a64_fault fault; /* WPT_A64_FAULT_NONE when ipa is valid */
	int level;                /* the level the walk faulted at */
};

/*
 * Translate va through the guest's stage-1 tables as the EL1&0 regime
 * would (TTBR0/TTBR1 by va bit 55, TCR.TnSZ/TGn/IPS/TBIn/EPDn/HPDn/HA/HD),
 * reading descriptors from guest RAM, and check acc against the stage-1
 * permissions (mmu.c says which).  Returns 0, or -EFAULT with out->fault
 * and out->level saying why.
 */
int a64_translate(const struct wpt_guestmem *mem,
		  const struct wpt_a64_mmu *mmu, uint64_t va,
		  const struct a64_access *acc, struct a64_xlate *out);

#endif
