// SPDX-License-Identifier: GPL-2.0-only
/*
 * Gaussian-process regression: Matern-5/2 ARD kernel, constant mean,
 * Gaussian noise, maximum-marginal-likelihood hyperparameters. See gp.h
 * for the model and the cost of each operation.
 *
 * Storage: L is row-major lower triangular with leading dimension cap,
 * which is the same memory as LAPACK's column-major upper factor, so
 * dpotrf/dpotri run on it without transposing copies. The LAPACKE _work
 * variants skip the NaN scan of the input (a third of the time of a
 * 60 x 60 factorization); gp_add() already refuses non-finite data.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>
#include <nlopt.h>

#include "gp.h"

#define LOG_2PI 1.83787706640934548356

/*
 * Hyperparameter bounds, for unit-box inputs and standardized outputs.
 * The noise floor is low because benchmark objectives are deterministic;
 * jitter covers the conditioning when the fit goes there. Signal variance
 * and mean reach far up because bowl-shaped objectives (Branin) drive the
 * fit to "unexplored means bad": large amplitude, high constant mean.
 */
#define LS_MIN 0.01
#define LS_MAX 20.0
#define SF2_MIN 0.01
#define SF2_MAX 1000.0
#define SN2_MIN 1e-8
#define SN2_MAX 1.0
#define MEAN_MAX 20.0

/* Starting point of the first fit and the box random restarts come from. */
#define LS_INIT 0.3
#define SN2_INIT 1e-4
#define FIT_MAXEVAL 200

/*
 * Added to the diagonal, relative to it, in order, until the Cholesky
 * factor exists.
 */
static const double jitter_ladder[] = { 0, 1e-10, 1e-8, 1e-6, 1e-4 };
#define N_JITTER (sizeof(jitter_ladder) / sizeof(jitter_ladder[0]))

struct gp {
	size_t d, n, cap;
	double *x; /* n x d inputs */
	double *y; /* raw outputs */
	double *z; /* standardized outputs */
	double ymean, ystd;
	double theta[GP_MAX_THETA];
	double lo[GP_MAX_THETA], hi[GP_MAX_THETA];

	double *L; /* cap x cap, rows [0, nfact) valid for theta */
	double *beta; /* L^-1 (z - mean) */
	double *alpha; /* K^-1 (z - mean) */
	double *kvec; /* cap scratch */
	double jitter;
	size_t nfact;
	bool solved; /* beta, alpha match z and L */
	unsigned long gen; /* bumped whenever rows of L are rebuilt */

	/* scratch of gp_lml: factor, signal kernel, d k / d log ls factor */
	double *la, *lkf, *lkd;
	size_t lcap;

	struct gp_rng rng;
	char err[160];
};

struct gp_cache {
	const double *pts;
	size_t m, d;
	size_t max_rows; /* rows of V that fit in the memory budget */
	double *v; /* rows x m: V = L^-1 K(X, pts) */
	/*
	 * Per candidate j, sums over rows i of v_ij^2, v_ij wy_i and v_ij w1_i
	 * with wy = L^-1 (y - y0), w1 = L^-1 1. Forward substitution never
	 * changes earlier entries, so all three grow by one term per row and
	 * the posterior mean needs no pass over V (see cache_output()).
	 */
	double *ss, *ay, *a1;
	double *wy, *w1;
	double y0;
	size_t rows, cap_rows;
	const struct gp *owner;
	unsigned long gen;
};

/* --- PRNG: xoshiro256** seeded through splitmix64 ------------------------ */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void gp_rng_seed(struct gp_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t gp_rng_next(struct gp_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double gp_rng_uniform(struct gp_rng *r)
{
	return (gp_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t gp_rng_below(struct gp_rng *r, uint64_t n)
{
	/* the modulo bias is below 2^-40 for any n used here */
	return gp_rng_next(r) % n;
}

/* --- helpers -------------------------------------------------------------- */

static int gp_fail(struct gp *gp, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int gp_fail(struct gp *gp, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(gp->err, sizeof(gp->err), fmt, ap);
	va_end(ap);
	return err;
}

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static double dot(const double *a, const double *b, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* Squared scaled distance sum_k (a_k - b_k)^2 / ls_k^2. */
static double sqdist(const double *a, const double *b, const double *il2,
		     size_t d)
{
	double r2 = 0;

	for (size_t k = 0; k < d; k++) {
		double t = a[k] - b[k];

		r2 += t * t * il2[k];
	}
	return r2;
}

static double matern52(double r2, double sf2)
{
	double s = sqrt(5.0 * r2);

	return sf2 * (1.0 + s + s * s / 3.0) * exp(-s);
}

static void inv_ls2(const double *theta, size_t d, double *il2)
{
	for (size_t k = 0; k < d; k++)
		il2[k] = exp(-2.0 * theta[k]);
}

/* --- construction and data ------------------------------------------------ */

static void default_theta(struct gp *gp)
{
	size_t d = gp->d;

	for (size_t k = 0; k < d; k++) {
		gp->lo[k] = log(LS_MIN);
		gp->hi[k] = log(LS_MAX);
		gp->theta[k] = log(LS_INIT);
	}
	gp->lo[GP_TH_SF2(d)] = log(SF2_MIN);
	gp->hi[GP_TH_SF2(d)] = log(SF2_MAX);
	gp->theta[GP_TH_SF2(d)] = 0.0;
	gp->lo[GP_TH_SN2(d)] = log(SN2_MIN);
	gp->hi[GP_TH_SN2(d)] = log(SN2_MAX);
	gp->theta[GP_TH_SN2(d)] = log(SN2_INIT);
	gp->lo[GP_TH_MEAN(d)] = -MEAN_MAX;
	gp->hi[GP_TH_MEAN(d)] = MEAN_MAX;
	gp->theta[GP_TH_MEAN(d)] = 0.0;
}

struct gp *gp_new(size_t d, uint64_t seed)
{
	struct gp *gp;

	if (d < 1 || d > GP_MAX_DIMS)
		return NULL;
	gp = calloc(1, sizeof(*gp));
	if (!gp)
		return NULL;
	gp->d = d;
	gp->ystd = 1.0;
	default_theta(gp);
	gp_rng_seed(&gp->rng, seed);
	return gp;
}

void gp_free(struct gp *gp)
{
	if (!gp)
		return;
	free(gp->x);
	free(gp->y);
	free(gp->z);
	free(gp->L);
	free(gp->beta);
	free(gp->alpha);
	free(gp->kvec);
	free(gp->la);
	free(gp->lkf);
	free(gp->lkd);
	free(gp);
}

const char *gp_strerror(const struct gp *gp)
{
	return gp->err;
}

size_t gp_count(const struct gp *gp)
{
	return gp->n;
}

double gp_noise_ratio(const struct gp *gp)
{
	return exp(gp->theta[GP_TH_SN2(gp->d)]);
}

double gp_output_std(const struct gp *gp)
{
	return gp->ystd;
}

/* Grows every per-observation array; L keeps its rows at the new stride. */
static int gp_grow(struct gp *gp)
{
	size_t cap = gp->cap ? gp->cap * 2 : 16, d = gp->d;
	double *x, *y, *z, *L, *beta, *alpha, *kvec;

	x = realloc(gp->x, cap * d * sizeof(*x));
	if (x)
		gp->x = x;
	y = realloc(gp->y, cap * sizeof(*y));
	if (y)
		gp->y = y;
	z = realloc(gp->z, cap * sizeof(*z));
	if (z)
		gp->z = z;
	beta = realloc(gp->beta, cap * sizeof(*beta));
	if (beta)
		gp->beta = beta;
	alpha = realloc(gp->alpha, cap * sizeof(*alpha));
	if (alpha)
		gp->alpha = alpha;
	kvec = realloc(gp->kvec, cap * sizeof(*kvec));
	if (kvec)
		gp->kvec = kvec;
	L = malloc(cap * cap * sizeof(*L));
	if (!x || !y || !z || !beta || !alpha || !kvec || !L) {
		free(L);
		return gp_fail(gp, -ENOMEM, "out of memory for %zu points",
			       cap);
	}
	for (size_t i = 0; i < gp->nfact; i++)
		memcpy(L + i * cap, gp->L + i * gp->cap, (i + 1) * sizeof(*L));
	free(gp->L);
	gp->L = L;
	gp->cap = cap;
	return 0;
}

/*
 * Population mean and standard deviation; a constant output gets std 1
 * so that standardizing never divides by zero.
 */
static void gp_standardize(struct gp *gp)
{
	double mean = 0, var = 0;
	size_t n = gp->n;

	for (size_t i = 0; i < n; i++)
		mean += gp->y[i];
	mean /= n ? n : 1;
	for (size_t i = 0; i < n; i++)
		var += (gp->y[i] - mean) * (gp->y[i] - mean);
	var /= n ? n : 1;
	gp->ymean = mean;
	gp->ystd = sqrt(var);
	if (!(gp->ystd > 1e-12 * fmax(1.0, fabs(mean))))
		gp->ystd = 1.0;
	for (size_t i = 0; i < n; i++)
		gp->z[i] = (gp->y[i] - mean) / gp->ystd;
}

int gp_add(struct gp *gp, const double *x, double y)
{
	int err;

	if (!isfinite(y))
		return gp_fail(gp, -EDOM, "observation %g is not finite", y);
	for (size_t k = 0; k < gp->d; k++)
		if (!isfinite(x[k]))
			return gp_fail(gp, -EDOM, "input %zu is not finite", k);
	if (gp->n == gp->cap) {
		err = gp_grow(gp);
		if (err)
			return err;
	}
	memcpy(gp->x + gp->n * gp->d, x, gp->d * sizeof(*x));
	gp->y[gp->n++] = y;
	gp_standardize(gp);
	gp->solved = false;
	return 0;
}

void gp_get_theta(const struct gp *gp, double *theta)
{
	memcpy(theta, gp->theta, GP_NTHETA(gp->d) * sizeof(*theta));
}

void gp_theta_bounds(const struct gp *gp, double *lo, double *hi)
{
	memcpy(lo, gp->lo, GP_NTHETA(gp->d) * sizeof(*lo));
	memcpy(hi, gp->hi, GP_NTHETA(gp->d) * sizeof(*hi));
}

int gp_set_theta(struct gp *gp, const double *theta)
{
	for (size_t i = 0; i < GP_NTHETA(gp->d); i++) {
		if (!isfinite(theta[i]))
			return gp_fail(gp, -EDOM, "theta[%zu] not finite", i);
		gp->theta[i] = clamp(theta[i], gp->lo[i], gp->hi[i]);
	}
	gp->nfact = 0;
	gp->solved = false;
	gp->gen++;
	return 0;
}

/* --- factorization -------------------------------------------------------- */

/* Fills row i of L (columns 0..i) with the covariance of K + s I. */
static void cov_row(const struct gp *gp, size_t i, const double *il2,
		    double diag, double *row)
{
	const double *xi = gp->x + i * gp->d;
	double sf2 = exp(gp->theta[GP_TH_SF2(gp->d)]);

	for (size_t j = 0; j < i; j++)
		row[j] = matern52(sqdist(xi, gp->x + j * gp->d, il2, gp->d),
				  sf2);
	row[i] = diag;
}

/* Full dpotrf, escalating the jitter until K is positive definite. */
static int factor_full(struct gp *gp)
{
	size_t d = gp->d, n = gp->n;
	double il2[GP_MAX_DIMS];
	double base =
		exp(gp->theta[GP_TH_SF2(d)]) + exp(gp->theta[GP_TH_SN2(d)]);

	inv_ls2(gp->theta, d, il2);
	gp->gen++;
	gp->nfact = 0;
	gp->solved = false;
	for (size_t t = 0; t < N_JITTER; t++) {
		lapack_int info;

		for (size_t i = 0; i < n; i++)
			cov_row(gp, i, il2, base * (1 + jitter_ladder[t]),
				gp->L + i * gp->cap);
		if (!n)
			info = 0;
		else
			info = LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'U', n,
						   gp->L, gp->cap);
		if (info < 0)
			return gp_fail(gp, -EINVAL, "dpotrf argument %d",
				       (int)-info);
		if (info == 0) {
			gp->jitter = base * jitter_ladder[t];
			gp->nfact = n;
			return 0;
		}
	}
	return gp_fail(gp, -EDOM,
		       "covariance of %zu points not positive definite even "
		       "with relative jitter %g",
		       n, jitter_ladder[N_JITTER - 1]);
}

/*
 * Appends rows nfact..n-1 to L with the same theta and jitter: one
 * triangular solve per row. -EAGAIN if a pivot vanishes (refactor).
 */
static int factor_extend(struct gp *gp)
{
	size_t d = gp->d;
	double il2[GP_MAX_DIMS];
	double base = exp(gp->theta[GP_TH_SF2(d)]) +
		      exp(gp->theta[GP_TH_SN2(d)]) + gp->jitter;

	inv_ls2(gp->theta, d, il2);
	for (size_t i = gp->nfact; i < gp->n; i++) {
		double *row = gp->L + i * gp->cap, p2;

		cov_row(gp, i, il2, base, row);
		cblas_dtrsv(CblasRowMajor, CblasLower, CblasNoTrans,
			    CblasNonUnit, i, gp->L, gp->cap, row, 1);
		p2 = base - dot(row, row, i);
		if (!(p2 > 1e-12 * base))
			return -EAGAIN;
		row[i] = sqrt(p2);
		gp->nfact = i + 1;
	}
	return 0;
}

/* Brings L, beta and alpha up to date with the data and theta. */
static int gp_ensure(struct gp *gp)
{
	size_t n = gp->n;
	double mean = gp->theta[GP_TH_MEAN(gp->d)];
	int err = 0;

	if (gp->nfact < n) {
		err = gp->nfact ? factor_extend(gp) : -EAGAIN;
		if (err)
			err = factor_full(gp);
		if (err)
			return err;
		gp->solved = false;
	}
	if (gp->solved)
		return 0;
	for (size_t i = 0; i < n; i++)
		gp->beta[i] = gp->z[i] - mean;
	if (n) {
		cblas_dtrsv(CblasRowMajor, CblasLower, CblasNoTrans,
			    CblasNonUnit, n, gp->L, gp->cap, gp->beta, 1);
		memcpy(gp->alpha, gp->beta, n * sizeof(*gp->alpha));
		cblas_dtrsv(CblasRowMajor, CblasLower, CblasTrans, CblasNonUnit,
			    n, gp->L, gp->cap, gp->alpha, 1);
	}
	gp->solved = true;
	return 0;
}

/* --- prediction ------------------------------------------------------------ */

int gp_predict(struct gp *gp, const double *x, double *mean, double *var)
{
	size_t d = gp->d, n = gp->n;
	double il2[GP_MAX_DIMS], sf2 = exp(gp->theta[GP_TH_SF2(d)]);
	double mu = gp->theta[GP_TH_MEAN(d)], v = sf2;
	int err = gp_ensure(gp);

	if (err)
		return err;
	inv_ls2(gp->theta, d, il2);
	for (size_t i = 0; i < n; i++)
		gp->kvec[i] = matern52(sqdist(x, gp->x + i * d, il2, d), sf2);
	if (n) {
		mu += dot(gp->kvec, gp->alpha, n);
		cblas_dtrsv(CblasRowMajor, CblasLower, CblasNoTrans,
			    CblasNonUnit, n, gp->L, gp->cap, gp->kvec, 1);
		v -= dot(gp->kvec, gp->kvec, n);
	}
	*mean = gp->ymean + gp->ystd * mu;
	*var = fmax(v, 0.0) * gp->ystd * gp->ystd;
	return 0;
}

int gp_train_mean(struct gp *gp, size_t i, double *mean)
{
	double s2;
	int err;

	if (i >= gp->n)
		return gp_fail(gp, -EINVAL, "no training point %zu", i);
	err = gp_ensure(gp);
	if (err)
		return err;
	/* K_f alpha = (z - m) - (sn2 + jitter) alpha, so no solve needed */
	s2 = exp(gp->theta[GP_TH_SN2(gp->d)]) + gp->jitter;
	*mean = gp->ymean + gp->ystd * (gp->z[i] - s2 * gp->alpha[i]);
	return 0;
}

/* --- marginal likelihood --------------------------------------------------- */

static int lml_reserve(struct gp *gp)
{
	size_t need = gp->n * gp->n;

	if (need <= gp->lcap)
		return 0;
	free(gp->la);
	free(gp->lkf);
	free(gp->lkd);
	gp->la = malloc(need * sizeof(double));
	gp->lkf = malloc(need * sizeof(double));
	gp->lkd = malloc(need * sizeof(double));
	if (!gp->la || !gp->lkf || !gp->lkd) {
		gp->lcap = 0;
		return gp_fail(gp, -ENOMEM, "out of memory for %zu points",
			       gp->n);
	}
	gp->lcap = need;
	return 0;
}

/* Signal kernel and its length-scale derivative factor, lower triangle. */
static void lml_kernel(struct gp *gp, const double *theta)
{
	size_t d = gp->d, n = gp->n;
	double il2[GP_MAX_DIMS], sf2 = exp(theta[GP_TH_SF2(d)]);

	inv_ls2(theta, d, il2);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++) {
			double r2 =
				sqdist(gp->x + i * d, gp->x + j * d, il2, d);
			double s = sqrt(5.0 * r2), e = exp(-s);

			gp->lkf[i * n + j] = sf2 * (1.0 + s + s * s / 3.0) * e;
			/* d k / d log ls_k = this * (x_ik - x_jk)^2 / ls_k^2 */
			gp->lkd[i * n + j] = 5.0 / 3.0 * sf2 * (1.0 + s) * e;
		}
	}
}

static int lml_factor(struct gp *gp, double diag)
{
	size_t n = gp->n;

	for (size_t t = 0; t < N_JITTER; t++) {
		lapack_int info;

		for (size_t i = 0; i < n; i++) {
			memcpy(gp->la + i * n, gp->lkf + i * n,
			       i * sizeof(double));
			gp->la[i * n + i] = diag * (1 + jitter_ladder[t]);
		}
		info = LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'U', n, gp->la, n);
		if (info == 0)
			return 0;
		if (info < 0)
			break;
	}
	return gp_fail(gp, -EDOM,
		       "covariance of %zu points not positive definite even "
		       "with relative jitter %g",
		       n, jitter_ladder[N_JITTER - 1]);
}

/*
 * d lml / d theta_j = 1/2 tr((a a^T - K^-1) dK/dtheta_j), with W = a a^T -
 * K^-1 symmetric, so off-diagonal pairs count twice.
 */
static void lml_grad(struct gp *gp, const double *theta, const double *a,
		     double *grad)
{
	size_t d = gp->d, n = gp->n;
	double il2[GP_MAX_DIMS], trw = 0;
	double sf2 = exp(theta[GP_TH_SF2(d)]), sn2 = exp(theta[GP_TH_SN2(d)]);
	const double *kinv = gp->la;

	inv_ls2(theta, d, il2);
	memset(grad, 0, GP_NTHETA(d) * sizeof(*grad));
	for (size_t i = 0; i < n; i++) {
		const double *xi = gp->x + i * d;

		for (size_t j = 0; j < i; j++) {
			const double *xj = gp->x + j * d;
			double w = a[i] * a[j] - kinv[i * n + j];
			double cw = w * gp->lkd[i * n + j];

			grad[GP_TH_SF2(d)] += w * gp->lkf[i * n + j];
			for (size_t k = 0; k < d; k++) {
				double t = xi[k] - xj[k];

				grad[k] += cw * t * t * il2[k];
			}
		}
		double wii = a[i] * a[i] - kinv[i * n + i];

		grad[GP_TH_SF2(d)] += 0.5 * wii * sf2;
		trw += wii;
		grad[GP_TH_MEAN(d)] += a[i];
	}
	grad[GP_TH_SN2(d)] = 0.5 * sn2 * trw;
}

int gp_lml(struct gp *gp, const double *theta, double *lml, double *grad)
{
	size_t d = gp->d, n = gp->n;
	double mean = theta[GP_TH_MEAN(d)], logdet = 0, ra = 0, *a = gp->kvec;
	double diag = exp(theta[GP_TH_SF2(d)]) + exp(theta[GP_TH_SN2(d)]);
	int err;

	if (!n) {
		*lml = 0;
		if (grad)
			memset(grad, 0, GP_NTHETA(d) * sizeof(*grad));
		return 0;
	}
	err = lml_reserve(gp);
	if (err)
		return err;
	lml_kernel(gp, theta);
	err = lml_factor(gp, diag);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		a[i] = gp->z[i] - mean;
		logdet += log(gp->la[i * n + i]);
	}
	LAPACKE_dpotrs_work(LAPACK_COL_MAJOR, 'U', n, 1, gp->la, n, a, n);
	/* a = K^-1 r; lml = -1/2 r^T a - 1/2 log|K| - n/2 log 2 pi */
	for (size_t i = 0; i < n; i++)
		ra += (gp->z[i] - mean) * a[i];
	*lml = -0.5 * ra - logdet - 0.5 * n * LOG_2PI;
	if (!grad)
		return 0;
	if (LAPACKE_dpotri_work(LAPACK_COL_MAJOR, 'U', n, gp->la, n))
		return gp_fail(gp, -EDOM, "dpotri failed on %zu points", n);
	lml_grad(gp, theta, a, grad);
	return 0;
}

/* --- hyperparameter fit ---------------------------------------------------- */

struct fit_ctx {
	struct gp *gp;
	double best, best_theta[GP_MAX_THETA];
};

static double fit_objective(unsigned int nt, const double *theta, double *grad,
			    void *data)
{
	struct fit_ctx *ctx = data;
	double v;

	if (gp_lml(ctx->gp, theta, &v, grad) || !isfinite(v)) {
		/* steer the line search back; rare with the jitter ladder */
		if (grad)
			memset(grad, 0, nt * sizeof(*grad));
		return -1e10;
	}
	if (v > ctx->best) {
		ctx->best = v;
		memcpy(ctx->best_theta, theta, nt * sizeof(*theta));
	}
	return v;
}

/* A random start in the region where fits usually end up. */
static void random_start(struct gp *gp, double *theta)
{
	size_t d = gp->d;
	struct gp_rng *r = &gp->rng;

	for (size_t k = 0; k < d; k++)
		theta[k] = log(0.05) + gp_rng_uniform(r) * log(2.0 / 0.05);
	theta[GP_TH_SF2(d)] = log(0.3) + gp_rng_uniform(r) * log(10.0);
	theta[GP_TH_SN2(d)] = log(1e-6) + gp_rng_uniform(r) * log(1e4);
	theta[GP_TH_MEAN(d)] = -1.0 + 2.0 * gp_rng_uniform(r);
	for (size_t i = 0; i < GP_NTHETA(d); i++)
		theta[i] = clamp(theta[i], gp->lo[i], gp->hi[i]);
}

int gp_fit(struct gp *gp, unsigned int restarts, double min_gain)
{
	size_t nt = GP_NTHETA(gp->d);
	struct fit_ctx ctx = { .gp = gp, .best = -HUGE_VAL };
	double cur, x[GP_MAX_THETA], v;
	nlopt_opt opt;

	/* two points say nothing about length scales: keep the prior */
	if (gp->n < 3)
		return 0;
	if (gp_lml(gp, gp->theta, &cur, NULL))
		cur = -HUGE_VAL;
	opt = nlopt_create(NLOPT_LD_LBFGS, nt);
	if (!opt)
		return gp_fail(gp, -ENOMEM, "nlopt_create failed");
	nlopt_set_lower_bounds(opt, gp->lo);
	nlopt_set_upper_bounds(opt, gp->hi);
	nlopt_set_max_objective(opt, fit_objective, &ctx);
	nlopt_set_maxeval(opt, FIT_MAXEVAL);
	/*
	 * 1e-4 nats and 0.1% in the log parameters: far below what changes a
	 * suggestion; tighter tolerances cost 2-3x the evaluations.
	 */
	nlopt_set_ftol_abs(opt, 1e-4);
	nlopt_set_xtol_abs1(opt, 1e-3);
	for (unsigned int s = 0; s <= restarts; s++) {
		if (s == 0)
			memcpy(x, gp->theta, nt * sizeof(*x));
		else
			random_start(gp, x);
		/* failures (roundoff, line search) still leave ctx.best */
		nlopt_optimize(opt, x, &v);
	}
	nlopt_destroy(opt);
	if (!(ctx.best > cur + min_gain) || !isfinite(ctx.best)) {
		if (isfinite(cur))
			return 0;
		return gp_fail(gp, -EDOM,
			       "no hyperparameters give a finite "
			       "likelihood");
	}
	gp_set_theta(gp, ctx.best_theta);
	return 1;
}

/* --- candidate cache ------------------------------------------------------- */

struct gp_cache *gp_cache_new(const double *pts, size_t m, size_t d,
			      size_t max_bytes)
{
	struct gp_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ss = calloc(m ? m : 1, sizeof(*c->ss));
	c->ay = calloc(m ? m : 1, sizeof(*c->ay));
	c->a1 = calloc(m ? m : 1, sizeof(*c->a1));
	if (!c->ss || !c->ay || !c->a1) {
		gp_cache_free(c);
		return NULL;
	}
	c->pts = pts;
	c->m = m;
	c->d = d;
	c->max_rows = m ? max_bytes / (m * sizeof(double)) : 0;
	return c;
}

void gp_cache_free(struct gp_cache *c)
{
	if (!c)
		return;
	free(c->v);
	free(c->ss);
	free(c->ay);
	free(c->a1);
	free(c->wy);
	free(c->w1);
	free(c);
}

/* k(x, pts[j]) for j in [0, cnt): one row of K(X, candidates). */
static void kernel_row(const struct gp *gp, const double *x, const double *pts,
		       size_t cnt, double *out)
{
	size_t d = gp->d;
	double il2[GP_MAX_DIMS], sf2 = exp(gp->theta[GP_TH_SF2(d)]);

	inv_ls2(gp->theta, d, il2);
	for (size_t j = 0; j < cnt; j++)
		out[j] = matern52(sqdist(x, pts + j * d, il2, d), sf2);
}

static int cache_reserve(struct gp *gp, struct gp_cache *c, size_t rows)
{
	size_t cap = c->cap_rows ? c->cap_rows : 16;
	double *v, *wy, *w1;

	if (rows <= c->cap_rows)
		return 0;
	while (cap < rows)
		cap *= 2;
	if (cap > c->max_rows)
		cap = c->max_rows;
	v = realloc(c->v, cap * c->m * sizeof(*v));
	if (v)
		c->v = v;
	wy = realloc(c->wy, cap * sizeof(*wy));
	if (wy)
		c->wy = wy;
	w1 = realloc(c->w1, cap * sizeof(*w1));
	if (w1)
		c->w1 = w1;
	if (!v || !wy || !w1)
		return gp_fail(gp, -ENOMEM, "out of memory for the cache");
	c->cap_rows = cap;
	return 0;
}

/* Row i of wy and w1 by forward substitution, then the three sums. */
static void cache_accumulate(const struct gp *gp, struct gp_cache *c, size_t i)
{
	const double *l = gp->L + i * gp->cap, *row = c->v + i * c->m;
	double wy = gp->y[i] - c->y0, w1 = 1.0;

	for (size_t k = 0; k < i; k++) {
		wy -= l[k] * c->wy[k];
		w1 -= l[k] * c->w1[k];
	}
	wy /= l[i];
	w1 /= l[i];
	c->wy[i] = wy;
	c->w1[i] = w1;
	for (size_t j = 0; j < c->m; j++) {
		c->ss[j] += row[j] * row[j];
		c->ay[j] += row[j] * wy;
		c->a1[j] += row[j] * w1;
	}
}

/* Appends rows [c->rows, n) of V: one kernel row, one gemv, one scale. */
static void cache_extend(struct gp *gp, struct gp_cache *c)
{
	size_t m = c->m, n = gp->n, d = gp->d, i = c->rows;

	if (i == 0) {
		/* a rebuild: one dtrsm is much faster than n gemv */
		for (size_t r = 0; r < n; r++)
			kernel_row(gp, gp->x + r * d, c->pts, m, c->v + r * m);
		cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans,
			    CblasNonUnit, n, m, 1.0, gp->L, gp->cap, c->v, m);
		memset(c->ss, 0, m * sizeof(*c->ss));
		memset(c->ay, 0, m * sizeof(*c->ay));
		memset(c->a1, 0, m * sizeof(*c->a1));
		c->y0 = gp->y[0];
		for (; i < n; i++)
			cache_accumulate(gp, c, i);
	}
	for (; i < n; i++) {
		double *row = c->v + i * m, inv = 1.0 / gp->L[i * gp->cap + i];

		kernel_row(gp, gp->x + i * d, c->pts, m, row);
		cblas_dgemv(CblasRowMajor, CblasTrans, i, m, -1.0, c->v, m,
			    gp->L + i * gp->cap, 1, 1.0, row, 1);
		for (size_t j = 0; j < m; j++)
			row[j] *= inv;
		cache_accumulate(gp, c, i);
	}
	c->rows = n;
}

/*
 * mean = c + k^T K^-1 (y - c) with c = ymean + ystd * theta_mean, which
 * splits into c + ay - (c - y0) a1 with the sums of struct gp_cache.
 */
static void cache_output(const struct gp *gp, const struct gp_cache *c,
			 double *mean, double *var)
{
	size_t d = gp->d;
	double s = gp->ystd, sf2 = exp(gp->theta[GP_TH_SF2(d)]);
	double c0 = gp->ymean + s * gp->theta[GP_TH_MEAN(d)];

	for (size_t j = 0; j < c->m; j++) {
		mean[j] = c0 + c->ay[j] - (c0 - c->y0) * c->a1[j];
		var[j] = fmax(sf2 - c->ss[j], 0.0) * s * s;
	}
}

/* mean and var of cnt candidates from a block of V (ld apart). */
static void block_output(const struct gp *gp, const double *v, size_t ld,
			 size_t cnt, double *mean, double *var)
{
	size_t d = gp->d, n = gp->n;
	double m0 = gp->theta[GP_TH_MEAN(d)],
	       sf2 = exp(gp->theta[GP_TH_SF2(d)]);
	double s = gp->ystd;

	if (n)
		cblas_dgemv(CblasRowMajor, CblasTrans, n, cnt, 1.0, v, ld,
			    gp->beta, 1, 0.0, mean, 1);
	else
		memset(mean, 0, cnt * sizeof(*mean));
	for (size_t j = 0; j < cnt; j++) {
		double ss = 0;

		for (size_t i = 0; i < n; i++)
			ss += v[i * ld + j] * v[i * ld + j];
		mean[j] = gp->ymean + s * (m0 + mean[j]);
		var[j] = fmax(sf2 - ss, 0.0) * s * s;
	}
}

#define BLOCK 512

/* Without room for V (or data): recompute it block by block. */
static int predict_blocks(struct gp *gp, struct gp_cache *c, double *mean,
			  double *var)
{
	size_t n = gp->n, d = gp->d;
	double *v = n ? malloc(n * BLOCK * sizeof(*v)) : NULL;

	if (n && !v)
		return gp_fail(gp, -ENOMEM, "out of memory for a block");
	for (size_t j0 = 0; j0 < c->m; j0 += BLOCK) {
		size_t cnt = c->m - j0 < BLOCK ? c->m - j0 : BLOCK;

		for (size_t i = 0; i < n; i++)
			kernel_row(gp, gp->x + i * d, c->pts + j0 * d, cnt,
				   v + i * cnt);
		if (n)
			cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower,
				    CblasNoTrans, CblasNonUnit, n, cnt, 1.0,
				    gp->L, gp->cap, v, cnt);
		block_output(gp, v, cnt, cnt, mean + j0, var + j0);
	}
	free(v);
	return 0;
}

int gp_predict_cached(struct gp *gp, struct gp_cache *c, double *mean,
		      double *var)
{
	int err;

	if (c->d != gp->d)
		return gp_fail(gp, -EINVAL,
			       "cache of %zu-D points for a %zu-D GP", c->d,
			       gp->d);
	err = gp_ensure(gp);
	if (err)
		return err;
	if (c->owner != gp || c->gen != gp->gen || c->rows > gp->n) {
		c->owner = gp;
		c->gen = gp->gen;
		c->rows = 0;
	}
	if (!gp->n || gp->n > c->max_rows) {
		c->rows = 0;
		return predict_blocks(gp, c, mean, var);
	}
	err = cache_reserve(gp, c, gp->n);
	if (err)
		return err;
	cache_extend(gp, c);
	cache_output(gp, c, mean, var);
	return 0;
}
