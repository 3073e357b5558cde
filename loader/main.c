// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt: an eBPF-first kernel control plane. One binary, bpftool-style
 * subcommands; this file parses the global options and dispatches.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "kopt.h"
#include "train.h"

static const struct kopt_cmd cmds[] = {
	{ "probe", cmd_probe, "report what this host's kernel allows" },
	{ "collect", cmd_collect, "record kernel data (migrations, nic)" },
	{ "knob", cmd_knob, "list, read or set one actuator by hand" },
	{ "energy", cmd_energy, "measure energy with the best meter here" },
	{ "restore", cmd_restore, "undo changes a killed kopt left behind" },
	{ "bench", cmd_bench, "benchmarks (JSON with --json)" },
	{ "model", cmd_model,
	  "fixed-point MLP models: load, show, score, live, attach" },
	{ "train", cmd_train, "train a model from a migrations CSV" },
	{ "loadgen", cmd_loadgen, "open-loop memcached load generator" },
	{ "run", cmd_run, "energy controller: optimize and hold a plant" },
	{ "plant", cmd_plant, "built-in plants (sim) as protocol servers" },
	{ "report", cmd_report, "plot a kopt run log (gnuplot PNGs)" },
	{ NULL },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kopt [-v] [--json] COMMAND [ARGS]\n"
		"\n"
		"Global options:\n"
		"  -v, --verbose   show libbpf output (-vv: libbpf debug too)\n"
		"  -j, --json      machine-readable output where output is data\n"
		"  -h, --help      this help\n"
		"  -V, --version   print the version\n"
		"\n"
		"Commands:\n");
	for (const struct kopt_cmd *c = cmds; c->name; c++)
		fprintf(f, "  %-12s %s\n", c->name, c->summary);
	fprintf(f, "\nRun 'kopt COMMAND --help' for the options of one.\n"
		   "Exit codes: 0 ok, 1 failure, 2 usage error, 3 kernel/BPF "
		   "refused, 4 missing privilege.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL },
	};
	int opt;

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
			usage(stdout);
			return KOPT_EXIT_OK;
		case 'V':
			printf("kopt %s\n", KOPT_VERSION);
			return KOPT_EXIT_OK;
		default:
			usage(stderr);
			return KOPT_EXIT_USAGE;
		}
	}
	kopt_setup_libbpf();
	kopt_blas_single_thread();
	if (optind >= argc) {
		usage(stderr);
		return KOPT_EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	optind = 0; /* reset getopt for the subcommand (glibc: full reset) */
	return kopt_dispatch("kopt", cmds, argc, argv);
}
