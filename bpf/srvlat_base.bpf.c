// SPDX-License-Identifier: GPL-2.0-only
/*
 * Baselines for `kopt bench srvlat`: one empty program on each tracepoint
 * bpf/srvlat.bpf.c uses, attached beside it in the same run, so the
 * benchmark reports what the probe's own code costs per event net of
 * invoking a program at all (the run-time statistics' clock reads, cold
 * caches).
 *
 * Cost: one call of an empty program per event while the benchmark runs;
 * never loaded by the probe itself.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/tcp_probe")
int BPF_PROG(base_in, struct sock *sk, const struct sk_buff *skb)
{
	return 0;
}

SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(base_out, const struct sk_buff *skb, const struct net_device *dev)
{
	return 0;
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(base_rx, struct sk_buff *skb)
{
	return 0;
}

SEC("tp_btf/napi_gro_receive_entry")
int BPF_PROG(base_gro, const struct sk_buff *skb)
{
	return 0;
}
