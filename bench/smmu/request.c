/* SPDX-License-Identifier: MIT */
/*
 * The explicit strategy's requests: a virtio-iommu-style MAP or UNMAP the
 * guest writes to RAM and names in SMMU_R_REQ, sent straight to the sink.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "smmu_internal.h"
#include "sink/sink.h"

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
void smmu_request(struct smmu *s, uint64_t gpa)
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
