// SPDX-License-Identifier: GPL-2.0-only
/*
 * koptd's control requests (README, "kopt as a service"):
 *
 *   {"cmd": "status"|"pause"|"resume"|"advise"|"enforce"|"reload"|
 *           "restore"|"model-load", "job": "energy"|"migration",
 *    "file": PATH}
 *
 * json-c parses; every field is checked here, before ctl.c acts on any of
 * it, and nothing from a peer reaches a shell.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "request.h"

const char *const koptd_cmd_names[KOPTD_CMD_NR] = {
	[KOPTD_CMD_STATUS] = "status",	 [KOPTD_CMD_PAUSE] = "pause",
	[KOPTD_CMD_RESUME] = "resume",	 [KOPTD_CMD_ADVISE] = "advise",
	[KOPTD_CMD_ENFORCE] = "enforce", [KOPTD_CMD_RELOAD] = "reload",
	[KOPTD_CMD_RESTORE] = "restore", [KOPTD_CMD_MODEL_LOAD] = "model-load",
};

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* "job": energy or migration; absent: def (NULL: required). */
static int job(struct json_object *o, const char *cmd, const char *def,
	       struct koptd_req *rq, char *err, size_t len)
{
	const char *j = jstr(o, "job");

	if (!j) {
		if (json_object_object_get_ex(o, "job", NULL)) {
			snprintf(err, len, "%s: \"job\" must be a string", cmd);
			return -1;
		}
		if (!def) {
			snprintf(err, len,
				 "%s: \"job\" is missing (energy or migration)",
				 cmd);
			return -1;
		}
		j = def;
	}
	if (strcmp(j, "energy") && strcmp(j, "migration")) {
		snprintf(err, len,
			 "%s: unknown job '%.64s' (energy or migration)", cmd,
			 j);
		return -1;
	}
	snprintf(rq->job, sizeof(rq->job), "%s", j);
	return 0;
}

int koptd_req_parse(const char *line, struct koptd_req *rq, char *err,
		    size_t len)
{
	struct json_object *o = json_tokener_parse(line);
	const char *cmd, *file;
	int ret = -1, k;

	memset(rq, 0, sizeof(*rq));
	if (!o || !json_object_is_type(o, json_type_object)) {
		snprintf(err, len,
			 "not a JSON object: expected {\"cmd\": ...}");
		goto out;
	}
	cmd = jstr(o, "cmd");
	if (!cmd) {
		snprintf(err, len, "\"cmd\" is missing or not a string");
		goto out;
	}
	for (k = 0; k < KOPTD_CMD_NR; k++)
		if (!strcmp(cmd, koptd_cmd_names[k]))
			break;
	if (k == KOPTD_CMD_NR) {
		snprintf(err, len,
			 "unknown cmd '%.64s' (status, pause, resume, advise, "
			 "enforce, reload, restore, model-load)",
			 cmd);
		goto out;
	}
	rq->cmd = k;
	switch (rq->cmd) {
	case KOPTD_CMD_PAUSE:
	case KOPTD_CMD_RESUME:
		ret = job(o, cmd, NULL, rq, err, len);
		goto out;
	case KOPTD_CMD_ADVISE:
	case KOPTD_CMD_ENFORCE:
		ret = job(o, cmd, "energy", rq, err, len);
		goto out;
	case KOPTD_CMD_MODEL_LOAD:
		file = jstr(o, "file");
		if (!file || file[0] != '/' ||
		    strlen(file) >= sizeof(rq->file)) {
			snprintf(err, len,
				 "model-load: \"file\" must be an absolute "
				 "path");
			goto out;
		}
		snprintf(rq->file, sizeof(rq->file), "%s", file);
		break;
	default:
		break;
	}
	ret = 0;
out:
	json_object_put(o);
	return ret;
}
