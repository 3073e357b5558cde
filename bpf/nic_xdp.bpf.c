// SPDX-License-Identifier: GPL-2.0-only
/*
 * XDP packet counter: per-RX-queue packets and bytes at the driver's
 * receive hook, before the stack (GRO, drops, filters) sees them.
 *
 * What: every frame adds to per-CPU, per-queue counts (nic_xdp_queues),
 * to the window totals shared with bpf/nic.bpf.c, and, when per-interrupt
 * records are on, to its queue's counters. A frame carrying TCP or UDP
 * payload also counts as a data packet: the request-rate (QPS) estimate
 * that pure ACKs would inflate. Always XDP_PASS.
 *
 * Why: tracepoints after the driver see skbs, which GRO may have merged;
 * XDP sees each frame once, exactly, on native and generic paths. It is
 * attached with libxdp (run priority below) so it chains with other XDP
 * programs through libxdp's dispatcher where the kernel allows it.
 *
 * Cost: one per-CPU map update, a bounded header parse (Ethernet, one
 * VLAN tag, IPv4/IPv6, TCP/UDP) and, with records, atomic adds on the
 * queue's counters. nic_xdp_empty is the baseline `kopt bench collector`
 * measures in the same BPF_PROG_TEST_RUN run; the loader never attaches
 * it.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <xdp/xdp_helpers.h>

#include "nic.bpf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile bool track_queues = false;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NIC_MAX_QUEUES);
	__type(key, __u32);
	__type(value, struct nic_xdp_count);
} nic_xdp_queues SEC(".maps");

/* Counters first: they must see frames later programs may drop. */
struct {
	__uint(priority, NIC_XDP_RUN_PRIO);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(nic_xdp_count);

struct l3_info {
	__u32 proto; /* IPPROTO_* */
	__u32 len; /* L3 packet length (header + payload) */
	__u32 hdr; /* L3 header length */
};

static __always_inline bool parse_l3(void *data, void *end, __u32 *off,
				     struct l3_info *l3)
{
	struct ethhdr *eth = data;
	__u16 proto;

	if ((void *)(eth + 1) > end)
		return false;
	proto = eth->h_proto;
	*off = sizeof(*eth);
	if (proto == bpf_htons(NIC_ETH_P_8021Q) ||
	    proto == bpf_htons(NIC_ETH_P_8021AD)) {
		struct vlan_hdr *vh = data + *off;

		if ((void *)(vh + 1) > end)
			return false;
		proto = vh->h_vlan_encapsulated_proto;
		*off += sizeof(*vh);
	}
	if (proto == bpf_htons(NIC_ETH_P_IP)) {
		struct iphdr *ip = data + *off;

		if ((void *)(ip + 1) > end)
			return false;
		l3->proto = ip->protocol;
		l3->len = bpf_ntohs(ip->tot_len);
		l3->hdr = ip->ihl * 4;
		return l3->hdr >= sizeof(*ip);
	}
	if (proto == bpf_htons(NIC_ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + *off;

		if ((void *)(ip6 + 1) > end)
			return false;
		/* extension headers are not followed: counted as no data */
		l3->proto = ip6->nexthdr;
		l3->len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
		l3->hdr = sizeof(*ip6);
		return true;
	}
	return false;
}

/* True for a TCP segment or UDP datagram that carries payload. */
static __always_inline bool carries_payload(void *data, void *end)
{
	struct l3_info l3 = {};
	struct tcphdr *th;
	__u32 off;

	if (!parse_l3(data, end, &off, &l3))
		return false;
	if (l3.proto == IPPROTO_UDP)
		return l3.len > l3.hdr + sizeof(struct udphdr);
	if (l3.proto != IPPROTO_TCP)
		return false;
	/* bound the variable offset for the verifier: ihl*4 <= 60 */
	th = data + off + (l3.hdr & NIC_IP_HDR_MAX);
	if ((void *)(th + 1) > end)
		return false;
	return l3.len > l3.hdr + th->doff * 4;
}

SEC("xdp")
int nic_xdp_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 queue = nic_queue_clamp(ctx->rx_queue_index);
	bool payload = carries_payload(data, end);
	__u64 len = end - data;
	struct nic_xdp_count *xq;
	struct nic_queue_acc *acc;
	struct nic_percpu *pc;

	pc = nic_percpu_get();
	if (pc) {
		pc->stats.v[NIC_STAT_XDP_PKTS]++;
		pc->stats.v[NIC_STAT_XDP_BYTES] += len;
		pc->stats.v[NIC_STAT_XDP_DATA_PKTS] += payload;
	}
	xq = bpf_map_lookup_elem(&nic_xdp_queues, &queue);
	if (xq) {
		xq->pkts++;
		xq->bytes += len;
		xq->data_pkts += payload;
	}
	if (!track_queues)
		return XDP_PASS;
	acc = nic_queue_get(queue);
	if (acc) {
		acc->xdp_pkts++;
		acc->xdp_bytes += len;
	}
	return XDP_PASS;
}

/* Baseline for the benchmark: the cheapest XDP program there is. */
SEC("xdp")
int nic_xdp_empty(struct xdp_md *ctx)
{
	return XDP_PASS;
}
