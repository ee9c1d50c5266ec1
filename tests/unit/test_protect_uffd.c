/* SPDX-License-Identifier: MIT */
/*
 * The userfaultfd backend without KVM: guest RAM is anonymous memory, "the
 * guest" is a thread storing to it, and its stores to table pages really
 * block in the kernel on the write-protection the library set.  A thread
 * the kick calls a vCPU is interrupted by a signal whose handler jumps out
 * of the blocked store to the vCPU side of the protocol
 * (wpt_vm_uffd_step_begin, the store, wpt_vm_step_end), as KVM_RUN
 * returning -EINTR would.  The real vCPU path is test_uffd_kvm.c.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wpt.h"

#define RAM_GPA 0x40000000ull
#define RAM_SIZE (16ull << 20)
#define ROOT (RAM_GPA + 0x10000)
#define L1 (RAM_GPA + 0x11000)
#define L2 (RAM_GPA + 0x12000)
#define L3(i) (RAM_GPA + 0x20000 + (uint64_t)(i) * 0x1000)
#define DATA (RAM_GPA + 0x800000)
#define NR_L3 (WPT_UFFD_MAX_OPEN + 1)
#define S1_AF (1ull << 10)
#define POLL_MS 5000

struct ufx {
	uint8_t *ram;
	struct wpt_vm *vm;
	struct wpt_sink *sink;
	struct wpt_domain *d;
	/* kick: */
	bool kick_vcpu;             /* treat the thread as a vCPU */
	_Atomic int kicked_tid;
	unsigned int kicks;
};

static uint64_t *desc(struct ufx *u, uint64_t gpa)
{
	return (uint64_t *)(u->ram + (gpa - RAM_GPA));
}

/* ---- the "vCPU": a thread whose interrupted store goes the step way ---- */

static __thread sigjmp_buf vcpu_jmp;
static __thread volatile int vcpu_armed;

static void on_kick(int sig)
{
	(void)sig;
	if (vcpu_armed) {
		vcpu_armed = 0;
		siglongjmp(vcpu_jmp, 1); /* out of the blocked store */
	}
}

struct store {
	struct ufx *u;
	uint64_t gpa, val;
	bool vcpu;
	_Atomic int tid;
	_Atomic bool done;
	int step_ret, end_ret;
	bool stepped;
};

static void *store_thread(void *arg)
{
	struct store *s = arg;
	volatile uint64_t *p = desc(s->u, s->gpa);

	s->tid = (int)gettid();
	if (s->vcpu && sigsetjmp(vcpu_jmp, 1)) {
		struct wpt_step st;

		/* KVM_RUN returned -EINTR: the vCPU side of the protocol. */
		s->step_ret = wpt_vm_uffd_step_begin(s->u->vm, &st);
		if (s->step_ret == 1) {
			*p = s->val; /* "the single step" */
			s->end_ret = wpt_vm_step_end(s->u->vm, &st);
		}
		s->stepped = true;
		s->done = true;
		return NULL;
	}
	vcpu_armed = s->vcpu;
	*p = s->val; /* blocks while the page is protected */
	vcpu_armed = 0;
	s->done = true;
	return NULL;
}

static int kick(void *opaque, int tid)
{
	struct ufx *u = opaque;

	u->kicked_tid = tid;
	u->kicks++;
	if (!u->kick_vcpu)
		return 0;
	ck_assert_int_eq(tgkill(getpid(), tid, SIGUSR1), 0);
	return 1;
}

static struct ufx *ufx_new(void)
{
	struct ufx *u = calloc(1, sizeof(*u));
	struct wpt_ram_region r;
	struct wpt_uffd_cfg uc = { .kick = kick, .opaque = u };
	struct wpt_vm_cfg cfg = { .size = sizeof(cfg), .uffd = &uc };
	struct wpt_format_cfg fc = {
		.size = sizeof(fc), .format = WPT_FMT_ARM_LPAE_S1,
		.granule = 4096, .ias = 48, .oas = 48, .sl = -1,
	};
	struct sigaction sa = { .sa_handler = on_kick };
	unsigned int i;
	int ret;

	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	u->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(u->ram != MAP_FAILED);
	r = (struct wpt_ram_region){ RAM_GPA, RAM_SIZE, u->ram };
	cfg.regions = &r;
	cfg.nr_regions = 1;
	ret = wpt_vm_new(&cfg, &u->vm);
	ck_assert_msg(ret == 0, "wpt_vm_new with userfaultfd: %s (root, or "
		      "CAP_SYS_PTRACE, is needed)", strerror(-ret));
	/* IOVA 0..NR_L3*2 MiB through NR_L3 leaf tables, nothing mapped. */
	*desc(u, ROOT) = L1 | 3;
	*desc(u, L1) = L2 | 3;
	for (i = 0; i < NR_L3; i++)
		*desc(u, L2 + 8 * i) = L3(i) | 3;
	ck_assert_int_eq(wpt_sink_record_new(&u->sink), 0);
	ck_assert_int_eq(wpt_domain_new(u->vm, &fc, u->sink, WPT_MODE_TRAP,
					&u->d), 0);
	ck_assert_int_eq(wpt_domain_set_root(u->d, ROOT), 0);
	return u;
}

static void ufx_free(struct ufx *u)
{
	if (u->d)
		wpt_domain_free(u->d);
	wpt_sink_free(u->sink);
	wpt_vm_free(u->vm);
	munmap(u->ram, RAM_SIZE);
	free(u);
}

/* Wait for a fault on the userfaultfd: true if one came in time. */
static bool fault_queued(struct ufx *u, int ms)
{
	struct pollfd pfd = { .fd = wpt_vm_uffd_fd(u->vm), .events = POLLIN };

	ck_assert_int_ge(pfd.fd, 0);
	return poll(&pfd, 1, ms) == 1 && (pfd.revents & POLLIN);
}

static void store_start(struct store *s, pthread_t *t, struct ufx *u,
			uint64_t gpa, uint64_t val, bool vcpu)
{
	*s = (struct store){ .u = u, .gpa = gpa, .val = val, .vcpu = vcpu };
	ck_assert_int_eq(pthread_create(t, NULL, store_thread, s), 0);
}

static unsigned long long mappings(struct ufx *u, struct wpt_mapping *m,
				   size_t n)
{
	long r = wpt_sink_record_get(u->sink, m, n);

	ck_assert_int_ge(r, 0);
	return (unsigned long long)r;
}

START_TEST(test_cfg_errors)
{
	uint8_t *ram = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct wpt_ram_region r = { RAM_GPA, 1 << 20, ram };
	struct wpt_uffd_cfg uc = { .kick = kick };
	struct wpt_kvm_cfg kc = { .vm_fd = -1 };
	struct wpt_vm_cfg cfg = {
		.size = sizeof(cfg), .regions = &r, .nr_regions = 1,
		.uffd = &uc, .kvm = &kc,
	};
	struct wpt_vm *vm = NULL;
	struct wpt_step st;
	int fd;
	void *file;

	/* one backend per VM */
	ck_assert_int_eq(wpt_vm_new(&cfg, &vm), -EINVAL);
	cfg.kvm = NULL;
	/* a kick is required */
	uc.kick = NULL;
	ck_assert_int_eq(wpt_vm_new(&cfg, &vm), -EINVAL);
	uc.kick = kick;
	/* memory userfaultfd cannot write-protect: a private file mapping */
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	file = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ck_assert(file != MAP_FAILED);
	r.hva = file;
	r.size = 1 << 16;
	ck_assert_int_eq(wpt_vm_new(&cfg, &vm), -EINVAL);
	ck_assert_ptr_null(vm);
	munmap(file, 1 << 16);
	close(fd);
	/* the calls on a VM of another backend (none here) */
	r.hva = ram;
	r.size = 1 << 20;
	cfg.uffd = NULL;
	ck_assert_int_eq(wpt_vm_new(&cfg, &vm), 0);
	ck_assert_int_eq(wpt_vm_uffd_fd(vm), -EINVAL);
	ck_assert_int_eq(wpt_vm_uffd_service(vm), -EINVAL);
	ck_assert_int_eq(wpt_vm_uffd_step_begin(vm, &st), -EINVAL);
	ck_assert_int_eq(wpt_vm_uffd_fd(NULL), -EINVAL);
	wpt_vm_free(vm);
	/* a uffd VM: nothing queued, nothing pending for this thread */
	cfg.uffd = &uc;
	ck_assert_int_eq(wpt_vm_new(&cfg, &vm), 0);
	ck_assert_int_ge(wpt_vm_uffd_fd(vm), 0);
	ck_assert_int_eq(wpt_vm_uffd_service(vm), 0);
	ck_assert_int_eq(wpt_vm_uffd_step_begin(vm, &st), 0);
	ck_assert_int_eq(wpt_vm_uffd_step_begin(vm, NULL), -EINVAL);
	wpt_vm_free(vm);
	munmap(ram, 1 << 20);
}
END_TEST

/* A store by a VMM thread (kick says: not a vCPU): the page is opened so
 * it goes on, and wpt_vm_host_wrote protects it again and mirrors it. */
START_TEST(test_vmm_thread_store)
{
	struct ufx *u = ufx_new();
	struct wpt_vm_stats vs;
	struct wpt_mapping m[4];
	struct store s;
	pthread_t t;

	/* a plain data page does not block */
	store_start(&s, &t, u, DATA, 1, false);
	pthread_join(t, NULL);
	ck_assert(s.done);
	ck_assert(!fault_queued(u, 0));

	store_start(&s, &t, u, L3(0) + 8, DATA | 3 | S1_AF, false);
	ck_assert_msg(fault_queued(u, POLL_MS), "no fault for a store to a "
		      "protected table page");
	ck_assert(!s.done); /* blocked in the kernel */
	ck_assert_int_eq(wpt_vm_uffd_service(u->vm), 1);
	ck_assert_int_eq(u->kicked_tid, s.tid);
	pthread_join(t, NULL); /* the page was opened: the store went on */
	ck_assert(s.done);
	ck_assert_uint_eq(*desc(u, L3(0) + 8), DATA | 3 | S1_AF);
	ck_assert_uint_eq(mappings(u, m, 4), 0); /* not reported yet */
	ck_assert_int_eq(wpt_vm_host_wrote(u->vm, L3(0) + 8, 8), 0);
	ck_assert_uint_eq(mappings(u, m, 4), 1);
	ck_assert_uint_eq(m[0].iova, 0x1000);
	ck_assert_uint_eq(m[0].gpa, DATA);
	ck_assert_int_eq(wpt_domain_verify(u->d), 0);
	ck_assert_int_eq(wpt_vm_stats(u->vm, &vs, sizeof(vs)), 0);
	ck_assert_uint_eq(vs.uffd_faults, 1);
	ck_assert_uint_eq(vs.uffd_kicks, 0);
	ck_assert_uint_eq(vs.uffd_host_opens, 1);
	ck_assert_uint_ge(vs.wp_ops, 3); /* protect, open, protect again */
	ck_assert_uint_eq(vs.slot_ops, 0);

	/* protected again: the next store blocks too */
	store_start(&s, &t, u, L3(0) + 16, 0, false);
	ck_assert_msg(fault_queued(u, POLL_MS), "page not protected again "
		      "after wpt_vm_host_wrote");
	ck_assert_int_eq(wpt_vm_uffd_service(u->vm), 1);
	pthread_join(t, NULL);
	ck_assert_int_eq(wpt_vm_host_wrote(u->vm, L3(0) + 16, 8), 0);
	ck_assert_int_eq(wpt_domain_verify(u->d), 0);
	ufx_free(u);
}
END_TEST

/* A vCPU's store: kicked out of the fault, it begins a step of its page,
 * stores, ends the step: mirrored before it "runs on". */
START_TEST(test_vcpu_store)
{
	struct ufx *u = ufx_new();
	struct wpt_vm_stats vs;
	struct wpt_mapping m[4];
	struct store s;
	pthread_t t;

	u->kick_vcpu = true;
	store_start(&s, &t, u, L3(1) + 5 * 8, (DATA + 0x5000) | 3 | S1_AF,
		    true);
	ck_assert(fault_queued(u, POLL_MS));
	ck_assert_int_eq(wpt_vm_uffd_service(u->vm), 1);
	pthread_join(t, NULL);
	ck_assert(s.stepped);
	ck_assert_int_eq(s.step_ret, 1);
	ck_assert_int_eq(s.end_ret, 0);
	ck_assert_uint_eq(mappings(u, m, 4), 1);
	ck_assert_uint_eq(m[0].iova, (2ull << 20) + 0x5000);
	ck_assert_uint_eq(m[0].gpa, DATA + 0x5000);
	ck_assert_int_eq(wpt_domain_verify(u->d), 0);
	ck_assert_int_eq(wpt_vm_stats(u->vm, &vs, sizeof(vs)), 0);
	ck_assert_uint_eq(vs.uffd_kicks, 1);
	ck_assert_uint_eq(vs.uffd_host_opens, 0);
	ck_assert_uint_eq(vs.steps, 1);
	/* protected again by the step's end */
	store_start(&s, &t, u, L3(1) + 6 * 8, 0, true);
	ck_assert(fault_queued(u, POLL_MS));
	ck_assert_int_eq(wpt_vm_uffd_service(u->vm), 1);
	pthread_join(t, NULL);
	ck_assert_int_eq(s.step_ret, 1);
	/* a vCPU interrupted for another reason has nothing pending */
	ck_assert_int_eq(wpt_vm_uffd_step_begin(u->vm, &(struct wpt_step){ 0 }),
			 0);
	ufx_free(u);
}
END_TEST

/* Kicked, but the table goes away before the vCPU steps: unprotecting
 * wakes the store, and the step finds nothing to open. */
START_TEST(test_unprotect_wakes)
{
	struct ufx *u = ufx_new();
	struct store s;
	pthread_t t;

	/* kick records the tid but does not interrupt: the thread stays
	 * blocked until the library unprotects its page */
	store_start(&s, &t, u, L3(2), DATA | 3 | S1_AF, false);
	ck_assert(fault_queued(u, POLL_MS));
	wpt_domain_free(u->d); /* unprotects every table page */
	u->d = NULL;
	pthread_join(t, NULL);
	ck_assert(s.done);
	/* The fault, if still queued, is stale: nothing protected to open. */
	{
		struct wpt_vm_stats vs;

		ck_assert_int_ge(wpt_vm_uffd_service(u->vm), 0);
		ck_assert_int_eq(wpt_vm_stats(u->vm, &vs, sizeof(vs)), 0);
		ck_assert_uint_eq(vs.uffd_host_opens, 0);
		ck_assert_uint_eq(vs.protected_pages, 0);
	}
	ufx_free(u);
}
END_TEST

/* More VMM-thread stores than pages may stay open: the oldest closes. */
START_TEST(test_open_cap)
{
	struct ufx *u = ufx_new();
	struct wpt_vm_stats vs;
	struct store s;
	pthread_t t;
	unsigned int i;

	for (i = 0; i < NR_L3; i++) {
		store_start(&s, &t, u, L3(i), (DATA + i * 0x1000) | 3 | S1_AF,
			    false);
		ck_assert(fault_queued(u, POLL_MS));
		ck_assert_int_eq(wpt_vm_uffd_service(u->vm), 1);
		pthread_join(t, NULL);
	}
	ck_assert_int_eq(wpt_vm_stats(u->vm, &vs, sizeof(vs)), 0);
	ck_assert_uint_eq(vs.uffd_host_opens, NR_L3);
	/* L3(0) was closed (protected and diffed) to make room: mapped */
	{
		struct wpt_mapping m[NR_L3];

		ck_assert_uint_eq(mappings(u, m, NR_L3), 1);
		ck_assert_uint_eq(m[0].gpa, DATA);
	}
	store_start(&s, &t, u, L3(0) + 8, 0, false);
	ck_assert(fault_queued(u, POLL_MS));
	ck_assert_int_eq(wpt_vm_uffd_service(u->vm), 1);
	pthread_join(t, NULL);
	/* opening L3(0) again closed the oldest, L3(1); L3(2) is still
	 * open: its store does not block */
	store_start(&s, &t, u, L3(2) + 8, 0, false);
	pthread_join(t, NULL);
	ck_assert(!fault_queued(u, 0));
	store_start(&s, &t, u, L3(1) + 8, 0, false);
	ck_assert_msg(fault_queued(u, POLL_MS), "L3(1) not closed");
	ck_assert_int_eq(wpt_vm_uffd_service(u->vm), 1);
	pthread_join(t, NULL);
	/* one report closes them all */
	ck_assert_int_eq(wpt_vm_host_wrote(u->vm, L3(0), NR_L3 * 0x1000), 0);
	{
		struct wpt_mapping m[NR_L3];

		ck_assert_uint_eq(mappings(u, m, NR_L3), NR_L3);
	}
	ck_assert_int_eq(wpt_domain_verify(u->d), 0);
	ufx_free(u);
}
END_TEST

/* With this backend wpt_a64_emulate would block on its own store. */
START_TEST(test_a64_refused)
{
	struct ufx *u = ufx_new();
	struct wpt_a64_mmu mmu = { 0 };
	struct wpt_a64_regs regs = { .pc = RAM_GPA };

	ck_assert_int_eq(wpt_a64_emulate(u->vm, &mmu, &regs, NULL,
					 WPT_A64_NO_IPA, NULL), -EOPNOTSUPP);
	ufx_free(u);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("protect_uffd");
	TCase *tc = tcase_create("uffd");
	SRunner *sr;
	int fd, failed;

	/* Probe once: a machine without userfaultfd rights says so. */
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (fd < 0 && access("/dev/userfaultfd", R_OK | W_OK)) {
		printf("SKIP: test_protect_uffd: userfaultfd: %s (needs root, "
		       "CAP_SYS_PTRACE or /dev/userfaultfd)\n",
		       strerror(errno));
		return 77;
	}
	if (fd >= 0)
		close(fd);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_cfg_errors);
	tcase_add_test(tc, test_vmm_thread_store);
	tcase_add_test(tc, test_vcpu_store);
	tcase_add_test(tc, test_unprotect_wakes);
	tcase_add_test(tc, test_open_cap);
	tcase_add_test(tc, test_a64_refused);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
