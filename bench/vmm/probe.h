/* SPDX-License-Identifier: MIT */
/*
 * A bounded trial: some KVM behaviours are learnt only by trying, and a
 * try can stay inside KVM_RUN for good (a fault KVM retries forever, such
 * as a store to a userfaultfd-protected page that the KVM neither emulates
 * nor fails: seen with Debian's 6.1 KVM on SVM).  bench_probe runs fn in a
 * child process and kills it after timeout_ms, so a hang becomes an
 * answer.  For the bench and the KVM tests, which use it to decide
 * whether a backend mode can run here before they run it for real.
 */
#ifndef WPT_BENCH_PROBE_H
#define WPT_BENCH_PROBE_H

#include <stddef.h>

/* fn returns 0 or -errno and may write a reason to why (len bytes).
 * Returns 0 when fn returned 0 in time; fn's -errno with its reason;
 * -ETIMEDOUT when the child was killed after timeout_ms; -ECHILD when it
 * died without an answer.  why gets the reason in every failure.  Call
 * it with no other thread of the process using KVM or the library: the
 * child has only the calling thread. */
int bench_probe(int (*fn)(void *arg, char *why, size_t len), void *arg,
		unsigned int timeout_ms, char *why, size_t len);

/* Which KVM runs the guests, for reports: $WPT_KVM_WHERE when set (make
 * bench's nested guest sets "nested SVM under TCG"), else "host " and the
 * KVM module loaded (kvm_pvm, kvm_amd, kvm_intel; "kvm" when none of
 * them).  Written to buf, which is returned. */
const char *bench_kvm_where(char *buf, size_t len);

#endif
