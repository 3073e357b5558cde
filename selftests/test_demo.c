// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest `make demo` boots: Debian's own linux-image-6.12 package
 * (kernel-patches/debian-kernel.sh), its 9p, overlay and e1000e modules
 * packed by mkinitramfs.sh --modules, booted by vm-run.sh. The demo needs
 * three things of it, checked here: it is the packaged kernel, its NIC
 * is the e1000e, and kopt's ethtool-netlink actuator sets rx-usecs there,
 * reads the value back and restores it. The same guest runs kopt bench
 * collector where libxdp uses its dispatcher, which this host refuses.
 *
 * Runs on the host (it boots the VM itself); needs root (the kernel cache
 * under /var/cache/kopt) and Debian's archive (apt-get download).
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "guest_util.h"
#include "test.h"

#define OUT_LEN 8192

static const char *top(void)
{
	return guest_srcdir();
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

/* may fetch the kernel package, then boots a TCG guest: 30 min */
KOPT_TEST_TIMEOUT(demo_debian_kernel_guest, 1800)
{
	char dir[PATH_MAX], initrd[PATH_MAX], pkg[256], kver[128];
	static char out[OUT_LEN];
	char *hit;

	if (!debian_guest(dir, sizeof(dir), initrd, sizeof(initrd)))
		return;
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
				  "rx-usecs; %s knob set nic-coalesce eth0 "
				  "rx-usecs 3 --hold 0.2; echo mode-rc=$?' "
				  "2>&1",
				  top(), dir, initrd, kopt_test_bin(),
				  kopt_test_bin(), kopt_test_bin()),
		    out))
		return;
	hit = strstr(out, kver);
	ASSERT_TRUE(hit != NULL, "the guest runs the packaged kernel");
	ASSERT_HAS(out, "/e1000e", "eth0 is the e1000e");
	/* set, read back (the line), held, then the original restored */
	ASSERT_HAS(out, "nic-coalesce eth0 rx-usecs = 100",
		   "rx-usecs set through ethtool netlink");
	ASSERT_HAS(out, "restored nic-coalesce eth0 rx-usecs", "restored");
	/* e1000e reads rx-usecs 1-4 as modes: not offered as a delay */
	ASSERT_HAS(out, "3 is not a delay for e1000e", "mode value refused");
	ASSERT_HAS(out, "mode-rc=1", "refused with status 1");
}

/*
 * kopt bench collector where libxdp attaches through its dispatcher (the
 * guest allows BPF trampolines; this host does not). Every round must
 * attach the XDP counter again, although kopt removed libxdp's state
 * directory after the round before and libxdp remembers only its path;
 * and its figure must be the dispatcher's, the program whose run-time
 * statistics the kernel keeps. One TCG thread: repeated attaching and
 * detaching of the cpu_idle program kills multi-threaded TCG guests now
 * and then (kernel-patches/README.md).
 *
 * Time limit: it may fetch the kernel package, and the guest alone may
 * take 300 s: 30 min.
 */
KOPT_TEST_TIMEOUT(nic_bench_rounds_dispatcher_guest, 1800)
{
	char dir[PATH_MAX], initrd[PATH_MAX];
	struct json_object *o, *progs = NULL, *p = NULL, *v = NULL;
	static char out[2 * OUT_LEN];

	if (!debian_guest(dir, sizeof(dir), initrd, sizeof(initrd)))
		return;
	/* vm-run.sh's own lines come first: KOPT_TEST_RUN_JSON skips them */
	o = KOPT_TEST_RUN_JSON(out, sizeof(out),
			       "'%s/kernel-patches/vm-run.sh' --kernel "
			       "'%s/vmlinuz' --initrd '%s' --tcg-thread single "
			       "--timeout 300 -- sh -c '%s bench collector "
			       "--json --rounds 2 --round-trips 300 --repeat "
			       "100 2>/dev/null' 2>/dev/null",
			       top(), dir, initrd, kopt_test_bin());
	if (!o)
		return;
	json_object_object_get_ex(o, "programs", &progs);
	json_object_object_get_ex(progs, "nic_xdp_count_via_dispatcher", &p);
	if (ASSERT_OK_PTR(p, "the XDP entry is the dispatcher's")) {
		json_object_object_get_ex(p, "rounds", &v);
		ASSERT_EQ(json_object_get_int(v), 2, "attached in every round");
		json_object_object_get_ex(p, "run_cnt", &v);
		ASSERT_GT(json_object_get_int64(v), 0, "the dispatcher's runs");
	}
	json_object_put(o);
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

/*
 * make demo, part 1: the controller on the replayed measured memcached
 * sweep under both published SLAs, the guest skipped. It must run from
 * the build alone, print each SLA's saving against stock and oracle with
 * the table's credit, and write summaries whose figures agree: kopt
 * saving energy within the SLA on the real server's measurements.
 */
KOPT_TEST_TIMEOUT(demo_replay_part, 300)
{
	static char out[OUT_LEN];
	char path[PATH_MAX];
	struct json_object *j, *v, *o;
	const int slas[] = { 500, 200 };

	if (!ASSERT_OK(kopt_test_run(
			       out, sizeof(out),
			       "KOPT_DEMO_GUEST=0 KOPT_DEMO_OUT='%s/demo' "
			       "'%s/kernel-patches/demo.sh' '%s'",
			       kopt_test_tmpdir(), top(), kopt_test_builddir()),
		       out))
		return;
	ASSERT_HAS(out, "awadyn/nic-tuning-experiments", "the table's credit");
	ASSERT_HAS(out, "replayed-measured", "labelled");
	ASSERT_HAS(out, "p99 < 500 us: kopt saved", "SLA 500 line");
	ASSERT_HAS(out, "p99 < 200 us: kopt saved", "SLA 200 line");
	ASSERT_HAS(out, "part 2 (the guest) skipped", "guest skipped, said");
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path),
			 "%s/demo/replay-sla%d/summary.json",
			 kopt_test_tmpdir(), slas[i]);
		j = json_object_from_file(path);
		if (!ASSERT_TRUE(j != NULL, path))
			continue;
		ASSERT_TRUE(json_object_object_get_ex(j, "source", &v) &&
				    !strcmp(json_object_get_string(v),
					    "replay"),
			    "replayed figures");
		/* kopt saves, and a good part of what the oracle saves */
		ASSERT_TRUE(json_object_object_get_ex(j, "saving_vs_stock",
						      &v) &&
				    json_object_get_double(v) > 0.1,
			    "saving vs stock > 10%");
		ASSERT_TRUE(json_object_object_get_ex(j, "oracle", &o) &&
				    json_object_object_get_ex(
					    o, "fraction_of_saving_achieved",
					    &v) &&
				    json_object_get_double(v) > 0.6,
			    "more than 60% of the oracle's saving");
		snprintf(path, sizeof(path),
			 "%s/demo/replay-sla%d/energy_latency.png",
			 kopt_test_tmpdir(), slas[i]);
		ASSERT_TRUE(access(path, R_OK) == 0, "picture drawn");
		json_object_put(j);
	}
}
