/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The sched_lb_ops policy (bpf/sched_lb.bpf.c) as a library: `kopt model
 * attach|detach` use it with pinning, tests and `make vmbench` without
 * (the policy is unregistered when they close it).
 *
 * Userspace only.
 */
#ifndef KOPT_LOADER_SCHED_LB_H
#define KOPT_LOADER_SCHED_LB_H

#ifdef __bpf__
#error "loader/lib/bpf/sched_lb.h is userspace-only"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "kopt/sched_lb.h"

/* Pin names in kopt_pin_dir() (loader/lib/bpf/mlp.h), next to the live model's. */
#define KOPT_LB_PIN_LINK "sched_lb_link"
#define KOPT_LB_PIN_CFG "sched_lb_cfg"
#define KOPT_LB_PIN_STATS "sched_lb_stats"

struct kopt_lb_opts {
	enum kopt_lb_mode mode;
	bool use_threshold; /* else the model's own threshold */
	__s32 threshold;
	bool no_kfunc; /* inline evaluator even if the kernel has the kfunc */
	bool sample; /* one lb_samples record per evaluation */
	/*
	 * Pin the link and maps in kopt_pin_dir() so the policy stays
	 * registered after the process exits, and use the live model's
	 * pinned maps (created empty if absent). Else the model maps are
	 * private to this policy (tests write them with kopt_mlp_swap()).
	 */
	bool pin;
};

/* What the running kernel offers; why[] says what is missing. */
struct kopt_lb_support {
	bool struct_ops; /* struct sched_lb_ops (patch 0002) */
	bool tracepoint; /* sched_can_migrate_task (patch 0001) */
	bool kfunc; /* bpf_kopt_mlp_eval (patch 0004) */
	char why[256];
};

void kopt_lb_probe(struct kopt_lb_support *s);

struct kopt_lb;

/*
 * Loads the policy and registers it. On failure returns a kopt_exit code
 * (KOPT_EXIT_BPF, ...) and leaves a message (step, object, cause, what to
 * do) in err.
 */
int kopt_lb_open(struct kopt_lb **out, const struct kopt_lb_opts *o, char *err,
		 size_t errlen);
/* Unregisters (unless pinned) and frees. */
void kopt_lb_close(struct kopt_lb *lb);

bool kopt_lb_uses_kfunc(const struct kopt_lb *lb);
int kopt_lb_cfg_fd(const struct kopt_lb *lb);
int kopt_lb_stats_fd(const struct kopt_lb *lb);
int kopt_lb_samples_fd(const struct kopt_lb *lb);
int kopt_lb_weights_fd(const struct kopt_lb *lb);
int kopt_lb_active_fd(const struct kopt_lb *lb);
int kopt_lb_prog_fd(const struct kopt_lb *lb);

/* Writes the mode/threshold/sample of o into the lb_cfg map fd. */
int kopt_lb_set_cfg(int cfg_fd, const struct kopt_lb_opts *o);
/* Sums the per-CPU lb_stats of map fd into out. */
int kopt_lb_read_stats(int stats_fd, __u64 out[KOPT_LB_NR_STATS]);

/* The path of one pinned object under the policy's bpffs folder. */
const char *kopt_lb_pin_path(const char *name);
/* Removes the policy's pins (link, configuration, statistics). */
void kopt_lb_unpin_all(void);

/* Stat names (JSON keys), indexed by enum kopt_lb_stat. */
extern const char *const kopt_lb_stat_names[KOPT_LB_NR_STATS];
/* Mode names ("shadow", ...), indexed by enum kopt_lb_mode. */
extern const char *const kopt_lb_mode_names[KOPT_LB_NR_MODES];

#endif /* KOPT_LOADER_SCHED_LB_H */
