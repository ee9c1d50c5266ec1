/* SPDX-License-Identifier: MIT */
/*
 * Between the microbench's measurements (mb_measure.c) and the processes
 * that run them (mb_scale.c): one scale's context, and the phases.
 */
#ifndef WPT_MICROBENCH_CTX_H
#define WPT_MICROBENCH_CTX_H

#include <time.h>

#include "mb.h"
#include "mb_guest.h"

#define MB_WINDOW 64                  /* hot leaves, as in the issue */
#define MB_MAX_REPS MB_MAX_BATCHES     /* a sample a batch */

struct mb_ctx {
	const struct mb_opts *o;
	struct mb_scale *out;
	struct mb_guest g;
	struct wpt_vm *vm;
	struct wpt_limits raised;
	uint64_t window[MB_WINDOW];   /* page numbers, spread over the range */
	double samples[MB_MAX_REPS];
	uint64_t clock_ns;            /* what a read adds to an interval: */
	uint64_t wall_clock_ns;       /* CPU-time clock, CLOCK_MONOTONIC */
};

/* Record err (first error wins) with what failed; returns the error. */
int mb_fail(struct mb_ctx *c, int err, const char *what);
uint64_t mb_clock_ns(clockid_t id);
/* Measure what reading the CPU-time clock adds to an interval timed
 * with it, into c (subtracted from every interval) and c->out. */
void mb_clock_calibrate(struct mb_ctx *c);

/* The VMM's side: protection that costs nothing, a sink that does
 * nothing. */
extern const struct wpt_sink_ops mb_noop_sink;
extern const struct wpt_protect_ops mb_noop_protect_ops;

/* A stage 1, 4K, 48-bit domain on c->vm (limits raised if the defaults
 * refused this scale). */
int mb_domain_open(struct mb_ctx *c, struct wpt_sink *sink,
		   enum wpt_mode mode, struct wpt_domain **d);

/* The phases, each on a fresh domain with no root yet: TRAP with the
 * no-op sink (set_root, memory, stores, split and free), TRAP with the
 * recording sink (stores), INVAL (invalidations).  0 or the error, also
 * in c->out. */
int mb_trap_phases(struct mb_ctx *c, struct wpt_domain *d);
int mb_record_phases(struct mb_ctx *c, struct wpt_domain *d);
int mb_inval_phases(struct mb_ctx *c, struct wpt_domain *d);

#endif
