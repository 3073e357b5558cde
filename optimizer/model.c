// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fixed-point MLP models in userspace: the .kmlp format (see model.h),
 * validation with a reason for every refusal, the human and JSON forms,
 * conversion to the map value, the userspace evaluator (the same
 * include/kopt/mlp_fixed.h the BPF programs run), and quantization of a
 * float model with its input normalization folded into the first layer.
 *
 * Cost: all of it is linear in the number of weights (at most ~2k), and
 * runs once per model load; only kopt_mlp_eval_user runs per inference.
 */
#include <endian.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <zlib.h>

#include "errf.h"
#include "model.h"

static const char *const feat_names[KOPT_FEAT_NR] = { KOPT_FEATURES(
	KOPT_FEAT_NAME_ENTRY) };

const char *kopt_feat_name(__u32 id)
{
	return id < KOPT_FEAT_NR ? feat_names[id] : NULL;
}

int kopt_feat_id(const char *name)
{
	int i;

	for (i = 0; i < KOPT_FEAT_NR; i++)
		if (!strcmp(name, feat_names[i]))
			return i;
	return -1;
}

/* ---- shape ----------------------------------------------------------- */

__u32 kopt_model_layer_in(const struct kopt_model *m, __u32 l)
{
	return l == 0 ? m->n_in : m->units[l - 1];
}

__u32 kopt_model_layer_out(const struct kopt_model *m, __u32 l)
{
	return l == m->n_hidden ? 1 : m->units[l];
}

__u32 kopt_model_in_frac(const struct kopt_model *m, __u32 l)
{
	return l == 0 ? 0 : m->frac_bits;
}

int kopt_model_shift(const struct kopt_model *m, __u32 l)
{
	return (int)(m->wfrac[l] + kopt_model_in_frac(m, l)) -
	       (int)m->frac_bits;
}

void kopt_model_shape(const struct kopt_model *m, char *buf, size_t len)
{
	size_t off = snprintf(buf, len, "%u", m->n_in);
	__u32 l;

	for (l = 0; l < m->n_hidden && l < KOPT_MLP_MAX_HIDDEN && off < len;
	     l++)
		off += snprintf(buf + off, len - off, "-%u", m->units[l]);
	if (off < len)
		snprintf(buf + off, len - off, "-1");
}

int kopt_model_parse_shape(const char *s, struct kopt_model *m, char *err,
			   size_t errlen)
{
	long v[KOPT_MLP_MAX_HIDDEN + 2];
	int n = 0, i;
	const char *p = s;
	char *end;

	while (n < (int)(sizeof(v) / sizeof(v[0]))) {
		errno = 0;
		v[n++] = strtol(p, &end, 10);
		if (errno || end == p || v[n - 1] < 1)
			return kopt_errf(err, errlen, -EINVAL,
					 "shape '%s': expected IN-H1[-H2]-1, "
					 "positive integers",
					 s);
		if (*end == '\0')
			break;
		if (*end != '-')
			return kopt_errf(err, errlen, -EINVAL,
					 "shape '%s': bad character '%c'", s,
					 *end);
		p = end + 1;
	}
	if (*end != '\0')
		return kopt_errf(err, errlen, -EINVAL,
				 "shape '%s': more than %d hidden layers", s,
				 KOPT_MLP_MAX_HIDDEN);
	if (n < 2 || v[n - 1] != 1)
		return kopt_errf(err, errlen, -EINVAL,
				 "shape '%s': must end in one output unit (-1)",
				 s);
	if (v[0] > KOPT_MLP_MAX_IN)
		return kopt_errf(err, errlen, -EINVAL,
				 "shape '%s': %ld inputs exceed the cap "
				 "of %d",
				 s, v[0], KOPT_MLP_MAX_IN);
	m->n_in = v[0];
	m->n_hidden = n - 2;
	for (i = 0; i < KOPT_MLP_MAX_HIDDEN; i++)
		m->units[i] = 0;
	for (i = 1; i < n - 1; i++) {
		if (v[i] > KOPT_MLP_MAX_UNITS)
			return kopt_errf(
				err, errlen, -EINVAL,
				"shape '%s': %ld units exceed the cap of %d", s,
				v[i], KOPT_MLP_MAX_UNITS);
		m->units[i - 1] = v[i];
	}
	return 0;
}

/* ---- validation -------------------------------------------------------- */

/* Largest |x| an input (saturated to 32 bits) or activation can have. */
#define KOPT_MLP_X_MAX (1ULL << 31)

/*
 * Worst-case |accumulator| of one unit: sum |w| * 2^31 + |bias + round|.
 * Exact in 128 bits: sum |w| < 2^37, so the product < 2^68.
 */
static unsigned __int128 unit_worst(const struct kopt_model *m, __u32 l,
				    __u32 j)
{
	__u32 n = kopt_model_layer_in(m, l), i;
	unsigned __int128 sum = 0;
	__int128 bias;

	for (i = 0; i < n; i++)
		sum += (__u64)llabs((long long)m->w[l][j][i]);
	bias = (__int128)m->b[l][j] + kopt_mlp_half(kopt_model_shift(m, l));
	return sum * KOPT_MLP_X_MAX + (bias < 0 ? -bias : bias);
}

static int check_shape(const struct kopt_model *m, char *err, size_t errlen)
{
	__u32 l;

	if (m->n_in == 0 || m->n_in > KOPT_MLP_MAX_IN)
		return kopt_errf(err, errlen, -EINVAL,
				 "n_in: %u inputs, the caps are 1..%d", m->n_in,
				 KOPT_MLP_MAX_IN);
	if (m->n_hidden > KOPT_MLP_MAX_HIDDEN)
		return kopt_errf(
			err, errlen, -EINVAL,
			"n_hidden: %u hidden layers exceed the cap of %d",
			m->n_hidden, KOPT_MLP_MAX_HIDDEN);
	for (l = 0; l < m->n_hidden; l++)
		if (m->units[l] == 0 || m->units[l] > KOPT_MLP_MAX_UNITS)
			return kopt_errf(
				err, errlen, -EINVAL,
				"units[%u]: %u units, the caps are 1..%d", l,
				m->units[l], KOPT_MLP_MAX_UNITS);
	if (m->frac_bits > KOPT_MLP_MAX_FRAC)
		return kopt_errf(err, errlen, -EINVAL,
				 "frac_bits: %u exceeds the cap of %d",
				 m->frac_bits, KOPT_MLP_MAX_FRAC);
	return 0;
}

static int check_caps(const struct kopt_model *m, char *err, size_t errlen)
{
	__u32 l;
	int ret = check_shape(m, err, errlen);

	if (ret)
		return ret;
	for (l = 0; l <= m->n_hidden; l++) {
		int shift = kopt_model_shift(m, l);

		if (m->wfrac[l] > KOPT_MLP_MAX_WFRAC)
			return kopt_errf(err, errlen, -EINVAL,
					 "wfrac[%u]: %u exceeds the cap of %d",
					 l, m->wfrac[l], KOPT_MLP_MAX_WFRAC);
		if (shift < 0 || shift > KOPT_MLP_MAX_SHIFT)
			return kopt_errf(
				err, errlen, -EINVAL,
				"wfrac[%u]: %u gives layer %u a shift of %d, "
				"outside 0..%d (frac_bits %u)",
				l, m->wfrac[l], l, shift, KOPT_MLP_MAX_SHIFT,
				m->frac_bits);
	}
	return 0;
}

int kopt_model_check(const struct kopt_model *m, char *err, size_t errlen)
{
	__u32 l, j, i;
	int ret = check_caps(m, err, errlen);

	if (ret)
		return ret;
	for (i = 0; i < m->n_in; i++)
		if (m->feature[i] >= KOPT_FEAT_NR)
			return kopt_errf(err, errlen, -EINVAL,
					 "feature[%u]: unknown feature id %u",
					 i, m->feature[i]);
	for (l = 0; l <= m->n_hidden; l++) {
		for (j = 0; j < kopt_model_layer_out(m, l); j++) {
			unsigned __int128 worst = unit_worst(m, l, j);

			if (worst <= (unsigned __int128)INT64_MAX)
				continue;
			return kopt_errf(
				err, errlen, -EINVAL,
				"layer %u unit %u: weights could overflow the "
				"64-bit accumulator (worst case 2^%.1f, "
				"limit 2^63): lower wfrac[%u] and requantize",
				l, j, log2((double)worst), l);
		}
	}
	return 0;
}

/* ---- encoding ------------------------------------------------------------ */

static size_t body_len(const struct kopt_model *m)
{
	size_t len = (size_t)m->n_in * KOPT_FEAT_NAME_LEN;
	__u32 l;

	for (l = 0; l <= m->n_hidden; l++)
		len += (size_t)kopt_model_layer_out(m, l) *
		       (kopt_model_layer_in(m, l) * 4 + 8);
	return len;
}

static void put16(unsigned char *p, __u16 v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static void put32(unsigned char *p, __u32 v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64(unsigned char *p, __u64 v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static __u16 get16(const unsigned char *p)
{
	__u16 v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static __u32 get32(const unsigned char *p)
{
	__u32 v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static __u64 get64(const unsigned char *p)
{
	__u64 v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static const char *const target_names[KOPT_NR_TARGETS] = {
	[KOPT_TARGET_NONE] = "unrecorded",
	[KOPT_TARGET_FORCED] = "forced",
	[KOPT_TARGET_DECISION] = "decision",
};

const char *kopt_model_target_name(__u32 target)
{
	return target < KOPT_NR_TARGETS ? target_names[target] : "unknown";
}

int kopt_model_target_id(const char *name)
{
	for (int t = KOPT_TARGET_FORCED; t < KOPT_NR_TARGETS; t++)
		if (!strcmp(name, target_names[t]))
			return t;
	return -1;
}

static __u32 crc_of(const unsigned char *p, size_t len)
{
	return crc32(crc32(0L, Z_NULL, 0), p, len);
}

int kopt_model_encode(struct kopt_model *m, void **bufp, size_t *lenp)
{
	size_t blen = body_len(m), len = KOPT_KMLP_HEADER + blen + 4;
	unsigned char *buf = calloc(1, len), *p;
	__u32 l, j, i;

	if (!buf)
		return -ENOMEM;
	memcpy(buf, KOPT_KMLP_MAGIC, 4);
	put16(buf + 4, KOPT_KMLP_VERSION);
	buf[6] = m->n_in;
	buf[7] = m->n_hidden;
	buf[8] = m->units[0];
	buf[9] = m->units[1];
	buf[10] = m->frac_bits;
	for (l = 0; l < KOPT_MLP_LAYERS; l++)
		buf[11 + l] = m->wfrac[l];
	put16(buf + 14, m->target);
	put32(buf + 16, (__u32)m->threshold);
	put32(buf + 20, blen);
	p = buf + KOPT_KMLP_HEADER;
	for (i = 0; i < m->n_in; i++, p += KOPT_FEAT_NAME_LEN)
		snprintf((char *)p, KOPT_FEAT_NAME_LEN, "%s",
			 kopt_feat_name(m->feature[i]) ?: "");
	for (l = 0; l <= m->n_hidden; l++) {
		__u32 n_in = kopt_model_layer_in(m, l);
		__u32 n_out = kopt_model_layer_out(m, l);

		for (j = 0; j < n_out; j++)
			for (i = 0; i < n_in; i++, p += 4)
				put32(p, (__u32)m->w[l][j][i]);
		for (j = 0; j < n_out; j++, p += 8)
			put64(p, (__u64)m->b[l][j]);
	}
	m->crc32 = crc_of(buf, len - 4);
	put32(buf + len - 4, m->crc32);
	*bufp = buf;
	*lenp = len;
	return 0;
}

static int decode_header(const unsigned char *buf, size_t len,
			 struct kopt_model *m, char *err, size_t errlen)
{
	__u32 l, blen, stored, crc;
	__u16 version;

	if (len < 4 || memcmp(buf, KOPT_KMLP_MAGIC, 4))
		return kopt_errf(
			err, errlen, -EINVAL,
			"magic: the file does not start with '%s': not a "
			"kopt model (.kmlp) file",
			KOPT_KMLP_MAGIC);
	if (len < KOPT_KMLP_HEADER + 4)
		return kopt_errf(
			err, errlen, -EINVAL,
			"truncated: %zu bytes, a header and CRC alone take "
			"%d",
			len, KOPT_KMLP_HEADER + 4);
	version = get16(buf + 4);
	if (version != KOPT_KMLP_VERSION)
		return kopt_errf(err, errlen, -EINVAL,
				 "version: file is version %u, this kopt reads "
				 "version %d: use a matching kopt",
				 version, KOPT_KMLP_VERSION);
	blen = get32(buf + 20);
	if (len != (size_t)KOPT_KMLP_HEADER + blen + 4)
		return kopt_errf(
			err, errlen, -EINVAL,
			"%s: the header announces %zu bytes, the file has "
			"%zu",
			len < (size_t)KOPT_KMLP_HEADER + blen + 4 ?
				"truncated" :
				"trailing data",
			(size_t)KOPT_KMLP_HEADER + blen + 4, len);
	stored = get32(buf + len - 4);
	crc = crc_of(buf, len - 4);
	if (stored != crc)
		return kopt_errf(
			err, errlen, -EINVAL,
			"crc32: stored 0x%08x, computed 0x%08x: the file is "
			"corrupt",
			stored, crc);
	if (get64(buf + 24))
		return kopt_errf(
			err, errlen, -EINVAL,
			"reserved: nonzero reserved header bytes (a newer "
			"format?)");
	if (get16(buf + 14) >= KOPT_NR_TARGETS)
		return kopt_errf(err, errlen, -EINVAL,
				 "target: %u is not a known target (0 not "
				 "recorded, 1 forced, 2 decision)",
				 get16(buf + 14));
	memset(m, 0, sizeof(*m));
	m->target = get16(buf + 14);
	m->n_in = buf[6];
	m->n_hidden = buf[7];
	m->units[0] = buf[8];
	m->units[1] = buf[9];
	m->frac_bits = buf[10];
	for (l = 0; l < KOPT_MLP_LAYERS; l++)
		m->wfrac[l] = buf[11 + l];
	m->threshold = (__s32)get32(buf + 16);
	m->crc32 = crc;
	return 0;
}

static int decode_features(const unsigned char *p, struct kopt_model *m,
			   char *err, size_t errlen)
{
	char name[KOPT_FEAT_NAME_LEN];
	__u32 i;
	int id;

	for (i = 0; i < m->n_in; i++, p += KOPT_FEAT_NAME_LEN) {
		if (!memchr(p, '\0', KOPT_FEAT_NAME_LEN))
			return kopt_errf(
				err, errlen, -EINVAL,
				"feature[%u]: name is not NUL-terminated "
				"within %d bytes",
				i, KOPT_FEAT_NAME_LEN);
		memcpy(name, p, KOPT_FEAT_NAME_LEN);
		/* NUL-padded: bytes after the name would survive no rewrite */
		for (size_t k = strlen(name); k < KOPT_FEAT_NAME_LEN; k++)
			if (p[k])
				return kopt_errf(
					err, errlen, -EINVAL,
					"feature[%u]: byte %zu after the name "
					"is not NUL padding",
					i, k);
		id = kopt_feat_id(name);
		if (id < 0)
			return kopt_errf(
				err, errlen, -EINVAL,
				"feature[%u]: unknown feature '%s': the "
				"collector knows pid, load_avg, ... (see "
				"include/kopt/features.h)",
				i, name);
		m->feature[i] = id;
	}
	return 0;
}

int kopt_model_decode(const void *image, size_t len, struct kopt_model *m,
		      char *err, size_t errlen)
{
	const unsigned char *buf = image, *p;
	size_t want;
	__u32 l, j, i;
	int ret;

	ret = decode_header(buf, len, m, err, errlen);
	if (ret)
		return ret;
	ret = check_caps(m, err, errlen);
	if (ret)
		return ret;
	want = body_len(m);
	if (get32(buf + 20) != want) {
		char shape[64];

		kopt_model_shape(m, shape, sizeof(shape));
		return kopt_errf(err, errlen, -EINVAL,
				 "body_len: %u bytes, shape %s needs %zu",
				 get32(buf + 20), shape, want);
	}
	p = buf + KOPT_KMLP_HEADER;
	ret = decode_features(p, m, err, errlen);
	if (ret)
		return ret;
	p += (size_t)m->n_in * KOPT_FEAT_NAME_LEN;
	for (l = 0; l <= m->n_hidden; l++) {
		__u32 n_in = kopt_model_layer_in(m, l);
		__u32 n_out = kopt_model_layer_out(m, l);

		for (j = 0; j < n_out; j++)
			for (i = 0; i < n_in; i++, p += 4)
				m->w[l][j][i] = (__s32)get32(p);
		for (j = 0; j < n_out; j++, p += 8)
			m->b[l][j] = (__s64)get64(p);
	}
	return kopt_model_check(m, err, errlen);
}

/* Largest file read: a 32-32-32-1 model is ~13 KB. */
#define KOPT_KMLP_MAX_FILE (1 << 20)

int kopt_model_read(const char *path, struct kopt_model *m, char *err,
		    size_t errlen)
{
	unsigned char *buf = malloc(KOPT_KMLP_MAX_FILE + 1);
	size_t len;
	FILE *f;
	int ret;

	if (!buf)
		return kopt_errf(err, errlen, -EINVAL, "%s: out of memory",
				 path);
	f = fopen(path, "rbe");
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		free(buf);
		return ret;
	}
	len = fread(buf, 1, KOPT_KMLP_MAX_FILE + 1, f);
	ret = ferror(f) ? -EIO : 0;
	fclose(f);
	if (ret)
		snprintf(err, errlen, "%s: read error", path);
	else if (len > KOPT_KMLP_MAX_FILE)
		ret = kopt_errf(err, errlen, -EINVAL,
				"%s: larger than %d bytes: not a model", path,
				KOPT_KMLP_MAX_FILE);
	else
		ret = kopt_model_decode(buf, len, m, err, errlen);
	free(buf);
	return ret;
}

int kopt_model_write(const char *path, struct kopt_model *m, char *err,
		     size_t errlen)
{
	size_t len;
	void *buf;
	FILE *f;
	int ret;

	ret = kopt_model_check(m, err, errlen);
	if (ret)
		return ret;
	ret = kopt_model_encode(m, &buf, &len);
	if (ret)
		return kopt_errf(err, errlen, -EINVAL, "%s: out of memory",
				 path);
	f = fopen(path, "wbe");
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
	} else {
		if (fwrite(buf, 1, len, f) != len)
			ret = -EIO;
		if (fclose(f) && !ret)
			ret = -errno;
		if (ret)
			snprintf(err, errlen, "%s: write error: %s", path,
				 strerror(-ret));
	}
	free(buf);
	return ret;
}

/* ---- map value, evaluator ------------------------------------------------ */

void kopt_model_to_mlp(const struct kopt_model *m, struct kopt_mlp *out)
{
	__u32 l, j, i;

	memset(out, 0, sizeof(*out));
	out->n_in = m->n_in;
	out->n_hidden = m->n_hidden;
	out->frac_bits = m->frac_bits;
	out->threshold = m->threshold;
	out->crc32 = m->crc32;
	for (i = 0; i < m->n_in; i++) {
		out->feature[i] = m->feature[i];
		out->feature_mask |= KOPT_FEAT_BIT(m->feature[i]);
	}
	for (l = 0; l < m->n_hidden; l++) {
		struct kopt_mlp_layer *L = &out->hidden[l];
		__u32 shift = kopt_model_shift(m, l);

		L->n_in = kopt_model_layer_in(m, l);
		L->n_out = m->units[l];
		L->shift = shift;
		for (j = 0; j < L->n_out; j++) {
			L->bias[j] = m->b[l][j] + kopt_mlp_half(shift);
			for (i = 0; i < L->n_in; i++)
				L->w[j][i] = m->w[l][j][i];
		}
	}
	out->out.n_in = kopt_model_layer_in(m, l);
	out->out.shift = kopt_model_shift(m, l);
	out->out.bias = m->b[l][0] + kopt_mlp_half(out->out.shift);
	for (i = 0; i < out->out.n_in; i++)
		out->out.w[i] = m->w[l][0][i];
}

static int weight_from_cell(__s64 cell, __s32 *w)
{
	if (cell < KOPT_MLP_S32_MIN || cell > KOPT_MLP_S32_MAX)
		return -EINVAL;
	*w = (__s32)cell;
	return 0;
}

/* Layer l of a map value: the inverse of kopt_model_to_mlp for one layer. */
static int layer_from_mlp(struct kopt_model *m, __u32 l, const __s64 *bias,
			  const __s64 *w, __u32 stride, __u32 shift, char *err,
			  size_t errlen)
{
	__u32 n_in = kopt_model_layer_in(m, l), j, i;

	for (j = 0; j < kopt_model_layer_out(m, l); j++) {
		m->b[l][j] = bias[j] - (__s64)kopt_mlp_half(shift);
		for (i = 0; i < n_in; i++)
			if (weight_from_cell(w[j * stride + i], &m->w[l][j][i]))
				return kopt_errf(
					err, errlen, -EINVAL,
					"layer %u: weight [%u][%u] is not "
					"a 32-bit value",
					l, j, i);
	}
	return 0;
}

int kopt_model_from_mlp(const struct kopt_mlp *in, struct kopt_model *m,
			char *err, size_t errlen)
{
	__u32 l, i, shift;
	int ret;

	memset(m, 0, sizeof(*m));
	if (in->n_in == 0)
		return kopt_errf(err, errlen, -EINVAL, "empty slot: no model");
	m->n_in = in->n_in;
	m->n_hidden = in->n_hidden;
	m->frac_bits = in->frac_bits;
	m->threshold = in->threshold;
	m->crc32 = in->crc32;
	for (l = 0; l < in->n_hidden && l < KOPT_MLP_MAX_HIDDEN; l++)
		m->units[l] = in->hidden[l].n_out;
	for (i = 0; i < in->n_in && i < KOPT_MLP_MAX_IN; i++)
		m->feature[i] = in->feature[i];
	for (l = 0; l <= m->n_hidden && l < KOPT_MLP_LAYERS; l++) {
		shift = l < m->n_hidden ? in->hidden[l].shift : in->out.shift;
		/* shift = wfrac + in_frac - frac_bits */
		m->wfrac[l] = shift + m->frac_bits - kopt_model_in_frac(m, l);
	}
	ret = check_caps(m, err, errlen);
	if (ret)
		return ret;
	for (l = 0; l < m->n_hidden; l++) {
		ret = layer_from_mlp(m, l, in->hidden[l].bias,
				     &in->hidden[l].w[0][0], KOPT_MLP_WIDTH,
				     in->hidden[l].shift, err, errlen);
		if (ret)
			return ret;
	}
	ret = layer_from_mlp(m, l, &in->out.bias, in->out.w, 0, in->out.shift,
			     err, errlen);
	return ret ?: kopt_model_check(m, err, errlen);
}

int kopt_mlp_eval_user(const struct kopt_mlp *m, const __s64 *in, __s32 *logit)
{
	/* needs no initialization; zeroed for static analyzers' sake */
	struct kopt_mlp_scratch scratch = {};

	return kopt_mlp_eval(m, in, 0, &scratch, logit);
}

/* ---- human and JSON forms -------------------------------------------------- */

static void print_layer(FILE *f, const struct kopt_model *m, __u32 l)
{
	__u32 n_in = kopt_model_layer_in(m, l),
	      n_out = kopt_model_layer_out(m, l);
	__s64 bmin = INT64_MAX, bmax = INT64_MIN;
	unsigned __int128 worst = 0;
	__s32 wmax = 0;
	__u32 j, i;

	for (j = 0; j < n_out; j++) {
		unsigned __int128 u = unit_worst(m, l, j);

		if (u > worst)
			worst = u;
		bmin = m->b[l][j] < bmin ? m->b[l][j] : bmin;
		bmax = m->b[l][j] > bmax ? m->b[l][j] : bmax;
		for (i = 0; i < n_in; i++)
			if (llabs(m->w[l][j][i]) > llabs(wmax))
				wmax = m->w[l][j][i];
	}
	fprintf(f,
		"  layer %u      %u -> %u %s, weights Q.%u (shift %d), "
		"max |w| %lld, bias %lld..%lld, worst |acc| 2^%.1f of 2^63\n",
		l, n_in, n_out, l == m->n_hidden ? "logit" : "ReLU",
		m->wfrac[l], kopt_model_shift(m, l), llabs(wmax),
		(long long)bmin, (long long)bmax,
		worst ? log2((double)worst) : 0.0);
}

void kopt_model_print(FILE *f, const struct kopt_model *m, const char *title)
{
	char shape[64];
	__u32 i, l;

	kopt_model_shape(m, shape, sizeof(shape));
	fprintf(f, "model %s\n", title);
	fprintf(f, "  format       kmlp version %d, crc32 0x%08x\n",
		KOPT_KMLP_VERSION, m->crc32);
	fprintf(f, "  target       %s\n", kopt_model_target_name(m->target));
	fprintf(f,
		"  shape        %s (%u inputs, %u hidden layer%s, 1 logit)\n",
		shape, m->n_in, m->n_hidden, m->n_hidden == 1 ? "" : "s");
	fprintf(f,
		"  fixed point  activations Q.%u (frac_bits), 64-bit "
		"accumulators, saturated to 32 bits\n",
		m->frac_bits);
	fprintf(f, "  threshold    %d (positive iff logit >= %.6f)\n",
		m->threshold, ldexp(m->threshold, -(int)m->frac_bits));
	fprintf(f, "  inputs      ");
	for (i = 0; i < m->n_in; i++)
		fprintf(f, " %s", kopt_feat_name(m->feature[i]) ?: "?");
	fprintf(f, "\n");
	for (l = 0; l <= m->n_hidden; l++)
		print_layer(f, m, l);
}

static struct json_object *layer_json(const struct kopt_model *m, __u32 l)
{
	__u32 n_in = kopt_model_layer_in(m, l),
	      n_out = kopt_model_layer_out(m, l);
	struct json_object *o = json_object_new_object();
	struct json_object *ws = json_object_new_array();
	struct json_object *bs = json_object_new_array();
	__u32 j, i;

	json_object_object_add(o, "n_in", json_object_new_int(n_in));
	json_object_object_add(o, "n_out", json_object_new_int(n_out));
	json_object_object_add(
		o, "activation",
		json_object_new_string(l == m->n_hidden ? "logit" : "relu"));
	json_object_object_add(o, "weight_frac_bits",
			       json_object_new_int(m->wfrac[l]));
	json_object_object_add(o, "shift",
			       json_object_new_int(kopt_model_shift(m, l)));
	for (j = 0; j < n_out; j++) {
		struct json_object *row = json_object_new_array();

		for (i = 0; i < n_in; i++)
			json_object_array_add(
				row, json_object_new_int(m->w[l][j][i]));
		json_object_array_add(ws, row);
		json_object_array_add(bs, json_object_new_int64(m->b[l][j]));
	}
	json_object_object_add(o, "weights", ws);
	json_object_object_add(o, "bias", bs);
	return o;
}

struct json_object *kopt_model_json(const struct kopt_model *m)
{
	struct json_object *o = json_object_new_object();
	struct json_object *feats = json_object_new_array();
	struct json_object *hidden = json_object_new_array();
	struct json_object *layers = json_object_new_array();
	char buf[64];
	__u32 i, l;

	json_object_object_add(o, "format", json_object_new_string("kmlp"));
	json_object_object_add(o, "version",
			       json_object_new_int(KOPT_KMLP_VERSION));
	snprintf(buf, sizeof(buf), "0x%08x", m->crc32);
	json_object_object_add(o, "crc32", json_object_new_string(buf));
	kopt_model_shape(m, buf, sizeof(buf));
	json_object_object_add(o, "shape", json_object_new_string(buf));
	json_object_object_add(o, "n_in", json_object_new_int(m->n_in));
	for (l = 0; l < m->n_hidden; l++)
		json_object_array_add(hidden, json_object_new_int(m->units[l]));
	json_object_object_add(o, "hidden", hidden);
	json_object_object_add(o, "frac_bits",
			       json_object_new_int(m->frac_bits));
	json_object_object_add(o, "threshold",
			       json_object_new_int(m->threshold));
	json_object_object_add(
		o, "target",
		json_object_new_string(kopt_model_target_name(m->target)));
	json_object_object_add(o, "threshold_real",
			       json_object_new_double(ldexp(
				       m->threshold, -(int)m->frac_bits)));
	for (i = 0; i < m->n_in; i++)
		json_object_array_add(
			feats, json_object_new_string(
				       kopt_feat_name(m->feature[i]) ?: "?"));
	json_object_object_add(o, "features", feats);
	for (l = 0; l <= m->n_hidden; l++)
		json_object_array_add(layers, layer_json(m, l));
	json_object_object_add(o, "layers", layers);
	return o;
}

/* ---- quantization ----------------------------------------------------------- */

/* Layer l of f with the normalization folded in (layer 0 only). */
static void effective_layer(const struct kopt_mlp_float *f, __u32 l, __u32 n_in,
			    __u32 n_out,
			    double w[KOPT_MLP_MAX_UNITS][KOPT_MLP_WIDTH],
			    double *b)
{
	__u32 j, i;

	for (j = 0; j < n_out; j++) {
		b[j] = f->b[l][j];
		for (i = 0; i < n_in; i++) {
			w[j][i] = f->w[l][j][i];
			if (l == 0) {
				w[j][i] /= f->scale[i];
				b[j] -= w[j][i] * f->mean[i];
			}
		}
	}
}

/* Quantizes one layer with k weight fractional bits; false if it won't fit. */
static bool quantize_layer(struct kopt_model *m, __u32 l, __u32 k,
			   double w[KOPT_MLP_MAX_UNITS][KOPT_MLP_WIDTH],
			   const double *b)
{
	__u32 n_in = kopt_model_layer_in(m, l),
	      n_out = kopt_model_layer_out(m, l);
	int acc_frac = k + kopt_model_in_frac(m, l);
	__u32 j, i;

	m->wfrac[l] = k;
	if (kopt_model_shift(m, l) > KOPT_MLP_MAX_SHIFT)
		return false;
	for (j = 0; j < n_out; j++) {
		double bq = ldexp(b[j], acc_frac);

		if (fabs(bq) >= 0x1p62)
			return false;
		m->b[l][j] = llround(bq);
		for (i = 0; i < n_in; i++) {
			double wq = ldexp(w[j][i], k);

			if (fabs(wq) > KOPT_MLP_S32_MAX)
				return false;
			m->w[l][j][i] = (__s32)llround(wq);
		}
		if (unit_worst(m, l, j) > (unsigned __int128)INT64_MAX)
			return false;
	}
	return true;
}

int kopt_model_quantize(const struct kopt_mlp_float *f, __u32 frac_bits,
			struct kopt_model *m, char *err, size_t errlen)
{
	double w[KOPT_MLP_MAX_UNITS][KOPT_MLP_WIDTH];
	double b[KOPT_MLP_MAX_UNITS], t;
	__u32 l, i;
	int k;

	memset(m, 0, sizeof(*m));
	m->n_in = f->n_in;
	m->n_hidden = f->n_hidden;
	memcpy(m->units, f->units, sizeof(m->units));
	m->frac_bits = frac_bits;
	memcpy(m->feature, f->feature, sizeof(m->feature));
	if (check_shape(m, err, errlen))
		return -EINVAL;
	for (i = 0; i < f->n_in; i++)
		if (!(f->scale[i] > 0))
			return kopt_errf(err, errlen, -EINVAL,
					 "feature[%u]: scale must be > 0", i);
	for (l = 0; l <= m->n_hidden; l++) {
		int lowest = l == 0 ? (int)frac_bits : 0;

		effective_layer(f, l, kopt_model_layer_in(m, l),
				kopt_model_layer_out(m, l), w, b);
		for (k = KOPT_MLP_MAX_WFRAC; k >= lowest; k--)
			if (quantize_layer(m, l, k, w, b))
				break;
		if (k < lowest)
			return kopt_errf(err, errlen, -EINVAL,
					 "layer %u: weights too large for %u "
					 "fractional bits: lower frac_bits",
					 l, frac_bits);
	}
	t = round(ldexp(f->threshold, frac_bits));
	m->threshold = t > KOPT_MLP_S32_MAX ? KOPT_MLP_S32_MAX :
		       t < KOPT_MLP_S32_MIN ? KOPT_MLP_S32_MIN :
					      (__s32)t;
	return kopt_model_check(m, err, errlen);
}

double kopt_mlp_float_eval(const struct kopt_mlp_float *f, const double *x)
{
	double a[KOPT_MLP_WIDTH], y[KOPT_MLP_WIDTH], acc;
	__u32 n = f->n_in, l, j, i, n_out;

	for (i = 0; i < n; i++)
		a[i] = (x[i] - f->mean[i]) / f->scale[i];
	for (l = 0; l <= f->n_hidden; l++) {
		n_out = l == f->n_hidden ? 1 : f->units[l];
		for (j = 0; j < n_out; j++) {
			acc = f->b[l][j];
			for (i = 0; i < n; i++)
				acc += f->w[l][j][i] * a[i];
			y[j] = l == f->n_hidden || acc > 0 ? acc : 0;
		}
		memcpy(a, y, sizeof(a));
		n = n_out;
	}
	return a[0];
}

/* ---- random models, PRNG --------------------------------------------------- */

void kopt_rng_seed(struct kopt_rng *r, unsigned long seed)
{
	r->x[0] = 0x330e ^ (seed >> 32);
	r->x[1] = seed & 0xffff;
	r->x[2] = (seed >> 16) & 0xffff;
}

double kopt_rng_uniform(struct kopt_rng *r)
{
	return erand48(r->x);
}

__u64 kopt_rng_u64(struct kopt_rng *r)
{
	__u64 hi = (__u32)jrand48(r->x), lo = (__u32)jrand48(r->x);

	return hi << 32 | lo;
}

static double uniform(struct kopt_rng *r, double lo, double hi)
{
	return lo + (hi - lo) * kopt_rng_uniform(r);
}

void kopt_mlp_float_random(struct kopt_mlp_float *f, const struct kopt_model *m,
			   unsigned long seed)
{
	struct kopt_rng r;
	__u32 l, j, i, n_in, n_out;
	double lim;

	kopt_rng_seed(&r, seed);
	memset(f, 0, sizeof(*f));
	f->n_in = m->n_in;
	f->n_hidden = m->n_hidden;
	memcpy(f->units, m->units, sizeof(f->units));
	memcpy(f->feature, m->feature, sizeof(f->feature));
	/* raw features from ~1 (flags) to ~1e6 (ns, PELT sums) */
	for (i = 0; i < f->n_in; i++) {
		f->scale[i] = pow(10, uniform(&r, 0, 6));
		f->mean[i] = uniform(&r, -1, 1) * f->scale[i];
	}
	for (l = 0; l <= f->n_hidden; l++) {
		n_in = l == 0 ? f->n_in : f->units[l - 1];
		n_out = l == f->n_hidden ? 1 : f->units[l];
		lim = sqrt(6.0 / (n_in + n_out)); /* Glorot uniform */
		for (j = 0; j < n_out; j++) {
			f->b[l][j] = uniform(&r, -0.1, 0.1);
			for (i = 0; i < n_in; i++)
				f->w[l][j][i] = uniform(&r, -lim, lim);
		}
	}
}
