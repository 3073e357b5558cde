// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt report LOG.csv -o DIR: pictures of a `kopt run --log` file.
 *
 *   DIR/energy_latency.png  every trial's (latency, energy) with the SLA
 *                           line and the setting chosen at each trigger,
 *                           one colour per load level: the published "L"
 *                           (memcached) or "V" (ping-pong) shows up here.
 *                           Latencies spanning more than a decade get a
 *                           log axis, so outliers do not squeeze the SLA
 *                           region against the edge
 *   DIR/energy_itr.png      every trial's energy over the interrupt
 *                           delay (the shape at a glance), the same
 *                           colours
 *   DIR/energy_time.png     power per window over time, kopt against
 *                           the stock policy (the plant's figure, or the
 *                           stock windows measured) and the oracle if the
 *                           plant knew it; a series without data is left
 *                           out, not plotted empty
 *
 * Power is in W in every plot (J per request for energy_per_op). Legends
 * sit below the plots, off the data. The log is read here and reduced to
 * small data files next to the pictures (trials.dat, chosen.dat,
 * energy.dat, stock.dat) plus the gnuplot script (report.gp), which names
 * them relative to its own directory: `cd DIR && gnuplot report.gp`
 * redraws. gnuplot draws; kopt checks it is installed first. Titles say
 * where the figures come from: "(simulated)", "(replayed)" or
 * "(estimated)" (an energy model, not a meter).
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
	bool simulated, replayed, estimated; /* what the source column said */
};

/* A trial window, kept until the load levels are known. */
struct trial {
	double x, y, trigger, itr, qps;
	int level;
};

/* at most this many load levels get a colour each */
#define MAX_LEVELS 8

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
	FILE *energy, *stock;
	struct chosen *ch;
	size_t n_ch;
	struct trial *tr;
	size_t n_tr, cap_tr;
	/* load levels: the lowest qps of each, ascending */
	double level_lo[MAX_LEVELS], level_hi[MAX_LEVELS];
	size_t n_levels;
	unsigned int rows, oracle_rows, stock_rows, stock_windows;
	double t_max, x_min, x_max;
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

static void note_source(struct meta *m, const char *src)
{
	if (!strcmp(src, "sim"))
		m->simulated = true;
	else if (!strcmp(src, "replay"))
		m->replayed = true;
	else if (strstr(src, "estimate"))
		m->estimated = true;
}

static int add_trial(struct report *rp, const struct trial *t)
{
	if (rp->n_tr == rp->cap_tr) {
		size_t cap = rp->cap_tr ? 2 * rp->cap_tr : 256;
		struct trial *tr = realloc(rp->tr, cap * sizeof(*tr));

		if (!tr)
			return -ENOMEM;
		rp->tr = tr;
		rp->cap_tr = cap;
	}
	rp->tr[rp->n_tr++] = *t;
	return 0;
}

static void note_x(struct report *rp, double x)
{
	if (!(x > 0))
		return;
	if (!(rp->x_min > 0) || x < rp->x_min)
		rp->x_min = x;
	if (x > rp->x_max)
		rp->x_max = x;
}

/* Energy per window as power (W): every plot in the same unit. */
static double watts(double joules, double seconds)
{
	return seconds > 0 ? joules / seconds : NAN;
}

static int take_row(struct report *rp, char *line)
{
	char *f[MAX_COLS];
	int n = split(line, f, MAX_COLS);
	const char *phase = field(f, n, rp->idx[C_PHASE]);
	double t = num(f, n, rp->idx[C_T]), x = x_of(rp, f, n),
	       y = num(f, n, rp->idx[C_OBJ]), e = num(f, n, rp->idx[C_ENERGY]),
	       secs = num(f, n, rp->idx[C_SECONDS]),
	       stock = num(f, n, rp->idx[C_STOCK]), oracle;

	if (!isfinite(e))
		return 0; /* a failed window */
	rp->rows++;
	note_source(&rp->m, field(f, n, rp->idx[C_SOURCE]));
	if (isfinite(t) && t > rp->t_max)
		rp->t_max = t;
	oracle = num(f, n, rp->idx[C_ORACLE]);
	dat_row(rp->energy, t, watts(e, secs), watts(stock, secs),
		watts(oracle, secs));
	rp->oracle_rows += isfinite(oracle);
	rp->stock_rows += isfinite(stock);
	if (!strcmp(phase, "stock")) {
		/* the baseline measured: a stock window of its own */
		dat_row(rp->stock, t, watts(e, secs), NAN, NAN);
		rp->stock_windows++;
	}
	if (!isfinite(x) || !isfinite(y))
		return 0;
	if (!strcmp(phase, "explore") || !strcmp(phase, "measure")) {
		note_x(rp, x);
		return add_trial(
			rp, &(struct trial){
				    .x = x,
				    .y = y,
				    .trigger = num(f, n, rp->idx[C_TRIGGER]),
				    .itr = num(f, n, rp->idx[C_ITR]),
				    .qps = num(f, n, rp->idx[C_QPS]),
			    });
	}
	if (!strcmp(phase, "hold")) {
		note_x(rp, x);
		return note_hold(rp, f, n, x, y);
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Groups the trials' loads into at most MAX_LEVELS levels: sorted, a new
 * level starts where a load is more than `ratio` above the level's
 * lowest; the ratio grows until the levels fit. Trials without a load
 * form no level (level -1: drawn grey).
 */
static int make_levels(struct report *rp)
{
	double *q = malloc((rp->n_tr + 1) * sizeof(*q)), ratio = 1.15;
	size_t n = 0;

	if (!q)
		return -ENOMEM;
	for (size_t i = 0; i < rp->n_tr; i++)
		if (rp->tr[i].qps > 0)
			q[n++] = rp->tr[i].qps;
	qsort(q, n, sizeof(*q), cmp_double);
	for (;; ratio *= 1.5) {
		rp->n_levels = 0;
		for (size_t i = 0; i < n; i++) {
			if (rp->n_levels &&
			    q[i] <= rp->level_lo[rp->n_levels - 1] * ratio) {
				rp->level_hi[rp->n_levels - 1] = q[i];
				continue;
			}
			if (rp->n_levels == MAX_LEVELS)
				break;
			rp->level_lo[rp->n_levels] = q[i];
			rp->level_hi[rp->n_levels++] = q[i];
		}
		if (!n || rp->level_hi[rp->n_levels - 1] == q[n - 1])
			break;
	}
	free(q);
	for (size_t i = 0; i < rp->n_tr; i++) {
		rp->tr[i].level = -1;
		for (size_t l = 0; l < rp->n_levels; l++)
			if (rp->tr[i].qps >= rp->level_lo[l] &&
			    rp->tr[i].qps <= rp->level_hi[l])
				rp->tr[i].level = (int)l;
	}
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

/*
 * trials.dat: one gnuplot data block per load level (index 0..n-1), the
 * trials without a load last; blocks are separated by two blank lines.
 */
static int write_trials(const struct report *rp)
{
	FILE *f = open_in(rp, "trials.dat");

	if (!f)
		return -1;
	for (int l = 0; l <= (int)rp->n_levels; l++) {
		int want = l < (int)rp->n_levels ? l : -1;

		if (l)
			fputs("\n\n", f);
		fprintf(f, "# block %d: x y trigger itr_us qps\n", l);
		for (size_t i = 0; i < rp->n_tr; i++) {
			const struct trial *t = &rp->tr[i];

			if (t->level != want)
				continue;
			dat_row(f, t->x, t->y, t->trigger, t->itr);
		}
	}
	return fclose(f);
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
		       "power (W)";
}

/* "480k" for 480000: a load level's name in a legend */
static void qps_str(char *buf, size_t len, double q)
{
	if (q >= 1e6)
		snprintf(buf, len, "%.3gM", q / 1e6);
	else if (q >= 1e3)
		snprintf(buf, len, "%.3gk", q / 1e3);
	else
		snprintf(buf, len, "%.3g", q);
}

/* The trials, one series per load level (the colour is gnuplot's own). */
static void plot_levels(const struct report *rp, FILE *gp, const char *using)
{
	static const char *const colours[MAX_LEVELS] = {
		"#4477aa", "#ee6677", "#228833", "#ccbb44",
		"#66ccee", "#aa3377", "#bbbbbb", "#117733",
	};
	bool any = false;

	for (size_t l = 0; l <= rp->n_levels; l++) {
		char lo[16], hi[16];
		bool have = false;

		for (size_t i = 0; i < rp->n_tr && !have; i++)
			have = rp->tr[i].level ==
			       (l < rp->n_levels ? (int)l : -1);
		if (!have)
			continue;
		fprintf(gp,
			"%s'trials.dat' index %zu using %s with points "
			"pt 7 ps 0.6 lc rgb '%s' title ",
			any ? ", \\\n     " : "plot ", l, using,
			l < rp->n_levels ? colours[l] : "#999999");
		if (l == rp->n_levels) {
			fputs("'trials (load unknown)'", gp);
		} else {
			qps_str(lo, sizeof(lo), rp->level_lo[l]);
			qps_str(hi, sizeof(hi), rp->level_hi[l]);
			if (!strcmp(lo, hi))
				fprintf(gp, "'trials at %s qps'", lo);
			else
				fprintf(gp, "'trials at %s-%s qps'", lo, hi);
		}
		any = true;
	}
	if (!any) /* no trial at all: keep the plot command valid */
		fputs("plot NaN notitle", gp);
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
	/* a decade or more: a log axis keeps the SLA region readable */
	bool logx = !thr && rp->x_min > 0 && rp->x_max > 10 * rp->x_min;

	fprintf(gp, "set output 'energy_latency.png'\n");
	gp_title(gp, rp, "every trial and the chosen settings", tag);
	fprintf(gp, "set xlabel '%s'\nset ylabel '%s'\n",
		thr ? "throughput / offered load" :
		      (!strcmp(rp->m.sla_pct, "p50") ?
			       (logx ? "p50 latency (us, log scale)" :
				       "p50 latency (us)") :
			       (logx ? "p99 latency (us, log scale)" :
				       "p99 latency (us)")),
		y_label(&rp->m));
	if (logx)
		fprintf(gp, "set logscale x\nset xrange [%g:%g]\n",
			fmin(rp->x_min, rp->m.bound) / 1.2,
			fmax(rp->x_max, rp->m.bound) * 1.2);
	if (rp->m.bound > 0)
		fprintf(gp,
			"set arrow 1 from %g, graph 0 to %g, graph 1 nohead "
			"dt 2 lw 2 lc rgb 'red'\n"
			"set label 1 'SLA' at %g, graph 0.95 offset 0.5,0 "
			"tc rgb 'red'\n",
			rp->m.bound, rp->m.bound, rp->m.bound);
	plot_levels(rp, gp, "1:2");
	if (rp->n_ch)
		fprintf(gp, ", \\\n     'chosen.dat' using 1:2 with points "
			    "pt 9 ps 2.2 lc rgb '#000000' title "
			    "'chosen (hold)'");
	fprintf(gp, "\nunset arrow 1\nunset label 1\n");
	if (logx)
		fprintf(gp, "unset logscale x\nset autoscale x\n");
}

static void script_itr(const struct report *rp, FILE *gp, const char *tag)
{
	fprintf(gp, "set output 'energy_itr.png'\n");
	gp_title(gp, rp, "energy of every trial over the interrupt delay", tag);
	fprintf(gp, "set xlabel 'ITR (us)'\nset ylabel '%s'\n",
		y_label(&rp->m));
	plot_levels(rp, gp, "4:2");
	fputc('\n', gp);
}

static void script_time(const struct report *rp, FILE *gp, const char *tag)
{
	bool hours = rp->t_max > 2 * 3600;
	double div = hours ? 3600.0 : 1.0;
	const char *what = rp->stock_rows || rp->stock_windows ?
				   "power per window, kopt vs stock policy" :
				   "power per window (no stock baseline in "
				   "this log)";

	fprintf(gp, "set output 'energy_time.png'\n");
	gp_title(gp, rp, what, tag);
	fprintf(gp,
		"set xlabel '%s'\nset ylabel 'power (W)'\n"
		"plot 'energy.dat' using ($1/%g):2 with lines lw 1 "
		"lc rgb '#4477aa' title 'kopt'",
		hours ? "time (hours)" : "time (s)", div);
	/* only series with data: gnuplot warns about an empty one */
	if (rp->stock_rows)
		fprintf(gp,
			", \\\n     'energy.dat' using ($1/%g):3 with lines "
			"lw 1 lc rgb '#999999' title 'stock policy (plant)'",
			div);
	if (rp->stock_windows)
		fprintf(gp,
			", \\\n     'stock.dat' using ($1/%g):2 with "
			"linespoints pt 5 ps 0.8 lc rgb '#555555' title "
			"'stock policy (measured windows)'",
			div);
	if (rp->oracle_rows)
		fprintf(gp,
			", \\\n     'energy.dat' using ($1/%g):4 with "
			"lines lw 1 dt 2 lc rgb '#228833' title 'oracle'",
			div);
	fprintf(gp, "\n");
}

/* What the figures are, for every title: the README promises the label. */
static const char *source_tag(const struct meta *m)
{
	if (m->simulated)
		return " (simulated)";
	if (m->replayed)
		return " (replayed)";
	if (m->estimated)
		return " (estimated)";
	return "";
}

static int write_script(const struct report *rp)
{
	const char *tag = source_tag(&rp->m);
	FILE *gp = open_in(rp, "report.gp");

	if (!gp)
		return -1;
	/* the log's path as a string constant: a comment would let a newline in */
	fprintf(gp, "# generated by kopt report; every file it reads or "
		    "writes is in this\n# directory: cd there and run "
		    "gnuplot report.gp\nlog = ");
	gp_str(gp, rp->log_path);
	fprintf(gp, "\nset terminal pngcairo size 1000,760 noenhanced\n"
		    "set key below horizontal\nset grid\n"
		    "set datafile missing 'NaN'\n");
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
	rp->energy = open_in(rp, "energy.dat");
	rp->stock = open_in(rp, "stock.dat");
	ret = rp->stock && rp->energy ? read_log(rp, in) : -1;
	fclose(in);
	if (rp->stock)
		ret |= fclose(rp->stock);
	if (rp->energy)
		ret |= fclose(rp->energy);
	if (!ret)
		ret = make_levels(rp) || write_trials(rp) || write_chosen(rp) ||
		      write_script(rp) || run_gnuplot(rp);
	free(rp->ch);
	free(rp->tr);
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
