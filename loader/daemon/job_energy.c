// SPDX-License-Identifier: GPL-2.0-only
/*
 * koptd's energy job. ctl_loop() blocks for a window at a time (a host
 * window is seconds of the service running), so it gets a thread of its
 * own; koptd's main thread stays free for signals, the control socket
 * and stopping the job. The two meet only in struct energy_job, under
 * its mutex:
 *
 *  - after every window the controller calls on_window() in the job's
 *    thread, which takes the status snapshot (ctl_status_json()) that
 *    kopt status and the metrics read, paces a lab plant to wall-clock
 *    time (a simulated window lasts as long as a real one, so a daemon on
 *    `sim` behaves as it would on a host, instead of spinning a core),
 *    and holds a paused job: the held setting stays, nothing is decided;
 *  - stopping sets the run's own stop flag (ctl_stop()) and wakes a
 *    pause; the loop ends after the current window and the thread stops
 *    the plant: `kopt plant host` restores every knob it journaled as it
 *    exits, and ej_stop() then restores anything a plant that did not
 *    exit in time left in the journal (state_restore_dead()).
 *
 * Advise mode: the controller runs and reports the setting it would
 * hold, and nothing on the host changes. On a lab plant that is the
 * plain run (a simulated plant changes nothing here). On the host plant
 * every request is sent to the plant as the stock policy (null knobs:
 * the plant writes no actuator, its journal stays empty) and the reply is
 * handed to the controller as if its setting had run: the advice is the
 * controller's path over the host as it stands, not a measured optimum,
 * and the status says so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <systemd/sd-daemon.h>

#include "controller.h"
#include "job_energy.h"
#include "kopt.h"
#include "plant.h"
#include "plant_launch.h"
#include "policy.h"
#include "state.h"

/* ---- advise on the host: every request sent as the stock policy --------- */

struct advise_plant {
	struct plant *real;
	const struct policy *pol;
	enum plant_need need;
};

static struct json_object *num_or_null(double v)
{
	return isfinite(v) ? json_object_new_double(v) : NULL;
}

static int advise_reply(void *ctx, const struct plant_setting *s,
			double seconds, char *line, size_t cap, char *err,
			size_t errlen)
{
	static const struct plant_setting stock = { .stock = true };
	struct advise_plant *a = ctx;
	struct plant_reply rp;
	struct json_object *o;
	int ret;

	ret = plant_measure(a->real, &stock, seconds,
			    policy_reply_timeout(a->pol, seconds), a->need, &rp,
			    err, errlen);
	if (ret)
		return ret;
	o = json_object_new_object();
	json_object_object_add(o, "energy_j",
			       json_object_new_double(rp.energy_j));
	json_object_object_add(o, "seconds",
			       json_object_new_double(rp.seconds));
	json_object_object_add(o, "qps", json_object_new_double(rp.qps));
	if (isfinite(rp.p99_us))
		json_object_object_add(o, "p99_us", num_or_null(rp.p99_us));
	if (isfinite(rp.p50_us))
		json_object_object_add(o, "p50_us", num_or_null(rp.p50_us));
	if (isfinite(rp.throughput))
		json_object_object_add(o, "throughput",
				       num_or_null(rp.throughput));
	if (isfinite(rp.stock_energy_j))
		json_object_object_add(o, "stock_energy_j",
				       num_or_null(rp.stock_energy_j));
	if (rp.source[0])
		json_object_object_add(o, "source",
				       json_object_new_string(rp.source));
	ret = snprintf(line, cap, "%s", json_object_to_json_string(o));
	json_object_put(o);
	if (ret < 0 || (size_t)ret >= cap)
		return kopt_errf(err, errlen, -EPROTO,
				 "advise: reply longer than %zu bytes", cap);
	return 0;
}

static void advise_free(void *ctx)
{
	struct advise_plant *a = ctx;

	plant_stop(a->real);
	free(a);
}

static const struct plant_ops advise_ops = {
	.reply = advise_reply,
	.free = advise_free,
};

/* ---- the job's thread ------------------------------------------------------ */

static double wall_s(void)
{
	return kopt_now_s();
}

static double jget(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !v)
		return NAN;
	return json_object_get_double(v);
}

/* The running totals of one run, from its snapshot. */
static void totals_from(struct json_object *s, struct ej_totals *t)
{
	struct json_object *v, *lv, *c;
	size_t i, n;

	memset(t, 0, sizeof(*t));
	t->energy_j = jget(s, "energy_j");
	if (json_object_object_get_ex(s, "stock", &v))
		t->stock_j = jget(v, "energy_j");
	if (!isfinite(t->stock_j))
		t->stock_j = 0;
	t->windows = (unsigned long)jget(s, "windows");
	t->failed = (unsigned long)jget(s, "failed_windows");
	t->trials = (unsigned long)jget(s, "trials");
	if (json_object_object_get_ex(s, "sla_violating_windows", &v)) {
		t->viol_explore = (unsigned long)jget(v, "exploration");
		t->viol_other = (unsigned long)jget(v, "outside_exploration");
	}
	if (!json_object_object_get_ex(s, "levels", &lv))
		return;
	n = json_object_array_length(lv);
	for (i = 0; i < n; i++) {
		const char *cause;
		unsigned int k;

		if (!json_object_object_get_ex(json_object_array_get_idx(lv, i),
					       "cause", &c))
			continue;
		cause = json_object_get_string(c);
		for (k = 0; k < t->ncause; k++)
			if (!strcmp(t->cause[k], cause))
				break;
		if (k == t->ncause) {
			if (t->ncause == EJ_MAX_CAUSES)
				continue;
			snprintf(t->cause[k], sizeof(t->cause[k]), "%s", cause);
			t->ncause++;
		}
		t->cause_n[k]++;
	}
}

static void totals_add(struct ej_totals *a, const struct ej_totals *b)
{
	a->energy_j += isfinite(b->energy_j) ? b->energy_j : 0;
	a->stock_j += b->stock_j;
	a->windows += b->windows;
	a->failed += b->failed;
	a->viol_explore += b->viol_explore;
	a->viol_other += b->viol_other;
	a->trials += b->trials;
	for (unsigned int i = 0; i < b->ncause; i++) {
		unsigned int k;

		for (k = 0; k < a->ncause; k++)
			if (!strcmp(a->cause[k], b->cause[i]))
				break;
		if (k == a->ncause) {
			if (a->ncause == EJ_MAX_CAUSES)
				continue;
			memcpy(a->cause[k], b->cause[i], sizeof(a->cause[k]));
			a->ncause++;
		}
		a->cause_n[k] += b->cause_n[i];
	}
}

static void on_window(struct run *r, void *arg)
{
	struct energy_job *j = arg;
	struct json_object *s = ctl_status_json(r), *v;
	struct timespec ts;
	double due;

	pthread_mutex_lock(&j->mu);
	json_object_put(j->snap);
	j->snap = s;
	totals_from(s, &j->cur);
	if (json_object_object_get_ex(s, "source", &v) && j->cur.windows)
		snprintf(j->source, sizeof(j->source), "%s",
			 json_object_get_string(v));
	/* a lab plant's window takes as long as a real one */
	if (j->plant != KOPTD_PLANT_HOST) {
		due = j->wall0 + (jget(s, "duration_s") - j->plant0);
		while (!j->stop_req && wall_s() < due) {
			double w = due - wall_s();

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (time_t)w;
			ts.tv_nsec += (long)((w - (time_t)w) * 1e9);
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&j->cv, &j->mu, &ts);
		}
	}
	if (j->pause_req && !j->stop_req) {
		j->state = EJ_PAUSED;
		pr_info("energy: paused, holding the current setting\n");
		while (j->pause_req && !j->stop_req)
			pthread_cond_wait(&j->cv, &j->mu);
		if (!j->stop_req) {
			j->state = EJ_RUNNING;
			pr_info("energy: resumed\n");
		}
		/* the pause is no lag to catch up with */
		j->wall0 = wall_s();
		j->plant0 = jget(s, "duration_s");
	}
	pthread_mutex_unlock(&j->mu);
}

static struct plant *start_plant(struct energy_job *j, char *err, size_t len)
{
	struct plant_bins b = { .kopt = j->bins_kopt, .lab = j->bins_lab };
	struct advise_plant *a;
	struct plant *p;

	switch (j->plant) {
	case KOPTD_PLANT_SIM:
		return plant_launch_sim(j->pol, &b, err, len);
	case KOPTD_PLANT_REPLAY:
		return plant_launch_replay(j->pol, j->table, &b, err, len);
	case KOPTD_PLANT_HOST:
		break;
	}
	p = plant_launch_host(j->pol, &b, err, len);
	if (!p || !j->advise)
		return p;
	a = calloc(1, sizeof(*a));
	if (!a) {
		plant_stop(p);
		snprintf(err, len, "out of memory");
		return NULL;
	}
	a->real = p;
	a->pol = j->pol;
	a->need = j->pol->sla.kind == POLICY_SLA_THROUGHPUT ?
			  PLANT_NEED_THROUGHPUT :
		  j->pol->sla.pct == POLICY_P99 ? PLANT_NEED_P99 :
						  PLANT_NEED_P50;
	p = plant_start_ops(&advise_ops, a, "host (advise: stock requests)",
			    err, len);
	if (!p)
		advise_free(a);
	return p;
}

static void *job_thread(void *arg)
{
	struct energy_job *j = arg;
	char err[PLANT_ERR_LEN];
	struct plant *plant;
	struct run *r = NULL;
	int ret = KOPT_EXIT_FAIL;

	plant = start_plant(j, err, sizeof(err));
	if (!plant)
		pr_warn("energy: cannot start the %s plant: %s\n",
			koptd_plant_names[j->plant], err);
	else
		r = ctl_new(j->pol,
			    &(struct ctl_opts){
				    .plant_name = koptd_plant_names[j->plant],
				    .on_window = on_window,
				    .arg = j },
			    plant, NULL);
	pthread_mutex_lock(&j->mu);
	j->run = r;
	j->wall0 = wall_s();
	j->plant0 = 0;
	if (r && j->stop_req)
		ctl_stop(r);
	pthread_mutex_unlock(&j->mu);
	if (r)
		ret = ctl_loop(r);
	pthread_mutex_lock(&j->mu);
	j->run = NULL;
	if (r) {
		json_object_put(j->snap);
		j->snap = ctl_status_json(r);
		totals_from(j->snap, &j->cur);
	}
	totals_add(&j->base, &j->cur);
	memset(&j->cur, 0, sizeof(j->cur));
	if (!j->stop_req) {
		j->failed = true;
		j->state = EJ_STOPPED;
		snprintf(j->why, sizeof(j->why),
			 ret ? "the controller stopped on an error (see the "
			       "log); kopt resume energy starts it again" :
			       "the controller ended");
		pr_warn("energy: %s\n", j->why);
	}
	pthread_mutex_unlock(&j->mu);
	ctl_free(r);
	plant_stop(plant);
	return NULL;
}

/* ---- control ---------------------------------------------------------------- */

void ej_init(struct energy_job *j)
{
	memset(j, 0, sizeof(*j));
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->state = EJ_OFF;
}

static void find_bins(struct energy_job *j)
{
	char self[4096], *dir;
	const char *lab = getenv("KOPT_LAB");
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	self[n > 0 ? n : 0] = '\0';
	dir = dirname(self);
	snprintf(j->bins_kopt, sizeof(j->bins_kopt), "%s/kopt", dir);
	if (lab && *lab)
		snprintf(j->bins_lab, sizeof(j->bins_lab), "%s", lab);
	else
		snprintf(j->bins_lab, sizeof(j->bins_lab), "%s/kopt-lab", dir);
}

int ej_start(struct energy_job *j, const struct koptd_config *c)
{
	struct policy *pol;
	int e;

	if (j->thread_live)
		return 0;
	pol = malloc(sizeof(*pol));
	if (!pol)
		return -1;
	*pol = *c->pol;
	find_bins(j);
	pthread_mutex_lock(&j->mu);
	free(j->pol);
	j->pol = pol;
	j->plant = c->plant;
	j->advise = c->advise;
	snprintf(j->table, sizeof(j->table), "%s", c->table);
	j->stop_req = j->pause_req = j->failed = false;
	j->why[0] = '\0';
	j->state = EJ_RUNNING;
	pthread_mutex_unlock(&j->mu);
	e = pthread_create(&j->th, NULL, job_thread, j);
	if (e) {
		pr_warn("energy: cannot start its thread: %s\n", strerror(e));
		j->state = EJ_STOPPED;
		return -1;
	}
	j->thread_live = true;
	pr_info("energy: started: policy %s on the %s plant, mode %s%s\n",
		pol->path, koptd_plant_names[c->plant],
		c->advise ? "advise" : "enforce",
		c->advise ? " (the host's knobs are not written)" : "");
	return 0;
}

void ej_stop(struct energy_job *j, const char *why)
{
	pid_t owner = 0;
	int ret;

	pthread_mutex_lock(&j->mu);
	j->stop_req = true;
	if (j->run)
		ctl_stop(j->run);
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
	if (j->thread_live) {
		struct timespec ts;
		double t0 = wall_s();
		bool said = false;

		/*
		 * The loop ends after its current window, which may be a host
		 * window of many seconds: the service watchdog is fed while
		 * koptd waits for it, so a stop or a reload is not taken for
		 * a hang.
		 */
		for (;;) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			if (pthread_timedjoin_np(j->th, NULL, &ts) != ETIMEDOUT)
				break;
			sd_notify(0, "WATCHDOG=1");
			if (!said && wall_s() - t0 > 2) {
				pr_info("energy: waiting for the current "
					"window to end\n");
				said = true;
			}
		}
		j->thread_live = false;
	}
	pthread_mutex_lock(&j->mu);
	if (j->state != EJ_OFF)
		j->state = EJ_STOPPED;
	if (why)
		snprintf(j->why, sizeof(j->why), "%s", why);
	pthread_mutex_unlock(&j->mu);
	/*
	 * What a plant that did not exit in time left in the journal; a
	 * live holder is not koptd's plant (reaped by now): not ours.
	 */
	if (state_holder(&owner) == 1) {
		pr_warn("energy: a live kopt (pid %d) holds the journal in "
			"%s; its changes are its own to restore\n",
			(int)owner, state_dir());
		return;
	}
	if (state_pending(&owner) > 0) {
		pr_warn("energy: process %d left journaled changes; "
			"restoring them\n",
			owner);
		ret = state_restore_dead(5);
		if (ret)
			pr_warn("energy: restoring them failed (%d); see "
				"above\n",
				ret);
	}
}

int ej_pause(struct energy_job *j, bool pause, char *err, size_t errlen)
{
	int ret = 0;

	pthread_mutex_lock(&j->mu);
	if (j->state == EJ_OFF)
		ret = kopt_errf(err, errlen, -ENOENT,
				"the energy job is not configured");
	else if (!j->thread_live || j->state == EJ_STOPPED)
		ret = kopt_errf(err, errlen, -ESRCH,
				"the energy job is stopped%s%s",
				j->why[0] ? ": " : "", j->why);
	else {
		j->pause_req = pause;
		if (!pause && j->state == EJ_PAUSED)
			j->state = EJ_RUNNING;
		pthread_cond_broadcast(&j->cv);
	}
	pthread_mutex_unlock(&j->mu);
	return ret;
}

static const char *const state_names[] = { "off", "stopped", "running",
					   "paused" };

struct json_object *ej_status(struct energy_job *j)
{
	struct json_object *o = json_object_new_object(), *s = NULL, *v;

	pthread_mutex_lock(&j->mu);
	json_object_object_add(o, "state",
			       json_object_new_string(state_names[j->state]));
	if (j->state == EJ_RUNNING && j->pause_req)
		json_object_object_add(o, "pausing",
				       json_object_new_boolean(true));
	if (j->state != EJ_OFF) {
		json_object_object_add(
			o, "mode",
			json_object_new_string(j->advise ? "advise" :
							   "enforce"));
		json_object_object_add(
			o, "plant",
			json_object_new_string(koptd_plant_names[j->plant]));
		if (j->pol)
			json_object_object_add(
				o, "policy",
				json_object_new_string(j->pol->path));
	}
	if (j->why[0])
		json_object_object_add(o, "why",
				       json_object_new_string(j->why));
	if (j->advise)
		json_object_object_add(
			o, "advice_basis",
			json_object_new_string(
				j->plant == KOPTD_PLANT_HOST ?
					"host measured as it stands (every "
					"request sent as stock): the "
					"controller's path, not a measured "
					"optimum" :
					"lab plant: settings applied in the "
					"simulation only"));
	if (j->snap)
		json_object_deep_copy(j->snap, &s, NULL);
	pthread_mutex_unlock(&j->mu);
	if (s) {
		static const char *const keep[] = {
			"phase",	   "held",
			"last_window",	   "sla",
			"source",	   "simulated",
			"windows",	   "failed_windows",
			"energy_j",	   "stock",
			"saving_vs_stock", "sla_violating_windows",
			"triggers",	   "trials",
			"duration_s"
		};

		for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
			if (json_object_object_get_ex(s, keep[i], &v))
				json_object_object_add(o, keep[i],
						       json_object_get(v));
		if (j->advise && json_object_object_get_ex(s, "held", &v))
			json_object_object_add(o, "would_set",
					       json_object_get(v));
		json_object_put(s);
	}
	return o;
}

void ej_totals(struct energy_job *j, struct ej_totals *t, char *source,
	       size_t len, struct json_object **held)
{
	struct json_object *v;

	pthread_mutex_lock(&j->mu);
	*t = j->base;
	totals_add(t, &j->cur);
	snprintf(source, len, "%s", j->source);
	*held = NULL;
	if (j->snap && j->state != EJ_STOPPED && !j->advise &&
	    json_object_object_get_ex(j->snap, "held", &v))
		json_object_deep_copy(v, held, NULL);
	pthread_mutex_unlock(&j->mu);
}

void ej_destroy(struct energy_job *j)
{
	json_object_put(j->snap);
	free(j->pol);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
}
