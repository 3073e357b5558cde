// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kopt kernel patch series (kernel-patches/0001..0004).
 *
 * On the host: the series lists every patch, applies without fuzz or
 * offset to a fresh linux-source-6.12, checkpatch.pl finds no error in any
 * patch, the kernel's copy of the MLP evaluator is what the shared headers
 * generate, and the config fragment turns the hook on. The pristine files
 * the patches touch are extracted once from the Debian tarball into
 * build/kpatch-pristine (the full xz stream must be read: ~20 s the first
 * time), then reused.
 *
 * In the patched guest (vm_*): the kernel has all three parts, the
 * tracepoint and fexit see the same decisions for the same calls, the
 * collector's rung 2 reports how far its patch-free forced rule agrees
 * with the exact flag, and the kfunc matches the userspace evaluator bit
 * for bit on 100k random inputs.
 */
#define _GNU_SOURCE
#include "sched_util.h"
#include "test.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "kopt/kpatch_probe.h"
#include "kpatch_probe.skel.h"
#include "sched_lb.h"

#define TARBALL "/usr/src/linux-source-6.12.tar.xz"
#define TAR_TOP "linux-source-6.12"
#define NR_PATCHES 4
#define WORKLOAD "hackbench -g 4 -l 300 >/dev/null 2>&1"
#define PARITY_MODELS 25
#define PARITY_PER_MODEL 4000 /* 25 x 4000 = 100k inputs */

static const char *const patches[NR_PATCHES] = {
	"0001-sched-fair-add-the-sched_can_migrate_task-tracepoint.patch",
	"0002-sched-fair-let-a-BPF-struct_ops-policy-override-can_.patch",
	"0003-kopt-add-the-fixed-point-MLP-evaluator-header.patch",
	"0004-sched-fair-add-the-bpf_kopt_mlp_eval-kfunc.patch",
};

/* Files the patches modify, plus what checkpatch.pl reads. */
static const char *const pristine_files[] = {
	"include/trace/events/sched.h",
	"kernel/sched/fair.c",
	"kernel/sched/Makefile",
	"kernel/Kconfig.preempt",
	"scripts/checkpatch.pl",
	"scripts/spelling.txt",
	"scripts/const_structs.checkpatch",
};

static bool in_vm(void)
{
	const char *v = getenv("KOPT_IN_VM");

	return v && !strcmp(v, "1");
}

#define SKIP_UNLESS_IN_VM()                                                \
	do {                                                               \
		if (!in_vm()) {                                            \
			SKIP("not inside the kopt VM (KOPT_IN_VM unset)"); \
			return;                                            \
		}                                                          \
	} while (0)

/* The repository: the parent of the build directory. */
static const char *top(void)
{
	static char buf[PATH_MAX];

	if (!buf[0])
		snprintf(buf, sizeof(buf), "%s/..", kopt_test_builddir());
	return buf;
}

/* Extracts the pristine files once; returns their directory or NULL. */
static const char *pristine(void)
{
	static char dir[PATH_MAX];
	char stamp[PATH_MAX + 16], want[128], got[128] = "", cmd[4096];
	struct stat st;
	size_t i, len;
	FILE *f;

	if (stat(TARBALL, &st))
		return NULL;
	snprintf(dir, sizeof(dir), "%s/kpatch-pristine", kopt_test_builddir());
	snprintf(stamp, sizeof(stamp), "%s/.stamp", dir);
	snprintf(want, sizeof(want), "%lld %lld", (long long)st.st_size,
		 (long long)st.st_mtime);
	f = fopen(stamp, "re");
	if (f) {
		if (!fgets(got, sizeof(got), f))
			got[0] = '\0';
		fclose(f);
	}
	if (!strcmp(got, want))
		return dir;
	len = snprintf(cmd, sizeof(cmd),
		       "rm -rf '%s' && mkdir -p '%s' && tar -xJf %s -C '%s' "
		       "--strip-components=1",
		       dir, dir, TARBALL, dir);
	for (i = 0; i < sizeof(pristine_files) / sizeof(*pristine_files); i++)
		len += snprintf(cmd + len, sizeof(cmd) - len, " %s/%s", TAR_TOP,
				pristine_files[i]);
	if (kopt_test_run(NULL, 0, "%s", cmd))
		return NULL;
	f = fopen(stamp, "we");
	if (!f)
		return NULL;
	fputs(want, f);
	fclose(f);
	return dir;
}

KOPT_TEST(kpatch_series_lists_patches)
{
	char path[PATH_MAX], line[512];
	int found = 0, i;
	FILE *f;

	snprintf(path, sizeof(path), "%s/kernel-patches/series", top());
	f = fopen(path, "re");
	if (!f) {
		ASSERT_OK_PTR(f, "open kernel-patches/series");
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, " \t\n#")] = '\0';
		if (found < NR_PATCHES && !strcmp(line, patches[found]))
			found++;
	}
	fclose(f);
	ASSERT_EQ(found, NR_PATCHES, "kopt patches listed in order");
	for (i = 0; i < NR_PATCHES; i++) {
		snprintf(path, sizeof(path), "%s/kernel-patches/%s", top(),
			 patches[i]);
		ASSERT_OK(access(path, R_OK), patches[i]);
	}
}

KOPT_TEST(kpatch_mlp_header_is_current)
{
	char out[4096];
	int rc;

	rc = kopt_test_run(out, sizeof(out),
			   "cd %s && kernel-patches/gen-mlp-header.sh --check",
			   top());
	if (!ASSERT_EQ(rc, 0, "gen-mlp-header.sh --check"))
		fprintf(stderr, "%s\n", out);
}

/* the first pristine() reads the whole xz tarball: 10 min */
KOPT_TEST_TIMEOUT(kpatch_series_applies_cleanly, 600)
{
	char out[16384], tree[PATH_MAX];
	const char *src = pristine();
	int i, rc;

	if (!src) {
		SKIP("%s missing or unreadable (apt-get install "
		     "linux-source-6.12)",
		     TARBALL);
		return;
	}
	snprintf(tree, sizeof(tree), "%s/kpatch-tree", kopt_test_tmpdir());
	if (!ASSERT_EQ(kopt_test_run(NULL, 0, "cp -a '%s' '%s'", src, tree), 0,
		       "copy the pristine files"))
		return;
	for (i = 0; i < NR_PATCHES; i++) {
		rc = kopt_test_run(
			out, sizeof(out),
			"cd '%s' && patch -p1 -F0 -N --batch "
			"--no-backup-if-mismatch < '%s/kernel-patches/%s'",
			tree, top(), patches[i]);
		if (!ASSERT_EQ(rc, 0, patches[i])) {
			fprintf(stderr, "%s\n", out);
			return;
		}
		ASSERT_TRUE(!strstr(out, "offset") && !strstr(out, "fuzz"),
			    patches[i]);
	}
	ASSERT_EQ(
		kopt_test_run(
			NULL, 0,
			"test -s '%s/include/linux/kopt_mlp.h' && "
			"test -s '%s/kernel/sched/lb_bpf.c' && "
			"grep -q 'config SCHED_LB_BPF' '%s/kernel/Kconfig.preempt'",
			tree, tree, tree),
		0, "new files and the Kconfig option are there");
}

/* the first pristine() reads the whole xz tarball: 10 min */
KOPT_TEST_TIMEOUT(kpatch_checkpatch_no_errors, 600)
{
	char out[65536];
	const char *src = pristine();
	int i;

	if (!src) {
		SKIP("%s missing or unreadable (apt-get install "
		     "linux-source-6.12)",
		     TARBALL);
		return;
	}
	if (kopt_test_run(NULL, 0, "command -v perl")) {
		SKIP("perl missing: checkpatch.pl cannot run");
		return;
	}
	for (i = 0; i < NR_PATCHES; i++) {
		kopt_test_run(out, sizeof(out),
			      "cd '%s' && perl scripts/checkpatch.pl --no-tree "
			      "'%s/kernel-patches/%s'",
			      src, top(), patches[i]);
		if (!ASSERT_HAS(out, "total: 0 errors", patches[i]))
			fprintf(stderr, "%s\n", out);
	}
}

/*
 * The instruction-counting mode of make vmbench-icount: bad shifts and a
 * KVM request are refused before anything boots or runs.
 */
KOPT_TEST(kpatch_icount_args)
{
	const char *vm = "kernel-patches/vm-run.sh";

	ASSERT_REFUSES(2, "from 0 to 10", "'%s/%s' --icount 11 -- true 2>&1",
		       top(), vm);
	ASSERT_REFUSES(2, "needs TCG",
		       "'%s/%s' --icount 0 --accel kvm -- true 2>&1", top(),
		       vm);
	ASSERT_REFUSES(2, "--icount 'x'", "%s bench kpatch --icount x 2>&1",
		       kopt_test_bin());
	ASSERT_REFUSES(2, "unexpected argument '5'", "%s bench kpatch 5 2>&1",
		       kopt_test_bin());
}

KOPT_TEST(kpatch_fragment_enables_hook)
{
	ASSERT_EQ(kopt_test_run(NULL, 0,
				"grep -qx 'CONFIG_SCHED_LB_BPF=y' "
				"%s/kernel-patches/config.fragment",
				top()),
		  0, "CONFIG_SCHED_LB_BPF=y in config.fragment");
}

/* ---- in the patched guest ---------------------------------------------------- */

static int sum_stats(int fd, __u64 *out, int n)
{
	int nr = libbpf_num_possible_cpus(), cpu;
	__u64 *vals = calloc(nr, sizeof(*vals));
	__u32 k;

	if (!vals)
		return -ENOMEM;
	for (k = 0; k < (__u32)n; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (cpu = 0; cpu < nr; cpu++)
			out[k] += vals[cpu];
	}
	free(vals);
	return 0;
}

/* The guest runs the patched kernel: anything missing is a failure. */
KOPT_TEST(vm_kpatch_kernel_has_patch)
{
	struct kopt_lb_support s;
	struct btf *btf;
	char out[8192];

	SKIP_UNLESS_IN_VM();
	kopt_lb_probe(&s);
	ASSERT_TRUE(s.tracepoint, "sched_can_migrate_task tracepoint in BTF");
	ASSERT_TRUE(s.struct_ops, "struct bpf_struct_ops_sched_lb_ops in BTF");
	ASSERT_TRUE(s.kfunc, "bpf_kopt_mlp_eval kfunc in BTF");
	/* the verifier finds these by name: the policy's plain feature loads */
	btf = btf__load_vmlinux_btf();
	if (ASSERT_OK_PTR(btf, "load the guest's vmlinux BTF")) {
		ASSERT_TRUE(btf__find_by_name_kind(btf, "lb_env__safe_trusted",
						   BTF_KIND_STRUCT) > 0,
			    "lb_env__safe_trusted in BTF");
		ASSERT_TRUE(btf__find_by_name_kind(
				    btf, "sched_domain__safe_trusted_or_null",
				    BTF_KIND_STRUCT) > 0,
			    "sched_domain__safe_trusted_or_null in BTF");
		btf__free(btf);
	}
	kopt_test_run(out, sizeof(out), "%s probe --json", kopt_test_bin());
	ASSERT_HAS(out, "sched_lb_ops struct_ops, bpf_kopt_mlp_eval",
		   "kopt probe reports the patch");
}

static struct kpatch_probe_bpf *open_probe(const char *const *progs, int n)
{
	struct kpatch_probe_bpf *kp = kpatch_probe_bpf__open();
	struct bpf_program *p;
	int i;

	if (!kp)
		return NULL;
	bpf_object__for_each_program(p, kp->obj) {
		bool want = false;

		for (i = 0; i < n; i++)
			want |= !strcmp(bpf_program__name(p), progs[i]);
		bpf_program__set_autoload(p, want);
	}
	if (kpatch_probe_bpf__load(kp)) {
		kpatch_probe_bpf__destroy(kp);
		return NULL;
	}
	return kp;
}

/* hackbench in a possibly TCG guest: 10 min */
KOPT_TEST_TIMEOUT(vm_kpatch_tracepoint_matches_fexit, 600)
{
	static const char *const progs[] = { "kp_tp", "kp_fexit" };
	struct kpatch_probe_bpf *kp;
	__u64 st[KOPT_KP_NR_STATS];

	SKIP_UNLESS_IN_VM();
	kp = open_probe(progs, 2);
	if (!ASSERT_OK_PTR(kp, "load kp_tp and kp_fexit"))
		return;
	kp->links.kp_tp = bpf_program__attach(kp->progs.kp_tp);
	kp->links.kp_fexit = bpf_program__attach(kp->progs.kp_fexit);
	if (ASSERT_OK_PTR(kp->links.kp_tp, "attach the tracepoint") &&
	    ASSERT_OK_PTR(kp->links.kp_fexit, "attach fexit")) {
		ASSERT_EQ(kopt_test_run(NULL, 0, WORKLOAD), 0, "hackbench");
		sum_stats(bpf_map__fd(kp->maps.kp_stats), st, KOPT_KP_NR_STATS);
		fprintf(stderr,
			"  tracepoint %llu hits (%llu forced), fexit %llu "
			"calls: %llu agree, %llu disagree, %llu unpaired\n",
			(unsigned long long)st[KOPT_KP_TP_CALLS],
			(unsigned long long)st[KOPT_KP_TP_FORCED],
			(unsigned long long)st[KOPT_KP_CALLS],
			(unsigned long long)st[KOPT_KP_AGREE],
			(unsigned long long)st[KOPT_KP_DISAGREE],
			(unsigned long long)st[KOPT_KP_UNPAIRED]);
		ASSERT_GT(st[KOPT_KP_AGREE], 0, "paired calls");
		ASSERT_EQ(st[KOPT_KP_DISAGREE], 0, "decisions that differ");
		/* only around attach time can one side miss the other */
		ASSERT_LE(st[KOPT_KP_UNPAIRED], 2 * libbpf_num_possible_cpus(),
			  "unpaired");
	}
	kpatch_probe_bpf__destroy(kp);
}

/*
 * The collector's rung 2, with fexit skipped: exact flag vs the rule.
 * Time limit: hackbench in a possibly TCG guest: 10 min.
 */
KOPT_TEST_TIMEOUT(vm_kpatch_collector_rung2_agreement, 600)
{
	struct json_object *o, *v, *a;
	static char out[65536];
	long old_cost;
	char *brace;
	int rc;

	SKIP_UNLESS_IN_VM();
	/* hot tasks, so that some migrations are forced */
	old_cost = set_migration_cost(HOT_COST_NS);
	ASSERT_GE(old_cost, 0, "raise " MIGRATION_COST);
	rc = kopt_test_run(out, sizeof(out),
			   "%s collect migrations --rung patch_tracepoint "
			   "--json -o %s/rung2.csv -- %s",
			   kopt_test_bin(), kopt_test_tmpdir(),
			   "hackbench -g 4 -l 300");
	if (old_cost >= 0)
		set_migration_cost(old_cost);
	if (!ASSERT_EQ(rc, 0,
		       "kopt collect migrations --rung "
		       "patch_tracepoint")) {
		fprintf(stderr, "%s\n", out);
		return;
	}
	brace = strchr(out, '{');
	o = brace ? json_tokener_parse(brace) : NULL;
	if (!ASSERT_OK_PTR(o, "summary JSON")) {
		fprintf(stderr, "%s\n", out);
		return;
	}
	if (json_object_object_get_ex(o, "rung", &v))
		ASSERT_STREQ(json_object_get_string(v), "patch_tracepoint",
			     "rung");
	if (json_object_object_get_ex(o, "calls", &v))
		ASSERT_GT(json_object_get_int64(v), 0, "calls recorded");
	if (ASSERT_TRUE(json_object_object_get_ex(o, "forced_rule_agreement",
						  &a),
			"forced_rule_agreement reported"))
		fprintf(stderr, "  forced rule vs exact flag: %s\n",
			json_object_to_json_string(a));
	json_object_put(o);
	ASSERT_EQ(kopt_test_run(NULL, 0,
				"grep -q '^# rung: patch_tracepoint (forced "
				"flag exact)' %s/rung2.csv",
				kopt_test_tmpdir()),
		  0, "dataset header names rung 2");
}

/* Random bytes for a model: any bytes are defined for the evaluator. */
static void random_model(struct kopt_mlp *m, unsigned int *seed)
{
	__u32 l, j, i;

	memset(m, 0, sizeof(*m));
	m->n_in = 1 + rand_r(seed) % KOPT_MLP_MAX_IN;
	m->n_hidden = rand_r(seed) % (KOPT_MLP_MAX_HIDDEN + 1);
	m->frac_bits = rand_r(seed) % (KOPT_MLP_MAX_FRAC + 1);
	for (i = 0; i < KOPT_MLP_MAX_IN; i++)
		/* now and then an id past the table: must read as 0 */
		m->feature[i] = rand_r(seed) % (KOPT_FEAT_NR + 2);
	for (l = 0; l < KOPT_MLP_MAX_HIDDEN; l++) {
		struct kopt_mlp_layer *h = &m->hidden[l];

		h->n_in = l ? m->hidden[l - 1].n_out : m->n_in;
		h->n_out = 1 + rand_r(seed) % KOPT_MLP_MAX_UNITS;
		h->shift = rand_r(seed) % 40;
		for (j = 0; j < KOPT_MLP_MAX_UNITS; j++) {
			h->bias[j] = (__s64)((__u64)rand_r(seed) << 20) -
				     (__s64)((__u64)rand_r(seed) << 20);
			for (i = 0; i < KOPT_MLP_WIDTH; i++)
				h->w[j][i] = (__s32)((unsigned int)rand_r(seed)
						     << 1);
		}
	}
	m->out.n_in = m->n_hidden ? m->hidden[m->n_hidden - 1].n_out : m->n_in;
	m->out.shift = rand_r(seed) % 40;
	m->out.bias = (__s64)rand_r(seed) - (__s64)rand_r(seed);
	for (i = 0; i < KOPT_MLP_WIDTH; i++)
		m->out.w[i] = (__s32)((unsigned int)rand_r(seed) << 1);
}

static __s64 random_input(unsigned int *seed)
{
	__s64 v = (__s64)(((__u64)rand_r(seed) << 33) ^
			  ((__u64)rand_r(seed) << 2));

	switch (rand_r(seed) % 8) {
	case 0:
		return INT64_MAX; /* saturates */
	case 1:
		return INT64_MIN;
	case 2:
		return 0;
	case 3:
		return rand_r(seed) % 2048 - 1024; /* small, realistic */
	default:
		return rand_r(seed) % 2 ? v : (__s64)(0 - (__u64)v);
	}
}

/*
 * make vmbench's bench, small: every phase runs and times calls, and the
 * policy's own run time comes from the separate stats pass (run-time
 * statistics stay off while calls are timed).
 *
 * Time limit: a benchmark in a possibly TCG guest: 10 min.
 */
KOPT_TEST_TIMEOUT(vm_kpatch_bench_phases, 600)
{
	static const char *const phases[] = { "no_policy", "policy_nomodel",
					      "policy_kfunc", "policy_inline" };
	struct json_object *o, *ph, *v, *s;
	static char out[1 << 16];
	size_t i;

	SKIP_UNLESS_IN_VM();
	o = KOPT_TEST_RUN_JSON(out, sizeof(out),
			       "%s bench kpatch --rounds 1 --workload "
			       "'hackbench -g 2 -l 100' --json 2>/dev/null",
			       kopt_test_bin());
	if (!o)
		return;
	for (i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
		ph = v = NULL;
		json_object_object_get_ex(o, phases[i], &ph);
		json_object_object_get_ex(ph, "calls", &v);
		ASSERT_GT(json_object_get_int64(v), 0, phases[i]);
		if (i == 0)
			continue;
		v = NULL;
		json_object_object_get_ex(ph, "prog_ns_per_call", &v);
		ASSERT_GT(json_object_get_double(v), 0,
			  "policy run time from the stats pass");
	}
	s = v = NULL;
	json_object_object_get_ex(o, "summary", &s);
	json_object_object_get_ex(s, "added_ns_per_call_kfunc", &v);
	ASSERT_OK_PTR(v, "added cost with the kfunc reported");
	json_object_put(o);
}

/* One model: kfunc vs mlp_fixed.h compiled here, PARITY_PER_MODEL inputs. */
static bool parity_one(struct kpatch_probe_bpf *kp, unsigned int *seed,
		       __u64 *checked)
{
	static struct kopt_kp_feat in[KOPT_KP_BATCH];
	static struct kopt_kp_out out[KOPT_KP_BATCH];
	struct kopt_kp_batch ctx = { .count = PARITY_PER_MODEL };
	LIBBPF_OPTS(bpf_test_run_opts, topts, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));
	struct kopt_mlp_scratch scratch;
	static struct kopt_mlp m;
	__u32 i, k, zero = 0;
	__s32 logit;
	int st;

	random_model(&m, seed);
	if (!ASSERT_OK(bpf_map_update_elem(bpf_map__fd(kp->maps.kp_model),
					   &zero, &m, BPF_ANY),
		       "write kp_model"))
		return false;
	for (i = 0; i < PARITY_PER_MODEL; i++) {
		for (k = 0; k < KOPT_FEAT_NR; k++)
			in[i].feat[k] = random_input(seed);
		if (bpf_map_update_elem(bpf_map__fd(kp->maps.kp_in), &i, &in[i],
					BPF_ANY))
			return ASSERT_OK(-1, "write kp_in");
	}
	if (!ASSERT_OK(bpf_prog_test_run_opts(
			       bpf_program__fd(kp->progs.kp_kfunc_batch),
			       &topts),
		       "test run kp_kfunc_batch"))
		return false;
	for (i = 0; i < PARITY_PER_MODEL; i++) {
		if (bpf_map_lookup_elem(bpf_map__fd(kp->maps.kp_out), &i,
					&out[i]))
			return ASSERT_OK(-1, "read kp_out");
		logit = 0;
		st = kopt_mlp_eval(&m, in[i].feat, 1, &scratch, &logit);
		if (!ASSERT_EQ(out[i].status, st, "kfunc status") ||
		    !ASSERT_EQ(out[i].logit, st ? 0 : logit, "kfunc logit"))
			return false;
		(*checked)++;
	}
	return true;
}

/* 100k evaluations in a possibly TCG guest: 10 min */
KOPT_TEST_TIMEOUT(vm_kpatch_kfunc_parity, 600)
{
	static const char *const progs[] = { "kp_kfunc_batch" };
	struct kpatch_probe_bpf *kp;
	unsigned int seed = 20261121;
	__u64 checked = 0;
	int i;

	SKIP_UNLESS_IN_VM();
	kp = open_probe(progs, 1);
	if (!ASSERT_OK_PTR(kp, "load kp_kfunc_batch (bpf_kopt_mlp_eval)"))
		return;
	for (i = 0; i < PARITY_MODELS; i++)
		if (!parity_one(kp, &seed, &checked))
			break;
	fprintf(stderr,
		"  %llu inputs on %d random models: kfunc == "
		"userspace evaluator\n",
		(unsigned long long)checked, i);
	ASSERT_EQ(checked, PARITY_MODELS * PARITY_PER_MODEL, "inputs checked");
	kpatch_probe_bpf__destroy(kp);
}
