// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of the replay plant (loader/tools/plant_replay.c, `kopt plant
 * replay`) on the measured tables of policies/data/: the grid read back,
 * requests snapped to it, a measured cell's mean reproduced within its
 * noise at its measured rate, loads between rates interpolated, the
 * oracle the best measured cell, replies labelled "replay" and valid for
 * the controller, and bad tables refused with file, row and field.
 */
#define _GNU_SOURCE
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "labplant.h"
#include "plant.h"
#include "plant_replay.h"
#include "test.h"

#define MEMCACHED "policies/data/memcached-linux-xeon-82599.json"
#define FLINK "policies/data/flink-q1-m32-xeon.json"

static void repo_path(char *buf, size_t len, const char *rel)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", kopt_test_builddir());
	snprintf(buf, len, "%s/%s", dirname(tmp), rel);
}

static bool load_table(const char *rel, struct replay_table *t)
{
	char path[PATH_MAX], err[512] = "";

	repo_path(path, sizeof(path), rel);
	return ASSERT_OK(replay_table_load(path, t, err, sizeof(err)), err);
}

KOPT_TEST(replay_table_grid)
{
	struct replay_table *t = calloc(1, sizeof(*t));

	if (!ASSERT_OK_PTR(t, "alloc") || !load_table(MEMCACHED, t))
		goto out;
	ASSERT_EQ(t->report, REPLAY_LATENCY, "memcached: latency");
	ASSERT_EQ(t->rows, 300, "rows");
	ASSERT_EQ(t->n_itr, 11, "ITRs");
	ASSERT_EQ(t->n_freq, 9, "frequencies");
	ASSERT_EQ(t->n_rate, 3, "rates");
	ASSERT_EQ(t->missing, 0, "none missing");
	ASSERT_NEAR(t->stock[1].w, 96.27, 1e-9, "stock at 400k (README)");
	/* README: power CV median 0.17%, p99 CV median 0.6% */
	ASSERT_NEAR(t->w_cv, 0.0017, 0.0005, "median power spread");
	ASSERT_NEAR(t->p99_cv, 0.006, 0.002, "median p99 spread");
	replay_table_free(t);
	if (!load_table(FLINK, t))
		goto out;
	ASSERT_EQ(t->report, REPLAY_THROUGHPUT, "Flink: throughput");
	ASSERT_EQ(t->n_itr, 11, "ITRs");
	ASSERT_EQ(t->n_freq, 8, "frequencies");
	ASSERT_EQ(t->n_rate, 4, "rates with a sweep");
	ASSERT_EQ(t->missing, 2, "two cells never measured (README)");
	replay_table_free(t);
out:
	free(t);
}

/* A replay at one fixed measured rate, no wander: the cell itself. */
static int start_fixed(struct labplant *lp, const struct replay_table *t,
		       double rate, const struct sim_sla *sla, uint64_t seed)
{
	struct scenario *sc = calloc(1, sizeof(*sc));
	struct labplant_setup ls = { .sc = sc, .seed = seed, .sla = sla };
	char err[512] = "";
	int ret;

	if (!sc)
		return -ENOMEM;
	sc->plant = SCENARIO_REPLAY;
	sc->have_levels = true;
	sc->world.n_levels = 1;
	sc->world.levels[0] = rate;
	sc->world.step_s = 4 * 3600;
	sc->noise.qps_sd = sc->noise.throughput_sd = NAN;
	ret = labplant_init_replay(lp, t, &ls, err, sizeof(err));
	ASSERT_OK(ret, err);
	free(sc);
	return ret;
}

static const struct replay_cell *cell_of(const struct replay_table *t,
					 double rate, double itr, double mhz)
{
	size_t ri = 0, fi = 0, ii = 0;

	while (ri < t->n_rate && t->rate[ri] != rate)
		ri++;
	while (fi < t->n_freq && t->freq_mhz[fi] != mhz)
		fi++;
	while (ii < t->n_itr && t->itr_us[ii] != itr)
		ii++;
	if (ri == t->n_rate || fi == t->n_freq || ii == t->n_itr)
		return NULL;
	return &t->cell[(ri * t->n_freq + fi) * t->n_itr + ii];
}

KOPT_TEST(replay_snaps_to_grid)
{
	static const struct {
		double itr, mhz, want_itr, want_mhz;
	} cases[] = {
		{ 300, 1300, 300, 1300 }, { 140, 1450, 100, 1500 },
		{ 160, 2000, 200, 1900 }, { 5000, 9999, 400, 2900 },
		{ 0, 100, 2, 1300 },	  { 6, 2800, 2, 2700 },
	};
	struct replay_table *t = calloc(1, sizeof(*t));
	struct labplant *lp = calloc(1, sizeof(*lp));
	struct lab_window w;
	char err[256];

	if (!t || !lp || !load_table(MEMCACHED, t))
		goto out;
	if (start_fixed(lp, t, 400000, NULL, 1))
		goto table;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lab_request rq = { .itr_us = cases[i].itr,
					  .freq_mhz = cases[i].mhz,
					  .seconds = 10 };
		const struct replay_cell *c;

		if (!ASSERT_OK(labplant_window(lp, &rq, &w, err, sizeof(err)),
			       err))
			continue;
		ASSERT_NEAR(w.itr_us, cases[i].want_itr, 0, "nearest ITR");
		ASSERT_NEAR(w.freq_mhz, cases[i].want_mhz, 0,
			    "nearest frequency");
		c = cell_of(t, 400000, cases[i].want_itr, cases[i].want_mhz);
		if (ASSERT_OK_PTR(c, "the cell"))
			ASSERT_NEAR(w.power_w, c->w, 1e-9,
				    "the measured cell's power");
	}
	labplant_fini(lp);
table:
	replay_table_free(t);
out:
	free(t);
	free(lp);
}

/*
 * At a measured rate, the mean of many windows is the measured cell's
 * mean, within the noise of that mean; the spread is the cell's own
 * (wsd, p99sd_ms) or, where it ran once, the table's median.
 */
KOPT_TEST(replay_reproduces_a_cell)
{
	enum { N = 2000 };
	/* (ITR 50, 1.5 GHz, 400k) ran twice; (2, 1.3 GHz, 200k) once */
	static const struct {
		double rate, itr, mhz;
	} cells[] = { { 400000, 50, 1500 }, { 200000, 2, 1300 } };
	struct replay_table *t = calloc(1, sizeof(*t));
	struct labplant *lp = calloc(1, sizeof(*lp));
	struct lab_window w;
	char err[256];

	if (!t || !lp || !load_table(MEMCACHED, t))
		goto out;
	for (size_t k = 0; k < 2; k++) {
		const struct replay_cell *c =
			cell_of(t, cells[k].rate, cells[k].itr, cells[k].mhz);
		struct lab_request rq = { .itr_us = cells[k].itr,
					  .freq_mhz = cells[k].mhz,
					  .seconds = 10 };
		double sw = 0, sw2 = 0, sl = 0, sl2 = 0, wsd, lsd;

		if (!ASSERT_OK_PTR(c, "cell") ||
		    start_fixed(lp, t, cells[k].rate, NULL, 7 + k))
			continue;
		for (int i = 0; i < N; i++) {
			double x, y;

			if (!ASSERT_OK(labplant_window(lp, &rq, &w, err,
						       sizeof(err)),
				       err))
				break;
			x = w.energy_j / w.seconds;
			y = w.p99_us;
			sw += x / N;
			sw2 += x * x / N;
			sl += y / N;
			sl2 += y * y / N;
		}
		wsd = isfinite(c->w_sd) ? c->w_sd : t->w_cv * c->w;
		lsd = isfinite(c->p99_sd_us) ? c->p99_sd_us :
					       t->p99_cv * c->p99_us;
		/* the mean within 4 standard errors */
		ASSERT_NEAR(sw, c->w, 4 * wsd / sqrt(N) + 1e-9,
			    "mean power is the measured one");
		ASSERT_NEAR(sl, c->p99_us, 4 * lsd / sqrt(N) + 1e-9,
			    "mean p99 is the measured one");
		ASSERT_NEAR(sqrt(fmax(sw2 - sw * sw, 0)), wsd, 0.1 * wsd,
			    "power spread is the cell's");
		ASSERT_NEAR(sqrt(fmax(sl2 - sl * sl, 0)), lsd, 0.1 * lsd,
			    "p99 spread is the cell's");
		labplant_fini(lp);
	}
	replay_table_free(t);
out:
	free(t);
	free(lp);
}

KOPT_TEST(replay_interpolates_and_oracle)
{
	struct sim_sla sla = { SIM_SLA_P99, 500 };
	struct replay_table *t = calloc(1, sizeof(*t));
	struct replay_point pt, best;
	const struct replay_cell *a, *b;

	if (!t || !load_table(MEMCACHED, t))
		goto out;
	/* halfway between 200k and 400k: the mean of the two cells */
	replay_eval(t, 300000, replay_snap_freq(t, 1700),
		    replay_snap_itr(t, 100), &pt);
	a = cell_of(t, 200000, 100, 1700);
	b = cell_of(t, 400000, 100, 1700);
	if (ASSERT_OK_PTR(a, "cell") && ASSERT_OK_PTR(b, "cell")) {
		ASSERT_NEAR(pt.w, (a->w + b->w) / 2, 1e-9, "power");
		ASSERT_NEAR(pt.p99_us, (a->p99_us + b->p99_us) / 2, 1e-9,
			    "p99");
	}
	/* clamped past the measured rates */
	replay_eval(t, 900000, replay_snap_freq(t, 1700),
		    replay_snap_itr(t, 100), &pt);
	b = cell_of(t, 600000, 100, 1700);
	if (ASSERT_OK_PTR(b, "cell"))
		ASSERT_NEAR(pt.w, b->w, 1e-9, "no extrapolation");
	/* README: least power with p99 < 0.5 ms at 400k is 58.74 W */
	if (ASSERT_OK(replay_oracle(t, 400000, &sla, &best), "oracle")) {
		ASSERT_NEAR(best.w, 58.74, 1e-9, "the best measured cell");
		ASSERT_NEAR(best.itr_us, 300, 0, "its ITR");
		ASSERT_NEAR(best.freq_mhz, 1300, 0, "its frequency");
	}
	sla.bound = 50;
	ASSERT_EQ(replay_oracle(t, 400000, &sla, &best), -ENOENT,
		  "no cell meets 50 us");
	replay_table_free(t);
out:
	free(t);
}

/* The reply a controller reads: valid, labelled replay, with the oracle. */
KOPT_TEST(replay_reply_labelled)
{
	struct sim_sla sla = { SIM_SLA_RATIO, 0.99 };
	struct replay_table *t = calloc(1, sizeof(*t));
	struct labplant *lp = calloc(1, sizeof(*lp));
	struct lab_request rq = { .stock = true, .seconds = 10 };
	char line[PLANT_LINE_MAX], err[PLANT_ERR_LEN] = "";
	struct plant_reply r;
	struct lab_window w;

	if (!t || !lp || !load_table(FLINK, t))
		goto out;
	if (start_fixed(lp, t, 300000, &sla, 2))
		goto table;
	if (ASSERT_OK(labplant_window(lp, &rq, &w, err, sizeof(err)), err)) {
		labplant_reply_line(lp, &w, line, sizeof(line));
		if (ASSERT_OK(plant_parse_reply(line, 10, PLANT_NEED_THROUGHPUT,
						&r, err, sizeof(err)),
			      err)) {
			ASSERT_STREQ(r.source, "replay", "source");
			ASSERT_TRUE(isfinite(r.oracle_energy_j), "oracle");
			ASSERT_TRUE(isfinite(r.stock_energy_j), "stock");
			ASSERT_TRUE(isnan(r.p99_us), "no latency in Flink");
		}
		/* README: Flink at 300k, best 88.75 W (ITR 300, 1.8 GHz) */
		ASSERT_NEAR(w.oracle_w, 88.75, 1e-9, "oracle cell");
		ASSERT_NEAR(w.stock_w, 106.84, 1e-9, "stock row");
	}
	rq = (struct lab_request){ .itr_us = 300,
				   .freq_mhz = NAN,
				   .seconds = 10 };
	ASSERT_EQ(labplant_window(lp, &rq, &w, err, sizeof(err)), -EINVAL,
		  "no frequency");
	ASSERT_HAS(err, "both be non-negative numbers", "reason");
	labplant_fini(lp);
table:
	replay_table_free(t);
out:
	free(t);
	free(lp);
}

static const char *write_table(const char *text)
{
	static char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/bad.json", kopt_test_tmpdir());
	f = fopen(path, "w");
	if (!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	return path;
}

KOPT_TEST(replay_table_errors)
{
#define ROW(pol, ghz, w)                                 \
	"{\"policy\":\"" pol "\",\"itr\":2,\"ghz\":" ghz \
	",\"rate\":100,\"w\":" w ",\"tput\":100}"
	static const struct {
		const char *text, *expect;
	} cases[] = {
		{ "{}", "not a non-empty JSON list of rows" },
		{ "[1, 2", "cannot read it as JSON" },
		{ "[" ROW("userspace", "1.2", "\"50\"") "]",
		  "bad.json: row 0: \"w\" is string, expected a number" },
		{ "[" ROW("userspace", "null", "50") "]",
		  "bad.json: row 0: \"ghz\" is missing or null" },
		{ "[" ROW("userspace", "1.2", "-5") "]",
		  "row 0: \"w\" is -5, expected a finite number >= 0" },
		{ "[" ROW("userspace", "1.2", "50") "]",
		  "bad.json: no stock row at rate 100" },
		{ "[" ROW("ondemand", "null", "60") "," ROW(
			  "userspace", "1.2", "50") "," ROW("userspace", "1.2",
							    "51") "]",
		  "bad.json: row 2: a second row for this ITR and frequency "
		  "at rate 100" },
		{ "[" ROW("ondemand", "null", "60") "]", "no static rows" },
	};
	struct replay_table *t = calloc(1, sizeof(*t));
	char err[512];

	for (size_t i = 0; t && i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = write_table(cases[i].text);

		err[0] = '\0';
		if (!ASSERT_OK_PTR(path, "write") ||
		    !ASSERT_ERR(replay_table_load(path, t, err, sizeof(err)),
				cases[i].expect))
			continue;
		ASSERT_HAS(err, cases[i].expect, cases[i].text);
	}
	free(t);
}

/* `kopt plant replay`: the protocol, the oracle, and its refusals. */
KOPT_TEST(replay_cli)
{
	static char out[1 << 16];
	char table[PATH_MAX], scen[PATH_MAX];
	struct json_object *o, *v;
	char *last;

	repo_path(table, sizeof(table), MEMCACHED);
	repo_path(scen, sizeof(scen),
		  "policies/scenarios/replay-memcached-sla500.scenario");
	ASSERT_OK(kopt_test_run(out, sizeof(out),
				"printf '%%s\\n' "
				"'{\"itr_us\":300,\"freq_mhz\":1300,"
				"\"seconds\":10}' | %s plant replay "
				"--scenario %s --seed 3",
				kopt_test_bin(), scen),
		  out);
	last = strrchr(out, '{');
	o = last ? json_tokener_parse(last) : NULL;
	if (ASSERT_OK_PTR(o, out)) {
		ASSERT_TRUE(json_object_object_get_ex(o, "source", &v) &&
				    !strcmp(json_object_get_string(v),
					    "replay"),
			    "labelled replay");
		ASSERT_TRUE(json_object_object_get_ex(o, "oracle_energy_j", &v),
			    "the scenario's policy gives the oracle its SLA");
		json_object_put(o);
	}
	o = KOPT_TEST_RUN_JSON(out, sizeof(out),
			       "%s plant replay --table %s --oracle "
			       "--sla-p99 200 --json",
			       kopt_test_bin(), table);
	if (o) {
		ASSERT_STREQ(json_object_get_string(
				     json_object_object_get(o, "label")),
			     "replayed-measured", "label");
		ASSERT_EQ(json_object_array_length(
				  json_object_object_get(o, "rates")),
			  3, "one row per measured rate");
		json_object_put(o);
	}
	ASSERT_REFUSES(2, "--schedule",
		       "%s plant replay --table %s "
		       "--schedule 4:banana",
		       kopt_test_bin(), table);
	ASSERT_REFUSES(1, "outside the rates",
		       "printf '' | %s plant replay "
		       "--table %s --schedule 4:100000,200000",
		       kopt_test_bin(), table);
	repo_path(scen, sizeof(scen), "policies/scenarios/calm.scenario");
	ASSERT_REFUSES(1, "is for plant = sim", "%s plant replay --scenario %s",
		       kopt_test_bin(), scen);
	ASSERT_REFUSES(1, "is for plant = replay",
		       "%s plant sim --scenario %s/../scenarios/"
		       "replay-flink.scenario",
		       kopt_test_bin(), dirname(scen));
}
