/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The guest `make demo` boots (Debian's packaged 6.12 kernel behind an
 * emulated e1000e), for the host-side tests that boot it: test_demo.c and
 * test_srvlat_guest.c.
 */
#ifndef KOPT_SELFTESTS_GUEST_UTIL_H
#define KOPT_SELFTESTS_GUEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* The source tree (the build directory's parent). */
const char *guest_srcdir(void);

/*
 * Debian's kernel package and an initramfs with its modules: dir holds
 * vmlinuz and package, initrd is the initramfs. False (the test failed,
 * or skipped: not root, Debian's archive unreachable) if either cannot
 * be had.
 */
bool debian_guest(char *dir, size_t dlen, char *initrd, size_t ilen);

#endif /* KOPT_SELFTESTS_GUEST_UTIL_H */
