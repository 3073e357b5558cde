/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Per-interrupt NIC statistics: the ABI between bpf/nic.bpf.c,
 * bpf/nic_xdp.bpf.c and the loader (loader/lib/bpf/nic.c).
 *
 * Two outputs: a ring buffer of struct nic_record (one per NIC interrupt,
 * or one per NAPI poll on devices without interrupt vectors, e.g. veth),
 * and a per-CPU array of window totals (struct nic_stats indexed by
 * enum nic_stat) that the control loop sums and differences cheaply.
 *
 * Neutral types only: shared by BPF and userspace.
 */
#ifndef KOPT_NIC_H
#define KOPT_NIC_H

#ifndef __VMLINUX_H__ /* BPF gets the types from vmlinux.h */
#include <linux/types.h>
#endif

/*
 * Interrupt vectors of one NIC the BPF side filters on (MSI-X: 1/queue).
 * Power of two.
 */
#define NIC_MAX_IRQS 64
/*
 * Vectors below this number are found with one table load (.rodata),
 * higher ones by scanning the list: x86 servers number MSI-X vectors in
 * the low hundreds to a few thousand.
 */
#define NIC_IRQ_INDEX 4096
/* Queues tracked per interface; higher queue indexes fold into the last. */
#define NIC_MAX_QUEUES 64
/* CPU idle states told apart (cpu_idle state index, deeper fold in). */
#define NIC_NR_IDLE_STATES 8
/*
 * Ring buffer of per-interrupt records (bytes, power of two): the default;
 * nic_opts.ring_bytes (kopt collect nic --ring-kib) sets another.
 */
#define NIC_RINGBUF_BYTES (1U << 20)
/*
 * Records are staged per CPU and go to the ring buffer NIC_BATCH at a
 * time (one reserve per batch), or sooner once the oldest staged record
 * is NIC_BATCH_AGE_NS old (checked at the CPU's next record), and at
 * nic_stop(). Power of two. Each bpf_ringbuf_output() has a fixed cost
 * (the ring's lock and positions, shared by all CPUs): in `kopt bench
 * collector` 32 a batch took the irq exit program from 161-174 ns to
 * 136-151 ns per record against 8 (five runs each, interleaved), and 64
 * (with struct nic_wire records) 12 ns less than 32; 128 no less than 64.
 * The stage is NIC_BATCH * NIC_WIRE_MAX_WORDS words per CPU (12.5 KiB).
 */
#define NIC_BATCH 64
#define NIC_BATCH_AGE_NS 100000000ULL
/* "no interrupt" / "no queue" in records. */
#define NIC_IRQ_NONE 0xffffffffU
/* power:cpu_idle state value on idle exit (PWR_EVENT_EXIT). */
#define NIC_PWR_EVENT_EXIT 0xffffffffU
/* NETDEV_TX_OK: the only net_dev_xmit rc that means "sent". */
#define NIC_NETDEV_TX_OK 0
/* Layer-2 header netif_receive_skb has already pulled (Ethernet). */
#define NIC_ETH_HLEN 14
/* Ethertypes the XDP parser follows (UAPI if_ether.h values). */
#define NIC_ETH_P_IP 0x0800
#define NIC_ETH_P_IPV6 0x86DD
#define NIC_ETH_P_8021Q 0x8100
#define NIC_ETH_P_8021AD 0x88A8
/* Largest IPv4 header (ihl = 15 words) as a mask bounding the offset. */
#define NIC_IP_HDR_MAX 0x3c
/*
 * libxdp run priority of the counter (lower runs first; libxdp's default
 * is 50): counting before other programs can drop.
 */
#define NIC_XDP_RUN_PRIO 5

/* Hardware counters read per interrupt (perf event array), when present. */
enum nic_counter {
	NIC_CTR_INSTRUCTIONS,
	NIC_CTR_CYCLES,
	NIC_CTR_REF_CYCLES,
	NIC_CTR_LLC_MISSES,
	NIC_NR_COUNTERS,
};

/* What produced a record. */
enum nic_rec_kind {
	NIC_REC_IRQ = 1, /* hard interrupt of one of the NIC's vectors */
	NIC_REC_NAPI = 2, /* NAPI poll (devices without interrupt vectors) */
	/*
	 * Written by the loader when the collector stops: what a CPU counted
	 * for a queue after that queue's last record there (or with no
	 * record there at all), so that the records add up to the totals.
	 */
	NIC_REC_END = 3,
};

enum nic_rec_flags {
	/* idle fields are valid: cpu_idle has fired on this CPU */
	NIC_REC_F_IDLE = 1 << 0,
};

/* Window totals; per CPU, monotonic; userspace sums CPUs and differences. */
enum nic_stat {
	NIC_STAT_RX_PKTS, /* netif_receive_skb, GRO segments counted */
	NIC_STAT_RX_BYTES, /* skb->len after the L2 header pull */
	NIC_STAT_TX_PKTS, /* net_dev_xmit rc == NETDEV_TX_OK, TSO segments */
	NIC_STAT_TX_BYTES,
	NIC_STAT_TX_ERRS, /* net_dev_xmit with rc != NETDEV_TX_OK */
	NIC_STAT_XDP_PKTS, /* XDP counter (when attached) */
	NIC_STAT_XDP_BYTES, /* frame length including the L2 header */
	NIC_STAT_XDP_DATA_PKTS, /* TCP/UDP packets carrying payload */
	NIC_STAT_IRQS, /* handler exits of the NIC's vectors */
	NIC_STAT_IRQ_NS, /* time in those handlers */
	NIC_STAT_NAPI_POLLS,
	NIC_STAT_NAPI_WORK, /* packets processed by those polls */
	NIC_STAT_NAPI_BUDGET, /* sum of budgets: work/budget = batching */
	NIC_STAT_NAPI_FULL, /* polls that used their whole budget */
	NIC_STAT_IDLE_NS, /* cpu_idle residency (all states) */
	NIC_STAT_IDLE_EXITS,
	NIC_STAT_RECORDS, /* records submitted to the ring buffer */
	NIC_STAT_LOST, /* records dropped: ring buffer full */
	NIC_NR_STATS,
};

struct nic_stats {
	__u64 v[NIC_NR_STATS];
};

/*
 * Per-queue monotonic counters, per CPU (the nic_queues map's value). A
 * record on the wire carries them as they stand; the loader turns them
 * into the difference since the queue's previous record on that CPU.
 */
struct nic_queue_acc {
	__u64 rx_pkts;
	__u64 rx_bytes;
	__u64 tx_pkts;
	__u64 tx_bytes;
	__u64 xdp_pkts;
	__u64 xdp_bytes;
	__u64 napi_polls;
	__u64 napi_work;
	__u64 napi_budget;
};

/* Per-CPU, per-RX-queue counts of the XDP program. */
struct nic_xdp_count {
	__u64 pkts;
	__u64 bytes;
	__u64 data_pkts;
};

/*
 * A record as bpf/nic.bpf.c writes it (per-CPU stage, then the ring
 * buffer): this header, then rec_idle_states idle-state totals, then
 * NIC_NR_COUNTERS raw counter values when the session has counters, all
 * __u64. The loader sets both sizes before load (rec_words), so every
 * record of a session has the same size. Counters, idle times and the
 * time of the queue's previous record are cumulative or absent here: the
 * loader differences them per CPU (and queue) into struct nic_record.
 *
 * Why not struct nic_record itself: copying records to the ring costs
 * per byte (cache lines moving to the consumer's CPU). A record was 224
 * bytes, 96 of them idle states and counters most hosts lack; this one
 * is 104 bytes plus what the host has. `kopt bench collector` measured
 * the ring copy at about 40 of the irq exit program's ~65 ns per record.
 */
struct nic_wire {
	__u64 ts_ns; /* handler entry (poll end for NAPI), CLOCK_MONOTONIC */
	__u32 handler_ns; /* saturates at 2^32 - 1 */
	__u32 irq; /* NIC_IRQ_NONE for NAPI records */
	__u16 cpu;
	__u8 queue; /* < NIC_MAX_QUEUES */
	__u8 kind; /* enum nic_rec_kind */
	__s8 ret; /* irqreturn_t of the handler */
	__u8 flags; /* enum nic_rec_flags */
	__u8 ctr_mask; /* bit k set: counter word k was read */
	__u8 pad;
	struct nic_queue_acc acc; /* the queue's counters on this CPU */
	__u64 idle_ns; /* this CPU's idle total, the running period included */
};

#define NIC_WIRE_HDR_WORDS (sizeof(struct nic_wire) / sizeof(__u64))
#define NIC_WIRE_MAX_WORDS \
	(NIC_WIRE_HDR_WORDS + NIC_NR_IDLE_STATES + NIC_NR_COUNTERS)

/*
 * A record as the loader delivers it (nic_opts.on_record, the CSV): one
 * per NIC interrupt (or NAPI poll on devices without vectors); and at
 * stop, NIC_REC_END records of what came after the last.
 */
struct nic_record {
	__u64 ts_ns; /* handler entry (poll end for NAPI), CLOCK_MONOTONIC */
	__u64 handler_ns; /* hard-irq handler duration; 0 for NAPI */
	__u64 gap_ns; /* since this queue's previous record here; 0 = first */
	__u32 cpu;
	__u32 irq; /* NIC_IRQ_NONE for NAPI and end records */
	__u32 queue;
	__u16 kind; /* enum nic_rec_kind */
	__s16 ret; /* irqreturn_t of the handler (1 = handled) */
	struct nic_queue_acc delta; /* since this queue's previous record here */
	__u64 idle_ns; /* idle on this CPU since its previous record */
	__u64 idle_state_ns[NIC_NR_IDLE_STATES];
	__u64 ctr[NIC_NR_COUNTERS]; /* since this CPU's previous record */
	__u32 ctr_mask; /* bit k set: ctr[k] is valid */
	__u32 flags; /* enum nic_rec_flags */
};

/* Per-CPU bookkeeping of bpf/nic.bpf.c between events. */
struct nic_cpu_state {
	__u64 irq_entry_ns;
	__u32 irq; /* vector whose handler runs, NIC_IRQ_NONE if none */
	__u32 irq_queue; /* queue of this CPU's last NIC interrupt */
	__u32 rx_queue; /* queue of this CPU's last received packet */
	__u32 idle_state;
	__u32 idle_seen; /* cpu_idle has fired on this CPU */
	__u32 idle_states; /* 1 + the highest idle state entered here */
	__u64 idle_entry_ns; /* 0: not idle */
	__u64 idle_total_ns;
	__u64 idle_state_total_ns[NIC_NR_IDLE_STATES];
};

/*
 * The per-CPU value of the nic_percpu map: window totals, the CPU's
 * bookkeeping and its staged records (nr_staged of rec_words each), so
 * one lookup serves all. The loader sums stats and, when the collector
 * stops, delivers what is still staged.
 */
struct nic_percpu {
	struct nic_stats stats;
	struct nic_cpu_state cpu;
	__u32 nr_staged; /* records in stage[] not yet in the ring */
	__u32 pad;
	__u64 stage[NIC_BATCH * NIC_WIRE_MAX_WORDS];
};

#endif /* KOPT_NIC_H */
