/* SPDX-License-Identifier: MIT */
/*
 * The userfaultfd write-protect backend: protected pages are write-protected
 * in the VMM's own page tables (UFFDIO_WRITEPROTECT) instead of sitting in a
 * read-only memslot.  The VMM's memslots stay as they are, so protecting a
 * page never re-cuts a slot and never makes KVM drop the mappings of its
 * neighbours.
 *
 * Two ways to deliver a fault (wpt.h, "the userfaultfd backend"):
 * WPT_UFFD_SIGBUS (UFFD_FEATURE_SIGBUS): nothing blocks, KVM's write to
 * the page fails and where KVM emulates the store it exits with
 * KVM_EXIT_MMIO and the data; a VMM thread gets a real SIGBUS.
 * WPT_UFFD_BLOCK: the faulting thread blocks and the fault is queued on
 * the fd with the thread's id (UFFD_FEATURE_THREAD_ID), for
 * wpt_vm_uffd_service() (lib/trap_uffd.c) to read.
 *
 * The VMM's own stores to a protected page fault too: uffd_lift.c lifts
 * the page for them and remembers it until the VMM's wpt_vm_host_wrote.
 *
 * Every RAM region is registered with UFFDIO_REGISTER_MODE_WP once, at
 * creation: that needs anonymous, memfd/shmem or hugetlbfs memory (and
 * CAP_SYS_PTRACE, or /dev/userfaultfd, for faults raised inside KVM).
 * Called only under the VM lock, like every backend, except the ops
 * protect.h says otherwise of (lift, wake, lifted_in, read_fault).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "uffd_int.h"

/* Linux 6.4: UFFDIO_WRITEPROTECT also arms pages never touched (pte
 * markers).  The 6.1 uapi header lacks it; without it a page must be
 * present before it is protected (uffd_prefault). */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif


static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * A userfaultfd that may catch faults raised in the kernel (KVM's own
 * access to guest RAM), so not UFFD_USER_MODE_ONLY.  The syscall needs
 * CAP_SYS_PTRACE when vm.unprivileged_userfaultfd is 0; /dev/userfaultfd
 * (Linux 6.1) is the unprivileged way a distribution may grant instead.
 */
static int uffd_open(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	int dev, err;

	if (fd >= 0)
		return fd;
	err = -errno;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return err;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		fd = -errno;
	close(dev);
	return fd;
}

/*
 * UFFDIO_API may be called once per fd, and fails for a feature the
 * kernel lacks: ask what it has on a throwaway fd, then open the real one
 * with what we need plus what helps.
 */
static int uffd_handshake(bool block, int *fd_out, uint64_t *features)
{
	const uint64_t need = UFFD_FEATURE_PAGEFAULT_FLAG_WP |
			      (block ? UFFD_FEATURE_THREAD_ID
				     : UFFD_FEATURE_SIGBUS);
	const uint64_t want = UFFD_FEATURE_WP_HUGETLBFS_SHMEM |
			      UFFD_FEATURE_WP_UNPOPULATED;
	struct uffdio_api api = { .api = UFFD_API };
	int fd = uffd_open();

	if (fd < 0)
		return fd;
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	if ((api.features & need) != need)
		return -EOPNOTSUPP;
	fd = uffd_open();
	if (fd < 0)
		return fd;
	api = (struct uffdio_api){
		.api = UFFD_API,
		.features = need | (api.features & want),
	};
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	*fd_out = fd;
	*features = api.features;
	return 0;
}

/* Before Linux 6.4 a page that was never touched has no PTE to mark, and
 * a store to it would not fault: read it once so a PTE exists. */
static void uffd_prefault(const struct uffd *u, uint64_t gpa, uint64_t size)
{
	uint64_t p;

	if (u->features & UFFD_FEATURE_WP_UNPOPULATED)
		return;
	for (p = gpa; p < gpa + size; p += WPT_PAGE_SIZE) {
		const volatile uint8_t *hva = guestmem_hva(u->gm, p, 1);

		if (hva)
			(void)*hva;
	}
}

static int uffd_wp(struct uffd *u, uint64_t gpa, uint64_t size, bool on)
{
	struct uffdio_writeprotect wp;
	uint64_t t0 = now_ns();
	void *hva = guestmem_hva(u->gm, gpa, size);
	int ret = 0;

	if (!size || ((gpa | size) & ~WPT_PAGE_MASK) || !hva)
		return -EINVAL;
	if (on)
		uffd_prefault(u, gpa, size);
	/* Lifting wakes the threads blocked on the range (WPT_UFFD_BLOCK):
	 * they retry their store on a writable page. */
	wp = (struct uffdio_writeprotect){
		.range = { .start = (uintptr_t)hva, .len = size },
		.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};
	if (on)
		uffd_wp_seq_bump(u);
	while (ioctl(u->fd, UFFDIO_WRITEPROTECT, &wp) < 0) {
		/* EAGAIN: the mm is changing under us (mremap, fork). */
		if (errno != EAGAIN) {
			ret = -errno;
			break;
		}
	}
	if (on)
		uffd_wp_seq_bump(u);
	u->wp_ops++;
	u->wp_ns += now_ns() - t0;
	return ret;
}

static int uffd_protect(void *be, uint64_t gpa, uint64_t size)
{
	return uffd_wp(be, gpa, size, true);
}

static int uffd_unprotect(void *be, uint64_t gpa, uint64_t size)
{
	return uffd_wp(be, gpa, size, false);
}

static void uffd_stats(void *be, struct wpt_protect_stats *st)
{
	struct uffd *u = be;

	memset(st, 0, sizeof(*st));
	st->wp_ops = u->wp_ops;
	st->wp_ns = u->wp_ns;
	st->lifts = __atomic_load_n(&u->lifts, __ATOMIC_RELAXED);
}

/* Closing the fd unregisters the ranges and drops every protection, so
 * the guest keeps running. */
static void uffd_free(void *be)
{
	struct uffd *u = be;

	close(u->fd);
	free(u);
}

static int uffd_fault_fd(void *be)
{
	return ((const struct uffd *)be)->fd;
}

static int uffd_read_fault(void *be, uint64_t *gpa, int *tid)
{
	struct uffd *u = be;
	struct uffd_msg msg;

	for (;;) {
		ssize_t n = read(u->fd, &msg, sizeof(msg));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -errno;
		}
		if (n != sizeof(msg))
			return -EIO;
		/* Only write-protect faults are asked for (no MISSING, no
		 * events); anything else is skipped. */
		if (msg.event != UFFD_EVENT_PAGEFAULT ||
		    !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) ||
		    !guestmem_gpa_of_hva(u->gm, msg.arg.pagefault.address,
					 gpa))
			continue;
		*gpa &= WPT_PAGE_MASK;
		*tid = (int)msg.arg.pagefault.feat.ptid;
		return 1;
	}
}

static const struct wpt_protect_backend_ops uffd_ops = {
	.name = "uffd",
	.protect = uffd_protect,
	.unprotect = uffd_unprotect,
	.stats = uffd_stats,
	.free = uffd_free,
	.lift = uffd_lift,
	.wake = uffd_wake,
	.lifted_in = uffd_lifted_in,
	.take_lifted = uffd_take_lifted,
	.lift_was_enough = uffd_lift_was_enough,
	.fault_fd = uffd_fault_fd,
	.read_fault = uffd_read_fault,
};

int wpt_protect_uffd_new(const struct wpt_guestmem *gm, bool block,
			 struct wpt_protect *out)
{
	struct uffd *u;
	unsigned int i;
	int ret;

	if (!gm || !out || !gm->nr)
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->gm = gm;
	ret = uffd_handshake(block, &u->fd, &u->features);
	if (ret) {
		free(u);
		return ret;
	}
	for (i = 0; i < gm->nr; i++) {
		const struct wpt_ram_region *r = &gm->regions[i];
		struct uffdio_register reg = {
			.range = { .start = (uintptr_t)r->hva, .len = r->size },
			.mode = UFFDIO_REGISTER_MODE_WP,
		};

		/* EINVAL here: a misaligned HVA, or memory userfaultfd
		 * cannot write-protect (a private file mapping). */
		if (((uintptr_t)r->hva & ~WPT_PAGE_MASK) ||
		    ioctl(u->fd, UFFDIO_REGISTER, &reg) < 0) {
			ret = (uintptr_t)r->hva & ~WPT_PAGE_MASK ? -EINVAL
								  : -errno;
			close(u->fd);
			free(u);
			return ret;
		}
	}
	/* SIGBUS mode: faults are signals, nothing queues on the fd. */
	u->ops = uffd_ops;
	if (!block) {
		u->ops.fault_fd = NULL;
		u->ops.read_fault = NULL;
	}
	out->ops = &u->ops;
	out->be = u;
	return 0;
}
