// SPDX-License-Identifier: GPL-2.0-only
/*
 * Actuators (see actuator.h): NIC coalescing through ethtool netlink,
 * software coalescing through sysfs, CPU frequency through libcpupower.
 * Each first write of a knob is journaled with the original value before
 * it happens (state.c), and every write is read back.
 *
 * Cost: one netlink round trip or a sysfs write per set; the control loop
 * sets at most once per measurement window.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpufreq.h>

#include "actuator.h"
#include "hwtstamp.h"
#include "ethtool_nl.h"
#include "kopt.h"

/* e1000e and most drivers cap rx-usecs at 10 ms; the policy narrows it. */
#define COALESCE_MAX_USECS 10000
/* read-back slack for drivers that store a rate: 1% or 2 us */
#define COALESCE_ROUNDING(v) ((v) / 100 > 2 ? (v) / 100 : 2)
#define SW_FLUSH_MAX_USECS 100000
#define SW_DEFER_MAX 1000
#define SYSFS_NET "/sys/class/net"
#define CPUFREQ_SYSFS "/sys/devices/system/cpu"

static const char *const kind_names[ACT_NR] = {
	[ACT_NIC_COALESCE] = "nic-coalesce",
	[ACT_SW_COALESCE] = "sw-coalesce",
	[ACT_CPUFREQ] = "cpufreq",
};

const char *act_kind_name(enum act_kind kind)
{
	return kind < ACT_NR ? kind_names[kind] : "?";
}

enum act_kind act_kind_parse(const char *name)
{
	int k;

	for (k = 0; k < ACT_NR; k++)
		if (!strcmp(name, kind_names[k]))
			return k;
	return ACT_NR;
}

/* The network namespace we run in, so a restore happens in the same one. */
static void current_netns(char *buf, size_t len)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "net:[%lu]", (unsigned long)st.st_ino);
}

static int journal(const struct actuator *a, const char *knob, long long orig,
		   const char *orig_str)
{
	struct state_entry e = {};

	snprintf(e.kind, sizeof(e.kind), "%s", act_kind_name(a->kind));
	snprintf(e.target, sizeof(e.target), "%s", a->target);
	snprintf(e.knob, sizeof(e.knob), "%s", knob);
	snprintf(e.original_str, sizeof(e.original_str), "%s",
		 orig_str ? orig_str : "");
	current_netns(e.netns, sizeof(e.netns));
	e.original = orig;
	return state_record(&e);
}

/* ---- nic-coalesce ---------------------------------------------------------- */

static int nic_get_attr(const char *ifname, int attr, long *val, char *why,
			size_t len)
{
	struct ethtool_coalesce_info info;
	int err = ethtool_coalesce_get(ifname, &info);

	if (err)
		return kopt_errf(why, len, err,
				 "%s: ethtool netlink COALESCE_GET: %s", ifname,
				 strerror(-err));
	if (!info.present[attr])
		return kopt_errf(why, len, -EOPNOTSUPP,
				 "%s: the driver does not support %s", ifname,
				 ethtool_coalesce_attr_name(attr));
	*val = info.value[attr];
	return 0;
}

/*
 * rx/tx-usecs values some drivers do not read as a delay (Linux 6.12's
 * set_coalesce of each): there 0 is "no delay" and the delays start at
 * 10 us, while 1-4 select modes and the rest is refused. The actuator's
 * range skips them, so a search over it never asks for a mode.
 */
static const struct coalesce_special {
	const char *driver;
	bool tx; /* tx-usecs too (else rx-usecs only) */
	long lo, hi;
	const char *why;
} coalesce_special[] = {
	{ "e1000e", false, 1, 9,
	  "1 and 3 select its dynamic modes, 4 its simplified one, 2 and "
	  "5-9 are refused" },
	{ "e1000", false, 1, 9,
	  "1 and 3 select its dynamic modes, 4 its simplified one, 2 and "
	  "5-9 are refused" },
	{ "igb", true, 1, 9,
	  "1 and 3 select its dynamic modes, 2 and 4-9 are refused" },
	{ "igc", true, 1, 9,
	  "1 and 3 select its dynamic modes, 2 and 4-9 are refused" },
	{ "ixgbe", false, 1, 1, "1 turns its adaptive mode on" },
};

int act_coalesce_special(const char *driver, const char *knob, long *lo,
			 long *hi, const char **why)
{
	bool tx = !strcmp(knob, "tx-usecs");

	for (size_t i = 0;
	     i < sizeof(coalesce_special) / sizeof(coalesce_special[0]); i++) {
		const struct coalesce_special *c = &coalesce_special[i];

		if (strcmp(c->driver, driver) || (tx && !c->tx))
			continue;
		*lo = c->lo;
		*hi = c->hi;
		*why = c->why;
		return 0;
	}
	return -ENOENT;
}

/* The interface's driver, from its device's sysfs link; "" if none. */
static void nic_driver(const char *ifname, char *buf, size_t len)
{
	char path[PATH_MAX], link[PATH_MAX], *base;
	ssize_t n;

	buf[0] = '\0';
	snprintf(path, sizeof(path), SYSFS_NET "/%s/device/driver", ifname);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return;
	link[n] = '\0';
	base = strrchr(link, '/');
	snprintf(buf, len, "%.31s", base ? base + 1 : link);
}

static int nic_probe(struct actuator *a)
{
	int attr = ethtool_coalesce_attr_parse(a->knob);
	const char *why;
	long v;

	if (attr != ETHTOOL_A_COALESCE_RX_USECS &&
	    attr != ETHTOOL_A_COALESCE_TX_USECS)
		return kopt_errf(a->why, sizeof(a->why), -EINVAL,
				 "nic-coalesce knob '%s': expected rx-usecs or "
				 "tx-usecs",
				 a->knob);
	a->min = 0;
	a->max = COALESCE_MAX_USECS;
	a->step = 1;
	nic_driver(a->target, a->driver, sizeof(a->driver));
	if (!act_coalesce_special(a->driver, a->knob, &a->skip_lo, &a->skip_hi,
				  &why))
		snprintf(a->skip_why, sizeof(a->skip_why), "%s", why);
	return nic_get_attr(a->target, attr, &v, a->why, sizeof(a->why));
}

/* Adaptive coalescing would move the knob under us: off while we hold it. */
static int nic_adaptive_off(struct actuator *a, int attr)
{
	int adaptive = attr == ETHTOOL_A_COALESCE_RX_USECS ?
			       ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX :
			       ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX;
	char tmp[ACT_WHY_LEN];
	long on;
	int err;

	if (nic_get_attr(a->target, adaptive, &on, tmp, sizeof(tmp)) || !on)
		return 0; /* unsupported or already off */
	err = journal(a, ethtool_coalesce_attr_name(adaptive), on, NULL);
	if (err)
		return kopt_errf(a->why, sizeof(a->why), err,
				 "cannot journal %s; not changing it",
				 ethtool_coalesce_attr_name(adaptive));
	err = ethtool_coalesce_set(a->target, adaptive, 0);
	if (err)
		return kopt_errf(a->why, sizeof(a->why), err,
				 "%s: turning %s off: %s", a->target,
				 ethtool_coalesce_attr_name(adaptive),
				 strerror(-err));
	pr_info("%s: %s off while kopt holds the NIC\n", a->target,
		ethtool_coalesce_attr_name(adaptive));
	return 0;
}

static int nic_set(struct actuator *a, long value)
{
	int attr = ethtool_coalesce_attr_parse(a->knob), err;
	long orig, now;

	err = nic_get_attr(a->target, attr, &orig, a->why, sizeof(a->why));
	if (err)
		return err;
	err = journal(a, a->knob, orig, NULL);
	if (err)
		return kopt_errf(a->why, sizeof(a->why), err,
				 "cannot journal %s %s; not changing it",
				 a->target, a->knob);
	err = nic_adaptive_off(a, attr);
	if (err)
		return err;
	err = ethtool_coalesce_set(a->target, attr, value);
	if (err)
		return kopt_errf(a->why, sizeof(a->why), err,
				 "%s: set %s %ld: %s", a->target, a->knob,
				 value, strerror(-err));
	err = nic_get_attr(a->target, attr, &now, a->why, sizeof(a->why));
	if (err)
		return err;
	/*
	 * Drivers store an interrupt rate, not microseconds (e1000e: ITR =
	 * 1e9 / (256 * 1e6 / usecs)), so a read-back may differ by the
	 * conversion's rounding: accept that, refuse a clamp.
	 */
	if (labs(now - value) > COALESCE_ROUNDING(value))
		return kopt_errf(a->why, sizeof(a->why), -ERANGE,
				 "%s: %s read back %ld after setting %ld (the "
				 "driver clamps it)",
				 a->target, a->knob, now, value);
	if (now != value)
		pr_debug("%s: %s %ld stored as %ld (driver rounding)\n",
			 a->target, a->knob, value, now);
	return 0;
}

/* ---- sw-coalesce ------------------------------------------------------------- */

/* knob -> sysfs file and the factor from the knob's unit to the file's */
static int sw_file(const struct actuator *a, char *path, size_t len,
		   long *scale)
{
	const char *file;

	if (!strcmp(a->knob, "gro-flush-usecs")) {
		file = "gro_flush_timeout"; /* ns in sysfs */
		*scale = 1000;
	} else if (!strcmp(a->knob, "napi-defer-hard-irqs")) {
		file = "napi_defer_hard_irqs";
		*scale = 1;
	} else {
		return -EINVAL;
	}
	snprintf(path, len, SYSFS_NET "/%s/%s", a->target, file);
	return 0;
}

/* sysfs coalescing values are unsigned and fit a long. */
static int read_long(const char *path, long *v)
{
	unsigned long long u;
	int err = kopt_read_ull(path, &u);

	if (!err)
		*v = (long)u;
	return err;
}

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "we");
	int err = 0;

	if (!f)
		return -errno;
	if (fprintf(f, "%ld\n", v) < 0)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

static int sw_probe(struct actuator *a)
{
	char path[PATH_MAX];
	long scale, v;
	int err;

	if (sw_file(a, path, sizeof(path), &scale))
		return kopt_errf(
			a->why, sizeof(a->why), -EINVAL,
			"sw-coalesce knob '%s': expected gro-flush-usecs "
			"or napi-defer-hard-irqs",
			a->knob);
	a->min = 0;
	a->max = scale > 1 ? SW_FLUSH_MAX_USECS : SW_DEFER_MAX;
	a->step = 1;
	err = read_long(path, &v);
	if (err)
		return kopt_errf(a->why, sizeof(a->why), err, "%s: %s", path,
				 strerror(-err));
	if (access(path, W_OK))
		return kopt_errf(a->why, sizeof(a->why), -errno, "%s: %s", path,
				 strerror(errno));
	return 0;
}

static int sw_set(struct actuator *a, long value)
{
	char path[PATH_MAX];
	long scale = 1, orig, now;
	int err, jerr;

	sw_file(a, path, sizeof(path), &scale);
	err = read_long(path, &orig);
	/* a journal that refuses said why (a full disk, a live owner) */
	if (!err && (jerr = journal(a, a->knob, orig, NULL)))
		return kopt_errf(a->why, sizeof(a->why), jerr,
				 "cannot journal %s %s; not changing it",
				 a->target, a->knob);
	if (!err)
		err = write_long(path, value * scale);
	if (!err)
		err = read_long(path, &now);
	if (err)
		return kopt_errf(a->why, sizeof(a->why), err, "%s: %s", path,
				 strerror(-err));
	if (now != value * scale)
		return kopt_errf(a->why, sizeof(a->why), -ERANGE,
				 "%s read back %ld after writing %ld", path,
				 now, value * scale);
	return 0;
}

/* ---- cpufreq ---------------------------------------------------------------- */

/* "0-3,6" -> cpus[] */
static int parse_cpus(struct actuator *a)
{
	char buf[STATE_TARGET_LEN], *tok, *save = NULL;
	long lo, hi;

	snprintf(buf, sizeof(buf), "%s", a->target);
	a->nr_cpus = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');

		if (dash)
			*dash = '\0';
		if (kopt_parse_long(tok, 0, ACT_MAX_CPUS - 1, &lo) ||
		    kopt_parse_long(dash ? dash + 1 : tok, lo, ACT_MAX_CPUS - 1,
				    &hi))
			return -EINVAL;
		for (; lo <= hi && a->nr_cpus < ACT_MAX_CPUS; lo++)
			a->cpus[a->nr_cpus++] = lo;
	}
	return a->nr_cpus ? 0 : -EINVAL;
}

static bool has_governor(unsigned int cpu, const char *name)
{
	struct cpufreq_available_governors *g, *first;
	bool found = false;

	first = cpufreq_get_available_governors(cpu);
	for (g = first ? first->first : NULL; g; g = g->next)
		found |= !strcmp(g->governor, name);
	if (first)
		cpufreq_put_available_governors(first);
	return found;
}

int act_cpu_policy(const char *cpu_dir, int cpu)
{
	char path[PATH_MAX], link[PATH_MAX], *base;
	struct stat st;
	ssize_t n;
	int id;

	snprintf(path, sizeof(path), "%s/cpu%d/cpufreq", cpu_dir, cpu);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) /* a directory: this CPU's own policy (old kernels) */
		return lstat(path, &st) || !S_ISDIR(st.st_mode) ? -ENOENT : cpu;
	link[n] = '\0';
	/* ../cpufreq/policyN, or ../cpuN/cpufreq on old kernels */
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	if (sscanf(base, "policy%d", &id) == 1 && id >= 0)
		return id;
	if (!strcmp(base, "cpufreq") && base > link) {
		base[-1] = '\0';
		base = strrchr(link, '/');
		base = base ? base + 1 : link;
		if (sscanf(base, "cpu%d", &id) == 1 && id >= 0)
			return id;
	}
	return -EINVAL;
}

/* The CPUs' cpufreq policies, each with the first requested CPU in it. */
static int cpufreq_policies(struct actuator *a)
{
	a->nr_policies = 0;
	for (int i = 0; i < a->nr_cpus; i++) {
		int id = act_cpu_policy(CPUFREQ_SYSFS, a->cpus[i]), k;

		if (id < 0)
			return kopt_errf(a->why, sizeof(a->why), -ENODEV,
					 "cpu%d: cannot find its cpufreq "
					 "policy under " CPUFREQ_SYSFS,
					 a->cpus[i]);
		for (k = 0; k < a->nr_policies; k++)
			if (a->policy[k] == id)
				break;
		if (k == a->nr_policies) {
			a->policy[k] = id;
			a->policy_cpu[k] = a->cpus[i];
			a->nr_policies++;
		}
	}
	return 0;
}

static int cpufreq_probe(struct actuator *a)
{
	unsigned long min, max;
	char *drv;
	int i;

	if (strcmp(a->knob, "freq-khz"))
		return kopt_errf(a->why, sizeof(a->why), -EINVAL,
				 "cpufreq knob '%s': expected freq-khz",
				 a->knob);
	if (parse_cpus(a))
		return kopt_errf(
			a->why, sizeof(a->why), -EINVAL,
			"cpufreq target '%s': expected a CPU list like "
			"0-3,6",
			a->target);
	for (i = 0; i < a->nr_cpus; i++) {
		drv = cpufreq_get_driver(a->cpus[i]);
		if (!drv)
			return kopt_errf(
				a->why, sizeof(a->why), -ENODEV,
				"cpu%d: no cpufreq driver "
				"(/sys/devices/system/cpu/cpu%d/cpufreq "
				"absent): DVFS not available on this host",
				a->cpus[i], a->cpus[i]);
		cpufreq_put_driver(drv);
		if (cpufreq_get_hardware_limits(a->cpus[i], &min, &max))
			return kopt_errf(
				a->why, sizeof(a->why), -EIO,
				"cpu%d: cannot read cpuinfo_min/max_freq",
				a->cpus[i]);
	}
	a->min = min;
	a->max = max;
	a->step = 1;
	return cpufreq_policies(a);
}

/*
 * Journals one policy's originals (through a CPU of it). Policies are
 * the unit: CPUs sharing one share its governor and limits, so one entry
 * per policy, all written before any change, keeps every original.
 */
static int cpufreq_journal(struct actuator *a, int k)
{
	struct cpufreq_policy *pol = cpufreq_get_policy(a->policy_cpu[k]);
	struct actuator one = *a;
	int err;

	if (!pol)
		return kopt_errf(a->why, sizeof(a->why), -EIO,
				 "cpu%d: cannot read its cpufreq policy",
				 a->policy_cpu[k]);
	snprintf(one.target, sizeof(one.target), "policy%d", a->policy[k]);
	if (has_governor(a->policy_cpu[k], "userspace")) {
		err = journal(&one, "governor", 0, pol->governor);
	} else {
		err = journal(&one, "scaling-min-khz", pol->min, NULL);
		if (!err)
			err = journal(&one, "scaling-max-khz", pol->max, NULL);
	}
	cpufreq_put_policy(pol);
	if (err)
		return kopt_errf(a->why, sizeof(a->why), err,
				 "cannot journal cpufreq policy%d; not "
				 "changing it",
				 a->policy[k]);
	return 0;
}

static int cpufreq_set_one(struct actuator *a, unsigned int cpu, long khz)
{
	struct cpufreq_policy *pol = cpufreq_get_policy(cpu);
	int err = 0;

	if (!pol)
		return kopt_errf(a->why, sizeof(a->why), -EIO,
				 "cpu%u: cannot read its cpufreq policy", cpu);
	if (has_governor(cpu, "userspace")) {
		if (strcmp(pol->governor, "userspace"))
			err = cpufreq_modify_policy_governor(cpu, "userspace");
		if (!err)
			err = cpufreq_set_frequency(cpu, khz);
	} else if ((unsigned long)khz > pol->max) {
		/* no userspace governor (intel_pstate): pin min = max */
		err = cpufreq_modify_policy_max(cpu, khz) ||
		      cpufreq_modify_policy_min(cpu, khz);
	} else {
		err = cpufreq_modify_policy_min(cpu, khz) ||
		      cpufreq_modify_policy_max(cpu, khz);
	}
	cpufreq_put_policy(pol);
	if (err)
		return kopt_errf(a->why, sizeof(a->why), err < 0 ? err : -EIO,
				 "cpu%u: setting %ld kHz failed", cpu, khz);
	return 0;
}

static int cpufreq_set_all(struct actuator *a, long khz)
{
	int k, err;

	for (k = 0; k < a->nr_policies; k++) {
		err = cpufreq_journal(a, k);
		if (err)
			return err;
	}
	for (k = 0; k < a->nr_policies; k++) {
		err = cpufreq_set_one(a, a->policy_cpu[k], khz);
		if (err)
			return err;
	}
	return 0;
}

static int cpufreq_cur(struct actuator *a, long *khz)
{
	unsigned long f = cpufreq_get_freq_kernel(a->cpus[0]);

	if (!f)
		return kopt_errf(a->why, sizeof(a->why), -EIO,
				 "cpu%d: cannot read scaling_cur_freq",
				 a->cpus[0]);
	*khz = f;
	return 0;
}

/* ---- interface ---------------------------------------------------------------- */

int act_probe(struct actuator *a, enum act_kind kind, const char *target,
	      const char *knob)
{
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	snprintf(a->target, sizeof(a->target), "%s", target);
	snprintf(a->knob, sizeof(a->knob), "%s", knob);
	if (kind != ACT_CPUFREQ && !if_nametoindex(target))
		return kopt_errf(a->why, sizeof(a->why), -ENODEV,
				 "no network interface '%s' in this namespace",
				 target);
	switch (kind) {
	case ACT_NIC_COALESCE:
		return nic_probe(a);
	case ACT_SW_COALESCE:
		return sw_probe(a);
	case ACT_CPUFREQ:
		return cpufreq_probe(a);
	default:
		return kopt_errf(a->why, sizeof(a->why), -EINVAL,
				 "unknown kind");
	}
}

int act_get(struct actuator *a, long *value)
{
	char path[PATH_MAX];
	long scale = 1;
	int err;

	switch (a->kind) {
	case ACT_NIC_COALESCE:
		return nic_get_attr(a->target,
				    ethtool_coalesce_attr_parse(a->knob), value,
				    a->why, sizeof(a->why));
	case ACT_SW_COALESCE:
		sw_file(a, path, sizeof(path), &scale);
		err = read_long(path, value);
		if (err)
			return kopt_errf(a->why, sizeof(a->why), err, "%s: %s",
					 path, strerror(-err));
		*value /= scale;
		return 0;
	case ACT_CPUFREQ:
		return cpufreq_cur(a, value);
	default:
		return -EINVAL;
	}
}

bool act_value_ok(const struct actuator *a, long value)
{
	return value >= a->min && value <= a->max &&
	       !(a->step > 1 && (value - a->min) % a->step) &&
	       !(a->skip_why[0] && value >= a->skip_lo && value <= a->skip_hi);
}

int act_set(struct actuator *a, long value)
{
	if (a->skip_why[0] && value >= a->skip_lo && value <= a->skip_hi)
		return kopt_errf(a->why, sizeof(a->why), -ERANGE,
				 "%s %s %s: %ld is not a delay for %s (%s); "
				 "use %ld..%ld without %ld..%ld",
				 act_kind_name(a->kind), a->target, a->knob,
				 value, a->driver, a->skip_why, a->min, a->max,
				 a->skip_lo, a->skip_hi);
	if (!act_value_ok(a, value))
		return kopt_errf(a->why, sizeof(a->why), -ERANGE,
				 "%s %s %s: %ld outside %ld..%ld step %ld",
				 act_kind_name(a->kind), a->target, a->knob,
				 value, a->min, a->max, a->step);
	switch (a->kind) {
	case ACT_NIC_COALESCE:
		return nic_set(a, value);
	case ACT_SW_COALESCE:
		return sw_set(a, value);
	case ACT_CPUFREQ:
		return cpufreq_set_all(a, value);
	default:
		return -EINVAL;
	}
}

void act_range(const struct actuator *a, long *min, long *max, long *step)
{
	*min = a->min;
	*max = a->max;
	*step = a->step;
}

/* A CPU of cpufreq policy N that is online now (libcpupower wants one). */
static int policy_cpu(long policy)
{
	char path[PATH_MAX], line[64];
	long cpu;

	snprintf(path, sizeof(path),
		 CPUFREQ_SYSFS "/cpufreq/policy%ld/"
			       "affected_cpus",
		 policy);
	if (kopt_read_line(path, line, sizeof(line)))
		return -ENODEV;
	line[strcspn(line, " ,-")] = '\0';
	return kopt_parse_long(line, 0, INT_MAX, &cpu) ? -ENODEV : (int)cpu;
}

static int restore_cpufreq(const struct state_entry *e, char *why, size_t len)
{
	long n;
	int err, cpu;

	/* "policyN"; a bare CPU number in journals of older kopt */
	if (!strncmp(e->target, "policy", 6)) {
		if (kopt_parse_long(e->target + 6, 0, INT_MAX, &n))
			return kopt_errf(why, len, -EINVAL, "bad policy '%s'",
					 e->target);
		cpu = policy_cpu(n);
		if (cpu < 0)
			return kopt_errf(why, len, -ENODEV,
					 "no online CPU in cpufreq %s",
					 e->target);
	} else if (!kopt_parse_long(e->target, 0, ACT_MAX_CPUS - 1, &n)) {
		cpu = n;
	} else {
		return kopt_errf(why, len, -EINVAL, "bad cpu '%s'", e->target);
	}
	if (!strcmp(e->knob, "governor"))
		err = cpufreq_modify_policy_governor(cpu,
						     (char *)e->original_str);
	else if (!strcmp(e->knob, "scaling-min-khz"))
		err = cpufreq_modify_policy_min(cpu, e->original);
	else if (!strcmp(e->knob, "scaling-max-khz"))
		err = cpufreq_modify_policy_max(cpu, e->original);
	else
		return kopt_errf(why, len, -EINVAL, "unknown knob");
	if (err)
		return kopt_errf(why, len, -EIO, "libcpupower refused (%d)",
				 err);
	if (e->original_str[0])
		snprintf(why, len, "%s", e->original_str);
	else
		snprintf(why, len, "%lld", e->original);
	return 0;
}

/* What the kernel accepts as an interface name (dev_valid_name()). */
bool act_ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static bool word_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-'))
			return false;
	return true;
}

int act_entry_check(const struct state_entry *e, char *why, size_t len)
{
	unsigned long long ino;
	int attr, end = 0;
	long n;

	if (e->netns[0] && (sscanf(e->netns, "net:[%llu]%n", &ino, &end) != 1 ||
			    e->netns[end]))
		return kopt_errf(why, len, -EINVAL,
				 "netns '%s' is not net:[INODE]", e->netns);
	/* the server-latency probe's receive timestamp filter (hwtstamp.c) */
	if (!strcmp(e->kind, HWTS_STATE_KIND)) {
		if (!act_ifname_ok(e->target))
			return kopt_errf(why, len, -EINVAL,
					 "target '%s' is not an interface name",
					 e->target);
		if (strcmp(e->knob, "rx-filter") || e->original < 0 ||
		    e->original > 255)
			return kopt_errf(why, len, -EINVAL,
					 "%s %s %lld is not a receive filter",
					 e->kind, e->knob, e->original);
		return 0;
	}
	switch (act_kind_parse(e->kind)) {
	case ACT_NIC_COALESCE:
		attr = ethtool_coalesce_attr_parse(e->knob);
		if (!act_ifname_ok(e->target))
			break;
		if (attr != ETHTOOL_A_COALESCE_RX_USECS &&
		    attr != ETHTOOL_A_COALESCE_TX_USECS &&
		    attr != ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX &&
		    attr != ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX)
			return kopt_errf(why, len, -EINVAL,
					 "nic-coalesce knob '%s' is not one "
					 "kopt changes",
					 e->knob);
		if (e->original < 0 || e->original > UINT32_MAX)
			return kopt_errf(why, len, -EINVAL,
					 "original %lld out of range",
					 e->original);
		return 0;
	case ACT_SW_COALESCE:
		if (!act_ifname_ok(e->target))
			break;
		if (strcmp(e->knob, "gro-flush-usecs") &&
		    strcmp(e->knob, "napi-defer-hard-irqs"))
			return kopt_errf(why, len, -EINVAL,
					 "sw-coalesce knob '%s' is not one "
					 "kopt changes",
					 e->knob);
		if (e->original < 0 || e->original > UINT32_MAX)
			return kopt_errf(why, len, -EINVAL,
					 "original %lld out of range",
					 e->original);
		return 0;
	case ACT_CPUFREQ:
		if (kopt_parse_long(strncmp(e->target, "policy", 6) ?
					    e->target :
					    e->target + 6,
				    0, INT_MAX, &n))
			return kopt_errf(why, len, -EINVAL,
					 "cpufreq target '%s' is not policyN",
					 e->target);
		if (!strcmp(e->knob, "governor"))
			return word_ok(e->original_str) ?
				       0 :
				       kopt_errf(why, len, -EINVAL,
						 "governor '%s' is not a "
						 "governor name",
						 e->original_str);
		if (strcmp(e->knob, "scaling-min-khz") &&
		    strcmp(e->knob, "scaling-max-khz"))
			return kopt_errf(why, len, -EINVAL,
					 "cpufreq knob '%s' is not one kopt "
					 "changes",
					 e->knob);
		if (e->original <= 0 || e->original > UINT32_MAX)
			return kopt_errf(why, len, -EINVAL,
					 "original %lld out of range",
					 e->original);
		return 0;
	default:
		return kopt_errf(why, len, -EINVAL, "unknown kind '%s'",
				 e->kind);
	}
	return kopt_errf(why, len, -EINVAL,
			 "target '%s' is not an interface name", e->target);
}

int act_restore_entry(const struct state_entry *e, char *why, size_t len)
{
	struct actuator a = {};
	char ns[STATE_TARGET_LEN], path[PATH_MAX];
	long scale = 1;
	int err, attr;

	err = act_entry_check(e, why, len);
	if (err)
		return err;
	/* not a knob the optimizer turns: the server-latency probe's */
	if (!strcmp(e->kind, HWTS_STATE_KIND))
		return hwts_restore_entry(e, why, len);
	current_netns(ns, sizeof(ns));
	if (e->netns[0] && strcmp(e->netns, ns))
		return kopt_errf(why, len, -EXDEV,
				 "changed in network namespace %s; run `kopt "
				 "restore` inside it",
				 e->netns);
	switch (act_kind_parse(e->kind)) {
	case ACT_NIC_COALESCE:
		attr = ethtool_coalesce_attr_parse(e->knob);
		if (attr < 0)
			return kopt_errf(why, len, -EINVAL, "unknown knob");
		err = ethtool_coalesce_set(e->target, attr, e->original);
		if (err)
			return kopt_errf(why, len, err, "ethtool netlink: %s",
					 strerror(-err));
		break;
	case ACT_SW_COALESCE:
		a.kind = ACT_SW_COALESCE;
		snprintf(a.target, sizeof(a.target), "%s", e->target);
		snprintf(a.knob, sizeof(a.knob), "%s", e->knob);
		if (sw_file(&a, path, sizeof(path), &scale))
			return kopt_errf(why, len, -EINVAL, "unknown knob");
		err = write_long(path, e->original);
		if (err)
			return kopt_errf(why, len, err, "%s: %s", path,
					 strerror(-err));
		break;
	case ACT_CPUFREQ:
		return restore_cpufreq(e, why, len);
	default:
		return kopt_errf(why, len, -EINVAL, "unknown actuator kind");
	}
	snprintf(why, len, "%lld", e->original);
	return 0;
}
