// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt-mlp-kcost MODEL DATASET COUNT: evaluates the model in MODEL (the
 * bytes of one struct kopt_mlp, as `kopt bench mlp` writes them) on COUNT
 * feature tables of DATASET with the kernel build of the evaluator and
 * with the reference, both compiled as the guest kernel compiles C
 * (mlp_kcost_eval.c), and checks that every status and logit agree.
 * `kopt bench mlp` runs it under valgrind --tool=callgrind, counting only
 * inside the two functions, so the instruction count per call is
 * deterministic: no load, no frequency, no timer moves it.
 *
 * Datasets (fixed seed):
 *   zero   every feature 0 (what `make vmbench-icount`'s kfunc
 *          calibration evaluates)
 *   small  uniform in [-1000, 1000]
 *   wide   any magnitude up to 2^63, either sign: many inputs saturate
 *
 * Exit: 0 all agree (silently), 1 a mismatch (on stderr), 2 bad
 * arguments or model.
 * A small program of its own, not a kopt-lab command: it is linked
 * without PIE, as kernel code is, with nothing but libc.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kopt/mlp_fixed.h"
#include "kcost_inputs.h"
#include "mlp_kcost.h"

#define MAX_COUNT 1000000

static __u64 rng = KOPT_KCOST_SEED;

static int read_model(const char *path, struct kopt_mlp *m)
{
	FILE *f = fopen(path, "rb");
	size_t n;
	int c;

	if (!f) {
		fprintf(stderr, "kopt-mlp-kcost: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	n = fread(m, 1, sizeof(*m), f);
	c = fgetc(f);
	fclose(f);
	if (n != sizeof(*m) || c != EOF) {
		fprintf(stderr,
			"kopt-mlp-kcost: %s: not one struct kopt_mlp "
			"(%zu bytes expected)\n",
			path, sizeof(*m));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct kopt_mlp m;
	__s64 feat[KOPT_FEAT_NR];
	__s32 l1, l2;
	long count, k, bad = 0;
	int st1, st2, i;
	char *end;

	if (argc != 4 || (strcmp(argv[2], "zero") && strcmp(argv[2], "small") &&
			  strcmp(argv[2], "wide"))) {
		fprintf(stderr, "usage: kopt-mlp-kcost MODEL zero|small|wide "
				"COUNT\n");
		return 2;
	}
	errno = 0;
	count = strtol(argv[3], &end, 10);
	if (errno || *end || count < 1 || count > MAX_COUNT) {
		fprintf(stderr,
			"kopt-mlp-kcost: COUNT '%s': not an integer in "
			"1..%d\n",
			argv[3], MAX_COUNT);
		return 2;
	}
	if (read_model(argv[1], &m))
		return 2;
	for (k = 0; k < count; k++) {
		for (i = 0; i < KOPT_FEAT_NR; i++)
			feat[i] = kopt_kcost_feature(&rng, argv[2]);
		l1 = l2 = 0;
		st1 = kopt_kcost_eval(&m, feat, &l1);
		st2 = kopt_kcost_eval_ref(&m, feat, &l2);
		if (st1 != st2 || l1 != l2) {
			if (!bad)
				fprintf(stderr,
					"kopt-mlp-kcost: evaluation %ld: "
					"status %d logit %d, reference "
					"status %d logit %d\n",
					k, st1, l1, st2, l2);
			bad++;
		}
	}
	if (bad) {
		fprintf(stderr,
			"kopt-mlp-kcost: %ld of %ld evaluations differ "
			"from the reference\n",
			bad, count);
		return 1;
	}
	return 0; /* silent: the caller reads callgrind's file */
}
