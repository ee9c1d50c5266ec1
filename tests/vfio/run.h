/* SPDX-License-Identifier: MIT */
/*
 * One domain's life in the test: the backend's sink (its ioctl watched by
 * sink_calls), a domain in one mode, the guest's table driver, and the
 * checks that follow each step once the guest's view has settled (after
 * its invalidation, as a guest would issue it):
 *  - wpt_domain_verify() == 0 and no domain fault;
 *  - what the shadow holds equals the driver's model of the leaves, and
 *    equals what the kernel holds (the watched ioctl's live set);
 *  - table pages protected exactly when the mode traps and the page is a
 *    live table; data pages never;
 *  - the device reaches exactly what is held (rig_probe), on the IOVAs the
 *    step named and on a rotating sample of held mappings.
 */
#ifndef WPT_VFIO_RUN_H
#define WPT_VFIO_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "guest.h"
#include "rig.h"

#define RUN_WANT_MAX 12

struct run {
	struct rig *r;
	enum wpt_mode mode;
	const char *mname;
	struct wpt_sink *sink;
	struct wpt_domain *d;
	struct pt pt;
	/* Filled by a step: IOVAs to probe, ranges the guest invalidates. */
	struct probe want[RUN_WANT_MAX];
	unsigned int nr_want;
	struct { uint64_t iova, size; } inval[4];
	unsigned int nr_inval;
	bool detached;       /* clear_root: no table is live */
	unsigned int salt;   /* rotates the sampled mappings */
	uint64_t t_linked;   /* the prebuilt table (steps 3, 6, 7) */
	char where[80];
};

const char *mode_name(enum wpt_mode mode);

/* Sink, domain, empty root table set.  Failures go to the open point. */
int run_open(struct run *u, struct rig *r, enum wpt_mode mode);
/* Free the domain and its sink; check the kernel holds nothing of it
 * and no page stays protected. */
void run_close(struct run *u);

void run_want(struct run *u, uint64_t iova, bool write, uint64_t old_gpa);
void run_inval(struct run *u, uint64_t iova, uint64_t size);
/* Send the step's invalidations. */
int run_invalidate(struct run *u);

/* The checks listed above (sample: add rotating held mappings to the
 * probes). */
void run_check_settled(struct run *u, bool sample);
/* HYBRID, before the invalidation: verify (pending removals allowed) and
 * probe the step's IOVAs by what is held now. */
void run_check_pending(struct run *u);

/* Shadow == model == kernel, without probing. */
void run_check_state(struct run *u);

#endif
