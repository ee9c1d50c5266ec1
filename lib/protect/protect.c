/* SPDX-License-Identifier: MIT */
/*
 * The layer every protection backend sits behind: it lets a page be made
 * writable for a single step (or a store around a lift) without the
 * tracker knowing.  The tracker keeps counting the page as protected; its
 * calls for a page being stepped do not reach the backend (the page is
 * writable there already, and the step's end asks the tracker what it
 * wants once the step is over).  So the backend still sees each page
 * protected at most once and unprotected only when protected, as its
 * contract (protect.h) promises it.
 *
 * Pages being stepped are few (at most one per vCPU), so they sit in a
 * small array.  Called only under the VM lock, like every backend.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "defer.h"
#include "protect.h"

struct step_page {
	uint64_t gpa;
	unsigned int count; /* steps in progress on it */
	/* Writable in the real backend although the tracker counted it
	 * protected: protecting it again failed (wpt_protect_step_end). */
	bool failed;
};

struct protect_steps {
	struct step_page *pages;
	unsigned int nr, cap;
};

static struct step_page *page_find(struct protect_steps *s, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < s->nr; i++)
		if (s->pages[i].gpa == gpa)
			return &s->pages[i];
	return NULL;
}

static void page_drop(struct protect_steps *s, struct step_page *p)
{
	*p = s->pages[--s->nr];
}

/* The first page of [gpa, end) the layer holds, or end. */
static uint64_t next_held(struct protect_steps *s, uint64_t gpa, uint64_t end)
{
	uint64_t best = end;
	unsigned int i;

	for (i = 0; i < s->nr; i++)
		if (s->pages[i].gpa >= gpa && s->pages[i].gpa < best)
			best = s->pages[i].gpa;
	return best;
}

/* One call to the backend (on: protect). */
static int backend_now(struct wpt_protect *p, uint64_t gpa, uint64_t size,
		       bool on)
{
	return on ? p->ops->protect(p->be, gpa, size)
		  : p->ops->unprotect(p->be, gpa, size);
}

/* A change for the backend: now, or recorded for protect_flush. */
static int backend_set(struct wpt_protect *p, uint64_t gpa, uint64_t size,
		       bool on)
{
	if (p->defer)
		return defer_record(p->defer, gpa, size, on);
	return backend_now(p, gpa, size, on);
}

/* Undo what protect_set did to [gpa, stop) outside the held pages, which
 * it did not change (a failed page it protected is the failing one or
 * already dropped: best effort, as the tracker's own undo). */
static void undo_set(struct wpt_protect *p, uint64_t gpa, uint64_t stop,
		     bool on)
{
	while (gpa < stop) {
		uint64_t held = next_held(p->steps, gpa, stop);

		if (held > gpa)
			(void)backend_set(p, gpa, held - gpa, !on);
		gpa = held + WPT_PAGE_SIZE;
	}
}

/*
 * Pass [gpa, gpa + size) to the backend around the pages held here.  A
 * held page: a step in progress keeps it writable (end decides); one whose
 * re-protection failed is done with once the tracker unprotects it, and is
 * tried again if the tracker protects it.  All or nothing.
 */
int protect_set(struct wpt_protect *p, uint64_t gpa, uint64_t size, bool on)
{
	struct protect_steps *s = p->steps;
	uint64_t end = gpa + size, q = gpa;
	int ret = 0;

	while (q < end) {
		uint64_t held = next_held(s, q, end);
		struct step_page *sp;

		if (held > q) {
			ret = backend_set(p, q, held - q, on);
			if (ret)
				break;
		}
		if (held == end)
			return 0;
		sp = page_find(s, held);
		if (sp->failed && sp->count == 0) {
			if (on) {
				ret = backend_set(p, held, WPT_PAGE_SIZE, true);
				if (ret)
					break;
			}
			page_drop(s, sp);
		}
		q = held + WPT_PAGE_SIZE;
	}
	if (ret)
		undo_set(p, gpa, q, on);
	return ret;
}

int protect_init(struct wpt_protect *p)
{
	p->steps = calloc(1, sizeof(*p->steps));
	if (p->steps)
		return 0;
	p->ops->free(p->be);
	p->ops = NULL;
	return -ENOMEM;
}

void protect_free(struct wpt_protect *p)
{
	if (!p->ops)
		return;
	/* Changes still held back are moot: the backend leaves all of RAM
	 * writable as it goes. */
	if (p->defer) {
		defer_fini(p->defer);
		free(p->defer);
	}
	p->ops->free(p->be);
	free(p->steps->pages);
	free(p->steps);
	p->ops = NULL;
}

void protect_stats(struct wpt_protect *p, struct wpt_protect_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (p->ops && p->ops->stats)
		p->ops->stats(p->be, st);
}

/* Room for one more held page: 0 or -ENOMEM. */
static int steps_grow(struct protect_steps *s)
{
	unsigned int cap = s->cap ? 2 * s->cap : 4;
	struct step_page *n;

	if (s->nr < s->cap)
		return 0;
	n = realloc(s->pages, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->pages = n;
	s->cap = cap;
	return 0;
}

int protect_step_begin(struct wpt_protect *p, uint64_t page_gpa)
{
	struct protect_steps *s = p->steps;
	struct step_page *sp = page_find(s, page_gpa);
	int ret;

	if (sp) {
		/* Another vCPU steps it already, or it could not be
		 * protected again: writable in the backend. */
		sp->count++;
		return 0;
	}
	ret = steps_grow(s);
	if (ret)
		return ret;
	ret = backend_set(p, page_gpa, WPT_PAGE_SIZE, false);
	if (ret)
		return ret;
	s->pages[s->nr++] = (struct step_page){ .gpa = page_gpa, .count = 1 };
	return 0;
}

int protect_step_end(struct wpt_protect *p, uint64_t page_gpa,
		     bool want_protected)
{
	struct protect_steps *s = p->steps;
	struct step_page *sp = page_find(s, page_gpa);
	int ret;

	if (!sp || !sp->count)
		return -EINVAL;
	if (--sp->count)
		return 0; /* another step still needs it writable */
	if (!want_protected) {
		page_drop(s, sp);
		return 0;
	}
	ret = backend_set(p, page_gpa, WPT_PAGE_SIZE, true);
	if (ret) {
		sp->failed = true;
		return ret;
	}
	page_drop(s, sp);
	return 0;
}

int protect_reassert(struct wpt_protect *p, uint64_t page_gpa)
{
	/* A held page is writable on purpose; its step's end decides. */
	if (page_find(p->steps, page_gpa))
		return 0;
	return backend_set(p, page_gpa, WPT_PAGE_SIZE, true);
}

/* ------------------------------------------------- held-back changes */

int protect_defer_enable(struct wpt_protect *p)
{
	p->defer = calloc(1, sizeof(*p->defer));
	return p->defer ? 0 : -ENOMEM;
}

bool protect_pending(const struct wpt_protect *p)
{
	return p->defer && defer_pending(p->defer);
}

/* A flushed protect failed: the pages stay writable in the backend while
 * the tracker counts them protected, which is what a failed step's end
 * leaves too, so hold them the same way (best effort without memory: the
 * domains trapping there are faulted all the same). */
static void hold_failed(struct wpt_protect *p, uint64_t gpa, uint64_t size)
{
	uint64_t g;

	for (g = gpa; g < gpa + size; g += WPT_PAGE_SIZE) {
		struct step_page *sp = page_find(p->steps, g);

		if (sp) {
			sp->failed = true;
		} else if (!steps_grow(p->steps)) {
			p->steps->pages[p->steps->nr++] = (struct step_page){
				.gpa = g, .failed = true };
		}
	}
}

static int flush_pass(struct wpt_protect *p, struct defer_change *run,
		      size_t n, bool on, protect_flush_fn done, void *opaque)
{
	size_t i;
	int first = 0;

	for (i = 0; i < n; i++) {
		uint64_t size = run[i].seq << WPT_PAGE_SHIFT;
		int r;

		if (run[i].on != on)
			continue;
		r = backend_now(p, run[i].gpa, size, on);
		if (r && on)
			hold_failed(p, run[i].gpa, size);
		first = first ? first : r;
		done(opaque, run[i].gpa, size, on, r);
	}
	return first;
}

int protect_flush(struct wpt_protect *p, protect_flush_fn done, void *opaque)
{
	struct defer_change *run;
	size_t n;
	int r, ret;

	if (!protect_pending(p))
		return 0;
	n = defer_take(p->defer, &run);
	/* Unprotecting first frees slots for what protecting needs. */
	ret = flush_pass(p, run, n, false, done, opaque);
	r = flush_pass(p, run, n, true, done, opaque);
	free(run);
	return ret ? ret : r;
}
