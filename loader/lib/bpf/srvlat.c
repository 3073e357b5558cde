// SPDX-License-Identifier: GPL-2.0-only
/*
 * Server-side request latency: loads bpf/srvlat.bpf.c for the service's
 * ports and reads windows from its per-CPU histogram (see srvlat.h for
 * the API, the top of bpf/srvlat.bpf.c for what is measured).
 *
 * Arrival stages, chosen by probing the interface:
 *   - hardware receive stamps (hwtstamp.h) where the NIC stamps every
 *     packet and has a PTP hardware clock: turned on (journaled), and a
 *     thread relates the PHC to CLOCK_MONOTONIC every second for the BPF
 *     side (struct srvlat_clock: offset and rate, two slots flipped);
 *   - veth: the peer's transmit (ring_ifindex = the peer's ifindex, from
 *     sysfs iflink);
 *   - otherwise the driver's receive on the interface;
 *   - always: the socket's receive (tcp:tcp_probe), the floor.
 * The attach ladder is tp_btf or nothing: this kernel refuses fentry and
 * has no kprobes, and every hook used is a tracepoint. A stage whose
 * attach is refused degrades to the next with a note in srvlat_info().
 *
 * Changes to the host: BPF programs (detached on close) and, only with
 * hardware stamps, the NIC's receive timestamp filter (restored on close,
 * journaled for a crash). Nothing is pinned.
 *
 * Cost: a window read is one lookup of the per-CPU histogram (14.7 KiB
 * per CPU) and a pass over its buckets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "histogram.h"
#include "hwtstamp.h"
#include "kopt.h"
#include "srvlat.h"
#include "srvlat.skel.h"

#define PHC_PERIOD_S 1.0

struct srvlat {
	struct srvlat_info info;
	struct srvlat_bpf *skel;
	int nr_cpus;
	size_t val_size; /* one CPU's value, 8-byte aligned */
	void *buf; /* nr_cpus values */
	struct srvlat_hist prev, cur; /* sums at the previous read, now */
	uint64_t d[SRVLAT_NR_BUCKETS]; /* the window's bucket counts */
	double prev_s;
	struct hist h;
	/* hardware stamps */
	bool hw_enabled; /* the receive filter was turned on by us */
	struct state_entry hw_entry; /* what to put back */
	int phc_fd;
	pthread_t phc_thread;
	bool phc_running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	double phc_err_ns; /* largest since the last window read */
	struct phc_sample phc_first; /* published once the probe is loaded */
};

static const char *const src_names[SRVLAT_NR_SRC] = {
	[SRVLAT_SRC_HW] = "hw",
	[SRVLAT_SRC_RING] = "ring",
	[SRVLAT_SRC_DEV] = "dev",
	[SRVLAT_SRC_STACK] = "stack",
};

const char *srvlat_src_name(enum srvlat_src src)
{
	return src < SRVLAT_NR_SRC ? src_names[src] : "?";
}

int srvlat_parse_ports(const char *list, struct srvlat_opts *o, char *err,
		       size_t errlen)
{
	char buf[128], *tok, *save = NULL;
	long port;
	int i;

	o->nr_ports = 0;
	if (!list || !*list || strlen(list) >= sizeof(buf))
		return kopt_errf(err, errlen, -EINVAL,
				 "'%.60s': expected PORT[,PORT...] (1 to %d "
				 "TCP ports)",
				 list ? list : "", SRVLAT_MAX_PORTS);
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (kopt_parse_long(tok, 1, 65535, &port))
			return kopt_errf(err, errlen, -EINVAL,
					 "port '%s' in '%s': expected 1 to "
					 "65535",
					 tok, list);
		for (i = 0; i < o->nr_ports; i++)
			if (o->ports[i] == port)
				return kopt_errf(err, errlen, -EINVAL,
						 "port %ld listed twice in "
						 "'%s'",
						 port, list);
		if (o->nr_ports == SRVLAT_MAX_PORTS)
			return kopt_errf(err, errlen, -EINVAL,
					 "'%s': at most %d ports", list,
					 SRVLAT_MAX_PORTS);
		o->ports[o->nr_ports++] = (__u16)port;
	}
	if (!o->nr_ports || list[strlen(list) - 1] == ',' || list[0] == ',' ||
	    strstr(list, ",,"))
		return kopt_errf(err, errlen, -EINVAL,
				 "'%s': expected PORT[,PORT...]", list);
	return 0;
}

static __u32 netns_inode(void)
{
	struct stat st;

	if (stat("/proc/thread-self/ns/net", &st))
		return 0;
	return (__u32)st.st_ino;
}

/* ---- the PHC relation ---------------------------------------------------- */

static void clock_publish(struct srvlat *s, const struct phc_sample *a,
			  const struct phc_sample *b)
{
	struct srvlat_bpf__bss *bss = s->skel->bss;
	__u32 idle = (__atomic_load_n(&bss->clk_active, __ATOMIC_RELAXED) + 1) &
		     1;
	struct srvlat_clock *c = &bss->clk[idle];
	double rate = 1.0, err;

	if (a && b->phc_ns > a->phc_ns)
		rate = (double)(b->mono_ns - a->mono_ns) /
		       (double)(b->phc_ns - a->phc_ns);
	c->phc0 = b->phc_ns;
	c->mono0 = b->mono_ns;
	c->adj_q32 = (__s64)llround((rate - 1.0) * 4294967296.0);
	c->valid = 1;
	__atomic_store_n(&bss->clk_active, idle, __ATOMIC_RELEASE);
	/*
	 * Until the next update, a stamp is off by the pairing error plus
	 * the rate error (both pairings' errors over their distance) times
	 * the time since this pairing: at most one period.
	 */
	err = b->err_ns;
	if (a && b->mono_ns > a->mono_ns)
		err += (a->err_ns + b->err_ns) * PHC_PERIOD_S * 1e9 /
		       (double)(b->mono_ns - a->mono_ns);
	pthread_mutex_lock(&s->mu);
	if (!(err <= s->phc_err_ns))
		s->phc_err_ns = err;
	pthread_mutex_unlock(&s->mu);
}

static void *phc_main(void *arg)
{
	struct srvlat *s = arg;
	struct phc_sample prev = {}, cur;
	bool have_prev = false;
	struct timespec until;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		pthread_mutex_unlock(&s->mu);
		if (!phc_read(s->phc_fd, 0, &cur)) {
			clock_publish(s, have_prev ? &prev : NULL, &cur);
			prev = cur;
			have_prev = true;
		}
		pthread_mutex_lock(&s->mu);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += (time_t)PHC_PERIOD_S;
		while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu,
							  &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void hw_off(struct srvlat *s)
{
	char why[HWTS_WHY_LEN];

	if (s->phc_running) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->phc_thread, NULL);
		s->phc_running = false;
	}
	if (s->phc_fd >= 0)
		close(s->phc_fd);
	s->phc_fd = -1;
	if (s->hw_enabled && hwts_restore_entry(&s->hw_entry, why, sizeof(why)))
		pr_warn("srvlat: %s; `kopt restore` retries\n", why);
	s->hw_enabled = false;
}

/*
 * Hardware stamps where the NIC offers them for every packet: turn them
 * on and start relating its clock. false (with hw_note) if not.
 */
static bool hw_on(struct srvlat *s, const char *ifname)
{
	struct srvlat_info *in = &s->info;
	struct hwts_info hi;
	struct phc_sample first;
	char why[HWTS_WHY_LEN];
	int err;

	err = hwts_query(ifname, &hi);
	snprintf(in->driver, sizeof(in->driver), "%s", hi.driver);
	if (err || !hi.usable) {
		snprintf(in->hw_note, sizeof(in->hw_note), "%s", hi.why);
		return false;
	}
	s->phc_fd = phc_open(hi.phc_index);
	if (s->phc_fd < 0) {
		snprintf(in->hw_note, sizeof(in->hw_note),
			 "%s, but /dev/ptp%d: %s", hi.why, hi.phc_index,
			 strerror(-s->phc_fd));
		return false;
	}
	err = phc_read(s->phc_fd, 0, &first);
	if (err) {
		snprintf(in->hw_note, sizeof(in->hw_note),
			 "%s, but reading it against the kernel clock "
			 "failed: %s",
			 hi.why, strerror(-err));
		hw_off(s);
		return false;
	}
	/* what hwts_enable_rx journals, kept to put back on close */
	snprintf(s->hw_entry.kind, sizeof(s->hw_entry.kind), HWTS_STATE_KIND);
	snprintf(s->hw_entry.target, sizeof(s->hw_entry.target), "%s", ifname);
	snprintf(s->hw_entry.knob, sizeof(s->hw_entry.knob), "rx-filter");
	err = hwts_enable_rx(ifname, why, sizeof(why), &s->hw_entry.original);
	if (err) {
		snprintf(in->hw_note, sizeof(in->hw_note), "%.180s, but %.180s",
			 hi.why, why);
		hw_off(s);
		return false;
	}
	s->hw_enabled = true;
	s->phc_first = first;
	snprintf(in->phc_method, sizeof(in->phc_method), "%s", first.method);
	snprintf(in->hw_note, sizeof(in->hw_note),
		 "%s (turned on for every received packet; restored on "
		 "exit); clock read with PTP_SYS_OFFSET %s",
		 hi.why, first.method);
	return true;
}

/* After load (the clock lives in the probe's .bss): follow the PHC. */
static bool hw_follow(struct srvlat *s)
{
	clock_publish(s, NULL, &s->phc_first);
	if (pthread_create(&s->phc_thread, NULL, phc_main, s)) {
		snprintf(s->info.hw_note, sizeof(s->info.hw_note),
			 "no thread to follow the NIC's clock");
		return false;
	}
	s->phc_running = true;
	return true;
}

/* ---- arrival stages -------------------------------------------------- */

static void describe_arrival(struct srvlat *s)
{
	struct srvlat_info *in = &s->info;
	const char *ifn = in->ifname;

	switch (in->best) {
	case SRVLAT_SRC_HW:
		snprintf(in->arrival, sizeof(in->arrival),
			 "arrival: %s's hardware receive stamp on the NIC's "
			 "clock, related to the kernel's every second (the "
			 "replies say how far off it can be): interrupt "
			 "coalescing delay included; packets without a stamp "
			 "fall back to the driver's receive",
			 ifn);
		break;
	case SRVLAT_SRC_RING:
		snprintf(in->arrival, sizeof(in->arrival),
			 "arrival: the segment entering %s's receive ring "
			 "(the veth peer's transmit; veth has no hardware "
			 "stamps): software coalescing delay included",
			 ifn);
		break;
	case SRVLAT_SRC_DEV:
		snprintf(in->arrival, sizeof(in->arrival),
			 "arrival: %s's driver handing the packet to the "
			 "stack (software; %.200s): the interrupt coalescing "
			 "delay is NOT included (at most the ITR setting per "
			 "request)",
			 ifn, in->hw_note);
		break;
	default:
		snprintf(
			in->arrival, sizeof(in->arrival),
			"arrival: the TCP receive on the socket (software%s%.200s): "
			"interrupt coalescing (at most the ITR setting), GRO "
			"hold, IP and TCP processing are NOT included",
			in->hw_note[0] ? "; " : "", in->hw_note);
	}
}

static int link_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[IFLA_MAX + 1];
	int *peer = arg;

	if (nlmsg_parse(nlmsg_hdr(msg), sizeof(struct ifinfomsg), tb, IFLA_MAX,
			NULL) == 0 &&
	    tb[IFLA_LINK])
		*peer = (int)nla_get_u32(tb[IFLA_LINK]);
	return NL_OK;
}

/*
 * veth: the peer's ifindex, which a veth reports as its link (IFLA_LINK,
 * sysfs iflink); asked over rtnetlink, which answers for the caller's
 * network namespace where sysfs may show another. 0 if none. The peer
 * may be in another namespace, with the same number as ours.
 */
static int veth_peer(int ifindex, const char *driver)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC,
				 .ifi_index = ifindex };
	struct nl_sock *sk;
	int peer = 0;

	if (strcmp(driver, "veth"))
		return 0;
	sk = nl_socket_alloc();
	if (!sk)
		return 0;
	if (!nl_connect(sk, NETLINK_ROUTE) &&
	    !nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, link_cb,
				 &peer) &&
	    nl_send_simple(sk, RTM_GETLINK, 0, &ifi, sizeof(ifi)) >= 0)
		nl_recvmsgs_default(sk);
	nl_socket_free(sk);
	return peer;
}

/*
 * The driver stage: an interface without a ring stamp, which always comes
 * first. With hardware stamps it stands in for packets the NIC left
 * unstamped.
 */
static bool dev_stage(const struct srvlat *s)
{
	return s->info.ifindex && (s->info.best == SRVLAT_SRC_DEV ||
				   s->info.best == SRVLAT_SRC_HW);
}

static void set_rodata(struct srvlat *s, const struct srvlat_opts *o)
{
	struct srvlat_bpf__rodata *ro = s->skel->rodata;
	int i;

	for (i = 0; i < o->nr_ports; i++)
		ro->ports[i] = o->ports[i];
	ro->nr_ports = o->nr_ports;
	ro->target_netns = netns_inode();
	/* a ring stamp is always earlier: no driver programs then */
	ro->rx_ifindex = dev_stage(s) ? s->info.ifindex : 0;
	ro->ring_ifindex = s->info.ring_ifindex;
	ro->use_hw = s->info.best == SRVLAT_SRC_HW;
}

static int attach(struct srvlat *s, char *err, size_t errlen)
{
	struct srvlat_bpf *k = s->skel;
	struct bpf_link *l;
	int ret;

	/* the socket's two hooks are the measurement: no way around them */
	ret = srvlat_bpf__attach(k);
	if (!ret) {
		s->info.gro_attached = dev_stage(s);
		return 0;
	}
	ret = -errno;
	if (!k->links.srvlat_in || !k->links.srvlat_out)
		return kopt_errf(err, errlen, ret,
				 "attaching tp_btf tcp_probe / "
				 "net_dev_start_xmit refused: %s (needs BTF "
				 "tracepoints, Linux 5.5+)",
				 strerror(-ret));
	/* a refused driver stage: retry the socket hooks alone */
	srvlat_bpf__detach(k);
	l = bpf_program__attach(k->progs.srvlat_in);
	k->links.srvlat_in = l;
	l = l ? bpf_program__attach(k->progs.srvlat_out) : NULL;
	k->links.srvlat_out = l;
	if (!l)
		return kopt_errf(err, errlen, -errno,
				 "attaching the socket hooks failed: %s",
				 strerror(errno));
	if (s->info.best == SRVLAT_SRC_DEV)
		s->info.best = SRVLAT_SRC_STACK;
	snprintf(s->info.hw_note + strlen(s->info.hw_note),
		 sizeof(s->info.hw_note) - strlen(s->info.hw_note),
		 "; driver-receive hooks refused (%s)", strerror(-ret));
	return 0;
}

struct srvlat *srvlat_open(const struct srvlat_opts *o, char *err,
			   size_t errlen)
{
	struct srvlat *s;
	int i, ret;

	if (o->nr_ports < 1 || o->nr_ports > SRVLAT_MAX_PORTS) {
		kopt_errf(err, errlen, -EINVAL, "srvlat: 1 to %d ports",
			  SRVLAT_MAX_PORTS);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		kopt_errf(err, errlen, -ENOMEM, "srvlat: out of memory");
		return NULL;
	}
	s->phc_fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->phc_err_ns = NAN;
	for (i = 0; i < o->nr_ports; i++)
		snprintf(s->info.ports + strlen(s->info.ports),
			 sizeof(s->info.ports) - strlen(s->info.ports), "%s%u",
			 i ? "," : "", o->ports[i]);
	s->info.best = SRVLAT_SRC_STACK;
	if (o->ifname) {
		struct hwts_info hi;

		snprintf(s->info.ifname, sizeof(s->info.ifname), "%s",
			 o->ifname);
		s->info.ifindex = if_nametoindex(o->ifname);
		if (!s->info.ifindex) {
			kopt_errf(err, errlen, -ENODEV,
				  "srvlat: interface '%s' not found in this "
				  "network namespace",
				  o->ifname);
			goto fail;
		}
		if (!o->no_hw && hw_on(s, o->ifname)) {
			s->info.best = SRVLAT_SRC_HW;
			s->info.hw = true;
		} else {
			if (o->no_hw) {
				hwts_query(o->ifname, &hi);
				snprintf(s->info.driver, sizeof(s->info.driver),
					 "%s", hi.driver);
				snprintf(s->info.hw_note,
					 sizeof(s->info.hw_note),
					 "hardware stamps not requested");
			}
			if (!o->no_ring && !o->no_dev)
				s->info.ring_ifindex = veth_peer(
					s->info.ifindex, s->info.driver);
			s->info.best = s->info.ring_ifindex ? SRVLAT_SRC_RING :
							      SRVLAT_SRC_DEV;
		}
		if (o->no_dev && !s->info.hw) {
			s->info.best = SRVLAT_SRC_STACK;
			s->info.ifindex = 0; /* no driver stage */
		}
	}
	s->nr_cpus = libbpf_num_possible_cpus();
	if (s->nr_cpus <= 0) {
		kopt_errf(err, errlen, s->nr_cpus, "srvlat: possible CPUs");
		goto fail;
	}
	s->skel = srvlat_bpf__open();
	if (!s->skel) {
		kopt_errf(err, errlen, -errno,
			  "srvlat: opening bpf/srvlat.bpf.o: %s",
			  strerror(errno));
		goto fail;
	}
	set_rodata(s, o);
	if (!dev_stage(s)) {
		bpf_program__set_autoload(s->skel->progs.srvlat_gro, false);
		bpf_program__set_autoload(s->skel->progs.srvlat_rx, false);
	}
	ret = srvlat_bpf__load(s->skel);
	if (ret) {
		kopt_errf(err, errlen, ret,
			  "srvlat: loading bpf/srvlat.bpf.o refused: %s; run "
			  "with -vv for the verifier log",
			  strerror(-ret));
		goto fail;
	}
	if (s->info.hw && !hw_follow(s)) {
		kopt_errf(err, errlen, -EAGAIN, "srvlat: %s", s->info.hw_note);
		goto fail;
	}
	if (attach(s, err, errlen))
		goto fail;
	s->val_size = (bpf_map__value_size(s->skel->maps.hist) + 7) & ~7UL;
	s->buf = calloc(s->nr_cpus, s->val_size);
	if (!s->buf ||
	    hist_init_bits(&s->h, SRVLAT_HIGHEST_NS, SRVLAT_SUB_BITS) ||
	    s->h.nr_buckets != SRVLAT_NR_BUCKETS) {
		kopt_errf(err, errlen, -ENOMEM, "srvlat: out of memory");
		goto fail;
	}
	describe_arrival(s);
	s->prev_s = kopt_now_s();
	return s;
fail:
	srvlat_close(s);
	return NULL;
}

const struct srvlat_info *srvlat_info(const struct srvlat *s)
{
	return &s->info;
}

/* The sums over all CPUs as they stand. */
static int read_sums(struct srvlat *s, struct srvlat_hist *sum)
{
	__u32 zero = 0;
	int cpu, i;

	if (bpf_map__lookup_elem(s->skel->maps.hist, &zero, sizeof(zero),
				 s->buf, s->val_size * s->nr_cpus, 0))
		return -errno;
	memset(sum, 0, sizeof(*sum));
	for (cpu = 0; cpu < s->nr_cpus; cpu++) {
		const struct srvlat_hist *v =
			(const void *)((char *)s->buf + cpu * s->val_size);

		for (i = 0; i < SRVLAT_NR_STATS; i++)
			sum->stat[i] += v->stat[i];
		for (i = 0; i < SRVLAT_NR_BUCKETS; i++)
			sum->bucket[i] += v->bucket[i];
	}
	return 0;
}

int srvlat_read_window(struct srvlat *s, struct srvlat_window *w)
{
	struct srvlat_hist *cur = &s->cur;
	uint64_t *d = s->d;
	__u64 most = 0;
	double now = kopt_now_s();
	int i, ret;

	memset(w, 0, sizeof(*w));
	ret = read_sums(s, cur);
	if (ret)
		return ret;
	for (i = 0; i < SRVLAT_NR_BUCKETS; i++)
		d[i] = cur->bucket[i] - s->prev.bucket[i];
	hist_reset(&s->h);
	hist_add_buckets(&s->h, d, SRVLAT_NR_BUCKETS);
#define DSTAT(k) (cur->stat[k] - s->prev.stat[k])
	w->overflow = DSTAT(SRVLAT_STAT_OVERFLOW);
	hist_record_n(&s->h, SRVLAT_HIGHEST_NS + 1, w->overflow);
	w->seconds = now - s->prev_s;
	w->requests = DSTAT(SRVLAT_STAT_REQS);
	w->rate = w->seconds > 0 ? w->requests / w->seconds : 0;
	w->cont = DSTAT(SRVLAT_STAT_CONT);
	w->hw_bad = DSTAT(SRVLAT_STAT_HW_BAD);
	w->nostore = DSTAT(SRVLAT_STAT_NOSTORE);
	w->main_src = SRVLAT_SRC_STACK;
	for (i = 0; i < SRVLAT_NR_SRC; i++) {
		w->by_src[i] = DSTAT(SRVLAT_STAT_SRC + i);
		if (w->by_src[i] > most) {
			most = w->by_src[i];
			w->main_src = i;
		}
	}
	w->rel_error = hist_rel_error(&s->h);
	if (s->h.total) {
		w->p50_us = hist_percentile(&s->h, 50) / 1e3;
		w->p99_us = hist_percentile(&s->h, 99) / 1e3;
		w->p999_us = hist_percentile(&s->h, 99.9) / 1e3;
		w->max_us = s->h.max / 1e3;
		w->mean_us = w->requests ? DSTAT(SRVLAT_STAT_SUM_NS) /
						   (double)w->requests / 1e3 :
					   NAN;
	} else {
		w->p50_us = w->p99_us = w->p999_us = w->max_us = w->mean_us =
			NAN;
	}
#undef DSTAT
	pthread_mutex_lock(&s->mu);
	w->phc_err_ns = s->info.hw ? s->phc_err_ns : NAN;
	s->phc_err_ns = NAN;
	pthread_mutex_unlock(&s->mu);
	s->prev = *cur;
	s->prev_s = now;
	return 0;
}

int srvlat_prog_fds(const struct srvlat *s, const char **names, int *fds,
		    int max)
{
	struct bpf_program *p;
	int n = 0;

	bpf_object__for_each_program(p, s->skel->obj) {
		if (n >= max)
			break;
		if (!bpf_program__autoload(p))
			continue;
		names[n] = bpf_program__name(p);
		fds[n++] = bpf_program__fd(p);
	}
	return n;
}

void srvlat_close(struct srvlat *s)
{
	if (!s)
		return;
	/* the clock thread writes into the probe's .bss: stop it first */
	hw_off(s);
	srvlat_bpf__destroy(s->skel);
	hist_free(&s->h);
	free(s->buf);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}
