/* SPDX-License-Identifier: MIT */
/*
 * Internal entry points for the library's own tests and tools (linked
 * statically); not installed, not exported from libwpt.so.
 */
#ifndef WPT_INTERNAL_H
#define WPT_INTERNAL_H

#include <stdint.h>

#include "wpt.h"

/* Every table the VM tracks now: its GPA, size in bytes, and how many uses
 * (domain, level, IOVA) it has.  Under the VM lock; fn must not call back
 * into the library.  fn returning nonzero stops and is returned. */
typedef int (*wpt_table_fn)(void *opaque, uint64_t gpa, uint64_t size,
			    unsigned int uses);
int wpt_vm_foreach_table(struct wpt_vm *vm, wpt_table_fn fn, void *opaque);

/* Whether the 4 KiB page at gpa is protected now (1) or not (0). */
int wpt_vm_page_protected(struct wpt_vm *vm, uint64_t gpa);

/* Userfaultfd backend: call fn(opaque) inside every lift of a page for a
 * VMM thread, after its slot is claimed and before the lift ioctl (to test
 * the race with a concurrent close).  fn NULL removes it.  -EINVAL if the
 * VM has no userfaultfd backend. */
int wpt_vm_uffd_test_hook(struct wpt_vm *vm, void (*fn)(void *opaque),
			  void *opaque);

/*
 * Make the recording sink fail its call number nth (1 = the next one) with
 * err (a negative errno), once; nth = 0 cancels.  For testing error paths.
 */
int wpt_sink_record_fail_at(struct wpt_sink *sink, uint64_t nth, int err);

#endif
