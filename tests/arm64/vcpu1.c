/* SPDX-License-Identifier: MIT */
/*
 * vCPU 1: created once, booted afresh for each test that needs a second
 * vCPU (the race, the gap path, the released pages) and run on a thread
 * of its own, pinned apart from the main thread where there are two CPUs
 * (so it runs while the main thread is inside the library).
 */
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

void a64t_pin(int cpu)
{
	cpu_set_t set;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void *vcpu1_thread(void *arg)
{
	a64t_pin(1);
	a64t_run(arg, A64T_VCPU1_SECONDS);
	return NULL;
}

int a64t_vcpu1_start(struct a64t_guest *g, uint64_t x0, a64t_call_fn call)
{
	struct a64t *t1 = &g->vcpu1;
	int r;

	if (!g->t1) {
		*t1 = g->t;
		r = a64vm_vcpu(&t1->vm, 1, &t1->cpu);
		if (r)
			return r;
		g->t1 = t1;
	}
	memset(&t1->n, 0, sizeof(t1->n));
	t1->error[0] = 0;
	t1->done = false;
	t1->call = call;
	r = a64_boot(&t1->cpu, A64T_IMAGE_GPA, A64T_STACK1_TOP, x0);
	if (r)
		return r;
	r = -pthread_create(&g->vcpu1_thread, NULL, vcpu1_thread, t1);
	g->vcpu1_running = !r;
	return r;
}

/* Wait for its run to end (bounded by A64T_VCPU1_SECONDS) and count its
 * exits with vCPU 0's. */
void a64t_vcpu1_join(struct a64t_guest *g)
{
	struct a64t_counts *n = &g->t.n, *n1 = &g->vcpu1.n;

	if (!g->vcpu1_running)
		return;
	pthread_join(g->vcpu1_thread, NULL);
	g->vcpu1_running = false;
	n->nisv += n1->nisv;
	n->emulated += n1->emulated;
	n->stepped += n1->stepped;
	n->faulted += n1->faulted;
	n->mon_ldxr += n1->mon_ldxr;
	n->mmio += n1->mmio;
	n->mmio_reads += n1->mmio_reads;
	n->ext_dabt += n1->ext_dabt;
	n->delivered += n1->delivered;
}

/* What vCPU 1's guest may call: DONE, or FAIL (its check failed). */
void a64t_vcpu1_call(struct a64t *t, uint64_t call)
{
	if (call == A64T_CALL_DONE)
		t->done = true;
	else
		a64t_error(t, "vCPU 1: hypercall %llu (%llu 0x%llx 0x%llx)",
			   (unsigned long long)call, (unsigned long long)t->arg[0],
			   (unsigned long long)t->arg[1], (unsigned long long)t->arg[2]);
}
