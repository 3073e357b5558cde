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
	json_object_object_foreach(root, key, val)
	{
		struct json_object *ok = NULL, *detail = NULL;

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
