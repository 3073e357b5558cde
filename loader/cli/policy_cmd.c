// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt policy show FILE: the effective policy, every default filled in,
 * as an INI file kopt would read the same way (keys that took their
 * default say so in a comment), or as JSON. A bad file prints every
 * error in it (file:line: [section] key: reason) and exits 2; nothing
 * is run or changed either way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"
#include "opts.h"
#include "policy.h"

/* A value as an INI file gives it: numbers short, strings bare. */
static void ini_value(struct json_object *v, char *buf, size_t len)
{
	if (json_object_is_type(v, json_type_string))
		snprintf(buf, len, "%s", json_object_get_string(v));
	else if (json_object_is_type(v, json_type_double))
		snprintf(buf, len, "%.6g", json_object_get_double(v));
	else
		snprintf(buf, len, "%s", json_object_to_json_string(v));
}

static bool defaulted(struct json_object *defaults, const char *section,
		      const char *key)
{
	char name[128];

	snprintf(name, sizeof(name), "[%s] %s", section, key);
	for (size_t i = 0; i < json_object_array_length(defaults); i++)
		if (!strcmp(json_object_get_string(
				    json_object_array_get_idx(defaults, i)),
			    name))
			return true;
	return false;
}

static void print_ini(struct json_object *o)
{
	struct json_object *defaults = NULL;

	json_object_object_get_ex(o, "defaults", &defaults);
	printf("; effective policy of %s\n; keys marked 'default' are not in "
	       "the file\n",
	       json_object_get_string(json_object_object_get(o, "path")));
	/* iterators, not json_object_object_foreach: cppcheck reads it wrong */
	for (struct json_object_iterator it = json_object_iter_begin(o),
					 end = json_object_iter_end(o);
	     !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *section = json_object_iter_peek_name(&it);
		struct json_object *keys = json_object_iter_peek_value(&it);

		if (!json_object_is_type(keys, json_type_object))
			continue;
		printf("\n[%s]\n", section);
		for (struct json_object_iterator
			     k = json_object_iter_begin(keys),
			     kend = json_object_iter_end(keys);
		     !json_object_iter_equal(&k, &kend);
		     json_object_iter_next(&k)) {
			const char *key = json_object_iter_peek_name(&k);
			char val[2048], line[2200];

			ini_value(json_object_iter_peek_value(&k), val,
				  sizeof(val));
			snprintf(line, sizeof(line), "%s = %s", key, val);
			if (defaulted(defaults, section, key))
				printf("%-32s ; default\n", line);
			else
				printf("%s\n", line);
		}
	}
}

static int policy_show(int argc, char **argv)
{
	const char *path = NULL;
	const struct kopt_opts spec = {
		.cmd = "kopt policy show",
		.usage = "FILE [--json]",
		.desc = "Prints the effective policy: every key with its value, "
			"the defaults\nfilled in and marked. A bad file prints "
			"every error in it, one\nline each (file:line: [section] "
			"key: reason), and exits 2.",
		.opts = KOPT_OPTS(KOPT_OPT_JSON("the policy as JSON")),
		.args = KOPT_ARGS(KOPT_ARG("FILE", &path)),
	};
	char err[KOPT_INI_ERR_LEN];
	struct json_object *o;
	struct policy *p;
	int ret;

	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	p = calloc(1, sizeof(*p));
	if (!p)
		return KOPT_EXIT_FAIL;
	if (policy_load(path, p, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		free(p);
		return KOPT_EXIT_USAGE;
	}
	o = policy_json(p);
	if (kopt_env.json)
		puts(kopt_json_text(o));
	else
		print_ini(o);
	json_object_put(o);
	free(p);
	return KOPT_EXIT_OK;
}

static const struct kopt_cmd policy_cmds[] = {
	{ "show", policy_show,
	  "the effective policy, defaults filled in (--json)" },
	{ NULL },
};

int cmd_policy(int argc, char **argv)
{
	return kopt_dispatch("kopt policy", policy_cmds, argc, argv);
}
