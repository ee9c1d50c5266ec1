/* SPDX-License-Identifier: MIT */
/*
 * The userfaultfd backend's lifted pages (uffd_int.h).
 *
 * The VMM's own stores to a protected page fault too: the backend lifts
 * the page for them (uffd_lift, from a SIGBUS handler or the fault
 * service) and remembers it until the VMM's wpt_vm_host_wrote, which
 * protects it again and diffs it.  Lifted pages sit in a fixed array, a
 * slot claimed lock-free by compare-and-swap from 0 to page + 1 and freed
 * under the VM lock.  Freeing before protecting again is what keeps it
 * safe: a writer that faults in between claims a fresh slot and lifts the
 * page again, and the protect that follows makes it fault once more.
 *
 * Everything here but take_lifted runs lock-free, from a SIGBUS handler
 * or the fault service: only atomics and the one ioctl.
 */
#include <errno.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "uffd_int.h"

/* One page's protection, on or off (off also wakes what waits there).
 * Only syscalls and no lock: a SIGBUS handler calls this.  errno is the
 * interrupted code's: keep it. */
static int uffd_wp_page(struct uffd *u, uint64_t gpa, bool on)
{
	void *hva = guestmem_hva(u->gm, gpa & WPT_PAGE_MASK, WPT_PAGE_SIZE);
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)hva, .len = WPT_PAGE_SIZE },
		.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};
	int saved = errno, ret = 0;

	if (!hva)
		return -EINVAL;
	if (on)
		uffd_wp_seq_bump(u);
	while (ioctl(u->fd, UFFDIO_WRITEPROTECT, &wp) < 0) {
		if (errno != EAGAIN) {
			ret = -errno;
			break;
		}
	}
	if (on)
		uffd_wp_seq_bump(u);
	errno = saved;
	return ret;
}

/* Make the page at gpa writable and wake what waits there. */
int uffd_wake(void *be, uint64_t gpa)
{
	return uffd_wp_page(be, gpa, false);
}

/* Claim a slot for tag: the one holding it already, else a free one.
 * Lock-free.  The slot's index, or WPT_UFFD_MAX_LIFTED when all are
 * taken.  Two lifters of one page racing may still take two slots, which
 * is only wasteful: a close frees each. */
static unsigned int uffd_claim(struct uffd *u, uint64_t tag)
{
	unsigned int i;

	/* Lifted already (and protected again by a trapped store since):
	 * lift once more, the slot stands. */
	for (i = 0; i < WPT_UFFD_MAX_LIFTED; i++)
		if (__atomic_load_n(&u->lifted[i], __ATOMIC_ACQUIRE) == tag)
			return i;
	for (i = 0; i < WPT_UFFD_MAX_LIFTED; i++) {
		uint64_t free_slot = 0;

		if (__atomic_compare_exchange_n(&u->lifted[i], &free_slot, tag,
						false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return i;
	}
	return WPT_UFFD_MAX_LIFTED;
}

/* Who lifted the slot's page last, and the protection count before. */
static void lift_note(struct uffd *u, unsigned int slot, uint64_t seq)
{
	__atomic_store_n(&u->lift_tid[slot], (int)gettid(), __ATOMIC_RELEASE);
	__atomic_store_n(&u->lift_seq[slot], seq, __ATOMIC_RELEASE);
}

/*
 * The record comes first, so a close never misses a lifted page; but a
 * close (wpt_vm_host_wrote: take_lifted, protect again, diff) may free the
 * slot between the claim and the lift ioctl, and the ioctl then leaves
 * the page writable with no record: so the slot is checked after the
 * lift, and claimed again if it was freed meanwhile.
 */
int uffd_lift(void *be, uint64_t gpa)
{
	struct uffd *u = be;
	uint64_t tag = (gpa & WPT_PAGE_MASK) + 1, mine = tag, seq;
	unsigned int slot = uffd_claim(u, tag);
	void (*hook)(void *) = __atomic_load_n(&u->test_lift_hook,
						__ATOMIC_ACQUIRE);
	int ret;

	if (slot == WPT_UFFD_MAX_LIFTED)
		return -ENOSPC;
	seq = __atomic_load_n(&u->wp_seq, __ATOMIC_SEQ_CST);
	lift_note(u, slot, seq);
	if (hook)
		hook(u->test_lift_opaque);
	ret = uffd_wp_page(u, gpa, false);
	if (ret) {
		/* Free it only if no other lifter of the page relies on it. */
		__atomic_compare_exchange_n(&u->lifted[slot], &mine, 0, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
		return ret;
	}
	if (__atomic_load_n(&u->lifted[slot], __ATOMIC_ACQUIRE) != tag) {
		slot = uffd_claim(u, tag);
		if (slot == WPT_UFFD_MAX_LIFTED) {
			/* No slot to record it in: protect it again rather
			 * than leave it writable unseen; the writer faults
			 * once more. */
			uffd_wp_page(u, gpa, true);
			return -ENOSPC;
		}
		lift_note(u, slot, seq);
	}
	__atomic_fetch_add(&u->lifts, 1, __ATOMIC_RELAXED);
	return 1;
}

/*
 * This thread lifted the page at gpa and nothing has been write-protected
 * since (the count is even and the same as before that lift), yet its
 * store there faults again: that SIGBUS is not a write-protect fault (a
 * hugetlbfs page missing, a truncated file), and lifting again would make
 * the VMM retry forever.  The first SIGBUS on a page cannot tell: it is
 * lifted, and only the retried store's fault says.  Another thread's
 * fault may have come before this thread's lift: it is lifted.
 */
bool uffd_lift_was_enough(void *be, uint64_t gpa)
{
	struct uffd *u = be;
	uint64_t tag = (gpa & WPT_PAGE_MASK) + 1;
	uint64_t now = __atomic_load_n(&u->wp_seq, __ATOMIC_SEQ_CST);
	int tid = (int)gettid();
	unsigned int i;

	for (i = 0; i < WPT_UFFD_MAX_LIFTED; i++) {
		uint64_t seq = __atomic_load_n(&u->lift_seq[i],
					       __ATOMIC_ACQUIRE);

		if (__atomic_load_n(&u->lifted[i], __ATOMIC_ACQUIRE) == tag &&
		    __atomic_load_n(&u->lift_tid[i], __ATOMIC_ACQUIRE) == tid &&
		    !(seq & 1) && seq == now)
			return true;
	}
	return false;
}

int wpt_protect_uffd_test_hook(struct wpt_protect *p, void (*fn)(void *),
			       void *opaque)
{
	struct uffd *u;

	/* Only this backend lifts with uffd_lift. */
	if (!p->ops || p->ops->lift != uffd_lift)
		return -EINVAL;
	u = p->be;
	u->test_lift_opaque = opaque;
	__atomic_store_n(&u->test_lift_hook, fn, __ATOMIC_RELEASE);
	return 0;
}

/* The lifted page of slot i when it lies inside [gpa, gpa + len): its
 * tag, else 0. */
static uint64_t lifted_tag_in(struct uffd *u, unsigned int i, uint64_t gpa,
			      uint64_t len)
{
	uint64_t tag = __atomic_load_n(&u->lifted[i], __ATOMIC_ACQUIRE);

	if (tag && tag - 1 + WPT_PAGE_SIZE > gpa && tag - 1 < gpa + len)
		return tag;
	return 0;
}

bool uffd_lifted_in(void *be, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < WPT_UFFD_MAX_LIFTED; i++)
		if (lifted_tag_in(be, i, gpa, len))
			return true;
	return false;
}

bool uffd_take_lifted(void *be, uint64_t gpa, uint64_t len,
			     uint64_t *page)
{
	struct uffd *u = be;
	unsigned int i;

	for (i = 0; i < WPT_UFFD_MAX_LIFTED; i++) {
		uint64_t tag = lifted_tag_in(u, i, gpa, len);

		/* Free first (see the top of the file). */
		if (tag && __atomic_compare_exchange_n(&u->lifted[i], &tag, 0,
						       false, __ATOMIC_ACQ_REL,
						       __ATOMIC_ACQUIRE)) {
			*page = tag - 1;
			return true;
		}
	}
	return false;
}
