/* SPDX-License-Identifier: MIT */
/*
 * Reading back the rows of a results JSON that bench_write_json wrote
 * (one row a line), so the chart can be drawn where the bench did not
 * run: a nested guest has no gnuplot.  Only the fields the chart uses
 * are read; this is no general JSON parser.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* The string value of "key" in line into out, or false. */
static bool field_str(const char *line, const char *key, char *out,
		      size_t len)
{
	char pat[64];
	const char *p, *end;

	snprintf(pat, sizeof(pat), "\"%s\": \"", key);
	p = strstr(line, pat);
	if (!p)
		return false;
	p += strlen(pat);
	end = strchr(p, '"');
	if (!end || (size_t)(end - p) >= len)
		return false;
	memcpy(out, p, end - p);
	out[end - p] = 0;
	return true;
}

/* The number value of "key" in line, or 0. */
static double field_num(const char *line, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(line, pat);
	return p ? strtod(p + strlen(pat), NULL) : 0;
}

/* The layouts a row can name, so rows keep a static string. */
static const char *layout_of(const char *line)
{
	char s[16];

	if (!field_str(line, "slot_layout", s, sizeof(s)))
		return NULL;
	return !strcmp(s, "merged") ? "merged" : "per-page";
}

int bench_read_rows(FILE *f, struct bench_row *rows, size_t max, size_t *n)
{
	char line[4096];

	*n = 0;
	while (fgets(line, sizeof(line), f)) {
		struct bench_row *r = &rows[*n];

		if (!strstr(line, "{\"workload\": "))
			continue;
		if (*n == max)
			return -E2BIG;
		memset(r, 0, sizeof(*r));
		if (!field_str(line, "workload", r->workload,
			       sizeof(r->workload)) ||
		    !field_str(line, "strategy", r->strategy,
			       sizeof(r->strategy)))
			return -EINVAL;
		field_str(line, "backend", r->backend, sizeof(r->backend));
		r->ns_per_op = field_num(line, "ns_per_op");
		r->slot_ioctls_per_table = field_num(line,
						     "slot_ioctls_per_table");
		r->recuts_per_table = field_num(line, "recuts_per_table");
		r->slot_layout = layout_of(line);
		r->verified = strstr(line, "\"verified\": true") != NULL;
		r->skipped = strstr(line, "\"skipped\": true") != NULL;
		(*n)++;
	}
	return ferror(f) ? -EIO : 0;
}
