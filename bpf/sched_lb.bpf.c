// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kopt load-balancing policy: a sched_lb_ops struct_ops program for
 * kernels with the kopt patch series (kernel-patches/0002-*), registered by
 * `kopt model attach`.
 *
 * What it does. CFS calls can_migrate() for every task that passed the
 * hard vetoes (affinity, running, throttled, per-CPU kthread), with its own
 * soft decision. We build the task's feature vector (include/kopt/
 * features.h, the same definitions as the collector's records, read with
 * CO-RE), evaluate the live model from the two-slot weights map (the
 * sequence-count protocol of include/kopt/mlp_map.h: a model swap never
 * gives a torn read), and compare its prediction "CFS will force this
 * migration" with what CFS decided. In `shadow` mode that is all: every
 * decision stays CFS's. In `enforce` mode a task CFS wants to keep (cache
 * hot) but the model predicts it would be forced to move anyway is
 * migrated now, saving the failed balancing rounds in between; every other
 * decision stays CFS's. Two test modes return a fixed answer: `refuse`
 * (proves the hook really decides) and `accept` (proves the hard vetoes
 * hold whatever a policy says).
 *
 * Why the kfunc. The patch's bpf_kopt_mlp_eval() runs the same evaluator
 * (include/kopt/mlp_fixed.h) compiled by the kernel's gcc; the loader
 * turns it on when the kernel's BTF has it, else the BPF build of the
 * evaluator runs inline. Both give bit-identical logits.
 *
 * Cost per call: a stats lookup (an inlined per-CPU array access: all
 * counters of a CPU are one map value), the config read as a global, two
 * sequence loads, the CO-RE loads of the feature groups the model reads
 * (up to ~25, each feature table entry written once) and one evaluation
 * (a 7-16-1 model: ~150 multiply-adds); with no model loaded, no
 * features. The patch series marks lb_env's run queue and domain
 * pointers trusted, so the feature loads through them are plain loads.
 * `make vmbench-icount` measures it.
 *
 * Builds against the host's vmlinux.h, which lacks the patch's types:
 * struct sched_lb_ops is declared here (libbpf matches it to the kernel's
 * by name and member names); lb_env and task_struct fields are CO-RE
 * relocated against the running kernel at load time.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "kopt/migrate.h"
#include "kopt/sched_lb.h"
#include "mlp.bpf.h"
#include "sched.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define LB_MAX_CPUS 1024 /* cpu_node[] size: power of two for masking */
#define BITS_PER_WORD 64

struct sched_lb_ops {
	int (*can_migrate)(struct task_struct *p, struct lb_env *env,
			   int cfs_decision);
	char name[KOPT_LB_NAME_LEN];
};

/* In the patched kernel; absent elsewhere (dead code then, see use_kfunc). */
extern int bpf_kopt_mlp_eval(const void *model, __u32 model__sz,
			     const __s64 *feat, __u32 feat__sz,
			     __s32 *logit) __ksym __weak;

/* Set by the loader before load. */
const volatile bool use_kfunc;
const volatile __u8 cpu_node[LB_MAX_CPUS];

/*
 * The mode, written by the loader while attached (kopt_lb_set_cfg(): key 0
 * of this section's one-entry array map, pinned as sched_lb_cfg). A global
 * in a section of its own rather than a map of its own: its address is a
 * constant, so reading it needs no lookup and no NULL check.
 */
struct kopt_lb_cfg lb_cfg SEC(".data.lb_cfg");

/* One entry: every counter of a CPU in one value, found with one lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kopt_lb_counters);
} lb_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, KOPT_LB_SAMPLES_BYTES);
} lb_samples SEC(".maps");

/*
 * st: this CPU's counters, looked up once per call. No atomics: the hook
 * runs with the run queue locked and interrupts off, so nothing else on
 * this CPU touches them meanwhile.
 */
static __always_inline void stat_inc(struct kopt_lb_counters *st, __u32 idx)
{
	st->n[idx] += 1;
}

#define FEAT(id) KOPT_FEAT_BIT(KOPT_FEAT_##id)
#define TASK_FEATS                                                      \
	(FEAT(PID) | FEAT(LOAD_AVG) | FEAT(UTIL_AVG) | FEAT(VRUNTIME) | \
	 FEAT(NR_MIGRATIONS) | FEAT(EXEC_START) | FEAT(DELTA_NS) |      \
	 FEAT(TASK_RUNNING))
#define RQ_FEATS                                                            \
	(FEAT(SRC_NR_RUNNING) | FEAT(DST_NR_RUNNING) | FEAT(SRC_LOAD_AVG) | \
	 FEAT(DST_LOAD_AVG) | FEAT(SRC_UTIL_AVG) | FEAT(DST_UTIL_AVG))
#define SD_FEATS                                            \
	(FEAT(NR_BALANCE_FAILED) | FEAT(CACHE_NICE_TRIES) | \
	 FEAT(PREFER_SIBLING))
#define ENV_FEATS                                                            \
	(FEAT(IMBALANCE) | FEAT(IDLE_TYPE) | FEAT(SRC_CPU) | FEAT(DST_CPU) | \
	 FEAT(SAME_NODE) | FEAT(THROTTLED))

_Static_assert((TASK_FEATS | RQ_FEATS | SD_FEATS | ENV_FEATS) ==
		       KOPT_FEAT_BIT(KOPT_FEAT_NR) - 1,
	       "every feature is in one group");
_Static_assert(!(TASK_FEATS & RQ_FEATS) && !(TASK_FEATS & SD_FEATS) &&
		       !(TASK_FEATS & ENV_FEATS) && !(RQ_FEATS & SD_FEATS) &&
		       !(RQ_FEATS & ENV_FEATS) && !(SD_FEATS & ENV_FEATS),
	       "no feature is in two groups");

static __always_inline void task_features(__s64 *f, struct task_struct *p,
					  struct rq *src)
{
	__u64 exec_start = p->se.exec_start;

	f[KOPT_FEAT_PID] = p->pid;
	f[KOPT_FEAT_LOAD_AVG] = p->se.avg.load_avg;
	f[KOPT_FEAT_UTIL_AVG] = p->se.avg.util_avg;
	f[KOPT_FEAT_VRUNTIME] = p->se.vruntime;
	f[KOPT_FEAT_NR_MIGRATIONS] = p->se.nr_migrations;
	f[KOPT_FEAT_EXEC_START] = exec_start;
	f[KOPT_FEAT_DELTA_NS] = (__s64)(src->clock_task - exec_start);
	f[KOPT_FEAT_TASK_RUNNING] = p->on_cpu != 0;
}

static __always_inline void rq_features(__s64 *f, struct rq *src,
					struct rq *dst)
{
	f[KOPT_FEAT_SRC_NR_RUNNING] = src->nr_running;
	f[KOPT_FEAT_DST_NR_RUNNING] = dst->nr_running;
	f[KOPT_FEAT_SRC_LOAD_AVG] = src->cfs.avg.load_avg;
	f[KOPT_FEAT_DST_LOAD_AVG] = dst->cfs.avg.load_avg;
	f[KOPT_FEAT_SRC_UTIL_AVG] = src->cfs.avg.util_avg;
	f[KOPT_FEAT_DST_UTIL_AVG] = dst->cfs.avg.util_avg;
}

static __always_inline void sd_features(__s64 *f, struct sched_domain *sd)
{
	struct sched_domain *child = sd->child;

	f[KOPT_FEAT_NR_BALANCE_FAILED] = sd->nr_balance_failed;
	f[KOPT_FEAT_CACHE_NICE_TRIES] = sd->cache_nice_tries;
	f[KOPT_FEAT_PREFER_SIBLING] =
		child ? (child->flags & SD_PREFER_SIBLING) != 0 : 0;
}

/* The cheap ones: fields of env itself. */
static __always_inline void env_features(__s64 *f, struct lb_env *env)
{
	int src = env->src_cpu, dst = env->dst_cpu;

	f[KOPT_FEAT_IMBALANCE] = env->imbalance;
	f[KOPT_FEAT_IDLE_TYPE] = kopt_idle_type(env->idle);
	f[KOPT_FEAT_SRC_CPU] = src;
	f[KOPT_FEAT_DST_CPU] = dst;
	f[KOPT_FEAT_SAME_NODE] = cpu_node[src & (LB_MAX_CPUS - 1)] ==
				 cpu_node[dst & (LB_MAX_CPUS - 1)];
	/* the hard vetoes passed: the group is not throttled */
	f[KOPT_FEAT_THROTTLED] = 0;
}

/* Zeroes the entries of the features in group (a constant). */
static __always_inline void zero_features(__s64 *f, __u64 group)
{
	__u32 i;

#pragma unroll
	for (i = 0; i < KOPT_FEAT_NR; i++)
		if (group & KOPT_FEAT_BIT(i))
			f[i] = 0;
}

/*
 * Fills f for a model reading the features in mask (0: unknown, all of
 * them), group by group: pointer chases a model does not need are the
 * bulk of the cost. Every entry is written exactly once, with its value
 * or, for a group not read, zero: the kfunc reads the whole table (and
 * the verifier wants all of it initialized), but zeroing it all first
 * would store every entry a second time.
 */
static __always_inline void build_features(__s64 *f, struct task_struct *p,
					   struct lb_env *env, __u64 mask)
{
	if (!mask)
		mask = ~0ULL;
	if (mask & TASK_FEATS)
		task_features(f, p, env->src_rq);
	else
		zero_features(f, TASK_FEATS);
	if (mask & RQ_FEATS)
		rq_features(f, env->src_rq, env->dst_rq);
	else
		zero_features(f, RQ_FEATS);
	if (mask & SD_FEATS)
		sd_features(f, env->sd);
	else
		zero_features(f, SD_FEATS);
	env_features(f, env);
}

/* One evaluation of model m, by the kfunc or the inline evaluator. */
static __always_inline int eval_one(const struct kopt_mlp *m, const __s64 *f,
				    __s32 *logit)
{
	struct kopt_mlp_scratch *scratch;
	__u32 zero = 0;

	if (use_kfunc)
		return bpf_kopt_mlp_eval(m, sizeof(*m), f,
					 KOPT_FEAT_NR * sizeof(__s64), logit);
	scratch = bpf_map_lookup_elem(&mlp_scratch, &zero);
	if (!scratch)
		return KOPT_MLP_NO_MODEL;
	return kopt_mlp_eval(m, f, 1, scratch, logit);
}

struct prediction {
	__u64 seq;
	__s32 logit;
	__s32 threshold; /* the model's own */
	__u32 crc32;
	int status;
};

/*
 * kopt_mlp_predict() of mlp.bpf.h, with the kfunc as an alternative
 * evaluator, the features the model reads built once it is known, and the
 * model's threshold and crc read inside the same sequence-checked window
 * as its weights. An empty slot costs no features.
 */
static __always_inline void predict(__s64 *f, struct task_struct *p,
				    struct lb_env *env, struct prediction *out)
{
	struct kopt_mlp_active *active;
	const struct kopt_mlp *m;
	__u32 zero = 0, slot, try;
	__u64 s2;

	out->status = KOPT_MLP_NO_MODEL;
	active = bpf_map_lookup_elem(&mlp_active, &zero);
	if (!active)
		return;
#pragma nounroll
	for (try = 0; try < KOPT_MLP_READ_TRIES; try++) {
		out->seq = kopt_mlp_load_seq(&active->seq);
		kopt_mlp_rmb();
		slot = kopt_mlp_seq_slot(out->seq);
		m = bpf_map_lookup_elem(&mlp_weights, &slot);
		if (!m || !m->n_in) {
			out->status = KOPT_MLP_NO_MODEL;
			return;
		}
		build_features(f, p, env, m->feature_mask);
		out->status = eval_one(m, f, &out->logit);
		out->threshold = m->threshold;
		out->crc32 = m->crc32;
		kopt_mlp_rmb();
		s2 = kopt_mlp_load_seq(&active->seq);
		if (kopt_mlp_seq_valid(out->seq, s2))
			return;
		out->status = KOPT_MLP_BUSY;
	}
}

/*
 * One lb_samples record: the evaluation, the features it read and CFS's
 * label, so userspace can recompute and score it record by record.
 */
static __always_inline void sample(struct kopt_lb_counters *st,
				   const struct prediction *pr, const __s64 *f,
				   int cfs_decision, int cfs_forced,
				   __s32 threshold, int predicted)
{
	struct kopt_lb_sample *s;
	__u32 i;

	s = bpf_ringbuf_reserve(&lb_samples, sizeof(*s), 0);
	if (!s) {
		stat_inc(st, KOPT_LB_STAT_LOST);
		return;
	}
	s->ts_ns = bpf_ktime_get_ns();
	s->seq = pr->seq;
	s->crc32 = pr->crc32;
	s->logit = pr->logit;
	s->status = pr->status;
	s->threshold = threshold;
	s->via_kfunc = use_kfunc;
	s->cfs_decision = cfs_decision != 0;
	s->cfs_forced = cfs_forced != 0;
	s->predicted = predicted > 0;
	s->reserved = 0;
	/* f is written only when a model was read */
	if (pr->status == KOPT_MLP_OK) {
		for (i = 0; i < KOPT_FEAT_NR; i++)
			s->feat[i] = f[i];
	} else {
		for (i = 0; i < KOPT_FEAT_NR; i++)
			s->feat[i] = 0;
	}
	bpf_ringbuf_submit(s, 0);
}

static __always_inline void count_status(struct kopt_lb_counters *st,
					 int status)
{
	if (status == KOPT_MLP_NO_MODEL)
		stat_inc(st, KOPT_LB_STAT_NO_MODEL);
	else if (status == KOPT_MLP_BUSY)
		stat_inc(st, KOPT_LB_STAT_BUSY);
	else
		stat_inc(st, KOPT_LB_STAT_ERROR);
}

/*
 * The model's answer to "will CFS force this migration?": 1, 0, or -1
 * when there is no answer (no model, no consistent snapshot, error).
 */
static __always_inline int model_says_forced(struct kopt_lb_counters *st,
					     struct task_struct *p,
					     struct lb_env *env,
					     const struct kopt_lb_cfg *cfg,
					     int cfs_decision, int cfs_forced)
{
	struct prediction pr = {};
	__s64 f[KOPT_FEAT_NR];
	__s32 threshold = 0;
	int forced = -1;

	predict(f, p, env, &pr);
	if (pr.status == KOPT_MLP_OK) {
		threshold = cfg->use_threshold ? cfg->threshold : pr.threshold;
		forced = pr.logit >= threshold;
	}
	if (cfg->sample)
		sample(st, &pr, f, cfs_decision, cfs_forced, threshold, forced);
	if (pr.status != KOPT_MLP_OK) {
		count_status(st, pr.status);
		return -1;
	}
	stat_inc(st, KOPT_LB_STAT_EVALS);
	if (use_kfunc)
		stat_inc(st, KOPT_LB_STAT_KFUNC);
	return forced;
}

/*
 * Test modes only: was this task hard-vetoed after all (dst not in its
 * affinity mask, or running)? The patch must never ask us about one.
 */
static __always_inline void check_hard_vetoes(struct kopt_lb_counters *st,
					      struct task_struct *p,
					      struct lb_env *env)
{
	unsigned long word = 0, mask = (unsigned long)p->cpus_ptr;
	int dst = env->dst_cpu & (LB_MAX_CPUS - 1);

	bpf_probe_read_kernel(
		&word, sizeof(word),
		(void *)(mask + (dst / BITS_PER_WORD) * sizeof(word)));
	if (!(word & (1UL << (dst % BITS_PER_WORD))) || p->on_cpu)
		stat_inc(st, KOPT_LB_STAT_HARD_SEEN);
}

static __always_inline int decide(struct kopt_lb_counters *st,
				  struct task_struct *p, struct lb_env *env,
				  int cfs_decision, int cfs_forced,
				  const struct kopt_lb_cfg *cfg)
{
	int forced;

	if (cfg->mode == KOPT_LB_REFUSE || cfg->mode == KOPT_LB_ACCEPT) {
		check_hard_vetoes(st, p, env);
		return cfg->mode == KOPT_LB_ACCEPT;
	}
	forced = model_says_forced(st, p, env, cfg, cfs_decision, cfs_forced);
	if (forced < 0)
		return KOPT_LB_KEEP_CFS;
	if (forced)
		stat_inc(st, KOPT_LB_STAT_PREDICTED);
	if (forced == cfs_forced)
		stat_inc(st, KOPT_LB_STAT_AGREE);
	/* enforce: move now what CFS would move later, after failing */
	if (cfg->mode == KOPT_LB_ENFORCE && forced && !cfs_decision)
		return 1;
	return KOPT_LB_KEEP_CFS;
}

/* Not named p: BPF_CORE_READ_BITFIELD() declares a local p. */
static __always_inline int sched_task_hot(struct task_struct *task)
{
	return BPF_CORE_READ_BITFIELD(task, sched_task_hot);
}

SEC("struct_ops/can_migrate")
int BPF_PROG(kopt_can_migrate, struct task_struct *p, struct lb_env *env,
	     int cfs_decision)
{
	const struct kopt_lb_cfg *cfg = &lb_cfg;
	struct kopt_lb_counters *st;
	__u32 zero = 0;
	int cfs_forced, ret;

	st = bpf_map_lookup_elem(&lb_stats, &zero);
	if (!st)
		return KOPT_LB_KEEP_CFS;
	stat_inc(st, KOPT_LB_STAT_CALLS);
	/* sched_task_hot is set exactly when CFS's migration is forced */
	cfs_forced = cfs_decision && sched_task_hot(p);
	if (cfs_decision)
		stat_inc(st, KOPT_LB_STAT_CFS_MIGRATE);
	if (cfs_forced)
		stat_inc(st, KOPT_LB_STAT_CFS_FORCED);
	ret = decide(st, p, env, cfs_decision, cfs_forced, cfg);
	if (ret >= 0 && ret != !!cfs_decision)
		stat_inc(st, KOPT_LB_STAT_OVERRIDES);
	return ret;
}

SEC(".struct_ops")
struct sched_lb_ops kopt_lb = {
	.can_migrate = (void *)kopt_can_migrate,
	.name = "kopt_lb",
};
