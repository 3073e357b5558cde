/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Models for tests: one random, quantized model builder shared by the
 * evaluator, model-file and trainer tests.
 */
#ifndef KOPT_SELFTESTS_MODEL_UTIL_H
#define KOPT_SELFTESTS_MODEL_UTIL_H

#include "model.h"

/*
 * A random model of `shape` ("7-16-1"), quantized with 16 fractional bits,
 * deterministic for seed; input i reads feature (first_feature + i) mod
 * KOPT_FEAT_NR. NULL (with a failed assertion) on error; free() it.
 */
struct kopt_model *test_random_model(const char *shape, unsigned long seed,
				     __u32 first_feature);

#endif /* KOPT_SELFTESTS_MODEL_UTIL_H */
