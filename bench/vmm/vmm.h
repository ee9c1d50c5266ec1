/* SPDX-License-Identifier: MIT */
/*
 * The bench's small VMM: one KVM VM whose RAM (BENCH_RAM_SIZE bytes at GPA
 * 0) is registered through wptrack's KVM memslot backend, up to
 * BENCH_MAX_CPUS vCPUs in 64-bit mode set up through KVM_SET_SREGS, and the
 * freestanding guest image (bench/guest/) loaded at BENCH_IMAGE_GPA.
 *
 * Every MMIO exit goes to wpt_vm_handle_mmio() first, as a real VMM would
 * wire it; what the library does not take and is not one of the harness
 * registers of the vCPU's own SMMU page (SMMU_R_NOP, SMMU_R_PHASE,
 * SMMU_R_DONE) goes to cfg->mmio, the emulated SMMU.
 *
 * Threads: bvm_run() runs each vCPU on a thread of its own when there are
 * several (the calling thread when one), so cfg->mmio may be called from
 * several threads at once, each with its own cpu.  Everything else is for
 * one thread at a time.
 */
#ifndef WPT_BENCH_VMM_H
#define WPT_BENCH_VMM_H

#include <stdbool.h>
#include <stdint.h>

#include "../abi.h"

struct bvm;
struct wpt_vm;

struct bvm_cfg {
	unsigned int nr_cpus;        /* 1..BENCH_MAX_CPUS */
	bool cpl0;                   /* run guest code at CPL0; default CPL3 */
	/* wpt_kvm_cfg.slot_granule (0: one big slot).  With more than one
	 * vCPU it must divide BENCH_ARENA_GPA (e.g. 2 MiB), so that re-cutting
	 * a table page's slot never takes away the system area's. */
	uint64_t slot_granule;
	uint32_t slot_budget;        /* wpt_kvm_cfg.slot_budget (0: a default) */
	/* Test aid for the single-step path (wpt_vm_step_begin/end): every
	 * store to guest RAM that exits as KVM_EXIT_MMIO is not handed to
	 * wpt_vm_handle_mmio with its data but run again for real: RIP goes
	 * back to the store (x86_store.c finds it), the library makes
	 * the page writable, the vCPU single-steps it, the library protects
	 * and diffs the page.  Single-step works at CPL0 only on the nested
	 * test machines, so this wants cpl0.  A store whose start cannot be
	 * found is applied the usual way (counted in step_fallbacks).
	 * Whatever this says, a store KVM's emulator refuses at a protected
	 * page (KVM_EXIT_INTERNAL_ERROR, an emulation failure: cmpxchg16b,
	 * SSE stores) is single-stepped the same way. */
	bool force_step;
	/* Protection by the library's userfaultfd backend instead of its
	 * memslot backend (wpt_vm_cfg.uffd): the VMM registers RAM as one
	 * read-write slot of its own and never changes it; trapped stores
	 * still come as KVM_EXIT_MMIO (KVM emulates a store it cannot make).
	 * Excludes slot_granule, and force_step. */
	bool uffd;
	/* The same backend in WPT_UFFD_BLOCK mode: a store to a protected
	 * page blocks the vCPU; a service thread (uffd_service.c)
	 * kicks it with a signal, its KVM_RUN returns -EINTR and it
	 * single-steps the store (wpt_vm_uffd_step_begin).  Wants CPL3: at
	 * CPL0 this host's KVM retries the interrupted fault forever.  At
	 * CPL3 single-step does not trap here, so "the step" runs to the
	 * vCPU's next exit, which is handled only after wpt_vm_step_end:
	 * the shadow is current at every exit, not after every store.
	 * Excludes uffd, slot_granule and force_step. */
	bool uffd_block;
	/* Memslot re-cuts with every vCPU held out of KVM_RUN (the
	 * library's wpt_quiesce_ops, pause.c): a vCPU then never meets a
	 * chunk without its slot, so with several vCPUs the system area may
	 * share a chunk with table pages (slot_granule 0 allowed).  The
	 * memslot backend only: excludes uffd and uffd_block. */
	bool quiesce;
	/* Called for each MMIO exit the library did not take and that is not
	 * one of the harness registers: cpu, gpa, data (in for writes, out
	 * for reads), len.  0, or -errno to stop that vCPU with an error.
	 * NULL: such an exit is an error. */
	int (*mmio)(void *opaque, unsigned int cpu, uint64_t gpa,
		    uint8_t *data, uint32_t len, bool is_write);
	/* Optional: called on the vCPU's thread at each PHASE mark (before
	 * the START timestamp is taken, after the others), so the caller can
	 * snapshot counters at the edges of the timed part. */
	void (*phase)(void *opaque, unsigned int cpu, unsigned int phase);
	void *opaque;
};

/*
 * What one vCPU did in one bvm_run().  The *_at_phase[] counts are taken
 * when the phase write is handled and include that write's own exit, so
 * between two marks lie the exits in between plus the later mark's one;
 * phase_ns[] likewise brackets them (index = BENCH_PHASE_*; 0 unused).
 */
struct bvm_cpu_stats {
	uint64_t runs;          /* KVM_RUN returns */
	uint64_t mmio_exits;    /* KVM_EXIT_MMIO */
	uint64_t lib_exits;     /* taken by wpt_vm_handle_mmio (returned 1) */
	uint64_t lib_ns;        /* time inside wpt_vm_handle_mmio for those */
	uint64_t dev_exits;     /* given to cfg->mmio */
	uint64_t harness_exits; /* NOP, PHASE, DONE */
	uint64_t phase_ns[4];   /* CLOCK_MONOTONIC at PHASE_START/MID/END */
	uint64_t exits_at_phase[4];     /* mmio_exits at each phase mark */
	uint64_t lib_exits_at_phase[4];
	uint64_t dev_exits_at_phase[4];
	uint64_t done_status;   /* value written to SMMU_R_DONE */
	/* The single-step path: stores run again by single step under
	 * force_step (counted in lib_exits and lib_ns too), and their time
	 * from wpt_vm_step_begin to the end of wpt_vm_step_end; refused:
	 * emulation failures single-stepped (in steps and step_ns, not in
	 * mmio_exits); fallbacks: force_step stores applied the usual way. */
	uint64_t steps;
	uint64_t step_ns;
	uint64_t step_refused;
	uint64_t step_fallbacks;
	/* uffd_block: KVM_RUN interrupted by a kick, and of those the ones
	 * that found a blocked store to step (also counted in steps,
	 * step_ns and lib_exits). */
	uint64_t kicks;
	uint64_t uffd_steps;
};

/* Open /dev/kvm and build the VM, its RAM, page tables, image, library
 * context and vCPUs.  0, or -errno: -EINVAL a bad cfg, the failing call's
 * errno otherwise (-ENOENT, -EACCES, -ENODEV: /dev/kvm is unusable). */
int bvm_new(const struct bvm_cfg *cfg, struct bvm **out);

/* Free the library context (its domains must be freed first), the vCPUs
 * and the VM. */
void bvm_free(struct bvm *vm);

uint8_t *bvm_ram(struct bvm *vm);     /* HVA of GPA 0, BENCH_RAM_SIZE bytes */
struct wpt_vm *bvm_wpt(struct bvm *vm);
int bvm_vm_fd(const struct bvm *vm);

/*
 * Write params[c] into each vCPU's area, reset each vCPU to the image entry
 * (long mode, CPL per cfg, rdi = its params' GPA, rsp = its stack top), run
 * all vCPUs (a thread each when more than one) until each writes
 * SMMU_R_DONE; fill st[c] and copy each vCPU's struct bench_result to
 * res[c] (res and st may be NULL).  0, or -errno (a KVM error, an
 * unexpected exit, an error from the library or cfg->mmio, -EOVERFLOW a
 * guest stack that ran down into its command queue): then
 * bvm_last_error() says which vCPU, what and where.
 *
 * The guest's stack: from BENCH_CPU_GPA(c) + BENCH_OFF_STACK_TOP down to
 * the end of the command queue (BENCH_OFF_CMDQ + 4 KiB), about 956 KiB;
 * the lowest 256 bytes carry a pattern checked after the run.
 */
int bvm_run(struct bvm *vm, const struct bench_params *params,
	    struct bench_result *res, struct bvm_cpu_stats *st);

/* The message of the last failed bvm_run() or bvm_slot_roundtrip_ns(), or
 * "" if none failed. */
const char *bvm_last_error(const struct bvm *vm);

/*
 * Calibration: mean ns of one KVM_SET_USER_MEMORY_REGION create + delete
 * of a size-byte slot (a spare slot id just past the library's range, at a
 * GPA above 4 GiB: outside RAM, MMIO and the guest's page tables) over n
 * rounds.  size a multiple of 4 KiB, n > 0.
 */
int bvm_slot_roundtrip_ns(struct bvm *vm, uint64_t size, unsigned int n,
			  uint64_t *ns);

#endif
