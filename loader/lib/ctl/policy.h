/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Energy-controller policies (policies/NAME.conf): INI files in the spirit
 * of tuned profiles, read with inih. A policy says what to minimize, the
 * SLA to keep, the knob grid to search, the window length, the trial
 * budget per trigger, what triggers a new search, the guard and where the
 * stock-policy baseline comes from. See policies/memcached-sla500.conf
 * for every key with its meaning.
 *
 * Also here: kopt_ini_parse(), inih with line numbers in error messages
 * (Debian's inih is built without INI_HANDLER_LINENO), shared with the
 * sim plant's parameter files.
 *
 * Userspace only.
 */
#ifndef KOPT_LOADER_POLICY_H
#define KOPT_LOADER_POLICY_H

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_MAX_FREQS 64
#define POLICY_MAX_ITR_LEVELS 100000
/* levels of a log-scaled ITR, which the optimizer gets as a list */
#define POLICY_MAX_LOG_ITR_LEVELS 4096
#define POLICY_NAME_LEN 64
/* every error of a file, one "path:line: ..." line each */
#define KOPT_INI_ERR_LEN 4096
#define POLICY_LATENCY_LEN 1024
/*
 * Knobs beside ITR and frequency: [knob NAME] sections, each a list of
 * values a plant turns by NAME (the request's "knobs" object, plant.h).
 */
#define POLICY_MAX_KNOBS 4
#define POLICY_MAX_KNOB_VALUES 32
#define POLICY_KNOB_NAME_LEN 32

/*
 * Defaults of the keys a policy may leave out (every key has one but the
 * SLA's bound); other defaults are in set_defaults() (policy.c).
 */
#define POLICY_DEF_ITR_MIN_US 10.0
#define POLICY_DEF_ITR_MAX_US 500.0
#define POLICY_DEF_ITR_STEP_US 10.0
#define POLICY_DEF_FREQ_MIN_MHZ 1200.0
#define POLICY_DEF_FREQ_MAX_MHZ 2900.0
#define POLICY_DEF_FREQ_STEP_MHZ 100.0
#define POLICY_DEF_WINDOW_S 10.0
#define POLICY_DEF_TRIALS 14u
#define POLICY_DEF_SIM_PARAMS "sim-memcached.params"

/* ---- INI parsing with line numbers ------------------------------------ */

struct kopt_ini;
/* Returns 0 if the pair is fine, else fills ini->err (kopt_ini_err) and -1. */
typedef int (*kopt_ini_handler)(struct kopt_ini *ini, const char *section,
				const char *key, const char *value);

struct kopt_ini {
	const char *path;
	kopt_ini_handler handler;
	void *user;
	int line; /* line the handler is called for */
	/* every error, "path:line: ..." one per line, no final newline */
	char err[KOPT_INI_ERR_LEN];
	unsigned int nerr; /* how many (err may hold fewer: it says so) */
	bool err_full; /* err ends with "more errors not shown" */
};

/*
 * Parses ini->path, calling ini->handler for each key, and goes on after
 * an error so one pass reports them all. 0, or -1 with ini->err filled
 * (open failures, syntax errors, overlong lines and handler errors alike).
 */
int kopt_ini_parse(struct kopt_ini *ini);
/* Adds an error line, prefixed with "path:line: [section] key: ". */
int kopt_ini_err(struct kopt_ini *ini, const char *section, const char *key,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The same with a va_list, for the parsers' own error wrappers. */
int kopt_ini_verr(struct kopt_ini *ini, const char *section, const char *key,
		  const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
/* Strict number parsing for INI values; 0 or -1 with ini->err filled. */
int kopt_ini_double(struct kopt_ini *ini, const char *section, const char *key,
		    const char *value, double min, double max, double *out);
/* Whitespace-separated list of numbers, 1..cap of them. */
int kopt_ini_list(struct kopt_ini *ini, const char *section, const char *key,
		  const char *value, double min, double max, double *out,
		  size_t cap, size_t *n);

/* ---- policies ----------------------------------------------------------- */

enum policy_objective {
	POLICY_OBJ_ENERGY, /* joules per window: power at the offered load */
	POLICY_OBJ_ENERGY_PER_OP, /* joules per request (closed-loop work) */
};

enum policy_sla_kind {
	POLICY_SLA_LATENCY, /* percentile < bound_us */
	POLICY_SLA_THROUGHPUT, /* throughput >= min_ratio x offered qps */
};

enum policy_pct { POLICY_P50, POLICY_P99 };

enum policy_acq {
	POLICY_ACQ_CEI,
	POLICY_ACQ_EI,
	POLICY_ACQ_LCB,
	POLICY_ACQ_PENALIZED,
};

enum policy_baseline {
	POLICY_BASE_AUTO, /* the plant's stock_energy_j, else measure */
	POLICY_BASE_PLANT, /* only the plant's figure; error if it has none */
	POLICY_BASE_MEASURE, /* one stock window per trigger */
	POLICY_BASE_NONE,
};

/* [host] latency: where --plant host gets the SLA's percentiles from. */
enum policy_lat_kind {
	POLICY_LAT_LOADGEN, /* kopt's own load generator (lab use; default) */
	POLICY_LAT_BPF, /* bpf:PORT[,PORT]: live traffic, timed in BPF */
	POLICY_LAT_FEED, /* feed:cmd:ARGV or feed:file:PATH: the service */
};

struct policy_latency {
	enum policy_lat_kind kind;
	/*
	 * The setting as kopt plant host --latency takes it: "loadgen",
	 * "bpf:11211,11212", "feed:cmd:ARGV" or "feed:file:/abs/path"
	 * (a relative path resolved against the policy's directory).
	 */
	char spec[POLICY_LATENCY_LEN];
};

/*
 * Parses and checks a latency setting (the syntax only: ports in range,
 * a command with a program, a path); dir resolves a relative feed file
 * (NULL: the current directory). 0, or -EINVAL with the reason in err.
 */
int policy_latency_parse(const char *value, const char *dir,
			 struct policy_latency *out, char *err, size_t errlen);

struct policy_sla {
	enum policy_sla_kind kind;
	enum policy_pct pct;
	double bound_us; /* breaking it is a violation */
	double aim_us; /* what the optimizer aims at (< bound: noise margin) */
	double min_ratio; /* throughput / qps below this is a violation */
	double aim_ratio;
};

/* [knob NAME]: one more knob for the controller to search. */
struct policy_knob {
	char name[POLICY_KNOB_NAME_LEN]; /* [a-z][a-z0-9_]* */
	size_t n_values;
	double values[POLICY_MAX_KNOB_VALUES]; /* ascending, distinct */
	bool log; /* scale = log: the optimizer sees log(1 + value) */
	/*
	 * safe = high: the largest value is the latency-first end (the
	 * first trial's, like the smallest ITR); low (default): the smallest
	 */
	bool safe_high;
	double fallback; /* with a fixed [guard] fallback (default: safe end) */
};

struct policy {
	char path[PATH_MAX];
	uint64_t given_keys; /* a bit per key (policy.c's table) set in the file */
	char name[POLICY_NAME_LEN];
	enum policy_objective objective;
	struct policy_sla sla;
	double itr_min_us, itr_max_us, itr_step_us;
	bool itr_log; /* the optimizer sees log(1 + ITR): fine at small ITR */
	size_t n_freqs;
	double freqs_mhz[POLICY_MAX_FREQS]; /* ascending */
	/*
	 * [freq] list_mhz = none: no DVFS knob (a host without cpufreq);
	 * the optimizer searches ITR alone and requests carry freq null.
	 */
	bool freq_fixed;
	/* [knob NAME] sections, in the file's order */
	unsigned int n_knobs;
	struct policy_knob knobs[POLICY_MAX_KNOBS];
	double window_s;
	/* optimizer */
	unsigned int trials; /* suggested settings per trigger, at most */
	unsigned int init_trials; /* space-filling design before the GP */
	unsigned int converge_trials; /* stop after this many without gain */
	double converge_tol; /* relative gain that counts */
	double warm_radius; /* reuse trials at loads within this ratio */
	enum policy_acq acq;
	uint64_t seed;
	/* triggers */
	double schedule_s; /* re-optimize this often; 0: never */
	double qps_change; /* relative load change that re-optimizes; 0: off */
	/* guard */
	unsigned int guard_windows; /* consecutive violations before revert */
	bool fallback_stock; /* revert to the stock policy ... */
	double fallback_itr_us, fallback_freq_mhz; /* ... or to this */
	enum policy_baseline baseline;
	/* plant */
	char sim_params[PATH_MAX]; /* resolved against the policy's dir */
	double timeout_s; /* wall-clock wait per reply; 0: window + 10 s */
	unsigned int max_failures; /* consecutive failed windows: give up */
	/* [host]: what `--plant host` turns and measures (kopt plant host) */
	struct policy_host {
		char ifname[POLICY_NAME_LEN]; /* coalescing knob interface */
		int coalesce; /* 0: nic (ethtool), 1: sw (gro_flush_timeout) */
		char cpus[POLICY_NAME_LEN]; /* DVFS CPUs; "": no DVFS knob */
		char server[POLICY_NAME_LEN]; /* memcached HOST:PORT to load */
		double rate; /* offered load, requests/s */
		unsigned int connections; /* 0: the load generator's default */
		char agent[POLICY_NAME_LEN]; /* knobs at a remote listener */
		/* 0: best meter, 1: always the estimate, 2: a real meter */
		int energy;
		struct policy_latency latency; /* the SLA's source */
	} host;
};

/*
 * Reads and validates a policy; keys left out take their defaults. On
 * error returns -1 with every error of the file, one line each, naming
 * the file, the line (when there is one), the section and the key.
 */
int policy_load(const char *path, struct policy *p, char *err, size_t errlen);

/*
 * True if name is a policy name: 1 to POLICY_NAME_LEN - 1 letters, digits,
 * '-', '_' or '.'. Names go into run logs and report scripts, so nothing
 * else is accepted.
 */
bool policy_name_ok(const char *name);
/*
 * True if name can name a [knob NAME]: 1 to POLICY_KNOB_NAME_LEN - 1 of
 * [a-z0-9_], starting with a letter, and none of the request's own keys
 * (itr_us, freq_mhz, seconds).
 */
bool policy_knob_name_ok(const char *name);
const char *policy_objective_name(enum policy_objective o);
const char *policy_acq_name(enum policy_acq a);
const char *policy_baseline_name(enum policy_baseline b);
/* "p99 < 500 us" or "throughput >= 0.99 x qps" */
void policy_sla_str(const struct policy_sla *sla, char *buf, size_t len);
struct json_object;
/*
 * The effective policy, every default filled in, as sections of keys with
 * the values the file would give ([freq] as the list it makes), plus
 * "defaults": the keys that took their default ("[itr] min_us").
 */
struct json_object *policy_json(const struct policy *p);
/* True if the file set [section] key (false: its default). */
bool policy_key_given(const struct policy *p, const char *section,
		      const char *key);
/* Wall-clock seconds to wait for one reply of a window of `seconds`. */
double policy_reply_timeout(const struct policy *p, double seconds);

#endif /* KOPT_LOADER_POLICY_H */
