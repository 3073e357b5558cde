/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Maps and helpers shared by bpf/nic.bpf.c (tracepoints) and
 * bpf/nic_xdp.bpf.c (the XDP counter). Both objects define the maps
 * below identically; the loader makes the XDP object reuse the tracepoint
 * object's maps (bpf_map__reuse_fd), so XDP counts land in the same
 * window totals and per-queue counters. The value layouts are in
 * include/kopt/nic.h: the loader reads them too.
 */
#ifndef KOPT_BPF_NIC_BPF_H
#define KOPT_BPF_NIC_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "kopt/nic.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nic_percpu);
} nic_percpu SEC(".maps");

/*
 * Per CPU, like the window totals: the CPU that runs a queue's NAPI poll
 * (where its interrupt was taken) counts that queue's packets there and
 * emits its records there, so no counter line moves between CPUs and no
 * add needs to be atomic. A shared array with atomic adds cost the irq
 * exit program ~100 ns more per record in `kopt bench collector`.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NIC_MAX_QUEUES);
	__type(key, __u32);
	__type(value, struct nic_queue_acc);
} nic_queues SEC(".maps");

static __always_inline struct nic_percpu *nic_percpu_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&nic_percpu, &zero);
}

static __always_inline __u32 nic_queue_clamp(__u32 queue)
{
	return queue < NIC_MAX_QUEUES ? queue : NIC_MAX_QUEUES - 1;
}

static __always_inline struct nic_queue_acc *nic_queue_get(__u32 queue)
{
	__u32 q = nic_queue_clamp(queue);

	return bpf_map_lookup_elem(&nic_queues, &q);
}

#endif /* KOPT_BPF_NIC_BPF_H */
