/* SPDX-License-Identifier: MIT */
/*
 * The bench guest's main: check the parameter block, run one workload,
 * report.  Entered from start.S with this vCPU's struct bench_params.
 *
 * Two vCPUs run this image at once, so nothing here (or in the driver)
 * keeps per-vCPU state in globals: everything lives on the stack or in the
 * vCPU's own area (BENCH_CPU_GPA(cpu)).  The stack is the top of that area,
 * down towards BENCH_OFF_CMDQ + 4 KiB (about 956 KiB).
 *
 * Workloads:
 *   BENCH_W_CAL_EXIT  done here: PHASE_START, p->ops 8-byte writes to
 *                     SMMU_R_NOP, PHASE_END.  Test aid: with p->seed != 0
 *                     it first stores p->seed (one 8-byte store) to the
 *                     GPA p->iova_base, which must be 8-aligned and at or
 *                     above BENCH_ARENA_GPA (the system area below holds
 *                     this code and the stacks).  That is how the VMM's
 *                     test makes the guest store to a page the library
 *                     protects without the IOMMU driver, to a device
 *                     register, or (past 4 GiB, unmapped) take a fault.
 *   BENCH_W_CAL_CX16  done here: one lock cmpxchg16b (abi.h says how).
 *   everything else   work_main() (bench/guest/work.c).
 */
#include <stddef.h>
#include <stdint.h>

#include "abi.h"
#include "drv.h"

void bench_main(struct bench_params *p);
void *memset(void *dst, int c, size_t n);

/* One 8-byte store, one instruction (what KVM decodes on the exit), and a
 * compiler barrier: what the guest wrote to RAM before is visible to the
 * VMM when it handles this exit. */
static inline void write64(uint64_t gpa, uint64_t value)
{
	__asm__ volatile("movq %1, (%0)"
			 : : "r"(gpa), "r"(value) : "memory");
}

static int cal_exit(const struct bench_params *p)
{
	uint64_t i;

	if (p->seed) {
		if (p->iova_base & 7 || p->iova_base < BENCH_ARENA_GPA)
			return BENCH_E_PARAMS;
		write64(p->iova_base, p->seed);
	}
	write64(p->mmio_gpa + SMMU_R_PHASE, BENCH_PHASE_START);
	for (i = 0; i < p->ops; i++)
		write64(p->mmio_gpa + SMMU_R_NOP, i);
	write64(p->mmio_gpa + SMMU_R_PHASE, BENCH_PHASE_END);
	return 0;
}

/* BENCH_W_CAL_CX16 (abi.h): one 16-byte compare-and-exchange. */
static int cal_cx16(const struct bench_params *p)
{
	volatile uint64_t *m = (volatile uint64_t *)(uintptr_t)p->iova_base;
	uint64_t lo = m[0], hi = m[1];
	uint8_t ok;

	if (p->iova_base & 15 || p->iova_base < BENCH_ARENA_GPA)
		return BENCH_E_PARAMS;
	write64(p->mmio_gpa + SMMU_R_PHASE, BENCH_PHASE_START);
	__asm__ volatile("lock cmpxchg16b %1; sete %0"
			 : "=q"(ok), "+m"(*(volatile __int128 *)m),
			   "+a"(lo), "+d"(hi)
			 : "b"(p->seed), "c"(p->bulk_bytes)
			 : "memory", "cc");
	write64(p->mmio_gpa + SMMU_R_PHASE, BENCH_PHASE_END);
	return ok ? 0 : BENCH_E_CMPXCHG;
}

/* The block is the VMM's word on who this vCPU is: check it agrees with
 * where the VMM put it. */
static int params_ok(const struct bench_params *p, unsigned int cpu)
{
	return p->magic == BENCH_PARAMS_MAGIC && p->cpu == cpu &&
	       p->mmio_gpa == BENCH_MMIO_GPA(cpu);
}

void bench_main(struct bench_params *p)
{
	uint64_t area = (uint64_t)(uintptr_t)p - BENCH_OFF_PARAMS;
	uint64_t cpu = (area - BENCH_CPU_GPA(0)) / BENCH_CPU_AREA;
	struct bench_result *r = (void *)(uintptr_t)(area + BENCH_OFF_RESULT);
	uint64_t status;

	/* Not where the VMM puts a block: no SMMU page to report to. */
	if (area < BENCH_CPU_GPA(0) || cpu >= BENCH_MAX_CPUS ||
	    area != BENCH_CPU_GPA(cpu))
		__builtin_trap();
	memset(r, 0, sizeof(*r));
	if (!params_ok(p, cpu))
		status = BENCH_E_PARAMS;
	else if (p->workload == BENCH_W_CAL_EXIT)
		status = cal_exit(p);
	else if (p->workload == BENCH_W_CAL_CX16)
		status = cal_cx16(p);
	else
		status = work_main(p, r);
	r->status = status;
	/* The last act: the VMM stops running this vCPU on it. */
	write64(BENCH_MMIO_GPA(cpu) + SMMU_R_DONE, status);
}
