/* SPDX-License-Identifier: MIT */
/*
 * A small guest for the engine's unit tests: RAM in a buffer, protection by
 * callback (a page bitmap), one recording sink per domain, stage-1 4K
 * descriptor encoders, and a store that traps when its page is protected
 * (as KVM would with a read-only slot).  Header-only so each test program
 * stays one file.
 */
#ifndef WPT_TEST_FIXTURE_H
#define WPT_TEST_FIXTURE_H

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "wpt.h"
#include "wpt_internal.h"

#define FX_RAM_GPA 0x40000000ull
#define FX_RAM_SIZE (16ull << 20)
#define FX_PAGES (FX_RAM_SIZE >> 12)

struct fx {
	uint8_t *ram;
	uint8_t prot[FX_PAGES]; /* 1: protected */
	uint64_t protect_calls, unprotect_calls;
	int fail_protect;       /* next protect fails with this */
	struct wpt_vm *vm;
	/* Called first by every protect (1) and unprotect (0). */
	void (*hook)(struct fx *f, int protect);
	void *user;
};

static inline int fx_protect(void *o, uint64_t gpa, uint64_t size)
{
	struct fx *f = o;
	uint64_t p;

	if (f->hook)
		f->hook(f, 1);
	if (f->fail_protect) {
		int e = f->fail_protect;

		f->fail_protect = 0;
		return e;
	}
	f->protect_calls++;
	for (p = gpa; p < gpa + size; p += 4096) {
		ck_assert_msg(!f->prot[(p - FX_RAM_GPA) >> 12],
			      "page %llx protected twice", (unsigned long long)p);
		f->prot[(p - FX_RAM_GPA) >> 12] = 1;
	}
	return 0;
}

static inline int fx_unprotect(void *o, uint64_t gpa, uint64_t size)
{
	struct fx *f = o;
	uint64_t p;

	if (f->hook)
		f->hook(f, 0);
	f->unprotect_calls++;
	for (p = gpa; p < gpa + size; p += 4096) {
		ck_assert_msg(f->prot[(p - FX_RAM_GPA) >> 12],
			      "page %llx unprotected twice",
			      (unsigned long long)p);
		f->prot[(p - FX_RAM_GPA) >> 12] = 0;
	}
	return 0;
}

static const struct wpt_protect_ops fx_protect_ops = {
	.protect = fx_protect,
	.unprotect = fx_unprotect,
};

/* A fixture VM whose configuration the caller completes (limits,
 * quiesce ops): cfg's regions and protection are set here. */
static inline struct fx *fx_new_cfg(struct wpt_vm_cfg cfg)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct wpt_ram_region r;

	ck_assert_ptr_nonnull(f);
	f->ram = mmap(NULL, FX_RAM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(f->ram != MAP_FAILED);
	r = (struct wpt_ram_region){ FX_RAM_GPA, FX_RAM_SIZE, f->ram };
	cfg.size = sizeof(cfg);
	cfg.regions = &r;
	cfg.nr_regions = 1;
	cfg.protect_ops = &fx_protect_ops;
	cfg.protect_opaque = f;
	ck_assert_int_eq(wpt_vm_new(&cfg, &f->vm), 0);
	return f;
}

static inline struct fx *fx_new_limits(const struct wpt_limits *lim)
{
	struct wpt_vm_cfg cfg = { .size = sizeof(cfg) };

	if (lim)
		cfg.limits = *lim;
	return fx_new_cfg(cfg);
}

static inline struct fx *fx_new(void)
{
	return fx_new_limits(NULL);
}

static inline void fx_free(struct fx *f)
{
	wpt_vm_free(f->vm);
	munmap(f->ram, FX_RAM_SIZE);
	free(f);
}

static inline uint64_t *fx_desc(struct fx *f, uint64_t gpa)
{
	return (uint64_t *)(f->ram + (gpa - FX_RAM_GPA));
}

/* The guest stores len bytes at gpa: trapped if the page is protected. */
static inline void fx_store(struct fx *f, uint64_t gpa, const void *data,
			    uint32_t len)
{
	if (f->prot[(gpa - FX_RAM_GPA) >> 12]) {
		uint8_t buf[16];

		memcpy(buf, data, len);
		ck_assert_int_eq(wpt_vm_handle_mmio(f->vm, gpa, buf, len, 1), 1);
	} else {
		memcpy(f->ram + (gpa - FX_RAM_GPA), data, len);
	}
}

static inline void fx_store64(struct fx *f, uint64_t gpa, uint64_t v)
{
	fx_store(f, gpa, &v, 8);
}

static inline int fx_prot(struct fx *f, uint64_t gpa)
{
	return f->prot[(gpa - FX_RAM_GPA) >> 12];
}

/* Stage-1 descriptors (VMSAv8-64): bit 0 valid, bit 1 table/page, AF bit
 * 10, AP[2] bit 7, APTable[1] bit 62. */
#define S1_AF (1ull << 10)
#define S1_RO (1ull << 7)
#define S1_APTABLE_RO (1ull << 62)
#define S1_APTABLE_NO_EL0 (1ull << 61)
#define S1_AP_EL0 (1ull << 6)
/* Macros, not functions: the transition tables use them in static
 * initializers. */
#define s1_table(gpa) ((uint64_t)(gpa) | 3)
#define s1_page(gpa) ((uint64_t)(gpa) | 3 | S1_AF)
#define s1_block(gpa) ((uint64_t)(gpa) | 1 | S1_AF)

static inline struct wpt_domain *fx_domain(struct fx *f, struct wpt_sink **sink,
					   enum wpt_mode mode, uint32_t granule,
					   uint32_t ias)
{
	struct wpt_format_cfg c = {
		.size = sizeof(c), .format = WPT_FMT_ARM_LPAE_S1,
		.granule = granule, .ias = ias, .oas = 48, .sl = -1,
	};
	struct wpt_domain *d;

	ck_assert_int_eq(wpt_sink_record_new(sink), 0);
	ck_assert_int_eq(wpt_domain_new(f->vm, &c, *sink, mode, &d), 0);
	return d;
}

/* The recording sink's mappings, as a compact string "iova:gpa:size:perm;"
 * (hex), for exact comparisons in tables of expectations. */
static inline const char *fx_sink_str(struct wpt_sink *s, char *buf, size_t n)
{
	struct wpt_mapping m[64];
	long cnt = wpt_sink_record_get(s, m, 64), i;
	size_t off = 0;

	ck_assert_int_ge(cnt, 0);
	ck_assert_int_le(cnt, 64);
	buf[0] = 0;
	for (i = 0; i < cnt; i++)
		off += snprintf(buf + off, n - off, "%llx:%llx:%llx:%s;",
				(unsigned long long)m[i].iova,
				(unsigned long long)m[i].gpa,
				(unsigned long long)m[i].size,
				m[i].perm == 3 ? "rw" : m[i].perm == 1 ? "r" : "w");
	return buf;
}

static inline void fx_sink_calls(struct wpt_sink *s, uint64_t *maps,
				 uint64_t *unmaps)
{
	struct wpt_sink_stats st;

	wpt_sink_stats(s, &st);
	*maps = st.maps;
	*unmaps = st.unmaps;
}

static inline int fx_count_table(void *o, uint64_t gpa, uint64_t size,
				 unsigned int uses)
{
	(*(uint64_t *)o) += uses;
	return 0;
}

/* Total table uses the VM tracks. */
static inline uint64_t fx_uses(struct fx *f)
{
	uint64_t n = 0;

	wpt_vm_foreach_table(f->vm, fx_count_table, &n);
	return n;
}

#endif
