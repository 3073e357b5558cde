// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt model: load, show, unload, verify and generate fixed-point MLP
 * models (.kmlp files, optimizer/model.h) and the live model in the kernel
 * (loader/lib/bpf/mlp.h, include/kopt/mlp_map.h).
 *
 *   kopt model load FILE       validate, write the standby slot, flip
 *   kopt model show FILE       human form (--json: the JSON export)
 *   kopt model show --pinned   the live model, its generation, the shadow
 *                              predictor's counters
 *   kopt model unload          remove the pins (and bpffs if kopt mounted)
 *   kopt model verify FILE     BPF evaluator vs userspace, bit for bit
 *   kopt model gen             a random model, for tests and benchmarks
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"
#include "opts.h"
#include "mlp.h"
#include "model.h"
#include "train.h"

#define ERR_LEN 512

static void print_json(struct json_object *o)
{
	printf("%s\n", kopt_json_text(o));
	json_object_put(o);
}

/* Reads and validates FILE; prints the reason on failure. */
static struct kopt_model *read_model(const char *step, const char *path)
{
	struct kopt_model *m = malloc(sizeof(*m));
	char err[ERR_LEN];

	if (!m) {
		pr_warn("%s: out of memory\n", step);
		return NULL;
	}
	if (kopt_model_read(path, m, err, sizeof(err))) {
		pr_warn("%s: %s rejected: %s\n", step, path, err);
		free(m);
		return NULL;
	}
	return m;
}

/* The model's features shadow program `prog` cannot compute, as JSON. */
static struct json_object *shadow_missing(const struct kopt_model *m,
					  const char *prog)
{
	struct json_object *a = json_object_new_array();
	__u64 have = kopt_mlp_shadow_features(prog);
	__u32 i;

	for (i = 0; i < m->n_in; i++)
		if (!(have & KOPT_FEAT_BIT(m->feature[i])))
			json_object_array_add(
				a, json_object_new_string(
					   kopt_feat_name(m->feature[i])));
	return a;
}

static void print_missing(struct json_object *missing)
{
	size_t i, n = json_object_array_length(missing);

	if (!n)
		return;
	printf("note: the shadow predictor cannot compute");
	for (i = 0; i < n; i++)
		printf(" %s", json_object_get_string(
				      json_object_array_get_idx(missing, i)));
	printf(" at sched_migrate_task: it feeds them 0\n");
}

/* ---- load ------------------------------------------------------------------ */

static int report_load(const char *path, const struct kopt_model *m,
		       const struct kopt_mlp_live *lv, __u64 seq,
		       const char *warn)
{
	struct json_object *missing = shadow_missing(m, lv->shadow), *o;
	char shape[64], crc[16];

	kopt_model_shape(m, shape, sizeof(shape));
	if (warn[0])
		pr_warn("%s\n", warn);
	if (!kopt_env.json) {
		printf("loaded %s (%s, crc32 0x%08x) into slot %u: generation "
		       "%llu\n",
		       path, shape, m->crc32, kopt_mlp_seq_slot(seq),
		       (unsigned long long)(seq >> 1));
		if (lv->shadow[0]) {
			printf("shadow predictor: %s attached to "
			       "tp_btf/sched_migrate_task (%s/%s)\n",
			       lv->shadow, kopt_pin_dir(), KOPT_PIN_SHADOW);
			print_missing(missing);
		}
		json_object_put(missing);
		return KOPT_EXIT_OK;
	}
	o = json_object_new_object();
	json_object_object_add(o, "file", json_object_new_string(path));
	json_object_object_add(o, "shape", json_object_new_string(shape));
	snprintf(crc, sizeof(crc), "0x%08x", m->crc32);
	json_object_object_add(o, "crc32", json_object_new_string(crc));
	json_object_object_add(o, "slot",
			       json_object_new_int(kopt_mlp_seq_slot(seq)));
	json_object_object_add(o, "generation",
			       json_object_new_int64(seq >> 1));
	json_object_object_add(o, "seq", json_object_new_int64(seq));
	json_object_object_add(o, "pin_dir",
			       json_object_new_string(kopt_pin_dir()));
	json_object_object_add(
		o, "shadow",
		lv->shadow[0] ? json_object_new_string(lv->shadow) : NULL);
	json_object_object_add(o, "shadow_missing_features", missing);
	print_json(o);
	return KOPT_EXIT_OK;
}

static int model_load(int argc, char **argv)
{
	const char *file = NULL, *sock = NULL;
	char abs[PATH_MAX];
	bool no_shadow = false;
	const struct kopt_opts spec = {
		.cmd = "kopt model load",
		.usage = "[--no-shadow] [--json] [--socket PATH] FILE",
		.desc = "Validates FILE (.kmlp), writes it into the standby slot "
			"of the pinned\nweights map under $KOPT_PIN_DIR (default " KOPT_PIN_DIR_DEFAULT
			") and makes it\nlive with one "
			"atomic store; readers never see a half-written model.\n"
			"Mounts bpffs on " KOPT_BPFFS " first if it is not "
			"mounted (kopt model\nunload undoes that). Also attaches "
			"the shadow predictor (see the top of\n"
			"bpf/mlp_shadow.bpf.c) unless --no-shadow.",
		.opts = KOPT_OPTS(
			KOPT_OPT_FLAG("no-shadow", 'n', &no_shadow,
				      "do not attach the shadow predictor"),
			KOPT_OPT_STR("socket", 'S', &sock, "PATH",
				     "koptd's control socket: when koptd "
				     "runs (here, or\nat the default "
				     "koptd.sock of the state directory),\n"
				     "its migration job loads the model"),
			KOPT_OPT_JSON("print the result as JSON")),
		.args = KOPT_ARGS(KOPT_ARG("FILE", &file)),
	};
	char err[ERR_LEN], warn[KOPT_WARN_LEN] = "";
	struct kopt_mlp_live lv;
	struct kopt_model *m;
	struct kopt_mlp *mlp;
	int ret;
	__u64 seq;

	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	/* validate before touching anything in the kernel */
	m = read_model("kopt model load", file);
	if (!m)
		return KOPT_EXIT_FAIL;
	/* koptd owns the model when it runs: it loads the file itself */
	if (!realpath(file, abs)) {
		pr_warn("model load: %s: %s\n", file, strerror(errno));
		free(m);
		return KOPT_EXIT_FAIL;
	}
	if (koptd_try(sock, "kopt model load", "model-load", abs, &ret)) {
		free(m);
		return ret;
	}
	if (!kopt_have_bpf_caps()) {
		free(m);
		return kopt_need_root("kopt model load");
	}
	mlp = malloc(sizeof(*mlp));
	ret = mlp ? kopt_mlp_live_open(&lv, true, !no_shadow, warn, err,
				       sizeof(err)) :
		    -ENOMEM;
	if (ret) {
		pr_warn("model load: %s\n", mlp ? err : "out of memory");
		free(mlp);
		free(m);
		return KOPT_EXIT_BPF;
	}
	kopt_model_to_mlp(m, mlp);
	ret = kopt_mlp_swap(lv.weights_fd, lv.active, lv.lock_fd, mlp, &seq);
	if (ret)
		pr_warn("model load: write the standby slot of %s/%s: %s; "
			"the live model is unchanged\n",
			kopt_pin_dir(), KOPT_PIN_WEIGHTS, strerror(-ret));
	else
		ret = report_load(file, m, &lv, seq, warn);
	kopt_mlp_live_close(&lv);
	free(mlp);
	free(m);
	return ret ? KOPT_EXIT_BPF : KOPT_EXIT_OK;
}

/* ---- show ------------------------------------------------------------------- */

static const char *const stat_names[KOPT_MLP_STAT_NR] = {
	[KOPT_MLP_STAT_INFERENCES] = "inferences",
	[KOPT_MLP_STAT_POSITIVES] = "positives",
	[KOPT_MLP_STAT_NO_MODEL] = "no_model",
	[KOPT_MLP_STAT_BUSY] = "busy",
	[KOPT_MLP_STAT_MISSING] = "missing_features",
};

static struct json_object *stats_json(const struct kopt_mlp_live *lv)
{
	struct json_object *o = json_object_new_object();
	__u64 stats[KOPT_MLP_STAT_NR];
	int i;

	json_object_object_add(
		o, "program",
		lv->shadow[0] ? json_object_new_string(lv->shadow) : NULL);
	if (kopt_mlp_live_stats(lv, stats))
		return o;
	for (i = 0; i < KOPT_MLP_STAT_NR; i++)
		json_object_object_add(o, stat_names[i],
				       json_object_new_int64(stats[i]));
	return o;
}

static void print_stats(const struct kopt_mlp_live *lv)
{
	__u64 s[KOPT_MLP_STAT_NR];

	if (kopt_mlp_live_stats(lv, s)) {
		printf("shadow predictor: never loaded\n");
		return;
	}
	printf("shadow predictor: %s; %llu inferences, %llu positive "
	       "(%.1f%%), %llu with no model, %llu busy, %llu fed missing "
	       "features\n",
	       lv->shadow[0] ? lv->shadow : "detached",
	       (unsigned long long)s[KOPT_MLP_STAT_INFERENCES],
	       (unsigned long long)s[KOPT_MLP_STAT_POSITIVES],
	       s[KOPT_MLP_STAT_INFERENCES] ?
		       100.0 * s[KOPT_MLP_STAT_POSITIVES] /
			       s[KOPT_MLP_STAT_INFERENCES] :
		       0.0,
	       (unsigned long long)s[KOPT_MLP_STAT_NO_MODEL],
	       (unsigned long long)s[KOPT_MLP_STAT_BUSY],
	       (unsigned long long)s[KOPT_MLP_STAT_MISSING]);
}

static int show_live(const struct kopt_mlp_live *lv, const struct kopt_mlp *mlp,
		     __u64 seq)
{
	struct kopt_model *m = malloc(sizeof(*m));
	char err[ERR_LEN], title[PATH_MAX + 64];
	struct json_object *o;
	bool empty = mlp->n_in == 0;

	if (!m)
		return KOPT_EXIT_FAIL;
	if (!empty && kopt_model_from_mlp(mlp, m, err, sizeof(err))) {
		pr_warn("model show: the live model in slot %u is not "
			"valid: %s\n",
			kopt_mlp_seq_slot(seq), err);
		free(m);
		return KOPT_EXIT_FAIL;
	}
	if (kopt_env.json) {
		o = json_object_new_object();
		json_object_object_add(o, "pin_dir",
				       json_object_new_string(kopt_pin_dir()));
		json_object_object_add(o, "seq", json_object_new_int64(seq));
		json_object_object_add(o, "generation",
				       json_object_new_int64(seq >> 1));
		json_object_object_add(
			o, "slot", json_object_new_int(kopt_mlp_seq_slot(seq)));
		json_object_object_add(o, "writer_busy",
				       json_object_new_boolean(seq & 1));
		json_object_object_add(o, "model",
				       empty ? NULL : kopt_model_json(m));
		json_object_object_add(o, "shadow", stats_json(lv));
		print_json(o);
	} else {
		printf("live model under %s: generation %llu, slot %u%s\n",
		       kopt_pin_dir(), (unsigned long long)(seq >> 1),
		       kopt_mlp_seq_slot(seq),
		       seq & 1 ? " (a writer is filling the other slot)" : "");
		snprintf(title, sizeof(title), "%s/%s[%u]", kopt_pin_dir(),
			 KOPT_PIN_WEIGHTS, kopt_mlp_seq_slot(seq));
		if (empty)
			printf("no model loaded yet\n");
		else
			kopt_model_print(stdout, m, title);
		print_stats(lv);
	}
	free(m);
	return KOPT_EXIT_OK;
}

static int show_pinned(void)
{
	char err[ERR_LEN], warn[KOPT_WARN_LEN] = "";
	struct kopt_mlp_live lv;
	struct kopt_mlp *mlp;
	__u64 seq;
	int ret;

	if (!kopt_have_bpf_caps())
		return kopt_need_root("kopt model show --pinned");
	if (kopt_mlp_live_open(&lv, false, false, warn, err, sizeof(err))) {
		pr_warn("model show: %s\n", err);
		return KOPT_EXIT_FAIL;
	}
	mlp = malloc(sizeof(*mlp));
	ret = mlp ? kopt_mlp_live_read(&lv, mlp, &seq) : -ENOMEM;
	if (ret)
		pr_warn("model show: read %s/%s: %s\n", kopt_pin_dir(),
			KOPT_PIN_WEIGHTS, strerror(-ret));
	else
		ret = show_live(&lv, mlp, seq);
	free(mlp);
	kopt_mlp_live_close(&lv);
	return ret < 0 ? KOPT_EXIT_BPF : ret;
}

static int model_show(int argc, char **argv)
{
	const char *file = NULL;
	bool pinned_model = false;
	const struct kopt_opts spec = {
		.cmd = "kopt model show",
		.usage = "[--json] FILE\n[--json] --pinned",
		.desc = "FILE: the model in human form, or with --json the full "
			"JSON export\n(every weight). --pinned: the live model "
			"under $KOPT_PIN_DIR, its\ngeneration (swaps so far) and "
			"the shadow predictor's counters.",
		.opts = KOPT_OPTS(
			KOPT_OPT_FLAG("pinned", 'p', &pinned_model,
				      "the live model, not a file"),
			KOPT_OPT_JSON("the full JSON export (every weight)")),
		.args = KOPT_ARGS(KOPT_ARG_OPT("FILE", &file)),
	};
	struct kopt_model *m;
	int ret;

	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	if (pinned_model && !file)
		return show_pinned();
	if (pinned_model || !file)
		return kopt_usage_error(spec.cmd, "expects exactly one of FILE "
						  "or --pinned");
	m = read_model("kopt model show", file);
	if (!m)
		return KOPT_EXIT_FAIL;
	if (kopt_env.json)
		print_json(kopt_model_json(m));
	else
		kopt_model_print(stdout, m, file);
	free(m);
	return KOPT_EXIT_OK;
}

/* ---- unload ------------------------------------------------------------------- */

static int model_unload(int argc, char **argv)
{
	const struct kopt_opts spec = {
		.cmd = "kopt model unload",
		.usage = "[--json]",
		.desc = "Detaches the shadow predictor and removes the pinned maps "
			"under\n$KOPT_PIN_DIR (default " KOPT_PIN_DIR_DEFAULT
			"); unmounts bpffs from " KOPT_BPFFS
			" if kopt\nmounted "
			"it and nothing else is pinned there.",
		.opts = KOPT_OPTS(KOPT_OPT_JSON("print the result as JSON")),
	};
	char err[ERR_LEN], note[ERR_LEN];
	int ret;

	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	if (!kopt_have_bpf_caps())
		return kopt_need_root("kopt model unload");
	if (kopt_mlp_unload(note, sizeof(note), err, sizeof(err))) {
		pr_warn("model unload: %s\n", err);
		return KOPT_EXIT_FAIL;
	}
	if (kopt_env.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "pin_dir",
				       json_object_new_string(kopt_pin_dir()));
		json_object_object_add(o, "result",
				       json_object_new_string(note));
		print_json(o);
	} else {
		printf("%s\n", note);
	}
	return KOPT_EXIT_OK;
}

/* ---- verify ------------------------------------------------------------------- */

static void verify_report(const char *path, const struct kopt_model *m,
			  const struct kopt_verify *v)
{
	struct json_object *o, *in;
	long total = v->random + v->edge;
	char shape[64];
	__u32 i;

	kopt_model_shape(m, shape, sizeof(shape));
	if (!kopt_env.json) {
		printf("verify %s (%s): %ld random + %ld edge-case inputs, BPF "
		       "(mlp_batch; %ld also via mlp_eval) vs userspace: %ld "
		       "mismatch%s\n",
		       path, shape, v->random, v->edge, v->via_xdp,
		       v->mismatches, v->mismatches == 1 ? "" : "es");
		printf("  logits %d..%d, %.1f%% positive, %.1f%% saturated\n",
		       v->logit_min, v->logit_max, 100.0 * v->positives / total,
		       100.0 * v->saturated / total);
		if (v->mismatches)
			printf("  first mismatch via %s: userspace %d (status "
			       "%d), BPF %d (status %d)\n",
			       v->bad_via, v->bad_user, v->bad_user_status,
			       v->bad_bpf, v->bad_bpf_status);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "file", json_object_new_string(path));
	json_object_object_add(o, "shape", json_object_new_string(shape));
	json_object_object_add(o, "random", json_object_new_int64(v->random));
	json_object_object_add(o, "edge_cases", json_object_new_int64(v->edge));
	json_object_object_add(o, "via_xdp", json_object_new_int64(v->via_xdp));
	json_object_object_add(o, "mismatches",
			       json_object_new_int64(v->mismatches));
	json_object_object_add(o, "positives",
			       json_object_new_int64(v->positives));
	json_object_object_add(o, "saturated",
			       json_object_new_int64(v->saturated));
	json_object_object_add(o, "logit_min",
			       json_object_new_int(v->logit_min));
	json_object_object_add(o, "logit_max",
			       json_object_new_int(v->logit_max));
	if (v->mismatches) {
		in = json_object_new_array();
		for (i = 0; i < m->n_in; i++)
			json_object_array_add(
				in, json_object_new_int64(v->bad_in[i]));
		json_object_object_add(o, "first_mismatch_input", in);
		json_object_object_add(o, "first_mismatch_via",
				       json_object_new_string(v->bad_via));
		json_object_object_add(o, "userspace_logit",
				       json_object_new_int(v->bad_user));
		json_object_object_add(o, "bpf_logit",
				       json_object_new_int(v->bad_bpf));
	}
	print_json(o);
}

static int model_verify(int argc, char **argv)
{
	const char *file = NULL;
	long n = 100000, seed = 1;
	const struct kopt_opts spec = {
		.cmd = "kopt model verify",
		.usage = "[-n N] [--seed S] [--json] FILE",
		.desc = "Runs the edge cases (zero, 32- and 64-bit extremes, "
			"saturation) and N\nrandom inputs (default 100000) "
			"through the BPF evaluator (BPF_PROG_TEST_RUN\nof "
			"bpf/mlp.bpf.c, on private maps: the live model is not "
			"touched) and\nthrough the userspace one; they must agree "
			"bit for bit. Exit 1 on any\nmismatch.",
		.opts = KOPT_OPTS(
			KOPT_OPT_LONG("count", 'n', &n, 0, 100000000, "N",
				      "random inputs (default 100000)",
				      .unit = "a count"),
			KOPT_OPT_LONG("seed", 's', &seed, 0, LONG_MAX, "S",
				      "seed of the random inputs (default 1)"),
			KOPT_OPT_JSON("print the result as JSON")),
		.args = KOPT_ARGS(KOPT_ARG("FILE", &file)),
	};
	struct kopt_verify v;
	struct kopt_model *m;
	char err[ERR_LEN];
	int ret;

	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	m = read_model("kopt model verify", file);
	if (!m)
		return KOPT_EXIT_FAIL;
	if (!kopt_have_bpf_caps()) {
		free(m);
		return kopt_need_root("kopt model verify");
	}
	ret = kopt_mlp_verify(m, n, seed, &v, err, sizeof(err));
	if (ret)
		pr_warn("model verify: %s\n", err);
	else
		verify_report(file, m, &v);
	free(m);
	if (ret)
		return KOPT_EXIT_BPF;
	return v.mismatches ? KOPT_EXIT_FAIL : KOPT_EXIT_OK;
}

/* ---- gen ---------------------------------------------------------------------- */

/* Default inputs: the features the shadow predictor computes, then others. */
static void default_features(struct kopt_model *m)
{
	__u32 order[KOPT_FEAT_NR], n = 0, i;
	int id;

	for (id = 0; id < KOPT_FEAT_NR; id++)
		if (KOPT_MLP_SHADOW_FEATURES & KOPT_FEAT_BIT(id))
			order[n++] = id;
	for (id = 0; id < KOPT_FEAT_NR; id++)
		if (!(KOPT_MLP_SHADOW_FEATURES & KOPT_FEAT_BIT(id)))
			order[n++] = id;
	for (i = 0; i < m->n_in; i++)
		m->feature[i] = order[i % KOPT_FEAT_NR];
}

#define GEN_CMD "kopt model gen"

static int parse_features(const char *arg, struct kopt_model *m)
{
	char *list = strdup(arg), *tok, *save = NULL;
	int id, ret = 0;
	__u32 n = 0;

	if (!list)
		return KOPT_EXIT_FAIL;
	for (tok = strtok_r(list, ",", &save); tok && !ret;
	     tok = strtok_r(NULL, ",", &save)) {
		id = kopt_feat_id(tok);
		if (id < 0)
			ret = kopt_usage_error(GEN_CMD,
					       "--features: unknown feature "
					       "'%s' (see "
					       "include/kopt/features.h)",
					       tok);
		else if (n == m->n_in)
			ret = kopt_usage_error(GEN_CMD,
					       "--features: more than the "
					       "shape's inputs");
		else
			m->feature[n++] = id;
	}
	if (!ret && n != m->n_in)
		ret = kopt_usage_error(GEN_CMD, "--features: fewer than the "
						"shape's inputs");
	free(list);
	return ret;
}

struct gen_args {
	const char *shape, *out;
	const char *features;
	long seed, frac_bits;
	double threshold;
};

static int gen_write(const struct gen_args *a)
{
	struct kopt_mlp_float *f = malloc(sizeof(*f));
	struct kopt_model *m = calloc(1, sizeof(*m));
	char err[ERR_LEN];
	int ret = KOPT_EXIT_OK;

	if (!f || !m) {
		ret = KOPT_EXIT_FAIL;
		goto out;
	}
	if (kopt_model_parse_shape(a->shape, m, err, sizeof(err))) {
		ret = kopt_usage_error(GEN_CMD, "--shape: %s", err);
		goto out;
	}
	default_features(m);
	if (a->features) {
		ret = parse_features(a->features, m);
		if (ret)
			goto out;
	}
	kopt_mlp_float_random(f, m, a->seed);
	f->threshold = a->threshold;
	if (kopt_model_quantize(f, a->frac_bits, m, err, sizeof(err)) ||
	    kopt_model_write(a->out, m, err, sizeof(err))) {
		pr_warn("model gen: %s\n", err);
		ret = KOPT_EXIT_FAIL;
		goto out;
	}
	if (!kopt_env.json)
		printf("wrote random model %s (%s, seed %ld, crc32 0x%08x): "
		       "for tests and benchmarks only\n",
		       a->out, a->shape, a->seed, m->crc32);
	else
		print_json(kopt_model_json(m));
out:
	free(f);
	free(m);
	return ret;
}

static int model_gen(int argc, char **argv)
{
	struct gen_args a = { .seed = 1, .frac_bits = 16 };
	const struct kopt_opts spec = {
		.cmd = GEN_CMD,
		.usage =
			"--shape IN-H1[-H2]-1 -o FILE [--seed S] [--frac-bits F] "
			"[--features a,b,...] [--threshold T]",
		.desc = "Writes a RANDOM model: random weights and random "
			"per-feature normalization,\nquantized like a trained one "
			"(normalization folded into the first layer).\nIt "
			"predicts nothing: it exists for tests and benchmarks "
			"(kopt train\nmakes real ones). Default features: those the "
			"shadow predictor computes first.\nDefaults: --seed 1 "
			"--frac-bits 16 --threshold 0 (on the logit).",
		.opts = KOPT_OPTS(
			KOPT_OPT_STR(
				"shape", 'S', &a.shape, "IN-H1[-H2]-1",
				"layer sizes: inputs, one or two hidden layers, "
				"one output",
				.flags = KOPT_OPT_REQUIRED),
			KOPT_OPT_STR("output", 'o', &a.out, "FILE",
				     "the .kmlp file to write",
				     .flags = KOPT_OPT_REQUIRED),
			KOPT_OPT_LONG("seed", 's', &a.seed, 0, LONG_MAX, "S",
				      "random seed (default 1)"),
			KOPT_OPT_LONG("frac-bits", 'f', &a.frac_bits, 0,
				      KOPT_MLP_MAX_FRAC, "F",
				      "fixed-point fraction bits (default 16)"),
			KOPT_OPT_STR(
				"features", 'F', &a.features, "a,b,...",
				"the inputs' features (default: those the shadow "
				"predictor computes first)"),
			KOPT_OPT_DOUBLE(
				"threshold", 't', &a.threshold, -1e6, 1e6, "T",
				"decision threshold on the logit (default 0)"),
			KOPT_OPT_JSON("print the model's JSON export")),
	};
	int ret;

	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	return gen_write(&a);
}

/* ---- dispatch ------------------------------------------------------------------- */

static const struct kopt_cmd model_cmds[] = {
	{ "load", model_load, "validate FILE and make it the live model" },
	{ "show", model_show, "show FILE or the live model (--pinned)" },
	{ "unload", model_unload, "remove the live model's pins" },
	{ "verify", model_verify, "BPF vs userspace evaluator, bit for bit" },
	{ "gen", model_gen, "write a random model (tests, benchmarks)" },
	{ "score", cmd_model_score, "fixed-point model on every row of a CSV" },
	{ "attach", cmd_model_attach, "register the sched_lb_ops policy" },
	{ "detach", cmd_model_detach, "unregister the sched_lb_ops policy" },
	{ "live", cmd_model_live,
	  "run a workload with the model in the kernel, scored" },
	{ NULL },
};

int cmd_model(int argc, char **argv)
{
	return kopt_dispatch("kopt model", model_cmds, argc, argv);
}
