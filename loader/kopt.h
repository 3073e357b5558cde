/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared declarations of the kopt binary: exit codes, logging, the
 * subcommand table and the entry points of every subcommand.
 *
 * Userspace only: BPF programs must not include this.
 */
#ifndef KOPT_LOADER_KOPT_H
#define KOPT_LOADER_KOPT_H

#ifdef __bpf__
#error "loader/kopt.h is userspace-only"
#endif

#include <stdbool.h>
#include <linux/types.h>
#include <sys/types.h>
#include <stdio.h>

/* Exit codes, distinct per failure class (documented in the README). */
enum kopt_exit {
	KOPT_EXIT_OK = 0,
	KOPT_EXIT_FAIL = 1, /* runtime failure: bad input file, I/O, plant */
	KOPT_EXIT_USAGE = 2, /* bad command line */
	KOPT_EXIT_BPF = 3, /* kernel/BPF refused: load, attach, map op */
	KOPT_EXIT_PERM = 4, /* missing privilege (CAP_BPF/root) */
};

/* Global options (set by main before the subcommand runs). */
struct kopt_env {
	int verbose; /* -v: libbpf debug output; -vv: everything */
	bool json; /* --json: machine-readable output on stdout */
	const char *prog; /* argv[0] basename */
};
extern struct kopt_env kopt_env;

/* Logging to stderr; pr_debug only with -v. */
void pr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Installs the libbpf print callback honouring -v. */
void kopt_setup_libbpf(void);

/*
 * A subcommand. fn gets argc/argv with argv[0] = the subcommand name, and
 * returns a kopt_exit code. Options are parsed with getopt_long inside fn;
 * every fn handles -h/--help itself.
 */
struct kopt_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

/*
 * Dispatches argv[0] against a NULL-terminated table; prints the table on
 * unknown/missing name. `what` names the level ("kopt", "kopt bench").
 */
int kopt_dispatch(const char *what, const struct kopt_cmd *cmds, int argc,
		  char **argv);

/* True if the process has CAP_BPF (or CAP_SYS_ADMIN) and CAP_PERFMON. */
bool kopt_have_bpf_caps(void);
/* Prints the standard "needs root" message for `step` and returns PERM. */
int kopt_need_root(const char *step);

/* One BLAS thread: see common.c. Called by main for every command. */
void kopt_blas_single_thread(void);

/* Parses a non-negative integer/double with range check; 0 or -EINVAL. */
int kopt_parse_long(const char *s, long min, long max, long *out);
int kopt_parse_double(const char *s, double min, double max, double *out);

/*
 * Small sysfs/procfs reads: the first line of a file without its newline,
 * or the unsigned number it starts with. 0 or a negative errno.
 */
int kopt_read_line(const char *path, char *buf, size_t len);
int kopt_read_ull(const char *path, unsigned long long *v);

/*
 * Formats an error message into err (errlen bytes) and returns ret: the
 * one-liner behind every "fill err, return -EINVAL" of the library code.
 */
int kopt_errf(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* path is the root of a mounted bpffs. */
bool kopt_is_bpffs(const char *path);

/* CLOCK_MONOTONIC in seconds. */
double kopt_now_s(void);
/* CLOCK_MONOTONIC in ns: bpf_ktime_get_ns()'s clock. */
__u64 kopt_mono_ns(void);

/*
 * A workload command (argv, NULL-terminated) run as a child with its
 * stdout sent to our stderr (our stdout carries data); `what` prefixes the
 * message if it cannot start; it leads a process group of its own.
 * kopt_workload_stop() returns its wait status, after stopping the whole
 * group if anything in it still runs (SIGTERM, then SIGKILL after 2 s).
 */
pid_t kopt_workload_start(char **argv, const char *what);
int kopt_workload_stop(pid_t pid);
/*
 * After the leader exited (and was reaped): stops what is left of its
 * group, such as a shell's background jobs.
 */
void kopt_workload_stop_group(pid_t pgid);
/* "exited 0", "stopped by signal 15"; and argv joined by spaces. */
void kopt_describe_status(int st, char *buf, size_t len);
void kopt_join_cmd(char **argv, char *buf, size_t len);

/* Subcommands (loader/<name>.c). */
int cmd_probe(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_bench_mlp(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_plant(int argc, char **argv);
int cmd_plant_host(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_bench_bo(int argc, char **argv);
int cmd_collect(int argc, char **argv);
int cmd_collect_migrations(int argc, char **argv);
int cmd_loadgen(int argc, char **argv);
int cmd_collect_nic(int argc, char **argv);
int cmd_bench_collector(int argc, char **argv);
int cmd_knob(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_energy(int argc, char **argv);
int cmd_model_attach(int argc, char **argv);
int cmd_model_detach(int argc, char **argv);
int cmd_bench_kpatch(int argc, char **argv);
int cmd_model_live(int argc, char **argv);
int cmd_bench_train(int argc, char **argv);

#endif /* KOPT_LOADER_KOPT_H */
