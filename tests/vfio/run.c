/* SPDX-License-Identifier: MIT */
/* A domain's life in the test and the checks after each step (run.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "run.h"
#include "sink_calls.h"

#define HELD_MAX 1024

static struct wpt_mapping held[HELD_MAX];
static struct wpt_mapping runs_a[HELD_MAX], runs_b[HELD_MAX];

const char *mode_name(enum wpt_mode mode)
{
	return mode == WPT_MODE_TRAP ? "trap" :
	       mode == WPT_MODE_INVAL ? "inval" :
	       mode == WPT_MODE_HYBRID ? "hybrid" : "?";
}

int run_open(struct run *u, struct rig *r, enum wpt_mode mode)
{
	struct wpt_format_cfg fmt = {
		.size = sizeof(fmt), .format = WPT_FMT_ARM_LPAE_S1,
		.granule = 4096, .ias = 48, .oas = 48, .sl = -1,
	};
	int ret;

	memset(u, 0, sizeof(*u));
	u->r = r;
	u->mode = mode;
	u->mname = mode_name(mode);
	ret = r->backend->sink_new(r, &u->sink);
	if (ret) {
		tap_fail(&r->tap, "%s sink: %s", r->backend->name,
			 strerror(-ret));
		return ret;
	}
	ret = wpt_domain_new(r->g->vm, &fmt, u->sink, mode, &u->d);
	if (ret) {
		tap_fail(&r->tap, "wpt_domain_new(%s): %s", u->mname,
			 strerror(-ret));
		wpt_sink_free(u->sink);
		u->sink = NULL;
		return ret;
	}
	ret = pt_init(&u->pt, r->g);
	if (!ret)
		ret = wpt_domain_set_root(u->d, u->pt.root);
	if (ret)
		tap_fail(&r->tap, "%s: empty root: %s", u->mname,
			 strerror(-ret));
	return ret;
}

static unsigned int protected_pages(struct guest *g)
{
	unsigned int i, n = 0;

	for (i = 0; i < GUEST_PAGES; i++)
		n += g->prot[i];
	return n;
}

void run_close(struct run *u)
{
	struct rig *r = u->r;

	if (u->d)
		wpt_domain_free(u->d);
	if (u->sink)
		wpt_sink_free(u->sink);
	u->d = NULL;
	u->sink = NULL;
	if (sink_calls.nr_live)
		tap_fail(&r->tap, "%s: the kernel still holds %u mappings "
			 "after the domain was freed", u->mname,
			 sink_calls.nr_live);
	if (protected_pages(r->g))
		tap_fail(&r->tap, "%s: %u pages still protected after the "
			 "domain was freed", u->mname, protected_pages(r->g));
	guest_tables_reset(r->g);
}

void run_want(struct run *u, uint64_t iova, bool write, uint64_t old_gpa)
{
	if (u->nr_want == RUN_WANT_MAX)
		return;
	u->want[u->nr_want++] = (struct probe){ .iova = iova, .write = write,
						.old_gpa = old_gpa };
}

void run_inval(struct run *u, uint64_t iova, uint64_t size)
{
	if (u->nr_inval < 4) {
		u->inval[u->nr_inval].iova = iova;
		u->inval[u->nr_inval].size = size;
		u->nr_inval++;
	}
}

int run_invalidate(struct run *u)
{
	unsigned int i;
	int ret, first = 0;

	for (i = 0; i < u->nr_inval; i++) {
		ret = wpt_domain_invalidate(u->d, u->inval[i].iova,
					    u->inval[i].size);
		if (ret) {
			tap_fail(&u->r->tap, "%s: wpt_domain_invalidate(%#llx, "
				 "%#llx): %s", u->where,
				 (unsigned long long)u->inval[i].iova,
				 (unsigned long long)u->inval[i].size,
				 strerror(-ret));
			first = first ? first : ret;
		}
	}
	return first;
}

/* Merge contiguous IOVA and GPA with one perm into maximal runs. */
static size_t to_runs(const struct wpt_mapping *in, size_t n,
		      struct wpt_mapping *out, size_t max)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		struct wpt_mapping *l = k ? &out[k - 1] : NULL;

		if (l && l->iova + l->size == in[i].iova &&
		    l->gpa + l->size == in[i].gpa && l->perm == in[i].perm) {
			l->size += in[i].size;
			continue;
		}
		if (k == max)
			return max + 1;
		out[k++] = in[i];
	}
	return k;
}

static void check_protection(struct run *u)
{
	struct guest *g = u->r->g;
	bool traps = u->mode != WPT_MODE_INVAL && !u->detached;
	unsigned int i, want = 0;

	for (i = 0; i < GUEST_NR_TABLES; i++) {
		uint64_t gpa = GUEST_TABLES_GPA + (uint64_t)i * SZ_4K;
		bool w = traps && g->table_used[i];

		want += w;
		if (guest_protected(g, gpa) != w) {
			tap_fail(&u->r->tap, "%s: table page %#llx (%s) is %s",
				 u->where, (unsigned long long)gpa,
				 g->table_used[i] ? "live" : "free",
				 w ? "not protected" : "protected");
			return;
		}
	}
	if (protected_pages(g) != want)
		tap_fail(&u->r->tap, "%s: %u pages protected, want %u (a data "
			 "page protected?)", u->where, protected_pages(g), want);
	if (g->prot_errors)
		tap_fail(&u->r->tap, "%s: %llu pages protected or unprotected "
			 "twice", u->where, (unsigned long long)g->prot_errors);
}

void run_check_state(struct run *u)
{
	struct rig *r = u->r;
	long nheld = rig_held(u->d, held, HELD_MAX), v;
	size_t na, nb, i;
	int err;

	v = wpt_domain_verify(u->d);
	if (v)
		tap_fail(&r->tap, "%s: wpt_domain_verify = %ld", u->where, v);
	err = wpt_domain_error(u->d);
	if (err)
		tap_fail(&r->tap, "%s: domain faulted: %s", u->where,
			 strerror(-err));
	if (nheld < 0 || nheld > HELD_MAX) {
		tap_fail(&r->tap, "%s: shadow holds %ld mappings", u->where,
			 nheld);
		return;
	}
	/* The shadow against the driver's own account of its leaves. */
	na = to_runs(u->pt.model, u->pt.nr_model, runs_a, HELD_MAX);
	nb = to_runs(held, (size_t)nheld, runs_b, HELD_MAX);
	if (na != nb || memcmp(runs_a, runs_b, na * sizeof(runs_a[0]))) {
		for (i = 0; i < na || i < nb; i++) {
			if (i < na && i < nb &&
			    !memcmp(&runs_a[i], &runs_b[i], sizeof(runs_a[0])))
				continue;
			tap_fail(&r->tap, "%s: model and shadow differ at run "
				 "%zu: model %#llx+%#llx, shadow %#llx+%#llx",
				 u->where, i,
				 i < na ? (unsigned long long)runs_a[i].iova : 0,
				 i < na ? (unsigned long long)runs_a[i].size : 0,
				 i < nb ? (unsigned long long)runs_b[i].iova : 0,
				 i < nb ? (unsigned long long)runs_b[i].size : 0);
			break;
		}
	}
	/* The shadow against the kernel, mapping for mapping. */
	if ((size_t)nheld != sink_calls.nr_live)
		tap_fail(&r->tap, "%s: shadow holds %ld mappings, the "
			 "kernel %u", u->where, nheld, sink_calls.nr_live);
	for (i = 0; i < (size_t)nheld; i++) {
		const struct sink_live *l = sink_calls_find(held[i].iova);

		if (!l || l->iova != held[i].iova || l->size != held[i].size ||
		    l->vaddr != (uintptr_t)guest_hva(r->g, held[i].gpa) ||
		    l->perm != held[i].perm) {
			tap_fail(&r->tap, "%s: shadow mapping %#llx+%#llx is "
				 "not what the kernel holds", u->where,
				 (unsigned long long)held[i].iova,
				 (unsigned long long)held[i].size);
			break;
		}
	}
	check_protection(u);
}

/* Add a rotating sample of held mappings: two reads, a write to a
 * writable one, and every other time a write to a read-only one. */
static unsigned int add_samples(struct run *u, struct probe *pr,
				unsigned int n, unsigned int max)
{
	long nheld = rig_held(u->d, held, HELD_MAX), i;
	unsigned int s = u->salt++, k;

	if (nheld <= 0 || nheld > HELD_MAX)
		return n;
	for (k = 0; k < 2 && n < max; k++) {
		const struct wpt_mapping *m = &held[(s * 5 + k * 3) % nheld];
		uint64_t pages = m->size >> 12;

		pr[n++] = (struct probe){
			.iova = m->iova + ((s * 7 + k * 11) % pages) * SZ_4K };
	}
	for (k = 0; k < 2; k++) {
		uint32_t want = k ? WPT_PERM_READ : WPT_PERM_READ | WPT_PERM_WRITE;

		if (k && (s & 1))
			continue;
		for (i = 0; i < nheld && n < max; i++) {
			const struct wpt_mapping *m = &held[(s + i) % nheld];

			if (m->perm != want)
				continue;
			pr[n++] = (struct probe){
				.iova = m->iova + ((s * 3) % (m->size >> 12)) *
						  SZ_4K,
				.write = true };
			break;
		}
	}
	return n;
}

static void probe(struct run *u, bool sample)
{
	struct probe pr[RUN_WANT_MAX + 4];
	unsigned int n = u->nr_want;

	memcpy(pr, u->want, n * sizeof(pr[0]));
	if (sample)
		n = add_samples(u, pr, n, RUN_WANT_MAX + 4);
	if (n)
		rig_probe(u->r, u->d, pr, n, u->where);
}

void run_check_settled(struct run *u, bool sample)
{
	unsigned int i;

	run_check_state(u);
	/* Settled: what the step removed must be gone from the shadow. */
	for (i = 0; i < u->nr_want; i++) {
		const struct probe *p = &u->want[i];
		long nheld = rig_held(u->d, held, HELD_MAX), k;

		if (!p->old_gpa || model_find(&u->pt, p->iova))
			continue;
		for (k = 0; k < nheld && k < HELD_MAX; k++)
			if (p->iova - held[k].iova < held[k].size)
				tap_fail(&u->r->tap, "%s: removed IOVA %#llx "
					 "still held after the invalidation",
					 u->where, (unsigned long long)p->iova);
	}
	probe(u, sample);
}

void run_check_pending(struct run *u)
{
	long v = wpt_domain_verify(u->d), nheld, k;
	unsigned int i, held_now = 0, gone = 0;

	if (v)
		tap_fail(&u->r->tap, "%s (before the invalidation): "
			 "wpt_domain_verify = %ld", u->where, v);
	/* Allowed either way: the device may keep reaching a removed page
	 * until the guest invalidates (then it must reach the old bytes,
	 * which the probes check), or lose it early. */
	nheld = rig_held(u->d, held, HELD_MAX);
	for (i = 0; i < u->nr_want; i++) {
		const struct probe *p = &u->want[i];
		bool h = false;

		if (!p->old_gpa)
			continue;
		for (k = 0; k < nheld && k < HELD_MAX; k++)
			h = h || p->iova - held[k].iova < held[k].size;
		held_now += h;
		gone += !h;
	}
	u->r->stale_held += held_now;
	u->r->stale_gone += gone;
	tap_diag("%s: before the invalidation %u removed IOVAs still mapped, "
		 "%u gone", u->where, held_now, gone);
	probe(u, false);
}
