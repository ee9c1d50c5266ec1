/* SPDX-License-Identifier: MIT */
/*
 * wpt-bench: what it costs to keep a shadow of a guest's IO page tables in
 * step on a real KVM guest, by trapping the guest's table writes (trap,
 * hybrid), by re-walking what it invalidates (inval), and by the floor of a
 * guest that asks for every map and unmap (explicit).
 *
 * Each run boots the bench guest (bench/guest/) in a fresh VM, lets its
 * SMMUv3-style driver run one workload under one strategy, verifies every
 * domain's shadow against a full walk of its tables, and prices the counts
 * it saw with unit costs measured at the start of the same run.
 *
 *   wpt-bench [--quick] [--workloads LIST] [--strategies LIST] [--ops N]
 *             [--bulk-mib N] [--window N] [--lazy N] [--reps N] [--cpl0]
 *             [--seed N] [--project exit=NS,slot=NS,map=NS]
 *             [--json PATH] [--png PATH] [--no-chart]
 *   wpt-bench --chart-from JSON [--png PATH]
 *
 * Workloads: stream4k-strict stream4k-lazy bulk4k bulk2m churn split mt
 * slots (churn under trap with RAM as one slot, 2 MiB and 64 MiB slots,
 * each with both memslot layouts, under a tight slot budget, and under
 * the userfaultfd backend's blocking mode),
 * backends (the memslot layouts against the userfaultfd backend, churn and
 * stream4k under trap with the guest at CPL0).
 * Exit status: 0, 1 if any shadow failed verification or a run failed, 2
 * for a bad argument.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <urcu-bp.h>

#include "options.h"
#include "report.h"
#include "run.h"
#include "vmm/probe.h"
#include "wpt.h"

#define MAX_ROWS 64
#define MAX_REPS 100
/* A userfaultfd mode's trial: seconds on a host KVM, about a minute in
 * make bench's nested guest. */
#define UFFD_TRIAL_MS 120000
/* One run's bound: a run that stays in KVM_RUN for good (a fault a KVM
 * retries forever) becomes a FAILED row, not a bench that never ends.
 * The slowest run in make bench's nested guest (churn-slot2m-starved)
 * takes about 15 s. */
#define RUN_TIMEOUT_MS 600000

static int row_cmp_ns(const void *a, const void *b)
{
	const struct bench_row *x = a, *y = b;

	return x->ns_per_op < y->ns_per_op ? -1 : x->ns_per_op > y->ns_per_op;
}

static void meta_fill(struct bench_meta *m, const struct bench_opts *o,
		      char *machine, size_t mlen, char *kernel, size_t klen,
		      char *date, size_t dlen)
{
	static char kvm[128];
	struct utsname un;
	time_t t = time(NULL);
	char line[256];
	FILE *f;

	snprintf(machine, mlen, "unknown");
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && colon) {
			colon[strcspn(colon, "\n")] = 0;
			snprintf(machine, mlen, "%ld cpus, %s",
				 sysconf(_SC_NPROCESSORS_ONLN), colon + 2);
			break;
		}
	}
	if (f)
		fclose(f);
	snprintf(kernel, klen, "%s", uname(&un) ? "unknown" : un.release);
	strftime(date, dlen, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	m->machine = machine;
	m->kernel = kernel;
	m->date = date;
	m->cpl = o->cpl0 ? "cpl0" : "cpl3";
	m->kvm = bench_kvm_where(kvm, sizeof(kvm));
	m->quick = o->quick;
}

static int mkdir_for(const char *path)
{
	char dir[4096];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	*slash = 0;
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * bench_probe with liburcu's fork hooks: the library frees table pages
 * through call_rcu, whose worker thread and locks a forked child would
 * otherwise inherit half-way (the thread is not there: a child's
 * rcu_barrier() in wpt_vm_free would wait for ever).  liburcu asks for
 * these around every fork not followed by exec.
 */
struct probe_call {
	int (*fn)(void *arg, char *why, size_t len);
	void *arg;
};

static int probe_child(void *opaque, char *why, size_t len)
{
	struct probe_call *c = opaque;

	urcu_bp_after_fork_child();
	call_rcu_after_fork_child();
	return c->fn(c->arg, why, len);
}

static int probe(int (*fn)(void *arg, char *why, size_t len), void *arg,
		 unsigned int timeout_ms, char *why, size_t len)
{
	struct probe_call c = { fn, arg };
	int ret;

	call_rcu_before_fork();
	urcu_bp_before_fork();
	ret = bench_probe(probe_child, &c, timeout_ms, why, len);
	urcu_bp_after_fork_parent();
	call_rcu_after_fork_parent();
	return ret;
}

/* A row of w under s with no figures: skipped (this KVM cannot run it)
 * or failed, and why. */
static void row_without_figures(struct bench_row *row,
				const struct bench_case *w,
				const struct bench_strategy_name *s,
				bool skipped, const char *why)
{
	memset(row, 0, sizeof(*row));
	snprintf(row->workload, sizeof(row->workload), "%s", w->name);
	snprintf(row->strategy, sizeof(row->strategy), "%s", s->name);
	snprintf(row->backend, sizeof(row->backend), "%s",
		 w->uffd == WPT_UFFD_BLOCK ? "uffd-block" :
		 w->uffd ? "uffd" : "slots");
	snprintf(row->note, sizeof(row->note), "%s", why);
	row->skipped = skipped;
}

struct run_arg {
	const struct bench_opts *o;
	const struct bench_case *w;
	const struct bench_strategy_name *s;
	const struct bench_units *u;
	struct bench_row *row;  /* shared with the child, which fills it */
};

static int run_child(void *opaque, char *why, size_t len)
{
	struct run_arg *a = opaque;
	int ret = bench_run_one(a->o, a->w, a->s->s, a->s->name, a->u, a->row);

	if (ret)
		snprintf(why, len, "%s", a->row->note);
	return ret;
}

/* bench_run_one in a child process bounded by RUN_TIMEOUT_MS (the row
 * comes back through a shared page).  Its return, or -ETIMEDOUT and
 * -ECHILD with the row's note saying so. */
static int run_bounded(const struct bench_opts *o, const struct bench_case *w,
		       const struct bench_strategy_name *s,
		       const struct bench_units *u, struct bench_row *row)
{
	struct bench_row *shared = mmap(NULL, sizeof(*shared),
					PROT_READ | PROT_WRITE,
					MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct run_arg a = { o, w, s, u, shared };
	char why[240], note[sizeof(row->note)];
	int ret;

	if (shared == MAP_FAILED) {
		ret = -errno;
		row_without_figures(row, w, s, false, "setup: no shared page");
		return ret;
	}
	memset(shared, 0, sizeof(*shared));
	ret = probe(run_child, &a, RUN_TIMEOUT_MS, why, sizeof(why));
	*row = *shared;
	munmap(shared, sizeof(*shared));
	if (ret == -ETIMEDOUT || ret == -ECHILD) {
		if (ret == -ETIMEDOUT)
			snprintf(note, sizeof(note), "run: had not ended after "
				 "%u s (killed)", RUN_TIMEOUT_MS / 1000);
		else
			snprintf(note, sizeof(note), "run: its process died "
				 "without an answer");
		row_without_figures(row, w, s, false, note);
	}
	return ret;
}

/* The reps of one case under one strategy; the median stands for the
 * set, unless one did not verify.  0, or -1 if a run failed (then row
 * is that run's, with no figures, and its note says where it failed). */
static int run_set(const struct bench_opts *o, const struct bench_case *w,
		   const struct bench_strategy_name *s,
		   const struct bench_units *units, struct bench_row *row)
{
	static struct bench_row reps[MAX_REPS];
	unsigned int k;
	int ret = 0;

	for (k = 0; k < o->reps; k++) {
		ret = run_bounded(o, w, s, units, &reps[k]);
		if (ret)
			break;
	}
	if (ret) {
		fprintf(stderr, "wpt-bench: %s %s FAILED: %s\n", w->name,
			s->name, reps[k].note);
		*row = reps[k];
		row->verified = false;
		row->ns_per_op = 0;
		return -1;
	}
	qsort(reps, o->reps, sizeof(reps[0]), row_cmp_ns);
	*row = reps[o->reps / 2];
	for (k = 0; k < o->reps; k++)
		if (!reps[k].verified)
			*row = reps[k];
	return 0;
}

/* One trial of a userfaultfd case's mode: a few operations in a child
 * process (bench/vmm/probe.h), so a KVM that cannot serve the mode
 * answers instead of hanging the bench (see test_singlestep_kvm's
 * mode_trial). */
static int uffd_trial(void *arg, char *why, size_t len)
{
	struct bench_case w = *(const struct bench_case *)((const void **)arg)[0];
	struct bench_opts o = *(const struct bench_opts *)((const void **)arg)[1];
	struct bench_units u = { 0 };
	struct bench_row row;
	int ret;

	/* The case's backend and CPL, the smallest workload: a few stream
	 * pairs (as test_singlestep_kvm's trial). */
	w.w = BENCH_W_STREAM4K;
	o.ops = 8;
	o.quick = true;
	ret = bench_run_one(&o, &w, BENCH_S_TRAP, "trap", &u, &row);
	snprintf(why, len, "%s", row.note);
	return ret ? ret : row.verified ? 0 : -EIO;
}

/* Whether w can run on this KVM: every case of a userfaultfd mode shares
 * its mode's one trial.  Else a line on stderr, why in not_run and in
 * *why. */
static bool case_can_run(const struct bench_opts *o, const struct bench_case *w,
			 char *not_run, size_t len, const char **why_not)
{
	static int verdict[3] = { 1, 0, 0 }; /* by WPT_UFFD_*; 1 can run */
	static char why[3][240], note[3][BENCH_NOTE_LEN];
	const void *arg[2] = { w, o };
	size_t used = strlen(not_run);

	if (!w->uffd || w->uffd > WPT_UFFD_BLOCK)
		return true;
	if (!verdict[w->uffd])
		verdict[w->uffd] = probe(uffd_trial, arg, UFFD_TRIAL_MS,
					 why[w->uffd], sizeof(why[0])) ?: 1;
	if (verdict[w->uffd] == 1)
		return true;
	snprintf(note[w->uffd], sizeof(note[0]), "this KVM cannot serve its "
		 "userfaultfd mode: %s", why[w->uffd]);
	*why_not = note[w->uffd];
	fprintf(stderr, "wpt-bench: %s NOT RUN: this KVM cannot serve its "
		"userfaultfd mode: %s\n", w->name, why[w->uffd]);
	snprintf(not_run + used, len - used, "%s%s (%s)", used ? "; " : "",
		 w->name, why[w->uffd]);
	return false;
}

/* Every case and strategy chosen: the rows (a run that failed, and a
 * case this KVM cannot serve, each keep a row saying why), and how many
 * failed.  The cases this KVM cannot serve are named in not_run (len
 * bytes) too.  With skip_all, nothing runs: every row is skipped for
 * that reason. */
static size_t run_all(const struct bench_opts *o, const struct bench_units *u,
		      struct bench_row *rows, unsigned int *failed,
		      char *not_run, size_t len, const char *skip_all)
{
	size_t nrows = 0, wi, si;

	for (wi = 0; wi < bench_nr_cases; wi++) {
		const struct bench_case *w = &bench_cases[wi];
		const char *why_not = skip_all;
		bool can;

		if (!o->want_w[wi])
			continue;
		can = !skip_all && case_can_run(o, w, not_run, len, &why_not);
		for (si = 0; si < BENCH_NR_STRATEGIES; si++) {
			const struct bench_strategy_name *s = &bench_strategies[si];

			if (!o->want_s[si] || (w->only && strcmp(w->only, s->name)) ||
			    (s->s == BENCH_S_RELAXED && !bench_case_relaxed(w)))
				continue;
			if (nrows == MAX_ROWS) {
				fprintf(stderr, "wpt-bench: %s %s: more than "
					"%d rows\n", w->name, s->name, MAX_ROWS);
				(*failed)++;
				continue;
			}
			if (!can) {
				row_without_figures(&rows[nrows++], w, s, true,
						    why_not);
				continue;
			}
			fprintf(stderr, "wpt-bench: %-20s %-8s\n", w->name,
				s->name);
			if (run_set(o, w, s, u, &rows[nrows]) ||
			    !rows[nrows].verified)
				(*failed)++;
			nrows++;
		}
	}
	return nrows;
}

/* The JSON (its failure fails the bench) and the chart (a missing
 * gnuplot does not). */
static unsigned int write_results(const struct bench_opts *o,
				  const struct bench_meta *meta,
				  const struct bench_row *rows, size_t nrows)
{
	FILE *f;
	int ret;

	if (mkdir_for(o->json) == 0 && (f = fopen(o->json, "w"))) {
		ret = bench_write_json(f, meta, rows, nrows);
		if (fclose(f) || ret)
			fprintf(stderr, "wpt-bench: writing %s failed\n", o->json);
		else
			fprintf(stderr, "wpt-bench: wrote %s\n", o->json);
	} else {
		fprintf(stderr, "wpt-bench: cannot write %s: %s\n", o->json,
			strerror(errno));
		return 1;
	}
	if (o->chart) {
		ret = mkdir_for(o->png) ?: bench_write_chart(o->png, rows, nrows);
		if (ret)
			fprintf(stderr, "wpt-bench: chart %s: %s%s\n", o->png,
				strerror(-ret), ret == -ENOENT ?
				" (install gnuplot-nox)" : "");
		else
			fprintf(stderr, "wpt-bench: wrote %s\n", o->png);
	}
	return 0;
}

/* --chart-from: the chart of a results file, with nothing run. */
static int chart_from(const struct bench_opts *o, struct bench_row *rows)
{
	FILE *f = fopen(o->chart_from, "r");
	size_t n;
	int ret;

	if (!f) {
		fprintf(stderr, "wpt-bench: %s: %s\n", o->chart_from,
			strerror(errno));
		return 1;
	}
	ret = bench_read_rows(f, rows, MAX_ROWS, &n);
	fclose(f);
	if (!ret)
		ret = mkdir_for(o->png) ?: bench_write_chart(o->png, rows, n);
	if (ret) {
		fprintf(stderr, "wpt-bench: chart of %s: %s%s\n", o->chart_from,
			strerror(-ret), ret == -ENOENT ?
			" (install gnuplot-nox)" : "");
		return 1;
	}
	fprintf(stderr, "wpt-bench: wrote %s (%zu rows of %s)\n", o->png, n,
		o->chart_from);
	return 0;
}

int main(int argc, char **argv)
{
	static struct bench_row rows[MAX_ROWS];
	char machine[256], kernel[128], date[64];
	static char not_run[1024];
	struct bench_meta meta = { .not_run = not_run };
	unsigned int failed = 0;
	struct bench_opts o;
	size_t nrows;
	int ret, missed;

	if (bench_opts_parse(argc, argv, &o)) {
		bench_usage(stderr);
		return 2;
	}
	if (o.chart_from)
		return chart_from(&o, rows);
	meta_fill(&meta, &o, machine, sizeof(machine), kernel, sizeof(kernel),
		  date, sizeof(date));
	/* A host without KVM still has the microbench's figures (make bench
	 * runs it first); say plainly why these rows are missing. */
	if (access("/dev/kvm", R_OK | W_OK)) {
		char why[96];

		snprintf(why, sizeof(why), "no KVM here: /dev/kvm: %s",
			 strerror(errno));
		printf("wpt-bench: the KVM rows are SKIPPED, %s (the strategy "
		       "bench boots a guest under KVM; `make microbench` "
		       "measures the engine without it)\n\n", why);
		meta.kvm = "none";
		nrows = run_all(&o, &meta.units, rows, &failed, not_run,
				sizeof(not_run), why);
		bench_print_table(stdout, &meta, rows, nrows, NULL);
		return 0;
	}
	fprintf(stderr, "wpt-bench: calibrating (exit, slot ioctl, sink call)\n");
	ret = bench_calibrate(&o, &meta.units);
	if (ret) {
		fprintf(stderr, "wpt-bench: calibration failed: %s%s\n",
			strerror(-ret), ret == -ENOENT || ret == -EACCES ?
			" (is /dev/kvm usable?)" : "");
		return 1;
	}
	nrows = run_all(&o, &meta.units, rows, &failed, not_run,
			sizeof(not_run), NULL);
	missed = bench_print_table(stdout, &meta, rows, nrows,
				   o.project ? &o.proj : NULL);
	bench_print_slot_sweep(stdout, rows, nrows);
	printf("\n%d goal(s) missed; %u run(s) failed or not verified\n",
	       missed, failed);
	fflush(stdout);
	failed += write_results(&o, &meta, rows, nrows);
	if (failed)
		fprintf(stderr, "wpt-bench: FAILED: %u run(s) failed or their "
			"shadow did not verify\n", failed);
	return failed ? 1 : 0;
}
