/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * koptd's migration job: the forced-migration model in the kernel, in
 * shadow (predict and count, change no decision) or enforce mode
 * (job_migration.c says which kernel hook each uses and what is probed).
 * Driven from koptd's main thread only: nothing here blocks for long.
 *
 * Userspace only.
 */
#ifndef KOPTD_JOB_MIGRATION_H
#define KOPTD_JOB_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "config.h"

struct kopt_lb;
struct kopt_mlp_active;
struct json_object;

enum mj_hook { MJ_NONE, MJ_TP_BTF, MJ_STRUCT_OPS };

struct migration_job {
	bool configured;
	enum koptd_mig_mode mode;
	enum mj_hook hook;
	char model[4096];
	char why[512]; /* why it is not running, or a note */
	/* MJ_TP_BTF: the live model's pinned maps and shadow predictor */
	bool lv_open, created_pins;
	int weights_fd, active_fd, lock_fd, stats_fd;
	struct kopt_mlp_active *active;
	void *lv; /* struct kopt_mlp_live */
	/* MJ_STRUCT_OPS: a private sched_lb_ops policy */
	struct kopt_lb *lb;
	__u64 generation; /* the model map's sequence count */
	unsigned long loads; /* models loaded by this koptd */
};

void mj_init(struct migration_job *m);
/* Starts as c says; a kernel that refuses is a status, not an error. */
void mj_start(struct migration_job *m, const struct koptd_config *c);
/* Loads a .kmlp file (validated first; nothing changes on error). */
int mj_load(struct migration_job *m, const char *path, char *err,
	    size_t errlen);
/* Unregisters, and removes the pins this koptd created. */
void mj_stop(struct migration_job *m);
struct json_object *mj_status(struct migration_job *m);
/* Prediction counts by outcome name; n entries, false if none. */
#define MJ_MAX_OUTCOMES 6
struct mj_counts {
	unsigned int n;
	const char *outcome[MJ_MAX_OUTCOMES];
	unsigned long long count[MJ_MAX_OUTCOMES];
	bool have_lost;
	unsigned long long lost;
};
void mj_counts(struct migration_job *m, struct mj_counts *c);

#endif /* KOPTD_JOB_MIGRATION_H */
