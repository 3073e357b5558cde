/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The plant protocol, kopt's side: a plant is a process kopt starts and
 * talks to with JSON lines on its stdin/stdout (README, "The plant
 * protocol"). One request per window:
 *
 *   {"itr_us": 50, "freq_mhz": 1800, "seconds": 10}   (null, null: stock)
 *
 * and, when the policy declares knobs beside ITR and frequency ([knob
 * NAME] sections), their values by name (never with stock):
 *
 *   {"itr_us": 50, "freq_mhz": 1800, "knobs": {"defer_irqs": 2},
 *    "seconds": 10}
 *
 * A policy without such knobs sends no "knobs", so a plant written for
 * two knobs keeps working; a plant that does not know a knob it is sent
 * replies {"error": ...} and the window fails with that reason.
 *
 * one reply:
 *
 *   {"energy_j": 866.8, "p99_us": 194.5, "p50_us": 63.9, "qps": 400000,
 *    "seconds": 10}     or  {"throughput": ...} instead of percentiles
 *                       or  {"error": "..."}
 *
 * Optional reply fields: "source" ("sim", "measured", "estimate"),
 * "stock_energy_j" and "oracle_energy_j" (what the stock policy and the
 * best setting would have used for the same window). Others are ignored.
 *
 * Every reply is validated; anything wrong (garbage, a missing or
 * mistyped field, NaN, a negative energy, a plant that hangs past the
 * timeout or exits) fails the window with a message naming the plant and
 * the cause, never a crash.
 *
 * Userspace only.
 */
#ifndef KOPT_LOADER_PLANT_H
#define KOPT_LOADER_PLANT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PLANT_LINE_MAX 65536
#define PLANT_SOURCE_LEN 16
#define PLANT_ERR_LEN 512
/* knobs beside ITR and frequency (policy.h's POLICY_MAX_KNOBS) */
#define PLANT_MAX_KNOBS 4
#define PLANT_KNOB_NAME_LEN 32
/*
 * The one other knob kopt's own plants turn: hard-IRQ deferral (NAPI's
 * napi_defer_hard_irqs; `kopt plant host` writes it, the sim models it).
 */
#define PLANT_KNOB_DEFER_IRQS "defer_irqs"

/* What a reply must carry besides energy_j, qps and seconds. */
enum plant_need {
	PLANT_NEED_P99,
	PLANT_NEED_P50,
	PLANT_NEED_THROUGHPUT,
};

struct plant_setting {
	bool stock; /* both knobs null: the stock policy */
	double itr_us, freq_mhz;
	/*
	 * The other knobs' values, in the order of the names the plant was
	 * given (plant_set_knobs(); the policy's [knob NAME] order); 0
	 * with stock. An in-process plant knows the names from the policy
	 * it was made for.
	 */
	unsigned int n_knobs;
	double knobs[PLANT_MAX_KNOBS];
};

struct plant_reply {
	double energy_j, seconds, qps;
	double p50_us, p99_us, throughput; /* NAN when absent */
	double stock_energy_j, oracle_energy_j; /* NAN when absent */
	char source[PLANT_SOURCE_LEN]; /* "" when the plant did not say */
	/* where p50/p99 came from (bpf, feed, loadgen); "" when not said */
	char latency_source[PLANT_SOURCE_LEN];
};

/*
 * A plant in this process (a test's fake plant, an in-process replay):
 * reply() writes the reply line it would have sent for one window (the
 * same JSON, validated the same way, so an in-process plant can lie
 * exactly like a remote one); 0, or a negative errno with err filled.
 * free() (optional) releases ctx when the plant stops.
 */
struct plant_ops {
	int (*reply)(void *ctx, const struct plant_setting *s, double seconds,
		     char *line, size_t cap, char *err, size_t errlen);
	void (*free)(void *ctx);
};

struct plant {
	const struct plant_ops *ops; /* set: in-process, no child */
	void *ctx;
	char *cmdline; /* for messages */
	char **argv; /* what is exec'd */
	unsigned int n_knobs; /* names of a setting's knobs[], in order */
	char knob_names[PLANT_MAX_KNOBS][PLANT_KNOB_NAME_LEN];
	pid_t pid; /* 0: not running */
	int fd; /* socket: the plant's stdin and stdout */
	size_t len; /* bytes buffered */
	char buf[PLANT_LINE_MAX];
};

/*
 * True if a and b are the same setting: both stock, or the same ITR,
 * frequency (NAN alike: no DVFS knob) and other knobs.
 */
bool plant_setting_same(const struct plant_setting *a,
			const struct plant_setting *b);

/* `sh -c CMDLINE`. NULL with err filled if it cannot be started. */
struct plant *plant_start_cmd(const char *cmdline, char *err, size_t errlen);
/* argv[0] is a path; label names it in messages. */
struct plant *plant_start_argv(char *const argv[], const char *label, char *err,
			       size_t errlen);
/* An in-process plant; label names it in messages. */
struct plant *plant_start_ops(const struct plant_ops *ops, void *ctx,
			      const char *label, char *err, size_t errlen);
/*
 * The names requests give a setting's knobs[] (n at most PLANT_MAX_KNOBS,
 * each a policy_knob_name_ok() name). 0, or -EINVAL.
 */
int plant_set_knobs(struct plant *p, unsigned int n, const char *const *names);
/* Starts the same command again (after it died or hung). */
int plant_restart(struct plant *p, char *err, size_t errlen);
bool plant_running(const struct plant *p);
/* Ends the plant: EOF on its stdin, then SIGTERM, then SIGKILL; frees. */
void plant_stop(struct plant *p);

/*
 * One window: sends the request and waits up to timeout_s (wall clock)
 * for the reply. 0, or a negative errno with err filled:
 *   -EPROTO     a reply that is not valid (the plant keeps running)
 *   -ETIMEDOUT  no reply in time (the plant was stopped)
 *   -EPIPE      the plant exited or closed its output
 */
int plant_measure(struct plant *p, const struct plant_setting *s,
		  double seconds, double timeout_s, enum plant_need need,
		  struct plant_reply *r, char *err, size_t errlen);

/* A request as a plant sees it: the server side of the protocol. */
struct plant_request {
	bool stock; /* both knobs null: the stock policy */
	double itr_us;
	double freq_mhz; /* NAN: null beside a set itr_us (no DVFS knob) */
	double seconds;
	/* "knobs": names (checked like a policy's) and values >= 0 */
	unsigned int n_knobs;
	char knob_names[PLANT_MAX_KNOBS][PLANT_KNOB_NAME_LEN];
	double knobs[PLANT_MAX_KNOBS];
};

/*
 * Parses and validates one request line for a plant; 0, or -EINVAL with
 * err saying what is wrong (the plant replies {"error": err}).
 */
int plant_parse_request(const char *line, double max_seconds,
			struct plant_request *rq, char *err, size_t errlen);

/* Validates one reply line (exposed for tests). 0 or -EPROTO. */
int plant_parse_reply(const char *line, double seconds, enum plant_need need,
		      struct plant_reply *r, char *err, size_t errlen);

#endif /* KOPT_LOADER_PLANT_H */
