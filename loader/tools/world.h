/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The world a lab plant (sim, replay) runs in: the true conditions of
 * every moment of plant time, drawn from a seed. A scenario
 * (policies/scenarios/NAME.scenario, scenario.h) describes it; world.c
 * generates it. Both plants and the controller bench share it, so the
 * controller and its baselines meet exactly the same day for a seed.
 *
 *   load     a base schedule (an hourly curve x peak_qps, or levels held
 *            for step_s each), times slow ramps and unannounced flash
 *            crowds, times a wander (minute to minute, a few %)
 *   drift    the service time moves by tens of % over hours, with no
 *            change of load
 *   neighbour  hours of extra power and slower service from a
 *            co-located job
 *
 * Also here: the lab's PRNG (splitmix64, seeded, sharing state with
 * nothing else, so a seed reproduces a run exactly) and what one window
 * of a lab plant reports and knows (struct lab_window).
 *
 * Userspace only.
 */
#ifndef KOPT_TOOLS_WORLD_H
#define KOPT_TOOLS_WORLD_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plant.h"

#define WORLD_HOURS 24
#define WORLD_DAY_S 86400.0
#define WORLD_MAX_LEVELS 64
/* the wander is an Ornstein-Uhlenbeck process sampled on this grid */
#define WORLD_WANDER_STEP_S 10.0

enum world_base {
	WORLD_BASE_CURVE, /* peak_qps x an hourly curve, linear in between */
	WORLD_BASE_STEPS, /* levels[] held for step_s each, cycled */
	WORLD_BASE_FIXED, /* fixed_qps */
};

/* Events drawn per day: how many, and the ranges they are drawn from. */
struct world_events {
	unsigned int per_day;
	double size[2]; /* relative change of load (ramps, flashes) */
	double rise_s[2]; /* ramps: rise (and fall) time; flashes: duration */
	double hold_s[2]; /* ramps: time held at the top */
};

struct world_spec {
	enum world_base base;
	double peak_qps, curve[WORLD_HOURS];
	double step_s;
	size_t n_levels;
	double levels[WORLD_MAX_LEVELS];
	double fixed_qps;
	/* clamp the offered load (a replay cannot go past its table); 0: no */
	double min_qps, max_qps;
	double wander_sd, wander_tau_s; /* relative sd of log load; 0: none */
	struct world_events ramps, flashes;
	double flash_rise_s; /* onset and end of a flash crowd */
	double drift_size; /* service time within 1 +- drift_size */
	double drift_period_s; /* a new drift target this often; 0: none */
	struct world_events neighbours; /* rise_s: how long one stays */
	double neighbour_w; /* its extra power */
	double neighbour_slowdown; /* service time x (1 + this) */
};

/* The true conditions at a moment, or averaged over a window. */
struct world_cond {
	double qps; /* offered load, wander included */
	double base_qps; /* the schedule with ramps and flashes, no wander */
	double drift; /* service-time factor of the drift alone */
	double svc_scale; /* service-time factor: drift x neighbour */
	double extra_w; /* power the neighbour adds */
	double neighbour; /* 0..1: its presence (1 once settled) */
	double flash; /* 0..: relative load the flash crowds add */
};

struct world {
	struct world_spec spec;
	uint64_t seed;
	double *wander; /* log-load wander on the grid, grown on demand */
	size_t n_wander, cap_wander;
	uint64_t wander_rng;
};

/* 0, or -ENOMEM. The spec is copied. */
int world_init(struct world *w, const struct world_spec *spec, uint64_t seed);
void world_fini(struct world *w);
/* Conditions at time t (seconds of plant time since midnight of day 0). */
void world_at(struct world *w, double t, struct world_cond *c);
/* Averaged over [t, t + seconds). */
void world_window(struct world *w, double t, double seconds,
		  struct world_cond *c);
/* The base schedule's highest load (no wander, ramps or flashes). */
double world_base_peak(const struct world_spec *spec);
/*
 * Genuine changes of conditions in [t0, t1), looked at every step_s: the
 * load without its wander, or the service time, moved by more than
 * `change` (relative) from the level of the last change, or a neighbour
 * came or went. A move is counted once, at its start; its reference is
 * where it settles settle_s later (a flash crowd's rise is one change).
 */
unsigned int world_changes(struct world *w, double t0, double t1, double step_s,
			   double change, double settle_s);

/* ---- the lab's PRNG ---------------------------------------------------------- */

static inline uint64_t lab_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t lab_next64(uint64_t *state)
{
	return lab_mix64(*state += 0x9e3779b97f4a7c15ULL);
}

/* Uniform in (0, 1): never 0, so log() of it is finite. */
static inline double lab_uniform(uint64_t *state)
{
	return ((lab_next64(state) >> 11) + 0.5) * 0x1.0p-53;
}

static inline double lab_gauss(uint64_t *state)
{
	double u = lab_uniform(state), v = lab_uniform(state);

	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* Multiplicative noise 1 + sd z, kept positive. */
static inline double lab_noisy(uint64_t *state, double sd)
{
	return fmax(1 + sd * lab_gauss(state), 0.01);
}

/* The SLA a lab plant's oracle keeps. */
enum sim_sla_kind { SIM_SLA_NONE, SIM_SLA_P50, SIM_SLA_P99, SIM_SLA_RATIO };

struct sim_sla {
	enum sim_sla_kind kind;
	double bound; /* us for P50/P99, minimum throughput/qps for RATIO */
};

/* ---- one window of a lab plant ----------------------------------------------- */

struct lab_request {
	bool stock; /* both knobs null */
	double itr_us, freq_mhz, seconds;
	/* other knobs by name (the request's "knobs") */
	unsigned int n_knobs;
	char knob_names[PLANT_MAX_KNOBS][PLANT_KNOB_NAME_LEN];
	double knobs[PLANT_MAX_KNOBS];
};

/*
 * What a window reported (the protocol reply: noisy, like a measurement)
 * and the truth behind it, which only judges see: the bench, the tests.
 */
struct lab_window {
	/* the reply */
	double seconds, energy_j, p50_us, p99_us, qps, throughput;
	double stock_energy_j, oracle_energy_j; /* NAN: none */
	double offered_qps, hour;
	/* the truth */
	struct world_cond cond;
	bool stock;
	double itr_us, freq_mhz; /* the setting applied (snapped); stock: NAN */
	double defer; /* the sim's defer_irqs applied (0: none) */
	double power_w, true_p50_us, true_p99_us, true_throughput;
	double util; /* busy share of a serving core (NAN: unknown) */
	double stock_w; /* the stock policy's power at these conditions */
	bool oracle_ok; /* some setting meets the SLA at these conditions */
	double oracle_w, oracle_itr_us, oracle_freq_mhz, oracle_defer;
};

#endif /* KOPT_TOOLS_WORLD_H */
