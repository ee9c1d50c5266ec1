/* SPDX-License-Identifier: MIT */
/*
 * Domains: one IO address space each (a format, a root, a mode, a shadow
 * and its sink).  Every entry point takes the VM lock and runs one tracker
 * operation, whose end commits the shadow to the sink.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "op.h"
#include "ptwalk.h"
#include "recut.h"
#include "relax.h"
#include "shadow.h"
#include "tracker.h"

static bool mode_valid(enum wpt_mode mode)
{
	return mode == WPT_MODE_TRAP || mode == WPT_MODE_INVAL ||
	       mode == WPT_MODE_HYBRID || mode == WPT_MODE_RELAXED;
}

int wpt_domain_new(struct wpt_vm *vm, const struct wpt_format_cfg *ufmt,
		   struct wpt_sink *sink, enum wpt_mode mode,
		   struct wpt_domain **out)
{
	struct wpt_format_cfg fmt = { 0 };
	struct wpt_domain *d;
	int ret;

	if (!vm || !ufmt || !sink || !out || !mode_valid(mode) ||
	    ufmt->size < offsetof(struct wpt_format_cfg, sl))
		return -EINVAL;
	memcpy(&fmt, ufmt, ufmt->size < sizeof(fmt) ? ufmt->size : sizeof(fmt));
	if (ufmt->size < sizeof(fmt))
		fmt.sl = -1; /* an older caller: derive the start level */
	/* Trapping needs something to protect with. */
	if (mode != WPT_MODE_INVAL && !vm->protect.ops)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->fmt = wpt_format_lookup(fmt.format);
	ret = d->fmt ? d->fmt->init(&fmt, &d->geo) : -EINVAL;
	if (ret)
		goto err;
	ret = shadow_new(sink, &vm->mem, &vm->pool, mode == WPT_MODE_HYBRID,
			 &d->shadow);
	if (ret)
		goto err;
	d->vm = vm;
	d->sink = sink;
	d->mode = mode;
	d->limits = vm->limits;
	LIST_INIT(&d->uses);
	pthread_mutex_lock(&vm->lock);
	LIST_INSERT_HEAD(&vm->domains, d, link);
	if (mode == WPT_MODE_RELAXED)
		relax_count_domain(vm, 1);
	pthread_mutex_unlock(&vm->lock);
	*out = d;
	return 0;
err:
	free(d);
	return ret;
}

/* Unlink and free d, whatever its sink still holds.  Called under no
 * lock; takes the VM's: the shadow's arrays go back to the VM's block
 * pool, which other domains use meanwhile. */
static void domain_release(struct wpt_domain *d)
{
	struct wpt_vm *vm = d->vm;

	pthread_mutex_lock(&vm->lock);
	LIST_REMOVE(d, link);
	if (d->mode == WPT_MODE_RELAXED)
		relax_count_domain(vm, -1);
	shadow_free(d->shadow);
	pthread_mutex_unlock(&vm->lock);
	free(d);
}

/* Unmap everything d mapped and stop tracking its tables: 0, or the
 * first sink error (the shadow then still records what the sink holds). */
static int domain_unmap_all(struct wpt_domain *d)
{
	struct wpt_vm *vm = d->vm;
	int ret, r, flush;

	pthread_mutex_lock(&vm->lock);
	/* Its pages go back under protection (or out of the list). */
	if (d->mode == WPT_MODE_RELAXED)
		(void)relax_sync_locked(vm, RELAX_SYNC_EXPLICIT);
	op_begin(vm);
	r = op_drop_domain(d);
	/* Inert from here: nothing to walk, nothing to re-map. */
	d->has_root = false;
	ret = op_end(vm);
	if (r) {
		d->st.sink_errors++;
		vm->st.errors++;
	}
	/* Its tables' pages writable again before the call returns. */
	flush = recut_unlock(vm, NULL);
	ret = ret ? ret : flush;
	return r ? r : ret;
}

int wpt_domain_destroy(struct wpt_domain *d)
{
	int ret;

	if (!d)
		return -EINVAL;
	ret = domain_unmap_all(d);
	if (!ret)
		domain_release(d);
	return ret;
}

void wpt_domain_free(struct wpt_domain *d)
{
	int ret;

	if (!d)
		return;
	ret = domain_unmap_all(d);
	if (ret && d->vm->log) {
		char msg[160];

		snprintf(msg, sizeof(msg), "domain %p freed while its sink "
			 "still holds mappings: unmap failed (%s)", (void *)d,
			 strerror(-ret));
		d->vm->log(d->vm->log_opaque, 1, msg);
	}
	domain_release(d);
}

int wpt_domain_set_limits(struct wpt_domain *d, const struct wpt_limits *lim)
{
	struct wpt_limits l;

	if (!d || !lim)
		return -EINVAL;
	l = *lim;
	limits_fill(&l, &d->vm->limits);
	pthread_mutex_lock(&d->vm->lock);
	d->limits = l;
	pthread_mutex_unlock(&d->vm->lock);
	return 0;
}

/* Replace the tree (has_root: at gpa) in one operation, so tables the old
 * and new trees share stay protected and unchanged mappings stay mapped. */
static int domain_switch_root(struct wpt_domain *d, bool has_root, uint64_t gpa)
{
	struct wpt_vm *vm = d->vm;
	int ret, r, err = 0, sync_err = 0;

	pthread_mutex_lock(&vm->lock);
	/* A new context is a sync point: the old tree as the guest left it
	 * goes, not as it was at the last one. */
	if (d->mode == WPT_MODE_RELAXED)
		sync_err = relax_sync_locked(vm, RELAX_SYNC_INVAL);
	op_begin(vm);
	if (d->fault) {
		/* Torn down when it faulted; start afresh. */
		op_drop_domain(d);
		/* Atomic: wpt_domain_error() reads it without the lock. */
		__atomic_store_n(&d->fault, 0, __ATOMIC_RELAXED);
	}
	ptwalk_root_remove(d);
	d->has_root = has_root;
	d->root_gpa = gpa;
	if (has_root) {
		if (!guestmem_region(&vm->mem, gpa, d->geo.root_size))
			err = -EFAULT;
		ptwalk_use_add(d, d->geo.start_level, 0, gpa,
				WPT_PERM_READ | WPT_PERM_WRITE);
	}
	ret = op_end(vm);
	/* A new context: TLB entries of the old one are gone too, so
	 * removals waiting for an invalidation need not wait longer. */
	if (!ret && d->mode == WPT_MODE_HYBRID)
		ret = shadow_flush_all(d->shadow);
	r = recut_unlock(vm, NULL);
	ret = ret ? ret : r;
	return ret ? ret : err ? err : sync_err;
}

int wpt_domain_set_root(struct wpt_domain *d, uint64_t root_gpa)
{
	if (!d)
		return -EINVAL;
	/* VMSAv8-64: a translation table is aligned to its size (a
	 * concatenated start level to the whole of it). */
	if (root_gpa % d->geo.root_size)
		return -EINVAL;
	return domain_switch_root(d, true, root_gpa);
}

int wpt_domain_clear_root(struct wpt_domain *d)
{
	if (!d)
		return -EINVAL;
	return domain_switch_root(d, false, 0);
}

int wpt_domain_invalidate(struct wpt_domain *d, uint64_t iova, uint64_t size)
{
	struct wpt_vm *vm;
	uint64_t last, top;
	int ret = 0, r, sync_err = 0;

	if (!d || !size)
		return -EINVAL;
	vm = d->vm;
	top = d->geo.ias >= 64 ? UINT64_MAX : (1ull << d->geo.ias) - 1;
	last = iova + size - 1 < iova ? UINT64_MAX : iova + size - 1;
	if (last > top)
		last = top;
	pthread_mutex_lock(&vm->lock);
	d->st.invalidations++;
	/* Relaxed: the guest's unmaps on unsynced pages reach the sink by
	 * the time their invalidation returns (wpt.h). */
	if (d->mode == WPT_MODE_RELAXED)
		sync_err = relax_sync_locked(vm, RELAX_SYNC_INVAL);
	if (iova <= top) {
		op_begin(vm);
		if (d->mode == WPT_MODE_INVAL)
			diff_iova_range(d, iova, last);
		ret = op_end(vm);
		/* HYBRID: what the guest removed there may go now.  Every
		 * mode: what an earlier sink failure left owed is tried
		 * again (nothing owed: no sink call), so an invalidation is
		 * how a VMM retries a TRAP domain too. */
		if (!ret && d->mode == WPT_MODE_HYBRID)
			ret = shadow_flush(d->shadow, iova, last - iova + 1);
		else if (!ret)
			ret = shadow_commit(d->shadow);
	}
	r = recut_unlock(vm, NULL);
	return ret ? ret : r ? r : sync_err;
}

int wpt_domain_invalidate_all(struct wpt_domain *d)
{
	if (!d)
		return -EINVAL;
	return wpt_domain_invalidate(d, 0, UINT64_MAX);
}

int wpt_domain_error(const struct wpt_domain *d)
{
	/* No lock: a VMM asks after a failed call, maybe while another
	 * thread's sink call holds the lock.  Written under it, atomically. */
	return d ? __atomic_load_n(&d->fault, __ATOMIC_RELAXED) : -EINVAL;
}

int wpt_domain_stats(const struct wpt_domain *cd, struct wpt_domain_stats *st,
		     size_t size)
{
	struct wpt_domain *d = (struct wpt_domain *)cd;
	struct wpt_shadow_stats ss;
	struct wpt_domain_stats s;

	if (!d || !st || !size)
		return -EINVAL;
	pthread_mutex_lock(&d->vm->lock);
	s = d->st;
	shadow_stats(d->shadow, &ss);
	s.sink_maps = ss.maps;
	s.sink_unmaps = ss.unmaps;
	s.sink_errors = ss.errors;
	s.table_uses = d->nr_uses;
	s.leaves = ss.leaves;
	s.pending_unmap_bytes = ss.pending_bytes;
	pthread_mutex_unlock(&d->vm->lock);
	memcpy(st, &s, size < sizeof(s) ? size : sizeof(s));
	return 0;
}

int wpt_domain_foreach_mapping(struct wpt_domain *d, wpt_mapping_fn fn,
			       void *opaque)
{
	int ret;

	if (!d || !fn)
		return -EINVAL;
	pthread_mutex_lock(&d->vm->lock);
	ret = shadow_foreach_mapping(d->shadow, fn, opaque);
	pthread_mutex_unlock(&d->vm->lock);
	return ret;
}
