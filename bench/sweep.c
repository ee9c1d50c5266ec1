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
				"%-26s %-8s %-8s %6s %8s %8s %6s %9s %10s\n",
				"workload", "strategy", "layout", "budget",
				"ioctls", "re-cuts", "slots", "fallback",
				"ns/op");
		any = true;
		if (r->slot_budget)
			snprintf(budget, sizeof(budget), "%u", r->slot_budget);
		fprintf(f, "%-26s %-8s %-8s %6s %8.3f %8.3f %6llu %9llu "
			"%10.0f%s\n", r->workload, r->strategy, r->slot_layout,
			budget, r->slot_ioctls_per_table, r->recuts_per_table,
			(unsigned long long)r->slots_in_use,
			(unsigned long long)r->slot_fallbacks, r->ns_per_op,
			r->verified ? "" : "  NOT VERIFIED");
	}
	if (any)
		fprintf(f, "ioctls: KVM_SET_USER_MEMORY_REGION calls, re-cuts: "
			"chunks whose slots changed, slots: held at the end\n"
			"(the chunks included), fallback: re-cuts the budget "
			"made merge (goal: at most 2 ioctls).\n");
}
