/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Bayesian optimization over a small box of knobs (for kopt: NIC
 * interrupt delay and CPU frequency), minimizing a noisy, expensive
 * objective (energy) optionally under one constraint (p99 latency).
 *
 * Usage: bo_new() with a space and options; then loop bo_suggest() ->
 * measure -> bo_observe(); bo_best() reads the answer. Everything is
 * deterministic for a given seed and sequence of observations.
 *
 * The first suggestions are a Latin hypercube design; after that a GP
 * (optimizer/gp.h) per modelled quantity scores candidates with the
 * chosen acquisition. Spaces whose full grid has at most grid_max points
 * are scored exhaustively (exact argmax, cached solves: about a
 * millisecond per suggestion for 1e4 points and 60 observations);
 * larger or continuous spaces use NLopt DIRECT-L plus BOBYQA refines,
 * snapped to the grid (10-30 ms per suggestion in 6 dimensions). Memory:
 * n x grid doubles per GP, capped by cache_bytes.
 *
 * Errors are negative errno values; bo_strerror() tells what went wrong.
 */
#ifndef KOPT_OPTIMIZER_BO_H
#define KOPT_OPTIMIZER_BO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BO_MAX_DIMS 16

enum bo_dim_kind {
	BO_DIM_CONTINUOUS, /* any value in [min, max] */
	BO_DIM_STEP, /* min, min + step, ... <= max (e.g. ITR 0..1024 step 2) */
	BO_DIM_LIST, /* one of values[] (e.g. the available CPU frequencies) */
};

struct bo_dim {
	const char *name; /* for messages; may be NULL */
	enum bo_dim_kind kind;
	double min, max; /* CONTINUOUS, STEP */
	double step; /* STEP, > 0 */
	const double *values; /* LIST: distinct, any order (copied) */
	size_t n_values;
};

struct bo_space {
	size_t ndims;
	struct bo_dim dims[BO_MAX_DIMS];
};

enum bo_acq {
	BO_ACQ_EI, /* expected improvement */
	BO_ACQ_LCB, /* lower confidence bound mean - kappa * sd */
	/*
	 * EI of the objective times P(constraint <= bound), with a second GP
	 * on the constraint; before any feasible point, P alone.
	 */
	BO_ACQ_CEI,
	/*
	 * The published controller's scalarization, for comparison: plain EI
	 * on y * max(constraint - bound + 1, 1) (in the caller's units).
	 */
	BO_ACQ_PENALIZED,
};

struct bo_opts {
	uint64_t seed;
	enum bo_acq acq;
	unsigned int n_init; /* design points before the GP; 0: auto */
	double bound; /* feasible iff constraint <= bound (CEI, PENALIZED) */
	/*
	 * Refit hyperparameters after this many new points; 0: auto (every
	 * point below 20, then every n/5). New ones are adopted only if 1 nat
	 * more likely than the current ones.
	 */
	unsigned int refit_every;
	/* random restarts per refit, while n < 15 * ndims (then warm only) */
	unsigned int fit_restarts;
	double xi; /* EI margin, in output standard deviations (default 0) */
	double kappa; /* LCB width, in posterior standard deviations */
	size_t grid_max; /* score exhaustively up to this many points (0: never) */
	unsigned int direct_maxeval; /* DIRECT-L budget; 0: auto */
	/*
	 * Re-measuring a point is allowed only when the fitted noise variance
	 * is at least this fraction of the output variance.
	 */
	double resample_noise;
	size_t cache_bytes; /* memory for cached grid solves per GP (0: none) */
};

struct bo_pred {
	double mean, sd; /* objective (or penalized objective) posterior */
	double cmean, csd; /* constraint posterior (CEI), else NAN */
	double pfeas; /* P(constraint <= bound) (CEI), else NAN */
};

struct bo;

/* Fills the defaults; set fields afterwards. */
void bo_opts_init(struct bo_opts *o);

/*
 * Checks the space and options (errors in err, if errlen > 0) and returns
 * an optimizer, or NULL with errno set. opts NULL means defaults.
 */
struct bo *bo_new(const struct bo_space *space, const struct bo_opts *opts,
		  char *err, size_t errlen);
void bo_free(struct bo *bo);
/* Text of the last error of this optimizer. */
const char *bo_strerror(const struct bo *bo);

/*
 * Next point to measure, in the caller's units (on the grid for STEP and
 * LIST dims). -ENOSPC once every grid point is measured and the noise
 * does not justify measuring one again.
 */
int bo_suggest(struct bo *bo, double *x);

/*
 * Records a measurement. x may be any point of the box (STEP and LIST
 * coordinates are rounded to the nearest level); y and, for CEI and
 * PENALIZED, the constraint must be finite (-EDOM otherwise); otherwise
 * constraint may be NAN. Repeated points are fine: the GP's noise term
 * absorbs them. For CEI on latency, pass log(p99) with bound log(SLA):
 * latency spans decades near saturation, its log is what a GP fits well.
 */
int bo_observe(struct bo *bo, const double *x, double y, double constraint);

/*
 * Best measured point by y (lowest); with feasible_only, among points
 * whose constraint <= bound. -ENOENT if there is none.
 */
int bo_best(const struct bo *bo, double *x, double *y, bool feasible_only);

/*
 * Like bo_best(), but ranks the measured points by the posterior mean of
 * the objective (penalized objective in PENALIZED mode), which pools
 * repeated and neighbouring readings: with noisy energy the lowest single
 * reading is biased low (winner's curse). Fits the models if needed.
 */
int bo_recommend(struct bo *bo, double *x, double *mean, bool feasible_only);

/* Posterior at x (caller's units); fits the models if needed. */
int bo_predict(struct bo *bo, const double *x, struct bo_pred *p);

/*
 * The posterior at m points (m x ndims, caller's units) through one
 * blocked triangular solve per model: scoring a whole knob grid at one
 * load costs about as much as a few single predictions.
 */
int bo_predict_many(struct bo *bo, const double *x, size_t m,
		    struct bo_pred *p);

/*
 * The fitted noise standard deviation of one observation, objective and
 * constraint (NAN without a constraint model), in the caller's units.
 */
int bo_noise_sd(struct bo *bo, double *obj_sd, double *cons_sd);

size_t bo_count(const struct bo *bo);

#endif /* KOPT_OPTIMIZER_BO_H */
