/* SPDX-License-Identifier: MIT */
/*
 * Table formats.  A format is one const ops table that validates a
 * configuration into a geometry and decodes one descriptor at one level
 * (or a table's worth at once).
 * Decoding is pure (no memory access, no state), so the tracker, the walker,
 * the oracle in the tests and the replay tool all share it.  A new format is
 * one new file in lib/format/ and one line in format.c.
 *
 * Levels are numbered as in VMSAv8-64: the last level is 3, the start level
 * is 3 - (levels - 1).
 */
#ifndef WPT_FORMAT_H
#define WPT_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#include "wpt.h"

#define WPT_LAST_LEVEL 3

enum wpt_desc_type {
	WPT_DESC_INVALID = 0,
	WPT_DESC_TABLE,
	WPT_DESC_LEAF,
};

/* Why a descriptor that is not plainly invalid (bit 0 clear) maps nothing. */
enum wpt_desc_fault {
	WPT_FAULT_NONE = 0,
	WPT_FAULT_ADDR_SIZE, /* output or next-table address bits >= OAS */
	WPT_FAULT_RESERVED,  /* reserved encoding (L3 0b01, block where none allowed) */
	WPT_FAULT_NO_AF,     /* access flag clear: no hardware AF update */
	WPT_FAULT_NO_ACCESS, /* stage 2 S2AP = 0b00 */
};

struct wpt_desc {
	enum wpt_desc_type type;
	enum wpt_desc_fault fault; /* set only when type == WPT_DESC_INVALID */
	uint64_t addr;  /* TABLE: next table GPA; LEAF: output GPA (size aligned) */
	uint64_t size;  /* LEAF: bytes it maps (page or block) */
	/* LEAF: WPT_PERM_* it grants.  TABLE: WPT_PERM_* its subtree may keep
	 * (stage 1 APTable[1] clears WRITE unless HPD). */
	uint32_t perm;
	bool contig;    /* LEAF: contiguous hint (bit 52); informational */
};

/* A validated configuration. */
struct wpt_pgtable_geo {
	unsigned int granule_shift;  /* 12, 14 or 16 */
	unsigned int bits_per_level; /* granule_shift - 3 */
	int start_level;             /* 0..3 */
	unsigned int ias;
	unsigned int oas;
	uint64_t root_size;          /* bytes of the start-level table(s) */
	uint32_t flags;              /* WPT_FMT_F_* */
};

static inline unsigned int geo_level_shift(const struct wpt_pgtable_geo *g,
					   int level)
{
	return g->granule_shift + (WPT_LAST_LEVEL - level) * g->bits_per_level;
}

/* Bytes of a table at level: the root (with any concatenation) or a granule. */
static inline uint64_t geo_table_size(const struct wpt_pgtable_geo *g,
				      int level)
{
	return level == g->start_level ? g->root_size
				       : 1ull << g->granule_shift;
}

static inline uint64_t geo_table_entries(const struct wpt_pgtable_geo *g,
					 int level)
{
	return geo_table_size(g, level) / 8;
}

/* wpt_format_ops.decode's type: format_decode_each takes one too. */
typedef void format_decode_fn(const struct wpt_pgtable_geo *geo, int level,
			      uint64_t desc, struct wpt_desc *out);

struct wpt_format_ops {
	const char *name;
	enum wpt_format format;
	/* Validate cfg (cfg->size already checked) and fill geo; -EINVAL on
	 * anything the architecture does not allow. */
	int (*init)(const struct wpt_format_cfg *cfg,
		    struct wpt_pgtable_geo *geo);
	/* Decode desc as found at level, as the hardware would see it now.
	 * Never a table at WPT_LAST_LEVEL: there is no level below it (an
	 * invalidation compares the last level's entries without decoding). */
	format_decode_fn *decode;
	/* Decode desc[0..n), entries of one table at level, into out[0..n),
	 * each as decode would: a walk over a table of 512 makes one
	 * indirect call a batch, and has the format's decode inline (a call
	 * a leaf, its return and the entry passed through memory cost a warm
	 * walk 6-7% of its time). */
	void (*decode_many)(const struct wpt_pgtable_geo *geo, int level,
			    const uint64_t *desc, unsigned int n,
			    struct wpt_desc *out);
};

/* A format's decode_many, given its decode: a constant function pointer
 * into an inline loop, which the compiler turns into the loop with decode
 * inline. */
static inline __attribute__((always_inline)) void
format_decode_each(format_decode_fn *decode,
		   const struct wpt_pgtable_geo *geo, int level,
		   const uint64_t *desc, unsigned int n, struct wpt_desc *out)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		decode(geo, level, desc[i], &out[i]);
}

extern const struct wpt_format_ops wpt_arm_lpae_s1_ops;
extern const struct wpt_format_ops wpt_arm_lpae_s2_ops;

/* The ops for a format, or NULL. */
const struct wpt_format_ops *wpt_format_lookup(enum wpt_format format);

#endif
