/* SPDX-License-Identifier: MIT */
/*
 * The sinks: the recording sink's strict type1 rules (it is the oracle for
 * "the shadow never bisects"), the callback sink's forwarding, and the bytes
 * the VFIO and iommufd sinks would hand the kernel, captured by a stand-in
 * ioctl and checked field by field against the kernel ABI's offsets.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "wpt.h"
#include "wpt_internal.h"
#include "sink/sink.h"

#define RW (WPT_PERM_READ | WPT_PERM_WRITE)

static struct wpt_sink *record_new(void)
{
	struct wpt_sink *s = NULL;

	ck_assert_int_eq(wpt_sink_record_new(&s), 0);
	ck_assert_ptr_nonnull(s);
	return s;
}

static int map(struct wpt_sink *s, uint64_t iova, uint64_t size)
{
	return wpt_sink_map(s, iova, iova + 0x40000000ull, NULL, size, RW);
}

/* The recording sink holds exactly want[0..n), in this order. */
static void assert_holds(struct wpt_sink *s, const struct wpt_mapping *want,
			 long n)
{
	struct wpt_mapping got[16];
	long i;

	ck_assert_int_eq(wpt_sink_record_get(s, got, 16), n);
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(got[i].iova, want[i].iova);
		ck_assert_uint_eq(got[i].gpa, want[i].gpa);
		ck_assert_uint_eq(got[i].size, want[i].size);
		ck_assert_uint_eq(got[i].perm, want[i].perm);
	}
}

static void assert_stats(const struct wpt_sink *s, uint64_t maps,
			 uint64_t unmaps, uint64_t errors, uint64_t bytes)
{
	struct wpt_sink_stats st;

	wpt_sink_stats(s, &st);
	ck_assert_uint_eq(st.maps, maps);
	ck_assert_uint_eq(st.unmaps, unmaps);
	ck_assert_uint_eq(st.errors, errors);
	ck_assert_uint_eq(st.bytes_mapped, bytes);
}

/* ------------------------------------------------------- record: map */

START_TEST(test_record_map_holds)
{
	struct wpt_sink *s = record_new();
	const struct wpt_mapping want = { 0x10000, 0x80010000, 0x3000,
					  WPT_PERM_READ };

	ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), 0);
	ck_assert_int_eq(wpt_sink_map(s, 0x10000, 0x80010000, NULL, 0x3000,
				      WPT_PERM_READ), 0);
	assert_holds(s, &want, 1);
	wpt_sink_free(s);
}
END_TEST

/* Held: [0x10000, 0x14000).  Each row is one map attempt beside it. */
static const struct {
	uint64_t iova, size;
	int ret;
} overlap_rows[] = {
	{ 0x10000, 0x4000, -EEXIST },  /* the same range */
	{ 0x11000, 0x1000, -EEXIST },  /* inside */
	{ 0x0f000, 0x2000, -EEXIST },  /* over its first page */
	{ 0x13000, 0x2000, -EEXIST },  /* over its last page */
	{ 0x08000, 0x10000, -EEXIST }, /* covering it */
	{ 0x13fff, 0x1, -EINVAL },     /* its last byte: not a whole page */
	{ 0x0f000, 0x1000, 0 },        /* just below */
	{ 0x14000, 0x1000, 0 },        /* just above */
	{ 0, 0x10000, 0 },             /* everything below, touching */
};

START_TEST(test_record_overlap)
{
	struct wpt_sink *s = record_new();
	const struct wpt_mapping held = { 0x10000, 0x40010000, 0x4000, RW };
	uint64_t iova = overlap_rows[_i].iova, size = overlap_rows[_i].size;

	ck_assert_int_eq(map(s, 0x10000, 0x4000), 0);
	ck_assert_int_eq(map(s, iova, size), overlap_rows[_i].ret);
	if (overlap_rows[_i].ret) {
		assert_holds(s, &held, 1);
	} else {
		ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), 2);
		ck_assert_int_eq(wpt_sink_unmap(s, iova, size), 0);
		assert_holds(s, &held, 1);
	}
	wpt_sink_free(s);
}
END_TEST

/* A refused overlap against a neighbour on either side when the new range
 * falls between two held mappings. */
START_TEST(test_record_overlap_between)
{
	struct wpt_sink *s = record_new();

	ck_assert_int_eq(map(s, 0x10000, 0x1000), 0);
	ck_assert_int_eq(map(s, 0x20000, 0x1000), 0);
	ck_assert_int_eq(map(s, 0xf000, 0x2000), -EEXIST);
	ck_assert_int_eq(map(s, 0x1f000, 0x2000), -EEXIST);
	/* Whole pages only, as type1 wants: not an overlap, a bad range. */
	ck_assert_int_eq(map(s, 0x10800, 0x1000), -EINVAL);
	ck_assert_int_eq(map(s, 0x30000, 0x800), -EINVAL);
	ck_assert_int_eq(wpt_sink_unmap(s, 0x10000, 0x800), -EINVAL);
	ck_assert_int_eq(map(s, 0x11000, 0xf000), 0);
	ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), 3);
	wpt_sink_free(s);
}
END_TEST

START_TEST(test_record_map_invalid)
{
	struct wpt_sink *s = record_new();
	const struct wpt_mapping top = { ~0ull - 0xfff, 0, 0x1000, RW };

	ck_assert_int_eq(wpt_sink_map(s, 0x1000, 0, NULL, 0, RW), -EINVAL);
	ck_assert_int_eq(wpt_sink_map(s, 0x1000, 0, NULL, 0x1000, 0), -EINVAL);
	ck_assert_int_eq(wpt_sink_map(s, ~0ull - 0xfff, 0, NULL, 0x2000, RW),
			 -EINVAL);
	ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), 0);
	/* Ending on the last byte of the IOVA space does not wrap. */
	ck_assert_int_eq(wpt_sink_map(s, ~0ull - 0xfff, 0, NULL, 0x1000, RW),
			 0);
	assert_holds(s, &top, 1);
	ck_assert_int_eq(wpt_sink_unmap(s, ~0ull - 0xfff, 0x1000), 0);
	wpt_sink_free(s);
}
END_TEST

/* ----------------------------------------------------- record: unmap */

/* Held: [0x10000, 0x12000) and [0x12000, 0x13000).  Each row is one unmap
 * that type1 semantics (made strict) must refuse. */
static const struct {
	uint64_t iova, size;
	const char *what;
} bad_unmap_rows[] = {
	{ 0x10000, 0x1000, "bisect: its first half" },
	{ 0x11000, 0x1000, "bisect: its second half" },
	{ 0x10000, 0x3000, "two mappings at once" },
	{ 0x10000, 0x4000, "more than it holds" },
	{ 0x20000, 0x1000, "nothing there" },
	{ 0x0f000, 0x3000, "from below its start" },
	{ 0x10000, 0, "size 0" },
	{ ~0ull - 0xfff, 0x2000, "wrapping" },
};

START_TEST(test_record_unmap_refused)
{
	struct wpt_sink *s = record_new();
	const struct wpt_mapping held[] = {
		{ 0x10000, 0x40010000, 0x2000, RW },
		{ 0x12000, 0x40012000, 0x1000, RW },
	};

	ck_assert_int_eq(map(s, 0x10000, 0x2000), 0);
	ck_assert_int_eq(map(s, 0x12000, 0x1000), 0);
	ck_assert_msg(wpt_sink_unmap(s, bad_unmap_rows[_i].iova,
				     bad_unmap_rows[_i].size) == -EINVAL,
		      "%s not refused", bad_unmap_rows[_i].what);
	assert_holds(s, held, 2);
	wpt_sink_free(s);
}
END_TEST

START_TEST(test_record_unmap_exact)
{
	struct wpt_sink *s = record_new();
	const struct wpt_mapping rest = { 0x12000, 0x40012000, 0x1000, RW };

	ck_assert_int_eq(map(s, 0x10000, 0x2000), 0);
	ck_assert_int_eq(map(s, 0x12000, 0x1000), 0);
	ck_assert_int_eq(wpt_sink_unmap(s, 0x10000, 0x2000), 0);
	assert_holds(s, &rest, 1);
	ck_assert_int_eq(wpt_sink_unmap(s, 0x10000, 0x2000), -EINVAL);
	ck_assert_int_eq(wpt_sink_unmap(s, 0x12000, 0x1000), 0);
	ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), 0);
	/* The freed range maps again. */
	ck_assert_int_eq(map(s, 0x11000, 0x2000), 0);
	wpt_sink_free(s);
}
END_TEST

/* ------------------------------------------------------- record: get */

START_TEST(test_record_get_sorted_truncated)
{
	static const uint64_t order[] = { 0x50000, 0x10000, 0x40000, 0x20000,
					  0x30000 };
	struct wpt_sink *s = record_new();
	struct wpt_mapping got[3];
	unsigned int i;

	for (i = 0; i < 5; i++)
		ck_assert_int_eq(map(s, order[i], 0x1000 * (i + 1)), 0);
	memset(got, 0xa5, sizeof(got));
	ck_assert_int_eq(wpt_sink_record_get(s, got, 2), 5);
	ck_assert_uint_eq(got[0].iova, 0x10000);
	ck_assert_uint_eq(got[0].size, 0x2000);
	ck_assert_uint_eq(got[1].iova, 0x20000);
	ck_assert_uint_eq(got[1].size, 0x4000);
	ck_assert_uint_eq(got[2].iova, 0xa5a5a5a5a5a5a5a5ull); /* untouched */
	ck_assert_int_eq(wpt_sink_record_get(s, got, 3), 5);
	ck_assert_uint_eq(got[2].iova, 0x30000);
	ck_assert_uint_eq(got[2].gpa, 0x40030000);
	ck_assert_uint_eq(got[2].size, 0x5000);
	ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), 5);
	ck_assert_int_eq(wpt_sink_record_get(s, NULL, 1), -EINVAL);
	wpt_sink_free(s);
}
END_TEST

static int cb_ok_map(void *o, uint64_t iova, uint64_t gpa, void *hva,
		     uint64_t size, uint32_t perm)
{
	return 0;
}

static int cb_ok_unmap(void *o, uint64_t iova, uint64_t size)
{
	return 0;
}

/* The record-only calls must not read another kind's private data. */
START_TEST(test_record_calls_refuse_other_kinds)
{
	const struct wpt_sink_ops ops = { cb_ok_map, cb_ok_unmap };
	struct wpt_sink *s;
	struct wpt_mapping m;

	ck_assert_int_eq(wpt_sink_callback_new(&ops, NULL, &s), 0);
	ck_assert_int_eq(wpt_sink_record_get(s, &m, 1), -EINVAL);
	ck_assert_int_eq(wpt_sink_record_fail_at(s, 1, -EIO), -EINVAL);
	wpt_sink_free(s);
	ck_assert_int_eq(wpt_sink_record_get(NULL, &m, 1), -EINVAL);
	ck_assert_int_eq(wpt_sink_record_fail_at(NULL, 1, -EIO), -EINVAL);
}
END_TEST

/* --------------------------------------------------- record: fail_at */

START_TEST(test_record_fail_at_counts_and_fires_once)
{
	struct wpt_sink *s = record_new();
	const struct wpt_mapping held = { 0x10000, 0x40010000, 0x1000, RW };

	ck_assert_int_eq(wpt_sink_record_fail_at(s, 3, -ENOSPC), 0);
	ck_assert_int_eq(map(s, 0x10000, 0x1000), 0);           /* call 1 */
	ck_assert_int_eq(map(s, 0x10000, 0x1000), -EEXIST);     /* call 2 */
	ck_assert_int_eq(wpt_sink_unmap(s, 0x10000, 0x1000),    /* call 3 */
			 -ENOSPC);
	assert_holds(s, &held, 1); /* the failure changed nothing */
	ck_assert_int_eq(wpt_sink_unmap(s, 0x10000, 0x1000), 0);
	ck_assert_int_eq(map(s, 0x10000, 0x1000), 0);
	assert_holds(s, &held, 1);
	wpt_sink_free(s);
}
END_TEST

START_TEST(test_record_fail_at_map_changes_nothing)
{
	struct wpt_sink *s = record_new();

	ck_assert_int_eq(wpt_sink_record_fail_at(s, 1, -ENOMEM), 0);
	ck_assert_int_eq(map(s, 0x10000, 0x1000), -ENOMEM);
	ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), 0);
	ck_assert_int_eq(map(s, 0x10000, 0x1000), 0);
	wpt_sink_free(s);
}
END_TEST

START_TEST(test_record_fail_at_cancel_and_invalid)
{
	struct wpt_sink *s = record_new();

	ck_assert_int_eq(wpt_sink_record_fail_at(s, 1, 0), -EINVAL);
	ck_assert_int_eq(wpt_sink_record_fail_at(s, 1, EIO), -EINVAL);
	ck_assert_int_eq(map(s, 0x10000, 0x1000), 0); /* nothing was armed */
	ck_assert_int_eq(wpt_sink_record_fail_at(s, 2, -EIO), 0);
	ck_assert_int_eq(wpt_sink_record_fail_at(s, 0, 0), 0);
	ck_assert_int_eq(map(s, 0x20000, 0x1000), 0);
	ck_assert_int_eq(map(s, 0x30000, 0x1000), 0);
	/* Re-arming replaces the count rather than adding a second one. */
	ck_assert_int_eq(wpt_sink_record_fail_at(s, 1, -EIO), 0);
	ck_assert_int_eq(wpt_sink_record_fail_at(s, 2, -EBUSY), 0);
	ck_assert_int_eq(map(s, 0x40000, 0x1000), 0);
	ck_assert_int_eq(map(s, 0x50000, 0x1000), -EBUSY);
	ck_assert_int_eq(wpt_sink_record_get(s, NULL, 0), 4);
	wpt_sink_free(s);
}
END_TEST

START_TEST(test_record_stats)
{
	struct wpt_sink *s = record_new();

	ck_assert_int_eq(map(s, 0x10000, 0x2000), 0);
	ck_assert_int_eq(map(s, 0x20000, 0x1000), 0);
	ck_assert_int_eq(map(s, 0x10000, 0x1000), -EEXIST);
	ck_assert_int_eq(wpt_sink_unmap(s, 0x10000, 0x1000), -EINVAL);
	ck_assert_int_eq(wpt_sink_unmap(s, 0x10000, 0x2000), 0);
	assert_stats(s, 2, 1, 2, 0x3000);
	wpt_sink_free(s);
}
END_TEST

/* ------------------------------------------------------------ callback */

struct cb_log {
	int maps, unmaps;
	uint64_t iova, gpa, size;
	void *hva;
	uint32_t perm;
	int ret; /* what the next call returns */
};

static int cb_map(void *o, uint64_t iova, uint64_t gpa, void *hva,
		  uint64_t size, uint32_t perm)
{
	struct cb_log *l = o;

	l->maps++;
	l->iova = iova;
	l->gpa = gpa;
	l->hva = hva;
	l->size = size;
	l->perm = perm;
	return l->ret;
}

static int cb_unmap(void *o, uint64_t iova, uint64_t size)
{
	struct cb_log *l = o;

	l->unmaps++;
	l->iova = iova;
	l->size = size;
	return l->ret;
}

START_TEST(test_callback_forwards)
{
	struct wpt_sink_ops ops = { cb_map, cb_unmap };
	struct cb_log log = { 0 };
	struct wpt_sink *s;
	char page[1];

	ck_assert_int_eq(wpt_sink_callback_new(&ops, &log, &s), 0);
	/* The sink keeps its own copy of the table. */
	ops.map = NULL;
	ck_assert_int_eq(wpt_sink_map(s, 0x7000, 0x80007000, page, 0x2000,
				      WPT_PERM_WRITE), 0);
	ck_assert_int_eq(log.maps, 1);
	ck_assert_uint_eq(log.iova, 0x7000);
	ck_assert_uint_eq(log.gpa, 0x80007000);
	ck_assert_ptr_eq(log.hva, page);
	ck_assert_uint_eq(log.size, 0x2000);
	ck_assert_uint_eq(log.perm, WPT_PERM_WRITE);
	ck_assert_int_eq(wpt_sink_unmap(s, 0x7000, 0x2000), 0);
	ck_assert_int_eq(log.unmaps, 1);
	ck_assert_uint_eq(log.iova, 0x7000);
	ck_assert_uint_eq(log.size, 0x2000);
	log.ret = -EFAULT;
	ck_assert_int_eq(wpt_sink_map(s, 0x9000, 0, page, 0x1000, RW), -EFAULT);
	ck_assert_int_eq(wpt_sink_unmap(s, 0x9000, 0x1000), -EFAULT);
	assert_stats(s, 1, 1, 2, 0x2000);
	wpt_sink_free(s);
}
END_TEST

START_TEST(test_callback_refuses_incomplete_ops)
{
	const struct wpt_sink_ops no_map = { NULL, cb_unmap };
	const struct wpt_sink_ops no_unmap = { cb_map, NULL };
	const struct wpt_sink_ops ok = { cb_map, cb_unmap };
	struct wpt_sink *s = NULL;

	ck_assert_int_eq(wpt_sink_callback_new(NULL, NULL, &s), -EINVAL);
	ck_assert_int_eq(wpt_sink_callback_new(&no_map, NULL, &s), -EINVAL);
	ck_assert_int_eq(wpt_sink_callback_new(&no_unmap, NULL, &s), -EINVAL);
	ck_assert_int_eq(wpt_sink_callback_new(&ok, NULL, NULL), -EINVAL);
	ck_assert_ptr_null(s);
}
END_TEST

/* ------------------------------------------- VFIO and iommufd: ioctls */

/*
 * The stand-in ioctl: records what it was sent (the request and the
 * struct's bytes, sized by what the request carries), then fails with
 * fake.fail_errno if set, else succeeds and writes back fake.unmapped
 * (if set) where the kernel reports how much an unmap removed.  One test
 * runs per forked process, so a file-scope record is enough.
 */
#define IOMMUFD_MAP_NR 0x3b85   /* _IO(';', 0x80 + 5) */
#define IOMMUFD_UNMAP_NR 0x3b86 /* _IO(';', 0x80 + 6) */

static struct {
	int calls, fd;
	unsigned long request;
	uint8_t bytes[64];
	size_t len;
	int fail_errno;    /* -1 plus no errno at all when < 0 */
	uint64_t unmapped; /* written back by unmaps when nonzero */
} fake;

static size_t request_len(unsigned long request)
{
	switch (request) {
	case VFIO_IOMMU_MAP_DMA: return 32;
	case VFIO_IOMMU_UNMAP_DMA: return 24;
	case IOMMUFD_MAP_NR: return 40;
	case IOMMUFD_UNMAP_NR: return 24;
	}
	ck_abort_msg("unexpected ioctl request %#lx", request);
	return 0;
}

static int fake_ioctl(int fd, unsigned long request, void *arg)
{
	fake.calls++;
	fake.fd = fd;
	fake.request = request;
	fake.len = request_len(request);
	memcpy(fake.bytes, arg, fake.len);
	if (fake.fail_errno) {
		errno = fake.fail_errno > 0 ? fake.fail_errno : 0;
		return -1;
	}
	/* Both unmap structs carry the size unmapped at offset 16. */
	if (fake.unmapped && (request == VFIO_IOMMU_UNMAP_DMA ||
			      request == IOMMUFD_UNMAP_NR))
		memcpy((uint8_t *)arg + 16, &fake.unmapped, 8);
	return 0;
}

static uint32_t u32_at(size_t off)
{
	uint32_t v;

	memcpy(&v, fake.bytes + off, 4);
	return v;
}

static uint64_t u64_at(size_t off)
{
	uint64_t v;

	memcpy(&v, fake.bytes + off, 8);
	return v;
}

#define IOAS_ID 0xabcdu

enum kind { KIND_VFIO, KIND_IOMMUFD };

/* A VFIO or iommufd sink on fd; fn NULL: the public constructor, which
 * issues real ioctls. */
static struct wpt_sink *kernel_sink(enum kind k, int fd, wpt_ioctl_fn fn)
{
	struct wpt_sink *s = NULL;
	int ret;

	if (k == KIND_VFIO)
		ret = fn ? wpt_sink_vfio_new_ioctl(fd, fn, &s)
			 : wpt_sink_vfio_new(fd, &s);
	else
		ret = fn ? wpt_sink_iommufd_new_ioctl(fd, IOAS_ID, fn, &s)
			 : wpt_sink_iommufd_new(fd, IOAS_ID, &s);
	ck_assert_int_eq(ret, 0);
	ck_assert_ptr_nonnull(s);
	return s;
}

/*
 * Both unmap structs are 24 bytes: vfio_iommu_type1_dma_unmap is argsz@0
 * flags@4 iova@8 size@16, iommu_ioas_unmap is size@0 ioas_id@4 iova@8
 * length@16.  Both kernels write back how much they unmapped.
 */
static const struct {
	unsigned long request;
	uint32_t word4; /* VFIO flags 0; iommufd the IOAS */
} unmap_rows[] = {
	[KIND_VFIO] = { 0x3b72, 0 },             /* _IO(';', 100 + 14) */
	[KIND_IOMMUFD] = { IOMMUFD_UNMAP_NR, IOAS_ID },
};

START_TEST(test_kernel_sink_unmap_bytes)
{
	struct wpt_sink *s = kernel_sink(_i, 42, fake_ioctl);

	fake.unmapped = 0x200000;
	ck_assert_int_eq(wpt_sink_unmap(s, 0x40000000, 0x200000), 0);
	ck_assert_int_eq(fake.fd, 42);
	ck_assert_uint_eq(fake.request, unmap_rows[_i].request);
	ck_assert_uint_eq(u32_at(0), 24);
	ck_assert_uint_eq(u32_at(4), unmap_rows[_i].word4);
	ck_assert_uint_eq(u64_at(8), 0x40000000);
	ck_assert_uint_eq(u64_at(16), 0x200000);
	/* Succeeding but unmapping less than asked is an error. */
	fake.unmapped = 0x1000;
	ck_assert_int_eq(wpt_sink_unmap(s, 0x40000000, 0x200000), -EIO);
	wpt_sink_free(s);
}
END_TEST

/* perm -> the flags each ABI must carry. */
static const struct {
	uint32_t perm, vfio_flags, iommufd_flags;
} perm_rows[] = {
	{ WPT_PERM_READ, 1u << 0, (1u << 0) | (1u << 2) },
	{ WPT_PERM_WRITE, 1u << 1, (1u << 0) | (1u << 1) },
	{ RW, (1u << 0) | (1u << 1), (1u << 0) | (1u << 1) | (1u << 2) },
};

/* vfio_iommu_type1_dma_map: argsz@0 flags@4 vaddr@8 iova@16 size@24. */
START_TEST(test_vfio_map_bytes)
{
	static char ram[0x3000];
	struct wpt_sink *s;

	ck_assert_int_eq(wpt_sink_vfio_new_ioctl(42, fake_ioctl, &s), 0);
	ck_assert_int_eq(wpt_sink_map(s, 0x123456000ull, 0x80000000ull,
				      ram + 0x1000, 0x2000,
				      perm_rows[_i].perm), 0);
	ck_assert_int_eq(fake.calls, 1);
	ck_assert_int_eq(fake.fd, 42);
	ck_assert_uint_eq(fake.request, VFIO_IOMMU_MAP_DMA);
	ck_assert_uint_eq(fake.request, 0x3b71); /* _IO(';', 100 + 13) */
	ck_assert_uint_eq(u32_at(0), 32);
	ck_assert_uint_eq(u32_at(4), perm_rows[_i].vfio_flags);
	ck_assert_uint_eq(u64_at(8), (uintptr_t)(ram + 0x1000));
	ck_assert_uint_eq(u64_at(16), 0x123456000ull);
	ck_assert_uint_eq(u64_at(24), 0x2000);
	wpt_sink_free(s);
}
END_TEST

/* The kernel writes back the size; a stand-in that leaves it alone reports
 * the full size, so this one zeroes it as type1 does for an empty range. */
static int fake_unmapped_nothing(int fd, unsigned long request, void *arg)
{
	struct vfio_iommu_type1_dma_unmap *u = arg;

	ck_assert_uint_eq(request, VFIO_IOMMU_UNMAP_DMA);
	u->size = 0;
	return 0;
}

START_TEST(test_vfio_unmap_nothing_is_eio)
{
	struct wpt_sink *s;

	ck_assert_int_eq(wpt_sink_vfio_new_ioctl(3, fake_unmapped_nothing, &s),
			 0);
	ck_assert_int_eq(wpt_sink_unmap(s, 0x200000, 0x1000), -EIO);
	wpt_sink_free(s);
}
END_TEST

/* struct iommu_ioas_map: size@0 flags@4 ioas_id@8 __reserved@12
 * user_va@16 length@24 iova@32, 40 bytes. */
START_TEST(test_iommufd_map_bytes)
{
	static char ram[0x3000];
	struct wpt_sink *s;

	s = kernel_sink(KIND_IOMMUFD, 7, fake_ioctl);
	ck_assert_int_eq(wpt_sink_map(s, 0xfffff000000ull, 0x80000000ull, ram,
				      0x3000, perm_rows[_i].perm), 0);
	ck_assert_int_eq(fake.calls, 1);
	ck_assert_int_eq(fake.fd, 7);
	ck_assert_uint_eq(fake.request, IOMMUFD_MAP_NR);
	ck_assert_uint_eq(u32_at(0), 40);
	ck_assert_uint_eq(u32_at(4), perm_rows[_i].iommufd_flags);
	ck_assert_uint_eq(u32_at(8), IOAS_ID);
	ck_assert_uint_eq(u32_at(12), 0);
	ck_assert_uint_eq(u64_at(16), (uintptr_t)ram);
	ck_assert_uint_eq(u64_at(24), 0x3000);
	ck_assert_uint_eq(u64_at(32), 0xfffff000000ull);
	wpt_sink_free(s);
}
END_TEST

/* For both kernel sinks (_i is the kind): errno comes back negated, a
 * failure without errno is still a failure, and bad perms never reach the
 * kernel. */
START_TEST(test_kernel_sink_errors)
{
	struct wpt_sink *s = kernel_sink(_i, 5, fake_ioctl);
	char ram[16];

	fake.fail_errno = EBUSY;
	ck_assert_int_eq(wpt_sink_map(s, 0x1000, 0, ram, 0x1000, RW), -EBUSY);
	fake.fail_errno = ENOENT;
	ck_assert_int_eq(wpt_sink_unmap(s, 0x1000, 0x1000), -ENOENT);
	fake.fail_errno = -1;
	ck_assert_int_eq(wpt_sink_map(s, 0x1000, 0, ram, 0x1000, RW), -EIO);
	ck_assert_int_eq(fake.calls, 3);
	fake.fail_errno = 0;
	ck_assert_int_eq(wpt_sink_map(s, 0x1000, 0, ram, 0x1000, 0), -EINVAL);
	ck_assert_int_eq(wpt_sink_map(s, 0x1000, 0, ram, 0x1000, 1u << 2),
			 -EINVAL);
	ck_assert_int_eq(fake.calls, 3);
	assert_stats(s, 0, 0, 5, 0);
	wpt_sink_free(s);
}
END_TEST

START_TEST(test_kernel_sink_new_invalid)
{
	struct wpt_sink *s = NULL;

	ck_assert_int_eq(wpt_sink_vfio_new_ioctl(-1, fake_ioctl, &s), -EINVAL);
	ck_assert_int_eq(wpt_sink_vfio_new_ioctl(3, NULL, &s), -EINVAL);
	ck_assert_int_eq(wpt_sink_vfio_new(3, NULL), -EINVAL);
	ck_assert_int_eq(wpt_sink_iommufd_new_ioctl(-1, 1, fake_ioctl, &s),
			 -EINVAL);
	ck_assert_int_eq(wpt_sink_iommufd_new_ioctl(3, 1, NULL, &s), -EINVAL);
	ck_assert_int_eq(wpt_sink_iommufd_new(3, 1, NULL), -EINVAL);
	ck_assert_ptr_null(s);
}
END_TEST

/* The real ioctl on a file that is no VFIO container or iommufd must fail,
 * and the fd must still be the caller's (open) after the sink is freed. */
START_TEST(test_kernel_sink_real_ioctl_on_dev_null)
{
	int fd = open("/dev/null", O_RDWR);
	struct wpt_sink *s;
	char ram[16];

	ck_assert_int_ge(fd, 0);
	s = kernel_sink(_i, fd, NULL);
	ck_assert_int_eq(wpt_sink_map(s, 0x1000, 0, ram, 0x1000, RW), -ENOTTY);
	ck_assert_int_eq(wpt_sink_unmap(s, 0x1000, 0x1000), -ENOTTY);
	wpt_sink_free(s);
	ck_assert_int_ne(fcntl(fd, F_GETFD), -1);
	close(fd);
}
END_TEST

/* ---------------------------------------------------------------- main */

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *sink_suite(void)
{
	Suite *su = suite_create("sink");
	TCase *rec = tcase_create("record");
	TCase *cb = tcase_create("callback");
	TCase *kern = tcase_create("vfio_iommufd");

	tcase_add_test(rec, test_record_map_holds);
	tcase_add_loop_test(rec, test_record_overlap, 0, N(overlap_rows));
	tcase_add_test(rec, test_record_overlap_between);
	tcase_add_test(rec, test_record_map_invalid);
	tcase_add_loop_test(rec, test_record_unmap_refused, 0,
			    N(bad_unmap_rows));
	tcase_add_test(rec, test_record_unmap_exact);
	tcase_add_test(rec, test_record_get_sorted_truncated);
	tcase_add_test(rec, test_record_calls_refuse_other_kinds);
	tcase_add_test(rec, test_record_fail_at_counts_and_fires_once);
	tcase_add_test(rec, test_record_fail_at_map_changes_nothing);
	tcase_add_test(rec, test_record_fail_at_cancel_and_invalid);
	tcase_add_test(rec, test_record_stats);
	tcase_add_test(cb, test_callback_forwards);
	tcase_add_test(cb, test_callback_refuses_incomplete_ops);
	tcase_add_loop_test(kern, test_vfio_map_bytes, 0, N(perm_rows));
	tcase_add_loop_test(kern, test_kernel_sink_unmap_bytes, KIND_VFIO,
			    KIND_IOMMUFD + 1);
	tcase_add_test(kern, test_vfio_unmap_nothing_is_eio);
	tcase_add_loop_test(kern, test_iommufd_map_bytes, 0, N(perm_rows));
	tcase_add_loop_test(kern, test_kernel_sink_errors, KIND_VFIO,
			    KIND_IOMMUFD + 1);
	tcase_add_test(kern, test_kernel_sink_new_invalid);
	tcase_add_loop_test(kern, test_kernel_sink_real_ioctl_on_dev_null,
			    KIND_VFIO, KIND_IOMMUFD + 1);
	suite_add_tcase(su, rec);
	suite_add_tcase(su, cb);
	suite_add_tcase(su, kern);
	return su;
}

int main(void)
{
	SRunner *sr = srunner_create(sink_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
