// SPDX-License-Identifier: GPL-2.0-only
/*
 * koptd, the loader daemon, as a user and systemd meet it: the sanitized
 * build/test/koptd started with a configuration in a private temporary
 * directory (--state-dir there, never /run/kopt), driven with the
 * sanitized kopt client and signals.
 *
 *  - the energy controller on the sim plant answers `kopt status`;
 *  - a real Prometheus (Debian's package, loopback, free ports, a
 *    temporary TSDB, 1 s scrapes) scrapes it and its HTTP API returns
 *    kopt_ series; `promtool check metrics` is clean;
 *  - SIGHUP (and kopt reload) with a broken file keeps the running one;
 *  - on the host plant (software coalescing of a veth in two private
 *    network namespaces, memcached and kopt's load generator): SIGTERM
 *    restores every journaled knob; SIGKILL of koptd and its plant, then
 *    a new koptd, restores them; kopt advise restores and then changes
 *    nothing (journal absent, knobs read back equal);
 *  - two koptd started at the same instant, 20 times: one runs, the
 *    other exits 3 naming the first's pid;
 *  - a peer of another uid is refused (by the socket's mode, and by
 *    SO_PEERCRED when the mode is loosened);
 *  - koptd under the unit's own capability set (capsh), and
 *    `systemd-analyze verify` of the unit.
 *
 * Waits poll for the state they need with a deadline; none sleeps and
 * hopes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "test.h"

struct kd {
	char dir[256]; /* this test's own folder */
	char state[300], sock[512], conf[300], log[300], policy[300];
	char bin[512]; /* build/test/koptd */
	char ns_a[48], ns_b[48]; /* the host testbed, if any */
	int port; /* memcached's */
	pid_t pid;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void poll_pause(void)
{
	usleep(50 * 1000);
}

static bool kd_init(struct kd *k, const char *name)
{
	static int seq;
	char tmp[512];

	memset(k, 0, sizeof(*k));
	snprintf(k->dir, sizeof(k->dir), "%s/koptd-%s-%d-%d",
		 kopt_test_tmpdir(), name, getpid(), seq++);
	if (!ASSERT_OK(mkdir(k->dir, 0700), "test folder"))
		return false;
	snprintf(k->state, sizeof(k->state), "%s/state", k->dir);
	snprintf(k->sock, sizeof(k->sock), "%s/koptd.sock", k->dir);
	snprintf(k->conf, sizeof(k->conf), "%s/koptd.conf", k->dir);
	snprintf(k->log, sizeof(k->log), "%s/koptd.log", k->dir);
	snprintf(k->policy, sizeof(k->policy), "%s/policy.conf", k->dir);
	snprintf(tmp, sizeof(tmp), "%s", kopt_test_bin());
	snprintf(k->bin, sizeof(k->bin), "%s/koptd", dirname(tmp));
	if (access(k->bin, X_OK)) {
		SKIP("%s not built", k->bin);
		return false;
	}
	return true;
}

static bool write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return ASSERT_OK_PTR(f, path);
	fputs(text, f);
	fclose(f);
	return true;
}

/* The sim policy with short windows (a lab plant runs at wall-clock pace). */
static bool sim_policy(struct kd *k)
{
	char pol[PATH_MAX];

	snprintf(pol, sizeof(pol), "%s", k->policy);
	return kopt_test_run(NULL, 0,
			     "sed -e 's/^seconds = 10 .*/seconds = 0.2/' -e "
			     "\"s|^sim_params = .*|sim_params = $(pwd)/"
			     "policies/sim-memcached.params|\" "
			     "policies/memcached-sla500.conf > %s",
			     pol) == 0;
}

static bool sim_conf(struct kd *k, const char *metrics, const char *extra)
{
	char text[2048];

	if (!sim_policy(k))
		return false;
	snprintf(text, sizeof(text),
		 "[koptd]\nsocket = %s\nmetrics = %s\n"
		 "[energy]\npolicy = policy.conf\nplant = sim\nmode = enforce\n"
		 "%s",
		 k->sock, metrics, extra ? extra : "");
	return write_file(k->conf, text);
}

/* Starts koptd (in netns if set) with the test's config and state dir. */
static pid_t kd_spawn(struct kd *k, const char *netns, const char *wrapper,
		      int barrier, int barrier_w)
{
	pid_t pid = fork();
	char cmd[2048];
	int fd;

	if (pid)
		return pid;
	fd = open(k->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	if (barrier >= 0) {
		char b;

		close(barrier_w);
		/* both children leave here at once: the write end closes */
		while (read(barrier, &b, 1) < 0 && errno == EINTR)
			;
	}
	if (wrapper) {
		snprintf(cmd, sizeof(cmd), "exec %s -c %s --state-dir %s",
			 k->bin, k->conf, k->state);
		execlp("capsh", "capsh", wrapper, "--", "-c", cmd, NULL);
	} else if (netns) {
		execlp("ip", "ip", "netns", "exec", netns, k->bin, "-c",
		       k->conf, "--state-dir", k->state, NULL);
	} else {
		execl(k->bin, k->bin, "-c", k->conf, "--state-dir", k->state,
		      NULL);
	}
	_exit(127);
}

/* waitpid with a deadline; the exit code, -1 on a timeout or signal */
static int kd_wait(pid_t pid, double secs)
{
	double end = now_s() + secs;
	int st;

	while (now_s() < end) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) :
					       128 + WTERMSIG(st);
		poll_pause();
	}
	return -1;
}

static struct json_object *kd_status(struct kd *k)
{
	static char out[1 << 16];

	if (kopt_test_run(out, sizeof(out), "%s status --json --socket %s",
			  kopt_test_bin(), k->sock))
		return NULL;
	return kopt_test_json(out);
}

/* koptd answers status within secs */
static bool kd_ready(struct kd *k, double secs)
{
	double end = now_s() + secs;
	struct json_object *o;
	int st;

	while (now_s() < end) {
		if (waitpid(k->pid, &st, WNOHANG) == k->pid) {
			k->pid = 0;
			kopt_test_run(NULL, 0, "cat %s >&2", k->log);
			return false;
		}
		o = kd_status(k);
		if (o) {
			json_object_put(o);
			return true;
		}
		poll_pause();
	}
	return false;
}

static bool kd_start(struct kd *k, const char *netns)
{
	k->pid = kd_spawn(k, netns, NULL, -1, -1);
	if (!ASSERT_GT(k->pid, 0, "fork koptd"))
		return false;
	return ASSERT_TRUE(kd_ready(k, 30), "koptd answers kopt status");
}

static int kd_stop(struct kd *k)
{
	int ret;

	if (k->pid <= 0)
		return -1;
	kill(k->pid, SIGTERM);
	ret = kd_wait(k->pid, 60);
	if (ret < 0) {
		kill(k->pid, SIGKILL);
		kd_wait(k->pid, 5);
	}
	k->pid = 0;
	return ret;
}

/* "a.b.c" in o, NULL if absent */
static struct json_object *jpath(struct json_object *o, const char *path)
{
	char buf[256], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); o && tok;
	     tok = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(o, tok, &o))
			return NULL;
	return o;
}

static const char *jps(struct json_object *o, const char *path)
{
	struct json_object *v = jpath(o, path);

	return v ? json_object_get_string(v) : "";
}

static double jpd(struct json_object *o, const char *path)
{
	struct json_object *v = jpath(o, path);

	return v ? json_object_get_double(v) : -1;
}

/* status until the energy job has measured n windows, within secs */
static struct json_object *kd_windows(struct kd *k, int n, double secs)
{
	double end = now_s() + secs;
	struct json_object *o;

	while (now_s() < end) {
		o = kd_status(k);
		if (o && jpd(o, "jobs.energy.windows") >= n)
			return o;
		json_object_put(o);
		poll_pause();
	}
	return NULL;
}

/* ---- configuration ---------------------------------------------------------- */

KOPT_TEST(koptd_config_errors)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "[koptd]\nsocket = relative.sock\n",
		  "koptd.conf:2: [koptd] socket: 'relative.sock': an absolute "
		  "path is required" },
		{ "[koptd]\nmetrics = 10.0.0.1\n", "[koptd] metrics" },
		{ "[koptd]\nmetrics = 127.0.0.1:70000\n", "not in 1..65535" },
		{ "[koptd]\nbogus = 1\n",
		  "koptd.conf:2: [koptd] bogus: unknown key" },
		{ "[energy]\nplant = moon\n",
		  "koptd.conf:2: [energy] plant: 'moon': expected host, sim or "
		  "replay" },
		{ "[energy]\nplant = sim\n", "missing key 'policy'" },
		{ "[energy]\npolicy = nothere.conf\nplant = sim\n",
		  "nothere.conf: cannot open" },
		{ "[energy]\npolicy = policy.conf\nplant = sim\nmode = maybe\n",
		  "koptd.conf:4: [energy] mode: 'maybe': expected enforce or "
		  "advise" },
		{ "[energy]\npolicy = policy.conf\npolicy = policy.conf\n",
		  "koptd.conf:3: [energy] policy: given twice" },
		{ "[migration]\nmode = shadow\n", "missing key 'model'" },
		{ "[migration]\nmodel = policy.conf\n", "[migration] model:" },
		{ "[other]\nx = 1\n",
		  "koptd.conf:2: [other]: unknown section" },
		{ "no section line\n", "koptd.conf:1: syntax error" },
	};
	static char out[8192];
	struct kd k;

	if (!kd_init(&k, "conf") || !sim_policy(&k))
		return;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!write_file(k.conf, bad[i].text))
			return;
		/* --check: 1; a start: 2; both name file, line, key, reason */
		ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s -c %s --check",
					k.bin, k.conf),
			  1, bad[i].text);
		ASSERT_HAS(out, bad[i].want, bad[i].text);
		ASSERT_EQ(kopt_test_run(out, sizeof(out),
					"%s -c %s --state-dir %s", k.bin,
					k.conf, k.state),
			  2, bad[i].text);
		ASSERT_HAS(out, bad[i].want, bad[i].text);
		/* nothing applied: not even the state folder */
		ASSERT_NEQ(access(k.state, F_OK), 0, "no state folder made");
	}
	if (!sim_conf(&k, "off", NULL))
		return;
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s -c %s --check", k.bin,
				k.conf),
		  0, "a valid file");
	ASSERT_HAS(out, "plant = sim", "effective configuration printed");
	ASSERT_HAS(out, "metrics = off", "effective configuration printed");
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s --frobnicate", k.bin), 2,
		  "usage error");
}

/* ---- the sim plant ------------------------------------------------------------ */

/* A private bpffs for the migration job's pins (test_model.c's way). */
static bool private_pins(struct kd *k, char *mnt, size_t len)
{
	char path[600];

	snprintf(mnt, len, "%s/bpffs", k->dir);
	if (mkdir(mnt, 0700) || mount("bpf", mnt, "bpf", 0, "mode=0700"))
		return false;
	snprintf(path, sizeof(path), "%s/kopt", mnt);
	setenv("KOPT_PIN_DIR", path, 1);
	return true;
}

KOPT_TEST(koptd_sim_status)
{
	static char out[1 << 16];
	char extra[1024], mnt[512] = "";
	struct json_object *o;
	const char *mstate;
	struct kd k;

	if (!kd_init(&k, "sim"))
		return;
	if (geteuid()) {
		SKIP("needs root (the migration job loads BPF)");
		return;
	}
	if (!private_pins(&k, mnt, sizeof(mnt))) {
		SKIP("cannot mount a private bpffs: %s", strerror(errno));
		return;
	}
	if (!ASSERT_EQ(kopt_test_run(NULL, 0,
				     "%s model gen --shape 7-16-1 -o %s/m.kmlp",
				     kopt_test_bin(), k.dir),
		       0, "model gen"))
		goto out;
	snprintf(extra, sizeof(extra),
		 "[migration]\nmodel = m.kmlp\nmode = shadow\n");
	if (!sim_conf(&k, "off", extra) || !kd_start(&k, NULL))
		goto out;
	o = kd_windows(&k, 5, 30);
	if (ASSERT_OK_PTR(o, "five windows within 30 s")) {
		ASSERT_STREQ(jps(o, "jobs.energy.state"), "running", "energy");
		ASSERT_STREQ(jps(o, "jobs.energy.source"), "sim",
			     "figures labelled simulated");
		ASSERT_TRUE(jpath(o, "jobs.energy.held.why") != NULL,
			    "held setting with why");
		ASSERT_TRUE(jpath(o, "jobs.energy.phase") != NULL, "phase");
		ASSERT_TRUE(jpath(o, "jobs.energy.sla") != NULL, "SLA");
		ASSERT_TRUE(jpath(o, "ringbuf_lost") != NULL, "losses");
		ASSERT_EQ(jpd(o, "koptd.pid"), k.pid, "koptd's pid");
		mstate = jps(o, "jobs.migration.state");
		if (!strcmp(mstate, "running")) {
			ASSERT_GE(jpd(o, "jobs.migration.model_generation"), 1,
				  "model generation");
			/* a second model through kopt model load */
			ASSERT_EQ(kopt_test_run(out, sizeof(out),
						"%s model gen --shape 7-8-1 "
						"--seed 2 -o %s/m2.kmlp && "
						"%s model load --socket %s "
						"%s/m2.kmlp",
						kopt_test_bin(), k.dir,
						kopt_test_bin(), k.sock, k.dir),
				  0, "kopt model load through koptd");
			ASSERT_HAS(out, "through koptd", "went through koptd");
		} else {
			/* the kernel refused: said why, and koptd runs on */
			ASSERT_STREQ(mstate, "not running", "migration state");
			ASSERT_GT(strlen(jps(o, "jobs.migration.why")), 10,
				  "why the migration job is not running");
			printf("koptd_sim_status: migration job not running "
			       "here: %s\n",
			       jps(o, "jobs.migration.why"));
		}
		json_object_put(o);
	}
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s status --socket %s",
				kopt_test_bin(), k.sock),
		  0, "kopt status");
	ASSERT_HAS(out, "energy     running", "the table's energy line");
	ASSERT_HAS(out, "(source: sim, simulated)", "energy with its label");
	ASSERT_EQ(kd_stop(&k), 0, "SIGTERM: clean exit");
	ASSERT_EQ(kopt_test_run(NULL, 0, "test -e %s", k.sock), 1,
		  "socket removed");
	if (mnt[0])
		ASSERT_EQ(kopt_test_run(NULL, 0, "test -e %s/kopt", mnt), 1,
			  "the pins koptd created are gone");
out:
	kd_stop(&k);
	if (mnt[0]) {
		umount2(mnt, MNT_DETACH);
		unsetenv("KOPT_PIN_DIR");
	}
}

/* kopt pause|resume|restore over the socket, on the sim plant */
KOPT_TEST(koptd_pause_resume_restore)
{
	static char out[8192];
	struct json_object *o;
	double w1, w2;
	struct kd k;

	if (!kd_init(&k, "pause") || !sim_conf(&k, "off", NULL) ||
	    !kd_start(&k, NULL))
		goto out;
	o = kd_windows(&k, 3, 30);
	json_object_put(o);
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s pause energy --socket %s",
				kopt_test_bin(), k.sock),
		  0, "kopt pause energy");
	/* paused: after the window in flight, no window for a second (5 due) */
	o = NULL;
	for (double end = now_s() + 10; now_s() < end;) {
		o = kd_status(&k);
		if (o && !strcmp(jps(o, "jobs.energy.state"), "paused"))
			break;
		json_object_put(o);
		o = NULL;
		poll_pause();
	}
	if (!ASSERT_OK_PTR(o, "the job reports paused"))
		goto out;
	w1 = jpd(o, "jobs.energy.windows");
	json_object_put(o);
	usleep(1000 * 1000);
	o = kd_status(&k);
	w2 = jpd(o, "jobs.energy.windows");
	json_object_put(o);
	ASSERT_EQ(w2, w1, "no window while paused");
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"%s resume energy --socket %s", kopt_test_bin(),
				k.sock),
		  0, "kopt resume energy");
	o = kd_windows(&k, (int)w1 + 3, 10);
	ASSERT_OK_PTR(o, "windows again after resume");
	json_object_put(o);
	/* a job name the protocol does not know, and one not configured */
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s pause moon --socket %s",
				kopt_test_bin(), k.sock),
		  2, "unknown job: usage error");
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"%s pause migration --socket %s",
				kopt_test_bin(), k.sock),
		  1, "migration is not configured");
	ASSERT_HAS(out, "not configured", "said so");
	/* restore through koptd: the job stops, and resume starts it again */
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s restore --socket %s",
				kopt_test_bin(), k.sock),
		  0, "kopt restore through koptd");
	ASSERT_HAS(out, "through koptd", "went through koptd");
	o = kd_status(&k);
	ASSERT_STREQ(jps(o, "jobs.energy.state"), "stopped", "stopped");
	ASSERT_HAS(jps(o, "jobs.energy.why"), "kopt restore", "and why");
	json_object_put(o);
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"%s resume energy --socket %s", kopt_test_bin(),
				k.sock),
		  0, "kopt resume energy after restore");
	o = kd_status(&k);
	ASSERT_STREQ(jps(o, "jobs.energy.state"), "running", "running again");
	json_object_put(o);
	/* a malformed request is answered, not fatal */
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"printf 'garbage\\n{\"cmd\":7}\\n' | "
				"python3 -c 'import socket,sys; "
				"s=socket.socket(socket.AF_UNIX); "
				"s.connect(sys.argv[1]); "
				"s.sendall(sys.stdin.buffer.read()); "
				"s.shutdown(socket.SHUT_WR); "
				"print(s.makefile().read())' %s",
				k.sock),
		  0, "raw requests");
	ASSERT_HAS(out, "not a JSON object", "garbage refused");
	ASSERT_HAS(out, "is missing or not a string", "bad cmd");
	ASSERT_EQ(kd_stop(&k), 0, "clean stop");
out:
	kd_stop(&k);
}

/* A loopback TCP port nobody listens on now. */
static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	if (!bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

KOPT_TEST_TIMEOUT(koptd_prometheus, 180)
{
	static char out[1 << 16];
	char metrics[64], prom_yml[400], tsdb[400];
	int mport = free_port(), pport = free_port();
	struct json_object *o;
	pid_t prom = 0;
	double end;
	bool found = false;
	struct kd k;

	if (!kd_init(&k, "prom"))
		return;
	if (kopt_test_run(NULL, 0,
			  "command -v prometheus && command -v "
			  "promtool && command -v curl")) {
		SKIP("prometheus, promtool or curl not installed (make deps)");
		return;
	}
	if (!ASSERT_GT(mport, 0, "free port") || !ASSERT_GT(pport, 0, "port"))
		return;
	snprintf(metrics, sizeof(metrics), "127.0.0.1:%d", mport);
	if (!sim_conf(&k, metrics, NULL) || !kd_start(&k, NULL))
		goto out;
	o = kd_windows(&k, 3, 30);
	ASSERT_OK_PTR(o, "three windows");
	json_object_put(o);
	/* the exposition itself: promtool's linter */
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"curl -sf http://%s/metrics > %s/m.txt && "
				"promtool check metrics < %s/m.txt",
				metrics, k.dir, k.dir),
		  0, "promtool check metrics is clean");
	ASSERT_EQ(kopt_test_run(
			  NULL, 0,
			  "grep -q '^kopt_energy_joules_total{source=\"sim\"}' "
			  "%s/m.txt && grep -q '^kopt_up 1' %s/m.txt",
			  k.dir, k.dir),
		  0, "energy and up series");
	ASSERT_EQ(kopt_test_run(NULL, 0,
				"curl -s -o /dev/null -w '%%{http_code}' "
				"http://%s/other | grep -qx 404",
				metrics),
		  0, "only /metrics is served");
	/* a real Prometheus server scraping it every second */
	snprintf(prom_yml, sizeof(prom_yml), "%s/prometheus.yml", k.dir);
	snprintf(tsdb, sizeof(tsdb), "%s/tsdb", k.dir);
	snprintf(out, sizeof(out),
		 "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
		 "scrape_configs:\n  - job_name: koptd\n    static_configs:\n"
		 "      - targets: ['%s']\n",
		 metrics);
	if (!write_file(prom_yml, out))
		goto out;
	prom = fork();
	if (!prom) {
		char listen[64], cfg[420], db[420];

		snprintf(listen, sizeof(listen),
			 "--web.listen-address=127.0.0.1:%d", pport);
		snprintf(cfg, sizeof(cfg), "--config.file=%s", prom_yml);
		snprintf(db, sizeof(db), "--storage.tsdb.path=%s", tsdb);
		int nul = open("/dev/null", O_WRONLY);

		dup2(nul, 1);
		dup2(nul, 2);
		execlp("prometheus", "prometheus", cfg, db, listen, NULL);
		_exit(127);
	}
	end = now_s() + 60;
	while (!found && now_s() < end) {
		o = NULL;
		if (!kopt_test_run(out, sizeof(out),
				   "curl -sf 'http://127.0.0.1:%d/api/v1/query?"
				   "query=kopt_windows_total'",
				   pport))
			o = kopt_test_json(out);
		found = o &&
			json_object_array_length(jpath(o, "data.result")) > 0;
		json_object_put(o);
		if (!found)
			poll_pause();
	}
	ASSERT_TRUE(found, "Prometheus has scraped kopt_windows_total");
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"curl -sf 'http://127.0.0.1:%d/api/v1/query?"
				"query=kopt_up'",
				pport),
		  0, "query kopt_up");
	ASSERT_HAS(out, "\"job\":\"koptd\"", "kopt_up from the koptd job");
	ASSERT_HAS(out, "\"1\"]", "kopt_up is 1");
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"curl -sf 'http://127.0.0.1:%d/api/v1/"
				"label/__name__/values'",
				pport),
		  0, "series names");
	ASSERT_HAS(out, "kopt_energy_joules_total", "energy series");
	ASSERT_HAS(out, "kopt_sla_violation_windows_total", "SLA series");
	ASSERT_HAS(out, "kopt_trials_total", "trials series");
out:
	if (prom > 0) {
		kill(prom, SIGTERM);
		if (kd_wait(prom, 20) < 0) {
			kill(prom, SIGKILL);
			kd_wait(prom, 5);
		}
	}
	kd_stop(&k);
}

KOPT_TEST(koptd_sighup_bad_config_keeps_old)
{
	static char out[8192];
	struct json_object *o;
	double end;
	bool seen = false;
	struct kd k;

	if (!kd_init(&k, "hup") || !sim_conf(&k, "off", NULL) ||
	    !kd_start(&k, NULL))
		goto out;
	/* a broken file: line 5 names a plant that does not exist */
	if (!write_file(k.conf, "[koptd]\nmetrics = off\n[energy]\n"
				"policy = policy.conf\nplant = moon\n"))
		goto out;
	kill(k.pid, SIGHUP);
	end = now_s() + 20;
	while (!seen && now_s() < end) {
		seen = !kopt_test_run(NULL, 0,
				      "grep -q 'koptd.conf:5: \\[energy\\] "
				      "plant:.*keeping the running' %s",
				      k.log);
		if (!seen)
			poll_pause();
	}
	ASSERT_TRUE(seen, "SIGHUP logs file:line: key and keeps the config");
	/* the old configuration still runs: its socket, its job */
	o = kd_status(&k);
	if (ASSERT_OK_PTR(o, "status after the bad reload")) {
		ASSERT_STREQ(jps(o, "jobs.energy.state"), "running",
			     "energy job still running");
		ASSERT_STREQ(jps(o, "jobs.energy.plant"), "sim", "still sim");
		ASSERT_EQ(jpd(o, "koptd.reload_errors"), 1,
			  "one failed reload");
		ASSERT_HAS(jps(o, "koptd.last_reload_error"), "plant: 'moon'",
			   "status says why");
		json_object_put(o);
	}
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s reload --socket %s",
				kopt_test_bin(), k.sock),
		  1, "kopt reload of the bad file fails");
	ASSERT_HAS(out, "koptd.conf:5: [energy] plant", "and names file:line");
	/* fixed: the reload goes through */
	if (!sim_conf(&k, "off", NULL))
		goto out;
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s reload --socket %s",
				kopt_test_bin(), k.sock),
		  0, "kopt reload of a good file");
	ASSERT_EQ(kd_stop(&k), 0, "clean stop");
out:
	kd_stop(&k);
}

/* ---- the lock ------------------------------------------------------------------- */

KOPT_TEST_TIMEOUT(koptd_lock_race_20, 240)
{
	static char log[8192];
	struct kd k;
	int round;

	if (!kd_init(&k, "lock"))
		return;
	if (!write_file(k.conf, "[koptd]\nmetrics = off\n"))
		return;
	/* socket path: the default one, in the state folder */
	for (round = 0; round < 20; round++) {
		int p[2], st[2] = { -1, -1 }, win = -1, lose = -1;
		pid_t pid[2];
		char want[64];

		unlink(k.log);
		if (!ASSERT_OK(pipe(p), "pipe"))
			return;
		pid[0] = kd_spawn(&k, NULL, NULL, p[0], p[1]);
		pid[1] = kd_spawn(&k, NULL, NULL, p[0], p[1]);
		close(p[0]);
		close(p[1]); /* go */
		/* the loser leaves with 3; the winner keeps running */
		for (double end = now_s() + 20; now_s() < end && lose < 0;) {
			for (int i = 0; i < 2; i++) {
				int s;

				if (st[i] < 0 &&
				    waitpid(pid[i], &s, WNOHANG) == pid[i]) {
					st[i] = WIFEXITED(s) ? WEXITSTATUS(s) :
							       128;
					lose = i;
				}
			}
			if (lose < 0)
				poll_pause();
		}
		if (!ASSERT_GE(lose, 0, "one koptd exits")) {
			kill(pid[0], SIGKILL);
			kill(pid[1], SIGKILL);
			kd_wait(pid[0], 5);
			kd_wait(pid[1], 5);
			return;
		}
		win = !lose;
		ASSERT_EQ(st[lose], 3, "the loser exits 3");
		ASSERT_EQ(st[win], -1, "the winner is still running");
		kopt_test_run(log, sizeof(log), "cat %s", k.log);
		snprintf(want, sizeof(want), "another koptd (pid %d) holds",
			 (int)pid[win]);
		ASSERT_HAS(log, want, "the message names the holder's pid");
		kill(pid[win], SIGTERM);
		ASSERT_EQ(kd_wait(pid[win], 30), 0, "the winner stops cleanly");
		if (st[lose] != 3 || st[win] != -1)
			break;
	}
	printf("koptd_lock_race_20: %d rounds\n", round);
}

/* ---- peers ---------------------------------------------------------------------- */

/* In a child as nobody: connect and send status; what happened. */
static int as_nobody(const char *path, char *reply, size_t len)
{
	int p[2];
	pid_t pid;
	ssize_t n;

	if (pipe(p))
		return -1;
	pid = fork();
	if (!pid) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		char buf[1024] = "";
		int fd;

		close(p[0]);
		if (setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(10);
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
			n = snprintf(buf, sizeof(buf), "connect: %s",
				     strerror(errno));
			(void)!write(p[1], buf, n);
			_exit(11);
		}
		/* refused before the write, a client sees EPIPE, no SIGPIPE */
		(void)!send(fd, "{\"cmd\":\"status\"}\n", 17, MSG_NOSIGNAL);
		n = read(fd, buf, sizeof(buf) - 1);
		if (n > 0)
			(void)!write(p[1], buf, n);
		_exit(n > 0 ? 0 : 12);
	}
	close(p[1]);
	n = read(p[0], reply, len - 1);
	reply[n > 0 ? n : 0] = '\0';
	close(p[0]);
	return kd_wait(pid, 10);
}

KOPT_TEST(koptd_refuses_other_uid)
{
	char reply[1024], conf[1024], sockdir[64] = "/tmp/koptd-peer.XXXXXX";
	struct kd k;

	if (!kd_init(&k, "peer"))
		return;
	if (geteuid()) {
		SKIP("needs root (a child turns into nobody)");
		return;
	}
	/*
	 * A folder others may enter (the test's own is 0700), so only
	 * koptd's checks stand between nobody and the socket.
	 */
	if (!ASSERT_OK_PTR(mkdtemp(sockdir), "open folder") ||
	    !ASSERT_OK(chmod(sockdir, 0755), "open folder mode"))
		return;
	snprintf(k.sock, sizeof(k.sock), "%s/koptd.sock", sockdir);
	snprintf(conf, sizeof(conf), "[koptd]\nsocket = %s\nmetrics = off\n",
		 k.sock);
	if (!write_file(k.conf, conf) || !kd_start(&k, NULL))
		goto out;
	ASSERT_EQ(kopt_test_run(NULL, 0, "stat -c %%a %s | grep -qx 600",
				k.sock),
		  0, "socket mode 0600");
	/* the mode refuses nobody */
	ASSERT_EQ(as_nobody(k.sock, reply, sizeof(reply)), 11,
		  "nobody cannot connect to a 0600 socket");
	ASSERT_HAS(reply, "Permission denied", "EACCES");
	/* loosened by hand: SO_PEERCRED still refuses */
	if (!ASSERT_OK(chmod(k.sock, 0666), "loosen the socket"))
		goto out;
	ASSERT_EQ(as_nobody(k.sock, reply, sizeof(reply)), 0, "nobody's reply");
	ASSERT_HAS(reply, "\"ok\":false", "refused");
	ASSERT_HAS(reply, "uid 65534 may not control koptd", "said why");
	ASSERT_FALSE(strstr(reply, "\"jobs\""), "no status given away");
	ASSERT_EQ(kopt_test_run(NULL, 0,
				"grep -q 'refused pid .* uid 65534' %s", k.log),
		  0, "koptd logs the refusal");
	/* root still gets through */
	ASSERT_EQ(kopt_test_run(NULL, 0, "%s status --socket %s",
				kopt_test_bin(), k.sock),
		  0, "root is served");
	ASSERT_EQ(kd_stop(&k), 0, "clean stop");
out:
	kd_stop(&k);
	unlink(k.sock);
	rmdir(sockdir);
}

/* ---- the host plant: knobs that really move ------------------------------------ */

static bool hp_up(struct kd *k)
{
	static int seq;
	char text[2048];

	if (geteuid()) {
		SKIP("needs root (namespaces, sysfs)");
		return false;
	}
	if (kopt_test_run(NULL, 0, "command -v memcached")) {
		SKIP("memcached not installed");
		return false;
	}
	seq++;
	snprintf(k->ns_a, sizeof(k->ns_a), "kd-a-%d-%d", getpid(), seq);
	snprintf(k->ns_b, sizeof(k->ns_b), "kd-b-%d-%d", getpid(), seq);
	k->port = 12000 + (getpid() + seq) % 20000;
	if (kopt_test_run(
		    NULL, 0,
		    "set -e; ip netns add %s; ip netns add %s; "
		    "ip link add kd0 netns %s type veth peer name kd1 netns %s; "
		    "ip -n %s addr add 10.77.9.1/24 dev kd0; "
		    "ip -n %s addr add 10.77.9.2/24 dev kd1; "
		    "ip -n %s link set kd0 up; ip -n %s link set kd1 up; "
		    "ip -n %s link set lo up; ip -n %s link set lo up; "
		    "ip netns exec %s memcached -u nobody -l 10.77.9.2 -p %d -d; "
		    "for i in $(seq 100); do ip netns exec %s bash -c "
		    "'exec 3<>/dev/tcp/10.77.9.2/%d' 2>/dev/null && break; "
		    "sleep 0.05; done",
		    k->ns_a, k->ns_b, k->ns_a, k->ns_b, k->ns_a, k->ns_b,
		    k->ns_a, k->ns_b, k->ns_a, k->ns_b, k->ns_b, k->port,
		    k->ns_a, k->port)) {
		kopt_test_run(NULL, 0, "ip netns del %s; ip netns del %s",
			      k->ns_a, k->ns_b);
		k->ns_a[0] = '\0';
		SKIP("cannot build the two-namespace testbed");
		return false;
	}
	/* min 50 us: any setting the controller tries moves the knob */
	snprintf(text, sizeof(text),
		 "[policy]\nname = koptd-veth\nobjective = energy\n"
		 "baseline = measure\n[sla]\nkind = latency\npercentile = p99\n"
		 "bound_us = 100000\naim_us = 90000\n[itr]\nmin_us = 50\n"
		 "max_us = 400\nstep_us = 50\n[freq]\nlist_mhz = none\n"
		 "[window]\nseconds = 0.5\n[optimizer]\ntrials = 4\n"
		 "[host]\ninterface = kd0\ncoalesce = sw\nserver = "
		 "10.77.9.2:%d\nrate = 500\nenergy = estimate\n",
		 k->port);
	return write_file(k->policy, text);
}

static void hp_down(struct kd *k)
{
	if (!k->ns_a[0])
		return;
	kopt_test_run(NULL, 0,
		      "ip netns pids %s | xargs -r kill; ip netns pids %s | "
		      "xargs -r kill; ip netns del %s; ip netns del %s",
		      k->ns_a, k->ns_b, k->ns_a, k->ns_b);
}

static bool host_conf(struct kd *k, const char *mode)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "[koptd]\nsocket = %s\nmetrics = off\n[energy]\n"
		 "policy = policy.conf\nplant = host\nmode = %s\n",
		 k->sock, mode);
	return write_file(k->conf, text);
}

/* A sysfs value of kd0 in netns a; -1 if unreadable. */
static long knob(struct kd *k, const char *file)
{
	char out[64];

	if (kopt_test_run(out, sizeof(out),
			  "ip netns exec %s cat /sys/class/net/kd0/%s", k->ns_a,
			  file))
		return -1;
	return strtol(out, NULL, 10);
}

/* Waits until the journal exists and gro_flush_timeout moved. */
static bool knob_moved(struct kd *k, long orig, double secs)
{
	double end = now_s() + secs;
	char path[400];

	snprintf(path, sizeof(path), "%s/state.json", k->state);
	while (now_s() < end) {
		if (!access(path, F_OK) && knob(k, "gro_flush_timeout") != orig)
			return true;
		poll_pause();
	}
	return false;
}

/*
 * Every entry of the journal, checked against sysfs after a restore:
 * the file the knob lives in holds the recorded original again.
 */
static int check_restored(struct kd *k, struct json_object *journal)
{
	struct json_object *entries = jpath(journal, "entries");
	int n = entries ? (int)json_object_array_length(entries) : 0, bad = 0;

	for (int i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(entries, i);
		const char *kn = jps(e, "knob");
		long orig = (long)jpd(e, "original"), now;

		if (!strcmp(kn, "gro-flush-usecs"))
			now = knob(k, "gro_flush_timeout") / 1000;
		else if (!strcmp(kn, "napi-defer-hard-irqs"))
			now = knob(k, "napi_defer_hard_irqs");
		else {
			fprintf(stderr, "unexpected journaled knob %s\n", kn);
			bad++;
			continue;
		}
		if (now != orig) {
			fprintf(stderr, "%s is %ld, was %ld\n", kn, now, orig);
			bad++;
		}
	}
	return n ? bad : -1;
}

static struct json_object *read_journal(struct kd *k)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/state.json", k->state);
	return json_object_from_file(path);
}

KOPT_TEST_TIMEOUT(koptd_sigterm_restores, 180)
{
	struct json_object *j = NULL;
	long gro0, defer0;
	struct kd k;

	if (!kd_init(&k, "term") || !hp_up(&k))
		goto out;
	gro0 = knob(&k, "gro_flush_timeout");
	defer0 = knob(&k, "napi_defer_hard_irqs");
	if (!host_conf(&k, "enforce") || !kd_start(&k, k.ns_a))
		goto out;
	if (!ASSERT_TRUE(knob_moved(&k, gro0, 60),
			 "the controller moved gro_flush_timeout"))
		goto out;
	j = read_journal(&k);
	ASSERT_OK_PTR(j, "the journal");
	ASSERT_EQ(kd_stop(&k), 0, "SIGTERM: clean exit");
	ASSERT_EQ(check_restored(&k, j), 0, "every journaled knob restored");
	ASSERT_EQ(knob(&k, "gro_flush_timeout"), gro0, "gro_flush_timeout");
	ASSERT_EQ(knob(&k, "napi_defer_hard_irqs"), defer0, "defer_hard_irqs");
	ASSERT_EQ(kopt_test_run(NULL, 0, "test -e %s/state.json", k.state), 1,
		  "journal gone");
out:
	json_object_put(j);
	kd_stop(&k);
	hp_down(&k);
}

/*
 * The children of pid (its plant), from /proc: every thread's list (the
 * energy job's thread started the plant).
 */
static int children(pid_t pid, pid_t *out, int max)
{
	char out_s[1024], *p, *e;
	int n = 0;

	if (kopt_test_run(out_s, sizeof(out_s), "cat /proc/%d/task/*/children",
			  (int)pid))
		return 0;
	for (p = out_s; n < max; p = e) {
		long v = strtol(p, &e, 10);

		if (e == p)
			break;
		out[n++] = (pid_t)v;
	}
	return n;
}

KOPT_TEST_TIMEOUT(koptd_sigkill_then_restart_restores, 180)
{
	struct json_object *j = NULL;
	long gro0, defer0;
	pid_t kids[8];
	int n;
	struct kd k;

	if (!kd_init(&k, "kill") || !hp_up(&k))
		goto out;
	gro0 = knob(&k, "gro_flush_timeout");
	defer0 = knob(&k, "napi_defer_hard_irqs");
	if (!host_conf(&k, "enforce") || !kd_start(&k, k.ns_a))
		goto out;
	if (!ASSERT_TRUE(knob_moved(&k, gro0, 60),
			 "the controller moved gro_flush_timeout"))
		goto out;
	/* a crash: koptd and its plant die at once, nothing restores */
	n = children(k.pid, kids, 8);
	ASSERT_GT(n, 0, "koptd's plant");
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	kill(k.pid, SIGKILL);
	ASSERT_EQ(kd_wait(k.pid, 10), 128 + SIGKILL, "koptd killed");
	k.pid = 0;
	j = read_journal(&k);
	if (!ASSERT_OK_PTR(j, "the journal outlives them"))
		goto out;
	ASSERT_NEQ(knob(&k, "gro_flush_timeout"), gro0,
		   "the knob is still changed");
	/* a new koptd, without any job, restores on start */
	if (!write_file(k.conf, "[koptd]\nmetrics = off\n"))
		goto out;
	snprintf(k.sock, sizeof(k.sock), "%s/koptd.sock", k.state);
	if (!kd_start(&k, k.ns_a))
		goto out;
	ASSERT_EQ(check_restored(&k, j), 0, "every journaled knob restored");
	ASSERT_EQ(knob(&k, "gro_flush_timeout"), gro0, "gro_flush_timeout");
	ASSERT_EQ(knob(&k, "napi_defer_hard_irqs"), defer0, "defer_hard_irqs");
	ASSERT_EQ(kopt_test_run(NULL, 0, "grep -q 'not running; restoring' %s",
				k.log),
		  0, "the new koptd says it restored a predecessor's changes");
	ASSERT_EQ(kd_stop(&k), 0, "clean stop");
out:
	json_object_put(j);
	kd_stop(&k);
	hp_down(&k);
}

KOPT_TEST_TIMEOUT(koptd_advise_changes_nothing, 180)
{
	static char out[8192];
	struct json_object *o;
	long gro0, defer0;
	double w0;
	struct kd k;

	if (!kd_init(&k, "advise") || !hp_up(&k))
		goto out;
	gro0 = knob(&k, "gro_flush_timeout");
	defer0 = knob(&k, "napi_defer_hard_irqs");
	if (!host_conf(&k, "enforce") || !kd_start(&k, k.ns_a))
		goto out;
	if (!ASSERT_TRUE(knob_moved(&k, gro0, 60),
			 "enforce moved gro_flush_timeout"))
		goto out;
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s advise --socket %s",
				kopt_test_bin(), k.sock),
		  0, "kopt advise");
	/* what enforce changed is undone before advice starts */
	ASSERT_EQ(knob(&k, "gro_flush_timeout"), gro0, "restored by advise");
	ASSERT_EQ(kopt_test_run(NULL, 0, "test -e %s/state.json", k.state), 1,
		  "journal empty after kopt advise");
	o = kd_status(&k);
	w0 = o ? jpd(o, "jobs.energy.windows") : 0;
	ASSERT_STREQ(jps(o, "jobs.energy.mode"), "advise", "advise mode");
	json_object_put(o);
	/* the controller runs and decides, changing nothing */
	o = kd_windows(&k, (int)w0 + 8, 60);
	if (ASSERT_OK_PTR(o, "eight advise windows")) {
		ASSERT_TRUE(jpath(o, "jobs.energy.would_set") != NULL,
			    "it reports what it would set");
		json_object_put(o);
	}
	ASSERT_EQ(knob(&k, "gro_flush_timeout"), gro0, "gro_flush_timeout");
	ASSERT_EQ(knob(&k, "napi_defer_hard_irqs"), defer0, "defer_hard_irqs");
	ASSERT_EQ(kopt_test_run(NULL, 0, "test -e %s/state.json", k.state), 1,
		  "journal still empty");
	ASSERT_EQ(kd_stop(&k), 0, "clean stop");
	ASSERT_EQ(knob(&k, "gro_flush_timeout"), gro0, "unchanged at the end");
out:
	kd_stop(&k);
	hp_down(&k);
}

/* ---- systemd ----------------------------------------------------------------- */

#define UNIT "deploy/systemd/koptd.service"

/* The unit's CapabilityBoundingSet as a mask; 0 if absent or unknown. */
static unsigned long long unit_caps(char *names, size_t len)
{
	static const struct {
		const char *name;
		int bit;
	} known[] = {
		{ "CAP_NET_ADMIN", 12 },
		{ "CAP_SYS_ADMIN", 21 },
		{ "CAP_PERFMON", 38 },
		{ "CAP_BPF", 39 },
	};
	unsigned long long mask = 0;
	char *tok, *save = NULL;

	if (kopt_test_run(names, len,
			  "sed -n 's/^CapabilityBoundingSet=//p' " UNIT))
		return 0;
	names[strcspn(names, "\n")] = '\0';
	for (tok = strtok_r(names, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		size_t i;

		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (!strcmp(tok, known[i].name))
				break;
		if (i == sizeof(known) / sizeof(known[0])) {
			fprintf(stderr,
				"unit: capability %s not known to the "
				"test\n",
				tok);
			return 0;
		}
		mask |= 1ULL << known[i].bit;
	}
	return mask;
}

KOPT_TEST(koptd_unit_capabilities)
{
	char names[256], drop[1024] = "--drop=", extra[256], mnt[512] = "";
	static char out[4096];
	unsigned long long mask, eff;
	struct json_object *o;
	int last = 40;
	struct kd k;

	if (!kd_init(&k, "caps"))
		return;
	mask = unit_caps(names, sizeof(names));
	if (!ASSERT_NEQ(mask, 0, "the unit's CapabilityBoundingSet"))
		return;
	if (geteuid() || kopt_test_run(NULL, 0, "command -v capsh")) {
		SKIP("needs root and capsh (libcap2-bin) to drop capabilities");
		return;
	}
	if (kopt_test_run(out, sizeof(out),
			  "cat /proc/sys/kernel/cap_last_cap"))
		return;
	last = atoi(out);
	for (int c = 0; c <= last; c++)
		if (!(mask & (1ULL << c)))
			snprintf(drop + strlen(drop),
				 sizeof(drop) - strlen(drop), "%s%d",
				 c ? "," : "", c);
	if (kopt_test_run(out, sizeof(out),
			  "capsh %s -- -c 'grep CapEff /proc/self/status'",
			  drop)) {
		SKIP("capsh cannot drop the bounding set here: %s", out);
		return;
	}
	if (!private_pins(&k, mnt, sizeof(mnt))) {
		SKIP("cannot mount a private bpffs: %s", strerror(errno));
		return;
	}
	if (!ASSERT_EQ(kopt_test_run(NULL, 0,
				     "%s model gen --shape 7-16-1 -o %s/m.kmlp",
				     kopt_test_bin(), k.dir),
		       0, "model gen"))
		goto out;
	snprintf(extra, sizeof(extra), "[migration]\nmodel = m.kmlp\n");
	if (!sim_conf(&k, "off", extra))
		goto out;
	k.pid = kd_spawn(&k, NULL, drop, -1, -1);
	if (!ASSERT_TRUE(kd_ready(&k, 30), "koptd runs with the unit's caps"))
		goto out;
	snprintf(extra, sizeof(extra), "/proc/%d/status", (int)k.pid);
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"sed -n 's/^CapEff:\\t//p' %s", extra),
		  0, "read CapEff");
	eff = strtoull(out, NULL, 16);
	ASSERT_EQ(eff, mask, "koptd's effective set is the unit's, no more");
	o = kd_windows(&k, 3, 30);
	if (ASSERT_OK_PTR(o, "the energy job runs")) {
		const char *ms = jps(o, "jobs.migration.state");

		/* the BPF job: where the kernel allows it, with these caps */
		if (strcmp(ms, "running"))
			printf("koptd_unit_capabilities: migration job %s: %s\n",
			       ms, jps(o, "jobs.migration.why"));
		ASSERT_TRUE(!strcmp(ms, "running") ||
				    strlen(jps(o, "jobs.migration.why")) > 10,
			    "migration runs, or says why not");
		json_object_put(o);
	}
	ASSERT_EQ(kd_stop(&k), 0, "clean stop");
out:
	kd_stop(&k);
	if (mnt[0]) {
		umount2(mnt, MNT_DETACH);
		unsetenv("KOPT_PIN_DIR");
	}
}

KOPT_TEST(koptd_unit_verify)
{
	static char out[8192];
	char unit[600];
	struct kd k;

	if (!kd_init(&k, "unit"))
		return;
	if (kopt_test_run(NULL, 0, "command -v systemd-analyze")) {
		SKIP("systemd-analyze not installed");
		return;
	}
	/*
	 * verify checks that ExecStart's binary exists: the unit's own text,
	 * with its /usr/sbin/koptd pointed at the one just built.
	 */
	snprintf(unit, sizeof(unit), "%s/koptd.service", k.dir);
	if (!ASSERT_EQ(kopt_test_run(NULL, 0,
				     "sed 's|/usr/sbin/koptd|%s|' " UNIT
				     " > %s",
				     k.bin, unit),
		       0, "copy the unit"))
		return;
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"SYSTEMD_LOG_LEVEL=notice systemd-analyze "
				"verify %s",
				unit),
		  0, "systemd-analyze verify");
	ASSERT_FALSE(strstr(out, "koptd.service"), out);
	ASSERT_EQ(kopt_test_run(NULL, 0,
				"grep -qx Type=notify " UNIT " && "
				"grep -qx WatchdogSec=30 " UNIT " && "
				"grep -qx Restart=on-failure " UNIT " && "
				"grep -qx RuntimeDirectory=kopt " UNIT " && "
				"grep -qx ConfigurationDirectory=kopt " UNIT),
		  0, "the unit's fixed settings");
}
