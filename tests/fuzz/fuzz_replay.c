/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: every input is a "wptrace v1" trace, replayed by
 * wpt-replay's own engine (tools/replay_commands.c) with --verify on, so
 * tools/replay_verify.c checks every invariant of DESIGN.md after every
 * command (shadow == full walk, sink == shadow, sink inside RAM, the
 * protection contract and the tracked set).
 *
 * What counts as a finding: a broken invariant (the verify message is
 * printed, then abort()), a sanitizer report, a leak, a timeout.  A
 * malformed trace is only a rejected input; so is one over the bounds
 * below, which keep one input to a few MiB and milliseconds whatever it
 * asks for: a hostile trace gets a "malformed: ... over the limit" line
 * instead of gigabytes of RAM or minutes of walking.  The library's own
 * work limits are lowered too, so its limit paths are reached by small
 * inputs.
 *
 * Set FUZZ_REPLAY_VERBOSE=1 to see the replay's dumps and diagnostics.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "replay.h"

#define FUZZ_MAX_RAM      (64ull << 20)
#define FUZZ_MAX_DOMAINS  4
#define FUZZ_MAX_COMMANDS 1000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull;
static int verbose = -1;

static int replay_input(const uint8_t *data, size_t size, FILE *out,
			FILE *err)
{
	static const char empty[1];
	struct replay r;
	FILE *f;
	int ret;

	/* fmemopen refuses size 0: an empty trace is one NUL byte, which
	 * getline reads as an empty line. */
	f = fmemopen(size ? (void *)data : (void *)empty, size ? size : 1,
		     "r");
	if (!f) {
		perror("fuzz_replay: fmemopen");
		abort();
	}
	replay_init(&r);
	r.verify = true;
	r.out = out;
	r.err = err;
	r.max_ram = FUZZ_MAX_RAM;
	r.max_domains = FUZZ_MAX_DOMAINS;
	r.max_commands = FUZZ_MAX_COMMANDS;
	r.limits = (struct wpt_limits){
		.max_table_uses = 1024,
		.max_leaves = 1u << 14,
		.max_walk_descs = 1u << 18,
	};
	ret = replay_stream(&r, f);
	replay_free(&r);
	fclose(f);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int ret;

	if (verbose < 0) {
		const char *v = getenv("FUZZ_REPLAY_VERBOSE");

		verbose = v && *v == '1';
		devnull = verbose ? NULL : fopen("/dev/null", "w");
		if (!verbose && !devnull) {
			perror("fuzz_replay: /dev/null");
			abort();
		}
	}
	ret = replay_input(data, size, verbose ? stdout : devnull,
			   verbose ? stderr : devnull);
	if (ret == EXIT_VERIFY) {
		/* Deterministic: replay it again, this time saying why. */
		if (!verbose)
			replay_input(data, size, devnull, stderr);
		fprintf(stderr, "fuzz_replay: an invariant broke (the "
			"\"verify:\" line above)\n");
		abort();
	}
	return 0;
}
