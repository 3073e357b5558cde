// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lab plants (labplant.h): the sim and the replay behind one window()
 * and one reply format, served on stdio by `kopt plant sim|replay` and in
 * this process by plant_ops. The reply is the protocol's (plant.h); the
 * truth of a window (world conditions, noise-free figures, the oracle's
 * setting) never goes into it, only into the record a judge reads.
 *
 * Cost: one window of the plant plus a JSON line (a few microseconds);
 * a recorded window keeps one struct lab_window.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "kopt.h"
#include "labplant.h"
#include "policy.h"

#define REQ_LINE_MAX 4096
#define MAX_SECONDS 86400.0

/* ---- what a scenario gives each plant ------------------------------------------ */

void labplant_sim_world(const struct scenario *sc, const struct sim_params *p,
			struct world_spec *w)
{
	if (!sc) {
		sim_world_of(p, w);
		return;
	}
	*w = sc->world;
	if (sc->have_levels) {
		w->base = WORLD_BASE_STEPS;
		return;
	}
	w->base = WORLD_BASE_CURVE;
	if (!sc->have_curve)
		memcpy(w->curve, p->curve, sizeof(w->curve));
	if (!sc->have_peak)
		w->peak_qps = p->peak_qps;
}

void labplant_sim_noise(const struct scenario *sc, const struct sim_params *p,
			struct sim_noise *n)
{
	const struct scenario_noise *s;

	sim_noise_of(p, n);
	if (!sc)
		return;
	s = &sc->noise;
	if (isfinite(s->energy_sd))
		n->energy_sd = s->energy_sd;
	if (isfinite(s->p99_sd))
		n->p99_sd = n->p50_sd = s->p99_sd;
	if (isfinite(s->p50_sd))
		n->p50_sd = s->p50_sd;
	if (isfinite(s->qps_sd))
		n->qps_sd = s->qps_sd;
	if (isfinite(s->throughput_sd))
		n->throughput_sd = s->throughput_sd;
	n->sat_gain = s->sat_gain;
	n->sat_knee = s->sat_knee;
}

void labplant_replay_world(const struct scenario *sc,
			   const struct replay_table *t, struct world_spec *w)
{
	struct world_spec own;

	replay_world_of(t, &own);
	if (!sc) {
		*w = own;
		return;
	}
	*w = sc->world;
	w->base = WORLD_BASE_STEPS;
	if (!sc->have_levels) {
		memcpy(w->levels, own.levels, sizeof(w->levels));
		w->n_levels = own.n_levels;
	}
}

/* ---- set up ---------------------------------------------------------------------- */

int labplant_init_sim(struct labplant *lp, const struct sim_params *p,
		      const struct labplant_setup *o, char *err, size_t errlen)
{
	struct world_spec ws;
	struct sim_noise noise;
	struct sim_setup ss = {
		.world = &ws,
		.noise = &noise,
		.seed = o->seed,
		.start_s = o->start_s,
		.fixed_qps = o->fixed_qps,
		.sla = o->sla,
		.cache = o->cache,
	};

	memset(lp, 0, sizeof(*lp));
	lp->kind = SCENARIO_SIM;
	lp->source = "sim";
	lp->latency = p->report == SIM_REPORT_LATENCY;
	lp->record = o->record;
	labplant_sim_world(o->sc, p, &ws);
	labplant_sim_noise(o->sc, p, &noise);
	if (sim_init(&lp->sim, p, &ss)) {
		snprintf(err, errlen, "sim: out of memory");
		return -ENOMEM;
	}
	return 0;
}

int labplant_init_replay(struct labplant *lp, const struct replay_table *t,
			 const struct labplant_setup *o, char *err,
			 size_t errlen)
{
	const struct scenario_noise *n = o->sc ? &o->sc->noise : NULL;
	struct world_spec ws;
	struct replay_setup rs = {
		.world = &ws,
		.qps_sd = n && isfinite(n->qps_sd) ? n->qps_sd : REPLAY_QPS_SD,
		.throughput_sd = n && isfinite(n->throughput_sd) ?
					 n->throughput_sd :
					 REPLAY_THROUGHPUT_SD,
		.seed = o->seed,
		.start_s = o->start_s,
		.sla = o->sla,
	};

	memset(lp, 0, sizeof(*lp));
	lp->kind = SCENARIO_REPLAY;
	lp->source = "replay";
	lp->latency = t->report == REPLAY_LATENCY;
	lp->record = o->record;
	labplant_replay_world(o->sc, t, &ws);
	return replay_init(&lp->replay, t, &rs, err, errlen);
}

void labplant_fini(struct labplant *lp)
{
	if (lp->kind == SCENARIO_SIM)
		sim_fini(&lp->sim);
	else
		replay_fini(&lp->replay);
	free(lp->rec);
	lp->rec = NULL;
	lp->n_rec = lp->cap_rec = 0;
}

struct world *labplant_world(struct labplant *lp)
{
	return lp->kind == SCENARIO_SIM ? &lp->sim.world : &lp->replay.world;
}

/* ---- windows --------------------------------------------------------------------- */

static void keep(struct labplant *lp, const struct lab_window *w)
{
	if (lp->n_rec == lp->cap_rec) {
		size_t cap = lp->cap_rec ? lp->cap_rec * 2 : 9000;
		struct lab_window *p = realloc(lp->rec, cap * sizeof(*p));

		if (!p) {
			/* a record with a hole would mislead the judge */
			lp->record = false;
			free(lp->rec);
			lp->rec = NULL;
			lp->n_rec = lp->cap_rec = 0;
			return;
		}
		lp->rec = p;
		lp->cap_rec = cap;
	}
	lp->rec[lp->n_rec++] = *w;
}

int labplant_window(struct labplant *lp, const struct lab_request *rq,
		    struct lab_window *w, char *err, size_t errlen)
{
	int ret;

	if (!rq->stock && (isnan(rq->itr_us) || isnan(rq->freq_mhz))) {
		snprintf(err, errlen,
			 "itr_us and freq_mhz must both be non-negative "
			 "numbers, or both null (stock policy): the %s "
			 "plant has a DVFS knob",
			 lp->source);
		return -EINVAL;
	}
	ret = lp->kind == SCENARIO_SIM ?
		      sim_window(&lp->sim, rq, w, err, errlen) :
		      replay_window(&lp->replay, rq, w, err, errlen);
	if (!ret && lp->record)
		keep(lp, w);
	return ret;
}

static struct json_object *jnum(double v)
{
	return kopt_json_num(v, "%.7g");
}

static void add_num(struct json_object *o, const char *key, double v)
{
	if (isfinite(v))
		json_object_object_add(o, key, jnum(v));
}

static void put_line(struct json_object *o, char *line, size_t cap)
{
	snprintf(line, cap, "%s",
		 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

void labplant_reply_line(const struct labplant *lp, const struct lab_window *w,
			 char *line, size_t cap)
{
	struct json_object *o = json_object_new_object();

	add_num(o, "energy_j", w->energy_j);
	if (lp->latency) {
		add_num(o, "p99_us", w->p99_us);
		add_num(o, "p50_us", w->p50_us);
	} else {
		add_num(o, "throughput", w->throughput);
	}
	add_num(o, "qps", w->qps);
	add_num(o, "seconds", w->seconds);
	json_object_object_add(o, "source", json_object_new_string(lp->source));
	add_num(o, "offered_qps", w->offered_qps);
	add_num(o, "hour", w->hour);
	add_num(o, "stock_energy_j", w->stock_energy_j);
	add_num(o, "oracle_energy_j", w->oracle_energy_j);
	put_line(o, line, cap);
}

void labplant_error_line(const struct labplant *lp, const char *msg, char *line,
			 size_t cap)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	json_object_object_add(o, "source", json_object_new_string(lp->source));
	put_line(o, line, cap);
}

/* ---- the protocol ------------------------------------------------------------------ */

/* A request line; labplant_window() checks that both knobs are set. */
static int to_request(const char *line, struct lab_request *rq, char *err,
		      size_t errlen)
{
	struct plant_request pr;

	if (plant_parse_request(line, MAX_SECONDS, &pr, err, errlen))
		return -EINVAL;
	*rq = (struct lab_request){ .stock = pr.stock,
				    .itr_us = pr.itr_us,
				    .freq_mhz = pr.freq_mhz,
				    .seconds = pr.seconds,
				    .n_knobs = pr.n_knobs };
	memcpy(rq->knob_names, pr.knob_names, sizeof(rq->knob_names));
	memcpy(rq->knobs, pr.knobs, sizeof(rq->knobs));
	return 0;
}

int labplant_serve(struct labplant *lp, FILE *in, FILE *out)
{
	char req[REQ_LINE_MAX], line[PLANT_LINE_MAX], err[256];
	struct lab_request rq;
	struct lab_window w;

	while (fgets(req, sizeof(req), in)) {
		if (!strchr(req, '\n') && !feof(in)) {
			snprintf(err, sizeof(err),
				 "request longer than %d bytes",
				 REQ_LINE_MAX - 1);
			labplant_error_line(lp, err, line, sizeof(line));
			/* skip the rest of the overlong line */
			while (fgets(req, sizeof(req), in) &&
			       !strchr(req, '\n'))
				;
		} else if (req[strspn(req, " \t\r\n")] == '\0') {
			continue;
		} else if (to_request(req, &rq, err, sizeof(err)) ||
			   labplant_window(lp, &rq, &w, err, sizeof(err))) {
			labplant_error_line(lp, err, line, sizeof(line));
		} else {
			labplant_reply_line(lp, &w, line, sizeof(line));
		}
		if (fprintf(out, "%s\n", line) < 0 || fflush(out))
			return -1;
	}
	return 0;
}

/* ---- in this process ----------------------------------------------------------------- */

static int ops_reply(void *ctx, const struct plant_setting *s, double seconds,
		     char *line, size_t cap, char *err, size_t errlen)
{
	struct labplant *lp = ctx;
	struct lab_request rq = {
		.stock = s->stock,
		.itr_us = s->itr_us,
		.freq_mhz = s->freq_mhz,
		.seconds = seconds,
	};
	char why[256];
	struct lab_window w;

	if (!s->stock && s->n_knobs > lp->n_knobs) {
		snprintf(err, errlen,
			 "in-process plant: a setting with %u knobs, names "
			 "for %u",
			 s->n_knobs, lp->n_knobs);
		return -EINVAL;
	}
	rq.n_knobs = s->stock ? 0 : s->n_knobs;
	memcpy(rq.knob_names, lp->knob_names, sizeof(rq.knob_names));
	memcpy(rq.knobs, s->knobs, sizeof(rq.knobs));
	/* what a remote plant would answer, validated the same way */
	if (labplant_window(lp, &rq, &w, why, sizeof(why)))
		labplant_error_line(lp, why, line, cap);
	else
		labplant_reply_line(lp, &w, line, cap);
	return 0;
}

const struct plant_ops labplant_ops = { .reply = ops_reply };

/* ---- the SLA of a policy ------------------------------------------------------------ */

void labplant_set_knobs(struct labplant *lp, const struct policy *pol)
{
	lp->n_knobs = pol->n_knobs;
	for (unsigned int i = 0; i < pol->n_knobs; i++)
		snprintf(lp->knob_names[i], PLANT_KNOB_NAME_LEN, "%s",
			 pol->knobs[i].name);
}

void labplant_sla_of(const struct policy *pol, struct sim_sla *sla)
{
	if (pol->sla.kind == POLICY_SLA_THROUGHPUT)
		*sla = (struct sim_sla){ SIM_SLA_RATIO, pol->sla.min_ratio };
	else if (pol->sla.pct == POLICY_P50)
		*sla = (struct sim_sla){ SIM_SLA_P50, pol->sla.bound_us };
	else
		*sla = (struct sim_sla){ SIM_SLA_P99, pol->sla.bound_us };
}

int labplant_scenario_open(const char *path, enum scenario_plant plant,
			   struct scenario *sc, const char *what)
{
	char err[KOPT_INI_ERR_LEN];

	if (scenario_load(path, sc, err, sizeof(err))) {
		pr_warn("plant %s: %s\n", what, err);
		return -1;
	}
	if (sc->plant != plant) {
		pr_warn("plant %s: scenario %s is for plant = %s: run it with "
			"`kopt plant %s`\n",
			what, path, scenario_plant_name(sc->plant),
			scenario_plant_name(sc->plant));
		return -1;
	}
	return 0;
}

int labplant_scenario_sla(const struct scenario *sc, struct sim_sla *sla,
			  const char *what)
{
	char err[KOPT_INI_ERR_LEN];
	struct policy *pol;

	if (sla->kind != SIM_SLA_NONE || !sc || !sc->policy[0])
		return 0;
	pol = malloc(sizeof(*pol));
	if (!pol)
		return -1;
	if (policy_load(sc->policy, pol, err, sizeof(err))) {
		pr_warn("plant %s: policy of scenario %s: %s\n", what, sc->path,
			err);
		free(pol);
		return -1;
	}
	labplant_sla_of(pol, sla);
	free(pol);
	return 0;
}

int labplant_serve_stdio(struct labplant *lp)
{
	int ret = labplant_serve(lp, stdin, stdout);

	labplant_fini(lp);
	free(lp);
	return ret ? KOPT_EXIT_FAIL : KOPT_EXIT_OK;
}

/* --sla-p99, --sla-p50 US and --sla-ratio R: the oracle's SLA */
static int sla_arg(struct sim_sla *sla, enum sim_sla_kind kind, double max,
		   const char *s, char *why, size_t len)
{
	double v;

	if (kopt_parse_double(s, 1e-3, max, &v)) {
		snprintf(why, len, "expected %s in 0.001..%.15g",
			 kind == SIM_SLA_RATIO ? "a ratio" : "microseconds",
			 max);
		return -1;
	}
	sla->kind = kind;
	sla->bound = v;
	return 0;
}

int labplant_sla_p99_arg(const char *s, void *to, char *why, size_t len)
{
	return sla_arg(to, SIM_SLA_P99, 1e12, s, why, len);
}

int labplant_sla_p50_arg(const char *s, void *to, char *why, size_t len)
{
	return sla_arg(to, SIM_SLA_P50, 1e12, s, why, len);
}

int labplant_sla_ratio_arg(const char *s, void *to, char *why, size_t len)
{
	return sla_arg(to, SIM_SLA_RATIO, 1, s, why, len);
}
