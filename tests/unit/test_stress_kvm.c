/* SPDX-License-Identifier: MIT */
/*
 * Concurrency stress on the real /dev/kvm: the bench guest on two vCPUs
 * (each its own SMMU, domain and arena, as test_bench_guest's mt run, with
 * more operations) while a third thread keeps reading wpt_vm_stats and
 * wpt_domain_stats and verifying both domains with wpt_domain_verify.
 * Under TRAP and HYBRID every verify must pass even mid-run: the guest's
 * table stores all trap, so a walk under the VM lock always sees what the
 * shadow holds (HYBRID's pending removals are allowed by verify).  Under
 * INVAL the guest's tables run ahead of its invalidations, so mid-run
 * verifies are only made, not judged.  At the end: every vCPU finished
 * cleanly, every domain verifies, the SMMUs agree, no errors anywhere.
 * Built with TSAN=1 this is ThreadSanitizer's view of real vCPU threads.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wpt.h"
#include "wpt_internal.h"
#include "../../bench/smmu/smmu.h"
#include "../../bench/vmm/vmm.h"
#include "kvm/skip.h"

#define NR_CPUS 2
#define IOVA_BASE 0x100000000ull
#define GRANULE (2ull << 20)

struct run {
	enum bench_strategy s;
	const char *name;
	enum bench_workload w;
	uint64_t ops;
	struct bvm *vm;
	struct smmu *smmu[NR_CPUS];
	struct wpt_sink *sink[NR_CPUS];
	struct wpt_domain *dom[NR_CPUS]; /* atomic: set at PHASE_START */
	int done;                        /* atomic: the vCPUs stopped */
	/* the checker's findings */
	uint64_t verifies, stats_reads, bad_verifies, max_exits_seen;
	long first_bad;
	int stats_err;
};

static int on_mmio(void *opaque, unsigned int cpu, uint64_t gpa,
		   uint8_t *data, uint32_t len, bool is_write)
{
	struct run *r = opaque;

	if (cpu >= NR_CPUS || gpa < BENCH_MMIO_GPA(cpu) ||
	    gpa - BENCH_MMIO_GPA(cpu) >= BENCH_MMIO_SIZE)
		return -EFAULT;
	return smmu_mmio(r->smmu[cpu], gpa - BENCH_MMIO_GPA(cpu), data, len,
			 is_write);
}

/* On the vCPU's thread: once the domain exists, the checker may use it
 * (it lives until smmu_free, after the run). */
static void on_phase(void *opaque, unsigned int cpu, unsigned int phase)
{
	struct run *r = opaque;

	if (cpu < NR_CPUS && phase == BENCH_PHASE_START)
		__atomic_store_n(&r->dom[cpu], smmu_domain(r->smmu[cpu]),
				 __ATOMIC_RELEASE);
}

static void *checker(void *o)
{
	struct run *r = o;
	bool judge = r->s != BENCH_S_INVAL;

	while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
		struct wpt_vm_stats vs;
		unsigned int c;

		if (wpt_vm_stats(bvm_wpt(r->vm), &vs, sizeof(vs)))
			r->stats_err = 1;
		r->stats_reads++;
		if (vs.exits_handled > r->max_exits_seen)
			r->max_exits_seen = vs.exits_handled;
		for (c = 0; c < NR_CPUS; c++) {
			struct wpt_domain *d =
				__atomic_load_n(&r->dom[c], __ATOMIC_ACQUIRE);
			struct wpt_domain_stats ds;
			long v;

			if (!d)
				continue;
			if (wpt_domain_stats(d, &ds, sizeof(ds)))
				r->stats_err = 1;
			v = wpt_domain_verify(d);
			r->verifies++;
			if (v < 0 || (judge && v != 0)) {
				if (!r->bad_verifies++)
					r->first_bad = v;
			}
		}
		usleep(500);
	}
	return NULL;
}

static void params_for(const struct run *r, unsigned int cpu,
		       struct bench_params *p)
{
	uint64_t arena = BENCH_ARENA_SIZE / NR_CPUS;

	memset(p, 0, sizeof(*p));
	p->magic = BENCH_PARAMS_MAGIC;
	p->cpu = cpu;
	p->workload = r->w;
	p->strategy = r->s;
	p->lazy = 1;
	p->asid = 1 + cpu;
	p->seed = 11 + cpu;
	p->window_pages = 64;
	p->arena_gpa = BENCH_ARENA_GPA + cpu * arena;
	p->arena_size = arena;
	p->data_gpa = BENCH_DATA_GPA;
	p->data_size = BENCH_DATA_SIZE;
	p->mmio_gpa = BENCH_MMIO_GPA(cpu);
	p->iova_base = IOVA_BASE;
	p->ias = 48;
	p->ops = r->ops;
}

static void run_one(enum bench_strategy s, const char *name,
		    enum bench_workload w, uint64_t ops)
{
	struct run r = { .s = s, .name = name, .w = w, .ops = ops };
	struct bvm_cfg vc = {
		.nr_cpus = NR_CPUS, .slot_granule = GRANULE,
		.mmio = on_mmio, .phase = on_phase, .opaque = &r,
	};
	struct bench_params p[NR_CPUS];
	struct bench_result res[NR_CPUS];
	struct bvm_cpu_stats st[NR_CPUS];
	struct wpt_vm_stats vs;
	struct timespec t0, t1;
	pthread_t ct;
	unsigned int c;
	int ret;

	ret = bvm_new(&vc, &r.vm);
	ck_assert_msg(ret == 0, "bvm_new: %s", strerror(-ret));
	for (c = 0; c < NR_CPUS; c++) {
		struct smmu_cfg sc = {
			.vm = bvm_wpt(r.vm), .ram = bvm_ram(r.vm),
			.ram_gpa = 0, .ram_size = BENCH_RAM_SIZE,
			.strategy = s, .oas = 48,
		};

		ck_assert_int_eq(wpt_sink_record_new(&r.sink[c]), 0);
		sc.sink = r.sink[c];
		ck_assert_int_eq(smmu_new(&sc, &r.smmu[c]), 0);
		params_for(&r, c, &p[c]);
	}
	ck_assert_int_eq(pthread_create(&ct, NULL, checker, &r), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = bvm_run(r.vm, p, res, st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	__atomic_store_n(&r.done, 1, __ATOMIC_RELEASE);
	ck_assert_int_eq(pthread_join(ct, NULL), 0);
	ck_assert_msg(ret == 0, "%s: bvm_run: %d (%s)", name, ret,
		      bvm_last_error(r.vm));

	ck_assert_int_eq(r.stats_err, 0);
	ck_assert_msg(r.bad_verifies == 0,
		      "%s: %llu of %llu verifies during the run failed, the "
		      "first with %ld", name,
		      (unsigned long long)r.bad_verifies,
		      (unsigned long long)r.verifies, r.first_bad);
	/* The checker really ran alongside the guest. */
	ck_assert_uint_gt(r.verifies, 10);
	for (c = 0; c < NR_CPUS; c++) {
		struct wpt_domain *d = smmu_domain(r.smmu[c]);
		struct smmu_stats ss;

		ck_assert_msg(st[c].done_status == 0 && res[c].status == 0,
			      "%s cpu %u: guest status %llu", name, c,
			      (unsigned long long)res[c].status);
		ck_assert_msg(smmu_verify(r.smmu[c]) == 0, "%s cpu %u: %s",
			      name, c, smmu_last_error(r.smmu[c]));
		ck_assert_ptr_nonnull(d);
		ck_assert_int_eq(wpt_domain_error(d), 0);
		if (s != BENCH_S_TRAP)
			ck_assert_int_eq(wpt_domain_invalidate_all(d), 0);
		ck_assert_int_eq(wpt_domain_verify(d), 0);
		smmu_stats(r.smmu[c], &ss);
		ck_assert(!ss.domain_errors && !ss.cmd_errors);
		if (w == BENCH_W_CHURN)
			ck_assert_uint_eq(res[c].maps + res[c].unmaps, ops);
		else
			ck_assert_uint_eq(res[c].maps, ops);
		/* Between the marks the library took exactly the guest's
		 * table stores (INVAL: none). */
		ck_assert_uint_eq(st[c].lib_exits_at_phase[BENCH_PHASE_END] -
					  st[c].lib_exits_at_phase[BENCH_PHASE_START],
				  s == BENCH_S_INVAL ? 0 : res[c].leaf_stores);
	}
	ck_assert_int_eq(wpt_vm_stats(bvm_wpt(r.vm), &vs, sizeof(vs)), 0);
	ck_assert_uint_eq(vs.errors, 0);
	ck_assert_uint_eq(vs.out_of_ram, 0);
	printf("%-6s %-8s: %.2f s, %llu + %llu trapped stores, %llu verifies "
	       "and %llu stats reads alongside\n", name,
	       w == BENCH_W_CHURN ? "churn" : "stream4k",
	       (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       (unsigned long long)st[0].lib_exits,
	       (unsigned long long)st[1].lib_exits,
	       (unsigned long long)r.verifies,
	       (unsigned long long)r.stats_reads);
	for (c = 0; c < NR_CPUS; c++) {
		smmu_free(r.smmu[c]);
		wpt_sink_free(r.sink[c]);
	}
	bvm_free(r.vm);
}

static const struct {
	enum bench_strategy s;
	const char *name;
} strategies[] = {
	{ BENCH_S_TRAP, "trap" },
	{ BENCH_S_HYBRID, "hybrid" },
	{ BENCH_S_INVAL, "inval" },
};

START_TEST(two_vcpus_churn)
{
	run_one(strategies[_i].s, strategies[_i].name, BENCH_W_CHURN,
		kvm_scaled_ops(1200));
}
END_TEST

START_TEST(two_vcpus_stream)
{
	run_one(strategies[_i].s, strategies[_i].name, BENCH_W_STREAM4K,
		kvm_scaled_ops(600));
}
END_TEST

int main(void)
{
	Suite *su = suite_create("stress_kvm");
	TCase *tc = tcase_create("two_vcpus");
	SRunner *sr;
	int failed;

	kvm_require();
	setvbuf(stdout, NULL, _IOLBF, 0);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, two_vcpus_churn, 0, 3);
	tcase_add_loop_test(tc, two_vcpus_stream, 0, 3);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
