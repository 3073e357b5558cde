// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dataset CSV files (optimizer/train.c, kopt_dataset_read): the first
 * byte picks the label column, the rest is the file. A refusal names the
 * file; an accepted dataset has labels 0/1 that add up to positives and
 * every requested column present.
 */
#include "fuzz.h" /* first: it defines _GNU_SOURCE */
#include "train.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kopt_dataset ds = { 0 };
	char err[512] = "";
	const char *path, *target;
	long pos = 0;

	if (!size)
		return 0;
	target = data[0] & 1 ? "decision" : "forced";
	path = fuzz_file(data + 1, size - 1);
	if (kopt_dataset_read(path, target, ~0ULL, 0, &ds, err, sizeof(err))) {
		FUZZ_CHECK(strstr(err, path));
		return 0;
	}
	FUZZ_CHECK(ds.n >= 0 && ds.positives >= 0 && ds.positives <= ds.n);
	for (long i = 0; i < ds.n; i++) {
		FUZZ_CHECK(ds.y[i] <= 1);
		pos += ds.y[i];
	}
	FUZZ_CHECK(pos == ds.positives);
	for (int f = 0; f < KOPT_FEAT_NR; f++)
		FUZZ_CHECK(!(ds.have & KOPT_FEAT_BIT(f)) || ds.col[f] || !ds.n);
	kopt_dataset_free(&ds);
	return 0;
}
