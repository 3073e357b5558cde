// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of kopt loadgen (loader/lib/host/loadgen.c) against a real memcached on
 * 127.0.0.1 at a free port, and of the external latency feed
 * (loader/lib/host/latency_src.c).
 *
 * Each test starts its own memcached and kills it before returning; the
 * child also has PR_SET_PDEATHSIG so a crashed runner cannot leave one
 * behind. Rate checks compare the achieved rate with the target (2%, the
 * issue's figure); percentile checks recompute the percentiles from the
 * --raw dump of every sample and allow the histogram's declared error.
 * Latency values themselves are never asserted (they depend on the host).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "latency_src.h"
#include "loadgen.h"
#include "test.h"

#define RATE_TOL 0.02 /* the issue: achieved within 2% of the target */

struct mc {
	pid_t pid;
	int port;
};

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A port nothing listens on right now (the kernel picks it). */
static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd < 0)
		return -1;
	if (!bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &len))
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static bool port_open(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return ok;
}

static void mc_exec(int port, pid_t parent)
{
	char p[16];
	int null = open("/dev/null", O_RDWR);

	/* killed with the runner, even if it crashes */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	if (null >= 0) {
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
	snprintf(p, sizeof(p), "%d", port);
	execlp("memcached", "memcached", "-u", "nobody", "-l", "127.0.0.1",
	       "-p", p, "-t", "2", (char *)NULL);
	_exit(127);
}

static void mc_stop(struct mc *m)
{
	if (m->pid <= 0)
		return;
	kill(m->pid, SIGKILL);
	waitpid(m->pid, NULL, 0);
	m->pid = 0;
}

/* Starts memcached on a free port; false after SKIP or FAIL. */
static bool mc_start(struct mc *m)
{
	int tries, i, st;

	m->pid = 0;
	if (kopt_test_run(NULL, 0, "command -v memcached >/dev/null")) {
		SKIP("memcached is not installed (make deps installs it)");
		return false;
	}
	for (tries = 0; tries < 3; tries++) {
		m->port = free_port();
		m->pid = fork();
		if (m->pid == 0)
			mc_exec(m->port, getppid());
		if (!ASSERT_GT(m->pid, 0, "fork memcached"))
			return false;
		for (i = 0; i < 200; i++) {
			if (port_open(m->port))
				return true;
			if (waitpid(m->pid, &st, WNOHANG) == m->pid)
				break; /* the port was taken meanwhile */
			sleep_ms(10);
		}
		mc_stop(m);
	}
	__KOPT_FAIL("memcached did not come up on 127.0.0.1 (3 tries)");
	return false;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return NULL;
	n = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(buf);
		return strdup("");
	}
	return buf;
}

/*
 * Runs `kopt loadgen ARGS`, stdout and stderr to files; returns the exit
 * status, *out the parsed JSON (if asked and valid), err the stderr text,
 * which is also shown when the status is not the expected one.
 */
static int run_loadgen(struct json_object **out, char *err, size_t errlen,
		       int expect, const char *args)
{
	char opath[512], epath[512], *text;
	int st;

	snprintf(opath, sizeof(opath), "%s/lg.out", kopt_test_tmpdir());
	snprintf(epath, sizeof(epath), "%s/lg.err", kopt_test_tmpdir());
	/* braces: kopt_test_run() appends 2>&1, which must not win here */
	st = kopt_test_run(NULL, 0, "{ %s loadgen %s >%s 2>%s; }",
			   kopt_test_bin(), args, opath, epath);
	text = slurp(epath);
	if (err)
		snprintf(err, errlen, "%s", text ? text : "");
	if (st != expect)
		fprintf(stderr, "kopt loadgen %s: exit %d: %s", args, st,
			text ? text : "");
	free(text);
	if (out) {
		text = slurp(opath);
		*out = text ? json_tokener_parse(text) : NULL;
		/* indented like every other command's --json */
		if (text && *text == '{')
			ASSERT_TRUE(!strncmp(text, "{\n  \"", 5),
				    "loadgen --json is indented");
		free(text);
	}
	return st;
}

static double jget(struct json_object *j, const char *path)
{
	char buf[128], *key, *save = NULL;
	struct json_object *v = j;

	snprintf(buf, sizeof(buf), "%s", path);
	for (key = strtok_r(buf, ".", &save); key && v;
	     key = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(v, key, &v))
			v = NULL;
	if (!v) {
		__KOPT_FAIL("JSON has no '%s'", path);
		return NAN;
	}
	return json_object_get_double(v);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Column col (0: intended_ns, 1: latency_ns) of a --raw file, sorted. */
static uint64_t *read_raw(const char *path, int col, size_t *n)
{
	unsigned long long t, lat;
	uint64_t *v = NULL;
	size_t cap = 0;
	char line[128];
	FILE *f = fopen(path, "re");

	*n = 0;
	if (!f || !fgets(line, sizeof(line), f) ||
	    strcmp(line, "intended_ns,latency_ns,op\n")) {
		__KOPT_FAIL("%s: missing or without the CSV header", path);
		if (f)
			fclose(f);
		return NULL;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llu,%llu,", &t, &lat) != 2)
			continue;
		if (*n == cap) {
			uint64_t *nv;

			cap = cap ? 2 * cap : 4096;
			nv = realloc(v, cap * sizeof(*v));
			if (!ASSERT_OK_PTR(nv, "realloc"))
				break;
			v = nv;
		}
		v[(*n)++] = col ? lat : t;
	}
	fclose(f);
	if (v)
		qsort(v, *n, sizeof(*v), cmp_u64);
	return v;
}

static void check_percentiles(struct json_object *j, const char *raw)
{
	static const struct {
		const char *key;
		double p;
	} ps[] = { { "latency_us.p50", 50 },
		   { "latency_us.p90", 90 },
		   { "latency_us.p99", 99 },
		   { "latency_us.p99_9", 99.9 },
		   { "latency_us.max", 100 } };
	double rel = jget(j, "latency_us.rel_error");
	size_t n, i, rank;
	uint64_t *lat = read_raw(raw, 1, &n);

	if (!lat)
		return;
	ASSERT_EQ(n, (long long)jget(j, "completed"),
		  "one raw sample per completed request");
	for (i = 0; n && i < sizeof(ps) / sizeof(ps[0]); i++) {
		rank = (size_t)ceil(ps[i].p / 100.0 * n);
		rank = rank < 1 ? 1 : rank;
		/* JSON gives microseconds with 3 decimals: whole ns */
		ASSERT_NEAR(jget(j, ps[i].key) * 1e3, (double)lat[rank - 1],
			    rel * (double)lat[rank - 1] + 0.5, ps[i].key);
	}
	free(lat);
}

static void rate_run(int rate, const char *extra)
{
	struct json_object *j = NULL;
	char args[1024], raw[512];
	struct mc m;
	double achieved;

	if (!mc_start(&m))
		return;
	snprintf(raw, sizeof(raw), "%s/raw-%d.csv", kopt_test_tmpdir(), rate);
	snprintf(args, sizeof(args),
		 "--server 127.0.0.1:%d --rate %d --duration 3 --warmup 0.5 "
		 "--json --raw %s %s",
		 m.port, rate, raw, extra);
	if (ASSERT_EQ(run_loadgen(&j, NULL, 0, 0, args), 0, "exit") &&
	    ASSERT_OK_PTR(j, "JSON output")) {
		achieved = jget(j, "achieved_qps");
		ASSERT_NEAR(achieved, rate, RATE_TOL * rate, "achieved rate");
		/* every key was preloaded: every get hits */
		ASSERT_NEAR(jget(j, "hit_ratio"), 1, 0, "hit ratio");
		ASSERT_EQ(jget(j, "errors"), 0, "errors");
		ASSERT_EQ(jget(j, "sent"), 3 * rate, "exact scheduled count");
		check_percentiles(j, raw);
		printf("  loadgen at %d req/s: achieved %.1f (%+.3f%%), p99 "
		       "%.1f us, cpu %.1f%% of a core (ASan build)\n",
		       rate, achieved, 100 * (achieved - rate) / rate,
		       jget(j, "latency_us.p99"),
		       jget(j, "cpu.percent_of_one_core"));
	}
	json_object_put(j);
	mc_stop(&m);
}

KOPT_TEST(loadgen_rate_2000)
{
	rate_run(2000, "");
}

KOPT_TEST(loadgen_rate_10000)
{
	rate_run(10000, "--threads 2 --connections 8");
}

/* The schedule is a function of the seed: same intended times twice. */
KOPT_TEST(loadgen_schedule_seeded_poisson)
{
	uint64_t *a = NULL, *b = NULL;
	char args[1024], raw[2][512];
	size_t na = 0, nb = 0, i;
	double mean = 0, var = 0, cv;
	struct mc m;
	int r;

	if (!mc_start(&m))
		return;
	for (r = 0; r < 2; r++) {
		snprintf(raw[r], sizeof(raw[r]), "%s/seed-%d.csv",
			 kopt_test_tmpdir(), r);
		snprintf(args, sizeof(args),
			 "--server 127.0.0.1:%d --rate 4000 --duration 0.5 "
			 "--warmup 0 --seed 7 --raw %s",
			 m.port, raw[r]);
		if (!ASSERT_EQ(run_loadgen(NULL, NULL, 0, 0, args), 0, "exit"))
			goto out;
	}
	a = read_raw(raw[0], 0, &na);
	b = read_raw(raw[1], 0, &nb);
	if (!a || !b || !ASSERT_EQ(na, 2000, "rate x duration arrivals") ||
	    !ASSERT_EQ(nb, na, "same count"))
		goto out;
	ASSERT_TRUE(!memcmp(a, b, na * sizeof(*a)), "same intended times");
	/* exponential gaps: coefficient of variation near 1 (2000 gaps) */
	for (i = 1; i < na; i++)
		mean += (double)(a[i] - a[i - 1]) / (na - 1);
	for (i = 1; i < na; i++)
		var += pow((double)(a[i] - a[i - 1]) - mean, 2) / (na - 2);
	cv = sqrt(var) / mean;
	ASSERT_NEAR(cv, 1.0, 0.15, "inter-arrival CV (Poisson: 1)");
out:
	free(a);
	free(b);
	mc_stop(&m);
}

KOPT_TEST(loadgen_usage_errors)
{
	static const struct {
		const char *args, *needle;
	} bad[] = {
		{ "--duration 1", "kopt loadgen: --rate QPS is required\n" },
		{ "--rate 0", "--rate" },
		{ "--rate abc", "--rate" },
		{ "--rate 100 --duration -1", "--duration" },
		{ "--rate 100 --connections 0",
		  "--connections '0': expected an integer in 1..4096\n" },
		{ "--rate 100 --connections 4 --threads 8", "--threads" },
		{ "--rate 100 --get-ratio 1.5", "--get-ratio" },
		{ "--rate 100 --key-space 0", "--key-space" },
		{ "--rate 100 --value-size 0", "--value-size" },
		{ "--rate 100 --timeout 0", "--timeout" },
		{ "--rate 100 --seed -3", "--seed" },
		{ "--rate 100 --server nocolon", "--server" },
		{ "--rate 100 --bogus",
		  "kopt loadgen: unknown option '--bogus'\n"
		  "Try 'kopt loadgen --help'.\n" },
		{ "--rate 100 extra", "unexpected argument 'extra'" },
	};
	char err[4096], what[128];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(what, sizeof(what), "'%s' exit", bad[i].args);
		ASSERT_EQ(run_loadgen(NULL, err, sizeof(err), 2, bad[i].args),
			  2, what);
		ASSERT_HAS(err, bad[i].needle, bad[i].args);
	}
	ASSERT_EQ(run_loadgen(NULL, err, sizeof(err), 0, "--help"), 0,
		  "--help");
}

KOPT_TEST(loadgen_unreachable)
{
	char err[4096], args[256], addr[64];
	int port = free_port();

	if (!ASSERT_GT(port, 0, "free port"))
		return;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	snprintf(args, sizeof(args), "--server %s --rate 100 --duration 1",
		 addr);
	ASSERT_EQ(run_loadgen(NULL, err, sizeof(err), 1, args), 1, "exit");
	ASSERT_HAS(err, addr, "names the address");
	ASSERT_HAS(err, "ECONNREFUSED", "names the errno");
}

/* A server that accepts but never answers: timeouts, then reconnects. */
KOPT_TEST(loadgen_timeouts)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct json_object *j = NULL;
	socklen_t len = sizeof(sa);
	char err[4096], args[256];

	/* the kernel completes handshakes into the backlog: no accept() */
	if (!ASSERT_GE(fd, 0, "socket") ||
	    !ASSERT_OK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), "bind") ||
	    !ASSERT_OK(listen(fd, 128), "listen") ||
	    !ASSERT_OK(getsockname(fd, (struct sockaddr *)&sa, &len), "name"))
		goto out;
	snprintf(args, sizeof(args),
		 "--server 127.0.0.1:%d --rate 200 --duration 0.6 --warmup 0 "
		 "--connections 2 --timeout 100 --no-preload --json",
		 ntohs(sa.sin_port));
	ASSERT_EQ(run_loadgen(&j, err, sizeof(err), 1, args), 1, "exit");
	ASSERT_HAS(err, "none of", "says nothing was answered");
	ASSERT_HAS(err, "timeout", "names the cause");
	if (ASSERT_OK_PTR(j, "JSON still printed")) {
		ASSERT_GT(jget(j, "timeouts"), 0, "timeouts counted");
		ASSERT_EQ(jget(j, "completed"), 0, "nothing completed");
	}
out:
	json_object_put(j);
	if (fd >= 0)
		close(fd);
}

/* A value above memcached's item size limit: the server's reply shows. */
KOPT_TEST(loadgen_server_error_reply)
{
	char err[4096], args[256];
	struct mc m;

	if (!mc_start(&m))
		return;
	snprintf(args, sizeof(args),
		 "--server 127.0.0.1:%d --rate 100 --duration 1 "
		 "--key-space 2 --value-size 2000000",
		 m.port);
	ASSERT_EQ(run_loadgen(NULL, err, sizeof(err), 1, args), 1, "exit");
	ASSERT_HAS(err, "SERVER_ERROR", "quotes the server's reply");
	ASSERT_HAS(err, "preload", "names the step");
	mc_stop(&m);
}

/* SIGINT mid-run: stops, still prints the measurement, exit 0. */
KOPT_TEST(loadgen_sigint_prints)
{
	char out[512], *text = NULL;
	struct json_object *j = NULL;
	struct mc m;
	pid_t pid;
	int st = -1, fd;

	if (!mc_start(&m))
		return;
	snprintf(out, sizeof(out), "%s/sigint.json", kopt_test_tmpdir());
	pid = fork();
	if (pid == 0) {
		char port[32];

		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, STDOUT_FILENO);
		snprintf(port, sizeof(port), "127.0.0.1:%d", m.port);
		execl(kopt_test_bin(), "kopt", "loadgen", "--server", port,
		      "--rate", "1000", "--duration", "0", "--warmup", "0.2",
		      "--json", (char *)NULL);
		_exit(127);
	}
	if (!ASSERT_GT(pid, 0, "fork"))
		goto out;
	sleep_ms(1200);
	kill(pid, SIGINT);
	waitpid(pid, &st, 0);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "clean exit");
	text = slurp(out);
	j = text ? json_tokener_parse(text) : NULL;
	if (ASSERT_OK_PTR(j, "JSON printed after SIGINT")) {
		ASSERT_GT(jget(j, "completed"), 0, "measured something");
		ASSERT_TRUE(jget(j, "measured_s") > 0, "measured time");
		ASSERT_TRUE(json_object_get_boolean(
				    json_object_object_get(j, "interrupted")),
			    "marked interrupted");
	}
out:
	json_object_put(j);
	free(text);
	mc_stop(&m);
}

/* The control loop's API: windows without stopping, then the rest. */
KOPT_TEST(loadgen_api_windows)
{
	struct loadgen_stats w1, w2, last;
	struct loadgen_opts o;
	struct loadgen *lg;
	char server[64];
	uint64_t sent, done;
	struct mc m;

	if (!mc_start(&m))
		return;
	snprintf(server, sizeof(server), "127.0.0.1:%d", m.port);
	loadgen_opts_default(&o);
	o.server = server;
	o.rate = 2000;
	o.duration_s = 0;
	o.warmup_s = 0.1;
	o.connections = 4;
	if (!ASSERT_OK(loadgen_start(&o, &lg), "start"))
		goto out;
	sleep_ms(600);
	loadgen_window(lg, &w1);
	sleep_ms(500);
	loadgen_window(lg, &w2);
	ASSERT_OK(loadgen_stop(lg, &last), "stop");
	ASSERT_GT(w1.completed, 0, "window 1 completed");
	ASSERT_GT(w2.completed, 0, "window 2 completed");
	/* the ASSERT_GT/LE macros compare as integers: doubles go here */
	ASSERT_TRUE(w1.elapsed_s > 0, "window 1 elapsed");
	ASSERT_TRUE(w2.p99_us > 0, "window 2 p99");
	ASSERT_TRUE(w2.p50_us <= w2.p99_us, "p50 <= p99");
	ASSERT_EQ(w1.errors + w2.errors + last.errors, 0, "errors");
	ASSERT_NEAR(w2.target_qps, 2000, 0, "target");
	/* windows partition the run: every sent request is counted once */
	sent = w1.sent + w2.sent + last.sent;
	done = w1.completed + w2.completed + last.completed;
	ASSERT_LE(sent - done, 1, "answered (one may be cut by the stop)");
	o.rate = 0;
	ASSERT_EQ(loadgen_start(&o, &lg), -EINVAL, "rate 0 refused");
out:
	mc_stop(&m);
}

/* ---- the external feed ---------------------------------------------------- */

static int feed_cmd(const char *cmd, struct latency_reading *r, char *err,
		    size_t errlen, double timeout_s)
{
	struct latency_src src = {};
	char spec[512];
	int ret;

	snprintf(spec, sizeof(spec), "cmd:%s", cmd);
	ret = latency_src_init(&src, spec, err, errlen);
	if (ret)
		return ret;
	src.timeout_s = timeout_s;
	ret = latency_src_read(&src, r, err, errlen);
	latency_src_free(&src);
	return ret;
}

KOPT_TEST(loadgen_feed_cmd)
{
	struct latency_reading r = {};
	char err[LATENCY_SRC_ERR_LEN], marker[512];

	if (!ASSERT_OK(feed_cmd("printf "
				"{\"p99_us\":412.5,\"p50_us\":88,\"qps\":20000}",
				&r, err, sizeof(err), 5),
		       err))
		return;
	ASSERT_NEAR(r.p99_us, 412.5, 0, "p99");
	ASSERT_NEAR(r.p50_us, 88, 0, "p50");
	ASSERT_NEAR(r.qps, 20000, 0, "qps");
	ASSERT_OK(feed_cmd("  echo\t{\"p50_us\":1,\"p99_us\":2}  ", &r, err,
			   sizeof(err), 5),
		  err);
	ASSERT_TRUE(r.qps < 0, "qps absent");
	ASSERT_EQ(feed_cmd("false", &r, err, sizeof(err), 5), -EIO, "false");
	ASSERT_HAS(err, "status 1", "names the status");
	ASSERT_EQ(feed_cmd("kopt-no-such-program-x", &r, err, sizeof(err), 5),
		  -EIO, "missing program");
	ASSERT_HAS(err, "status 127", "exec failed");
	ASSERT_EQ(feed_cmd("sleep 5", &r, err, sizeof(err), 0.2), -ETIMEDOUT,
		  "slow command");
	ASSERT_HAS(err, "killed", "says it was killed");
	ASSERT_EQ(feed_cmd("printf {\"p99_us\":1}\\n{\"p50_us\":1}", &r, err,
			   sizeof(err), 5),
		  -EINVAL, "two lines");
	/* an argv, never a shell: ';', '$(...)' and '>' are plain words */
	snprintf(marker, sizeof(marker), "%s/feed-shell-ran",
		 kopt_test_tmpdir());
	{
		char cmd[2048];

		snprintf(cmd, sizeof(cmd),
			 "echo {\"p99_us\":2,\"p50_us\":1};touch %s "
			 "$(touch %s) >%s",
			 marker, marker, marker);
		ASSERT_EQ(feed_cmd(cmd, &r, err, sizeof(err), 5), -EINVAL,
			  "the words reach echo, whose line is not JSON");
	}
	ASSERT_EQ(access(marker, F_OK), -1, "no shell ran the string");
	ASSERT_EQ(feed_cmd("   ", &r, err, sizeof(err), 5), -EINVAL, "blank");
	ASSERT_HAS(err, "no program", "says what is missing");
}

KOPT_TEST(loadgen_feed_strict_lines)
{
	static const struct {
		const char *line, *needle;
	} bad[] = {
		{ "", "empty" },
		{ "not json", "JSON" },
		{ "{\"p99_us\": 400", "incomplete" },
		{ "{\"p99_us\": 400, \"p50_us\": 90} x", "not one JSON" },
		{ "[400, 90]", "object" },
		{ "{\"p99_us\": 400}", "p50_us" },
		{ "{\"p50_us\": 90}", "p99_us" },
		{ "{\"p99\": 400, \"p50_us\": 90}", "unknown key" },
		{ "{\"p99_us\": \"400\", \"p50_us\": 90}", "string" },
		{ "{\"p99_us\": true, \"p50_us\": 90}", "boolean" },
		{ "{\"p99_us\": -1, \"p50_us\": 0}", ">= 0" },
		{ "{\"p99_us\": 40, \"p50_us\": 90}", "median" },
		{ "{\"p99_us\": 400, \"p50_us\": 90, \"qps\": null}", "null" },
		{ "{\"p99_us\": 1}\n{\"p50_us\": 1}", "more than one line" },
	};
	char err[LATENCY_SRC_ERR_LEN];
	struct latency_reading r = {};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(latency_parse_line(bad[i].line, &r, err, sizeof(err)),
			  -EINVAL, bad[i].line);
		ASSERT_HAS(err, bad[i].needle, bad[i].line);
	}
	ASSERT_OK(latency_parse_line("  {\"p99_us\": 1e3, \"p50_us\": 5}\r\n",
				     &r, err, sizeof(err)),
		  err);
	ASSERT_NEAR(r.p99_us, 1000, 0, "exponent form");
}

KOPT_TEST(loadgen_feed_file)
{
	char path[512], spec[600], err[LATENCY_SRC_ERR_LEN];
	struct timespec old[2] = { { .tv_sec = 1000 }, { .tv_sec = 1000 } };
	struct latency_reading r = {};
	struct latency_src src = {};
	FILE *f;

	snprintf(path, sizeof(path), "%s/feed.json", kopt_test_tmpdir());
	snprintf(spec, sizeof(spec), "file:%s", path);
	if (!ASSERT_OK(latency_src_init(&src, spec, err, sizeof(err)), err))
		return;
	src.max_age_s = 60;
	ASSERT_EQ(latency_src_read(&src, &r, err, sizeof(err)), -ENOENT,
		  "missing file");
	ASSERT_HAS(err, path, "names the file");
	f = fopen(path, "w");
	if (!ASSERT_OK_PTR(f, "create feed file"))
		goto out;
	fprintf(f, "{\"p99_us\": 250, \"p50_us\": 60, \"qps\": 5000}\n");
	fclose(f);
	if (ASSERT_OK(latency_src_read(&src, &r, err, sizeof(err)), err))
		ASSERT_NEAR(r.p99_us, 250, 0, "p99 from file");
	utimensat(AT_FDCWD, path, old, 0);
	ASSERT_EQ(latency_src_read(&src, &r, err, sizeof(err)), -ESTALE,
		  "stale file");
	ASSERT_HAS(err, "stopped updating", "says it is stale");
out:
	latency_src_free(&src);
	ASSERT_EQ(latency_src_init(&src, "http://x", err, sizeof(err)), -EINVAL,
		  "bad spec");
	ASSERT_HAS(err, "cmd:COMMAND or file:PATH", "says what is expected");
}
