// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of the option parser every command uses (loader/cli/opts.c):
 * called directly on a table with every kind of option, then through the
 * binaries, where every command must refuse an unknown option with the
 * same two lines and exit 2, and print its help with exit 0.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opts.h"
#include "test.h"

#define OUT_LEN 8192

/* One parse: its argv (values point into it) and what it printed. */
struct parsed {
	char buf[1024];
	char *argv[64];
	int argc;
	bool run;
	int code;
	char out[OUT_LEN]; /* stdout and stderr, in order */
};

/*
 * Parses "cmd" + the words of line (split at spaces) with s, stdout and
 * stderr captured into r->out.
 */
static void parse_line(const struct kopt_opts *s, const char *line,
		       struct parsed *r)
{
	FILE *tmp = tmpfile();
	int o1, o2;
	size_t n;
	char *tok, *save = NULL;

	memset(r, 0, sizeof(*r));
	if (!tmp) {
		ASSERT_OK_PTR(tmp, "tmpfile");
		return;
	}
	snprintf(r->buf, sizeof(r->buf), "%s", line);
	r->argv[r->argc++] = "cmd";
	for (tok = strtok_r(r->buf, " ", &save); tok && r->argc < 63;
	     tok = strtok_r(NULL, " ", &save))
		r->argv[r->argc++] = tok;
	r->argv[r->argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	o1 = dup(1);
	o2 = dup(2);
	dup2(fileno(tmp), 1);
	dup2(fileno(tmp), 2);
	r->run = kopt_opts_parse(s, r->argc, r->argv, &r->code);
	fflush(stdout);
	fflush(stderr);
	dup2(o1, 1);
	dup2(o2, 2);
	close(o1);
	close(o2);
	rewind(tmp);
	n = fread(r->out, 1, sizeof(r->out) - 1, tmp);
	r->out[n] = '\0';
	fclose(tmp);
}

struct vals {
	bool json, flag, seen_count;
	int verbose, n, mode, even;
	long count, seed;
	double secs, ratio;
	const char *out, *target, *file, *second;
	char **rest;
};

static const struct kopt_opt_choice modes[] = {
	{ "shadow", 10 },
	{ "enforce", 20 },
	{ "off", 30 },
	{ NULL },
};

static const struct kopt_opt_choice targets[] = {
	{ "forced" },
	{ "decision" },
	{ NULL },
};

static int parse_even(const char *s, void *to, char *why, size_t len)
{
	long v;

	if (kopt_parse_long(s, 0, 100, &v) || v % 2) {
		snprintf(why, len, "expected an even number in 0..100");
		return -1;
	}
	*(int *)to = (int)v;
	return 0;
}

static int parse_silent(const char *s, void *to, char *why, size_t len)
{
	return strcmp(s, "ok");
}

/* A table with every kind; args: FILE [SECOND] [REST...] if with_args. */
struct fixture {
	struct vals v;
	struct kopt_opt opts[16];
	struct kopt_arg args[4];
	struct kopt_opts spec;
};

static void fixture_init(struct fixture *f, unsigned int flags, bool with_args)
{
	struct vals *v = &f->v;
	const struct kopt_opt opts[] = {
		KOPT_OPT_FLAG("flag", 'f', &v->flag, "a flag"),
		KOPT_OPT_COUNT("verbose", 'v', &v->verbose, "more"),
		KOPT_OPT_STR("output", 'o', &v->out, "FILE", "where"),
		KOPT_OPT_LONG("count", 'c', &v->count, 1, 10, "N", "how many",
			      .given = &v->seen_count),
		KOPT_OPT_LONG("seed", 0, &v->seed, 0, LONG_MAX, "N", "seed"),
		KOPT_OPT_INT("n", 'n', &v->n, -5, 5, "N", "small"),
		KOPT_OPT_DOUBLE("duration", 'd', &v->secs, 0.01, 86400, "S",
				"seconds", .unit = "seconds"),
		KOPT_OPT_DOUBLE("ratio", 0, &v->ratio, 0, 1, "R", "share",
				.flags = KOPT_OPT_MIN_EXCL),
		KOPT_OPT_ENUM("mode", 'm', &v->mode, modes, "MODE", "mode"),
		KOPT_OPT_ENUM_NAME("target", 't', &v->target, targets, "T",
				   "target"),
		KOPT_OPT_FUNC("even", 'e', parse_even, &v->even, "N", "even"),
		KOPT_OPT_FUNC("silent", 0, parse_silent, &v->even, "X", "x"),
		KOPT_OPT_JSON("JSON"),
		KOPT_OPT_INT("digit", '5', &v->n, -5, 5, "N", "a digit key"),
		{ NULL },
	};
	const struct kopt_arg args[] = {
		KOPT_ARG("FILE", &v->file),
		KOPT_ARG_OPT("SECOND", &v->second),
		KOPT_ARG_REST("REST", &v->rest),
		{ NULL },
	};

	memset(f, 0, sizeof(*f));
	v->mode = -1;
	v->count = 3;
	memcpy(f->opts, opts, sizeof(opts));
	memcpy(f->args, args, sizeof(args));
	f->spec = (struct kopt_opts){
		.cmd = "kopt t",
		.usage = "[OPTIONS] FILE",
		.opts = f->opts,
		.args = with_args ? f->args : NULL,
		.flags = flags,
	};
}

/* r must have refused with exactly "kopt t: <msg>" and the Try line. */
static void expect_error(const struct parsed *r, const char *msg,
			 const char *what)
{
	char want[512];

	snprintf(want, sizeof(want), "kopt t: %s\nTry 'kopt t --help'.\n", msg);
	ASSERT_FALSE(r->run, what);
	ASSERT_EQ(r->code, KOPT_EXIT_USAGE, what);
	ASSERT_STREQ(r->out, want, what);
}

KOPT_TEST(opts_every_kind)
{
	static struct fixture f;
	static struct parsed r;

	fixture_init(&f, 0, false);
	parse_line(&f.spec,
		   "-f -vvv --output=o.csv -c 7 --seed 12 -n -4 "
		   "--duration 0.5 --ratio 1 --mode enforce -t decision "
		   "--even 42 --json",
		   &r);
	ASSERT_TRUE(r.run, r.out);
	ASSERT_EQ(r.code, KOPT_EXIT_OK, "exit code");
	ASSERT_STREQ(r.out, "", "prints nothing");
	ASSERT_TRUE(f.v.flag, "flag");
	ASSERT_EQ(f.v.verbose, 3, "count, clustered");
	ASSERT_STREQ(f.v.out, "o.csv", "--name=value");
	ASSERT_EQ(f.v.count, 7, "long");
	ASSERT_TRUE(f.v.seen_count, "given");
	ASSERT_EQ(f.v.seed, 12, "long without a short form");
	ASSERT_EQ(f.v.n, -4, "a negative value of an option");
	ASSERT_NEAR(f.v.secs, 0.5, 1e-12, "double");
	ASSERT_NEAR(f.v.ratio, 1, 1e-12, "double at its max");
	ASSERT_EQ(f.v.mode, 20, "enum value");
	ASSERT_STREQ(f.v.target, "decision", "enum name");
	ASSERT_EQ(f.v.even, 42, "callback");
	ASSERT_TRUE(kopt_env.json, "-j sets kopt_env.json");

	/* -xVALUE, a cluster ending in a value, abbreviations, last wins */
	fixture_init(&f, 0, false);
	parse_line(&f.spec, "-c5 -fd 2 --dur 3 --out a --out b", &r);
	ASSERT_TRUE(r.run, r.out);
	ASSERT_EQ(f.v.count, 5, "-c5");
	ASSERT_TRUE(f.v.flag, "-f of -fd");
	ASSERT_NEAR(f.v.secs, 3, 1e-12, "--dur: prefix, and the last wins");
	ASSERT_STREQ(f.v.out, "b", "the last wins");
	ASSERT_TRUE(f.v.seen_count, "given set by -c5");

	/* nothing given: every default stays */
	fixture_init(&f, 0, false);
	parse_line(&f.spec, "", &r);
	ASSERT_TRUE(r.run, "empty command line");
	ASSERT_EQ(f.v.count, 3, "default kept");
	ASSERT_FALSE(f.v.seen_count, "not given");
	ASSERT_EQ(f.v.mode, -1, "enum default kept");
}

KOPT_TEST(opts_ranges)
{
	static struct fixture f;
	static struct parsed r;

	fixture_init(&f, 0, false);
	parse_line(&f.spec, "--count 11", &r);
	expect_error(&r, "--count '11': expected an integer in 1..10", "max");
	ASSERT_EQ(f.v.count, 3, "a refused value changes nothing");
	parse_line(&f.spec, "-c 0", &r);
	expect_error(&r, "-c '0': expected an integer in 1..10",
		     "min, named as typed");
	parse_line(&f.spec, "--count 1x", &r);
	expect_error(&r, "--count '1x': expected an integer in 1..10",
		     "not a number");
	parse_line(&f.spec, "--seed -1", &r);
	expect_error(&r, "--seed '-1': expected an integer >= 0",
		     "no upper bound");
	parse_line(&f.spec, "-n 6", &r);
	expect_error(&r, "-n '6': expected an integer in -5..5", "int");
	parse_line(&f.spec, "--duration x", &r);
	expect_error(&r, "--duration 'x': expected seconds in 0.01..86400",
		     "the unit");
	parse_line(&f.spec, "--duration 0.001", &r);
	expect_error(&r, "--duration '0.001': expected seconds in 0.01..86400",
		     "below min");
	parse_line(&f.spec, "--duration inf", &r);
	expect_error(&r, "--duration 'inf': expected seconds in 0.01..86400",
		     "not finite");
	parse_line(&f.spec, "--ratio 0", &r);
	expect_error(&r, "--ratio '0': expected a number > 0 and at most 1",
		     "excluded min");
	parse_line(&f.spec, "--mode bogus", &r);
	expect_error(&r, "--mode 'bogus': expected shadow, enforce or off",
		     "enum");
	parse_line(&f.spec, "-t Forced", &r);
	expect_error(&r, "-t 'Forced': expected forced or decision",
		     "enum is case-sensitive");
	parse_line(&f.spec, "--even 3", &r);
	expect_error(&r, "--even '3': expected an even number in 0..100",
		     "callback's reason");
	parse_line(&f.spec, "--silent no", &r);
	expect_error(&r, "--silent 'no': invalid value",
		     "callback without a reason");
	ASSERT_EQ(f.v.mode, -1, "nothing changed");
}

KOPT_TEST(opts_unknown_and_missing)
{
	static struct fixture f;
	static struct parsed r;

	fixture_init(&f, 0, false);
	parse_line(&f.spec, "--bogus", &r);
	expect_error(&r, "unknown option '--bogus'", "unknown long");
	parse_line(&f.spec, "--bogus=3", &r);
	expect_error(&r, "unknown option '--bogus'", "unknown long with =");
	parse_line(&f.spec, "--=3", &r);
	expect_error(&r, "unknown option '--'", "no name");
	parse_line(&f.spec, "-fx", &r);
	expect_error(&r, "unknown option '-x'", "unknown short in a cluster");
	parse_line(&f.spec, "--s 1", &r);
	expect_error(&r, "ambiguous option '--s': --seed, --silent",
		     "ambiguous prefix");
	parse_line(&f.spec, "--duration", &r);
	expect_error(&r, "--duration needs a value", "missing long value");
	parse_line(&f.spec, "-fd", &r);
	expect_error(&r, "-d needs a value", "missing short value");
	parse_line(&f.spec, "--json=1", &r);
	expect_error(&r, "--json takes no value", "flag with a value");
	parse_line(&f.spec, "--count --json", &r);
	expect_error(&r, "--count '--json': expected an integer in 1..10",
		     "a value is the next argument, whatever it is");
	parse_line(&f.spec, "stray", &r);
	expect_error(&r, "unexpected argument 'stray'", "no positionals");
	parse_line(&f.spec, "-7", &r);
	expect_error(&r, "unexpected argument '-7'",
		     "a negative number is an argument");
	parse_line(&f.spec, "-5 1", &r);
	ASSERT_TRUE(r.run, "but not a digit that is a key");
	ASSERT_EQ(f.v.n, 1, "-5 is the option");
}

KOPT_TEST(opts_positionals)
{
	static struct fixture f;
	static struct parsed r;

	fixture_init(&f, 0, true);
	parse_line(&f.spec, "-f", &r);
	expect_error(&r, "FILE is required", "missing positional");

	fixture_init(&f, 0, true);
	parse_line(&f.spec, "a.kmlp", &r);
	ASSERT_TRUE(r.run, r.out);
	ASSERT_STREQ(f.v.file, "a.kmlp", "FILE");
	ASSERT_NULL(f.v.second, "optional absent");
	ASSERT_NULL(f.v.rest, "no rest");

	/* options and arguments mix; the arguments come first after */
	fixture_init(&f, 0, true);
	parse_line(&f.spec, "a -c 2 b --json c -9 d", &r);
	ASSERT_TRUE(r.run, r.out);
	ASSERT_STREQ(f.v.file, "a", "FILE");
	ASSERT_STREQ(f.v.second, "b", "SECOND after an option");
	ASSERT_EQ(f.v.count, 2, "option between arguments");
	if (ASSERT_OK_PTR(f.v.rest, "rest")) {
		ASSERT_STREQ(f.v.rest[0], "c", "rest[0]");
		ASSERT_STREQ(f.v.rest[1], "-9", "a negative number");
		ASSERT_STREQ(f.v.rest[2], "d", "rest[2]");
		ASSERT_NULL(f.v.rest[3], "NULL-ended");
	}
	ASSERT_STREQ(r.argv[1], "a", "argv reordered");
	ASSERT_NULL(r.argv[6], "argv NULL after the arguments");

	/* "--" ends the options, and is not an argument */
	fixture_init(&f, 0, true);
	parse_line(&f.spec, "-f -- -c 2 --json", &r);
	ASSERT_TRUE(r.run, r.out);
	ASSERT_STREQ(f.v.file, "-c", "option-like argument after --");
	ASSERT_STREQ(f.v.second, "2", "second");
	ASSERT_EQ(f.v.count, 3, "-c after -- is not an option");
	if (ASSERT_OK_PTR(f.v.rest, "rest"))
		ASSERT_STREQ(f.v.rest[0], "--json", "--json after --");
	ASSERT_TRUE(f.v.flag, "-f before --");

	/* "-" alone is an argument (stdin, by convention) */
	fixture_init(&f, 0, true);
	parse_line(&f.spec, "-", &r);
	ASSERT_TRUE(r.run, r.out);
	ASSERT_STREQ(f.v.file, "-", "-");
}

/* KOPT_OPTS_STOP: what follows the first argument is a command line. */
KOPT_TEST(opts_stop_at_command)
{
	static struct fixture f;
	static struct parsed r;
	char **cmd = NULL;
	const struct kopt_arg args[] = {
		KOPT_ARG_REST("CMD", &cmd),
		{ NULL },
	};

	fixture_init(&f, KOPT_OPTS_STOP, false);
	f.spec.args = args;
	parse_line(&f.spec, "-c 2 sleep -c 3 -- x", &r);
	ASSERT_TRUE(r.run, r.out);
	ASSERT_EQ(f.v.count, 2, "the option before the command");
	if (ASSERT_OK_PTR(cmd, "CMD")) {
		ASSERT_STREQ(cmd[0], "sleep", "cmd[0]");
		ASSERT_STREQ(cmd[1], "-c", "the command's own option");
		ASSERT_STREQ(cmd[3], "--", "the command's own --");
		ASSERT_NULL(cmd[5], "NULL-ended");
	}
	cmd = NULL;
	fixture_init(&f, KOPT_OPTS_STOP, false);
	f.spec.args = args;
	parse_line(&f.spec, "-f -- -c 3", &r);
	ASSERT_TRUE(r.run, r.out);
	ASSERT_EQ(f.v.count, 3, "after --: the command's");
	if (ASSERT_OK_PTR(cmd, "CMD after --"))
		ASSERT_STREQ(cmd[0], "-c", "cmd[0]");
	cmd = NULL;
	fixture_init(&f, KOPT_OPTS_STOP, false);
	f.spec.args = args;
	parse_line(&f.spec, "-f", &r);
	ASSERT_TRUE(r.run, r.out);
	ASSERT_NULL(cmd, "no command: NULL");
}

KOPT_TEST(opts_required)
{
	static struct fixture f;
	static struct parsed r;
	const char *in = NULL;
	const struct kopt_opt opts[] = {
		KOPT_OPT_STR("input", 'i', &in, "DATA.csv", "data",
			     .flags = KOPT_OPT_REQUIRED),
		{ NULL },
	};

	fixture_init(&f, 0, false);
	f.spec.opts = opts;
	parse_line(&f.spec, "", &r);
	expect_error(&r, "--input DATA.csv is required", "required option");
	parse_line(&f.spec, "-i x.csv", &r);
	ASSERT_TRUE(r.run, r.out);
	ASSERT_STREQ(in, "x.csv", "given");
}

/* --help: the help on stdout, exit 0, wherever it stands. */
KOPT_TEST(opts_help)
{
	static struct parsed r;
	static const char want[] =
		"Usage: kopt t [--duration S] [--json] FILE\n"
		"       kopt t --list\n"
		"\n"
		"Does a thing.\n"
		"\n"
		"  -d, --duration S  seconds to measure\n"
		"      --xdp MODE    auto or skb\n"
		"  -j, --json        JSON output\n"
		"  -h, --help        this help\n"
		"\n"
		"Exit: 0 ok.\n";
	double secs = 1;
	int mode = 0;
	const char *file = NULL;
	const struct kopt_opt_choice xdp[] = { { "auto" },
					       { "skb" },
					       { NULL } };
	const struct kopt_opt opts[] = {
		KOPT_OPT_DOUBLE("duration", 'd', &secs, 0.01, 86400, "S",
				"seconds to measure"),
		KOPT_OPT_ENUM("xdp", 0, &mode, xdp, "MODE", "auto or skb"),
		KOPT_OPT_JSON("JSON output"),
		{ NULL },
	};
	const struct kopt_arg args[] = { KOPT_ARG("FILE", &file), { NULL } };
	const struct kopt_opts spec = {
		.cmd = "kopt t",
		.usage = "[--duration S] [--json] FILE\n--list",
		.desc = "Does a thing.",
		.epilog = "Exit: 0 ok.",
		.opts = opts,
		.args = args,
	};

	parse_line(&spec, "--help", &r);
	ASSERT_FALSE(r.run, "help: the command does not run");
	ASSERT_EQ(r.code, KOPT_EXIT_OK, "help exit code");
	ASSERT_STREQ(r.out, want, "help text");
	parse_line(&spec, "-d 2 -h --bogus", &r);
	ASSERT_EQ(r.code, KOPT_EXIT_OK, "-h before an error");
	ASSERT_STREQ(r.out, want, "-h");
	parse_line(&spec, "--he", &r);
	ASSERT_STREQ(r.out, want, "--he: a prefix of --help");
	parse_line(&spec, "--bogus --help", &r);
	ASSERT_EQ(r.code, KOPT_EXIT_USAGE, "an error before -h");
}

/* Long help and usage wrap at 79 columns, under their column. */
KOPT_TEST(opts_help_wraps)
{
	static struct parsed r;
	bool flag = false;
	const struct kopt_opt opts[] = {
		KOPT_OPT_FLAG("long-option-name", 'l', &flag,
			      "one two three four five six seven eight nine ten "
			      "eleven twelve thirteen fourteen fifteen sixteen "
			      "seventeen eighteen nineteen twenty twenty-one\n"
			      "a line of its own"),
		{ NULL },
	};
	const struct kopt_opts spec = {
		.cmd = "kopt t",
		.usage = "[--long-option-name] [--first A] [--second B] "
			 "[--third C] [--fourth D E F] [--fifth G]",
		.desc = "  indented: words words words words words words words "
			"words words words words words words words",
		.opts = opts,
	};
	char *line, *save = NULL;
	int n = 0;

	parse_line(&spec, "-h", &r);
	ASSERT_EQ(r.code, KOPT_EXIT_OK, "help");
	ASSERT_HAS(
		r.out,
		"Usage: kopt t [--long-option-name] [--first A] [--second B] "
		"[--third C]\n"
		"              [--fourth D E F] [--fifth G]\n",
		"usage wraps between brackets, under its arguments");
	ASSERT_HAS(r.out,
		   "  -l, --long-option-name  one two three four five six "
		   "seven eight nine ten\n"
		   "                          eleven twelve",
		   "help wraps under its column");
	ASSERT_HAS(r.out,
		   "twenty-one\n                          a line of its own\n",
		   "an explicit line break");
	ASSERT_HAS(r.out, "\n  words", "a wrapped indented line keeps it");
	for (line = strtok_r(r.out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), n++)
		ASSERT_LE(strlen(line), 79, line);
	ASSERT_GE(n, 8, "lines");
}

/* A broken table is a bug: said, and nothing runs. */
KOPT_TEST(opts_bad_table)
{
	static struct parsed r;
	bool a = false, b = false;
	const struct kopt_opt dup_key[] = {
		KOPT_OPT_FLAG("one", 'x', &a, "one"),
		KOPT_OPT_FLAG("two", 'x', &b, "two"),
		{ NULL },
	};
	const struct kopt_opt help_key[] = {
		KOPT_OPT_FLAG("host", 'h', &a, "h is help's"),
		{ NULL },
	};
	struct kopt_opts spec = { .cmd = "kopt t", .opts = dup_key };

	parse_line(&spec, "-x", &r);
	ASSERT_FALSE(r.run, "duplicate key");
	ASSERT_EQ(r.code, KOPT_EXIT_FAIL, "internal error exit code");
	ASSERT_HAS(r.out, "internal error", "said");
	ASSERT_FALSE(a || b, "nothing set");
	spec.opts = help_key;
	parse_line(&spec, "", &r);
	ASSERT_EQ(r.code, KOPT_EXIT_FAIL, "-h taken");
}

KOPT_TEST(opts_usage_error_helper)
{
	static struct parsed r;
	FILE *tmp = tmpfile();
	int o2, code;
	size_t n;

	if (!tmp) {
		ASSERT_OK_PTR(tmp, "tmpfile");
		return;
	}
	fflush(stderr);
	o2 = dup(2);
	dup2(fileno(tmp), 2);
	code = kopt_usage_error("kopt t", "--oracle needs an SLA: %s",
				"--sla-p99");
	fflush(stderr);
	dup2(o2, 2);
	close(o2);
	rewind(tmp);
	n = fread(r.out, 1, sizeof(r.out) - 1, tmp);
	r.out[n] = '\0';
	fclose(tmp);
	ASSERT_EQ(code, KOPT_EXIT_USAGE, "returns the usage exit code");
	ASSERT_STREQ(r.out,
		     "kopt t: --oracle needs an SLA: --sla-p99\n"
		     "Try 'kopt t --help'.\n",
		     "the one format");
}

/* ---- every command, through the binaries --------------------------------- */

#define MAX_CMDS 64

/*
 * The commands of a help's "Commands:" list, appended to list[] as
 * "prefix name"; returns how many.
 */
static int read_commands(const char *help, const char *prefix, char list[][64],
			 int at)
{
	const char *p = strstr(help, "\nCommands:\n");
	int n = 0;

	if (!p)
		return 0;
	for (p += strlen("\nCommands:\n"); p[0] == ' ' && p[1] == ' ';) {
		char name[24];

		if (sscanf(p, " %23s", name) == 1 && at + n < MAX_CMDS)
			snprintf(list[at + n++], 64, "%s%s%s", prefix,
				 *prefix ? " " : "", name);
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	return n;
}

/*
 * Walks the command tree from `kopt --help` and checks, for every level
 * and every command: --help prints its usage on stdout with exit 0, lines
 * of at most 79 columns; --bogus prints exactly the two lines of the one
 * format and exits 2. kopt-lab's commands answer through kopt.
 */
KOPT_TEST(opts_cli_every_command)
{
	static char out[1 << 16], list[MAX_CMDS][64], want[512];
	int n = 1, i, st, checked = 0;

	list[0][0] = '\0'; /* kopt itself */
	for (i = 0; i < n; i++) {
		char *line, *save = NULL, first[128], cmd[32];

		snprintf(cmd, sizeof(cmd), "%s", list[i]);

		st = kopt_test_run(out, sizeof(out),
				   "timeout 60 %s %s --help 2>/dev/null",
				   kopt_test_bin(), cmd);
		if (!ASSERT_EQ(st, 0, cmd))
			continue;
		/* "Usage: kopt CMD" and its arguments, if any */
		snprintf(first, sizeof(first), "Usage: kopt%s%s",
			 *cmd ? " " : "", cmd);
		ASSERT_TRUE(!strncmp(out, first, strlen(first)) &&
				    strchr(" \n", out[strlen(first)]),
			    out);
		ASSERT_HAS(out, "  -h, --help", cmd);
		n += read_commands(out, cmd, list, n);
		for (line = strtok_r(out, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			ASSERT_LE(strlen(line), 79, line);

		st = kopt_test_run(out, sizeof(out), "timeout 60 %s %s --bogus",
				   kopt_test_bin(), cmd);
		snprintf(want, sizeof(want),
			 "kopt%s%s: unknown option '--bogus'\n"
			 "Try 'kopt%s%s --help'.\n",
			 *cmd ? " " : "", cmd, *cmd ? " " : "", cmd);
		ASSERT_EQ(st, KOPT_EXIT_USAGE, cmd);
		ASSERT_STREQ(out, want, cmd);
		checked++;
	}
	/* the tree as the brief lists it: a lost level would shrink it */
	ASSERT_GE(checked, 35, "commands checked");
	ASSERT_LT(n, MAX_CMDS, "room for all");
}
