// SPDX-License-Identifier: GPL-2.0-only
/*
 * The lane-pair prototype built for a caller whose feature table has 32
 * entries (KOPT_SWAR_FEAT_SLOTS): feature ids are masked, not clamped.
 * Compiled with the guest kernel's flags, as swar_eval.c.
 */
#define KOPT_SWAR_FEAT_SLOTS 32
#include "kopt/mlp_swar.h"
#include "swar_eval.h"

_Static_assert(KOPT_FEAT_NR <= KOPT_SWAR_FEAT_SLOTS, "ids fit the table");

__attribute__((noinline)) int kopt_swar_kcost_new32(const struct kopt_swar *m,
						    const __s64 *feat,
						    __s32 *logit)
{
	struct kopt_swar_scratch s __attribute__((uninitialized));

	return kopt_swar_eval(m, feat, &s, logit);
}
