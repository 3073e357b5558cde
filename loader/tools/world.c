// SPDX-License-Identifier: GPL-2.0-only
/*
 * The world of the lab plants (world.h): true conditions as a function
 * of plant time and a seed.
 *
 * Every random choice but the wander is a hash of (seed, what, day,
 * index), so any moment can be looked at in any order and the same seed
 * gives the same day to every run, whatever its windows: the controller,
 * the static profile and random search meet the same flash crowds at the
 * same minutes. Per day:
 *   ramps      start uniform in the day; the load goes x(1 + size)
 *              linearly over rise_s, holds hold_s, returns over rise_s
 *   flashes    start uniform in the day; x(1 + size) within
 *              flash_rise_s, for the drawn duration, then back
 *   neighbours start uniform in the day; within NEIGHBOUR_ONSET_S the
 *              power gains neighbour_w and the service time
 *              x(1 + neighbour_slowdown), for the drawn duration
 * Drift: a new service-time target, uniform in 1 +- drift_size, every
 * drift_period_s (the first is 1 at t = 0), reached along a half cosine.
 * Wander: log load follows an Ornstein-Uhlenbeck process of stationary
 * sd wander_sd and correlation time wander_tau_s, sampled every
 * WORLD_WANDER_STEP_S and interpolated; it is the one sequential draw,
 * kept in an array grown on demand so that it too is a function of time.
 *
 * Cost: a moment costs a few hashes per event of the day; a window
 * averages one moment per second of it (at most WINDOW_SAMPLES).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "world.h"

#define HOUR_S 3600.0
#define NEIGHBOUR_ONSET_S 30.0
#define WINDOW_SAMPLES 600
/* what each hash draws for, so draws of different things never coincide */
enum draw_tag {
	TAG_RAMP = 1,
	TAG_FLASH,
	TAG_NEIGHBOUR,
	TAG_DRIFT,
	TAG_WANDER,
};

/* A uniform draw in (0, 1) that is a pure function of its arguments. */
static double hash_u(uint64_t seed, uint64_t tag, uint64_t day, uint64_t j,
		     uint64_t k)
{
	uint64_t z = lab_mix64(seed + 0x9e3779b97f4a7c15ULL * (tag + 1));

	z = lab_mix64(z ^ (day + 0x632be59bd9b4e019ULL));
	z = lab_mix64(z ^ (j * 0x8cb92ba72f3d8dd7ULL + k));
	return ((z >> 11) + 0.5) * 0x1.0p-53;
}

static double lerp_range(const double r[2], double u)
{
	return r[0] + (r[1] - r[0]) * u;
}

int world_init(struct world *w, const struct world_spec *spec, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->spec = *spec;
	w->seed = seed;
	w->wander_rng = lab_mix64(seed ^ 0x57414e444552ULL);
	return 0;
}

void world_fini(struct world *w)
{
	free(w->wander);
	w->wander = NULL;
	w->n_wander = w->cap_wander = 0;
}

/* ---- the base schedule -------------------------------------------------------- */

static double base_at(const struct world_spec *s, double t)
{
	double day = fmod(t, WORLD_DAY_S), hour, frac;
	long k;
	int h;

	if (day < 0)
		day += WORLD_DAY_S;
	switch (s->base) {
	case WORLD_BASE_FIXED:
		return s->fixed_qps;
	case WORLD_BASE_STEPS:
		k = (long)floor(t / s->step_s);
		k %= (long)s->n_levels;
		return s->levels[k < 0 ? k + (long)s->n_levels : k];
	case WORLD_BASE_CURVE:
		break;
	}
	hour = day / HOUR_S;
	h = (int)hour % WORLD_HOURS;
	frac = hour - floor(hour);
	/* a trace is smooth at the minute scale: interpolate the hours */
	return s->peak_qps * (s->curve[h] * (1 - frac) +
			      s->curve[(h + 1) % WORLD_HOURS] * frac);
}

double world_base_peak(const struct world_spec *s)
{
	double peak = 0;

	switch (s->base) {
	case WORLD_BASE_FIXED:
		peak = s->fixed_qps;
		break;
	case WORLD_BASE_STEPS:
		for (size_t i = 0; i < s->n_levels; i++)
			peak = fmax(peak, s->levels[i]);
		break;
	case WORLD_BASE_CURVE:
		for (int h = 0; h < WORLD_HOURS; h++)
			peak = fmax(peak, s->peak_qps * s->curve[h]);
		break;
	}
	if (s->max_qps > 0)
		peak = fmin(peak, s->max_qps);
	return peak;
}

/* ---- events ------------------------------------------------------------------- */

/* 0 before start, 1 from start + rise to end - rise, linear in between. */
static double trapezoid(double t, double start, double rise, double end)
{
	double up, down;

	if (t <= start || t >= end)
		return 0;
	up = rise > 0 ? (t - start) / rise : 1;
	down = rise > 0 ? (end - t) / rise : 1;
	return fmin(1, fmin(up, down));
}

struct event {
	double start, rise, end, size;
};

/* Event j of day `day` of a kind, drawn from the seed alone. */
static void draw_event(const struct world *w, enum draw_tag tag,
		       const struct world_events *ev, long day, unsigned int j,
		       struct event *e)
{
	double u0 = hash_u(w->seed, tag, day, j, 0);
	double u1 = hash_u(w->seed, tag, day, j, 1);
	double u2 = hash_u(w->seed, tag, day, j, 2);
	double u3 = hash_u(w->seed, tag, day, j, 3);
	double len = lerp_range(ev->rise_s, u2);

	e->start = day * WORLD_DAY_S + u0 * WORLD_DAY_S;
	e->size = lerp_range(ev->size, u1);
	switch (tag) {
	case TAG_RAMP:
		e->rise = len;
		e->end = e->start + 2 * len + lerp_range(ev->hold_s, u3);
		break;
	case TAG_FLASH:
		e->rise = w->spec.flash_rise_s;
		e->end = e->start + len;
		break;
	default:
		e->rise = NEIGHBOUR_ONSET_S;
		e->end = e->start + len;
		break;
	}
}

/*
 * The events of one kind at t: the product of (1 + size x shape) for
 * load events, the sum of shapes for neighbours. Events last at most a
 * day (scenario.c checks), so today's and yesterday's cover t.
 */
static double events_at(const struct world *w, enum draw_tag tag,
			const struct world_events *ev, double t, bool product)
{
	long day = (long)floor(t / WORLD_DAY_S);
	double acc = product ? 1 : 0;
	struct event e;

	for (long d = day - 1; d <= day; d++) {
		for (unsigned int j = 0; j < ev->per_day; j++) {
			double x;

			draw_event(w, tag, ev, d, j, &e);
			x = trapezoid(t, e.start, e.rise, e.end);
			if (product)
				acc *= 1 + e.size * x;
			else
				acc += x;
		}
	}
	return acc;
}

static double drift_knot(const struct world *w, long k)
{
	if (k <= 0)
		return 1;
	return 1 + w->spec.drift_size *
			   (2 * hash_u(w->seed, TAG_DRIFT, 0, k, 0) - 1);
}

static double drift_at(const struct world *w, double t)
{
	double period = w->spec.drift_period_s, x, a, b;
	long k;

	if (period <= 0 || w->spec.drift_size <= 0)
		return 1;
	x = t / period;
	k = (long)floor(x);
	a = drift_knot(w, k);
	b = drift_knot(w, k + 1);
	return a + (b - a) * (1 - cos(M_PI * (x - k))) / 2;
}

/* ---- wander ------------------------------------------------------------------- */

static int grow_wander(struct world *w, size_t need)
{
	double sd = w->spec.wander_sd;
	double a = exp(-WORLD_WANDER_STEP_S / w->spec.wander_tau_s);
	double step_sd = sd * sqrt(1 - a * a);

	if (need > w->cap_wander) {
		size_t cap = w->cap_wander ? w->cap_wander : 8640;
		double *p;

		while (cap < need)
			cap *= 2;
		p = realloc(w->wander, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		w->wander = p;
		w->cap_wander = cap;
	}
	while (w->n_wander < need) {
		size_t i = w->n_wander++;

		w->wander[i] =
			i ? a * w->wander[i - 1] +
					step_sd * lab_gauss(&w->wander_rng) :
			    sd * lab_gauss(&w->wander_rng);
	}
	return 0;
}

static double wander_at(struct world *w, double t)
{
	double x = fmax(t, 0) / WORLD_WANDER_STEP_S, frac;
	size_t i = (size_t)floor(x);

	if (w->spec.wander_sd <= 0 || w->spec.wander_tau_s <= 0)
		return 0;
	/* out of memory: no wander rather than a crash (said nowhere else) */
	if (grow_wander(w, i + 2))
		return 0;
	frac = x - i;
	return w->wander[i] * (1 - frac) + w->wander[i + 1] * frac;
}

/* ---- conditions --------------------------------------------------------------- */

static double clamp_load(const struct world_spec *s, double q)
{
	if (s->max_qps > 0 && q > s->max_qps)
		q = s->max_qps;
	if (s->min_qps > 0 && q < s->min_qps)
		q = s->min_qps;
	return q;
}

void world_at(struct world *w, double t, struct world_cond *c)
{
	const struct world_spec *s = &w->spec;
	double ramps = events_at(w, TAG_RAMP, &s->ramps, t, true);
	double flash = events_at(w, TAG_FLASH, &s->flashes, t, true);
	double neigh =
		fmin(1, events_at(w, TAG_NEIGHBOUR, &s->neighbours, t, false));
	double base = base_at(s, t) * ramps * flash;

	c->base_qps = clamp_load(s, base);
	c->qps = clamp_load(s, base * exp(wander_at(w, t)));
	c->flash = flash - 1;
	c->drift = drift_at(w, t);
	c->neighbour = neigh;
	c->svc_scale = c->drift * (1 + s->neighbour_slowdown * neigh);
	c->extra_w = s->neighbour_w * neigh;
}

void world_window(struct world *w, double t, double seconds,
		  struct world_cond *c)
{
	int n = (int)ceil(seconds);
	struct world_cond m;

	if (n < 1)
		n = 1;
	if (n > WINDOW_SAMPLES)
		n = WINDOW_SAMPLES;
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < n; i++) {
		world_at(w, t + (i + 0.5) * seconds / n, &m);
		c->qps += m.qps / n;
		c->base_qps += m.base_qps / n;
		c->drift += m.drift / n;
		c->svc_scale += m.svc_scale / n;
		c->extra_w += m.extra_w / n;
		c->neighbour += m.neighbour / n;
		c->flash += m.flash / n;
	}
}

static bool moved(double now, double ref, double change)
{
	return fabs(log(now / ref)) > log1p(change);
}

unsigned int world_changes(struct world *w, double t0, double t1, double step_s,
			   double change, double settle_s)
{
	struct world_cond ref, now;
	unsigned int n = 0;
	double t = t0 + step_s;

	world_at(w, t0, &ref);
	while (t < t1) {
		world_at(w, t, &now);
		if (!moved(now.base_qps, ref.base_qps, change) &&
		    !moved(now.svc_scale, ref.svc_scale, change) &&
		    (now.neighbour > 0.5) == (ref.neighbour > 0.5)) {
			t += step_s;
			continue;
		}
		/* one move: read where it settles, look again from there */
		n++;
		t = fmin(t + settle_s, t1);
		world_at(w, t, &ref);
		t += step_s;
	}
	return n;
}
