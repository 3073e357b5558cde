// SPDX-License-Identifier: GPL-2.0-only
/*
 * Search-space geometry for the Bayesian optimizer; see space.h. Rejects
 * what cannot be optimized (empty or single-point dimensions, non-finite
 * bounds, duplicate listed values) up front, so bo.c never meets it.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "space.h"

/* More levels than this per dimension is a continuous range in disguise. */
#define MAX_LEVELS 100000000.0

static const char *dim_name(const struct bo_dim *d, size_t i, char *buf,
			    size_t len)
{
	if (d->name)
		return d->name;
	snprintf(buf, len, "%zu", i);
	return buf;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int check_list(const struct bo_dim *d, const char *name, char *err,
		      size_t errlen)
{
	double *v;
	int ret = 0;

	if (!d->values || d->n_values == 0) {
		snprintf(err, errlen, "dimension %s: empty list of values",
			 name);
		return -EINVAL;
	}
	if (d->n_values == 1) {
		snprintf(err, errlen,
			 "dimension %s: zero width (one value, %g): drop it "
			 "from the space",
			 name, d->values[0]);
		return -EINVAL;
	}
	v = malloc(d->n_values * sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(v, d->values, d->n_values * sizeof(*v));
	qsort(v, d->n_values, sizeof(*v), cmp_double);
	for (size_t k = 0; k < d->n_values && !ret; k++) {
		if (!isfinite(v[k])) {
			snprintf(err, errlen,
				 "dimension %s: value %g is not finite", name,
				 v[k]);
			ret = -EINVAL;
		} else if (k && v[k] == v[k - 1]) {
			snprintf(err, errlen,
				 "dimension %s: value %g listed twice", name,
				 v[k]);
			ret = -EINVAL;
		}
	}
	free(v);
	return ret;
}

static int check_dim(const struct bo_dim *d, const char *name, char *err,
		     size_t errlen)
{
	double levels;

	if (d->kind == BO_DIM_LIST)
		return check_list(d, name, err, errlen);
	if (d->kind != BO_DIM_CONTINUOUS && d->kind != BO_DIM_STEP) {
		snprintf(err, errlen, "dimension %s: unknown kind %d", name,
			 (int)d->kind);
		return -EINVAL;
	}
	if (!isfinite(d->min) || !isfinite(d->max)) {
		snprintf(err, errlen,
			 "dimension %s: bounds [%g, %g] not finite", name,
			 d->min, d->max);
		return -EINVAL;
	}
	if (d->max < d->min) {
		snprintf(err, errlen, "dimension %s: empty range [%g, %g]",
			 name, d->min, d->max);
		return -EINVAL;
	}
	if (d->kind == BO_DIM_CONTINUOUS) {
		if (d->max == d->min) {
			snprintf(err, errlen,
				 "dimension %s: zero width (min = max = %g): "
				 "drop it from the space",
				 name, d->min);
			return -EINVAL;
		}
		return 0;
	}
	if (!isfinite(d->step) || d->step <= 0) {
		snprintf(err, errlen, "dimension %s: step %g must be > 0", name,
			 d->step);
		return -EINVAL;
	}
	levels = floor((d->max - d->min) / d->step + 1e-9) + 1;
	if (levels < 2) {
		snprintf(err, errlen,
			 "dimension %s: zero width (step %g leaves only %g in "
			 "[%g, %g])",
			 name, d->step, d->min, d->min, d->max);
		return -EINVAL;
	}
	if (levels > MAX_LEVELS) {
		snprintf(err, errlen,
			 "dimension %s: %g levels; use a continuous dimension",
			 name, levels);
		return -EINVAL;
	}
	return 0;
}

int space_check(const struct bo_space *sp, char *err, size_t errlen)
{
	char buf[24];
	int ret;

	if (!sp || sp->ndims < 1 || sp->ndims > BO_MAX_DIMS ||
	    sp->ndims > GP_MAX_DIMS) {
		snprintf(err, errlen, "space must have 1..%d dimensions",
			 BO_MAX_DIMS);
		return -EINVAL;
	}
	for (size_t i = 0; i < sp->ndims; i++) {
		const struct bo_dim *d = &sp->dims[i];

		ret = check_dim(d, dim_name(d, i, buf, sizeof(buf)), err,
				errlen);
		if (ret)
			return ret;
	}
	return 0;
}

int space_copy(struct bo_space *dst, const struct bo_space *src)
{
	*dst = *src;
	/* names are cosmetic and the caller's strings may not outlive us */
	for (size_t i = 0; i < dst->ndims; i++) {
		dst->dims[i].name = NULL;
		if (dst->dims[i].kind == BO_DIM_LIST)
			dst->dims[i].values = NULL;
	}
	for (size_t i = 0; i < dst->ndims; i++) {
		struct bo_dim *d = &dst->dims[i];
		double *v;

		if (d->kind != BO_DIM_LIST)
			continue;
		v = malloc(d->n_values * sizeof(*v));
		if (!v) {
			space_release(dst);
			return -ENOMEM;
		}
		memcpy(v, src->dims[i].values, d->n_values * sizeof(*v));
		qsort(v, d->n_values, sizeof(*v), cmp_double);
		d->values = v;
	}
	return 0;
}

void space_release(struct bo_space *sp)
{
	for (size_t i = 0; i < sp->ndims; i++) {
		if (sp->dims[i].kind == BO_DIM_LIST) {
			free((double *)sp->dims[i].values);
			sp->dims[i].values = NULL;
		}
	}
}

size_t space_levels(const struct bo_dim *d)
{
	switch (d->kind) {
	case BO_DIM_STEP:
		return (size_t)(floor((d->max - d->min) / d->step + 1e-9) + 1);
	case BO_DIM_LIST:
		return d->n_values;
	default:
		return 0;
	}
}

double space_grid_size(const struct bo_space *sp)
{
	double size = 1;

	for (size_t i = 0; i < sp->ndims; i++) {
		size_t l = space_levels(&sp->dims[i]);

		if (!l)
			return INFINITY;
		size *= (double)l;
	}
	return size;
}

/* The range the unit box maps to: the grid's ends for stepped dims. */
static void dim_range(const struct bo_dim *d, double *lo, double *hi)
{
	switch (d->kind) {
	case BO_DIM_STEP:
		*lo = d->min;
		*hi = d->min + (double)(space_levels(d) - 1) * d->step;
		break;
	case BO_DIM_LIST:
		*lo = d->values[0];
		*hi = d->values[d->n_values - 1];
		break;
	default:
		*lo = d->min;
		*hi = d->max;
	}
}

int space_in_bounds(const struct bo_space *sp, const double *x, char *err,
		    size_t errlen)
{
	for (size_t i = 0; i < sp->ndims; i++) {
		const struct bo_dim *d = &sp->dims[i];
		double lo = d->min, hi = d->max, tol;

		if (d->kind == BO_DIM_LIST)
			dim_range(d, &lo, &hi);
		tol = 1e-9 * (hi - lo);
		if (!isfinite(x[i])) {
			snprintf(err, errlen, "coordinate %zu is not finite",
				 i);
			return -EDOM;
		}
		if (x[i] < lo - tol || x[i] > hi + tol) {
			snprintf(err, errlen,
				 "coordinate %zu = %g outside [%g, %g]", i,
				 x[i], lo, hi);
			return -ERANGE;
		}
	}
	return 0;
}

static double level_unit(const struct bo_dim *d, size_t k)
{
	double lo, hi;

	if (d->kind == BO_DIM_STEP)
		return (double)k / (double)(space_levels(d) - 1);
	dim_range(d, &lo, &hi);
	return (d->values[k] - lo) / (hi - lo);
}

/* Nearest level to unit coordinate u. */
static size_t level_of(const struct bo_dim *d, double u)
{
	size_t n = space_levels(d), lo = 0, hi;
	double k;

	if (d->kind == BO_DIM_STEP) {
		k = round(u * (double)(n - 1));
		return k < 0 ? 0 : k > n - 1 ? n - 1 : (size_t)k;
	}
	/* listed: binary search for the first level >= u, then compare */
	hi = n - 1;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (level_unit(d, mid) < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && u - level_unit(d, lo - 1) <= level_unit(d, lo) - u)
		return lo - 1;
	return lo;
}

void space_snap(const struct bo_space *sp, double *u)
{
	for (size_t i = 0; i < sp->ndims; i++) {
		const struct bo_dim *d = &sp->dims[i];

		u[i] = u[i] < 0 ? 0 : u[i] > 1 ? 1 : u[i];
		if (d->kind != BO_DIM_CONTINUOUS)
			u[i] = level_unit(d, level_of(d, u[i]));
	}
}

void space_to_unit(const struct bo_space *sp, const double *x, double *u)
{
	for (size_t i = 0; i < sp->ndims; i++) {
		double lo, hi;

		dim_range(&sp->dims[i], &lo, &hi);
		u[i] = (x[i] - lo) / (hi - lo);
	}
	space_snap(sp, u);
}

void space_from_unit(const struct bo_space *sp, const double *u, double *x)
{
	for (size_t i = 0; i < sp->ndims; i++) {
		const struct bo_dim *d = &sp->dims[i];
		double v = u[i] < 0 ? 0 : u[i] > 1 ? 1 : u[i], lo, hi;
		size_t k;

		switch (d->kind) {
		case BO_DIM_STEP:
			k = level_of(d, v);
			x[i] = d->min + (double)k * d->step;
			break;
		case BO_DIM_LIST:
			x[i] = d->values[level_of(d, v)];
			break;
		default:
			dim_range(d, &lo, &hi);
			x[i] = lo + v * (hi - lo);
			/* lo + 1 * (hi - lo) may round past hi */
			x[i] = x[i] > hi ? hi : x[i];
		}
	}
}

void space_grid_point(const struct bo_space *sp, size_t idx, double *u)
{
	for (size_t i = 0; i < sp->ndims; i++) {
		size_t n = space_levels(&sp->dims[i]);

		u[i] = level_unit(&sp->dims[i], idx % n);
		idx /= n;
	}
}

size_t space_grid_index(const struct bo_space *sp, const double *u)
{
	size_t idx = 0, mul = 1;

	for (size_t i = 0; i < sp->ndims; i++) {
		const struct bo_dim *d = &sp->dims[i];

		idx += level_of(d, u[i]) * mul;
		mul *= space_levels(d);
	}
	return idx;
}

int space_lhs(const struct bo_space *sp, struct gp_rng *r, size_t n, double *u)
{
	size_t d = sp->ndims, *perm;

	if (!n)
		return 0;
	perm = malloc(n * sizeof(*perm));
	if (!perm)
		return -ENOMEM;
	for (size_t i = 0; i < d; i++) {
		for (size_t k = 0; k < n; k++)
			perm[k] = k;
		for (size_t k = n - 1; k > 0; k--) {
			size_t j = gp_rng_below(r, k + 1), t = perm[k];

			perm[k] = perm[j];
			perm[j] = t;
		}
		for (size_t k = 0; k < n; k++)
			u[k * d + i] =
				(perm[k] + gp_rng_uniform(r)) / (double)n;
	}
	for (size_t k = 0; k < n; k++)
		space_snap(sp, u + k * d);
	free(perm);
	return 0;
}
