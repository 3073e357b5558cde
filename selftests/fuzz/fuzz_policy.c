// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policy INI files (loader/lib/ctl/policy.c, policy_load through inih):
 * a refusal names the file; an accepted policy keeps the relations the
 * validation promises (ranges ordered, a safe name, budgets in range).
 */
#include "fuzz.h" /* first: it defines _GNU_SOURCE */
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy p;
	char err[KOPT_INI_ERR_LEN] = "";
	const char *path = fuzz_file(data, size);

	if (policy_load(path, &p, err, sizeof(err))) {
		FUZZ_CHECK(strstr(err, path) == err);
		return 0;
	}
	FUZZ_CHECK(policy_name_ok(p.name));
	FUZZ_CHECK(p.itr_min_us >= 0 && p.itr_min_us <= p.itr_max_us);
	FUZZ_CHECK(p.itr_step_us > 0);
	FUZZ_CHECK(p.n_freqs >= 1 && p.n_freqs <= POLICY_MAX_FREQS);
	for (size_t i = 1; i < p.n_freqs && !p.freq_fixed; i++)
		FUZZ_CHECK(p.freqs_mhz[i] > p.freqs_mhz[i - 1]);
	FUZZ_CHECK(p.window_s > 0);
	FUZZ_CHECK(p.trials >= 1 && p.init_trials <= p.trials);
	FUZZ_CHECK(policy_reply_timeout(&p, p.window_s) > 0);
	return 0;
}
