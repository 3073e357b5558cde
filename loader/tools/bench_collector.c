// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt bench collector: what the NIC collector (bpf/nic.bpf.c and
 * bpf/nic_xdp.bpf.c) costs per event, under a fixed load.
 *
 * Live cost: run-time statistics are enabled for this process's lifetime
 * (BPF_ENABLE_STATS, undone when its fd closes) and each program's
 * run_time_ns / run_cnt is read before and after a fixed load: a TCP
 * ping-pong of a fixed number of round trips between two threads placed
 * in two private network namespaces joined by a veth pair (the collector
 * on the server side, XDP native, per-record mode), plus direct,
 * synchronous disk writes so that the irq programs have vectors that
 * fire (veth has none; the disk's vectors stand in, and the irq programs
 * run the same code for any vector). The irq programs run on every
 * interrupt of the host; their figure mixes matched and foreign vectors.
 * An empty program on each tracepoint (bpf/nic_base.bpf.c), attached in
 * the same run, gives the floor every program pays (clock reads around it,
 * cold caches on rare events): the net figure is the collector's own.
 *
 * XDP cost: BPF_PROG_TEST_RUN with repeat on a TCP segment carrying
 * payload, against an empty XDP program in the same run (the baseline).
 *
 * Changes to the host: two network namespaces (deleted at the end) and a
 * scratch file (removed); the bench runs in a private mount namespace so
 * a bpffs libxdp may need is mounted there only.
 *
 * Two passes of the load: per-interrupt records on (the main figures,
 * what `kopt collect nic` costs) and window rates only (what the
 * collector costs under the control loop, which opens it with
 * nic_opts.rates_only: no records, no handler times, no cpu_idle).
 * Both run --rounds times, interleaved; a program's figure is its median
 * round, with the lowest and highest beside it: on this VM the irq exit
 * program's median moved over 141-213 ns between runs on one day.
 *
 * Cost: about six seconds.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "cli.h"
#include "labnet.h"
#include "opts.h"
#include "nic.h"
#include "nic_base.skel.h"
#include "nic_xdp.skel.h"

#define BENCH_BUDGET_NS 150 /* acceptance: per event, each tracepoint */
#define DEF_ROUND_TRIPS 20000
#define MAX_ROUND_TRIPS 10000000
#define DEF_ROUNDS 5
#define MAX_ROUNDS 101
#define DEF_REPEAT 1000000
#define MAX_REPEAT 100000000
#define MSG_BYTES 64
#define SERVER_ADDR "10.77.1.2"
#define CLIENT_ADDR "10.77.1.1"
#define SERVER_PORT 11411
#define IF_CLIENT "kbca"
#define IF_SERVER "kbcb"
#define DISK_BLOCK 4096
#define POLL_MS 20
#define MAX_PROGS 16
#define PKT_PAYLOAD 64

struct bench_args {
	bool window_only; /* no per-interrupt records: the control loop's use */
	long round_trips;
	long rounds; /* passes of each mode, interleaved */
	long repeat;
	__u32 irqs[NIC_MAX_IRQS];
	int nr_irqs;
};

struct load {
	char ns_client[64], ns_server[64];
	long round_trips;
	long done; /* round trips completed */
	int listen_fd;
	bool disk; /* write to the disk beside the ping-pong */
	volatile int stop_disk;
	long disk_writes;
	char disk_why[128]; /* why there were no disk writes */
	int err;
	char why[160];
};

struct prog_stat {
	const char *name;
	int fd;
	__u64 cnt0, ns0, cnt1, ns1;
};

/* Per event over the load; NAN when the program never ran. */
static double ns_per_event(const struct prog_stat *p)
{
	__u64 cnt = p->cnt1 - p->cnt0;

	return cnt ? (double)(p->ns1 - p->ns0) / cnt : NAN;
}

/* The empty program on the same tracepoint: nic_rx -> base_rx. */
static const struct prog_stat *baseline_of(const struct prog_stat *p,
					   const struct prog_stat *base, int n)
{
	int i;

	if (strncmp(p->name, "nic_", 4))
		return NULL;
	for (i = 0; i < n; i++)
		if (!strcmp(base[i].name + strlen("base_"), p->name + 4))
			return &base[i];
	return NULL;
}

/* ---- namespaces --------------------------------------------------------- */

static int netns_up(struct load *l)
{
	snprintf(l->ns_client, sizeof(l->ns_client), "kopt-bc%d-a", getpid());
	snprintf(l->ns_server, sizeof(l->ns_server), "kopt-bc%d-b", getpid());
	return labnet_sh(
		"set -e; exec >/dev/null 2>&1; "
		"ip netns add %1$s; ip netns add %2$s; "
		"ip -n %1$s link set lo up; ip -n %2$s link set lo up; "
		"ip -n %1$s link add " IF_CLIENT
		" type veth peer name " IF_SERVER " netns %2$s; "
		"ip -n %1$s addr add " CLIENT_ADDR "/24 dev " IF_CLIENT "; "
		"ip -n %2$s addr add " SERVER_ADDR "/24 dev " IF_SERVER "; "
		"ip -n %1$s link set " IF_CLIENT " up; "
		"ip -n %2$s link set " IF_SERVER " up",
		l->ns_client, l->ns_server);
}

static void netns_down(struct load *l)
{
	labnet_sh(
		"ip netns del %s >/dev/null 2>&1; ip netns del %s >/dev/null 2>&1",
		l->ns_client, l->ns_server);
}

/* ---- the load -------------------------------------------------------------- */

static void *server_main(void *arg)
{
	struct load *l = arg;
	char buf[MSG_BYTES];
	int fd = accept(l->listen_fd, NULL, NULL);

	while (fd >= 0 && !labnet_full_io(fd, buf, sizeof(buf), true) &&
	       !labnet_full_io(fd, buf, sizeof(buf), false))
		;
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void *client_main(void *arg)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(SERVER_PORT) };
	struct load *l = arg;
	char buf[MSG_BYTES] = "kopt";
	int fd, one = 1;

	if (labnet_enter(l->ns_client)) {
		snprintf(l->why, sizeof(l->why), "setns client: %s",
			 strerror(errno));
		l->err = -1;
		return NULL;
	}
	inet_pton(AF_INET, SERVER_ADDR, &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(l->why, sizeof(l->why), "connect %s:%d: %s",
			 SERVER_ADDR, SERVER_PORT, strerror(errno));
		l->err = -1;
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (l->done = 0; l->done < l->round_trips; l->done++)
		if (labnet_full_io(fd, buf, sizeof(buf), false) ||
		    labnet_full_io(fd, buf, sizeof(buf), true))
			break;
	close(fd);
	return NULL;
}

/*
 * Direct, synchronous 4 KiB writes: each completes through a disk irq.
 * The file is unnamed (O_TMPFILE): nothing is left even after a crash.
 */
static void *disk_main(void *arg)
{
	struct load *l = arg;
	void *buf = NULL;
	int fd;

	fd = open("/var/tmp",
		  O_TMPFILE | O_WRONLY | O_DIRECT | O_DSYNC | O_CLOEXEC, 0600);
	if (fd < 0 || posix_memalign(&buf, DISK_BLOCK, DISK_BLOCK)) {
		snprintf(l->disk_why, sizeof(l->disk_why),
			 "direct writes to /var/tmp: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	memset(buf, 0, DISK_BLOCK);
	while (!l->stop_disk && pwrite(fd, buf, DISK_BLOCK, 0) == DISK_BLOCK)
		l->disk_writes++;
	free(buf);
	close(fd);
	return NULL;
}

static int listen_server(struct load *l)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(SERVER_PORT) };
	int one = 1;

	inet_pton(AF_INET, SERVER_ADDR, &sa.sin_addr);
	l->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->listen_fd < 0)
		return -errno;
	setsockopt(l->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(l->listen_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(l->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(l->listen_fd, 1))
		return -errno;
	return 0;
}

/* ---- run-time statistics -------------------------------------------------- */

static void read_stats(struct prog_stat *p, int n, bool after)
{
	struct bpf_prog_info info;
	__u32 len;
	int i;

	for (i = 0; i < n; i++) {
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (p[i].fd < 0 || bpf_obj_get_info_by_fd(p[i].fd, &info, &len))
			continue;
		if (after) {
			p[i].cnt1 = info.run_cnt;
			p[i].ns1 = info.run_time_ns;
		} else {
			p[i].cnt0 = info.run_cnt;
			p[i].ns0 = info.run_time_ns;
		}
	}
}

/* Drives the load while draining records; 0 or -1 with l->why. */
/*
 * The ping-pong, with direct disk writes beside it so that the traced
 * vectors fire. Run apart, each would leave the CPUs idling between
 * events and measure little more than a VM's cold caches. 0, or -1 with
 * l->why.
 */
static int run_load(struct nic *n, struct load *l, double *secs)
{
	pthread_t srv, cli, disk;
	double t0;

	if (listen_server(l)) {
		snprintf(l->why, sizeof(l->why), "listen on %s:%d: %s",
			 SERVER_ADDR, SERVER_PORT, strerror(errno));
		return -1;
	}
	t0 = kopt_now_s();
	pthread_create(&srv, NULL, server_main, l);
	if (l->disk)
		pthread_create(&disk, NULL, disk_main, l);
	pthread_create(&cli, NULL, client_main, l);
	while (pthread_tryjoin_np(cli, NULL))
		nic_poll(n, POLL_MS);
	l->stop_disk = 1;
	if (l->disk)
		pthread_join(disk, NULL);
	shutdown(l->listen_fd, SHUT_RDWR);
	pthread_join(srv, NULL);
	close(l->listen_fd);
	*secs = kopt_now_s() - t0;
	return l->err;
}

/* ---- XDP through BPF_PROG_TEST_RUN -------------------------------------- */

/* Ethernet + IPv4 + TCP with PKT_PAYLOAD bytes: the counter's full path. */
static void build_packet(unsigned char *pkt, size_t len)
{
	struct ethhdr eth = { .h_proto = htons(ETH_P_IP) };
	struct iphdr ip = {
		.version = 4,
		.ihl = sizeof(ip) / 4,
		.tot_len = htons(len - sizeof(eth)),
		.protocol = IPPROTO_TCP,
	};
	struct tcphdr th = { .doff = sizeof(th) / 4, .ack = 1 };

	/* built apart and copied: the IP header is not aligned in a frame */
	memset(pkt, 0, len);
	memcpy(pkt, &eth, sizeof(eth));
	memcpy(pkt + sizeof(eth), &ip, sizeof(ip));
	memcpy(pkt + sizeof(eth) + sizeof(ip), &th, sizeof(th));
}

static int test_run(int fd, long repeat, __u32 *ns, __u32 *retval)
{
	unsigned char pkt[sizeof(struct ethhdr) + sizeof(struct iphdr) +
			  sizeof(struct tcphdr) + PKT_PAYLOAD];
	LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = pkt,
		    .data_size_in = sizeof(pkt), .repeat = repeat);

	build_packet(pkt, sizeof(pkt));
	if (bpf_prog_test_run_opts(fd, &topts))
		return -errno;
	*ns = topts.duration;
	*retval = topts.retval;
	return 0;
}

/* An empty program's run, then the measured one's: [0] and [1]. */
static int test_run_pair(int fd_empty, int fd, long repeat, __u32 ns[2],
			 __u32 rv[2])
{
	int err = test_run(fd_empty, repeat, &ns[0], &rv[0]);

	return err ? err : test_run(fd, repeat, &ns[1], &rv[1]);
}

/* o with the error, which stderr gets too. */
static struct json_object *test_run_failed(struct json_object *o,
					   const char *what, int err)
{
	pr_warn("BPF_PROG_TEST_RUN of %s failed (%s)\n", what, strerror(-err));
	json_object_object_add(o, "error",
			       json_object_new_string(strerror(-err)));
	return o;
}

static struct json_object *xdp_test_run_json(long repeat, int *err)
{
	struct json_object *o = json_object_new_object();
	struct nic_xdp_bpf *x = nic_xdp_bpf__open_and_load();
	__u32 ns[2] = {}, rv[2] = {};

	*err = x ? 0 : -errno;
	if (!*err)
		*err = test_run_pair(bpf_program__fd(x->progs.nic_xdp_empty),
				     bpf_program__fd(x->progs.nic_xdp_count),
				     repeat, ns, rv);
	nic_xdp_bpf__destroy(x);
	if (*err)
		return test_run_failed(o, "the XDP counter", *err);
	json_object_object_add(o, "repeat", json_object_new_int64(repeat));
	json_object_object_add(o, "packet_bytes",
			       json_object_new_int(sizeof(struct ethhdr) +
						   sizeof(struct iphdr) +
						   sizeof(struct tcphdr) +
						   PKT_PAYLOAD));
	json_object_object_add(o, "ns_per_packet", json_object_new_int(ns[1]));
	json_object_object_add(o, "empty_ns_per_packet",
			       json_object_new_int(ns[0]));
	json_object_object_add(o, "net_ns_per_packet",
			       json_object_new_int((int)ns[1] - (int)ns[0]));
	json_object_object_add(o, "verdict_pass",
			       json_object_new_boolean(rv[1] == XDP_PASS &&
						       rv[0] == XDP_PASS));
	return o;
}

/*
 * What one bpf_ktime_get_ns() costs here: base_clock_reads makes
 * CLOCK_READS of them per run, base_xdp_empty is the same run without.
 * Every timed collector event reads the clock once, so this is the part
 * of each figure no change to the collector can take away.
 */
#define CLOCK_READS 16 /* BASE_CLOCK_READS in bpf/nic_base.bpf.c */

static struct json_object *clock_json(long repeat, int *err)
{
	struct json_object *o = json_object_new_object();
	struct nic_base_bpf *b = nic_base_bpf__open();
	__u32 ns[2] = {}, rv[2];
	long runs = repeat / CLOCK_READS > 0 ? repeat / CLOCK_READS : 1;
	struct bpf_program *p;

	*err = b ? 0 : -errno;
	if (!*err) {
		/* only the two XDP programs: not the tracepoint ones */
		bpf_object__for_each_program(p, b->obj)
			bpf_program__set_autoload(
				p, p == b->progs.base_clock_reads ||
					   p == b->progs.base_xdp_empty);
		*err = nic_base_bpf__load(b) ? -errno : 0;
	}
	if (!*err)
		*err = test_run_pair(bpf_program__fd(b->progs.base_xdp_empty),
				     bpf_program__fd(b->progs.base_clock_reads),
				     runs, ns, rv);
	nic_base_bpf__destroy(b);
	if (*err)
		return test_run_failed(o, "the clock reads", *err);
	json_object_object_add(o, "helper",
			       json_object_new_string("bpf_ktime_get_ns"));
	json_object_object_add(o, "reads",
			       json_object_new_int64(runs * CLOCK_READS));
	json_object_object_add(
		o, "ns_per_read",
		json_object_new_double(((double)ns[1] - ns[0]) / CLOCK_READS));
	return o;
}

/* ---- the irq vectors that stand in for a NIC's ------------------------- */

/* Vectors of the disk that holds /var/tmp, where disk_main writes. */
static int disk_irqs(struct bench_args *a, char *src, size_t len)
{
	struct nic_irq irqs[NIC_MAX_IRQS];
	int n = nic_find_disk_irqs("/var/tmp", irqs, NIC_MAX_IRQS, src, len);
	int i;

	/* a stand-in for a NIC's: the first NIC_MAX_IRQS do */
	if (n > NIC_MAX_IRQS)
		n = NIC_MAX_IRQS;
	for (i = 0; i < n; i++)
		a->irqs[i] = irqs[i].irq;
	a->nr_irqs = n > 0 ? n : 0;
	return a->nr_irqs;
}

/* ---- output ----------------------------------------------------------------- */

static struct json_object *jnum(double v)
{
	return kopt_json_num(v, NULL);
}

/* --irq LIST: the vectors for the irq programs */
static int irq_arg(const char *list, void *to, char *why, size_t len)
{
	struct bench_args *a = to;
	char *copy = strdup(list), *tok, *save = NULL;
	int err = 0;
	long v;

	if (!copy) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	a->nr_irqs = 0;
	for (tok = strtok_r(copy, ",", &save); tok && !err;
	     tok = strtok_r(NULL, ",", &save)) {
		if (a->nr_irqs >= NIC_MAX_IRQS ||
		    kopt_parse_long(tok, 0, 65535, &v)) {
			snprintf(why, len,
				 "'%s' is not an IRQ number (or more than %d)",
				 tok, NIC_MAX_IRQS);
			err = -EINVAL;
		} else {
			a->irqs[a->nr_irqs++] = v;
		}
	}
	free(copy);
	return err;
}

/* the defaults, in help text */
#define MSG_BYTES_S KOPT_STR(MSG_BYTES)
#define DEF_ROUND_TRIPS_S KOPT_STR(DEF_ROUND_TRIPS)
#define DEF_ROUNDS_S KOPT_STR(DEF_ROUNDS)
#define DEF_REPEAT_S KOPT_STR(DEF_REPEAT)

/* false after --help or a usage error (*ret says which) */
static bool parse_args(int argc, char **argv, struct bench_args *a, int *ret)
{
	const struct kopt_opts spec = {
		.cmd = "kopt bench collector",
		.usage = "[--json] [--round-trips N] [--rounds N] [--repeat N] "
			 "[--irq LIST] [--window-only]",
		.desc = "Cost per event of each NIC collector program "
			"(run_time_ns / run_cnt\nfrom BPF run-time statistics) "
			"under a fixed TCP ping-pong through a\nveth pair in "
			"private network namespaces, and the XDP counter's\n"
			"ns/packet by BPF_PROG_TEST_RUN next to an empty XDP "
			"program.\nThe irq programs are filtered to the disk's "
			"vectors (or --irq),\ndriven by direct disk writes: veth "
			"has no vectors. The load\nruns in two modes: "
			"per-interrupt records on, and window\nrates only (the "
			"control loop's use), each --rounds times,\ninterleaved; "
			"each figure is the median round. Needs root.",
		.opts = KOPT_OPTS(
			KOPT_OPT_LONG("round-trips", 0, &a->round_trips, 1,
				      MAX_ROUND_TRIPS, "N",
				      "TCP round trips of " MSG_BYTES_S
				      " bytes a round "
				      "(default " DEF_ROUND_TRIPS_S ")"),
			KOPT_OPT_LONG(
				"rounds", 0, &a->rounds, 1, MAX_ROUNDS, "N",
				"rounds of each mode (default " DEF_ROUNDS_S
				")"),
			KOPT_OPT_LONG(
				"repeat", 0, &a->repeat, 1, MAX_REPEAT, "N",
				"BPF_PROG_TEST_RUN repeat (default " DEF_REPEAT_S
				")"),
			KOPT_OPT_FUNC("irq", 0, irq_arg, a, "LIST",
				      "vectors for the irq programs"),
			KOPT_OPT_FLAG("window-only", 0, &a->window_only,
				      "the window-rates pass only"),
			KOPT_OPT_JSON("one JSON object")),
	};

	return kopt_opts_parse(&spec, argc, argv, ret);
}

/*
 * A private mount namespace: a tmpfs at /run/netns, where `ip netns add`
 * makes its files, and the bpffs libxdp needs, mounted here once for all
 * rounds (else each nic_open() would mount one): a crash leaves nothing
 * on the host.
 */
static int private_mounts(void)
{
	const char *run = access("/run/netns", F_OK) ? "/run" : "/run/netns";

	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("tmpfs", run, "tmpfs", 0, "mode=0755"))
		return -errno;
	if (!kopt_is_bpffs("/sys/fs/bpf") &&
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
		pr_warn("mount bpffs at /sys/fs/bpf failed (%s); the "
			"collector says what it does instead\n",
			strerror(errno));
	return 0;
}

struct bench_result {
	struct prog_stat progs[MAX_PROGS];
	int nr_progs;
	struct prog_stat base[MAX_PROGS]; /* empty programs, same events */
	int nr_base;
	struct nic_stats totals;
	double secs;
	char irq_source[160];
	struct load load;
	__u64 records; /* records delivered in this pass */
};

/* Records of interrupts and polls; not the end records of nic_stop(). */
static void count_record(void *ctx, const struct nic_record *rec)
{
	struct bench_result *r = ctx;

	r->records += rec->kind != NIC_REC_END;
}

/* The rounds of one mode. */
struct bench_mode {
	struct bench_result *round[MAX_ROUNDS];
	int n;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median, lowest and highest of the finite values; NAN if none. */
static double spread(double *v, int n, double *lo, double *hi)
{
	int i, k = 0;

	for (i = 0; i < n; i++)
		if (isfinite(v[i]))
			v[k++] = v[i];
	*lo = *hi = NAN;
	if (!k)
		return NAN;
	qsort(v, k, sizeof(*v), cmp_double);
	*lo = v[0];
	*hi = v[k - 1];
	return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

/* One program over the rounds: sums, and the median round's figures. */
struct prog_fig {
	__u64 cnt, ns;
	double secs, per_event, lo, hi, base, net;
	int rounds; /* rounds the program was loaded in */
	bool has_base;
};

static const struct prog_stat *prog_by_name(const struct bench_result *r,
					    const char *name)
{
	int i;

	for (i = 0; i < r->nr_progs; i++)
		if (r->progs[i].name && !strcmp(r->progs[i].name, name))
			return &r->progs[i];
	return NULL;
}

/*
 * Every program of every round, once, in order of appearance: a round
 * may lack one (XDP refused on that attach, say).
 */
static int prog_names(const struct bench_mode *m, const char **names)
{
	const struct bench_result *r;
	int k, i, j, n = 0;

	for (k = 0; k < m->n; k++) {
		r = m->round[k];
		for (i = 0; i < r->nr_progs; i++) {
			if (!r->progs[i].name)
				continue;
			for (j = 0; j < n; j++)
				if (!strcmp(names[j], r->progs[i].name))
					break;
			if (j == n && n < MAX_PROGS)
				names[n++] = r->progs[i].name;
		}
	}
	return n;
}

static void prog_figure(const struct bench_mode *m, const char *name,
			struct prog_fig *f)
{
	double pe[MAX_ROUNDS], be[MAX_ROUNDS], ne[MAX_ROUNDS], lo, hi;
	int k;

	memset(f, 0, sizeof(*f));
	for (k = 0; k < m->n; k++) {
		const struct bench_result *r = m->round[k];
		const struct prog_stat *p = prog_by_name(r, name);
		const struct prog_stat *b;

		pe[k] = be[k] = ne[k] = NAN;
		if (!p)
			continue;
		b = baseline_of(p, r->base, r->nr_base);
		f->rounds++;
		f->cnt += p->cnt1 - p->cnt0;
		f->ns += p->ns1 - p->ns0;
		f->secs += r->secs;
		pe[k] = ns_per_event(p);
		be[k] = b ? ns_per_event(b) : NAN;
		ne[k] = pe[k] - be[k];
		f->has_base |= b != NULL;
	}
	f->per_event = spread(pe, m->n, &f->lo, &f->hi);
	f->base = spread(be, m->n, &lo, &hi);
	f->net = spread(ne, m->n, &lo, &hi);
}

static struct json_object *progs_json(const struct bench_mode *m, bool *raw_ok,
				      bool *net_ok)
{
	struct json_object *o = json_object_new_object();
	const char *names[MAX_PROGS];
	struct prog_fig f;
	int i, n = prog_names(m, names);

	*raw_ok = *net_ok = true;
	for (i = 0; i < n; i++) {
		struct json_object *v = json_object_new_object();

		prog_figure(m, names[i], &f);
		json_object_object_add(v, "rounds",
				       json_object_new_int(f.rounds));
		json_object_object_add(v, "run_cnt",
				       json_object_new_int64(f.cnt));
		json_object_object_add(v, "run_time_ns",
				       json_object_new_int64(f.ns));
		json_object_object_add(v, "events_per_s",
				       jnum(f.secs > 0 ? f.cnt / f.secs : NAN));
		json_object_object_add(v, "ns_per_event", jnum(f.per_event));
		json_object_object_add(v, "ns_per_event_lowest", jnum(f.lo));
		json_object_object_add(v, "ns_per_event_highest", jnum(f.hi));
		json_object_object_add(v, "baseline_ns_per_event",
				       jnum(f.base));
		json_object_object_add(v, "net_ns_per_event", jnum(f.net));
		/* the budget is for tracepoint programs (XDP: test run) */
		if (f.has_base && isfinite(f.per_event) &&
		    f.per_event > BENCH_BUDGET_NS)
			*raw_ok = false;
		if (f.has_base && isfinite(f.net) && f.net > BENCH_BUDGET_NS)
			*net_ok = false;
		json_object_object_add(o, names[i], v);
	}
	return o;
}

static void print_text(const struct bench_mode *m)
{
	const char *names[MAX_PROGS];
	struct prog_fig f;
	int i, n = prog_names(m, names);

	printf("%-16s %10s %12s %10s %15s %8s %8s\n", "program", "run_cnt",
	       "events/s", "ns/event", "(lowest-highest)", "empty", "net");
	for (i = 0; i < n; i++) {
		prog_figure(m, names[i], &f);
		printf("%-16s %10llu %12.0f %10.1f %7.0f-%-7.0f %8.1f %8.1f",
		       names[i], (unsigned long long)f.cnt,
		       f.secs > 0 ? f.cnt / f.secs : NAN, f.per_event, f.lo,
		       f.hi, f.base, f.net);
		if (f.rounds < m->n)
			printf("  (loaded in %d of %d rounds)", f.rounds, m->n);
		printf("\n");
	}
	printf("(median of %d round%s)\n", m->n, m->n == 1 ? "" : "s");
}

/* Attaches the empty programs after the collector's (they run second). */
static struct nic_base_bpf *baseline_attach(struct bench_result *r)
{
	struct nic_base_bpf *b = nic_base_bpf__open();
	struct bpf_program *p;

	if (b) { /* the clock programs are for clock_json() */
		bpf_program__set_autoload(b->progs.base_clock_reads, false);
		bpf_program__set_autoload(b->progs.base_xdp_empty, false);
	}
	if (!b || nic_base_bpf__load(b) || nic_base_bpf__attach(b)) {
		pr_warn("loading the baseline programs failed (%s); no "
			"baseline\n",
			strerror(errno));
		nic_base_bpf__destroy(b);
		return NULL;
	}
	bpf_object__for_each_program(p, b->obj) {
		if (r->nr_base >= MAX_PROGS)
			break;
		if (!bpf_program__autoload(p))
			continue;
		r->base[r->nr_base].name = strdup(bpf_program__name(p));
		r->base[r->nr_base++].fd = bpf_program__fd(p);
	}
	return b;
}

static int measure_live(struct bench_args *a, struct bench_result *r)
{
	struct nic_opts opts = { .xdp_mode = NIC_XDP_AUTO,
				 .on_record = a->window_only ? NULL :
							       count_record,
				 .ctx = r,
				 .irqs = a->irqs,
				 .nr_irqs = a->nr_irqs,
				 /* as `kopt run --plant host` opens it */
				 .rates_only = a->window_only };
	const char *names[MAX_PROGS];
	int fds[MAX_PROGS], i, nr, ret = KOPT_EXIT_OK;
	int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	struct nic_base_bpf *base = NULL;
	struct nic *n;

	if (home < 0 || labnet_enter(r->load.ns_server)) {
		pr_warn("entering netns %s failed (%s)\n", r->load.ns_server,
			strerror(errno));
		if (home >= 0)
			close(home);
		return KOPT_EXIT_FAIL;
	}
	n = nic_open(IF_SERVER, &opts);
	if (!n) {
		ret = errno == EPERM ? KOPT_EXIT_PERM : KOPT_EXIT_BPF;
		goto out;
	}
	nr = nic_prog_fds(n, names, fds, MAX_PROGS);
	for (i = 0; i < nr; i++) {
		if (fds[i] < 0) /* not loaded in this mode */
			continue;
		r->progs[r->nr_progs].name = strdup(names[i]);
		r->progs[r->nr_progs++].fd = fds[i];
	}
	base = baseline_attach(r);
	read_stats(r->progs, r->nr_progs, false);
	read_stats(r->base, r->nr_base, false);
	if (run_load(n, &r->load, &r->secs)) {
		pr_warn("the load failed: %s\n", r->load.why);
		ret = KOPT_EXIT_FAIL;
	}
	read_stats(r->progs, r->nr_progs, true);
	read_stats(r->base, r->nr_base, true);
	nic_base_bpf__destroy(base);
	nic_stop(n);
	nic_read_totals(n, &r->totals);
	nic_close(n);
out:
	/* back home: later benches must not run in a deleted namespace */
	if (setns(home, CLONE_NEWNET))
		pr_warn("returning to the original netns failed (%s)\n",
			strerror(errno));
	close(home);
	return ret;
}

static void bench_result_free(struct bench_result *r)
{
	int i;

	if (!r)
		return;
	for (i = 0; i < r->nr_progs; i++)
		free((char *)r->progs[i].name);
	for (i = 0; i < r->nr_base; i++)
		free((char *)r->base[i].name);
	free(r);
}

static void bench_mode_free(struct bench_mode *m)
{
	int k;

	for (k = 0; k < m->n; k++)
		bench_result_free(m->round[k]);
	m->n = 0;
}

/* One pass of the load in the namespaces set up in proto; NULL if failed. */
static struct bench_result *measure_pass(const struct bench_args *a,
					 const struct bench_result *proto,
					 bool window_only, int *ret)
{
	struct bench_args pa = *a;
	struct bench_result *r = calloc(1, sizeof(*r));

	if (!r) {
		*ret = KOPT_EXIT_FAIL;
		return NULL;
	}
	pa.window_only = window_only;
	r->load = proto->load;
	r->load.done = r->load.disk_writes = 0;
	r->load.disk_why[0] = r->load.why[0] = '\0';
	r->load.err = 0;
	memcpy(r->irq_source, proto->irq_source, sizeof(r->irq_source));
	*ret = measure_live(&pa, r);
	if (*ret) {
		bench_result_free(r);
		return NULL;
	}
	return r;
}

static __u64 mode_sum(const struct bench_mode *m, enum nic_stat s)
{
	__u64 sum = 0;
	int k;

	for (k = 0; k < m->n; k++)
		sum += m->round[k]->totals.v[s];
	return sum;
}

static struct json_object *load_json(const struct bench_mode *m)
{
	struct json_object *ld = json_object_new_object();
	long done = 0, disk = 0;
	double secs = 0;
	int k;

	for (k = 0; k < m->n; k++) {
		done += m->round[k]->load.done;
		disk += m->round[k]->load.disk_writes;
		secs += m->round[k]->secs;
	}
	json_object_object_add(ld, "rounds", json_object_new_int(m->n));
	json_object_object_add(ld, "round_trips", json_object_new_int64(done));
	json_object_object_add(ld, "message_bytes",
			       json_object_new_int(MSG_BYTES));
	json_object_object_add(ld, "seconds", json_object_new_double(secs));
	json_object_object_add(ld, "disk_writes", json_object_new_int64(disk));
	for (k = 0; k < m->n; k++) {
		if (!m->round[k]->load.disk_why[0])
			continue;
		json_object_object_add(
			ld, "disk_error",
			json_object_new_string(m->round[k]->load.disk_why));
		break;
	}
	json_object_object_add(
		ld, "rx_packets",
		json_object_new_int64(mode_sum(m, NIC_STAT_RX_PKTS)));
	json_object_object_add(
		ld, "xdp_packets",
		json_object_new_int64(mode_sum(m, NIC_STAT_XDP_PKTS)));
	json_object_object_add(
		ld, "irqs", json_object_new_int64(mode_sum(m, NIC_STAT_IRQS)));
	json_object_object_add(
		ld, "napi_polls",
		json_object_new_int64(mode_sum(m, NIC_STAT_NAPI_POLLS)));
	return ld;
}

/*
 * The same load with window rates only (nic_opts.rates_only): what the
 * collector costs while the control loop runs (kopt run --plant host
 * opens it so), next to the records mode of the main figures.
 */
static struct json_object *window_json(const struct bench_mode *w)
{
	struct json_object *o = json_object_new_object();
	bool raw_ok, net_ok;

	json_object_object_add(o, "what",
			       json_object_new_string(
				       "same load, window rates only "
				       "(nic_opts.rates_only): the control "
				       "loop's mode"));
	json_object_object_add(o, "programs", progs_json(w, &raw_ok, &net_ok));
	json_object_object_add(o, "within_budget",
			       json_object_new_boolean(raw_ok));
	json_object_object_add(o, "within_budget_net",
			       json_object_new_boolean(net_ok));
	return o;
}

static void print_json(struct bench_args *a, const struct bench_mode *m,
		       const struct bench_mode *w, struct json_object *xdp,
		       struct json_object *clock)
{
	struct json_object *o = json_object_new_object();
	__u64 records = 0;
	bool raw_ok, net_ok;
	int k;

	for (k = 0; k < m->n; k++)
		records += m->round[k]->records;
	json_object_object_add(o, "programs", progs_json(m, &raw_ok, &net_ok));
	json_object_object_add(o, "xdp_test_run", xdp);
	json_object_object_add(o, "clock_read", clock);
	json_object_object_add(o, "load", load_json(m));
	json_object_object_add(o, "irq_source",
			       json_object_new_string(m->round[0]->irq_source));
	json_object_object_add(
		o, "records_mode",
		json_object_new_string(a->window_only ?
					       "window rates only" :
					       "per-interrupt records"));
	json_object_object_add(o, "records", json_object_new_int64(records));
	json_object_object_add(
		o, "lost_records",
		json_object_new_int64(mode_sum(m, NIC_STAT_LOST)));
	json_object_object_add(o, "budget_ns_per_event",
			       json_object_new_int(BENCH_BUDGET_NS));
	/* median rounds; raw: as measured; net: minus the empty program */
	json_object_object_add(o, "within_budget",
			       json_object_new_boolean(raw_ok));
	json_object_object_add(o, "within_budget_net",
			       json_object_new_boolean(net_ok));
	if (w->n)
		json_object_object_add(o, "window_only", window_json(w));
	printf("%s\n", kopt_json_text(o));
	json_object_put(o);
}

/*
 * Rounds of the main mode and, unless --window-only, of window totals
 * only, interleaved so that a slow spell of the machine hits both. A
 * failed window-only round ends that mode with a warning; a failed main
 * round is the bench's failure.
 */
static int measure_rounds(struct bench_args *a,
			  const struct bench_result *proto,
			  struct bench_mode *m, struct bench_mode *w)
{
	struct bench_result *r;
	bool window_ok = !a->window_only;
	int k, ret = 0, wret;

	for (k = 0; k < a->rounds; k++) {
		r = measure_pass(a, proto, a->window_only, &ret);
		if (!r)
			return ret;
		m->round[m->n++] = r;
		if (!window_ok)
			continue;
		r = measure_pass(a, proto, true, &wret);
		if (!r) {
			pr_warn("a window-only round failed; records mode "
				"only\n");
			bench_mode_free(w);
			window_ok = false;
			continue;
		}
		w->round[w->n++] = r;
	}
	return 0;
}

int cmd_bench_collector(int argc, char **argv)
{
	struct bench_args a = { .round_trips = DEF_ROUND_TRIPS,
				.rounds = DEF_ROUNDS,
				.repeat = DEF_REPEAT };
	struct bench_mode m = {}, w = {};
	struct json_object *xdp, *clock;
	struct bench_result *r;
	int ret, stats_fd, err;

	if (!parse_args(argc, argv, &a, &ret))
		return ret;
	if (!kopt_have_bpf_caps())
		return kopt_need_root("kopt bench collector");
	r = calloc(1, sizeof(*r));
	if (!r)
		return KOPT_EXIT_FAIL;
	r->load.round_trips = a.round_trips;
	if (a.nr_irqs)
		snprintf(r->irq_source, sizeof(r->irq_source), "--irq");
	else if (!disk_irqs(&a, r->irq_source, sizeof(r->irq_source)))
		snprintf(r->irq_source, sizeof(r->irq_source),
			 "none found: irq programs not measured (pass --irq)");
	/* disk writes make the traced vectors fire */
	r->load.disk = a.nr_irqs > 0;
	/* fd-scoped: closing it turns the statistics off again */
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		pr_warn("BPF_ENABLE_STATS refused (%s): no run-time "
			"statistics\n",
			strerror(errno));
		free(r);
		return KOPT_EXIT_BPF;
	}
	err = private_mounts();
	if (!err)
		err = netns_up(&r->load);
	if (err) {
		pr_warn("setting up the private namespaces failed (%s)\n",
			err == -1 ? "ip netns/ip link" : strerror(-err));
		ret = KOPT_EXIT_FAIL;
	} else {
		ret = measure_rounds(&a, r, &m, &w);
	}
	netns_down(&r->load);
	close(stats_fd);
	xdp = xdp_test_run_json(a.repeat, &err);
	if (!ret && err)
		ret = KOPT_EXIT_BPF;
	clock = clock_json(a.repeat, &err);
	if (!ret && err)
		ret = KOPT_EXIT_BPF;
	if (!m.n) {
		json_object_put(xdp);
		json_object_put(clock);
	} else if (kopt_env.json) {
		print_json(&a, &m, &w, xdp, clock);
	} else {
		print_text(&m);
		if (w.n) {
			printf("\nwindow rates only (the control loop's "
			       "mode):\n");
			print_text(&w);
		}
		printf("XDP test run: %s\n", json_object_to_json_string(xdp));
		printf("clock read: %s\n", json_object_to_json_string(clock));
		json_object_put(xdp);
		json_object_put(clock);
	}
	bench_mode_free(&m);
	bench_mode_free(&w);
	bench_result_free(r);
	return ret;
}
