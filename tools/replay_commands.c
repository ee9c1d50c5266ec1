/* SPDX-License-Identifier: MIT */
/*
 * The replay engine of wpt-replay (and of the fuzz harness,
 * tests/fuzz/fuzz_replay.c): guest RAM, the callback protection backend, the
 * commands of a "wptrace v1" trace and the line loop.  One struct replay
 * is one trace; nothing here is global, so a caller may replay many traces
 * in one process.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "replay.h"

/* A library call failed on a well-formed trace: say so, go on. */
static void diag(struct replay *r, const char *what, const char *id, int err)
{
	fprintf(r->err, "line %lu: %s %s: %s (%s)\n", r->line, what, id,
		errno_name(err), strerror(-err));
}

/* ----------------------------------------------------------- RAM */

struct ram *ram_find(struct replay *r, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < r->nr_ram; i++) {
		struct ram *m = &r->ram[i];

		if (gpa >= m->gpa && gpa - m->gpa < m->size &&
		    len <= m->size - (gpa - m->gpa))
			return m;
	}
	return NULL;
}

/* Whether every byte of [gpa, gpa + len) is RAM (regions may abut). */
static bool ram_covers(struct replay *r, uint64_t gpa, uint64_t len)
{
	while (len) {
		struct ram *m = ram_find(r, gpa, 1);
		uint64_t n;

		if (!m)
			return false;
		n = m->size - (gpa - m->gpa);
		if (n >= len)
			return true;
		gpa += n;
		len -= n;
	}
	return true;
}

uint8_t *page_prot(struct replay *r, uint64_t gpa)
{
	struct ram *m = ram_find(r, gpa, 1);

	return m ? &m->prot[(gpa - m->gpa) >> PAGE_SHIFT] : NULL;
}

/* ------------------------------------- protection: callback backend */

static void breach(struct replay *r, const char *what, uint64_t gpa)
{
	if (!r->violation[0])
		snprintf(r->violation, sizeof(r->violation),
			 "protection: %s page 0x%llx", what,
			 (unsigned long long)gpa);
}

/* The backend contract (lib/protect/protect.h): ranges in RAM, each page
 * protected at most once at a time.  Breaches are kept for --verify. */
static int backend_set(struct replay *r, uint64_t gpa, uint64_t size, bool on)
{
	uint64_t p;

	for (p = gpa; p < gpa + size; p += PAGE_SIZE) {
		uint8_t *b = page_prot(r, p);

		if (!b) {
			breach(r, on ? "protect outside RAM of"
				     : "unprotect outside RAM of", p);
			continue;
		}
		if (*b == on) {
			breach(r, on ? "double protect of"
				     : "unprotect of unprotected", p);
			continue;
		}
		*b = on;
		if (on)
			r->nr_protected++;
		else
			r->nr_protected--;
	}
	return 0;
}

static int backend_protect(void *opaque, uint64_t gpa, uint64_t size)
{
	return backend_set(opaque, gpa, size, true);
}

static int backend_unprotect(void *opaque, uint64_t gpa, uint64_t size)
{
	return backend_set(opaque, gpa, size, false);
}

static const struct wpt_protect_ops backend_ops = {
	.protect = backend_protect,
	.unprotect = backend_unprotect,
};

static int vm_create(struct replay *r)
{
	struct wpt_ram_region *regions = calloc(r->nr_ram, sizeof(*regions));
	struct wpt_vm_cfg cfg = { .size = sizeof(cfg) };
	unsigned int i;
	int ret;

	if (!regions)
		return -ENOMEM;
	for (i = 0; i < r->nr_ram; i++)
		regions[i] = (struct wpt_ram_region){ r->ram[i].gpa,
						      r->ram[i].size,
						      r->ram[i].hva };
	cfg.regions = regions;
	cfg.nr_regions = r->nr_ram;
	cfg.protect_ops = &backend_ops;
	cfg.protect_opaque = r;
	cfg.limits = r->limits;
	ret = wpt_vm_new(&cfg, &r->vm);
	free(regions); /* wpt_vm_new copies them */
	return ret;
}

/* ------------------------------------------------------ commands */

struct command {
	const char *name;
	unsigned int min_args, max_args;
	int (*run)(struct replay *r, char **arg, unsigned int nr);
};

static struct dom *dom_find(struct replay *r, const char *id)
{
	unsigned int i;

	for (i = 0; i < r->nr_doms; i++)
		if (!strcmp(r->doms[i].id, id))
			return &r->doms[i];
	return NULL;
}

static int cmd_ram(struct replay *r, char **arg, unsigned int nr)
{
	uint64_t gpa, size;
	struct ram *m;
	unsigned int i;

	if (r->vm)
		return malformed(r, "ram after the first domain");
	if (!parse_hex(arg[0], &gpa) || !parse_hex(arg[1], &size))
		return malformed(r, "ram: bad hex number");
	if (!size || (gpa | size) & (PAGE_SIZE - 1) || gpa + size < gpa)
		return malformed(r, "ram: not 4 KiB aligned, empty or wrapping");
	for (i = 0; i < r->nr_ram; i++)
		if (gpa < r->ram[i].gpa + r->ram[i].size &&
		    r->ram[i].gpa < gpa + size)
			return malformed(r, "ram: overlaps an earlier region");
	if (r->max_ram && size > r->max_ram - r->ram_bytes)
		return malformed(r, "ram: 0x%llx bytes more is over the limit "
				 "of 0x%llx in all",
				 (unsigned long long)size,
				 (unsigned long long)r->max_ram);
	m = realloc(r->ram, (r->nr_ram + 1) * sizeof(*m));
	if (!m)
		return malformed(r, "ram: out of memory");
	r->ram = m;
	m = &r->ram[r->nr_ram];
	m->gpa = gpa;
	m->size = size;
	m->hva = mmap(NULL, size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	m->prot = m->hva == MAP_FAILED ? NULL : calloc(size >> PAGE_SHIFT, 1);
	if (!m->prot) {
		if (m->hva != MAP_FAILED)
			munmap(m->hva, size);
		return malformed(r, "ram: cannot allocate 0x%llx bytes",
				 (unsigned long long)size);
	}
	r->nr_ram++;
	r->ram_bytes += size;
	return 0;
}

static int cmd_domain(struct replay *r, char **arg, unsigned int nr)
{
	struct domain_opts o = { 0 };
	struct dom *dm;
	int ret;

	if (dom_find(r, arg[0]))
		return malformed(r, "domain %s defined twice", arg[0]);
	if (r->max_domains && r->nr_doms == r->max_domains)
		return malformed(r, "domain: over the limit of %u domains",
				 r->max_domains);
	ret = domain_parse(r, arg, nr, &o);
	if (ret)
		return ret;
	if (!r->nr_ram)
		return malformed(r, "domain before any ram");
	if (!r->vm && (ret = vm_create(r)))
		return malformed(r, "wpt_vm_new: %s", errno_name(ret));
	dm = realloc(r->doms, (r->nr_doms + 1) * sizeof(*dm));
	if (!dm)
		return malformed(r, "out of memory");
	r->doms = dm;
	dm = &r->doms[r->nr_doms];
	*dm = (struct dom){ .id = strdup(arg[0]), .mode = o.mode };
	ret = dm->id ? wpt_sink_record_new(&dm->sink) : -ENOMEM;
	if (!ret) {
		ret = wpt_domain_new(r->vm, &o.fmt, dm->sink, o.mode, &dm->d);
		if (ret)
			wpt_sink_free(dm->sink);
	}
	if (ret) {
		free(dm->id);
		/* The trace declares a domain the library cannot have. */
		return malformed(r, "domain %s refused: %s", arg[0],
				 errno_name(ret));
	}
	r->nr_doms++;
	return 0;
}

static int dom_arg(struct replay *r, const char *id, struct dom **out)
{
	*out = dom_find(r, id);
	return *out ? 0 : malformed(r, "unknown domain %s", id);
}

static int cmd_root(struct replay *r, char **arg, unsigned int nr)
{
	struct dom *dm;
	uint64_t gpa;
	int ret = dom_arg(r, arg[0], &dm);

	if (ret)
		return ret;
	if (!strcmp(arg[1], "none")) {
		ret = wpt_domain_clear_root(dm->d);
	} else if (parse_hex(arg[1], &gpa)) {
		ret = wpt_domain_set_root(dm->d, gpa);
	} else {
		return malformed(r, "root: bad address \"%s\"", arg[1]);
	}
	if (ret) {
		diag(r, "root", dm->id, ret);
		return 0;
	}
	/* A new root clears an old fault (a new one is news) and was walked
	 * whole (an INVAL domain is in step with its tables). */
	dm->reported = 0;
	dm->stale = false;
	return 0;
}

static int cmd_inval(struct replay *r, char **arg, unsigned int nr)
{
	struct dom *dm;
	uint64_t iova, size;
	int ret = dom_arg(r, arg[0], &dm);

	if (ret)
		return ret;
	if (nr == 1) {
		ret = wpt_domain_invalidate_all(dm->d);
		if (!ret)
			dm->stale = false; /* re-read whole: in step again */
	} else {
		if (!parse_hex(arg[1], &iova) || !parse_hex(arg[2], &size))
			return malformed(r, "inval: bad hex number");
		ret = wpt_domain_invalidate(dm->d, iova, size);
	}
	if (ret)
		diag(r, nr == 1 ? "inval-all" : "inval", dm->id, ret);
	return 0;
}

static int cmd_inval_all(struct replay *r, char **arg, unsigned int nr)
{
	return cmd_inval(r, arg, 1);
}

/* The largest of 8, 4, 2, 1 bytes that is aligned at gpa and fits in len:
 * how a guest's memcpy-like loop of natural stores would write it. */
static uint32_t store_size(uint64_t gpa, uint64_t len)
{
	uint32_t n = 8;

	while (n > 1 && ((gpa & (n - 1)) || n > len))
		n >>= 1;
	return n;
}

/* One guest store: trapped if its page is protected now (KVM would exit
 * on the read-only slot), else it lands in RAM as on real hardware. */
static void guest_store(struct replay *r, uint64_t gpa, uint8_t *data,
			uint32_t n)
{
	struct ram *m = ram_find(r, gpa, n);
	int ret;

	if (!m->prot[(gpa - m->gpa) >> PAGE_SHIFT]) {
		memcpy(m->hva + (gpa - m->gpa), data, n);
		return;
	}
	ret = wpt_vm_handle_mmio(r->vm, gpa, data, n, 1);
	if (ret < 0)
		fprintf(r->err, "line %lu: store of %u at 0x%llx: %s (%s)\n",
			r->line, n, (unsigned long long)gpa, errno_name(ret),
			strerror(-ret));
	else if (ret == 0) /* RAM, protected: the library must take it */
		fprintf(r->err, "line %lu: store of %u at 0x%llx: not handled\n",
			r->line, n, (unsigned long long)gpa);
}

/* INVAL domains see no store: until they resync, their shadow may lag. */
static void mark_inval_stale(struct replay *r)
{
	unsigned int i;

	for (i = 0; i < r->nr_doms; i++)
		if (r->doms[i].mode == WPT_MODE_INVAL)
			r->doms[i].stale = true;
}

static int cmd_write(struct replay *r, char **arg, unsigned int nr)
{
	uint64_t gpa, len, off;
	uint8_t *buf;

	if (!parse_hex(arg[0], &gpa))
		return malformed(r, "write: bad address \"%s\"", arg[0]);
	if (!parse_dec(arg[1], MAX_WRITE_LEN, &len) || !len)
		return malformed(r, "write: bad length \"%s\"", arg[1]);
	if (strlen(arg[2]) != 2 * len)
		return malformed(r, "write: %llu bytes need %llu hex digits",
				 (unsigned long long)len,
				 (unsigned long long)(2 * len));
	if (gpa + len < gpa || !ram_covers(r, gpa, len))
		return malformed(r, "write: [0x%llx, +%llu) not in RAM",
				 (unsigned long long)gpa,
				 (unsigned long long)len);
	buf = malloc(len);
	if (!buf)
		return malformed(r, "out of memory");
	for (off = 0; off < len; off++) {
		int hi = hex_digit(arg[2][2 * off]);
		int lo = hex_digit(arg[2][2 * off + 1]);

		if (hi < 0 || lo < 0) {
			free(buf);
			return malformed(r, "write: bad hex byte at %llu",
					 (unsigned long long)off);
		}
		buf[off] = (uint8_t)(hi << 4 | lo);
	}
	mark_inval_stale(r);
	for (off = 0; off < len;) {
		uint32_t n = store_size(gpa + off, len - off);

		guest_store(r, gpa + off, buf + off, n);
		off += n;
	}
	free(buf);
	return 0;
}

/* ---------------------------------------------------------- dump */

long sink_mappings(struct wpt_sink *sink, struct wpt_mapping **out)
{
	long n = wpt_sink_record_get(sink, NULL, 0);

	*out = NULL;
	if (n <= 0)
		return n;
	*out = calloc((size_t)n, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	return wpt_sink_record_get(sink, *out, (size_t)n);
}

static const char *perm_str(uint32_t perm)
{
	static const char *const names[] = { "-", "r", "w", "rw" };

	return names[perm & 3];
}

static void dump_run(FILE *out, const char *id, const struct wpt_mapping *m)
{
	fprintf(out, "map %s 0x%llx 0x%llx 0x%llx %s\n", id,
	       (unsigned long long)m->iova, (unsigned long long)m->gpa,
	       (unsigned long long)m->size, perm_str(m->perm));
}

/* Print a domain's sink as maximal runs: IOVA and GPA both continue and
 * the permission is the same. */
static void dump_domain(FILE *out, const struct dom *dm)
{
	struct wpt_mapping *v, run;
	long n = sink_mappings(dm->sink, &v), i;

	for (i = 0; i < n; i++) {
		if (i && run.iova + run.size == v[i].iova &&
		    run.gpa + run.size == v[i].gpa && run.perm == v[i].perm) {
			run.size += v[i].size;
			continue;
		}
		if (i)
			dump_run(out, dm->id, &run);
		run = v[i];
	}
	if (n > 0)
		dump_run(out, dm->id, &run);
	free(v);
}

static int dom_cmp(const void *a, const void *b)
{
	const struct dom *x = *(const struct dom *const *)a;
	const struct dom *y = *(const struct dom *const *)b;

	return strcmp(x->id, y->id);
}

static int cmd_dump(struct replay *r, char **arg, unsigned int nr)
{
	const struct dom **sorted = calloc(r->nr_doms + 1, sizeof(*sorted));
	unsigned int i;

	if (!sorted)
		return malformed(r, "out of memory");
	for (i = 0; i < r->nr_doms; i++)
		sorted[i] = &r->doms[i];
	qsort(sorted, r->nr_doms, sizeof(*sorted), dom_cmp);
	fprintf(r->out, "dump %lu\n", r->dumps++);
	for (i = 0; i < r->nr_doms; i++)
		dump_domain(r->out, sorted[i]);
	fprintf(r->out, "end\n");
	free(sorted);
	return 0;
}

static const struct command commands[] = {
	{ "ram", 2, 2, cmd_ram },
	{ "domain", 6, MAX_FIELDS - 1, cmd_domain },
	{ "root", 2, 2, cmd_root },
	{ "write", 3, 3, cmd_write },
	{ "inval", 3, 3, cmd_inval },
	{ "inval-all", 1, 1, cmd_inval_all },
	{ "dump", 0, 0, cmd_dump },
};

/* -------------------------------------------------------- the loop */

/* Split line (comment stripped) into fields; -1 if too many. */
static int split(char *line, char **field)
{
	char *hash = strchr(line, '#'), *save, *tok;
	int n = 0;

	if (hash)
		*hash = '\0';
	for (tok = strtok_r(line, " \t\r\n", &save); tok;
	     tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == MAX_FIELDS)
			return -1;
		field[n++] = tok;
	}
	return n;
}

/* A domain that faulted gets one line, when it happens. */
static void report_faults(struct replay *r)
{
	unsigned int i;

	for (i = 0; i < r->nr_doms; i++) {
		struct dom *dm = &r->doms[i];
		int err = wpt_domain_error(dm->d);

		if (err && err != dm->reported)
			fprintf(r->err, "error %s %s (%s) at line %lu\n", dm->id,
				errno_name(err), strerror(-err), r->line);
		dm->reported = err;
	}
}

static int run_line(struct replay *r, char *line)
{
	char *field[MAX_FIELDS];
	int n = split(line, field);
	unsigned int i, nr;

	if (n < 0)
		return malformed(r, "too many fields");
	if (!n)
		return 0;
	if (!r->seen_header) {
		if (n != 2 || strcmp(field[0], "wptrace") ||
		    strcmp(field[1], "v1"))
			return malformed(r, "expected \"wptrace v1\"");
		r->seen_header = true;
		return 0;
	}
	nr = (unsigned int)n - 1;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];
		int ret;

		if (strcmp(field[0], c->name))
			continue;
		if (nr < c->min_args || nr > c->max_args)
			return malformed(r, "%s: wrong number of fields",
					 c->name);
		if (r->max_commands && r->commands == r->max_commands)
			return malformed(r, "over the limit of %lu commands",
					 r->max_commands);
		r->commands++;
		ret = c->run(r, field + 1, nr);
		if (ret)
			return ret;
		report_faults(r);
		return r->verify ? verify_all(r) : 0;
	}
	return malformed(r, "unknown command \"%s\"", field[0]);
}

int replay_stream(struct replay *r, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	while (!ret && getline(&line, &cap, f) >= 0) {
		r->line++;
		ret = run_line(r, line);
	}
	free(line);
	if (!ret && !r->seen_header) {
		r->line++;
		ret = malformed(r, "no \"wptrace v1\" line");
	}
	return ret;
}

void replay_init(struct replay *r)
{
	*r = (struct replay){ .out = stdout, .err = stderr };
}

void replay_free(struct replay *r)
{
	unsigned int i;

	for (i = 0; i < r->nr_doms; i++) {
		wpt_domain_free(r->doms[i].d);
		wpt_sink_free(r->doms[i].sink);
		free(r->doms[i].id);
	}
	free(r->doms);
	wpt_vm_free(r->vm);
	for (i = 0; i < r->nr_ram; i++) {
		munmap(r->ram[i].hva, r->ram[i].size);
		free(r->ram[i].prot);
	}
	free(r->ram);
}

