/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The features of a load-balancing decision (a can_migrate_task() call or a
 * task migration) that the migration collector records and that a model
 * may take as inputs, by stable id and snake_case name.
 *
 * One list, KOPT_FEATURES(X), generates both the enum and any name table,
 * so the collector (bpf/migrate.bpf.c), the model files (optimizer/model.c)
 * and the shadow predictor (bpf/mlp_shadow.bpf.c) cannot drift apart. Ids
 * are stored in model maps and datasets: append new features at the end,
 * never reorder or remove one.
 *
 * Values are raw kernel integers in the kernel's own units (ns, PELT
 * averages, counts, 0/1 flags); a model folds each feature's mean and
 * scale into its first layer, so nothing here is normalized.
 *
 * Shared by BPF, the kernel patch and userspace: no libc, kernel types.
 */
#ifndef KOPT_FEATURES_H
#define KOPT_FEATURES_H

/* Longest feature name, NUL included (the .kmlp name field). */
#define KOPT_FEAT_NAME_LEN 32

/* X(ID, name): one line per feature, in id order. */
#define KOPT_FEATURES(X)                                                    \
	X(PID, pid) /* task pid (identifies, rarely predicts) */            \
	X(LOAD_AVG, load_avg) /* p->se.avg.load_avg */                      \
	X(UTIL_AVG, util_avg) /* p->se.avg.util_avg */                      \
	X(VRUNTIME, vruntime) /* p->se.vruntime, ns */                      \
	X(NR_MIGRATIONS, nr_migrations) /* p->se.nr_migrations */           \
	X(EXEC_START, exec_start) /* p->se.exec_start, ns */                \
	X(DELTA_NS, delta_ns) /* rq_clock_task(src) - exec_start, ns */     \
	X(SRC_NR_RUNNING, src_nr_running) /* source rq nr_running */        \
	X(DST_NR_RUNNING, dst_nr_running) /* destination rq nr_running */   \
	X(SRC_LOAD_AVG, src_load_avg) /* source rq cfs.avg.load_avg */      \
	X(DST_LOAD_AVG, dst_load_avg) /* destination rq cfs.avg.load_avg */ \
	X(SRC_UTIL_AVG, src_util_avg) /* source rq cfs.avg.util_avg */      \
	X(DST_UTIL_AVG, dst_util_avg) /* destination rq cfs.avg.util_avg */ \
	X(IMBALANCE, imbalance) /* env->imbalance */                        \
	X(IDLE_TYPE, idle_type) /* env->idle (enum cpu_idle_type) */        \
	X(NR_BALANCE_FAILED, nr_balance_failed) /* sd->nr_balance_failed */ \
	X(CACHE_NICE_TRIES, cache_nice_tries) /* sd->cache_nice_tries */    \
	X(SRC_CPU, src_cpu) /* source cpu */                                \
	X(DST_CPU, dst_cpu) /* destination cpu */                           \
	X(SAME_NODE, same_node) /* 1 if src and dst share a NUMA node */    \
	X(TASK_RUNNING, task_running) /* 1 if p is running on src */        \
	X(THROTTLED, throttled) /* 1 if p's cfs_rq is throttled */          \
	X(PREFER_SIBLING, prefer_sibling) /* sd SD_PREFER_SIBLING child */

#define KOPT_FEAT_ENUM_ENTRY(id, name) KOPT_FEAT_##id,
enum kopt_feat { KOPT_FEATURES(KOPT_FEAT_ENUM_ENTRY) KOPT_FEAT_NR };
#undef KOPT_FEAT_ENUM_ENTRY

/*
 * For a name table: static const char *const names[KOPT_FEAT_NR] = {
 * KOPT_FEATURES(KOPT_FEAT_NAME_ENTRY) };
 */
#define KOPT_FEAT_NAME_ENTRY(id, name) [KOPT_FEAT_##id] = #name,

/* Models carry a bit mask of the features they read (see mlp_fixed.h). */
#define KOPT_FEAT_BIT(id) (1ULL << (id))

#endif /* KOPT_FEATURES_H */
