// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt plant replay (kopt-lab plant replay): a measured ITR x DVFS sweep
 * played back through the plant protocol.
 *
 *   kopt plant replay --table FILE [--scenario FILE] [--schedule H[:R,..]]
 *                     [--seed N] [--start-hour H]
 *                     [--sla-p99 US | --sla-p50 US | --sla-ratio R]
 *   kopt plant replay --table FILE --oracle --sla-p99 US [--json]
 *
 * Without --oracle it speaks the plant protocol on stdin/stdout like
 * `kopt plant sim`; its replies say "source": "replay", figures measured
 * on the tables' testbeds (policies/data/README.md), replayed. How
 * requests are snapped, loads interpolated and noise drawn is at the top
 * of plant_replay.c. --oracle prints, per measured rate, the stock
 * policy and the cheapest measured cell meeting the SLA.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"
#include "labplant.h"
#include "opts.h"
#include "plant_replay.h"
#include "policy.h"
#include "scenario.h"

struct replay_opts {
	const char *table, *scenario, *schedule;
	uint64_t seed;
	double start_hour;
	struct sim_sla sla;
	bool oracle;
};

/* A usage error in the one format (loader/cli/opts.h). */
static int bad_opt(const char *opt, const char *val, const char *why)
{
	return kopt_usage_error("kopt plant replay", "%s '%s': %s", opt, val,
				why);
}

/* false after --help or a usage error (*ret says which) */
static bool parse_replay_opts(int argc, char **argv, struct replay_opts *o,
			      int *ret)
{
	long seed = (long)o->seed;
	const struct kopt_opts spec = {
		.cmd = "kopt plant replay",
		.usage = "--table FILE [OPTIONS]",
		.desc = "A measured ITR x DVFS sweep played back through the "
			"plant protocol on\nstdin/stdout (see README: \"The "
			"plant protocol\"). Figures are measured\n"
			"(policies/data/README.md says where), replayed: replies "
			"say \"source\":\n\"replay\". Requests snap to the "
			"nearest measured ITR and frequency;\nloads between "
			"measured rates are interpolated.",
		.opts = KOPT_OPTS(
			KOPT_OPT_STR("table", 't', &o->table, "FILE",
				     "the sweep (policies/data/*.json)"),
			KOPT_OPT_STR("scenario", 'S', &o->scenario, "FILE",
				     "the world: wander, flash crowds, levels "
				     "(plant =\nreplay; gives the table too)"),
			KOPT_OPT_STR(
				"schedule", 0, &o->schedule, "H[:R,R,...]",
				"hold each load level H hours (default 4),\n"
				"levels R (default: the table's rates up "
				"and down)"),
			KOPT_OPT_LONG("seed", 's', &seed, 0, LONG_MAX, "N",
				      "world and noise seed (default 1)"),
			KOPT_OPT_DOUBLE("start-hour", 'H', &o->start_hour, 0,
					24, "H", "plant clock at start (0-24)",
					.unit = "an hour"),
			KOPT_OPT_FUNC("sla-p99", 0, labplant_sla_p99_arg,
				      &o->sla, "US",
				      "SLA for the oracle (replies then carry "
				      "oracle_energy_j)"),
			KOPT_OPT_FUNC("sla-p50", 0, labplant_sla_p50_arg,
				      &o->sla, "US", NULL),
			KOPT_OPT_FUNC("sla-ratio", 0, labplant_sla_ratio_arg,
				      &o->sla, "R", "throughput >= R x qps"),
			KOPT_OPT_FLAG("oracle", 'o', &o->oracle,
				      "print stock vs the best measured cell "
				      "per rate, exit"),
			KOPT_OPT_JSON("--oracle: JSON output")),
	};

	if (!kopt_opts_parse(&spec, argc, argv, ret))
		return false;
	o->seed = (uint64_t)seed;
	return true;
}

/* "H" or "H:R,R,...": into the scenario's load, over its own. */
static int parse_schedule(const char *arg, struct scenario *sc)
{
	char buf[1024], *colon, *tok, *save = NULL;
	double hours;

	if (snprintf(buf, sizeof(buf), "%s", arg) >= (int)sizeof(buf))
		return bad_opt("--schedule", arg, "too long");
	colon = strchr(buf, ':');
	if (colon)
		*colon = '\0';
	if (kopt_parse_double(buf, 0.01, 24, &hours))
		return bad_opt("--schedule", arg,
			       "expected HOURS (0.01-24), optionally "
			       ":RATE,RATE,...");
	sc->world.step_s = hours * 3600;
	if (!colon)
		return 0;
	sc->world.n_levels = 0;
	for (tok = strtok_r(colon + 1, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (sc->world.n_levels == WORLD_MAX_LEVELS)
			return bad_opt("--schedule", arg, "too many levels");
		if (kopt_parse_double(tok, 1, 1e10,
				      &sc->world.levels[sc->world.n_levels++]))
			return bad_opt("--schedule", tok,
				       "expected a rate (requests/s)");
	}
	if (!sc->world.n_levels)
		return bad_opt("--schedule", arg, "no rates after ':'");
	sc->have_levels = true;
	return 0;
}

/* ---- oracle -------------------------------------------------------------------- */

static struct json_object *jnum(double v)
{
	return kopt_json_num(v, "%.6g");
}

static int oracle(const struct replay_table *t, const struct scenario *sc,
		  const struct sim_sla *sla)
{
	struct json_object *root = json_object_new_object(),
			   *rows = json_object_new_array();
	bool lat = t->report == REPLAY_LATENCY;
	struct replay_point st, b;

	if (!kopt_env.json)
		printf("(replayed-measured) %s%s%s\n"
		       "      rate | stock W %8s | best ITR  MHz     W "
		       "%8s | saving\n",
		       t->path, sc && sc->credit[0] ? ": " : "",
		       sc ? sc->credit : "", lat ? "p99 us" : "tput/qps",
		       lat ? "p99 us" : "tput/qps");
	for (size_t i = 0; i < t->n_rate; i++) {
		struct json_object *row = json_object_new_object();
		int err;

		replay_eval_stock(t, t->rate[i], &st);
		err = replay_oracle(t, t->rate[i], sla, &b);
		if (!kopt_env.json) {
			printf("%10.0f | %7.2f %8.4g | ", t->rate[i], st.w,
			       lat ? st.p99_us : st.tput / t->rate[i]);
			if (err)
				printf("no measured cell meets the SLA\n");
			else
				printf("%8.0f %4.0f %6.2f %8.4g | %5.1f%%\n",
				       b.itr_us, b.freq_mhz, b.w,
				       lat ? b.p99_us : b.tput / t->rate[i],
				       100 * (1 - b.w / st.w));
		}
		json_object_object_add(row, "rate", jnum(t->rate[i]));
		json_object_object_add(row, "stock_w", jnum(st.w));
		json_object_object_add(row, "best_w", err ? NULL : jnum(b.w));
		json_object_object_add(row, "best_itr_us",
				       err ? NULL : jnum(b.itr_us));
		json_object_object_add(row, "best_freq_mhz",
				       err ? NULL : jnum(b.freq_mhz));
		json_object_array_add(rows, row);
	}
	json_object_object_add(root, "source",
			       json_object_new_string("replay"));
	json_object_object_add(root, "label",
			       json_object_new_string("replayed-measured"));
	json_object_object_add(root, "table", json_object_new_string(t->path));
	if (sc && sc->credit[0])
		json_object_object_add(root, "credit",
				       json_object_new_string(sc->credit));
	json_object_object_add(root, "rates", rows);
	if (kopt_env.json)
		puts(kopt_json_text(root));
	json_object_put(root);
	return KOPT_EXIT_OK;
}

/* ---- main ---------------------------------------------------------------------- */

static int load_scenario(struct replay_opts *o, struct scenario *sc)
{
	if (labplant_scenario_open(o->scenario, SCENARIO_REPLAY, sc, "replay"))
		return -1;
	if (!o->table)
		o->table = sc->table;
	return labplant_scenario_sla(sc, &o->sla, "replay");
}

static int serve(const struct replay_table *t, const struct scenario *sc,
		 const struct replay_opts *o)
{
	struct labplant *lp = malloc(sizeof(*lp));
	struct labplant_setup ls = {
		.sc = sc,
		.seed = o->seed,
		.start_s = o->start_hour * 3600,
		.sla = &o->sla,
	};
	char err[512];

	if (!lp)
		return KOPT_EXIT_FAIL;
	if (labplant_init_replay(lp, t, &ls, err, sizeof(err))) {
		pr_warn("plant replay: %s\n", err);
		free(lp);
		return KOPT_EXIT_FAIL;
	}
	return labplant_serve_stdio(lp);
}

static int run_replay(struct replay_opts *o)
{
	struct scenario *sc = calloc(1, sizeof(*sc));
	struct replay_table *t = calloc(1, sizeof(*t));
	char err[KOPT_INI_ERR_LEN];
	int ret = KOPT_EXIT_FAIL;

	if (!sc || !t)
		goto out;
	if (o->scenario) {
		if (load_scenario(o, sc))
			goto out;
	} else {
		/* no scenario: the table's own world, what --schedule says */
		sc->plant = SCENARIO_REPLAY;
		sc->world.step_s = 4 * 3600;
		sc->world.flash_rise_s = 60;
		sc->noise.qps_sd = sc->noise.throughput_sd = NAN;
	}
	if (o->schedule && (ret = parse_schedule(o->schedule, sc)))
		goto out;
	ret = KOPT_EXIT_FAIL;
	if (!o->table) {
		ret = kopt_usage_error("kopt plant replay",
				       "--table FILE is required (e.g. "
				       "policies/data/"
				       "memcached-linux-xeon-82599.json), or a "
				       "--scenario that names it");
		goto out;
	}
	if (replay_table_load(o->table, t, err, sizeof(err))) {
		pr_warn("plant replay: %s\n", err);
		goto out;
	}
	if (o->oracle && o->sla.kind == SIM_SLA_NONE)
		ret = kopt_usage_error("kopt plant replay",
				       "--oracle needs an SLA: --sla-p99, "
				       "--sla-p50 or --sla-ratio");
	else if (o->oracle)
		ret = oracle(t, o->scenario ? sc : NULL, &o->sla);
	else
		ret = serve(t, sc, o);
	replay_table_free(t);
out:
	free(t);
	free(sc);
	return ret;
}

int cmd_plant_replay(int argc, char **argv)
{
	struct replay_opts o = { .seed = 1 };
	int ret;

	if (!parse_replay_opts(argc, argv, &o, &ret))
		return ret;
	return run_replay(&o);
}
