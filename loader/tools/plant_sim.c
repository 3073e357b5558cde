// SPDX-License-Identifier: GPL-2.0-only
/*
 * The `sim` plant: an analytic model of a server's energy and latency as
 * a function of the NIC interrupt delay (ITR, r) and the CPU frequency
 * (f), so the energy controller can be developed, tested and judged
 * against a known optimum without the hardware. Every figure it produces
 * is simulated and labelled so.
 *
 * Why a model and not a replay: the controller must be judged on
 * settings nobody measured, and tests need a plant that knows its own
 * optimum (sim_oracle: exhaustive search of the hardware grid).
 *
 * Open workload (memcached-like; also stream processing). Per serving
 * core, requests arrive as a Poisson stream at lam = qps / cores.
 *   service time      s = req_kcycles / f + req_fixed_us
 *   interrupt cost    h = irq_kcycles / f + irq_fixed_us
 *   interrupt rate    i = 1 / (r + 1 / lam)   (ITR: at most one per r;
 *                     after it, the next arrival fires the next one)
 *   batch size        b = lam / i = lam r + 1 (coalescing amortizes h)
 *   busy per request  S = s + h / b,  utilization rho = lam S
 *   latency, summed tails (p99; p50 alike with 0.5 for 0.01):
 *     wait for the ITR timer: a fraction q = lam r / (1 + lam r) of the
 *       requests waits U(0, r): w99 = r (1 - 0.01 / q) when q > 0.01
 *     position in the batch:  (b - 1 + 2.33 sqrt(b - 1)) s
 *     queueing (M/M/1 tail):  S ln(100 rho) / (1 - rho)
 *     plus base_us + s + h; rho >= sat_util reports sat_p99_us.
 *   throughput = qps while rho < sat_util, then qps sat_util / rho.
 * Ping-pong workload (NetPIPE-like): one msg_bytes message in flight,
 *   npkts = msg / mss packets over t_wire = msg 8 / link; interrupts per
 *   message n = min(npkts, 1 + t_wire / r); the last packet waits
 *   d = r / 2 (r <= 2 t_wire) or r - t_wire; receiving takes
 *   rx = max(t_wire + d, n h + npkts s) (the wire and the timer, or the
 *   core when interrupts make it the bottleneck); round trip
 *   rtt = base + 2 (rx + msg_kcycles / f), p99 = rtt + 0.9 d; one core
 *   is busy n h + npkts s + msg_kcycles / f per round trip. Small r
 *   drowns the core in interrupts, large r waits: the "V".
 * Hard-IRQ deferral ([defer], the request's knob "defer_irqs", NAPI's
 *   napi_defer_hard_irqs: optional): with d > 0, after an interrupt the
 *   queue is polled again every r by a timer instead of re-arming the
 *   interrupt, until d polls in a row find nothing. A poll interval is
 *   empty with p0 = exp(-lam r); a polling run lasts E = (1 - p0^d) /
 *   ((1 - p0) p0^d) polls (runs of d empties). A cycle is T = 1 / lam +
 *   r + E r: one interrupt (cost h) and E polls (cost poll_frac h each,
 *   no IRQ entry and exit); arrivals while polling wait U(0, r) like
 *   those behind the ITR timer, so q = lam r (1 + E) / (1 + lam r (1 +
 *   E)) and b = (1 + lam r (1 + E)) / (1 + E). Under load it trades
 *   interrupts for cheaper polls; at low load its empty polls are
 *   wake-ups that buy nothing: the best d moves with the load. d = 0 is
 *   the model above exactly.
 * Power, per serving core (others in the deep state):
 *   busy    P_b = core_static_w + core_dyn_w (f / fmax)^dyn_exp
 *   idle gaps average g = (1 - rho) / i; with exponential gaps the share
 *   of idle time in gaps longer than the deep state's target residency T
 *   is D = (1 + T / g) exp(-T / g):  P_idle = D c6 + (1 - D) c1
 *   wake-ups from the deep state cost i exp(-T / g) wake_uj
 *   P = uncore_w + cores (rho P_b + (1 - rho) P_idle + wakes)
 * The stock policy is ITR stock_itr_us (the adaptive ITR's mean; its
 * swings add stock_itr_swing_us to p99) and a governor that picks the
 * lowest frequency >= stock_min_mhz keeping rho <= stock_util_target.
 * The world (world.h, from a scenario or the params' own 24-hour curve)
 * gives every window its true conditions: the offered load, a service
 * time factor (drift, a neighbour: s and the ping-pong's per-packet and
 * per-message work scale with it) and a neighbour's extra power, added
 * to P. Measurements get multiplicative Gaussian noise from a seeded
 * PRNG (world.h; a seed reproduces a run exactly), its latency and
 * throughput parts growing near saturation (struct sim_noise); the
 * stock policy's and the oracle's figures of a window are evaluated at
 * the same true conditions and get their own draws.
 *
 * Cost: a setting evaluates in well under a microsecond; the oracle
 * scans the hardware grid (about 10^4 points, 0.5 ms) once per bucket
 * of conditions (see "the oracle per window" below).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plant_sim.h"
#include "policy.h"

#define US_PER_S 1e6
/* z-score of the 99th percentile of a normal: batch-size tail */
#define Z99 2.33

/* ---- parameter file ----------------------------------------------------------- */

enum need { NEED_ALL, NEED_OPEN, NEED_PINGPONG };

struct param_desc {
	const char *section, *key;
	size_t off; /* double in struct sim_params */
	double min, max;
	enum need need;
};

#define S_OFF(field) offsetof(struct sim_params, field)

static const struct param_desc param_table[] = {
	{ "server", "cores", S_OFF(cores), 1, 4096, NEED_ALL },
	{ "server", "base_us", S_OFF(base_us), 0, 1e6, NEED_ALL },
	{ "server", "req_kcycles", S_OFF(req_kcycles), 0, 1e6, NEED_ALL },
	{ "server", "req_fixed_us", S_OFF(req_fixed_us), 0, 1e6, NEED_ALL },
	{ "server", "irq_kcycles", S_OFF(irq_kcycles), 0, 1e6, NEED_ALL },
	{ "server", "irq_fixed_us", S_OFF(irq_fixed_us), 0, 1e6, NEED_ALL },
	{ "server", "sat_util", S_OFF(sat_util), 0.1, 1, NEED_ALL },
	{ "server", "sat_p99_us", S_OFF(sat_p99_us), 1, 1e9, NEED_ALL },
	{ "pingpong", "msg_bytes", S_OFF(msg_bytes), 1, 1e9, NEED_PINGPONG },
	{ "pingpong", "mss_bytes", S_OFF(mss_bytes), 1, 1e6, NEED_PINGPONG },
	{ "pingpong", "link_gbps", S_OFF(link_gbps), 0.001, 1e4,
	  NEED_PINGPONG },
	{ "pingpong", "msg_kcycles", S_OFF(msg_kcycles), 0, 1e9,
	  NEED_PINGPONG },
	{ "power", "uncore_w", S_OFF(uncore_w), 0, 1e4, NEED_ALL },
	{ "power", "core_static_w", S_OFF(core_static_w), 0, 1e3, NEED_ALL },
	{ "power", "core_dyn_w", S_OFF(core_dyn_w), 0, 1e3, NEED_ALL },
	{ "power", "dyn_exp", S_OFF(dyn_exp), 0, 5, NEED_ALL },
	{ "power", "core_c1_w", S_OFF(core_c1_w), 0, 1e3, NEED_ALL },
	{ "power", "core_c6_w", S_OFF(core_c6_w), 0, 1e3, NEED_ALL },
	{ "power", "c6_residency_us", S_OFF(c6_residency_us), 0, 1e6,
	  NEED_ALL },
	{ "power", "wake_uj", S_OFF(wake_uj), 0, 1e6, NEED_ALL },
	{ "hardware", "itr_min_us", S_OFF(itr_min_us), 0, 1e5, NEED_ALL },
	{ "hardware", "itr_max_us", S_OFF(itr_max_us), 0, 1e5, NEED_ALL },
	{ "hardware", "itr_step_us", S_OFF(itr_step_us), 0.01, 1e5, NEED_ALL },
	{ "stock", "itr_us", S_OFF(stock_itr_us), 0, 1e5, NEED_ALL },
	{ "stock", "itr_swing_us", S_OFF(stock_itr_swing_us), 0, 1e5,
	  NEED_ALL },
	{ "stock", "util_target", S_OFF(stock_util_target), 0.01, 1, NEED_ALL },
	{ "stock", "min_mhz", S_OFF(stock_min_mhz), 0, 1e5, NEED_ALL },
	{ "load", "peak_qps", S_OFF(peak_qps), 0, 1e10, NEED_OPEN },
	{ "noise", "energy_sd", S_OFF(energy_sd), 0, 0.5, NEED_ALL },
	{ "noise", "latency_sd", S_OFF(latency_sd), 0, 0.5, NEED_ALL },
	{ "noise", "qps_sd", S_OFF(qps_sd), 0, 0.5, NEED_ALL },
	{ "noise", "throughput_sd", S_OFF(throughput_sd), 0, 0.5, NEED_ALL },
};

#define NR_PARAMS (sizeof(param_table) / sizeof(param_table[0]))
/* the keys outside the table, tracked in the same seen[] array */
enum {
	KEY_KIND = NR_PARAMS,
	KEY_REPORT,
	KEY_FREQS,
	KEY_CURVE,
	KEY_DEFERS,
	KEY_POLL_FRAC,
	NR_SIM_KEYS
};

struct sim_parse {
	struct sim_params *p;
	int line[NR_SIM_KEYS];
};

static int find_param(const char *section, const char *key)
{
	static const char *const extra[][2] = {
		{ "workload", "kind" },	     { "workload", "report" },
		{ "hardware", "freqs_mhz" }, { "load", "curve" },
		{ "defer", "values" },	     { "defer", "poll_frac" },
	};

	for (size_t i = 0; i < NR_PARAMS; i++)
		if (!strcmp(param_table[i].section, section) &&
		    !strcmp(param_table[i].key, key))
			return i;
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		if (!strcmp(extra[i][0], section) && !strcmp(extra[i][1], key))
			return NR_PARAMS + i;
	return -1;
}

static int set_word(struct kopt_ini *ini, const char *section, const char *key,
		    const char *value, const char *a, const char *b, int *dst)
{
	if (!strcmp(value, a))
		*dst = 0;
	else if (!strcmp(value, b))
		*dst = 1;
	else
		return kopt_ini_err(ini, section, key,
				    "'%s' is not one of: %s, %s", value, a, b);
	return 0;
}

static int sim_handler(struct kopt_ini *ini, const char *section,
		       const char *key, const char *value)
{
	struct sim_parse *sp = ini->user;
	struct sim_params *p = sp->p;
	void *dst;
	size_t n;
	int id = find_param(section, key);

	if (id < 0)
		return kopt_ini_err(ini, section, key,
				    "unknown key (see "
				    "policies/sim-memcached.params)");
	if (sp->line[id])
		return kopt_ini_err(ini, section, key,
				    "given twice (first on line %d)",
				    sp->line[id]);
	sp->line[id] = ini->line;
	switch (id) {
	case KEY_KIND:
		return set_word(ini, section, key, value, "open", "pingpong",
				(int *)&p->workload);
	case KEY_REPORT:
		return set_word(ini, section, key, value, "latency",
				"throughput", (int *)&p->report);
	case KEY_FREQS:
		return kopt_ini_list(ini, section, key, value, 1, 1e5,
				     p->freqs_mhz, SIM_MAX_FREQS, &p->n_freqs);
	case KEY_DEFERS:
		p->has_defer = true;
		return kopt_ini_list(ini, section, key, value, 0, 64, p->defers,
				     SIM_MAX_DEFERS, &p->n_defers);
	case KEY_POLL_FRAC:
		return kopt_ini_double(ini, section, key, value, 0, 1,
				       &p->poll_frac);
	case KEY_CURVE:
		if (kopt_ini_list(ini, section, key, value, 0, 10, p->curve,
				  SIM_HOURS, &n))
			return -1;
		if (n != SIM_HOURS)
			return kopt_ini_err(ini, section, key,
					    "%zu values; one per hour (%d) "
					    "needed",
					    n, SIM_HOURS);
		return 0;
	}
	dst = (char *)p + param_table[id].off;
	return kopt_ini_double(ini, section, key, value, param_table[id].min,
			       param_table[id].max, dst);
}

static bool needed(const struct sim_params *p, enum need need)
{
	return need == NEED_ALL ||
	       (need == NEED_OPEN && p->workload == SIM_OPEN) ||
	       (need == NEED_PINGPONG && p->workload == SIM_PINGPONG);
}

static int check_freqs(struct kopt_ini *ini, struct sim_parse *sp)
{
	struct sim_params *p = sp->p;

	ini->line = sp->line[KEY_FREQS];
	for (size_t i = 1; i < p->n_freqs; i++)
		if (p->freqs_mhz[i] <= p->freqs_mhz[i - 1])
			return kopt_ini_err(ini, "hardware", "freqs_mhz",
					    "must be strictly ascending");
	return 0;
}

/* [defer]: both keys or neither; values ascending from 0, whole numbers. */
static int check_defers(struct kopt_ini *ini, struct sim_parse *sp)
{
	struct sim_params *p = sp->p;

	if (!sp->line[KEY_DEFERS] && !sp->line[KEY_POLL_FRAC]) {
		p->n_defers = 1; /* no such knob: never deferred */
		p->defers[0] = 0;
		return 0;
	}
	if (!sp->line[KEY_DEFERS] || !sp->line[KEY_POLL_FRAC])
		return kopt_ini_err(ini, "defer",
				    sp->line[KEY_DEFERS] ? "poll_frac" :
							   "values",
				    "missing ([defer] needs values and "
				    "poll_frac)");
	if (p->workload != SIM_OPEN)
		return kopt_ini_err(ini, "defer", "values",
				    "only an open workload models deferral");
	ini->line = sp->line[KEY_DEFERS];
	for (size_t i = 0; i < p->n_defers; i++)
		if (p->defers[i] != floor(p->defers[i]) ||
		    (i && p->defers[i] <= p->defers[i - 1]) ||
		    (!i && p->defers[i] != 0))
			return kopt_ini_err(ini, "defer", "values",
					    "whole numbers, strictly "
					    "ascending from 0");
	return 0;
}

static int check_params(struct kopt_ini *ini, struct sim_parse *sp)
{
	struct sim_params *p = sp->p;

	ini->line = 0;
	if (!sp->line[KEY_KIND])
		return kopt_ini_err(ini, "workload", "kind",
				    "missing (open or pingpong)");
	if (!sp->line[KEY_REPORT])
		return kopt_ini_err(ini, "workload", "report",
				    "missing (latency or throughput)");
	if (!sp->line[KEY_FREQS])
		return kopt_ini_err(ini, "hardware", "freqs_mhz", "missing");
	if (p->workload == SIM_OPEN && !sp->line[KEY_CURVE])
		return kopt_ini_err(ini, "load", "curve",
				    "missing (24 hourly load levels)");
	for (size_t i = 0; i < NR_PARAMS; i++)
		if (needed(p, param_table[i].need) && !sp->line[i])
			return kopt_ini_err(ini, param_table[i].section,
					    param_table[i].key, "missing");
	if (p->itr_max_us < p->itr_min_us)
		return kopt_ini_err(ini, "hardware", "itr_max_us",
				    "below itr_min_us");
	if (p->workload == SIM_PINGPONG && p->report != SIM_REPORT_LATENCY)
		return kopt_ini_err(ini, "workload", "report",
				    "a ping-pong reports latency");
	if (check_defers(ini, sp))
		return -1;
	return check_freqs(ini, sp);
}

int sim_params_load(const char *path, struct sim_params *p, char *err,
		    size_t errlen)
{
	struct sim_parse sp = { .p = p };
	struct kopt_ini ini = {
		.path = path,
		.handler = sim_handler,
		.user = &sp,
	};

	memset(p, 0, sizeof(*p));
	snprintf(p->path, sizeof(p->path), "%s", path);
	if (kopt_ini_parse(&ini) || check_params(&ini, &sp)) {
		snprintf(err, errlen, "%s", ini.err);
		return -1;
	}
	return 0;
}

/* ---- the model ------------------------------------------------------------------ */

static double fmax_mhz(const struct sim_params *p)
{
	return p->freqs_mhz[p->n_freqs - 1];
}

static double core_power(const struct sim_params *p, double freq_mhz,
			 double util, double irq_per_us)
{
	double busy = p->core_static_w +
		      p->core_dyn_w * pow(freq_mhz / fmax_mhz(p), p->dyn_exp);
	double idle_frac = util < 1 ? 1 - util : 0;
	double gap, x, deep = 0, wakes = 0;

	if (idle_frac > 0 && irq_per_us > 0) {
		gap = idle_frac / irq_per_us;
		x = p->c6_residency_us / gap;
		deep = (1 + x) * exp(-x);
		wakes = irq_per_us * exp(-x) * p->wake_uj;
	} else if (idle_frac > 0) {
		deep = 1;
	}
	return (util < 1 ? util : 1) * busy +
	       idle_frac * (deep * p->core_c6_w + (1 - deep) * p->core_c1_w) +
	       wakes;
}

/*
 * Tail of the waiting time for the ITR (or poll) timer; `tail` = 0.01 or
 * 0.5; q: the share of requests that wait U(0, r) for it.
 */
static double itr_wait(double q, double r, double tail)
{
	return q > tail ? r * (1 - tail / q) : 0;
}

static double queue_wait(double S, double rho, double tail)
{
	double x = rho / tail;

	return x > 1 ? S * log(x) / (1 - rho) : 0;
}

/*
 * Polls in one polling run of deferral d: the expected wait for d empty
 * intervals in a row (the plain ITR model when d = 0 or nothing arrives).
 */
static double defer_polls(double lam, double r, double d)
{
	double p0 = exp(-lam * r), pd;

	if (d <= 0 || lam <= 0 || r <= 0)
		return 0;
	if (p0 >= 1)
		return d;
	pd = pow(p0, d);
	if (pd < 1e-12)
		return 1e12; /* busy enough that the run never ends */
	return (1 - pd) / ((1 - p0) * pd);
}

static void eval_open(const struct sim_params *p, const struct world_cond *c,
		      double r, double f, double d, struct sim_point *o)
{
	double qps = c->qps;
	double lam = qps / p->cores / US_PER_S;
	double s = (p->req_kcycles * 1e3 / f + p->req_fixed_us) * c->svc_scale;
	double h = p->irq_kcycles * 1e3 / f + p->irq_fixed_us;
	double E = defer_polls(lam, r, d);
	double cyc = lam > 0 ? 1 / lam + r + E * r : INFINITY;
	/* requests per cycle, and events (interrupts and polls) per second */
	double n = lam > 0 ? lam * cyc : 1, irq = lam > 0 ? 1 / cyc : 0;
	double ev = irq * (1 + E);
	/* requests per event that finds any (empty polls carry none) */
	double b = fmax(n / (1 + E * (1 - exp(-lam * r))), 1);
	double S = lam > 0 ? s + (h + E * p->poll_frac * h) / n : s;
	double rho = lam * S;
	double lr = lam * r * (1 + E);
	double q = lr / (1 + lr);

	o->util = rho < 1 ? rho : 1;
	o->irq_rate = irq * US_PER_S;
	o->saturated = rho >= p->sat_util;
	o->ops = rho < p->sat_util ? qps : qps * p->sat_util / rho;
	o->throughput = o->ops;
	/* every poll is a timer wake-up like an interrupt's */
	o->power_w =
		p->uncore_w + p->cores * core_power(p, f, rho, ev) + c->extra_w;
	if (o->saturated) {
		o->p99_us = p->sat_p99_us;
		o->p50_us = p->sat_p99_us / 2;
		return;
	}
	o->p99_us = p->base_us + s + h + itr_wait(q, r, 0.01) +
		    (b - 1 + Z99 * sqrt(b - 1)) * s + queue_wait(S, rho, 0.01);
	o->p50_us = p->base_us + s + h + itr_wait(q, r, 0.5) + (b - 1) / 2 * s +
		    queue_wait(S, rho, 0.5);
}

static void eval_pingpong(const struct sim_params *p,
			  const struct world_cond *c, double r, double f,
			  struct sim_point *o)
{
	double npkts = ceil(p->msg_bytes / p->mss_bytes);
	double t_wire = p->msg_bytes * 8 / (p->link_gbps * 1e3);
	double s = (p->req_kcycles * 1e3 / f + p->req_fixed_us) * c->svc_scale;
	double h = p->irq_kcycles * 1e3 / f + p->irq_fixed_us;
	double app = p->msg_kcycles * 1e3 / f * c->svc_scale;
	double n = r > 0 ? fmin(npkts, 1 + t_wire / r) : npkts;
	double d = r <= 2 * t_wire ? r / 2 : r - t_wire;
	/* receiving ends when the wire and the timer, or the core, are done */
	double rx = fmax(t_wire + d, n * h + npkts * s);
	double rtt = p->base_us + 2 * (rx + app);
	double busy = n * h + npkts * s + app;
	double irq = n / rtt;

	o->util = fmin(busy / rtt, 1);
	o->irq_rate = irq * US_PER_S;
	o->saturated = false;
	o->ops = US_PER_S / rtt;
	o->throughput = o->ops;
	o->power_w = p->uncore_w + core_power(p, f, o->util, irq) +
		     (p->cores - 1) * p->core_c6_w + c->extra_w;
	o->p50_us = rtt;
	/* the timer's phase spreads the round trips by up to d */
	o->p99_us = rtt + 0.9 * d;
}

/* Nominal conditions: the load alone, no drift, no neighbour. */
static void nominal(double qps, struct world_cond *c)
{
	*c = (struct world_cond){
		.qps = qps,
		.base_qps = qps,
		.drift = 1,
		.svc_scale = 1,
	};
}

void sim_eval_defer(const struct sim_params *p, const struct world_cond *cond,
		    double itr_us, double freq_mhz, double defer,
		    struct sim_point *out)
{
	memset(out, 0, sizeof(*out));
	out->itr_us = itr_us;
	out->freq_mhz = freq_mhz;
	out->defer = defer;
	if (p->workload == SIM_PINGPONG)
		eval_pingpong(p, cond, itr_us, freq_mhz, out);
	else
		eval_open(p, cond, itr_us, freq_mhz, defer, out);
	out->j_per_op = out->ops > 0 ? out->power_w / out->ops : INFINITY;
}

void sim_eval_at(const struct sim_params *p, const struct world_cond *cond,
		 double itr_us, double freq_mhz, struct sim_point *out)
{
	sim_eval_defer(p, cond, itr_us, freq_mhz, 0, out);
}

void sim_eval(const struct sim_params *p, double qps, double itr_us,
	      double freq_mhz, struct sim_point *out)
{
	struct world_cond c;

	nominal(qps, &c);
	sim_eval_at(p, &c, itr_us, freq_mhz, out);
}

void sim_eval_stock_at(const struct sim_params *p,
		       const struct world_cond *cond, struct sim_point *out)
{
	size_t i;

	for (i = 0; i < p->n_freqs; i++) {
		if (p->freqs_mhz[i] < p->stock_min_mhz)
			continue;
		sim_eval_at(p, cond, p->stock_itr_us, p->freqs_mhz[i], out);
		if (out->util <= p->stock_util_target)
			break;
	}
	if (i == p->n_freqs)
		sim_eval_at(p, cond, p->stock_itr_us, fmax_mhz(p), out);
	out->p99_us += p->stock_itr_swing_us;
}

void sim_eval_stock(const struct sim_params *p, double qps,
		    struct sim_point *out)
{
	struct world_cond c;

	nominal(qps, &c);
	sim_eval_stock_at(p, &c, out);
}

bool sim_meets(const struct sim_sla *sla, double qps,
	       const struct sim_point *pt)
{
	switch (sla->kind) {
	case SIM_SLA_NONE:
		return true;
	case SIM_SLA_P50:
		return pt->p50_us < sla->bound;
	case SIM_SLA_P99:
		return pt->p99_us < sla->bound;
	case SIM_SLA_RATIO:
		return qps <= 0 || pt->throughput >= sla->bound * qps;
	}
	return false;
}

double sim_cost(const struct sim_params *p, const struct sim_point *pt)
{
	return p->workload == SIM_PINGPONG ? pt->j_per_op : pt->power_w;
}

int sim_oracle_at(const struct sim_params *p, const struct world_cond *cond,
		  const struct sim_sla *sla, struct sim_point *best)
{
	struct sim_point pt;
	bool found = false;
	double r;

	for (size_t d = 0; d < p->n_defers; d++) {
		for (size_t i = 0; i < p->n_freqs; i++) {
			for (r = p->itr_min_us; r <= p->itr_max_us + 1e-9;
			     r += p->itr_step_us) {
				sim_eval_defer(p, cond, r, p->freqs_mhz[i],
					       p->defers[d], &pt);
				if (!sim_meets(sla, cond->qps, &pt))
					continue;
				if (!found ||
				    sim_cost(p, &pt) < sim_cost(p, best))
					*best = pt;
				found = true;
			}
		}
	}
	return found ? 0 : -ENOENT;
}

int sim_oracle(const struct sim_params *p, double qps,
	       const struct sim_sla *sla, struct sim_point *best)
{
	struct world_cond c;

	nominal(qps, &c);
	return sim_oracle_at(p, &c, sla, best);
}

/* ---- the params' own noise and world ------------------------------------------ */

void sim_noise_of(const struct sim_params *p, struct sim_noise *n)
{
	*n = (struct sim_noise){
		.energy_sd = p->energy_sd,
		.p99_sd = p->latency_sd,
		.p50_sd = p->latency_sd,
		.qps_sd = p->qps_sd,
		.throughput_sd = p->throughput_sd,
		.sat_gain = 0,
		.sat_knee = 0.6,
	};
}

void sim_world_of(const struct sim_params *p, struct world_spec *w)
{
	memset(w, 0, sizeof(*w));
	w->base = WORLD_BASE_CURVE;
	w->peak_qps = p->peak_qps;
	memcpy(w->curve, p->curve, sizeof(w->curve));
	w->flash_rise_s = 60;
}

/* ---- the oracle per window ------------------------------------------------------ */

/*
 * A grid scan per window would dominate a simulated day (0.5 ms each,
 * 8640 windows), so the oracle is cached by conditions: load and service
 * time in ORACLE_BUCKET relative steps, the neighbour's power in
 * ORACLE_W_BUCKET. A bucket keeps, from one scan at its centre and sorted
 * by cost there, every setting that met a looser SLA there (ORACLE_RELAX)
 * and cost at most (1 + ORACLE_COST)^2 times the cheapest that met a
 * tighter one. Within a bucket the model's latency moves far less than
 * the looser and tighter SLAs apart, and its cost by less than
 * ORACLE_COST, so these candidates hold the optimum of any point of the
 * bucket. Each window evaluates them at its own exact conditions, in
 * order, and takes the cheapest that meets the SLA there, stopping once
 * the centre cost of the rest is more than ORACLE_COST above it: the
 * oracle of the window's true conditions, not of its bucket. A bucket
 * where nothing met the tighter SLA, or a window none of whose
 * candidates meets the SLA, is scanned in full at the exact conditions.
 * selftests/test_plant.c checks the cached oracle against full scans.
 */
#define ORACLE_SLOTS 16384
#define ORACLE_BUCKET 0.01
#define ORACLE_W_BUCKET 0.25
#define ORACLE_RELAX 0.10
#define ORACLE_COST 0.01

struct cand {
	double itr, freq, defer, cost;
};

struct oracle_slot {
	bool valid, scan; /* scan: no candidates to trust here */
	long key[3];
	size_t n;
	struct cand *cand; /* by cost at the bucket's centre */
};

struct sim_oracle_cache {
	uint64_t id; /* the params and SLA its slots were filled for */
	struct oracle_slot slot[ORACLE_SLOTS];
};

struct sim_oracle_cache *sim_oracle_cache_new(void)
{
	return calloc(1, sizeof(struct sim_oracle_cache));
}

static void cache_clear(struct sim_oracle_cache *c)
{
	for (size_t i = 0; i < ORACLE_SLOTS; i++)
		free(c->slot[i].cand);
	memset(c->slot, 0, sizeof(c->slot));
}

void sim_oracle_cache_free(struct sim_oracle_cache *c)
{
	if (c)
		cache_clear(c);
	free(c);
}

/* A fingerprint of the model and the SLA (the path is not the model). */
static uint64_t params_id(const struct sim_params *p, const struct sim_sla *sla)
{
	const unsigned char *b = (const unsigned char *)&p->workload;
	size_t len = sizeof(*p) - offsetof(struct sim_params, workload);
	uint64_t h = 0x243f6a8885a308d3ULL, word;

	for (size_t i = 0; i + 8 <= len; i += 8) {
		memcpy(&word, b + i, 8);
		h = lab_mix64(h ^ word);
	}
	memcpy(&word, &sla->bound, 8);
	return lab_mix64(h ^ word ^ (uint64_t)sla->kind);
}

/* The SLA loosened (sign > 0) or tightened (< 0) for a bucket's scan. */
static struct sim_sla scaled_sla(const struct sim_sla *sla, int sign)
{
	struct sim_sla s = *sla;

	/* a throughput ratio moves with load and service time alike */
	if (s.kind == SIM_SLA_RATIO)
		s.bound = fmin(s.bound * (1 - sign * 2 * ORACLE_BUCKET), 1);
	else
		s.bound *= 1 + sign * ORACLE_RELAX;
	return s;
}

static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	return (x->cost > y->cost) - (x->cost < y->cost);
}

static size_t grid_itrs(const struct sim_params *p)
{
	return (size_t)((p->itr_max_us - p->itr_min_us) / p->itr_step_us +
			1e-9) +
	       1;
}

static void fill_slot(const struct sim *s, const struct world_cond *centre,
		      struct oracle_slot *slot)
{
	const struct sim_params *p = &s->params;
	struct sim_sla loose = scaled_sla(&s->sla, 1);
	struct sim_sla tight = scaled_sla(&s->sla, -1);
	size_t levels = grid_itrs(p), n = 0, kept = 0;
	struct cand *c = malloc(levels * p->n_freqs * p->n_defers * sizeof(*c));
	double best_tight = INFINITY, limit;
	struct sim_point pt;

	free(slot->cand);
	slot->cand = NULL;
	slot->n = 0;
	slot->scan = true;
	if (!c)
		return; /* out of memory: full scans, slower but exact */
	for (size_t j = 0; j < p->n_defers * p->n_freqs; j++) {
		size_t i = j % p->n_freqs, d = j / p->n_freqs;

		for (size_t k = 0; k < levels; k++) {
			double r = p->itr_min_us + k * p->itr_step_us;

			sim_eval_defer(p, centre, r, p->freqs_mhz[i],
				       p->defers[d], &pt);
			if (!sim_meets(&loose, centre->qps, &pt))
				continue;
			c[n++] = (struct cand){ r, p->freqs_mhz[i],
						p->defers[d],
						sim_cost(p, &pt) };
			if (sim_meets(&tight, centre->qps, &pt))
				best_tight = fmin(best_tight, sim_cost(p, &pt));
		}
	}
	limit = best_tight * (1 + ORACLE_COST) * (1 + ORACLE_COST);
	for (size_t i = 0; i < n; i++)
		if (c[i].cost <= limit)
			c[kept++] = c[i];
	if (!isfinite(best_tight) || !kept) {
		free(c);
		return;
	}
	qsort(c, kept, sizeof(*c), cmp_cand);
	slot->cand = realloc(c, kept * sizeof(*c)) ?: c;
	slot->n = kept;
	slot->scan = false;
}

static long bucket(double v, double step)
{
	return lround(log(v > 1e-9 ? v : 1e-9) / log1p(step));
}

static struct oracle_slot *find_slot(struct sim *s,
				     const struct world_cond *cond)
{
	long key[3] = { bucket(fmax(cond->qps, 1), ORACLE_BUCKET),
			bucket(cond->svc_scale, ORACLE_BUCKET),
			lround(cond->extra_w / ORACLE_W_BUCKET) };
	uint64_t h = lab_mix64(key[0] ^ lab_mix64(key[1] ^ lab_mix64(key[2])));
	struct oracle_slot *slot;
	struct world_cond centre = *cond;

	if (s->cache->id != s->params_id) {
		cache_clear(s->cache);
		s->cache->id = s->params_id;
	}
	slot = &s->cache->slot[h % ORACLE_SLOTS];
	if (slot->valid && !memcmp(slot->key, key, sizeof(key)))
		return slot;
	centre.qps = exp(key[0] * log1p(ORACLE_BUCKET));
	centre.svc_scale = exp(key[1] * log1p(ORACLE_BUCKET));
	centre.extra_w = key[2] * ORACLE_W_BUCKET;
	if (cond->qps < 1)
		centre.qps = cond->qps; /* no load: a ping-pong */
	memcpy(slot->key, key, sizeof(key));
	slot->valid = true;
	fill_slot(s, &centre, slot);
	return slot;
}

int sim_oracle_cached(struct sim *s, const struct world_cond *cond,
		      struct sim_point *best)
{
	const struct sim_params *p = &s->params;
	struct oracle_slot *slot;
	struct sim_point pt;
	bool found = false;

	if (s->sla.kind == SIM_SLA_NONE)
		return -ENOENT;
	slot = find_slot(s, cond);
	for (size_t i = 0; !slot->scan && i < slot->n; i++) {
		/* the rest cost more here than the best found can at most */
		if (found &&
		    slot->cand[i].cost > sim_cost(p, best) * (1 + ORACLE_COST))
			break;
		sim_eval_defer(p, cond, slot->cand[i].itr, slot->cand[i].freq,
			       slot->cand[i].defer, &pt);
		if (!sim_meets(&s->sla, cond->qps, &pt) ||
		    (found && sim_cost(p, &pt) >= sim_cost(p, best)))
			continue;
		*best = pt;
		found = true;
	}
	if (found)
		return 0;
	return sim_oracle_at(p, cond, &s->sla, best);
}

/* ---- a running simulation ---------------------------------------------------- */

int sim_init(struct sim *s, const struct sim_params *p,
	     const struct sim_setup *o)
{
	struct world_spec ws;

	memset(s, 0, sizeof(*s));
	s->params = *p;
	if (o->sla)
		s->sla = *o->sla;
	if (o->noise)
		s->noise = *o->noise;
	else
		sim_noise_of(p, &s->noise);
	if (o->world)
		ws = *o->world;
	else
		sim_world_of(p, &ws);
	if (o->fixed_qps > 0) {
		ws.base = WORLD_BASE_FIXED;
		ws.fixed_qps = o->fixed_qps;
	}
	/* the noise's own stream: the world draws from the seed apart */
	s->rng = lab_mix64(o->seed ^ 0x4e4f495345ULL);
	s->t_s = o->start_s;
	s->params_id = params_id(p, &s->sla);
	s->cache = o->cache;
	if (!s->cache) {
		s->cache = sim_oracle_cache_new();
		s->own_cache = true;
	}
	if (!s->cache || world_init(&s->world, &ws, o->seed)) {
		sim_fini(s);
		return -ENOMEM;
	}
	return 0;
}

void sim_fini(struct sim *s)
{
	world_fini(&s->world);
	if (s->own_cache)
		sim_oracle_cache_free(s->cache);
	s->cache = NULL;
	s->own_cache = false;
}

static double snap_itr(const struct sim_params *p, double itr)
{
	double k = round((itr - p->itr_min_us) / p->itr_step_us);

	return p->itr_min_us + k * p->itr_step_us;
}

/* The value of list[0..n) nearest to v (a knob snaps to what it takes). */
static double nearest(const double *list, size_t n, double v)
{
	double best = list[0];

	for (size_t i = 1; i < n; i++)
		if (fabs(list[i] - v) < fabs(best - v))
			best = list[i];
	return best;
}

static double snap_freq(const struct sim_params *p, double f)
{
	return nearest(p->freqs_mhz, p->n_freqs, f);
}

/* The request's defer_irqs (0 when it has none); -EINVAL: another knob. */
static int request_defer(const struct sim_params *p,
			 const struct lab_request *rq, double *d, char *err,
			 size_t errlen)
{
	*d = 0;
	for (unsigned int i = 0; i < rq->n_knobs; i++) {
		if (strcmp(rq->knob_names[i], SIM_DEFER_KNOB) ||
		    !p->has_defer) {
			snprintf(err, errlen,
				 "knob %s: the simulated server has no such "
				 "knob (%s)",
				 rq->knob_names[i],
				 p->has_defer ? "it has " SIM_DEFER_KNOB :
						"its params have no [defer]");
			return -EINVAL;
		}
		if (rq->knobs[i] > p->defers[p->n_defers - 1] + 1) {
			snprintf(err, errlen,
				 "knob %s: %g is outside what the simulated "
				 "NIC driver accepts (0..%g)",
				 SIM_DEFER_KNOB, rq->knobs[i],
				 p->defers[p->n_defers - 1]);
			return -EINVAL;
		}
		*d = nearest(p->defers, p->n_defers, rq->knobs[i]);
	}
	return 0;
}

/*
 * Real NICs and cpufreq round to what they support; so does the sim.
 * *d: the request's defer_irqs, snapped (0 for stock or none).
 */
static int check_setting(const struct sim_params *p,
			 const struct lab_request *rq, double *d, char *err,
			 size_t errlen)
{
	double fmin = p->freqs_mhz[0], fmax = fmax_mhz(p);

	*d = 0;
	if (rq->stock)
		return 0;
	if (request_defer(p, rq, d, err, errlen))
		return -EINVAL;
	if (rq->itr_us < p->itr_min_us - p->itr_step_us ||
	    rq->itr_us > p->itr_max_us + p->itr_step_us) {
		snprintf(err, errlen,
			 "itr_us %g is outside what the simulated NIC "
			 "accepts (%g..%g us)",
			 rq->itr_us, p->itr_min_us, p->itr_max_us);
		return -EINVAL;
	}
	if (rq->freq_mhz < fmin * 0.95 || rq->freq_mhz > fmax * 1.05) {
		snprintf(err, errlen,
			 "freq_mhz %g is outside what the simulated CPU "
			 "offers (%g..%g MHz)",
			 rq->freq_mhz, fmin, fmax);
		return -EINVAL;
	}
	return 0;
}

/* Energy per second of doing this window's work under another setting. */
static double counterfactual_w(const struct sim *s, const struct sim_point *pt,
			       const struct sim_point *done)
{
	if (s->params.workload == SIM_PINGPONG)
		return pt->j_per_op * done->ops;
	return pt->power_w;
}

/* How much the latency and throughput noise grows at this utilization. */
static double near_saturation(const struct sim *s, double util)
{
	double knee = s->noise.sat_knee, sat = s->params.sat_util, x;

	if (s->noise.sat_gain <= 0 || !(util > knee))
		return 1;
	x = sat > knee ? (util - knee) / (sat - knee) : 1;
	x = fmin(x, 1);
	return 1 + s->noise.sat_gain * x * x;
}

static void fill_truth(const struct sim *s, const struct lab_request *rq,
		       const struct sim_point *pt,
		       const struct sim_point *stock, struct lab_window *w)
{
	w->stock = rq->stock;
	w->itr_us = rq->stock ? NAN : pt->itr_us;
	w->freq_mhz = rq->stock ? NAN : pt->freq_mhz;
	w->defer = rq->stock ? NAN : pt->defer;
	w->power_w = pt->power_w;
	w->true_p50_us = pt->p50_us;
	w->true_p99_us = pt->p99_us;
	w->true_throughput = pt->throughput;
	w->util = pt->util;
	w->stock_w = counterfactual_w(s, stock, pt);
}

int sim_window(struct sim *s, const struct lab_request *rq,
	       struct lab_window *w, char *err, size_t errlen)
{
	const struct sim_params *p = &s->params;
	const struct sim_noise *n = &s->noise;
	struct sim_point pt, stock, best;
	struct world_cond c;
	double e, l99, l50, q, tp, e_stock, e_oracle, grow;
	int ret, oracle_err;
	double d;

	ret = check_setting(p, rq, &d, err, errlen);
	if (ret)
		return ret;
	world_window(&s->world, s->t_s, rq->seconds, &c);
	sim_eval_stock_at(p, &c, &stock);
	if (rq->stock)
		pt = stock;
	else
		sim_eval_defer(p, &c, snap_itr(p, rq->itr_us),
			       snap_freq(p, rq->freq_mhz), d, &pt);
	oracle_err = sim_oracle_cached(s, &c, &best);

	/*
	 * Seven draws per window whatever the setting, so two runs of a
	 * seed stay aligned window by window; the stock and oracle figures
	 * have their own draws, as separate measurements would.
	 */
	grow = near_saturation(s, pt.util);
	e = lab_noisy(&s->rng, n->energy_sd);
	l99 = lab_noisy(&s->rng, n->p99_sd * grow);
	l50 = lab_noisy(&s->rng, n->p50_sd * grow);
	q = lab_noisy(&s->rng, n->qps_sd);
	tp = lab_noisy(&s->rng, n->throughput_sd * grow);
	e_stock = lab_noisy(&s->rng, n->energy_sd);
	e_oracle = lab_noisy(&s->rng, n->energy_sd);

	memset(w, 0, sizeof(*w));
	w->seconds = rq->seconds;
	w->hour = fmod(s->t_s, WORLD_DAY_S) / 3600;
	w->offered_qps = c.qps;
	w->cond = c;
	w->energy_j = pt.power_w * rq->seconds * e;
	w->p99_us = pt.p99_us * l99;
	w->p50_us = fmin(pt.p50_us * l50, w->p99_us);
	w->qps = (p->workload == SIM_PINGPONG ? pt.ops : c.qps) * q;
	w->throughput = pt.throughput * tp;
	fill_truth(s, rq, &pt, &stock, w);
	w->stock_energy_j = w->stock_w * rq->seconds * e_stock;
	w->oracle_ok = !oracle_err;
	w->oracle_energy_j = NAN;
	w->oracle_w = NAN;
	w->oracle_itr_us = NAN;
	w->oracle_freq_mhz = NAN;
	w->oracle_defer = NAN;
	if (!oracle_err) {
		w->oracle_defer = best.defer;
		w->oracle_w = counterfactual_w(s, &best, &pt);
		w->oracle_itr_us = best.itr_us;
		w->oracle_freq_mhz = best.freq_mhz;
		w->oracle_energy_j = w->oracle_w * rq->seconds * e_oracle;
	}
	s->t_s += rq->seconds;
	return 0;
}
