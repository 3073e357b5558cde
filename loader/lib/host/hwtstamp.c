// SPDX-License-Identifier: GPL-2.0-only
/*
 * NIC hardware receive timestamps (see hwtstamp.h).
 *
 * The device: ETHTOOL_GET_TS_INFO says whether the NIC stamps received
 * packets in hardware (SOF_TIMESTAMPING_RX_HARDWARE), for every packet
 * (HWTSTAMP_FILTER_ALL; PTP-only filters stamp PTP packets alone, useless
 * for a service's requests) and with which PTP hardware clock. Enabling
 * is SIOCSHWTSTAMP with rx_filter ALL and the transmit type left as it
 * was; the driver may widen the filter, so the setting is read back
 * (SIOCGHWTSTAMP). The original filter is journaled (state.h, kind
 * "hw-timestamp", knob "rx-filter") before the change, so exit, signals
 * and the next kopt after a crash put it back.
 *
 * Why ioctls and not ethtool netlink: the netlink timestamping
 * configuration (ETHTOOL_MSG_TSCONFIG_*) is Linux 6.15+, Debian 12's
 * headers predate it, and every driver with hardware stamps answers the
 * ioctls.
 *
 * The clock: as phc2sys does, the PHC is read between two system-clock
 * reads (PTP_SYS_OFFSET_EXTENDED, several samples, the shortest bracket
 * wins) and paired with the bracket's middle; half the bracket bounds
 * the pairing error. Linux 6.12+ brackets with CLOCK_MONOTONIC directly
 * (the clockid field); older kernels bracket with CLOCK_REALTIME, which is
 * moved to CLOCK_MONOTONIC by a bracketed clock_gettime pair (its error
 * added); drivers without the extended ioctl get PTP_SYS_OFFSET's
 * interleaved reads.
 *
 * Cost: a few ioctls at start; a PHC read is one ioctl of a few us.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/net_tstamp.h>
#include <linux/ptp_clock.h>
#include <linux/sockios.h>

#include "hwtstamp.h"
#include "kopt.h"

#define PHC_SAMPLES 9

static int ifreq_ioctl(const char *ifname, unsigned long req, void *data)
{
	struct ifreq ifr = {};
	int fd, ret = 0;

	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = data;
	if (ioctl(fd, req, &ifr))
		ret = -errno;
	close(fd);
	return ret;
}

int hwts_query(const char *ifname, struct hwts_info *i)
{
	struct ethtool_drvinfo dv = { .cmd = ETHTOOL_GDRVINFO };
	struct ethtool_ts_info ts = { .cmd = ETHTOOL_GET_TS_INFO };
	int err;

	memset(i, 0, sizeof(*i));
	i->phc_index = -1;
	if (!ifreq_ioctl(ifname, SIOCETHTOOL, &dv))
		snprintf(i->driver, sizeof(i->driver), "%s", dv.driver);
	err = ifreq_ioctl(ifname, SIOCETHTOOL, &ts);
	if (err)
		return kopt_errf(i->why, sizeof(i->why), err,
				 "%s: ETHTOOL_GET_TS_INFO: %s", ifname,
				 strerror(-err));
	i->so_timestamping = ts.so_timestamping;
	i->rx_filters = ts.rx_filters;
	i->phc_index = ts.phc_index;
	if (!(ts.so_timestamping & SOF_TIMESTAMPING_RX_HARDWARE))
		snprintf(i->why, sizeof(i->why),
			 "%s (%s) has no hardware receive timestamps", ifname,
			 i->driver[0] ? i->driver : "driver unknown");
	else if (!(ts.rx_filters & (1U << HWTSTAMP_FILTER_ALL)))
		snprintf(i->why, sizeof(i->why),
			 "%s (%s) stamps received PTP packets only (rx "
			 "filters 0x%x, no HWTSTAMP_FILTER_ALL)",
			 ifname, i->driver, ts.rx_filters);
	else if (ts.phc_index < 0)
		snprintf(i->why, sizeof(i->why),
			 "%s (%s) stamps received packets but names no PTP "
			 "hardware clock to read them against",
			 ifname, i->driver);
	else {
		i->usable = true;
		snprintf(i->why, sizeof(i->why),
			 "%s (%s): hardware receive stamps on /dev/ptp%d",
			 ifname, i->driver, ts.phc_index);
	}
	return 0;
}

static void netns_name(char *buf, size_t len)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "net:[%lu]", (unsigned long)st.st_ino);
}

int hwts_enable_rx(const char *ifname, char *why, size_t len,
		   long long *original)
{
	struct hwtstamp_config cfg = {}, now = {};
	struct state_entry e = {};
	int err;

	err = ifreq_ioctl(ifname, SIOCGHWTSTAMP, &cfg);
	if (err)
		return kopt_errf(why, len, err, "%s: SIOCGHWTSTAMP: %s", ifname,
				 strerror(-err));
	*original = cfg.rx_filter;
	if (cfg.rx_filter == HWTSTAMP_FILTER_ALL)
		return 0;
	snprintf(e.kind, sizeof(e.kind), HWTS_STATE_KIND);
	snprintf(e.target, sizeof(e.target), "%s", ifname);
	snprintf(e.knob, sizeof(e.knob), "rx-filter");
	netns_name(e.netns, sizeof(e.netns));
	e.original = cfg.rx_filter;
	err = state_record(&e);
	if (err)
		return kopt_errf(why, len, err,
				 "%s: journaling the receive filter: %s",
				 ifname, strerror(-err));
	now = cfg;
	now.rx_filter = HWTSTAMP_FILTER_ALL;
	err = ifreq_ioctl(ifname, SIOCSHWTSTAMP, &now);
	if (!err)
		err = ifreq_ioctl(ifname, SIOCGHWTSTAMP, &now);
	if (err) {
		/* the journal entry stays: restoring it is harmless */
		return kopt_errf(why, len, err, "%s: SIOCSHWTSTAMP: %s", ifname,
				 strerror(-err));
	}
	if (now.rx_filter != HWTSTAMP_FILTER_ALL)
		return kopt_errf(why, len, -EOPNOTSUPP,
				 "%s: asked the driver to stamp every received "
				 "packet, it reports filter %d",
				 ifname, now.rx_filter);
	return 0;
}

int hwts_rx_filter(const char *ifname, int *filter)
{
	struct hwtstamp_config cfg = {};
	int err = ifreq_ioctl(ifname, SIOCGHWTSTAMP, &cfg);

	if (!err)
		*filter = cfg.rx_filter;
	return err;
}

int hwts_restore_entry(const struct state_entry *e, char *why, size_t len)
{
	struct hwtstamp_config cfg = {};
	char ns[STATE_TARGET_LEN];
	int err;

	netns_name(ns, sizeof(ns));
	if (e->netns[0] && strcmp(e->netns, ns))
		return kopt_errf(why, len, -EXDEV,
				 "changed in network namespace %s; run `kopt "
				 "restore` inside it",
				 e->netns);
	if (strcmp(e->knob, "rx-filter"))
		return kopt_errf(why, len, -EINVAL, "unknown knob");
	err = ifreq_ioctl(e->target, SIOCGHWTSTAMP, &cfg);
	if (!err) {
		cfg.rx_filter = (int)e->original;
		err = ifreq_ioctl(e->target, SIOCSHWTSTAMP, &cfg);
	}
	if (err)
		return kopt_errf(why, len, err, "%s: hardware timestamping: %s",
				 e->target, strerror(-err));
	snprintf(why, len, "receive filter %lld", e->original);
	return 0;
}

/* ---- the NIC's clock -------------------------------------------------- */

int phc_open(int index)
{
	char path[32];
	int fd;

	snprintf(path, sizeof(path), "/dev/ptp%d", index);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static __u64 pct_ns(const struct ptp_clock_time *t)
{
	return (__u64)t->sec * 1000000000ULL + t->nsec;
}

static __u64 clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* CLOCK_MONOTONIC - CLOCK_REALTIME, from the tightest of a few brackets. */
static __s64 mono_minus_real(double *err_ns)
{
	__u64 best = ~0ULL, m0, r, m1;
	__s64 off = 0;
	int i;

	for (i = 0; i < PHC_SAMPLES; i++) {
		m0 = clock_ns(CLOCK_MONOTONIC);
		r = clock_ns(CLOCK_REALTIME);
		m1 = clock_ns(CLOCK_MONOTONIC);
		if (m1 - m0 < best) {
			best = m1 - m0;
			off = (__s64)(m0 + (m1 - m0) / 2) - (__s64)r;
		}
	}
	*err_ns = best / 2.0;
	return off;
}

/* [sys, phc, sys] triplets: the tightest bracket, on clock sys_clock. */
static void best_triplet(const struct ptp_sys_offset_extended *x,
			 struct phc_sample *s)
{
	__u64 best = ~0ULL;
	unsigned int i;

	for (i = 0; i < x->n_samples; i++) {
		__u64 a = pct_ns(&x->ts[i][0]), b = pct_ns(&x->ts[i][2]);

		if (b >= a && b - a < best) {
			best = b - a;
			s->phc_ns = pct_ns(&x->ts[i][1]);
			s->mono_ns = a + (b - a) / 2;
		}
	}
	s->err_ns = best / 2.0;
}

int phc_read(int fd, int n, struct phc_sample *s)
{
	struct ptp_sys_offset_extended x = {};
	struct ptp_sys_offset b = {};
	double conv_err;
	__s64 off;
	__u64 best = ~0ULL;
	int i;

	memset(s, 0, sizeof(*s));
	if (n < 1 || n > PTP_MAX_SAMPLES)
		n = PHC_SAMPLES;
	/* 6.12+: rsv[0] is the clockid of the brackets */
	x.n_samples = n;
	x.rsv[0] = CLOCK_MONOTONIC;
	if (!ioctl(fd, PTP_SYS_OFFSET_EXTENDED, &x)) {
		best_triplet(&x, s);
		s->method = "extended-monotonic";
		return 0;
	}
	memset(&x, 0, sizeof(x));
	x.n_samples = n;
	if (!ioctl(fd, PTP_SYS_OFFSET_EXTENDED, &x)) {
		best_triplet(&x, s);
		off = mono_minus_real(&conv_err);
		s->mono_ns += off;
		s->err_ns += conv_err;
		s->method = "extended";
		return 0;
	}
	b.n_samples = n;
	if (ioctl(fd, PTP_SYS_OFFSET, &b))
		return -errno;
	for (i = 0; i < n; i++) {
		__u64 a = pct_ns(&b.ts[2 * i]), c = pct_ns(&b.ts[2 * i + 2]);

		if (c >= a && c - a < best) {
			best = c - a;
			s->phc_ns = pct_ns(&b.ts[2 * i + 1]);
			s->mono_ns = a + (c - a) / 2;
		}
	}
	off = mono_minus_real(&conv_err);
	s->mono_ns += off;
	s->err_ns = best / 2.0 + conv_err;
	s->method = "basic";
	return 0;
}
