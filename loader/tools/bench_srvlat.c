// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt bench srvlat: what the server-latency probe (bpf/srvlat.bpf.c)
 * costs per event and per request, under a fixed load.
 *
 * BPF_PROG_TEST_RUN would be the clean way, but tp_btf programs have
 * none (the kernel test-runs fentry/fexit/fmod_ret tracing programs and
 * the packet program types; here it answers EFAULT): the bench tries it
 * on the probe's program and reports the refusal. Nor could a test run
 * hand the probe a socket and an skb, which its full path reads. So the
 * cost is measured live:
 * run-time statistics are enabled for this process's lifetime
 * (BPF_ENABLE_STATS, undone when its fd closes) and each program's
 * run_time_ns / run_cnt is read before and after a TCP ping-pong of a
 * fixed number of 64-byte round trips between two threads in two private
 * network namespaces joined by a veth pair in NAPI mode (GRO on the
 * server's side, TSO off on the client's), the probe watching the
 * server's port with the veth's ring stage (the arrival stamp at the
 * peer's transmit), as `kopt run` opens it there. An empty program
 * on each tracepoint (bpf/srvlat_base.bpf.c), attached in the same run,
 * gives the floor every program pays: the net figure is the probe's own.
 *
 * The tracepoints fire for every packet of the host, so a program's
 * events mix the service's (the full path: stamp, storage, histogram)
 * with others' (a port compare); the per-request figure adds each
 * program's net cost of all its events in the run and divides by the
 * requests the probe measured.
 *
 * Each figure is the median of --rounds rounds, with the lowest and
 * highest beside it.
 *
 * Changes to the host: two network namespaces (deleted at the end).
 *
 * Cost: about two seconds per round.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "cli.h"
#include "labnet.h"
#include "opts.h"
#include "srvlat.h"
#include "srvlat_base.skel.h"

#define DEF_ROUND_TRIPS 20000
#define MAX_ROUND_TRIPS 10000000
#define DEF_ROUNDS 5
#define MAX_ROUNDS 101
#define MSG_BYTES 64
#define SERVER_ADDR "10.78.1.2"
#define CLIENT_ADDR "10.78.1.1"
#define SERVER_PORT 11811
#define IF_CLIENT "kbsa"
#define IF_SERVER "kbsb"
#define MAX_PROGS 8

struct prog_stat {
	char name[32];
	int fd;
	__u64 cnt0, ns0, cnt1, ns1;
};

struct round {
	struct prog_stat p[MAX_PROGS], b[MAX_PROGS];
	int np, nb;
	__u64 requests; /* measured by the probe */
	double secs;
	long done;
};

struct bench {
	char nsa[64], nsb[64];
	long round_trips;
	long rounds;
	struct round *r;
	int n;
	char test_run[200]; /* what BPF_PROG_TEST_RUN said */
	char arrival[SRVLAT_NOTE_LEN];
};

/* ---- namespaces and the load ----------------------------------------------- */

static int netns_up(struct bench *b)
{
	snprintf(b->nsa, sizeof(b->nsa), "kopt-bs%d-a", getpid());
	snprintf(b->nsb, sizeof(b->nsb), "kopt-bs%d-b", getpid());
	return labnet_sh(
		"set -e; exec >/dev/null 2>&1; "
		"ip netns add %1$s; ip netns add %2$s; "
		"ip -n %1$s link set lo up; ip -n %2$s link set lo up; "
		"ip -n %1$s link add " IF_CLIENT
		" type veth peer name " IF_SERVER " netns %2$s; "
		"ip -n %1$s addr add " CLIENT_ADDR "/24 dev " IF_CLIENT "; "
		"ip -n %2$s addr add " SERVER_ADDR "/24 dev " IF_SERVER "; "
		"ip -n %1$s link set " IF_CLIENT " up; "
		"ip -n %2$s link set " IF_SERVER " up; "
		"ip netns exec %2$s ethtool -K " IF_SERVER " gro on; "
		"ip netns exec %1$s ethtool -K " IF_CLIENT " tso off",
		b->nsa, b->nsb);
}

static void netns_down(struct bench *b)
{
	labnet_sh(
		"ip netns del %s >/dev/null 2>&1; ip netns del %s >/dev/null 2>&1",
		b->nsa, b->nsb);
}

struct load {
	const char *nsa;
	int listen_fd;
	long round_trips, done;
	char why[160];
};

static void *server_main(void *arg)
{
	struct load *l = arg;
	int fd = accept4(l->listen_fd, NULL, NULL, SOCK_CLOEXEC), one = 1;
	char buf[MSG_BYTES];

	if (fd < 0)
		return NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (!labnet_full_io(fd, buf, sizeof(buf), true) &&
	       !labnet_full_io(fd, buf, sizeof(buf), false))
		;
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

	if (labnet_enter(l->nsa)) {
		snprintf(l->why, sizeof(l->why), "setns client: %s",
			 strerror(errno));
		return NULL;
	}
	inet_pton(AF_INET, SERVER_ADDR, &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(l->why, sizeof(l->why), "connect: %s",
			 strerror(errno));
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

static int listen_server(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(SERVER_PORT) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	inet_pton(AF_INET, SERVER_ADDR, &sa.sin_addr);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- statistics ------------------------------------------------------------ */

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

static double ns_per_event(const struct prog_stat *p)
{
	__u64 cnt = p->cnt1 - p->cnt0;

	return cnt ? (double)(p->ns1 - p->ns0) / cnt : NAN;
}

/* srvlat_in -> base_in */
static const struct prog_stat *base_of(const struct round *r, const char *name)
{
	const char *suffix = strchr(name, '_');
	int i;

	for (i = 0; suffix && i < r->nb; i++)
		if (!strcmp(strchr(r->b[i].name, '_'), suffix))
			return &r->b[i];
	return NULL;
}

/* Net ns of program i over all its events in the round. */
static double net_total_ns(const struct round *r, int i)
{
	const struct prog_stat *b = base_of(r, r->p[i].name);
	double own = ns_per_event(&r->p[i]), floor = b ? ns_per_event(b) : 0;
	__u64 cnt = r->p[i].cnt1 - r->p[i].cnt0;

	if (!cnt)
		return 0;
	if (isnan(floor))
		floor = 0;
	return (own - floor) * cnt;
}

/* BPF_PROG_TEST_RUN on a tp_btf program: what the kernel says. */
static void try_test_run(struct bench *b, int fd)
{
	__u64 args[2] = {};
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = args,
		    .ctx_size_in = sizeof(args));
	int err = bpf_prog_test_run_opts(fd, &o);

	if (!err)
		snprintf(b->test_run, sizeof(b->test_run),
			 "accepted (unexpected for tp_btf)");
	else
		snprintf(b->test_run, sizeof(b->test_run),
			 "refused (%s, errno %d): the kernel test-runs fentry, "
			 "fexit and fmod_ret tracing programs, not tp_btf; "
			 "live run-time statistics instead",
			 strerror(errno), errno);
}

/* One round: open, load, read; 0 or a kopt_exit code. */
static int measure_round(struct bench *b, struct round *r)
{
	struct srvlat_opts so = { .ifname = IF_SERVER, .no_hw = true };
	struct load l = { .nsa = b->nsa, .round_trips = b->round_trips };
	int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	const char *names[MAX_PROGS];
	int fds[MAX_PROGS], i, ret = KOPT_EXIT_OK;
	struct srvlat_base_bpf *base = NULL;
	char err[SRVLAT_ERR_LEN];
	struct srvlat_window w;
	struct bpf_program *p;
	pthread_t srv, cli;
	struct srvlat *s;
	double t0;

	if (home < 0 || labnet_enter(b->nsb)) {
		pr_warn("bench srvlat: entering %s: %s\n", b->nsb,
			strerror(errno));
		if (home >= 0)
			close(home);
		return KOPT_EXIT_FAIL;
	}
	so.ports[0] = SERVER_PORT;
	so.nr_ports = 1;
	s = srvlat_open(&so, err, sizeof(err));
	if (!s) {
		pr_warn("bench srvlat: %s\n", err);
		ret = KOPT_EXIT_BPF;
		goto out;
	}
	snprintf(b->arrival, sizeof(b->arrival), "%s", srvlat_info(s)->arrival);
	r->np = srvlat_prog_fds(s, names, fds, MAX_PROGS);
	for (i = 0; i < r->np; i++) {
		snprintf(r->p[i].name, sizeof(r->p[i].name), "%s", names[i]);
		r->p[i].fd = fds[i];
	}
	if (!b->test_run[0])
		try_test_run(b, r->p[0].fd);
	base = srvlat_base_bpf__open_and_load();
	if (!base || srvlat_base_bpf__attach(base)) {
		pr_warn("bench srvlat: the empty programs: %s\n",
			strerror(errno));
		ret = KOPT_EXIT_BPF;
		goto close;
	}
	bpf_object__for_each_program(p, base->obj) {
		snprintf(r->b[r->nb].name, sizeof(r->b[r->nb].name), "%s",
			 bpf_program__name(p));
		r->b[r->nb++].fd = bpf_program__fd(p);
	}
	l.listen_fd = listen_server();
	if (l.listen_fd < 0) {
		pr_warn("bench srvlat: listen: %s\n", strerror(errno));
		ret = KOPT_EXIT_FAIL;
		goto close;
	}
	srvlat_read_window(s, &w);
	read_stats(r->p, r->np, false);
	read_stats(r->b, r->nb, false);
	t0 = kopt_now_s();
	pthread_create(&srv, NULL, server_main, &l);
	pthread_create(&cli, NULL, client_main, &l);
	pthread_join(cli, NULL);
	shutdown(l.listen_fd, SHUT_RDWR);
	pthread_join(srv, NULL);
	r->secs = kopt_now_s() - t0;
	read_stats(r->p, r->np, true);
	read_stats(r->b, r->nb, true);
	srvlat_read_window(s, &w);
	r->requests = w.requests;
	r->done = l.done;
	close(l.listen_fd);
	if (l.done != b->round_trips) {
		pr_warn("bench srvlat: the load stopped after %ld round "
			"trips: %s\n",
			l.done, l.why);
		ret = KOPT_EXIT_FAIL;
	}
close:
	srvlat_base_bpf__destroy(base);
	srvlat_close(s);
out:
	if (setns(home, CLONE_NEWNET))
		pr_warn("bench srvlat: returning home: %s\n", strerror(errno));
	close(home);
	return ret;
}

/* ---- figures ------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of v[0..n) (NANs last, ignored), with the lowest and highest. */
static double median(double *v, int n, double *lo, double *hi)
{
	int k = 0;

	qsort(v, n, sizeof(*v), cmp_double);
	while (k < n && !isnan(v[k]))
		k++;
	*lo = k ? v[0] : NAN;
	*hi = k ? v[k - 1] : NAN;
	return k ? v[k / 2] : NAN;
}

static struct json_object *jnum(double v)
{
	return kopt_json_num(v, "%.1f");
}

static struct json_object *fig(double *v, int n)
{
	struct json_object *o = json_object_new_object();
	double lo, hi, m = median(v, n, &lo, &hi);

	json_object_object_add(o, "median", jnum(m));
	json_object_object_add(o, "lowest", jnum(lo));
	json_object_object_add(o, "highest", jnum(hi));
	return o;
}

static struct json_object *result_json(struct bench *b)
{
	struct json_object *o = json_object_new_object(), *progs;
	double v[MAX_ROUNDS], per_req[MAX_ROUNDS], req[MAX_ROUNDS];
	int i, k;

	json_object_object_add(o, "round_trips",
			       json_object_new_int64(b->round_trips));
	json_object_object_add(o, "rounds", json_object_new_int(b->n));
	json_object_object_add(o, "arrival",
			       json_object_new_string(b->arrival));
	json_object_object_add(o, "test_run",
			       json_object_new_string(b->test_run));
	progs = json_object_new_object();
	for (i = 0; b->n && i < b->r[0].np; i++) {
		struct json_object *p = json_object_new_object();
		double base[MAX_ROUNDS], net[MAX_ROUNDS], ev[MAX_ROUNDS];

		for (k = 0; k < b->n; k++) {
			const struct round *r = &b->r[k];
			const struct prog_stat *bs = base_of(r, r->p[i].name);

			v[k] = ns_per_event(&r->p[i]);
			base[k] = bs ? ns_per_event(bs) : NAN;
			net[k] = v[k] - base[k];
			ev[k] = (double)(r->p[i].cnt1 - r->p[i].cnt0) /
				(r->requests ? r->requests : 1);
		}
		json_object_object_add(p, "ns_per_event", fig(v, b->n));
		json_object_object_add(p, "empty_program_ns", fig(base, b->n));
		json_object_object_add(p, "net_ns_per_event", fig(net, b->n));
		json_object_object_add(p, "events_per_request", fig(ev, b->n));
		json_object_object_add(progs, b->r[0].p[i].name, p);
	}
	json_object_object_add(o, "programs", progs);
	for (k = 0; k < b->n; k++) {
		const struct round *r = &b->r[k];
		double sum = 0;

		for (i = 0; i < r->np; i++)
			sum += net_total_ns(r, i);
		per_req[k] = r->requests ? sum / r->requests : NAN;
		req[k] = r->requests;
	}
	json_object_object_add(o, "net_ns_per_request", fig(per_req, b->n));
	json_object_object_add(o, "requests_measured", fig(req, b->n));
	return o;
}

/* The median of figure key of p; NAN if absent. */
static double med(struct json_object *p, const char *key)
{
	struct json_object *f, *v;

	if (!json_object_object_get_ex(p, key, &f) ||
	    !json_object_object_get_ex(f, "median", &v) || !v)
		return NAN;
	return json_object_get_double(v);
}

static void print_text(struct json_object *o)
{
	struct json_object_iterator it, end;
	struct json_object *progs, *f;

	printf("kopt bench srvlat: %s\n",
	       json_object_get_string(json_object_object_get(o, "arrival")));
	printf("BPF_PROG_TEST_RUN: %s\n",
	       json_object_get_string(json_object_object_get(o, "test_run")));
	printf("%-12s %10s %10s %10s %12s\n", "program", "ns/event", "empty",
	       "net", "events/req");
	progs = json_object_object_get(o, "programs");
	it = json_object_iter_begin(progs);
	end = json_object_iter_end(progs);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		struct json_object *p = json_object_iter_peek_value(&it);

		printf("%-12s %10.1f %10.1f %10.1f %12.2f\n",
		       json_object_iter_peek_name(&it), med(p, "ns_per_event"),
		       med(p, "empty_program_ns"), med(p, "net_ns_per_event"),
		       med(p, "events_per_request"));
	}
	f = json_object_object_get(o, "net_ns_per_request");
	printf("net ns per request (all events of the run / requests "
	       "measured): %s\n",
	       json_object_to_json_string(f));
}

int cmd_bench_srvlat(int argc, char **argv)
{
	struct bench b = { .round_trips = DEF_ROUND_TRIPS,
			   .rounds = DEF_ROUNDS };
	const struct kopt_opts spec = {
		.cmd = "kopt bench srvlat",
		.usage = "[--round-trips N] [--rounds R] [--json]",
		.desc = "What the server-latency probe (bpf/srvlat.bpf.c) costs: "
			"ns per event of\neach of its programs over an empty "
			"program on the same tracepoint, and\nper request, under "
			"a TCP ping-pong over a veth pair (live run-time\n"
			"statistics; tp_btf has no BPF_PROG_TEST_RUN). Median of "
			"R rounds.",
		.opts = KOPT_OPTS(
			KOPT_OPT_LONG("round-trips", 'n', &b.round_trips, 1,
				      MAX_ROUND_TRIPS, "N",
				      "per round (default 20000)"),
			KOPT_OPT_LONG("rounds", 'r', &b.rounds, 1, MAX_ROUNDS,
				      "R", "rounds (default 5)"),
			KOPT_OPT_JSON("JSON")),
	};
	struct json_object *o;
	int stats_fd, ret = KOPT_EXIT_OK;

	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	if (!kopt_have_bpf_caps())
		return kopt_need_root("kopt bench srvlat");
	kopt_setup_libbpf();
	b.r = calloc(b.rounds, sizeof(*b.r));
	if (!b.r)
		return KOPT_EXIT_FAIL;
	/* fd-scoped: closing it turns the statistics off again */
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		pr_warn("bench srvlat: BPF_ENABLE_STATS refused (%s)\n",
			strerror(errno));
		free(b.r);
		return KOPT_EXIT_BPF;
	}
	if (netns_up(&b)) {
		pr_warn("bench srvlat: setting up the namespaces failed (ip "
			"netns / ip link / ethtool)\n");
		ret = KOPT_EXIT_FAIL;
	}
	while (!ret && b.n < b.rounds) {
		ret = measure_round(&b, &b.r[b.n]);
		if (!ret)
			b.n++;
	}
	netns_down(&b);
	close(stats_fd);
	if (b.n) {
		o = result_json(&b);
		if (kopt_env.json)
			puts(kopt_json_text(o));
		else
			print_text(o);
		json_object_put(o);
	}
	free(b.r);
	return ret;
}
