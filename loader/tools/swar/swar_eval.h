/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The two evaluators of the lane-pair prototype, compiled as the guest
 * kernel compiles C (Makefile KCOST_CFLAGS) in swar_eval.c, for
 * kopt-swar-proto to run under an instruction counter. The function
 * names are what count.sh tells it to count.
 */
#ifndef KOPT_SWAR_EVAL_H
#define KOPT_SWAR_EVAL_H

#include <linux/types.h>

struct kopt_mlp;
struct kopt_swar;

#define KOPT_SWAR_FN_OLD "kopt_swar_kcost_old"
#define KOPT_SWAR_FN_NEW "kopt_swar_kcost_new"
#define KOPT_SWAR_FN_NEW32 "kopt_swar_kcost_new32"

/* include/kopt/mlp_fixed.h's kopt_mlp_eval(m, feat, by feature) */
int kopt_swar_kcost_old(const struct kopt_mlp *m, const __s64 *feat,
			__s32 *logit);
/* include/kopt/mlp_swar.h's kopt_swar_eval(m, feat) */
int kopt_swar_kcost_new(const struct kopt_swar *m, const __s64 *feat,
			__s32 *logit);
/* the same with a feature table of 32 entries (feat[32]) */
int kopt_swar_kcost_new32(const struct kopt_swar *m, const __s64 *feat,
			  __s32 *logit);

#endif /* KOPT_SWAR_EVAL_H */
