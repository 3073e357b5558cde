// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt bench controller: the energy controller judged in worlds that
 * move, against its oracle and two baselines, on every scenario of
 * policies/scenarios/ (sim worlds and replayed measured sweeps), over
 * seeds.
 *
 * Per scenario and seed, three runs meet the same day (the world is a
 * function of the seed: world.h), each on its own in-process lab plant
 * (labplant.h, plant_start_ops(): no child process):
 *   controller  the library's controller (controller.h) with the
 *               scenario's policy, its seed moved by the run's seed
 *   static      the oracle's setting at the schedule's peak load under
 *               nominal conditions (one sweep at peak, as an operator
 *               would make), held all day with no guard
 *   random      random search in the bench: at each trigger one window
 *               of the current setting, then `trials` settings drawn
 *               uniformly from the policy's grid, holding the cheapest
 *               that met the aim (else the one furthest inside the SLA,
 *               else the fallback); the same hold and guard policy keys
 *               as the controller (qps_change, schedule_s, violations,
 *               fallback), none of its own smarts (no headroom or
 *               retry triggers, no warm start)
 * Every figure comes from the plant's record of its windows, with the
 * truth behind them (labplant.h):
 *   saving         1 - energy / stock energy, the plant's figures (the
 *                  stock ones their own noise draws)
 *   oracle share   saving / the oracle's saving over the same windows
 *                  (the cheapest setting meeting the SLA at each window's
 *                  true conditions; where none does, the stock figure)
 *   over SLA       share of time whose reported figure broke the SLA, in
 *                  exploration and outside it (a window's phase is the
 *                  controller's log's: anything but hold, measure and
 *                  stock is exploration); also by the noise-free figure,
 *                  and the share of time no setting could meet it
 *   re-optimizations per day (triggers after the first) vs the genuine
 *                  changes of the world (world_changes(): the load
 *                  without its wander or the service time moving by the
 *                  policy's qps_change, 10% when it has none, or a
 *                  neighbour coming or going; a move counted once)
 *   trials         per trigger at a new load level, and at one seen
 *                  before (an earlier trigger's true load and service
 *                  time within qps_change, the same neighbour state)
 * and the acceptance checks per seed (a scenario passes one when
 * every seed does). Figures are labelled "simulated" (source sim) or
 * "replayed-measured" (source replay, with the table's credit).
 *
 * Cost: a simulated day is about 1 s for the controller (8640 windows,
 * a few hundred GP suggestions) and less for each baseline; the default
 * (10 scenarios x 10 seeds x 3 runs) takes a few minutes on one core.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "opts.h"
#include "controller.h"
#include "labplant.h"
#include "plant.h"
#include "policy.h"
#include "scenario.h"

#define DEFAULT_SEEDS 10
#define MAX_SEEDS 1000
#define DEFAULT_HOURS 24.0
#define MAX_CASES 64
/* a change of conditions settles (its new level is read) this much later */
#define SETTLE_S 120.0
/* what counts as a genuine change when the policy has no qps_change */
#define DEFAULT_CHANGE 0.10
/* the acceptance bars */
#define BAR_OVER_SLA 0.005
#define BAR_ORACLE_SHARE 0.90
#define BAR_REOPT_RATIO 2.0
#define BAR_TRIALS_NEW 10.0
#define BAR_TRIALS_SEEN 3.0

enum method { M_CTL, M_STATIC, M_RANDOM, NR_METHODS };

static const char *const method_names[NR_METHODS] = { "controller", "static",
						      "random" };

struct bench_opts {
	unsigned int seeds;
	double hours;
	const char *list, *dir, *logs;
};

/* One scenario, loaded once for all its seeds. */
struct bench_case {
	struct scenario sc;
	struct policy pol;
	struct sim_params params;
	struct replay_table table;
	struct sim_sla sla;
	struct sim_oracle_cache *cache;
	struct plant_setting static_set;
	bool static_found; /* the oracle found a setting at the peak */
	double peak_qps, change;
	const char *label; /* "simulated" or "replayed-measured" */
	const char *logs; /* --logs: where each controller run's CSV goes */
};

/* A trigger (or a round of random search) and its trials. */
struct lvl {
	double t_s;
	unsigned int trials;
};

/* What one run did: a phase per recorded window, its levels. */
struct trace {
	bool *explore;
	size_t n, cap;
	struct lvl *lv;
	size_t nlv, cap_lv;
	unsigned int failed;
};

struct metrics {
	double saving, oracle_saving, share;
	double over, over_explore, over_outside, over_true, infeasible;
	double reopt_day, changes_day;
	double trials_new, trials_seen; /* means; NAN: no such level */
	double max_new, max_seen;
	unsigned int reopts, changes, n_new, n_seen, windows, failed;
	double wall_s;
};

/* ---- small helpers ------------------------------------------------------------- */

static void *grow(void *arr, size_t *cap, size_t n, size_t size)
{
	void *p;

	if (n < *cap)
		return arr;
	p = realloc(arr, (*cap ? *cap * 2 : 256) * size);
	if (p)
		*cap = *cap ? *cap * 2 : 256;
	return p;
}

static int push_window(struct trace *tr, bool explore)
{
	bool *p = grow(tr->explore, &tr->cap, tr->n, sizeof(*p));

	if (!p)
		return -ENOMEM;
	tr->explore = p;
	tr->explore[tr->n++] = explore;
	return 0;
}

static int push_level(struct trace *tr, double t_s, unsigned int trials)
{
	struct lvl *p = grow(tr->lv, &tr->cap_lv, tr->nlv, sizeof(*p));

	if (!p)
		return -ENOMEM;
	tr->lv = p;
	tr->lv[tr->nlv++] = (struct lvl){ t_s, trials };
	return 0;
}

static void trace_free(struct trace *tr)
{
	free(tr->explore);
	free(tr->lv);
	memset(tr, 0, sizeof(*tr));
}

/* As the reply line carries it (%.7g), so judged like the controller. */
static double as_sent(double v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.7g", v);
	return strtod(buf, NULL);
}

static double now_s(void)
{
	return kopt_now_s();
}

/* CPU time of this process: what a busy shared machine does not inflate. */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- scenarios ------------------------------------------------------------------- */

static bool is_dir(const char *path)
{
	DIR *d = opendir(path);

	if (d)
		closedir(d);
	return d != NULL;
}

/* --dir, $KOPT_SCENARIOS, else policies/scenarios of the source tree. */
static int find_dir(const struct bench_opts *o, char *buf, size_t len)
{
	static const char *const rel[] = { "..", "../..", NULL };
	const char *env = getenv("KOPT_SCENARIOS");
	char self[PATH_MAX];
	ssize_t n;

	if (o->dir || (env && *env)) {
		snprintf(buf, len, "%s", o->dir ? o->dir : env);
		return is_dir(buf) ? 0 : -ENOENT;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		for (int i = 0; rel[i]; i++) {
			snprintf(buf, len, "%s/%s/policies/scenarios",
				 dirname(self), rel[i]);
			if (is_dir(buf))
				return 0;
			self[n] = '\0';
		}
	}
	snprintf(buf, len, "policies/scenarios");
	return is_dir(buf) ? 0 : -ENOENT;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The scenarios to run: --scenarios a,b (names or paths), else all. */
static int list_cases(const char *dir, const char *list, char **names,
		      size_t *n)
{
	char *copy, *tok, *save = NULL;
	struct dirent *de;
	DIR *d;

	*n = 0;
	if (list) {
		copy = strdup(list);
		if (!copy)
			return -ENOMEM;
		for (tok = strtok_r(copy, ",", &save); tok && *n < MAX_CASES;
		     tok = strtok_r(NULL, ",", &save))
			if (strchr(tok, '/'))
				names[(*n)++] = strdup(tok);
			else if (asprintf(&names[(*n)++], "%s/%s.scenario", dir,
					  tok) < 0)
				names[*n - 1] = NULL;
		free(copy);
	} else {
		d = opendir(dir);
		if (!d)
			return -errno;
		while ((de = readdir(d)) && *n < MAX_CASES) {
			size_t l = strlen(de->d_name);

			if (l > 9 && !strcmp(de->d_name + l - 9, ".scenario") &&
			    asprintf(&names[(*n)++], "%s/%s", dir, de->d_name) <
				    0)
				names[*n - 1] = NULL;
		}
		closedir(d);
		qsort(names, *n, sizeof(*names), cmp_str);
	}
	for (size_t i = 0; i < *n; i++)
		if (!names[i])
			return -ENOMEM;
	return *n ? 0 : -ENOENT;
}

/* ---- a case ---------------------------------------------------------------------- */

static int static_setting(struct bench_case *c)
{
	struct world_spec ws;
	struct world_cond peak = { .drift = 1, .svc_scale = 1 };
	struct replay_point rb;
	struct sim_point sb;

	if (c->sc.plant == SCENARIO_SIM)
		labplant_sim_world(&c->sc, &c->params, &ws);
	else
		labplant_replay_world(&c->sc, &c->table, &ws);
	c->peak_qps = world_base_peak(&ws);
	peak.qps = peak.base_qps = c->peak_qps;
	c->static_set = (struct plant_setting){ .stock = true };
	if (c->sc.plant == SCENARIO_SIM &&
	    !sim_oracle_at(&c->params, &peak, &c->sla, &sb)) {
		c->static_set = (struct plant_setting){
			.itr_us = sb.itr_us,
			.freq_mhz = sb.freq_mhz,
			.n_knobs = c->pol.n_knobs,
		};
		/* the sim's one other knob is defer_irqs (plant_sim.h) */
		for (unsigned int i = 0; i < c->pol.n_knobs; i++)
			c->static_set.knobs[i] =
				strcmp(c->pol.knobs[i].name, SIM_DEFER_KNOB) ?
					c->pol.knobs[i].fallback :
					sb.defer;
		c->static_found = true;
	} else if (c->sc.plant == SCENARIO_REPLAY &&
		   !replay_oracle(&c->table, c->peak_qps, &c->sla, &rb)) {
		c->static_set = (struct plant_setting){
			.itr_us = rb.itr_us,
			.freq_mhz = rb.freq_mhz,
		};
		c->static_found = true;
	}
	return 0;
}

static int load_case(const char *path, struct bench_case *c)
{
	char err[KOPT_INI_ERR_LEN];

	memset(c, 0, sizeof(*c));
	if (scenario_load(path, &c->sc, err, sizeof(err)))
		goto fail;
	if (!c->sc.policy[0]) {
		snprintf(
			err, sizeof(err),
			"%.400s: [scenario] policy: missing (the bench runs the "
			"controller with it)",
			path);
		goto fail;
	}
	if (policy_load(c->sc.policy, &c->pol, err, sizeof(err)))
		goto fail;
	if (c->pol.freq_fixed) {
		snprintf(err, sizeof(err),
			 "%.200s: policy %.200s has no DVFS knob; the lab "
			 "plants need one",
			 path, c->sc.policy);
		goto fail;
	}
	labplant_sla_of(&c->pol, &c->sla);
	c->change = c->pol.qps_change > 0 ? c->pol.qps_change : DEFAULT_CHANGE;
	if (c->sc.plant == SCENARIO_SIM) {
		c->label = "simulated";
		if (sim_params_load(c->sc.params, &c->params, err, sizeof(err)))
			goto fail;
		c->cache = sim_oracle_cache_new();
		if (!c->cache) {
			snprintf(err, sizeof(err), "out of memory");
			goto fail;
		}
	} else {
		c->label = "replayed-measured";
		if (replay_table_load(c->sc.table, &c->table, err, sizeof(err)))
			goto fail;
	}
	return static_setting(c);
fail:
	pr_warn("bench controller: %s\n", err);
	return -1;
}

static void free_case(struct bench_case *c)
{
	sim_oracle_cache_free(c->cache);
	replay_table_free(&c->table);
}

static int new_plant(struct bench_case *c, unsigned int seed,
		     struct labplant *lp)
{
	struct labplant_setup ls = {
		.sc = &c->sc,
		.seed = seed,
		.sla = &c->sla,
		.cache = c->cache,
		.record = true,
	};
	char err[512];
	int ret;

	if (c->sc.plant == SCENARIO_SIM)
		ret = labplant_init_sim(lp, &c->params, &ls, err, sizeof(err));
	else
		ret = labplant_init_replay(lp, &c->table, &ls, err,
					   sizeof(err));
	if (ret)
		pr_warn("bench controller: %s: %s\n", c->sc.name, err);
	else
		labplant_set_knobs(lp, &c->pol);
	return ret;
}

/* ---- the controller ----------------------------------------------------------------- */

#define LOG_MAX_COLS 64

/* Splits a CSV row into at most ncols fields; the last keeps its commas. */
static int split_row(char *line, char **f, int ncols)
{
	int n = 1;

	f[0] = line;
	while (n < ncols) {
		char *comma = strchr(f[n - 1], ',');

		if (!comma)
			break;
		*comma = '\0';
		f[n++] = comma + 1;
	}
	return n;
}

static bool exploring(const char *phase)
{
	return strcmp(phase, "hold") && strcmp(phase, "measure") &&
	       strcmp(phase, "stock");
}

/*
 * The phases of the controller's windows, from its log (columns by the
 * header's names): anything but hold, measure and stock is exploration.
 * Failed windows (text in the last column, error) have no plant record.
 */
static int parse_log(char *buf, struct trace *tr)
{
	char *save = NULL, *line, *f[LOG_MAX_COLS];
	int phase = -1, ncols = 0;

	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		if (!ncols) {
			ncols = split_row(line, f, LOG_MAX_COLS);
			for (int i = 0; i < ncols; i++)
				if (!strcmp(f[i], "phase"))
					phase = i;
			if (phase < 0 || strcmp(f[ncols - 1], "error"))
				return -EPROTO;
			continue;
		}
		if (split_row(line, f, ncols) != ncols)
			return -EPROTO;
		if (*f[ncols - 1]) {
			tr->failed++;
			continue;
		}
		if (push_window(tr, exploring(f[phase])))
			return -ENOMEM;
	}
	return ncols ? 0 : -EPROTO;
}

static int levels_of(struct json_object *sum, struct trace *tr)
{
	struct json_object *lv = json_object_object_get(sum, "levels");

	for (size_t i = 0; lv && i < json_object_array_length(lv); i++) {
		struct json_object *o = json_object_array_get_idx(lv, i);

		if (push_level(tr,
			       json_object_get_double(
				       json_object_object_get(o, "t_s")),
			       json_object_get_int(
				       json_object_object_get(o, "trials"))))
			return -ENOMEM;
	}
	return 0;
}

/* The controller's own messages (guard reverts...) only with -v. */
static int quiet_begin(void)
{
	int saved, fd;

	if (kopt_env.verbose)
		return -1;
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (saved < 0 || fd < 0) {
		if (saved >= 0)
			close(saved);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	dup2(fd, STDERR_FILENO);
	close(fd);
	return saved;
}

static void quiet_end(int saved)
{
	if (saved < 0)
		return;
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
}

/*
 * --logs DIR: the run's window log (kopt run --log's CSV, for kopt report)
 * as DIR/SCENARIO-seedN.csv, so a figure of the table can be looked into.
 */
static int save_log(const struct bench_case *c, unsigned int seed,
		    const char *buf, size_t len)
{
	char path[PATH_MAX];
	FILE *f;
	int bad;

	if (!c->logs)
		return 0;
	if (snprintf(path, sizeof(path), "%s/%s-seed%u.csv", c->logs,
		     c->sc.name, seed) >= (int)sizeof(path)) {
		pr_warn("bench controller: --logs: path too long\n");
		return -1;
	}
	f = fopen(path, "w");
	if (!f) {
		pr_warn("bench controller: %s: %s\n", path, strerror(errno));
		return -1;
	}
	bad = fwrite(buf, 1, len, f) != len;
	bad |= fclose(f) != 0;
	if (bad)
		pr_warn("bench controller: %s: write failed\n", path);
	return bad ? -1 : 0;
}

static int run_controller(struct bench_case *c, unsigned int seed,
			  double duration, struct labplant *lp,
			  struct trace *tr)
{
	struct policy pol = c->pol;
	struct json_object *sum = NULL;
	char err[PLANT_ERR_LEN], *buf = NULL;
	struct plant *plant;
	struct run *r = NULL;
	size_t len = 0;
	FILE *log;
	int ret = -1, quiet;

	pol.seed += seed - 1;
	plant = plant_start_ops(&labplant_ops, lp, c->sc.name, err,
				sizeof(err));
	log = open_memstream(&buf, &len);
	if (plant && log)
		r = ctl_new(&pol,
			    &(struct ctl_opts){ .duration_s = duration,
						.plant_name = lp->source },
			    plant, log);
	if (r) {
		quiet = quiet_begin();
		ret = ctl_loop(r);
		quiet_end(quiet);
		sum = ctl_summary_json(r);
	}
	if (log)
		fclose(log);
	if (ret == KOPT_EXIT_OK && sum && buf) {
		/* saved first: parse_log() cuts buf into its lines */
		ret = save_log(c, seed, buf, len) || parse_log(buf, tr) ||
		      levels_of(sum, tr);
		if (ret)
			pr_warn("bench controller: %s: the controller's log "
				"is not the CSV this bench reads (a phase "
				"column, error last)\n",
				c->sc.name);
	} else {
		pr_warn("bench controller: %s seed %u: the controller "
			"failed (run with -v for its messages)\n",
			c->sc.name, seed);
		ret = -1;
	}
	json_object_put(sum);
	ctl_free(r);
	plant_stop(plant);
	free(buf);
	return ret;
}

/* ---- the baselines ----------------------------------------------------------------- */

struct base_run {
	const struct policy *pol;
	struct plant *plant;
	struct trace *tr;
	enum plant_need need;
	double t, duration;
};

struct judged {
	struct plant_reply r;
	double obj, cons; /* the controller's objective; latency or shortfall */
	bool sla_ok, aim_ok;
};

/* The controller's judgement of a window (controller.c: judge()). */
static void judge(const struct policy *p, struct judged *w)
{
	double ops, ratio;

	if (p->objective == POLICY_OBJ_ENERGY) {
		w->obj = w->r.energy_j / w->r.seconds;
	} else {
		ops = (isfinite(w->r.throughput) ? w->r.throughput : w->r.qps) *
		      w->r.seconds;
		w->obj = ops > 0 ? w->r.energy_j / ops : INFINITY;
	}
	if (p->sla.kind == POLICY_SLA_LATENCY) {
		w->cons = p->sla.pct == POLICY_P99 ? w->r.p99_us : w->r.p50_us;
		w->sla_ok = w->cons < p->sla.bound_us;
		w->aim_ok = w->cons <= p->sla.aim_us;
		return;
	}
	ratio = w->r.qps > 0 ? w->r.throughput / w->r.qps : 1;
	w->cons = 1 - ratio;
	w->sla_ok = ratio >= p->sla.min_ratio;
	w->aim_ok = ratio >= p->sla.aim_ratio;
}

static enum plant_need need_of(const struct policy *p)
{
	if (p->sla.kind == POLICY_SLA_THROUGHPUT)
		return PLANT_NEED_THROUGHPUT;
	return p->sla.pct == POLICY_P99 ? PLANT_NEED_P99 : PLANT_NEED_P50;
}

/* One window; 0, or 1 if it failed (its time passes all the same). */
static int base_window(struct base_run *b, const struct plant_setting *s,
		       bool explore, struct judged *w)
{
	double secs = b->pol->window_s;
	char err[PLANT_ERR_LEN];

	if (plant_measure(b->plant, s, secs, policy_reply_timeout(b->pol, secs),
			  b->need, &w->r, err, sizeof(err))) {
		b->tr->failed++;
		b->t += secs;
		return 1;
	}
	judge(b->pol, w);
	b->t += w->r.seconds;
	return push_window(b->tr, explore) ? -1 : 0;
}

static int run_static(struct bench_case *c, double duration,
		      struct labplant *lp, struct trace *tr)
{
	struct base_run b = { &c->pol, NULL, tr, need_of(&c->pol), 0, duration };
	char err[PLANT_ERR_LEN];
	struct judged w;

	b.plant = plant_start_ops(&labplant_ops, lp, c->sc.name, err,
				  sizeof(err));
	if (!b.plant)
		return -1;
	while (b.t < duration - 1e-9)
		if (base_window(&b, &c->static_set, false, &w) < 0)
			break;
	plant_stop(b.plant);
	return 0;
}

/* What a round of random search keeps, as the controller's choice. */
struct pick {
	bool have_aim, have_ok;
	struct plant_setting aim, ok;
	double aim_obj, ok_cons;
};

static void consider(struct pick *pk, const struct plant_setting *s,
		     const struct judged *w)
{
	if (w->aim_ok && isfinite(w->obj) &&
	    (!pk->have_aim || w->obj < pk->aim_obj)) {
		pk->have_aim = true;
		pk->aim = *s;
		pk->aim_obj = w->obj;
	}
	if (w->sla_ok && (!pk->have_ok || w->cons < pk->ok_cons)) {
		pk->have_ok = true;
		pk->ok = *s;
		pk->ok_cons = w->cons;
	}
}

static struct plant_setting random_setting(const struct policy *p,
					   uint64_t *rng)
{
	size_t levels =
		(size_t)((p->itr_max_us - p->itr_min_us) / p->itr_step_us +
			 1e-9) +
		1;
	size_t k = (size_t)(lab_uniform(rng) * levels);
	size_t f = (size_t)(lab_uniform(rng) * p->n_freqs);
	struct plant_setting s = {
		.itr_us = p->itr_min_us +
			  (k < levels ? k : levels - 1) * p->itr_step_us,
		.freq_mhz = p->freqs_mhz[f < p->n_freqs ? f : p->n_freqs - 1],
		.n_knobs = p->n_knobs,
	};

	for (unsigned int i = 0; i < p->n_knobs; i++) {
		size_t n = p->knobs[i].n_values;
		size_t v = (size_t)(lab_uniform(rng) * n);

		s.knobs[i] = p->knobs[i].values[v < n ? v : n - 1];
	}
	return s;
}

/* One trigger: measure the current setting, `trials` random ones, pick. */
static int random_round(struct base_run *b, uint64_t *rng,
			struct plant_setting *cur,
			const struct plant_setting *fallback)
{
	struct pick pk = { 0 };
	struct plant_setting s;
	unsigned int trials = 0;
	struct judged w;
	int ret;

	ret = base_window(b, cur, false, &w);
	if (ret < 0)
		return -1;
	if (!ret)
		consider(&pk, cur, &w);
	while (trials < b->pol->trials && b->t < b->duration - 1e-9) {
		s = random_setting(b->pol, rng);
		ret = base_window(b, &s, true, &w);
		if (ret < 0)
			return -1;
		trials++;
		if (!ret)
			consider(&pk, &s, &w);
	}
	b->tr->lv[b->tr->nlv - 1].trials = trials;
	*cur = pk.have_aim ? pk.aim : pk.have_ok ? pk.ok : *fallback;
	return 0;
}

/* Holds cur until the load moves, the schedule fires or the guard trips. */
static int random_hold(struct base_run *b, struct plant_setting *cur,
		       const struct plant_setting *fallback)
{
	const struct policy *p = b->pol;
	double ref = NAN, since = b->t;
	unsigned int viol = 0;
	struct judged w;
	int ret;

	while (b->t < b->duration - 1e-9) {
		ret = base_window(b, cur, false, &w);
		if (ret < 0)
			return -1;
		if (ret)
			continue;
		viol = w.sla_ok ? 0 : viol + 1;
		if (viol >= p->guard_windows &&
		    !plant_setting_same(cur, fallback)) {
			*cur = *fallback;
			return 0;
		}
		if (isnan(ref))
			ref = w.r.qps;
		if (p->qps_change > 0 && ref > 0 &&
		    fabs(w.r.qps - ref) > p->qps_change * ref)
			return 0;
		if (p->schedule_s > 0 && b->t - since >= p->schedule_s)
			return 0;
	}
	return 0;
}

static int run_random(struct bench_case *c, unsigned int seed, double duration,
		      struct labplant *lp, struct trace *tr)
{
	const struct policy *p = &c->pol;
	struct base_run b = { p, NULL, tr, need_of(p), 0, duration };
	struct plant_setting fallback = ctl_fallback_setting(p);
	struct plant_setting cur = { .stock = true };
	uint64_t rng = lab_mix64(p->seed * 0x9e3779b97f4a7c15ULL + seed);
	char err[PLANT_ERR_LEN];
	int ret = 0;

	b.plant = plant_start_ops(&labplant_ops, lp, c->sc.name, err,
				  sizeof(err));
	if (!b.plant)
		return -1;
	while (!ret && b.t < duration - 1e-9) {
		ret = push_level(tr, b.t, 0);
		if (!ret)
			ret = random_round(&b, &rng, &cur, &fallback);
		if (!ret)
			ret = random_hold(&b, &cur, &fallback);
	}
	plant_stop(b.plant);
	return ret;
}

/* ---- the judge ------------------------------------------------------------------------ */

/* The window broke the SLA by the figure it reported. */
static bool broke(const struct bench_case *c, const struct lab_window *w)
{
	const struct policy_sla *sla = &c->pol.sla;
	double q = as_sent(w->qps);

	if (sla->kind == POLICY_SLA_LATENCY)
		return as_sent(sla->pct == POLICY_P99 ?
				       w->p99_us :
				       w->p50_us) >= sla->bound_us;
	return q > 0 && as_sent(w->throughput) / q < sla->min_ratio;
}

/* ... and by its noise-free figure at its true conditions. */
static bool truly_broke(const struct bench_case *c, const struct lab_window *w)
{
	const struct policy_sla *sla = &c->pol.sla;

	if (sla->kind == POLICY_SLA_LATENCY)
		return (sla->pct == POLICY_P99 ?
				w->true_p99_us :
				w->true_p50_us) >= sla->bound_us;
	return w->cond.qps > 0 &&
	       w->true_throughput / w->cond.qps < sla->min_ratio;
}

static double load_dist(double a, double b)
{
	if (a <= 0 && b <= 0)
		return 0;
	return a > 0 && b > 0 ? fabs(log(a / b)) : INFINITY;
}

static bool same_conditions(const struct world_cond *a,
			    const struct world_cond *b, double change)
{
	return load_dist(a->base_qps, b->base_qps) <= log1p(change) &&
	       load_dist(a->svc_scale, b->svc_scale) <= log1p(change) &&
	       (a->neighbour > 0.5) == (b->neighbour > 0.5);
}

static void level_stats(const struct bench_case *c, struct world *wd,
			const struct trace *tr, struct metrics *m)
{
	struct world_cond *cond = calloc(tr->nlv + 1, sizeof(*cond));
	double sum_new = 0, sum_seen = 0;

	m->max_new = m->max_seen = 0;
	for (size_t i = 0; cond && i < tr->nlv; i++) {
		bool seen = false;

		world_at(wd, tr->lv[i].t_s, &cond[i]);
		for (size_t j = 0; j < i && !seen; j++)
			seen = same_conditions(&cond[i], &cond[j], c->change);
		if (seen) {
			m->n_seen++;
			sum_seen += tr->lv[i].trials;
			m->max_seen = fmax(m->max_seen, tr->lv[i].trials);
		} else {
			m->n_new++;
			sum_new += tr->lv[i].trials;
			m->max_new = fmax(m->max_new, tr->lv[i].trials);
		}
	}
	free(cond);
	m->trials_new = m->n_new ? sum_new / m->n_new : NAN;
	m->trials_seen = m->n_seen ? sum_seen / m->n_seen : NAN;
	if (!m->n_new)
		m->max_new = NAN;
	if (!m->n_seen)
		m->max_seen = NAN;
}

static int measure(const struct bench_case *c, struct labplant *lp,
		   const struct trace *tr, double duration, struct metrics *m)
{
	double e = 0, stock = 0, oracle = 0, secs = 0, days;
	double over = 0, ox = 0, oo = 0, ot = 0, inf = 0;

	if (tr->n != lp->n_rec) {
		pr_warn("bench controller: %s: %zu windows logged, %zu "
			"answered: cannot tell phases apart\n",
			c->sc.name, tr->n, lp->n_rec);
		return -1;
	}
	for (size_t i = 0; i < lp->n_rec; i++) {
		const struct lab_window *w = &lp->rec[i];

		e += w->energy_j;
		stock += w->stock_energy_j;
		oracle += w->oracle_ok ? w->oracle_energy_j : w->stock_energy_j;
		secs += w->seconds;
		if (broke(c, w)) {
			over += w->seconds;
			*(tr->explore[i] ? &ox : &oo) += w->seconds;
		}
		ot += truly_broke(c, w) ? w->seconds : 0;
		inf += w->oracle_ok ? 0 : w->seconds;
	}
	days = duration / WORLD_DAY_S;
	m->windows = lp->n_rec;
	m->failed = tr->failed;
	m->saving = 1 - e / stock;
	m->oracle_saving = 1 - oracle / stock;
	m->share = m->saving / m->oracle_saving;
	m->over = over / secs;
	m->over_explore = ox / secs;
	m->over_outside = oo / secs;
	m->over_true = ot / secs;
	m->infeasible = inf / secs;
	m->reopts = tr->nlv ? tr->nlv - 1 : 0;
	m->changes = world_changes(labplant_world(lp), 0, duration,
				   c->pol.window_s, c->change, SETTLE_S);
	m->reopt_day = m->reopts / days;
	m->changes_day = m->changes / days;
	level_stats(c, labplant_world(lp), tr, m);
	return 0;
}

/* One method, one seed: a fresh plant in the seed's world, judged. */
static int run_one(struct bench_case *c, enum method meth, unsigned int seed,
		   double duration, struct metrics *m)
{
	struct labplant *lp = calloc(1, sizeof(*lp));
	struct trace tr = { 0 };
	double t0 = now_s();
	int ret = -1;

	memset(m, 0, sizeof(*m));
	if (!lp || new_plant(c, seed, lp)) {
		free(lp);
		return -1;
	}
	if (meth == M_CTL)
		ret = run_controller(c, seed, duration, lp, &tr);
	else if (meth == M_STATIC)
		ret = run_static(c, duration, lp, &tr);
	else
		ret = run_random(c, seed, duration, lp, &tr);
	if (!ret)
		ret = measure(c, lp, &tr, duration, m);
	m->wall_s = now_s() - t0;
	trace_free(&tr);
	labplant_fini(lp);
	free(lp);
	return ret;
}

/* ---- summaries --------------------------------------------------------------------- */

/* A figure of struct metrics, how it reads, and which way is better. */
struct figure {
	const char *name;
	size_t off;
	int better; /* +1 higher, -1 lower, 0 neither (a world's figure) */
};

#define M_OFF(f) offsetof(struct metrics, f)

static const struct figure figures[] = {
	{ "saving_vs_stock", M_OFF(saving), +1 },
	{ "oracle_saving_vs_stock", M_OFF(oracle_saving), 0 },
	{ "share_of_oracle_saving", M_OFF(share), +1 },
	{ "time_over_sla", M_OFF(over), -1 },
	{ "time_over_sla_exploring", M_OFF(over_explore), -1 },
	{ "time_over_sla_outside_exploration", M_OFF(over_outside), -1 },
	{ "time_over_sla_noise_free", M_OFF(over_true), -1 },
	{ "time_sla_infeasible", M_OFF(infeasible), 0 },
	{ "reoptimizations_per_day", M_OFF(reopt_day), -1 },
	{ "genuine_changes_per_day", M_OFF(changes_day), 0 },
	{ "trials_per_new_level", M_OFF(trials_new), -1 },
	{ "trials_per_seen_level", M_OFF(trials_seen), -1 },
	{ "max_trials_new_level", M_OFF(max_new), -1 },
	{ "max_trials_seen_level", M_OFF(max_seen), -1 },
	{ "wall_s", M_OFF(wall_s), -1 },
};

#define NR_FIGURES (sizeof(figures) / sizeof(figures[0]))

static double fig(const struct metrics *m, const struct figure *f)
{
	const void *v = (const char *)m + f->off;

	return *(const double *)v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median and worst over seeds, leaving out NAN (no such level). */
static void agg(const struct metrics *m, unsigned int n, const struct figure *f,
		double *med, double *worst)
{
	double *v = malloc(n * sizeof(*v));
	unsigned int k = 0;

	*med = *worst = NAN;
	if (!v)
		return;
	for (unsigned int i = 0; i < n; i++)
		if (isfinite(fig(&m[i], f)))
			v[k++] = fig(&m[i], f);
	if (k) {
		qsort(v, k, sizeof(*v), cmp_double);
		*med = k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
		*worst = f->better > 0 ? v[0] : v[k - 1];
	}
	free(v);
}

enum check {
	C_SLA,
	C_ORACLE,
	C_STATIC,
	C_RANDOM,
	C_REOPT,
	C_NEW,
	C_SEEN,
	NR_CHECKS,
};

static const char *const check_names[NR_CHECKS] = {
	"time_over_sla_le_0_5pct",
	"oracle_share_ge_90pct",
	"beats_static",
	"beats_random",
	"reopt_le_2x_changes",
	"trials_new_level_le_10",
	"trials_seen_level_le_3",
};

static const char *const check_heads[NR_CHECKS] = {
	"SLA<=0.5%", ">=90%orcl", ">=static", ">=random",
	"reopt<=2x", "new<=10",	  "seen<=3",
};

/* 1 pass, 0 fail, -1 does not apply (no such level). */
static int check(enum check k, const struct metrics *ctl,
		 const struct metrics *st, const struct metrics *rnd)
{
	switch (k) {
	case C_SLA:
		return ctl->over <= BAR_OVER_SLA;
	case C_ORACLE:
		return ctl->share >= BAR_ORACLE_SHARE;
	case C_STATIC:
		return ctl->saving >= st->saving && ctl->over <= st->over;
	case C_RANDOM:
		return ctl->saving >= rnd->saving && ctl->over <= rnd->over;
	case C_REOPT:
		return ctl->reopts <= BAR_REOPT_RATIO * ctl->changes;
	case C_NEW:
		return isnan(ctl->trials_new) ?
			       -1 :
			       ctl->trials_new <= BAR_TRIALS_NEW;
	case C_SEEN:
		return isnan(ctl->trials_seen) ?
			       -1 :
			       ctl->trials_seen <= BAR_TRIALS_SEEN;
	default:
		return -1;
	}
}

struct case_result {
	struct bench_case *c;
	struct metrics *m[NR_METHODS]; /* [seed] */
	unsigned int failed[NR_CHECKS], applied[NR_CHECKS];
	double wall_s, cpu_s;
	bool ok;
};

static void tally(struct case_result *cr, unsigned int seeds)
{
	for (unsigned int s = 0; s < seeds; s++)
		for (int k = 0; k < NR_CHECKS; k++) {
			int r = check(k, &cr->m[M_CTL][s], &cr->m[M_STATIC][s],
				      &cr->m[M_RANDOM][s]);

			if (r < 0)
				continue;
			cr->applied[k]++;
			cr->failed[k] += !r;
		}
}

/* ---- output -------------------------------------------------------------------------- */

static struct json_object *jnum(double v)
{
	return kopt_json_num(v, "%.6g");
}

static struct json_object *metrics_json(const struct metrics *m)
{
	struct json_object *o = json_object_new_object();

	for (size_t i = 0; i < NR_FIGURES; i++)
		json_object_object_add(o, figures[i].name,
				       jnum(fig(m, &figures[i])));
	json_object_object_add(o, "reoptimizations",
			       json_object_new_int(m->reopts));
	json_object_object_add(o, "genuine_changes",
			       json_object_new_int(m->changes));
	json_object_object_add(o, "new_levels", json_object_new_int(m->n_new));
	json_object_object_add(o, "seen_levels",
			       json_object_new_int(m->n_seen));
	json_object_object_add(o, "windows", json_object_new_int(m->windows));
	json_object_object_add(o, "failed_windows",
			       json_object_new_int(m->failed));
	return o;
}

static struct json_object *method_json(const struct case_result *cr,
				       enum method meth, unsigned int seeds)
{
	struct json_object *o = json_object_new_object();
	struct json_object *med = json_object_new_object();
	struct json_object *worst = json_object_new_object();
	struct json_object *per = json_object_new_array();
	double a, b;

	json_object_object_add(o, "label",
			       json_object_new_string(cr->c->label));
	json_object_object_add(
		o, "source",
		json_object_new_string(scenario_plant_name(cr->c->sc.plant)));
	for (size_t i = 0; i < NR_FIGURES; i++) {
		agg(cr->m[meth], seeds, &figures[i], &a, &b);
		json_object_object_add(med, figures[i].name, jnum(a));
		json_object_object_add(worst, figures[i].name, jnum(b));
	}
	for (unsigned int s = 0; s < seeds; s++) {
		struct json_object *row = metrics_json(&cr->m[meth][s]);

		json_object_object_add(row, "seed", json_object_new_int(s + 1));
		json_object_array_add(per, row);
	}
	json_object_object_add(o, "median", med);
	json_object_object_add(o, "worst", worst);
	json_object_object_add(o, "seeds", per);
	return o;
}

static struct json_object *case_json(const struct case_result *cr,
				     unsigned int seeds)
{
	const struct bench_case *c = cr->c;
	struct json_object *o = json_object_new_object(), *v;
	char sla[64];

	policy_sla_str(&c->pol.sla, sla, sizeof(sla));
	json_object_object_add(o, "scenario",
			       json_object_new_string(c->sc.name));
	json_object_object_add(o, "description",
			       json_object_new_string(c->sc.description));
	json_object_object_add(o, "label", json_object_new_string(c->label));
	json_object_object_add(
		o, "source",
		json_object_new_string(scenario_plant_name(c->sc.plant)));
	json_object_object_add(
		o, "credit",
		c->sc.credit[0] ? json_object_new_string(c->sc.credit) : NULL);
	json_object_object_add(o, "policy",
			       json_object_new_string(c->pol.name));
	json_object_object_add(o, "sla", json_object_new_string(sla));
	v = json_object_new_object();
	json_object_object_add(v, "peak_qps", jnum(c->peak_qps));
	json_object_object_add(v, "found",
			       json_object_new_boolean(c->static_found));
	json_object_object_add(
		v, "itr_us",
		c->static_set.stock ? NULL : jnum(c->static_set.itr_us));
	json_object_object_add(
		v, "freq_mhz",
		c->static_set.stock ? NULL : jnum(c->static_set.freq_mhz));
	json_object_object_add(o, "static_setting", v);
	v = json_object_new_object();
	for (int m = 0; m < NR_METHODS; m++)
		json_object_object_add(v, method_names[m],
				       method_json(cr, m, seeds));
	json_object_object_add(o, "methods", v);
	v = json_object_new_object();
	for (int k = 0; k < NR_CHECKS; k++) {
		struct json_object *ck = json_object_new_object();

		json_object_object_add(ck, "pass",
				       json_object_new_boolean(!cr->failed[k]));
		json_object_object_add(ck, "failed_seeds",
				       json_object_new_int(cr->failed[k]));
		json_object_object_add(ck, "seeds_judged",
				       json_object_new_int(cr->applied[k]));
		json_object_object_add(v, check_names[k], ck);
	}
	json_object_object_add(o, "checks", v);
	json_object_object_add(o, "wall_s", jnum(cr->wall_s));
	json_object_object_add(o, "cpu_s", jnum(cr->cpu_s));
	return o;
}

static void print_json(const struct case_result *res, size_t n,
		       const struct bench_opts *o, double wall, double cpu)
{
	struct json_object *root = json_object_new_object();
	struct json_object *arr = json_object_new_array();

	json_object_object_add(root, "seeds", json_object_new_int(o->seeds));
	json_object_object_add(root, "hours", jnum(o->hours));
	json_object_object_add(root, "bars",
			       json_tokener_parse(
				       "{\"time_over_sla\": 0.005, "
				       "\"share_of_oracle_saving\": 0.9, "
				       "\"reopt_per_genuine_change\": 2, "
				       "\"trials_per_new_level\": 10, "
				       "\"trials_per_seen_level\": 3}"));
	for (size_t i = 0; i < n; i++)
		if (res[i].ok)
			json_object_array_add(arr,
					      case_json(&res[i], o->seeds));
	json_object_object_add(root, "scenarios", arr);
	json_object_object_add(root, "wall_s", jnum(wall));
	json_object_object_add(root, "cpu_s", jnum(cpu));
	printf("%s\n", kopt_json_text(root));
	json_object_put(root);
}

/* "median (worst)" of a figure, x scale, into buf. */
static void cell(char *buf, size_t len, const struct case_result *cr,
		 enum method meth, unsigned int seeds, const char *name,
		 double scale, int prec)
{
	double med, worst;

	for (size_t i = 0; i < NR_FIGURES; i++) {
		if (strcmp(figures[i].name, name))
			continue;
		agg(cr->m[meth], seeds, &figures[i], &med, &worst);
		if (isnan(med))
			snprintf(buf, len, "-");
		else
			snprintf(buf, len, "%.*f (%.*f)", prec, med * scale,
				 prec, worst * scale);
		return;
	}
	snprintf(buf, len, "?");
}

static void print_row(const struct case_result *cr, enum method meth,
		      unsigned int seeds)
{
	static const struct {
		const char *name;
		double scale;
		int prec, width;
	} cols[] = {
		{ "saving_vs_stock", 100, 1, 12 },
		{ "share_of_oracle_saving", 100, 1, 13 },
		{ "time_over_sla", 100, 2, 13 },
		{ "time_over_sla_exploring", 100, 2, 13 },
		{ "time_over_sla_outside_exploration", 100, 2, 13 },
		{ "reoptimizations_per_day", 1, 0, 10 },
		{ "genuine_changes_per_day", 1, 0, 8 },
		{ "trials_per_new_level", 1, 1, 11 },
		{ "trials_per_seen_level", 1, 1, 11 },
	};
	char buf[48];

	printf("%-24s %-10s",
	       meth == M_CTL	? cr->c->sc.name :
	       meth == M_STATIC ? cr->c->label :
				  "",
	       method_names[meth]);
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		cell(buf, sizeof(buf), cr, meth, seeds, cols[i].name,
		     cols[i].scale, cols[i].prec);
		printf(" %*s", cols[i].width, buf);
	}
	printf("\n");
}

static void print_text(const struct case_result *res, size_t n,
		       const struct bench_opts *o, double wall, double cpu)
{
	printf("kopt bench controller: %u seeds x %g h of plant time per "
	       "scenario, in-process plants;\nmedian (worst) over seeds. "
	       "saving and oracle share in %%, time over the SLA in %% of "
	       "plant\ntime (total, while exploring, outside exploration), "
	       "re-optimizations and genuine changes\nof conditions per day, "
	       "mean trials per trigger at a new load level and at one\n"
	       "seen before.\n\n",
	       o->seeds, o->hours);
	printf("%-24s %-10s %12s %13s %13s %13s %13s %10s %8s %11s %11s\n",
	       "scenario", "method", "saving", "oracle share", "over SLA",
	       "exploring", "outside", "reopt/day", "chg/day", "trials new",
	       "trials seen");
	for (size_t i = 0; i < n; i++) {
		if (!res[i].ok)
			continue;
		for (int m = 0; m < NR_METHODS; m++)
			print_row(&res[i], m, o->seeds);
	}
	printf("\nacceptance checks of the controller, per seed (pass: "
	       "every seed; FAIL k/n: k of n seeds failed;\n"
	       ">=static/random: more saving and no more time over the "
	       "SLA in the same world)\n");
	printf("%-24s %-18s", "scenario", "label");
	for (int k = 0; k < NR_CHECKS; k++)
		printf(" %10s", check_heads[k]);
	printf("\n");
	for (size_t i = 0; i < n; i++) {
		if (!res[i].ok)
			continue;
		printf("%-24s %-18s", res[i].c->sc.name, res[i].c->label);
		for (int k = 0; k < NR_CHECKS; k++) {
			char buf[32];

			if (!res[i].applied[k])
				snprintf(buf, sizeof(buf), "n/a");
			else if (!res[i].failed[k])
				snprintf(buf, sizeof(buf), "pass");
			else
				snprintf(buf, sizeof(buf), "FAIL %u/%u",
					 res[i].failed[k], res[i].applied[k]);
			printf(" %10s", buf);
		}
		printf("\n");
	}
	printf("\n");
	for (size_t i = 0; i < n; i++)
		if (res[i].ok && res[i].c->sc.credit[0])
			printf("%s: replayed-measured figures, %s\n",
			       res[i].c->sc.name, res[i].c->sc.credit);
	printf("sim scenarios: every figure simulated (kopt plant sim)\n"
	       "wall time: %.1f s (%.1f s of CPU)\n",
	       wall, cpu);
}

/* ---- main ------------------------------------------------------------------------------- */

static int run_case(const char *path, const struct bench_opts *o,
		    struct case_result *cr)
{
	double duration = o->hours * 3600, t0 = now_s(), c0 = cpu_s();

	cr->c = calloc(1, sizeof(*cr->c));
	if (!cr->c || load_case(path, cr->c))
		return -1;
	cr->c->logs = o->logs;
	for (int m = 0; m < NR_METHODS; m++) {
		cr->m[m] = calloc(o->seeds, sizeof(struct metrics));
		if (!cr->m[m])
			return -1;
	}
	for (unsigned int s = 0; s < o->seeds; s++)
		for (int m = 0; m < NR_METHODS; m++)
			if (run_one(cr->c, m, s + 1, duration, &cr->m[m][s]))
				return -1;
	tally(cr, o->seeds);
	cr->wall_s = now_s() - t0;
	cr->cpu_s = cpu_s() - c0;
	cr->ok = true;
	pr_info("bench controller: %s: %u seeds x 3 runs in %.1f s (%.1f s "
		"CPU)\n",
		cr->c->sc.name, o->seeds, cr->wall_s, cr->cpu_s);
	return 0;
}

/* 0, -1 after --help, or a usage error's exit code */
static int parse_args(int argc, char **argv, struct bench_opts *o)
{
	long seeds = o->seeds;
	const struct kopt_opts spec = {
		.cmd = "kopt bench controller",
		.usage =
			"[--seeds N] [--scenarios a,b] [--hours H] [--dir DIR] "
			"[--logs DIR] [--json]",
		.desc = "The energy controller in worlds that move: every "
			"scenario of policies/scenarios\n(sim and replayed "
			"measured sweeps), against its oracle, a static profile "
			"and\nrandom search, over seeds, with the issue's "
			"acceptance checks.",
		.opts = KOPT_OPTS(
			KOPT_OPT_LONG("seeds", 'n', &seeds, 1, MAX_SEEDS, "N",
				      "seeds per scenario (default 10)"),
			KOPT_OPT_STR("scenarios", 's', &o->list, "a,b",
				     "scenario names (or paths); default all"),
			KOPT_OPT_DOUBLE("hours", 'H', &o->hours, 0.01, 24 * 365,
					"H", "plant time per run (default 24)",
					.unit = "hours"),
			KOPT_OPT_STR("dir", 'd', &o->dir, "DIR",
				     "where the scenarios are (default: "
				     "policies/scenarios\nof the source tree, "
				     "or $KOPT_SCENARIOS)"),
			KOPT_OPT_STR("logs", 'l', &o->logs, "DIR",
				     "write each controller run's window log "
				     "(CSV) to\nDIR/SCENARIO-seedN.csv"),
			KOPT_OPT_JSON("JSON on stdout")),
	};
	int ret;

	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret ? ret : -1;
	o->seeds = (unsigned int)seeds;
	return 0;
}

static void free_results(struct case_result *res, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (int m = 0; m < NR_METHODS; m++)
			free(res[i].m[m]);
		if (res[i].c)
			free_case(res[i].c);
		free(res[i].c);
	}
	free(res);
}

int cmd_bench_controller(int argc, char **argv)
{
	struct bench_opts o = { .seeds = DEFAULT_SEEDS,
				.hours = DEFAULT_HOURS };
	char dir[PATH_MAX], *names[MAX_CASES] = { 0 };
	struct case_result *res = NULL;
	int ret = parse_args(argc, argv, &o);
	size_t n = 0;
	double t0 = now_s(), c0 = cpu_s();

	if (ret)
		return ret < 0 ? KOPT_EXIT_OK : ret;
	/* --logs DIR: made if missing, refused before hours of runs */
	if (o.logs && mkdir(o.logs, 0755) && errno != EEXIST) {
		pr_warn("bench controller: --logs %s: %s\n", o.logs,
			strerror(errno));
		return KOPT_EXIT_USAGE;
	}
	if (find_dir(&o, dir, sizeof(dir))) {
		pr_warn("bench controller: no scenario folder (looked for "
			"%s); give --dir\n",
			dir);
		return KOPT_EXIT_FAIL;
	}
	ret = list_cases(dir, o.list, names, &n);
	if (ret) {
		pr_warn("bench controller: no scenarios in %s: %s\n", dir,
			strerror(-ret));
		ret = KOPT_EXIT_FAIL;
		goto out;
	}
	res = calloc(n, sizeof(*res));
	ret = res ? KOPT_EXIT_OK : KOPT_EXIT_FAIL;
	for (size_t i = 0; res && i < n; i++)
		if (run_case(names[i], &o, &res[i]))
			ret = KOPT_EXIT_FAIL;
	/* a failed case fails the bench: `bench all` then prints null */
	if (res && kopt_env.json && ret == KOPT_EXIT_OK)
		print_json(res, n, &o, now_s() - t0, cpu_s() - c0);
	else if (res && kopt_env.json)
		pr_warn("bench controller: no JSON: a scenario failed\n");
	else if (res)
		print_text(res, n, &o, now_s() - t0, cpu_s() - c0);
out:
	if (res)
		free_results(res, n);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return ret;
}
