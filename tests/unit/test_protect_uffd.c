/* SPDX-License-Identifier: MIT */
/*
 * The userfaultfd backend without KVM: guest RAM is anonymous memory that
 * the library really write-protects.
 *
 * WPT_UFFD_SIGBUS: the test plays both writers, "a vCPU" whose trapped
 * store reaches wpt_vm_handle_mmio (as KVM's MMIO exit brings it), and
 * "the VMM" storing to RAM directly, which takes a real SIGBUS that this
 * program's handler passes to wpt_vm_uffd_sigbus.
 *
 * WPT_UFFD_BLOCK: writer threads really block in the kernel.  One the kick
 * calls a vCPU is interrupted by a signal whose handler jumps out of the
 * blocked store to the vCPU side of the protocol (wpt_vm_uffd_step_begin,
 * the store as "the single step", wpt_vm_step_end), as KVM_RUN returning
 * -EINTR would; any other is let through until wpt_vm_host_wrote.
 *
 * The KVM side is test_singlestep_kvm.c (workload_uffd, uffd_block_kick).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/magic.h>

#include "wpt.h"
#include "wpt_internal.h"

#define RAM_GPA 0x40000000ull
#define RAM_SIZE (16ull << 20)
#define ROOT (RAM_GPA + 0x10000)
#define L1 (RAM_GPA + 0x11000)
#define L2 (RAM_GPA + 0x12000)
#define L3(i) (RAM_GPA + 0x20000 + (uint64_t)(i) * 0x1000)
#define NR_L3 (WPT_UFFD_MAX_LIFTED + 1)
#define DATA (RAM_GPA + 0x800000)
#define S1_AF (1ull << 10)
#define LEAF(gpa) ((uint64_t)(gpa) | 3 | S1_AF)

#define POLL_MS 5000

struct ufx {
	uint8_t *ram;
	struct wpt_vm *vm;
	struct wpt_sink *sink;
	struct wpt_domain *d;
	/* WPT_UFFD_BLOCK's kick: */
	bool kick_vcpu;             /* treat the thread as a vCPU */
	_Atomic int kicked_tid;
	unsigned int kicks;
};

/* The SIGBUS handler's view: a signal handler has no argument. */
static struct wpt_vm *sig_vm;
static volatile sig_atomic_t sigbus_seen, sigbus_refused;
static void *volatile sigbus_addr;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	sigbus_seen++;
	sigbus_addr = si->si_addr;
	if (wpt_vm_uffd_sigbus(sig_vm, si->si_addr) != 1) {
		/* A real SIGBUS: die of it, as the VMM would. */
		sigbus_refused++;
		signal(sig, SIG_DFL);
		raise(sig);
	}
}

static uint64_t *desc(struct ufx *u, uint64_t gpa)
{
	return (uint64_t *)(u->ram + (gpa - RAM_GPA));
}

/* "The VMM" stores to guest RAM: a SIGBUS first if the page is protected.
 * Returns how many SIGBUS the store took. */
static int vmm_store(struct ufx *u, uint64_t gpa, uint64_t v)
{
	int before = sigbus_seen;

	*(volatile uint64_t *)desc(u, gpa) = v;
	return sigbus_seen - before;
}

/* "A vCPU" stores: KVM's MMIO exit hands it to the library. */
static int vcpu_store(struct ufx *u, uint64_t gpa, uint64_t v)
{
	return wpt_vm_handle_mmio(u->vm, gpa, &v, 8, 1);
}

static int kick(void *opaque, int tid);

static struct ufx *ufx_new_mode(int mode)
{
	struct ufx *u = calloc(1, sizeof(*u));
	struct wpt_ram_region r;
	struct wpt_vm_cfg cfg = { .size = sizeof(cfg), .uffd = mode,
				  .uffd_kick = kick, .uffd_kick_opaque = u };
	struct wpt_format_cfg fc = {
		.size = sizeof(fc), .format = WPT_FMT_ARM_LPAE_S1,
		.granule = 4096, .ias = 48, .oas = 48, .sl = -1,
	};
	struct sigaction sa = { .sa_sigaction = on_sigbus,
				.sa_flags = SA_SIGINFO };
	unsigned int i;
	int ret;

	ck_assert_ptr_nonnull(u);
	u->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(u->ram != MAP_FAILED);
	r = (struct wpt_ram_region){ RAM_GPA, RAM_SIZE, u->ram };
	cfg.regions = &r;
	cfg.nr_regions = 1;
	ret = wpt_vm_new(&cfg, &u->vm);
	ck_assert_msg(ret == 0, "wpt_vm_new with userfaultfd: %s", strerror(-ret));
	sig_vm = u->vm;
	sigbus_seen = sigbus_refused = 0;
	ck_assert_int_eq(sigaction(SIGBUS, &sa, NULL), 0);
	/* IOVA 0..NR_L3 * 2 MiB through NR_L3 leaf tables, nothing mapped. */
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

static struct ufx *ufx_new(void)
{
	return ufx_new_mode(WPT_UFFD_SIGBUS);
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

static long nr_mappings(struct ufx *u)
{
	return wpt_sink_record_get(u->sink, NULL, 0);
}

static struct wpt_vm_stats vm_stats(struct ufx *u)
{
	struct wpt_vm_stats vs;

	ck_assert_int_eq(wpt_vm_stats(u->vm, &vs, sizeof(vs)), 0);
	return vs;
}

/* ---- WPT_UFFD_BLOCK: the "vCPU", a thread whose interrupted store goes
 * the step way ---- */

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

static struct ufx *ufx_block(bool kick_vcpu)
{
	struct sigaction sa = { .sa_handler = on_kick };
	struct ufx *u;

	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	u = ufx_new_mode(WPT_UFFD_BLOCK);
	u->kick_vcpu = kick_vcpu;
	return u;
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

/*
 * Memory userfaultfd cannot write-protect: a private mapping of a file on
 * a disk filesystem (this program's).  Where the program lives on tmpfs
 * (make check-kvm's initramfs), shmem pages can be write-protected and
 * the case proves nothing: it is skipped, loudly.
 */
static void private_file_refused(struct wpt_vm_cfg *cfg,
				 struct wpt_ram_region *r)
{
	struct wpt_vm *vm = NULL;
	struct statfs sf;
	void *file;
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	if (fstatfs(fd, &sf) == 0 && sf.f_type == TMPFS_MAGIC) {
		printf("SKIP: test_cfg_errors: the private file mapping case: "
		       "this program is on tmpfs, whose pages userfaultfd can "
		       "write-protect\n");
		close(fd);
		return;
	}
	file = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ck_assert(file != MAP_FAILED);
	r->hva = file;
	r->size = 1 << 16;
	ck_assert_int_eq(wpt_vm_new(cfg, &vm), -EINVAL);
	ck_assert_ptr_null(vm);
	munmap(file, 1 << 16);
	close(fd);
}

START_TEST(test_cfg_errors)
{
	uint8_t *ram = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct wpt_ram_region r = { RAM_GPA, 1 << 20, ram };
	struct wpt_kvm_cfg kc = { .vm_fd = -1 };
	struct wpt_vm_cfg cfg = {
		.size = sizeof(cfg), .regions = &r, .nr_regions = 1,
		.uffd = WPT_UFFD_SIGBUS, .kvm = &kc,
	};
	struct wpt_vm *vm = NULL;

	/* one backend per VM */
	ck_assert_int_eq(wpt_vm_new(&cfg, &vm), -EINVAL);
	cfg.kvm = NULL;
	/* no such mode; BLOCK needs a kick */
	cfg.uffd = 3;
	ck_assert_int_eq(wpt_vm_new(&cfg, &vm), -EINVAL);
	cfg.uffd = WPT_UFFD_BLOCK;
	ck_assert_int_eq(wpt_vm_new(&cfg, &vm), -EINVAL);
	cfg.uffd_kick = kick;
	ck_assert_int_eq(wpt_vm_new(&cfg, &vm), 0);
	ck_assert_int_eq(wpt_vm_uffd_sigbus(vm, ram), -EINVAL);
	ck_assert_int_ge(wpt_vm_uffd_fd(vm), 0);
	ck_assert_int_eq(wpt_vm_uffd_service(vm), 0); /* nothing queued */
	ck_assert_int_eq(wpt_vm_uffd_step_begin(vm, &(struct wpt_step){ 0 }),
			 0);
	ck_assert_int_eq(wpt_vm_uffd_step_begin(vm, NULL), -EINVAL);
	wpt_vm_free(vm);
	vm = NULL;
	cfg.uffd = WPT_UFFD_SIGBUS;
	private_file_refused(&cfg, &r);
	/* not this backend */
	r.hva = ram;
	r.size = 1 << 20;
	cfg.uffd = 0;
	ck_assert_int_eq(wpt_vm_new(&cfg, &vm), 0);
	ck_assert_int_eq(wpt_vm_uffd_sigbus(vm, ram), -EINVAL);
	ck_assert_int_eq(wpt_vm_uffd_sigbus(NULL, ram), -EINVAL);
	wpt_vm_free(vm);
	/* this backend: an address outside RAM is not the library's */
	cfg.uffd = WPT_UFFD_SIGBUS;
	ck_assert_int_eq(wpt_vm_new(&cfg, &vm), 0);
	ck_assert_int_eq(wpt_vm_uffd_fd(vm), -EINVAL);    /* BLOCK's calls */
	ck_assert_int_eq(wpt_vm_uffd_service(vm), -EINVAL);
	ck_assert_int_eq(wpt_vm_uffd_step_begin(vm, &(struct wpt_step){ 0 }),
			 -EINVAL);
	ck_assert_int_eq(wpt_vm_uffd_sigbus(vm, &cfg), 0);
	ck_assert_int_eq(wpt_vm_uffd_sigbus(vm, ram + (1 << 20)), 0);
	wpt_vm_free(vm);
	munmap(ram, 1 << 20);
}
END_TEST

/* The vCPU path: a trapped store is applied through the protection and
 * mirrored; the page stays protected, and nothing touches a memslot. */
START_TEST(test_trapped_store)
{
	struct ufx *u = ufx_new();
	struct wpt_vm_stats a = vm_stats(u), b;

	ck_assert_uint_eq(a.protected_pages, 3 + NR_L3);
	ck_assert_uint_eq(a.wp_ops, 3 + NR_L3);   /* one per table page */
	ck_assert_int_eq(vcpu_store(u, L3(0) + 8, LEAF(DATA)), 1);
	ck_assert_uint_eq(*desc(u, L3(0) + 8), LEAF(DATA));
	ck_assert_int_eq(nr_mappings(u), 1);
	ck_assert_int_eq(wpt_domain_verify(u->d), 0);
	b = vm_stats(u);
	ck_assert_uint_eq(b.exits_handled, 1);
	ck_assert_uint_eq(b.wp_ops - a.wp_ops, 2); /* lift, protect again */
	ck_assert_uint_eq(b.slot_ops, 0);
	ck_assert_uint_eq(b.errors, 0);
	/* still protected: the VMM's own store faults */
	ck_assert_int_eq(vmm_store(u, L3(0) + 16, 0), 1);
	ck_assert_ptr_eq(sigbus_addr, desc(u, L3(0) + 16));
	/* a data page is not protected: no fault, no lift */
	ck_assert_int_eq(vmm_store(u, DATA, 7), 0);
	ck_assert_int_eq(vcpu_store(u, DATA, 8), 1); /* a stale exit */
	ck_assert_uint_eq(*desc(u, DATA), 8);
	ck_assert_int_eq(wpt_vm_host_wrote(u->vm, L3(0) + 16, 8), 0);
	ufx_free(u);
}
END_TEST

/* The VMM path: SIGBUS, lifted, stored; wpt_vm_host_wrote protects again
 * and mirrors. */
START_TEST(test_vmm_store)
{
	struct ufx *u = ufx_new();
	struct wpt_vm_stats vs;

	ck_assert_int_eq(vmm_store(u, L3(1) + 5 * 8, LEAF(DATA + 0x5000)), 1);
	ck_assert_uint_eq(*desc(u, L3(1) + 5 * 8), LEAF(DATA + 0x5000));
	ck_assert_int_eq(sigbus_refused, 0);
	/* lifted: more stores go straight through, unmirrored so far */
	ck_assert_int_eq(vmm_store(u, L3(1) + 6 * 8, LEAF(DATA + 0x6000)), 0);
	ck_assert_int_eq(nr_mappings(u), 0);
	vs = vm_stats(u);
	ck_assert_uint_eq(vs.uffd_lifts, 1);
	ck_assert_int_eq(wpt_vm_host_wrote(u->vm, L3(1) + 5 * 8, 16), 0);
	{
		struct wpt_mapping m[2];

		/* both pages, coalesced into one sink mapping */
		ck_assert_int_eq(wpt_sink_record_get(u->sink, m, 2), 1);
		ck_assert_uint_eq(m[0].iova, (2ull << 20) + 0x5000);
		ck_assert_uint_eq(m[0].size, 0x2000);
	}
	ck_assert_int_eq(wpt_domain_verify(u->d), 0);
	/* protected again */
	ck_assert_int_eq(vmm_store(u, L3(1) + 5 * 8, 0), 1);
	ck_assert_int_eq(wpt_vm_host_wrote(u->vm, L3(1) + 5 * 8, 8), 0);
	ck_assert_int_eq(nr_mappings(u), 1);
	ck_assert_int_eq(wpt_domain_verify(u->d), 0);
	/* a trapped store to a lifted page protects it again; the VMM's
	 * next store lifts it once more, in the same slot */
	ck_assert_int_eq(vmm_store(u, L3(2), LEAF(DATA)), 1);
	ck_assert_int_eq(vcpu_store(u, L3(2) + 8, LEAF(DATA + 0x1000)), 1);
	ck_assert_int_eq(vmm_store(u, L3(2) + 16, LEAF(DATA + 0x2000)), 1);
	ck_assert_int_eq(wpt_vm_host_wrote(u->vm, L3(2), 24), 0);
	ck_assert_int_eq(wpt_domain_verify(u->d), 0);
	vs = vm_stats(u);
	ck_assert_uint_eq(vs.uffd_lifts, 4);
	ck_assert_uint_eq(vs.errors, 0);
	ufx_free(u);
}
END_TEST

/* At most WPT_UFFD_MAX_LIFTED pages wait for their wpt_vm_host_wrote;
 * past that the handler is told -ENOSPC and nothing is lifted. */
START_TEST(test_lifted_cap)
{
	struct ufx *u = ufx_new();
	unsigned int i;

	for (i = 0; i < WPT_UFFD_MAX_LIFTED; i++)
		ck_assert_int_eq(vmm_store(u, L3(i), LEAF(DATA)), 1);
	ck_assert_int_eq(wpt_vm_uffd_sigbus(u->vm, desc(u, L3(i))), -ENOSPC);
	ck_assert_int_eq(vm_stats(u).uffd_lifts, WPT_UFFD_MAX_LIFTED);
	/* one report frees them all */
	ck_assert_int_eq(wpt_vm_host_wrote(u->vm, L3(0),
					   WPT_UFFD_MAX_LIFTED * 0x1000), 0);
	ck_assert_int_eq(nr_mappings(u), WPT_UFFD_MAX_LIFTED);
	ck_assert_int_eq(vmm_store(u, L3(i), LEAF(DATA)), 1);
	ck_assert_int_eq(wpt_vm_host_wrote(u->vm, L3(i), 8), 0);
	ck_assert_int_eq(nr_mappings(u), NR_L3);
	ck_assert_int_eq(wpt_domain_verify(u->d), 0);
	ufx_free(u);
}
END_TEST

/* A lifted page whose table goes away stays unprotected; its slot is
 * freed by the report even though no table is tracked there. */
START_TEST(test_lifted_then_released)
{
	struct ufx *u = ufx_new();
	unsigned int i;

	ck_assert_int_eq(vmm_store(u, L3(3), LEAF(DATA)), 1);
	wpt_domain_free(u->d);
	u->d = NULL;
	ck_assert_uint_eq(vm_stats(u).protected_pages, 0);
	ck_assert_int_eq(wpt_vm_host_wrote(u->vm, L3(3), 8), 0);
	ck_assert_int_eq(vmm_store(u, L3(3), 0), 0);
	/* every slot is free again */
	for (i = 0; i < WPT_UFFD_MAX_LIFTED; i++)
		ck_assert_int_eq(vmm_store(u, L3(i), 0), 0);
	ck_assert_uint_eq(vm_stats(u).errors, 0);
	ufx_free(u);
}
END_TEST

/* A page lifted, protected again by a trapped store, lifted again: it
 * keeps its slot, even when a free slot comes before it (it used to take
 * that one too, and the cap came early). */
START_TEST(test_relift_keeps_one_slot)
{
	struct ufx *u = ufx_new();
	unsigned int i;

	ck_assert_int_eq(vmm_store(u, L3(0), 0), 1);          /* slot 0 */
	ck_assert_int_eq(vmm_store(u, L3(1), 0), 1);          /* slot 1 */
	ck_assert_int_eq(wpt_vm_host_wrote(u->vm, L3(0), 8), 0); /* 0 free */
	ck_assert_int_eq(vcpu_store(u, L3(1) + 8, 0), 1);     /* protected */
	ck_assert_int_eq(vmm_store(u, L3(1), 0), 1);          /* slot 1 */
	/* The other slots hold every other page. */
	for (i = 2; i < NR_L3; i++)
		ck_assert_int_eq(vmm_store(u, L3(i), 0), 1);
	ck_assert_int_eq(sigbus_refused, 0);
	ck_assert_int_eq(wpt_vm_host_wrote(u->vm, L3(0), NR_L3 * 0x1000), 0);
	ck_assert_int_eq(wpt_domain_verify(u->d), 0);
	ufx_free(u);
}
END_TEST

static int other_thread_ret;

static void *sigbus_data(void *opaque)
{
	struct ufx *u = opaque;

	other_thread_ret = wpt_vm_uffd_sigbus(u->vm, desc(u, DATA));
	return NULL;
}

/* A SIGBUS in RAM that is not a write-protect fault (a hugetlbfs page
 * missing, a truncated file): the first looks like one and is lifted, but
 * the retried store faulting again with nothing protected since is the
 * real thing, and the handler must be told (it was lifted forever). */
START_TEST(test_genuine_sigbus)
{
	struct ufx *u = ufx_new();

	pthread_t t;

	ck_assert_int_eq(wpt_vm_uffd_sigbus(u->vm, desc(u, DATA)), 1);
	/* Another thread's fault may predate this lift: lifted again. */
	ck_assert_int_eq(pthread_create(&t, NULL, sigbus_data, u), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(other_thread_ret, 1);
	ck_assert_int_eq(wpt_vm_uffd_sigbus(u->vm, desc(u, DATA)), 1);
	/* This thread's retry faulting again: the real thing. */
	ck_assert_int_eq(wpt_vm_uffd_sigbus(u->vm, desc(u, DATA) + 8), 0);
	/* A table page: lifted, protected again by a trapped store, its
	 * next fault is a write-protect fault again. */
	ck_assert_int_eq(vmm_store(u, L3(2), 0), 1);
	ck_assert_int_eq(vcpu_store(u, L3(2) + 8, 0), 1);
	ck_assert_int_eq(wpt_vm_uffd_sigbus(u->vm, desc(u, L3(2))), 1);
	ck_assert_int_eq(wpt_vm_host_wrote(u->vm, RAM_GPA, RAM_SIZE), 0);
	ck_assert_int_eq(wpt_domain_verify(u->d), 0);
	ck_assert_int_eq(sigbus_refused, 0);
	ufx_free(u);
}
END_TEST

/* ---- a lift racing a close ---- */

struct lift_race {
	struct ufx *u;
	sem_t at_claim, go;
	_Atomic int hooked;
	bool go_timed_out;
	int ret;
};

/* false if sem was not posted within POLL_MS. */
static bool sem_wait_ms(sem_t *sem, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000l;
	if (ts.tv_nsec >= 1000000000l) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000l;
	}
	while (sem_timedwait(sem, &ts))
		if (errno != EINTR)
			return false;
	return true;
}

/* The library's test hook, between the lift's claim and its ioctl: hold
 * the first lift there until the test has closed the page. */
static void lift_hook(void *opaque)
{
	struct lift_race *r = opaque;

	if (r->hooked++)
		return;
	sem_post(&r->at_claim);
	r->go_timed_out = !sem_wait_ms(&r->go, POLL_MS);
}

static void *lifter(void *opaque)
{
	struct lift_race *r = opaque;

	/* As a VMM thread's SIGBUS handler would, for a store to L3(0). */
	r->ret = wpt_vm_uffd_sigbus(r->u->vm, desc(r->u, L3(0)));
	return NULL;
}

/*
 * The lift recorded its slot, then a concurrent wpt_vm_host_wrote closed
 * the page (freed the slot, protected the page again, diffed it), then
 * the lift ioctl ran: the page stayed writable with no record, so no
 * later store faulted and nothing ever protected it again.
 */
START_TEST(test_lift_races_close)
{
	struct ufx *u = ufx_new();
	struct lift_race r = { .u = u };
	pthread_t t;

	ck_assert_int_eq(vcpu_store(u, L3(0) + 8, LEAF(DATA)), 1);
	ck_assert_int_eq(nr_mappings(u), 1);
	ck_assert_int_eq(sem_init(&r.at_claim, 0, 0), 0);
	ck_assert_int_eq(sem_init(&r.go, 0, 0), 0);
	ck_assert_int_eq(wpt_vm_uffd_test_hook(u->vm, lift_hook, &r), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, lifter, &r), 0);
	ck_assert_msg(sem_wait_ms(&r.at_claim, POLL_MS),
		      "the lift never reached its ioctl in %d ms", POLL_MS);
	ck_assert_int_eq(wpt_vm_host_wrote(u->vm, L3(0), 8), 0);
	sem_post(&r.go);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_msg(!r.go_timed_out, "the lift waited %d ms for the test",
		      POLL_MS);
	ck_assert_int_eq(r.ret, 1);
	ck_assert_int_eq(wpt_vm_uffd_test_hook(u->vm, NULL, NULL), 0);
	/* Lifted (the ioctl ran last): the VMM's store goes through, and its
	 * report protects the page again and mirrors it... */
	ck_assert_int_eq(vmm_store(u, L3(0) + 8, 0), 0);
	ck_assert_int_eq(wpt_vm_host_wrote(u->vm, L3(0) + 8, 8), 0);
	ck_assert_int_eq(nr_mappings(u), 0);
	ck_assert_int_eq(wpt_domain_verify(u->d), 0);
	/* ...so the next store to the table page faults, as KVM needs. */
	ck_assert_int_eq(vmm_store(u, L3(0) + 8, LEAF(DATA)), 1);
	ck_assert_int_eq(wpt_vm_host_wrote(u->vm, L3(0) + 8, 8), 0);
	ck_assert_int_eq(nr_mappings(u), 1);
	ck_assert_int_eq(wpt_domain_verify(u->d), 0);
	ck_assert_int_eq(sigbus_refused, 0);
	sem_destroy(&r.at_claim);
	sem_destroy(&r.go);
	ufx_free(u);
}
END_TEST

/* ---- WPT_UFFD_BLOCK ---- */

/*
 * A sink call runs under the VM lock.  If the guest mapped one of its own
 * table pages for DMA, a sink that touches the page (iommufd's pin with
 * its faulting slow path, a VMM's sink that copies) write-faults on it and
 * blocks in the kernel; the service that must lift it took the same VM
 * lock: a VMM deadlock.  Here the sink's map writes every page it maps.
 */
struct pin_sink {
	_Atomic int maps;
};

static int pin_map(void *opaque, uint64_t iova, uint64_t gpa, void *hva,
		   uint64_t size, uint32_t perm)
{
	struct pin_sink *p = opaque;
	uint64_t off;

	for (off = 0; off < size; off += 4096) {
		volatile uint8_t *b = (uint8_t *)hva + off;

		*b = *b; /* a writable pin faults the page in for writing */
	}
	p->maps++;
	return 0;
}

static int pin_unmap(void *opaque, uint64_t iova, uint64_t size)
{
	return 0;
}

struct service {
	struct ufx *u;
	_Atomic bool stop;
};

static void *service_main(void *opaque)
{
	struct service *sv = opaque;
	struct pollfd pfd = { .fd = wpt_vm_uffd_fd(sv->u->vm), .events = POLLIN };

	while (!sv->stop)
		if (poll(&pfd, 1, 20) == 1)
			wpt_vm_uffd_service(sv->u->vm);
	return NULL;
}

struct trap_job {
	struct ufx *u;
	uint64_t gpa, val;
	_Atomic bool done;
	int ret;
};

static void *trap_main(void *opaque)
{
	struct trap_job *j = opaque;

	j->ret = vcpu_store(j->u, j->gpa, j->val);
	j->done = true;
	return NULL;
}

START_TEST(test_block_sink_pins_protected_page)
{
	struct ufx *u = ufx_block(false);
	const struct wpt_sink_ops ops = { pin_map, pin_unmap };
	struct wpt_format_cfg fc = {
		.size = sizeof(fc), .format = WPT_FMT_ARM_LPAE_S1,
		.granule = 4096, .ias = 48, .oas = 48, .sl = -1,
	};
	struct trap_job j = { .u = u, .gpa = L3(0) + 8, .val = LEAF(L3(7)) };
	struct service sv = { .u = u };
	struct pin_sink ps = { 0 };
	struct wpt_domain *d2;
	struct wpt_sink *sink;
	pthread_t st, jt;
	int ms;

	ck_assert_int_eq(wpt_sink_callback_new(&ops, &ps, &sink), 0);
	ck_assert_int_eq(wpt_domain_new(u->vm, &fc, sink, WPT_MODE_TRAP, &d2),
			 0);
	ck_assert_int_eq(wpt_domain_set_root(d2, ROOT), 0);
	ck_assert_int_eq(pthread_create(&st, NULL, service_main, &sv), 0);
	/* A vCPU's trapped store maps table page L3(7) for DMA. */
	ck_assert_int_eq(pthread_create(&jt, NULL, trap_main, &j), 0);
	for (ms = 0; ms < POLL_MS && !j.done; ms += 10)
		usleep(10000);
	ck_assert_msg(j.done, "the trapped store did not return in %d ms: "
		      "its sink blocks on a protected page the service cannot "
		      "lift", POLL_MS);
	ck_assert_int_eq(pthread_join(jt, NULL), 0);
	ck_assert_int_eq(j.ret, 1);
	ck_assert_int_eq(ps.maps, 1);
	sv.stop = true;
	ck_assert_int_eq(pthread_join(st, NULL), 0);
	/* The lifted page is protected again and diffed at the next round. */
	ck_assert_int_ge(wpt_vm_uffd_service(u->vm), 0);
	ck_assert_int_eq(wpt_domain_verify(u->d), 0);
	ck_assert_int_eq(wpt_domain_verify(d2), 0);
	wpt_domain_free(d2);
	wpt_sink_free(sink);
	ufx_free(u);
}
END_TEST

/* A store by a VMM thread (the kick says: not a vCPU): the page is lifted
 * so it goes on, and wpt_vm_host_wrote protects it again and mirrors it. */
START_TEST(test_block_vmm_thread)
{
	struct ufx *u = ufx_block(false);
	struct wpt_vm_stats vs;
	struct store s;
	pthread_t t;

	/* a plain data page does not block */
	store_start(&s, &t, u, DATA, 1, false);
	pthread_join(t, NULL);
	ck_assert(s.done);
	ck_assert(!fault_queued(u, 0));

	store_start(&s, &t, u, L3(0) + 8, LEAF(DATA), false);
	ck_assert_msg(fault_queued(u, POLL_MS), "no fault for a store to a "
		      "protected table page");
	ck_assert(!s.done); /* blocked in the kernel */
	ck_assert_int_eq(wpt_vm_uffd_service(u->vm), 1);
	ck_assert_int_eq(u->kicked_tid, s.tid);
	pthread_join(t, NULL); /* lifted: the store went on */
	ck_assert(s.done);
	ck_assert_uint_eq(*desc(u, L3(0) + 8), LEAF(DATA));
	ck_assert_int_eq(nr_mappings(u), 0); /* not reported yet */
	ck_assert_int_eq(wpt_vm_host_wrote(u->vm, L3(0) + 8, 8), 0);
	ck_assert_int_eq(nr_mappings(u), 1);
	ck_assert_int_eq(wpt_domain_verify(u->d), 0);
	vs = vm_stats(u);
	ck_assert_uint_eq(vs.uffd_faults, 1);
	ck_assert_uint_eq(vs.uffd_kicks, 0);
	ck_assert_uint_eq(vs.uffd_lifts, 1);
	ck_assert_uint_eq(vs.slot_ops, 0);

	/* protected again: the next store blocks too */
	store_start(&s, &t, u, L3(0) + 16, 0, false);
	ck_assert_msg(fault_queued(u, POLL_MS), "page not protected again "
		      "after wpt_vm_host_wrote");
	ck_assert_int_eq(wpt_vm_uffd_service(u->vm), 1);
	pthread_join(t, NULL);
	ck_assert_int_eq(wpt_vm_host_wrote(u->vm, L3(0) + 16, 8), 0);
	ck_assert_int_eq(wpt_domain_verify(u->d), 0);

	/* never reported: the next service round protects and mirrors it
	 * anyway (as for a vCPU lifted for by mistake) */
	store_start(&s, &t, u, L3(4) + 8, LEAF(DATA + 0x4000), false);
	ck_assert(fault_queued(u, POLL_MS));
	ck_assert_int_eq(wpt_vm_uffd_service(u->vm), 1);
	pthread_join(t, NULL);
	ck_assert_int_eq(nr_mappings(u), 1);
	store_start(&s, &t, u, L3(5) + 8, LEAF(DATA + 0x5000), false);
	ck_assert(fault_queued(u, POLL_MS));
	ck_assert_int_eq(wpt_vm_uffd_service(u->vm), 1);
	pthread_join(t, NULL);
	ck_assert_int_eq(nr_mappings(u), 2);         /* L3(4)'s, now */
	ck_assert_int_eq(wpt_vm_host_wrote(u->vm, L3(5) + 8, 8), 0);
	ck_assert_int_eq(nr_mappings(u), 3);
	ck_assert_int_eq(wpt_domain_verify(u->d), 0);
	ufx_free(u);
}
END_TEST

/* A vCPU's store: kicked out of the fault, it begins a step of its page,
 * stores, ends the step: mirrored before it "runs on". */
START_TEST(test_block_vcpu)
{
	struct ufx *u = ufx_block(true);
	struct wpt_mapping m[2];
	struct wpt_vm_stats vs;
	struct store s;
	pthread_t t;

	store_start(&s, &t, u, L3(1) + 5 * 8, LEAF(DATA + 0x5000), true);
	ck_assert(fault_queued(u, POLL_MS));
	ck_assert_int_eq(wpt_vm_uffd_service(u->vm), 1);
	pthread_join(t, NULL);
	ck_assert(s.stepped);
	ck_assert_int_eq(s.step_ret, 1);
	ck_assert_int_eq(s.end_ret, 0);
	ck_assert_int_eq(wpt_sink_record_get(u->sink, m, 2), 1);
	ck_assert_uint_eq(m[0].iova, (2ull << 20) + 0x5000);
	ck_assert_uint_eq(m[0].gpa, DATA + 0x5000);
	ck_assert_int_eq(wpt_domain_verify(u->d), 0);
	vs = vm_stats(u);
	ck_assert_uint_eq(vs.uffd_kicks, 1);
	ck_assert_uint_eq(vs.uffd_lifts, 0);
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

/* The table goes away while a store blocks on it: releasing the page
 * wakes the store; its late fault lifts nothing. */
START_TEST(test_block_release_wakes)
{
	struct ufx *u = ufx_block(false);
	struct wpt_vm_stats vs;
	struct store s;
	pthread_t t;

	store_start(&s, &t, u, L3(2), LEAF(DATA), false);
	ck_assert(fault_queued(u, POLL_MS));
	wpt_domain_free(u->d); /* unprotects every table page */
	u->d = NULL;
	pthread_join(t, NULL);
	ck_assert(s.done);
	ck_assert_int_ge(wpt_vm_uffd_service(u->vm), 0);
	vs = vm_stats(u);
	ck_assert_uint_eq(vs.uffd_lifts, 0);
	ck_assert_uint_eq(vs.protected_pages, 0);
	ufx_free(u);
}
END_TEST

/* With this backend wpt_a64_emulate would fault on its own store. */
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

	/* A machine without the right to catch kernel faults says so. */
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
	tcase_add_test(tc, test_trapped_store);
	tcase_add_test(tc, test_vmm_store);
	tcase_add_test(tc, test_lifted_cap);
	tcase_add_test(tc, test_lifted_then_released);
	tcase_add_test(tc, test_lift_races_close);
	tcase_add_test(tc, test_relift_keeps_one_slot);
	tcase_add_test(tc, test_genuine_sigbus);
	tcase_add_test(tc, test_a64_refused);
	suite_add_tcase(su, tc);
	tc = tcase_create("block");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_block_vmm_thread);
	tcase_add_test(tc, test_block_vcpu);
	tcase_add_test(tc, test_block_release_wakes);
	tcase_add_test(tc, test_block_sink_pins_protected_page);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
