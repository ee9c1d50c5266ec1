/* SPDX-License-Identifier: MIT */
/*
 * WPT_HOT marks the functions of a trapped store's path that a build's
 * placement of code was seen to slow: GCC puts them together in
 * .text.hot, so where they lie no longer moves with unrelated code.
 *
 * Measured (microbench, 64K and 1M pages, builds run alternately): a
 * change far off that path (a table's creation) moved these functions
 * elsewhere and the recording sink's map read 103-108 ns a store
 * against 86-90 for a build of the same code laid out otherwise; with
 * them grouped, 85-87.  The exit's entry, the range map's lookups and
 * inserts, and the recording sink's two calls.
 */
#ifndef WPT_HOT_H
#define WPT_HOT_H

#define WPT_HOT __attribute__((hot))

#endif
