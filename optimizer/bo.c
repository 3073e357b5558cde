// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bayesian optimization loop: initial design, model upkeep, acquisition
 * and its maximization. See bo.h for the API and the model choices.
 *
 * Why the pieces are as they are:
 *  - EI underflows to 0 everywhere once the model is confident, which
 *    would turn the argmax into "first grid point"; so the continuous
 *    search ranks log EI (and log P(feasible)), and the grid, which ranks
 *    in linear space for speed, falls back to log space when every score
 *    is 0.
 *  - xi defaults to 0: on Branin (budget 30, 20 seeds) xi = 0.01 leaves
 *    the median regret at 5e-2, xi = 0 reaches 1e-3 -- EI explores
 *    enough by itself.
 *  - The incumbent is the lowest posterior mean at a measured point, not
 *    the lowest measurement, so one lucky noisy reading of energy does
 *    not make every other point look hopeless.
 *  - Hyperparameters are refitted every refit_every observations (auto:
 *    every one while n < 20, then every n/5), and adopted only when
 *    clearly better (MIN_GAIN), since a change invalidates the cached
 *    grid solves (O(n^2 m) to rebuild).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nlopt.h>

#include "bo.h"
#include "gp.h"
#include "space.h"

#define INV_SQRT2 0.70710678118654752440
#define LOG_SQRT_2PI 0.91893853320467274178
/* Scores below this are "never": finite so NLopt's arithmetic stays sane. */
#define SCORE_FLOOR -1e10
#define DEFAULT_GRID_MAX 100000
#define DEFAULT_CACHE_BYTES (64u << 20)
/*
 * A refit keeps the old hyperparameters unless the new ones are this many
 * nats more likely: smaller gains are statistically nothing, and keeping
 * theta keeps the cached grid solves (a rebuild is O(n^2 m)).
 */
#define MIN_GAIN 1.0
/* Observations closer than this in the unit box are the same point. */
#define SAME_POINT 1e-9

struct bo {
	struct bo_space sp;
	struct bo_opts o;
	size_t d;
	struct gp_rng rng;

	size_t n, cap;
	double *x; /* n x d, caller's units (snapped) */
	double *u; /* n x d, unit box */
	double *y, *c;

	struct gp *f; /* objective, or penalized objective */
	struct gp *g; /* constraint (CEI only) */
	size_t fit_n; /* n at the last refit */
	bool fitted;

	/* exhaustive scoring; m == 0 when the space is searched by NLopt */
	size_t m;
	double *cand; /* m x d unit-box grid */
	unsigned char *seen; /* m: measured */
	struct gp_cache *fc, *gc;
	double *mu, *var, *cmu, *cvar;

	double *design; /* n_init x d */
	size_t n_init, design_next;

	char err[256];
};

/* The acquisition at one point; all quantities in the caller's units. */
struct acq {
	enum bo_acq kind;
	double best; /* incumbent; NAN: no feasible point yet (CEI) */
	double margin; /* xi * output std */
	double kappa, bound;
};

static int bo_fail(struct bo *bo, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bo_fail(struct bo *bo, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(bo->err, sizeof(bo->err), fmt, ap);
	va_end(ap);
	return err;
}

void bo_opts_init(struct bo_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->seed = 1;
	o->acq = BO_ACQ_EI;
	o->bound = NAN;
	o->fit_restarts = 2;
	o->xi = 0.0;
	o->kappa = 2.0;
	o->grid_max = DEFAULT_GRID_MAX;
	o->resample_noise = 0.01;
	o->cache_bytes = DEFAULT_CACHE_BYTES;
}

const char *bo_strerror(const struct bo *bo)
{
	return bo->err;
}

size_t bo_count(const struct bo *bo)
{
	return bo->n;
}

/* --- acquisition functions ------------------------------------------------- */

static double norm_cdf(double z)
{
	return 0.5 * erfc(-z * INV_SQRT2);
}

static double log_norm_pdf(double z)
{
	return -0.5 * z * z - LOG_SQRT_2PI;
}

/*
 * log(phi(z) + z Phi(z)), EI of a unit normal with improvement z. Direct
 * down to z = -25 (cancellation costs ~z^2 ulps); the asymptotic series
 * phi(z) (1/z^2 - 3/z^4 + 15/z^6 - 105/z^8) below.
 */
static double log_h(double z)
{
	double h, iz2;

	if (z > -25) {
		h = exp(log_norm_pdf(z)) + z * norm_cdf(z);
		if (h > 0)
			return log(h);
	}
	iz2 = 1.0 / (z * z);
	return log_norm_pdf(z) +
	       log(iz2 * (1 - iz2 * (3 - iz2 * (15 - 105 * iz2))));
}

/* log P(N(0,1) <= z), exact where erfc does not underflow. */
static double log_norm_cdf(double z)
{
	double iz2;

	if (z > -30)
		return log(norm_cdf(z));
	iz2 = 1.0 / (z * z);
	return log_norm_pdf(z) - log(-z) + log(1 - iz2 * (1 - 3 * iz2));
}

static double log_ei(double improvement, double sd)
{
	if (!(sd > 1e-300))
		return improvement > 0 ? log(improvement) : SCORE_FLOOR;
	return log(sd) + log_h(improvement / sd);
}

static double acq_score(const struct acq *a, double mu, double var, double cmu,
			double cvar)
{
	double sd = sqrt(var), s, lp;

	switch (a->kind) {
	case BO_ACQ_LCB:
		return -(mu - a->kappa * sd);
	case BO_ACQ_CEI:
		if (cvar > 0)
			lp = log_norm_cdf((a->bound - cmu) / sqrt(cvar));
		else
			lp = cmu <= a->bound ? 0 : SCORE_FLOOR;
		if (isnan(a->best))
			s = lp;
		else
			s = log_ei(a->best - a->margin - mu, sd) + lp;
		break;
	default:
		s = log_ei(a->best - a->margin - mu, sd);
	}
	return s > SCORE_FLOOR ? s : SCORE_FLOOR;
}

/* --- construction ---------------------------------------------------------- */

static int check_opts(const struct bo_opts *o, char *err, size_t errlen)
{
	bool needs_bound = o->acq == BO_ACQ_CEI || o->acq == BO_ACQ_PENALIZED;

	if (o->acq < BO_ACQ_EI || o->acq > BO_ACQ_PENALIZED) {
		snprintf(err, errlen, "unknown acquisition %d", (int)o->acq);
		return -EINVAL;
	}
	if (needs_bound && !isfinite(o->bound)) {
		snprintf(err, errlen,
			 "constrained acquisitions need a finite bound");
		return -EINVAL;
	}
	if (!isfinite(o->xi) || o->xi < 0 || !isfinite(o->kappa) ||
	    o->kappa < 0) {
		snprintf(err, errlen, "xi and kappa must be finite and >= 0");
		return -EINVAL;
	}
	if (isnan(o->resample_noise)) {
		snprintf(err, errlen, "resample_noise is NaN");
		return -EINVAL;
	}
	return 0;
}

static size_t auto_n_init(size_t d)
{
	size_t n = 2 * d + 1;

	return n < 5 ? 5 : n;
}

static int alloc_grid(struct bo *bo)
{
	double size = space_grid_size(&bo->sp);
	size_t m, d = bo->d;

	if (!(size <= (double)bo->o.grid_max))
		return 0;
	m = (size_t)size;
	bo->cand = malloc(m * d * sizeof(*bo->cand));
	bo->seen = calloc(m, 1);
	bo->mu = malloc(m * sizeof(double));
	bo->var = malloc(m * sizeof(double));
	if (bo->g) {
		bo->cmu = malloc(m * sizeof(double));
		bo->cvar = malloc(m * sizeof(double));
	}
	if (!bo->cand || !bo->seen || !bo->mu || !bo->var ||
	    (bo->g && (!bo->cmu || !bo->cvar)))
		return -ENOMEM;
	for (size_t j = 0; j < m; j++)
		space_grid_point(&bo->sp, j, bo->cand + j * d);
	bo->fc = gp_cache_new(bo->cand, m, d, bo->o.cache_bytes);
	if (!bo->fc)
		return -ENOMEM;
	if (bo->g) {
		bo->gc = gp_cache_new(bo->cand, m, d, bo->o.cache_bytes);
		if (!bo->gc)
			return -ENOMEM;
	}
	bo->m = m;
	return 0;
}

static int bo_init(struct bo *bo)
{
	int ret;

	bo->d = bo->sp.ndims;
	gp_rng_seed(&bo->rng, bo->o.seed);
	bo->f = gp_new(bo->d, gp_rng_next(&bo->rng));
	if (!bo->f)
		return -ENOMEM;
	if (bo->o.acq == BO_ACQ_CEI) {
		bo->g = gp_new(bo->d, gp_rng_next(&bo->rng));
		if (!bo->g)
			return -ENOMEM;
	}
	ret = alloc_grid(bo);
	if (ret)
		return ret;
	bo->n_init = bo->o.n_init ? bo->o.n_init : auto_n_init(bo->d);
	bo->design = malloc(bo->n_init * bo->d * sizeof(*bo->design));
	if (!bo->design)
		return -ENOMEM;
	return space_lhs(&bo->sp, &bo->rng, bo->n_init, bo->design);
}

struct bo *bo_new(const struct bo_space *space, const struct bo_opts *opts,
		  char *err, size_t errlen)
{
	char dummy[8];
	struct bo *bo;
	int ret;

	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	ret = space_check(space, err, errlen);
	if (!ret && opts)
		ret = check_opts(opts, err, errlen);
	if (ret) {
		errno = -ret;
		return NULL;
	}
	bo = calloc(1, sizeof(*bo));
	if (!bo)
		goto nomem;
	if (opts)
		bo->o = *opts;
	else
		bo_opts_init(&bo->o);
	if (space_copy(&bo->sp, space)) {
		free(bo);
		goto nomem;
	}
	ret = bo_init(bo);
	if (ret) {
		bo_free(bo);
		goto nomem;
	}
	return bo;
nomem:
	snprintf(err, errlen, "out of memory");
	errno = ENOMEM;
	return NULL;
}

void bo_free(struct bo *bo)
{
	if (!bo)
		return;
	gp_free(bo->f);
	gp_free(bo->g);
	gp_cache_free(bo->fc);
	gp_cache_free(bo->gc);
	free(bo->cand);
	free(bo->seen);
	free(bo->mu);
	free(bo->var);
	free(bo->cmu);
	free(bo->cvar);
	free(bo->design);
	free(bo->x);
	free(bo->u);
	free(bo->y);
	free(bo->c);
	space_release(&bo->sp);
	free(bo);
}

/* --- observations ----------------------------------------------------------- */

static int grow(struct bo *bo)
{
	size_t cap = bo->cap ? bo->cap * 2 : 32, d = bo->d;
	double *x = realloc(bo->x, cap * d * sizeof(*x)), *u, *y, *c;

	if (x)
		bo->x = x;
	u = realloc(bo->u, cap * d * sizeof(*u));
	if (u)
		bo->u = u;
	y = realloc(bo->y, cap * sizeof(*y));
	if (y)
		bo->y = y;
	c = realloc(bo->c, cap * sizeof(*c));
	if (c)
		bo->c = c;
	if (!x || !u || !y || !c)
		return bo_fail(bo, -ENOMEM, "out of memory");
	bo->cap = cap;
	return 0;
}

/* The value the objective GP models: y, or the published penalty. */
static double model_y(const struct bo *bo, double y, double c)
{
	if (bo->o.acq != BO_ACQ_PENALIZED)
		return y;
	return y * fmax(c - bo->o.bound + 1.0, 1.0);
}

static int check_obs(struct bo *bo, const double *x, double y, double c)
{
	bool need_c = bo->o.acq == BO_ACQ_CEI || bo->o.acq == BO_ACQ_PENALIZED;
	int ret;

	if (!x)
		return bo_fail(bo, -EINVAL, "no point given");
	ret = space_in_bounds(&bo->sp, x, bo->err, sizeof(bo->err));
	if (ret)
		return ret;
	if (!isfinite(y))
		return bo_fail(bo, -EDOM, "objective value %g is not finite",
			       y);
	if (need_c && !isfinite(c))
		return bo_fail(bo, -EDOM,
			       "constraint value %g is not finite (this "
			       "acquisition needs one with every point)",
			       c);
	if (isinf(c))
		return bo_fail(bo, -EDOM, "constraint value %g is infinite", c);
	if (!isfinite(model_y(bo, y, c)))
		return bo_fail(bo, -EDOM, "penalized objective overflows");
	return 0;
}

int bo_observe(struct bo *bo, const double *x, double y, double constraint)
{
	size_t d = bo->d;
	double *u, *xs;
	int ret = check_obs(bo, x, y, constraint);

	if (ret)
		return ret;
	if (bo->n == bo->cap) {
		ret = grow(bo);
		if (ret)
			return ret;
	}
	u = bo->u + bo->n * d;
	xs = bo->x + bo->n * d;
	space_to_unit(&bo->sp, x, u);
	space_from_unit(&bo->sp, u, xs);
	/* keep continuous coordinates exactly as measured */
	for (size_t i = 0; i < d; i++)
		if (bo->sp.dims[i].kind == BO_DIM_CONTINUOUS)
			xs[i] = x[i];
	ret = gp_add(bo->f, u, model_y(bo, y, constraint));
	if (ret)
		return bo_fail(bo, ret, "%s", gp_strerror(bo->f));
	if (bo->g) {
		ret = gp_add(bo->g, u, constraint);
		if (ret)
			return bo_fail(bo, ret, "%s", gp_strerror(bo->g));
	}
	bo->y[bo->n] = y;
	bo->c[bo->n] = constraint;
	if (bo->m)
		bo->seen[space_grid_index(&bo->sp, u)] = 1;
	bo->n++;
	return 0;
}

static bool feasible(const struct bo *bo, size_t i)
{
	return bo->c[i] <= bo->o.bound;
}

int bo_best(const struct bo *bo, double *x, double *y, bool feasible_only)
{
	size_t best = bo->n;

	if (feasible_only && isnan(bo->o.bound))
		return -EINVAL;
	for (size_t i = 0; i < bo->n; i++) {
		if (feasible_only && !feasible(bo, i))
			continue;
		if (best == bo->n || bo->y[i] < bo->y[best])
			best = i;
	}
	if (best == bo->n)
		return -ENOENT;
	if (x)
		memcpy(x, bo->x + best * bo->d, bo->d * sizeof(*x));
	if (y)
		*y = bo->y[best];
	return 0;
}

/* --- models ------------------------------------------------------------------ */

static size_t refit_interval(const struct bo *bo)
{
	if (bo->o.refit_every)
		return bo->o.refit_every;
	/* hyperparameters settle as data grow: refit at a constant rate */
	return bo->n < 20 ? 1 : bo->n / 5;
}

/*
 * The likelihood has competing modes (smooth and noisy vs wiggly and
 * exact) while the data are few per dimension; later the warm start from
 * the previous fit tracks the optimum, and random restarts would be 80%
 * of the cost of a refit for no measured gain.
 */
static unsigned int restarts_now(const struct bo *bo)
{
	return bo->n < 15 * bo->d ? bo->o.fit_restarts : 0;
}

static int fit_one(struct bo *bo, struct gp *gp, const char *what)
{
	int ret = gp_fit(gp, restarts_now(bo), MIN_GAIN);

	if (ret < 0)
		return bo_fail(bo, ret, "%s model: %s", what, gp_strerror(gp));
	return 0;
}

static int update_models(struct bo *bo)
{
	int ret;

	if (bo->fitted && bo->n - bo->fit_n < refit_interval(bo))
		return 0;
	ret = fit_one(bo, bo->f, "objective");
	if (!ret && bo->g)
		ret = fit_one(bo, bo->g, "constraint");
	if (ret)
		return ret;
	bo->fit_n = bo->n;
	/* below 3 points gp_fit keeps the prior: try again next time */
	bo->fitted = bo->n >= 3;
	return 0;
}

static int predict_at(struct bo *bo, const double *u, double *mu, double *var,
		      double *cmu, double *cvar)
{
	int ret = gp_predict(bo->f, u, mu, var);

	if (ret)
		return bo_fail(bo, ret, "objective model: %s",
			       gp_strerror(bo->f));
	*cmu = *cvar = NAN;
	if (!bo->g)
		return 0;
	ret = gp_predict(bo->g, u, cmu, cvar);
	if (ret)
		return bo_fail(bo, ret, "constraint model: %s",
			       gp_strerror(bo->g));
	return 0;
}

int bo_predict(struct bo *bo, const double *x, struct bo_pred *p)
{
	double u[BO_MAX_DIMS], mu, var, cmu, cvar;
	int ret = space_in_bounds(&bo->sp, x, bo->err, sizeof(bo->err));

	if (ret)
		return ret;
	ret = update_models(bo);
	if (ret)
		return ret;
	space_to_unit(&bo->sp, x, u);
	ret = predict_at(bo, u, &mu, &var, &cmu, &cvar);
	if (ret)
		return ret;
	p->mean = mu;
	p->sd = sqrt(var);
	p->cmean = cmu;
	p->csd = sqrt(cvar);
	p->pfeas = NAN;
	if (bo->g)
		p->pfeas = cvar > 0 ? norm_cdf((bo->o.bound - cmu) / p->csd) :
				      (cmu <= bo->o.bound);
	return 0;
}

/* Posterior of one GP at m unit-box points through one blocked solve. */
static int predict_block(struct bo *bo, struct gp *gp, const double *u,
			 size_t m, double *mu, double *var, const char *what)
{
	struct gp_cache *c =
		gp_cache_new(u, m, bo->d, m * (bo->n + 8) * sizeof(double));
	int ret;

	if (!c)
		return bo_fail(bo, -ENOMEM, "%s model: out of memory", what);
	ret = gp_predict_cached(gp, c, mu, var);
	gp_cache_free(c);
	if (ret)
		return bo_fail(bo, ret, "%s model: %s", what, gp_strerror(gp));
	return 0;
}

int bo_predict_many(struct bo *bo, const double *x, size_t m, struct bo_pred *p)
{
	double *u = malloc(m * bo->d * sizeof(*u)), *buf;
	int ret = u ? update_models(bo) : -ENOMEM;

	buf = ret ? NULL : malloc(4 * m * sizeof(*buf));
	if (!buf) {
		free(u);
		return ret ? ret : bo_fail(bo, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < m && !ret; i++) {
		ret = space_in_bounds(&bo->sp, x + i * bo->d, bo->err,
				      sizeof(bo->err));
		space_to_unit(&bo->sp, x + i * bo->d, u + i * bo->d);
	}
	if (!ret)
		ret = predict_block(bo, bo->f, u, m, buf, buf + m, "objective");
	if (!ret && bo->g)
		ret = predict_block(bo, bo->g, u, m, buf + 2 * m, buf + 3 * m,
				    "constraint");
	for (size_t i = 0; i < m && !ret; i++) {
		p[i].mean = buf[i];
		p[i].sd = sqrt(fmax(buf[m + i], 0));
		p[i].cmean = p[i].csd = p[i].pfeas = NAN;
		if (!bo->g)
			continue;
		p[i].cmean = buf[2 * m + i];
		p[i].csd = sqrt(fmax(buf[3 * m + i], 0));
		p[i].pfeas = p[i].csd > 0 ?
				     norm_cdf((bo->o.bound - p[i].cmean) /
					      p[i].csd) :
				     (p[i].cmean <= bo->o.bound);
	}
	free(u);
	free(buf);
	return ret;
}

int bo_noise_sd(struct bo *bo, double *obj_sd, double *cons_sd)
{
	int ret = update_models(bo);

	if (ret)
		return ret;
	*obj_sd = sqrt(gp_noise_ratio(bo->f)) * gp_output_std(bo->f);
	*cons_sd = bo->g ? sqrt(gp_noise_ratio(bo->g)) * gp_output_std(bo->g) :
			   NAN;
	return 0;
}

int bo_recommend(struct bo *bo, double *x, double *mean, bool feasible_only)
{
	size_t best = bo->n;
	double best_m = HUGE_VAL;
	int ret;

	if (feasible_only && isnan(bo->o.bound))
		return bo_fail(bo, -EINVAL, "no bound: nothing is feasible");
	ret = update_models(bo);
	for (size_t i = 0; i < bo->n && !ret; i++) {
		double m;

		if (feasible_only && !feasible(bo, i))
			continue;
		ret = gp_train_mean(bo->f, i, &m);
		if (!ret && m < best_m) {
			best_m = m;
			best = i;
		}
	}
	if (ret)
		return bo_fail(bo, ret, "objective model: %s",
			       gp_strerror(bo->f));
	if (best == bo->n)
		return bo_fail(bo, -ENOENT, "no %smeasured point",
			       feasible_only ? "feasible " : "");
	if (x)
		memcpy(x, bo->x + best * bo->d, bo->d * sizeof(*x));
	if (mean)
		*mean = best_m;
	return 0;
}

/* Incumbent: lowest posterior mean at a measured (feasible) point. */
static int incumbent(struct bo *bo, struct acq *a)
{
	a->kind = bo->o.acq;
	a->margin = bo->o.xi * gp_output_std(bo->f);
	a->kappa = bo->o.kappa;
	a->bound = bo->o.bound;
	a->best = NAN;
	for (size_t i = 0; i < bo->n; i++) {
		double m;
		int ret;

		if (a->kind == BO_ACQ_CEI && !feasible(bo, i))
			continue;
		ret = gp_train_mean(bo->f, i, &m);
		if (ret)
			return bo_fail(bo, ret, "objective model: %s",
				       gp_strerror(bo->f));
		if (isnan(a->best) || m < a->best)
			a->best = m;
	}
	return 0;
}

/* --- candidates ------------------------------------------------------------- */

static bool measured(const struct bo *bo, const double *u)
{
	if (bo->m)
		return bo->seen[space_grid_index(&bo->sp, u)];
	for (size_t i = 0; i < bo->n; i++) {
		const double *v = bo->u + i * bo->d;
		size_t k;

		for (k = 0; k < bo->d; k++)
			if (fabs(v[k] - u[k]) > SAME_POINT)
				break;
		if (k == bo->d)
			return true;
	}
	return false;
}

/* Whether the fitted noise makes a second measurement informative. */
static bool may_resample(const struct bo *bo)
{
	return bo->fitted && gp_noise_ratio(bo->f) >= bo->o.resample_noise;
}

/* EI of improvement imp with posterior sd, in linear space. */
static double ei_lin(double imp, double sd)
{
	double z;

	if (!(sd > 0))
		return imp > 0 ? imp : 0;
	z = imp / sd;
	return sd * (exp(log_norm_pdf(z)) + z * norm_cdf(z));
}

/*
 * Whether EI at improvement imp < 0 is surely <= best: with t = imp^2 /
 * var, the Mills-ratio inequality gives EI <= sd phi(z) / (1 + t), which
 * costs one exp against EI's exp, erfc and square root (compared squared,
 * so no root). Exact EI is left for the few dozen points that pass.
 */
static bool ei_below(double imp, double var, double best)
{
	double t = imp * imp / var;

	return var * exp(-t) <= 2 * M_PI * best * best * (1 + t) * (1 + t);
}

/*
 * Exhaustive argmax in linear space, where most of the grid is ruled out
 * by ei_below() (P(feasible) <= 1 keeps it valid for CEI). Returns m if
 * every score underflowed to 0: then the log-space pass decides.
 */
static size_t grid_argmax_lin(const struct bo *bo, const struct acq *a,
			      bool again)
{
	bool lcb = a->kind == BO_ACQ_LCB, pf_only = isnan(a->best);
	double best = lcb ? -HUGE_VAL : 0;
	size_t arg = bo->m;

	for (size_t j = 0; j < bo->m; j++) {
		double s = 1, imp;

		if (bo->seen[j] && !again)
			continue;
		if (lcb) {
			s = -(bo->mu[j] - a->kappa * sqrt(bo->var[j]));
		} else {
			if (!pf_only) {
				imp = a->best - a->margin - bo->mu[j];
				if (imp < 0 && ei_below(imp, bo->var[j], best))
					continue;
				s = ei_lin(imp, sqrt(bo->var[j]));
			}
			if (a->kind == BO_ACQ_CEI)
				s *= norm_cdf((a->bound - bo->cmu[j]) /
					      sqrt(bo->cvar[j]));
		}
		if (s > best) {
			best = s;
			arg = j;
		}
	}
	return arg;
}

/* The same argmax in log space: slow, exact even when EI underflows. */
static size_t grid_argmax_log(const struct bo *bo, const struct acq *a,
			      bool again)
{
	double best = -HUGE_VAL;
	size_t arg = bo->m;

	for (size_t j = 0; j < bo->m; j++) {
		double s;

		if (bo->seen[j] && !again)
			continue;
		s = acq_score(a, bo->mu[j], bo->var[j],
			      bo->g ? bo->cmu[j] : NAN,
			      bo->g ? bo->cvar[j] : NAN);
		if (s > best) {
			best = s;
			arg = j;
		}
	}
	return arg;
}

static int suggest_grid(struct bo *bo, const struct acq *a, double *u)
{
	bool again = may_resample(bo);
	size_t arg;
	int ret;

	ret = gp_predict_cached(bo->f, bo->fc, bo->mu, bo->var);
	if (ret)
		return bo_fail(bo, ret, "objective model: %s",
			       gp_strerror(bo->f));
	if (bo->g) {
		ret = gp_predict_cached(bo->g, bo->gc, bo->cmu, bo->cvar);
		if (ret)
			return bo_fail(bo, ret, "constraint model: %s",
				       gp_strerror(bo->g));
	}
	arg = grid_argmax_lin(bo, a, again);
	if (arg == bo->m)
		arg = grid_argmax_log(bo, a, again);
	if (arg == bo->m)
		return bo_fail(bo, -ENOSPC,
			       "all %zu grid points are measured and the "
			       "noise is too low to measure one again",
			       bo->m);
	memcpy(u, bo->cand + arg * bo->d, bo->d * sizeof(*u));
	return 0;
}

/* --- continuous search ------------------------------------------------------ */

struct search {
	struct bo *bo;
	const struct acq *a;
	int err;
};

static double search_obj(unsigned int d, const double *u, double *grad,
			 void *data)
{
	struct search *s = data;
	double mu, var, cmu, cvar;

	if (s->err)
		return SCORE_FLOOR;
	s->err = predict_at(s->bo, u, &mu, &var, &cmu, &cvar);
	if (s->err)
		return SCORE_FLOOR;
	return acq_score(s->a, mu, var, cmu, cvar);
}

/* A candidate kept by the search: the best few, sorted by score. */
#define N_STARTS 4

struct starts {
	size_t n;
	double score[N_STARTS];
	double u[N_STARTS][BO_MAX_DIMS];
};

static void starts_add(struct starts *st, const double *u, double score,
		       size_t d)
{
	size_t i;

	if (st->n < N_STARTS)
		i = st->n++;
	else if (score <= st->score[N_STARTS - 1])
		return;
	else
		i = N_STARTS - 1;
	for (; i > 0 && st->score[i - 1] < score; i--) {
		st->score[i] = st->score[i - 1];
		memcpy(st->u[i], st->u[i - 1], d * sizeof(double));
	}
	st->score[i] = score;
	memcpy(st->u[i], u, d * sizeof(double));
}

/* The measured point the model thinks best (feasible first, for CEI). */
static size_t best_measured(const struct bo *bo)
{
	size_t best = 0;

	for (size_t i = 1; i < bo->n; i++) {
		bool fi = bo->o.acq != BO_ACQ_CEI || feasible(bo, i);
		bool fb = bo->o.acq != BO_ACQ_CEI || feasible(bo, best);
		double yi = model_y(bo, bo->y[i], bo->c[i]);
		double yb = model_y(bo, bo->y[best], bo->c[best]);

		if ((fi && !fb) || (fi == fb && yi < yb))
			best = i;
	}
	return best;
}

/*
 * Random points and perturbations of the best measured point: cheap
 * starting points for the local refine, which DIRECT alone gives too few
 * of in 6 dimensions.
 */
static void sample_pool(struct bo *bo, struct search *s, struct starts *st)
{
	size_t d = bo->d, n_rand = 100 * d, best = best_measured(bo);
	double u[BO_MAX_DIMS];

	for (size_t t = 0; t < n_rand; t++) {
		for (size_t k = 0; k < d; k++)
			u[k] = gp_rng_uniform(&bo->rng);
		starts_add(st, u, search_obj(d, u, NULL, s), d);
	}
	for (size_t t = 0; bo->n && t < 20 * d; t++) {
		/* scales from 1e-3 to 0.1 of the box around the best point */
		double scale = pow(10, -3 + 2 * gp_rng_uniform(&bo->rng));

		for (size_t k = 0; k < d; k++) {
			u[k] = bo->u[best * d + k] +
			       scale * (2 * gp_rng_uniform(&bo->rng) - 1);
			u[k] = u[k] < 0 ? 0 : u[k] > 1 ? 1 : u[k];
		}
		starts_add(st, u, search_obj(d, u, NULL, s), d);
	}
}

static void run_direct(struct bo *bo, struct search *s, struct starts *st)
{
	size_t d = bo->d;
	unsigned int maxeval = bo->o.direct_maxeval ? bo->o.direct_maxeval :
						      150 * d + 300;
	nlopt_opt opt = nlopt_create(NLOPT_GN_DIRECT_L, d);
	double u[BO_MAX_DIMS], v = SCORE_FLOOR;

	if (!opt)
		return;
	nlopt_set_lower_bounds1(opt, 0.0);
	nlopt_set_upper_bounds1(opt, 1.0);
	nlopt_set_max_objective(opt, search_obj, s);
	nlopt_set_maxeval(opt, maxeval);
	for (size_t k = 0; k < d; k++)
		u[k] = 0.5;
	if (nlopt_optimize(opt, u, &v) > 0)
		starts_add(st, u, v, d);
	nlopt_destroy(opt);
}

/* BOBYQA from each start; every result, snapped, is a candidate. */
static void refine(struct bo *bo, struct search *s, struct starts *st,
		   struct starts *out)
{
	size_t d = bo->d;
	nlopt_opt opt = nlopt_create(NLOPT_LN_BOBYQA, d);

	for (size_t i = 0; i < st->n; i++) {
		double u[BO_MAX_DIMS], v;

		memcpy(u, st->u[i], d * sizeof(double));
		if (opt) {
			nlopt_set_lower_bounds1(opt, 0.0);
			nlopt_set_upper_bounds1(opt, 1.0);
			nlopt_set_max_objective(opt, search_obj, s);
			nlopt_set_maxeval(opt, 30 * d);
			nlopt_set_xtol_abs1(opt, 1e-7);
			nlopt_set_initial_step1(opt, 0.02);
			nlopt_optimize(opt, u, &v);
		}
		space_snap(&bo->sp, u);
		if (measured(bo, u) && !may_resample(bo))
			continue;
		starts_add(out, u, search_obj(d, u, NULL, s), d);
	}
	nlopt_destroy(opt);
}

/* A random unmeasured point; the fallback when the search found none. */
static int random_unmeasured(struct bo *bo, double *u)
{
	if (bo->m) {
		size_t j0 = gp_rng_below(&bo->rng, bo->m);

		for (size_t t = 0; t < bo->m; t++) {
			size_t j = (j0 + t) % bo->m;

			if (!bo->seen[j]) {
				memcpy(u, bo->cand + j * bo->d,
				       bo->d * sizeof(*u));
				return 0;
			}
		}
	}
	for (int t = 0; !bo->m && t < 1000; t++) {
		for (size_t k = 0; k < bo->d; k++)
			u[k] = gp_rng_uniform(&bo->rng);
		space_snap(&bo->sp, u);
		if (!measured(bo, u))
			return 0;
	}
	return bo_fail(bo, -ENOSPC, "found no unmeasured point to suggest");
}

static int suggest_search(struct bo *bo, const struct acq *a, double *u)
{
	struct search s = { .bo = bo, .a = a };
	struct starts st = { 0 }, out = { 0 };

	sample_pool(bo, &s, &st);
	run_direct(bo, &s, &st);
	refine(bo, &s, &st, &out);
	if (s.err)
		return s.err;
	if (!out.n)
		return random_unmeasured(bo, u);
	memcpy(u, out.u[0], bo->d * sizeof(*u));
	return 0;
}

/* --- suggest ----------------------------------------------------------------- */

/* The next design point not measured yet, if the design is not done. */
static bool next_design(struct bo *bo, double *u)
{
	if (bo->n >= bo->n_init)
		return false;
	while (bo->design_next < bo->n_init) {
		const double *p = bo->design + bo->design_next++ * bo->d;

		if (!measured(bo, p)) {
			memcpy(u, p, bo->d * sizeof(*u));
			return true;
		}
	}
	return false;
}

int bo_suggest(struct bo *bo, double *x)
{
	double u[BO_MAX_DIMS];
	struct acq a;
	int ret;

	if (!x)
		return bo_fail(bo, -EINVAL, "no output buffer");
	if (next_design(bo, u))
		goto out;
	if (!bo->n) {
		ret = random_unmeasured(bo, u);
		if (ret)
			return ret;
		goto out;
	}
	ret = update_models(bo);
	if (!ret)
		ret = incumbent(bo, &a);
	if (!ret)
		ret = bo->m ? suggest_grid(bo, &a, u) :
			      suggest_search(bo, &a, u);
	if (ret)
		return ret;
out:
	space_from_unit(&bo->sp, u, x);
	return 0;
}
