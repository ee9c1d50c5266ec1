/* SPDX-License-Identifier: MIT */
/* TAP output (tap.h). */
#include <stdarg.h>
#include <stddef.h>
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

/* The point's name: the prefix, then fmt. */
static void name(const struct tap *t, char *buf, size_t n, const char *fmt,
		 va_list ap)
{
	int len = t->prefix ? snprintf(buf, n, "%s: ", t->prefix) : 0;

	if (len < 0 || (size_t)len >= n)
		len = 0;
	vsnprintf(buf + len, n - (size_t)len, fmt, ap);
}

bool tap_point(struct tap *t, const char *fmt, ...)
{
	bool ok = !t->nfail;
	char what[240];
	va_list ap;

	va_start(ap, fmt);
	name(t, what, sizeof(what), fmt, ap);
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
	char what[240];
	va_list ap;

	va_start(ap, fmt);
	name(t, what, sizeof(what), fmt, ap);
	va_end(ap);
	t->done++;
	printf("ok %u - %s # SKIP %s\n", t->done, what, reason);
	fflush(stdout);
	fprintf(stderr, "# skip %u - %s: %s\n", t->done, what, reason);
	t->nfail = 0;
	t->why[0] = 0;
}
