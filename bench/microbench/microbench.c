/* SPDX-License-Identifier: MIT */
/*
 * wpt-microbench: what the engine itself costs, in CPU per trapped store,
 * per descriptor walked and in memory per mapped page, from 1K to 16M
 * mapped 4K pages, without KVM (mb.h says how).  Each scale runs in a
 * child process, so its resident memory is its own and a crash in one
 * scale is reported as that scale's failure.
 *
 *   wpt-microbench [--quick] [--scales LIST] [--batches N]
 *                  [--record-max PAGES] [--json PATH] [--png PATH] [--no-chart]
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../output.h"
#include "mb.h"

static double since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void machine_name(char *buf, size_t len)
{
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(buf, len, "%ld cpus", sysconf(_SC_NPROCESSORS_ONLN));
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && colon) {
			colon[strcspn(colon, "\n")] = 0;
			snprintf(buf + strlen(buf), len - strlen(buf), ", %s",
				 colon + 2);
			break;
		}
	}
	if (f)
		fclose(f);
}

static int mkdir_for(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	*slash = 0;
	return mkdir(dir, 0755) && errno != EEXIST ? -errno : 0;
}

/* One panel: these metrics against mapped pages, and the goal as a
 * dashed line.  mb_write_chart_data puts metric m in column m + 2. */
static void chart_panel(FILE *f, const char *dat, const char *title,
			const char *ylabel, const enum mb_metric *m, size_t nm,
			const struct mb_scale *sc, size_t n)
{
	const struct mb_metric_info *g = &mb_metrics[m[0]];
	double lo = g->goal / 4;
	size_t i, j;

	/* Room under the goal line and the lowest figure. */
	for (i = 0; i < nm; i++)
		for (j = 0; j < n; j++)
			if (sc[j].value[m[i]] > 0 && sc[j].value[m[i]] / 2 < lo)
				lo = sc[j].value[m[i]] / 2;
	fprintf(f, "set title '%s'\nset ylabel '%s'\nset yrange [%g:*]\nplot ",
		title, ylabel, lo);
	for (i = 0; i < nm; i++)
		fprintf(f, "'%s' using 1:%d with linespoints lw 2 pt 7 "
			"title '%s', ", dat, (int)m[i] + 2, mb_metrics[m[i]].label);
	fprintf(f, "%g with lines dt 2 lw 2 lc rgb 'red' title 'goal: %g %s%s'\n",
		g->goal, g->goal, g->unit,
		g->goal_from ? " (1M pages and up)" : "");
}

/* Three log-log panels against mapped pages: ns per store, ns per
 * descriptor, bytes per page. */
static void chart_script(FILE *f, const char *png, const char *dat,
			 const struct mb_scale *sc, size_t n)
{
	static const enum mb_metric stores[] = { MB_STORE_MAP, MB_STORE_UNMAP,
		MB_STORE_MAP_REC, MB_STORE_UNMAP_REC };
	static const enum mb_metric walks[] = { MB_ROOT_WALK, MB_ROOT_AGAIN,
		MB_INVAL_2M, MB_INVAL_1G, MB_SPLIT, MB_TABLE_FREE };
	static const enum mb_metric memory[] = { MB_MEMORY };
	char name[16];
	size_t i;

	fprintf(f, "set terminal pngcairo size 1500,600 noenhanced font ',10'\n"
		"set output '%s'\nset datafile missing '-'\n"
		"set logscale xy\nset grid\nset key below left Left reverse\n"
		"set xlabel 'mapped 4K pages'\nset xrange [%g:%g]\nset xtics (",
		png, (double)sc[0].pages / 2, (double)sc[n - 1].pages * 2);
	for (i = 0; i < n; i++) {
		mb_scale_name(sc[i].pages, name, sizeof(name));
		fprintf(f, "%s'%s' %llu", i ? ", " : "", name,
			(unsigned long long)sc[i].pages);
	}
	/* Fixed margins: the three plots line up whatever their keys. */
	fprintf(f, ")\nset multiplot layout 1,3 margins 0.05,0.98,0.32,0.90 "
		"spacing 0.06 title 'wpt-microbench: the engine without KVM "
		"(medians, the lowest of the runs; log-log)'\n");
	chart_panel(f, dat, "per trapped leaf store", "ns per store", stores, 4, sc, n);
	chart_panel(f, dat, "per descriptor walked", "ns per descriptor", walks, 6, sc, n);
	chart_panel(f, dat, "resident memory per mapped page", "bytes per page",
		    memory, 1, sc, n);
	fprintf(f, "unset multiplot\n");
}

static int write_chart(const char *png, const struct mb_scale *sc, size_t n)
{
	char dat[PATH_MAX], gp[PATH_MAX];
	FILE *f;
	int ret;

	snprintf(dat, sizeof(dat), "%s.dat", png);
	snprintf(gp, sizeof(gp), "%s.gp", png);
	f = fopen(dat, "w");
	if (!f)
		return -errno;
	ret = mb_write_chart_data(f, sc, n);
	if (fclose(f) || ret)
		return -EIO;
	f = fopen(gp, "w");
	if (!f)
		return -errno;
	chart_script(f, png, dat, sc, n);
	if (fclose(f))
		return -EIO;
	return bench_gnuplot(gp);
}

static int write_outputs(const struct mb_opts *o, const char *machine,
			 const char *date, const struct mb_scale *sc, size_t n)
{
	FILE *f;
	int ret = mkdir_for(o->json);

	f = ret ? NULL : fopen(o->json, "w");
	if (!f) {
		fprintf(stderr, "wpt-microbench: cannot write %s: %s\n", o->json,
			strerror(ret ? -ret : errno));
		return -EIO;
	}
	ret = mb_write_json(f, machine, date, o, sc, n);
	if (fclose(f) || ret)
		return -EIO;
	fprintf(stderr, "wpt-microbench: wrote %s\n", o->json);
	if (!o->chart)
		return 0;
	ret = mkdir_for(o->png) ?: write_chart(o->png, sc, n);
	if (ret)
		fprintf(stderr, "wpt-microbench: chart %s: %s%s\n", o->png,
			strerror(-ret), ret == -ENOENT ? " (install gnuplot-nox)" : "");
	else
		fprintf(stderr, "wpt-microbench: wrote %s\n", o->png);
	return 0;
}

/* Every scale once, in order, into sc; returns the scales that failed. */
static unsigned int run_once(const struct mb_opts *o, unsigned int r,
			     const struct timespec *t0, struct mb_scale *sc)
{
	const struct mb_scale *last = NULL;
	unsigned int i, failed = 0;
	char name[16], round[32] = "";

	if (o->runs > 1)
		snprintf(round, sizeof(round), " (run %u of %u)", r + 1, o->runs);
	for (i = 0; i < o->nr_scales; i++) {
		mb_scale_name(o->scales[i], name, sizeof(name));
		if (mb_over_budget(o, last, o->scales[i], since(t0), &sc[i])) {
			fprintf(stderr, "wpt-microbench: %s%s SKIPPED: %s\n",
				name, round, sc[i].note);
			continue;
		}
		fprintf(stderr, "wpt-microbench: %s mapped 4K pages%s...\n",
			name, round);
		mb_run_scale(o, o->scales[i], &sc[i]);
		failed += sc[i].error != 0;
		if (!sc[i].error)
			last = &sc[i];
		fprintf(stderr, "wpt-microbench: %s done in %.1f s%s%s\n", name,
			sc[i].scale_wall_s, sc[i].error ? ": FAILED: " : "",
			sc[i].note);
	}
	return failed;
}

int main(int argc, char **argv)
{
	static struct mb_scale sc[MB_MAX_SCALES], runs[MB_MAX_RUNS][MB_MAX_SCALES];
	struct mb_scale one[MB_MAX_RUNS];
	char machine[256], date[64];
	struct timespec t0;
	time_t now = time(NULL);
	unsigned int i, r, failed = 0;
	struct mb_opts o;
	int ret = mb_parse_args(argc, argv, &o, stderr);

	if (ret)
		return ret > 0 ? 0 : (mb_usage(stderr), 2);
	machine_name(machine, sizeof(machine));
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Runs in turn, not each scale's back to back: a minute of a noisy
	 * neighbour then costs one run of a figure, not all of it. */
	for (r = 0; r < o.runs; r++)
		failed += run_once(&o, r, &t0, runs[r]);
	for (i = 0; i < o.nr_scales; i++) {
		for (r = 0; r < o.runs; r++)
			one[r] = runs[r][i];
		mb_combine_runs(one, o.runs, &sc[i]);
	}
	printf("wpt-microbench: %s, %s%s; the engine without KVM: Arm LPAE "
	       "stage 1, 4K granule,\ncallback protection, medians (%u "
	       "batches of 64 stores per kind)%s;\n"
	       "GPAs %s, the 64 stored leaves %s\n\n", machine, date,
	       o.quick ? ", QUICK" : "", o.batches,
	       o.runs > 1 ? ", then the lowest of the runs" : "",
	       o.contiguous ? "contiguous (one run)" : "scattered (a mapping each)",
	       o.hot ? "adjacent (one table)" : "spread over the range");
	if (o.runs > 1)
		printf("runs: %u, in turn\n\n", o.runs);
	ret = mb_print_table(stdout, sc, o.nr_scales);
	printf("wall time %.1f s\n", since(&t0));
	fflush(stdout);
	if (write_outputs(&o, machine, date, sc, o.nr_scales))
		failed++;
	return failed ? 1 : 0;
}
