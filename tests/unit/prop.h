/* SPDX-License-Identifier: MIT */
/*
 * The property harness: a simulated SMMUv3 guest driver (sim/guest_model)
 * drives the real library through guest-like operation sequences, and
 * check_all() holds the library to the design's invariants against a
 * naive full walk (sim/oracle):
 *  - the sink holds what the tables map (HYBRID: plus removals the guest
 *    has not invalidated yet, and nothing else);
 *  - the shadow's view is exactly the sink's list;
 *  - wpt_domain_verify() finds nothing;
 *  - the tracked tables are the reachable ones, uses counted;
 *  - the protected pages are exactly the pages of tables a TRAP or HYBRID
 *    domain uses.
 * test_property runs it with nothing failing (no domain may fault);
 * test_fault_inject with the library's allocations, sink calls and
 * protection calls failing one at a time (p->tolerant: a faulted domain
 * must hold nothing but what wpt_domain_foreach_mapping lists).
 * Header-only, like fixture.h, so each test stays one program.
 */
#ifndef WPT_TEST_PROP_H
#define WPT_TEST_PROP_H

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "wpt.h"
#include "wpt_internal.h"
#include "sim/guest_model.h"
#include "sim/oracle.h"

#define RAM_GPA 0x40000000ull
#define RAM_SIZE (1ull << 30)
#define ARENA_SIZE (64ull << 20)
#define PAGES (RAM_SIZE >> 12)
#define NR_DOMS 2

struct prop;

/* A page's protection in the backend: off, on, or on although the library
 * asked to lift it and the backend refused (no longer a table page). */
enum { PROT_OFF, PROT_ON, PROT_STUCK };

/* What a test that makes the library fail (test_fault_inject) changes;
 * test_property passes none. */
struct prop_hooks {
	/* Errors from library calls are allowed (the first of an operation
	 * is kept in op_err), and so is a faulted domain, checked as one. */
	bool tolerant;
	/* One guest store in host_write_one_in goes through RAM and
	 * wpt_vm_host_wrote instead (an emulated device's DMA); 0: never. */
	unsigned int host_write_one_in;
	/* Called with true when the library starts running (a call the
	 * guest makes) and false when it stops (the call returns, or calls
	 * back into the test's protection backend). */
	void (*in_library)(struct prop *p, bool in);
	/* Called before each protection call: a negative errno fails it,
	 * changing nothing. */
	int (*backend_fails)(struct prop *p);
	/* The sink domain d sends to, forwarding to p->sink[d]. */
	struct wpt_sink *(*sink_for)(struct prop *p, unsigned int d);
	/* Give the VM wpt_quiesce_ops (no vCPU to hold: they count), so
	 * protection changes wait for the end of each call. */
	bool quiesce;
	void *opaque;
};

struct prop {
	uint8_t *ram;
	uint8_t *prot;      /* one byte per 4 KiB page: PROT_* */
	uint64_t nr_prot;   /* pages protected (PROT_ON or PROT_STUCK) */
	uint64_t nr_stuck;  /* of those, PROT_STUCK */
	struct wpt_vm *vm;
	struct wpt_domain *d[NR_DOMS];
	struct wpt_sink *sink[NR_DOMS];
	enum wpt_mode mode[NR_DOMS];
	const struct wpt_format_ops *fmt;
	struct gm *m;
	uint64_t root[NR_DOMS];
	struct oracle o[NR_DOMS];
	char label[256];    /* config, seed (and a failure injected) */
	unsigned long step;
	char what[192];
	/* scratch */
	struct wpt_mapping *a, *b;
	size_t cap;
	/* The sink each domain sends to: sink[d] itself, or one the hooks
	 * made that forwards to it. */
	struct wpt_sink *dsink[NR_DOMS];
	const struct prop_hooks *hooks;
	bool tolerant;      /* hooks->tolerant */
	int op_err;         /* the operation's first error, when tolerant */
	bool lib_running;   /* between prop_lib(p, true) and (p, false) */
	unsigned int quiesced; /* quiesce() calls not resumed yet */
	bool backend_from_lib;
	struct gm_rng host_rng;
};

#define FAIL(p, ...) \
	ck_abort_msg("%s step %lu (%s): %s", (p)->label, (p)->step, (p)->what, \
		     (snprintf(msg, sizeof(msg), __VA_ARGS__), msg))

/* A library call's result: an error fails the test, or, where errors are
 * allowed, the operation's first is kept. */
static inline void prop_result(struct prop *p, int ret, const char *call)
{
	char msg[256];

	if (ret >= 0)
		return;
	if (!p->tolerant)
		FAIL(p, "%s: %d", call, ret);
	if (!p->op_err)
		p->op_err = ret;
}

static inline void prop_lib(struct prop *p, bool in)
{
	p->lib_running = in;
	if (p->hooks && p->hooks->in_library)
		p->hooks->in_library(p, in);
}

/* Entering the test's protection backend from the library: whether the
 * call fails, and the test's own code runs outside the library (its
 * assertions allocate). */
static inline int prop_backend_enter(struct prop *p)
{
	int err = p->hooks && p->hooks->backend_fails
			  ? p->hooks->backend_fails(p) : 0;

	p->backend_from_lib = p->lib_running;
	if (p->backend_from_lib)
		prop_lib(p, false);
	return err;
}

static inline int prop_backend_leave(struct prop *p, int ret)
{
	if (p->backend_from_lib)
		prop_lib(p, true);
	return ret;
}

/* ------------------------------------------------------ callbacks */

static inline int p_protect(void *opaque, uint64_t gpa, uint64_t size)
{
	struct prop *p = opaque;
	int err = prop_backend_enter(p);
	uint64_t g;

	if (err)
		return prop_backend_leave(p, err);
	for (g = gpa; g < gpa + size; g += 4096) {
		uint8_t *pr = &p->prot[(g - RAM_GPA) >> 12];

		/* Tested with if, not ck_assert: in fork mode every
		 * ck_assert is a write to Check's pipe. */
		if (g < RAM_GPA || g >= RAM_GPA + RAM_SIZE)
			ck_abort_msg("%s: protect outside RAM %#llx", p->label,
				     (unsigned long long)g);
		/* A page whose unprotect was refused is asked again; so,
		 * once calls fail, may one whose unprotect the library could
		 * not even record (wpt_quiesce_ops: no memory to queue it). */
		if (*pr == PROT_ON && !p->tolerant)
			ck_abort_msg("%s step %lu: page %#llx protected twice",
				     p->label, p->step, (unsigned long long)g);
		if (*pr == PROT_ON)
			continue;
		p->nr_prot += *pr == PROT_OFF;
		p->nr_stuck -= *pr == PROT_STUCK;
		*pr = PROT_ON;
	}
	return prop_backend_leave(p, 0);
}

static inline int p_unprotect(void *opaque, uint64_t gpa, uint64_t size)
{
	struct prop *p = opaque;
	int err = prop_backend_enter(p);
	uint64_t g;

	for (g = gpa; g < gpa + size; g += 4096) {
		uint8_t *pr = &p->prot[(g - RAM_GPA) >> 12];

		if (g < RAM_GPA || g >= RAM_GPA + RAM_SIZE || *pr != PROT_ON)
			ck_abort_msg("%s step %lu: page %#llx unprotected, not "
				     "protected", p->label, p->step,
				     (unsigned long long)g);
		/* Refused: the page stays protected, and the library no
		 * longer counts it (its stores are served as gap accesses). */
		if (err) {
			*pr = PROT_STUCK;
			p->nr_stuck++;
			continue;
		}
		*pr = PROT_OFF;
		p->nr_prot--;
	}
	return prop_backend_leave(p, err);
}

static const struct wpt_protect_ops p_protect_ops = { p_protect, p_unprotect };

static inline void p_quiesce(void *opaque)
{
	((struct prop *)opaque)->quiesced++;
}

static inline void p_resume(void *opaque)
{
	struct prop *p = opaque;

	if (!p->quiesced)
		ck_abort_msg("%s step %lu: resume() without quiesce()", p->label,
			     p->step);
	p->quiesced--;
}

static const struct wpt_quiesce_ops p_quiesce_ops = { p_quiesce, p_resume };

/* A guest store: trapped if its page is protected now, as KVM would; or,
 * now and then, the VMM's own write followed by wpt_vm_host_wrote. */
static inline int p_store(void *opaque, uint64_t gpa, const void *bytes,
			  unsigned int len)
{
	struct prop *p = opaque;
	uint8_t buf[16];
	int ret;

	if (p->hooks && p->hooks->host_write_one_in &&
	    !gm_rng_below(&p->host_rng, p->hooks->host_write_one_in)) {
		memcpy(p->ram + (gpa - RAM_GPA), bytes, len);
		prop_lib(p, true);
		ret = wpt_vm_host_wrote(p->vm, gpa, len);
		prop_lib(p, false);
		prop_result(p, ret, "host write");
		return 0;
	}
	if (!p->prot[(gpa - RAM_GPA) >> 12]) {
		memcpy(p->ram + (gpa - RAM_GPA), bytes, len);
		return 0;
	}
	memcpy(buf, bytes, len);
	prop_lib(p, true);
	ret = wpt_vm_handle_mmio(p->vm, gpa, buf, len, 1);
	prop_lib(p, false);
	prop_result(p, ret, "trapped store");
	ck_assert_msg(ret == 1 || (p->tolerant && ret < 0),
		      "%s step %lu (%s): trapped store %#llx/%u: %d",
		      p->label, p->step, p->what, (unsigned long long)gpa, len,
		      ret);
	return 0;
}

static inline int p_invalidate(void *opaque, unsigned int d, uint64_t iova,
			       uint64_t size)
{
	struct prop *p = opaque;
	int ret;

	prop_lib(p, true);
	ret = size ? wpt_domain_invalidate(p->d[d], iova, size)
		   : wpt_domain_invalidate_all(p->d[d]);
	prop_lib(p, false);
	prop_result(p, ret, "invalidate");
	return 0;
}

static inline int p_set_root(void *opaque, unsigned int d, uint64_t gpa)
{
	struct prop *p = opaque;
	int ret;

	prop_lib(p, true);
	ret = wpt_domain_set_root(p->d[d], gpa);
	prop_lib(p, false);
	prop_result(p, ret, "set_root");
	p->root[d] = gpa;
	return 0;
}

static const struct gm_ops p_gm_ops = { p_store, p_invalidate, p_set_root };

/* --------------------------------------------------------- checks */

static inline int u64_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

static inline void scratch(struct prop *p, size_t n)
{
	if (n <= p->cap)
		return;
	p->cap = 2 * n;
	p->a = realloc(p->a, p->cap * sizeof(*p->a));
	p->b = realloc(p->b, p->cap * sizeof(*p->b));
	ck_assert(p->a && p->b);
}

struct collect {
	struct wpt_mapping *out;
	size_t n, max;
};

static inline int collect_one(void *opaque, const struct wpt_mapping *m)
{
	struct collect *c = opaque;

	if (c->n < c->max)
		c->out[c->n] = *m;
	c->n++;
	return 0;
}

/* The shadow against the sink: what the library says the sink holds
 * (wpt_domain_foreach_mapping) is what it holds, left in p->a; how many. */
static inline size_t check_shadow_is_sink(struct prop *p, unsigned int d)
{
	char msg[512], why[400];
	struct collect c;
	long n;

	n = wpt_sink_record_get(p->sink[d], NULL, 0);
	ck_assert_int_ge(n, 0);
	scratch(p, (size_t)n + 1);
	ck_assert_int_eq(wpt_sink_record_get(p->sink[d], p->a, p->cap), n);
	c = (struct collect){ p->b, 0, p->cap };
	ck_assert_int_eq(wpt_domain_foreach_mapping(p->d[d], collect_one, &c), 0);
	if (c.n > p->cap || oracle_compare(p->a, (size_t)n, p->b, c.n, why,
					   sizeof(why)))
		FAIL(p, "d%u shadow (%zu) differs from sink (%ld): %s", d, c.n,
		     n, c.n > p->cap ? "too many" : why);
	return (size_t)n;
}

/* The sink against the oracle, and the shadow against the sink. */
static inline void check_domain_maps(struct prop *p, unsigned int d)
{
	struct oracle *o = &p->o[d];
	char msg[512], why[400];
	size_t n = check_shadow_is_sink(p, d), ns;

	/* A faulted domain maps nothing new: what its sink still holds
	 * (unmaps it refused) is what the library lists, checked above. */
	if (wpt_domain_error(p->d[d]))
		return;
	ns = oracle_normalize(p->a, n);
	if (p->mode[d] == WPT_MODE_HYBRID) {
		const struct gm_range *pend;
		size_t np = gm_pending(p->m, d, &pend);
		struct oracle_range *r = malloc((np + 1) * sizeof(*r));
		size_t i;

		ck_assert_ptr_nonnull(r);
		for (i = 0; i < np; i++)
			r[i] = (struct oracle_range){ pend[i].iova, pend[i].size };
		if (oracle_compare_pending(o->maps, o->nr_maps, p->a, ns, r, np,
					   why, sizeof(why)))
			FAIL(p, "d%u (hybrid) sink vs oracle: %s", d, why);
		free(r);
	} else if (oracle_compare(o->maps, o->nr_maps, p->a, ns, why,
				  sizeof(why))) {
		FAIL(p, "d%u sink vs oracle: %s", d, why);
	}
}

struct tables {
	struct oracle_table *t;
	size_t n, cap;
};

static inline int table_one(void *opaque, uint64_t gpa, uint64_t size,
		     unsigned int uses)
{
	struct tables *x = opaque;

	if (x->n == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 64;
		x->t = realloc(x->t, x->cap * sizeof(*x->t));
		if (!x->t)
			return -ENOMEM;
	}
	x->t[x->n++] = (struct oracle_table){ gpa, size, uses };
	return 0;
}

static inline int table_cmp(const void *a, const void *b)
{
	const struct oracle_table *x = a, *y = b;

	if (x->gpa != y->gpa)
		return x->gpa < y->gpa ? -1 : 1;
	return x->size < y->size ? -1 : x->size > y->size;
}

static inline void table_str(char *buf, size_t len, const struct oracle_table *t)
{
	if (!t)
		snprintf(buf, len, "(none)");
	else
		snprintf(buf, len, "%#llx/%#llx uses %u",
			 (unsigned long long)t->gpa,
			 (unsigned long long)t->size, t->uses);
}

/* Tracked tables == reachable tables, uses counted (INVAL domains too:
 * the model has sent every invalidation it owes by now). */
static inline void check_tables(struct prop *p)
{
	struct oracle_table *want;
	struct tables got = { 0 };
	char msg[512], a[80], b[80];
	long nw = oracle_tables(p->o, NR_DOMS, &want);
	size_t i;

	ck_assert_int_ge(nw, 0);
	ck_assert_int_eq(wpt_vm_foreach_table(p->vm, table_one, &got), 0);
	if (got.n)
		qsort(got.t, got.n, sizeof(*got.t), table_cmp);
	for (i = 0; i < (size_t)nw || i < got.n; i++) {
		const struct oracle_table *x = i < (size_t)nw ? &want[i] : NULL;
		const struct oracle_table *y = i < got.n ? &got.t[i] : NULL;

		if (x && y && !table_cmp(x, y) && x->uses == y->uses)
			continue;
		table_str(a, sizeof(a), x);
		table_str(b, sizeof(b), y);
		FAIL(p, "table %zu of %ld reachable / %zu tracked: reachable "
		     "%s, tracked %s", i, nw, got.n, a, b);
	}
	free(want);
	free(got.t);
}

/* Pages the backend protects that the library no longer counts: an
 * unprotect it could not make (refused, or not recorded for want of
 * memory) leaves them so, and costs only exits.  Counted as stuck. */
static inline void prop_adopt_lost(struct prop *p)
{
	uint64_t i;

	for (i = 0; i < PAGES; i++) {
		if (p->prot[i] != PROT_ON ||
		    wpt_vm_page_protected(p->vm, RAM_GPA + (i << 12)))
			continue;
		p->prot[i] = PROT_STUCK;
		p->nr_stuck++;
	}
}

/* Protected pages == pages of tables a TRAP or HYBRID domain uses. */
static inline void check_protection(struct prop *p)
{
	uint64_t *pages = NULL, nr = 0, cap = 0, i, k;
	unsigned int d;
	char msg[256];

	for (d = 0; d < NR_DOMS; d++) {
		if (p->mode[d] == WPT_MODE_INVAL)
			continue;
		for (i = 0; i < p->o[d].nr_uses; i++) {
			const struct oracle_use *u = &p->o[d].uses[i];
			uint64_t g;

			for (g = u->gpa & ~0xfffull; g < u->gpa + u->size;
			     g += 4096) {
				if (nr == cap) {
					cap = cap ? 2 * cap : 256;
					pages = realloc(pages, cap * sizeof(*pages));
					ck_assert_ptr_nonnull(pages);
				}
				pages[nr++] = g;
			}
		}
	}
	if (nr) /* qsort's base must not be NULL, even for no elements */
		qsort(pages, nr, sizeof(*pages), u64_cmp);
	for (i = 0, k = 0; i < nr; i++) {
		if (k && pages[k - 1] == pages[i])
			continue;
		pages[k++] = pages[i];
		if (p->prot[(pages[i] - RAM_GPA) >> 12] != PROT_ON ||
		    wpt_vm_page_protected(p->vm, pages[i]) != 1)
			FAIL(p, "table page %#llx not protected (backend %d, "
			     "library %d)", (unsigned long long)pages[i],
			     p->prot[(pages[i] - RAM_GPA) >> 12],
			     wpt_vm_page_protected(p->vm, pages[i]));
	}
	if (p->tolerant)
		prop_adopt_lost(p);
	if (k != p->nr_prot - p->nr_stuck)
		FAIL(p, "%llu pages protected (and %llu left protected by a "
		     "refused unprotect), %llu hold tables of trapping domains",
		     (unsigned long long)(p->nr_prot - p->nr_stuck),
		     (unsigned long long)p->nr_stuck, (unsigned long long)k);
	free(pages);
}

static inline void check_all(struct prop *p)
{
	struct oracle_ram ram = { p->ram, RAM_GPA, RAM_SIZE };
	char msg[256];
	unsigned int d;
	long v;

	for (d = 0; d < NR_DOMS; d++) {
		oracle_reset(&p->o[d]);
		/* A faulted domain uses no table: it walks nothing here, so
		 * the tables and protection checks leave it out. */
		if (wpt_domain_error(p->d[d]) && p->tolerant)
			continue;
		ck_assert_int_eq(oracle_walk(&p->o[d], p->fmt, gm_geo(p->m), &ram,
					     p->root[d], d, 1ull << 24), 0);
		p->o[d].nr_maps = oracle_normalize(p->o[d].maps, p->o[d].nr_maps);
	}
	for (d = 0; d < NR_DOMS; d++) {
		if (wpt_domain_error(p->d[d]) && !p->tolerant)
			FAIL(p, "d%u faulted: %d", d, wpt_domain_error(p->d[d]));
		check_domain_maps(p, d);
		if (wpt_domain_error(p->d[d]))
			continue;
		v = wpt_domain_verify(p->d[d]);
		if (v)
			FAIL(p, "d%u: wpt_domain_verify = %ld", d, v);
	}
	check_tables(p);
	check_protection(p);
}

/* ------------------------------------------------------------ runs */

static const enum wpt_mode mode_sets[][NR_DOMS] = {
	{ WPT_MODE_TRAP, WPT_MODE_TRAP },     { WPT_MODE_INVAL, WPT_MODE_INVAL },
	{ WPT_MODE_HYBRID, WPT_MODE_HYBRID }, { WPT_MODE_TRAP, WPT_MODE_INVAL },
	{ WPT_MODE_HYBRID, WPT_MODE_INVAL },  { WPT_MODE_TRAP, WPT_MODE_HYBRID },
};
#define NR_MODE_SETS (sizeof(mode_sets) / sizeof(mode_sets[0]))
static const uint32_t granules[] = { 4096, 16384, 65536 };
#define NR_CONFIGS (2 * 3 * NR_MODE_SETS)

static inline const char *mode_name(enum wpt_mode m)
{
	return m == WPT_MODE_TRAP ? "trap" : m == WPT_MODE_INVAL ? "inval"
								 : "hybrid";
}

static inline uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : dflt;
}

/* A valid format for f and granule, its IAS, OAS, HPD, SL and concat
 * drawn from the seed. */
static inline void pick_format(struct gm_rng *r, enum wpt_format f, uint32_t granule,
			struct wpt_format_cfg *c)
{
	const struct wpt_format_ops *ops = wpt_format_lookup(f);
	struct wpt_pgtable_geo geo;
	int tries;

	for (tries = 0; tries < 1000; tries++) {
		*c = (struct wpt_format_cfg){
			.size = sizeof(*c), .format = f, .granule = granule,
			.ias = 25 + (uint32_t)gm_rng_below(r, 24),
			/* RAM ends at 2 GiB: every OAS from 32 holds it. */
			.oas = 32 + (uint32_t)gm_rng_below(r, 17), .sl = -1,
		};
		if (f == WPT_FMT_ARM_LPAE_S1 && gm_rng_below(r, 3) == 0)
			c->flags = WPT_FMT_F_HPD;
		if (f == WPT_FMT_ARM_LPAE_S2 && gm_rng_below(r, 2))
			c->sl = (int32_t)gm_rng_below(r, 4);
		if (!ops->init(c, &geo))
			return;
	}
	ck_abort_msg("no valid format found");
}

/* A VM, two domains of config's modes and format, and the guest model,
 * not started yet; hooks may be NULL. */
static inline struct prop *prop_create(unsigned int config, uint64_t seed,
				       const struct prop_hooks *hooks)
{
	struct prop *p = calloc(1, sizeof(*p));
	unsigned int ms = config % NR_MODE_SETS, d;
	enum wpt_format f = config / NR_MODE_SETS % 2 ? WPT_FMT_ARM_LPAE_S2
						      : WPT_FMT_ARM_LPAE_S1;
	uint32_t granule = granules[config / NR_MODE_SETS / 2];
	struct wpt_ram_region region;
	struct wpt_vm_cfg vc = { .size = sizeof(vc) };
	struct gm_cfg gc = {
		.ram_gpa = RAM_GPA, .ram_size = RAM_SIZE,
		.arena_gpa = RAM_GPA + RAM_SIZE - ARENA_SIZE,
		.arena_size = ARENA_SIZE, .nr_domains = NR_DOMS,
		.seed = seed, .ops = &p_gm_ops,
	};
	struct gm_rng r;

	ck_assert_ptr_nonnull(p);
	p->hooks = hooks;
	p->tolerant = hooks && hooks->tolerant;
	gm_rng_seed(&p->host_rng, seed ^ 0x4057);
	gm_rng_seed(&r, seed ^ 0x5eed);
	pick_format(&r, f, granule, &gc.fmt);
	p->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert(p->ram != MAP_FAILED);
	p->prot = calloc(PAGES, 1);
	ck_assert_ptr_nonnull(p->prot);
	region = (struct wpt_ram_region){ RAM_GPA, RAM_SIZE, p->ram };
	vc.regions = &region;
	vc.nr_regions = 1;
	vc.protect_ops = &p_protect_ops;
	vc.protect_opaque = p;
	if (hooks && hooks->quiesce) {
		vc.quiesce = &p_quiesce_ops;
		vc.quiesce_opaque = p;
	}
	ck_assert_int_eq(wpt_vm_new(&vc, &p->vm), 0);
	p->fmt = wpt_format_lookup(f);
	snprintf(p->label, sizeof(p->label),
		 "config %u (%s %uk ias=%u oas=%u hpd=%d sl=%d %s+%s) seed %llu",
		 config, f == WPT_FMT_ARM_LPAE_S1 ? "s1" : "s2", granule / 1024,
		 gc.fmt.ias, gc.fmt.oas, !!gc.fmt.flags, gc.fmt.sl,
		 mode_name(mode_sets[ms][0]), mode_name(mode_sets[ms][1]),
		 (unsigned long long)seed);
	for (d = 0; d < NR_DOMS; d++) {
		p->mode[d] = gc.mode[d] = mode_sets[ms][d];
		ck_assert_int_eq(wpt_sink_record_new(&p->sink[d]), 0);
		p->dsink[d] = hooks && hooks->sink_for ? hooks->sink_for(p, d)
						       : p->sink[d];
		ck_assert_int_eq(wpt_domain_new(p->vm, &gc.fmt, p->dsink[d],
						p->mode[d], &p->d[d]), 0);
		oracle_init(&p->o[d]);
	}
	gc.ram = p->ram;
	gc.opaque = p;
	ck_assert_int_eq(gm_new(&gc, &p->m), 0);
	return p;
}

/* The guest gives every domain an empty root. */
static inline void prop_start(struct prop *p)
{
	snprintf(p->what, sizeof(p->what), "start");
	ck_assert_int_eq(gm_start(p->m), 0);
}

static inline struct prop *prop_new(unsigned int config, uint64_t seed)
{
	struct prop *p = prop_create(config, seed, NULL);

	prop_start(p);
	check_all(p);
	return p;
}

static inline void prop_free(struct prop *p)
{
	unsigned int d;

	for (d = 0; d < NR_DOMS; d++) {
		wpt_domain_free(p->d[d]); /* NULL if the test destroyed it */
		if (p->dsink[d] != p->sink[d])
			wpt_sink_free(p->dsink[d]);
		wpt_sink_free(p->sink[d]);
		oracle_fini(&p->o[d]);
	}
	wpt_vm_free(p->vm);
	gm_free(p->m);
	munmap(p->ram, RAM_SIZE);
	free(p->prot);
	free(p->a);
	free(p->b);
	free(p);
}


#endif
