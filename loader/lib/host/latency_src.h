/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * External latency feed: the control loop's latency source for services
 * kopt does not drive itself. Each window it reads one JSON line
 *   {"p99_us": 412.5, "p50_us": 88, "qps": 20000}
 * either printed by a command or kept in a file the service rewrites.
 *
 * A command is an argv, never a shell string: "cmd:/usr/bin/prog -x 5"
 * runs /usr/bin/prog (found in PATH if it has no slash) with the words
 * after it, split at spaces and tabs; nothing is quoted, expanded or
 * interpreted (a ';' is an argument). For more, point it at a script.
 *
 * Userspace only.
 */
#ifndef KOPT_LOADER_LATENCY_SRC_H
#define KOPT_LOADER_LATENCY_SRC_H

#ifdef __bpf__
#error "loader/lib/host/latency_src.h is userspace-only"
#endif

#include <stdbool.h>
#include <stddef.h>

#define LATENCY_SRC_MAX_LINE 4096 /* longer output is not one reading */
#define LATENCY_SRC_ERR_LEN 384

enum latency_src_kind {
	LATENCY_SRC_CMD, /* "cmd:PROGRAM ARGS": exec, read its stdout */
	LATENCY_SRC_FILE, /* "file:PATH": read the file */
};

struct latency_src {
	enum latency_src_kind kind;
	char *arg; /* the command line or the path, for messages */
	char **argv; /* the command, NULL-terminated */
	double timeout_s; /* command: killed after this (default 10 s) */
	double max_age_s; /* file: older is stale; 0 = no check (default) */
};

struct latency_reading {
	double p99_us, p50_us; /* required, finite, 0 <= p50 <= p99 */
	double qps; /* optional; < 0 when the source did not give it */
};

/*
 * Parses "cmd:COMMAND" or "file:PATH" into src (defaults for the rest).
 * 0, or -EINVAL with the reason in err.
 */
int latency_src_init(struct latency_src *src, const char *spec, char *err,
		     size_t errlen);
void latency_src_free(struct latency_src *src);
/*
 * Splits a command line into a NULL-terminated argv at spaces and tabs
 * (one allocation: free(*argv) frees it all). 0, or -EINVAL (no program)
 * / -ENOMEM with the reason in err.
 */
int latency_src_argv(const char *cmdline, char ***argv, char *err,
		     size_t errlen);
/*
 * Reads one reading. 0, or -errno with a message naming the source, the
 * step and the cause in err: -EINVAL bad data, -ETIMEDOUT command too
 * slow, -EIO command failed, -ESTALE file not rewritten within max_age_s,
 * -ENOENT etc. from the file system.
 */
int latency_src_read(const struct latency_src *src, struct latency_reading *r,
		     char *err, size_t errlen);
/* Validates one line (what latency_src_read() does after reading). */
int latency_parse_line(const char *line, struct latency_reading *r, char *err,
		       size_t errlen);

#endif /* KOPT_LOADER_LATENCY_SRC_H */
