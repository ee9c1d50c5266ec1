/* SPDX-License-Identifier: MIT */
/*
 * Fault injection at every call site in turn, over the property test's
 * guest (unit/prop.h): maps, unmaps, block splits, tables shared and
 * unshared, tables freed, root switches, invalidations, stray stores, the
 * VMM's own writes (wpt_vm_host_wrote) and, at the end, domain destroy.
 *
 * A run counts the fallible calls the library makes inside the guest's
 * calls: every malloc, calloc and realloc, and every mmap (the VM's
 * block pool maps its slabs) (this binary is linked with
 * -Wl,--wrap for them, mk/faultinj.mk, so the calls of everything linked
 * statically come here, and only those made while the library runs
 * count: not libcheck's, which is static too, in the test's callbacks),
 * every sink map and unmap, every protect and unprotect of the protection
 * backend (stage 2 configurations give the VM wpt_quiesce_ops, so there
 * protection changes are queued and made at the end of each call).  Then
 * the same run again, once for every k: call k fails ("once"), or call k
 * and every later one ("from k on": memory or the sink never comes back
 * until the VMM's retry).  After each failure:
 *  - every domain's sink holds exactly what wpt_domain_foreach_mapping
 *    lists (the VMM knows which IOVAs a device may still reach);
 *  - a faulted domain (wpt_domain_error) holds nothing else, tracks no
 *    table and protects no page;
 *  - a healthy domain equals a full walk of the guest's tables (sink ==
 *    shadow == walk, verify finds nothing, HYBRID: plus removals not yet
 *    invalidated), at once if the call returned 0, or after the VMM's
 *    retry (wpt_domain_invalidate_all) if it returned an error; so no
 *    removal is ever lost;
 *  - the tracked tables are those the healthy domains reach, and the
 *    protected pages theirs (plus pages whose unprotect was refused).
 * A replay is a fork of the counting run taken just before the phase
 * that makes call k, so call k is the same call; the seeded runs are
 * deterministic too (a second run makes as many calls, checked).
 *
 * WPT_FAULT_OPS=N guest operations per run (default 10),
 * WPT_FAULT_CALLS=N the calls a run may make (default 300, 150 under
 * ASan: a seed is picked to fit) and WPT_FAULT_SEEDS=N seeds per
 * configuration (default 1) make it longer.  WPT_FAULT_CONFIG=N runs only
 * configuration N (test_property's numbering).  Each configuration prints one line:
 * "fault-inject: <config>: K calls (M malloc at S sites, U sink, P
 * protect), K runs once and K from k on, F faulted, E errors returned".
 */
#include "unit/prop.h"
#include "sink/sink.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <urcu-bp.h>
#include <urcu/call-rcu.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off);

/* ------------------------------------------------- injection points */

enum call_kind { CALL_MALLOC, CALL_SINK, CALL_PROTECT, NR_CALL_KINDS };

struct call {
	enum call_kind kind;
	const void *site; /* malloc: the caller's return address */
};

/* One test process runs one run at a time (Check forks per test), and
 * the malloc wrappers can reach no other state: so one static. */
static struct fi {
	bool armed;         /* inside a library call of the guest's */
	uint64_t calls;     /* fallible calls made armed this run */
	uint64_t fail_at;   /* 0: none fails */
	bool from_k_on;
	uint64_t failed;    /* calls failed this run */
	struct call first;  /* the first one failed */
	/* The counting run records every call, to hold replays to it. */
	struct call *log;
	uint64_t log_cap;
	bool logging;
} fi;

static bool fi_fails(enum call_kind kind, const void *site)
{
	struct call c = { kind, site };

	if (!fi.armed)
		return false;
	fi.calls++;
	if (fi.logging) {
		if (fi.calls > fi.log_cap) {
			fi.log_cap = fi.log_cap ? 2 * fi.log_cap : 1024;
			fi.log = __real_realloc(fi.log,
						fi.log_cap * sizeof(*fi.log));
			if (!fi.log) /* no ck_assert here: it allocates */
				abort();
		}
		fi.log[fi.calls - 1] = c;
	}
	if (!fi.fail_at || fi.calls < fi.fail_at ||
	    (fi.calls > fi.fail_at && !fi.from_k_on))
		return false;
	if (!fi.failed++)
		fi.first = c;
	return true;
}

void *__wrap_malloc(size_t n)
{
	return fi_fails(CALL_MALLOC, __builtin_return_address(0))
		       ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	return fi_fails(CALL_MALLOC, __builtin_return_address(0))
		       ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fi_fails(CALL_MALLOC, __builtin_return_address(0))
		       ? NULL : __real_realloc(p, n);
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off)
{
	if (fi_fails(CALL_MALLOC, __builtin_return_address(0))) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return __real_mmap(addr, len, prot, flags, fd, off);
}

/* The sink each domain is given: refuses a call when its turn comes
 * (VFIO's -ENOSPC for a map, -EIO for an unmap), else forwards it to the
 * recording sink p->sink[d], whose own allocation may fail too. */
static int fwd_map(void *opaque, uint64_t iova, uint64_t gpa, void *hva,
		   uint64_t size, uint32_t perm)
{
	struct wpt_sink **rec = opaque;

	/* The recording sink is the library's: its allocation counts. */
	if (fi_fails(CALL_SINK, NULL))
		return -ENOSPC;
	return wpt_sink_map(*rec, iova, gpa, hva, size, perm);
}

static int fwd_unmap(void *opaque, uint64_t iova, uint64_t size)
{
	struct wpt_sink **rec = opaque;

	if (fi_fails(CALL_SINK, NULL))
		return -EIO;
	return wpt_sink_unmap(*rec, iova, size);
}

static struct wpt_sink *fi_sink_for(struct prop *p, unsigned int d)
{
	static const struct wpt_sink_ops ops = { fwd_map, fwd_unmap };
	struct wpt_sink *s;

	ck_assert_int_eq(wpt_sink_callback_new(&ops, &p->sink[d], &s), 0);
	return s;
}

static int fi_backend_fails(struct prop *p)
{
	return fi_fails(CALL_PROTECT, NULL) ? -ENOSPC : 0;
}

static void fi_in_library(struct prop *p, bool in)
{
	fi.armed = in;
}

/* Stage 2 configurations run with wpt_quiesce_ops, so both ways of
 * changing protection (at once, or recorded and made at the call's end)
 * meet every failure. */
static const struct prop_hooks fi_hooks[2] = {
	{ .tolerant = true, .host_write_one_in = 16,
	  .in_library = fi_in_library, .backend_fails = fi_backend_fails,
	  .sink_for = fi_sink_for },
	{ .tolerant = true, .host_write_one_in = 16,
	  .in_library = fi_in_library, .backend_fails = fi_backend_fails,
	  .sink_for = fi_sink_for, .quiesce = true },
};

static const struct prop_hooks *hooks_for(unsigned int config)
{
	return &fi_hooks[config / NR_MODE_SETS % 2];
}

/* ------------------------------------------------------------ a run */

#define DEFAULT_OPS 10
/* Calls a run may make (pick_seed); fewer under ASan, slower. */
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define DEFAULT_CALLS 150
#else
#define DEFAULT_CALLS 300
#endif
/* Operations checked in full after a failure injected once (then at the
 * run's end): enough to see a retry go through and a fault restart. */
#define CHECK_OPS_AFTER 3
/* Bound on one replay (a failure injected, the rest of the run). */
#define REPLAY_BOUND_S 60
/* Replays forked at once: the machine's two cores. */
#define REPLAYS_AT_ONCE 2

struct run {
	uint64_t ops_since_failure;
	bool owed;          /* a call returned an error since the last retry */
	uint64_t errors;    /* operations that returned an error */
	uint64_t faulted;   /* domains faulted by the failure's operation */
};

/* What the replays report back to the run that forked them. */
struct results {
	uint64_t replays, errors, faulted;
};

/* What a VMM does after a call returned an error: retry what is owed on
 * every healthy domain (any invalidation does, wpt.h says).  Nothing
 * fails during the retry: the harness's own calls are not armed. */
static void vmm_retry(struct prop *p)
{
	unsigned int d;

	for (d = 0; d < NR_DOMS; d++) {
		int ret;

		if (wpt_domain_error(p->d[d]))
			continue;
		ret = wpt_domain_invalidate_all(p->d[d]);
		ck_assert_msg(ret == 0, "%s step %lu (%s): retry on d%u: %d",
			      p->label, p->step, p->what, d, ret);
	}
}

extern const char __executable_start;

/* Once the injected failure happened, every message says which it was
 * (a malloc's site as an offset for addr2line -f -e test_fault_inject). */
static void label_failure(struct prop *p)
{
	static const char *const kind[] = { "malloc", "sink call",
					    "protection call" };
	size_t n = strlen(p->label);
	char site[32] = "";

	if (!fi.failed || strstr(p->label, " failed"))
		return;
	if (fi.first.site)
		snprintf(site, sizeof(site), " at +%#tx",
			 (const char *)fi.first.site - &__executable_start);
	snprintf(p->label + n, sizeof(p->label) - n, ", call %llu (%s%s) "
		 "failed%s", (unsigned long long)fi.fail_at, kind[fi.first.kind],
		 site, fi.from_k_on ? " and every call after it" : " once");
}

/* After each guest operation: the checks the file's comment lists. */
static void after_op(struct prop *p, struct run *r)
{
	unsigned int d;

	if (p->quiesced) /* every quiesce() resumed before the call returned */
		ck_abort_msg("%s step %lu (%s): %u quiesce() not resumed",
			     p->label, p->step, p->what, p->quiesced);

	if (!fi.fail_at) { /* the counting run: nothing may go wrong */
		ck_assert_msg(!p->op_err, "%s step %lu (%s): %d with nothing "
			      "failed", p->label, p->step, p->what, p->op_err);
		for (d = 0; d < NR_DOMS; d++)
			ck_assert_int_eq(wpt_domain_error(p->d[d]), 0);
		check_all(p);
		return;
	}
	if (!fi.failed) /* not reached yet (a later phase's call) */
		return;
	label_failure(p);
	r->errors += p->op_err != 0;
	r->owed |= p->op_err != 0;
	for (d = 0; d < NR_DOMS && !r->ops_since_failure; d++)
		r->faulted += wpt_domain_error(p->d[d]) != 0;
	if (fi.from_k_on) {
		for (d = 0; d < NR_DOMS; d++)
			check_shadow_is_sink(p, d);
	} else if (r->ops_since_failure <= CHECK_OPS_AFTER) {
		if (r->owed)
			vmm_retry(p);
		r->owed = false;
		check_all(p);
	}
	r->ops_since_failure++;
}

/* Destroy every domain, the calls armed: a refused unmap keeps the domain
 * (inert) with its sink's mappings listed, and a retry frees it. */
static void destroy_all(struct prop *p)
{
	unsigned int d;

	for (d = 0; d < NR_DOMS; d++) {
		int ret;

		prop_lib(p, true);
		ret = wpt_domain_destroy(p->d[d]);
		prop_lib(p, false);
		label_failure(p);
		if (ret) {
			ck_assert_msg(fi.failed, "%s: destroy d%u: %d with "
				      "nothing failed", p->label, d, ret);
			check_shadow_is_sink(p, d);
			ck_assert_int_eq(wpt_domain_destroy(p->d[d]), 0);
		}
		ck_assert_msg(wpt_sink_record_get(p->sink[d], NULL, 0) == 0,
			      "%s: d%u destroyed, its sink still maps", p->label,
			      d);
		p->d[d] = NULL;
	}
	/* Nothing tracked, nothing protected but what a refusal left. */
	prop_adopt_lost(p);
	ck_assert_uint_eq(p->nr_prot, p->nr_stuck);
}

/* Phase 0 starts the guest, 1..ops are its operations, ops + 1 checks the
 * end (the resource is back: everything must come right) and destroys. */
static void run_phase(struct prop *p, struct run *r, uint64_t phase,
		      uint64_t ops)
{
	int ret;

	p->op_err = 0;
	p->step = phase;
	if (!phase) {
		prop_start(p);
	} else if (phase <= ops) {
		snprintf(p->what, sizeof(p->what), "(choosing)");
		ret = gm_step(p->m, p->what, sizeof(p->what));
		ck_assert_msg(ret == 0, "%s step %lu (%s): model: %d",
			      p->label, p->step, p->what, ret);
	} else {
		snprintf(p->what, sizeof(p->what), "end");
		label_failure(p);
		if (fi.failed) {
			if (r->owed)
				vmm_retry(p);
			check_all(p);
		}
		destroy_all(p);
		return;
	}
	after_op(p, r);
}

/*
 * The replays of calls (lo, hi], all made by phase: a checkpoint process
 * forked before the phase holds the state before it and, once the
 * counting run has made the phase's calls and sent lo and hi, forks a
 * replay per call and mode that fails it and runs the rest of the run.
 * Forking saves replaying the prefix (and wpt_vm_free's wait for an RCU
 * grace period, about 15 ms here: no replay frees its VM).  The forks
 * hold no thread but the caller's: liburcu's call_rcu thread stays in the
 * counting run, and the library calls call_rcu without waiting on it.
 */
struct checkpoint {
	pid_t pid;
	int pipe[2];
};

/*
 * fork() with liburcu's hooks, as liburcu asks of every fork not
 * followed by exec: the library frees through call_rcu, whose worker
 * (and, under ASan, the allocator's locks it may hold in free()) a bare
 * fork would leave half-way in the child, where the next malloc or grace
 * period could wait for ever.  The child gets a worker of its own.
 */
static pid_t fork_rcu(void)
{
	pid_t pid;

	call_rcu_before_fork();
	urcu_bp_before_fork();
	pid = fork();
	if (pid) {
		urcu_bp_after_fork_parent();
		call_rcu_after_fork_parent();
	} else {
		urcu_bp_after_fork_child();
		call_rcu_after_fork_child();
	}
	return pid;
}

static void replay_rest(struct prop *p, uint64_t phase, uint64_t ops,
			struct results *res)
{
	struct run r = { 0 };

	/* The bound kills this replay alone, with a message: Check's own
	 * SIGALRM handler, inherited through the forks, would kill the
	 * whole test's process group without one. */
	signal(SIGALRM, SIG_DFL);
	alarm(REPLAY_BOUND_S);
	for (; phase <= ops + 1; phase++)
		run_phase(p, &r, phase, ops);
	ck_assert_msg(fi.failed, "%s: call %llu was never made", p->label,
		      (unsigned long long)fi.fail_at);
	/* Two replays run at once: add atomically. */
	__atomic_fetch_add(&res->errors, r.errors, __ATOMIC_RELAXED);
	__atomic_fetch_add(&res->faulted, r.faulted, __ATOMIC_RELAXED);
	__atomic_fetch_add(&res->replays, 1, __ATOMIC_RELAXED);
	_exit(0);
}

/* Wait for one replay; exit the checkpoint if it failed (1: a check
 * failed and told Check why; 2: the bound was reached). */
static void replay_reap(struct prop *p)
{
	int status;

	if (wait(&status) < 0)
		_exit(3);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
		fprintf(stderr, "fault-inject: %s: a replay took more than "
			"%d s\n", p->label, REPLAY_BOUND_S);
		_exit(2);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		_exit(1);
}

static void checkpoint_serve(struct checkpoint *c, struct prop *p,
			     uint64_t phase, uint64_t ops, struct results *res)
{
	uint64_t range[2], k;
	int from, running = 0;

	close(c->pipe[1]);
	if (read(c->pipe[0], range, sizeof(range)) != sizeof(range))
		_exit(0); /* the counting run stopped: nothing to replay */
	for (k = range[0] + 1; k <= range[1]; k++) {
		for (from = 0; from < 2; from++) {
			pid_t pid;

			if (running == REPLAYS_AT_ONCE) {
				replay_reap(p);
				running--;
			}
			pid = fork_rcu();
			if (pid < 0)
				_exit(3);
			fi.fail_at = k;
			fi.from_k_on = from;
			if (!pid)
				replay_rest(p, phase, ops, res);
			running++;
		}
	}
	while (running--)
		replay_reap(p);
	_exit(0);
}

static void checkpoint_begin(struct checkpoint *c, struct prop *p,
			     uint64_t phase, uint64_t ops, struct results *res)
{
	ck_assert_int_eq(pipe(c->pipe), 0);
	c->pid = fork_rcu();
	ck_assert_int_ge(c->pid, 0);
	if (!c->pid)
		checkpoint_serve(c, p, phase, ops, res);
	close(c->pipe[0]);
}

static void checkpoint_end(struct checkpoint *c, struct prop *p,
			   uint64_t lo, uint64_t hi)
{
	uint64_t range[2] = { lo, hi };
	int status;

	ck_assert_int_eq(write(c->pipe[1], range, sizeof(range)),
			 sizeof(range));
	close(c->pipe[1]);
	ck_assert_int_eq(waitpid(c->pid, &status, 0), c->pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
		exit(1); /* keep the failed replay's message as Check's */
	ck_assert_msg(WIFEXITED(status) && !WEXITSTATUS(status),
		      "%s step %lu: a replay of calls %llu..%llu ended with "
		      "status %#x (2: bound reached)", p->label, p->step,
		      (unsigned long long)lo + 1, (unsigned long long)hi,
		      status);
}

/* The counting run, with every call of every phase replayed failing. */
static uint64_t count_and_replay(unsigned int config, uint64_t seed,
				 uint64_t ops, struct results *res)
{
	struct prop *p = prop_create(config, seed, hooks_for(config));
	struct run r = { 0 };
	uint64_t phase;

	fi.calls = fi.failed = fi.fail_at = 0;
	for (phase = 0; phase <= ops + 1; phase++) {
		struct checkpoint c;
		uint64_t lo = fi.calls;

		checkpoint_begin(&c, p, phase, ops, res);
		run_phase(p, &r, phase, ops);
		checkpoint_end(&c, p, lo, fi.calls);
	}
	prop_free(p);
	return fi.calls;
}

/* The counting run alone: how many calls the run with this seed makes. */
static uint64_t dry_count(unsigned int config, uint64_t seed, uint64_t ops)
{
	struct prop *p = prop_create(config, seed, hooks_for(config));
	struct run r = { 0 };
	uint64_t phase;

	fi.calls = fi.failed = fi.fail_at = 0;
	for (phase = 0; phase <= ops + 1; phase++)
		run_phase(p, &r, phase, ops);
	prop_free(p);
	return fi.calls;
}

/*
 * Every call is replayed twice, so the test's time is the calls' number:
 * of SEED_TRIES seeds, the one whose run makes the most calls within
 * budget; if none fits, the same with half the operations.  Most runs of a few operations make tens to
 * hundreds of calls; a large map makes thousands.
 */
#define SEED_TRIES 6

static uint64_t pick_seed(unsigned int config, uint64_t base, uint64_t budget,
			  uint64_t *ops, uint64_t *calls)
{
	uint64_t best = base, best_n = 0, t;

	/* Fewer operations for a configuration whose runs are all large. */
	for (; *ops; *ops /= 2) {
		for (t = 0; t < SEED_TRIES; t++) {
			uint64_t seed = base + 7919 * t;
			uint64_t n = dry_count(config, seed, *ops);

			if (n <= budget && n > best_n) {
				best = seed;
				best_n = n;
			}
		}
		if (best_n)
			break;
	}
	ck_assert_uint_gt(best_n, 0);
	*calls = best_n;
	return best;
}

static uint64_t malloc_sites(uint64_t calls)
{
	const void **seen = __real_malloc((calls + 1) * sizeof(*seen));
	uint64_t i, j, n = 0;

	ck_assert_ptr_nonnull(seen);
	for (i = 0; i < calls; i++) {
		if (fi.log[i].kind != CALL_MALLOC)
			continue;
		for (j = 0; j < n && seen[j] != fi.log[i].site; j++)
			;
		if (j == n)
			seen[n++] = fi.log[i].site;
	}
	free(seen);
	return n;
}

START_TEST(test_every_call_fails)
{
	uint64_t ops = env_u64("WPT_FAULT_OPS", DEFAULT_OPS);
	uint64_t budget = env_u64("WPT_FAULT_CALLS", DEFAULT_CALLS);
	uint64_t seeds = env_u64("WPT_FAULT_SEEDS", 1), s;
	const char *only = getenv("WPT_FAULT_CONFIG");

	if (only && *only && strtoul(only, NULL, 0) != (unsigned long)_i)
		return;
	for (s = 0; s < seeds; s++) {
		uint64_t kinds[NR_CALL_KINDS] = { 0 }, calls, dry, i, seed;
		uint64_t run_ops = ops;
		struct results *res;

		seed = pick_seed(_i, 104729 * s + 101 * (uint64_t)_i + 1, budget,
				 &run_ops, &dry);
		res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		ck_assert(res != MAP_FAILED);
		fi.logging = true;
		calls = count_and_replay(_i, seed, run_ops, res);
		fi.logging = false;
		ck_assert_uint_eq(calls, dry); /* the runs are deterministic */
		for (i = 0; i < calls; i++)
			kinds[fi.log[i].kind]++;
		fprintf(stderr, "fault-inject: config %2d seed %llu, %llu ops: "
			"%llu calls "
			"(%llu malloc at %llu sites, %llu sink, %llu protect), "
			"%llu replays, %llu domains faulted, %llu operations "
			"returned an error\n", _i, (unsigned long long)seed,
			(unsigned long long)run_ops, (unsigned long long)calls,
			(unsigned long long)kinds[CALL_MALLOC],
			(unsigned long long)malloc_sites(calls),
			(unsigned long long)kinds[CALL_SINK],
			(unsigned long long)kinds[CALL_PROTECT],
			(unsigned long long)res->replays,
			(unsigned long long)res->faulted,
			(unsigned long long)res->errors);
		ck_assert_uint_eq(res->replays, 2 * calls);
		munmap(res, sizeof(*res));
		ck_assert_uint_gt(kinds[CALL_MALLOC], 0);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fault_inject");
	TCase *tc = tcase_create("every call fails in turn");
	SRunner *sr;
	int failed;

	/* One forked test per configuration of the property test. */
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_every_call_fails, 0, NR_CONFIGS);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
