/* SPDX-License-Identifier: MIT */
/*
 * Printing what the bench measured.  Ratios are taken between strategies of
 * the same workload in the same run only: absolute times on a shared,
 * nested machine drift from run to run, ratios much less.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "output.h"
#include "report.h"

int bench_units_parse(const char *s, struct bench_units *u)
{
	struct bench_units t = *u;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	while (*p) {
		const char *eq = strchr(p, '='), *end;
		char *num_end;
		double v;
		size_t klen;

		if (!eq)
			return -EINVAL;
		klen = (size_t)(eq - p);
		errno = 0;
		v = strtod(eq + 1, &num_end);
		end = num_end;
		if (errno || end == eq + 1 || v < 0 || (*end && *end != ','))
			return -EINVAL;
		if (klen == 4 && !strncmp(p, "exit", 4))
			t.exit_ns = v;
		else if (klen == 4 && !strncmp(p, "slot", 4))
			t.slot_ns = v;
		else if ((klen == 3 && !strncmp(p, "map", 3)) ||
			 (klen == 4 && !strncmp(p, "sink", 4)))
			t.sink_ns = v;
		else
			return -EINVAL;
		p = *end ? end + 1 : end;
		if (*end && !*p)
			return -EINVAL; /* trailing comma */
	}
	*u = t;
	return 0;
}

double bench_row_price(const struct bench_row *r, const struct bench_units *u)
{
	/* A write-protect ioctl is priced at what it took in the run: it
	 * is the userfaultfd backend's own cost, as cheap on any host. */
	return r->exits_per_op * u->exit_ns + r->sink_calls_per_op * u->sink_ns +
	       r->slot_ioctls_per_op * u->slot_ns +
	       r->wp_ioctls_per_op * r->wp_ns_in_run;
}

void bench_row_check_dma(struct bench_row *r)
{
	if (r->skipped || r->dma_checks || !r->verified)
		return;
	r->verified = false;
	snprintf(r->note, sizeof(r->note), "no DMA check: the device's "
		 "doorbell never rang, so no map was checked in the sink");
}

/* Whether r has figures: not skipped, and not a run that failed before
 * it measured anything. */
static bool measured(const struct bench_row *r)
{
	return !r->skipped && (r->verified || r->ns_per_op > 0);
}

/* The row of the same workload with strategy s, or NULL. */
static const struct bench_row *peer(const struct bench_row *rows, size_t n,
				    const struct bench_row *r, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(rows[i].workload, r->workload) &&
		    !strcmp(rows[i].strategy, s))
			return &rows[i];
	return NULL;
}

int bench_write_json(FILE *f, const struct bench_meta *m,
		     const struct bench_row *rows, size_t n)
{
	size_t i;

	fprintf(f, "{\n  \"machine\": ");
	bench_json_str(f, m->machine);
	fprintf(f, ",\n  \"kernel\": ");
	bench_json_str(f, m->kernel);
	fprintf(f, ",\n  \"date\": ");
	bench_json_str(f, m->date);
	fprintf(f, ",\n  \"guest_cpl\": ");
	bench_json_str(f, m->cpl);
	fprintf(f, ",\n  \"kvm\": ");
	bench_json_str(f, m->kvm ? m->kvm : "unknown");
	fprintf(f, ",\n  \"not_run\": ");
	bench_json_str(f, m->not_run ? m->not_run : "");
	fprintf(f, ",\n  \"quick\": %s,\n", m->quick ? "true" : "false");
	fprintf(f, "  \"units\": {\"exit_ns\": %.1f, \"slot_ioctl_ns\": %.1f, "
		"\"sink_call_ns\": %.1f},\n  \"results\": [",
		m->units.exit_ns, m->units.slot_ns, m->units.sink_ns);
	for (i = 0; i < n; i++) {
		const struct bench_row *r = &rows[i];

		fprintf(f, "%s\n    {\"workload\": ", i ? "," : "");
		bench_json_str(f, r->workload);
		fprintf(f, ", \"strategy\": ");
		bench_json_str(f, r->strategy);
		fprintf(f, ", \"backend\": ");
		bench_json_str(f, r->backend[0] ? r->backend : "slots");
		fprintf(f, ", \"ops\": %llu, \"ns_per_op\": %.1f, "
			"\"map_ns\": %.1f, \"exits_per_op\": %.4f, "
			"\"lib_ns_per_write\": %.1f, \"lib_ns_per_op\": %.1f, "
			"\"sink_calls_per_op\": %.4f, \"pages_per_call\": %.2f, "
			"\"slot_ioctls_per_op\": %.4f, "
			"\"slot_ioctls_per_table\": %.3f, "
			"\"slot_ns_in_run\": %.0f, "
			"\"wp_ioctls_per_op\": %.4f, \"wp_ns_in_run\": %.0f, "
			"\"writes_per_op\": %.4f, \"stores_per_op\": %.4f, "
			"\"floor_ns_per_op\": %.1f, \"unit_exit_ns\": %.1f, "
			"\"unit_slot_ns\": %.1f, \"tracked_pages\": %llu, "
			"\"slots_in_use\": %llu, \"verified\": %s",
			(unsigned long long)r->ops, r->ns_per_op, r->map_ns,
			r->exits_per_op, r->lib_ns_per_write, r->lib_ns_per_op,
			r->sink_calls_per_op, r->pages_per_call,
			r->slot_ioctls_per_op, r->slot_ioctls_per_table,
			r->slot_ns_in_run, r->wp_ioctls_per_op, r->wp_ns_in_run,
			r->writes_per_op, r->stores_per_op, r->floor_ns_per_op,
			r->unit_exit_ns, r->unit_slot_ns,
			(unsigned long long)r->tracked_pages,
			(unsigned long long)r->slots_in_use,
			r->verified ? "true" : "false");
		if (r->slot_layout)
			fprintf(f, ", \"slot_layout\": \"%s\", "
				"\"slot_budget\": %u, "
				"\"recuts_per_table\": %.3f, "
				"\"slot_fallbacks\": %llu, "
				"\"slot_first_cuts\": %llu, "
				"\"slot_ioctls_per_cut\": %.3f, "
				"\"slot_ioctls_steady\": %.3f", r->slot_layout,
				r->slot_budget, r->recuts_per_table,
				(unsigned long long)r->slot_fallbacks,
				(unsigned long long)r->slot_first_cuts,
				r->slot_ioctls_per_cut, r->slot_ioctls_steady);
		if (r->note[0]) {
			fprintf(f, ", \"note\": ");
			bench_json_str(f, r->note);
		}
		fprintf(f, ", \"dma_checks\": %llu, \"dma_faults\": %llu",
			(unsigned long long)r->dma_checks,
			(unsigned long long)r->dma_faults);
		if (r->skipped)
			fprintf(f, ", \"skipped\": true");
		fputc('}', f);
	}
	fprintf(f, "\n  ]\n}\n");
	return ferror(f) ? -EIO : 0;
}

static int goal(FILE *f, bool met, const char *fmt, const char *w,
		const char *s, double got, double want);

/* Relaxed mode, bulk maps without an exit per leaf: bulk4k within 3x
 * inval, stream4k no slower than trap.  1 if missed. */
static int relaxed_goal(FILE *f, const struct bench_row *rows, size_t n,
			const struct bench_row *r)
{
	bool bulk = !strcmp(r->workload, "bulk4k");
	const struct bench_row *v = peer(rows, n, r, bulk ? "inval" : "trap");
	double at_most = bulk ? 3.0 : 1.0;

	if (strcmp(r->strategy, "relaxed") || !v || v->ns_per_op <= 0 ||
	    (!bulk && strncmp(r->workload, "stream4k", 8)))
		return 0;
	return goal(f, r->ns_per_op <= at_most * v->ns_per_op,
		    bulk ? "vs inval %.2f (at most %.2f)" :
			   "vs trap %.2f (at most %.2f)",
		    r->workload, r->strategy, r->ns_per_op / v->ns_per_op,
		    at_most);
}

static int goal(FILE *f, bool met, const char *fmt, const char *w,
		const char *s, double got, double want)
{
	fprintf(f, "  %-6s %-20s %-8s ", met ? "met" : "MISSED", w, s);
	fprintf(f, fmt, got, want);
	fputc('\n', f);
	return !met;
}

/* Churn's memslot ioctls per table page protected or released, judged
 * over the whole run; the steady state (once each page has a slot of its
 * own) is printed beside it, not judged: KVM can neither split a slot nor
 * flip READONLY on a live one, so a page's first cut out of a larger slot
 * costs a delete and two or three creates whatever the layout. */
static int churn_goal(FILE *f, const struct bench_row *r)
{
	int missed = goal(f, r->slot_ioctls_per_table <= 2.0,
			  "slot ioctls/table page %.3f (at most %.0f)",
			  r->workload, r->strategy, r->slot_ioctls_per_table, 2);

	if (r->slot_ioctls_steady > 0)
		fprintf(f, "  %-6s %-20s %-8s   after first cuts %.3f; %llu "
			"first cuts at %.2f each\n", "", r->workload,
			r->strategy, r->slot_ioctls_steady,
			(unsigned long long)r->slot_first_cuts,
			r->slot_ioctls_per_cut);
	return missed;
}

static int print_goals(FILE *f, const struct bench_meta *m,
		       const struct bench_row *rows, size_t n)
{
	int missed = 0;
	size_t i;

	fprintf(f, "\nGoals (measured in this run; goals, not tests):\n");
	for (i = 0; i < n; i++) {
		const struct bench_row *r = &rows[i], *e, *v;
		bool trapping = !strcmp(r->strategy, "trap") ||
				!strcmp(r->strategy, "hybrid");

		/* A row skipped or failed has no figures to judge. */
		if (!measured(r))
			continue;
		/* At CPL0 this host interprets the guest's own code, which
		 * the floor leaves out: no time goal for those rows. */
		if (r->floor_ns_per_op > 0 && !strstr(r->workload, "-cpl0-"))
			missed += goal(f, r->ns_per_op <= 1.15 * r->floor_ns_per_op,
				       "time/floor %.2f (at most %.2f)",
				       r->workload, r->strategy,
				       r->ns_per_op / r->floor_ns_per_op, 1.15);
		/* The goal is per trapped leaf write: the workloads whose
		 * timed stores are all leaves. */
		if (trapping && r->writes_per_op > 0 &&
		    (!strncmp(r->workload, "stream4k", 8) ||
		     !strcmp(r->workload, "mt")))
			missed += goal(f, r->lib_ns_per_write <=
					       0.10 * m->units.exit_ns,
				       "lib/write %.0f ns (at most %.0f)",
				       r->workload, r->strategy,
				       r->lib_ns_per_write,
				       0.10 * m->units.exit_ns);
		if (!strncmp(r->workload, "stream4k", 8) &&
		    !strcmp(r->strategy, "trap")) {
			bool lazy = strstr(r->workload, "lazy") != NULL;

			missed += goal(f, r->writes_per_op == r->stores_per_op,
				       "exits/store %.3f (exactly %.0f)",
				       r->workload, r->strategy,
				       r->stores_per_op > 0 ? r->writes_per_op /
					       r->stores_per_op : 0, 1);
			v = peer(rows, n, r, "inval");
			if (v && v->map_ns > 0 && r->map_ns > 0)
				missed += goal(f, r->map_ns <= 1.2 * v->map_ns,
					       "map vs inval %.2f (at most %.2f)",
					       r->workload, r->strategy,
					       r->map_ns / v->map_ns, 1.2);
			e = peer(rows, n, r, "explicit");
			if (e && e->ns_per_op > 0)
				missed += goal(f, r->ns_per_op <=
						       (lazy ? 1.15 : 1.6) *
							       e->ns_per_op,
					       "pair vs explicit %.2f (at most %.2f)",
					       r->workload, r->strategy,
					       r->ns_per_op / e->ns_per_op,
					       lazy ? 1.15 : 1.6);
		}
		if (!strcmp(r->workload, "split") && r->split_runs)
			missed += goal(f, r->split_maps == r->split_runs,
				       "map calls/run %.2f (exactly %.0f)",
				       r->workload, r->strategy,
				       (double)r->split_maps / (double)r->split_runs,
				       1);
		missed += relaxed_goal(f, rows, n, r);
		if (!strncmp(r->workload, "churn", 5) && trapping &&
		    r->slot_ioctls_per_table > 0)
			missed += churn_goal(f, r);
	}
	return missed;
}

/* One line of the table: r's figures, or why it has none. */
static void table_row(FILE *f, const struct bench_row *rows, size_t n,
		      const struct bench_row *r,
		      const struct bench_units *project)
{
	const struct bench_row *e = peer(rows, n, r, "explicit");
	const struct bench_row *v = peer(rows, n, r, "inval");
	char xe[16] = "-", xv[16] = "-", pj[24] = "";

	if (!measured(r)) {
		fprintf(f, "%-20s %-8s %s: %s\n", r->workload, r->strategy,
			r->skipped ? "SKIPPED" : "FAILED", r->note);
		return;
	}
	if (e && e->ns_per_op > 0)
		snprintf(xe, sizeof(xe), "%.2f", r->ns_per_op / e->ns_per_op);
	if (v && v->ns_per_op > 0)
		snprintf(xv, sizeof(xv), "%.2f", r->ns_per_op / v->ns_per_op);
	if (project)
		snprintf(pj, sizeof(pj), "%.0f",
			 bench_row_price(r, project) + r->lib_ns_per_op);
	fprintf(f, "%-20s %-8s %6llu %10.0f %6s %6s %7.3f %6.0f %6.3f "
		"%6.1f %8.4f %7.2f %9.0f %7llu %10s  %s\n",
		r->workload, r->strategy, (unsigned long long)r->ops,
		r->ns_per_op, xe, xv, r->exits_per_op, r->lib_ns_per_write,
		r->sink_calls_per_op, r->pages_per_call, r->slot_ioctls_per_op,
		r->wp_ioctls_per_op, r->floor_ns_per_op,
		(unsigned long long)r->dma_checks, pj,
		r->verified ? "yes" : "NO");
}

static void table_legend(FILE *f, const struct bench_units *project)
{
	fprintf(f, "\nns/op: wall time per op (stream, churn, mt: a map+unmap "
		"pair; bulk4k: a page; bulk2m, split: a block); xexpl, xinval: "
		"ratio to that\nstrategy on the same workload; exits, sink, "
		"slots, wp: per op (wp: userfaultfd write-protect ioctls); "
		"lib/wr: library ns per trapped store; floor:\nexits x exit + "
		"sink calls x sink call + slot ioctls x slot ioctl + wp ioctls "
		"x their mean in the run, with the exit\nand slot costs "
		"measured on each run's own VM just before it (the sink call's "
		"above)%s; ok: shadow verified\nagainst a full walk.  "
		"*-cpl0-* rows run the guest at CPL0, where this host interprets "
		"guest code: compare them only\nwith each other (the memslot "
		"layouts against the userfaultfd backend, *-uffd).\n", project ? "; projected: the same counts at "
		"the --project unit costs, plus the library CPU measured here" :
		"");
	fprintf(f, "Every map call rings the device's doorbell, where the "
		"VMM checks that the range is mapped\nto its GPAs (dma: "
		"doorbells checked in the run; ok = NO on any fault, or when "
		"none was checked).\n");
}

int bench_print_table(FILE *f, const struct bench_meta *m,
		      const struct bench_row *rows, size_t n,
		      const struct bench_units *project)
{
	size_t i;

	fprintf(f, "wptrack bench: %s, kernel %s, %s, KVM: %s, guest at %s%s\n",
		m->machine, m->kernel, m->date, m->kvm ? m->kvm : "unknown",
		m->cpl, m->quick ? ", QUICK" : "");
	if (m->not_run && *m->not_run)
		fprintf(f, "not run on this KVM: %s\n", m->not_run);
	fprintf(f, "unit costs measured: exit %.0f ns, slot ioctl %.0f ns, "
		"sink call %.0f ns\n\n", m->units.exit_ns, m->units.slot_ns,
		m->units.sink_ns);
	fprintf(f, "%-20s %-8s %6s %10s %6s %6s %7s %6s %6s %6s %8s %7s %9s %7s %10s%s\n",
		"workload", "strategy", "ops", "ns/op", "xexpl", "xinval",
		"exits", "lib/wr", "sink", "pg/cl", "slots", "wp",
		"floor", "dma", project ? "projected" : "", "  ok");
	for (i = 0; i < n; i++)
		table_row(f, rows, n, &rows[i], project);
	table_legend(f, project);
	for (i = 0; i < n; i++)
		if (rows[i].skipped)
			fprintf(f, "SKIPPED: %s %s: %s\n", rows[i].workload,
				rows[i].strategy, rows[i].note);
		else if (!rows[i].verified)
			fprintf(f, "NOT VERIFIED: %s %s: %s\n", rows[i].workload,
				rows[i].strategy, rows[i].note);
	return print_goals(f, m, rows, n);
}

/*
 * The chart: time per operation as a ratio to explicit (the floor any
 * strategy is judged against) of the same workload, log scale.  The slot
 * sweep's rows run churn at CPL3 under trap: their reference is churn's
 * explicit.  The -cpl0- rows have no comparable reference (this host
 * interprets CPL0 code), so they stay in the table only.
 */
static const char *const chart_strategies[] = { "explicit", "inval", "trap",
						"hybrid", "relaxed" };
#define CHART_NR_STRATEGIES \
	(sizeof(chart_strategies) / sizeof(chart_strategies[0]))

/* Goals drawn over a workload's bars: strategy `of` at most factor x the
 * time of strategy `to` (the report's goals, the relaxed mode's among them). */
static const struct {
	const char *workload, *to, *what;
	double factor;
} chart_goals[] = {
	{ "stream4k-strict", "explicit", "trap <= 1.6x", 1.6 },
	{ "stream4k-lazy", "explicit", "trap <= 1.15x", 1.15 },
	{ "bulk4k", "inval", "relaxed <= 3x inval", 3 },
};

/* The explicit row r is measured against, or NULL. */
static const struct bench_row *chart_ref(const struct bench_row *rows,
					 size_t n, const struct bench_row *r)
{
	struct bench_row base = *r;
	size_t len = strcspn(r->workload, "-");

	if (strstr(r->workload, "-cpl0-"))
		return NULL;
	if (peer(rows, n, r, "explicit"))
		return peer(rows, n, r, "explicit");
	if (strncmp(r->workload, "churn-", 6))
		return NULL;
	base.workload[len] = 0;
	return peer(rows, n, &base, "explicit");
}

/* One line per charted workload: its name, then each strategy's ratio
 * ("-": none).  Returns how many lines; seen[] gets their first rows. */
static size_t chart_data(FILE *f, const struct bench_row *rows, size_t n,
			 const struct bench_row **seen, size_t max)
{
	size_t nw = 0, i, j, k;

	fprintf(f, "workload explicit inval trap hybrid relaxed\n");
	for (i = 0; i < n && nw < max; i++) {
		const struct bench_row *ref = chart_ref(rows, n, &rows[i]);

		for (j = 0; j < nw && strcmp(seen[j]->workload, rows[i].workload); j++)
			;
		if (j < nw || !ref || ref->ns_per_op <= 0 || !measured(&rows[i]))
			continue;
		seen[nw++] = &rows[i];
		fprintf(f, "%s", rows[i].workload);
		for (k = 0; k < CHART_NR_STRATEGIES; k++) {
			const struct bench_row *r = peer(rows, n, &rows[i],
							 chart_strategies[k]);

			if (r && r->ns_per_op > 0)
				fprintf(f, " %.4f", r->ns_per_op / ref->ns_per_op);
			else
				fprintf(f, " -"); /* gnuplot: missing */
		}
		fputc('\n', f);
	}
	return nw;
}

/* Each goal as a dashed segment across its workload's cluster (cluster
 * i is centred on x = i). */
static void chart_goal_lines(FILE *f, const struct bench_row *rows, size_t n,
			     const struct bench_row **seen, size_t nw)
{
	size_t g, i;

	for (g = 0; g < sizeof(chart_goals) / sizeof(chart_goals[0]); g++)
		for (i = 0; i < nw; i++) {
			const struct bench_row *to, *ref;
			double y;

			if (strcmp(seen[i]->workload, chart_goals[g].workload))
				continue;
			to = peer(rows, n, seen[i], chart_goals[g].to);
			ref = chart_ref(rows, n, seen[i]);
			if (!to || !ref || to->ns_per_op <= 0)
				continue;
			y = chart_goals[g].factor * to->ns_per_op / ref->ns_per_op;
			fprintf(f, "set arrow from %zu-0.45,%g to %zu+0.45,%g nohead "
				"front dt 2 lw 2 lc rgb 'red'\n"
				"set label '%s' at %zu,%g center offset 0,0.7 front "
				"textcolor rgb 'red' font ',8'\n",
				i, y, i, y, chart_goals[g].what, i, y);
		}
}

/* The ratio chart; with panel, as the upper part of a multiplot whose
 * lower part the slot sweep draws. */
static void chart_script(FILE *f, const char *png, const char *dat,
			 size_t nw, bool panel)
{
	fprintf(f,
		"set terminal pngcairo size 1200,%d noenhanced font ',10'\n"
		"set output '%s'\n", panel ? 1000 : 620, png);
	if (panel)
		fprintf(f, "set multiplot\nset origin 0,0.38\n"
			"set size 1,0.62\n");
	fprintf(f,
		"set title 'wptrack: time per operation relative to explicit "
		"on the same workload (log scale; dashed: goals)'\n"
		"set style data histograms\n"
		"set style histogram clustered gap 1\n"
		"set style fill solid 0.8 border -1\n"
		"set logscale y\nset yrange [0.1:*]\n"
		"set ylabel 'time per op / explicit'\n"
		"set datafile missing '-'\n"
		"set key top left\n"
		/* Labels end under their cluster: none runs off the right. */
		"set xtics rotate by 30 right nomirror\n"
		"set xrange [-0.6:%zu.6]\n"
		"set bmargin 7\nset rmargin 3\n"
		"set grid ytics\n"
		"set arrow from graph 0, first 1 to graph 1, first 1 nohead "
		"lw 1 lc rgb 'black'\n"
		"set label 'churn-slot*, churn-uffd-block: relative to churn "
		"explicit; the -cpl0- rows are in the table only' at screen "
		"0.01,%s font ',8'\n"
		"plot '%s' using 2:xtic(1) title columnheader(2), "
		"'' using 3 title columnheader(3), "
		"'' using 4 title columnheader(4), "
		"'' using 5 title columnheader(5), "
		"'' using 6 title columnheader(6)\n",
		nw ? nw - 1 : 0, panel ? "0.39" : "0.02", dat);
	if (panel)
		fprintf(f, "unset arrow\nunset label\nset origin 0,0\n"
			"set size 1,0.38\n");
}

int bench_write_chart(const char *png, const struct bench_row *rows, size_t n)
{
	const struct bench_row *seen[64];
	char dat[PATH_MAX], gp[PATH_MAX], sweep[PATH_MAX];
	size_t nw, ns;
	FILE *f;

	snprintf(dat, sizeof(dat), "%s.dat", png);
	snprintf(gp, sizeof(gp), "%s.gp", png);
	snprintf(sweep, sizeof(sweep), "%s.sweep.dat", png);
	f = fopen(sweep, "w");
	if (!f)
		return -errno;
	ns = bench_sweep_chart_data(f, rows, n);
	if (fclose(f))
		return -EIO;
	f = fopen(dat, "w");
	if (!f)
		return -errno;
	nw = chart_data(f, rows, n, seen, sizeof(seen) / sizeof(seen[0]));
	if (fclose(f))
		return -EIO;
	if (!nw)
		return -ENODATA; /* no workload ran with explicit */
	f = fopen(gp, "w");
	if (!f)
		return -errno;
	chart_goal_lines(f, rows, n, seen, nw);
	chart_script(f, png, dat, nw, ns > 0);
	if (ns)
		bench_sweep_chart_plot(f, sweep, ns);
	if (fclose(f))
		return -EIO;
	return bench_gnuplot(gp);
}
