/* SPDX-License-Identifier: MIT */
/*
 * The arm64 test VMM: one VM whose RAM the library's KVM memslot backend
 * owns, one domain over the guest's IO tables with a recording sink, and
 * the exit loop that routes every store exit through the library.
 */
#ifndef ARM64_A64T_H
#define ARM64_A64T_H

#include <stdbool.h>

#include "abi.h"
#include "vcpu.h"

/* What the exits were and what became of them. */
struct a64t_counts {
	uint64_t nisv;        /* KVM_EXIT_ARM_NISV */
	uint64_t emulated;    /* of those, wpt_a64_emulate() did */
	uint64_t stepped;     /* of those, single-stepped (emulate said 0) */
	uint64_t faulted;     /* of those, an abort for the guest */
	uint64_t mon_ldxr;    /* store-exclusives given the LDXR's value */
	uint64_t mmio;        /* KVM_EXIT_MMIO stores wpt_vm_handle_mmio took */
	uint64_t mmio_reads;  /* KVM_EXIT_MMIO loads it served (slot gaps) */
	uint64_t ext_dabt;    /* external aborts injected */
	uint64_t delivered;   /* synchronous aborts written to EL1 */
};

struct a64t;
/* A hypercall (abi.h's A64T_CALL_*) with t->arg latched. */
typedef void (*a64t_call_fn)(struct a64t *t, uint64_t call);

struct a64t {
	struct a64vm vm;
	struct a64vcpu cpu;
	struct wpt_vm *wvm;
	struct wpt_domain *dom;
	struct wpt_sink *sink;
	struct a64t_counts n;
	uint64_t arg[3];
	a64t_call_fn call;
	bool done;
	uint64_t done_status;
	char error[256];      /* the VMM's own failure: stops the run */
};

/* Seconds a single step may take before it is a failure. */
#define A64T_STEP_TICKS 5

/* Run until the guest's DONE, an error or timeout_s seconds: 0, or -1
 * with t->error saying what it waited for or what went wrong.  Any
 * thread; a vCPU runs on one thread at a time. */
int a64t_run(struct a64t *t, unsigned int timeout_s);
/* The VMM's failure: stop the run with this message (first one kept). */
void a64t_error(struct a64t *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The exit loop's pieces, public for tests that drive the CPU directly. */
int a64t_mmio(struct a64t *t);
int a64t_nisv(struct a64t *t);
/* The VMM's model of the exclusive monitor for the store-exclusive
 * (STXR or STXP) at regs->pc: armed with the value its LDXR or LDXP
 * loaded, if that load (same base register and size) is among the 8
 * instructions before it; its destination registers must be untouched
 * since, as in Linux's cmpxchg loops.  1 if mon was filled.  A loop that
 * changes the loaded register before storing it (an LL/SC atomic_add:
 * ldxr w0; add w0, w0, #1; stxr) defeats it: the value is wrong, every
 * store-exclusive fails and the guest spins (seen here; the run's bound
 * turns it into a FAIL). */
int a64t_monitor_from_ldxr(struct a64t *t, const struct wpt_a64_regs *regs,
			   struct wpt_a64_monitor *mon);

#endif
