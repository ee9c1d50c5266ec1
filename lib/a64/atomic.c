/* SPDX-License-Identifier: MIT */
/*
 * Host atomics on guest RAM for the A64 emulator (see atomic.h).
 */
#include "atomic.h"

/* Call F(order, failure order) with literal orders for mo.  A failed CAS
 * keeps the acquire half only (C11: no release on failure). */
#define ORDERED(mo, F)                                                  \
	do {                                                            \
		switch (mo) {                                           \
		case __ATOMIC_RELAXED:                                  \
			F(__ATOMIC_RELAXED, __ATOMIC_RELAXED);          \
			break;                                          \
		case __ATOMIC_ACQUIRE:                                  \
			F(__ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE);          \
			break;                                          \
		case __ATOMIC_RELEASE:                                  \
			F(__ATOMIC_RELEASE, __ATOMIC_RELAXED);          \
			break;                                          \
		default:                                                \
			F(__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);          \
			break;                                          \
		}                                                       \
	} while (0)

void a64_store(void *p, unsigned int size, uint64_t v, int mo)
{
#define STORE(type)                                                          \
	do {                                                                 \
		if (mo == __ATOMIC_RELEASE)                                  \
			__atomic_store_n((type *)p, (type)v, __ATOMIC_RELEASE); \
		else                                                         \
			__atomic_store_n((type *)p, (type)v, __ATOMIC_RELAXED); \
	} while (0)
	switch (size) {
	case 1:
		STORE(uint8_t);
		break;
	case 2:
		STORE(uint16_t);
		break;
	case 4:
		STORE(uint32_t);
		break;
	default:
		STORE(uint64_t);
		break;
	}
#undef STORE
}

#define DEFINE_CAS(bits)                                                    \
	static bool cas##bits(void *p, uint64_t *expected, uint64_t desired, \
			      int mo)                                       \
	{                                                                   \
		uint##bits##_t e = (uint##bits##_t)*expected;               \
		bool ok = false;                                            \
		ORDERED(mo, CAS_##bits);                                    \
		*expected = e;                                              \
		return ok;                                                  \
	}
#define CAS_BODY(bits, o, fo)                                              \
	ok = __atomic_compare_exchange_n((uint##bits##_t *)p, &e,          \
					 (uint##bits##_t)desired, false, o, fo)
#define CAS_8(o, fo) CAS_BODY(8, o, fo)
#define CAS_16(o, fo) CAS_BODY(16, o, fo)
#define CAS_32(o, fo) CAS_BODY(32, o, fo)
#define CAS_64(o, fo) CAS_BODY(64, o, fo)
DEFINE_CAS(8)
DEFINE_CAS(16)
DEFINE_CAS(32)
DEFINE_CAS(64)

bool a64_cas(void *p, unsigned int size, uint64_t *expected,
	     uint64_t desired, int mo)
{
	switch (size) {
	case 1:
		return cas8(p, expected, desired, mo);
	case 2:
		return cas16(p, expected, desired, mo);
	case 4:
		return cas32(p, expected, desired, mo);
	default:
		return cas64(p, expected, desired, mo);
	}
}

static inline uint64_t zero_extend(uint64_t v, unsigned int size)
{
	return size == 8 ? v : v & ((1ull << (8 * size)) - 1);
}

static inline int64_t sign_extend(uint64_t v, unsigned int size)
{
	unsigned int sh = 64 - 8 * size;

	return (int64_t)(v << sh) >> sh;
}

/* LDSMAX/LDSMIN/LDUMAX/LDUMIN: the value stored, compared at size. */
static uint64_t minmax(enum a64_op op, uint64_t old, uint64_t v,
		       unsigned int size)
{
	int64_t so = sign_extend(old, size), sv = sign_extend(v, size);
	uint64_t uo = zero_extend(old, size), uv = zero_extend(v, size);

	switch (op) {
	case A64_OP_LDSMAX:
		return so > sv ? old : v;
	case A64_OP_LDSMIN:
		return so < sv ? old : v;
	case A64_OP_LDUMAX:
		return uo > uv ? old : v;
	default:
		return uo < uv ? old : v;
	}
}

/* The operations the host has one builtin for; the others loop on CAS
 * (which stores even when the value is unchanged, as the architecture's
 * atomic read-modify-write does). */
#define DEFINE_RMW(bits)                                                    \
	static uint64_t rmw##bits(void *p, enum a64_op op, uint64_t v, int mo) \
	{                                                                   \
		uint##bits##_t *q = p, x = (uint##bits##_t)v, old = 0;      \
		uint64_t cur;                                               \
		switch (op) {                                               \
		case A64_OP_SWP:                                            \
			ORDERED(mo, XCHG);                                  \
			return old;                                         \
		case A64_OP_LDADD:                                          \
			ORDERED(mo, FADD);                                  \
			return old;                                         \
		case A64_OP_LDCLR:                                          \
			x = (uint##bits##_t)~x;                             \
			ORDERED(mo, FAND);                                  \
			return old;                                         \
		case A64_OP_LDEOR:                                          \
			ORDERED(mo, FXOR);                                  \
			return old;                                         \
		case A64_OP_LDSET:                                          \
			ORDERED(mo, FOR);                                   \
			return old;                                         \
		default:                                                    \
			break;                                              \
		}                                                           \
		cur = __atomic_load_n(q, __ATOMIC_RELAXED);                 \
		while (!cas##bits(p, &cur, minmax(op, cur, v, bits / 8), mo)) \
			;                                                   \
		return cur;                                                 \
	}
#define XCHG(o, fo) (old = __atomic_exchange_n(q, x, o))
#define FADD(o, fo) (old = __atomic_fetch_add(q, x, o))
#define FAND(o, fo) (old = __atomic_fetch_and(q, x, o))
#define FXOR(o, fo) (old = __atomic_fetch_xor(q, x, o))
#define FOR(o, fo) (old = __atomic_fetch_or(q, x, o))
DEFINE_RMW(8)
DEFINE_RMW(16)
DEFINE_RMW(32)
DEFINE_RMW(64)

uint64_t a64_rmw(void *p, unsigned int size, enum a64_op op, uint64_t v,
		 int mo)
{
	switch (size) {
	case 1:
		return rmw8(p, op, v, mo);
	case 2:
		return rmw16(p, op, v, mo);
	case 4:
		return rmw32(p, op, v, mo);
	default:
		return rmw64(p, op, v, mo);
	}
}

/*
 * 16 bytes: C's __atomic on __int128 goes through libatomic (which may
 * take a lock, not atomic against a vCPU), so use the instruction.
 */
#if defined(__x86_64__)
bool a64_have_cas128(void)
{
	return true;
}

/* LOCK CMPXCHG16B is a full barrier: every order is met. */
bool a64_cas128(void *p, uint64_t expected[2], const uint64_t desired[2],
		int mo)
{
	uint64_t lo = expected[0], hi = expected[1];
	bool ok;

	(void)mo;
	__asm__ __volatile__("lock cmpxchg16b %1"
			     : "=@ccz"(ok), "+m"(*(volatile __int128 *)p),
			       "+a"(lo), "+d"(hi)
			     : "b"(desired[0]), "c"(desired[1])
			     : "memory");
	expected[0] = lo;
	expected[1] = hi;
	return ok;
}
#elif defined(__aarch64__)
bool a64_have_cas128(void)
{
	return true;
}

/* LDAXP/STLXP: acquire and release on every path (stronger than any mo).
 * A failed compare still writes the old value back, which is what makes
 * the 16-byte read single-copy atomic without FEAT_LSE2. */
bool a64_cas128(void *p, uint64_t expected[2], const uint64_t desired[2],
		int mo)
{
	uint64_t lo, hi;
	uint32_t fail;
	bool ok;

	(void)mo;
	do {
		__asm__ __volatile__("ldaxp %0, %1, [%2]"
				     : "=&r"(lo), "=&r"(hi)
				     : "r"(p)
				     : "memory");
		ok = lo == expected[0] && hi == expected[1];
		__asm__ __volatile__("stlxp %w0, %1, %2, [%3]"
				     : "=&r"(fail)
				     : "r"(ok ? desired[0] : lo),
				       "r"(ok ? desired[1] : hi), "r"(p)
				     : "memory");
	} while (fail);
	expected[0] = lo;
	expected[1] = hi;
	return ok;
}
#else
bool a64_have_cas128(void)
{
	return false;
}

bool a64_cas128(void *p, uint64_t expected[2], const uint64_t desired[2],
		int mo)
{
	(void)p;
	(void)expected;
	(void)desired;
	(void)mo;
	return false;
}
#endif
