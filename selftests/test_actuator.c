// SPDX-License-Identifier: GPL-2.0-only
/*
 * Actuator and restore tests against real kernel interfaces: software
 * coalescing sysfs on a veth in a private network namespace (the only
 * coalescing knob this sandbox has), ethtool coalescing refused on veth,
 * cpufreq against its absence. Every restore path is exercised: normal
 * exit, SIGTERM, SIGKILL then `kopt restore`, SIGKILL then the next start.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "actuator.h"
#include "test.h"

struct ns_env {
	char ns[64];
	char state[256];
	char log[256];
};

static bool ns_setup(struct ns_env *e)
{
	static int seq;

	seq++;
	if (geteuid()) {
		SKIP("needs root (network namespaces, sysfs writes)");
		return false;
	}
	snprintf(e->ns, sizeof(e->ns), "kopt-act-%d", getpid());
	/* per test (a process each): a failed test's journal stays its own */
	snprintf(e->state, sizeof(e->state), "%s/state-%d-%d",
		 kopt_test_tmpdir(), getpid(), seq);
	snprintf(e->log, sizeof(e->log), "%s/knob.log", kopt_test_tmpdir());
	if (kopt_test_run(NULL, 0,
			  "ip netns add %s && ip -n %s link add kv0 type veth "
			  "peer name kv1 && ip -n %s link set kv0 up && "
			  "ip -n %s link set kv1 up",
			  e->ns, e->ns, e->ns, e->ns)) {
		kopt_test_run(NULL, 0, "ip netns del %s", e->ns);
		SKIP("cannot create a network namespace with veth");
		return false;
	}
	return true;
}

static void ns_teardown(struct ns_env *e)
{
	kopt_test_run(NULL, 0, "ip netns del %s", e->ns);
}

static long ns_sysfs(struct ns_env *e, const char *file)
{
	char out[64];

	if (kopt_test_run(out, sizeof(out),
			  "ip netns exec %s cat /sys/class/net/kv0/%s", e->ns,
			  file))
		return -1;
	return strtol(out, NULL, 10);
}

/* Runs `kopt ARGS` inside the namespace with the test's state dir. */
static int ns_kopt(struct ns_env *e, char *out, size_t cap, const char *args)
{
	return kopt_test_run(out, cap,
			     "KOPT_STATE_DIR=%s ip netns exec %s %s %s",
			     e->state, e->ns, kopt_test_bin(), args);
}

/*
 * Starts `kopt knob set ... ` in the background and waits (bounded) for
 * its "holding" line, so the knob is known to be set. Returns the pid.
 */
static long ns_kopt_hold(struct ns_env *e, const char *args)
{
	char out[64];

	if (kopt_test_run(out, sizeof(out),
			  "KOPT_STATE_DIR=%s ip netns exec %s %s knob set %s "
			  ">%s 2>&1 & P=$!; for i in $(seq 100); do "
			  "grep -q holding %s && break; sleep 0.05; done; "
			  "grep -q holding %s && echo $P",
			  e->state, e->ns, kopt_test_bin(), args, e->log,
			  e->log, e->log))
		return -1;
	return strtol(out, NULL, 10);
}

static bool journal_exists(struct ns_env *e)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/state.json", e->state);
	return access(path, F_OK) == 0;
}

static void wait_pid(long pid)
{
	/* bounded: the process restores and exits within ~1 s of a signal */
	kopt_test_run(NULL, 0,
		      "for i in $(seq 100); do kill -0 %ld 2>/dev/null || "
		      "exit 0; sleep 0.05; done; exit 1",
		      pid);
}

KOPT_TEST(act_sw_coalesce_hold_and_exit)
{
	struct ns_env e;
	char out[4096];

	if (!ns_setup(&e))
		return;
	ASSERT_EQ(ns_sysfs(&e, "gro_flush_timeout"), 0, "initial");
	ASSERT_EQ(ns_kopt(&e, out, sizeof(out),
			  "knob set sw-coalesce kv0 gro-flush-usecs 200 "
			  "--hold 0.3"),
		  0, "set and hold");
	ASSERT_HAS(out, "holding", "set reported");
	ASSERT_HAS(out, "restored sw-coalesce kv0 gro-flush-usecs", "restore");
	ASSERT_EQ(ns_sysfs(&e, "gro_flush_timeout"), 0, "restored on exit");
	ASSERT_FALSE(journal_exists(&e), "journal removed");
	ns_teardown(&e);
}

KOPT_TEST(act_sw_coalesce_sigterm)
{
	struct ns_env e;
	long pid;

	if (!ns_setup(&e))
		return;
	pid = ns_kopt_hold(&e, "sw-coalesce kv0 napi-defer-hard-irqs 7");
	if (ASSERT_GT(pid, 0, "knob set started")) {
		ASSERT_EQ(ns_sysfs(&e, "napi_defer_hard_irqs"), 7, "set");
		ASSERT_TRUE(journal_exists(&e), "journaled while held");
		kill(pid, SIGTERM);
		wait_pid(pid);
		ASSERT_EQ(ns_sysfs(&e, "napi_defer_hard_irqs"), 0,
			  "restored after SIGTERM");
		ASSERT_FALSE(journal_exists(&e), "journal removed");
	}
	ns_teardown(&e);
}

KOPT_TEST(act_sw_coalesce_sigkill_restore)
{
	struct ns_env e;
	char out[4096];
	long pid;

	if (!ns_setup(&e))
		return;
	pid = ns_kopt_hold(&e, "sw-coalesce kv0 gro-flush-usecs 300");
	if (!ASSERT_GT(pid, 0, "knob set started"))
		goto out;
	kill(pid, SIGKILL);
	wait_pid(pid);
	ASSERT_EQ(ns_sysfs(&e, "gro_flush_timeout"), 300000,
		  "SIGKILL leaves the change");
	ASSERT_TRUE(journal_exists(&e), "journal survives SIGKILL");
	ASSERT_EQ(ns_kopt(&e, out, sizeof(out), "restore"), 0, "kopt restore");
	ASSERT_HAS(out, "restored", "restore reported");
	ASSERT_EQ(ns_sysfs(&e, "gro_flush_timeout"), 0, "restored");
	ASSERT_FALSE(journal_exists(&e), "journal removed");
	ASSERT_EQ(ns_kopt(&e, out, sizeof(out), "restore"), 0, "idempotent");
	ASSERT_HAS(out, "nothing to restore", "second restore");
out:
	ns_teardown(&e);
}

KOPT_TEST(act_sw_coalesce_sigkill_next_start)
{
	struct ns_env e;
	char out[4096];
	long pid;

	if (!ns_setup(&e))
		return;
	pid = ns_kopt_hold(&e, "sw-coalesce kv0 gro-flush-usecs 400");
	if (!ASSERT_GT(pid, 0, "knob set started"))
		goto out;
	kill(pid, SIGKILL);
	wait_pid(pid);
	ASSERT_EQ(ns_kopt(&e, out, sizeof(out),
			  "knob set sw-coalesce kv0 napi-defer-hard-irqs 2 "
			  "--hold 0.1"),
		  0, "next start");
	ASSERT_HAS(out, "restored sw-coalesce kv0 gro-flush-usecs = 0",
		   "crash leftovers restored first");
	ASSERT_EQ(ns_sysfs(&e, "gro_flush_timeout"), 0, "flush restored");
	ASSERT_EQ(ns_sysfs(&e, "napi_defer_hard_irqs"), 0, "defer restored");
	ASSERT_FALSE(journal_exists(&e), "journal removed");
out:
	ns_teardown(&e);
}

KOPT_TEST(act_busy_while_held)
{
	struct ns_env e;
	char out[4096];
	long pid;

	if (!ns_setup(&e))
		return;
	pid = ns_kopt_hold(&e, "sw-coalesce kv0 gro-flush-usecs 100");
	if (!ASSERT_GT(pid, 0, "knob set started"))
		goto out;
	ASSERT_EQ(ns_kopt(&e, out, sizeof(out),
			  "knob set sw-coalesce kv0 napi-defer-hard-irqs 3 "
			  "--hold 0.1"),
		  1, "second kopt refused");
	ASSERT_HAS(out, "holds the host's knobs", "owner named");
	ASSERT_EQ(ns_sysfs(&e, "napi_defer_hard_irqs"), 0, "nothing changed");
	ASSERT_EQ(ns_kopt(&e, out, sizeof(out), "restore"), 1,
		  "restore refuses a live owner");
	kill(pid, SIGTERM);
	wait_pid(pid);
	ASSERT_EQ(ns_sysfs(&e, "gro_flush_timeout"), 0, "restored");
out:
	ns_teardown(&e);
}

KOPT_TEST(act_bad_values_change_nothing)
{
	struct ns_env e;
	char out[4096];

	if (!ns_setup(&e))
		return;
	ASSERT_EQ(ns_kopt(&e, out, sizeof(out),
			  "knob set sw-coalesce kv0 gro-flush-usecs -5"),
		  1, "negative value");
	ASSERT_HAS(out, "outside", "range named");
	ASSERT_EQ(ns_kopt(&e, out, sizeof(out),
			  "knob set sw-coalesce kv0 gro-flush-usecs 1e3"),
		  2, "non-integer");
	ASSERT_EQ(ns_kopt(&e, out, sizeof(out),
			  "knob set sw-coalesce kv0 bogus-knob 1"),
		  2, "unknown knob");
	ASSERT_EQ(ns_kopt(&e, out, sizeof(out),
			  "knob set sw-coalesce nosuchif0 gro-flush-usecs 1"),
		  1, "unknown interface");
	ASSERT_HAS(out, "no network interface 'nosuchif0'", "interface named");
	ASSERT_EQ(ns_kopt(&e, out, sizeof(out), "knob set warp kv0 x 1"), 2,
		  "unknown kind");
	ASSERT_HAS(out,
		   "kopt knob set: KIND 'warp': expected nic-coalesce, "
		   "sw-coalesce or cpufreq\nTry 'kopt knob set --help'.",
		   "usage error in the one format");
	ASSERT_EQ(ns_sysfs(&e, "gro_flush_timeout"), 0, "nothing changed");
	ASSERT_FALSE(journal_exists(&e), "nothing journaled");
	ns_teardown(&e);
}

KOPT_TEST(act_nic_coalesce_veth_refused)
{
	struct ns_env e;
	char out[4096];

	if (!ns_setup(&e))
		return;
	ASSERT_EQ(ns_kopt(&e, out, sizeof(out),
			  "knob get nic-coalesce kv0 rx-usecs"),
		  1, "veth has no coalescing");
	ASSERT_HAS(out, "not available", "reason given");
	ASSERT_HAS(out, "COALESCE_GET", "names the step");
	ns_teardown(&e);
}

KOPT_TEST(act_cpufreq_absent)
{
	char out[4096];

	if (geteuid()) {
		SKIP("needs root");
		return;
	}
	if (!access("/sys/devices/system/cpu/cpu0/cpufreq", F_OK)) {
		SKIP("this host has cpufreq: the absence path cannot be tested "
		     "(the set path needs a disposable host)");
		return;
	}
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"KOPT_STATE_DIR=%s %s knob set cpufreq 0 "
				"freq-khz 1000000",
				kopt_test_tmpdir(), kopt_test_bin()),
		  1, "cpufreq set refused");
	ASSERT_HAS(out, "no cpufreq driver", "absence explained");
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"KOPT_STATE_DIR=%s %s knob set cpufreq 0-x "
				"freq-khz 1000000",
				kopt_test_tmpdir(), kopt_test_bin()),
		  2, "bad cpu list");
}

/*
 * cpufreq is journaled per policy: CPUs sharing one share its governor and
 * limits, so per-CPU entries recorded kopt's own value as the "original"
 * of the second CPU. Which policy a CPU belongs to comes from its cpufreq
 * link; a fake sysfs tree stands in for the host's (this one has no
 * cpufreq), in both layouts: cpuN/cpufreq -> ../cpufreq/policyM, and old
 * kernels' cpuN/cpufreq -> ../cpuM/cpufreq or a directory of its own.
 */
KOPT_TEST(act_cpufreq_policy_of_cpu)
{
	char root[300];

	snprintf(root, sizeof(root), "%s/fake-cpu-%d", kopt_test_tmpdir(),
		 getpid());
	if (!ASSERT_OK(
		    kopt_test_run(NULL, 0,
				  "set -e; r=%s; mkdir -p $r/cpufreq/policy0 "
				  "$r/cpufreq/policy2 $r/cpu0 $r/cpu1 $r/cpu2 "
				  "$r/cpu3 $r/cpu4/cpufreq $r/cpu5 $r/cpu6; "
				  "ln -s ../cpufreq/policy0 $r/cpu0/cpufreq; "
				  "ln -s ../cpufreq/policy0 $r/cpu1/cpufreq; "
				  "ln -s ../cpufreq/policy2 $r/cpu2/cpufreq; "
				  "ln -s ../cpufreq/policy2 $r/cpu3/cpufreq; "
				  "ln -s ../cpu4/cpufreq $r/cpu5/cpufreq",
				  root),
		    "fake sysfs"))
		return;
	ASSERT_EQ(act_cpu_policy(root, 0), 0, "cpu0 in policy0");
	ASSERT_EQ(act_cpu_policy(root, 1), 0, "cpu1 shares policy0");
	ASSERT_EQ(act_cpu_policy(root, 2), 2, "cpu2 in policy2");
	ASSERT_EQ(act_cpu_policy(root, 3), 2, "cpu3 shares policy2");
	ASSERT_EQ(act_cpu_policy(root, 4), 4, "old layout: own directory");
	ASSERT_EQ(act_cpu_policy(root, 5), 4, "old layout: link to cpu4");
	ASSERT_EQ(act_cpu_policy(root, 6), -ENOENT, "no cpufreq");
}

/*
 * Drivers that read small rx-usecs values as mode selectors: e1000e's
 * 1-4 pick its interrupt throttling modes (5-9 it refuses), so the
 * actuator's range skips 1-9 there; a driver that reads every value as a
 * delay skips nothing. (The refusal on a real e1000e is checked in the
 * Debian guest: demo_debian_kernel_guest.)
 */
KOPT_TEST(act_coalesce_driver_modes)
{
	const char *why = NULL;
	long lo = -1, hi = -1;

	if (!ASSERT_OK(act_coalesce_special("e1000e", "rx-usecs", &lo, &hi,
					    &why),
		       "e1000e"))
		return;
	ASSERT_EQ(lo, 1, "from 1");
	ASSERT_EQ(hi, 9, "to 9");
	ASSERT_HAS(why, "modes", "why");
	ASSERT_OK(act_coalesce_special("igb", "tx-usecs", &lo, &hi, &why),
		  "igb tx");
	ASSERT_OK(act_coalesce_special("ixgbe", "rx-usecs", &lo, &hi, &why),
		  "ixgbe");
	ASSERT_EQ(hi, 1, "ixgbe: 1 only");
	ASSERT_EQ(act_coalesce_special("virtio_net", "rx-usecs", &lo, &hi,
				       &why),
		  -ENOENT, "virtio_net: every value a delay");
	ASSERT_EQ(act_coalesce_special("e1000e", "tx-usecs", &lo, &hi, &why),
		  -ENOENT, "e1000e has no tx-usecs modes");
}
