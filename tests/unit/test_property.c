/* SPDX-License-Identifier: MIT */
/*
 * The randomized property test: a simulated SMMUv3 guest driver
 * (sim/guest_model) drives the real library through guest-like
 * operation sequences, and after EVERY operation the library is held to
 * the design's invariants against a naive full walk (unit/prop.h says
 * which), with no domain faulted.
 * Every granule, both stages, every mode and mixed modes, two domains
 * that share tables.  A failure names the config, seed and step; rerun
 * with WPT_PROPERTY_SEED=N to vary seeds, WPT_PROPERTY_OPS=N to change the
 * total number of operations (default 16000).
 */
#include "unit/prop.h"

#define DEFAULT_OPS 16000
#define SEEDS_PER_CONFIG 2

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
