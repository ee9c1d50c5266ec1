/* SPDX-License-Identifier: MIT */
/*
 * vfio-sim: the in-guest test program (tests/vfio/, its own main) run on
 * the host against the fake kernel of fake_kernel.h, once per kernel it
 * might meet: Debian's 6.1 (type1 only: the iommufd points skip with the
 * reason the guest gives), a kernel with both type1 and iommufd and the
 * device cdev, one with iommufd alone, one with iommufd but no cdev, none
 * at all; and two broken ones the test must catch (an IOAS_UNMAP that
 * leaves the IOMMU translating, a bind that fails).  Each run is a child
 * process; this checks its TAP and what the fake kernel saw.
 *
 * What this cannot show: that the real kernel behaves as the fake does.
 * The fake follows the uAPI documentation; `make check-vfio KERNEL=...`
 * on a kernel with iommufd is the real test.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake_kernel.h"

#define POINTS_MAX 128
#define OUT_MAX    (256 * 1024)
/* As planned by wpt-vfio-test: the engine and DMAR points, type1's 38,
 * iommufd's 37. */
#define PLAN          77
#define TYPE1_POINTS  38
#define IOMMUFD_FIRST (2 + TYPE1_POINTS)

int __real_main(int argc, char **argv);

struct point {
	bool ok, skip;
	const char *text; /* after "ok N - " or "not ok N - " */
};

struct result {
	int status;             /* exit status, or -1 */
	long plan;              /* -1 if none */
	struct point p[POINTS_MAX + 1]; /* by number */
	unsigned int n;         /* points seen */
	bool numbered;          /* points came 1, 2, 3, ... */
	struct fake_stats fs;
	char out[OUT_MAX];
	char err[160];          /* stderr's file */
};

static unsigned int failures;
static char dir[64];
static bool verbose; /* -v: print each run's TAP */

static bool check(bool cond, const char *scenario, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool check(bool cond, const char *scenario, const char *fmt, ...)
{
	va_list ap;

	printf("%s - %s: ", cond ? "ok" : "not ok", scenario);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	failures += !cond;
	return cond;
}

static void child(const struct fake_cfg *cfg, int out, const char *err)
{
	char *argv[] = { "wpt-vfio-test", BDF, "3", NULL };
	int rc;

	if (dup2(out, 1) < 0 || !freopen(err, "w", stderr))
		_exit(99);
	fake_kernel_init(cfg, dir);
	rc = __real_main(3, argv);
	printf("#sim %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu "
	       "%llu %llu\n",
	       (unsigned long long)fake_stats.type1_maps,
	       (unsigned long long)fake_stats.type1_unmaps,
	       (unsigned long long)fake_stats.ioas_maps,
	       (unsigned long long)fake_stats.ioas_unmaps,
	       (unsigned long long)fake_stats.iova_ranges,
	       (unsigned long long)fake_stats.binds,
	       (unsigned long long)fake_stats.attaches,
	       (unsigned long long)fake_stats.busy,
	       (unsigned long long)fake_stats.dma_type1,
	       (unsigned long long)fake_stats.dma_ioas,
	       (unsigned long long)fake_stats.faults,
	       (unsigned long long)fake_stats.bad,
	       (unsigned long long)fake_stats.hw_errors);
	fflush(stdout);
	_exit(rc);
}

static void parse(struct result *res)
{
	struct fake_stats *f = &res->fs;
	char *line, *save = NULL;
	unsigned long long v[13];

	res->plan = -1;
	res->numbered = true;
	for (line = strtok_r(res->out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		bool ok = !strncmp(line, "ok ", 3);
		unsigned int num;
		char *dash;

		if (sscanf(line, "1..%ld", &res->plan) == 1)
			continue;
		if (sscanf(line, "#sim %llu %llu %llu %llu %llu %llu %llu %llu "
			   "%llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
			   &v[10], &v[11], &v[12]) == 13) {
			*f = (struct fake_stats){ v[0], v[1], v[2], v[3], v[4],
				v[5], v[6], v[7], v[8], v[9], v[10], v[11],
				v[12] };
			continue;
		}
		if (!ok && strncmp(line, "not ok ", 7))
			continue;
		dash = strstr(line, " - ");
		if (sscanf(line + (ok ? 3 : 7), "%u", &num) != 1 || !dash)
			continue;
		if (num != res->n + 1 || num > POINTS_MAX) {
			res->numbered = false;
			continue;
		}
		res->n = num;
		res->p[num] = (struct point){ ok, strstr(line, "# SKIP") != NULL,
					      dash + 3 };
	}
}

static void run(const struct fake_cfg *cfg, struct result *res)
{
	size_t len = 0;
	ssize_t got;
	int fds[2], wst, fd;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	res->status = -1;
	snprintf(res->err, sizeof(res->err), "%s/stderr", dir);
	if (pipe(fds))
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		child(cfg, fds[1], res->err);
	}
	close(fds[1]);
	fd = fds[0];
	while (len < OUT_MAX - 1 &&
	       (got = read(fd, res->out + len, OUT_MAX - 1 - len)) > 0)
		len += (size_t)got;
	close(fd);
	if (pid > 0 && waitpid(pid, &wst, 0) == pid && WIFEXITED(wst))
		res->status = WEXITSTATUS(wst);
	if (verbose)
		fputs(res->out, stdout);
	parse(res);
}

static void show(const struct result *res)
{
	char line[512];
	unsigned int i, shown = 0;
	FILE *f;

	for (i = 1; i <= res->n; i++)
		if (!res->p[i].ok && shown++ < 5)
			printf("#   not ok %u - %s\n", i, res->p[i].text);
	f = fopen(res->err, "r");
	if (!f)
		return;
	printf("#   its stderr (FAIL lines):\n");
	shown = 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "FAIL") && shown++ < 10)
			printf("#     %s", line);
	fclose(f);
}

/* Points [first, last]: how many are plain passes, skips with reason
 * (NULL: any), failures. */
static void count(const struct result *res, unsigned int first,
		  unsigned int last, const char *reason, unsigned int *pass,
		  unsigned int *skip, unsigned int *fail)
{
	unsigned int i;

	*pass = *skip = *fail = 0;
	for (i = first; i <= last && i <= res->n; i++) {
		const struct point *p = &res->p[i];

		if (!p->ok)
			(*fail)++;
		else if (p->skip && (!reason || strstr(p->text, reason)))
			(*skip)++;
		else if (!p->skip)
			(*pass)++;
	}
}

static bool plan_ok(const char *name, const struct result *res, int status)
{
	bool ok = check(res->status == status, name, "exit status %d, want %d",
			res->status, status);

	ok &= check(res->plan == PLAN && res->n == PLAN && res->numbered, name,
		    "plan %ld, %u points numbered in order", res->plan, res->n);
	return ok;
}

/* A prefix names every point of a backend. */
static bool prefixed(const struct result *res, unsigned int first,
		     unsigned int last, const char *prefix)
{
	unsigned int i;

	for (i = first; i <= last && i <= res->n; i++)
		if (strncmp(res->p[i].text, prefix, strlen(prefix)))
			return false;
	return true;
}

static const unsigned int T1 = 2, T1_LAST = 1 + TYPE1_POINTS;
static const unsigned int FD1 = IOMMUFD_FIRST, FD_LAST = PLAN - 1;

/* A kernel that lacks one backend: all passes but its points, which all
 * skip saying why. */
static bool one_missing(const char *name, const struct fake_cfg *cfg,
			bool no_type1, const char *why, struct result *res)
{
	unsigned int first = no_type1 ? T1 : FD1;
	unsigned int last = no_type1 ? T1_LAST : FD_LAST;
	unsigned int n = last - first + 1, pass, skip, fail;
	bool ok;

	run(cfg, res);
	ok = plan_ok(name, res, 0);
	count(res, 1, PLAN, NULL, &pass, &skip, &fail);
	ok &= check(!fail && pass == PLAN - n, name, "%u passed, %u skipped, "
		    "%u failed", pass, skip, fail);
	count(res, first, last, why, &pass, &skip, &fail);
	ok &= check(skip == n && prefixed(res, first, last, no_type1 ?
					  "type1: " : "iommufd: "),
		    name, "all %u %s points say '%s'", n,
		    no_type1 ? "type1" : "iommufd", why);
	return ok;
}

static void kernel_6_1(void)
{
	const char *name = "Debian 6.1: type1 runs, iommufd skips";
	struct fake_cfg cfg = { .release = "6.1.0-28-amd64", .type1 = true };
	static struct result res;
	bool ok;

	ok = one_missing(name, &cfg, false, "# SKIP no /dev/iommu (kernel "
			 "6.1 predates iommufd)", &res);
	ok &= check(prefixed(&res, T1, T1_LAST, "type1: "), name,
		    "the type1 points are named so");
	ok &= check(res.fs.type1_maps > 50 && res.fs.dma_type1 > 100 &&
		    !res.fs.ioas_maps && res.fs.faults, name,
		    "the fake saw %llu MAP_DMA, %llu type1 DMAs, %llu IOAS_MAP, "
		    "%llu DMAR faults", (unsigned long long)res.fs.type1_maps,
		    (unsigned long long)res.fs.dma_type1,
		    (unsigned long long)res.fs.ioas_maps,
		    (unsigned long long)res.fs.faults);
	if (!ok)
		show(&res);
}

static void both(void)
{
	const char *name = "type1 and iommufd: both run";
	struct fake_cfg cfg = { .release = "6.12.0", .type1 = true,
				.iommufd = true, .cdev = true };
	static struct result res;
	const struct fake_stats *f = &res.fs;
	unsigned int pass, skip, fail;
	bool ok;

	run(&cfg, &res);
	ok = plan_ok(name, &res, 0);
	count(&res, 1, PLAN, NULL, &pass, &skip, &fail);
	ok &= check(pass == PLAN, name, "%u passed, %u skipped, %u failed",
		    pass, skip, fail);
	ok &= check(prefixed(&res, FD1, FD_LAST, "iommufd: ") &&
		    res.n >= FD1 + 6 &&
		    strstr(res.p[FD1 + 6].text, "iommufd: edu: DMA from a "
			   "never-mapped IOVA is refused") &&
		    strstr(res.p[FD1 + 7].text, "iommufd: trap: map 16 + 4 "
			   "pages, one read-only (20 IOAS_MAP, 0 IOAS_UNMAP)"),
		    name, "iommufd points named and counted in IOAS_MAP");
	ok &= check(f->binds == 1 && f->attaches == 1 && f->iova_ranges >= 1 &&
		    f->ioas_maps > 50 && f->ioas_unmaps > 30 &&
		    f->dma_ioas > 100 && f->type1_maps > 50, name,
		    "the fake saw 1 bind, 1 attach, %llu IOAS_MAP, %llu "
		    "IOAS_UNMAP, %llu DMAs through the IOAS",
		    (unsigned long long)f->ioas_maps,
		    (unsigned long long)f->ioas_unmaps,
		    (unsigned long long)f->dma_ioas);
	ok &= check(!f->busy && !f->bad && !f->hw_errors, name,
		    "group and cdev never open together, no request the "
		    "kernel refuses as malformed, no edu transfer QEMU aborts");
	if (!ok)
		show(&res);
}

static void iommufd_only(void)
{
	const char *name = "iommufd alone: type1 skips";
	struct fake_cfg cfg = { .release = "6.12.0", .iommufd = true,
				.cdev = true };
	static struct result res;
	bool ok;

	ok = one_missing(name, &cfg, true, "# SKIP no /dev/vfio/vfio", &res);
	ok &= check(res.fs.dma_ioas > 100 && !res.fs.type1_maps, name,
		    "%llu DMAs through the IOAS, none through type1",
		    (unsigned long long)res.fs.dma_ioas);
	if (!ok)
		show(&res);
}

static void no_cdev(void)
{
	const char *name = "iommufd without the device cdev (6.4): skips";
	struct fake_cfg cfg = { .release = "6.4.16", .type1 = true,
				.iommufd = true };
	static struct result res;

	if (!one_missing(name, &cfg, false, "# SKIP no VFIO device cdev for "
			 BDF " (kernel 6.4 predates it)", &res))
		show(&res);
}

static void neither(void)
{
	const char *name = "neither type1 nor iommufd";
	struct fake_cfg cfg = { .release = "6.12.0" };
	static struct result res;

	run(&cfg, &res);
	check(res.status == 77 && res.plan == 0 && !res.n &&
	      strstr(res.out, "1..0 # SKIP"), name, "exit %d, a 1..0 skip",
	      res.status);
}

/* The test must see the device still reaching what iommufd unmapped. */
static void stale_unmap(void)
{
	const char *name = "broken kernel: IOAS_UNMAP leaves the IOMMU "
			   "translating";
	struct fake_cfg cfg = { .release = "6.12.0", .type1 = true,
				.iommufd = true, .cdev = true,
				.stale_ioas_unmap = true };
	static struct result res;
	unsigned int pass, skip, fail, i, stale = 0;
	bool ok;

	run(&cfg, &res);
	ok = plan_ok(name, &res, 1);
	count(&res, T1, T1_LAST, NULL, &pass, &skip, &fail);
	ok &= check(!fail, name, "type1 unaffected (%u failed)", fail);
	for (i = FD1; i <= FD_LAST && i <= res.n; i++)
		stale += !res.p[i].ok &&
			 (strstr(res.p[i].text, "used to reach") ||
			  strstr(res.p[i].text, "changed GPA"));
	ok &= check(stale >= 9, name, "%u iommufd points caught a DMA "
		    "reaching an unmapped IOVA", stale);
	if (!ok)
		show(&res);
}

static void bind_fails(void)
{
	const char *name = "broken kernel: the bind fails";
	struct fake_cfg cfg = { .release = "6.12.0", .type1 = true,
				.iommufd = true, .cdev = true,
				.bind_fails = true };
	static struct result res;
	unsigned int pass, skip, fail, i, not_run = 0;
	bool ok;

	run(&cfg, &res);
	ok = plan_ok(name, &res, 1);
	ok &= check(res.n > FD1 + 1 && res.p[FD1].ok && !res.p[FD1 + 1].ok &&
		    strstr(res.p[FD1 + 1].text, "VFIO_DEVICE_BIND_IOMMUFD: No "
			   "such device"), name, "the bind point fails with "
		    "the kernel's error");
	for (i = FD1 + 2; i <= FD_LAST && i <= res.n; i++)
		not_run += !res.p[i].ok &&
			   strstr(res.p[i].text, "not run: iommufd setup failed");
	ok &= check(not_run == FD_LAST - FD1 - 1, name, "the %u iommufd "
		    "points after it fail as not run", not_run);
	count(&res, 1, T1_LAST, NULL, &pass, &skip, &fail);
	ok &= check(!fail && res.p[PLAN].ok, name, "type1 and DMAR points "
		    "pass");
	if (!ok)
		show(&res);
}

int __wrap_main(int argc, char **argv)
{
	char path[128];
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/wpt-vfio-sim.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	/* The fake sysfs directory of the device's cdevs. */
	snprintf(path, sizeof(path), "%s/vfio0", dir);
	f = fopen(path, "w");
	if (f)
		fclose(f);
	setvbuf(stdout, NULL, _IOLBF, 0);
	verbose = argc > 1 && !strcmp(argv[1], "-v");
	kernel_6_1();
	both();
	iommufd_only();
	no_cdev();
	neither();
	stale_unmap();
	bind_fails();
	unlink(path);
	snprintf(path, sizeof(path), "%s/stderr", dir);
	unlink(path);
	rmdir(dir);
	printf("vfio-sim: %s\n", failures ? "FAILED" : "all scenarios passed");
	return failures ? 1 : 0;
}
