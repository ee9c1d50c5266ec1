/* SPDX-License-Identifier: MIT */
/*
 * The bench VMM's insides, shared by its files.  Calls go one way:
 * loop.c (bvm_run, the exit loop) -> step.c (single steps) -> vcpu.c
 * (KVM_RUN, failures); loop.c -> vmm.c (the VM, its memslots, the image)
 * and x86.c (the x86 machine state the guest starts in).  The rest of the
 * bench uses vmm.h.
 */
#ifndef WPT_BENCH_VMM_IMPL_H
#define WPT_BENCH_VMM_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "pause.h"
#include "uffd_service.h"
#include "vmm.h"

#define MSG_LEN 256

/* One vCPU.  During bvm_run only its own thread touches it; the caller
 * reads st, err and msg after joining. */
struct bvm_vcpu {
	struct bvm *vm;
	unsigned int index;
	int fd;
	struct kvm_run *run;
	struct bvm_cpu_stats st;
	/* A single step ended at another exit, still in run: the loop
	 * handles it without entering KVM_RUN again. */
	bool exit_pending;
	int tid;                /* the thread running it */
	int err;                /* 0, or what stopped this vCPU */
	char msg[MSG_LEN];
	pthread_t thread;
};

/* The VM.  Immutable while vCPUs run, except RAM (the guest's, the
 * library's under its lock) and the vCPUs' own state. */
struct bvm {
	struct bvm_cfg cfg;
	int kvm_fd;
	int vm_fd;
	uint8_t *ram;
	struct wpt_vm *wpt;
	uint32_t spare_slot;
	size_t run_size;
	struct bvm_vcpu cpus[BENCH_MAX_CPUS];
	/* cfg.uffd_block: the vCPU threads' ids while inside KVM_RUN, for
	 * the kick, and the thread that services the userfaultfd */
	_Atomic int tids[BENCH_MAX_CPUS];
	_Atomic uint64_t kvm_returns[BENCH_MAX_CPUS];
	struct uffd_service uffd;
	struct bvm_pause pause;     /* cfg.quiesce */
	char err[MSG_LEN + 16];
};

/* vmm.c: copy the guest image into RAM (a fresh one each run: its data
 * and bss start as linked).  0 or -errno. */
int bvm_load_image(struct bvm *vm);

/* vcpu.c */
/* KVM_RUN, with the thread id published for the kick while inside. */
int vcpu_run(struct bvm_vcpu *v);
/* Stop v with err and a message (bvm_last_error); returns err. */
int vcpu_fail(struct bvm_vcpu *v, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Stop on an exit the bench never expects, naming it and where. */
int vcpu_unexpected(struct bvm_vcpu *v);

/* step.c */
/* force_step: run a store that came as KVM_EXIT_MMIO again through the
 * step path.  1 done, 0 not done here (the usual path takes it), -errno. */
int vcpu_force_step(struct bvm_vcpu *v, uint64_t gpa, const uint8_t *data,
		    uint32_t len);
/* KVM_EXIT_INTERNAL_ERROR: single-step a store KVM's emulator refused.
 * 1 done, 0 not ours, or -errno. */
int vcpu_refused_store(struct bvm_vcpu *v);
/* uffd_block: KVM_RUN returned -EINTR; step a kicked store.  0 or -errno. */
int vcpu_uffd_kicked(struct bvm_vcpu *v);

/* x86.c */
/* Page tables (0..4 GiB identity, 2 MiB pages), GDT and TSS in the system
 * area of guest RAM. */
void x86_build_system_area(uint8_t *ram);
/* v in long mode at the image entry, at CPL0 or CPL3.  0 or -errno. */
int x86_vcpu_reset(struct bvm_vcpu *v, bool cpl0);

#endif
