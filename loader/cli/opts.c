// SPDX-License-Identifier: GPL-2.0-only
/*
 * The option parser of every kopt command: opts.h says what it accepts
 * and how a command declares its options.
 *
 * Hand-written rather than a loop around getopt_long(3), which the
 * commands used before: what they repeated around it is what this
 * replaces, and getopt_long does not give what one message format needs.
 * It reports an error through optopt/optind in shapes that differ for a
 * short option in a cluster, a long one, an abbreviation and a missing
 * value, without the text the user typed; it would read a negative number
 * as an option (kopt knob set ... -5); and it keeps global state that a
 * command running another had to reset (optind = 0). The syntax accepted
 * is getopt_long's, argument permutation included.
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "opts.h"

#define WIDTH 79 /* help lines are wrapped to fit */
#define MAX_COL 30 /* an option's help starts on a line of its own past this */
#define MAX_OPTS 63 /* options in a table: given ones are bits of a u64 */
#define WHY_LEN 1024
#define USAGE_PREFIX "Usage: "

enum { OPT_ERR = -1, OPT_OK = 0, OPT_HELP = 1 };

static const struct kopt_opt help_opt = {
	.name = "help",
	.key = 'h',
	.kind = KOPT_OPT_KIND_HELP,
	.help = "this help",
};

struct parse {
	const struct kopt_opts *s;
	int n; /* options in s->opts; index n is help_opt */
	uint64_t given; /* bit i: option i was given */
};

int kopt_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", cmd);
	return KOPT_EXIT_USAGE;
}

static int nr_opts(const struct kopt_opts *s)
{
	int n = 0;

	while (s->opts && s->opts[n].name)
		n++;
	return n;
}

static const struct kopt_opt *opt_at(const struct parse *p, int i)
{
	return i < p->n ? &p->s->opts[i] : &help_opt;
}

static bool takes_value(const struct kopt_opt *o)
{
	return o->kind != KOPT_OPT_KIND_FLAG &&
	       o->kind != KOPT_OPT_KIND_COUNT && o->kind != KOPT_OPT_KIND_HELP;
}

static int find_short(const struct parse *p, int c)
{
	int i;

	for (i = 0; i <= p->n; i++)
		if (opt_at(p, i)->key == c)
			return i;
	return -1;
}

/* The option named name[0..len), or a unique prefix; -1 none, -2 several. */
static int find_long(const struct parse *p, const char *name, size_t len)
{
	int i, found = -1;

	for (i = 0; i <= p->n; i++) {
		const char *o = opt_at(p, i)->name;

		if (strncmp(o, name, len))
			continue;
		if (!o[len])
			return i;
		found = found == -1 ? i : -2;
	}
	return found;
}

/*
 * A programming error in a command's table shows on its first run (every
 * command's --help is tested): said, and the command does not run.
 */
static bool table_ok(const struct parse *p)
{
	const char *why = NULL;
	int i, j;

	if (p->n > MAX_OPTS)
		why = "too many options";
	for (i = 0; i < p->n && !why; i++) {
		const struct kopt_opt *o = opt_at(p, i);

		if (!o->to && o->kind != KOPT_OPT_KIND_HELP)
			why = o->name;
		if ((o->kind == KOPT_OPT_KIND_ENUM ||
		     o->kind == KOPT_OPT_KIND_ENUM_NAME) &&
		    !o->choices)
			why = o->name;
		if (o->kind == KOPT_OPT_KIND_FUNC && !o->parse)
			why = o->name;
		for (j = i + 1; j <= p->n && !why; j++) {
			const struct kopt_opt *q = opt_at(p, j);

			if (!strcmp(o->name, q->name) ||
			    (o->key && o->key == q->key))
				why = q->name;
		}
	}
	if (why)
		fprintf(stderr, "%s: internal error: option table at '%s'\n",
			p->s->cmd, why);
	return !why;
}

/* A number in a message: 0.001, 86400, 10000000. */
static const char *num(char *buf, size_t len, double v)
{
	snprintf(buf, len, "%.15g", v);
	return buf;
}

/* What a LONG/INT/DOUBLE option accepts: "seconds in 0.01..86400". */
static void range_text(const struct kopt_opt *o, char *buf, size_t len)
{
	char a[40], b[40];

	if (o->kind == KOPT_OPT_KIND_DOUBLE) {
		const char *unit = o->unit ? o->unit : "a number";

		if (o->flags & KOPT_OPT_MIN_EXCL)
			snprintf(buf, len, "%s > %s and at most %s", unit,
				 num(a, sizeof(a), o->dmin),
				 num(b, sizeof(b), o->dmax));
		else
			snprintf(buf, len, "%s in %s..%s", unit,
				 num(a, sizeof(a), o->dmin),
				 num(b, sizeof(b), o->dmax));
		return;
	}
	{
		const char *unit = o->unit ? o->unit : "an integer";

		if (o->lmin == LONG_MIN && o->lmax == LONG_MAX)
			snprintf(buf, len, "%s", unit);
		else if (o->lmax == LONG_MAX)
			snprintf(buf, len, "%s >= %ld", unit, o->lmin);
		else if (o->lmin == LONG_MIN)
			snprintf(buf, len, "%s <= %ld", unit, o->lmax);
		else
			snprintf(buf, len, "%s in %ld..%ld", unit, o->lmin,
				 o->lmax);
	}
}

/* "a, b or c" */
static void choices_text(const struct kopt_opt_choice *c, char *buf, size_t len)
{
	size_t used = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; c[i].name && used < len; i++)
		used += snprintf(buf + used, len - used, "%s%s",
				 !i	       ? "" :
				 c[i + 1].name ? ", " :
						 " or ",
				 c[i].name);
}

/* Stores val for option o (shown: the option as typed); OPT_OK or OPT_ERR. */
static int set_value(const struct parse *p, const struct kopt_opt *o,
		     const char *shown, const char *val)
{
	char why[WHY_LEN] = "";
	double d;
	long l;
	int i;

	switch (o->kind) {
	case KOPT_OPT_KIND_STR:
		*(const char **)o->to = val;
		return OPT_OK;
	case KOPT_OPT_KIND_LONG:
	case KOPT_OPT_KIND_INT:
		if (!kopt_parse_long(val, o->lmin, o->lmax, &l)) {
			if (o->kind == KOPT_OPT_KIND_LONG)
				*(long *)o->to = l;
			else
				*(int *)o->to = (int)l;
			return OPT_OK;
		}
		range_text(o, why, sizeof(why));
		break;
	case KOPT_OPT_KIND_DOUBLE:
		if (!kopt_parse_double(val, o->dmin, o->dmax, &d) &&
		    !((o->flags & KOPT_OPT_MIN_EXCL) && d <= o->dmin)) {
			*(double *)o->to = d;
			return OPT_OK;
		}
		range_text(o, why, sizeof(why));
		break;
	case KOPT_OPT_KIND_ENUM:
	case KOPT_OPT_KIND_ENUM_NAME:
		for (i = 0; o->choices[i].name; i++) {
			if (strcmp(val, o->choices[i].name))
				continue;
			if (o->kind == KOPT_OPT_KIND_ENUM)
				*(int *)o->to = o->choices[i].value;
			else
				*(const char **)o->to = o->choices[i].name;
			return OPT_OK;
		}
		choices_text(o->choices, why, sizeof(why));
		break;
	case KOPT_OPT_KIND_FUNC:
		if (!o->parse(val, o->to, why, sizeof(why)))
			return OPT_OK;
		if (!why[0])
			snprintf(why, sizeof(why), "invalid value");
		kopt_usage_error(p->s->cmd, "%s '%s': %s", shown, val, why);
		return OPT_ERR;
	default:
		break;
	}
	kopt_usage_error(p->s->cmd, "%s '%s': expected %s", shown, val, why);
	return OPT_ERR;
}

/* Option i is given, with val (NULL for a flag); OPT_* */
static int apply(struct parse *p, int i, const char *shown, const char *val)
{
	const struct kopt_opt *o = opt_at(p, i);

	switch (o->kind) {
	case KOPT_OPT_KIND_HELP:
		return OPT_HELP;
	case KOPT_OPT_KIND_FLAG:
		*(bool *)o->to = true;
		break;
	case KOPT_OPT_KIND_COUNT:
		++*(int *)o->to;
		break;
	default:
		if (set_value(p, o, shown, val))
			return OPT_ERR;
	}
	p->given |= UINT64_C(1) << i;
	if (o->given)
		*o->given = true;
	return OPT_OK;
}

/* argv[*i] is "--name[=value]"; may take argv[*i + 1] as the value. */
static int long_opt(struct parse *p, int argc, char **argv, int *i)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	int idx = find_long(p, name, len);
	const struct kopt_opt *o;
	const char *val = NULL;
	char shown[64], list[WHY_LEN] = "";

	if (!len) /* "--=x": no name, not a prefix of every name */
		idx = -1;
	if (idx == -2) {
		size_t used = 0;
		int j;

		for (j = 0; j <= p->n && used < sizeof(list); j++)
			if (!strncmp(opt_at(p, j)->name, name, len))
				used += snprintf(list + used,
						 sizeof(list) - used, "%s--%s",
						 used ? ", " : "",
						 opt_at(p, j)->name);
		kopt_usage_error(p->s->cmd, "ambiguous option '--%.*s': %s",
				 (int)len, name, list);
		return OPT_ERR;
	}
	if (idx < 0) {
		kopt_usage_error(p->s->cmd, "unknown option '--%.*s'", (int)len,
				 name);
		return OPT_ERR;
	}
	o = opt_at(p, idx);
	snprintf(shown, sizeof(shown), "--%s", o->name);
	if (!takes_value(o)) {
		if (eq) {
			kopt_usage_error(p->s->cmd, "%s takes no value", shown);
			return OPT_ERR;
		}
	} else if (eq) {
		val = eq + 1;
	} else if (*i + 1 < argc) {
		val = argv[++*i];
	} else {
		kopt_usage_error(p->s->cmd, "%s needs a value", shown);
		return OPT_ERR;
	}
	return apply(p, idx, shown, val);
}

/* argv[*i] is "-abc" or "-dVALUE"; may take argv[*i + 1] as the value. */
static int short_opts(struct parse *p, int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	int j, idx, ret;

	for (j = 1; a[j]; j++) {
		const char *val = NULL;
		char shown[3] = { '-', a[j], '\0' };

		idx = find_short(p, a[j]);
		if (idx < 0) {
			if (isprint((unsigned char)a[j]))
				kopt_usage_error(p->s->cmd,
						 "unknown option '-%c'", a[j]);
			else
				kopt_usage_error(p->s->cmd,
						 "unknown option in '%s'", a);
			return OPT_ERR;
		}
		if (takes_value(opt_at(p, idx))) {
			if (a[j + 1]) {
				val = a + j + 1;
			} else if (*i + 1 < argc) {
				val = argv[++*i];
			} else {
				kopt_usage_error(p->s->cmd, "%s needs a value",
						 shown);
				return OPT_ERR;
			}
		}
		ret = apply(p, idx, shown, val);
		if (ret || val)
			return ret;
	}
	return OPT_OK;
}

/* An option, or "--": not "-", and not a negative number (unless a key). */
static bool is_option(const struct parse *p, const char *a)
{
	if (a[0] != '-' || !a[1])
		return false;
	return !isdigit((unsigned char)a[1]) || find_short(p, a[1]) >= 0;
}

/* Assigns the n positional arguments in args; false after an error. */
static bool positionals(const struct parse *p, char **args, int n)
{
	const struct kopt_arg *d = p->s->args;
	int k;

	for (k = 0; d && d[k].name; k++) {
		if (d[k].flags & KOPT_ARG_REST) {
			if (k >= n && !(d[k].flags & KOPT_ARG_OPTIONAL))
				break;
			*d[k].rest = k < n ? args + k : NULL;
			return true;
		}
		if (k >= n) {
			if (d[k].flags & KOPT_ARG_OPTIONAL)
				continue;
			break;
		}
		*d[k].to = args[k];
	}
	if (d && d[k].name) {
		kopt_usage_error(p->s->cmd, "%s is required", d[k].name);
		return false;
	}
	if (k < n) {
		kopt_usage_error(p->s->cmd, "unexpected argument '%s'",
				 args[k]);
		return false;
	}
	return true;
}

static bool required_given(const struct parse *p)
{
	int i;

	for (i = 0; i < p->n; i++) {
		const struct kopt_opt *o = opt_at(p, i);

		if (!(o->flags & KOPT_OPT_REQUIRED) ||
		    p->given & (UINT64_C(1) << i))
			continue;
		kopt_usage_error(p->s->cmd, "--%s%s%s is required", o->name,
				 o->metavar ? " " : "",
				 o->metavar ? o->metavar : "");
		return false;
	}
	return true;
}

bool kopt_opts_parse(const struct kopt_opts *s, int argc, char **argv,
		     int *exit_code)
{
	struct parse p = { .s = s, .n = nr_opts(s) };
	bool only_args = false;
	int i, w = 1, ret;

	*exit_code = KOPT_EXIT_USAGE;
	if (!table_ok(&p)) {
		*exit_code = KOPT_EXIT_FAIL;
		return false;
	}
	for (i = 1; i < argc; i++) {
		char *a = argv[i];

		if (only_args || !is_option(&p, a)) {
			/* positionals move down over the options (w <= i) */
			argv[w++] = a;
			only_args |= s->flags & KOPT_OPTS_STOP;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_args = true;
			continue;
		}
		ret = a[1] == '-' ? long_opt(&p, argc, argv, &i) :
				    short_opts(&p, argc, argv, &i);
		if (ret == OPT_HELP) {
			kopt_opts_help(s, stdout);
			*exit_code = KOPT_EXIT_OK;
			return false;
		}
		if (ret)
			return false;
	}
	if (w < argc)
		argv[w] = NULL;
	if (!positionals(&p, argv + 1, w - 1) || !required_given(&p))
		return false;
	*exit_code = KOPT_EXIT_OK;
	return true;
}

/* ---- help -------------------------------------------------------------------- */

/*
 * Prints text from column col (the caller printed up to it): each '\n'
 * starts a line at column indent. A line that does not fit in WIDTH is
 * wrapped at spaces (with brackets: not at those inside [] or (), as in a
 * usage line), its continuations at column wrap, or with wrap < 0 under
 * its first word. Ends with a newline.
 */
static void put_text(FILE *f, const char *text, int col, int indent, int wrap,
		     bool brackets)
{
	const char *line = text, *w, *e, *end;
	int len, lead, start, cont, at, depth;
	bool empty;

	for (; line; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		len = end ? (int)(end - line) : (int)strlen(line);
		start = line == text ? col : indent;
		if (line != text)
			fprintf(f, "%*s", indent, "");
		if (start + len <= WIDTH) {
			fprintf(f, "%.*s\n", len, line);
			continue;
		}
		lead = (int)strspn(line, " ");
		cont = wrap >= 0 ? wrap : start + lead;
		fprintf(f, "%*s", lead, "");
		at = start + lead;
		empty = true;
		depth = 0;
		for (w = line + lead; w < line + len; w = e) {
			for (e = w; e < line + len; e++) {
				if (*e == '[' || *e == '(')
					depth++;
				else if (*e == ']' || *e == ')')
					depth--;
				else if (*e == ' ' && (!brackets || depth <= 0))
					break;
			}
			if (!empty && at + 1 + (e - w) > WIDTH) {
				fprintf(f, "\n%*s", cont, "");
				at = cont;
				empty = true;
			}
			if (!empty) {
				fputc(' ', f);
				at++;
			}
			fprintf(f, "%.*s", (int)(e - w), w);
			at += (int)(e - w);
			empty = false;
			while (e < line + len && *e == ' ')
				e++;
		}
		fputc('\n', f);
	}
}

/* "[OPTIONS] FILE [NAME...]" for a command that gives no usage. */
static void default_usage(const struct kopt_opts *s, char *buf, size_t len)
{
	const struct kopt_arg *a;
	size_t used = snprintf(buf, len, "[OPTIONS]");

	for (a = s->args; a && a->name && used < len; a++)
		used += snprintf(buf + used, len - used,
				 (a->flags & KOPT_ARG_OPTIONAL) ?
					 (a->flags & KOPT_ARG_REST ?
						  " [%s...]" :
						  " [%s]") :
				 (a->flags & KOPT_ARG_REST) ? " %s..." :
							      " %s",
				 a->name);
}

static void put_usage(const struct kopt_opts *s, FILE *f)
{
	int cont = (int)(strlen(USAGE_PREFIX) + strlen(s->cmd) + 1);
	const char *usage = s->usage, *form, *end;
	char buf[512], gen[256];

	if (!usage) {
		default_usage(s, gen, sizeof(gen));
		usage = gen;
	}
	/* each form on a line of its own; continuations under its arguments */
	for (form = usage; form; form = end ? end + 1 : NULL) {
		int len;

		end = strchr(form, '\n');
		len = end ? (int)(end - form) : (int)strlen(form);
		snprintf(buf, sizeof(buf), "%s%s%s%.*s",
			 form == usage ? USAGE_PREFIX : "       ", s->cmd,
			 len ? " " : "", len, form);
		put_text(f, buf, 0, 0, cont, true);
	}
}

/* "  -d, --duration S" */
static int opt_left(const struct kopt_opt *o, char *buf, size_t len)
{
	return snprintf(buf, len, "  %c%c%s --%s%s%s", o->key ? '-' : ' ',
			o->key ? o->key : ' ', o->key ? "," : " ", o->name,
			o->metavar ? " " : "", o->metavar ? o->metavar : "");
}

void kopt_opts_help(const struct kopt_opts *s, FILE *f)
{
	struct parse p = { .s = s, .n = nr_opts(s) };
	char left[128];
	int i, col = 0, l;

	put_usage(s, f);
	if (s->desc) {
		fputc('\n', f);
		put_text(f, s->desc, 0, 0, -1, false);
	}
	for (i = 0; i <= p.n; i++) {
		l = opt_left(opt_at(&p, i), left, sizeof(left)) + 2;
		if (l > col && l <= MAX_COL)
			col = l;
	}
	fputc('\n', f);
	for (i = 0; i <= p.n; i++) {
		const struct kopt_opt *o = opt_at(&p, i);

		l = opt_left(o, left, sizeof(left));
		if (!o->help) {
			fprintf(f, "%s\n", left);
			continue;
		}
		if (l + 2 > col)
			fprintf(f, "%s\n%*s", left, col, "");
		else
			fprintf(f, "%-*s", col, left);
		put_text(f, o->help, col, col, col, false);
	}
	if (s->epilog) {
		fputc('\n', f);
		put_text(f, s->epilog, 0, 0, -1, false);
	}
}
