/* SPDX-License-Identifier: MIT */
/*
 * Stream configuration: find a stream's STE (linear or 2-level stream
 * table, 6.3.23-24), decode it and its CD (5.2, 5.4) into a stage-1
 * format and root, and make the stream's libwpt domain follow it.  A
 * configuration error is reported as the event the architecture names and
 * leaves the stream with no mapping (its DMA aborts), as a real SMMU would
 * for every transaction of that stream.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smmuv3-internal.h"

struct smmuv3_stream *smmuv3__stream_find(struct smmuv3 *s, uint32_t sid)
{
	unsigned int i;

	for (i = 0; i < s->nr_streams; i++)
		if (s->streams[i].sid == sid)
			return &s->streams[i];
	return NULL;
}

/* The STE's address, or the event that says why there is none. */
static int smmuv3__ste_addr(struct smmuv3 *s, uint32_t sid, uint64_t *gpa)
{
	uint32_t cfg = s->strtab_cfg;
	uint64_t base = s->strtab_base & GENMASK(51, 6);
	unsigned int log2 = STRTAB_CFG_LOG2(cfg), split, span;
	uint64_t l1;

	if (log2 > SMMU_SIDSIZE)
		log2 = SMMU_SIDSIZE;
	if (sid >> log2)
		return EVT_C_BAD_STREAMID;
	if (STRTAB_CFG_FMT(cfg) != STRTAB_FMT_2LVL) {
		*gpa = base + (uint64_t)sid * STE_SIZE;
		return 0;
	}
	split = STRTAB_CFG_SPLIT(cfg);
	if (split != 6 && split != 8 && split != 10)
		split = 6 + 2 * (split > 6) + 2 * (split > 8); /* reserved */
	if (split > log2)
		split = log2;
	*gpa = base + (uint64_t)(sid >> split) * 8;
	if (smmuv3__read(s, *gpa, &l1, sizeof(l1)))
		return EVT_F_STE_FETCH;
	/* Span 0: no level-2 table; Span n holds 2^(n - 1) STEs. */
	span = STRTAB_L1_SPAN(l1);
	if (span > split + 1)
		span = split + 1;
	if (!span || (sid & ((1u << split) - 1)) >= (1u << (span - 1)))
		return EVT_C_BAD_STREAMID;
	*gpa = STRTAB_L1_L2PTR(l1) +
	       (uint64_t)(sid & ((1u << split) - 1)) * STE_SIZE;
	return 0;
}

/* Decode a CD into a stage-1 configuration: 0, or EVT_C_BAD_CD. */
static int smmuv3__cd_decode(struct smmuv3 *s, const uint64_t cd[8],
			     struct smmuv3_s1cfg *c)
{
	static const uint32_t granule[] = { 4096, 65536, 16384, 0 };
	static const uint8_t ips_bits[] = { 32, 36, 40, 42, 44, 48, 52, 0 };
	unsigned int t0sz = CD0_T0SZ(cd[0]);
	uint32_t oas = ips_bits[CD0_IPS(cd[0])];

	/* Big-endian tables (ENDI) are not advertised (IDR0.TTENDIAN). */
	if (!(cd[0] & CD0_V) || !(cd[0] & CD0_AA64) || (cd[0] & CD0_ENDI) ||
	    !granule[CD0_TG0(cd[0])] || !oas || t0sz < 16 || t0sz > 39)
		return EVT_C_BAD_CD;
	memset(c, 0, sizeof(*c));
	c->fmt.size = sizeof(c->fmt);
	c->fmt.format = WPT_FMT_ARM_LPAE_S1;
	c->fmt.granule = granule[CD0_TG0(cd[0])];
	c->fmt.ias = 64 - t0sz;
	/* The walk's output size: the CD's IPS capped at IDR5.OAS. */
	c->fmt.oas = oas < s->cfg.oas ? oas : s->cfg.oas;
	c->fmt.flags = (cd[1] & CD1_HAD0) ? WPT_FMT_F_HPD : 0;
	c->fmt.sl = -1;
	c->ttb0 = CD1_TTB0(cd[1]);
	c->asid = CD0_ASID(cd[0]);
	return 0;
}

/*
 * Read stream sid's configuration.  Returns 0 with *state set (and *c for
 * STREAM_S1), or the event to report with *addr its address.
 */
static int smmuv3__decode(struct smmuv3 *s, uint32_t sid,
			  enum smmuv3_stream_state *state,
			  struct smmuv3_s1cfg *c, uint64_t *addr)
{
	uint64_t ste[8], cd[8];
	int evt;

	*addr = 0;
	if (!(s->cr0 & CR0_SMMUEN)) {
		*state = (s->gbpa & GBPA_ABORT) ? STREAM_ABORT : STREAM_BYPASS;
		return 0;
	}
	evt = smmuv3__ste_addr(s, sid, addr);
	if (evt)
		return evt;
	if (smmuv3__read(s, *addr, ste, sizeof(ste)))
		return EVT_F_STE_FETCH;
	if (!(ste[0] & STE0_V))
		return EVT_C_BAD_STE;
	switch (STE0_CONFIG(ste[0])) {
	case STE_CFG_ABORT:
		*state = STREAM_ABORT;
		return 0;
	case STE_CFG_BYPASS:
		*state = STREAM_BYPASS;
		return 0;
	case STE_CFG_S1:
		break;
	default: /* reserved, or stage 2, which IDR0.S2P says is absent */
		return EVT_C_BAD_STE;
	}
	/* SSIDSIZE is 0, so S1Fmt and S1CDMax are ignored: one CD. */
	*addr = STE0_CTXPTR(ste[0]);
	if (smmuv3__read(s, *addr, cd, sizeof(cd)))
		return EVT_F_CD_FETCH;
	/* EPD0: TTB0 walks disabled, every address faults: no mapping. */
	if ((cd[0] & CD0_V) && (cd[0] & CD0_EPD0)) {
		*state = STREAM_ABORT;
		return 0;
	}
	*state = STREAM_S1;
	return smmuv3__cd_decode(s, cd, c);
}

static struct smmuv3_domain *smmuv3__sink_domain(struct smmuv3 *s,
						 struct wpt_sink *sink)
{
	unsigned int i;

	for (i = 0; i < s->nr_streams; i++)
		if (s->domains[i].d && s->domains[i].sink == sink)
			return &s->domains[i];
	return NULL;
}

/* Another stream of this sink in bypass (all RAM mapped)? */
static bool smmuv3__sink_bypassed(struct smmuv3 *s, struct wpt_sink *sink,
				  const struct smmuv3_stream *except)
{
	unsigned int i;

	for (i = 0; i < s->nr_streams; i++)
		if (&s->streams[i] != except && s->streams[i].sink == sink &&
		    s->streams[i].state == STREAM_BYPASS)
			return true;
	return false;
}

void smmuv3__stream_detach(struct smmuv3 *s, struct smmuv3_stream *st)
{
	if (st->state == STREAM_S1 && st->dom && !--st->dom->refs) {
		wpt_domain_free(st->dom->d);
		memset(st->dom, 0, sizeof(*st->dom));
		s->st.domains_freed++;
	}
	if (st->state == STREAM_BYPASS &&
	    !smmuv3__sink_bypassed(s, st->sink, st) &&
	    s->cfg.host.bypass(s->cfg.host.opaque, st->sink, 0) < 0)
		s->st.lib_errors++;
	st->dom = NULL;
	st->state = STREAM_ABORT;
}

/* A root the library refuses (misaligned: VMSAv8-64 aligns a table to its
 * size) is the CD's fault: the stream keeps no mapping.  A walk that
 * faulted the domain (a table outside RAM, a work limit) is reported as
 * the walk's external abort; the domain stays, mapping nothing there. */
static void smmuv3__root_result(struct smmuv3 *s, struct smmuv3_stream *st,
				int r, uint64_t ttb0)
{
	s->st.root_changes++;
	if (r == -EINVAL) {
		smmuv3__stream_detach(s, st);
		smmuv3__event(s, EVT_C_BAD_CD, st->sid, 0);
		return;
	}
	if (r < 0)
		s->st.lib_errors++;
	if (wpt_domain_error(st->dom->d))
		smmuv3__event(s, EVT_F_WALK_EABT, st->sid, ttb0);
}

static int smmuv3__domain_new(struct smmuv3 *s, struct smmuv3_stream *st,
			      const struct smmuv3_s1cfg *c)
{
	struct smmuv3_domain *dom = s->domains;
	int r;

	while (dom->d) /* a free slot exists: domains <= streams */
		dom++;
	r = wpt_domain_new(s->cfg.vm, &c->fmt, st->sink, s->cfg.mode, &dom->d);
	if (r < 0) {
		s->st.lib_errors++;
		return r;
	}
	s->st.domains_created++;
	dom->sink = st->sink;
	dom->fmt = c->fmt;
	dom->ttb0 = c->ttb0;
	dom->asid = c->asid;
	dom->refs = 1;
	st->dom = dom;
	st->state = STREAM_S1;
	smmuv3__root_result(s, st, wpt_domain_set_root(dom->d, c->ttb0),
			    c->ttb0);
	return 0;
}

/*
 * Make the stream translate with c.  Its own domain, if no other stream
 * shares it and the format is unchanged, is re-rooted in place (a root
 * rewritten in place, as Linux does when it reuses a CD, keeps the
 * domain's shadow and sink instead of rebuilding them); a domain
 * of its sink with the same configuration is shared; any other
 * configuration on the same sink is a conflict: a container holds one
 * IOVA space.
 */
static void smmuv3__attach_s1(struct smmuv3 *s, struct smmuv3_stream *st,
			      const struct smmuv3_s1cfg *c)
{
	struct smmuv3_domain *dom = st->state == STREAM_S1 ? st->dom : NULL;

	if (dom && dom->refs == 1 && !memcmp(&dom->fmt, &c->fmt, sizeof(c->fmt))) {
		dom->asid = c->asid;
		if (dom->ttb0 != c->ttb0) {
			dom->ttb0 = c->ttb0;
			smmuv3__root_result(s, st,
					    wpt_domain_set_root(dom->d, c->ttb0),
					    c->ttb0);
		}
		return;
	}
	smmuv3__stream_detach(s, st);
	dom = smmuv3__sink_domain(s, st->sink);
	if (!dom && !smmuv3__sink_bypassed(s, st->sink, st)) {
		smmuv3__domain_new(s, st, c);
		return;
	}
	if (dom && dom->ttb0 == c->ttb0 && dom->asid == c->asid &&
	    !memcmp(&dom->fmt, &c->fmt, sizeof(c->fmt))) {
		dom->refs++;
		st->dom = dom;
		st->state = STREAM_S1;
		return;
	}
	s->st.cfg_conflicts++;
	smmuv3__event(s, EVT_F_CFG_CONFLICT, st->sid, 0);
}

static void smmuv3__attach_bypass(struct smmuv3 *s, struct smmuv3_stream *st)
{
	if (st->state == STREAM_BYPASS)
		return;
	smmuv3__stream_detach(s, st);
	if (!s->cfg.host.bypass) {
		s->st.bypass_refused++;
		return;
	}
	if (smmuv3__sink_domain(s, st->sink)) {
		s->st.cfg_conflicts++;
		smmuv3__event(s, EVT_F_CFG_CONFLICT, st->sid, 0);
		return;
	}
	if (!smmuv3__sink_bypassed(s, st->sink, st) &&
	    s->cfg.host.bypass(s->cfg.host.opaque, st->sink, 1) < 0) {
		s->st.lib_errors++;
		return;
	}
	st->state = STREAM_BYPASS;
}

/*
 * Re-read a stream's configuration.  A real SMMU reports a configuration
 * error when a transaction meets it; the model never sees the device's
 * transactions, so it reports at the configuration command (report), the
 * point where the guest says the configuration is ready, and stays silent
 * when SMMUEN or GBPA change (Linux enables the SMMU before it has filled
 * in the stream table: events then would be noise no hardware makes).
 */
void smmuv3__stream_reload(struct smmuv3 *s, struct smmuv3_stream *st,
			   bool report)
{
	enum smmuv3_stream_state state = STREAM_ABORT;
	struct smmuv3_s1cfg c;
	uint64_t addr;
	int evt = smmuv3__decode(s, st->sid, &state, &c, &addr);

	if (evt) {
		smmuv3__stream_detach(s, st);
		if (report)
			smmuv3__event(s, evt, st->sid, addr);
		return;
	}
	if (state == STREAM_S1)
		smmuv3__attach_s1(s, st, &c);
	else if (state == STREAM_BYPASS)
		smmuv3__attach_bypass(s, st);
	else
		smmuv3__stream_detach(s, st);
}

/* Only streams the host registered have DMA to keep: a CFGI for another
 * stream ID changes nothing the host holds. */
void smmuv3__reload_range(struct smmuv3 *s, uint64_t first, uint64_t last,
			  bool report)
{
	unsigned int i;

	for (i = 0; i < s->nr_streams; i++)
		if (s->streams[i].sid >= first && s->streams[i].sid <= last)
			smmuv3__stream_reload(s, &s->streams[i], report);
}

int smmuv3__add_stream(struct smmuv3 *s, uint32_t sid, struct wpt_sink *sink)
{
	unsigned int n = s->nr_streams + 1, i;
	struct smmuv3_stream *st;
	struct smmuv3_domain *dom;
	int r = 0;

	if (!sink || sid >> SMMU_SIDSIZE)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->nr_streams; i++)
		if (s->streams[i].sid == sid || s->domains[i].d)
			r = s->streams[i].sid == sid ? -EEXIST : -EBUSY;
	st = r ? NULL : realloc(s->streams, n * sizeof(*st));
	if (st)
		s->streams = st;
	dom = st ? realloc(s->domains, n * sizeof(*dom)) : NULL;
	if (dom) {
		s->domains = dom;
		memset(&dom[n - 1], 0, sizeof(*dom));
		s->streams[n - 1] = (struct smmuv3_stream){ .sid = sid,
							    .sink = sink };
		s->nr_streams = n;
	} else if (!r) {
		r = -ENOMEM;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

struct wpt_domain *smmuv3__stream_domain(struct smmuv3 *s, uint32_t sid)
{
	struct smmuv3_stream *st;
	struct wpt_domain *d = NULL;

	pthread_mutex_lock(&s->lock);
	st = smmuv3__stream_find(s, sid);
	if (st && st->state == STREAM_S1)
		d = st->dom->d;
	pthread_mutex_unlock(&s->lock);
	return d;
}
