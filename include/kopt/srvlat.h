/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * Server-side request latency measured in BPF: the ABI between
 * bpf/srvlat.bpf.c and the loader (loader/lib/bpf/srvlat.c).
 *
 * Output: one per-CPU struct srvlat_hist (a log-linear histogram of
 * request latencies in nanoseconds, plus counters) that the control loop
 * sums over CPUs and differences between two reads: one syscall per
 * window. The bucket layout is loader/lib/util/histogram.c's (HdrHistogram)
 * with SRVLAT_SUB_BITS, so userspace computes percentiles with hist_*().
 *
 * Neutral types only: shared by BPF and userspace.
 */
#ifndef KOPT_SRVLAT_H
#define KOPT_SRVLAT_H

#ifndef __VMLINUX_H__ /* BPF gets the types from vmlinux.h */
#include <linux/types.h>
#endif

/* Service ports one program watches (local TCP ports of the server). */
#define SRVLAT_MAX_PORTS 8

/*
 * Histogram layout: values below 2^SUB_BITS one bucket each, then
 * 2^(SUB_BITS-1) buckets per power of two: a percentile (the middle of
 * its bucket) is within 1/2^SUB_BITS = 0.78% of the exact value. Up to
 * SRVLAT_HIGHEST_NS (17.2 s); longer latencies count as overflow.
 * 1856 buckets: 14.5 KiB per CPU.
 */
#define SRVLAT_SUB_BITS 7
#define SRVLAT_HIGHEST_NS ((1ULL << 34) - 1)
#define SRVLAT_NR_BUCKETS 1856

/*
 * Arrival stamps taken before the socket sees a segment (the veth
 * peer's transmit, the driver's receive), keyed by segment, consumed by
 * the socket's receive. An LRU map: stamps of segments that never reach
 * a watched socket age out.
 */
#define SRVLAT_STAMP_ENTRIES 16384

/* Where a request's arrival time came from (best first). */
enum srvlat_src {
	/* the NIC's hardware receive timestamp, on the kernel clock */
	SRVLAT_SRC_HW,
	/* veth: the peer's transmit, when the segment entered our ring */
	SRVLAT_SRC_RING,
	/* the driver handed the packet to the stack (GRO or receive) */
	SRVLAT_SRC_DEV,
	/* the TCP receive of the segment on the socket (tcp_probe) */
	SRVLAT_SRC_STACK,
	SRVLAT_NR_SRC,
};

enum srvlat_stat {
	SRVLAT_STAT_REQS, /* requests measured (in the histogram) */
	SRVLAT_STAT_OVERFLOW, /* of which above SRVLAT_HIGHEST_NS */
	SRVLAT_STAT_SUM_NS, /* sum of the measured latencies */
	SRVLAT_STAT_STARTED, /* requests started (inbound data, none pending) */
	SRVLAT_STAT_CONT, /* inbound data segments while one was pending */
	SRVLAT_STAT_HW_BAD, /* hardware stamps refused (not in the last 10 s) */
	SRVLAT_STAT_STAMPS, /* arrival stamps stored (ring and device) */
	SRVLAT_STAT_NOSTORE, /* no per-connection storage (out of memory) */
	SRVLAT_STAT_SRC, /* SRVLAT_NR_SRC counters: measured by source */
	SRVLAT_NR_STATS = SRVLAT_STAT_SRC + SRVLAT_NR_SRC,
};

struct srvlat_hist {
	__u64 stat[SRVLAT_NR_STATS];
	__u64 bucket[SRVLAT_NR_BUCKETS];
};

/* Per connection (socket storage): the pending request, if any. */
struct srvlat_conn {
	__u64 start_ns; /* arrival, CLOCK_MONOTONIC; 0: none pending */
	__u32 src; /* enum srvlat_src of start_ns */
	__u32 pad;
};

/*
 * A segment on its way to a watched socket: the client's address (IPv4
 * mapped into IPv6) and port, the server's port and the sequence number.
 */
struct srvlat_stamp_key {
	__u8 addr[16];
	__u16 rport; /* network order, as in the header */
	__u16 lport; /* host order */
	__u32 seq; /* host order */
};

struct srvlat_stamp {
	__u64 ns; /* CLOCK_MONOTONIC */
	__u32 src;
	__u32 pad;
};

/*
 * The NIC's clock (PHC) related to CLOCK_MONOTONIC by the loader:
 *   mono = mono0 + (phc - phc0) + ((phc - phc0) * adj_q32) >> 32
 * adj_q32 is the rate difference in 2^-32 units (1 ppm = 4295). Two
 * slots: the loader fills the idle one, then flips clk_active.
 */
struct srvlat_clock {
	__u64 phc0, mono0;
	__s64 adj_q32;
	__u64 valid; /* 0: no relation yet, hardware stamps are not used */
};

/*
 * HdrHistogram's bucket of v (loader/lib/util/histogram.c, bucket_of()),
 * with a count-leading-zeros BPF lacks done as a binary search.
 */
static inline __u32 srvlat_bucket(__u64 v)
{
	__u32 msb = 0, shift;
	__u64 x = v;

	if (v < (1ULL << SRVLAT_SUB_BITS))
		return (__u32)v;
	if (x >> 32) {
		x >>= 32;
		msb += 32;
	}
	if (x >> 16) {
		x >>= 16;
		msb += 16;
	}
	if (x >> 8) {
		x >>= 8;
		msb += 8;
	}
	if (x >> 4) {
		x >>= 4;
		msb += 4;
	}
	if (x >> 2) {
		x >>= 2;
		msb += 2;
	}
	if (x >> 1)
		msb += 1;
	shift = msb - (SRVLAT_SUB_BITS - 1);
	return shift * (1U << (SRVLAT_SUB_BITS - 1)) + (__u32)(v >> shift);
}

#endif /* KOPT_SRVLAT_H */
