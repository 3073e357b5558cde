/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A measured prototype, not wired into anything: the fixed-point MLP
 * evaluator of mlp_fixed.h with two hidden units per 64-bit multiply
 * (SIMD within a register, "SWAR"), for the kernel and userspace build.
 * loader/tools/swar/ counts its instructions against mlp_fixed.h's and
 * measures what the narrower number format costs in decisions.
 *
 * The model: the same N inputs -> 0..2 ReLU hidden layers -> one logit,
 * positive iff logit >= threshold, with these number formats:
 *
 * Inputs. Each input i has a feature id, a pre-shift s_i, an offset
 * lo_i (s64) and a top hi_i <= 65535. The evaluator maps the raw value
 * x (any s64) to
 *   v  = x >> (s_i & 63)                          (arithmetic shift)
 *   x' = clamp(v - lo_i, 0, hi_i)                 (see kopt_swar_input)
 * so every input of the first layer is an unsigned 16-bit integer. The
 * quantizer picks s_i, the least shift that brings the feature's useful
 * range (mean +- R scale, R = 8 by default) within 65535 steps, and
 * lo_i, hi_i the ends of that range after the shift (a small integer
 * feature gets s_i = 0 and a hi_i of its range, not 65535: the bound
 * below is on hi_i), and folds offset and shift into the first layer's
 * weights and biases, as the current format folds the normalization.
 *
 * Hidden layers. Units are stored in pairs: unit 2p in the low 32 bits
 * ("lane") of the 64-bit words of pair p, unit 2p+1 in the high lane:
 *   W[p][i] = (u64)(s64)w[2p][i] + ((u64)(s64)w[2p+1][i] << 32)  (mod 2^64)
 *   B[p]    = (u64)(s64)b[2p] + 2^31 + ((u64)(s64)b[2p+1] << 32) (mod 2^64)
 * and one 64-bit multiply-add does both units:
 *   A = B[p] + sum_i W[p][i] * x'[i]                           (mod 2^64)
 *     = (S_lo + 2^31) + S_hi * 2^32                            (mod 2^64)
 * where S_u = b[u] + sum_i w[u][i] * x'[i] is unit u's exact sum. If
 * both S_lo and S_hi are in [-2^31, 2^31), the low 32 bits of A are
 * S_lo + 2^31 in [0, 2^32) (no borrow from the high lane), so both come
 * back exactly:
 *   S_lo = (A mod 2^32) - 2^31
 *   S_hi = (s64)A >> 32                (arithmetic shift)
 * The lanes never need to be separate on the way: wrapping and the carry
 * from the low lane into the high one cancel in the end, because the
 * arithmetic is linear modulo 2^64. (Without the 2^31 the low lane would
 * be sign-extended and subtracted before the shift: one instruction
 * more per pair.) An odd last unit leaves a zero lane: zero weights and
 * bias, zero output weight.
 *
 * The bound the loader must check (instead of mlp_fixed.h's 63-bit one),
 * per hidden unit u, with X_i the largest value of input i (hi_i in the
 * first layer, 65535 for a narrowed activation):
 *   b[u] + sum_i X_i * max(w[u][i], 0) <= 2^31 - 1
 *   b[u] + sum_i X_i * min(w[u][i], 0) >= -2^31
 * (the exact extremes of S_u over all inputs, rounding constant
 * included in b[u], the lane's 2^31 not), and |lo_i| < 2^62,
 * 1 <= hi_i <= 65535, s_i = 0 only for features whose raw values stay
 * below 2^62 in magnitude (see kopt_swar_input), the zero lane zero.
 * With X_i = 65535 it implies |w| < 2^16: the weights are ~17-bit
 * signed values in the s32 cells of the file.
 *
 * A hidden layer's activation is max(S, 0), in [0, 2^31):
 * - into the output unit (the last hidden layer): as is, no shift; the
 *   output layer is mlp_fixed.h's (32-bit weights, 64-bit accumulator,
 *   the same 63-bit bound with |h| < 2^31), then logit =
 *   sat32((s64)acc >> (shift & 63)).
 * - into a second hidden layer: min(max(S, 0) >> (shift & 31), 65535),
 *   16-bit unsigned again (the quantizer picks the least shift that
 *   clamps none of its calibration rows; shift >= 16 never clamps).
 *
 * For any bytes in struct kopt_swar (a garbage or torn model) every
 * value is defined (lanes are s32 by construction, inputs are clamped
 * to [0, hi_i], narrowed activations to [0, 65535]), all arithmetic is
 * in __u64 and every index is bounded by the caps: memory-safe, no UB,
 * and the same bits in any build; loader/tools/swar/swar_garbage.c
 * checks this against a plain loop over the definition. Only the
 * meaning of the lanes needs the bound. BPF can do the identical
 * arithmetic (64-bit mul, arsh, rsh, and).
 *
 * Layout for the cost: a layer's pairs go in blocks of 8, 8, 4, 2, 1
 * pairs (the binary decomposition of the pair count), so a layer of up
 * to 16 units is one pass over its inputs: one dispatch on the input
 * count (a compare chain without jump tables) and one load of each
 * input per 8 multiplies; the first block of the first layer computes
 * the inputs itself, in the same dispatch (and stores them only if a
 * block after it needs them). The last hidden layer is fused with the
 * output unit as in mlp_fixed.h.
 *
 * Measured (loader/tools/swar/count.sh, callgrind, the guest kernel's
 * flags, 2026-12-08): 7-16-1 377-398 x86 instructions per evaluation
 * (mlp_fixed.h: 660-678), 363-384 built with KOPT_SWAR_FEAT_SLOTS 32.
 */
#ifndef KOPT_MLP_SWAR_H
#define KOPT_MLP_SWAR_H

#include "mlp_fixed.h"

#define KOPT_SWAR_X_MAX 65535 /* inputs and narrowed activations */
#define KOPT_SWAR_MAX_PAIRS (KOPT_MLP_MAX_UNITS / 2)
#define KOPT_SWAR_LANE_MAX 2147483647LL /* S of a unit: [-2^31, 2^31) */

/* Input i: clamp((x >> (shift & 63)) - lo, 0, hi), hi <= 65535. */
struct kopt_swar_input {
	__u32 feature; /* enum kopt_feat */
	__u32 shift;
	__s64 lo;
	__u64 hi;
};

/*
 * A hidden layer: 2 * pairs units in lane pairs (see above); a layer of
 * an odd number of units has a zero lane (zero weights and bias).
 */
struct kopt_swar_layer {
	__u32 pairs; /* capped at KOPT_SWAR_MAX_PAIRS */
	__u32 shift; /* to a next hidden layer's 16-bit inputs */
	__u64 bias[KOPT_SWAR_MAX_PAIRS];
	__u64 w[KOPT_SWAR_MAX_PAIRS][KOPT_MLP_WIDTH];
};

/*
 * One model as the evaluator reads it. Layer 0 reads the n_in inputs,
 * layer 1 every unit layer 0 computed, the output every unit of the
 * last hidden layer (or the inputs): all of them 2 * pairs, so no read
 * reaches past what this evaluation wrote.
 */
struct kopt_swar {
	__u32 n_in; /* 0: empty slot */
	__u32 n_hidden;
	__u32 frac_bits;
	__s32 threshold;
	struct kopt_swar_input in[KOPT_MLP_MAX_IN];
	struct kopt_swar_layer hidden[KOPT_MLP_MAX_HIDDEN];
	struct kopt_mlp_out out; /* mlp_fixed.h's: w[] in 64-bit cells */
};

struct kopt_swar_scratch {
	__u64 in[KOPT_MLP_WIDTH];
	__u64 h[KOPT_MLP_WIDTH];
};

_Static_assert(KOPT_MLP_MAX_UNITS == 32, "blocks of 8, 8, 4, 2, 1 pairs");

/*
 * The raw value x of input `in`, as a 16-bit unsigned input:
 * clamp((s64)((u64)(x >> (shift & 63)) - (u64)lo), 0, 65535), the
 * difference wrapping modulo 2^64. In a valid model |lo| < 2^62 and
 * the quantizer gives a pre-shift of 0 only to features whose raw
 * values stay below 2^62 in magnitude, so the difference never wraps
 * and this is clamp(v - lo) exactly; for any other bytes it is still
 * defined. A feature id past the table reads its last entry: defined,
 * and cheaper than a branch to a zero. Built with KOPT_SWAR_FEAT_SLOTS
 * (a power of two >= KOPT_FEAT_NR), the caller promises a table of that
 * many entries and the id is masked instead: one instruction, not three.
 */
KOPT_MLP_INLINE __u64 kopt_swar_input(const struct kopt_swar_input *in,
				      const __s64 *src)
{
	__u32 id = in->feature;
	__s64 t;

#ifdef KOPT_SWAR_FEAT_SLOTS
	/* the caller's table has KOPT_SWAR_FEAT_SLOTS (a power of 2) */
	id &= KOPT_SWAR_FEAT_SLOTS - 1;
#else
	if (id >= KOPT_FEAT_NR)
		id = KOPT_FEAT_NR - 1;
#endif
	t = (__s64)((__u64)(src[id] >> (in->shift & 63)) - (__u64)in->lo);
	if ((__u64)t <= in->hi) /* one compare in range */
		return t;
	/* reload hi here: the compare above then takes it from memory */
	kopt_mlp_hide(in);
	return t < 0 ? 0 : in->hi;
}

/*
 * The two lanes of a finished accumulator. The low lane's bias carries
 * 2^31 (the loader adds it, like the rounding constant), so the low 32
 * bits hold S_lo + 2^31 in [0, 2^32) and never borrow from the high
 * lane: S_hi is the accumulator's arithmetic shift by 32, and S_lo > 0
 * iff the low 32 bits exceed 2^31.
 */
#define KOPT_SWAR_LO_BIAS 0x80000000ULL

KOPT_MLP_INLINE __u64 kopt_swar_lo(__u64 a)
{
	return (__u32)a; /* S_lo + 2^31 */
}

KOPT_MLP_INLINE __s64 kopt_swar_hi(__u64 a)
{
	return (__s64)a >> 32;
}

/* o + w * max(s, 0), the product skipped when it is 0. */
KOPT_MLP_INLINE __u64 kopt_swar_relu_mac(__u64 o, __s64 w, __s64 s)
{
	if (s <= 0)
		return o;
	return o + (__u64)w * (__u64)s;
}

/*
 * The same for the high lane of accumulator a: S_hi > 0 iff a >= 2^32
 * (its low 32 bits are in [0, 2^32)), so the shift that extracts S_hi
 * is only done when the product is.
 */
KOPT_MLP_INLINE __u64 kopt_swar_relu_mac_hi(__u64 o, __s64 w, __u64 a)
{
	if ((__s64)a < (1LL << 32))
		return o;
	return o + (__u64)w * (__u64)kopt_swar_hi(a);
}

/* The same for the low lane, from its biased value lb = S_lo + 2^31. */
KOPT_MLP_INLINE __u64 kopt_swar_relu_mac_lo(__u64 o, __s64 w, __u64 lb)
{
	if (lb <= KOPT_SWAR_LO_BIAS)
		return o;
	return o + (__u64)w * (lb - KOPT_SWAR_LO_BIAS);
}

/* max(s, 0) narrowed to a 16-bit input: s < 2^31. */
KOPT_MLP_INLINE __u64 kopt_swar_narrow(__s64 s, __u32 shift)
{
	if (s <= 0)
		return 0;
	s >>= shift & 31;
	return s > KOPT_SWAR_X_MAX ? KOPT_SWAR_X_MAX : (__u64)s;
}

#if !defined(__bpf__)
/*
 * The evaluator proper: kernel and userspace only, it uses mlp_fixed.h's
 * KOPT_MLP_DUFF1. A BPF build would do the same arithmetic with the
 * helpers above in mlp_fixed.h's BPF shape.
 */

/*
 * Multiply-adds of input k into the np pairs of a block (np constant).
 * With load (constant), the block also computes input k from the raw
 * features and stores it for the blocks after it: the first block of
 * the first layer, so that the inputs need no dispatch of their own.
 */
#define KOPT_SWAR_MAC(k)                                      \
	do {                                                  \
		if (load) {                                   \
			xv = kopt_swar_input(&m->in[k], src); \
			if (load > 1)                         \
				x[k] = xv;                    \
		} else {                                      \
			xv = x[k];                            \
		}                                             \
		a0 += w[0][k] * xv;                           \
		if (np > 1)                                   \
			a1 += w[1][k] * xv;                   \
		if (np > 2) {                                 \
			a2 += w[2][k] * xv;                   \
			a3 += w[3][k] * xv;                   \
		}                                             \
		if (np > 4) {                                 \
			a4 += w[4][k] * xv;                   \
			a5 += w[5][k] * xv;                   \
			a6 += w[6][k] * xv;                   \
			a7 += w[7][k] * xv;                   \
		}                                             \
	} while (0)

/*
 * One lane pair of a finished accumulator: into the logit's accumulator
 * o (last hidden layer) or narrowed into y[2q], y[2q + 1].
 */
#define KOPT_SWAR_FINISH(q, a)                                            \
	do {                                                              \
		if (last) {                                               \
			o = kopt_swar_relu_mac_lo(o, ow[2 * (q)],         \
						  kopt_swar_lo(a));       \
			o = kopt_swar_relu_mac_hi(o, ow[2 * (q) + 1], a); \
		} else {                                                  \
			y[2 * (q)] = kopt_swar_narrow(                    \
				(__s64)kopt_swar_lo(a) -                  \
					(__s64)KOPT_SWAR_LO_BIAS,         \
				shift);                                   \
			y[2 * (q) + 1] =                                  \
				kopt_swar_narrow(kopt_swar_hi(a), shift); \
		}                                                         \
	} while (0)

/*
 * Pairs p .. p + np - 1 of layer l on x[0..n-1] (np is 1, 2, 4 or 8,
 * load 0, 1 or 2: constants after inlining). The last hidden layer
 * returns o plus its units' terms of the logit (ow: the output weights
 * of pair p's first unit); another writes its narrowed activations to y
 * (pair p's first).
 */
KOPT_MLP_INLINE __u64 kopt_swar_block(const struct kopt_swar *m,
				      const __s64 *src, int load,
				      const struct kopt_swar_layer *l, __u32 p,
				      const int np, __u64 *x, __u32 n, int last,
				      __u64 o, const __s64 *ow, __u64 *y,
				      __u32 shift)
{
	const __u64(*w)[KOPT_MLP_WIDTH] = l->w + p;
	const __u64 *b = l->bias + p;
	__u64 a0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
	__u64 xv;

	/* no hoisting of these loads above the caller's choice of block */
	kopt_mlp_hide(b);
	a0 = b[0];
	if (np > 1)
		a1 = b[1];
	if (np > 2) {
		a2 = b[2];
		a3 = b[3];
	}
	if (np > 4) {
		a4 = b[4];
		a5 = b[5];
		a6 = b[6];
		a7 = b[7];
	}
	KOPT_MLP_DUFF1(KOPT_SWAR_MAC, n);
	KOPT_SWAR_FINISH(0, a0);
	if (np > 1)
		KOPT_SWAR_FINISH(1, a1);
	if (np > 2) {
		KOPT_SWAR_FINISH(2, a2);
		KOPT_SWAR_FINISH(3, a3);
	}
	if (np > 4) {
		KOPT_SWAR_FINISH(4, a4);
		KOPT_SWAR_FINISH(5, a5);
		KOPT_SWAR_FINISH(6, a6);
		KOPT_SWAR_FINISH(7, a7);
	}
	return o;
}

/* Pairs a layer computes: its own count, capped. */
KOPT_MLP_INLINE __u32 kopt_swar_pairs(const struct kopt_swar_layer *l)
{
	__u32 pairs = l->pairs;

	return pairs < KOPT_SWAR_MAX_PAIRS ? pairs : KOPT_SWAR_MAX_PAIRS;
}

/* Block of np pairs at p; the first block of a loading layer loads. */
#define KOPT_SWAR_BLOCK(np)                                                   \
	do {                                                                  \
		if (load && p == 0 && pairs > (np))                           \
			o = kopt_swar_block(m, src, 2, l, 0, np, x, n, last,  \
					    o, ow, y, shift);                 \
		else if (load && p == 0)                                      \
			o = kopt_swar_block(m, src, 1, l, 0, np, x, n, last,  \
					    o, ow, y, shift);                 \
		else                                                          \
			o = kopt_swar_block(m, src, 0, l, p, np, x, n, last,  \
					    o, ow + 2 * p, y + 2 * p, shift); \
		p += (np);                                                    \
	} while (0)

/*
 * Layer l on x[0..n-1]: its 2 * pairs units, in blocks of 8, 8, 4, 2, 1
 * pairs. last: returns o plus the logit terms of every unit (output
 * weights ow[0..]); else writes y[0 .. 2 * pairs - 1] and returns o.
 * load: x is computed from the raw features src by the first block.
 */
KOPT_MLP_INLINE __u64 kopt_swar_layer(const struct kopt_swar *m,
				      const __s64 *src, int load,
				      const struct kopt_swar_layer *l, __u64 *x,
				      __u32 n, int last, __u64 o,
				      const __s64 *ow, __u64 *y)
{
	__u32 pairs = kopt_swar_pairs(l), shift = l->shift, p = 0;

	if (pairs >= 8) {
		KOPT_SWAR_BLOCK(8);
		if (pairs >= 16)
			KOPT_SWAR_BLOCK(8);
	}
	if (pairs - p >= 4)
		KOPT_SWAR_BLOCK(4);
	if (pairs - p >= 2)
		KOPT_SWAR_BLOCK(2);
	if (pairs - p >= 1)
		KOPT_SWAR_BLOCK(1);
	return o;
}

#define KOPT_SWAR_LOAD(k) (s->in[k] = kopt_swar_input(&m->in[k], src))
#define KOPT_SWAR_MAC1(k) (o += (__u64)ow[k] * s->in[k])

/*
 * Evaluates m on src (indexed by feature id) into *logit. Returns enum
 * kopt_mlp_status; *logit is set only on KOPT_MLP_OK.
 */
KOPT_MLP_INLINE int kopt_swar_eval(const struct kopt_swar *m, const __s64 *src,
				   struct kopt_swar_scratch *s, __s32 *logit)
{
	__u32 n_in = m->n_in, n_hidden = m->n_hidden, n;
	const __s64 *ow = m->out.w;
	__u64 o = m->out.bias;

	if (n_in == 0)
		return KOPT_MLP_NO_MODEL;
	n = n_in < KOPT_MLP_MAX_IN ? n_in : KOPT_MLP_MAX_IN;
	if (n_hidden == 1) {
		o = kopt_swar_layer(m, src, 1, &m->hidden[0], s->in, n, 1, o,
				    ow, s->h);
	} else if (n_hidden == 2) {
		kopt_swar_layer(m, src, 1, &m->hidden[0], s->in, n, 0, 0, ow,
				s->h);
		n = 2 * kopt_swar_pairs(&m->hidden[0]);
		o = kopt_swar_layer(m, src, 0, &m->hidden[1], s->h, n, 1, o, ow,
				    s->h);
	} else if (n_hidden == 0) {
		KOPT_MLP_DUFF1(KOPT_SWAR_LOAD, n);
		KOPT_MLP_DUFF1(KOPT_SWAR_MAC1, n);
	} else {
		return KOPT_MLP_BAD_MODEL;
	}
	*logit = (__s32)kopt_mlp_sat32_fast((__s64)o >> (m->out.shift & 63));
	return KOPT_MLP_OK;
}

#endif /* !__bpf__ */

#endif /* KOPT_MLP_SWAR_H */
