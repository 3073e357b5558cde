/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The lowest userspace layer's one helper (see errf.c): the learning code
 * and the loader library both report errors through it.
 */
#ifndef KOPT_OPTIMIZER_ERRF_H
#define KOPT_OPTIMIZER_ERRF_H

#include <stddef.h>

/*
 * Formats an error message into err (errlen bytes) and returns ret: the
 * one-liner behind every "fill err, return -EINVAL" of the library code.
 */
int kopt_errf(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif /* KOPT_OPTIMIZER_ERRF_H */
