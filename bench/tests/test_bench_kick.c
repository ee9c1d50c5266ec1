/* SPDX-License-Identifier: MIT */
/*
 * The bench VMM's userfaultfd kick (bench/vmm/uffd_service.c) without
 * KVM: a thread stands in for a vCPU blocked in KVM_RUN (it waits in
 * sigsuspend() and counts a return when the kick wakes it).  A kick it heeds
 * returns 1; one it never sees (the signal blocked, as a fault that only a
 * fatal signal interrupts) returns 0 after the bound and says why; a
 * thread that is no vCPU is not signalled.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "../vmm/uffd_service.h"

struct fake_vcpu {
	_Atomic int tid;
	_Atomic uint64_t returns;
	_Atomic bool stop;
	bool deaf;  /* the kick signal blocked: it never gets out */
	pthread_t thread;
};

static void *vcpu_main(void *arg)
{
	struct fake_vcpu *v = arg;
	sigset_t kick, others;

	/* Blocked but inside sigsuspend(): a kick sent before the thread
	 * waits stays pending and gets it out at once, as a signal does a
	 * vCPU's next KVM_RUN. */
	sigemptyset(&kick);
	sigaddset(&kick, UFFD_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &kick, &others);
	sigdelset(&others, UFFD_KICK_SIGNAL);
	v->tid = gettid();
	while (!v->stop) {
		if (v->deaf) {
			usleep(1000);
			continue;
		}
		sigsuspend(&others); /* "KVM_RUN" */
		v->returns++;
	}
	return NULL;
}

/* A fake vCPU (deaf: the kick signal blocked) and the service kicking
 * it, both started. */
static void kick_setup(struct uffd_service *s, struct fake_vcpu *v,
		       bool deaf)
{
	*v = (struct fake_vcpu){ .deaf = deaf };
	ck_assert_int_eq(pthread_create(&v->thread, NULL, vcpu_main, v), 0);
	while (!v->tid)
		usleep(100);
	*s = (struct uffd_service){ .stop_fd = -1 };
	ck_assert_int_eq(uffd_service_init(s, &v->tid, &v->returns, 1), 0);
}

static void kick_teardown(struct uffd_service *s, struct fake_vcpu *v)
{
	v->stop = true;
	if (!v->deaf)
		pthread_kill(v->thread, UFFD_KICK_SIGNAL);
	ck_assert_int_eq(pthread_join(v->thread, NULL), 0);
	uffd_service_fini(s);
}

START_TEST(kick_heeded_returns_1)
{
	struct uffd_service s;
	struct fake_vcpu v;
	unsigned int i;

	kick_setup(&s, &v, false);
	for (i = 0; i < 20; i++) {
		uint64_t before = v.returns;

		ck_assert_int_eq(uffd_service_kick(&s, v.tid), 1);
		ck_assert_uint_gt(v.returns, before);
	}
	ck_assert_uint_eq(s.kicks, 20);
	ck_assert_uint_eq(s.unheeded, 0);
	ck_assert_int_eq(s.err, 0);
	kick_teardown(&s, &v);
}
END_TEST

START_TEST(kick_unheeded_is_bounded_and_said)
{
	struct uffd_service s;
	struct fake_vcpu v;

	kick_setup(&s, &v, true);
	/* 0: the library lifts the page instead; the VMM reads why. */
	ck_assert_int_eq(uffd_service_kick(&s, v.tid), 0);
	ck_assert_uint_eq(v.returns, 0);
	ck_assert_uint_eq(s.kicks, 1);
	ck_assert_uint_eq(s.unheeded, 1);
	ck_assert_int_eq(s.err, -EOPNOTSUPP);
	kick_teardown(&s, &v);
}
END_TEST

START_TEST(kick_of_no_vcpu_is_no_signal)
{
	struct uffd_service s;
	struct fake_vcpu v;

	kick_setup(&s, &v, false);
	/* The VMM's own thread (a device model): lifted, never signalled. */
	ck_assert_int_eq(uffd_service_kick(&s, gettid()), 0);
	ck_assert_int_eq(uffd_service_kick(&s, 0), 0);
	ck_assert_uint_eq(s.others, 2);
	ck_assert_uint_eq(s.kicks, 0);
	ck_assert_uint_eq(v.returns, 0);
	ck_assert_int_eq(s.err, 0);
	kick_teardown(&s, &v);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bench_kick");
	TCase *tc = tcase_create("kick");
	SRunner *sr;
	int failed;

	/* The unheeded kick waits its whole bound. */
	tcase_set_timeout(tc, 3 * UFFD_KICK_WAIT_MS / 1000 + 10);
	tcase_add_test(tc, kick_heeded_returns_1);
	tcase_add_test(tc, kick_unheeded_is_bounded_and_said);
	tcase_add_test(tc, kick_of_no_vcpu_is_no_signal);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
