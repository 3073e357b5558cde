// SPDX-License-Identifier: GPL-2.0-only
/*
 * The soak (issue #20): the energy control loop and the live model's hot
 * swap, together, for KOPT_SOAK_SECONDS (default 120; `make soak
 * SOAK_SECONDS=3600` for the hour), everything built with ASan/UBSan.
 *
 * - The loop: `kopt run` (sanitized) on a host plant in two private
 *   network namespaces (a veth pair, memcached, software coalescing),
 *   behind selftests/soak_plant.sh, which makes a window hang, die or lie
 *   at random (KOPT_SOAK_FAULT_PCT percent each, default 2). 1 s windows.
 * - The swap: this process swaps one of four models into pinned model
 *   maps (a private bpffs) every KOPT_SOAK_SWAP_MS (default 300: 12k an
 *   hour) with kopt_mlp_swap(), the writer `kopt model load` uses (map
 *   update of the standby slot, then the flip). Two readers check every
 *   read against the generation it came from: generation g holds model
 *   (g - g0) mod 4, so a torn or stale slot shows as a wrong answer. The
 *   BPF evaluator (mlp_eval by BPF_PROG_TEST_RUN on the pinned maps) must
 *   return that model's logit on an input where all four differ, and a
 *   userspace copy (kopt_mlp_live_read) must have that model's checksum.
 * - RSS of kopt run and of this process, sampled 60 times: first, last,
 *   and the slope of a least-squares line over the second half.
 *
 * Passes if: no sanitizer report from kopt run or its plants (leaks are
 * checked at their exit; this process's at the test's), no torn read, no
 * failed swap, kopt run's RSS grew less than 10% (and 8 MiB) over the
 * second half, kopt run exits 0 after SIGINT, and the knob, the journal
 * and the link read back as before it started. ASan's quarantine (freed
 * memory it holds back to catch a use after free) is 1 MiB for kopt run,
 * not 256: full at once, it levels off instead of looking like growth for
 * the first hours.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "kopt.h"
#include "mlp.h"
#include "model.h"
#include "model_util.h"
#include "test.h"

#define SOAK_MODELS 4
#define SOAK_SAMPLES 60
#define SOAK_GRO_ORIG 12000 /* ns: not the default, so a reset shows */

struct soak {
	/* the models and what each answers */
	struct kopt_mlp *m[SOAK_MODELS];
	__s32 logit[SOAK_MODELS];
	__u64 sum[SOAK_MODELS];
	struct kopt_mlp_pkt pkt;
	struct kopt_mlp_live lv;
	__u64 gen0;
	int swap_ms, read_us;
	volatile bool stop;
	/* the writer */
	long swaps, swap_errors;
	/* the readers */
	long reads, busy, torn, user_reads, user_busy, user_torn;
	char torn_what[256];
};

static __u64 fnv1a(const void *p, size_t n)
{
	const unsigned char *b = p;
	__u64 h = 1469598103934665603ULL;

	while (n--)
		h = (h ^ *b++) * 1099511628211ULL;
	return h;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void *swapper(void *arg)
{
	struct soak *s = arg;
	__u64 seq;

	while (!s->stop) {
		sleep_ms(s->swap_ms);
		if (kopt_mlp_swap(s->lv.weights_fd, s->lv.active, s->lv.lock_fd,
				  s->m[(s->swaps + 1) % SOAK_MODELS], &seq)) {
			s->swap_errors++;
			continue;
		}
		s->swaps++;
	}
	return NULL;
}

static int model_of(const struct soak *s, __u64 seq)
{
	return (int)(((seq >> 1) - s->gen0) % SOAK_MODELS);
}

/* The BPF reader, and every 64th read a userspace one. */
static void *reader(void *arg)
{
	struct soak *s = arg;
	struct kopt_mlp *m = malloc(sizeof(*m));
	char err[256] = "";
	struct kopt_mlp_pkt pkt;
	struct kopt_mlp_tr t = {};
	__u64 seq;
	int k;

	if (!m || kopt_mlp_tr_open(&t, KOPT_TR_XDP, getenv("KOPT_PIN_DIR"), err,
				   sizeof(err))) {
		snprintf(s->torn_what, sizeof(s->torn_what),
			 "reader cannot start: %.200s", err);
		s->torn++;
		free(m);
		return NULL;
	}
	while (!s->stop) {
		pkt = s->pkt;
		if (kopt_mlp_tr_one(&t, &pkt)) {
			s->torn++;
			snprintf(s->torn_what, sizeof(s->torn_what),
				 "BPF_PROG_TEST_RUN failed");
			break;
		}
		s->reads++;
		if (pkt.status == KOPT_MLP_BUSY) {
			s->busy++;
		} else {
			k = model_of(s, pkt.seq);
			if (pkt.status != KOPT_MLP_OK ||
			    pkt.logit != s->logit[k]) {
				s->torn++;
				snprintf(
					s->torn_what, sizeof(s->torn_what),
					"BPF read of seq %llu: status %d logit "
					"%d, model %d's is %d",
					(unsigned long long)pkt.seq, pkt.status,
					pkt.logit, k, s->logit[k]);
			}
		}
		if (s->reads % 64 == 0) {
			int err2 = kopt_mlp_live_read(&s->lv, m, &seq);

			s->user_reads++;
			if (err2 == -EBUSY) {
				s->user_busy++;
			} else if (err2 || fnv1a(m, sizeof(*m)) !=
						   s->sum[model_of(s, seq)]) {
				s->user_torn++;
				snprintf(s->torn_what, sizeof(s->torn_what),
					 "userspace read of seq %llu: %s",
					 (unsigned long long)seq,
					 err2 ? strerror(-err2) :
						"checksum of another model");
			}
		}
		usleep(s->read_us); /* a steady reader, not a spinning one */
	}
	kopt_mlp_tr_close(&t);
	free(m);
	return NULL;
}

/* VmRSS of pid in KiB, or -1. */
static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Least-squares slope of y over x[from..n), per unit of x. */
static double slope(const double *x, const long *y, int from, int n)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0;
	int k = n - from;

	if (k < 2)
		return 0;
	for (int i = from; i < n; i++) {
		sx += x[i];
		sy += y[i];
		sxx += x[i] * x[i];
		sxy += x[i] * y[i];
	}
	return (k * sxy - sx * sy) / (k * sxx - sx * sx);
}

/* Four models that all answer differently on s->pkt.in. */
static bool soak_models(struct soak *s)
{
	struct kopt_model *km;
	int i, j, k, tries;

	for (i = 0; i < SOAK_MODELS; i++) {
		s->m[i] = calloc(1, sizeof(*s->m[i]));
		km = test_random_model("7-16-1", 300 + i, 1);
		if (!s->m[i] || !km) {
			free(km);
			return false;
		}
		kopt_model_to_mlp(km, s->m[i]);
		free(km);
		s->sum[i] = fnv1a(s->m[i], sizeof(*s->m[i]));
	}
	for (tries = 0; tries < 5000; tries++) {
		bool differ = true;

		for (j = 0; j < 7; j++)
			s->pkt.in[j] =
				(tries * 7919 + j * 104729) % 20001 - 10000;
		for (i = 0; i < SOAK_MODELS; i++)
			kopt_mlp_eval_user(s->m[i], s->pkt.in, &s->logit[i]);
		for (i = 0; i < SOAK_MODELS; i++)
			for (k = i + 1; k < SOAK_MODELS; k++)
				differ &= s->logit[i] != s->logit[k] &&
					  s->sum[i] != s->sum[k];
		if (differ)
			return true;
	}
	return false;
}

/*
 * The reader's check can fail: a broken writer that rewrites the active
 * slot in place (no flip) must make the next BPF read disagree with the
 * generation it reports.
 */
static void check_the_checker(struct soak *s)
{
	char err[256] = "";
	struct kopt_mlp_pkt pkt = s->pkt;
	struct kopt_mlp_tr t = {};
	__u64 seq = s->lv.active->seq;
	__u32 slot = kopt_mlp_seq_slot(seq);
	int k = model_of(s, seq);

	if (!ASSERT_OK(kopt_mlp_tr_open(&t, KOPT_TR_XDP, getenv("KOPT_PIN_DIR"),
					err, sizeof(err)),
		       err))
		return;
	ASSERT_OK(bpf_map_update_elem(s->lv.weights_fd, &slot,
				      s->m[(k + 1) % SOAK_MODELS], BPF_ANY),
		  "a write into the active slot");
	if (ASSERT_OK(kopt_mlp_tr_one(&t, &pkt), "read after it"))
		ASSERT_NEQ(pkt.logit, s->logit[model_of(s, pkt.seq)],
			   "the reader's check sees a torn slot");
	kopt_mlp_tr_close(&t);
}

static long env_long(const char *name, long def, long lo, long hi)
{
	const char *v = getenv(name);
	long x;

	if (!v || !*v)
		return def;
	if (kopt_parse_long(v, lo, hi, &x)) {
		__KOPT_FAIL("%s=%s: expected %ld..%ld", name, v, lo, hi);
		return def;
	}
	return x;
}

static long gro_now(const char *ns)
{
	char out[64];

	if (kopt_test_run(out, sizeof(out),
			  "ip netns exec %s cat "
			  "/sys/class/net/ksk0/gro_flush_timeout",
			  ns))
		return -1;
	return strtol(out, NULL, 10);
}

static char soak_out[1 << 16];

/* The test's timeout is scaled by `make soak` for longer durations. */
KOPT_TEST_TIMEOUT(soak_loop_and_swaps, 300)
{
	long seconds = env_long("KOPT_SOAK_SECONDS", 120, 10, 86400);
	long pct = env_long("KOPT_SOAK_FAULT_PCT", 2, 0, 33);
	char a[32], b[32], tmp[1024], bpffs[1100], path[1200];
	char pol[1100], plant_log[1100], run_err[1100];
	char warn[KOPT_WARN_LEN] = "", err[256] = "", plant[8192];
	char here[1100], stopped_how[64] = "";
	double t[SOAK_SAMPLES + 2], t0, next, half;
	long rss_run[SOAK_SAMPLES + 2], rss_self[SOAK_SAMPLES + 2];
	long injected[3] = { 0 }, windows = 0, failed = 0, grow, itrs = 0;
	long leftovers = 0;
	int port, n = 0, st = -1, i;
	struct soak *s = calloc(1, sizeof(*s));
	pthread_t wt, rt;
	bool threads = false, mounted = false;
	char *real = realpath(kopt_test_builddir(), NULL);
	pid_t run = -1;
	FILE *f;

	if (!s)
		return;
	s->swap_ms = env_long("KOPT_SOAK_SWAP_MS", 300, 1, 1000);
	s->read_us = env_long("KOPT_SOAK_READ_US", 200, 0, 1000000);
	if (geteuid() || !kopt_have_bpf_caps()) {
		SKIP("needs root (namespaces, sysfs, BPF, mounts)");
		goto out_free;
	}
	if (kopt_test_run(NULL, 0, "command -v memcached")) {
		SKIP("memcached not installed");
		goto out_free;
	}
	snprintf(here, sizeof(here), "%.1000s/..", real ? real : "build");
	snprintf(a, sizeof(a), "ksk-a-%d", getpid());
	snprintf(b, sizeof(b), "ksk-b-%d", getpid());
	snprintf(tmp, sizeof(tmp), "%.900s/soak-%d", kopt_test_tmpdir(),
		 getpid());
	port = 30000 + getpid() % 20000;
	if (mkdir(tmp, 0700) ||
	    kopt_test_run(
		    NULL, 0,
		    "set -e; ip netns add %s; ip netns add %s; "
		    "ip link add ksk0 netns %s type veth peer name ksk1 netns %s; "
		    "ip -n %s addr add 10.79.9.1/24 dev ksk0; "
		    "ip -n %s addr add 10.79.9.2/24 dev ksk1; "
		    "ip -n %s link set ksk0 up; ip -n %s link set ksk1 up; "
		    "ip -n %s link set lo up; ip -n %s link set lo up; "
		    "ip netns exec %s sh -c 'echo %d > "
		    "/sys/class/net/ksk0/gro_flush_timeout'; "
		    "ip netns exec %s memcached -u nobody -l 10.79.9.2 -p %d -d; "
		    "for i in $(seq 100); do ip netns exec %s bash -c "
		    "'exec 3<>/dev/tcp/10.79.9.2/%d' 2>/dev/null && break; "
		    "sleep 0.05; done",
		    a, b, a, b, a, b, a, b, a, b, a, SOAK_GRO_ORIG, b, port, a,
		    port)) {
		SKIP("cannot build the two-namespace testbed");
		goto out_ns;
	}

	/* the live model: pinned maps in a private bpffs */
	snprintf(bpffs, sizeof(bpffs), "%s/bpffs", tmp);
	if (!ASSERT_OK(mkdir(bpffs, 0700), "mkdir bpffs") ||
	    !ASSERT_OK(mount("bpf", bpffs, "bpf", 0, "mode=0700"),
		       "mount a private bpffs"))
		goto out_ns;
	mounted = true;
	snprintf(path, sizeof(path), "%s/kopt", bpffs);
	setenv("KOPT_PIN_DIR", path, 1);
	snprintf(path, sizeof(path), "%s/model-state", tmp);
	setenv("KOPT_STATE_DIR", path, 1);
	if (!ASSERT_TRUE(soak_models(s), "four models that answer apart") ||
	    !ASSERT_OK(kopt_mlp_live_open(&s->lv, true, false, warn, err,
					  sizeof(err)),
		       err))
		goto out_ns;
	if (!ASSERT_OK(kopt_mlp_swap(s->lv.weights_fd, s->lv.active,
				     s->lv.lock_fd, s->m[0], &s->gen0),
		       "load model 0"))
		goto out_lv;
	s->gen0 >>= 1;

	/* the loop */
	snprintf(pol, sizeof(pol), "%s/soak.conf", tmp);
	snprintf(plant_log, sizeof(plant_log), "%s/injected", tmp);
	snprintf(run_err, sizeof(run_err), "%s/run.stderr", tmp);
	f = fopen(pol, "w");
	if (!ASSERT_OK_PTR(f, "policy"))
		goto out_lv;
	fprintf(f,
		"[policy]\nname = soak\nobjective = energy\n"
		"baseline = none\n"
		"[sla]\nkind = latency\npercentile = p99\nbound_us = 100000\n"
		"[itr]\nmin_us = 10\nmax_us = 400\nstep_us = 10\n"
		"[freq]\nlist_mhz = none\n[window]\nseconds = 1\n"
		"[optimizer]\ntrials = 8\ninit_trials = 3\n"
		"[trigger]\nschedule_s = 30\n"
		"[plant]\ntimeout_s = 3\nmax_failures = 6\n");
	fclose(f);
	f = fopen(plant_log, "w");
	if (!ASSERT_OK_PTR(f, "injection log"))
		goto out_lv;
	fclose(f);
	snprintf(plant, sizeof(plant),
		 "bash %s/selftests/soak_plant.sh %s %s ksk0 10.79.9.2:%d 400 "
		 "%s %d %ld",
		 here, kopt_test_bin(), pol, port, plant_log, getpid(), pct);
	run = fork();
	if (run == 0) {
		char dur[32], logp[1100], sd[1100];
		int fd = open(run_err, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		snprintf(dur, sizeof(dur), "%ld", seconds * 10 + 600);
		snprintf(logp, sizeof(logp), "%s/run.csv", tmp);
		snprintf(sd, sizeof(sd), "%s/run-state", tmp);
		setenv("KOPT_STATE_DIR", sd, 1);
		setenv("ASAN_OPTIONS", "detect_leaks=1:quarantine_size_mb=1",
		       1);
		unsetenv("KOPT_PIN_DIR");
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("ip", "ip", "netns", "exec", a, kopt_test_bin(), "run",
		       "--policy", pol, "--plant", plant, "--duration", dur,
		       "--log", logp, (char *)NULL);
		_exit(127);
	}
	if (!ASSERT_GT(run, 0, "fork kopt run"))
		goto out_lv;

	if (!ASSERT_OK(pthread_create(&wt, NULL, swapper, s), "swapper"))
		goto out_run;
	if (pthread_create(&rt, NULL, reader, s)) {
		s->stop = true;
		pthread_join(wt, NULL);
		ASSERT_TRUE(false, "reader thread");
		goto out_run;
	}
	threads = true;
	printf("  soak: %ld s, a swap every %d ms, faults %ld%% each per "
	       "window, kopt run pid %d\n",
	       seconds, s->swap_ms, pct, run);
	fflush(stdout);

	t0 = now_s();
	next = t0;
	while (now_s() - t0 < seconds) {
		if (waitpid(run, &st, WNOHANG) == run) {
			run = -1;
			__KOPT_FAIL("kopt run ended early, status 0x%x", st);
			break;
		}
		if (now_s() >= next && n < SOAK_SAMPLES + 1) {
			t[n] = now_s() - t0;
			rss_run[n] = rss_kib(run);
			rss_self[n] = rss_kib(getpid());
			n++;
			next = t0 + (double)seconds * n / SOAK_SAMPLES;
		}
		if (s->torn || s->user_torn)
			break;
		sleep_ms(100);
	}
	s->stop = true;
	pthread_join(wt, NULL);
	pthread_join(rt, NULL);
	threads = false;
	check_the_checker(s);

out_run:
	if (run > 0) {
		kill(run, SIGINT);
		for (i = 0; i < 300 && waitpid(run, &st, WNOHANG) != run; i++)
			sleep_ms(100);
		if (i == 300) {
			kill(run, SIGKILL);
			waitpid(run, &st, 0);
			snprintf(stopped_how, sizeof(stopped_how),
				 "did not stop in 30 s after SIGINT");
		}
		ASSERT_TRUE(stopped_how[0] == '\0', stopped_how);
		ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			    "kopt run exits 0 after SIGINT");
	}
	if (threads) {
		s->stop = true;
		pthread_join(wt, NULL);
		pthread_join(rt, NULL);
	}

	/* what the loop did and left */
	kopt_test_run(soak_out, sizeof(soak_out),
		      "grep -c '^hang' %s; grep -c '^die' %s; grep -c '^lie' "
		      "%s; grep -c '^[0-9]' %s/run.csv; "
		      "grep -c 'failed: plant' %s; "
		      "grep '^[0-9]' %s/run.csv | cut -d, -f5 | sort -u | "
		      "grep -c .; grep -c 'left journaled changes' %s",
		      plant_log, plant_log, plant_log, tmp, run_err, tmp,
		      run_err);
	sscanf(soak_out, "%ld %ld %ld %ld %ld %ld %ld", &injected[0],
	       &injected[1], &injected[2], &windows, &failed, &itrs,
	       &leftovers);
	printf("  soak: %ld windows logged (%ld ITR settings), %ld failed; "
	       "injected %ld hangs, %ld deaths, %ld lies; %ld times a dead "
	       "plant's journaled knob restored by kopt run\n",
	       windows, itrs, failed, injected[0], injected[1], injected[2],
	       leftovers);
	printf("  soak: %ld swaps (%ld failed); BPF reads %ld (busy %ld, "
	       "torn %ld); userspace reads %ld (busy %ld, torn %ld)\n",
	       s->swaps, s->swap_errors, s->reads, s->busy, s->torn,
	       s->user_reads, s->user_busy, s->user_torn);
	if (s->torn_what[0])
		printf("  soak: first bad read: %s\n", s->torn_what);
	if (n >= 2) {
		half = n / 2;
		printf("  soak: RSS kopt run %ld -> %ld KiB (second half "
		       "%+.1f KiB/min), this process %ld -> %ld KiB "
		       "(%+.1f KiB/min), %d samples\n",
		       rss_run[0], rss_run[n - 1],
		       60 * slope(t, rss_run, (int)half, n), rss_self[0],
		       rss_self[n - 1], 60 * slope(t, rss_self, (int)half, n),
		       n);
		printf("  soak: RSS samples (s kopt-run-KiB self-KiB):");
		for (i = 0; i < n; i += (n + 9) / 10)
			printf(" %.0f %ld %ld,", t[i], rss_run[i], rss_self[i]);
		printf(" %.0f %ld %ld\n", t[n - 1], rss_run[n - 1],
		       rss_self[n - 1]);
		grow = rss_run[n - 1] - rss_run[(int)half];
		ASSERT_LT(grow, 8192,
			  "kopt run's RSS growth over the second "
			  "half, KiB");
		ASSERT_LT(grow * 10, rss_run[(int)half],
			  "kopt run's RSS grew less than 10% in the second "
			  "half");
	}
	ASSERT_EQ(s->torn, 0, s->torn_what);
	ASSERT_EQ(s->user_torn, 0, s->torn_what);
	ASSERT_EQ(s->swap_errors, 0, "failed swaps");
	ASSERT_GE(s->swaps, seconds * 1000 / s->swap_ms * 8 / 10,
		  "swaps made (80% of the schedule at least)");
	ASSERT_GT(s->reads - s->busy, 0, "BPF reads");
	ASSERT_GT(windows, seconds / 4, "windows the loop ran");
	ASSERT_GE(itrs, 2, "the loop moved the knob");
	if (pct > 0 && seconds >= 60)
		ASSERT_GT(injected[0] + injected[1] + injected[2], 0,
			  "failures injected");
	kopt_test_run(soak_out, sizeof(soak_out),
		      "grep -E 'Sanitizer|runtime error' %s | head -5",
		      run_err);
	ASSERT_TRUE(soak_out[0] == '\0', soak_out);
	ASSERT_EQ(gro_now(a), SOAK_GRO_ORIG, "the knob as before");
	ASSERT_NEQ(kopt_test_run(NULL, 0, "test -e %s/run-state/state.json",
				 tmp),
		   0, "no journal left");
	ASSERT_NEQ(kopt_test_run(NULL, 0,
				 "ip -n %s link show ksk0 | grep -q xdp", a),
		   0, "no XDP on the link");
	/* the run's summary (and its complaints, if it failed) */
	kopt_test_run(soak_out, sizeof(soak_out), "tail -25 %s", run_err);
	printf("%s", soak_out);
out_lv:
	kopt_mlp_live_close(&s->lv);
	ASSERT_OK(kopt_mlp_unload(warn, sizeof(warn), err, sizeof(err)), err);
	ASSERT_NEQ(kopt_test_run(NULL, 0,
				 "ls -A %s/kopt 2>/dev/null | grep -q .",
				 bpffs),
		   0, "no pins left");
out_ns:
	if (mounted) {
		umount2(bpffs, MNT_DETACH);
		rmdir(bpffs);
	}
	kopt_test_run(NULL, 0,
		      "ip netns pids %s | xargs -r kill -9; ip netns pids %s | "
		      "xargs -r kill -9; ip netns del %s; ip netns del %s",
		      a, b, a, b);
out_free:
	for (i = 0; i < SOAK_MODELS; i++)
		free(s->m[i]);
	free(s);
	free(real);
}
