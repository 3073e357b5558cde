// SPDX-License-Identifier: GPL-2.0-only
/*
 * The energy controller (the BayOp job), written once against an
 * abstract plant (plant.h) so the same loop drives a simulated server,
 * this host, a replayed measurement or any external measurement rig.
 *
 * What production asks of it, and how (the published controller
 * re-explored blind to the SLA at every trigger; this one does not):
 *
 *  - Load is an input, not a reset. One pair of GPs (optimizer/bo.h:
 *    energy, and log p99 or the throughput shortfall) over (ITR,
 *    frequency, every [knob NAME] the policy declares, log load) learns
 *    from every trial and, sparsely, from hold windows. At each
 *    decision the whole knob grid is scored at the current load (one
 *    blocked solve); a load the model knows costs no trial or a few
 *    (SEEN_TRIALS), a new one at most the policy's trials.
 *  - Safe exploration (after SafeOpt / safe BO). A trial is only made
 *    where the upper confidence bound (BETA posterior sds) on the SLA
 *    metric is a window's noise (Z_TRIAL) inside the SLA, and within
 *    TRUST of a setting measured within the SLA near this load, so the
 *    safe set grows from the known-safe ones (the very first trial is the
 *    latency-first corner: smallest ITR, highest frequency, every other
 *    knob at its safe end). Of the safe settings, the potential
 *    minimizers are tried, most uncertain first, until none could beat
 *    the best hold by converge_tol, or the best hold, measured at this
 *    load, has not improved by converge_tol in converge_trials trials.
 *  - Steps from a hold. A search is short (converge_trials) and its
 *    model may know little at a new load, so a steady hold tries, every
 *    STEP_S, one unmeasured setting next to the safe ones whose predicted
 *    SLA metric is inside the hold limit and which could be cheaper,
 *    and moves there if it is; counted apart from the triggers' trials.
 *  - Short probes. A trial runs PROBE_FRAC of a window first; a probe
 *    over the SLA ends it, and the rest of the window runs the setting
 *    held before. The plant protocol needs nothing new for this: a
 *    request may ask for any number of seconds, so every plant does it.
 *  - Noise-aware holds, triggers and guard. The window-to-window noise
 *    of the SLA metric is measured (a trial's two parts, consecutive hold
 *    windows, never across a load jump) and a hold keeps Z_HOLD of it
 *    below the SLA (at least the policy's aim). The load is smoothed
 *    and a change must last LOAD_PERSIST windows, but a jump the held
 *    setting is not known to serve safely puts the fallback in place
 *    for the very next window.
 *    The guard reverts to the fallback on a clear breach (one window
 *    Z_CLEAR noise sds over, or GUARD_RUN in a row), not on one noisy
 *    window. A two-sided CUSUM of the held setting's residuals against
 *    the model detects drift (service time, a noisy neighbour) with no
 *    load change; the model then forgets all but DRIFT_KEEP_S of data.
 *    A headroom check re-decides before the SLA breaks.
 *  - A breach makes the model suspect. The guard (or the headroom check)
 *    ending a hold means the model was wrong there, and the world may
 *    have moved faster than the CUSUM could tell: for VERIFY_S a hold or
 *    a move must be a setting measured within the SLA since the breach,
 *    and a decision first tries its candidate as a probed trial. A
 *    step over the SLA moves nothing.
 *  - The fallback is not always the safest. Stock Linux is the fallback
 *    because it needs no model; when nothing is safe to hold, or the
 *    fallback itself breaks the SLA, a measured setting whose bound on
 *    the SLA metric is clearly below the fallback's measured windows is
 *    held instead. And where the corner seed is over the SLA (near
 *    saturation a short ITR's interrupts eat the CPU), the seed walks
 *    up the ITR at the highest frequency while the metric falls.
 *  - Load wander. Within a level the load still wanders (a few percent,
 *    minute to minute); a hold chosen safe at the level's mean load sits
 *    at the SLA edge half the time. The spread of the hold windows' load
 *    around the level's is measured, and a hold (and every move or step
 *    from it) must be predicted safe Z_LOAD of its sds above the load,
 *    at most qps_change above (past that the trigger decides again).
 *
 * A decision that needs no trial is a move; one that does is a
 * re-optimization, reported as a level with its trials.
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
 * Cost: one plant round trip per window; per decision or trial, one
 * scoring of the grid (a few ms for 900 settings and 240 observations;
 * each [knob] multiplies the settings by its number of values);
 * per hold window one prediction; per STEP_S of a hold one scoring of
 * the grid, unless nothing was learnt since a look found no step.
 * The model keeps at most MODEL_MAX_OBS
 * observations; the observation list grows with trials and with at most
 * HOLD_OBS_PER_CELL hold windows per setting and load.
 *
 * Policy keys it uses: the SLA and aim, the knob grid, window seconds,
 * trials, converge_tol, converge_trials, warm_radius (with qps_change:
 * what counts as a load seen before), qps_change, schedule_s, guard
 * violations and fallback, baseline, the plant's timeout and
 * max_failures. init_trials and acquisition belonged to the blind
 * search and are accepted but unused.
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

/* the model: at most this many observations, newest first */
#define MODEL_MAX_OBS 240
/* the load box extends the loads seen by this much (log) each way */
#define LOAD_BOX_MARGIN 0.7
/* hold windows one (setting, load within LOAD_CELL in log) gives it */
#define HOLD_OBS_PER_CELL 3
#define LOAD_CELL 0.05
/* window noise of the SLA metric is at least this (log us; ratio) */
#define NOISE_FLOOR_LOG 0.02
#define NOISE_FLOOR_RATIO 0.002
/* consecutive hold windows before their spread is the noise; its EWMA */
#define NOISE_MIN_PAIRS 8
#define NOISE_ALPHA 0.05
/* a window-to-window difference counts at most this many noise sds */
#define NOISE_CLIP 3.0
/* width of the model's confidence bounds, in posterior sds: for a trial,
 * and for a hold (which the guard and the drift check watch every window) */
#define BETA 2.0
#define BETA_HOLD 0.5
/* a trial's confidence bound stays Z_TRIAL window sds below the SLA */
#define Z_TRIAL 1.0
/* a hold's stays Z_HOLD below: 0.5% of its windows over, by noise alone */
#define Z_HOLD 2.6
/* a trial is at most this share of each knob's range from a setting
 * measured within the SLA near the load */
#define TRUST 0.3
/* trials at a new load that may step beyond the model's safe set */
#define EXPAND_TRIALS 10
/* the part of a trial window judged before the rest is spent */
#define PROBE_FRAC 0.25
/* trials for a load the model has seen (SEEN_MIN_TRIALS trial windows
 * within warm_radius) */
#define SEEN_TRIALS 3
#define SEEN_MIN_TRIALS 4
/* the guard: this many windows over in a row, or one clearly over */
#define GUARD_RUN 2
#define Z_CLEAR 2.0
/* drift: CUSUM slack and threshold (window sds); what is kept after it */
#define DRIFT_K 1.0
#define DRIFT_H 10.0
#define DRIFT_KEEP_S 1800.0
/* hold windows whose residuals give the model's bias at the setting */
#define DRIFT_REF_N 6
#define DRIFT_GRID 25
#define DRIFT_SPAN 0.3
/* a load change must hold this many windows (a jump acts at once) */
#define LOAD_PERSIST 3
/*
 * Load wander: a hold is chosen safe at Z_LOAD sds of the load's spread
 * within a level above the load it is chosen at (the spread of the hold
 * windows' load around it; EWMA weight LOAD_VAR_ALPHA, trusted after
 * NOISE_MIN_PAIRS windows), never more than qps_change above (beyond it
 * the load trigger decides again).
 */
#define Z_LOAD 2.0
#define LOAD_VAR_ALPHA 0.02
/* smoothing of the load signal (EWMA weight of the newest window) */
#define LOAD_ALPHA 0.3
/* a hold is looked at again after this long: the fallback held for want
 * of a safe setting, or one the model now expects IMPROVE_GAIN dearer
 * than the best */
#define RETRY_S 600.0
/* a steady hold tries one step toward a cheaper setting this often */
#define STEP_S 120.0
#define IMPROVE_GAIN 0.03
/*
 * A hold the guard ended (or whose headroom ran out) is not chosen again
 * at that load or above for BAN_S. A tail the model's Gaussian noise
 * cannot see (load wander against a capacity edge) otherwise has it
 * re-choose the same setting at every decision. Only that setting:
 * banning the whole region it dominates (ITR no shorter, frequency no
 * higher) cut the saving by up to a third on the replayed sweeps for
 * about the same time over the SLA.
 */
#define BAN_S 3600.0
/* headroom: the mean of this many hold windows is this many of its sds
 * above the hold limit */
#define HEADROOM_WINDOWS 6
#define Z_HEADROOM 2.5
/*
 * After a breach (the guard, or headroom that ran out) the model was
 * wrong about a setting it held safe: the world moved under it (a
 * neighbour, drift) faster than the CUSUM, which starts over at every
 * hold, could tell. For VERIFY_S a hold (or a move) must be a setting
 * measured within the SLA since that breach; the decision first tries
 * its candidate, up to VERIFY_TRIALS of them, as a probed trial. On the
 * hostile sim world at p99 < 200 us a neighbour's arrival otherwise had
 * the guard revert 10 times in 5 minutes, each decision moving to the
 * next setting the stale model held safe, for 20 s over the SLA each.
 */
#define VERIFY_S 3600.0
#define VERIFY_TRIALS 3
/*
 * When no setting is safe to hold, the fallback holds; but the fallback
 * (stock Linux) may break the SLA where a measured setting does not (a
 * neighbour slowing service on the hostile sim world at p99 < 200 us:
 * stock at 210-225 us in every window for an hour while three settings
 * had just measured 165-190). So the measured setting with the lowest
 * bound (BETA_HOLD) on the SLA metric is held instead when that bound is
 * inside the SLA and a window noise sd below the fallback's own mean,
 * measured in FB_MIN_WINDOWS windows at this load; and a fallback that
 * breaks the SLA (the guard's rule) looks for one.
 */
#define FB_MIN_WINDOWS 2

enum phase { PH_MEASURE, PH_STOCK, PH_EXPLORE, PH_HOLD };

static const char *const phase_names[] = { "measure", "stock", "explore",
					   "hold" };

/* A measured setting at a load: what the model learns from. */
struct obs {
	struct plant_setting s;
	double qps, obj, cons, t_s;
	bool hold; /* a hold window, not a trial */
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

/* A setting the guard ended at a load: see BAN_S. */
struct ban {
	struct plant_setting s;
	double qps, until_s;
};

/* What a valid window measured, derived for the controller. */
struct outcome {
	struct plant_reply r;
	double obj; /* W (energy) or uJ per op */
	double cons; /* latency (us) or 1 - throughput/qps */
	bool sla_ok; /* the SLA itself */
	bool aim_ok; /* with the policy's margin */
};

/* The SLA's bound in model units, and the two limits below it. */
struct limits {
	double bound; /* the SLA */
	double trial; /* a trial's upper confidence bound stays below this */
	double hold; /* a hold's upper confidence bound stays below this */
	double noise; /* one window's noise (sd) */
};

struct run {
	struct policy pol;
	struct ctl_opts o;
	struct plant *plant;
	enum plant_need need;
	FILE *log;
	double t_s; /* plant time: sum of the windows' seconds */
	struct plant_setting cur, last_safe, fallback;
	struct outcome last;
	unsigned int windows, failed, fails_in_row, viol_explore, viol_other;
	unsigned int guard_reverts, moves, probe_cuts, drifts;
	unsigned int steps, step_moves; /* hold-time improvement trials */
	/* the last look for a step found none: the model and load it saw */
	size_t idle_nobs, idle_from;
	double idle_q;
	double over_s_explore, over_s_other; /* plant time over the SLA */
	double energy_j, stock_j, oracle_j;
	unsigned int n_stock, n_oracle; /* windows with each baseline */
	bool stock_from_windows; /* baseline: measured stock windows */
	double stock_rate; /* their W or J/op, at the last trigger */
	bool have_stock_rate;
	char source[PLANT_SOURCE_LEN];
	bool source_mixed;
	char first_error[PLANT_ERR_LEN]; /* of the first failed window */
	/* the model and what it learns from */
	struct obs *obs;
	size_t nobs, cap_obs;
	size_t model_from; /* first observation it may use (drift) */
	size_t model_n; /* observations it has */
	struct bo *bo;
	double lq_lo, lq_hi; /* its load box, log qps */
	double *gx; /* the grid in model coordinates */
	struct bo_pred *gpred; /* the posterior over the grid */
	double *gdist; /* distance to a setting measured safe near the load */
	bool *gmeasured; /* measured near the load */
	struct limits lim; /* at the last grid prediction */
	/* the load and the hold */
	double q_s; /* smoothed load */
	double q_ref; /* the load the hold was chosen at */
	unsigned int far_windows;
	double q_raw[LOAD_PERSIST]; /* the newest loads measured, unsmoothed */
	unsigned int n_raw;
	double load_ss; /* EWMA of the hold windows' (log load / q_ref)^2 */
	unsigned int load_n;
	double cusum_up, cusum_down;
	/* drift: the model at the held setting when the hold began, by load
	 * (DRIFT_GRID points over +-DRIFT_SPAN in log), and the residuals'
	 * mean over the hold's first DRIFT_REF_N windows */
	bool frz_ok;
	double frz_lq, frz_cmean[DRIFT_GRID], frz_csd[DRIFT_GRID];
	double bias_sum, bias_ss;
	unsigned int bias_n;
	double noise_ss; /* EWMA of half the squared window-to-window change */
	unsigned int noise_n;
	struct level *lv;
	size_t nlv, cap_lv;
	size_t warm_obs; /* observations from a --warm-start table */
	/* for koptd: a per-run stop, and the last window's phase */
	int stop_run; /* __atomic */
	enum phase phase;
	struct ctl_status st; /* after the last window */
	struct ban *bans;
	size_t nbans, cap_bans;
	double grid_qps; /* the load of the last grid prediction */
	double fb_cons, fb_q; /* the fallback's SLA metric, at that load */
	unsigned int fb_n, rescues;
	double breach_t; /* plant time of the last breach (VERIFY_S) */
	bool breached;
	unsigned int verify_trials;
};

static volatile sig_atomic_t stop_requested;

void ctl_request_stop(void)
{
	stop_requested = 1;
}

void ctl_stop(struct run *r)
{
	__atomic_store_n(&r->stop_run, 1, __ATOMIC_RELAXED);
}

static void window_done(struct run *r, enum phase ph)
{
	r->phase = ph;
	if (r->o.on_window)
		r->o.on_window(r, r->o.arg);
}

/* ---- small helpers ---------------------------------------------------------- */

static void setting_str(const struct run *r, const struct plant_setting *s,
			char *buf, size_t len)
{
	size_t n;

	if (s->stock)
		n = snprintf(buf, len, "stock");
	else if (isnan(s->freq_mhz))
		n = snprintf(buf, len, "ITR %g us", s->itr_us);
	else
		n = snprintf(buf, len, "ITR %g us, %g MHz", s->itr_us,
			     s->freq_mhz);
	for (unsigned int i = 0; i < s->n_knobs && n < len; i++)
		n += snprintf(buf + n, len - n, ", %s %g", r->pol.knobs[i].name,
			      s->knobs[i]);
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
	if (!strcmp(r->source, "replay"))
		return "(replayed-measured)";
	return "(as reported by the plant)";
}

static bool done(const struct run *r)
{
	return stop_requested ||
	       __atomic_load_n(&r->stop_run, __ATOMIC_RELAXED) ||
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
	if (!strcmp(r->o.plant_name, "replay"))
		fprintf(r->log,
			"# source=replay: measured sweeps replayed (kopt plant "
			"replay); see policies/data/README.md\n");
	fprintf(r->log, "# figures come from the plant; the source column says "
			"which are simulated (sim), measured or estimated\n"
			"t_s,seconds,trigger,phase,itr_us,freq_mhz,energy_j,"
			"objective,p50_us,p99_us,throughput,qps,sla_ok,"
			"stock_energy_j,oracle_energy_j,source,latency_source");
	/* a policy's other knobs: a column each, before the error (last) */
	for (unsigned int i = 0; i < r->pol.n_knobs; i++)
		fprintf(r->log, ",knob_%s", r->pol.knobs[i].name);
	fprintf(r->log, ",error\n");
}

static void log_knobs(struct run *r, const struct plant_setting *s)
{
	for (unsigned int i = 0; i < r->pol.n_knobs; i++)
		if (s->stock || i >= s->n_knobs)
			fprintf(r->log, ",stock");
		else
			fprintf(r->log, ",%g", s->knobs[i]);
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
		fprintf(f, ",%s,%s", w->r.source, w->r.latency_source);
		log_knobs(r, s);
		fprintf(f, ",\n");
		fflush(f); /* a long run's log is followed while it runs */
		return;
	}
	fprintf(f, ",,,,,,,,,,");
	log_knobs(r, s);
	fprintf(f, ",\"");
	for (; *err; err++) {
		if (*err == '"')
			fputc('"', f); /* CSV doubles quotes */
		fputc(*err == '\n' ? ' ' : *err, f);
	}
	fprintf(f, "\"\n");
	fflush(f);
}

/* Keeps where the run stands for ctl_last_status(); before window_done. */
static void tell_window(struct run *r, enum phase ph,
			const struct plant_setting *s, const struct outcome *w)
{
	r->st = (struct ctl_status){
		.t_s = r->t_s,
		.phase = phase_names[ph],
		.energy_j = r->energy_j,
		.stock_j = r->n_stock && r->n_stock == r->windows ? r->stock_j :
								    NAN,
		.window_ok = w != NULL,
		.sla_ok = w && w->sla_ok,
		.windows = r->windows,
		.failed = r->failed,
		.label = label(r),
	};
	setting_str(r, s, r->st.setting, sizeof(r->st.setting));
}

const struct ctl_status *ctl_last_status(const struct run *r)
{
	return &r->st;
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
		if (ph == PH_EXPLORE) {
			r->viol_explore++;
			r->over_s_explore += w->r.seconds;
		} else {
			r->viol_other++;
			r->over_s_other += w->r.seconds;
		}
	}
	if (w->r.qps > 0) {
		r->q_s = r->q_s > 0 ? LOAD_ALPHA * w->r.qps +
					      (1 - LOAD_ALPHA) * r->q_s :
				      w->r.qps;
		r->q_raw[r->n_raw++ % LOAD_PERSIST] = w->r.qps;
	}
	if (ph == PH_HOLD && w->r.qps > 0 && r->q_ref > 0) {
		double d = log(w->r.qps / r->q_ref);

		/* beyond qps_change the trigger takes it: not wander */
		if (fabs(d) < log1p(fmax(r->pol.qps_change, 0))) {
			r->load_ss = r->load_n ? LOAD_VAR_ALPHA * d * d +
							 (1 - LOAD_VAR_ALPHA) *
								 r->load_ss :
						 d * d;
			r->load_n++;
		}
	}
	r->t_s += w->r.seconds;
}

static int window_failed(struct run *r, const struct plant_setting *s,
			 enum phase ph, const char *err)
{
	char rerr[PLANT_ERR_LEN];

	pr_warn("run: window at t=%gs (%s) failed: %s\n", r->t_s,
		phase_names[ph], err);
	log_row(r, s, ph, NULL, err);
	if (!r->failed)
		snprintf(r->first_error, sizeof(r->first_error), "%s", err);
	r->failed++;
	r->fails_in_row++;
	/* the window's time passed even though it told us nothing */
	r->t_s += r->pol.window_s;
	tell_window(r, ph, s, NULL);
	window_done(r, ph);
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
		      enum phase ph, double secs, struct outcome *w)
{
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
	tell_window(r, ph, s, w);
	r->last = *w;
	if (w->sla_ok)
		r->last_safe = *s;
	window_done(r, ph);
	return 0;
}

/* ---- the model: one pair of GPs over (knobs, load) ------------------------ */

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

static size_t freq_levels(const struct policy *p)
{
	return p->freq_fixed ? 1 : p->n_freqs;
}

/*
 * Settings the controller chooses among: every ITR level x frequency x
 * the values of each [knob NAME]; the index counts ITR fastest, then
 * frequency, then the knobs in the policy's order.
 */
static size_t grid_size(const struct policy *p)
{
	size_t n = itr_levels(p) * freq_levels(p);

	for (unsigned int i = 0; i < p->n_knobs; i++)
		n *= p->knobs[i].n_values;
	return n;
}

static struct plant_setting grid_setting(const struct policy *p, size_t g)
{
	size_t k = g % itr_levels(p), f;
	struct plant_setting s;

	g /= itr_levels(p);
	f = g % freq_levels(p);
	g /= freq_levels(p);
	s = (struct plant_setting){
		.itr_us = itr_level(p, k),
		.freq_mhz = p->freq_fixed ? NAN : p->freqs_mhz[f],
		.n_knobs = p->n_knobs,
	};
	for (unsigned int i = 0; i < p->n_knobs; i++) {
		s.knobs[i] = p->knobs[i].values[g % p->knobs[i].n_values];
		g /= p->knobs[i].n_values;
	}
	return s;
}

/*
 * The latency-first corner: the smallest ITR at the highest frequency,
 * every other knob at its safe end (the SafeOpt seed a monotone plant
 * makes safe).
 */
static long grid_corner(const struct policy *p)
{
	size_t g = (freq_levels(p) - 1) * itr_levels(p);
	size_t mult = itr_levels(p) * freq_levels(p);

	for (unsigned int i = 0; i < p->n_knobs; i++) {
		const struct policy_knob *kn = &p->knobs[i];

		if (kn->safe_high)
			g += (kn->n_values - 1) * mult;
		mult *= kn->n_values;
	}
	return (long)g;
}

/* A knob's value as the model sees it. */
static double knob_coord(const struct policy_knob *kn, double v)
{
	return kn->log ? log1p(v) : v;
}

/* The grid index of s; -1 if s is not on the grid (stock, say). */
static long grid_index(const struct policy *p, const struct plant_setting *s)
{
	for (size_t g = 0; g < grid_size(p); g++) {
		struct plant_setting t = grid_setting(p, g);

		if (plant_setting_same(&t, s))
			return (long)g;
	}
	return -1;
}

/* knobs, then log load */
static size_t model_dims(const struct policy *p)
{
	return (p->freq_fixed ? 1 : 2) + p->n_knobs + 1;
}

/*
 * The load coordinate: log qps where load is the context the policy
 * reacts to (qps_change > 0); 0 where it does not (a closed loop such as
 * ping-pong, whose rate is an outcome of the setting, not an input).
 */
static double load_coord(const struct policy *p, double qps)
{
	if (!(p->qps_change > 0))
		return 0;
	return log(qps > 1 ? qps : 1);
}

/* How far apart two loads are for the model (log ratio, 0: no context). */
static double load_dist(const struct policy *p, double a, double b)
{
	return fabs(load_coord(p, a) - load_coord(p, b));
}

/* A setting at a load in the model's coordinates. */
static void to_model(const struct policy *p, const struct plant_setting *s,
		     double qps, double *x)
{
	size_t d = 0;

	x[d++] = p->itr_log ? log1p(s->itr_us) : s->itr_us;
	if (!p->freq_fixed)
		x[d++] = s->freq_mhz;
	for (unsigned int i = 0; i < p->n_knobs; i++)
		x[d++] = knob_coord(&p->knobs[i], s->knobs[i]);
	x[d] = load_coord(p, qps);
}

/* The knobs' values as the model sees them (bo_new copies them). */
struct knob_coords {
	double v[POLICY_MAX_KNOBS][POLICY_MAX_KNOB_VALUES];
};

static void model_space(const struct run *r, struct bo_space *sp, double *logs,
			struct knob_coords *kc)
{
	const struct policy *p = &r->pol;
	size_t d = 0;

	memset(sp, 0, sizeof(*sp));
	sp->dims[d++] = (struct bo_dim){
		.name = "itr_us",
		.kind = BO_DIM_STEP,
		.min = p->itr_min_us,
		.max = p->itr_max_us,
		.step = p->itr_step_us,
	};
	if (p->itr_log) {
		for (size_t k = 0; k < itr_levels(p); k++)
			logs[k] = log1p(itr_level(p, k));
		sp->dims[0] = (struct bo_dim){
			.name = "log1p_itr_us",
			.kind = BO_DIM_LIST,
			.values = logs,
			.n_values = itr_levels(p),
		};
	}
	if (!p->freq_fixed)
		sp->dims[d++] = (struct bo_dim){
			.name = "freq_mhz",
			.kind = BO_DIM_LIST,
			.values = p->freqs_mhz,
			.n_values = p->n_freqs,
		};
	for (unsigned int i = 0; i < p->n_knobs; i++) {
		const struct policy_knob *kn = &p->knobs[i];

		for (size_t k = 0; k < kn->n_values; k++)
			kc->v[i][k] = knob_coord(kn, kn->values[k]);
		sp->dims[d++] = (struct bo_dim){
			.name = kn->name,
			.kind = BO_DIM_LIST,
			.values = kc->v[i],
			.n_values = kn->n_values,
		};
	}
	sp->dims[d++] = (struct bo_dim){
		.name = "log_qps",
		.kind = BO_DIM_CONTINUOUS,
		.min = r->lq_lo,
		.max = r->lq_hi,
	};
	sp->ndims = d;
}

static bool in_load_box(const struct run *r, double qps)
{
	double lq = load_coord(&r->pol, qps);

	return r->bo && lq >= r->lq_lo && lq <= r->lq_hi;
}

/*
 * Rebuilds the model from the observations it may use (since the last
 * drift, the newest MODEL_MAX_OBS), with a load box that covers them and
 * the load about to be predicted with room to spare.
 */
static int model_rebuild(struct run *r, double ctx_qps)
{
	size_t from = r->model_from, d = model_dims(&r->pol);
	double lo = load_coord(&r->pol, ctx_qps), hi = lo;
	double *logs = NULL, x[BO_MAX_DIMS];
	struct knob_coords kc;
	struct bo_space sp;
	struct bo_opts o;
	char err[256];

	if (r->nobs - from > MODEL_MAX_OBS)
		from = r->nobs - MODEL_MAX_OBS;
	r->model_from = from;
	for (size_t i = from; i < r->nobs; i++) {
		double lq = load_coord(&r->pol, r->obs[i].qps);

		lo = fmin(lo, lq);
		hi = fmax(hi, lq);
	}
	r->lq_lo = lo - LOAD_BOX_MARGIN;
	r->lq_hi = hi + LOAD_BOX_MARGIN;
	bo_free(r->bo);
	r->bo = NULL;
	if (r->pol.itr_log) {
		logs = malloc(itr_levels(&r->pol) * sizeof(*logs));
		if (!logs)
			return -ENOMEM;
	}
	model_space(r, &sp, logs, &kc);
	bo_opts_init(&o);
	o.seed = r->pol.seed;
	o.acq = BO_ACQ_CEI; /* a constraint model beside the objective's */
	o.bound = bo_bound(&r->pol);
	o.grid_max = 0; /* never searched: the controller scores its grid */
	r->bo = bo_new(&sp, &o, err, sizeof(err));
	free(logs); /* bo_new copies listed values */
	if (!r->bo) {
		pr_warn("run: model for policy %s: %s\n", r->pol.path, err);
		return -EINVAL;
	}
	for (size_t i = from; i < r->nobs; i++) {
		to_model(&r->pol, &r->obs[i].s, r->obs[i].qps, x);
		bo_observe(r->bo, x, r->obs[i].obj,
			   bo_cons(&r->pol, r->obs[i].cons));
	}
	r->model_n = r->nobs;
	(void)d;
	return 0;
}

/* The model, current up to the last observation and valid at qps. */
static int model_ready(struct run *r, double qps)
{
	double x[BO_MAX_DIMS];

	if (r->nobs <= r->model_from)
		return -ENOENT;
	if (!in_load_box(r, qps) || r->nobs - r->model_from > MODEL_MAX_OBS)
		return model_rebuild(r, qps);
	for (; r->model_n < r->nobs; r->model_n++) {
		const struct obs *o = &r->obs[r->model_n];

		if (!in_load_box(r, o->qps))
			return model_rebuild(r, qps);
		to_model(&r->pol, &o->s, o->qps, x);
		bo_observe(r->bo, x, o->obj, bo_cons(&r->pol, o->cons));
	}
	return 0;
}

/* Observations at s and a load within LOAD_CELL of qps, since the drift. */
static unsigned int cell_count(const struct run *r,
			       const struct plant_setting *s, double qps)
{
	unsigned int n = 0;

	for (size_t i = r->model_from; i < r->nobs; i++)
		n += plant_setting_same(&r->obs[i].s, s) &&
		     load_dist(&r->pol, r->obs[i].qps, qps) < LOAD_CELL;
	return n;
}

/* The fallback's windows measured the load q (within qps_change). */
static bool fb_near(const struct run *r, double q)
{
	return fabs(log(q / r->fb_q)) <=
	       log1p(fmax(r->pol.qps_change, LOAD_CELL));
}

/*
 * The fallback's SLA metric near the load (model units): the mean of its
 * windows since the load last moved by qps_change. The model does not
 * learn stock Linux, so this is all that is known of it.
 */
static void note_fallback(struct run *r, const struct plant_setting *s,
			  const struct outcome *w)
{
	double c = bo_cons(&r->pol, w->cons);

	if (!plant_setting_same(s, &r->fallback) || !isfinite(c) ||
	    !(w->r.qps > 0))
		return;
	if (!r->fb_n || !fb_near(r, w->r.qps)) {
		r->fb_n = 0;
		r->fb_cons = 0;
		r->fb_q = w->r.qps;
	}
	r->fb_n++;
	r->fb_cons += (c - r->fb_cons) / r->fb_n;
}

/* note_fallback()'s figure if it is of a load near qps, else NAN. */
static double fallback_cons(const struct run *r, double qps)
{
	if (r->fb_n < FB_MIN_WINDOWS || !fb_near(r, qps))
		return NAN;
	return r->fb_cons;
}

/*
 * A valid window at a grid setting becomes an observation; hold windows
 * only until their (setting, load) cell has HOLD_OBS_PER_CELL, so a long
 * hold neither swamps the model nor makes it slow.
 */
static void observe(struct run *r, const struct plant_setting *s,
		    const struct outcome *w, bool hold)
{
	struct obs *o;

	if (hold)
		note_fallback(r, s, w);
	if (s->stock || !isfinite(w->obj) || !(w->r.qps > 0))
		return;
	if (hold && cell_count(r, s, w->r.qps) >= HOLD_OBS_PER_CELL)
		return;
	o = grow(r->obs, &r->cap_obs, r->nobs, sizeof(*o));
	if (!o)
		return; /* the model goes without: safety does not depend on it */
	r->obs = o;
	r->obs[r->nobs++] = (struct obs){ .s = *s,
					  .qps = w->r.qps,
					  .obj = w->obj,
					  .cons = w->cons,
					  .t_s = r->t_s,
					  .hold = hold };
}

/*
 * Window-to-window noise of the constraint (model units), with a floor:
 * measured between consecutive hold windows once there are enough of
 * them (load wander included: the hold must absorb it too), else the
 * model's fitted noise (which also absorbs its misfit: an overestimate).
 */
static double cons_noise(struct run *r)
{
	double so, sc;

	if (r->noise_n >= NOISE_MIN_PAIRS)
		sc = sqrt(r->noise_ss);
	else if (!r->bo || bo_noise_sd(r->bo, &so, &sc) || !isfinite(sc))
		sc = 0;
	return fmax(sc, r->pol.sla.kind == POLICY_SLA_LATENCY ?
				NOISE_FLOOR_LOG :
				NOISE_FLOOR_RATIO);
}

/* Window-to-window noise of the objective, by the model. */
static double obj_noise(struct run *r)
{
	double so, sc;

	if (!r->bo || bo_noise_sd(r->bo, &so, &sc) || !isfinite(so))
		return 0;
	return so;
}

static struct limits limits(struct run *r)
{
	const struct policy *p = &r->pol;
	struct limits l = { .bound = bo_cons(p, cons_bound(p)) };

	l.noise = cons_noise(r);
	l.trial = l.bound - Z_TRIAL * l.noise;
	l.hold = l.bound - fmax(l.bound - bo_bound(p), Z_HOLD * l.noise);
	return l;
}

/* The load's measured wander within a level (sd, log); NAN before. */
static double load_wander(const struct run *r)
{
	return r->load_n >= NOISE_MIN_PAIRS ? sqrt(r->load_ss) : NAN;
}

/*
 * The load a hold at qps must be safe at: Z_LOAD sds of the load's
 * measured wander above qps (see Z_LOAD). On the replayed Flink sweep,
 * whose holds sit at a throughput edge, load wandering a few percent
 * broke holds chosen at the level's mean load in 1.2% of the day.
 */
static double hold_load(const struct run *r, double qps)
{
	double sd = load_wander(r);

	if (!isfinite(sd) || r->pol.qps_change <= 0)
		return qps;
	return qps * exp(fmin(Z_LOAD * sd, log1p(r->pol.qps_change)));
}

/*
 * Per grid setting, at the load being decided: whether it was measured
 * near that load, and its distance (largest per-knob share of the knob's
 * range) to the nearest setting measured near that load within the SLA.
 * Trials stay within TRUST of such a setting: exploration expands from
 * what is known to be safe, and the model is not trusted far from data.
 */
static double knob_range(const struct policy_knob *kn)
{
	return kn->n_values > 1 ? kn->values[kn->n_values - 1] - kn->values[0] :
				  1;
}

static void near_data(struct run *r, double qps)
{
	const struct policy *p = &r->pol;
	double radius = log1p(r->pol.warm_radius);
	double irange = fmax(p->itr_max_us - p->itr_min_us, 1e-9);
	double frange = p->freq_fixed || p->n_freqs < 2 ?
				1 :
				p->freqs_mhz[p->n_freqs - 1] - p->freqs_mhz[0];

	for (size_t g = 0; g < grid_size(p); g++) {
		r->gdist[g] = INFINITY;
		r->gmeasured[g] = false;
	}
	for (size_t i = r->model_from; i < r->nobs; i++) {
		const struct obs *o = &r->obs[i];

		if (load_dist(p, o->qps, qps) > radius)
			continue;
		for (size_t g = 0; g < grid_size(p); g++) {
			struct plant_setting s = grid_setting(p, g);
			double d = fabs(s.itr_us - o->s.itr_us) / irange;

			if (!p->freq_fixed)
				d = fmax(d, fabs(s.freq_mhz - o->s.freq_mhz) /
						    frange);
			for (unsigned int k = 0; k < p->n_knobs; k++)
				d = fmax(d, fabs(s.knobs[k] - o->s.knobs[k]) /
						    knob_range(&p->knobs[k]));
			if (d == 0)
				r->gmeasured[g] = true;
			if (bo_cons(p, o->cons) < r->lim.bound &&
			    d < r->gdist[g])
				r->gdist[g] = d;
		}
	}
}

/*
 * The model's posterior over the whole grid at one load, qps; what was
 * measured (near_data) is of the load near_q. They differ for a hold,
 * predicted at hold_load() above the load it serves: with the data taken
 * there too, a hold load more than warm_radius above it (load wander
 * over a third of qps_change) saw nothing measured, so holds went to
 * unmeasured settings and hold steps found no safe seed to step from
 * (one replayed seed held the latency-first corner, 1.6x stock's
 * energy, for four hours).
 */
static int predict_grid_near(struct run *r, double qps, double near_q)
{
	const struct policy *p = &r->pol;
	size_t m = grid_size(p), d = model_dims(p);
	int ret = model_ready(r, qps);

	if (ret)
		return ret;
	if (!r->gx) {
		r->gx = malloc(m * d * sizeof(*r->gx));
		r->gpred = malloc(m * sizeof(*r->gpred));
		r->gdist = malloc(m * sizeof(*r->gdist));
		r->gmeasured = malloc(m * sizeof(*r->gmeasured));
		if (!r->gx || !r->gpred || !r->gdist || !r->gmeasured)
			return -ENOMEM;
	}
	for (size_t g = 0; g < m; g++) {
		struct plant_setting s = grid_setting(p, g);

		to_model(p, &s, qps, r->gx + g * d);
	}
	ret = bo_predict_many(r->bo, r->gx, m, r->gpred);
	if (ret) {
		pr_warn("run: model: %s\n", bo_strerror(r->bo));
		return ret;
	}
	r->lim = limits(r);
	r->grid_qps = qps;
	near_data(r, near_q);
	return 0;
}

static int predict_grid(struct run *r, double qps)
{
	return predict_grid_near(r, qps, qps);
}

/* A setting was measured within the SLA near the load near_data() saw. */
static bool safe_near(const struct run *r)
{
	for (size_t g = 0; g < grid_size(&r->pol); g++)
		if (r->gdist[g] == 0)
			return true;
	return false;
}

static double ucb_cons(const struct bo_pred *pr)
{
	return pr->cmean + BETA * pr->csd;
}

/* Bans s at qps (see BAN_S); the guard and the headroom check call it. */
static void ban(struct run *r, const struct plant_setting *s, double qps)
{
	struct ban *b;

	if (s->stock || !(qps > 0))
		return;
	b = grow(r->bans, &r->cap_bans, r->nbans, sizeof(*b));
	if (!b)
		return; /* only the ban is lost: the guard still watches */
	r->bans = b;
	r->bans[r->nbans++] =
		(struct ban){ .s = *s, .qps = qps, .until_s = r->t_s + BAN_S };
}

/* A breach: holds need a fresh measurement for VERIFY_S (see there). */
static void breach(struct run *r)
{
	r->breach_t = r->t_s;
	r->breached = true;
}

/*
 * s may be held: no breach within VERIFY_S, or s was measured within
 * the SLA since the last one.
 */
static bool fresh(const struct run *r, const struct plant_setting *s)
{
	if (!r->breached || r->t_s - r->breach_t > VERIFY_S)
		return true;
	for (size_t i = r->nobs; i-- > r->model_from;) {
		const struct obs *o = &r->obs[i];

		if (o->t_s < r->breach_t)
			break;
		if (plant_setting_same(&o->s, s) &&
		    bo_cons(&r->pol, o->cons) < r->lim.bound)
			return true;
	}
	return false;
}

/* s is banned at qps: a live ban at this load or below covers it. */
static bool banned(const struct run *r, const struct plant_setting *s,
		   double qps)
{
	double slack = 1 + fmax(r->pol.qps_change, 0);

	for (size_t i = 0; i < r->nbans; i++) {
		const struct ban *b = &r->bans[i];

		if (b->until_s <= r->t_s || qps * slack < b->qps)
			continue;
		if (plant_setting_same(s, &b->s))
			return true;
	}
	return false;
}

/*
 * The cheapest setting the model holds safe at this load; -1: none.
 * Settings measured near this load come first: the model's mean at an
 * unmeasured setting is a guess a hold should not bet on.
 */
static long best_hold_if(const struct run *r, const struct limits *l,
			 bool need_fresh)
{
	double best[2] = { INFINITY, INFINITY };
	long arg[2] = { -1, -1 };

	for (size_t g = 0; g < grid_size(&r->pol); g++) {
		const struct bo_pred *pr = &r->gpred[g];
		int k = r->gmeasured[g] ? 0 : 1;
		struct plant_setting s = grid_setting(&r->pol, g);

		if (pr->cmean + BETA_HOLD * pr->csd <= l->hold &&
		    pr->mean < best[k] && !banned(r, &s, r->grid_qps) &&
		    (!need_fresh || fresh(r, &s))) {
			best[k] = pr->mean;
			arg[k] = (long)g;
		}
	}
	return arg[0] >= 0 ? arg[0] : arg[1];
}

static long best_hold(const struct run *r, const struct limits *l)
{
	return best_hold_if(r, l, false);
}

/* best_hold_if() margin window noise sds inside the last prediction's
 * hold limit */
static long best_hold_within(const struct run *r, double margin,
			     bool need_fresh)
{
	struct limits l = r->lim;

	l.hold -= margin * l.noise;
	return best_hold_if(r, &l, need_fresh);
}

/*
 * With few points the model's uncertainty covers everything but what was
 * measured, and the safe set cannot grow: at a new load the first
 * EXPAND_TRIALS trials may step to an unmeasured setting within TRUST of
 * one measured safe there, if the model's mean (not its bound) keeps it
 * inside the trial limit; the most promising by the optimistic objective.
 * The probe is what protects such a step.
 */
static long expansion(struct run *r)
{
	struct plant_setting s;
	double best = INFINITY;
	long arg = -1;

	for (size_t g = 0; g < grid_size(&r->pol); g++) {
		const struct bo_pred *pr = &r->gpred[g];
		double v = pr->mean - BETA * pr->sd;

		if (r->gmeasured[g] || r->gdist[g] > TRUST ||
		    pr->cmean > r->lim.trial || v >= best)
			continue;
		s = grid_setting(&r->pol, g);
		if (banned(r, &s, r->grid_qps))
			continue;
		best = v;
		arg = (long)g;
	}
	return arg;
}

/*
 * Nothing measured within the SLA near this load, so the safe set has no
 * seed: the latency-first corner (smallest ITR, highest frequency, the
 * SafeOpt seed a monotone plant makes safe). Near saturation the plant
 * is not monotone: the interrupts of a short ITR eat the CPU, and p99
 * falls as ITR grows before it rises again (the sim memcached model at
 * 1.45M req/s and 2.9 GHz: 403 us at ITR 4, 244 at 8, 185 at 16, 176 at
 * 24; measured NICs coalesce adaptively under load for that reason).
 * So a corner measured over the SLA is followed by the corner with ITR
 * doubled, rung by rung, while the model's SLA metric at the rungs
 * measured falls; once it rises, or the rungs run out, nothing is safe
 * here (-1: the fallback holds). In a flash crowd on the hostile sim
 * world at p99 < 200 us the corner alone left the fallback (stock
 * Linux) holding, over the SLA in a third of the windows.
 */
static long latency_seed(struct run *r)
{
	const struct policy *p = &r->pol;
	long c = grid_corner(p);
	double prev = INFINITY, itr = 0;

	for (size_t k = 0; k < itr_levels(p); k++) {
		long g = c + (long)k;

		if (k && itr_level(p, k) < 2 * itr)
			continue;
		if (!r->gmeasured[g])
			return g;
		if (!(r->gpred[g].cmean < prev))
			return -1;
		prev = r->gpred[g].cmean;
		itr = itr_level(p, k);
	}
	return -1;
}

/*
 * The next trial at this load (safe exploration, in the spirit of
 * SafeOpt): only settings whose upper confidence bound on the SLA metric
 * is inside the trial limit, and within TRUST of a setting measured
 * within the SLA near this load (the safe set, which grows from the
 * settings known to be safe). Of those, the potential minimizers are the
 * ones whose optimistic objective beats the pessimistic objective of the
 * best hold, and the most uncertain of them is measured next. The search
 * is over (-1) when none is left, or when every one is known to within
 * converge_tol of the best or half a window's noise (no single trial
 * could tell them apart). With no model yet, the start is the
 * latency-first corner: the smallest ITR at the highest frequency.
 */
static long next_trial(struct run *r, double qps, bool first, bool expand)
{
	const struct policy *p = &r->pol;
	double u_best = INFINITY, width = 0, y_best;
	long h, arg = -1;
	int ret = predict_grid(r, qps);

	if (ret == -ENOENT)
		return first ? grid_corner(p) : -1;
	if (ret)
		return -1;
	h = best_hold(r, &r->lim);
	if (h >= 0)
		u_best = r->gpred[h].mean + BETA * r->gpred[h].sd;
	for (size_t g = 0; g < grid_size(p); g++) {
		const struct bo_pred *pr = &r->gpred[g];
		struct plant_setting s;

		if (ucb_cons(pr) > r->lim.trial || r->gdist[g] > TRUST ||
		    pr->mean - BETA * pr->sd > u_best || pr->sd <= width)
			continue;
		s = grid_setting(p, g);
		if (banned(r, &s, qps))
			continue;
		width = pr->sd;
		arg = (long)g;
	}
	if (arg < 0 && !safe_near(r))
		return latency_seed(r);
	if (arg < 0 && first) {
		/* nothing safe by the model at this load: its safest point */
		double lo = INFINITY;

		for (size_t g = 0; g < grid_size(p); g++)
			if (ucb_cons(&r->gpred[g]) < lo) {
				lo = ucb_cons(&r->gpred[g]);
				arg = (long)g;
			}
		return arg;
	}
	y_best = h >= 0 ? fabs(r->gpred[h].mean) : 0;
	if (arg >= 0 && h >= 0 &&
	    BETA * width <= fmax(p->converge_tol * y_best, obj_noise(r) / 2))
		arg = -1;
	if ((arg < 0 || r->gmeasured[arg]) && expand)
		return expansion(r);
	return arg;
}

/* ---- decisions ----------------------------------------------------------- */

static struct level *new_level(struct run *r, const char *cause, double qps)
{
	struct level *lv = grow(r->lv, &r->cap_lv, r->nlv, sizeof(*lv));

	if (!lv)
		return NULL;
	r->lv = lv;
	lv = &r->lv[r->nlv++];
	memset(lv, 0, sizeof(*lv));
	lv->t_s = r->t_s;
	lv->cause = cause;
	lv->qps = qps;
	lv->best = r->cur;
	return lv;
}

/* The last grid prediction has a setting safe to hold. */
static bool has_hold(struct run *r)
{
	struct limits l = limits(r);

	return r->bo && best_hold(r, &l) >= 0;
}

/*
 * A load seen before: trials were made within warm_radius of it, or
 * within qps_change (a load that close to an explored one would not
 * have triggered from it). Hold windows do not count: right after a
 * load change they are the old setting at the new load, not knowledge
 * of it.
 */
static bool seen_before(const struct run *r, double qps)
{
	double radius = log1p(fmax(r->pol.warm_radius, r->pol.qps_change));
	unsigned int n = 0;

	for (size_t i = r->model_from; i < r->nobs; i++)
		n += !r->obs[i].hold &&
		     load_dist(&r->pol, r->obs[i].qps, qps) <= radius;
	return n >= SEEN_MIN_TRIALS;
}

/*
 * The spread between two windows at one setting (a trial's two parts,
 * consecutive hold windows): the noise the SLA metric has. Not across a
 * load jump (more than qps_change between the two): that difference is
 * the load's. On the replayed sweep at p99 < 200 us one pair across a
 * step from 400k to 600k req/s made the noise 0.2 (log) for the next
 * quarter hour, so the one setting predicted safe under that limit, the
 * latency-first corner, was held at the new load (dearer than stock).
 */
static void note_noise(struct run *r, double *prev, double *prev_q, double c,
		       double q)
{
	double d = c - *prev, dq = log(q / *prev_q);

	*prev = c;
	*prev_q = q;
	if (!isfinite(d) ||
	    (r->pol.qps_change > 0 && !(fabs(dq) <= log1p(r->pol.qps_change))))
		return;
	/*
	 * A step in the world with no load change (a neighbour, drift) is
	 * not noise either: once the noise is known, a difference is
	 * clipped at NOISE_CLIP sds of it (winsorized), so one step
	 * moves the estimate by little while a noise that truly grew still
	 * raises it, more slowly.
	 */
	if (r->noise_n >= NOISE_MIN_PAIRS) {
		double c = NOISE_CLIP * sqrt(2 * r->noise_ss);

		d = fmax(-c, fmin(c, d));
	}
	r->noise_ss = r->noise_n ? NOISE_ALPHA * d * d / 2 +
					   (1 - NOISE_ALPHA) * r->noise_ss :
				   d * d / 2;
	r->noise_n++;
}

/*
 * Measures s for one window in two parts: a probe of PROBE_FRAC of the
 * window, then the rest. A probe that breaks the SLA ends the trial at
 * once, and the rest of the window runs at the safe setting. 0, 1 if a
 * window failed, -1 to stop.
 */
static int trial(struct run *r, struct level *lv, const struct plant_setting *s,
		 const struct plant_setting *safe)
{
	double probe = r->pol.window_s * PROBE_FRAC;
	double rest = r->pol.window_s - probe;
	struct outcome w;
	double prev, prev_q;
	int ret = run_window(r, s, PH_EXPLORE, probe, &w);

	if (ret)
		return ret;
	if (lv)
		lv->trials++;
	else
		r->steps++;
	observe(r, s, &w, false);
	if (!w.sla_ok) {
		r->probe_cuts++;
		ret = run_window(r, safe, PH_HOLD, rest, &w);
		if (!ret)
			observe(r, safe, &w, true);
		return ret;
	}
	prev = bo_cons(&r->pol, w.cons);
	prev_q = w.r.qps;
	ret = run_window(r, s, PH_EXPLORE, rest, &w);
	if (!ret) {
		observe(r, s, &w, false);
		/* two windows at one setting: their difference is noise */
		note_noise(r, &prev, &prev_q, bo_cons(&r->pol, w.cons),
			   w.r.qps);
	}
	return ret;
}

/* Optional stock window: the baseline when the plant gives none. */
static int measure_stock(struct run *r)
{
	static const struct plant_setting stock = { .stock = true };
	struct outcome sw;
	bool need = r->pol.baseline == POLICY_BASE_MEASURE ||
		    (r->pol.baseline == POLICY_BASE_AUTO &&
		     !isfinite(r->last.r.stock_energy_j));

	if (!need || r->cur.stock || done(r))
		return 0;
	return run_window(r, &stock, PH_STOCK, r->pol.window_s, &sw) < 0 ? -1 :
									   0;
}

/* A new hold (or a move): its drift reference starts over. */
static void drift_reset(struct run *r)
{
	r->cusum_up = r->cusum_down = 0;
	r->frz_ok = false;
	r->bias_sum = r->bias_ss = 0;
	r->bias_n = 0;
}

/*
 * The model's best safe setting to hold at qps, -1: none. Safe under the
 * load's wander, else at least at the load itself; margin window noise
 * sds inside the hold limit; with need_fresh, only settings measured
 * since the last breach (VERIFY_S). predict_grid() sets r->lim.
 */
static long hold_candidate(struct run *r, double qps, double margin,
			   bool need_fresh)
{
	double qh = hold_load(r, qps);
	long h = -1;

	if (qh > qps && !predict_grid_near(r, qh, qps))
		h = best_hold_within(r, margin, need_fresh);
	if (h < 0 && !predict_grid(r, qps))
		h = best_hold_within(r, margin, need_fresh);
	return h;
}

/* The newest measurement of s near qps was within the SLA. */
static bool last_ok(const struct run *r, const struct plant_setting *s,
		    double qps)
{
	double radius = log1p(r->pol.warm_radius);

	for (size_t i = r->nobs; i-- > r->model_from;) {
		const struct obs *o = &r->obs[i];

		if (plant_setting_same(&o->s, s) &&
		    load_dist(&r->pol, o->qps, qps) <= radius)
			return bo_cons(&r->pol, o->cons) < r->lim.bound;
	}
	return false;
}

/*
 * No setting is safe to hold at qps: the measured one that is safest,
 * if it is clearly safer than the fallback (see FB_MIN_WINDOWS) and its
 * newest measurement here kept the SLA; with need_fresh, measured so
 * since the last breach. -1: none. Uses the last grid prediction, which
 * must be of qps (hold_candidate() leaves it so when it finds none).
 */
static long rescue_hold(struct run *r, double qps, bool need_fresh)
{
	double fb = fallback_cons(r, qps), lo = INFINITY;
	long arg = -1;

	if (!isfinite(fb) || !r->gpred || r->grid_qps != qps)
		return -1;
	for (size_t g = 0; g < grid_size(&r->pol); g++) {
		const struct bo_pred *pr = &r->gpred[g];
		struct plant_setting s = grid_setting(&r->pol, g);
		double u = pr->cmean + BETA_HOLD * pr->csd;

		/* banned or not: it is measured against the fallback */
		if (!r->gmeasured[g] || !(u < lo) || !last_ok(r, &s, qps) ||
		    (need_fresh && !fresh(r, &s)))
			continue;
		lo = u;
		arg = (long)g;
	}
	if (arg < 0 || !(lo <= r->lim.bound) || !(lo < fb - r->lim.noise))
		return -1;
	return arg;
}

static struct level *new_level(struct run *r, const char *cause, double qps);

/*
 * After a breach, the hold candidate at qps is tried before it is held
 * (VERIFY_S): up to VERIFY_TRIALS candidates, each banned if its probe
 * or window breaks the SLA, and each one more window noise sd inside the
 * hold limit than the last (the model was optimistic here). They are
 * the decision's trials (a level, made here if the search made none),
 * within its budget. 0, 1 if a window failed, -1 to stop.
 */
static int verify_hold(struct run *r, struct level **lvp, const char *cause,
		       double qps, unsigned int budget,
		       const struct plant_setting *safe)
{
	for (unsigned int i = 0; i < VERIFY_TRIALS && !done(r); i++) {
		long h = hold_candidate(r, qps, i, false);
		unsigned int cuts = r->probe_cuts;
		struct plant_setting s;
		int ret;

		/* nothing safe to hold: perhaps one safer than the fallback */
		if (h < 0)
			h = rescue_hold(r, qps, false);
		if (h < 0)
			return 0;
		s = grid_setting(&r->pol, h);
		if (fresh(r, &s) || (*lvp && (*lvp)->trials >= budget))
			return 0;
		if (!*lvp) {
			*lvp = new_level(r, cause, qps);
			if (!*lvp)
				return -1;
		}
		ret = trial(r, *lvp, &s, safe);
		if (ret)
			return ret;
		r->verify_trials++;
		if (r->probe_cuts != cuts || !r->last.sla_ok)
			ban(r, &s, qps);
	}
	return 0;
}

/* Holds the model's best safe setting at qps, or the fallback. */
static void choose_hold(struct run *r, struct level *lv, double qps)
{
	long h = hold_candidate(r, qps, 0, true);
	char buf[64];

	if (h < 0) {
		h = rescue_hold(r, qps, true);
		r->rescues += h >= 0;
	}

	r->cur = h >= 0 ? grid_setting(&r->pol, h) : r->fallback;
	r->q_ref = qps;
	drift_reset(r);
	r->far_windows = 0;
	if (lv) {
		lv->have_best = h >= 0;
		lv->best = r->cur;
	} else {
		r->moves++;
	}
	setting_str(r, &r->cur, buf, sizeof(buf));
	pr_debug("run: at t=%gs, qps %.0f: %s %s (%u trials; SLA metric "
		 "limit %.4g, noise %.3g)\n",
		 r->t_s, qps, lv ? "holding" : "moved to", buf,
		 lv ? lv->trials : 0, r->lim.hold, r->lim.noise);
}

/*
 * The policy's converge_trials: the model's best safe hold at this load
 * (by the last grid prediction) has not improved by converge_tol in that
 * many trials. Without it a new load level spent the whole budget
 * re-confirming the hold its neighbours gave (14 trials at each hourly
 * step of the calm sim world, for the same setting). No safe hold yet,
 * or one the model extrapolates but nobody measured near this load:
 * the search goes on (on the jagged measured sweeps an unmeasured best
 * hold was often a poor one).
 */
static bool no_gain(struct run *r, double qps, double *best,
		    unsigned int *stale)
{
	long h;
	double m;

	/* no model, or its last grid prediction is not of this load */
	if (!r->bo || !r->gpred || r->grid_qps != qps)
		return false;
	h = best_hold(r, &r->lim);
	if (h < 0 || !r->gmeasured[h])
		return false;
	m = r->gpred[h].mean;
	if (!isfinite(*best) || m < *best - r->pol.converge_tol * fabs(*best)) {
		*best = m;
		*stale = 0;
		return false;
	}
	return ++*stale >= r->pol.converge_trials;
}

/* Trials a decision at qps may make: SEEN_TRIALS at a load seen before. */
static unsigned int trial_budget(const struct run *r, bool seen)
{
	return seen && SEEN_TRIALS < r->pol.trials ? SEEN_TRIALS :
						     r->pol.trials;
}

/* A window of a decision failed: hold the last setting that met the SLA. */
static void hold_last_safe(struct run *r, struct level *lv, double qps)
{
	r->cur = r->last_safe;
	if (lv)
		lv->best = r->cur;
	r->q_ref = qps;
}

/*
 * One decision at the current load: safe trials while the model is
 * unsure (a re-optimization, logged as a level), then the hold. A
 * decision the model can make without a trial is a move.
 */
static int decide(struct run *r, const char *cause)
{
	struct plant_setting safe = r->cur.stock ? r->fallback : r->cur;
	double qps = r->q_s, best = INFINITY;
	unsigned int budget = 0, stale = 0;
	struct level *lv = NULL;
	long g;
	int ret;

	while (!done(r)) {
		g = next_trial(r, qps, !lv,
			       lv && lv->trials < EXPAND_TRIALS &&
				       budget > SEEN_TRIALS);
		if (g < 0)
			break;
		if (!lv) {
			lv = new_level(r, cause, qps);
			if (!lv || measure_stock(r))
				return -1;
			budget = trial_budget(r, seen_before(r, qps) &&
							 has_hold(r));
		}
		if (lv->trials >= budget || no_gain(r, qps, &best, &stale))
			break;
		{
			struct plant_setting s = grid_setting(&r->pol, g);

			ret = trial(r, lv, &s, &safe);
		}
		if (ret < 0)
			return -1;
		if (ret) {
			hold_last_safe(r, lv, qps);
			return 0;
		}
		qps = r->q_s;
	}
	if (lv)
		lv->converged = lv->trials < budget;
	if (!lv)
		budget = trial_budget(r, seen_before(r, qps));
	ret = verify_hold(r, &lv, cause, qps, budget, &safe);
	if (ret < 0)
		return -1;
	if (ret) {
		hold_last_safe(r, lv, qps);
		return 0;
	}
	choose_hold(r, lv, qps);
	return 0;
}

/* ---- hold --------------------------------------------------------------------- */

/* The model's view of the held setting at qps: mean and sd (model units). */
static bool predict_cur(struct run *r, double qps, struct bo_pred *pr)
{
	double x[BO_MAX_DIMS];

	if (r->cur.stock || model_ready(r, qps))
		return false;
	to_model(&r->pol, &r->cur, qps, x);
	return !bo_predict(r->bo, x, pr);
}

/* The guard: true if the hold must end now (reverted to the fallback). */
static bool guard(struct run *r, const struct outcome *w,
		  const struct limits *l, unsigned int *viol, bool *warned)
{
	bool clear;

	if (w->sla_ok) {
		*viol = 0;
		return false;
	}
	++*viol;
	clear = bo_cons(&r->pol, w->cons) > l->bound + Z_CLEAR * l->noise;
	if (!(*viol >= GUARD_RUN || (clear && *viol >= r->pol.guard_windows)))
		return false;
	if (plant_setting_same(&r->cur, &r->fallback)) {
		/* a measured setting is safer here: hold it instead */
		if (!predict_grid(r, w->r.qps) &&
		    rescue_hold(r, w->r.qps, false) >= 0) {
			*viol = 0;
			pr_info("run: the fallback broke the SLA at t=%gs; a "
				"measured setting is safer here\n",
				r->t_s);
			return true;
		}
		/* nothing safer to go to: keep it, say so once */
		if (!*warned)
			pr_warn("run: the fallback setting breaks the SLA at "
				"t=%gs; the plant cannot meet it now\n",
				r->t_s);
		*warned = true;
		return false;
	}
	ban(r, &r->cur, w->r.qps);
	breach(r);
	r->cur = r->fallback;
	r->guard_reverts++;
	pr_info("run: guard: %u window(s) broke the SLA at t=%gs; reverted "
		"to the fallback and re-deciding\n",
		*viol, r->t_s);
	return true;
}

/* The frozen model at the held setting and load q; false: out of range. */
static bool frozen_at(const struct run *r, double q, double *cmean, double *csd)
{
	double u = (log(q) - r->frz_lq + DRIFT_SPAN) / (2 * DRIFT_SPAN) *
		   (DRIFT_GRID - 1);
	size_t k;

	if (!(u >= 0 && u <= DRIFT_GRID - 1))
		return false;
	k = (size_t)fmin(u, DRIFT_GRID - 2);
	u -= k;
	*cmean = (1 - u) * r->frz_cmean[k] + u * r->frz_cmean[k + 1];
	*csd = (1 - u) * r->frz_csd[k] + u * r->frz_csd[k + 1];
	return true;
}

/* Freezes the model at the held setting over loads around q. */
static bool freeze(struct run *r, double q)
{
	struct bo_pred pr;

	for (size_t k = 0; k < DRIFT_GRID; k++) {
		double lq = log(q) - DRIFT_SPAN +
			    2 * DRIFT_SPAN * (double)k / (DRIFT_GRID - 1);

		if (!predict_cur(r, exp(lq), &pr))
			return false;
		r->frz_cmean[k] = pr.cmean;
		r->frz_csd[k] = pr.csd;
	}
	r->frz_lq = log(q);
	r->frz_ok = true;
	return true;
}

/*
 * Drift: the held setting's SLA metric wanders off what it was when the
 * hold began (service time, a neighbour), at the load it serves. A
 * two-sided CUSUM of its residuals against the model as it was when the
 * hold began (frozen: the live model learns from the hold's own windows
 * and would move under the reference), less their mean over the hold's
 * first DRIFT_REF_N windows: the model's own bias at this setting (a GP
 * smooths a jagged measured surface). Against the bare live model the
 * replayed memcached sweep, which has no drift, saw 39 drifts a day,
 * each forgetting the model and re-exploring a known load. The
 * residuals' spread in those windows, when wider than the window noise,
 * scales the CUSUM: near a capacity edge the measured p99 climbs with
 * load far faster than the smooth model says (20% for 2% more load on
 * that sweep), and that misfit is not drift either. Windows with the
 * load outside the frozen range are left to the load trigger. Past
 * DRIFT_H the model forgets all but the last DRIFT_KEEP_S of
 * observations.
 */
static bool drifted(struct run *r, const struct outcome *w,
		    const struct limits *l)
{
	struct bo_pred pr;
	double d, e, m, v;

	if (r->cur.stock || (!r->frz_ok && !freeze(r, r->q_ref)) ||
	    !frozen_at(r, w->r.qps, &pr.cmean, &pr.csd))
		return false;
	d = bo_cons(&r->pol, w->cons) - pr.cmean;
	if (r->bias_n < DRIFT_REF_N) {
		r->bias_sum += d;
		r->bias_ss += d * d;
		r->bias_n++;
		return false;
	}
	/* the residuals' own spread when it exceeds the window noise: the
	 * model's misfit as the load wanders is not drift either */
	m = r->bias_sum / r->bias_n;
	v = fmax(l->noise * l->noise,
		 (r->bias_ss - r->bias_n * m * m) / (r->bias_n - 1));
	e = (d - m) / sqrt(v * (1 + 1.0 / r->bias_n) + pr.csd * pr.csd);
	r->cusum_up = fmax(0, r->cusum_up + e - DRIFT_K);
	r->cusum_down = fmax(0, r->cusum_down - e - DRIFT_K);
	if (r->cusum_up < DRIFT_H && r->cusum_down < DRIFT_H)
		return false;
	pr_debug("run: drift at t=%gs qps %.0f (hold's %.0f): residual %.3g "
		 "against %.3g, cusum %.3g/%.3g\n",
		 r->t_s, w->r.qps, r->q_ref, d, m, r->cusum_up, r->cusum_down);
	while (r->model_from < r->nobs &&
	       r->obs[r->model_from].t_s < r->t_s - DRIFT_KEEP_S)
		r->model_from++;
	r->model_n = r->model_from;
	bo_free(r->bo);
	r->bo = NULL;
	r->drifts++;
	return true;
}

/* The load moved: persistently beyond qps_change, or a jump now. */
static const char *load_moved(struct run *r, double q, const struct limits *l)
{
	const struct policy *p = &r->pol;
	double dev = fabs(log(r->q_s / r->q_ref));
	struct bo_pred pr;

	if (p->qps_change <= 0 || !(r->q_ref > 0))
		return NULL;
	/*
	 * A jump beyond what the held setting is known to serve safely:
	 * the fallback from the next window on, and a decision at once.
	 */
	if (q > r->q_ref * (1 + p->qps_change) &&
	    (!predict_cur(r, q, &pr) || ucb_cons(&pr) > l->trial)) {
		r->q_s = q;
		r->cur = r->fallback;
		return "load";
	}
	r->far_windows = dev > log1p(p->qps_change) ? r->far_windows + 1 : 0;
	if (r->far_windows < LOAD_PERSIST)
		return NULL;
	/*
	 * The change has lasted: decide at the load of the windows that
	 * showed it, not at the smoothed signal, which still lags by a third
	 * of the step after LOAD_PERSIST windows (a decision at that load
	 * measured trials at the new load as if at another, and could not
	 * see its own safe seed: the same trial three times over).
	 */
	if (r->n_raw >= LOAD_PERSIST) {
		double sum = 0;

		for (int i = 0; i < LOAD_PERSIST; i++)
			sum += r->q_raw[i];
		r->q_s = sum / LOAD_PERSIST;
	}
	return "load";
}

/*
 * The model's best hold at the current load, if it beats the held
 * setting by IMPROVE_GAIN: a move, no trial (the guard watches it).
 */
static bool move_cheaper(struct run *r)
{
	struct plant_setting s;
	long h, g;

	if (r->cur.stock || predict_grid_near(r, hold_load(r, r->q_s), r->q_s))
		return false;
	h = best_hold(r, &r->lim);
	g = grid_index(&r->pol, &r->cur);
	if (h < 0 || g < 0 ||
	    r->gpred[h].mean >= r->gpred[g].mean * (1 - IMPROVE_GAIN))
		return false;
	s = grid_setting(&r->pol, h);
	if (!fresh(r, &s))
		return false;
	r->cur = s;
	r->moves++;
	drift_reset(r);
	return true;
}

/*
 * A step from the hold (safe local improvement). A search that stopped
 * early, or on a model that knew little, can hold a setting far from the
 * cheapest safe one; on the replayed sweeps a third of the seeds held a
 * setting dearer than stock for most of the day. Every STEP_S of a
 * steady hold (no window over the SLA since the last look), one trial
 * is spent on an unmeasured setting within TRUST of one measured safe at
 * this load, whose predicted SLA metric (the mean, as for expansion())
 * is inside the hold limit (a step is only worth a trial if its setting
 * could be held; with the trial limit the replays spent 0.2-0.3% more
 * of the day over the SLA) and whose optimistic objective beats the
 * hold's by converge_tol: the most promising of them. Then the model's
 * best hold is taken if it is now cheaper (move_cheaper). The trial is a
 * probe like any other (cut if over the SLA); its windows are exploring
 * windows; steps are counted apart from the triggers' trials. A measured
 * setting is not a candidate again, so the steps end where the model
 * sees nothing cheaper. 1 if a step was made, 0 if none was due, -1 to
 * stop.
 */
static int improve(struct run *r)
{
	const struct policy *p = &r->pol;
	struct plant_setting s, safe = r->cur;
	double best = INFINITY, here;
	unsigned int cuts;
	long arg = -1, cur;
	int ret;

	if (done(r) || r->cur.stock)
		return 0;
	/* nothing learnt and no load change since the last look found none */
	if (r->idle_q > 0 && r->nobs == r->idle_nobs &&
	    r->model_from == r->idle_from &&
	    fabs(log(r->q_s / r->idle_q)) < LOAD_CELL)
		return 0;
	if (predict_grid_near(r, hold_load(r, r->q_s), r->q_s))
		return 0;
	cur = grid_index(p, &r->cur);
	if (cur < 0 || !isfinite(r->gpred[cur].mean))
		return 0;
	here = r->gpred[cur].mean;
	for (size_t g = 0; g < grid_size(p); g++) {
		const struct bo_pred *pr = &r->gpred[g];

		if (r->gdist[g] > TRUST || r->gmeasured[g] ||
		    pr->cmean > r->lim.hold ||
		    pr->mean - BETA * pr->sd > here * (1 - p->converge_tol) ||
		    pr->mean - BETA * pr->sd >= best)
			continue;
		s = grid_setting(p, g);
		if (banned(r, &s, r->q_s))
			continue;
		best = pr->mean - BETA * pr->sd;
		arg = (long)g;
	}
	if (arg < 0) {
		r->idle_nobs = r->nobs;
		r->idle_from = r->model_from;
		r->idle_q = r->q_s;
		return 0;
	}
	s = grid_setting(p, arg);
	cuts = r->probe_cuts;
	ret = trial(r, NULL, &s, &safe);
	if (ret < 0)
		return -1;
	/* a step over the SLA found the model wrong here: no move on it */
	if (!ret && r->probe_cuts == cuts && r->last.sla_ok && move_cheaper(r))
		r->step_moves++;
	return 1;
}

/* Holds r->cur until a trigger; the trigger's cause, or NULL to stop. */
static const char *hold(struct run *r, int *fatal)
{
	double start = r->t_s, head[HEADROOM_WINDOWS], prev = NAN;
	double prev_q = NAN;
	double last_look = r->t_s, last_step = r->t_s;
	unsigned int viol = 0, n = 0;
	bool warned = false;
	const char *cause;
	struct limits l;
	struct outcome w;
	int ret;

	while (!done(r)) {
		ret = run_window(r, &r->cur, PH_HOLD, r->pol.window_s, &w);
		if (ret < 0) {
			*fatal = 1;
			return NULL;
		}
		if (ret) {
			prev = NAN;
			continue; /* keep holding the last safe setting */
		}
		observe(r, &r->cur, &w, true);
		note_noise(r, &prev, &prev_q, bo_cons(&r->pol, w.cons),
			   w.r.qps);
		l = limits(r);
		if (guard(r, &w, &l, &viol, &warned)) {
			/*
			 * A breach that came with a load jump: decide at the
			 * load now, not the smoothed one still catching up.
			 */
			if (r->pol.qps_change > 0 && w.r.qps > 0 &&
			    fabs(log(w.r.qps / r->q_s)) >
				    log1p(r->pol.qps_change))
				r->q_s = w.r.qps;
			return "guard";
		}
		cause = load_moved(r, w.r.qps, &l);
		if (cause)
			return cause;
		if (drifted(r, &w, &l))
			return "drift";
		if (r->pol.schedule_s > 0 &&
		    r->t_s - start >= r->pol.schedule_s)
			return "schedule";
		/*
		 * On the fallback for want of a safe setting, or the model
		 * (which learns from every window) now expects a cheaper safe
		 * hold here: look again.
		 */
		if (r->t_s - last_look >= RETRY_S) {
			last_look = r->t_s;
			if (r->cur.stock)
				return "retry";
			if (move_cheaper(r)) {
				viol = n = 0;
				prev = NAN;
			}
		}
		if (r->t_s - last_step >= STEP_S && !viol) {
			last_step = r->t_s;
			ret = improve(r);
			if (ret < 0) {
				*fatal = 1;
				return NULL;
			}
			if (ret) {
				n = 0;
				prev = NAN;
			}
		}
		/* re-decide before the SLA breaks, not after */
		head[n++ % HEADROOM_WINDOWS] = bo_cons(&r->pol, w.cons);
		if (n >= HEADROOM_WINDOWS) {
			double sum = 0;

			for (int i = 0; i < HEADROOM_WINDOWS; i++)
				sum += head[i];
			if (sum / HEADROOM_WINDOWS >
			    l.hold + Z_HEADROOM * l.noise /
					     sqrt(HEADROOM_WINDOWS)) {
				n = 0;
				if (!r->cur.stock) {
					ban(r, &r->cur, w.r.qps);
					breach(r);
					return "headroom";
				}
			}
		}
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
	return kopt_json_num(v, "%.6g");
}

/* {NAME: value} of a setting's other knobs; NULL: none */
static struct json_object *knobs_json(const struct run *r,
				      const struct plant_setting *s)
{
	struct json_object *o;

	if (s->stock || !s->n_knobs)
		return NULL;
	o = json_object_new_object();
	for (unsigned int i = 0; i < s->n_knobs; i++)
		json_object_object_add(o, r->pol.knobs[i].name,
				       jnum(s->knobs[i]));
	return o;
}

static struct json_object *setting_json(const struct run *r,
					const struct plant_setting *s)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "stock", json_object_new_boolean(s->stock));
	json_object_object_add(o, "itr_us", s->stock ? NULL : jnum(s->itr_us));
	json_object_object_add(o, "freq_mhz",
			       s->stock ? NULL : jnum(s->freq_mhz));
	if (r->pol.n_knobs)
		json_object_object_add(o, "knobs", knobs_json(r, s));
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
		json_object_object_add(o, "chosen", setting_json(r, &lv->best));
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
	json_object_object_add(
		o, "first_error",
		r->failed ? json_object_new_string(r->first_error) : NULL);
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
	v = json_object_new_object();
	json_object_object_add(v, "exploration",
			       jnum(r->t_s > 0 ? r->over_s_explore / r->t_s :
						 0));
	json_object_object_add(v, "outside_exploration",
			       jnum(r->t_s > 0 ? r->over_s_other / r->t_s : 0));
	json_object_object_add(o, "time_over_sla", v);
	json_object_object_add(o, "moves", json_object_new_int(r->moves));
	v = json_object_new_object();
	json_object_object_add(v, "trials", json_object_new_int(r->steps));
	json_object_object_add(v, "moves", json_object_new_int(r->step_moves));
	json_object_object_add(o, "hold_steps", v);
	/* null until enough hold windows measured it */
	json_object_object_add(o, "load_wander_sd",
			       isfinite(load_wander(r)) ? jnum(load_wander(r)) :
							  NULL);
	/* the SLA metric's window noise it measured (sd; log us or ratio) */
	json_object_object_add(o, "sla_noise_sd",
			       r->noise_n ? jnum(sqrt(r->noise_ss)) : NULL);
	json_object_object_add(o, "probes_cut",
			       json_object_new_int(r->probe_cuts));
	json_object_object_add(o, "drifts", json_object_new_int(r->drifts));
	json_object_object_add(o, "guard_reverts",
			       json_object_new_int(r->guard_reverts));
	/* trials of a hold candidate after a breach (VERIFY_S) */
	json_object_object_add(o, "verify_trials",
			       json_object_new_int(r->verify_trials));
	/* holds of a measured setting safer than a breaking fallback */
	json_object_object_add(o, "rescues", json_object_new_int(r->rescues));
	json_object_object_add(o, "triggers", json_object_new_int(r->nlv));
	v = json_object_new_object();
	json_object_object_add(v, "max", json_object_new_int(max_trials));
	json_object_object_add(v, "mean", jnum(mean_trials));
	json_object_object_add(o, "trials_per_trigger", v);
	json_object_object_add(o, "levels", levels_json(r));
	return o;
}

struct json_object *ctl_status_json(const struct run *r)
{
	struct json_object *o = ctl_summary_json(r), *v;
	const struct level *lv = r->nlv ? &r->lv[r->nlv - 1] : NULL;
	unsigned int trials = 0;
	char why[256], set[64];

	for (size_t i = 0; i < r->nlv; i++)
		trials += r->lv[i].trials;
	json_object_object_add(o, "trials", json_object_new_int(trials));
	json_object_object_add(o, "phase",
			       json_object_new_string(phase_names[r->phase]));
	setting_str(r, &r->cur, set, sizeof(set));
	if (!lv)
		snprintf(why, sizeof(why),
			 "measuring the host as it is before the first "
			 "decision");
	else if (r->phase == PH_EXPLORE || r->phase == PH_STOCK)
		snprintf(why, sizeof(why),
			 "searching since t=%.0fs (trigger '%s' at %.0f qps): "
			 "%u trial(s) so far",
			 lv->t_s, lv->cause, lv->qps, lv->trials);
	else if (plant_setting_same(&r->cur, &r->fallback) &&
		 !plant_setting_same(&r->cur, &lv->best))
		snprintf(why, sizeof(why),
			 "the policy's fallback: the guard or a load jump "
			 "put it in place after the choice at t=%.0fs",
			 lv->t_s);
	else
		snprintf(why, sizeof(why),
			 "chosen at t=%.0fs on trigger '%s' at %.0f qps after "
			 "%u trial(s)%s",
			 lv->t_s, lv->cause, lv->qps, lv->trials,
			 lv->have_best ? "" : "; no trial met the aim");
	v = setting_json(r, &r->cur);
	json_object_object_add(v, "text", json_object_new_string(set));
	json_object_object_add(v, "why", json_object_new_string(why));
	json_object_object_add(o, "held", v);
	v = NULL;
	if (r->windows) {
		v = json_object_new_object();
		json_object_object_add(v, "sla_ok",
				       json_object_new_boolean(r->last.sla_ok));
		json_object_object_add(v, "p99_us", jnum(r->last.r.p99_us));
		json_object_object_add(v, "p50_us", jnum(r->last.r.p50_us));
		json_object_object_add(v, "qps", jnum(r->last.r.qps));
		json_object_object_add(v, "energy_j", jnum(r->last.r.energy_j));
		json_object_object_add(v, "seconds", jnum(r->last.r.seconds));
	}
	json_object_object_add(o, "last_window", v);
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

		setting_str(r, &lv->best, buf, sizeof(buf));
		fprintf(f, "  %7.0f  %-8s %10.0f  %6u  %s%s\n", lv->t_s,
			lv->cause, lv->qps, lv->trials, buf,
			lv->have_best ? "" : " (no trial met the aim)");
	}
}

void ctl_energy_str(double j, char *buf, size_t len)
{
	if (!isfinite(j))
		snprintf(buf, len, "-");
	else if (fabs(j) < 1e3)
		snprintf(buf, len, "%.3g J", j);
	else if (fabs(j) < 1e6)
		snprintf(buf, len, "%.3g kJ", j / 1e3);
	else
		snprintf(buf, len, "%.3g MJ (%.3g kWh)", j / 1e6, j / 3.6e6);
}

void ctl_print_summary(const struct run *r, FILE *f)
{
	unsigned int max_trials;
	double mean_trials, s_kopt = saving(r->energy_j, r->stock_j);
	char sla[64], e[3][48];

	policy_sla_str(&r->pol.sla, sla, sizeof(sla));
	level_stats(r, &max_trials, &mean_trials);
	ctl_energy_str(r->energy_j, e[0], sizeof(e[0]));
	ctl_energy_str(r->stock_j, e[1], sizeof(e[1]));
	ctl_energy_str(r->oracle_j, e[2], sizeof(e[2]));
	fprintf(f, "kopt run: policy %s (%s), plant %s %s\n", r->pol.name, sla,
		r->o.plant_name, label(r));
	fprintf(f, "  plant time        %.0f s in %u window%s (%u failed)\n",
		r->t_s, r->windows, r->windows == 1 ? "" : "s", r->failed);
	fprintf(f, "  energy            %s %s\n", e[0], label(r));
	if (have_all(r, r->n_stock))
		fprintf(f,
			"  stock policy      %s %s, from %s: kopt saved "
			"%.1f%%\n",
			e[1], label(r),
			r->stock_from_windows ? "stock windows" : "the plant",
			100 * s_kopt);
	if (have_all(r, r->n_oracle) && have_all(r, r->n_stock))
		fprintf(f,
			"  oracle            %s %s: saves %.1f%%; kopt got "
			"%.1f%% of that\n",
			e[2], label(r), 100 * saving(r->oracle_j, r->stock_j),
			100 * s_kopt / saving(r->oracle_j, r->stock_j));
	fprintf(f,
		"  SLA violations    %u windows: %u exploring, %u outside "
		"exploration; guard reverts %u (%u trials verified a hold "
		"after one); %u holds safer than the fallback\n",
		r->viol_explore + r->viol_other, r->viol_explore, r->viol_other,
		r->guard_reverts, r->verify_trials, r->rescues);
	fprintf(f,
		"  time over SLA     %.3f%% of plant time exploring, %.3f%% "
		"outside exploration; probes cut %u\n",
		r->t_s > 0 ? 100 * r->over_s_explore / r->t_s : 0,
		r->t_s > 0 ? 100 * r->over_s_other / r->t_s : 0, r->probe_cuts);
	fprintf(f,
		"  decisions         %u moves without a trial; drift seen %u "
		"times; %u steps from a hold (trials), %u of them moved it\n",
		r->moves, r->drifts, r->steps, r->step_moves);
	fprintf(f,
		"  triggers          %zu; trials per trigger max %u, mean "
		"%.1f\n",
		r->nlv, max_trials, mean_trials);
	print_levels(r, f);
}

/* ---- the learned table: export, warm start -------------------------------------- */

/*
 * What the controller learned, as a file another host can start from:
 * the observations the model uses (setting, load, objective, SLA metric,
 * trial or hold) and the noise measured, for the policy's objective and
 * SLA kind. Identical hosts under the same policy then know the loads in
 * it (a load seen before costs at most SEEN_TRIALS trials) instead of
 * exploring from nothing. Written atomically (a temporary file renamed);
 * read with every field checked, since it comes from another host.
 */
#define TABLE_FORMAT 1
#define TABLE_MAX_OBS 100000

static const char *sla_kind_name(const struct policy *p)
{
	return p->sla.kind == POLICY_SLA_THROUGHPUT ? "throughput" :
	       p->sla.pct == POLICY_P99		    ? "p99" :
						      "p50";
}

int ctl_table_save(const struct run *r, const char *path, char *err, size_t len)
{
	struct json_object *j = json_object_new_object(), *arr, *o;
	char tmp[PATH_MAX];
	size_t from = r->model_from;
	int ret = 0;
	FILE *f;

	if (!j)
		return -ENOMEM;
	json_object_object_add(j, "kopt_table",
			       json_object_new_int(TABLE_FORMAT));
	json_object_object_add(j, "policy",
			       json_object_new_string(r->pol.name));
	json_object_object_add(
		j, "objective",
		json_object_new_string(r->pol.objective == POLICY_OBJ_ENERGY ?
					       "energy" :
					       "energy_per_op"));
	json_object_object_add(j, "sla_kind",
			       json_object_new_string(sla_kind_name(&r->pol)));
	json_object_object_add(j, "source", json_object_new_string(label(r)));
	json_object_object_add(j, "noise_ss", jnum(r->noise_ss));
	json_object_object_add(j, "noise_n", json_object_new_int(r->noise_n));
	arr = json_object_new_array();
	json_object_object_add(j, "observations", arr);
	if (r->nobs - from > MODEL_MAX_OBS)
		from = r->nobs - MODEL_MAX_OBS;
	for (size_t i = from; i < r->nobs; i++) {
		const struct obs *b = &r->obs[i];

		o = json_object_new_object();
		json_object_object_add(o, "itr_us", jnum(b->s.itr_us));
		if (!r->pol.freq_fixed)
			json_object_object_add(o, "freq_mhz",
					       jnum(b->s.freq_mhz));
		if (r->pol.n_knobs)
			json_object_object_add(o, "knobs",
					       knobs_json(r, &b->s));
		json_object_object_add(o, "qps", jnum(b->qps));
		json_object_object_add(o, "obj", jnum(b->obj));
		json_object_object_add(o, "cons", jnum(b->cons));
		json_object_object_add(o, "hold",
				       json_object_new_boolean(b->hold));
		json_object_array_add(arr, o);
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	f = fopen(tmp, "wx");
	if (!f) {
		ret = -errno;
		snprintf(err, len, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fputs(json_object_to_json_string_ext(
			  j, JSON_C_TO_STRING_PRETTY |
				     JSON_C_TO_STRING_NOSLASHESCAPE),
		  f) < 0 ||
	    fputc('\n', f) < 0 || fflush(f) || fsync(fileno(f))) {
		ret = -errno;
		snprintf(err, len, "%s: %s", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		goto out;
	}
	if (fclose(f) || rename(tmp, path)) {
		ret = -errno;
		snprintf(err, len, "%s: %s", path, strerror(errno));
		unlink(tmp);
	}
out:
	json_object_put(j);
	return ret;
}

/* A finite number field of an observation; false (err set) if not. */
static bool table_num(struct json_object *o, const char *path, size_t i,
		      const char *key, double lo, double hi, double *v,
		      char *err, size_t len)
{
	struct json_object *f;

	if (!json_object_object_get_ex(o, key, &f) ||
	    (!json_object_is_type(f, json_type_double) &&
	     !json_object_is_type(f, json_type_int))) {
		snprintf(err, len,
			 "%s: observations[%zu].%s: missing or not a number",
			 path, i, key);
		return false;
	}
	*v = json_object_get_double(f);
	if (!isfinite(*v) || *v < lo || *v > hi) {
		snprintf(err, len,
			 "%s: observations[%zu].%s: %g is outside %g..%g", path,
			 i, key, *v, lo, hi);
		return false;
	}
	return true;
}

/*
 * An observation's other knobs: exactly the policy's, each one of its
 * values (anything else is a table for other knobs). 0, or -EINVAL.
 */
static int table_knobs(struct json_object *o, const char *path, size_t i,
		       const struct policy *p, struct plant_setting *s,
		       char *err, size_t len)
{
	struct json_object *k = NULL;

	s->n_knobs = p->n_knobs;
	if (!p->n_knobs && json_object_object_get_ex(o, "knobs", &k) && k) {
		snprintf(err, len,
			 "%s: observations[%zu].knobs: the policy declares "
			 "no knob beside ITR and frequency (a table for "
			 "other knobs)",
			 path, i);
		return -EINVAL;
	}
	if (!p->n_knobs)
		return 0;
	if (!json_object_object_get_ex(o, "knobs", &k) ||
	    !json_object_is_type(k, json_type_object) ||
	    json_object_object_length(k) != (int)p->n_knobs) {
		snprintf(err, len,
			 "%s: observations[%zu].knobs: missing, not an "
			 "object or not the policy's %u knobs",
			 path, i, p->n_knobs);
		return -EINVAL;
	}
	for (unsigned int n = 0; n < p->n_knobs; n++) {
		const struct policy_knob *kn = &p->knobs[n];
		bool found = false;

		if (!table_num(k, path, i, kn->name, kn->values[0],
			       kn->values[kn->n_values - 1], &s->knobs[n], err,
			       len))
			return -EINVAL;
		for (size_t v = 0; v < kn->n_values; v++)
			found |= kn->values[v] == s->knobs[n];
		if (!found) {
			snprintf(err, len,
				 "%s: observations[%zu].knobs.%s: %g is not "
				 "one of the policy's values",
				 path, i, kn->name, s->knobs[n]);
			return -EINVAL;
		}
	}
	return 0;
}

static bool table_str(struct json_object *j, const char *path, const char *key,
		      const char *want, char *err, size_t len)
{
	struct json_object *f;
	const char *v;

	if (!json_object_object_get_ex(j, key, &f) ||
	    !json_object_is_type(f, json_type_string)) {
		snprintf(err, len, "%s: %s: missing or not a string", path,
			 key);
		return false;
	}
	v = json_object_get_string(f);
	if (strcmp(v, want)) {
		snprintf(err, len,
			 "%s: %s is \"%.40s\" but this policy's is \"%s\": the "
			 "table measures something else",
			 path, key, v, want);
		return false;
	}
	return true;
}

int ctl_table_load(struct run *r, const char *path, char *err, size_t len)
{
	const struct policy *p = &r->pol;
	struct json_object *j, *f, *arr;
	struct obs *obs = NULL;
	size_t n = 0;
	int ret = -EINVAL;

	j = json_object_from_file(path);
	if (!j) {
		const char *why = json_util_get_last_err();

		/* json-c's message ends with a newline */
		snprintf(err, len, "%s: not a readable JSON file (%.*s)", path,
			 why ? (int)strcspn(why, "\n") : 0, why ? why : "");
		return -EINVAL;
	}
	if (!json_object_is_type(j, json_type_object) ||
	    !json_object_object_get_ex(j, "kopt_table", &f) ||
	    json_object_get_int(f) != TABLE_FORMAT) {
		snprintf(err, len,
			 "%s: kopt_table: missing or not format %d (written by "
			 "kopt run --save-table)",
			 path, TABLE_FORMAT);
		goto out;
	}
	if (!table_str(j, path, "objective",
		       p->objective == POLICY_OBJ_ENERGY ? "energy" :
							   "energy_per_op",
		       err, len) ||
	    !table_str(j, path, "sla_kind", sla_kind_name(p), err, len))
		goto out;
	if (!json_object_object_get_ex(j, "observations", &arr) ||
	    !json_object_is_type(arr, json_type_array) ||
	    json_object_array_length(arr) > TABLE_MAX_OBS) {
		snprintf(err, len,
			 "%s: observations: missing, not an array or over %d "
			 "entries",
			 path, TABLE_MAX_OBS);
		goto out;
	}
	n = json_object_array_length(arr);
	obs = calloc(n ? n : 1, sizeof(*obs));
	if (!obs) {
		ret = -ENOMEM;
		snprintf(err, len, "%s: out of memory", path);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i), *h;
		struct obs *b = &obs[i];
		double fmin = p->freq_fixed ? 0 : p->freqs_mhz[0];
		double fmax = p->freq_fixed ? 0 : p->freqs_mhz[p->n_freqs - 1];

		if (!json_object_is_type(o, json_type_object)) {
			snprintf(err, len,
				 "%s: observations[%zu]: not an object", path,
				 i);
			goto out;
		}
		/* outside the policy's knob ranges: a table for other knobs */
		if (!table_num(o, path, i, "itr_us", p->itr_min_us,
			       p->itr_max_us, &b->s.itr_us, err, len) ||
		    (!p->freq_fixed &&
		     !table_num(o, path, i, "freq_mhz", fmin, fmax,
				&b->s.freq_mhz, err, len)) ||
		    !table_num(o, path, i, "qps", 1e-9, 1e12, &b->qps, err,
			       len) ||
		    !table_num(o, path, i, "obj", 0, 1e12, &b->obj, err, len) ||
		    !table_num(o, path, i, "cons", -1e12, 1e12, &b->cons, err,
			       len))
			goto out;
		if (p->freq_fixed)
			b->s.freq_mhz = NAN;
		if (table_knobs(o, path, i, p, &b->s, err, len))
			goto out;
		if (!json_object_object_get_ex(o, "hold", &h) ||
		    !json_object_is_type(h, json_type_boolean)) {
			snprintf(err, len,
				 "%s: observations[%zu].hold: missing or not "
				 "true/false",
				 path, i);
			goto out;
		}
		b->hold = json_object_get_boolean(h);
		b->t_s = r->t_s; /* as old as the run's start */
	}
	if (n) {
		struct obs *o = r->obs;

		if (r->nobs + n > r->cap_obs) {
			o = realloc(r->obs, (r->nobs + n) * sizeof(*o));
			if (!o) {
				ret = -ENOMEM;
				snprintf(err, len, "%s: out of memory", path);
				goto out;
			}
			r->obs = o;
			r->cap_obs = r->nobs + n;
		}
		memcpy(r->obs + r->nobs, obs, n * sizeof(*obs));
		r->nobs += n;
	}
	if (json_object_object_get_ex(j, "noise_ss", &f) &&
	    json_object_object_get_ex(j, "noise_n", &arr) &&
	    isfinite(json_object_get_double(f)) &&
	    json_object_get_double(f) >= 0 && json_object_get_int(arr) > 0) {
		r->noise_ss = json_object_get_double(f);
		r->noise_n = (unsigned int)json_object_get_int(arr);
	}
	r->warm_obs = n;
	ret = 0;
out:
	free(obs);
	json_object_put(j);
	return ret;
}

/* ---- setup ------------------------------------------------------------------------ */

static enum plant_need need_of(const struct policy *p)
{
	if (p->sla.kind == POLICY_SLA_THROUGHPUT)
		return PLANT_NEED_THROUGHPUT;
	return p->sla.pct == POLICY_P99 ? PLANT_NEED_P99 : PLANT_NEED_P50;
}

struct plant_setting ctl_fallback_setting(const struct policy *p)
{
	struct plant_setting s = {
		.stock = p->fallback_stock,
		.itr_us = p->fallback_itr_us,
		.freq_mhz = p->fallback_freq_mhz,
		.n_knobs = p->fallback_stock ? 0 : p->n_knobs,
	};

	for (unsigned int i = 0; i < s.n_knobs; i++)
		s.knobs[i] = p->knobs[i].fallback;
	return s;
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
	r->fallback = ctl_fallback_setting(&r->pol);
	if (plant && r->pol.n_knobs) {
		const char *names[POLICY_MAX_KNOBS];

		for (unsigned int i = 0; i < r->pol.n_knobs; i++)
			names[i] = r->pol.knobs[i].name;
		/* names a policy accepted are names a plant accepts */
		plant_set_knobs(plant, r->pol.n_knobs, names);
	}
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
	struct outcome w;
	int fatal = 0, ret;

	/* where the host is, and its load, before the first decision */
	do {
		ret = run_window(r, &r->cur, PH_MEASURE, r->pol.window_s, &w);
		if (ret < 0)
			return KOPT_EXIT_FAIL;
	} while (ret && !done(r));
	while (!done(r)) {
		if (decide(r, cause))
			return KOPT_EXIT_FAIL;
		cause = hold(r, &fatal);
		if (fatal)
			return KOPT_EXIT_FAIL;
		/*
		 * The guard or a load jump put the fallback in place: it runs
		 * for a window (and measures the load) before any trial.
		 */
		if (cause && plant_setting_same(&r->cur, &r->fallback) &&
		    run_window(r, &r->cur, PH_MEASURE, r->pol.window_s, &w) < 0)
			return KOPT_EXIT_FAIL;
	}
	return KOPT_EXIT_OK;
}

void ctl_free(struct run *r)
{
	if (!r)
		return;
	bo_free(r->bo);
	free(r->obs);
	free(r->gx);
	free(r->gpred);
	free(r->gdist);
	free(r->gmeasured);
	free(r->lv);
	free(r->bans);
	free(r);
}
