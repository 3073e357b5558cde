// SPDX-License-Identifier: GPL-2.0-only
/*
 * What every front end (kopt and kopt-lab) shares: the global options
 * and subcommand dispatch on a table, both parsed by opts.c.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "opts.h"

/* The help's list of commands (and, for the binary itself, exit codes). */
static void commands_text(char *buf, size_t len, const char *what,
			  const struct kopt_cmd *cmds, bool exit_codes)
{
	size_t used = snprintf(buf, len, "Commands:\n");

	for (; cmds->name && used < len; cmds++)
		used += snprintf(buf + used, len - used, "  %-12s %s\n",
				 cmds->name, cmds->summary);
	if (used < len)
		used += snprintf(buf + used, len - used,
				 "\nRun '%s COMMAND --help' for the options "
				 "of one.",
				 what);
	if (exit_codes && used < len)
		snprintf(buf + used, len - used,
			 "\nExit codes: 0 ok, 1 failure, 2 usage error, 3 "
			 "kernel/BPF refused, 4 missing privilege.");
}

/* Runs the command argv[0] names (argv is NULL-terminated). */
static int run_cmd(const struct kopt_opts *spec, const struct kopt_cmd *cmds,
		   char **argv)
{
	const struct kopt_cmd *c;
	int argc = 0;

	while (argv[argc])
		argc++;
	if (!strcmp(argv[0], "help")) {
		kopt_opts_help(spec, stdout);
		return KOPT_EXIT_OK;
	}
	for (c = cmds; c->name; c++)
		if (!strcmp(argv[0], c->name))
			return c->fn(argc, argv);
	return kopt_usage_error(spec->cmd, "unknown command '%s'", argv[0]);
}

int kopt_dispatch_desc(const char *what, const char *desc,
		       const struct kopt_cmd *cmds, int argc, char **argv)
{
	char list[2048];
	char **rest = NULL;
	const struct kopt_opts spec = {
		.cmd = what,
		.usage = "COMMAND [OPTIONS]",
		.desc = desc,
		.epilog = list,
		.args = KOPT_ARGS(KOPT_ARG_REST_REQ("COMMAND", &rest)),
		.flags = KOPT_OPTS_STOP,
	};
	int ret;

	commands_text(list, sizeof(list), what, cmds, false);
	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	return run_cmd(&spec, cmds, rest);
}

int kopt_dispatch(const char *what, const struct kopt_cmd *cmds, int argc,
		  char **argv)
{
	return kopt_dispatch_desc(what, NULL, cmds, argc, argv);
}

int kopt_main(const char *prog, const struct kopt_cmd *cmds, int argc,
	      char **argv)
{
	bool version = false;
	char list[2048];
	char **rest = NULL;
	/*
	 * Options end at the command: the rest belongs to it. COMMAND is
	 * optional for the parser, as --version needs none.
	 */
	const struct kopt_opts spec = {
		.cmd = prog,
		.usage = "[-v] [--json] COMMAND [ARGS]",
		.epilog = list,
		.opts = KOPT_OPTS(
			KOPT_OPT_COUNT(
				"verbose", 'v', &kopt_env.verbose,
				"show libbpf output (-vv: libbpf debug too)"),
			KOPT_OPT_JSON(
				"machine-readable output where output is data"),
			KOPT_OPT_FLAG("version", 'V', &version,
				      "print the version")),
		.args = KOPT_ARGS(KOPT_ARG_REST("COMMAND", &rest)),
		.flags = KOPT_OPTS_STOP,
	};
	int ret;

	kopt_env.prog = prog;
	commands_text(list, sizeof(list), prog, cmds, true);
	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	if (version) {
		printf("%s %s\n", prog, KOPT_VERSION);
		return KOPT_EXIT_OK;
	}
	if (!rest)
		return kopt_usage_error(prog, "COMMAND is required");
	kopt_setup_libbpf();
	kopt_blas_single_thread();
	return run_cmd(&spec, cmds, rest);
}
