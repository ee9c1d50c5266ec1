/* SPDX-License-Identifier: MIT */
/*
 * The glue's state inside kvmtool: one per VM, as kvmtool has one VM per
 * process (its devices keep such state in file-level statics too).
 */
#ifndef KVM__WPT_GLUE_INTERNAL_H
#define KVM__WPT_GLUE_INTERNAL_H

#include <stdint.h>

#include "wpt.h"
#include "smmuv3.h"
#include "kvm/wpt-glue.h"

#define WPT_GLUE_MAX_STREAMS 32

struct wpt_glue {
	bool enabled;               /* --smmuv3 given */
	enum wpt_mode mode;         /* trap (default) or hybrid */
	bool force_step;            /* NISV: skip the emulator, single-step */
	struct wpt_vm *vm;          /* from base_init on */
	struct smmuv3 *smmu;        /* from dev_init on */
	struct wpt_sink *sink;      /* the VFIO container's: one domain */
	uint32_t sids[WPT_GLUE_MAX_STREAMS];
	unsigned int nr_sids;
	int irqs[SMMUV3_NR_IRQS];
	/* NISV exits: */
	uint64_t nisv_exits, nisv_emulated, nisv_stepped, nisv_aborts;
};

extern struct wpt_glue wpt_glue;

/* wpt-nisv.c */
int wpt_glue__nisv(struct kvm_cpu *vcpu);

/* wpt-quiesce.c: the vCPUs out of KVM_RUN around the library's re-cuts. */
extern const struct wpt_quiesce_ops wpt_glue__quiesce_ops;
void wpt_glue__quiesce_init(struct kvm *kvm);

#endif
