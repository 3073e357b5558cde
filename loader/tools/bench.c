// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt bench: benchmarks, each printing machine-readable JSON with --json
 * and always with a baseline measured in the same run, so figures survive a
 * noisy machine as ratios. `kopt bench all` runs every one and prints one
 * JSON object keyed by benchmark name.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int bench_all(int argc, char **argv);

/* One line per benchmark; "all" runs the others in order. */
static const struct kopt_cmd bench_cmds[] = {
	{ "all", bench_all, "run every benchmark below" },
	{ "mlp", cmd_bench_mlp, "fixed-point MLP in BPF: ns per inference" },
	{ "bo", cmd_bench_bo, "GP Bayesian optimizer: regret and speed" },
	{ "collector", cmd_bench_collector,
	  "NIC collector: ns per event, XDP ns/packet, lost records" },
	{ "srvlat", cmd_bench_srvlat,
	  "server-latency probe: ns per event and per request" },
	{ "train", cmd_bench_train,
	  "trainer: seconds for 1M rows, vs a forward pass" },
	{ "kpatch", cmd_bench_kpatch,
	  "kernel patch: ns per can_migrate_task call (VM)" },
	{ "controller", cmd_bench_controller,
	  "energy controller in moving worlds vs oracle, static, random" },
	{ NULL },
};

static int bench_all(int argc, char **argv)
{
	const struct kopt_cmd *c;
	int ret = KOPT_EXIT_OK, err;
	bool first = true;

	if (kopt_env.json)
		printf("{");
	for (c = bench_cmds + 1; c->name; c++) {
		char *sub_argv[] = { (char *)c->name, NULL };

		if (kopt_env.json) {
			printf("%s\"%s\": ", first ? "" : ",\n", c->name);
			fflush(stdout);
		}
		first = false;
		optind = 0;
		err = c->fn(1, sub_argv);
		if (err) {
			/* keep the JSON valid: a failed bench is null */
			if (kopt_env.json)
				printf("null");
			ret = err;
		}
	}
	if (kopt_env.json)
		printf("}\n");
	return ret;
}

int cmd_bench(int argc, char **argv)
{
	int i;

	/* accept --json after the subcommand as well as before it */
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j"))
			kopt_env.json = true;
	return kopt_dispatch("kopt bench", bench_cmds, argc - 1, argv + 1);
}
