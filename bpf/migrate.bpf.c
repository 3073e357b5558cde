// SPDX-License-Identifier: GPL-2.0-only
/*
 * can_migrate_task() feature collector.
 *
 * The load balancer calls can_migrate_task(p, env) for every task it
 * considers moving from the busiest CPU to this one. We record, per call,
 * the features of the task, of both run queues and of the balancing
 * domain, and the decision, so userspace can learn which migrations are
 * "forced": the task was cache-hot, but balancing had failed so often that
 * CFS moved it anyway.
 *
 * Attach ladder (the loader picks the highest that loads):
 *  1. fexit/can_migrate_task: every call, with the return value.
 *  2. the kopt patch's sched_can_migrate_task tracepoint (exact forced
 *     flag): added with the kernel patch series.
 *  3. tp_btf/sched_migrate_task: fires in set_task_cpu() for every CPU
 *     change; we keep queued CFS tasks being moved (on_rq ==
 *     TASK_ON_RQ_MIGRATING), i.e. load-balance, affinity and NUMA moves.
 *     Positive decisions only, no lb_env: records are flagged so.
 *
 * The forced-migration label without a patch. can_migrate_task() in
 * 6.1-6.18 ends with:
 *
 *	if (env->flags & LBF_ACTIVE_LB) return 1;
 *	hot = migrate_degrades_locality(p, env);   // NUMA, -1 if n/a
 *	if (hot == -1) hot = task_hot(p, env);
 *	if (hot <= 0 || sd->nr_balance_failed > sd->cache_nice_tries) {
 *		if (hot == 1) schedstat_inc(p->stats.nr_forced_migrations);
 *		return 1;
 *	}
 *
 * and task_hot() is, for a CFS task that is not SCHED_IDLE:
 *   0 if sd has SD_SHARE_CPUCAPACITY (SMT siblings share cache);
 *   1 if the task is the cfs_rq's next buddy and dst has tasks;
 *   1 if sysctl_sched_migration_cost == -1, 0 if it is 0;
 *   1 if the core-scheduling cookie does not match;
 *   else rq_clock_task(src_rq) - p->se.exec_start < migration_cost.
 *
 * We label forced = decision && !active_lb && hot && nr_balance_failed >
 * cache_nice_tries, with hot = the SMT, SCHED_IDLE and delta rules. What
 * the rule cannot see: NUMA locality (migrate_degrades_locality, which
 * overrides task_hot on NUMA machines with NUMA balancing on), the next
 * buddy, core-scheduling cookies; and sysctl_sched_migration_cost, which
 * the kernel hides in debugfs, is passed in by the loader (default 500 us
 * when unreadable). The kernel patch's tracepoint carries the exact flag.
 *
 * Cost: one ring-buffer record (~140 bytes) and a dozen CO-RE reads per
 * call; `kopt bench collector` measures it.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "kopt/migrate.h"
#include "sched.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define MAX_CPUS 1024
#define TASK_ON_RQ_MIGRATING 2 /* kernel/sched/sched.h, stable since 4.x */
#define SCHED_IDLE_POLICY 5

/* SCHED_NORMAL, SCHED_BATCH, SCHED_IDLE: the policies CFS balances */
static __always_inline bool fair_policy(unsigned int policy)
{
	return policy == 0 || policy == 3 || policy == SCHED_IDLE_POLICY;
}

/* Set by the loader before load. */
const volatile __u64 migration_cost_ns = KOPT_MIGRATION_COST_DEFAULT_NS;
const volatile __u8 cpu_node[MAX_CPUS];

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, KOPT_MIG_RINGBUF_BYTES);
} mig_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KOPT_MIG_NR_STATS);
	__type(key, __u32);
	__type(value, __u64);
} mig_stats SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&mig_stats, &idx);

	if (v)
		*v += 1;
}

static __always_inline int cfs_throttled(struct cfs_rq *cfs)
{
	if (!cfs || !bpf_core_field_exists(cfs->throttle_count))
		return 0;
	return BPF_CORE_READ(cfs, throttle_count) > 0;
}

/* throttled_lb_pair(): src or dst cfs_rq of p's group throttled. */
static __always_inline __u8 throttled_pair(struct task_struct *p, int dst)
{
	if (!bpf_core_field_exists(p->se.cfs_rq))
		return 0;
	return cfs_throttled(BPF_CORE_READ(p, se.cfs_rq)) ||
	       cfs_throttled(kopt_task_cfs_rq_on(p, dst));
}

static __always_inline void fill_task(struct kopt_mig_event *e,
				      struct task_struct *p)
{
	e->pid = BPF_CORE_READ(p, pid);
	e->exec_start_ns = BPF_CORE_READ(p, se.exec_start);
	e->vruntime = BPF_CORE_READ(p, se.vruntime);
	e->nr_migrations = BPF_CORE_READ(p, se.nr_migrations);
	e->load_avg = BPF_CORE_READ(p, se.avg.load_avg);
	e->util_avg = BPF_CORE_READ(p, se.avg.util_avg);
	e->task_running = BPF_CORE_READ(p, on_cpu) != 0;
}

static __always_inline void fill_rqs(struct kopt_mig_event *e, struct rq *src,
				     struct rq *dst)
{
	e->src_nr_running = BPF_CORE_READ(src, nr_running);
	e->dst_nr_running = BPF_CORE_READ(dst, nr_running);
	e->src_load_avg = BPF_CORE_READ(src, cfs.avg.load_avg);
	e->dst_load_avg = BPF_CORE_READ(dst, cfs.avg.load_avg);
	e->src_util_avg = BPF_CORE_READ(src, cfs.avg.util_avg);
	e->dst_util_avg = BPF_CORE_READ(dst, cfs.avg.util_avg);
	e->delta_ns =
		(__s64)(BPF_CORE_READ(src, clock_task) - e->exec_start_ns);
	e->same_node = cpu_node[e->src_cpu & (MAX_CPUS - 1)] ==
		       cpu_node[e->dst_cpu & (MAX_CPUS - 1)];
}

/* task_hot()'s rules that a BPF program can see (see the top comment). */
static __always_inline __u8 task_hot(struct task_struct *p,
				     struct sched_domain *sd, __s64 delta)
{
	if (BPF_CORE_READ(p, policy) == SCHED_IDLE_POLICY)
		return 0;
	if (sd && (BPF_CORE_READ(sd, flags) & SD_SHARE_CPUCAPACITY))
		return 0;
	if (migration_cost_ns == 0)
		return 0;
	return delta < (__s64)migration_cost_ns;
}

static __always_inline void label(struct kopt_mig_event *e)
{
	e->forced = e->decision && !(e->flags & KOPT_MIG_F_ACTIVE_LB) &&
		    e->hot && e->nr_balance_failed > e->cache_nice_tries;
}

static __always_inline void submit(struct kopt_mig_event *e)
{
	stat_inc(KOPT_MIG_STAT_CALLS);
	if (e->decision)
		stat_inc(KOPT_MIG_STAT_MIGRATE);
	if (e->forced)
		stat_inc(KOPT_MIG_STAT_FORCED);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline struct kopt_mig_event *reserve(void)
{
	struct kopt_mig_event *e;

	e = bpf_ringbuf_reserve(&mig_events, sizeof(*e), 0);
	if (!e) {
		stat_inc(KOPT_MIG_STAT_LOST);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	return e;
}

SEC("fexit/can_migrate_task")
int BPF_PROG(mig_fexit, struct task_struct *p, struct lb_env *env, int ret)
{
	struct sched_domain *sd = BPF_CORE_READ(env, sd);
	struct kopt_mig_event *e = reserve();

	if (!e)
		return 0;
	fill_task(e, p);
	e->src_cpu = BPF_CORE_READ(env, src_cpu);
	e->dst_cpu = BPF_CORE_READ(env, dst_cpu);
	fill_rqs(e, BPF_CORE_READ(env, src_rq), BPF_CORE_READ(env, dst_rq));
	e->imbalance = BPF_CORE_READ(env, imbalance);
	e->idle_type = kopt_idle_type(BPF_CORE_READ(env, idle));
	e->nr_balance_failed = BPF_CORE_READ(sd, nr_balance_failed);
	e->cache_nice_tries = BPF_CORE_READ(sd, cache_nice_tries);
	e->throttled = throttled_pair(p, e->dst_cpu);
	if (BPF_CORE_READ(env, flags) & KOPT_LBF_ACTIVE_LB)
		e->flags |= KOPT_MIG_F_ACTIVE_LB;
	e->decision = ret != 0;
	e->hot = task_hot(p, sd, e->delta_ns);
	e->source = KOPT_MIG_SRC_FEXIT;
	label(e);
	submit(e);
	return 0;
}

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(mig_tp_btf, struct task_struct *p, int dest_cpu)
{
	struct kopt_mig_event *e;
	struct rq *src, *dst;
	struct sched_domain *sd;
	int src_cpu;

	/* queued tasks being moved (not wakeup placement) of CFS policies */
	if (BPF_CORE_READ(p, on_rq) != TASK_ON_RQ_MIGRATING)
		return 0;
	if (!fair_policy(BPF_CORE_READ(p, policy)))
		return 0;
	src_cpu = BPF_CORE_READ(p, thread_info.cpu);
	src = kopt_task_src_rq(p);
	dst = kopt_task_dst_rq(p, dest_cpu);
	e = reserve();
	if (!e)
		return 0;
	fill_task(e, p);
	e->src_cpu = src_cpu;
	e->dst_cpu = dest_cpu;
	if (src && dst)
		fill_rqs(e, src, dst);
	else
		e->flags |= KOPT_MIG_F_NO_RQ;
	sd = dst ? BPF_CORE_READ(dst, sd) : NULL;
	if (sd) {
		e->nr_balance_failed = BPF_CORE_READ(sd, nr_balance_failed);
		e->cache_nice_tries = BPF_CORE_READ(sd, cache_nice_tries);
	}
	e->throttled = throttled_pair(p, dest_cpu);
	e->decision = 1;
	e->hot = src ? task_hot(p, sd, e->delta_ns) : 0; /* unknown: not hot */
	e->source = KOPT_MIG_SRC_TP_BTF;
	e->flags |= KOPT_MIG_F_POSITIVE_ONLY | KOPT_MIG_F_SD_APPROX;
	label(e);
	submit(e);
	return 0;
}
