// SPDX-License-Identifier: GPL-2.0-only
/*
 * The external latency feed (loader/lib/host/latency_src.c,
 * latency_parse_line): an accepted line has finite percentiles with
 * 0 <= p50 <= p99, and a QPS that is finite or absent (< 0).
 */
#include "fuzz.h" /* first: it defines _GNU_SOURCE */
#include <math.h>

#include "latency_src.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct latency_reading r;
	char err[LATENCY_SRC_ERR_LEN] = "";
	char *line = fuzz_str(data, size);

	if (latency_parse_line(line, &r, err, sizeof(err))) {
		FUZZ_CHECK(err[0]);
		free(line);
		return 0;
	}
	FUZZ_CHECK(isfinite(r.p50_us) && isfinite(r.p99_us));
	FUZZ_CHECK(r.p50_us >= 0 && r.p50_us <= r.p99_us);
	FUZZ_CHECK(r.qps < 0 || isfinite(r.qps));
	free(line);
	return 0;
}
