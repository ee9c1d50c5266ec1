/* SPDX-License-Identifier: MIT */
/* The checks beyond the step sequence (extras.c); each is one TAP point. */
#ifndef WPT_VFIO_EXTRAS_H
#define WPT_VFIO_EXTRAS_H

#include <stdbool.h>
#include <stdint.h>

#include "rig.h"

void extra_coalesce(struct rig *r);
void extra_iova_ranges(struct rig *r);
/* limit: what dma_entry_limit was set to before the container was opened
 * (0 if it could not be). */
void extra_dma_limit(struct rig *r, uint32_t limit);

#endif
