/* SPDX-License-Identifier: MIT */
/* The arm64 test guest's pieces: hypercalls, the IO page table code. */
#ifndef ARM64_GUEST_H
#define ARM64_GUEST_H

#include <stdint.h>
#include "../abi.h"

/* The hypercall port: latch the arguments, then the call. */
void hcall(uint64_t call, uint64_t a0, uint64_t a1, uint64_t a2);
#define GUEST_CHECK(c) do { if (!(c)) hcall(A64T_CALL_FAIL, __LINE__, 0, 0); } while (0)

/* How a table is installed in an empty slot: Linux's cmpxchg64 with LSE
 * (CASAL) or without (an LDAXR/STLXR loop, as the kernel's LL/SC
 * fallback). */
enum install { INSTALL_CASAL, INSTALL_LLSC };

/* io-pgtable-arm's stage-1 format, 4 KiB granule, 39-bit IOVA: three
 * levels, 1 GiB and 2 MiB blocks. */
#define PTE_VALID   (1ull << 0)
#define PTE_TYPE    (1ull << 1)  /* table (levels 1, 2) or page (level 3) */
#define PTE_AP_UNPRIV (1ull << 6)
#define PTE_SH_IS   (3ull << 8)
#define PTE_AF      (1ull << 10)
#define PTE_LEAF    (PTE_AF | PTE_SH_IS | PTE_AP_UNPRIV)
#define PTE_PAGE(pa)  ((pa) | PTE_LEAF | PTE_TYPE | PTE_VALID)
#define PTE_BLOCK(pa) ((pa) | PTE_LEAF | PTE_VALID)
#define PTE_TABLE(pa) ((pa) | PTE_TYPE | PTE_VALID)
#define PTE_ADDR(d)   ((d) & 0x0000fffffffff000ull)

uint64_t *pgt_alloc(void);
uint64_t cmpxchg64(uint64_t *p, uint64_t old, uint64_t new, enum install how);
/* The level-3 slot of iova, installing the tables on the way. */
uint64_t *pgt_slot(uint64_t *root, uint64_t iova, enum install how);
/* The level-2 slot of iova (for a 2 MiB block). */
uint64_t *pgt_slot_l2(uint64_t *root, uint64_t iova, enum install how);

static inline void str64(uint64_t *p, uint64_t v)
{
	asm volatile("str %x1, [%0]" : : "r"(p), "r"(v) : "memory");
}

#endif
