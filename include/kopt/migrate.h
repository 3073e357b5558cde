/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * can_migrate_task() records: the ABI between bpf/migrate.bpf.c and the
 * loader. Every attach rung (fexit, the kopt patch's tracepoint, tp_btf
 * sched_migrate_task) fills the same record; `source` and `flags` say
 * which rung produced it and what it could not see.
 *
 * Neutral types only: shared by BPF, kernel and userspace.
 */
#ifndef KOPT_MIGRATE_H
#define KOPT_MIGRATE_H

#ifndef __VMLINUX_H__ /* BPF gets the types from vmlinux.h */
#include <linux/types.h>
#endif

/* Which rung of the attach ladder produced a record. */
enum kopt_mig_source {
	KOPT_MIG_SRC_FEXIT = 1, /* fexit can_migrate_task: every call */
	KOPT_MIG_SRC_PATCH_TP = 2, /* kopt patch tracepoint: every call */
	KOPT_MIG_SRC_TP_BTF = 3, /* sched_migrate_task: migrations only */
};

/* Record flags. */
enum kopt_mig_flags {
	/* only positive decisions are seen (tp_btf rung) */
	KOPT_MIG_F_POSITIVE_ONLY = 1 << 0,
	/* lb_env unseen: sd fields are the destination's base domain */
	KOPT_MIG_F_SD_APPROX = 1 << 1,
	/* the forced flag is exact (kernel patch), not the rule below */
	KOPT_MIG_F_FORCED_EXACT = 1 << 2,
	/* active balance (LBF_ACTIVE_LB): migrated regardless of hotness */
	KOPT_MIG_F_ACTIVE_LB = 1 << 3,
	/* run queues unreachable (no CONFIG_FAIR_GROUP_SCHED): rq fields 0 */
	KOPT_MIG_F_NO_RQ = 1 << 4,
};

/* lb_env idle type, normalized across kernels (the enum was reordered). */
enum kopt_idle_type {
	KOPT_IDLE_NOT_IDLE = 0,
	KOPT_IDLE_IDLE = 1,
	KOPT_IDLE_NEWLY_IDLE = 2,
};

/*
 * LBF_* flags are #defines private to kernel/sched/fair.c (not in BTF);
 * LBF_ACTIVE_LB has been 0x10 from 5.10 through 6.18.
 */
#define KOPT_LBF_ACTIVE_LB 0x10

/* sysctl_sched_migration_cost default (ns) when the kernel hides it. */
#define KOPT_MIGRATION_COST_DEFAULT_NS 500000ULL

/* Ring buffer size for migration records (bytes, power of two). */
#define KOPT_MIG_RINGBUF_BYTES (4U << 20)

struct kopt_mig_event {
	__u64 ts_ns; /* bpf_ktime_get_ns() */
	__s64 delta_ns; /* rq_clock_task(src_rq) - p->se.exec_start */
	__u64 exec_start_ns; /* p->se.exec_start */
	__u64 vruntime; /* p->se.vruntime */
	__u64 nr_migrations; /* p->se.nr_migrations */
	__u64 load_avg; /* p->se.avg.load_avg */
	__u64 util_avg; /* p->se.avg.util_avg */
	__u64 src_load_avg; /* src rq cfs.avg.load_avg */
	__u64 dst_load_avg;
	__u64 src_util_avg; /* src rq cfs.avg.util_avg */
	__u64 dst_util_avg;
	__s64 imbalance; /* env->imbalance (0 on tp_btf) */
	__u32 pid;
	__u32 src_cpu;
	__u32 dst_cpu;
	__u32 src_nr_running;
	__u32 dst_nr_running;
	__u32 nr_balance_failed; /* env->sd->nr_balance_failed */
	__u32 cache_nice_tries; /* env->sd->cache_nice_tries */
	__u8 idle_type; /* enum kopt_idle_type */
	__u8 same_node; /* src and dst on one NUMA node */
	__u8 task_running; /* p is running on src (hard veto) */
	__u8 throttled; /* cfs bandwidth throttled on src or dst */
	__u8 decision; /* can_migrate_task() returned non-zero */
	__u8 hot; /* task_hot() rule: delta < migration cost */
	__u8 forced; /* migrated although hot: see migrate.bpf.c */
	__u8 source; /* enum kopt_mig_source */
	__u32 flags; /* enum kopt_mig_flags */
	__u32 pad;
};

/* Per-CPU counters, summed by userspace. */
enum kopt_mig_stat {
	KOPT_MIG_STAT_CALLS, /* records produced (calls seen) */
	KOPT_MIG_STAT_MIGRATE, /* decision == 1 */
	KOPT_MIG_STAT_FORCED, /* forced == 1 */
	KOPT_MIG_STAT_LOST, /* ring buffer full: record dropped */
	KOPT_MIG_NR_STATS,
};

#endif /* KOPT_MIGRATE_H */
