/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The energy controller (controller.c says how it works): a policy and a
 * started plant in, windows measured, settings chosen and held, a summary
 * out. No argv, no stdout: kopt run and koptd are its front ends, and a
 * test drives it with an in-process plant (plant_start_ops()).
 */
#ifndef KOPT_CTL_CONTROLLER_H
#define KOPT_CTL_CONTROLLER_H

#include <stdio.h>

#include "plant.h"
#include "policy.h"

struct run;
struct json_object;

/* Where a run stands after a window: for a live status line. */
struct ctl_status {
	double t_s; /* plant time so far */
	const char *phase; /* of the last window: measure, explore, hold, ... */
	char setting[48]; /* "ITR 50 us, 1800 MHz" or "stock" */
	double energy_j; /* so far */
	double stock_j; /* the stock policy's over the same windows; NAN */
	bool window_ok; /* the last window gave a figure */
	bool sla_ok; /* ... and met the SLA */
	unsigned int windows, failed;
	const char *label; /* "(simulated)", "(measured)", ... */
};

struct ctl_opts {
	double duration_s; /* plant seconds; 0: until ctl_request_stop() */
	const char *plant_name; /* "sim", "host", a command: for the log */
	/*
	 * Optional: called in ctl_loop()'s thread after every window,
	 * measured or failed (koptd takes its status snapshot here, paces a
	 * simulated plant and holds a paused job). It may block.
	 */
	void (*on_window)(struct run *r, void *arg);
	void *arg;
};

/*
 * A controller for a loaded policy (copied) on a started plant (borrowed:
 * the caller stops it); every window goes to log as CSV when log is set,
 * flushed per window (tail -f follows a long run).
 * NULL when out of memory.
 */
struct run *ctl_new(const struct policy *pol, const struct ctl_opts *o,
		    struct plant *plant, FILE *log);
/*
 * The setting the guard falls back to: the stock policy, or the policy's
 * [guard] fallback ITR and frequency with every [knob]'s fallback.
 */
struct plant_setting ctl_fallback_setting(const struct policy *p);
/* Runs until the duration or a stop request; a kopt_exit code. */
int ctl_loop(struct run *r);
/* Where r stands after its last window (valid in on_window and after). */
const struct ctl_status *ctl_last_status(const struct run *r);
/* Ends the loop after the current window; async-signal-safe. */
void ctl_request_stop(void);
/* The same for this run only; safe from another thread or a signal. */
void ctl_stop(struct run *r);
/*
 * The loop's state now (the summary's keys, plus "phase", "held" with
 * "why", and "last_window"); call it where the loop cannot run (from
 * on_window, or after ctl_loop returned).
 */
struct json_object *ctl_status_json(const struct run *r);
/* The summary: energy against stock and oracle, SLA, triggers. */
struct json_object *ctl_summary_json(const struct run *r);
void ctl_print_summary(const struct run *r, FILE *f);
/* "314 J", "10.2 kJ", "1.75 MJ (0.486 kWh)": energy for people. */
void ctl_energy_str(double joules, char *buf, size_t len);
void ctl_free(struct run *r);

/*
 * The learned table (controller.c says what it holds): saved after a run
 * (atomically), loaded into a new controller before ctl_loop() to warm
 * start it. 0, or a negative errno with err saying which file, field and
 * why; a table that fails to load changes nothing.
 */
int ctl_table_save(const struct run *r, const char *path, char *err,
		   size_t len);
int ctl_table_load(struct run *r, const char *path, char *err, size_t len);

#endif /* KOPT_CTL_CONTROLLER_H */
