/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kopt-mlp-kcost: the kernel build of the MLP evaluator under callgrind
 * (see mlp_kcost.c). The names of the two functions are what
 * `kopt bench mlp` tells callgrind to count.
 */
#ifndef KOPT_MLP_KCOST_H
#define KOPT_MLP_KCOST_H

#include <linux/types.h>

struct kopt_mlp;

#define KOPT_KCOST_FN "kopt_kcost_eval"
#define KOPT_KCOST_FN_REF "kopt_kcost_eval_ref"

/* include/kopt/mlp_fixed.h's kopt_mlp_eval(m, feat, by feature) */
int kopt_kcost_eval(const struct kopt_mlp *m, const __s64 *feat, __s32 *logit);
/* optimizer/mlp_ref.h's evaluator, the same way */
int kopt_kcost_eval_ref(const struct kopt_mlp *m, const __s64 *feat,
			__s32 *logit);

#endif /* KOPT_MLP_KCOST_H */
