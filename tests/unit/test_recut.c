/* SPDX-License-Identifier: MIT */
/*
 * The re-cut window (wpt_quiesce_ops) without KVM: a fake VMM whose
 * "vCPUs" are threads marking when they are inside KVM_RUN, over the
 * callback backend.  Every protect and unprotect must reach the backend
 * inside a quiesce .. resume window with no vCPU inside KVM_RUN; quiesce
 * must be called without the VM lock; a store made between a table's
 * snapshot and its re-cut must not be lost; vCPU threads that trap and
 * re-cut themselves, while another changes roots through a slow sink,
 * must never deadlock (every wait bounded); a failed re-cut faults the
 * domain; relaxed mode lets pages go and protects them again only inside
 * windows; without the ops the backend is called at once, as before.
 */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "protect/defer.h"

#define B FX_RAM_GPA
#define ROOT (B + 0x10000)
#define L1 (B + 0x11000)
#define L2 (B + 0x12000)
#define L3 (B + 0x13000)  /* L3 + k * 0x1000: vCPU k's table */
#define ROOT2 (B + 0x20000) /* a second domain's root, over L1 */
#define DATA (B + 0x800000)
#define E(t, i) ((t) + 8 * (i))
#define NR_VCPUS 2
#define WAIT_S 20         /* bound of every wait here */

/* The fake VMM: a pause count and how many vCPUs are inside KVM_RUN. */
struct fake {
	struct fx *f;
	pthread_mutex_t m;
	pthread_cond_t cv;
	int paused;
	int in_run;
	uint64_t quiesces, resumes;
	uint64_t calls_outside;   /* backend calls with vCPUs free to run */
	uint64_t calls_in_window;
	/* Called inside quiesce, after the vCPUs are out (a test's probe). */
	void (*in_quiesce)(struct fake *k);
	int lock_free_in_quiesce; /* -1 not probed, 0 no, 1 yes */
	uint64_t store_gpa, store_val; /* one guest store before the re-cut */
};

static void fake_quiesce(void *o)
{
	struct fake *k = o;

	pthread_mutex_lock(&k->m);
	k->paused++;
	k->quiesces++;
	/* Only vCPUs inside KVM_RUN are waited for (wpt.h's rule). */
	while (k->in_run)
		pthread_cond_wait(&k->cv, &k->m);
	pthread_mutex_unlock(&k->m);
	if (k->in_quiesce)
		k->in_quiesce(k);
}

static void fake_resume(void *o)
{
	struct fake *k = o;

	pthread_mutex_lock(&k->m);
	k->paused--;
	k->resumes++;
	pthread_cond_broadcast(&k->cv);
	pthread_mutex_unlock(&k->m);
}

static const struct wpt_quiesce_ops fake_ops = {
	.quiesce = fake_quiesce,
	.resume = fake_resume,
};

static void fake_backend_hook(struct fx *f, int protect)
{
	struct fake *k = f->user;

	pthread_mutex_lock(&k->m);
	if (!k->paused || k->in_run)
		k->calls_outside++;
	else
		k->calls_in_window++;
	pthread_mutex_unlock(&k->m);
}

static struct fake *fake_new(bool with_ops)
{
	struct fake *k = calloc(1, sizeof(*k));
	struct wpt_vm_cfg cfg = { .size = sizeof(cfg) };

	ck_assert_ptr_nonnull(k);
	pthread_mutex_init(&k->m, NULL);
	pthread_cond_init(&k->cv, NULL);
	k->lock_free_in_quiesce = -1;
	if (with_ops) {
		cfg.quiesce = &fake_ops;
		cfg.quiesce_opaque = k;
	}
	k->f = fx_new_cfg(cfg);
	k->f->hook = fake_backend_hook;
	k->f->user = k;
	return k;
}

static void fake_free(struct fake *k)
{
	fx_free(k->f);
	free(k);
}

static uint64_t vm_quiesces(struct fake *k)
{
	struct wpt_vm_stats st;

	ck_assert_int_eq(wpt_vm_stats(k->f->vm, &st, sizeof(st)), 0);
	return st.quiesces;
}

/* ROOT -> L1 -> L2 -> L3 with one page mapped at IOVA 0. */
static struct wpt_domain *tree(struct fake *k, struct wpt_sink **s)
{
	struct fx *f = k->f;
	struct wpt_domain *d = fx_domain(f, s, WPT_MODE_TRAP, 4096, 48);

	*fx_desc(f, E(ROOT, 0)) = s1_table(L1);
	*fx_desc(f, E(L1, 0)) = s1_table(L2);
	*fx_desc(f, E(L2, 0)) = s1_table(L3);
	*fx_desc(f, E(L3, 0)) = s1_page(DATA);
	return d;
}

START_TEST(recuts_only_in_window)
{
	struct fake *k = fake_new(true);
	struct wpt_sink *s;
	struct wpt_domain *d = tree(k, &s);
	uint64_t v = s1_table(L3 + 0x1000);

	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert(fx_prot(k->f, ROOT) && fx_prot(k->f, L3));
	/* A trapped store that links a table: protected on return. */
	ck_assert_int_eq(wpt_vm_handle_mmio(k->f->vm, E(L2, 1), &v, 8, 1), 1);
	ck_assert(fx_prot(k->f, L3 + 0x1000));
	v = 0;
	ck_assert_int_eq(wpt_vm_handle_mmio(k->f->vm, E(L2, 1), &v, 8, 1), 1);
	ck_assert(!fx_prot(k->f, L3 + 0x1000));
	ck_assert_int_eq(wpt_domain_clear_root(d), 0);
	ck_assert(!fx_prot(k->f, ROOT) && !fx_prot(k->f, L3));
	ck_assert_uint_eq(k->calls_outside, 0);
	ck_assert_uint_ge(k->calls_in_window, 4);
	ck_assert_uint_eq(k->quiesces, k->resumes);
	ck_assert_uint_eq(k->quiesces, vm_quiesces(k));
	/* One window per call that changed protection, none otherwise. */
	ck_assert_uint_eq(k->quiesces, 4);
	ck_assert_int_eq(wpt_domain_invalidate_all(d), 0);
	ck_assert_uint_eq(k->quiesces, 4);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fake_free(k);
}
END_TEST

/* Without the ops, the backend is called at once (inside the operation,
 * vCPUs running): the behaviour of a VMM that gives none. */
START_TEST(without_ops_at_once)
{
	struct fake *k = fake_new(false);
	struct wpt_sink *s;
	struct wpt_domain *d = tree(k, &s);

	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert(fx_prot(k->f, L3));
	ck_assert_uint_eq(k->quiesces, 0);
	ck_assert_uint_eq(vm_quiesces(k), 0);
	ck_assert_uint_eq(k->calls_in_window, 0);
	ck_assert_uint_ge(k->calls_outside, 1);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fake_free(k);
}
END_TEST

static void *stats_probe(void *o)
{
	struct fake *k = o;
	struct wpt_vm_stats st;

	wpt_vm_stats(k->f->vm, &st, sizeof(st)); /* takes the VM lock */
	return NULL;
}

/* Is the VM lock free while quiesce runs?  A thread that takes it must
 * finish within a bound (if the lock were held, it finishes only after
 * the quiesce returns, and the join after the call collects it). */
static void probe_lock(struct fake *k)
{
	struct timespec end;
	pthread_t t;
	int free_now;

	ck_assert_int_eq(pthread_create(&t, NULL, stats_probe, k), 0);
	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += 2;
	free_now = pthread_timedjoin_np(t, NULL, &end) == 0;
	if (!free_now)
		pthread_detach(t);
	/* Once seen held, the test fails whatever later windows see. */
	if (k->lock_free_in_quiesce != 0)
		k->lock_free_in_quiesce = free_now;
}

START_TEST(quiesce_without_vm_lock)
{
	struct fake *k = fake_new(true);
	struct wpt_sink *s;
	struct wpt_domain *d = tree(k, &s);

	k->in_quiesce = probe_lock;
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert_msg(k->lock_free_in_quiesce == 1, "quiesce was called "
		      "with the VM lock held (a thread taking it waited 2 s)");
	k->in_quiesce = NULL;
	wpt_domain_free(d);
	wpt_sink_free(s);
	fake_free(k);
}
END_TEST

/* A vCPU stores to the new table before it is kicked: the page is not
 * read-only yet, so the store goes straight to RAM, after the walk read
 * the table.  The rescan after the re-cut must find it. */
static void store_before_recut(struct fake *k)
{
	*fx_desc(k->f, k->store_gpa) = k->store_val;
}

START_TEST(store_before_recut_not_lost)
{
	struct fake *k = fake_new(true);
	struct wpt_sink *s;
	struct wpt_domain *d = tree(k, &s);
	struct wpt_mapping m[4];
	uint64_t v = s1_table(L3 + 0x1000);

	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	*fx_desc(k->f, E(L3 + 0x1000, 0)) = 0;
	k->store_gpa = E(L3 + 0x1000, 5);
	k->store_val = s1_page(DATA + 0x5000);
	k->in_quiesce = store_before_recut;
	/* The guest links L3 + 0x1000 at IOVA 2 MiB. */
	ck_assert_int_eq(wpt_vm_handle_mmio(k->f->vm, E(L2, 1), &v, 8, 1), 1);
	k->in_quiesce = NULL;
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	ck_assert_int_eq(wpt_sink_record_get(s, m, 4), 2);
	ck_assert_uint_eq(m[1].iova, (2ull << 20) + 0x5000);
	ck_assert_uint_eq(m[1].gpa, DATA + 0x5000);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fake_free(k);
}
END_TEST

static void fail_next_protect(struct fake *k)
{
	k->f->fail_protect = -ENOSPC;
}

/* The re-cut fails inside the window: the domain trapping on the page
 * faults, as it would have at once; the books stay balanced (fx asserts
 * every page is protected once and unprotected once), and the domain
 * starts afresh at its next root. */
START_TEST(failed_recut_faults_domain)
{
	struct fake *k = fake_new(true);
	struct wpt_sink *s;
	struct wpt_domain *d = tree(k, &s);

	k->in_quiesce = fail_next_protect;
	wpt_domain_set_root(d, ROOT);
	k->in_quiesce = NULL;
	ck_assert_int_eq(wpt_domain_error(d), -ENOSPC);
	ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), 0);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert_int_eq(wpt_domain_error(d), 0);
	ck_assert(fx_prot(k->f, ROOT) && fx_prot(k->f, L3));
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	ck_assert_uint_eq(k->calls_outside, 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fake_free(k);
}
END_TEST

/* A single step's page is writable when begin returns and protected
 * again when end returns, each change in a window. */
START_TEST(step_in_window)
{
	struct fake *k = fake_new(true);
	struct wpt_sink *s;
	struct wpt_domain *d = tree(k, &s);
	struct wpt_step st;

	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert_int_eq(wpt_vm_step_begin(k->f->vm, E(L3, 7), &st), 1);
	ck_assert_uint_eq(st.page_gpa, L3);
	ck_assert(!fx_prot(k->f, L3));
	*fx_desc(k->f, E(L3, 7)) = s1_page(DATA + 0x7000); /* the step */
	ck_assert_int_eq(wpt_vm_step_end(k->f->vm, &st), 0);
	ck_assert(fx_prot(k->f, L3));
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), 2);
	ck_assert_uint_eq(k->calls_outside, 0);
	wpt_domain_free(d);
	wpt_sink_free(s);
	fake_free(k);
}
END_TEST

/* ------------------------------------------------- threads */

struct vcpu {
	struct fake *k;
	int id;
	unsigned int rounds;
	int err;
};

/* A vCPU loop: "KVM_RUN" (held while paused), then an exit whose store
 * links or unlinks its own L3 table, re-cutting from its own thread. */
static void *vcpu_thread(void *o)
{
	struct vcpu *c = o;
	struct fake *k = c->k;
	uint64_t table = L3 + (c->id + 1) * 0x1000ull;
	unsigned int i;

	for (i = 0; i < c->rounds && !c->err; i++) {
		uint64_t v = i & 1 ? 0 : s1_table(table);
		int r;

		pthread_mutex_lock(&k->m);
		while (k->paused)
			pthread_cond_wait(&k->cv, &k->m);
		k->in_run++;
		pthread_mutex_unlock(&k->m);
		pthread_mutex_lock(&k->m);
		k->in_run--;
		pthread_cond_broadcast(&k->cv);
		pthread_mutex_unlock(&k->m);
		r = wpt_vm_handle_mmio(k->f->vm, E(L2, c->id + 1), &v, 8, 1);
		if (r != 1)
			c->err = r ? r : -EPROTO;
	}
	return NULL;
}

static int slow_map(void *o, uint64_t iova, uint64_t gpa, void *hva,
		    uint64_t size, uint32_t perm)
{
	usleep(50); /* under the VM lock: vCPUs queue on it */
	return 0;
}

static int slow_unmap(void *o, uint64_t iova, uint64_t size)
{
	usleep(50);
	return 0;
}

static const struct wpt_sink_ops slow_ops = { slow_map, slow_unmap };

struct host {
	struct fake *k;
	struct wpt_domain *d;
	int stop;             /* atomic */
	unsigned int switches;
	int err;
};

static void *host_thread(void *o)
{
	struct host *h = o;

	while ((!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE) ||
		h->switches < 200) && !h->err) {
		h->err = wpt_domain_set_root(h->d, ROOT2);
		if (!h->err)
			h->err = wpt_domain_clear_root(h->d);
		h->switches++;
	}
	return NULL;
}

static void join_bounded(pthread_t t, const char *what)
{
	struct timespec end;

	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += WAIT_S;
	ck_assert_msg(pthread_timedjoin_np(t, NULL, &end) == 0,
		      "%s did not finish within %d s: a quiesce waits for a "
		      "thread that waits for it", what, WAIT_S);
}

START_TEST(threads_never_deadlock)
{
	struct fake *k = fake_new(true);
	struct wpt_sink *s, *slow;
	struct wpt_domain *d = tree(k, &s), *d2;
	struct wpt_format_cfg c = { .size = sizeof(c),
				    .format = WPT_FMT_ARM_LPAE_S1,
				    .granule = 4096, .ias = 48, .oas = 48,
				    .sl = -1 };
	struct vcpu v[NR_VCPUS];
	struct host h = { .k = k };
	pthread_t tv[NR_VCPUS], th;
	int i;

	for (i = 0; i < NR_VCPUS; i++)
		*fx_desc(k->f, E(L3 + (i + 1) * 0x1000ull, 0)) =
			s1_page(DATA + (i + 1) * 0x1000ull);
	*fx_desc(k->f, E(ROOT2, 0)) = s1_table(L1);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert_int_eq(wpt_sink_callback_new(&slow_ops, NULL, &slow), 0);
	ck_assert_int_eq(wpt_domain_new(k->f->vm, &c, slow, WPT_MODE_TRAP,
					&h.d), 0);
	d2 = h.d;
	ck_assert_int_eq(pthread_create(&th, NULL, host_thread, &h), 0);
	for (i = 0; i < NR_VCPUS; i++) {
		v[i] = (struct vcpu){ .k = k, .id = i, .rounds = 400 };
		ck_assert_int_eq(pthread_create(&tv[i], NULL, vcpu_thread,
						&v[i]), 0);
	}
	for (i = 0; i < NR_VCPUS; i++)
		join_bounded(tv[i], "a vCPU thread");
	__atomic_store_n(&h.stop, 1, __ATOMIC_RELEASE);
	join_bounded(th, "the root-switching thread");
	for (i = 0; i < NR_VCPUS; i++)
		ck_assert_msg(!v[i].err, "vCPU %d: %s", i, strerror(-v[i].err));
	ck_assert_msg(!h.err, "host: %s", strerror(-h.err));
	ck_assert_uint_eq(k->calls_outside, 0);
	ck_assert_uint_ge(k->calls_in_window, 2 * 400 + h.switches);
	ck_assert_uint_eq(k->quiesces, k->resumes);
	ck_assert_int_eq(k->paused, 0);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	fprintf(stderr, "# %llu windows, %llu backend calls in them, %u "
		"root switches\n", (unsigned long long)k->quiesces,
		(unsigned long long)k->calls_in_window, h.switches);
	wpt_domain_free(d2);
	wpt_domain_free(d);
	wpt_sink_free(slow);
	wpt_sink_free(s);
	fake_free(k);
}
END_TEST

/* ------------------------------------------------------ relaxed mode */

static long sink_pages(struct wpt_sink *s)
{
	struct wpt_mapping m[64];
	long n = wpt_sink_record_get(s, m, 64), i, pages = 0;

	ck_assert_int_le(n, 64);
	for (i = 0; i < n; i++)
		pages += (long)(m[i].size >> 12);
	return pages;
}

/*
 * Relaxed mode under quiesce: letting a leaf table go and protecting it
 * again at a sync point are re-cuts like any other, made only inside a
 * window, from a trapped store, a doorbell and wpt_vm_sync alike; the
 * sink agrees with the tables at every sync point, and a store made
 * while the page is protected again still traps.
 */
START_TEST(relaxed_recuts_in_window)
{
	struct fake *k = fake_new(true);
	struct fx *f = k->f;
	struct wpt_sink *s;
	struct wpt_domain *d;
	uint64_t v = 1, q, i, bell = 0xd0000000ull;

	*fx_desc(f, E(ROOT, 0)) = s1_table(L1);
	*fx_desc(f, E(L1, 0)) = s1_table(L2);
	*fx_desc(f, E(L2, 0)) = s1_table(L3);
	d = fx_domain(f, &s, WPT_MODE_RELAXED, 4096, 48);
	ck_assert_int_eq(wpt_domain_set_root(d, ROOT), 0);
	ck_assert_int_eq(wpt_vm_add_doorbell(f->vm, bell, 0x1000), 0);
	ck_assert(fx_prot(f, L3));
	/* The second trapped store lets L3 go: one window. */
	q = k->quiesces;
	fx_store64(f, E(L3, 0), s1_page(DATA));
	fx_store64(f, E(L3, 1), s1_page(DATA + 0x1000));
	ck_assert(!fx_prot(f, L3));
	ck_assert_uint_eq(k->quiesces, q + 1);
	for (i = 2; i < 64; i++)
		fx_store64(f, E(L3, i), s1_page(DATA + i * 0x1000));
	ck_assert_int_eq(sink_pages(s), 2);
	/* The doorbell: every map in the sink before the device hears. */
	ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, bell, &v, 8, 1), 0);
	ck_assert_int_eq(sink_pages(s), 64);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	/* Quiet since: protected again at the next sync point, in a window. */
	q = k->quiesces;
	ck_assert_int_eq(wpt_vm_sync(f->vm), 0);
	ck_assert(fx_prot(f, L3));
	ck_assert_uint_eq(k->quiesces, q + 1);
	/* Protected again: an unmap traps and reaches the sink at once. */
	fx_store64(f, E(L3, 5), 0);
	ck_assert_int_eq(sink_pages(s), 63);
	ck_assert_int_eq(wpt_domain_verify(d), 0);
	ck_assert_int_eq(wpt_domain_error(d), 0);
	ck_assert_uint_eq(k->calls_outside, 0);
	ck_assert_uint_ge(k->calls_in_window, 2);
	ck_assert_uint_eq(k->quiesces, k->resumes);
	ck_assert_uint_eq(k->quiesces, vm_quiesces(k));
	wpt_domain_free(d);
	wpt_sink_free(s);
	fake_free(k);
}
END_TEST

/* ------------------------------------------------- the record's fold */

START_TEST(defer_folds_runs)
{
	struct protect_defer q = { 0 };
	struct defer_change *run;
	size_t n;

	ck_assert_int_eq(defer_record(&q, 0x1000, 0x2000, true), 0);
	ck_assert_int_eq(defer_record(&q, 0x1000, 0x1000, false), 0);
	ck_assert_int_eq(defer_record(&q, 0x3000, 0x1000, true), 0);
	ck_assert_int_eq(defer_record(&q, 0x8000, 0x1000, false), 0);
	ck_assert_int_eq(defer_record(&q, 0x5000, 0x1000, true), 0);
	ck_assert_int_eq(defer_record(&q, 0x5000, 0x1000, false), 0);
	ck_assert(defer_pending(&q));
	n = defer_take(&q, &run);
	ck_assert(!defer_pending(&q));
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(run[0].gpa, 0x2000);
	ck_assert_uint_eq(run[0].seq, 2); /* pages */
	ck_assert(run[0].on);
	ck_assert_uint_eq(run[1].gpa, 0x8000);
	ck_assert_uint_eq(run[1].seq, 1);
	ck_assert(!run[1].on);
	free(run);
	/* Recording goes on after a take. */
	ck_assert_int_eq(defer_record(&q, 0x1000, 0x1000, false), 0);
	n = defer_take(&q, &run);
	ck_assert_uint_eq(n, 1);
	free(run);
	defer_fini(&q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("recut");
	TCase *tc = tcase_create("window");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, recuts_only_in_window);
	tcase_add_test(tc, without_ops_at_once);
	tcase_add_test(tc, quiesce_without_vm_lock);
	tcase_add_test(tc, store_before_recut_not_lost);
	tcase_add_test(tc, failed_recut_faults_domain);
	tcase_add_test(tc, step_in_window);
	tcase_add_test(tc, threads_never_deadlock);
	tcase_add_test(tc, relaxed_recuts_in_window);
	tcase_add_test(tc, defer_folds_runs);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
