// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt_mlp_verify: the BPF build of include/kopt/mlp_fixed.h against the
 * userspace build of the same header, on one model.
 *
 * Inputs: edge cases first (all zero, every input at each 32- and 64-bit
 * extreme and just past the 32-bit range, each input alone at an
 * extreme), then random vectors. Random inputs that are uniform over 64
 * bits would saturate every unit and prove little, so most are drawn at
 * each input's working scale, read off the model itself: the x for which
 * the largest first-layer weight contributes about 1.0 to a unit. The rest
 * are zeros, extremes and wide random values.
 *
 * Every input goes through mlp_batch (a syscall program looping with
 * bpf_loop over an mmap'ed batch map, 4096 inputs per test run); the edge
 * cases and the first KOPT_VERIFY_XDP inputs also go through mlp_eval
 * (XDP, one test run each), the program bench and the hot-swap test use.
 *
 * Cost: ~0.1 s per 100k inputs plus loading the two programs.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"
#include "model.h"

#define KOPT_VERIFY_XDP 2048

/* The edge-case values every input takes in turn. */
static const __s64 extremes[] = {
	KOPT_MLP_S32_MAX,
	KOPT_MLP_S32_MIN,
	KOPT_MLP_S32_MAX + 1,
	KOPT_MLP_S32_MIN - 1,
	INT64_MAX,
	INT64_MIN,
	1,
	-1,
	KOPT_MLP_S32_MAX - 1,
	KOPT_MLP_S32_MIN + 1,
	(__s64)1 << 40,
	-((__s64)1 << 40),
};
#define NR_EXTREMES (sizeof(extremes) / sizeof(extremes[0]))

/* Number of edge cases for n inputs. */
static long edge_count(__u32 n)
{
	return 1 + NR_EXTREMES + 2 + (long)n * 2;
}

/* Edge case k of edge_count(n). */
static void edge_case(long k, __u32 n, __s64 *x)
{
	__u32 i;

	memset(x, 0, sizeof(__s64) * KOPT_MLP_MAX_IN);
	if (k == 0)
		return; /* all zero */
	k--;
	if (k < (long)NR_EXTREMES) {
		for (i = 0; i < n; i++)
			x[i] = extremes[k];
		return;
	}
	k -= NR_EXTREMES;
	if (k < 2) { /* alternating signs, both phases */
		for (i = 0; i < n; i++)
			x[i] = (i + k) % 2 ? INT64_MAX : INT64_MIN;
		return;
	}
	k -= 2;
	x[k / 2] = k % 2 ? INT64_MIN : INT64_MAX; /* one input alone */
}

/* Per input: |x| at which the largest first-layer weight gives ~1.0. */
static void working_scale(const struct kopt_model *m, double *scale)
{
	__u32 n_out = kopt_model_layer_out(m, 0), i, j;
	double wmax;

	for (i = 0; i < m->n_in; i++) {
		wmax = 0;
		for (j = 0; j < n_out; j++)
			wmax = fmax(wmax, fabs((double)m->w[0][j][i]));
		scale[i] = wmax > 0 ? ldexp(1.0 / wmax, m->wfrac[0]) : 1.0;
		scale[i] = fmin(fmax(scale[i], 1.0), (double)KOPT_MLP_S32_MAX);
	}
}

static __s64 random_input(struct kopt_rng *r, double scale)
{
	double u = kopt_rng_uniform(r);

	if (u < 0.7) /* working range, the interesting one */
		return llround(scale * (8 * kopt_rng_uniform(r) - 4));
	if (u < 0.8)
		return 0;
	if (u < 0.9)
		return extremes[kopt_rng_u64(r) % NR_EXTREMES];
	/* any magnitude up to 2^63 */
	return (__s64)(kopt_rng_u64(r) >> (kopt_rng_u64(r) % 64));
}

static void record(struct kopt_verify *v, const struct kopt_mlp *mlp,
		   int status, __s32 logit)
{
	if (status != KOPT_MLP_OK)
		return;
	v->positives += logit >= mlp->threshold;
	v->saturated += logit == KOPT_MLP_S32_MAX || logit == KOPT_MLP_S32_MIN;
	if (logit < v->logit_min)
		v->logit_min = logit;
	if (logit > v->logit_max)
		v->logit_max = logit;
}

static void mismatch(struct kopt_verify *v, const __s64 *in, int ust,
		     __s32 ulogit, int bst, __s32 blogit, const char *via)
{
	if (v->mismatches++)
		return;
	memcpy(v->bad_in, in, sizeof(v->bad_in));
	v->bad_user_status = ust;
	v->bad_user = ulogit;
	v->bad_bpf_status = bst;
	v->bad_bpf = blogit;
	v->bad_via = via;
}

/* Checks t->in[0..count) (input number `first` onwards) against userspace. */
static int check_batch(struct kopt_mlp_tr *t, const struct kopt_mlp *mlp,
		       long first, __u32 count, struct kopt_verify *v)
{
	struct kopt_mlp_pkt pkt;
	__s32 logit = 0;
	int ret, st;
	__u32 k;

	ret = kopt_mlp_tr_batch(t, count);
	if (ret)
		return ret;
	for (k = 0; k < count; k++) {
		const __s64 *in = t->in[k].in;

		st = kopt_mlp_eval_user(mlp, in, &logit);
		record(v, mlp, st, logit);
		if (st != t->out[k].status ||
		    (st == KOPT_MLP_OK && logit != t->out[k].logit))
			mismatch(v, in, st, logit, t->out[k].status,
				 t->out[k].logit, "mlp_batch");
		if (first + k >= KOPT_VERIFY_XDP && first + k >= v->edge)
			continue;
		memcpy(pkt.in, in, sizeof(pkt.in));
		ret = kopt_mlp_tr_one(t, &pkt);
		if (ret)
			return ret;
		v->via_xdp++;
		if (st != pkt.status ||
		    (st == KOPT_MLP_OK && logit != pkt.logit))
			mismatch(v, in, st, logit, pkt.status, pkt.logit,
				 "mlp_eval");
	}
	return 0;
}

int kopt_mlp_verify(const struct kopt_model *m, long n, unsigned long seed,
		    struct kopt_verify *v, char *err, size_t errlen)
{
	double scale[KOPT_MLP_MAX_IN];
	struct kopt_mlp *mlp;
	long total, done = 0;
	struct kopt_mlp_tr t;
	struct kopt_rng r;
	__u32 k, count, i;
	int ret;

	memset(v, 0, sizeof(*v));
	v->logit_min = KOPT_MLP_S32_MAX;
	v->logit_max = KOPT_MLP_S32_MIN;
	v->edge = edge_count(m->n_in);
	v->random = n;
	total = v->edge + n;
	mlp = malloc(sizeof(*mlp));
	if (!mlp)
		return -ENOMEM;
	kopt_model_to_mlp(m, mlp);
	working_scale(m, scale);
	kopt_rng_seed(&r, seed);
	ret = kopt_mlp_tr_open(&t, KOPT_TR_XDP | KOPT_TR_BATCH, NULL, err,
			       errlen);
	if (ret) {
		free(mlp);
		return ret;
	}
	ret = kopt_mlp_tr_set(&t, mlp);
	if (ret) {
		snprintf(err, errlen, "write the model into the test maps: %s",
			 strerror(-ret));
		goto out;
	}
	while (done < total) {
		count = total - done < KOPT_MLP_BATCH ? total - done :
							KOPT_MLP_BATCH;
		for (k = 0; k < count; k++) {
			__s64 *in = t.in[k].in;

			if (done + k < v->edge) {
				edge_case(done + k, m->n_in, in);
				continue;
			}
			memset(in, 0, sizeof(t.in[k].in));
			for (i = 0; i < m->n_in; i++)
				in[i] = random_input(&r, scale[i]);
		}
		ret = check_batch(&t, mlp, done, count, v);
		if (ret) {
			snprintf(err, errlen,
				 "BPF_PROG_TEST_RUN of the evaluator: %s",
				 strerror(-ret));
			goto out;
		}
		done += count;
	}
out:
	kopt_mlp_tr_close(&t);
	free(mlp);
	return ret;
}
