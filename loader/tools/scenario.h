/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Scenarios (policies/scenarios/NAME.scenario): the world a lab plant
 * runs in, as an INI file. A scenario names its plant (sim with a model's
 * parameters, or replay of a measured table), the policy the controller
 * bench runs on it, the measurement noise, and how the load, the service
 * time and a neighbour move (world.h). policies/scenarios/hostile.scenario
 * lists every key with its meaning.
 *
 * Loading validates every key and the relations between keys; an error
 * names the file, the line (when there is one), the section and the key,
 * and says what would be accepted.
 *
 * Userspace only.
 */
#ifndef KOPT_TOOLS_SCENARIO_H
#define KOPT_TOOLS_SCENARIO_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "world.h"

#define SCENARIO_NAME_LEN 64
#define SCENARIO_TEXT_LEN 512

enum scenario_plant { SCENARIO_SIM, SCENARIO_REPLAY };

/* Noise a scenario sets; NAN where it leaves the plant's own. */
struct scenario_noise {
	double energy_sd, p99_sd, p50_sd, qps_sd, throughput_sd;
	double sat_gain; /* latency and throughput sd x (1 + gain x ...) */
	double sat_knee; /* ... ((util - knee) / (sat - knee))^2 above knee */
};

struct scenario {
	char path[PATH_MAX];
	char name[SCENARIO_NAME_LEN]; /* the file's name without .scenario */
	char description[SCENARIO_TEXT_LEN];
	char credit[SCENARIO_TEXT_LEN]; /* where measured figures come from */
	enum scenario_plant plant;
	/* resolved against the scenario's folder; "" when not given */
	char params[PATH_MAX]; /* sim: the model's parameters */
	char table[PATH_MAX]; /* replay: the measured sweep */
	char policy[PATH_MAX]; /* what the controller bench runs */
	struct scenario_noise noise;
	/* the load's base when the scenario sets one; else the plant's */
	bool have_curve, have_levels, have_peak;
	/* the world; base fields are the plant's to complete (see above) */
	struct world_spec world;
};

/*
 * Reads and validates a scenario; -1 with err naming file:line, section
 * and key. Paths are resolved, not opened (the plant opens them).
 */
int scenario_load(const char *path, struct scenario *sc, char *err,
		  size_t errlen);
const char *scenario_plant_name(enum scenario_plant p);

#endif /* KOPT_TOOLS_SCENARIO_H */
