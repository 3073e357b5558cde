// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of `kopt run` (loader/lib/ctl/controller.c) and `kopt report` (loader/tools/report.c),
 * through the CLI of the binary under test.
 *
 * On the sim plant at a fixed load the chosen setting must be within 5%
 * of the oracle's energy and meet the SLA, and a tighter SLA must move it
 * to a lower ITR and a higher frequency. With misbehaving plants
 * (selftests/plants/bad_plant.sh) every failure is reported with its
 * reason while the loop keeps the last setting that met the SLA, and the
 * guard reverts within one window when a held setting starts breaking
 * the SLA. The 24-hour acceptance run uses the optimized build (the
 * sanitized one is too slow for a unit test; both run the same code).
 */
#define _GNU_SOURCE
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include <json-c/json.h>

#include "plant_sim.h"
#include "policy.h"
#include "test.h"

#define OUT_CAP (1 << 17)
#define MAX_ROWS 20000

static void repo_path(char *buf, size_t len, const char *rel)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", kopt_test_builddir());
	snprintf(buf, len, "%s/%s", dirname(tmp), rel);
}

/* ---- reading a run's outputs ----------------------------------------------- */

struct row {
	char phase[16], itr[16], freq[16];
	double energy, oracle, p99;
	int sla_ok; /* -1: failed window */
};

struct log {
	struct row *rows;
	size_t n;
};

static int col_of(char **names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return i;
	__KOPT_FAIL("log has no column %s", name);
	return 0;
}

static int split(char *line, char **f, int cap)
{
	int n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	f[n++] = line;
	for (char *p = line; *p && n < cap; p++)
		if (*p == ',') {
			*p = '\0';
			f[n++] = p + 1;
		}
	return n;
}

static bool read_log(const char *path, struct log *lg)
{
	char line[4096], hdr[4096], *names[32], *f[32];
	int nn = 0, c[7];
	FILE *in = fopen(path, "r");

	lg->n = 0;
	lg->rows = calloc(MAX_ROWS, sizeof(*lg->rows));
	if (!ASSERT_OK_PTR(in, "open log") || !ASSERT_OK_PTR(lg->rows, "rows"))
		goto fail;
	while (fgets(hdr, sizeof(hdr), in) && hdr[0] == '#')
		;
	nn = split(hdr, names, 32);
	c[0] = col_of(names, nn, "phase");
	c[1] = col_of(names, nn, "itr_us");
	c[2] = col_of(names, nn, "freq_mhz");
	c[3] = col_of(names, nn, "energy_j");
	c[4] = col_of(names, nn, "oracle_energy_j");
	c[5] = col_of(names, nn, "p99_us");
	c[6] = col_of(names, nn, "sla_ok");
	while (lg->n < MAX_ROWS && fgets(line, sizeof(line), in)) {
		struct row *r = &lg->rows[lg->n++];
		int n = split(line, f, 32);

		if (n < nn)
			continue;
		snprintf(r->phase, sizeof(r->phase), "%s", f[c[0]]);
		snprintf(r->itr, sizeof(r->itr), "%s", f[c[1]]);
		snprintf(r->freq, sizeof(r->freq), "%s", f[c[2]]);
		r->energy = *f[c[3]] ? atof(f[c[3]]) : NAN;
		r->oracle = *f[c[4]] ? atof(f[c[4]]) : NAN;
		r->p99 = *f[c[5]] ? atof(f[c[5]]) : NAN;
		r->sla_ok = *f[c[6]] ? atoi(f[c[6]]) : -1;
	}
	fclose(in);
	return true;
fail:
	if (in)
		fclose(in);
	free(lg->rows);
	lg->rows = NULL;
	return false;
}

static struct json_object *jget(struct json_object *o, const char *path)
{
	char buf[128], *tok, *save = NULL;
	struct json_object *v = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && v;
	     tok = strtok_r(NULL, ".", &save)) {
		if (!json_object_object_get_ex(v, tok, &v)) {
			__KOPT_FAIL("summary has no %s", path);
			return NULL;
		}
	}
	return v;
}

static double jnum(struct json_object *o, const char *path)
{
	struct json_object *v = jget(o, path);

	return v ? json_object_get_double(v) : NAN;
}

/* Runs kopt run; the summary JSON (caller puts it) or NULL. */
static struct json_object *run_json(char *out, int *status, const char *fmt,
				    ...) __attribute__((format(printf, 3, 4)));

static struct json_object *run_json(char *out, int *status, const char *fmt,
				    ...)
{
	char args[3000];
	va_list ap;
	char *brace;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	/* stderr to a file, so stdout is pure JSON */
	*status = kopt_test_run(out, OUT_CAP,
				"{ %s run --json %s 2>%s/stderr; }",
				kopt_test_bin(), args, kopt_test_tmpdir());
	brace = strchr(out, '{');
	return brace ? json_tokener_parse(brace) : NULL;
}

static void read_stderr(char *buf, size_t len)
{
	char path[PATH_MAX];
	FILE *f;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/stderr", kopt_test_tmpdir());
	f = fopen(path, "r");
	if (f) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

/* ---- the sim at a fixed load ----------------------------------------------- */

struct fixed_result {
	double itr, freq;
	bool ok;
};

static void run_fixed(const char *policy, double bound,
		      struct fixed_result *res)
{
	char pol[PATH_MAX], params[PATH_MAX], log[PATH_MAX];
	static char out[OUT_CAP];
	struct json_object *o = NULL, *lv;
	struct log lg = { 0 };
	int st;

	res->ok = false;
	repo_path(pol, sizeof(pol), policy);
	repo_path(params, sizeof(params), "policies/sim-memcached.params");
	snprintf(log, sizeof(log), "%s/fixed-%g.csv", kopt_test_tmpdir(),
		 bound);
	o = run_json(out, &st,
		     "--policy %s --duration 400 --log %s --plant '%s plant "
		     "sim --params %s --qps 400000 --sla-p99 %g --seed 1'",
		     pol, log, kopt_test_bin(), params, bound);
	if (!ASSERT_EQ(st, 0, "kopt run exit") || !ASSERT_OK_PTR(o, out))
		goto out;
	ASSERT_TRUE(json_object_get_boolean(jget(o, "simulated")),
		    "labelled simulated");
	ASSERT_EQ(jnum(o, "triggers"), 1, "one load level");
	ASSERT_LE(jnum(o, "trials_per_trigger.max"), 14, "trial budget");
	ASSERT_EQ(jnum(o, "sla_violating_windows.outside_exploration"), 0,
		  "no violation while holding");
	lv = json_object_array_get_idx(jget(o, "levels"), 0);
	res->itr = jnum(lv, "chosen.itr_us");
	res->freq = jnum(lv, "chosen.freq_mhz");
	if (!read_log(log, &lg))
		goto out;
	for (size_t i = 0; i < lg.n; i++)
		if (!strcmp(lg.rows[i].phase, "hold"))
			ASSERT_EQ(lg.rows[i].sla_ok, 1, "hold meets the SLA");
	res->ok = true;
out:
	free(lg.rows);
	json_object_put(o);
}

/*
 * The chosen setting's noise-free power over the cheapest setting of the
 * policy's own grid whose noise-free p99 meets the policy's aim: the best
 * a controller that keeps the policy's margin can do. (The sim's oracle
 * has its own noise draw per window and sits on the SLA's very edge.)
 */
static double aim_ratio(const char *policy, double itr, double freq)
{
	char params[PATH_MAX], path[PATH_MAX], err[KOPT_INI_ERR_LEN] = "";
	struct sim_params *p = calloc(1, sizeof(*p));
	struct policy *pol = calloc(1, sizeof(*pol));
	double best = INFINITY, ratio = NAN;
	struct sim_point pt;

	repo_path(params, sizeof(params), "policies/sim-memcached.params");
	repo_path(path, sizeof(path), policy);
	if (!ASSERT_OK_PTR(p, "calloc") || !ASSERT_OK_PTR(pol, "calloc") ||
	    !ASSERT_OK(sim_params_load(params, p, err, sizeof(err)), err) ||
	    !ASSERT_OK(policy_load(path, pol, err, sizeof(err)), err))
		goto out;
	for (double i = pol->itr_min_us; i <= pol->itr_max_us + 1e-9;
	     i += pol->itr_step_us)
		for (size_t k = 0; k < pol->n_freqs; k++) {
			sim_eval(p, 400000, i, pol->freqs_mhz[k], &pt);
			if (pt.p99_us <= pol->sla.aim_us)
				best = fmin(best, pt.power_w);
		}
	sim_eval(p, 400000, itr, freq, &pt);
	ratio = pt.power_w / best;
out:
	free(p);
	free(pol);
	return ratio;
}

/* The chosen setting's noise-free p99, from the model itself. */
static double true_p99(double itr, double freq)
{
	char params[PATH_MAX], err[KOPT_INI_ERR_LEN] = "";
	struct sim_params p = { 0 };
	struct sim_point pt;

	repo_path(params, sizeof(params), "policies/sim-memcached.params");
	if (!ASSERT_OK(sim_params_load(params, &p, err, sizeof(err)), err))
		return NAN;
	sim_eval(&p, 400000, itr, freq, &pt);
	return pt.p99_us;
}

KOPT_TEST(run_sim_fixed_load)
{
	struct fixed_result r500, r200;

	run_fixed("policies/memcached-sla500.conf", 500, &r500);
	if (!r500.ok)
		return;
	ASSERT_LE(aim_ratio("policies/memcached-sla500.conf", r500.itr,
			    r500.freq) *
			  1000,
		  1050,
		  "SLA 500: within 5% of the best within the aim (x1000)");
	ASSERT_LT(true_p99(r500.itr, r500.freq), 500,
		  "SLA 500: the chosen setting meets the SLA");
	run_fixed("policies/memcached-sla200.conf", 200, &r200);
	if (!r200.ok)
		return;
	ASSERT_LE(aim_ratio("policies/memcached-sla200.conf", r200.itr,
			    r200.freq) *
			  1000,
		  1050,
		  "SLA 200: within 5% of the best within the aim (x1000)");
	ASSERT_LT(true_p99(r200.itr, r200.freq), 200,
		  "SLA 200: the chosen setting meets the SLA");
	ASSERT_LT(r200.itr, r500.itr, "tighter SLA: lower ITR");
	ASSERT_GT(r200.freq, r500.freq, "tighter SLA: higher frequency");
}

/* ---- misbehaving plants ------------------------------------------------------ */

/* A small policy for the scripted plants: energy 1000 - ITR, p99 100 + ITR. */
static void test_policy(char *path, size_t len, const char *extra)
{
	FILE *f;

	snprintf(path, len, "%s/scripted.conf", kopt_test_tmpdir());
	f = fopen(path, "w");
	if (!f) {
		__KOPT_FAIL("%s: cannot create", "policy");
		return;
	}
	fprintf(f,
		"[policy]\nobjective = energy\nbaseline = measure\n"
		"[sla]\nkind = latency\nbound_us = 400\n"
		"[itr]\nmin_us = 10\nmax_us = 200\nstep_us = 10\n"
		"[freq]\nlist_mhz = 1000 2000\n[window]\nseconds = 10\n"
		"[optimizer]\ntrials = 3\ninit_trials = 2\n"
		"converge_trials = 1\n"
		"[trigger]\nqps_change = 0\n"
		"[plant]\ntimeout_s = 1\nmax_failures = 3\n%s",
		extra);
	fclose(f);
}

static struct json_object *run_scripted(char *out, int *st, const char *mode,
					int from, int count, double duration,
					const char *log)
{
	char pol[PATH_MAX], script[PATH_MAX];

	test_policy(pol, sizeof(pol), "");
	repo_path(script, sizeof(script), "selftests/plants/bad_plant.sh");
	return run_json(out, st,
			"--policy %s --duration %g --log %s "
			"--plant '%s %s %d %d'",
			pol, duration, log, script, mode, from, count);
}

static bool same(const struct row *a, const struct row *b)
{
	return !strcmp(a->itr, b->itr) && !strcmp(a->freq, b->freq);
}

/* After a failed window, the next one runs the last SLA-meeting setting. */
static void check_keeps_safe(const struct log *lg, const char *mode)
{
	const struct row *safe = NULL;

	for (size_t i = 0; i < lg->n; i++) {
		const struct row *r = &lg->rows[i];

		if (r->sla_ok < 0) {
			if (i + 1 < lg->n && safe)
				ASSERT_TRUE(same(&lg->rows[i + 1], safe), mode);
			return;
		}
		if (r->sla_ok == 1)
			safe = r;
	}
	__KOPT_FAIL("%s: no failed window in the log", mode);
}

KOPT_TEST(run_plant_failures)
{
	static const struct {
		const char *mode, *reason;
	} cases[] = {
		{ "garbage", "reply is not JSON" },
		{ "array", "reply is not a JSON object" },
		{ "missing", "reply has no \"p99_us\"" },
		{ "string", "\"energy_j\" is string, expected a number" },
		{ "negative", "\"energy_j\" is -5, outside" },
		{ "nan", "\"energy_j\" is nan, expected a finite number" },
		{ "error", "plant reported an error: power meter unavailable" },
		{ "sleep", "sent no reply within 1 s" },
		{ "exit", "exited with status 3" },
	};
	static char out[OUT_CAP];
	char err[8192], log[PATH_MAX];
	struct json_object *o;
	struct log lg;
	int st;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(log, sizeof(log), "%s/fail-%s.csv", kopt_test_tmpdir(),
			 cases[i].mode);
		/* request 3 is the second trial: mid-exploration */
		o = run_scripted(out, &st, cases[i].mode, 3, 1, 60, log);
		read_stderr(err, sizeof(err));
		if (ASSERT_EQ(st, 0, cases[i].mode) &&
		    ASSERT_OK_PTR(o, cases[i].mode))
			ASSERT_GE(jnum(o, "failed_windows"), 1, cases[i].mode);
		ASSERT_HAS(err, cases[i].reason, cases[i].mode);
		json_object_put(o);
		if (read_log(log, &lg))
			check_keeps_safe(&lg, cases[i].mode);
		free(lg.rows);
	}
	/* a plant that never answers properly: give up, say so */
	snprintf(log, sizeof(log), "%s/fail-always.csv", kopt_test_tmpdir());
	o = run_scripted(out, &st, "garbage", 1, 1000, 600, log);
	read_stderr(err, sizeof(err));
	ASSERT_EQ(st, 1, "hopeless plant: exit code");
	ASSERT_HAS(err, "giving up after 3 failed windows in a row",
		   "hopeless plant: message");
	json_object_put(o);
}

KOPT_TEST(run_guard_reverts)
{
	static char out[OUT_CAP];
	char log[PATH_MAX];
	struct json_object *o;
	struct log lg = { 0 };
	size_t i;
	int st;

	snprintf(log, sizeof(log), "%s/guard.csv", kopt_test_tmpdir());
	/* from request 12 on, every non-stock setting breaks the SLA */
	o = run_scripted(out, &st, "violate", 12, 1000, 300, log);
	if (!ASSERT_EQ(st, 0, "exit") || !ASSERT_OK_PTR(o, out))
		goto out;
	ASSERT_GE(jnum(o, "guard_reverts"), 1, "guard reverted");
	if (!read_log(log, &lg))
		goto out;
	for (i = 0; i < lg.n; i++)
		if (!strcmp(lg.rows[i].phase, "hold") && lg.rows[i].sla_ok == 0)
			break;
	if (!ASSERT_LT(i + 1, lg.n, "a held setting broke the SLA"))
		goto out;
	ASSERT_TRUE(i > 0 && !strcmp(lg.rows[i - 1].phase, "hold") &&
			    lg.rows[i - 1].sla_ok == 1,
		    "it had held fine before");
	ASSERT_STREQ(lg.rows[i + 1].itr, "stock",
		     "the very next window runs the fallback");
	ASSERT_EQ(lg.rows[i + 1].sla_ok, 1, "and meets the SLA");
out:
	free(lg.rows);
	json_object_put(o);
}

KOPT_TEST(run_cli_errors)
{
	char pol[PATH_MAX], out[4096];
	int st;

	repo_path(pol, sizeof(pol), "policies/memcached-sla500.conf");
	st = kopt_test_run(out, sizeof(out), "%s run --policy %s --plant host",
			   kopt_test_bin(), pol);
	ASSERT_EQ(st, 1, "host plant");
	ASSERT_HAS(out, "has no [host] interface", "host message");
	st = kopt_test_run(out, sizeof(out),
			   "%s run --policy %s --plant sim --duration -5",
			   kopt_test_bin(), pol);
	ASSERT_EQ(st, 2, "bad duration");
	ASSERT_HAS(out, "--duration '-5'", "duration message");
	st = kopt_test_run(out, sizeof(out),
			   "%s run --policy %s --plant /nonexistent/plant "
			   "--duration 100",
			   kopt_test_bin(), pol);
	ASSERT_EQ(st, 1, "plant that cannot run");
	ASSERT_HAS(out, "giving up", "it gives up");
	ASSERT_HAS(out, "exited with status 127", "and says why");
}

/* An external command speaking the protocol, labelled by its source. */
KOPT_TEST(run_external_plant)
{
	static char out[OUT_CAP];
	char pol[PATH_MAX], params[PATH_MAX];
	struct json_object *o;
	int st;

	repo_path(pol, sizeof(pol), "policies/memcached-sla500.conf");
	repo_path(params, sizeof(params), "policies/sim-memcached.params");
	o = run_json(out, &st,
		     "--policy %s --duration 7200 --plant '%s plant sim "
		     "--params %s --sla-p99 500 --start-hour 18'",
		     pol, kopt_test_bin(), params);
	if (ASSERT_EQ(st, 0, "exit") && ASSERT_OK_PTR(o, out)) {
		ASSERT_STREQ(json_object_get_string(jget(o, "source")), "sim",
			     "source");
		/* a trial is a probe and the rest of its window: two replies */
		ASSERT_NEAR(jnum(o, "duration_s"), 7200, 1e-6, "plant time");
		ASSERT_GE(jnum(o, "windows"), 720, "windows");
		/* a decision at a load the model knows may need no trial */
		ASSERT_GE(jnum(o, "triggers") + jnum(o, "moves"), 2,
			  "the load moved");
		ASSERT_LE(jnum(o, "trials_per_trigger.max"), 14, "budget");
		ASSERT_EQ(jnum(o, "sla_violating_windows.outside_exploration"),
			  0, "no violation outside exploration");
		ASSERT_GT(jnum(o, "saving_vs_stock") * 100, 30, "saves");
	}
	json_object_put(o);
}

/*
 * The acceptance run: 24 simulated hours on the optimized build.
 * At most 15 windows per trigger before holding, no violation outside
 * exploration, at least 90% of the oracle's saving.
 */
KOPT_TEST(run_acceptance_24h)
{
	static char out[OUT_CAP];
	char pol[PATH_MAX], bin[PATH_MAX];
	struct json_object *o = NULL;
	int st;

	snprintf(bin, sizeof(bin), "%s/kopt", kopt_test_builddir());
	if (access(bin, X_OK)) {
		SKIP("%s not built (make builds it)", bin);
		goto out;
	}
	repo_path(pol, sizeof(pol), "policies/memcached-sla500.conf");
	st = kopt_test_run(out, OUT_CAP,
			   "%s run --policy %s --plant sim --duration 86400 "
			   "--json 2>/dev/null",
			   bin, pol);
	o = json_tokener_parse(out);
	if (!ASSERT_EQ(st, 0, "exit") || !ASSERT_OK_PTR(o, out))
		goto out;
	ASSERT_TRUE(json_object_get_boolean(jget(o, "simulated")), "simulated");
	ASSERT_LE(jnum(o, "trials_per_trigger.max") + 1, 15,
		  "trials per trigger, with the measure window");
	ASSERT_EQ(jnum(o, "sla_violating_windows.outside_exploration"), 0,
		  "no violation outside exploration");
	ASSERT_GE(jnum(o, "oracle.fraction_of_saving_achieved") * 1000, 900,
		  "at least 90% of the oracle's saving (x1000)");
out:
	json_object_put(o);
}

/*
 * The learned table: a run at one load saves what it learned; a second
 * run warm-started from it knows that load (at most 3 trials where the
 * cold run spent the policy's budget), and a bad table is refused with
 * its file, field and reason before any plant starts.
 */
static int first_trials(struct json_object *o)
{
	struct json_object *lv = jget(o, "levels");

	return lv && json_object_array_length(lv) ?
		       json_object_get_int(jget(
			       json_object_array_get_idx(lv, 0), "trials")) :
		       -1;
}

KOPT_TEST(run_warm_start)
{
	static char out[OUT_CAP];
	char pol[PATH_MAX], scen[PATH_MAX], table[PATH_MAX], bad[PATH_MAX];
	char marker[PATH_MAX], plant[2 * PATH_MAX];
	struct json_object *o;
	int st, cold;
	FILE *f;
	static const struct {
		const char *text, *want;
	} bads[] = {
		{ "not json", "not a readable JSON file" },
		{ "{\"kopt_table\":1,\"objective\":\"energy_per_op\","
		  "\"sla_kind\":\"p99\",\"observations\":[]}",
		  "objective is \"energy_per_op\"" },
		{ "{\"kopt_table\":1,\"objective\":\"energy\",\"sla_kind\":"
		  "\"p99\",\"observations\":[{\"itr_us\":99999,\"freq_mhz\":"
		  "1300,\"qps\":1,\"obj\":1,\"cons\":1,\"hold\":false}]}",
		  "observations[0].itr_us: 99999 is outside" },
		{ "{\"kopt_table\":1,\"objective\":\"energy\",\"sla_kind\":"
		  "\"p99\",\"observations\":[{\"itr_us\":50,\"freq_mhz\":"
		  "1300,\"qps\":1,\"obj\":1,\"cons\":1}]}",
		  "observations[0].hold: missing" },
	};

	repo_path(pol, sizeof(pol), "policies/replay-memcached-sla500.conf");
	repo_path(scen, sizeof(scen),
		  "policies/data/memcached-linux-xeon-82599.json");
	snprintf(table, sizeof(table), "%s/table.json", kopt_test_tmpdir());
	snprintf(plant, sizeof(plant),
		 "'%s plant replay --table %s --schedule 24:400000 --sla-p99 "
		 "500'",
		 kopt_test_bin(), scen);
	o = run_json(out, &st,
		     "--policy %s --duration 1800 --plant %s --save-table %s",
		     pol, plant, table);
	if (!ASSERT_EQ(st, 0, "cold run") || !ASSERT_OK_PTR(o, out))
		goto out;
	cold = first_trials(o);
	ASSERT_GE(cold, 4, "the cold run explores");
	json_object_put(o);
	o = run_json(out, &st,
		     "--policy %s --duration 1800 --plant %s --warm-start %s",
		     pol, plant, table);
	if (!ASSERT_EQ(st, 0, "warm run") || !ASSERT_OK_PTR(o, out))
		goto out;
	ASSERT_LE(first_trials(o), 3, "the warm run knows the load");
	ASSERT_LT(first_trials(o), cold, "fewer trials than cold");
	ASSERT_EQ(jnum(o, "sla_violating_windows.outside_exploration"), 0,
		  "and holds within the SLA");

	snprintf(bad, sizeof(bad), "%s/bad.json", kopt_test_tmpdir());
	snprintf(marker, sizeof(marker), "%s/plant-started",
		 kopt_test_tmpdir());
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		f = fopen(bad, "w");
		if (!ASSERT_OK_PTR(f, bad))
			break;
		fputs(bads[i].text, f);
		fclose(f);
		st = kopt_test_run(out, OUT_CAP,
				   "%s run --policy %s --duration 100 "
				   "--plant 'touch %s' --warm-start %s",
				   kopt_test_bin(), pol, marker, bad);
		ASSERT_EQ(st, 1, bads[i].want);
		ASSERT_HAS(out, bads[i].want, "the reason");
		ASSERT_HAS(out, bad, "the file");
		ASSERT_TRUE(access(marker, F_OK) != 0, "no plant started");
	}
out:
	json_object_put(o);
}

/* ---- report ------------------------------------------------------------------ */

static bool is_png(const char *path)
{
	unsigned char magic[8] = { 0 };
	FILE *f = fopen(path, "rb");
	size_t n = 0;

	if (f) {
		n = fread(magic, 1, sizeof(magic), f);
		fclose(f);
	}
	return n == 8 && !memcmp(magic, "\x89PNG\r\n\x1a\n", 8);
}

KOPT_TEST(run_report)
{
	static char out[OUT_CAP];
	char log[PATH_MAX], dir[PATH_MAX], path[PATH_MAX + 32], pol[PATH_MAX],
		gp[8192];
	FILE *f;
	int st;

	if (kopt_test_run(NULL, 0, "command -v gnuplot")) {
		SKIP("gnuplot is not installed (make deps installs it)");
		goto out;
	}
	repo_path(pol, sizeof(pol), "policies/memcached-sla500.conf");
	snprintf(log, sizeof(log), "%s/report.csv", kopt_test_tmpdir());
	snprintf(dir, sizeof(dir), "%s/report", kopt_test_tmpdir());
	st = kopt_test_run(out, OUT_CAP,
			   "%s run --policy %s --plant sim "
			   "--duration 600 --log %s",
			   kopt_test_bin(), pol, log);
	if (!ASSERT_EQ(st, 0, "run"))
		goto out;
	ASSERT_HAS(out, "(simulated)", "human summary says simulated");
	st = kopt_test_run(out, OUT_CAP, "%s report %s -o %s", kopt_test_bin(),
			   log, dir);
	if (!ASSERT_EQ(st, 0, out))
		goto out;
	for (int i = 0; i < 3; i++) {
		static const char *const pngs[] = { "energy_latency.png",
						    "energy_itr.png",
						    "energy_time.png" };

		snprintf(path, sizeof(path), "%s/%s", dir, pngs[i]);
		ASSERT_TRUE(is_png(path), pngs[i]);
	}
	snprintf(path, sizeof(path), "%s/report.gp", dir);
	f = fopen(path, "r");
	if (ASSERT_OK_PTR(f, "report.gp")) {
		gp[fread(gp, 1, sizeof(gp) - 1, f)] = '\0';
		fclose(f);
		ASSERT_HAS(gp, "(simulated)", "titles say simulated");
		ASSERT_HAS(gp, "set arrow 1 from 500,", "SLA line at 500 us");
	}
	st = kopt_test_run(out, OUT_CAP, "%s report %s -o %s", kopt_test_bin(),
			   pol, dir);
	ASSERT_EQ(st, 1, "not a log");
	ASSERT_HAS(out, "not a kopt run log", "reason");
	st = kopt_test_run(out, OUT_CAP, "%s report %s", kopt_test_bin(), log);
	ASSERT_EQ(st, 2, "no -o");
	ASSERT_HAS(out, "kopt report: --output DIR is required\n",
		   "says what is missing");
out:
}

/*
 * A run log is a file people send each other: reading one must never run
 * anything. A hand-edited header whose policy name closes gnuplot's string
 * and calls system(), or uses backquotes, must end up as text in a title;
 * an output directory with quotes and a $(...) must be a directory name.
 */
/* A run log with one line of header as a hand edit left it. */
static bool write_hostile_log(const char *path, const char *policy)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		__KOPT_FAIL("%s: cannot create", path);
		return false;
	}
	fprintf(f,
		"# kopt run log: policy=%s objective=energy sla_kind=latency "
		"sla_pct=p99 sla_bound=500 sla_aim=450 plant=sim\n"
		"t_s,seconds,trigger,phase,itr_us,freq_mhz,energy_j,"
		"objective,p50_us,p99_us,throughput,qps,sla_ok,"
		"stock_energy_j,oracle_energy_j,source,error\n"
		"10,10,0,measure,stock,stock,900,90,60,190,,400000,1,,,sim,\n"
		"20,10,0,explore,50,1800,800,80,70,210,,400000,1,900,,sim,\n"
		"30,10,0,hold,50,1800,800,80,70,210,,400000,1,900,,sim,\n",
		policy);
	return !fclose(f);
}

/*
 * A run log is a file people send each other: reading one must never run
 * anything. A hand-edited header whose policy name closes gnuplot's string
 * and calls system(), or uses backquotes, must end up as text in a title;
 * an output directory with quotes and a $(...) must be a directory name.
 */
KOPT_TEST(run_report_hostile_log)
{
	static char out[OUT_CAP];
	char log[PATH_MAX], dir[2 * PATH_MAX], mark[4][PATH_MAX],
		path[3 * PATH_MAX], name[2 * PATH_MAX];
	int st;

	if (kopt_test_run(NULL, 0, "command -v gnuplot")) {
		SKIP("gnuplot is not installed (make deps installs it)");
		return;
	}
	for (int i = 0; i < 4; i++) {
		snprintf(mark[i], sizeof(mark[i]), "%s/pwned%d",
			 kopt_test_tmpdir(), i);
		unlink(mark[i]);
	}
	/* the header keeps 63 characters of a name: one payload per log */
	for (int i = 0; i < 3; i++) {
		static const char *const payload[] = {
			"x\".system(\"id>%s\").\"",
			"x`id>%s`",
			"x'.system('id>%s').'",
		};

		snprintf(name, sizeof(name), payload[i], mark[i]);
		snprintf(log, sizeof(log), "%s/hostile%d.csv",
			 kopt_test_tmpdir(), i);
		snprintf(dir, sizeof(dir), "%s/report-hostile%d",
			 kopt_test_tmpdir(), i);
		if (!write_hostile_log(log, name))
			return;
		st = kopt_test_run(out, OUT_CAP, "%s report '%s' -o '%s'",
				   kopt_test_bin(), log, dir);
		ASSERT_EQ(st, 0, out);
		ASSERT_NEQ(access(mark[i], F_OK), 0, "the name ran nothing");
		snprintf(path, sizeof(path), "%s/energy_latency.png", dir);
		ASSERT_TRUE(is_png(path), "drawn, the name as text");
	}

	/* run in the scratch dir, where a shell would write pwned3 */
	snprintf(dir, sizeof(dir), "%s/it's $(id>pwned3)", kopt_test_tmpdir());
	st = kopt_test_run(
		out, OUT_CAP,
		"cd '%s' && %s report '%s' -o 'it'\\''s $(id>pwned3)'",
		kopt_test_tmpdir(), kopt_test_bin(), log);
	ASSERT_EQ(st, 0, out);
	ASSERT_NEQ(access(mark[3], F_OK), 0, "the directory name ran nothing");
	snprintf(path, sizeof(path), "%s/energy_time.png", dir);
	ASSERT_TRUE(is_png(path), "drawn in the directory named so");
}
