/*
 * quern.c: the front door.  "quern X args" runs quern-X with args, as git
 * does: first from the directory this program lives in, then from PATH.
 * "quern --help" lists the programs it can find.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "err.h"

/* The directory of the running executable, or NULL. */
static char *self_dir(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	char *slash;

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	return qn_xstrdup(buf);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the quern-* executables in dir to the list (without duplicates). */
static void scan(const char *dir, char ***list, int *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *path;
		int i, dup = 0;

		if (strncmp(e->d_name, "quern-", 6) || !e->d_name[6] || strchr(e->d_name, '.'))
			continue;
		path = qn_xasprintf("%s/%s", dir, e->d_name);
		if (access(path, X_OK) == 0) {
			for (i = 0; i < *n; i++)
				dup |= !strcmp((*list)[i], e->d_name + 6);
			if (!dup) {
				*list = qn_xrealloc(*list, (size_t)(*n + 1) * sizeof **list);
				(*list)[(*n)++] = qn_xstrdup(e->d_name + 6);
			}
		}
		free(path);
	}
	closedir(d);
}

static void help(void)
{
	char **list = NULL, *dir = self_dir(), *path, *p, *save = NULL;
	int n = 0, i;

	printf("usage: quern [--help] [--version] PROGRAM [ARGS...]\n\n"
	       "Runs quern-PROGRAM with ARGS.  quern turns raw text into token shards\n"
	       "and a trained model, recording every step in one SQLite manifest.\n\n"
	       "Programs found:\n");
	if (dir)
		scan(dir, &list, &n);
	path = qn_xstrdup(getenv("PATH") ? getenv("PATH") : "");
	for (p = strtok_r(path, ":", &save); p; p = strtok_r(NULL, ":", &save))
		scan(p, &list, &n);
	qsort(list, (size_t)n, sizeof *list, cmp_str);
	for (i = 0; i < n; i++) {
		printf("   %s\n", list[i]);
		free(list[i]);
	}
	if (!n)
		printf("   (none)\n");
	printf("\nSee quern(7) for the pipeline and 'quern PROGRAM --help' for each program.\n");
	free(list);
	free(path);
	free(dir);
}

int main(int argc, char **argv)
{
	char *dir, *prog, *path;

	qn_cli_init(argc, argv);
	if (argc < 2) {
		help();
		return qn_finish_stdout(QN_EXIT_USAGE);
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		help();
		return qn_finish_stdout(QN_EXIT_OK);
	}
	if (!strcmp(argv[1], "--version"))
		qn_print_version();
	if (argv[1][0] == '-')
		qn_usage_error("unknown option '%s'", argv[1]);
	if (strchr(argv[1], '/'))
		qn_usage_error("'%s' is not a quern program", argv[1]);
	prog = qn_xasprintf("quern-%s", argv[1]);
	argv[1] = prog;
	dir = self_dir();
	if (dir) {
		path = qn_xasprintf("%s/%s", dir, prog);
		if (access(path, X_OK) == 0)
			execv(path, argv + 1);
		free(path);
	}
	execvp(prog, argv + 1);
	if (errno == ENOENT)
		qn_usage_error("'%s' is not a quern program (no %s found)", prog + 6, prog);
	qn_errx(QN_EXIT_FAIL, "cannot run %s: %s", prog, strerror(errno));
}
