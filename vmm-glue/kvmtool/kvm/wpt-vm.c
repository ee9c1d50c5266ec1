/* SPDX-License-Identifier: MIT */
/*
 * libwpt inside kvmtool: the library owns guest RAM's memslots (so it can
 * make table pages read-only), every MMIO exit asks it first, and
 * KVM_CAP_ARM_NISV_TO_USER brings it the stores KVM cannot decode.
 * Enabled by `lkvm run --smmuv3=trap|hybrid[,step]`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "kvm/kvm.h"
#include "kvm/kvm-cpu.h"
#include "kvm/util.h"
#include "kvm/util-init.h"

#include "wpt-glue-internal.h"

struct wpt_glue wpt_glue;

/* kvmtool numbers its own memslots from 0 up (the lowest free id): the
 * library's start well above them.  RAM is pre-cut into 2 MiB slots so
 * protecting a table page re-creates 2 MiB, never all of RAM, and KVM
 * keeps its stage-2 mappings of the rest. */
#define WPT_GLUE_SLOT_BASE 512
#define WPT_GLUE_SLOT_GRANULE (2ull << 20)

/* --smmuv3=WORD[,WORD]: trap (also "1") or hybrid; step sends
 * every NISV exit down the single-step path (to test it). */
static bool wpt_glue__parse(struct kvm *kvm)
{
	const char *opt = kvm->cfg.arch.smmuv3;
	char words[64], *w, *save;

	if (!opt || wpt_glue.enabled)
		return wpt_glue.enabled;
	wpt_glue.enabled = true;
	wpt_glue.mode = WPT_MODE_TRAP;
	snprintf(words, sizeof(words), "%s", opt);
	for (w = strtok_r(words, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!strcmp(w, "hybrid"))
			wpt_glue.mode = WPT_MODE_HYBRID;
		else if (!strcmp(w, "step"))
			wpt_glue.force_step = true;
		else if (strcmp(w, "trap") && strcmp(w, "1"))
			die("--smmuv3=%s: expected trap or hybrid, and step", opt);
	}
	return true;
}

/* Guest DRAM, registered by kvm__init before the library exists, is the
 * library's; later RAM (pvtime's page) keeps a kvmtool slot: no guest
 * puts IO page tables there. */
bool wpt_glue__owns_mem(struct kvm *kvm, u64 guest_phys,
			enum kvm_mem_type type)
{
	return wpt_glue__parse(kvm) && !wpt_glue.vm &&
	       type == KVM_MEM_TYPE_RAM && guest_phys >= ARM_MEMORY_AREA;
}

struct wpt_glue_regions {
	struct wpt_ram_region r[8];
	unsigned int n;
};

static int wpt_glue__add_bank(struct kvm *kvm, struct kvm_mem_bank *bank,
			      void *data)
{
	struct wpt_glue_regions *regs = data;

	if (bank->guest_phys_addr < ARM_MEMORY_AREA)
		return 0;
	if (regs->n == ARRAY_SIZE(regs->r))
		return -ENOSPC;
	regs->r[regs->n++] = (struct wpt_ram_region){
		.gpa = bank->guest_phys_addr, .size = bank->size,
		.hva = bank->host_addr,
	};
	return 0;
}

static void wpt_glue__log(void *opaque, int level, const char *msg)
{
	pr_warning("wpt: %s", msg);
}

static int wpt_glue__init(struct kvm *kvm)
{
	struct wpt_glue_regions regs = { .n = 0 };
	int nr_slots = kvm__supports_extension(kvm, KVM_CAP_NR_MEMSLOTS) ?
		ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS) : 0;
	struct wpt_kvm_cfg kcfg = {
		.vm_fd = kvm->vm_fd, .slot_base = WPT_GLUE_SLOT_BASE,
		.slot_granule = WPT_GLUE_SLOT_GRANULE,
	};
	struct wpt_vm_cfg cfg = {
		.size = sizeof(cfg), .kvm = &kcfg,
		.log = wpt_glue__log,
		/* Re-cuts with every vCPU out of KVM_RUN: Linux puts IO
		 * tables next to code and CPU page tables. */
		.quiesce = &wpt_glue__quiesce_ops,
	};
	struct kvm_enable_cap cap = { .cap = KVM_CAP_ARM_NISV_TO_USER };
	int r;

	if (!wpt_glue__parse(kvm))
		return 0;
	if (nr_slots <= WPT_GLUE_SLOT_BASE)
		die("wpt: KVM has %d memslots, the library needs more than %d",
		    nr_slots, WPT_GLUE_SLOT_BASE);
	kcfg.slot_budget = nr_slots - WPT_GLUE_SLOT_BASE;
	r = kvm__for_each_mem_bank(kvm, KVM_MEM_TYPE_RAM, wpt_glue__add_bank,
				   &regs);
	if (r < 0 || !regs.n)
		die("wpt: no guest RAM to hand over (%d)", r);
	cfg.regions = regs.r;
	cfg.nr_regions = regs.n;
	wpt_glue__quiesce_init(kvm);
	r = wpt_vm_new(&cfg, &wpt_glue.vm);
	if (r < 0)
		die("wpt: wpt_vm_new: %s", strerror(-r));
	/* Linux installs tables with cmpxchg64 (CAS or LDXR/STXR): no
	 * syndrome, so without this KVM_RUN fails with ENOSYS. */
	if (ioctl(kvm->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		die_perror("wpt: KVM_ENABLE_CAP(KVM_CAP_ARM_NISV_TO_USER)");
	return 0;
}
base_init(wpt_glue__init);

bool wpt_glue__mmio(struct kvm_cpu *vcpu, u64 addr, u8 *data, u32 len,
		    u8 is_write)
{
	int r;

	if (!wpt_glue.vm)
		return false;
	r = wpt_vm_handle_mmio(wpt_glue.vm, addr, data, len, is_write);
	if (r < 0)
		pr_warning("wpt: %s of %u bytes at 0x%llx: %s",
			   is_write ? "store" : "load", len,
			   (unsigned long long)addr, strerror(-r));
	/* A sink error comes after RAM took the store: it was ours. */
	return r != 0;
}

bool wpt_glue__handle_exit(struct kvm_cpu *vcpu)
{
	if (!wpt_glue.vm || vcpu->kvm_run->exit_reason != KVM_EXIT_ARM_NISV)
		return false;
	return wpt_glue__nisv(vcpu) == 0;
}

/* The counters a kvmtool user (and make check-kvmtool) reads. */
static void wpt_glue__print_stats(void)
{
	struct wpt_vm_stats st;

	if (wpt_vm_stats(wpt_glue.vm, &st, sizeof(st)) < 0)
		return;
	fprintf(stderr, "  # wpt: trapped stores %llu, NISV exits %llu "
		"(emulated %llu, stepped %llu, aborts injected %llu), "
		"descriptors changed %llu, pages protected %llu, "
		"slot ops %llu, quiesces %llu, errors %llu\n",
		(unsigned long long)st.exits_handled,
		(unsigned long long)wpt_glue.nisv_exits,
		(unsigned long long)wpt_glue.nisv_emulated,
		(unsigned long long)wpt_glue.nisv_stepped,
		(unsigned long long)wpt_glue.nisv_aborts,
		(unsigned long long)st.descs_changed,
		(unsigned long long)st.protects,
		(unsigned long long)st.slot_ops,
		(unsigned long long)st.quiesces,
		(unsigned long long)st.errors);
}

static int wpt_glue__exit(struct kvm *kvm)
{
	if (!wpt_glue.vm)
		return 0;
	wpt_glue__print_stats();
	wpt_vm_free(wpt_glue.vm);
	wpt_glue.vm = NULL;
	return 0;
}
base_exit(wpt_glue__exit);
