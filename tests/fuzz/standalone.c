/* SPDX-License-Identifier: MIT */
/*
 * Run the fuzz harness on given inputs without libFuzzer (any compiler):
 * `make check` replays the kept crash inputs (tests/fuzz/regress/) and the
 * shipped traces through exactly the harness's path and bounds.  Each
 * argument is a file or a directory of files.  A finding aborts, as under
 * libFuzzer; otherwise one PASS line per input.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	do {
		if (n == cap) {
			uint8_t *b = realloc(buf, cap ? 2 * cap : 65536);

			if (!b) {
				fprintf(stderr, "%s: out of memory\n", path);
				free(buf);
				fclose(f);
				return 1;
			}
			buf = b;
			cap = cap ? 2 * cap : 65536;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	printf("PASS  %s\n", path);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path)
{
	struct stat st;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, i;
	int fail = 0;
	DIR *dir;

	if (stat(path, &st)) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	dir = opendir(path);
	if (!dir) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((e = readdir(dir))) {
		char **v;

		if (e->d_name[0] == '.')
			continue;
		v = realloc(names, (n + 1) * sizeof(*v));
		if (!v || asprintf(&v[n], "%s/%s", path, e->d_name) < 0) {
			fprintf(stderr, "%s: out of memory\n", path);
			exit(1);
		}
		names = v;
		n++;
	}
	closedir(dir);
	qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		fail |= run_path(names[i]);
		free(names[i]);
	}
	free(names);
	return fail;
}

int main(int argc, char **argv)
{
	int i, fail = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE-OR-DIR...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++)
		fail |= run_path(argv[i]);
	return fail;
}
