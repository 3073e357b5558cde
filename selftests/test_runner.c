// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of the test runner itself (selftests/runner.c).
 *
 * kopt_test_run(): stdout and stderr are captured together by default, a
 * command's own redirection wins, the exit status comes back, and a
 * trailing comment or '&' cannot break the command.
 */
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
