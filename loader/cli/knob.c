// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt knob: look at and turn one actuator by hand, and kopt restore.
 *
 *   kopt knob list [IFNAME...]             what can be turned here, and why not
 *   kopt knob get KIND TARGET KNOB
 *   kopt knob set KIND TARGET KNOB VALUE [--hold S]
 *   kopt restore                           undo every journaled change
 *
 * `knob set` holds the new value until Ctrl-C/SIGTERM (or --hold S
 * seconds) and then restores the original: like every change kopt makes,
 * it does not outlive the process; a SIGKILLed one is undone by the next
 * kopt start or `kopt restore`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "actuator.h"
#include "cli.h"
#include "opts.h"
#include "state.h"

static const char *const knob_names[ACT_NR][3] = {
	[ACT_NIC_COALESCE] = { "rx-usecs", "tx-usecs", NULL },
	[ACT_SW_COALESCE] = { "gro-flush-usecs", "napi-defer-hard-irqs", NULL },
	[ACT_CPUFREQ] = { "freq-khz", NULL, NULL },
};

#define KNOB_KINDS                                                      \
	"KIND TARGET KNOB:\n"                                           \
	"  nic-coalesce IFNAME rx-usecs|tx-usecs   (ethtool netlink)\n" \
	"  sw-coalesce  IFNAME gro-flush-usecs|napi-defer-hard-irqs\n"  \
	"  cpufreq      CPULIST freq-khz           (libcpupower)"

/* The help's text on the journal (without creating its folder). */
static void journal_text(char *buf, size_t len)
{
	snprintf(buf, len,
		 "`set` journals the original value (%s/state.json), sets,\n"
		 "reads back, holds until Ctrl-C/SIGTERM or --hold S seconds,\n"
		 "then restores. `kopt restore` undoes what a killed kopt "
		 "left.",
		 state_dir());
}

/* Changing or reading a knob needs privilege; its usage does not. */
static int knob_need_root(void)
{
	if (!kopt_have_bpf_caps() && geteuid() != 0)
		return kopt_need_root("kopt knob");
	return 0;
}

static struct json_object *list_one(enum act_kind k, const char *target,
				    const char *knob)
{
	struct json_object *o = json_object_new_object();
	struct actuator a;
	long v = 0;
	int err = act_probe(&a, k, target, knob);

	if (!err)
		err = act_get(&a, &v);
	json_object_object_add(o, "kind",
			       json_object_new_string(act_kind_name(k)));
	json_object_object_add(o, "target", json_object_new_string(target));
	json_object_object_add(o, "knob", json_object_new_string(knob));
	json_object_object_add(o, "ok", json_object_new_boolean(!err));
	if (err) {
		json_object_object_add(o, "detail",
				       json_object_new_string(a.why));
	} else {
		json_object_object_add(o, "value", json_object_new_int64(v));
		json_object_object_add(o, "min", json_object_new_int64(a.min));
		json_object_object_add(o, "max", json_object_new_int64(a.max));
		if (a.skip_why[0]) {
			/* values the driver reads as modes, not delays */
			json_object_object_add(
				o, "skip_min",
				json_object_new_int64(a.skip_lo));
			json_object_object_add(
				o, "skip_max",
				json_object_new_int64(a.skip_hi));
			json_object_object_add(
				o, "skip_why",
				json_object_new_string(a.skip_why));
		}
	}
	if (!kopt_env.json && !err && a.skip_why[0])
		printf("%-13s %-10s %-21s %ld (%s: %ld..%ld are not delays: "
		       "%s)\n",
		       act_kind_name(k), target, knob, v, a.driver, a.skip_lo,
		       a.skip_hi, a.skip_why);
	else if (!kopt_env.json)
		printf("%-13s %-10s %-21s %s\n", act_kind_name(k), target, knob,
		       err ? a.why :
			     json_object_get_string(
				     json_object_object_get(o, "value")));
	return o;
}

static int knob_list(int argc, char **argv)
{
	char **names = NULL;
	const struct kopt_opts spec = {
		.cmd = "kopt knob list",
		.usage = "[--json] [IFNAME...]",
		.desc = "What can be turned here, and why not: the knobs of every "
			"interface but lo\n(or of the IFNAMEs) and the CPUs' "
			"frequency.\n\n" KNOB_KINDS,
		.opts = KOPT_OPTS(KOPT_OPT_JSON("one array of every knob")),
		.args = KOPT_ARGS(KOPT_ARG_REST("IFNAME", &names)),
	};
	struct json_object *arr;
	struct if_nameindex *ifs = NULL, *i;
	char cpus[32];
	int k, n, ret;

	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	ret = knob_need_root();
	if (ret)
		return ret;
	arr = json_object_new_array();
	if (!kopt_env.json)
		printf("%-13s %-10s %-21s %s\n", "KIND", "TARGET", "KNOB",
		       "VALUE or why not available");
	if (names) {
		for (; *names; names++)
			for (k = ACT_NIC_COALESCE; k <= ACT_SW_COALESCE; k++)
				for (n = 0; knob_names[k][n]; n++)
					json_object_array_add(
						arr,
						list_one(k, *names,
							 knob_names[k][n]));
	} else {
		ifs = if_nameindex();
		for (i = ifs; i && i->if_index; i++) {
			if (!strcmp(i->if_name, "lo"))
				continue;
			for (k = ACT_NIC_COALESCE; k <= ACT_SW_COALESCE; k++)
				for (n = 0; knob_names[k][n]; n++)
					json_object_array_add(
						arr,
						list_one(k, i->if_name,
							 knob_names[k][n]));
		}
		if (ifs)
			if_freenameindex(ifs);
	}
	snprintf(cpus, sizeof(cpus), "0-%ld",
		 sysconf(_SC_NPROCESSORS_ONLN) - 1);
	json_object_array_add(arr, list_one(ACT_CPUFREQ, cpus, "freq-khz"));
	if (kopt_env.json)
		printf("%s\n", kopt_json_text(arr));
	json_object_put(arr);
	return KOPT_EXIT_OK;
}

/*
 * The knob KIND TARGET KNOB names, for a privileged process; 0 or an exit
 * code (said).
 */
static int knob_open(const char *cmd, const char *kind, const char *target,
		     const char *knob, struct actuator *a)
{
	enum act_kind k = act_kind_parse(kind);
	int err = knob_need_root();

	if (err)
		return err;
	if (k == ACT_NR)
		return kopt_usage_error(cmd,
					"KIND '%s': expected nic-coalesce, "
					"sw-coalesce or cpufreq",
					kind);
	err = act_probe(a, k, target, knob);
	if (err == -EINVAL)
		return kopt_usage_error(cmd, "%s", a->why);
	if (err) {
		pr_warn("knob: not available: %s\n", a->why);
		return KOPT_EXIT_FAIL;
	}
	return 0;
}

static int knob_get(int argc, char **argv)
{
	const char *kind = NULL, *target = NULL, *knob = NULL;
	const struct kopt_opts spec = {
		.cmd = "kopt knob get",
		.usage = "[--json] KIND TARGET KNOB",
		.desc = "Reads one knob.\n\n" KNOB_KINDS,
		.opts = KOPT_OPTS(KOPT_OPT_JSON("the value as a JSON object")),
		.args = KOPT_ARGS(KOPT_ARG("KIND", &kind),
				  KOPT_ARG("TARGET", &target),
				  KOPT_ARG("KNOB", &knob)),
	};
	struct actuator a;
	long v;
	int ret;

	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	ret = knob_open(spec.cmd, kind, target, knob, &a);
	if (ret)
		return ret;
	if (act_get(&a, &v)) {
		pr_warn("knob: %s\n", a.why);
		return KOPT_EXIT_FAIL;
	}
	if (kopt_env.json)
		printf("{\"kind\": \"%s\", \"target\": \"%s\", \"knob\": \"%s\", "
		       "\"value\": %ld}\n",
		       kind, a.target, a.knob, v);
	else
		printf("%ld\n", v);
	return KOPT_EXIT_OK;
}

/* Waits for a signal or the hold time; poll() returns on EINTR. */
static void hold(double secs)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!state_stop_signal) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (secs > 0 &&
		    (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 >=
			    secs)
			break;
		poll(NULL, 0, 200);
	}
}

/*
 * A negative VALUE is an argument, not an option (opts.h), so it reaches
 * the range check, which says the knob's range.
 */
static int knob_set(int argc, char **argv)
{
	const char *kind = NULL, *target = NULL, *knob = NULL, *value = NULL;
	char desc[1024];
	double secs = 0;
	const struct kopt_opts spec = {
		.cmd = "kopt knob set",
		.usage = "KIND TARGET KNOB VALUE [--hold S]",
		.desc = desc,
		.opts = KOPT_OPTS(
			KOPT_OPT_DOUBLE("hold", 0, &secs, 0.001, 1e9, "S",
					"restore after S seconds (default: at "
					"Ctrl-C/SIGTERM)",
					.unit = "seconds")),
		.args = KOPT_ARGS(
			KOPT_ARG("KIND", &kind), KOPT_ARG("TARGET", &target),
			KOPT_ARG("KNOB", &knob), KOPT_ARG("VALUE", &value)),
	};
	struct actuator a;
	int ret;
	long v;

	snprintf(desc, sizeof(desc),
		 "Sets one knob, holds it, restores it.\n\n" KNOB_KINDS "\n\n");
	journal_text(desc + strlen(desc), sizeof(desc) - strlen(desc));
	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	ret = knob_open(spec.cmd, kind, target, knob, &a);
	if (ret)
		return ret;
	if (kopt_parse_long(value, LONG_MIN, LONG_MAX, &v))
		return kopt_usage_error(
			spec.cmd, "VALUE '%s': expected an integer", value);
	/* a dead kopt's leftovers first: the journal must start clean */
	if (state_recover())
		return KOPT_EXIT_FAIL;
	state_restore_on_exit();
	if (act_set(&a, v)) {
		pr_warn("knob set: %s\n", a.why);
		return KOPT_EXIT_FAIL;
	}
	printf("%s %s %s = %ld (holding; Ctrl-C restores)\n", kind, a.target,
	       a.knob, v);
	fflush(stdout);
	hold(secs);
	return KOPT_EXIT_OK; /* atexit restores */
}

int cmd_knob(int argc, char **argv)
{
	static const struct kopt_cmd cmds[] = {
		{ "list", knob_list, "actuators on this host, or why not" },
		{ "get", knob_get, "read one knob" },
		{ "set", knob_set, "set one knob, hold, restore on exit" },
		{ NULL },
	};
	char desc[1024];

	snprintf(
		desc, sizeof(desc),
		"       kopt knob list [IFNAME...]\n"
		"       kopt knob get KIND TARGET KNOB\n"
		"       kopt knob set KIND TARGET KNOB VALUE [--hold S]\n\n" KNOB_KINDS
		"\n\n");
	journal_text(desc + strlen(desc), sizeof(desc) - strlen(desc));
	return kopt_dispatch_desc("kopt knob", desc, cmds, argc, argv);
}

int cmd_restore(int argc, char **argv)
{
	char desc[768];
	const char *sock = NULL;
	const struct kopt_opts spec = {
		.cmd = "kopt restore",
		.usage = "[--socket PATH]",
		.desc = desc,
		.opts = KOPT_OPTS(KOPT_OPT_STR(
			"socket", 'S', &sock, "PATH",
			"koptd's control socket (default: koptd.sock in the\n"
			"state directory)")),
	};
	pid_t owner = 0;
	int ret;

	snprintf(desc, sizeof(desc),
		 "Undoes every change recorded in the state journal "
		 "(%s/state.json) by a kopt process that is no longer "
		 "running.\nWhen koptd runs, asks koptd instead: it stops its "
		 "jobs and undoes\nevery change they made (kopt resume JOB "
		 "starts them again).",
		 state_dir());
	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	if (koptd_try(sock, "kopt restore", "restore", NULL, &ret))
		return ret;
	ret = state_pending(&owner);
	if (ret < 0)
		return KOPT_EXIT_FAIL; /* said why, naming the file */
	if (!ret) {
		/*
		 * A journal write a SIGKILL cut short leaves its temporary
		 * file (and no change: the change comes after the rename);
		 * taking the lock removes it.
		 */
		state_restore(true);
		printf("nothing to restore\n");
		return KOPT_EXIT_OK;
	}
	ret = state_restore(false);
	if (ret < 0)
		return KOPT_EXIT_FAIL;
	if (ret) {
		pr_warn("restore: %d change(s) could not be undone; they stay "
			"in the journal\n",
			ret);
		return KOPT_EXIT_FAIL;
	}
	printf("restored every change of kopt process %d\n", owner);
	return KOPT_EXIT_OK;
}
