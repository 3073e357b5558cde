// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt probe: what this host's kernel allows (loader/lib/bpf/probe.c does
 * the probing), as a table or as JSON.
 */
#include <stdio.h>

#include <json-c/json.h>

#include "cli.h"
#include "opts.h"
#include "probe.h"

static void print_table(struct json_object *root)
{
	int i;

	printf("%-30s %-4s %s\n", "FEATURE", "OK", "DETAIL");
	for (i = 0; i < KOPT_PROBE_NR; i++) {
		struct json_object *f, *ok, *detail;

		if (!json_object_object_get_ex(root, kopt_probe_key(i), &f))
			continue;
		json_object_object_get_ex(f, "ok", &ok);
		json_object_object_get_ex(f, "detail", &detail);
		printf("%-30s %-4s %s\n", kopt_probe_label(i),
		       json_object_get_boolean(ok) ? "yes" : "no",
		       json_object_get_string(detail));
	}
}

static void print_verdicts(struct json_object *v)
{
	static const char *const jobs[][2] = {
		{ "energy_job", "energy job" },
		{ "migration_job", "migration job" },
	};

	printf("\nverdict:\n");
	for (size_t i = 0; i < 2; i++) {
		struct json_object *j, *text;

		if (json_object_object_get_ex(v, jobs[i][0], &j) &&
		    json_object_object_get_ex(j, "verdict", &text))
			printf("  %-14s %s\n", jobs[i][1],
			       json_object_get_string(text));
	}
}

int cmd_probe(int argc, char **argv)
{
	const struct kopt_opts spec = {
		.cmd = "kopt probe",
		.usage = "[--json]",
		.desc = "Reports what this host's kernel allows, found by trying: "
			"BPF\nprogram and map types (loading and attaching tiny "
			"programs),\nlockdown, capabilities, cpufreq, energy "
			"meters and NIC\ncoalescing, then a verdict per job (energy, "
			"migrations). Changes\nnothing on the host. Needs root.",
		.opts = KOPT_OPTS(KOPT_OPT_JSON(
			"one object, every feature as {\"ok\": bool, "
			"\"detail\": str}")),
	};
	struct json_object *root, *verdicts;
	int ret;

	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	if (!kopt_have_bpf_caps())
		return kopt_need_root("kopt probe");
	root = kopt_probe_all();
	verdicts = kopt_probe_verdicts(root);
	if (kopt_env.json) {
		/* beside the features, whose every key is {ok, detail} */
		json_object_object_add(root, "verdicts", verdicts);
		printf("%s\n", kopt_json_text(root));
	} else {
		print_table(root);
		print_verdicts(verdicts);
		json_object_put(verdicts);
	}
	json_object_put(root);
	return KOPT_EXIT_OK;
}
