/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A lab plant: the sim or the replay behind one interface, in a world a
 * scenario describes. It answers the plant protocol on stdin/stdout
 * (`kopt plant sim|replay`) or in this process through plant_ops
 * (plant_start_ops(), for the controller bench and the tests), with the
 * same reply lines either way, and it can record every window with the
 * truth behind it for a judge.
 *
 * Userspace only.
 */
#ifndef KOPT_TOOLS_LABPLANT_H
#define KOPT_TOOLS_LABPLANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "plant.h"
#include "plant_replay.h"
#include "plant_sim.h"
#include "scenario.h"
#include "world.h"

/* Noise of the replay's load and throughput, which no table measured. */
#define REPLAY_QPS_SD 0.003
#define REPLAY_THROUGHPUT_SD 0.001

struct labplant {
	enum scenario_plant kind;
	struct sim sim;
	struct replay replay;
	bool latency; /* replies carry p50/p99, else throughput */
	const char *source; /* "sim" or "replay" */
	bool record; /* keep every window in rec[] */
	/* names of an in-process request's knobs[] (labplant_set_knobs) */
	unsigned int n_knobs;
	char knob_names[PLANT_MAX_KNOBS][PLANT_KNOB_NAME_LEN];
	struct lab_window *rec;
	size_t n_rec, cap_rec;
};

struct labplant_setup {
	const struct scenario *sc; /* NULL: the plant's own calm world */
	uint64_t seed;
	double start_s;
	double fixed_qps; /* sim: > 0, constant load */
	const struct sim_sla *sla; /* the oracle's; NULL: no oracle */
	struct sim_oracle_cache *cache; /* sim: shared cache, or NULL */
	bool record;
};

/* The world and noise a scenario gives a sim of these params. */
void labplant_sim_world(const struct scenario *sc, const struct sim_params *p,
			struct world_spec *w);
void labplant_sim_noise(const struct scenario *sc, const struct sim_params *p,
			struct sim_noise *n);
void labplant_replay_world(const struct scenario *sc,
			   const struct replay_table *t, struct world_spec *w);

/* 0, or a negative errno with err filled. params/table are copied/borrowed. */
int labplant_init_sim(struct labplant *lp, const struct sim_params *p,
		      const struct labplant_setup *o, char *err, size_t errlen);
/* The table is borrowed: it must outlive the plant. */
int labplant_init_replay(struct labplant *lp, const struct replay_table *t,
			 const struct labplant_setup *o, char *err,
			 size_t errlen);
void labplant_fini(struct labplant *lp);

/* The world the plant runs in (a pure function of time and the seed). */
struct world *labplant_world(struct labplant *lp);

/* One window (recorded when asked). -EINVAL with err: a bad request. */
int labplant_window(struct labplant *lp, const struct lab_request *rq,
		    struct lab_window *w, char *err, size_t errlen);
/* The protocol reply for a window, or for an error; one line, no '\n'. */
void labplant_reply_line(const struct labplant *lp, const struct lab_window *w,
			 char *line, size_t cap);
void labplant_error_line(const struct labplant *lp, const char *msg, char *line,
			 size_t cap);
/* The protocol on in/out until EOF. 0, or -1 on an output error. */
int labplant_serve(struct labplant *lp, FILE *in, FILE *out);

struct policy;
/* In this process, a setting's knobs[] are the policy's [knob NAME]s. */
void labplant_set_knobs(struct labplant *lp, const struct policy *pol);
/* The SLA a policy keeps, as the oracle's. */
void labplant_sla_of(const struct policy *pol, struct sim_sla *sla);

/*
 * For the lab plants' commands (what: "sim", "replay", in messages): a
 * scenario file that must be for this plant; the oracle's SLA from the
 * scenario's policy when no option gave one; and serving an initialized
 * plant (malloc'ed) on stdin/stdout until EOF, then freeing it. The first
 * two return 0 or -1 (said why); the last a kopt exit code.
 */
int labplant_scenario_open(const char *path, enum scenario_plant plant,
			   struct scenario *sc, const char *what);
int labplant_scenario_sla(const struct scenario *sc, struct sim_sla *sla,
			  const char *what);
int labplant_serve_stdio(struct labplant *lp);

/* In this process: plant_start_ops(&labplant_ops, lp, ...). */
extern const struct plant_ops labplant_ops;

/*
 * --sla-p99 / --sla-p50 US and --sla-ratio R of the lab plants: option
 * callbacks (loader/cli/opts.h, KOPT_OPT_FUNC) into a struct sim_sla.
 */
int labplant_sla_p99_arg(const char *s, void *to, char *why, size_t len);
int labplant_sla_p50_arg(const char *s, void *to, char *why, size_t len);
int labplant_sla_ratio_arg(const char *s, void *to, char *why, size_t len);

#endif /* KOPT_TOOLS_LABPLANT_H */
