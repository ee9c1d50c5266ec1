/* SPDX-License-Identifier: MIT */
/*
 * The randomized property test: a simulated SMMUv3 guest driver
 * (sim/guest_model) drives the real library through guest-like
 * operation sequences, and after EVERY operation the library is held to
 * the design's invariants against a naive full walk (sim/oracle):
 *  - the sink holds what the tables map (HYBRID: plus removals the guest
 *    has not invalidated yet, and nothing else);
 *  - the shadow's view is exactly the sink's list;
 *  - wpt_domain_verify() finds nothing, no domain is faulted;
 *  - the tracked tables are the reachable ones, uses counted;
 *  - the protected pages are exactly the pages of tables a TRAP or HYBRID
 *    domain uses.
 * Every granule, both stages, every mode and mixed modes, two domains
 * that share tables.  A failure names the config, seed and step; rerun
 * with WPT_PROPERTY_SEED=N to vary seeds, WPT_PROPERTY_OPS=N to change the
 * total number of operations (default 16000).
 */
#include <check.h>
#include <errno.h>
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
#define DEFAULT_OPS 16000

struct prop {
	uint8_t *ram;
	uint8_t *prot;      /* one byte per 4 KiB page: protected now */
	uint64_t nr_prot;
	struct wpt_vm *vm;
	struct wpt_domain *d[NR_DOMS];
	struct wpt_sink *sink[NR_DOMS];
	enum wpt_mode mode[NR_DOMS];
	const struct wpt_format_ops *fmt;
	struct gm *m;
	uint64_t root[NR_DOMS];
	struct oracle o[NR_DOMS];
	char label[160];    /* config, seed */
	unsigned long step;
	char what[192];
	/* scratch */
	struct wpt_mapping *a, *b;
	size_t cap;
};

/* ------------------------------------------------------ callbacks */

static int p_protect(void *opaque, uint64_t gpa, uint64_t size)
{
	struct prop *p = opaque;
	uint64_t g;

	for (g = gpa; g < gpa + size; g += 4096) {
		ck_assert_msg(g >= RAM_GPA && g < RAM_GPA + RAM_SIZE,
			      "%s: protect outside RAM %#llx", p->label,
			      (unsigned long long)g);
		ck_assert_msg(!p->prot[(g - RAM_GPA) >> 12],
			      "%s step %lu: page %#llx protected twice",
			      p->label, p->step, (unsigned long long)g);
		p->prot[(g - RAM_GPA) >> 12] = 1;
		p->nr_prot++;
	}
	return 0;
}

static int p_unprotect(void *opaque, uint64_t gpa, uint64_t size)
{
	struct prop *p = opaque;
	uint64_t g;

	for (g = gpa; g < gpa + size; g += 4096) {
		ck_assert_msg(g >= RAM_GPA && g < RAM_GPA + RAM_SIZE &&
			      p->prot[(g - RAM_GPA) >> 12],
			      "%s step %lu: page %#llx unprotected, not protected",
			      p->label, p->step, (unsigned long long)g);
		p->prot[(g - RAM_GPA) >> 12] = 0;
		p->nr_prot--;
	}
	return 0;
}

static const struct wpt_protect_ops p_protect_ops = { p_protect, p_unprotect };

/* A guest store: trapped if its page is protected now, as KVM would. */
static int p_store(void *opaque, uint64_t gpa, const void *bytes,
		   unsigned int len)
{
	struct prop *p = opaque;
	uint8_t buf[16];

	if (!p->prot[(gpa - RAM_GPA) >> 12]) {
		memcpy(p->ram + (gpa - RAM_GPA), bytes, len);
		return 0;
	}
	memcpy(buf, bytes, len);
	ck_assert_msg(wpt_vm_handle_mmio(p->vm, gpa, buf, len, 1) == 1,
		      "%s step %lu (%s): trapped store %#llx/%u not handled",
		      p->label, p->step, p->what, (unsigned long long)gpa, len);
	return 0;
}

static int p_invalidate(void *opaque, unsigned int d, uint64_t iova,
			uint64_t size)
{
	struct prop *p = opaque;
	int ret = size ? wpt_domain_invalidate(p->d[d], iova, size)
		       : wpt_domain_invalidate_all(p->d[d]);

	ck_assert_msg(ret == 0, "%s step %lu (%s): invalidate d%u: %d",
		      p->label, p->step, p->what, d, ret);
	return 0;
}

static int p_set_root(void *opaque, unsigned int d, uint64_t gpa)
{
	struct prop *p = opaque;
	int ret = wpt_domain_set_root(p->d[d], gpa);

	ck_assert_msg(ret == 0, "%s step %lu (%s): set_root d%u %#llx: %d",
		      p->label, p->step, p->what, d, (unsigned long long)gpa,
		      ret);
	p->root[d] = gpa;
	return 0;
}

static const struct gm_ops p_gm_ops = { p_store, p_invalidate, p_set_root };

/* --------------------------------------------------------- checks */

static int u64_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

static void scratch(struct prop *p, size_t n)
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

static int collect_one(void *opaque, const struct wpt_mapping *m)
{
	struct collect *c = opaque;

	if (c->n < c->max)
		c->out[c->n] = *m;
	c->n++;
	return 0;
}

#define FAIL(p, ...) \
	ck_abort_msg("%s step %lu (%s): %s", (p)->label, (p)->step, (p)->what, \
		     (snprintf(msg, sizeof(msg), __VA_ARGS__), msg))

/* The sink against the oracle, and the shadow against the sink. */
static void check_domain_maps(struct prop *p, unsigned int d)
{
	struct oracle *o = &p->o[d];
	char msg[512], why[400];
	struct collect c;
	long n;
	size_t ns;

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
	ns = oracle_normalize(p->a, (size_t)n);
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

static int table_one(void *opaque, uint64_t gpa, uint64_t size,
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

static int table_cmp(const void *a, const void *b)
{
	const struct oracle_table *x = a, *y = b;

	if (x->gpa != y->gpa)
		return x->gpa < y->gpa ? -1 : 1;
	return x->size < y->size ? -1 : x->size > y->size;
}

static void table_str(char *buf, size_t len, const struct oracle_table *t)
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
static void check_tables(struct prop *p)
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

/* Protected pages == pages of tables a TRAP or HYBRID domain uses. */
static void check_protection(struct prop *p)
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
		if (!p->prot[(pages[i] - RAM_GPA) >> 12] ||
		    wpt_vm_page_protected(p->vm, pages[i]) != 1)
			FAIL(p, "table page %#llx not protected (backend %d, "
			     "library %d)", (unsigned long long)pages[i],
			     p->prot[(pages[i] - RAM_GPA) >> 12],
			     wpt_vm_page_protected(p->vm, pages[i]));
	}
	if (k != p->nr_prot)
		FAIL(p, "%llu pages protected, %llu hold tables of trapping "
		     "domains", (unsigned long long)p->nr_prot,
		     (unsigned long long)k);
	free(pages);
}

static void check_all(struct prop *p)
{
	struct oracle_ram ram = { p->ram, RAM_GPA, RAM_SIZE };
	char msg[256];
	unsigned int d;
	long v;

	for (d = 0; d < NR_DOMS; d++) {
		oracle_reset(&p->o[d]);
		ck_assert_int_eq(oracle_walk(&p->o[d], p->fmt, gm_geo(p->m), &ram,
					     p->root[d], d, 1ull << 24), 0);
		p->o[d].nr_maps = oracle_normalize(p->o[d].maps, p->o[d].nr_maps);
	}
	for (d = 0; d < NR_DOMS; d++) {
		if (wpt_domain_error(p->d[d]))
			FAIL(p, "d%u faulted: %d", d, wpt_domain_error(p->d[d]));
		check_domain_maps(p, d);
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
#define SEEDS_PER_CONFIG 2

static const char *mode_name(enum wpt_mode m)
{
	return m == WPT_MODE_TRAP ? "trap" : m == WPT_MODE_INVAL ? "inval"
								 : "hybrid";
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : dflt;
}

/* A valid format for f and granule, its IAS, OAS, HPD, SL and concat
 * drawn from the seed. */
static void pick_format(struct gm_rng *r, enum wpt_format f, uint32_t granule,
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

static struct prop *prop_new(unsigned int config, uint64_t seed)
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
		ck_assert_int_eq(wpt_domain_new(p->vm, &gc.fmt, p->sink[d],
						p->mode[d], &p->d[d]), 0);
		oracle_init(&p->o[d]);
	}
	gc.ram = p->ram;
	gc.opaque = p;
	ck_assert_int_eq(gm_new(&gc, &p->m), 0);
	snprintf(p->what, sizeof(p->what), "start");
	ck_assert_int_eq(gm_start(p->m), 0);
	check_all(p);
	return p;
}

static void prop_free(struct prop *p)
{
	unsigned int d;

	for (d = 0; d < NR_DOMS; d++) {
		wpt_domain_free(p->d[d]);
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

START_TEST(test_property)
{
	uint64_t total = env_u64("WPT_PROPERTY_OPS", DEFAULT_OPS);
	uint64_t base = env_u64("WPT_PROPERTY_SEED", 1);
	uint64_t ops = total / (NR_CONFIGS * SEEDS_PER_CONFIG) + 1;
	unsigned int k;

	for (k = 0; k < SEEDS_PER_CONFIG; k++) {
		struct prop *p = prop_new((unsigned int)_i,
					  base * 1000003 + _i * 101 + k);

		for (p->step = 1; p->step <= ops; p->step++) {
			int ret;

			snprintf(p->what, sizeof(p->what), "(choosing)");
			ret = gm_step(p->m, p->what, sizeof(p->what));
			ck_assert_msg(ret == 0, "%s step %lu (%s): model: %d",
				      p->label, p->step, p->what, ret);
			check_all(p);
		}
		prop_free(p);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("property");
	TCase *tc = tcase_create("guest-like sequences");
	SRunner *sr;
	int failed;

	/* Each config runs in its own forked test; the budget is the whole
	 * run's (about a minute by default), scaled by WPT_PROPERTY_OPS. */
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_property, 0, NR_CONFIGS);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
