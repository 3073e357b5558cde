/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The `sim` plant: a model of a server under a network load, answering
 * the plant protocol (loader/lib/ctl/plant.h) with simulated energy, latency and
 * throughput. The model and its equations are described at the top of
 * loader/tools/plant_sim.c; its parameters live in a file
 * (policies/sim-*.params), not in code. It runs in a world (world.h: a
 * scenario's moving load, drift and neighbour, or the params' own 24-hour
 * curve) and knows each window's truth and oracle (struct lab_window).
 *
 * Userspace only. Every figure it produces is simulated.
 */
#ifndef KOPT_LOADER_PLANT_SIM_H
#define KOPT_LOADER_PLANT_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plant.h"
#include "world.h"

#define SIM_MAX_FREQS 64
#define SIM_MAX_DEFERS 16
/* the request's name of the [defer] knob (plant.h, "knobs") */
#define SIM_DEFER_KNOB PLANT_KNOB_DEFER_IRQS
#define SIM_HOURS WORLD_HOURS

enum sim_workload {
	SIM_OPEN, /* independent requests arriving at the offered rate */
	SIM_PINGPONG, /* one message in flight: closed loop, fixed work */
};

enum sim_report {
	SIM_REPORT_LATENCY, /* p50_us, p99_us */
	SIM_REPORT_THROUGHPUT, /* throughput (items/s completed) */
};

struct sim_params {
	char path[4096];
	enum sim_workload workload;
	enum sim_report report;
	/* server */
	double cores; /* cores serving the load (RSS spreads it evenly) */
	double base_us; /* network + stack latency no knob changes */
	double req_kcycles, req_fixed_us; /* per request (or per packet) */
	double irq_kcycles, irq_fixed_us; /* per interrupt (IRQ + NAPI) */
	double sat_util; /* utilization treated as saturation */
	double sat_p99_us; /* p99 reported when saturated */
	/* ping-pong only */
	double msg_bytes, mss_bytes, link_gbps, msg_kcycles;
	/* power */
	double uncore_w; /* package/uncore, independent of the knobs */
	double core_static_w; /* busy core, leakage */
	double core_dyn_w; /* busy core at max frequency, dynamic part */
	double dyn_exp; /* dynamic power ~ (f / fmax)^dyn_exp */
	double core_c1_w, core_c6_w; /* idle core, shallow and deep */
	double c6_residency_us; /* idle shorter than this stays shallow */
	double wake_uj; /* energy of one wake-up from the deep state */
	/* knob values the simulated hardware accepts (the oracle's grid) */
	double itr_min_us, itr_max_us, itr_step_us;
	size_t n_freqs;
	double freqs_mhz[SIM_MAX_FREQS]; /* ascending */
	/*
	 * [defer]: hard-IRQ deferral (NAPI's napi_defer_hard_irqs), the
	 * values it accepts (none given: 0 alone, no such knob) and what
	 * a timer poll costs next to an interrupt
	 */
	bool has_defer;
	size_t n_defers;
	double defers[SIM_MAX_DEFERS]; /* ascending, from 0 */
	double poll_frac;
	/* the stock policy: adaptive ITR and a utilization governor */
	double stock_itr_us; /* mean delay the adaptive ITR settles on */
	double stock_itr_swing_us; /* extra delay its swings add to p99 */
	double stock_util_target; /* governor aims at this utilization */
	double stock_min_mhz; /* governor floor */
	/* load */
	double peak_qps;
	double curve[SIM_HOURS]; /* offered load per hour, x peak_qps */
	/* measurement noise: relative standard deviations */
	double energy_sd, latency_sd, qps_sd, throughput_sd;
};

/* A noise-free evaluation of one setting at one offered load. */
struct sim_point {
	double itr_us, freq_mhz, defer;
	double power_w;
	double p50_us, p99_us;
	double ops; /* completed requests (round trips) per second */
	double throughput; /* = ops, items/s */
	double util; /* busy fraction of a serving core */
	double irq_rate; /* interrupts per second per serving core */
	double j_per_op;
	bool saturated;
};

/* Loads and checks a parameter file; -1 with a message naming file:line. */
int sim_params_load(const char *path, struct sim_params *p, char *err,
		    size_t errlen);

void sim_eval(const struct sim_params *p, double qps, double itr_us,
	      double freq_mhz, struct sim_point *out);
/* The stock policy at this load: its ITR and the governor's frequency. */
void sim_eval_stock(const struct sim_params *p, double qps,
		    struct sim_point *out);
bool sim_meets(const struct sim_sla *sla, double qps,
	       const struct sim_point *pt);
/* What the oracle minimizes: power (open) or joules per op (ping-pong). */
double sim_cost(const struct sim_params *p, const struct sim_point *pt);
/*
 * Exhaustive search of the hardware grid for the cheapest setting that
 * meets the SLA at this load; -ENOENT if none does.
 */
int sim_oracle(const struct sim_params *p, double qps,
	       const struct sim_sla *sla, struct sim_point *best);

/* ---- a running simulation (the plant) ------------------------------------ */

/* Measurement noise: relative standard deviations per window. */
struct sim_noise {
	double energy_sd, p99_sd, p50_sd, qps_sd, throughput_sd;
	/*
	 * Latency and throughput noise grow near saturation: their sd is
	 * x (1 + sat_gain x x^2), x = (util - sat_knee) / (sat_util -
	 * sat_knee) clamped to [0, 1].
	 */
	double sat_gain, sat_knee;
};

/* The params' own noise ([noise]), with no growth near saturation. */
void sim_noise_of(const struct sim_params *p, struct sim_noise *n);
/* The params' own world: its 24-hour curve x peak_qps, nothing else. */
void sim_world_of(const struct sim_params *p, struct world_spec *w);

/*
 * The model at a world's true conditions: cond->qps offered, service
 * time x cond->svc_scale, cond->extra_w more power.
 */
void sim_eval_at(const struct sim_params *p, const struct world_cond *cond,
		 double itr_us, double freq_mhz, struct sim_point *out);
/* The same with `defer` empty polls before hard IRQs come back ([defer]). */
void sim_eval_defer(const struct sim_params *p, const struct world_cond *cond,
		    double itr_us, double freq_mhz, double defer,
		    struct sim_point *out);
void sim_eval_stock_at(const struct sim_params *p,
		       const struct world_cond *cond, struct sim_point *out);
/* Exhaustive search of the grid at these conditions; -ENOENT if none. */
int sim_oracle_at(const struct sim_params *p, const struct world_cond *cond,
		  const struct sim_sla *sla, struct sim_point *best);

/*
 * The oracle per window, cached by conditions (sim.c says how); one
 * cache may serve many sims of the same params and SLA (a bench's
 * seeds), and resets itself when given others.
 */
struct sim_oracle_cache;
struct sim_oracle_cache *sim_oracle_cache_new(void);
void sim_oracle_cache_free(struct sim_oracle_cache *c);

struct sim_setup {
	const struct world_spec *world; /* NULL: the params' own */
	const struct sim_noise *noise; /* NULL: the params' own */
	uint64_t seed; /* the world's and the noise's */
	double start_s; /* plant clock at start */
	double fixed_qps; /* > 0: constant load instead of the world's base */
	const struct sim_sla *sla; /* the oracle's; NULL: no oracle */
	struct sim_oracle_cache *cache; /* NULL: the sim's own */
};

struct sim {
	struct sim_params params;
	struct sim_sla sla; /* for oracle_energy_j; NONE: not reported */
	struct sim_noise noise;
	struct world world;
	uint64_t rng; /* measurement noise, apart from the world's draws */
	uint64_t params_id; /* what the oracle cache is valid for */
	double t_s; /* simulated clock */
	struct sim_oracle_cache *cache;
	bool own_cache;
};

/* 0, or -ENOMEM. */
int sim_init(struct sim *s, const struct sim_params *p,
	     const struct sim_setup *o);
void sim_fini(struct sim *s);
/*
 * Runs one simulated window and advances the clock. -EINVAL (with a
 * message) for a setting the simulated hardware does not accept.
 */
int sim_window(struct sim *s, const struct lab_request *rq,
	       struct lab_window *w, char *err, size_t errlen);
/* The oracle at these conditions, through the sim's cache. */
int sim_oracle_cached(struct sim *s, const struct world_cond *cond,
		      struct sim_point *best);

#endif /* KOPT_LOADER_PLANT_SIM_H */
