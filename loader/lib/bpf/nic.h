/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The NIC statistics collector as a small C API (bpf/nic.bpf.c,
 * bpf/nic_xdp.bpf.c): open on an interface, read windows (packet, byte,
 * interrupt and NAPI rates, batch size, a QPS estimate), optionally
 * consume per-interrupt records, close. The control loop and
 * `kopt collect nic` are its users.
 *
 * nic_open() finds the interface's interrupt vectors, loads and attaches
 * the tracepoint programs, and attaches the XDP counter with libxdp;
 * nic_close() undoes every change (XDP detached, bpffs unmounted if
 * nic_open mounted it), so the interface is left as it was found.
 */
#ifndef KOPT_LOADER_NIC_H
#define KOPT_LOADER_NIC_H

#ifdef __bpf__
#error "loader/lib/bpf/nic.h is userspace-only"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

#include "kopt/nic.h"

enum nic_xdp_mode {
	NIC_XDP_AUTO, /* native, else generic (skb), else none with a note */
	NIC_XDP_NATIVE, /* native only: failing to attach is an error */
	NIC_XDP_SKB, /* generic only: failing to attach is an error */
	NIC_XDP_NONE, /* no XDP program */
};

/* One interrupt vector of the NIC. */
struct nic_irq {
	__u32 irq;
	__u32 queue; /* parsed from the vector's name, else 0 */
	char name[64]; /* action name in /proc/interrupts */
};

/* Called for every per-interrupt record, from nic_poll(). */
typedef void (*nic_record_fn)(void *ctx, const struct nic_record *rec);

struct nic_opts {
	enum nic_xdp_mode xdp_mode;
	/* per-interrupt records through nic_poll(); off: window totals only */
	nic_record_fn on_record;
	void *ctx;
	/* vectors to trace instead of the discovered ones (nr_irqs > 0) */
	const __u32 *irqs;
	int nr_irqs;
	bool no_counters; /* skip hardware counters even where present */
	/*
	 * The control loop's mode: window rates only (ignored with
	 * on_record). The NIC's interrupts are counted at handler exit
	 * without timing the handlers (no entry program, no clock read per
	 * interrupt) and power:cpu_idle is not attached: irq_ns_mean and
	 * idle_frac are NAN. The loop reads rates and batch sizes only.
	 */
	bool rates_only;
	/*
	 * Ring buffer for the records, in bytes: a power of two from
	 * NIC_RING_MIN_BYTES to NIC_RING_MAX_BYTES; 0: NIC_RINGBUF_BYTES.
	 * A larger ring rides out longer gaps between nic_poll() calls.
	 */
	__u32 ring_bytes;
};

/* The smallest ring holds a batch of the largest records, with room. */
#define NIC_RING_MIN_BYTES (16U << 10)
#define NIC_RING_MAX_BYTES (1U << 30)

/* One window: rates since the previous nic_read_window() (or open). */
struct nic_window {
	double seconds;
	double rx_pps, rx_Bps; /* netif_receive_skb: packets/s, bytes/s */
	double tx_pps, tx_Bps; /* net_dev_xmit */
	double xdp_pps, xdp_Bps; /* the XDP counter; 0 without it */
	/*
	 * Requests/s estimate: XDP packets carrying TCP/UDP payload per
	 * second when the XDP counter runs (pure ACKs excluded), else rx_pps.
	 */
	double qps;
	double irq_rate; /* NIC interrupts/s */
	/* mean hard-irq handler time; NAN: no interrupts, or rates_only */
	double irq_ns_mean;
	double pkts_per_irq; /* mean rx packets per interrupt, NAN: none */
	double napi_rate; /* NAPI polls/s */
	double napi_work_mean; /* mean packets per poll, NAN: no polls */
	double napi_full_frac; /* share of polls that used their budget */
	/* batch size for the control loop: pkts_per_irq, else napi_work */
	double batch;
	double idle_frac; /* idle share of all CPUs, NAN: cpu_idle silent */
	__u64 records; /* records submitted in the window */
	__u64 lost; /* records lost in the window (ring buffer full) */
	struct nic_stats delta; /* raw window sums over all CPUs */
};

/* What nic_open() found and attached; strings for messages. */
struct nic_info {
	char ifname[32];
	int ifindex;
	int nr_irqs;
	struct nic_irq irqs[NIC_MAX_IRQS];
	char irq_source[160]; /* where the vectors came from, or why none */
	const char *xdp_mode; /* "native", "skb" or "none" */
	bool xdp_multiprog; /* libxdp dispatcher (else legacy single prog) */
	char xdp_note[512]; /* why XDP is absent or legacy, "" if neither */
	bool idle_attached; /* power:cpu_idle program attached */
	bool irq_timed; /* handler times measured (see nic_opts.rates_only) */
	__u32 idle_states; /* idle states a record carries (deeper fold in) */
	__u32 record_bytes; /* one record in the ring buffer */
	__u32 ring_bytes; /* the ring buffer's size; 0 without records */
	__u32 ctr_mask; /* hardware counters opened (bit per nic_counter) */
	char ctr_note[160]; /* why counters are absent, "" if present */
	bool bpffs_mounted; /* nic_open mounted bpffs for libxdp */
};

struct nic;

/*
 * Opens the collector on ifname (in the caller's network namespace).
 * Returns NULL with errno set and the reason printed (pr_warn): ENODEV
 * for an unknown interface, EPERM without privilege, else the kernel's
 * refusal.
 */
struct nic *nic_open(const char *ifname, const struct nic_opts *opts);
const struct nic_info *nic_info(const struct nic *nic);
/*
 * Consumes records for up to timeout_ms; count of ring-buffer samples (a
 * sample is a batch of records), or -errno. Records reach the ring in
 * per-CPU batches of NIC_BATCH, within NIC_BATCH_AGE_NS of the CPU's next
 * record, and at nic_stop(); within a CPU they are in time order.
 */
int nic_poll(struct nic *nic, int timeout_ms);
/* Fills w with the window since the previous call; 0 or -errno. */
int nic_read_window(struct nic *nic, struct nic_window *w);
/* Totals since open (all CPUs). */
int nic_read_totals(struct nic *nic, struct nic_stats *out);
/* XDP per-queue counts since open; returns queues written or -errno. */
int nic_read_xdp_queues(struct nic *nic, struct nic_xdp_count *out,
			int max_queues);
/*
 * BPF program fds (for run-time statistics); -1 when not loaded. Under
 * libxdp's dispatcher the XDP entry is the dispatcher, whose statistics
 * include the counter: "nic_xdp_count_via_dispatcher". Valid until
 * nic_stop().
 */
int nic_prog_fds(const struct nic *nic, const char **names, int *fds, int max);
/*
 * Stops collecting: detaches every program (the interface is as found
 * again) and delivers the records still staged per CPU to on_record,
 * then the NIC_REC_END records: per CPU and queue, what was counted
 * after the last record (the records then add up to the totals).
 * Totals and XDP queue counts stay readable until nic_close().
 */
int nic_stop(struct nic *nic);
/* nic_stop() if needed, then frees everything. NULL is fine. */
void nic_close(struct nic *nic);

/*
 * Finds ifname's interrupt vectors (MSI/MSI-X list of its device, else
 * /proc/interrupts names); returns their count (0: none, source says
 * why) or -errno. Reads only. The count is the device's, even when it
 * is above max and only max were stored (nic_open() refuses a NIC with
 * more than NIC_MAX_IRQS vectors unless the caller names them). The same
 * holds for the two functions below.
 */
int nic_find_irqs(const char *ifname, struct nic_irq *irqs, int max,
		  char *source, size_t source_len);

/*
 * Vectors of any device given by its sysfs path (its msi_irqs, or those
 * of the PCI function above a virtio device); count, 0 or -errno.
 */
int nic_find_dev_irqs(const char *dev, struct nic_irq *irqs, int max,
		      char *source, size_t source_len);

/*
 * Vectors of the disk that holds path (the whole disk's, or for a
 * partition its parent's): where a NIC has none (veth), direct writes
 * there drive the irq programs. Count, 0 or -errno.
 */
int nic_find_disk_irqs(const char *path, struct nic_irq *irqs, int max,
		       char *source, size_t source_len);

/* Column names of the per-interrupt CSV (units in the names). */
void nic_csv_header(FILE *f);
void nic_csv_record(FILE *f, const struct nic_record *r);

#endif /* KOPT_LOADER_NIC_H */
