/* SPDX-License-Identifier: MIT */
/*
 * wpt-vfio-test: the library's VFIO and iommufd sinks against a real IOMMU
 * and a real device doing DMA.  Runs inside a Linux guest with an emulated
 * Intel IOMMU and QEMU's edu device bound to vfio-pci:
 *
 *   wpt-vfio-test <edu PCI address> <IOMMU group number>
 *
 * This process is the VMM: it plays the guest (its RAM is a buffer here;
 * see guest.h) and, for each backend the kernel offers (backend.h: VFIO
 * type1 with the device's group, then iommufd with the device's cdev; the
 * two exclude each other, so one at a time), sets it up and drives the
 * engine in trap, inval and hybrid modes with the library's sink on it;
 * after each step the edu device DMAs through the IOMMU to show it reaches
 * exactly what the shadow mapped.  The same code runs both backends; a
 * backend the kernel lacks has its points skipped, so the plan is fixed.
 * TAP on stdout, diagnostics on stderr; exit 0 if every point passed, 1 if
 * one failed, 77 (and a TAP skip) where there is neither backend.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "extras.h"
#include "rig.h"
#include "run.h"
#include "sink_calls.h"
#include "steps.h"

#define NR_MODES 3

static const enum wpt_mode modes[NR_MODES] = {
	WPT_MODE_TRAP, WPT_MODE_INVAL, WPT_MODE_HYBRID,
};

static const struct backend *const backends[] = {
	&backend_type1, &backend_iommufd,
};
#define NR_BACKENDS (sizeof(backends) / sizeof(backends[0]))

/* Each backend's points after its own setup points, by short name: the
 * edu checks, NR_MODES * nr_steps steps, then the extras (extras.h). */
static const char *const edu_points[] = {
	"edu: identity, liveness register inverts",
	"edu: DMA round trip through the VMM's own mapping",
	"edu: DMA from a never-mapped IOVA is refused",
};
#define EDU_POINTS (sizeof(edu_points) / sizeof(edu_points[0]))

static const char *const extra_points[] = {
	"maps are coalesced",
	"IOVA ranges respected",
	"dma_entry_limit: -ENOSPC reaches the caller", /* type1 only */
	"no unmap bisects a mapping, none fails unasked",
};
#define EXTRA_DMA_LIMIT 2

/* The engine point before the backends, the DMAR fault point after. */
#define COMMON_POINTS 2

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- setup */

static void setup_guest(struct rig *r)
{
	int ret = guest_new(&r->g);

	if (ret) {
		tap_fail(&r->tap, "guest: %s", strerror(-ret));
		tap_point(&r->tap, "engine: wpt_vm over the guest RAM");
		printf("Bail out! no wpt_vm: %s\n", strerror(-ret));
		exit(1);
	}
	guest_fill_data(r->g, 1);
	tap_point(&r->tap, "engine: wpt_vm over %llu MiB of guest RAM at GPA "
		  "%#llx, callback protection", GUEST_RAM_SIZE >> 20,
		  GUEST_RAM_GPA);
}

/* Before the library is involved: a DMA from and to an IOVA nobody
 * mapped is refused, and the probe can tell. */
static void setup_refused(struct rig *r)
{
	struct probe pr[2] = {
		{ .iova = UNMAPPED_IOVA, .write = false },
		{ .iova = UNMAPPED_IOVA, .write = true },
	};

	rig_probe(r, NULL, pr, 2, "never-mapped IOVA");
	tap_point(&r->tap, "%s (the device buffer reads as %s)", edu_points[2],
		  r->refused_zero ? "zeros" : r->refused_marker ? "the marker"
								: "?");
}

/* The edu points on the device the backend opened; false if the device
 * cannot serve the probes. */
static bool setup_edu(struct rig *r)
{
	const struct backend *b = r->backend;
	uint8_t *src = r->scratch + 2 * 4096, *dst = r->scratch + 4096;
	uint64_t ns0 = r->edu.dma_ns;
	uint32_t id = 0;
	unsigned int i;
	int ret;

	ret = edu_probe(&r->edu, &id);
	if (ret)
		tap_fail(&r->tap, "identity %#x or liveness register wrong", id);
	if (!tap_point(&r->tap, "%s (identity %#x, version %u.%u)",
		       edu_points[0], id, id >> 24, (id >> 16) & 0xff))
		return false;

	/* The VMM's own mapping, made directly: the device buffer is
	 * reached only by DMA, so it needs a way in and out. */
	ret = b->map_scratch(r);
	if (ret)
		tap_fail(&r->tap, "%s scratch at %#llx: %s", b->map_call,
			 SCRATCH_IOVA, strerror(-ret));
	r->scratch_mapped = !ret;
	for (i = 0; i < EDU_BUF_USABLE; i++)
		src[i] = (uint8_t)(i * 31 + 7);
	memset(dst, 0, EDU_BUF_USABLE);
	if (r->scratch_mapped) {
		ret = edu_dma(&r->edu, 0, SCRATCH_IOVA + 2 * 4096, 0,
			      EDU_BUF_USABLE);
		if (!ret)
			ret = edu_dma(&r->edu, 1, SCRATCH_IOVA + 4096, 0,
				      EDU_BUF_USABLE);
		if (ret)
			tap_fail(&r->tap, "edu DMA: %s", strerror(-ret));
		else if (memcmp(src, dst, EDU_BUF_USABLE))
			tap_fail(&r->tap, "%u bytes in and out of the device "
				 "buffer came back different", EDU_BUF_USABLE);
	}
	if (!tap_point(&r->tap, "%s at %#llx (%llu ms a transfer)",
		       edu_points[1], SCRATCH_IOVA,
		       (unsigned long long)(r->edu.dma_ns - ns0) / 2000000))
		return false;
	setup_refused(r);
	return true;
}

/* ---------------------------------------------------------------- steps */

static void run_mode(struct rig *r, enum wpt_mode mode)
{
	const struct backend *b = r->backend;
	struct run u;
	unsigned int i;
	int opened = !run_open(&u, r, mode);

	for (i = 0; i < nr_steps; i++) {
		const struct step *s = &steps[i];
		uint64_t maps = sink_calls.maps, unmaps = sink_calls.unmaps;
		uint64_t dmas = r->edu.dmas;
		int ret;

		if (!opened) {
			tap_point(&r->tap, "%s: %s", mode_name(mode), s->name);
			continue;
		}
		snprintf(u.where, sizeof(u.where), "%s/%s", u.mname, s->name);
		u.nr_want = u.nr_inval = 0;
		u.pt.err = 0;
		ret = s->stores(&u);
		if (ret)
			tap_fail(&r->tap, "%s: %s", u.where, strerror(-ret));
		if (u.pt.err)
			tap_fail(&r->tap, "%s: a guest store failed: %s",
				 u.where, strerror(-u.pt.err));
		/* HYBRID: before the invalidation a removal may still be
		 * mapped; whatever is mapped must still be right. */
		if (mode == WPT_MODE_HYBRID && s->removes && u.nr_inval)
			run_check_pending(&u);
		run_invalidate(&u);
		if (s->settled)
			s->settled(&u);
		run_check_settled(&u, true);
		tap_diag("%s: %llu %s, %llu %s, %u guest stores (%u trapped), "
			 "%llu DMAs", u.where,
			 (unsigned long long)(sink_calls.maps - maps), b->map_call,
			 (unsigned long long)(sink_calls.unmaps - unmaps),
			 b->unmap_call,
			 u.pt.stores, u.pt.trapped,
			 (unsigned long long)(r->edu.dmas - dmas));
		tap_point(&r->tap, "%s: %s (%llu %s, %llu %s)", u.mname,
			  s->name, (unsigned long long)(sink_calls.maps - maps),
			  b->map_call,
			  (unsigned long long)(sink_calls.unmaps - unmaps),
			  b->unmap_call);
		u.pt.stores = u.pt.trapped = 0;
	}
	run_close(&u);
	if (r->tap.nfail) /* what run_close found belongs to the last step */
		tap_diag("%s: after the domain was freed: %s", mode_name(mode),
			 r->tap.why);
}

/* ------------------------------------------------------------ backends */

static unsigned int backend_points(const struct backend *b)
{
	return b->nr_setup + EDU_POINTS + NR_MODES * nr_steps +
	       sizeof(extra_points) / sizeof(extra_points[0]) -
	       !b->has_dma_limit;
}

/* The short name of point i of backend b. */
static void point_name(const struct backend *b, unsigned int i, char *buf,
		       size_t n)
{
	const char *name = "?";

	if (i < b->nr_setup) {
		name = b->setup_points[i];
	} else if ((i -= b->nr_setup) < EDU_POINTS) {
		name = edu_points[i];
	} else if ((i -= EDU_POINTS) < NR_MODES * nr_steps) {
		snprintf(buf, n, "%s: %s", mode_name(modes[i / nr_steps]),
			 steps[i % nr_steps].name);
		return;
	} else {
		i -= NR_MODES * nr_steps;
		if (!b->has_dma_limit && i >= EXTRA_DMA_LIMIT)
			i++;
		if (i < sizeof(extra_points) / sizeof(extra_points[0]))
			name = extra_points[i];
	}
	snprintf(buf, n, "%s", name);
}

/* All of one backend's points: skipped if the kernel lacks it, failed
 * from where its setup stopped, else run. */
static void run_backend(struct rig *r, const struct backend *b,
			const char *bdf, unsigned int group)
{
	unsigned int first = r->tap.done, n = backend_points(b), i;
	char why[200], name[160], reason[256];
	const char *missing;

	r->backend = b;
	r->tap.prefix = b->name;
	sink_calls_reset(0xfff, 0);
	missing = b->missing(r, bdf, why, sizeof(why));
	if (missing) {
		for (i = 0; i < n; i++) {
			point_name(b, i, name, sizeof(name));
			tap_skip(&r->tap, missing, "%s", name);
		}
	} else if (b->setup(r, bdf, group) && setup_edu(r)) {
		for (i = 0; i < NR_MODES; i++)
			run_mode(r, modes[i]);
		extra_coalesce(r);
		extra_iova_ranges(r);
		if (b->has_dma_limit)
			extra_dma_limit(r);
		extra_calls(r);
	}
	snprintf(reason, sizeof(reason), "%s setup failed: %s", b->name,
		 r->tap.last_why[0] ? r->tap.last_why : "?");
	for (i = r->tap.done - first; i < n; i++) {
		point_name(b, i, name, sizeof(name));
		tap_fail(&r->tap, "not run: %s", reason);
		tap_point(&r->tap, "%s", name);
	}
	b->close(r);
	r->tap.prefix = NULL;
	r->backend = NULL;
}

/* ------------------------------------------------------------ the rest */

/* The IOMMU reported the refused DMAs: DMAR fault lines in the kernel log
 * since the test started (the kernel rate-limits them), each for the
 * device under test at an IOVA a probe expected refused. */
static bool expected_fault(const struct rig *r, uint64_t addr)
{
	unsigned int i;

	for (i = 0; i < r->nr_refused_pages; i++)
		if (r->refused_pages[i] == (addr & ~0xfffull))
			return true;
	return false;
}

static void check_kmsg(struct rig *r, int kmsg, const char *bdf)
{
	char rec[1024], dev[32];
	unsigned int lines = 0, faults = 0, wrong = 0;
	const char *p;
	ssize_t n;

	if (kmsg < 0) {
		tap_skip(&r->tap, "/dev/kmsg not readable",
			 "the IOMMU logged DMAR faults for refused DMAs");
		return;
	}
	/* "0000:00:01.0" is logged as "[00:01.0]". */
	snprintf(dev, sizeof(dev), "[%s]",
		 strchr(bdf, ':') && strlen(bdf) > 5 ? bdf + 5 : bdf);
	for (;;) {
		unsigned long long addr;

		n = read(kmsg, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue; /* records overwritten: go on */
		if (n <= 0)
			break;
		rec[n] = 0;
		rec[strcspn(rec, "\n")] = 0;
		if (!strstr(rec, "DMAR"))
			continue;
		lines++;
		p = strstr(rec, "fault addr ");
		if (!p || !strstr(rec, dev) ||
		    sscanf(p, "fault addr %llx", &addr) != 1)
			continue;
		if (!faults++)
			tap_diag("first DMAR fault: %s",
				 strchr(rec, ';') ? strchr(rec, ';') + 1 : rec);
		if (!expected_fault(r, addr)) {
			if (!wrong++)
				tap_fail(&r->tap, "DMAR fault at %#llx, an IOVA "
					 "no probe expected refused: %s", addr,
					 strchr(rec, ';') ? strchr(rec, ';') + 1
							  : rec);
		}
	}
	if (!faults && (r->refused_zero || r->refused_marker))
		tap_fail(&r->tap, "%u refused DMAs and no DMAR fault for %s in "
			 "/dev/kmsg", r->refused_zero + r->refused_marker, dev);
	tap_point(&r->tap, "the IOMMU logged DMAR faults for refused DMAs, "
		  "each at an IOVA expected refused (%u faults logged, %u "
		  "DMAR lines, %u pages probed as refused)", faults, lines,
		  r->nr_refused_pages);
}

static int usage(void)
{
	fprintf(stderr, "usage: wpt-vfio-test <PCI address> <IOMMU group>\n");
	printf("Bail out! usage: wpt-vfio-test <PCI address> <IOMMU group>\n");
	return 2;
}

int main(int argc, char **argv)
{
	static struct rig rig;
	struct rig *r = &rig;
	uint64_t t0 = now_ms();
	unsigned int i, group, plan = COMMON_POINTS;
	char *end;
	int kmsg;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (access("/dev/vfio/vfio", F_OK) && access("/dev/iommu", F_OK)) {
		printf("1..0 # SKIP no /dev/vfio/vfio and no /dev/iommu\n");
		return 77;
	}
	if (argc != 3)
		return usage();
	group = (unsigned int)strtoul(argv[2], &end, 10);
	if (*end || end == argv[2])
		return usage();
	vfio_env_init(&r->vfio);
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);
	r->scratch = mmap(NULL, SCRATCH_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (r->scratch == MAP_FAILED) {
		printf("Bail out! mmap scratch: %s\n", strerror(errno));
		return 1;
	}

	for (i = 0; i < NR_BACKENDS; i++)
		plan += backend_points(backends[i]);
	tap_plan(&r->tap, plan);
	setup_guest(r);
	for (i = 0; i < NR_BACKENDS; i++)
		run_backend(r, backends[i], argv[1], group);
	check_kmsg(r, kmsg, argv[1]);

	tap_diag("%llu DMAs in %llu ms of waiting, %llu s in all; %llu probes "
		 "passed; refused reads read as zeros %u times, as the marker "
		 "%u times", (unsigned long long)r->edu.dmas,
		 (unsigned long long)(r->edu.dma_ns / 1000000),
		 (unsigned long long)(now_ms() - t0) / 1000,
		 (unsigned long long)r->probes_ok, r->refused_zero,
		 r->refused_marker);
	tap_diag("hybrid, before invalidations: %u removed IOVAs still mapped "
		 "(allowed, and reading their old bytes), %u already gone",
		 r->stale_held, r->stale_gone);
	if (r->tap.done != r->tap.planned)
		printf("# planned %u points, ran %u\n", r->tap.planned,
		       r->tap.done);
	guest_free(r->g);
	return r->tap.failed || r->tap.done != r->tap.planned ? 1 : 0;
}
