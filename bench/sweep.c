/* SPDX-License-Identifier: MIT */
/*
 * The slot sweep's own table: for every churn row on KVM memslots, what
 * each protected or released table page cost in memslot ioctls and
 * re-cut chunks, the slots the layout held at the end, and how often the
 * budget made it merge, with both layouts side by side.
 */
#include <string.h>

#include "report.h"

void bench_print_slot_sweep(FILE *f, const struct bench_row *rows, size_t n)
{
	size_t i;
	bool any = false;

	for (i = 0; i < n; i++) {
		const struct bench_row *r = &rows[i];
		char budget[16] = "KVM's";

		if (strncmp(r->workload, "churn", 5) || !r->slot_layout ||
		    r->slot_ioctls_per_table <= 0)
			continue;
		if (!any)
			fprintf(f, "\nSlot sweep (churn on KVM memslots; per "
				"table page protected or released):\n"
				"%-26s %-8s %-8s %6s %8s %8s %6s %9s %10s "
				"%7s %6s\n",
				"workload", "strategy", "layout", "budget",
				"ioctls", "re-cuts", "slots", "fallback",
				"ns/op", "steady", "cuts");
		any = true;
		if (r->slot_budget)
			snprintf(budget, sizeof(budget), "%u", r->slot_budget);
		fprintf(f, "%-26s %-8s %-8s %6s %8.3f %8.3f %6llu %9llu "
			"%10.0f %7.3f %6llu%s\n", r->workload, r->strategy,
			r->slot_layout, budget, r->slot_ioctls_per_table,
			r->recuts_per_table,
			(unsigned long long)r->slots_in_use,
			(unsigned long long)r->slot_fallbacks, r->ns_per_op,
			r->slot_ioctls_steady,
			(unsigned long long)r->slot_first_cuts,
			r->verified ? "" : "  NOT VERIFIED");
	}
	if (any)
		fprintf(f, "ioctls: KVM_SET_USER_MEMORY_REGION calls, re-cuts: "
			"chunks whose slots changed, slots: held at the end\n"
			"(the chunks included), fallback: re-cuts the budget "
			"made merge (goal: at most 2 ioctls); steady: ioctls\n"
			"per table page once it has a slot of its own, cuts: "
			"the pages that had to be cut out of a larger slot\n"
			"first (or were merged by the budget); KVM cannot split "
			"a live slot, so each such cut is a delete and two\n"
			"or three creates.\n");
}

/* The sweep's rows for the chart: one line per churn row on memslots
 * under trap, its name, then its slot ioctls per table page in its
 * layout's column, per-page or merged ("-": the other).  Returns how
 * many lines. */
size_t bench_sweep_chart_data(FILE *f, const struct bench_row *rows, size_t n)
{
	size_t i, nw = 0;

	/* No header line: the plot names its columns itself. */
	for (i = 0; i < n; i++) {
		const struct bench_row *r = &rows[i];
		bool merged;

		if (strncmp(r->workload, "churn", 5) || !r->slot_layout ||
		    strcmp(r->strategy, "trap") ||
		    r->slot_ioctls_per_table <= 0)
			continue;
		merged = !strcmp(r->slot_layout, "merged");
		fprintf(f, merged ? "%s - %.3f\n" : "%s %.3f -\n",
			r->workload, r->slot_ioctls_per_table);
		nw++;
	}
	return nw;
}

/* The chart's lower panel: those bars, with the goal of 2 as a line. */
void bench_sweep_chart_plot(FILE *f, const char *dat, size_t nw)
{
	fprintf(f,
		"set title 'churn under trap on KVM memslots: memslot ioctls "
		"per table page protected or released (dashed: the goal, 2)'\n"
		"set style histogram clustered gap 1\n"
		"unset logscale y\nset yrange [0:*]\nset ytics autofreq\n"
		"set ylabel 'slot ioctls per table page'\n"
		"set xrange [-0.6:%zu.6]\n"
		"set arrow from graph 0, first 2 to graph 1, first 2 nohead "
		"front dt 2 lw 2 lc rgb 'red'\n"
		"plot '%s' using 2:xtic(1) title 'a read-only slot per table "
		"page (default)' lc rgb '#56b4e9', "
		"'' using 3 title 'adjacent pages share one (merged)' "
		"lc rgb '#e69f00'\n",
		nw ? nw - 1 : 0, dat);
	fprintf(f, "unset multiplot\n");
}
