/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the front ends share (kopt and the lab tools in loader/tools/):
 * the subcommand table and the entry point of every subcommand. The
 * library (loader/lib/) never includes this.
 */
#ifndef KOPT_CLI_H
#define KOPT_CLI_H

#include "kopt.h"

/*
 * A subcommand. fn gets argc/argv with argv[0] = the subcommand name, and
 * returns a kopt_exit code. fn parses its options with kopt_opts_parse()
 * (opts.h), which answers -h/--help and usage errors the same way for all.
 */
struct kopt_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

/*
 * Runs the command argv[1] names from a NULL-terminated table (argv[0]
 * is this level's own name); -h/--help lists the table. `what` names the
 * level in messages ("kopt bench").
 */
int kopt_dispatch(const char *what, const struct kopt_cmd *cmds, int argc,
		  char **argv);
/* The same, with desc (or NULL) in its help between usage and options. */
int kopt_dispatch_desc(const char *what, const char *desc,
		       const struct kopt_cmd *cmds, int argc, char **argv);

/*
 * The front ends' main: global options (-v, --json, -h, -V), then
 * dispatch on cmds. prog names the binary in messages and usage.
 */
int kopt_main(const char *prog, const struct kopt_cmd *cmds, int argc,
	      char **argv);

/*
 * kopt-lab's path: $KOPT_LAB, else beside this binary. 0 or -errno.
 * cmd_lab() runs a top-level lab command there (kopt bench ...),
 * cmd_lab_plant() a plant of the lab (kopt plant sim ...).
 */
int kopt_lab_path(char *buf, size_t len);
int cmd_lab(int argc, char **argv);
int cmd_lab_plant(int argc, char **argv);

/* Subcommands (loader/cli/ and loader/tools/). */
int cmd_probe(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_bench_mlp(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_policy(int argc, char **argv);
struct policy;
/*
 * kopt run --check (run_check.c): a preflight changing nothing; a
 * kopt_exit code. before_run: the checks of a run about to start, quiet
 * unless one fails.
 */
int run_check(const struct policy *p, const char *plant, bool before_run);
int cmd_plant(int argc, char **argv);
int cmd_plant_sim(int argc, char **argv);
int cmd_plant_replay(int argc, char **argv);
int cmd_plant_host(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_bench_bo(int argc, char **argv);
int cmd_collect(int argc, char **argv);
int cmd_collect_migrations(int argc, char **argv);
int cmd_loadgen(int argc, char **argv);
int cmd_collect_nic(int argc, char **argv);
int cmd_bench_collector(int argc, char **argv);
int cmd_bench_srvlat(int argc, char **argv);
int cmd_knob(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_energy(int argc, char **argv);
int cmd_model_attach(int argc, char **argv);
int cmd_model_detach(int argc, char **argv);
int cmd_bench_kpatch(int argc, char **argv);
int cmd_model_live(int argc, char **argv);
int cmd_bench_train(int argc, char **argv);
int cmd_bench_controller(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_model_score(int argc, char **argv);
/* koptd's client (daemon_cmd.c) */
int cmd_status(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_advise(int argc, char **argv);
int cmd_enforce(int argc, char **argv);
int cmd_reload(int argc, char **argv);
/*
 * Through koptd when it runs: sends {"cmd": cmd, "file": file} on its
 * socket (given_sock, else the default one) and reports the reply as
 * `what`. 1 with *ret set when koptd answered (or given_sock names no
 * running koptd); 0 when no koptd runs: the caller acts alone.
 */
int koptd_try(const char *given_sock, const char *what, const char *cmd,
	      const char *file, int *ret);

#endif /* KOPT_CLI_H */
