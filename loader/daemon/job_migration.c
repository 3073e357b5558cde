// SPDX-License-Identifier: GPL-2.0-only
/*
 * koptd's migration job. What the kernel offers is probed, never assumed:
 *
 *  - with the kopt patch series (struct sched_lb_ops, kopt_lb_probe()),
 *    shadow and enforce register a private sched_lb_ops policy
 *    (loader/lib/bpf/sched_lb.h) in that mode, its model maps its own:
 *    nothing outlives koptd (the policy goes with its link);
 *  - without it, shadow is the live model's shadow predictor (tp_btf
 *    sched_migrate_task), exactly as `kopt model load` sets it up: the
 *    pinned maps under kopt_pin_dir(), created (and bpffs mounted,
 *    journaled) if absent; koptd removes on stop what it created, and
 *    leaves pins it found in place. Enforce needs the patch: the job
 *    says so and does not run; koptd keeps going.
 *
 * A model load validates the .kmlp file first, then writes the standby
 * slot and flips with one atomic store (kopt_mlp_swap()): BPF readers
 * never see a half-written model. The generation is the map's sequence
 * count after the flip.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <json-c/json.h>

#include "job_migration.h"
#include "kopt.h"
#include "mlp.h"
#include "model.h"
#include "sched_lb.h"

void mj_init(struct migration_job *m)
{
	memset(m, 0, sizeof(*m));
	m->weights_fd = m->active_fd = m->lock_fd = m->stats_fd = -1;
}

static void not_running(struct migration_job *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void not_running(struct migration_job *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->why, sizeof(m->why), fmt, ap);
	va_end(ap);
	m->hook = MJ_NONE;
	pr_warn("migration: not running: %s\n", m->why);
}

static int open_struct_ops(struct migration_job *m)
{
	struct kopt_lb_opts lo = {
		.mode = m->mode == KOPTD_MIG_ENFORCE ? KOPT_LB_ENFORCE :
						       KOPT_LB_SHADOW,
	};
	char err[512];
	int ret;

	ret = kopt_lb_open(&m->lb, &lo, err, sizeof(err));
	if (ret) {
		not_running(m, "sched_lb_ops: %s", err);
		return -1;
	}
	m->active = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE,
			 MAP_SHARED, kopt_lb_active_fd(m->lb), 0);
	if (m->active == MAP_FAILED) {
		m->active = NULL;
		kopt_lb_close(m->lb);
		m->lb = NULL;
		not_running(m, "mapping the policy's mlp_active failed: %s",
			    strerror(errno));
		return -1;
	}
	m->weights_fd = kopt_lb_weights_fd(m->lb);
	m->hook = MJ_STRUCT_OPS;
	return 0;
}

static int open_tp_btf(struct migration_job *m)
{
	char err[512], warn[KOPT_WARN_LEN] = "", path[4200];
	struct kopt_mlp_live *lv;

	lv = calloc(1, sizeof(*lv));
	if (!lv)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", kopt_pin_dir(), KOPT_PIN_WEIGHTS);
	m->created_pins = access(path, F_OK) != 0;
	if (kopt_mlp_live_open(lv, true, true, warn, err, sizeof(err))) {
		free(lv);
		not_running(m, "the live model's maps: %s", err);
		return -1;
	}
	m->lv = lv;
	m->lv_open = true;
	if (!lv->shadow[0]) {
		mj_stop(m);
		not_running(m,
			    "the kernel refused the shadow predictor "
			    "(tp_btf sched_migrate_task)%s%s",
			    warn[0] ? ": " : "", warn);
		return -1;
	}
	m->weights_fd = lv->weights_fd;
	m->active = lv->active;
	m->lock_fd = lv->lock_fd;
	m->hook = MJ_TP_BTF;
	if (!m->created_pins)
		pr_info("migration: using the live model pinned in %s "
			"before koptd started (left in place on stop)\n",
			kopt_pin_dir());
	return 0;
}

void mj_start(struct migration_job *m, const struct koptd_config *c)
{
	struct kopt_lb_support sup;
	char err[512];

	m->configured = c->migration;
	m->mode = c->mig_mode;
	snprintf(m->model, sizeof(m->model), "%s", c->model);
	m->why[0] = '\0';
	if (!c->migration || c->mig_mode == KOPTD_MIG_OFF)
		return;
	kopt_lb_probe(&sup);
	if (sup.struct_ops) {
		if (open_struct_ops(m))
			return;
	} else if (c->mig_mode == KOPTD_MIG_ENFORCE) {
		not_running(m,
			    "enforce needs struct sched_lb_ops (the kopt patch "
			    "series, kernel-patches/), which this kernel lacks "
			    "(%s); mode = shadow runs without it",
			    sup.why);
		return;
	} else if (open_tp_btf(m)) {
		return;
	}
	if (mj_load(m, c->model, err, sizeof(err))) {
		pr_warn("migration: %s\n", err);
		mj_stop(m);
		not_running(m, "%s", err);
		return;
	}
	pr_info("migration: %s mode through %s, model %s\n",
		koptd_mig_mode_names[m->mode],
		m->hook == MJ_STRUCT_OPS ? "sched_lb_ops" :
					   "the tp_btf shadow predictor",
		m->model);
}

int mj_load(struct migration_job *m, const char *path, char *err, size_t errlen)
{
	struct kopt_model *km;
	struct kopt_mlp *mlp;
	char e[512];
	__u64 seq;
	int ret;

	if (m->hook == MJ_NONE)
		return kopt_errf(err, errlen, -ESRCH,
				 "the migration job is not running%s%s",
				 m->why[0] ? ": " : "", m->why);
	km = malloc(sizeof(*km));
	mlp = malloc(sizeof(*mlp));
	if (!km || !mlp) {
		free(km);
		free(mlp);
		return kopt_errf(err, errlen, -ENOMEM, "out of memory");
	}
	/* validate before touching anything in the kernel */
	if (kopt_model_read(path, km, e, sizeof(e))) {
		ret = kopt_errf(err, errlen, -EINVAL, "%s", e);
		goto out;
	}
	kopt_model_to_mlp(km, mlp);
	ret = kopt_mlp_swap(m->weights_fd, m->active, m->lock_fd, mlp, &seq);
	if (ret) {
		kopt_errf(err, errlen, ret,
			  "writing the standby slot failed: %s; the live "
			  "model is unchanged",
			  strerror(-ret));
		goto out;
	}
	m->generation = seq;
	m->loads++;
	snprintf(m->model, sizeof(m->model), "%s", path);
	pr_info("migration: model %s is live (generation %llu)\n", path,
		(unsigned long long)seq);
out:
	free(km);
	free(mlp);
	return ret;
}

void mj_stop(struct migration_job *m)
{
	char note[256] = "", err[256];

	if (m->lb) {
		if (m->active)
			munmap(m->active, getpagesize());
		kopt_lb_close(m->lb); /* unregistered: CFS decides alone */
		m->lb = NULL;
		pr_info("migration: sched_lb_ops policy unregistered\n");
	}
	if (m->lv_open) {
		kopt_mlp_live_close(m->lv);
		free(m->lv);
		m->lv = NULL;
		m->lv_open = false;
		if (m->created_pins) {
			if (kopt_mlp_unload(note, sizeof(note), err,
					    sizeof(err)))
				pr_warn("migration: removing the pins "
					"it created: %s\n",
					err);
			else
				pr_info("migration: removed the live "
					"model it loaded%s%s\n",
					note[0] ? ": " : "", note);
		}
	}
	m->active = NULL;
	m->weights_fd = m->lock_fd = -1;
	m->hook = MJ_NONE;
}

void mj_counts(struct migration_job *m, struct mj_counts *c)
{
	memset(c, 0, sizeof(*c));
	if (m->hook == MJ_STRUCT_OPS) {
		__u64 st[KOPT_LB_NR_STATS];

		if (kopt_lb_read_stats(kopt_lb_stats_fd(m->lb), st))
			return;
		c->outcome[0] = "agree";
		c->count[0] = st[KOPT_LB_STAT_AGREE];
		c->outcome[1] = "disagree";
		c->count[1] = st[KOPT_LB_STAT_EVALS] - st[KOPT_LB_STAT_AGREE];
		c->outcome[2] = "no_model";
		c->count[2] = st[KOPT_LB_STAT_NO_MODEL];
		c->outcome[3] = "busy";
		c->count[3] = st[KOPT_LB_STAT_BUSY];
		c->outcome[4] = "error";
		c->count[4] = st[KOPT_LB_STAT_ERROR];
		c->n = 5;
		c->have_lost = true;
		c->lost = st[KOPT_LB_STAT_LOST];
	} else if (m->hook == MJ_TP_BTF) {
		__u64 st[KOPT_MLP_STAT_NR];

		if (kopt_mlp_live_stats(m->lv, st))
			return;
		c->outcome[0] = "positive";
		c->count[0] = st[KOPT_MLP_STAT_POSITIVES];
		c->outcome[1] = "negative";
		c->count[1] = st[KOPT_MLP_STAT_INFERENCES] -
			      st[KOPT_MLP_STAT_POSITIVES];
		c->outcome[2] = "no_model";
		c->count[2] = st[KOPT_MLP_STAT_NO_MODEL];
		c->outcome[3] = "busy";
		c->count[3] = st[KOPT_MLP_STAT_BUSY];
		c->n = 4;
	}
}

struct json_object *mj_status(struct migration_job *m)
{
	struct json_object *o = json_object_new_object(), *p;
	struct mj_counts c;

	json_object_object_add(
		o, "state",
		json_object_new_string(!m->configured		? "off" :
				       m->mode == KOPTD_MIG_OFF ? "off" :
				       m->hook == MJ_NONE ? "not running" :
							    "running"));
	if (!m->configured)
		return o;
	json_object_object_add(
		o, "mode",
		json_object_new_string(koptd_mig_mode_names[m->mode]));
	if (m->hook != MJ_NONE)
		json_object_object_add(
			o, "hook",
			json_object_new_string(m->hook == MJ_STRUCT_OPS ?
						       "sched_lb_ops" :
						       "tp_btf shadow "
						       "predictor"));
	if (m->model[0])
		json_object_object_add(o, "model",
				       json_object_new_string(m->model));
	if (m->why[0])
		json_object_object_add(o, "why",
				       json_object_new_string(m->why));
	json_object_object_add(o, "model_generation",
			       json_object_new_uint64(m->generation));
	json_object_object_add(o, "models_loaded",
			       json_object_new_uint64(m->loads));
	mj_counts(m, &c);
	p = json_object_new_object();
	for (unsigned int i = 0; i < c.n; i++)
		json_object_object_add(p, c.outcome[i],
				       json_object_new_uint64(c.count[i]));
	json_object_object_add(o, "predictions", p);
	json_object_object_add(o, "ringbuf_lost",
			       c.have_lost ? json_object_new_uint64(c.lost) :
					     NULL);
	return o;
}
