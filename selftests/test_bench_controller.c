// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of `kopt bench controller` (loader/tools/bench_controller.c): one
 * scenario, two seeds, a few hours of plant time: the JSON carries every
 * figure, label and check; the baselines behave (the static profile never
 * re-optimizes nor explores, random search spends its whole trial budget
 * at each trigger); the three runs of a seed meet the same world; and
 * the bench's in-process controller run is exactly what `kopt run` does
 * with the same scenario as an external plant (same savings, same SLA
 * violations in and outside exploration).
 */
#define _GNU_SOURCE
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "kopt.h"
#include "test.h"

#define HOURS 4
#define WINDOWS (HOURS * 360)

static void repo_path(char *buf, size_t len, const char *rel)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", kopt_test_builddir());
	snprintf(buf, len, "%s/%s", dirname(tmp), rel);
}

static struct json_object *get(struct json_object *o, const char *path)
{
	char buf[256], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); o && tok;
	     tok = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, atoi(tok));
		else if (!json_object_object_get_ex(o, tok, &o))
			o = NULL;
	}
	return o;
}

static double num(struct json_object *o, const char *path)
{
	struct json_object *v = get(o, path);

	return v ? json_object_get_double(v) : NAN;
}

static const char *str(struct json_object *o, const char *path)
{
	struct json_object *v = get(o, path);

	return v ? json_object_get_string(v) : NULL;
}

static void check_fields(struct json_object *sc)
{
	static const char *const methods[] = { "controller", "static",
					       "random" };
	static const char *const figures[] = {
		"saving_vs_stock",
		"share_of_oracle_saving",
		"time_over_sla",
		"time_over_sla_exploring",
		"time_over_sla_outside_exploration",
		"reoptimizations_per_day",
		"genuine_changes_per_day",
	};
	static const char *const checks[] = {
		"time_over_sla_le_0_5pct",
		"oracle_share_ge_90pct",
		"beats_static",
		"beats_random",
		"reopt_le_2x_changes",
		"trials_new_level_le_10",
		"trials_seen_level_le_3",
	};
	char path[128];

	ASSERT_STREQ(str(sc, "scenario"), "calm", "scenario");
	ASSERT_STREQ(str(sc, "label"), "simulated", "label");
	ASSERT_STREQ(str(sc, "source"), "sim", "source");
	ASSERT_STREQ(str(sc, "sla"), "p99 < 500 us", "sla");
	ASSERT_TRUE(num(sc, "static_setting.itr_us") > 0,
		    "static setting found");
	for (int m = 0; m < 3; m++) {
		snprintf(path, sizeof(path), "methods.%s.label", methods[m]);
		ASSERT_STREQ(str(sc, path), "simulated", path);
		snprintf(path, sizeof(path), "methods.%s.seeds", methods[m]);
		ASSERT_EQ(json_object_array_length(get(sc, path)), 2, path);
		for (size_t f = 0; f < sizeof(figures) / sizeof(*figures);
		     f++) {
			snprintf(path, sizeof(path), "methods.%s.median.%s",
				 methods[m], figures[f]);
			ASSERT_TRUE(isfinite(num(sc, path)), path);
			snprintf(path, sizeof(path), "methods.%s.worst.%s",
				 methods[m], figures[f]);
			ASSERT_TRUE(isfinite(num(sc, path)), path);
		}
	}
	for (size_t k = 0; k < sizeof(checks) / sizeof(*checks); k++) {
		snprintf(path, sizeof(path), "checks.%s.pass", checks[k]);
		ASSERT_OK_PTR(get(sc, path), path);
	}
}

static void check_baselines(struct json_object *sc)
{
	char path[128];

	for (int s = 0; s < 2; s++) {
		double changes;

		snprintf(path, sizeof(path),
			 "methods.static.seeds.%d.reoptimizations", s);
		ASSERT_EQ(num(sc, path), 0, "static never re-optimizes");
		snprintf(path, sizeof(path),
			 "methods.static.seeds.%d.time_over_sla_exploring", s);
		ASSERT_EQ(num(sc, path), 0, "static never explores");
		snprintf(path, sizeof(path),
			 "methods.static.seeds.%d.trials_per_new_level", s);
		ASSERT_NULL(get(sc, path), "static has no trials");
		snprintf(path, sizeof(path),
			 "methods.random.seeds.%d.max_trials_new_level", s);
		ASSERT_EQ(num(sc, path), 14, "random: the whole budget");
		snprintf(path, sizeof(path),
			 "methods.random.seeds.%d.reoptimizations", s);
		ASSERT_GT(num(sc, path), 0, "random re-optimizes");
		snprintf(path, sizeof(path),
			 "methods.controller.seeds.%d.windows", s);
		/* a trial is a probe and the rest of its window: two */
		ASSERT_GE(num(sc, path), WINDOWS, "a window per 10 s or more");
		/* the three runs of a seed meet the same world */
		snprintf(path, sizeof(path),
			 "methods.controller.seeds.%d.genuine_changes", s);
		changes = num(sc, path);
		ASSERT_GT(changes, 0, "the calm curve moves");
		snprintf(path, sizeof(path),
			 "methods.static.seeds.%d.genuine_changes", s);
		ASSERT_EQ(num(sc, path), changes, "same world: static");
		snprintf(path, sizeof(path),
			 "methods.random.seeds.%d.genuine_changes", s);
		ASSERT_EQ(num(sc, path), changes, "same world: random");
		snprintf(path, sizeof(path),
			 "methods.static.seeds.%d.oracle_saving_vs_stock", s);
		ASSERT_GT(num(sc, path), 0.2, "the oracle saves");
	}
}

/*
 * The controller run of seed 1 again, through `kopt run` with the
 * scenario as an external plant (its own process, the plant protocol
 * over a socket): the same windows, so the same figures.
 */
static void check_same_as_kopt_run(struct json_object *sc)
{
	static char out[1 << 20];
	char pol[PATH_MAX], scen[PATH_MAX];
	struct json_object *run;

	repo_path(pol, sizeof(pol), "policies/memcached-sla500.conf");
	repo_path(scen, sizeof(scen), "policies/scenarios/calm.scenario");
	run = KOPT_TEST_RUN_JSON(out, sizeof(out),
				 "%s run --policy %s --plant '%s plant sim "
				 "--scenario %s --seed 1' --duration %d --json "
				 "2>/dev/null",
				 kopt_test_bin(), pol, kopt_test_bin(), scen,
				 HOURS * 3600);
	if (!run)
		return;
	ASSERT_EQ(num(run, "windows"),
		  num(sc, "methods.controller.seeds.0.windows"),
		  "kopt run windows");
	ASSERT_NEAR(num(run, "duration_s"), HOURS * 3600, 1e-6,
		    "kopt run plant time");
	ASSERT_NEAR(num(run, "saving_vs_stock"),
		    num(sc, "methods.controller.seeds.0.saving_vs_stock"), 1e-5,
		    "same saving as kopt run");
	ASSERT_NEAR(num(run, "oracle.saving_vs_stock"),
		    num(sc,
			"methods.controller.seeds.0.oracle_saving_vs_stock"),
		    1e-5, "same oracle saving as kopt run");
	/* windows differ in length: compare time over the SLA */
	ASSERT_NEAR(num(run, "time_over_sla.exploration"),
		    num(sc,
			"methods.controller.seeds.0.time_over_sla_exploring"),
		    1e-6, "same time over the SLA while exploring");
	ASSERT_NEAR(num(run, "time_over_sla.outside_exploration"),
		    num(sc, "methods.controller.seeds.0."
			    "time_over_sla_outside_exploration"),
		    1e-6, "same time over the SLA outside exploration");
	ASSERT_EQ(num(run, "triggers") - 1,
		  num(sc, "methods.controller.seeds.0.reoptimizations"),
		  "same re-optimizations");
	json_object_put(run);
}

KOPT_TEST_TIMEOUT(bench_controller_one_scenario, 300)
{
	static char out[1 << 22];
	struct json_object *o, *sc;
	double t0 = kopt_now_s();

	o = KOPT_TEST_RUN_JSON(out, sizeof(out),
			       "%s bench controller --scenarios calm --seeds 2 "
			       "--hours %d --json 2>/dev/null",
			       kopt_test_bin(), HOURS);
	if (!o)
		return;
	printf("  bench controller, 1 scenario x 2 seeds x %d h, "
	       "sanitized build: %.1f s\n",
	       HOURS, kopt_now_s() - t0);
	ASSERT_EQ(num(o, "seeds"), 2, "seeds");
	ASSERT_EQ(json_object_array_length(get(o, "scenarios")), 1,
		  "one scenario");
	ASSERT_TRUE(isfinite(num(o, "wall_s")), "wall time");
	sc = get(o, "scenarios.0");
	if (ASSERT_OK_PTR(sc, "the scenario")) {
		check_fields(sc);
		check_baselines(sc);
		check_same_as_kopt_run(sc);
	}
	json_object_put(o);
}

KOPT_TEST(bench_controller_refuses)
{
	char path[PATH_MAX];
	FILE *f;

	ASSERT_REFUSES(1, "nope.scenario: cannot open",
		       "%s bench controller "
		       "--scenarios nope --seeds 1",
		       kopt_test_bin());
	ASSERT_REFUSES(2, "--seeds '0'", "%s bench controller --seeds 0",
		       kopt_test_bin());
	snprintf(path, sizeof(path), "%s/nopolicy.scenario",
		 kopt_test_tmpdir());
	f = fopen(path, "w");
	if (!f) {
		ASSERT_TRUE(false, "cannot create the scenario");
		return;
	}
	fputs("[scenario]\ndescription = x\nplant = sim\n"
	      "params = /nonexistent.params\n",
	      f);
	fclose(f);
	ASSERT_REFUSES(1, "[scenario] policy: missing",
		       "%s bench controller "
		       "--scenarios %s --seeds 1",
		       kopt_test_bin(), path);
}
