/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Minimal test_progs-style harness for kopt.
 *
 * A test is a function declared with KOPT_TEST(name) in any
 * selftests/test_*.c file; it registers itself through a constructor, so
 * adding a file is all it takes. Inside a test, ASSERT_* macros print
 * "func:FAIL:what actual X != expected Y" and mark the test failed (they
 * return a bool so a test can bail out: `if (!ASSERT_OK(err, "load")) return;`).
 * SKIP("reason") ends the test as skipped: a test the host cannot run is a
 * skip with its reason printed, never a pass.
 *
 * Every test runs in its own forked child, the leader of its own process
 * group, like kselftest_harness.h: a crash, a sanitizer report (ASan, UBSan,
 * LeakSanitizer at the child's exit) or a hang fails that test alone and
 * the run goes on. So tests share no memory: a test computes what it needs
 * itself, and whatever it sets (static variables, the environment) is gone
 * when it ends. Files in kopt_test_tmpdir() outlive it. A test has
 * KOPT_TEST_DEFAULT_TIMEOUT seconds, or what KOPT_TEST_TIMEOUT() gives it;
 * the environment variable KOPT_TEST_TIMEOUT_SCALE (a factor, default 1)
 * scales every limit for slow machines.
 *
 * Why not Criterion/cmocka: the skip-with-reason accounting and output of
 * the kernel's test_progs, and a fork per test that keeps LeakSanitizer
 * checking each test, take ~550 lines here (selftests/runner.c).
 */
#ifndef KOPT_SELFTESTS_TEST_H
#define KOPT_SELFTESTS_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <math.h>

/* A test's time limit unless KOPT_TEST_TIMEOUT() says otherwise, seconds. */
#define KOPT_TEST_DEFAULT_TIMEOUT 120

struct kopt_test {
	const char *name;
	void (*fn)(void);
	/* limit in seconds before KOPT_TEST_TIMEOUT_SCALE; 0: the default */
	unsigned int timeout;
	struct kopt_test *next;
};

void kopt_test_register(struct kopt_test *t);
/* Marks the current test failed (used by the ASSERT macros). */
void kopt_test_fail(void);
/* Marks the current test skipped with a reason; the caller must return. */
void kopt_test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Path of the kopt binary under test (sanitized build). */
const char *kopt_test_bin(void);
/* Directory of build outputs (BPF objects etc.). */
const char *kopt_test_builddir(void);
/* Per-run scratch directory (removed at exit unless KOPT_KEEP_TMP=1). */
const char *kopt_test_tmpdir(void);
/* A whole file as a NUL-terminated string (free it); NULL if unreadable. */
char *kopt_test_read_file(const char *path);
/*
 * Runs a shell command (printf-style, any length), captures up to cap-1
 * bytes of its output into out (may be NULL; the rest is read and dropped)
 * and returns its exit status, or -1 if it could not run or was killed.
 * Stdout and stderr are captured together unless the command redirects
 * them itself: it runs as `{ CMD<newline>} 2>&1`, so its own `2>/dev/null`
 * or `>file` wins, and a trailing `# comment` or `&` stays harmless.
 */
int kopt_test_run(char *out, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct json_object;
/*
 * The JSON object in a command's output: at its start, or at the first
 * line that starts with '{' (after a harness's own lines); NULL if none
 * parses. Put it with json_object_put().
 */
struct json_object *kopt_test_json(const char *out);

/*
 * KOPT_TEST_TIMEOUT(name, seconds) { ... }: a test with its own time limit
 * (before KOPT_TEST_TIMEOUT_SCALE), for a test that legitimately runs long:
 * one that boots a guest, builds or unpacks a kernel.
 */
#define KOPT_TEST_TIMEOUT(tname, secs)                                    \
	static void test_##tname(void);                                   \
	static struct kopt_test __kopt_test_##tname = {                   \
		.name = #tname,                                           \
		.fn = test_##tname,                                       \
		.timeout = (secs),                                        \
	};                                                                \
	__attribute__((constructor)) static void __kopt_reg_##tname(void) \
	{                                                                 \
		kopt_test_register(&__kopt_test_##tname);                 \
	}                                                                 \
	static void test_##tname(void)

#define KOPT_TEST(tname) KOPT_TEST_TIMEOUT(tname, KOPT_TEST_DEFAULT_TIMEOUT)

#define SKIP(...) kopt_test_skip(__VA_ARGS__)

#define __KOPT_FAIL(fmt, ...)                                                  \
	({                                                                     \
		fprintf(stderr, "%s:%d:%s:FAIL:" fmt "\n", __FILE__, __LINE__, \
			__func__, ##__VA_ARGS__);                              \
		kopt_test_fail();                                              \
	})

#define ASSERT_TRUE(cond, name)                                              \
	({                                                                   \
		bool ___ok = (cond);                                         \
		if (!___ok)                                                  \
			__KOPT_FAIL("%s unexpected false: %s", name, #cond); \
		___ok;                                                       \
	})

#define ASSERT_FALSE(cond, name) ASSERT_TRUE(!(cond), name)

#define ASSERT_EQ(actual, expected, name)                                    \
	({                                                                   \
		long long ___a = (long long)(actual);                        \
		long long ___e = (long long)(expected);                      \
		bool ___ok = ___a == ___e;                                   \
		if (!___ok)                                                  \
			__KOPT_FAIL("%s actual %lld != expected %lld", name, \
				    ___a, ___e);                             \
		___ok;                                                       \
	})

#define ASSERT_NEQ(actual, expected, name)                                   \
	({                                                                   \
		long long ___a = (long long)(actual);                        \
		long long ___e = (long long)(expected);                      \
		bool ___ok = ___a != ___e;                                   \
		if (!___ok)                                                  \
			__KOPT_FAIL("%s actual %lld == expected %lld", name, \
				    ___a, ___e);                             \
		___ok;                                                       \
	})

/* True if x has a floating type: such operands are compared as double. */
#define __KOPT_IS_FP(x) \
	_Generic((x), float : 1, double : 1, long double : 1, default : 0)

#define __KOPT_CMP(actual, op, bound, name)                                   \
	({                                                                    \
		bool ___fp = __KOPT_IS_FP(actual) || __KOPT_IS_FP(bound);     \
		double ___da = (double)(actual), ___db = (double)(bound);     \
		long long ___a = (long long)(actual);                         \
		long long ___b = (long long)(bound);                          \
		bool ___ok = ___fp ? ___da op ___db : ___a op ___b;           \
		if (!___ok && ___fp)                                          \
			__KOPT_FAIL("%s actual %.12g not %s %.12g", name,     \
				    ___da, #op, ___db);                       \
		else if (!___ok)                                              \
			__KOPT_FAIL("%s actual %lld not %s %lld", name, ___a, \
				    #op, ___b);                               \
		___ok;                                                        \
	})

#define ASSERT_LT(a, b, name) __KOPT_CMP(a, <, b, name)
#define ASSERT_LE(a, b, name) __KOPT_CMP(a, <=, b, name)
#define ASSERT_GT(a, b, name) __KOPT_CMP(a, >, b, name)
#define ASSERT_GE(a, b, name) __KOPT_CMP(a, >=, b, name)

#define ASSERT_OK(res, name)                                                \
	({                                                                  \
		long long ___r = (long long)(res);                          \
		bool ___ok = ___r == 0;                                     \
		if (!___ok)                                                 \
			__KOPT_FAIL("%s unexpected error: %lld (errno %d)", \
				    name, ___r, errno);                     \
		___ok;                                                      \
	})

#define ASSERT_ERR(res, name)                                            \
	({                                                               \
		long long ___r = (long long)(res);                       \
		bool ___ok = ___r < 0;                                   \
		if (!___ok)                                              \
			__KOPT_FAIL("%s unexpected success: %lld", name, \
				    ___r);                               \
		___ok;                                                   \
	})

#define ASSERT_OK_PTR(ptr, name)                                           \
	({                                                                 \
		const void *___p = (ptr);                                  \
		bool ___ok = ___p != NULL;                                 \
		if (!___ok)                                                \
			__KOPT_FAIL("%s unexpected NULL (errno %d)", name, \
				    errno);                                \
		___ok;                                                     \
	})

#define ASSERT_NULL(ptr, name)                                       \
	({                                                           \
		const void *___p = (ptr);                            \
		bool ___ok = ___p == NULL;                           \
		if (!___ok)                                          \
			__KOPT_FAIL("%s unexpected non-NULL", name); \
		___ok;                                               \
	})

#define ASSERT_STREQ(actual, expected, name)                                 \
	({                                                                   \
		const char *___a = (actual);                                 \
		const char *___e = (expected);                               \
		bool ___ok = ___a && ___e && strcmp(___a, ___e) == 0;        \
		if (!___ok)                                                  \
			__KOPT_FAIL("%s actual '%s' != expected '%s'", name, \
				    ___a ? ___a : "(null)",                  \
				    ___e ? ___e : "(null)");                 \
		___ok;                                                       \
	})

#define ASSERT_HAS(haystack, needle, name)                                  \
	({                                                                  \
		const char *___h = (haystack);                              \
		const char *___n = (needle);                                \
		bool ___ok = ___h && strstr(___h, ___n) != NULL;            \
		if (!___ok)                                                 \
			__KOPT_FAIL("%s: '%s' not found in '%.400s'", name, \
				    ___n, ___h ? ___h : "(null)");          \
		___ok;                                                      \
	})

/*
 * A command that must refuse: runs it (printf-style, stdout and stderr
 * captured as kopt_test_run() does), expects exit status code and needle
 * in its output.
 */
#define ASSERT_REFUSES(code, needle, ...)                                   \
	({                                                                  \
		static char ___out[8192];                                   \
		int ___rc =                                                 \
			kopt_test_run(___out, sizeof(___out), __VA_ARGS__); \
		bool ___ok = ASSERT_EQ(___rc, code, ___out);                \
		ASSERT_HAS(___out, needle, "the refusal says") && ___ok;    \
	})

/*
 * A command that must print a JSON object: runs it (printf-style into
 * out), expects exit status 0 and parses the object (kopt_test_json);
 * NULL if either fails, the test then failed.
 */
#define KOPT_TEST_RUN_JSON(out, cap, ...)                                   \
	({                                                                  \
		struct json_object *___o = NULL;                            \
		if (ASSERT_OK(kopt_test_run(out, cap, __VA_ARGS__), out)) { \
			___o = kopt_test_json(out);                         \
			ASSERT_OK_PTR(___o, "the command's JSON");          \
		}                                                           \
		___o;                                                       \
	})

#define ASSERT_NEAR(actual, expected, tol, name)                         \
	({                                                               \
		double ___a = (double)(actual);                          \
		double ___e = (double)(expected);                        \
		double ___t = (double)(tol);                             \
		bool ___ok = fabs(___a - ___e) <= ___t;                  \
		if (!___ok)                                              \
			__KOPT_FAIL("%s actual %.12g != expected %.12g " \
				    "(tol %g)",                          \
				    name, ___a, ___e, ___t);             \
		___ok;                                                   \
	})

#endif /* KOPT_SELFTESTS_TEST_H */
