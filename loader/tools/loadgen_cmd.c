// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt loadgen: the command-line face of loader/lib/host/loadgen.c (an open-loop
 * memcached load generator; how it schedules and measures is explained at
 * the top of that file). Parses the options, runs one measurement, prints
 * it as text or one JSON object, and reports its own CPU use so the cost
 * of the measurement is on record next to the measurement.
 *
 * Cost: that of loadgen.c; the command itself sleeps in a join.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <json-c/json.h>

#include "cli.h"
#include "opts.h"
#include "loadgen.h"

/* Above this client lag the generator, not the server, is the bottleneck. */
#define LAG_WARN_US 100.0

static struct loadgen *volatile running_lg;
static volatile sig_atomic_t stop_early;

static void on_signal(int sig)
{
	struct loadgen *lg = running_lg;

	if (lg)
		loadgen_request_stop(lg);
	else
		stop_early = 1;
}

/* false after --help or a usage error (*ret says which) */
static bool parse_opts(int argc, char **argv, struct loadgen_opts *o, int *ret)
{
	long seed = (long)o->seed, timeout_ms = 0;
	bool have_timeout = false;
	const struct kopt_opts spec = {
		.cmd = "kopt loadgen",
		.usage = "--rate QPS [--server HOST:PORT] [--duration S] "
			 "[OPTIONS]",
		.desc = "Open-loop memcached load generator: sends get/set "
			"requests at QPS on a\nPoisson schedule fixed in advance, "
			"spread over N connections (pipelined\nwhen all are "
			"busy), and measures each latency from the request's\n"
			"*intended* send time, so a queueing server cannot hide "
			"behind a slowed\nclient. Every key is set first so gets "
			"hit. Schedule, protocol and\ncosts: see the top of "
			"loader/lib/host/loadgen.c.",
		.epilog =
			"Reports the target and achieved rate (replies received "
			"during the measured\ntime / its length), requests "
			"sent, completed, errors and timeouts, the hit\n"
			"ratio, latency p50/p90/p99/p99.9/max in microseconds "
			"(3 significant\ndigits, HDR-style histogram), the "
			"client lag (actual - intended send time)\nand the "
			"generator's CPU use. Ctrl-C stops and prints what was "
			"measured.\nExit: 0 ok, 1 cannot connect or preload, "
			"error replies or no reply at all,\n2 bad option.",
		.opts = KOPT_OPTS(
			KOPT_OPT_STR(
				"server", 's', &o->server, "HOST:PORT",
				"memcached to drive (default 127.0.0.1:11211;\n"
				"[ADDR]:PORT for IPv6)"),
			KOPT_OPT_DOUBLE(
				"rate", 'r', &o->rate, 1e-3, LOADGEN_MAX_RATE,
				"QPS",
				"target requests per second, all threads\n"
				"(required; up to 2000000)",
				.unit = "requests per second",
				.flags = KOPT_OPT_REQUIRED),
			KOPT_OPT_DOUBLE(
				"duration", 'd', &o->duration_s, 0, 1e7, "S",
				"measured seconds (default 10; 0 = until "
				"Ctrl-C)",
				.unit = "seconds"),
			KOPT_OPT_DOUBLE(
				"warmup", 'w', &o->warmup_s, 0, 3600, "S",
				"load sent before measuring, not recorded\n"
				"(default 1)",
				.unit = "seconds"),
			KOPT_OPT_INT("connections", 'c', &o->connections, 1,
				     LOADGEN_MAX_CONNS, "N",
				     "TCP connections (default 16, up to 4096)"),
			KOPT_OPT_INT(
				"threads", 't', &o->threads, 1,
				LOADGEN_MAX_THREADS, "T",
				"worker threads, each with N/T connections\n"
				"and rate/T (default 1, up to 64)"),
			KOPT_OPT_DOUBLE(
				"get-ratio", 'g', &o->get_ratio, 0, 1, "R",
				"share of gets, the rest are sets (default "
				"0.9)",
				.unit = "a share"),
			KOPT_OPT_LONG("key-space", 'k', &o->key_space, 1,
				      LOADGEN_MAX_KEYS, "K",
				      "keys kopt:0..kopt:K-1, chosen uniformly\n"
				      "(default 10000, up to 10000000)"),
			KOPT_OPT_LONG(
				"value-size", 'b', &o->value_size, 1,
				LOADGEN_MAX_VALUE, "B",
				"bytes per value (default 64, up to 4194304)",
				.unit = "bytes"),
			KOPT_OPT_LONG("seed", 0, &seed, 0, LONG_MAX, "N",
				      "seed of the schedule and the key choice "
				      "(default 1)"),
			KOPT_OPT_LONG(
				"timeout", 0, &timeout_ms, 1,
				(long)(LOADGEN_MAX_TIMEOUT_S * 1e3), "MS",
				"a request unanswered this long is a timeout;\n"
				"its connection is reopened (default 1000)",
				.unit = "milliseconds", .given = &have_timeout),
			KOPT_OPT_FLAG("no-preload", 0, &o->no_preload,
				      "do not set the key space before the run"),
			KOPT_OPT_STR(
				"raw", 0, &o->raw_path, "FILE",
				"write every measured sample as CSV: intended_ns\n"
				"(since the warmup ended), latency_ns, op\n"
				"(get_hit, get_miss or set)"),
			KOPT_OPT_JSON("print the result as one JSON object")),
	};

	if (!kopt_opts_parse(&spec, argc, argv, ret))
		return false;
	o->seed = (uint64_t)seed;
	if (have_timeout)
		o->timeout_s = timeout_ms / 1e3;
	if (o->threads > o->connections) {
		*ret = kopt_usage_error(spec.cmd,
					"--threads %d > --connections %d: "
					"every thread needs a connection",
					o->threads, o->connections);
		return false;
	}
	return true;
}

struct cpu_use {
	double cpu_s, wall_s;
};

static double rusage_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct json_object *jnum(double v, const char *fmt)
{
	char buf[64];

	snprintf(buf, sizeof(buf), fmt, v);
	return json_object_new_double_s(v, buf);
}

static struct json_object *jlatency(const struct loadgen_stats *st)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "p50", jnum(st->p50_us, "%.3f"));
	json_object_object_add(o, "p90", jnum(st->p90_us, "%.3f"));
	json_object_object_add(o, "p99", jnum(st->p99_us, "%.3f"));
	json_object_object_add(o, "p99_9", jnum(st->p999_us, "%.3f"));
	json_object_object_add(o, "max", jnum(st->max_us, "%.3f"));
	json_object_object_add(o, "mean", jnum(st->mean_us, "%.3f"));
	json_object_object_add(o, "rel_error",
			       jnum(st->hist_rel_error, "%.6f"));
	return o;
}

static void print_json(const struct loadgen_opts *o,
		       const struct loadgen_stats *st,
		       const struct cpu_use *cpu, bool interrupted)
{
	struct json_object *j = json_object_new_object(), *lag, *c;

	json_object_object_add(j, "server", json_object_new_string(o->server));
	json_object_object_add(j, "target_qps", jnum(st->target_qps, "%.3f"));
	json_object_object_add(j, "achieved_qps",
			       jnum(st->achieved_qps, "%.3f"));
	json_object_object_add(j, "measured_s", jnum(st->elapsed_s, "%.6f"));
	json_object_object_add(j, "warmup_s", jnum(o->warmup_s, "%.3f"));
	json_object_object_add(j, "connections",
			       json_object_new_int(o->connections));
	json_object_object_add(j, "threads", json_object_new_int(o->threads));
	json_object_object_add(j, "sent", json_object_new_uint64(st->sent));
	json_object_object_add(j, "completed",
			       json_object_new_uint64(st->completed));
	json_object_object_add(j, "errors", json_object_new_uint64(st->errors));
	json_object_object_add(j, "timeouts",
			       json_object_new_uint64(st->timeouts));
	json_object_object_add(j, "hits", json_object_new_uint64(st->hits));
	json_object_object_add(j, "misses", json_object_new_uint64(st->misses));
	json_object_object_add(j, "hit_ratio", jnum(st->hit_ratio, "%.6f"));
	json_object_object_add(j, "latency_us", jlatency(st));
	lag = json_object_new_object();
	json_object_object_add(lag, "p99", jnum(st->lag_p99_us, "%.3f"));
	json_object_object_add(lag, "max", jnum(st->lag_max_us, "%.3f"));
	json_object_object_add(j, "client_lag_us", lag);
	c = json_object_new_object();
	json_object_object_add(c, "cpu_s", jnum(cpu->cpu_s, "%.3f"));
	json_object_object_add(c, "wall_s", jnum(cpu->wall_s, "%.3f"));
	json_object_object_add(
		c, "percent_of_one_core",
		jnum(cpu->wall_s > 0 ? 100 * cpu->cpu_s / cpu->wall_s : 0,
		     "%.2f"));
	json_object_object_add(j, "cpu", c);
	json_object_object_add(j, "interrupted",
			       json_object_new_boolean(interrupted));
	json_object_object_add(j, "first_error",
			       st->first_error[0] ?
				       json_object_new_string(st->first_error) :
				       NULL);
	printf("%s\n", kopt_json_text(j));
	json_object_put(j);
}

static void print_text(const struct loadgen_opts *o,
		       const struct loadgen_stats *st,
		       const struct cpu_use *cpu, bool interrupted)
{
	printf("kopt loadgen: %s, %.3f s measured after %.3f s warmup, "
	       "%d connections, %d thread%s%s\n",
	       o->server, st->elapsed_s, o->warmup_s, o->connections,
	       o->threads, o->threads > 1 ? "s" : "",
	       interrupted ? " (interrupted)" : "");
	printf("  rate        target %.1f/s  achieved %.1f/s (%.2f%%)\n",
	       st->target_qps, st->achieved_qps,
	       st->target_qps > 0 ? 100 * st->achieved_qps / st->target_qps :
				    0);
	printf("  requests    sent %llu  completed %llu  errors %llu  "
	       "timeouts %llu\n",
	       (unsigned long long)st->sent, (unsigned long long)st->completed,
	       (unsigned long long)st->errors,
	       (unsigned long long)st->timeouts);
	printf("  gets        %llu (hit ratio %.2f%%)\n",
	       (unsigned long long)(st->hits + st->misses),
	       100 * st->hit_ratio);
	printf("  latency us  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  "
	       "max %.1f  mean %.1f  (from intended send time)\n",
	       st->p50_us, st->p90_us, st->p99_us, st->p999_us, st->max_us,
	       st->mean_us);
	printf("  client lag  p99 %.1f us  max %.1f us  (actual - intended "
	       "send time)\n",
	       st->lag_p99_us, st->lag_max_us);
	printf("  cpu         %.2f s in %.2f s (%.1f%% of one core)\n",
	       cpu->cpu_s, cpu->wall_s,
	       cpu->wall_s > 0 ? 100 * cpu->cpu_s / cpu->wall_s : 0);
}

/* Warnings after the numbers; the exit code for what went wrong. */
static int verdict(const struct loadgen_opts *o, const struct loadgen_stats *st)
{
	if (st->lag_p99_us > LAG_WARN_US)
		pr_warn("loadgen: warning: the generator sent late (client lag "
			"p99 %.0f us): the latencies include its delay; either "
			"the host is busy (other load competes for the CPU) or "
			"the generator is saturated (add --threads or lower "
			"--rate)\n",
			st->lag_p99_us);
	if (st->timeouts)
		pr_warn("loadgen: %llu requests got no reply within %.0f ms "
			"(counted as timeouts, not in the percentiles)\n",
			(unsigned long long)st->timeouts, o->timeout_s * 1e3);
	if (st->sent && !st->completed) {
		pr_warn("loadgen: none of %llu requests was answered by %s%s%s\n",
			(unsigned long long)st->sent, o->server,
			st->first_error[0] ? "; first error: " : "",
			st->first_error);
		return KOPT_EXIT_FAIL;
	}
	if (!st->errors)
		return KOPT_EXIT_OK;
	pr_warn("loadgen: %llu requests failed (error replies, lost "
		"connections or not sent); first: %s\n",
		(unsigned long long)st->errors, st->first_error);
	return KOPT_EXIT_FAIL;
}

static void set_signals(void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int cmd_loadgen(int argc, char **argv)
{
	struct loadgen_stats st;
	struct loadgen_opts o;
	struct loadgen *lg;
	struct cpu_use cpu;
	double cpu0, wall0;
	bool interrupted;
	int err;

	loadgen_opts_default(&o);
	if (!parse_opts(argc, argv, &o, &err))
		return err;
	cpu0 = rusage_s();
	wall0 = wall_s();
	stop_early = 0;
	set_signals(on_signal);
	err = loadgen_start(&o, &lg);
	if (err) {
		set_signals(SIG_DFL);
		return err == -EINVAL ? KOPT_EXIT_USAGE : KOPT_EXIT_FAIL;
	}
	running_lg = lg;
	if (stop_early)
		loadgen_request_stop(lg);
	loadgen_wait(lg);
	interrupted = loadgen_interrupted(lg);
	running_lg = NULL;
	err = loadgen_stop(lg, &st);
	set_signals(SIG_DFL);
	cpu.cpu_s = rusage_s() - cpu0;
	cpu.wall_s = wall_s() - wall0;
	if (kopt_env.json)
		print_json(&o, &st, &cpu, interrupted);
	else
		print_text(&o, &st, &cpu, interrupted);
	fflush(stdout);
	if (err)
		return KOPT_EXIT_FAIL;
	return verdict(&o, &st);
}
