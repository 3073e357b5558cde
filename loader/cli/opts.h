/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The command-line parser every front end (kopt, kopt-lab) shares, after
 * xdp-tools' params.h: a command declares its options and positional
 * arguments in a table, and kopt_opts_parse() does the rest, the same way
 * for every command:
 *
 *   -h/--help     prints the help made from the table on stdout, exit 0;
 *   errors        one format on stderr, then exit KOPT_EXIT_USAGE:
 *                   kopt energy: --duration 'x': expected seconds in 0.01..86400
 *                   Try 'kopt energy --help'.
 *
 * Example:
 *
 *	double secs = 1;
 *	const struct kopt_opts spec = {
 *		.cmd = "kopt energy",
 *		.usage = "[--duration S] [--json]",
 *		.desc = "Measures energy ...",
 *		.opts = KOPT_OPTS(
 *			KOPT_OPT_DOUBLE("duration", 'd', &secs, 0.01, 86400,
 *					"S", "seconds to measure",
 *					.unit = "seconds"),
 *			KOPT_OPT_JSON("JSON output")),
 *	};
 *	int ret;
 *
 *	if (!kopt_opts_parse(&spec, argc, argv, &ret))
 *		return ret;
 *
 * Syntax (what getopt_long accepts): --name VALUE, --name=VALUE, a unique
 * prefix of a long name, -x VALUE, -xVALUE, clustered flags (-jv); options
 * and positional arguments mix unless KOPT_OPTS_STOP; "--" ends the
 * options. An argument that looks like a negative number (-5) is a
 * positional argument unless a short option is that digit. An option given
 * twice keeps the last value. Values point into argv.
 *
 * What is not option parsing (options that exclude each other, a value
 * that depends on another) stays in the command; kopt_usage_error() says
 * it in the same format.
 */
#ifndef KOPT_CLI_OPTS_H
#define KOPT_CLI_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "kopt.h"

enum kopt_opt_kind {
	KOPT_OPT_KIND_FLAG, /* bool *: set to true; takes no value */
	KOPT_OPT_KIND_COUNT, /* int *: one more each time (-vv) */
	KOPT_OPT_KIND_STR, /* const char **: the value */
	KOPT_OPT_KIND_LONG, /* long *: an integer in lmin..lmax */
	KOPT_OPT_KIND_INT, /* int *: an integer in lmin..lmax */
	KOPT_OPT_KIND_DOUBLE, /* double *: a finite number in dmin..dmax */
	KOPT_OPT_KIND_ENUM, /* int *: the value of the choice named */
	KOPT_OPT_KIND_ENUM_NAME, /* const char **: the choice's name */
	KOPT_OPT_KIND_FUNC, /* parse(value, to, why, len) */
	KOPT_OPT_KIND_HELP, /* the parser's own -h/--help */
};

/* A value an ENUM option accepts; a table ends with { NULL }. */
struct kopt_opt_choice {
	const char *name;
	int value;
};

/*
 * Parses value into *to; 0, or nonzero with why set to what was expected
 * ("expected a comma-separated list of IRQ numbers"): the parser prints it
 * after the option and the value.
 */
typedef int (*kopt_opt_parse_fn)(const char *value, void *to, char *why,
				 size_t len);

enum {
	KOPT_OPT_REQUIRED = 1 << 0, /* a usage error if not given */
	KOPT_OPT_MIN_EXCL = 1 << 1, /* DOUBLE: dmin itself is refused */
};

struct kopt_opt {
	const char *name; /* long name without "--"; NULL ends a table */
	int key; /* short option letter, 0 for none; 'h' is help's */
	enum kopt_opt_kind kind;
	void *to; /* where the value goes: see the kind */
	long lmin, lmax; /* LONG, INT */
	double dmin, dmax; /* DOUBLE */
	const struct kopt_opt_choice *choices; /* ENUM, ENUM_NAME */
	kopt_opt_parse_fn parse; /* FUNC */
	const char *metavar; /* the value in the help: "S", "FILE" */
	const char *help; /* '\n' breaks a line; long lines are wrapped */
	/* range errors: "expected <unit> in 1..10"; "an integer", "a number" */
	const char *unit;
	unsigned int flags; /* KOPT_OPT_* */
	bool *given; /* if not NULL: set to true when the option is given */
};

/* Positional arguments, in order; a table ends with { NULL }. */
enum {
	KOPT_ARG_OPTIONAL = 1 << 0, /* may be absent (then *to is unchanged) */
	KOPT_ARG_REST = 1 << 1, /* this and all after: *rest, NULL-ended */
};

struct kopt_arg {
	const char *name; /* "FILE"; in messages: "FILE is required" */
	const char **to; /* one argument */
	char ***rest; /* KOPT_ARG_REST: the rest of argv, NULL if none */
	unsigned int flags;
};

enum {
	/*
	 * Options end at the first positional argument: what follows is a
	 * command line of its own (kopt collect migrations -- CMD ARGS).
	 */
	KOPT_OPTS_STOP = 1 << 0,
};

struct kopt_opts {
	const char *cmd; /* "kopt energy": names the command in messages */
	/* the usage after cmd; each '\n' starts another form of it */
	const char *usage;
	const char *desc; /* text between usage and options (or NULL) */
	const char *epilog; /* text after the options (or NULL) */
	const struct kopt_opt *opts; /* may be NULL: -h/--help only */
	const struct kopt_arg *args; /* NULL: no positional argument */
	unsigned int flags; /* KOPT_OPTS_* */
};

/*
 * Parses argv[1..argc-1] (argv[0] is the command's name) as s declares.
 * true: run the command. false: stop and return *exit_code: KOPT_EXIT_OK after
 * --help, KOPT_EXIT_USAGE after an error it printed. Reorders argv: the
 * positional arguments come first, as getopt_long leaves them.
 */
bool kopt_opts_parse(const struct kopt_opts *s, int argc, char **argv,
		     int *exit_code);

/* The help (what -h prints): usage, description, options, epilog. */
void kopt_opts_help(const struct kopt_opts *s, FILE *f);

/*
 * A usage error in the one format: "<cmd>: <message>" and "Try '<cmd>
 * --help'." on stderr. Returns KOPT_EXIT_USAGE.
 */
int kopt_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- table entries -------------------------------------------------------- */

/* p, type-checked: a compile error unless p has type T. */
#ifdef __CPPCHECK__
#define KOPT__TO(p, T) (p) /* cppcheck 2.10 cannot parse _Generic */
#else
#define KOPT__TO(p, T) _Generic((p), T : (p))
#endif
/* A number in help text: KOPT_STR(DEF_ROUNDS) is "5". */
#define KOPT_STR(x) KOPT__STR(x)
#define KOPT__STR(x) #x

/*
 * Each takes the long name, the short letter (0: none), where the value
 * goes, what the kind needs, the metavar and the help; then, optionally,
 * more fields: .unit = "seconds", .flags = KOPT_OPT_REQUIRED,
 * .given = &seen.
 */
#define KOPT_OPT_FLAG(n, k, p, h, ...)                               \
	{                                                            \
		.name = (n), .key = (k), .kind = KOPT_OPT_KIND_FLAG, \
		.to = KOPT__TO(p, bool *), .help = (h), __VA_ARGS__  \
	}
#define KOPT_OPT_COUNT(n, k, p, h, ...)                               \
	{                                                             \
		.name = (n), .key = (k), .kind = KOPT_OPT_KIND_COUNT, \
		.to = KOPT__TO(p, int *), .help = (h), __VA_ARGS__    \
	}
#define KOPT_OPT_STR(n, k, p, m, h, ...)                                       \
	{                                                                      \
		.name = (n), .key = (k), .kind = KOPT_OPT_KIND_STR,            \
		.to = KOPT__TO(p, const char **), .metavar = (m), .help = (h), \
		__VA_ARGS__                                                    \
	}
#define KOPT_OPT_LONG(n, k, p, lo, hi, m, h, ...)                      \
	{                                                              \
		.name = (n), .key = (k), .kind = KOPT_OPT_KIND_LONG,   \
		.to = KOPT__TO(p, long *), .lmin = (lo), .lmax = (hi), \
		.metavar = (m), .help = (h), __VA_ARGS__               \
	}
#define KOPT_OPT_INT(n, k, p, lo, hi, m, h, ...)                      \
	{                                                             \
		.name = (n), .key = (k), .kind = KOPT_OPT_KIND_INT,   \
		.to = KOPT__TO(p, int *), .lmin = (lo), .lmax = (hi), \
		.metavar = (m), .help = (h), __VA_ARGS__              \
	}
#define KOPT_OPT_DOUBLE(n, k, p, lo, hi, m, h, ...)                      \
	{                                                                \
		.name = (n), .key = (k), .kind = KOPT_OPT_KIND_DOUBLE,   \
		.to = KOPT__TO(p, double *), .dmin = (lo), .dmax = (hi), \
		.metavar = (m), .help = (h), __VA_ARGS__                 \
	}
#define KOPT_OPT_ENUM(n, k, p, c, m, h, ...)                              \
	{                                                                 \
		.name = (n), .key = (k), .kind = KOPT_OPT_KIND_ENUM,      \
		.to = KOPT__TO(p, int *), .choices = (c), .metavar = (m), \
		.help = (h), __VA_ARGS__                                  \
	}
#define KOPT_OPT_ENUM_NAME(n, k, p, c, m, h, ...)                         \
	{                                                                 \
		.name = (n), .key = (k), .kind = KOPT_OPT_KIND_ENUM_NAME, \
		.to = KOPT__TO(p, const char **), .choices = (c),         \
		.metavar = (m), .help = (h), __VA_ARGS__                  \
	}
#define KOPT_OPT_FUNC(n, k, f, p, m, h, ...)                          \
	{                                                             \
		.name = (n), .key = (k), .kind = KOPT_OPT_KIND_FUNC,  \
		.parse = (f), .to = (p), .metavar = (m), .help = (h), \
		__VA_ARGS__                                           \
	}
/*
 * The tables of a struct kopt_opts, written in place:
 *	.opts = KOPT_OPTS(KOPT_OPT_FLAG(...), KOPT_OPT_JSON(...)),
 *	.args = KOPT_ARGS(KOPT_ARG("FILE", &file)),
 * (a compound literal: it lives as long as the block that declares it).
 */
#define KOPT_OPTS(...) ((const struct kopt_opt[]){ __VA_ARGS__, { NULL } })
#define KOPT_ARGS(...) ((const struct kopt_arg[]){ __VA_ARGS__, { NULL } })

/* -j/--json: the global kopt_env.json, for commands whose output is data. */
#define KOPT_OPT_JSON(h) KOPT_OPT_FLAG("json", 'j', &kopt_env.json, h)

#define KOPT_ARG(n, p)                                        \
	{                                                     \
		.name = (n), .to = KOPT__TO(p, const char **) \
	}
#define KOPT_ARG_OPT(n, p)                                     \
	{                                                      \
		.name = (n), .to = KOPT__TO(p, const char **), \
		.flags = KOPT_ARG_OPTIONAL                     \
	}
/* zero or more */
#define KOPT_ARG_REST(n, p)                                 \
	{                                                   \
		.name = (n), .rest = KOPT__TO(p, char ***), \
		.flags = KOPT_ARG_REST | KOPT_ARG_OPTIONAL  \
	}
/* one or more */
#define KOPT_ARG_REST_REQ(n, p)                             \
	{                                                   \
		.name = (n), .rest = KOPT__TO(p, char ***), \
		.flags = KOPT_ARG_REST                      \
	}

#endif /* KOPT_CLI_OPTS_H */
