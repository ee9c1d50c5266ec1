/* SPDX-License-Identifier: MIT */
/*
 * The single-step path (wpt_vm_step_begin/end) on the real /dev/kvm.
 *
 * force_step (bench/vmm/vmm.h): every trapped store of the guest workloads is
 * not handed to wpt_vm_handle_mmio with its data but run again for real
 * (RIP put back, page made writable, one KVM_GUESTDBG_SINGLESTEP, page
 * protected and diffed), as an arm64 VMM must for a KVM_EXIT_ARM_NISV.
 * stream4k, split, churn and bulk2m under TRAP and HYBRID and the
 * BENCH_W_EDGES stores (cmpxchg installs, 4-byte halves, a store crossing
 * out of a table page), at CPL0 (single-step does not trap at CPL3 on the
 * nested test machines), each with the shadow verified at every PHASE_MID
 * and at the end, every store stepped and none handed over with data.
 *
 * The same workloads under the userfaultfd backend (bvm_cfg.uffd): no
 * read-only memslot at all, table pages write-protected in the VMM's page
 * tables.  KVM cannot make a store there, emulates it and exits with its
 * data as for a read-only slot; a lock cmpxchg (the guest's table
 * installs) it cannot emulate there at all (KVM_EXIT_INTERNAL_ERROR), so
 * the VMM single-steps it.  Each run is checked the same way and against
 * the MMIO run: the same stores, maps and unmaps, no memslot ioctl.
 *
 * Then a store KVM's x86 emulator refuses: a lock cmpxchg16b
 * (BENCH_W_CAL_CX16) writing two descriptors of a protected table (what
 * this machine does with it: see cmpxchg16b_cpl0_refused_through_step).
 *
 * The log gives the cost of a stepped store against an MMIO-exit store
 * (the same workload run both ways).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wpt.h"
#include "wpt_internal.h"
#include "../../bench/smmu/smmu.h"
#include "../../bench/vmm/probe.h"
#include "../../bench/vmm/vmm.h"
#include "kvm/skip.h"

#define MIB (1ull << 20)
#define PAGE 4096ull
#define BLOCK (2ull << 20)
#define IOVA_BASE 0x100000000ull
#define GRANULE (2ull << 20)
/* A trial of 4 stream pairs takes well under a second on kvm_pvm and a few
 * seconds in make check-kvm's nested guest. */
#define MODE_TRIAL_MS 30000

struct workload {
	const char *name;
	enum bench_workload w;
	uint64_t ops;   /* stream pairs, churn ops */
	uint64_t bulk;  /* bulk, split: bytes */
	unsigned int mids;
};

/* CPL0 code is interpreted (~300 ns an instruction): keep them short. */
static const struct workload workloads[] = {
	{ "stream4k", BENCH_W_STREAM4K, 30, 0, 0 },
	{ "split", BENCH_W_SPLIT, 0, 4 * MIB, 1 },
	{ "churn", BENCH_W_CHURN, 60, 0, 0 },
	{ "bulk2m", BENCH_W_BULK2M, 0, 8 * MIB, 1 },
	{ "edges", BENCH_W_EDGES, 0, 0, 4 },
};
#define NR_WORKLOADS 5

/* How trapped stores reach the library. */
enum mode {
	MODE_MMIO,  /* read-only memslots; KVM hands each store over */
	MODE_FORCE, /* read-only memslots; each store stepped (force_step) */
	MODE_UFFD,  /* userfaultfd write-protect; stores handed over, locked
		     * ones stepped */
	MODE_UFFD_BLOCK, /* userfaultfd, blocking; kicked, run to the next
			  * exit (CPL3) */
};
static const char *const mode_names[] = { "", " force_step", " uffd",
					  " uffd-block" };

struct run {
	const struct workload *w;
	enum bench_strategy s;
	enum mode mode;
	struct bvm *vm;
	struct smmu *smmu;
	struct wpt_sink *sink;
	struct bench_params p;
	struct bench_result res;
	struct bvm_cpu_stats st;
	struct wpt_vm_stats at_start, at_end;
	unsigned int mids;
	long mid_verify;   /* first nonzero wpt_domain_verify at a MID */
	uint64_t ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int on_mmio(void *opaque, unsigned int cpu, uint64_t gpa,
		   uint8_t *data, uint32_t len, bool is_write)
{
	struct run *r = opaque;

	if (cpu || !r->smmu || gpa < BENCH_MMIO_GPA(0) ||
	    gpa - BENCH_MMIO_GPA(0) >= BENCH_MMIO_SIZE)
		return -EFAULT;
	return smmu_mmio(r->smmu, gpa - BENCH_MMIO_GPA(0), data, len,
			 is_write);
}

static void on_phase(void *opaque, unsigned int cpu, unsigned int phase)
{
	struct run *r = opaque;
	struct wpt_domain *d = r->smmu ? smmu_domain(r->smmu) : NULL;

	if (phase == BENCH_PHASE_START)
		wpt_vm_stats(bvm_wpt(r->vm), &r->at_start, sizeof(r->at_start));
	if (phase == BENCH_PHASE_END)
		wpt_vm_stats(bvm_wpt(r->vm), &r->at_end, sizeof(r->at_end));
	if (phase != BENCH_PHASE_MID)
		return;
	r->mids++;
	if (d && !r->mid_verify)
		r->mid_verify = wpt_domain_verify(d);
}

/* Build r's VM, SMMU and sink and run w under s in mode: 0, or the
 * first error (r->vm's message says more).  No assertion: a trial in a
 * child process (mode_trial) runs it too. */
static int run_start(struct run *r, const struct workload *w,
		     enum bench_strategy s, enum mode mode)
{
	struct bvm_cfg vc = {
		.nr_cpus = 1, .cpl0 = mode != MODE_UFFD_BLOCK,
		.slot_granule = mode >= MODE_UFFD ? 0 : GRANULE,
		.force_step = mode == MODE_FORCE, .uffd = mode == MODE_UFFD,
		.uffd_block = mode == MODE_UFFD_BLOCK,
		.mmio = on_mmio, .phase = on_phase, .opaque = r,
	};
	struct smmu_cfg sc = {
		.ram_gpa = 0, .ram_size = BENCH_RAM_SIZE, .strategy = s,
		.oas = 48,
	};
	struct bench_params *p = &r->p;
	uint64_t t0;
	int ret;

	r->w = w;
	r->s = s;
	r->mode = mode;
	ret = bvm_new(&vc, &r->vm) ?: wpt_sink_record_new(&r->sink);
	if (ret)
		return ret;
	sc.vm = bvm_wpt(r->vm);
	sc.ram = bvm_ram(r->vm);
	sc.sink = r->sink;
	ret = smmu_new(&sc, &r->smmu);
	if (ret)
		return ret;
	p->magic = BENCH_PARAMS_MAGIC;
	p->workload = w->w;
	p->strategy = s;
	p->lazy = 1;
	p->asid = 1;
	p->seed = 1;
	p->window_pages = 64;
	p->bulk_bytes = w->bulk;
	p->arena_gpa = BENCH_ARENA_GPA;
	p->arena_size = BENCH_ARENA_SIZE;
	p->data_gpa = BENCH_DATA_GPA;
	p->data_size = BENCH_DATA_SIZE;
	p->mmio_gpa = BENCH_MMIO_GPA(0);
	p->iova_base = IOVA_BASE;
	p->ias = 48;
	p->ops = w->bulk ? w->bulk / BLOCK : w->ops;
	t0 = now_ns();
	ret = bvm_run(r->vm, p, &r->res, &r->st);
	r->ns = now_ns() - t0;
	return ret;
}

static struct run *run_workload(const struct workload *w,
				enum bench_strategy s, enum mode mode)
{
	struct run *r = calloc(1, sizeof(*r));
	int ret;

	ck_assert_ptr_nonnull(r);
	ret = run_start(r, w, s, mode);
	ck_assert_msg(ret == 0, "%s/%s%s: %d (%s)", w->name,
		      s == BENCH_S_TRAP ? "trap" : "hybrid", mode_names[mode],
		      ret, r->vm ? bvm_last_error(r->vm) : strerror(-ret));
	return r;
}

static void run_free(struct run *r)
{
	smmu_free(r->smmu);
	wpt_sink_free(r->sink);
	bvm_free(r->vm);
	free(r);
}

/*
 * The userfaultfd modes need what only some KVMs do (wpt.h): SIGBUS mode
 * a KVM that emulates a store it cannot make, BLOCK mode one that returns
 * -EINTR from a fault blocked on userfaultfd when the vCPU is signalled.
 * Debian's 6.1 KVM on SVM (make check-kvm's nested guest) does neither:
 * its KVM_RUN retries the SIGBUS store for good, and the BLOCK kick is
 * not heeded.  Try a short stream4k in a child process, bounded, before
 * the real runs, so a KVM without it gets a SKIP with the reason instead
 * of a test that hangs to its timeout.
 */
static int mode_trial(void *arg, char *why, size_t len)
{
	static const struct workload trial = { "trial", BENCH_W_STREAM4K, 4,
					       0, 0 };
	struct run r = { 0 };
	int ret = run_start(&r, &trial, BENCH_S_TRAP, *(enum mode *)arg);

	snprintf(why, len, "%s", r.vm ? bvm_last_error(r.vm) :
		 strerror(-ret));
	return ret;
}

/* 1 when mode works on this KVM, else 0 after a SKIP line saying why. */
static int mode_works(enum mode mode, const char *tests)
{
	char why[256] = "";
	int ret = bench_probe(mode_trial, &mode, MODE_TRIAL_MS, why,
			      sizeof(why));

	if (ret == 0)
		return 1;
	printf("SKIP: %s (%s mode): this KVM cannot serve it: %s (%s)\n",
	       tests, mode_names[mode] + 1, why, strerror(-ret));
	return 0;
}

static void check_run(const struct run *r, const char *who)
{
	const struct bvm_cpu_stats *st = &r->st;
	struct wpt_domain *d = smmu_domain(r->smmu);
	struct wpt_vm_stats vs;
	struct smmu_stats ss;
	uint64_t lib;
	int ret;

	ck_assert_msg(st->done_status == 0 && r->res.status == 0,
		      "%s: guest status %llu", who,
		      (unsigned long long)r->res.status);
	ck_assert_uint_eq(r->mids, r->w->mids);
	ck_assert_msg(r->mid_verify == 0, "%s: verify at a MID: %ld", who,
		      r->mid_verify);
	ret = smmu_verify(r->smmu);
	ck_assert_msg(ret == 0, "%s: smmu_verify %d: %s", who, ret,
		      smmu_last_error(r->smmu));
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(wpt_domain_error(d), 0);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	smmu_stats(r->smmu, &ss);
	ck_assert_msg(!ss.domain_errors && !ss.cmd_errors && !ss.req_errors,
		      "%s: smmu errors (%s)", who, smmu_last_error(r->smmu));
	ck_assert_int_eq(wpt_vm_stats(bvm_wpt(r->vm), &vs, sizeof(vs)), 0);
	ck_assert_uint_eq(vs.errors, 0);
	lib = st->lib_exits_at_phase[BENCH_PHASE_END] -
	      st->lib_exits_at_phase[BENCH_PHASE_START];
	/* uffd: the locked stores KVM could not emulate were stepped. */
	if (r->mode == MODE_UFFD)
		lib += r->at_end.steps - r->at_start.steps;
	ck_assert_uint_gt(r->res.leaf_stores, 0);
	/* uffd-block: a step runs to the next exit and may take several
	 * stores to its page along. */
	ck_assert_msg(r->mode == MODE_UFFD_BLOCK ?
		      lib > 0 && lib <= r->res.leaf_stores :
		      lib == r->res.leaf_stores,
		      "%s: library took %llu stores, guest made %llu", who,
		      (unsigned long long)lib,
		      (unsigned long long)r->res.leaf_stores);
	if (r->mode == MODE_FORCE) {
		/* Every store went through the step path; none came with
		 * its data to wpt_vm_handle_mmio. */
		ck_assert_uint_eq(st->step_fallbacks, 0);
		ck_assert_uint_eq(st->steps, st->lib_exits);
		ck_assert_uint_eq(vs.steps, st->steps);
		ck_assert_uint_eq(r->at_end.exits_handled -
					  r->at_start.exits_handled, 0);
		ck_assert_uint_eq(vs.exits_handled, 0);
	} else if (r->mode == MODE_UFFD_BLOCK) {
		/* Every trapped store blocked, was read, kicked and
		 * stepped; nothing came as an MMIO exit, nothing was lifted
		 * for the VMM, no memslot changed. */
		ck_assert_uint_eq(st->steps, st->lib_exits);
		ck_assert_uint_ge(vs.uffd_faults, vs.uffd_kicks);
		ck_assert_uint_ge(vs.uffd_kicks, st->uffd_steps);
		ck_assert_uint_gt(st->uffd_steps, 0);
		ck_assert_uint_eq(vs.exits_handled, 0);
		ck_assert_uint_eq(vs.uffd_lifts, 0);
		ck_assert_uint_eq(vs.slot_ops, 0);
	} else if (r->mode == MODE_UFFD) {
		/* Stores came with their data; only the locked ones KVM
		 * could not emulate were stepped.  Protection never touched
		 * a memslot. */
		ck_assert_uint_eq(st->steps, st->step_refused);
		ck_assert_uint_eq(vs.steps, st->steps);
		ck_assert_uint_eq(vs.slot_ops, 0);
		ck_assert_uint_gt(vs.wp_ops, 2 * lib);
		ck_assert_uint_eq(vs.uffd_lifts, 0);
		ck_assert_uint_eq(st->step_fallbacks, 0);
	} else {
		ck_assert_uint_eq(st->steps, 0);
		ck_assert_uint_eq(vs.steps, 0);
		ck_assert_uint_eq(vs.wp_ops, 0);
	}
}

/*
 * Loop index i: workload i / 2, HYBRID if odd.  Run it in mode and the
 * plain MMIO way, check both, and that they did the same work and left
 * the same mappings.  *mmio gets the second run.
 */
static struct run *run_pair(int i, enum mode mode, struct run **mmio)
{
	const struct workload *w = &workloads[i / 2];
	enum bench_strategy s = i % 2 ? BENCH_S_HYBRID : BENCH_S_TRAP;
	struct run *r = run_workload(w, s, mode);
	struct run *m = run_workload(w, s, MODE_MMIO);
	char who[64];

	snprintf(who, sizeof(who), "%s/%s%s", w->name,
		 s == BENCH_S_TRAP ? "trap" : "hybrid", mode_names[mode]);
	check_run(r, who);
	check_run(m, who);
	ck_assert_uint_eq(r->res.leaf_stores, m->res.leaf_stores);
	ck_assert_uint_eq(r->res.maps, m->res.maps);
	ck_assert_uint_eq(r->res.unmaps, m->res.unmaps);
	*mmio = m;
	return r;
}

START_TEST(workload_stepped)
{
	struct run *m, *f = run_pair(_i, MODE_FORCE, &m);
	const struct workload *w = f->w;
	enum bench_strategy s = f->s;
	double step_us, mmio_us;

	/* Library-side time per store: the stepped one includes its extra
	 * KVM_RUN and the two slot re-cuts; both leave out the exit that
	 * brought the store (the same for both). */
	step_us = (double)f->st.step_ns / (double)f->st.steps / 1e3;
	mmio_us = (double)m->st.lib_ns / (double)m->st.lib_exits / 1e3;
	printf("%-8s %-6s cpl0: %4llu stores; stepped %6.1f us each "
	       "(begin + step + end, %4.1f slot ops each), handed over "
	       "%6.1f us each; runs %.0f / %.0f ms\n", w->name,
	       s == BENCH_S_TRAP ? "trap" : "hybrid",
	       (unsigned long long)f->st.steps, step_us,
	       (double)(f->at_end.slot_ops - f->at_start.slot_ops) /
		       (double)f->st.steps,
	       mmio_us, (double)f->ns / 1e6, (double)m->ns / 1e6);
	run_free(f);
	run_free(m);
}
END_TEST

/* The userfaultfd backend against memslots. */
START_TEST(workload_uffd)
{
	struct run *m, *u = run_pair(_i, MODE_UFFD, &m);
	const struct workload *w = u->w;
	enum bench_strategy s = u->s;
	printf("%-8s %-6s cpl0: %4llu stores handed over, %3llu locked ones stepped; "
	       "uffd %6.1f us/store in the library (%4.1f wp ioctls), "
	       "memslots %6.1f us (%4.1f slot ioctls); runs %.0f / %.0f ms\n",
	       w->name, s == BENCH_S_TRAP ? "trap" : "hybrid",
	       (unsigned long long)u->st.lib_exits,
	       (unsigned long long)u->st.steps,
	       (double)u->st.lib_ns / (double)u->st.lib_exits / 1e3,
	       (double)(u->at_end.wp_ops - u->at_start.wp_ops) /
		       (double)u->st.lib_exits,
	       (double)m->st.lib_ns / (double)m->st.lib_exits / 1e3,
	       (double)(m->at_end.slot_ops - m->at_start.slot_ops) /
		       (double)m->st.lib_exits,
	       (double)u->ns / 1e6, (double)m->ns / 1e6);
	run_free(u);
	run_free(m);
}
END_TEST

/*
 * WPT_UFFD_BLOCK at CPL3: every store to a table page blocks the vCPU in
 * KVM, the service thread reads the fault and kicks the vCPU, KVM_RUN
 * returns -EINTR and the vCPU steps the store.  At CPL3 this host cannot
 * single-step, so the step runs to the next exit (bench/vmm/vmm.h): the
 * shadow is checked at every MID exit and at the end.
 */
START_TEST(workload_uffd_block)
{
	struct run *m, *u = run_pair(_i, MODE_UFFD_BLOCK, &m);

	printf("%-8s %-6s cpl3: %4llu stores blocked and kicked, %4llu "
	       "guest stores; %6.1f us each from kick to step end; "
	       "runs %.0f ms (cpl3) / %.0f ms (memslots, cpl0)\n",
	       u->w->name, u->s == BENCH_S_TRAP ? "trap" : "hybrid",
	       (unsigned long long)u->st.uffd_steps,
	       (unsigned long long)u->res.leaf_stores,
	       (double)u->st.step_ns / (double)u->st.steps / 1e3,
	       (double)u->ns / 1e6, (double)m->ns / 1e6);
	run_free(u);
	run_free(m);
}
END_TEST

/* ---- a store KVM's emulator refuses: lock cmpxchg16b ---- */

#define CX_ROOT (BENCH_ARENA_GPA + 0x0000)
#define CX_L1 (BENCH_ARENA_GPA + 0x1000)
#define CX_L2 (BENCH_ARENA_GPA + 0x2000)
#define CX_L3 (BENCH_ARENA_GPA + 0x3000)
#define S1_TABLE(gpa) ((uint64_t)(gpa) | 3)
#define S1_PAGE(gpa) ((uint64_t)(gpa) | 3 | (1ull << 10))

static void put64(uint8_t *ram, uint64_t gpa, uint64_t v)
{
	memcpy(ram + gpa, &v, sizeof(v));
}

static uint64_t get64(const uint8_t *ram, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, ram + gpa, sizeof(v));
	return v;
}

/*
 * What this machine does with it (kvm_pvm, nested without VMX):
 *  - CPL3, plain RAM: runs natively, the compare holds;
 *  - CPL0: KVM's emulator interprets all CPL0 code and refuses cmpxchg16b
 *    even on writable RAM, so the step path takes the refusal (the page is
 *    made writable), the step is refused again, and the run stops with
 *    that error, the page protected again and the shadow intact.
 *  - (CPL3 on a read-only slot the guest triple-faults without any exit
 *    the VMM could take, and single-step does not trap at CPL3: not run.)
 * On a host whose CPU runs CPL0 code natively the second case completes
 * through the step; here it shows the protocol's error path for real.
 * Seen on SVM (make check-kvm's nested guest): KVM's emulator fails on
 * the protected page and exits; without KVM_CAP_EXIT_ON_EMULATION_FAILURE
 * (bench/vmm.c enables it) it also queued #UD, which the step delivered:
 * a triple fault.  With it, the step completes the store.
 */
static struct bvm *cx_vm(bool cpl0, bool protect, struct wpt_domain **d,
			 struct wpt_sink **sink)
{
	struct bvm_cfg vc = { .nr_cpus = 1, .cpl0 = cpl0,
			      .slot_granule = GRANULE };
	struct wpt_format_cfg fc = {
		.size = sizeof(fc), .format = WPT_FMT_ARM_LPAE_S1,
		.granule = 4096, .ias = 48, .oas = 48, .sl = -1,
	};
	struct bvm *vm;
	uint8_t *ram;
	int ret;

	ret = bvm_new(&vc, &vm);
	ck_assert_msg(ret == 0, "bvm_new: %s", strerror(-ret));
	ram = bvm_ram(vm);
	put64(ram, CX_ROOT, S1_TABLE(CX_L1));
	put64(ram, CX_L1, S1_TABLE(CX_L2));
	put64(ram, CX_L2, S1_TABLE(CX_L3));
	ck_assert_int_eq(wpt_sink_record_new(sink), 0);
	ck_assert_int_eq(wpt_domain_new(bvm_wpt(vm), &fc, *sink,
					WPT_MODE_TRAP, d), 0);
	if (protect) {
		ck_assert_int_eq(wpt_domain_set_root(*d, CX_ROOT), 0);
		ck_assert_int_eq(wpt_vm_page_protected(bvm_wpt(vm), CX_L3), 1);
	}
	return vm;
}

static void cx_params(struct bench_params *p)
{
	*p = (struct bench_params){
		.magic = BENCH_PARAMS_MAGIC, .workload = BENCH_W_CAL_CX16,
		.mmio_gpa = BENCH_MMIO_GPA(0), .iova_base = CX_L3 + 16,
		.seed = S1_PAGE(BENCH_DATA_GPA),
		.bulk_bytes = S1_PAGE(BENCH_DATA_GPA + PAGE),
	};
}

START_TEST(cmpxchg16b_cpl3_native)
{
	struct bench_params p;
	struct bench_result res;
	struct bvm_cpu_stats st;
	struct wpt_domain *d;
	struct wpt_sink *sink;
	struct bvm *vm = cx_vm(false, false, &d, &sink);
	int ret;

	cx_params(&p);
	ret = bvm_run(vm, &p, &res, &st);
	ck_assert_msg(ret == 0, "bvm_run: %d (%s)", ret, bvm_last_error(vm));
	ck_assert_uint_eq(st.done_status, 0);
	ck_assert_uint_eq(get64(bvm_ram(vm), CX_L3 + 16), p.seed);
	ck_assert_uint_eq(get64(bvm_ram(vm), CX_L3 + 24), p.bulk_bytes);
	ck_assert_uint_eq(st.steps, 0);
	wpt_domain_free(d);
	wpt_sink_free(sink);
	bvm_free(vm);
}
END_TEST

START_TEST(cmpxchg16b_cpl0_refused_through_step)
{
	struct bench_params p;
	struct bench_result res;
	struct bvm_cpu_stats st;
	struct wpt_vm_stats vs;
	struct wpt_domain *d;
	struct wpt_sink *sink;
	struct bvm *vm = cx_vm(true, true, &d, &sink);
	int ret;

	cx_params(&p);
	ret = bvm_run(vm, &p, &res, &st);
	if (ret == 0) {
		/* A host that steps it: the store went through. */
		ck_assert_uint_eq(st.done_status, 0);
		ck_assert_uint_eq(st.step_refused, 1);
		ck_assert_uint_eq(wpt_sink_record_get(sink, NULL, 0), 1);
		printf("cmpxchg16b at CPL0 on a protected table page: "
		       "stepped\n");
	} else {
		ck_assert_int_eq(ret, -EIO);
		ck_assert_msg(strstr(bvm_last_error(vm), "INTERNAL_ERROR"),
			      "%s", bvm_last_error(vm));
		ck_assert_uint_eq(get64(bvm_ram(vm), CX_L3 + 16), 0);
		ck_assert_int_eq(wpt_sink_record_get(sink, NULL, 0), 0);
		printf("cmpxchg16b at CPL0 on a protected table page: KVM "
		       "refused it, and refused the single step too (%s)\n",
		       bvm_last_error(vm));
	}
	/* Either way begin and end paired: one step, page protected again,
	 * shadow intact. */
	ck_assert_int_eq(wpt_vm_stats(bvm_wpt(vm), &vs, sizeof(vs)), 0);
	ck_assert_uint_eq(vs.steps, 1);
	ck_assert_uint_eq(vs.errors, 0);
	ck_assert_int_eq(wpt_vm_page_protected(bvm_wpt(vm), CX_L3), 1);
	ck_assert_uint_eq(vs.protected_pages, 4);
	ck_assert_int_eq(wpt_domain_error(d), 0);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	wpt_domain_free(d);
	wpt_sink_free(sink);
	bvm_free(vm);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("singlestep_kvm");
	TCase *tc = tcase_create("kvm");
	SRunner *sr;
	int failed;

	kvm_require();
	setvbuf(stdout, NULL, _IOLBF, 0);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, cmpxchg16b_cpl3_native);
	tcase_add_test(tc, cmpxchg16b_cpl0_refused_through_step);
	tcase_add_loop_test(tc, workload_stepped, 0, 2 * NR_WORKLOADS);
	if (mode_works(MODE_UFFD, "workload_uffd"))
		tcase_add_loop_test(tc, workload_uffd, 0, 2 * NR_WORKLOADS);
	if (mode_works(MODE_UFFD_BLOCK, "workload_uffd_block"))
		tcase_add_loop_test(tc, workload_uffd_block, 0,
				    2 * NR_WORKLOADS);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
