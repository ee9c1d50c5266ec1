/* SPDX-License-Identifier: MIT */
/*
 * Concurrency stress, without KVM: several "vCPU" threads store to the
 * tables of several domains (trapped through wpt_vm_handle_mmio when the
 * page is protected, straight to RAM when not), to untracked RAM and to
 * device MMIO, while one thread invalidates (INVAL and HYBRID domains) and
 * reads counters and another switches roots, for a bounded time.  Some
 * sinks sleep in some calls (a slow VFIO), one domain keeps hitting its
 * leaf limit (faulting and being reset by root switches).  Built with
 * TSAN=1 the run is checked by ThreadSanitizer, with SAN=1 by ASan (a page
 * the lock-free lookup returned after it was freed shows up in either).
 *
 * At the end, threads joined, the oracle: every domain verifies against a
 * full walk (wpt_domain_verify == 0), its shadow equals what its sink
 * holds, the sink holds what the guest model maps, and every page the
 * library says is protected is protected and no other.
 *
 * The guest model keeps a lock per group of tables (a "model": one tree,
 * used by one or two domains), so the guest's own stores are well-formed:
 * this tests the library's concurrency, not a guest racing itself on one
 * descriptor.  Protection mimics KVM's: a store checks the page's state
 * and writes RAM under a read lock that protect() takes for writing, so a
 * store never lands in RAM after protect() returned (KVM's memslot update
 * waits for vCPUs the same way).
 *
 * WPT_STRESS_SECONDS (default 3) sets how long the threads run.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "wpt.h"
#include "wpt_internal.h"
#include "sink/sink.h"
#include "core.h" /* struct wpt_page; urcu-bp */
#include "pageindex.h"

#define RAM_GPA 0x40000000ull
#define RAM_SIZE (16ull << 20)
#define NR_PAGES (RAM_SIZE >> 12)
#define PAGE 4096ull
#define BLOCK (2ull << 20)
#define POOL_PAGES 64            /* table pages per model */
#define POOL_GPA(m) (RAM_GPA + (uint64_t)(m) * POOL_PAGES * PAGE)
#define DATA_GPA (RAM_GPA + (8ull << 20)) /* leaves point here (2 MiB) */
#define SCRATCH_GPA (RAM_GPA + (12ull << 20)) /* untracked RAM, a page per writer */
#define MMIO_GPA 0x10000000ull   /* device MMIO: not RAM */
#define NR_SLOTS 16              /* 2 MiB slots of IOVA per model */
#define NR_MODELS 5
#define NR_WRITERS 3
#define LIMITED_LEAVES 24        /* the faulting domain's max_leaves */

#define S1_AF (1ull << 10)
#define s1_table(gpa) ((uint64_t)(gpa) | 3)
#define s1_page(gpa) ((uint64_t)(gpa) | 3 | S1_AF)
#define s1_block(gpa) ((uint64_t)(gpa) | 1 | S1_AF)

/* A sink that sleeps in some calls and records into an inner recording
 * sink (called under the VM lock, like every sink). */
struct slow_sink {
	struct wpt_sink *inner;
	uint64_t calls;
	unsigned int every;   /* sleep in one call out of every */
	long sleep_ns;
	int in_call;          /* atomic: inside map/unmap now */
};

struct dom {
	const char *name;
	enum wpt_mode mode;
	struct wpt_domain *d;
	struct wpt_sink *sink;
	struct wpt_sink *record; /* what to compare: sink or slow->inner */
	struct slow_sink *slow;
	bool limited;            /* may fault: -E2BIG */
};

struct model {
	pthread_mutex_t lock;    /* the guest's lock over these tables */
	uint64_t root, alt, cur, l2;
	bool used[POOL_PAGES];
	uint64_t l3[NR_SLOTS];   /* GPA of the slot's level 3 table, or 0 */
	bool block[NR_SLOTS];
	uint16_t nr_mapped[NR_SLOTS];
	bool mapped[NR_SLOTS][512];
	unsigned int nd;
	struct dom *dom[2];
};

struct stress {
	uint8_t *ram;
	/* Protection (KVM's memslots): prot[] under prot_lock; stores take
	 * it for reading, protect/unprotect for writing. */
	pthread_rwlock_t prot_lock;
	uint8_t prot[NR_PAGES];
	struct wpt_vm *vm;
	struct model m[NR_MODELS];
	struct dom dom[8];
	unsigned int nd;
	struct slow_sink slow[2];
	int stop;                /* atomic */
	/* Errors found on threads, reported after the join (atomic). */
	uint64_t errors;
	char first_error[256];
	pthread_mutex_t err_lock;
	/* What each thread did (atomic). */
	uint64_t stores, trapped, untracked, mmio, invals, switches, faults;
	uint64_t lookups;
};

static void report(struct stress *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void report(struct stress *s, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->err_lock);
	if (!s->errors++) {
		va_start(ap, fmt);
		vsnprintf(s->first_error, sizeof(s->first_error), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&s->err_lock);
}

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool stopping(struct stress *s)
{
	return __atomic_load_n(&s->stop, __ATOMIC_RELAXED);
}

static void count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/* ---- protection, as KVM read-only slots ---- */

static int st_protect(void *o, uint64_t gpa, uint64_t size)
{
	struct stress *s = o;
	uint64_t p;

	pthread_rwlock_wrlock(&s->prot_lock);
	for (p = gpa; p < gpa + size; p += PAGE) {
		if (s->prot[(p - RAM_GPA) >> 12])
			report(s, "page %llx protected twice",
			     (unsigned long long)p);
		s->prot[(p - RAM_GPA) >> 12] = 1;
	}
	pthread_rwlock_unlock(&s->prot_lock);
	return 0;
}

static int st_unprotect(void *o, uint64_t gpa, uint64_t size)
{
	struct stress *s = o;
	uint64_t p;

	pthread_rwlock_wrlock(&s->prot_lock);
	for (p = gpa; p < gpa + size; p += PAGE) {
		if (!s->prot[(p - RAM_GPA) >> 12])
			report(s, "page %llx unprotected twice",
			     (unsigned long long)p);
		s->prot[(p - RAM_GPA) >> 12] = 0;
	}
	pthread_rwlock_unlock(&s->prot_lock);
	return 0;
}

static const struct wpt_protect_ops st_protect_ops = {
	.protect = st_protect,
	.unprotect = st_unprotect,
};

static uint64_t *hva_of(struct stress *s, uint64_t gpa)
{
	return (uint64_t *)(s->ram + (gpa - RAM_GPA));
}

/* The guest stores n (1 or 2) aligned 8-byte words at gpa (inside one
 * page): to RAM if the page is writable, else through the exit path. */
static void guest_store(struct stress *s, uint64_t gpa, const uint64_t *v,
			unsigned int n)
{
	uint64_t buf[2] = { v[0], n > 1 ? v[1] : 0 };
	unsigned int i;
	int ret;

	count(&s->stores);
	pthread_rwlock_rdlock(&s->prot_lock);
	if (!s->prot[(gpa - RAM_GPA) >> 12]) {
		for (i = 0; i < n; i++)
			__atomic_store_n(hva_of(s, gpa) + i, v[i],
					 __ATOMIC_RELAXED);
		pthread_rwlock_unlock(&s->prot_lock);
		return;
	}
	pthread_rwlock_unlock(&s->prot_lock);
	/* The page may be unprotected before the exit is handled: then the
	 * library serves it as an access in a slot gap, still correct. */
	count(&s->trapped);
	ret = wpt_vm_handle_mmio(s->vm, gpa, buf, 8 * n, 1);
	if (ret != 1)
		report(s, "handle_mmio(%llx, %u bytes) = %d",
		     (unsigned long long)gpa, 8 * n, ret);
}

static void guest_store64(struct stress *s, uint64_t gpa, uint64_t v)
{
	guest_store(s, gpa, &v, 1);
}

/* ---- sinks ---- */

static void slow_maybe_sleep(struct slow_sink *k)
{
	__atomic_store_n(&k->in_call, 1, __ATOMIC_SEQ_CST);
	if (k->every && !(++k->calls % k->every)) {
		struct timespec ts = { 0, k->sleep_ns };

		nanosleep(&ts, NULL);
	}
}

static int slow_map(void *o, uint64_t iova, uint64_t gpa, void *hva,
		    uint64_t size, uint32_t perm)
{
	struct slow_sink *k = o;
	int ret;

	slow_maybe_sleep(k);
	ret = wpt_sink_map(k->inner, iova, gpa, hva, size, perm);
	__atomic_store_n(&k->in_call, 0, __ATOMIC_SEQ_CST);
	return ret;
}

static int slow_unmap(void *o, uint64_t iova, uint64_t size)
{
	struct slow_sink *k = o;
	int ret;

	slow_maybe_sleep(k);
	ret = wpt_sink_unmap(k->inner, iova, size);
	__atomic_store_n(&k->in_call, 0, __ATOMIC_SEQ_CST);
	return ret;
}

static const struct wpt_sink_ops slow_ops = {
	.map = slow_map,
	.unmap = slow_unmap,
};

/* ---- setup ---- */

static struct stress *stress_new(void)
{
	struct stress *s = calloc(1, sizeof(*s));
	struct wpt_vm_cfg cfg = { .size = sizeof(cfg) };
	pthread_rwlockattr_t ra;
	struct wpt_ram_region r;

	ck_assert_ptr_nonnull(s);
	s->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(s->ram != MAP_FAILED);
	pthread_rwlockattr_init(&ra);
	/* Stores hold it briefly and often: let protect() in. */
	pthread_rwlockattr_setkind_np(
		&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&s->prot_lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&s->err_lock, NULL);
	r = (struct wpt_ram_region){ RAM_GPA, RAM_SIZE, s->ram };
	cfg.regions = &r;
	cfg.nr_regions = 1;
	cfg.protect_ops = &st_protect_ops;
	cfg.protect_opaque = s;
	ck_assert_int_eq(wpt_vm_new(&cfg, &s->vm), 0);
	return s;
}

static uint64_t pool_alloc(struct model *m, unsigned int mi)
{
	unsigned int i;

	for (i = 0; i < POOL_PAGES; i++) {
		if (!m->used[i]) {
			m->used[i] = true;
			return POOL_GPA(mi) + i * PAGE;
		}
	}
	return 0;
}

static void pool_free(struct model *m, unsigned int mi, uint64_t gpa)
{
	m->used[(gpa - POOL_GPA(mi)) / PAGE] = false;
}

static struct dom *dom_add(struct stress *s, struct model *m,
			   const char *name, enum wpt_mode mode, int slow,
			   bool limited)
{
	struct wpt_format_cfg c = {
		.size = sizeof(c), .format = WPT_FMT_ARM_LPAE_S1,
		.granule = 4096, .ias = 39, .oas = 48, .sl = -1,
	};
	struct dom *d = &s->dom[s->nd++];

	d->name = name;
	d->mode = mode;
	d->limited = limited;
	if (slow >= 0) {
		struct slow_sink *k = &s->slow[slow];

		ck_assert_int_eq(wpt_sink_record_new(&k->inner), 0);
		k->every = 16;
		k->sleep_ns = 300000; /* 0.3 ms: a slow VFIO map */
		ck_assert_int_eq(wpt_sink_callback_new(&slow_ops, k, &d->sink),
				 0);
		d->slow = k;
		d->record = k->inner;
	} else {
		ck_assert_int_eq(wpt_sink_record_new(&d->sink), 0);
		d->record = d->sink;
	}
	ck_assert_int_eq(wpt_domain_new(s->vm, &c, d->sink, mode, &d->d), 0);
	if (limited) {
		struct wpt_limits lim = { .max_leaves = LIMITED_LEAVES };

		ck_assert_int_eq(wpt_domain_set_limits(d->d, &lim), 0);
	}
	m->dom[m->nd++] = d;
	return d;
}

/*
 * The models: a TRAP domain; a TRAP domain (slow sink) and a HYBRID one
 * sharing every table; an INVAL domain; a HYBRID domain (slow sink); a
 * TRAP domain whose leaf limit the guest keeps exceeding.
 */
static void models_new(struct stress *s)
{
	unsigned int i, j;

	for (i = 0; i < NR_MODELS; i++) {
		struct model *m = &s->m[i];

		pthread_mutex_init(&m->lock, NULL);
		m->root = pool_alloc(m, i);
		m->alt = pool_alloc(m, i);
		m->l2 = pool_alloc(m, i);
		m->cur = m->root;
		*hva_of(s, m->root) = s1_table(m->l2);
	}
	dom_add(s, &s->m[0], "trap", WPT_MODE_TRAP, -1, false);
	dom_add(s, &s->m[1], "trap-slow-shared", WPT_MODE_TRAP, 0, false);
	dom_add(s, &s->m[1], "hybrid-shared", WPT_MODE_HYBRID, -1, false);
	dom_add(s, &s->m[2], "inval", WPT_MODE_INVAL, -1, false);
	dom_add(s, &s->m[3], "hybrid-slow", WPT_MODE_HYBRID, 1, false);
	dom_add(s, &s->m[4], "trap-limited", WPT_MODE_TRAP, -1, true);
	for (i = 0; i < NR_MODELS; i++)
		for (j = 0; j < s->m[i].nd; j++)
			ck_assert_int_eq(wpt_domain_set_root(s->m[i].dom[j]->d,
							     s->m[i].root), 0);
}

/* The return of a call that may meet a domain at its limit: 0, or (for
 * the limited domain) its fault. */
static void check_ret(struct stress *s, struct dom *d, const char *what,
		      int ret)
{
	if (ret && !(d->limited && ret == -E2BIG))
		report(s, "%s on %s: %d", what, d->name, ret);
}

/* ---- the guest's operations (model lock held) ---- */

/* The guest's invalidation after a change, for domains that need one. */
static void guest_inval(struct stress *s, struct model *m, uint64_t iova,
			uint64_t size, bool must)
{
	unsigned int j;

	for (j = 0; j < m->nd; j++) {
		struct dom *d = m->dom[j];

		if (d->mode == WPT_MODE_TRAP || (!must && (iova >> 21) & 1))
			continue;
		check_ret(s, d, "invalidate",
			  wpt_domain_invalidate(d->d, iova, size));
	}
}

static uint64_t leaf_gpa(unsigned int slot, unsigned int i)
{
	return DATA_GPA + (((slot * 7 + i) % 512) * PAGE);
}

/* One map or unmap of a page or a block in model mi. */
static void guest_op(struct stress *s, unsigned int mi, uint64_t *seed)
{
	struct model *m = &s->m[mi];
	uint64_t r = rnd(seed);
	unsigned int slot = r % NR_SLOTS, i = (r >> 8) % 512;
	uint64_t iova = (uint64_t)slot * BLOCK, l2e = m->l2 + 8 * slot;

	if (m->block[slot]) {
		guest_store64(s, l2e, 0);
		m->block[slot] = false;
		guest_inval(s, m, iova, BLOCK, true);
		return;
	}
	if (!m->l3[slot]) {
		uint64_t t;

		if (!(r >> 20 & 3)) {
			guest_store64(s, l2e, s1_block(DATA_GPA));
			m->block[slot] = true;
			guest_inval(s, m, iova, BLOCK, false);
			return;
		}
		t = pool_alloc(m, mi);
		if (!t)
			return;
		/* A fresh table (freed ones are all zero): fill, install. */
		guest_store64(s, t + 8 * i, s1_page(leaf_gpa(slot, i)));
		guest_store64(s, l2e, s1_table(t));
		m->l3[slot] = t;
		m->mapped[slot][i] = true;
		m->nr_mapped[slot] = 1;
		guest_inval(s, m, iova + i * PAGE, PAGE, false);
		return;
	}
	if (m->mapped[slot][i]) {
		guest_store64(s, m->l3[slot] + 8 * i, 0);
		m->mapped[slot][i] = false;
		if (--m->nr_mapped[slot]) {
			guest_inval(s, m, iova + i * PAGE, PAGE, true);
			return;
		}
		/* Empty: unlink and free it (after the invalidation a
		 * guest owes before reusing a table page). */
		guest_store64(s, l2e, 0);
		guest_inval(s, m, iova, BLOCK, true);
		pool_free(m, mi, m->l3[slot]);
		m->l3[slot] = 0;
		return;
	}
	if (!(i & 1) && !m->mapped[slot][i + 1] && (r >> 24 & 1)) {
		/* Two descriptors in one 16-byte store. */
		uint64_t v[2] = { s1_page(leaf_gpa(slot, i)),
				  s1_page(leaf_gpa(slot, i + 1)) };

		guest_store(s, m->l3[slot] + 8 * i, v, 2);
		m->mapped[slot][i] = m->mapped[slot][i + 1] = true;
		m->nr_mapped[slot] += 2;
	} else if (!(r >> 25 & 7)) {
		/* The VMM writes it (an emulated device's DMA), and says so. */
		uint64_t gpa = m->l3[slot] + 8 * i;
		int ret;

		__atomic_store_n(hva_of(s, gpa), s1_page(leaf_gpa(slot, i)),
				 __ATOMIC_RELAXED);
		ret = wpt_vm_host_wrote(s->vm, gpa, 8);
		if (ret && !(mi == 4 && ret == -E2BIG))
			report(s, "host_wrote: %d", ret);
		m->mapped[slot][i] = true;
		m->nr_mapped[slot]++;
	} else {
		guest_store64(s, m->l3[slot] + 8 * i,
			      s1_page(leaf_gpa(slot, i)));
		m->mapped[slot][i] = true;
		m->nr_mapped[slot]++;
	}
	guest_inval(s, m, iova + i * PAGE, 2 * PAGE, false);
}

/* ---- threads ---- */

struct writer {
	struct stress *s;
	unsigned int id;
};

static void *writer_thread(void *o)
{
	struct writer *w = o;
	struct stress *s = w->s;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (w->id + 1);
	uint64_t scratch = SCRATCH_GPA + w->id * PAGE;

	while (!stopping(s)) {
		uint64_t r = rnd(&seed);
		unsigned int mi = r % NR_MODELS;
		uint32_t v32 = (uint32_t)r;
		uint64_t v64 = r;
		int ret;

		switch (r >> 32 & 7) {
		case 0:
			/* RAM no table uses (a vCPU in a slot gap). */
			ret = wpt_vm_handle_mmio(s->vm, scratch + (r >> 40 & 0xff8),
						 &v64, 8, 1);
			ret += wpt_vm_handle_mmio(s->vm, scratch + (r >> 40 & 0xffc),
						  &v32, 4, 0) - 1;
			if (ret != 1)
				report(s, "untracked RAM access: %d", ret);
			count(&s->untracked);
			break;
		case 1:
			/* Device MMIO: not ours, no lock. */
			ret = wpt_vm_handle_mmio(s->vm, MMIO_GPA + (r >> 40 & 0xff8),
						 &v64, 8, 1);
			if (ret != 0)
				report(s, "device MMIO: %d", ret);
			count(&s->mmio);
			break;
		default:
			pthread_mutex_lock(&s->m[mi].lock);
			guest_op(s, mi, &seed);
			pthread_mutex_unlock(&s->m[mi].lock);
			break;
		}
	}
	return NULL;
}

static void read_counters(struct stress *s, struct dom *d)
{
	struct wpt_domain_stats ds;
	struct wpt_vm_stats vs;
	int err;

	if (wpt_vm_stats(s->vm, &vs, sizeof(vs)) ||
	    wpt_domain_stats(d->d, &ds, sizeof(ds)))
		report(s, "stats failed");
	err = wpt_domain_error(d->d);
	if (err && !(d->limited && err == -E2BIG))
		report(s, "%s: domain error %d", d->name, err);
	if (err)
		count(&s->faults);
}

/*
 * Lock-free lookups of exactly the pages that come and go: the VMM saying
 * it wrote a word of a table pool page (spurious or not, the library only
 * re-reads it).  Untracked pages are answered from the RCU table without
 * the lock, so this thread walks the hash chains while the others add and
 * free the same page entries: a page freed before its grace period shows
 * up as a use after free (ASan) or a race with the free (TSan).
 */
static void *lookup_thread(void *o)
{
	struct stress *s = o;
	uint64_t seed = 99, n = 0;

	while (!stopping(s)) {
		uint64_t r = rnd(&seed);
		uint64_t gpa = POOL_GPA(r % NR_MODELS) +
			       ((r >> 8) % POOL_PAGES) * PAGE + 8 * (r >> 20 & 511);
		int ret = wpt_vm_host_wrote(s->vm, gpa, 8);

		if (ret && ret != -E2BIG)
			report(s, "host_wrote(%llx) = %d",
			       (unsigned long long)gpa, ret);
		n++;
	}
	__atomic_store_n(&s->lookups, n, __ATOMIC_RELAXED);
	return NULL;
}

/* The VMM's invalidations (a global TLBI, a range), without the guest's
 * lock: spurious ones are legal; and readers of counters and errors. */
static void *inval_thread(void *o)
{
	struct stress *s = o;
	uint64_t seed = 77;

	while (!stopping(s)) {
		uint64_t r = rnd(&seed);
		struct dom *d = &s->dom[r % s->nd];
		uint64_t iova = (r >> 8) % (NR_SLOTS * BLOCK);
		struct timespec ts = { 0, 20000 };

		nanosleep(&ts, NULL); /* let the writers at the lock too */
		read_counters(s, d);
		if (d->mode == WPT_MODE_TRAP)
			continue;
		if (!(r >> 40 & 7))
			check_ret(s, d, "invalidate_all",
				  wpt_domain_invalidate_all(d->d));
		else
			check_ret(s, d, "invalidate",
				  wpt_domain_invalidate(d->d, iova & ~(PAGE - 1),
							(r >> 44 & 31) * PAGE +
								PAGE));
		count(&s->invals);
	}
	return NULL;
}

/* The VMM switching roots (a CFGI_CD): to the other root table of the
 * model (a copy sharing every subtree), or clear then set again. */
static void *root_thread(void *o)
{
	struct stress *s = o;
	uint64_t seed = 4242;

	while (!stopping(s)) {
		uint64_t r = rnd(&seed);
		struct model *m = &s->m[r % NR_MODELS];
		struct timespec ts = { 0, 1000000 };
		unsigned int j;

		pthread_mutex_lock(&m->lock);
		if (r >> 8 & 1) {
			uint64_t next = m->cur == m->root ? m->alt : m->root;

			guest_store64(s, next, s1_table(m->l2));
			for (j = 0; j < m->nd; j++)
				check_ret(s, m->dom[j], "set_root",
					  wpt_domain_set_root(m->dom[j]->d,
							      next));
			m->cur = next;
		} else {
			struct dom *d = m->dom[(r >> 9) % m->nd];

			check_ret(s, d, "clear_root",
				  wpt_domain_clear_root(d->d));
			check_ret(s, d, "set_root",
				  wpt_domain_set_root(d->d, m->cur));
		}
		pthread_mutex_unlock(&m->lock);
		count(&s->switches);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* ---- the oracle ---- */

struct mvec {
	struct wpt_mapping v[4096];
	long n;
};

static int collect(void *o, const struct wpt_mapping *mp)
{
	struct mvec *x = o;

	if (x->n >= 4096)
		return -E2BIG;
	x->v[x->n++] = *mp;
	return 0;
}

static uint64_t model_bytes(const struct model *m)
{
	uint64_t b = 0;
	unsigned int i;

	for (i = 0; i < NR_SLOTS; i++)
		b += m->block[i] ? BLOCK : m->nr_mapped[i] * PAGE;
	return b;
}

static void check_domain(struct stress *s, struct model *m, struct dom *d)
{
	static struct mvec shadow, sink;
	uint64_t bytes = 0;
	long i, v;
	int err;

	if (d->mode != WPT_MODE_TRAP)
		ck_assert_int_eq(wpt_domain_invalidate_all(d->d), 0);
	err = wpt_domain_error(d->d);
	if (d->limited && err) {
		/* Faulted: nothing of it stays mapped. */
		ck_assert_int_eq(err, -E2BIG);
		ck_assert_uint_gt(model_bytes(m), (LIMITED_LEAVES - 1) * PAGE);
		ck_assert_int_eq(wpt_sink_record_get(d->record, NULL, 0), 0);
		return;
	}
	ck_assert_msg(err == 0, "%s: error %d", d->name, err);
	v = wpt_domain_verify(d->d);
	ck_assert_msg(v == 0, "%s: verify %ld", d->name, v);
	shadow.n = 0;
	ck_assert_int_eq(wpt_domain_foreach_mapping(d->d, collect, &shadow), 0);
	sink.n = wpt_sink_record_get(d->record, sink.v, 4096);
	ck_assert_int_le(sink.n, 4096);
	ck_assert_msg(sink.n == shadow.n, "%s: sink holds %ld, shadow %ld",
		      d->name, sink.n, shadow.n);
	for (i = 0; i < sink.n; i++) {
		ck_assert_msg(!memcmp(&sink.v[i], &shadow.v[i],
				      sizeof(sink.v[i])),
			      "%s: mapping %ld differs: sink %llx+%llx, "
			      "shadow %llx+%llx", d->name, i,
			      (unsigned long long)sink.v[i].iova,
			      (unsigned long long)sink.v[i].size,
			      (unsigned long long)shadow.v[i].iova,
			      (unsigned long long)shadow.v[i].size);
		bytes += sink.v[i].size;
	}
	ck_assert_msg(bytes == model_bytes(m), "%s: sink maps %llu bytes, "
		      "the guest %llu", d->name, (unsigned long long)bytes,
		      (unsigned long long)model_bytes(m));
}

static void check_protection(struct stress *s)
{
	uint64_t p;

	for (p = 0; p < NR_PAGES; p++)
		ck_assert_msg(wpt_vm_page_protected(s->vm, RAM_GPA + p * PAGE) ==
				      s->prot[p],
			      "page %llx: library %d, backend %d",
			      (unsigned long long)(RAM_GPA + p * PAGE),
			      wpt_vm_page_protected(s->vm, RAM_GPA + p * PAGE),
			      s->prot[p]);
}

static int count_table(void *o, uint64_t gpa, uint64_t size,
		       unsigned int uses)
{
	(*(uint64_t *)o)++;
	return 0;
}

static uint64_t nr_tables(struct wpt_vm *vm)
{
	uint64_t n = 0;

	wpt_vm_foreach_table(vm, count_table, &n);
	return n;
}

static void stress_free(struct stress *s)
{
	unsigned int i;

	for (i = 0; i < s->nd; i++)
		wpt_domain_free(s->dom[i].d);
	ck_assert_uint_eq(nr_tables(s->vm), 0);
	for (i = 0; i < s->nd; i++)
		wpt_sink_free(s->dom[i].sink);
	for (i = 0; i < 2; i++)
		if (s->slow[i].inner)
			wpt_sink_free(s->slow[i].inner);
	wpt_vm_free(s->vm);
	munmap(s->ram, RAM_SIZE);
	free(s);
}

static unsigned int stress_seconds(void)
{
	const char *e = getenv("WPT_STRESS_SECONDS");
	int n = e ? atoi(e) : 0;

	return n > 0 ? (unsigned int)n : 3;
}

/* Join t, or fail: a thread still running 30 s after the stop is stuck
 * (a deadlock, or a sink call that never returns). */
static void join_or_fail(pthread_t t, const char *who)
{
	struct timespec ts;
	int ret;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 30;
	ret = pthread_timedjoin_np(t, NULL, &ts);
	ck_assert_msg(ret == 0, "%s thread did not stop: %s (deadlock?)", who,
		      strerror(ret));
}

START_TEST(stress_threads)
{
	struct stress *s = stress_new();
	struct writer w[NR_WRITERS];
	pthread_t wt[NR_WRITERS], it, rt, lt;
	unsigned int i, j, secs = stress_seconds();
	struct wpt_vm_stats vs;
	uint64_t t0;

	models_new(s);
	t0 = now_ns();
	for (i = 0; i < NR_WRITERS; i++) {
		w[i] = (struct writer){ s, i };
		ck_assert_int_eq(pthread_create(&wt[i], NULL, writer_thread,
						&w[i]), 0);
	}
	ck_assert_int_eq(pthread_create(&it, NULL, inval_thread, s), 0);
	ck_assert_int_eq(pthread_create(&rt, NULL, root_thread, s), 0);
	ck_assert_int_eq(pthread_create(&lt, NULL, lookup_thread, s), 0);
	sleep(secs);
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < NR_WRITERS; i++)
		join_or_fail(wt[i], "writer");
	join_or_fail(it, "invalidating");
	join_or_fail(rt, "root switching");
	join_or_fail(lt, "lookup");
	ck_assert_msg(!s->errors, "%llu errors, the first: %s",
		      (unsigned long long)s->errors, s->first_error);
	ck_assert_int_eq(wpt_vm_stats(s->vm, &vs, sizeof(vs)), 0);
	printf("%.1f s: %llu stores (%llu trapped, %llu handled by the "
	       "library), %llu untracked RAM, %llu MMIO, %llu invalidations, "
	       "%llu root switches, %llu host_wrote lookups, the limited domain seen faulted %llu times, %llu slow sink calls\n",
	       (double)(now_ns() - t0) / 1e9,
	       (unsigned long long)s->stores, (unsigned long long)s->trapped,
	       (unsigned long long)vs.exits_handled,
	       (unsigned long long)s->untracked, (unsigned long long)s->mmio,
	       (unsigned long long)s->invals, (unsigned long long)s->switches,
	       (unsigned long long)s->lookups,
	       (unsigned long long)s->faults,
	       (unsigned long long)(s->slow[0].calls + s->slow[1].calls));
	/* Each thread did enough to mean something. */
	ck_assert_uint_gt(s->trapped, 100);
	ck_assert_uint_gt(vs.exits_handled, 100);
	ck_assert_uint_gt(s->untracked, 10);
	ck_assert_uint_gt(s->invals, 10);
	ck_assert_uint_gt(s->switches, 10);
	ck_assert_uint_gt(s->lookups, 1000);
	ck_assert_uint_gt(s->slow[0].calls, 10);
	ck_assert_uint_gt(s->slow[1].calls, 10);

	for (i = 0; i < NR_MODELS; i++)
		for (j = 0; j < s->m[i].nd; j++)
			check_domain(s, &s->m[i], s->m[i].dom[j]);
	check_protection(s);
	stress_free(s);
}
END_TEST

/*
 * A sink call that takes long holds the VM lock, and only that: the exit
 * path's "not ours" (device MMIO), stores to RAM no table uses, reads in a
 * slot gap and the VMM's writes to such RAM go on without waiting for it.
 */
struct blocker {
	struct stress *s;
	struct dom *d;
	uint64_t root;
	int ret;
};

static void *set_root_thread(void *o)
{
	struct blocker *b = o;

	b->ret = wpt_domain_set_root(b->d->d, b->root);
	return NULL;
}

START_TEST(slow_sink_blocks_only_the_lock)
{
	struct stress *s = stress_new();
	struct model *m = &s->m[0];
	struct blocker b = { .s = s };
	uint64_t v = 0x1234, t0, worst = 0, l3;
	pthread_t t;
	unsigned int i;
	struct dom *d;

	pthread_mutex_init(&m->lock, NULL);
	m->root = pool_alloc(m, 0);
	m->l2 = pool_alloc(m, 0);
	l3 = pool_alloc(m, 0);
	*hva_of(s, m->root) = s1_table(m->l2);
	*hva_of(s, m->l2) = s1_table(l3);
	*hva_of(s, l3) = s1_page(DATA_GPA);
	d = dom_add(s, m, "trap-slow", WPT_MODE_TRAP, 0, false);
	s->slow[0].every = 1;
	s->slow[0].sleep_ns = 400000000; /* 0.4 s */
	b.d = d;
	b.root = m->root;
	ck_assert_int_eq(pthread_create(&t, NULL, set_root_thread, &b), 0);
	while (!__atomic_load_n(&s->slow[0].in_call, __ATOMIC_SEQ_CST))
		usleep(100);
	t0 = now_ns();
	for (i = 0; i < 1000; i++) {
		uint64_t c = now_ns();

		ck_assert_int_eq(wpt_vm_handle_mmio(s->vm, MMIO_GPA, &v, 8, 1),
				 0);
		ck_assert_int_eq(wpt_vm_handle_mmio(s->vm, SCRATCH_GPA + 8, &v,
						    8, 1), 1);
		ck_assert_int_eq(wpt_vm_handle_mmio(s->vm, SCRATCH_GPA, &v, 8,
						    0), 1);
		ck_assert_int_eq(wpt_vm_host_wrote(s->vm, SCRATCH_GPA, 64), 0);
		if (now_ns() - c > worst)
			worst = now_ns() - c;
	}
	/* All of it while the sink still sleeps under the lock. */
	ck_assert_msg(__atomic_load_n(&s->slow[0].in_call, __ATOMIC_SEQ_CST),
		      "the sink returned before 1000 lock-free calls ended "
		      "(%.1f ms): they waited for it",
		      (double)(now_ns() - t0) / 1e6);
	printf("lock-free exit path during a 0.4 s sink call: worst %.1f us\n",
	       (double)worst / 1e3);
	join_or_fail(t, "set_root");
	ck_assert_int_eq(b.ret, 0);
	/* The trapped store waits for the lock and then goes through. */
	s->slow[0].sleep_ns = 1000000;
	guest_store64(s, l3 + 8, s1_page(DATA_GPA + PAGE));
	ck_assert_int_eq(wpt_domain_verify(d->d), 0);
	ck_assert_int_eq(wpt_sink_record_get(d->record, NULL, 0), 2);
	ck_assert(!s->errors);
	stress_free(s);
}
END_TEST

/*
 * The lock-free lookup's guarantee, made deterministic: a reader holding a
 * page it looked up (inside its RCU read-side section) while the page
 * stops being a table keeps a valid page until it leaves the section; the
 * free waits (rcu_barrier on another thread stays blocked), and then
 * happens.  A page freed without a grace period is a use after free here
 * (ASan) or a race with the free (TSan).
 */
#if defined(__SANITIZE_THREAD__)
#define STRESS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRESS_TSAN 1
#endif
#endif

static void *barrier_thread(void *o)
{
	int *done = o;

	rcu_barrier();
	__atomic_store_n(done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

START_TEST(freed_page_waits_for_readers)
{
	struct stress *s = stress_new();
	struct model *m = &s->m[0];
	struct wpt_page *pg;
	struct dom *d;
	pthread_t t;
	int done = 0;

	pthread_mutex_init(&m->lock, NULL);
	m->root = pool_alloc(m, 0);
	m->l2 = pool_alloc(m, 0);
	*hva_of(s, m->root) = s1_table(m->l2);
	*hva_of(s, m->l2) = s1_block(DATA_GPA);
	d = dom_add(s, m, "trap", WPT_MODE_TRAP, -1, false);
	ck_assert_int_eq(wpt_domain_set_root(d->d, m->root), 0);

	rcu_read_lock();
	pg = pageindex_lookup(s->vm, m->l2);
	ck_assert_ptr_nonnull(pg);
	/* Another thread drops the table (as a vCPU's store could). */
	ck_assert_int_eq(wpt_domain_clear_root(d->d), 0);
	ck_assert_ptr_null(pageindex_lookup(s->vm, m->l2));
	ck_assert_int_eq(pthread_create(&t, NULL, barrier_thread, &done), 0);
	usleep(200000);
	ck_assert_msg(!__atomic_load_n(&done, __ATOMIC_SEQ_CST),
		      "the free did not wait for a reader");
#ifndef STRESS_TSAN
	/* Still ours to read (ASan: not freed).  Not under TSan: its model
	 * of the grace period (lib/pageindex.c) ends a reader's section at
	 * the end of the lookup, as the library's lock-free reader does. */
	ck_assert_uint_eq(__atomic_load_n(&pg->gpa, __ATOMIC_RELAXED), m->l2);
#endif
	rcu_read_unlock();
	join_or_fail(t, "rcu_barrier");
	ck_assert(done);
	ck_assert(!s->errors);
	stress_free(s);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("stress");
	TCase *tc = tcase_create("threads");
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The run is bounded (WPT_STRESS_SECONDS), the final checks and a
	 * sanitizer's slowdown are not. */
	tcase_set_timeout(tc, 60 + 2 * stress_seconds());
	tcase_add_test(tc, stress_threads);
	tcase_add_test(tc, slow_sink_blocks_only_the_lock);
	tcase_add_test(tc, freed_page_waits_for_readers);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
