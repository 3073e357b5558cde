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
#include "state.h"

static const char *const knob_names[ACT_NR][3] = {
	[ACT_NIC_COALESCE] = { "rx-usecs", "tx-usecs", NULL },
	[ACT_SW_COALESCE] = { "gro-flush-usecs", "napi-defer-hard-irqs", NULL },
	[ACT_CPUFREQ] = { "freq-khz", NULL, NULL },
};

static void knob_usage(FILE *f)
{
	fprintf(f,
		"Usage: kopt knob list [IFNAME...]\n"
		"       kopt knob get KIND TARGET KNOB\n"
		"       kopt knob set KIND TARGET KNOB VALUE [--hold S]\n"
		"\n"
		"KIND TARGET KNOB:\n"
		"  nic-coalesce IFNAME rx-usecs|tx-usecs   (ethtool netlink)\n"
		"  sw-coalesce  IFNAME gro-flush-usecs|napi-defer-hard-irqs\n"
		"  cpufreq      CPULIST freq-khz           (libcpupower)\n"
		"\n"
		"`set` journals the original value (%s/state.json), sets,\n"
		"reads back, holds until Ctrl-C/SIGTERM or --hold S seconds,\n"
		"then restores. `kopt restore` undoes what a killed kopt left.\n",
		state_dir());
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
	struct json_object *arr = json_object_new_array();
	struct if_nameindex *ifs = NULL, *i;
	char cpus[32];
	int k, n, a;

	if (!kopt_env.json)
		printf("%-13s %-10s %-21s %s\n", "KIND", "TARGET", "KNOB",
		       "VALUE or why not available");
	if (argc > 1) {
		for (a = 1; a < argc; a++)
			for (k = ACT_NIC_COALESCE; k <= ACT_SW_COALESCE; k++)
				for (n = 0; knob_names[k][n]; n++)
					json_object_array_add(
						arr,
						list_one(k, argv[a],
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
		printf("%s\n", json_object_to_json_string_ext(
				       arr, JSON_C_TO_STRING_PRETTY));
	json_object_put(arr);
	return KOPT_EXIT_OK;
}

static int knob_open(int argc, char **argv, struct actuator *a)
{
	enum act_kind k;
	int err;

	if (argc < 4) {
		knob_usage(stderr);
		return KOPT_EXIT_USAGE;
	}
	k = act_kind_parse(argv[1]);
	if (k == ACT_NR) {
		pr_warn("knob: unknown kind '%s' (nic-coalesce, sw-coalesce, "
			"cpufreq)\n",
			argv[1]);
		return KOPT_EXIT_USAGE;
	}
	err = act_probe(a, k, argv[2], argv[3]);
	if (err == -EINVAL) {
		pr_warn("knob: %s\n", a->why);
		return KOPT_EXIT_USAGE;
	}
	if (err) {
		pr_warn("knob: not available: %s\n", a->why);
		return KOPT_EXIT_FAIL;
	}
	return 0;
}

static int knob_get(int argc, char **argv)
{
	struct actuator a;
	long v;
	int ret = knob_open(argc, argv, &a);

	if (ret)
		return ret;
	if (act_get(&a, &v)) {
		pr_warn("knob: %s\n", a.why);
		return KOPT_EXIT_FAIL;
	}
	if (kopt_env.json)
		printf("{\"kind\": \"%s\", \"target\": \"%s\", \"knob\": \"%s\", "
		       "\"value\": %ld}\n",
		       argv[1], a.target, a.knob, v);
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
 * Options may follow the positional arguments, and values may be
 * negative (then rejected by the range check, not taken for options), so
 * --hold is picked out by hand instead of by getopt.
 */
static int knob_set(int argc, char **argv)
{
	char *pos[5];
	double secs = 0;
	struct actuator a;
	int i, n = 0, ret;
	long v;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			knob_usage(stdout);
			return KOPT_EXIT_OK;
		}
		if (!strcmp(argv[i], "--hold")) {
			if (i + 1 == argc ||
			    kopt_parse_double(argv[++i], 0.001, 1e9, &secs)) {
				pr_warn("knob set: --hold: expected seconds > "
					"0\n");
				return KOPT_EXIT_USAGE;
			}
			continue;
		}
		if (n == 5) {
			knob_usage(stderr);
			return KOPT_EXIT_USAGE;
		}
		pos[n++] = argv[i];
	}
	if (n != 5) {
		knob_usage(stderr);
		return KOPT_EXIT_USAGE;
	}
	ret = knob_open(n, pos, &a);
	if (ret)
		return ret;
	if (kopt_parse_long(pos[4], LONG_MIN, LONG_MAX, &v)) {
		pr_warn("knob set: value '%s' is not an integer\n", pos[4]);
		return KOPT_EXIT_USAGE;
	}
	/* a dead kopt's leftovers first: the journal must start clean */
	if (state_recover())
		return KOPT_EXIT_FAIL;
	state_restore_on_exit();
	if (act_set(&a, v)) {
		pr_warn("knob set: %s\n", a.why);
		return KOPT_EXIT_FAIL;
	}
	printf("%s %s %s = %ld (holding; Ctrl-C restores)\n", pos[1], a.target,
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

	if (argc >= 2 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		knob_usage(stdout);
		return KOPT_EXIT_OK;
	}
	if (!kopt_have_bpf_caps() && geteuid() != 0)
		return kopt_need_root("kopt knob");
	return kopt_dispatch("kopt knob", cmds, argc - 1, argv + 1);
}

int cmd_restore(int argc, char **argv)
{
	pid_t owner = 0;
	int ret;

	if (argc > 1) {
		fprintf(argc > 1 && strcmp(argv[1], "-h") &&
					strcmp(argv[1], "--help") ?
				stderr :
				stdout,
			"Usage: kopt restore\n\nUndoes every change recorded "
			"in the state journal (%s/state.json) by a kopt\n"
			"process that is no longer running.\n",
			state_dir());
		return strcmp(argv[1], "-h") && strcmp(argv[1], "--help") ?
			       KOPT_EXIT_USAGE :
			       KOPT_EXIT_OK;
	}
	ret = state_pending(&owner);
	if (ret < 0)
		return KOPT_EXIT_FAIL; /* said why, naming the file */
	if (!ret) {
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
