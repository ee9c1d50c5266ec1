/* SPDX-License-Identifier: MIT */
/*
 * wpt-bench's command line (see options.h): the cases it runs, the
 * strategies, and the parsing of the options.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "wpt.h"

const struct bench_case bench_cases[] = {
	{ "stream4k-strict", BENCH_W_STREAM4K, 1, 1, ~0ull, NULL, false, false, 0, 0 },
	{ "stream4k-lazy", BENCH_W_STREAM4K, 64, 1, ~0ull, NULL, false, false, 0, 0 },
	{ "bulk4k", BENCH_W_BULK4K, 1, 1, ~0ull, NULL, false, false, 0, 0 },
	{ "bulk2m", BENCH_W_BULK2M, 1, 1, ~0ull, NULL, false, false, 0, 0 },
	{ "churn", BENCH_W_CHURN, 1, 1, ~0ull, NULL, false, false, 0, 0 },
	{ "split", BENCH_W_SPLIT, 1, 1, ~0ull, NULL, false, false, 0, 0 },
	{ "mt", BENCH_W_STREAM4K, 1, 2, ~0ull, NULL, false, false, 0, 0 },
	/* the slot layout sweep: granules, a read-only slot per table page
	 * (the default) against adjacent pages sharing one, a budget too
	 * small for a slot per table page (-tight: the 64 chunks of 2 MiB
	 * and 48 more, where churn needs about 140 per page and 103 merged),
	 * and one too small even merged at times (-starved: 16 more, where
	 * some releases are refused and those pages stay read-only); no row
	 * may fault its domain */
	{ "churn-slot1", BENCH_W_CHURN, 1, 1, 0, "trap", false, false, 0, 0 },
	{ "churn-slot2m", BENCH_W_CHURN, 1, 1, 2ull << 20, "trap", false, false, 0, 0 },
	{ "churn-slot64m", BENCH_W_CHURN, 1, 1, 64ull << 20, "trap", false, false, 0, 0 },
	{ "churn-slot1-merged", BENCH_W_CHURN, 1, 1, 0, "trap", false, false,
	  WPT_KVM_LAYOUT_MERGED, 0 },
	{ "churn-slot2m-merged", BENCH_W_CHURN, 1, 1, 2ull << 20, "trap", false,
	  false, WPT_KVM_LAYOUT_MERGED, 0 },
	{ "churn-slot64m-merged", BENCH_W_CHURN, 1, 1, 64ull << 20, "trap",
	  false, false, WPT_KVM_LAYOUT_MERGED, 0 },
	{ "churn-slot2m-tight", BENCH_W_CHURN, 1, 1, 2ull << 20, "trap", false,
	  false, WPT_KVM_LAYOUT_PER_PAGE, BENCH_RAM_SIZE / (2 << 20) + 48 },
	{ "churn-slot2m-merged-tight", BENCH_W_CHURN, 1, 1, 2ull << 20, "trap",
	  false, false, WPT_KVM_LAYOUT_MERGED, BENCH_RAM_SIZE / (2 << 20) + 48 },
	{ "churn-slot2m-starved", BENCH_W_CHURN, 1, 1, 2ull << 20, "trap", false,
	  false, WPT_KVM_LAYOUT_PER_PAGE, BENCH_RAM_SIZE / (2 << 20) + 16 },
	/* and the userfaultfd backend's blocking mode, the one for native
	 * guest code (see bvm_cfg.uffd_block: here a step runs to the next
	 * exit) */
	{ "churn-uffd-block", BENCH_W_CHURN, 1, 1, 0, "trap", false,
	  WPT_UFFD_BLOCK, 0, 0 },
	/* the protection backends side by side, at CPL0: here only code KVM
	 * interprets (CPL0) has its stores to a userfaultfd-protected page
	 * emulated and handed over (native CPL3 code makes KVM_RUN fail
	 * with -EFAULT), and the locked ones must be single-stepped, which
	 * works at CPL0 only */
	{ "churn-cpl0-slot1", BENCH_W_CHURN, 1, 1, 0, "trap", true, false, 0, 0 },
	{ "churn-cpl0-slot2m", BENCH_W_CHURN, 1, 1, 2ull << 20, "trap", true, false, 0, 0 },
	{ "churn-cpl0-slot64m", BENCH_W_CHURN, 1, 1, 64ull << 20, "trap", true, false, 0, 0 },
	{ "churn-cpl0-uffd", BENCH_W_CHURN, 1, 1, 0, "trap", true,
	  WPT_UFFD_SIGBUS, 0, 0 },
	{ "stream4k-cpl0-slot2m", BENCH_W_STREAM4K, 1, 1, 2ull << 20, "trap",
	  true, false, 0, 0 },
	{ "stream4k-cpl0-uffd", BENCH_W_STREAM4K, 1, 1, 0, "trap", true,
	  WPT_UFFD_SIGBUS, 0, 0 },
};
const size_t bench_nr_cases = sizeof(bench_cases) / sizeof(bench_cases[0]);
_Static_assert(sizeof(bench_cases) / sizeof(bench_cases[0]) <= BENCH_MAX_CASES,
	       "struct bench_opts.want_w is too short");

const struct bench_strategy_name bench_strategies[BENCH_NR_STRATEGIES] = {
	{ "explicit", BENCH_S_EXPLICIT },
	{ "inval", BENCH_S_INVAL },
	{ "trap", BENCH_S_TRAP },
	{ "hybrid", BENCH_S_HYBRID },
	{ "relaxed", BENCH_S_RELAXED },
};

/* The rows the relaxed strategy runs (it answers bulk maps; the others
 * would only repeat trap). */
bool bench_case_relaxed(const struct bench_case *w)
{
	static const char *const names[] = {
		"stream4k-strict", "stream4k-lazy", "bulk4k", "bulk2m", "churn",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(w->name, names[i]))
			return true;
	return false;
}

static int pick(const char *list, const char *const *names, size_t n,
		bool *want, const char *what)
{
	char *dup = strdup(list), *tok, *save = NULL;
	size_t i;
	int ret = 0;

	if (!dup)
		return -ENOMEM;
	memset(want, 0, n * sizeof(*want));
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		bool found = false;

		for (i = 0; i < n; i++) {
			/* "slots" names the three layouts of the sweep,
			 * "backends" the CPL0 rows of memslots against
			 * userfaultfd, "stream4k" both invalidation policies */
			if (!strcmp(tok, names[i]) ||
			    (!strcmp(tok, "slots") && (!strncmp(names[i], "churn-slot", 10) ||
						       !strcmp(names[i], "churn-uffd-block"))) ||
			    (!strcmp(tok, "backends") && strstr(names[i], "-cpl0-")) ||
			    (!strcmp(tok, "stream4k") && !strncmp(names[i], "stream4k-", 9))) {
				want[i] = true;
				found = true;
			}
		}
		if (!found) {
			fprintf(stderr, "wpt-bench: unknown %s '%s'\n", what, tok);
			ret = -EINVAL;
		}
	}
	free(dup);
	return ret;
}

void bench_usage(FILE *f)
{
	fprintf(f,
		"usage: wpt-bench [--quick] [--workloads LIST] [--strategies LIST]\n"
		"                 [--ops N] [--churn-ops N] [--bulk-mib N] [--window N]\n"
		"                 [--lazy N] [--reps N] [--cpl0] [--seed N]\n"
		"                 [--slot-granule BYTES] [--project exit=NS,slot=NS,map=NS]\n"
		"                 [--json PATH] [--png PATH] [--no-chart]\n"
		"       wpt-bench --chart-from JSON [--png PATH]\n"
		"workloads: stream4k-strict,stream4k-lazy,bulk4k,bulk2m,churn,split,mt,\n"
		"           slots (= churn-slot1,churn-slot2m,churn-slot64m, the same\n"
		"           with -merged, churn-slot2m-tight, churn-slot2m-merged-tight,\n"
		"           churn-slot2m-starved,\n"
		"           churn-uffd-block),\n"
		"           stream4k,\n"
		"           backends (= churn-cpl0-slot1,churn-cpl0-slot2m,churn-cpl0-slot64m,\n"
		"           churn-cpl0-uffd,stream4k-cpl0-slot2m,stream4k-cpl0-uffd)\n"
		"strategies: explicit,inval,trap,hybrid,relaxed (relaxed: stream4k,\n"
		"           bulk4k, bulk2m and churn only)\n");
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || x < min || x > max)
		return -EINVAL;
	*v = x;
	return 0;
}

static const struct option long_opts[] = {
	{ "quick", no_argument, NULL, 'q' },
	{ "workloads", required_argument, NULL, 'w' },
	{ "strategies", required_argument, NULL, 's' },
	{ "ops", required_argument, NULL, 'o' },
	{ "churn-ops", required_argument, NULL, 'c' },
	{ "bulk-mib", required_argument, NULL, 'b' },
	{ "window", required_argument, NULL, 'W' },
	{ "lazy", required_argument, NULL, 'l' },
	{ "reps", required_argument, NULL, 'r' },
	{ "cpl0", no_argument, NULL, '0' },
	{ "seed", required_argument, NULL, 'S' },
	{ "slot-granule", required_argument, NULL, 'g' },
	{ "project", required_argument, NULL, 'p' },
	{ "json", required_argument, NULL, 'j' },
	{ "png", required_argument, NULL, 'P' },
	{ "no-chart", no_argument, NULL, 'n' },
	{ "chart-from", required_argument, NULL, 'C' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void opts_defaults(struct bench_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->chart = true;
	o->seed = 1;
	o->window = 64;
	o->granule = 2ull << 20;
	o->json = "bench/results/latest.json";
	o->png = "bench/results/latest.png";
	/* sizes are set after --quick is known */
	o->ops = o->churn_ops = o->bulk = 0;
}

/* One option with its value: 0, or nonzero for a bad value. */
static int opt_set(struct bench_opts *o, int ch, const char *arg,
		   const char **wl, const char **sl)
{
	uint64_t v;
	int ret = 0;

	switch (ch) {
	case 'q': o->quick = true; break;
	case 'w': *wl = arg; break;
	case 's': *sl = arg; break;
	case 'o': ret |= parse_u64(arg, 1, 1000000, &o->ops); break;
	case 'c': ret |= parse_u64(arg, 1, 100000, &o->churn_ops); break;
	case 'b':
		ret |= parse_u64(arg, 2, BENCH_DATA_SIZE >> 20, &v);
		o->bulk = (v & ~1ull) << 20;
		break;
	case 'W': ret |= parse_u64(arg, 1, 512, &o->window); break;
	case 'l':
		ret |= parse_u64(arg, 1, 4096, &v);
		o->lazy = (unsigned int)v;
		break;
	case 'r':
		ret |= parse_u64(arg, 1, 100, &v);
		o->reps = (unsigned int)v;
		break;
	case '0': o->cpl0 = true; break;
	case 'S': ret |= parse_u64(arg, 0, ~0ull, &o->seed); break;
	case 'g':
		ret |= parse_u64(arg, 0, BENCH_RAM_SIZE, &o->granule);
		if (o->granule & 0xfff)
			ret = -EINVAL;
		break;
	case 'p':
		o->project = true;
		ret |= bench_units_parse(arg, &o->proj);
		break;
	case 'j': o->json = arg; break;
	case 'P': o->png = arg; break;
	case 'n': o->chart = false; break;
	case 'C': o->chart_from = arg; break;
	}
	return ret;
}

/* The lists chosen (all by default) and the sizes --quick implies. */
static int opts_finish(struct bench_opts *o, const char *wl, const char *sl)
{
	const char *wnames[BENCH_MAX_CASES], *snames[BENCH_NR_STRATEGIES];
	size_t i;

	for (i = 0; i < bench_nr_cases; i++) {
		wnames[i] = bench_cases[i].name;
		o->want_w[i] = true;
	}
	for (i = 0; i < BENCH_NR_STRATEGIES; i++) {
		snames[i] = bench_strategies[i].name;
		o->want_s[i] = true;
	}
	if (wl && pick(wl, wnames, bench_nr_cases, o->want_w, "workload"))
		return -EINVAL;
	if (sl && pick(sl, snames, BENCH_NR_STRATEGIES, o->want_s, "strategy"))
		return -EINVAL;
	if (!o->reps)
		o->reps = o->quick ? 1 : 3;
	if (!o->ops)
		o->ops = o->quick ? 300 : 2000;
	if (!o->churn_ops)
		o->churn_ops = o->quick ? 60 : 300;
	if (!o->bulk)
		o->bulk = (o->quick ? 16ull : 64ull) << 20;
	if (o->project && !o->proj.exit_ns && !o->proj.slot_ns &&
	    !o->proj.sink_ns)
		return -EINVAL;
	return 0;
}

int bench_opts_parse(int argc, char **argv, struct bench_opts *o)
{
	const char *wl = NULL, *sl = NULL;
	int ch;

	opts_defaults(o);
	while ((ch = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		if (ch == 'h') {
			bench_usage(stdout);
			exit(0);
		}
		if (ch == '?' || ch == ':')
			return -EINVAL;
		if (opt_set(o, ch, optarg, &wl, &sl)) {
			fprintf(stderr, "wpt-bench: bad value '%s' for %s\n",
				optarg, argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "wpt-bench: unexpected argument '%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	return opts_finish(o, wl, sl);
}
