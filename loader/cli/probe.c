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

int cmd_probe(int argc, char **argv)
{
	const struct kopt_opts spec = {
		.cmd = "kopt probe",
		.usage = "[--json]",
		.desc = "Reports what this host's kernel allows, found by trying: "
			"BPF\nprogram and map types (loading and attaching tiny "
			"programs),\nlockdown, capabilities, cpufreq, energy "
			"meters and NIC\ncoalescing. Changes nothing on the host. "
			"Needs root.",
		.opts = KOPT_OPTS(KOPT_OPT_JSON(
			"one object, every feature as {\"ok\": bool, "
			"\"detail\": str}")),
	};
	struct json_object *root;
	int ret;

	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	if (!kopt_have_bpf_caps())
		return kopt_need_root("kopt probe");
	root = kopt_probe_all();
	if (kopt_env.json)
		printf("%s\n", kopt_json_text(root));
	else
		print_table(root);
	json_object_put(root);
	return KOPT_EXIT_OK;
}
