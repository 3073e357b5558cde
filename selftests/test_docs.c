// SPDX-License-Identifier: GPL-2.0-only
/*
 * The README stands alone: every document it links to is in the
 * repository (a user's clone has no sibling folders).
 */
#define _GNU_SOURCE
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"

KOPT_TEST(docs_readme_links_resolve)
{
	char top[PATH_MAX], tmp[PATH_MAX], path[PATH_MAX * 2], *text = NULL;
	size_t cap = 0, links = 0;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s", kopt_test_builddir());
	snprintf(top, sizeof(top), "%s", dirname(tmp));
	snprintf(path, sizeof(path), "%s/README.md", top);
	f = fopen(path, "r");
	if (!f) {
		__KOPT_FAIL("%s: cannot open", path);
		return;
	}
	getdelim(&text, &cap, '\0', f);
	fclose(f);
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
