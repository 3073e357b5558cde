// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt model attach | detach: register the learned load-balancing policy
 * (loader/lib/bpf/sched_lb.c owns the skeleton) and pin it, or remove it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <json-c/json.h>

#include "cli.h"
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
		printf("%s\n", json_object_to_json_string_ext(
				       o, JSON_C_TO_STRING_PRETTY));
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

static void attach_usage(FILE *f)
{
	fprintf(f,
		"Usage: kopt model attach [--mode MODE] [--threshold LOGIT] "
		"[--no-kfunc] [--json]\n"
		"\n"
		"Registers kopt's load-balancing policy (sched_lb_ops, needs\n"
		"the kopt 6.12 kernel patch series) on the live model, and\n"
		"keeps it registered until `kopt model detach`. Run again\n"
		"while attached to change the mode or threshold only. How it\n"
		"decides: the top of bpf/sched_lb.bpf.c.\n"
		"\n"
		"  -m, --mode MODE      shadow (default: evaluate and count,\n"
		"                       CFS decides), enforce (migrate now what\n"
		"                       the model says CFS would force later),\n"
		"                       refuse or accept (test modes: a fixed\n"
		"                       answer for every soft decision)\n"
		"  -t, --threshold N    logit threshold for \"forced\" (default:\n"
		"                       the model's own)\n"
		"      --no-kfunc       evaluate in BPF even if the kernel has\n"
		"                       the bpf_kopt_mlp_eval kfunc\n"
		"  -j, --json           print the result as JSON\n"
		"  -h, --help           this help\n");
}

static int parse_attach(int argc, char **argv, struct kopt_lb_opts *o)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "threshold", required_argument, NULL, 't' },
		{ "no-kfunc", no_argument, NULL, 'K' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "m:t:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			if (kopt_lb_parse_mode(optarg, &o->mode)) {
				pr_warn("model attach: --mode '%s': expected "
					"shadow, enforce, refuse or accept\n",
					optarg);
				return KOPT_EXIT_USAGE;
			}
			break;
		case 't':
			if (kopt_lb_parse_threshold("model attach", optarg,
						    &o->threshold))
				return KOPT_EXIT_USAGE;
			o->use_threshold = true;
			break;
		case 'K':
			o->no_kfunc = true;
			break;
		case 'j':
			kopt_env.json = true;
			break;
		case 'h':
			attach_usage(stdout);
			return -1;
		default:
			attach_usage(stderr);
			return KOPT_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		pr_warn("model attach: unexpected argument '%s'\n",
			argv[optind]);
		return KOPT_EXIT_USAGE;
	}
	return 0;
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

	ret = parse_attach(argc, argv, &o);
	if (ret)
		return ret < 0 ? KOPT_EXIT_OK : ret;
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

static void detach_usage(FILE *f)
{
	fprintf(f,
		"Usage: kopt model detach [--json]\n"
		"\n"
		"Unregisters the policy `kopt model attach` registered: CFS\n"
		"decides alone again when this returns. Prints the policy's\n"
		"counters and removes its pins (the model stays loaded).\n"
		"\n"
		"  -j, --json   print the counters as JSON\n"
		"  -h, --help   this help\n");
}

int cmd_model_detach(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL },
	};
	__u64 st[KOPT_LB_NR_STATS];
	int opt, fd, sfd;
	bool have_stats = false;

	while ((opt = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			kopt_env.json = true;
			break;
		case 'h':
			detach_usage(stdout);
			return KOPT_EXIT_OK;
		default:
			detach_usage(stderr);
			return KOPT_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		pr_warn("model detach: unexpected argument '%s'\n",
			argv[optind]);
		return KOPT_EXIT_USAGE;
	}
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
