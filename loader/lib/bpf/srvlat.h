/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Server-side request latency from live traffic (bpf/srvlat.bpf.c, whose
 * top comment says what is measured and where it is wrong): open on the
 * service's TCP ports, read a window (p50/p99, request rate, where the
 * arrival times came from), close. The control loop's SLA source for
 * `[host] latency = bpf:PORT[,PORT]`.
 *
 * Scope: sockets in the caller's network namespace. With an interface,
 * arrival is stamped before the socket: the NIC's hardware receive
 * stamp where the driver offers one for every packet (turned on,
 * journaled in state.h, restored by srvlat_close() or `kopt restore`),
 * the veth peer's transmit on a veth, else the driver's receive.
 *
 * Userspace only.
 */
#ifndef KOPT_LOADER_SRVLAT_H
#define KOPT_LOADER_SRVLAT_H

#ifdef __bpf__
#error "loader/lib/bpf/srvlat.h is userspace-only"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "kopt/srvlat.h"

#define SRVLAT_ERR_LEN 512
#define SRVLAT_NOTE_LEN 512

struct srvlat_opts {
	__u16 ports[SRVLAT_MAX_PORTS]; /* the service's local TCP ports */
	int nr_ports;
	/* the interface requests arrive on; NULL: stamp at the socket only */
	const char *ifname;
	bool no_hw; /* never turn on the NIC's hardware timestamps */
	/*
	 * Later stages only, to compare what each leaves out (the tracking
	 * test): no_ring stamps a veth at its driver receive like any NIC;
	 * no_dev stamps at the socket only (implies no_ring).
	 */
	bool no_ring, no_dev;
};

struct srvlat_info {
	char ports[64]; /* "11211,11212" */
	char ifname[32];
	char driver[32];
	int ifindex, ring_ifindex; /* ring: the veth peer's, 0 if none */
	/* the best arrival source this setup can give (enum srvlat_src) */
	enum srvlat_src best;
	bool hw; /* hardware stamps on, the PHC related to the kernel clock */
	char phc_method[24]; /* "extended-monotonic", ... when hw */
	bool gro_attached; /* napi_gro_receive_entry stamps (dev source) */
	/* what arrival means here and what it leaves out (the output says it) */
	char arrival[SRVLAT_NOTE_LEN];
	char hw_note[SRVLAT_NOTE_LEN]; /* why no hardware stamps, or which */
};

/* One window: since the previous srvlat_read_window() (or open). */
struct srvlat_window {
	double seconds;
	__u64 requests; /* measured (request and response matched) */
	double rate; /* requests/s */
	double p50_us, p99_us, p999_us, mean_us, max_us; /* NAN: none */
	double rel_error; /* histogram resolution of the percentiles */
	__u64 by_src[SRVLAT_NR_SRC]; /* measured requests per arrival source */
	__u64 overflow; /* above SRVLAT_HIGHEST_NS */
	__u64 cont; /* inbound data segments while a request was pending */
	__u64 hw_bad; /* hardware stamps refused */
	__u64 nostore; /* connections without storage */
	/* the arrival source of most requests in the window (SRC_STACK: none) */
	enum srvlat_src main_src;
	/*
	 * Largest error of the PHC-to-kernel clock relation in the window,
	 * ns; NAN without hardware stamps.
	 */
	double phc_err_ns;
};

struct srvlat;

/* "11211" or "11211,11212" -> o->ports; 0 or -EINVAL with err filled. */
int srvlat_parse_ports(const char *list, struct srvlat_opts *o, char *err,
		       size_t errlen);
/*
 * Loads and attaches the probe. NULL with err filled (what was refused
 * and why) when it cannot measure; a missing arrival stage only degrades
 * (srvlat_info() says how).
 */
struct srvlat *srvlat_open(const struct srvlat_opts *o, char *err,
			   size_t errlen);
const struct srvlat_info *srvlat_info(const struct srvlat *s);
/* 0 or -errno. */
int srvlat_read_window(struct srvlat *s, struct srvlat_window *w);
/* "hw", "ring", "dev", "stack". */
const char *srvlat_src_name(enum srvlat_src src);
/*
 * The probe's programs (names and fds, the loaded ones), for `kopt bench
 * srvlat` to read their run-time statistics. Returns how many.
 */
int srvlat_prog_fds(const struct srvlat *s, const char **names, int *fds,
		    int max);
/* Detaches, and restores the NIC's timestamping if it was turned on. */
void srvlat_close(struct srvlat *s);

#endif /* KOPT_LOADER_SRVLAT_H */
