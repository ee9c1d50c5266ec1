/* SPDX-License-Identifier: MIT */
/*
 * bench_probe (bench/vmm/probe.h): a trial that answers, one that fails with
 * a reason, one that hangs (killed at the bound, not waited for), one that
 * dies without an answer.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../vmm/probe.h"

static int answers(void *arg, char *why, size_t len)
{
	return *(int *)arg;
}

static int fails(void *arg, char *why, size_t len)
{
	snprintf(why, len, "no %s here", (const char *)arg);
	return -EOPNOTSUPP;
}

static int hangs(void *arg, char *why, size_t len)
{
	for (;;)
		pause();
	return 0;
}

static int dies(void *arg, char *why, size_t len)
{
	abort();
}

START_TEST(answer_passed_back)
{
	int v = 0;
	char why[64] = "untouched";

	ck_assert_int_eq(bench_probe(answers, &v, 5000, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "untouched");
	v = -EIO;
	ck_assert_int_eq(bench_probe(answers, &v, 5000, why, sizeof(why)),
			 -EIO);
}
END_TEST

START_TEST(reason_passed_back)
{
	char why[64] = "";

	ck_assert_int_eq(bench_probe(fails, "widget", 5000, why, sizeof(why)),
			 -EOPNOTSUPP);
	ck_assert_str_eq(why, "no widget here");
}
END_TEST

START_TEST(hang_is_bounded)
{
	struct timespec t0, t1;
	char why[128] = "";
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(bench_probe(hangs, NULL, 300, why, sizeof(why)),
			 -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_int_ge(ms, 300);
	ck_assert_int_lt(ms, 3000);
	ck_assert_ptr_nonnull(strstr(why, "300 ms"));
}
END_TEST

START_TEST(death_is_an_answer)
{
	char why[64] = "";

	ck_assert_int_eq(bench_probe(dies, NULL, 5000, why, sizeof(why)),
			 -ECHILD);
	ck_assert_ptr_nonnull(strstr(why, "died"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bench_probe");
	TCase *tc = tcase_create("probe");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, answer_passed_back);
	tcase_add_test(tc, reason_passed_back);
	tcase_add_test(tc, hang_is_bounded);
	tcase_add_test(tc, death_is_an_answer);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
