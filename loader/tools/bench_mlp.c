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
 * The BPF program's size is reported beside it: instructions after the
 * verifier (xlated) and bytes of x86 code (JITed), of mlp_eval and of the
 * empty program.
 *
 * The kfunc runs the kernel C build of the same evaluator instead, which
 * this host cannot time in the kernel (no patched kernel here, and
 * `make vmbench-icount` needs one). So, when valgrind is installed, every
 * shape is also counted in instructions: kopt-mlp-kcost (beside kopt-lab,
 * or $KOPT_MLP_KCOST) holds the evaluator compiled as the guest kernel
 * compiles it (Makefile: KCOST_CFLAGS), and runs under
 * valgrind --tool=callgrind, which counts only inside the evaluator, on
 * three datasets (kcost/mlp_kcost.c). The baseline, counted in the same
 * run, is the evaluator before issue 21's cost work (optimizer/mlp_ref.h),
 * which every evaluation is also checked against. A count is exact and
 * repeatable: no load moves it.
 *
 * Cost: about runs * repeat * (sum of the shapes' ns), ~2 s by default,
 * and ~1 s of valgrind per shape and dataset.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <json-c/json.h>

#include "cli.h"
#include "opts.h"
#include "mlp.h"
#include "mlp.skel.h"
#include "model.h"
#include "kcost/mlp_kcost.h"

#define BENCH_SEED 1
#define MAX_RUNS 101

static const char *const shapes[] = { "7-16-1", "15-10-1", "16-32-32-1" };
#define NR_SHAPES (sizeof(shapes) / sizeof(shapes[0]))

struct bench_args {
	long repeat, runs;
};

static const char *const datasets[] = { "zero", "small", "wide" };
#define NR_DATASETS (sizeof(datasets) / sizeof(datasets[0]))
#define KCOST_EVALS 1000 /* per dataset: each input costs the same always */

/* Instructions per evaluation of the kernel C build and of the reference. */
struct kcost {
	double ir, ir_ref;
};

struct bench_result {
	__u32 ns[MAX_RUNS];
	__u32 median, min;
	long macs;
	struct kcost kc[NR_DATASETS];
};

/* Static size of a BPF program: verifier output and JITed bytes. */
struct prog_size {
	__u32 xlated_insns, jited_bytes;
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

/* ---- the kernel C build under callgrind --------------------------------- */

/* kopt-mlp-kcost: $KOPT_MLP_KCOST, else beside this binary. */
static int kcost_path(char *buf, size_t len)
{
	return kopt_sibling_path("KOPT_MLP_KCOST", "kopt-mlp-kcost", buf, len);
}

/*
 * Instructions counted in functions fn and fn_ref of a callgrind output
 * file written with --compress-strings=no --compress-pos=no: the cost
 * lines after "fn=NAME" (position, then Ir), a call's inclusive cost
 * (the line after "calls=") included. 0 or -errno. Hand-written: no
 * library reads callgrind's format (callgrind_annotate is a Perl script
 * that prints for humans), and with both compressions off these few
 * lines are all the format needs.
 */
static int callgrind_ir(const char *path, const char *fn, const char *fn_ref,
			unsigned long long *ir, unsigned long long *ir_ref)
{
	FILE *f = fopen(path, "r");
	unsigned long long *cur = NULL, v;
	char line[512], *sp, *end;

	if (!f)
		return -errno;
	*ir = *ir_ref = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "fn=", 3)) {
			cur = !strcmp(line + 3, fn)	? ir :
			      !strcmp(line + 3, fn_ref) ? ir_ref :
							  NULL;
			continue;
		}
		if (!cur || line[0] < '0' || line[0] > '9')
			continue;
		sp = strrchr(line, ' ');
		if (!sp)
			continue;
		errno = 0;
		v = strtoull(sp + 1, &end, 10);
		if (!errno && !*end)
			*cur += v;
	}
	fclose(f);
	return 0;
}

/*
 * Counts model m on `dataset` with kopt-mlp-kcost under callgrind into
 * *kc. 0, or -errno with why.
 */
static int kcost_run(const char *exe, const struct kopt_mlp *m,
		     const char *dataset, struct kcost *kc, char *why,
		     size_t whylen)
{
	char dir[] = "/tmp/kopt-kcost.XXXXXX", model[64], out[64], outarg[96],
	     count[16], status[64];
	char *argv[] = { "valgrind",
			 "--tool=callgrind",
			 "-q",
			 outarg,
			 "--collect-atstart=no",
			 "--toggle-collect=" KOPT_KCOST_FN,
			 "--toggle-collect=" KOPT_KCOST_FN_REF,
			 "--compress-strings=no",
			 "--compress-pos=no",
			 (char *)exe,
			 model,
			 (char *)dataset,
			 count,
			 NULL };
	unsigned long long ir, ir_ref;
	int ret = 0, st = 0;
	FILE *f = NULL;
	pid_t pid;

	if (!mkdtemp(dir)) {
		snprintf(why, whylen, "mkdtemp: %s", strerror(errno));
		return -errno;
	}
	snprintf(model, sizeof(model), "%s/model", dir);
	snprintf(out, sizeof(out), "%s/callgrind.out", dir);
	snprintf(outarg, sizeof(outarg), "--callgrind-out-file=%s", out);
	snprintf(count, sizeof(count), "%d", KCOST_EVALS);
	f = fopen(model, "wb");
	if (!f || fwrite(m, sizeof(*m), 1, f) != 1) {
		ret = -errno;
		snprintf(why, whylen, "%s: %s", model, strerror(errno));
	}
	if (f && fclose(f) && !ret) {
		ret = -errno;
		snprintf(why, whylen, "%s: %s", model, strerror(errno));
	}
	if (!ret) {
		fflush(stdout);
		pid = kopt_workload_start(argv, "bench mlp");
		if (pid < 0 || waitpid(pid, &st, 0) != pid) {
			ret = -ECHILD;
			snprintf(why, whylen, "cannot run valgrind");
		} else if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			kopt_describe_status(st, status, sizeof(status));
			ret = -EIO;
			snprintf(why, whylen, "valgrind %s on %.200s %s (%s%s)",
				 status, exe, dataset,
				 WIFEXITED(st) && WEXITSTATUS(st) == 1 ?
					 "the evaluators disagree" :
					 "see above",
				 WIFEXITED(st) && WEXITSTATUS(st) == 127 ?
					 ": is valgrind installed?" :
					 "");
		}
	}
	if (!ret &&
	    callgrind_ir(out, KOPT_KCOST_FN, KOPT_KCOST_FN_REF, &ir, &ir_ref)) {
		ret = -errno;
		snprintf(why, whylen, "%s: %s", out, strerror(errno));
	}
	if (!ret && (!ir || !ir_ref)) {
		ret = -ENODATA;
		snprintf(why, whylen, "%s: no instructions counted in %s", out,
			 KOPT_KCOST_FN);
	}
	if (!ret) {
		kc->ir = (double)ir / KCOST_EVALS;
		kc->ir_ref = (double)ir_ref / KCOST_EVALS;
	}
	unlink(model);
	unlink(out);
	rmdir(dir);
	return ret;
}

/* Whether PATH has an executable `name`, as execvp would find it. */
static bool in_path(const char *name)
{
	const char *p = getenv("PATH"), *end;
	char buf[PATH_MAX];
	int n;

	for (; p && *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		n = snprintf(buf, sizeof(buf), "%.*s/%s", (int)(end - p),
			     end > p ? p : ".", name);
		if (n > 0 && (size_t)n < sizeof(buf) && !access(buf, X_OK))
			return true;
	}
	return false;
}

/*
 * Every shape on every dataset. 0; 1 with why if it cannot run here
 * (no valgrind, no kopt-mlp-kcost); -errno with why if a run failed.
 */
static int kcost_all(const struct kopt_mlp *models, struct bench_result *res,
		     char *why, size_t whylen)
{
	char exe[PATH_MAX];
	size_t s, d;
	int ret;

	if (kcost_path(exe, sizeof(exe)) || access(exe, X_OK)) {
		snprintf(why, whylen,
			 "kopt-mlp-kcost not found beside kopt-lab (make "
			 "builds it) nor in $KOPT_MLP_KCOST");
		return 1;
	}
	if (!in_path("valgrind")) {
		snprintf(why, whylen, "valgrind is not installed");
		return 1;
	}
	for (s = 0; s < NR_SHAPES; s++)
		for (d = 0; d < NR_DATASETS; d++) {
			ret = kcost_run(exe, &models[s], datasets[d],
					&res[s].kc[d], why, whylen);
			if (ret)
				return ret;
		}
	return 0;
}

static void prog_size(int fd, struct prog_size *ps)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return;
	ps->xlated_insns = info.xlated_prog_len / 8;
	ps->jited_bytes = info.jited_prog_len;
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

/* What the kernel C count run gave: ok, or why not. */
struct kcost_state {
	int ret; /* 0 counted; 1 cannot run here; < 0 failed */
	char why[512];
};

static void report_text(const struct bench_args *a,
			const struct bench_result *res,
			const struct prog_size ps[2],
			const struct kcost_state *k)
{
	const struct bench_result *base = &res[NR_SHAPES];
	size_t s, d;

	printf("BPF MLP inference (BPF_PROG_TEST_RUN, XDP, repeat %ld, "
	       "minimum of %ld runs)\n",
	       a->repeat, a->runs);
	printf("  %-12s %6u ns (median %u); %u BPF insns, %u bytes JITed\n",
	       "empty", base->min, base->median, ps[1].xlated_insns,
	       ps[1].jited_bytes);
	for (s = 0; s < NR_SHAPES; s++)
		printf("  %-12s %6u ns (median %u), %d ns above the "
		       "baseline (%.2fx), %ld multiply-adds\n",
		       shapes[s], res[s].min, res[s].median,
		       (int)res[s].min - (int)base->min,
		       base->min ? (double)res[s].min / base->min : 0,
		       res[s].macs);
	printf("  mlp_eval: %u BPF insns, %u bytes JITed (every shape)\n",
	       ps[0].xlated_insns, ps[0].jited_bytes);
	if (k->ret) {
		printf("Kernel C build: not counted: %s\n", k->why);
		return;
	}
	printf("Kernel C build (as the kfunc's, callgrind instructions per "
	       "evaluation; before: the reference)\n");
	for (s = 0; s < NR_SHAPES; s++)
		for (d = 0; d < NR_DATASETS; d++)
			printf("  %-12s %-6s %7.1f (before %7.1f, %.2fx)\n",
			       shapes[s], datasets[d], res[s].kc[d].ir,
			       res[s].kc[d].ir_ref,
			       res[s].kc[d].ir / res[s].kc[d].ir_ref);
}

static struct json_object *json_kcost(const struct bench_result *r,
				      const struct kcost_state *k)
{
	struct json_object *o = json_object_new_object(), *ds;
	size_t d;

	for (d = 0; d < NR_DATASETS; d++) {
		ds = json_object_new_object();
		json_object_object_add(ds, "insns",
				       kopt_json_num(r->kc[d].ir, "%.1f"));
		json_object_object_add(ds, "reference_insns",
				       kopt_json_num(r->kc[d].ir_ref, "%.1f"));
		json_object_object_add(
			ds, "ratio",
			kopt_json_num(r->kc[d].ir / r->kc[d].ir_ref, "%.3f"));
		json_object_object_add(o, datasets[d], ds);
	}
	return o;
}

static void report(const struct bench_args *a, const struct bench_result *res,
		   const struct prog_size ps[2], const struct kcost_state *k)
{
	const struct bench_result *base = &res[NR_SHAPES];
	struct json_object *o, *arr, *r, *kc;
	size_t s;

	if (!kopt_env.json) {
		report_text(a, res, ps, k);
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
	json_object_object_add(o, "bpf_xlated_insns",
			       json_object_new_int(ps[0].xlated_insns));
	json_object_object_add(o, "bpf_jited_bytes",
			       json_object_new_int(ps[0].jited_bytes));
	json_object_object_add(o, "baseline_bpf_xlated_insns",
			       json_object_new_int(ps[1].xlated_insns));
	json_object_object_add(o, "baseline_bpf_jited_bytes",
			       json_object_new_int(ps[1].jited_bytes));
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
		json_object_object_add(
			r, "ratio_to_baseline",
			kopt_json_num(base->min ?
					      (double)res[s].min / base->min :
					      NAN,
				      "%.2f"));
		json_object_object_add(r, "macs",
				       json_object_new_int64(res[s].macs));
		if (!k->ret)
			json_object_object_add(r, "kernel_c_insns",
					       json_kcost(&res[s], k));
		json_object_array_add(arr, r);
	}
	json_object_object_add(o, "shapes", arr);
	kc = json_object_new_object();
	json_object_object_add(
		kc, "what",
		json_object_new_string(
			"kernel C build of the evaluator (the kfunc's), "
			"compiled with the guest kernel's flags: "
			"instructions per evaluation counted by callgrind; "
			"reference_insns: the evaluator before issue 21, "
			"counted in the same run"));
	json_object_object_add(kc, "evaluations_per_dataset",
			       json_object_new_int(KCOST_EVALS));
	if (k->ret)
		json_object_object_add(kc, "skipped",
				       json_object_new_string(k->why));
	json_object_object_add(o, "kernel_c", kc);
	printf("%s\n", kopt_json_text(o));
	json_object_put(o);
}

static int run_bench(const struct bench_args *a)
{
	struct bench_result res[NR_SHAPES + 1] = {};
	struct prog_size ps[2] = {};
	struct kcost_state k = {};
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
	k.ret = kcost_all(models, res, k.why, sizeof(k.why));
	if (k.ret < 0) {
		pr_warn("bench mlp: kernel C count: %s\n", k.why);
		free(models);
		return KOPT_EXIT_FAIL;
	}
	ret = kopt_mlp_tr_open(&t, KOPT_TR_XDP, NULL, err, sizeof(err));
	if (ret) {
		pr_warn("bench mlp: %s\n", err);
		free(models);
		return KOPT_EXIT_BPF;
	}
	prog_size(bpf_program__fd(t.skel->progs.mlp_eval), &ps[0]);
	prog_size(bpf_program__fd(t.skel->progs.mlp_empty), &ps[1]);
	ret = measure(&t, a, models, res);
	if (ret)
		pr_warn("bench mlp: BPF_PROG_TEST_RUN: %s\n", strerror(-ret));
	else
		report(a, res, ps, &k);
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
			"repeats.\nWith valgrind installed, also the kernel C "
			"build (the kfunc's) in instructions\nper evaluation "
			"(callgrind), against the evaluator before issue 21.\n"
			"Defaults: --repeat 50000 --runs 31.",
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
