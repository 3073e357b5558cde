// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kfunc's evaluation, compiled as the guest kernel compiles it
 * (Makefile: KCOST_CFLAGS, the flags of the tinyconfig 6.12 build in
 * kernel-patches/), for kopt-mlp-kcost to run under callgrind: what
 * bpf_kopt_mlp_eval() executes, minus its two size checks. The reference
 * evaluator (optimizer/mlp_ref.h, the code before issue 21's cost work)
 * is compiled the same way beside it as the baseline.
 */
#include "kopt/mlp_fixed.h"
#include "mlp_ref.h"
#include "mlp_kcost.h"

/* Not inlined: callgrind counts the instructions of these functions. */
__attribute__((noinline)) int kopt_kcost_eval(const struct kopt_mlp *m,
					      const __s64 *feat, __s32 *logit)
{
	/* as in the kfunc: the evaluator reads only what it wrote */
	struct kopt_mlp_scratch s __attribute__((uninitialized));

	return kopt_mlp_eval(m, feat, 1, &s, logit);
}

__attribute__((noinline)) int
kopt_kcost_eval_ref(const struct kopt_mlp *m, const __s64 *feat, __s32 *logit)
{
	struct kopt_mlp_scratch s __attribute__((uninitialized));

	return kopt_mlp_ref_eval(m, feat, 1, &s, logit);
}
