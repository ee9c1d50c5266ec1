/* SPDX-License-Identifier: MIT */
/*
 * The microbench's options (the rest of its pure half is mb_report.c):
 * parsed into struct mb_opts, every value checked, bench/tests/
 * test_microbench.c covers them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "mb.h"

/* A macro's value as a string literal. */
#define STR_(x) #x
#define STR(x) STR_(x)

/* "1k", "64K", "1m", "16M" or a plain number of pages. */
static int parse_pages(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (*end && *end != ',')
		return -EINVAL;
	*out = v;
	return (int)(end - s);
}

/* A comma-separated list of powers of two from MB_MIN_PAGES to
 * MB_MAX_PAGES, ascending. */
int mb_parse_scales(const char *s, struct mb_opts *o)
{
	uint64_t v[MB_MAX_SCALES];
	unsigned int n = 0;
	int len;

	if (!s || !*s)
		return -EINVAL;
	for (;;) {
		len = parse_pages(s, &v[n]);
		if (len < 0 || v[n] < MB_MIN_PAGES || v[n] > MB_MAX_PAGES ||
		    (v[n] & (v[n] - 1)) || (n && v[n] <= v[n - 1]))
			return -EINVAL;
		s += len;
		n++;
		if (!*s)
			break;
		if (n == MB_MAX_SCALES || !*++s)
			return -EINVAL;
	}
	memcpy(o->scales, v, n * sizeof(v[0]));
	o->nr_scales = n;
	return 0;
}

void mb_usage(FILE *f)
{
	fprintf(f,
		"usage: wpt-microbench [--quick] [--scales LIST] [--batches N]\n"
		"                      [--runs N] [--record-max PAGES] [--budget SECONDS]\n"
		"                      [--gpa scattered|contiguous] [--window spread|hot]\n"
		"                      [--json PATH] [--png PATH]\n"
		"                      [--no-chart]\n"
		"  --scales LIST      mapped 4K pages, powers of two from 1k to 64m,\n"
		"                     ascending (default 1k,64k,1m,16m; --quick 1k,64k)\n"
		"  --batches N        timed batches of 64 stores per kind, up to "
		STR(MB_MAX_BATCHES) "\n"
		"                     (default 200)\n"
		"  --runs N           every scale N times, in turn; each figure the\n"
		"                     lowest of the N, up to " STR(MB_MAX_RUNS) " (default 3;\n"
		"                     --quick 1)\n"
		"  --record-max PAGES the recording-sink rows up to this scale (16m)\n"
		"  --budget SECONDS   skip a scale estimated to end past this (60;\n"
		"                     0: run every scale whatever it takes)\n"
		"  --gpa scattered|contiguous  what the pages map: every page a\n"
		"                     mapping of its own (default), or one run\n"
		"  --window spread|hot  the 64 stored leaves spread over the range\n"
		"                     (default), or adjacent in one table\n"
		"  --json PATH        default bench/results/microbench.json\n"
		"  --png PATH         default bench/results/microbench.png\n"
		"Exit status: 0 (goals met or not: see the table), 1 a scale failed,\n"
		"2 a bad argument.\n");
}

/* A decimal count from 1 to max: 0, or -EINVAL. */
static int parse_count(const char *arg, unsigned int max, unsigned int *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || *arg == '-' || v < 1 || v > max)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

static const struct option long_opts[] = {
	{ "quick", no_argument, NULL, 'q' },
	{ "scales", required_argument, NULL, 's' },
	{ "batches", required_argument, NULL, 'b' },
	{ "runs", required_argument, NULL, 'R' },
	{ "record-max", required_argument, NULL, 'r' },
	{ "budget", required_argument, NULL, 'B' },
	{ "gpa", required_argument, NULL, 'g' },
	{ "window", required_argument, NULL, 'w' },
	{ "json", required_argument, NULL, 'j' },
	{ "png", required_argument, NULL, 'p' },
	{ "no-chart", no_argument, NULL, 'n' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_one(int c, const char *arg, struct mb_opts *o, bool *scales)
{
	char *end;

	switch (c) {
	case 'q': o->quick = true; return 0;
	case 's': *scales = true; return mb_parse_scales(arg, o);
	case 'b':
		return parse_count(arg, MB_MAX_BATCHES, &o->batches);
	case 'R':
		return parse_count(arg, MB_MAX_RUNS, &o->runs);
	case 'r':
		return parse_pages(arg, &o->record_max) == (int)strlen(arg) ?
			       0 : -EINVAL;
	case 'B':
		errno = 0;
		o->budget_s = strtod(arg, &end);
		return errno || end == arg || *end || !(o->budget_s >= 0) ?
			       -EINVAL : 0;
	case 'g':
		o->contiguous = !strcmp(arg, "contiguous");
		return o->contiguous || !strcmp(arg, "scattered") ? 0 : -EINVAL;
	case 'w':
		o->hot = !strcmp(arg, "hot");
		return o->hot || !strcmp(arg, "spread") ? 0 : -EINVAL;
	case 'j': o->json = arg; return 0;
	case 'p': o->png = arg; return 0;
	case 'n': o->chart = false; return 0;
	default: return -EINVAL;
	}
}

/* What option c takes, for the message that refuses a value. */
static const char *takes(int c)
{
	switch (c) {
	case 's': return "powers of two from 1k to 64m, ascending, by commas";
	case 'b': return "a count from 1 to " STR(MB_MAX_BATCHES);
	case 'R': return "a count from 1 to " STR(MB_MAX_RUNS);
	case 'r': return "a number of pages (digits, k or m after them)";
	case 'B': return "seconds, 0 or more";
	case 'g': return "scattered or contiguous";
	case 'w': return "spread or hot";
	default: return NULL;
	}
}

static void say_bad(FILE *err, int c, char **argv)
{
	const char *what = takes(c);
	const struct option *opt = long_opts;

	while (opt->name && opt->val != c)
		opt++;
	if (c == ':')
		fprintf(err, "wpt-microbench: %s needs a value\n",
			argv[optind - 1]);
	else if (c == '?' || !what || !opt->name)
		fprintf(err, "wpt-microbench: bad option: %s (--help lists them)\n",
			argv[optind - 1]);
	else
		fprintf(err, "wpt-microbench: --%s: bad value '%s': it takes %s\n",
			opt->name, optarg, what);
}

/* 0, 1 for --help (usage printed to stdout), -EINVAL (said on err). */
int mb_parse_args(int argc, char **argv, struct mb_opts *o, FILE *err)
{
	bool scales = false;
	int c;

	*o = (struct mb_opts){ .batches = 0, .record_max = 1ull << 24,
			       .budget_s = 60, .chart = true,
			       .json = "bench/results/microbench.json",
			       .png = "bench/results/microbench.png" };
	optind = 0; /* glibc: start afresh (the tests parse many times) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
		if (c == 'h') {
			mb_usage(stdout);
			return 1;
		}
		if (c == '?' || c == ':' || parse_one(c, optarg, o, &scales)) {
			say_bad(err, c, argv);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(err, "wpt-microbench: unexpected argument '%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	if (!scales)
		mb_parse_scales(o->quick ? "1k,64k" : "1k,64k,1m,16m", o);
	if (!o->batches)
		o->batches = o->quick ? 64 : 200;
	if (!o->runs)
		o->runs = o->quick ? 1 : 3;
	return 0;
}
