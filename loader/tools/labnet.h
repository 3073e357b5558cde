/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the network benchmarks share (bench_collector.c, bench_srvlat.c):
 * their own veth testbeds in network namespaces, and a socket ping-pong.
 */
#ifndef KOPT_TOOLS_LABNET_H
#define KOPT_TOOLS_LABNET_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Runs an `ip`/`ethtool` command line the bench built from its own
 * constants and namespace names (never from input); 0 if it exited 0.
 */
int labnet_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Moves the calling thread into the named network namespace; -errno. */
int labnet_enter(const char *name);
/* Reads (rd) or writes len bytes in full; -1 on EOF or error. */
int labnet_full_io(int fd, char *buf, size_t len, bool rd);

#endif /* KOPT_TOOLS_LABNET_H */
