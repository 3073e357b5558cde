// SPDX-License-Identifier: GPL-2.0-only
/*
 * Replays the fuzzers' inputs (selftests/fuzz/) through the very same
 * harnesses, built into the sanitized test program: every seed of
 * selftests/fuzz/corpus/<target>/ and every input a fuzzer once crashed
 * on, kept in selftests/fuzz/regress/<target>/. A harness aborts on a
 * broken promise (FUZZ_CHECK) and ASan/UBSan report what it touches, so a
 * regression fails this test without running libFuzzer.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <libgen.h>
#include <limits.h>

#include "test.h"

/* Each harness under its own name (they all define the libFuzzer entry). */
#define LLVMFuzzerTestOneInput fuzz_model_input
#include "fuzz/fuzz_model.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_policy_input
#include "fuzz/fuzz_policy.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_plant_reply_input
#include "fuzz/fuzz_plant_reply.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_plant_request_input
#include "fuzz/fuzz_plant_request.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_latency_input
#include "fuzz/fuzz_latency.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_dataset_input
#include "fuzz/fuzz_dataset.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_journal_input
#include "fuzz/fuzz_journal.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_koptd_conf_input
#include "fuzz/fuzz_koptd_conf.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_koptd_req_input
#include "fuzz/fuzz_koptd_req.c"
#undef LLVMFuzzerTestOneInput

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

static const struct {
	const char *target;
	fuzz_fn fn;
} harnesses[] = {
	{ "model", fuzz_model_input },
	{ "policy", fuzz_policy_input },
	{ "plant_reply", fuzz_plant_reply_input },
	{ "plant_request", fuzz_plant_request_input },
	{ "latency", fuzz_latency_input },
	{ "dataset", fuzz_dataset_input },
	{ "journal", fuzz_journal_input },
	{ "koptd_conf", fuzz_koptd_conf_input },
	{ "koptd_req", fuzz_koptd_req_input },
};

/* Feeds every file of selftests/fuzz/<kind>/<target>/; count fed. */
static int replay(const char *kind, const char *target, fuzz_fn fn)
{
	char tmp[PATH_MAX], dir[PATH_MAX + 64], path[2 * PATH_MAX];
	static uint8_t buf[1 << 16];
	struct dirent *de;
	int fed = 0;
	DIR *d;

	snprintf(tmp, sizeof(tmp), "%s", kopt_test_builddir());
	snprintf(dir, sizeof(dir), "%s/selftests/fuzz/%s/%s", dirname(tmp),
		 kind, target);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		FILE *f;
		size_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		if (!ASSERT_OK_PTR(f, path))
			continue;
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		fn(buf, n);
		fed++;
	}
	closedir(d);
	return fed;
}

KOPT_TEST(fuzz_seeds_and_regressions)
{
	int seeds = 0, regress = 0;

	for (size_t i = 0; i < sizeof(harnesses) / sizeof(harnesses[0]); i++) {
		int n = replay("corpus", harnesses[i].target, harnesses[i].fn);

		ASSERT_GT(n, 0, harnesses[i].target);
		seeds += n;
		regress +=
			replay("regress", harnesses[i].target, harnesses[i].fn);
	}
	fprintf(stderr, "  replayed %d seeds and %d regression inputs\n", seeds,
		regress);
}
