/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A measured prototype beside mlp_swar.h: mlp_fixed.h's kernel and
 * userspace build with the dispatch reshaped and nothing else changed
 * (the same struct kopt_mlp, the same 64-bit sums, the same logits for
 * a model kopt writes). It answers how much of the cost is the five
 * compare chains: units go eight at a time (eight accumulators, as
 * mlp_swar.h's eight pairs), so a 16-unit layer is two passes over its
 * inputs, and the first pass computes the inputs itself, in its own
 * dispatch, so the inputs have none of their own. A 7-16-1 model then
 * has two compare chains, not five.
 *
 * Only for models that pass kopt_model_check(): for others it may read
 * other (still in-bounds, still written) values than mlp_fixed.h does.
 *
 * Measured (loader/tools/swar/count.sh, 2026-12-08): worse as written,
 * 720 instructions for 7-16-1 on zero inputs against mlp_fixed.h's 670
 * (same logits): eight 64-bit accumulators, the logit's, the layer's
 * shift (which x86 wants in cl) and the model and input pointers do not
 * fit the registers, so the shift is reloaded for every unit and the
 * read_groups() bounds cost ~40 instructions before the first multiply.
 * What the reshaped dispatch could save at best is three compare chains
 * (~14 each) and the input reloads, ~50: far from the 450 bar either
 * way. mlp_swar.h has the same shape without the per-unit shift.
 */
#ifndef KOPT_MLP_FIXED8_H
#define KOPT_MLP_FIXED8_H

#include "mlp_fixed.h"

/* Multiply-adds of input k into nu (4 or 8) units; load as mlp_swar.h. */
#define KOPT_MLP8_MAC(k)                                   \
	do {                                               \
		if (load) {                                \
			xv = kopt_mlp_input(m, src, 1, k); \
			if (load > 1)                      \
				x[k] = xv;                 \
		} else {                                   \
			xv = x[k];                         \
		}                                          \
		a0 += (__u64)w[0][k] * xv;                 \
		a1 += (__u64)w[1][k] * xv;                 \
		a2 += (__u64)w[2][k] * xv;                 \
		a3 += (__u64)w[3][k] * xv;                 \
		if (nu > 4) {                              \
			a4 += (__u64)w[4][k] * xv;         \
			a5 += (__u64)w[5][k] * xv;         \
			a6 += (__u64)w[6][k] * xv;         \
			a7 += (__u64)w[7][k] * xv;         \
		}                                          \
	} while (0)

#define KOPT_MLP8_FINISH(q, a)                                     \
	do {                                                       \
		if (last)                                          \
			o = kopt_mlp_relu_mac(o, ow[q], a, shift); \
		else                                               \
			y[q] = kopt_mlp_relu(a, shift);            \
	} while (0)

/* Units j .. j + nu - 1 of layer l on x[0..n-1]. */
KOPT_MLP_INLINE __u64 kopt_mlp8_block(const struct kopt_mlp *m,
				      const __s64 *src, int load,
				      const struct kopt_mlp_layer *l, __u32 j,
				      const int nu, __s64 *x, __u32 n, int last,
				      __u64 o, const __s64 *ow, __s64 *y,
				      __u32 shift)
{
	const __s64(*w)[KOPT_MLP_WIDTH] = l->w + j;
	const __s64 *b = l->bias + j;
	__u64 a0, a1, a2, a3, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
	__s64 xv;

	kopt_mlp_hide(b);
	a0 = b[0];
	a1 = b[1];
	a2 = b[2];
	a3 = b[3];
	if (nu > 4) {
		a4 = b[4];
		a5 = b[5];
		a6 = b[6];
		a7 = b[7];
	}
	ow += j;
	y += j;
	KOPT_MLP_DUFF1(KOPT_MLP8_MAC, n);
	KOPT_MLP8_FINISH(0, a0);
	KOPT_MLP8_FINISH(1, a1);
	KOPT_MLP8_FINISH(2, a2);
	KOPT_MLP8_FINISH(3, a3);
	if (nu > 4) {
		KOPT_MLP8_FINISH(4, a4);
		KOPT_MLP8_FINISH(5, a5);
		KOPT_MLP8_FINISH(6, a6);
		KOPT_MLP8_FINISH(7, a7);
	}
	return o;
}

/* The first block: with load, it computes (and stores) the inputs. */
#define KOPT_MLP8_FIRST(nu)                                                  \
	do {                                                                 \
		if (load && units > (nu))                                    \
			o = kopt_mlp8_block(m, src, 2, l, 0, nu, x, n, last, \
					    o, ow, y, shift);                \
		else if (load)                                               \
			o = kopt_mlp8_block(m, src, 1, l, 0, nu, x, n, last, \
					    o, ow, y, shift);                \
		else                                                         \
			o = kopt_mlp8_block(m, src, 0, l, 0, nu, x, n, last, \
					    o, ow, y, shift);                \
		j = (nu);                                                    \
	} while (0)

/*
 * Units 0 .. units - 1 of layer l (units a multiple of 4, <= 32): blocks
 * of eight, then one of four.
 */
KOPT_MLP_INLINE __u64 kopt_mlp8_layer(const struct kopt_mlp *m,
				      const __s64 *src, int load,
				      const struct kopt_mlp_layer *l,
				      __u32 units, __s64 *x, __u32 n, int last,
				      __u64 o, const __s64 *ow, __s64 *y)
{
	__u32 shift = kopt_mlp_shift(l->shift), j;

	if (units >= 8) {
		KOPT_MLP8_FIRST(8);
		for (; units - j >= 8; j += 8)
			o = kopt_mlp8_block(m, src, 0, l, j, 8, x, n, last, o,
					    ow, y, shift);
		if (units - j >= 4)
			o = kopt_mlp8_block(m, src, 0, l, j, 4, x, n, last, o,
					    ow, y, shift);
	} else if (units >= 4) {
		KOPT_MLP8_FIRST(4);
	}
	return o;
}

/* Units of a layer the kernel build computes: blocks of 4 below n. */
KOPT_MLP_INLINE __u32 kopt_mlp8_units(__u32 n)
{
	return kopt_mlp_groups(n) * KOPT_MLP_GROUP;
}

/* kopt_mlp_eval(m, src, 1, s, logit) of mlp_fixed.h, for valid models. */
KOPT_MLP_INLINE int kopt_mlp8_eval(const struct kopt_mlp *m, const __s64 *src,
				   struct kopt_mlp_scratch *s, __s32 *logit)
{
	const struct kopt_mlp_layer *l = &m->hidden[0];
	const struct kopt_mlp_out *o = &m->out;
	__u32 n_in = m->n_in, n_hidden = m->n_hidden, n, i, groups;
	__u64 a0 = o->bias;

	if (n_in == 0)
		return KOPT_MLP_NO_MODEL;
	if (n_hidden > KOPT_MLP_MAX_HIDDEN)
		return KOPT_MLP_BAD_MODEL;
	n = n_in < KOPT_MLP_MAX_IN ? n_in : KOPT_MLP_MAX_IN;
	groups = kopt_mlp_groups(n_in);
	i = kopt_mlp_read_groups(l->n_in, groups) * KOPT_MLP_GROUP;
	n = i < n ? i : n;
	if (n_hidden == 1) {
		a0 = kopt_mlp8_layer(
			m, src, 1, l,
			kopt_mlp_read_groups(o->n_in,
					     kopt_mlp_groups(l->n_out)) *
				KOPT_MLP_GROUP,
			s->in, n, 1, a0, o->w, s->h[0]);
	} else if (n_hidden == 2) {
		kopt_mlp8_layer(m, src, 1, l, kopt_mlp8_units(l->n_out), s->in,
				n, 0, 0, o->w, s->h[0]);
		groups = kopt_mlp_groups(l->n_out);
		l = &m->hidden[1];
		i = kopt_mlp_read_groups(l->n_in, groups) * KOPT_MLP_GROUP;
		a0 = kopt_mlp8_layer(
			m, src, 0, l,
			kopt_mlp_read_groups(o->n_in,
					     kopt_mlp_groups(l->n_out)) *
				KOPT_MLP_GROUP,
			s->h[0], i, 1, a0, o->w, s->h[1]);
	} else {
		const __s64 *x = s->in, *w0 = o->w;
		int by_feature = 1;

		n = n_in < KOPT_MLP_MAX_IN ? n_in : KOPT_MLP_MAX_IN;
		i = kopt_mlp_read_groups(o->n_in, groups) * KOPT_MLP_GROUP;
		n = i < n ? i : n;
		KOPT_MLP_DUFF1(KOPT_MLP_LOAD, n);
		KOPT_MLP_DUFF1(KOPT_MLP_MAC1, n);
	}
	*logit = (__s32)kopt_mlp_sat32(kopt_mlp_rescale(a0, o->shift));
	return KOPT_MLP_OK;
}

#endif /* KOPT_MLP_FIXED8_H */
