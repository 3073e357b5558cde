/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * NIC hardware receive timestamps for the server-latency probe
 * (loader/lib/bpf/srvlat.c): what the interface supports (ethtool
 * ETHTOOL_GET_TS_INFO), turning receive timestamping on for every packet
 * (SIOCSHWTSTAMP; a host change, journaled in state.h and restored), and
 * relating the NIC's clock (its PTP hardware clock, /dev/ptpN) to
 * CLOCK_MONOTONIC the way phc2sys does (PTP_SYS_OFFSET* ioctls).
 *
 * Userspace only.
 */
#ifndef KOPT_LOADER_HWTSTAMP_H
#define KOPT_LOADER_HWTSTAMP_H

#ifdef __bpf__
#error "loader/lib/host/hwtstamp.h is userspace-only"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "state.h"

#define HWTS_STATE_KIND "hw-timestamp"
#define HWTS_WHY_LEN 256

struct hwts_info {
	char driver[32]; /* ETHTOOL_GDRVINFO, "" if unknown */
	__u32 so_timestamping; /* SOF_TIMESTAMPING_* the device offers */
	__u32 rx_filters; /* bit per HWTSTAMP_FILTER_* */
	int phc_index; /* /dev/ptpN, -1: none */
	/* every received packet can be stamped: RX_HARDWARE, FILTER_ALL, PHC */
	bool usable;
	char why[HWTS_WHY_LEN]; /* why not usable, or what it offers */
};

/* What ifname offers. 0, or -errno with i->why filled. */
int hwts_query(const char *ifname, struct hwts_info *i);

/*
 * Turns on hardware receive stamps for all packets on ifname (transmit
 * stamping is left as it is), journaling the original filter first and
 * reading the setting back. *original gets the filter before (to put
 * back with hwts_restore_entry()). 0 (also when it already was on), or
 * -errno with why filled; nothing changed then.
 */
int hwts_enable_rx(const char *ifname, char *why, size_t len,
		   long long *original);

/* The receive filter in effect (HWTSTAMP_FILTER_*). 0 or -errno. */
int hwts_rx_filter(const char *ifname, int *filter);

/* Puts a journaled receive filter back (state_restore's callback). */
int hwts_restore_entry(const struct state_entry *e, char *why, size_t len);

/* One reading of a PHC against CLOCK_MONOTONIC. */
struct phc_sample {
	__u64 phc_ns; /* the NIC's clock */
	__u64 mono_ns; /* CLOCK_MONOTONIC at the same instant */
	/*
	 * How far the pair can be off: half the shortest system-clock
	 * bracket around a PHC read (PTP_SYS_OFFSET*), plus the error of
	 * moving a CLOCK_REALTIME bracket to CLOCK_MONOTONIC where the
	 * kernel cannot bracket with CLOCK_MONOTONIC itself.
	 */
	double err_ns;
	const char *method; /* "extended-monotonic", "extended", "basic" */
};

/* /dev/ptpN read-only; fd or -errno. */
int phc_open(int index);
/* Best of n bracketed reads. 0 or -errno. */
int phc_read(int fd, int n, struct phc_sample *s);

#endif /* KOPT_LOADER_HWTSTAMP_H */
