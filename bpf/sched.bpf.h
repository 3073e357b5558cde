/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * BPF-only helpers shared by the scheduler programs (migrate, sched_lb,
 * mlp_shadow): the lb_env idle type normalized across kernels, and a
 * task's run queues reached without the `runqueues` per-CPU ksym.
 */
#ifndef KOPT_BPF_SCHED_BPF_H
#define KOPT_BPF_SCHED_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "kopt/migrate.h"

#define KOPT_SCHED_MAX_CPUS 1024

/* enum cpu_idle_type was reordered in 6.x: compare by CO-RE value. */
static __always_inline __u8 kopt_idle_type(enum cpu_idle_type idle)
{
	if (idle == bpf_core_enum_value(enum cpu_idle_type, CPU_IDLE))
		return KOPT_IDLE_IDLE;
	if (idle == bpf_core_enum_value(enum cpu_idle_type, CPU_NEWLY_IDLE))
		return KOPT_IDLE_NEWLY_IDLE;
	return KOPT_IDLE_NOT_IDLE;
}

/*
 * The run queues of a task, without the `runqueues` per-CPU ksym (kernels
 * without CONFIG_KALLSYMS_ALL cannot resolve it): the task's cfs_rq points
 * at the rq it is queued on (still the source when sched_migrate_task
 * fires), and its group's per-CPU cfs_rq array gives any other CPU's.
 * Needs CONFIG_FAIR_GROUP_SCHED; without it both are NULL.
 */
static __always_inline struct rq *kopt_cfs_rq_rq(struct cfs_rq *cfs)
{
	if (!cfs || !bpf_core_field_exists(cfs->rq))
		return NULL;
	return BPF_CORE_READ(cfs, rq);
}

static __always_inline struct rq *kopt_task_src_rq(struct task_struct *p)
{
	if (!bpf_core_field_exists(p->se.cfs_rq))
		return NULL;
	return kopt_cfs_rq_rq(BPF_CORE_READ(p, se.cfs_rq));
}

/* p's group's cfs_rq on cpu (NULL without group scheduling). */
static __always_inline struct cfs_rq *kopt_task_cfs_rq_on(struct task_struct *p,
							  int cpu)
{
	struct cfs_rq **rqs, *cfs = NULL;
	struct task_group *tg;

	if (!bpf_core_field_exists(p->sched_task_group))
		return NULL;
	tg = BPF_CORE_READ(p, sched_task_group);
	rqs = tg ? BPF_CORE_READ(tg, cfs_rq) : NULL;
	if (!rqs)
		return NULL;
	bpf_probe_read_kernel(&cfs, sizeof(cfs),
			      &rqs[cpu & (KOPT_SCHED_MAX_CPUS - 1)]);
	return cfs;
}

static __always_inline struct rq *kopt_task_dst_rq(struct task_struct *p,
						   int dst)
{
	return kopt_cfs_rq_rq(kopt_task_cfs_rq_on(p, dst));
}

#endif /* KOPT_BPF_SCHED_BPF_H */
