/* SPDX-License-Identifier: MIT */
/* TAP output (tap.h). */
#include <stdarg.h>
#include <stdio.h>

#include "tap.h"

void tap_plan(struct tap *t, unsigned int n)
{
	t->planned = n;
	printf("1..%u\n", n);
	fflush(stdout);
}

void tap_fail(struct tap *t, const char *fmt, ...)
{
	char msg[sizeof(t->why)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "# FAIL (point %u): %s\n", t->done + 1, msg);
	if (!t->nfail++)
		snprintf(t->why, sizeof(t->why), "%s", msg);
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

bool tap_point(struct tap *t, const char *fmt, ...)
{
	bool ok = !t->nfail;
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	t->done++;
	if (ok) {
		printf("ok %u - %s\n", t->done, what);
	} else {
		t->failed++;
		snprintf(t->last_why, sizeof(t->last_why), "%s", t->why);
		if (t->nfail > 1)
			printf("not ok %u - %s: %s (and %u more)\n", t->done,
			       what, t->why, t->nfail - 1);
		else
			printf("not ok %u - %s: %s\n", t->done, what, t->why);
	}
	fflush(stdout);
	fprintf(stderr, "# %s %u - %s\n", ok ? "ok" : "not ok", t->done, what);
	t->nfail = 0;
	t->why[0] = 0;
	return ok;
}

void tap_skip(struct tap *t, const char *reason, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	t->done++;
	printf("ok %u - %s # SKIP %s\n", t->done, what, reason);
	fflush(stdout);
	fprintf(stderr, "# skip %u - %s: %s\n", t->done, what, reason);
	t->nfail = 0;
	t->why[0] = 0;
}
