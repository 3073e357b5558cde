// SPDX-License-Identifier: GPL-2.0-only
/*
 * The shadow predictor: runs the live model on every task migration, on a
 * stock kernel, and only counts what it predicts.
 *
 * It attaches to the sched_migrate_task raw BTF tracepoint (tp_btf: no
 * tracefs, no fentry, so it loads under lockdown=integrity), which fires
 * in set_task_cpu() for every migration the kernel decided, from load
 * balancing and from wakeups alike. There it builds the features it can
 * see through CO-RE (the task's PELT averages and sched_entity counters,
 * both runqueues' nr_running and PELT averages, clock_task - exec_start),
 * feeds the model the features its file names, by id, and adds one to
 * per-CPU counters: inferences, positive predictions, events with no model
 * or with no consistent snapshot (include/kopt/mlp_map.h), and inferences
 * whose model wants a feature not computed here, which is then fed 0
 * (see KOPT_MLP_SHADOW_FEATURES): the load-balancing environment that only
 * can_migrate_task() knows (imbalance, idle type, balance failures...),
 * and `throttled`, a bitfield in recent kernels that clang 14 cannot
 * relocate.
 * The decisions are never acted on: this is how anyone can watch a model
 * run in the kernel before trusting it with a struct_ops hook.
 *
 * Two programs, one loaded: mlp_shadow reads both runqueues through the
 * per-CPU `runqueues` symbol; mlp_shadow_task, the fallback for kernels
 * whose verifier cannot resolve per-CPU symbols (no CONFIG_KALLSYMS_ALL,
 * as on this sandbox), reads only the source runqueue, through the task.
 *
 * Cost: one evaluation per migration (`kopt bench mlp` gives the ns for
 * the shape) plus ~40 instructions of feature reads; migrations happen at
 * most a few thousand times a second per CPU.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "mlp.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct shadow_feat {
	__s64 v[KOPT_FEAT_NR];
};

/* Every feature of one event, indexed by enum kopt_feat. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct shadow_feat);
} shadow_feat SEC(".maps");

/* Pinned as mlp_shadow_stats; indexed by enum kopt_mlp_stat. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KOPT_MLP_STAT_NR);
	__type(key, __u32);
	__type(value, __u64);
} shadow_stats SEC(".maps");

extern struct rq runqueues __ksym;

static __always_inline void count(__u32 stat)
{
	__u64 *n = bpf_map_lookup_elem(&shadow_stats, &stat);

	if (n)
		*n += 1;
}

static __always_inline void rq_features(struct shadow_feat *f, struct rq *rq,
					int nr_running, int load_avg,
					int util_avg)
{
	if (!rq)
		return;
	f->v[nr_running] = rq->nr_running;
	f->v[load_avg] = rq->cfs.avg.load_avg;
	f->v[util_avg] = rq->cfs.avg.util_avg;
}

/*
 * The runqueue p is queued on, through its own cfs_rq (group scheduling).
 * Not sched.bpf.h's kopt_task_src_rq(): that one reads with CO-RE probe
 * reads and returns a plain scalar, while rq_features() dereferences the
 * result directly, which the verifier allows only on a BTF pointer.
 */
static __always_inline struct rq *task_rq_of(struct task_struct *p)
{
	struct cfs_rq *cfs_rq;

	if (!bpf_core_field_exists(p->se.cfs_rq) ||
	    !bpf_core_field_exists(struct cfs_rq, rq))
		return NULL;
	cfs_rq = p->se.cfs_rq;
	return cfs_rq ? cfs_rq->rq : NULL;
}

/*
 * Fills every feature this event shows. With per_cpu_rq the runqueues
 * come from the per-CPU `runqueues` symbol (both CPUs); without it, which
 * kernels without CONFIG_KALLSYMS_ALL need (the verifier cannot find a
 * per-CPU variable's address there), the source runqueue comes through
 * the task's own cfs_rq and the destination's features stay 0.
 */
static __always_inline void task_features(struct shadow_feat *f,
					  struct task_struct *p, int dst_cpu,
					  bool per_cpu_rq)
{
	int src_cpu = p->thread_info.cpu;
	struct rq *src, *dst = NULL;

	__builtin_memset(f, 0, sizeof(*f));
	f->v[KOPT_FEAT_PID] = p->pid;
	f->v[KOPT_FEAT_LOAD_AVG] = p->se.avg.load_avg;
	f->v[KOPT_FEAT_UTIL_AVG] = p->se.avg.util_avg;
	f->v[KOPT_FEAT_VRUNTIME] = p->se.vruntime;
	f->v[KOPT_FEAT_NR_MIGRATIONS] = p->se.nr_migrations;
	f->v[KOPT_FEAT_EXEC_START] = p->se.exec_start;
	f->v[KOPT_FEAT_SRC_CPU] = src_cpu;
	f->v[KOPT_FEAT_DST_CPU] = dst_cpu;
	f->v[KOPT_FEAT_TASK_RUNNING] = p->on_cpu ? 1 : 0;
	if (per_cpu_rq) {
		src = bpf_per_cpu_ptr(&runqueues, src_cpu);
		dst = bpf_per_cpu_ptr(&runqueues, dst_cpu);
	} else {
		src = task_rq_of(p);
	}
	rq_features(f, src, KOPT_FEAT_SRC_NR_RUNNING, KOPT_FEAT_SRC_LOAD_AVG,
		    KOPT_FEAT_SRC_UTIL_AVG);
	rq_features(f, dst, KOPT_FEAT_DST_NR_RUNNING, KOPT_FEAT_DST_LOAD_AVG,
		    KOPT_FEAT_DST_UTIL_AVG);
	if (src)
		f->v[KOPT_FEAT_DELTA_NS] =
			(__s64)(src->clock_task - p->se.exec_start);
}

/* One event: features, the live model, the counters. */
static __always_inline int shadow(struct task_struct *p, int dest_cpu,
				  bool per_cpu_rq, __u64 available)
{
	struct kopt_mlp_pred pred = {};
	struct shadow_feat *f;
	__u32 zero = 0;
	int status;

	f = bpf_map_lookup_elem(&shadow_feat, &zero);
	if (!f)
		return 0;
	task_features(f, p, dest_cpu, per_cpu_rq);
	status = kopt_mlp_predict(f->v, 1, &pred);
	if (status == KOPT_MLP_NO_MODEL) {
		count(KOPT_MLP_STAT_NO_MODEL);
		return 0;
	}
	if (status != KOPT_MLP_OK) {
		count(KOPT_MLP_STAT_BUSY);
		return 0;
	}
	count(KOPT_MLP_STAT_INFERENCES);
	if (pred.positive)
		count(KOPT_MLP_STAT_POSITIVES);
	if (pred.feature_mask & ~available)
		count(KOPT_MLP_STAT_MISSING);
	return 0;
}

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(mlp_shadow, struct task_struct *p, int dest_cpu)
{
	return shadow(p, dest_cpu, true, KOPT_MLP_SHADOW_FEATURES);
}

/* The same without per-CPU symbols; the loader's fallback. */
SEC("tp_btf/sched_migrate_task")
int BPF_PROG(mlp_shadow_task, struct task_struct *p, int dest_cpu)
{
	return shadow(p, dest_cpu, false, KOPT_MLP_SHADOW_FEATURES_TASK);
}
