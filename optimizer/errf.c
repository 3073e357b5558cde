// SPDX-License-Identifier: GPL-2.0-only
/*
 * The error convention of every layer from here up: a library call fills
 * a caller's buffer with one line naming the step, the object and the
 * cause, and returns a negative errno.
 */
#include <stdarg.h>
#include <stdio.h>

#include "errf.h"

int kopt_errf(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}
