/* SPDX-License-Identifier: MIT */
/*
 * wpt-replay's shared state: guest RAM, the domains of the trace, the
 * protected set kept by the callback backend.  Single-threaded: the tool
 * replays one command at a time.
 */
#ifndef WPT_REPLAY_H
#define WPT_REPLAY_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "wpt.h"
#include "wpt_internal.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE (1ull << PAGE_SHIFT)
#define MAX_FIELDS 16
#define MAX_WRITE_LEN (1u << 20)

enum { EXIT_OK = 0, EXIT_VERIFY = 1, EXIT_MALFORMED = 2 };

struct ram {
	uint64_t gpa, size;
	uint8_t *hva;
	uint8_t *prot; /* one byte per 4 KiB page: protected now */
};

struct dom {
	char *id;
	struct wpt_domain *d;
	struct wpt_sink *sink;
	enum wpt_mode mode;
	int reported; /* the fault already reported, or 0 */
	/* INVAL mode: stores since the last full resync (root, inval-all),
	 * so the shadow may lag the tables by design. */
	bool stale;
};

struct replay {
	/* Set by the caller after replay_init(). */
	bool verify;          /* check every invariant after each command */
	FILE *out, *err;      /* dumps; diagnostics (stdout, stderr) */
	/* Bounds on one trace (0: none), for callers that replay untrusted
	 * input in their own process (the fuzz harness): going over one is
	 * a malformed trace.  The tool sets none. */
	uint64_t max_ram;            /* bytes of RAM, all regions */
	unsigned int max_domains;
	unsigned long max_commands;  /* command lines */
	struct wpt_limits limits;    /* the VM's domain limits (0: defaults) */

	/* The replay's own state. */
	bool seen_header;
	unsigned long line;
	struct ram *ram;
	unsigned int nr_ram;
	struct wpt_vm *vm;
	struct dom *doms;
	unsigned int nr_doms;
	unsigned long dumps;
	uint64_t nr_protected;
	uint64_t ram_bytes;
	unsigned long commands;
	char violation[160]; /* first protection contract breach, or "" */
};

/* ---- replay_syntax.c: numbers, domain options, diagnostics ---- */

/* Print "KIND: line N: <fmt>" on stderr. */
void line_vmsg(const struct replay *r, const char *kind, const char *fmt,
	       va_list ap);
/* Print "malformed: line N: ..." and return EXIT_MALFORMED. */
int malformed(struct replay *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "EINVAL" for -EINVAL or EINVAL. */
const char *errno_name(int err);
int hex_digit(char c);
/* Hex with or without 0x, at most 64 bits. */
bool parse_hex(const char *s, uint64_t *out);
/* Decimal digits only, at most max. */
bool parse_dec(const char *s, uint64_t max, uint64_t *out);

struct domain_opts {
	struct wpt_format_cfg fmt;
	enum wpt_mode mode;
	unsigned int seen; /* bit per key */
};

/* Parse the key=value fields arg[1..nr) of a domain line; 0 or
 * EXIT_MALFORMED (reported). */
int domain_parse(struct replay *r, char **arg, unsigned int nr,
		 struct domain_opts *o);

/* ---- replay_commands.c: the engine ---- */

/* A replay with no bounds, dumps on stdout, diagnostics on stderr, no
 * --verify. */
void replay_init(struct replay *r);
/* Replay every line of f; EXIT_OK, EXIT_VERIFY or EXIT_MALFORMED (the
 * first failing line stops it, as in the tool). */
int replay_stream(struct replay *r, FILE *f);
/* Free the domains, the VM and RAM (r may be replayed into no more). */
void replay_free(struct replay *r);

/* The RAM region holding all of [gpa, gpa + len), or NULL. */
struct ram *ram_find(struct replay *r, uint64_t gpa, uint64_t len);
/* The protected byte of the page holding gpa, or NULL outside RAM. */
uint8_t *page_prot(struct replay *r, uint64_t gpa);
/* A recording sink's mappings in IOVA order (*out malloc'd); count or
 * -errno. */
long sink_mappings(struct wpt_sink *sink, struct wpt_mapping **out);

/* ---- replay_verify.c ---- */

/* Check every invariant now; 0, or EXIT_VERIFY with "verify: line N: ..."
 * on stderr. */
int verify_all(struct replay *r);

#endif
