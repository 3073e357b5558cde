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

#include <json-c/json.h>

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
	{ "missing bound",
	  "[policy]\nobjective = energy\n[sla]\nkind = latency\n[itr]\n"
	  "min_us = 1\nmax_us = 2\nstep_us = 1\n[freq]\nlist_mhz = 1000\n"
	  "[window]\nseconds = 1\n[optimizer]\ntrials = 1\n",
	  true, 0,
	  "[sla] bound_us: missing (the SLA: the one key without a "
	  "default" },
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
	{ "init above trials", "[optimizer]\ninit_trials = 20\n", false, 0,
	  "[optimizer] init_trials: 20 is more than trials (10)" },
	{ "key before section", "objective = energy\n" GOOD_HEAD, true, 1,
	  "unknown section []" },
	/* [knob NAME]: a name reaches every plant's request */
	{ "knob name with a quote", "[knob a\"b]\nvalues = 1\n", false, 17,
	  "[knob a\"b]: 'a\"b' is not a knob name" },
	{ "knob named like a request key", "[knob itr_us]\nvalues = 1\n", false,
	  17, "'itr_us' is not a knob name" },
	{ "knob without values", "[knob defer]\nscale = log\n", false, 17,
	  "[knob defer] values: missing" },
	{ "knob value listed twice", "[knob defer]\nvalues = 0, 2, 0\n", false,
	  17, "[knob defer] values: 0 is listed twice" },
	{ "knob negative value", "[knob defer]\nvalues = 0, -2\n", false, 17,
	  "[knob defer] values: -2 is out of range" },
	{ "knob unknown key", "[knob defer]\nvalues = 0\nstep = 2\n", false, 18,
	  "[knob defer] step: unknown key" },
	{ "knob bad safe end", "[knob defer]\nvalues = 0\nsafe = middle\n",
	  false, 18, "[knob defer] safe: 'middle': expected low or high" },
	{ "knob fallback not a value",
	  "[knob defer]\nvalues = 0, 2\nfallback = 1\n", false, 18,
	  "[knob defer] fallback: 1 is not one of values" },
	{ "knob key twice", "[knob defer]\nvalues = 0\nvalues = 1\n", false, 18,
	  "[knob defer] values: given twice (first on line 17)" },
	{ "five knobs",
	  "[knob a]\nvalues = 0\n[knob b]\nvalues = 0\n[knob c]\n"
	  "values = 0\n[knob d]\nvalues = 0\n[knob e]\nvalues = 0\n",
	  false, 25, "[knob e]: more than 4 [knob] sections" },
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

/* [knob NAME]: values sorted, defaults, the effective policy shows it. */
KOPT_TEST(policy_knob_sections)
{
	char err[KOPT_INI_ERR_LEN] = "", path[PATH_MAX];
	struct json_object *j, *sec = NULL;
	struct policy p = { 0 };

	snprintf(path, sizeof(path), "%s/knobs.conf", kopt_test_tmpdir());
	write_file(path, GOOD_HEAD "[knob defer_irqs]\nvalues = 8, 0, 2\n"
				   "scale = log\n[knob busy_poll]\n"
				   "values = 0, 50\nsafe = high\n");
	if (!ASSERT_OK(policy_load(path, &p, err, sizeof(err)), err))
		return;
	ASSERT_EQ(p.n_knobs, 2, "two knobs, in the file's order");
	ASSERT_STREQ(p.knobs[0].name, "defer_irqs", "first knob");
	ASSERT_EQ(p.knobs[0].n_values, 3, "values");
	ASSERT_TRUE(p.knobs[0].values[0] == 0 && p.knobs[0].values[2] == 8,
		    "values sorted ascending");
	ASSERT_TRUE(p.knobs[0].log && !p.knobs[0].safe_high, "scale, safe");
	ASSERT_EQ(p.knobs[0].fallback, 0, "fallback: the safe (low) end");
	ASSERT_TRUE(p.knobs[1].safe_high, "safe = high");
	ASSERT_EQ(p.knobs[1].fallback, 50, "fallback: the safe (high) end");
	j = policy_json(&p);
	ASSERT_TRUE(json_object_object_get_ex(j, "knob defer_irqs", &sec),
		    "effective policy has the section");
	ASSERT_STREQ(
		json_object_get_string(json_object_object_get(sec, "values")),
		"0 2 8", "values as the file would give them");
	json_object_put(j);
	/* no [knob] section: no third knob, as before */
	snprintf(path, sizeof(path), "%s/noknobs.conf", kopt_test_tmpdir());
	write_file(path, GOOD_HEAD);
	if (ASSERT_OK(policy_load(path, &p, err, sizeof(err)), err))
		ASSERT_EQ(p.n_knobs, 0, "no knobs");
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

/* The CLI names the file and fails with the usage code: nothing ran. */
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
	ASSERT_EQ(st, 2, "exit code");
	ASSERT_HAS(out, "cli.conf:17: [sla] bogus: unknown key", "message");
	ASSERT_FALSE(strstr(out, "plant time"), "no run started");
	st = kopt_test_run(out, sizeof(out), "%s run --plant sim",
			   kopt_test_bin());
	ASSERT_EQ(st, 2, "missing --policy is a usage error");
	ASSERT_HAS(out, "kopt run: --policy FILE is required\n",
		   "usage message");
}

/* Only the SLA's bound is required; everything else has its default. */
KOPT_TEST(policy_only_sla_required)
{
	char path[PATH_MAX], err[KOPT_INI_ERR_LEN] = "";
	struct policy p = { 0 };

	snprintf(path, sizeof(path), "%s/minimal.conf", kopt_test_tmpdir());
	write_file(path, "[sla]\nbound_us = 300\n");
	if (!ASSERT_OK(policy_load(path, &p, err, sizeof(err)), err))
		return;
	ASSERT_STREQ(p.name, "minimal", "name from the file");
	ASSERT_EQ(p.objective, POLICY_OBJ_ENERGY, "objective");
	ASSERT_EQ(p.sla.kind, POLICY_SLA_LATENCY, "kind");
	ASSERT_EQ(p.sla.pct, POLICY_P99, "percentile");
	ASSERT_NEAR(p.sla.aim_us, 270, 1e-9, "aim 0.9 x bound");
	ASSERT_NEAR(p.itr_min_us, 10, 0, "itr min");
	ASSERT_NEAR(p.itr_max_us, 500, 0, "itr max");
	ASSERT_NEAR(p.itr_step_us, 10, 0, "itr step");
	ASSERT_EQ(p.n_freqs, 18, "1200..2900 step 100");
	ASSERT_NEAR(p.window_s, 10, 0, "window");
	ASSERT_EQ(p.trials, 14, "trials");
	ASSERT_EQ(p.init_trials, 4, "init trials");
	ASSERT_TRUE(p.fallback_stock, "fallback");
	ASSERT_FALSE(policy_key_given(&p, "itr", "min_us"), "min_us default");
	ASSERT_TRUE(policy_key_given(&p, "sla", "bound_us"), "bound given");
	/* a part of a range takes the rest from the defaults */
	write_file(path, "[sla]\nbound_us = 300\n[freq]\nmax_mhz = 2000\n"
			 "[itr]\nmin_us = 100\n");
	if (!ASSERT_OK(policy_load(path, &p, err, sizeof(err)), err))
		return;
	ASSERT_EQ(p.n_freqs, 9, "1200..2000 step 100");
	ASSERT_NEAR(p.itr_min_us, 100, 0, "itr min given");
	ASSERT_NEAR(p.itr_max_us, 500, 0, "itr max default");
	/* no bound: the one error */
	write_file(path, "[sla]\npercentile = p50\n");
	if (ASSERT_ERR(policy_load(path, &p, err, sizeof(err)), "no bound")) {
		ASSERT_HAS(err, "[sla] bound_us: missing", "names the bound");
		ASSERT_FALSE(strchr(err, '\n'), "nothing else is missing");
	}
}

/* Every error of a file in one pass, each with its line, in file order. */
KOPT_TEST(policy_every_error_in_one_pass)
{
	char path[PATH_MAX], err[KOPT_INI_ERR_LEN] = "", at[PATH_MAX + 64],
			     out[8192];
	static const char *const expect[] = {
		":2: [sla] percentile: 'p95' is not one of: p50, p99",
		":4: [itr] min_us: -1 is out of range",
		":5: [itr] bogus: unknown key",
		":7: [window] seconds: 'ten' is not a number",
		":8: syntax error",
		":10: [optimizer] trials: 2.5 is not a whole number",
	};
	const char *pos;
	struct policy p = { 0 };
	int lines = 1;

	snprintf(path, sizeof(path), "%s/many.conf", kopt_test_tmpdir());
	write_file(path, "[sla]\npercentile = p95\n[itr]\nmin_us = -1\n"
			 "bogus = 1\n[window]\nseconds = ten\nno equals sign\n"
			 "[optimizer]\ntrials = 2.5\n");
	if (!ASSERT_ERR(policy_load(path, &p, err, sizeof(err)), "refused"))
		return;
	pos = err;
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		snprintf(at, sizeof(at), "%s%s", path, expect[i]);
		ASSERT_HAS(err, at, expect[i]);
		/* in file order (inih reports a syntax error after the pairs) */
		if (i < 4 && strstr(err, at)) {
			ASSERT_TRUE(strstr(err, at) >= pos, "in order");
			pos = strstr(err, at);
		}
	}
	for (const char *c = err; *c; c++)
		lines += *c == '\n';
	/* the missing bound is one more: the SLA has no default */
	ASSERT_EQ(lines, 7, err);
	/* the CLI prints them all, exits 2 and runs nothing */
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s policy show %s",
				kopt_test_bin(), path),
		  2, out);
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
		ASSERT_HAS(out, expect[i], "policy show prints it");
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"%s run --policy %s --plant sim --duration 10",
				kopt_test_bin(), path),
		  2, out);
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
		ASSERT_HAS(out, expect[i], "run prints it");
	ASSERT_FALSE(strstr(out, "plant time"), "nothing ran");
}

/* kopt policy show: the effective policy, defaults filled in and marked. */
KOPT_TEST(policy_show_cli)
{
	static const char *const shipped[] = {
		"memcached-sla500",
		"memcached-sla200",
		"netpipe",
		"stream-throughput",
		"host-memcached",
		"demo-vm",
		"replay-flink",
		"replay-memcached-sla200",
		"replay-memcached-sla500",
	};
	char path[PATH_MAX], out[16384] = "", rel[128];
	struct json_object *o, *v, *sec;
	bool found = false;

	snprintf(path, sizeof(path), "%s/show.conf", kopt_test_tmpdir());
	write_file(path, "[sla]\nbound_us = 300\n[window]\nseconds = 5\n");
	if (!ASSERT_OK(kopt_test_run(out, sizeof(out), "%s policy show %s",
				     kopt_test_bin(), path),
		       out))
		return;
	ASSERT_HAS(out, "\n[sla]\n", "sections");
	ASSERT_HAS(out, "\nbound_us = 300\n", "the given key, unmarked");
	ASSERT_HAS(out, "\nseconds = 5\n", "the given window, unmarked");
	ASSERT_HAS(out, "\nmin_us = 10 ", "itr default");
	ASSERT_HAS(out, "\naim_us = 270 ", "aim default");
	ASSERT_HAS(out, "; default\n", "defaults are marked");
	ASSERT_HAS(out, "\nsim_params = /", "sim params resolved");
	o = KOPT_TEST_RUN_JSON(out, sizeof(out), "%s policy show --json %s",
			       kopt_test_bin(), path);
	if (o) {
		ASSERT_TRUE(json_object_object_get_ex(o, "sla", &sec) &&
				    json_object_object_get_ex(sec, "bound_us",
							      &v) &&
				    json_object_get_double(v) == 300,
			    "bound in JSON");
		ASSERT_TRUE(json_object_object_get_ex(o, "defaults", &v),
			    "defaults listed");
		for (size_t i = 0; v && i < json_object_array_length(v); i++)
			found |= !strcmp(
				json_object_get_string(
					json_object_array_get_idx(v, i)),
				"[itr] max_us");
		ASSERT_TRUE(found, "[itr] max_us is a default");
		json_object_put(o);
	}
	ASSERT_HAS(out, "\n  \"sla\":{\n", "indented like every command");
	for (size_t i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++) {
		snprintf(rel, sizeof(rel), "policies/%s.conf", shipped[i]);
		repo_path(path, sizeof(path), rel);
		ASSERT_OK(kopt_test_run(out, sizeof(out), "%s policy show %s",
					kopt_test_bin(), path),
			  out);
	}
	ASSERT_REFUSES(2, "FILE is required", "%s policy show",
		       kopt_test_bin());
}

/* sim_params = NAME falls back to the shipped files, else says where. */
KOPT_TEST(policy_sim_params_search)
{
	char dir[PATH_MAX], path[PATH_MAX + 64], out[8192] = "";

	snprintf(dir, sizeof(dir), "%s/own", kopt_test_tmpdir());
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/mine.conf", dir);
	write_file(path, "[sla]\nbound_us = 500\n[plant]\n"
			 "sim_params = sim-memcached.params\n");
	if (ASSERT_OK(kopt_test_run(out, sizeof(out),
				    "%s policy show %s | grep '^sim_params'",
				    kopt_test_bin(), path),
		      out))
		ASSERT_HAS(out, "/policies/sim-memcached.params\n",
			   "found among the shipped policies");
	ASSERT_OK(kopt_test_run(out, sizeof(out),
				"%s run --policy %s --plant sim --duration 20",
				kopt_test_bin(), path),
		  out);
	write_file(path, "[sla]\nbound_us = 500\n[plant]\n"
			 "sim_params = nosuch.params\n");
	ASSERT_REFUSES(2, "[plant] sim_params: 'nosuch.params' not found in: ",
		       "%s policy show %s", kopt_test_bin(), path);
	ASSERT_REFUSES(2, dir, "%s policy show %s", kopt_test_bin(), path);
	ASSERT_REFUSES(2, "/policies (the policy's directory",
		       "%s policy show %s", kopt_test_bin(), path);
	/* $KOPT_POLICY_DIR is searched too */
	snprintf(path, sizeof(path), "%s/envdir", kopt_test_tmpdir());
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/envdir/nosuch.params",
		 kopt_test_tmpdir());
	write_file(path, "");
	snprintf(path, sizeof(path), "%s/mine.conf", dir);
	if (ASSERT_OK(kopt_test_run(out, sizeof(out),
				    "KOPT_POLICY_DIR=%s/envdir %s policy show "
				    "%s | grep '^sim_params'",
				    kopt_test_tmpdir(), kopt_test_bin(), path),
		      out))
		ASSERT_HAS(out, "/envdir/nosuch.params", "found there");
}
