// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt bench kpatch: what the kopt kernel patch costs per can_migrate_task()
 * call, measured live under a load-balancing workload (hackbench).
 *
 * fentry/fexit probes (bpf/kpatch_probe.bpf.c) time every call. Phases,
 * interleaved over --rounds so that drift hits them alike:
 *   no_policy      the patch's static key off (on an unpatched kernel,
 *                  the only phase: `make vmbench` runs it there too and
 *                  passes the result back in with --baseline)
 *   policy_nomodel the sched_lb_ops policy registered in shadow mode with
 *                  no model loaded: the hook, the stats and the feature
 *                  vector, without the evaluation
 *   policy_kfunc   the same on a random 7-16-1 model, evaluated by
 *                  bpf_kopt_mlp_eval()
 *   policy_inline  the same with the BPF build of the evaluator
 * The added cost per call is a policy phase's mean minus no_policy's. The
 * probes' own cost is in every mean, equally. The policy program's own
 * run time (BPF_ENABLE_STATS) is reported beside it, from one more run of
 * the workload per policy phase after the timed rounds: run-time
 * statistics add two clock reads to every BPF program run, the probes'
 * included, so they stay off while calls are timed (on an unpatched
 * kernel they never come on, and the comparison stays fair).
 *
 * Under QEMU TCG every figure is inflated (no hardware virtualization):
 * compare ratios. For a rough native figure, every run also times the
 * same model in the BPF evaluator with BPF_PROG_TEST_RUN, and in the kfunc
 * in a bpf_loop (calibration); given the host's run (--host), the added
 * cost is scaled by host/guest of the BPF evaluator's time, labelled an
 * estimate. It overstates: those loops run hot, while TCG charges a
 * load-balancer path that runs once in a while several times more per
 * instruction (the kfunc costs ~5x its hot-loop time there). Needs fentry/fexit (refused under
 * lockdown, as on the development host: then only the calibration runs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "cli.h"
#include "opts.h"
#include "kopt/kpatch_probe.h"
#include "kpatch_probe.skel.h"
#include "mlp.h"
#include "model.h"
#include "sched_lb.h"

#define DEFAULT_WORKLOAD "hackbench -g 4 -l 400"
#define DEFAULT_ROUNDS 5
#define MAX_ROUNDS 100
#define GOAL_NS 150 /* the goal for the added cost per call */
#define BENCH_SHAPE "7-16-1"
#define BENCH_SEED 7
#define CALIB_REPEAT 100000

enum phase_id { PH_NONE, PH_EMPTY, PH_KFUNC, PH_INLINE, NR_PHASES };

static const char *const phase_names[NR_PHASES] = {
	[PH_NONE] = "no_policy",
	[PH_EMPTY] = "policy_nomodel",
	[PH_KFUNC] = "policy_kfunc",
	[PH_INLINE] = "policy_inline",
};

struct phase {
	bool run;
	__u64 calls, lat_ns; /* fentry/fexit */
	__u64 prog_ns, prog_cnt; /* the policy program (bpf_stats) */
	__u64 evals;
	double secs;
};

struct bench {
	struct kpatch_probe_bpf *kp;
	struct kopt_mlp model;
	struct phase ph[NR_PHASES];
	const char *workload;
	int rounds;
	const char *baseline;
	const char *host;
	const char *out;
	double calib_ns; /* bench model, BPF evaluator, BPF_PROG_TEST_RUN */
	double calib_empty_ns; /* an empty program, same loop */
	double calib_kfunc_ns; /* the bench model through the kfunc */
	int icount_shift; /* -1, or the guest runs on QEMU's icount clock */
	char skipped[256];
};

static int run_workload(const char *cmd)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* stdout carries our JSON: the workload's goes to /dev/null */
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -ECHILD;
}

static void read_kp(struct bench *b, __u64 out[KOPT_KP_NR_STATS])
{
	int nr = libbpf_num_possible_cpus(), fd, cpu;
	__u64 *vals = calloc(nr, sizeof(*vals));
	__u32 k;

	fd = bpf_map__fd(b->kp->maps.kp_stats);
	for (k = 0; k < KOPT_KP_NR_STATS; k++) {
		out[k] = 0;
		if (!vals || bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (cpu = 0; cpu < nr; cpu++)
			out[k] += vals[cpu];
	}
	free(vals);
}

static int prog_runtime(int prog_fd, __u64 *ns, __u64 *cnt)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	*ns = info.run_time_ns;
	*cnt = info.run_cnt;
	return 0;
}

/* A policy in shadow mode on the bench model (or none), private maps. */
static int open_policy(struct bench *b, enum phase_id id, struct kopt_lb **lb)
{
	bool kfunc = id == PH_KFUNC;
	struct kopt_lb_opts o = { .mode = KOPT_LB_SHADOW, .no_kfunc = !kfunc };
	struct kopt_mlp_active *active;
	char err[512];
	__u64 seq;
	int ret;

	ret = kopt_lb_open(lb, &o, err, sizeof(err));
	if (ret) {
		pr_warn("bench kpatch: %s\n", err);
		return ret;
	}
	active = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE, MAP_SHARED,
		      kopt_lb_active_fd(*lb), 0);
	if (active == MAP_FAILED) {
		pr_warn("bench kpatch: mmap of the policy's mlp_active failed: "
			"%s\n",
			strerror(errno));
		kopt_lb_close(*lb);
		return KOPT_EXIT_FAIL;
	}
	if (id == PH_EMPTY) {
		munmap(active, getpagesize());
		return 0;
	}
	ret = kopt_mlp_swap(kopt_lb_weights_fd(*lb), active, -1, &b->model,
			    &seq);
	munmap(active, getpagesize());
	if (ret) {
		pr_warn("bench kpatch: loading the bench model into the policy "
			"failed: %s\n",
			strerror(-ret));
		kopt_lb_close(*lb);
		return KOPT_EXIT_BPF;
	}
	return 0;
}

/*
 * One run of the workload in phase id. Timed (stats_pass false): the calls'
 * latency, the evaluations. Stats pass: only the policy program's run time.
 */
static int measure(struct bench *b, enum phase_id id, bool stats_pass)
{
	__u64 before[KOPT_KP_NR_STATS], after[KOPT_KP_NR_STATS];
	__u64 ns0 = 0, cnt0 = 0, ns1 = 0, cnt1 = 0, lb0[KOPT_LB_NR_STATS],
	      lb1[KOPT_LB_NR_STATS];
	struct phase *ph = &b->ph[id];
	struct kopt_lb *lb = NULL;
	double t0;
	int ret;

	if (id != PH_NONE) {
		ret = open_policy(b, id, &lb);
		if (ret)
			return ret;
		prog_runtime(kopt_lb_prog_fd(lb), &ns0, &cnt0);
		kopt_lb_read_stats(kopt_lb_stats_fd(lb), lb0);
	}
	read_kp(b, before);
	t0 = kopt_now_s();
	ret = run_workload(b->workload);
	if (!stats_pass)
		ph->secs += kopt_now_s() - t0;
	read_kp(b, after);
	if (lb) {
		prog_runtime(kopt_lb_prog_fd(lb), &ns1, &cnt1);
		kopt_lb_read_stats(kopt_lb_stats_fd(lb), lb1);
		if (stats_pass) {
			ph->prog_ns += ns1 - ns0;
			ph->prog_cnt += cnt1 - cnt0;
		} else {
			ph->evals += lb1[KOPT_LB_STAT_EVALS] -
				     lb0[KOPT_LB_STAT_EVALS];
		}
		kopt_lb_close(lb);
	}
	if (ret) {
		pr_warn("bench kpatch: workload '%s' failed: is rt-tests "
			"(hackbench) installed? (make deps)\n",
			b->workload);
		return KOPT_EXIT_FAIL;
	}
	if (stats_pass)
		return 0;
	ph->calls += after[KOPT_KP_LAT_CALLS] - before[KOPT_KP_LAT_CALLS];
	ph->lat_ns += after[KOPT_KP_LAT_NS] - before[KOPT_KP_LAT_NS];
	ph->run = true;
	return 0;
}

static int make_model(struct bench *b)
{
	static const char *const feats[] = {
		"delta_ns",	  "nr_balance_failed", "cache_nice_tries",
		"src_nr_running", "dst_nr_running",    "load_avg",
		"idle_type",
	};
	struct kopt_mlp_float *f = calloc(1, sizeof(*f));
	struct kopt_model *m = calloc(1, sizeof(*m));
	char err[KOPT_MODEL_ERR];
	int ret = -ENOMEM;
	__u32 i;

	if (!f || !m)
		goto out;
	ret = kopt_model_parse_shape(BENCH_SHAPE, m, err, sizeof(err));
	for (i = 0; !ret && i < m->n_in; i++)
		m->feature[i] = kopt_feat_id(feats[i]);
	if (!ret) {
		kopt_mlp_float_random(f, m, BENCH_SEED);
		ret = kopt_model_quantize(f, 16, m, err, sizeof(err));
	}
	if (ret)
		pr_warn("bench kpatch: building the %s bench model failed: "
			"%s\n",
			BENCH_SHAPE, err);
	else
		kopt_model_to_mlp(m, &b->model);
out:
	free(f);
	free(m);
	return ret;
}

/* ns per run of the bench model in bpf/mlp.bpf.c's XDP evaluator. */
static int calibrate(struct bench *b)
{
	struct kopt_mlp_pkt pkt = {};
	struct kopt_mlp_tr t;
	char err[256];
	__u32 ns = 0, empty = 0;
	int ret;

	ret = kopt_mlp_tr_open(&t, KOPT_TR_XDP, NULL, err, sizeof(err));
	if (ret) {
		pr_warn("bench kpatch: calibration: %s\n", err);
		return ret;
	}
	ret = kopt_mlp_tr_set(&t, &b->model);
	if (!ret)
		ret = kopt_mlp_tr_time(&t, false, &pkt, CALIB_REPEAT, &ns);
	if (!ret)
		ret = kopt_mlp_tr_time(&t, true, &pkt, CALIB_REPEAT, &empty);
	kopt_mlp_tr_close(&t);
	if (ret) {
		pr_warn("bench kpatch: calibration test run failed: %s\n",
			strerror(-ret));
		return ret;
	}
	b->calib_ns = ns;
	b->calib_empty_ns = empty;
	return 0;
}

/*
 * ns per bpf_kopt_mlp_eval() call on the bench model, in a bpf_loop over
 * KOPT_KP_BATCH zero feature tables (kp_kfunc_batch): the kfunc's own
 * cost in a hot loop, next to the BPF evaluator's above.
 */
static int calibrate_kfunc(struct bench *b)
{
	struct kopt_kp_batch ctx = { .count = KOPT_KP_BATCH };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));
	struct kpatch_probe_bpf *kp = kpatch_probe_bpf__open();
	struct bpf_program *p;
	__u32 zero = 0;
	double t0;
	int ret;

	if (!kp)
		return -errno;
	bpf_object__for_each_program(p, kp->obj)
		bpf_program__set_autoload(p, !strcmp(bpf_program__name(p),
						     "kp_kfunc_batch"));
	ret = kpatch_probe_bpf__load(kp);
	if (!ret)
		ret = bpf_map_update_elem(bpf_map__fd(kp->maps.kp_model), &zero,
					  &b->model, BPF_ANY);
	/* syscall test runs report no duration: time the one call */
	t0 = kopt_now_s();
	if (!ret)
		ret = bpf_prog_test_run_opts(
			bpf_program__fd(kp->progs.kp_kfunc_batch), &opts);
	if (!ret)
		b->calib_kfunc_ns = (kopt_now_s() - t0) * 1e9 / KOPT_KP_BATCH;
	else
		pr_warn("bench kpatch: kfunc calibration failed: %s\n",
			strerror(errno));
	kpatch_probe_bpf__destroy(kp);
	return ret;
}

/* ---- output --------------------------------------------------------------- */

static double per_call(__u64 ns, __u64 calls)
{
	return calls ? (double)ns / calls : 0;
}

static struct json_object *phase_json(const struct phase *ph, bool policy)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "calls", json_object_new_int64(ph->calls));
	json_object_object_add(
		o, "ns_per_call",
		json_object_new_double(per_call(ph->lat_ns, ph->calls)));
	json_object_object_add(o, "seconds", json_object_new_double(ph->secs));
	if (policy) {
		json_object_object_add(o, "prog_ns_per_call",
				       json_object_new_double(per_call(
					       ph->prog_ns, ph->prog_cnt)));
		json_object_object_add(o, "prog_calls",
				       json_object_new_int64(ph->prog_cnt));
		json_object_object_add(o, "model_evaluations",
				       json_object_new_int64(ph->evals));
	}
	return o;
}

/* no_policy ns_per_call of an unpatched run's JSON (--baseline). */
static int read_baseline(const char *path, double *ns, struct json_object *o)
{
	struct json_object *root = json_object_from_file(path), *ph, *v;

	if (!root) {
		pr_warn("bench kpatch: --baseline %s: not readable JSON\n",
			path);
		return -EINVAL;
	}
	if (!json_object_object_get_ex(root, "no_policy", &ph) ||
	    !json_object_object_get_ex(ph, "ns_per_call", &v)) {
		pr_warn("bench kpatch: --baseline %s has no "
			"no_policy.ns_per_call\n",
			path);
		json_object_put(root);
		return -EINVAL;
	}
	*ns = json_object_get_double(v);
	json_object_object_add(o, "unpatched", root);
	return 0;
}

static void add_d(struct json_object *o, const char *k, double v)
{
	json_object_object_add(o, k, json_object_new_double(v));
}

/* calibration.mlp_ns of the host's run (--host), or 0. */
static double host_calib_ns(const char *path)
{
	struct json_object *root, *c, *v;
	double ns = 0;

	root = json_object_from_file(path);
	if (root && json_object_object_get_ex(root, "calibration", &c) &&
	    json_object_object_get_ex(c, "mlp_ns", &v))
		ns = json_object_get_double(v);
	else
		pr_warn("bench kpatch: --host %s has no calibration.mlp_ns\n",
			path);
	json_object_put(root);
	return ns;
}

/* key_<phase>: what each policy phase adds per call, divided by div. */
static void add_per_phase(const struct bench *b, struct json_object *s,
			  const char *key_prefix, double div)
{
	double none = per_call(b->ph[PH_NONE].lat_ns, b->ph[PH_NONE].calls);
	char key[64];
	int i;

	for (i = PH_EMPTY; i < NR_PHASES; i++) {
		const struct phase *ph = &b->ph[i];

		if (!ph->run)
			continue;
		snprintf(key, sizeof(key), "%s%s", key_prefix,
			 phase_names[i] + strlen("policy_"));
		add_d(s, key, (per_call(ph->lat_ns, ph->calls) - none) / div);
	}
}

/* Guest figures scaled by how much slower the guest ran the same BPF. */
static void native_estimate(struct bench *b, struct json_object *s)
{
	double host = b->host ? host_calib_ns(b->host) : 0;
	double factor;

	if (host <= 0 || b->calib_ns <= 0)
		return;
	factor = b->calib_ns / host;
	add_d(s, "tcg_slowdown_factor", factor);
	/* the kfunc alone, hot: the evaluation's share of the added cost */
	if (b->calib_kfunc_ns > 0)
		add_d(s, "est_native_kfunc_eval_ns",
		      b->calib_kfunc_ns / factor);
	add_per_phase(b, s, "est_native_added_ns_", factor);
}

/*
 * On QEMU's icount clock (vm-run.sh --icount) guest time advances 2^shift
 * ns per guest instruction, so each figure in ns is an instruction count
 * times 2^shift: a cost that neither TCG's speed nor the host's load
 * changes. Reported as instructions per call.
 */
static void icount_summary(struct bench *b, struct json_object *s)
{
	double per_insn = (double)(1U << b->icount_shift);
	double none = per_call(b->ph[PH_NONE].lat_ns, b->ph[PH_NONE].calls);

	add_d(s, "no_policy_insns_per_call", none / per_insn);
	add_per_phase(b, s, "added_insns_per_call_", per_insn);
	if (b->calib_kfunc_ns > 0)
		add_d(s, "kfunc_eval_insns", b->calib_kfunc_ns / per_insn);
}

static void summary(struct bench *b, struct json_object *o)
{
	struct json_object *s = json_object_new_object();
	double none = per_call(b->ph[PH_NONE].lat_ns, b->ph[PH_NONE].calls);
	double base = 0;
	int i;

	if (b->baseline && !read_baseline(b->baseline, &base, o) && base > 0) {
		add_d(s, "no_policy_minus_unpatched_ns", none - base);
		add_d(s, "no_policy_ratio_to_unpatched", none / base);
	}
	for (i = PH_EMPTY; i < NR_PHASES; i++) {
		const struct phase *ph = &b->ph[i];
		double mean = per_call(ph->lat_ns, ph->calls);
		char key[64];

		if (!ph->run)
			continue;
		snprintf(key, sizeof(key), "added_ns_per_call_%s",
			 phase_names[i] + strlen("policy_"));
		add_d(s, key, mean - none);
		snprintf(key, sizeof(key), "ratio_to_no_policy_%s",
			 phase_names[i] + strlen("policy_"));
		add_d(s, key, none > 0 ? mean / none : 0);
		if (base > 0) {
			snprintf(key, sizeof(key), "ratio_to_unpatched_%s",
				 phase_names[i] + strlen("policy_"));
			add_d(s, key, mean / base);
		}
	}
	if (b->icount_shift >= 0)
		icount_summary(b, s);
	else
		native_estimate(b, s);
	json_object_object_add(s, "goal_added_ns",
			       json_object_new_int(GOAL_NS));
	json_object_object_add(o, "summary", s);
}

static int report(struct bench *b, bool patched)
{
	struct json_object *o = json_object_new_object();
	struct utsname u;
	const char *txt;
	int i;

	uname(&u);
	json_object_object_add(o, "kernel", json_object_new_string(u.release));
	json_object_object_add(o, "patched", json_object_new_boolean(patched));
	if (b->calib_ns > 0) {
		struct json_object *c = json_object_new_object();

		add_d(c, "mlp_ns", b->calib_ns);
		add_d(c, "empty_ns", b->calib_empty_ns);
		if (b->calib_kfunc_ns > 0)
			add_d(c, "kfunc_ns", b->calib_kfunc_ns);
		json_object_object_add(
			c, "what",
			json_object_new_string(
				"BPF_PROG_TEST_RUN ns per run of "
				"the bench model's XDP evaluator "
				"and of an empty program; kfunc_ns: "
				"per bpf_kopt_mlp_eval call in a "
				"bpf_loop"));
		json_object_object_add(o, "calibration", c);
	}
	if (b->skipped[0]) {
		json_object_object_add(o, "skipped",
				       json_object_new_string(b->skipped));
	} else {
		json_object_object_add(o, "workload",
				       json_object_new_string(b->workload));
		json_object_object_add(o, "rounds",
				       json_object_new_int(b->rounds));
		json_object_object_add(o, "model",
				       json_object_new_string(BENCH_SHAPE));
		for (i = 0; i < NR_PHASES; i++)
			if (b->ph[i].run)
				json_object_object_add(
					o, phase_names[i],
					phase_json(&b->ph[i], i != PH_NONE));
		if (patched)
			summary(b, o);
		json_object_object_add(
			o, "note",
			json_object_new_string(
				"ns include the fentry/fexit probes' own "
				"cost (equal in every phase); under QEMU TCG "
				"absolute figures are inflated: compare "
				"ratios"));
	}
	if (b->icount_shift >= 0) {
		struct json_object *c = json_object_new_object();

		json_object_object_add(c, "shift",
				       json_object_new_int(b->icount_shift));
		json_object_object_add(
			c, "what",
			json_object_new_string(
				"QEMU icount clock: guest time advances "
				"2^shift ns per guest instruction, so every "
				"ns figure here (calibration included) is an "
				"instruction count times 2^shift, not time"));
		json_object_object_add(o, "icount", c);
	}
	txt = kopt_json_text(o);
	printf("%s\n", txt); /* JSON either way: the figures are the output */
	if (b->out &&
	    json_object_to_file_ext(b->out, o, JSON_C_TO_STRING_PRETTY)) {
		pr_warn("bench kpatch: writing %s failed\n", b->out);
		json_object_put(o);
		return KOPT_EXIT_FAIL;
	}
	json_object_put(o);
	return KOPT_EXIT_OK;
}

/* ---- main ------------------------------------------------------------------ */

static int attach_probes(struct bench *b)
{
	struct bpf_program *p;
	int err;

	b->kp = kpatch_probe_bpf__open();
	if (!b->kp)
		return -errno;
	bpf_object__for_each_program(p, b->kp->obj) {
		const char *n = bpf_program__name(p);

		bpf_program__set_autoload(p, !strcmp(n, "kp_entry") ||
						     !strcmp(n, "kp_exit"));
	}
	err = kpatch_probe_bpf__load(b->kp);
	if (err)
		return err;
	b->kp->links.kp_entry = bpf_program__attach(b->kp->progs.kp_entry);
	if (!b->kp->links.kp_entry)
		return -errno;
	b->kp->links.kp_exit = bpf_program__attach(b->kp->progs.kp_exit);
	return b->kp->links.kp_exit ? 0 : -errno;
}

#define DEFAULT_ROUNDS_S KOPT_STR(DEFAULT_ROUNDS) /* in help text */

/* false after --help or a usage error (*ret says which) */
static bool parse_opts(int argc, char **argv, struct bench *b, int *ret)
{
	const struct kopt_opts spec = {
		.cmd = "kopt bench kpatch",
		.usage = "[--rounds N] [--workload CMD] [--baseline FILE] "
			 "[--icount SHIFT] [--out FILE] [--json]",
		.desc = "Cost of the kopt kernel patch per can_migrate_task() "
			"call:\nno policy, and the sched_lb_ops policy on a " BENCH_SHAPE
			" model with\nthe kfunc and the inline "
			"evaluator (see the top of\nloader/tools/kpatch_bench.c). "
			"`make vmbench` runs it in the VM.",
		.opts = KOPT_OPTS(
			KOPT_OPT_INT(
				"rounds", 'r', &b->rounds, 1, MAX_ROUNDS, "N",
				"interleaved rounds (default " DEFAULT_ROUNDS_S
				")"),
			KOPT_OPT_STR("workload", 'w', &b->workload, "CMD",
				     "load-balancing workload (default\n"
				     "\"" DEFAULT_WORKLOAD "\")"),
			KOPT_OPT_STR("baseline", 'b', &b->baseline, "F",
				     "an unpatched kernel's result, for ratios"),
			KOPT_OPT_STR("host", 'H', &b->host, "F",
				     "the host's result (its calibration), for\n"
				     "an estimate of native figures"),
			KOPT_OPT_INT("icount", 0, &b->icount_shift, 0, 10,
				     "SHIFT",
				     "the guest runs on QEMU's icount clock\n"
				     "(vm-run.sh --icount): report\n"
				     "instructions per call, not ns",
				     .unit = "a shift"),
			KOPT_OPT_STR("out", 'o', &b->out, "FILE",
				     "also write the JSON to FILE"),
			KOPT_OPT_JSON("JSON on stdout (always JSON)")),
	};

	return kopt_opts_parse(&spec, argc, argv, ret);
}

static bool phase_runs(int i, const struct kopt_lb_support *sup)
{
	if (i != PH_NONE && !sup->struct_ops)
		return false;
	return i != PH_KFUNC || sup->kfunc;
}

static int run_rounds(struct bench *b, const struct kopt_lb_support *sup)
{
	int r, i, ret, stats_fd;

	for (r = 0; r < b->rounds; r++) {
		for (i = 0; i < NR_PHASES; i++) {
			if (!phase_runs(i, sup))
				continue;
			ret = measure(b, i, false);
			if (ret)
				return ret;
		}
	}
	if (!sup->struct_ops)
		return 0;
	/* the policy program's run time; off again when the fd closes */
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		pr_warn("bench kpatch: BPF_ENABLE_STATS refused (%s): no "
			"prog_ns_per_call\n",
			strerror(errno));
		return 0;
	}
	ret = 0;
	for (i = PH_EMPTY; i < NR_PHASES && !ret; i++)
		if (phase_runs(i, sup))
			ret = measure(b, i, true);
	close(stats_fd);
	return ret;
}

int cmd_bench_kpatch(int argc, char **argv)
{
	struct bench b = { .workload = DEFAULT_WORKLOAD,
			   .rounds = DEFAULT_ROUNDS,
			   .icount_shift = -1 };
	struct kopt_lb_support sup;
	int ret;

	if (!parse_opts(argc, argv, &b, &ret))
		return ret;
	if (!kopt_have_bpf_caps())
		return kopt_need_root("kopt bench kpatch");
	kopt_lb_probe(&sup);
	if (make_model(&b))
		return KOPT_EXIT_FAIL;
	calibrate(&b); /* optional: the figures stand without it */
	if (sup.kfunc)
		calibrate_kfunc(&b);
	ret = attach_probes(&b);
	if (ret) {
		snprintf(b.skipped, sizeof(b.skipped),
			 "fentry/fexit on can_migrate_task refused (%s): "
			 "kernel lockdown or no BTF trampolines; run it in "
			 "the VM (make vmbench); calibration only",
			 strerror(-ret));
		ret = report(&b, sup.struct_ops);
		goto out;
	}
	ret = run_rounds(&b, &sup);
	if (!ret)
		ret = report(&b, sup.struct_ops);
out:
	kpatch_probe_bpf__destroy(b.kp);
	return ret;
}
