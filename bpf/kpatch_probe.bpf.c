// SPDX-License-Identifier: GPL-2.0-only
/*
 * Probes of the kopt kernel patch for its tests and `make vmbench`; none
 * of this runs in production.
 *
 *   kp_tp + kp_fexit   pair every sched_can_migrate_task tracepoint hit
 *                      with the fexit of the same can_migrate_task() call
 *                      (same CPU, no interleaving: the source rq lock is
 *                      held across both) and count whether the decisions
 *                      agree. kp_fexit alone counts decisions (migrations
 *                      with and without a policy).
 *   kp_entry + kp_exit fentry/fexit timestamps of can_migrate_task(): its
 *                      latency, summed per CPU, for vmbench (the probes'
 *                      own cost is the same on patched and unpatched
 *                      kernels, so differences are the patch's).
 *   kp_kfunc_batch     syscall program: bpf_kopt_mlp_eval() over a batch
 *                      of feature tables, for the kfunc parity test.
 *
 * The loader picks the programs it needs (autoload); kp_tp and
 * kp_kfunc_batch load only on a patched kernel.
 *
 * Cost: kp_entry/kp_exit add two trampolines and two clock reads per call.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "kopt/kpatch_probe.h"

char LICENSE[] SEC("license") = "GPL";

extern int bpf_kopt_mlp_eval(const void *model, __u32 model__sz,
			     const __s64 *feat, __u32 feat__sz,
			     __s32 *logit) __ksym __weak;

/* Only calls for tasks of this tgid count (0: every task). */
const volatile __u32 target_tgid;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KOPT_KP_NR_STATS);
	__type(key, __u32);
	__type(value, __u64);
} kp_stats SEC(".maps");

/* The last tracepoint hit on this CPU, waiting for its fexit. */
struct pending {
	__u32 pid;
	__u32 armed;
	__s32 decision;
	__s32 forced;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pending);
} kp_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} kp_entry_ns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kopt_mlp);
} kp_model SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KOPT_KP_BATCH);
	__type(key, __u32);
	__type(value, struct kopt_kp_feat);
} kp_in SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KOPT_KP_BATCH);
	__type(key, __u32);
	__type(value, struct kopt_kp_out);
} kp_out SEC(".maps");

static __always_inline void add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&kp_stats, &idx);

	if (v)
		*v += n;
}

static __always_inline bool counted(struct task_struct *p)
{
	return !target_tgid || BPF_CORE_READ(p, tgid) == target_tgid;
}

SEC("tp_btf/sched_can_migrate_task")
int BPF_PROG(kp_tp, struct task_struct *p, struct lb_env *env, int src_cpu,
	     int dst_cpu, int idle, unsigned int nr_balance_failed,
	     int decision, int forced)
{
	struct pending *pd;
	__u32 zero = 0;

	pd = bpf_map_lookup_elem(&kp_pending, &zero);
	if (!pd)
		return 0;
	if (pd->armed)
		add(KOPT_KP_UNPAIRED, 1); /* the previous hit had no fexit */
	pd->pid = BPF_CORE_READ(p, pid);
	pd->decision = decision != 0;
	pd->forced = forced != 0;
	pd->armed = 1;
	add(KOPT_KP_TP_CALLS, 1);
	if (forced)
		add(KOPT_KP_TP_FORCED, 1);
	return 0;
}

static __always_inline void pair(struct task_struct *p, int ret)
{
	struct pending *pd;
	__u32 zero = 0;

	pd = bpf_map_lookup_elem(&kp_pending, &zero);
	if (!pd || !pd->armed)
		return;
	pd->armed = 0;
	if (pd->pid != BPF_CORE_READ(p, pid)) {
		add(KOPT_KP_UNPAIRED, 1);
		return;
	}
	add(pd->decision == (ret != 0) ? KOPT_KP_AGREE : KOPT_KP_DISAGREE, 1);
}

SEC("fexit/can_migrate_task")
int BPF_PROG(kp_fexit, struct task_struct *p, struct lb_env *env, int ret)
{
	pair(p, ret);
	if (!counted(p))
		return 0;
	add(KOPT_KP_CALLS, 1);
	if (ret)
		add(KOPT_KP_MIGRATE, 1);
	return 0;
}

SEC("fentry/can_migrate_task")
int BPF_PROG(kp_entry, struct task_struct *p, struct lb_env *env)
{
	__u64 *t;
	__u32 zero = 0;

	t = bpf_map_lookup_elem(&kp_entry_ns, &zero);
	if (t)
		*t = bpf_ktime_get_ns();
	return 0;
}

SEC("fexit/can_migrate_task")
int BPF_PROG(kp_exit, struct task_struct *p, struct lb_env *env, int ret)
{
	__u64 now = bpf_ktime_get_ns(), *t;
	__u32 zero = 0;

	t = bpf_map_lookup_elem(&kp_entry_ns, &zero);
	if (!t || !*t)
		return 0;
	add(KOPT_KP_LAT_NS, now - *t);
	add(KOPT_KP_LAT_CALLS, 1);
	*t = 0;
	return 0;
}

static long eval_one(__u32 i, void *ctx)
{
	struct kopt_kp_feat *in;
	struct kopt_kp_out *out;
	struct kopt_mlp *m;
	__u32 zero = 0;

	m = bpf_map_lookup_elem(&kp_model, &zero);
	in = bpf_map_lookup_elem(&kp_in, &i);
	out = bpf_map_lookup_elem(&kp_out, &i);
	if (!m || !in || !out)
		return 1;
	out->logit = 0;
	out->status = bpf_kopt_mlp_eval(m, sizeof(*m), in->feat,
					sizeof(in->feat), &out->logit);
	return 0;
}

/* ctx: struct kopt_kp_batch; evaluates kp_in[0..count) into kp_out. */
SEC("syscall")
int kp_kfunc_batch(struct kopt_kp_batch *ctx)
{
	__u32 n = ctx->count;

	if (n > KOPT_KP_BATCH)
		n = KOPT_KP_BATCH;
	bpf_loop(n, eval_one, NULL, 0);
	return 0;
}
