/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Gaussian-process regression for the Bayesian optimizer (optimizer/bo.c).
 *
 * Model: y = m + f(x) + noise, f ~ GP(0, Matern-5/2 ARD), inputs expected
 * in the unit box (bo.c scales them), outputs standardized internally so
 * the hyperparameter bounds mean the same thing for every objective.
 * Hyperparameters (theta, see GP_TH_*) are fitted by maximizing the log
 * marginal likelihood with its analytic gradient (NLopt LD_LBFGS,
 * multi-start, bounds in log space). Cholesky factors come from LAPACKE
 * and grow by one row per observation while theta is unchanged, so an
 * observation costs O(n^2) and a refit O(n^3).
 *
 * Predicting many fixed candidates (a search grid) goes through
 * struct gp_cache, which keeps V = L^-1 K(X, candidates) and extends it
 * by one row per observation: O(n m) per suggestion instead of O(n^2 m).
 *
 * Also here: the small seeded PRNG (xoshiro256**) shared by gp.c and
 * bo.c, so that runs are reproducible without rand().
 */
#ifndef KOPT_OPTIMIZER_GP_H
#define KOPT_OPTIMIZER_GP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GP_MAX_DIMS 16

/*
 * theta layout for d input dimensions: [0, d) log length scales (unit-box
 * units), then log signal variance, log noise variance (both in units of
 * the standardized output) and the constant mean (standardized).
 */
#define GP_TH_SF2(d) (d)
#define GP_TH_SN2(d) ((d) + 1)
#define GP_TH_MEAN(d) ((d) + 2)
#define GP_NTHETA(d) ((d) + 3)
#define GP_MAX_THETA GP_NTHETA(GP_MAX_DIMS)

struct gp_rng {
	uint64_t s[4];
};

void gp_rng_seed(struct gp_rng *r, uint64_t seed);
uint64_t gp_rng_next(struct gp_rng *r);
/* Uniform in [0, 1). */
double gp_rng_uniform(struct gp_rng *r);
/* Uniform integer in [0, n), n > 0. */
uint64_t gp_rng_below(struct gp_rng *r, uint64_t n);

struct gp;
struct gp_cache;

/* A GP over d (1..GP_MAX_DIMS) inputs with default theta; NULL on ENOMEM. */
struct gp *gp_new(size_t d, uint64_t seed);
void gp_free(struct gp *gp);
/* Text of the last error (empty if none). */
const char *gp_strerror(const struct gp *gp);

size_t gp_count(const struct gp *gp);
/* Adds one observation; -EDOM for a non-finite x or y. */
int gp_add(struct gp *gp, const double *x, double y);

void gp_get_theta(const struct gp *gp, double *theta);
/* Sets theta (clamped to the bounds); the next use refactors. */
int gp_set_theta(struct gp *gp, const double *theta);
void gp_theta_bounds(const struct gp *gp, double *lo, double *hi);

/*
 * Fits theta by maximum marginal likelihood, starting from the current
 * theta plus `restarts` random starts. Adopts the best theta only if it
 * beats the current one by more than `min_gain` nats (0: always), which
 * spares a refactor and cache rebuild when the data agree with the fit.
 * Returns 1 if theta changed, 0 if kept, negative errno on failure.
 */
int gp_fit(struct gp *gp, unsigned int restarts, double min_gain);

/*
 * Log marginal likelihood of the standardized data at theta and its
 * gradient (grad may be NULL). -EDOM if K stays singular with jitter.
 */
int gp_lml(struct gp *gp, const double *theta, double *lml, double *grad);

/* Posterior of the latent f at x, in output units (var excludes noise). */
int gp_predict(struct gp *gp, const double *x, double *mean, double *var);
/* Posterior mean at training point i (output units), O(1) once factored. */
int gp_train_mean(struct gp *gp, size_t i, double *mean);
/* Noise variance as a fraction of the output variance. */
double gp_noise_ratio(const struct gp *gp);
/* Output scale (standard deviation used for standardization). */
double gp_output_std(const struct gp *gp);

/*
 * Candidate cache: pts (m x d, unit box) must outlive the cache. Caches
 * the triangular solves while theta is unchanged, up to max_bytes of
 * memory (beyond, it recomputes in blocks every call).
 */
struct gp_cache *gp_cache_new(const double *pts, size_t m, size_t d,
			      size_t max_bytes);
void gp_cache_free(struct gp_cache *c);
/* Posterior mean and latent variance at every candidate, output units. */
int gp_predict_cached(struct gp *gp, struct gp_cache *c, double *mean,
		      double *var);

#endif /* KOPT_OPTIMIZER_GP_H */
