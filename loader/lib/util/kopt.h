/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The library's base: exit codes, global options, logging to stderr and
 * the small helpers every layer of libkopt uses (lib/util/common.c).
 *
 * Userspace only: BPF programs must not include this.
 */
#ifndef KOPT_LOADER_KOPT_H
#define KOPT_LOADER_KOPT_H

#ifdef __bpf__
#error "kopt.h is userspace-only"
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

#include "errf.h"

/*
 * The state directory: $KOPT_STATE_DIR, else /run/kopt. It holds the
 * host-change journal and its lock, so it is kopt's own: 0700, owned by
 * the effective uid, not a symlink.
 */
#define KOPT_STATE_DIR_DEFAULT "/run/kopt"
const char *kopt_state_dir(void);
/*
 * Opens the state directory (creating it 0700 when create is set) without
 * following a symlink, and checks it: a directory, owned by us, writable
 * by nobody else (group/other write bits refuse it; a 0755 directory of
 * ours is made 0700). Returns an O_DIRECTORY fd, -ENOENT if it is absent
 * and create is not set, or another negative errno with err saying what
 * is wrong and what to do.
 */
int kopt_state_dir_open(bool create, char *err, size_t len);

/* path is the root of a mounted bpffs. */
bool kopt_is_bpffs(const char *path);

struct json_object;
/*
 * A JSON number for output, NULL (JSON null) when v is not finite: with
 * fmt (e.g. "%.6g") its text is printed that short, else json-c's own.
 */
struct json_object *kopt_json_num(double v, const char *fmt);
/*
 * o as every command prints its --json output: indented (two spaces),
 * doubles to six significant digits, '/' not escaped. The text belongs
 * to o (valid until o changes or is freed).
 */
const char *kopt_json_text(struct json_object *o);

/* CLOCK_MONOTONIC in seconds. */
/*
 * A program installed beside this one: $ENV when set and not empty, else
 * NAME in /proc/self/exe's directory. 0, or -errno.
 */
int kopt_sibling_path(const char *env, const char *name, char *buf, size_t len);

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

#endif /* KOPT_LOADER_KOPT_H */
