/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The feature tables the evaluator's instruction counters evaluate on
 * (kopt-mlp-kcost, and the lane-pair prototype's kopt-swar-proto, which
 * must count the same inputs): xorshift64* from a fixed state, so the
 * sequence is the same on every machine.
 */
#ifndef KOPT_KCOST_INPUTS_H
#define KOPT_KCOST_INPUTS_H

#include <string.h>

#include <linux/types.h>

/* The state every counter starts from. */
#define KOPT_KCOST_SEED 0x9e3779b97f4a7c15ULL

/* xorshift64*: the next value of *state's sequence */
static inline __u64 kopt_kcost_next(__u64 *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545f4914f6cdd1dULL;
}

/*
 * One feature of DATASET: "zero", "small" (uniform in [-1000, 1000]) or
 * anything else, "wide" (a random magnitude up to 2^63, a random sign).
 */
static inline __s64 kopt_kcost_feature(__u64 *state, const char *dataset)
{
	__u64 u;

	if (!strcmp(dataset, "zero"))
		return 0;
	u = kopt_kcost_next(state);
	if (!strcmp(dataset, "small"))
		return (__s64)(u % 2001) - 1000;
	/* wide: a random magnitude, then a random sign (in __u64) */
	u = kopt_kcost_next(state) >> (u % 64);
	return (__s64)(kopt_kcost_next(state) & 1 ? 0 - u : u);
}

#endif /* KOPT_KCOST_INPUTS_H */
