// SPDX-License-Identifier: GPL-2.0-only
/*
 * The `replay` plant: a measured ITR x DVFS sweep played back, so the
 * controller can be judged on real servers' figures (policies/data/,
 * where README.md says where each table was measured, by whom, on what).
 *
 *   knobs    a request is snapped to the measured grid: the nearest
 *            measured ITR and the nearest measured frequency (linear
 *            distance, ties to the lower); stock requests replay the
 *            table's stock rows (adaptive ITR, the stock governor).
 *   load     the world (world.h) sets each window's offered load: by
 *            default the table's rates up and down, 4 hours each; a
 *            scenario may add wander and flash crowds. Loads between
 *            two measured rates are INTERPOLATED linearly (power, p99,
 *            p50, their spreads, and throughput as a share of the
 *            offered rate); the load is clamped to the measured rates,
 *            since a replay cannot invent a measurement past them.
 *   gaps     a grid cell never measured at a rate is answered by the
 *            nearest measured ITR at the same frequency and rate.
 *   noise    each window draws from the cell's own repeat spread (wsd,
 *            p99sd_ms); where a table gives none for a cell, the table's
 *            median relative spread. The offered-load measurement and
 *            the throughput get the setup's qps_sd and throughput_sd
 *            (the tables carry no spread of either). Seven draws per
 *            window, stock and oracle figures with their own.
 *   oracle   per window: the cheapest measured cell meeting the SLA at
 *            the window's load (interpolated like any other); stock: the
 *            stock rows at that load.
 *
 * Every figure is a measured one, replayed: replies say "source":
 * "replay", and reports label them "replayed-measured" with the table's
 * credit.
 *
 * Cost: loading parses a few hundred rows; a window interpolates one
 * cell, the stock row and, for the oracle, every cell (a few hundred).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "plant_replay.h"

#define GHZ_TO_MHZ 1000.0
#define MS_TO_US 1000.0
#define REPLAY_STEP_S (4 * 3600.0)

/* ---- the table ---------------------------------------------------------------- */

struct row_ctx {
	const char *path;
	size_t idx;
	char *err;
	size_t errlen;
};

static int row_err(const struct row_ctx *rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int row_err(const struct row_ctx *rc, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(rc->err, rc->errlen, "%s: row %zu: %s", rc->path, rc->idx,
		 msg);
	return -1;
}

/*
 * A number field: required (absent or null is an error), or optional
 * (NAN when absent or null). Finite and >= 0 always.
 */
static int row_num(const struct row_ctx *rc, struct json_object *row,
		   const char *key, bool required, double *out)
{
	struct json_object *v = NULL;

	*out = NAN;
	if (!json_object_object_get_ex(row, key, &v) || !v) {
		if (required)
			return row_err(rc, "\"%s\" is missing or null", key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double))
		return row_err(rc, "\"%s\" is %s, expected a number", key,
			       json_type_to_name(json_object_get_type(v)));
	*out = json_object_get_double(v);
	if (!isfinite(*out) || *out < 0)
		return row_err(rc,
			       "\"%s\" is %g, expected a finite number >= 0",
			       key, *out);
	return 0;
}

/* Adds v to a sorted set of at most cap values; -1 when full. */
static int add_level(double *set, size_t *n, size_t cap, double v)
{
	size_t i = 0;

	while (i < *n && set[i] < v)
		i++;
	if (i < *n && set[i] == v)
		return 0;
	if (*n == cap)
		return -1;
	memmove(set + i + 1, set + i, (*n - i) * sizeof(*set));
	set[i] = v;
	(*n)++;
	return 0;
}

static size_t index_of(const double *set, size_t n, double v)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == v)
			return i;
	return n;
}

static struct replay_cell *cell(const struct replay_table *t, size_t ri,
				size_t fi, size_t ii)
{
	return &t->cell[(ri * t->n_freq + fi) * t->n_itr + ii];
}

struct raw_row {
	bool stock;
	double itr, ghz, rate;
	struct replay_cell c;
};

static int read_row(const struct row_ctx *rc, struct json_object *row,
		    enum replay_report report, struct raw_row *r)
{
	struct json_object *v = NULL;
	double p99_ms, p99sd_ms, p50_ms;

	if (!json_object_is_type(row, json_type_object))
		return row_err(rc, "not a JSON object");
	if (!json_object_object_get_ex(row, "policy", &v) ||
	    !json_object_is_type(v, json_type_string))
		return row_err(rc, "\"policy\" is missing or not a string");
	r->stock = strcmp(json_object_get_string(v), "userspace") != 0;
	if (row_num(rc, row, "itr", true, &r->itr) ||
	    row_num(rc, row, "ghz", !r->stock, &r->ghz) ||
	    row_num(rc, row, "rate", true, &r->rate) ||
	    row_num(rc, row, "w", true, &r->c.w) ||
	    row_num(rc, row, "wsd", false, &r->c.w_sd) ||
	    row_num(rc, row, "tput", true, &r->c.tput))
		return -1;
	if (r->rate <= 0 || r->c.w <= 0)
		return row_err(rc, "\"rate\" and \"w\" must be above 0");
	r->c.p99_us = r->c.p99_sd_us = r->c.p50_us = NAN;
	if (report == REPLAY_LATENCY) {
		if (row_num(rc, row, "p99_ms", true, &p99_ms) ||
		    row_num(rc, row, "p99sd_ms", false, &p99sd_ms) ||
		    row_num(rc, row, "lat_ms", false, &p50_ms))
			return -1;
		if (p99_ms <= 0)
			return row_err(rc, "\"p99_ms\" must be above 0");
		r->c.p99_us = p99_ms * MS_TO_US;
		r->c.p99_sd_us = p99sd_ms * MS_TO_US;
		r->c.p50_us = p50_ms * MS_TO_US;
	}
	r->c.present = true;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* First pass: the grid and the table's kind. */
static int read_grid(struct replay_table *t, struct json_object *arr,
		     struct raw_row *rows, char *err, size_t errlen)
{
	struct row_ctx rc = { t->path, 0, err, errlen };
	struct json_object *first = json_object_array_get_idx(arr, 0);

	t->report = json_object_is_type(first, json_type_object) &&
				    json_object_object_get_ex(first, "p99_ms",
							      NULL) ?
			    REPLAY_LATENCY :
			    REPLAY_THROUGHPUT;
	for (size_t i = 0; i < t->rows; i++) {
		struct raw_row *r = &rows[i];

		rc.idx = i;
		if (read_row(&rc, json_object_array_get_idx(arr, i), t->report,
			     r))
			return -1;
		if (r->stock)
			continue;
		if (add_level(t->itr_us, &t->n_itr, REPLAY_MAX_ITRS, r->itr) ||
		    add_level(t->freq_mhz, &t->n_freq, REPLAY_MAX_FREQS,
			      r->ghz * GHZ_TO_MHZ) ||
		    add_level(t->rate, &t->n_rate, REPLAY_MAX_RATES, r->rate))
			return row_err(&rc,
				       "more than %d ITRs, %d frequencies "
				       "or %d rates",
				       REPLAY_MAX_ITRS, REPLAY_MAX_FREQS,
				       REPLAY_MAX_RATES);
	}
	if (!t->n_rate) {
		snprintf(err, errlen,
			 "%s: no static rows (\"policy\": \"userspace\")",
			 t->path);
		return -1;
	}
	return 0;
}

/* Second pass: the cells and the stock rows, each at most once. */
static int place_rows(struct replay_table *t, const struct raw_row *rows,
		      char *err, size_t errlen)
{
	struct row_ctx rc = { t->path, 0, err, errlen };

	for (size_t i = 0; i < t->rows; i++) {
		const struct raw_row *r = &rows[i];
		size_t ri = index_of(t->rate, t->n_rate, r->rate);
		struct replay_cell *c;

		rc.idx = i;
		if (r->stock && ri == t->n_rate)
			continue; /* a stock row at a rate with no sweep */
		c = r->stock ? &t->stock[ri] :
			       cell(t, ri,
				    index_of(t->freq_mhz, t->n_freq,
					     r->ghz * GHZ_TO_MHZ),
				    index_of(t->itr_us, t->n_itr, r->itr));
		if (c->present)
			return row_err(&rc, "a second row for %s at rate %g",
				       r->stock ? "the stock policy" :
						  "this ITR and frequency",
				       r->rate);
		*c = r->c;
	}
	for (size_t ri = 0; ri < t->n_rate; ri++)
		if (!t->stock[ri].present) {
			snprintf(err, errlen,
				 "%s: no stock row at rate %g: the replay "
				 "needs the stock policy at every swept rate",
				 t->path, t->rate[ri]);
			return -1;
		}
	return 0;
}

/* The median relative spreads, for the cells measured once. */
static void spreads(struct replay_table *t, const struct raw_row *rows)
{
	double *w = malloc(t->rows * sizeof(*w)),
	       *l = malloc(t->rows * sizeof(*l));
	size_t nw = 0, nl = 0;

	if (w && l) {
		for (size_t i = 0; i < t->rows; i++) {
			if (isfinite(rows[i].c.w_sd))
				w[nw++] = rows[i].c.w_sd / rows[i].c.w;
			if (isfinite(rows[i].c.p99_sd_us))
				l[nl++] =
					rows[i].c.p99_sd_us / rows[i].c.p99_us;
		}
	}
	t->w_cv = median(w, nw);
	t->p99_cv = median(l, nl);
	free(w);
	free(l);
}

int replay_table_load(const char *path, struct replay_table *t, char *err,
		      size_t errlen)
{
	struct json_object *arr;
	struct raw_row *rows = NULL;
	int ret = -1;
	bool oom = false;

	memset(t, 0, sizeof(*t));
	snprintf(t->path, sizeof(t->path), "%s", path);
	arr = json_object_from_file(path);
	if (!arr) {
		snprintf(err, errlen, "%s: cannot read it as JSON: %s", path,
			 json_util_get_last_err());
		return -1;
	}
	if (!json_object_is_type(arr, json_type_array) ||
	    !json_object_array_length(arr)) {
		snprintf(err, errlen, "%s: not a non-empty JSON list of rows",
			 path);
		goto out;
	}
	t->rows = json_object_array_length(arr);
	rows = calloc(t->rows, sizeof(*rows));
	oom = !rows;
	if (oom || read_grid(t, arr, rows, err, errlen))
		goto out;
	t->cell = calloc(t->n_rate * t->n_freq * t->n_itr, sizeof(*t->cell));
	oom = !t->cell;
	if (oom || place_rows(t, rows, err, errlen))
		goto out;
	for (size_t i = 0; i < t->n_rate * t->n_freq * t->n_itr; i++)
		t->missing += !t->cell[i].present;
	spreads(t, rows);
	ret = 0;
out:
	if (oom)
		snprintf(err, errlen, "%s: out of memory", path);
	if (ret)
		replay_table_free(t);
	free(rows);
	json_object_put(arr);
	return ret;
}

void replay_table_free(struct replay_table *t)
{
	free(t->cell);
	t->cell = NULL;
}

/* ---- looking things up ---------------------------------------------------------- */

static size_t nearest(const double *set, size_t n, double v)
{
	size_t best = 0;

	for (size_t i = 1; i < n; i++)
		if (fabs(set[i] - v) < fabs(set[best] - v))
			best = i;
	return best;
}

size_t replay_snap_itr(const struct replay_table *t, double itr_us)
{
	return nearest(t->itr_us, t->n_itr, itr_us);
}

size_t replay_snap_freq(const struct replay_table *t, double freq_mhz)
{
	return nearest(t->freq_mhz, t->n_freq, freq_mhz);
}

/* The cell, or the nearest measured ITR at its frequency and rate. */
static const struct replay_cell *measured(const struct replay_table *t,
					  size_t ri, size_t fi, size_t ii)
{
	const struct replay_cell *best = NULL;
	double best_d = INFINITY;

	for (size_t k = 0; k < t->n_itr; k++) {
		double d = fabs(t->itr_us[k] - t->itr_us[ii]);

		if (cell(t, ri, fi, k)->present && d < best_d) {
			best = cell(t, ri, fi, k);
			best_d = d;
		}
	}
	/* a frequency never measured at this rate: its nearest that was */
	for (size_t f = 0; !best && f < t->n_freq; f++)
		for (size_t k = 0; k < t->n_itr; k++)
			if (cell(t, ri, f, k)->present)
				return cell(t, ri, f, k);
	return best;
}

/* Rates bracketing qps and the weight of the upper one. */
static void bracket(const struct replay_table *t, double qps, size_t *lo,
		    double *a)
{
	size_t i = 0;

	if (t->n_rate == 1 || qps <= t->rate[0]) {
		*lo = 0;
		*a = 0;
		return;
	}
	if (qps >= t->rate[t->n_rate - 1]) {
		*lo = t->n_rate - 2;
		*a = 1;
		return;
	}
	while (t->rate[i + 1] < qps)
		i++;
	*lo = i;
	*a = (qps - t->rate[i]) / (t->rate[i + 1] - t->rate[i]);
}

static double lerp(double x, double y, double a)
{
	return x + (y - x) * a;
}

static void interpolate(const struct replay_table *t,
			const struct replay_cell *c0, double r0,
			const struct replay_cell *c1, double r1, double a,
			double qps, struct replay_point *o)
{
	double sd0 = isfinite(c0->w_sd) ? c0->w_sd : t->w_cv * c0->w;
	double sd1 = isfinite(c1->w_sd) ? c1->w_sd : t->w_cv * c1->w;
	double l0 = isfinite(c0->p99_sd_us) ? c0->p99_sd_us :
					      t->p99_cv * c0->p99_us;
	double l1 = isfinite(c1->p99_sd_us) ? c1->p99_sd_us :
					      t->p99_cv * c1->p99_us;

	o->w = lerp(c0->w, c1->w, a);
	o->w_sd = lerp(sd0, sd1, a);
	o->p99_us = lerp(c0->p99_us, c1->p99_us, a);
	o->p99_sd_us = lerp(l0, l1, a);
	o->p50_us = lerp(c0->p50_us, c1->p50_us, a);
	o->tput = lerp(c0->tput / r0, c1->tput / r1, a) * qps;
}

void replay_eval(const struct replay_table *t, double qps, size_t fi, size_t ii,
		 struct replay_point *out)
{
	size_t lo, hi;
	double a;

	bracket(t, qps, &lo, &a);
	hi = t->n_rate > 1 ? lo + 1 : lo;
	interpolate(t, measured(t, lo, fi, ii), t->rate[lo],
		    measured(t, hi, fi, ii), t->rate[hi], a, qps, out);
	out->itr_us = t->itr_us[ii];
	out->freq_mhz = t->freq_mhz[fi];
}

void replay_eval_stock(const struct replay_table *t, double qps,
		       struct replay_point *out)
{
	size_t lo, hi;
	double a;

	bracket(t, qps, &lo, &a);
	hi = t->n_rate > 1 ? lo + 1 : lo;
	interpolate(t, &t->stock[lo], t->rate[lo], &t->stock[hi], t->rate[hi],
		    a, qps, out);
	out->itr_us = out->freq_mhz = NAN;
}

bool replay_meets(const struct replay_table *t, const struct sim_sla *sla,
		  double qps, const struct replay_point *pt)
{
	switch (sla->kind) {
	case SIM_SLA_NONE:
		return true;
	case SIM_SLA_P50:
		return pt->p50_us < sla->bound;
	case SIM_SLA_P99:
		return pt->p99_us < sla->bound;
	case SIM_SLA_RATIO:
		return qps <= 0 || pt->tput >= sla->bound * qps;
	}
	return false;
}

int replay_oracle(const struct replay_table *t, double qps,
		  const struct sim_sla *sla, struct replay_point *best)
{
	struct replay_point pt;
	bool found = false;

	for (size_t fi = 0; fi < t->n_freq; fi++) {
		for (size_t ii = 0; ii < t->n_itr; ii++) {
			replay_eval(t, qps, fi, ii, &pt);
			if (!replay_meets(t, sla, qps, &pt) ||
			    (found && pt.w >= best->w))
				continue;
			*best = pt;
			found = true;
		}
	}
	return found ? 0 : -ENOENT;
}

void replay_world_of(const struct replay_table *t, struct world_spec *w)
{
	memset(w, 0, sizeof(*w));
	w->base = WORLD_BASE_STEPS;
	w->step_s = REPLAY_STEP_S;
	for (size_t i = 0; i < t->n_rate; i++)
		w->levels[w->n_levels++] = t->rate[i];
	for (size_t i = t->n_rate - 1; i-- > 1;)
		w->levels[w->n_levels++] = t->rate[i];
	w->min_qps = t->rate[0];
	w->max_qps = t->rate[t->n_rate - 1];
	w->flash_rise_s = 60;
}

/* ---- a running replay ------------------------------------------------------------ */

int replay_init(struct replay *r, const struct replay_table *t,
		const struct replay_setup *o, char *err, size_t errlen)
{
	struct world_spec ws;

	memset(r, 0, sizeof(*r));
	r->t = t;
	if (o->world)
		ws = *o->world;
	else
		replay_world_of(t, &ws);
	/* whatever the scenario says, nothing past the measured rates */
	ws.min_qps = t->rate[0];
	ws.max_qps = t->rate[t->n_rate - 1];
	for (size_t i = 0; ws.base == WORLD_BASE_STEPS && i < ws.n_levels;
	     i++) {
		if (ws.levels[i] < ws.min_qps || ws.levels[i] > ws.max_qps) {
			snprintf(err, errlen,
				 "load level %g is outside the rates %s "
				 "measured (%g..%g)",
				 ws.levels[i], t->path, ws.min_qps, ws.max_qps);
			return -EINVAL;
		}
	}
	if (o->sla)
		r->sla = *o->sla;
	r->qps_sd = o->qps_sd;
	r->throughput_sd = o->throughput_sd;
	r->rng = lab_mix64(o->seed ^ 0x5245504c4159ULL);
	r->t_s = o->start_s;
	return world_init(&r->world, &ws, o->seed);
}

void replay_fini(struct replay *r)
{
	world_fini(&r->world);
}

static double rel(double sd, double mean)
{
	return mean > 0 && isfinite(sd) ? sd / mean : 0;
}

int replay_window(struct replay *r, const struct lab_request *rq,
		  struct lab_window *w, char *err, size_t errlen)
{
	const struct replay_table *t = r->t;
	struct replay_point pt, stock, best;
	struct world_cond c;
	double e, l99, l50, q, tp, e_stock, e_oracle;
	int oracle_err = -ENOENT;

	if (!rq->stock && rq->n_knobs) {
		snprintf(err, errlen,
			 "knob %s: the measured sweep has no such knob (it "
			 "was measured over ITR and frequency only)",
			 rq->knob_names[0]);
		return -EINVAL;
	}
	if (!rq->stock && isnan(rq->freq_mhz)) {
		snprintf(err, errlen,
			 "itr_us and freq_mhz must both be set, or both null "
			 "(stock policy): the table was measured with pinned "
			 "frequencies");
		return -EINVAL;
	}
	world_window(&r->world, r->t_s, rq->seconds, &c);
	replay_eval_stock(t, c.qps, &stock);
	if (rq->stock)
		pt = stock;
	else
		replay_eval(t, c.qps, replay_snap_freq(t, rq->freq_mhz),
			    replay_snap_itr(t, rq->itr_us), &pt);
	if (r->sla.kind != SIM_SLA_NONE)
		oracle_err = replay_oracle(t, c.qps, &r->sla, &best);

	e = lab_noisy(&r->rng, rel(pt.w_sd, pt.w));
	l99 = lab_noisy(&r->rng, rel(pt.p99_sd_us, pt.p99_us));
	l50 = lab_noisy(&r->rng, rel(pt.p99_sd_us, pt.p99_us));
	q = lab_noisy(&r->rng, r->qps_sd);
	tp = lab_noisy(&r->rng, r->throughput_sd);
	e_stock = lab_noisy(&r->rng, rel(stock.w_sd, stock.w));
	e_oracle = lab_noisy(&r->rng, oracle_err ? 0 : rel(best.w_sd, best.w));

	memset(w, 0, sizeof(*w));
	w->seconds = rq->seconds;
	w->hour = fmod(r->t_s, WORLD_DAY_S) / 3600;
	w->offered_qps = c.qps;
	w->cond = c;
	w->energy_j = pt.w * rq->seconds * e;
	w->p99_us = pt.p99_us * l99;
	w->p50_us = fmin(pt.p50_us * l50, w->p99_us);
	w->qps = c.qps * q;
	w->throughput = pt.tput * tp;
	w->stock = rq->stock;
	w->itr_us = pt.itr_us;
	w->freq_mhz = pt.freq_mhz;
	w->power_w = pt.w;
	w->true_p50_us = pt.p50_us;
	w->true_p99_us = pt.p99_us;
	w->true_throughput = pt.tput;
	w->util = NAN;
	w->stock_w = stock.w;
	w->stock_energy_j = stock.w * rq->seconds * e_stock;
	w->oracle_ok = !oracle_err;
	w->oracle_w = w->oracle_energy_j = NAN;
	w->oracle_itr_us = w->oracle_freq_mhz = NAN;
	if (!oracle_err) {
		w->oracle_w = best.w;
		w->oracle_itr_us = best.itr_us;
		w->oracle_freq_mhz = best.freq_mhz;
		w->oracle_energy_j = best.w * rq->seconds * e_oracle;
	}
	r->t_s += rq->seconds;
	return 0;
}
