// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of the plant protocol (loader/lib/ctl/plant.c) and the sim plant
 * (loader/tools/plant_sim.c, `kopt plant sim`).
 *
 * Protocol: every kind of bad reply is refused with its reason (garbage,
 * wrong type, missing field, negative energy, NaN, an error reply), and
 * real processes that misbehave (selftests/plants/bad_plant.sh) end in a
 * clear error: one that sleeps past the timeout is stopped, one that
 * exits is reported with its status and can be restarted.
 * Sim: the shapes the model is calibrated to ("L" for memcached, "V" for
 * ping-pong), an oracle that really is the optimum of its grid, a
 * stock-vs-best gap of the published order, determinism for a seed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "plant.h"
#include "plant_sim.h"
#include "policy.h"
#include "test.h"

static void repo_path(char *buf, size_t len, const char *rel)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", kopt_test_builddir());
	snprintf(buf, len, "%s/%s", dirname(tmp), rel);
}

/* ---- reply validation --------------------------------------------------- */

static int parse(const char *line, enum plant_need need, char *err, size_t len)
{
	struct plant_reply r = { 0 };

	err[0] = '\0';
	return plant_parse_reply(line, 10, need, &r, err, len);
}

KOPT_TEST(plant_parse_good)
{
	struct plant_reply r = { 0 };
	char err[PLANT_ERR_LEN] = "";

	if (!ASSERT_OK(plant_parse_reply("{\"energy_j\": 866.8, \"p99_us\": "
					 "194.5, \"p50_us\": 63.9, \"qps\": "
					 "400000, \"seconds\": 10, \"extra\": "
					 "[1], \"source\": \"sim\"}",
					 10, PLANT_NEED_P99, &r, err,
					 sizeof(err)),
		       err))
		return;
	ASSERT_NEAR(r.energy_j, 866.8, 1e-9, "energy");
	ASSERT_NEAR(r.p99_us, 194.5, 1e-9, "p99");
	ASSERT_NEAR(r.qps, 400000, 0, "qps");
	ASSERT_TRUE(isnan(r.throughput), "no throughput");
	ASSERT_TRUE(isnan(r.stock_energy_j), "no stock figure");
	ASSERT_STREQ(r.source, "sim", "source");
	/* a throughput plant needs no percentiles */
	ASSERT_OK(plant_parse_reply("{\"energy_j\": 1, \"throughput\": 990, "
				    "\"qps\": 1000, \"seconds\": 10}",
				    10, PLANT_NEED_THROUGHPUT, &r, err,
				    sizeof(err)),
		  err);
	ASSERT_NEAR(r.throughput, 990, 0, "throughput");
}

KOPT_TEST(plant_parse_bad)
{
	static const struct {
		const char *line, *expect;
		enum plant_need need;
	} cases[] = {
		{ "this is not json", "reply is not JSON" },
		{ "", "reply is not JSON" },
		{ "[1, 2]", "reply is not a JSON object" },
		{ "{\"energy_j\": 1} trailing", "text after the JSON" },
		{ "{\"p99_us\": 1, \"qps\": 1, \"seconds\": 10}",
		  "reply has no \"energy_j\"" },
		{ "{\"energy_j\": 1, \"qps\": 1, \"seconds\": 10}",
		  "reply has no \"p99_us\"" },
		{ "{\"energy_j\": 1, \"p99_us\": 1, \"seconds\": 10}",
		  "reply has no \"qps\"" },
		{ "{\"energy_j\": 1, \"p99_us\": 1, \"qps\": 1}",
		  "reply has no \"seconds\"" },
		{ "{\"energy_j\": 1, \"p99_us\": 1, \"qps\": 1, \"seconds\": 1}",
		  "reply has no \"throughput\"", PLANT_NEED_THROUGHPUT },
		{ "{\"energy_j\": \"866\", \"p99_us\": 1, \"qps\": 1, "
		  "\"seconds\": 10}",
		  "\"energy_j\" is string, expected a number" },
		{ "{\"energy_j\": null, \"p99_us\": 1, \"qps\": 1, "
		  "\"seconds\": 10}",
		  "\"energy_j\" is null, expected a number" },
		{ "{\"energy_j\": true, \"p99_us\": 1, \"qps\": 1, "
		  "\"seconds\": 10}",
		  "\"energy_j\" is boolean, expected a number" },
		{ "{\"energy_j\": -5, \"p99_us\": 1, \"qps\": 1, "
		  "\"seconds\": 10}",
		  "\"energy_j\" is -5, outside [0," },
		{ "{\"energy_j\": NaN, \"p99_us\": 1, \"qps\": 1, "
		  "\"seconds\": 10}",
		  "\"energy_j\" is nan, expected a finite number" },
		{ "{\"energy_j\": 1, \"p99_us\": Infinity, \"qps\": 1, "
		  "\"seconds\": 10}",
		  "\"p99_us\" is inf, expected a finite number" },
		{ "{\"energy_j\": 1, \"p99_us\": 1, \"qps\": -1, "
		  "\"seconds\": 10}",
		  "\"qps\" is -1, outside" },
		{ "{\"energy_j\": 1, \"p99_us\": 1, \"qps\": 1, \"seconds\": 0}",
		  "\"seconds\" is 0, outside" },
		{ "{\"energy_j\": 1, \"p99_us\": 1, \"qps\": 1, "
		  "\"seconds\": 1000}",
		  "\"seconds\" is 1000, outside" },
		{ "{\"energy_j\": 1, \"p99_us\": 10, \"p50_us\": 20, "
		  "\"qps\": 1, \"seconds\": 10}",
		  "\"p50_us\" (20) is above \"p99_us\" (10)" },
		{ "{\"energy_j\": 1, \"p99_us\": 1, \"qps\": 1, \"seconds\": 10, "
		  "\"stock_energy_j\": -1}",
		  "\"stock_energy_j\" is -1, outside" },
		{ "{\"energy_j\": 1, \"p99_us\": 1, \"qps\": 1, \"seconds\": 10, "
		  "\"source\": 5}",
		  "\"source\" is not a string" },
		{ "{\"energy_j\": 1, \"p99_us\": 1, \"qps\": 1, \"seconds\": 10, "
		  "\"source\": \"Very Real\"}",
		  "\"source\" must be a short lowercase word" },
		{ "{\"error\": \"power meter unavailable\"}",
		  "plant reported an error: power meter unavailable" },
	};
	char err[PLANT_ERR_LEN] = "";

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!ASSERT_EQ(parse(cases[i].line, cases[i].need, err,
				     sizeof(err)),
			       -EPROTO, cases[i].line))
			continue;
		ASSERT_HAS(err, cases[i].expect, cases[i].line);
	}
}

/* ---- real processes --------------------------------------------------------- */

static struct plant *start_bad(const char *mode, int from)
{
	char script[PATH_MAX], cmd[PATH_MAX + 64], err[PLANT_ERR_LEN];
	struct plant *p;

	repo_path(script, sizeof(script), "selftests/plants/bad_plant.sh");
	snprintf(cmd, sizeof(cmd), "%s %s %d", script, mode, from);
	p = plant_start_cmd(cmd, err, sizeof(err));
	ASSERT_OK_PTR(p, err);
	return p;
}

static int measure(struct plant *p, bool stock, double timeout,
		   struct plant_reply *r, char *err, size_t len)
{
	struct plant_setting s = { .stock = stock,
				   .itr_us = 50,
				   .freq_mhz = 1800 };

	err[0] = '\0';
	return plant_measure(p, &s, 10, timeout, PLANT_NEED_P99, r, err, len);
}

KOPT_TEST(plant_proto_request)
{
	struct plant *p = start_bad("echo", 1);
	char err[PLANT_ERR_LEN] = "";
	struct plant_reply r = { 0 };

	if (!p)
		return;
	ASSERT_EQ(measure(p, false, 5, &r, err, sizeof(err)), -EPROTO,
		  "echo as error");
	ASSERT_HAS(err, "{\"itr_us\":50,\"freq_mhz\":1800,\"seconds\":10}",
		   "request with knobs");
	plant_stop(p);
	p = start_bad("echo", 1);
	if (!p)
		return;
	measure(p, true, 5, &r, err, sizeof(err));
	ASSERT_HAS(err, "{\"itr_us\":null,\"freq_mhz\":null,\"seconds\":10}",
		   "stock request: both knobs null");
	ASSERT_HAS(err, "bad_plant.sh echo", "message names the plant");
	plant_stop(p);
}

KOPT_TEST(plant_proto_garbage_then_good)
{
	struct plant *p = start_bad("garbage", 2);
	char err[PLANT_ERR_LEN] = "";
	struct plant_reply r = { 0 };

	if (!p)
		return;
	ASSERT_OK(measure(p, false, 5, &r, err, sizeof(err)), err);
	ASSERT_NEAR(r.energy_j, 950, 0, "first reply good");
	ASSERT_EQ(measure(p, false, 5, &r, err, sizeof(err)), -EPROTO,
		  "garbage");
	ASSERT_HAS(err, "reply is not JSON", "garbage reason");
	ASSERT_TRUE(plant_running(p), "a bad reply keeps the plant");
	ASSERT_OK(measure(p, false, 5, &r, err, sizeof(err)), err);
	plant_stop(p);
}

KOPT_TEST(plant_proto_timeout)
{
	struct plant *p = start_bad("sleep", 1);
	char err[PLANT_ERR_LEN] = "";
	struct plant_reply r = { 0 };

	if (!p)
		return;
	ASSERT_EQ(measure(p, false, 0.3, &r, err, sizeof(err)), -ETIMEDOUT,
		  "sleeping plant");
	ASSERT_HAS(err, "sent no reply within 0.3 s", "timeout reason");
	ASSERT_FALSE(plant_running(p), "a hung plant is stopped");
	ASSERT_EQ(measure(p, false, 1, &r, err, sizeof(err)), -EPIPE,
		  "no plant, no window");
	plant_stop(p);
}

KOPT_TEST(plant_proto_exit_and_restart)
{
	struct plant *p = start_bad("exit", 2);
	char err[PLANT_ERR_LEN] = "";
	struct plant_reply r = { 0 };

	if (!p)
		return;
	ASSERT_OK(measure(p, false, 5, &r, err, sizeof(err)), err);
	ASSERT_EQ(measure(p, false, 5, &r, err, sizeof(err)), -EPIPE, "exit");
	ASSERT_HAS(err, "exited with status 3", "exit status in the reason");
	ASSERT_FALSE(plant_running(p), "dead plant");
	if (ASSERT_OK(plant_restart(p, err, sizeof(err)), err))
		ASSERT_OK(measure(p, false, 5, &r, err, sizeof(err)), err);
	plant_stop(p);
}

KOPT_TEST(plant_proto_cannot_start)
{
	char *argv[] = { "/nonexistent/plant", NULL };
	char err[PLANT_ERR_LEN] = "";

	ASSERT_NULL(plant_start_argv(argv, "nope", err, sizeof(err)),
		    "missing program");
	ASSERT_HAS(err, "cannot start /nonexistent/plant", "reason");
}

/* ---- the sim model --------------------------------------------------------- */

static bool load_params(const char *name, struct sim_params *p)
{
	char path[PATH_MAX], rel[128], err[KOPT_INI_ERR_LEN] = "";

	snprintf(rel, sizeof(rel), "policies/%s", name);
	repo_path(path, sizeof(path), rel);
	return ASSERT_OK(sim_params_load(path, p, err, sizeof(err)), err);
}

/* memcached: energy falls steeply then flattens while latency grows. */
KOPT_TEST(plant_sim_l_shape)
{
	struct sim_params p = { 0 };
	struct sim_point a, b, c;

	if (!load_params("sim-memcached.params", &p))
		return;
	sim_eval(&p, 400000, 20, 1800, &a);
	sim_eval(&p, 400000, 200, 1800, &b);
	sim_eval(&p, 400000, 380, 1800, &c);
	ASSERT_TRUE(a.power_w > b.power_w && b.power_w > c.power_w,
		    "energy falls with ITR");
	ASSERT_TRUE(a.p99_us < b.p99_us && b.p99_us < c.p99_us,
		    "latency grows with ITR");
	/* the "L": most of the energy comes off in the first half */
	ASSERT_GT((a.power_w - b.power_w) * 100,
		  2 * (b.power_w - c.power_w) * 100, "convex: an L");
}

/* ping-pong: energy per round trip is a V over ITR, with an inner minimum */
KOPT_TEST(plant_sim_v_shape)
{
	struct sim_params p = { 0 };
	struct sim_point pt;
	double best = INFINITY, best_itr = 0, lo, hi;

	if (!load_params("sim-netpipe.params", &p))
		return;
	for (double r = 2; r <= 400; r += 2) {
		sim_eval(&p, 0, r, 2900, &pt);
		if (pt.j_per_op < best) {
			best = pt.j_per_op;
			best_itr = r;
		}
	}
	sim_eval(&p, 0, 2, 2900, &pt);
	lo = pt.j_per_op;
	sim_eval(&p, 0, 400, 2900, &pt);
	hi = pt.j_per_op;
	ASSERT_TRUE(best_itr > 2 && best_itr < 400, "inner minimum");
	/* in nJ, so the integer comparison sees the difference */
	ASSERT_GT(lo * 1e9, best * 1.3e9, "left arm of the V");
	ASSERT_GT(hi * 1e9, best * 1.3e9, "right arm of the V");
}

/* The oracle is the cheapest SLA-meeting point of its grid. */
KOPT_TEST(plant_sim_oracle)
{
	struct sim_sla sla = { SIM_SLA_P99, 500 };
	struct sim_params p = { 0 };
	struct sim_point best, pt;

	if (!load_params("sim-memcached.params", &p))
		return;
	if (!ASSERT_OK(sim_oracle(&p, 400000, &sla, &best), "oracle"))
		return;
	ASSERT_LT(best.p99_us, 500, "oracle meets the SLA");
	for (size_t i = 0; i < p.n_freqs; i += 3)
		for (double r = p.itr_min_us; r <= p.itr_max_us; r += 14) {
			sim_eval(&p, 400000, r, p.freqs_mhz[i], &pt);
			if (sim_meets(&sla, 400000, &pt) &&
			    pt.power_w < best.power_w - 1e-9)
				__KOPT_FAIL("(%g, %g) beats the oracle", r,
					    p.freqs_mhz[i]);
		}
	sla.bound = 1;
	ASSERT_EQ(sim_oracle(&p, 400000, &sla, &best), -ENOENT,
		  "an impossible SLA has no optimum");
}

/* Stock vs best over the day: the published order (~50% / ~30%). */
KOPT_TEST(plant_sim_published_gap)
{
	struct sim_sla s500 = { SIM_SLA_P99, 500 }, s200 = { SIM_SLA_P99, 200 };
	double stock = 0, b500 = 0, b200 = 0;
	struct sim_params p = { 0 };
	struct sim_point st, b;

	if (!load_params("sim-memcached.params", &p))
		return;
	for (int h = 0; h < SIM_HOURS; h++) {
		double q = p.peak_qps * p.curve[h];

		sim_eval_stock(&p, q, &st);
		ASSERT_LT(st.p99_us, 200, "stock meets both SLAs");
		stock += st.power_w;
		if (ASSERT_OK(sim_oracle(&p, q, &s500, &b), "oracle 500"))
			b500 += b.power_w;
		if (ASSERT_OK(sim_oracle(&p, q, &s200, &b), "oracle 200"))
			b200 += b.power_w;
	}
	ASSERT_TRUE(1 - b500 / stock > 0.40 && 1 - b500 / stock < 0.60,
		    "about 50% saved at p99 < 500 us");
	ASSERT_TRUE(1 - b200 / stock > 0.20 && 1 - b200 / stock < 0.40,
		    "about 30% saved at p99 < 200 us");
}

KOPT_TEST(plant_sim_deterministic)
{
	struct sim_request rq = { .itr_us = 300,
				  .freq_mhz = 1800,
				  .seconds = 10 };
	struct sim_reply a, b, c;
	struct sim_params p = { 0 };
	struct sim *s1, *s2;
	char err[128];

	if (!load_params("sim-memcached.params", &p))
		return;
	s1 = malloc(sizeof(*s1));
	s2 = malloc(sizeof(*s2));
	if (!ASSERT_OK_PTR(s1, "alloc") || !ASSERT_OK_PTR(s2, "alloc"))
		goto out;
	sim_init(s1, &p, 7, 0, 0, NULL);
	sim_init(s2, &p, 7, 0, 0, NULL);
	for (int i = 0; i < 5; i++) {
		ASSERT_OK(sim_window(s1, &rq, &a, err, sizeof(err)), err);
		ASSERT_OK(sim_window(s2, &rq, &b, err, sizeof(err)), err);
		ASSERT_TRUE(a.energy_j == b.energy_j && a.p99_us == b.p99_us,
			    "same seed, same figures");
	}
	ASSERT_NEAR(s1->t_s, 50, 1e-9, "the clock advanced 5 windows");
	ASSERT_TRUE(isnan(a.oracle_energy_j), "no SLA, no oracle figure");
	sim_init(s2, &p, 8, 0, 0, NULL);
	ASSERT_OK(sim_window(s2, &rq, &c, err, sizeof(err)), err);
	sim_init(s1, &p, 7, 0, 0, NULL);
	ASSERT_OK(sim_window(s1, &rq, &a, err, sizeof(err)), err);
	ASSERT_TRUE(a.energy_j != c.energy_j, "another seed, other noise");
	rq.itr_us = 1e6;
	ASSERT_EQ(sim_window(s1, &rq, &a, err, sizeof(err)), -EINVAL,
		  "a setting the NIC cannot take");
	ASSERT_HAS(err, "outside what the simulated NIC accepts", "reason");
out:
	free(s1);
	free(s2);
}

KOPT_TEST(plant_sim_params_errors)
{
	char path[PATH_MAX], err[KOPT_INI_ERR_LEN] = "";
	struct sim_params p = { 0 };
	FILE *f;

	snprintf(path, sizeof(path), "%s/bad.params", kopt_test_tmpdir());
	f = fopen(path, "w");
	if (!f) {
		__KOPT_FAIL("%s: cannot create", "create");
		return;
	}
	fputs("[workload]\nkind = open\nreport = latency\n[power]\n"
	      "warp_w = 3\n",
	      f);
	fclose(f);
	if (ASSERT_ERR(sim_params_load(path, &p, err, sizeof(err)), "bad"))
		ASSERT_HAS(err, "bad.params:5: [power] warp_w: unknown key",
			   "unknown key");
	f = fopen(path, "w");
	if (!f) {
		__KOPT_FAIL("%s: cannot create", "create");
		return;
	}
	fputs("[workload]\nkind = open\nreport = latency\n", f);
	fclose(f);
	if (ASSERT_ERR(sim_params_load(path, &p, err, sizeof(err)), "short"))
		ASSERT_HAS(err, "missing", "missing key");
}

/* `kopt plant sim` speaks the protocol and survives bad requests. */
KOPT_TEST(plant_sim_cli)
{
	static char out[1 << 16];
	char params[PATH_MAX];
	struct json_object *o, *v;
	char *nl;
	int st;

	repo_path(params, sizeof(params), "policies/sim-memcached.params");
	st = kopt_test_run(
		out, sizeof(out),
		"printf '%%s\\n' 'garbage' "
		"'{\"itr_us\":300,\"freq_mhz\":null,\"seconds\":10}' "
		"'{\"itr_us\":300,\"freq_mhz\":1800,\"seconds\":10}' | "
		"%s plant sim --params %s --sla-p99 500",
		kopt_test_bin(), params);
	ASSERT_EQ(st, 0, "exit");
	ASSERT_HAS(out, "{\"error\":\"request is not a JSON object\"",
		   "garbage request");
	ASSERT_HAS(out, "must both be non-negative numbers, or both null",
		   "half-stock request");
	nl = strrchr(out, '{');
	if (!ASSERT_OK_PTR(nl, "a reply"))
		return;
	o = json_tokener_parse(nl);
	if (!ASSERT_OK_PTR(o, "reply is JSON"))
		return;
	ASSERT_TRUE(json_object_object_get_ex(o, "source", &v) &&
			    !strcmp(json_object_get_string(v), "sim"),
		    "labelled simulated");
	ASSERT_TRUE(json_object_object_get_ex(o, "oracle_energy_j", &v),
		    "oracle figure with an SLA");
	json_object_put(o);
	st = kopt_test_run(out, sizeof(out),
			   "%s plant sim --params %s "
			   "--oracle --sla-p99 500 --json",
			   kopt_test_bin(), params);
	ASSERT_EQ(st, 0, "oracle exit");
	o = json_tokener_parse(out);
	if (ASSERT_OK_PTR(o, "oracle JSON")) {
		ASSERT_TRUE(json_object_object_get_ex(o, "levels", &v) &&
				    json_object_array_length(v) == 24,
			    "24 hourly levels");
		json_object_put(o);
	}
	st = kopt_test_run(out, sizeof(out),
			   "%s plant sim --oracle "
			   "--params %s",
			   kopt_test_bin(), params);
	ASSERT_EQ(st, 2, "oracle without an SLA");
	ASSERT_HAS(out, "kopt plant sim: --oracle needs an SLA", "reason");
	st = kopt_test_run(out, sizeof(out), "%s plant host", kopt_test_bin());
	ASSERT_EQ(st, 2, "host plant without --ifname");
	ASSERT_HAS(out, "kopt plant host: --ifname is required",
		   "host plant message");
}
