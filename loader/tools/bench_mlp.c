// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt bench mlp: ns per inference of the fixed-point MLP in BPF.
 *
 * For each shape (7-16-1, 15-10-1, 16-32-32-1; random models from `kopt
 * model gen`'s generator, fixed seed), the XDP program mlp_eval of
 * bpf/mlp.bpf.c runs the whole live-model read path (sequence count, slot
 * lookup, per-CPU scratch, evaluation, result written back) under
 * BPF_PROG_TEST_RUN with `repeat`, which reports the mean ns per run. The
 * empty program mlp_empty is timed in the same runs, interleaved, as the
 * baseline: the cost of the test-run loop itself. Each figure is the
 * minimum over `runs` runs: the evaluator does the same work every run,
 * so on a shared machine noise (other tasks, the other hyperthread,
 * steal time) only ever adds, and the minimum is the estimate of its
 * cost; the median is reported next to it to show how noisy the run was.
 *
 * Cost: about runs * repeat * (sum of the shapes' ns), ~2 s by default.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"
#include "opts.h"
#include "mlp.h"
#include "model.h"

#define BENCH_SEED 1
#define MAX_RUNS 101

static const char *const shapes[] = { "7-16-1", "15-10-1", "16-32-32-1" };
#define NR_SHAPES (sizeof(shapes) / sizeof(shapes[0]))

struct bench_args {
	long repeat, runs;
};

struct bench_result {
	__u32 ns[MAX_RUNS];
	__u32 median, min;
	long macs;
};

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

static void summarize(struct bench_result *r, long runs)
{
	qsort(r->ns, runs, sizeof(r->ns[0]), cmp_u32);
	r->min = r->ns[0];
	r->median = r->ns[runs / 2];
}

/* A random model of `shape` as a map value, and its multiply-adds. */
static int make_model(const char *shape, struct kopt_mlp *mlp, long *macs)
{
	struct kopt_mlp_float *f = malloc(sizeof(*f));
	struct kopt_model *m = calloc(1, sizeof(*m));
	char err[KOPT_MODEL_ERR];
	__u32 l, i;
	int ret = -ENOMEM;

	if (!f || !m)
		goto out;
	ret = kopt_model_parse_shape(shape, m, err, sizeof(err));
	for (i = 0; i < m->n_in; i++)
		m->feature[i] = i % KOPT_FEAT_NR;
	if (!ret) {
		kopt_mlp_float_random(f, m, BENCH_SEED);
		ret = kopt_model_quantize(f, 16, m, err, sizeof(err));
	}
	if (ret) {
		pr_warn("bench mlp: model %s: %s\n", shape, err);
		goto out;
	}
	kopt_model_to_mlp(m, mlp);
	*macs = 0;
	for (l = 0; l <= m->n_hidden; l++)
		*macs += (long)kopt_model_layer_in(m, l) *
			 kopt_model_layer_out(m, l);
out:
	free(f);
	free(m);
	return ret;
}

/* Times every shape and the baseline, interleaved, run after run. */
static int measure(struct kopt_mlp_tr *t, const struct bench_args *a,
		   struct kopt_mlp *models, struct bench_result *res)
{
	struct kopt_mlp_pkt pkt = {};
	long run;
	size_t s;
	int ret;

	for (s = 0; s < KOPT_MLP_MAX_IN; s++) /* small, typical inputs */
		pkt.in[s] = (__s64)(s * 37 % 200) - 100;
	for (run = 0; run < a->runs; run++) {
		ret = kopt_mlp_tr_time(t, true, &pkt, a->repeat,
				       &res[NR_SHAPES].ns[run]);
		for (s = 0; s < NR_SHAPES && !ret; s++) {
			ret = kopt_mlp_tr_set(t, &models[s]);
			if (!ret)
				ret = kopt_mlp_tr_time(t, false, &pkt,
						       a->repeat,
						       &res[s].ns[run]);
		}
		if (ret)
			return ret;
	}
	for (s = 0; s <= NR_SHAPES; s++)
		summarize(&res[s], a->runs);
	return 0;
}

static void report(const struct bench_args *a, const struct bench_result *res)
{
	const struct bench_result *base = &res[NR_SHAPES];
	struct json_object *o, *arr, *r;
	size_t s;

	if (!kopt_env.json) {
		printf("BPF MLP inference (BPF_PROG_TEST_RUN, XDP, repeat %ld, "
		       "minimum of %ld runs)\n",
		       a->repeat, a->runs);
		printf("  %-12s %6u ns (median %u)\n", "empty", base->min,
		       base->median);
		for (s = 0; s < NR_SHAPES; s++)
			printf("  %-12s %6u ns (median %u), %d ns above the "
			       "baseline, %ld multiply-adds\n",
			       shapes[s], res[s].min, res[s].median,
			       (int)res[s].min - (int)base->min, res[s].macs);
		return;
	}
	o = json_object_new_object();
	arr = json_object_new_array();
	json_object_object_add(o, "unit", json_object_new_string("ns"));
	json_object_object_add(o, "repeat", json_object_new_int64(a->repeat));
	json_object_object_add(o, "runs", json_object_new_int64(a->runs));
	json_object_object_add(o, "statistic", json_object_new_string("min"));
	json_object_object_add(o, "baseline_ns",
			       json_object_new_int(base->min));
	json_object_object_add(o, "baseline_median_ns",
			       json_object_new_int(base->median));
	for (s = 0; s < NR_SHAPES; s++) {
		r = json_object_new_object();
		json_object_object_add(r, "shape",
				       json_object_new_string(shapes[s]));
		json_object_object_add(r, "ns",
				       json_object_new_int(res[s].min));
		json_object_object_add(r, "median_ns",
				       json_object_new_int(res[s].median));
		json_object_object_add(
			r, "above_baseline_ns",
			json_object_new_int((int)res[s].min - (int)base->min));
		json_object_object_add(r, "macs",
				       json_object_new_int64(res[s].macs));
		json_object_array_add(arr, r);
	}
	json_object_object_add(o, "shapes", arr);
	printf("%s\n", kopt_json_text(o));
	json_object_put(o);
}

static int run_bench(const struct bench_args *a)
{
	struct bench_result res[NR_SHAPES + 1] = {};
	struct kopt_mlp *models;
	char err[KOPT_MODEL_ERR];
	struct kopt_mlp_tr t;
	size_t s;
	int ret;

	models = calloc(NR_SHAPES, sizeof(*models));
	if (!models)
		return KOPT_EXIT_FAIL;
	for (s = 0; s < NR_SHAPES; s++)
		if (make_model(shapes[s], &models[s], &res[s].macs)) {
			free(models);
			return KOPT_EXIT_FAIL;
		}
	ret = kopt_mlp_tr_open(&t, KOPT_TR_XDP, NULL, err, sizeof(err));
	if (ret) {
		pr_warn("bench mlp: %s\n", err);
		free(models);
		return KOPT_EXIT_BPF;
	}
	ret = measure(&t, a, models, res);
	if (ret)
		pr_warn("bench mlp: BPF_PROG_TEST_RUN: %s\n", strerror(-ret));
	else
		report(a, res);
	kopt_mlp_tr_close(&t);
	free(models);
	return ret ? KOPT_EXIT_BPF : KOPT_EXIT_OK;
}

int cmd_bench_mlp(int argc, char **argv)
{
	struct bench_args a = { .repeat = 50000, .runs = 31 };
	const struct kopt_opts spec = {
		.cmd = "kopt bench mlp",
		.usage = "[--json] [--repeat N] [--runs R]",
		.desc = "ns per inference of the BPF evaluator (BPF_PROG_TEST_RUN "
			"of mlp_eval, XDP)\nfor 7-16-1, 15-10-1 and 16-32-32-1 "
			"models, with an empty program timed in\nthe same runs as "
			"the baseline. Minimum (and median) of R runs of N "
			"repeats.\nDefaults: --repeat 50000 --runs 31.",
		.opts = KOPT_OPTS(
			KOPT_OPT_LONG(
				"repeat", 'r', &a.repeat, 1, 100000000, "N",
				"BPF_PROG_TEST_RUN repeat of a run (default "
				"50000)"),
			KOPT_OPT_LONG("runs", 'n', &a.runs, 1, MAX_RUNS, "R",
				      "runs (default 31)"),
			KOPT_OPT_JSON("JSON on stdout")),
	};
	int ret;

	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	if (!kopt_have_bpf_caps())
		return kopt_need_root("kopt bench mlp");
	return run_bench(&a);
}
