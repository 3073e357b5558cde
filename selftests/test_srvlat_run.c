// SPDX-License-Identifier: GPL-2.0-only
/*
 * `kopt run --plant host` on each SLA source of [host] latency, and
 * `kopt run --check`, in a namespace testbed (selftests/nic_netns.sh):
 * memcached and kopt in the server's namespace (P-b, veth kvb, software
 * coalescing as the knob), kopt's load generator in the client's (P-a).
 *
 *   - bpf:PORT: the loop runs on the service's own traffic timed in BPF;
 *     its figures are labelled with their source;
 *   - feed:cmd (a program exec'd with an argument) and feed:file: the
 *     loop runs on the feed's figures, which reach the log unchanged;
 *   - a run whose every window fails exits non-zero, saying so;
 *   - --check: ready on the testbed; a bad interface, an unreadable
 *     feed, a missing meter each fail with a clear message, exit 1, and
 *     change nothing (no journal, the knob as it was).
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "test.h"

#define RUN_PORT 11711
#define OUT_CAP (1 << 16)

struct rt_env {
	char ns[48], script[PATH_MAX], state[PATH_MAX], dir[512];
};

static bool rt_up(struct rt_env *e, const char *tag, bool memcached)
{
	char out[4096], *real;

	if (geteuid()) {
		SKIP("needs root (BPF, namespaces, sysfs)");
		return false;
	}
	if (kopt_test_run(NULL, 0,
			  "command -v memcached && command -v "
			  "memcstat")) {
		SKIP("needs memcached and libmemcached-tools");
		return false;
	}
	real = realpath(kopt_test_builddir(), NULL);
	snprintf(e->script, sizeof(e->script),
		 "%.3000s/../selftests/nic_netns.sh", real ? real : "build");
	free(real);
	snprintf(e->ns, sizeof(e->ns), "ksr%d%s", getpid(), tag);
	snprintf(e->dir, sizeof(e->dir), "%.400s/%s", kopt_test_tmpdir(),
		 e->ns);
	snprintf(e->state, sizeof(e->state), "%s/state", e->dir);
	mkdir(e->dir, 0755);
	if (kopt_test_run(out, sizeof(out), "sh %s up %s", e->script, e->ns)) {
		kopt_test_run(NULL, 0, "sh %s down %s", e->script, e->ns);
		SKIP("cannot create network namespaces with a veth pair: %s",
		     out);
		return false;
	}
	if (memcached &&
	    !ASSERT_OK(kopt_test_run(out, sizeof(out), "sh %s memcached %s %d",
				     e->script, e->ns, RUN_PORT),
		       out))
		return false;
	return true;
}

static void rt_down(struct rt_env *e)
{
	kopt_test_run(NULL, 0, "sh %s down %s", e->script, e->ns);
}

/* A policy for kvb in P-b with the given [host] lines after the head. */
static void write_policy(struct rt_env *e, const char *name,
			 const char *host_lines, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s.conf", e->dir, name);
	f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f,
		"[policy]\nname = %s\nobjective = energy\nbaseline = measure\n"
		"[sla]\nkind = latency\npercentile = p99\nbound_us = 100000\n"
		"[itr]\nmin_us = 0\nmax_us = 400\nstep_us = 50\n"
		"[freq]\nlist_mhz = none\n[window]\nseconds = 1\n"
		"[optimizer]\ntrials = 3\ninit_trials = 2\n"
		"[host]\ninterface = kvb\ncoalesce = sw\n%s",
		name, host_lines);
	fclose(f);
}

static long flush_ns(struct rt_env *e)
{
	char out[64];

	if (kopt_test_run(out, sizeof(out),
			  "ip netns exec %s-b cat "
			  "/sys/class/net/kvb/gro_flush_timeout",
			  e->ns))
		return -1;
	return strtol(out, NULL, 10);
}

/* kopt run in P-b; stdout to out, stderr to DIR/NAME.err, exit status. */
static int run_in_b(struct rt_env *e, const char *pol, const char *name,
		    const char *extra, char *out, size_t cap)
{
	return kopt_test_run(out, cap,
			     "KOPT_STATE_DIR=%s ip netns exec %s-b %s --json "
			     "run --policy %s --plant host %s --log %s/%s.csv "
			     "2>%s/%s.err",
			     e->state, e->ns, kopt_test_bin(), pol, extra,
			     e->dir, name, e->dir, name);
}

static char *slurp(const char *path)
{
	static char buf[OUT_CAP];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) :
						     "";
}

static int jint(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int(v) :
						     -1;
}

/* Rows of the run log (not comments, not the header) and failed rows. */
static void log_rows(const char *path, int *rows, int *failed)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	size_t n;

	*rows = *failed = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || !strncmp(line, "t_s,", 4))
			continue;
		(*rows)++;
		n = strlen(line);
		/* the last column, error, is empty on a good window */
		if (n > 1 && line[n - 2] != ',')
			(*failed)++;
	}
	fclose(f);
}

KOPT_TEST_TIMEOUT(srvlat_run_bpf, 90)
{
	static char out[OUT_CAP];
	struct json_object *o;
	char pol[PATH_MAX], host[128], path[PATH_MAX];
	struct rt_env e;
	int st, rows, failed;

	if (!rt_up(&e, "b", true))
		return;
	snprintf(host, sizeof(host), "latency = bpf:%d\nenergy = estimate\n",
		 RUN_PORT);
	write_policy(&e, "bpf", host, pol, sizeof(pol));
	/* the load from the client's side for longer than the run */
	kopt_test_run(NULL, 0,
		      "ip netns exec %s-a %s loadgen --server 10.77.1.2:%d "
		      "--rate 2000 --duration 14 --warmup 0 >/dev/null 2>&1 &",
		      e.ns, kopt_test_bin(), RUN_PORT);
	st = run_in_b(&e, pol, "bpf", "--duration 8", out, sizeof(out));
	snprintf(path, sizeof(path), "%s/bpf.err", e.dir);
	ASSERT_EQ(st, 0, slurp(path));
	ASSERT_HAS(slurp(path), "timed in BPF", "the plant says how");
	ASSERT_HAS(slurp(path), "receive ring", "the veth's arrival stamp");
	o = kopt_test_json(out);
	if (ASSERT_OK_PTR(o, "summary JSON")) {
		char want[32];

		snprintf(want, sizeof(want), "bpf:%d", RUN_PORT);
		ASSERT_STREQ(jstr(o, "latency_source"), want,
			     "figures labelled with their source");
		ASSERT_HAS(jstr(o, "latency_label"), "timed in BPF", "label");
		ASSERT_EQ(jint(o, "failed_windows"), 0, "no failed window");
		ASSERT_GE(jint(o, "windows"), 6, "windows");
		json_object_put(o);
	}
	snprintf(path, sizeof(path), "%s/bpf.csv", e.dir);
	log_rows(path, &rows, &failed);
	ASSERT_GE(rows, 6, "log rows");
	ASSERT_EQ(failed, 0, "no failed row");
	ASSERT_EQ(kopt_test_run(NULL, 0, "grep -Eq ',[a-z]+,bpf,$' %s", path),
		  0, "each window's latency source in the log");
	ASSERT_EQ(flush_ns(&e), 0, "knob restored");
	rt_down(&e);
}

KOPT_TEST_TIMEOUT(srvlat_run_feeds, 90)
{
	static char out[OUT_CAP];
	char pol[PATH_MAX], host[PATH_MAX + 64], feed[PATH_MAX], path[PATH_MAX];
	struct json_object *o;
	struct rt_env e;
	int st, rows, failed;
	FILE *f;

	if (!rt_up(&e, "f", false))
		return;
	/* a program the feed execs, with an argument (no shell string) */
	snprintf(feed, sizeof(feed), "%s/feed.sh", e.dir);
	f = fopen(feed, "w");
	if (!ASSERT_OK_PTR(f, "feed program"))
		goto out;
	fprintf(f, "#!/bin/sh\nprintf '{\"p99_us\": %%s, \"p50_us\": 50, "
		   "\"qps\": 1234}\\n' \"$1\"\n");
	fclose(f);
	chmod(feed, 0755);
	snprintf(host, sizeof(host),
		 "latency = feed:cmd:%s 321.5\nenergy = estimate\n", feed);
	write_policy(&e, "feedcmd", host, pol, sizeof(pol));
	st = run_in_b(&e, pol, "feedcmd", "--duration 4", out, sizeof(out));
	snprintf(path, sizeof(path), "%s/feedcmd.err", e.dir);
	ASSERT_EQ(st, 0, slurp(path));
	o = kopt_test_json(out);
	if (ASSERT_OK_PTR(o, "summary JSON")) {
		ASSERT_HAS(jstr(o, "latency_source"),
			   "feed:cmd:", "labelled with the feed");
		ASSERT_EQ(jint(o, "failed_windows"), 0, "no failed window");
		json_object_put(o);
	}
	snprintf(path, sizeof(path), "%s/feedcmd.csv", e.dir);
	log_rows(path, &rows, &failed);
	ASSERT_GE(rows, 3, "windows on the command feed");
	ASSERT_EQ(failed, 0, "no failed row");
	ASSERT_EQ(kopt_test_run(NULL, 0, "grep -q ',50,321.5,,1234,' %s", path),
		  0, "the feed's figures reach the log");
	ASSERT_EQ(kopt_test_run(NULL, 0, "grep -Eq ',[a-z]+,feed,$' %s", path),
		  0, "labelled feed in the log's latency_source column");

	/* the same from a file the service rewrites (relative: policy dir) */
	snprintf(path, sizeof(path), "%s/lat.json", e.dir);
	f = fopen(path, "w");
	if (!ASSERT_OK_PTR(f, "feed file"))
		goto out;
	fprintf(f, "{\"p99_us\": 654, \"p50_us\": 60}\n");
	fclose(f);
	write_policy(&e, "feedfile",
		     "latency = feed:file:lat.json\nenergy = estimate\n", pol,
		     sizeof(pol));
	st = run_in_b(&e, pol, "feedfile", "--duration 4", out, sizeof(out));
	snprintf(path, sizeof(path), "%s/feedfile.err", e.dir);
	ASSERT_EQ(st, 0, slurp(path));
	snprintf(path, sizeof(path), "%s/feedfile.csv", e.dir);
	log_rows(path, &rows, &failed);
	ASSERT_GE(rows, 3, "windows on the file feed");
	ASSERT_EQ(failed, 0, "no failed row");
	ASSERT_EQ(kopt_test_run(NULL, 0, "grep -q ',60,654,' %s", path), 0,
		  "the file's figures reach the log");
	ASSERT_EQ(flush_ns(&e), 0, "knob restored");
out:
	rt_down(&e);
}

/* No traffic on the port: every window fails; the run must say so. */
KOPT_TEST_TIMEOUT(srvlat_run_every_window_failed, 60)
{
	static char out[OUT_CAP];
	char pol[PATH_MAX], host[128], path[PATH_MAX];
	struct rt_env e;
	int st;

	if (!rt_up(&e, "x", true))
		return;
	snprintf(host, sizeof(host), "latency = bpf:%d\nenergy = estimate\n",
		 RUN_PORT);
	write_policy(&e, "idle", host, pol, sizeof(pol));
	/* two windows, fewer than max_failures (3): the loop itself goes on */
	st = run_in_b(&e, pol, "idle", "--duration 2", out, sizeof(out));
	snprintf(path, sizeof(path), "%s/idle.err", e.dir);
	ASSERT_EQ(st, 1, "exit status");
	ASSERT_HAS(slurp(path), "no request to port(s)", "why each failed");
	ASSERT_HAS(slurp(path), "every window failed (2 of 2)", "the verdict");
	ASSERT_EQ(flush_ns(&e), 0, "knob restored");
	rt_down(&e);
}

/* --check: ready, then three ways not to be; nothing changes. */
KOPT_TEST_TIMEOUT(srvlat_run_check, 60)
{
	static const struct {
		const char *name, *host, *expect;
	} bad[] = {
		{ "badif", "", "'kopt-nosuch0' not found in this network" },
		{ "nofeed", "latency = feed:file:/nonexistent/kopt/lat.json\n",
		  "'/nonexistent/kopt/lat.json': cannot open" },
		{ "nometer", "energy = measured\n",
		  "the policy asks for a measured one" },
		{ "badfeed", "latency = feed:cmd:false\n",
		  "exited with status 1" },
	};
	static char out[OUT_CAP];
	char pol[PATH_MAX], host[256];
	struct rt_env e;
	int st;

	if (!rt_up(&e, "c", true))
		return;
	snprintf(host, sizeof(host), "latency = bpf:%d\n", RUN_PORT);
	write_policy(&e, "ready", host, pol, sizeof(pol));
	st = kopt_test_run(out, sizeof(out),
			   "KOPT_STATE_DIR=%s ip netns exec %s-b %s run "
			   "--policy %s --plant host --check",
			   e.state, e.ns, kopt_test_bin(), pol);
	ASSERT_EQ(st, 0, out);
	ASSERT_HAS(out, "ready", "verdict");
	ASSERT_HAS(out, "probe loads and attaches", "latency source");
	ASSERT_HAS(out, "sw-coalesce kvb gro-flush-usecs = 0", "knob read");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char lines[512];

		if (i == 0)
			snprintf(lines, sizeof(lines), "latency = bpf:%d\n",
				 RUN_PORT);
		else if (strstr(bad[i].host, "energy"))
			snprintf(lines, sizeof(lines), "latency = bpf:%d\n%s",
				 RUN_PORT, bad[i].host);
		else
			snprintf(lines, sizeof(lines), "%s", bad[i].host);
		write_policy(&e, bad[i].name, lines, pol, sizeof(pol));
		if (i == 0) /* the interface: another name in the policy */
			kopt_test_run(NULL, 0,
				      "sed -i 's/^interface = kvb/interface = "
				      "kopt-nosuch0/' %s",
				      pol);
		st = kopt_test_run(out, sizeof(out),
				   "KOPT_STATE_DIR=%s ip netns exec %s-b %s "
				   "run --policy %s --plant host --check",
				   e.state, e.ns, kopt_test_bin(), pol);
		ASSERT_EQ(st, 1, bad[i].name);
		ASSERT_HAS(out, "NOT ready", bad[i].name);
		ASSERT_HAS(out, bad[i].expect, bad[i].name);
	}
	ASSERT_NEQ(access(e.state, F_OK), 0, "no journal written");
	ASSERT_EQ(flush_ns(&e), 0, "knob untouched");
	rt_down(&e);
}
