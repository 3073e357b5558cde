// SPDX-License-Identifier: GPL-2.0-only
/*
 * The controller as a library (loader/lib/ctl/controller.c): driven in
 * this process by a fake plant through plant_start_ops(), with no child
 * process, no CLI and no files. The fake plant is a smooth analytic
 * server (power falls with the interrupt delay and the frequency, p99
 * rises with the delay and falls with the frequency), so the best
 * setting under the SLA is known by brute force over the policy's grid.
 */
#define _GNU_SOURCE
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "controller.h"
#include "kopt.h"
#include "plant.h"
#include "policy.h"
#include "test.h"

struct fake {
	unsigned int windows; /* replies given */
	bool lie_at_10; /* reply garbage to the 10th window */
	/*
	 * A tail at one setting: the first (non-stock) setting served
	 * TRAP_AFTER windows in a row becomes the trap; from then on its
	 * windows break the SLA in bursts of 2 out of every 10 it serves,
	 * at a p99 the others' mean keeps under the bound.
	 */
	bool trap;
	struct plant_setting last, trapped;
	unsigned int run, trapped_served, trapped_after_revert;
	bool armed, reverted, last_bad;
	/* from this window on, the offered load is step_qps (default
	 * 115000; 0: never) */
	unsigned int step_at;
	int step_qps;
	bool load_matters; /* p99 and power grow with the load */
	/* the load wanders: x (1 + wander sin(2 pi window / WANDER_WINDOWS)) */
	double wander;
	/*
	 * A third knob (the policy's first [knob]): it saves power with
	 * diminishing returns and costs p99 quadratically, so its best value
	 * is inside its range; without it, a request carrying it fails.
	 */
	bool third;
	unsigned int with_knob; /* requests that carried it */
	struct plant_setting served; /* the last window's setting */
	/* every window's setting and power, for what was held when */
	unsigned int n_seen;
	double seen_power[4096];
	/*
	 * The world moves with no load change: from window slow_at on,
	 * every setting's p99 is (1 + slow) times what it was, stock's
	 * (1 + stock_slow) times. What the controller did after it: plant
	 * seconds over the bound, and of them at stock.
	 */
	unsigned int slow_at;
	double slow, stock_slow, bound;
	double after_s, after_over_s, after_stock_over_s, after_stock_s;
	/* after the load step, a short ITR's interrupts saturate the
	 * server: p99 + ushape / ITR (a U in ITR, as near capacity) */
	double ushape;
	/* p99 x exp(noise x a standard normal draw), the same draws in
	 * every run (rand_r from a fixed state) */
	double noise;
	unsigned int rng;
	/* settings served as trials (the probe part of a window), and
	 * full windows at a setting never served as one */
	struct plant_setting tried[512];
	unsigned int n_tried, untried_windows, late_windows;
};

/* A standard normal draw (Box-Muller) from fk's own generator. */
static double fake_gauss(struct fake *fk)
{
	double u = (rand_r(&fk->rng) + 1.0) / (RAND_MAX + 2.0);
	double v = (rand_r(&fk->rng) + 1.0) / (RAND_MAX + 2.0);

	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

#define TRAP_AFTER 5
#define WANDER_WINDOWS 12

static double third_power(double k)
{
	return -8 * k / (k + 1);
}

static double third_p99(double k)
{
	return 3 * k * k;
}

static double fake_power(double itr, double mhz)
{
	double f = mhz / 2900;

	return 40 + 30 * f * f + 200 / (itr + 10);
}

static double fake_p99(double itr, double mhz)
{
	return 50 + 0.9 * itr + 100 * 2900 / mhz;
}

static bool same(const struct plant_setting *a, const struct plant_setting *b)
{
	return a->stock == b->stock &&
	       (a->stock ||
		(a->itr_us == b->itr_us && a->freq_mhz == b->freq_mhz));
}

/* s was served as a trial; with add, record that it is now. */
static bool fake_tried(struct fake *fk, const struct plant_setting *s, bool add)
{
	for (unsigned int i = 0; i < fk->n_tried; i++)
		if (same(s, &fk->tried[i]))
			return true;
	if (add && fk->n_tried < sizeof(fk->tried) / sizeof(fk->tried[0]))
		fk->tried[fk->n_tried++] = *s;
	return false;
}

/* p99 at s with the trap (struct fake) armed; p99: the smooth figure */
static double trap_p99(struct fake *fk, const struct plant_setting *s,
		       double p99)
{
	unsigned int n;

	fk->run = same(s, &fk->last) ? fk->run + 1 : 1;
	fk->last = *s;
	if (!fk->armed && !s->stock && fk->run >= TRAP_AFTER) {
		fk->armed = true;
		fk->trapped = *s;
	}
	if (!fk->armed || !same(s, &fk->trapped)) {
		/* the guard left the trap after a burst window */
		if (fk->armed && fk->last_bad)
			fk->reverted = true;
		fk->last_bad = false;
		return p99;
	}
	if (fk->reverted)
		fk->trapped_after_revert++;
	/* a burst of 2 in every 10 windows, 60% over the bound */
	n = fk->trapped_served++ % 10;
	fk->last_bad = n == 3 || n == 4;
	return fk->last_bad ? 800 : p99;
}

static int fake_reply(void *ctx, const struct plant_setting *s, double seconds,
		      char *line, size_t cap, char *err, size_t errlen)
{
	double itr = s->stock ? 50 : s->itr_us;
	double mhz = s->stock ? 2900 : s->freq_mhz;
	struct fake *fk = ctx;

	double p99 = fake_p99(itr, mhz);
	int qps = fk->step_at && fk->windows + 1 >= fk->step_at ?
			  (fk->step_qps ? fk->step_qps : 115000) :
			  100000;
	double scale;

	if (fk->wander)
		qps = (int)(qps * (1 + fk->wander * sin(2 * M_PI * fk->windows /
							WANDER_WINDOWS)));
	scale = fk->load_matters ? qps / 100000.0 : 1;

	double k = !s->stock && s->n_knobs ? s->knobs[0] : 0;

	fk->served = *s;
	if (!s->stock && seconds < 10)
		fake_tried(fk, s, true);
	else if (!s->stock && fk->windows > 100) {
		fk->late_windows++;
		fk->untried_windows += !fake_tried(fk, s, false);
	}
	if (!s->stock && s->n_knobs) {
		if (!fk->third) {
			++fk->windows;
			snprintf(line, cap, "{\"error\": \"no such knob\"}");
			return 0;
		}
		fk->with_knob++;
		p99 += third_p99(k);
	}
	if (++fk->windows == 10 && fk->lie_at_10) {
		snprintf(line, cap, "{\"energy_j\": -1}");
		return 0;
	}
	if (fk->trap)
		p99 = trap_p99(fk, s, p99);
	if (fk->ushape && fk->step_at && fk->windows >= fk->step_at)
		p99 += fk->ushape / itr;
	p99 *= scale;
	if (fk->noise)
		p99 *= exp(fk->noise * fake_gauss(fk));
	if (fk->slow_at && fk->windows >= fk->slow_at) {
		p99 *= 1 + (s->stock ? fk->stock_slow : fk->slow);
		fk->after_s += seconds;
		fk->after_over_s += p99 >= fk->bound ? seconds : 0;
		fk->after_stock_s += s->stock ? seconds : 0;
		fk->after_stock_over_s +=
			s->stock && p99 >= fk->bound ? seconds : 0;
	}
	if (fk->n_seen < sizeof(fk->seen_power) / sizeof(fk->seen_power[0]))
		fk->seen_power[fk->n_seen++] = fake_power(itr, mhz);
	snprintf(line, cap,
		 "{\"energy_j\": %.6f, \"p99_us\": %.3f, \"p50_us\": %.3f, "
		 "\"qps\": %d, \"seconds\": %g, \"source\": \"sim\", "
		 "\"stock_energy_j\": %.6f}",
		 (fake_power(itr, mhz) + third_power(k)) * seconds, p99,
		 p99 / 3, qps, seconds, fake_power(50, 2900) * seconds);
	return 0;
}

static const struct plant_ops fake_ops = { .reply = fake_reply };

static bool load_policy(struct policy *pol, const char *name)
{
	char path[PATH_MAX], tmp[PATH_MAX], err[KOPT_INI_ERR_LEN];

	snprintf(tmp, sizeof(tmp), "%s", kopt_test_builddir());
	snprintf(path, sizeof(path), "%s/policies/%s", dirname(tmp), name);
	return ASSERT_OK(policy_load(path, pol, err, sizeof(err)), err);
}

/* The cheapest power on the policy's grid with p99 under the bound. */
static double best_power(const struct policy *p)
{
	double best = INFINITY;

	for (double itr = p->itr_min_us; itr <= p->itr_max_us;
	     itr += p->itr_step_us)
		for (size_t k = 0; k < p->n_freqs; k++)
			if (fake_p99(itr, p->freqs_mhz[k]) < p->sla.bound_us)
				best = fmin(best,
					    fake_power(itr, p->freqs_mhz[k]));
	return best;
}

static double jget(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ?
		       json_object_get_double(v) :
		       NAN;
}

static struct json_object *run_fake(struct policy *pol, struct fake *fk,
				    double seconds)
{
	char err[PLANT_ERR_LEN];
	struct json_object *sum = NULL;
	struct plant *plant;
	struct run *r;

	plant = plant_start_ops(&fake_ops, fk, "fake", err, sizeof(err));
	if (!ASSERT_OK_PTR(plant, err))
		return NULL;
	ASSERT_EQ(plant->pid, 0, "no child process");
	r = ctl_new(pol,
		    &(struct ctl_opts){ .duration_s = seconds,
					.plant_name = "fake" },
		    plant, NULL);
	if (ASSERT_OK_PTR(r, "ctl_new")) {
		ASSERT_OK(ctl_loop(r), "ctl_loop");
		sum = ctl_summary_json(r);
	}
	ctl_free(r);
	plant_stop(plant);
	return sum;
}

KOPT_TEST(controller_fake_plant_in_process)
{
	struct policy *pol = calloc(1, sizeof(*pol));
	struct fake fk = {};
	struct json_object *sum, *levels, *best;
	double itr, mhz;

	if (!ASSERT_OK_PTR(pol, "calloc") ||
	    !load_policy(pol, "memcached-sla500.conf"))
		goto out;
	sum = run_fake(pol, &fk, 3600);
	if (!sum)
		goto out;
	ASSERT_EQ(jget(sum, "windows"), fk.windows, "every window asked once");
	ASSERT_EQ(jget(sum, "failed_windows"), 0, "failed windows");
	ASSERT_GT(jget(sum, "saving_vs_stock"), 0.1, "saving vs stock");
	/* the held setting: the last level's choice, under the SLA, near the
	 * grid's best */
	levels = json_object_object_get(sum, "levels");
	best = json_object_object_get(
		json_object_array_get_idx(levels,
					  json_object_array_length(levels) - 1),
		"chosen");
	itr = jget(best, "itr_us");
	mhz = jget(best, "freq_mhz");
	ASSERT_LT(fake_p99(itr, mhz), pol->sla.bound_us, "held meets the SLA");
	ASSERT_LT(fake_power(itr, mhz), best_power(pol) * 1.05,
		  "held within 5% of the best");
	json_object_put(sum);
out:
	free(pol);
}

/*
 * The guard ends a hold whose tail breaks the SLA in bursts its model
 * (Gaussian noise around a mean under the bound) does not predict: that
 * setting is not chosen again at that load within the hour (BAN_S), or
 * the controller returns to it at every decision and reverts again.
 */
KOPT_TEST(controller_guard_bans_a_tail_setting)
{
	struct policy *pol = calloc(1, sizeof(*pol));
	struct fake fk = { .trap = true };
	struct json_object *sum;

	if (!ASSERT_OK_PTR(pol, "calloc") ||
	    !load_policy(pol, "memcached-sla500.conf"))
		goto out;
	sum = run_fake(pol, &fk, 3000);
	if (!sum)
		goto out;
	ASSERT_TRUE(fk.armed, "a setting was held and trapped");
	ASSERT_TRUE(fk.reverted, "the guard left the trapped setting");
	printf("trap: ITR %g us %g MHz served %u windows, %u after the "
	       "guard left it; guard reverts %g\n",
	       fk.trapped.itr_us, fk.trapped.freq_mhz, fk.trapped_served,
	       fk.trapped_after_revert, jget(sum, "guard_reverts"));
	ASSERT_EQ(fk.trapped_after_revert, 0, "not chosen again at that load");
	ASSERT_LE(jget(sum, "guard_reverts"), 2, "guard reverts");
	ASSERT_GT(jget(sum, "saving_vs_stock"), 0.05, "still saves");
	json_object_put(sum);
out:
	free(pol);
}

/*
 * A new load next to a known one: a decision there needs no trial when
 * the model already knows the answer (a move), and a search stops once
 * its best safe hold, measured there, has not improved by converge_tol
 * in converge_trials trials, instead of spending the whole budget to
 * confirm what the neighbouring load gave. Either way the hold after the
 * step is near the best.
 */
KOPT_TEST(controller_new_load_stops_without_gain)
{
	struct policy *pol = calloc(1, sizeof(*pol));
	struct fake fk = { .step_at = 200 };
	struct json_object *sum, *levels, *lv;
	unsigned int tail = 30;
	double trials = 0, last = 0;
	size_t n;

	if (!ASSERT_OK_PTR(pol, "calloc") ||
	    !load_policy(pol, "memcached-sla500.conf"))
		goto out;
	sum = run_fake(pol, &fk, 7200);
	if (!sum)
		goto out;
	levels = json_object_object_get(sum, "levels");
	n = json_object_array_length(levels);
	for (size_t i = 1; i < n; i++) {
		lv = json_object_array_get_idx(levels, i);
		ASSERT_GT(jget(lv, "qps"), 110000, "decided at the new load");
		trials += jget(lv, "trials");
	}
	printf("new load: %zu level(s), %g trials (budget %u, "
	       "converge_trials %u), %g move(s)\n",
	       n - 1, trials, pol->trials, pol->converge_trials,
	       jget(sum, "moves"));
	ASSERT_TRUE(n > 1 || jget(sum, "moves") >= 1,
		    "a decision at the new load");
	ASSERT_LE(trials, pol->converge_trials + 3, "trials at the new load");
	if (!ASSERT_GT(fk.n_seen, tail + 200, "windows"))
		goto put;
	for (unsigned int i = fk.n_seen - tail; i < fk.n_seen; i++)
		last += fk.seen_power[i] / tail;
	ASSERT_LT(last, best_power(pol) * 1.05, "held within 5% of the best");
put:
	json_object_put(sum);
out:
	free(pol);
}

/*
 * A load that halves: the decision is made at the new load (the windows
 * that showed the change), not at the smoothed signal, which still lags
 * by a third of the step when the change has lasted LOAD_PERSIST
 * windows. At the lagging load the search measured its trials at the
 * new load as if at another.
 */
KOPT_TEST(controller_load_drop_decides_at_new_load)
{
	struct policy *pol = calloc(1, sizeof(*pol));
	struct fake fk = { .step_at = 200,
			   .step_qps = 50000,
			   .load_matters = true };
	struct json_object *sum, *levels, *lv;
	size_t n;

	if (!ASSERT_OK_PTR(pol, "calloc") ||
	    !load_policy(pol, "memcached-sla500.conf"))
		goto out;
	sum = run_fake(pol, &fk, 4000);
	if (!sum)
		goto out;
	levels = json_object_object_get(sum, "levels");
	n = json_object_array_length(levels);
	if (!ASSERT_GE(n, 2, "a level after the load drop"))
		goto put;
	lv = json_object_array_get_idx(levels, n - 1);
	printf("load 100000 -> 50000: decided at %.0f\n", jget(lv, "qps"));
	ASSERT_LT(fabs(jget(lv, "qps") / 50000 - 1), 0.05,
		  "decided at the new load");
put:
	json_object_put(sum);
out:
	free(pol);
}

/*
 * A search cut short (two trials) holds a dear setting. While the hold
 * lasts, steps (one trial per RETRY_S, probe-protected) toward what the
 * model expects cheaper and within the trial limit bring it near the
 * best within two hours; without them it held the short search's choice
 * all along.
 */
KOPT_TEST(controller_hold_steps_to_cheaper)
{
	struct policy *pol = calloc(1, sizeof(*pol));
	struct fake fk = {};
	struct json_object *sum;
	double first, last = 0;
	unsigned int tail = 30;

	if (!ASSERT_OK_PTR(pol, "calloc") ||
	    !load_policy(pol, "memcached-sla500.conf"))
		goto out;
	pol->trials = 2;
	sum = run_fake(pol, &fk, 7200);
	if (!sum)
		goto out;
	if (!ASSERT_GT(fk.n_seen, tail + 10, "windows"))
		goto put;
	first = fk.seen_power[5];
	for (unsigned int i = fk.n_seen - tail; i < fk.n_seen; i++)
		last += fk.seen_power[i] / tail;
	printf("held after the short search: %.1f W; last %u windows: %.1f "
	       "W; best %.1f W; hold steps %g\n",
	       first, tail, last, best_power(pol),
	       jget(json_object_object_get(sum, "hold_steps"), "trials"));
	ASSERT_GT(first, best_power(pol) * 1.1, "the short search held dear");
	ASSERT_LT(last, best_power(pol) * 1.05, "within 5% of the best");
	ASSERT_LT(jget(json_object_object_get(sum, "time_over_sla"),
		       "exploration") +
			  jget(json_object_object_get(sum, "time_over_sla"),
			       "outside_exploration"),
		  0.005, "time over the SLA");
put:
	json_object_put(sum);
out:
	free(pol);
}

/*
 * A load that wanders +-15% around its level every two minutes, under
 * the trigger's qps_change and too fast for the headroom check, with
 * p99 proportional to it: a hold chosen safe at the level's mean load
 * breaks the SLA at the crests. The controller measures the wander and
 * holds a setting safe at Z_LOAD of its sds above the load: without that
 * margin 0.83% of the time outside exploration was over the SLA here,
 * with it none. The hold, predicted at that higher load, is still one
 * measured at the load it serves: when the measured data was looked up
 * at the higher load too (beyond warm_radius), every hold window after
 * the first hundred was at a setting never tried.
 */
KOPT_TEST(controller_holds_through_load_wander)
{
	struct policy *pol = calloc(1, sizeof(*pol));
	struct fake fk = { .wander = 0.15, .load_matters = true };
	struct json_object *sum, *over;
	double outside, sd;

	if (!ASSERT_OK_PTR(pol, "calloc") ||
	    !load_policy(pol, "memcached-sla500.conf"))
		goto out;
	pol->qps_change = 0.2; /* the wander stays under the trigger */
	sum = run_fake(pol, &fk, 7200);
	if (!sum)
		goto out;
	over = json_object_object_get(sum, "time_over_sla");
	outside = jget(over, "outside_exploration");
	sd = jget(sum, "load_wander_sd");
	printf("wander +-15%%: load sd measured %.4f (true %.4f); time over "
	       "the SLA outside exploration %.4f, exploring %.4f; saving "
	       "%.3f\n",
	       sd, 0.15 / sqrt(2), outside, jget(over, "exploration"),
	       jget(sum, "saving_vs_stock"));
	printf("holds after window 100: %u of %u windows at a setting never "
	       "tried\n",
	       fk.untried_windows, fk.late_windows);
	ASSERT_LT(fabs(sd / (0.15 / sqrt(2)) - 1), 0.3, "wander measured");
	/* a hold predicted at the load's crest still takes what was
	 * measured at the load it serves */
	ASSERT_LE(fk.untried_windows, fk.late_windows / 10,
		  "holds are measured settings");
	ASSERT_LT(outside, 0.005, "holds keep the SLA through the wander");
	ASSERT_GT(jget(sum, "saving_vs_stock"), 0.05, "still saves");
	json_object_put(sum);
out:
	free(pol);
}

/*
 * Three knobs: the policy declares one more ([knob defer]); the model
 * spans all three and the controller holds the third inside its range,
 * where the grid's best is, and every request carries it by name.
 */
KOPT_TEST(controller_searches_a_third_knob)
{
	static const double values[] = { 0, 1, 2, 4, 8 };
	struct policy *pol = calloc(1, sizeof(*pol));
	struct fake fk = { .third = true };
	struct json_object *sum;
	double itr, mhz, k, best = INFINITY, best_k = NAN;

	if (!ASSERT_OK_PTR(pol, "calloc") ||
	    !load_policy(pol, "memcached-sla500.conf"))
		goto out;
	pol->n_knobs = 1;
	pol->knobs[0] = (struct policy_knob){ .name = "defer",
					      .n_values = 5,
					      .log = true };
	memcpy(pol->knobs[0].values, values, sizeof(values));
	for (itr = pol->itr_min_us; itr <= pol->itr_max_us;
	     itr += pol->itr_step_us)
		for (size_t f = 0; f < pol->n_freqs; f++)
			for (size_t v = 0; v < 5; v++) {
				double p = fake_power(itr, pol->freqs_mhz[f]) +
					   third_power(values[v]);

				if (fake_p99(itr, pol->freqs_mhz[f]) +
						    third_p99(values[v]) <
					    pol->sla.bound_us &&
				    p < best) {
					best = p;
					best_k = values[v];
				}
			}
	sum = run_fake(pol, &fk, 3600);
	if (!sum)
		goto out;
	ASSERT_EQ(jget(sum, "failed_windows"), 0, "failed windows");
	/* where the hour ended: a hold (steps move it after the decision) */
	itr = fk.served.itr_us;
	mhz = fk.served.freq_mhz;
	k = fk.served.knobs[0];
	ASSERT_TRUE(!fk.served.stock && fk.served.n_knobs == 1,
		    "the last window carried the knob");
	printf("three knobs: held ITR %g us, %g MHz, defer %g: %.2f W; the "
	       "grid's best %.2f W at defer %g; %u of %u requests carried "
	       "it\n",
	       itr, mhz, k, fake_power(itr, mhz) + third_power(k), best, best_k,
	       fk.with_knob, fk.windows);
	ASSERT_GT(k, 0, "the third knob is used");
	ASSERT_LT(fake_p99(itr, mhz) + third_p99(k), pol->sla.bound_us,
		  "held meets the SLA");
	ASSERT_LT(fake_power(itr, mhz) + third_power(k), best * 1.05,
		  "held within 5% of the best of the 3-D grid");
	ASSERT_GT(fk.with_knob, fk.windows / 2, "requests carry the knob");
	json_object_put(sum);
out:
	free(pol);
}

/* A plant that does not know a policy's knob fails its windows, saying so. */
KOPT_TEST(controller_plant_without_the_knob)
{
	struct policy *pol = calloc(1, sizeof(*pol));
	struct fake fk = {};
	struct json_object *sum;

	if (!ASSERT_OK_PTR(pol, "calloc") ||
	    !load_policy(pol, "memcached-sla500.conf"))
		goto out;
	pol->n_knobs = 1;
	pol->knobs[0] = (struct policy_knob){ .name = "defer", .n_values = 1 };
	sum = run_fake(pol, &fk, 600);
	if (!sum)
		goto out;
	ASSERT_GT(jget(sum, "failed_windows"), 0, "its windows fail");
	ASSERT_HAS(json_object_get_string(
			   json_object_object_get(sum, "first_error")),
		   "no such knob", "with the plant's reason");
	json_object_put(sum);
out:
	free(pol);
}

/*
 * The SLA metric's noise is measured between windows at one setting, not
 * across a load jump: the fake plant has no noise at all, and its p99
 * grows by half with a 50% load step. Counted across it, the step read
 * as a noise of 0.06 (log) at the end of this run, and a hold limit
 * that far under the SLA left little but the latency-first corner.
 */
KOPT_TEST(controller_noise_not_across_a_load_jump)
{
	struct policy *pol = calloc(1, sizeof(*pol));
	struct fake fk = { .step_at = 200,
			   .step_qps = 150000,
			   .load_matters = true };
	struct json_object *sum;
	double sd;

	if (!ASSERT_OK_PTR(pol, "calloc") ||
	    !load_policy(pol, "memcached-sla500.conf"))
		goto out;
	sum = run_fake(pol, &fk, 2300);
	if (!sum)
		goto out;
	sd = jget(sum, "sla_noise_sd");
	printf("noise measured after a 50%% load step: %.4f (log; the plant "
	       "has none)\n",
	       sd);
	ASSERT_LT(sd, 0.01, "the load step is not noise");
	json_object_put(sum);
out:
	free(pol);
}

KOPT_TEST(controller_fake_plant_lies_once)
{
	struct policy *pol = calloc(1, sizeof(*pol));
	struct fake fk = { .lie_at_10 = true };
	struct json_object *sum;

	if (!ASSERT_OK_PTR(pol, "calloc") ||
	    !load_policy(pol, "memcached-sla500.conf"))
		goto out;
	sum = run_fake(pol, &fk, 600);
	if (!sum)
		goto out;
	/* the lie fails its window, validated like a remote reply */
	ASSERT_EQ(jget(sum, "failed_windows"), 1, "the lying window failed");
	ASSERT_EQ(jget(sum, "windows") + 1, fk.windows, "others counted");
	json_object_put(sum);
out:
	free(pol);
}

/*
 * The service slows by 30% with no load change (a neighbour arrives;
 * 3% p99 noise): the held setting breaks the SLA, and so would every
 * setting near it that the model, trained before, holds safe. After the
 * guard's breach a hold must be measured within the SLA since
 * (VERIFY_S): without that, each decision moved to the next setting the
 * stale model held safe, the guard ended it, and so on (8 reverts and
 * 215 s over the SLA here).
 */
KOPT_TEST(controller_verifies_holds_after_a_breach)
{
	struct policy *pol = calloc(1, sizeof(*pol));
	struct fake fk = {
		.slow_at = 200, .slow = 0.3, .noise = 0.03, .bound = 500
	};
	struct json_object *sum;

	if (!ASSERT_OK_PTR(pol, "calloc") ||
	    !load_policy(pol, "memcached-sla500.conf"))
		goto out;
	sum = run_fake(pol, &fk, 5400);
	if (!sum)
		goto out;
	printf("service 30%% slower at window 200: %.0f s of %.0f over the "
	       "SLA after it; guard reverts %g, verifying trials %g, "
	       "drifts %g\n",
	       fk.after_over_s, fk.after_s, jget(sum, "guard_reverts"),
	       jget(sum, "verify_trials"), jget(sum, "drifts"));
	ASSERT_LE(jget(sum, "guard_reverts"), 3, "guard reverts");
	ASSERT_LE(fk.after_over_s, 160, "seconds over the SLA after it");
	ASSERT_GT(jget(sum, "saving_vs_stock"), 0.05, "still saves");
	json_object_put(sum);
out:
	free(pol);
}

/*
 * The world changes and stock Linux, the fallback, breaks the SLA (its
 * p99 x 3.2, 620 us) while the latency-first corner keeps it (x 2.9,
 * 460 us; every other setting breaks it). The corner is not safe to
 * hold by the hold limit (2.6 noise sds under the SLA), but it is
 * safer than the fallback: without that rule the fallback held on,
 * over the SLA in 3140 of the 3580 s after the change.
 */
KOPT_TEST(controller_fallback_that_breaks_is_left)
{
	struct policy *pol = calloc(1, sizeof(*pol));
	struct fake fk = { .slow_at = 200,
			   .slow = 1.9,
			   .stock_slow = 2.2,
			   .noise = 0.03,
			   .bound = 500 };
	struct json_object *sum;

	if (!ASSERT_OK_PTR(pol, "calloc") ||
	    !load_policy(pol, "memcached-sla500.conf"))
		goto out;
	sum = run_fake(pol, &fk, 5400);
	if (!sum)
		goto out;
	printf("stock breaks after window 200: %.0f s at stock of %.0f, %.0f "
	       "over the SLA; %.0f s over in all; holds safer than the "
	       "fallback %g\n",
	       fk.after_stock_s, fk.after_s, fk.after_stock_over_s,
	       fk.after_over_s, jget(sum, "rescues"));
	ASSERT_LE(fk.after_stock_over_s, 300, "seconds over the SLA at stock");
	ASSERT_LE(fk.after_over_s, 600, "seconds over the SLA after it");
	json_object_put(sum);
out:
	free(pol);
}

/*
 * Near capacity the plant is not monotone in ITR: after a 15% load step
 * p99 gains 6000/ITR, so the latency-first corner (ITR 10 us at 2.9
 * GHz: 759 us) breaks the SLA while ITR 20 and up keep it. The seed
 * walks up the ITR from the corner and the search goes on from there;
 * with the corner alone nothing was safe to seed from and stock held.
 */
KOPT_TEST(controller_seed_walks_up_the_itr)
{
	struct policy *pol = calloc(1, sizeof(*pol));
	struct fake fk = { .step_at = 200, .ushape = 6000 };
	struct json_object *sum;
	double itr, mhz, p99;

	if (!ASSERT_OK_PTR(pol, "calloc") ||
	    !load_policy(pol, "memcached-sla500.conf"))
		goto out;
	sum = run_fake(pol, &fk, 4000);
	if (!sum)
		goto out;
	itr = fk.served.itr_us;
	mhz = fk.served.freq_mhz;
	p99 = fake_p99(itr, mhz) + fk.ushape / itr;
	printf("saturating short ITRs: holding %s ITR %g us %g MHz at the "
	       "end, p99 %.0f us\n",
	       fk.served.stock ? "stock" : "", itr, mhz, p99);
	if (ASSERT_FALSE(fk.served.stock, "a setting, not stock"))
		ASSERT_LT(p99, pol->sla.bound_us, "it meets the SLA");
	ASSERT_GT(jget(sum, "saving_vs_stock"), 0.05, "saves");
	json_object_put(sum);
out:
	free(pol);
}
