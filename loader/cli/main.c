// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt: an eBPF-first kernel control plane. One binary, bpftool-style
 * subcommands; this file is the table. The lab commands (loadgen, plant
 * sim and replay, bench, report) run in kopt-lab (loader/cli/lab.c says how).
 */
#include "cli.h"

static const struct kopt_cmd cmds[] = {
	{ "probe", cmd_probe, "report what this host's kernel allows" },
	{ "collect", cmd_collect, "record kernel data (migrations, nic)" },
	{ "knob", cmd_knob, "list, read or set one actuator by hand" },
	{ "energy", cmd_energy, "measure energy with the best meter here" },
	{ "restore", cmd_restore,
	  "undo kopt's changes (through koptd when it runs)" },
	{ "bench", cmd_lab, "benchmarks (JSON with --json)" },
	{ "model", cmd_model,
	  "fixed-point MLP models: load, show, score, live, attach" },
	{ "train", cmd_train, "train a model from a migrations CSV" },
	{ "loadgen", cmd_lab, "open-loop memcached load generator" },
	{ "run", cmd_run, "energy controller: optimize and hold a plant" },
	{ "status", cmd_status, "what koptd (the daemon) is doing" },
	{ "pause", cmd_pause, "koptd: pause a job (energy, migration)" },
	{ "resume", cmd_resume, "koptd: resume a job" },
	{ "advise", cmd_advise, "koptd: a job reports, changes nothing" },
	{ "enforce", cmd_enforce, "koptd: a job acts again (after advise)" },
	{ "reload", cmd_reload, "koptd: re-read its configuration" },
	{ "policy", cmd_policy,
	  "check a policy file; show it with its defaults" },
	{ "plant", cmd_plant,
	  "plants as protocol servers: host; sim, replay (lab)" },
	{ "report", cmd_lab, "plot a kopt run log (gnuplot PNGs)" },
	{ NULL },
};

int main(int argc, char **argv)
{
	return kopt_main("kopt", cmds, argc, argv);
}
