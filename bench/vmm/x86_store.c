/* SPDX-License-Identifier: MIT */
/*
 * The store decoder of x86_store.h.  Encodings from the Intel SDM vol. 2
 * (ModRM/SIB, REX, the one-byte and 0F opcode maps).
 */
#include <errno.h>
#include <string.h>

#include "x86_store.h"

#define PAGE 4096ull

/* General register n (ModRM order: rax rcx rdx rbx rsp rbp rsi rdi r8..). */
static uint64_t gpr(const struct kvm_regs *r, unsigned int n)
{
	const uint64_t v[16] = {
		r->rax, r->rcx, r->rdx, r->rbx, r->rsp, r->rbp, r->rsi, r->rdi,
		r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15,
	};

	return v[n & 15];
}

struct prefixes {
	int opsize16, rep, repne, lock;
	unsigned int rex; /* 0x40..0x4f, or 0 */
};

/* The ModRM memory operand at b[i]: its address, and i past it. */
static int modrm_ea(const uint8_t *b, size_t n, size_t *i, unsigned int rex,
		    const struct kvm_regs *regs, uint64_t *ea, int *rip_rel,
		    unsigned int *reg)
{
	unsigned int modrm, mod, rm, disp_len = 0;
	uint64_t addr = 0;
	int64_t disp = 0;

	if (*i >= n)
		return -EINVAL;
	modrm = b[(*i)++];
	mod = modrm >> 6;
	rm = modrm & 7;
	*reg = (modrm >> 3 & 7) | (rex & 4 ? 8 : 0);
	*rip_rel = 0;
	if (mod == 3)
		return -EINVAL; /* a register: no store */
	if (rm == 4) {
		unsigned int sib, base, index;

		if (*i >= n)
			return -EINVAL;
		sib = b[(*i)++];
		base = (sib & 7) | (rex & 1 ? 8 : 0);
		index = (sib >> 3 & 7) | (rex & 2 ? 8 : 0);
		if (index != 4)
			addr += gpr(regs, index) << (sib >> 6);
		if ((sib & 7) == 5 && mod == 0)
			disp_len = 4;
		else
			addr += gpr(regs, base);
	} else if (rm == 5 && mod == 0) {
		*rip_rel = 1;
		disp_len = 4;
	} else {
		addr += gpr(regs, rm | (rex & 1 ? 8 : 0));
	}
	if (mod == 1)
		disp_len = 1;
	else if (mod == 2)
		disp_len = 4;
	if (*i + disp_len > n)
		return -EINVAL;
	if (disp_len == 1) {
		disp = (int8_t)b[*i];
	} else if (disp_len == 4) {
		int32_t d32;

		memcpy(&d32, b + *i, 4);
		disp = d32;
	}
	*i += disp_len;
	*ea = addr + (uint64_t)disp;
	return 0;
}

static void put_value(struct x86_store *out, uint64_t v)
{
	out->has_value = 1;
	memcpy(out->value, &v, sizeof(v));
}

/* Legacy prefixes, then a REX byte: b[*i] past them. */
static void decode_prefixes(const uint8_t *b, size_t n, size_t *i,
			    struct prefixes *p)
{
	for (; *i < n; (*i)++) {
		if (b[*i] == 0x66)
			p->opsize16 = 1;
		else if (b[*i] == 0xf0)
			p->lock = 1;
		else if (b[*i] == 0xf3)
			p->rep = 1;
		else if (b[*i] == 0xf2)
			p->repne = 1;
		else if (b[*i] == 0x2e || b[*i] == 0x3e || b[*i] == 0x26 ||
			 b[*i] == 0x36)
			continue; /* no segment base in 64-bit mode */
		else
			break;
	}
	if (*i < n && (b[*i] & 0xf0) == 0x40)
		p->rex = b[(*i)++];
}

/* An 8-bit register operand: without REX, regs 4-7 are ah ch dh bh. */
static uint64_t gpr8(const struct kvm_regs *regs, const struct prefixes *p,
		     unsigned int reg)
{
	return !p->rex && reg >= 4 ? gpr(regs, reg - 4) >> 8 : gpr(regs, reg);
}

/* The one-byte opcode map's stores: size, value or immediate length. */
static int decode_one_byte(unsigned int op, const struct prefixes *p,
			   unsigned int reg, unsigned int osize,
			   const struct kvm_regs *regs, struct x86_store *out,
			   unsigned int *imm_len)
{
	switch (op) {
	case 0x88: case 0x86:            /* mov, xchg r/m8, r8 */
		out->size = 1;
		put_value(out, gpr8(regs, p, reg));
		return 0;
	case 0x89: case 0x87:            /* mov, xchg r/m, r */
		out->size = osize;
		put_value(out, gpr(regs, reg));
		return 0;
	case 0xc6:                        /* mov r/m8, imm8 */
		if (reg & 7)
			return -EINVAL;
		out->size = 1;
		*imm_len = 1;
		return 0;
	case 0xc7:                        /* mov r/m, imm16/32 */
		if (reg & 7)
			return -EINVAL;
		out->size = osize;
		*imm_len = osize == 2 ? 2 : 4;
		return 0;
	default:
		return -EINVAL;
	}
}

/* The 0F map's stores: size, and the value where a plain store has one. */
static int decode_two_byte(unsigned int op, const struct prefixes *p,
			   unsigned int reg, unsigned int osize,
			   const struct kvm_regs *regs, struct x86_store *out)
{
	switch (op) {
	case 0xb0:                        /* cmpxchg r/m8, r8 */
		out->size = 1;
		put_value(out, gpr8(regs, p, reg));
		return 0;
	case 0xb1:                        /* cmpxchg r/m, r */
	case 0xc3:                        /* movnti */
		out->size = osize;
		put_value(out, gpr(regs, reg));
		return 0;
	case 0xc7:                        /* cmpxchg8b/16b */
		if ((reg & 7) != 1)
			return -EINVAL;
		out->size = p->rex & 8 ? 16 : 8;
		return 0;
	case 0x11:      /* movups/movupd/movss/movsd xmm -> m */
		out->size = p->rep ? 4 : p->repne ? 8 : 16;
		return 0;
	case 0x29: case 0x2b: case 0xe7: /* movaps/pd, movntps, movntdq */
		out->size = 16;
		return 0;
	case 0x7f:                        /* movdqa/movdqu, movq mm */
		out->size = p->opsize16 || p->rep ? 16 : 8;
		return 0;
	default:
		return -EINVAL;
	}
}

/* A sign-extended immediate of imm_len bytes at b. */
static uint64_t immediate(const uint8_t *b, unsigned int imm_len)
{
	int64_t imm = imm_len == 1 ? (int8_t)b[0] :
		      imm_len == 2 ? (int16_t)(b[0] | b[1] << 8) :
				     (int32_t)(b[0] | b[1] << 8 | b[2] << 16 |
					       (uint32_t)b[3] << 24);

	return (uint64_t)imm;
}

int x86_store_decode(const uint8_t *b, size_t n, uint64_t rip,
		     const struct kvm_regs *regs, struct x86_store *out)
{
	struct prefixes p = { 0 };
	unsigned int op, reg, osize, imm_len = 0;
	size_t i = 0;
	uint64_t ea;
	int rip_rel, two = 0;

	memset(out, 0, sizeof(*out));
	decode_prefixes(b, n, &i, &p);
	if (i >= n)
		return -EINVAL;
	op = b[i++];
	if (op == 0x0f) {
		if (i >= n)
			return -EINVAL;
		two = 1;
		op = b[i++];
	}
	osize = p.rex & 8 ? 8 : p.opsize16 ? 2 : 4;
	if (modrm_ea(b, n, &i, p.rex, regs, &ea, &rip_rel, &reg))
		return -EINVAL;
	if (two ? decode_two_byte(op, &p, reg, osize, regs, out)
		: decode_one_byte(op, &p, reg, osize, regs, out, &imm_len))
		return -EINVAL;
	if (i + imm_len > n)
		return -EINVAL;
	if (imm_len) {
		put_value(out, immediate(b + i, imm_len));
		i += imm_len;
	}
	out->len = (unsigned int)i;
	out->ea = rip_rel ? rip + i + ea : ea;
	return 0;
}

int x86_store_rewind(const uint8_t code[15], uint64_t rip_after,
		     const struct kvm_regs *regs, uint64_t gpa,
		     const uint8_t *data, uint32_t len, const uint8_t *next,
		     struct x86_store *out)
{
	/* The part KVM reported ends at a page boundary: the store may go
	 * on into the next page, which KVM wrote itself. */
	int at_edge = ((gpa + len) & (PAGE - 1)) == 0;
	struct x86_store s, exact;
	int have_exact = 0;
	unsigned int k;

	for (k = 1; k <= 15; k++) {
		if (x86_store_decode(code + 15 - k, k, rip_after - k, regs,
				     &s) || s.len != k)
			continue;
		if (s.ea == gpa && s.size == len) {
			if (s.has_value && memcmp(s.value, data, len))
				continue;
			if (!have_exact) {
				exact = s;
				have_exact = 1;
			}
			continue;
		}
		if (at_edge && s.ea == gpa && s.size > len && s.size <= 8 &&
		    s.has_value && !memcmp(s.value, data, len) &&
		    (!next || !memcmp(s.value + len, next, s.size - len))) {
			*out = s;
			return 0;
		}
	}
	if (!have_exact)
		return -ENOENT;
	*out = exact;
	return 0;
}
