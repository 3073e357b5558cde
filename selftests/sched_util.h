/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers for the scheduler tests that run in the 6.12 guest.
 */
#ifndef KOPT_SELFTESTS_SCHED_UTIL_H
#define KOPT_SELFTESTS_SCHED_UTIL_H

#define MIGRATION_COST "/sys/kernel/debug/sched/migration_cost_ns"
/* Every task looks cache hot to CFS: the guest's init mounts debugfs. */
#define HOT_COST_NS 100000000L

/* Sets sysctl_sched_migration_cost; returns the old value or -1. */
long set_migration_cost(long ns);

#endif /* KOPT_SELFTESTS_SCHED_UTIL_H */
