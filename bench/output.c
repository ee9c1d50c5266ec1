/* SPDX-License-Identifier: MIT */
/*
 * JSON strings and gnuplot runs for the benches' result files.
 */
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "output.h"

void bench_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* A child process, no shell: nothing to quote. */
int bench_gnuplot(const char *script)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("gnuplot", "gnuplot", script, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -ENOENT; /* the exec failed */
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -EIO;
}
