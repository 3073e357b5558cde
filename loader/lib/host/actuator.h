/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Actuators: the knobs the energy controller turns, behind one interface
 * (probe, get, set, range, restore). Every set is validated against the
 * range, journaled (state.h) before the first write, written, and read
 * back; a read-back that differs is an error.
 *
 * Kinds:
 *   nic-coalesce  NIC interrupt coalescing (rx-usecs, tx-usecs) through
 *                 ethtool netlink; adaptive coalescing is turned off while
 *                 kopt holds the NIC and restored after.
 *   sw-coalesce   software coalescing for NICs without it:
 *                 napi_defer_hard_irqs and gro_flush_timeout (sysfs).
 *   cpufreq       CPU frequency through libcpupower: the userspace
 *                 governor and setspeed, else min = max limits. Journaled
 *                 per cpufreq policy (CPUs sharing one share its limits).
 *
 * Userspace only.
 */
#ifndef KOPT_LOADER_ACTUATOR_H
#define KOPT_LOADER_ACTUATOR_H

#include <stdbool.h>
#include <stddef.h>

#include "state.h"

#define ACT_WHY_LEN 256
#define ACT_MAX_CPUS 256

enum act_kind { ACT_NIC_COALESCE, ACT_SW_COALESCE, ACT_CPUFREQ, ACT_NR };

struct actuator {
	enum act_kind kind;
	char target[STATE_TARGET_LEN]; /* interface, or cpu list "0-3" */
	char knob[STATE_KNOB_LEN]; /* rx-usecs | tx-usecs |
				    * gro-flush-timeout | napi-defer-hard-irqs
				    * | freq-khz */
	int cpus[ACT_MAX_CPUS]; /* cpufreq: the CPUs driven */
	int nr_cpus;
	int policy[ACT_MAX_CPUS]; /* cpufreq: their policies (policyN) */
	int policy_cpu[ACT_MAX_CPUS]; /* a requested CPU of each policy */
	int nr_policies;
	long min, max, step; /* valid values (set by probe) */
	/* values in min..max the driver does not read as a delay: skipped */
	long skip_lo, skip_hi;
	char skip_why[128]; /* "" when nothing is skipped */
	char driver[32]; /* nic-coalesce: the interface's driver */
	char why[ACT_WHY_LEN]; /* last error, with the reason */
};

/* "nic-coalesce" etc.; ACT_NR if unknown. */
const char *act_kind_name(enum act_kind kind);
enum act_kind act_kind_parse(const char *name);

/*
 * Fills a for kind/target/knob and checks the knob exists and is
 * writable on this host; 0, or -errno with a->why saying what is missing
 * and why (e.g. "no cpufreq driver: /sys/devices/system/cpu/cpu0/cpufreq
 * absent").
 */
int act_probe(struct actuator *a, enum act_kind kind, const char *target,
	      const char *knob);
int act_get(struct actuator *a, long *value);
/* Validates, journals the original, writes and reads back. */
int act_set(struct actuator *a, long value);
void act_range(const struct actuator *a, long *min, long *max, long *step);
/* value is in the range and not one the driver reads as a mode. */
bool act_value_ok(const struct actuator *a, long value);
/*
 * rx/tx-usecs values `driver` reads as modes or refuses: lo..hi and why;
 * -ENOENT if it reads every value in range as a delay.
 */
int act_coalesce_special(const char *driver, const char *knob, long *lo,
			 long *hi, const char **why);

/*
 * Applies a journaled original value (used by state_restore); refuses an
 * entry act_entry_check() refuses.
 */
int act_restore_entry(const struct state_entry *e, char *why, size_t len);
/*
 * Whether a journal entry of an actuator kind is one kopt could have
 * written: a known kind and knob, an interface name the kernel would
 * accept (no '/': the name goes into a sysfs path), "policyN" for
 * cpufreq, an original in range. 0, or -EINVAL with why.
 */
int act_entry_check(const struct state_entry *e, char *why, size_t len);
/* A name the kernel would accept for an interface (no '/', ':', space). */
bool act_ifname_ok(const char *name);
/*
 * The cpufreq policy (N of policyN) that CPU belongs to, read from
 * cpu_dir/cpuCPU/cpufreq (/sys/devices/system/cpu on a host); -ENOENT
 * without cpufreq.
 */
int act_cpu_policy(const char *cpu_dir, int cpu);

#endif /* KOPT_LOADER_ACTUATOR_H */
