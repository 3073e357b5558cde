// SPDX-License-Identifier: GPL-2.0-only
/* Models for tests (model_util.h). */
#include <stdlib.h>

#include "model_util.h"
#include "test.h"

struct kopt_model *test_random_model(const char *shape, unsigned long seed,
				     __u32 first_feature)
{
	struct kopt_mlp_float *f = malloc(sizeof(*f));
	struct kopt_model *m = calloc(1, sizeof(*m));
	char err[KOPT_MODEL_ERR] = "";
	__u32 i;

	if (!ASSERT_OK_PTR(f, "alloc") || !ASSERT_OK_PTR(m, "alloc"))
		goto fail;
	if (!ASSERT_OK(kopt_model_parse_shape(shape, m, err, sizeof(err)), err))
		goto fail;
	for (i = 0; i < m->n_in; i++)
		m->feature[i] = (first_feature + i) % KOPT_FEAT_NR;
	kopt_mlp_float_random(f, m, seed);
	if (!ASSERT_OK(kopt_model_quantize(f, 16, m, err, sizeof(err)), err))
		goto fail;
	free(f);
	return m;
fail:
	free(f);
	free(m);
	return NULL;
}
