// SPDX-License-Identifier: GPL-2.0-only
/*
 * The energy controller (the BayOp job), written once against an
 * abstract plant (plant.h) so the same loop drives a simulated server,
 * this host, a replayed measurement or any external measurement rig.
 *
 * Phases, as in the published controller:
 *   trigger  -> measure the current setting under the new conditions
 *            -> ask the optimizer (optimizer/bo.h) for the next (ITR,
 *               frequency), apply it for one window, repeat up to the
 *               policy's trial budget or until no trial improved the
 *               best for converge_trials in a row
 *            -> hold the cheapest setting that met the SLA (with the
 *               policy's noise margin, aim_us / aim_ratio)
 *   hold     -> until the load moves by qps_change, the schedule fires,
 *               or the latency headroom shrinks to half its margin;
 *               the guard reverts to the fallback (the stock policy by
 *               default: what the service ran safely before kopt) the
 *               moment `violations` windows in a row break the SLA, and
 *               re-optimizes from there.
 * Each trigger warm-starts the optimizer with the trials of earlier
 * triggers at loads within warm_radius, and tries the best setting of the
 * nearest earlier load first, so a load seen before costs a few trials.
 * A window whose reply is invalid (or a plant that hangs or dies) fails
 * with the reason; the loop keeps the last setting that met the SLA,
 * restarts a dead plant and gives up after max_failures in a row.
 *
 * Every window is logged as CSV (--log); the summary compares the energy
 * used with what the stock policy would have used in the same windows
 * (the plant's stock_energy_j, or stock windows measured per trigger) and,
 * when the plant knows it, with the oracle. Figures are labelled with the
 * plant's "source" ("sim" figures are simulated and say so everywhere).
 *
 * Cost: one plant round trip per window, plus one GP suggestion per trial
 * (milliseconds); memory grows with the number of trials, not windows.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bo.h"
#include "controller.h"
#include "kopt.h"
#include "plant.h"
#include "policy.h"

/* trials of earlier triggers given to a new optimizer, nearest load first */
#define WARM_MAX 40
/* how much dearer than the SLA's edge the aim's best may be, converged */
#define AIM_GAP 0.05
/* a doubtful hold is re-examined after this many windows */
#define RETRY_WINDOWS 60
/* hold windows averaged by the headroom trigger */
#define HEADROOM_WINDOWS 3

enum phase { PH_MEASURE, PH_STOCK, PH_EXPLORE, PH_HOLD };

static const char *const phase_names[] = { "measure", "stock", "explore",
					   "hold" };

/* A measured (ITR, frequency) the optimizer can learn from. */
struct sample {
	double x[2];
	double qps, obj, cons;
};

/* One trigger and what it chose: a load level. */
struct level {
	double t_s, qps;
	const char *cause;
	unsigned int trials;
	bool converged, have_best;
	struct plant_setting best;
	double obj, cons;
};

/* What a valid window measured, derived for the controller. */
struct outcome {
	struct plant_reply r;
	double obj; /* W (energy) or uJ per op */
	double cons; /* latency (us) or 1 - throughput/qps */
	bool sla_ok; /* the SLA itself */
	bool aim_ok; /* with the policy's margin */
};

struct run {
	struct policy pol;
	struct ctl_opts o;
	struct plant *plant;
	enum plant_need need;
	FILE *log;
	double t_s; /* plant time: sum of the windows' seconds */
	double retry_at; /* re-optimize at this time: the hold was a poor one */
	struct plant_setting cur, last_safe, fallback;
	struct outcome last;
	unsigned int windows, failed, fails_in_row, viol_explore, viol_other;
	unsigned int guard_reverts;
	double energy_j, stock_j, oracle_j;
	unsigned int n_stock, n_oracle; /* windows with each baseline */
	bool stock_from_windows; /* baseline: measured stock windows */
	double stock_rate; /* their W or J/op, at the last trigger */
	bool have_stock_rate;
	char source[PLANT_SOURCE_LEN];
	bool source_mixed;
	struct sample *hist;
	size_t nhist, cap_hist;
	struct level *lv;
	size_t nlv, cap_lv;
};

static volatile sig_atomic_t stop_requested;

void ctl_request_stop(void)
{
	stop_requested = 1;
}

/* ---- small helpers ---------------------------------------------------------- */

static bool same_setting(const struct plant_setting *a,
			 const struct plant_setting *b)
{
	if (a->stock || b->stock)
		return a->stock == b->stock;
	/* without a DVFS knob both frequencies are NAN: equal */
	return a->itr_us == b->itr_us &&
	       (a->freq_mhz == b->freq_mhz ||
		(isnan(a->freq_mhz) && isnan(b->freq_mhz)));
}

static void setting_str(const struct plant_setting *s, char *buf, size_t len)
{
	if (s->stock)
		snprintf(buf, len, "stock");
	else if (isnan(s->freq_mhz))
		snprintf(buf, len, "ITR %g us", s->itr_us);
	else
		snprintf(buf, len, "ITR %g us, %g MHz", s->itr_us, s->freq_mhz);
}

static bool simulated(const struct run *r)
{
	return !strcmp(r->source, "sim");
}

/* "(simulated)", "(measured)", ... for human output. */
static const char *label(const struct run *r)
{
	if (r->source_mixed)
		return "(mixed sources)";
	if (simulated(r))
		return "(simulated)";
	if (!strcmp(r->source, "measured"))
		return "(measured)";
	if (!strcmp(r->source, "estimate"))
		return "(estimated)";
	return "(as reported by the plant)";
}

static bool done(const struct run *r)
{
	return stop_requested ||
	       (r->o.duration_s > 0 && r->t_s >= r->o.duration_s - 1e-9);
}

static void *grow(void *arr, size_t *cap, size_t n, size_t size)
{
	void *p;

	if (n < *cap)
		return arr;
	p = realloc(arr, (*cap ? *cap * 2 : 64) * size);
	if (p)
		*cap = *cap ? *cap * 2 : 64;
	return p;
}

/* ---- objective and SLA --------------------------------------------------------- */

static double objective(const struct run *r, const struct plant_reply *rp)
{
	double ops;

	if (r->pol.objective == POLICY_OBJ_ENERGY)
		return rp->energy_j / rp->seconds;
	ops = (isfinite(rp->throughput) ? rp->throughput : rp->qps) *
	      rp->seconds;
	return ops > 0 ? rp->energy_j / ops * 1e6 : INFINITY;
}

static void judge(const struct run *r, struct outcome *w)
{
	const struct policy_sla *sla = &r->pol.sla;
	double ratio;

	w->obj = objective(r, &w->r);
	if (sla->kind == POLICY_SLA_LATENCY) {
		w->cons = sla->pct == POLICY_P99 ? w->r.p99_us : w->r.p50_us;
		w->sla_ok = w->cons < sla->bound_us;
		w->aim_ok = w->cons <= sla->aim_us;
		return;
	}
	ratio = w->r.qps > 0 ? w->r.throughput / w->r.qps : 1;
	w->cons = 1 - ratio;
	w->sla_ok = ratio >= sla->min_ratio;
	w->aim_ok = ratio >= sla->aim_ratio;
}

/* The optimizer's constraint bound, in the units of outcome.cons. */
static double cons_aim(const struct policy *p)
{
	return p->sla.kind == POLICY_SLA_LATENCY ? p->sla.aim_us :
						   1 - p->sla.aim_ratio;
}

/*
 * The optimizer's view of the constraint: log latency (latency spans
 * decades near saturation, its log is what a GP fits well), the
 * throughput shortfall as is (it can be zero or negative).
 */
static double bo_cons(const struct policy *p, double cons)
{
	if (p->sla.kind != POLICY_SLA_LATENCY)
		return cons;
	return log(cons > 1e-3 ? cons : 1e-3);
}

static double bo_bound(const struct policy *p)
{
	return bo_cons(p, cons_aim(p));
}

static double cons_bound(const struct policy *p)
{
	return p->sla.kind == POLICY_SLA_LATENCY ? p->sla.bound_us :
						   1 - p->sla.min_ratio;
}

/* ---- the log ---------------------------------------------------------------------- */

static void log_header(struct run *r)
{
	const struct policy *p = &r->pol;

	if (!r->log)
		return;
	fprintf(r->log,
		"# kopt run log: policy=%s objective=%s sla_kind=%s "
		"sla_pct=%s sla_bound=%g sla_aim=%g plant=%s\n",
		p->name, policy_objective_name(p->objective),
		p->sla.kind == POLICY_SLA_LATENCY ? "latency" : "throughput",
		p->sla.pct == POLICY_P99 ? "p99" : "p50",
		p->sla.kind == POLICY_SLA_LATENCY ? p->sla.bound_us :
						    p->sla.min_ratio,
		p->sla.kind == POLICY_SLA_LATENCY ? p->sla.aim_us :
						    p->sla.aim_ratio,
		r->o.plant_name);
	if (!strcmp(r->o.plant_name, "sim"))
		fprintf(r->log, "# source=sim: every figure in this file is "
				"simulated (kopt plant sim)\n");
	fprintf(r->log, "# figures come from the plant; the source column says "
			"which are simulated (sim), measured or estimated\n"
			"t_s,seconds,trigger,phase,itr_us,freq_mhz,energy_j,"
			"objective,p50_us,p99_us,throughput,qps,sla_ok,"
			"stock_energy_j,oracle_energy_j,source,error\n");
}

static void csv_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.6g", v);
}

static void log_row(struct run *r, const struct plant_setting *s, enum phase ph,
		    const struct outcome *w, const char *err)
{
	FILE *f = r->log;

	if (!f)
		return;
	fprintf(f, "%.6g,", r->t_s);
	csv_num(f, w ? w->r.seconds : r->pol.window_s);
	fprintf(f, ",%zu,%s,", r->nlv ? r->nlv - 1 : 0, phase_names[ph]);
	if (s->stock)
		fprintf(f, "stock,stock,");
	else if (isnan(s->freq_mhz)) /* no DVFS knob: empty column */
		fprintf(f, "%g,,", s->itr_us);
	else
		fprintf(f, "%g,%g,", s->itr_us, s->freq_mhz);
	if (w) {
		csv_num(f, w->r.energy_j);
		fputc(',', f);
		csv_num(f, w->obj);
		fputc(',', f);
		csv_num(f, w->r.p50_us);
		fputc(',', f);
		csv_num(f, w->r.p99_us);
		fputc(',', f);
		csv_num(f, w->r.throughput);
		fputc(',', f);
		csv_num(f, w->r.qps);
		fprintf(f, ",%d,", w->sla_ok);
		csv_num(f, w->r.stock_energy_j);
		fputc(',', f);
		csv_num(f, w->r.oracle_energy_j);
		fprintf(f, ",%s,\n", w->r.source);
		return;
	}
	fprintf(f, ",,,,,,,,,,\"");
	for (; *err; err++) {
		if (*err == '"')
			fputc('"', f); /* CSV doubles quotes */
		fputc(*err == '\n' ? ' ' : *err, f);
	}
	fprintf(f, "\"\n");
}

/* ---- windows -------------------------------------------------------------------- */

static void note_source(struct run *r, const char *src)
{
	if (!r->windows)
		snprintf(r->source, sizeof(r->source), "%s", src);
	else if (strcmp(r->source, src))
		r->source_mixed = true;
}

/* Energy the stock policy would have used for this window, or NAN. */
static double stock_baseline(struct run *r, const struct outcome *w)
{
	double ops;

	if (r->pol.baseline == POLICY_BASE_NONE)
		return NAN;
	if (isfinite(w->r.stock_energy_j) &&
	    r->pol.baseline != POLICY_BASE_MEASURE)
		return w->r.stock_energy_j;
	if (!r->have_stock_rate)
		return NAN;
	if (r->pol.objective == POLICY_OBJ_ENERGY)
		return r->stock_rate * w->r.seconds;
	ops = (isfinite(w->r.throughput) ? w->r.throughput : w->r.qps) *
	      w->r.seconds;
	return r->stock_rate * 1e-6 * ops;
}

static void account(struct run *r, const struct plant_setting *s, enum phase ph,
		    const struct outcome *w)
{
	double stock;

	note_source(r, w->r.source);
	r->windows++;
	r->energy_j += w->r.energy_j;
	if (s->stock) {
		/* a measured stock window is the baseline from now on */
		r->stock_rate = w->obj;
		r->have_stock_rate = isfinite(w->obj);
	}
	stock = stock_baseline(r, w);
	if (isfinite(stock)) {
		r->stock_j += stock;
		r->n_stock++;
		r->stock_from_windows |= !isfinite(w->r.stock_energy_j) ||
					 r->pol.baseline == POLICY_BASE_MEASURE;
	}
	if (isfinite(w->r.oracle_energy_j)) {
		r->oracle_j += w->r.oracle_energy_j;
		r->n_oracle++;
	}
	if (!w->sla_ok) {
		if (ph == PH_EXPLORE)
			r->viol_explore++;
		else
			r->viol_other++;
	}
	r->t_s += w->r.seconds;
}

static void remember(struct run *r, const struct plant_setting *s,
		     const struct outcome *w)
{
	struct sample *h;

	if (s->stock || !isfinite(w->obj))
		return;
	h = grow(r->hist, &r->cap_hist, r->nhist, sizeof(*h));
	if (!h)
		return; /* warm start is an optimization: go without */
	r->hist = h;
	h[r->nhist++] = (struct sample){
		.x = { s->itr_us, s->freq_mhz },
		.qps = w->r.qps,
		.obj = w->obj,
		.cons = w->cons,
	};
}

static int window_failed(struct run *r, const struct plant_setting *s,
			 enum phase ph, const char *err)
{
	char rerr[PLANT_ERR_LEN];

	pr_warn("run: window at t=%gs (%s) failed: %s\n", r->t_s,
		phase_names[ph], err);
	log_row(r, s, ph, NULL, err);
	r->failed++;
	r->fails_in_row++;
	/* the window's time passed even though it told us nothing */
	r->t_s += r->pol.window_s;
	if (r->fails_in_row >= r->pol.max_failures) {
		pr_warn("run: giving up after %u failed windows in a row "
			"([plant] max_failures); fix the plant and run "
			"again\n",
			r->fails_in_row);
		return -1;
	}
	if (!plant_running(r->plant)) {
		if (plant_restart(r->plant, rerr, sizeof(rerr))) {
			pr_warn("run: %s\n", rerr);
			return -1;
		}
		pr_warn("run: restarted the plant; keeping the last setting "
			"that met the SLA\n");
	}
	return 1;
}

/*
 * Measures one window at s. 0 with *w filled, 1 if the window failed
 * (reason logged; the caller keeps the last safe setting), -1 to stop.
 */
static int run_window(struct run *r, const struct plant_setting *s,
		      enum phase ph, struct outcome *w)
{
	double secs = r->pol.window_s;
	char err[PLANT_ERR_LEN];
	int ret;

	ret = plant_measure(r->plant, s, secs,
			    policy_reply_timeout(&r->pol, secs), r->need, &w->r,
			    err, sizeof(err));
	if (ret)
		return window_failed(r, s, ph, err);
	r->fails_in_row = 0;
	judge(r, w);
	log_row(r, s, ph, w, NULL);
	account(r, s, ph, w);
	r->last = *w;
	if (w->sla_ok)
		r->last_safe = *s;
	if (ph != PH_HOLD && ph != PH_STOCK)
		remember(r, s, w);
	return 0;
}

/* ---- optimization ------------------------------------------------------------------ */

static size_t itr_levels(const struct policy *p)
{
	return (size_t)((p->itr_max_us - p->itr_min_us) / p->itr_step_us +
			1e-9) +
	       1;
}

static double itr_level(const struct policy *p, size_t k)
{
	return p->itr_min_us + k * p->itr_step_us;
}

/* A setting in the optimizer's coordinates (log(1 + ITR) if asked). */
static void to_bo(const struct policy *p, const struct plant_setting *s,
		  double *x)
{
	x[0] = p->itr_log ? log1p(s->itr_us) : s->itr_us;
	x[1] = s->freq_mhz;
}

static struct plant_setting from_bo(const struct policy *p, const double *x)
{
	double itr = p->itr_log ? expm1(x[0]) : x[0];
	double k = round((itr - p->itr_min_us) / p->itr_step_us);

	return (struct plant_setting){
		.itr_us = p->itr_min_us + k * p->itr_step_us,
		.freq_mhz = p->freq_fixed ? NAN : x[1],
	};
}

/* The ITR levels, log-scaled: NULL (and linear) unless the policy asks. */
static double *bo_space_from(const struct policy *p, struct bo_space *sp)
{
	double *logs = NULL;

	memset(sp, 0, sizeof(*sp));
	sp->ndims = p->freq_fixed ? 1 : 2;
	sp->dims[0] = (struct bo_dim){
		.name = "itr_us",
		.kind = BO_DIM_STEP,
		.min = p->itr_min_us,
		.max = p->itr_max_us,
		.step = p->itr_step_us,
	};
	if (p->itr_log) {
		logs = malloc(itr_levels(p) * sizeof(*logs));
		if (!logs)
			return NULL;
		for (size_t k = 0; k < itr_levels(p); k++)
			logs[k] = log1p(itr_level(p, k));
		sp->dims[0] = (struct bo_dim){
			.name = "log1p_itr_us",
			.kind = BO_DIM_LIST,
			.values = logs,
			.n_values = itr_levels(p),
		};
	}
	if (p->freq_fixed)
		return logs;
	sp->dims[1] = (struct bo_dim){
		.name = "freq_mhz",
		.kind = BO_DIM_LIST,
		.values = p->freqs_mhz,
		.n_values = p->n_freqs,
	};
	return logs;
}

static enum bo_acq bo_acq_of(enum policy_acq a)
{
	switch (a) {
	case POLICY_ACQ_EI:
		return BO_ACQ_EI;
	case POLICY_ACQ_LCB:
		return BO_ACQ_LCB;
	case POLICY_ACQ_PENALIZED:
		return BO_ACQ_PENALIZED;
	default:
		return BO_ACQ_CEI;
	}
}

static struct bo *new_optimizer(const struct run *r)
{
	struct bo_space sp;
	struct bo_opts o;
	char err[256];
	struct bo *bo;
	double *logs = bo_space_from(&r->pol, &sp);

	if (r->pol.itr_log && !logs)
		return NULL;
	bo_opts_init(&o);
	o.seed = r->pol.seed + r->nlv;
	o.acq = bo_acq_of(r->pol.acq);
	o.n_init = r->pol.init_trials;
	o.bound = bo_bound(&r->pol);
	bo = bo_new(&sp, &o, err, sizeof(err));
	free(logs); /* bo_new copies listed values */
	if (!bo)
		pr_warn("run: optimizer for policy %s: %s\n", r->pol.path, err);
	return bo;
}

static double load_distance(double a, double b)
{
	return a > 0 && b > 0 ? fabs(log(a / b)) : INFINITY;
}

static int cmp_dist(const void *a, const void *b)
{
	const double *x = a, *y = b;

	return (x[0] > y[0]) - (x[0] < y[0]);
}

/* Earlier trials at similar load, nearest first, capped at WARM_MAX. */
static size_t warm_start(struct run *r, struct bo *bo, double qps)
{
	double(*idx)[2] = malloc(r->nhist * sizeof(*idx));
	double radius = log1p(r->pol.warm_radius);
	size_t n = 0;

	if (!idx)
		return 0;
	for (size_t i = 0; i < r->nhist; i++) {
		double d = load_distance(r->hist[i].qps, qps);

		if (d <= radius) {
			idx[n][0] = d;
			idx[n++][1] = i;
		}
	}
	qsort(idx, n, sizeof(*idx), cmp_dist);
	for (size_t k = 0; k < n && k < WARM_MAX; k++) {
		const struct sample *h = &r->hist[(size_t)idx[k][1]];
		struct plant_setting s = { .itr_us = h->x[0],
					   .freq_mhz = h->x[1] };
		double x[2];

		to_bo(&r->pol, &s, x);
		bo_observe(bo, x, h->obj, bo_cons(&r->pol, h->cons));
	}
	free(idx);
	return n < WARM_MAX ? n : WARM_MAX;
}

/* The best setting of the nearest earlier load within warm_radius. */
static bool prior_best(const struct run *r, double qps, struct plant_setting *s)
{
	double best_d = log1p(r->pol.warm_radius);
	bool found = false;

	for (size_t i = 0; i + 1 < r->nlv; i++) {
		double d = load_distance(r->lv[i].qps, qps);

		if (r->lv[i].have_best && !r->lv[i].best.stock && d <= best_d) {
			*s = r->lv[i].best;
			best_d = d;
			found = true;
		}
	}
	return found;
}

/* A window measured during this trigger. */
struct own {
	struct plant_setting s;
	struct outcome w;
};

/* Per-trigger bookkeeping of the cheapest settings measured now. */
struct choice {
	bool have_aim, have_ok;
	struct plant_setting aim, ok; /* cheapest within aim; lowest cons */
	double aim_obj, ok_cons;
	double ok_obj; /* cheapest that met the SLA itself */
	unsigned int trials, min_trials; /* before convergence may end it */
	struct own *own; /* every window of this trigger */
	size_t n_own, cap_own;
};

static void consider(struct choice *c, const struct plant_setting *s,
		     const struct outcome *w)
{
	struct own *o = grow(c->own, &c->cap_own, c->n_own, sizeof(*o));

	if (o) {
		c->own = o;
		c->own[c->n_own++] = (struct own){ .s = *s, .w = *w };
	}
	if (w->aim_ok && (!c->have_aim || w->obj < c->aim_obj)) {
		c->have_aim = true;
		c->aim = *s;
		c->aim_obj = w->obj;
	}
	if (w->sla_ok && (!c->have_ok || w->cons < c->ok_cons)) {
		c->ok = *s;
		c->ok_cons = w->cons;
	}
	if (w->sla_ok && (!c->have_ok || w->obj < c->ok_obj))
		c->ok_obj = w->obj;
	c->have_ok |= w->sla_ok;
}

/*
 * Converged: the best within the aim stopped improving, and it is not
 * far from the cheapest point that met the SLA at all. Otherwise the
 * margin is what holds the optimizer back and more trials near the
 * boundary are worth their windows.
 */
static bool converged(const struct run *r, const struct choice *c,
		      unsigned int since_gain)
{
	return c->have_aim && since_gain >= r->pol.converge_trials &&
	       c->trials >= c->min_trials &&
	       c->aim_obj <= c->ok_obj * (1 + AIM_GAP);
}

static struct level *new_level(struct run *r, const char *cause)
{
	struct level *lv = grow(r->lv, &r->cap_lv, r->nlv, sizeof(*lv));

	if (!lv)
		return NULL;
	r->lv = lv;
	lv = &r->lv[r->nlv++];
	memset(lv, 0, sizeof(*lv));
	lv->t_s = r->t_s;
	lv->cause = cause;
	lv->qps = NAN;
	lv->best = r->cur;
	r->retry_at = INFINITY;
	return lv;
}

/* Next trial: the prior best first, then the optimizer. */
static int next_trial(struct run *r, struct bo *bo, struct plant_setting *s,
		      struct plant_setting *prior, bool *use_prior)
{
	double x[2];
	int ret;

	if (*use_prior) {
		*use_prior = false;
		*s = *prior;
		return 0;
	}
	ret = bo_suggest(bo, x);
	if (ret) {
		if (ret != -ENOSPC)
			pr_warn("run: optimizer: %s; holding the best so "
				"far\n",
				bo_strerror(bo));
		return ret;
	}
	*s = from_bo(&r->pol, x);
	return 0;
}

/* One trial at s: 0, 1 if the window failed (stop exploring), -1 fatal. */
static int trial(struct run *r, struct bo *bo, struct level *lv,
		 struct choice *c, const struct plant_setting *s)
{
	struct outcome w;
	double x[2];
	int ret = run_window(r, s, PH_EXPLORE, &w);

	if (ret)
		return ret;
	lv->trials++;
	c->trials++;
	to_bo(&r->pol, s, x);
	if (isfinite(w.obj))
		bo_observe(bo, x, w.obj, bo_cons(&r->pol, w.cons));
	consider(c, s, &w);
	return 0;
}

/*
 * The models' pick: the grid setting with the lowest predicted objective
 * among those predicted to meet the aim by one standard deviation. The
 * constrained acquisition hugs the SLA's edge, where noise decides
 * whether a trial met the aim; this looks one step inside it. Only with
 * a constraint model (cei).
 */
static bool model_pick(const struct run *r, struct bo *bo,
		       struct plant_setting *s)
{
	const struct policy *p = &r->pol;
	double aim = bo_bound(p), best = INFINITY;
	struct plant_setting c;
	struct bo_pred pr;
	double x[2];

	for (size_t i = 0; i < p->n_freqs; i++) {
		for (size_t k = 0; k < itr_levels(p); k++) {
			c = (struct plant_setting){ .itr_us = itr_level(p, k),
						    .freq_mhz =
							    p->freqs_mhz[i] };
			to_bo(p, &c, x);
			if (bo_predict(bo, x, &pr) || isnan(pr.cmean))
				return false;
			if (pr.cmean + pr.csd > aim || pr.mean >= best)
				continue;
			best = pr.mean;
			*s = c;
		}
	}
	return isfinite(best);
}

/*
 * Trials until the budget (one kept to confirm the models' pick),
 * convergence or a failed window. 0, or -1 to stop the run.
 */
static int explore(struct run *r, struct bo *bo, struct level *lv,
		   struct choice *c)
{
	struct plant_setting prior, s;
	unsigned int since_gain = 0;
	double best = c->have_aim ? c->aim_obj : INFINITY;
	bool use_prior = prior_best(r, lv->qps, &prior) &&
			 !same_setting(&prior, &r->cur);
	int ret;

	while (lv->trials + 1 < r->pol.trials && !done(r)) {
		if (next_trial(r, bo, &s, &prior, &use_prior)) {
			lv->converged = true;
			break;
		}
		ret = trial(r, bo, lv, c, &s);
		if (ret)
			return ret < 0 ? -1 : 0;
		if (c->have_aim &&
		    c->aim_obj < best * (1 - r->pol.converge_tol)) {
			best = c->aim_obj;
			since_gain = 0;
		} else if (converged(r, c, ++since_gain)) {
			lv->converged = true;
			break;
		}
	}
	if (done(r) || lv->trials >= r->pol.trials || !model_pick(r, bo, &s) ||
	    (c->have_aim && same_setting(&s, &c->aim)))
		return 0;
	ret = trial(r, bo, lv, c, &s);
	return ret < 0 ? -1 : 0;
}

/* Optional stock window: the baseline when the plant gives none. */
static int measure_stock(struct run *r, const struct outcome *w)
{
	static const struct plant_setting stock = { .stock = true };
	struct outcome sw;
	bool need = r->pol.baseline == POLICY_BASE_MEASURE ||
		    (r->pol.baseline == POLICY_BASE_AUTO &&
		     !isfinite(w->r.stock_energy_j));

	if (!need || r->cur.stock || done(r))
		return 0;
	return run_window(r, &stock, PH_STOCK, &sw) < 0 ? -1 : 0;
}

/*
 * The hold candidate by the models of this trigger's own windows only
 * (earlier loads would bias them): the measured setting that met the SLA
 * with the lowest predicted objective among those whose predicted
 * constraint is within the aim. A point on the aim's edge passes or fails
 * the aim by the noise of one window; the model averages its neighbours.
 */
static bool model_hold(const struct run *r, const struct choice *c,
		       struct plant_setting *s, double *score)
{
	struct bo *bo = new_optimizer(r);
	struct bo_pred pr;
	double x[2];

	*score = INFINITY;
	if (!bo)
		return false;
	for (size_t i = 0; i < c->n_own; i++) {
		if (c->own[i].s.stock || !isfinite(c->own[i].w.obj))
			continue;
		to_bo(&r->pol, &c->own[i].s, x);
		bo_observe(bo, x, c->own[i].w.obj,
			   bo_cons(&r->pol, c->own[i].w.cons));
	}
	for (size_t i = 0; i < c->n_own; i++) {
		if (c->own[i].s.stock || !c->own[i].w.sla_ok)
			continue;
		to_bo(&r->pol, &c->own[i].s, x);
		if (bo_predict(bo, x, &pr) || isnan(pr.cmean))
			break;
		if (pr.cmean <= bo_bound(&r->pol) && pr.mean < *score) {
			*score = pr.mean;
			*s = c->own[i].s;
		}
	}
	bo_free(bo);
	return isfinite(*score);
}

static void choose_hold(struct run *r, struct level *lv, const struct choice *c)
{
	struct plant_setting ms;
	double score = INFINITY;
	char buf[64];

	if (model_hold(r, c, &ms, &score) &&
	    (!c->have_aim || score < c->aim_obj)) {
		r->cur = ms;
	} else if (c->have_aim) {
		r->cur = c->aim;
		score = c->aim_obj;
	} else if (c->have_ok) {
		r->cur = c->ok;
	} else {
		r->cur = r->last_safe;
	}
	lv->have_best = isfinite(score);
	lv->best = r->cur;
	/* a hold far dearer than the SLA's edge is worth one more look */
	if (strcmp(lv->cause, "retry") &&
	    (!isfinite(score) || score > c->ok_obj * (1 + AIM_GAP)))
		r->retry_at = r->t_s + RETRY_WINDOWS * r->pol.window_s;
	setting_str(&r->cur, buf, sizeof(buf));
	pr_debug("run: trigger %zu (%s) at qps %.0f: %u trials, holding %s\n",
		 r->nlv - 1, lv->cause, lv->qps, lv->trials, buf);
}

static int optimize(struct run *r, const char *cause)
{
	struct level *lv = new_level(r, cause);
	struct choice c = { 0 };
	struct outcome w;
	struct bo *bo;
	int ret;

	if (!lv)
		return -1;
	ret = run_window(r, &r->cur, PH_MEASURE, &w);
	if (ret)
		return ret < 0 ? -1 : 0; /* keep the current setting */
	lv->qps = w.r.qps;
	consider(&c, &r->cur, &w);
	bo = measure_stock(r, &w) ? NULL : new_optimizer(r);
	if (!bo) {
		free(c.own);
		return -1;
	}
	/* without earlier trials, the design comes before any convergence */
	c.min_trials = r->pol.converge_trials;
	if (warm_start(r, bo, lv->qps) < r->pol.init_trials)
		c.min_trials += r->pol.init_trials;
	ret = explore(r, bo, lv, &c);
	bo_free(bo);
	choose_hold(r, lv, &c);
	free(c.own);
	return ret;
}

/* ---- hold --------------------------------------------------------------------- */

/* Recent hold windows' constraint values, for the headroom trigger. */
struct headroom {
	double cons[HEADROOM_WINDOWS];
	unsigned int n;
};

/* Mean of the last HEADROOM_WINDOWS values, NAN until there are that many. */
static double headroom_mean(struct headroom *h, double cons)
{
	double sum = 0;

	h->cons[h->n++ % HEADROOM_WINDOWS] = cons;
	if (h->n < HEADROOM_WINDOWS)
		return NAN;
	for (int i = 0; i < HEADROOM_WINDOWS; i++)
		sum += h->cons[i];
	return sum / HEADROOM_WINDOWS;
}

static const char *hold_trigger(const struct run *r, double ref_qps,
				double since_s, struct headroom *h)
{
	const struct policy *p = &r->pol;
	double q = r->last.r.qps;

	if (p->qps_change > 0 && ref_qps > 0 &&
	    fabs(q - ref_qps) > p->qps_change * ref_qps)
		return "load";
	if (p->schedule_s > 0 && r->t_s - since_s >= p->schedule_s)
		return "schedule";
	if (r->t_s >= r->retry_at)
		return "retry";
	/*
	 * Re-optimize before the SLA breaks, not after: when the recent
	 * windows average past half the margin (the load drifted, or the
	 * setting was luckier in its trial than it is now).
	 */
	if (headroom_mean(h, r->last.cons) > (cons_aim(p) + cons_bound(p)) / 2)
		return "headroom";
	return NULL;
}

/* The guard: true if the hold must end (reverted to the fallback). */
static bool guard(struct run *r, const struct outcome *w, unsigned int *viol,
		  bool *warned)
{
	if (w->sla_ok) {
		*viol = 0;
		return false;
	}
	if (++*viol < r->pol.guard_windows)
		return false;
	if (same_setting(&r->cur, &r->fallback)) {
		/* nothing safer to go to: keep it, say so once */
		if (!*warned)
			pr_warn("run: the fallback setting breaks the SLA at "
				"t=%gs; the plant cannot meet it now\n",
				r->t_s);
		*warned = true;
		return false;
	}
	r->cur = r->fallback;
	r->guard_reverts++;
	pr_info("run: guard: %u window(s) broke the SLA at t=%gs; reverted "
		"to the fallback and re-optimizing\n",
		*viol, r->t_s);
	return true;
}

/* Holds r->cur until a trigger; the trigger's cause, or NULL to stop. */
static const char *hold(struct run *r, int *fatal)
{
	double ref_qps = NAN, start = r->t_s;
	struct headroom h = { 0 };
	unsigned int viol = 0;
	bool warned = false;
	const char *cause;
	struct outcome w;
	int ret;

	while (!done(r)) {
		ret = run_window(r, &r->cur, PH_HOLD, &w);
		if (ret < 0) {
			*fatal = 1;
			return NULL;
		}
		if (ret)
			continue; /* keep holding the last safe setting */
		if (guard(r, &w, &viol, &warned))
			return "guard";
		if (isnan(ref_qps))
			ref_qps = w.r.qps;
		cause = hold_trigger(r, ref_qps, start, &h);
		if (cause)
			return cause;
	}
	return NULL;
}

/* ---- summary ------------------------------------------------------------------ */

static void level_stats(const struct run *r, unsigned int *max, double *mean)
{
	unsigned int sum = 0;

	*max = 0;
	for (size_t i = 0; i < r->nlv; i++) {
		sum += r->lv[i].trials;
		if (r->lv[i].trials > *max)
			*max = r->lv[i].trials;
	}
	*mean = r->nlv ? (double)sum / r->nlv : 0;
}

static struct json_object *jnum(double v)
{
	char buf[32];

	if (!isfinite(v))
		return NULL;
	snprintf(buf, sizeof(buf), "%.6g", v);
	return json_object_new_double_s(v, buf);
}

static struct json_object *setting_json(const struct plant_setting *s)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "stock", json_object_new_boolean(s->stock));
	json_object_object_add(o, "itr_us", s->stock ? NULL : jnum(s->itr_us));
	json_object_object_add(o, "freq_mhz",
			       s->stock ? NULL : jnum(s->freq_mhz));
	return o;
}

static struct json_object *levels_json(const struct run *r)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < r->nlv; i++) {
		const struct level *lv = &r->lv[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "t_s", jnum(lv->t_s));
		json_object_object_add(o, "cause",
				       json_object_new_string(lv->cause));
		json_object_object_add(o, "qps", jnum(lv->qps));
		json_object_object_add(o, "trials",
				       json_object_new_int(lv->trials));
		json_object_object_add(o, "converged",
				       json_object_new_boolean(lv->converged));
		json_object_object_add(o, "met_aim",
				       json_object_new_boolean(lv->have_best));
		json_object_object_add(o, "chosen", setting_json(&lv->best));
		json_object_array_add(a, o);
	}
	return a;
}

static double saving(double used, double base)
{
	return base > 0 ? 1 - used / base : NAN;
}

/* Energies comparable only over the windows that have the baseline. */
static bool have_all(const struct run *r, unsigned int n)
{
	return r->windows && n == r->windows;
}

struct json_object *ctl_summary_json(const struct run *r)
{
	struct json_object *o = json_object_new_object(), *v;
	unsigned int max_trials;
	double mean_trials, s_kopt, s_oracle;
	char sla[64];

	policy_sla_str(&r->pol.sla, sla, sizeof(sla));
	level_stats(r, &max_trials, &mean_trials);
	s_kopt = saving(r->energy_j, r->stock_j);
	s_oracle = saving(r->oracle_j, r->stock_j);
	json_object_object_add(
		o, "source",
		json_object_new_string(r->source_mixed ? "mixed" :
				       *r->source      ? r->source :
							 "unlabelled"));
	json_object_object_add(o, "simulated",
			       json_object_new_boolean(simulated(r)));
	json_object_object_add(o, "policy",
			       json_object_new_string(r->pol.name));
	json_object_object_add(o, "plant",
			       json_object_new_string(r->o.plant_name));
	json_object_object_add(o, "sla", json_object_new_string(sla));
	json_object_object_add(o, "duration_s", jnum(r->t_s));
	json_object_object_add(o, "windows", json_object_new_int(r->windows));
	json_object_object_add(o, "failed_windows",
			       json_object_new_int(r->failed));
	json_object_object_add(o, "energy_j", jnum(r->energy_j));
	v = json_object_new_object();
	json_object_object_add(v, "energy_j",
			       have_all(r, r->n_stock) ? jnum(r->stock_j) :
							 NULL);
	json_object_object_add(
		v, "basis",
		json_object_new_string(!have_all(r, r->n_stock) ? "none" :
				       r->stock_from_windows ? "stock windows" :
							       "plant"));
	json_object_object_add(o, "stock", v);
	json_object_object_add(o, "saving_vs_stock",
			       have_all(r, r->n_stock) ? jnum(s_kopt) : NULL);
	v = NULL;
	if (have_all(r, r->n_oracle) && have_all(r, r->n_stock)) {
		v = json_object_new_object();
		json_object_object_add(v, "energy_j", jnum(r->oracle_j));
		json_object_object_add(v, "saving_vs_stock", jnum(s_oracle));
		json_object_object_add(v, "fraction_of_saving_achieved",
				       jnum(s_kopt / s_oracle));
	}
	json_object_object_add(o, "oracle", v);
	v = json_object_new_object();
	json_object_object_add(
		v, "total",
		json_object_new_int(r->viol_explore + r->viol_other));
	json_object_object_add(v, "exploration",
			       json_object_new_int(r->viol_explore));
	json_object_object_add(v, "outside_exploration",
			       json_object_new_int(r->viol_other));
	json_object_object_add(o, "sla_violating_windows", v);
	json_object_object_add(o, "guard_reverts",
			       json_object_new_int(r->guard_reverts));
	json_object_object_add(o, "triggers", json_object_new_int(r->nlv));
	v = json_object_new_object();
	json_object_object_add(v, "max", json_object_new_int(max_trials));
	json_object_object_add(v, "mean", jnum(mean_trials));
	json_object_object_add(o, "trials_per_trigger", v);
	json_object_object_add(o, "levels", levels_json(r));
	return o;
}

static void print_levels(const struct run *r, FILE *f)
{
	fprintf(f,
		"  chosen setting per load level %s:\n"
		"      t_s  cause           qps  trials  chosen\n",
		label(r));
	for (size_t i = 0; i < r->nlv; i++) {
		const struct level *lv = &r->lv[i];
		char buf[64];

		setting_str(&lv->best, buf, sizeof(buf));
		fprintf(f, "  %7.0f  %-8s %10.0f  %6u  %s%s\n", lv->t_s,
			lv->cause, lv->qps, lv->trials, buf,
			lv->have_best ? "" : " (no trial met the aim)");
	}
}

void ctl_print_summary(const struct run *r, FILE *f)
{
	unsigned int max_trials;
	double mean_trials, s_kopt = saving(r->energy_j, r->stock_j);
	char sla[64];

	policy_sla_str(&r->pol.sla, sla, sizeof(sla));
	level_stats(r, &max_trials, &mean_trials);
	fprintf(f, "kopt run: policy %s (%s), plant %s %s\n", r->pol.name, sla,
		r->o.plant_name, label(r));
	fprintf(f, "  plant time        %.0f s in %u windows (%u failed)\n",
		r->t_s, r->windows, r->failed);
	fprintf(f, "  energy            %.6g J %s\n", r->energy_j, label(r));
	if (have_all(r, r->n_stock))
		fprintf(f,
			"  stock policy      %.6g J %s, from %s: kopt saved "
			"%.1f%%\n",
			r->stock_j, label(r),
			r->stock_from_windows ? "stock windows" : "the plant",
			100 * s_kopt);
	if (have_all(r, r->n_oracle) && have_all(r, r->n_stock))
		fprintf(f,
			"  oracle            %.6g J %s: saves %.1f%%; kopt got "
			"%.1f%% of that\n",
			r->oracle_j, label(r),
			100 * saving(r->oracle_j, r->stock_j),
			100 * s_kopt / saving(r->oracle_j, r->stock_j));
	fprintf(f,
		"  SLA violations    %u windows: %u exploring, %u outside "
		"exploration; guard reverts %u\n",
		r->viol_explore + r->viol_other, r->viol_explore, r->viol_other,
		r->guard_reverts);
	fprintf(f,
		"  triggers          %zu; trials per trigger max %u, mean "
		"%.1f\n",
		r->nlv, max_trials, mean_trials);
	print_levels(r, f);
}

/* ---- setup ------------------------------------------------------------------------ */

static enum plant_need need_of(const struct policy *p)
{
	if (p->sla.kind == POLICY_SLA_THROUGHPUT)
		return PLANT_NEED_THROUGHPUT;
	return p->sla.pct == POLICY_P99 ? PLANT_NEED_P99 : PLANT_NEED_P50;
}

/* `kopt plant sim ...` of this very binary, with the policy's SLA. */
struct run *ctl_new(const struct policy *pol, const struct ctl_opts *o,
		    struct plant *plant, FILE *log)
{
	struct run *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->pol = *pol;
	r->o = *o;
	r->plant = plant;
	r->log = log;
	r->need = need_of(&r->pol);
	r->fallback = (struct plant_setting){
		.stock = r->pol.fallback_stock,
		.itr_us = r->pol.fallback_itr_us,
		.freq_mhz = r->pol.fallback_freq_mhz,
	};
	/* start where the host is: the stock policy */
	r->cur = (struct plant_setting){ .stock = true };
	r->last_safe = r->fallback;
	stop_requested = 0;
	log_header(r);
	return r;
}

int ctl_loop(struct run *r)
{
	const char *cause = "start";
	int fatal = 0;

	while (!done(r)) {
		if (optimize(r, cause))
			return KOPT_EXIT_FAIL;
		cause = hold(r, &fatal);
		if (fatal)
			return KOPT_EXIT_FAIL;
	}
	return KOPT_EXIT_OK;
}

void ctl_free(struct run *r)
{
	if (!r)
		return;
	free(r->hist);
	free(r->lv);
	free(r);
}
