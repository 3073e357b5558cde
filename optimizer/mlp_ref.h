/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The reference fixed-point MLP evaluator: include/kopt/mlp_fixed.h as it
 * was before the cost work of issue 21 (commit 40b5e7d), kept verbatim but
 * for the kopt_mlp_ref_ / KOPT_MLP_REF_ prefix. It is the oracle the
 * optimized evaluator must match bit for bit (selftests/test_mlp.c
 * mlp_fast_vs_reference) and the baseline `kopt bench mlp` counts
 * instructions against: every unit saturated to 32 bits, every input group
 * of four multiplied (inputs padded with zeros), ReLU after the clamp.
 * Userspace only (tests, benches): nothing in BPF or the kernel runs it.
 */
#ifndef KOPT_MLP_REF_H
#define KOPT_MLP_REF_H

#include "kopt/mlp_fixed.h"

KOPT_MLP_INLINE __s64 kopt_mlp_ref_sat32(__s64 v)
{
	if (v > KOPT_MLP_S32_MAX)
		return KOPT_MLP_S32_MAX;
	if (v < KOPT_MLP_S32_MIN)
		return KOPT_MLP_S32_MIN;
	return v;
}

/* Arithmetic shift; the bias already holds the rounding constant. */
KOPT_MLP_INLINE __s64 kopt_mlp_ref_rescale(__u64 acc, __u32 shift)
{
	if (shift > KOPT_MLP_MAX_SHIFT)
		shift = KOPT_MLP_MAX_SHIFT;
	return (__s64)acc >> shift;
}

/* The rounding constant the loader adds to a bias: 2^(shift-1). */
KOPT_MLP_INLINE __u64 kopt_mlp_ref_half(__u32 shift)
{
	return shift ? 1ULL << (shift - 1) : 0;
}

/*
 * Saturates the inputs into s->in, zero-padded to a whole group. With
 * by_feature, src is indexed by feature id (a table of every feature the
 * caller computed), else by input position; callers pass a constant, so
 * the unused branch disappears.
 */
KOPT_MLP_INLINE void kopt_mlp_ref_load_inputs(const struct kopt_mlp *m,
					      const __s64 *src, int by_feature,
					      struct kopt_mlp_scratch *s)
{
	__u32 n = m->n_in, i, id;
	__s64 v;

	KOPT_MLP_UNROLL
	for (i = 0; i < KOPT_MLP_MAX_IN; i++) {
		if (i >= n) {
			if (i % KOPT_MLP_GROUP == 0)
				break;
			s->in[i] = 0;
			continue;
		}
		if (by_feature) {
			id = m->feature[i];
			v = id < KOPT_FEAT_NR ? src[id] : 0;
		} else {
			v = src[i];
		}
		s->in[i] = kopt_mlp_ref_sat32(v);
	}
}

/* Rescale, saturate and ReLU one hidden unit's accumulator. */
KOPT_MLP_INLINE __s64 kopt_mlp_ref_relu(__u64 acc, __u32 shift)
{
	__s64 v = kopt_mlp_ref_sat32(kopt_mlp_ref_rescale(acc, shift));

	return v < 0 ? 0 : v;
}

/* Groups of KOPT_MLP_GROUP inputs covering n inputs (n is clamped). */
KOPT_MLP_INLINE __u32 kopt_mlp_ref_groups(__u32 n)
{
	if (n > KOPT_MLP_WIDTH)
		n = KOPT_MLP_WIDTH;
	return (n + KOPT_MLP_GROUP - 1) / KOPT_MLP_GROUP;
}

/*
 * The groups a layer reads: those its n_in asks for, but never more than
 * the previous step wrote (x_groups). In a valid model the two agree; in
 * a torn or foreign one this keeps every read on values written by this
 * evaluation, so BPF (stale per-CPU scratch) and C (stack) still agree.
 */
KOPT_MLP_INLINE __u32 kopt_mlp_ref_read_groups(__u32 n_in, __u32 x_groups)
{
	__s64 d = (__s64)kopt_mlp_ref_groups(n_in) - x_groups;

	/*
	 * min() without a branch: a branch would double the paths the BPF
	 * verifier walks through the layer (~1.7x the instructions); the
	 * barrier keeps clang from turning this back into one.
	 */
	kopt_mlp_hide(d);
	return x_groups + (d & (d >> 63));
}

/*
 * Multiply-adds of input k into the accumulators of a block of four units
 * (rows w0..w3), or of one unit (row w0); GROUP4 does one group of four
 * inputs with either.
 */
#define KOPT_MLP_REF_MAC4(k)             \
	do {                             \
		xv = x[k];               \
		a0 += (__u64)w0[k] * xv; \
		a1 += (__u64)w1[k] * xv; \
		a2 += (__u64)w2[k] * xv; \
		a3 += (__u64)w3[k] * xv; \
	} while (0)
#define KOPT_MLP_REF_MAC1(k) (a0 += (__u64)w0[k] * (__u64)x[k])
#define KOPT_MLP_REF_GROUP4(MAC, g) \
	do {                        \
		MAC(4 * (g));       \
		MAC(4 * (g) + 1);   \
		MAC(4 * (g) + 2);   \
		MAC(4 * (g) + 3);   \
	} while (0)

/*
 * The multiply-adds of the first `groups` groups of x. A switch that falls
 * through (Duff's device) instead of a loop with a bound check per group:
 * every entry point carries the same accumulator values, so they stay in
 * registers; with a loop, clang merges the early exits and spills. The
 * order of the additions does not matter: they are modulo 2^64.
 */
#define KOPT_MLP_REF_DUFF(MAC, groups)               \
	do {                                         \
		switch (groups) {                    \
		default:                             \
		case 8:                              \
			KOPT_MLP_REF_GROUP4(MAC, 7); \
			KOPT_MLP_FALLTHROUGH;        \
		case 7:                              \
			KOPT_MLP_REF_GROUP4(MAC, 6); \
			KOPT_MLP_FALLTHROUGH;        \
		case 6:                              \
			KOPT_MLP_REF_GROUP4(MAC, 5); \
			KOPT_MLP_FALLTHROUGH;        \
		case 5:                              \
			KOPT_MLP_REF_GROUP4(MAC, 4); \
			KOPT_MLP_FALLTHROUGH;        \
		case 4:                              \
			KOPT_MLP_REF_GROUP4(MAC, 3); \
			KOPT_MLP_FALLTHROUGH;        \
		case 3:                              \
			KOPT_MLP_REF_GROUP4(MAC, 2); \
			KOPT_MLP_FALLTHROUGH;        \
		case 2:                              \
			KOPT_MLP_REF_GROUP4(MAC, 1); \
			KOPT_MLP_FALLTHROUGH;        \
		case 1:                              \
			KOPT_MLP_REF_GROUP4(MAC, 0); \
			KOPT_MLP_FALLTHROUGH;        \
		case 0:                              \
			break;                       \
		}                                    \
	} while (0)

/* Adds W[0..3] x to acc[0..3]: four units of a hidden layer. */
KOPT_MLP_INLINE void kopt_mlp_ref_block(const __s64 *w0, const __s64 *w1,
					const __s64 *w2, const __s64 *w3,
					const __s64 *x, __u32 groups,
					__u64 *acc)
{
	__u64 a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], xv;

	KOPT_MLP_REF_DUFF(KOPT_MLP_REF_MAC4, groups);
	acc[0] = a0;
	acc[1] = a1;
	acc[2] = a2;
	acc[3] = a3;
}

/* Returns acc + w0 . x: the output unit. */
KOPT_MLP_INLINE __u64 kopt_mlp_ref_dot(const __s64 *w0, const __s64 *x,
				       __u32 groups, __u64 a0)
{
	KOPT_MLP_REF_DUFF(KOPT_MLP_REF_MAC1, groups);
	return a0;
}

/*
 * One ReLU layer: y = relu(sat(rescale(b + W x))). Units go four at a time
 * so that each x[i] is loaded once per block, not once per unit: a
 * multiply-add is then a weight load, a multiply and an add. The rows of a
 * block past n_out are computed too (in a model from kopt they are zero,
 * and so are the next layer's weights that read them).
 */
KOPT_MLP_INLINE void kopt_mlp_ref_hidden(const struct kopt_mlp_layer *l,
					 const __s64 *x, __u32 x_groups,
					 __s64 *y)
{
	__u32 groups = kopt_mlp_ref_read_groups(l->n_in, x_groups), b, j;
	__u32 n_out = l->n_out;
	__u32 shift = l->shift;
	__u64 acc[KOPT_MLP_BLOCK];

	KOPT_MLP_UNROLL
	for (b = 0; b < KOPT_MLP_MAX_UNITS / KOPT_MLP_BLOCK; b++) {
		j = b * KOPT_MLP_BLOCK;
		if (j >= n_out)
			break;
		kopt_mlp_hide(x);
		acc[0] = l->bias[j];
		acc[1] = l->bias[j + 1];
		acc[2] = l->bias[j + 2];
		acc[3] = l->bias[j + 3];
		kopt_mlp_ref_block(l->w[j], l->w[j + 1], l->w[j + 2],
				   l->w[j + 3], x, groups, acc);
		y[j] = kopt_mlp_ref_relu(acc[0], shift);
		y[j + 1] = kopt_mlp_ref_relu(acc[1], shift);
		y[j + 2] = kopt_mlp_ref_relu(acc[2], shift);
		y[j + 3] = kopt_mlp_ref_relu(acc[3], shift);
	}
}

/* The output unit: the logit, saturated, no ReLU. */
KOPT_MLP_INLINE __s32 kopt_mlp_ref_logit(const struct kopt_mlp_out *o,
					 const __s64 *x, __u32 x_groups)
{
	__u32 groups = kopt_mlp_ref_read_groups(o->n_in, x_groups);
	__u64 acc = kopt_mlp_ref_dot(o->w, x, groups, o->bias);

	return (__s32)kopt_mlp_ref_sat32(kopt_mlp_ref_rescale(acc, o->shift));
}

/*
 * Evaluates m on src (see kopt_mlp_ref_load_inputs for by_feature) into
 * *logit. Returns enum kopt_mlp_ref_status; *logit is set only on KOPT_MLP_OK.
 */
KOPT_MLP_INLINE int kopt_mlp_ref_eval(const struct kopt_mlp *m,
				      const __s64 *src, int by_feature,
				      struct kopt_mlp_scratch *s, __s32 *logit)
{
	__u32 n_hidden = m->n_hidden, groups;
	const __s64 *x = s->in;

	if (m->n_in == 0)
		return KOPT_MLP_NO_MODEL;
	if (n_hidden > KOPT_MLP_MAX_HIDDEN)
		return KOPT_MLP_BAD_MODEL;
	kopt_mlp_ref_load_inputs(m, src, by_feature, s);
	groups = kopt_mlp_ref_groups(m->n_in);
	if (n_hidden >= 1) {
		kopt_mlp_ref_hidden(&m->hidden[0], x, groups, s->h[0]);
		groups = kopt_mlp_ref_groups(m->hidden[0].n_out);
		x = s->h[0];
	}
	if (n_hidden >= 2) {
		kopt_mlp_ref_hidden(&m->hidden[1], x, groups, s->h[1]);
		groups = kopt_mlp_ref_groups(m->hidden[1].n_out);
		x = s->h[1];
	}
	*logit = kopt_mlp_ref_logit(&m->out, x, groups);
	return KOPT_MLP_OK;
}

#endif /* KOPT_MLP_REF_H */
