// SPDX-License-Identifier: GPL-2.0-only
/*
 * Rung 2 of the can_migrate_task() collector: the kopt kernel patch's
 * sched_can_migrate_task tracepoint (kernel-patches/0001-*).
 *
 * The tracepoint fires once per can_migrate_task() call, after any
 * sched_lb_ops policy has had its say, with the lb_env, the decision and
 * the exact forced flag: the task was cache hot and was migrated only
 * because balancing failed more than cache_nice_tries times (what
 * p->sched_task_hot records for nr_forced_migrations). So a record here is
 * a fexit record whose `forced` is exact (KOPT_MIG_F_FORCED_EXACT) rather
 * than the patch-free rule of migrate.bpf.c.
 *
 * The rule's label is still computed for every record (hot, flags and the
 * sd fields are filled exactly as on the fexit rung) and compared with the
 * exact flag in mig_tp_agree, so the collector can report how far the
 * patch-free rule can be trusted on kernels without the patch.
 *
 * This file includes migrate.bpf.c for its maps and helpers instead of
 * copying them: the two rungs must fill records identically. The loader
 * loads only mig_patch_tp from this object and points its maps at the
 * ones of the migrate.bpf.c skeleton. Kept apart so that migrate.bpf.c
 * stays exactly what runs on unpatched kernels. BPF_PROG below declares
 * the tracepoint's arguments, so the host's vmlinux.h (which lacks the
 * tracepoint) is enough to build it; the kernel checks them against its
 * own BTF when the program loads.
 *
 * Cost: as the fexit rung (one ring-buffer record and a dozen CO-RE reads
 * per call) plus one per-CPU counter; nothing when not attached.
 */
#include "migrate.bpf.c"

#include "kopt/sched_lb.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KOPT_MIG_AGREE_NR);
	__type(key, __u32);
	__type(value, __u64);
} mig_tp_agree SEC(".maps");

static __always_inline void agree_inc(__u8 exact, __u8 rule)
{
	__u32 idx = exact ? (rule ? KOPT_MIG_AGREE_BOTH :
				    KOPT_MIG_AGREE_EXACT_ONLY) :
			    (rule ? KOPT_MIG_AGREE_RULE_ONLY :
				    KOPT_MIG_AGREE_NEITHER);
	__u64 *v = bpf_map_lookup_elem(&mig_tp_agree, &idx);

	if (v)
		*v += 1;
}

SEC("tp_btf/sched_can_migrate_task")
int BPF_PROG(mig_patch_tp, struct task_struct *p, struct lb_env *env,
	     int src_cpu, int dst_cpu, int idle, unsigned int nr_balance_failed,
	     int decision, int forced)
{
	struct sched_domain *sd = BPF_CORE_READ(env, sd);
	struct kopt_mig_event *e = reserve();

	if (!e)
		return 0;
	fill_task(e, p);
	e->src_cpu = src_cpu;
	e->dst_cpu = dst_cpu;
	fill_rqs(e, BPF_CORE_READ(env, src_rq), BPF_CORE_READ(env, dst_rq));
	e->imbalance = BPF_CORE_READ(env, imbalance);
	e->idle_type = kopt_idle_type(idle);
	e->nr_balance_failed = nr_balance_failed;
	e->cache_nice_tries = BPF_CORE_READ(sd, cache_nice_tries);
	e->throttled = throttled_pair(p, dst_cpu);
	if (BPF_CORE_READ(env, flags) & KOPT_LBF_ACTIVE_LB)
		e->flags |= KOPT_MIG_F_ACTIVE_LB;
	e->decision = decision != 0;
	e->hot = task_hot(p, sd, e->delta_ns);
	e->source = KOPT_MIG_SRC_PATCH_TP;
	label(e); /* the rule, for the agreement count */
	agree_inc(forced != 0, e->forced);
	e->forced = forced != 0;
	e->flags |= KOPT_MIG_F_FORCED_EXACT;
	submit(e);
	return 0;
}
