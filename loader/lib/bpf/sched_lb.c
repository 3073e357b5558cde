// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt model attach|detach: register the sched_lb_ops load-balancing
 * policy of bpf/sched_lb.bpf.c with a kernel that has the kopt patch
 * series (kernel-patches/), or unregister it.
 *
 * attach loads the policy, points it at the live model's pinned maps
 * (kopt_mlp_live_open() of loader/lib/bpf/mlp.c: /sys/fs/bpf/kopt/mlp_weights and
 * mlp_active, created empty, and bpffs mounted and recorded, if no model
 * was loaded yet), writes its mode into lb_cfg, registers it through a
 * struct_ops link and pins the link next to the model, so the policy stays
 * registered after kopt exits. Run again while attached, it only changes
 * the mode. detach detaches the pinned link (CFS decides alone again when
 * it returns), prints the policy's counters and removes its own pins; the
 * model, and the bpffs mount, stay until `kopt model unload`.
 *
 * Why a link and not a map update: a link dies with its last reference,
 * so a kopt that crashes between loading and pinning leaves nothing
 * registered; libbpf 1.1 predates struct_ops links (.struct_ops.link), so
 * the link is created here with bpf_link_create().
 *
 * Cost: one BPF load (~1 s: the unrolled evaluator is verified once).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "kopt.h"
#include "kopt/mlp_map.h"
#include "mlp.h"
#include "sched_lb.h"
#include "sched_lb.skel.h"

/*
 * Linux 6.4+ uapi values that Debian 12's 6.1 headers lack: the
 * BPF_STRUCT_OPS attach type and the BPF_F_LINK map flag.
 */
#define KOPT_BPF_STRUCT_OPS 44
#define KOPT_BPF_F_LINK (1U << 13)
#define MAX_NODES 64

const char *const kopt_lb_stat_names[KOPT_LB_NR_STATS] = {
	[KOPT_LB_STAT_CALLS] = "calls",
	[KOPT_LB_STAT_CFS_MIGRATE] = "cfs_migrate",
	[KOPT_LB_STAT_CFS_FORCED] = "cfs_forced",
	[KOPT_LB_STAT_EVALS] = "evaluations",
	[KOPT_LB_STAT_KFUNC] = "kfunc_evaluations",
	[KOPT_LB_STAT_PREDICTED] = "predicted_forced",
	[KOPT_LB_STAT_AGREE] = "agree_with_cfs",
	[KOPT_LB_STAT_OVERRIDES] = "overrides",
	[KOPT_LB_STAT_NO_MODEL] = "no_model",
	[KOPT_LB_STAT_BUSY] = "busy",
	[KOPT_LB_STAT_ERROR] = "errors",
	[KOPT_LB_STAT_HARD_SEEN] = "hard_veto_seen",
	[KOPT_LB_STAT_LOST] = "samples_lost",
};

const char *const kopt_lb_mode_names[KOPT_LB_NR_MODES] = {
	[KOPT_LB_SHADOW] = "shadow",
	[KOPT_LB_ENFORCE] = "enforce",
	[KOPT_LB_REFUSE] = "refuse",
	[KOPT_LB_ACCEPT] = "accept",
};

struct kopt_lb {
	struct sched_lb_bpf *skel;
	int link_fd;
	bool kfunc;
	bool pinned;
};

/* ---- what the kernel has --------------------------------------------- */

void kopt_lb_probe(struct kopt_lb_support *s)
{
	struct btf *btf = btf__load_vmlinux_btf();

	memset(s, 0, sizeof(*s));
	if (libbpf_get_error(btf)) {
		snprintf(s->why, sizeof(s->why),
			 "no kernel BTF (/sys/kernel/btf/vmlinux): the kopt "
			 "patch needs CONFIG_DEBUG_INFO_BTF");
		return;
	}
	s->struct_ops = btf__find_by_name_kind(btf,
					       "bpf_struct_ops_sched_lb_ops",
					       BTF_KIND_STRUCT) > 0;
	s->tracepoint =
		btf__find_by_name_kind(btf, "btf_trace_sched_can_migrate_task",
				       BTF_KIND_TYPEDEF) > 0;
	s->kfunc = btf__find_by_name_kind(btf, "bpf_kopt_mlp_eval",
					  BTF_KIND_FUNC) > 0;
	btf__free(btf);
	if (!s->struct_ops)
		snprintf(s->why, sizeof(s->why),
			 "the running kernel lacks the kopt patch series (no "
			 "struct sched_lb_ops in its BTF): boot the kopt 6.12 "
			 "kernel (make vmkernel, kernel-patches/README.md)");
}

/* pin dir + name */
const char *kopt_lb_pin_path(const char *name)
{
	static __thread char buf[4][512];
	static __thread int next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", kopt_pin_dir(), name);
	return p;
}

/* ---- loading -------------------------------------------------------------- */

static void fill_cpu_nodes(volatile __u8 *nodes, int nr_cpus)
{
	char path[96];
	int cpu, node;

	for (cpu = 0; cpu < nr_cpus; cpu++) {
		nodes[cpu] = 0;
		for (node = 0; node < MAX_NODES; node++) {
			snprintf(path, sizeof(path),
				 "/sys/devices/system/cpu/cpu%d/node%d", cpu,
				 node);
			if (!access(path, F_OK)) {
				nodes[cpu] = node;
				break;
			}
		}
	}
}

/* The live model's pinned maps, created empty if no model is loaded. */
static int reuse_model_maps(struct kopt_lb *lb, char *err, size_t errlen)
{
	struct kopt_mlp_live lv;
	char warn[256] = "";
	int e;

	e = kopt_mlp_live_open(&lv, true, false, warn, err, errlen);
	if (e)
		return e;
	if (warn[0])
		pr_warn("model attach: %s\n", warn);
	e = bpf_map__reuse_fd(lb->skel->maps.mlp_weights, lv.weights_fd);
	e = e ?: bpf_map__reuse_fd(lb->skel->maps.mlp_active, lv.active_fd);
	if (e)
		snprintf(err, errlen,
			 "the live model's maps in %s cannot be reused (%s): "
			 "made by another kopt version? kopt model unload, "
			 "then load the model again",
			 kopt_pin_dir(), strerror(-e));
	kopt_mlp_live_close(&lv);
	return e;
}

static int pin_map(struct bpf_map *map, const char *path, char *err,
		   size_t errlen)
{
	int e = bpf_map__pin(map, path);

	if (e)
		snprintf(err, errlen, "pinning %s failed: %s", path,
			 strerror(-e));
	return e;
}

static int pin_all(struct kopt_lb *lb, char *err, size_t errlen)
{
	struct sched_lb_bpf *s = lb->skel;

	if (bpf_obj_pin(lb->link_fd, kopt_lb_pin_path(KOPT_LB_PIN_LINK))) {
		snprintf(err, errlen,
			 "pinning the policy link at %s failed: %s",
			 kopt_lb_pin_path(KOPT_LB_PIN_LINK), strerror(errno));
		return -errno;
	}
	if (pin_map(s->maps.data_lb_cfg, kopt_lb_pin_path(KOPT_LB_PIN_CFG), err,
		    errlen) ||
	    pin_map(s->maps.lb_stats, kopt_lb_pin_path(KOPT_LB_PIN_STATS), err,
		    errlen))
		return -EIO;
	return 0;
}

void kopt_lb_unpin_all(void)
{
	unlink(kopt_lb_pin_path(KOPT_LB_PIN_LINK));
	unlink(kopt_lb_pin_path(KOPT_LB_PIN_CFG));
	unlink(kopt_lb_pin_path(KOPT_LB_PIN_STATS));
}

/*
 * libbpf 1.1 fills the struct_ops value (program fds) and writes it with
 * its own "attach"; with BPF_F_LINK that only marks the map ready. The
 * real registration is the link created here.
 */
static int register_link(struct kopt_lb *lb, char *err, size_t errlen)
{
	struct bpf_link *ready;

	ready = bpf_map__attach_struct_ops(lb->skel->maps.kopt_lb);
	if (!ready) {
		snprintf(err, errlen,
			 "writing the sched_lb_ops struct_ops map failed (%s)",
			 strerror(errno));
		return -errno;
	}
	bpf_link__disconnect(ready); /* its detach would delete the value */
	bpf_link__destroy(ready);
	lb->link_fd = bpf_link_create(bpf_map__fd(lb->skel->maps.kopt_lb), 0,
				      KOPT_BPF_STRUCT_OPS, NULL);
	if (lb->link_fd < 0) {
		int e = errno;

		snprintf(err, errlen,
			 "registering the sched_lb_ops policy refused (%s)%s",
			 strerror(e),
			 e == EBUSY ? ": another policy is registered "
				      "(kopt model detach, or bpftool "
				      "struct_ops list)" :
				      "");
		return -e;
	}
	return 0;
}

static int load(struct kopt_lb *lb, const struct kopt_lb_opts *o, char *err,
		size_t errlen)
{
	struct sched_lb_bpf *s;
	int e, nr_cpus = libbpf_num_possible_cpus();

	lb->skel = s = sched_lb_bpf__open();
	if (!s) {
		snprintf(err, errlen,
			 "opening the sched_lb BPF object failed "
			 "(%s)",
			 strerror(errno));
		return -errno;
	}
	s->rodata->use_kfunc = lb->kfunc;
	if (nr_cpus > (int)sizeof(s->rodata->cpu_node))
		nr_cpus = sizeof(s->rodata->cpu_node);
	fill_cpu_nodes(s->rodata->cpu_node, nr_cpus);
	if (o->pin && reuse_model_maps(lb, err, errlen))
		return -EINVAL;
	e = bpf_map__set_map_flags(s->maps.kopt_lb,
				   bpf_map__map_flags(s->maps.kopt_lb) |
					   KOPT_BPF_F_LINK);
	e = e ?: sched_lb_bpf__load(s);
	if (e) {
		snprintf(err, errlen,
			 "loading the sched_lb_ops policy refused (%s): run "
			 "with -v for libbpf's and the verifier's log",
			 strerror(-e));
		return e;
	}
	return 0;
}

int kopt_lb_set_cfg(int cfg_fd, const struct kopt_lb_opts *o)
{
	struct kopt_lb_cfg cfg = {
		.mode = o->mode,
		.use_threshold = o->use_threshold,
		.threshold = o->threshold,
		.sample = o->sample,
	};
	__u32 zero = 0;

	return bpf_map_update_elem(cfg_fd, &zero, &cfg, BPF_ANY) ? -errno : 0;
}

int kopt_lb_open(struct kopt_lb **out, const struct kopt_lb_opts *o, char *err,
		 size_t errlen)
{
	struct kopt_lb_support sup;
	struct kopt_lb *lb;
	int ret = KOPT_EXIT_BPF;

	*out = NULL;
	kopt_lb_probe(&sup);
	if (!sup.struct_ops) {
		snprintf(err, errlen, "%s", sup.why);
		return KOPT_EXIT_BPF;
	}
	lb = calloc(1, sizeof(*lb));
	if (!lb) {
		snprintf(err, errlen, "out of memory");
		return KOPT_EXIT_FAIL;
	}
	lb->link_fd = -1;
	lb->kfunc = sup.kfunc && !o->no_kfunc;
	if (load(lb, o, err, errlen))
		goto fail;
	if (kopt_lb_set_cfg(bpf_map__fd(lb->skel->maps.data_lb_cfg), o)) {
		snprintf(err, errlen, "writing lb_cfg failed: %s",
			 strerror(errno));
		goto fail;
	}
	if (register_link(lb, err, errlen))
		goto fail;
	if (o->pin) {
		if (pin_all(lb, err, errlen)) {
			ret = KOPT_EXIT_FAIL;
			goto fail;
		}
		lb->pinned = true;
	}
	*out = lb;
	return KOPT_EXIT_OK;
fail:
	if (o->pin)
		kopt_lb_unpin_all();
	kopt_lb_close(lb);
	return ret;
}

void kopt_lb_close(struct kopt_lb *lb)
{
	if (!lb)
		return;
	if (lb->link_fd >= 0) {
		if (!lb->pinned)
			bpf_link_detach(lb->link_fd);
		close(lb->link_fd);
	}
	sched_lb_bpf__destroy(lb->skel);
	free(lb);
}

bool kopt_lb_uses_kfunc(const struct kopt_lb *lb)
{
	return lb->kfunc;
}

int kopt_lb_cfg_fd(const struct kopt_lb *lb)
{
	return bpf_map__fd(lb->skel->maps.data_lb_cfg);
}

int kopt_lb_stats_fd(const struct kopt_lb *lb)
{
	return bpf_map__fd(lb->skel->maps.lb_stats);
}

int kopt_lb_samples_fd(const struct kopt_lb *lb)
{
	return bpf_map__fd(lb->skel->maps.lb_samples);
}

int kopt_lb_weights_fd(const struct kopt_lb *lb)
{
	return bpf_map__fd(lb->skel->maps.mlp_weights);
}

int kopt_lb_active_fd(const struct kopt_lb *lb)
{
	return bpf_map__fd(lb->skel->maps.mlp_active);
}

int kopt_lb_prog_fd(const struct kopt_lb *lb)
{
	return bpf_program__fd(lb->skel->progs.kopt_can_migrate);
}

int kopt_lb_read_stats(int stats_fd, __u64 out[KOPT_LB_NR_STATS])
{
	int nr_cpus = libbpf_num_possible_cpus(), cpu, k, err = 0;
	struct kopt_lb_counters *vals;
	__u32 zero = 0;

	memset(out, 0, KOPT_LB_NR_STATS * sizeof(*out));
	if (nr_cpus <= 0)
		return -EINVAL;
	vals = calloc(nr_cpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(stats_fd, &zero, vals))
		err = -errno;
	for (cpu = 0; !err && cpu < nr_cpus; cpu++)
		for (k = 0; k < KOPT_LB_NR_STATS; k++)
			out[k] += vals[cpu].n[k];
	free(vals);
	return err;
}
