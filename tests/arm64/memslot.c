/* SPDX-License-Identifier: MIT */
/*
 * The KVM memslot backend on arm64 KVM: the read-only slots the
 * io-pgtable run left for its table pages, the gap path (vCPU 1 hammers
 * the page a second domain's root keeps being protected and released at,
 * so its accesses fall into re-cuts and come back as MMIO exits in RAM),
 * and direct stores to the pages once the domain is freed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* vCPU 1's page is the root itself: slots stay cut while they are
 * plentiful, so after the first round only the root's own one-page slot
 * is re-cut. */
#define GAP_ROOT_GPA A64T_GAP_GPA
#define GAP_SECONDS  15
#define GAP_WANT     8  /* gap accesses that end the churn early */

static void readonly_slots(struct a64t_guest *g)
{
	const struct wpt_vm_stats *s = &g->after_casal;

	if (!g->casal_seen)
		a64t_report(A64T_SKIP, "memslot-readonly", "the first phase did not end");
	else if (s->protected_pages != 3 || s->tracked_tables != 3 ||
		 s->slots_in_use <= A64T_RAM_SIZE / A64T_SLOT_GRANULE)
		a64t_report(A64T_FAIL, "memslot-readonly", "after the first "
			    "map: %llu pages protected, %llu tables, %llu slots; "
			    "want 3, 3 and more than %llu",
			    (unsigned long long)s->protected_pages,
			    (unsigned long long)s->tracked_tables,
			    (unsigned long long)s->slots_in_use,
			    (unsigned long long)(A64T_RAM_SIZE / A64T_SLOT_GRANULE));
	else if (!g->t.n.mmio || g->t.n.mmio_reads)
		a64t_report(A64T_FAIL, "memslot-readonly", "%llu store exits, "
			    "%llu load exits: want stores to exit, loads not",
			    (unsigned long long)g->t.n.mmio,
			    (unsigned long long)g->t.n.mmio_reads);
	else
		a64t_report(A64T_PASS, "memslot-readonly", "3 table pages in "
			    "read-only slots (%llu slots); %llu store exits, no load "
			    "exits", (unsigned long long)s->slots_in_use,
			    (unsigned long long)g->t.n.mmio);
}

/* Has vCPU 1's loop stored anything yet?  Booting it costs a while
 * under TCG; churning before would only re-cut an idle slot. */
static bool vcpu1_running(struct a64t_guest *g)
{
	const volatile uint64_t *p =
		(const volatile uint64_t *)(g->t.vm.ram + (A64T_GAP_GPA - A64T_RAM_GPA));
	time_t end = time(NULL) + GAP_SECONDS;

	while (time(NULL) < end)
		for (unsigned int i = 0; i < 256; i++)
			if (p[i])
				return true;
	return false;
}

/* Protect and release GAP_ROOT_GPA until enough gap accesses are seen. */
static int churn(struct a64t_guest *g, struct wpt_domain *d,
		 const struct wpt_vm_stats *before, uint64_t *rounds)
{
	time_t end = time(NULL) + GAP_SECONDS;
	struct wpt_vm_stats st;
	int r = 0;

	a64t_pin(0);
	if (!vcpu1_running(g))
		return -ETIMEDOUT;
	do {
		if ((r = wpt_domain_set_root(d, GAP_ROOT_GPA)) ||
		    (r = wpt_domain_clear_root(d)))
			break;
		++*rounds;
		wpt_vm_stats(g->t.wvm, &st, sizeof(st));
	} while (st.gap_accesses - before->gap_accesses < GAP_WANT &&
		 time(NULL) < end);
	return r;
}

static void gap_report(struct a64t_guest *g, int r, uint64_t rounds,
		       const struct wpt_vm_stats *before,
		       const struct wpt_vm_stats *after)
{
	const struct a64t *t1 = &g->vcpu1;

	if (r == -ETIMEDOUT)
		a64t_report(A64T_FAIL, "memslot-gap", "vCPU 1 stored nothing "
			    "within %d s of its start", GAP_SECONDS);
	else if (r || t1->error[0] || !t1->done)
		a64t_report(A64T_FAIL, "memslot-gap", "%s%s", r ? "churn failed: " : "",
			    r ? strerror(-r) : t1->error[0] ? t1->error : "vCPU 1 did not finish");
	else if (after->gap_accesses == before->gap_accesses)
		a64t_report(A64T_FAIL, "memslot-gap", "no access fell into a "
			    "re-cut in %llu rounds (%llu slot ops; vCPU 1 exits: "
			    "%llu stores, %llu loads): the gap path did not run",
			    (unsigned long long)rounds,
			    (unsigned long long)(after->slot_ops - before->slot_ops),
			    (unsigned long long)t1->n.mmio,
			    (unsigned long long)t1->n.mmio_reads);
	else
		a64t_report(A64T_PASS, "memslot-gap", "%llu accesses served from "
			    "RAM during %llu re-cuts (%llu stores, %llu loads by vCPU 1)",
			    (unsigned long long)(after->gap_accesses - before->gap_accesses),
			    (unsigned long long)(2 * rounds),
			    (unsigned long long)t1->n.mmio,
			    (unsigned long long)t1->n.mmio_reads);
}

static void gap_path(struct a64t_guest *g)
{
	struct wpt_format_cfg fmt = { .size = sizeof(fmt),
				      .format = WPT_FMT_ARM_LPAE_S1,
				      .granule = 4096, .ias = 39, .oas = 40 };
	volatile uint64_t *stop =
		(volatile uint64_t *)(g->t.vm.ram + (A64T_GAP_STOP - A64T_RAM_GPA));
	struct wpt_vm_stats before, after;
	struct wpt_domain *d = NULL;
	uint64_t rounds = 0;
	int r;

	*stop = 0;
	wpt_vm_stats(g->t.wvm, &before, sizeof(before));
	if ((r = wpt_domain_new(g->t.wvm, &fmt, g->t.sink, WPT_MODE_TRAP, &d)) ||
	    (r = a64t_vcpu1_start(g, GAP_ROOT_GPA, a64t_vcpu1_call))) {
		a64t_report(A64T_FAIL, "memslot-gap", "setup: %s", strerror(-r));
		if (d)
			wpt_domain_free(d);
		return;
	}
	r = churn(g, d, &before, &rounds);
	*stop = 1;
	a64t_vcpu1_join(g);
	wpt_vm_stats(g->t.wvm, &after, sizeof(after));
	wpt_domain_free(d);
	gap_report(g, r, rounds, &before, &after);
}

/* Freeing the domain releases every page: vCPU 1, run again on the
 * root table's page, stores straight to RAM. */
static void recut_back(struct a64t_guest *g)
{
	const struct a64t *t1 = &g->vcpu1;
	const uint64_t *root = (const uint64_t *)(g->t.vm.ram + (A64T_POOL_GPA - A64T_RAM_GPA));
	struct wpt_vm_stats st;
	int r;

	wpt_domain_free(g->t.dom);
	g->t.dom = NULL;
	wpt_vm_stats(g->t.wvm, &st, sizeof(st));
	if (st.protected_pages || st.tracked_tables) {
		a64t_report(A64T_FAIL, "memslot-recut", "after the domain's free: "
			    "%llu pages protected, %llu tables tracked; want none",
			    (unsigned long long)st.protected_pages,
			    (unsigned long long)st.tracked_tables);
		return;
	}
	/* GAP_STOP is still set: vCPU 1 makes its 1000 stores and stops. */
	*(volatile uint64_t *)(g->t.vm.ram + (A64T_GAP_STOP - A64T_RAM_GPA)) = 1;
	if (!(r = a64t_vcpu1_start(g, A64T_POOL_GPA, a64t_vcpu1_call)))
		a64t_vcpu1_join(g);
	if (r || t1->error[0] || !t1->done)
		a64t_report(A64T_FAIL, "memslot-recut", "vCPU 1 on the released "
			    "root page: %s", r ? strerror(-r) :
			    t1->error[0] ? t1->error : "did not finish");
	else if (t1->n.mmio || t1->n.mmio_reads || root[1000 & 255] != 1000 << 2)
		a64t_report(A64T_FAIL, "memslot-recut", "stores to the released "
			    "root page exited %llu times (loads %llu), RAM holds %llu",
			    (unsigned long long)t1->n.mmio,
			    (unsigned long long)t1->n.mmio_reads,
			    (unsigned long long)root[1000 & 255]);
	else
		a64t_report(A64T_PASS, "memslot-recut", "%llu slot ops in all; "
			    "every page released, %llu slots, stores to the old "
			    "root go straight to RAM", (unsigned long long)st.slot_ops,
			    (unsigned long long)st.slots_in_use);
}

void a64t_memslot_checks(struct a64t_guest *g)
{
	readonly_slots(g);
	if (g->t.done && !g->t.error[0] && !g->vcpu1_running)
		gap_path(g);
	else
		a64t_report(A64T_SKIP, "memslot-gap", "the guest run failed");
	recut_back(g);
}
