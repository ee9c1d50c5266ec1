/* SPDX-License-Identifier: MIT */
/*
 * wptrack: keep a guest's IO page tables mirrored in host DMA mappings.
 *
 * A VMM that emulates an IOMMU for a passed-through device must mirror the
 * guest's IO page tables (IOVA -> GPA) into VFIO or iommufd mappings.  A guest
 * that never invalidates on map (every Arm SMMUv3 guest) gives the VMM no
 * signal, so this library write-protects the guest's table pages, applies each
 * trapped store itself, diffs only the descriptors it touched, walks only the
 * subtrees that changed and updates the host mappings before the vCPU resumes.
 * The same engine serves guests that do invalidate (wpt_domain_invalidate).
 *
 * Objects:
 *   struct wpt_vm      one guest: its RAM regions, the protection backend, the
 *                      lock-free "is this exit ours?" index.
 *   struct wpt_domain  one IO address space: a table format, a root, a mode,
 *                      and the shadow of what its sink holds.
 *   struct wpt_sink    where mappings go: VFIO type1, iommufd, a callback
 *                      table, or an in-memory recorder.
 *
 * Conventions: functions return 0 (or a count) on success and a negative
 * errno on failure; no function prints; there is no global state.  Config
 * structs carry their own size so they can grow: set .size = sizeof(cfg).
 *
 * Threads: every function taking a wpt_vm or a domain of it may be called
 * from any thread.  wpt_vm_handle_mmio() answers "not ours" without a lock
 * (device MMIO; a store to RAM no table uses while the lock is busy: an RCU
 * lookup); everything that changes state serialises on a per-VM lock.
 * Threads that call wpt_vm_handle_mmio() need not register with RCU.
 * A process that forks without exec while a VM exists wraps the fork in
 * liburcu's hooks (call_rcu_before_fork, urcu_bp_before_fork and their
 * after_fork_parent/_child pairs): table pages are freed through call_rcu.
 */
#ifndef WPT_H
#define WPT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct wpt_vm;
struct wpt_domain;
struct wpt_sink;

/* ---------------------------------------------------------------- perms */

#define WPT_PERM_READ  (1u << 0)
#define WPT_PERM_WRITE (1u << 1)

/* ------------------------------------------------------------ sinks */

/*
 * Sink operations for a VMM that issues its own DMA mappings.  map() makes
 * [iova, iova + size) reach guest RAM at gpa (host address hva) with perm;
 * unmap() removes exactly one earlier map() whole: the library never asks a
 * sink to unmap part of a mapping it holds (VFIO type1 refuses to bisect).
 * Return 0 or a negative errno; on failure the sink must hold what it held
 * before the call.
 */
struct wpt_sink_ops {
	int (*map)(void *opaque, uint64_t iova, uint64_t gpa, void *hva,
		   uint64_t size, uint32_t perm);
	int (*unmap)(void *opaque, uint64_t iova, uint64_t size);
};

/* A sink that calls ops with opaque. */
int wpt_sink_callback_new(const struct wpt_sink_ops *ops, void *opaque,
			  struct wpt_sink **out);

/* A sink that records mappings in memory (tests, the bench, replay): as
 * strict as VFIO type1 (whole pages; a map overlapping a held mapping is
 * -EEXIST) and stricter (an unmap must name one held mapping exactly). */
int wpt_sink_record_new(struct wpt_sink **out);

/* One mapping a recording sink holds. */
struct wpt_mapping {
	uint64_t iova;
	uint64_t gpa;
	uint64_t size;
	uint32_t perm;
};

/*
 * Copy up to max mappings of a recording sink, sorted by IOVA, into out.
 * Returns how many it holds in all (may exceed max), or -EINVAL if sink is
 * not a recording sink.
 */
long wpt_sink_record_get(const struct wpt_sink *sink, struct wpt_mapping *out,
			 size_t max);

/* A VFIO type1 sink on an open container fd (VFIO_IOMMU_MAP_DMA/UNMAP_DMA,
 * vaddr = the HVA of the GPA).  The fd stays the caller's. */
int wpt_sink_vfio_new(int container_fd, struct wpt_sink **out);

/* An iommufd sink: IOMMU_IOAS_MAP at a fixed IOVA / IOMMU_IOAS_UNMAP on
 * ioas_id of the iommufd fd.  The fd stays the caller's. */
int wpt_sink_iommufd_new(int iommufd, uint32_t ioas_id, struct wpt_sink **out);

/* Calls made through a sink: maps, unmaps, failures. */
struct wpt_sink_stats {
	uint64_t maps;
	uint64_t unmaps;
	uint64_t errors;
	uint64_t bytes_mapped;
};
void wpt_sink_stats(const struct wpt_sink *sink, struct wpt_sink_stats *st);

/* Free a sink.  Free its domain first. */
void wpt_sink_free(struct wpt_sink *sink);

/* ------------------------------------------------------- protection */

/*
 * Protection backend for a VMM that owns its memslots: protect() must make
 * guest stores to [gpa, gpa + size) exit to the VMM (which passes them to
 * wpt_vm_handle_mmio) before it returns; unprotect() undoes it.  Ranges are
 * 4 KiB aligned.  Return 0 or a negative errno.  A failed protect faults
 * the domains that needed it, with that errno; a failed unprotect leaves
 * the pages protected and no longer the library's (their stores exit and
 * are served from RAM), and a later protect() may name them again: it
 * must then succeed as for any other page.
 */
struct wpt_protect_ops {
	int (*protect)(void *opaque, uint64_t gpa, uint64_t size);
	int (*unprotect)(void *opaque, uint64_t gpa, uint64_t size);
};

/*
 * The built-in KVM memslot backend.  It owns the memslots of every RAM
 * region of the VM: the VMM must not register those regions itself.
 * Protected pages sit in KVM_MEM_READONLY slots; RAM is pre-cut into slots
 * of slot_granule bytes (0: one slot per region) so protecting a page
 * re-creates only the piece that holds it.
 *
 * KVM cannot make a live slot read-only, so every protect or release
 * deletes slots and creates others; layout says how the pieces are cut:
 * - WPT_KVM_LAYOUT_PER_PAGE (0, the default): each protected table page
 *   has a read-only slot of its own, and a released page keeps a
 *   read-write one, so a table page protected or released again costs two
 *   ioctls (one delete, one create) whatever its neighbours are.  The
 *   fewest ioctls, and the fewest slot deletes (on x86, unless the kernel
 *   lets the library turn KVM_X86_QUIRK_SLOT_ZAP_ALL off, each delete
 *   makes every vCPU re-fault all of guest RAM), for guests that free and
 *   reuse table pages; it costs a slot per table page.
 * - WPT_KVM_LAYOUT_MERGED: adjacent protected pages share one read-only
 *   slot: the fewest slots, but protecting a page next to a protected one,
 *   or releasing one in a run, re-cuts the run (3 to 4 ioctls).
 * Either way slots beyond what the protected pages need are a cache: past
 * half of the budget the chunks leave, the pieces of the chunks a change
 * touches merge (read-write first, then read-only), past the budget those
 * of other chunks too.  A protect fails with -ENOSPC only when the budget
 * cannot hold the layout with every chunk merged; a release that cannot
 * fit leaves the page read-only (its stores exit and are served from RAM).
 */
struct wpt_kvm_cfg {
	int vm_fd;             /* the KVM VM fd; stays the caller's */
	uint32_t slot_base;    /* first slot id the library may use */
	uint32_t slot_budget;  /* how many slot ids from slot_base it may use */
	uint64_t slot_granule; /* bytes, a multiple of 4 KiB, or 0 */
	uint16_t as_id;        /* KVM address space (slot id bits 16..31) */
	uint16_t layout;       /* WPT_KVM_LAYOUT_* */
};

#define WPT_KVM_LAYOUT_PER_PAGE 0
#define WPT_KVM_LAYOUT_MERGED 1

/*
 * Holding the vCPUs out of KVM_RUN around a memslot re-cut.
 *
 * KVM cannot change a live memslot, so the KVM backend protects a page by
 * deleting the slot that holds it and creating its pieces again (and the
 * callback backend's VMM, QEMU with a romd overlay, does the same).  While
 * the slot is gone, a guest data access there exits as MMIO and
 * wpt_vm_handle_mmio serves it from RAM, but an instruction fetch or the
 * CPU's own page-table walk there is not MMIO: arm64 KVM injects an
 * abort, x86 KVM fails to emulate.  A guest allocates IO page-table pages
 * from the same allocator as its code and CPU page tables, so a re-cut
 * must happen with no vCPU inside KVM_RUN.  Given these ops (on
 * wpt_vm_cfg), the library records every protection change an operation
 * makes and, before the call that made it returns, brackets the re-cuts
 * with quiesce() and resume():
 *
 *   quiesce(opaque)   return once no vCPU of the VM is inside KVM_RUN, and
 *                     keep every vCPU from entering it until resume().
 *   resume(opaque)    let them run again.
 *
 * Rules for the VMM's implementation (the lock order is: the VMM's own
 * pause state, then the library's VM lock; never the other way round):
 * - Never called with the library's lock held, and the library takes its
 *   lock only after quiesce() returned and drops it before resume().
 * - Called on any thread, often a vCPU thread inside a library call from
 *   its own exit (wpt_vm_handle_mmio, wpt_vm_step_begin/_end,
 *   wpt_vm_host_wrote, wpt_a64_emulate): that vCPU is outside KVM_RUN.
 * - Wait only for vCPUs inside KVM_RUN (kick them out: a signal with a
 *   handler, and kvm_run.immediate_exit so a vCPU about to enter does not
 *   miss it); never for a vCPU thread that is outside KVM_RUN, which may
 *   be in a library call waiting for the VM lock, or in its own
 *   quiesce().  Pausing every vCPU thread at a point of the VMM's loop
 *   (kvmtool's kvm__pause) deadlocks here.
 * - Several threads may quiesce at once: pairs nest (count them); the
 *   vCPUs run again at the last resume().
 * - quiesce() cannot fail.  Neither may call the library for this VM.
 * The library serves the rest: the pages a re-cut protects are diffed
 * again once they are protected, so a store the guest made between the
 * table's snapshot and the re-cut is not lost.
 *
 * Without these ops (the default) re-cuts happen at once, under the
 * library's lock, with vCPUs running: safe only for a guest that runs no
 * code and keeps no CPU page table in a re-cut chunk, which a VMM cannot
 * know of a general-purpose guest.  The userfaultfd backend never re-cuts
 * and never calls them.
 */
struct wpt_quiesce_ops {
	void (*quiesce)(void *opaque);
	void (*resume)(void *opaque);
};

/* wpt_vm_cfg.uffd: how a store to a userfaultfd-protected page is caught
 * (see "the userfaultfd backend"). */
#define WPT_UFFD_SIGBUS 1 /* nothing blocks: KVM hands the store over */
#define WPT_UFFD_BLOCK 2  /* the vCPU blocks, is kicked and single-steps */

/* Pages lifted for VMM threads' stores at once (wpt_vm_uffd_sigbus, or
 * WPT_UFFD_BLOCK's kick returning 0), until their wpt_vm_host_wrote. */
#define WPT_UFFD_MAX_LIFTED 64

/* ------------------------------------------------------------- VM */

struct wpt_ram_region {
	uint64_t gpa;  /* 4 KiB aligned */
	uint64_t size; /* 4 KiB multiple */
	void *hva;     /* where the VMM mapped it */
};

/* Per-domain work limits; 0 picks the default.  Exceeding one faults the
 * domain (wpt_domain_error() says which) and leaves the rest working. */
struct wpt_limits {
	uint64_t max_table_uses;     /* table uses tracked (default 65536) */
	uint64_t max_leaves;         /* pages and blocks mapped (default 1<<25) */
	uint64_t max_walk_descs;     /* descriptors one walk visits (default 1<<26:
				      * a walk of 64 GiB of 4K pages) */
};

/* Optional log sink for rare events (faults, backend errors). */
typedef void (*wpt_log_fn)(void *opaque, int level, const char *msg);

struct wpt_vm_cfg {
	size_t size;                          /* sizeof(struct wpt_vm_cfg) */
	const struct wpt_ram_region *regions; /* non-overlapping */
	unsigned int nr_regions;
	/* Protection: kvm != NULL picks the KVM memslot backend; otherwise
	 * protect_ops (may be NULL: then only WPT_MODE_INVAL domains work). */
	const struct wpt_kvm_cfg *kvm;
	const struct wpt_protect_ops *protect_ops;
	void *protect_opaque;
	struct wpt_limits limits;             /* defaults for new domains */
	wpt_log_fn log;
	void *log_opaque;
	/* WPT_UFFD_*: protection by userfaultfd write-protect instead of
	 * memslots (kvm and protect_ops NULL); see "the userfaultfd
	 * backend".  The VMM registers its memslots itself.  0: not. */
	int uffd;
	/* WPT_UFFD_BLOCK: called by wpt_vm_uffd_service() for a thread
	 * blocked on a store to a protected page.  If tid is a vCPU thread
	 * inside KVM_RUN right now, interrupt it (send it the signal the VMM
	 * kicks vCPUs with, one with a handler, so KVM_RUN returns -EINTR)
	 * and return 1.  Return 0 for any other thread, and for a vCPU
	 * thread running the VMM's own code (its device emulation storing to
	 * guest RAM): a signal would only retry that store.  Called without
	 * the library's lock. */
	int (*uffd_kick)(void *opaque, int tid);
	void *uffd_kick_opaque;
	/* Memslot re-cuts with the vCPUs held out of KVM_RUN (see struct
	 * wpt_quiesce_ops); NULL: re-cuts happen with vCPUs running. */
	const struct wpt_quiesce_ops *quiesce;
	void *quiesce_opaque;
};

/* Create a VM context.  With the KVM backend this creates its memslots;
 * with the userfaultfd backend it registers the regions' memory
 * (-EPERM: no right to catch faults in KVM; -EINVAL: memory userfaultfd
 * cannot write-protect; -EOPNOTSUPP: a kernel without it). */
int wpt_vm_new(const struct wpt_vm_cfg *cfg, struct wpt_vm **out);

/* Free a VM: its domains must have been freed.  KVM slots are left mapped
 * read-write, and userfaultfd protection is dropped, so the guest keeps
 * running. */
void wpt_vm_free(struct wpt_vm *vm);

/*
 * Handle one MMIO exit.  Returns 1 if it was ours (a store to a protected
 * table page, applied and mirrored; or an access to guest RAM that fell into
 * a memslot being re-cut, served from RAM: for a read, data is filled),
 * 0 if it is not guest RAM (the VMM's device MMIO), or a negative errno
 * (e.g. -EINVAL for a bad length).  len is 1 to 8 (KVM x86 reports a
 * page-crossing store as fragments of any length up to 8) or 16; each
 * byte is written once, aligned pieces single-copy atomically.  A domain
 * faulted by the write does not make this fail: see wpt_domain_error().
 * An error from a sink is returned after RAM holds the store; when one
 * store fails in several domains' sinks (a table they share), the first
 * errno is returned and each domain counts its own failure in
 * wpt_domain_stats.sink_errors.
 */
int wpt_vm_handle_mmio(struct wpt_vm *vm, uint64_t gpa, void *data,
		       uint32_t len, int is_write);

/* The VMM itself wrote [gpa, gpa + len) of guest RAM (an emulated device's
 * DMA, a loader): re-read any table descriptors there. */
int wpt_vm_host_wrote(struct wpt_vm *vm, uint64_t gpa, uint64_t len);

struct wpt_vm_stats {
	uint64_t exits_handled;   /* trapped stores applied */
	uint64_t gap_accesses;    /* RAM accesses served during a slot re-cut */
	uint64_t descs_changed;   /* descriptors whose value changed */
	uint64_t tables_walked;   /* table pages walked */
	uint64_t descs_visited;
	uint64_t sink_calls;
	uint64_t slot_ops;        /* KVM_SET_USER_MEMORY_REGION calls */
	uint64_t slots_in_use;
	uint64_t protects;        /* pages protected */
	uint64_t unprotects;
	uint64_t tracked_tables;  /* distinct table pages tracked now */
	uint64_t protected_pages; /* 4 KiB pages protected now */
	uint64_t out_of_ram;      /* table/leaf addresses outside guest RAM */
	uint64_t addr_size_faults;/* addresses at or above the OAS */
	uint64_t errors;          /* faulted domains, sink or backend errors */
	uint64_t lib_ns;          /* time spent handling trapped stores,
				   * sampled: one store in 16 is timed and
				   * counts 16 times (a clock read costs
				   * what a store should), spread so that
				   * stores of every kind are timed */
	uint64_t zap_quirk_off;   /* 1 if KVM_X86_QUIRK_SLOT_ZAP_ALL was disabled */
	uint64_t slot_ns;         /* time inside memslot ioctls (part of lib_ns
				   * when a trapped store changed protection) */
	uint64_t steps;           /* wpt_vm_step_end calls that diffed a page */
	uint64_t step_ns;         /* time inside wpt_vm_step_begin/end */
	/* The userfaultfd backend: */
	uint64_t wp_ops;          /* UFFDIO_WRITEPROTECT calls */
	uint64_t wp_ns;           /* time inside them */
	uint64_t uffd_lifts;      /* pages lifted for VMM threads' stores */
	uint64_t uffd_faults;     /* WPT_UFFD_BLOCK: faults read by ..._service */
	uint64_t uffd_kicks;      /* of those, vCPUs kicked */
	uint64_t reserved_descs;  /* descriptors with a reserved encoding (they
				   * map nothing) */
	uint64_t quiesces;        /* quiesce() .. resume() windows the
				   * library opened for re-cuts */
	/* Relaxed mode (WPT_MODE_RELAXED): */
	uint64_t relaxed_pages;   /* times a table page was left writable */
	uint64_t unsynced_pages;  /* table pages writable now */
	uint64_t syncs;           /* sync points that had pages to diff */
	uint64_t doorbell_syncs;  /* of those, at a registered doorbell */
	uint64_t bound_syncs;     /* of those, at wpt_relax_cfg's bound */
	uint64_t sync_ns;         /* time inside those syncs */
	uint64_t slot_recuts;     /* memslot chunks re-cut (KVM backend) */
	uint64_t slot_fallbacks;  /* re-cuts the slot budget made merge */
	/* Pages protected or released by a re-cut that had to cut slots:
	 * the page had no slot of its own yet (its first cut out of a larger
	 * slot), or the budget made the re-cut merge; and the memslot ioctls
	 * those re-cuts made.  The rest of slot_ops over the rest of the
	 * pages changed is the steady-state cost (2 a page per-page). */
	uint64_t slot_cut_pages;
	uint64_t slot_cut_ops;
	/* Memory for 4 KiB tables' snapshots and the domains' per-table
	 * arrays (two 4 KiB blocks a last-level table), held now; and of
	 * it, what sits in slabs (2 MiB of address space each) no tracked
	 * table uses: kept for the next walk, given back by wpt_vm_trim. */
	uint64_t pool_bytes;
	uint64_t pool_idle_bytes;
};

/* Read the VM's counters.  size = sizeof(*st). */
int wpt_vm_stats(const struct wpt_vm *vm, struct wpt_vm_stats *st, size_t size);

/*
 * Give the kernel back the memory the VM keeps for tables it no longer
 * tracks (wpt_vm_stats' pool_idle_bytes).  A domain torn down or a root cleared leaves
 * its tables' memory in the VM, pages and all, so that the next walk (a
 * guest setting its domains up again after a reset) takes no page fault
 * on it; it is never more than the VM's peak.  Call this where the VMM
 * wants it back, as QEMU calls malloc_trim.  Any thread: takes the VM
 * lock.  0, or -EINVAL for a NULL vm.
 */
int wpt_vm_trim(struct wpt_vm *vm);

/* ------------------------------------------------- writes without data */

/*
 * The single-step path, for a store the VMM cannot hand over with its data:
 * an arm64 KVM_EXIT_ARM_NISV (atomics, store pairs and exclusives carry no
 * syndrome), or an instruction KVM's emulator refuses (on x86, cmpxchg16b
 * or an SSE/AVX store to a read-only slot ends in KVM_EXIT_INTERNAL_ERROR,
 * suberror KVM_INTERNAL_ERROR_EMULATION).  The library lets the store
 * happen for real and catches up:
 *
 *   struct wpt_step st;
 *   r = wpt_vm_step_begin(vm, gpa, &st);    0: not guest RAM, the VMM's
 *   if (r == 1) {
 *       KVM_SET_GUEST_DEBUG(KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP);
 *       KVM_RUN until KVM_EXIT_DEBUG (an MMIO exit on the way goes to
 *               wpt_vm_handle_mmio as usual: another thread may have
 *               protected the page again);
 *       KVM_SET_GUEST_DEBUG(0);
 *       r = wpt_vm_step_end(vm, &st);       before the vCPU runs on
 *   }
 *
 * begin makes the page holding gpa writable if it is a protected table page;
 * end protects it again, then diffs the whole page against its snapshot
 * and updates every domain's shadow and sink, so when the vCPU runs on the
 * sink holds what its store mapped (the trap path is synchronous),
 * whatever the instruction was.  Call end exactly once for every begin that returned 1, also when
 * the step itself failed.  Neither holds a lock across the VMM's KVM_RUN:
 * a page being stepped is counted (several vCPUs may step one page; it is
 * protected again when the last one ends), and every other call may run
 * meanwhile.
 *
 * Stores by other vCPUs: while the page is writable, another vCPU's store
 * to it does not exit.  end protects the page BEFORE it diffs, so such a
 * store is either in RAM when the diff reads it, or exits after it as a
 * trapped store: none is lost.  But that vCPU may run on before the step's
 * end mirrors its store: for it, the sink is current only at the step's
 * end.
 *
 * Tables that change meanwhile: a table on the page that is freed during
 * the step leaves nothing to diff (the page stays writable if nothing else
 * there needs protecting); a page that becomes a table meanwhile is diffed
 * at the end too.  If protecting the page again fails, end returns that
 * errno and faults every trapping domain with a table on the page (see
 * wpt_domain_error(): they unmap everything), so no page is ever writable
 * while the library counts on its stores trapping.
 *
 * Costs: with the KVM memslot backend both protect changes re-cut a slot
 * (with wpt_quiesce_ops, each in a quiesce window of its own, before
 * begin and end return); the step is one more KVM_RUN round trip.  Single-step needs a CPU that
 * can trap after one guest instruction (KVM_GUESTDBG_SINGLESTEP): a KVM
 * that runs some guest code natively without that trap (kvm_pvm for code
 * at CPL3) cannot step it.
 */
struct wpt_step {
	uint64_t page_gpa; /* the page made writable, or WPT_STEP_NO_PAGE */
	uint64_t gpa;      /* as given to begin */
	uint64_t t0;       /* the library's */
	uint32_t flags;    /* the library's */
};

#define WPT_STEP_NO_PAGE (~0ull)

/*
 * Prepare a single step of the store at gpa.  Returns 1 if gpa is guest RAM
 * (then step the vCPU and call wpt_vm_step_end): st->page_gpa is the page
 * made writable, or WPT_STEP_NO_PAGE if it was not protected (a vCPU that
 * fell into a memslot re-cut, which has finished by the time this returns:
 * stepping just runs the store).  0 if gpa is not guest RAM (device MMIO:
 * the VMM's, st untouched), or a negative errno (the backend could not make
 * the page writable; nothing changed).
 */
int wpt_vm_step_begin(struct wpt_vm *vm, uint64_t gpa, struct wpt_step *st);

/*
 * The step is done (or failed): protect the page again, diff it, update
 * the shadows and sinks.  0, the first sink error (as from
 * wpt_vm_handle_mmio), or the backend's errno when the page could not be
 * protected again (the domains trapping there are faulted).
 */
int wpt_vm_step_end(struct wpt_vm *vm, struct wpt_step *st);

/* -------------------------------------------- the userfaultfd backend */

/*
 * Protection without memslots (wpt_vm_cfg.uffd).  The VMM registers its
 * RAM memslots itself, read-write, and never changes them; the library
 * write-protects table pages in the VMM's own page tables
 * (UFFDIO_WRITEPROTECT) over the memory behind the regions, which must be
 * anonymous, memfd/shmem or hugetlbfs memory; the process needs
 * CAP_SYS_PTRACE (or /dev/userfaultfd) to catch faults raised inside KVM.
 * Protecting or releasing a page is one ioctl on that page: no memslot is
 * re-cut, so KVM never drops its neighbours' mappings.  What happens to a
 * vCPU's store to a protected page depends on the KVM, so there are two
 * modes; README says what was measured where.
 *
 * WPT_UFFD_SIGBUS.  KVM's write to the page fails at once.  Where KVM
 * emulates the instruction anyway (all guest code it interprets, as
 * kvm_pvm does for code at CPL0), it exits with KVM_EXIT_MMIO and the
 * data as for a read-only slot: pass it to wpt_vm_handle_mmio(), which
 * lifts the page around its own store (two more ioctls).  A locked
 * read-modify-write it cannot emulate there ends in KVM_EXIT_INTERNAL_ERROR:
 * single-step it (wpt_vm_step_begin).  Guest code that runs natively makes
 * KVM_RUN fail with -EFAULT and no address instead: use WPT_UFFD_BLOCK.
 *
 * WPT_UFFD_BLOCK.  The vCPU thread blocks inside KVM_RUN and the fault is
 * queued.  The VMM wires three things:
 *   a thread or its event loop polls wpt_vm_uffd_fd() for POLLIN and calls
 *       wpt_vm_uffd_service(), which calls cfg.uffd_kick for each fault;
 *   the kick interrupts that vCPU's KVM_RUN (it returns -EINTR);
 *   that vCPU thread then calls wpt_vm_uffd_step_begin(): 1 means its
 *       store's page is writable now: single-step the vCPU and call
 *       wpt_vm_step_end(), as for any step.
 * This needs a KVM that returns -EINTR from a fault a signal interrupts
 * (kvm_pvm does for natively run code) and a working single-step for that
 * code.
 * A KVM that keeps retrying the fault instead (seen here for guest code it
 * interprets) never returns from KVM_RUN: use WPT_UFFD_SIGBUS there.
 *
 * A VMM thread's own store to a protected page (an emulated device writing
 * guest RAM that a guest made a table): with SIGBUS it raises SIGBUS in
 * that thread, whose handler calls wpt_vm_uffd_sigbus(); with BLOCK the
 * thread blocks and the kick returns 0 for it.  Either way the library
 * lifts the page, the store goes on, and the page is protected again, and
 * diffed, at the next wpt_vm_host_wrote() over it, which the VMM owes for
 * such writes anyway (BLOCK: or at the next wpt_vm_uffd_service() round,
 * whichever comes first); until then guest stores to it are not trapped
 * but are mirrored at that point.  This also covers a vCPU that left
 * KVM_RUN for another reason between its fault and its kick: its store,
 * run again, is mirrored there.  At most WPT_UFFD_MAX_LIFTED pages wait
 * so.
 *
 * wpt_a64_emulate() would fault on its own store: with this backend it
 * returns -EOPNOTSUPP (single-step instead).
 */

/*
 * WPT_UFFD_SIGBUS, from the VMM's SIGBUS handler (SA_SIGINFO), with the
 * siginfo's si_addr: 1 if addr is guest RAM this VM write-protected and
 * its protection is lifted now (return from the handler: the store is
 * retried), 0 if it is not the library's (a real SIGBUS: outside guest
 * RAM, or on a page this call lifted already with nothing write-protected
 * since, so the retried store faulted for another reason), or -errno
 * (-ENOSPC: WPT_UFFD_MAX_LIFTED pages wait for their wpt_vm_host_wrote();
 * -EINVAL: not this backend).  Async-signal-safe: no lock, no allocation,
 * errno kept.
 */
int wpt_vm_uffd_sigbus(struct wpt_vm *vm, const void *addr);

/* WPT_UFFD_BLOCK: the userfaultfd to poll (O_NONBLOCK; it stays the
 * library's), or -EINVAL (not this mode). */
int wpt_vm_uffd_fd(const struct wpt_vm *vm);

/* WPT_UFFD_BLOCK: read the faults queued (at most 64 per call: call again
 * while the fd polls readable), kick or lift for each.  Returns how many
 * it read, or -errno (the first error; the others were still served).
 * Any thread. */
int wpt_vm_uffd_service(struct wpt_vm *vm);

/*
 * WPT_UFFD_BLOCK, on a vCPU thread whose KVM_RUN returned -EINTR: if the
 * library kicked this thread out of a store blocked on a protected page,
 * begin a step of it (wpt_vm_step_begin on that page) and return 1: then
 * single-step and call wpt_vm_step_end.  0 if not (an interrupt for
 * another reason: just run again), or a negative errno.
 */
int wpt_vm_uffd_step_begin(struct wpt_vm *vm, struct wpt_step *st);

/* --------------------------------------------------------- domains */

enum wpt_format {
	WPT_FMT_ARM_LPAE_S1 = 1, /* Arm VMSAv8-64 stage 1 */
	WPT_FMT_ARM_LPAE_S2 = 2, /* Arm VMSAv8-64 stage 2 */
};

#define WPT_FMT_F_HPD (1u << 0) /* stage 1: hierarchical permissions off */

struct wpt_format_cfg {
	size_t size;         /* sizeof(struct wpt_format_cfg) */
	enum wpt_format format;
	uint32_t granule;    /* 4096, 16384 or 65536 */
	uint32_t ias;        /* input address bits, 25..48 */
	uint32_t oas;        /* output address bits, 32..48 */
	uint32_t flags;      /* WPT_FMT_F_* */
	/* Stage 2 (VTCR-style): start level and concatenated start tables.
	 * sl = -1 derives it from ias (fewest levels, concat up to 16); concat
	 * 0 derives it from ias and sl. */
	int32_t sl;
	uint32_t concat;
};

enum wpt_mode {
	WPT_MODE_TRAP = 1,   /* protect every table page; stores drive the shadow */
	WPT_MODE_INVAL = 2,  /* no protection; invalidations drive the shadow */
	WPT_MODE_HYBRID = 3, /* trap maps; removals wait for their invalidation */
	WPT_MODE_RELAXED = 4,/* trap, but pages written in a burst are left
			      * writable until the next sync point (see
			      * "relaxed mode" below) */
};

/* Create a domain.  The sink stays the caller's and must outlive it. */
int wpt_domain_new(struct wpt_vm *vm, const struct wpt_format_cfg *fmt,
		   struct wpt_sink *sink, enum wpt_mode mode,
		   struct wpt_domain **out);

/*
 * Unmap everything it mapped, stop tracking its tables, free it.  0, or
 * the sink's negative errno when an unmap failed: then the domain is NOT
 * freed; it tracks nothing and maps nothing new, and
 * wpt_domain_foreach_mapping() lists what its sink still holds.  Call it
 * again to retry the unmaps (e.g. after VFIO's error is dealt with), or
 * wpt_domain_free() to give up on them.
 */
int wpt_domain_destroy(struct wpt_domain *d);

/* wpt_domain_destroy(), but the domain is freed even if an unmap failed
 * (the failure goes to the log callback): use destroy to act on it. */
void wpt_domain_free(struct wpt_domain *d);

/*
 * What the domain's sink holds, by the library's record, in IOVA order:
 * after a sink error or a fault (wpt_domain_error()) whose unmaps a sink
 * refused, the IOVAs a device may still reach.  Takes the VM lock: fn must
 * not call into the library.  fn returning nonzero stops and is returned.
 */
typedef int (*wpt_mapping_fn)(void *opaque, const struct wpt_mapping *m);
int wpt_domain_foreach_mapping(struct wpt_domain *d, wpt_mapping_fn fn,
			       void *opaque);

/* Override the VM's default limits for this domain (0 keeps the default). */
int wpt_domain_set_limits(struct wpt_domain *d, const struct wpt_limits *lim);

/* The guest pointed the domain at a root table (a TTB/VTTBR write, a
 * CFGI_CD): walk it and map what it maps.  Clears an earlier fault.  As
 * for every call, the return value is the call's own failure (bad
 * arguments, a root outside RAM, a sink error); a fault the new tree
 * causes (a limit, a table used twice) is the domain's state: returns 0,
 * and wpt_domain_error() says it.  Check it after each set_root. */
int wpt_domain_set_root(struct wpt_domain *d, uint64_t root_gpa);

/* The guest disabled translation: unmap everything, track nothing. */
int wpt_domain_clear_root(struct wpt_domain *d);

/* The guest invalidated [iova, iova + size): in INVAL mode re-walk that
 * range from the root and diff it; in HYBRID mode send removals waiting
 * there.  In every mode (TRAP too) it also retries whatever an earlier
 * sink failure left owed, which is how a VMM retries after an error. */
int wpt_domain_invalidate(struct wpt_domain *d, uint64_t iova, uint64_t size);
int wpt_domain_invalidate_all(struct wpt_domain *d);

/*
 * Re-walk the whole tree from the root (without changing anything) and
 * compare with the shadow and the sink's view.  Returns 0 if they agree,
 * a positive count of differences, or a negative errno.  In HYBRID mode
 * mappings whose removal waits for an invalidation are allowed.
 */
long wpt_domain_verify(struct wpt_domain *d);

/*
 * 0, or the negative errno that faulted the domain: -E2BIG a work limit,
 * -ENOSPC the slot budget, -EEXIST a table used twice at one place,
 * -ENOMEM.  A sink failure does not fault the domain: the call that made
 * it (the store, invalidation or root change) returns the sink's errno,
 * the shadow still equals what the sink holds, and what is still owed is
 * tried again at the domain's next update (so later calls may return the
 * same error until the sink accepts it, e.g. VFIO's -ENOSPC until entries
 * are freed).
 */
int wpt_domain_error(const struct wpt_domain *d);

struct wpt_domain_stats {
	uint64_t writes;          /* trapped stores to its tables */
	uint64_t descs_changed;
	uint64_t tables_walked;
	uint64_t descs_visited;
	uint64_t sink_maps;
	uint64_t sink_unmaps;
	uint64_t sink_errors;
	uint64_t table_uses;      /* tracked now */
	uint64_t leaves;          /* mapped now */
	uint64_t pending_unmap_bytes; /* HYBRID: IOVA bytes whose removal waits
				       * for an invalidation */
	uint64_t invalidations;
	uint64_t out_of_ram;
	uint64_t addr_size_faults;
	uint64_t limit_faults;
	uint64_t reserved_descs;  /* reserved encodings met (they map nothing) */
};
int wpt_domain_stats(const struct wpt_domain *d, struct wpt_domain_stats *st,
		     size_t size);

/* ---------------------------------------------------- relaxed mode */

/*
 * WPT_MODE_RELAXED: bulk maps without an exit per leaf.  A domain in this
 * mode traps stores like WPT_MODE_TRAP, but a table page below the root
 * that the guest stores to again soon after a trapped store (a driver
 * filling a leaf table) is left writable ("unsynced") with its snapshot
 * kept, so the rest of the burst costs no exit; a new one-page table that
 * the guest installs (a driver's cmpxchg into the parent, trapped, or
 * found in an unsynced parent at a sync point) starts unsynced, never
 * protected while the guest fills it.  At the next sync
 * point every unsynced page is diffed against its snapshot, the shadows
 * and sinks are updated, and a page not written for quiet_syncs sync
 * points in a row (default 1) is protected again.  Sync points:
 *
 *   - any wpt_domain_invalidate(), _invalidate_all() or _set_root() of a
 *     relaxed domain (the VM's unsynced pages, all of them);
 *   - an MMIO exit passed to wpt_vm_handle_mmio() inside a doorbell range
 *     registered with wpt_vm_add_doorbell(): the passed-through device's
 *     doorbell registers, which the VMM then traps (leaves out of the
 *     guest's direct BAR mapping) instead of mapping them;
 *   - wpt_vm_sync();
 *   - the bound of wpt_relax_cfg: that many calls of wpt_vm_handle_mmio()
 *     or that many microseconds since a page was left unsynced, checked at
 *     each call of wpt_vm_handle_mmio().
 *
 * The safety contract, plainly:
 *   - a map the guest wrote before it rang a registered doorbell is in the
 *     sink before wpt_vm_handle_mmio() returns for that doorbell exit, so
 *     before the VMM's emulation of the doorbell tells the device;
 *   - an unmap reaches the sink no later than the guest's invalidation of
 *     it (wpt_domain_invalidate returns after it did); every guest
 *     invalidates after an unmap before it reuses the memory, since the
 *     IOMMU's TLB may hold the old entry as long;
 *   - between sync points the sink may lack maps and still hold unmaps of
 *     unsynced pages.  A device that polls memory for work without a
 *     doorbell (a descriptor ring it reads on its own) may find a new
 *     descriptor whose IOVA is not mapped yet: it gets an IOMMU fault
 *     (the DMA is refused, never misdirected), until the next sync point.
 *     For such a device use WPT_MODE_TRAP, or set a bound.  Nothing is
 *     ever mapped that the guest's tables did not map at some point.
 *   - wpt_domain_verify() compares with the guest's tables as they are:
 *     call it after a sync point (wpt_vm_sync()).
 * A sink error at a sync point is counted (wpt_vm_stats.errors, the
 * domain's sink_errors) and what is owed is retried at the next update;
 * a doorbell exit still returns 0 (the VMM's device).
 *
 * Unsynced pages are per VM.  A table page a relaxed domain frees and a
 * WPT_MODE_TRAP domain reuses while it is unsynced has its stores for the
 * trap domain mirrored at the next sync point, not at once: keep trapping
 * and relaxed domains of one VM on separate table memory, or sync after
 * such a reuse.
 *
 * Costs: leaving a page writable and protecting it again are one protect
 * change each (a memslot re-cut with the KVM backend), so relaxing pays
 * off when the burst is longer than a few stores.  Each sync point
 * compares every unsynced page with its snapshot (a memcmp of 4 KiB) and
 * diffs only what differs: a larger quiet_syncs trades protection
 * changes for those compares.
 */
struct wpt_relax_cfg {
	size_t size;         /* sizeof(struct wpt_relax_cfg) */
	uint32_t max_pages;  /* unsynced pages at once (0: 64, at most
			      * 65536); past it, a page simply keeps
			      * trapping */
	uint32_t burst;      /* trapped stores to one page among the VM's
			      * last 8 that leave it writable (0: 2) */
	uint64_t max_exits;  /* sync after this many wpt_vm_handle_mmio()
			      * calls with a page unsynced (0: no bound) */
	uint64_t max_us;     /* sync when a page has been unsynced this long,
			      * checked at those calls (0: no bound) */
	uint32_t quiet_syncs;/* sync points in a row a page may go unwritten
			      * before it is protected again (0: 1, at most
			      * 2047); a full list lets its quietest go */
};

/* Set the VM's relaxed-mode settings (any time; the defaults hold until
 * then).  0, -EINVAL or -ENOMEM (the settings are unchanged). */
int wpt_vm_set_relax(struct wpt_vm *vm, const struct wpt_relax_cfg *cfg);

/* An MMIO exit inside [gpa, gpa + size) (not guest RAM) is a sync point.
 * Ranges may not overlap one already registered.  0, -EINVAL (empty,
 * wrapping, in guest RAM, or overlapping), -ENOSPC (more than 64
 * ranges). */
int wpt_vm_add_doorbell(struct wpt_vm *vm, uint64_t gpa, uint64_t size);
/* Remove a range added with exactly these bounds: 0 or -ENOENT. */
int wpt_vm_remove_doorbell(struct wpt_vm *vm, uint64_t gpa, uint64_t size);

/* A sync point now: diff every unsynced page, update the shadows and
 * sinks, protect again the pages written since the last one.  0 or the
 * first sink (or protection) error.  Any thread. */
int wpt_vm_sync(struct wpt_vm *vm);

/* ------------------------------------------- arm64: the NISV fast path */

/*
 * On arm64 a store to a read-only slot that carries no instruction
 * syndrome (STP, the LSE atomics, CAS, CASP, store-exclusives, stores with
 * writeback) reaches the VMM as KVM_EXIT_ARM_NISV with the fault IPA and
 * no data (enable KVM_CAP_ARM_NISV_TO_USER first; README says what else).
 * wpt_a64_emulate() decodes the instruction at the guest's PC and, if it
 * is one of those, performs it on guest RAM exactly as the Arm ARM defines
 * it: atomically (other vCPUs run on), with the ordering of its acquire
 * and release forms, registers and PC updated.  It then tells the library
 * what it wrote (wpt_vm_host_wrote), so the shadow and the sink are
 * updated before it returns.  Anything else returns 0: single-step it.
 */

/* The vCPU's general registers, as KVM_GET_ONE_REG / kvm_regs hold them.
 * sp is the stack pointer the instruction uses: SP_EL0 at EL0 or with
 * PSTATE.SP = 0, else SP_EL1 (kvm_regs.sp_el1). */
struct wpt_a64_regs {
	uint64_t x[31];
	uint64_t sp;
	uint64_t pc;
	uint64_t pstate;  /* SPSR layout: EL in bits [3:2], nRW bit 4,
			   * PAN bit 22 (EL2 and EL3 are not emulated) */
};

/* The EL1&0 translation registers (TTBR0_EL1, TTBR1_EL1, TCR_EL1,
 * SCTLR_EL1).  SCTLR.M = 0: addresses are IPAs.  The access is checked
 * against the full stage-1 permissions for PSTATE.EL and PSTATE.PAN
 * (AP[2:1], APTable, UXN/PXN, SCTLR.WXN and SCTLR.EPAN), not taken on
 * trust from the exit: the guest may have changed the instruction word
 * or its tables since the access that faulted. */
struct wpt_a64_mmu {
	uint64_t ttbr0;
	uint64_t ttbr1;
	uint64_t tcr;
	uint64_t sctlr;
};

/*
 * The vCPU's local exclusive monitor as the VMM models it (the hardware's
 * is lost across the exit).  A store-exclusive passes when the monitor is
 * VALID for exactly its VA and size; with VALUE it stores only if memory
 * still holds value (a compare-and-swap, so no other vCPU's store between
 * the load-exclusive and this one is lost).  The monitor is cleared by any
 * store-exclusive, pass or fail.  value[1] is the second register of a
 * pair; 32-bit registers use the low bits.
 */
#define WPT_A64_MON_VALID (1u << 0)
#define WPT_A64_MON_VALUE (1u << 1)
struct wpt_a64_monitor {
	uint64_t va;
	uint64_t value[2];
	uint32_t size;   /* bytes the load-exclusive read (a pair: both) */
	uint32_t flags;  /* WPT_A64_MON_* */
};

/* Why emulation stopped with -EFAULT: the abort the VMM should inject. */
enum wpt_a64_fault {
	WPT_A64_FAULT_NONE = 0,
	WPT_A64_FAULT_TRANSLATION, /* stage 1 translation fault at level */
	WPT_A64_FAULT_ADDR_SIZE,   /* stage 1 address size fault at level */
	WPT_A64_FAULT_ACCESS_FLAG, /* AF clear and TCR.HA = 0 */
	WPT_A64_FAULT_PERMISSION,  /* stage 1 forbids the write */
	WPT_A64_FAULT_ALIGNMENT,   /* data or PC alignment fault */
	WPT_A64_FAULT_SP_ALIGNMENT,/* SP alignment fault (SCTLR.SA/SA0) */
	WPT_A64_FAULT_EXTERNAL,    /* a walk or the access left guest RAM */
};

/* Pass as fault_ipa when the exit gave none. */
#define WPT_A64_NO_IPA UINT64_MAX

struct wpt_a64_result {
	uint32_t insn;              /* the instruction word, if fetched */
	/* -EFAULT: */
	enum wpt_a64_fault fault;
	int fault_level;            /* walk level, for the stage 1 faults */
	int fault_fetch;            /* 1: instruction abort, 0: data abort */
	uint64_t fault_va;
	/* 1: the IPA ranges written (a CAS that failed writes none) */
	unsigned int nr_written;
	uint64_t written_gpa[2];
	uint32_t written_len[2];
	int sync_err;               /* wpt_vm_host_wrote()'s result: a sink
				     * error, retried at the next update */
};

/*
 * Emulate the instruction at regs->pc.  fault_ipa is the exit's
 * arm_nisv.fault_ipa (page from HPFAR, low 12 bits from FAR) or
 * WPT_A64_NO_IPA; given one, the data VA's walk must reach that byte of
 * that page, else 0 (the word read is not the one that faulted, or the
 * tables changed: single-step, and the hardware decides).  mon may be
 * NULL: store-exclusives then return 0.  res may be NULL.
 * Returns 1: emulated; registers, PC (+4) and *mon updated, RAM and the
 * shadow hold the store (res->sync_err says if a sink refused it).
 * 0: not an instruction emulated here, or one whose result the
 * architecture leaves CONSTRAINED UNPREDICTABLE (e.g. writeback into a
 * register it stores), big-endian data, the vCPU at EL2 or EL3, or a
 * fault IPA the access does not touch: single-step it.  Nothing
 * changed.  -EFAULT: the guest must take an abort (res->fault says
 * which); nothing changed.  -EINVAL: bad arguments, or AArch32 state.
 * Any thread; the store is atomic against other vCPUs and the VMM.
 */
int wpt_a64_emulate(struct wpt_vm *vm, const struct wpt_a64_mmu *mmu,
		    struct wpt_a64_regs *regs, struct wpt_a64_monitor *mon,
		    uint64_t fault_ipa, struct wpt_a64_result *res);

#ifdef __cplusplus
}
#endif
#endif /* WPT_H */
