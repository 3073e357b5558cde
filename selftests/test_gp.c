// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of the GP regression in optimizer/gp.c: posterior against an
 * independent 3x3 hand computation, the marginal-likelihood gradient
 * against finite differences, the cached grid path against the pointwise
 * one, and the fit recovering a known length scale.
 */
#include <stdlib.h>

#include "gp.h"
#include "test.h"

static double matern(double r, double ls, double sf2)
{
	double s = sqrt(5.0) * fabs(r) / ls;

	return sf2 * (1 + s + s * s / 3) * exp(-s);
}

/* Solves the symmetric 3x3 system A x = b by Cramer's rule. */
static void solve3(const double A[3][3], const double *b, double *x)
{
	double det = A[0][0] * (A[1][1] * A[2][2] - A[1][2] * A[2][1]) -
		     A[0][1] * (A[1][0] * A[2][2] - A[1][2] * A[2][0]) +
		     A[0][2] * (A[1][0] * A[2][1] - A[1][1] * A[2][0]);

	for (int c = 0; c < 3; c++) {
		double M[3][3];

		memcpy(M, A, sizeof(M));
		for (int r = 0; r < 3; r++)
			M[r][c] = b[r];
		x[c] = (M[0][0] * (M[1][1] * M[2][2] - M[1][2] * M[2][1]) -
			M[0][1] * (M[1][0] * M[2][2] - M[1][2] * M[2][0]) +
			M[0][2] * (M[1][0] * M[2][1] - M[1][1] * M[2][0])) /
		       det;
	}
}

KOPT_TEST(gp_posterior_matches_hand_computation)
{
	const double X[3] = { 0.1, 0.4, 0.85 }, Y[3] = { 1.5, -0.7, 2.0 };
	const double ls = 0.3, sf2 = 1.7, sn2 = 0.01, m = 0.2;
	const double xs[2] = { 0.25, 0.95 };
	double theta[GP_NTHETA(1)] = { log(ls), log(sf2), log(sn2), m };
	double ym, ystd = 0, z[3], K[3][3], r[3], a[3];
	struct gp *gp = gp_new(1, 1);

	if (!ASSERT_OK_PTR(gp, "gp_new"))
		return;
	for (int i = 0; i < 3; i++)
		ASSERT_OK(gp_add(gp, &X[i], Y[i]), "gp_add");
	ASSERT_OK(gp_set_theta(gp, theta), "set_theta");

	/* expected: standardize, K = k(X,X) + sn2 I, mean = m + k^T K^-1 r */
	ym = (Y[0] + Y[1] + Y[2]) / 3;
	for (int i = 0; i < 3; i++)
		ystd += (Y[i] - ym) * (Y[i] - ym) / 3;
	ystd = sqrt(ystd);
	for (int i = 0; i < 3; i++) {
		z[i] = (Y[i] - ym) / ystd;
		r[i] = z[i] - m;
		for (int j = 0; j < 3; j++)
			K[i][j] = matern(X[i] - X[j], ls, sf2) +
				  (i == j ? sn2 : 0);
	}
	solve3(K, r, a);
	for (int p = 0; p < 2; p++) {
		double k[3], v[3], mean_s = m, var_s, mean = NAN, var = NAN;

		for (int i = 0; i < 3; i++)
			k[i] = matern(xs[p] - X[i], ls, sf2);
		solve3(K, k, v);
		var_s = sf2;
		for (int i = 0; i < 3; i++) {
			mean_s += k[i] * a[i];
			var_s -= k[i] * v[i];
		}
		if (!ASSERT_OK(gp_predict(gp, &xs[p], &mean, &var), "predict"))
			break;
		ASSERT_NEAR(mean, ym + ystd * mean_s, 1e-9, "posterior mean");
		ASSERT_NEAR(var, ystd * ystd * var_s, 1e-9, "posterior var");
	}
	/* the training-point shortcut agrees with a full prediction */
	for (int i = 0; i < 3; i++) {
		double tm, pm, pv;

		ASSERT_OK(gp_train_mean(gp, i, &tm), "train_mean");
		ASSERT_OK(gp_predict(gp, &X[i], &pm, &pv), "predict train");
		ASSERT_NEAR(tm, pm, 1e-9, "train mean");
	}
	gp_free(gp);
}

KOPT_TEST(gp_lml_matches_hand_computation)
{
	const double X[3] = { 0.0, 0.5, 0.6 }, Y[3] = { 3.0, 1.0, 2.0 };
	const double ls = 0.4, sf2 = 0.8, sn2 = 0.05, m = -0.1;
	double theta[GP_NTHETA(1)] = { log(ls), log(sf2), log(sn2), m };
	double ym = 2.0, ystd = sqrt(2.0 / 3.0), K[3][3], r[3], a[3], lml;
	double det, quad = 0;
	struct gp *gp = gp_new(1, 1);

	if (!ASSERT_OK_PTR(gp, "gp_new"))
		return;
	for (int i = 0; i < 3; i++) {
		ASSERT_OK(gp_add(gp, &X[i], Y[i]), "gp_add");
		r[i] = (Y[i] - ym) / ystd - m;
		for (int j = 0; j < 3; j++)
			K[i][j] = matern(X[i] - X[j], ls, sf2) +
				  (i == j ? sn2 : 0);
	}
	solve3(K, r, a);
	for (int i = 0; i < 3; i++)
		quad += r[i] * a[i];
	det = K[0][0] * (K[1][1] * K[2][2] - K[1][2] * K[2][1]) -
	      K[0][1] * (K[1][0] * K[2][2] - K[1][2] * K[2][0]) +
	      K[0][2] * (K[1][0] * K[2][1] - K[1][1] * K[2][0]);
	ASSERT_OK(gp_lml(gp, theta, &lml, NULL), "lml");
	ASSERT_NEAR(lml, -0.5 * quad - 0.5 * log(det) - 1.5 * log(2 * M_PI),
		    1e-9, "log marginal likelihood");
	gp_free(gp);
}

/* 2-D data from a smooth function plus a little structure. */
static struct gp *gp_2d(int n, uint64_t seed)
{
	struct gp *gp = gp_new(2, seed);
	struct gp_rng r;

	gp_rng_seed(&r, seed);
	for (int i = 0; gp && i < n; i++) {
		double x[2] = { gp_rng_uniform(&r), gp_rng_uniform(&r) };

		gp_add(gp, x, sin(6 * x[0]) + x[1] * x[1] + 0.1 * x[0] * x[1]);
	}
	return gp;
}

KOPT_TEST(gp_lml_gradient_matches_finite_differences)
{
	double theta[GP_NTHETA(2)] = { log(0.3), log(0.7), log(1.3), log(0.02),
				       0.3 };
	double grad[GP_NTHETA(2)], lml;
	struct gp *gp = gp_2d(12, 7);

	if (!ASSERT_OK_PTR(gp, "gp"))
		return;
	ASSERT_OK(gp_lml(gp, theta, &lml, grad), "lml");
	for (int i = 0; i < GP_NTHETA(2); i++) {
		double tp[GP_NTHETA(2)], tm[GP_NTHETA(2)], lp, lm, h = 1e-5;

		memcpy(tp, theta, sizeof(tp));
		memcpy(tm, theta, sizeof(tm));
		tp[i] += h;
		tm[i] -= h;
		ASSERT_OK(gp_lml(gp, tp, &lp, NULL), "lml+");
		ASSERT_OK(gp_lml(gp, tm, &lm, NULL), "lml-");
		ASSERT_NEAR(grad[i], (lp - lm) / (2 * h),
			    1e-5 * (1 + fabs(grad[i])), "d lml / d theta");
	}
	gp_free(gp);
}

KOPT_TEST(gp_cached_grid_matches_pointwise)
{
	const int side = 15, m = side * side;
	double *pts = malloc(m * 2 * sizeof(double));
	double *mu = malloc(m * sizeof(double)), *var = malloc(m * 8);
	struct gp *gp = gp_2d(6, 3);
	struct gp_cache *c = NULL, *small = NULL;
	struct gp_rng r;

	if (!ASSERT_OK_PTR(gp, "gp") || !ASSERT_OK_PTR(pts, "pts") ||
	    !ASSERT_OK_PTR(mu, "mu") || !ASSERT_OK_PTR(var, "var"))
		goto out;
	for (int j = 0; j < m; j++) {
		pts[2 * j] = (j % side) / (side - 1.0);
		pts[2 * j + 1] = (j / side) / (side - 1.0);
	}
	c = gp_cache_new(pts, m, 2, 1 << 20);
	/* too small for even one row: the uncached block path */
	small = gp_cache_new(pts, m, 2, 8);
	if (!ASSERT_OK_PTR(c, "cache") || !ASSERT_OK_PTR(small, "small"))
		goto out;
	gp_rng_seed(&r, 11);
	/* rebuild, then extension row by row, then a refit (rebuild) */
	for (int step = 0; step < 8; step++) {
		struct gp_cache *use = step == 5 ? small : c;

		if (step == 6)
			ASSERT_TRUE(gp_fit(gp, 1, 0) >= 0, "fit");
		if (!ASSERT_OK(gp_predict_cached(gp, use, mu, var), "cached"))
			break;
		for (int j = 0; j < m; j += 7) {
			double pm, pv;

			ASSERT_OK(gp_predict(gp, pts + 2 * j, &pm, &pv), "pt");
			ASSERT_NEAR(mu[j], pm, 1e-8 * (1 + fabs(pm)), "mean");
			ASSERT_NEAR(var[j], pv, 1e-8 * (1 + pv), "var");
		}
		double x[2] = { gp_rng_uniform(&r), gp_rng_uniform(&r) };

		ASSERT_OK(gp_add(gp, x, cos(3 * x[0]) * x[1]), "add");
	}
out:
	gp_cache_free(c);
	gp_cache_free(small);
	gp_free(gp);
	free(pts);
	free(mu);
	free(var);
}

KOPT_TEST(gp_fit_recovers_length_scales)
{
	/* 1-D in x0, flat in x1: ARD must give x1 the longer length scale */
	struct gp *gp = gp_new(2, 5);
	double theta[GP_NTHETA(2)], before, after;
	struct gp_rng r;

	if (!ASSERT_OK_PTR(gp, "gp"))
		return;
	gp_rng_seed(&r, 5);
	for (int i = 0; i < 30; i++) {
		double x[2] = { gp_rng_uniform(&r), gp_rng_uniform(&r) };

		gp_add(gp, x, sin(8 * x[0]));
	}
	gp_get_theta(gp, theta);
	ASSERT_OK(gp_lml(gp, theta, &before, NULL), "lml before");
	ASSERT_EQ(gp_fit(gp, 2, 0), 1, "fit changes theta");
	gp_get_theta(gp, theta);
	ASSERT_OK(gp_lml(gp, theta, &after, NULL), "lml after");
	ASSERT_TRUE(after > before, "fit improves the likelihood");
	ASSERT_TRUE(theta[1] > theta[0] + 1.0, "irrelevant dim is longer");
	ASSERT_TRUE(gp_noise_ratio(gp) < 1e-3, "noise-free data, low noise");
	gp_free(gp);
}

KOPT_TEST(gp_duplicates_and_bad_values)
{
	struct gp *gp = gp_new(1, 1);
	double x = 0.5, mean, var, inf = INFINITY;

	if (!ASSERT_OK_PTR(gp, "gp"))
		return;
	ASSERT_EQ(gp_add(gp, &x, NAN), -EDOM, "NaN y");
	ASSERT_STREQ(gp_strerror(gp), "observation nan is not finite",
		     "message");
	ASSERT_EQ(gp_add(gp, &x, INFINITY), -EDOM, "inf y");
	ASSERT_EQ(gp_add(gp, &inf, 1.0), -EDOM, "inf x");
	ASSERT_EQ(gp_count(gp), 0, "nothing stored");
	/* the same point three times with different values: the noise term */
	ASSERT_OK(gp_add(gp, &x, 1.0), "dup 1");
	ASSERT_OK(gp_add(gp, &x, 2.0), "dup 2");
	ASSERT_OK(gp_add(gp, &x, 3.0), "dup 3");
	ASSERT_TRUE(gp_fit(gp, 1, 0) >= 0, "fit");
	ASSERT_OK(gp_predict(gp, &x, &mean, &var), "predict");
	ASSERT_NEAR(mean, 2.0, 0.2, "mean of duplicates");
	ASSERT_TRUE(gp_noise_ratio(gp) > 0.1, "duplicates show as noise");
	gp_free(gp);
}
