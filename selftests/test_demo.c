// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest `make demo` boots: Debian's own linux-image-6.12 package
 * (kernel-patches/debian-kernel.sh), its 9p, overlay and e1000e modules
 * packed by mkinitramfs.sh --modules, booted by vm-run.sh. The demo needs
 * three things of it, checked here: it is the packaged kernel, its NIC
 * is the e1000e, and kopt's ethtool-netlink actuator sets rx-usecs there,
 * reads the value back and restores it.
 *
 * Runs on the host (it boots the VM itself); needs root (the kernel cache
 * under /var/cache/kopt) and Debian's archive (apt-get download).
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

#define OUT_LEN 8192

static const char *top(void)
{
	static char buf[PATH_MAX];

	if (!buf[0])
		snprintf(buf, sizeof(buf), "%s/..", kopt_test_builddir());
	return buf;
}

KOPT_TEST(demo_initramfs_modules_checked)
{
	const char *tmp = kopt_test_tmpdir();
	const char *mk = "kernel-patches/mkinitramfs.sh";

	ASSERT_REFUSES(1, "kopt.load missing", "'%s/%s' --modules %s/none 2>&1",
		       top(), mk, tmp);
	ASSERT_OK(kopt_test_run(NULL, 0,
				"mkdir -p %s/mods && echo gone.ko "
				">%s/mods/kopt.load",
				tmp, tmp),
		  "a load list naming a missing module");
	ASSERT_REFUSES(1, "names gone.ko", "'%s/%s' --modules %s/mods 2>&1",
		       top(), mk, tmp);
	ASSERT_REFUSES(2, "unknown argument '--mods'", "'%s/%s' --mods x 2>&1",
		       top(), mk);
}

KOPT_TEST(demo_debian_kernel_guest)
{
	char dir[PATH_MAX], initrd[PATH_MAX], pkg[256], kver[128];
	static char out[OUT_LEN];
	char *hit;

	if (geteuid()) {
		SKIP("needs root: the kernel cache is /var/cache/kopt");
		return;
	}
	if (!ASSERT_OK(kopt_test_run(dir, sizeof(dir),
				     "'%s/kernel-patches/debian-kernel.sh' "
				     "2>/dev/null",
				     top()),
		       "debian-kernel.sh"))
		return;
	dir[strcspn(dir, "\n")] = '\0';
	if (!ASSERT_OK(kopt_test_run(initrd, sizeof(initrd),
				     "'%s/kernel-patches/mkinitramfs.sh' "
				     "--modules '%s/modules'",
				     top(), dir),
		       "mkinitramfs.sh --modules"))
		return;
	initrd[strcspn(initrd, "\n")] = '\0';
	ASSERT_OK(kopt_test_run(out, sizeof(out),
				"zcat '%s' | cpio -t --quiet | "
				"grep -x 'lib/modules/e1000e.ko'",
				initrd),
		  "e1000e.ko in the initramfs");
	/* "PACKAGE VERSION KERNEL-RELEASE" */
	if (!ASSERT_OK(kopt_test_run(pkg, sizeof(pkg), "cat '%s/package'", dir),
		       "package file") ||
	    !ASSERT_EQ(sscanf(pkg, "%*s %*s %127s", kver), 1, "kernel release"))
		return;
	if (!ASSERT_OK(
		    kopt_test_run(out, sizeof(out),
				  "'%s/kernel-patches/vm-run.sh' --kernel "
				  "'%s/vmlinuz' --initrd '%s' --timeout 120 -- "
				  "sh -c 'uname -r; "
				  "readlink /sys/class/net/eth0/device/driver; "
				  "%s knob set nic-coalesce eth0 rx-usecs 100 "
				  "--hold 0.2; %s knob get nic-coalesce eth0 "
				  "rx-usecs' 2>&1",
				  top(), dir, initrd, kopt_test_bin(),
				  kopt_test_bin()),
		    out))
		return;
	hit = strstr(out, kver);
	ASSERT_TRUE(hit != NULL, "the guest runs the packaged kernel");
	ASSERT_HAS(out, "/e1000e", "eth0 is the e1000e");
	/* set, read back (the line), held, then the original restored */
	ASSERT_HAS(out, "nic-coalesce eth0 rx-usecs = 100",
		   "rx-usecs set through ethtool netlink");
	ASSERT_HAS(out, "restored nic-coalesce eth0 rx-usecs", "restored");
}

/* vm-run.sh's --scratch-disk takes a size in MiB, --tcg-thread a mode. */
KOPT_TEST(harness_options_checked)
{
	const char *vm = "kernel-patches/vm-run.sh";

	ASSERT_REFUSES(2, "size in MiB",
		       "'%s/%s' --scratch-disk 0 -- true 2>&1", top(), vm);
	ASSERT_REFUSES(2, "got '1G'", "'%s/%s' --scratch-disk 1G -- true 2>&1",
		       top(), vm);
	ASSERT_REFUSES(2, "single or multi",
		       "'%s/%s' --tcg-thread 2 -- true 2>&1", top(), vm);
}
