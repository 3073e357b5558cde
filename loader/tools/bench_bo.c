// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt bench bo: how well and how fast the Bayesian optimizer works, on
 * the standard synthetic test functions (Branin, Hartmann-3/6,
 * Goldstein-Price) with known minima.
 *
 * Quality is the simple regret (best value found minus the true minimum)
 * after a budget of evaluations, as median and quartiles over seeds,
 * next to random search with the same seeds and budget measured in the
 * same run: the ratio is what survives a different machine. Speed is the
 * wall time of bo_suggest() on two shapes: 2 knobs on a 1e4-point grid,
 * and 3 dims (two knobs and the load, the controller's model) on a
 * 22^3-point grid, at 10, 30 and 60 observations, averaged over a window of
 * ten suggestions so hyperparameter refits are counted (auto schedule:
 * one every ~12 suggestions at n = 60); the median shows a suggestion
 * without a refit, and the thread's CPU time is given too.
 *
 * Cost: the default suite takes 10-20 s on 2 cores (most of it 6-D
 * Hartmann, whose acquisition is searched by NLopt, not a grid).
 */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "bo.h"
#include "gp.h"
#include "cli.h"
#include "opts.h"

#define MAX_SEEDS 1000
#define TIME_SEEDS 5
#define TIME_REPEATS 3
#define TIME_WINDOW 10

struct testfn {
	const char *name;
	size_t d;
	double lo[6], hi[6];
	double fmin;
	unsigned int budget; /* default */
	double (*f)(const double *x);
};

static double branin(const double *x)
{
	const double a = 1, b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI;
	const double r = 6, s = 10, t = 1 / (8 * M_PI);
	double q = x[1] - b * x[0] * x[0] + c * x[0] - r;

	return a * q * q + s * (1 - t) * cos(x[0]) + s;
}

static double goldstein(const double *x)
{
	double x1 = x[0], x2 = x[1];
	double a = 1 + (x1 + x2 + 1) * (x1 + x2 + 1) *
			       (19 - 14 * x1 + 3 * x1 * x1 - 14 * x2 +
				6 * x1 * x2 + 3 * x2 * x2);
	double b = 30 + (2 * x1 - 3 * x2) * (2 * x1 - 3 * x2) *
				(18 - 32 * x1 + 12 * x1 * x1 + 48 * x2 -
				 36 * x1 * x2 + 27 * x2 * x2);

	return a * b;
}

static const double hart_alpha[4] = { 1.0, 1.2, 3.0, 3.2 };

static double hartmann3(const double *x)
{
	static const double A[4][3] = {
		{ 3, 10, 30 }, { 0.1, 10, 35 }, { 3, 10, 30 }, { 0.1, 10, 35 }
	};
	static const double P[4][3] = { { 0.3689, 0.1170, 0.2673 },
					{ 0.4699, 0.4387, 0.7470 },
					{ 0.1091, 0.8732, 0.5547 },
					{ 0.0381, 0.5743, 0.8828 } };
	double sum = 0;

	for (int i = 0; i < 4; i++) {
		double e = 0;

		for (int j = 0; j < 3; j++)
			e += A[i][j] * (x[j] - P[i][j]) * (x[j] - P[i][j]);
		sum += hart_alpha[i] * exp(-e);
	}
	return -sum;
}

static double hartmann6(const double *x)
{
	static const double A[4][6] = { { 10, 3, 17, 3.5, 1.7, 8 },
					{ 0.05, 10, 17, 0.1, 8, 14 },
					{ 3, 3.5, 1.7, 10, 17, 8 },
					{ 17, 8, 0.05, 10, 0.1, 14 } };
	static const double P[4][6] = {
		{ 0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886 },
		{ 0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991 },
		{ 0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650 },
		{ 0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381 }
	};
	double sum = 0;

	for (int i = 0; i < 4; i++) {
		double e = 0;

		for (int j = 0; j < 6; j++)
			e += A[i][j] * (x[j] - P[i][j]) * (x[j] - P[i][j]);
		sum += hart_alpha[i] * exp(-e);
	}
	return -sum;
}

static const struct testfn testfns[] = {
	{ "branin", 2, { -5, 0 }, { 10, 15 }, 0.397887357729738, 30, branin },
	{ "hartmann3",
	  3,
	  { 0, 0, 0 },
	  { 1, 1, 1 },
	  -3.86278214782076,
	  40,
	  hartmann3 },
	{ "hartmann6",
	  6,
	  { 0 },
	  { 1, 1, 1, 1, 1, 1 },
	  -3.32236801141551,
	  60,
	  hartmann6 },
	{ "goldstein", 2, { -2, -2 }, { 2, 2 }, 3.0, 30, goldstein },
};
#define N_FNS (sizeof(testfns) / sizeof(testfns[0]))

struct quartiles {
	double q1, median, q3;
};

struct fn_result {
	const struct testfn *fn;
	unsigned int budget, seeds;
	struct quartiles bo, rnd;
	int failures;
};

struct time_result {
	size_t n;
	double mean_ms, median_ms, max_ms; /* wall clock */
	double cpu_mean_ms; /* this thread's CPU time: immune to other load */
};

static double clock_ms(clockid_t clk)
{
	struct timespec t;

	clock_gettime(clk, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Quantile by linear interpolation between order statistics. */
static double quantile(const double *sorted, size_t n, double q)
{
	double pos = q * (double)(n - 1);
	size_t i = (size_t)pos;

	if (i + 1 >= n)
		return sorted[n - 1];
	return sorted[i] + (pos - (double)i) * (sorted[i + 1] - sorted[i]);
}

static struct quartiles quartiles_of(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return (struct quartiles){ quantile(v, n, 0.25), quantile(v, n, 0.5),
				   quantile(v, n, 0.75) };
}

static void fn_space(const struct testfn *fn, struct bo_space *sp)
{
	memset(sp, 0, sizeof(*sp));
	sp->ndims = fn->d;
	for (size_t k = 0; k < fn->d; k++) {
		sp->dims[k].kind = BO_DIM_CONTINUOUS;
		sp->dims[k].min = fn->lo[k];
		sp->dims[k].max = fn->hi[k];
	}
}

/* Simple regret of one BO run; negative errno if the optimizer failed. */
static int run_bo(const struct testfn *fn, unsigned int budget, uint64_t seed,
		  double *regret)
{
	struct bo_space sp;
	struct bo_opts o;
	char err[256];
	double x[BO_MAX_DIMS], best = HUGE_VAL;
	struct bo *bo;
	int ret = 0;

	fn_space(fn, &sp);
	bo_opts_init(&o);
	o.seed = seed;
	bo = bo_new(&sp, &o, err, sizeof(err));
	if (!bo) {
		pr_warn("bench bo: %s\n", err);
		return -errno;
	}
	for (unsigned int i = 0; i < budget && !ret; i++) {
		double y;

		ret = bo_suggest(bo, x);
		if (ret)
			break;
		y = fn->f(x);
		best = fmin(best, y);
		ret = bo_observe(bo, x, y, NAN);
	}
	if (ret)
		pr_warn("bench bo: %s seed %llu: %s\n", fn->name,
			(unsigned long long)seed, bo_strerror(bo));
	bo_free(bo);
	*regret = best - fn->fmin;
	return ret;
}

static double run_random(const struct testfn *fn, unsigned int budget,
			 uint64_t seed)
{
	struct gp_rng r;
	double x[6], best = HUGE_VAL;

	gp_rng_seed(&r, seed);
	for (unsigned int i = 0; i < budget; i++) {
		for (size_t k = 0; k < fn->d; k++)
			x[k] = fn->lo[k] +
			       gp_rng_uniform(&r) * (fn->hi[k] - fn->lo[k]);
		best = fmin(best, fn->f(x));
	}
	return best - fn->fmin;
}

static int bench_fn(struct fn_result *res)
{
	double *bo = calloc(res->seeds, sizeof(double));
	double *rnd = calloc(res->seeds, sizeof(double));

	if (!bo || !rnd) {
		free(bo);
		free(rnd);
		return -ENOMEM;
	}
	for (unsigned int s = 0; s < res->seeds; s++) {
		/* a failed run counts with the regret it had reached */
		if (run_bo(res->fn, res->budget, s + 1, &bo[s]))
			res->failures++;
		rnd[s] = run_random(res->fn, res->budget, s + 1);
	}
	res->bo = quartiles_of(bo, res->seeds);
	res->rnd = quartiles_of(rnd, res->seeds);
	free(bo);
	free(rnd);
	return 0;
}

/*
 * Suggest timing on kopt run's shape: Branin on a 100 x 100 grid (2 stepped
 * dims, 1e4 points, scored exhaustively), observations from BO itself.
 */
static void summarize(struct time_result *tr, double *wall, double *cpu,
		      size_t cnt)
{
	double sum = 0, csum = 0;

	for (size_t j = 0; j < cnt; j++) {
		sum += wall[j];
		csum += cpu[j];
	}
	qsort(wall, cnt, sizeof(*wall), cmp_double);
	tr->mean_ms = sum / cnt;
	tr->median_ms = quantile(wall, cnt, 0.5);
	tr->max_ms = wall[cnt - 1];
	tr->cpu_mean_ms = csum / cnt;
}

/* One BO run on the grid; times the suggestions inside each window. */
static int time_run(const struct bo_space *sp, const struct testfn *fn,
		    uint64_t seed, const struct time_result *tr, size_t ntr,
		    double *wall, double *cpu)
{
	size_t w = TIME_WINDOW, last = tr[ntr - 1].n + w / 2;
	struct bo_opts o;
	char err[256];
	struct bo *bo;
	int ret = 0;

	bo_opts_init(&o);
	o.seed = seed;
	bo = bo_new(sp, &o, err, sizeof(err));
	if (!bo) {
		pr_warn("bench bo: %s\n", err);
		return -errno;
	}
	/* n: observations held when bo_suggest() is called */
	for (size_t n = 0; n <= last && !ret; n++) {
		double x[BO_MAX_DIMS], t0 = clock_ms(CLOCK_MONOTONIC);
		double c0 = clock_ms(CLOCK_THREAD_CPUTIME_ID), dt, dc;

		ret = bo_suggest(bo, x);
		dt = clock_ms(CLOCK_MONOTONIC) - t0;
		dc = clock_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
		for (size_t i = 0; i < ntr; i++) {
			size_t lo = tr[i].n + 1 - w / 2;

			if (n >= lo && n < lo + w) {
				wall[i * w + n - lo] = dt;
				cpu[i * w + n - lo] = dc;
			}
		}
		if (!ret)
			ret = bo_observe(bo, x, fn->f(x), NAN);
	}
	if (ret)
		pr_warn("bench bo: timing: %s\n", bo_strerror(bo));
	bo_free(bo);
	return ret;
}

/*
 * Suggest timing on a grid of `steps` levels per dim (scored
 * exhaustively), observations from BO on fn: Branin on 100 x 100 (2
 * knobs), Hartmann-3 on 22^3 (the controller's shape: two knobs and the
 * load).
 */
static int bench_time(struct time_result *tr, size_t ntr,
		      const struct testfn *fn, unsigned int steps)
{
	size_t w = TIME_WINDOW, per = TIME_SEEDS * w;
	double *wall = malloc(ntr * per * sizeof(double));
	double *cpu = malloc(ntr * per * sizeof(double));
	double *sw = calloc(ntr * w, sizeof(double));
	double *sc = calloc(ntr * w, sizeof(double));
	struct bo_space sp;
	int ret = 0;

	if (!wall || !cpu || !sw || !sc) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < ntr * per; i++)
		wall[i] = cpu[i] = HUGE_VAL;
	fn_space(fn, &sp);
	for (size_t k = 0; k < fn->d; k++) {
		sp.dims[k].kind = BO_DIM_STEP;
		sp.dims[k].step = (fn->hi[k] - fn->lo[k]) / (steps - 1);
	}
	/*
	 * A run is deterministic for its seed, so repeating it redoes the
	 * same work, refits included: the per-suggestion minimum over the
	 * repeats drops what other processes cost us, not what we cost.
	 */
	for (unsigned int s = 0; s < TIME_SEEDS * TIME_REPEATS && !ret; s++) {
		unsigned int seed = s / TIME_REPEATS;

		ret = time_run(&sp, fn, seed + 1, tr, ntr, sw, sc);
		for (size_t i = 0; i < ntr * w && !ret; i++) {
			size_t k = (i / w) * per + seed * w + i % w;

			wall[k] = fmin(wall[k], sw[i]);
			cpu[k] = fmin(cpu[k], sc[i]);
		}
	}
	for (size_t t = 0; t < ntr && !ret; t++)
		summarize(&tr[t], wall + t * per, cpu + t * per, per);
out:
	free(wall);
	free(cpu);
	free(sw);
	free(sc);
	return ret;
}

static json_object *quartiles_json(const struct quartiles *q)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "q1", json_object_new_double(q->q1));
	json_object_object_add(o, "median", json_object_new_double(q->median));
	json_object_object_add(o, "q3", json_object_new_double(q->q3));
	return o;
}

static json_object *times_json(const struct time_result *tr, size_t ntr)
{
	json_object *times = json_object_new_array();

	for (size_t i = 0; i < ntr; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "n",
				       json_object_new_int((int)tr[i].n));
		json_object_object_add(o, "mean_ms",
				       json_object_new_double(tr[i].mean_ms));
		json_object_object_add(o, "median_ms",
				       json_object_new_double(tr[i].median_ms));
		json_object_object_add(o, "max_ms",
				       json_object_new_double(tr[i].max_ms));
		json_object_object_add(
			o, "cpu_mean_ms",
			json_object_new_double(tr[i].cpu_mean_ms));
		json_object_array_add(times, o);
	}
	return times;
}

static void print_json(const struct fn_result *res, size_t nres,
		       const struct time_result *tr,
		       const struct time_result *tr3, size_t ntr)
{
	json_object *root = json_object_new_object();
	json_object *fns = json_object_new_array();
	json_object *t3 = json_object_new_object();

	for (size_t i = 0; i < nres; i++) {
		const struct fn_result *r = &res[i];
		json_object *o = json_object_new_object();
		double ratio = r->rnd.median / r->bo.median;

		json_object_object_add(o, "function",
				       json_object_new_string(r->fn->name));
		json_object_object_add(o, "dims",
				       json_object_new_int((int)r->fn->d));
		json_object_object_add(o, "budget",
				       json_object_new_int((int)r->budget));
		json_object_object_add(o, "seeds",
				       json_object_new_int((int)r->seeds));
		json_object_object_add(o, "optimum",
				       json_object_new_double(r->fn->fmin));
		json_object_object_add(o, "bo_regret", quartiles_json(&r->bo));
		json_object_object_add(o, "random_regret",
				       quartiles_json(&r->rnd));
		json_object_object_add(
			o, "random_over_bo",
			isfinite(ratio) ? json_object_new_double(ratio) : NULL);
		json_object_object_add(o, "failed_runs",
				       json_object_new_int(r->failures));
		json_object_array_add(fns, o);
	}
	json_object_object_add(root, "regret", fns);
	json_object_object_add(root, "suggest_dims", json_object_new_int(2));
	json_object_object_add(root, "suggest_grid_points",
			       json_object_new_int(10000));
	json_object_object_add(root, "suggest_time", times_json(tr, ntr));
	json_object_object_add(t3, "dims", json_object_new_int(3));
	json_object_object_add(t3, "grid_points",
			       json_object_new_int(22 * 22 * 22));
	json_object_object_add(t3, "times", times_json(tr3, ntr));
	json_object_object_add(root, "suggest_3d", t3);
	printf("%s\n", kopt_json_text(root));
	json_object_put(root);
}

static void print_times(const char *what, const struct time_result *tr,
			size_t ntr)
{
	printf("\nms per suggest, %s "
	       "(%d suggestions around n, %d seeds, best of %d runs each)\n",
	       what, TIME_WINDOW, TIME_SEEDS, TIME_REPEATS);
	printf("%5s %10s %10s %10s %10s\n", "n", "mean", "median", "max",
	       "cpu mean");
	for (size_t i = 0; i < ntr; i++)
		printf("%5zu %10.3f %10.3f %10.3f %10.3f\n", tr[i].n,
		       tr[i].mean_ms, tr[i].median_ms, tr[i].max_ms,
		       tr[i].cpu_mean_ms);
}

static void print_table(const struct fn_result *res, size_t nres,
			const struct time_result *tr,
			const struct time_result *tr3, size_t ntr)
{
	printf("simple regret after the budget (median [q1, q3] over seeds)\n");
	printf("%-10s %3s %6s %5s  %-32s  %-32s %8s\n", "function", "dim",
	       "budget", "seeds", "bo", "random search", "rnd/bo");
	for (size_t i = 0; i < nres; i++) {
		const struct fn_result *r = &res[i];
		char b[64], q[64];

		snprintf(b, sizeof(b), "%.3g [%.3g, %.3g]", r->bo.median,
			 r->bo.q1, r->bo.q3);
		snprintf(q, sizeof(q), "%.3g [%.3g, %.3g]", r->rnd.median,
			 r->rnd.q1, r->rnd.q3);
		printf("%-10s %3zu %6u %5u  %-32s  %-32s %8.3g%s\n",
		       r->fn->name, r->fn->d, r->budget, r->seeds, b, q,
		       r->rnd.median / r->bo.median,
		       r->failures ? "  (failed runs!)" : "");
	}
	if (!ntr)
		return;
	print_times("2 dims, 1e4-point grid", tr, ntr);
	print_times("3 dims (two knobs and the load), 22^3-point grid", tr3,
		    ntr);
}

struct bench_args {
	bool sel[N_FNS];
	unsigned int budget, seeds;
};

static int select_fn(struct bench_args *a, const char *name)
{
	bool all = !strcmp(name, "all");
	bool found = all;

	for (size_t i = 0; i < N_FNS; i++) {
		if (all || !strcmp(name, testfns[i].name)) {
			a->sel[i] = true;
			found = true;
		}
	}
	return found ? 0 : -EINVAL;
}

/* --function NAME: one more function to run (all: every one) */
static int function_arg(const char *name, void *to, char *why, size_t len)
{
	size_t used = snprintf(why, len, "expected");

	if (!select_fn(to, name))
		return 0;
	for (size_t i = 0; i < N_FNS && used < len; i++)
		used += snprintf(why + used, len - used, "%s%s", i ? ", " : " ",
				 testfns[i].name);
	if (used < len)
		snprintf(why + used, len - used, " or all");
	return -1;
}

/* false after --help or a usage error (*ret says which) */
static bool parse_args(int argc, char **argv, struct bench_args *a, int *ret)
{
	bool any = false;
	long budget = 0, seeds = 20;
	const struct kopt_opts spec = {
		.cmd = "kopt bench bo",
		.usage = "[--function NAME] [--budget N] [--seeds S] [--json]",
		.desc = "Simple regret of the GP Bayesian optimizer vs random "
			"search\n(same seeds, same run) and ms per suggestion.",
		.opts = KOPT_OPTS(
			KOPT_OPT_FUNC(
				"function", 'f', function_arg, a, "NAME",
				"branin, hartmann3, hartmann6, goldstein or\n"
				"all (default: branin and hartmann6)",
				.given = &any),
			KOPT_OPT_LONG(
				"budget", 'b', &budget, 1, 10000, "N",
				"evaluations per run (default per function:\n"
				"branin 30, hartmann3 40, hartmann6 60,\n"
				"goldstein 30)"),
			KOPT_OPT_LONG("seeds", 's', &seeds, 1, MAX_SEEDS, "S",
				      "runs per function (default 20)"),
			KOPT_OPT_JSON("JSON on stdout")),
	};

	if (!kopt_opts_parse(&spec, argc, argv, ret))
		return false;
	a->budget = budget;
	a->seeds = seeds;
	if (!any) {
		select_fn(a, "branin");
		select_fn(a, "hartmann6");
	}
	return true;
}

int cmd_bench_bo(int argc, char **argv)
{
	struct time_result tr[] = { { .n = 10 }, { .n = 30 }, { .n = 60 } };
	struct time_result tr3[] = { { .n = 10 }, { .n = 30 }, { .n = 60 } };
	struct bench_args a = { 0 };
	struct fn_result res[N_FNS];
	size_t nres = 0;
	int ret;

	if (!parse_args(argc, argv, &a, &ret))
		return ret;
	kopt_blas_single_thread();
	for (size_t i = 0; i < N_FNS; i++) {
		if (!a.sel[i])
			continue;
		res[nres] = (struct fn_result){
			.fn = &testfns[i],
			.budget = a.budget ? a.budget : testfns[i].budget,
			.seeds = a.seeds,
		};
		ret = bench_fn(&res[nres++]);
		if (ret)
			break;
	}
	if (!ret)
		ret = bench_time(tr, sizeof(tr) / sizeof(tr[0]), &testfns[0],
				 100);
	if (!ret)
		ret = bench_time(tr3, sizeof(tr3) / sizeof(tr3[0]), &testfns[1],
				 22);
	if (ret) {
		pr_warn("bench bo: %s\n", strerror(-ret));
		return KOPT_EXIT_FAIL;
	}
	if (kopt_env.json)
		print_json(res, nres, tr, tr3, sizeof(tr) / sizeof(tr[0]));
	else
		print_table(res, nres, tr, tr3, sizeof(tr) / sizeof(tr[0]));
	return KOPT_EXIT_OK;
}
