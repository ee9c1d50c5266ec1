/* SPDX-License-Identifier: MIT */
/*
 * The bench's one clock: CLOCK_MONOTONIC in ns, for the VMM's exit and
 * step timings, the SMMU's invalidation time and the bench's calibration
 * (all compared with one another, so all from the same clock).
 */
#ifndef WPT_BENCH_CLOCK_H
#define WPT_BENCH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
