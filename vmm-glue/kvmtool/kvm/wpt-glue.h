/* SPDX-License-Identifier: MIT */
/*
 * kvmtool's hooks into libwpt and the SMMUv3 (installed as
 * include/kvm/wpt-glue.h by scripts/kvmtool/run.sh).  kvmtool's own files
 * call only these; without CONFIG_HAS_WPT they are empty inlines, so the
 * hooks cost a patched kvmtool nothing when the glue is not built in.
 * Enabled at run time by `lkvm run --smmuv3=trap|hybrid[,step]`.
 */
#ifndef KVM__WPT_GLUE_H
#define KVM__WPT_GLUE_H

#include <stdbool.h>
#include <linux/types.h>

#include "kvm/kvm.h"

struct kvm_cpu;
struct device_header;

#ifdef CONFIG_HAS_WPT
/* kvm__register_mem: true if the library creates this bank's memslots. */
bool wpt_glue__owns_mem(struct kvm *kvm, u64 guest_phys, enum kvm_mem_type type);
/* kvm__emulate_mmio: true if the exit was a store to a write-protected
 * table page (or a RAM access during a slot re-cut) and is done. */
bool wpt_glue__mmio(struct kvm_cpu *vcpu, u64 addr, u8 *data, u32 len,
		    u8 is_write);
/* kvm_cpu__handle_exit (arm64): KVM_EXIT_ARM_NISV; false for any other. */
bool wpt_glue__handle_exit(struct kvm_cpu *vcpu);
/* kvm_cpu__start, around kvm_cpu__run: enter waits while the library
 * re-cuts a memslot (every vCPU is held out of KVM_RUN then). */
void wpt_glue__vcpu_enter(struct kvm_cpu *vcpu);
void wpt_glue__vcpu_exit(struct kvm_cpu *vcpu);
/* vfio/core.c: true if the SMMU maps for this container, so kvmtool must
 * not map all of RAM into it. */
bool wpt_glue__vfio_container(struct kvm *kvm, int container_fd);
/* vfio/core.c: a VFIO PCI device, now on the guest's bus: behind the SMMU. */
int wpt_glue__vfio_device(struct kvm *kvm, struct device_header *dev_hdr);
/* arm/pci.c, inside the PCI host node: its iommu-map. */
void wpt_glue__generate_iommu_map(void *fdt, struct kvm *kvm);
#else
static inline bool wpt_glue__owns_mem(struct kvm *kvm, u64 guest_phys,
				      enum kvm_mem_type type)
{
	return false;
}
static inline bool wpt_glue__mmio(struct kvm_cpu *vcpu, u64 addr, u8 *data,
				  u32 len, u8 is_write)
{
	return false;
}
static inline bool wpt_glue__handle_exit(struct kvm_cpu *vcpu)
{
	return false;
}
static inline void wpt_glue__vcpu_enter(struct kvm_cpu *vcpu)
{
}
static inline void wpt_glue__vcpu_exit(struct kvm_cpu *vcpu)
{
}
static inline bool wpt_glue__vfio_container(struct kvm *kvm, int container_fd)
{
	return false;
}
static inline int wpt_glue__vfio_device(struct kvm *kvm,
					struct device_header *dev_hdr)
{
	return 0;
}
static inline void wpt_glue__generate_iommu_map(void *fdt, struct kvm *kvm)
{
}
#endif

#endif /* KVM__WPT_GLUE_H */
