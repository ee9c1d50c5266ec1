/* SPDX-License-Identifier: MIT */
/*
 * A bench run: one case under one strategy in a fresh VM, and the unit
 * costs the report prices counts with.
 */
#ifndef WPT_BENCH_RUN_H
#define WPT_BENCH_RUN_H

#include "options.h"
#include "report.h"

/* Boot the guest in a fresh VM (one SMMU and sink per vCPU), measure that
 * VM's exit and memslot costs, run w under s, verify every shadow and
 * fill row.  0 (row->verified says whether it verified), or -errno when
 * the run could not be made (row->note says where). */
int bench_run_one(const struct bench_opts *o, const struct bench_case *w,
		  enum bench_strategy s, const char *sname,
		  const struct bench_units *u, struct bench_row *row);

/* The unit costs printed for the whole bench: exit and memslot ioctl on a
 * fresh VM, and a call through a recording sink.  0 or -errno. */
int bench_calibrate(const struct bench_opts *o, struct bench_units *u);

#endif
