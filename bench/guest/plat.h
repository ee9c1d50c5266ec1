/* SPDX-License-Identifier: MIT */
/*
 * The platform layer of the bench guest's IOMMU driver: every access the
 * driver makes to guest memory or to its SMMU register page goes through
 * these functions, so the same driver sources build freestanding for the
 * KVM guest (plat_guest.c: GPA = pointer under the guest's identity map,
 * volatile accesses) and hosted in bench/tests/test_bench_driver.c (which
 * defines them over a RAM buffer and routes stores to protected pages and
 * register writes through the library, as a VMM would after an exit).
 *
 * Addresses are guest physical.  The driver's own parameter and result
 * blocks are ordinary C pointers and do not come through here.
 *
 * The one-instruction promise matters: with the trap strategy a table page
 * is read-only to the guest, so each store below is one exit that hands
 * the VMM exactly that store (KVM can emulate a plain 8-byte mov and a
 * lock cmpxchg to a read-only slot; it cannot emulate vector stores, which
 * is why the guest is built without SSE).
 */
#ifndef BENCH_GUEST_PLAT_H
#define BENCH_GUEST_PLAT_H

#include <stdint.h>

/* Plain loads of guest memory (the driver reads its own tables). */
uint64_t plat_read64(uint64_t gpa);
uint32_t plat_read32(uint64_t gpa);

/* One 8-byte store: descriptors, the CD, request blocks. */
void plat_store64(uint64_t gpa, uint64_t v);

/* Edge-case stores (BENCH_W_EDGES only; the hosted driver test does not
 * define them): one 4-byte mov (half a descriptor), and one 8-byte mov at
 * any alignment, which may cross into the next page. */
void plat_store32(uint64_t gpa, uint32_t v);
void plat_store64_unaligned(uint64_t gpa, uint64_t v);

/* One lock cmpxchg of 8 bytes: returns the value found at gpa (equal to
 * old when the store happened).  Table installs and block splits, as
 * Linux's arm_lpae_install_table. */
uint64_t plat_cmpxchg64(uint64_t gpa, uint64_t old, uint64_t new_val);

/* Zero one 4 KiB page with 8-byte stores (a table not yet linked). */
void plat_zero_page(uint64_t gpa);

/* One 16-byte command queue entry, as two 8-byte stores. */
void plat_write_cmd(uint64_t gpa, uint64_t w0, uint64_t w1);

/* Register accesses to the SMMU page: each is one exit. */
void plat_mmio_write64(uint64_t gpa, uint64_t v);
void plat_mmio_write32(uint64_t gpa, uint32_t v);
uint32_t plat_mmio_read32(uint64_t gpa);

/* The time-stamp counter (rdtsc): guest-side timing of the timed part. */
uint64_t plat_rdtsc(void);

/* Order every earlier memory store before a following register write
 * (the wmb() of writel()). */
void plat_fence(void);

#endif
