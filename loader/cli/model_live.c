// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt model live: runs a workload with a model deciding (or shadowing)
 * load balancing in the kernel, and scores it against CFS on the same
 * calls.
 *
 * It registers the sched_lb_ops policy (loader/lib/bpf/sched_lb.c) privately, so
 * it goes away with this process, loads MODEL into the policy's own maps,
 * turns on one lb_samples record per evaluation and runs CMD (or waits
 * --duration). Each record carries the feature table the in-kernel
 * evaluator read, its logit and prediction, and CFS's decision and forced
 * flag. Here every logit is recomputed by the userspace build of the same
 * evaluator (include/kopt/mlp_fixed.h) and every prediction is scored
 * against CFS's forced flag, twice: with the kernel's predictions (the
 * live in-kernel accuracy) and with userspace's (the offline accuracy on
 * the very same records). With -o the records are written as a dataset
 * with the collector's column names, so `kopt model score MODEL FILE`
 * recounts it independently from the file.
 *
 * --mode off registers nothing: the same workload under stock CFS, timed
 * the same way, is the baseline of an enforce run.
 *
 * Nothing outlives the process: the policy link is not pinned and the
 * model maps are the policy's own (the pinned live model, if any, is left
 * alone). A pinned policy (`kopt model attach`) makes registration fail
 * with EBUSY, and the message says so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "cli.h"
#include "opts.h"
#include "kopt/mlp_map.h"
#include "mlp.h"
#include "model.h"
#include "sched_lb.h"
#include "train.h"

#define MODE_OFF KOPT_LB_NR_MODES /* no policy: stock CFS */

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

struct live {
	struct kopt_mlp mlp;
	FILE *csv;
	bool use_threshold;
	__s32 threshold;
	__u64 records, status_ok, status_busy, status_other;
	__u64 logit_mismatch, pred_mismatch, threshold_mismatch;
	struct kopt_metrics kernel, user, majority; /* counted, then finished */
	bool first_mismatch_shown;
};

static void write_header(struct live *lv, const char *model, const char *mode,
			 bool kfunc, const char *cmd)
{
	struct utsname u;
	int i;

	uname(&u);
	fprintf(lv->csv, "# kopt model live\n");
	fprintf(lv->csv, "# kernel: %s\n", u.release);
	fprintf(lv->csv, "# model: %s (crc32 %08x)\n", model, lv->mlp.crc32);
	fprintf(lv->csv, "# mode: %s, evaluator: %s\n", mode,
		kfunc ? "bpf_kopt_mlp_eval kfunc" : "inline BPF");
	fprintf(lv->csv, "# workload: %s\n", cmd);
	fprintf(lv->csv,
		"# one row per in-kernel evaluation: the features it read "
		"(same units as kopt collect migrations; 0 where the model "
		"reads none), CFS's decision and forced flag, the kernel's "
		"logit and prediction\n");
	fprintf(lv->csv, "ts_ns");
	for (i = 0; i < KOPT_FEAT_NR; i++)
		fprintf(lv->csv, ",%s", kopt_feat_name(i));
	fprintf(lv->csv, ",decision,forced,logit,threshold,predicted,"
			 "via_kfunc,seq,crc32\n");
}

static void write_row(struct live *lv, const struct kopt_lb_sample *s)
{
	int i;

	fprintf(lv->csv, "%llu", (unsigned long long)s->ts_ns);
	for (i = 0; i < KOPT_FEAT_NR; i++)
		fprintf(lv->csv, ",%lld", (long long)s->feat[i]);
	fprintf(lv->csv, ",%u,%u,%d,%d,%u,%u,%llu,%u\n", s->cfs_decision,
		s->cfs_forced, s->logit, s->threshold, s->predicted,
		s->via_kfunc, (unsigned long long)s->seq, s->crc32);
}

static int on_sample(void *ctx, void *data, size_t len)
{
	const struct kopt_lb_sample *s = data;
	struct kopt_mlp_scratch scratch = {};
	struct live *lv = ctx;
	__s32 logit, thr;
	int pred;

	if (len < sizeof(*s))
		return 0;
	lv->records++;
	if (s->status == KOPT_MLP_BUSY) {
		lv->status_busy++;
		return 0;
	}
	if (s->status != KOPT_MLP_OK) {
		lv->status_other++;
		return 0;
	}
	lv->status_ok++;
	/* the same evaluator, built for userspace, on the same table */
	if (kopt_mlp_eval(&lv->mlp, s->feat, 1, &scratch, &logit) !=
	    KOPT_MLP_OK)
		logit = s->logit + 1; /* counts as a mismatch */
	thr = lv->use_threshold ? lv->threshold : lv->mlp.threshold;
	pred = logit >= thr;
	if (logit != s->logit) {
		lv->logit_mismatch++;
		if (!lv->first_mismatch_shown) {
			pr_warn("model live: logit mismatch at ts %llu: "
				"kernel %d, userspace %d\n",
				(unsigned long long)s->ts_ns, s->logit, logit);
			lv->first_mismatch_shown = true;
		}
	}
	if (s->threshold != thr)
		lv->threshold_mismatch++;
	if (pred != s->predicted)
		lv->pred_mismatch++;
	kopt_metrics_count(&lv->kernel, s->predicted, s->cfs_forced);
	kopt_metrics_count(&lv->user, pred, s->cfs_forced);
	if (lv->csv)
		write_row(lv, s);
	return 0;
}

struct live_opts {
	const char *model;
	enum kopt_lb_mode mode; /* or MODE_OFF */
	bool use_threshold;
	__s32 threshold;
	bool no_kfunc;
	double duration;
	const char *out;
	char **cmd;
};

static void print_confusion(const char *name, const struct kopt_metrics *c)
{
	printf("%-22s %9.4f %9.4f %9llu %9llu %9llu %9llu\n", name, c->accuracy,
	       c->balanced_accuracy, (unsigned long long)c->tp,
	       (unsigned long long)c->fp, (unsigned long long)c->tn,
	       (unsigned long long)c->fn);
}

struct result {
	const char *mode;
	int kfunc; /* -1: no policy */
	char cmd[512];
	char status[64];
	double runtime_s;
	bool have_stats;
	__u64 st[KOPT_LB_NR_STATS];
};

static void report(const struct live *lv, const struct result *r,
		   const struct live_opts *o)
{
	struct json_object *j, *so;
	int i;

	if (!kopt_env.json) {
		printf("mode:          %s%s\n", r->mode,
		       o->mode == MODE_OFF ? " (no policy: stock CFS)" : "");
		if (r->kfunc >= 0)
			printf("evaluator:     %s\n",
			       r->kfunc ? "bpf_kopt_mlp_eval kfunc" :
					  "inline BPF");
		printf("workload:      %s (%s)\n", r->cmd[0] ? r->cmd : "none",
		       r->status);
		printf("run time:      %.3f s (measured, wall clock)\n",
		       r->runtime_s);
		if (o->mode == MODE_OFF)
			return;
		printf("evaluations:   %llu sampled (%llu busy, %llu other, "
		       "%llu lost)\n",
		       (unsigned long long)lv->status_ok,
		       (unsigned long long)lv->status_busy,
		       (unsigned long long)lv->status_other,
		       (unsigned long long)r->st[KOPT_LB_STAT_LOST]);
		printf("logits recomputed in userspace: %llu differ, "
		       "%llu predictions differ\n",
		       (unsigned long long)lv->logit_mismatch,
		       (unsigned long long)lv->pred_mismatch);
		printf("\nlabel: CFS's forced flag on the same calls\n");
		printf("%-22s %9s %9s %9s %9s %9s %9s\n", "predictor",
		       "accuracy", "balanced", "tp", "fp", "tn", "fn");
		print_confusion("model, in kernel", &lv->kernel);
		print_confusion("model, userspace", &lv->user);
		print_confusion("majority baseline", &lv->majority);
		printf("\npolicy counters:\n");
		for (i = 0; i < KOPT_LB_NR_STATS; i++)
			printf("  %-18s %llu\n", kopt_lb_stat_names[i],
			       (unsigned long long)r->st[i]);
		return;
	}
	j = json_object_new_object();
	json_object_object_add(j, "mode", json_object_new_string(r->mode));
	if (r->kfunc >= 0)
		json_object_object_add(
			j, "evaluator",
			json_object_new_string(r->kfunc ? "kfunc" : "inline"));
	json_object_object_add(j, "workload", json_object_new_string(r->cmd));
	json_object_object_add(j, "workload_status",
			       json_object_new_string(r->status));
	json_object_object_add(j, "runtime_s",
			       json_object_new_double(r->runtime_s));
	if (o->mode != MODE_OFF) {
		json_object_object_add(j, "model",
				       json_object_new_string(o->model));
		json_object_object_add(j, "evaluations",
				       json_object_new_int64(lv->status_ok));
		json_object_object_add(j, "busy",
				       json_object_new_int64(lv->status_busy));
		json_object_object_add(j, "other_status",
				       json_object_new_int64(lv->status_other));
		json_object_object_add(
			j, "logit_mismatches",
			json_object_new_int64(lv->logit_mismatch));
		json_object_object_add(
			j, "prediction_mismatches",
			json_object_new_int64(lv->pred_mismatch));
		json_object_object_add(j, "kernel",
				       kopt_metrics_json(&lv->kernel));
		json_object_object_add(j, "userspace",
				       kopt_metrics_json(&lv->user));
		json_object_object_add(j, "majority_baseline",
				       kopt_metrics_json(&lv->majority));
		so = json_object_new_object();
		for (i = 0; i < KOPT_LB_NR_STATS; i++)
			json_object_object_add(
				so, kopt_lb_stat_names[i],
				json_object_new_int64((int64_t)r->st[i]));
		json_object_object_add(j, "stats", so);
	}
	printf("%s\n", kopt_json_text(j));
	json_object_put(j);
}

/*
 * After the run: the majority baseline (always the class most labels
 * have, on the same records) and the ratios of all three. No AUC: the
 * kernel's scores are not kept.
 */
static void finish_scores(struct live *lv)
{
	const struct kopt_metrics *k = &lv->kernel;
	long pos = k->tp + k->fn;

	kopt_metrics_constant_n(pos, k->n, pos > k->n - pos, &lv->majority);
	kopt_metrics_finish(&lv->kernel);
	kopt_metrics_finish(&lv->user);
	lv->kernel.auc = lv->user.auc = lv->majority.auc = NAN;
}

static int load_policy(struct kopt_lb **lbp, struct live *lv,
		       const struct live_opts *o,
		       struct kopt_mlp_active **active)
{
	struct kopt_lb_opts lo = {
		.mode = o->mode,
		.use_threshold = o->use_threshold,
		.threshold = o->threshold,
		.no_kfunc = o->no_kfunc,
		.sample = true,
	};
	char err[512];
	__u64 seq;
	int ret, e;

	ret = kopt_lb_open(lbp, &lo, err, sizeof(err));
	if (ret) {
		pr_warn("model live: %s\n", err);
		return ret;
	}
	*active = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE, MAP_SHARED,
		       kopt_lb_active_fd(*lbp), 0);
	if (*active == MAP_FAILED) {
		*active = NULL;
		pr_warn("model live: mapping the policy's mlp_active failed: "
			"%s\n",
			strerror(errno));
		return KOPT_EXIT_BPF;
	}
	e = kopt_mlp_swap(kopt_lb_weights_fd(*lbp), *active, -1, &lv->mlp,
			  &seq);
	if (e) {
		pr_warn("model live: loading %s into the policy failed: %s\n",
			o->model, strerror(-e));
		return KOPT_EXIT_BPF;
	}
	return KOPT_EXIT_OK;
}

static int run(struct live *lv, const struct live_opts *o)
{
	struct kopt_mlp_active *active = NULL;
	struct ring_buffer *rb = NULL;
	struct kopt_lb *lb = NULL;
	struct result r = {
		.mode = o->mode == MODE_OFF ? "off" :
					      kopt_lb_mode_names[o->mode],
		.kfunc = -1,
	};
	int ret = KOPT_EXIT_OK, wst;
	pid_t child = -1;
	double t0;

	snprintf(r.status, sizeof(r.status), "none");
	kopt_join_cmd(o->cmd, r.cmd, sizeof(r.cmd));
	if (o->mode != MODE_OFF) {
		ret = load_policy(&lb, lv, o, &active);
		if (ret)
			goto out;
		r.kfunc = kopt_lb_uses_kfunc(lb);
		rb = ring_buffer__new(kopt_lb_samples_fd(lb), on_sample, lv,
				      NULL);
		if (!rb) {
			pr_warn("model live: opening lb_samples failed: %s\n",
				strerror(errno));
			ret = KOPT_EXIT_BPF;
			goto out;
		}
		if (lv->csv)
			write_header(lv, o->model, r.mode, r.kfunc, r.cmd);
	}
	t0 = kopt_now_s();
	if (o->cmd)
		child = kopt_workload_start(o->cmd, "kopt model live");
	if (child < 0 && o->cmd) {
		pr_warn("model live: fork failed: %s\n", strerror(errno));
		ret = KOPT_EXIT_FAIL;
		goto out;
	}
	while (!stop_signal) {
		if (o->duration > 0 && kopt_now_s() - t0 >= o->duration)
			break;
		if (child > 0 && waitpid(child, &wst, WNOHANG) == child) {
			r.runtime_s = kopt_now_s() - t0;
			kopt_describe_status(wst, r.status, sizeof(r.status));
			kopt_workload_stop_group(child);
			child = -1;
			break;
		}
		if (rb)
			ring_buffer__poll(rb, 50);
		else
			usleep(20000);
	}
	if (!r.runtime_s)
		r.runtime_s = kopt_now_s() - t0;
	if (child > 0) {
		wst = kopt_workload_stop(child);
		kopt_describe_status(wst, r.status, sizeof(r.status));
		strncat(r.status, " (stopped at the end)",
			sizeof(r.status) - strlen(r.status) - 1);
	}
	if (stop_signal)
		pr_info("model live: stopped by signal %d\n", (int)stop_signal);
	if (rb) {
		ring_buffer__consume(rb);
		kopt_lb_read_stats(kopt_lb_stats_fd(lb), r.st);
		r.have_stats = true;
	}
	finish_scores(lv);
	report(lv, &r, o);
	if (lv->logit_mismatch || lv->pred_mismatch) {
		pr_warn("model live: the kernel and userspace disagree on %llu "
			"logits: a bug, please report it\n",
			(unsigned long long)lv->logit_mismatch);
		ret = KOPT_EXIT_FAIL;
	} else if (o->mode != MODE_OFF && r.st[KOPT_LB_STAT_LOST]) {
		pr_warn("model live: %llu samples lost (ring buffer full): "
			"the accuracy covers the %llu recorded\n",
			(unsigned long long)r.st[KOPT_LB_STAT_LOST],
			(unsigned long long)lv->status_ok);
	}
out:
	ring_buffer__free(rb);
	if (active)
		munmap(active, getpagesize());
	kopt_lb_close(lb); /* unregisters: CFS decides alone again */
	return ret;
}

static const struct kopt_opt_choice live_modes[] = {
	{ "shadow", KOPT_LB_SHADOW },
	{ "enforce", KOPT_LB_ENFORCE },
	{ "off", MODE_OFF },
	{ NULL },
};

static bool parse_args(int argc, char **argv, struct live_opts *o, int *ret)
{
	long threshold = 0;
	const struct kopt_opts spec = {
		.cmd = "kopt model live",
		.usage = "-m MODEL.kmlp [--mode shadow|enforce] [--threshold "
			 "LOGIT] [--duration S] [-o SAMPLES.csv] [--no-kfunc] "
			 "[--json] [-- CMD [ARG...]]\n"
			 "--mode off -- CMD [ARG...]",
		.desc = "Runs CMD (or waits S seconds) with MODEL deciding load "
			"balancing in the\nkernel through the sched_lb_ops policy "
			"(kopt 6.12 patch series), and scores\nevery in-kernel "
			"evaluation against CFS's forced flag on the same call: "
			"the\nkernel's predictions, and the same records "
			"re-evaluated in userspace (they\nmust agree exactly), "
			"next to the majority baseline. The policy is private:\n"
			"it is unregistered when kopt exits.",
		.epilog =
			"Run time is the workload's wall-clock time from start "
			"to exit.",
		.opts = KOPT_OPTS(
			KOPT_OPT_STR("model", 'm', &o->model, "FILE",
				     "the .kmlp model"),
			KOPT_OPT_ENUM(
				"mode", 0, (int *)&o->mode, live_modes, "MODE",
				"shadow (default: predict and count, CFS "
				"decides),\nenforce (migrate now what the model "
				"says CFS would\nforce later), off (no policy: "
				"stock CFS, for timing)"),
			KOPT_OPT_LONG(
				"threshold", 't', &threshold, INT32_MIN,
				INT32_MAX, "N",
				"logit threshold instead of the model's own",
				.unit = "a logit", .given = &o->use_threshold),
			KOPT_OPT_DOUBLE("duration", 'd', &o->duration, 0.001,
					1e7, "S",
					"stop after S seconds (stops CMD too)",
					.unit = "seconds"),
			KOPT_OPT_STR(
				"output", 'o', &o->out, "FILE",
				"write every evaluation as CSV (the collector's "
				"column\nnames: kopt model score reads it)"),
			KOPT_OPT_FLAG(
				"no-kfunc", 0, &o->no_kfunc,
				"inline BPF evaluator even if the kernel has the "
				"kfunc"),
			KOPT_OPT_JSON("machine-readable summary")),
		.args = KOPT_ARGS(KOPT_ARG_REST("CMD", &o->cmd)),
		.flags = KOPT_OPTS_STOP,
	};

	if (!kopt_opts_parse(&spec, argc, argv, ret))
		return false;
	o->threshold = (__s32)threshold;
	*ret = KOPT_EXIT_USAGE;
	if (!o->cmd && o->duration <= 0) {
		kopt_usage_error(spec.cmd,
				 "give a workload (-- CMD) or --duration");
		return false;
	}
	if (o->mode != MODE_OFF && !o->model) {
		kopt_usage_error(spec.cmd, "--model is required (except with "
					   "--mode off)");
		return false;
	}
	if (o->mode == MODE_OFF && (o->model || o->out || o->use_threshold)) {
		kopt_usage_error(spec.cmd,
				 "--mode off runs no model: --model, --output "
				 "and --threshold do not apply");
		return false;
	}
	*ret = KOPT_EXIT_OK;
	return true;
}

int cmd_model_live(int argc, char **argv)
{
	struct live_opts o = { .mode = KOPT_LB_SHADOW };
	struct sigaction sa = { .sa_handler = on_signal };
	struct kopt_model *m = NULL;
	struct live *lv;
	char err[KOPT_MODEL_ERR];
	int ret;

	if (!parse_args(argc, argv, &o, &ret))
		return ret;
	lv = calloc(1, sizeof(*lv));
	m = calloc(1, sizeof(*m));
	if (!lv || !m) {
		ret = KOPT_EXIT_FAIL;
		goto out;
	}
	lv->use_threshold = o.use_threshold;
	lv->threshold = o.threshold;
	/* validate everything before touching the kernel */
	if (o.model) {
		if (kopt_model_read(o.model, m, err, sizeof(err))) {
			pr_warn("model live: %s\n", err);
			ret = KOPT_EXIT_FAIL;
			goto out;
		}
		kopt_model_to_mlp(m, &lv->mlp);
	}
	if (o.mode != MODE_OFF && !kopt_have_bpf_caps()) {
		ret = kopt_need_root("kopt model live");
		goto out;
	}
	if (o.out) {
		lv->csv = fopen(o.out, "we");
		if (!lv->csv) {
			pr_warn("model live: cannot write %s: %s\n", o.out,
				strerror(errno));
			ret = KOPT_EXIT_FAIL;
			goto out;
		}
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	ret = run(lv, &o);
	if (lv->csv && !lv->records && ret && ret != KOPT_EXIT_FAIL) {
		/* the policy never ran: leave no empty dataset behind */
		fclose(lv->csv);
		unlink(o.out);
	} else if (lv->csv && fclose(lv->csv)) {
		pr_warn("model live: writing %s failed: %s\n", o.out,
			strerror(errno));
		ret = KOPT_EXIT_FAIL;
	}
	lv->csv = NULL;
out:
	if (lv && lv->csv)
		fclose(lv->csv);
	free(lv);
	free(m);
	return ret;
}
