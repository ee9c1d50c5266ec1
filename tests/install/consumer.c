/* SPDX-License-Identifier: MIT */
/*
 * A VMM's first program against an installed libwpt: built only through
 * `pkg-config --cflags --libs wpt` (scripts/pkg/test-install.sh, make
 * check-deb), so it proves the installed header, library and wpt.pc work
 * together, shared and static.  It maps one 2 MiB block through an
 * invalidating domain and reads it back from a recording sink.
 * Prints "consumer: ok" and exits 0, or names what failed and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wpt.h>

#define RAM_SIZE (4u << 20)
#define BLOCK    (2u << 20)
/* VMSAv8-64 stage 1 block at level 2: output address | AF | block. */
#define DESC_AF    (1ull << 10)
#define DESC_BLOCK 0x1ull

static int fail(const char *what, long ret)
{
	fprintf(stderr, "consumer: %s: %ld\n", what, ret);
	return 1;
}

/* IAS 30 with a 4 KiB granule starts at level 2: one table page at GPA 0
 * whose entry 0 maps IOVA [0, 2 MiB) to GPA [2 MiB, 4 MiB). */
static int map_one_block(struct wpt_vm *vm, struct wpt_sink *sink,
			 unsigned char *ram)
{
	struct wpt_format_cfg fmt = { .size = sizeof(fmt),
		.format = WPT_FMT_ARM_LPAE_S1, .granule = 4096, .ias = 30,
		.oas = 32, .sl = -1 };
	uint64_t desc = BLOCK | DESC_AF | DESC_BLOCK;
	struct wpt_mapping m[2];
	struct wpt_domain *d;
	long n;
	int r;

	r = wpt_domain_new(vm, &fmt, sink, WPT_MODE_INVAL, &d);
	if (r)
		return fail("wpt_domain_new", r);
	memcpy(ram, &desc, sizeof(desc));
	r = wpt_domain_set_root(d, 0);
	if (r)
		return fail("wpt_domain_set_root", r);
	n = wpt_sink_record_get(sink, m, 2);
	if (n != 1 || m[0].iova != 0 || m[0].gpa != BLOCK || m[0].size != BLOCK)
		return fail("expected one 2 MiB mapping at IOVA 0, count", n);
	n = wpt_domain_verify(d);
	if (n)
		return fail("wpt_domain_verify", n);
	wpt_domain_free(d);
	return 0;
}

int main(void)
{
	unsigned char *ram = aligned_alloc(4096, RAM_SIZE);
	struct wpt_ram_region region = { .gpa = 0, .size = RAM_SIZE };
	struct wpt_vm_cfg cfg = { .size = sizeof(cfg), .regions = &region,
				  .nr_regions = 1 };
	struct wpt_sink *sink;
	struct wpt_vm *vm;
	int r;

	if (!ram)
		return fail("aligned_alloc", 0);
	memset(ram, 0, RAM_SIZE);
	region.hva = ram;
	r = wpt_vm_new(&cfg, &vm);
	if (r)
		return fail("wpt_vm_new", r);
	r = wpt_sink_record_new(&sink);
	if (r)
		return fail("wpt_sink_record_new", r);
	r = map_one_block(vm, sink, ram);
	if (r)
		return r;
	wpt_sink_free(sink);
	wpt_vm_free(vm);
	free(ram);
	puts("consumer: ok");
	return 0;
}
