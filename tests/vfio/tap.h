/* SPDX-License-Identifier: MIT */
/*
 * TAP on stdout: the plan, then one "ok N - what" or "not ok N - what: why"
 * per point.  A point collects failures while it runs (tap_fail), each
 * also written to stderr; tap_point() closes it.  Diagnostics go to stderr.
 * While prefix is set, every point's name starts with "<prefix>: ".
 */
#ifndef WPT_VFIO_TAP_H
#define WPT_VFIO_TAP_H

#include <stdbool.h>

struct tap {
	unsigned int planned, done, failed;
	unsigned int nfail;  /* failures in the open point */
	char why[200];       /* the first of them */
	char last_why[200];  /* of the last point that failed */
	const char *prefix;  /* or NULL */
};

void tap_plan(struct tap *t, unsigned int n);
void tap_fail(struct tap *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Close the open point; returns whether it passed. */
bool tap_point(struct tap *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void tap_skip(struct tap *t, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
