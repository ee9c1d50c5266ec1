/* SPDX-License-Identifier: MIT */
/* The guest's step sequence (steps.c). */
#ifndef WPT_VFIO_STEPS_H
#define WPT_VFIO_STEPS_H

#include <stdbool.h>

#include "run.h"

struct step {
	const char *name;
	int (*stores)(struct run *u);   /* the guest's stores */
	int (*settled)(struct run *u);  /* after the invalidation, or NULL */
	bool removes;                   /* HYBRID: probe before invalidating */
};

extern const struct step steps[];
extern const unsigned int nr_steps;

#endif
