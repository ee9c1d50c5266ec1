/* SPDX-License-Identifier: MIT */
/*
 * A run's counts, summed and priced (see tally.h).
 */
#include <string.h>

#include "tally.h"

void bench_tally_init(struct bench_tally *t)
{
	memset(t, 0, sizeof(*t));
	t->t0 = ~0ull;
}

/* ops as the report counts them for one vCPU's result. */
static uint64_t report_ops(const struct bench_case *w,
			   const struct bench_params *p,
			   const struct bench_result *res)
{
	switch (w->w) {
	case BENCH_W_STREAM4K:
		return res->unmaps;
	case BENCH_W_CHURN:
		return (res->maps + res->unmaps) / 2;
	case BENCH_W_BULK4K:
		return res->maps;
	default:
		return p->bulk_bytes >> 21;
	}
}

/* Contiguous runs a recording sink holds (for split: one call per run). */
static uint64_t sink_runs(const struct wpt_sink *s)
{
	long n = wpt_sink_record_get(s, NULL, 0);

	return n > 0 ? (uint64_t)n : 0;
}

void bench_tally_cpu(struct bench_tally *t, const struct bench_case *w,
		     const struct bench_params *p,
		     const struct bench_result *res,
		     const struct bvm_cpu_stats *st, const bench_marks at,
		     const struct wpt_sink *sink, struct bench_row *row)
{
	const struct bench_snap *a = &at[BENCH_PHASE_START];
	const struct bench_snap *b = &at[BENCH_PHASE_END];
	uint64_t start_ns = st->phase_ns[BENCH_PHASE_START];
	uint64_t end_ns = st->phase_ns[BENCH_PHASE_END];

	t->ops += report_ops(w, p, res);
	/* The marks count their own exit: leave END's out. */
	t->exits += st->exits_at_phase[BENCH_PHASE_END] -
		    st->exits_at_phase[BENCH_PHASE_START] - 1;
	t->lib_exits += st->lib_exits_at_phase[BENCH_PHASE_END] -
			st->lib_exits_at_phase[BENCH_PHASE_START];
	t->lib_ns += st->lib_ns;
	t->inval_ns += b->smmu.inval_ns - a->smmu.inval_ns;
	t->sink_calls += b->sink.maps + b->sink.unmaps - a->sink.maps -
			 a->sink.unmaps;
	t->maps += b->sink.maps - a->sink.maps;
	t->bytes += b->sink.bytes_mapped - a->sink.bytes_mapped;
	t->stores += res->leaf_stores;
	/* The guest times its map calls by TSC; the phase marks give the
	 * TSC's rate in ns. */
	if (res->tsc_end > res->tsc_start) {
		t->map_cycles += res->map_cycles;
		t->map_calls += res->map_calls;
		t->tsc += res->tsc_end - res->tsc_start;
		t->tsc_ns += end_ns - start_ns;
	}
	if (start_ns < t->t0)
		t->t0 = start_ns;
	if (end_ns > t->t1)
		t->t1 = end_ns;
	if (w->w == BENCH_W_SPLIT) {
		row->split_maps += b->sink.maps - at[BENCH_PHASE_MID].sink.maps;
		row->split_runs += sink_runs(sink);
	}
}

/* The VM-wide counters that moved from a to b. */
static void vm_delta(struct bench_tally *t, const struct wpt_vm_stats *a,
		     const struct wpt_vm_stats *b)
{
	/* Trapped stores: handed over, or (uffd: locked ones) stepped. */
	t->writes = b->exits_handled + b->steps - a->exits_handled - a->steps;
	t->wp = b->wp_ops - a->wp_ops;
	t->wp_ns = b->wp_ns - a->wp_ns;
	t->slots = b->slot_ops - a->slot_ops;
	t->slot_ns = b->slot_ns - a->slot_ns;
	t->prot = b->protects + b->unprotects - a->protects - a->unprotects;
	t->recuts = b->slot_recuts - a->slot_recuts;
	t->fallbacks = b->slot_fallbacks - a->slot_fallbacks;
	t->cut_pages = b->slot_cut_pages - a->slot_cut_pages;
	t->cut_ops = b->slot_cut_ops - a->slot_cut_ops;
	/* Relaxed mode's sync points run inside exits the library leaves
	 * to the VMM (a doorbell) or inside invalidations: its own CPU too,
	 * and the slot ioctls above include theirs. */
	t->lib_ns += b->sync_ns - a->sync_ns;
}

void bench_tally_vm(struct bench_tally *t, const struct bench_case *w,
		    const bench_marks *at, unsigned int cpus)
{
	/* The first vCPU's marks bound the timed part (mt: both vCPUs run
	 * the same length, close enough)... */
	const struct wpt_vm_stats *a = &at[0][BENCH_PHASE_START].vm;
	const struct wpt_vm_stats *b = &at[0][BENCH_PHASE_END].vm;

	/* A stepped store costs two exits, the refusal and the step; a
	 * kicked one (uffd-block) one more, the -EINTR (its step runs to an
	 * exit counted already).  The library's part is its step_ns. */
	t->steps = b->steps - a->steps;
	t->step_ns = b->step_ns - a->step_ns;
	t->exits += (w->uffd == WPT_UFFD_BLOCK ? 1 : 2) * t->steps;
	/* ...but the VM-wide counts run from whichever vCPU marked first
	 * to whichever marked last. */
	if (cpus > 1) {
		if (at[1][BENCH_PHASE_START].vm.exits_handled < a->exits_handled)
			a = &at[1][BENCH_PHASE_START].vm;
		if (at[1][BENCH_PHASE_END].vm.exits_handled >= b->exits_handled)
			b = &at[1][BENCH_PHASE_END].vm;
	}
	vm_delta(t, a, b);
}

void bench_tally_row(const struct bench_tally *t, const struct bench_case *w,
		     const struct bench_units *unit, struct bench_row *row)
{
	double per = (double)t->ops;
	/* The library's own work per trapped store: the memslot and
	 * write-protect ioctls it waited for are the kernel's cost, priced
	 * in the floor. */
	double lib = (double)t->lib_ns + (double)t->step_ns -
		     (double)t->slot_ns - (double)t->wp_ns;

	if (!t->ops)
		return;
	/* mt: each vCPU's ops run side by side; a pair's wall time is the
	 * run's over one vCPU's share. */
	row->ops = t->ops;
	row->ns_per_op = (double)(t->t1 - t->t0) / (per / w->cpus);
	row->exits_per_op = (double)t->exits / per;
	row->writes_per_op = (double)t->writes / per;
	row->stores_per_op = (double)t->stores / per;
	row->lib_ns_per_write = t->lib_exits + t->steps && lib > 0 ?
		lib / (double)(t->lib_exits + t->steps) : 0;
	row->lib_ns_per_op = lib + (double)t->inval_ns > 0 ?
		(lib + (double)t->inval_ns) / per : 0;
	row->wp_ioctls_per_op = (double)t->wp / per;
	row->wp_ns_in_run = t->wp ? (double)t->wp_ns / t->wp : 0;
	row->slot_ns_in_run = t->slots ? (double)t->slot_ns / t->slots : 0;
	row->sink_calls_per_op = (double)t->sink_calls / per;
	row->pages_per_call = t->maps ? (double)t->bytes / 4096.0 / t->maps : 0;
	row->slot_ioctls_per_op = (double)t->slots / per;
	row->slot_ioctls_per_table = t->prot ? (double)t->slots / t->prot : 0;
	row->recuts_per_table = t->prot ? (double)t->recuts / t->prot : 0;
	/* The same after each page's first cut (and without re-cuts the
	 * budget made merge): what a table page costs once it has a slot. */
	row->slot_first_cuts = t->cut_pages;
	row->slot_ioctls_steady = t->prot > t->cut_pages ?
		(double)(t->slots - t->cut_ops) / (double)(t->prot - t->cut_pages) : 0;
	row->slot_ioctls_per_cut = t->cut_pages ?
		(double)t->cut_ops / (double)t->cut_pages : 0;
	row->slot_fallbacks = t->fallbacks;
	/* Each vCPU pays its own exits side by side: the floor of one
	 * vCPU's op. */
	row->floor_ns_per_op = bench_row_price(row, unit);
	if (t->map_calls && t->tsc)
		row->map_ns = (double)t->map_cycles / t->map_calls *
			      ((double)t->tsc_ns / t->tsc);
}
