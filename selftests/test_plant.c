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
 * stock-vs-best gap of the published order, determinism for a seed; in a
 * world that moves, an oracle per window at the window's true conditions
 * (its cache exact against full scans), stock and oracle figures with
 * noise of their own, latency noise growing near saturation.
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
#include "world.h"
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
					 "[1], \"source\": \"sim\", "
					 "\"latency_source\": \"bpf\"}",
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
	ASSERT_STREQ(r.latency_source, "bpf", "latency source");
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
		{ "{\"energy_j\": 1, \"p99_us\": 1, \"qps\": 1, \"seconds\": 10, "
		  "\"latency_source\": \"a,b\"}",
		  "\"latency_source\" must be a short lowercase word" },
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

/*
 * A policy's other knobs travel by name in "knobs", never with stock; a
 * policy without them sends exactly the two-knob request (above).
 */
KOPT_TEST(plant_proto_request_knobs)
{
	static const char *const names[] = { "defer_irqs", "busy_poll" };
	static const char *const bad[] = { "a\"b", "itr_us", "" };
	struct plant *p = start_bad("echo", 1);
	struct plant_setting s = {
		.itr_us = 50, .freq_mhz = 1800, .n_knobs = 2, .knobs = { 4, 0 }
	};
	char err[PLANT_ERR_LEN] = "";
	struct plant_reply r = { 0 };

	if (!p)
		return;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(plant_set_knobs(p, 1, &bad[i]), -EINVAL, bad[i]);
	ASSERT_EQ(plant_set_knobs(p, PLANT_MAX_KNOBS + 1, names), -EINVAL,
		  "too many knobs");
	if (!ASSERT_OK(plant_set_knobs(p, 2, names), "set knobs"))
		goto out;
	plant_measure(p, &s, 10, 5, PLANT_NEED_P99, &r, err, sizeof(err));
	ASSERT_HAS(err,
		   "{\"itr_us\":50,\"freq_mhz\":1800,\"knobs\":"
		   "{\"defer_irqs\":4,\"busy_poll\":0},\"seconds\":10}",
		   "request with the knobs by name");
	plant_stop(p);
	p = start_bad("echo", 1);
	if (!p || !ASSERT_OK(plant_set_knobs(p, 2, names), "set knobs"))
		goto out;
	s.stock = true;
	plant_measure(p, &s, 10, 5, PLANT_NEED_P99, &r, err, sizeof(err));
	ASSERT_HAS(err, "{\"itr_us\":null,\"freq_mhz\":null,\"seconds\":10}",
		   "stock: no knobs");
out:
	if (p)
		plant_stop(p);
}

/* The plant's side of "knobs": names and values checked, stock without. */
KOPT_TEST(plant_parse_request_knobs)
{
	static const struct {
		const char *line, *expect;
	} bad[] = {
		{ "{\"itr_us\": 5, \"freq_mhz\": 1, \"knobs\": 3, "
		  "\"seconds\": 1}",
		  "knobs: not an object" },
		{ "{\"itr_us\": null, \"freq_mhz\": null, \"knobs\": "
		  "{\"d\": 1}, \"seconds\": 1}",
		  "knobs: set with itr_us null" },
		{ "{\"itr_us\": 5, \"freq_mhz\": 1, \"knobs\": "
		  "{\"$(id)\": 1}, \"seconds\": 1}",
		  "is not a knob name" },
		{ "{\"itr_us\": 5, \"freq_mhz\": 1, \"knobs\": "
		  "{\"d\": -1}, \"seconds\": 1}",
		  "knobs: d must be a non-negative number" },
		{ "{\"itr_us\": 5, \"freq_mhz\": 1, \"knobs\": "
		  "{\"d\": \"1\"}, \"seconds\": 1}",
		  "knobs: d must be a non-negative number" },
		{ "{\"itr_us\": 5, \"freq_mhz\": 1, \"knobs\": {\"a\": 1, "
		  "\"b\": 1, \"c\": 1, \"d\": 1, \"e\": 1}, \"seconds\": 1}",
		  "knobs: more than 4" },
	};
	struct plant_request rq = { 0 };
	char err[PLANT_ERR_LEN];

	if (!ASSERT_OK(plant_parse_request("{\"itr_us\": 5, \"freq_mhz\": "
					   "1800, \"knobs\": {\"defer_irqs\": "
					   "2}, \"seconds\": 10}",
					   100, &rq, err, sizeof(err)),
		       err))
		return;
	ASSERT_EQ(rq.n_knobs, 1, "one knob");
	ASSERT_STREQ(rq.knob_names[0], "defer_irqs", "its name");
	ASSERT_EQ(rq.knobs[0], 2, "its value");
	ASSERT_OK(plant_parse_request("{\"itr_us\": 5, \"freq_mhz\": 1800, "
				      "\"seconds\": 10}",
				      100, &rq, err, sizeof(err)),
		  err);
	ASSERT_EQ(rq.n_knobs, 0, "a two-knob request has none");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (ASSERT_EQ(plant_parse_request(bad[i].line, 100, &rq, err,
						  sizeof(err)),
			      -EINVAL, bad[i].line))
			ASSERT_HAS(err, bad[i].expect, bad[i].line);
	}
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

/*
 * Hard-IRQ deferral ([defer], sim-memcached-defer.params): at 0 the
 * model without it exactly; its best value moves with the load (none at
 * a night's load, some at the peak); a request names it or is refused.
 */
KOPT_TEST(plant_sim_defer_knob)
{
	struct sim_sla sla = { .kind = SIM_SLA_P99, .bound = 200 };
	struct lab_request rq = { .itr_us = 50,
				  .freq_mhz = 2000,
				  .seconds = 10,
				  .n_knobs = 1,
				  .knob_names = { "defer_irqs" },
				  .knobs = { 4 } };
	struct sim_params p = { 0 }, plain = { 0 };
	struct sim_point a, b, night, peak;
	struct sim *s = calloc(1, sizeof(*s));
	struct world_cond c = { .drift = 1, .svc_scale = 1 };
	struct lab_window w;
	char err[256] = "";

	if (!ASSERT_OK_PTR(s, "alloc") ||
	    !load_params("sim-memcached-defer.params", &p) ||
	    !load_params("sim-memcached.params", &plain))
		goto out;
	ASSERT_TRUE(p.has_defer && !plain.has_defer, "[defer] read");
	for (double q = 50000; q <= 800000; q *= 2) {
		c.qps = c.base_qps = q;
		sim_eval_defer(&p, &c, 60, 2000, 0, &a);
		sim_eval_at(&plain, &c, 60, 2000, &b);
		ASSERT_TRUE(a.power_w == b.power_w && a.p99_us == b.p99_us,
			    "defer 0: the plain model");
	}
	c.qps = c.base_qps = 120000;
	ASSERT_OK(sim_oracle_at(&p, &c, &sla, &night), "oracle at night");
	c.qps = c.base_qps = 776000;
	ASSERT_OK(sim_oracle_at(&p, &c, &sla, &peak), "oracle at the peak");
	printf("oracle at p99 < 200 us: defer %g at 120k req/s, %g at 776k\n",
	       night.defer, peak.defer);
	ASSERT_EQ(night.defer, 0, "no deferral at a night's load");
	ASSERT_GT(peak.defer, 0, "deferral at the peak");
	if (!ASSERT_OK(sim_init(s, &p, &(struct sim_setup){ .seed = 1 }),
		       "init"))
		goto out;
	if (ASSERT_OK(sim_window(s, &rq, &w, err, sizeof(err)), err))
		ASSERT_EQ(w.defer, 4, "the window ran defer_irqs 4");
	snprintf(rq.knob_names[0], sizeof(rq.knob_names[0]), "busy_poll");
	ASSERT_EQ(sim_window(s, &rq, &w, err, sizeof(err)), -EINVAL,
		  "another knob");
	ASSERT_HAS(err, "knob busy_poll: the simulated server has no such",
		   "refused by name");
	sim_fini(s);
	snprintf(rq.knob_names[0], sizeof(rq.knob_names[0]), "defer_irqs");
	if (!ASSERT_OK(sim_init(s, &plain, &(struct sim_setup){ .seed = 1 }),
		       "init"))
		goto out;
	ASSERT_EQ(sim_window(s, &rq, &w, err, sizeof(err)), -EINVAL,
		  "no [defer]");
	ASSERT_HAS(err, "its params have no [defer]", "says why");
	sim_fini(s);
out:
	free(s);
}

KOPT_TEST(plant_sim_deterministic)
{
	struct lab_request rq = { .itr_us = 300,
				  .freq_mhz = 1800,
				  .seconds = 10 };
	struct sim_setup seven = { .seed = 7 }, eight = { .seed = 8 };
	struct lab_window a, b, c;
	struct sim_params p = { 0 };
	struct sim *s1, *s2;
	char err[128];

	if (!load_params("sim-memcached.params", &p))
		return;
	s1 = calloc(1, sizeof(*s1));
	s2 = calloc(1, sizeof(*s2));
	if (!ASSERT_OK_PTR(s1, "alloc") || !ASSERT_OK_PTR(s2, "alloc"))
		goto out;
	if (!ASSERT_OK(sim_init(s1, &p, &seven), "init") ||
	    !ASSERT_OK(sim_init(s2, &p, &seven), "init"))
		goto out;
	for (int i = 0; i < 5; i++) {
		ASSERT_OK(sim_window(s1, &rq, &a, err, sizeof(err)), err);
		ASSERT_OK(sim_window(s2, &rq, &b, err, sizeof(err)), err);
		ASSERT_TRUE(a.energy_j == b.energy_j && a.p99_us == b.p99_us,
			    "same seed, same figures");
	}
	ASSERT_NEAR(s1->t_s, 50, 1e-9, "the clock advanced 5 windows");
	ASSERT_TRUE(isnan(a.oracle_energy_j), "no SLA, no oracle figure");
	sim_fini(s2);
	sim_init(s2, &p, &eight);
	ASSERT_OK(sim_window(s2, &rq, &c, err, sizeof(err)), err);
	sim_fini(s1);
	sim_init(s1, &p, &seven);
	ASSERT_OK(sim_window(s1, &rq, &a, err, sizeof(err)), err);
	ASSERT_TRUE(a.energy_j != c.energy_j, "another seed, other noise");
	rq.itr_us = 1e6;
	ASSERT_EQ(sim_window(s1, &rq, &a, err, sizeof(err)), -EINVAL,
		  "a setting the NIC cannot take");
	ASSERT_HAS(err, "outside what the simulated NIC accepts", "reason");
out:
	if (s1)
		sim_fini(s1);
	if (s2)
		sim_fini(s2);
	free(s1);
	free(s2);
}

/* ---- the sim in a world that moves ------------------------------------------ */

/* A world with drift and a neighbour on all day, the load held fixed. */
static void moving_world(struct world_spec *w, double qps)
{
	memset(w, 0, sizeof(*w));
	w->base = WORLD_BASE_FIXED;
	w->fixed_qps = qps;
	w->drift_size = 0.3;
	w->drift_period_s = 3600;
	w->neighbours =
		(struct world_events){ .per_day = 3,
				       .rise_s = { 4 * 3600, 6 * 3600 } };
	w->neighbour_w = 12;
	w->neighbour_slowdown = 0.25;
}

/*
 * The oracle of each window is that of its true conditions (drift and
 * neighbour included), not of its load alone: each window's oracle equals
 * a full scan of the grid at the window's conditions, and differs from
 * the oracle at the bare load where drift or the neighbour moved them.
 */
KOPT_TEST(plant_sim_oracle_true_conditions)
{
	struct sim_sla sla = { SIM_SLA_P99, 500 };
	struct lab_request rq = { .itr_us = 100,
				  .freq_mhz = 2000,
				  .seconds = 10 };
	struct sim_params p = { 0 };
	struct world_spec ws;
	struct sim_setup ss = { .world = &ws, .seed = 3, .sla = &sla };
	struct sim_point full, bare;
	struct lab_window w;
	unsigned int differ = 0, neigh = 0, n = 0;
	struct sim *s = calloc(1, sizeof(*s));
	char err[128];

	if (!ASSERT_OK_PTR(s, "alloc") ||
	    !load_params("sim-memcached.params", &p))
		goto out;
	moving_world(&ws, 500000);
	if (!ASSERT_OK(sim_init(s, &p, &ss), "init"))
		goto out;
	sim_oracle(&p, 500000, &sla, &bare);
	/* a window every 20 minutes of a day */
	for (int i = 0; i < 8640; i++) {
		if (!ASSERT_OK(sim_window(s, &rq, &w, err, sizeof(err)), err))
			break;
		if (i % 120)
			continue;
		n++;
		if (!ASSERT_TRUE(w.oracle_ok, "feasible") ||
		    !ASSERT_OK(sim_oracle_at(&p, &w.cond, &sla, &full), "scan"))
			break;
		ASSERT_NEAR(
			w.oracle_w, full.power_w, 1e-9 * full.power_w,
			"the window's oracle is the scan at its conditions");
		ASSERT_NEAR(w.oracle_itr_us, full.itr_us, 0, "oracle ITR");
		ASSERT_NEAR(w.cond.qps, 500000, 1e-6, "load held");
		differ += fabs(w.oracle_w - bare.power_w) > 0.01 * bare.power_w;
		neigh += w.cond.extra_w > 11.9;
	}
	ASSERT_EQ(n, 72, "windows checked");
	ASSERT_GT(neigh, 0, "the neighbour came");
	ASSERT_GT(differ, n / 2, "drift and neighbour move the oracle");
out:
	if (s)
		sim_fini(s);
	free(s);
}

/* The cached oracle gives the full scan's answer at any conditions. */
KOPT_TEST(plant_sim_oracle_cache_exact)
{
	static const struct {
		const char *params;
		struct sim_sla sla;
	} cases[] = {
		{ "sim-memcached.params", { SIM_SLA_P99, 500 } },
		{ "sim-memcached.params", { SIM_SLA_P99, 200 } },
		{ "sim-stream.params", { SIM_SLA_RATIO, 0.99 } },
	};
	struct sim *s = calloc(1, sizeof(*s));
	struct sim_params p = { 0 };
	uint64_t rng = 11;

	for (size_t k = 0; s && k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct sim_setup ss = { .seed = 1, .sla = &cases[k].sla };
		unsigned int same = 0, n = 400;

		if (!load_params(cases[k].params, &p) ||
		    !ASSERT_OK(sim_init(s, &p, &ss), "init"))
			break;
		for (unsigned int i = 0; i < n; i++) {
			struct world_cond c = {
				.qps = p.peak_qps *
				       (0.1 + 1.5 * lab_uniform(&rng)),
				.svc_scale = 0.7 + 0.7 * lab_uniform(&rng),
				.extra_w = 12 * lab_uniform(&rng),
			};
			struct sim_point a, b;
			int ea = sim_oracle_cached(s, &c, &a);
			int eb = sim_oracle_at(&p, &c, &cases[k].sla, &b);

			same += ea == eb && (ea || (a.itr_us == b.itr_us &&
						    a.freq_mhz == b.freq_mhz));
		}
		ASSERT_EQ(same, n, cases[k].params);
		sim_fini(s);
	}
	free(s);
}

static double corr(const double *x, const double *y, size_t n)
{
	double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;

	for (size_t i = 0; i < n; i++) {
		mx += x[i] / n;
		my += y[i] / n;
	}
	for (size_t i = 0; i < n; i++) {
		sxy += (x[i] - mx) * (y[i] - my);
		sxx += (x[i] - mx) * (x[i] - mx);
		syy += (y[i] - my) * (y[i] - my);
	}
	return sxy / sqrt(sxx * syy);
}

static double rel_sd(const double *x, size_t n)
{
	double m = 0, v = 0;

	for (size_t i = 0; i < n; i++)
		m += x[i] / n;
	for (size_t i = 0; i < n; i++)
		v += (x[i] - m) * (x[i] - m) / (n - 1);
	return sqrt(v) / m;
}

/*
 * The stock and oracle figures of a window are separate measurements:
 * their noise is drawn apart from the window's own (uncorrelated), each
 * with the energy noise's sd. And latency noise grows near saturation.
 */
KOPT_TEST(plant_sim_noise_independent)
{
	enum { N = 4000 };
	struct sim_sla sla = { SIM_SLA_P99, 500 };
	struct sim_noise noise = { .energy_sd = 0.03,
				   .p99_sd = 0.045,
				   .p50_sd = 0.045,
				   .sat_gain = 2,
				   .sat_knee = 0.6 };
	struct sim_setup ss = {
		.noise = &noise, .seed = 5, .fixed_qps = 400000, .sla = &sla
	};
	struct lab_request rq = { .itr_us = 200,
				  .freq_mhz = 2000,
				  .seconds = 10 };
	double *e = calloc(N, sizeof(*e)), *st = calloc(N, sizeof(*st));
	double * or = calloc(N, sizeof(* or)), *lat = calloc(N, sizeof(*lat));
	struct sim *s = calloc(1, sizeof(*s));
	struct sim_params p = { 0 };
	struct lab_window w;
	double low_sd, util_low;
	char err[128];

	if (!ASSERT_OK_PTR(s, "alloc") || !e || !st || ! or || !lat ||
	    !load_params("sim-memcached.params", &p) ||
	    !ASSERT_OK(sim_init(s, &p, &ss), "init"))
		goto out;
	for (int i = 0; i < N; i++) {
		if (!ASSERT_OK(sim_window(s, &rq, &w, err, sizeof(err)), err))
			goto out;
		e[i] = w.energy_j / (w.power_w * w.seconds);
		st[i] = w.stock_energy_j / (w.stock_w * w.seconds);
		or [i] = w.oracle_energy_j / (w.oracle_w * w.seconds);
		lat[i] = w.p99_us / w.true_p99_us;
	}
	/* |r| of independent draws: sd 1/sqrt(N) = 0.016 */
	ASSERT_LT(fabs(corr(e, st, N)), 0.06, "stock noise apart");
	ASSERT_LT(fabs(corr(e, or, N)), 0.06, "oracle noise apart");
	ASSERT_LT(fabs(corr(st, or, N)), 0.06, "stock and oracle apart");
	ASSERT_NEAR(rel_sd(e, N), 0.03, 0.003, "energy sd");
	ASSERT_NEAR(rel_sd(st, N), 0.03, 0.003, "stock sd");
	ASSERT_NEAR(rel_sd(or, N), 0.03, 0.003, "oracle sd");
	low_sd = rel_sd(lat, N);
	util_low = w.util;
	ASSERT_LT(util_low, 0.6, "below the knee");
	ASSERT_NEAR(low_sd, 0.045, 0.005, "p99 sd below the knee");
	/* the same setting near saturation: 1200 MHz at a higher load */
	sim_fini(s);
	ss.fixed_qps = 1150000;
	rq.freq_mhz = 1200;
	if (!ASSERT_OK(sim_init(s, &p, &ss), "init"))
		goto out;
	for (int i = 0; i < N; i++) {
		if (!ASSERT_OK(sim_window(s, &rq, &w, err, sizeof(err)), err))
			goto out;
		lat[i] = w.p99_us / w.true_p99_us;
	}
	ASSERT_GT(w.util, 0.8, "near saturation");
	ASSERT_GT(rel_sd(lat, N), 1.5 * low_sd, "noise grows near saturation");
out:
	if (s)
		sim_fini(s);
	free(s);
	free(e);
	free(st);
	free(or);
	free(lat);
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
	/* [defer]: both keys, whole values ascending from 0 */
	{
		static const struct {
			const char *sed, *expect;
		} cases[] = {
			{ "s/^values = 0 1/values = 1/",
			  "[defer] values: whole numbers, strictly ascending "
			  "from 0" },
			{ "s/^values = 0 1 2/values = 0 1.5 2/",
			  "[defer] values: whole numbers" },
			{ "/^poll_frac/d", "[defer] poll_frac: missing" },
		};
		char src[PATH_MAX];

		repo_path(src, sizeof(src),
			  "policies/sim-memcached-defer.params");
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			if (!ASSERT_OK(kopt_test_run(NULL, 0,
						     "sed '%s' %s > %s",
						     cases[i].sed, src, path),
				       "write"))
				continue;
			if (ASSERT_ERR(sim_params_load(path, &p, err,
						       sizeof(err)),
				       cases[i].sed))
				ASSERT_HAS(err, cases[i].expect, cases[i].sed);
		}
	}
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
