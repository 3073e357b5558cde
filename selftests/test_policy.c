// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of the policy parser (loader/lib/ctl/policy.c): every shipped policy
 * loads with the values it says, and every kind of bad input is refused
 * with a message naming the file, the line (when there is one), the key
 * and the reason.
 */
#define _GNU_SOURCE
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"
#include "test.h"

/* A path inside the repository (the build dir's parent). */
static void repo_path(char *buf, size_t len, const char *rel)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", kopt_test_builddir());
	snprintf(buf, len, "%s/%s", dirname(tmp), rel);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		__KOPT_FAIL("%s: cannot create", "create policy file");
		return;
	}
	fputs(text, f);
	fclose(f);
}

/* A valid policy the bad cases change one thing in. */
#define GOOD_HEAD                                          \
	"[policy]\nobjective = energy\n"                   \
	"[sla]\nkind = latency\nbound_us = 500\n"          \
	"[itr]\nmin_us = 10\nmax_us = 500\nstep_us = 10\n" \
	"[freq]\nlist_mhz = 1200 1800 2400\n"              \
	"[window]\nseconds = 10\n"                         \
	"[optimizer]\ntrials = 10\n"

KOPT_TEST(policy_shipped)
{
	static const char *const names[] = {
		"memcached-sla500",
		"memcached-sla200",
		"netpipe",
		"stream-throughput",
	};
	char path[PATH_MAX], err[KOPT_INI_ERR_LEN] = "";
	struct policy p = { 0 };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char rel[128];

		snprintf(rel, sizeof(rel), "policies/%s.conf", names[i]);
		repo_path(path, sizeof(path), rel);
		if (!ASSERT_OK(policy_load(path, &p, err, sizeof(err)), err))
			continue;
		ASSERT_STREQ(p.name, names[i], "policy name");
		ASSERT_LE(p.trials, 14,
			  "trial budget leaves room for the "
			  "measure window within 15");
		ASSERT_OK(access(p.sim_params, R_OK), "sim_params readable");
	}
	repo_path(path, sizeof(path), "policies/memcached-sla500.conf");
	if (!ASSERT_OK(policy_load(path, &p, err, sizeof(err)), err))
		return;
	ASSERT_EQ(p.sla.kind, POLICY_SLA_LATENCY, "sla kind");
	ASSERT_EQ(p.sla.pct, POLICY_P99, "percentile");
	ASSERT_NEAR(p.sla.bound_us, 500, 0, "bound");
	ASSERT_LT(p.sla.aim_us, p.sla.bound_us, "aim inside the bound");
	ASSERT_EQ(p.n_freqs, 18, "1200..2900 step 100");
	ASSERT_NEAR(p.freqs_mhz[17], 2900, 0, "last frequency");
	ASSERT_TRUE(p.fallback_stock, "fallback stock");
	repo_path(path, sizeof(path), "policies/stream-throughput.conf");
	if (!ASSERT_OK(policy_load(path, &p, err, sizeof(err)), err))
		return;
	ASSERT_EQ(p.sla.kind, POLICY_SLA_THROUGHPUT, "throughput sla");
	ASSERT_NEAR(p.sla.min_ratio, 0.99, 1e-12, "min ratio");
	repo_path(path, sizeof(path), "policies/netpipe.conf");
	if (!ASSERT_OK(policy_load(path, &p, err, sizeof(err)), err))
		return;
	ASSERT_EQ(p.objective, POLICY_OBJ_ENERGY_PER_OP, "per-op objective");
	ASSERT_TRUE(p.itr_log, "log-scaled ITR");
}

KOPT_TEST(policy_freq_none_and_host)
{
	char path[PATH_MAX], err[KOPT_INI_ERR_LEN];
	struct policy p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/nofreq.conf", kopt_test_tmpdir());
	f = fopen(path, "w");
	ASSERT_OK_PTR(f, "write policy");
	if (!f)
		return;
	fprintf(f, "[policy]\nobjective = energy\n[sla]\nkind = latency\n"
		   "percentile = p99\nbound_us = 500\n[itr]\nmin_us = 0\n"
		   "max_us = 100\nstep_us = 10\n[freq]\nlist_mhz = none\n"
		   "[window]\nseconds = 1\n[optimizer]\ntrials = 3\n"
		   "[host]\ninterface = eth1\ncoalesce = sw\n"
		   "server = 127.0.0.1:11211\nrate = 2000\n");
	fclose(f);
	if (!ASSERT_OK(policy_load(path, &p, err, sizeof(err)), err))
		return;
	ASSERT_TRUE(p.freq_fixed, "no DVFS knob");
	ASSERT_EQ(p.n_freqs, 1, "one placeholder frequency");
	ASSERT_STREQ(p.host.ifname, "eth1", "host interface");
	ASSERT_EQ(p.host.coalesce, 1, "software coalescing");
	ASSERT_STREQ(p.host.server, "127.0.0.1:11211", "host server");
	ASSERT_NEAR(p.host.rate, 2000, 1e-9, "host rate");
}

KOPT_TEST(policy_host_latency)
{
	static const struct {
		const char *value;
		enum policy_lat_kind kind;
		const char *spec; /* NULL: the value itself */
	} good[] = {
		{ "bpf:11211", POLICY_LAT_BPF, NULL },
		{ "bpf:80,443,11211", POLICY_LAT_BPF, NULL },
		{ "feed:cmd:/usr/local/bin/p99 --port 80 $(x);y",
		  POLICY_LAT_FEED, NULL },
		{ "feed:file:/run/svc/lat.json", POLICY_LAT_FEED, NULL },
		{ "loadgen", POLICY_LAT_LOADGEN, NULL },
	};
	char path[PATH_MAX], err[KOPT_INI_ERR_LEN] = "", text[1024],
			     want[PATH_MAX + 16];
	struct policy p = { 0 };

	snprintf(path, sizeof(path), "%s/lat.conf", kopt_test_tmpdir());
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text),
			 GOOD_HEAD "[host]\nserver = 127.0.0.1:11211\n"
				   "rate = 1000\nlatency = %s\n",
			 good[i].value);
		write_file(path, text);
		if (!ASSERT_OK(policy_load(path, &p, err, sizeof(err)), err))
			continue;
		ASSERT_EQ(p.host.latency.kind, good[i].kind, good[i].value);
		ASSERT_STREQ(p.host.latency.spec, good[i].value, "spec");
	}
	/* a relative feed file is the policy directory's */
	write_file(path, GOOD_HEAD "[host]\nlatency = feed:file:svc.json\n");
	if (ASSERT_OK(policy_load(path, &p, err, sizeof(err)), err)) {
		snprintf(want, sizeof(want), "feed:file:%s/svc.json",
			 kopt_test_tmpdir());
		ASSERT_STREQ(p.host.latency.spec, want, "resolved");
	}
	/* no latency key: the load generator, as before the key existed */
	write_file(path, GOOD_HEAD);
	if (ASSERT_OK(policy_load(path, &p, err, sizeof(err)), err)) {
		ASSERT_EQ(p.host.latency.kind, POLICY_LAT_LOADGEN, "default");
		ASSERT_STREQ(p.host.latency.spec, "loadgen", "default spec");
	}
}

KOPT_TEST(policy_host_memcached)
{
	char path[PATH_MAX], err[KOPT_INI_ERR_LEN] = "";
	struct policy p = { 0 };

	repo_path(path, sizeof(path), "policies/host-memcached.conf");
	if (!ASSERT_OK(policy_load(path, &p, err, sizeof(err)), err))
		return;
	ASSERT_STREQ(p.name, "host-memcached", "name");
	ASSERT_EQ(p.host.latency.kind, POLICY_LAT_BPF,
		  "the service's own traffic, timed in BPF");
	ASSERT_STREQ(p.host.latency.spec, "bpf:11211", "memcached's port");
	ASSERT_STREQ(p.host.ifname, "eth1", "interface");
}

KOPT_TEST(policy_defaults)
{
	char path[PATH_MAX], err[KOPT_INI_ERR_LEN] = "";
	struct policy p = { 0 };

	snprintf(path, sizeof(path), "%s/mini.conf", kopt_test_tmpdir());
	write_file(path, GOOD_HEAD);
	if (!ASSERT_OK(policy_load(path, &p, err, sizeof(err)), err))
		return;
	ASSERT_STREQ(p.name, "mini", "name from the file name");
	ASSERT_NEAR(p.sla.aim_us, 450, 1e-9, "aim defaults to 90% of bound");
	ASSERT_EQ(p.init_trials, 4, "init_trials default");
	ASSERT_EQ(p.guard_windows, 1, "guard default");
	ASSERT_EQ(p.baseline, POLICY_BASE_AUTO, "baseline default");
	ASSERT_NEAR(policy_reply_timeout(&p, 10), 20, 1e-9,
		    "timeout: window + 10 s");
}

/*
 * A name taken from the file name keeps only what a name given in the
 * file may hold: a file called `x".system("id").".conf` names no command.
 */
KOPT_TEST(policy_default_name_sanitized)
{
	char dir[PATH_MAX], path[PATH_MAX + 64], err[KOPT_INI_ERR_LEN] = "";
	struct policy p = { 0 };

	snprintf(dir, sizeof(dir), "%s/odd-names", kopt_test_tmpdir());
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/x\".system(\"id\").\".conf", dir);
	write_file(path, GOOD_HEAD);
	if (!ASSERT_OK(policy_load(path, &p, err, sizeof(err)), err))
		return;
	ASSERT_STREQ(p.name, "x_.system__id__._", "unsafe characters replaced");
	snprintf(path, sizeof(path), "%s/.conf", dir);
	write_file(path, GOOD_HEAD);
	if (!ASSERT_OK(policy_load(path, &p, err, sizeof(err)), err))
		return;
	ASSERT_STREQ(p.name, ".conf", "a dot file keeps its whole name");
}

struct bad_case {
	const char *name;
	const char *text; /* appended to GOOD_HEAD unless full */
	bool full; /* text replaces GOOD_HEAD */
	int line; /* expected line in the message; 0: none */
	const char *expect; /* substring of the message */
};

static const struct bad_case bad_cases[] = {
	{ "unknown key", "[sla]\nbogus = 1\n", false, 17,
	  "[sla] bogus: unknown key" },
	{ "unknown section", "[nosuch]\nx = 1\n", false, 17,
	  "unknown section [nosuch]" },
	{ "host coalesce", "[host]\ncoalesce = magic\n", false, 17,
	  "[host] coalesce: 'magic' is not one of: nic, sw" },
	{ "host interface with a space", "[host]\ninterface = eth 1\n", false,
	  17, "[host] interface: 'eth 1': expected 1 to" },
	{ "host rate", "[host]\nrate = 0\n", false, 17,
	  "[host] rate: 0 is out of range" },
	{ "latency port 0", "[host]\nlatency = bpf:0\n", false, 17,
	  "[host] latency: port '0' in '0': expected 1 to 65535" },
	{ "latency no port", "[host]\nlatency = bpf:\n", false, 17,
	  "[host] latency: '': expected PORT" },
	{ "latency trailing comma", "[host]\nlatency = bpf:80,\n", false, 17,
	  "[host] latency: '80,': expected PORT" },
	{ "latency unknown kind", "[host]\nlatency = tcp:80\n", false, 17,
	  "[host] latency: 'tcp:80': expected bpf:PORT[,PORT], "
	  "feed:cmd:COMMAND ARGS, feed:file:PATH or loadgen" },
	{ "latency feed without a program", "[host]\nlatency = feed:cmd:\n",
	  false, 17, "[host] latency: latency feed command '': no program" },
	{ "latency feed blank program", "[host]\nlatency = feed:cmd:\t\n",
	  false, 17, "[host] latency: " },
	{ "latency loadgen without load", "[host]\nlatency = loadgen\n", false,
	  17, "[host] latency: loadgen needs [host] server and rate" },
	{ "not a number", "[trigger]\nqps_change = fast\n", false, 17,
	  "[trigger] qps_change: 'fast' is not a number" },
	{ "out of range", "[trigger]\nqps_change = -1\n", false, 17,
	  "[trigger] qps_change: -1 is out of range" },
	{ "bad enum", "[optimizer]\nacquisition = magic\n", false, 0,
	  "[optimizer] acquisition: 'magic' is not one of: cei, ei" },
	{ "duplicate key", "[window]\nseconds = 5\n", false, 17,
	  "[window] seconds: given twice (first on line 13)" },
	{ "trials zero", "[optimizer]\ninit_trials = 0\n", false, 0,
	  "[optimizer] init_trials: 0 is out of range" },
	{ "trials fraction", "[guard]\nviolations = 2.5\n", false, 17,
	  "[guard] violations: 2.5 is not a whole number" },
	{ "syntax", "[guard]\nthis line has no equals sign\n", false, 17,
	  "syntax error" },
	{ "bad fallback", "[guard]\nfallback = safe\n", false, 17,
	  "[guard] fallback: 'safe': expected 'stock' or 'ITR_US, FREQ_MHZ'" },
	{ "negative seed", "[optimizer]\nseed = -3\n", false, 0,
	  "[optimizer] seed: '-3' is not a non-negative integer" },
	{ "bad scale", "[itr]\nscale = cubic\n", false, 0,
	  "[itr] scale: 'cubic' is not one of: linear, log" },
	{ "long name",
	  "[policy]\nname = "
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaa\n",
	  false, 17, "[policy] name: must be 1 to 63 characters" },
	/* a name reaches run logs and `kopt report`'s gnuplot script */
	{ "name with quotes", "[policy]\nname = x\".system(\"id\").\"\n", false,
	  17, "[policy] name: 'x\".system(\"id\").\"': only letters, digits" },
	{ "name with a backtick", "[policy]\nname = a`id`\n", false, 17,
	  "[policy] name: 'a`id`': only letters, digits" },
	{ "name with a space", "[policy]\nname = a b\n", false, 17,
	  "[policy] name: 'a b': only letters, digits" },
	{ "missing objective",
	  "[sla]\nkind = latency\nbound_us = 500\n[itr]\nmin_us = 1\n"
	  "max_us = 2\nstep_us = 1\n[freq]\nlist_mhz = 1000\n[window]\n"
	  "seconds = 1\n[optimizer]\ntrials = 1\n",
	  true, 0, "[policy] objective: missing" },
	{ "missing window",
	  "[policy]\nobjective = energy\n[sla]\nkind = latency\n"
	  "bound_us = 500\n[itr]\nmin_us = 1\nmax_us = 2\nstep_us = 1\n"
	  "[freq]\nlist_mhz = 1000\n[optimizer]\ntrials = 1\n",
	  true, 0, "[window] seconds: missing" },
	{ "missing bound",
	  "[policy]\nobjective = energy\n[sla]\nkind = latency\n[itr]\n"
	  "min_us = 1\nmax_us = 2\nstep_us = 1\n[freq]\nlist_mhz = 1000\n"
	  "[window]\nseconds = 1\n[optimizer]\ntrials = 1\n",
	  true, 0, "[sla] bound_us: missing (required for latency)" },
	{ "missing sla kind",
	  "[policy]\nobjective = energy\n[sla]\nbound_us = 500\n[itr]\n"
	  "min_us = 1\nmax_us = 2\nstep_us = 1\n[freq]\nlist_mhz = 1000\n"
	  "[window]\nseconds = 1\n[optimizer]\ntrials = 1\n",
	  true, 0, "[sla] kind: missing" },
	{ "throughput with bound",
	  "[policy]\nobjective = energy\n[sla]\nkind = throughput\n"
	  "min_ratio = 0.99\nbound_us = 500\n[itr]\nmin_us = 1\nmax_us = 2\n"
	  "step_us = 1\n[freq]\nlist_mhz = 1000\n[window]\nseconds = 1\n"
	  "[optimizer]\ntrials = 1\n",
	  true, 6, "[sla] bound_us: not allowed with kind = throughput" },
	{ "latency with ratio", "[sla]\nmin_ratio = 0.9\n", false, 17,
	  "[sla] min_ratio: not allowed with kind = latency" },
	{ "aim above bound", "[sla]\naim_us = 600\n", false, 17,
	  "[sla] aim_us: 600 is above bound_us (500)" },
	{ "aim ratio below min",
	  "[policy]\nobjective = energy\n[sla]\nkind = throughput\n"
	  "min_ratio = 0.99\naim_ratio = 0.9\n[itr]\nmin_us = 1\n"
	  "max_us = 2\nstep_us = 1\n[freq]\nlist_mhz = 1000\n[window]\n"
	  "seconds = 1\n[optimizer]\ntrials = 1\n",
	  true, 6, "[sla] aim_ratio: 0.9 is below min_ratio (0.99)" },
	{ "itr max below min",
	  "[policy]\nobjective = energy\n[sla]\nkind = latency\n"
	  "bound_us = 500\n[itr]\nmin_us = 100\nmax_us = 50\nstep_us = 1\n"
	  "[freq]\nlist_mhz = 1000\n[window]\nseconds = 1\n[optimizer]\n"
	  "trials = 1\n",
	  true, 8, "[itr] max_us: 50 is below min_us (100)" },
	{ "itr too many levels",
	  "[policy]\nobjective = energy\n[sla]\nkind = latency\n"
	  "bound_us = 500\n[itr]\nmin_us = 0\nmax_us = 100000\n"
	  "step_us = 0.5\n[freq]\nlist_mhz = 1000\n[window]\nseconds = 1\n"
	  "[optimizer]\ntrials = 1\n",
	  true, 9, "[itr] step_us: 0.5 gives more than 100000 levels" },
	{ "freq list and range", "[freq]\nmin_mhz = 1000\n", false, 17,
	  "[freq] min_mhz: not allowed together with list_mhz" },
	{ "freq list twice",
	  "[policy]\nobjective = energy\n[sla]\nkind = latency\n"
	  "bound_us = 500\n[itr]\nmin_us = 1\nmax_us = 2\nstep_us = 1\n"
	  "[freq]\nlist_mhz = 1000 1200 1000\n[window]\nseconds = 1\n"
	  "[optimizer]\ntrials = 1\n",
	  true, 11, "[freq] list_mhz: 1000 is listed twice" },
	{ "freq list garbage",
	  "[policy]\nobjective = energy\n[sla]\nkind = latency\n"
	  "bound_us = 500\n[itr]\nmin_us = 1\nmax_us = 2\nstep_us = 1\n"
	  "[freq]\nlist_mhz = 1000 fast\n[window]\nseconds = 1\n"
	  "[optimizer]\ntrials = 1\n",
	  true, 11, "[freq] list_mhz: '1000 fast' is not a list of numbers" },
	{ "freq list empty",
	  "[policy]\nobjective = energy\n[sla]\nkind = latency\n"
	  "bound_us = 500\n[itr]\nmin_us = 1\nmax_us = 2\nstep_us = 1\n"
	  "[freq]\nlist_mhz =\n[window]\nseconds = 1\n"
	  "[optimizer]\ntrials = 1\n",
	  true, 11, "[freq] list_mhz: empty list" },
	{ "freq range without step",
	  "[policy]\nobjective = energy\n[sla]\nkind = latency\n"
	  "bound_us = 500\n[itr]\nmin_us = 1\nmax_us = 2\nstep_us = 1\n"
	  "[freq]\nmin_mhz = 1000\nmax_mhz = 2000\n[window]\nseconds = 1\n"
	  "[optimizer]\ntrials = 1\n",
	  true, 0, "[freq] step_mhz: missing (or give list_mhz)" },
	{ "init above trials", "[optimizer]\ninit_trials = 20\n", false, 0,
	  "[optimizer] init_trials: 20 is more than trials (10)" },
	{ "key before section", "objective = energy\n" GOOD_HEAD, true, 1,
	  "unknown section []" },
};

/* Checks one bad case: refused, naming file, line, key and reason. */
static void check_bad(const struct bad_case *c, int i)
{
	char err[KOPT_INI_ERR_LEN] = "", path[PATH_MAX], text[4096],
	     at[PATH_MAX + 16];
	struct policy p = { 0 };

	snprintf(path, sizeof(path), "%s/bad%d.conf", kopt_test_tmpdir(), i);
	snprintf(text, sizeof(text), "%s%s", c->full ? "" : GOOD_HEAD, c->text);
	write_file(path, text);
	err[0] = '\0';
	if (!ASSERT_ERR(policy_load(path, &p, err, sizeof(err)), c->name))
		return;
	if (c->line)
		snprintf(at, sizeof(at), "%s:%d: ", path, c->line);
	else
		snprintf(at, sizeof(at), "%s", path);
	ASSERT_HAS(err, at, c->name);
	ASSERT_HAS(err, c->expect, c->name);
}

KOPT_TEST(policy_bad_inputs)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		check_bad(&bad_cases[i], i);
	}
}

KOPT_TEST(policy_bad_log_levels)
{
	char path[PATH_MAX], err[KOPT_INI_ERR_LEN] = "";
	struct policy p = { 0 };

	snprintf(path, sizeof(path), "%s/log.conf", kopt_test_tmpdir());
	write_file(path, "[policy]\nobjective = energy\n[sla]\nkind = latency\n"
			 "bound_us = 500\n[itr]\nmin_us = 0\nmax_us = 10000\n"
			 "step_us = 1\nscale = log\n[freq]\nlist_mhz = 1000\n"
			 "[window]\nseconds = 1\n[optimizer]\ntrials = 1\n");
	if (!ASSERT_ERR(policy_load(path, &p, err, sizeof(err)), "log levels"))
		return;
	ASSERT_HAS(err, ":10: [itr] scale: log needs at most 4096 levels",
		   "log levels message");
}

KOPT_TEST(policy_bad_file)
{
	char path[PATH_MAX], err[KOPT_INI_ERR_LEN] = "", line[400];
	struct policy p = { 0 };
	FILE *f;

	snprintf(path, sizeof(path), "%s/nosuch.conf", kopt_test_tmpdir());
	if (ASSERT_ERR(policy_load(path, &p, err, sizeof(err)), "missing"))
		ASSERT_HAS(err, "nosuch.conf: cannot open: No such file",
			   "missing file message");
	/* a line inih would silently split */
	snprintf(path, sizeof(path), "%s/long.conf", kopt_test_tmpdir());
	f = fopen(path, "w");
	if (!f) {
		__KOPT_FAIL("%s: cannot create", "create");
		return;
	}
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	fprintf(f, "[policy]\nname = %s\n", line);
	fclose(f);
	if (ASSERT_ERR(policy_load(path, &p, err, sizeof(err)), "long line"))
		ASSERT_HAS(err, "long.conf:2: line longer than",
			   "long line message");
}

/* The CLI names the file and fails with the "bad input file" code. */
KOPT_TEST(policy_cli_error)
{
	char path[PATH_MAX], out[4096];
	int st;

	snprintf(path, sizeof(path), "%s/cli.conf", kopt_test_tmpdir());
	write_file(path, GOOD_HEAD "[sla]\nbogus = 1\n");
	st = kopt_test_run(out, sizeof(out),
			   "%s run --policy %s --plant sim "
			   "--duration 10",
			   kopt_test_bin(), path);
	ASSERT_EQ(st, 1, "exit code");
	ASSERT_HAS(out, "cli.conf:17: [sla] bogus: unknown key", "message");
	st = kopt_test_run(out, sizeof(out), "%s run --plant sim",
			   kopt_test_bin());
	ASSERT_EQ(st, 2, "missing --policy is a usage error");
	ASSERT_HAS(out, "kopt run: --policy FILE is required\n",
		   "usage message");
}
