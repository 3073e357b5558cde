/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kopt kernel patch's load-balancing side, as BPF and userspace share
 * it: the sched_lb_ops policy (bpf/sched_lb.bpf.c, `kopt model attach`),
 * its configuration and statistics, and the forced-flag agreement count of
 * the patch tracepoint rung (bpf/migrate_tp.bpf.c).
 *
 * Neutral types only: shared by BPF and userspace.
 */
#ifndef KOPT_SCHED_LB_H
#define KOPT_SCHED_LB_H

#ifndef __VMLINUX_H__ /* BPF gets the types from vmlinux.h */
#include <linux/types.h>
#endif

#include "features.h"

/* struct sched_lb_ops .name length (SCHED_LB_OPS_NAME_LEN in the patch). */
#define KOPT_LB_NAME_LEN 16

/* sched_lb_ops->can_migrate(): keep CFS's decision (any negative value). */
#define KOPT_LB_KEEP_CFS (-1)

/* What the policy does with the model's prediction. */
enum kopt_lb_mode {
	/* evaluate and count, never change a decision */
	KOPT_LB_SHADOW = 0,
	/* migrate now what the model predicts CFS would force later */
	KOPT_LB_ENFORCE = 1,
	/* refuse every soft migration (tests: hooks really decide) */
	KOPT_LB_REFUSE = 2,
	/* allow every soft migration (tests: hard vetoes still hold) */
	KOPT_LB_ACCEPT = 3,
	KOPT_LB_NR_MODES,
};

/* lb_cfg[0]: written by `kopt model attach`, read on every call. */
struct kopt_lb_cfg {
	__u32 mode; /* enum kopt_lb_mode */
	__u32 use_threshold; /* 1: threshold below, 0: the model's own */
	__s32 threshold; /* logit threshold for "forced" */
	__u32 sample; /* 1: one lb_samples record per evaluation */
};

/* Per-CPU counters of the policy (lb_stats), summed by userspace. */
enum kopt_lb_stat {
	KOPT_LB_STAT_CALLS, /* can_migrate() calls */
	KOPT_LB_STAT_CFS_MIGRATE, /* CFS's own decision was 1 */
	KOPT_LB_STAT_CFS_FORCED, /* ... and it was a forced migration */
	KOPT_LB_STAT_EVALS, /* model evaluations that gave a logit */
	KOPT_LB_STAT_KFUNC, /* ... of which through the kernel's kfunc */
	KOPT_LB_STAT_PREDICTED, /* logit >= threshold: "forced" */
	KOPT_LB_STAT_AGREE, /* prediction == CFS's forced flag */
	KOPT_LB_STAT_OVERRIDES, /* returned a decision unlike CFS's */
	KOPT_LB_STAT_NO_MODEL, /* no model loaded */
	KOPT_LB_STAT_BUSY, /* no consistent model snapshot */
	KOPT_LB_STAT_ERROR, /* evaluator refused the model or sizes */
	KOPT_LB_STAT_HARD_SEEN, /* called for a hard-vetoed task: a bug */
	KOPT_LB_STAT_LOST, /* lb_samples full: sample dropped */
	KOPT_LB_NR_STATS,
};

/* lb_stats[0], per CPU: every counter, indexed by enum kopt_lb_stat. */
struct kopt_lb_counters {
	__u64 n[KOPT_LB_NR_STATS];
};

/*
 * lb_samples ring buffer record (cfg.sample): one model evaluation with
 * everything needed to check it afterwards, record by record: the exact
 * feature table the evaluator read, CFS's decision and forced flag (the
 * label), and the prediction the policy acted on. `kopt model live`
 * writes these as a dataset with the collector's column names, so
 * `kopt model score` recomputes every logit in userspace and the live
 * in-kernel accuracy and the userspace accuracy are counted on the same
 * records.
 */
struct kopt_lb_sample {
	__u64 ts_ns; /* bpf_ktime_get_ns() */
	__u64 seq; /* mlp_active seq the evaluation used */
	__u32 crc32; /* the model's crc32 field, read with it */
	__s32 logit;
	__s32 status; /* enum kopt_mlp_status, or negative errno */
	__s32 threshold; /* the logit threshold the prediction used */
	__u8 via_kfunc;
	__u8 cfs_decision; /* CFS's own decision: 1 migrate */
	__u8 cfs_forced; /* ... and it was forced (cache hot) */
	__u8 predicted; /* logit >= threshold (0 unless status OK) */
	__u32 reserved;
	__s64 feat[KOPT_FEAT_NR]; /* by feature id; 0 where unread */
};

#define KOPT_LB_SAMPLES_BYTES (4U << 20)

/*
 * Forced-flag agreement of the patch tracepoint rung (mig_tp_agree):
 * the exact flag against the patch-free rule of bpf/migrate.bpf.c.
 */
enum kopt_mig_agree {
	KOPT_MIG_AGREE_BOTH, /* forced by both */
	KOPT_MIG_AGREE_NEITHER, /* forced by neither */
	KOPT_MIG_AGREE_EXACT_ONLY, /* the rule missed a forced migration */
	KOPT_MIG_AGREE_RULE_ONLY, /* the rule called a migration forced */
	KOPT_MIG_AGREE_NR,
};

#endif /* KOPT_SCHED_LB_H */
