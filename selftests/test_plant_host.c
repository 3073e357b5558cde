// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host plant against real kernel interfaces: a veth pair between two
 * private network namespaces, memcached in one, `kopt plant host` in the
 * other turning software coalescing (veth has no NIC coalescing) while
 * its load generator measures latency. Checks the protocol replies, that
 * the knob really moves and is restored for the stock policy and on exit,
 * that a DVFS request on a host without the knob changes nothing, and a
 * short `kopt run --plant host` end to end.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <json-c/json.h>

#include "test.h"

struct hp_env {
	char a[32], b[32], state[256];
	int port;
};

static bool hp_setup(struct hp_env *e)
{
	static int seq;

	if (geteuid()) {
		SKIP("needs root (namespaces, sysfs, BPF)");
		return false;
	}
	if (kopt_test_run(NULL, 0, "command -v memcached")) {
		SKIP("memcached not installed");
		return false;
	}
	seq++;
	snprintf(e->a, sizeof(e->a), "kph-a-%d-%d", getpid(), seq);
	snprintf(e->b, sizeof(e->b), "kph-b-%d-%d", getpid(), seq);
	/* per test (a process each): a failed test's journal stays its own */
	snprintf(e->state, sizeof(e->state), "%s/hp-state-%d-%d",
		 kopt_test_tmpdir(), getpid(), seq);
	e->port = 12000 + (getpid() + seq) % 20000;
	if (kopt_test_run(
		    NULL, 0,
		    "set -e; ip netns add %s; ip netns add %s; "
		    "ip link add kph0 netns %s type veth peer name kph1 netns %s; "
		    "ip -n %s addr add 10.77.8.1/24 dev kph0; "
		    "ip -n %s addr add 10.77.8.2/24 dev kph1; "
		    "ip -n %s link set kph0 up; ip -n %s link set kph1 up; "
		    "ip -n %s link set lo up; ip -n %s link set lo up; "
		    "ip netns exec %s memcached -u nobody -l 10.77.8.2 -p %d -d; "
		    "for i in $(seq 100); do ip netns exec %s bash -c "
		    "'exec 3<>/dev/tcp/10.77.8.2/%d' 2>/dev/null && break; "
		    "sleep 0.05; done",
		    e->a, e->b, e->a, e->b, e->a, e->b, e->a, e->b, e->a, e->b,
		    e->b, e->port, e->a, e->port)) {
		kopt_test_run(NULL, 0, "ip netns del %s; ip netns del %s", e->a,
			      e->b);
		SKIP("cannot build the two-namespace testbed");
		return false;
	}
	return true;
}

static void hp_teardown(struct hp_env *e)
{
	/* every process of the namespaces goes with them */
	kopt_test_run(NULL, 0,
		      "ip netns pids %s | xargs -r kill; ip netns pids %s | "
		      "xargs -r kill; ip netns del %s; ip netns del %s",
		      e->a, e->b, e->a, e->b);
}

static long flush_ns(struct hp_env *e)
{
	char out[64];

	if (kopt_test_run(out, sizeof(out),
			  "ip netns exec %s cat "
			  "/sys/class/net/kph0/gro_flush_timeout",
			  e->a))
		return -1;
	return strtol(out, NULL, 10);
}

/* Each reply line of the plant, parsed; NULL where a line is missing. */
static int parse_lines(char *out, struct json_object **o, int max)
{
	char *line, *save = NULL;
	int n = 0;

	for (line = strtok_r(out, "\n", &save); line && n < max;
	     line = strtok_r(NULL, "\n", &save))
		if (line[0] == '{')
			o[n++] = json_tokener_parse(line);
	return n;
}

static double jd(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_double(v) :
						     -1;
}

static const char *js(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) :
						     "";
}

KOPT_TEST(plant_host_veth_protocol)
{
	struct json_object *r[4] = {};
	static char out[16384];
	struct hp_env e;
	int st, n, i;

	if (!hp_setup(&e))
		return;
	/*
	 * Window 1 sets 300 us and, while it runs, the test's shell reads
	 * the sysfs value (the plant holds it for the window); window 2 is
	 * the stock policy; request 3 asks for a frequency this plant
	 * cannot set.
	 */
	st = kopt_test_run(
		out, sizeof(out),
		"{ echo '{\"itr_us\":300,\"freq_mhz\":null,\"seconds\":1.5}'; "
		"sleep 0.7; ip netns exec %s cat "
		"/sys/class/net/kph0/gro_flush_timeout > %s/held; "
		"echo '{\"itr_us\":null,\"freq_mhz\":null,\"seconds\":1}'; "
		"echo '{\"itr_us\":20,\"freq_mhz\":1800,\"seconds\":1}'; } | "
		"KOPT_STATE_DIR=%s ip netns exec %s %s plant host --ifname kph0 "
		"--coalesce sw --server 10.77.8.2:%d --rate 1000 --no-bpf "
		"2>/dev/null",
		e.a, kopt_test_tmpdir(), e.state, e.a, kopt_test_bin(), e.port);
	ASSERT_EQ(st, 0, "plant exit status");
	n = parse_lines(out, r, 4);
	if (!ASSERT_EQ(n, 3, "three replies"))
		goto out;
	ASSERT_GT(jd(r[0], "energy_j"), 0, "energy");
	ASSERT_GT(jd(r[0], "p99_us"), 0, "p99 measured");
	ASSERT_NEAR(jd(r[0], "qps"), 1000, 100, "achieved load");
	ASSERT_STREQ(js(r[0], "source"), "estimate", "energy labelled");
	ASSERT_EQ(kopt_test_run(NULL, 0, "grep -qx 300000 %s/held",
				kopt_test_tmpdir()),
		  0, "knob held at 300 us during the window");
	ASSERT_GT(jd(r[1], "p99_us"), 0, "stock window measured");
	ASSERT_HAS(js(r[2], "error"), "no DVFS knob", "DVFS refused");
	ASSERT_EQ(flush_ns(&e), 0, "restored after the run");
	ASSERT_EQ(access(e.state, F_OK) == 0 &&
			  kopt_test_run(NULL, 0, "test -e %s/state.json",
					e.state) == 0,
		  0, "journal gone");
out:
	for (i = 0; i < 4; i++)
		json_object_put(r[i]);
	hp_teardown(&e);
}

/*
 * A policy's third knob by name: defer_irqs is napi_defer_hard_irqs,
 * held for the window, journaled and restored; another name, or a value
 * the interface does not take, is refused and changes nothing.
 */
KOPT_TEST(plant_host_defer_knob)
{
	struct json_object *r[4] = {};
	static char out[16384];
	char held[64];
	struct hp_env e;
	int st, n, i;

	if (!hp_setup(&e))
		return;
	st = kopt_test_run(
		out, sizeof(out),
		"{ echo '{\"itr_us\":50,\"freq_mhz\":null,\"knobs\":"
		"{\"defer_irqs\":3},\"seconds\":1.5}'; "
		"sleep 0.7; ip netns exec %s cat "
		"/sys/class/net/kph0/napi_defer_hard_irqs > %s/defer-held; "
		"echo '{\"itr_us\":50,\"freq_mhz\":null,\"knobs\":"
		"{\"busy_poll\":3},\"seconds\":1}'; "
		"echo '{\"itr_us\":50,\"freq_mhz\":null,\"knobs\":"
		"{\"defer_irqs\":2.5},\"seconds\":1}'; } | "
		"KOPT_STATE_DIR=%s ip netns exec %s %s plant host --ifname kph0 "
		"--coalesce sw --server 10.77.8.2:%d --rate 1000 --no-bpf "
		"2>/dev/null",
		e.a, kopt_test_tmpdir(), e.state, e.a, kopt_test_bin(), e.port);
	ASSERT_EQ(st, 0, "plant exit status");
	n = parse_lines(out, r, 4);
	if (!ASSERT_EQ(n, 3, "three replies"))
		goto out;
	ASSERT_GT(jd(r[0], "energy_j"), 0, "the window with the knob ran");
	ASSERT_EQ(kopt_test_run(held, sizeof(held), "cat %s/defer-held",
				kopt_test_tmpdir()),
		  0, "read during the window");
	ASSERT_EQ(strtol(held, NULL, 10), 3, "defer_irqs held at 3");
	ASSERT_HAS(js(r[1], "error"), "knob busy_poll: this plant turns",
		   "an unknown knob refused");
	ASSERT_HAS(js(r[2], "error"), "2.5 is not a whole number",
		   "a fraction refused");
	ASSERT_EQ(kopt_test_run(held, sizeof(held),
				"ip netns exec %s cat "
				"/sys/class/net/kph0/napi_defer_hard_irqs",
				e.a),
		  0, "read after the run");
	ASSERT_EQ(strtol(held, NULL, 10), 0, "restored after the run");
out:
	for (i = 0; i < 4; i++)
		json_object_put(r[i]);
	hp_teardown(&e);
}

KOPT_TEST(plant_host_bad_input_changes_nothing)
{
	static char out[8192];
	struct hp_env e;
	int st;

	if (!hp_setup(&e))
		return;
	st = kopt_test_run(
		out, sizeof(out),
		"printf '%%s\\n' 'garbage' '{\"itr_us\":-4,\"freq_mhz\":null,"
		"\"seconds\":1}' '{\"itr_us\":null,\"freq_mhz\":1800,"
		"\"seconds\":1}' '{\"itr_us\":10,\"freq_mhz\":null}' "
		"'{\"itr_us\":999999,\"freq_mhz\":null,\"seconds\":1}' "
		"'{\"itr_us\":10,\"freq_mhz\":null,\"seconds\":3000}' | "
		"KOPT_STATE_DIR=%s timeout 30 ip netns exec %s %s plant host "
		"--ifname kph0 --coalesce sw --no-bpf 2>/dev/null",
		e.state, e.a, kopt_test_bin());
	ASSERT_EQ(st, 0, "plant exit status");
	ASSERT_HAS(out, "not a JSON object", "garbage");
	ASSERT_HAS(out, "non-negative", "negative ITR");
	ASSERT_HAS(out, "itr_us is null", "half-stock request");
	ASSERT_HAS(out, "seconds: missing", "missing seconds");
	ASSERT_HAS(out, "outside", "ITR out of range");
	/* the plant's own window limit, not the peer's (--max-window) */
	ASSERT_HAS(out, "seconds: 3000 is outside (0, 60]", "an hour refused");
	ASSERT_EQ(flush_ns(&e), 0, "knob untouched");
	hp_teardown(&e);
}

KOPT_TEST(plant_host_run_end_to_end)
{
	char pol[512], log[512];
	static char out[1 << 16];
	struct json_object *o;
	struct hp_env e;
	FILE *f;
	int st;

	if (!hp_setup(&e))
		return;
	snprintf(pol, sizeof(pol), "%s/host-veth.conf", kopt_test_tmpdir());
	snprintf(log, sizeof(log), "%s/host-veth.csv", kopt_test_tmpdir());
	f = fopen(pol, "w");
	if (!ASSERT_OK_PTR(f, "policy file"))
		goto out;
	fprintf(f,
		"[policy]\nname = host-veth\nobjective = energy\nbaseline = measure\n"
		"[sla]\nkind = latency\npercentile = p99\nbound_us = 100000\n"
		"aim_us = 90000\n[itr]\nmin_us = 0\nmax_us = 400\nstep_us = 50\n"
		"[freq]\nlist_mhz = none\n[window]\nseconds = 0.5\n"
		"[optimizer]\ntrials = 4\ninit_trials = 2\n"
		"[host]\ninterface = kph0\ncoalesce = sw\n"
		"server = 10.77.8.2:%d\nrate = 500\nenergy = estimate\n",
		e.port);
	fclose(f);
	st = kopt_test_run(out, sizeof(out),
			   "KOPT_STATE_DIR=%s ip netns exec %s %s run --policy "
			   "%s --plant host --duration 5 --log %s --json "
			   "2>/dev/null",
			   e.state, e.a, kopt_test_bin(), pol, log);
	ASSERT_EQ(st, 0, "kopt run --plant host");
	o = json_tokener_parse(strchr(out, '{') ? strchr(out, '{') : out);
	if (ASSERT_OK_PTR(o, "summary JSON")) {
		ASSERT_HAS(json_object_to_json_string(o), "estimate",
			   "energy labelled as an estimate");
		json_object_put(o);
	}
	ASSERT_EQ(kopt_test_run(NULL, 0, "grep -q ',,' %s", log), 0,
		  "frequency column empty without a DVFS knob");
	ASSERT_EQ(flush_ns(&e), 0, "knob restored after the run");
out:
	hp_teardown(&e);
}

/*
 * --listen obeys whoever connects, as root: anything but a loopback
 * address or a Unix socket is refused before anything else happens, with
 * the SSH tunnel to use instead. Runs in a private network namespace.
 */
KOPT_TEST(plant_host_listen_refuses_non_loopback)
{
	static const char *const addrs[] = { "0.0.0.0:%d", ":%d", "[::]:%d" };
	char addr[64];
	int port = 20000 + getpid() % 20000;

	if (geteuid()) {
		SKIP("needs root (a private network namespace)");
		return;
	}
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		snprintf(addr, sizeof(addr), addrs[i], port);
		ASSERT_REFUSES(2, "ssh -L",
			       "KOPT_STATE_DIR=%s/lr-state timeout 10 unshare "
			       "--net sh -c 'ip link set lo up && exec %s "
			       "plant host --ifname lo --coalesce sw --no-bpf "
			       "--listen \"%s\"' </dev/null",
			       kopt_test_tmpdir(), kopt_test_bin(), addr);
	}
}

/*
 * A listener on 127.0.0.1 and one on a Unix socket, each driven by
 * `kopt plant host --agent` in the same namespace: the listener keeps to
 * its own policy's ranges and window whatever the peer asks, and
 * restores the knob when the peer hangs up.
 */
static void listen_case(struct hp_env *e, const char *where, const char *pol)
{
	static char out[16384];
	char ready[600];
	int st;

	if (!strncmp(where, "unix:", 5))
		snprintf(ready, sizeof(ready), "test -S %s", where + 5);
	else
		snprintf(ready, sizeof(ready),
			 "ip netns exec %s ss -Htln 'sport = :%d' | grep -q .",
			 e->a, e->port + 1);
	st = kopt_test_run(
		out, sizeof(out),
		"KOPT_STATE_DIR=%s ip netns exec %s %s plant host --ifname kph0 "
		"--coalesce sw --no-bpf --policy %s --listen %s "
		">%s/listener.out 2>&1 & "
		"for i in $(seq 200); do %s && break; sleep 0.05; done; "
		"printf '%%s\\n' '{\"itr_us\":300,\"freq_mhz\":null,\"seconds\":1}' "
		"'{\"itr_us\":450,\"freq_mhz\":null,\"seconds\":1}' "
		"'{\"itr_us\":100,\"freq_mhz\":null,\"seconds\":5}' "
		"'{\"itr_us\":100,\"freq_mhz\":1800,\"seconds\":1}' | "
		"KOPT_STATE_DIR=%s-agent timeout 60 ip netns exec %s %s plant "
		"host --agent %s 2>&1; wait",
		e->state, e->a, kopt_test_bin(), pol, where, kopt_test_tmpdir(),
		ready, e->state, e->a, kopt_test_bin(), where);
	ASSERT_EQ(st, 0, out);
	ASSERT_HAS(out, "\"energy_j\"", "the allowed window measured");
	ASSERT_HAS(out, "itr_us 450 is outside the policy's 0..400",
		   "ITR beyond the listener's policy refused");
	ASSERT_HAS(out, "seconds: 5 is outside (0, 1]",
		   "window longer than the policy's refused");
	ASSERT_HAS(out, "freq_mhz 1800", "frequency refused");
	ASSERT_EQ(flush_ns(e), 0, "restored when the peer hung up");
}

KOPT_TEST(plant_host_listen_loopback_and_unix)
{
	char pol[512], where[600];
	struct hp_env e;
	FILE *f;

	if (!hp_setup(&e))
		return;
	snprintf(pol, sizeof(pol), "%s/listen.conf", kopt_test_tmpdir());
	f = fopen(pol, "w");
	if (!ASSERT_OK_PTR(f, "policy file"))
		goto out;
	fprintf(f, "[policy]\nname = listen\nobjective = energy\n"
		   "[sla]\nkind = latency\nbound_us = 1000\n"
		   "[itr]\nmin_us = 0\nmax_us = 400\nstep_us = 50\n"
		   "[freq]\nlist_mhz = none\n[window]\nseconds = 1\n"
		   "[optimizer]\ntrials = 4\n");
	fclose(f);
	snprintf(where, sizeof(where), "127.0.0.1:%d", e.port + 1);
	listen_case(&e, where, pol);
	snprintf(where, sizeof(where), "unix:%s/plant-%d.sock",
		 kopt_test_tmpdir(), getpid());
	listen_case(&e, where, pol);
	ASSERT_NEQ(access(where + 5, F_OK), 0, "socket removed on exit");
out:
	hp_teardown(&e);
}

/*
 * A plant that misses its reply deadline is stopped (SIGTERM, then
 * SIGKILL 100 ms later), and on the last allowed failure kopt run gives
 * up. A host plant that dies without restoring leaves its changes in the
 * journal (here its wrapper freezes it once the knob is set, keeps it out
 * of the SIGTERM and SIGKILLs it, as happens to a plant slower than 100
 * ms to tear down); kopt run restores them before it exits, instead of
 * leaving them until someone runs `kopt restore`.
 */
KOPT_TEST(plant_host_timeout_restores)
{
	char pol[512], plant[512];
	static char out[1 << 16];
	struct hp_env e;
	FILE *f;
	int st;

	if (!hp_setup(&e))
		return;
	snprintf(pol, sizeof(pol), "%s/host-timeout.conf", kopt_test_tmpdir());
	snprintf(plant, sizeof(plant), "%s/hard-dying-plant.sh",
		 kopt_test_tmpdir());
	f = fopen(pol, "w");
	if (!ASSERT_OK_PTR(f, "policy file"))
		goto out;
	fprintf(f,
		"[policy]\nname = host-timeout\nobjective = energy\n"
		"baseline = none\n"
		"[sla]\nkind = latency\npercentile = p99\nbound_us = 100000\n"
		"[itr]\nmin_us = 300\nmax_us = 400\nstep_us = 50\n"
		"[freq]\nlist_mhz = none\n[window]\nseconds = 1\n"
		"[optimizer]\ntrials = 4\ninit_trials = 2\n"
		"[plant]\ntimeout_s = 3\nmax_failures = 1\n");
	fclose(f);
	f = fopen(plant, "w");
	if (!ASSERT_OK_PTR(f, "plant script"))
		goto out;
	fprintf(f,
		"exec 3<&0\n"
		"setsid %s plant host --ifname kph0 --coalesce sw --no-bpf "
		"--estimate --policy %s --server 10.77.8.2:%d --rate 500 "
		"<&3 &\n"
		"P=$!\n"
		"trap 'kill -KILL $P; wait $P; exit 1' TERM\n"
		"while kill -0 $P 2>/dev/null; do\n"
		"  if [ \"$(cat /sys/class/net/kph0/gro_flush_timeout)\" != 0 ]; "
		"then kill -STOP $P; break; fi\n"
		"  sleep 0.05\n"
		"done\n"
		"wait $P\n",
		kopt_test_bin(), pol, e.port);
	fclose(f);
	st = kopt_test_run(out, sizeof(out),
			   "KOPT_STATE_DIR=%s ip netns exec %s %s run --policy "
			   "%s --plant 'bash %s' --duration 20",
			   e.state, e.a, kopt_test_bin(), pol, plant);
	ASSERT_EQ(st, 1, "kopt run gives up");
	ASSERT_HAS(out, "sent no reply within 3 s", "timed out");
	ASSERT_HAS(out, "left journaled changes behind", "leftovers found");
	ASSERT_EQ(flush_ns(&e), 0, out);
	ASSERT_NEQ(kopt_test_run(NULL, 0, "test -e %s/state.json", e.state), 0,
		   "journal gone");
out:
	hp_teardown(&e);
}

/*
 * The control loop's plant attaches no XDP program to the NIC: the
 * tracepoints count the same packets, and a native attach resets the
 * NIC's rings. Checked while a window holds the knob, with the NIC
 * collector on (no --no-bpf).
 */
KOPT_TEST(plant_host_no_xdp_by_default)
{
	static char out[16384];
	struct hp_env e;
	int st;

	if (!hp_setup(&e))
		return;
	st = kopt_test_run(
		out, sizeof(out),
		"{ echo '{\"itr_us\":100,\"freq_mhz\":null,\"seconds\":1.5}'; "
		"sleep 0.8; ip -n %s link show kph0 > %s/link-held; } | "
		"KOPT_STATE_DIR=%s ip netns exec %s %s plant host --ifname kph0 "
		"--coalesce sw --estimate",
		e.a, kopt_test_tmpdir(), e.state, e.a, kopt_test_bin());
	ASSERT_EQ(st, 0, out);
	ASSERT_HAS(out, "\"irq_rate\"", "the collector ran");
	ASSERT_NEQ(kopt_test_run(NULL, 0, "grep -q xdp %s/link-held",
				 kopt_test_tmpdir()),
		   0, "no XDP program on the NIC during the window");
	hp_teardown(&e);
}
