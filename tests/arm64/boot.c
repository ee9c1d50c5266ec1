/* SPDX-License-Identifier: MIT */
/*
 * The guest's stage-1 identity map (abi.h's layout) and its first
 * register state.  4 KiB granule, 39-bit VAs (TCR_EL1.T0SZ = 25, three
 * levels from level 1), TTBR1 walks off (EPD1):
 *   level 1 [0]: 1 GiB device block (the port, and nothing at
 *                A64T_NOWHERE_GPA behind it)
 *   level 1 [1]: the RAM's level-2 table: 2 MiB normal blocks, EL1 only,
 *                except the first 2 MiB, in pages: the image
 *                (EL0-readable, executable at both ELs), the EL0 page,
 *                the rest EL1 read-write and never executable.
 */
#include <string.h>

#include "abi.h"
#include "vcpu.h"

#define D_VALID     (1ull << 0)
#define D_TABLE     (3ull << 0) /* also a level-3 page */
#define D_ATTR(i)   ((uint64_t)(i) << 2)
#define D_AP_EL0    (1ull << 6) /* AP[1]: EL0 may access */
#define D_AP_RO     (1ull << 7) /* AP[2]: read-only */
#define D_SH_INNER  (3ull << 8)
#define D_AF        (1ull << 10)
#define D_PXN       (1ull << 53)
#define D_UXN       (1ull << 54)
#define D_NORMAL    (D_ATTR(0) | D_SH_INNER | D_AF)
#define D_DEVICE    (D_ATTR(1) | D_AF | D_PXN | D_UXN)

#define TCR_39BIT   (25ull | 1ull << 8 | 1ull << 10 | 3ull << 12 | \
		     1ull << 23 /* EPD1 */ | 2ull << 32 /* IPS: 40 bits */)
#define SCTLR_M     (1ull << 0)
#define SCTLR_A     (1ull << 1)
#define SCTLR_C     (1ull << 2)
#define SCTLR_I     (1ull << 12)
#define SCTLR_WXN   (1ull << 19)
#define CPACR_FPEN  (3ull << 20)

static uint64_t *table_at(struct a64vm *vm, uint64_t gpa)
{
	return (uint64_t *)(vm->ram + (gpa - A64T_RAM_GPA));
}

static uint64_t page_desc(uint64_t gpa)
{
	uint64_t off = gpa - A64T_RAM_GPA;

	if (off < A64T_IMAGE_MAX)
		return D_NORMAL | D_AP_EL0 | D_AP_RO;
	if (gpa == A64T_USER_GPA)
		return D_NORMAL | D_AP_EL0 | D_PXN | D_UXN;
	return D_NORMAL | D_PXN | D_UXN;
}

static void build_stage1(struct a64vm *vm)
{
	uint64_t l1 = A64T_S1_GPA, l2 = l1 + 0x1000, l3 = l2 + 0x1000;
	uint64_t *t1 = table_at(vm, l1), *t2 = table_at(vm, l2),
		 *t3 = table_at(vm, l3);

	memset(t1, 0, 3 * 4096);
	t1[0] = 0 | D_DEVICE | D_VALID;
	t1[A64T_RAM_GPA >> 30] = l2 | D_TABLE;
	t2[0] = l3 | D_TABLE;
	for (uint64_t i = 1; i < A64T_RAM_SIZE >> 21; i++)
		t2[i] = (A64T_RAM_GPA + (i << 21)) | D_NORMAL | D_PXN | D_UXN |
			D_VALID;
	for (uint64_t i = 0; i < 512; i++) {
		uint64_t gpa = A64T_RAM_GPA + (i << 12);

		t3[i] = gpa | page_desc(gpa) | D_TABLE;
	}
}

int a64_boot(struct a64vcpu *cpu, uint64_t entry, uint64_t sp, uint64_t arg)
{
	uint64_t sctlr;
	int ret;

	if (entry == A64T_IMAGE_GPA)
		build_stage1(cpu->vm);
	ret = a64_get(cpu, A64_SCTLR, &sctlr);
	if (!ret)
		ret = a64_set(cpu, A64_MAIR, A64T_MAIR);
	if (!ret)
		ret = a64_set(cpu, A64_TCR, TCR_39BIT);
	if (!ret)
		ret = a64_set(cpu, A64_TTBR0, A64T_S1_GPA);
	if (!ret)
		ret = a64_set(cpu, A64_CPACR, CPACR_FPEN);
	sctlr = (sctlr | SCTLR_M | SCTLR_C | SCTLR_I) & ~(SCTLR_A | SCTLR_WXN);
	if (!ret)
		ret = a64_set(cpu, A64_SCTLR, sctlr);
	if (!ret)
		ret = a64_set(cpu, A64_CORE(regs.pstate), A64_PSTATE_EL1H_MASKED);
	if (!ret)
		ret = a64_set(cpu, A64_CORE(sp_el1), sp);
	if (!ret)
		ret = a64_set(cpu, A64_CORE(regs.regs[0]), arg);
	if (!ret)
		ret = a64_set(cpu, A64_CORE(regs.pc), entry);
	return ret;
}
