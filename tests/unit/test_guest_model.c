/* SPDX-License-Identifier: MIT */
/*
 * The property test's own footing: the guest model and the oracle, held
 * against each other without the library.
 *  - directed moves: a map shows up in the oracle, a partial unmap splits
 *    a block into exactly the rest, a whole-table unmap frees the table;
 *  - random runs: every store is aligned and in RAM; every table page the
 *    model holds is reachable (no leak, no dangling parent); and in INVAL
 *    mode a naive mirror fed only by the model's invalidations always
 *    equals the oracle (the model owes the library nothing it did not
 *    send).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sim/guest_model.h"
#include "sim/oracle.h"

#define RAM_GPA 0x40000000ull
#define RAM_SIZE (1ull << 30)
#define ARENA_SIZE (32ull << 20)
#define MAXM 4096

struct env {
	uint8_t *ram;
	struct gm *m;
	const struct wpt_format_ops *fmt;
	unsigned int nr_domains;
	uint64_t root[GM_MAX_DOMAINS];
	/* INVAL mirror: what invalidations have told, per domain. */
	struct wpt_mapping mirror[GM_MAX_DOMAINS][MAXM];
	size_t nr_mirror[GM_MAX_DOMAINS];
	bool mirror_on;
};

static struct oracle_ram env_ram(const struct env *e)
{
	return (struct oracle_ram){ e->ram, RAM_GPA, RAM_SIZE };
}

static void env_walk(struct env *e, unsigned int d, struct oracle *o)
{
	struct oracle_ram r = env_ram(e);

	oracle_reset(o);
	ck_assert_int_eq(oracle_walk(o, e->fmt, gm_geo(e->m), &r, e->root[d], d,
				     1ull << 26), 0);
	o->nr_maps = oracle_normalize(o->maps, o->nr_maps);
}

static int st_store(void *opaque, uint64_t gpa, const void *b, unsigned len)
{
	struct env *e = opaque;

	ck_assert_msg(len == 1 || len == 2 || len == 4 || len == 8 || len == 16,
		      "store len %u", len);
	ck_assert_msg(gpa % len == 0, "unaligned store %llx/%u",
		      (unsigned long long)gpa, len);
	ck_assert(gpa >= RAM_GPA && gpa + len <= RAM_GPA + RAM_SIZE);
	memcpy(e->ram + (gpa - RAM_GPA), b, len);
	return 0;
}

/* mirror[d] := mirror[d] outside [iova, iova + size) + the oracle inside. */
static void mirror_refresh(struct env *e, unsigned int d, uint64_t iova,
			   uint64_t size)
{
	struct wpt_mapping *mm = e->mirror[d], out[MAXM];
	uint64_t end = size ? iova + size : UINT64_MAX;
	struct oracle o;
	size_t i, n = 0;

	if (!size)
		iova = 0;
	oracle_init(&o);
	env_walk(e, d, &o);
	for (i = 0; i < e->nr_mirror[d]; i++) {
		struct wpt_mapping x = mm[i];
		uint64_t xe = x.iova + x.size;

		if (xe <= iova || x.iova >= end) {
			out[n++] = x;
			continue;
		}
		if (x.iova < iova)
			out[n++] = (struct wpt_mapping){ x.iova, x.gpa,
							 iova - x.iova, x.perm };
		if (xe > end)
			out[n++] = (struct wpt_mapping){
				end, x.gpa + (end - x.iova), xe - end, x.perm };
	}
	for (i = 0; i < o.nr_maps; i++) {
		struct wpt_mapping x = o.maps[i];
		uint64_t lo = x.iova > iova ? x.iova : iova;
		uint64_t hi = x.iova + x.size < end ? x.iova + x.size : end;

		if (lo < hi)
			out[n++] = (struct wpt_mapping){
				lo, x.gpa + (lo - x.iova), hi - lo, x.perm };
		ck_assert(n < MAXM);
	}
	e->nr_mirror[d] = oracle_normalize(out, n);
	memcpy(mm, out, e->nr_mirror[d] * sizeof(*out));
	oracle_fini(&o);
}

static int st_inval(void *opaque, unsigned int d, uint64_t iova, uint64_t size)
{
	struct env *e = opaque;

	ck_assert_uint_lt(d, e->nr_domains);
	if (e->mirror_on)
		mirror_refresh(e, d, iova, size);
	return 0;
}

static int st_root(void *opaque, unsigned int d, uint64_t gpa)
{
	struct env *e = opaque;

	ck_assert_uint_eq(gpa % gm_geo(e->m)->root_size, 0);
	e->root[d] = gpa;
	return 0;
}

static const struct gm_ops st_ops = { st_store, st_inval, st_root };

static struct env *env_new(enum wpt_format f, uint32_t granule, uint32_t ias,
			   enum wpt_mode mode, unsigned int nr_domains,
			   uint64_t seed)
{
	struct env *e = calloc(1, sizeof(*e));
	struct gm_cfg c = {
		.ram_gpa = RAM_GPA, .ram_size = RAM_SIZE,
		.arena_gpa = RAM_GPA + RAM_SIZE - ARENA_SIZE,
		.arena_size = ARENA_SIZE, .nr_domains = nr_domains,
		.seed = seed, .ops = &st_ops,
	};
	unsigned int d;

	ck_assert_ptr_nonnull(e);
	e->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert(e->ram != MAP_FAILED);
	c.ram = e->ram;
	c.opaque = e;
	c.fmt = (struct wpt_format_cfg){ .size = sizeof(c.fmt), .format = f,
					 .granule = granule, .ias = ias,
					 .oas = 40, .sl = -1 };
	for (d = 0; d < nr_domains; d++)
		c.mode[d] = mode;
	e->fmt = wpt_format_lookup(f);
	e->nr_domains = nr_domains;
	e->mirror_on = mode == WPT_MODE_INVAL;
	ck_assert_int_eq(gm_new(&c, &e->m), 0);
	ck_assert_int_eq(gm_start(e->m), 0);
	return e;
}

static void env_free(struct env *e)
{
	gm_free(e->m);
	munmap(e->ram, RAM_SIZE);
	free(e);
}

START_TEST(test_map_shows_in_oracle)
{
	struct env *e = env_new(WPT_FMT_ARM_LPAE_S1, 4096, 39, WPT_MODE_TRAP, 1, 1);
	struct oracle o;

	oracle_init(&o);
	ck_assert_int_eq(gm_map(e->m, 0, 0x200000, RAM_GPA + 0x5000, 0x3000,
				WPT_PERM_READ), 0);
	ck_assert_int_eq(gm_map(e->m, 0, 0x200000, RAM_GPA, 0x1000,
				WPT_PERM_READ), -EEXIST);
	env_walk(e, 0, &o);
	ck_assert_uint_eq(o.nr_maps, 1);
	ck_assert_uint_eq(o.maps[0].iova, 0x200000);
	ck_assert_uint_eq(o.maps[0].gpa, RAM_GPA + 0x5000);
	ck_assert_uint_eq(o.maps[0].size, 0x3000);
	ck_assert_uint_eq(o.maps[0].perm, WPT_PERM_READ);
	/* Root (level 1), level 2 and level 3 tables. */
	ck_assert_uint_eq(o.nr_uses, 3);
	oracle_fini(&o);
	env_free(e);
}
END_TEST

/* A 1 GiB block loses one 4K page: the split leaves 511 2M blocks and 511
 * pages, which normalize back to two runs around the hole. */
START_TEST(test_split_block)
{
	struct env *e = env_new(WPT_FMT_ARM_LPAE_S1, 4096, 39, WPT_MODE_TRAP, 1, 2);
	uint64_t iova = 1ull << 30, hole = iova + (5ull << 21) + 0x3000;
	struct oracle o;

	oracle_init(&o);
	ck_assert_int_eq(gm_map(e->m, 0, iova, RAM_GPA, 1ull << 30,
				WPT_PERM_READ | WPT_PERM_WRITE), 0);
	ck_assert_uint_eq(gm_tables_in_use(e->m), 1);
	ck_assert_int_eq(gm_unmap(e->m, 0, hole, 0x1000), 0);
	ck_assert_uint_eq(gm_tables_in_use(e->m), 3);
	env_walk(e, 0, &o);
	ck_assert_uint_eq(o.nr_maps, 2);
	ck_assert_uint_eq(o.maps[0].iova, iova);
	ck_assert_uint_eq(o.maps[0].size, hole - iova);
	ck_assert_uint_eq(o.maps[1].iova, hole + 0x1000);
	ck_assert_uint_eq(o.maps[1].gpa, RAM_GPA + (hole + 0x1000 - iova));
	ck_assert_uint_eq(o.maps[1].size, iova + (1ull << 30) - hole - 0x1000);
	oracle_fini(&o);
	env_free(e);
}
END_TEST

/* Unmapping a 2M-aligned run of 512 pages clears the level 2 entry and
 * frees the level 3 table. */
START_TEST(test_whole_table_unmap_frees)
{
	struct env *e = env_new(WPT_FMT_ARM_LPAE_S2, 4096, 40, WPT_MODE_TRAP, 1, 3);
	struct oracle o;

	oracle_init(&o);
	ck_assert_int_eq(gm_map(e->m, 0, 0x400000, RAM_GPA + 0x1000, 0x200000,
				WPT_PERM_WRITE), 0);
	ck_assert_int_eq(gm_map(e->m, 0, 0x600000, RAM_GPA, 0x1000,
				WPT_PERM_READ), 0);
	ck_assert_uint_eq(gm_tables_in_use(e->m), 2 + 1 + 2);
	ck_assert_int_eq(gm_unmap(e->m, 0, 0x400000, 0x200000), 0);
	ck_assert_uint_eq(gm_tables_in_use(e->m), 2 + 1 + 1);
	env_walk(e, 0, &o);
	ck_assert_uint_eq(o.nr_maps, 1);
	ck_assert_uint_eq(o.maps[0].iova, 0x600000);
	oracle_fini(&o);
	env_free(e);
}
END_TEST

static void check_no_leak(struct env *e)
{
	struct oracle o[GM_MAX_DOMAINS];
	struct oracle_table *t;
	uint64_t pages = 0, g = 1ull << gm_geo(e->m)->granule_shift;
	unsigned int d;
	long n, i;

	for (d = 0; d < e->nr_domains; d++) {
		oracle_init(&o[d]);
		env_walk(e, d, &o[d]);
	}
	n = oracle_tables(o, e->nr_domains, &t);
	ck_assert_int_ge(n, 0);
	for (i = 0; i < n; i++)
		pages += t[i].size > g ? t[i].size / g : 1;
	ck_assert_uint_eq(pages, gm_tables_in_use(e->m));
	free(t);
	for (d = 0; d < e->nr_domains; d++) {
		if (e->mirror_on) {
			char msg[256];

			ck_assert_msg(!oracle_compare(o[d].maps, o[d].nr_maps,
						      e->mirror[d],
						      e->nr_mirror[d], msg,
						      sizeof(msg)),
				      "d%u: mirror vs oracle: %s", d, msg);
		}
		oracle_fini(&o[d]);
	}
}

static const struct { enum wpt_format f; uint32_t granule, ias; } runs[] = {
	{ WPT_FMT_ARM_LPAE_S1, 4096, 39 },  { WPT_FMT_ARM_LPAE_S1, 4096, 32 },
	{ WPT_FMT_ARM_LPAE_S1, 16384, 36 }, { WPT_FMT_ARM_LPAE_S1, 65536, 42 },
	{ WPT_FMT_ARM_LPAE_S2, 4096, 40 },  { WPT_FMT_ARM_LPAE_S2, 16384, 40 },
	{ WPT_FMT_ARM_LPAE_S2, 65536, 34 },
};

START_TEST(test_random_runs)
{
	static const enum wpt_mode modes[] = { WPT_MODE_INVAL, WPT_MODE_HYBRID };
	unsigned int mi, step;

	for (mi = 0; mi < 2; mi++) {
		struct env *e = env_new(runs[_i].f, runs[_i].granule,
					runs[_i].ias, modes[mi], 2, 100 + _i);
		char what[160];

		for (step = 0; step < 400; step++) {
			int ret = gm_step(e->m, what, sizeof(what));

			ck_assert_msg(ret == 0, "run %d step %u %s: %d", _i,
				      step, what, ret);
			check_no_leak(e);
		}
		env_free(e);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("guest_model");
	TCase *tc = tcase_create("model");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_map_shows_in_oracle);
	tcase_add_test(tc, test_split_block);
	tcase_add_test(tc, test_whole_table_unmap_frees);
	tcase_add_loop_test(tc, test_random_runs, 0,
			    sizeof(runs) / sizeof(runs[0]));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
