/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The `replay` plant: a measured ITR x DVFS sweep (policies/data/NAME.json,
 * provenance in policies/data/README.md) played back through the plant
 * protocol, in a world that moves (world.h). How it snaps, interpolates
 * and adds noise is at the top of plant_replay.c. Its replies say
 * "source": "replay": the figures are measured ones, replayed.
 *
 * Userspace only.
 */
#ifndef KOPT_TOOLS_PLANT_REPLAY_H
#define KOPT_TOOLS_PLANT_REPLAY_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "world.h"

#define REPLAY_MAX_ITRS 64
#define REPLAY_MAX_FREQS 64
#define REPLAY_MAX_RATES 32

enum replay_report {
	REPLAY_LATENCY, /* rows carry p99_ms (and lat_ms: the median) */
	REPLAY_THROUGHPUT, /* rows carry tput only */
};

/* One measured cell (or stock row) as the table gives it. */
struct replay_cell {
	bool present;
	double w, w_sd; /* mean power and its spread, W; w_sd NAN: none */
	double p99_us, p99_sd_us; /* NAN on throughput tables / no spread */
	double p50_us; /* NAN: not measured */
	double tput; /* achieved rate */
};

struct replay_table {
	char path[PATH_MAX];
	enum replay_report report;
	size_t n_itr, n_freq, n_rate; /* the static grid, ascending */
	double itr_us[REPLAY_MAX_ITRS], freq_mhz[REPLAY_MAX_FREQS];
	double rate[REPLAY_MAX_RATES];
	struct replay_cell *cell; /* [rate][freq][itr] */
	struct replay_cell stock[REPLAY_MAX_RATES]; /* at each static rate */
	/* median relative spread, for cells measured once */
	double w_cv, p99_cv;
	size_t rows, missing; /* rows read; grid cells not measured */
};

/*
 * Reads and checks a table (JSON list of rows, policies/data/README.md);
 * -1 with err naming the file, the row and the field.
 */
int replay_table_load(const char *path, struct replay_table *t, char *err,
		      size_t errlen);
void replay_table_free(struct replay_table *t);

/* A cell interpolated at a load: what the replay reports, noise-free. */
struct replay_point {
	double itr_us, freq_mhz; /* NAN: stock */
	double w, w_sd, p99_us, p99_sd_us, p50_us, tput;
};

/* Nearest measured ITR / frequency: indices into the grid. */
size_t replay_snap_itr(const struct replay_table *t, double itr_us);
size_t replay_snap_freq(const struct replay_table *t, double freq_mhz);
void replay_eval(const struct replay_table *t, double qps, size_t freq_i,
		 size_t itr_i, struct replay_point *out);
void replay_eval_stock(const struct replay_table *t, double qps,
		       struct replay_point *out);
bool replay_meets(const struct replay_table *t, const struct sim_sla *sla,
		  double qps, const struct replay_point *pt);
/* The cheapest measured cell meeting the SLA at this load; -ENOENT. */
int replay_oracle(const struct replay_table *t, double qps,
		  const struct sim_sla *sla, struct replay_point *best);
/*
 * The table's own world: its rates up and down (lowest, ..., highest,
 * ..., second lowest), each held 4 hours, the load kept within the rates
 * measured.
 */
void replay_world_of(const struct replay_table *t, struct world_spec *w);

struct replay_setup {
	const struct world_spec *world; /* NULL: the table's own */
	double qps_sd, throughput_sd; /* not in the tables: noise of these */
	uint64_t seed;
	double start_s;
	const struct sim_sla *sla; /* the oracle's; NULL: no oracle */
};

struct replay {
	const struct replay_table *t; /* borrowed */
	struct world world;
	struct sim_sla sla;
	double qps_sd, throughput_sd;
	uint64_t rng;
	double t_s;
};

/* 0, or -EINVAL with err (a load level outside the measured rates). */
int replay_init(struct replay *r, const struct replay_table *t,
		const struct replay_setup *o, char *err, size_t errlen);
void replay_fini(struct replay *r);
/* One window; -EINVAL with err for a request the table cannot answer. */
int replay_window(struct replay *r, const struct lab_request *rq,
		  struct lab_window *w, char *err, size_t errlen);

#endif /* KOPT_TOOLS_PLANT_REPLAY_H */
