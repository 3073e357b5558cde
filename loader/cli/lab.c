// SPDX-License-Identifier: GPL-2.0-only
/*
 * The lab commands of kopt (loadgen, plant sim, bench, report) live in a
 * second binary, kopt-lab (loader/tools/), so the one a production host
 * runs as root carries no load generator, simulator, benchmarks or
 * plotting. `kopt bench ...` stays a valid command: it executes kopt-lab
 * from kopt's own folder (or $KOPT_LAB) with the same global options and
 * arguments, the way git finds git-foo. No shell is involved.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int kopt_lab_path(char *buf, size_t len)
{
	return kopt_sibling_path("KOPT_LAB", "kopt-lab", buf, len);
}

/* Executes kopt-lab [-v..] [--json] [prefix] argv...; returns only on error. */
static int lab_exec(const char *prefix, int argc, char **argv)
{
	char path[PATH_MAX], **av;
	int n = 0, i;

	if (kopt_lab_path(path, sizeof(path)) || access(path, X_OK)) {
		pr_warn("%s: this is a lab command of kopt-lab, which is not "
			"installed beside kopt (looked for %s): build it with "
			"`make` or set KOPT_LAB\n",
			argv[0], path);
		return KOPT_EXIT_FAIL;
	}
	av = calloc(argc + kopt_env.verbose + 4, sizeof(*av));
	if (!av)
		return KOPT_EXIT_FAIL;
	av[n++] = path;
	for (i = 0; i < kopt_env.verbose; i++)
		av[n++] = "-v";
	if (kopt_env.json)
		av[n++] = "--json";
	if (prefix)
		av[n++] = (char *)prefix;
	for (i = 0; i < argc; i++)
		av[n++] = argv[i];
	fflush(stdout);
	fflush(stderr);
	execv(path, av);
	pr_warn("%s: cannot execute %s: %s\n", argv[0], path, strerror(errno));
	free(av);
	return KOPT_EXIT_FAIL;
}

int cmd_lab(int argc, char **argv)
{
	return lab_exec(NULL, argc, argv);
}

int cmd_lab_plant(int argc, char **argv)
{
	return lab_exec("plant", argc, argv);
}
