// SPDX-License-Identifier: GPL-2.0-only
/*
 * .kmlp model files (optimizer/model.c, kopt_model_decode): each input is
 * tried as it is and with its CRC made right (so the fuzzer gets past the
 * checksum). An accepted model must re-encode to the same bytes, pass
 * kopt_model_check(), and evaluate without overflow (UBSan) on extreme
 * inputs, which is what the check promises.
 */
#include "fuzz.h" /* first: it defines _GNU_SOURCE */
#include <zlib.h>

#include "model.h"

static void try_model(const uint8_t *buf, size_t len)
{
	static struct kopt_model m, m2;
	static struct kopt_mlp mlp;
	static const __s64 extremes[] = { 0,	     1,		-1,
					  INT32_MAX, INT32_MIN, INT64_MAX,
					  INT64_MIN };
	char err[KOPT_MODEL_ERR] = "";
	__s64 in[KOPT_MLP_MAX_IN];
	void *enc = NULL;
	size_t elen = 0;
	__s32 logit;

	if (kopt_model_decode(buf, len, &m, err, sizeof(err))) {
		FUZZ_CHECK(err[0]); /* a refusal says why */
		return;
	}
	FUZZ_CHECK(!kopt_model_check(&m, err, sizeof(err)));
	FUZZ_CHECK(!kopt_model_encode(&m, &enc, &elen));
	FUZZ_CHECK(elen == len && !memcmp(enc, buf, len));
	FUZZ_CHECK(!kopt_model_decode(enc, elen, &m2, err, sizeof(err)));
	free(enc);
	kopt_model_to_mlp(&m, &mlp);
	for (size_t k = 0; k < sizeof(extremes) / sizeof(extremes[0]); k++) {
		for (int i = 0; i < KOPT_MLP_MAX_IN; i++)
			in[i] = (k + i) % 2 ? extremes[k] : ~extremes[k];
		FUZZ_CHECK(!kopt_mlp_eval_user(&mlp, in, &logit));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	uLong crc;

	try_model(data, size);
	if (size < KOPT_KMLP_HEADER + 4)
		return 0;
	copy = malloc(size);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	crc = crc32(0, copy, size - 4);
	for (int i = 0; i < 4; i++)
		copy[size - 4 + i] = (crc >> (8 * i)) & 0xff;
	try_model(copy, size);
	free(copy);
	return 0;
}
