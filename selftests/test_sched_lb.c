// SPDX-License-Identifier: GPL-2.0-only
/*
 * The sched_lb_ops policy (bpf/sched_lb.bpf.c, loader/lib/bpf/sched_lb.c, `kopt
 * model attach|detach`).
 *
 * On the host (no kopt patch): the CLI refuses bad options with exit 2 and
 * an unpatched kernel with exit 3 and a reason; the objects open.
 *
 * In the patched guest (vm_*), under hackbench: a policy that refuses
 * every soft migration stops load-balancing migrations and detaching it
 * brings them back; a policy that accepts everything still never moves a
 * pinned or running task (the hard vetoes come first); hot swaps under
 * load never give a torn model; enforce mode changes decisions; the CLI
 * attaches, reconfigures, refuses a second policy and detaches.
 */
#define _GNU_SOURCE
#include "sched_util.h"
#include "test.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "kopt.h"
#include "kopt/kpatch_probe.h"
#include "kpatch_probe.skel.h"
#include "mlp.h"
#include "sched_lb.h"
#include "sched_lb.skel.h"

#define WORKLOAD "hackbench -g 4 -l 300 >/dev/null 2>&1"
#define SWAP_MODELS 200 /* generations written during the hot-swap test */
#define SWAP_HIDDEN 16
#define SWAP_INPUTS 7

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

/* ---- host ------------------------------------------------------------------ */

KOPT_TEST(sched_lb_cli_usage_errors)
{
	char out[4096];

	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"%s model attach --mode bogus",
				kopt_test_bin()),
		  KOPT_EXIT_USAGE, "--mode bogus");
	ASSERT_HAS(out, "--mode 'bogus'", "names the option");
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"%s model attach --threshold 1x",
				kopt_test_bin()),
		  KOPT_EXIT_USAGE, "--threshold 1x");
	ASSERT_HAS(out, "--threshold '1x'", "names the option");
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s model attach extra",
				kopt_test_bin()),
		  KOPT_EXIT_USAGE, "stray argument");
	ASSERT_HAS(out,
		   "kopt model attach: unexpected argument 'extra'\n"
		   "Try 'kopt model attach --help'.\n",
		   "in the one format");
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s model detach --bogus",
				kopt_test_bin()),
		  KOPT_EXIT_USAGE, "detach --bogus");
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s model attach --help",
				kopt_test_bin()),
		  KOPT_EXIT_OK, "attach --help");
	ASSERT_HAS(out, "shadow", "help lists the modes");

	/* kopt model live */
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"%s model live --mode bogus -- true",
				kopt_test_bin()),
		  KOPT_EXIT_USAGE, "live --mode bogus");
	ASSERT_HAS(out, "--mode 'bogus'", "names the option");
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"%s model live --mode refuse -m x -- true",
				kopt_test_bin()),
		  KOPT_EXIT_USAGE, "live refuses the test modes");
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s model live -m x",
				kopt_test_bin()),
		  KOPT_EXIT_USAGE, "live without workload or duration");
	ASSERT_HAS(out, "--duration", "says what is missing");
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s model live -- true",
				kopt_test_bin()),
		  KOPT_EXIT_USAGE, "live without a model");
	ASSERT_HAS(out, "--model is required", "says so");
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"%s model live --mode off -m x -- true",
				kopt_test_bin()),
		  KOPT_EXIT_USAGE, "off takes no model");
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"%s model live -m x --duration -1",
				kopt_test_bin()),
		  KOPT_EXIT_USAGE, "negative duration");
}

/* --mode off: the stock-CFS baseline, timed; needs no privilege */
KOPT_TEST(sched_lb_live_off_times_workload)
{
	char cmd[PATH_MAX + 64], out[4096];
	struct json_object *j, *v;
	int rc;

	rc = kopt_test_run(out, sizeof(out),
			   "%s model live --mode off --json -- sleep 0.2 "
			   "--json",
			   kopt_test_bin());
	/* sleep rejects "--json": the workload's arguments are its own */
	ASSERT_EQ(rc, 0, "kopt model live --mode off");
	j = json_tokener_parse(strchr(out, '{') ?: "null");
	if (!ASSERT_OK_PTR(j, "JSON summary")) {
		fprintf(stderr, "%s\n", out);
		return;
	}
	ASSERT_TRUE(json_object_object_get_ex(j, "runtime_s", &v), "runtime");
	ASSERT_GE(json_object_get_double(v), 0.0, "run time measured");
	ASSERT_TRUE(json_object_object_get_ex(j, "workload_status", &v),
		    "status");
	ASSERT_STREQ(json_object_get_string(v), "exited 1",
		     "the workload's own exit status");
	json_object_put(j);
	snprintf(cmd, sizeof(cmd), "%s model live --mode off -- sleep 0.2",
		 kopt_test_bin());
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s", cmd), 0, "text form");
	ASSERT_HAS(out, "stock CFS", "says what ran");
	ASSERT_HAS(out, "run time:", "prints the run time");
}

/* A random 7-16-1 model file in the scratch directory. */
static bool live_model(char *path, size_t len)
{
	char out[4096];

	snprintf(path, len, "%s/live.kmlp", kopt_test_tmpdir());
	return ASSERT_EQ(kopt_test_run(out, sizeof(out),
				       "%s model gen --shape 7-16-1 --seed 3 "
				       "-o %s",
				       kopt_test_bin(), path),
			 0, "kopt model gen");
}

KOPT_TEST(sched_lb_refuses_unpatched_kernel)
{
	char out[4096], model[PATH_MAX], csv[PATH_MAX];
	struct kopt_lb_support s;

	kopt_lb_probe(&s);
	if (s.struct_ops) {
		SKIP("this kernel has the kopt patch (covered by vm_ tests)");
		return;
	}
	if (geteuid()) {
		SKIP("needs root to reach the kernel check");
		return;
	}
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s model attach",
				kopt_test_bin()),
		  KOPT_EXIT_BPF, "attach on an unpatched kernel");
	ASSERT_HAS(out, "lacks the kopt patch", "says why");
	ASSERT_HAS(out, "make vmkernel", "says what to do");
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s model detach",
				kopt_test_bin()),
		  KOPT_EXIT_OK, "detach with nothing attached");
	if (!live_model(model, sizeof(model)))
		return;
	snprintf(csv, sizeof(csv), "%s/unpatched.csv", kopt_test_tmpdir());
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"%s model live -m %s -o %s -- true",
				kopt_test_bin(), model, csv),
		  KOPT_EXIT_BPF, "live on an unpatched kernel");
	ASSERT_HAS(out, "lacks the kopt patch", "says why");
	ASSERT_NEQ(access(csv, F_OK), 0, "no dataset left behind");
}

KOPT_TEST(sched_lb_objects_open)
{
	struct sched_lb_bpf *s = sched_lb_bpf__open();

	if (!ASSERT_OK_PTR(s, "sched_lb_bpf__open"))
		return;
	/* registered through a link: libbpf must be asked for the flag */
	ASSERT_EQ(bpf_map__type(s->maps.kopt_lb), BPF_MAP_TYPE_STRUCT_OPS,
		  "kopt_lb is a struct_ops map");
	sched_lb_bpf__destroy(s);
}

/* ---- guest helpers --------------------------------------------------------- */

struct lb_run {
	struct kpatch_probe_bpf *kp; /* kp_fexit: decisions */
	__u64 calls, migrate;
};

static bool probe_open(struct lb_run *r)
{
	struct bpf_program *p;

	r->kp = kpatch_probe_bpf__open();
	if (!ASSERT_OK_PTR(r->kp, "open kpatch_probe"))
		return false;
	bpf_object__for_each_program(p, r->kp->obj)
		bpf_program__set_autoload(p, !strcmp(bpf_program__name(p),
						     "kp_fexit"));
	if (!ASSERT_OK(kpatch_probe_bpf__load(r->kp), "load kp_fexit"))
		return false;
	r->kp->links.kp_fexit = bpf_program__attach(r->kp->progs.kp_fexit);
	return ASSERT_OK_PTR(r->kp->links.kp_fexit, "attach kp_fexit");
}

/* can_migrate_task() calls and migrations while the workload runs. */
static void run_counted(struct lb_run *r, const char *what)
{
	int nr = libbpf_num_possible_cpus(), cpu, fd;
	__u64 *vals = calloc(nr, sizeof(*vals)), sums[2] = { 0, 0 };
	__u32 k;

	fd = bpf_map__fd(r->kp->maps.kp_stats);
	for (k = KOPT_KP_CALLS; k <= KOPT_KP_MIGRATE; k++) {
		memset(vals, 0, nr * sizeof(*vals));
		bpf_map_update_elem(fd, &k, vals, BPF_ANY);
	}
	ASSERT_EQ(kopt_test_run(NULL, 0, WORKLOAD), 0, what);
	for (k = KOPT_KP_CALLS; k <= KOPT_KP_MIGRATE; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (cpu = 0; cpu < nr; cpu++)
			sums[k - KOPT_KP_CALLS] += vals[cpu];
	}
	free(vals);
	r->calls = sums[0];
	r->migrate = sums[1];
	fprintf(stderr, "  %-14s can_migrate_task %llu calls, %llu migrate\n",
		what, (unsigned long long)r->calls,
		(unsigned long long)r->migrate);
}

static bool lb_open(struct kopt_lb **lb, enum kopt_lb_mode mode)
{
	struct kopt_lb_opts o = { .mode = mode };
	char err[512] = "";
	int ret = kopt_lb_open(lb, &o, err, sizeof(err));

	if (ret)
		fprintf(stderr, "  kopt_lb_open: %s\n", err);
	return ASSERT_EQ(ret, KOPT_EXIT_OK, "register the policy");
}

static void lb_stats(struct kopt_lb *lb, __u64 st[KOPT_LB_NR_STATS])
{
	int i;

	kopt_lb_read_stats(kopt_lb_stats_fd(lb), st);
	fprintf(stderr, "  policy:");
	for (i = 0; i < KOPT_LB_NR_STATS; i++)
		if (st[i])
			fprintf(stderr, " %s %llu", kopt_lb_stat_names[i],
				(unsigned long long)st[i]);
	fprintf(stderr, "\n");
}

static bool have_patch(void)
{
	struct kopt_lb_support s;

	kopt_lb_probe(&s);
	if (!s.struct_ops)
		SKIP("%s", s.why);
	return s.struct_ops;
}

/* ---- guest ---------------------------------------------------------------- */

/* hackbench in a possibly TCG guest: 10 min */
KOPT_TEST_TIMEOUT(vm_sched_lb_refuse_then_restore, 600)
{
	struct lb_run before = {}, refused = {}, after = {};
	__u64 st[KOPT_LB_NR_STATS];
	struct kopt_lb *lb = NULL;

	SKIP_UNLESS_IN_VM();
	if (!have_patch() || !probe_open(&before))
		goto out;
	refused.kp = after.kp = before.kp;
	run_counted(&before, "CFS");
	if (!lb_open(&lb, KOPT_LB_REFUSE))
		goto out;
	run_counted(&refused, "refuse policy");
	lb_stats(lb, st);
	kopt_lb_close(lb);
	run_counted(&after, "detached");

	ASSERT_GT(before.migrate, 0, "CFS migrates under hackbench");
	ASSERT_GT(st[KOPT_LB_STAT_CALLS], 0, "the policy was asked");
	/* every soft migration refused: none reach can_migrate_task's end */
	ASSERT_EQ(refused.migrate, 0, "migrations with the refuse policy");
	ASSERT_GT(st[KOPT_LB_STAT_OVERRIDES], 0, "CFS decisions overridden");
	ASSERT_GT(after.migrate, 0, "migrations return after detach");
out:
	kpatch_probe_bpf__destroy(before.kp);
}

/* A CPU hog pinned to CPU 0: the load balancer's favourite target. */
static pid_t spawn_pinned(int cpu)
{
	pid_t pid = fork();
	cpu_set_t set;

	if (pid)
		return pid;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		_exit(1);
	for (;;)
		__asm__ volatile("" ::: "memory");
}

/* se.nr_migrations of a task (CONFIG_SCHED_DEBUG's /proc/PID/sched). */
static long nr_migrations(pid_t pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/sched", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "se.nr_migrations : %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* hackbench in a possibly TCG guest: 10 min */
KOPT_TEST_TIMEOUT(vm_sched_lb_hard_vetoes_hold, 600)
{
	__u64 st[KOPT_LB_NR_STATS];
	struct kopt_lb *lb = NULL;
	long m0, m1, old_cost;
	pid_t hog[2];
	int i;

	SKIP_UNLESS_IN_VM();
	if (!have_patch())
		return;
	/* two pinned hogs on CPU 0: CPU 1 wants one, affinity forbids it */
	for (i = 0; i < 2; i++)
		hog[i] = spawn_pinned(0);
	usleep(200000);
	m0 = nr_migrations(hog[0]) + nr_migrations(hog[1]);
	/* CFS keeps hot tasks: accept overrides it, yet must not move these */
	old_cost = set_migration_cost(HOT_COST_NS);
	if (lb_open(&lb, KOPT_LB_ACCEPT)) {
		ASSERT_EQ(kopt_test_run(NULL, 0, WORKLOAD), 0, "hackbench");
		lb_stats(lb, st);
		ASSERT_GT(st[KOPT_LB_STAT_CALLS], 0, "the policy was asked");
		ASSERT_GT(st[KOPT_LB_STAT_OVERRIDES], 0, "CFS overridden");
		ASSERT_EQ(st[KOPT_LB_STAT_HARD_SEEN], 0,
			  "asked about a pinned or running task");
		kopt_lb_close(lb);
	}
	if (old_cost >= 0)
		set_migration_cost(old_cost);
	m1 = nr_migrations(hog[0]) + nr_migrations(hog[1]);
	for (i = 0; i < 2; i++) {
		kill(hog[i], SIGKILL);
		waitpid(hog[i], NULL, 0);
	}
	ASSERT_GE(m0, 0, "read /proc/PID/sched");
	ASSERT_EQ(m1, m0, "migrations of the pinned tasks");
}

/* hackbench in a possibly TCG guest: 10 min */
KOPT_TEST_TIMEOUT(vm_sched_lb_enforce_decides, 600)
{
	struct kopt_lb_opts o = { .mode = KOPT_LB_ENFORCE,
				  .use_threshold = true,
				  .threshold = KOPT_MLP_S32_MIN };
	struct kopt_mlp_active *active;
	static struct kopt_mlp m;
	__u64 st[KOPT_LB_NR_STATS], seq;
	struct kopt_lb *lb;
	char err[512];
	long old_cost;

	SKIP_UNLESS_IN_VM();
	if (!have_patch())
		return;
	if (!ASSERT_EQ(kopt_lb_open(&lb, &o, err, sizeof(err)), 0, err))
		return;
	/* a model exists (any logit >= INT32_MIN): "forced" every time */
	m.n_in = 1;
	m.out.n_in = 1;
	active = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE, MAP_SHARED,
		      kopt_lb_active_fd(lb), 0);
	if (ASSERT_TRUE(active != MAP_FAILED, "mmap mlp_active") &&
	    ASSERT_OK(kopt_mlp_swap(kopt_lb_weights_fd(lb), active, -1, &m,
				    &seq),
		      "load a model")) {
		/* CFS keeps hot tasks: those are what enforce moves early */
		old_cost = set_migration_cost(HOT_COST_NS);
		ASSERT_GE(old_cost, 0, "raise " MIGRATION_COST);
		ASSERT_EQ(kopt_test_run(NULL, 0, WORKLOAD), 0, "hackbench");
		if (old_cost >= 0)
			set_migration_cost(old_cost);
		lb_stats(lb, st);
		ASSERT_GT(st[KOPT_LB_STAT_EVALS], 0, "model evaluations");
		ASSERT_EQ(st[KOPT_LB_STAT_PREDICTED], st[KOPT_LB_STAT_EVALS],
			  "every evaluation predicts forced");
		/* CFS kept some cache-hot task: enforce moved it */
		ASSERT_GT(st[KOPT_LB_STAT_OVERRIDES], 0, "decisions changed");
		ASSERT_EQ(st[KOPT_LB_STAT_KFUNC],
			  kopt_lb_uses_kfunc(lb) ? st[KOPT_LB_STAT_EVALS] : 0,
			  "evaluator used");
	}
	if (active != MAP_FAILED)
		munmap(active, getpagesize());
	kopt_lb_close(lb);
}

/*
 * Generation k: hidden biases k*(j+1), all weights but the output's 0, so
 * the logit is k * (1 + ... + 16) = 136 k whatever the inputs; a model
 * mixing two generations gives anything else. Its crc32 field is k, and
 * since the private maps start at seq 0 and every swap adds 2, the
 * generation counter a reader used (seq >> 1) must be k too.
 */
static void swap_model(struct kopt_mlp *m, __u32 k)
{
	__u32 j;

	memset(m, 0, sizeof(*m));
	m->n_in = SWAP_INPUTS;
	m->n_hidden = 1;
	m->crc32 = k;
	m->hidden[0].n_in = SWAP_INPUTS;
	m->hidden[0].n_out = SWAP_HIDDEN;
	for (j = 0; j < SWAP_HIDDEN; j++) {
		m->hidden[0].bias[j] = (__s64)k * (j + 1);
		m->out.w[j] = 1;
	}
	m->out.n_in = SWAP_HIDDEN;
}

static __s32 swap_expected(__u32 k)
{
	return (__s32)(k * SWAP_HIDDEN * (SWAP_HIDDEN + 1) / 2);
}

struct swapper {
	struct kopt_lb *lb;
	struct kopt_mlp_active *active;
	volatile bool stop;
	__u32 written;
	int err;
};

static void *swap_thread(void *arg)
{
	struct swapper *sw = arg;
	static struct kopt_mlp m;
	__u64 seq;
	__u32 k;

	/* generation 1 was loaded before the load started */
	for (k = 2; k <= SWAP_MODELS && !sw->stop; k++) {
		swap_model(&m, k);
		sw->err = kopt_mlp_swap(kopt_lb_weights_fd(sw->lb), sw->active,
					-1, &m, &seq);
		if (sw->err)
			break;
		sw->written = k;
		usleep(5000);
	}
	return NULL;
}

struct sample_check {
	__u64 ok, torn, busy, other;
	__u32 gens_seen, last_crc;
};

static int on_sample(void *ctx, void *data, size_t len)
{
	const struct kopt_lb_sample *s = data;
	struct sample_check *c = ctx;

	if (len < sizeof(*s))
		return 0;
	if (s->status == KOPT_MLP_BUSY) {
		c->busy++;
	} else if (s->status != KOPT_MLP_OK) {
		c->other++;
	} else if (s->crc32 < 1 || s->crc32 > SWAP_MODELS ||
		   s->logit != swap_expected(s->crc32) ||
		   s->seq >> 1 != s->crc32) {
		c->torn++;
	} else {
		c->ok++;
		if (s->crc32 != c->last_crc)
			c->gens_seen++;
		c->last_crc = s->crc32;
	}
	return 0;
}

/* hackbench in a possibly TCG guest: 10 min */
KOPT_TEST_TIMEOUT(vm_sched_lb_hot_swap_under_load, 600)
{
	struct kopt_lb_opts o = { .mode = KOPT_LB_SHADOW, .sample = true };
	struct swapper sw = {};
	struct sample_check c = {};
	struct ring_buffer *rb = NULL;
	static struct kopt_mlp m;
	char err[512];
	pthread_t t;
	__u64 seq;
	pid_t load;

	SKIP_UNLESS_IN_VM();
	if (!have_patch())
		return;
	if (!ASSERT_EQ(kopt_lb_open(&sw.lb, &o, err, sizeof(err)), 0, err))
		return;
	sw.active = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE,
			 MAP_SHARED, kopt_lb_active_fd(sw.lb), 0);
	if (!ASSERT_TRUE(sw.active != MAP_FAILED, "mmap mlp_active"))
		goto out;
	swap_model(&m, 1);
	if (!ASSERT_OK(kopt_mlp_swap(kopt_lb_weights_fd(sw.lb), sw.active, -1,
				     &m, &seq),
		       "first model"))
		goto out;
	rb = ring_buffer__new(kopt_lb_samples_fd(sw.lb), on_sample, &c, NULL);
	if (!ASSERT_OK_PTR(rb, "lb_samples ring buffer"))
		goto out;
	load = fork();
	if (load == 0) {
		execl("/bin/sh", "sh", "-c",
		      "exec hackbench -g 4 -l 600 >/dev/null 2>&1",
		      (char *)NULL);
		_exit(127);
	}
	pthread_create(&t, NULL, swap_thread, &sw);
	while (waitpid(load, NULL, WNOHANG) == 0)
		ring_buffer__poll(rb, 50);
	sw.stop = true;
	pthread_join(t, NULL);
	ring_buffer__consume(rb);
	fprintf(stderr,
		"  %u models swapped in under hackbench; samples: %llu "
		"consistent over %u generation changes, %llu torn, %llu busy\n",
		sw.written, (unsigned long long)c.ok, c.gens_seen,
		(unsigned long long)c.torn, (unsigned long long)c.busy);
	ASSERT_OK(sw.err, "every swap succeeded");
	ASSERT_GT(sw.written, 10, "swaps during the load");
	ASSERT_GT(c.ok, 0, "evaluations sampled");
	ASSERT_GT(c.gens_seen, 1, "evaluations saw several generations");
	ASSERT_EQ(c.torn, 0, "torn models");
	ASSERT_EQ(c.other, 0, "evaluation errors");
out:
	ring_buffer__free(rb);
	if (sw.active != MAP_FAILED && sw.active)
		munmap(sw.active, getpagesize());
	kopt_lb_close(sw.lb);
}

static struct json_object *run_json(const char *cmd, int *rc)
{
	static char out[65536];
	char *brace;

	*rc = kopt_test_run(out, sizeof(out), "%s", cmd);
	brace = strchr(out, '{');
	if (!brace)
		fprintf(stderr, "%s\n", out);
	return brace ? json_tokener_parse(brace) : NULL;
}

static __u64 json_stat(struct json_object *o, const char *name)
{
	struct json_object *st, *v;

	if (!o || !json_object_object_get_ex(o, "stats", &st) ||
	    !json_object_object_get_ex(st, name, &v))
		return 0;
	return json_object_get_int64(v);
}

/* hackbench in a possibly TCG guest: 10 min */
KOPT_TEST_TIMEOUT(vm_sched_lb_cli_attach_detach, 600)
{
	struct kopt_lb_opts o = { .mode = KOPT_LB_SHADOW };
	char cmd[PATH_MAX + 64], out[4096], pin[PATH_MAX], err[512];
	struct json_object *j;
	struct kopt_lb *second = NULL;
	int rc;

	SKIP_UNLESS_IN_VM();
	if (!have_patch())
		return;
	snprintf(pin, sizeof(pin), "%s/%s", kopt_pin_dir(), KOPT_LB_PIN_LINK);
	rc = kopt_test_run(out, sizeof(out), "%s model attach --mode refuse",
			   kopt_test_bin());
	if (!ASSERT_EQ(rc, 0, "kopt model attach --mode refuse")) {
		fprintf(stderr, "%s\n", out);
		return;
	}
	ASSERT_OK(access(pin, F_OK), "link pinned");
	ASSERT_HAS(out, "registered", "says so");
	/* one policy at a time */
	rc = kopt_lb_open(&second, &o, err, sizeof(err));
	ASSERT_EQ(rc, KOPT_EXIT_BPF, "a second policy is refused");
	ASSERT_HAS(err, "another policy is registered", "says why");
	kopt_lb_close(second);
	ASSERT_EQ(kopt_test_run(NULL, 0, WORKLOAD), 0, "hackbench");
	rc = kopt_test_run(out, sizeof(out), "%s model attach --mode shadow",
			   kopt_test_bin());
	ASSERT_EQ(rc, 0, "attach again: reconfigure");
	ASSERT_HAS(out, "mode set to shadow", "mode changed in place");
	snprintf(cmd, sizeof(cmd), "%s model detach --json", kopt_test_bin());
	j = run_json(cmd, &rc);
	ASSERT_EQ(rc, 0, "kopt model detach");
	ASSERT_GT(json_stat(j, "calls"), 0, "the attached policy was called");
	ASSERT_GT(json_stat(j, "overrides"), 0, "refuse mode overrode CFS");
	json_object_put(j);
	ASSERT_NEQ(access(pin, F_OK), 0, "link unpinned");
	/* and CFS alone again: a new policy registers fine */
	rc = kopt_lb_open(&second, &o, err, sizeof(err));
	ASSERT_EQ(rc, KOPT_EXIT_OK, "register after detach");
	kopt_lb_close(second);
}

static __u64 json_u64(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, a, &v))
		return (__u64)-1;
	if (b && !json_object_object_get_ex(v, b, &v))
		return (__u64)-1;
	return json_object_get_int64(v);
}

static long csv_rows(const char *path)
{
	char line[4096];
	long n = -1; /* the header */
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (line[0] != '#')
			n++;
	fclose(f);
	return n;
}

/*
 * The live scoring: every in-kernel evaluation of a model in shadow mode
 * is recomputed in userspace from the features it read, with the same
 * logit, so the in-kernel accuracy and the userspace accuracy on the same
 * records are equal, count for count; the dataset has one row each.
 *
 * Time limit: a workload in a possibly TCG guest: 10 min.
 */
KOPT_TEST_TIMEOUT(vm_model_live_shadow_scores, 600)
{
	char cmd[3 * PATH_MAX], model[PATH_MAX], csv[PATH_MAX];
	static const char *const keys[] = { "tp", "fp", "tn", "fn" };
	struct json_object *j, *score;
	__u64 n, sum = 0;
	long old_cost;
	int rc, i;

	SKIP_UNLESS_IN_VM();
	if (!have_patch() || !live_model(model, sizeof(model)))
		return;
	snprintf(csv, sizeof(csv), "%s/live.csv", kopt_test_tmpdir());
	snprintf(cmd, sizeof(cmd),
		 "%s model live -m %s --mode shadow -o %s --json -- sh -c "
		 "'%s'",
		 kopt_test_bin(), model, csv, WORKLOAD);
	old_cost = set_migration_cost(HOT_COST_NS);
	j = run_json(cmd, &rc);
	if (old_cost >= 0)
		set_migration_cost(old_cost);
	if (!ASSERT_EQ(rc, 0, "kopt model live") || !ASSERT_OK_PTR(j, "JSON"))
		goto out;
	n = json_u64(j, "evaluations", NULL);
	ASSERT_GT(n, 0, "evaluations sampled");
	ASSERT_EQ(json_u64(j, "logit_mismatches", NULL), 0,
		  "kernel and userspace logits");
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(json_u64(j, "kernel", keys[i]),
			  json_u64(j, "userspace", keys[i]), keys[i]);
		sum += json_u64(j, "kernel", keys[i]);
	}
	ASSERT_EQ(sum, n, "every evaluation scored");
	ASSERT_EQ(json_u64(j, "stats", "overrides"), 0,
		  "shadow changed no decision");
	ASSERT_EQ(csv_rows(csv), (long)n, "one dataset row per evaluation");
	/* kopt model score recounts the same records from the file */
	snprintf(cmd, sizeof(cmd), "%s model score %s %s --json",
		 kopt_test_bin(), model, csv);
	score = run_json(cmd, &rc);
	if (ASSERT_EQ(rc, 0, "kopt model score") &&
	    ASSERT_OK_PTR(score, "score JSON"))
		for (i = 0; i < 4; i++)
			ASSERT_EQ(json_u64(score, "fixed", keys[i]),
				  json_u64(j, "kernel", keys[i]), keys[i]);
	json_object_put(score);
	fprintf(stderr, "  %llu evaluations; in-kernel accuracy %llu/%llu\n",
		(unsigned long long)n,
		(unsigned long long)(json_u64(j, "kernel", "tp") +
				     json_u64(j, "kernel", "tn")),
		(unsigned long long)n);
out:
	json_object_put(j);
}

/*
 * A workload is a process group: stopping it at the end of --duration
 * stops what its shell started in the background too (a leftover used to
 * hold the output pipe open and hang whoever read it).
 */
KOPT_TEST(sched_lb_live_stops_whole_workload)
{
	char out[4096];
	double t0 = kopt_now_s();
	int rc;

	rc = kopt_test_run(out, sizeof(out),
			   "%s model live --mode off --duration 0.5 -- sh -c "
			   "'sleep 317.5 & sleep 317.5; wait'",
			   kopt_test_bin());
	ASSERT_EQ(rc, 0, "kopt model live --mode off --duration 0.5");
	ASSERT_HAS(out, "stopped at the end", "says it stopped the workload");
	ASSERT_LT(kopt_now_s() - t0, 10.0, "returned (pipe closed)");
	ASSERT_NEQ(kopt_test_run(NULL, 0, "pgrep -f 'slee[p] 317.5'"), 0,
		   "no process of the workload left");
	/* and the leader exiting first leaves no background job either */
	rc = kopt_test_run(out, sizeof(out),
			   "%s model live --mode off -- sh -c "
			   "'sleep 318.5 & exit 0'",
			   kopt_test_bin());
	ASSERT_EQ(rc, 0, "leader exits at once");
	ASSERT_NEQ(kopt_test_run(NULL, 0, "pgrep -f 'slee[p] 318.5'"), 0,
		   "its background job stopped");
}
