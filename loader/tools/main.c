// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt-lab: what a lab needs and a production host does not: the load
 * generator, the lab plants (sim, replay), the benchmarks and the report
 * drawer. kopt runs it for `kopt loadgen|plant sim|plant replay|bench|
 * report` (see loader/cli/lab.c); it needs no root but for the BPF
 * benchmarks.
 */
#include "cli.h"

static int cmd_lab_plants(int argc, char **argv)
{
	static const struct kopt_cmd plant_cmds[] = {
		{ "sim", cmd_plant_sim,
		  "simulated server speaking the plant protocol" },
		{ "replay", cmd_plant_replay,
		  "a measured ITR x DVFS sweep, replayed" },
		{ NULL },
	};

	return kopt_dispatch("kopt plant", plant_cmds, argc - 1, argv + 1);
}

static const struct kopt_cmd cmds[] = {
	{ "loadgen", cmd_loadgen, "open-loop memcached load generator" },
	{ "plant", cmd_lab_plants, "the lab plants (sim, replay)" },
	{ "bench", cmd_bench, "benchmarks (JSON with --json)" },
	{ "report", cmd_report, "plot a kopt run log (gnuplot PNGs)" },
	{ NULL },
};

int main(int argc, char **argv)
{
	return kopt_main("kopt", cmds, argc, argv);
}
