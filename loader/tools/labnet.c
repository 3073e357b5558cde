// SPDX-License-Identifier: GPL-2.0-only
/*
 * The network benchmarks' testbed helpers (labnet.h). The command lines
 * go through system() because they are fixed `ip` and `ethtool`
 * invocations on namespaces the bench names itself; libnl could build
 * the veth pair too, at several times the code, for a lab tool.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "labnet.h"

int labnet_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd) == 0 ? 0 : -1;
}

int labnet_enter(const char *name)
{
	char path[128];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET))
		err = -errno;
	close(fd);
	return err;
}

int labnet_full_io(int fd, char *buf, size_t len, bool rd)
{
	size_t off = 0;

	while (off < len) {
		ssize_t r = rd ? read(fd, buf + off, len - off) :
				 write(fd, buf + off, len - off);

		if (r <= 0)
			return -1;
		off += r;
	}
	return 0;
}
