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
 * Load follows a 24-hour curve (a level per hour, x peak_qps, linear in
 * between);
 * measurements get multiplicative Gaussian noise from a seeded PRNG
 * (splitmix64: the sim must not share state with anything else, so a
 * seed reproduces a run exactly).
 *
 * Cost: a setting evaluates in well under a microsecond; the oracle
 * scans the hardware grid (about 10^4 points) once per load level.
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
#define HOUR_S 3600.0
#define DAY_S (SIM_HOURS * HOUR_S)
/* relative load step of the oracle cache */
#define ORACLE_BUCKET 0.002

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
enum { KEY_KIND = NR_PARAMS, KEY_REPORT, KEY_FREQS, KEY_CURVE, NR_SIM_KEYS };

struct sim_parse {
	struct sim_params *p;
	int line[NR_SIM_KEYS];
};

static int find_param(const char *section, const char *key)
{
	static const char *const extra[][2] = {
		{ "workload", "kind" },
		{ "workload", "report" },
		{ "hardware", "freqs_mhz" },
		{ "load", "curve" },
	};

	for (size_t i = 0; i < NR_PARAMS; i++)
		if (!strcmp(param_table[i].section, section) &&
		    !strcmp(param_table[i].key, key))
			return i;
	for (size_t i = 0; i < 4; i++)
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

/* ---- load ------------------------------------------------------------------ */

double sim_offered_qps(const struct sim_params *p, double t_s)
{
	double day = fmod(t_s, DAY_S), hour, frac;
	int h;

	if (day < 0)
		day += DAY_S;
	hour = day / HOUR_S;
	h = (int)hour % SIM_HOURS;
	frac = hour - floor(hour);
	/* a trace is smooth at the minute scale: interpolate the hours */
	return p->peak_qps * (p->curve[h] * (1 - frac) +
			      p->curve[(h + 1) % SIM_HOURS] * frac);
}

double sim_window_qps(const struct sim_params *p, double t_s, double seconds)
{
	double t = t_s, end = t_s + seconds, sum = 0;

	if (seconds <= 0)
		return sim_offered_qps(p, t_s);
	/* linear within an hour: the midpoint is the exact average */
	while (t < end) {
		double next = (floor(t / HOUR_S) + 1) * HOUR_S;

		if (next > end)
			next = end;
		sum += sim_offered_qps(p, (t + next) / 2) * (next - t);
		t = next;
	}
	return sum / seconds;
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

/* Tail of the waiting time for the ITR timer; `tail` = 0.01 or 0.5. */
static double itr_wait(double lam, double r, double tail)
{
	double q = lam * r / (1 + lam * r);

	return q > tail ? r * (1 - tail / q) : 0;
}

static double queue_wait(double S, double rho, double tail)
{
	double x = rho / tail;

	return x > 1 ? S * log(x) / (1 - rho) : 0;
}

static void eval_open(const struct sim_params *p, double qps, double r,
		      double f, struct sim_point *o)
{
	double lam = qps / p->cores / US_PER_S;
	double s = p->req_kcycles * 1e3 / f + p->req_fixed_us;
	double h = p->irq_kcycles * 1e3 / f + p->irq_fixed_us;
	double irq = lam > 0 ? 1 / (r + 1 / lam) : 0;
	double b = lam * r + 1, S = s + h / b, rho = lam * S;

	o->util = rho < 1 ? rho : 1;
	o->irq_rate = irq * US_PER_S;
	o->saturated = rho >= p->sat_util;
	o->ops = rho < p->sat_util ? qps : qps * p->sat_util / rho;
	o->throughput = o->ops;
	o->power_w = p->uncore_w + p->cores * core_power(p, f, rho, irq);
	if (o->saturated) {
		o->p99_us = p->sat_p99_us;
		o->p50_us = p->sat_p99_us / 2;
		return;
	}
	o->p99_us = p->base_us + s + h + itr_wait(lam, r, 0.01) +
		    (b - 1 + Z99 * sqrt(b - 1)) * s + queue_wait(S, rho, 0.01);
	o->p50_us = p->base_us + s + h + itr_wait(lam, r, 0.5) +
		    (b - 1) / 2 * s + queue_wait(S, rho, 0.5);
}

static void eval_pingpong(const struct sim_params *p, double r, double f,
			  struct sim_point *o)
{
	double npkts = ceil(p->msg_bytes / p->mss_bytes);
	double t_wire = p->msg_bytes * 8 / (p->link_gbps * 1e3);
	double s = p->req_kcycles * 1e3 / f + p->req_fixed_us;
	double h = p->irq_kcycles * 1e3 / f + p->irq_fixed_us;
	double app = p->msg_kcycles * 1e3 / f;
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
		     (p->cores - 1) * p->core_c6_w;
	o->p50_us = rtt;
	/* the timer's phase spreads the round trips by up to d */
	o->p99_us = rtt + 0.9 * d;
}

void sim_eval(const struct sim_params *p, double qps, double itr_us,
	      double freq_mhz, struct sim_point *out)
{
	memset(out, 0, sizeof(*out));
	out->itr_us = itr_us;
	out->freq_mhz = freq_mhz;
	if (p->workload == SIM_PINGPONG)
		eval_pingpong(p, itr_us, freq_mhz, out);
	else
		eval_open(p, qps, itr_us, freq_mhz, out);
	out->j_per_op = out->ops > 0 ? out->power_w / out->ops : INFINITY;
}

void sim_eval_stock(const struct sim_params *p, double qps,
		    struct sim_point *out)
{
	size_t i;

	for (i = 0; i < p->n_freqs; i++) {
		if (p->freqs_mhz[i] < p->stock_min_mhz)
			continue;
		sim_eval(p, qps, p->stock_itr_us, p->freqs_mhz[i], out);
		if (out->util <= p->stock_util_target)
			break;
	}
	if (i == p->n_freqs)
		sim_eval(p, qps, p->stock_itr_us, fmax_mhz(p), out);
	out->p99_us += p->stock_itr_swing_us;
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

int sim_oracle(const struct sim_params *p, double qps,
	       const struct sim_sla *sla, struct sim_point *best)
{
	struct sim_point pt;
	bool found = false;
	double r;

	for (size_t i = 0; i < p->n_freqs; i++) {
		for (r = p->itr_min_us; r <= p->itr_max_us + 1e-9;
		     r += p->itr_step_us) {
			sim_eval(p, qps, r, p->freqs_mhz[i], &pt);
			if (!sim_meets(sla, qps, &pt))
				continue;
			if (!found || sim_cost(p, &pt) < sim_cost(p, best))
				*best = pt;
			found = true;
		}
	}
	return found ? 0 : -ENOENT;
}

/* ---- a running simulation ---------------------------------------------------- */

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in (0, 1): never 0, so log() below is finite. */
static double uniform(uint64_t *state)
{
	return ((splitmix64(state) >> 11) + 0.5) * 0x1.0p-53;
}

static double gauss(uint64_t *state)
{
	double u = uniform(state), v = uniform(state);

	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* Multiplicative noise, kept positive. */
static double noisy(uint64_t *state, double sd)
{
	return fmax(1 + sd * gauss(state), 0.01);
}

void sim_init(struct sim *s, const struct sim_params *p, uint64_t seed,
	      double start_s, double fixed_qps, const struct sim_sla *sla)
{
	memset(s, 0, sizeof(*s));
	s->params = *p;
	s->rng = seed;
	s->t_s = start_s;
	s->fixed_qps = fixed_qps;
	if (sla)
		s->sla = *sla;
}

static double snap_itr(const struct sim_params *p, double itr)
{
	double k = round((itr - p->itr_min_us) / p->itr_step_us);

	return p->itr_min_us + k * p->itr_step_us;
}

static double snap_freq(const struct sim_params *p, double f)
{
	double best = p->freqs_mhz[0];

	for (size_t i = 1; i < p->n_freqs; i++)
		if (fabs(p->freqs_mhz[i] - f) < fabs(best - f))
			best = p->freqs_mhz[i];
	return best;
}

/* Real NICs and cpufreq round to what they support; so does the sim. */
static int check_setting(const struct sim_params *p,
			 const struct sim_request *rq, char *err, size_t errlen)
{
	double fmin = p->freqs_mhz[0], fmax = fmax_mhz(p);

	if (rq->stock)
		return 0;
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

/*
 * The oracle per window, cached by load rounded to ORACLE_BUCKET (a grid
 * scan per window would dominate a simulated day); its setting is then
 * evaluated at the window's exact load.
 */
static void oracle_point(struct sim *s, double qps, struct sim_point *out,
			 int *err)
{
	long key = lround(log(qps > 1 ? qps : 1) / log1p(ORACLE_BUCKET));
	struct sim_oracle_slot *slot =
		&s->oracle[(unsigned long)key % SIM_ORACLE_SLOTS];

	*err = -ENOENT;
	if (s->sla.kind == SIM_SLA_NONE)
		return;
	if (!slot->valid || slot->key != key) {
		slot->valid = true;
		slot->key = key;
		slot->err = sim_oracle(&s->params,
				       exp(key * log1p(ORACLE_BUCKET)), &s->sla,
				       &slot->pt);
	}
	*err = slot->err;
	if (!*err)
		sim_eval(&s->params, qps, slot->pt.itr_us, slot->pt.freq_mhz,
			 out);
}

/* Energy of doing this window's work under another setting. */
static double counterfactual_j(const struct sim *s, const struct sim_point *pt,
			       const struct sim_point *done, double seconds)
{
	if (s->params.workload == SIM_PINGPONG)
		return pt->j_per_op * done->ops * seconds;
	return pt->power_w * seconds;
}

int sim_window(struct sim *s, const struct sim_request *rq,
	       struct sim_reply *rp, char *err, size_t errlen)
{
	const struct sim_params *p = &s->params;
	struct sim_point pt, stock, best;
	double qps, e_noise, l_noise;
	int ret, oracle_err;

	ret = check_setting(p, rq, err, errlen);
	if (ret)
		return ret;
	qps = s->fixed_qps > 0 ? s->fixed_qps :
				 sim_window_qps(p, s->t_s, rq->seconds);
	sim_eval_stock(p, qps, &stock);
	if (rq->stock)
		pt = stock;
	else
		sim_eval(p, qps, snap_itr(p, rq->itr_us),
			 snap_freq(p, rq->freq_mhz), &pt);
	oracle_point(s, qps, &best, &oracle_err);

	/* one draw per quantity, shared by the counterfactuals */
	e_noise = noisy(&s->rng, p->energy_sd);
	l_noise = noisy(&s->rng, p->latency_sd);
	memset(rp, 0, sizeof(*rp));
	rp->seconds = rq->seconds;
	rp->hour = fmod(s->t_s, DAY_S) / HOUR_S;
	rp->offered_qps = qps;
	rp->energy_j = pt.power_w * rq->seconds * e_noise;
	rp->p99_us = pt.p99_us * l_noise;
	rp->p50_us =
		fmin(pt.p50_us * noisy(&s->rng, p->latency_sd), rp->p99_us);
	if (p->workload == SIM_PINGPONG)
		rp->qps = pt.ops * noisy(&s->rng, p->qps_sd);
	else
		rp->qps = qps * noisy(&s->rng, p->qps_sd);
	rp->throughput = pt.throughput * noisy(&s->rng, p->throughput_sd);
	rp->stock_energy_j =
		counterfactual_j(s, &stock, &pt, rq->seconds) * e_noise;
	rp->oracle_energy_j = NAN;
	if (!oracle_err)
		rp->oracle_energy_j =
			counterfactual_j(s, &best, &pt, rq->seconds) * e_noise;
	s->t_s += rq->seconds;
	return 0;
}
