/* SPDX-License-Identifier: MIT */
/*
 * wpt-tracegen: print a random guest-like trace in the "wptrace v1" format
 * (see wpt-replay) from the guest model of the property test: every store
 * the simulated SMMUv3 driver makes becomes a write line, its
 * invalidations inval / inval-all lines, its root changes root lines, with
 * a dump every so often and at the end.
 *
 *   wpt-tracegen [--seed N] [--ops N] [--fmt s1|s2] [--granule 4k|16k|64k]
 *                [--ias N] [--oas N] [--hpd 0|1] [--sl N] [--concat N]
 *                [--mode trap|inval|hybrid[,...]] [--domains N]
 *                [--ram-size BYTES] [--dump-every N] [--help]
 *
 * The same options and seed always give the same trace.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sim/guest_model.h"

#define RAM_GPA 0x40000000ull

struct gen {
	struct gm_cfg cfg;
	uint8_t *ram;
	uint64_t ops;
	uint64_t dump_every;
	int hpd;
};

static int out_store(void *opaque, uint64_t gpa, const void *bytes,
		     unsigned int len)
{
	struct gen *g = opaque;
	const uint8_t *b = bytes;
	unsigned int i;

	memcpy(g->ram + (gpa - g->cfg.ram_gpa), bytes, len);
	printf("write %#llx %u ", (unsigned long long)gpa, len);
	for (i = 0; i < len; i++)
		printf("%02x", b[i]);
	putchar('\n');
	return 0;
}

static int out_inval(void *opaque, unsigned int d, uint64_t iova,
		     uint64_t size)
{
	if (size)
		printf("inval %u %#llx %#llx\n", d, (unsigned long long)iova,
		       (unsigned long long)size);
	else
		printf("inval-all %u\n", d);
	return 0;
}

static int out_root(void *opaque, unsigned int d, uint64_t gpa)
{
	printf("root %u %#llx\n", d, (unsigned long long)gpa);
	return 0;
}

static const struct gm_ops out_ops = { out_store, out_inval, out_root };

static const char *const mode_names[] = {
	[WPT_MODE_TRAP] = "trap", [WPT_MODE_INVAL] = "inval",
	[WPT_MODE_HYBRID] = "hybrid",
};

static int parse_modes(struct gen *g, const char *arg, enum wpt_mode *list,
		       unsigned int *n)
{
	char *copy = strdup(arg), *save = NULL, *tok;
	unsigned int m;

	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok && *n < GM_MAX_DOMAINS;
	     tok = strtok_r(NULL, ",", &save)) {
		for (m = WPT_MODE_TRAP; m <= WPT_MODE_HYBRID; m++)
			if (!strcmp(tok, mode_names[m]))
				break;
		if (m > WPT_MODE_HYBRID) {
			free(copy);
			return -EINVAL;
		}
		list[(*n)++] = m;
	}
	free(copy);
	return *n ? 0 : -EINVAL;
}

#define USAGE \
	"usage: wpt-tracegen [--seed N] [--ops N] [--fmt s1|s2] " \
	"[--granule 4k|16k|64k] [--ias N] [--oas N]\n" \
	"  [--hpd 0|1] [--sl N] [--concat N] " \
	"[--mode trap|inval|hybrid[,...]] [--domains N]\n" \
	"  [--ram-size BYTES] [--dump-every N] [--help]\n"

static void usage(const char *why)
{
	fprintf(stderr, "wpt-tracegen: %s\n" USAGE, why);
	exit(2);
}

static uint64_t num(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || end == s)
		usage(what);
	return v;
}

static void parse(struct gen *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", 1, 0, 'S' },    { "ops", 1, 0, 'n' },
		{ "fmt", 1, 0, 'f' },     { "granule", 1, 0, 'g' },
		{ "ias", 1, 0, 'i' },     { "oas", 1, 0, 'o' },
		{ "hpd", 1, 0, 'h' },     { "sl", 1, 0, 'l' },
		{ "concat", 1, 0, 'c' },  { "mode", 1, 0, 'm' },
		{ "domains", 1, 0, 'd' }, { "ram-size", 1, 0, 'r' },
		{ "dump-every", 1, 0, 'D' }, { "help", 0, 0, 'H' },
		{ 0, 0, 0, 0 },
	};
	struct wpt_format_cfg *f = &g->cfg.fmt;
	enum wpt_mode modes[GM_MAX_DOMAINS] = { WPT_MODE_TRAP };
	unsigned int nr_modes = 1, d;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'S': g->cfg.seed = num(optarg, "bad --seed"); break;
		case 'n': g->ops = num(optarg, "bad --ops"); break;
		case 'i': f->ias = (uint32_t)num(optarg, "bad --ias"); break;
		case 'o': f->oas = (uint32_t)num(optarg, "bad --oas"); break;
		case 'h': g->hpd = (int)num(optarg, "bad --hpd"); break;
		case 'l': f->sl = (int32_t)num(optarg, "bad --sl"); break;
		case 'c': f->concat = (uint32_t)num(optarg, "bad --concat"); break;
		case 'r': g->cfg.ram_size = num(optarg, "bad --ram-size"); break;
		case 'D': g->dump_every = num(optarg, "bad --dump-every"); break;
		case 'H': fputs(USAGE, stdout); exit(0);
		case 'd':
			g->cfg.nr_domains = (unsigned int)num(optarg, "bad --domains");
			break;
		case 'f':
			if (strcmp(optarg, "s1") && strcmp(optarg, "s2"))
				usage("--fmt is s1 or s2");
			f->format = optarg[1] == '1' ? WPT_FMT_ARM_LPAE_S1
						     : WPT_FMT_ARM_LPAE_S2;
			break;
		case 'g':
			f->granule = !strcmp(optarg, "4k") ? 4096
				   : !strcmp(optarg, "16k") ? 16384
				   : !strcmp(optarg, "64k") ? 65536 : 0;
			if (!f->granule)
				usage("--granule is 4k, 16k or 64k");
			break;
		case 'm':
			if (parse_modes(g, optarg, modes, &nr_modes))
				usage("--mode is trap, inval or hybrid (comma list)");
			break;
		default:
			usage("unknown option");
		}
	}
	if (optind != argc)
		usage("no arguments besides options");
	if (!g->cfg.nr_domains || g->cfg.nr_domains > GM_MAX_DOMAINS)
		usage("--domains is 1..4");
	if (g->hpd)
		f->flags |= WPT_FMT_F_HPD;
	for (d = 0; d < g->cfg.nr_domains; d++)
		g->cfg.mode[d] = modes[d % nr_modes];
}

static void header(const struct gen *g, const struct gm *m, int argc,
		   char **argv)
{
	const struct wpt_pgtable_geo *geo = gm_geo(m);
	const struct wpt_format_cfg *f = &g->cfg.fmt;
	uint64_t gran = 1ull << geo->granule_shift;
	unsigned int d;
	int i;

	printf("wptrace v1\n# wpt-tracegen");
	for (i = 1; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\nram %#llx %#llx\n", (unsigned long long)g->cfg.ram_gpa,
	       (unsigned long long)g->cfg.ram_size);
	for (d = 0; d < g->cfg.nr_domains; d++) {
		printf("domain %u fmt=arm-lpae-s%d granule=%uk ias=%u oas=%u",
		       d, f->format == WPT_FMT_ARM_LPAE_S1 ? 1 : 2,
		       f->granule / 1024, f->ias, f->oas);
		if (f->format == WPT_FMT_ARM_LPAE_S1)
			printf(" hpd=%d", g->hpd ? 1 : 0);
		else
			printf(" sl=%d concat=%llu", geo->start_level,
			       (unsigned long long)(geo->root_size > gran
						    ? geo->root_size / gran : 1));
		printf(" mode=%s\n", mode_names[g->cfg.mode[d]]);
	}
}

int main(int argc, char **argv)
{
	struct gen g = {
		.cfg = {
			.ram_gpa = RAM_GPA, .ram_size = 64ull << 20,
			.nr_domains = 2, .seed = 1, .ops = &out_ops,
			.fmt = { .size = sizeof(struct wpt_format_cfg),
				 .format = WPT_FMT_ARM_LPAE_S1, .granule = 4096,
				 .ias = 39, .oas = 40, .sl = -1 },
		},
		.ops = 200, .dump_every = 25,
	};
	struct gm *m;
	char what[192];
	uint64_t i;
	int ret;

	parse(&g, argc, argv);
	if (g.cfg.ram_size < (8ull << 20) || g.cfg.ram_size % (1ull << 20))
		usage("--ram-size is a multiple of 1 MiB, at least 8 MiB");
	/* Tables live in the top quarter of RAM; data anywhere. */
	g.cfg.arena_size = g.cfg.ram_size / 4;
	g.cfg.arena_gpa = g.cfg.ram_gpa + g.cfg.ram_size - g.cfg.arena_size;
	g.ram = mmap(NULL, g.cfg.ram_size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (g.ram == MAP_FAILED) {
		perror("wpt-tracegen: mmap");
		return 1;
	}
	g.cfg.ram = g.ram;
	g.cfg.opaque = &g;
	if (gm_new(&g.cfg, &m))
		usage("that format configuration is not valid");
	header(&g, m, argc, argv);
	ret = gm_start(m);
	for (i = 0; !ret && i < g.ops; i++) {
		ret = gm_step(m, what, sizeof(what));
		printf("# %llu: %s\n", (unsigned long long)i, what);
		if (g.dump_every && (i + 1) % g.dump_every == 0)
			printf("dump\n");
	}
	printf("dump\n");
	gm_free(m);
	munmap(g.ram, g.cfg.ram_size);
	if (ret) {
		fprintf(stderr, "wpt-tracegen: the model failed: %d\n", ret);
		return 1;
	}
	return fflush(stdout) ? 1 : 0;
}
