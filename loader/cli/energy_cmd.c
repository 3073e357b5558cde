// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt energy: read the best energy meter of this host for a while, and
 * say which meter it is (and why the better ones were not usable).
 */
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "energy.h"
#include "cli.h"
#include "opts.h"

int cmd_energy(int argc, char **argv)
{
	struct energy_opts eo;
	struct energy_meter *m;
	struct timespec ts;
	double secs = 1, j0, j1;
	char why[400];
	const struct kopt_opts spec = {
		.cmd = "kopt energy",
		.usage = "[--duration S] [--estimate] [--json]",
		.desc = "Measures energy over S seconds (default 1) with the best "
			"meter\nhere: RAPL (powercap), the perf power PMU, else a "
			"model\nestimate from CPU busy time and frequency, "
			"labelled as such.",
		.opts = KOPT_OPTS(
			KOPT_OPT_DOUBLE("duration", 'd', &secs, 0.01, 86400,
					"S", "seconds to measure",
					.unit = "seconds"),
			KOPT_OPT_FLAG(
				"estimate", 'e', &eo.force_estimate,
				"use the model estimate even if a meter exists"),
			KOPT_OPT_JSON("JSON output")),
	};
	int ret;

	energy_opts_default(&eo);
	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	m = energy_open(&eo, why, sizeof(why));
	if (!m)
		return KOPT_EXIT_FAIL;
	energy_read(m, &j0);
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
	energy_read(m, &j1);
	if (kopt_env.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(
			o, "source",
			json_object_new_string(energy_source_name(m)));
		json_object_object_add(
			o, "estimate",
			json_object_new_boolean(energy_is_estimate(m)));
		json_object_object_add(o, "joules",
				       json_object_new_double(j1 - j0));
		json_object_object_add(o, "seconds",
				       json_object_new_double(secs));
		json_object_object_add(
			o, "watts", json_object_new_double((j1 - j0) / secs));
		json_object_object_add(o, "why_not_better",
				       json_object_new_string(why));
		printf("%s\n", kopt_json_text(o));
		json_object_put(o);
	} else {
		printf("%.3f J in %.2f s (%.2f W), source: %s%s\n", j1 - j0,
		       secs, (j1 - j0) / secs, energy_source_name(m),
		       energy_is_estimate(m) ?
			       " (a model estimate, not a measurement)" :
			       "");
		if (why[0])
			printf("not used: %s\n", why);
	}
	energy_close(m);
	return KOPT_EXIT_OK;
}
