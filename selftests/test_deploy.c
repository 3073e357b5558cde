// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a user installs and deploys, checked against the binaries:
 *
 * - the man pages document every option each command's --help prints,
 *   and nothing it does not (docs/man/kopt.8: one .SS "kopt CMD [SUB]"
 *   per command, one .TP per option; koptd.8: the .TP tags of OPTIONS),
 *   and groff renders them without a warning;
 * - `make install` into a DESTDIR lays out the tree the man pages and
 *   the README describe, and the installed kopt runs its lab commands
 *   through the kopt-lab beside it;
 * - bash completion offers every command, subcommand and option the
 *   help lists, and files by kind for the options that take one;
 * - the Kubernetes manifest and the Prometheus alerting rules are valid
 *   (python3-kubernetes' models, promtool) and keep to what koptd needs,
 *   and docs/fleet.md's scrape config and queries parse.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define OUT_CAP (256 * 1024)

struct strset {
	char **v;
	size_t n;
};

static bool set_has(const struct strset *s, const char *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], x))
			return true;
	return false;
}

static void set_add(struct strset *s, const char *x)
{
	if (set_has(s, x))
		return;
	s->v = realloc(s->v, (s->n + 1) * sizeof(*s->v));
	s->v[s->n++] = strdup(x);
}

static void set_free(struct strset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static const char *top_dir(void)
{
	static char top[PATH_MAX];
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", kopt_test_builddir());
	snprintf(top, sizeof(top), "%s", dirname(tmp));
	return top;
}

/*
 * The options of a kopt_opts_help() text, as "SECTION\t--name" and
 * "SECTION\t-x" (help itself left out: every command has it, the man
 * pages say so once). Option lines are "  -x, --name ..." or
 * "      --name ..."; a wrapped help line is indented deeper.
 */
static void help_options(const char *help, const char *section,
			 struct strset *opts)
{
	char key[256];

	for (const char *l = help; l && *l;
	     l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		const char *p = NULL;
		char name[64];
		int n = 0;

		if (!strncmp(l, "  -", 3) && isalnum((unsigned char)l[3]) &&
		    (l[4] == ',' || l[4] == ' ')) {
			if (l[3] != 'h') {
				snprintf(key, sizeof(key), "%s\t-%c", section,
					 l[3]);
				set_add(opts, key);
			}
			if (!strncmp(l + 4, ", --", 4))
				p = l + 8;
		} else if (!strncmp(l, "      --", 8)) {
			p = l + 8;
		}
		if (!p)
			continue;
		while (n < (int)sizeof(name) - 1 &&
		       (isalnum((unsigned char)p[n]) || p[n] == '-'))
			n++;
		snprintf(name, sizeof(name), "%.*s", n, p);
		if (n && strcmp(name, "help")) {
			snprintf(key, sizeof(key), "%s\t--%s", section, name);
			set_add(opts, key);
		}
	}
}

/* The names under "Commands:" in a dispatcher's help. */
static void help_commands(const char *help, struct strset *cmds)
{
	const char *l = strstr(help, "\nCommands:\n");

	if (!l)
		return;
	for (l = strchr(l + 1, '\n') + 1;
	     !strncmp(l, "  ", 2) && isalpha((unsigned char)l[2]);
	     l = strchr(l, '\n') + 1) {
		char name[64];
		int n = 0;

		while (n < (int)sizeof(name) - 1 && l[2 + n] != ' ' &&
		       l[2 + n] != '\n')
			n++;
		snprintf(name, sizeof(name), "%.*s", n, l + 2);
		set_add(cmds, name);
		if (!strchr(l, '\n'))
			break;
	}
}

/*
 * Walks `kopt [PATH] --help` down every dispatcher: the leaf commands
 * ("model load") into leaves, every level's options into opts.
 */
static bool walk_help(const char *bin, const char *path, struct strset *leaves,
		      struct strset *opts)
{
	struct strset cmds = {};
	char *out = malloc(OUT_CAP);
	bool ok = true;
	int rc;

	rc = kopt_test_run(out, OUT_CAP, "%s %s --help", bin, path);
	if (!ASSERT_EQ(rc, 0, path[0] ? path : "kopt --help")) {
		free(out);
		return false;
	}
	help_options(out, path, opts);
	help_commands(out, &cmds);
	if (!cmds.n && path[0])
		set_add(leaves, path);
	for (size_t i = 0; ok && i < cmds.n; i++) {
		char sub[256];

		snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? " " : "",
			 cmds.v[i]);
		ok = walk_help(bin, sub, leaves, opts);
	}
	set_free(&cmds);
	free(out);
	return ok;
}

/*
 * troff text to plain: italic text (a metavar such as IN-H1[-H2]-1, not
 * an option) and font escapes dropped, \- and \e resolved.
 */
static void unescape(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = in; *p && *p != '\n' && o + 1 < len; p++) {
		if (p[0] == '\\' && p[1] == 'f' && p[2] == 'I') {
			const char *end = strstr(p + 3, "\\f");

			if (!end)
				break;
			p = end + 2;
			continue;
		}
		if (p[0] == '\\' && p[1] == 'f' && p[2]) {
			p += 2;
			continue;
		}
		if (p[0] == '\\' && (p[1] == '-' || p[1] == 'e')) {
			out[o++] = p[1] == '-' ? '-' : '\\';
			p++;
			continue;
		}
		out[o++] = *p;
	}
	out[o] = '\0';
}

/*
 * The options a man page documents: every -x and --name in the tag line
 * of a .TP, by section. kopt.8: OPTIONS is the global section (""), each
 * .SS "kopt CMD" under COMMANDS the command's. koptd.8: OPTIONS only.
 */
static void man_options(const char *text, bool subsections,
			struct strset *sections, struct strset *opts)
{
	char sec[256], tag[1024], key[512];
	bool in = false, tp = false;

	for (const char *l = text; l && *l;
	     l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (!strncmp(l, ".SH ", 4)) {
			in = !strncmp(l + 4, "OPTIONS", 7);
			sec[0] = '\0';
			tp = false;
			continue;
		}
		if (subsections && !strncmp(l, ".SS \"kopt ", 10)) {
			int n = strcspn(l + 10, "\"\n");

			snprintf(sec, sizeof(sec), "%.*s", n, l + 10);
			set_add(sections, sec);
			in = true;
			tp = false;
			continue;
		}
		if (!strncmp(l, ".SS ", 4)) {
			in = false;
			continue;
		}
		if (!strncmp(l, ".TP", 3)) {
			tp = true;
			continue;
		}
		if (!tp || !in)
			continue;
		tp = false;
		unescape(l, tag, sizeof(tag));
		for (char *t = strtok(tag, " ,|[]="); t;
		     t = strtok(NULL, " ,|[]=")) {
			int n = 0;

			if (!strncmp(t, "--", 2)) {
				while (isalnum((unsigned char)t[2 + n]) ||
				       t[2 + n] == '-')
					n++;
				if (n && strncmp(t + 2, "help", 4)) {
					snprintf(key, sizeof(key), "%s\t--%.*s",
						 sec, n, t + 2);
					set_add(opts, key);
				}
			} else if (t[0] == '-' &&
				   isalnum((unsigned char)t[1]) && !t[2] &&
				   t[1] != 'h') {
				snprintf(key, sizeof(key), "%s\t-%c", sec,
					 t[1]);
				set_add(opts, key);
			}
		}
	}
}

/* "model load\t--socket" -> "model load --socket" for messages. */
static const char *show(const char *key)
{
	static char buf[512];
	char *tab;

	snprintf(buf, sizeof(buf), "%s", key);
	tab = strchr(buf, '\t');
	if (tab)
		*tab = ' ';
	return buf[0] == ' ' ? buf + 1 : buf;
}

KOPT_TEST(man_kopt_documents_every_option)
{
	struct strset leaves = {}, hopts = {}, sections = {}, mopts = {};
	char path[PATH_MAX];
	char *man;

	snprintf(path, sizeof(path), "%s/docs/man/kopt.8", top_dir());
	man = kopt_test_read_file(path);
	if (!ASSERT_OK_PTR(man, path))
		return;
	if (!walk_help(kopt_test_bin(), "", &leaves, &hopts))
		goto out;
	man_options(man, true, &sections, &mopts);
	ASSERT_GT(leaves.n, 20, "commands found in kopt --help");
	ASSERT_GT(hopts.n, 100, "options found in the commands' --help");

	/* every command and option the help lists is in the man page */
	for (size_t i = 0; i < leaves.n; i++)
		if (!set_has(&sections, leaves.v[i]))
			__KOPT_FAIL("kopt %s: no .SS \"kopt %s\" in %s",
				    leaves.v[i], leaves.v[i], path);
	for (size_t i = 0; i < hopts.n; i++)
		if (!set_has(&mopts, hopts.v[i]))
			__KOPT_FAIL("kopt %s: in --help, not in %s",
				    show(hopts.v[i]), path);

	/* and the man page documents nothing the binary lacks */
	for (size_t i = 0; i < sections.n; i++) {
		if (set_has(&leaves, sections.v[i]))
			continue;
		__KOPT_FAIL("%s: .SS \"kopt %s\": no such command in kopt",
			    path, sections.v[i]);
	}
	for (size_t i = 0; i < mopts.n; i++) {
		if (set_has(&hopts, mopts.v[i]))
			continue;
		__KOPT_FAIL("%s: kopt %s is documented, not in its --help",
			    path, show(mopts.v[i]));
	}
out:
	set_free(&leaves);
	set_free(&hopts);
	set_free(&sections);
	set_free(&mopts);
	free(man);
}

/* build/koptd (or the test build's), if this tree builds it. */
static bool koptd_bin(char *buf, size_t len)
{
	snprintf(buf, len, "%s/test/koptd", kopt_test_builddir());
	if (access(buf, X_OK) == 0)
		return true;
	snprintf(buf, len, "%s/koptd", kopt_test_builddir());
	return access(buf, X_OK) == 0;
}

KOPT_TEST(man_koptd_documents_every_option)
{
	struct strset hopts = {}, sections = {}, mopts = {};
	char path[PATH_MAX], bin[PATH_MAX];
	char *man, *out;

	if (!koptd_bin(bin, sizeof(bin))) {
		SKIP("build/koptd is not built in this tree: koptd.8's options "
		     "cannot be compared with its --help");
		return;
	}
	snprintf(path, sizeof(path), "%s/docs/man/koptd.8", top_dir());
	man = kopt_test_read_file(path);
	if (!ASSERT_OK_PTR(man, path))
		return;
	out = malloc(OUT_CAP);
	ASSERT_EQ(kopt_test_run(out, OUT_CAP, "%s --help", bin), 0,
		  "koptd --help");
	help_options(out, "", &hopts);
	man_options(man, false, &sections, &mopts);
	ASSERT_GE(hopts.n, 4, "options in koptd --help");
	for (size_t i = 0; i < hopts.n; i++)
		if (!set_has(&mopts, hopts.v[i]))
			__KOPT_FAIL("koptd %s: in --help, not in %s",
				    show(hopts.v[i]), path);
	for (size_t i = 0; i < mopts.n; i++)
		if (!set_has(&hopts, mopts.v[i]))
			__KOPT_FAIL("%s: koptd %s is documented, not in its "
				    "--help",
				    path, show(mopts.v[i]));
	set_free(&hopts);
	set_free(&sections);
	set_free(&mopts);
	free(out);
	free(man);
}

KOPT_TEST(man_pages_render_without_warnings)
{
	static const char *const pages[] = { "kopt.8", "koptd.8" };
	char out[8192];

	if (kopt_test_run(NULL, 0, "command -v groff && command -v man")) {
		SKIP("groff or man missing (groff-base, man-db: make deps)");
		return;
	}
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		int rc;

		rc = kopt_test_run(out, sizeof(out),
				   "groff -man -ww -z %s/docs/man/%s",
				   top_dir(), pages[i]);
		ASSERT_EQ(rc, 0, pages[i]);
		ASSERT_STREQ(out, "", "groff -ww says nothing");
		/* man-db's own check: its preprocessors and the tbl/eqn run */
		rc = kopt_test_run(
			out, sizeof(out),
			"MANWIDTH=80 man --warnings -l %s/docs/man/%s"
			" 2>&1 >/dev/null",
			top_dir(), pages[i]);
		ASSERT_EQ(rc, 0, pages[i]);
		ASSERT_STREQ(out, "", "man --warnings says nothing");
	}
}

static bool mode_is(const char *path, mode_t mode)
{
	struct stat st;

	if (stat(path, &st)) {
		__KOPT_FAIL("%s: not installed", path);
		return false;
	}
	if ((st.st_mode & 07777) != mode) {
		__KOPT_FAIL("%s: mode %04o, expected %04o", path,
			    st.st_mode & 07777, mode);
		return false;
	}
	return true;
}

KOPT_TEST_TIMEOUT(install_destdir_tree, 300)
{
	static const char *const files[] = {
		"usr/share/man/man8/kopt.8",
		"usr/share/man/man8/koptd.8",
		"usr/share/bash-completion/completions/kopt",
		"usr/share/bash-completion/completions/koptd",
		"usr/share/kopt/policies/memcached-sla500.conf",
		"usr/share/kopt/policies/sim-memcached.params",
		"usr/share/kopt/policies/scenarios/hostile.scenario",
		"usr/share/kopt/policies/data/README.md",
	};
	char dest[PATH_MAX], p[PATH_MAX * 2], out[16384];
	const char *top = top_dir();
	int rc;

	snprintf(dest, sizeof(dest), "%s/install-%d", kopt_test_tmpdir(),
		 getpid());
	/* a make of its own: not the jobserver of the make running us */
	rc = kopt_test_run(out, sizeof(out),
			   "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "
			   "make -s -C %s install DESTDIR=%s PREFIX=/usr",
			   top, dest);
	if (!ASSERT_EQ(rc, 0, "make install")) {
		fprintf(stderr, "%s\n", out);
		return;
	}
	snprintf(p, sizeof(p), "%s/usr/bin/kopt", dest);
	mode_is(p, 0755);
	snprintf(p, sizeof(p), "%s/usr/bin/kopt-lab", dest);
	mode_is(p, 0755);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dest, files[i]);
		mode_is(p, 0644);
	}
	/* bash-completion loads a command's file by its name */
	rc = kopt_test_run(out, sizeof(out),
			   "readlink %s/usr/share/bash-completion/completions/"
			   "kopt-lab",
			   dest);
	ASSERT_STREQ(out, "kopt\n", "kopt-lab's completion is kopt's");
	/* every policy, scenario and sweep, and nothing else */
	rc = kopt_test_run(
		out, sizeof(out),
		"cd %s/policies && find . -type f | sort > %s.src && "
		"cd %s/usr/share/kopt/policies && "
		"find . -type f | sort > %s.inst && "
		"diff %s.src %s.inst",
		top, dest, dest, dest, dest, dest);
	ASSERT_EQ(rc, 0, "installed policies = policies/");
	/* nothing outside PREFIX */
	rc = kopt_test_run(out, sizeof(out), "ls -A %s", dest);
	ASSERT_STREQ(out, "usr\n", "DESTDIR holds usr/ only");

	snprintf(p, sizeof(p), "%s/koptd", kopt_test_builddir());
	if (access(p, X_OK) == 0) {
		snprintf(p, sizeof(p), "%s/usr/sbin/koptd", dest);
		mode_is(p, 0755);
	} else {
		printf("install: build/koptd not built here: usr/sbin/koptd "
		       "not checked\n");
	}
	snprintf(p, sizeof(p), "%s/deploy/systemd/koptd.service", top);
	if (access(p, R_OK) == 0) {
		snprintf(p, sizeof(p),
			 "%s/usr/lib/systemd/system/koptd.service", dest);
		if (mode_is(p, 0644)) {
			rc = kopt_test_run(out, sizeof(out),
					   "grep '^ExecStart=' %s", p);
			ASSERT_HAS(out, "ExecStart=/usr/sbin/koptd",
				   "installed unit runs the installed koptd");
		}
	} else {
		printf("install: deploy/systemd/koptd.service not in this "
		       "tree: the unit not checked\n");
	}

	/* the installed kopt runs, and finds the installed kopt-lab */
	rc = kopt_test_run(out, sizeof(out),
			   "env -u KOPT_LAB %s/usr/bin/kopt --version", dest);
	ASSERT_EQ(rc, 0, "installed kopt --version");
	rc = kopt_test_run(out, sizeof(out),
			   "env -u KOPT_LAB %s/usr/bin/kopt bench mlp --help",
			   dest);
	ASSERT_EQ(rc, 0, "installed kopt bench (through kopt-lab)");
	ASSERT_HAS(out, "Usage: kopt bench mlp", "kopt-lab answered");
	/* man finds the pages by name in the installed tree */
	rc = kopt_test_run(out, sizeof(out),
			   "man -M %s/usr/share/man -w 8 koptd", dest);
	ASSERT_EQ(rc, 0, "man -w koptd");
	snprintf(p, sizeof(p), "%s/usr/share/man/man8/koptd.8\n", dest);
	ASSERT_STREQ(out, p, "man finds the installed koptd(8)");
}

/* Completion offers for a command line; out: one word per line. */
static int complete(char *out, size_t len, const char *dir, const char *script,
		    const char *line)
{
	char bindir[PATH_MAX];

	snprintf(bindir, sizeof(bindir), "%s", kopt_test_bin());
	*strrchr(bindir, '/') = '\0';
	return kopt_test_run(out, len,
			     "cd %s && PATH=%s:$PATH bash --norc "
			     "%s/selftests/complete.sh "
			     "%s/contrib/bash-completion/%s %s 2>/dev/null",
			     dir, bindir, top_dir(), top_dir(), script, line);
}

/* Every word of want (one per line, from `kopt ... --help`) is offered. */
static void offers_all(const char *got, const struct strset *want,
		       const char *what)
{
	char word[128];

	for (size_t i = 0; i < want->n; i++) {
		snprintf(word, sizeof(word), "\n%s\n", want->v[i]);
		char *padded;

		if (asprintf(&padded, "\n%s", got) < 0)
			return;
		if (!strstr(padded, word))
			__KOPT_FAIL("%s: %s not offered", what, want->v[i]);
		free(padded);
	}
}

KOPT_TEST(completion_kopt)
{
	struct strset want = {}, leaves = {}, opts = {};
	char dir[PATH_MAX], out[16384], help[16384];

	if (access("/usr/share/bash-completion/bash_completion", R_OK)) {
		SKIP("bash-completion not installed (make deps)");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/comp-%d", kopt_test_tmpdir(), getpid());
	if (!ASSERT_OK(kopt_test_run(NULL, 0,
				     "mkdir -p %s/sub && touch %s/a.conf "
				     "%s/b.kmlp %s/c.csv",
				     dir, dir, dir, dir),
		       "fixture"))
		return;

	/* every command kopt --help lists */
	ASSERT_EQ(kopt_test_run(help, sizeof(help), "%s --help",
				kopt_test_bin()),
		  0, "kopt --help");
	help_commands(help, &want);
	ASSERT_GT(want.n, 10, "commands in kopt --help");
	ASSERT_EQ(complete(out, sizeof(out), dir, "kopt", "kopt ''"), 0,
		  "kopt <TAB>");
	offers_all(out, &want, "kopt <TAB>");
	set_free(&want);
	ASSERT_EQ(complete(out, sizeof(out), dir, "kopt", "kopt mo"), 0, "mo");
	ASSERT_STREQ(out, "model\n", "kopt mo<TAB>");

	/* the model subcommands */
	kopt_test_run(help, sizeof(help), "%s model --help", kopt_test_bin());
	help_commands(help, &want);
	ASSERT_GT(want.n, 5, "commands in kopt model --help");
	complete(out, sizeof(out), dir, "kopt", "kopt model ''");
	offers_all(out, &want, "kopt model <TAB>");
	set_free(&want);

	/* run's options: every long option of its --help */
	kopt_test_run(help, sizeof(help), "%s run --help", kopt_test_bin());
	help_options(help, "", &opts);
	for (size_t i = 0; i < opts.n; i++)
		if (!strncmp(opts.v[i], "\t--", 3))
			set_add(&want, opts.v[i] + 1);
	ASSERT_GE(want.n, 6, "long options of kopt run");
	complete(out, sizeof(out), dir, "kopt", "kopt run --");
	offers_all(out, &want, "kopt run --<TAB>");
	set_free(&want);
	set_free(&opts);

	/* values: files by kind, choices, short options and --name= */
	complete(out, sizeof(out), dir, "kopt", "kopt run --policy ''");
	ASSERT_STREQ(out, "a.conf\nsub\n", "--policy: .conf files and dirs");
	complete(out, sizeof(out), dir, "kopt", "kopt -v run -p ''");
	ASSERT_STREQ(out, "a.conf\nsub\n", "-p (short) after a global -v");
	complete(out, sizeof(out), dir, "kopt", "kopt run --policy=''");
	ASSERT_STREQ(out, "a.conf\nsub\n", "--policy=");
	complete(out, sizeof(out), dir, "kopt", "kopt run --plant ''");
	ASSERT_STREQ(out, "host\nsim\n", "--plant");
	complete(out, sizeof(out), dir, "kopt", "kopt model load ''");
	ASSERT_STREQ(out, "b.kmlp\nsub\n", "model load FILE: .kmlp");
	complete(out, sizeof(out), dir, "kopt",
		 "kopt model live --mode shadow -m ''");
	ASSERT_STREQ(out, "b.kmlp\nsub\n", "model live -m: .kmlp");
	complete(out, sizeof(out), dir, "kopt", "kopt model attach --mode ''");
	ASSERT_STREQ(out, "accept\nenforce\nrefuse\nshadow\n",
		     "model attach --mode");
	complete(out, sizeof(out), dir, "kopt", "kopt train -i ''");
	ASSERT_STREQ(out, "c.csv\nsub\n", "train -i: .csv");
	complete(out, sizeof(out), dir, "kopt", "kopt collect nic -i ''");
	ASSERT_HAS(out, "lo\n", "collect nic -i: interfaces");
	/* a value is not a command: after --duration 5, options again */
	complete(out, sizeof(out), dir, "kopt", "kopt run --duration 5 --po");
	ASSERT_STREQ(out, "--policy\n", "after an option's value");
	/* kopt-lab completes from its own help: the lab commands only */
	snprintf(help, sizeof(help), "%s", kopt_test_bin());
	kopt_test_run(out, sizeof(out), "%s-lab --help", help);
	help_commands(out, &want);
	ASSERT_GT(want.n, 2, "commands in kopt-lab --help");
	complete(out, sizeof(out), dir, "kopt", "kopt-lab ''");
	offers_all(out, &want, "kopt-lab <TAB>");
	ASSERT_FALSE(strstr(out, "probe\n"),
		     "kopt-lab <TAB>: no kopt-only command");
	set_free(&want);
	set_free(&leaves);
}

KOPT_TEST(completion_koptd)
{
	char dir[PATH_MAX], out[8192], bin[PATH_MAX];
	struct strset opts = {};

	if (access("/usr/share/bash-completion/bash_completion", R_OK)) {
		SKIP("bash-completion not installed (make deps)");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/compd-%d", kopt_test_tmpdir(), getpid());
	kopt_test_run(NULL, 0, "mkdir -p %s/sub && touch %s/k.conf %s/x.kmlp",
		      dir, dir, dir);
	ASSERT_EQ(complete(out, sizeof(out), dir, "koptd", "koptd -c ''"), 0,
		  "koptd -c");
	ASSERT_STREQ(out, "k.conf\nsub\n", "koptd -c: .conf files");
	complete(out, sizeof(out), dir, "koptd", "koptd --state-dir ''");
	ASSERT_STREQ(out, "sub\n", "koptd --state-dir: directories");
	if (!koptd_bin(bin, sizeof(bin))) {
		SKIP("build/koptd is not built in this tree: its options "
		     "cannot be completed from its --help");
		return;
	}
	kopt_test_run(out, sizeof(out), "%s --help", bin);
	help_options(out, "", &opts);
	kopt_test_run(out, sizeof(out),
		      "cd %s && PATH=%s:$PATH bash --norc "
		      "%s/selftests/complete.sh "
		      "%s/contrib/bash-completion/koptd koptd -- 2>/dev/null",
		      dir, dirname(bin), top_dir(), top_dir());
	for (size_t i = 0; i < opts.n; i++)
		if (!strncmp(opts.v[i], "\t--", 3)) {
			char w[128];

			snprintf(w, sizeof(w), "%s\n", opts.v[i] + 1);
			ASSERT_HAS(out, w, "koptd -- offers its options");
		}
	set_free(&opts);
}

KOPT_TEST(deploy_kubernetes_manifest)
{
	char dir[PATH_MAX], out[16384], bin[PATH_MAX];
	const char *top = top_dir();
	int rc;

	if (kopt_test_run(NULL, 0,
			  "/usr/bin/python3 -c 'import yaml, kubernetes'")) {
		SKIP("python3-yaml or python3-kubernetes missing (make deps)");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/k8s-%d", kopt_test_tmpdir(), getpid());
	rc = kopt_test_run(out, sizeof(out),
			   "/usr/bin/python3 %s/selftests/k8s_check.py "
			   "%s/deploy/kubernetes/koptd-daemonset.yaml %s "
			   "%s/policies/host-memcached.conf",
			   top, top, dir, top);
	if (!ASSERT_EQ(rc, 0, "k8s_check.py"))
		fprintf(stderr, "%s", out);
	/* what the ConfigMap carries loads in kopt */
	rc = kopt_test_run(out, sizeof(out), "%s model show %s/forced.kmlp",
			   kopt_test_bin(), dir);
	ASSERT_EQ(rc, 0, "the ConfigMap's model is a valid .kmlp");
	kopt_test_run(out, sizeof(out),
		      "%s run --policy %s/host-memcached.conf --plant sim "
		      "--check",
		      kopt_test_bin(), dir);
	ASSERT_HAS(out, "host-memcached.conf loads:",
		   "the ConfigMap's policy loads");
	if (!koptd_bin(bin, sizeof(bin))) {
		printf("deploy: build/koptd not built here: the ConfigMap's "
		       "koptd.conf not checked with koptd --check\n");
		return;
	}
	rc = kopt_test_run(out, sizeof(out), "%s --check -c %s/koptd.conf", bin,
			   dir);
	if (!ASSERT_EQ(rc, 0, "koptd --check on the ConfigMap's koptd.conf"))
		fprintf(stderr, "%s", out);
}

KOPT_TEST(deploy_prometheus_alerts)
{
	char path[PATH_MAX], out[16384];
	char *rules, *man;
	int rc, n = 0;

	if (kopt_test_run(NULL, 0, "command -v promtool")) {
		SKIP("promtool missing (prometheus: make deps)");
		return;
	}
	rc = kopt_test_run(out, sizeof(out),
			   "cd %s/deploy/prometheus && "
			   "promtool check rules kopt-alerts.yml && "
			   "promtool test rules kopt-alerts.test.yml",
			   top_dir());
	if (!ASSERT_EQ(rc, 0, "promtool check rules, test rules"))
		fprintf(stderr, "%s", out);

	/* docs/fleet.md's scrape config and queries parse */
	rc = kopt_test_run(out, sizeof(out),
			   "bash %s/selftests/fleet_snippets.sh %s %s/fleet-%d",
			   top_dir(), top_dir(), kopt_test_tmpdir(), getpid());
	if (!ASSERT_EQ(rc, 0, "docs/fleet.md's Prometheus snippets"))
		fprintf(stderr, "%s", out);

	/* the rules use only koptd's metrics, as koptd(8) lists them */
	snprintf(path, sizeof(path), "%s/deploy/prometheus/kopt-alerts.yml",
		 top_dir());
	rules = kopt_test_read_file(path);
	snprintf(path, sizeof(path), "%s/docs/man/koptd.8", top_dir());
	man = kopt_test_read_file(path);
	if (!ASSERT_OK_PTR(rules, "kopt-alerts.yml") ||
	    !ASSERT_OK_PTR(man, "koptd.8"))
		goto out;
	for (const char *p = rules; (p = strstr(p, "kopt_")); p++) {
		char name[128], tag[160];
		int len = 0;

		if (p > rules &&
		    (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
			continue;
		while (len < 100 &&
		       (isalnum((unsigned char)p[len]) || p[len] == '_'))
			len++;
		snprintf(name, sizeof(name), "%.*s", len, p);
		/* a .TP tag of METRICS: ".B name" or ".BR name {" */
		snprintf(tag, sizeof(tag), "\n.B %s\n", name);
		if (!strstr(man, tag)) {
			snprintf(tag, sizeof(tag), "\n.BR %s {", name);
			if (!strstr(man, tag))
				__KOPT_FAIL("kopt-alerts.yml: %s is not a "
					    "metric of koptd(8)",
					    name);
		}
		n++;
	}
	ASSERT_GE(n, 5, "metrics used by the rules");
out:
	free(rules);
	free(man);
}
