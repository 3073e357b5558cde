// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt model attach | detach: register the learned load-balancing policy
 * (loader/lib/bpf/sched_lb.c owns the skeleton) and pin it, or remove it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <json-c/json.h>

#include "cli.h"
#include "opts.h"
#include "sched_lb.h"

static void print_stats(const char *what, const __u64 *st, const char *mode,
			int kfunc)
{
	int i;

	if (kopt_env.json) {
		struct json_object *o = json_object_new_object();
		struct json_object *so = json_object_new_object();

		json_object_object_add(o, "policy",
				       json_object_new_string(what));
		if (mode)
			json_object_object_add(o, "mode",
					       json_object_new_string(mode));
		if (kfunc >= 0)
			json_object_object_add(
				o, "evaluator",
				json_object_new_string(kfunc ? "kfunc" :
							       "inline"));
		for (i = 0; st && i < KOPT_LB_NR_STATS; i++)
			json_object_object_add(
				so, kopt_lb_stat_names[i],
				json_object_new_int64((int64_t)st[i]));
		json_object_object_add(o, "stats", so);
		printf("%s\n", kopt_json_text(o));
		json_object_put(o);
		return;
	}
	printf("policy:      %s\n", what);
	if (mode)
		printf("mode:        %s\n", mode);
	if (kfunc >= 0)
		printf("evaluator:   %s\n",
		       kfunc ? "bpf_kopt_mlp_eval kfunc" : "inline BPF");
	for (i = 0; st && i < KOPT_LB_NR_STATS; i++)
		printf("%-18s %llu\n", kopt_lb_stat_names[i],
		       (unsigned long long)st[i]);
}

static const struct kopt_opt_choice attach_modes[] = {
	{ "shadow", KOPT_LB_SHADOW },
	{ "enforce", KOPT_LB_ENFORCE },
	{ "refuse", KOPT_LB_REFUSE },
	{ "accept", KOPT_LB_ACCEPT },
	{ NULL },
};

static bool parse_attach(int argc, char **argv, struct kopt_lb_opts *o,
			 int *ret)
{
	long threshold = 0;
	const struct kopt_opts spec = {
		.cmd = "kopt model attach",
		.usage =
			"[--mode MODE] [--threshold LOGIT] [--no-kfunc] [--json]",
		.desc = "Registers kopt's load-balancing policy (sched_lb_ops, "
			"needs\nthe kopt 6.12 kernel patch series) on the live "
			"model, and\nkeeps it registered until `kopt model "
			"detach`. Run again\nwhile attached to change the mode or "
			"threshold only. How it\ndecides: the top of "
			"bpf/sched_lb.bpf.c.",
		.opts = KOPT_OPTS(
			KOPT_OPT_ENUM("mode", 'm', (int *)&o->mode,
				      attach_modes, "MODE",
				      "shadow (default: evaluate and count,\n"
				      "CFS decides), enforce (migrate now what\n"
				      "the model says CFS would force later),\n"
				      "refuse or accept (test modes: a fixed\n"
				      "answer for every soft decision)"),
			KOPT_OPT_LONG(
				"threshold", 't', &threshold, INT32_MIN,
				INT32_MAX, "N",
				"logit threshold for \"forced\" (default:\n"
				"the model's own)",
				.unit = "a logit", .given = &o->use_threshold),
			KOPT_OPT_FLAG("no-kfunc", 0, &o->no_kfunc,
				      "evaluate in BPF even if the kernel has\n"
				      "the bpf_kopt_mlp_eval kfunc"),
			KOPT_OPT_JSON("print the result as JSON")),
	};

	if (!kopt_opts_parse(&spec, argc, argv, ret))
		return false;
	o->threshold = (__s32)threshold;
	return true;
}

/* Already attached: change the configuration in place. */
static int reconfigure(const struct kopt_lb_opts *o)
{
	int fd = bpf_obj_get(kopt_lb_pin_path(KOPT_LB_PIN_CFG));
	__u64 st[KOPT_LB_NR_STATS];
	int sfd, err;

	if (fd < 0) {
		pr_warn("model attach: a policy link is pinned at %s but its "
			"configuration %s is gone (%s): kopt model detach, "
			"then attach again\n",
			kopt_lb_pin_path(KOPT_LB_PIN_LINK),
			kopt_lb_pin_path(KOPT_LB_PIN_CFG), strerror(errno));
		return KOPT_EXIT_FAIL;
	}
	err = kopt_lb_set_cfg(fd, o);
	close(fd);
	if (err) {
		pr_warn("model attach: updating %s failed: %s\n",
			kopt_lb_pin_path(KOPT_LB_PIN_CFG), strerror(-err));
		return KOPT_EXIT_BPF;
	}
	pr_info("policy already attached: mode set to %s\n",
		kopt_lb_mode_names[o->mode]);
	sfd = bpf_obj_get(kopt_lb_pin_path(KOPT_LB_PIN_STATS));
	if (sfd >= 0 && !kopt_lb_read_stats(sfd, st))
		print_stats("attached", st, kopt_lb_mode_names[o->mode], -1);
	if (sfd >= 0)
		close(sfd);
	return KOPT_EXIT_OK;
}

int cmd_model_attach(int argc, char **argv)
{
	struct kopt_lb_opts o = { .mode = KOPT_LB_SHADOW, .pin = true };
	char err[512] = "";
	struct kopt_lb *lb;
	int ret;

	if (!parse_attach(argc, argv, &o, &ret))
		return ret;
	if (!kopt_have_bpf_caps())
		return kopt_need_root("kopt model attach");
	if (!access(kopt_lb_pin_path(KOPT_LB_PIN_LINK), F_OK))
		return reconfigure(&o);
	ret = kopt_lb_open(&lb, &o, err, sizeof(err));
	if (ret) {
		pr_warn("model attach: %s\n", err);
		return ret;
	}
	pr_info("policy kopt_lb registered (mode %s, %s evaluator); pinned at "
		"%s\n",
		kopt_lb_mode_names[o.mode],
		kopt_lb_uses_kfunc(lb) ? "kfunc" : "inline BPF",
		kopt_lb_pin_path(KOPT_LB_PIN_LINK));
	print_stats("attached", NULL, kopt_lb_mode_names[o.mode],
		    kopt_lb_uses_kfunc(lb));
	kopt_lb_close(lb);
	return KOPT_EXIT_OK;
}

int cmd_model_detach(int argc, char **argv)
{
	const struct kopt_opts spec = {
		.cmd = "kopt model detach",
		.usage = "[--json]",
		.desc = "Unregisters the policy `kopt model attach` registered: "
			"CFS\ndecides alone again when this returns. Prints the "
			"policy's\ncounters and removes its pins (the model stays "
			"loaded).",
		.opts = KOPT_OPTS(KOPT_OPT_JSON("print the counters as JSON")),
	};
	__u64 st[KOPT_LB_NR_STATS];
	bool have_stats = false;
	int ret, fd, sfd;

	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	if (!kopt_have_bpf_caps())
		return kopt_need_root("kopt model detach");
	fd = bpf_obj_get(kopt_lb_pin_path(KOPT_LB_PIN_LINK));
	if (fd < 0) {
		pr_info("model detach: no policy attached (nothing pinned at "
			"%s)\n",
			kopt_lb_pin_path(KOPT_LB_PIN_LINK));
		return KOPT_EXIT_OK;
	}
	sfd = bpf_obj_get(kopt_lb_pin_path(KOPT_LB_PIN_STATS));
	if (bpf_link_detach(fd)) {
		pr_warn("model detach: detaching the policy link %s refused "
			"(%s): remove the pin (rm %s) and close any program "
			"holding it\n",
			kopt_lb_pin_path(KOPT_LB_PIN_LINK), strerror(errno),
			kopt_lb_pin_path(KOPT_LB_PIN_LINK));
		close(fd);
		if (sfd >= 0)
			close(sfd);
		return KOPT_EXIT_BPF;
	}
	close(fd);
	if (sfd >= 0) {
		have_stats = !kopt_lb_read_stats(sfd, st);
		close(sfd);
	}
	kopt_lb_unpin_all();
	pr_info("policy unregistered: CFS decides alone again\n");
	print_stats("detached", have_stats ? st : NULL, NULL, -1);
	return KOPT_EXIT_OK;
}
