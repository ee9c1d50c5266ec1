/* SPDX-License-Identifier: MIT */
/* Device-side checks through the edu DMA engine (rig.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rig.h"
#include "wpt_internal.h"

#define HELD_MAX 1024

struct held_vec {
	struct wpt_mapping *v;
	size_t n, max;
	long total;
};

static int held_push(void *opaque, const struct wpt_mapping *m)
{
	struct held_vec *h = opaque;

	if (h->n < h->max)
		h->v[h->n++] = *m;
	h->total++;
	return 0;
}

long rig_held(struct wpt_domain *d, struct wpt_mapping *out, size_t max)
{
	struct held_vec h = { out, 0, max, 0 };
	int ret;

	if (!d)
		return 0;
	ret = wpt_domain_foreach_mapping(d, held_push, &h);
	return ret < 0 ? ret : h.total;
}

static const struct wpt_mapping *held_find(const struct wpt_mapping *v,
					   size_t n, uint64_t iova)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (iova - v[i].iova < v[i].size)
			return &v[i];
	return NULL;
}

static void hexdump8(char *buf, size_t n, const uint8_t *p)
{
	snprintf(buf, n, "%02x%02x%02x%02x%02x%02x%02x%02x", p[0], p[1], p[2],
		 p[3], p[4], p[5], p[6], p[7]);
}

static bool all_bytes(const uint8_t *p, uint8_t v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* Classify and place each probe; fill the device buffer's source page. */
static int plan(struct rig *r, const struct wpt_mapping *held, size_t nheld,
		struct probe *pr, unsigned int n)
{
	uint8_t *src = r->scratch;
	unsigned int i, nr = 0, nw = 0;

	memset(src, MARKER_BYTE, EDU_BUF_USABLE);
	for (i = 0; i < n; i++) {
		struct probe *p = &pr[i];
		const struct wpt_mapping *m;
		uint32_t off = (r->seq++ * PROBE_LEN) % 0x800;
		unsigned int k;

		if ((p->write ? nw : nr) == PROBE_MAX)
			return -E2BIG;
		/* Reads sit in the low half of a page and writes in the
		 * high half, so a batch never reads what it wrote. */
		p->iova = (p->iova & ~0xfffull) + off + (p->write ? 0x800 : 0);
		m = held_find(held, nheld, p->iova);
		p->held = m != NULL;
		p->gpa = m ? m->gpa + (p->iova - m->iova) : 0;
		p->perm = m ? m->perm : 0;
		if (!m && p->old_gpa)
			p->gpa = (p->old_gpa & ~0xfffull) + (p->iova & 0xfff);
		if (p->write) {
			p->slot = 0x800 + nw++ * PROBE_LEN;
			for (k = 0; k < PROBE_LEN; k++)
				p->pattern[k] = (uint8_t)(0x80 ^ (r->seq * 13 + k * 7));
			/* It need only differ from what RAM holds now. */
			if (p->gpa) {
				memcpy(p->before, guest_hva(r->g, p->gpa),
				       PROBE_LEN);
				if (!memcmp(p->before, p->pattern, PROBE_LEN))
					p->pattern[0] ^= 0xff;
			}
			memcpy(src + p->slot, p->pattern, PROBE_LEN);
		} else {
			p->slot = nr++ * PROBE_LEN;
		}
	}
	return 0;
}

static void note_refused(struct rig *r, uint64_t iova)
{
	unsigned int i;

	for (i = 0; i < r->nr_refused_pages; i++)
		if (r->refused_pages[i] == (iova & ~0xfffull))
			return;
	if (i < sizeof(r->refused_pages) / sizeof(r->refused_pages[0]))
		r->refused_pages[r->nr_refused_pages++] = iova & ~0xfffull;
}

static int judge_read(struct rig *r, struct probe *p, const uint8_t *slot,
		      const char *where)
{
	const uint8_t *ram = p->gpa ? guest_hva(r->g, p->gpa) : NULL;
	char got[20], want[20];

	if (p->held) {
		if (!memcmp(slot, ram, PROBE_LEN))
			return 0;
		hexdump8(got, sizeof(got), slot);
		hexdump8(want, sizeof(want), ram);
		tap_fail(&r->tap, "%s: DMA read of mapped IOVA %#llx (GPA "
			 "%#llx) got %s..., RAM holds %s...", where,
			 (unsigned long long)p->iova,
			 (unsigned long long)p->gpa, got, want);
		return 1;
	}
	if (ram && !memcmp(slot, ram, PROBE_LEN)) {
		tap_fail(&r->tap, "%s: DMA read of unmapped IOVA %#llx returned "
			 "the bytes of GPA %#llx it used to reach", where,
			 (unsigned long long)p->iova,
			 (unsigned long long)p->gpa);
		return 1;
	}
	if (all_bytes(slot, MARKER_BYTE, PROBE_LEN)) {
		r->refused_marker++;
		return 0;
	}
	if (all_bytes(slot, 0, PROBE_LEN)) {
		r->refused_zero++;
		return 0;
	}
	hexdump8(got, sizeof(got), slot);
	tap_fail(&r->tap, "%s: DMA read of unmapped IOVA %#llx was not "
		 "refused: got %s...", where, (unsigned long long)p->iova, got);
	return 1;
}

static int judge_write(struct rig *r, struct probe *p, const char *where)
{
	const uint8_t *ram = p->gpa ? guest_hva(r->g, p->gpa) : NULL;
	char got[20], want[20];

	if (!ram)
		return 0; /* refused or not, there is nothing to look at */
	if (p->held && (p->perm & WPT_PERM_WRITE)) {
		if (!memcmp(ram, p->pattern, PROBE_LEN))
			return 0;
		hexdump8(got, sizeof(got), ram);
		hexdump8(want, sizeof(want), p->pattern);
		tap_fail(&r->tap, "%s: DMA write to mapped IOVA %#llx did not "
			 "land at GPA %#llx: RAM holds %s..., wrote %s...",
			 where, (unsigned long long)p->iova,
			 (unsigned long long)p->gpa, got, want);
		return 1;
	}
	if (!memcmp(ram, p->before, PROBE_LEN))
		return 0;
	tap_fail(&r->tap, "%s: DMA write to %s IOVA %#llx changed GPA %#llx",
		 where, p->held ? "read-only" : "unmapped",
		 (unsigned long long)p->iova, (unsigned long long)p->gpa);
	return 1;
}

static int judge(struct rig *r, struct probe *p, const uint8_t *buf,
		 const char *where)
{
	if (!p->held || (p->write && !(p->perm & WPT_PERM_WRITE)))
		note_refused(r, p->iova);
	return p->write ? judge_write(r, p, where)
			: judge_read(r, p, buf + p->slot, where);
}

int rig_probe(struct rig *r, struct wpt_domain *d, struct probe *pr,
	      unsigned int n, const char *where)
{
	static struct wpt_mapping held[HELD_MAX];
	uint8_t *back = r->scratch + 4096;
	long nheld = rig_held(d, held, HELD_MAX);
	unsigned int i;
	int ret, bad = 0;

	if (nheld < 0 || nheld > HELD_MAX) {
		tap_fail(&r->tap, "%s: cannot list the shadow's mappings (%ld)",
			 where, nheld);
		return -EIO;
	}
	ret = plan(r, held, (size_t)nheld, pr, n);
	if (!ret)
		ret = edu_dma(&r->edu, 0, SCRATCH_IOVA, 0, EDU_BUF_USABLE);
	for (i = 0; i < n && !ret; i++)
		if (pr[i].write)
			ret = edu_dma(&r->edu, 1, pr[i].iova, pr[i].slot,
				      PROBE_LEN);
	for (i = 0; i < n && !ret; i++)
		if (!pr[i].write)
			ret = edu_dma(&r->edu, 0, pr[i].iova, pr[i].slot,
				      PROBE_LEN);
	if (!ret) {
		memset(back, 0xff, EDU_BUF_USABLE);
		ret = edu_dma(&r->edu, 1, SCRATCH_IOVA + 4096, 0,
			      EDU_BUF_USABLE);
	}
	if (ret) {
		tap_fail(&r->tap, "%s: edu DMA failed: %s", where,
			 strerror(-ret));
		return ret;
	}
	/* The write slots came back as they were sent: the buffer fill
	 * itself worked (else every judgement below means nothing). */
	for (i = 0; i < n; i++) {
		if (pr[i].write &&
		    memcmp(back + pr[i].slot, pr[i].pattern, PROBE_LEN)) {
			tap_fail(&r->tap, "%s: the device buffer did not keep "
				 "what the scratch mapping filled it with",
				 where);
			return -EIO;
		}
	}
	for (i = 0; i < n; i++)
		bad += judge(r, &pr[i], back, where);
	r->probes_ok += n - (unsigned int)bad;
	return bad;
}
