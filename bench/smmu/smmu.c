/* SPDX-License-Identifier: MIT */
/*
 * The bench's SMMUv3-style device (see smmu.h for what it simplifies).
 * Register accesses come from the vCPU's MMIO exits; a CMDQ_PROD write (the
 * doorbell) consumes the queue in order, turning CFGI_CD into a root change
 * and the TLBI commands into wpt_domain_invalidate calls, exactly where a
 * VMM emulating a real SMMUv3 would call the library.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smmu.h"
#include "sink/sink.h"

/* SMMU_IDR1.CMDQS: the largest command queue is 2^19 entries. */
#define SMMU_CMDQ_MAX_LOG2 19
#define SMMU_CMDQ_BASE_ADDR_MASK 0x000fffffffffffe0ull /* [51:5] */
#define SMMU_CMDQ_BASE_LOG2_MASK 0x1full               /* [4:0] */
#define SMMU_CMD_SIZE 16
#define SMMU_CMD_OPCODE(w0) ((w0) & 0xff)

/* STE.S1ContextPtr, [51:6]: a CD is 64 bytes, aligned to them. */
#define SMMU_CD_ADDR_MASK 0x000fffffffffffc0ull
#define SMMU_CD_SIZE 64
#define CD0_T0SZ_GET(w) ((unsigned int)((w) & 0x3f))
#define CD0_TG0_GET(w) ((unsigned int)(((w) >> 6) & 3))
#define CD0_ASID_GET(w) ((uint16_t)((w) >> 48))

/* Command fields (SMMUv3 4.2-4.7). */
#define CMD_ASID(w0) ((uint16_t)((w0) >> 48))
#define CMD_TLBI_NUM(w0) (((w0) >> 12) & 0x1f)
#define CMD_TLBI_SCALE(w0) (((w0) >> 20) & 0x1f)
#define CMD_TLBI_TG(w1) ((unsigned int)(((w1) >> 10) & 3))
#define CMD_TLBI_ADDR(w1) ((w1) & ~0xfffull)
#define CMD_SYNC_CS(w0) ((unsigned int)(((w0) >> 12) & 3))
#define CMD_SYNC_CS_SEV 2
#define CMD_SYNC_MSIDATA(w0) ((uint32_t)((w0) >> 32))
#define CMD_SYNC_MSIADDR(w1) ((w1) & 0x000ffffffffffffcull) /* [51:2] */

struct smmu {
	struct smmu_cfg cfg;
	struct wpt_domain *d;
	uint32_t granule, ias;    /* the domain's, valid while d != NULL */
	uint16_t asid;            /* the last valid CD's */

	/* Registers. */
	uint64_t cmdq_base;
	uint32_t prod, cons;      /* index | wrap, as last set */
	uint32_t cerror;          /* CONS.ERR */
	uint64_t cd_base;

	/* EXPLICIT with a sink we cannot read back: what the requests that
	 * succeeded mapped, for smmu_verify. */
	struct wpt_sink *mirror;
	bool mirror_diverged;

	struct smmu_stats st;
	char err[256];
};

static void set_error(struct smmu *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_error(struct smmu *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The HVA of [gpa, gpa + len) if it lies wholly in RAM, else NULL. */
static uint8_t *ram_ptr(const struct smmu *s, uint64_t gpa, uint64_t len)
{
	uint64_t off = gpa - s->cfg.ram_gpa;

	if (gpa < s->cfg.ram_gpa || off > s->cfg.ram_size ||
	    len > s->cfg.ram_size - off)
		return NULL;
	return s->cfg.ram + off;
}

static bool is_record_sink(const struct wpt_sink *sink)
{
	return wpt_sink_record_get(sink, NULL, 0) >= 0;
}

int smmu_new(const struct smmu_cfg *cfg, struct smmu **out)
{
	struct smmu *s;

	if (!cfg || !out || !cfg->vm || !cfg->ram || !cfg->ram_size ||
	    cfg->ram_gpa + cfg->ram_size < cfg->ram_gpa || !cfg->sink)
		return -EINVAL;
	switch (cfg->strategy) {
	case BENCH_S_TRAP:
	case BENCH_S_HYBRID:
	case BENCH_S_INVAL:
		break;
	case BENCH_S_EXPLICIT:
		if (!cfg->check_sink || cfg->check_sink == cfg->sink)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	if (!s->cfg.oas)
		s->cfg.oas = 48;
	if (cfg->strategy == BENCH_S_EXPLICIT && !is_record_sink(cfg->sink) &&
	    wpt_sink_record_new(&s->mirror)) {
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void smmu_free(struct smmu *s)
{
	if (!s)
		return;
	wpt_domain_free(s->d);
	wpt_sink_free(s->mirror);
	free(s);
}

struct wpt_domain *smmu_domain(struct smmu *s)
{
	return s ? s->d : NULL;
}

const char *smmu_last_error(const struct smmu *s)
{
	return s ? s->err : "no smmu";
}

void smmu_stats(const struct smmu *s, struct smmu_stats *st)
{
	if (s)
		*st = s->st;
	else
		memset(st, 0, sizeof(*st));
}

/* ------------------------------------------------------------ commands */

static void count_domain_error(struct smmu *s, const char *what, int ret)
{
	s->st.domain_errors++;
	set_error(s, "%s: %s", what, strerror(-ret));
}

/* In EXPLICIT mode the check domain is walked only by smmu_verify: the
 * guest's requests, not its invalidations, are what the sink follows. */
static void invalidate(struct smmu *s, uint64_t iova, uint64_t size, bool all)
{
	uint64_t t0;
	int ret;

	if (!s->d || s->cfg.strategy == BENCH_S_EXPLICIT)
		return;
	t0 = now_ns();
	ret = all ? wpt_domain_invalidate_all(s->d)
		  : wpt_domain_invalidate(s->d, iova, size);
	s->st.inval_ns += now_ns() - t0;
	if (ret)
		count_domain_error(s, "invalidate", ret);
}

static enum wpt_mode domain_mode(enum bench_strategy strategy)
{
	switch (strategy) {
	case BENCH_S_TRAP:
		return WPT_MODE_TRAP;
	case BENCH_S_HYBRID:
		return WPT_MODE_HYBRID;
	default:
		return WPT_MODE_INVAL;
	}
}

/* A command's guest error: CERROR_ILL, with the reason kept. */
static int bad_cmd(struct smmu *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int bad_cmd(struct smmu *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return SMMU_CERROR_ILL;
}

/* Make the domain match a valid CD's granule and input size. */
static int cd_domain(struct smmu *s, uint32_t granule, uint32_t ias)
{
	struct wpt_format_cfg fmt = {
		.size = sizeof(fmt), .format = WPT_FMT_ARM_LPAE_S1,
		.granule = granule, .ias = ias, .oas = s->cfg.oas, .sl = -1,
	};
	struct wpt_sink *sink = s->cfg.strategy == BENCH_S_EXPLICIT
					? s->cfg.check_sink
					: s->cfg.sink;
	int ret;

	if (s->d && s->granule == granule && s->ias == ias)
		return 0;
	/* Free first: the sink can back one domain at a time. */
	wpt_domain_free(s->d);
	s->d = NULL;
	ret = wpt_domain_new(s->cfg.vm, &fmt, sink,
			     domain_mode(s->cfg.strategy), &s->d);
	if (ret) {
		s->d = NULL;
		return ret;
	}
	s->granule = granule;
	s->ias = ias;
	return 0;
}

/* CMD_CFGI_CD: re-read the one CD (SID and SSID name it on a real SMMU;
 * this device has one stream and one context). */
static int cmd_cfgi_cd(struct smmu *s)
{
	uint64_t cd_gpa = s->cd_base & SMMU_CD_ADDR_MASK;
	const uint8_t *cd = ram_ptr(s, cd_gpa, SMMU_CD_SIZE);
	static const uint32_t tg0_granule[4] = { 4096, 65536, 16384, 0 };
	uint64_t w0, w1, ttb0;
	uint32_t granule, ias;
	int ret;

	s->st.cfgi_cd++;
	if (!cd)
		return bad_cmd(s, "CFGI_CD: CD at 0x%" PRIx64 " not in RAM",
			       cd_gpa);
	memcpy(&w0, cd, 8);
	memcpy(&w1, cd + 8, 8);
	/* EPD0 disables TTB0 walks: every input address faults, as with
	 * no translation at all (no mappings). */
	if (!(w0 & CD0_V) || (w0 & CD0_EPD0)) {
		if (s->d && (ret = wpt_domain_clear_root(s->d)))
			count_domain_error(s, "clear_root", ret);
		return 0;
	}
	if (!(w0 & CD0_AA64))
		return bad_cmd(s, "CFGI_CD: CD.AA64 clear");
	granule = tg0_granule[CD0_TG0_GET(w0)];
	if (!granule)
		return bad_cmd(s, "CFGI_CD: CD.TG0 reserved");
	ias = 64 - CD0_T0SZ_GET(w0);
	if (ias < 25 || ias > 48)
		return bad_cmd(s, "CFGI_CD: CD.T0SZ %u (ias %u) unsupported",
			       CD0_T0SZ_GET(w0), ias);
	ttb0 = w1 & CD1_TTB0_MASK;
	if (!ram_ptr(s, ttb0, granule))
		return bad_cmd(s, "CFGI_CD: TTB0 0x%" PRIx64 " not in RAM",
			       ttb0);
	ret = cd_domain(s, granule, ias);
	if (ret) {
		count_domain_error(s, "domain_new", ret);
		return 0;
	}
	s->asid = CD0_ASID_GET(w0);
	ret = wpt_domain_set_root(s->d, ttb0);
	if (ret == -EINVAL)
		return bad_cmd(s, "CFGI_CD: TTB0 0x%" PRIx64 " misaligned",
			       ttb0);
	if (ret)
		count_domain_error(s, "set_root", ret);
	return 0;
}

/* CMD_TLBI_NH_VA: with TG != 0 a range of (NUM + 1) << SCALE pages of that
 * granule (SMMUv3.1 range invalidation), else the one granule at ADDR. */
static int cmd_tlbi_nh_va(struct smmu *s, uint64_t w0, uint64_t w1)
{
	unsigned int tg = CMD_TLBI_TG(w1);
	uint64_t size;

	s->st.tlbi_va++;
	if (!s->d || CMD_ASID(w0) != s->asid)
		return 0;
	if (tg) {
		unsigned int shift = 12 + 2 * (tg - 1); /* 4K, 16K, 64K */

		size = ((CMD_TLBI_NUM(w0) + 1) << CMD_TLBI_SCALE(w0)) << shift;
	} else {
		size = s->granule;
	}
	invalidate(s, CMD_TLBI_ADDR(w1), size, false);
	return 0;
}

/* CMD_SYNC: everything before it is done (commands run synchronously), so
 * signal at once.  The MSI write is a device DMA into guest RAM, which may
 * in principle land on a table page: the library must hear of it. */
static int cmd_sync(struct smmu *s, uint64_t w0, uint64_t w1)
{
	unsigned int cs = CMD_SYNC_CS(w0);
	uint64_t msi = CMD_SYNC_MSIADDR(w1);
	uint32_t data = CMD_SYNC_MSIDATA(w0);
	uint8_t *p;
	int ret;

	s->st.syncs++;
	if (cs == 3)
		return bad_cmd(s, "CMD_SYNC: CS reserved");
	if (cs != CMD_SYNC_CS_IRQ || !msi)
		return 0;
	p = ram_ptr(s, msi, sizeof(data));
	if (!p) {
		/* A real SMMU aborts the MSI (GERROR.MSI_CMDQ_ABT_ERR); the
		 * sync itself completes. */
		set_error(s, "CMD_SYNC: MSI address 0x%" PRIx64 " not in RAM",
			  msi);
		return 0;
	}
	memcpy(p, &data, sizeof(data));
	s->st.msi_writes++;
	ret = wpt_vm_host_wrote(s->cfg.vm, msi, sizeof(data));
	if (ret)
		count_domain_error(s, "host_wrote", ret);
	return 0;
}

/* One command: 0, or the CERROR code that stops the queue. */
static int run_cmd(struct smmu *s, uint64_t w0, uint64_t w1)
{
	s->st.cmds++;
	switch (SMMU_CMD_OPCODE(w0)) {
	case CMD_CFGI_CD:
		return cmd_cfgi_cd(s);
	case CMD_TLBI_NH_VA:
		return cmd_tlbi_nh_va(s, w0, w1);
	case CMD_TLBI_NH_ASID:
		s->st.tlbi_asid++;
		if (CMD_ASID(w0) == s->asid)
			invalidate(s, 0, 0, true);
		return 0;
	case CMD_TLBI_NSNH_ALL:
		s->st.tlbi_all++;
		invalidate(s, 0, 0, true);
		return 0;
	case CMD_SYNC:
		return cmd_sync(s, w0, w1);
	default:
		return bad_cmd(s, "illegal command opcode 0x%02x",
			       (unsigned int)SMMU_CMD_OPCODE(w0));
	}
}

static unsigned int cmdq_log2(const struct smmu *s)
{
	unsigned int l = s->cmdq_base & SMMU_CMDQ_BASE_LOG2_MASK;

	return l > SMMU_CMDQ_MAX_LOG2 ? SMMU_CMDQ_MAX_LOG2 : l;
}

/* The queue's base: aligned to its size, and to 32 bytes at least. */
static uint64_t cmdq_addr(const struct smmu *s)
{
	uint64_t bytes = (uint64_t)SMMU_CMD_SIZE << cmdq_log2(s);

	if (bytes < 32)
		bytes = 32;
	return s->cmdq_base & SMMU_CMDQ_BASE_ADDR_MASK & ~(bytes - 1);
}

/* The doorbell: consume every command from CONS to PROD, in order. */
static void cmdq_prod_write(struct smmu *s, uint32_t val)
{
	unsigned int log2 = cmdq_log2(s);
	uint32_t entries = 1u << log2;
	uint32_t wrap_mask = (entries << 1) - 1; /* index and wrap bit */
	uint64_t base = cmdq_addr(s);

	s->st.doorbells++;
	s->prod = val & wrap_mask;
	s->cerror = SMMU_CERROR_NONE; /* our stand-in for GERRORN */
	if (((s->prod - s->cons) & wrap_mask) > entries) {
		s->st.cmd_errors++;
		s->cerror = SMMU_CERROR_ILL;
		set_error(s, "CMDQ_PROD 0x%x more than a queue ahead of CONS 0x%x",
			  s->prod, s->cons);
		return;
	}
	while (s->cons != s->prod) {
		uint64_t gpa = base + (uint64_t)(s->cons & (entries - 1)) *
					      SMMU_CMD_SIZE;
		const uint8_t *p = ram_ptr(s, gpa, SMMU_CMD_SIZE);
		uint64_t w0, w1;
		int cerror;

		if (!p) {
			s->st.cmd_errors++;
			s->cerror = SMMU_CERROR_ABT;
			set_error(s, "command at 0x%" PRIx64 " not in RAM", gpa);
			return;
		}
		memcpy(&w0, p, 8);
		memcpy(&w1, p + 8, 8);
		cerror = run_cmd(s, w0, w1);
		if (cerror) {
			s->st.cmd_errors++;
			s->cerror = cerror;
			return;
		}
		s->cons = (s->cons + 1) & wrap_mask;
	}
}

/* ------------------------------------------------------------ requests */

static int req_map(struct smmu *s, const struct bench_req *r)
{
	uint32_t perm = 0;
	uint8_t *hva;
	int ret;

	if (!r->perm || (r->perm & ~(BENCH_PERM_R | BENCH_PERM_W)))
		return -EINVAL;
	if (r->perm & BENCH_PERM_R)
		perm |= WPT_PERM_READ;
	if (r->perm & BENCH_PERM_W)
		perm |= WPT_PERM_WRITE;
	hva = ram_ptr(s, r->gpa, r->size);
	if (!hva || (r->gpa & 0xfff))
		return hva ? -EINVAL : -EFAULT;
	ret = wpt_sink_map(s->cfg.sink, r->iova, r->gpa, hva, r->size, perm);
	if (!ret && s->mirror &&
	    wpt_sink_map(s->mirror, r->iova, r->gpa, hva, r->size, perm))
		s->mirror_diverged = true;
	return ret;
}

static int req_unmap(struct smmu *s, const struct bench_req *r)
{
	int ret = wpt_sink_unmap(s->cfg.sink, r->iova, r->size);

	if (!ret && s->mirror && wpt_sink_unmap(s->mirror, r->iova, r->size))
		s->mirror_diverged = true;
	return ret;
}

/* SMMU_R_REQ: one virtio-iommu-style MAP or UNMAP; the status goes back
 * into the request.  A request that cannot be read has nowhere to put one:
 * it is only counted. */
static void request(struct smmu *s, uint64_t gpa)
{
	uint8_t *p = ram_ptr(s, gpa, sizeof(struct bench_req));
	struct bench_req r;
	int64_t status;
	int ret;

	s->st.requests++;
	if (!p) {
		s->st.req_errors++;
		set_error(s, "request at 0x%" PRIx64 " not in RAM", gpa);
		return;
	}
	memcpy(&r, p, sizeof(r));
	if (s->cfg.strategy != BENCH_S_EXPLICIT)
		ret = -EOPNOTSUPP;
	else if (!r.size || ((r.iova | r.size) & 0xfff) ||
		 r.iova + r.size < r.iova)
		ret = -EINVAL;
	else if (r.op == BENCH_REQ_MAP)
		ret = req_map(s, &r);
	else if (r.op == BENCH_REQ_UNMAP)
		ret = req_unmap(s, &r);
	else
		ret = -EINVAL;
	if (ret) {
		s->st.req_errors++;
		set_error(s, "request op %u iova 0x%" PRIx64 " size 0x%" PRIx64
			  ": %s", r.op, r.iova, r.size, strerror(-ret));
	}
	status = ret;
	memcpy(p + offsetof(struct bench_req, status), &status, 8);
	ret = wpt_vm_host_wrote(s->cfg.vm, gpa + offsetof(struct bench_req,
							  status), 8);
	if (ret)
		count_domain_error(s, "host_wrote", ret);
}

/* ----------------------------------------------------------- registers */

/* Read len bytes of a 64-bit register at byte offset half (0 or 4). */
static void reg_read(uint64_t reg, unsigned int half, uint8_t *data,
		     uint32_t len)
{
	uint64_t v = reg >> (8 * half);

	memcpy(data, &v, len);
}

/* Merge a 4- or 8-byte write into a 64-bit register. */
static uint64_t reg_merge(uint64_t reg, unsigned int half, const uint8_t *data,
			  uint32_t len)
{
	uint64_t v = 0, mask = len == 8 ? ~0ull : 0xffffffffull;

	memcpy(&v, data, len);
	return (reg & ~(mask << (8 * half))) | (v << (8 * half));
}

int smmu_mmio(struct smmu *s, uint64_t off, uint8_t *data, uint32_t len,
	      bool is_write)
{
	unsigned int half = off & 4;
	uint32_t v32;

	if (!s || !data || (len != 4 && len != 8) || (off & (len - 1)) ||
	    off >= BENCH_MMIO_SIZE)
		return -EINVAL;
	switch (off) {
	case SMMU_R_CMDQ_PROD:
		if (len != 4)
			return -EINVAL;
		if (is_write) {
			memcpy(&v32, data, 4);
			cmdq_prod_write(s, v32);
		} else {
			memcpy(data, &s->prod, 4);
		}
		return 0;
	case SMMU_R_CMDQ_CONS:
		if (is_write)
			return -EINVAL;
		v32 = s->cons | (s->cerror << SMMU_CONS_ERR_SHIFT);
		memcpy(data, &v32, 4);
		return 0;
	}
	switch (off & ~7ull) {
	case SMMU_R_ID:
		if (is_write)
			return -EINVAL;
		reg_read(BENCH_SMMU_ID, half, data, len);
		return 0;
	case SMMU_R_CMDQ_BASE:
		if (!is_write) {
			reg_read(s->cmdq_base, half, data, len);
			return 0;
		}
		/* No CR0.CMDQEN here: a new base is a fresh, empty queue. */
		s->cmdq_base = reg_merge(s->cmdq_base, half, data, len);
		s->prod = s->cons = 0;
		s->cerror = SMMU_CERROR_NONE;
		return 0;
	case SMMU_R_CD_BASE:
		if (is_write)
			s->cd_base = reg_merge(s->cd_base, half, data, len);
		else
			reg_read(s->cd_base, half, data, len);
		return 0;
	case SMMU_R_REQ:
		if (!is_write || len != 8)
			return -EINVAL;
		{
			uint64_t gpa;

			memcpy(&gpa, data, 8);
			request(s, gpa);
		}
		return 0;
	default:
		return -EINVAL;
	}
}

/* -------------------------------------------------------------- verify */

/* A sink's mappings as maximal runs (IOVA and GPA both continuing, same
 * perm), so two sinks that split the same translation differently compare
 * equal.  *out is malloc'd; returns the run count or -errno. */
static long sink_runs(const struct wpt_sink *sink, struct wpt_mapping **out)
{
	long n = wpt_sink_record_get(sink, NULL, 0), i, runs = 0;
	struct wpt_mapping *m;

	*out = NULL;
	if (n < 0)
		return n;
	m = calloc(n ? n : 1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	if (wpt_sink_record_get(sink, m, n) != n) {
		free(m);
		return -EIO;
	}
	for (i = 0; i < n; i++) {
		struct wpt_mapping *l = runs ? &m[runs - 1] : NULL;

		if (l && l->iova + l->size == m[i].iova &&
		    l->gpa + l->size == m[i].gpa && l->perm == m[i].perm)
			l->size += m[i].size;
		else
			m[runs++] = m[i];
	}
	*out = m;
	return runs;
}

static bool same_run(const struct wpt_mapping *a, const struct wpt_mapping *b)
{
	return a->iova == b->iova && a->gpa == b->gpa && a->size == b->size &&
	       a->perm == b->perm;
}

/* Where two runs (either may be missing) stop translating alike. */
static uint64_t first_difference(const struct wpt_mapping *a,
				 const struct wpt_mapping *b)
{
	if (!a || !b)
		return a ? a->iova : b->iova;
	if (a->iova != b->iova)
		return a->iova < b->iova ? a->iova : b->iova;
	if (a->gpa != b->gpa || a->perm != b->perm)
		return a->iova;
	return a->iova + (a->size < b->size ? a->size : b->size);
}

static const char *perm_str(uint32_t perm)
{
	static const char *const names[4] = { "-", "r", "w", "rw" };

	return names[perm & 3];
}

static int verify_domain(struct smmu *s, const char *what)
{
	long diffs;
	int err;

	if (!s->d)
		return 0;
	err = wpt_domain_error(s->d);
	if (err) {
		set_error(s, "%s faulted: %s", what, strerror(-err));
		return -EIO;
	}
	diffs = wpt_domain_verify(s->d);
	if (diffs < 0) {
		set_error(s, "%s: verify failed: %s", what, strerror(-diffs));
		return -EIO;
	}
	if (diffs) {
		set_error(s, "%s: %ld differences between the shadow and a "
			  "full walk of the tables", what, diffs);
		return -EIO;
	}
	return 0;
}

static int verify_explicit(struct smmu *s)
{
	struct wpt_sink *sink = s->mirror ? s->mirror : s->cfg.sink;
	struct wpt_mapping *a = NULL, *b = NULL;
	long na, nb, i;
	int ret = -EIO;

	if (s->mirror_diverged) {
		set_error(s, "the sink accepted a request its record refused");
		return -EIO;
	}
	if (s->d) {
		int r = wpt_domain_invalidate_all(s->d);

		if (r) {
			set_error(s, "check domain: invalidate_all: %s",
				  strerror(-r));
			return -EIO;
		}
	}
	ret = verify_domain(s, "check domain");
	if (ret)
		return ret;
	ret = -EIO;
	na = sink_runs(sink, &a);
	nb = sink_runs(s->cfg.check_sink, &b);
	if (na < 0 || nb < 0) {
		set_error(s, "cannot read the %s sink: %s",
			  na < 0 ? "explicit" : "check",
			  strerror(na < 0 ? -na : -nb));
		goto out;
	}
	for (i = 0; i < na || i < nb; i++) {
		char ta[96] = "nothing", tb[96] = "nothing";

		if (i < na && i < nb && same_run(&a[i], &b[i]))
			continue;
		if (i < na)
			snprintf(ta, sizeof(ta), "iova 0x%" PRIx64 "+0x%" PRIx64
				 " -> gpa 0x%" PRIx64 " %s", a[i].iova,
				 a[i].size, a[i].gpa, perm_str(a[i].perm));
		if (i < nb)
			snprintf(tb, sizeof(tb), "iova 0x%" PRIx64 "+0x%" PRIx64
				 " -> gpa 0x%" PRIx64 " %s", b[i].iova,
				 b[i].size, b[i].gpa, perm_str(b[i].perm));
		set_error(s, "explicit sink and tables differ from IOVA 0x%"
			  PRIx64 ": sink maps %s, tables map %s",
			  first_difference(i < na ? &a[i] : NULL,
					   i < nb ? &b[i] : NULL), ta, tb);
		goto out;
	}
	ret = 0;
out:
	free(a);
	free(b);
	return ret;
}

int smmu_verify(struct smmu *s)
{
	if (!s)
		return -EINVAL;
	s->err[0] = 0;
	if (s->cfg.strategy == BENCH_S_EXPLICIT)
		return verify_explicit(s);
	return verify_domain(s, "domain");
}
