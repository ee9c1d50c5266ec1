/* SPDX-License-Identifier: MIT */
/*
 * wpt-vfio-test: the library's VFIO sink against a real IOMMU, a real type1
 * container and a real device doing DMA.  Runs inside a Linux guest with an
 * emulated Intel IOMMU and QEMU's edu device bound to vfio-pci:
 *
 *   wpt-vfio-test <edu PCI address> <IOMMU group number>
 *
 * This process is the VMM: it sets up VFIO, plays the guest (its RAM is a
 * buffer here; see guest.h) and drives the engine in trap, inval and hybrid
 * modes with a VFIO sink on the container; after each step the edu device
 * DMAs through the IOMMU to show it reaches exactly what the shadow mapped.
 * TAP on stdout, diagnostics on stderr; exit 0 if every point passed, 1 if
 * one failed, 77 (and a TAP skip) where there is no VFIO.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "extras.h"
#include "rig.h"
#include "run.h"
#include "steps.h"
#include "vfio_calls.h"

/* Enough for the steps (about 25 mappings at most at once) and small
 * enough that filling it takes one table. */
#define DMA_ENTRY_LIMIT 64

#define SETUP_POINTS 8
#define EXTRA_POINTS 5
#define NR_MODES     3

static const enum wpt_mode modes[NR_MODES] = {
	WPT_MODE_TRAP, WPT_MODE_INVAL, WPT_MODE_HYBRID,
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void bail(struct rig *r, const char *what)
{
	printf("Bail out! %s: %s\n", what,
	       r->tap.last_why[0] ? r->tap.last_why : "?");
	fflush(stdout);
	exit(1);
}

/* ---------------------------------------------------------------- setup */

static uint32_t lower_dma_limit(uint32_t *orig)
{
	int ret = vfio_dma_limit_get(orig);

	if (ret) {
		tap_diag("dma_entry_limit unreadable: %s", strerror(-ret));
		return 0;
	}
	ret = vfio_dma_limit_set(DMA_ENTRY_LIMIT);
	if (ret) {
		tap_diag("cannot lower dma_entry_limit: %s", strerror(-ret));
		return 0;
	}
	return DMA_ENTRY_LIMIT;
}

/* What the container accepts: the IOVAs and page sizes the test relies on. */
static void setup_facts(struct rig *r, uint32_t limit)
{
	struct vfio_env *v = &r->vfio;
	struct vfio_iommu_facts *f = &v->facts;
	char why[200];
	unsigned int i;

	if (vfio_iommu_facts(v->container, f, why, sizeof(why)))
		tap_fail(&r->tap, "%s", why);
	tap_diag("GET_INFO: iova_pgsizes %#llx, %s%u IOVA ranges, dma_avail %s%u",
		 (unsigned long long)f->pgsizes, f->have_ranges ? "" : "no ",
		 f->nr_ranges, f->have_dma_avail ? "" : "(none) ",
		 f->dma_avail);
	for (i = 0; i < f->nr_ranges; i++)
		tap_diag("  IOVA range %u: [%#llx, %#llx]", i,
			 (unsigned long long)f->ranges[i].start,
			 (unsigned long long)f->ranges[i].last);
	/* The guest maps 4 KiB pages: a bigger smallest IOMMU page would
	 * refuse them all. */
	if (!f->pgsizes || (f->pgsizes & -f->pgsizes) > SZ_4K)
		tap_fail(&r->tap, "smallest IOMMU page %#llx: 4 KiB maps will "
			 "be refused", (unsigned long long)(f->pgsizes & -f->pgsizes));
	vfio_calls.pgmask = f->pgsizes ? (f->pgsizes & -f->pgsizes) - 1 : 0xfff;
	if (!vfio_iova_ok(f, 0, 0x01000000) ||
	    !vfio_iova_ok(f, SCRATCH_IOVA, SCRATCH_SIZE) ||
	    !vfio_iova_ok(f, UNMAPPED_IOVA, SZ_4K))
		tap_fail(&r->tap, "the IOVAs the test uses (below 16 MiB, "
			 "%#llx, %#llx) are not all inside the ranges",
			 SCRATCH_IOVA, UNMAPPED_IOVA);
	if (limit && f->have_dma_avail && f->dma_avail != limit)
		tap_diag("dma_avail %u, not the dma_entry_limit %u set before "
			 "the container", f->dma_avail, limit);
	tap_point(&r->tap, "vfio: GET_INFO: page sizes %#llx, %u IOVA ranges, "
		  "dma_avail %u", (unsigned long long)f->pgsizes, f->nr_ranges,
		  f->dma_avail);
}

static void setup_vfio(struct rig *r, const char *bdf, unsigned int group,
		       uint32_t limit, uint32_t orig_limit)
{
	struct vfio_env *v = &r->vfio;
	char why[200];

	if (vfio_container_open(v, why, sizeof(why)))
		tap_fail(&r->tap, "%s", why);
	if (!tap_point(&r->tap, "vfio: container: API version %d, %s",
		       v->api_version,
		       v->iommu_type == VFIO_TYPE1v2_IOMMU ? "VFIO_TYPE1v2_IOMMU"
							   : "VFIO_TYPE1_IOMMU"))
		bail(r, "no VFIO container");

	if (vfio_group_attach(v, group, why, sizeof(why)))
		tap_fail(&r->tap, "%s", why);
	/* The container read the limit when its IOMMU was set: put the
	 * module's value back for anyone else. */
	if (limit)
		vfio_dma_limit_set(orig_limit);
	if (!tap_point(&r->tap, "vfio: group %u viable, set on the container, "
		       "IOMMU set", group))
		bail(r, "no IOMMU group");

	setup_facts(r, limit);

	if (vfio_device_open(v, bdf, why, sizeof(why)))
		tap_fail(&r->tap, "%s", why);
	else if (v->vendor != EDU_VENDOR_ID || v->device_id != EDU_DEVICE_ID)
		tap_fail(&r->tap, "%s is %04x:%04x, not edu", bdf, v->vendor,
			 v->device_id);
	if (!tap_point(&r->tap, "vfio: device %s: %04x:%04x, %u regions, BAR0 "
		       "%llu KiB mapped, command %#x", bdf, v->vendor,
		       v->device_id, v->num_regions,
		       (unsigned long long)v->bar0_size >> 10, v->command))
		bail(r, "no device");
	r->edu.bar0 = v->bar0;
}

static void setup_edu(struct rig *r)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.iova = SCRATCH_IOVA,
		.size = SCRATCH_SIZE,
	};
	uint8_t *src, *dst;
	uint32_t id = 0;
	unsigned int i;
	int ret;

	ret = edu_probe(&r->edu, &id);
	if (ret)
		tap_fail(&r->tap, "identity %#x or liveness register wrong", id);
	if (!tap_point(&r->tap, "edu: identity %#x (version %u.%u), liveness "
		       "register inverts", id, id >> 24, (id >> 16) & 0xff))
		bail(r, "edu does not answer");

	/* The VMM's own mapping, made directly: the device buffer is
	 * reached only by DMA, so it needs a way in and out. */
	r->scratch = mmap(NULL, SCRATCH_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (r->scratch == MAP_FAILED) {
		tap_fail(&r->tap, "mmap scratch: %s", strerror(errno));
		bail(r, "no memory");
	}
	map.vaddr = (uintptr_t)r->scratch;
	if (ioctl(r->vfio.container, VFIO_IOMMU_MAP_DMA, &map))
		tap_fail(&r->tap, "MAP_DMA scratch at %#llx: %s", SCRATCH_IOVA,
			 strerror(errno));
	r->scratch_mapped = !r->tap.nfail;
	src = r->scratch + 2 * 4096;
	dst = r->scratch + 4096;
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
	if (!tap_point(&r->tap, "edu: DMA round trip through the VMM's "
		       "own mapping at %#llx (%llu ms a transfer)",
		       SCRATCH_IOVA,
		       (unsigned long long)(r->edu.dma_ns / 2000000)))
		bail(r, "edu DMA does not work");
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
	tap_point(&r->tap, "edu: DMA from a never-mapped IOVA is refused (the "
		  "device buffer reads as %s)",
		  r->refused_zero ? "zeros" : r->refused_marker ? "the marker"
								: "?");
}

static void setup_guest(struct rig *r)
{
	int ret = guest_new(&r->g);

	if (ret) {
		tap_fail(&r->tap, "guest: %s", strerror(-ret));
		tap_point(&r->tap, "engine: wpt_vm over the guest RAM");
		bail(r, "no wpt_vm");
	}
	guest_fill_data(r->g, 1);
	tap_point(&r->tap, "engine: wpt_vm over %llu MiB of guest RAM at GPA "
		  "%#llx, callback protection", GUEST_RAM_SIZE >> 20,
		  GUEST_RAM_GPA);
}

/* ---------------------------------------------------------------- steps */

static void run_mode(struct rig *r, enum wpt_mode mode)
{
	struct run u;
	unsigned int i;
	int opened = !run_open(&u, r, mode);

	for (i = 0; i < nr_steps; i++) {
		const struct step *s = &steps[i];
		uint64_t maps = vfio_calls.maps, unmaps = vfio_calls.unmaps;
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
		tap_diag("%s: %llu MAP_DMA, %llu UNMAP_DMA, %u guest stores (%u "
			 "trapped), %llu DMAs", u.where,
			 (unsigned long long)(vfio_calls.maps - maps),
			 (unsigned long long)(vfio_calls.unmaps - unmaps),
			 u.pt.stores, u.pt.trapped,
			 (unsigned long long)(r->edu.dmas - dmas));
		tap_point(&r->tap, "%s: %s (%llu MAP_DMA, %llu UNMAP_DMA)",
			  u.mname, s->name,
			  (unsigned long long)(vfio_calls.maps - maps),
			  (unsigned long long)(vfio_calls.unmaps - unmaps));
		u.pt.stores = u.pt.trapped = 0;
	}
	run_close(&u);
	if (r->tap.nfail) /* what run_close found belongs to the last step */
		tap_diag("%s: after the domain was freed: %s", mode_name(mode),
			 r->tap.why);
}

/* ------------------------------------------------------------ the rest */

static void check_calls(struct rig *r)
{
	struct vfio_calls *c = &vfio_calls;
	uint64_t errors = c->map_errors + c->unmap_errors;

	if (c->unmatched_unmaps)
		tap_fail(&r->tap, "%llu UNMAP_DMA did not name exactly one "
			 "whole mapping", (unsigned long long)c->unmatched_unmaps);
	if (c->short_unmaps)
		tap_fail(&r->tap, "%llu UNMAP_DMA unmapped other than asked",
			 (unsigned long long)c->short_unmaps);
	if (c->misaligned)
		tap_fail(&r->tap, "%llu MAP_DMA not aligned to the smallest "
			 "IOMMU page", (unsigned long long)c->misaligned);
	if (errors != c->expected_errors)
		tap_fail(&r->tap, "%llu VFIO calls failed, %llu of them on "
			 "purpose; last: %s at %#llx+%#llx",
			 (unsigned long long)errors,
			 (unsigned long long)c->expected_errors,
			 strerror(c->last_errno),
			 (unsigned long long)c->last_iova,
			 (unsigned long long)c->last_size);
	if (c->nr_live || c->live_overflow)
		tap_fail(&r->tap, "the container still holds %u mappings of "
			 "the sink", c->nr_live);
	tap_point(&r->tap, "no unmap bisects a mapping, none fails unasked, "
		  "maps aligned to the IOMMU page: %llu MAP_DMA, %llu "
		  "UNMAP_DMA, %llu failures provoked",
		  (unsigned long long)c->maps, (unsigned long long)c->unmaps,
		  (unsigned long long)c->expected_errors);
}

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
	uint32_t limit, orig_limit = 0;
	uint64_t t0 = now_ms();
	unsigned int i, group;
	char *end;
	int kmsg;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (access("/dev/vfio/vfio", F_OK)) {
		printf("1..0 # SKIP no /dev/vfio\n");
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

	tap_plan(&r->tap, SETUP_POINTS + NR_MODES * nr_steps + EXTRA_POINTS);
	limit = lower_dma_limit(&orig_limit);
	setup_vfio(r, argv[1], group, limit, orig_limit);
	setup_edu(r);
	setup_refused(r);
	setup_guest(r);

	for (i = 0; i < NR_MODES; i++)
		run_mode(r, modes[i]);
	extra_coalesce(r);
	extra_iova_ranges(r);
	extra_dma_limit(r, limit);
	check_calls(r);
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
	vfio_env_close(&r->vfio);
	return r->tap.failed || r->tap.done != r->tap.planned ? 1 : 0;
}
