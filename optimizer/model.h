/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Fixed-point MLP models in userspace: the .kmlp file format (read,
 * validate, write), its human and JSON forms, conversion to the map value
 * the evaluator reads (struct kopt_mlp), the userspace evaluator, and a
 * quantizer from a float model (used by `kopt model gen`, and later the
 * trainer). No BPF here: see mlp.h for the maps and programs.
 *
 * The .kmlp format, version 1, little-endian:
 *
 *   off size
 *     0    4  magic "KMLP"
 *     4    2  version (1)
 *     6    1  n_in                 inputs, 1..KOPT_MLP_MAX_IN
 *     7    1  n_hidden             hidden layers, 0..KOPT_MLP_MAX_HIDDEN
 *     8    2  units[2]             units of each hidden layer (0 if none)
 *    10    1  frac_bits            of activations and the logit
 *    11    3  wfrac[3]             weight fractional bits of layer 0..n_hidden
 *                                  (layer n_hidden is the output)
 *    14    2  target               what the model was trained to predict:
 *                                  0 not recorded (files written before
 *                                  it was), 1 forced, 2 decision
 *    16    4  threshold            s32: positive iff logit >= threshold
 *    20    4  body_len             bytes between the header and the CRC
 *    24    8  reserved (0)
 *    32       body:
 *               n_in names, KOPT_FEAT_NAME_LEN bytes each, NUL-padded
 *               per layer l = 0..n_hidden: n_out x n_in s32 weights
 *               (unit-major), then n_out s64 biases (accumulator scale,
 *               without the rounding constant)
 *   32+body_len  4  crc32 (zlib) of everything before it
 *
 * A layer's accumulator has wfrac[l] + in_frac fractional bits, where
 * in_frac is 0 for layer 0 (raw features) and frac_bits otherwise; its
 * shift back to activations is wfrac[l] + in_frac - frac_bits.
 */
#ifndef KOPT_LOADER_MODEL_H
#define KOPT_LOADER_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "kopt/mlp_fixed.h"

#define KOPT_KMLP_MAGIC "KMLP"
#define KOPT_KMLP_VERSION 1
#define KOPT_KMLP_HEADER 32
#define KOPT_MLP_LAYERS (KOPT_MLP_MAX_HIDDEN + 1)
#define KOPT_MODEL_ERR 256 /* size of an error message buffer */

struct json_object;

/* A model as the file describes it. Layer n_hidden is the output. */
struct kopt_model {
	__u32 n_in;
	__u32 n_hidden;
	__u32 units[KOPT_MLP_MAX_HIDDEN];
	__u32 frac_bits;
	__u32 wfrac[KOPT_MLP_LAYERS];
	__s32 threshold;
	__u32 target; /* enum kopt_model_target */
	__u32 feature[KOPT_MLP_MAX_IN];
	__s32 w[KOPT_MLP_LAYERS][KOPT_MLP_MAX_UNITS][KOPT_MLP_WIDTH];
	__s64 b[KOPT_MLP_LAYERS][KOPT_MLP_MAX_UNITS];
	__u32 crc32; /* set by decode and encode */
};

/* What a model predicts: the label column it was trained on. */
enum kopt_model_target {
	KOPT_TARGET_NONE, /* not recorded: a file older than the field */
	KOPT_TARGET_FORCED,
	KOPT_TARGET_DECISION,
	KOPT_NR_TARGETS,
};

/* "forced", "decision", "unrecorded"; and back (-1: unknown name). */
const char *kopt_model_target_name(__u32 target);
int kopt_model_target_id(const char *name);

/* Inputs and units of layer l (0..n_hidden). */
__u32 kopt_model_layer_in(const struct kopt_model *m, __u32 l);
__u32 kopt_model_layer_out(const struct kopt_model *m, __u32 l);
/* Fractional bits of layer l's inputs, and its accumulator shift. */
__u32 kopt_model_in_frac(const struct kopt_model *m, __u32 l);
int kopt_model_shift(const struct kopt_model *m, __u32 l);
/* "7-16-1" */
void kopt_model_shape(const struct kopt_model *m, char *buf, size_t len);
/*
 * Parses "7-16-1" into n_in, n_hidden and units; 0 or -EINVAL with the
 * reason in err.
 */
int kopt_model_parse_shape(const char *s, struct kopt_model *m, char *err,
			   size_t errlen);

/* Feature names (features.h): name of an id (NULL if none), id of a name. */
const char *kopt_feat_name(__u32 id);
int kopt_feat_id(const char *name);

/*
 * Checks everything but the encoding: caps, shifts, features and that no
 * accumulator can overflow. 0 or -EINVAL with "field: reason" in err.
 */
int kopt_model_check(const struct kopt_model *m, char *err, size_t errlen);
/* Decodes and validates a .kmlp image; 0 or -EINVAL with err. */
int kopt_model_decode(const void *buf, size_t len, struct kopt_model *m,
		      char *err, size_t errlen);
/* Encodes (sets m->crc32); *buf is malloc'ed. 0 or -errno. */
int kopt_model_encode(struct kopt_model *m, void **buf, size_t *len);
/* File versions of the two; err says what failed, with the path. */
int kopt_model_read(const char *path, struct kopt_model *m, char *err,
		    size_t errlen);
int kopt_model_write(const char *path, struct kopt_model *m, char *err,
		     size_t errlen);

/* The evaluator's map value (biases get the rounding constant). */
void kopt_model_to_mlp(const struct kopt_model *m, struct kopt_mlp *out);
/* Back from a map value (kopt model show --pinned); 0 or -EINVAL. */
int kopt_model_from_mlp(const struct kopt_mlp *in, struct kopt_model *m,
			char *err, size_t errlen);
/* Runs include/kopt/mlp_fixed.h in userspace; enum kopt_mlp_status. */
int kopt_mlp_eval_user(const struct kopt_mlp *m, const __s64 *in, __s32 *logit);

/* Human form; `title` names where it came from. */
void kopt_model_print(FILE *f, const struct kopt_model *m, const char *title);
/* JSON export (caller puts it). */
struct json_object *kopt_model_json(const struct kopt_model *m);

/* A float model, before quantization. Layer n_hidden is the output. */
struct kopt_mlp_float {
	__u32 n_in;
	__u32 n_hidden;
	__u32 units[KOPT_MLP_MAX_HIDDEN];
	__u32 feature[KOPT_MLP_MAX_IN];
	double mean[KOPT_MLP_MAX_IN]; /* x_norm = (x - mean) / scale */
	double scale[KOPT_MLP_MAX_IN];
	double w[KOPT_MLP_LAYERS][KOPT_MLP_MAX_UNITS][KOPT_MLP_WIDTH];
	double b[KOPT_MLP_LAYERS][KOPT_MLP_MAX_UNITS];
	double threshold; /* on the logit */
};

/*
 * Quantizes f with frac_bits activation bits: folds the normalization into
 * layer 0 and picks for each layer the most weight fractional bits whose
 * weights fit 32 bits and whose accumulator cannot overflow. 0 or -EINVAL.
 */
int kopt_model_quantize(const struct kopt_mlp_float *f, __u32 frac_bits,
			struct kopt_model *m, char *err, size_t errlen);
/* Float reference of the quantized function (for error reports). */
double kopt_mlp_float_eval(const struct kopt_mlp_float *f, const double *x);

/*
 * A random float model of the shape in m (n_in, n_hidden, units), with the
 * features in m->feature, deterministic for a seed: for tests and
 * benchmarks only, it predicts nothing.
 */
void kopt_mlp_float_random(struct kopt_mlp_float *f, const struct kopt_model *m,
			   unsigned long seed);

/* A deterministic PRNG (erand48 state) for tests, gen and verify. */
struct kopt_rng {
	unsigned short x[3];
};
void kopt_rng_seed(struct kopt_rng *r, unsigned long seed);
double kopt_rng_uniform(struct kopt_rng *r); /* [0, 1) */
__u64 kopt_rng_u64(struct kopt_rng *r);

#endif /* KOPT_LOADER_MODEL_H */
