/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * koptd's energy job: the controller (loader/lib/ctl/controller.h) on a
 * plant, in a thread of its own (job_energy.c says why and how).
 *
 * Userspace only.
 */
#ifndef KOPTD_JOB_ENERGY_H
#define KOPTD_JOB_ENERGY_H

#include <pthread.h>
#include <stdbool.h>

#include "config.h"

#define EJ_MAX_CAUSES 16
#define EJ_WHY_LEN 512

enum ej_state {
	EJ_OFF, /* not configured */
	EJ_STOPPED, /* stopped by a command (restore), or after a failure */
	EJ_RUNNING,
	EJ_PAUSED,
};

/* Counters that survive the job's restarts (for the metrics). */
struct ej_totals {
	double energy_j, stock_j;
	unsigned long windows, failed, viol_explore, viol_other, trials;
	unsigned int ncause;
	char cause[EJ_MAX_CAUSES][16];
	unsigned long cause_n[EJ_MAX_CAUSES];
};

struct json_object;
struct run;
struct plant;

struct energy_job {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	bool thread_live;
	enum ej_state state;
	bool pause_req, stop_req, failed;
	bool advise;
	enum koptd_plant plant;
	char table[4096];
	struct policy *pol; /* a copy, owned */
	struct run *run; /* while the loop runs */
	struct json_object *snap; /* the loop's last status; NULL before */
	char why[EJ_WHY_LEN]; /* why stopped, or a note */
	char source[16]; /* the energy's source label, "" before a window */
	struct ej_totals base; /* finished runs */
	struct ej_totals cur; /* the running one */
	double wall0, plant0; /* pacing of a lab plant */
	char bins_kopt[4096], bins_lab[4096];
};

void ej_init(struct energy_job *j);
/* Starts the job as c says (c->energy); 0 or -1 with the reason logged. */
int ej_start(struct energy_job *j, const struct koptd_config *c);
/*
 * Stops the loop and its plant (the host plant restores its knobs as it
 * exits), joins the thread and restores what is left in the journal.
 * why (may be NULL) is kept for status.
 */
void ej_stop(struct energy_job *j, const char *why);
int ej_pause(struct energy_job *j, bool pause, char *err, size_t errlen);
/* The job as JSON for kopt status; never NULL. */
struct json_object *ej_status(struct energy_job *j);
/* Totals of every run so far, with the source label. */
void ej_totals(struct energy_job *j, struct ej_totals *t, char *source,
	       size_t len, struct json_object **held);
void ej_destroy(struct energy_job *j);

#endif /* KOPTD_JOB_ENERGY_H */
