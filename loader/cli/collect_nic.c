// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt collect nic: per-interrupt NIC statistics from BPF alone (see the
 * top of bpf/nic.bpf.c), on any driver.
 *
 * Writes the per-interrupt log as CSV (-o; units in the column names),
 * prints a window summary every second on a TTY (one JSON object per
 * window with --json) and a final summary with the ring-buffer losses,
 * which are never silent. SIGINT/SIGTERM end it; nic_close() detaches the
 * XDP counter and undoes every other change, so the interface is left as
 * it was found.
 *
 * Cost: the ring buffer is drained every 100 ms; each record is one
 * fprintf. The kernel side is measured by `kopt bench collector`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "opts.h"
#include "nic.h"
#include "state.h"

#define POLL_MS 100
#define WINDOW_S 1.0
#define MAX_DURATION_S 1e7
#define MB 1e6

struct collect {
	FILE *csv;
	__u64 written;
	__u64 end_written; /* of written: NIC_REC_END */
	bool tty;
	int windows;
	double t0;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void on_record(void *ctx, const struct nic_record *r)
{
	struct collect *c = ctx;

	nic_csv_record(c->csv, r);
	c->written++;
	c->end_written += r->kind == NIC_REC_END;
}

static int parse_irqs(const char *s, __u32 *irqs, int *nr)
{
	char *copy = strdup(s), *tok, *save;
	int err = 0;
	long v;

	if (!copy)
		return -ENOMEM;
	*nr = 0;
	for (tok = strtok_r(copy, ",", &save); tok && !err;
	     tok = strtok_r(NULL, ",", &save)) {
		if (*nr >= NIC_MAX_IRQS || kopt_parse_long(tok, 0, 65535, &v))
			err = -EINVAL;
		else
			irqs[(*nr)++] = v;
	}
	free(copy);
	return err ? err : (*nr ? 0 : -EINVAL);
}

static void describe(const struct nic_info *in, bool records)
{
	int i;

	pr_info("collecting on %s (ifindex %d)\n", in->ifname, in->ifindex);
	if (in->nr_irqs) {
		pr_info("interrupt vectors (%s):", in->irq_source);
		for (i = 0; i < in->nr_irqs; i++)
			fprintf(stderr, " %u(%s q%u)", in->irqs[i].irq,
				in->irqs[i].name[0] ? in->irqs[i].name : "?",
				in->irqs[i].queue);
		fprintf(stderr, "\n");
	} else {
		pr_info("no interrupt records: the device has no interrupt "
			"vectors (%s)%s\n",
			in->irq_source,
			records ? "; writing one record per NAPI poll instead" :
				  "");
	}
	pr_info("XDP counter: %s%s%s\n", in->xdp_mode,
		in->xdp_note[0] ? ": " : "", in->xdp_note);
	if (!in->idle_attached)
		pr_info("idle times: absent (power:cpu_idle did not attach)\n");
	if (records)
		pr_info("hardware counters: %s\n",
			in->ctr_mask ? "instructions/cycles/ref-cycles/LLC "
				       "misses (those opened)" :
				       in->ctr_note);
}

/* JSON numbers must be finite: NAN (no events) becomes null. */
static struct json_object *jnum(double v)
{
	return kopt_json_num(v, NULL);
}

static void print_window_json(const struct nic_window *w, double t)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "type", json_object_new_string("window"));
	json_object_object_add(o, "t_s", json_object_new_double(t));
	json_object_object_add(o, "seconds",
			       json_object_new_double(w->seconds));
	json_object_object_add(o, "rx_pps", jnum(w->rx_pps));
	json_object_object_add(o, "rx_Bps", jnum(w->rx_Bps));
	json_object_object_add(o, "tx_pps", jnum(w->tx_pps));
	json_object_object_add(o, "tx_Bps", jnum(w->tx_Bps));
	json_object_object_add(o, "xdp_pps", jnum(w->xdp_pps));
	json_object_object_add(o, "qps", jnum(w->qps));
	json_object_object_add(o, "irq_rate", jnum(w->irq_rate));
	json_object_object_add(o, "irq_ns_mean", jnum(w->irq_ns_mean));
	json_object_object_add(o, "pkts_per_irq", jnum(w->pkts_per_irq));
	json_object_object_add(o, "napi_rate", jnum(w->napi_rate));
	json_object_object_add(o, "napi_work_mean", jnum(w->napi_work_mean));
	json_object_object_add(o, "batch", jnum(w->batch));
	json_object_object_add(o, "idle_frac", jnum(w->idle_frac));
	json_object_object_add(o, "records", json_object_new_int64(w->records));
	json_object_object_add(o, "lost", json_object_new_int64(w->lost));
	printf("%s\n",
	       json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	fflush(stdout);
	json_object_put(o);
}

/* A rate or mean in a fixed-width column; "-" when it has no events. */
static void col(double v, int width, int prec)
{
	if (isfinite(v))
		printf(" %*.*f", width, prec, v);
	else
		printf(" %*s", width, "-");
}

static void print_window_text(struct collect *c, const struct nic_window *w,
			      double t)
{
	if (c->windows++ % 20 == 0)
		printf("%6s %10s %8s %10s %8s %8s %8s %8s %9s %10s %6s %5s\n",
		       "t(s)", "rx pkt/s", "rx MB/s", "tx pkt/s", "tx MB/s",
		       "irq/s", "pkt/irq", "napi/s", "work/poll", "xdp pkt/s",
		       "idle%", "lost");
	printf("%6.1f", t);
	col(w->rx_pps, 10, 0);
	col(w->rx_Bps / MB, 8, 3);
	col(w->tx_pps, 10, 0);
	col(w->tx_Bps / MB, 8, 3);
	col(w->irq_rate, 8, 0);
	col(w->pkts_per_irq, 8, 2);
	col(w->napi_rate, 8, 0);
	col(w->napi_work_mean, 9, 2);
	col(w->xdp_pps, 10, 0);
	col(w->idle_frac * 100, 6, 1);
	printf(" %5llu\n", (unsigned long long)w->lost);
	fflush(stdout);
}

static const char *const stat_names[NIC_NR_STATS] = {
	[NIC_STAT_RX_PKTS] = "rx_packets",
	[NIC_STAT_RX_BYTES] = "rx_bytes",
	[NIC_STAT_TX_PKTS] = "tx_packets",
	[NIC_STAT_TX_BYTES] = "tx_bytes",
	[NIC_STAT_TX_ERRS] = "tx_errors",
	[NIC_STAT_XDP_PKTS] = "xdp_packets",
	[NIC_STAT_XDP_BYTES] = "xdp_bytes",
	[NIC_STAT_XDP_DATA_PKTS] = "xdp_data_packets",
	[NIC_STAT_IRQS] = "irqs",
	[NIC_STAT_IRQ_NS] = "irq_ns",
	[NIC_STAT_NAPI_POLLS] = "napi_polls",
	[NIC_STAT_NAPI_WORK] = "napi_work",
	[NIC_STAT_NAPI_BUDGET] = "napi_budget",
	[NIC_STAT_NAPI_FULL] = "napi_full",
	[NIC_STAT_IDLE_NS] = "idle_ns",
	[NIC_STAT_IDLE_EXITS] = "idle_exits",
	[NIC_STAT_RECORDS] = "records",
	[NIC_STAT_LOST] = "lost_records",
};

static struct json_object *info_json(const struct nic_info *in)
{
	struct json_object *o = json_object_new_object(), *a, *x;
	int i;

	json_object_object_add(o, "interface",
			       json_object_new_string(in->ifname));
	json_object_object_add(o, "ifindex", json_object_new_int(in->ifindex));
	a = json_object_new_array();
	for (i = 0; i < in->nr_irqs; i++) {
		struct json_object *v = json_object_new_object();

		json_object_object_add(v, "irq",
				       json_object_new_int(in->irqs[i].irq));
		json_object_object_add(v, "queue",
				       json_object_new_int(in->irqs[i].queue));
		json_object_object_add(
			v, "name", json_object_new_string(in->irqs[i].name));
		json_object_array_add(a, v);
	}
	json_object_object_add(o, "irq_vectors", a);
	json_object_object_add(o, "irq_source",
			       json_object_new_string(in->irq_source));
	x = json_object_new_object();
	json_object_object_add(x, "mode", json_object_new_string(in->xdp_mode));
	json_object_object_add(x, "multiprog",
			       json_object_new_boolean(in->xdp_multiprog));
	json_object_object_add(x, "note", json_object_new_string(in->xdp_note));
	json_object_object_add(o, "xdp", x);
	json_object_object_add(o, "idle_attached",
			       json_object_new_boolean(in->idle_attached));
	json_object_object_add(o, "idle_states",
			       json_object_new_int(in->idle_states));
	json_object_object_add(o, "record_bytes",
			       json_object_new_int(in->record_bytes));
	json_object_object_add(o, "ring_bytes",
			       json_object_new_int64(in->ring_bytes));
	json_object_object_add(o, "counters_mask",
			       json_object_new_int(in->ctr_mask));
	json_object_object_add(o, "counters_note",
			       json_object_new_string(in->ctr_note));
	json_object_object_add(o, "bpffs_mounted",
			       json_object_new_boolean(in->bpffs_mounted));
	return o;
}

static void print_summary(struct nic *n, struct collect *c, double secs)
{
	struct nic_xdp_count xq[NIC_MAX_QUEUES];
	struct json_object *o, *t, *qa;
	struct nic_stats tot = {};
	int i, nq;

	nic_read_totals(n, &tot);
	nq = nic_read_xdp_queues(n, xq, NIC_MAX_QUEUES);
	if (nic_info(n)->idle_attached && !tot.v[NIC_STAT_IDLE_EXITS])
		pr_info("idle times: absent: power:cpu_idle never fired during "
			"the run (this host idles outside the traced cpuidle "
			"path); the CSV idle columns are empty\n");
	if (tot.v[NIC_STAT_LOST])
		pr_warn("lost %llu per-interrupt records (ring buffer of %u "
			"KiB full; --ring-kib enlarges it); their counts are "
			"not lost: the next record of each queue on that CPU "
			"carries them\n",
			(unsigned long long)tot.v[NIC_STAT_LOST],
			nic_info(n)->ring_bytes >> 10);
	if (!kopt_env.json) {
		printf("%s: %.1f s: rx %llu pkts %llu B, tx %llu pkts %llu B, "
		       "xdp %llu pkts (%llu with payload), %llu irqs, %llu "
		       "napi polls (work %llu), records %llu written (%llu "
		       "end), %llu lost\n",
		       nic_info(n)->ifname, secs,
		       (unsigned long long)tot.v[NIC_STAT_RX_PKTS],
		       (unsigned long long)tot.v[NIC_STAT_RX_BYTES],
		       (unsigned long long)tot.v[NIC_STAT_TX_PKTS],
		       (unsigned long long)tot.v[NIC_STAT_TX_BYTES],
		       (unsigned long long)tot.v[NIC_STAT_XDP_PKTS],
		       (unsigned long long)tot.v[NIC_STAT_XDP_DATA_PKTS],
		       (unsigned long long)tot.v[NIC_STAT_IRQS],
		       (unsigned long long)tot.v[NIC_STAT_NAPI_POLLS],
		       (unsigned long long)tot.v[NIC_STAT_NAPI_WORK],
		       (unsigned long long)c->written,
		       (unsigned long long)c->end_written,
		       (unsigned long long)tot.v[NIC_STAT_LOST]);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string("summary"));
	json_object_object_add(o, "seconds", json_object_new_double(secs));
	json_object_object_add(o, "info", info_json(nic_info(n)));
	t = json_object_new_object();
	for (i = 0; i < NIC_NR_STATS; i++)
		json_object_object_add(t, stat_names[i],
				       json_object_new_int64(tot.v[i]));
	json_object_object_add(o, "totals", t);
	json_object_object_add(o, "records_written",
			       json_object_new_int64(c->written));
	json_object_object_add(o, "end_records",
			       json_object_new_int64(c->end_written));
	json_object_object_add(o, "lost_records",
			       json_object_new_int64(tot.v[NIC_STAT_LOST]));
	qa = json_object_new_array();
	for (i = 0; i < nq; i++) {
		struct json_object *q;

		if (!xq[i].pkts)
			continue;
		q = json_object_new_object();
		json_object_object_add(q, "queue", json_object_new_int(i));
		json_object_object_add(q, "packets",
				       json_object_new_int64(xq[i].pkts));
		json_object_object_add(q, "bytes",
				       json_object_new_int64(xq[i].bytes));
		json_object_object_add(q, "data_packets",
				       json_object_new_int64(xq[i].data_pkts));
		json_object_array_add(qa, q);
	}
	json_object_object_add(o, "xdp_queues", qa);
	printf("%s\n",
	       json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static void run_loop(struct nic *n, struct collect *c, double duration)
{
	double next = c->t0 + WINDOW_S, t;
	struct nic_window w;
	int err;

	while (!stop_signal) {
		err = nic_poll(n, POLL_MS);
		if (err < 0 && err != -EINTR) {
			pr_warn("reading the ring buffer failed (%s)\n",
				strerror(-err));
			break;
		}
		t = kopt_now_s();
		if (duration > 0 && t - c->t0 >= duration)
			break;
		if (t < next)
			continue;
		next += WINDOW_S;
		if (nic_read_window(n, &w))
			continue;
		if (w.lost)
			pr_warn("%llu records lost in the last window (ring "
				"buffer full)\n",
				(unsigned long long)w.lost);
		if (kopt_env.json)
			print_window_json(&w, t - c->t0);
		else if (c->tty)
			print_window_text(c, &w, t - c->t0);
	}
}

struct args {
	const char *ifname;
	const char *output;
	double duration;
	struct nic_opts opts;
	__u32 irqs[NIC_MAX_IRQS];
};

/* --irq LIST: the vectors to trace */
static int irq_arg(const char *s, void *to, char *why, size_t len)
{
	struct args *a = to;

	if (parse_irqs(s, a->irqs, &a->opts.nr_irqs)) {
		snprintf(why, len,
			 "expected a comma-separated list of at most %d IRQ "
			 "numbers",
			 NIC_MAX_IRQS);
		return -1;
	}
	a->opts.irqs = a->irqs;
	return 0;
}

/* --ring-kib N: a power of two */
static int ring_arg(const char *s, void *to, char *why, size_t len)
{
	struct args *a = to;
	long kib;

	if (kopt_parse_long(s, NIC_RING_MIN_BYTES >> 10,
			    NIC_RING_MAX_BYTES >> 10, &kib) ||
	    kib & (kib - 1)) {
		snprintf(why, len, "expected a power of two from %u to %u",
			 NIC_RING_MIN_BYTES >> 10, NIC_RING_MAX_BYTES >> 10);
		return -1;
	}
	a->opts.ring_bytes = kib << 10;
	return 0;
}

static const struct kopt_opt_choice xdp_modes[] = {
	{ "auto", NIC_XDP_AUTO },
	{ "native", NIC_XDP_NATIVE },
	{ "skb", NIC_XDP_SKB },
	{ "none", NIC_XDP_NONE },
	{ NULL },
};

static bool parse_args(int argc, char **argv, struct args *a, int *ret)
{
	const struct kopt_opts spec = {
		.cmd = "kopt collect nic",
		.usage = "-i IF [--duration S] [-o FILE.csv] [--json]",
		.desc = "Per-interrupt statistics of one network interface from "
			"BPF alone\n(irq, napi, net and power tracepoints + an XDP "
			"counter attached\nwith libxdp); see the top of "
			"bpf/nic.bpf.c. Needs root.",
		.epilog =
			"Ctrl-C or SIGTERM stops it and leaves the interface as "
			"it was.",
		.opts = KOPT_OPTS(
			KOPT_OPT_STR("interface", 'i', &a->ifname, "IF",
				     "the interface (in this network namespace)",
				     .flags = KOPT_OPT_REQUIRED),
			KOPT_OPT_DOUBLE(
				"duration", 'd', &a->duration, 0,
				MAX_DURATION_S, "S",
				"stop after S seconds (default: Ctrl-C)",
				.unit = "seconds", .flags = KOPT_OPT_MIN_EXCL),
			KOPT_OPT_STR(
				"output", 'o', &a->output, "FILE",
				"per-interrupt records as CSV (devices without\n"
				"interrupt vectors: one per NAPI poll;\n"
				"kind end: what a CPU counted after its last\n"
				"record of a queue, so rows add up to totals)"),
			KOPT_OPT_JSON(
				"one JSON object per window and a summary"),
			KOPT_OPT_ENUM("xdp", 0, (int *)&a->opts.xdp_mode,
				      xdp_modes, "MODE",
				      "auto (native, else skb), native, skb or "
				      "none"),
			KOPT_OPT_FUNC(
				"irq", 0, irq_arg, a, "LIST",
				"trace these vectors (e.g. 38,39) instead of\n"
				"the ones found in msi_irqs or /proc/interrupts"),
			KOPT_OPT_FLAG("no-counters", 0, &a->opts.no_counters,
				      "do not open hardware counters"),
			KOPT_OPT_FUNC(
				"ring-kib", 0, ring_arg, a, "N",
				"ring buffer for the records, KiB, a power of\n"
				"two from 16 (default 1024): larger if records\n"
				"are lost")),
	};

	return kopt_opts_parse(&spec, argc, argv, ret);
}

static int exit_code_for(int err)
{
	if (err == ENODEV)
		return KOPT_EXIT_USAGE; /* the -i value is wrong */
	if (err == EPERM || err == EACCES)
		return KOPT_EXIT_PERM;
	return KOPT_EXIT_BPF;
}

int cmd_collect_nic(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct collect c = { .tty = isatty(STDOUT_FILENO) };
	struct args a = {};
	struct nic *n;
	int ret;

	if (!parse_args(argc, argv, &a, &ret))
		return ret;
	if (!kopt_have_bpf_caps())
		return kopt_need_root("kopt collect nic");
	if (a.output) {
		c.csv = fopen(a.output, "we");
		if (!c.csv) {
			pr_warn("cannot create %s (%s): check the directory "
				"exists and is writable\n",
				a.output, strerror(errno));
			return KOPT_EXIT_FAIL;
		}
		nic_csv_header(c.csv);
		a.opts.on_record = on_record;
		a.opts.ctx = &c;
	}
	/* a killed kopt's XDP attach or mount first: the journal is one */
	if (state_recover()) {
		ret = KOPT_EXIT_FAIL;
		goto out;
	}
	/* no SA_RESTART: a signal must end the ring-buffer wait */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	n = nic_open(a.ifname, &a.opts);
	if (!n) {
		ret = exit_code_for(errno);
		goto out;
	}
	describe(nic_info(n), a.output != NULL);
	pr_info("collecting%s; Ctrl-C to stop\n",
		a.duration > 0 ? " for the given duration" : "");
	c.t0 = kopt_now_s();
	run_loop(n, &c, a.duration);
	/* interface restored first; then the last records, then totals */
	nic_stop(n);
	print_summary(n, &c, kopt_now_s() - c.t0);
	nic_close(n);
	ret = KOPT_EXIT_OK;
out:
	if (c.csv && fclose(c.csv)) {
		pr_warn("writing %s failed (%s)\n", a.output, strerror(errno));
		ret = KOPT_EXIT_FAIL;
	}
	if (stop_signal)
		pr_info("stopped by signal %d; interface left as found\n",
			(int)stop_signal);
	return ret;
}
