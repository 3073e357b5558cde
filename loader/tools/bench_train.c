// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt bench train: what `kopt train` costs on a dataset of the size the
 * issue names (1M rows, 7 features, 7-16-1), as machine-readable figures.
 *
 * The dataset is synthetic (written to a temporary CSV with the collector's
 * column names, then read back by the real reader): seven integer features
 * in kernel-like ranges, the label a noisy rule over three of them, about
 * 10% positive. The baseline, measured in the same run, is one forward
 * pass of the same network over the same number of rows
 * (kopt_net_logits): an objective evaluation (forward and backward) costs
 * a small multiple of it on any machine, so the ratio survives a noisy or
 * slower host where the absolute seconds do not.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "opts.h"
#include "model.h"
#include "train.h"

#define NR_COLS 7

static const char *const cols[NR_COLS] = {
	"delta_ns",	  "nr_balance_failed", "cache_nice_tries",
	"src_nr_running", "dst_nr_running",    "load_avg",
	"util_avg",
};

/* The synthetic dataset: path of a temporary CSV; 0 or -errno. */
static int write_dataset(char *path, size_t len, long rows, unsigned long seed)
{
	struct kopt_rng rng;
	long r;
	FILE *f;
	int fd, i;

	snprintf(path, len, "%s/kopt-bench-train.XXXXXX",
		 getenv("TMPDIR") ?: "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(path);
		return -errno;
	}
	kopt_rng_seed(&rng, seed);
	fprintf(f, "# kopt bench train: synthetic\n");
	for (i = 0; i < NR_COLS; i++)
		fprintf(f, "%s,", cols[i]);
	fprintf(f, "decision,forced\n");
	for (r = 0; r < rows; r++) {
		long delta = (long)(kopt_rng_uniform(&rng) * 4e6);
		int failed = (int)(kopt_rng_uniform(&rng) * 5);
		int src = 1 + (int)(kopt_rng_uniform(&rng) * 6);
		int dst = (int)(kopt_rng_uniform(&rng) * 3);
		int hot = delta < 500000;
		int forced = hot && failed > 2 && src > dst + 1;

		if (kopt_rng_uniform(&rng) < 0.02) /* label noise */
			forced = !forced;
		fprintf(f, "%ld,%d,1,%d,%d,%d,%d,%d,%d\n", delta, failed, src,
			dst, (int)(kopt_rng_uniform(&rng) * 1024),
			(int)(kopt_rng_uniform(&rng) * 1024), forced || !hot,
			forced);
	}
	if (fclose(f)) {
		unlink(path);
		return -EIO;
	}
	return 0;
}

/* Seconds of one forward pass of a 7-16-1 net over `rows` random rows. */
static double forward_pass_s(long rows, unsigned long seed)
{
	__u32 units[KOPT_MLP_MAX_HIDDEN] = { 16 };
	double *x = malloc(rows * NR_COLS * sizeof(double));
	double *z = malloc(rows * sizeof(double));
	double *theta, t0, best = INFINITY;
	struct kopt_rng rng;
	struct kopt_net net;
	long i;
	int k;

	kopt_net_init(&net, NR_COLS, 1, units);
	theta = malloc(net.n_params * sizeof(double));
	if (!x || !z || !theta) {
		best = NAN;
		goto out;
	}
	kopt_rng_seed(&rng, seed);
	for (i = 0; i < rows * NR_COLS; i++)
		x[i] = kopt_rng_uniform(&rng) * 2 - 1;
	kopt_net_random(&net, theta, seed);
	for (k = 0; k < 3; k++) { /* best of three: the least disturbed */
		t0 = kopt_now_s();
		kopt_net_logits(&net, theta, x, rows, z);
		best = fmin(best, kopt_now_s() - t0);
	}
out:
	free(x);
	free(z);
	free(theta);
	return best;
}

int cmd_bench_train(int argc, char **argv)
{
	struct kopt_train_report *rep = NULL;
	struct kopt_train_cfg cfg;
	char path[512], err[512];
	double fwd, write_s, per_eval;
	long rows = 1000000;
	const struct kopt_opts spec = {
		.cmd = "kopt bench train",
		.usage = "[--rows N] [--json]",
		.desc = "Times `kopt train` (CSV load, L-BFGS training, "
			"quantization) on a synthetic\ndataset of N rows (default "
			"1000000), 7 features, 7-16-1, against one forward\npass "
			"over the same rows measured in the same run.",
		.opts = KOPT_OPTS(
			KOPT_OPT_LONG(
				"rows", 'r', &rows, 1000, 100000000, "N",
				"rows of the synthetic dataset (default 1000000)"),
			KOPT_OPT_JSON("JSON on stdout")),
	};
	int e, i, ret;

	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	ret = KOPT_EXIT_FAIL;
	write_s = kopt_now_s();
	e = write_dataset(path, sizeof(path), rows, 1);
	if (e) {
		pr_warn("bench train: writing the synthetic dataset failed: "
			"%s\n",
			strerror(-e));
		return KOPT_EXIT_FAIL;
	}
	write_s = kopt_now_s() - write_s;
	rep = calloc(1, sizeof(*rep));
	if (!rep)
		goto out;
	kopt_train_defaults(&cfg);
	cfg.path = path;
	cfg.n_feat = NR_COLS;
	for (i = 0; i < NR_COLS; i++)
		cfg.feature[i] = kopt_feat_id(cols[i]);
	if (kopt_train(&cfg, rep, err, sizeof(err))) {
		pr_warn("bench train: %s\n", err);
		goto out;
	}
	fwd = forward_pass_s(rows, 2);
	per_eval = rep->evals ? rep->train_s / rep->evals : NAN;
	if (kopt_env.json) {
		struct json_object *o = json_object_new_object();

#define ADD(k, v) json_object_object_add(o, k, v)
		ADD("rows", json_object_new_int64(rows));
		ADD("shape", json_object_new_string("7-16-1"));
		ADD("dataset", json_object_new_string("synthetic"));
		ADD("load_s", json_object_new_double(rep->load_s));
		ADD("train_s", json_object_new_double(rep->train_s));
		ADD("total_s", json_object_new_double(rep->total_s));
		ADD("evaluations", json_object_new_int(rep->evals));
		ADD("ms_per_evaluation",
		    json_object_new_double(per_eval * 1e3));
		ADD("baseline_forward_pass_ms",
		    json_object_new_double(fwd * 1e3));
		ADD("evaluation_to_forward_ratio",
		    json_object_new_double(per_eval / fwd));
		ADD("test_accuracy_fixed",
		    json_object_new_double(rep->test[KOPT_M_FIXED].accuracy));
		ADD("dataset_write_s", json_object_new_double(write_s));
#undef ADD
		printf("%s\n", kopt_json_text(o));
		json_object_put(o);
	} else {
		printf("kopt train on %ld synthetic rows, 7-16-1 (measured "
		       "wall clock):\n",
		       rows);
		printf("  load %.2f s, train %.2f s (%d evaluations, %.1f ms "
		       "each), total %.2f s\n",
		       rep->load_s, rep->train_s, rep->evals, per_eval * 1e3,
		       rep->total_s);
		printf("  baseline: one forward pass %.1f ms; an evaluation "
		       "costs %.2fx that\n",
		       fwd * 1e3, per_eval / fwd);
		printf("  test accuracy (fixed point) %.4f\n",
		       rep->test[KOPT_M_FIXED].accuracy);
	}
	ret = KOPT_EXIT_OK;
out:
	unlink(path);
	free(rep);
	return ret;
}
