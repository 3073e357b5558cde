// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt report LOG.csv -o DIR: pictures of a `kopt run --log` file.
 *
 *   DIR/energy_latency.png  every trial's (latency, energy) with the SLA
 *                           line and the setting chosen at each trigger:
 *                           the published "L" (memcached) or "V"
 *                           (ping-pong) shows up here
 *   DIR/energy_itr.png      every trial's energy over the interrupt
 *                           delay (the shape at a glance)
 *   DIR/energy_time.png     energy per window over time, kopt against
 *                           the stock policy (and the oracle if the
 *                           plant knew it)
 *
 * The log is read here and reduced to small data files next to the
 * pictures (trials.dat, chosen.dat, energy.dat) plus the gnuplot script
 * (report.gp), so a picture can be regenerated or restyled by hand.
 * gnuplot draws; kopt checks it is installed first. Figures from a
 * simulated plant are titled "(simulated)".
 *
 * A run log is a file people send each other, so reading one runs
 * nothing, whatever a hand edit put in it: the data files get numbers
 * only (parsed here, printed with %g), every string from the log goes into
 * the script single-quoted (where gnuplot expands neither backquotes nor
 * macros and knows no escape but '') with control characters replaced,
 * the script names its files relative to DIR, and gnuplot is started with
 * an argument vector in DIR (posix_spawn), never through a shell.
 *
 * Cost: one pass over the log; gnuplot takes about a second.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "opts.h"

#define MAX_COLS 32
#define MAX_TRIGGERS 100000

enum col {
	C_T,
	C_SECONDS,
	C_TRIGGER,
	C_PHASE,
	C_ITR,
	C_FREQ,
	C_ENERGY,
	C_OBJ,
	C_P50,
	C_P99,
	C_THROUGHPUT,
	C_QPS,
	C_STOCK,
	C_ORACLE,
	C_SOURCE,
	NR_COLS,
};

static const char *const col_names[NR_COLS] = {
	"t_s",	      "seconds",  "trigger",	    "phase",	       "itr_us",
	"freq_mhz",   "energy_j", "objective",	    "p50_us",	       "p99_us",
	"throughput", "qps",	  "stock_energy_j", "oracle_energy_j", "source",
};

struct meta {
	char policy[64], objective[32], sla_kind[16], sla_pct[8];
	double bound;
	bool simulated;
};

/* Per trigger: where its hold windows sat, for the "chosen" marker. */
struct chosen {
	double x_sum, y_sum;
	unsigned int n;
	char setting[48];
};

struct report {
	const char *log_path, *dir;
	struct meta m;
	int idx[NR_COLS]; /* column of each field */
	FILE *trials, *energy;
	struct chosen *ch;
	size_t n_ch;
	unsigned int rows, oracle_rows;
	double t_max;
};

/* ---- reading the log ------------------------------------------------------ */

static void parse_meta(struct meta *m, char *line)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(line, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			continue;
		*eq++ = '\0';
		if (!strcmp(tok, "policy"))
			snprintf(m->policy, sizeof(m->policy), "%s", eq);
		else if (!strcmp(tok, "objective"))
			snprintf(m->objective, sizeof(m->objective), "%s", eq);
		else if (!strcmp(tok, "sla_kind"))
			snprintf(m->sla_kind, sizeof(m->sla_kind), "%s", eq);
		else if (!strcmp(tok, "sla_pct"))
			snprintf(m->sla_pct, sizeof(m->sla_pct), "%s", eq);
		else if (!strcmp(tok, "sla_bound"))
			m->bound = strtod(eq, NULL);
	}
}

/* Splits a CSV line in place (no field here is quoted but the last). */
static int split(char *line, char **f, int cap)
{
	int n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	f[n++] = line;
	for (char *p = line; *p && n < cap; p++) {
		if (*p == '"')
			break; /* the error column: nothing after it matters */
		if (*p == ',') {
			*p = '\0';
			f[n++] = p + 1;
		}
	}
	return n;
}

static int map_header(struct report *rp, char *line)
{
	char *f[MAX_COLS];
	int n = split(line, f, MAX_COLS);

	for (int c = 0; c < NR_COLS; c++) {
		rp->idx[c] = -1;
		for (int i = 0; i < n; i++)
			if (!strcmp(f[i], col_names[c]))
				rp->idx[c] = i;
		if (rp->idx[c] < 0) {
			pr_warn("report: %s: no column '%s' in the header: "
				"not a kopt run log?\n",
				rp->log_path, col_names[c]);
			return -1;
		}
	}
	return 0;
}

static double num(char **f, int n, int i)
{
	char *end;
	double v;

	if (i >= n || !*f[i])
		return NAN;
	v = strtod(f[i], &end);
	return *end || !isfinite(v) ? NAN : v;
}

static const char *field(char **f, int n, int i)
{
	return i < n ? f[i] : "";
}

/* x of the energy/latency plot: the SLA's latency, or throughput/qps. */
static double x_of(const struct report *rp, char **f, int n)
{
	if (!strcmp(rp->m.sla_kind, "throughput"))
		return num(f, n, rp->idx[C_THROUGHPUT]) /
		       num(f, n, rp->idx[C_QPS]);
	return num(f, n,
		   rp->idx[!strcmp(rp->m.sla_pct, "p50") ? C_P50 : C_P99]);
}

/* A data file row: four numbers, NaN (missing to the script) if not finite. */
static void dat_row(FILE *f, double a, double b, double c, double d)
{
	const double v[4] = { a, b, c, d };

	for (int i = 0; i < 4; i++)
		if (isfinite(v[i]))
			fprintf(f, "%s%g", i ? " " : "", v[i]);
		else
			fprintf(f, "%sNaN", i ? " " : "");
	fputc('\n', f);
}

/* "ITR/FREQ" from the parsed numbers ("stock" for a missing one). */
static void setting_str(char *buf, size_t len, double itr, double freq)
{
	char a[24] = "stock", b[24] = "stock";

	if (isfinite(itr))
		snprintf(a, sizeof(a), "%g", itr);
	if (isfinite(freq))
		snprintf(b, sizeof(b), "%g", freq);
	snprintf(buf, len, "%s/%s", a, b);
}

static int note_hold(struct report *rp, char **f, int n, double x, double y)
{
	double trig = num(f, n, rp->idx[C_TRIGGER]);
	struct chosen *c;
	size_t t;

	if (!(trig >= 0 && trig < MAX_TRIGGERS))
		return 0;
	t = (size_t)trig;
	if (t >= rp->n_ch) {
		c = realloc(rp->ch, (t + 1) * sizeof(*c));
		if (!c)
			return -ENOMEM;
		memset(c + rp->n_ch, 0, (t + 1 - rp->n_ch) * sizeof(*c));
		rp->ch = c;
		rp->n_ch = t + 1;
	}
	c = &rp->ch[t];
	c->x_sum += x;
	c->y_sum += y;
	c->n++;
	setting_str(c->setting, sizeof(c->setting), num(f, n, rp->idx[C_ITR]),
		    num(f, n, rp->idx[C_FREQ]));
	return 0;
}

static int take_row(struct report *rp, char *line)
{
	char *f[MAX_COLS];
	int n = split(line, f, MAX_COLS);
	const char *phase = field(f, n, rp->idx[C_PHASE]);
	double t = num(f, n, rp->idx[C_T]), x = x_of(rp, f, n),
	       y = num(f, n, rp->idx[C_OBJ]), e = num(f, n, rp->idx[C_ENERGY]),
	       oracle;

	if (!isfinite(e))
		return 0; /* a failed window */
	rp->rows++;
	if (!strcmp(field(f, n, rp->idx[C_SOURCE]), "sim"))
		rp->m.simulated = true;
	if (isfinite(t) && t > rp->t_max)
		rp->t_max = t;
	oracle = num(f, n, rp->idx[C_ORACLE]);
	dat_row(rp->energy, t, e, num(f, n, rp->idx[C_STOCK]), oracle);
	rp->oracle_rows += isfinite(oracle);
	if (!isfinite(x) || !isfinite(y))
		return 0;
	if (!strcmp(phase, "explore") || !strcmp(phase, "measure"))
		dat_row(rp->trials, x, y, num(f, n, rp->idx[C_TRIGGER]),
			num(f, n, rp->idx[C_ITR]));
	if (!strcmp(phase, "hold"))
		return note_hold(rp, f, n, x, y);
	return 0;
}

static int read_log(struct report *rp, FILE *in)
{
	char *line = NULL;
	size_t cap = 0;
	bool header = false;
	int ret = 0;

	while (getline(&line, &cap, in) > 0) {
		if (line[0] == '#') {
			parse_meta(&rp->m, line + 1);
		} else if (!header) {
			ret = map_header(rp, line);
			header = true;
		} else {
			ret = take_row(rp, line);
		}
		if (ret)
			break;
	}
	free(line);
	if (!ret && !header) {
		pr_warn("report: %s: no header line: not a kopt run log?\n",
			rp->log_path);
		return -1;
	}
	if (!ret && !rp->rows) {
		pr_warn("report: %s: no measured window to draw\n",
			rp->log_path);
		return -1;
	}
	return ret;
}

/* ---- writing ---------------------------------------------------------------- */

static FILE *open_in(const struct report *rp, const char *name)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", rp->dir, name);
	f = fopen(path, "we");
	if (!f)
		pr_warn("report: %s: %s\n", path, strerror(errno));
	return f;
}

static int write_chosen(const struct report *rp)
{
	FILE *f = open_in(rp, "chosen.dat");

	if (!f)
		return -1;
	for (size_t t = 0; t < rp->n_ch; t++)
		if (rp->ch[t].n)
			fprintf(f, "%g %g \"%s\"\n",
				rp->ch[t].x_sum / rp->ch[t].n,
				rp->ch[t].y_sum / rp->ch[t].n,
				rp->ch[t].setting);
	return fclose(f);
}

static const char *y_label(const struct meta *m)
{
	return !strcmp(m->objective, "energy_per_op") ?
		       "energy per request (uJ)" :
		       "power (W = J per second)";
}

/*
 * Writes s as a gnuplot string constant: single-quoted, where gnuplot
 * expands no backquote, macro or backslash and the only escape is '' for
 * a quote; control characters (a newline would end the command) become
 * '?'. Any text, from any log, stays text.
 */
static void gp_str(FILE *gp, const char *s)
{
	fputc('\'', gp);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '\'')
			fputs("''", gp);
		else if (c < 0x20 || c == 0x7f)
			fputc('?', gp);
		else
			fputc(c, gp);
	}
	fputc('\'', gp);
}

/* set title '<policy>: what<tag>' */
static void gp_title(FILE *gp, const struct report *rp, const char *what,
		     const char *tag)
{
	char title[256];

	snprintf(title, sizeof(title), "%s: %s%s", rp->m.policy, what, tag);
	fputs("set title ", gp);
	gp_str(gp, title);
	fputc('\n', gp);
}

static void script_latency(const struct report *rp, FILE *gp, const char *tag)
{
	bool thr = !strcmp(rp->m.sla_kind, "throughput");

	fprintf(gp, "set output 'energy_latency.png'\n");
	gp_title(gp, rp, "every trial and the chosen settings", tag);
	fprintf(gp,
		"set xlabel '%s'\nset ylabel '%s'\n"
		"set arrow 1 from %g, graph 0 to %g, graph 1 nohead dt 2 "
		"lw 2 lc rgb 'red'\n"
		"set label 1 'SLA' at %g, graph 0.95 offset 0.5,0 "
		"tc rgb 'red'\n"
		"plot 'trials.dat' using 1:2 with points pt 7 ps 0.6 "
		"lc rgb '#4477aa' title 'trials', \\\n"
		"     'chosen.dat' using 1:2 with points pt 9 ps 2.2 "
		"lc rgb '#ee6677' title 'chosen (hold)'\n"
		"unset arrow 1\nunset label 1\n",
		thr ? "throughput / offered load" :
		      (!strcmp(rp->m.sla_pct, "p50") ? "p50 latency (us)" :
						       "p99 latency (us)"),
		y_label(&rp->m), rp->m.bound, rp->m.bound, rp->m.bound);
}

static void script_itr(const struct report *rp, FILE *gp, const char *tag)
{
	fprintf(gp, "set output 'energy_itr.png'\n");
	gp_title(gp, rp, "energy of every trial over the interrupt delay", tag);
	fprintf(gp,
		"set xlabel 'ITR (us)'\nset ylabel '%s'\n"
		"plot 'trials.dat' using 4:2 with points pt 7 ps 0.6 "
		"lc rgb '#4477aa' title 'trials'\n",
		y_label(&rp->m));
}

static void script_time(const struct report *rp, FILE *gp, const char *tag)
{
	bool hours = rp->t_max > 2 * 3600;

	fprintf(gp, "set output 'energy_time.png'\n");
	gp_title(gp, rp, "energy per window, kopt vs stock policy", tag);
	fprintf(gp,
		"set xlabel '%s'\nset ylabel 'energy per window (J)'\n"
		"plot 'energy.dat' using ($1/%g):3 with lines lw 1 "
		"lc rgb '#999999' title 'stock policy', \\\n"
		"     'energy.dat' using ($1/%g):2 with lines lw 1 "
		"lc rgb '#4477aa' title 'kopt'",
		hours ? "time (hours)" : "time (s)", hours ? 3600.0 : 1.0,
		hours ? 3600.0 : 1.0);
	if (rp->oracle_rows)
		fprintf(gp,
			", \\\n     'energy.dat' using ($1/%g):4 with "
			"lines lw 1 dt 2 lc rgb '#228833' title 'oracle'",
			hours ? 3600.0 : 1.0);
	fprintf(gp, "\n");
}

static int write_script(const struct report *rp)
{
	const char *tag = rp->m.simulated ? " (simulated)" : "";
	FILE *gp = open_in(rp, "report.gp");

	if (!gp)
		return -1;
	/* the log's path as a string constant: a comment would let a newline in */
	fprintf(gp, "# generated by kopt report; rerun in this directory: "
		    "gnuplot report.gp\nlog = ");
	gp_str(gp, rp->log_path);
	fprintf(gp,
		"\nset terminal pngcairo size 1000,700 noenhanced\n"
		"set key top right\nset grid\nset datafile missing 'NaN'\n");
	script_latency(rp, gp, tag);
	script_itr(rp, gp, tag);
	script_time(rp, gp, tag);
	return fclose(gp);
}

static bool have_gnuplot(void)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX], *dir, *save = NULL, *copy;
	bool found = false;

	if (!path)
		return false;
	copy = strdup(path);
	if (!copy)
		return false;
	for (dir = strtok_r(copy, ":", &save); dir && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		snprintf(buf, sizeof(buf), "%s/gnuplot", *dir ? dir : ".");
		found = access(buf, X_OK) == 0;
	}
	free(copy);
	return found;
}

/* gnuplot report.gp, in DIR, from an argument vector: no shell. */
static int run_gnuplot(const struct report *rp)
{
	char *const argv[] = { "gnuplot", "report.gp", NULL };
	posix_spawn_file_actions_t fa;
	int err, st = -1;
	pid_t pid;

	err = posix_spawn_file_actions_init(&fa);
	if (!err)
		err = posix_spawn_file_actions_addchdir_np(&fa, rp->dir);
	if (!err)
		err = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err) {
		pr_warn("report: cannot start gnuplot in %s: %s\n", rp->dir,
			strerror(err));
		return -1;
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		pr_warn("report: gnuplot failed on %s/report.gp (status %d); "
			"its messages are above\n",
			rp->dir, st);
		return -1;
	}
	return 0;
}

static int make_report(struct report *rp)
{
	FILE *in = fopen(rp->log_path, "re");
	int ret;

	if (!in) {
		pr_warn("report: %s: %s\n", rp->log_path, strerror(errno));
		return KOPT_EXIT_FAIL;
	}
	if (mkdir(rp->dir, 0755) && errno != EEXIST) {
		pr_warn("report: -o %s: %s\n", rp->dir, strerror(errno));
		fclose(in);
		return KOPT_EXIT_FAIL;
	}
	rp->trials = open_in(rp, "trials.dat");
	rp->energy = open_in(rp, "energy.dat");
	ret = rp->trials && rp->energy ? read_log(rp, in) : -1;
	fclose(in);
	if (rp->trials)
		ret |= fclose(rp->trials);
	if (rp->energy)
		ret |= fclose(rp->energy);
	if (!ret)
		ret = write_chosen(rp) || write_script(rp) || run_gnuplot(rp);
	free(rp->ch);
	if (ret)
		return KOPT_EXIT_FAIL;
	printf("%s/energy_latency.png\n%s/energy_itr.png\n"
	       "%s/energy_time.png\n",
	       rp->dir, rp->dir, rp->dir);
	return KOPT_EXIT_OK;
}

int cmd_report(int argc, char **argv)
{
	struct report rp = { 0 };
	const struct kopt_opts spec = {
		.cmd = "kopt report",
		.usage = "LOG.csv -o DIR",
		.desc = "Draws a `kopt run --log` file with gnuplot: "
			"DIR/energy_latency.png (trials,\nSLA line, chosen "
			"settings), DIR/energy_itr.png (trials over ITR) and\n"
			"DIR/energy_time.png (kopt vs the stock policy).",
		.opts = KOPT_OPTS(
			KOPT_OPT_STR("output", 'o', &rp.dir, "DIR",
				     "where the pictures go (created)",
				     .flags = KOPT_OPT_REQUIRED)),
		.args = KOPT_ARGS(KOPT_ARG("LOG.csv", &rp.log_path)),
	};
	int ret;

	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	if (!have_gnuplot()) {
		pr_warn("report: gnuplot not found in PATH; install it "
			"(apt-get install gnuplot-nox, or make deps) and run "
			"again\n");
		return KOPT_EXIT_FAIL;
	}
	return make_report(&rp);
}
