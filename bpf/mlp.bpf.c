// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fixed-point MLP evaluator (include/kopt/mlp_fixed.h) as programs
 * that BPF_PROG_TEST_RUN can drive, so userspace can check the BPF build
 * of the evaluator against its own and time it:
 *
 *   mlp_eval   XDP: the packet is a struct kopt_mlp_pkt; evaluates the
 *              live model (two slots + sequence count, mlp_map.h) on its
 *              inputs and writes logit, status and seq back. XDP because
 *              its test run takes a repeat count and reports ns per run:
 *              `kopt bench mlp` and the hot-swap test use it.
 *   mlp_empty  XDP: returns at once; the baseline of the same test-run
 *              loop, measured in the same run as mlp_eval.
 *   mlp_batch  syscall: evaluates up to KOPT_MLP_BATCH inputs of the
 *              mlp_batch_in map into mlp_batch_out with bpf_loop, so that
 *              `kopt model verify` checks 100k inputs in a few dozen
 *              test runs instead of 100k syscalls.
 *
 * Nothing here attaches to anything: these programs run only when
 * userspace test-runs them. Cost: ~10k instructions per copy of the
 * unrolled evaluator (verified in well under a second); an inference
 * costs what `kopt bench mlp` prints.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "mlp.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KOPT_MLP_BATCH);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct kopt_mlp_batch_in);
} mlp_batch_in SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KOPT_MLP_BATCH);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct kopt_mlp_batch_out);
} mlp_batch_out SEC(".maps");

SEC("xdp")
int mlp_empty(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int mlp_eval(struct xdp_md *ctx)
{
	struct kopt_mlp_pkt *pkt = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct kopt_mlp_pred pred = {};

	if ((void *)(pkt + 1) > end)
		return XDP_ABORTED;
	pkt->status = kopt_mlp_predict(pkt->in, 0, &pred);
	pkt->logit = pred.logit;
	pkt->seq = pred.seq;
	return XDP_PASS;
}

static int batch_one(__u32 i, struct kopt_mlp_batch_ctx *ctx)
{
	struct kopt_mlp_batch_out *out;
	struct kopt_mlp_batch_in *in;
	struct kopt_mlp_pred pred = {};
	__u32 key = ctx->first + i;

	in = bpf_map_lookup_elem(&mlp_batch_in, &key);
	out = bpf_map_lookup_elem(&mlp_batch_out, &key);
	if (!in || !out)
		return 1; /* past the end of the batch maps: stop */
	out->status = kopt_mlp_predict(in->in, 0, &pred);
	out->logit = pred.logit;
	return 0;
}

SEC("syscall")
int mlp_batch(struct kopt_mlp_batch_ctx *ctx)
{
	struct kopt_mlp_batch_ctx args = *ctx;

	if (args.count > KOPT_MLP_BATCH)
		return -1;
	return bpf_loop(args.count, batch_one, &args, 0);
}
