// SPDX-License-Identifier: GPL-2.0-only
/*
 * Plant replies (loader/lib/ctl/plant.c, plant_parse_reply): the first
 * byte picks what the SLA needs, the rest is the line. An accepted reply
 * has finite, non-negative figures and what the SLA needs.
 */
#include "fuzz.h" /* first: it defines _GNU_SOURCE */
#include <math.h>

#include "plant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plant_reply r;
	char err[PLANT_ERR_LEN] = "", *line;
	enum plant_need need;

	if (!size)
		return 0;
	need = data[0] % 3;
	line = fuzz_str(data + 1, size - 1);
	if (plant_parse_reply(line, 10, need, &r, err, sizeof(err))) {
		FUZZ_CHECK(err[0]);
		free(line);
		return 0;
	}
	FUZZ_CHECK(isfinite(r.energy_j) && r.energy_j >= 0);
	FUZZ_CHECK(isfinite(r.qps) && r.qps >= 0);
	FUZZ_CHECK(isfinite(r.seconds) && r.seconds > 0);
	if (need == PLANT_NEED_P99)
		FUZZ_CHECK(isfinite(r.p99_us) && r.p99_us >= 0);
	if (need == PLANT_NEED_P50)
		FUZZ_CHECK(isfinite(r.p50_us) && r.p50_us >= 0);
	if (need == PLANT_NEED_THROUGHPUT)
		FUZZ_CHECK(isfinite(r.throughput) && r.throughput >= 0);
	if (isfinite(r.p50_us) && isfinite(r.p99_us))
		FUZZ_CHECK(r.p50_us <= r.p99_us);
	FUZZ_CHECK(memchr(r.source, '\0', sizeof(r.source)));
	free(line);
	return 0;
}
