/* SPDX-License-Identifier: MIT */
/*
 * bench_probe (probe.h): fork, run the trial in the child, wait on a pipe
 * for its answer with poll()'s bound, SIGKILL the child when the bound
 * passes.  The answer is the trial's return value and its reason.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

struct answer {
	int ret;
	char why[240];
};

static void child(int fd, int (*fn)(void *, char *, size_t), void *arg)
{
	struct answer a = { 0 };

	a.ret = fn(arg, a.why, sizeof(a.why));
	if (write(fd, &a, sizeof(a)) != sizeof(a))
		_exit(2);
	_exit(0);
}

/* Milliseconds left of timeout_ms since start. */
static int ms_left(const struct timespec *start, unsigned int timeout_ms)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - start->tv_sec) * 1000 +
	     (now.tv_nsec - start->tv_nsec) / 1000000;
	return ms >= (long)timeout_ms ? 0 : (int)(timeout_ms - ms);
}

const char *bench_kvm_where(char *buf, size_t len)
{
	static const char *const modules[] = { "kvm_pvm", "kvm_amd",
					       "kvm_intel" };
	const char *env = getenv("WPT_KVM_WHERE"), *m = "kvm";
	char path[64];
	size_t i;

	for (i = 0; !env && i < sizeof(modules) / sizeof(modules[0]); i++) {
		snprintf(path, sizeof(path), "/sys/module/%s", modules[i]);
		if (access(path, F_OK) == 0) {
			m = modules[i];
			break;
		}
	}
	if (env)
		snprintf(buf, len, "%s", env);
	else
		snprintf(buf, len, "host %s", m);
	return buf;
}

int bench_probe(int (*fn)(void *arg, char *why, size_t len), void *arg,
		unsigned int timeout_ms, char *why, size_t len)
{
	struct answer a = { .ret = -ECHILD };
	struct pollfd pfd = { .events = POLLIN };
	struct timespec start;
	int fds[2], status, r = 0;
	ssize_t n = 0;
	pid_t pid;

	if (pipe(fds) < 0)
		return -errno;
	fflush(NULL); /* or the child's exit would print the parent's buffers */
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(fds[0]);
		close(fds[1]);
		return r;
	}
	if (pid == 0) {
		close(fds[0]);
		child(fds[1], fn, arg);
	}
	close(fds[1]);
	pfd.fd = fds[0];
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		r = poll(&pfd, 1, ms_left(&start, timeout_ms));
	} while (r < 0 && errno == EINTR);
	if (r > 0)
		n = read(fds[0], &a, sizeof(a));
	close(fds[0]);
	if (r == 0) {
		kill(pid, SIGKILL);
		a.ret = -ETIMEDOUT;
		snprintf(a.why, sizeof(a.why), "the trial had not ended after "
			 "%u ms (killed)", timeout_ms);
	} else if (n != sizeof(a)) {
		a.ret = -ECHILD;
		snprintf(a.why, sizeof(a.why), "the trial died without an "
			 "answer");
	}
	waitpid(pid, &status, 0);
	if (a.ret && why && len)
		snprintf(why, len, "%s", a.why);
	return a.ret > 0 ? 0 : a.ret;
}
