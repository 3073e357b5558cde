/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * External latency feed: the control loop's latency source for services
 * kopt does not drive itself. Each window it reads one JSON line
 *   {"p99_us": 412.5, "p50_us": 88, "qps": 20000}
 * either printed by a command or kept in a file the service rewrites.
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
	LATENCY_SRC_CMD, /* "cmd:SHELL COMMAND": run, read its stdout */
	LATENCY_SRC_FILE, /* "file:PATH": read the file */
};

struct latency_src {
	enum latency_src_kind kind;
	char *arg; /* the command or the path */
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
