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
#include <sys/wait.h>
#include <unistd.h>

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

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

int bench_write_json(FILE *f, const struct bench_meta *m,
		     const struct bench_row *rows, size_t n)
{
	size_t i;

	fprintf(f, "{\n  \"machine\": ");
	json_str(f, m->machine);
	fprintf(f, ",\n  \"kernel\": ");
	json_str(f, m->kernel);
	fprintf(f, ",\n  \"date\": ");
	json_str(f, m->date);
	fprintf(f, ",\n  \"guest_cpl\": ");
	json_str(f, m->cpl);
	fprintf(f, ",\n  \"kvm\": ");
	json_str(f, m->kvm ? m->kvm : "unknown");
	fprintf(f, ",\n  \"not_run\": ");
	json_str(f, m->not_run ? m->not_run : "");
	fprintf(f, ",\n  \"quick\": %s,\n", m->quick ? "true" : "false");
	fprintf(f, "  \"units\": {\"exit_ns\": %.1f, \"slot_ioctl_ns\": %.1f, "
		"\"sink_call_ns\": %.1f},\n  \"results\": [",
		m->units.exit_ns, m->units.slot_ns, m->units.sink_ns);
	for (i = 0; i < n; i++) {
		const struct bench_row *r = &rows[i];

		fprintf(f, "%s\n    {\"workload\": ", i ? "," : "");
		json_str(f, r->workload);
		fprintf(f, ", \"strategy\": ");
		json_str(f, r->strategy);
		fprintf(f, ", \"backend\": ");
		json_str(f, r->backend[0] ? r->backend : "slots");
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
		if (r->note[0]) {
			fprintf(f, ", \"note\": ");
			json_str(f, r->note);
		}
		fputc('}', f);
	}
	fprintf(f, "\n  ]\n}\n");
	return ferror(f) ? -EIO : 0;
}

static int goal(FILE *f, bool met, const char *fmt, const char *w,
		const char *s, double got, double want)
{
	fprintf(f, "  %-6s %-20s %-8s ", met ? "met" : "MISSED", w, s);
	fprintf(f, fmt, got, want);
	fputc('\n', f);
	return !met;
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
		if (!strncmp(r->workload, "churn", 5) && trapping &&
		    r->slot_ioctls_per_table > 0)
			missed += goal(f, r->slot_ioctls_per_table <= 2.0,
				       "slot ioctls/table page %.2f (at most %.0f)",
				       r->workload, r->strategy,
				       r->slot_ioctls_per_table, 2);
	}
	return missed;
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
	fprintf(f, "%-20s %-8s %6s %10s %6s %6s %7s %6s %6s %6s %8s %7s %9s %10s%s\n",
		"workload", "strategy", "ops", "ns/op", "xexpl", "xinval",
		"exits", "lib/wr", "sink", "pg/cl", "slots", "wp",
		"floor", project ? "projected" : "", "  ok");
	for (i = 0; i < n; i++) {
		const struct bench_row *r = &rows[i];
		const struct bench_row *e = peer(rows, n, r, "explicit");
		const struct bench_row *v = peer(rows, n, r, "inval");
		char xe[16] = "-", xv[16] = "-", pj[24] = "";

		if (e && e->ns_per_op > 0)
			snprintf(xe, sizeof(xe), "%.2f", r->ns_per_op / e->ns_per_op);
		if (v && v->ns_per_op > 0)
			snprintf(xv, sizeof(xv), "%.2f", r->ns_per_op / v->ns_per_op);
		if (project)
			snprintf(pj, sizeof(pj), "%.0f",
				 bench_row_price(r, project) + r->lib_ns_per_op);
		fprintf(f, "%-20s %-8s %6llu %10.0f %6s %6s %7.3f %6.0f %6.3f "
			"%6.1f %8.4f %7.2f %9.0f %10s  %s\n",
			r->workload, r->strategy, (unsigned long long)r->ops,
			r->ns_per_op, xe, xv, r->exits_per_op,
			r->lib_ns_per_write, r->sink_calls_per_op,
			r->pages_per_call, r->slot_ioctls_per_op,
			r->wp_ioctls_per_op, r->floor_ns_per_op, pj,
			r->verified ? "yes" : "NO");
	}
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
	for (i = 0; i < n; i++)
		if (!rows[i].verified)
			fprintf(f, "NOT VERIFIED: %s %s: %s\n", rows[i].workload,
				rows[i].strategy, rows[i].note);
	return print_goals(f, m, rows, n);
}

int bench_write_chart(const char *png, const struct bench_row *rows, size_t n)
{
	static const char *const strategies[] = { "explicit", "inval", "trap",
						  "hybrid" };
	char dat[PATH_MAX], gp[PATH_MAX];
	const char *seen[64];
	size_t nw = 0, i, j, k;
	FILE *f;
	pid_t pid;
	int status;

	snprintf(dat, sizeof(dat), "%s.dat", png);
	snprintf(gp, sizeof(gp), "%s.gp", png);
	f = fopen(dat, "w");
	if (!f)
		return -errno;
	fprintf(f, "workload explicit inval trap hybrid\n");
	for (i = 0; i < n; i++) {
		for (j = 0; j < nw && strcmp(seen[j], rows[i].workload); j++)
			;
		if (j < nw || nw == sizeof(seen) / sizeof(seen[0]))
			continue;
		seen[nw++] = rows[i].workload;
		fprintf(f, "%s", rows[i].workload);
		for (k = 0; k < 4; k++) {
			const struct bench_row *r = peer(rows, n, &rows[i],
							 strategies[k]);
			/* gnuplot reads "-" as missing */
			if (r && r->ns_per_op > 0)
				fprintf(f, " %.3f", r->ns_per_op / 1000.0);
			else
				fprintf(f, " -");
		}
		fputc('\n', f);
	}
	if (fclose(f))
		return -EIO;
	f = fopen(gp, "w");
	if (!f)
		return -errno;
	fprintf(f,
		"set terminal png size 1100,560 noenhanced\n"
		"set output '%s'\n"
		"set title 'wptrack: cost per operation by strategy (us, log scale)'\n"
		"set style data histograms\n"
		"set style histogram clustered gap 1\n"
		"set style fill solid 0.8 border -1\n"
		"set logscale y\n"
		"set ylabel 'us per op'\n"
		"set datafile missing '-'\n"
		"set key top left\n"
		"set xtics rotate by -30\n"
		"set grid ytics\n"
		"plot '%s' using 2:xtic(1) title columnheader(2), "
		"'' using 3 title columnheader(3), "
		"'' using 4 title columnheader(4), "
		"'' using 5 title columnheader(5)\n",
		png, dat);
	if (fclose(f))
		return -EIO;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("gnuplot", "gnuplot", gp, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 127)
		return -ENOENT;
	return WEXITSTATUS(status) ? -EIO : 0;
}
