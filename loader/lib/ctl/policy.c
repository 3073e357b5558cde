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

#include <ini.h>

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

	if (ini->err[0])
		return 1; /* report only the first error */
	return ini->handler(ini, section, key, value) == 0;
}

int kopt_ini_parse(struct kopt_ini *ini)
{
	struct ini_stream s = { .ini = ini };
	int ret;

	ini->err[0] = '\0';
	ini->line = 0;
	s.f = fopen(ini->path, "re");
	if (!s.f) {
		snprintf(ini->err, sizeof(ini->err), "%s: cannot open: %s",
			 ini->path, strerror(errno));
		return -1;
	}
	ret = ini_parse_stream(ini_read_line, &s, ini_dispatch, &s);
	fclose(s.f);
	if (s.too_long && !ini->err[0])
		snprintf(ini->err, sizeof(ini->err),
			 "%s:%d: line longer than %d characters; split the "
			 "list or shorten the comment",
			 ini->path, s.line, INI_MAX_LINE - 3);
	if (ret > 0 && !ini->err[0])
		snprintf(ini->err, sizeof(ini->err),
			 "%s:%d: syntax error: expected '[section]', "
			 "'key = value' or a comment",
			 ini->path, ret);
	return ini->err[0] ? -1 : 0;
}

int kopt_ini_verr(struct kopt_ini *ini, const char *section, const char *key,
		  const char *fmt, va_list ap)
{
	size_t n;

	if (ini->err[0])
		return -1;
	if (ini->line > 0)
		n = snprintf(ini->err, sizeof(ini->err), "%s:%d: ", ini->path,
			     ini->line);
	else
		n = snprintf(ini->err, sizeof(ini->err), "%s: ", ini->path);
	if (key && n < sizeof(ini->err))
		n += snprintf(ini->err + n, sizeof(ini->err) - n,
			      "[%s] %s: ", section, key);
	else if (section && n < sizeof(ini->err))
		n += snprintf(ini->err + n, sizeof(ini->err) - n,
			      "[%s]: ", section);
	if (n < sizeof(ini->err))
		vsnprintf(ini->err + n, sizeof(ini->err) - n, fmt, ap);
	return -1;
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
	double freq_min, freq_max, freq_step;
	int itr_scale; /* index into scale_names */
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

static int set_enum(struct kopt_ini *ini, const struct key_desc *d,
		    const char *value, void *dst)
{
	char opts[128] = "";

	for (int i = 0; d->names[i]; i++) {
		if (!strcmp(d->names[i], value)) {
			*(int *)dst = i;
			return 0;
		}
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts),
			 "%s%s", i ? ", " : "", d->names[i]);
	}
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

static int set_path(struct policy_parse *pp, struct kopt_ini *ini,
		    const struct key_desc *d, const char *value, char *dst)
{
	int n;

	if (!*value)
		return kopt_ini_err(ini, d->section, d->key, "empty path");
	if (value[0] == '/')
		n = snprintf(dst, PATH_MAX, "%s", value);
	else
		n = snprintf(dst, PATH_MAX, "%s/%s", pp->dir, value);
	if (n >= PATH_MAX)
		return kopt_ini_err(ini, d->section, d->key, "path too long");
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

static int policy_handler(struct kopt_ini *ini, const char *section,
			  const char *key, const char *value)
{
	struct policy_parse *pp = ini->user;
	int id;

	if (!known_section(section))
		return kopt_ini_err(ini, NULL, NULL,
				    "unknown section [%s] (key '%s'); known: "
				    "policy, sla, itr, freq, window, "
				    "optimizer, trigger, guard, plant, host",
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
	return set_value(pp, ini, id, value);
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

	if (require(pp, ini, KEY_SLA_KIND, "(latency or throughput)"))
		return -1;
	if (sla->kind == POLICY_SLA_LATENCY) {
		if (require(pp, ini, KEY_SLA_BOUND, "(required for latency)") ||
		    forbid(pp, ini, KEY_SLA_MIN_RATIO, "with kind = latency") ||
		    forbid(pp, ini, KEY_SLA_AIM_RATIO, "with kind = latency"))
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
	if (require(pp, ini, KEY_SLA_MIN_RATIO, "(required for throughput)") ||
	    forbid(pp, ini, KEY_SLA_BOUND, "with kind = throughput") ||
	    forbid(pp, ini, KEY_SLA_AIM, "with kind = throughput") ||
	    forbid(pp, ini, KEY_SLA_PCT, "with kind = throughput"))
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

	if (require(pp, ini, KEY_ITR_MIN, NULL) ||
	    require(pp, ini, KEY_ITR_MAX, NULL) ||
	    require(pp, ini, KEY_ITR_STEP, NULL))
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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int freq_range(struct policy_parse *pp, struct kopt_ini *ini)
{
	struct policy *p = pp->p;
	double f;

	if (require(pp, ini, KEY_FREQ_MIN, "(or give list_mhz)") ||
	    require(pp, ini, KEY_FREQ_MAX, "(or give list_mhz)") ||
	    require(pp, ini, KEY_FREQ_STEP, "(or give list_mhz)"))
		return -1;
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

	if (require(pp, ini, KEY_TRIALS, NULL))
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

static void set_defaults(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	p->objective = POLICY_OBJ_ENERGY;
	p->sla.pct = POLICY_P99;
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
	struct policy_parse pp = { .p = p };
	struct kopt_ini ini = {
		.path = path,
		.handler = policy_handler,
		.user = &pp,
	};
	int ret;

	set_defaults(p);
	snprintf(p->path, sizeof(p->path), "%s", path);
	policy_dir(&pp, path);
	ret = kopt_ini_parse(&ini);
	if (!ret) {
		ini.line = 0;
		ret = require(&pp, &ini, KEY_OBJECTIVE, NULL) ||
		      require(&pp, &ini, KEY_WINDOW, NULL) ||
		      check_sla(&pp, &ini) || check_itr(&pp, &ini) ||
		      check_freq(&pp, &ini) || check_optimizer(&pp, &ini) ||
		      check_host(&pp, &ini);
	}
	if (ret) {
		snprintf(err, errlen, "%s", ini.err);
		return -1;
	}
	if (!pp.line[KEY_NAME])
		default_name(p, path);
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
