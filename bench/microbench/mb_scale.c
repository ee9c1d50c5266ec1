/* SPDX-License-Identifier: MIT */
/*
 * One scale of the microbench: the fake guest built once, then each phase
 * in a child process of its own (forked after the guest is built, so the
 * tables are already resident and only the library's memory grows in it).
 * Only one domain exists at a time, so a store is never paid twice.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mb_ctx.h"

/* No phase may hang the bench: one that runs longer is killed and its
 * scale reported as failed (the slowest, 16M on a loaded 2-core machine,
 * takes about 30 s today, 3 minutes with the engine of 2026-12-03). */
#define PHASE_TIMEOUT_S 900

struct phase {
	const char *name;
	enum wpt_mode mode;
	bool record;                     /* the recording sink, else no-op */
	int (*fn)(struct mb_ctx *c, struct wpt_domain *d);
};

static const struct phase phases[] = {
	{ "trap", WPT_MODE_TRAP, false, mb_trap_phases },
	{ "record", WPT_MODE_TRAP, true, mb_record_phases },
	{ "inval", WPT_MODE_INVAL, false, mb_inval_phases },
};

/*
 * In the child: a VM, one domain, the phase; the result to fd.  Nothing is
 * freed: the process exits instead (a domain of 16M pages takes seconds to
 * tear down, and that measures nothing asked for).
 */
static void phase_child(struct mb_ctx *c, const struct phase *ph, int fd)
{
	struct wpt_vm_cfg cfg = { .size = sizeof(cfg), .nr_regions = 2,
				  .regions = c->g.ram,
				  .protect_ops = &mb_noop_protect_ops };
	struct wpt_domain *d;
	struct wpt_sink *sink;
	const char *p = (const char *)c->out;
	size_t left = sizeof(*c->out);
	ssize_t r;
	int ret;

	alarm(PHASE_TIMEOUT_S);
	mb_clock_calibrate(c);
	ret = wpt_vm_new(&cfg, &c->vm);

	if (ret)
		mb_fail(c, ret, "wpt_vm_new");
	else if ((ret = ph->record ? wpt_sink_record_new(&sink) :
			wpt_sink_callback_new(&mb_noop_sink, NULL, &sink)))
		mb_fail(c, ret, "sink");
	else if (!mb_domain_open(c, sink, ph->mode, &d))
		ph->fn(c, d);
	while (left && (r = write(fd, p, left)) > 0)
		p += r, left -= (size_t)r;
	_exit(left ? 1 : 0);
}

/* What a phase measured, into the scale's result. */
static void merge(struct mb_scale *out, const struct mb_scale *ph)
{
	int m;

	for (m = 0; m < MB_NR_METRICS; m++) {
		if (isnan(ph->value[m]))
			continue;
		out->value[m] = ph->value[m];
		out->samples[m] = ph->samples[m];
		out->lib_descs[m] = ph->lib_descs[m];
	}
	if (!isnan(ph->clock_ns) && isnan(out->clock_ns)) {
		out->clock_ns = ph->clock_ns;
		out->wall_clock_ns = ph->wall_clock_ns;
	}
	out->defaults_err = out->defaults_err ?: ph->defaults_err;
	out->limits_raised |= ph->limits_raised;
	if (ph->root_wall_s > 0) {
		out->root_wall_s = ph->root_wall_s;
		out->root_faults = ph->root_faults;
		out->root_pool_pages = ph->root_pool_pages;
		out->fault_ns = ph->fault_ns;
		out->fill_ns = ph->fill_ns;
		out->root_fault_share = ph->root_fault_share;
	}
	if (ph->error && !out->error) {
		out->error = ph->error;
		memcpy(out->note, ph->note, sizeof(out->note));
	}
}

static int run_phase(struct mb_ctx *c, const struct phase *ph)
{
	struct mb_scale got, *out = c->out;
	ssize_t n = 0, r;
	int fd[2], status;
	pid_t pid;

	if (pipe(fd) || (pid = fork()) < 0)
		return mb_fail(c, -errno, "fork");
	if (pid == 0) {
		close(fd[0]);
		c->out = &got;
		memcpy(&got, out, sizeof(got));
		phase_child(c, ph, fd[1]);
	}
	close(fd[1]);
	while (n < (ssize_t)sizeof(got) &&
	       (r = read(fd[0], (char *)&got + n, sizeof(got) - (size_t)n)) > 0)
		n += r;
	close(fd[0]);
	waitpid(pid, &status, 0);
	if (n == (ssize_t)sizeof(got)) {
		merge(out, &got);
		return out->error;
	}
	mb_fail(c, -ECHILD, ph->name);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		snprintf(out->note, sizeof(out->note), "the %s phase timed out "
			 "after %d s", ph->name, PHASE_TIMEOUT_S);
	else
		snprintf(out->note, sizeof(out->note), "the %s phase's process "
			 "%s %d", ph->name, WIFSIGNALED(status) ?
			 "died of signal" : "exited", WIFSIGNALED(status) ?
			 WTERMSIG(status) : WEXITSTATUS(status));
	return out->error;
}

int mb_run_scale(const struct mb_opts *o, uint64_t pages, struct mb_scale *out)
{
	static struct mb_ctx c;
	uint64_t w0 = mb_clock_ns(CLOCK_MONOTONIC);
	unsigned int i;
	int ret;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < MB_NR_METRICS; i++)
		out->value[i] = NAN;
	out->fault_ns = out->fill_ns = out->root_fault_share = out->clock_ns =
		out->wall_clock_ns = NAN;
	out->pages = pages;
	memset(&c, 0, sizeof(c));
	c.o = o;
	c.out = out;
	ret = mb_guest_new(&c.g, pages, o->contiguous);
	if (ret)
		return mb_fail(&c, ret, "guest RAM");
	for (i = 0; i < MB_WINDOW; i++)
		c.window[i] = o->hot ? pages / 2 + i :
			      i * (pages / MB_WINDOW) + pages / (2 * MB_WINDOW);
	/* Enough for this tree and the block area: only the first set_root
	 * runs under the defaults. */
	c.raised = (struct wpt_limits){
		.max_table_uses = c.g.nr_l2 + c.g.nr_l3 + 4 * MB_NR_BLOCKS + 16,
		.max_leaves = pages + MB_NR_BLOCKS * MB_DESCS,
		.max_walk_descs = 2 * mb_tree_descs(&c.g),
	};
	for (i = 0; i < sizeof(phases) / sizeof(phases[0]) && !out->error; i++)
		if (!phases[i].record || pages <= o->record_max)
			run_phase(&c, &phases[i]);
	mb_guest_free(&c.g);
	out->scale_wall_s = (double)(mb_clock_ns(CLOCK_MONOTONIC) - w0) / 1e9;
	return out->error;
}
