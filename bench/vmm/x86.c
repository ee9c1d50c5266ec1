/* SPDX-License-Identifier: MIT */
/*
 * The x86 machine state the bench guest starts in: 64-bit mode set up
 * straight through KVM_SET_SREGS (no 32-bit trampoline), flat segments,
 * identity-mapped 2 MiB pages, a GDT and a busy 64-bit TSS in guest RAM,
 * at CPL0 or CPL3 (vmm.c's comment says what kvm_pvm accepts).
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm_impl.h"

/* ---- the system area [BENCH_PT_GPA, BENCH_IMAGE_GPA) ---- */
#define PML4_GPA (BENCH_PT_GPA + 0x0000)
#define PDPT_GPA (BENCH_PT_GPA + 0x1000)
#define PD_GPA (BENCH_PT_GPA + 0x2000)  /* 4 pages: 0..4 GiB in 2 MiB */
#define NR_PDS 4
#define GDT_GPA (BENCH_PT_GPA + 0x6000)
#define TSS_GPA (BENCH_PT_GPA + 0x7000)
#define TSS_LIMIT 0x67                  /* a 64-bit TSS is 104 bytes */

#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_PS (1ull << 7)              /* a 2 MiB page in a PD */

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

/* GDT selectors: kernel code/data, then user data before user code (the
 * SYSRET order, kept out of habit). */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x18
#define SEL_UCODE 0x20
#define SEL_TSS 0x28                    /* 16-byte system descriptor */
#define GDT_ENTRIES 7

#define SEG_CODE_XRA 11                 /* execute/read, accessed */
#define SEG_DATA_RWA 3                  /* read/write, accessed */
#define SEG_TSS64_BUSY 11

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* Identity map 0..4 GiB with 2 MiB pages, every level User|RW: the driver
 * runs at CPL3 and touches its tables, the arena and its MMIO page. */
static void build_page_tables(uint8_t *ram)
{
	const uint64_t flags = PTE_P | PTE_RW | PTE_US;
	unsigned int i;

	memset(ram + BENCH_PT_GPA, 0, PD_GPA + NR_PDS * 0x1000 - BENCH_PT_GPA);
	put64(ram + PML4_GPA, PDPT_GPA | flags);
	for (i = 0; i < NR_PDS; i++)
		put64(ram + PDPT_GPA + 8 * i, (PD_GPA + 0x1000 * i) | flags);
	for (i = 0; i < NR_PDS * 512; i++)
		put64(ram + PD_GPA + 8 * i, ((uint64_t)i << 21) | flags | PTE_PS);
}

/* A code or data descriptor: flat, 4 KiB granular. */
static uint64_t gdt_seg(unsigned int type, unsigned int dpl, bool code)
{
	uint64_t d = 0xffffull | 0xfull << 48; /* limit 0xfffff */

	d |= (uint64_t)type << 40 | 1ull << 44 /* S */ |
	     (uint64_t)dpl << 45 | 1ull << 47 /* P */ | 1ull << 55 /* G */;
	d |= code ? 1ull << 53 /* L */ : 1ull << 54 /* D/B */;
	return d;
}

static void build_gdt(uint8_t *ram)
{
	uint64_t tss_lo = TSS_LIMIT | (TSS_GPA & 0xffffff) << 16 |
			  (uint64_t)SEG_TSS64_BUSY << 40 | 1ull << 47 |
			  (TSS_GPA >> 24 & 0xff) << 56;

	memset(ram + GDT_GPA, 0, GDT_ENTRIES * 8);
	put64(ram + GDT_GPA + SEL_KCODE, gdt_seg(SEG_CODE_XRA, 0, true));
	put64(ram + GDT_GPA + SEL_KDATA, gdt_seg(SEG_DATA_RWA, 0, false));
	put64(ram + GDT_GPA + SEL_UDATA, gdt_seg(SEG_DATA_RWA, 3, false));
	put64(ram + GDT_GPA + SEL_UCODE, gdt_seg(SEG_CODE_XRA, 3, true));
	put64(ram + GDT_GPA + SEL_TSS, tss_lo);
	put64(ram + GDT_GPA + SEL_TSS + 8, TSS_GPA >> 32);
	/* An empty TSS: no interrupt stacks (there are no interrupts) and
	 * the I/O bitmap offset past the limit (no port access at CPL3). */
	memset(ram + TSS_GPA, 0, TSS_LIMIT + 1);
	ram[TSS_GPA + 0x66] = TSS_LIMIT + 1;
}

void x86_build_system_area(uint8_t *ram)
{
	build_page_tables(ram);
	build_gdt(ram);
}

static void seg_flat(struct kvm_segment *s, uint16_t sel, unsigned int dpl,
		     bool code)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel,
		.type = code ? SEG_CODE_XRA : SEG_DATA_RWA,
		.present = 1, .dpl = dpl, .s = 1, .g = 1,
		.l = code, .db = !code,
	};
}

/* Long mode at the image entry, as the file comment says. */
int x86_vcpu_reset(struct bvm_vcpu *v, bool cpl0)
{
	unsigned int dpl = cpl0 ? 0 : 3;
	uint16_t cs = cpl0 ? SEL_KCODE : SEL_UCODE | 3;
	uint16_t ds = cpl0 ? SEL_KDATA : SEL_UDATA | 3;
	uint64_t area = BENCH_CPU_GPA(v->index);
	struct kvm_sregs sregs;
	struct kvm_regs regs = {
		.rip = BENCH_IMAGE_GPA,
		.rdi = area + BENCH_OFF_PARAMS,
		.rsp = area + BENCH_OFF_STACK_TOP,
		.rflags = 0x2, /* bit 1 reads as one; IF clear */
	};

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	seg_flat(&sregs.cs, cs, dpl, true);
	seg_flat(&sregs.ds, ds, dpl, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.tr = (struct kvm_segment){
		.base = TSS_GPA, .limit = TSS_LIMIT, .selector = SEL_TSS,
		.type = SEG_TSS64_BUSY, .present = 1,
	};
	sregs.ldt = (struct kvm_segment){ .unusable = 1, .type = 2 };
	sregs.gdt.base = GDT_GPA;
	sregs.gdt.limit = GDT_ENTRIES * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs.cr3 = PML4_GPA;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	memset(sregs.interrupt_bitmap, 0, sizeof(sregs.interrupt_bitmap));
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}
