// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt train and kopt model score: the command lines of the trainer
 * (optimizer/train.h has the what and why).
 *
 *   kopt train -i DATA.csv -o MODEL.kmlp   train, quantize, report, write
 *   kopt model score MODEL.kmlp DATA.csv   the fixed-point model on every
 *                                          row of a dataset, with counts
 *
 * Both print text, or one JSON object with --json. A bad dataset is an
 * error naming the file, line and column, and nothing is written: the
 * model goes to a temporary file renamed over MODEL.kmlp only once it is
 * complete.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "opts.h"
#include "model.h"
#include "train.h"

#define ERR_LEN 1024

static const char *const model_names[KOPT_NR_M] = {
	[KOPT_M_FLOAT] = "float",
	[KOPT_M_FIXED] = "fixed",
	[KOPT_M_BASELINE] = "baseline",
};

static const char *const split_names[KOPT_NR_SPLITS] = {
	[KOPT_TRAIN] = "train",
	[KOPT_VAL] = "validation",
	[KOPT_TEST] = "test",
};

static void print_json(struct json_object *o)
{
	printf("%s\n", kopt_json_text(o));
	json_object_put(o);
}

/* A double, or null where it is undefined (NaN) or infinite. */
static struct json_object *jnum(double v)
{
	return kopt_json_num(v, NULL);
}

static void jadd(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add(o, key, v);
}

struct json_object *kopt_metrics_json(const struct kopt_metrics *m)
{
	struct json_object *o = json_object_new_object();

	jadd(o, "n", json_object_new_int64(m->n));
	jadd(o, "tp", json_object_new_int64(m->tp));
	jadd(o, "fp", json_object_new_int64(m->fp));
	jadd(o, "tn", json_object_new_int64(m->tn));
	jadd(o, "fn", json_object_new_int64(m->fn));
	jadd(o, "accuracy", jnum(m->accuracy));
	jadd(o, "balanced_accuracy", jnum(m->balanced_accuracy));
	jadd(o, "precision", jnum(m->precision));
	jadd(o, "recall", jnum(m->recall));
	jadd(o, "f1", jnum(m->f1));
	jadd(o, "auc", jnum(m->auc));
	return o;
}

static void pct(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "n/a");
	else
		snprintf(buf, len, "%.2f%%", 100 * v);
}

static void metrics_header(void)
{
	printf("  %-20s %-26s %8s %9s %8s %8s %6s  %s\n", "model",
	       "accuracy (right/rows)", "bal.acc", "precision", "recall", "F1",
	       "AUC", "tp fp tn fn");
}

static void metrics_row(const char *name, const struct kopt_metrics *m)
{
	char acc[64], b[16], p[16], r[16], f[16], a[16];

	pct(b, sizeof(b), m->balanced_accuracy);
	pct(p, sizeof(p), m->precision);
	pct(r, sizeof(r), m->recall);
	pct(f, sizeof(f), m->f1);
	if (isnan(m->auc))
		snprintf(a, sizeof(a), "n/a");
	else
		snprintf(a, sizeof(a), "%.4f", m->auc);
	snprintf(acc, sizeof(acc), "%.3f%% (%ld/%ld)", 100 * m->accuracy,
		 m->tp + m->tn, m->n);
	printf("  %-20s %-26s %8s %9s %8s %8s %6s  %ld %ld %ld %ld\n", name,
	       acc, b, p, r, f, a, m->tp, m->fp, m->tn, m->fn);
}

/*
 * --features: "auto" (the best k), or names; an unknown name is answered
 * with the valid ones.
 */
static int features_arg(const char *arg, void *to, char *why, size_t len)
{
	struct kopt_train_cfg *cfg = to;
	char *list, *tok, *save = NULL;
	size_t used;
	__u64 seen = 0;
	int id, err = 0;

	cfg->n_feat = 0;
	if (!strcmp(arg, "auto"))
		return 0;
	list = strdup(arg);
	if (!list) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	for (tok = strtok_r(list, ",", &save); tok && !err;
	     tok = strtok_r(NULL, ",", &save)) {
		id = kopt_feat_id(tok);
		if (id < 0) {
			used = snprintf(
				why, len,
				"unknown feature '%s'; valid names:", tok);
			for (id = 0; id < KOPT_FEAT_NR && used < len; id++)
				used += snprintf(why + used, len - used, " %s",
						 kopt_feat_name(id));
			err = -EINVAL;
		} else if (seen & KOPT_FEAT_BIT(id)) {
			snprintf(why, len, "'%s' given twice", tok);
			err = -EINVAL;
		} else if (cfg->n_feat == KOPT_MLP_MAX_IN) {
			snprintf(why, len, "more than %d features",
				 KOPT_MLP_MAX_IN);
			err = -EINVAL;
		} else {
			seen |= KOPT_FEAT_BIT(id);
			cfg->feature[cfg->n_feat++] = id;
		}
	}
	free(list);
	if (!err && !cfg->n_feat) {
		snprintf(why, len, "empty list");
		err = -EINVAL;
	}
	return err;
}

/* --hidden: "0" (logistic regression), "H" or "H1,H2". */
static int hidden_arg(const char *s, void *to, char *why, size_t len)
{
	struct kopt_train_cfg *cfg = to;
	char buf[64], *tok, *save = NULL;
	__u32 n = 0, units[KOPT_MLP_MAX_HIDDEN];
	long v;

	snprintf(why, len, "expected 0, H or H1,H2 with 1..%d units",
		 KOPT_MLP_MAX_UNITS);
	if (!strcmp(s, "0")) {
		cfg->n_hidden = 0;
		return 0;
	}
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n == KOPT_MLP_MAX_HIDDEN ||
		    kopt_parse_long(tok, 1, KOPT_MLP_MAX_UNITS, &v))
			return -EINVAL;
		units[n++] = v;
	}
	if (!n)
		return -EINVAL;
	memcpy(cfg->units, units, sizeof(units[0]) * n);
	cfg->n_hidden = n;
	return 0;
}

/* the limits, in help text */
#define MAX_IN_S KOPT_STR(KOPT_MLP_MAX_IN)
#define MAX_UNITS_S KOPT_STR(KOPT_MLP_MAX_UNITS)
#define MAX_FRAC_S KOPT_STR(KOPT_MLP_MAX_FRAC)
#define L2_S KOPT_STR(KOPT_TRAIN_L2)
#define LOOKAHEAD_MAX_S KOPT_STR(KOPT_LOOKAHEAD_MAX)

static const struct kopt_opt_choice targets[] = {
	{ "forced" },
	{ "decision" },
	{ NULL },
};

/* --target for kopt train: the score command's choices, or lookahead:K */
static int target_arg(const char *s, void *to, char *why, size_t len)
{
	__u32 k;

	if (kopt_target_parse(s, &k, why, len))
		return -EINVAL;
	*(const char **)to = s;
	return 0;
}

static const char *shape_of(const struct kopt_model *m, char *buf, size_t len)
{
	kopt_model_shape(m, buf, len);
	return buf;
}

static bool is_input(const struct kopt_train_report *r, __u32 id)
{
	__u32 i;

	for (i = 0; i < r->fl.n_in; i++)
		if (r->fl.feature[i] == id)
			return true;
	return false;
}

/* fixed model minus the rule, with its 95% paired bootstrap interval */
static void print_vs_rule(const struct kopt_paired_diff *d)
{
	static const char *const names[KOPT_NR_D] = { "accuracy", "balanced",
						      "F1" };
	int k;

	printf("model - CFS rule (fixed point, %ld test rows; %ld right only "
	       "by the model, %ld only by the rule; 95%% paired bootstrap, "
	       "%ld resamples, seed %lu):",
	       d->n, d->a_only, d->b_only, d->reps, d->seed);
	for (k = 0; k < KOPT_NR_D; k++)
		printf("%s %s %+.4f [%+.4f, %+.4f]", k ? "," : "", names[k],
		       d->diff[k], d->lo[k], d->hi[k]);
	printf("\n");
}

static void train_text(const struct kopt_train_cfg *cfg,
		       const struct kopt_train_report *r, const char *out)
{
	const struct kopt_quant_try *q = NULL;
	char shape[64], f[32];
	__u32 i;
	int s;

	printf("dataset %s: %ld rows, target %s (loaded in %.2f s)\n",
	       cfg->path, r->n, cfg->target, r->load_s);
	if (r->lookahead)
		printf("  %s: of %ld rows read, kept the %ld refused ones "
		       "(decision=0) with %u later rows of their pid; dropped "
		       "%ld with decision=1 and %ld refused ones whose future "
		       "is unknown (fewer than %u later rows of their pid)\n",
		       cfg->target, r->rows_read, r->n, r->lookahead,
		       r->dropped_decided, r->dropped_unknown, r->lookahead);
	printf("splits by time, no shuffling:\n");
	for (s = 0; s < KOPT_NR_SPLITS; s++)
		printf("  %-10s rows %8ld..%-8ld %8ld rows %8ld positive "
		       "(%.2f%%)\n",
		       split_names[s], r->lo[s] + 1, r->lo[s] + r->len[s],
		       r->len[s], r->pos[s], 100.0 * r->pos[s] / r->len[s]);
	printf("features by ANOVA F on the training split (* = model "
	       "input%s):\n",
	       cfg->n_feat ? ", given by --features" : "");
	for (i = 0; i < r->n_rank; i++) {
		const struct kopt_feat_rank *k = &r->rank[i];

		if (isinf(k->f))
			snprintf(f, sizeof(f), "inf (separates)");
		else
			snprintf(f, sizeof(f), "%.6g", k->f);
		printf("  %c %-18s %16s%s%s\n", is_input(r, k->id) ? '*' : ' ',
		       kopt_feat_name(k->id), f,
		       k->excluded ? "  skipped: " : "", k->excluded ?: "");
	}
	printf("model: %s %s, class-balanced cross-entropy + L2 %g, "
	       "L-BFGS (NLopt), seed %lu\n",
	       shape_of(&r->fixed, shape, sizeof(shape)),
	       r->fixed.n_hidden ? "ReLU MLP" : "logistic regression",
	       KOPT_TRAIN_L2, cfg->seed);
	printf("  training: %d objective evaluations in %.2f s (measured "
	       "wall clock); %s\n",
	       r->evals, r->train_s, r->stop);
	printf("  kept evaluation %d: loss train %.5f, validation %.5f\n",
	       r->best_eval, r->train_loss, r->val_loss);
	for (i = 0; i < r->n_quant; i++)
		if (r->quant[i].frac_bits == r->fixed.frac_bits)
			q = &r->quant[i];
	if (q)
		printf("fixed point: frac_bits %u (best validation balanced "
		       "accuracy %.4f, %ld/%ld right, of %u..%u tried); fixed "
		       "agrees with float on %.3f%% of validation, %.3f%% of "
		       "test rows\n",
		       q->frac_bits, q->balanced, q->correct, r->len[KOPT_VAL],
		       r->quant[0].frac_bits,
		       r->quant[r->n_quant - 1].frac_bits,
		       100 * r->agree[KOPT_VAL], 100 * r->agree[KOPT_TEST]);
	printf("test split (%ld held-out rows; estimates for later data from "
	       "the same source):\n",
	       r->len[KOPT_TEST]);
	metrics_header();
	for (s = 0; s < KOPT_NR_M; s++) {
		char name[32];

		if (s == KOPT_M_BASELINE)
			snprintf(name, sizeof(name), "baseline (always %d)",
				 r->majority);
		else
			snprintf(name, sizeof(name), "%s", model_names[s]);
		metrics_row(name, &r->test[s]);
	}
	if (r->rule_ok)
		metrics_row("CFS rule", &r->rule_test);
	if (r->honest) {
		metrics_row("float w/o CFS cols",
			    &r->honest_test[KOPT_M_FLOAT]);
		metrics_row("fixed w/o CFS cols",
			    &r->honest_test[KOPT_M_FIXED]);
	}
	if (r->rule_ok && r->lookahead)
		printf("CFS rule: predicts 1 iff %s (can_migrate_task() "
		       "forces it within K = %u more failed balancing "
		       "attempts)\n",
		       r->rule, r->lookahead);
	else if (r->rule_ok)
		printf("CFS rule: predicts 1 iff %s (can_migrate_task())\n",
		       r->rule);
	else
		printf("CFS rule: n/a (no %s column)\n", r->rule_missing);
	if (r->rule_ok)
		print_vs_rule(&r->vs_rule);
	if (r->honest) {
		printf("w/o CFS cols: the same training without "
		       "nr_balance_failed and cache_nice_tries, inputs");
		for (i = 0; i < r->honest_n_in; i++)
			printf("%c%s", i ? ',' : ' ',
			       kopt_feat_name(r->honest_feature[i]));
		printf(" (not written)\n");
	} else if (r->honest_why) {
		printf("w/o CFS cols: n/a (%s)\n", r->honest_why);
	}
	printf("wrote %s (%s, frac_bits %u, crc32 0x%08x); total %.2f s\n", out,
	       shape, r->fixed.frac_bits, r->fixed.crc32, r->total_s);
}

static struct json_object *rank_json(const struct kopt_train_report *r)
{
	struct json_object *a = json_object_new_array(), *o;
	__u32 i;

	for (i = 0; i < r->n_rank; i++) {
		o = json_object_new_object();
		jadd(o, "name",
		     json_object_new_string(kopt_feat_name(r->rank[i].id)));
		jadd(o, "f", jnum(r->rank[i].f));
		jadd(o, "separates",
		     json_object_new_boolean(isinf(r->rank[i].f)));
		jadd(o, "input",
		     json_object_new_boolean(is_input(r, r->rank[i].id)));
		jadd(o, "excluded",
		     r->rank[i].excluded ?
			     json_object_new_string(r->rank[i].excluded) :
			     NULL);
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *quant_json(const struct kopt_train_report *r)
{
	struct json_object *a = json_object_new_array(), *o;
	__u32 i;

	for (i = 0; i < r->n_quant; i++) {
		const struct kopt_quant_try *q = &r->quant[i];

		o = json_object_new_object();
		jadd(o, "frac_bits", json_object_new_int(q->frac_bits));
		jadd(o, "ok", json_object_new_boolean(q->ok));
		if (q->ok) {
			jadd(o, "validation_correct",
			     json_object_new_int64(q->correct));
			jadd(o, "validation_agree",
			     json_object_new_int64(q->agree));
			jadd(o, "validation_logit_error",
			     json_object_new_double(q->logit_err));
			jadd(o, "validation_balanced_accuracy",
			     jnum(q->balanced));
		}
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *models_json(const struct kopt_metrics *m)
{
	struct json_object *o = json_object_new_object();
	int s;

	for (s = 0; s < KOPT_NR_M; s++)
		jadd(o, model_names[s], kopt_metrics_json(&m[s]));
	return o;
}

/* The model trained without the CFS rule's columns; null for lookahead. */
static const char *const diff_names[KOPT_NR_D] = { "accuracy",
						   "balanced_accuracy", "f1" };

/* model minus CFS's rule on the test split, paired; null without a rule */
static struct json_object *vs_rule_json(const struct kopt_train_report *r)
{
	const struct kopt_paired_diff *d = &r->vs_rule;
	struct json_object *o, *v;
	int k;

	if (!r->rule_ok)
		return NULL;
	o = json_object_new_object();
	jadd(o, "rows", json_object_new_int64(d->n));
	jadd(o, "model_right_rule_wrong", json_object_new_int64(d->a_only));
	jadd(o, "rule_right_model_wrong", json_object_new_int64(d->b_only));
	jadd(o, "interval",
	     json_object_new_string("95% paired bootstrap percentile"));
	jadd(o, "bootstrap_resamples", json_object_new_int64(d->reps));
	jadd(o, "bootstrap_seed", json_object_new_int64(d->seed));
	for (k = 0; k < KOPT_NR_D; k++) {
		v = json_object_new_object();
		jadd(v, "diff", jnum(d->diff[k]));
		jadd(v, "ci_low", jnum(d->lo[k]));
		jadd(v, "ci_high", jnum(d->hi[k]));
		jadd(v, "undefined_resamples",
		     json_object_new_int64(d->undefined[k]));
		jadd(o, diff_names[k], v);
	}
	return o;
}

static struct json_object *honest_json(const struct kopt_train_report *r)
{
	struct json_object *o, *a;
	__u32 i;

	if (!r->honest && !r->honest_why)
		return NULL;
	o = json_object_new_object();
	if (!r->honest) {
		jadd(o, "why_none", json_object_new_string(r->honest_why));
		return o;
	}
	a = json_object_new_array();
	for (i = 0; i < r->honest_n_in; i++)
		json_object_array_add(a, json_object_new_string(kopt_feat_name(
						 r->honest_feature[i])));
	jadd(o, "inputs", a);
	jadd(o, "test_metrics", models_json(r->honest_test));
	return o;
}

/* Tolerances of the written model against the float one (test split). */
#define TOL_BALANCED 0.02 /* balanced accuracy points */
#define TOL_AUC 0.05
#define TOL_AGREE 0.95 /* share of rows where the two agree */
#define MAX_WARN 4

/*
 * What is wrong with the model about to be written, judged on the test
 * split: worse than always answering the majority class, or than the
 * float model beyond a tolerance. Returns how many (each a sentence).
 */
static int quality_warnings(const struct kopt_train_report *r,
			    char warn[MAX_WARN][256])
{
	const struct kopt_metrics *fx = &r->test[KOPT_M_FIXED],
				  *fl = &r->test[KOPT_M_FLOAT],
				  *base = &r->test[KOPT_M_BASELINE];
	int n = 0;

	if (fx->accuracy < base->accuracy)
		snprintf(warn[n++], 256,
			 "the written model is right on %.1f%% of test rows, "
			 "always answering %d on %.1f%% (balanced accuracy "
			 "%.3f vs 0.5)",
			 100 * fx->accuracy, r->majority, 100 * base->accuracy,
			 fx->balanced_accuracy);
	if (fl->balanced_accuracy - fx->balanced_accuracy > TOL_BALANCED)
		snprintf(warn[n++], 256,
			 "fixed point loses %.1f points of balanced accuracy "
			 "against the float model (%.3f vs %.3f; tolerance "
			 "%.0f)",
			 100 * (fl->balanced_accuracy - fx->balanced_accuracy),
			 fx->balanced_accuracy, fl->balanced_accuracy,
			 100 * TOL_BALANCED);
	if (isfinite(fl->auc) && isfinite(fx->auc) &&
	    fl->auc - fx->auc > TOL_AUC)
		snprintf(warn[n++], 256,
			 "fixed-point AUC %.3f against the float model's %.3f "
			 "(tolerance %.2f)",
			 fx->auc, fl->auc, TOL_AUC);
	if (r->agree[KOPT_TEST] < TOL_AGREE)
		snprintf(warn[n++], 256,
			 "fixed and float agree on only %.1f%% of test rows "
			 "(tolerance %.0f%%)",
			 100 * r->agree[KOPT_TEST], 100 * TOL_AGREE);
	return n;
}

static void train_json(const struct kopt_train_cfg *cfg,
		       const struct kopt_train_report *r, const char *out)
{
	struct json_object *o = json_object_new_object(), *v, *sp;
	char shape[64], crc[16];
	__u32 i;
	int s;

	v = json_object_new_object();
	jadd(v, "path", json_object_new_string(cfg->path));
	jadd(v, "rows", json_object_new_int64(r->n));
	jadd(v, "target", json_object_new_string(cfg->target));
	jadd(v, "load_s", json_object_new_double(r->load_s));
	jadd(v, "rows_read", json_object_new_int64(r->rows_read));
	if (r->lookahead) {
		struct json_object *la = json_object_new_object();

		jadd(la, "k", json_object_new_int(r->lookahead));
		jadd(la, "dropped_decided",
		     json_object_new_int64(r->dropped_decided));
		jadd(la, "dropped_unknown_future",
		     json_object_new_int64(r->dropped_unknown));
		jadd(v, "lookahead", la);
	}
	jadd(o, "dataset", v);
	sp = json_object_new_object();
	for (s = 0; s < KOPT_NR_SPLITS; s++) {
		v = json_object_new_object();
		jadd(v, "first_row", json_object_new_int64(r->lo[s] + 1));
		jadd(v, "rows", json_object_new_int64(r->len[s]));
		jadd(v, "positives", json_object_new_int64(r->pos[s]));
		jadd(sp, split_names[s], v);
	}
	jadd(o, "splits", sp);
	jadd(o, "feature_selection",
	     json_object_new_string(cfg->n_feat ? "explicit" : "auto"));
	jadd(o, "features", rank_json(r));
	v = json_object_new_array();
	for (i = 0; i < r->fl.n_in; i++)
		json_object_array_add(v, json_object_new_string(kopt_feat_name(
						 r->fl.feature[i])));
	jadd(o, "inputs", v);
	v = json_object_new_object();
	jadd(v, "shape",
	     json_object_new_string(shape_of(&r->fixed, shape, sizeof(shape))));
	jadd(v, "l2", json_object_new_double(KOPT_TRAIN_L2));
	jadd(v, "seed", json_object_new_int64(cfg->seed));
	jadd(v, "max_evaluations", json_object_new_int(cfg->max_eval));
	jadd(v, "evaluations", json_object_new_int(r->evals));
	jadd(v, "kept_evaluation", json_object_new_int(r->best_eval));
	jadd(v, "stop", json_object_new_string(r->stop));
	jadd(v, "train_loss", jnum(r->train_loss));
	jadd(v, "validation_loss", jnum(r->val_loss));
	jadd(o, "model", v);
	jadd(o, "training_time_s", json_object_new_double(r->train_s));
	jadd(o, "total_time_s", json_object_new_double(r->total_s));
	jadd(o, "frac_bits", json_object_new_int(r->fixed.frac_bits));
	jadd(o, "quantization", quant_json(r));
	v = json_object_new_object();
	jadd(v, "validation", json_object_new_double(r->agree[KOPT_VAL]));
	jadd(v, "test", json_object_new_double(r->agree[KOPT_TEST]));
	jadd(o, "float_fixed_agreement", v);
	jadd(o, "baseline_predicts", json_object_new_int(r->majority));
	jadd(o, "validation_metrics", models_json(r->val));
	v = models_json(r->test);
	jadd(v, "cfs_rule",
	     r->rule_ok ? kopt_metrics_json(&r->rule_test) : NULL);
	jadd(o, "test_metrics", v);
	v = json_object_new_object();
	jadd(v, "predicts_1_iff", json_object_new_string(r->rule));
	jadd(v, "available", json_object_new_boolean(r->rule_ok));
	jadd(v, "missing_columns",
	     r->rule_ok ? NULL : json_object_new_string(r->rule_missing));
	jadd(o, "cfs_rule", v);
	jadd(o, "model_minus_cfs_rule", vs_rule_json(r));
	jadd(o, "without_cfs_columns", honest_json(r));
	jadd(o, "output", json_object_new_string(out));
	{
		char warn[MAX_WARN][256];
		int n = quality_warnings(r, warn);

		v = json_object_new_array();
		for (int i = 0; i < n; i++)
			json_object_array_add(v,
					      json_object_new_string(warn[i]));
		jadd(o, "warnings", v);
	}
	snprintf(crc, sizeof(crc), "0x%08x", r->fixed.crc32);
	jadd(o, "crc32", json_object_new_string(crc));
	print_json(o);
}

/* Fails early on an output directory that cannot take the file. */
static int check_out_dir(const char *out)
{
	char *copy = strdup(out);
	int ret;

	if (!copy)
		return -ENOMEM;
	ret = access(dirname(copy), W_OK) ? -errno : 0;
	free(copy);
	return ret;
}

/* Writes the model next to out and renames it over out: all or nothing. */
static int write_model(const char *out, struct kopt_model *m)
{
	char tmp[PATH_MAX], err[ERR_LEN];

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", out, (int)getpid()) >=
	    (int)sizeof(tmp)) {
		pr_warn("train: %s: path too long\n", out);
		return -ENAMETOOLONG;
	}
	if (kopt_model_write(tmp, m, err, sizeof(err))) {
		pr_warn("train: %s\n", err);
		unlink(tmp);
		return -EIO;
	}
	if (rename(tmp, out)) {
		pr_warn("train: rename %s to %s: %s\n", tmp, out,
			strerror(errno));
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

static void warn_saturation(const struct kopt_train_report *r)
{
	__u32 i;

	for (i = 0; i < r->fl.n_in; i++)
		if (r->sat[i])
			pr_warn("train: warning: %s is outside the 32-bit "
				"input range in %ld training rows; the "
				"fixed-point model saturates it there\n",
				kopt_feat_name(r->fl.feature[i]), r->sat[i]);
}

static int train_run(struct kopt_train_cfg *cfg, const char *out)
{
	struct kopt_train_report *r = malloc(sizeof(*r));
	char err[ERR_LEN];
	int ret;

	if (!r)
		return KOPT_EXIT_FAIL;
	ret = check_out_dir(out);
	if (ret) {
		pr_warn("train: -o %s: cannot write there: %s\n", out,
			strerror(-ret));
		free(r);
		return KOPT_EXIT_FAIL;
	}
	ret = kopt_train(cfg, r, err, sizeof(err));
	if (ret) {
		pr_warn("train: %s; nothing written\n", err);
		free(r);
		return KOPT_EXIT_FAIL;
	}
	warn_saturation(r);
	ret = write_model(out, &r->fixed);
	if (!ret && kopt_env.json)
		train_json(cfg, r, out);
	else if (!ret)
		train_text(cfg, r, out);
	if (!ret) {
		char warn[MAX_WARN][256];
		int n = quality_warnings(r, warn);

		/* after the report, so the last lines on screen say it */
		fflush(stdout);
		for (int i = 0; i < n; i++)
			pr_warn("train: WARNING: %s\n", warn[i]);
		if (n)
			pr_warn("train: WARNING: %s was written but is not "
				"fit to deploy as it is; see above\n",
				out);
	}
	free(r);
	return ret ? KOPT_EXIT_FAIL : KOPT_EXIT_OK;
}

/*
 * The help's epilog: the loss, the format choice and the CSV columns by
 * name, from the feature table itself so the list cannot go stale.
 */
static const char *train_epilog(void)
{
	static char buf[2048];
	size_t n, line = 0;

	n = snprintf(buf, sizeof(buf),
		     "Loss: class-balanced binary cross-entropy + " L2_S
		     "/2 |W|^2 on weights. The\nfixed-point format is the "
		     "frac_bits (4.." MAX_FRAC_S ") with the best validation\n"
		     "balanced accuracy, then the closest agreement with the "
		     "float model.\nTest figures estimate accuracy on later "
		     "data from the same source; times\nare measured wall "
		     "clock.\n\nColumns read by name (kopt collect migrations "
		     "writes them): the target,\nforced or decision "
		     "(lookahead:K reads decision and pid), hot (for CFS's "
		     "rule)\nand the features:\n ");
	for (__u32 id = 0; id < KOPT_FEAT_NR && n < sizeof(buf) - 64; id++) {
		const char *f = kopt_feat_name(id);

		if (line + strlen(f) + 2 > 76) {
			n += snprintf(buf + n, sizeof(buf) - n, "\n ");
			line = 0;
		}
		n += snprintf(buf + n, sizeof(buf) - n, " %s%s", f,
			      id + 1 < KOPT_FEAT_NR ? "," : "");
		line += strlen(f) + 2;
	}
	return buf;
}

int cmd_train(int argc, char **argv)
{
	const char *out = NULL;
	struct kopt_train_cfg cfg;
	long k, seed;
	const struct kopt_opts spec = {
		.cmd = "kopt train",
		.usage = "-i DATA.csv -o MODEL.kmlp "
			 "[--target forced|decision|lookahead:K] "
			 "[--features auto|a,b,c] [-k N] [--hidden H[,H2]] "
			 "[--seed N] [--max-iter N] [--json]",
		.desc = "Trains the MLP that predicts TARGET (default forced) from "
			"a `kopt collect\nmigrations` CSV (or any CSV with those "
			"column names), without shuffling:\nthe first 70% of the "
			"rows train, the next 15% validate (early stopping,\n"
			"fixed-point format), the last 15% test. Prints the "
			"splits, the feature\nranking, the training and the test "
			"figures of the float model, the\nfixed-point model it "
			"writes, the majority baseline and CFS's own rule\n"
			"for the target (can_migrate_task(): forced iff hot "
			"&& nr_balance_failed >\ncache_nice_tries; decision "
			"iff !hot || that; lookahead:K iff\n"
			"nr_balance_failed + K > cache_nice_tries). For forced "
			"and decision it also\ntrains and tests the same model "
			"without nr_balance_failed and\ncache_nice_tries (the "
			"columns CFS defines those labels from); the file\n"
			"written is the full model.",
		.epilog = train_epilog(),
		.opts = KOPT_OPTS(
			KOPT_OPT_STR("input", 'i', &cfg.path, "DATA.csv",
				     "the dataset", .flags = KOPT_OPT_REQUIRED),
			KOPT_OPT_STR("output", 'o', &out, "MODEL.kmlp",
				     "the model to write",
				     .flags = KOPT_OPT_REQUIRED),
			KOPT_OPT_FUNC(
				"target", 't', target_arg, &cfg.target,
				"TARGET",
				"forced (default) or decision: that column; "
				"lookahead:K (K 1.." LOOKAHEAD_MAX_S
				"): for a task CFS refused "
				"to migrate (decision=0), 1 iff one of the next "
				"K rows of the same pid has decision=1. Rows "
				"with decision=1, and refused rows with fewer "
				"than K later rows of their pid (future "
				"unknown), are dropped and counted"),
			KOPT_OPT_FUNC(
				"features", 'F', features_arg, &cfg,
				"auto|a,b,c",
				"auto: the best k features by ANOVA F on the "
				"training split, skipping pid, vruntime, "
				"exec_start (identifiers) and constant columns "
				"(default)\na,b,c: exactly these (names from "
				"include/kopt/features.h)"),
			KOPT_OPT_LONG("k", 'k', &k, 1, KOPT_MLP_MAX_IN, "N",
				      "auto: how many, 1.." MAX_IN_S
				      " (default 7)"),
			KOPT_OPT_FUNC(
				"hidden", 'H', hidden_arg, &cfg, "H[,H2]",
				"hidden ReLU units per layer, 1.." MAX_UNITS_S
				"; 0: logistic regression (default 16)"),
			KOPT_OPT_LONG(
				"seed", 's', &seed, 0, LONG_MAX, "N",
				"weight init seed (default 1): same seed, same "
				"model"),
			KOPT_OPT_INT(
				"max-iter", 'm', &cfg.max_eval, 1, 1000000, "N",
				"objective evaluations of L-BFGS (NLopt maxeval), "
				"default 300"),
			KOPT_OPT_JSON("print the report as JSON")),
	};
	int ret;

	kopt_train_defaults(&cfg);
	cfg.path = NULL;
	k = cfg.k;
	seed = cfg.seed;
	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	cfg.k = k;
	cfg.seed = seed;
	return train_run(&cfg, out);
}

/* ---- kopt model score ---------------------------------------------------------- */

static void score_report(const char *model_path, const char *data,
			 const char *target, const struct kopt_model *m,
			 const struct kopt_dataset *ds,
			 const struct kopt_metrics *mm, int majority)
{
	struct json_object *o;
	char shape[64], crc[16];

	shape_of(m, shape, sizeof(shape));
	if (!kopt_env.json) {
		printf("model %s (%s, crc32 0x%08x) on %s: %ld rows, target "
		       "%s, %ld positive\n",
		       model_path, shape, m->crc32, data, ds->n, target,
		       ds->positives);
		metrics_header();
		metrics_row("fixed", &mm[0]);
		snprintf(shape, sizeof(shape), "baseline (always %d)",
			 majority);
		metrics_row(shape, &mm[1]);
		return;
	}
	o = json_object_new_object();
	jadd(o, "model", json_object_new_string(model_path));
	jadd(o, "shape", json_object_new_string(shape));
	snprintf(crc, sizeof(crc), "0x%08x", m->crc32);
	jadd(o, "crc32", json_object_new_string(crc));
	jadd(o, "dataset", json_object_new_string(data));
	jadd(o, "target", json_object_new_string(target));
	jadd(o, "rows", json_object_new_int64(ds->n));
	jadd(o, "positives", json_object_new_int64(ds->positives));
	jadd(o, "fixed", kopt_metrics_json(&mm[0]));
	jadd(o, "baseline", kopt_metrics_json(&mm[1]));
	jadd(o, "baseline_predicts", json_object_new_int(majority));
	print_json(o);
}

static int score(const char *model_path, const char *data, const char *target,
		 bool target_given)
{
	struct kopt_model *m = malloc(sizeof(*m));
	struct kopt_mlp *mlp = malloc(sizeof(*mlp));
	struct kopt_metrics mm[2];
	struct kopt_dataset ds;
	char err[ERR_LEN];
	int ret = KOPT_EXIT_FAIL, majority;
	double *z = NULL;
	__u64 need = 0;
	__u32 i;

	if (!m || !mlp)
		goto out;
	if (kopt_model_read(model_path, m, err, sizeof(err))) {
		pr_warn("model score: %s rejected: %s\n", model_path, err);
		goto out;
	}
	/* the model predicts what it was trained for, nothing else */
	if (m->target != KOPT_TARGET_NONE && target_given &&
	    strcmp(target, kopt_model_target_name(m->target))) {
		pr_warn("model score: %s was trained for --target %s; scoring "
			"it against %s would measure nothing (omit --target, "
			"or train a model for %s)\n",
			model_path, kopt_model_target_name(m->target), target,
			target);
		goto out;
	}
	if (m->target != KOPT_TARGET_NONE)
		target = kopt_model_target_name(m->target);
	else if (!kopt_env.json)
		printf("model %s does not record its target (written before "
		       "kopt did): scoring against %s\n",
		       model_path, target);
	for (i = 0; i < m->n_in; i++)
		need |= KOPT_FEAT_BIT(m->feature[i]);
	if (kopt_dataset_read(data, target, need, need, &ds, err,
			      sizeof(err))) {
		pr_warn("model score: %s\n", err);
		goto out;
	}
	z = malloc(ds.n * sizeof(double));
	if (z) {
		kopt_model_to_mlp(m, mlp);
		kopt_fixed_logits(mlp, &ds, 0, ds.n, z);
		kopt_metrics_compute(ds.y, z, m->threshold, ds.n, &mm[0]);
		majority = 2 * ds.positives > ds.n;
		kopt_metrics_constant(ds.y, ds.n, majority, &mm[1]);
		score_report(model_path, data, target, m, &ds, mm, majority);
		ret = KOPT_EXIT_OK;
	}
	kopt_dataset_free(&ds);
out:
	free(z);
	free(m);
	free(mlp);
	return ret;
}

int cmd_model_score(int argc, char **argv)
{
	const char *target = "forced", *model = NULL, *data = NULL;
	bool target_given = false;
	const struct kopt_opts spec = {
		.cmd = "kopt model score",
		.usage = "[--target forced|decision] [--json] MODEL.kmlp "
			 "DATA.csv",
		.desc = "Runs the fixed-point model (the evaluator the kernel "
			"runs, in userspace)\non every row of DATA.csv, no split, "
			"and prints accuracy, balanced accuracy,\nprecision, "
			"recall, F1, ROC AUC (of the integer logit) and the "
			"confusion\ncounts, for the model and for the majority "
			"class of this dataset. DATA.csv\nneeds the model's "
			"feature columns and the target the model records.",
		.opts = KOPT_OPTS(
			KOPT_OPT_ENUM_NAME(
				"target", 't', &target, targets, "TARGET",
				"the label column: the one the model records "
				"(a\ndifferent one is an error); forced for a "
				"model that\n"
				"records none",
				.given = &target_given),
			KOPT_OPT_JSON("print the scores as JSON")),
		.args = KOPT_ARGS(KOPT_ARG("MODEL.kmlp", &model),
				  KOPT_ARG("DATA.csv", &data)),
	};
	int ret;

	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	return score(model, data, target, target_given);
}
