/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * BPF side of the live model: the two-slot weights map, the active
 * sequence count and a per-CPU scratch, plus kopt_mlp_predict(), the one
 * reader every BPF program uses (see include/kopt/mlp_map.h for the swap
 * protocol). Each object that includes this gets its own map definitions;
 * the loader points the weights and active maps of all of them at the
 * same pinned maps under /sys/fs/bpf/kopt/.
 *
 * Include after vmlinux.h and bpf_helpers.h.
 */
#ifndef KOPT_BPF_MLP_BPF_H
#define KOPT_BPF_MLP_BPF_H

#include "kopt/mlp_map.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KOPT_MLP_SLOTS);
	__type(key, __u32);
	__type(value, struct kopt_mlp);
} mlp_weights SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct kopt_mlp_active);
} mlp_active SEC(".maps");

/* Not shared: a program never nests with itself on one CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kopt_mlp_scratch);
} mlp_scratch SEC(".maps");

/* What one prediction saw. */
struct kopt_mlp_pred {
	__u64 seq; /* seq of the model used (or last tried) */
	__u64 feature_mask; /* the model's inputs (KOPT_FEAT_BIT) */
	__s32 logit;
	int positive; /* logit >= the model's threshold */
};

/*
 * Evaluates the live model on src (by input position, or by feature id if
 * by_feature: see kopt_mlp_load_inputs) into *pred. Returns enum
 * kopt_mlp_status; pred->logit, positive and feature_mask are meaningful
 * only on KOPT_MLP_OK.
 */
static __always_inline int kopt_mlp_predict(const __s64 *src, int by_feature,
					    struct kopt_mlp_pred *pred)
{
	struct kopt_mlp_scratch *scratch;
	struct kopt_mlp_active *active;
	struct kopt_mlp *m;
	__u32 zero = 0, slot, try;
	int status = KOPT_MLP_BUSY;
	__u64 s2;

	active = bpf_map_lookup_elem(&mlp_active, &zero);
	scratch = bpf_map_lookup_elem(&mlp_scratch, &zero);
	if (!active || !scratch)
		return KOPT_MLP_NO_MODEL;
		/* not unrolled: each try is a whole evaluator for the verifier */
#pragma nounroll
	for (try = 0; try < KOPT_MLP_READ_TRIES; try++) {
		pred->seq = kopt_mlp_load_seq(&active->seq);
		kopt_mlp_rmb();
		slot = kopt_mlp_seq_slot(pred->seq);
		m = bpf_map_lookup_elem(&mlp_weights, &slot);
		if (!m)
			return KOPT_MLP_NO_MODEL;
		status = kopt_mlp_eval(m, src, by_feature, scratch,
				       &pred->logit);
		if (status == KOPT_MLP_OK) {
			pred->positive = kopt_mlp_positive(m, pred->logit);
			pred->feature_mask = m->feature_mask;
		}
		kopt_mlp_rmb();
		s2 = kopt_mlp_load_seq(&active->seq);
		if (kopt_mlp_seq_valid(pred->seq, s2))
			return status;
	}
	return KOPT_MLP_BUSY;
}

#endif /* KOPT_BPF_MLP_BPF_H */
