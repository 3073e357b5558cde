/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The open-loop memcached load generator as a library: `kopt loadgen` is
 * one user, the control loop the other (start it, read one window of
 * statistics per measurement window, stop it).
 *
 * Userspace only.
 */
#ifndef KOPT_LOADER_LOADGEN_H
#define KOPT_LOADER_LOADGEN_H

#ifdef __bpf__
#error "loader/lib/host/loadgen.h is userspace-only"
#endif

#include <stdbool.h>
#include <stdint.h>

/* Limits of the options (the CLI names them in its errors). */
#define LOADGEN_MAX_RATE 2000000.0 /* requests/s, all threads */
#define LOADGEN_MAX_CONNS 4096
#define LOADGEN_MAX_THREADS 64
#define LOADGEN_MAX_KEYS 10000000L
#define LOADGEN_MAX_VALUE (4L << 20) /* memcached's own limit is -I */
#define LOADGEN_MAX_TIMEOUT_S 60.0
#define LOADGEN_ERR_LEN 160

struct loadgen_opts {
	const char *server; /* "HOST:PORT", "[V6ADDR]:PORT" */
	double rate; /* target requests per second, > 0 */
	double duration_s; /* measured time; 0 = until loadgen_stop() */
	double warmup_s; /* load before measuring (not recorded) */
	int connections;
	int threads; /* 1..connections */
	double get_ratio; /* share of gets, the rest are sets */
	long key_space; /* keys kopt:0 .. kopt:K-1, uniform */
	long value_size; /* bytes per value */
	uint64_t seed; /* schedule and key choice are a function of it */
	double timeout_s; /* a request unanswered this long is a timeout */
	bool no_preload; /* skip setting every key before the run */
	const char *raw_path; /* NULL, or a CSV of every measured sample */
};

/* Fills o with the defaults `kopt loadgen --help` documents. */
void loadgen_opts_default(struct loadgen_opts *o);

/* Statistics of one window (or of the whole run, see loadgen_stop()). */
struct loadgen_stats {
	double elapsed_s; /* measured time the window covers */
	double target_qps;
	double achieved_qps; /* responses received in the window / elapsed */
	uint64_t sent; /* requests scheduled in the window and sent */
	uint64_t completed; /* answered (hits, misses, stored) */
	uint64_t errors; /* error replies, lost connections, unsent */
	uint64_t timeouts;
	uint64_t hits, misses; /* of the completed gets */
	double hit_ratio; /* hits / (hits + misses); 0 without gets */
	/* latency from the intended send time, microseconds */
	double p50_us, p90_us, p99_us, p999_us, max_us, mean_us;
	/* client lag: actual - intended send time (the generator's delay) */
	double lag_p99_us, lag_max_us;
	double hist_rel_error; /* bound on the percentiles' relative error */
	char first_error[LOADGEN_ERR_LEN]; /* empty if none */
};

struct loadgen;

/*
 * Checks o, connects every connection (an unreachable server fails here,
 * named with its errno), preloads the key space and starts the worker
 * threads. Prints what went wrong with pr_warn. 0, -EINVAL (bad option),
 * or another -errno (connect, preload, memory, threads).
 */
int loadgen_start(const struct loadgen_opts *o, struct loadgen **out);
/*
 * Statistics since the previous call (or since the end of the warmup),
 * without stopping the load. Samples of requests sent during the warmup
 * are never counted. Call from one thread at a time.
 */
int loadgen_window(struct loadgen *lg, struct loadgen_stats *st);
/* Waits until the schedule ended (duration reached) or a stop request. */
void loadgen_wait(struct loadgen *lg);
/* Asks the workers to stop; async-signal-safe (for a SIGINT handler). */
void loadgen_request_stop(struct loadgen *lg);
/* True once a stop was requested before the schedule ended. */
bool loadgen_interrupted(const struct loadgen *lg);
/*
 * Stops the load, fills *last (may be NULL) with the statistics since the
 * previous loadgen_window() call (the whole run if never called), writes
 * opts.raw_path, and frees lg. Returns 0 or -errno of the raw file.
 */
int loadgen_stop(struct loadgen *lg, struct loadgen_stats *last);

#endif /* KOPT_LOADER_LOADGEN_H */
