// SPDX-License-Identifier: GPL-2.0-only
/*
 * The README stands alone: every document it links to is in the
 * repository (a user's clone has no sibling folders); its ten-second
 * first step runs as written; no help text or README line promises what
 * already exists as missing.
 */
#define _GNU_SOURCE
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

KOPT_TEST(docs_readme_links_resolve)
{
	char top[PATH_MAX], tmp[PATH_MAX], path[PATH_MAX * 2], *text;
	size_t links = 0;

	snprintf(tmp, sizeof(tmp), "%s", kopt_test_builddir());
	snprintf(top, sizeof(top), "%s", dirname(tmp));
	snprintf(path, sizeof(path), "%s/README.md", top);
	text = kopt_test_read_file(path);
	if (!text) {
		__KOPT_FAIL("%s: cannot read", path);
		return;
	}
	for (char *p = text; p && (p = strstr(p, "](")); p++) {
		char target[512];
		size_t n = strcspn(p + 2, ")#");

		if (n == 0 || n >= sizeof(target))
			continue;
		snprintf(target, sizeof(target), "%.*s", (int)n, p + 2);
		if (strstr(target, "://") || !strncmp(target, "mailto:", 7))
			continue;
		links++;
		snprintf(path, sizeof(path), "%s/%s", top, target);
		ASSERT_TRUE(strncmp(target, "../", 3) != 0, target);
		ASSERT_OK(access(path, R_OK), target);
	}
	ASSERT_GT(links, 0, "the README links to documents");
	free(text);
}

static char *readme(void)
{
	char tmp[PATH_MAX], path[PATH_MAX + 16];

	snprintf(tmp, sizeof(tmp), "%s", kopt_test_builddir());
	snprintf(path, sizeof(path), "%s/README.md", dirname(tmp));
	return kopt_test_read_file(path);
}

/*
 * The quick start's no-root step, taken from the README itself: each
 * command of the sh block after "Ten seconds" (continuation lines
 * joined), build/kopt replaced by the binary under test and /tmp/ by
 * this test's directory. It must run, and the report must draw.
 */
KOPT_TEST_TIMEOUT(docs_quick_start_runs, 300)
{
	static char out[65536];
	char *text = readme(), *p, *end, *line, *save = NULL;
	char dir[PATH_MAX], cmd[4096], png[PATH_MAX + 32];
	int ncmd = 0;

	if (!ASSERT_OK_PTR(text, "README.md"))
		return;
	p = strstr(text, "Ten seconds");
	p = p ? strstr(p, "```sh\n") : NULL;
	end = p ? strstr(p + 6, "```") : NULL;
	if (!ASSERT_OK_PTR(end, "the ten-second block in the README"))
		goto out;
	*end = '\0';
	snprintf(dir, sizeof(dir), "%s/quick", kopt_test_tmpdir());
	mkdir(dir, 0700);
	cmd[0] = '\0';
	for (line = strtok_r(p + 6, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(line);
		bool more = n && line[n - 1] == '\\';
		char word[PATH_MAX + 16];

		/* rewrite the two paths word by word */
		for (char *w = line; *w;) {
			size_t k = strcspn(w, " ");

			snprintf(word, sizeof(word), "%.*s", (int)k, w);
			if (!strcmp(word, "build/kopt")) {
				strncat(cmd, kopt_test_bin(),
					sizeof(cmd) - strlen(cmd) - 2);
			} else if (!strncmp(word, "/tmp/", 5)) {
				strncat(cmd, dir,
					sizeof(cmd) - strlen(cmd) - 2);
				strncat(cmd, word + 4,
					sizeof(cmd) - strlen(cmd) - 2);
			} else if (strcmp(word, "\\")) {
				strncat(cmd, word,
					sizeof(cmd) - strlen(cmd) - 2);
			}
			strncat(cmd, " ", sizeof(cmd) - strlen(cmd) - 1);
			w += k;
			w += strspn(w, " ");
		}
		if (more)
			continue;
		if (!strcmp(cmd, "make ")) {
			cmd[0] = '\0'; /* the test build is made */
			continue;
		}
		ncmd++;
		ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s", cmd), 0, cmd);
		cmd[0] = '\0';
	}
	ASSERT_EQ(ncmd, 2, "kopt run and kopt report");
	snprintf(png, sizeof(png), "%s/report/energy_latency.png", dir);
	ASSERT_OK(access(png, R_OK), "the report drew its picture");
out:
	free(text);
}

/* Lines a first hour found stale must not come back. */
KOPT_TEST(docs_no_stale_promises)
{
	static char out[16384];
	char *text = readme();

	if (!ASSERT_OK_PTR(text, "README.md"))
		return;
	ASSERT_FALSE(strstr(text, "not yet available"), "README: 'not yet'");
	ASSERT_FALSE(strstr(text, "../shared/"), "README: steering repo");
	free(text);
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s --help", kopt_test_bin()),
		  0, "kopt --help");
	ASSERT_FALSE(strstr(out, "built-in plants (sim)"), "kopt --help");
	ASSERT_HAS(out, "host", "kopt --help names the host plant");
}
