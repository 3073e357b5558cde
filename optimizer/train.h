/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The trainer of the forced-migration MLP (kopt issue 10): read a dataset
 * of load-balancing decisions (the CSV of `kopt collect migrations`, or any
 * CSV with the same column names), split it by time, rank the features,
 * train a small float MLP with NLopt's L-BFGS and early stopping on the
 * validation split, pick the fixed-point format that loses the least on the
 * validation split (by balanced accuracy, as the loss is class-balanced),
 * and measure float, fixed-point and majority-baseline models on the
 * held-out test split, beside CFS's own rule for the target and, for the
 * forced and decision labels (which can_migrate_task() computes from
 * nr_balance_failed and cache_nice_tries), the same model trained without
 * those two columns. Targets: a label column, or lookahead:K (was a
 * refused migration followed by one of the same pid within K rows).
 *
 * Why here (optimizer/) and not in loader/: it is learning code with no
 * BPF in it; loader/cli/train_cmd.c is the CLI on top (`kopt train`, `kopt
 * model score`), selftests/test_train.c its tests.
 *
 * Cost: a 1M-row CSV loads in about a second; training is dominated by one
 * forward and backward pass over the training split per objective
 * evaluation (cblas_dgemm on row blocks); see the README for measured
 * times.
 */
#ifndef KOPT_OPTIMIZER_TRAIN_H
#define KOPT_OPTIMIZER_TRAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "kopt/features.h"
#include "model.h"

/* ---- dataset ------------------------------------------------------------- */

/*
 * Rows of a dataset in file (= time) order. Feature columns are kept as
 * the raw integers of the file, column-major: the fixed-point evaluator
 * takes them as they are, training converts the ones it uses to double.
 */
struct json_object;

struct kopt_dataset {
	long n; /* rows */
	long positives; /* rows with label 1 */
	__u64 have; /* KOPT_FEAT_BIT() of every feature column loaded */
	__s64 *col[KOPT_FEAT_NR]; /* n values each, NULL if not loaded */
	unsigned char *y; /* n labels, 0 or 1 */
	/*
	 * The `hot` column (task_hot()'s result, nonzero = hot) if the file
	 * has it, else NULL: not a feature, but CFS's rule needs it.
	 */
	unsigned char *hot;
};

/* The longest look-ahead of --target lookahead:K. */
#define KOPT_LOOKAHEAD_MAX 64

/*
 * A target name: "forced", "decision" or "lookahead:K" with K in
 * 1..KOPT_LOOKAHEAD_MAX. 0 with *k set (0 for a column target), or
 * -EINVAL with why naming the value.
 */
int kopt_target_parse(const char *target, __u32 *k, char *why, size_t len);

/*
 * Turns a dataset labelled by `decision` into the look-ahead target: each
 * refused row (decision 0) gets 1 iff one of the next k rows of the same
 * pid (in file order) has decision 1. Rows with decision 1 and refused rows
 * with fewer than k later rows of their pid leave the dataset; their
 * counts go to *decided and *unknown. Needs the pid column. 0 or -ENOMEM.
 */
int kopt_dataset_lookahead(struct kopt_dataset *ds, __u32 k, long *decided,
			   long *unknown);

/*
 * Reads path. target names the label column ("forced" or "decision").
 * Feature columns in `need` must exist (error otherwise); those in `want`
 * are loaded if present; other columns are ignored. Lines starting with
 * '#' and empty lines are skipped; the first other line is the header.
 * 0, or -errno with "path: line L, column C: reason" in err.
 */
int kopt_dataset_read(const char *path, const char *target, __u64 want,
		      __u64 need, struct kopt_dataset *ds, char *err,
		      size_t errlen);
void kopt_dataset_free(struct kopt_dataset *ds);

/* ---- metrics ---------------------------------------------------------------- */

/* Binary classification figures on n rows; NAN where undefined. */
struct kopt_metrics {
	long n, tp, fp, tn, fn;
	double accuracy, balanced_accuracy, precision, recall, f1;
	double auc; /* ROC AUC of the score (ties count half); NAN if 1 class */
};

/* Metrics of the predictions score >= threshold against y; AUC of score. */
void kopt_metrics_compute(const unsigned char *y, const double *score,
			  double threshold, long n, struct kopt_metrics *m);
/* One prediction against its label, into n and the confusion counts. */
void kopt_metrics_count(struct kopt_metrics *m, bool pred, bool label);
/*
 * Accuracy, balanced accuracy, precision, recall and F1 from n and the
 * counts tp/fp/tn/fn (for callers that count as they go); auc untouched.
 */
void kopt_metrics_finish(struct kopt_metrics *m);
/* JSON of m: counts, and the ratios (null where undefined). */
struct json_object *kopt_metrics_json(const struct kopt_metrics *m);
/* Metrics of a constant prediction (the majority baseline): AUC 0.5. */
void kopt_metrics_constant(const unsigned char *y, long n, int pred,
			   struct kopt_metrics *m);
/* The same from the count of positive labels among n. */
void kopt_metrics_constant_n(long pos, long n, int pred,
			     struct kopt_metrics *m);

/* The three figures a paired comparison reports, in this order. */
enum kopt_diff_metric { KOPT_D_ACC, KOPT_D_BAL, KOPT_D_F1, KOPT_NR_D };

/*
 * Predictor a minus predictor b on the same rows: the rows only one of
 * them gets right (McNemar's discordant pairs), and for accuracy,
 * balanced accuracy and F1 the difference with a 95% percentile interval
 * from a paired bootstrap (rows resampled with replacement, both
 * predictors scored on the same resample).
 */
struct kopt_paired_diff {
	long n, a_only, b_only; /* rows; right by a alone; by b alone */
	long reps; /* bootstrap resamples */
	unsigned long seed;
	double diff[KOPT_NR_D]; /* on the rows themselves; NAN if undefined */
	double lo[KOPT_NR_D], hi[KOPT_NR_D]; /* 95% interval; NAN if none */
	long undefined[KOPT_NR_D]; /* resamples where it was undefined */
};

#define KOPT_BOOT_REPS 2000
#define KOPT_BOOT_SEED 21

/*
 * Fills d for predictions a[i], b[i] (0/1) against y[i], i < n. 0, or
 * -ENOMEM. A resample where a figure is undefined for either predictor
 * (F1 with no positive predicted or labelled) is left out of that
 * figure's interval and counted in d->undefined.
 */
int kopt_paired_bootstrap(const unsigned char *y, const unsigned char *a,
			  const unsigned char *b, long n, long reps,
			  unsigned long seed, struct kopt_paired_diff *d);

/* ---- feature ranking --------------------------------------------------------- */

/* One feature column of the ranking. */
struct kopt_feat_rank {
	__u32 id;
	double f; /* ANOVA F against the label; INFINITY if it separates */
	const char *excluded; /* why auto selection skips it, or NULL */
};

/*
 * Ranks every loaded feature by its univariate ANOVA F score on rows
 * [0, n): candidates by F, best first, then the excluded ones (features
 * that identify rather than predict: pid, vruntime, exec_start; constant
 * columns). Returns the number of entries written to out (KOPT_FEAT_NR
 * max).
 */
__u32 kopt_rank_features(const struct kopt_dataset *ds, long n,
			 struct kopt_feat_rank *out);

/* ---- the network -------------------------------------------------------------- */

/* L2 penalty on weights (not biases): (l2 / 2) * sum w^2. */
#define KOPT_TRAIN_L2 1e-4

/* Layout of an MLP's parameters in one vector, layer by layer (W, b). */
struct kopt_net {
	__u32 n_layers; /* hidden layers + 1 (the logit) */
	__u32 in[KOPT_MLP_LAYERS], out[KOPT_MLP_LAYERS];
	size_t w_off[KOPT_MLP_LAYERS], b_off[KOPT_MLP_LAYERS];
	size_t n_params;
};

void kopt_net_init(struct kopt_net *net, __u32 n_in, __u32 n_hidden,
		   const __u32 *units);

/* He (hidden) and Glorot (output) normal init, zero biases; seeded. */
void kopt_net_random(const struct kopt_net *net, double *theta,
		     unsigned long seed);

/*
 * The objective: (1 / sum c) sum c[y_i] * bce(logit_i, y_i) + (l2 / 2) |W|^2
 * on n rows of x (row-major, normalized, net->in[0] columns), with class
 * weights c[0], c[1]. Writes the analytic gradient to grad if not NULL.
 */
double kopt_net_loss(const struct kopt_net *net, const double *theta,
		     const double *x, const unsigned char *y, long n,
		     const double c[2], double l2, double *grad);

/* Logits of n rows. */
void kopt_net_logits(const struct kopt_net *net, const double *theta,
		     const double *x, long n, double *logit);

/* ---- training ----------------------------------------------------------------- */

enum kopt_split { KOPT_TRAIN, KOPT_VAL, KOPT_TEST, KOPT_NR_SPLITS };
enum kopt_which { KOPT_M_FLOAT, KOPT_M_FIXED, KOPT_M_BASELINE, KOPT_NR_M };

struct kopt_train_cfg {
	const char *path; /* dataset */
	const char *target; /* "forced" (default), "decision", "lookahead:K" */
	__u32 n_feat; /* 0: auto, the best k by F */
	__u64 exclude; /* KOPT_FEAT_BIT()s never used as inputs */
	__u32 feature[KOPT_MLP_MAX_IN]; /* explicit list */
	__u32 k; /* auto: how many */
	__u32 n_hidden;
	__u32 units[KOPT_MLP_MAX_HIDDEN];
	unsigned long seed;
	int max_eval; /* objective evaluations (NLopt maxeval) */
	int check_every; /* validation loss every N evaluations */
	int patience; /* evaluations without improvement before stopping */
};

void kopt_train_defaults(struct kopt_train_cfg *cfg);

/* One fixed-point format tried on the validation split. */
struct kopt_quant_try {
	__u32 frac_bits;
	bool ok; /* the quantizer accepted it */
	long correct; /* validation rows right */
	long agree; /* validation rows where fixed and float agree */
	double balanced; /* validation balanced accuracy: what chooses */
	double logit_err; /* mean |fixed - float| validation logit */
};

struct kopt_train_report {
	long n; /* rows */
	long lo[KOPT_NR_SPLITS], len[KOPT_NR_SPLITS], pos[KOPT_NR_SPLITS];
	struct kopt_feat_rank rank[KOPT_FEAT_NR];
	__u32 n_rank;
	long sat[KOPT_MLP_MAX_IN]; /* rows past the 32-bit input range */
	struct kopt_mlp_float fl; /* the float model */
	struct kopt_model fixed; /* the chosen quantization */
	struct kopt_quant_try quant[KOPT_MLP_MAX_FRAC + 1];
	__u32 n_quant;
	double agree[KOPT_NR_SPLITS]; /* float vs fixed predictions */
	int majority; /* of the training split */
	/* optimizer */
	int evals, best_eval;
	double train_loss, val_loss; /* at the returned parameters */
	const char *stop; /* why training stopped */
	/* wall clock, seconds */
	double load_s, train_s, total_s;
	struct kopt_metrics test[KOPT_NR_M]; /* on the test split */
	struct kopt_metrics val[KOPT_NR_M]; /* on the validation split */
	/* lookahead:K: the rows read and the rows the target drops */
	__u32 lookahead; /* K, 0 for a column target */
	long rows_read, dropped_decided, dropped_unknown;
	/* CFS's own rule for the target, on the test split */
	const char *rule; /* the rule as an expression */
	bool rule_ok; /* false: a column it needs is absent */
	char rule_missing[64]; /* "hot/cache_nice_tries": what is absent */
	struct kopt_metrics rule_test;
	/* the fixed-point model minus the rule, paired on the test split */
	struct kopt_paired_diff vs_rule;
	/*
	 * forced and decision: the same training without the columns CFS
	 * defines the label from (nr_balance_failed, cache_nice_tries);
	 * honest_why says why there is none (NULL if there is).
	 */
	bool honest;
	const char *honest_why;
	__u32 honest_n_in, honest_feature[KOPT_MLP_MAX_IN];
	struct kopt_metrics honest_test[KOPT_NR_M];
};

/*
 * The whole pipeline. 0, -EINVAL for bad data (err says what and where),
 * or another -errno. The model to write is rep->fixed.
 */
int kopt_train(const struct kopt_train_cfg *cfg, struct kopt_train_report *rep,
	       char *err, size_t errlen);

/*
 * Logits of the fixed-point model on rows [lo, lo + n) of ds (by the
 * model's feature ids, which ds must have loaded).
 */
void kopt_fixed_logits(const struct kopt_mlp *mlp,
		       const struct kopt_dataset *ds, long lo, long n,
		       double *logit);

#endif /* KOPT_OPTIMIZER_TRAIN_H */
