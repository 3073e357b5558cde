// SPDX-License-Identifier: GPL-2.0-only
/*
 * koptd's metrics: Prometheus text exposition (format 0.0.4) at /metrics,
 * served by libmicrohttpd from its own thread on the configured address
 * ([koptd] metrics, default 127.0.0.1:9559). Reads only: the energy
 * job's totals under its mutex, the migration job's counters under
 * mj_mu.
 *
 * Low cardinality by construction: every label takes a handful of fixed
 * values (source: sim, replay, measured, estimate, mixed; phase:
 * exploration, outside_exploration; knob: itr_us, freq_mhz; cause: the
 * controller's trigger names; outcome: agree, disagree, positive,
 * negative, no_model, busy, error). Counters keep counting across the
 * energy job's restarts (reload, advise, restore): koptd adds up its
 * runs. A series appears once it has a value to report (the energy
 * series after the first window, with its source).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "kopt.h"
#include "koptd.h"

struct buf {
	char *p;
	size_t len, cap;
};

static void bprintf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *np;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL,
			      b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->p && b->len + n < b->cap) {
			b->len += n;
			return;
		}
		np = realloc(b->p, b->cap + n + 4096);
		if (!np)
			return;
		b->p = np;
		b->cap += n + 4096;
	}
}

static void head(struct buf *b, const char *name, const char *type,
		 const char *help)
{
	bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static char *render(struct koptd *d, size_t *len)
{
	struct json_object *held = NULL, *v;
	struct buf b = { 0 };
	struct ej_totals t;
	struct mj_counts mc;
	char source[16];
	bool energy = d->ej.state != EJ_OFF;
	unsigned long long gen;
	bool mig, mj_conf;

	ej_totals(&d->ej, &t, source, sizeof(source), &held);
	pthread_mutex_lock(&d->mj_mu);
	mig = d->mj.hook != MJ_NONE;
	mj_counts(&d->mj, &mc);
	gen = d->mj.generation;
	mj_conf = d->mj.configured;
	pthread_mutex_unlock(&d->mj_mu);

	head(&b, "kopt_up", "gauge", "1 while koptd runs and serves metrics");
	bprintf(&b, "kopt_up 1\n");
	if (energy && source[0]) {
		head(&b, "kopt_energy_joules_total", "counter",
		     "Energy the controlled plant used, by the meter's source");
		bprintf(&b, "kopt_energy_joules_total{source=\"%s\"} %.6f\n",
			source, t.energy_j);
		head(&b, "kopt_stock_energy_joules_total", "counter",
		     "Energy the stock policy would have used in the same "
		     "windows (windows with a baseline)");
		bprintf(&b,
			"kopt_stock_energy_joules_total{source=\"%s\"} %.6f\n",
			source, t.stock_j);
	}
	if (energy) {
		head(&b, "kopt_windows_total", "counter",
		     "Control windows measured by the energy controller");
		bprintf(&b, "kopt_windows_total %lu\n", t.windows);
		head(&b, "kopt_sla_violation_windows_total", "counter",
		     "Windows over the SLA, by controller phase");
		bprintf(&b,
			"kopt_sla_violation_windows_total{phase=\"exploration\"} "
			"%lu\n",
			t.viol_explore);
		bprintf(&b,
			"kopt_sla_violation_windows_total{phase=\"outside_"
			"exploration\"} %lu\n",
			t.viol_other);
		head(&b, "kopt_trials_total", "counter",
		     "Trial windows the controller spent searching");
		bprintf(&b, "kopt_trials_total %lu\n", t.trials);
		head(&b, "kopt_triggers_total", "counter",
		     "Decisions the controller made, by trigger cause");
		for (unsigned int i = 0; i < t.ncause; i++)
			bprintf(&b, "kopt_triggers_total{cause=\"%s\"} %lu\n",
				t.cause[i], t.cause_n[i]);
	}
	if (held) {
		head(&b, "kopt_held_setting", "gauge",
		     "The setting the energy controller holds now, per knob "
		     "(absent while it holds the stock policy)");
		if (json_object_object_get_ex(held, "itr_us", &v) && v)
			bprintf(&b, "kopt_held_setting{knob=\"itr_us\"} %g\n",
				json_object_get_double(v));
		if (json_object_object_get_ex(held, "freq_mhz", &v) && v &&
		    isfinite(json_object_get_double(v)))
			bprintf(&b, "kopt_held_setting{knob=\"freq_mhz\"} %g\n",
				json_object_get_double(v));
		json_object_put(held);
	}
	if (mj_conf) {
		head(&b, "kopt_model_generation", "gauge",
		     "Sequence count of the live migration model (0: none "
		     "loaded)");
		bprintf(&b, "kopt_model_generation %llu\n", gen);
	}
	if (mig && mc.n) {
		head(&b, "kopt_predictions_total", "counter",
		     "In-kernel migration model predictions, by outcome");
		for (unsigned int i = 0; i < mc.n; i++)
			bprintf(&b,
				"kopt_predictions_total{outcome=\"%s\"} %llu\n",
				mc.outcome[i], mc.count[i]);
	}
	head(&b, "kopt_ringbuf_lost_total", "counter",
	     "Records lost by the ring buffers of koptd's jobs (0 while no "
	     "job has one)");
	bprintf(&b, "kopt_ringbuf_lost_total %llu\n",
		mc.have_lost ? mc.lost : 0ULL);
	*len = b.len;
	return b.p;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload,
			      size_t *upload_len, void **ctx)
{
	static const char not_found[] = "not found: koptd serves /metrics\n";
	struct koptd *d = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	unsigned int code = MHD_HTTP_OK;
	size_t len = 0;
	char *text;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return MHD_NO;
	if (strcmp(url, "/metrics")) {
		r = MHD_create_response_from_buffer(sizeof(not_found) - 1,
						    (void *)not_found,
						    MHD_RESPMEM_PERSISTENT);
		code = MHD_HTTP_NOT_FOUND;
	} else {
		text = render(d, &len);
		r = MHD_create_response_from_buffer(
			len, text ? text : "",
			text ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(r, "Content-Type",
					"text/plain; version=0.0.4; "
					"charset=utf-8");
	}
	if (!r)
		return MHD_NO;
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

int koptd_metrics_start(struct koptd *d)
{
	const struct koptd_config *c = &d->cfg;
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr *sa;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD |
			     MHD_USE_ERROR_LOG;
	bool v6 = strchr(c->metrics_host, ':') != NULL;

	d->metrics_addr[0] = '\0';
	if (!c->metrics_on)
		return 0;
	if (v6) {
		inet_pton(AF_INET6, c->metrics_host, &a6.sin6_addr);
		a6.sin6_port = htons(c->metrics_port);
		sa = (struct sockaddr *)&a6;
		flags |= MHD_USE_IPv6;
	} else {
		inet_pton(AF_INET, c->metrics_host, &a4.sin_addr);
		a4.sin_port = htons(c->metrics_port);
		sa = (struct sockaddr *)&a4;
	}
	d->mhd = MHD_start_daemon(flags, c->metrics_port, NULL, NULL, answer, d,
				  MHD_OPTION_SOCK_ADDR, sa,
				  MHD_OPTION_CONNECTION_LIMIT, 16U,
				  MHD_OPTION_CONNECTION_TIMEOUT, 10U,
				  MHD_OPTION_END);
	if (!d->mhd) {
		pr_warn("metrics: cannot listen on %s%s%s:%u (in use, "
			"or not an address of this host); set [koptd] "
			"metrics, or off\n",
			v6 ? "[" : "", c->metrics_host, v6 ? "]" : "",
			c->metrics_port);
		return -1;
	}
	snprintf(d->metrics_addr, sizeof(d->metrics_addr), "%s%s%s:%u",
		 v6 ? "[" : "", c->metrics_host, v6 ? "]" : "",
		 c->metrics_port);
	pr_info("metrics at http://%s/metrics\n", d->metrics_addr);
	return 0;
}

void koptd_metrics_stop(struct koptd *d)
{
	if (d->mhd)
		MHD_stop_daemon(d->mhd);
	d->mhd = NULL;
	d->metrics_addr[0] = '\0';
}
