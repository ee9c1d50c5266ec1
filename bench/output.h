/* SPDX-License-Identifier: MIT */
/*
 * What both benches write besides their tables: JSON strings and gnuplot
 * charts.  Shared by the strategy bench (report.c) and the microbench.
 */
#ifndef WPT_BENCH_OUTPUT_H
#define WPT_BENCH_OUTPUT_H

#include <stdio.h>

/* s as a JSON string, quoted and escaped. */
void bench_json_str(FILE *f, const char *s);

/* Run `gnuplot script` and wait for it.  0, -ENOENT if there is no
 * gnuplot, -EIO if it failed, or another -errno. */
int bench_gnuplot(const char *script);

#endif
