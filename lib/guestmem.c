/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guestmem.h"

static int region_cmp(const void *a, const void *b)
{
	const struct wpt_ram_region *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

int guestmem_init(struct wpt_guestmem *gm, const struct wpt_ram_region *r,
		  unsigned int nr)
{
	unsigned int i;

	memset(gm, 0, sizeof(*gm));
	if (!r || nr == 0)
		return -EINVAL;
	gm->regions = calloc(nr, sizeof(*r));
	if (!gm->regions)
		return -ENOMEM;
	memcpy(gm->regions, r, nr * sizeof(*r));
	qsort(gm->regions, nr, sizeof(*r), region_cmp);
	for (i = 0; i < nr; i++) {
		const struct wpt_ram_region *x = &gm->regions[i];

		if (!x->size || !x->hva || (x->gpa | x->size) & ~WPT_PAGE_MASK ||
		    x->gpa + x->size < x->gpa ||
		    (i && gm->regions[i - 1].gpa + gm->regions[i - 1].size > x->gpa)) {
			guestmem_fini(gm);
			return -EINVAL;
		}
	}
	gm->nr = nr;
	return 0;
}

void guestmem_fini(struct wpt_guestmem *gm)
{
	free(gm->regions);
	memset(gm, 0, sizeof(*gm));
}

void *guestmem_hva(const struct wpt_guestmem *gm, uint64_t gpa, uint64_t len)
{
	const struct wpt_ram_region *x = guestmem_region(gm, gpa, len);

	return x ? (char *)x->hva + (gpa - x->gpa) : NULL;
}

bool guestmem_gpa_of_hva(const struct wpt_guestmem *gm, uintptr_t hva,
			 uint64_t *gpa)
{
	unsigned int i;

	/* Regions are sorted by GPA, not HVA, and few: a plain scan. */
	for (i = 0; i < gm->nr; i++) {
		uintptr_t base = (uintptr_t)gm->regions[i].hva;

		if (hva >= base && hva - base < gm->regions[i].size) {
			*gpa = gm->regions[i].gpa + (hva - base);
			return true;
		}
	}
	return false;
}
