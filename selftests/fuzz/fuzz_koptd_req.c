// SPDX-License-Identifier: GPL-2.0-only
/*
 * koptd's control requests (loader/daemon/request.c, koptd_req_parse): a
 * refusal says why; an accepted request names a known command, a job
 * only where one is taken (energy or migration), and for model-load an
 * absolute path that fits.
 */
#include "fuzz.h" /* first: it defines _GNU_SOURCE */
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct koptd_req rq;
	char line[8192], err[1024] = "";

	if (size >= sizeof(line))
		return 0; /* koptd refuses longer lines before parsing */
	memcpy(line, data, size);
	line[size] = '\0';
	if (koptd_req_parse(line, &rq, err, sizeof(err))) {
		FUZZ_CHECK(err[0]);
		return 0;
	}
	FUZZ_CHECK(rq.cmd < KOPTD_CMD_NR);
	switch (rq.cmd) {
	case KOPTD_CMD_PAUSE:
	case KOPTD_CMD_RESUME:
	case KOPTD_CMD_ADVISE:
	case KOPTD_CMD_ENFORCE:
		FUZZ_CHECK(!strcmp(rq.job, "energy") ||
			   !strcmp(rq.job, "migration"));
		FUZZ_CHECK(!rq.file[0]);
		break;
	case KOPTD_CMD_MODEL_LOAD:
		FUZZ_CHECK(rq.file[0] == '/' &&
			   strlen(rq.file) < sizeof(rq.file));
		FUZZ_CHECK(!rq.job[0]);
		break;
	default:
		FUZZ_CHECK(!rq.job[0] && !rq.file[0]);
		break;
	}
	return 0;
}
