// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of the test runner itself (selftests/runner.c).
 *
 * kopt_test_run(): stdout and stderr are captured together by default, a
 * command's own redirection wins, the exit status comes back, and a
 * trailing comment or '&' cannot break the command.
 *
 * Isolation: this binary runs itself (/proc/self/exe) with
 * KOPT_RUNNER_SELFTEST=1, which registers the hidden tests below, and a
 * small KOPT_TEST_TIMEOUT_SCALE. A hung test, an ASan report and a crash
 * each fail their own test with the cause on its line; the run goes on,
 * the one good test passes, and the hung test's process group is gone.
 * Without that variable the hidden tests are neither listed nor run.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define OUT_LEN (1 << 16)

/* ---- kopt_test_run() ----------------------------------------------------- */

KOPT_TEST(runner_run_captures_stdout_and_stderr)
{
	char out[256];

	ASSERT_EQ(kopt_test_run(out, sizeof(out), "echo out; echo err >&2"), 0,
		  "exit status");
	ASSERT_HAS(out, "out\n", "stdout captured");
	ASSERT_HAS(out, "err\n", "stderr captured");
	/* a pipeline's first command's stderr too, not only the last's */
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "echo first >&2 | cat"), 0,
		  "pipeline exit status");
	ASSERT_STREQ(out, "first\n", "stderr of the first command");
}

KOPT_TEST(runner_run_own_redirection_wins)
{
	char out[256];

	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"sh -c 'echo err >&2; echo out' 2>/dev/null"),
		  0, "exit status");
	ASSERT_STREQ(out, "out\n", "only stdout");
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"sh -c 'echo err >&2; echo out' >/dev/null"),
		  0, "exit status");
	ASSERT_STREQ(out, "err\n", "only stderr");
}

KOPT_TEST(runner_run_exit_status)
{
	char out[64];

	ASSERT_EQ(kopt_test_run(NULL, 0, "true"), 0, "true");
	ASSERT_EQ(kopt_test_run(NULL, 0, "false"), 1, "false");
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "echo x; exit 7"), 7,
		  "exit 7");
	ASSERT_STREQ(out, "x\n", "output before the exit");
	ASSERT_EQ(kopt_test_run(NULL, 0, "sh -c 'exit 42'"), 42, "exit 42");
}

KOPT_TEST(runner_run_trailing_comment_and_ampersand)
{
	char out[64];

	ASSERT_EQ(kopt_test_run(out, sizeof(out), "echo hi # a comment"), 0,
		  "trailing comment");
	ASSERT_STREQ(out, "hi\n", "output with a trailing comment");
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "exit 3 # 2>&1 }"), 3,
		  "status with a trailing comment");
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "echo bg &"), 0,
		  "trailing &");
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "echo semi;"), 0,
		  "trailing ;");
	ASSERT_STREQ(out, "semi\n", "output with a trailing ;");
}

KOPT_TEST(runner_run_long_output_and_command)
{
	static char big[12001], out[OUT_LEN];
	char small[16];

	/* more output than fits: truncated, the rest drained, status kept */
	ASSERT_EQ(
		kopt_test_run(small, sizeof(small),
			      "head -c 100000 /dev/zero | tr '\\0' x; exit 5"),
		5, "exit status after a drained output");
	ASSERT_EQ(strlen(small), sizeof(small) - 1, "truncated to cap-1");
	/* a command longer than any fixed buffer is run whole */
	memset(big, 'y', sizeof(big) - 1);
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "echo %s", big), 0,
		  "a 12 kB command");
	ASSERT_EQ(strlen(out), sizeof(big), "its whole output");
}

/* ---- isolation ----------------------------------------------------------- */

/*
 * The scratch directory belongs to the runner: a child of a test that
 * calls exit() runs the atexit() handlers it inherited, and they must not
 * remove it.
 */
KOPT_TEST(runner_tmpdir_outlives_child_exit)
{
	pid_t pid;
	int st;

	if (!ASSERT_OK(access(kopt_test_tmpdir(), F_OK), "tmpdir exists"))
		return;
	fflush(NULL);
	pid = fork();
	if (!ASSERT_GE(pid, 0, "fork"))
		return;
	if (pid == 0)
		exit(0);
	ASSERT_EQ(waitpid(pid, &st, 0), pid, "waitpid");
	ASSERT_OK(access(kopt_test_tmpdir(), F_OK),
		  "tmpdir still there after a child's exit()");
}

/* The hung test's helper: its command line is unique to the run. */
static const char *nap_arg(void)
{
	const char *v = getenv("KOPT_RUNNER_SELFTEST_NAP");

	return v ? v : "7777.1";
}

/*
 * Hangs and ignores SIGTERM, so the runner must SIGKILL it; a `sleep` in
 * its process group must go too.
 */
static void runner_selftest_hang(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "sleep %s &", nap_arg());
	if (system(cmd))
		return;
	signal(SIGTERM, SIG_IGN);
	for (;;)
		pause();
}

/* A heap-buffer-overflow ASan catches: ASan reports and exits 1. */
static void runner_selftest_asan(void)
{
	volatile size_t n = 8;
	/* volatile: no store before free() is dead to the compiler */
	volatile char *p = malloc(n);

	if (!p)
		return;
	p[n] = 1;
	free((void *)p);
}

/*
 * A crash by a signal. ASan's SIGSEGV handler would turn a wild write
 * into its report and exit 1, and UBSan stops a NULL write before it
 * happens, so the signal's own action is restored and the signal raised.
 */
static void runner_selftest_segv(void)
{
	struct rlimit no_core = { 0, 0 };

	setrlimit(RLIMIT_CORE, &no_core);
	signal(SIGSEGV, SIG_DFL);
	raise(SIGSEGV);
}

static void runner_selftest_pass(void)
{
	ASSERT_OK(access(kopt_test_tmpdir(), F_OK), "tmpdir exists");
}

/* where the leak test's allocations pass through, unseen by the compiler */
static void *volatile leak_sink;

/* A leak: the test passes, LeakSanitizer at the child's exit() does not. */
static void runner_lsan_selftest(void)
{
	int i;

	for (i = 0; i < 8; i++)
		leak_sink = malloc(4096);
	leak_sink = NULL;
}

/*
 * The hidden tests, named after their functions. Limits before
 * KOPT_TEST_TIMEOUT_SCALE (the tests below use 0.02): the hang 2.4 s, the
 * others a minute, for ASan to symbolize its report.
 */
#define HIDDEN(fn_name, secs)                                    \
	{                                                        \
		.name = #fn_name, .fn = fn_name, .timeout = secs \
	}

static struct kopt_test selftests[] = {
	HIDDEN(runner_selftest_asan, 3000),
	HIDDEN(runner_selftest_hang, 120),
	HIDDEN(runner_selftest_pass, 3000),
	HIDDEN(runner_selftest_segv, 3000),
	/* not matched by -t runner_selftest_: run on its own */
	HIDDEN(runner_lsan_selftest, 3000),
};

__attribute__((constructor)) static void register_selftests(void)
{
	const char *v = getenv("KOPT_RUNNER_SELFTEST");
	size_t i;

	if (!v || strcmp(v, "1"))
		return;
	for (i = 0; i < sizeof(selftests) / sizeof(*selftests); i++)
		kopt_test_register(&selftests[i]);
}

/* This very binary, the runner under test. */
static bool self_exe(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	if (!ASSERT_GT(n, 0, "readlink /proc/self/exe"))
		return false;
	buf[n] = '\0';
	return true;
}

/* Runs this binary's hidden tests matching filter; its exit status. */
static int run_hidden(char *out, size_t len, const char *filter,
		      const char *nap)
{
	char self[PATH_MAX];

	if (!self_exe(self, sizeof(self)))
		return -1;
	/*
	 * Known ASan options whatever the caller set, leak checks on: every
	 * report exits 1, LeakSanitizer's too (it exits 23 only without ASan).
	 */
	return kopt_test_run(
		out, len,
		"KOPT_RUNNER_SELFTEST=1 KOPT_RUNNER_SELFTEST_NAP=%s "
		"KOPT_TEST_TIMEOUT_SCALE=0.02 "
		"ASAN_OPTIONS=detect_leaks=1:exitcode=1:"
		"abort_on_error=0 '%s' -t %s",
		nap, self, filter);
}

/* The runner's "#N name ..." line for test name, or NULL. */
static const char *result_line(const char *out, const char *name, char *line,
			       size_t len)
{
	size_t l = strlen(name), n;
	const char *p = out, *q;

	while (*p) {
		n = strcspn(p, "\n");
		q = p + 1 + strspn(p + 1, "0123456789");
		q += strspn(q, " ");
		if (*p == '#' && !strncmp(q, name, l) && q[l] == ' ') {
			snprintf(line, len, "%.*s", (int)n, p);
			return line;
		}
		p += n + (p[n] == '\n');
	}
	return NULL;
}

KOPT_TEST(runner_isolates_hang_crash_and_asan)
{
	char self[PATH_MAX], nap[64], line[512];
	static char out[OUT_LEN];
	bool ok = true;
	int rc;

	if (!self_exe(self, sizeof(self)))
		return;
	/* hidden without the variable */
	ok &= ASSERT_NEQ(kopt_test_run(out, sizeof(out),
				       "env -u KOPT_RUNNER_SELFTEST '%s' -l | "
				       "grep runner_selftest_",
				       self),
			 0, "hidden tests not listed");
	snprintf(nap, sizeof(nap), "7777.%d", getpid());
	rc = run_hidden(out, sizeof(out), "runner_selftest_", nap);
	ok &= ASSERT_EQ(rc, 1, "the runner exits 1");
	ok &= ASSERT_HAS(result_line(out, "runner_selftest_hang", line,
				     sizeof(line)),
			 "FAIL (timed out after 2.4 s)", "the hang");
	ok &= ASSERT_HAS(result_line(out, "runner_selftest_asan", line,
				     sizeof(line)),
			 "FAIL (exit 1 (sanitizer?))", "the overflow");
	ok &= ASSERT_HAS(out, "ERROR: AddressSanitizer: heap-buffer-overflow",
			 "ASan's report");
	ok &= ASSERT_HAS(result_line(out, "runner_selftest_segv", line,
				     sizeof(line)),
			 "FAIL (killed by signal 11", "the crash");
	ok &= ASSERT_HAS(result_line(out, "runner_selftest_pass", line,
				     sizeof(line)),
			 "OK", "the good test");
	ok &= ASSERT_HAS(out, "\n1 passed, 3 failed, 0 skipped\n",
			 "summary line");
	/* the hung test's helper went with its process group */
	ok &= ASSERT_NEQ(kopt_test_run(NULL, 0, "pgrep -f '^sleep %s$'", nap),
			 0, "the hung test's sleep is gone");
	if (!ok) {
		fprintf(stderr, "the runner said:\n%s", out);
		kopt_test_run(NULL, 0, "pkill -f '^sleep %s$'", nap);
	}
}

/* exit(), not _exit(), in a test's child: LeakSanitizer fails the leak. */
KOPT_TEST(runner_leak_fails_its_test)
{
	static char out[OUT_LEN];
	char line[512];
	int rc;

	rc = run_hidden(out, sizeof(out), "runner_lsan_selftest", "0");
	ASSERT_EQ(rc, 1, "the runner exits 1");
	ASSERT_HAS(result_line(out, "runner_lsan_selftest", line, sizeof(line)),
		   "FAIL (exit 1 (sanitizer?))", "the leak");
	ASSERT_HAS(out, "ERROR: LeakSanitizer: detected memory leaks",
		   "LeakSanitizer's report");
	ASSERT_HAS(out, "\n0 passed, 1 failed, 0 skipped\n", "summary line");
}

KOPT_TEST(runner_rejects_bad_timeout_scale)
{
	char self[PATH_MAX];

	if (!self_exe(self, sizeof(self)))
		return;
	ASSERT_REFUSES(2, "KOPT_TEST_TIMEOUT_SCALE='0'",
		       "KOPT_TEST_TIMEOUT_SCALE=0 '%s' -t nosuchtest", self);
	ASSERT_REFUSES(2, "need a number > 0",
		       "KOPT_TEST_TIMEOUT_SCALE=fast '%s' -t nosuchtest", self);
}
