/* SPDX-License-Identifier: MIT */
/*
 * Atomic accesses to guest RAM for the A64 emulator, at the width and with
 * the ordering the guest's instruction asks for.  The guest's other vCPUs
 * run on while one is emulated, so every access that the architecture
 * makes single-copy atomic is one host atomic on the HVA.
 *
 * Orders: __ATOMIC_RELAXED, _ACQUIRE, _RELEASE or _ACQ_REL, picked at run
 * time from the instruction's A and L/R bits; each helper dispatches to
 * builtins with literal orders, so the compiler emits exactly that
 * ordering rather than falling back to sequential consistency.
 */
#ifndef WPT_A64_ATOMIC_H
#define WPT_A64_ATOMIC_H

#include <stdbool.h>
#include <stdint.h>

#include "a64.h"

/* The order of an access with acquire and/or release semantics. */
static inline int a64_order(bool acquire, bool release)
{
	if (acquire && release)
		return __ATOMIC_ACQ_REL;
	if (acquire)
		return __ATOMIC_ACQUIRE;
	return release ? __ATOMIC_RELEASE : __ATOMIC_RELAXED;
}

/* Store size bytes (1, 2, 4, 8) of v at p, aligned; mo relaxed or release. */
void a64_store(void *p, unsigned int size, uint64_t v, int mo);

/* Compare-and-swap of size bytes at p: *expected is replaced by what p
 * held; true if it matched and desired was stored. */
bool a64_cas(void *p, unsigned int size, uint64_t *expected,
	     uint64_t desired, int mo);

/* Read-modify-write for SWP and the LD<op> family; returns the old value
 * (zero-extended). */
uint64_t a64_rmw(void *p, unsigned int size, enum a64_op op, uint64_t v,
		 int mo);

/* 16-byte compare-and-swap (CASP of X registers, STXP of a 64-bit pair).
 * lo is the lower address.  false from a64_have_cas128() means the host
 * has none, and those instructions are single-stepped instead. */
bool a64_have_cas128(void);
bool a64_cas128(void *p, uint64_t expected[2], const uint64_t desired[2],
		int mo);

#endif
