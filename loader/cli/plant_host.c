// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt plant host: this host as a plant (see plant.h for the protocol).
 *
 * Per window it applies the requested setting with the actuators (NIC
 * coalescing through ethtool netlink, or software coalescing; CPU
 * frequency through libcpupower where cpufreq exists), lets the service
 * run for the window, and replies with:
 *   energy_j  from the energy meter (RAPL, perf power, else an estimate;
 *             the reply's "source" says which: "measured" or "estimate");
 *   p99/p50   from the SLA source (--latency): the service's live
 *             traffic timed in BPF (bpf:PORT, loader/lib/bpf/srvlat.h),
 *             an external feed (feed:cmd:ARGV, feed:file:PATH,
 *             latency_src.h), or the built-in open-loop load generator
 *             (loadgen, the default with --server); the reply's
 *             "latency_source" says which, and for BPF where the arrival
 *             stamp came from and what coalescing delay it leaves out;
 *   qps       the BPF probe's request rate, the feed's, the load
 *             generator's achieved rate, else the NIC collector's
 *             request estimate;
 *   plus the NIC's interrupt rate and batch size, for the reasoning.
 * A request of null knobs means the stock policy: every knob is restored
 * to what it was before kopt (adaptive coalescing, the governor).
 *
 * Two roles for a testbed where the knob and the load are on different
 * machines (the VM demo): `--listen ADDR:PORT` serves the protocol on one
 * connection without a load generator (knobs, energy and NIC counters
 * where the knob is), and `--agent ADDR:PORT` forwards each request to
 * such a listener while generating the load and measuring latency here.
 *
 * A listener obeys whoever connects, as root, so it listens on a loopback
 * address (127.0.0.0/8, ::1) or a Unix socket (unix:PATH, created 0600,
 * peers of another uid refused) and nothing else; another machine reaches
 * it through an SSH tunnel (`ssh -L 7000:127.0.0.1:7000 HOST`). Whatever
 * the peer (or stdin) asks, the plant keeps to its own limits: the knob
 * ranges and window of its --policy, else the actuators' ranges and
 * --max-window (60 s by default).
 *
 * Every knob is journaled before its first change and restored on exit,
 * on SIGINT/SIGTERM, and by the next kopt after a crash (state.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "actuator.h"
#include "energy.h"
#include "cli.h"
#include "opts.h"
#include "loadgen.h"
#include "nic.h"
#include "latency_src.h"
#include "plant.h"
#include "policy.h"
#include "srvlat.h"
#include "state.h"

#define HOST_LINE_MAX 4096
#define HOST_MAX_SECONDS 3600 /* --max-window at most */
#define HOST_DEFAULT_WINDOW 60 /* --max-window without --policy */
#define AGENT_SLACK_S 30 /* agent reply deadline beyond the window */

struct host_opts {
	const char *ifname;
	const char *coalesce; /* "nic" or "sw" */
	const char *knob; /* rx-usecs, or gro-flush-usecs for sw */
	const char *cpus; /* cpufreq CPUs; NULL: no DVFS knob */
	const char *server; /* load generator target; NULL: none */
	double rate;
	int connections;
	const char *listen; /* serve on TCP instead of stdin/stdout */
	const char *agent; /* forward knobs/energy to this listener */
	bool estimate; /* force the energy estimate */
	bool require_meter; /* refuse to run on the estimate */
	int energy_pid; /* energy from this process's CPU time (a VM) */
	bool no_bpf; /* NIC counters from sysfs only */
	int xdp_mode; /* enum nic_xdp_mode: the collector's XDP counter */
	const char *policy; /* the limits requests must keep to */
	double max_window; /* seconds, without --policy */
	const char *latency; /* --latency SPEC; NULL: loadgen with --server */
};

struct host_plant {
	struct host_opts o;
	struct actuator itr, freq;
	bool have_freq;
	/* the request's "knobs": defer_irqs (napi_defer_hard_irqs) */
	struct actuator defer;
	bool have_defer;
	struct energy_meter *meter;
	struct loadgen *lg;
	struct nic *nic;
	FILE *agent_in, *agent_out;
	struct policy pol; /* with --policy: its ranges are the limits */
	bool have_pol;
	/* the SLA source: lat_kind says which of these is open */
	struct policy_latency lat;
	struct srvlat *srvlat;
	struct latency_src feed;
	bool feed_open;
};

struct host_window {
	double energy_j, qps, p50_us, p99_us, irq_rate, batch;
	bool have_latency;
	char source[16]; /* "measured" or "estimate" */
	char meter[16]; /* energy_source_name() */
	const char *latency_source; /* "bpf", "feed", "loadgen"; NULL */
	const char *arrival; /* bpf: the window's main arrival stamp */
	/* bpf: coalescing delay the arrival stamp leaves out, at most */
	double excluded_us;
	double requests; /* bpf: requests measured */
	/* bpf, hardware stamps: how far the NIC's clock relation can be off */
	double phc_err_us;
	/* bpf: requests per arrival source, and hardware stamps refused */
	bool have_by_src;
	__u64 by_src[SRVLAT_NR_SRC], hw_refused;
};

/* ---- protocol lines ------------------------------------------------------ */

static void reply_error(FILE *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reply_error(FILE *out, const char *fmt, ...)
{
	struct json_object *o = json_object_new_object();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "error", json_object_new_string(msg));
	fprintf(out, "%s\n",
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	fflush(out);
	json_object_put(o);
}

static void add_num(struct json_object *o, const char *key, double v)
{
	if (isfinite(v))
		json_object_object_add(o, key, json_object_new_double(v));
}

static void send_reply(struct host_plant *h, FILE *out,
		       const struct plant_request *rq,
		       const struct host_window *w)
{
	struct json_object *o = json_object_new_object();

	add_num(o, "energy_j", w->energy_j);
	if (w->have_latency) {
		add_num(o, "p99_us", w->p99_us);
		add_num(o, "p50_us", w->p50_us);
	}
	add_num(o, "qps", w->qps);
	add_num(o, "seconds", rq->seconds);
	json_object_object_add(o, "source", json_object_new_string(w->source));
	json_object_object_add(o, "energy_meter",
			       json_object_new_string(w->meter));
	add_num(o, "irq_rate", w->irq_rate);
	add_num(o, "batch", w->batch);
	if (w->latency_source)
		json_object_object_add(
			o, "latency_source",
			json_object_new_string(w->latency_source));
	if (w->arrival)
		json_object_object_add(o, "arrival",
				       json_object_new_string(w->arrival));
	add_num(o, "coalescing_excluded_us", w->excluded_us);
	add_num(o, "requests", w->requests);
	add_num(o, "phc_error_us", w->phc_err_us);
	if (w->have_by_src) {
		struct json_object *b = json_object_new_object();

		for (int i = 0; i < SRVLAT_NR_SRC; i++)
			json_object_object_add(
				b, srvlat_src_name(i),
				json_object_new_uint64(w->by_src[i]));
		json_object_object_add(o, "requests_by_arrival", b);
		if (w->hw_refused)
			json_object_object_add(
				o, "hw_stamps_refused",
				json_object_new_uint64(w->hw_refused));
	}
	fprintf(out, "%s\n",
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	fflush(out);
	json_object_put(o);
}

/* ---- knobs --------------------------------------------------------------------- */

/*
 * The plant's own limits on a request, whoever sent it: with --policy,
 * the policy's ITR range and frequencies (the window is checked when the
 * request is parsed); the actuators check their own ranges in act_set().
 */
static int check_limits(const struct host_plant *h,
			const struct plant_request *rq, char *err, size_t len)
{
	const struct policy *p = &h->pol;
	size_t i;

	if (rq->stock || !h->have_pol)
		return 0;
	if (rq->itr_us < p->itr_min_us - 1e-9 ||
	    rq->itr_us > p->itr_max_us + 1e-9) {
		snprintf(err, len,
			 "itr_us %g is outside the policy's %g..%g "
			 "(%.200s)",
			 rq->itr_us, p->itr_min_us, p->itr_max_us, p->path);
		return -ERANGE;
	}
	if (isnan(rq->freq_mhz))
		return 0;
	if (p->freq_fixed) {
		snprintf(err, len,
			 "freq_mhz %g: the policy (%.200s) sets no "
			 "frequency",
			 rq->freq_mhz, p->path);
		return -ERANGE;
	}
	for (i = 0; i < p->n_freqs; i++)
		if (fabs(p->freqs_mhz[i] - rq->freq_mhz) < 0.5)
			return 0;
	snprintf(err, len,
		 "freq_mhz %g is not one of the policy's %zu "
		 "frequencies (%.200s)",
		 rq->freq_mhz, p->n_freqs, p->path);
	return -ERANGE;
}

/*
 * The request's other knobs: defer_irqs alone, within what the
 * interface takes. Checked before anything is changed.
 */
static int check_knobs(struct host_plant *h, const struct plant_request *rq,
		       char *err, size_t len)
{
	long lo, hi, step;

	for (unsigned int i = 0; i < rq->n_knobs; i++) {
		if (strcmp(rq->knob_names[i], PLANT_KNOB_DEFER_IRQS)) {
			snprintf(err, len,
				 "knob %s: this plant turns ITR, frequency "
				 "and " PLANT_KNOB_DEFER_IRQS
				 " (napi_defer_hard_irqs), nothing else",
				 rq->knob_names[i]);
			return -EOPNOTSUPP;
		}
		if (!h->have_defer) {
			snprintf(err, len, "knob " PLANT_KNOB_DEFER_IRQS ": %s",
				 h->defer.why);
			return -EOPNOTSUPP;
		}
		act_range(&h->defer, &lo, &hi, &step);
		if (rq->knobs[i] != floor(rq->knobs[i]) || rq->knobs[i] < lo ||
		    rq->knobs[i] > hi) {
			snprintf(err, len,
				 "knob " PLANT_KNOB_DEFER_IRQS
				 ": %g is not a whole number in %ld..%ld",
				 rq->knobs[i], lo, hi);
			return -ERANGE;
		}
	}
	return 0;
}

static int apply(struct host_plant *h, const struct plant_request *rq,
		 char *err, size_t len)
{
	int ret;

	if (rq->stock) {
		/* the stock policy is what the host had before kopt */
		if (state_restore(false)) {
			snprintf(err, len,
				 "restoring the stock settings failed");
			return -EIO;
		}
		return 0;
	}
	/* refuse before changing anything: a bad request changes nothing */
	if (!isnan(rq->freq_mhz) && !h->have_freq) {
		snprintf(err, len,
			 "freq_mhz %g requested but this plant has no DVFS "
			 "knob (%s); set [freq] list_mhz = none in the policy",
			 rq->freq_mhz,
			 h->o.cpus ? h->freq.why : "no --cpus given");
		return -EOPNOTSUPP;
	}
	ret = check_knobs(h, rq, err, len);
	if (ret)
		return ret;
	if (act_set(&h->itr, lround(rq->itr_us))) {
		snprintf(err, len, "%s", h->itr.why);
		return -EIO;
	}
	for (unsigned int i = 0; i < rq->n_knobs; i++)
		if (act_set(&h->defer, lround(rq->knobs[i]))) {
			snprintf(err, len, "%s", h->defer.why);
			return -EIO;
		}
	if (!isnan(rq->freq_mhz) &&
	    act_set(&h->freq, lround(rq->freq_mhz * 1000))) {
		snprintf(err, len, "%s", h->freq.why);
		return -EIO;
	}
	return 0;
}

/* ---- measuring a window ---------------------------------------------------- */

/* Sleeps up to secs; false if a signal asked us to stop. */
static bool wait_window(double secs)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		double left;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = secs - ((t.tv_sec - t0.tv_sec) +
			       (t.tv_nsec - t0.tv_nsec) / 1e9);
		if (state_stop_signal)
			return false;
		if (left <= 0)
			return true;
		poll(NULL, 0, left > 0.2 ? 200 : (int)(left * 1000) + 1);
	}
}

static void nic_into(struct host_plant *h, struct host_window *w)
{
	struct nic_window nw;

	w->irq_rate = w->batch = NAN;
	if (!h->nic || nic_read_window(h->nic, &nw))
		return;
	w->irq_rate = nw.irq_rate;
	w->batch = nw.batch;
	if (!w->have_latency)
		w->qps = nw.qps;
}

/* The BPF probe's window into w; -ENODATA (err) if no request was seen. */
static int srvlat_into(struct host_plant *h, struct host_window *w, char *err,
		       size_t len)
{
	const struct srvlat_info *in = srvlat_info(h->srvlat);
	struct srvlat_window sw;
	int ret = srvlat_read_window(h->srvlat, &sw);
	long knob;

	if (ret)
		return kopt_errf(err, len, ret,
				 "srvlat: reading the window: %s",
				 strerror(-ret));
	if (!sw.requests)
		return kopt_errf(err, len, -ENODATA,
				 "srvlat: no request to port(s) %s answered "
				 "in the window (is the service running and "
				 "loaded, in this network namespace?)",
				 in->ports);
	w->have_latency = true;
	w->p50_us = sw.p50_us;
	w->p99_us = sw.p99_us;
	w->qps = sw.rate;
	w->requests = sw.requests;
	w->latency_source = "bpf";
	w->arrival = srvlat_src_name(sw.main_src);
	w->phc_err_us = sw.phc_err_ns / 1e3;
	w->have_by_src = true;
	memcpy(w->by_src, sw.by_src, sizeof(w->by_src));
	w->hw_refused = sw.hw_bad;
	/* after the interrupt: what coalescing adds is not in the figure */
	if ((sw.main_src == SRVLAT_SRC_DEV ||
	     sw.main_src == SRVLAT_SRC_STACK) &&
	    !act_get(&h->itr, &knob))
		w->excluded_us = knob;
	return 0;
}

static int feed_into(struct host_plant *h, struct host_window *w, char *err,
		     size_t len)
{
	struct latency_reading r;
	int ret = latency_src_read(&h->feed, &r, err, len);

	if (ret)
		return ret;
	w->have_latency = true;
	w->p50_us = r.p50_us;
	w->p99_us = r.p99_us;
	if (r.qps >= 0)
		w->qps = r.qps;
	w->latency_source = "feed";
	return 0;
}

static int measure_local(struct host_plant *h, double secs,
			 struct host_window *w, char *err, size_t len)
{
	struct loadgen_stats st;
	struct srvlat_window sw;
	double e0, e1;
	int ret;

	w->qps = 0;
	energy_read(h->meter, &e0);
	if (h->lg)
		loadgen_window(h->lg, &st); /* start a fresh window */
	if (h->srvlat)
		srvlat_read_window(h->srvlat, &sw);
	if (h->nic)
		nic_into(h, w);
	if (!wait_window(secs))
		return -EINTR;
	energy_read(h->meter, &e1);
	w->energy_j = e1 - e0;
	if (h->lg && !loadgen_window(h->lg, &st) &&
	    h->lat.kind == POLICY_LAT_LOADGEN) {
		if (!st.completed)
			return kopt_errf(err, len, -ENODATA,
					 "load generator: no request to %s "
					 "completed in the window",
					 h->o.server);
		w->have_latency = true;
		w->p50_us = st.p50_us;
		w->p99_us = st.p99_us;
		w->qps = st.achieved_qps;
		w->latency_source = "loadgen";
	}
	if (h->srvlat) {
		ret = srvlat_into(h, w, err, len);
		if (ret)
			return ret;
	} else if (h->feed_open) {
		/* the NIC's estimate unless the feed gives the rate */
		nic_into(h, w);
		ret = feed_into(h, w, err, len);
		if (ret)
			return ret;
	}
	snprintf(w->source, sizeof(w->source), "%s",
		 energy_is_estimate(h->meter) ? "estimate" : "measured");
	snprintf(w->meter, sizeof(w->meter), "%s",
		 energy_source_name(h->meter));
	nic_into(h, w);
	return 0;
}

static double jnum(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) ||
	    (!json_object_is_type(v, json_type_double) &&
	     !json_object_is_type(v, json_type_int)))
		return NAN;
	return json_object_get_double(v);
}

/*
 * Agent role: the request goes to the listener where the knob is; the
 * load and the latency are measured here over the same window.
 */
static int measure_agent(struct host_plant *h, const char *line,
			 const struct plant_request *rq, struct host_window *w,
			 char *err, size_t len)
{
	struct pollfd pfd = { .fd = fileno(h->agent_in), .events = POLLIN };
	struct json_object *rep = NULL, *e = NULL;
	char buf[HOST_LINE_MAX];
	struct loadgen_stats st;
	double e0 = 0, e1 = 0;
	int ret = -EPROTO;

	if (h->meter)
		energy_read(h->meter, &e0);
	fprintf(h->agent_out, "%s", line);
	fflush(h->agent_out);
	if (h->lg)
		loadgen_window(h->lg, &st);
	if (poll(&pfd, 1, (rq->seconds + AGENT_SLACK_S) * 1000) <= 0 ||
	    !fgets(buf, sizeof(buf), h->agent_in)) {
		snprintf(err, len, "agent %s: no reply within %.0f s",
			 h->o.agent, rq->seconds + AGENT_SLACK_S);
		return -ETIMEDOUT;
	}
	if (h->meter)
		energy_read(h->meter, &e1);
	if (h->lg && !loadgen_window(h->lg, &st)) {
		w->have_latency = true;
		w->p50_us = st.p50_us;
		w->p99_us = st.p99_us;
		w->qps = st.achieved_qps;
	}
	rep = json_tokener_parse(buf);
	if (!rep || !json_object_is_type(rep, json_type_object)) {
		snprintf(err, len, "agent %s: reply is not JSON", h->o.agent);
		goto out;
	}
	if (json_object_object_get_ex(rep, "error", &e)) {
		snprintf(err, len, "agent %s: %s", h->o.agent,
			 json_object_get_string(e));
		goto out;
	}
	w->energy_j = jnum(rep, "energy_j");
	snprintf(w->source, sizeof(w->source), "%s",
		 json_object_object_get_ex(rep, "source", &e) ?
			 json_object_get_string(e) :
			 "estimate");
	snprintf(w->meter, sizeof(w->meter), "%s",
		 json_object_object_get_ex(rep, "energy_meter", &e) ?
			 json_object_get_string(e) :
			 "?");
	if (h->meter) { /* --energy-pid: the testbed's process, measured here */
		w->energy_j = e1 - e0;
		snprintf(w->source, sizeof(w->source), "estimate");
		snprintf(w->meter, sizeof(w->meter), "%s",
			 energy_source_name(h->meter));
	}
	w->irq_rate = jnum(rep, "irq_rate");
	w->batch = jnum(rep, "batch");
	if (!w->have_latency)
		w->qps = jnum(rep, "qps");
	ret = isfinite(w->energy_j) ? 0 : -EPROTO;
	if (ret)
		snprintf(err, len, "agent %s: reply without energy_j",
			 h->o.agent);
out:
	json_object_put(rep);
	return ret;
}

/* ---- serving ------------------------------------------------------------------- */

static int serve(struct host_plant *h, FILE *in, FILE *out)
{
	char line[HOST_LINE_MAX], err[512];
	struct plant_request rq;

	while (!state_stop_signal && fgets(line, sizeof(line), in)) {
		struct host_window w = { .p50_us = NAN,
					 .p99_us = NAN,
					 .excluded_us = NAN,
					 .requests = NAN,
					 .phc_err_us = NAN };
		int ret;

		if (line[strspn(line, " \t\r\n")] == '\0')
			continue;
		if (plant_parse_request(line,
					h->have_pol ? h->pol.window_s :
						      h->o.max_window,
					&rq, err, sizeof(err)) ||
		    check_limits(h, &rq, err, sizeof(err))) {
			reply_error(out, "%s", err);
			continue;
		}
		if (h->o.agent) {
			ret = measure_agent(h, line, &rq, &w, err, sizeof(err));
		} else {
			ret = apply(h, &rq, err, sizeof(err));
			if (!ret)
				ret = measure_local(h, rq.seconds, &w, err,
						    sizeof(err));
			if (ret == -EINTR)
				break;
		}
		if (ret)
			reply_error(out, "%s", err);
		else
			send_reply(h, out, &rq, &w);
	}
	return KOPT_EXIT_OK;
}

/* "HOST:PORT" or "[V6]:PORT" into host and port; -EINVAL if neither. */
static int split_hostport(const char *addr, char *host, size_t hlen,
			  const char **port)
{
	const char *colon;

	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');

		if (!end || end[1] != ':' || (size_t)(end - addr - 1) >= hlen)
			return -EINVAL;
		snprintf(host, hlen, "%.*s", (int)(end - addr - 1), addr + 1);
		*port = end + 2;
		return 0;
	}
	colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= hlen)
		return -EINVAL;
	snprintf(host, hlen, "%.*s", (int)(colon - addr), addr);
	*port = colon + 1;
	return 0;
}

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)
				      ->sin_addr.s_addr) >>
			24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

static int resolve(const char *addr, bool listening, struct addrinfo **res,
		   char *err, size_t len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = listening ? AI_PASSIVE : 0 };
	const char *port;
	char host[256];
	int rc;

	if (split_hostport(addr, host, sizeof(host), &port) || !*port) {
		snprintf(err, len,
			 "'%s': expected HOST:PORT, [V6]:PORT or "
			 "unix:PATH",
			 addr);
		return -EINVAL;
	}
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, res);
	if (rc) {
		snprintf(err, len, "'%s': %s", addr, gai_strerror(rc));
		return -EINVAL;
	}
	return 0;
}

/*
 * A listener takes orders from its peer as root: loopback or a Unix
 * socket only. Checked before anything is opened or changed.
 */
static int check_listen_addr(const char *addr, char *err, size_t len)
{
	struct addrinfo *res = NULL, *ai;
	bool ok;

	if (!strncmp(addr, "unix:", 5))
		return addr[5] ? 0 : -EINVAL;
	if (resolve(addr, true, &res, err, len))
		return -EINVAL;
	ok = true;
	for (ai = res; ai; ai = ai->ai_next)
		ok &= is_loopback(ai->ai_addr);
	freeaddrinfo(res);
	if (!ok)
		snprintf(err, len,
			 "--listen %s: not a loopback address. The listener "
			 "obeys whoever connects (it sets coalescing and CPU "
			 "frequency as root), so it listens on 127.0.0.1, ::1 "
			 "or a Unix socket (unix:PATH) only. From another "
			 "machine use an SSH tunnel: run `kopt plant host "
			 "--listen 127.0.0.1:7000` here and `ssh -L "
			 "7000:127.0.0.1:7000 THIS_HOST` there, then `--agent "
			 "127.0.0.1:7000` there",
			 addr);
	return ok ? 0 : -EPERM;
}

static int unix_addr(const char *path, struct sockaddr_un *sun, char *err,
		     size_t len)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		snprintf(err, len, "unix:%s: path longer than %zu bytes", path,
			 sizeof(sun->sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sun->sun_path, path, strlen(path));
	return 0;
}

/*
 * A Unix socket only we can use: a stale socket file is replaced, a live
 * one or any other file refused; the file is 0600 before listen().
 */
static int unix_listen(const char *path, char *err, size_t len)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, probe;

	if (unix_addr(path, &sun, err, len))
		return -ENAMETOOLONG;
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, len, "unix:%s exists and is not a socket",
				 path);
			return -EEXIST;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 &&
		    !connect(probe, (struct sockaddr *)&sun, sizeof(sun))) {
			close(probe);
			snprintf(err, len,
				 "unix:%s: a listener is serving "
				 "there already",
				 path);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
		unlink(path); /* stale: nobody listens */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    chmod(path, 0600) || listen(fd, 1)) {
		snprintf(err, len, "listen on unix:%s: %s", path,
			 strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		return -EIO;
	}
	return fd;
}

/* "HOST:PORT" or "unix:PATH" -> a connected or listening socket. */
static int plant_socket(const char *addr, bool listening, char *err, size_t len)
{
	struct addrinfo *res = NULL;
	struct sockaddr_un sun;
	int fd = -1, one = 1, rc = -1;

	if (!strncmp(addr, "unix:", 5)) {
		if (listening)
			return unix_listen(addr + 5, err, len);
		if (unix_addr(addr + 5, &sun, err, len))
			return -ENAMETOOLONG;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 ||
		    connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
			snprintf(err, len, "connect to %s: %s", addr,
				 strerror(errno));
			if (fd >= 0)
				close(fd);
			return -EIO;
		}
		return fd;
	}
	if (resolve(addr, listening, &res, err, len))
		return -EINVAL;
	if (listening && !is_loopback(res->ai_addr)) {
		/* checked in parse_opts; a second look costs nothing */
		freeaddrinfo(res);
		snprintf(err, len, "--listen %s: not a loopback address", addr);
		return -EPERM;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd >= 0 && listening) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		rc = bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 1);
	} else if (fd >= 0) {
		rc = connect(fd, res->ai_addr, res->ai_addrlen);
	}
	if (fd < 0 || rc) {
		snprintf(err, len, "%s %s: %s",
			 listening ? "listen on" : "connect to", addr,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -errno;
	}
	freeaddrinfo(res);
	return fd;
}

/* A Unix socket peer must be root or us (the file's mode says the same). */
static bool peer_allowed(int fd, const char *addr)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (strncmp(addr, "unix:", 5))
		return true; /* loopback: the address is the limit */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return false;
	if (cred.uid == 0 || cred.uid == geteuid())
		return true;
	pr_warn("plant host: refused a peer of uid %u on %s\n", cred.uid, addr);
	return false;
}

/* ---- setup ------------------------------------------------------------------- */

static int open_knobs(struct host_plant *h)
{
	enum act_kind kind = strcmp(h->o.coalesce, "sw") ? ACT_NIC_COALESCE :
							   ACT_SW_COALESCE;

	if (act_probe(&h->itr, kind, h->o.ifname, h->o.knob)) {
		pr_warn("plant host: ITR knob not available: %s\n", h->itr.why);
		return KOPT_EXIT_FAIL;
	}
	if (h->have_pol && h->itr.skip_why[0] &&
	    h->pol.itr_min_us <= h->itr.skip_hi &&
	    h->pol.itr_max_us >= h->itr.skip_lo)
		pr_warn("plant host: the policy's ITR range %g..%g us includes "
			"%ld..%ld, which %s does not read as delays (%s): "
			"requests there are refused; start [itr] at 0 or "
			"above %ld\n",
			h->pol.itr_min_us, h->pol.itr_max_us, h->itr.skip_lo,
			h->itr.skip_hi, h->itr.driver, h->itr.skip_why,
			h->itr.skip_hi);
	/* a request's defer_irqs; only read now, written when asked for */
	h->have_defer = !act_probe(&h->defer, ACT_SW_COALESCE, h->o.ifname,
				   "napi-defer-hard-irqs");
	if (h->o.cpus &&
	    act_probe(&h->freq, ACT_CPUFREQ, h->o.cpus, "freq-khz"))
		pr_warn("plant host: no DVFS knob: %s; frequency requests "
			"will be refused\n",
			h->freq.why);
	else
		h->have_freq = h->o.cpus != NULL;
	return 0;
}

/*
 * The SLA source, checked before the first window: the BPF probe loads
 * and attaches, a feed gives one valid reading now.
 */
static int open_latency(struct host_plant *h)
{
	char err[SRVLAT_ERR_LEN];
	struct latency_reading r;

	switch (h->lat.kind) {
	case POLICY_LAT_LOADGEN:
		if (h->o.latency && !h->o.server) {
			pr_warn("plant host: --latency loadgen needs --server "
				"and --rate (the load kopt generates and "
				"times)\n");
			return -EINVAL;
		}
		if (h->o.server)
			pr_info("plant host: latency from kopt's load "
				"generator against %s (client side; lab "
				"use)\n",
				h->o.server);
		return 0;
	case POLICY_LAT_BPF: {
		struct srvlat_opts so = { .ifname = h->o.ifname };

		srvlat_parse_ports(h->lat.spec + 4, &so, err, sizeof(err));
		h->srvlat = srvlat_open(&so, err, sizeof(err));
		if (!h->srvlat) {
			pr_warn("plant host: --latency %s: %s\n", h->lat.spec,
				err);
			return -EINVAL;
		}
		pr_info("plant host: latency of port(s) %s in this network "
			"namespace, timed in BPF from the service's own "
			"traffic (request arrival to the first response "
			"byte at the driver); %s\n",
			srvlat_info(h->srvlat)->ports,
			srvlat_info(h->srvlat)->arrival);
		if (srvlat_info(h->srvlat)->hw)
			pr_info("plant host: %s\n",
				srvlat_info(h->srvlat)->hw_note);
		return 0;
	}
	case POLICY_LAT_FEED:
		if (latency_src_init(&h->feed, h->lat.spec + 5, err,
				     sizeof(err))) {
			pr_warn("plant host: --latency: %s\n", err);
			return -EINVAL;
		}
		h->feed_open = true;
		if (latency_src_read(&h->feed, &r, err, sizeof(err))) {
			pr_warn("plant host: --latency %s: the first reading "
				"failed: %s\n",
				h->lat.spec, err);
			return -EINVAL;
		}
		pr_info("plant host: latency from the external feed %s (the "
			"service's own figures; first reading p99 %g us)\n",
			h->lat.spec, r.p99_us);
		return 0;
	}
	return -EINVAL;
}

static int open_measures(struct host_plant *h)
{
	struct energy_opts eo;
	/* rates and batch sizes only: no clock read per interrupt or idle */
	/*
	 * No XDP by default: the tracepoints count the same packets, and a
	 * native attach resets the NIC's rings (--xdp to ask for one).
	 */
	struct nic_opts no = { .xdp_mode = h->o.xdp_mode, .rates_only = true };
	char why[400];

	energy_opts_default(&eo);
	eo.force_estimate = h->o.estimate;
	eo.pid = h->o.energy_pid;
	if (!h->o.agent || h->o.energy_pid) {
		h->meter = energy_open(&eo, why, sizeof(why));
		if (!h->meter) {
			pr_warn("plant host: energy meter: %s\n",
				strerror(errno));
			return KOPT_EXIT_FAIL;
		}
		if (energy_is_estimate(h->meter) && h->o.require_meter) {
			pr_warn("plant host: no energy meter (%s); the policy "
				"asks for a measured one ([host] energy = "
				"measured)\n",
				why);
			return KOPT_EXIT_FAIL;
		}
		if (energy_is_estimate(h->meter))
			pr_info("plant host: energy is a model ESTIMATE "
				"(%s)\n",
				why);
	}
	if (h->o.ifname && !h->o.agent && !h->o.no_bpf &&
	    !(h->nic = nic_open(h->o.ifname, &no)))
		pr_info("plant host: NIC collector unavailable on %s; no "
			"interrupt rates in replies\n",
			h->o.ifname);
	if (open_latency(h))
		return KOPT_EXIT_FAIL;
	if (h->o.server) {
		struct loadgen_opts lo;

		loadgen_opts_default(&lo);
		lo.server = h->o.server;
		lo.rate = h->o.rate;
		lo.duration_s = 0;
		lo.warmup_s = 0; /* every window is measured */
		if (h->o.connections)
			lo.connections = h->o.connections;
		if (loadgen_start(&lo, &h->lg))
			return KOPT_EXIT_FAIL;
	}
	return 0;
}

static int open_agent(struct host_plant *h)
{
	char err[300];
	int fd = plant_socket(h->o.agent, false, err, sizeof(err));

	if (fd < 0) {
		pr_warn("plant host: agent: %s\n", err);
		return KOPT_EXIT_FAIL;
	}
	h->agent_in = fdopen(fd, "r");
	h->agent_out = fdopen(dup(fd), "w");
	return h->agent_in && h->agent_out ? 0 : KOPT_EXIT_FAIL;
}

static int serve_listen(struct host_plant *h)
{
	char err[300];
	int lfd = plant_socket(h->o.listen, true, err, sizeof(err)), cfd, ret;
	bool is_unix = !strncmp(h->o.listen, "unix:", 5);
	FILE *in, *out;

	if (lfd < 0) {
		pr_warn("plant host: %s\n", err);
		return KOPT_EXIT_FAIL;
	}
	pr_info("plant host: serving the plant protocol on %s\n", h->o.listen);
	for (;;) {
		cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0 || peer_allowed(cfd, h->o.listen))
			break;
		close(cfd);
	}
	close(lfd);
	if (is_unix)
		unlink(h->o.listen + 5);
	if (cfd < 0) {
		pr_warn("plant host: accept: %s\n", strerror(errno));
		return KOPT_EXIT_FAIL;
	}
	in = fdopen(cfd, "r");
	out = fdopen(dup(cfd), "w");
	if (!in || !out) {
		if (in)
			fclose(in);
		else
			close(cfd);
		return KOPT_EXIT_FAIL;
	}
	ret = serve(h, in, out);
	fclose(in);
	fclose(out);
	return ret;
}

static const struct kopt_opt_choice coalesce_kinds[] = {
	{ "nic" },
	{ "sw" },
	{ NULL },
};

static const struct kopt_opt_choice xdp_modes[] = {
	{ "none", NIC_XDP_NONE },
	{ "auto", NIC_XDP_AUTO },
	{ "native", NIC_XDP_NATIVE },
	{ "skb", NIC_XDP_SKB },
	{ NULL },
};

static bool parse_opts(int argc, char **argv, struct host_opts *o, int *ret)
{
	const struct kopt_opts spec = {
		.cmd = "kopt plant host",
		.usage = "--ifname IF [--coalesce nic|sw] [--cpus LIST] "
			 "[--server HOST:PORT --rate QPS] "
			 "[--listen ADDR:PORT | --agent ADDR:PORT]",
		.desc = "This host as a plant for `kopt run`: per request it sets "
			"the NIC's\ninterrupt delay (and CPU frequency with "
			"--cpus), runs the window, and\nreplies with energy "
			"(RAPL, perf, else an estimate: see \"source\"),\n"
			"latency from the built-in load generator, QPS and the "
			"NIC's interrupt\nrate. Every knob is restored on exit. "
			"Protocol: README, \"The plant\nprotocol\".",
		.opts = KOPT_OPTS(
			KOPT_OPT_STR(
				"ifname", 'i', &o->ifname, "IF",
				"interface whose coalescing is the ITR knob"),
			KOPT_OPT_ENUM_NAME("coalesce", 0, &o->coalesce,
					   coalesce_kinds, "nic|sw",
					   "ethtool rx-usecs (nic, default) or\n"
					   "gro-flush-usecs (sw, NICs without "
					   "coalescing)"),
			KOPT_OPT_STR("cpus", 0, &o->cpus, "LIST",
				     "CPUs whose frequency is the DVFS knob"),
			KOPT_OPT_STR(
				"server", 's', &o->server, "H:P",
				"memcached to load and measure (kopt loadgen)"),
			KOPT_OPT_DOUBLE("rate", 'r', &o->rate, 1, 1e7, "QPS",
					"offered load (with --server)",
					.unit = "requests per second"),
			KOPT_OPT_INT("connections", 'c', &o->connections, 1,
				     4096, "N", "load generator connections"),
			KOPT_OPT_STR("listen", 0, &o->listen, "ADDR:PORT",
				     "serve one connection (no load here) on a "
				     "loopback\naddress (127.0.0.1:7000, "
				     "[::1]:7000) or a Unix\nsocket "
				     "(unix:PATH, mode 0600); other addresses "
				     "are\nrefused: from another machine, "
				     "tunnel with\nssh -L "
				     "7000:127.0.0.1:7000 THIS_HOST and use\n"
				     "--agent 127.0.0.1:7000 there"),
			KOPT_OPT_STR("agent", 0, &o->agent, "ADDR:PORT",
				     "knobs and energy are at that listener (or "
				     "unix:PATH);\nload and latency are "
				     "measured here"),
			KOPT_OPT_STR("policy", 0, &o->policy, "FILE",
				     "requests must keep to its ITR range, "
				     "frequencies\nand window (kopt run "
				     "--plant host passes it)"),
			KOPT_OPT_DOUBLE("max-window", 0, &o->max_window, 0.001,
					HOST_MAX_SECONDS, "S",
					"longest window without --policy "
					"(default 60)",
					.unit = "seconds"),
			KOPT_OPT_ENUM("xdp", 0, &o->xdp_mode, xdp_modes, "MODE",
				      "the collector's XDP counter: none "
				      "(default: the\ntracepoints count the "
				      "same packets; a native attach\nresets "
				      "the NIC's rings), auto, native, skb"),
			KOPT_OPT_FLAG(
				"estimate", 0, &o->estimate,
				"use the energy estimate even if a meter exists"),
			KOPT_OPT_FLAG(
				"no-bpf", 0, &o->no_bpf,
				"no NIC collector (interrupt rates omitted)"),
			KOPT_OPT_INT(
				"energy-pid", 0, &o->energy_pid, 1, 1 << 22,
				"PID",
				"estimate energy from PID's CPU time (the QEMU of\n"
				"a VM testbed), labelled estimate-process"),
			KOPT_OPT_STR("latency", 0, &o->latency, "SRC",
				     "the SLA's source: bpf:PORT[,PORT] (the "
				     "service's\nlive traffic, timed in BPF), "
				     "feed:cmd:PROGRAM ARGS\nor feed:file:PATH "
				     "(one JSON line per window),\nloadgen "
				     "(default with --server)"),
			KOPT_OPT_FLAG("require-meter", 0, &o->require_meter,
				      "fail unless RAPL or perf power measures "
				      "energy")),
	};

	if (!kopt_opts_parse(&spec, argc, argv, ret))
		return false;
	o->knob = strcmp(o->coalesce, "nic") ? "gro-flush-usecs" : "rx-usecs";
	*ret = KOPT_EXIT_USAGE;
	if (!o->agent && !o->ifname) {
		kopt_usage_error(spec.cmd,
				 "--ifname is required (the interface "
				 "whose coalescing kopt tunes)");
		return false;
	}
	if (o->server && !(o->rate > 0)) {
		kopt_usage_error(spec.cmd, "--server needs --rate QPS");
		return false;
	}
	if (o->listen && o->agent) {
		kopt_usage_error(spec.cmd,
				 "--listen and --agent exclude each other");
		return false;
	}
	if (o->listen) {
		char err[600];

		if (check_listen_addr(o->listen, err, sizeof(err))) {
			*ret = kopt_usage_error("kopt plant host", "%s", err);
			return false;
		}
	}
	*ret = KOPT_EXIT_OK;
	return true;
}

/* --latency, checked for syntax (the source itself opens later). */
static int parse_latency(struct host_plant *h)
{
	char err[KOPT_INI_ERR_LEN];

	if (!h->o.latency) {
		h->lat.kind = POLICY_LAT_LOADGEN;
		snprintf(h->lat.spec, sizeof(h->lat.spec), "loadgen");
		return 0;
	}
	if (policy_latency_parse(h->o.latency, NULL, &h->lat, err,
				 sizeof(err))) {
		return kopt_usage_error("kopt plant host", "--latency: %s",
					err);
	}
	if (h->o.agent && h->lat.kind != POLICY_LAT_LOADGEN) {
		return kopt_usage_error(
			"kopt plant host",
			"--latency %s with --agent: the service "
			"runs at the listener; measure it there",
			h->lat.spec);
	}
	return 0;
}

int cmd_plant_host(int argc, char **argv)
{
	static struct host_plant h;
	char err[KOPT_INI_ERR_LEN];
	int ret;

	memset(&h, 0, sizeof(h));
	h.o.coalesce = "nic";
	h.o.knob = "rx-usecs";
	h.o.max_window = HOST_DEFAULT_WINDOW;
	h.o.xdp_mode = NIC_XDP_NONE;
	if (!parse_opts(argc, argv, &h.o, &ret))
		return ret;
	ret = parse_latency(&h);
	if (ret)
		return ret;
	if (h.o.policy) {
		if (policy_load(h.o.policy, &h.pol, err, sizeof(err))) {
			pr_warn("plant host: %s\n", err);
			return KOPT_EXIT_FAIL;
		}
		h.have_pol = true;
	}
	if (!kopt_have_bpf_caps())
		return kopt_need_root("kopt plant host");
	/* leftovers of a killed kopt first, then journal our own changes */
	if (state_recover())
		return KOPT_EXIT_FAIL;
	state_restore_on_exit();
	if (h.o.agent) {
		ret = open_agent(&h);
	} else {
		ret = open_knobs(&h);
	}
	if (!ret)
		ret = open_measures(&h);
	if (!ret)
		ret = h.o.listen ? serve_listen(&h) : serve(&h, stdin, stdout);
	if (h.lg)
		loadgen_stop(h.lg, NULL);
	if (h.nic)
		nic_close(h.nic);
	srvlat_close(h.srvlat);
	if (h.feed_open)
		latency_src_free(&h.feed);
	energy_close(h.meter);
	if (h.agent_in)
		fclose(h.agent_in);
	if (h.agent_out)
		fclose(h.agent_out);
	return ret;
}

int cmd_plant(int argc, char **argv)
{
	static const struct kopt_cmd plant_cmds[] = {
		{ "sim", cmd_lab_plant,
		  "simulated server speaking the plant protocol (kopt-lab)" },
		{ "replay", cmd_lab_plant,
		  "a measured ITR x DVFS sweep, replayed (kopt-lab)" },
		{ "host", cmd_plant_host,
		  "this host: real knobs, energy meter, load generator" },
		{ NULL },
	};

	return kopt_dispatch("kopt plant", plant_cmds, argc, argv);
}
