// SPDX-License-Identifier: GPL-2.0-only
/*
 * Server-side request latency of a TCP service, from live traffic.
 *
 * What: for the service's local TCP ports (.rodata), per connection, the
 * time from a request's arrival to the first byte of its response leaving
 * the host, into a per-CPU log-linear histogram (include/kopt/srvlat.h)
 * the control loop reads once per window, with the request count.
 *
 * Matching, for request-response protocols (memcached, HTTP/1, Redis,
 * most RPC): an inbound data segment on a connection starts a request if
 * none is pending; the next outbound data segment on that connection
 * ends it. Per connection state lives in socket storage (freed with the
 * socket). Only timing and payload lengths are used, so TLS is fine.
 *
 * Where this is wrong:
 *   - pipelining / several requests in flight on one connection: the
 *     first response ends the first request; the requests behind it are
 *     not measured (counted in SRVLAT_STAT_CONT, with request segments
 *     continuing a pending one);
 *   - streaming or server push (data out without a request, requests
 *     without a response): a response without a pending request is not
 *     counted; a request never answered stays pending until the
 *     connection's next response, which then looks slow;
 *   - a request split into segments the server answers before the last
 *     one arrives (rare) is timed from its first segment, as it should be.
 *
 * Arrival time, best first (enum srvlat_src; the loader says which ran):
 *   hw     the NIC's hardware receive timestamp (skb_hwtstamps), when
 *          the loader enabled hardware timestamping and relates the
 *          NIC's clock to CLOCK_MONOTONIC (struct srvlat_clock). It
 *          includes the interrupt-coalescing delay, the cost ITR trades.
 *   ring   veth: the peer's transmit (net:net_dev_start_xmit on the peer),
 *          the moment the segment entered our device's receive ring;
 *          it includes the software coalescing delay (deferred NAPI)
 *          the way a hardware stamp includes the NIC's.
 *   dev    the driver handing the packet to the stack
 *          (napi:napi_gro_receive_entry, net:netif_receive_skb): after
 *          the interrupt (and its coalescing delay), before GRO hold,
 *          IP and TCP.
 *   stack  the socket's TCP receive (tcp:tcp_probe): after all of it.
 * ring and dev stamps are keyed by segment (client address and port,
 * server port, sequence number) in an LRU map and consumed by tcp_probe.
 *
 * Departure: net:net_dev_start_xmit of a segment of the connection's
 * socket with payload: the driver gets the first byte of the response.
 *
 * Why these hooks: this kernel refuses fentry/fexit (lockdown) and has no
 * kprobes, so tcp_recvmsg/tcp_sendmsg are out; tp_btf tracepoints read
 * kernel structs directly. tcp_probe fires for every segment an
 * established socket receives, with the socket (hence socket storage)
 * and the skb (its sequence numbers); net_dev_start_xmit sees every
 * packet a device is given, with skb->sk for locally sent TCP. sock_ops
 * header callbacks would need the flags set per connection at
 * establishment (missing connections opened before kopt) and run twice
 * per sent packet; cgroup skb programs see no driver-time arrival.
 *
 * Cost: every TCP segment an established socket receives pays a port
 * compare (more for the service: storage lookup, a stamp lookup); every
 * transmitted packet pays an skb->sk read and a port compare (the
 * service's: a storage lookup, one probe read, a histogram add).
 * `kopt bench srvlat` measures it.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "kopt/srvlat.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP_ 6
#define TCPHDR_FIN 0x01
#define TCPHDR_SYN 0x02
#define HW_MAX_AGE_NS 10000000000ULL /* hardware stamps older: refused */

/* Set by the loader before load. */
const volatile __u16 ports[SRVLAT_MAX_PORTS] = {};
const volatile __u32 nr_ports = 0;
const volatile __u32 target_netns = 0; /* the server's netns inode; 0: any */
const volatile __u32 rx_ifindex = 0; /* dev stamps on this device; 0: off */
const volatile __u32 ring_ifindex = 0; /* veth peer (any netns); 0: off */
const volatile bool use_hw = false; /* read hardware receive stamps */

/* Written by the loader while running (mmaped .bss). */
struct srvlat_clock clk[2] = {};
__u32 clk_active = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct srvlat_hist);
} hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct srvlat_conn);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SRVLAT_STAMP_ENTRIES);
	__type(key, struct srvlat_stamp_key);
	__type(value, struct srvlat_stamp);
} stamps SEC(".maps");

static __always_inline struct srvlat_hist *hist_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&hist, &zero);
}

static __always_inline bool port_match(__u16 port)
{
	int i;

#pragma unroll
	for (i = 0; i < SRVLAT_MAX_PORTS; i++)
		if (i < nr_ports && ports[i] == port)
			return true;
	return false;
}

static __always_inline bool netns_match(const struct net *net)
{
	if (!target_netns)
		return true;
	/* a BTF load, not a probe read: tp_btf pointers can be followed */
	return net && net->ns.inum == target_netns;
}

/* ---- arrival stamps before the socket ------------------------------------- */

struct seg {
	struct srvlat_stamp_key key;
	__u32 payload;
};

/*
 * The TCP segment at l3 (an IPv4 or IPv6 header, no extension headers)
 * into s; false if it is not TCP to one of our ports with payload.
 * headlen bounds the linear part the headers must lie in.
 */
static __always_inline bool parse_seg(const unsigned char *l3, __u16 proto,
				      __u32 headlen, struct seg *s)
{
	/* IPv6 and TCP, or IPv4 with up to 20 bytes of options and TCP */
	union {
		struct iphdr ip;
		struct ipv6hdr ip6;
		__u8 raw[60];
	} h;
	struct tcphdr th;
	__u32 l3len, l4off, tot;

	/* one read: a probe read costs more than the bytes it copies */
	if (bpf_probe_read_kernel(&h, sizeof(h), l3))
		return false;
	__builtin_memset(&s->key, 0, sizeof(s->key));
	if (proto == bpf_htons(ETH_P_IP) && h.ip.version == 4) {
		if (h.ip.protocol != IPPROTO_TCP_ || h.ip.ihl > 10)
			return false;
		l4off = h.ip.ihl * 4;
		tot = bpf_ntohs(h.ip.tot_len);
		s->key.addr[10] = 0xff;
		s->key.addr[11] = 0xff;
		__builtin_memcpy(&s->key.addr[12], &h.ip.saddr, 4);
	} else if (proto == bpf_htons(ETH_P_IPV6) && h.ip6.version == 6) {
		if (h.ip6.nexthdr != IPPROTO_TCP_)
			return false;
		l4off = sizeof(h.ip6);
		tot = l4off + bpf_ntohs(h.ip6.payload_len);
		__builtin_memcpy(s->key.addr, &h.ip6.saddr, 16);
	} else {
		return false;
	}
	if (l4off + sizeof(th) > headlen)
		return false;
	/* constant offsets: older verifiers refuse variable stack reads */
	if (l4off == 20)
		__builtin_memcpy(&th, &h.raw[20], sizeof(th));
	else if (l4off == 40)
		__builtin_memcpy(&th, &h.raw[40], sizeof(th));
	else if (bpf_probe_read_kernel(&th, sizeof(th), l3 + l4off))
		return false;
	l3len = l4off + th.doff * 4;
	if (tot <= l3len || !port_match(bpf_ntohs(th.dest)))
		return false;
	s->payload = tot - l3len;
	s->key.rport = th.source;
	s->key.lport = bpf_ntohs(th.dest);
	s->key.seq = bpf_ntohl(th.seq);
	return true;
}

static __always_inline void stamp(struct seg *s, __u32 src)
{
	struct srvlat_stamp v = { .ns = bpf_ktime_get_ns(), .src = src };
	struct srvlat_hist *h;

	/* the earliest stamp of a segment wins */
	if (bpf_map_update_elem(&stamps, &s->key, &v, BPF_NOEXIST))
		return;
	h = hist_get();
	if (h)
		h->stat[SRVLAT_STAT_STAMPS]++;
}

/* The driver hands a packet of our device to the stack. */
static __always_inline int dev_rx(const struct sk_buff *skb)
{
	const struct net_device *dev = skb->dev;
	struct seg s;

	if (!dev || dev->ifindex != rx_ifindex || !netns_match(dev->nd_net.net))
		return 0;
	/* eth_type_trans() has pulled the link header: data is layer 3 */
	if (parse_seg(skb->data, skb->protocol, skb->len - skb->data_len, &s))
		stamp(&s, SRVLAT_SRC_DEV);
	return 0;
}

SEC("tp_btf/napi_gro_receive_entry")
int BPF_PROG(srvlat_gro, const struct sk_buff *skb)
{
	if (!rx_ifindex)
		return 0;
	return dev_rx(skb);
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(srvlat_rx, struct sk_buff *skb)
{
	if (!rx_ifindex)
		return 0;
	return dev_rx(skb);
}

/* ---- requests on the socket -------------------------------------------- */

/* The hardware receive stamp on CLOCK_MONOTONIC; 0 if none or refused. */
static __always_inline __u64 hw_arrival(const struct sk_buff *skb, __u64 now,
					struct srvlat_hist *h)
{
	const struct skb_shared_info *sh;
	const struct srvlat_clock *c;
	__u64 phc, mono;
	__s64 d;

	sh = (const void *)(skb->head + skb->end);
	phc = BPF_CORE_READ(sh, hwtstamps.hwtstamp);
	if (!phc)
		return 0;
	c = &clk[clk_active & 1];
	if (!c->valid)
		return 0;
	d = (__s64)(phc - c->phc0);
	mono = c->mono0 + d + ((d * c->adj_q32) >> 32);
	if (mono > now || now - mono > HW_MAX_AGE_NS) {
		h->stat[SRVLAT_STAT_HW_BAD]++;
		return 0;
	}
	return mono;
}

/* The stamp taken for this segment before the socket, consumed. */
static __always_inline bool early_arrival(struct sock *sk, __u32 seq,
					  struct srvlat_stamp *out)
{
	struct srvlat_stamp_key key = {};
	struct srvlat_stamp *v;

	if (sk->__sk_common.skc_family == AF_INET) {
		key.addr[10] = 0xff;
		key.addr[11] = 0xff;
		__builtin_memcpy(&key.addr[12], &sk->__sk_common.skc_daddr, 4);
	} else {
		BPF_CORE_READ_INTO(&key.addr, sk, __sk_common.skc_v6_daddr);
	}
	key.rport = sk->__sk_common.skc_dport;
	key.lport = sk->__sk_common.skc_num;
	key.seq = seq;
	v = bpf_map_lookup_elem(&stamps, &key);
	if (!v)
		return false;
	*out = *v;
	bpf_map_delete_elem(&stamps, &key);
	return true;
}

SEC("tp_btf/tcp_probe")
int BPF_PROG(srvlat_in, struct sock *sk, const struct sk_buff *skb)
{
	struct srvlat_stamp early;
	struct tcp_skb_cb cb;
	struct srvlat_conn *c;
	struct srvlat_hist *h;
	__u32 payload, src;
	__u64 now, t = 0;
	bool have_early;

	if (!port_match(sk->__sk_common.skc_num) ||
	    !netns_match(sk->__sk_common.skc_net.net))
		return 0;
	if (bpf_probe_read_kernel(&cb, sizeof(cb), &skb->cb))
		return 0;
	payload = cb.end_seq - cb.seq - !!(cb.tcp_flags & TCPHDR_SYN) -
		  !!(cb.tcp_flags & TCPHDR_FIN);
	if (!payload || payload > 0x7fffffff)
		return 0;
	h = hist_get();
	if (!h)
		return 0;
	/* consume the segment's stamp even when it continues a request */
	have_early = (rx_ifindex || ring_ifindex) &&
		     early_arrival(sk, cb.seq, &early);
	c = bpf_sk_storage_get(&conns, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!c) {
		h->stat[SRVLAT_STAT_NOSTORE]++;
		return 0;
	}
	if (c->start_ns) {
		h->stat[SRVLAT_STAT_CONT]++;
		return 0;
	}
	now = bpf_ktime_get_ns();
	src = SRVLAT_SRC_STACK;
	if (use_hw)
		t = hw_arrival(skb, now, h);
	if (t) {
		src = SRVLAT_SRC_HW;
	} else if (have_early && early.ns <= now) {
		t = early.ns;
		src = early.src;
	} else {
		t = now;
	}
	c->start_ns = t;
	c->src = src;
	h->stat[SRVLAT_STAT_STARTED]++;
	return 0;
}

/* TCP payload bytes of an skb a device is given (headers set by TCP). */
static __always_inline __u32 tx_payload(const struct sk_buff *skb)
{
	const unsigned char *th = skb->head + skb->transport_header;
	__u32 hdr;
	__u8 doff;

	if (bpf_probe_read_kernel(&doff, 1, th + 12))
		return 0;
	hdr = (th - skb->data) + (doff >> 4) * 4;
	return skb->len > hdr ? skb->len - hdr : 0;
}

/* The veth peer sends toward us: the segment enters our receive ring. */
static __always_inline void ring_stamp(const struct sk_buff *skb)
{
	struct seg s;

	if (parse_seg(skb->head + skb->network_header, skb->protocol,
		      skb->len - skb->data_len -
			      (skb->network_header - (skb->data - skb->head)),
		      &s))
		stamp(&s, SRVLAT_SRC_RING);
}

SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(srvlat_out, const struct sk_buff *skb,
	     const struct net_device *dev)
{
	struct srvlat_conn *c;
	struct srvlat_hist *h;
	struct sock *sk;
	__u64 now, lat;
	__u32 src;

	/* the peer may be in another netns with our number: not ourselves */
	if (ring_ifindex && dev->ifindex == ring_ifindex &&
	    !(dev->ifindex == rx_ifindex && netns_match(dev->nd_net.net)))
		ring_stamp(skb);
	sk = skb->sk;
	if (!sk || !port_match(sk->__sk_common.skc_num) ||
	    !netns_match(sk->__sk_common.skc_net.net))
		return 0;
	/* NULL for request and timewait sockets: they carry no requests */
	c = bpf_sk_storage_get(&conns, sk, 0, 0);
	if (!c || !c->start_ns || !tx_payload(skb))
		return 0;
	h = hist_get();
	if (!h)
		return 0;
	now = bpf_ktime_get_ns();
	lat = now > c->start_ns ? now - c->start_ns : 0;
	src = c->src;
	c->start_ns = 0;
	h->stat[SRVLAT_STAT_REQS]++;
	h->stat[SRVLAT_STAT_SUM_NS] += lat;
	if (src < SRVLAT_NR_SRC)
		h->stat[SRVLAT_STAT_SRC + src]++;
	if (lat > SRVLAT_HIGHEST_NS) {
		h->stat[SRVLAT_STAT_OVERFLOW]++;
		return 0;
	}
	src = srvlat_bucket(lat);
	if (src < SRVLAT_NR_BUCKETS)
		h->bucket[src]++;
	return 0;
}
