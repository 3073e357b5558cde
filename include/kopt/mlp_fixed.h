/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The fixed-point MLP evaluator, one header for three compilers: clang
 * -target bpf (bpf/mlp*.bpf.c), kernel C (the 6.12 patch carries a copy as
 * include/linux/kopt_mlp.h) and userspace (kopt verify, tests). Because
 * the same source does the same integer operations everywhere, the three
 * give bit-identical results; selftests/test_mlp.c proves it on random and
 * edge-case inputs and compiles this header in a kernel-like environment.
 *
 * The model: N raw integer inputs -> 0..2 ReLU hidden layers -> one logit,
 * positive if logit >= threshold.
 *
 * Number format. Activations (hidden units and the logit) are integers
 * with frac_bits fractional bits: the value v means v / 2^frac_bits. The
 * raw inputs are plain integers (0 fractional bits): each feature's
 * normalization (x - mean) / scale was folded into the first layer when the
 * model was quantized (w' = w / scale, b' = b - sum(w * mean / scale)), so
 * nothing divides at inference time. Each layer's weights have their own
 * number of fractional bits, chosen at quantization for precision, and
 * its bias is stored at the accumulator's scale; the layer's `shift` takes
 * the accumulator back to activation scale.
 *
 * Arithmetic, per unit:
 *   acc   = bias + sum(w[i] * x[i])            (64-bit)
 *   v     = acc >> shift                       (arithmetic shift)
 *   v     = clamp(v, S32_MIN, S32_MAX)         (saturate, never wrap)
 *   h     = max(v, 0)                          (ReLU, hidden layers only)
 * The bias in a map value already holds the rounding constant 2^(shift-1)
 * (the loader adds it, as it folds the normalization in), so the shift
 * rounds half up: v = floor(real value + 1/2). Inputs are saturated to the
 * 32-bit range before the first layer.
 * Weights are 32-bit values held in 64-bit cells: clang 14's BPF backend
 * has no sign-extending load, so a 32-bit cell would cost two extra
 * instructions per multiply; a 64-bit cell costs one load.
 *
 * Overflow. With |x| <= 2^31 and |w| < 2^31 each product fits in 63 bits;
 * the loader rejects any model whose worst-case sum (sum |w| * 2^31 +
 * |bias| + 2^(shift-1)) does not fit in 63 bits, so a validated model's
 * accumulator never wraps. The arithmetic is still done in __u64 (wrapping
 * is defined there, signed overflow is not) so that an unvalidated or
 * half-written model gives the same garbage in all three builds instead of
 * undefined behaviour: the evaluator is memory-safe and UB-free for any
 * bytes in struct kopt_mlp.
 *
 * Cost. Units go four at a time, so each input is loaded once per four
 * multiply-adds, and the inputs of a block are a switch that falls
 * through (Duff's device): a multiply-add is a weight load at a constant
 * offset, a multiply and an add. Everything is unrolled over the
 * compile-time caps, so the verifier sees constant offsets only. BPF
 * multiplies whole groups of four inputs (a 7-16-1 model: 144
 * multiply-adds); the kernel and userspace build multiplies input by
 * input and fuses the last hidden layer with the logit (128), see the
 * comment before its code. `kopt bench mlp` reports the BPF ns and the
 * kernel build's instructions per evaluation.
 *
 * No libc, no floats, bounded loops only. Types: vmlinux.h in BPF,
 * <linux/types.h> in the kernel and userspace.
 */
#ifndef KOPT_MLP_FIXED_H
#define KOPT_MLP_FIXED_H

#if !(defined(__bpf__) && defined(__VMLINUX_H__))
#include <linux/types.h>
#endif

#include "features.h"

/* Caps: every loop is bounded by one of these. */
#define KOPT_MLP_MAX_IN 32 /* inputs */
#define KOPT_MLP_MAX_HIDDEN 2 /* hidden layers */
#define KOPT_MLP_MAX_UNITS 32 /* units per hidden layer */
#define KOPT_MLP_WIDTH 32 /* row length: >= MAX_IN and MAX_UNITS */
#define KOPT_MLP_GROUP 4 /* inputs per bound check (the code assumes 4) */
#define KOPT_MLP_BLOCK 4 /* units per pass over the inputs (ditto) */
#define KOPT_MLP_MAX_FRAC 30 /* activation fractional bits */
#define KOPT_MLP_MAX_WFRAC 62 /* weight fractional bits */
#define KOPT_MLP_MAX_SHIFT 62 /* accumulator to activation shift */

#define KOPT_MLP_S32_MAX 2147483647LL
#define KOPT_MLP_S32_MIN (-KOPT_MLP_S32_MAX - 1)

/* Evaluation status. */
enum kopt_mlp_status {
	KOPT_MLP_OK = 0,
	KOPT_MLP_NO_MODEL = 1, /* empty slot: nothing loaded yet */
	KOPT_MLP_BAD_MODEL = 2, /* shape out of caps (never from kopt) */
	KOPT_MLP_BUSY = 3, /* no consistent model snapshot (mlp_map.h) */
};

/* A hidden layer: n_out units of n_in inputs, unit-major rows. */
struct kopt_mlp_layer {
	__u32 n_in;
	__u32 n_out;
	__u32 shift; /* accumulator scale -> activation scale */
	__u32 reserved;
	__s64 bias[KOPT_MLP_MAX_UNITS]; /* accumulator scale, + rounding */
	__s64 w[KOPT_MLP_MAX_UNITS][KOPT_MLP_WIDTH]; /* 32-bit values */
};

/* The output layer: one unit, the logit. */
struct kopt_mlp_out {
	__u32 n_in;
	__u32 shift;
	__s64 bias; /* accumulator scale, + rounding */
	__s64 w[KOPT_MLP_WIDTH];
};

/*
 * One model as the evaluator reads it (a map value; the loader builds it
 * from a .kmlp file). n_in == 0 marks an empty slot.
 */
struct kopt_mlp {
	__u32 n_in;
	__u32 n_hidden; /* 0..KOPT_MLP_MAX_HIDDEN */
	__u32 frac_bits; /* of activations and the logit */
	__s32 threshold; /* positive iff logit >= threshold */
	__u64 feature_mask; /* KOPT_FEAT_BIT() of every input */
	__u32 crc32; /* of the .kmlp file: names the model */
	__u32 reserved;
	__u32 feature[KOPT_MLP_MAX_IN]; /* enum kopt_feat of each input */
	struct kopt_mlp_layer hidden[KOPT_MLP_MAX_HIDDEN];
	struct kopt_mlp_out out;
};

/*
 * Working memory of one evaluation, ~800 bytes: more than the BPF stack,
 * so BPF callers keep it in a per-CPU array; C callers use the stack. It
 * needs no initialization: the evaluator reads only what it wrote.
 */
struct kopt_mlp_scratch {
	__s64 in[KOPT_MLP_WIDTH];
	__s64 h[KOPT_MLP_MAX_HIDDEN][KOPT_MLP_WIDTH];
};

_Static_assert(KOPT_MLP_MAX_IN <= KOPT_MLP_WIDTH, "inputs fit a row");
_Static_assert(KOPT_MLP_MAX_UNITS <= KOPT_MLP_WIDTH, "units fit a row");
_Static_assert(KOPT_MLP_WIDTH % KOPT_MLP_GROUP == 0, "rows hold groups");
_Static_assert(KOPT_MLP_MAX_UNITS % KOPT_MLP_BLOCK == 0, "layers hold blocks");
_Static_assert(KOPT_MLP_WIDTH / KOPT_MLP_GROUP == 8, "KOPT_MLP_DUFF cases");
_Static_assert(KOPT_MLP_GROUP == 4 && KOPT_MLP_BLOCK == 4, "MAC4, GROUP4");
_Static_assert(KOPT_MLP_BLOCK % KOPT_MLP_GROUP == 0, "blocks pad x enough");
_Static_assert(KOPT_FEAT_NR <= 64, "feature_mask holds every feature");

#define KOPT_MLP_INLINE static inline __attribute__((always_inline))

/*
 * Full unrolling turns every index into a constant offset, which is what
 * makes the BPF version fast and easy to verify. gcc spells it differently
 * and warns (-Wunknown-pragmas) on clang's spelling.
 */
#if defined(__clang__)
#define KOPT_MLP_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define KOPT_MLP_UNROLL _Pragma("GCC unroll 32")
#else
#define KOPT_MLP_UNROLL
#endif

/*
 * Makes the compiler forget what it knows about the value of p. Each block
 * of units calls it on its input row: otherwise the compiler hoists the 32
 * addresses (or values) of x[i] out of the unit loop and keeps them live
 * across all units, which in BPF spills past the 512-byte stack; BPF loads
 * take a constant offset for free, so recomputing costs nothing.
 */
#define kopt_mlp_hide(p) asm volatile("" : "+r"(p))

KOPT_MLP_INLINE __s64 kopt_mlp_sat32(__s64 v)
{
	if (v > KOPT_MLP_S32_MAX)
		return KOPT_MLP_S32_MAX;
	if (v < KOPT_MLP_S32_MIN)
		return KOPT_MLP_S32_MIN;
	return v;
}

/*
 * kopt_mlp_sat32() with one compare when v fits (raw inputs nearly always
 * do): v fits in 32 bits iff sign-extending its low 32 bits gives v back,
 * and when it does not, its sign says which end to clamp to.
 */
KOPT_MLP_INLINE __s64 kopt_mlp_sat32_fast(__s64 v)
{
	if ((__s64)(__s32)v == v)
		return v;
	return v < 0 ? KOPT_MLP_S32_MIN : KOPT_MLP_S32_MAX;
}

/* The shift a layer uses: its own, capped so that >> stays defined. */
KOPT_MLP_INLINE __u32 kopt_mlp_shift(__u32 shift)
{
	return shift > KOPT_MLP_MAX_SHIFT ? KOPT_MLP_MAX_SHIFT : shift;
}

/* Arithmetic shift; the bias already holds the rounding constant. */
KOPT_MLP_INLINE __s64 kopt_mlp_rescale(__u64 acc, __u32 shift)
{
	return (__s64)acc >> kopt_mlp_shift(shift);
}

/* The rounding constant the loader adds to a bias: 2^(shift-1). */
KOPT_MLP_INLINE __u64 kopt_mlp_half(__u32 shift)
{
	return shift ? 1ULL << (shift - 1) : 0;
}

/* Input i of m, saturated: see kopt_mlp_load_inputs for by_feature. */
KOPT_MLP_INLINE __s64 kopt_mlp_input(const struct kopt_mlp *m, const __s64 *src,
				     int by_feature, __u32 i)
{
	__u32 id;

	if (!by_feature)
		return kopt_mlp_sat32_fast(src[i]);
	id = m->feature[i];
	return id < KOPT_FEAT_NR ? kopt_mlp_sat32_fast(src[id]) : 0;
}

/*
 * The ReLU of one hidden unit: max(sat32(acc >> shift), 0), shift already
 * capped. One unsigned compare takes the common case, 0 <= v <= S32_MAX;
 * outside it, v < 0 gives 0 (sat32 would give S32_MIN at worst, still
 * negative) and v > S32_MAX gives S32_MAX: the same value as clamping
 * both ways and then taking max(v, 0), for every v (selftests/test_mlp.c
 * mlp_fast_pieces_at_edges checks it at the edges of every shift).
 */
KOPT_MLP_INLINE __s64 kopt_mlp_relu(__u64 acc, __u32 shift)
{
	__s64 v = (__s64)acc >> shift;

	if ((__u64)v <= KOPT_MLP_S32_MAX)
		return v;
	return v < 0 ? 0 : KOPT_MLP_S32_MAX;
}

/*
 * o + w * relu(unit), the unit's accumulator acc: the same as
 * kopt_mlp_relu, with the product skipped when the ReLU is 0 (about half
 * the units), which is exact since that product is 0.
 */
KOPT_MLP_INLINE __u64 kopt_mlp_relu_mac(__u64 o, __s64 w, __u64 acc,
					__u32 shift)
{
	__s64 v = (__s64)acc >> shift;

	if (v <= 0)
		return o;
	if (v > KOPT_MLP_S32_MAX)
		v = KOPT_MLP_S32_MAX;
	return o + (__u64)w * (__u64)v;
}

/* Groups of KOPT_MLP_GROUP inputs covering n inputs (n is clamped). */
KOPT_MLP_INLINE __u32 kopt_mlp_groups(__u32 n)
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
KOPT_MLP_INLINE __u32 kopt_mlp_read_groups(__u32 n_in, __u32 x_groups)
{
#if defined(__bpf__)
	__s64 d = (__s64)kopt_mlp_groups(n_in) - x_groups;

	/*
	 * min() without a branch: a branch would double the paths the BPF
	 * verifier walks through the layer (~1.7x the instructions); the
	 * barrier keeps clang from turning this back into one.
	 */
	kopt_mlp_hide(d);
	return x_groups + (d & (d >> 63));
#else
	__u32 g = kopt_mlp_groups(n_in);

	return g < x_groups ? g : x_groups;
#endif
}

/*
 * Multiply-adds of input k into the accumulators of a block of four units
 * (rows w0..w3), or of one unit (row w0).
 */
#define KOPT_MLP_MAC4(k)                 \
	do {                             \
		xv = x[k];               \
		a0 += (__u64)w0[k] * xv; \
		a1 += (__u64)w1[k] * xv; \
		a2 += (__u64)w2[k] * xv; \
		a3 += (__u64)w3[k] * xv; \
	} while (0)
#define KOPT_MLP_MAC1(k) (a0 += (__u64)w0[k] * (__u64)x[k])
#define KOPT_MLP_FALLTHROUGH __attribute__((__fallthrough__))

#if defined(__bpf__)
/*
 * The BPF build. Inputs are saturated into s->in and zero-padded to a
 * whole group of four; each layer multiplies whole groups (a switch on
 * the group count that falls through: KOPT_MLP_DUFF) and stores its
 * outputs; the logit reads them back. Every branch doubles the paths the
 * verifier walks, so this build keeps the fewest: both clamps on every
 * value, four-input granularity. The kernel and userspace build below
 * computes the same sums in a cheaper shape; the order of the additions
 * does not matter, they are modulo 2^64.
 */
#define KOPT_MLP_GROUP4(MAC, g)   \
	do {                      \
		MAC(4 * (g));     \
		MAC(4 * (g) + 1); \
		MAC(4 * (g) + 2); \
		MAC(4 * (g) + 3); \
	} while (0)

/*
 * The multiply-adds of the first `groups` groups of x. A switch that falls
 * through (Duff's device) instead of a loop with a bound check per group:
 * every entry point carries the same accumulator values, so they stay in
 * registers; with a loop, clang merges the early exits and spills.
 */
#define KOPT_MLP_DUFF(MAC, groups)               \
	do {                                     \
		switch (groups) {                \
		default:                         \
		case 8:                          \
			KOPT_MLP_GROUP4(MAC, 7); \
			KOPT_MLP_FALLTHROUGH;    \
		case 7:                          \
			KOPT_MLP_GROUP4(MAC, 6); \
			KOPT_MLP_FALLTHROUGH;    \
		case 6:                          \
			KOPT_MLP_GROUP4(MAC, 5); \
			KOPT_MLP_FALLTHROUGH;    \
		case 5:                          \
			KOPT_MLP_GROUP4(MAC, 4); \
			KOPT_MLP_FALLTHROUGH;    \
		case 4:                          \
			KOPT_MLP_GROUP4(MAC, 3); \
			KOPT_MLP_FALLTHROUGH;    \
		case 3:                          \
			KOPT_MLP_GROUP4(MAC, 2); \
			KOPT_MLP_FALLTHROUGH;    \
		case 2:                          \
			KOPT_MLP_GROUP4(MAC, 1); \
			KOPT_MLP_FALLTHROUGH;    \
		case 1:                          \
			KOPT_MLP_GROUP4(MAC, 0); \
			KOPT_MLP_FALLTHROUGH;    \
		case 0:                          \
			break;                   \
		}                                \
	} while (0)

/*
 * Saturates the inputs into s->in, zero-padded to a whole group. With
 * by_feature, src is indexed by feature id (a table of every feature the
 * caller computed), else by input position; callers pass a constant, so
 * the unused branch disappears.
 */
KOPT_MLP_INLINE void kopt_mlp_load_inputs(const struct kopt_mlp *m,
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
		s->in[i] = kopt_mlp_sat32(v);
	}
}

/* Adds W[0..3] x to acc[0..3]: four units of a hidden layer. */
KOPT_MLP_INLINE void kopt_mlp_block(const __s64 *w0, const __s64 *w1,
				    const __s64 *w2, const __s64 *w3,
				    const __s64 *x, __u32 groups, __u64 *acc)
{
	__u64 a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], xv;

	KOPT_MLP_DUFF(KOPT_MLP_MAC4, groups);
	acc[0] = a0;
	acc[1] = a1;
	acc[2] = a2;
	acc[3] = a3;
}

/* Returns acc + w0 . x: the output unit. */
KOPT_MLP_INLINE __u64 kopt_mlp_dot(const __s64 *w0, const __s64 *x,
				   __u32 groups, __u64 a0)
{
	KOPT_MLP_DUFF(KOPT_MLP_MAC1, groups);
	return a0;
}

/* max(sat32(acc >> shift), 0) with both clamps: no extra branch. */
KOPT_MLP_INLINE __s64 kopt_mlp_relu_bpf(__u64 acc, __u32 shift)
{
	__s64 v = kopt_mlp_sat32(kopt_mlp_rescale(acc, shift));

	return v < 0 ? 0 : v;
}

/*
 * One ReLU layer: y = relu(sat(rescale(b + W x))). Units go four at a time
 * so that each x[i] is loaded once per block, not once per unit: a
 * multiply-add is then a weight load, a multiply and an add. The rows of a
 * block past n_out are computed too (in a model from kopt they are zero,
 * and so are the next layer's weights that read them).
 */
KOPT_MLP_INLINE void kopt_mlp_hidden(const struct kopt_mlp_layer *l,
				     const __s64 *x, __u32 x_groups, __s64 *y)
{
	__u32 groups = kopt_mlp_read_groups(l->n_in, x_groups), b, j;
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
		kopt_mlp_block(l->w[j], l->w[j + 1], l->w[j + 2], l->w[j + 3],
			       x, groups, acc);
		y[j] = kopt_mlp_relu_bpf(acc[0], shift);
		y[j + 1] = kopt_mlp_relu_bpf(acc[1], shift);
		y[j + 2] = kopt_mlp_relu_bpf(acc[2], shift);
		y[j + 3] = kopt_mlp_relu_bpf(acc[3], shift);
	}
}

/* The output unit: the logit, saturated, no ReLU. */
KOPT_MLP_INLINE __s32 kopt_mlp_logit(const struct kopt_mlp_out *o,
				     const __s64 *x, __u32 x_groups)
{
	__u32 groups = kopt_mlp_read_groups(o->n_in, x_groups);
	__u64 acc = kopt_mlp_dot(o->w, x, groups, o->bias);

	return (__s32)kopt_mlp_sat32(kopt_mlp_rescale(acc, o->shift));
}

/*
 * Evaluates m on src (see kopt_mlp_load_inputs for by_feature) into
 * *logit. Returns enum kopt_mlp_status; *logit is set only on KOPT_MLP_OK.
 */
KOPT_MLP_INLINE int kopt_mlp_eval(const struct kopt_mlp *m, const __s64 *src,
				  int by_feature, struct kopt_mlp_scratch *s,
				  __s32 *logit)
{
	__u32 n_hidden = m->n_hidden, groups;
	const __s64 *x = s->in;

	if (m->n_in == 0)
		return KOPT_MLP_NO_MODEL;
	if (n_hidden > KOPT_MLP_MAX_HIDDEN)
		return KOPT_MLP_BAD_MODEL;
	kopt_mlp_load_inputs(m, src, by_feature, s);
	groups = kopt_mlp_groups(m->n_in);
	if (n_hidden >= 1) {
		kopt_mlp_hidden(&m->hidden[0], x, groups, s->h[0]);
		groups = kopt_mlp_groups(m->hidden[0].n_out);
		x = s->h[0];
	}
	if (n_hidden >= 2) {
		kopt_mlp_hidden(&m->hidden[1], x, groups, s->h[1]);
		groups = kopt_mlp_groups(m->hidden[1].n_out);
		x = s->h[1];
	}
	*logit = kopt_mlp_logit(&m->out, x, groups);
	return KOPT_MLP_OK;
}

#else /* !__bpf__: the kernel and userspace build */

/*
 * The kernel and userspace build: the same sums as the BPF build, fewer
 * instructions (issue 21; `kopt bench mlp` counts them with callgrind,
 * compiled as the guest kernel compiles this header). It differs in three
 * ways, each exact:
 *
 * - The input row is multiplied input by input, not by groups of four:
 *   the pads BPF adds are zeros, and adding their zero products or not
 *   gives the same sum. A 7-input model does 7 multiply-adds per unit,
 *   not 8 (KOPT_MLP_DUFF1).
 * - The last hidden layer is fused with the output unit: each block of
 *   four units is multiplied into the logit's accumulator as soon as its
 *   ReLU is known, from registers, instead of being stored and loaded
 *   back. The logit reads the units below 4 * read_groups(out.n_in,
 *   groups(n_out)) in both builds: a multiple of four, so whole blocks.
 * - One compare instead of two for the common case of each clamp
 *   (kopt_mlp_relu, kopt_mlp_sat32_fast), and the layer's shift capped
 *   once per layer instead of per unit.
 *
 * It does not skip the 32-bit clamp of a unit where the accumulator bound
 * would prove it cannot fire (|acc| < 2^(31 + shift) for every input):
 * for the models kopt quantizes that bound almost never holds, because
 * the quantizer gives each layer as many weight fractional bits as the
 * 63-bit accumulator bound allows, so a layer's worst case is ~2^62
 * (`kopt model show` prints it) while 2^(31 + shift) is far below;
 * selftests/test_mlp.c counts, per shape, the first-layer units whose
 * clamp can fire and sees every one of them fire both ways (only a
 * 1-input model's cannot). The single unsigned compare is what is left
 * of the clamp, and it is needed anyway for the ReLU.
 *
 * What cannot go below: every multiply-add is three instructions on
 * x86-64 (a load, a two-operand imul, an add: the product needs a
 * register of its own since the input is used again), two for the logit,
 * whose multiplicand is the unit's ReLU and dies there. For 7-16-1 that is
 * 7 * 16 * 3 + 16 * 2 = 368 instructions before any input is loaded.
 * selftests/test_mlp.c checks this build against the evaluator before
 * these changes (optimizer/mlp_ref.h) on random, saturating and garbage
 * models.
 */

/* The multiply-adds of x[0..n-1], n <= KOPT_MLP_WIDTH (clamped). */
#define KOPT_MLP_CASE(MAC, k) \
	case (k) + 1:         \
		MAC(k);       \
		KOPT_MLP_FALLTHROUGH
#define KOPT_MLP_DUFF1(MAC, n)                  \
	do {                                    \
		switch (n) {                    \
		default:                        \
			KOPT_MLP_CASE(MAC, 31); \
			KOPT_MLP_CASE(MAC, 30); \
			KOPT_MLP_CASE(MAC, 29); \
			KOPT_MLP_CASE(MAC, 28); \
			KOPT_MLP_CASE(MAC, 27); \
			KOPT_MLP_CASE(MAC, 26); \
			KOPT_MLP_CASE(MAC, 25); \
			KOPT_MLP_CASE(MAC, 24); \
			KOPT_MLP_CASE(MAC, 23); \
			KOPT_MLP_CASE(MAC, 22); \
			KOPT_MLP_CASE(MAC, 21); \
			KOPT_MLP_CASE(MAC, 20); \
			KOPT_MLP_CASE(MAC, 19); \
			KOPT_MLP_CASE(MAC, 18); \
			KOPT_MLP_CASE(MAC, 17); \
			KOPT_MLP_CASE(MAC, 16); \
			KOPT_MLP_CASE(MAC, 15); \
			KOPT_MLP_CASE(MAC, 14); \
			KOPT_MLP_CASE(MAC, 13); \
			KOPT_MLP_CASE(MAC, 12); \
			KOPT_MLP_CASE(MAC, 11); \
			KOPT_MLP_CASE(MAC, 10); \
			KOPT_MLP_CASE(MAC, 9);  \
			KOPT_MLP_CASE(MAC, 8);  \
			KOPT_MLP_CASE(MAC, 7);  \
			KOPT_MLP_CASE(MAC, 6);  \
			KOPT_MLP_CASE(MAC, 5);  \
			KOPT_MLP_CASE(MAC, 4);  \
			KOPT_MLP_CASE(MAC, 3);  \
			KOPT_MLP_CASE(MAC, 2);  \
			KOPT_MLP_CASE(MAC, 1);  \
			KOPT_MLP_CASE(MAC, 0);  \
		case 0:                         \
			break;                  \
		}                               \
	} while (0)

/* Saturates input k into the scratch row. */
#define KOPT_MLP_LOAD(k) (s->in[k] = kopt_mlp_input(m, src, by_feature, k))

/* Loads the four rows and biases of block j: a0..a3 = bias, w0..w3. */
#define KOPT_MLP_BLOCK_START(l, j)       \
	do {                             \
		w0 = (l)->w[j];          \
		w1 = (l)->w[(j) + 1];    \
		w2 = (l)->w[(j) + 2];    \
		w3 = (l)->w[(j) + 3];    \
		a0 = (l)->bias[j];       \
		a1 = (l)->bias[(j) + 1]; \
		a2 = (l)->bias[(j) + 2]; \
		a3 = (l)->bias[(j) + 3]; \
	} while (0)

/*
 * A hidden layer that is not the last: y = relu(b + W x[0..n-1]) for
 * every block of four units below n_out (the rows of a block past n_out
 * are computed too, as in BPF; in a model from kopt they are zero).
 */
KOPT_MLP_INLINE void kopt_mlp_hidden(const struct kopt_mlp_layer *l,
				     const __s64 *x, __u32 n, __s64 *y)
{
	__u32 n_out = l->n_out, shift = kopt_mlp_shift(l->shift), b, j;
	const __s64 *w0, *w1, *w2, *w3;
	__u64 a0, a1, a2, a3, xv;

	KOPT_MLP_UNROLL
	for (b = 0; b < KOPT_MLP_MAX_UNITS / KOPT_MLP_BLOCK; b++) {
		j = b * KOPT_MLP_BLOCK;
		if (j >= n_out)
			break;
		KOPT_MLP_BLOCK_START(l, j);
		KOPT_MLP_DUFF1(KOPT_MLP_MAC4, n);
		y[j] = kopt_mlp_relu(a0, shift);
		y[j + 1] = kopt_mlp_relu(a1, shift);
		y[j + 2] = kopt_mlp_relu(a2, shift);
		y[j + 3] = kopt_mlp_relu(a3, shift);
	}
}

/*
 * The last hidden layer fused with the output unit: returns o's
 * accumulator, its bias plus o->w[j] * relu(unit j) for the units j below
 * no, the units computed block by block as in kopt_mlp_hidden and never
 * stored. no is what the logit reads, 4 * read_groups(o->n_in,
 * groups(n_out)): whole blocks, none past n_out's last, so the units the
 * BPF build computes beyond it (only in a model whose output layer reads
 * fewer units than its last hidden layer has) are not computed at all.
 */
KOPT_MLP_INLINE __u64 kopt_mlp_hidden_out(const struct kopt_mlp_layer *l,
					  const __s64 *x, __u32 n,
					  const struct kopt_mlp_out *o,
					  __u32 no)
{
	__u32 shift = kopt_mlp_shift(l->shift), b, j;
	const __s64 *w0, *w1, *w2, *w3;
	__u64 a0, a1, a2, a3, xv, acc = o->bias;

	KOPT_MLP_UNROLL
	for (b = 0; b < KOPT_MLP_MAX_UNITS / KOPT_MLP_BLOCK; b++) {
		j = b * KOPT_MLP_BLOCK;
		if (j >= no)
			break;
		KOPT_MLP_BLOCK_START(l, j);
		KOPT_MLP_DUFF1(KOPT_MLP_MAC4, n);
		acc = kopt_mlp_relu_mac(acc, o->w[j], a0, shift);
		acc = kopt_mlp_relu_mac(acc, o->w[j + 1], a1, shift);
		acc = kopt_mlp_relu_mac(acc, o->w[j + 2], a2, shift);
		acc = kopt_mlp_relu_mac(acc, o->w[j + 3], a3, shift);
	}
	return acc;
}

/*
 * Evaluates m on src into *logit. src is indexed by feature id with
 * by_feature (a table of every feature the caller computed), else by input
 * position; callers pass a constant. Returns enum kopt_mlp_status;
 * *logit is set only on KOPT_MLP_OK. s->h[1] is not used in this build.
 */
KOPT_MLP_INLINE int kopt_mlp_eval(const struct kopt_mlp *m, const __s64 *src,
				  int by_feature, struct kopt_mlp_scratch *s,
				  __s32 *logit)
{
	const struct kopt_mlp_layer *l = &m->hidden[0];
	const struct kopt_mlp_out *o = &m->out;
	__u32 n_in = m->n_in, n_hidden = m->n_hidden, n, i, groups;
	const __s64 *x = s->in, *w0 = o->w;
	__u64 a0 = o->bias;

	if (n_in == 0)
		return KOPT_MLP_NO_MODEL;
	if (n_hidden > KOPT_MLP_MAX_HIDDEN)
		return KOPT_MLP_BAD_MODEL;
	n = n_in < KOPT_MLP_MAX_IN ? n_in : KOPT_MLP_MAX_IN;
	/* one jump instead of a bound check per input */
	KOPT_MLP_DUFF1(KOPT_MLP_LOAD, n);
	/*
	 * The entries of x the next step multiplies: whole groups as in BPF,
	 * but not the input row's zero pads (past n).
	 */
	groups = kopt_mlp_groups(n_in);
	if (n_hidden == 2) {
		i = kopt_mlp_read_groups(l->n_in, groups) * KOPT_MLP_GROUP;
		kopt_mlp_hidden(l, x, i < n ? i : n, s->h[0]);
		groups = kopt_mlp_groups(l->n_out);
		n = KOPT_MLP_WIDTH;
		x = s->h[0];
		l = &m->hidden[1];
	}
	if (n_hidden) {
		i = kopt_mlp_read_groups(l->n_in, groups) * KOPT_MLP_GROUP;
		a0 = kopt_mlp_hidden_out(
			l, x, i < n ? i : n, o,
			kopt_mlp_read_groups(o->n_in,
					     kopt_mlp_groups(l->n_out)) *
				KOPT_MLP_GROUP);
	} else {
		i = kopt_mlp_read_groups(o->n_in, groups) * KOPT_MLP_GROUP;
		KOPT_MLP_DUFF1(KOPT_MLP_MAC1, i < n ? i : n);
	}
	*logit = (__s32)kopt_mlp_sat32(kopt_mlp_rescale(a0, o->shift));
	return KOPT_MLP_OK;
}

#endif /* __bpf__ */

KOPT_MLP_INLINE int kopt_mlp_positive(const struct kopt_mlp *m, __s32 logit)
{
	return logit >= m->threshold;
}

#endif /* KOPT_MLP_FIXED_H */
