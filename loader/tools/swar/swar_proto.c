// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt-swar-proto: the measurement harness of the lane-pair evaluator
 * prototype (include/kopt/mlp_swar.h). Not a kopt command, not part of
 * the model format: a quantizer for the prototype's number format, a
 * wide-arithmetic reference of it, and two experiments.
 *
 *   kopt-swar-proto count SHAPE zero|small|wide COUNT
 *	quantizes the random float model `kopt bench mlp` uses for SHAPE
 *	(seed 1) both ways (kopt_model_quantize with 16 fractional bits,
 *	and swar_quantize below), then evaluates both COUNT times on the
 *	feature tables loader/tools/kcost/ generates, each with its kernel
 *	build (swar_eval.c); the new logit must equal the wide reference's
 *	every time. count.sh runs this under an instruction counter.
 *
 *   kopt-swar-proto agree [R]
 *	decision agreement (logit >= threshold) of the float model, the
 *	current quantization and the prototype's, input ranges of +-R
 *	standard deviations (default 8): random models of each shape on
 *	synthetic inputs, and a 7-16-1 trained by kopt_train on the
 *	synthetic dataset of `kopt bench train`.
 *
 * Exit: 0 fine, 1 a mismatch, 2 usage or a model that does not quantize.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kopt/mlp_swar.h"
#include "kcost/kcost_inputs.h"
#include "model.h"
#include "train.h"
#include "swar_eval.h"

#define SEED 1
#define FRAC_BITS 16
#define X_MAX KOPT_SWAR_X_MAX

/* The prototype's model unpacked: what a .kmlp would carry. */
struct swar_model {
	__u32 n_in, n_hidden, units[KOPT_MLP_MAX_HIDDEN], frac_bits;
	__s32 threshold;
	__u32 feature[KOPT_MLP_MAX_IN];
	__u32 in_shift[KOPT_MLP_MAX_IN];
	__s64 in_lo[KOPT_MLP_MAX_IN];
	__u64 in_hi[KOPT_MLP_MAX_IN];
	__u32 k[KOPT_MLP_LAYERS]; /* accumulator fractional bits */
	__u32 hshift; /* layer 0 -> layer 1 narrowing (n_hidden == 2) */
	__u32 out_shift;
	__s32 w[KOPT_MLP_LAYERS][KOPT_MLP_MAX_UNITS][KOPT_MLP_WIDTH];
	__s64 b[KOPT_MLP_LAYERS][KOPT_MLP_MAX_UNITS]; /* rounding included */
};

static __u32 layer_in(const struct swar_model *m, __u32 l)
{
	return l == 0 ? m->n_in : m->units[l - 1];
}

static __u32 layer_out(const struct swar_model *m, __u32 l)
{
	return l == m->n_hidden ? 1 : m->units[l];
}

/* ---- the bound ------------------------------------------------------------ */

/*
 * Whether hidden unit j of layer l keeps its exact sum in its 32-bit
 * lane for every input in [0, X_MAX]: the check a loader would do.
 */
static bool lane_ok(const struct swar_model *m, __u32 l, __u32 j)
{
	__int128 hi = m->b[l][j], lo = m->b[l][j];
	__u32 i;

	for (i = 0; i < layer_in(m, l); i++) {
		__u64 xmax = l == 0 ? m->in_hi[i] : X_MAX;

		if (m->w[l][j][i] > 0)
			hi += (__int128)m->w[l][j][i] * xmax;
		else
			lo += (__int128)m->w[l][j][i] * xmax;
	}
	return hi <= KOPT_SWAR_LANE_MAX && lo >= -KOPT_SWAR_LANE_MAX - 1;
}

/* The output unit's 63-bit bound (mlp_fixed.h's), inputs below xmax. */
static bool out_ok(const struct swar_model *m, __u64 xmax)
{
	__u32 l = m->n_hidden, i;
	unsigned __int128 sum = 0;
	__int128 b = m->b[l][0];

	for (i = 0; i < layer_in(m, l); i++)
		sum += (__u64)llabs(m->w[l][0][i]);
	return sum * xmax + (unsigned __int128)(b < 0 ? -b : b) <=
	       (unsigned __int128)INT64_MAX;
}

/* ---- the quantizer ------------------------------------------------------ */

/* Raw feature values of one row, for calibration and tests. */
struct rows {
	long n;
	__u32 d;
	double *x; /* n * d, raw (un-normalized) values */
};

/*
 * Layer l's weights and biases at accumulator scale 2^k: real weights
 * wr[j][i] (applied to the layer's integer inputs), biases br[j]
 * (without the rounding constant rnd). False if a weight exceeds s32 or
 * the bound fails.
 */
static bool quantize_at(struct swar_model *m, __u32 l, int k,
			double wr[KOPT_MLP_MAX_UNITS][KOPT_MLP_WIDTH],
			const double *br, __s64 rnd, bool lanes)
{
	__u32 j, i;

	for (j = 0; j < layer_out(m, l); j++) {
		double bq = ldexp(br[j], k);

		if (fabs(bq) >= 0x1p62)
			return false;
		m->b[l][j] = llround(bq) + rnd;
		for (i = 0; i < layer_in(m, l); i++) {
			double wq = ldexp(wr[j][i], k);

			if (fabs(wq) > KOPT_MLP_S32_MAX)
				return false;
			m->w[l][j][i] = (__s32)llround(wq);
		}
		if (lanes && !lane_ok(m, l, j))
			return false;
	}
	m->k[l] = k;
	return true;
}

/* Every unit's S of layer 0 on one raw row, as the evaluator has it. */
static __u64 swar_in(const struct swar_model *m, __u32 i, __s64 x);

static __s64 wide_unit(const struct swar_model *m, __u32 l, __u32 j,
		       const __u64 *x)
{
	__s64 s = m->b[l][j];
	__u32 i;

	for (i = 0; i < layer_in(m, l); i++)
		s += (__s64)m->w[l][j][i] * (__s64)x[i];
	return s;
}

static __s64 clamp_s64(double v)
{
	if (v >= 0x1p63)
		return INT64_MAX;
	if (v <= -0x1p63)
		return INT64_MIN;
	return (__s64)v;
}

/*
 * The prototype's quantization of f: inputs over mean +- R scale in 16
 * bits, then each layer at the most fractional bits its bound allows;
 * the narrowing shift of a 2-hidden-layer model from calibration rows
 * (the smallest that clamps none of them). 0, or -EINVAL.
 */
static int swar_quantize(const struct kopt_mlp_float *f, double R,
			 __u32 frac_bits, const struct rows *cal,
			 struct swar_model *m)
{
	static double wr[KOPT_MLP_MAX_UNITS][KOPT_MLP_WIDTH];
	double br[KOPT_MLP_MAX_UNITS], alpha[KOPT_MLP_MAX_IN],
		beta[KOPT_MLP_MAX_IN], in_scale, t;
	__u32 l, j, i, n_out, n_in;
	int k;

	memset(m, 0, sizeof(*m));
	m->n_in = f->n_in;
	m->n_hidden = f->n_hidden;
	memcpy(m->units, f->units, sizeof(m->units));
	memcpy(m->feature, f->feature, sizeof(m->feature));
	m->frac_bits = frac_bits;
	/* inputs: x ~ (x' + lo) 2^s + (2^s - 1) / 2 */
	for (i = 0; i < f->n_in; i++) {
		double span = 2 * R * f->scale[i], lo, hi;
		int s = 0;

		while (ldexp(span, -s) > X_MAX - 1)
			s++;
		if (s > 62)
			return -EINVAL;
		lo = floor(ldexp(f->mean[i] - R * f->scale[i], -s));
		hi = ceil(ldexp(f->mean[i] + R * f->scale[i], -s));
		if (fabs(lo) >= 0x1p62)
			return -EINVAL;
		m->in_shift[i] = s;
		m->in_lo[i] = (__s64)lo;
		m->in_hi[i] = hi - lo < 1     ? 1 :
			      hi - lo > X_MAX ? X_MAX :
						(__u64)(hi - lo);
		alpha[i] = ldexp(1, s) / f->scale[i];
		beta[i] = ((double)m->in_lo[i] * ldexp(1, s) +
			   (ldexp(1, s) - 1) / 2 - f->mean[i]) /
			  f->scale[i];
	}
	/* scale of each layer's integer inputs: real = int * in_scale */
	in_scale = 1;
	for (l = 0; l <= m->n_hidden; l++) {
		bool last_hidden = l + 1 == m->n_hidden, out = l == m->n_hidden;
		__s64 rnd;

		n_in = layer_in(m, l);
		n_out = layer_out(m, l);
		for (j = 0; j < n_out; j++) {
			br[j] = f->b[l][j];
			for (i = 0; i < n_in; i++) {
				if (l == 0) {
					wr[j][i] = f->w[l][j][i] * alpha[i];
					br[j] += f->w[l][j][i] * beta[i];
				} else {
					wr[j][i] = f->w[l][j][i] * in_scale;
				}
			}
		}
		for (k = 62; k >= -62; k--) {
			if (out) {
				/* wr carries the input scale: 2^k */
				int sh = k - (int)frac_bits;

				if (sh < 0)
					return -EINVAL;
				if (sh > KOPT_MLP_MAX_SHIFT)
					continue;
				rnd = kopt_mlp_half(sh);
				if (quantize_at(m, l, k, wr, br, rnd, false) &&
				    out_ok(m, l ? KOPT_SWAR_LANE_MAX : X_MAX)) {
					m->out_shift = sh;
					break;
				}
				continue;
			}
			if (quantize_at(m, l, k, wr, br, 0, true))
				break;
		}
		if (k < -62)
			return -EINVAL;
		if (out)
			break;
		/* the output's weights apply to max(S, 0) at 2^-k */
		in_scale = ldexp(1, -k);
		if (!last_hidden && !out) {
			/* 2 hidden layers: narrowing shift from calibration */
			__s64 smax = 0;
			__u64 x[KOPT_MLP_WIDTH];
			long r;
			__u32 sh = 0;

			for (r = 0; r < cal->n; r++) {
				for (i = 0; i < m->n_in; i++)
					x[i] = swar_in(
						m, i,
						clamp_s64(
							cal->x[r * cal->d + i]));
				for (j = 0; j < n_out; j++) {
					__s64 s = wide_unit(m, l, j, x);

					if (s > smax)
						smax = s;
				}
			}
			while (sh < 31 && (smax >> sh) > X_MAX)
				sh++;
			/* round, if that keeps the bound */
			if (sh) {
				for (j = 0; j < n_out; j++)
					m->b[l][j] += 1LL << (sh - 1);
				for (j = 0; j < n_out; j++)
					if (!lane_ok(m, l, j))
						break;
				if (j < n_out)
					for (j = 0; j < n_out; j++)
						m->b[l][j] -= 1LL << (sh - 1);
			}
			m->hshift = sh;
			in_scale = ldexp(1, (int)sh - k);
		}
	}
	t = round(ldexp(f->threshold, frac_bits));
	m->threshold = t > KOPT_MLP_S32_MAX ? KOPT_MLP_S32_MAX :
		       t < KOPT_MLP_S32_MIN ? KOPT_MLP_S32_MIN :
					      (__s32)t;
	return 0;
}

/* The map value: lane pairs packed. */
static void swar_pack(const struct swar_model *m, struct kopt_swar *out)
{
	__u32 l, j, i;

	memset(out, 0, sizeof(*out));
	out->n_in = m->n_in;
	out->n_hidden = m->n_hidden;
	out->frac_bits = m->frac_bits;
	out->threshold = m->threshold;
	for (i = 0; i < m->n_in; i++) {
		out->in[i].feature = m->feature[i];
		out->in[i].shift = m->in_shift[i];
		out->in[i].lo = m->in_lo[i];
		out->in[i].hi = m->in_hi[i];
	}
	for (l = 0; l < m->n_hidden; l++) {
		struct kopt_swar_layer *L = &out->hidden[l];

		L->pairs = (m->units[l] + 1) / 2;
		L->shift = l == 0 && m->n_hidden == 2 ? m->hshift : 0;
		for (j = 0; j < m->units[l]; j++) {
			__u32 p = j / 2, sh = j % 2 ? 32 : 0;

			L->bias[p] += (__u64)m->b[l][j] << sh;
			if (!sh) /* the low lane's offset: mlp_swar.h */
				L->bias[p] += KOPT_SWAR_LO_BIAS;
			for (i = 0; i < layer_in(m, l); i++)
				L->w[p][i] += (__u64)(__s64)m->w[l][j][i] << sh;
		}
	}
	out->out.n_in = layer_in(m, l);
	out->out.shift = m->out_shift;
	out->out.bias = m->b[l][0];
	for (i = 0; i < out->out.n_in; i++)
		out->out.w[i] = m->w[l][0][i];
}

/* ---- the wide reference ------------------------------------------------- */

static __u64 swar_in(const struct swar_model *m, __u32 i, __s64 x)
{
	__int128 v = (__int128)(x >> (m->in_shift[i] & 63)) - m->in_lo[i];

	/* the evaluator's difference wraps (mlp_swar.h): so does this */
	if (v > INT64_MAX)
		v -= (__int128)1 << 64;
	else if (v < INT64_MIN)
		v += (__int128)1 << 64;

	return v < 0 ? 0 : v > m->in_hi[i] ? m->in_hi[i] : (__u64)v;
}

/*
 * The prototype's arithmetic unit by unit, in wide integers, from the
 * unpacked model; aborts if a lane sum leaves 32 bits (the bound says
 * it cannot).
 */
static __s32 swar_ref(const struct swar_model *m, const __s64 *feat)
{
	__u64 x[KOPT_MLP_WIDTH], y[KOPT_MLP_WIDTH], o;
	__u32 l, j, i, n = m->n_in;

	for (i = 0; i < n; i++)
		x[i] = swar_in(m, i, feat[m->feature[i]]);
	for (l = 0; l < m->n_hidden; l++) {
		for (j = 0; j < m->units[l]; j++) {
			__s64 s = wide_unit(m, l, j, x);

			if (s > KOPT_SWAR_LANE_MAX ||
			    s < -KOPT_SWAR_LANE_MAX - 1) {
				fprintf(stderr,
					"lane overflow: layer %u "
					"unit %u\n",
					l, j);
				abort();
			}
			if (s < 0)
				s = 0;
			if (l + 1 < m->n_hidden) {
				s >>= m->hshift;
				if (s > X_MAX)
					s = X_MAX;
			}
			y[j] = s;
		}
		n = m->units[l];
		memcpy(x, y, n * sizeof(x[0]));
	}
	o = m->b[l][0];
	for (i = 0; i < n; i++)
		o += (__u64)(__s64)m->w[l][0][i] * x[i];
	return (__s32)kopt_mlp_sat32((__s64)o >> (m->out_shift & 63));
}

/* ---- inputs ----------------------------------------------------------------- */

/* the sequence of loader/tools/kcost/ (kcost_inputs.h) */
static __u64 rng = KOPT_KCOST_SEED;

static __u64 next_u64(void)
{
	return kopt_kcost_next(&rng);
}

static double unif(void)
{
	return (next_u64() >> 11) * 0x1p-53;
}

static double gauss(void)
{
	double u = unif(), v = unif();

	return sqrt(-2 * log(u + 0x1p-60)) * cos(2 * M_PI * v);
}

/* ---- models ----------------------------------------------------------------- */

static int make_float(const char *shape, struct kopt_mlp_float *f)
{
	struct kopt_model *m = calloc(1, sizeof(*m));
	char err[KOPT_MODEL_ERR];
	__u32 i;
	int ret;

	if (!m)
		return -ENOMEM;
	ret = kopt_model_parse_shape(shape, m, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s: %s\n", shape, err);
		free(m);
		return ret;
	}
	for (i = 0; i < m->n_in; i++)
		m->feature[i] = i % KOPT_FEAT_NR;
	kopt_mlp_float_random(f, m, SEED);
	free(m);
	return 0;
}

/* Calibration rows: mean + scale * N(0, 1) per input. */
static int gauss_rows(const struct kopt_mlp_float *f, long n, struct rows *r)
{
	long k;
	__u32 i;

	r->n = n;
	r->d = f->n_in;
	r->x = malloc(n * f->n_in * sizeof(double));
	if (!r->x)
		return -ENOMEM;
	for (k = 0; k < n; k++)
		for (i = 0; i < f->n_in; i++)
			r->x[k * r->d + i] = f->mean[i] + f->scale[i] * gauss();
	return 0;
}

static int both(const struct kopt_mlp_float *f, double R, struct kopt_mlp *old,
		struct swar_model *sm, struct kopt_swar *sw)
{
	struct kopt_model *m = malloc(sizeof(*m));
	char err[KOPT_MODEL_ERR];
	struct rows cal;
	int ret;

	if (!m || gauss_rows(f, 2000, &cal)) {
		free(m);
		return -ENOMEM;
	}
	ret = kopt_model_quantize(f, FRAC_BITS, m, err, sizeof(err));
	if (ret)
		fprintf(stderr, "current quantizer: %s\n", err);
	else
		kopt_model_to_mlp(m, old);
	if (!ret) {
		ret = swar_quantize(f, R, FRAC_BITS, &cal, sm);
		if (ret)
			fprintf(stderr, "prototype quantizer failed\n");
		else
			swar_pack(sm, sw);
	}
	free(cal.x);
	free(m);
	return ret;
}

/* ---- count -------------------------------------------------------------- */

static int cmd_count(int argc, char **argv)
{
	static struct kopt_mlp_float f;
	static struct kopt_mlp old;
	static struct swar_model sm;
	static struct kopt_swar sw;
	__s64 feat[32] = { 0 };
	long count, k, bad = 0;
	__s32 l1, l2, l3, l4;
	int i, st1, st2;

	if (argc != 5)
		return 2;
	count = atol(argv[4]);
	if (make_float(argv[2], &f) || both(&f, 8, &old, &sm, &sw))
		return 2;
	rng = KOPT_KCOST_SEED; /* the feature tables of kcost */
	for (k = 0; k < count; k++) {
		for (i = 0; i < KOPT_FEAT_NR; i++)
			feat[i] = kopt_kcost_feature(&rng, argv[3]);
		l1 = l2 = 0;
		st1 = kopt_swar_kcost_old(&old, feat, &l1);
		st2 = kopt_swar_kcost_new(&sw, feat, &l2);
		st2 |= kopt_swar_kcost_new32(&sw, feat, &l4);
		l3 = swar_ref(&sm, feat);
		if (st1 || st2 || l2 != l3 || l4 != l3) {
			if (!bad)
				fprintf(stderr,
					"evaluation %ld: status %d %d, logit "
					"%d, reference %d\n",
					k, st1, st2, l2, l3);
			bad++;
		}
	}
	if (bad) {
		fprintf(stderr, "%ld of %ld differ\n", bad, count);
		return 1;
	}
	return 0;
}

/* ---- agree ----------------------------------------------------------------- */

struct tally {
	long n, old_float, new_float, new_old, pos_float;
	double err_old, err_new; /* mean |logit - float| */
};

static void tally_row(struct tally *t, const struct kopt_mlp *old,
		      const struct kopt_swar *sw, const struct swar_model *sm,
		      const struct kopt_mlp_float *f, const double *raw)
{
	__s64 feat[KOPT_FEAT_NR] = { 0 };
	double z, zo, zn;
	__s32 lo, ln;
	int df, dol, dn;
	__u32 i;

	for (i = 0; i < f->n_in; i++)
		feat[f->feature[i]] = clamp_s64(round(raw[i]));
	/* the float model on the integer features both evaluators see */
	{
		double xi[KOPT_MLP_MAX_IN];

		for (i = 0; i < f->n_in; i++)
			xi[i] = (double)feat[f->feature[i]];
		z = kopt_mlp_float_eval(f, xi);
	}
	kopt_swar_kcost_old(old, feat, &lo);
	kopt_swar_kcost_new(sw, feat, &ln);
	if (ln != swar_ref(sm, feat)) {
		fprintf(stderr, "swar != reference\n");
		exit(1);
	}
	zo = ldexp(lo, -(int)old->frac_bits);
	zn = ldexp(ln, -(int)sw->frac_bits);
	df = z >= f->threshold;
	dol = lo >= old->threshold;
	dn = ln >= sw->threshold;
	t->n++;
	t->pos_float += df;
	t->old_float += dol == df;
	t->new_float += dn == df;
	t->new_old += dn == dol;
	t->err_old += fabs(zo - z);
	t->err_new += fabs(zn - z);
}

static void tally_print(const char *what, const struct tally *t)
{
	printf("%-44s %7ld %6.1f%% | %8.4f%% %8.4f%% %8.4f%% | %.2e %.2e\n",
	       what, t->n, 100.0 * t->pos_float / t->n,
	       100.0 * t->old_float / t->n, 100.0 * t->new_float / t->n,
	       100.0 * t->new_old / t->n, t->err_old / t->n, t->err_new / t->n);
}

/* Synthetic inputs around each feature's mean and scale. */
enum dist { GAUSS, LAPLACE, OUTLIER, NR_DIST };
static const char *const dist_name[NR_DIST] = {
	"N(0,1)",
	"Laplace(b=1)",
	"N(0,1), 1% at 10-100 sd",
};

static double draw(enum dist d)
{
	double u;

	switch (d) {
	case GAUSS:
		return gauss();
	case LAPLACE:
		u = unif() - 0.5;
		return (u < 0 ? 1 : -1) * log(1 - 2 * fabs(u) + 0x1p-60);
	default:
		if (unif() < 0.01)
			return (unif() < 0.5 ? -1 : 1) * (10 + 90 * unif());
		return gauss();
	}
}

static int agree_random(double R)
{
	static const char *const shapes[] = { "7-16-1", "15-10-1",
					      "16-32-32-1" };
	static struct kopt_mlp_float f;
	static struct kopt_mlp old;
	static struct swar_model sm;
	static struct kopt_swar sw;
	double raw[KOPT_MLP_MAX_IN];
	unsigned long seed;
	char what[96];
	__u32 s, d, i;
	long r;

	for (s = 0; s < 3; s++) {
		for (d = 0; d < NR_DIST; d++) {
			struct tally t = { 0 };

			/* 20 random models of the shape, 5000 rows each */
			for (seed = 1; seed <= 20; seed++) {
				struct kopt_model *m = calloc(1, sizeof(*m));
				char err[KOPT_MODEL_ERR];

				kopt_model_parse_shape(shapes[s], m, err,
						       sizeof(err));
				for (i = 0; i < m->n_in; i++)
					m->feature[i] = i % KOPT_FEAT_NR;
				kopt_mlp_float_random(&f, m, seed);
				free(m);
				if (both(&f, R, &old, &sm, &sw))
					return 2;
				for (r = 0; r < 5000; r++) {
					for (i = 0; i < f.n_in; i++)
						raw[i] = f.mean[i] +
							 f.scale[i] * draw(d);
					tally_row(&t, &old, &sw, &sm, &f, raw);
				}
			}
			snprintf(what, sizeof(what), "random %s, %s", shapes[s],
				 dist_name[d]);
			tally_print(what, &t);
		}
	}
	return 0;
}

/* `kopt bench train`'s synthetic dataset (loader/tools/bench_train.c). */
#define NR_COLS 7
static const char *const cols[NR_COLS] = {
	"delta_ns",	  "nr_balance_failed", "cache_nice_tries",
	"src_nr_running", "dst_nr_running",    "load_avg",
	"util_avg",
};

static int write_dataset(const char *path, long rows, unsigned long seed,
			 double *x)
{
	struct kopt_rng rng;
	FILE *f = fopen(path, "w");
	long r;
	int i;

	if (!f)
		return -errno;
	kopt_rng_seed(&rng, seed);
	fprintf(f, "# kopt-swar-proto: synthetic\n");
	for (i = 0; i < NR_COLS; i++)
		fprintf(f, "%s,", cols[i]);
	fprintf(f, "decision,forced\n");
	for (r = 0; r < rows; r++) {
		long delta = (long)(kopt_rng_uniform(&rng) * 4e6);
		int failed = (int)(kopt_rng_uniform(&rng) * 5);
		int src = 1 + (int)(kopt_rng_uniform(&rng) * 6);
		int dst = (int)(kopt_rng_uniform(&rng) * 3);
		int load = (int)(kopt_rng_uniform(&rng) * 1024);
		int util = (int)(kopt_rng_uniform(&rng) * 1024);
		int hot = delta < 500000;
		int forced = hot && failed > 2 && src > dst + 1;

		if (kopt_rng_uniform(&rng) < 0.02) /* label noise */
			forced = !forced;
		fprintf(f, "%ld,%d,1,%d,%d,%d,%d,%d,%d\n", delta, failed, src,
			dst, load, util, forced || !hot, forced);
		x[r * NR_COLS + 0] = delta;
		x[r * NR_COLS + 1] = failed;
		x[r * NR_COLS + 2] = 1;
		x[r * NR_COLS + 3] = src;
		x[r * NR_COLS + 4] = dst;
		x[r * NR_COLS + 5] = load;
		x[r * NR_COLS + 6] = util;
	}
	return fclose(f) ? -EIO : 0;
}

static int agree_trained(double R, long rows)
{
	static struct kopt_train_report rep;
	static struct kopt_mlp old;
	static struct swar_model sm;
	static struct kopt_swar sw;
	char path[] = "/tmp/kopt-swar-proto.XXXXXX";
	double *x = malloc(rows * NR_COLS * sizeof(double));
	double raw[KOPT_MLP_MAX_IN];
	struct kopt_train_cfg cfg;
	char err[KOPT_MODEL_ERR];
	struct tally t = { 0 }, tt = { 0 };
	struct rows cal;
	__u32 i, c;
	long r;
	int fd;

	fd = mkstemp(path);
	if (fd < 0 || !x)
		return 2;
	close(fd);
	if (write_dataset(path, rows, 7, x))
		return 2;
	kopt_train_defaults(&cfg);
	cfg.path = path;
	cfg.n_feat = NR_COLS;
	for (i = 0; i < NR_COLS; i++)
		cfg.feature[i] = kopt_feat_id(cols[i]);
	if (kopt_train(&cfg, &rep, err, sizeof(err))) {
		fprintf(stderr, "train: %s\n", err);
		unlink(path);
		return 2;
	}
	unlink(path);
	printf("trained %u-%u-1 on %ld synthetic rows: features", rep.fl.n_in,
	       rep.fl.units[0], rows);
	for (i = 0; i < rep.fl.n_in; i++)
		printf(" %s", kopt_feat_name(rep.fl.feature[i]));
	printf("; the trainer's own choice: %u fractional bits\n",
	       rep.fixed.frac_bits);
	kopt_model_to_mlp(&rep.fixed, &old);
	/* calibration: the first 2000 rows, in the model's input order */
	cal.n = 2000;
	cal.d = rep.fl.n_in;
	cal.x = malloc(cal.n * cal.d * sizeof(double));
	for (r = 0; r < cal.n; r++)
		for (i = 0; i < rep.fl.n_in; i++)
			for (c = 0; c < NR_COLS; c++)
				if (kopt_feat_id(cols[c]) ==
				    (int)rep.fl.feature[i])
					cal.x[r * cal.d + i] =
						x[r * NR_COLS + c];
	if (swar_quantize(&rep.fl, R, rep.fixed.frac_bits, &cal, &sm)) {
		fprintf(stderr, "prototype quantizer failed\n");
		return 2;
	}
	swar_pack(&sm, &sw);
	for (r = 0; r < rows; r++) {
		for (i = 0; i < rep.fl.n_in; i++)
			for (c = 0; c < NR_COLS; c++)
				if (kopt_feat_id(cols[c]) ==
				    (int)rep.fl.feature[i])
					raw[i] = x[r * NR_COLS + c];
		tally_row(&t, &old, &sw, &sm, &rep.fl, raw);
	}
	tally_print("trained 7-16-1, its dataset rows", &t);
	/* and off the dataset: the same features, a wider spread */
	for (r = 0; r < 100000; r++) {
		for (i = 0; i < rep.fl.n_in; i++)
			raw[i] = rep.fl.mean[i] + rep.fl.scale[i] * 3 * gauss();
		tally_row(&tt, &old, &sw, &sm, &rep.fl, raw);
	}
	tally_print("trained 7-16-1, mean + 3 sd N(0,1)", &tt);
	free(cal.x);
	free(x);
	return 0;
}

static int cmd_agree(int argc, char **argv)
{
	double R = argc > 2 ? atof(argv[2]) : 8;
	int ret;

	printf("Input range +-%g sd. Columns: rows, float positive | "
	       "decisions equal: current vs float, prototype vs float, "
	       "prototype vs current | mean |logit error| current, "
	       "prototype\n",
	       R);
	ret = agree_random(R);
	if (!ret)
		ret = agree_trained(R, 20000);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "count"))
		return cmd_count(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "agree"))
		return cmd_agree(argc, argv);
	fprintf(stderr, "usage: kopt-swar-proto count SHAPE zero|small|wide "
			"COUNT | agree [R]\n");
	return 2;
}
