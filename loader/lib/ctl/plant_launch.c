// SPDX-License-Identifier: GPL-2.0-only
/*
 * The named plants of a policy (plant_launch.h): argv built from the
 * policy's checked fields, exec'd without a shell.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "plant_launch.h"

/* "--sla-p99 US" (or p50, or ratio) for the lab plants' oracle. */
static void sla_args(const struct policy *p, const char **opt, char *bound,
		     size_t len)
{
	if (p->sla.kind == POLICY_SLA_THROUGHPUT) {
		*opt = "--sla-ratio";
		snprintf(bound, len, "%g", p->sla.min_ratio);
	} else {
		*opt = p->sla.pct == POLICY_P99 ? "--sla-p99" : "--sla-p50";
		snprintf(bound, len, "%g", p->sla.bound_us);
	}
}

struct plant *plant_launch_sim(const struct policy *p,
			       const struct plant_bins *b, char *err,
			       size_t errlen)
{
	char seed[32], bound[32];
	const char *sla_opt;

	if (!p->sim_params[0]) {
		snprintf(err, errlen,
			 "--plant sim: policy %.200s has no [plant] sim_params "
			 "(e.g. sim_params = sim-memcached.params)",
			 p->path);
		return NULL;
	}
	if (access(p->sim_params, R_OK)) {
		snprintf(
			err, errlen,
			"--plant sim: %.200s ([plant] sim_params of %.200s): %s",
			p->sim_params, p->path, strerror(errno));
		return NULL;
	}
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)p->seed);
	sla_args(p, &sla_opt, bound, sizeof(bound));
	{
		char *argv[] = { (char *)b->lab,
				 "plant",
				 "sim",
				 "--params",
				 (char *)p->sim_params,
				 "--seed",
				 seed,
				 (char *)sla_opt,
				 bound,
				 NULL };

		return plant_start_argv(argv, "sim", err, errlen);
	}
}

struct plant *plant_launch_replay(const struct policy *p, const char *table,
				  const struct plant_bins *b, char *err,
				  size_t errlen)
{
	char seed[32], bound[32];
	const char *sla_opt;

	if (access(table, R_OK)) {
		snprintf(err, errlen, "replay plant: table %.200s: %s", table,
			 strerror(errno));
		return NULL;
	}
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)p->seed);
	sla_args(p, &sla_opt, bound, sizeof(bound));
	{
		char *argv[] = { (char *)b->lab, "plant",
				 "replay",	 "--table",
				 (char *)table,	 "--seed",
				 seed,		 (char *)sla_opt,
				 bound,		 NULL };

		return plant_start_argv(argv, "replay", err, errlen);
	}
}

/* Appends "--opt value" to argv when value is set. */
static void add_arg(char **argv, int *n, const char *opt, const char *value)
{
	if (!value || !*value)
		return;
	argv[(*n)++] = (char *)opt;
	argv[(*n)++] = (char *)value;
}

/*
 * `kopt plant host` with the knobs and measures the policy's [host]
 * section names (see policies/host-memcached.conf).
 */
struct plant *plant_launch_host(const struct policy *p,
				const struct plant_bins *b, char *err,
				size_t errlen)
{
	const struct policy_host *h = &p->host;
	char rate[32], conns[16];
	char *argv[24] = { (char *)b->kopt, "plant", "host" };
	int n = 3;

	if (!h->ifname[0] && !h->agent[0]) {
		snprintf(err, errlen,
			 "--plant host: policy %.200s has no [host] interface "
			 "(the NIC whose coalescing kopt tunes)",
			 p->path);
		return NULL;
	}
	if (!p->freq_fixed && !h->cpus[0] && !h->agent[0]) {
		snprintf(err, errlen,
			 "--plant host: policy %.200s searches frequencies but "
			 "[host] cpus is empty: name the CPUs, or set [freq] "
			 "list_mhz = none on a host without DVFS",
			 p->path);
		return NULL;
	}
	if (h->latency.kind == POLICY_LAT_LOADGEN && !h->server[0]) {
		snprintf(
			err, errlen,
			"--plant host: policy %.200s has no latency source: set "
			"[host] latency (bpf:PORT for the service's own "
			"traffic, or a feed), or server and rate for kopt's "
			"load generator",
			p->path);
		return NULL;
	}
	snprintf(rate, sizeof(rate), "%.0f", h->rate);
	snprintf(conns, sizeof(conns), "%u", h->connections);
	add_arg(argv, &n, "--ifname", h->ifname);
	add_arg(argv, &n, "--coalesce", h->coalesce ? "sw" : "nic");
	add_arg(argv, &n, "--cpus", h->cpus);
	add_arg(argv, &n, "--server", h->server);
	add_arg(argv, &n, "--rate", h->server[0] ? rate : NULL);
	add_arg(argv, &n, "--connections", h->connections ? conns : NULL);
	add_arg(argv, &n, "--agent", h->agent);
	/* one argv element: a feed command never passes through a shell */
	if (h->latency.kind != POLICY_LAT_LOADGEN)
		add_arg(argv, &n, "--latency", h->latency.spec);
	/* the plant keeps requests within the policy, whatever asks */
	add_arg(argv, &n, "--policy", p->path);
	if (h->energy == 1)
		argv[n++] = "--estimate";
	else if (h->energy == 2)
		argv[n++] = "--require-meter";
	argv[n] = NULL;
	return plant_start_argv(argv, "host", err, errlen);
}
