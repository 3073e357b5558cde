// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kopt test runner (build/test/test_progs), modelled on the kernel's
 * test_progs: every KOPT_TEST() registers itself; the runner runs them in
 * name order, prints one line per test and ends with the summary line
 * "N passed, N failed, N skipped" followed by the skipped tests and why.
 *
 *   test_progs [-t substr[,substr...]] [-l]
 *
 * Tests named vm_* need the Linux 6.12 guest (make vmtest): outside it,
 * KOPT_IN_VM unset, they are skipped with that reason.
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "test.h"

enum test_state { T_PASS, T_FAIL, T_SKIP };

static struct kopt_test *tests;
static int nr_tests;
static enum test_state cur_state;
static char skip_reason[512];
static char tmpdir[64];

struct skip_rec {
	const char *name;
	char reason[512];
};

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

static void cleanup_tmpdir(void)
{
	const char *keep = getenv("KOPT_KEEP_TMP");

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

static enum test_state run_one(struct kopt_test *t)
{
	cur_state = T_PASS;
	skip_reason[0] = '\0';
	if (!strncmp(t->name, "vm_", 3) && !in_vm()) {
		snprintf(skip_reason, sizeof(skip_reason),
			 "needs the Linux 6.12 guest: run `make vmtest`");
		return T_SKIP;
	}
	t->fn();
	fflush(stdout);
	fflush(stderr);
	return cur_state;
}

static void usage(const char *prog)
{
	printf("Usage: %s [-t substr[,substr...]] [-l]\n"
	       "  -t  run only tests whose name contains one of the strings\n"
	       "  -l  list test names and exit\n",
	       prog);
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0, skipped = 0, i, n = 0, opt;
	struct kopt_test **list, *t;
	const char *filter = NULL;
	struct skip_rec *skips;
	bool list_only = false;

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
	setvbuf(stdout, NULL, _IOLBF, 0);
	list = calloc(nr_tests, sizeof(*list));
	skips = calloc(nr_tests, sizeof(*skips));
	if (!list || !skips)
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
	atexit(cleanup_tmpdir);
	for (i = 0; i < n; i++) {
		if (!selected(list[i]->name, filter))
			continue;
		switch (run_one(list[i])) {
		case T_PASS:
			passed++;
			printf("#%-3d %-44s OK\n", i + 1, list[i]->name);
			break;
		case T_FAIL:
			failed++;
			printf("#%-3d %-44s FAIL\n", i + 1, list[i]->name);
			break;
		case T_SKIP:
			skips[skipped].name = list[i]->name;
			snprintf(skips[skipped].reason,
				 sizeof(skips[skipped].reason), "%s",
				 skip_reason);
			skipped++;
			printf("#%-3d %-44s SKIP (%s)\n", i + 1, list[i]->name,
			       skip_reason);
			break;
		}
	}
	if (skipped) {
		printf("\nSkipped tests:\n");
		for (i = 0; i < skipped; i++)
			printf("  %s: %s\n", skips[i].name, skips[i].reason);
	}
	printf("\n%d passed, %d failed, %d skipped\n", passed, failed, skipped);
out:
	free(list);
	free(skips);
	return failed ? 1 : 0;
}
