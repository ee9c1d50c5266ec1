/* SPDX-License-Identifier: MIT */
/*
 * Stage-1 TLB invalidation commands (4.4) become libwpt invalidations of
 * the domains they reach: in TRAP mode the shadow is current already and
 * an invalidation only retries what a sink refused earlier; in HYBRID mode
 * it sends the removals that wait for it.  VMIDs are ignored: there is no
 * stage 2.
 */
#include "smmuv3-internal.h"

/* The bytes a TLBI_NH_VA/VAA covers.  With TG != 0 (IDR3.RIL) it is a
 * range of (NUM + 1) * 2^SCALE translation granules; with TG = 0 it is
 * the one entry holding the address, of whatever size: one granule is
 * enough here, since re-reading a range re-reads every descriptor on its
 * path, a block's included. */
static uint64_t smmuv3__tlbi_size(const uint64_t cmd[2], uint32_t granule)
{
	static const unsigned int tg_shift[] = { 0, 12, 14, 16 };
	unsigned int tg = CMD_TLBI_TG(cmd[1]);
	unsigned int shift;

	if (!tg)
		return granule;
	shift = tg_shift[tg] + CMD_TLBI_SCALE(cmd[0]);
	if (shift >= 58)
		return ~0ull; /* beyond any IAS: everything from the address */
	return (CMD_TLBI_NUM(cmd[0]) + 1) << shift;
}

static int smmuv3__tlbi_va(struct smmuv3 *s, struct smmuv3_domain *dom,
			   const uint64_t cmd[2])
{
	uint64_t iova = CMD_TLBI_ADDR(cmd[1]);
	uint64_t top = 1ull << dom->fmt.ias;
	uint64_t size = smmuv3__tlbi_size(cmd, dom->fmt.granule);

	/* Only TTB0 is walked: an address above the IAS is TTB1's. */
	if (iova >= top)
		return 0;
	if (size > top - iova)
		size = top - iova;
	return wpt_domain_invalidate(dom->d, iova, size);
}

/* Does this command reach this domain? */
static bool smmuv3__tlbi_hits(const struct smmuv3_domain *dom,
			      const uint64_t cmd[2])
{
	switch (CMD_OP(cmd[0])) {
	case CMD_TLBI_NH_ASID:
	case CMD_TLBI_NH_VA:
		return dom->asid == CMD_ASID(cmd[0]);
	}
	return true;
}

/* Always 0: a failed invalidation is the host's trouble (a sink error,
 * retried at the domain's next update), not an illegal command. */
int smmuv3__tlbi(struct smmuv3 *s, const uint64_t cmd[2])
{
	unsigned int i;
	int r;

	for (i = 0; i < s->nr_streams; i++) {
		struct smmuv3_domain *dom = &s->domains[i];

		if (!dom->d || !smmuv3__tlbi_hits(dom, cmd))
			continue;
		if (CMD_OP(cmd[0]) == CMD_TLBI_NH_VA ||
		    CMD_OP(cmd[0]) == CMD_TLBI_NH_VAA)
			r = smmuv3__tlbi_va(s, dom, cmd);
		else
			r = wpt_domain_invalidate_all(dom->d);
		s->st.invalidations++;
		if (r < 0)
			s->st.lib_errors++;
	}
	return 0;
}
