/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Features `kopt probe` reports; the JSON key of each is stable.
 */
#ifndef KOPT_LOADER_PROBE_H
#define KOPT_LOADER_PROBE_H

#include <stdbool.h>
#include <stddef.h>

enum kopt_probe_id {
	KOPT_PROBE_KERNEL,
	KOPT_PROBE_BTF,
	KOPT_PROBE_LOCKDOWN,
	KOPT_PROBE_CAPS,
	KOPT_PROBE_RINGBUF,
	KOPT_PROBE_TRACEPOINT,
	KOPT_PROBE_TP_BTF,
	KOPT_PROBE_FEXIT,
	KOPT_PROBE_KPROBE,
	KOPT_PROBE_XDP,
	KOPT_PROBE_TEST_RUN,
	KOPT_PROBE_STRUCT_OPS,
	KOPT_PROBE_STATS,
	KOPT_PROBE_SCHED_EXT,
	KOPT_PROBE_KOPT_PATCH,
	KOPT_PROBE_CPUFREQ,
	KOPT_PROBE_RAPL,
	KOPT_PROBE_PERF_POWER,
	KOPT_PROBE_NET,
	KOPT_PROBE_NR,
};

/* Program kinds, for explaining a refusal. */
enum kopt_prog_kind { PK_TRACEPOINT, PK_TP_BTF, PK_FEXIT, PK_KPROBE };

/* The likely reason the kernel refused a program of `kind` with errno. */
const char *kopt_explain_refusal(enum kopt_prog_kind kind, int err);

/* The kernel lockdown mode ("none", "integrity", ...; "unknown"). */
void kopt_lockdown_mode(char *mode, size_t len);

/* Runs every probe and prints the table or JSON; returns a kopt_exit. */
struct json_object;
/*
 * Runs every probe (loads and attaches tiny programs, reads sysfs;
 * changes nothing) and returns one object: every feature, keyed by
 * kopt_probe_key(id) in id order, as {"ok": bool, "detail": str, ...}.
 */
struct json_object *kopt_probe_all(void);
/*
 * What each job can do on this host, from kopt_probe_all()'s result:
 * {"energy_job": {itr_knob, dvfs_knob, meter, energy_measured,
 * latency_source, can_run, limits[], verdict}, "migration_job":
 * {collector, can_collect, live_model, verdict}}; each verdict is one
 * sentence for people.
 */
struct json_object *kopt_probe_verdicts(struct json_object *root);
/* The feature's JSON key and its label for people. */
const char *kopt_probe_key(enum kopt_probe_id id);
const char *kopt_probe_label(enum kopt_probe_id id);

#endif /* KOPT_LOADER_PROBE_H */
