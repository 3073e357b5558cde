// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fault-injection matrix's short version (selftests/faults.sh, which
 * `make faults RUNS=N` runs in full): kopt SIGKILLed at random points of
 * a run and of its restore, the journal's disk full, and plants that
 * hang, die and lie, each followed by a check that the host reads back
 * exactly as before (knobs, XDP, bpffs mounts, pins, journal). The seed
 * is printed; KOPT_FAULTS_SEED=N repeats a run.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define OUT_CAP (1 << 16)

/* faults.sh PARTS with RUNS runs; its exit status, output in out. */
static int faults(char *out, const char *parts, int runs)
{
	const char *env = getenv("KOPT_FAULTS_SEED");
	long seed = env ? strtol(env, NULL, 10) : (long)time(NULL) % 100000;
	char *real;
	int st;

	if (geteuid()) {
		SKIP("needs root (namespaces, sysfs, XDP, mounts)");
		return -1;
	}
	if (kopt_test_run(NULL, 0,
			  "command -v memcached && command -v jq && "
			  "command -v nsenter && command -v bpftool")) {
		SKIP("needs memcached, jq, nsenter and bpftool");
		return -1;
	}
	real = realpath(kopt_test_builddir(), NULL);
	printf("  faults.sh --parts %s --runs %d --seed %ld\n", parts, runs,
	       seed);
	st = kopt_test_run(out, OUT_CAP,
			   "bash %.3000s/../selftests/faults.sh %s "
			   "%s/faults-%s-%d --parts %s --runs %d --seed %ld",
			   real ? real : "build", kopt_test_bin(),
			   kopt_test_tmpdir(), parts, getpid(), parts, runs,
			   seed);
	free(real);
	printf("%s", out);
	if (st == 77) {
		SKIP("faults.sh could not build its testbed (see above)");
		return -1;
	}
	return st;
}

/*
 * Eight runs: kopt (a host plant with XDP, a knob, the NIC collector)
 * SIGKILLed at a random instant, then restored plainly, through a restore
 * killed from outside, or through one that kills itself after its Kth
 * entry; every fifth run also kills a kopt writing its journal. The host
 * must read back as before after every run.
 */
KOPT_TEST_TIMEOUT(faults_sigkill_matrix, 240)
{
	static char out[OUT_CAP];
	int st = faults(out, "kill", 8);

	if (st < 0)
		return;
	ASSERT_EQ(st, 0, "every run left the host as it was");
	ASSERT_HAS(out, "host restored after 8 of 8", "summary");
	ASSERT_HAS(out, "faults: 0 failure(s)", "no failure");
}

/*
 * The journal's file system full. Before the fix kopt said "Input/output
 * error" and blamed the sysfs file ("gro_flush_timeout: ..."): the refusal
 * must name the journal and the full disk, and change nothing; a plant
 * whose journal's disk fills while it holds XDP, bpffs and a knob must
 * still undo all of it.
 */
KOPT_TEST(faults_journal_disk_full)
{
	static char out[OUT_CAP];
	int st = faults(out, "disk", 1);

	if (st < 0)
		return;
	ASSERT_EQ(st, 0, "faults.sh disk");
	ASSERT_HAS(out, "disk full at start: refused", "refused");
	ASSERT_HAS(out, "No space left on device", "says why");
	ASSERT_HAS(out, "undone on exit (exit 0), journal gone, host as before",
		   "undone with a full disk");
	ASSERT_TRUE(!strstr(out, "gro_flush_timeout: No space"),
		    "does not blame the knob's file");
}

/*
 * Host plants that hang, die and lie (negative energy, p50 above p99, not
 * JSON) once the knob is set: kopt run ends non-zero naming the cause,
 * and the knob reads back as before.
 */
KOPT_TEST_TIMEOUT(faults_plant_hang_die_lie, 240)
{
	static char out[OUT_CAP];
	int st = faults(out, "plant", 1);

	if (st < 0)
		return;
	ASSERT_EQ(st, 0, "faults.sh plant");
	ASSERT_HAS(out, "plant hang: exit 1", "hang");
	ASSERT_HAS(out, "plant die: exit 1", "die");
	ASSERT_HAS(out, "plant lie: exit 1", "lie");
	ASSERT_HAS(out, "plant liep: exit 1", "lie about p50");
	ASSERT_HAS(out, "plant garbage: exit 1", "garbage");
}

/*
 * kopt SIGKILLed while it writes its journal (KOPT_FAULT_KILL=save:1:
 * after the temporary file is written, before the rename) changed
 * nothing, but its temporary file stayed: `kopt restore` said "nothing to
 * restore" and left it, a journal-looking file in the state directory,
 * until some later kopt took the lock. Restore removes it now.
 */
KOPT_TEST(faults_restore_removes_cut_journal_write)
{
	char ns[64], dir[256], out[4096];
	int st;

	if (geteuid()) {
		SKIP("needs root (network namespaces, sysfs writes)");
		return;
	}
	snprintf(ns, sizeof(ns), "kopt-fw-%d", getpid());
	snprintf(dir, sizeof(dir), "%s/fw-%d", kopt_test_tmpdir(), getpid());
	if (kopt_test_run(NULL, 0,
			  "ip netns add %s && ip -n %s link add kw0 type veth "
			  "peer name kw1 && ip -n %s link set kw0 up",
			  ns, ns, ns)) {
		kopt_test_run(NULL, 0, "ip netns del %s", ns);
		SKIP("cannot create a network namespace with veth");
		return;
	}
	st = kopt_test_run(
		out, sizeof(out),
		"KOPT_FAULT_KILL=save:1 KOPT_STATE_DIR=%s ip netns "
		"exec %s %s knob set sw-coalesce kw0 gro-flush-usecs "
		"33 --hold 5",
		dir, ns, kopt_test_bin());
	ASSERT_EQ(st, 128 + SIGKILL, "killed by its own SIGKILL");
	ASSERT_EQ(kopt_test_run(NULL, 0, "ls %s/state.json.* >/dev/null", dir),
		  0, "the cut write's temporary file is there");
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"ip netns exec %s cat "
				"/sys/class/net/kw0/gro_flush_timeout",
				ns),
		  0, "read the knob");
	ASSERT_EQ(strtol(out, NULL, 10), 0, "the knob was not changed");
	st = kopt_test_run(out, sizeof(out),
			   "KOPT_STATE_DIR=%s ip netns exec %s %s restore", dir,
			   ns, kopt_test_bin());
	ASSERT_EQ(st, 0, out);
	ASSERT_HAS(out, "nothing to restore", "nothing was changed");
	ASSERT_NEQ(kopt_test_run(NULL, 0, "ls %s/state.json* 2>/dev/null", dir),
		   0, "no journal and no temporary file left");
	kopt_test_run(NULL, 0, "ip netns del %s", ns);
}

/*
 * kopt SIGKILLed between mounting bpffs for libxdp and the journal update
 * that records the mount's device and what a fresh bpffs held (here by
 * KOPT_FAULT_KILL=save:2; a kill from outside lands there too). The entry
 * then has no listing, so the restore took bpf_preload's maps.debug and
 * progs.debug for others' pins and left kopt's mount behind. The mount
 * namespace is kept alive by a `sleep`, as a host's own would be.
 */
KOPT_TEST(faults_bpffs_mount_cut_before_update)
{
	char ns[64], dir[256], out[8192];
	int st;

	if (geteuid()) {
		SKIP("needs root (namespaces, mounts, XDP)");
		return;
	}
	snprintf(ns, sizeof(ns), "kopt-fm-%d", getpid());
	snprintf(dir, sizeof(dir), "%s/fm-%d", kopt_test_tmpdir(), getpid());
	if (kopt_test_run(NULL, 0,
			  "ip netns add %s && ip -n %s link add km0 type veth "
			  "peer name km1 && ip -n %s link set km0 up && "
			  "ip -n %s link set km1 up",
			  ns, ns, ns, ns)) {
		kopt_test_run(NULL, 0, "ip netns del %s", ns);
		SKIP("cannot create a network namespace with veth");
		return;
	}
	st = kopt_test_run(
		out, sizeof(out),
		"ip netns exec %s sleep 100 & H=$!; sleep 0.3; "
		"X=\"nsenter -t $H -m -n env KOPT_STATE_DIR=%s\"; "
		"mountpoint -q /proc/$H/root/sys/fs/bpf && echo PREMOUNTED; "
		"KOPT_FAULT_KILL=save:2 $X %s collect nic -i km0 --xdp skb "
		"--duration 3 >/dev/null 2>&1; echo \"collect exit $?\"; "
		"nsenter -t $H -m mountpoint -q /sys/fs/bpf && echo MOUNTED; "
		"grep -Eq '\"original\": ?0,' %s/state.json && echo UNUPDATED; "
		"$X %s restore; echo \"restore exit $?\"; "
		"nsenter -t $H -m mountpoint -q /sys/fs/bpf && echo STILL; "
		"kill $H",
		ns, dir, kopt_test_bin(), dir, kopt_test_bin());
	printf("%s", out);
	ASSERT_EQ(st, 0, "script");
	ASSERT_FALSE(strstr(out, "PREMOUNTED"), "no bpffs there before");
	ASSERT_HAS(out, "collect exit 137", "killed in its second write");
	ASSERT_HAS(out, "MOUNTED", "its bpffs stayed mounted");
	ASSERT_HAS(out, "UNUPDATED", "the entry was never updated");
	ASSERT_HAS(out, "restore exit 0", "restored");
	ASSERT_HAS(out, "bpffs = unmounted", "the restore unmounted it");
	ASSERT_FALSE(strstr(out, "STILL"), "no bpffs left mounted");
	kopt_test_run(NULL, 0, "ip netns del %s", ns);
}
