/* SPDX-License-Identifier: MIT */
/*
 * The test oracle: what a guest's tables map, found by a plain recursive
 * walk from a root over a RAM buffer, using only a format's decode.  It
 * shares nothing with the library's walker or tracker, so the two can be
 * held against each other.
 *
 * Rules it applies (VMSAv8-64, as the format ops decode them): a table
 * descriptor's next table, or a leaf's output, counts only if all of it
 * lies in the RAM buffer; a leaf's permission is its own AND every
 * ancestor table's mask (APTable); a leaf left with no permission maps
 * nothing.
 */
#ifndef WPT_SIM_ORACLE_H
#define WPT_SIM_ORACLE_H

#include <stddef.h>
#include <stdint.h>

#include "wpt.h"
#include "format/format.h"

/* One place a table is used: domain reaches the table at gpa (size bytes)
 * at level, its entry 0 translating iova. */
struct oracle_use {
	unsigned int domain;
	int level;
	uint64_t iova;
	uint64_t gpa;
	uint64_t size;
};

/* A table page and how many uses it has (all domains). */
struct oracle_table {
	uint64_t gpa;
	uint64_t size;
	unsigned int uses;
};

struct oracle_range {
	uint64_t iova;
	uint64_t size;
};

/* What one walk found.  maps: one per leaf, in IOVA order (normalize to
 * coalesce); uses: one per table visited. */
struct oracle {
	struct wpt_mapping *maps;
	size_t nr_maps, cap_maps;
	struct oracle_use *uses;
	size_t nr_uses, cap_uses;
};

struct oracle_ram {
	const uint8_t *hva;
	uint64_t gpa;
	uint64_t size;
};

void oracle_init(struct oracle *o);
void oracle_reset(struct oracle *o);
void oracle_fini(struct oracle *o);

/*
 * Walk the tree at root_gpa (its start-level table must lie in RAM, or
 * nothing is found) and append what it maps and the tables it uses, for
 * domain.  Visits at most max_descs descriptors: -E2BIG beyond.
 * Returns 0, -E2BIG or -ENOMEM.
 */
int oracle_walk(struct oracle *o, const struct wpt_format_ops *fmt,
		const struct wpt_pgtable_geo *geo, const struct oracle_ram *ram,
		uint64_t root_gpa, unsigned int domain, uint64_t max_descs);

/* Sort by IOVA and merge neighbours contiguous in IOVA and GPA with equal
 * perm, in place; the new count. */
size_t oracle_normalize(struct wpt_mapping *m, size_t n);

/* Table pages used by the walks in o[0..n), by GPA then size, with use
 * counts, into a new array (*out, free it); how many, or -1 on ENOMEM. */
long oracle_tables(const struct oracle *o, size_t n, struct oracle_table **out);

/*
 * 0 if want and got are the same list, element by element; else nonzero
 * with the first difference in msg.
 */
int oracle_compare(const struct wpt_mapping *want, size_t nw,
		   const struct wpt_mapping *got, size_t ng, char *msg,
		   size_t len);

/*
 * The HYBRID rule: every byte want maps, got maps to the same GPA with the
 * same perm; got may map more only inside pending (removals the guest has
 * not invalidated).  want and got sorted and non-overlapping; pending
 * sorted.  0 if it holds, else nonzero with the first breach in msg.
 */
int oracle_compare_pending(const struct wpt_mapping *want, size_t nw,
			   const struct wpt_mapping *got, size_t ng,
			   const struct oracle_range *pending, size_t np,
			   char *msg, size_t len);

#endif
