// SPDX-License-Identifier: GPL-2.0-only
/*
 * Feature probes for `kopt probe`.
 *
 * Each program here is the smallest program of one kind that kopt relies
 * on. The loader loads them one at a time (all others set to not autoload)
 * and attaches them, so every feature is found by trying, and a refusal
 * carries the kernel's own errno. Nothing here does work: each returns
 * at once, so a probe costs one load and one attach.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tracepoint/sched/sched_switch")
int probe_tracepoint(void *ctx)
{
	return 0;
}

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(probe_tp_btf, struct task_struct *p, int dest_cpu)
{
	return 0;
}

SEC("fexit/can_migrate_task")
int BPF_PROG(probe_fexit, struct task_struct *p, void *env, int ret)
{
	return 0;
}

SEC("kprobe/can_migrate_task")
int probe_kprobe(struct pt_regs *ctx)
{
	return 0;
}

SEC("xdp")
int probe_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}
