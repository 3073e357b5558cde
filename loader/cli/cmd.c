// SPDX-License-Identifier: GPL-2.0-only
/*
 * What every front end (kopt and kopt-lab) shares: the global options
 * and subcommand dispatch on a table.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void print_cmds(FILE *f, const char *what, const struct kopt_cmd *cmds)
{
	fprintf(f, "Usage: %s COMMAND [OPTIONS]\n\nCommands:\n", what);
	for (; cmds->name; cmds++)
		fprintf(f, "  %-12s %s\n", cmds->name, cmds->summary);
	fprintf(f, "\nRun '%s COMMAND --help' for the options of one.\n", what);
}

int kopt_dispatch(const char *what, const struct kopt_cmd *cmds, int argc,
		  char **argv)
{
	const struct kopt_cmd *c;

	if (argc < 1) {
		print_cmds(stderr, what, cmds);
		return KOPT_EXIT_USAGE;
	}
	if (!strcmp(argv[0], "help") || !strcmp(argv[0], "--help") ||
	    !strcmp(argv[0], "-h")) {
		print_cmds(stdout, what, cmds);
		return KOPT_EXIT_OK;
	}
	for (c = cmds; c->name; c++)
		if (!strcmp(argv[0], c->name))
			return c->fn(argc, argv);
	fprintf(stderr, "%s: unknown command '%s'\n", what, argv[0]);
	print_cmds(stderr, what, cmds);
	return KOPT_EXIT_USAGE;
}

static void usage(FILE *f, const char *prog, const struct kopt_cmd *cmds)
{
	fprintf(f,
		"Usage: %s [-v] [--json] COMMAND [ARGS]\n"
		"\n"
		"Global options:\n"
		"  -v, --verbose   show libbpf output (-vv: libbpf debug too)\n"
		"  -j, --json      machine-readable output where output is data\n"
		"  -h, --help      this help\n"
		"  -V, --version   print the version\n"
		"\n"
		"Commands:\n",
		prog);
	for (const struct kopt_cmd *c = cmds; c->name; c++)
		fprintf(f, "  %-12s %s\n", c->name, c->summary);
	fprintf(f,
		"\nRun '%s COMMAND --help' for the options of one.\n"
		"Exit codes: 0 ok, 1 failure, 2 usage error, 3 kernel/BPF "
		"refused, 4 missing privilege.\n",
		prog);
}

int kopt_main(const char *prog, const struct kopt_cmd *cmds, int argc,
	      char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL },
	};
	int opt;

	kopt_env.prog = prog;
	/* stop at the first non-option: the rest belongs to the command */
	while ((opt = getopt_long(argc, argv, "+vjhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'v':
			kopt_env.verbose++;
			break;
		case 'j':
			kopt_env.json = true;
			break;
		case 'h':
			usage(stdout, prog, cmds);
			return KOPT_EXIT_OK;
		case 'V':
			printf("%s %s\n", prog, KOPT_VERSION);
			return KOPT_EXIT_OK;
		default:
			usage(stderr, prog, cmds);
			return KOPT_EXIT_USAGE;
		}
	}
	kopt_setup_libbpf();
	kopt_blas_single_thread();
	if (optind >= argc) {
		usage(stderr, prog, cmds);
		return KOPT_EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	optind = 0; /* reset getopt for the subcommand (glibc: full reset) */
	return kopt_dispatch(prog, cmds, argc, argv);
}
