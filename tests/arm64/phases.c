/* SPDX-License-Identifier: MIT */
/*
 * The io-pgtable guest's hypercalls: the root, each phase's end (the
 * shadow verified, the phase's exits counted), what the sink must and
 * must not hold.  One PASS/FAIL line per phase.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static const char *const phase_name[A64T_PH_MAX + 1] = {
	[A64T_PH_CASAL] = "pgtable-install-casal",
	[A64T_PH_LLSC] = "pgtable-install-ldaxr-stlxr",
	[A64T_PH_STP] = "pgtable-stp-two-descriptors",
	[A64T_PH_STR] = "pgtable-str-leaves",
	[A64T_PH_WRITEBACK] = "pgtable-writeback-forms",
	[A64T_PH_DECLINED] = "pgtable-single-stepped",
	[A64T_PH_SPLIT] = "pgtable-block-split",
	[A64T_PH_UNMAP] = "pgtable-unmap",
	[A64T_PH_FAULTS] = "pgtable-after-faults",
	[A64T_PH_RACE] = "pgtable-two-vcpus-cmpxchg",
	[A64T_PH_ATOMICS] = "pgtable-other-atomics",
};

/* The first failure of the phase running is the one reported. */
static void phase_fail(struct a64t_guest *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void phase_fail(struct a64t_guest *g, const char *fmt, ...)
{
	char *f = g->fail[g->phase <= A64T_PH_MAX ? g->phase : 0];
	va_list ap;

	if (f[0])
		return;
	va_start(ap, fmt);
	vsnprintf(f, sizeof(g->fail[0]), fmt, ap);
	va_end(ap);
}

/* Does the sink map [iova, iova + size) to pa onwards, whole? */
static bool sink_maps(struct a64t_guest *g, uint64_t iova, uint64_t pa,
		      uint64_t size)
{
	static struct wpt_mapping m[4096];
	long n = wpt_sink_record_get(g->t.sink, m, 4096);
	uint64_t cur = iova;

	for (long i = 0; i < n && i < 4096 && cur < iova + size; i++) {
		if (cur < m[i].iova || cur >= m[i].iova + m[i].size)
			continue;
		if (m[i].gpa + (cur - m[i].iova) != pa + (cur - iova) ||
		    !(m[i].perm & WPT_PERM_WRITE))
			return false;
		cur = m[i].iova + m[i].size;
	}
	return cur >= iova + size;
}

static bool sink_has_any(struct a64t_guest *g, uint64_t iova)
{
	static struct wpt_mapping m[4096];
	long n = wpt_sink_record_get(g->t.sink, m, 4096);

	for (long i = 0; i < n && i < 4096; i++)
		if (iova >= m[i].iova && iova < m[i].iova + m[i].size)
			return true;
	return false;
}

static void phase_end(struct a64t_guest *g, uint64_t ph)
{
	struct a64t_counts *n = &g->t.n, *s = &g->start;
	long v = wpt_domain_verify(g->t.dom);
	int err = wpt_domain_error(g->t.dom);

	if (ph != g->phase)
		phase_fail(g, "guest ended phase %llu, expected %u",
			   (unsigned long long)ph, g->phase);
	if (v)
		phase_fail(g, "wpt_domain_verify: %ld", v);
	if (err)
		phase_fail(g, "domain faulted: %d", err);
	if (ph == A64T_PH_CASAL) {
		wpt_vm_stats(g->t.wvm, &g->after_casal, sizeof(g->after_casal));
		g->casal_seen = true;
	}
	if (g->fail[g->phase][0])
		a64t_report(A64T_FAIL, phase_name[g->phase], "%s", g->fail[g->phase]);
	else
		a64t_report(A64T_PASS, phase_name[g->phase],
			    "verified; exits: nisv %llu, emulated %llu, "
			    "stepped %llu, mmio %llu, monitor from ldxr %llu",
			    (unsigned long long)(n->nisv - s->nisv),
			    (unsigned long long)(n->emulated - s->emulated),
			    (unsigned long long)(n->stepped - s->stepped),
			    (unsigned long long)(n->mmio - s->mmio),
			    (unsigned long long)(n->mon_ldxr - s->mon_ldxr));
	g->start = *n;
	g->phase++;
}

/* vCPU 1 is through (it set A64T_RACE_DONE before vCPU 0 went on). */
static void race_end(struct a64t_guest *g)
{
	a64t_vcpu1_join(g);
	if (g->vcpu1.error[0] || !g->vcpu1.done)
		phase_fail(g, "%s", g->vcpu1.error[0] ? g->vcpu1.error :
			   "vCPU 1 did not finish");
}

void a64t_faults_call(struct a64t_guest *g, uint64_t call);
void a64t_faults_end(struct a64t_guest *g);

static void on_call(struct a64t *t, uint64_t call)
{
	struct a64t_guest *g = (struct a64t_guest *)t;
	uint64_t *a = t->arg;
	int r;

	switch (call) {
	case A64T_CALL_ROOT:
		if ((r = wpt_domain_set_root(t->dom, a[0])))
			phase_fail(g, "wpt_domain_set_root(0x%llx): %d",
				   (unsigned long long)a[0], r);
		break;
	case A64T_CALL_RACE:
		if ((r = a64t_vcpu1_start(g, A64T_RACE_ENTRY, a64t_vcpu1_call)))
			phase_fail(g, "starting vCPU 1: %d", r);
		break;
	case A64T_CALL_PHASE:
		if (a[0] == A64T_PH_FAULTS)
			a64t_faults_end(g);
		if (a[0] == A64T_PH_RACE)
			race_end(g);
		phase_end(g, a[0]);
		break;
	case A64T_CALL_EXPECT:
		if (!sink_maps(g, a[0], a[1], a[2]))
			phase_fail(g, "sink does not map iova 0x%llx +0x%llx to 0x%llx",
				   (unsigned long long)a[0], (unsigned long long)a[2],
				   (unsigned long long)a[1]);
		break;
	case A64T_CALL_GONE:
		if (sink_has_any(g, a[0]))
			phase_fail(g, "sink still maps iova 0x%llx",
				   (unsigned long long)a[0]);
		break;
	case A64T_CALL_MARK:
	case A64T_CALL_EXC:
	case A64T_CALL_STATUS:
		a64t_faults_call(g, call);
		break;
	case A64T_CALL_DONE:
		t->done = true;
		t->done_status = a[0];
		break;
	case A64T_CALL_FAIL:
		phase_fail(g, "guest check failed at guest line %llu (0x%llx 0x%llx)",
			   (unsigned long long)a[0], (unsigned long long)a[1],
			   (unsigned long long)a[2]);
		break;
	default:
		phase_fail(g, "unknown hypercall %llu", (unsigned long long)call);
	}
}

void a64t_guest_run(struct a64t_guest *g)
{
	g->t.call = on_call;
	g->phase = 1;
	a64t_run(&g->t, 120);
	if (g->t.error[0] || !g->t.done) {
		/* The phase that was running and every later one. */
		a64t_report(A64T_FAIL, g->phase <= A64T_PH_MAX ?
			    phase_name[g->phase] : "pgtable-done",
			    "%s", g->t.error[0] ? g->t.error : "guest stopped");
		for (unsigned int p = g->phase + 1; p <= A64T_PH_MAX; p++)
			a64t_report(A64T_SKIP, phase_name[p],
				    "not reached: the run stopped in an earlier phase");
	} else if (g->phase != A64T_PH_MAX + 1) {
		a64t_report(A64T_FAIL, "pgtable-done", "guest finished after phase %u of %u",
			    g->phase - 1, A64T_PH_MAX);
	}
}
