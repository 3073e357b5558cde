// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of `kopt probe`: every feature it reports is checked against an
 * independent look at the host (a sysfs file, uname, lockdown), so the
 * tests assert the truth of whatever host they run on: on this sandbox
 * that fexit is refused with EPERM under lockdown, in the 6.12 guest that
 * it attaches.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <json-c/json.h>

#include "probe.h"
#include "test.h"

static struct json_object *probe_json;

/*
 * `kopt probe --json` of the running test: every test is a process of its
 * own (selftests/runner.c), so each runs the probe once, when it first
 * asks, and shares the result with no other test.
 */
static struct json_object *get_probe(void)
{
	static char out[1 << 16];
	int st;

	if (probe_json)
		return probe_json;
	st = kopt_test_run(out, sizeof(out), "%s probe --json 2>/dev/null",
			   kopt_test_bin());
	if (!ASSERT_EQ(st, 0, "kopt probe --json exit"))
		return NULL;
	probe_json = json_tokener_parse(out);
	ASSERT_OK_PTR(probe_json, "probe output is JSON");
	return probe_json;
}

__attribute__((destructor)) static void put_probe(void)
{
	json_object_put(probe_json);
}

static struct json_object *feature(const char *key)
{
	struct json_object *root = get_probe(), *f = NULL;

	if (!root)
		return NULL;
	if (!json_object_object_get_ex(root, key, &f))
		__KOPT_FAIL("probe JSON has no key '%s'", key);
	return f;
}

static bool feat_ok(struct json_object *f)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(f, "ok", &v);
	return json_object_get_boolean(v);
}

static const char *feat_detail(struct json_object *f)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(f, "detail", &v);
	return json_object_get_string(v);
}

static int feat_errno(struct json_object *f)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(f, "errno", &v))
		return -1;
	return json_object_get_int(v);
}

static bool need_root(void)
{
	if (geteuid() != 0) {
		SKIP("needs root (BPF loads)");
		return false;
	}
	return true;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

#define GET_FEATURE(var, key)    \
	struct json_object *var; \
	if (!need_root())        \
		return;          \
	var = feature(key);      \
	if (!var)                \
	return

KOPT_TEST(probe_json_schema)
{
	struct json_object *root;

	if (!need_root())
		return;
	root = get_probe();
	if (!root)
		return;
	ASSERT_GE(json_object_object_length(root), 19, "number of features");
	/* iterators: cppcheck misreads json_object_object_foreach's key */
	for (struct json_object_iterator it = json_object_iter_begin(root),
					 end = json_object_iter_end(root);
	     !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);
		struct json_object *val = json_object_iter_peek_value(&it);
		struct json_object *ok = NULL, *detail = NULL;

		if (!strcmp(key, "verdicts"))
			continue; /* not a feature: probe_verdict_cli */
		ASSERT_TRUE(json_object_object_get_ex(val, "ok", &ok) &&
				    json_object_is_type(ok, json_type_boolean),
			    key);
		ASSERT_TRUE(json_object_object_get_ex(val, "detail", &detail) &&
				    json_object_is_type(detail,
							json_type_string) &&
				    json_object_get_string_len(detail) > 0,
			    key);
	}
}

KOPT_TEST(probe_kernel_release)
{
	struct utsname u;

	GET_FEATURE(f, "kernel");
	uname(&u);
	ASSERT_TRUE(feat_ok(f), "kernel ok");
	ASSERT_HAS(feat_detail(f), u.release, "release in detail");
}

KOPT_TEST(probe_btf)
{
	GET_FEATURE(f, "btf");
	ASSERT_EQ(feat_ok(f), exists("/sys/kernel/btf/vmlinux"), "btf ok");
}

KOPT_TEST(probe_lockdown)
{
	const char *d;

	GET_FEATURE(f, "lockdown");
	d = feat_detail(f);
	ASSERT_TRUE(!strncmp(d, "none", 4) || !strncmp(d, "integrity", 9) ||
			    !strncmp(d, "confidentiality", 15),
		    "lockdown mode named");
	ASSERT_EQ(feat_ok(f), !strncmp(d, "none", 4), "ok iff none");
}

KOPT_TEST(probe_capabilities)
{
	GET_FEATURE(f, "capabilities");
	ASSERT_TRUE(feat_ok(f), "root has CAP_BPF");
	ASSERT_HAS(feat_detail(f), "+CAP_BPF", "CAP_BPF listed");
}

KOPT_TEST(probe_ringbuf)
{
	GET_FEATURE(f, "ringbuf");
	/* every kernel kopt supports (>= 5.8) has it */
	ASSERT_TRUE(feat_ok(f), feat_detail(f));
}

KOPT_TEST(probe_tracepoint)
{
	GET_FEATURE(f, "tracepoint");
	ASSERT_EQ(feat_ok(f),
		  exists("/sys/bus/event_source/devices/tracepoint"),
		  "tracepoint ok iff the tracepoint PMU exists");
	if (!exists("/sys/kernel/tracing/events"))
		ASSERT_HAS(feat_detail(f), "tracefs", "tracefs explained");
}

KOPT_TEST(probe_tp_btf)
{
	GET_FEATURE(f, "tp_btf");
	ASSERT_EQ(feat_ok(f), exists("/sys/kernel/btf/vmlinux"),
		  "tp_btf works wherever BTF does");
}

static bool lockdown_active(void)
{
	struct json_object *l = feature("lockdown");

	return l && !feat_ok(l) && strncmp(feat_detail(l), "unknown", 7);
}

KOPT_TEST(probe_fexit)
{
	GET_FEATURE(f, "fexit_can_migrate_task");
	if (feat_ok(f)) {
		ASSERT_FALSE(lockdown_active(),
			     "fexit ok only without lockdown");
		return;
	}
	ASSERT_GT(feat_errno(f), 0, "refusal carries an errno");
	if (lockdown_active()) {
		/* this sandbox: lockdown=integrity refuses trampolines */
		ASSERT_EQ(feat_errno(f), EPERM, "fexit errno under lockdown");
		ASSERT_HAS(feat_detail(f), "lockdown", "reason names lockdown");
	}
}

KOPT_TEST(probe_kprobe)
{
	GET_FEATURE(f, "kprobe");
	ASSERT_EQ(feat_ok(f), exists("/sys/bus/event_source/devices/kprobe"),
		  "kprobe ok iff the kprobe PMU exists");
	if (!feat_ok(f)) {
		ASSERT_GT(feat_errno(f), 0, "refusal carries an errno");
		ASSERT_HAS(feat_detail(f), "CONFIG_KPROBES", "reason");
	}
}

KOPT_TEST(probe_xdp_and_test_run)
{
	struct json_object *t;

	GET_FEATURE(f, "xdp");
	t = feature("prog_test_run");
	ASSERT_TRUE(feat_ok(f), feat_detail(f));
	ASSERT_TRUE(t && feat_ok(t), t ? feat_detail(t) : "prog_test_run");
}

KOPT_TEST(probe_struct_ops)
{
	struct json_object *types = NULL, *v;
	struct btf *btf;
	bool has_tcp = false;
	size_t i;

	GET_FEATURE(f, "struct_ops");
	btf = btf__load_vmlinux_btf();
	if (!ASSERT_OK_PTR(btf, "vmlinux btf"))
		return;
	json_object_object_get_ex(f, "types", &types);
	for (i = 0; types && i < json_object_array_length(types); i++) {
		v = json_object_array_get_idx(types, i);
		if (!strcmp(json_object_get_string(v), "tcp_congestion_ops"))
			has_tcp = true;
	}
	ASSERT_EQ(has_tcp,
		  btf__find_by_name_kind(btf,
					 "bpf_struct_ops_tcp_congestion_ops",
					 BTF_KIND_STRUCT) > 0,
		  "tcp_congestion_ops listed iff in BTF");
	ASSERT_EQ(feat_ok(f), has_tcp, "struct_ops ok");
	btf__free(btf);
}

KOPT_TEST(probe_bpf_stats)
{
	GET_FEATURE(f, "bpf_stats");
	ASSERT_TRUE(feat_ok(f), feat_detail(f));
	ASSERT_HAS(feat_detail(f), "sysctl now", "current value shown");
}

KOPT_TEST(probe_sched_ext)
{
	GET_FEATURE(f, "sched_ext");
	ASSERT_EQ(feat_ok(f), exists("/sys/kernel/sched_ext"), "sched_ext");
}

KOPT_TEST(probe_kopt_patch)
{
	struct btf *btf;
	bool patched;

	GET_FEATURE(f, "kopt_patch");
	btf = btf__load_vmlinux_btf();
	if (!ASSERT_OK_PTR(btf, "vmlinux btf"))
		return;
	patched = btf__find_by_name_kind(btf, "bpf_struct_ops_sched_lb_ops",
					 BTF_KIND_STRUCT) > 0;
	if (feat_ok(f))
		ASSERT_TRUE(patched, "patch reported only with sched_lb_ops");
	else if (!patched)
		ASSERT_HAS(feat_detail(f), "absent", "absence stated");
	btf__free(btf);
}

KOPT_TEST(probe_cpufreq)
{
	GET_FEATURE(f, "cpufreq");
	ASSERT_EQ(feat_ok(f), exists("/sys/devices/system/cpu/cpu0/cpufreq"),
		  "cpufreq ok iff cpufreq sysfs exists");
	if (!feat_ok(f))
		ASSERT_HAS(feat_detail(f), "absent", "absence stated");
}

KOPT_TEST(probe_rapl)
{
	GET_FEATURE(f, "rapl_powercap");
	if (!exists("/sys/class/powercap/intel-rapl:0/energy_uj") &&
	    !exists("/sys/class/powercap/intel-rapl/intel-rapl:0/energy_uj"))
		ASSERT_FALSE(feat_ok(f), "no RAPL zone, not ok");
	if (!feat_ok(f))
		ASSERT_HAS(feat_detail(f), "absent", "absence stated");
}

KOPT_TEST(probe_perf_power)
{
	GET_FEATURE(f, "perf_power");
	if (!exists("/sys/bus/event_source/devices/power"))
		ASSERT_FALSE(feat_ok(f), "no power PMU, not ok");
	ASSERT_GT(strlen(feat_detail(f)), 0, "detail");
}

/* A veth pair in a private namespace: a driver with no coalescing. */
KOPT_TEST(probe_net_veth_in_netns)
{
	char out[1 << 16], ns[64];
	struct json_object *root, *net = NULL, *ifs = NULL;
	bool seen = false;
	size_t i;
	int st;

	if (!need_root())
		return;
	snprintf(ns, sizeof(ns), "kopt-probe-%d", getpid());
	if (kopt_test_run(NULL, 0,
			  "ip netns add %s && ip -n %s link add kv0 type veth "
			  "peer name kv1",
			  ns, ns)) {
		kopt_test_run(NULL, 0, "ip netns del %s", ns);
		SKIP("cannot create a netns with a veth pair (ip netns)");
		return;
	}
	st = kopt_test_run(out, sizeof(out),
			   "ip netns exec %s %s probe --json 2>/dev/null", ns,
			   kopt_test_bin());
	kopt_test_run(NULL, 0, "ip netns del %s", ns);
	if (!ASSERT_EQ(st, 0, "probe in netns"))
		return;
	root = json_tokener_parse(out);
	if (!ASSERT_OK_PTR(root, "JSON"))
		return;
	json_object_object_get_ex(root, "net_coalesce", &net);
	json_object_object_get_ex(net, "interfaces", &ifs);
	for (i = 0; ifs && i < json_object_array_length(ifs); i++) {
		struct json_object *o = json_object_array_get_idx(ifs, i), *v;

		json_object_object_get_ex(o, "name", &v);
		if (strcmp(json_object_get_string(v), "kv0"))
			continue;
		seen = true;
		json_object_object_get_ex(o, "driver", &v);
		ASSERT_STREQ(json_object_get_string(v), "veth", "driver");
		json_object_object_get_ex(o, "coalesce_ok", &v);
		ASSERT_FALSE(json_object_get_boolean(v), "veth coalescing");
	}
	ASSERT_TRUE(seen, "kv0 reported");
	ASSERT_FALSE(feat_ok(net), "no coalescing NIC in the netns");
	json_object_put(root);
}

KOPT_TEST(probe_needs_root)
{
	char out[4096];
	int st;

	if (!need_root())
		return;
	/* setpriv drops to nobody with no capabilities */
	st = kopt_test_run(out, sizeof(out),
			   "setpriv --reuid=65534 --regid=65534 --clear-groups "
			   "%s probe",
			   kopt_test_bin());
	ASSERT_EQ(st, 4, "exit code for missing privilege");
	ASSERT_HAS(out, "CAP_BPF", "message names the capability");
	ASSERT_FALSE(strstr(out, "libbpf"), "no libbpf noise");
}

KOPT_TEST(probe_usage_error)
{
	char out[4096];

	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s probe --bogus",
				kopt_test_bin()),
		  2, "usage exit code");
	ASSERT_HAS(out,
		   "kopt probe: unknown option '--bogus'\n"
		   "Try 'kopt probe --help'.\n",
		   "usage error in the one format");
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s probe --help",
				kopt_test_bin()),
		  0, "--help exit code");
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s no-such-command",
				kopt_test_bin()),
		  2, "unknown command exit code");
}

/* A probe result with the features named ok (the rest refused). */
static struct json_object *fake_probe(const char *const *ok, bool rx_usecs)
{
	struct json_object *root = json_object_new_object();

	for (int i = 0; i < KOPT_PROBE_NR; i++) {
		struct json_object *f = json_object_new_object();
		bool yes = false;

		for (const char *const *k = ok; *k; k++)
			yes |= !strcmp(*k, kopt_probe_key(i));
		json_object_object_add(f, "ok", json_object_new_boolean(yes));
		json_object_object_add(f, "detail",
				       json_object_new_string("fake"));
		if (i == KOPT_PROBE_NET) {
			struct json_object *arr = json_object_new_array();
			struct json_object *o = json_object_new_object();
			struct json_object *p = json_object_new_array();

			json_object_array_add(
				p, json_object_new_string(
					   rx_usecs ? "rx-usecs" : "tx-usecs"));
			json_object_object_add(o, "name",
					       json_object_new_string("nic9"));
			json_object_object_add(o, "coalesce_ok",
					       json_object_new_boolean(true));
			json_object_object_add(o, "coalesce_params", p);
			json_object_array_add(arr, o);
			json_object_object_add(f, "interfaces", arr);
		}
		json_object_object_add(root, kopt_probe_key(i), f);
	}
	return root;
}

static const char *verdict_of(struct json_object *v, const char *job,
			      const char *key)
{
	struct json_object *j, *x;

	if (!json_object_object_get_ex(v, job, &j) ||
	    !json_object_object_get_ex(j, key, &x))
		return "(missing)";
	return json_object_get_string(x);
}

/* The verdicts follow the features, whatever host the test runs on. */
KOPT_TEST(probe_verdict_logic)
{
	static const char *const all[] = { "fexit_can_migrate_task",
					   "tp_btf",
					   "cpufreq",
					   "rapl_powercap",
					   "kopt_patch",
					   "net_coalesce",
					   NULL };
	static const char *const sandbox[] = { "tp_btf", "net_coalesce", NULL };
	static const char *const none[] = { NULL };
	struct json_object *root, *v;

	root = fake_probe(all, true);
	v = kopt_probe_verdicts(root);
	ASSERT_HAS(verdict_of(v, "energy_job", "verdict"),
		   "can run: ITR knob nic-coalesce on nic9; DVFS cpufreq; "
		   "meter RAPL",
		   "everything here");
	ASSERT_HAS(verdict_of(v, "migration_job", "verdict"),
		   "collector rung fexit", "fexit first");
	ASSERT_HAS(verdict_of(v, "migration_job", "verdict"),
		   "live model: can run", "patched kernel");
	json_object_put(v);
	json_object_put(root);

	root = fake_probe(sandbox, true);
	v = kopt_probe_verdicts(root);
	ASSERT_HAS(verdict_of(v, "energy_job", "verdict"),
		   "can run, energy estimated", "no meter");
	ASSERT_HAS(verdict_of(v, "energy_job", "verdict"), "DVFS none",
		   "no cpufreq");
	ASSERT_STREQ(verdict_of(v, "migration_job", "collector"), "tp_btf",
		     "tp_btf rung");
	ASSERT_HAS(verdict_of(v, "migration_job", "verdict"),
		   "live model: needs the kopt 6.12 patch", "unpatched");
	json_object_put(v);
	json_object_put(root);

	/* no tp_btf, no fexit, no NIC with rx-usecs */
	root = fake_probe(none, false);
	v = kopt_probe_verdicts(root);
	ASSERT_HAS(verdict_of(v, "migration_job", "verdict"), "cannot collect",
		   "no rung");
	ASSERT_HAS(verdict_of(v, "energy_job", "latency_source"),
		   "feed:", "without tp_btf: a feed");
	/* the ITR falls back to software coalescing, if this host has it */
	if (!strcmp(verdict_of(v, "energy_job", "itr_knob"), "none"))
		ASSERT_HAS(verdict_of(v, "energy_job", "verdict"),
			   "simulated only", "no knob at all");
	else
		ASSERT_HAS(verdict_of(v, "energy_job", "itr_knob"),
			   "sw-coalesce", "software coalescing");
	json_object_put(v);
	json_object_put(root);
}

/* kopt probe ends with the verdicts, in text and in --json. */
KOPT_TEST(probe_verdict_cli)
{
	static char out[1 << 16];
	struct json_object *root = get_probe(), *v, *j, *x;

	if (!need_root() || !root)
		return;
	ASSERT_TRUE(json_object_object_get_ex(root, "verdicts", &v), "JSON");
	ASSERT_TRUE(json_object_object_get_ex(v, "energy_job", &j) &&
			    json_object_object_get_ex(j, "can_run", &x),
		    "energy job verdict");
	ASSERT_TRUE(json_object_object_get_ex(v, "migration_job", &j) &&
			    json_object_object_get_ex(j, "collector", &x),
		    "migration job verdict");
	/* this host's collector rung is what its own probes say */
	if (feat_ok(feature("fexit_can_migrate_task")))
		ASSERT_STREQ(json_object_get_string(x), "fexit", "rung");
	else if (feat_ok(feature("tp_btf")))
		ASSERT_STREQ(json_object_get_string(x), "tp_btf", "rung");
	ASSERT_OK(kopt_test_run(out, sizeof(out), "%s probe 2>/dev/null",
				kopt_test_bin()),
		  out);
	ASSERT_HAS(out, "\nverdict:\n  energy job     ", "text verdict");
	ASSERT_HAS(out, "\n  migration job  ", "both jobs");
}
