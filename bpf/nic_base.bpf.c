// SPDX-License-Identifier: GPL-2.0-only
/*
 * Baselines for `kopt bench collector`: one empty program on each
 * tracepoint bpf/nic.bpf.c uses.
 *
 * Why: BPF run-time statistics (run_time_ns / run_cnt) include the cost
 * of invoking a program at all (the clock reads around it, a cold
 * instruction cache on rare events such as interrupts in a VM). Attached
 * next to the collector in the same run, these give that floor, so the
 * benchmark can report what the collector's own code adds. And a clock
 * read alone (base_clock_reads, through BPF_PROG_TEST_RUN against
 * base_xdp_empty): every timed collector event reads the clock once.
 *
 * Cost: one call of an empty program per event while the benchmark runs;
 * never loaded by the collector itself.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

#define BASE_CLOCK_READS 16 /* loader/tools/bench_collector.c divides by it */

SEC("tp_btf/irq_handler_entry")
int BPF_PROG(base_irq_entry, int irq, struct irqaction *action)
{
	return 0;
}

SEC("tp_btf/irq_handler_exit")
int BPF_PROG(base_irq_exit, int irq, struct irqaction *action, int ret)
{
	return 0;
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(base_rx, struct sk_buff *skb)
{
	return 0;
}

SEC("tp_btf/net_dev_xmit")
int BPF_PROG(base_tx, struct sk_buff *skb, int rc, struct net_device *dev,
	     unsigned int skb_len)
{
	return 0;
}

SEC("tp_btf/napi_poll")
int BPF_PROG(base_napi, struct napi_struct *napi, int work, int budget)
{
	return 0;
}

SEC("tp_btf/cpu_idle")
int BPF_PROG(base_cpu_idle, unsigned int state, unsigned int cpu_id)
{
	return 0;
}

__u64 clock_sink; /* keeps the reads from being optimized away */

SEC("xdp")
int base_clock_reads(struct xdp_md *ctx)
{
	__u64 sum = 0;
	int i;

	for (i = 0; i < BASE_CLOCK_READS; i++)
		sum += bpf_ktime_get_ns();
	clock_sink = sum;
	return XDP_PASS;
}

SEC("xdp")
int base_xdp_empty(struct xdp_md *ctx)
{
	return XDP_PASS;
}
