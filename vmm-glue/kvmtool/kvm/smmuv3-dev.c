/* SPDX-License-Identifier: MIT */
/*
 * The SMMUv3 as a kvmtool device (arm64): the model (../smmuv3-*.c) on a
 * 128 KiB MMIO frame in the platform area, three wired SPIs, a device-tree
 * node, and an iommu-map in the PCI host node that puts the VFIO devices,
 * and only them, behind it (emulated devices DMA through kvmtool itself,
 * which no IOMMU of the guest's governs).  The VFIO container's mappings
 * come only from the libwpt domain of the streams' configuration.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/sizes.h>
#include <linux/vfio.h>

#include "kvm/devices.h"
#include "kvm/fdt.h"
#include "kvm/irq.h"
#include "kvm/kvm.h"
#include "kvm/kvm-cpu.h"
#include "kvm/util.h"
#include "kvm/util-init.h"

#include "wpt-glue-internal.h"

/* After UART, RTC and pvtime in the platform MMIO area, 128 KiB aligned. */
#define SMMUV3_KVM_BASE (ARM_PVTIME_BASE + ARM_PVTIME_SIZE + SZ_64K)

static int wpt_glue_container = -1;

/* ---- the model's host: guest RAM, interrupts, bypass ---- */

static void *smmuv3_kvm__ram(struct kvm *kvm, u64 gpa, u32 len)
{
	u8 *p = guest_flat_to_host(kvm, gpa);

	/* Both ends in one bank: kvmtool maps each bank contiguously. */
	if (!p || !len || guest_flat_to_host(kvm, gpa + len - 1) != p + len - 1)
		return NULL;
	return p;
}

static int smmuv3_kvm__read(void *opaque, uint64_t gpa, void *buf,
			    uint32_t len)
{
	void *p = smmuv3_kvm__ram(opaque, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

static int smmuv3_kvm__write(void *opaque, uint64_t gpa, const void *buf,
			     uint32_t len)
{
	void *p = smmuv3_kvm__ram(opaque, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, buf, len);
	return 0;
}

static void smmuv3_kvm__irq(void *opaque, enum smmuv3_irq irq)
{
	kvm__irq_trigger(opaque, wpt_glue.irqs[irq]);
}

static int smmuv3_kvm__bypass_bank(struct kvm *kvm, struct kvm_mem_bank *bank,
				   void *data)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (unsigned long)bank->host_addr,
		.iova = bank->guest_phys_addr, .size = bank->size,
	};
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = bank->guest_phys_addr, .size = bank->size,
	};
	int r = *(int *)data ?
		ioctl(wpt_glue_container, VFIO_IOMMU_MAP_DMA, &map) :
		ioctl(wpt_glue_container, VFIO_IOMMU_UNMAP_DMA, &unmap);

	return r < 0 ? -errno : 0;
}

/* Bypass (SMMUEN = 0 with GBPA.ABORT = 0, or a bypass STE): kvmtool's own
 * behaviour without an SMMU, all RAM at IOVA = GPA. */
static int smmuv3_kvm__bypass(void *opaque, struct wpt_sink *sink, int on)
{
	return kvm__for_each_mem_bank(opaque, KVM_MEM_TYPE_RAM,
				      smmuv3_kvm__bypass_bank, &on);
}

/* ---- hooks from vfio/core.c ---- */

bool wpt_glue__vfio_container(struct kvm *kvm, int container_fd)
{
	int r;

	if (!wpt_glue.enabled)
		return false;
	wpt_glue_container = container_fd;
	r = wpt_sink_vfio_new(container_fd, &wpt_glue.sink);
	if (r < 0)
		die("wpt: wpt_sink_vfio_new: %s", strerror(-r));
	return true;
}

/* kvmtool's PCI bus is bus 0, function 0: the requester ID, and so the
 * stream ID, is the device number << 3. */
int wpt_glue__vfio_device(struct kvm *kvm, struct device_header *dev_hdr)
{
	if (!wpt_glue.enabled)
		return 0;
	if (wpt_glue.nr_sids == WPT_GLUE_MAX_STREAMS)
		return -ENOSPC;
	wpt_glue.sids[wpt_glue.nr_sids++] = dev_hdr->dev_num << 3;
	return 0;
}

void wpt_glue__generate_iommu_map(void *fdt, struct kvm *kvm)
{
	u32 map[WPT_GLUE_MAX_STREAMS][4];
	unsigned int i;

	if (!wpt_glue.enabled || !wpt_glue.nr_sids)
		return;
	for (i = 0; i < wpt_glue.nr_sids; i++) {
		map[i][0] = cpu_to_fdt32(wpt_glue.sids[i]); /* RID */
		map[i][1] = cpu_to_fdt32(PHANDLE_SMMUV3);
		map[i][2] = cpu_to_fdt32(wpt_glue.sids[i]); /* SID */
		map[i][3] = cpu_to_fdt32(1);
	}
	_FDT(fdt_property(fdt, "iommu-map", map, i * sizeof(map[0])));
}

/* ---- the device ---- */

static void smmuv3_kvm__mmio(struct kvm_cpu *vcpu, u64 addr, u8 *data,
			     u32 len, u8 is_write, void *ptr)
{
	if (smmuv3__mmio(wpt_glue.smmu, addr - SMMUV3_KVM_BASE, data, len,
			 is_write) < 0 && !is_write)
		memset(data, 0, len);
}

static void smmuv3_kvm__generate_fdt_node(void *fdt,
					  struct device_header *dev_hdr,
					  void (*generate_irq_prop)(void *fdt,
								    u8 irq,
								    enum irq_type))
{
	static const char names[] = "eventq\0gerror\0cmdq-sync";
	u64 reg[] = { cpu_to_fdt64(SMMUV3_KVM_BASE),
		      cpu_to_fdt64(SMMUV3_FRAME_SIZE) };
	u32 irqs[SMMUV3_NR_IRQS * 3];
	char name[32];
	int i;

	for (i = 0; i < SMMUV3_NR_IRQS; i++) {
		irqs[3 * i] = cpu_to_fdt32(0); /* GIC_SPI */
		irqs[3 * i + 1] = cpu_to_fdt32(wpt_glue.irqs[i] - KVM_IRQ_OFFSET);
		irqs[3 * i + 2] = cpu_to_fdt32(IRQ_TYPE_EDGE_RISING);
	}
	snprintf(name, sizeof(name), "smmuv3@%llx",
		 (unsigned long long)SMMUV3_KVM_BASE);
	_FDT(fdt_begin_node(fdt, name));
	_FDT(fdt_property_string(fdt, "compatible", "arm,smmu-v3"));
	_FDT(fdt_property(fdt, "reg", reg, sizeof(reg)));
	_FDT(fdt_property(fdt, "interrupts", irqs, sizeof(irqs)));
	_FDT(fdt_property(fdt, "interrupt-names", names, sizeof(names)));
	_FDT(fdt_property(fdt, "dma-coherent", NULL, 0));
	_FDT(fdt_property_cell(fdt, "#iommu-cells", 1));
	_FDT(fdt_property_cell(fdt, "phandle", PHANDLE_SMMUV3));
	_FDT(fdt_end_node(fdt));
}

static struct device_header smmuv3_kvm_dev = {
	.bus_type = DEVICE_BUS_MMIO,
	.data = smmuv3_kvm__generate_fdt_node,
};

/* After vfio__init (dev_base_init) has found the streams. */
static int smmuv3_kvm__init(struct kvm *kvm)
{
	struct smmuv3_cfg cfg = {
		.size = sizeof(cfg), .vm = wpt_glue.vm, .mode = wpt_glue.mode,
		.host = { .opaque = kvm, .read = smmuv3_kvm__read,
			  .write = smmuv3_kvm__write, .irq = smmuv3_kvm__irq,
			  .bypass = smmuv3_kvm__bypass },
	};
	unsigned int i;
	int r;

	if (!wpt_glue.enabled)
		return 0;
	r = smmuv3__new(&cfg, &wpt_glue.smmu);
	for (i = 0; i < wpt_glue.nr_sids && !r; i++)
		r = smmuv3__add_stream(wpt_glue.smmu, wpt_glue.sids[i],
				       wpt_glue.sink);
	for (i = 0; i < SMMUV3_NR_IRQS && !r; i++)
		wpt_glue.irqs[i] = irq__alloc_line();
	if (!r)
		r = kvm__register_mmio(kvm, SMMUV3_KVM_BASE, SMMUV3_FRAME_SIZE,
				       false, smmuv3_kvm__mmio, NULL);
	if (!r)
		r = device__register(&smmuv3_kvm_dev);
	return r;
}
dev_init(smmuv3_kvm__init);

static int smmuv3_kvm__exit(struct kvm *kvm)
{
	struct smmuv3_stats st;
	struct wpt_sink_stats ss = { 0 };

	if (!wpt_glue.smmu)
		return 0;
	smmuv3__stats(wpt_glue.smmu, &st);
	if (wpt_glue.sink)
		wpt_sink_stats(wpt_glue.sink, &ss);
	fprintf(stderr, "  # smmuv3 (%s): commands %llu (CFGI %llu, TLBI %llu, "
		"SYNC %llu), errors %llu, events %llu, domains %llu, "
		"VFIO maps %llu, unmaps %llu, sink errors %llu\n",
		wpt_glue.mode == WPT_MODE_HYBRID ? (wpt_glue.force_step ?
			"hybrid,step" : "hybrid") :
		wpt_glue.force_step ? "trap,step" : "trap",
		(unsigned long long)st.cmds, (unsigned long long)st.cfgi,
		(unsigned long long)st.tlbi, (unsigned long long)st.syncs,
		(unsigned long long)st.cmd_errors,
		(unsigned long long)st.events,
		(unsigned long long)st.domains_created,
		(unsigned long long)ss.maps, (unsigned long long)ss.unmaps,
		(unsigned long long)ss.errors);
	smmuv3__free(wpt_glue.smmu); /* unmaps what its domains mapped */
	wpt_glue.smmu = NULL;
	wpt_sink_free(wpt_glue.sink);
	wpt_glue.sink = NULL;
	return 0;
}
dev_exit(smmuv3_kvm__exit);
