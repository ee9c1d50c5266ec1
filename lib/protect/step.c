/* SPDX-License-Identifier: MIT */
/*
 * The single-step layer: a protection backend wrapped around the real one
 * (KVM memslots or the VMM's callbacks) that lets a page be made writable
 * for a single step without the tracker knowing.  The tracker keeps
 * counting the page as protected; its calls for a page being stepped do
 * not reach the real backend (the page is writable there already, and
 * wpt_vm_step_end asks the tracker what it wants once the step is over).
 * So the real backend still sees each page protected at most once and
 * unprotected only when protected, as protect.h promises it.
 *
 * Pages being stepped are few (at most one per vCPU), so they sit in a
 * small array.  Called only under the VM lock, like every backend.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "protect.h"

struct step_page {
	uint64_t gpa;
	unsigned int count; /* steps in progress on it */
	/* Writable in the real backend although the tracker counted it
	 * protected: protecting it again failed (wpt_protect_step_end). */
	bool failed;
};

struct step_layer {
	struct wpt_protect inner;
	struct step_page *pages;
	unsigned int nr, cap;
};

static struct step_page *page_find(struct step_layer *s, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < s->nr; i++)
		if (s->pages[i].gpa == gpa)
			return &s->pages[i];
	return NULL;
}

static void page_drop(struct step_layer *s, struct step_page *p)
{
	*p = s->pages[--s->nr];
}

/* The first page of [gpa, end) the layer holds, or end. */
static uint64_t next_held(struct step_layer *s, uint64_t gpa, uint64_t end)
{
	uint64_t best = end;
	unsigned int i;

	for (i = 0; i < s->nr; i++)
		if (s->pages[i].gpa >= gpa && s->pages[i].gpa < best)
			best = s->pages[i].gpa;
	return best;
}

/*
 * Pass [gpa, gpa + size) to the real backend around the pages held here.
 * A held page: a step in progress keeps it writable (end decides); one
 * whose re-protection failed is done with once the tracker unprotects it,
 * and is tried again if the tracker protects it.  All or nothing.
 */
static int step_set(void *be, uint64_t gpa, uint64_t size, bool on)
{
	struct step_layer *s = be;
	const struct wpt_protect_backend_ops *ops = s->inner.ops;
	uint64_t end = gpa + size, p = gpa;
	int ret = 0;

	while (p < end) {
		uint64_t held = next_held(s, p, end);
		struct step_page *sp;

		if (held > p) {
			ret = on ? ops->protect(s->inner.be, p, held - p)
				 : ops->unprotect(s->inner.be, p, held - p);
			if (ret)
				break;
		}
		if (held == end)
			return 0;
		sp = page_find(s, held);
		if (sp->failed && sp->count == 0) {
			if (on) {
				ret = ops->protect(s->inner.be, held,
						   WPT_PAGE_SIZE);
				if (ret)
					break;
			}
			page_drop(s, sp);
		}
		p = held + WPT_PAGE_SIZE;
	}
	if (!ret)
		return 0;
	/* Undo what went through, outside the held pages, which this call
	 * did not change (a failed page it protected is the failing one or
	 * already dropped: best effort, as the tracker's own undo). */
	{
		uint64_t q = gpa, stop = p;

		while (q < stop) {
			uint64_t held = next_held(s, q, stop);

			if (held > q)
				(void)(on ? ops->unprotect(s->inner.be, q, held - q)
					  : ops->protect(s->inner.be, q, held - q));
			q = held + WPT_PAGE_SIZE;
		}
	}
	return ret;
}

static int step_protect(void *be, uint64_t gpa, uint64_t size)
{
	return step_set(be, gpa, size, true);
}

static int step_unprotect(void *be, uint64_t gpa, uint64_t size)
{
	return step_set(be, gpa, size, false);
}

static void step_stats(void *be, struct wpt_protect_stats *st)
{
	struct step_layer *s = be;

	memset(st, 0, sizeof(*st));
	if (s->inner.ops->stats)
		s->inner.ops->stats(s->inner.be, st);
}

static void step_free(void *be)
{
	struct step_layer *s = be;

	s->inner.ops->free(s->inner.be);
	free(s->pages);
	free(s);
}

static const struct wpt_protect_backend_ops step_ops = {
	.name = "step",
	.protect = step_protect,
	.unprotect = step_unprotect,
	.stats = step_stats,
	.free = step_free,
};

int wpt_protect_step_wrap(struct wpt_protect *p)
{
	struct step_layer *s;

	if (!p || !p->ops)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->inner = *p;
	p->ops = &step_ops;
	p->be = s;
	return 0;
}

int wpt_protect_step_begin(struct wpt_protect *p, uint64_t page_gpa)
{
	struct step_layer *s = p->be;
	struct step_page *sp;
	int ret;

	if (p->ops != &step_ops)
		return -EINVAL;
	sp = page_find(s, page_gpa);
	if (sp) {
		/* Another vCPU steps it already, or it could not be
		 * protected again: writable in the real backend. */
		sp->count++;
		return 0;
	}
	if (s->nr == s->cap) {
		unsigned int cap = s->cap ? 2 * s->cap : 4;
		struct step_page *n = realloc(s->pages, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->pages = n;
		s->cap = cap;
	}
	ret = s->inner.ops->unprotect(s->inner.be, page_gpa, WPT_PAGE_SIZE);
	if (ret)
		return ret;
	s->pages[s->nr++] = (struct step_page){ .gpa = page_gpa, .count = 1 };
	return 0;
}

int wpt_protect_step_end(struct wpt_protect *p, uint64_t page_gpa,
			 bool want_protected)
{
	struct step_layer *s = p->be;
	struct step_page *sp;
	int ret;

	if (p->ops != &step_ops)
		return -EINVAL;
	sp = page_find(s, page_gpa);
	if (!sp || !sp->count)
		return -EINVAL;
	if (--sp->count)
		return 0; /* another step still needs it writable */
	if (!want_protected) {
		page_drop(s, sp);
		return 0;
	}
	ret = s->inner.ops->protect(s->inner.be, page_gpa, WPT_PAGE_SIZE);
	if (ret) {
		sp->failed = true;
		return ret;
	}
	page_drop(s, sp);
	return 0;
}

int wpt_protect_step_reassert(struct wpt_protect *p, uint64_t page_gpa)
{
	struct step_layer *s = p->be;

	if (p->ops != &step_ops)
		return -EINVAL;
	/* A held page is writable on purpose; its step's end decides. */
	if (page_find(s, page_gpa))
		return 0;
	return s->inner.ops->protect(s->inner.be, page_gpa, WPT_PAGE_SIZE);
}
