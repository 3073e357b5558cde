/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ABI between bpf/kpatch_probe.bpf.c (probes of the kopt kernel patch for
 * tests and vmbench) and userspace.
 *
 * Neutral types only: shared by BPF and userspace.
 */
#ifndef KOPT_KPATCH_PROBE_H
#define KOPT_KPATCH_PROBE_H

#include "mlp_fixed.h"

/* Per-CPU counters (kp_stats), summed by userspace. */
enum kopt_kp_stat {
	KOPT_KP_CALLS, /* can_migrate_task() returns seen by fexit */
	KOPT_KP_MIGRATE, /* ... that returned 1 */
	KOPT_KP_TP_CALLS, /* sched_can_migrate_task tracepoint hits */
	KOPT_KP_TP_FORCED, /* ... with forced = 1 */
	KOPT_KP_AGREE, /* tracepoint and fexit decisions equal */
	KOPT_KP_DISAGREE, /* ... differ: a bug */
	KOPT_KP_UNPAIRED, /* a hit without its fexit, or the reverse */
	KOPT_KP_LAT_NS, /* sum of fentry-to-fexit time */
	KOPT_KP_LAT_CALLS, /* calls timed */
	KOPT_KP_NR_STATS,
};

/* kfunc parity batch: feature tables in, logits out. */
#define KOPT_KP_BATCH 4096

struct kopt_kp_feat {
	__s64 feat[KOPT_FEAT_NR]; /* by enum kopt_feat */
};

struct kopt_kp_out {
	__s32 logit;
	__s32 status; /* enum kopt_mlp_status, or -EINVAL */
};

/* kp_kfunc_batch's context (BPF_PROG_TEST_RUN ctx_in). */
struct kopt_kp_batch {
	__u32 count;
	__u32 pad;
};

#endif /* KOPT_KPATCH_PROBE_H */
