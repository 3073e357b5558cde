/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared by the libFuzzer harnesses in selftests/fuzz/ (`make fuzz`):
 * each fuzz_<target>.c feeds one parser of outside input and checks what
 * it promises on success; a crash, a sanitizer report or FUZZ_CHECK()
 * failing is a finding.
 */
#ifndef KOPT_SELFTESTS_FUZZ_H
#define KOPT_SELFTESTS_FUZZ_H

#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A broken promise of the parser: abort, so libFuzzer keeps the input. */
#define FUZZ_CHECK(cond)                                                  \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", \
				__FILE__, __LINE__, #cond);               \
			abort();                                          \
		}                                                         \
	} while (0)

/* The input as a NUL-terminated string (malloc'ed, the caller frees). */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * The input as a file, for parsers that take a path: one memfd per
 * process, rewritten per input; returns its /proc/self/fd path.
 */
static inline const char *fuzz_file(const uint8_t *data, size_t size)
{
	static char path[64];
	static int fd = -1;

	if (fd < 0) {
		fd = memfd_create("fuzz-input", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	return path;
}

#endif /* KOPT_SELFTESTS_FUZZ_H */
