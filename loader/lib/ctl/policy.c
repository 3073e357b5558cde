// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policy files for `kopt run`: parsing with inih, then validation of each
 * value and of the relations between values.
 *
 * Every key is described once in key_table (section, name, type, range,
 * where it goes), so the parser, the duplicate check and the "unknown key"
 * message all come from one place. Errors name file, line, section and key
 * and say what would be accepted. Line numbers come from a counting line
 * reader given to ini_parse_stream(), because Debian's inih is built
 * without INI_HANDLER_LINENO.
 *
 * Cost: one pass over a small file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>
#include <json-c/json.h>

#include "kopt.h"
#include "latency_src.h"
#include "policy.h"
#include "srvlat.h"

/* ---- INI with line numbers ------------------------------------------------ */

struct ini_stream {
	FILE *f;
	struct kopt_ini *ini;
	int line;
	bool too_long;
};

/*
 * fgets-style reader for ini_parse_stream that counts lines, so handlers
 * can name the line, and refuses lines inih would silently split.
 */
static char *ini_read_line(char *str, int num, void *stream)
{
	struct ini_stream *s = stream;
	size_t len;

	if (s->too_long || !fgets(str, num, s->f))
		return NULL;
	s->line++;
	s->ini->line = s->line;
	len = strlen(str);
	if (len == (size_t)num - 1 && str[len - 1] != '\n' && !feof(s->f)) {
		s->too_long = true;
		return NULL;
	}
	return str;
}

static int ini_dispatch(void *user, const char *section, const char *key,
			const char *value)
{
	struct kopt_ini *ini = ((struct ini_stream *)user)->ini;

	/*
	 * Go on after a bad pair (the handler recorded it), so one pass
	 * reports every error; inih's own non-zero return then means a line
	 * that is not a pair at all.
	 */
	ini->handler(ini, section, key, value);
	return 1;
}

/* room kept at the end of ini->err for "more errors not shown" */
#define INI_ERR_TAIL (PATH_MAX < 256 ? PATH_MAX : 256)

/* Adds one "path[:line]: ..." line to ini->err; always -1. */
static int ini_add(struct kopt_ini *ini, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int ini_add(struct kopt_ini *ini, int line, const char *fmt, ...)
{
	size_t used = strlen(ini->err), room = sizeof(ini->err) - used;
	const char *sep = used ? "\n" : "";
	char msg[KOPT_INI_ERR_LEN];
	va_list ap;
	int n;

	if (ini->nerr++ && ini->err_full)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		n = snprintf(ini->err + used, room, "%s%s:%d: %s", sep,
			     ini->path, line, msg);
	else
		n = snprintf(ini->err + used, room, "%s%s: %s", sep, ini->path,
			     msg);
	if (n >= 0 && (size_t)n < room - INI_ERR_TAIL)
		return -1;
	snprintf(ini->err + used, room, "%s%.128s: more errors not shown", sep,
		 ini->path);
	ini->err_full = true;
	return -1;
}

int kopt_ini_parse(struct kopt_ini *ini)
{
	struct ini_stream s = { .ini = ini };
	int ret;

	ini->err[0] = '\0';
	ini->nerr = 0;
	ini->err_full = false;
	ini->line = 0;
	s.f = fopen(ini->path, "re");
	if (!s.f)
		return ini_add(ini, 0, "cannot open: %s", strerror(errno));
	ret = ini_parse_stream(ini_read_line, &s, ini_dispatch, &s);
	fclose(s.f);
	if (s.too_long)
		ini_add(ini, s.line,
			"line longer than %d characters; split the list or "
			"shorten the comment",
			INI_MAX_LINE - 3);
	/* inih reports the first line that is not a pair, and goes on */
	else if (ret > 0)
		ini_add(ini, ret,
			"syntax error: expected '[section]', 'key = value' or "
			"a comment");
	return ini->nerr ? -1 : 0;
}

int kopt_ini_verr(struct kopt_ini *ini, const char *section, const char *key,
		  const char *fmt, va_list ap)
{
	char msg[KOPT_INI_ERR_LEN];
	size_t n = 0;

	if (key)
		n = snprintf(msg, sizeof(msg), "[%s] %s: ", section, key);
	else if (section)
		n = snprintf(msg, sizeof(msg), "[%s]: ", section);
	if (n < sizeof(msg))
		vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	return ini_add(ini, ini->line, "%s", msg);
}

int kopt_ini_err(struct kopt_ini *ini, const char *section, const char *key,
		 const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = kopt_ini_verr(ini, section, key, fmt, ap);
	va_end(ap);
	return ret;
}

static int parse_number(const char *s, double *out, const char **end)
{
	char *e;

	errno = 0;
	*out = strtod(s, &e);
	*end = e;
	return e != s && !errno && isfinite(*out) ? 0 : -1;
}

int kopt_ini_double(struct kopt_ini *ini, const char *section, const char *key,
		    const char *value, double min, double max, double *out)
{
	const char *end;
	double v;

	if (parse_number(value, &v, &end) || *end)
		return kopt_ini_err(ini, section, key, "'%s' is not a number",
				    value);
	if (v < min || v > max)
		return kopt_ini_err(ini, section, key,
				    "%g is out of range [%g, %g]", v, min, max);
	*out = v;
	return 0;
}

int kopt_ini_list(struct kopt_ini *ini, const char *section, const char *key,
		  const char *value, double min, double max, double *out,
		  size_t cap, size_t *n)
{
	const char *p = value, *end;
	double v;

	*n = 0;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		if (parse_number(p, &v, &end) ||
		    (*end && *end != ' ' && *end != '\t' && *end != ','))
			return kopt_ini_err(ini, section, key,
					    "'%s' is not a list of numbers",
					    value);
		if (v < min || v > max)
			return kopt_ini_err(ini, section, key,
					    "%g is out of range [%g, %g]", v,
					    min, max);
		if (*n == cap)
			return kopt_ini_err(ini, section, key,
					    "more than %zu values", cap);
		out[(*n)++] = v;
		p = end;
	}
	if (!*n)
		return kopt_ini_err(ini, section, key, "empty list");
	return 0;
}

/* ---- the keys of a policy --------------------------------------------------- */

enum key_type {
	K_DOUBLE, /* double at off, range [min, max] */
	K_UINT, /* unsigned int at off, range [min, max] */
	K_U64, /* uint64_t at off */
	K_ENUM, /* int-sized enum at off, one of names[] */
	K_NAME, /* char[POLICY_NAME_LEN] at off */
	K_PATH, /* char[PATH_MAX] at off, relative to the policy's dir */
	K_FREQ_LIST, /* freqs_mhz / n_freqs */
	K_FALLBACK, /* "stock" or "ITR_US,FREQ_MHZ" */
	K_STR, /* char[POLICY_NAME_LEN] at off, no spaces */
	K_LATENCY, /* struct policy_latency at off */
};

/* Every key the parser tracks (also the index into seen lines). */
enum key_id {
	KEY_NAME,
	KEY_OBJECTIVE,
	KEY_BASELINE,
	KEY_SLA_KIND,
	KEY_SLA_PCT,
	KEY_SLA_BOUND,
	KEY_SLA_AIM,
	KEY_SLA_MIN_RATIO,
	KEY_SLA_AIM_RATIO,
	KEY_ITR_MIN,
	KEY_ITR_MAX,
	KEY_ITR_STEP,
	KEY_ITR_SCALE,
	KEY_FREQ_LIST,
	KEY_FREQ_MIN,
	KEY_FREQ_MAX,
	KEY_FREQ_STEP,
	KEY_WINDOW,
	KEY_TRIALS,
	KEY_INIT_TRIALS,
	KEY_CONV_TRIALS,
	KEY_CONV_TOL,
	KEY_WARM_RADIUS,
	KEY_ACQ,
	KEY_SEED,
	KEY_SCHEDULE,
	KEY_QPS_CHANGE,
	KEY_GUARD_WINDOWS,
	KEY_FALLBACK,
	KEY_SIM_PARAMS,
	KEY_TIMEOUT,
	KEY_MAX_FAILURES,
	KEY_HOST_IF,
	KEY_HOST_COALESCE,
	KEY_HOST_CPUS,
	KEY_HOST_SERVER,
	KEY_HOST_RATE,
	KEY_HOST_CONNS,
	KEY_HOST_AGENT,
	KEY_HOST_ENERGY,
	KEY_HOST_LATENCY,
	NR_KEYS,
};

_Static_assert(NR_KEYS <= 64, "struct policy given_keys is 64 bits");

static const char *const objective_names[] = { "energy", "energy_per_op",
					       NULL };
static const char *const sla_kind_names[] = { "latency", "throughput", NULL };
static const char *const pct_names[] = { "p50", "p99", NULL };
static const char *const scale_names[] = { "linear", "log", NULL };
static const char *const acq_names[] = { "cei", "ei", "lcb", "penalized",
					 NULL };
static const char *const baseline_names[] = { "auto", "plant", "measure",
					      "none", NULL };
static const char *const coalesce_names[] = { "nic", "sw", NULL };
static const char *const energy_names[] = { "auto", "estimate", "measured",
					    NULL };

struct key_desc {
	const char *section, *key;
	enum key_type type;
	double min, max;
	const char *const *names;
	size_t off;
};

#define P_OFF(field) offsetof(struct policy, field)
/* Frequencies and delays bounded by what any real NIC/CPU offers. */
#define MAX_ITR_US 100000.0
#define MAX_FREQ_MHZ 100000.0
#define MAX_WINDOW_S 86400.0
#define MAX_TRIALS 200

static const struct key_desc key_table[NR_KEYS] = {
	[KEY_NAME] = { "policy", "name", K_NAME, .off = P_OFF(name) },
	[KEY_OBJECTIVE] = { "policy", "objective", K_ENUM,
			    .names = objective_names, .off = P_OFF(objective) },
	[KEY_BASELINE] = { "policy", "baseline", K_ENUM,
			   .names = baseline_names, .off = P_OFF(baseline) },
	[KEY_SLA_KIND] = { "sla", "kind", K_ENUM, .names = sla_kind_names,
			   .off = P_OFF(sla.kind) },
	[KEY_SLA_PCT] = { "sla", "percentile", K_ENUM, .names = pct_names,
			  .off = P_OFF(sla.pct) },
	[KEY_SLA_BOUND] = { "sla", "bound_us", K_DOUBLE, 1, 1e9,
			    .off = P_OFF(sla.bound_us) },
	[KEY_SLA_AIM] = { "sla", "aim_us", K_DOUBLE, 1, 1e9,
			  .off = P_OFF(sla.aim_us) },
	[KEY_SLA_MIN_RATIO] = { "sla", "min_ratio", K_DOUBLE, 0.01, 1,
				.off = P_OFF(sla.min_ratio) },
	[KEY_SLA_AIM_RATIO] = { "sla", "aim_ratio", K_DOUBLE, 0.01, 1,
				.off = P_OFF(sla.aim_ratio) },
	[KEY_ITR_MIN] = { "itr", "min_us", K_DOUBLE, 0, MAX_ITR_US,
			  .off = P_OFF(itr_min_us) },
	[KEY_ITR_MAX] = { "itr", "max_us", K_DOUBLE, 0, MAX_ITR_US,
			  .off = P_OFF(itr_max_us) },
	[KEY_ITR_STEP] = { "itr", "step_us", K_DOUBLE, 0.001, MAX_ITR_US,
			   .off = P_OFF(itr_step_us) },
	[KEY_ITR_SCALE] = { "itr", "scale", K_ENUM, .names = scale_names },
	[KEY_FREQ_LIST] = { "freq", "list_mhz", K_FREQ_LIST },
	[KEY_FREQ_MIN] = { "freq", "min_mhz", K_DOUBLE, 1, MAX_FREQ_MHZ },
	[KEY_FREQ_MAX] = { "freq", "max_mhz", K_DOUBLE, 1, MAX_FREQ_MHZ },
	[KEY_FREQ_STEP] = { "freq", "step_mhz", K_DOUBLE, 1, MAX_FREQ_MHZ },
	[KEY_WINDOW] = { "window", "seconds", K_DOUBLE, 0.001, MAX_WINDOW_S,
			 .off = P_OFF(window_s) },
	[KEY_TRIALS] = { "optimizer", "trials", K_UINT, 1, MAX_TRIALS,
			 .off = P_OFF(trials) },
	[KEY_INIT_TRIALS] = { "optimizer", "init_trials", K_UINT, 1, MAX_TRIALS,
			      .off = P_OFF(init_trials) },
	[KEY_CONV_TRIALS] = { "optimizer", "converge_trials", K_UINT, 1,
			      MAX_TRIALS, .off = P_OFF(converge_trials) },
	[KEY_CONV_TOL] = { "optimizer", "converge_tol", K_DOUBLE, 0, 1,
			   .off = P_OFF(converge_tol) },
	[KEY_WARM_RADIUS] = { "optimizer", "warm_radius", K_DOUBLE, 0, 10,
			      .off = P_OFF(warm_radius) },
	[KEY_ACQ] = { "optimizer", "acquisition", K_ENUM, .names = acq_names,
		      .off = P_OFF(acq) },
	[KEY_SEED] = { "optimizer", "seed", K_U64, .off = P_OFF(seed) },
	[KEY_SCHEDULE] = { "trigger", "schedule_s", K_DOUBLE, 0, 1e9,
			   .off = P_OFF(schedule_s) },
	[KEY_QPS_CHANGE] = { "trigger", "qps_change", K_DOUBLE, 0, 100,
			     .off = P_OFF(qps_change) },
	[KEY_GUARD_WINDOWS] = { "guard", "violations", K_UINT, 1, 1000,
				.off = P_OFF(guard_windows) },
	[KEY_FALLBACK] = { "guard", "fallback", K_FALLBACK },
	[KEY_SIM_PARAMS] = { "plant", "sim_params", K_PATH,
			     .off = P_OFF(sim_params) },
	[KEY_TIMEOUT] = { "plant", "timeout_s", K_DOUBLE, 0, 1e6,
			  .off = P_OFF(timeout_s) },
	[KEY_MAX_FAILURES] = { "plant", "max_failures", K_UINT, 1, 1000,
			       .off = P_OFF(max_failures) },
	[KEY_HOST_IF] = { "host", "interface", K_STR,
			  .off = P_OFF(host.ifname) },
	[KEY_HOST_COALESCE] = { "host", "coalesce", K_ENUM,
				.names = coalesce_names,
				.off = P_OFF(host.coalesce) },
	[KEY_HOST_CPUS] = { "host", "cpus", K_STR, .off = P_OFF(host.cpus) },
	[KEY_HOST_SERVER] = { "host", "server", K_STR,
			      .off = P_OFF(host.server) },
	[KEY_HOST_RATE] = { "host", "rate", K_DOUBLE, 1, 1e7,
			    .off = P_OFF(host.rate) },
	[KEY_HOST_CONNS] = { "host", "connections", K_UINT, 1, 4096,
			     .off = P_OFF(host.connections) },
	[KEY_HOST_AGENT] = { "host", "agent", K_STR, .off = P_OFF(host.agent) },
	[KEY_HOST_ENERGY] = { "host", "energy", K_ENUM, .names = energy_names,
			      .off = P_OFF(host.energy) },
	[KEY_HOST_LATENCY] = { "host", "latency", K_LATENCY,
			       .off = P_OFF(host.latency) },
};

struct policy_parse {
	struct policy *p;
	char dir[PATH_MAX];
	int line[NR_KEYS]; /* where each key was set; 0: not given */
	bool bad[NR_KEYS]; /* given with a value refused (already reported) */
	double freq_min, freq_max, freq_step;
	int itr_scale; /* index into scale_names */
	/* [knob NAME]: where each section and each of its keys was given */
	int knob_line[POLICY_MAX_KNOBS];
	int knob_key_line[POLICY_MAX_KNOBS][4]; /* knob_keys[] order */
	bool knob_bad[POLICY_MAX_KNOBS];
	bool knob_fallback_given[POLICY_MAX_KNOBS];
};

static bool known_section(const char *section)
{
	for (int i = 0; i < NR_KEYS; i++)
		if (!strcmp(key_table[i].section, section))
			return true;
	return false;
}

static int find_key(const char *section, const char *key)
{
	for (int i = 0; i < NR_KEYS; i++)
		if (!strcmp(key_table[i].section, section) &&
		    !strcmp(key_table[i].key, key))
			return i;
	return -1;
}

/* The index of value in a NULL-ended names[]; -1 if it is not there. */
static int name_index(const char *const *names, const char *value)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(names[i], value))
			return i;
	return -1;
}

static int set_enum(struct kopt_ini *ini, const struct key_desc *d,
		    const char *value, void *dst)
{
	char opts[128] = "";
	int i = name_index(d->names, value);

	if (i >= 0) {
		*(int *)dst = i;
		return 0;
	}
	for (i = 0; d->names[i]; i++)
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts),
			 "%s%s", i ? ", " : "", d->names[i]);
	return kopt_ini_err(ini, d->section, d->key, "'%s' is not one of: %s",
			    value, opts);
}

static int set_uint(struct kopt_ini *ini, const struct key_desc *d,
		    const char *value, unsigned int *dst)
{
	double v;

	if (kopt_ini_double(ini, d->section, d->key, value, d->min, d->max, &v))
		return -1;
	if (v != floor(v))
		return kopt_ini_err(ini, d->section, d->key,
				    "%g is not a whole number", v);
	*dst = (unsigned int)v;
	return 0;
}

static int set_u64(struct kopt_ini *ini, const struct key_desc *d,
		   const char *value, uint64_t *dst)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(value, &end, 0);
	if (!*value || *end || errno || *value == '-')
		return kopt_ini_err(ini, d->section, d->key,
				    "'%s' is not a non-negative integer",
				    value);
	*dst = v;
	return 0;
}

/*
 * Where a relative [plant] sim_params is looked for, in order: the
 * policy's own directory, $KOPT_POLICY_DIR, and the policies shipped with
 * the binary: BIN/../policies (build/kopt in a clone) or
 * BIN/../../policies (the test build's build/test/kopt). A user's policy
 * elsewhere can then say sim_params = sim-memcached.params.
 */
#define POLICY_SEARCH_DIRS 4

static size_t search_dirs(const char *policy_dir,
			  char dirs[POLICY_SEARCH_DIRS][PATH_MAX])
{
	const char *env = getenv("KOPT_POLICY_DIR");
	char exe[PATH_MAX], *bin;
	ssize_t len;
	size_t n = 0;

	snprintf(dirs[n++], PATH_MAX, "%s", policy_dir);
	if (env && *env)
		snprintf(dirs[n++], PATH_MAX, "%s", env);
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0)
		return n;
	exe[len] = '\0';
	bin = dirname(exe);
	for (size_t i = 0; i < 2 && n < POLICY_SEARCH_DIRS; i++) {
		static const char *const up[] = { "/../policies",
						  "/../../policies" };
		char d[PATH_MAX], real[PATH_MAX];

		snprintf(d, sizeof(d), "%.*s%s", PATH_MAX - 32, bin, up[i]);
		if (realpath(d, real)) /* only one that exists */
			snprintf(dirs[n++], PATH_MAX, "%s", real);
	}
	return n;
}

/* value found in the search path into dst; 0, or -1 with where it looked */
static int find_in_search_path(const char *policy_dir, const char *value,
			       char *dst, char *looked, size_t looked_len)
{
	char dirs[POLICY_SEARCH_DIRS][PATH_MAX];
	size_t n = search_dirs(policy_dir, dirs), used = 0;

	looked[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (snprintf(dst, PATH_MAX, "%s/%s", dirs[i], value) <
			    PATH_MAX &&
		    !access(dst, R_OK)) {
			char real[PATH_MAX];

			/* shown in messages and `kopt policy show` */
			if (realpath(dst, real))
				snprintf(dst, PATH_MAX, "%s", real);
			return 0;
		}
		if (used < looked_len)
			used += snprintf(looked + used, looked_len - used,
					 "%s%s", i ? ", " : "", dirs[i]);
	}
	dst[0] = '\0';
	return -1;
}

static int set_path(struct policy_parse *pp, struct kopt_ini *ini,
		    const struct key_desc *d, const char *value, char *dst)
{
	char looked[3 * PATH_MAX / 4];

	if (!*value)
		return kopt_ini_err(ini, d->section, d->key, "empty path");
	if (strlen(value) >= PATH_MAX - 1)
		return kopt_ini_err(ini, d->section, d->key, "path too long");
	if (value[0] == '/') {
		snprintf(dst, PATH_MAX, "%s", value);
		if (access(dst, R_OK))
			return kopt_ini_err(ini, d->section, d->key, "%s: %s",
					    value, strerror(errno));
		return 0;
	}
	if (find_in_search_path(pp->dir, value, dst, looked, sizeof(looked)))
		return kopt_ini_err(ini, d->section, d->key,
				    "'%s' not found in: %.900s (the "
				    "policy's directory, $KOPT_POLICY_DIR, "
				    "the shipped policies)",
				    value, looked);
	return 0;
}

static int set_fallback(struct kopt_ini *ini, const struct key_desc *d,
			const char *value, struct policy *p)
{
	double itr, freq;
	int end = 0;

	if (!strcmp(value, "stock")) {
		p->fallback_stock = true;
		return 0;
	}
	if (sscanf(value, "%lf , %lf %n", &itr, &freq, &end) != 2 ||
	    value[end] || !isfinite(itr) || !isfinite(freq) || itr < 0 ||
	    freq <= 0)
		return kopt_ini_err(ini, d->section, d->key,
				    "'%s': expected 'stock' or "
				    "'ITR_US, FREQ_MHZ' (ITR >= 0, FREQ > 0)",
				    value);
	p->fallback_stock = false;
	p->fallback_itr_us = itr;
	p->fallback_freq_mhz = freq;
	return 0;
}

static int set_value(struct policy_parse *pp, struct kopt_ini *ini, int id,
		     const char *value)
{
	const struct key_desc *d = &key_table[id];
	void *dst = (char *)pp->p + d->off;

	switch (id) {
	case KEY_ITR_SCALE:
		dst = &pp->itr_scale;
		break;
	case KEY_FREQ_MIN:
		dst = &pp->freq_min;
		break;
	case KEY_FREQ_MAX:
		dst = &pp->freq_max;
		break;
	case KEY_FREQ_STEP:
		dst = &pp->freq_step;
		break;
	}
	switch (d->type) {
	case K_DOUBLE:
		return kopt_ini_double(ini, d->section, d->key, value, d->min,
				       d->max, dst);
	case K_UINT:
		return set_uint(ini, d, value, dst);
	case K_U64:
		return set_u64(ini, d, value, dst);
	case K_ENUM:
		return set_enum(ini, d, value, dst);
	case K_NAME:
		if (!*value || strlen(value) >= POLICY_NAME_LEN)
			return kopt_ini_err(ini, d->section, d->key,
					    "must be 1 to %d characters",
					    POLICY_NAME_LEN - 1);
		if (!policy_name_ok(value))
			return kopt_ini_err(ini, d->section, d->key,
					    "'%s': only letters, digits, '-', "
					    "'_' and '.' (the name goes into "
					    "run logs and report titles)",
					    value);
		strcpy(dst, value);
		return 0;
	case K_PATH:
		return set_path(pp, ini, d, value, dst);
	case K_FREQ_LIST:
		if (!strcmp(value, "none")) {
			pp->p->freq_fixed = true;
			pp->p->n_freqs = 1;
			pp->p->freqs_mhz[0] = NAN;
			return 0;
		}
		return kopt_ini_list(ini, d->section, d->key, value, 1,
				     MAX_FREQ_MHZ, pp->p->freqs_mhz,
				     POLICY_MAX_FREQS, &pp->p->n_freqs);
	case K_STR:
		if (!*value || strlen(value) >= POLICY_NAME_LEN ||
		    strpbrk(value, " \t"))
			return kopt_ini_err(ini, d->section, d->key,
					    "'%s': expected 1 to %d characters "
					    "without spaces",
					    value, POLICY_NAME_LEN - 1);
		strcpy(dst, value);
		return 0;
	case K_FALLBACK:
		return set_fallback(ini, d, value, pp->p);
	case K_LATENCY: {
		char why[KOPT_INI_ERR_LEN];

		if (policy_latency_parse(value, pp->dir, dst, why, sizeof(why)))
			return kopt_ini_err(ini, d->section, d->key, "%s", why);
		return 0;
	}
	}
	return -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* ---- [knob NAME] sections ---------------------------------------------------- */

#define KNOB_PREFIX "knob "
/* values are bounded like ITRs: any real knob's range fits */
#define MAX_KNOB_VALUE 1e9

static const char *const knob_keys[] = { "values", "scale", "safe", "fallback",
					 NULL };
static const char *const safe_names[] = { "low", "high", NULL };

bool policy_knob_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (!len || len >= POLICY_KNOB_NAME_LEN || name[0] < 'a' ||
	    name[0] > 'z')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return false;
	return strcmp(name, "itr_us") && strcmp(name, "freq_mhz") &&
	       strcmp(name, "seconds");
}

/* The knob named by section "knob NAME", added on first sight; -1: bad. */
static int knob_slot(struct policy_parse *pp, struct kopt_ini *ini,
		     const char *section)
{
	const char *name = section + strlen(KNOB_PREFIX);
	struct policy *p = pp->p;

	while (*name == ' ')
		name++;
	for (unsigned int i = 0; i < p->n_knobs; i++)
		if (!strcmp(p->knobs[i].name, name))
			return (int)i;
	if (!policy_knob_name_ok(name))
		return kopt_ini_err(ini, section, NULL,
				    "'%s' is not a knob name: 1 to %d of "
				    "a-z, 0-9 and '_', starting with a "
				    "letter, and not itr_us, freq_mhz or "
				    "seconds (plants see it in requests)",
				    name, POLICY_KNOB_NAME_LEN - 1);
	if (p->n_knobs == POLICY_MAX_KNOBS)
		return kopt_ini_err(ini, section, NULL,
				    "more than %d [knob] sections",
				    POLICY_MAX_KNOBS);
	snprintf(p->knobs[p->n_knobs].name, POLICY_KNOB_NAME_LEN, "%s", name);
	pp->knob_line[p->n_knobs] = ini->line;
	return (int)p->n_knobs++;
}

static int knob_handler(struct policy_parse *pp, struct kopt_ini *ini,
			const char *section, const char *key, const char *value)
{
	int k = knob_slot(pp, ini, section), id, i;
	struct policy_knob *kn;

	if (k < 0)
		return -1;
	kn = &pp->p->knobs[k];
	id = name_index(knob_keys, key);
	if (id < 0)
		return kopt_ini_err(ini, section, key,
				    "unknown key (a [knob NAME] has values, "
				    "scale, safe and fallback)");
	if (pp->knob_key_line[k][id])
		return kopt_ini_err(ini, section, key,
				    "given twice (first on line %d)",
				    pp->knob_key_line[k][id]);
	pp->knob_key_line[k][id] = ini->line;
	switch (id) {
	case 0:
		if (kopt_ini_list(ini, section, key, value, 0, MAX_KNOB_VALUE,
				  kn->values, POLICY_MAX_KNOB_VALUES,
				  &kn->n_values))
			goto bad;
		return 0;
	case 1:
	case 2:
		i = name_index(id == 1 ? scale_names : safe_names, value);
		if (i < 0) {
			kopt_ini_err(ini, section, key, "'%s': expected %s",
				     value,
				     id == 1 ? "linear or log" : "low or high");
			goto bad;
		}
		if (id == 1)
			kn->log = i == 1;
		else
			kn->safe_high = i == 1;
		return 0;
	default:
		if (kopt_ini_double(ini, section, key, value, 0, MAX_KNOB_VALUE,
				    &kn->fallback))
			goto bad;
		pp->knob_fallback_given[k] = true;
		return 0;
	}
bad:
	pp->knob_bad[k] = true;
	return -1;
}

/* Relations within each [knob NAME], once the file is read. */
static int check_knobs(struct policy_parse *pp, struct kopt_ini *ini)
{
	struct policy *p = pp->p;
	int ret = 0;

	for (unsigned int k = 0; k < p->n_knobs; k++) {
		struct policy_knob *kn = &p->knobs[k];
		char section[POLICY_KNOB_NAME_LEN + 8];
		bool found = false;

		if (pp->knob_bad[k])
			continue;
		snprintf(section, sizeof(section), "knob %s", kn->name);
		if (!pp->knob_key_line[k][0]) {
			ini->line = pp->knob_line[k];
			ret |= kopt_ini_err(ini, section, "values",
					    "missing (the values to search, "
					    "e.g. values = 0, 1, 2, 4)");
			continue;
		}
		qsort(kn->values, kn->n_values, sizeof(double), cmp_double);
		for (size_t i = 1; i < kn->n_values; i++)
			if (kn->values[i] == kn->values[i - 1]) {
				ini->line = pp->knob_key_line[k][0];
				ret |= kopt_ini_err(ini, section, "values",
						    "%g is listed twice",
						    kn->values[i]);
				break;
			}
		if (!pp->knob_fallback_given[k]) {
			kn->fallback =
				kn->values[kn->safe_high ? kn->n_values - 1 : 0];
			continue;
		}
		for (size_t i = 0; i < kn->n_values; i++)
			found |= kn->values[i] == kn->fallback;
		if (!found) {
			ini->line = pp->knob_key_line[k][3];
			ret |= kopt_ini_err(ini, section, "fallback",
					    "%g is not one of values",
					    kn->fallback);
		}
	}
	return ret;
}

static int policy_handler(struct kopt_ini *ini, const char *section,
			  const char *key, const char *value)
{
	struct policy_parse *pp = ini->user;
	int id;

	if (!strncmp(section, KNOB_PREFIX, strlen(KNOB_PREFIX)))
		return knob_handler(pp, ini, section, key, value);
	if (!known_section(section))
		return kopt_ini_err(ini, NULL, NULL,
				    "unknown section [%s] (key '%s'); known: "
				    "policy, sla, itr, freq, knob NAME, "
				    "window, optimizer, trigger, guard, "
				    "plant, host",
				    section, key);
	id = find_key(section, key);
	if (id < 0)
		return kopt_ini_err(ini, section, key,
				    "unknown key (see "
				    "policies/memcached-sla500.conf for "
				    "every key)");
	if (pp->line[id])
		return kopt_ini_err(ini, section, key,
				    "given twice (first on line %d); an "
				    "indented line continues the previous "
				    "value",
				    pp->line[id]);
	pp->line[id] = ini->line;
	if (set_value(pp, ini, id, value)) {
		pp->bad[id] = true;
		return -1;
	}
	return 0;
}

/* ---- validation of the whole ---------------------------------------------- */

/* Reports an error about key id at the line where it was set. */
static int key_err(struct policy_parse *pp, struct kopt_ini *ini, int id,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int key_err(struct policy_parse *pp, struct kopt_ini *ini, int id,
		   const char *fmt, ...)
{
	va_list ap;
	int ret;

	ini->line = pp->line[id];
	va_start(ap, fmt);
	ret = kopt_ini_verr(ini, key_table[id].section, key_table[id].key, fmt,
			    ap);
	va_end(ap);
	return ret;
}

/*
 * True if a key of section was refused: the relations between that
 * section's values are not checked then, as one of them is missing and
 * its error is already reported.
 */
static bool section_bad(const struct policy_parse *pp, const char *section)
{
	for (int i = 0; i < NR_KEYS; i++)
		if (pp->bad[i] && !strcmp(key_table[i].section, section))
			return true;
	return false;
}

static int require(struct policy_parse *pp, struct kopt_ini *ini, int id,
		   const char *why)
{
	if (pp->line[id])
		return 0;
	return key_err(pp, ini, id, "missing%s%s", why ? " " : "",
		       why ? why : "");
}

static int forbid(struct policy_parse *pp, struct kopt_ini *ini, int id,
		  const char *why)
{
	if (!pp->line[id])
		return 0;
	return key_err(pp, ini, id, "not allowed %s", why);
}

static int check_sla(struct policy_parse *pp, struct kopt_ini *ini)
{
	struct policy_sla *sla = &pp->p->sla;
	int ret;

	if (pp->bad[KEY_SLA_KIND])
		return -1;
	/*
	 * kind defaults to latency; the bound is the one key without a
	 * default. Keys missing or out of place are reported even when
	 * another key of [sla] was refused; relations only when none was.
	 */
	if (sla->kind == POLICY_SLA_LATENCY) {
		ret = require(pp, ini, KEY_SLA_BOUND,
			      "(the SLA: the one key without a default; e.g. "
			      "bound_us = 500)");
		ret |= forbid(pp, ini, KEY_SLA_MIN_RATIO,
			      "with kind = latency");
		ret |= forbid(pp, ini, KEY_SLA_AIM_RATIO,
			      "with kind = latency");
		if (ret || section_bad(pp, "sla"))
			return -1;
		if (!pp->line[KEY_SLA_AIM])
			sla->aim_us = 0.9 * sla->bound_us;
		if (sla->aim_us > sla->bound_us)
			return key_err(pp, ini, KEY_SLA_AIM,
				       "%g is above bound_us (%g): the "
				       "optimizer must aim inside the SLA",
				       sla->aim_us, sla->bound_us);
		return 0;
	}
	ret = require(pp, ini, KEY_SLA_MIN_RATIO,
		      "(the SLA of kind = throughput: no default; e.g. "
		      "min_ratio = 0.99)");
	ret |= forbid(pp, ini, KEY_SLA_BOUND, "with kind = throughput");
	ret |= forbid(pp, ini, KEY_SLA_AIM, "with kind = throughput");
	ret |= forbid(pp, ini, KEY_SLA_PCT, "with kind = throughput");
	if (ret || section_bad(pp, "sla"))
		return -1;
	if (!pp->line[KEY_SLA_AIM_RATIO])
		sla->aim_ratio = sla->min_ratio + (1 - sla->min_ratio) / 2;
	if (sla->aim_ratio < sla->min_ratio)
		return key_err(pp, ini, KEY_SLA_AIM_RATIO,
			       "%g is below min_ratio (%g): the optimizer "
			       "must aim inside the SLA",
			       sla->aim_ratio, sla->min_ratio);
	return 0;
}

static int check_itr(struct policy_parse *pp, struct kopt_ini *ini)
{
	struct policy *p = pp->p;

	if (section_bad(pp, "itr"))
		return -1;
	if (p->itr_max_us < p->itr_min_us)
		return key_err(pp, ini, KEY_ITR_MAX, "%g is below min_us (%g)",
			       p->itr_max_us, p->itr_min_us);
	if ((p->itr_max_us - p->itr_min_us) / p->itr_step_us >=
	    POLICY_MAX_ITR_LEVELS)
		return key_err(pp, ini, KEY_ITR_STEP,
			       "%g gives more than %d levels; use a larger "
			       "step",
			       p->itr_step_us, POLICY_MAX_ITR_LEVELS);
	p->itr_log = pp->itr_scale == 1;
	if (p->itr_log && (p->itr_max_us - p->itr_min_us) / p->itr_step_us >=
				  POLICY_MAX_LOG_ITR_LEVELS)
		return key_err(pp, ini, KEY_ITR_SCALE,
			       "log needs at most %d levels; use a larger "
			       "step_us",
			       POLICY_MAX_LOG_ITR_LEVELS);
	return 0;
}

static int freq_range(struct policy_parse *pp, struct kopt_ini *ini)
{
	struct policy *p = pp->p;
	double f;

	if (pp->freq_max < pp->freq_min)
		return key_err(pp, ini, KEY_FREQ_MAX,
			       "%g is below min_mhz (%g)", pp->freq_max,
			       pp->freq_min);
	if ((pp->freq_max - pp->freq_min) / pp->freq_step >= POLICY_MAX_FREQS)
		return key_err(pp, ini, KEY_FREQ_STEP,
			       "%g gives more than %d frequencies",
			       pp->freq_step, POLICY_MAX_FREQS);
	p->n_freqs = 0;
	for (f = pp->freq_min; f <= pp->freq_max + 1e-9; f += pp->freq_step)
		p->freqs_mhz[p->n_freqs++] = f;
	return 0;
}

static int check_freq(struct policy_parse *pp, struct kopt_ini *ini)
{
	struct policy *p = pp->p;

	if (section_bad(pp, "freq"))
		return -1;
	if (!pp->line[KEY_FREQ_LIST])
		return freq_range(pp, ini);
	if (forbid(pp, ini, KEY_FREQ_MIN, "together with list_mhz") ||
	    forbid(pp, ini, KEY_FREQ_MAX, "together with list_mhz") ||
	    forbid(pp, ini, KEY_FREQ_STEP, "together with list_mhz"))
		return -1;
	qsort(p->freqs_mhz, p->n_freqs, sizeof(double), cmp_double);
	for (size_t i = 1; i < p->n_freqs; i++)
		if (p->freqs_mhz[i] == p->freqs_mhz[i - 1])
			return key_err(pp, ini, KEY_FREQ_LIST,
				       "%g is listed twice", p->freqs_mhz[i]);
	return 0;
}

static int check_optimizer(struct policy_parse *pp, struct kopt_ini *ini)
{
	struct policy *p = pp->p;

	if (section_bad(pp, "optimizer"))
		return -1;
	if (!pp->line[KEY_INIT_TRIALS])
		p->init_trials = p->trials < 4 ? p->trials : 4;
	if (p->init_trials > p->trials)
		return key_err(pp, ini, KEY_INIT_TRIALS,
			       "%u is more than trials (%u)", p->init_trials,
			       p->trials);
	return 0;
}

int policy_latency_parse(const char *value, const char *dir,
			 struct policy_latency *out, char *err, size_t errlen)
{
	static const char usage[] = "expected bpf:PORT[,PORT], "
				    "feed:cmd:COMMAND ARGS, feed:file:PATH "
				    "or loadgen";
	struct srvlat_opts so = {};
	char why[SRVLAT_ERR_LEN];
	char **argv = NULL;
	int n;

	memset(out, 0, sizeof(*out));
	if (!strcmp(value, "loadgen")) {
		out->kind = POLICY_LAT_LOADGEN;
	} else if (!strncmp(value, "bpf:", 4)) {
		if (srvlat_parse_ports(value + 4, &so, why, sizeof(why)))
			return kopt_errf(err, errlen, -EINVAL, "%s", why);
		out->kind = POLICY_LAT_BPF;
	} else if (!strncmp(value, "feed:cmd:", 9)) {
		/* an argv, never a shell string (latency_src.h) */
		if (latency_src_argv(value + 9, &argv, why, sizeof(why)))
			return kopt_errf(err, errlen, -EINVAL, "%s", why);
		free(argv);
		out->kind = POLICY_LAT_FEED;
	} else if (!strncmp(value, "feed:file:", 10) && value[10]) {
		out->kind = POLICY_LAT_FEED;
		if (value[10] != '/' && dir) {
			n = snprintf(out->spec, sizeof(out->spec),
				     "feed:file:%s/%s", dir, value + 10);
			if (n >= (int)sizeof(out->spec))
				return kopt_errf(err, errlen, -EINVAL,
						 "path too long");
			return 0;
		}
	} else {
		return kopt_errf(err, errlen, -EINVAL, "'%.200s': %s", value,
				 usage);
	}
	if (strlen(value) >= sizeof(out->spec))
		return kopt_errf(err, errlen, -EINVAL,
				 "longer than %zu characters",
				 sizeof(out->spec) - 1);
	snprintf(out->spec, sizeof(out->spec), "%s", value);
	return 0;
}

/* What --plant host needs to measure, known before the first window. */
static int check_host(struct policy_parse *pp, struct kopt_ini *ini)
{
	struct policy_host *h = &pp->p->host;

	if (section_bad(pp, "host"))
		return -1;
	if (!pp->line[KEY_HOST_LATENCY]) {
		h->latency.kind = POLICY_LAT_LOADGEN;
		snprintf(h->latency.spec, sizeof(h->latency.spec), "loadgen");
	}
	if (h->latency.kind == POLICY_LAT_LOADGEN &&
	    pp->line[KEY_HOST_LATENCY] &&
	    (!pp->line[KEY_HOST_SERVER] || !pp->line[KEY_HOST_RATE]))
		return key_err(pp, ini, KEY_HOST_LATENCY,
			       "loadgen needs [host] server and rate (the "
			       "load kopt generates and times)");
	return 0;
}

/*
 * The defaults of every key but the SLA's bound (min_ratio for a
 * throughput SLA); policies/memcached-sla500.conf states each one, and
 * `kopt policy show` prints them filled in.
 */
static void set_defaults(struct policy_parse *pp)
{
	struct policy *p = pp->p;
	char looked[PATH_MAX];

	memset(p, 0, sizeof(*p));
	p->objective = POLICY_OBJ_ENERGY;
	p->sla.kind = POLICY_SLA_LATENCY;
	p->sla.pct = POLICY_P99;
	p->itr_min_us = POLICY_DEF_ITR_MIN_US;
	p->itr_max_us = POLICY_DEF_ITR_MAX_US;
	p->itr_step_us = POLICY_DEF_ITR_STEP_US;
	pp->freq_min = POLICY_DEF_FREQ_MIN_MHZ;
	pp->freq_max = POLICY_DEF_FREQ_MAX_MHZ;
	pp->freq_step = POLICY_DEF_FREQ_STEP_MHZ;
	p->window_s = POLICY_DEF_WINDOW_S;
	p->trials = POLICY_DEF_TRIALS;
	p->converge_trials = 4;
	p->converge_tol = 0.01;
	p->warm_radius = 0.07;
	p->acq = POLICY_ACQ_CEI;
	p->seed = 1;
	p->qps_change = 0.1;
	p->guard_windows = 1;
	p->fallback_stock = true;
	p->baseline = POLICY_BASE_AUTO;
	p->max_failures = 3;
	/* found by name like a given one; none when not installed */
	find_in_search_path(pp->dir, POLICY_DEF_SIM_PARAMS, p->sim_params,
			    looked, sizeof(looked));
}

static void policy_dir(struct policy_parse *pp, const char *path)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(pp->dir, sizeof(pp->dir), "%s", dirname(tmp));
}

static bool name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

bool policy_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (!len || len >= POLICY_NAME_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!name_char_ok(name[i]))
			return false;
	return true;
}

/*
 * The file's name without its extension, with every character a name
 * given in the file could not hold replaced by '_': the name is written
 * into run logs and report scripts whatever the file is called.
 */
static void default_name(struct policy *p, const char *path)
{
	char tmp[PATH_MAX], *dot;

	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(p->name, sizeof(p->name), "%s", basename(tmp));
	dot = strrchr(p->name, '.');
	if (dot && dot != p->name)
		*dot = '\0';
	for (char *c = p->name; *c; c++)
		if (!name_char_ok(*c))
			*c = '_';
	if (!p->name[0])
		snprintf(p->name, sizeof(p->name), "policy");
}

int policy_load(const char *path, struct policy *p, char *err, size_t errlen)
{
	struct policy_parse *pp = calloc(1, sizeof(*pp));
	struct kopt_ini ini = {
		.path = path,
		.handler = policy_handler,
	};

	if (!pp) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	pp->p = p;
	ini.user = pp;
	policy_dir(pp, path);
	set_defaults(pp);
	snprintf(p->path, sizeof(p->path), "%s", path);
	/* every error of the file in one pass: values, then relations */
	kopt_ini_parse(&ini);
	if (access(path, F_OK) == 0) {
		ini.line = 0;
		check_sla(pp, &ini);
		check_itr(pp, &ini);
		check_freq(pp, &ini);
		check_optimizer(pp, &ini);
		check_host(pp, &ini);
		check_knobs(pp, &ini);
	}
	if (!pp->line[KEY_NAME])
		default_name(p, path);
	for (int i = 0; i < NR_KEYS; i++)
		if (pp->line[i])
			p->given_keys |= 1ULL << i;
	free(pp);
	if (ini.nerr) {
		snprintf(err, errlen, "%s", ini.err);
		return -1;
	}
	return 0;
}

const char *policy_objective_name(enum policy_objective o)
{
	return objective_names[o];
}

const char *policy_acq_name(enum policy_acq a)
{
	return acq_names[a];
}

const char *policy_baseline_name(enum policy_baseline b)
{
	return baseline_names[b];
}

void policy_sla_str(const struct policy_sla *sla, char *buf, size_t len)
{
	if (sla->kind == POLICY_SLA_LATENCY)
		snprintf(buf, len, "%s < %g us", pct_names[sla->pct],
			 sla->bound_us);
	else
		snprintf(buf, len, "throughput >= %g x qps", sla->min_ratio);
}

double policy_reply_timeout(const struct policy *p, double seconds)
{
	return p->timeout_s > 0 ? p->timeout_s : seconds + 10;
}

/* ---- the effective policy ----------------------------------------------- */

static struct json_object *jdouble(double v)
{
	return kopt_json_num(v, "%.6g");
}

/* One key's effective value, as the file would give it; NULL: none. */
static struct json_object *key_value(const struct policy *p, int id)
{
	const struct key_desc *d = &key_table[id];
	const void *src = (const char *)p + d->off;
	char buf[PATH_MAX];
	size_t n = 0;

	switch (id) {
	case KEY_ITR_SCALE:
		return json_object_new_string(scale_names[p->itr_log]);
	case KEY_FREQ_MIN:
	case KEY_FREQ_MAX:
	case KEY_FREQ_STEP:
		/* a range shows as one; a list (or none) as list_mhz */
		if (p->freq_fixed || (p->given_keys & (1ULL << KEY_FREQ_LIST)))
			return NULL;
		if (id == KEY_FREQ_MIN)
			return jdouble(p->freqs_mhz[0]);
		if (id == KEY_FREQ_MAX)
			return jdouble(p->freqs_mhz[p->n_freqs - 1]);
		return jdouble(p->n_freqs > 1 ?
				       p->freqs_mhz[1] - p->freqs_mhz[0] :
				       POLICY_DEF_FREQ_STEP_MHZ);
	case KEY_FREQ_LIST:
		if (!p->freq_fixed &&
		    !(p->given_keys & (1ULL << KEY_FREQ_LIST)))
			return NULL;
		if (p->freq_fixed)
			return json_object_new_string("none");
		for (size_t i = 0; i < p->n_freqs && n < sizeof(buf); i++)
			n += snprintf(buf + n, sizeof(buf) - n, "%s%g",
				      i ? " " : "", p->freqs_mhz[i]);
		return json_object_new_string(buf);
	case KEY_FALLBACK:
		if (p->fallback_stock)
			return json_object_new_string("stock");
		snprintf(buf, sizeof(buf), "%g, %g", p->fallback_itr_us,
			 p->fallback_freq_mhz);
		return json_object_new_string(buf);
	case KEY_SLA_BOUND:
	case KEY_SLA_AIM:
	case KEY_SLA_PCT:
		if (p->sla.kind != POLICY_SLA_LATENCY)
			return NULL;
		break;
	case KEY_SLA_MIN_RATIO:
	case KEY_SLA_AIM_RATIO:
		if (p->sla.kind != POLICY_SLA_THROUGHPUT)
			return NULL;
		break;
	}
	switch (d->type) {
	case K_DOUBLE:
		/* 0 for the unset [host] rate: the load generator's own */
		if (id == KEY_HOST_RATE && !*(const double *)src)
			return NULL;
		return jdouble(*(const double *)src);
	case K_UINT:
		if (id == KEY_HOST_CONNS && !*(const unsigned int *)src)
			return NULL;
		return json_object_new_int64(*(const unsigned int *)src);
	case K_U64:
		return json_object_new_uint64(*(const uint64_t *)src);
	case K_ENUM:
		return json_object_new_string(d->names[*(const int *)src]);
	case K_NAME:
	case K_STR:
	case K_PATH:
		return *(const char *)src ?
			       json_object_new_string((const char *)src) :
			       NULL;
	case K_LATENCY:
		return json_object_new_string(
			((const struct policy_latency *)src)->spec);
	case K_FREQ_LIST:
	case K_FALLBACK:
		break;
	}
	return NULL;
}

struct json_object *policy_json(const struct policy *p)
{
	struct json_object *o = json_object_new_object(), *sec = NULL;
	struct json_object *defaults = json_object_new_array();
	const char *cur = "";

	json_object_object_add(o, "path", json_object_new_string(p->path));
	for (int i = 0; i < NR_KEYS; i++) {
		const struct key_desc *d = &key_table[i];
		struct json_object *v = key_value(p, i);
		char name[96];

		if (!v)
			continue;
		if (strcmp(cur, d->section)) {
			cur = d->section;
			if (!json_object_object_get_ex(o, cur, &sec)) {
				sec = json_object_new_object();
				json_object_object_add(o, cur, sec);
			}
		}
		json_object_object_add(sec, d->key, v);
		if (!(p->given_keys & (1ULL << i))) {
			snprintf(name, sizeof(name), "[%s] %s", d->section,
				 d->key);
			json_object_array_add(defaults,
					      json_object_new_string(name));
		}
	}
	for (unsigned int k = 0; k < p->n_knobs; k++) {
		const struct policy_knob *kn = &p->knobs[k];
		char name[POLICY_KNOB_NAME_LEN + 8], buf[1024];
		size_t n = 0;

		for (size_t i = 0; i < kn->n_values && n < sizeof(buf); i++)
			n += snprintf(buf + n, sizeof(buf) - n, "%s%g",
				      i ? " " : "", kn->values[i]);
		sec = json_object_new_object();
		json_object_object_add(sec, "values",
				       json_object_new_string(buf));
		json_object_object_add(
			sec, "scale",
			json_object_new_string(scale_names[kn->log]));
		json_object_object_add(
			sec, "safe",
			json_object_new_string(safe_names[kn->safe_high]));
		json_object_object_add(sec, "fallback", jdouble(kn->fallback));
		snprintf(name, sizeof(name), "knob %s", kn->name);
		json_object_object_add(o, name, sec);
	}
	json_object_object_add(o, "defaults", defaults);
	return o;
}

bool policy_key_given(const struct policy *p, const char *section,
		      const char *key)
{
	int id = find_key(section, key);

	return id >= 0 && (p->given_keys & (1ULL << id));
}
