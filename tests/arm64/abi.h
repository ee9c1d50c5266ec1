/* SPDX-License-Identifier: MIT */
/*
 * What the arm64 test VMM (the C files of tests/arm64/) and its guest
 * (tests/arm64/guest/) agree on: the guest physical layout, the guest's
 * stage-1 layout the VMM builds before the first instruction, and the
 * hypercall port.  Included from C and assembly.
 *
 * Guest RAM is RAM_GPA .. RAM_GPA + RAM_SIZE, mapped at VA = IPA (stage 1
 * identity).  Below it lies nothing but the port: every other IPA there is
 * outside RAM and outside any device (the external-abort test stores
 * there).
 */
#ifndef ARM64_ABI_H
#define ARM64_ABI_H

#define A64T_RAM_GPA      0x40000000
#define A64T_RAM_SIZE     0x01000000 /* 16 MiB */
#define A64T_IMAGE_GPA    A64T_RAM_GPA            /* code, EL0-readable */
#define A64T_IMAGE_MAX    0x10000
#define A64T_DATA_GPA     (A64T_RAM_GPA + 0x10000) /* .data/.bss, EL1 only */
#define A64T_DATA_MAX     0x10000
#define A64T_S1_GPA       (A64T_RAM_GPA + 0x20000) /* the VMM's stage-1 tables */
#define A64T_USER_GPA     (A64T_RAM_GPA + 0x30000) /* EL0 read-write page */
#define A64T_KONLY_GPA    (A64T_RAM_GPA + 0x31000) /* EL1-only, after it */
#define A64T_GAP_GPA     (A64T_RAM_GPA + 0x32000) /* vCPU 1's page */
#define A64T_GAP_STOP    (A64T_GAP_GPA + 0x800)   /* the VMM sets it */
#define A64T_STACK_TOP    (A64T_RAM_GPA + 0x40000)
#define A64T_STACK1_TOP   (A64T_RAM_GPA + 0x3c000) /* vCPU 1's */
#define A64T_POOL_GPA     (A64T_RAM_GPA + 0x100000) /* IO table pages */
#define A64T_POOL_PAGES   256
#define A64T_TARGET_GPA   (A64T_RAM_GPA + 0x400000) /* what IOVAs map to */

/* An IPA with neither RAM nor a device: a store there is an external
 * abort the VMM injects. */
#define A64T_NOWHERE_GPA  0x20000000

/* The hypercall port: the guest stores a 64-bit value with a plain STR
 * (a syndrome, so KVM_EXIT_MMIO with the data).  Registers: */
#define A64T_PORT_GPA     0x09000000
#define A64T_P_ARG0       0x00 /* arguments, latched */
#define A64T_P_ARG1       0x08
#define A64T_P_ARG2       0x10
#define A64T_P_CALL       0x18 /* A64T_CALL_*: acts on the latched args */

#define A64T_CALL_ROOT      1 /* arg0: the IO table root: set_root */
#define A64T_CALL_PHASE     2 /* arg0: phase done (A64T_PH_*): verify */
#define A64T_CALL_EXPECT    3 /* arg0 iova, arg1 pa, arg2 size: mapped */
#define A64T_CALL_GONE      4 /* arg0 iova: nothing mapped there */
#define A64T_CALL_EXC       5 /* arg0 ESR, arg1 FAR, arg2 ELR: took one */
#define A64T_CALL_MARK      6 /* arg0: the next store is test arg0 */
#define A64T_CALL_DONE      7 /* arg0: 0 ok, else the guest's failure */
#define A64T_CALL_FAIL      8 /* arg0: line, arg1/arg2: values */
#define A64T_CALL_STATUS    9 /* arg0: a store-exclusive's status, arg1:
				 what memory holds there */
#define A64T_CALL_RACE     10 /* start vCPU 1 at race_main */

/* Phases of the io-pgtable guest; each ends with A64T_CALL_PHASE. */
#define A64T_PH_CASAL      1 /* tables installed by CASAL (LSE) */
#define A64T_PH_LLSC       2 /* tables installed by LDAXR/STLXR loops */
#define A64T_PH_STP        3 /* two descriptors by one STP */
#define A64T_PH_STR        4 /* leaves by plain STR */
#define A64T_PH_WRITEBACK  5 /* STR/STP with pre/post-index writeback */
#define A64T_PH_DECLINED   6 /* stores the emulator leaves to single-step */
#define A64T_PH_SPLIT      7 /* a block split by a table swapped in */
#define A64T_PH_UNMAP      8 /* leaves and tables cleared */
#define A64T_PH_FAULTS     9 /* the fault paths */
#define A64T_PH_RACE      10 /* two vCPUs' cmpxchg64 on one table page */
#define A64T_PH_ATOMICS   11 /* the other stores without syndrome */
#define A64T_PH_MAX       11

/* Root table slots the atomics phase works on (16-byte aligned). */
#define A64T_ATOM_GPA      (A64T_POOL_GPA + 480 * 8)

/* The race: vCPU 1 starts with x0 = A64T_RACE_ENTRY; each vCPU adds 4
 * (the values stay invalid descriptors) A64T_RACE_N times to each of two
 * slots of the root table (A64T_RACE_GPA: CASAL, then + 8: LDXR/STLXR);
 * vCPU 1 sets A64T_RACE_DONE when it is through. */
#define A64T_RACE_ENTRY    2
#define A64T_RACE_N        150
#define A64T_RACE_GPA      (A64T_POOL_GPA + 496 * 8)
#define A64T_RACE_DONE     (A64T_GAP_GPA + 0x810)

/* The re-cut window (tests/arm64/recut.c): a vCPU booted with x0 =
 * A64T_RECUT_ENTRY loops invalidating its TLB (so each fetch walks the
 * stage-1 tables again) and counting at A64T_RECUT_COUNT until the VMM
 * sets A64T_RECUT_STOP. */
#define A64T_RECUT_ENTRY   3
#define A64T_RECUT_COUNT   (A64T_GAP_GPA + 0x820)
#define A64T_RECUT_STOP    (A64T_GAP_GPA + 0x828)

/* Fault tests (A64T_CALL_MARK's arg0). */
#define A64T_F_NOWHERE     1 /* STP outside RAM: external abort */
#define A64T_F_EL0_KONLY   2 /* EL0 STP into the EL1-only page */
#define A64T_F_UNALIGNED_X 3 /* unaligned STXR */

/* Stage-1 attributes (MAIR_EL1 indexes). */
#define A64T_MAIR          0x00ff /* attr0 normal WB, attr1 device-nGnRnE */

#endif
