// SPDX-License-Identifier: GPL-2.0-only
/*
 * The current evaluator (include/kopt/mlp_fixed.h, as the kfunc calls
 * it) and the lane-pair prototype (include/kopt/mlp_swar.h), both compiled
 * with the guest kernel's flags, for kopt-swar-proto.
 */
#include "kopt/mlp_fixed.h"
#include "kopt/mlp_swar.h"
#include "swar_eval.h"

/* Not inlined: the counter counts the instructions of these functions. */
__attribute__((noinline)) int
kopt_swar_kcost_old(const struct kopt_mlp *m, const __s64 *feat, __s32 *logit)
{
	struct kopt_mlp_scratch s __attribute__((uninitialized));

	return kopt_mlp_eval(m, feat, 1, &s, logit);
}

__attribute__((noinline)) int
kopt_swar_kcost_new(const struct kopt_swar *m, const __s64 *feat, __s32 *logit)
{
	struct kopt_swar_scratch s __attribute__((uninitialized));

	return kopt_swar_eval(m, feat, &s, logit);
}
