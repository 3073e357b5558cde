// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt plant sim (kopt-lab plant sim): the simulated server as a
 * stand-alone program.
 *
 *   kopt plant sim --params FILE [--scenario FILE] [--seed N]
 *                  [--start-hour H] [--qps N]
 *                  [--sla-p99 US | --sla-p50 US | --sla-ratio R]
 *   kopt plant sim --scenario FILE [...]   (params from the scenario)
 *   kopt plant sim --params FILE --oracle --sla-p99 US [--qps N] [--json]
 *   kopt plant sim --params FILE --sweep [--qps N] [--freq MHZ]
 *
 * Without --oracle or --sweep it speaks the plant protocol (README, "The
 * plant protocol") on stdin/stdout: one JSON request per line in, one
 * JSON reply per line out, until EOF. This is exactly what `kopt run
 * --plant sim` starts, and what any external plant must do. --oracle
 * prints the best setting per load level by exhaustive search, --sweep
 * the noise-free model over the grid (CSV), for calibration and plots.
 * A scenario (policies/scenarios/, scenario.h) moves the world: noise,
 * wandering load, flash crowds, drift, a neighbour; without one the load
 * follows the params' 24-hour curve. Without an --sla-* option, the
 * oracle keeps the SLA of the scenario's policy, when it names one.
 *
 * Every figure is simulated: replies carry "source": "sim".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"
#include "labplant.h"
#include "opts.h"
#include "plant.h"
#include "plant_sim.h"
#include "policy.h"
#include "scenario.h"

struct sim_opts {
	const char *params, *scenario;
	uint64_t seed;
	double start_hour, qps, freq;
	struct sim_sla sla;
	bool oracle, sweep;
};

/* false after --help or a usage error (*ret says which) */
static bool parse_sim_opts(int argc, char **argv, struct sim_opts *o, int *ret)
{
	long seed = (long)o->seed;
	const struct kopt_opts spec = {
		.cmd = "kopt plant sim",
		.usage = "--params FILE | --scenario FILE [OPTIONS]",
		.desc = "A simulated server speaking the plant protocol on "
			"stdin/stdout\n(see README: \"The plant protocol\"). All "
			"figures are simulated.",
		.opts = KOPT_OPTS(
			KOPT_OPT_STR("params", 'p', &o->params, "FILE",
				     "model parameters (policies/sim-*.params)"),
			KOPT_OPT_STR("scenario", 'S', &o->scenario, "FILE",
				     "the world: noise, load, drift, neighbour "
				     "(policies/scenarios/NAME.scenario; gives "
				     "params too)"),
			KOPT_OPT_LONG("seed", 's', &seed, 0, LONG_MAX, "N",
				      "world and noise seed (default 1)"),
			KOPT_OPT_DOUBLE(
				"start-hour", 'H', &o->start_hour, 0, 24, "H",
				"simulated clock at start (0-24, default 0)",
				.unit = "an hour"),
			KOPT_OPT_DOUBLE(
				"qps", 'q', &o->qps, 1e-3, 1e12, "N",
				"fixed offered load instead of the curve or "
				"levels",
				.unit = "a rate"),
			KOPT_OPT_FUNC("sla-p99", 0, labplant_sla_p99_arg,
				      &o->sla, "US",
				      "SLA for the oracle (replies then carry "
				      "oracle_energy_j)"),
			KOPT_OPT_FUNC("sla-p50", 0, labplant_sla_p50_arg,
				      &o->sla, "US", NULL),
			KOPT_OPT_FUNC("sla-ratio", 0, labplant_sla_ratio_arg,
				      &o->sla, "R", "throughput >= R x qps"),
			KOPT_OPT_FLAG(
				"oracle", 'o', &o->oracle,
				"print the best setting per load level and exit"),
			KOPT_OPT_FLAG(
				"sweep", 0, &o->sweep,
				"print the model over the grid as CSV and exit"),
			KOPT_OPT_DOUBLE("freq", 'f', &o->freq, 1, 1e6, "MHZ",
					"--sweep: only this frequency",
					.unit = "a frequency in MHz"),
			KOPT_OPT_JSON("--oracle: JSON output")),
	};

	if (!kopt_opts_parse(&spec, argc, argv, ret))
		return false;
	o->seed = (uint64_t)seed;
	return true;
}

/* ---- protocol server --------------------------------------------------------- */

static struct json_object *jnum(double v)
{
	return kopt_json_num(v, "%.7g");
}

static int serve(const struct sim_params *p, const struct scenario *sc,
		 const struct sim_opts *o)
{
	struct labplant *lp = malloc(sizeof(*lp));
	struct labplant_setup ls = {
		.sc = sc,
		.seed = o->seed,
		.start_s = o->start_hour * 3600,
		.fixed_qps = o->qps,
		.sla = &o->sla,
	};
	char err[256];

	if (!lp)
		return KOPT_EXIT_FAIL;
	if (labplant_init_sim(lp, p, &ls, err, sizeof(err))) {
		pr_warn("plant sim: %s\n", err);
		free(lp);
		return KOPT_EXIT_FAIL;
	}
	return labplant_serve_stdio(lp);
}

/* ---- oracle and sweep ------------------------------------------------------------ */

static struct json_object *point_json(const struct sim_params *p,
				      const struct sim_point *pt, bool stock)
{
	struct json_object *o = json_object_new_object();

	if (stock) {
		json_object_object_add(o, "itr_us", NULL);
		json_object_object_add(o, "governor_mhz", jnum(pt->freq_mhz));
	} else {
		json_object_object_add(o, "itr_us", jnum(pt->itr_us));
		json_object_object_add(o, "freq_mhz", jnum(pt->freq_mhz));
		if (p->has_defer)
			json_object_object_add(o, SIM_DEFER_KNOB,
					       jnum(pt->defer));
	}
	json_object_object_add(o, "power_w", jnum(pt->power_w));
	json_object_object_add(o, "p99_us", jnum(pt->p99_us));
	json_object_object_add(o, "p50_us", jnum(pt->p50_us));
	json_object_object_add(o, "ops", jnum(pt->ops));
	if (p->workload == SIM_PINGPONG)
		json_object_object_add(o, "j_per_op", jnum(pt->j_per_op));
	return o;
}

static double cost_unit(const struct sim_params *p)
{
	return p->workload == SIM_PINGPONG ? 1e3 : 1; /* mJ/op or W */
}

static void print_oracle_row(const struct sim_params *p, int hour, double qps,
			     const struct sim_point *st,
			     const struct sim_point *b, int err)
{
	double cs = sim_cost(p, st);
	char hour_str[8] = "-";

	if (hour >= 0)
		snprintf(hour_str, sizeof(hour_str), "%d", hour);
	printf("%4s %10.0f | %5.0f %5.0f %8.2f %8.1f | ", hour_str, qps,
	       st->itr_us, st->freq_mhz, cs * cost_unit(p), st->p99_us);
	if (err)
		printf("no setting meets the SLA\n");
	else if (p->has_defer) /* the third knob, when the server has it */
		printf("%5.0f %5.0f %5.0f %8.2f %8.1f | %5.1f%%\n", b->itr_us,
		       b->freq_mhz, b->defer, sim_cost(p, b) * cost_unit(p),
		       b->p99_us, 100 * (1 - sim_cost(p, b) / cs));
	else
		printf("%5.0f %5.0f %8.2f %8.1f | %5.1f%%\n", b->itr_us,
		       b->freq_mhz, sim_cost(p, b) * cost_unit(p), b->p99_us,
		       100 * (1 - sim_cost(p, b) / cs));
}

static int oracle(const struct sim_params *p, const struct sim_opts *o)
{
	struct json_object *root = json_object_new_object(),
			   *rows = json_object_new_array();
	double e_stock = 0, e_best = 0, qps;
	int nrows = o->qps > 0 || p->workload == SIM_PINGPONG ? 1 : SIM_HOURS;
	struct sim_point st, b;
	bool all_found = true;

	if (!kopt_env.json)
		printf("(simulated) oracle for %s, %s\n"
		       "hour        qps |  ITR  freq  %s  p99(us) |  ITR  "
		       "freq %s %s  p99(us) | saving\n",
		       p->path, "stock policy vs best setting meeting the SLA",
		       p->workload == SIM_PINGPONG ? "mJ/op  " : "power_W",
		       p->has_defer ? " defer" : "",
		       p->workload == SIM_PINGPONG ? "mJ/op  " : "power_W");
	for (int h = 0; h < nrows; h++) {
		struct json_object *row = json_object_new_object();
		int err;

		qps = o->qps > 0 ? o->qps : p->peak_qps * p->curve[h];
		sim_eval_stock(p, qps, &st);
		err = sim_oracle(p, qps, &o->sla, &b);
		all_found &= !err;
		e_stock += sim_cost(p, &st);
		e_best += err ? sim_cost(p, &st) : sim_cost(p, &b);
		if (!kopt_env.json)
			print_oracle_row(p, nrows > 1 ? h : -1, qps, &st, &b,
					 err);
		json_object_object_add(row, "qps", jnum(qps));
		json_object_object_add(row, "stock", point_json(p, &st, true));
		json_object_object_add(row, "best",
				       err ? NULL : point_json(p, &b, false));
		json_object_array_add(rows, row);
	}
	json_object_object_add(root, "source", json_object_new_string("sim"));
	json_object_object_add(root, "levels", rows);
	json_object_object_add(root, "saving", jnum(1 - e_best / e_stock));
	json_object_object_add(root, "all_levels_feasible",
			       json_object_new_boolean(all_found));
	if (kopt_env.json)
		puts(kopt_json_text(root));
	else
		printf("(simulated) %s saving of the oracle over stock: "
		       "%.1f%%\n",
		       nrows > 1 ? "24-hour" : "the",
		       100 * (1 - e_best / e_stock));
	json_object_put(root);
	return KOPT_EXIT_OK;
}

static int sweep(const struct sim_params *p, const struct sim_opts *o)
{
	double qps = o->qps > 0 ? o->qps : p->peak_qps * p->curve[0];
	struct sim_point pt;

	printf("# (simulated) model sweep of %s at qps %g\n"
	       "itr_us,freq_mhz,power_w,p50_us,p99_us,ops,j_per_op,util,"
	       "irq_per_s\n",
	       p->path, qps);
	for (size_t i = 0; i < p->n_freqs; i++) {
		if (o->freq > 0 && p->freqs_mhz[i] != o->freq)
			continue;
		for (double r = p->itr_min_us; r <= p->itr_max_us + 1e-9;
		     r += p->itr_step_us) {
			sim_eval(p, qps, r, p->freqs_mhz[i], &pt);
			printf("%g,%g,%.4f,%.2f,%.2f,%.1f,%.6g,%.4f,%.0f\n", r,
			       p->freqs_mhz[i], pt.power_w, pt.p50_us,
			       pt.p99_us, pt.ops, pt.j_per_op, pt.util,
			       pt.irq_rate);
		}
	}
	return KOPT_EXIT_OK;
}

static int run_sim(struct sim_opts *o)
{
	struct scenario *sc = NULL;
	struct sim_params *p = NULL;
	char err[KOPT_INI_ERR_LEN];
	int ret = KOPT_EXIT_FAIL;

	if (o->scenario) {
		sc = malloc(sizeof(*sc));
		if (!sc)
			return KOPT_EXIT_FAIL;
		if (labplant_scenario_open(o->scenario, SCENARIO_SIM, sc,
					   "sim"))
			goto out;
		if (!o->params)
			o->params = sc->params;
	}
	if (!o->params) {
		ret = kopt_usage_error("kopt plant sim",
				       "--params FILE is required (e.g. "
				       "policies/sim-memcached.params), or a "
				       "--scenario that names them");
		goto out;
	}
	if (labplant_scenario_sla(sc, &o->sla, "sim"))
		goto out;
	if (o->oracle && o->sla.kind == SIM_SLA_NONE) {
		ret = kopt_usage_error("kopt plant sim",
				       "--oracle needs an SLA: --sla-p99, "
				       "--sla-p50 or --sla-ratio");
		goto out;
	}
	p = malloc(sizeof(*p));
	if (!p)
		goto out;
	if (sim_params_load(o->params, p, err, sizeof(err))) {
		pr_warn("plant sim: %s\n", err);
		goto out;
	}
	if (o->oracle)
		ret = oracle(p, o);
	else if (o->sweep)
		ret = sweep(p, o);
	else
		ret = serve(p, sc, o);
out:
	free(p);
	free(sc);
	return ret;
}

int cmd_plant_sim(int argc, char **argv)
{
	struct sim_opts o = { .seed = 1 };
	int ret;

	if (!parse_sim_opts(argc, argv, &o, &ret))
		return ret;
	return run_sim(&o);
}
