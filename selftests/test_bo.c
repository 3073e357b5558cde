// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of the Bayesian optimizer (optimizer/bo.c): input validation with
 * clear errors, determinism for a seed, grid bookkeeping (snapping, no
 * repeats, exhaustion), the constrained acquisitions on a toy problem
 * with a known boundary, and end-to-end convergence on Branin so the
 * library cannot silently stop optimizing. Correctness only, no timing.
 */
#include <stdlib.h>

#include <json-c/json.h>

#include "bo.h"
#include "test.h"

static double branin(const double *x)
{
	const double b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI;
	double q = x[1] - b * x[0] * x[0] + c * x[0] - 6;

	return q * q + 10 * (1 - 1 / (8 * M_PI)) * cos(x[0]) + 10;
}

#define BRANIN_MIN 0.397887357729738

static struct bo_space cont_space(int d, double lo, double hi)
{
	struct bo_space sp = { .ndims = d };

	for (int i = 0; i < d; i++) {
		sp.dims[i].kind = BO_DIM_CONTINUOUS;
		sp.dims[i].min = lo;
		sp.dims[i].max = hi;
	}
	return sp;
}

static struct bo_space branin_space(void)
{
	struct bo_space sp = cont_space(2, 0, 0);

	sp.dims[0].min = -5;
	sp.dims[0].max = 10;
	sp.dims[1].min = 0;
	sp.dims[1].max = 15;
	return sp;
}

/* bo_new must fail with EINVAL and a message containing `what`. */
static void expect_rejected(const struct bo_space *sp, const struct bo_opts *o,
			    const char *what)
{
	char err[256] = "";
	struct bo *bo = bo_new(sp, o, err, sizeof(err));

	if (!ASSERT_NULL(bo, what)) {
		bo_free(bo);
		return;
	}
	ASSERT_EQ(errno, EINVAL, "errno");
	ASSERT_HAS(err, what, "message");
}

KOPT_TEST(bo_rejects_degenerate_spaces)
{
	const double one[] = { 1200 }, dup[] = { 1200, 1800, 1200 };
	struct bo_space sp;
	struct bo_opts o;

	sp = cont_space(2, 0, 1);
	sp.dims[1].max = 0;
	expect_rejected(&sp, NULL, "zero width");
	sp = cont_space(1, 0, 1);
	sp.dims[0].max = -1;
	expect_rejected(&sp, NULL, "empty range");
	sp = cont_space(1, 0, 1);
	sp.dims[0].kind = BO_DIM_STEP;
	sp.dims[0].step = 2;
	expect_rejected(&sp, NULL, "zero width");
	sp.dims[0].step = 0;
	expect_rejected(&sp, NULL, "step");
	sp = cont_space(1, 0, 1);
	sp.dims[0].kind = BO_DIM_LIST;
	sp.dims[0].name = "freq";
	expect_rejected(&sp, NULL, "freq: empty list");
	sp.dims[0].values = one;
	sp.dims[0].n_values = 1;
	expect_rejected(&sp, NULL, "zero width");
	sp.dims[0].values = dup;
	sp.dims[0].n_values = 3;
	expect_rejected(&sp, NULL, "listed twice");
	sp = cont_space(1, 0, NAN);
	expect_rejected(&sp, NULL, "not finite");
	sp = cont_space(0, 0, 1);
	expect_rejected(&sp, NULL, "dimensions");

	sp = cont_space(1, 0, 1);
	bo_opts_init(&o);
	o.acq = BO_ACQ_CEI;
	expect_rejected(&sp, &o, "bound");
	o.acq = BO_ACQ_PENALIZED;
	expect_rejected(&sp, &o, "bound");
}

KOPT_TEST(bo_rejects_bad_observations)
{
	struct bo_space sp = cont_space(2, 0, 1);
	double x[2] = { 0.5, 0.5 }, out[2] = { 2, 0.5 };
	struct bo_opts o;
	struct bo *bo;

	bo_opts_init(&o);
	o.acq = BO_ACQ_CEI;
	o.bound = 1.0;
	bo = bo_new(&sp, &o, NULL, 0);
	if (!ASSERT_OK_PTR(bo, "bo_new"))
		return;
	ASSERT_EQ(bo_observe(bo, x, NAN, 0.5), -EDOM, "NaN objective");
	ASSERT_HAS(bo_strerror(bo), "not finite", "message");
	ASSERT_EQ(bo_observe(bo, x, INFINITY, 0.5), -EDOM, "inf objective");
	ASSERT_EQ(bo_observe(bo, x, -INFINITY, 0.5), -EDOM, "-inf objective");
	ASSERT_EQ(bo_observe(bo, x, 1.0, NAN), -EDOM, "CEI needs constraint");
	ASSERT_HAS(bo_strerror(bo), "constraint", "message");
	ASSERT_EQ(bo_observe(bo, out, 1.0, 0.5), -ERANGE, "outside the box");
	ASSERT_HAS(bo_strerror(bo), "outside", "message");
	ASSERT_EQ(bo_count(bo), 0, "nothing recorded");
	ASSERT_OK(bo_observe(bo, x, 1.0, 0.5), "a good one");
	ASSERT_EQ(bo_count(bo), 1, "recorded");
	bo_free(bo);

	/* unconstrained: constraint may be NaN, but not infinite */
	bo = bo_new(&sp, NULL, NULL, 0);
	if (!ASSERT_OK_PTR(bo, "bo_new"))
		return;
	ASSERT_OK(bo_observe(bo, x, 1.0, NAN), "NaN constraint is fine");
	ASSERT_EQ(bo_observe(bo, x, 1.0, INFINITY), -EDOM, "inf constraint");
	ASSERT_EQ(bo_best(bo, x, NULL, true), -EINVAL, "feasible w/o bound");
	bo_free(bo);
}

/* Runs `steps` suggest/observe rounds on Branin, recording suggestions. */
static int run_branin(struct bo *bo, int steps, double *xs)
{
	for (int i = 0; i < steps; i++) {
		double *x = xs + 2 * i;
		int ret = bo_suggest(bo, x);

		if (!ret)
			ret = bo_observe(bo, x, branin(x), NAN);
		if (ret)
			return ret;
	}
	return 0;
}

KOPT_TEST(bo_same_seed_same_suggestions)
{
	struct bo_space sp = branin_space();
	double a[2 * 14], b[2 * 14], c[2 * 14];
	struct bo_opts o;
	struct bo *x, *y, *z;

	bo_opts_init(&o);
	o.seed = 42;
	x = bo_new(&sp, &o, NULL, 0);
	y = bo_new(&sp, &o, NULL, 0);
	o.seed = 43;
	z = bo_new(&sp, &o, NULL, 0);
	if (ASSERT_OK_PTR(x, "x") && ASSERT_OK_PTR(y, "y") &&
	    ASSERT_OK_PTR(z, "z")) {
		ASSERT_OK(run_branin(x, 14, a), "run x");
		ASSERT_OK(run_branin(y, 14, b), "run y");
		ASSERT_OK(run_branin(z, 14, c), "run z");
		ASSERT_OK(memcmp(a, b, sizeof(a)), "same seed, same points");
		ASSERT_NEQ(memcmp(a, c, sizeof(a)), 0, "other seed, others");
	}
	bo_free(x);
	bo_free(y);
	bo_free(z);
}

KOPT_TEST(bo_duplicate_observations)
{
	struct bo_space sp = cont_space(1, 0, 1);
	double x = 0.3, best_x, best_y;
	struct bo *bo = bo_new(&sp, NULL, NULL, 0);

	if (!ASSERT_OK_PTR(bo, "bo_new"))
		return;
	/* the same point again and again, noisy: the GP calls it noise */
	for (int i = 0; i < 6; i++)
		ASSERT_OK(bo_observe(bo, &x, 1.0 + 0.1 * (i % 3), NAN), "dup");
	x = 0.8;
	ASSERT_OK(bo_observe(bo, &x, 0.5, NAN), "another");
	ASSERT_OK(bo_suggest(bo, &x), "suggest with duplicates");
	ASSERT_TRUE(x >= 0 && x <= 1, "in the box");
	ASSERT_OK(bo_best(bo, &best_x, &best_y, false), "best");
	ASSERT_NEAR(best_x, 0.8, 0, "best x");
	ASSERT_NEAR(best_y, 0.5, 0, "best y");
	bo_free(bo);
}

KOPT_TEST(bo_recommend_pools_noisy_readings)
{
	/* A: readings 0.7..1.5, mean 1.1; B: always 0.8 (posteriors ~1.0, 0.9) */
	const double ra[] = { 0.7, 1.5, 1.1, 1.1 };
	struct bo_space sp = cont_space(1, 0, 1);
	double a = 0.1, b = 0.9, x, m, y;
	struct bo_pred p;
	struct bo *bo = bo_new(&sp, NULL, NULL, 0);

	if (!ASSERT_OK_PTR(bo, "bo_new"))
		return;
	for (int i = 0; i < 4; i++) {
		ASSERT_OK(bo_observe(bo, &a, ra[i], NAN), "A");
		ASSERT_OK(bo_observe(bo, &b, 0.8, NAN), "B");
	}
	ASSERT_OK(bo_best(bo, &x, &y, false), "best");
	ASSERT_NEAR(x, a, 0, "lowest single reading is A's");
	ASSERT_OK(bo_recommend(bo, &x, &m, false), "recommend");
	ASSERT_NEAR(x, b, 0, "lowest posterior mean is B's");
	ASSERT_OK(bo_predict(bo, &b, &p), "predict");
	ASSERT_NEAR(m, p.mean, 1e-9, "recommend reports the posterior mean");
	ASSERT_EQ(bo_recommend(bo, &x, &m, true), -EINVAL, "no bound");
	bo_free(bo);
}

/* kopt run's shape: ITR 0..1024 step 2 and a list of frequencies. */
static const double freqs[] = { 2400, 800, 1600, 1200, 2000, 3000 };

static struct bo_space knob_space(void)
{
	struct bo_space sp = { .ndims = 2 };

	sp.dims[0] = (struct bo_dim){ .name = "itr_us",
				      .kind = BO_DIM_STEP,
				      .min = 0,
				      .max = 1024,
				      .step = 2 };
	sp.dims[1] = (struct bo_dim){ .name = "freq_mhz",
				      .kind = BO_DIM_LIST,
				      .values = freqs,
				      .n_values = 6 };
	return sp;
}

/* Energy falls with delay and frequency; latency rises with delay. */
static double toy_energy(const double *x)
{
	return 100 - 0.03 * x[0] + pow((x[1] - 1500) / 400, 2);
}

static double toy_latency(const double *x)
{
	return 50 + 0.5 * x[0] * 3000 / x[1];
}

static bool on_grid(const double *x)
{
	bool in_list = false;

	for (int i = 0; i < 6; i++)
		in_list |= x[1] == freqs[i];
	return in_list && x[0] >= 0 && x[0] <= 1024 && fmod(x[0], 2.0) == 0.0;
}

/*
 * Two equally deep basins at x = 0.2 and 0.8 (the right one a hair
 * worse); the constraint c(x) = x <= 0.5 rules the right one out. Returns
 * how many of the model's 15 suggestions were feasible.
 */
static int two_basins(enum bo_acq acq, double *best)
{
	struct bo_space sp = { .ndims = 1 };
	struct bo_opts o;
	struct bo *bo;
	int feasible = 0;

	sp.dims[0] = (struct bo_dim){
		.kind = BO_DIM_STEP, .min = 0, .max = 1, .step = 0.005
	};
	bo_opts_init(&o);
	o.acq = acq;
	o.bound = 0.5;
	o.n_init = 5;
	bo = bo_new(&sp, &o, NULL, 0);
	if (!ASSERT_OK_PTR(bo, "bo_new"))
		return -1;
	*best = HUGE_VAL;
	for (int i = 0; i < 20; i++) {
		double x = 0, y;

		if (!ASSERT_OK(bo_suggest(bo, &x), bo_strerror(bo)))
			break;
		y = 10 * pow((x - 0.2) * (x - 0.8), 2) + 0.01 * x;
		if (i >= 5)
			feasible += x <= 0.5;
		if (x <= 0.5)
			*best = fmin(*best, y);
		ASSERT_OK(bo_observe(bo, &x, y, x), "observe");
	}
	bo_free(bo);
	return feasible;
}

KOPT_TEST(bo_constrained_ei_prefers_feasible)
{
	double best_cei, best_ei;
	int cei = two_basins(BO_ACQ_CEI, &best_cei);
	int ei = two_basins(BO_ACQ_EI, &best_ei);

	ASSERT_GE(cei, 13, "CEI suggestions feasible (of 15)");
	ASSERT_LT(ei, cei, "plain EI also tries the infeasible basin");
	ASSERT_TRUE(best_cei < 0.0021, "CEI found the feasible minimum");
}

KOPT_TEST(bo_constrained_ei_finds_boundary_optimum)
{
	/* energy falls with delay; latency <= 300 caps delay at f / 6 */
	const double sla = 300;
	struct bo_space sp = knob_space();
	double x[2], y;
	struct bo_pred p;
	struct bo_opts o;
	struct bo *bo;

	bo_opts_init(&o);
	o.acq = BO_ACQ_CEI;
	o.bound = sla;
	o.seed = 3;
	bo = bo_new(&sp, &o, NULL, 0);
	if (!ASSERT_OK_PTR(bo, "bo_new"))
		return;
	for (int i = 0; i < 20; i++) {
		if (!ASSERT_OK(bo_suggest(bo, x), bo_strerror(bo)))
			break;
		ASSERT_TRUE(on_grid(x), "suggestion on the grid");
		ASSERT_OK(bo_observe(bo, x, toy_energy(x), toy_latency(x)),
			  "observe");
	}
	/* optimum: 2000 MHz, itr 332 (energy 91.60); plain EI ends > 93 */
	ASSERT_OK(bo_best(bo, x, &y, true), "best feasible");
	ASSERT_TRUE(toy_latency(x) <= sla, "best is feasible");
	ASSERT_TRUE(y < 91.7, "constrained optimum found");
	ASSERT_OK(bo_predict(bo, (double[]){ 1000, 800 }, &p), "predict");
	ASSERT_TRUE(p.pfeas < 0.1, "clearly infeasible corner");
	ASSERT_OK(bo_predict(bo, (double[]){ 0, 2400 }, &p), "predict");
	ASSERT_TRUE(p.pfeas > 0.9, "clearly feasible corner");
	bo_free(bo);
}

KOPT_TEST(bo_penalized_mode_runs)
{
	const double sla = 300;
	struct bo_space sp = knob_space();
	double x[2], y;
	struct bo_opts o;
	struct bo *bo;

	bo_opts_init(&o);
	o.acq = BO_ACQ_PENALIZED;
	o.bound = sla;
	bo = bo_new(&sp, &o, NULL, 0);
	if (!ASSERT_OK_PTR(bo, "bo_new"))
		return;
	for (int i = 0; i < 15; i++) {
		if (!ASSERT_OK(bo_suggest(bo, x), bo_strerror(bo)))
			break;
		ASSERT_OK(bo_observe(bo, x, toy_energy(x), toy_latency(x)),
			  "observe");
	}
	ASSERT_OK(bo_best(bo, x, &y, true), "a feasible point was found");
	ASSERT_TRUE(toy_latency(x) <= sla, "best is feasible");
	bo_free(bo);
}

KOPT_TEST(bo_small_grid_no_repeats_then_enospc)
{
	const double vals[] = { 1, 2, 4, 8 };
	struct bo_space sp = { .ndims = 2 };
	bool seen[5][4] = { { false } };
	double x[2];
	struct bo *bo;
	int ret;

	sp.dims[0] = (struct bo_dim){
		.kind = BO_DIM_STEP, .min = 0, .max = 1, .step = 0.25
	};
	sp.dims[1] = (struct bo_dim){ .kind = BO_DIM_LIST,
				      .values = vals,
				      .n_values = 4 };
	bo = bo_new(&sp, NULL, NULL, 0);
	if (!ASSERT_OK_PTR(bo, "bo_new"))
		return;
	for (int i = 0; i < 20; i++) {
		int a, b;

		if (!ASSERT_OK(bo_suggest(bo, x), bo_strerror(bo)))
			break;
		a = (int)lround(x[0] * 4);
		b = x[1] == 1 ? 0 : x[1] == 2 ? 1 : x[1] == 4 ? 2 : 3;
		ASSERT_NEAR(x[0], a * 0.25, 0, "on the step grid");
		ASSERT_FALSE(seen[a][b], "never the same point twice");
		seen[a][b] = true;
		ASSERT_OK(bo_observe(bo, x, (x[0] - 0.6) * (x[0] - 0.6) + x[1],
				     NAN),
			  "observe");
	}
	ret = bo_suggest(bo, x);
	ASSERT_EQ(ret, -ENOSPC, "grid exhausted");
	ASSERT_HAS(bo_strerror(bo), "all 20 grid points", "message");
	bo_free(bo);
}

KOPT_TEST(bo_large_grid_uses_search_and_snaps)
{
	/* 1001 x 1001 > grid_max: NLopt search, then snapped to the steps */
	struct bo_space sp = { .ndims = 2 };
	double xs[2 * 16];
	struct bo_opts o;
	struct bo *bo;

	for (int k = 0; k < 2; k++)
		sp.dims[k] = (struct bo_dim){
			.kind = BO_DIM_STEP, .min = -5, .max = 15, .step = 0.02
		};
	sp.dims[0].max = 15;
	bo_opts_init(&o);
	o.grid_max = 1000;
	bo = bo_new(&sp, &o, NULL, 0);
	if (!ASSERT_OK_PTR(bo, "bo_new"))
		return;
	for (int i = 0; i < 16; i++) {
		double *x = xs + 2 * i, y;

		if (!ASSERT_OK(bo_suggest(bo, x), bo_strerror(bo)))
			break;
		for (int k = 0; k < 2; k++) {
			double steps = (x[k] + 5) / 0.02;

			ASSERT_NEAR(steps, round(steps), 1e-6, "snapped");
		}
		for (int j = 0; j < i; j++)
			ASSERT_TRUE(xs[2 * j] != x[0] || xs[2 * j + 1] != x[1],
				    "no repeat");
		y = (x[0] - 3) * (x[0] - 3) + (x[1] - 7) * (x[1] - 7);
		ASSERT_OK(bo_observe(bo, x, y, NAN), "observe");
	}
	bo_free(bo);
}

KOPT_TEST(bo_warm_start_and_lcb)
{
	struct bo_space sp = knob_space();
	struct bo_opts o;
	double x[2], w[2];
	struct bo *bo;

	bo_opts_init(&o);
	o.acq = BO_ACQ_LCB;
	bo = bo_new(&sp, &o, NULL, 0);
	if (!ASSERT_OK_PTR(bo, "bo_new"))
		return;
	/* a previous run's points: the design is skipped, the GP used */
	for (int i = 0; i < 8; i++) {
		w[0] = 128 * i + 3; /* off the step grid: rounded */
		w[1] = freqs[i % 6];
		ASSERT_OK(bo_observe(bo, w, toy_energy(w), NAN), "warm");
	}
	ASSERT_OK(bo_best(bo, w, NULL, false), "best");
	ASSERT_TRUE(on_grid(w), "stored on the grid");
	for (int i = 0; i < 5; i++) {
		if (!ASSERT_OK(bo_suggest(bo, x), bo_strerror(bo)))
			break;
		ASSERT_TRUE(on_grid(x), "on the grid");
		ASSERT_OK(bo_observe(bo, x, toy_energy(x), NAN), "observe");
	}
	bo_free(bo);
}

KOPT_TEST(bo_branin_converges)
{
	/* budget 30 reaches ~1e-3 (kopt bench bo); 0.05 is a loose floor */
	struct bo_space sp = branin_space();
	double xs[2 * 30], best = HUGE_VAL, bx[2], by;
	struct bo_opts o;
	struct bo *bo;

	bo_opts_init(&o);
	o.seed = 7;
	bo = bo_new(&sp, &o, NULL, 0);
	if (!ASSERT_OK_PTR(bo, "bo_new"))
		return;
	if (ASSERT_OK(run_branin(bo, 30, xs), bo_strerror(bo))) {
		for (int i = 0; i < 30; i++)
			best = fmin(best, branin(xs + 2 * i));
		ASSERT_TRUE(best - BRANIN_MIN < 0.05, "regret");
		ASSERT_OK(bo_best(bo, bx, &by, false), "best");
		ASSERT_NEAR(by, best, 0, "bo_best agrees");
	}
	bo_free(bo);
}

KOPT_TEST(bo_branin_grid_converges)
{
	/* the exhaustive, cached path on a 100 x 100 grid */
	struct bo_space sp = branin_space();
	double xs[2 * 25], best = HUGE_VAL;
	struct bo *bo;

	sp.dims[0].kind = sp.dims[1].kind = BO_DIM_STEP;
	sp.dims[0].step = sp.dims[1].step = 15.0 / 99;
	bo = bo_new(&sp, NULL, NULL, 0);
	if (!ASSERT_OK_PTR(bo, "bo_new"))
		return;
	if (ASSERT_OK(run_branin(bo, 25, xs), bo_strerror(bo))) {
		for (int i = 0; i < 25; i++)
			best = fmin(best, branin(xs + 2 * i));
		/* the grid itself is ~0.01 off the true minimum */
		ASSERT_TRUE(best - BRANIN_MIN < 0.1, "regret");
	}
	bo_free(bo);
}

/*
 * kopt bench bo --json reports suggest time in both shapes, 2 knobs and
 * the controller's 3 dims, at 10, 30 and 60 observations (the figures
 * themselves belong to make bench; here: they are there and measured).
 */
KOPT_TEST_TIMEOUT(bo_bench_suggest_shapes, 300)
{
	static char out[1 << 16];
	struct json_object *o, *t3, *times, *v;
	const char *brace;

	ASSERT_OK(kopt_test_run(out, sizeof(out),
				"%s bench bo --function branin --seeds 2 "
				"--budget 10 --json 2>/dev/null",
				kopt_test_bin()),
		  out);
	brace = strchr(out, '{');
	o = brace ? json_tokener_parse(brace) : NULL;
	if (!ASSERT_OK_PTR(o, out))
		return;
	ASSERT_TRUE(json_object_object_get_ex(o, "suggest_3d", &t3) &&
			    json_object_object_get_ex(t3, "dims", &v) &&
			    json_object_get_int(v) == 3,
		    "3-D shape");
	if (ASSERT_TRUE(json_object_object_get_ex(t3, "times", &times) &&
				json_object_array_length(times) == 3,
			"three sizes")) {
		struct json_object *t = json_object_array_get_idx(times, 2);

		ASSERT_TRUE(json_object_object_get_ex(t, "n", &v) &&
				    json_object_get_int(v) == 60,
			    "n = 60");
		ASSERT_TRUE(json_object_object_get_ex(t, "mean_ms", &v) &&
				    json_object_get_double(v) > 0,
			    "a measured time");
	}
	ASSERT_TRUE(json_object_object_get_ex(o, "suggest_time", &times) &&
			    json_object_array_length(times) == 3,
		    "the 2-D shape too");
	json_object_put(o);
}
