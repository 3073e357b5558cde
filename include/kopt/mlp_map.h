/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Where the live model lives, and how it is swapped without a reader ever
 * using a half-written one.
 *
 * Maps (pinned under /sys/fs/bpf/kopt/, BTF-described, so `bpftool map
 * dump pinned /sys/fs/bpf/kopt/mlp_weights` prints struct kopt_mlp):
 *   mlp_weights  ARRAY, 2 entries: the two model slots (struct kopt_mlp)
 *   mlp_active   ARRAY, 1 entry, BPF_F_MMAPABLE: struct kopt_mlp_active
 *
 * The active index is bit 1 of a sequence count: slot = (seq >> 1) & 1,
 * and the flip is the one store that moves seq to the next even value.
 * The protocol (like the kernel's seqcount_latch) was chosen over waiting
 * for an RCU grace period before reusing a slot because userspace has no
 * cheap synchronize_rcu(): membarrier(MEMBARRIER_CMD_GLOBAL) and a
 * map-in-map update both call it, ~10 ms each here (10K swaps would take
 * 100 s), and membarrier skips it altogether on a single CPU.
 *
 *   seq even 2k: model k is active, in slot k & 1; nobody writes.
 *   seq odd 2k+1: model k is still active in slot k & 1; a writer is
 *     filling the standby slot (k + 1) & 1.
 *
 * Writer (loader/lib/bpf/mlp.c, serialized by a lock on the pin directory):
 *   1. store seq = 2k+1 (one aligned 8-byte atomic store through the
 *      mmap of mlp_active), full fence;
 *   2. bpf_map_update_elem(mlp_weights, standby, model): readers of
 *      seq 2k/2k+1 never read that slot;
 *   3. full fence, store seq = 2k+2: the flip, one atomic store.
 * Reader (BPF, kernel, userspace): load seq once (s1), use slot
 * kopt_mlp_seq_slot(s1) for the whole inference, then load seq again
 * (s2). The slot it used is rewritten only after a writer stores
 * (s1 & ~1) + 3, so the inference is valid iff s2 - (s1 & ~1) <= 2
 * (kopt_mlp_seq_valid); otherwise the reader retries, a bounded number of
 * times, and then reports KOPT_MLP_BUSY (callers fall back to the kernel's
 * own decision). A swap therefore costs readers nothing but one more load,
 * and a reader preempted for any length of time cannot use a torn model.
 *
 * Memory ordering: seq is only written by single aligned 8-byte stores,
 * so no reader sees a torn count. The reader needs its slot loads ordered
 * between the two seq loads: kopt_mlp_rmb() is smp_rmb() in the kernel, an
 * acquire fence in userspace; in BPF on x86 (TSO: loads are not reordered
 * with loads) a compiler barrier suffices, elsewhere a fetch-and-add of 0,
 * which BPF defines as fully ordered.
 */
#ifndef KOPT_MLP_MAP_H
#define KOPT_MLP_MAP_H

#include "mlp_fixed.h"

#define KOPT_MLP_SLOTS 2
#define KOPT_MLP_READ_TRIES 2 /* seq retries before KOPT_MLP_BUSY */

/* The value of mlp_active[0]. */
struct kopt_mlp_active {
	__u64 seq; /* see above; generation (completed swaps) = seq >> 1 */
};

#if defined(__KERNEL__)
#define kopt_mlp_rmb() smp_rmb()
#define kopt_mlp_load_seq(p) READ_ONCE(*(p))
#elif defined(__bpf__)
#if defined(__TARGET_ARCH_x86)
#define kopt_mlp_rmb() asm volatile("" ::: "memory")
#define kopt_mlp_load_seq(p) (*(volatile const __u64 *)(p))
#else
#define kopt_mlp_rmb()
#define kopt_mlp_load_seq(p) __sync_fetch_and_add((__u64 *)(p), 0)
#endif
#else
#define kopt_mlp_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define kopt_mlp_load_seq(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#endif

/* The slot a reader that loaded seq uses. */
static inline __u32 kopt_mlp_seq_slot(__u64 seq)
{
	return (__u32)(seq >> 1) & 1;
}

/* The slot a writer fills next, given the current seq. */
static inline __u32 kopt_mlp_seq_standby(__u64 seq)
{
	return kopt_mlp_seq_slot(seq) ^ 1;
}

/* True if nobody rewrote the slot of s1 before the reader loaded s2. */
static inline int kopt_mlp_seq_valid(__u64 s1, __u64 s2)
{
	return s2 - (s1 & ~1ULL) <= 2;
}

/*
 * Per-CPU statistics of the shadow predictor (mlp_shadow_stats), indexed
 * by this enum; userspace sums the CPUs.
 */
enum kopt_mlp_stat {
	KOPT_MLP_STAT_INFERENCES, /* evaluations that produced a logit */
	KOPT_MLP_STAT_POSITIVES, /* of which logit >= threshold */
	KOPT_MLP_STAT_NO_MODEL, /* events with no model loaded */
	KOPT_MLP_STAT_BUSY, /* events that found no consistent snapshot */
	KOPT_MLP_STAT_MISSING, /* inferences fed a feature not known here */
	KOPT_MLP_STAT_NR,
};

/*
 * The features the shadow predictor (bpf/mlp_shadow.bpf.c) computes at
 * sched_migrate_task; the others exist only inside can_migrate_task()
 * (load-balancing environment) and are fed to the model as 0 there.
 * _TASK: its fallback program's, without per-CPU symbols.
 */
#define KOPT_MLP_SHADOW_FEATURES                                               \
	(KOPT_FEAT_BIT(KOPT_FEAT_PID) | KOPT_FEAT_BIT(KOPT_FEAT_LOAD_AVG) |    \
	 KOPT_FEAT_BIT(KOPT_FEAT_UTIL_AVG) |                                   \
	 KOPT_FEAT_BIT(KOPT_FEAT_VRUNTIME) |                                   \
	 KOPT_FEAT_BIT(KOPT_FEAT_NR_MIGRATIONS) |                              \
	 KOPT_FEAT_BIT(KOPT_FEAT_EXEC_START) |                                 \
	 KOPT_FEAT_BIT(KOPT_FEAT_DELTA_NS) |                                   \
	 KOPT_FEAT_BIT(KOPT_FEAT_SRC_NR_RUNNING) |                             \
	 KOPT_FEAT_BIT(KOPT_FEAT_DST_NR_RUNNING) |                             \
	 KOPT_FEAT_BIT(KOPT_FEAT_SRC_LOAD_AVG) |                               \
	 KOPT_FEAT_BIT(KOPT_FEAT_DST_LOAD_AVG) |                               \
	 KOPT_FEAT_BIT(KOPT_FEAT_SRC_UTIL_AVG) |                               \
	 KOPT_FEAT_BIT(KOPT_FEAT_DST_UTIL_AVG) |                               \
	 KOPT_FEAT_BIT(KOPT_FEAT_SRC_CPU) | KOPT_FEAT_BIT(KOPT_FEAT_DST_CPU) | \
	 KOPT_FEAT_BIT(KOPT_FEAT_TASK_RUNNING))
/* Without per-CPU symbols the destination runqueue is out of reach. */
#define KOPT_MLP_SHADOW_FEATURES_TASK                \
	(KOPT_MLP_SHADOW_FEATURES &                  \
	 ~(KOPT_FEAT_BIT(KOPT_FEAT_DST_NR_RUNNING) | \
	   KOPT_FEAT_BIT(KOPT_FEAT_DST_LOAD_AVG) |   \
	   KOPT_FEAT_BIT(KOPT_FEAT_DST_UTIL_AVG)))

/*
 * BPF_PROG_TEST_RUN interface of bpf/mlp.bpf.c (kopt model verify, kopt
 * bench mlp, tests). mlp_eval (XDP) takes one of these as the packet and
 * writes the result fields; mlp_batch (syscall) evaluates entries
 * [first, first + count) of the mlp_batch_in map into mlp_batch_out.
 */
struct kopt_mlp_pkt {
	__s64 in[KOPT_MLP_MAX_IN]; /* raw inputs, by position */
	__u64 seq; /* out: seq of the model used */
	__s32 logit; /* out */
	__s32 status; /* out: enum kopt_mlp_status */
};

#define KOPT_MLP_BATCH 4096

struct kopt_mlp_batch_in {
	__s64 in[KOPT_MLP_MAX_IN];
};

struct kopt_mlp_batch_out {
	__s32 logit;
	__s32 status;
};

struct kopt_mlp_batch_ctx {
	__u32 first;
	__u32 count;
};

#endif /* KOPT_MLP_MAP_H */
