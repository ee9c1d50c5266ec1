/* SPDX-License-Identifier: MIT */
/*
 * The SMMU's command queue: a CMDQ_PROD write (the doorbell) consumes the
 * queue in order, turning CFGI_CD into a root change and the TLBI commands
 * into wpt_domain_invalidate calls, exactly where a VMM emulating a real
 * SMMUv3 would call the library.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../clock.h"
#include "smmu_internal.h"
#include "sink/sink.h"

/* In EXPLICIT mode the check domain is walked only by smmu_verify: the
 * guest's requests, not its invalidations, are what the sink follows. */
static void invalidate(struct smmu *s, uint64_t iova, uint64_t size, bool all)
{
	uint64_t t0;
	int ret;

	if (!s->d || s->cfg.strategy == BENCH_S_EXPLICIT)
		return;
	t0 = bench_now_ns();
	ret = all ? wpt_domain_invalidate_all(s->d)
		  : wpt_domain_invalidate(s->d, iova, size);
	s->st.inval_ns += bench_now_ns() - t0;
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
	case BENCH_S_RELAXED:
		return WPT_MODE_RELAXED;
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
void smmu_cmdq_prod_write(struct smmu *s, uint32_t val)
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
