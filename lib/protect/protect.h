/* SPDX-License-Identifier: MIT */
/*
 * Protection backends: make 4 KiB guest pages trap on store.  Each kind fills
 * one wpt_protect_backend_ops.  Called only under the VM lock.
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
};

struct wpt_protect_backend_ops {
	const char *name;
	int (*protect)(void *be, uint64_t gpa, uint64_t size);
	int (*unprotect)(void *be, uint64_t gpa, uint64_t size);
	void (*stats)(void *be, struct wpt_protect_stats *st);
	void (*free)(void *be);
};

struct wpt_protect {
	const struct wpt_protect_backend_ops *ops;
	void *be;
};

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
 * as SIGBUS or (block) queued on the fd with the thread's id.  *be_out is the backend's own handle for
 * wpt_protect_uffd_lift(), valid while out's owner lives.  -EPERM/-EACCES
 * no right to catch faults raised in the kernel, -EOPNOTSUPP a kernel
 * without write-protect or SIGBUS faults, -EINVAL memory it cannot
 * protect, or the failing call's -errno.
 */
int wpt_protect_uffd_new(const struct wpt_guestmem *gm, bool block,
			 struct wpt_protect *out, void **be_out);

/* Lift the protection of the page holding hva behind the tracker's back
 * (a VMM thread's store faulted there), waking a thread blocked on it.
 * Async-signal-safe: no lock, errno kept.  0 or -errno. */
int wpt_protect_uffd_lift(const void *be, uint64_t hva);

/* block: the userfaultfd (non-blocking) to poll. */
int wpt_protect_uffd_fd(const void *be);

/* block: read one write-protect fault in guest RAM: 1 with the faulting
 * page's gpa and the blocked thread's id, 0 if none is queued, or -errno.
 * Any thread, without the VM lock. */
int wpt_protect_uffd_read(void *be, uint64_t *gpa, int *tid);

/* Protect page again if p's single-step layer does not hold it writable
 * (a page lifted by wpt_protect_uffd_lift whose table still wants
 * protection).  Under the VM lock.  0 or the backend's -errno. */
int wpt_protect_step_reassert(struct wpt_protect *p, uint64_t page_gpa);

/*
 * The single-step layer (step.c): wrap p's backend so single steps
 * (wpt_vm_step_begin/end) can make one page writable while the tracker
 * still counts it protected.  On success p holds the layer, which owns the
 * old backend.  Pages are page aligned; called under the VM lock.
 */
int wpt_protect_step_wrap(struct wpt_protect *p);

/* A step of page_gpa begins: make it writable (the first step of it). */
int wpt_protect_step_begin(struct wpt_protect *p, uint64_t page_gpa);

/*
 * A step of page_gpa ended.  When it was the last one and want_protected
 * (the tracker counts the page protected), protect it again.  0, or the
 * backend's errno: then the page stays writable, held here as failed, until
 * the tracker unprotects it (dropped) or protects it (tried again).
 */
int wpt_protect_step_end(struct wpt_protect *p, uint64_t page_gpa,
			 bool want_protected);

#endif
