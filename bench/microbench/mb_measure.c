/* SPDX-License-Identifier: MIT */
/*
 * The microbench's measurements, phase by phase: on a TRAP domain
 * set_root, trapped leaf stores, a block split and a table freed; the same
 * stores through the recording sink; on an INVAL domain, invalidations of
 * 2 MiB and 1 GiB.  mb_scale.c runs each phase in a process of its own.
 *
 * Two clocks.  A walk (set_root, up to seconds) is timed in the calling
 * thread's CPU time (CLOCK_THREAD_CPUTIME_ID): on a shared machine, time
 * the thread spent descheduled is not the library's.  Everything short
 * (stores in batches of 64, a split, a freed table, an invalidation) is
 * timed by CLOCK_MONOTONIC, read through the vDSO without a system call,
 * and judged by the median of many samples (a batch the thread was
 * descheduled in is an outlier).  The CPU-time clock has no vDSO path:
 * between batches its system call disturbed what was measured (on a
 * kvm_pvm guest the next 64 spread stores were 30-40 ns each slower
 * after one, most likely a TLB flush on the way through the
 * hypervisor).  What each clock's read adds to an interval is measured
 * and taken off.  Each figure is the median of its samples (all but the
 * stores timed one call at a time).  The denominators are the bench's
 * own counts (descriptors in the tables a walk must read),
 * not the library's counters, so that figures compare across versions;
 * the library's descs_visited goes into the JSON beside them.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mb_ctx.h"

#define SPLIT_REPS (2 * MB_NR_BLOCKS)
#define INVAL_2M_REPS 256
#define REPEAT_BUDGET_NS 300000000ull  /* repeat a slow figure this long */
#define AGAIN_MAX_NS 3000000000ull     /* walk again only if one took less */
#define TOUCH_PAGES 1024               /* fresh pages timed for a fault's cost */
#define FILL_BYTES (64 * 4096)         /* what the block pool fills at once */

uint64_t mb_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
	return mb_clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static uint64_t wall_ns(void)
{
	return mb_clock_ns(CLOCK_MONOTONIC);
}

/* The median gap between two back-to-back reads of read(): what one read
 * adds to every interval it bounds (the part of one read after it samples
 * the clock plus the part of the next before it does). */
static uint64_t read_cost(uint64_t (*read)(void))
{
	double gap[201];
	unsigned int i;

	for (i = 0; i < 201; i++) {
		uint64_t t0 = read();

		gap[i] = (double)(read() - t0);
	}
	return (uint64_t)mb_median(gap, 201);
}

/* The CPU-time clock is a system call (a microsecond where the kernel
 * runs under a hypervisor's switcher); CLOCK_MONOTONIC tens of ns. */
void mb_clock_calibrate(struct mb_ctx *c)
{
	c->clock_ns = read_cost(cpu_ns);
	c->wall_clock_ns = read_cost(wall_ns);
	c->out->clock_ns = (double)c->clock_ns;
	c->out->wall_clock_ns = (double)c->wall_clock_ns;
}

/* ns since t0 on clock read (cpu_ns or wall_ns, t0 its reading), less
 * what the clock itself adds: the library's time alone.  *now: the
 * reading taken, to start the next interval. */
static uint64_t since(const struct mb_ctx *c, uint64_t (*read)(void),
		      uint64_t t0, uint64_t *now)
{
	uint64_t t = read(), d = t - t0;
	uint64_t cost = read == cpu_ns ? c->clock_ns : c->wall_clock_ns;

	if (now)
		*now = t;
	return d > cost ? d - cost : 0;
}

/* Resident bytes of this process (/proc/self/statm, second field). */
static uint64_t rss_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The pages the VM's block pool holds (filled in bulk, see mb.h): its
 * bytes are its blocks filled, which lie end to end over that many. */
static uint64_t pool_pages(struct wpt_vm *vm)
{
	struct wpt_vm_stats st;

	if (wpt_vm_stats(vm, &st, sizeof(st)))
		return 0;
	return st.pool_bytes / 4096;
}

/* The first walk's faults that were first touches: not the pool's. */
static uint64_t heap_faults(const struct mb_scale *s)
{
	return s->root_faults > s->root_pool_pages
		       ? s->root_faults - s->root_pool_pages : 0;
}

/* Minor page faults of this thread so far. */
static uint64_t thread_faults(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) ? 0 : (uint64_t)ru.ru_minflt;
}

/*
 * What the first write to a fresh anonymous page costs this machine, in
 * the thread's CPU time (the kernel's zeroing and, under a hypervisor,
 * its backing of the page): a growing heap pays it once a 4 KiB page.
 * filled: the pages filled first, 64 at a time, as the library's block
 * pool fills its own (madvise MADV_POPULATE_WRITE), then written: what
 * such a page costs.  The median of four rounds over TOUCH_PAGES pages;
 * NAN if mmap fails.
 */
static double first_touch_ns(bool filled)
{
	size_t len = TOUCH_PAGES * (size_t)sysconf(_SC_PAGESIZE), i;
	double round[4];
	int r;

	for (r = 0; r < 4; r++) {
		volatile char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uint64_t t0;

		if (p == MAP_FAILED)
			return NAN;
		/* Small pages, as the heap's growth gets under the default
		 * "madvise" transparent huge page setting. */
		madvise((void *)p, len, MADV_NOHUGEPAGE);
		t0 = cpu_ns();
		for (i = 0; filled && i < len; i += FILL_BYTES)
			madvise((void *)(p + i), FILL_BYTES, MADV_POPULATE_WRITE);
		for (i = 0; i < len; i += (size_t)sysconf(_SC_PAGESIZE))
			p[i] = 1;
		round[r] = (double)(cpu_ns() - t0) / TOUCH_PAGES;
		munmap((void *)p, len);
	}
	return mb_median(round, 4);
}

static void put_median(struct mb_ctx *c, enum mb_metric m, size_t n)
{
	c->out->value[m] = mb_median(c->samples, n);
	c->out->samples[m] = n;
}

int mb_fail(struct mb_ctx *c, int err, const char *what)
{
	if (!c->out->error) {
		c->out->error = err ? err : -EIO;
		snprintf(c->out->note, sizeof(c->out->note), "%s: %s", what,
			 strerror(-c->out->error));
	}
	return c->out->error;
}

/* A store the guest made to a protected table page: one trapped write. */
static int trapped_store(struct mb_ctx *c, uint64_t gpa, uint64_t val)
{
	int ret = wpt_vm_handle_mmio(c->vm, gpa, &val, 8, 1);

	return ret == 1 ? 0 : mb_fail(c, ret ? ret : -ENOENT, "trapped store");
}

static int noop_map(void *opaque, uint64_t iova, uint64_t gpa, void *hva,
		    uint64_t size, uint32_t perm)
{
	return 0;
}

static int noop_unmap(void *opaque, uint64_t iova, uint64_t size)
{
	return 0;
}

const struct wpt_sink_ops mb_noop_sink = { noop_map, noop_unmap };

/* The VMM owns its slots and "protects" instantly: the library's own
 * cost is what is left. */
static int noop_protect(void *opaque, uint64_t gpa, uint64_t size)
{
	return 0;
}

const struct wpt_protect_ops mb_noop_protect_ops = { noop_protect,
						     noop_protect };

static uint64_t domain_descs(struct wpt_domain *d)
{
	struct wpt_domain_stats st;

	return wpt_domain_stats(d, &st, sizeof(st)) ? 0 : st.descs_visited;
}

int mb_domain_open(struct mb_ctx *c, struct wpt_sink *sink,
		   enum wpt_mode mode, struct wpt_domain **d)
{
	static const struct wpt_format_cfg fmt = {
		.size = sizeof(fmt), .format = WPT_FMT_ARM_LPAE_S1,
		.granule = 4096, .ias = 48, .oas = 48, .sl = -1,
	};
	int ret = wpt_domain_new(c->vm, &fmt, sink, mode, d);

	/* The default limits are judged once, by the trap phase's first
	 * set_root; if they refused it, every later walk runs raised. */
	if (!ret && c->out->defaults_err)
		ret = wpt_domain_set_limits(*d, &c->raised);
	return ret ? mb_fail(c, ret, "domain") : 0;
}

/* One set_root, timed; its CPU ns per descriptor of the tree. */
static int root_once(struct mb_ctx *c, struct wpt_domain *d, double *per_desc)
{
	uint64_t descs = domain_descs(d), t0 = cpu_ns();
	int ret = wpt_domain_set_root(d, c->g.root);

	*per_desc = (double)since(c, cpu_ns, t0, NULL) /
		    (double)mb_tree_descs(&c->g);
	c->out->lib_descs[MB_ROOT_WALK] = c->out->lib_descs[MB_ROOT_AGAIN] =
		domain_descs(d) - descs;
	return ret ? ret : wpt_domain_error(d);
}

/*
 * The first set_root, in a fresh process, under the library's default
 * limits (they should allow 16M pages; if they refuse, raise
 * them and walk again): resident memory is measured across it, and its
 * time includes the page faults of a growing heap.  Then, where a walk is
 * quick enough to repeat, clear_root and set_root again on a warm heap:
 * the engine's own work.
 */
static int phase_root(struct mb_ctx *c, struct wpt_domain *d)
{
	double touch = first_touch_ns(false), fill = first_touch_ns(true);
	double first;
	uint64_t rss0 = rss_bytes(), w0 = mb_clock_ns(CLOCK_MONOTONIC), spent;
	uint64_t f0 = thread_faults();
	size_t n;
	int ret = root_once(c, d, &first);

	if (ret) {
		c->out->defaults_err = ret;
		c->out->limits_raised = true;
		if (wpt_domain_clear_root(d) ||
		    wpt_domain_set_limits(d, &c->raised))
			return mb_fail(c, -EIO, "raising the limits");
		rss0 = rss_bytes();
		w0 = mb_clock_ns(CLOCK_MONOTONIC);
		f0 = thread_faults();
		ret = root_once(c, d, &first);
		if (ret)
			return mb_fail(c, ret, "set_root with raised limits");
	}
	c->out->root_wall_s = (double)(mb_clock_ns(CLOCK_MONOTONIC) - w0) / 1e9;
	c->out->root_faults = thread_faults() - f0;
	c->out->root_pool_pages = pool_pages(c->vm);
	c->out->fault_ns = touch;
	c->out->fill_ns = fill;
	c->out->root_fault_share =
		(touch * (double)heap_faults(c->out) +
		 fill * (double)c->out->root_pool_pages) /
		(double)mb_tree_descs(&c->g);
	c->out->value[MB_MEMORY] =
		(double)(rss_bytes() - rss0) / (double)c->g.pages;
	c->out->samples[MB_MEMORY] = 1;
	c->out->value[MB_ROOT_WALK] = first;
	c->out->samples[MB_ROOT_WALK] = 1;
	spent = (uint64_t)(first * (double)mb_tree_descs(&c->g));
	if (spent > AGAIN_MAX_NS)
		return 0;
	for (n = 0, spent = 0; n < 21 && spent < REPEAT_BUDGET_NS; n++) {
		if (wpt_domain_clear_root(d) ||
		    root_once(c, d, &c->samples[n]))
			return mb_fail(c, -EIO, "set_root again");
		spent += (uint64_t)(c->samples[n] * (double)mb_tree_descs(&c->g));
	}
	put_median(c, MB_ROOT_AGAIN, n);
	return 0;
}

/* The 64 stored leaves: store 0 to each (unmap), then its descriptor
 * back (map), 64 stores a timed batch. */
static int phase_stores(struct mb_ctx *c, enum mb_metric map,
			enum mb_metric unmap)
{
	double *unmap_ns = malloc(c->o->batches * sizeof(double));
	unsigned int b, k;
	uint64_t t0, t1;

	if (!unmap_ns)
		return mb_fail(c, -ENOMEM, "stores");
	for (b = 0; b < c->o->batches && b < MB_MAX_REPS; b++) {
		t0 = wall_ns();
		for (k = 0; k < MB_WINDOW; k++)
			if (trapped_store(c, mb_leaf_slot(&c->g, c->window[k]), 0))
				goto out;
		unmap_ns[b] = (double)since(c, wall_ns, t0, &t1) / MB_WINDOW;
		for (k = 0; k < MB_WINDOW; k++)
			if (trapped_store(c, mb_leaf_slot(&c->g, c->window[k]),
					  mb_leaf_desc(&c->g, c->window[k])))
				goto out;
		c->samples[b] = (double)since(c, wall_ns, t1, NULL) / MB_WINDOW;
	}
	put_median(c, map, b);
	memcpy(c->samples, unmap_ns, b * sizeof(double));
	put_median(c, unmap, b);
out:
	free(unmap_ns);
	return c->out->error;
}

/* One block split (Linux <= 6.12 on a partial unmap: a level 3 table
 * filled aside with the block's pages but the first, swapped in with one
 * store) and the table freed whole (one store of 0 to the level 2
 * entry), each timed per descriptor of the table; the block is mapped
 * again, untimed. */
static int split_once(struct mb_ctx *c, uint64_t b, double *split, double *freed)
{
	uint64_t slot = c->g.blk_l2 + 8 * b, table = c->g.split_l3 + b * MB_PAGE;
	uint64_t out = c->g.blocks_gpa + b * MB_BLOCK, *t = mb_guest_ptr(&c->g, table);
	uint64_t j, t0;

	t[0] = 0;
	for (j = 1; j < MB_DESCS; j++)
		t[j] = mb_desc_page(out + j * MB_PAGE);
	t0 = wall_ns();
	if (trapped_store(c, slot, mb_desc_table(table)))
		return c->out->error;
	*split = (double)since(c, wall_ns, t0, &t0) / MB_DESCS;
	if (trapped_store(c, slot, 0))
		return c->out->error;
	*freed = (double)since(c, wall_ns, t0, NULL) / MB_DESCS;
	return trapped_store(c, slot, mb_desc_block(out));
}

static int phase_split(struct mb_ctx *c, struct wpt_domain *d)
{
	double freed[SPLIT_REPS];
	uint64_t r, descs;

	/* The blocks add leaves beyond the scale's own pages: raised
	 * limits, so that the set_root goal alone judges the defaults. */
	if (wpt_domain_set_limits(d, &c->raised))
		return mb_fail(c, -EIO, "raising the limits");
	if (trapped_store(c, c->g.l1 + 8 * (MB_BLOCK_IOVA / MB_GIB),
			  mb_desc_table(c->g.blk_l2)))
		return c->out->error;
	descs = domain_descs(d);
	for (r = 0; r < SPLIT_REPS; r++)
		if (split_once(c, r % MB_NR_BLOCKS, &c->samples[r], &freed[r]))
			return c->out->error;
	c->out->lib_descs[MB_SPLIT] = (domain_descs(d) - descs) / SPLIT_REPS;
	put_median(c, MB_SPLIT, SPLIT_REPS);
	memcpy(c->samples, freed, sizeof(freed));
	put_median(c, MB_TABLE_FREE, SPLIT_REPS);
	return trapped_store(c, c->g.l1 + 8 * (MB_BLOCK_IOVA / MB_GIB), 0);
}

/* The bench's own correctness: the leaves the domain maps, and where a
 * full walk is quick (64K pages and below) the shadow against it. */
static int check_domain(struct mb_ctx *c, struct wpt_domain *d,
			uint64_t leaves)
{
	struct wpt_domain_stats st;
	long diff;

	if (wpt_domain_error(d))
		return mb_fail(c, wpt_domain_error(d), "domain faulted");
	if (wpt_domain_stats(d, &st, sizeof(st)) || st.leaves != leaves)
		return mb_fail(c, -EIO, "leaves mapped differ from the tables");
	if (c->g.pages > (1ull << 16))
		return 0;
	diff = wpt_domain_verify(d);
	return diff ? mb_fail(c, diff < 0 ? (int)diff : -EIO, "verify") : 0;
}

/* set_root for a phase that measures something else. */
static int root_plain(struct mb_ctx *c, struct wpt_domain *d)
{
	int ret = wpt_domain_set_root(d, c->g.root);

	if (ret || wpt_domain_error(d))
		return mb_fail(c, ret ? ret : wpt_domain_error(d), "set_root");
	return 0;
}

int mb_trap_phases(struct mb_ctx *c, struct wpt_domain *d)
{
	return phase_root(c, d) || phase_stores(c, MB_STORE_MAP, MB_STORE_UNMAP) ||
	       phase_split(c, d) || check_domain(c, d, c->g.pages);
}

int mb_record_phases(struct mb_ctx *c, struct wpt_domain *d)
{
	return root_plain(c, d) ||
	       phase_stores(c, MB_STORE_MAP_REC, MB_STORE_UNMAP_REC) ||
	       check_domain(c, d, c->g.pages);
}

/* Toggle page p in the tables behind the library's back (INVAL mode: the
 * guest writes freely and invalidates afterwards). */
static void toggle_leaf(struct mb_ctx *c, uint64_t p)
{
	uint64_t *slot = mb_guest_ptr(&c->g, mb_leaf_slot(&c->g, p));

	*slot = *slot ? 0 : mb_leaf_desc(&c->g, p);
}

/* Invalidate [iova, iova + size) after one leaf there changed; CPU ns per
 * descriptor of the tables under the range. */
static int inval_once(struct mb_ctx *c, struct wpt_domain *d, uint64_t p,
		      uint64_t size, uint64_t descs, double *per_desc)
{
	uint64_t iova = p * MB_PAGE & ~(size - 1), t0;
	int ret;

	toggle_leaf(c, p);
	t0 = wall_ns();
	ret = wpt_domain_invalidate(d, iova, size);
	*per_desc = (double)since(c, wall_ns, t0, NULL) / (double)descs;
	return ret ? mb_fail(c, ret, "invalidate") : 0;
}

static int phase_inval(struct mb_ctx *c, struct wpt_domain *d)
{
	uint64_t per_gib = MB_GIB / MB_PAGE, gibs, l3, d0, spent = 0;
	unsigned int r;

	d0 = domain_descs(d);
	/* Every window leaf toggled an even number of times: all mapped
	 * again at the end. */
	for (r = 0; r < INVAL_2M_REPS; r++)
		if (inval_once(c, d, c->window[r % MB_WINDOW], MB_BLOCK,
			       3 + MB_DESCS, &c->samples[r]))
			return c->out->error;
	c->out->lib_descs[MB_INVAL_2M] = (domain_descs(d) - d0) / r;
	put_median(c, MB_INVAL_2M, r);
	gibs = (c->g.pages + per_gib - 1) / per_gib;
	d0 = domain_descs(d);
	/* Pairs (a leaf unmapped, then mapped again), spread over the GiBs,
	 * until the budget is spent. */
	for (r = 0; r < 4 || (r < 20 && spent < REPEAT_BUDGET_NS); r += 2) {
		uint64_t gib = (r / 2) % gibs, t0 = cpu_ns();

		l3 = c->g.nr_l3 - gib * MB_DESCS;
		if (l3 > MB_DESCS)
			l3 = MB_DESCS;
		l3 = 2 + MB_DESCS + l3 * MB_DESCS;
		if (inval_once(c, d, gib * per_gib + 7, MB_GIB, l3,
			       &c->samples[r]) ||
		    inval_once(c, d, gib * per_gib + 7, MB_GIB, l3,
			       &c->samples[r + 1]))
			return c->out->error;
		spent += cpu_ns() - t0;
	}
	c->out->lib_descs[MB_INVAL_1G] = (domain_descs(d) - d0) / r;
	put_median(c, MB_INVAL_1G, r);
	return 0;
}

int mb_inval_phases(struct mb_ctx *c, struct wpt_domain *d)
{
	return root_plain(c, d) || phase_inval(c, d) ||
	       check_domain(c, d, c->g.pages);
}
