/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A request on koptd's control socket, parsed and checked before any of
 * it is acted on (ctl.c dispatches; fuzz_koptd_req fuzzes this alone).
 */
#ifndef KOPTD_REQUEST_H
#define KOPTD_REQUEST_H

#include <limits.h>
#include <stddef.h>

enum koptd_cmd {
	KOPTD_CMD_STATUS,
	KOPTD_CMD_PAUSE,
	KOPTD_CMD_RESUME,
	KOPTD_CMD_ADVISE,
	KOPTD_CMD_ENFORCE,
	KOPTD_CMD_RELOAD,
	KOPTD_CMD_RESTORE,
	KOPTD_CMD_MODEL_LOAD,
	KOPTD_CMD_NR,
};

extern const char *const koptd_cmd_names[KOPTD_CMD_NR];

struct koptd_req {
	enum koptd_cmd cmd;
	/* pause, resume: given; advise, enforce: "energy" unless given;
	 * else empty */
	char job[16];
	char file[PATH_MAX]; /* model-load: an absolute path; else empty */
};

/*
 * Parses one request line (a JSON object). 0 with *rq filled, or -1 with
 * err saying what is wrong (the reply's "error").
 */
int koptd_req_parse(const char *line, struct koptd_req *rq, char *err,
		    size_t len);

#endif
