// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-interrupt NIC statistics from tracepoints alone, on any driver.
 *
 * What: for one interface (ifindex + network namespace, both set before
 * load), count received packets (net:netif_receive_skb), transmitted
 * packets (net:net_dev_xmit), NAPI polls with their work and budget
 * (napi:napi_poll: how much each poll batched), time in the hard-irq
 * handlers of the NIC's vectors (irq:irq_handler_entry/exit, filtered to
 * the vector list in .rodata) and CPU idle residency (power:cpu_idle).
 * Every handler exit of a NIC vector emits a record (struct nic_wire):
 * what its queue has received, sent and polled on this CPU, how long this
 * CPU has idled, and hardware counters (perf event array) where the host
 * has them, all as they stand; the loader differences them into struct
 * nic_record (since that queue's previous interrupt here). On a device
 * without interrupt vectors (veth), each NAPI poll emits the record
 * instead. Everything also adds to per-CPU window totals (the stats at
 * the head of nic_percpu) the control loop reads with one syscall.
 *
 * Why: the published study instrumented the ixgbe driver for this picture;
 * raw BTF tracepoints (tp_btf) give it on any driver, need no tracefs and
 * read kernel structs directly (no bpf_probe_read per field).
 *
 * Cost: a NIC event does one per-CPU map update plus, when records are on,
 * a few plain adds on its queue's per-CPU counters. Records are staged per CPU
 * and reach the ring buffer NIC_BATCH at a time in one copy, without a
 * wakeup unless the ring fills up (the consumer drains on a timer): in a
 * VM one reserve and wakeup per record cost more than the rest of the
 * record. Foreign interrupts pay a table load (a scan of the vector list
 * above NIC_IRQ_INDEX), foreign packets an ifindex compare. The clock
 * read is the dearest part of an event here (31-45 ns in this VM, the
 * bench's clock_read): with irq_timed off (the control loop's rates-only
 * mode) an interrupt costs a count at handler exit and no clock read,
 * and the loader leaves cpu_idle unattached. `kopt bench collector` measures all of it.
 * The per-queue counters are monotonic and records carry them whole, so
 * a record dropped on a full ring buffer loses no counts: the next record
 * of that queue on that CPU carries them, and what no record carried by
 * the end the loader reports as end records.
 *
 * Per CPU, not per queue: a queue's receive side (XDP, netif_receive_skb,
 * its NAPI poll) runs on the CPU that took its interrupt, so its record
 * there sees every count. Sends are counted on the sending CPU; with XPS
 * (queue i for the CPUs of vector i) that is the same CPU, otherwise its
 * counts reach the records of that queue on the sender's CPU, or the end
 * records.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "nic.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load. */
const volatile __u32 target_ifindex = 0;
const volatile __u32 target_netns = 0; /* inode of the netns; 0 = any */
const volatile __u32 nr_irqs = 0;
const volatile __u32 irq_list[NIC_MAX_IRQS] = {};
const volatile __u32 irq_queue[NIC_MAX_IRQS] = {};
/* slot + 1 in irq_list of each vector below NIC_IRQ_INDEX, 0 if none */
const volatile __u8 irq_index[NIC_IRQ_INDEX] = {};
const volatile bool emit_records = false;
/* time the NIC's handlers (entry program, two clock reads); else count */
const volatile bool irq_timed = true;
const volatile bool napi_records = false; /* device has no vectors */
const volatile __u32 ctr_mask = 0; /* bit k: counter k opened */
const volatile __u32 nr_cpus = 1; /* perf array index = k * nr_cpus + cpu */
/* Record layout (struct nic_wire): idle-state words, then counter words. */
const volatile __u32 rec_idle_states = NIC_NR_IDLE_STATES;
const volatile __u32 rec_ctr_words = 0; /* 0 or NIC_NR_COUNTERS */
const volatile __u32 rec_words = NIC_WIRE_MAX_WORDS;
/* Unread bytes above which a batch wakes the consumer: a quarter ring. */
const volatile __u32 wakeup_bytes = NIC_RINGBUF_BYTES / 4;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, NIC_RINGBUF_BYTES);
} records SEC(".maps");

/* NIC_NR_COUNTERS events per CPU; the loader sizes it (or leaves 1). */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, 1);
} counters SEC(".maps");

static __always_inline bool dev_match(struct net_device *dev)
{
	if (!dev || dev->ifindex != target_ifindex)
		return false;
	/* ifindex is per namespace: two veths may share one */
	if (!target_netns || !bpf_core_field_exists(dev->nd_net.net))
		return true;
	return dev->nd_net.net->ns.inum == target_netns;
}

/*
 * Slot of irq in the vector list, >= NIC_MAX_IRQS if none (unsigned, so
 * that one compare bounds it for the verifier). Every interrupt of the
 * host asks, and a NIC has up to NIC_MAX_IRQS vectors: one load from a
 * table where the number is small enough, a scan above.
 */
static __always_inline __u32 irq_slot(__u32 irq)
{
	__u32 i;

	if (irq < NIC_IRQ_INDEX)
		return (__u32)irq_index[irq] - 1;
	for (i = 0; i < NIC_MAX_IRQS; i++) {
		if (i >= nr_irqs)
			break;
		if (irq_list[i] == irq)
			return i;
	}
	return NIC_MAX_IRQS;
}

/* The queue of irq into *queue if it is one of the NIC's vectors. */
static __always_inline bool vector_queue(__u32 irq, __u32 *queue)
{
	__u32 slot = irq_slot(irq);

	if (slot >= NIC_MAX_IRQS)
		return false;
	/*
	 * The compiler indexes with a copy of slot made before the check;
	 * a mask it cannot drop (barrier_var) bounds that copy too.
	 */
	barrier_var(slot);
	*queue = irq_queue[slot & (NIC_MAX_IRQS - 1)];
	return true;
}

/* Wire packets in an skb: GRO/TSO aggregates count their segments. */
static __always_inline __u32 skb_segs(struct sk_buff *skb)
{
	struct skb_shared_info *shinfo;
	__u16 segs = 0;

	/* skb_shinfo(): head + end (an offset on 64-bit kernels) */
	shinfo = (void *)((unsigned long)skb->head + skb->end);
	bpf_probe_read_kernel(&segs, sizeof(segs), &shinfo->gso_segs);
	return segs ? segs : 1;
}

/*
 * Per-CPU counters: plain adds, as for the window totals. Only a hard-irq
 * program interrupting one on the same field could lose an add; the only
 * counters written in hard-irq context would be netpoll's sends.
 */
#define ACC_ADD(acc, field, val) ((acc)->field += (val))

/*
 * Idle totals of this CPU as they stand. An interrupt usually arrives
 * while the CPU idles (cpu_idle exit fires after the handler), so the
 * running idle period counts up to now; totals stay monotonic.
 */
static __always_inline void idle_totals(struct nic_wire *r, __u64 *tail,
					struct nic_cpu_state *cs, __u64 now)
{
	__u64 running = cs->idle_entry_ns ? now - cs->idle_entry_ns : 0;
	int i;

	r->idle_ns = cs->idle_total_ns + running;
	/*
	 * Only the states this CPU has entered: the others' words are 0 in
	 * every staged record of this CPU already (the map starts zeroed,
	 * the layout is fixed for the session and idle_states only grows).
	 */
	for (i = 0; i < NIC_NR_IDLE_STATES; i++) {
		__u64 v;

		if (i >= cs->idle_states || i >= rec_idle_states)
			break;
		v = cs->idle_state_total_ns[i];
		if (i == cs->idle_state)
			v += running;
		tail[i] = v;
	}
}

/* Raw counter values; the loader differences them per CPU. */
static __always_inline void read_counters(struct nic_wire *r, __u64 *ctr,
					  __u32 cpu)
{
	struct bpf_perf_event_value v;
	__u32 k;

	for (k = 0; k < NIC_NR_COUNTERS; k++) {
		if (!(ctr_mask & (1U << k)))
			continue;
		if (bpf_perf_event_read_value(&counters, k * nr_cpus + cpu, &v,
					      sizeof(v)))
			continue;
		ctr[k] = v.counter;
		r->ctr_mask |= 1U << k;
	}
}

/*
 * A wakeup is an irq_work self-interrupt (hundreds of ns in a VM): wake
 * the consumer only once the ring is a quarter full; it also drains on
 * its own timer.
 */
static __always_inline __u64 ringbuf_wakeup_flag(void)
{
	if (bpf_ringbuf_query(&records, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* Staged records to the ring in one copy; false if the ring is full. */
static __always_inline bool flush_batch(struct nic_percpu *pc)
{
	__u32 nr = pc->nr_staged;

	if (!nr || nr > NIC_BATCH)
		return true;
	if (bpf_ringbuf_output(&records, pc->stage,
			       nr * rec_words * sizeof(__u64),
			       ringbuf_wakeup_flag()))
		return false;
	pc->stats.v[NIC_STAT_RECORDS] += nr;
	pc->nr_staged = 0;
	return true;
}

/*
 * One ring-buffer reserve costs as much as the rest of a record (cold
 * ring pages), so records are staged per CPU and flushed in batches.
 * A record carries counters as they stand (struct nic_wire): no snapshot
 * to keep here, and a record lost on a full ring loses no counts.
 */
static __always_inline void emit_record(struct nic_percpu *pc, __u8 kind,
					__u32 irq, __u32 queue, __u64 ts,
					__u64 now, __u64 handler_ns, int ret)
{
	__u32 q = nic_queue_clamp(queue), cpu = bpf_get_smp_processor_id();
	struct nic_queue_acc *acc = nic_queue_get(q);
	struct nic_wire *r;
	__u32 idx;
	__u64 *w;

	if (!acc)
		return;
	if (pc->nr_staged >= NIC_BATCH && !flush_batch(pc)) {
		/* ring full: the next record carries these counts */
		pc->stats.v[NIC_STAT_LOST]++;
		return;
	}
	idx = pc->nr_staged & (NIC_BATCH - 1);
	w = &pc->stage[idx * rec_words];
	r = (struct nic_wire *)w;
	r->ts_ns = ts;
	r->handler_ns = handler_ns < 0xffffffffULL ? handler_ns : 0xffffffffU;
	r->irq = irq;
	r->cpu = cpu;
	r->queue = q;
	r->kind = kind;
	r->ret = ret;
	r->ctr_mask = 0;
	r->flags = pc->cpu.idle_seen ? NIC_REC_F_IDLE : 0;
	r->acc = *acc;
	/* no cpu_idle event yet on this CPU: every idle total is 0 */
	idle_totals(r, w + NIC_WIRE_HDR_WORDS, &pc->cpu, now);
	if (rec_ctr_words)
		read_counters(r, w + NIC_WIRE_HDR_WORDS + rec_idle_states, cpu);
	pc->nr_staged = idx + 1;
	if (pc->nr_staged == NIC_BATCH ||
	    now - pc->stage[0] >= NIC_BATCH_AGE_NS)
		flush_batch(pc); /* a full ring keeps them staged */
}

/*
 * This CPU's value if irq is one of the NIC's vectors, else NULL; notes
 * the vector's queue: NAPI polls after the handler, on this CPU.
 */
static __always_inline struct nic_percpu *nic_irq_mark(__u32 irq)
{
	struct nic_percpu *pc;
	__u32 queue;

	if (!vector_queue(irq, &queue))
		return NULL;
	pc = nic_percpu_get();
	if (!pc)
		return NULL;
	pc->cpu.irq_queue = queue;
	return pc;
}

/* Not loaded when irq_timed is off. */
SEC("tp_btf/irq_handler_entry")
int BPF_PROG(nic_irq_entry, int irq, struct irqaction *action)
{
	struct nic_percpu *pc = nic_irq_mark(irq);

	if (!pc)
		return 0;
	pc->cpu.irq = irq;
	pc->cpu.irq_entry_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/irq_handler_exit")
int BPF_PROG(nic_irq_exit, int irq, struct irqaction *action, int ret)
{
	struct nic_cpu_state *cs;
	struct nic_percpu *pc;
	__u64 now, handler_ns;

	if (!irq_timed) {
		/* window totals only, untimed: a count, no clock read */
		pc = nic_irq_mark(irq);
		if (pc)
			pc->stats.v[NIC_STAT_IRQS]++;
		return 0;
	}
	pc = nic_percpu_get();
	if (!pc)
		return 0;
	cs = &pc->cpu;
	/*
	 * The entry marked this CPU's running handler if the vector is the
	 * NIC's (hard-irq handlers do not nest): no second lookup. An exit
	 * without its entry (attached mid-handler) is skipped.
	 */
	if (cs->irq != (__u32)irq || !cs->irq_entry_ns)
		return 0;
	now = bpf_ktime_get_ns();
	handler_ns = now - cs->irq_entry_ns;
	pc->stats.v[NIC_STAT_IRQS]++;
	pc->stats.v[NIC_STAT_IRQ_NS] += handler_ns;
	if (emit_records)
		emit_record(pc, NIC_REC_IRQ, irq, cs->irq_queue,
			    cs->irq_entry_ns, now, handler_ns, ret);
	cs->irq_entry_ns = 0;
	cs->irq = NIC_IRQ_NONE;
	return 0;
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(nic_rx, struct sk_buff *skb)
{
	struct nic_queue_acc *acc;
	struct nic_percpu *pc;
	__u32 segs, len, queue;

	if (!dev_match(skb->dev))
		return 0;
	pc = nic_percpu_get();
	if (!pc)
		return 0;
	segs = skb_segs(skb);
	len = skb->len;
	/* skb_get_rx_queue(): queue_mapping holds queue + 1 when recorded */
	queue = skb->queue_mapping ? skb->queue_mapping - 1 : 0;
	pc->stats.v[NIC_STAT_RX_PKTS] += segs;
	pc->stats.v[NIC_STAT_RX_BYTES] += len;
	pc->cpu.rx_queue = queue;
	if (!emit_records)
		return 0;
	acc = nic_queue_get(queue);
	if (acc) {
		ACC_ADD(acc, rx_pkts, segs);
		ACC_ADD(acc, rx_bytes, len);
	}
	return 0;
}

/*
 * Fires after the driver's ndo_start_xmit: the skb now belongs to the
 * driver. Reads of it stay memory-safe (BTF loads are fault-tolerant) but
 * may see a recycled skb on drivers that free at once; len comes from
 * the tracepoint itself.
 */
SEC("tp_btf/net_dev_xmit")
int BPF_PROG(nic_tx, struct sk_buff *skb, int rc, struct net_device *dev,
	     unsigned int skb_len)
{
	struct nic_queue_acc *acc;
	struct nic_percpu *pc;
	__u32 segs;

	if (!dev_match(dev))
		return 0;
	pc = nic_percpu_get();
	if (!pc)
		return 0;
	if (rc != NIC_NETDEV_TX_OK) {
		pc->stats.v[NIC_STAT_TX_ERRS]++;
		return 0;
	}
	segs = skb_segs(skb);
	pc->stats.v[NIC_STAT_TX_PKTS] += segs;
	pc->stats.v[NIC_STAT_TX_BYTES] += skb_len;
	if (!emit_records)
		return 0;
	acc = nic_queue_get(skb->queue_mapping);
	if (acc) {
		ACC_ADD(acc, tx_pkts, segs);
		ACC_ADD(acc, tx_bytes, skb_len);
	}
	return 0;
}

/*
 * The queue a poll served: the NAPI's own queue index or vector where the
 * kernel and driver record them, else the queue of this CPU's last NIC
 * interrupt (NAPI runs where its interrupt was taken), else that of its
 * last received packet.
 */
static __always_inline __u32 napi_queue(struct napi_struct *napi,
					struct nic_cpu_state *cs)
{
	__u32 queue;

	if (bpf_core_field_exists(napi->index) && napi->index >= 0)
		return napi->index;
	if (bpf_core_field_exists(napi->irq) && napi->irq > 0 &&
	    vector_queue(napi->irq, &queue))
		return queue;
	return nr_irqs ? cs->irq_queue : cs->rx_queue;
}

SEC("tp_btf/napi_poll")
int BPF_PROG(nic_napi, struct napi_struct *napi, int work, int budget)
{
	struct nic_queue_acc *acc;
	struct nic_percpu *pc;
	__u32 queue;
	__u64 now;

	if (!dev_match(napi->dev))
		return 0;
	pc = nic_percpu_get();
	if (!pc)
		return 0;
	pc->stats.v[NIC_STAT_NAPI_POLLS]++;
	pc->stats.v[NIC_STAT_NAPI_WORK] += work;
	pc->stats.v[NIC_STAT_NAPI_BUDGET] += budget;
	if (work >= budget)
		pc->stats.v[NIC_STAT_NAPI_FULL]++;
	if (!emit_records)
		return 0;
	queue = napi_queue(napi, &pc->cpu);
	acc = nic_queue_get(queue);
	if (acc) {
		ACC_ADD(acc, napi_polls, 1);
		ACC_ADD(acc, napi_work, work);
		ACC_ADD(acc, napi_budget, budget);
	}
	if (napi_records) {
		now = bpf_ktime_get_ns();
		emit_record(pc, NIC_REC_NAPI, NIC_IRQ_NONE, queue, now, now, 0,
			    0);
	}
	return 0;
}

/*
 * power:cpu_idle: state index on entry, PWR_EVENT_EXIT on exit. Fires
 * from the cpuidle core and from default_idle_call(); not under idle=poll.
 */
SEC("tp_btf/cpu_idle")
int BPF_PROG(nic_cpu_idle, unsigned int state, unsigned int cpu_id)
{
	struct nic_percpu *pc = nic_percpu_get();
	struct nic_cpu_state *cs;
	__u64 now, d;
	__u32 s;

	if (!pc)
		return 0;
	cs = &pc->cpu;
	now = bpf_ktime_get_ns();
	cs->idle_seen = 1;
	if (state != NIC_PWR_EVENT_EXIT) {
		cs->idle_entry_ns = now;
		/* deeper states than the records have fold into the last */
		cs->idle_state = state < rec_idle_states ? state :
							   rec_idle_states - 1;
		if (cs->idle_state >= cs->idle_states)
			cs->idle_states = cs->idle_state + 1;
		return 0;
	}
	if (!cs->idle_entry_ns)
		return 0;
	d = now - cs->idle_entry_ns;
	s = cs->idle_state;
	cs->idle_entry_ns = 0;
	cs->idle_total_ns += d;
	if (s < NIC_NR_IDLE_STATES)
		cs->idle_state_total_ns[s] += d;
	pc->stats.v[NIC_STAT_IDLE_NS] += d;
	pc->stats.v[NIC_STAT_IDLE_EXITS]++;
	return 0;
}
