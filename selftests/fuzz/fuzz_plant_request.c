// SPDX-License-Identifier: GPL-2.0-only
/*
 * Plant requests as a plant sees them (loader/lib/ctl/plant.c,
 * plant_parse_request: what `kopt plant host` reads from its peer). An
 * accepted request is the stock policy or finite, non-negative knobs,
 * with a window inside the plant's limit.
 */
#include "fuzz.h" /* first: it defines _GNU_SOURCE */
#include <math.h>

#include "plant.h"

#define MAX_SECONDS 60

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plant_request rq;
	char err[PLANT_ERR_LEN] = "";
	char *line = fuzz_str(data, size);

	if (plant_parse_request(line, MAX_SECONDS, &rq, err, sizeof(err))) {
		FUZZ_CHECK(err[0]);
		free(line);
		return 0;
	}
	FUZZ_CHECK(rq.seconds > 0 && rq.seconds <= MAX_SECONDS);
	if (!rq.stock) {
		FUZZ_CHECK(isfinite(rq.itr_us) && rq.itr_us >= 0);
		FUZZ_CHECK(isnan(rq.freq_mhz) ||
			   (isfinite(rq.freq_mhz) && rq.freq_mhz >= 0));
	}
	free(line);
	return 0;
}
