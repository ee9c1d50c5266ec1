/* SPDX-License-Identifier: MIT */
/*
 * Protection backends: make 4 KiB guest pages trap on store.  Each kind fills
 * one wpt_protect_backend_ops.  Called only under the VM lock, but for the
 * ops that say otherwise.
 *
 * Contract: protect() returns only once a guest store to the range exits to
 * the VMM; on failure nothing in the range changed protection.  Ranges are
 * page aligned and lie in guest RAM.  A page is protected at most once at a
 * time: the tracker counts uses and calls protect on the first and
 * unprotect on the last.
 */
#ifndef WPT_PROTECT_H
#define WPT_PROTECT_H

#include <stdbool.h>
#include <stdint.h>

#include "wpt.h"
#include "../guestmem.h"

struct wpt_protect_stats {
	uint64_t slot_ops;      /* KVM_SET_USER_MEMORY_REGION calls */
	uint64_t slot_ns;       /* time inside those calls */
	uint64_t slots_in_use;
	uint64_t protected_pages;
	uint64_t zap_quirk_off; /* KVM_X86_QUIRK_SLOT_ZAP_ALL disabled */
	uint64_t wp_ops;        /* UFFDIO_WRITEPROTECT calls */
	uint64_t wp_ns;         /* time inside those calls */
	uint64_t lifts;         /* pages lifted for the VMM's own stores */
	uint64_t slot_recuts;   /* chunks re-cut */
	uint64_t slot_fallbacks;/* re-cuts the slot budget made merge */
	uint64_t slot_cut_pages;/* pages whose re-cut cut slots (wpt.h) */
	uint64_t slot_cut_ops;  /* the memslot ioctls of those re-cuts */
};

struct wpt_protect_backend_ops {
	const char *name;
	int (*protect)(void *be, uint64_t gpa, uint64_t size);
	int (*unprotect)(void *be, uint64_t gpa, uint64_t size);
	void (*stats)(void *be, struct wpt_protect_stats *st);
	void (*free)(void *be);

	/*
	 * Optional: a backend that protects the VMM's own mapping of guest
	 * RAM too (userfaultfd), so that the VMM's stores to a protected page
	 * fault.  Its presence is what tells the library to lift a page
	 * around its own stores (apply.c) and what the A64 emulator refuses.
	 */
	/* Lift the page at gpa for a VMM thread whose store faulted there
	 * and record it until take_lifted; wakes a thread blocked on it.
	 * Async-signal-safe: no lock, errno kept.  1, -ENOSPC (too many
	 * lifted), or -errno. */
	int (*lift)(void *be, uint64_t gpa);
	/* Only wake what waits on the page (it is no longer protected for
	 * the tracker): 0 or -errno. */
	int (*wake)(void *be, uint64_t gpa);
	/* Lock-free: does a lifted page lie inside [gpa, gpa + len)? */
	bool (*lifted_in)(void *be, uint64_t gpa, uint64_t len);
	/* Under the VM lock: forget one lifted page inside [gpa, gpa + len)
	 * (true, with it in *page), for the caller to protect again. */
	bool (*take_lifted)(void *be, uint64_t gpa, uint64_t len,
			    uint64_t *page);
	/* Async-signal-safe, with lift: this thread lifted the page at gpa
	 * and nothing was write-protected since, so its new fault there is
	 * not the backend's (a genuine SIGBUS). */
	bool (*lift_was_enough)(void *be, uint64_t gpa);

	/* Optional: a backend whose faults block the faulting thread and
	 * queue on a file descriptor (userfaultfd, WPT_UFFD_BLOCK). */
	int (*fault_fd)(void *be);
	/* Read one fault: 1 with the page's gpa and the blocked thread's id,
	 * 0 if none is queued, or -errno.  Any thread, no lock. */
	int (*read_fault)(void *be, uint64_t *gpa, int *tid);
};

struct protect_steps;
struct protect_defer;

/*
 * A VM's protection: its backend, and the pages a single step or a
 * store holds writable while the tracker still counts them protected
 * (protect.c).  Every call goes through protect_set and the step calls
 * below; the backend then sees each page protected at most once and
 * unprotected only when protected.
 */
struct wpt_protect {
	const struct wpt_protect_backend_ops *ops; /* NULL: no backend */
	void *be;
	struct protect_steps *steps;
	/* Non-NULL: changes are recorded here and reach the backend only at
	 * protect_flush, which the VM makes with the vCPUs held out of
	 * KVM_RUN (wpt_quiesce_ops). */
	struct protect_defer *defer;
};

static inline bool protect_lifts(const struct wpt_protect *p)
{
	return p->ops && p->ops->lift;
}

/* The KVM memslot backend over gm's regions (gm must outlive it).  Creates
 * the slots at once.  -ENOSPC if the budget cannot hold the initial layout,
 * -EINVAL on a bad cfg, or the ioctl's -errno. */
int wpt_protect_kvm_new(const struct wpt_kvm_cfg *cfg,
			const struct wpt_guestmem *gm, struct wpt_protect *out);

/* The callback backend: forwards to the VMM's ops. */
int wpt_protect_callback_new(const struct wpt_protect_ops *ops, void *opaque,
			     struct wpt_protect *out);

/*
 * The userfaultfd write-protect backend over gm's regions (gm must outlive
 * it): registers them all with UFFDIO_REGISTER_MODE_WP, faults delivered
 * as SIGBUS or (block) queued on the fd with the thread's id.  -EPERM/
 * -EACCES no right to catch faults raised in the kernel, -EOPNOTSUPP a
 * kernel without write-protect or SIGBUS faults, -EINVAL memory it cannot
 * protect, or the failing call's -errno.
 */
int wpt_protect_uffd_new(const struct wpt_guestmem *gm, bool block,
			 struct wpt_protect *out);

/* Tests only (wpt_vm_uffd_test_hook, wpt_internal.h): fn(opaque) runs in
 * every lift between its slot claim and its ioctl; fn NULL removes it.
 * -EINVAL if p is not the userfaultfd backend. */
int wpt_protect_uffd_test_hook(struct wpt_protect *p, void (*fn)(void *),
			       void *opaque);

/* After a backend filled p: set up the step bookkeeping.  0 or -ENOMEM
 * (then p is freed). */
int protect_init(struct wpt_protect *p);
void protect_free(struct wpt_protect *p);
void protect_stats(struct wpt_protect *p, struct wpt_protect_stats *st);

/* Protect or unprotect [gpa, gpa + size), around the pages a step holds.
 * All or nothing. */
int protect_set(struct wpt_protect *p, uint64_t gpa, uint64_t size, bool on);

/* A step of page_gpa begins: make it writable (the first step of it). */
int protect_step_begin(struct wpt_protect *p, uint64_t page_gpa);

/* Hold page_gpa, which the tracker does not count protected now, as a
 * step would: a protect of it by the tracker does not reach the backend
 * until protect_step_end, which protects it if the tracker wants it then
 * (relaxed mode's new tables: never protected while being filled).
 * 0 or -ENOMEM. */
int protect_hold_unprotected(struct wpt_protect *p, uint64_t page_gpa);

/*
 * A step of page_gpa ended.  When it was the last one and want_protected
 * (the tracker counts the page protected), protect it again.  0, or the
 * backend's errno: then the page stays writable, held here as failed, until
 * the tracker unprotects it (dropped) or protects it (tried again).
 */
int protect_step_end(struct wpt_protect *p, uint64_t page_gpa,
		     bool want_protected);

/* From now on hold p's changes back until protect_flush: 0 or -ENOMEM. */
int protect_defer_enable(struct wpt_protect *p);

/* Changes wait for protect_flush.  Under the VM lock. */
bool protect_pending(const struct wpt_protect *p);

/* What one backend call of a flush did: [gpa, gpa + size) protected (on)
 * or unprotected, err 0 or the backend's -errno (then nothing in the
 * range changed: a range that stays writable is no longer counted
 * protected by this layer, see protect_flush). */
typedef void (*protect_flush_fn)(void *opaque, uint64_t gpa, uint64_t size,
				 bool on, int err);

/*
 * Make the held-back changes: the runs that unprotect first, then those
 * that protect, one backend call each, done() told after each.  done()
 * may change protection again (a rescan that finds a new table): that
 * waits for the next flush.  A failed protect leaves its pages writable,
 * held here as failed like a step's (the tracker's later unprotect does
 * not reach the backend, a protect tries again); a failed unprotect
 * leaves the pages protected, which only costs exits.  Under the VM lock;
 * 0 or the first error.
 */
int protect_flush(struct wpt_protect *p, protect_flush_fn done, void *opaque);

/* Protect page again unless a step holds it writable (a page lifted for
 * a VMM thread whose table still wants protection).  0 or -errno. */
int protect_reassert(struct wpt_protect *p, uint64_t page_gpa);

#endif
