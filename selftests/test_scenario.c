// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of scenarios and the worlds they describe (loader/tools/
 * scenario.c, world.c): every shipped scenario loads with its policy and
 * its plant's data; a bad file is refused with file:line, section, key
 * and reason; a world is a function of its seed, and it moves as it is
 * told (wander of the asked size, flash crowds, drift with no load
 * change, a neighbour), with genuine changes counted once each.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "plant_replay.h"
#include "plant_sim.h"
#include "policy.h"
#include "scenario.h"
#include "test.h"
#include "world.h"

static void repo_path(char *buf, size_t len, const char *rel)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", kopt_test_builddir());
	snprintf(buf, len, "%s/%s", dirname(tmp), rel);
}

KOPT_TEST(scenario_shipped_load)
{
	struct scenario *sc = calloc(1, sizeof(*sc));
	struct policy *pol = calloc(1, sizeof(*pol));
	struct sim_params *p = calloc(1, sizeof(*p));
	struct replay_table *t = calloc(1, sizeof(*t));
	char dir[PATH_MAX], path[PATH_MAX + 256], err[KOPT_INI_ERR_LEN];
	unsigned int n = 0, replays = 0;
	struct dirent *de;
	DIR *d;

	repo_path(dir, sizeof(dir), "policies/scenarios");
	d = opendir(dir);
	if (!ASSERT_OK_PTR(d, dir) || !sc || !pol || !p || !t)
		goto out;
	while ((de = readdir(d))) {
		if (!strstr(de->d_name, ".scenario"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n++;
		if (!ASSERT_OK(scenario_load(path, sc, err, sizeof(err)), err))
			continue;
		ASSERT_TRUE(sc->description[0], "has a description");
		ASSERT_OK(policy_load(sc->policy, pol, err, sizeof(err)), err);
		if (sc->plant == SCENARIO_SIM) {
			ASSERT_OK(sim_params_load(sc->params, p, err,
						  sizeof(err)),
				  err);
			continue;
		}
		replays++;
		ASSERT_TRUE(sc->credit[0], "a replay credits its source");
		if (ASSERT_OK(replay_table_load(sc->table, t, err, sizeof(err)),
			      err))
			replay_table_free(t);
	}
	closedir(d);
	ASSERT_GE(n, 10, "scenarios shipped");
	ASSERT_EQ(replays, 3, "replay scenarios");
out:
	free(sc);
	free(pol);
	free(p);
	free(t);
}

/* Writes text to a scenario file in the scratch folder; its path. */
static const char *write_scenario(const char *text)
{
	static char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/bad.scenario", kopt_test_tmpdir());
	f = fopen(path, "w");
	if (!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	return path;
}

KOPT_TEST(scenario_errors)
{
#define SIM_HEAD "[scenario]\nplant = sim\nparams = x.params\n"
#define REPLAY_HEAD "[scenario]\nplant = replay\ntable = t.json\n"
	static const struct {
		const char *text, *expect;
	} cases[] = {
		{ SIM_HEAD "[load]\nwander = 3\n",
		  "bad.scenario:5: [load] wander: unknown key" },
		{ SIM_HEAD "[weather]\nrain = 1\n",
		  "bad.scenario:5: [weather]: unknown section" },
		{ SIM_HEAD "[noise]\nenergy_sd = 0.02\nenergy_sd = 0.03\n",
		  "bad.scenario:6: [noise] energy_sd: given twice (first on "
		  "line 5)" },
		{ SIM_HEAD "[noise]\nenergy_sd = lots\n",
		  "bad.scenario:5: [noise] energy_sd: 'lots' is not a number" },
		{ SIM_HEAD "[noise]\np99_sd = 0.9\n",
		  "bad.scenario:5: [noise] p99_sd: 0.9 is out of range" },
		{ "[scenario]\nparams = x.params\n",
		  "[scenario] plant: missing (sim or replay)" },
		{ "[scenario]\nplant = simulated\n",
		  "bad.scenario:2: [scenario] plant: 'simulated' is not one "
		  "of: sim, replay" },
		{ "[scenario]\nplant = sim\n", "[scenario] params: missing" },
		{ REPLAY_HEAD "[drift]\nsize = 0.2\nperiod_hours = 4\n",
		  "bad.scenario:5: [drift] size: not allowed with plant = "
		  "replay: a replay cannot change the server it measured" },
		{ REPLAY_HEAD "[noise]\np99_sd = 0.05\n",
		  "bad.scenario:5: [noise] p99_sd: not allowed with plant = "
		  "replay: a replay's noise is its table's own repeat spread" },
		{ SIM_HEAD "table = t.json\n",
		  "bad.scenario:4: [scenario] table: not allowed with plant = "
		  "sim" },
		{ SIM_HEAD "[load]\nramp_size = 0.1 0.2\n",
		  "bad.scenario:5: [load] ramp_size: given without ramps > 0" },
		{ SIM_HEAD "[load]\nramps = 2\nramp_hours = 1 2\n",
		  "bad.scenario:5: [load] ramp_size: missing (ramps = ... "
		  "needs LOW HIGH relative change)" },
		{ SIM_HEAD "[load]\nflashes = 1\nflash_size = 0.9 0.5\n",
		  "bad.scenario:6: [load] flash_size: '0.9 0.5': the low end "
		  "comes first" },
		{ SIM_HEAD "[load]\nflashes = 1.5\n",
		  "bad.scenario:5: [load] flashes: '1.5' is not a whole number" },
		{ SIM_HEAD "[load]\ncurve = 1 2 3\n",
		  "bad.scenario:5: [load] curve: 3 values; one per hour (24) "
		  "needed" },
		{ SIM_HEAD
		  "[load]\ncurve = 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 "
		  "1 1 1 1 1 1\nlevels = 100 200\n",
		  "bad.scenario:6: [load] levels: give curve or levels, not "
		  "both" },
		{ SIM_HEAD "[load]\nwander_sd = 0.03\n",
		  "bad.scenario:5: [load] wander_tau_s: missing (wander_sd = "
		  "... needs the wander's correlation time)" },
		{ SIM_HEAD "[neighbour]\ncount = 1\nhours = 1 2\nextra_w = 5\n",
		  "bad.scenario:5: [neighbour] slowdown: missing (count = ... "
		  "needs its slowdown)" },
		{ SIM_HEAD "[load]\nramps = 1\nramp_size = 0.1\n"
			   "ramp_hours = 6\nramp_hold_hours = 12.5\n",
		  "bad.scenario:8: [load] ramp_hold_hours: 12.5 is out of "
		  "range" },
		{ SIM_HEAD "this is not ini\n",
		  "bad.scenario:4: syntax error" },
	};
	struct scenario *sc = calloc(1, sizeof(*sc));
	char err[KOPT_INI_ERR_LEN];

	for (size_t i = 0; sc && i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = write_scenario(cases[i].text);

		err[0] = '\0';
		if (!ASSERT_OK_PTR(path, "write") ||
		    !ASSERT_ERR(scenario_load(path, sc, err, sizeof(err)),
				cases[i].expect))
			continue;
		ASSERT_HAS(err, cases[i].expect, cases[i].text);
	}
	free(sc);
}

/* ---- worlds --------------------------------------------------------------------- */

static void flat_world(struct world_spec *w, double qps)
{
	memset(w, 0, sizeof(*w));
	w->base = WORLD_BASE_FIXED;
	w->fixed_qps = qps;
	w->flash_rise_s = 60;
}

KOPT_TEST(world_deterministic)
{
	struct world_spec s;
	struct world a, b, c;
	struct world_cond x, y, z;
	unsigned int differ = 0;

	flat_world(&s, 1000);
	s.wander_sd = 0.03;
	s.wander_tau_s = 120;
	s.flashes = (struct world_events){ .per_day = 3,
					   .size = { 0.5, 0.8 },
					   .rise_s = { 300, 1200 } };
	s.drift_size = 0.3;
	s.drift_period_s = 4 * 3600;
	world_init(&a, &s, 9);
	world_init(&b, &s, 9);
	world_init(&c, &s, 10);
	/* b looks at the day backwards: a world is a function of time */
	for (int i = 8639; i >= 0; i--)
		world_at(&b, i * 10.0, &y);
	for (int i = 0; i < 8640; i++) {
		world_at(&a, i * 10.0, &x);
		world_at(&b, i * 10.0, &y);
		world_at(&c, i * 10.0, &z);
		if (memcmp(&x, &y, sizeof(x))) {
			ASSERT_TRUE(false, "same seed, same world");
			break;
		}
		differ += x.qps != z.qps;
	}
	ASSERT_GT(differ, 8000, "another seed, another world");
	world_fini(&a);
	world_fini(&b);
	world_fini(&c);
}

KOPT_TEST(world_moves_as_told)
{
	struct world_spec s;
	struct world w;
	struct world_cond c;
	double sum = 0, sum2 = 0, lag = 0, prev = 0, max_flash = 0;
	double min_drift = 2, max_drift = 0, neigh_s = 0;
	int n = 8640;

	flat_world(&s, 1000);
	s.wander_sd = 0.03;
	s.wander_tau_s = 120;
	s.flashes = (struct world_events){ .per_day = 2,
					   .size = { 0.6, 0.6 },
					   .rise_s = { 600, 600 } };
	s.drift_size = 0.3;
	s.drift_period_s = 2 * 3600;
	s.neighbours =
		(struct world_events){ .per_day = 1,
				       .rise_s = { 3 * 3600, 3 * 3600 } };
	s.neighbour_w = 12;
	s.neighbour_slowdown = 0.25;
	world_init(&w, &s, 4);
	for (int i = 0; i < n; i++) {
		double x;

		world_at(&w, i * 10.0, &c);
		x = log(c.qps / c.base_qps);
		sum += x;
		sum2 += x * x;
		lag += x * prev;
		prev = x;
		max_flash = fmax(max_flash, c.flash);
		min_drift = fmin(min_drift, c.drift);
		max_drift = fmax(max_drift, c.drift);
		neigh_s += c.neighbour > 0.99 ? 10 : 0;
		ASSERT_NEAR(c.svc_scale, c.drift * (1 + 0.25 * c.neighbour),
			    1e-12, "service time: drift x neighbour");
		ASSERT_NEAR(c.extra_w, 12 * c.neighbour, 1e-12,
			    "the neighbour's power");
		ASSERT_NEAR(c.base_qps, 1000 * (1 + c.flash), 1e-6,
			    "the load moves only by the flashes");
	}
	/* a day holds about 60 correlation times: sd within 40% */
	ASSERT_NEAR(sqrt(sum2 / n - (sum / n) * (sum / n)), 0.03, 0.012,
		    "wander sd");
	ASSERT_GT(lag / sum2, 0.8, "the wander is smooth minute to minute");
	ASSERT_NEAR(max_flash, 0.6, 1e-9, "a flash crowd reaches +60%");
	ASSERT_LT(min_drift, 0.95, "drift down");
	ASSERT_GT(max_drift, 1.05, "drift up");
	ASSERT_GT(min_drift, 0.7 - 1e-9, "drift within its size");
	ASSERT_LT(max_drift, 1.3 + 1e-9, "drift within its size");
	/* 3 h a day, minus 30 s onsets, maybe cut at midnight */
	ASSERT_GT(neigh_s, 2 * 3600, "the neighbour stays hours");
	ASSERT_LT(neigh_s, 3 * 3600 + 1, "no longer than drawn");
	world_fini(&w);
}

KOPT_TEST(world_genuine_changes)
{
	struct world_spec s;
	struct world w;

	/* steps: 100, 200, 300, 200 held 4 h each: 5 steps in a day */
	flat_world(&s, 0);
	s.base = WORLD_BASE_STEPS;
	s.step_s = 4 * 3600;
	s.n_levels = 4;
	s.levels[0] = 100;
	s.levels[1] = 200;
	s.levels[2] = 300;
	s.levels[3] = 200;
	world_init(&w, &s, 1);
	ASSERT_EQ(world_changes(&w, 0, 86400, 10, 0.1, 120), 5, "steps");
	world_fini(&w);
	/* a flat load, one flash crowd: its onset and its end */
	flat_world(&s, 1000);
	s.flashes = (struct world_events){ .per_day = 1,
					   .size = { 0.6, 0.6 },
					   .rise_s = { 1200, 1200 } };
	world_init(&w, &s, 2);
	ASSERT_EQ(world_changes(&w, 86400, 2 * 86400, 10, 0.1, 120), 2,
		  "a flash crowd");
	world_fini(&w);
	/* the wander alone is no genuine change */
	flat_world(&s, 1000);
	s.wander_sd = 0.05;
	s.wander_tau_s = 120;
	world_init(&w, &s, 3);
	ASSERT_EQ(world_changes(&w, 0, 86400, 10, 0.1, 120), 0, "wander");
	world_fini(&w);
}
