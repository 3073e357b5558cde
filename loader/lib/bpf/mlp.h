/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The live model's maps and programs: pinning (and mounting bpffs when
 * needed), the hot-swap writer (protocol in include/kopt/mlp_map.h),
 * reading the live model back, the shadow predictor, and a private
 * BPF_PROG_TEST_RUN evaluator for verify and bench.
 */
#ifndef KOPT_LOADER_MLP_H
#define KOPT_LOADER_MLP_H

#include <stdbool.h>
#include <stddef.h>

#include "kopt/mlp_map.h"

#define KOPT_BPFFS "/sys/fs/bpf"
#define KOPT_PIN_DIR_DEFAULT KOPT_BPFFS "/kopt"
/* Pin names under the pin directory. */
#define KOPT_PIN_WEIGHTS "mlp_weights"
#define KOPT_PIN_ACTIVE "mlp_active"
#define KOPT_PIN_STATS "mlp_shadow_stats"
#define KOPT_PIN_SHADOW "mlp_shadow_link"
/* In the state directory: the bpffs mount point kopt mounted, if any. */
#define KOPT_STATE_BPFFS "bpffs-mounted"
/* Size of the warning buffer of kopt_mlp_live_open. */
#define KOPT_WARN_LEN 256

struct mlp_bpf;

/* $KOPT_PIN_DIR, else /sys/fs/bpf/kopt (the state directory: kopt.h). */
const char *kopt_pin_dir(void);

/* The pinned live model, opened. */
struct kopt_mlp_live {
	int weights_fd;
	int active_fd;
	int stats_fd; /* -1: shadow predictor never loaded */
	int lock_fd; /* the pin directory; flock()ed by writers */
	struct kopt_mlp_active *active; /* mmap of mlp_active[0] */
	char shadow[16]; /* program of the pinned shadow link, "" if none */
};

/* Features the shadow program `prog` computes (KOPT_FEAT_BIT mask). */
__u64 kopt_mlp_shadow_features(const char *prog);

/*
 * Opens the pinned maps. With create: mounts bpffs on /sys/fs/bpf if the
 * pin directory is under it and it is not mounted (recorded in the state
 * directory), creates and pins the maps if they are not pinned yet, and,
 * with shadow, loads, attaches and pins the shadow predictor if it is not
 * already (a refusal there is a warning in warn, KOPT_WARN_LEN bytes, not
 * an error). 0 or -errno with the reason in err.
 */
int kopt_mlp_live_open(struct kopt_mlp_live *lv, bool create, bool shadow,
		       char *warn, char *err, size_t errlen);
void kopt_mlp_live_close(struct kopt_mlp_live *lv);
/*
 * Writes m into the standby slot and flips to it (mlp_map.h). lock_fd may
 * be -1 (private maps). *seq gets the new sequence count.
 */
int kopt_mlp_swap(int weights_fd, struct kopt_mlp_active *active, int lock_fd,
		  const struct kopt_mlp *m, __u64 *seq);
/* A consistent copy of the live model and its seq; 0 or -errno. */
int kopt_mlp_live_read(const struct kopt_mlp_live *lv, struct kopt_mlp *m,
		       __u64 *seq);
/* The shadow predictor's counters, summed over CPUs; 0 or -errno. */
int kopt_mlp_live_stats(const struct kopt_mlp_live *lv,
			__u64 stats[KOPT_MLP_STAT_NR]);
/*
 * Removes the pins, the pin directory if empty, and unmounts bpffs if kopt
 * mounted it and nothing else is pinned there. Says what it did in *note.
 */
int kopt_mlp_unload(char *note, size_t notelen, char *err, size_t errlen);

/* Programs of a test-run evaluator. */
enum {
	KOPT_TR_XDP = 1, /* mlp_eval and mlp_empty */
	KOPT_TR_BATCH = 2, /* mlp_batch */
};

/* bpf/mlp.bpf.c loaded for BPF_PROG_TEST_RUN. */
struct kopt_mlp_tr {
	struct mlp_bpf *skel;
	struct kopt_mlp_active *active; /* mmap */
	struct kopt_mlp_batch_in *in; /* mmap, KOPT_MLP_BATCH entries */
	struct kopt_mlp_batch_out *out; /* mmap, KOPT_MLP_BATCH entries */
};

/*
 * Loads the programs in `progs`. With pin_dir NULL the model maps are
 * private to this evaluator, else the pinned live ones (which must
 * exist). 0 or -errno with err.
 */
int kopt_mlp_tr_open(struct kopt_mlp_tr *t, unsigned int progs,
		     const char *pin_dir, char *err, size_t errlen);
void kopt_mlp_tr_close(struct kopt_mlp_tr *t);
/* Swaps m in (private maps: the only writer). */
int kopt_mlp_tr_set(struct kopt_mlp_tr *t, const struct kopt_mlp *m);
/* Evaluates t->in[0..count) into t->out with mlp_batch. */
int kopt_mlp_tr_batch(struct kopt_mlp_tr *t, __u32 count);
/* One evaluation through mlp_eval (XDP); pkt->in in, the rest out. */
int kopt_mlp_tr_one(struct kopt_mlp_tr *t, struct kopt_mlp_pkt *pkt);
/* ns per run of mlp_eval (or mlp_empty if empty) over `repeat` runs. */
int kopt_mlp_tr_time(struct kopt_mlp_tr *t, bool empty,
		     const struct kopt_mlp_pkt *pkt, __u32 repeat, __u32 *ns);

/* Report of kopt_mlp_verify: BPF evaluator vs userspace evaluator. */
struct kopt_verify {
	long random; /* random inputs checked */
	long edge; /* edge-case inputs checked (zero, extremes, saturation) */
	long via_xdp; /* of all inputs, also checked through mlp_eval */
	long mismatches;
	long positives; /* logit >= threshold */
	long saturated; /* logit at a 32-bit bound */
	__s32 logit_min, logit_max;
	/* the first mismatch, if any */
	__s64 bad_in[KOPT_MLP_MAX_IN];
	__s32 bad_user, bad_bpf; /* logits */
	int bad_user_status, bad_bpf_status;
	const char *bad_via; /* "mlp_batch" or "mlp_eval" */
};

struct kopt_model;

/*
 * Runs the edge cases and n random inputs (deterministic for seed)
 * through the BPF evaluator (mlp_batch for all, mlp_eval for the edge cases
 * and the first few thousand) and through kopt_mlp_eval_user, and counts
 * any difference in status or logit. 0 (even with mismatches: see v) or
 * -errno with err.
 */
int kopt_mlp_verify(const struct kopt_model *m, long n, unsigned long seed,
		    struct kopt_verify *v, char *err, size_t errlen);

#endif /* KOPT_LOADER_MLP_H */
