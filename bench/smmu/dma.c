/* SPDX-License-Identifier: MIT */
/*
 * The passed-through device's doorbell (SMMU_R_DEV_BELL): the guest's
 * driver hands the device a range it mapped, and the device would DMA
 * there at once.  Instead of moving data, check what the DMA would meet:
 * every page of the range must be translated by the sink the device sits
 * behind, to the GPA handed over, at least for reading (every map the
 * driver makes allows it).  The sink is the one
 * the domain feeds (its shadow's record, wpt_domain_foreach_mapping), or
 * under EXPLICIT the one the requests feed.  A fault is counted and
 * described; the bench fails the row.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "smmu_internal.h"

/* A walk over the sink's mappings in IOVA order, covering [cur, end). */
struct dma_walk {
	struct bench_dma_desc want;
	uint64_t cur;     /* first IOVA not yet found translated */
	uint64_t bad;     /* first IOVA translated wrongly, or ~0 */
};

static int dma_step(void *opaque, const struct wpt_mapping *m)
{
	struct dma_walk *w = opaque;
	uint64_t end = w->want.iova + w->want.size, m_end = m->iova + m->size;

	if (m_end <= w->cur)
		return 0;
	if (m->iova > w->cur)
		return 1; /* a hole at cur */
	if (m->gpa + (w->cur - m->iova) != w->want.gpa + (w->cur - w->want.iova) ||
	    !(m->perm & WPT_PERM_READ)) {
		w->bad = w->cur;
		return 1;
	}
	w->cur = m_end < end ? m_end : end;
	return w->cur == end;
}

/* EXPLICIT: the sink the requests feed, read back whole. */
static int walk_record(struct dma_walk *w, const struct wpt_sink *sink)
{
	long n = wpt_sink_record_get(sink, NULL, 0), i;
	struct wpt_mapping *m;

	if (n < 0)
		return (int)n;
	m = calloc(n ? n : 1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	n = wpt_sink_record_get(sink, m, n);
	for (i = 0; i < n; i++)
		if (dma_step(w, &m[i]))
			break;
	free(m);
	return 0;
}

void smmu_dma_check(struct smmu *s, uint64_t gpa)
{
	const uint8_t *p = ram_ptr(s, gpa, sizeof(struct bench_dma_desc));
	struct dma_walk w;
	int ret = 0;

	s->st.dma_checks++;
	if (!p) {
		s->st.dma_faults++;
		set_error(s, "DMA descriptor at 0x%" PRIx64 " not in RAM", gpa);
		return;
	}
	memcpy(&w.want, p, sizeof(w.want));
	w.cur = w.want.iova;
	w.bad = ~0ull;
	if (!w.want.size || w.want.iova + w.want.size < w.want.iova)
		ret = -EINVAL;
	else if (s->cfg.strategy == BENCH_S_EXPLICIT)
		ret = walk_record(&w, s->mirror ? s->mirror : s->cfg.sink);
	else if (s->d)
		ret = wpt_domain_foreach_mapping(s->d, dma_step, &w);
	if (ret < 0 || w.cur != w.want.iova + w.want.size) {
		s->st.dma_faults++;
		set_error(s, "DMA to iova 0x%" PRIx64 " (+0x%" PRIx64 " -> gpa 0x%"
			  PRIx64 "): 0x%" PRIx64 " %s", w.want.iova, w.want.size,
			  w.want.gpa, w.bad != ~0ull ? w.bad : w.cur,
			  ret < 0 ? strerror(-ret) :
			  w.bad != ~0ull ? "maps elsewhere" : "not mapped");
	}
}
