/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Energy meters, best first: RAPL through powercap sysfs, the perf
 * `power` PMU, and last a model estimate from per-CPU busy time and
 * frequency. The estimate is never presented as a measurement: every
 * caller prints energy_source_name() ("estimate") next to the figure.
 *
 * Userspace only.
 */
#ifndef KOPT_LOADER_ENERGY_H
#define KOPT_LOADER_ENERGY_H

#include <stdbool.h>
#include <stddef.h>

enum energy_source {
	ENERGY_RAPL,
	ENERGY_PERF,
	ENERGY_ESTIMATE, /* this host's CPUs: busy time and frequency */
	ENERGY_PROC_ESTIMATE, /* one process's CPU time (an emulated testbed) */
};

/* Parameters of the estimate (watts); defaults in energy_opts_default(). */
struct energy_opts {
	bool force_estimate; /* skip the real meters (tests, comparisons) */
	double static_w; /* package/uncore power, always on */
	double core_idle_w; /* per CPU, idle */
	double core_busy_w; /* per CPU, busy at its maximum frequency */
	/*
	 * > 0: estimate the energy of what this process runs (e.g. the QEMU
	 * of a VM testbed) from its CPU time: static_w + core_busy_w per
	 * CPU-second it uses. Skips the real meters.
	 */
	int pid;
};

struct energy_meter;

void energy_opts_default(struct energy_opts *o);

/*
 * Opens the best meter this host has. Never fails for lack of hardware:
 * the estimate is always there; why_not (may be NULL) says why the real
 * meters were not used. Returns NULL only on allocation failure.
 */
struct energy_meter *energy_open(const struct energy_opts *o, char *why_not,
				 size_t len);
/* Joules since energy_open(); 0 or -errno. */
int energy_read(struct energy_meter *m, double *joules);
enum energy_source energy_source(const struct energy_meter *m);
/* "rapl", "perf-power", "estimate" or "estimate-process". */
const char *energy_source_name(const struct energy_meter *m);
/* True for the model estimates: callers must label their figures. */
bool energy_is_estimate(const struct energy_meter *m);
void energy_close(struct energy_meter *m);

#endif /* KOPT_LOADER_ENERGY_H */
