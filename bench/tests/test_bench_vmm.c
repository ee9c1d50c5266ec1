/* SPDX-License-Identifier: MIT */
/*
 * The bench VMM against the real /dev/kvm: the guest image boots in long
 * mode at CPL3 and at CPL0, runs the exit-calibration workload and reports
 * through the harness registers; two vCPUs run at once on their own
 * parameter blocks; a bad block is refused by the guest; a guest store to a
 * page the library protects goes through wpt_vm_handle_mmio into RAM and
 * the engine.  The measured cost of one exit is printed, not asserted.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "wpt.h"
#include "../vmm/vmm.h"
#include "kvm/skip.h"

/* Few exits: each costs ~65 us at CPL3 on the nested test machines. */
#define CAL_OPS 200
#define PAGE 4096ull

static struct bench_params params_of(unsigned int cpu, uint64_t ops)
{
	return (struct bench_params){
		.magic = BENCH_PARAMS_MAGIC,
		.cpu = cpu,
		.workload = BENCH_W_CAL_EXIT,
		.strategy = BENCH_S_TRAP,
		.lazy = 1,
		.ops = ops,
		.arena_gpa = BENCH_ARENA_GPA + cpu * (BENCH_ARENA_SIZE / 2),
		.arena_size = BENCH_ARENA_SIZE / 2,
		.data_gpa = BENCH_DATA_GPA,
		.data_size = BENCH_DATA_SIZE,
		.mmio_gpa = BENCH_MMIO_GPA(cpu),
		.iova_base = 0,
		.ias = 48,
	};
}

static struct bvm *vm_new(unsigned int nr_cpus, bool cpl0)
{
	struct bvm_cfg cfg = { .nr_cpus = nr_cpus, .cpl0 = cpl0,
			       .slot_granule = 2ull << 20 };
	struct bvm *vm = NULL;

	ck_assert_int_eq(bvm_new(&cfg, &vm), 0);
	ck_assert_ptr_nonnull(vm);
	ck_assert_ptr_nonnull(bvm_ram(vm));
	ck_assert_ptr_nonnull(bvm_wpt(vm));
	ck_assert_int_ge(bvm_vm_fd(vm), 0);
	return vm;
}

static void run_ok(struct bvm *vm, const struct bench_params *p,
		   struct bench_result *res, struct bvm_cpu_stats *st)
{
	int ret = bvm_run(vm, p, res, st);

	ck_assert_msg(ret == 0, "bvm_run: %d (%s)", ret, bvm_last_error(vm));
	ck_assert_str_eq(bvm_last_error(vm), "");
}

/* What CAL_EXIT with ops NOPs must have cost, and nothing else. */
static void assert_cal_exit(const struct bvm_cpu_stats *st,
			    const struct bench_result *res, uint64_t ops,
			    uint64_t lib_exits)
{
	ck_assert_uint_eq(st->done_status, 0);
	ck_assert_uint_eq(res->status, 0);
	ck_assert_uint_eq(res->maps, 0);
	ck_assert_uint_eq(st->harness_exits, ops + 3);
	ck_assert_uint_eq(st->lib_exits, lib_exits);
	ck_assert_uint_eq(st->dev_exits, 0);
	ck_assert_uint_eq(st->mmio_exits, ops + 3 + lib_exits);
	ck_assert_uint_eq(st->runs, st->mmio_exits);
	ck_assert_uint_ne(st->phase_ns[BENCH_PHASE_START], 0);
	ck_assert_uint_gt(st->phase_ns[BENCH_PHASE_END],
			  st->phase_ns[BENCH_PHASE_START]);
	ck_assert_uint_eq(st->phase_ns[BENCH_PHASE_MID], 0);
	/* The marks count their own exit: START is exit lib_exits + 1. */
	ck_assert_uint_eq(st->exits_at_phase[BENCH_PHASE_START], lib_exits + 1);
	ck_assert_uint_eq(st->exits_at_phase[BENCH_PHASE_END],
			  lib_exits + ops + 2);
	ck_assert_uint_eq(st->lib_exits_at_phase[BENCH_PHASE_END], lib_exits);
}

/* Per-exit cost between the marks: ops NOPs plus the END mark's exit. */
static double ns_per_exit(const struct bvm_cpu_stats *st)
{
	return (double)(st->phase_ns[BENCH_PHASE_END] -
			st->phase_ns[BENCH_PHASE_START]) /
	       (double)(st->exits_at_phase[BENCH_PHASE_END] -
			st->exits_at_phase[BENCH_PHASE_START]);
}

static void cal_exit_at(bool cpl0)
{
	struct bvm *vm = vm_new(1, cpl0);
	struct bench_params p = params_of(0, CAL_OPS);
	struct bench_result res;
	struct bvm_cpu_stats st;

	run_ok(vm, &p, &res, &st);
	assert_cal_exit(&st, &res, CAL_OPS, 0);
	printf("exit round trip at %s: %.0f ns (%u NOP writes)\n",
	       cpl0 ? "CPL0" : "CPL3", ns_per_exit(&st), CAL_OPS);
	/* A second run on the same VM starts from the entry again. */
	p.ops = 3;
	run_ok(vm, &p, &res, &st);
	assert_cal_exit(&st, &res, 3, 0);
	bvm_free(vm);
}

START_TEST(boots_and_calibrates_cpl3)
{
	cal_exit_at(false);
}
END_TEST

START_TEST(boots_and_calibrates_cpl0)
{
	cal_exit_at(true);
}
END_TEST

struct phase_log {
	unsigned int calls[BENCH_MAX_CPUS][4];
};

static void log_phase(void *opaque, unsigned int cpu, unsigned int phase)
{
	struct phase_log *l = opaque;

	ck_assert_uint_lt(cpu, BENCH_MAX_CPUS);
	ck_assert_uint_lt(phase, 4);
	l->calls[cpu][phase]++;
}

/* The phase hook runs once per mark, for the vCPU that made it. */
START_TEST(phase_hook_called_per_mark)
{
	struct phase_log l = { 0 };
	struct bvm_cfg cfg = { .nr_cpus = 2, .slot_granule = 2ull << 20,
			       .phase = log_phase, .opaque = &l };
	struct bench_params p[2] = { params_of(0, 5), params_of(1, 7) };
	struct bench_result res[2];
	struct bvm_cpu_stats st[2];
	struct bvm *vm = NULL;
	unsigned int c;

	ck_assert_int_eq(bvm_new(&cfg, &vm), 0);
	run_ok(vm, p, res, st);
	for (c = 0; c < 2; c++) {
		ck_assert_uint_eq(l.calls[c][BENCH_PHASE_START], 1);
		ck_assert_uint_eq(l.calls[c][BENCH_PHASE_MID], 0);
		ck_assert_uint_eq(l.calls[c][BENCH_PHASE_END], 1);
		ck_assert_uint_eq(l.calls[c][0], 0);
	}
	bvm_free(vm);
}
END_TEST

START_TEST(two_vcpus_each_their_params)
{
	struct bvm *vm = vm_new(2, false);
	struct bench_params p[2] = { params_of(0, 50), params_of(1, 120) };
	struct bench_result res[2];
	struct bvm_cpu_stats st[2];

	run_ok(vm, p, res, st);
	assert_cal_exit(&st[0], &res[0], 50, 0);
	assert_cal_exit(&st[1], &res[1], 120, 0);
	printf("exit round trip with two vCPUs at CPL3: %.0f / %.0f ns\n",
	       ns_per_exit(&st[0]), ns_per_exit(&st[1]));
	/* One refuses its block, the other still finishes normally. */
	p[0].cpu = 1;
	run_ok(vm, p, res, st);
	ck_assert_uint_eq(st[0].done_status, BENCH_E_PARAMS);
	ck_assert_uint_eq(res[0].status, BENCH_E_PARAMS);
	ck_assert_uint_eq(st[0].mmio_exits, 1);
	assert_cal_exit(&st[1], &res[1], 120, 0);
	bvm_free(vm);
}
END_TEST

struct churn {
	struct wpt_vm *wpt;
	volatile int stop;
	volatile int running;  /* the vCPUs are in bvm_run */
	unsigned long cycles;  /* cycles entirely inside a run */
	int err;
};

/* Protect and release an arena page over and over: each is a re-cut of
 * the 2 MiB chunk holding it (a delete and creates). */
#define CHURN_ENOUGH 200 /* cycles inside runs; survive_recuts needs 20 */

static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	struct wpt_format_cfg fmt = {
		.size = sizeof(fmt), .format = WPT_FMT_ARM_LPAE_S1,
		.granule = 4096, .ias = 48, .oas = 48, .sl = -1,
	};
	struct wpt_sink *sink;
	struct wpt_domain *d = NULL;

	c->err = wpt_sink_record_new(&sink);
	if (c->err)
		return NULL;
	c->err = wpt_domain_new(c->wpt, &fmt, sink, WPT_MODE_TRAP, &d);
	while (!c->err && !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		int in_run = __atomic_load_n(&c->running, __ATOMIC_ACQUIRE);

		/* Enough re-cuts fell inside runs: stop cutting, so the
		 * vCPUs' own 1000 exits end in bounded time.  Quiesced, every
		 * re-cut holds them out of KVM_RUN, and an unbounded churn
		 * (16,000 cycles in one run on a host kvm_pvm) took a run
		 * past a minute under ASan. */
		if (__atomic_load_n(&c->cycles, __ATOMIC_RELAXED) >=
		    CHURN_ENOUGH) {
			usleep(1000);
			continue;
		}

		c->err = wpt_domain_set_root(d, BENCH_ARENA_GPA + (8ull << 20));
		if (!c->err)
			c->err = wpt_domain_clear_root(d);
		if (in_run && __atomic_load_n(&c->running, __ATOMIC_ACQUIRE))
			__atomic_fetch_add(&c->cycles, 1, __ATOMIC_RELAXED);
	}
	if (d)
		wpt_domain_free(d);
	wpt_sink_free(sink);
	return NULL;
}

/* What the mt workload relies on: slots re-cut from another thread (as
 * one vCPU's exit would) while both vCPUs run do not disturb them.  A
 * re-cut can take milliseconds while vCPUs run, so run until enough of
 * them fell inside runs. */
static void survive_recuts(struct bvm *vm)
{
	struct bench_params p[2] = { params_of(0, 1000), params_of(1, 1000) };
	struct bench_result res[2];
	struct bvm_cpu_stats st[2];
	struct churn c = { .wpt = bvm_wpt(vm) };
	unsigned int runs;
	pthread_t t;

	memset(bvm_ram(vm) + BENCH_ARENA_GPA + (8ull << 20), 0, PAGE);
	ck_assert_int_eq(pthread_create(&t, NULL, churn_thread, &c), 0);
	/* c.err is the thread's until the join; cycles, running and stop
	 * are shared while it runs. */
	for (runs = 0; runs < 40 &&
	     __atomic_load_n(&c.cycles, __ATOMIC_RELAXED) < 20; runs++) {
		__atomic_store_n(&c.running, 1, __ATOMIC_RELEASE);
		run_ok(vm, p, res, st);
		__atomic_store_n(&c.running, 0, __ATOMIC_RELEASE);
		assert_cal_exit(&st[0], &res[0], 1000, 0);
		assert_cal_exit(&st[1], &res[1], 1000, 0);
	}
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	ck_assert_int_eq(c.err, 0);
	printf("two vCPUs ran through %lu protect+release cycles in %u runs\n",
	       c.cycles, runs);
	ck_assert_uint_ge(c.cycles, 1);
}

START_TEST(two_vcpus_survive_recuts)
{
	struct bvm *vm = vm_new(2, false);

	survive_recuts(vm);
	bvm_free(vm);
}
END_TEST

/* With the re-cuts quiesced the system area (code, page tables, GDT)
 * may share the one slot that every protect and release re-cuts (a
 * budget of 4 slots: each change merges and re-cuts all of RAM): the
 * vCPUs are out of KVM_RUN whenever it is missing. */
START_TEST(two_vcpus_share_the_recut_slot_quiesced)
{
	struct bvm_cfg cfg = { .nr_cpus = 2, .slot_granule = 0,
			       .slot_budget = 4, .quiesce = true };
	struct bvm *vm = NULL;
	struct wpt_vm_stats st;

	ck_assert_int_eq(bvm_new(&cfg, &vm), 0);
	survive_recuts(vm);
	wpt_vm_stats(bvm_wpt(vm), &st, sizeof(st));
	ck_assert_uint_gt(st.quiesces, 0);
	ck_assert_uint_eq(st.gap_accesses, 0);
	printf("%llu quiesced re-cut windows, %llu slot ioctls\n",
	       (unsigned long long)st.quiesces,
	       (unsigned long long)st.slot_ops);
	bvm_free(vm);
}
END_TEST

START_TEST(bad_magic_is_refused)
{
	struct bvm *vm = vm_new(1, false);
	struct bench_params p = params_of(0, 10);
	struct bench_result res;
	struct bvm_cpu_stats st;

	p.magic ^= 1;
	run_ok(vm, &p, &res, &st);
	ck_assert_uint_eq(st.done_status, BENCH_E_PARAMS);
	ck_assert_uint_eq(res.status, BENCH_E_PARAMS);
	ck_assert_uint_eq(st.mmio_exits, 1);
	ck_assert_uint_eq(st.phase_ns[BENCH_PHASE_START], 0);
	bvm_free(vm);
}
END_TEST


static const struct bvm_cfg bad_cfgs[] = {
	{ .nr_cpus = 0 },
	{ .nr_cpus = 3 },
	{ .nr_cpus = 1, .slot_granule = 100 },
	{ .nr_cpus = 1, .slot_budget = 0xffff0 },
	/* Several vCPUs need the system area in chunks of its own. */
	{ .nr_cpus = 2, .slot_granule = 0 },
	{ .nr_cpus = 2, .slot_granule = 64ull << 20 },
	{ .nr_cpus = 2, .slot_granule = 3 * 4096 },
	/* userfaultfd: no slots to lay out, no forced step; blocking mode
	 * not at CPL0 (this host's KVM retries the interrupted fault) and
	 * not with the other mode */
	{ .nr_cpus = 1, .uffd = true, .slot_granule = 2 << 20 },
	{ .nr_cpus = 1, .uffd = true, .force_step = true, .cpl0 = true },
	{ .nr_cpus = 1, .uffd_block = true, .cpl0 = true },
	{ .nr_cpus = 1, .uffd_block = true, .uffd = true },
	{ .nr_cpus = 1, .quiesce = true, .uffd = true },
	{ .nr_cpus = 1, .quiesce = true, .uffd_block = true },
};

START_TEST(bad_cfg_refused)
{
	struct bvm *vm = NULL;

	ck_assert_int_eq(bvm_new(&bad_cfgs[_i], &vm), -EINVAL);
	ck_assert_ptr_null(vm);
}
END_TEST

START_TEST(slot_roundtrip_measured)
{
	struct bvm *vm = vm_new(1, false);
	uint64_t ns = 0;
	int ret = bvm_slot_roundtrip_ns(vm, 2ull << 20, 20, &ns);

	ck_assert_msg(ret == 0, "%d (%s)", ret, bvm_last_error(vm));
	ck_assert_uint_gt(ns, 0);
	printf("slot create+delete (2 MiB): %llu ns\n",
	       (unsigned long long)ns);
	ck_assert_int_eq(bvm_slot_roundtrip_ns(vm, 100, 1, &ns), -EINVAL);
	/* The guest still runs after: the spare slot did not disturb RAM. */
	{
		struct bench_params p = params_of(0, 2);
		struct bench_result res;
		struct bvm_cpu_stats st;

		run_ok(vm, &p, &res, &st);
		assert_cal_exit(&st, &res, 2, 0);
	}
	bvm_free(vm);
}
END_TEST

/* ---------------------------------------- a store the library traps */

/* A device that logs its last access and fails on demand. */
struct dev_log {
	unsigned int calls;
	unsigned int cpu;
	uint64_t gpa;
	uint64_t value;
	uint32_t len;
	bool is_write;
	int fail;
	uint8_t *scribble;     /* if set, written to once per call */
};

static int dev_mmio(void *opaque, unsigned int cpu, uint64_t gpa,
		    uint8_t *data, uint32_t len, bool is_write)
{
	struct dev_log *log = opaque;

	log->calls++;
	log->cpu = cpu;
	log->gpa = gpa;
	log->len = len;
	log->is_write = is_write;
	log->value = 0;
	if (is_write)
		memcpy(&log->value, data, len < 8 ? len : 8);
	else
		memset(data, 0, len);
	if (log->scribble)
		*log->scribble ^= 0xff;
	return log->fail;
}

/* A workload main.c does not run itself goes to the driver (work_main),
 * which may talk to its device first (here one that reads as zeros) but
 * must refuse the workload: the guest reports a non-zero status and
 * stops. */
START_TEST(unknown_workload_reports)
{
	struct dev_log log = { 0 };
	struct bvm_cfg cfg = { .nr_cpus = 1, .mmio = dev_mmio, .opaque = &log };
	struct bench_params p = params_of(0, 10);
	struct bench_result res;
	struct bvm_cpu_stats st;
	struct bvm *vm = NULL;

	ck_assert_int_eq(bvm_new(&cfg, &vm), 0);
	p.workload = 0x7777;
	run_ok(vm, &p, &res, &st);
	ck_assert_uint_ne(st.done_status, 0);
	ck_assert_uint_eq(res.status, st.done_status);
	bvm_free(vm);
}
END_TEST

/*
 * A TRAP domain rooted at a zeroed arena page makes the library protect
 * it; the guest's store there (CAL_EXIT with a seed) must exit, go through
 * wpt_vm_handle_mmio into RAM, and be diffed: the value is a level-0 table
 * descriptor, so the engine starts tracking (and protecting) the page it
 * points at.
 */
static void trapped_store_at(bool cpl0)
{
	const uint64_t root = BENCH_ARENA_GPA, next = BENCH_ARENA_GPA + PAGE;
	const uint64_t desc = next | 3; /* VMSAv8-64: table descriptor */
	struct bvm_cfg cfg = { .nr_cpus = 1, .cpl0 = cpl0,
			       .slot_granule = 2ull << 20 };
	struct wpt_format_cfg fmt = {
		.size = sizeof(fmt), .format = WPT_FMT_ARM_LPAE_S1,
		.granule = 4096, .ias = 48, .oas = 48, .sl = -1,
	};
	struct dev_log log = { 0 };
	struct bench_params p = params_of(0, 5);
	struct bench_result res;
	struct bvm_cpu_stats st;
	struct wpt_vm_stats ws;
	struct wpt_domain_stats ds;
	struct wpt_sink *sink;
	struct wpt_domain *d;
	struct bvm *vm = NULL;
	uint8_t *ram;
	uint64_t got;

	cfg.mmio = dev_mmio;
	cfg.opaque = &log;
	ck_assert_int_eq(bvm_new(&cfg, &vm), 0);
	ram = bvm_ram(vm);
	memset(ram + root, 0, 2 * PAGE);
	ck_assert_int_eq(wpt_sink_record_new(&sink), 0);
	ck_assert_int_eq(wpt_domain_new(bvm_wpt(vm), &fmt, sink,
					WPT_MODE_TRAP, &d), 0);
	ck_assert_int_eq(wpt_domain_set_root(d, root), 0);
	ck_assert_int_eq(wpt_vm_stats(bvm_wpt(vm), &ws, sizeof(ws)), 0);
	ck_assert_uint_eq(ws.protected_pages, 1);

	p.seed = desc;
	p.iova_base = root + 8 * 5;
	run_ok(vm, &p, &res, &st);
	assert_cal_exit(&st, &res, 5, 1);
	ck_assert_uint_eq(log.calls, 0);
	memcpy(&got, ram + root + 8 * 5, sizeof(got));
	ck_assert_uint_eq(got, desc);

	ck_assert_int_eq(wpt_vm_stats(bvm_wpt(vm), &ws, sizeof(ws)), 0);
	ck_assert_uint_eq(ws.exits_handled, 1);
	ck_assert_uint_eq(ws.tracked_tables, 2);
	ck_assert_uint_eq(ws.protected_pages, 2);
	ck_assert_int_eq(wpt_domain_stats(d, &ds, sizeof(ds)), 0);
	ck_assert_uint_eq(ds.writes, 1);
	ck_assert_uint_eq(ds.descs_changed, 1);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	ck_assert_int_eq(wpt_domain_error(d), 0);
	printf("trapped store at %s: %llu ns in the library\n",
	       cpl0 ? "CPL0" : "CPL3", (unsigned long long)st.lib_ns);

	/* The newly protected page traps too, and an unprotected arena page
	 * does not. */
	p.seed = 0x1230; /* invalid: bit 0 clear */
	p.iova_base = next;
	run_ok(vm, &p, &res, &st);
	assert_cal_exit(&st, &res, 5, 1);
	p.iova_base = next + PAGE;
	run_ok(vm, &p, &res, &st);
	assert_cal_exit(&st, &res, 5, 0);
	memcpy(&got, ram + next + PAGE, sizeof(got));
	ck_assert_uint_eq(got, 0x1230);

	wpt_domain_free(d);
	wpt_sink_free(sink);
	bvm_free(vm);
}

START_TEST(trapped_store_reaches_library_cpl3)
{
	trapped_store_at(false);
}
END_TEST

START_TEST(trapped_store_reaches_library_cpl0)
{
	trapped_store_at(true);
}
END_TEST

/* CAL_EXIT's seed store aimed at a device register of the vCPU's own SMMU
 * page (not a harness register) goes to cfg->mmio with its data. */
START_TEST(device_store_reaches_cfg_mmio)
{
	struct dev_log log = { 0 };
	struct bvm_cfg cfg = { .nr_cpus = 1, .mmio = dev_mmio, .opaque = &log };
	struct bench_params p = params_of(0, 4);
	struct bench_result res;
	struct bvm_cpu_stats st;
	struct bvm *vm = NULL;

	ck_assert_int_eq(bvm_new(&cfg, &vm), 0);
	p.seed = 0x1122334455667788ull;
	p.iova_base = BENCH_MMIO_GPA(0) + SMMU_R_CMDQ_BASE;
	run_ok(vm, &p, &res, &st);
	ck_assert_uint_eq(log.calls, 1);
	ck_assert_uint_eq(log.cpu, 0);
	ck_assert_uint_eq(log.gpa, p.iova_base);
	ck_assert_uint_eq(log.len, 8);
	ck_assert(log.is_write);
	ck_assert_uint_eq(log.value, p.seed);
	ck_assert_uint_eq(st.dev_exits, 1);
	ck_assert_uint_eq(st.dev_exits_at_phase[BENCH_PHASE_START], 1);
	ck_assert_uint_eq(st.mmio_exits, 4 + 3 + 1);
	/* Another vCPU's NOP register is no harness register of this one. */
	p.iova_base = BENCH_MMIO_GPA(1) + SMMU_R_NOP;
	run_ok(vm, &p, &res, &st);
	ck_assert_uint_eq(log.calls, 2);
	ck_assert_uint_eq(log.gpa, p.iova_base);
	ck_assert_uint_eq(st.harness_exits, 4 + 3);
	/* A handler's error stops the vCPU and says where. */
	log.fail = -EIO;
	ck_assert_int_eq(bvm_run(vm, &p, &res, &st), -EIO);
	ck_assert_ptr_nonnull(strstr(bvm_last_error(vm), "device"));
	ck_assert_ptr_nonnull(strstr(bvm_last_error(vm), "0xd0001030"));
	ck_assert_uint_eq(st.done_status, 0);
	ck_assert_uint_eq(st.harness_exits, 0);
	/* And the next run starts clean. */
	log.fail = 0;
	p.seed = 0;
	run_ok(vm, &p, &res, &st);
	assert_cal_exit(&st, &res, 4, 0);
	bvm_free(vm);
}
END_TEST

START_TEST(device_store_without_handler_fails)
{
	struct bvm *vm = vm_new(1, false);
	struct bench_params p = params_of(0, 4);
	struct bvm_cpu_stats st;

	p.seed = 1;
	p.iova_base = BENCH_MMIO_GPA(0) + SMMU_R_REQ;
	ck_assert_int_eq(bvm_run(vm, &p, NULL, &st), -EFAULT);
	ck_assert_ptr_nonnull(strstr(bvm_last_error(vm), "cpu 0"));
	ck_assert_ptr_nonnull(strstr(bvm_last_error(vm), "0xd0000020"));
	ck_assert_uint_eq(st.mmio_exits, 1);
	bvm_free(vm);
}
END_TEST

/* A store past the 4 GiB the page tables map faults; with no IDT that is
 * a triple fault, reported with the guest's RIP in the image. */
static void guest_fault_at(bool cpl0)
{
	struct bvm *vm = vm_new(1, cpl0);
	struct bench_params p = params_of(0, 4);
	struct bvm_cpu_stats st;

	p.seed = 1;
	p.iova_base = 5ull << 30;
	ck_assert_int_eq(bvm_run(vm, &p, NULL, &st), -EIO);
	printf("guest fault at %s: %s\n", cpl0 ? "CPL0" : "CPL3",
	       bvm_last_error(vm));
	ck_assert_ptr_nonnull(strstr(bvm_last_error(vm), "SHUTDOWN"));
	/* The faulting RIP is in the guest image (0x1xxxxx), except on SVM,
	 * where KVM resets the vCPU on a shutdown and the VMM says so. */
	ck_assert_msg(strstr(bvm_last_error(vm), "rip 0x1") ||
		      strstr(bvm_last_error(vm), "state reset by KVM (SVM)"),
		      "%s", bvm_last_error(vm));
	ck_assert_uint_eq(st.mmio_exits, 0);
	/* The VM is still usable: the next run resets the vCPU. */
	p.seed = 0;
	{
		struct bench_result res;

		run_ok(vm, &p, &res, &st);
		assert_cal_exit(&st, &res, 4, 0);
	}
	bvm_free(vm);
}

START_TEST(guest_fault_reported_cpl3)
{
	guest_fault_at(false);
}
END_TEST

START_TEST(guest_fault_reported_cpl0)
{
	guest_fault_at(true);
}
END_TEST

/* The guest cannot reach below the arena on purpose, so the device
 * callback plays a stack overflow: it scribbles on the lowest stack bytes
 * while the vCPU runs. */
START_TEST(stack_overflow_detected)
{
	struct dev_log log = { 0 };
	struct bvm_cfg cfg = { .nr_cpus = 1, .mmio = dev_mmio, .opaque = &log };
	struct bench_params p = params_of(0, 2);
	struct bench_result res;
	struct bvm_cpu_stats st;
	struct bvm *vm = NULL;

	ck_assert_int_eq(bvm_new(&cfg, &vm), 0);
	p.seed = 1;
	p.iova_base = BENCH_MMIO_GPA(0) + SMMU_R_ID;
	log.scribble = bvm_ram(vm) + BENCH_CPU_GPA(0) + BENCH_OFF_CMDQ +
		       (16 << BENCH_CMDQ_LOG2) + 100;
	ck_assert_int_eq(bvm_run(vm, &p, &res, &st), -EOVERFLOW);
	ck_assert_ptr_nonnull(strstr(bvm_last_error(vm), "stack overflow"));
	ck_assert_uint_eq(st.done_status, 0); /* the guest itself finished */
	log.scribble = NULL;
	run_ok(vm, &p, &res, &st);
	bvm_free(vm);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bench_vmm");
	TCase *tc = tcase_create("vmm");
	SRunner *sr;
	int failed;

	kvm_require();
	setvbuf(stdout, NULL, _IOLBF, 0);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, boots_and_calibrates_cpl3);
	tcase_add_test(tc, boots_and_calibrates_cpl0);
	tcase_add_test(tc, two_vcpus_each_their_params);
	tcase_add_test(tc, phase_hook_called_per_mark);
	tcase_add_test(tc, two_vcpus_survive_recuts);
	tcase_add_test(tc, two_vcpus_share_the_recut_slot_quiesced);
	tcase_add_test(tc, bad_magic_is_refused);
	tcase_add_test(tc, unknown_workload_reports);
	tcase_add_loop_test(tc, bad_cfg_refused, 0,
			    sizeof(bad_cfgs) / sizeof(bad_cfgs[0]));
	tcase_add_test(tc, slot_roundtrip_measured);
	tcase_add_test(tc, device_store_reaches_cfg_mmio);
	tcase_add_test(tc, device_store_without_handler_fails);
	tcase_add_test(tc, stack_overflow_detected);
	tcase_add_test(tc, guest_fault_reported_cpl3);
	tcase_add_test(tc, guest_fault_reported_cpl0);
	tcase_add_test(tc, trapped_store_reaches_library_cpl3);
	tcase_add_test(tc, trapped_store_reaches_library_cpl0);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
