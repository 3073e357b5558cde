// SPDX-License-Identifier: GPL-2.0-only
/*
 * Scenario files (scenario.h): inih through kopt_ini_parse() (policy.h),
 * which gives handlers line numbers; every key described once in
 * key_table (section, name, kind, range, unit, where it goes, which plant
 * may use it), so parsing, duplicates, unknown keys and the plant checks
 * come from one place. Relations between keys are checked after the
 * file is read, each error on the line of the key it is about.
 *
 * Cost: one pass over a small file.
 */
#define _GNU_SOURCE
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "scenario.h"

enum key_kind {
	K_NUM, /* double at off, in [min, max], x unit */
	K_COUNT, /* unsigned int at off, in [min, max] */
	K_RANGE, /* double[2] at off: "LOW HIGH" (or one value), x unit */
	K_CURVE, /* world.curve: one value per hour */
	K_LEVELS, /* world.levels / n_levels */
	K_PATH, /* char[PATH_MAX] at off, relative to the scenario's folder */
	K_TEXT, /* char[SCENARIO_TEXT_LEN] at off */
	K_PLANT, /* sim | replay */
};

/* Which plant may use a key, and why the other may not. */
enum key_plant { ANY, SIM_ONLY, REPLAY_ONLY };

struct key_desc {
	const char *section, *key;
	enum key_kind kind;
	double min, max, unit;
	size_t off;
	enum key_plant plant;
	const char *why; /* why the other plant may not use it */
};

#define SC_OFF(field) offsetof(struct scenario, field)
#define W_OFF(field) offsetof(struct scenario, world.field)
#define HOURS 3600.0
#define MINUTES 60.0

static const char why_noise[] = "a replay's noise is its table's own repeat "
				"spread";
static const char why_load[] = "a replay's loads are its table's rates: "
			       "give them as [load] levels";
static const char why_server[] = "a replay cannot change the server it "
				 "measured: use plant = sim";

enum key_id {
	KEY_DESCRIPTION,
	KEY_CREDIT,
	KEY_PLANT,
	KEY_PARAMS,
	KEY_TABLE,
	KEY_POLICY,
	KEY_ENERGY_SD,
	KEY_P99_SD,
	KEY_P50_SD,
	KEY_QPS_SD,
	KEY_TPUT_SD,
	KEY_SAT_GAIN,
	KEY_SAT_KNEE,
	KEY_CURVE,
	KEY_PEAK,
	KEY_LEVELS,
	KEY_STEP,
	KEY_WANDER_SD,
	KEY_WANDER_TAU,
	KEY_RAMPS,
	KEY_RAMP_SIZE,
	KEY_RAMP_HOURS,
	KEY_RAMP_HOLD,
	KEY_FLASHES,
	KEY_FLASH_SIZE,
	KEY_FLASH_MIN,
	KEY_FLASH_RISE,
	KEY_DRIFT_SIZE,
	KEY_DRIFT_PERIOD,
	KEY_NEIGH_COUNT,
	KEY_NEIGH_HOURS,
	KEY_NEIGH_W,
	KEY_NEIGH_SLOW,
	NR_KEYS,
};

static const struct key_desc key_table[NR_KEYS] = {
	[KEY_DESCRIPTION] = { "scenario", "description", K_TEXT,
			      .off = SC_OFF(description) },
	[KEY_CREDIT] = { "scenario", "credit", K_TEXT, .off = SC_OFF(credit) },
	[KEY_PLANT] = { "scenario", "plant", K_PLANT },
	[KEY_PARAMS] = { "scenario", "params", K_PATH, .off = SC_OFF(params),
			 .plant = SIM_ONLY,
			 .why = "a replay reads its measured table" },
	[KEY_TABLE] = { "scenario", "table", K_PATH, .off = SC_OFF(table),
			.plant = REPLAY_ONLY,
			.why = "the sim computes its figures from params" },
	[KEY_POLICY] = { "scenario", "policy", K_PATH, .off = SC_OFF(policy) },
	[KEY_ENERGY_SD] = { "noise", "energy_sd", K_NUM, 0, 0.5, 1,
			    SC_OFF(noise.energy_sd), SIM_ONLY, why_noise },
	[KEY_P99_SD] = { "noise", "p99_sd", K_NUM, 0, 0.5, 1,
			 SC_OFF(noise.p99_sd), SIM_ONLY, why_noise },
	[KEY_P50_SD] = { "noise", "p50_sd", K_NUM, 0, 0.5, 1,
			 SC_OFF(noise.p50_sd), SIM_ONLY, why_noise },
	[KEY_QPS_SD] = { "noise", "qps_sd", K_NUM, 0, 0.5, 1,
			 SC_OFF(noise.qps_sd) },
	[KEY_TPUT_SD] = { "noise", "throughput_sd", K_NUM, 0, 0.5, 1,
			  SC_OFF(noise.throughput_sd) },
	[KEY_SAT_GAIN] = { "noise", "saturation_gain", K_NUM, 0, 20, 1,
			   SC_OFF(noise.sat_gain), SIM_ONLY,
			   "a replay has no utilization model" },
	[KEY_SAT_KNEE] = { "noise", "saturation_knee", K_NUM, 0, 0.99, 1,
			   SC_OFF(noise.sat_knee), SIM_ONLY,
			   "a replay has no utilization model" },
	[KEY_CURVE] = { "load", "curve", K_CURVE, 0, 10, .plant = SIM_ONLY,
			.why = why_load },
	[KEY_PEAK] = { "load", "peak_qps", K_NUM, 1, 1e10, 1, W_OFF(peak_qps),
		       SIM_ONLY, why_load },
	[KEY_LEVELS] = { "load", "levels", K_LEVELS, 1, 1e10 },
	[KEY_STEP] = { "load", "step_hours", K_NUM, 0.01, 24, HOURS,
		       W_OFF(step_s) },
	[KEY_WANDER_SD] = { "load", "wander_sd", K_NUM, 0, 0.5, 1,
			    W_OFF(wander_sd) },
	[KEY_WANDER_TAU] = { "load", "wander_tau_s", K_NUM, 1, 86400, 1,
			     W_OFF(wander_tau_s) },
	[KEY_RAMPS] = { "load", "ramps", K_COUNT, 0, 24, 1,
			W_OFF(ramps.per_day) },
	[KEY_RAMP_SIZE] = { "load", "ramp_size", K_RANGE, -0.9, 5, 1,
			    W_OFF(ramps.size) },
	[KEY_RAMP_HOURS] = { "load", "ramp_hours", K_RANGE, 0, 6, HOURS,
			     W_OFF(ramps.rise_s) },
	[KEY_RAMP_HOLD] = { "load", "ramp_hold_hours", K_RANGE, 0, 12, HOURS,
			    W_OFF(ramps.hold_s) },
	[KEY_FLASHES] = { "load", "flashes", K_COUNT, 0, 48, 1,
			  W_OFF(flashes.per_day) },
	[KEY_FLASH_SIZE] = { "load", "flash_size", K_RANGE, 0, 5, 1,
			     W_OFF(flashes.size) },
	[KEY_FLASH_MIN] = { "load", "flash_minutes", K_RANGE, 0.1, 720, MINUTES,
			    W_OFF(flashes.rise_s) },
	[KEY_FLASH_RISE] = { "load", "flash_rise_s", K_NUM, 0, 3600, 1,
			     W_OFF(flash_rise_s) },
	[KEY_DRIFT_SIZE] = { "drift", "size", K_NUM, 0, 0.9, 1,
			     W_OFF(drift_size), SIM_ONLY, why_server },
	[KEY_DRIFT_PERIOD] = { "drift", "period_hours", K_NUM, 0.1, 48, HOURS,
			       W_OFF(drift_period_s), SIM_ONLY, why_server },
	[KEY_NEIGH_COUNT] = { "neighbour", "count", K_COUNT, 0, 24, 1,
			      W_OFF(neighbours.per_day), SIM_ONLY, why_server },
	[KEY_NEIGH_HOURS] = { "neighbour", "hours", K_RANGE, 0.01, 12, HOURS,
			      W_OFF(neighbours.rise_s), SIM_ONLY, why_server },
	[KEY_NEIGH_W] = { "neighbour", "extra_w", K_NUM, 0, 1e4, 1,
			  W_OFF(neighbour_w), SIM_ONLY, why_server },
	[KEY_NEIGH_SLOW] = { "neighbour", "slowdown", K_NUM, 0, 5, 1,
			     W_OFF(neighbour_slowdown), SIM_ONLY, why_server },
};

struct sc_parse {
	struct scenario *sc;
	char dir[PATH_MAX];
	int line[NR_KEYS];
};

static int find_key(const char *section, const char *key)
{
	for (int i = 0; i < NR_KEYS; i++)
		if (!strcmp(key_table[i].section, section) &&
		    !strcmp(key_table[i].key, key))
			return i;
	return -1;
}

static bool known_section(const char *section)
{
	for (int i = 0; i < NR_KEYS; i++)
		if (!strcmp(key_table[i].section, section))
			return true;
	return false;
}

static int set_path(struct sc_parse *sp, struct kopt_ini *ini,
		    const struct key_desc *d, const char *value, char *dst)
{
	int n;

	if (!*value)
		return kopt_ini_err(ini, d->section, d->key, "empty path");
	if (value[0] == '/')
		n = snprintf(dst, PATH_MAX, "%s", value);
	else
		n = snprintf(dst, PATH_MAX, "%s/%s", sp->dir, value);
	if (n >= PATH_MAX)
		return kopt_ini_err(ini, d->section, d->key, "path too long");
	return 0;
}

static int set_range(struct kopt_ini *ini, const struct key_desc *d,
		     const char *value, double *dst)
{
	double v[2];
	size_t n;

	if (kopt_ini_list(ini, d->section, d->key, value, d->min, d->max, v, 2,
			  &n))
		return -1;
	if (n == 1)
		v[1] = v[0];
	if (v[1] < v[0])
		return kopt_ini_err(ini, d->section, d->key,
				    "'%s': the low end comes first", value);
	dst[0] = v[0] * d->unit;
	dst[1] = v[1] * d->unit;
	return 0;
}

static int set_value(struct sc_parse *sp, struct kopt_ini *ini, int id,
		     const char *value)
{
	const struct key_desc *d = &key_table[id];
	struct scenario *sc = sp->sc;
	void *dst = (char *)sc + d->off;
	double v;
	size_t n;

	switch (d->kind) {
	case K_NUM:
		if (kopt_ini_double(ini, d->section, d->key, value, d->min,
				    d->max, &v))
			return -1;
		*(double *)dst = v * d->unit;
		return 0;
	case K_COUNT:
		if (kopt_ini_double(ini, d->section, d->key, value, d->min,
				    d->max, &v))
			return -1;
		if (v != floor(v))
			return kopt_ini_err(ini, d->section, d->key,
					    "'%s' is not a whole number",
					    value);
		*(unsigned int *)dst = (unsigned int)v;
		return 0;
	case K_RANGE:
		return set_range(ini, d, value, dst);
	case K_CURVE:
		if (kopt_ini_list(ini, d->section, d->key, value, d->min,
				  d->max, sc->world.curve, WORLD_HOURS, &n))
			return -1;
		if (n != WORLD_HOURS)
			return kopt_ini_err(ini, d->section, d->key,
					    "%zu values; one per hour (%d) "
					    "needed",
					    n, WORLD_HOURS);
		sc->have_curve = true;
		return 0;
	case K_LEVELS:
		sc->have_levels = true;
		return kopt_ini_list(ini, d->section, d->key, value, d->min,
				     d->max, sc->world.levels, WORLD_MAX_LEVELS,
				     &sc->world.n_levels);
	case K_PATH:
		return set_path(sp, ini, d, value, dst);
	case K_TEXT:
		if ((size_t)snprintf(dst, SCENARIO_TEXT_LEN, "%s", value) >=
		    SCENARIO_TEXT_LEN)
			return kopt_ini_err(ini, d->section, d->key,
					    "longer than %d characters",
					    SCENARIO_TEXT_LEN - 1);
		return 0;
	case K_PLANT:
		if (!strcmp(value, "sim"))
			sc->plant = SCENARIO_SIM;
		else if (!strcmp(value, "replay"))
			sc->plant = SCENARIO_REPLAY;
		else
			return kopt_ini_err(ini, d->section, d->key,
					    "'%s' is not one of: sim, replay",
					    value);
		return 0;
	}
	return 0;
}

static int sc_handler(struct kopt_ini *ini, const char *section,
		      const char *key, const char *value)
{
	struct sc_parse *sp = ini->user;
	int id = find_key(section, key);

	if (id < 0 && !known_section(section))
		return kopt_ini_err(ini, section, NULL,
				    "unknown section (scenario, noise, load, "
				    "drift, neighbour; see "
				    "policies/scenarios/hostile.scenario)");
	if (id < 0)
		return kopt_ini_err(ini, section, key,
				    "unknown key (see "
				    "policies/scenarios/hostile.scenario)");
	if (sp->line[id])
		return kopt_ini_err(ini, section, key,
				    "given twice (first on line %d)",
				    sp->line[id]);
	sp->line[id] = ini->line;
	return set_value(sp, ini, id, value);
}

/* ---- relations ------------------------------------------------------------------- */

static int key_err(struct sc_parse *sp, struct kopt_ini *ini, int id,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int key_err(struct sc_parse *sp, struct kopt_ini *ini, int id,
		   const char *fmt, ...)
{
	va_list ap;
	int ret;

	ini->line = sp->line[id];
	va_start(ap, fmt);
	ret = kopt_ini_verr(ini, key_table[id].section, key_table[id].key, fmt,
			    ap);
	va_end(ap);
	return ret;
}

static int require(struct sc_parse *sp, struct kopt_ini *ini, int id,
		   const char *why)
{
	if (sp->line[id])
		return 0;
	return key_err(sp, ini, id, "missing (%s)", why);
}

/* A key another one needs: missing, said on the line of the other. */
static int require_for(struct sc_parse *sp, struct kopt_ini *ini, int id,
		       int by, const char *why)
{
	if (sp->line[id])
		return 0;
	ini->line = sp->line[by];
	return kopt_ini_err(ini, key_table[id].section, key_table[id].key,
			    "missing (%s = ... needs %s)", key_table[by].key,
			    why);
}

/* A key that means something only with another: given alone, a typo. */
static int needs(struct sc_parse *sp, struct kopt_ini *ini, int id, bool with,
		 const char *what)
{
	if (!sp->line[id] || with)
		return 0;
	return key_err(sp, ini, id, "given without %s", what);
}

static int check_plant(struct sc_parse *sp, struct kopt_ini *ini)
{
	struct scenario *sc = sp->sc;
	enum key_plant other = sc->plant == SCENARIO_SIM ? REPLAY_ONLY :
							   SIM_ONLY;

	if (require(sp, ini, KEY_PLANT, "sim or replay"))
		return -1;
	for (int i = 0; i < NR_KEYS; i++)
		if (sp->line[i] && key_table[i].plant == other)
			return key_err(sp, ini, i,
				       "not allowed with plant = "
				       "%s: %s",
				       scenario_plant_name(sc->plant),
				       key_table[i].why);
	if (sc->plant == SCENARIO_SIM)
		return require(sp, ini, KEY_PARAMS,
			       "the model's parameters, e.g. "
			       "../sim-memcached.params");
	return require(sp, ini, KEY_TABLE,
		       "the measured sweep, e.g. "
		       "../data/memcached-linux-xeon-82599.json");
}

static int check_load(struct sc_parse *sp, struct kopt_ini *ini)
{
	struct scenario *sc = sp->sc;
	struct world_spec *w = &sc->world;

	if (sc->have_curve && sc->have_levels)
		return key_err(sp, ini, KEY_LEVELS,
			       "give curve or levels, not both");
	if (sc->plant == SCENARIO_SIM &&
	    needs(sp, ini, KEY_STEP, sc->have_levels, "levels"))
		return -1;
	if (!sp->line[KEY_STEP])
		w->step_s = 4 * HOURS;
	sc->have_peak = sp->line[KEY_PEAK];
	if (needs(sp, ini, KEY_WANDER_TAU, w->wander_sd > 0, "wander_sd > 0") ||
	    (w->wander_sd > 0 &&
	     require_for(sp, ini, KEY_WANDER_TAU, KEY_WANDER_SD,
			 "the wander's correlation time")))
		return -1;
	if (needs(sp, ini, KEY_RAMP_SIZE, w->ramps.per_day, "ramps > 0") ||
	    needs(sp, ini, KEY_RAMP_HOURS, w->ramps.per_day, "ramps > 0") ||
	    needs(sp, ini, KEY_RAMP_HOLD, w->ramps.per_day, "ramps > 0"))
		return -1;
	if (w->ramps.per_day && (require_for(sp, ini, KEY_RAMP_SIZE, KEY_RAMPS,
					     "LOW HIGH relative change") ||
				 require_for(sp, ini, KEY_RAMP_HOURS, KEY_RAMPS,
					     "LOW HIGH rise time")))
		return -1;
	if (2 * w->ramps.rise_s[1] + w->ramps.hold_s[1] > WORLD_DAY_S)
		return key_err(sp, ini, KEY_RAMP_HOLD,
			       "a ramp (rise, hold, fall) must fit in a day");
	if (needs(sp, ini, KEY_FLASH_SIZE, w->flashes.per_day, "flashes > 0") ||
	    needs(sp, ini, KEY_FLASH_MIN, w->flashes.per_day, "flashes > 0") ||
	    needs(sp, ini, KEY_FLASH_RISE, w->flashes.per_day, "flashes > 0"))
		return -1;
	if (w->flashes.per_day &&
	    (require_for(sp, ini, KEY_FLASH_SIZE, KEY_FLASHES,
			 "LOW HIGH relative rise") ||
	     require_for(sp, ini, KEY_FLASH_MIN, KEY_FLASHES,
			 "LOW HIGH duration")))
		return -1;
	if (!sp->line[KEY_FLASH_RISE])
		w->flash_rise_s = 60;
	return 0;
}

static int check_server(struct sc_parse *sp, struct kopt_ini *ini)
{
	struct world_spec *w = &sp->sc->world;
	bool neigh = w->neighbours.per_day > 0;

	if (needs(sp, ini, KEY_DRIFT_PERIOD, w->drift_size > 0, "size > 0") ||
	    (w->drift_size > 0 &&
	     require_for(sp, ini, KEY_DRIFT_PERIOD, KEY_DRIFT_SIZE,
			 "how often it moves")))
		return -1;
	if (needs(sp, ini, KEY_NEIGH_HOURS, neigh, "count > 0") ||
	    needs(sp, ini, KEY_NEIGH_W, neigh, "count > 0") ||
	    needs(sp, ini, KEY_NEIGH_SLOW, neigh, "count > 0"))
		return -1;
	if (neigh && (require_for(sp, ini, KEY_NEIGH_HOURS, KEY_NEIGH_COUNT,
				  "LOW HIGH stay") ||
		      require_for(sp, ini, KEY_NEIGH_W, KEY_NEIGH_COUNT,
				  "its extra power") ||
		      require_for(sp, ini, KEY_NEIGH_SLOW, KEY_NEIGH_COUNT,
				  "its slowdown")))
		return -1;
	if (sp->line[KEY_SAT_KNEE] && !sp->line[KEY_SAT_GAIN])
		return key_err(sp, ini, KEY_SAT_KNEE,
			       "given without saturation_gain");
	return 0;
}

static void set_defaults(struct scenario *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->noise = (struct scenario_noise){
		.energy_sd = NAN,
		.p99_sd = NAN,
		.p50_sd = NAN,
		.qps_sd = NAN,
		.throughput_sd = NAN,
		.sat_gain = 0,
		.sat_knee = 0.6,
	};
}

static void set_name(struct scenario *sc, const char *path)
{
	char tmp[PATH_MAX], *dot;

	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(sc->name, sizeof(sc->name), "%s", basename(tmp));
	dot = strrchr(sc->name, '.');
	if (dot && dot != sc->name)
		*dot = '\0';
}

int scenario_load(const char *path, struct scenario *sc, char *err,
		  size_t errlen)
{
	struct sc_parse sp = { .sc = sc };
	struct kopt_ini ini = {
		.path = path,
		.handler = sc_handler,
		.user = &sp,
	};
	char tmp[PATH_MAX];
	int ret;

	set_defaults(sc);
	snprintf(sc->path, sizeof(sc->path), "%s", path);
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(sp.dir, sizeof(sp.dir), "%s", dirname(tmp));
	set_name(sc, path);
	ret = kopt_ini_parse(&ini);
	if (!ret)
		ret = check_plant(&sp, &ini) || check_load(&sp, &ini) ||
		      check_server(&sp, &ini);
	if (ret) {
		snprintf(err, errlen, "%s", ini.err);
		return -1;
	}
	return 0;
}

const char *scenario_plant_name(enum scenario_plant p)
{
	return p == SCENARIO_REPLAY ? "replay" : "sim";
}
