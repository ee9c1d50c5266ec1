/* SPDX-License-Identifier: MIT */
/*
 * wpt-replay: replay a "wptrace v1" text trace of guest activity through the
 * library, without KVM.  Guest RAM is anonymous memory, pages are protected
 * through the callback backend (a byte per page, kept here), and every
 * domain has a recording sink, which `dump` prints.  A guest store to a
 * protected page goes to wpt_vm_handle_mmio() as KVM would deliver it;
 * any other store is written straight to RAM, as the guest's own would be.
 *
 *   wpt-replay [--verify] TRACE      (TRACE "-" reads stdin)
 *   wpt-replay --help
 *
 * Exit status: 0, 1 when --verify finds a broken invariant, 2 when the
 * trace is malformed (the message names the line).  Failures of library
 * calls on a well-formed trace, and domains that fault, are diagnostics on
 * stderr; the replay goes on, as a VMM would.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "replay.h"

int main(int argc, char **argv)
{
	struct replay r;
	const char *path;
	FILE *f;
	int ret;

	replay_init(&r);
	if (argc == 2 && !strcmp(argv[1], "--help")) {
		printf("usage: %s [--verify] TRACE\n", argv[0]);
		return EXIT_OK;
	}
	if (argc == 3 && !strcmp(argv[1], "--verify"))
		r.verify = true;
	if (argc != 2 + r.verify) {
		fprintf(stderr, "usage: %s [--verify] TRACE\n", argv[0]);
		return EXIT_MALFORMED;
	}
	path = argv[argc - 1];
	f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return EXIT_MALFORMED;
	}
	ret = replay_stream(&r, f);
	if (f != stdin)
		fclose(f);
	replay_free(&r);
	fflush(stdout);
	return ret;
}
