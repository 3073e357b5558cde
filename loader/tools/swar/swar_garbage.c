// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt-swar-garbage [COUNT]: include/kopt/mlp_swar.h on models of random
 * bytes (and of random but plausible fields), built with ASan and UBSan:
 * no read outside the model, the feature table or the scratch, no
 * undefined behaviour, and every logit equal to a plain loop over the
 * same definition (below), so that any build doing those integer
 * operations, BPF included, gets the same bits. Exit 0, or 1 on the
 * first difference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kcost/kcost_inputs.h"
#include "kopt/mlp_swar.h"

static __u64 rng = 0x243f6a8885a308d3ULL;

static __u64 next_u64(void)
{
	return kopt_kcost_next(&rng);
}

/* The definition, one value at a time. */
static __u64 plain_input(const struct kopt_swar_input *in, const __s64 *src)
{
	__u32 id = in->feature < KOPT_FEAT_NR ? in->feature : KOPT_FEAT_NR - 1;
	__u64 d = (__u64)(src[id] >> (in->shift & 63)) - (__u64)in->lo;

	if (d <= in->hi)
		return d;
	return (__s64)d < 0 ? 0 : in->hi;
}

static __u64 plain_layer(const struct kopt_swar_layer *l, const __u64 *x,
			 __u32 n, int last, __u64 o, const __s64 *ow, __u64 *y)
{
	__u32 pairs = l->pairs < 16 ? l->pairs : 16, p, i;

	for (p = 0; p < pairs; p++) {
		__u64 a = l->bias[p], lb;
		__s64 hi;

		for (i = 0; i < n; i++)
			a += l->w[p][i] * x[i];
		lb = a & 0xffffffffULL; /* S_lo + 2^31 */
		hi = (__s64)a >> 32; /* S_hi */
		if (last) {
			if (lb > 0x80000000ULL)
				o += (__u64)ow[2 * p] * (lb - 0x80000000ULL);
			if ((__s64)a >= (1LL << 32))
				o += (__u64)ow[2 * p + 1] * (__u64)hi;
		} else {
			__s64 v[2] = { (__s64)lb - 0x80000000LL, hi };
			int k;

			for (k = 0; k < 2; k++) {
				__s64 h = v[k] <= 0 ? 0 :
						      v[k] >> (l->shift & 31);

				y[2 * p + k] = h > 65535 ? 65535 : h;
			}
		}
	}
	return o;
}

static int plain_eval(const struct kopt_swar *m, const __s64 *src, __s32 *logit)
{
	__u64 x[32], y[32], o = m->out.bias;
	__u32 n = m->n_in < 32 ? m->n_in : 32, i;
	__s64 v;

	if (m->n_in == 0)
		return KOPT_MLP_NO_MODEL;
	if (m->n_hidden > 2)
		return KOPT_MLP_BAD_MODEL;
	for (i = 0; i < n; i++)
		x[i] = plain_input(&m->in[i], src);
	if (m->n_hidden == 0) {
		for (i = 0; i < n; i++)
			o += (__u64)m->out.w[i] * x[i];
	} else if (m->n_hidden == 1) {
		o = plain_layer(&m->hidden[0], x, n, 1, o, m->out.w, y);
	} else {
		plain_layer(&m->hidden[0], x, n, 0, 0, m->out.w, y);
		n = 2 * (m->hidden[0].pairs < 16 ? m->hidden[0].pairs : 16);
		o = plain_layer(&m->hidden[1], y, n, 1, o, m->out.w, x);
	}
	v = (__s64)o >> (m->out.shift & 63);
	*logit = (__s32)v == v ? (__s32)v :
		 v < 0	       ? (__s32)0x80000000 :
				 0x7fffffff;
	return KOPT_MLP_OK;
}

/* Random bytes, then (half the time) fields in or near their ranges. */
static void garbage(struct kopt_swar *m)
{
	unsigned char *b = (unsigned char *)m;
	size_t i;
	__u32 l;

	for (i = 0; i < sizeof(*m); i++)
		b[i] = next_u64();
	if (next_u64() & 1)
		return;
	m->n_in = next_u64() % 36;
	m->n_hidden = next_u64() % 4;
	for (i = 0; i < KOPT_MLP_MAX_IN; i++) {
		m->in[i].feature = next_u64() % 26;
		m->in[i].shift = next_u64() % 70;
		m->in[i].hi = next_u64() % 70000;
		if (next_u64() & 1)
			m->in[i].lo = (__s64)(next_u64() % 200000) - 100000;
	}
	for (l = 0; l < 2; l++) {
		m->hidden[l].pairs = next_u64() % 20;
		m->hidden[l].shift = next_u64() % 40;
	}
	m->out.shift = next_u64() % 70;
}

int main(int argc, char **argv)
{
	static struct kopt_swar m;
	long count = argc > 1 ? atol(argv[1]) : 20000, k, r;
	__s64 src[KOPT_FEAT_NR];
	int st1, st2, i;
	__s32 l1, l2;

	for (k = 0; k < count; k++) {
		garbage(&m);
		for (r = 0; r < 8; r++) {
			struct kopt_swar_scratch *s = malloc(sizeof(*s));

			for (i = 0; i < KOPT_FEAT_NR; i++)
				src[i] = r & 1 ? (__s64)next_u64() :
						 (__s64)(next_u64() % 2001) -
							 1000;
			l1 = l2 = 0;
			st1 = kopt_swar_eval(&m, src, s, &l1);
			st2 = plain_eval(&m, src, &l2);
			free(s);
			if (st1 != st2 || l1 != l2) {
				fprintf(stderr,
					"model %ld row %ld: status %d logit "
					"%d, plain status %d logit %d\n",
					k, r, st1, l1, st2, l2);
				return 1;
			}
		}
	}
	printf("%ld garbage models x 8 rows: evaluator == plain definition\n",
	       count);
	return 0;
}
