// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kopt test runner (build/test/test_progs), modelled on the kernel's
 * test_progs: every KOPT_TEST() registers itself; the runner runs them in
 * name order, prints one line per test and ends with the summary line
 * "N passed, N failed, N skipped" after the skipped tests and why and the
 * failed ones.
 *
 *   test_progs [-t substr[,substr...]] [-l]
 *
 * Isolation, as in kselftest_harness.h: each test runs in a forked child
 * that leads its own process group. The child sends its verdict (and a
 * skip's reason) through a pipe and then calls exit(), not _exit(), so
 * LeakSanitizer checks each test on its own. Whatever the child reported,
 * the test is FAIL if the child exits non-zero (an ASan, UBSan or
 * LeakSanitizer report exits 1 in this build; LeakSanitizer alone exits
 * 23), is killed by a signal, never reports, or outlives its time limit.
 * Then what is left of its process group gets SIGTERM and, 2 s later,
 * SIGKILL. The cause is on the test's line; the run goes on. A SIGINT,
 * SIGTERM or SIGHUP to the runner ends the running test's group the same
 * way before the runner dies of it.
 *
 * Environment: KOPT_BIN and KOPT_BUILD (kopt_test_bin(), _builddir()),
 * KOPT_KEEP_TMP=1 keeps the scratch directory, KOPT_TEST_TIMEOUT_SCALE
 * multiplies every time limit (default 1; e.g. 3 on a slow machine).
 * Tests named vm_* need the Linux 6.12 guest (make vmtest): outside it,
 * KOPT_IN_VM unset, they are skipped with that reason.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "test.h"

enum test_state { T_PASS, T_FAIL, T_SKIP };

#define REASON_LEN 512
/* seconds between SIGTERM and SIGKILL for a test's process group */
#define KILL_GRACE 2.0

/* What a test's child sends the runner just before exit(). */
struct test_report {
	int state;
	char reason[REASON_LEN];
};

/* one write() that the pipe cannot split */
_Static_assert(sizeof(struct test_report) <= PIPE_BUF, "report > PIPE_BUF");

struct test_result {
	enum test_state state;
	/* a skip's reason, or why the runner failed the test */
	char reason[REASON_LEN];
	double secs;
};

static struct kopt_test *tests;
static int nr_tests;
/* the current test's verdict, in its child */
static enum test_state cur_state;
static char skip_reason[REASON_LEN];
static char tmpdir[64];
static pid_t runner_pid;
/* SIGINT, SIGTERM or SIGHUP the runner got, 0 if none */
static volatile sig_atomic_t interrupted;

void kopt_test_register(struct kopt_test *t)
{
	t->next = tests;
	tests = t;
	nr_tests++;
}

void kopt_test_fail(void)
{
	cur_state = T_FAIL;
}

void kopt_test_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(skip_reason, sizeof(skip_reason), fmt, ap);
	va_end(ap);
	if (cur_state != T_FAIL)
		cur_state = T_SKIP;
}

const char *kopt_test_bin(void)
{
	const char *bin = getenv("KOPT_BIN");

	return bin ? bin : "build/test/kopt";
}

const char *kopt_test_builddir(void)
{
	const char *dir = getenv("KOPT_BUILD");

	return dir ? dir : "build";
}

const char *kopt_test_tmpdir(void)
{
	return tmpdir;
}

char *kopt_test_read_file(const char *path)
{
	char *text = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return NULL;
	if (getdelim(&text, &cap, '\0', f) < 0) {
		free(text);
		text = NULL;
	}
	fclose(f);
	return text;
}

struct json_object *kopt_test_json(const char *out)
{
	const char *p = out;

	if (!p)
		return NULL;
	if (*p != '{') {
		p = strstr(out, "\n{");
		if (!p)
			return NULL;
		p++;
	}
	return json_tokener_parse(p);
}

int kopt_test_run(char *out, size_t cap, const char *fmt, ...)
{
	char *body, *cmd;
	size_t len = 0;
	va_list ap;
	FILE *f;
	int st, n;

	va_start(ap, fmt);
	n = vasprintf(&body, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	/*
	 * Stderr joins stdout around the command, not after it: appending
	 * " 2>&1" would undo the command's own 2>/dev/null. The newline
	 * ends a trailing comment and lets a trailing '&' stand.
	 */
	n = asprintf(&cmd, "{ %s\n} 2>&1", body);
	free(body);
	if (n < 0)
		return -1;
	f = popen(cmd, "r");
	free(cmd);
	if (!f)
		return -1;
	if (out && cap) {
		len = fread(out, 1, cap - 1, f);
		out[len] = '\0';
	}
	/* drain whatever did not fit so the child never blocks on a pipe */
	while (fgetc(f) != EOF)
		;
	st = pclose(f);
	if (st < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

/* atexit: only the runner, not a test's child or a child of a test */
static void cleanup_tmpdir(void)
{
	const char *keep = getenv("KOPT_KEEP_TMP");

	if (getpid() != runner_pid)
		return;
	if (tmpdir[0] && !(keep && !strcmp(keep, "1")))
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static bool selected(const char *name, const char *filter)
{
	char buf[1024], *tok, *save = NULL;

	if (!filter)
		return true;
	snprintf(buf, sizeof(buf), "%s", filter);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		if (strstr(name, tok))
			return true;
	return false;
}

static int cmp_test(const void *a, const void *b)
{
	const struct kopt_test *x = *(const struct kopt_test *const *)a;
	const struct kopt_test *y = *(const struct kopt_test *const *)b;

	return strcmp(x->name, y->name);
}

static bool in_vm(void)
{
	const char *v = getenv("KOPT_IN_VM");

	return v && !strcmp(v, "1");
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void nap(double secs)
{
	struct timespec ts = { .tv_sec = (time_t)secs,
			       .tv_nsec = (long)((secs - (time_t)secs) * 1e9) };

	nanosleep(&ts, NULL);
}

/* KOPT_TEST_TIMEOUT_SCALE: a factor > 0, 1 if unset; -1 if malformed. */
static double timeout_scale(void)
{
	const char *s = getenv("KOPT_TEST_TIMEOUT_SCALE");
	char *end;
	double v;

	if (!s || !*s)
		return 1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v > 0) || !isfinite(v))
		return -1;
	return v;
}

/*
 * SIGINT, SIGTERM or SIGHUP to the runner (the test's group is not the
 * terminal's foreground group, ^C reaches only the runner): the wait for
 * the test ends (no SA_RESTART), its group is ended as on a timeout, and
 * the runner removes its scratch directory and dies of the signal.
 */
static void on_signal(int sig)
{
	interrupted = sig;
}

static void set_signals(void (*handler)(int))
{
	struct sigaction sa = { .sa_handler = handler };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void __attribute__((noreturn)) die_of_signal(void)
{
	cleanup_tmpdir();
	set_signals(SIG_DFL);
	raise(interrupted);
	_exit(128 + interrupted);
}

/* In the test's child: run it, report, exit. */
static void __attribute__((noreturn)) run_child(struct kopt_test *t, int wfd)
{
	struct test_report rep;
	ssize_t n;

	setpgid(0, 0);
	set_signals(SIG_DFL);
	cur_state = T_PASS;
	skip_reason[0] = '\0';
	t->fn();
	fflush(stdout);
	fflush(stderr);
	memset(&rep, 0, sizeof(rep));
	rep.state = cur_state;
	snprintf(rep.reason, sizeof(rep.reason), "%s", skip_reason);
	n = write(wfd, &rep, sizeof(rep));
	close(wfd);
	/* exit(), not _exit(): LeakSanitizer checks this test at exit */
	exit(n == sizeof(rep) ? 0 : 1);
}

/*
 * Waits until deadline (CLOCK_MONOTONIC) for pid to exit: true, with its
 * wait status, if it did; false at the deadline or on a signal to the
 * runner. A pidfd wakes the runner at once; without one (a kernel before
 * 5.3) it looks every 10 ms.
 */
static bool wait_child(pid_t pid, int pidfd, double deadline, int *status)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	double left;
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return true;
		if (r < 0 && errno != EINTR) {
			/* not our child any more: nothing to wait for */
			*status = 0;
			return true;
		}
		left = deadline - now();
		if (left <= 0 || interrupted)
			return false;
		/* a second at most: a signal just before poll() waits no longer */
		if (pidfd < 0)
			nap(left < 0.01 ? left : 0.01);
		else
			poll(&p, 1, left < 1 ? (int)(left * 1000) + 1 : 1000);
	}
}

/*
 * Ends what is left of a test's process group: SIGTERM, KILL_GRACE
 * seconds for it to go, then SIGKILL; reaps the leader unless *reaped.
 */
static void kill_group(pid_t pid, int pidfd, bool *reaped, int *status)
{
	double deadline = now() + KILL_GRACE;

	if (kill(-pid, SIGTERM) && errno == ESRCH)
		return;
	while (now() < deadline) {
		if (!*reaped)
			*reaped = wait_child(pid, pidfd, deadline, status);
		/* the leader is gone: wait for the rest of the group */
		if (kill(-pid, 0) && errno == ESRCH)
			return;
		nap(0.02);
	}
	kill(-pid, SIGKILL);
	if (!*reaped && waitpid(pid, status, 0) == pid)
		*reaped = true;
}

static void run_one(struct kopt_test *t, double scale, struct test_result *res)
{
	double limit =
		(t->timeout ? t->timeout : KOPT_TEST_DEFAULT_TIMEOUT) * scale;
	struct test_report rep;
	bool reaped, reported;
	int fds[2], pidfd, status = 0;
	double start = now();
	pid_t pid;

	memset(res, 0, sizeof(*res));
	res->state = T_FAIL;
	if (!strncmp(t->name, "vm_", 3) && !in_vm()) {
		res->state = T_SKIP;
		snprintf(res->reason, sizeof(res->reason),
			 "needs the Linux 6.12 guest: run `make vmtest`");
		return;
	}
	/* no exec'd program inherits the write end; reads never block */
	if (pipe2(fds, O_CLOEXEC)) {
		snprintf(res->reason, sizeof(res->reason), "pipe: %s",
			 strerror(errno));
		return;
	}
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(res->reason, sizeof(res->reason), "fork: %s",
			 strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		close(fds[0]);
		run_child(t, fds[1]);
	}
	/* both sides set the group: no race with an early kill() */
	setpgid(pid, pid);
	close(fds[1]);
	pidfd = pidfd_open(pid, 0);
	reaped = wait_child(pid, pidfd, start + limit, &status);
	if (!reaped) {
		kill_group(pid, pidfd, &reaped, &status);
		if (interrupted)
			snprintf(res->reason, sizeof(res->reason),
				 "the runner got signal %d", interrupted);
		else
			snprintf(res->reason, sizeof(res->reason),
				 "timed out after %g s", limit);
	} else if (WIFSIGNALED(status) ||
		   (WIFEXITED(status) && WEXITSTATUS(status))) {
		/* what the crashed test had started goes with it */
		kill_group(pid, pidfd, &reaped, &status);
	}
	reported = read(fds[0], &rep, sizeof(rep)) == sizeof(rep);
	close(fds[0]);
	if (pidfd >= 0)
		close(pidfd);
	res->secs = now() - start;
	if (res->reason[0])
		return;
	if (WIFSIGNALED(status)) {
		snprintf(res->reason, sizeof(res->reason),
			 "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	} else if (WIFEXITED(status) && WEXITSTATUS(status)) {
		snprintf(res->reason, sizeof(res->reason),
			 "exit %d (sanitizer?)", WEXITSTATUS(status));
	} else if (!reported) {
		snprintf(res->reason, sizeof(res->reason),
			 "exited without a verdict");
	} else {
		res->state = rep.state;
		rep.reason[sizeof(rep.reason) - 1] = '\0';
		if (res->state == T_SKIP)
			snprintf(res->reason, sizeof(res->reason), "%s",
				 rep.reason);
	}
}

static void usage(const char *prog)
{
	printf("Usage: %s [-t substr[,substr...]] [-l]\n"
	       "  -t  run only tests whose name contains one of the strings\n"
	       "  -l  list test names and exit\n"
	       "Environment: KOPT_TEST_TIMEOUT_SCALE=F multiplies every "
	       "test's time limit\n",
	       prog);
}

static void print_list(const char *title, struct kopt_test **list,
		       struct test_result *res, int n, enum test_state state)
{
	bool first = true;
	int i;

	for (i = 0; i < n; i++) {
		if (!list[i] || res[i].state != state)
			continue;
		if (first)
			printf("\n%s:\n", title);
		first = false;
		if (res[i].reason[0])
			printf("  %s: %s\n", list[i]->name, res[i].reason);
		else
			printf("  %s\n", list[i]->name);
	}
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0, skipped = 0, i, n = 0, opt;
	struct kopt_test **list, *t;
	struct test_result *res;
	const char *filter = NULL;
	bool list_only = false;
	double scale;

	while ((opt = getopt(argc, argv, "t:lh")) != -1) {
		switch (opt) {
		case 't':
			filter = optarg;
			break;
		case 'l':
			list_only = true;
			break;
		case 'h':
			usage(argv[0]);
			return 0;
		default:
			usage(argv[0]);
			return 2;
		}
	}
	scale = timeout_scale();
	if (scale < 0) {
		fprintf(stderr,
			"KOPT_TEST_TIMEOUT_SCALE='%s': need a number > 0\n",
			getenv("KOPT_TEST_TIMEOUT_SCALE"));
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	list = calloc(nr_tests, sizeof(*list));
	res = calloc(nr_tests, sizeof(*res));
	if (!list || !res)
		return 1;
	for (t = tests; t; t = t->next)
		list[n++] = t;
	qsort(list, n, sizeof(*list), cmp_test);
	if (list_only) {
		for (i = 0; i < n; i++)
			printf("%s\n", list[i]->name);
		goto out;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kopt-test.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	runner_pid = getpid();
	atexit(cleanup_tmpdir);
	set_signals(on_signal);
	for (i = 0; i < n; i++) {
		if (!selected(list[i]->name, filter)) {
			list[i] = NULL;
			continue;
		}
		run_one(list[i], scale, &res[i]);
		switch (res[i].state) {
		case T_PASS:
			passed++;
			printf("#%-3d %-44s OK [%.2f s]\n", i + 1,
			       list[i]->name, res[i].secs);
			break;
		case T_FAIL:
			failed++;
			printf("#%-3d %-44s FAIL%s%s%s [%.2f s]\n", i + 1,
			       list[i]->name, res[i].reason[0] ? " (" : "",
			       res[i].reason, res[i].reason[0] ? ")" : "",
			       res[i].secs);
			break;
		case T_SKIP:
			skipped++;
			printf("#%-3d %-44s SKIP (%s)\n", i + 1, list[i]->name,
			       res[i].reason);
			break;
		}
		if (interrupted)
			die_of_signal();
	}
	print_list("Skipped tests", list, res, n, T_SKIP);
	print_list("Failed tests", list, res, n, T_FAIL);
	printf("\n%d passed, %d failed, %d skipped\n", passed, failed, skipped);
out:
	free(list);
	free(res);
	return failed ? 1 : 0;
}
