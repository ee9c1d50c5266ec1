/* SPDX-License-Identifier: MIT */
/*
 * wpt-replay: the syntax of "wptrace v1" values.  Addresses and sizes are
 * hex with or without 0x; LEN and key=value numbers are decimal; a domain
 * line's options come in any order, each once, and an unknown key or a bad
 * value makes the trace malformed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "replay.h"

/* ------------------------------------------------------ diagnostics */

void line_vmsg(const struct replay *r, const char *kind, const char *fmt,
	       va_list ap)
{
	fprintf(r->err, "%s: line %lu: ", kind, r->line);
	vfprintf(r->err, fmt, ap);
	fputc('\n', r->err);
}

int malformed(struct replay *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	line_vmsg(r, "malformed", fmt, ap);
	va_end(ap);
	return EXIT_MALFORMED;
}

const char *errno_name(int err)
{
	const char *n = strerrorname_np(err < 0 ? -err : err);

	return n ? n : "E?";
}

/* ------------------------------------------------------- numbers */

int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool parse_hex(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (!*s)
		return false;
	for (; *s; s++) {
		int x = hex_digit(*s);

		if (x < 0 || v >> 60)
			return false;
		v = v << 4 | (uint64_t)x;
	}
	*out = v;
	return true;
}

bool parse_dec(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

struct opt_key {
	const char *key;
	int (*set)(struct domain_opts *o, const char *v);
};

static int opt_fmt(struct domain_opts *o, const char *v)
{
	if (!strcmp(v, "arm-lpae-s1"))
		o->fmt.format = WPT_FMT_ARM_LPAE_S1;
	else if (!strcmp(v, "arm-lpae-s2"))
		o->fmt.format = WPT_FMT_ARM_LPAE_S2;
	else
		return -1;
	return 0;
}

static int opt_granule(struct domain_opts *o, const char *v)
{
	if (!strcmp(v, "4k"))
		o->fmt.granule = 4096;
	else if (!strcmp(v, "16k"))
		o->fmt.granule = 16384;
	else if (!strcmp(v, "64k"))
		o->fmt.granule = 65536;
	else
		return -1;
	return 0;
}

static int opt_u32(const char *v, uint32_t *out)
{
	uint64_t x;

	if (!parse_dec(v, UINT32_MAX, &x))
		return -1;
	*out = (uint32_t)x;
	return 0;
}

static int opt_ias(struct domain_opts *o, const char *v)
{
	return opt_u32(v, &o->fmt.ias);
}

static int opt_oas(struct domain_opts *o, const char *v)
{
	return opt_u32(v, &o->fmt.oas);
}

static int opt_hpd(struct domain_opts *o, const char *v)
{
	if (strcmp(v, "0") && strcmp(v, "1"))
		return -1;
	o->fmt.flags = *v == '1' ? WPT_FMT_F_HPD : 0;
	return 0;
}

static int opt_sl(struct domain_opts *o, const char *v)
{
	uint32_t sl;

	if (opt_u32(v, &sl) || sl > 3)
		return -1;
	o->fmt.sl = (int32_t)sl;
	return 0;
}

static int opt_concat(struct domain_opts *o, const char *v)
{
	return opt_u32(v, &o->fmt.concat);
}

static int opt_mode(struct domain_opts *o, const char *v)
{
	if (!strcmp(v, "trap"))
		o->mode = WPT_MODE_TRAP;
	else if (!strcmp(v, "inval"))
		o->mode = WPT_MODE_INVAL;
	else if (!strcmp(v, "hybrid"))
		o->mode = WPT_MODE_HYBRID;
	else
		return -1;
	return 0;
}

enum { K_FMT, K_GRANULE, K_IAS, K_OAS, K_HPD, K_SL, K_CONCAT, K_MODE };
#define K_REQUIRED (1u << K_FMT | 1u << K_GRANULE | 1u << K_IAS | \
		    1u << K_OAS | 1u << K_MODE)
#define K_S1_ONLY (1u << K_HPD)
#define K_S2_ONLY (1u << K_SL | 1u << K_CONCAT)

static const struct opt_key opt_keys[] = {
	[K_FMT] = { "fmt", opt_fmt },       [K_GRANULE] = { "granule", opt_granule },
	[K_IAS] = { "ias", opt_ias },       [K_OAS] = { "oas", opt_oas },
	[K_HPD] = { "hpd", opt_hpd },       [K_SL] = { "sl", opt_sl },
	[K_CONCAT] = { "concat", opt_concat }, [K_MODE] = { "mode", opt_mode },
};

static int domain_opt(struct replay *r, struct domain_opts *o, char *kv)
{
	char *eq = strchr(kv, '=');
	unsigned int k;

	if (!eq)
		return malformed(r, "domain: expected key=value, got \"%s\"", kv);
	*eq = '\0';
	for (k = 0; k < sizeof(opt_keys) / sizeof(opt_keys[0]); k++) {
		if (strcmp(kv, opt_keys[k].key))
			continue;
		if (o->seen & 1u << k)
			return malformed(r, "domain: %s given twice", kv);
		o->seen |= 1u << k;
		if (opt_keys[k].set(o, eq + 1))
			return malformed(r, "domain: bad value %s=%s", kv,
					 eq + 1);
		return 0;
	}
	return malformed(r, "domain: unknown key \"%s\"", kv);
}

int domain_parse(struct replay *r, char **arg, unsigned int nr,
			struct domain_opts *o)
{
	unsigned int i;
	int ret;

	o->fmt = (struct wpt_format_cfg){ .size = sizeof(o->fmt), .sl = -1 };
	for (i = 1; i < nr; i++) {
		ret = domain_opt(r, o, arg[i]);
		if (ret)
			return ret;
	}
	if ((o->seen & K_REQUIRED) != K_REQUIRED)
		return malformed(r, "domain: needs fmt, granule, ias, oas, mode");
	if ((o->fmt.format == WPT_FMT_ARM_LPAE_S1 && (o->seen & K_S2_ONLY)) ||
	    (o->fmt.format == WPT_FMT_ARM_LPAE_S2 && (o->seen & K_S1_ONLY)))
		return malformed(r, "domain: option of the other stage");
	return 0;
}

