/* SPDX-License-Identifier: MIT */
/* The checks beyond the step sequence (extras.c); each is one TAP point. */
#ifndef WPT_VFIO_EXTRAS_H
#define WPT_VFIO_EXTRAS_H

#include <stdbool.h>
#include <stdint.h>

#include "rig.h"

void extra_coalesce(struct rig *r);
void extra_iova_ranges(struct rig *r);
/* Type1 only: the container's dma_entry_limit (r->dma_limit, what it was
 * set to before the container was opened, 0 if it could not be). */
void extra_dma_limit(struct rig *r);
/* Last on each backend: what the watched ioctl saw in all. */
void extra_calls(struct rig *r);

#endif
