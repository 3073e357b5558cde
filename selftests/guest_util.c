// SPDX-License-Identifier: GPL-2.0-only
/* The demo's guest for host-side tests (guest_util.h). */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guest_util.h"
#include "test.h"

const char *guest_srcdir(void)
{
	static char buf[PATH_MAX];

	if (!buf[0])
		snprintf(buf, sizeof(buf), "%s/..", kopt_test_builddir());
	return buf;
}

bool debian_guest(char *dir, size_t dlen, char *initrd, size_t ilen)
{
	char why[1024] = "";
	int rc;

	if (geteuid()) {
		SKIP("needs root: the kernel cache is /var/cache/kopt");
		return false;
	}
	/* stdout is the directory; the script's messages go to a file */
	rc = kopt_test_run(dir, dlen,
			   "'%s/kernel-patches/debian-kernel.sh' "
			   "2>'%s/debian-kernel.err'",
			   guest_srcdir(), kopt_test_tmpdir());
	if (rc) {
		kopt_test_run(why, sizeof(why), "cat '%s/debian-kernel.err'",
			      kopt_test_tmpdir());
		/* the package comes from Debian's archive (apt-get download) */
		if (strstr(why, "apt-get download") ||
		    strstr(why, "apt knows no") ||
		    strstr(why, "no candidate")) {
			SKIP("Debian's kernel package cannot be had (archive "
			     "unreachable?): %s",
			     why);
			return false;
		}
		__KOPT_FAIL("kernel-patches/debian-kernel.sh exited %d: %s", rc,
			    why[0] ? why : "(no message)");
		return false;
	}
	dir[strcspn(dir, "\n")] = '\0';
	if (!ASSERT_OK(kopt_test_run(initrd, ilen,
				     "'%s/kernel-patches/mkinitramfs.sh' "
				     "--modules '%s/modules'",
				     guest_srcdir(), dir),
		       "mkinitramfs.sh --modules"))
		return false;
	initrd[strcspn(initrd, "\n")] = '\0';
	return true;
}
