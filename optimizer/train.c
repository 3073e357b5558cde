// SPDX-License-Identifier: GPL-2.0-only
/*
 * The trainer behind `kopt train` and `kopt model score` (optimizer/
 * train.h says what it does). The pieces, in file order:
 *
 *   dataset    a CSV reader for `kopt collect migrations` files
 *   metrics    confusion counts, balanced accuracy, F1, ROC AUC
 *   ranking    univariate ANOVA F of each feature against the label
 *   network    forward and backward passes of an n-h(-h)-1 ReLU MLP on
 *              row blocks with cblas_dgemm, class-balanced cross-entropy
 *   training   NLopt L-BFGS on the full training split, early stopping on
 *              the validation loss from inside the objective
 *   export     the fixed-point format with the best validation balanced
 *              accuracy (what the class-balanced loss trained for)
 *
 * Why the CSV reader is hand-written: Debian has libcsv, but it only
 * splits fields (a callback per cell); the work here is the integer
 * parsing, the column roles and the line/column error messages, which a
 * getline + strtoll loop does in ~100 lines at ~1 s per million rows.
 * Why backprop is hand-written: no C library in Debian does small-MLP
 * autodiff; the matrix products go to OpenBLAS, and selftests/
 * test_train.c checks the gradient against finite differences.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#include <nlopt.h>

#include "errf.h"
#include "train.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- dataset ------------------------------------------------------------- */

#define ROLE_IGNORE (-1)
#define ROLE_LABEL (-2)
#define ROLE_HOT (-3)
#define MAX_COLS 4096

struct reader {
	const char *path;
	const char *target;
	long lineno;
	int n_cols;
	char *names[MAX_COLS];
	int role[MAX_COLS]; /* feature id, ROLE_LABEL, ROLE_HOT or ROLE_IGNORE */
	bool hot; /* the header has a `hot` column */
	long cap;
};

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
			 e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* A line that holds no record: a comment or nothing but blanks. */
static bool skip_line(const char *s)
{
	s += strspn(s, " \t\r\n");
	return *s == '#' || *s == '\0';
}

static int parse_header(struct reader *r, char *line, __u64 want, __u64 need,
			struct kopt_dataset *ds, char *err, size_t errlen)
{
	bool label = false;
	char *tok, *rest = line;
	int c, id;

	/* strsep, not strtok: an empty name still counts as a column */
	while ((tok = strsep(&rest, ","))) {
		char *name = trim(tok);

		if (r->n_cols == MAX_COLS)
			return kopt_errf(err, errlen, -EINVAL,
					 "%s: line %ld: more than %d columns",
					 r->path, r->lineno, MAX_COLS);
		for (c = 0; c < r->n_cols && *name; c++)
			if (!strcmp(r->names[c], name))
				return kopt_errf(
					err, errlen, -EINVAL,
					"%s: line %ld: column '%s' appears "
					"twice in the header",
					r->path, r->lineno, name);
		r->names[r->n_cols] = strdup(name);
		if (!r->names[r->n_cols])
			return -ENOMEM;
		id = kopt_feat_id(name);
		if (!strcmp(name, r->target)) {
			r->role[r->n_cols] = ROLE_LABEL;
			label = true;
		} else if (!strcmp(name, "hot")) {
			r->role[r->n_cols] = ROLE_HOT;
			r->hot = true;
		} else if (id >= 0 && ((want | need) & KOPT_FEAT_BIT(id))) {
			r->role[r->n_cols] = id;
			ds->have |= KOPT_FEAT_BIT(id);
		} else {
			r->role[r->n_cols] = ROLE_IGNORE;
		}
		r->n_cols++;
	}
	if (!label)
		return kopt_errf(
			err, errlen, -EINVAL,
			"%s: line %ld: the header has no column '%s' (the "
			"target)",
			r->path, r->lineno, r->target);
	for (id = 0; id < KOPT_FEAT_NR; id++)
		if ((need & KOPT_FEAT_BIT(id)) &&
		    !(ds->have & KOPT_FEAT_BIT(id)))
			return kopt_errf(
				err, errlen, -EINVAL,
				"%s: line %ld: the header has no column "
				"'%s' (a feature the model reads)",
				r->path, r->lineno, kopt_feat_name(id));
	return 0;
}

static int grow(struct reader *r, struct kopt_dataset *ds)
{
	long cap = r->cap ? 2 * r->cap : 4096;
	void *p;
	int id;

	for (id = 0; id < KOPT_FEAT_NR; id++) {
		if (!(ds->have & KOPT_FEAT_BIT(id)))
			continue;
		p = realloc(ds->col[id], cap * sizeof(__s64));
		if (!p)
			return -ENOMEM;
		ds->col[id] = p;
	}
	p = realloc(ds->y, cap);
	if (!p)
		return -ENOMEM;
	ds->y = p;
	if (r->hot) {
		p = realloc(ds->hot, cap);
		if (!p)
			return -ENOMEM;
		ds->hot = p;
	}
	r->cap = cap;
	return 0;
}

/*
 * An integer cell. Values past S64_MAX up to U64_MAX (u64 kernel fields
 * such as vruntime) wrap to negative numbers: the BPF programs store
 * them in an __s64 feature array the same way.
 */
static const char *parse_cell(const char *s, const char *end, __s64 *v)
{
	char *e;
	long long x;

	errno = 0;
	x = strtoll(s, &e, 10);
	if (e == s || e != end)
		return "is not an integer";
	if (errno == ERANGE && x == LLONG_MAX) {
		unsigned long long u;

		errno = 0;
		u = strtoull(s, &e, 10);
		if (errno == ERANGE)
			return "is out of range (above 2^64-1)";
		*v = (__s64)u;
		return NULL;
	}
	if (errno == ERANGE)
		return "is out of range (below -2^63)";
	*v = x;
	return NULL;
}

static int parse_row(struct reader *r, char *p, struct kopt_dataset *ds,
		     char *err, size_t errlen)
{
	long row = ds->n;
	const char *why;
	int c = 0;
	__s64 v;

	for (;; c++) {
		char *end = p + strcspn(p, ",\r\n");
		int role = c < r->n_cols ? r->role[c] : ROLE_IGNORE;

		if (role != ROLE_IGNORE) {
			why = parse_cell(p, end, &v);
			if (!why && role == ROLE_LABEL && v != 0 && v != 1)
				why = "is not a 0/1 label";
			if (why)
				return kopt_errf(
					err, errlen, -EINVAL,
					"%s: line %ld, column %d '%s': "
					"'%.*s' %s",
					r->path, r->lineno, c + 1, r->names[c],
					(int)(end - p > 40 ? 40 : end - p), p,
					why);
			if (role == ROLE_LABEL)
				ds->y[row] = v;
			else if (role == ROLE_HOT)
				ds->hot[row] = v != 0;
			else
				ds->col[role][row] = v;
		}
		if (*end != ',')
			break;
		p = end + 1;
	}
	if (c + 1 != r->n_cols)
		return kopt_errf(
			err, errlen, -EINVAL,
			"%s: line %ld: %d cells, but the header has %d "
			"columns",
			r->path, r->lineno, c + 1, r->n_cols);
	ds->positives += ds->y[row];
	ds->n++;
	return 0;
}

static int read_lines(struct reader *r, FILE *f, __u64 want, __u64 need,
		      struct kopt_dataset *ds, char *err, size_t errlen)
{
	bool header = false;
	size_t cap = 0;
	char *line = NULL;
	int ret = 0;

	while (getline(&line, &cap, f) >= 0) {
		r->lineno++;
		if (skip_line(line))
			continue;
		if (!header) {
			header = true;
			ret = parse_header(r, line, want, need, ds, err,
					   errlen);
		} else {
			if (ds->n == r->cap)
				ret = grow(r, ds);
			if (!ret)
				ret = parse_row(r, line, ds, err, errlen);
		}
		if (ret)
			break;
	}
	free(line);
	if (ret == -ENOMEM)
		return kopt_errf(err, errlen, -EINVAL,
				 "%s: out of memory at line %ld", r->path,
				 r->lineno);
	if (ret)
		return ret;
	if (ferror(f))
		return kopt_errf(err, errlen, -EINVAL,
				 "%s: read error at line %ld", r->path,
				 r->lineno);
	if (!header)
		return kopt_errf(err, errlen, -EINVAL,
				 "%s: empty: no header line (only comments or "
				 "nothing)",
				 r->path);
	if (!ds->n)
		return kopt_errf(err, errlen, -EINVAL,
				 "%s: a header but no data rows", r->path);
	return 0;
}

int kopt_dataset_read(const char *path, const char *target, __u64 want,
		      __u64 need, struct kopt_dataset *ds, char *err,
		      size_t errlen)
{
	struct reader *r = calloc(1, sizeof(*r));
	FILE *f;
	int ret, c;

	memset(ds, 0, sizeof(*ds));
	if (!r)
		return -ENOMEM;
	r->path = path;
	r->target = target;
	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		free(r);
		return ret;
	}
	ret = read_lines(r, f, want, need, ds, err, errlen);
	fclose(f);
	for (c = 0; c < r->n_cols; c++)
		free(r->names[c]);
	free(r);
	if (ret)
		kopt_dataset_free(ds);
	return ret;
}

void kopt_dataset_free(struct kopt_dataset *ds)
{
	int id;

	for (id = 0; id < KOPT_FEAT_NR; id++)
		free(ds->col[id]);
	free(ds->y);
	free(ds->hot);
	memset(ds, 0, sizeof(*ds));
}

int kopt_target_parse(const char *target, __u32 *k, char *why, size_t len)
{
	const char *v;
	char *end;
	long x;

	*k = 0;
	if (!strcmp(target, "forced") || !strcmp(target, "decision"))
		return 0;
	if (strncmp(target, "lookahead:", 10))
		return kopt_errf(why, len, -EINVAL,
				 "expected forced, decision or lookahead:K");
	v = target + 10;
	errno = 0;
	x = strtol(v, &end, 10);
	if (!*v || *end || errno || x < 1 || x > KOPT_LOOKAHEAD_MAX)
		return kopt_errf(why, len, -EINVAL,
				 "K '%s' is not an integer in 1..%d (rows of "
				 "the same pid to look ahead)",
				 v, KOPT_LOOKAHEAD_MAX);
	*k = x;
	return 0;
}

/* Row indices ordered by pid, then by file order (qsort_r: reentrant). */
static int cmp_pid_row(const void *a, const void *b, void *pids)
{
	const __s64 *sort_pid = pids;
	long i = *(const long *)a, j = *(const long *)b;

	if (sort_pid[i] != sort_pid[j])
		return sort_pid[i] < sort_pid[j] ? -1 : 1;
	return (i > j) - (i < j);
}

/*
 * Labels in place (y becomes the look-ahead label), and keep[i] says
 * whether row i stays: one pass over each pid's rows in file order, with
 * the decisions of the next k rows counted by a sliding window.
 */
static void lookahead_label(struct kopt_dataset *ds, const long *idx, __u32 k,
			    const unsigned char *dec, unsigned char *keep,
			    long *decided, long *unknown)
{
	const __s64 *pid = ds->col[KOPT_FEAT_PID];
	long n = ds->n, g, e, j, ahead;

	for (g = 0; g < n; g = e) {
		for (e = g; e < n && pid[idx[e]] == pid[idx[g]]; e++)
			;
		/* decisions among idx[j + 1 .. j + k] */
		for (j = g + 1, ahead = 0; j < e && j <= g + (long)k; j++)
			ahead += dec[idx[j]];
		for (j = g; j < e; j++) {
			long i = idx[j];

			if (dec[i]) {
				keep[i] = 0;
				++*decided;
			} else if (e - j - 1 < (long)k) {
				keep[i] = 0;
				++*unknown;
			} else {
				keep[i] = 1;
				ds->y[i] = ahead > 0;
			}
			if (j + 1 < e)
				ahead -= dec[idx[j + 1]];
			if (j + 1 + (long)k < e)
				ahead += dec[idx[j + 1 + k]];
		}
	}
}

int kopt_dataset_lookahead(struct kopt_dataset *ds, __u32 k, long *decided,
			   long *unknown)
{
	long n = ds->n, i, m = 0;
	unsigned char *keep = calloc(n, 1), *dec = malloc(n);
	long *idx = malloc(n * sizeof(*idx));
	int id, ret = 0;

	*decided = *unknown = 0;
	if (!ds->col[KOPT_FEAT_PID]) {
		ret = -EINVAL;
		goto out;
	}
	if (!keep || !dec || !idx) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(dec, ds->y, n);
	for (i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(*idx), cmp_pid_row, ds->col[KOPT_FEAT_PID]);
	lookahead_label(ds, idx, k, dec, keep, decided, unknown);
	ds->positives = 0;
	for (i = 0; i < n; i++) {
		if (!keep[i])
			continue;
		for (id = 0; id < KOPT_FEAT_NR; id++)
			if (ds->col[id])
				ds->col[id][m] = ds->col[id][i];
		if (ds->hot)
			ds->hot[m] = ds->hot[i];
		ds->y[m] = ds->y[i];
		ds->positives += ds->y[m];
		m++;
	}
	ds->n = m;
out:
	free(keep);
	free(dec);
	free(idx);
	return ret;
}

/* ---- metrics --------------------------------------------------------------- */

struct scored {
	double s;
	unsigned char y;
};

static int cmp_scored(const void *a, const void *b)
{
	double x = ((const struct scored *)a)->s;
	double y = ((const struct scored *)b)->s;

	return (x > y) - (x < y);
}

/* Mann-Whitney: P(score of a positive > score of a negative), ties 1/2. */
static double roc_auc(const unsigned char *y, const double *score, long n,
		      long pos)
{
	struct scored *v;
	double rank_sum = 0;
	long i, j, k, p;

	if (pos == 0 || pos == n)
		return NAN;
	v = malloc(n * sizeof(*v));
	if (!v)
		return NAN;
	for (i = 0; i < n; i++) {
		v[i].s = score[i];
		v[i].y = y[i];
	}
	qsort(v, n, sizeof(*v), cmp_scored);
	for (i = 0; i < n; i = j) {
		for (j = i, p = 0; j < n && v[j].s == v[i].s; j++)
			p += v[j].y;
		/* ranks i+1..j share their mean */
		rank_sum += p * ((i + 1 + j) / 2.0);
	}
	free(v);
	k = n - pos;
	return (rank_sum - pos * (pos + 1) / 2.0) / ((double)pos * k);
}

static double ratio(long a, long b)
{
	return b ? (double)a / b : NAN;
}

void kopt_metrics_finish(struct kopt_metrics *m)
{
	double tpr = ratio(m->tp, m->tp + m->fn);
	double tnr = ratio(m->tn, m->tn + m->fp);

	m->accuracy = ratio(m->tp + m->tn, m->n);
	m->balanced_accuracy = isnan(tpr) ? tnr :
			       isnan(tnr) ? tpr :
					    (tpr + tnr) / 2;
	m->precision = ratio(m->tp, m->tp + m->fp);
	m->recall = tpr;
	m->f1 = ratio(2 * m->tp, 2 * m->tp + m->fp + m->fn);
}

void kopt_metrics_count(struct kopt_metrics *m, bool pred, bool label)
{
	m->n++;
	if (label && pred)
		m->tp++;
	else if (label)
		m->fn++;
	else if (pred)
		m->fp++;
	else
		m->tn++;
}

void kopt_metrics_compute(const unsigned char *y, const double *score,
			  double threshold, long n, struct kopt_metrics *m)
{
	long i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < n; i++)
		kopt_metrics_count(m, score[i] >= threshold, y[i]);
	kopt_metrics_finish(m);
	m->auc = roc_auc(y, score, n, m->tp + m->fn);
}

void kopt_metrics_constant(const unsigned char *y, long n, int pred,
			   struct kopt_metrics *m)
{
	long i, pos = 0;

	for (i = 0; i < n; i++)
		pos += y[i];
	kopt_metrics_constant_n(pos, n, pred, m);
}

void kopt_metrics_constant_n(long pos, long n, int pred, struct kopt_metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->n = n;
	if (pred) {
		m->tp = pos;
		m->fp = n - pos;
	} else {
		m->fn = pos;
		m->tn = n - pos;
	}
	kopt_metrics_finish(m);
	/* a constant score ranks every pair as a tie */
	m->auc = pos == 0 || pos == n ? NAN : 0.5;
}

/*
 * The paired bootstrap. Why hand-written: Debian packages no C library
 * with a bootstrap (GSL has the random numbers, not the resampling, and
 * kopt does not link it); the resampling is a loop over rows, each row
 * one of eight cells (label, a's prediction, b's prediction), with the
 * project's seeded generator (model.h) so the interval is reproducible.
 */
static void cells_metrics(const long cell[8], int shift, struct kopt_metrics *m)
{
	int c;

	memset(m, 0, sizeof(*m));
	for (c = 0; c < 8; c++) {
		bool label = c & 4, pred = (c >> shift) & 1;

		m->n += cell[c];
		if (label && pred)
			m->tp += cell[c];
		else if (label)
			m->fn += cell[c];
		else if (pred)
			m->fp += cell[c];
		else
			m->tn += cell[c];
	}
	kopt_metrics_finish(m);
}

/* a minus b for each figure, from the cell counts */
static void cells_diff(const long cell[8], double out[KOPT_NR_D])
{
	struct kopt_metrics ma, mb;

	cells_metrics(cell, 1, &ma);
	cells_metrics(cell, 0, &mb);
	out[KOPT_D_ACC] = ma.accuracy - mb.accuracy;
	out[KOPT_D_BAL] = ma.balanced_accuracy - mb.balanced_accuracy;
	out[KOPT_D_F1] = ma.f1 - mb.f1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int kopt_paired_bootstrap(const unsigned char *y, const unsigned char *a,
			  const unsigned char *b, long n, long reps,
			  unsigned long seed, struct kopt_paired_diff *d)
{
	double *boot[KOPT_NR_D] = { 0 }, diff[KOPT_NR_D];
	long cell[8] = { 0 }, bc[8], i, r, m[KOPT_NR_D] = { 0 };
	unsigned char *row_cell = malloc(n ? n : 1);
	struct kopt_rng rng;
	int k, ret = 0;

	memset(d, 0, sizeof(*d));
	d->n = n;
	d->reps = reps;
	d->seed = seed;
	for (k = 0; k < KOPT_NR_D; k++) {
		boot[k] = malloc((reps ? reps : 1) * sizeof(double));
		if (!boot[k])
			ret = -ENOMEM;
	}
	if (!row_cell || ret) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		row_cell[i] = (!!y[i]) << 2 | (!!a[i]) << 1 | !!b[i];
		cell[row_cell[i]]++;
		d->a_only += !!a[i] == !!y[i] && !!b[i] != !!y[i];
		d->b_only += !!b[i] == !!y[i] && !!a[i] != !!y[i];
	}
	cells_diff(cell, d->diff);
	kopt_rng_seed(&rng, seed);
	for (r = 0; r < reps && n; r++) {
		memset(bc, 0, sizeof(bc));
		for (i = 0; i < n; i++)
			bc[row_cell[kopt_rng_u64(&rng) % n]]++;
		cells_diff(bc, diff);
		for (k = 0; k < KOPT_NR_D; k++) {
			if (isnan(diff[k]))
				d->undefined[k]++;
			else
				boot[k][m[k]++] = diff[k];
		}
	}
	for (k = 0; k < KOPT_NR_D; k++) {
		d->lo[k] = d->hi[k] = NAN;
		if (!m[k])
			continue;
		qsort(boot[k], m[k], sizeof(double), cmp_double);
		d->lo[k] = boot[k][(long)floor(0.025 * (m[k] - 1))];
		d->hi[k] = boot[k][(long)ceil(0.975 * (m[k] - 1))];
	}
out:
	for (k = 0; k < KOPT_NR_D; k++)
		free(boot[k]);
	free(row_cell);
	return ret;
}

/* ---- feature ranking ---------------------------------------------------------- */

static const char *identifies(__u32 id)
{
	switch (id) {
	case KOPT_FEAT_PID:
		return "identifies: a task id";
	case KOPT_FEAT_VRUNTIME:
	case KOPT_FEAT_EXEC_START:
		return "identifies: an absolute clock";
	default:
		return NULL;
	}
}

/* ANOVA F of two groups (labels 0 and 1); -1 for a constant column. */
static double anova_f(const __s64 *x, const unsigned char *y, long n)
{
	double sum[2] = { 0, 0 }, mean[2], all, ssb, ssw = 0, d;
	long cnt[2] = { 0, 0 }, i;

	for (i = 0; i < n; i++) {
		sum[y[i]] += (double)x[i];
		cnt[y[i]]++;
	}
	if (!cnt[0] || !cnt[1] || n < 3)
		return -1;
	mean[0] = sum[0] / cnt[0];
	mean[1] = sum[1] / cnt[1];
	all = (sum[0] + sum[1]) / n;
	/* two passes: raw clocks (~1e15) would cancel in sum of squares */
	for (i = 0; i < n; i++) {
		d = (double)x[i] - mean[y[i]];
		ssw += d * d;
	}
	ssb = cnt[0] * (mean[0] - all) * (mean[0] - all) +
	      cnt[1] * (mean[1] - all) * (mean[1] - all);
	if (ssw == 0 && ssb == 0)
		return -1;
	if (ssw == 0)
		return INFINITY;
	return ssb / (ssw / (n - 2));
}

static int cmp_rank(const void *a, const void *b)
{
	const struct kopt_feat_rank *x = a, *y = b;

	if (!x->excluded != !y->excluded)
		return x->excluded ? 1 : -1;
	if (x->f != y->f)
		return x->f < y->f ? 1 : -1;
	return (x->id > y->id) - (x->id < y->id);
}

__u32 kopt_rank_features(const struct kopt_dataset *ds, long n,
			 struct kopt_feat_rank *out)
{
	__u32 k = 0, id;

	for (id = 0; id < KOPT_FEAT_NR; id++) {
		struct kopt_feat_rank *r = &out[k];

		if (!ds->col[id])
			continue;
		r->id = id;
		r->f = anova_f(ds->col[id], ds->y, n);
		r->excluded = identifies(id);
		if (r->f < 0) {
			r->f = 0;
			r->excluded = "constant on the training split";
		}
		k++;
	}
	qsort(out, k, sizeof(*out), cmp_rank);
	return k;
}

/* ---- the network ---------------------------------------------------------------- */

/* Rows per block: the activations of a block stay in L2 cache. */
#define BLOCK 2048

void kopt_net_init(struct kopt_net *net, __u32 n_in, __u32 n_hidden,
		   const __u32 *units)
{
	size_t off = 0;
	__u32 l, in = n_in;

	memset(net, 0, sizeof(*net));
	net->n_layers = n_hidden + 1;
	for (l = 0; l < net->n_layers; l++) {
		net->in[l] = in;
		net->out[l] = l < n_hidden ? units[l] : 1;
		net->w_off[l] = off;
		off += (size_t)net->in[l] * net->out[l];
		net->b_off[l] = off;
		off += net->out[l];
		in = net->out[l];
	}
	net->n_params = off;
}

/* Box-Muller on the kopt PRNG (deterministic for a seed). */
static double normal(struct kopt_rng *r)
{
	double u = 1.0 - kopt_rng_uniform(r), v = kopt_rng_uniform(r);

	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

void kopt_net_random(const struct kopt_net *net, double *theta,
		     unsigned long seed)
{
	struct kopt_rng r;
	__u32 l;
	size_t i;

	kopt_rng_seed(&r, seed);
	memset(theta, 0, net->n_params * sizeof(*theta));
	for (l = 0; l < net->n_layers; l++) {
		bool out = l + 1 == net->n_layers;
		/* He for ReLU layers, Glorot for the linear logit */
		double sd = out ? sqrt(2.0 / (net->in[l] + net->out[l])) :
				  sqrt(2.0 / net->in[l]);

		for (i = 0; i < (size_t)net->in[l] * net->out[l]; i++)
			theta[net->w_off[l] + i] = sd * normal(&r);
	}
}

/* Activations of one block: act[l] is the output of layer l. */
struct work {
	double *act[KOPT_MLP_LAYERS];
	double *delta[2];
};

static int work_alloc(struct work *w, const struct kopt_net *net, bool back)
{
	__u32 l;

	memset(w, 0, sizeof(*w));
	for (l = 0; l < net->n_layers; l++) {
		w->act[l] =
			malloc((size_t)BLOCK * net->out[l] * sizeof(double));
		if (!w->act[l])
			return -ENOMEM;
	}
	for (l = 0; back && l < 2; l++) {
		w->delta[l] =
			malloc((size_t)BLOCK * KOPT_MLP_WIDTH * sizeof(double));
		if (!w->delta[l])
			return -ENOMEM;
	}
	return 0;
}

static void work_free(struct work *w)
{
	__u32 l;

	for (l = 0; l < KOPT_MLP_LAYERS; l++)
		free(w->act[l]);
	free(w->delta[0]);
	free(w->delta[1]);
}

/*
 * The element-wise ReLU steps work on the bits: ReLU signs are random, so
 * the branch gcc -O2 emits for `v > 0 ? v : 0` mispredicts half the time,
 * which cost more than all the matrix products (measured, 70k rows x
 * 7-16-1: 2x the whole evaluation).
 */
static void relu(double *v, size_t n)
{
	__u64 b;
	size_t k;

	for (k = 0; k < n; k++) {
		memcpy(&b, &v[k], sizeof(b));
		b &= ~(__u64)((__s64)b >> 63); /* negative: all bits off */
		memcpy(&v[k], &b, sizeof(b));
	}
}

/* d *= (a > 0) where a is a ReLU output (+0.0 or positive). */
static void relu_mask(double *d, const double *a, size_t n)
{
	__u64 b, m;
	size_t k;

	for (k = 0; k < n; k++) {
		memcpy(&m, &a[k], sizeof(m));
		memcpy(&b, &d[k], sizeof(b));
		b &= -(__u64)(m != 0);
		memcpy(&d[k], &b, sizeof(b));
	}
}

/* act[l] = relu(b + in W^T) (no ReLU on the logit) for rows rows of x. */
static void forward(const struct kopt_net *net, const double *theta,
		    const double *x, int rows, struct work *w)
{
	__u32 l, j, no;
	size_t len;
	int r;

	for (l = 0; l < net->n_layers; l++) {
		const double *in = l ? w->act[l - 1] : x;
		const double *b = theta + net->b_off[l];
		double *restrict out = w->act[l];

		no = net->out[l];
		len = (size_t)rows * no;
		for (r = 0; r < rows; r++)
			for (j = 0; j < no; j++)
				out[(size_t)r * no + j] = b[j];
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, no,
			    net->in[l], 1.0, in, net->in[l],
			    theta + net->w_off[l], net->in[l], 1.0, out, no);
		if (l + 1 < net->n_layers)
			relu(out, len);
	}
}

/*
 * Loss of one row with logit z and label y, and d(loss)/dz: log(1 + e^-t)
 * with t = z for positives, -z for negatives, from one exp and one log1p.
 */
static double bce(double z, int y, double *dz)
{
	double t = y ? z : -z, e = exp(-fabs(t));
	double sig_t = t >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);

	/* d/dz log(1 + e^-t) = -(1 - sigmoid(t)) dt/dz */
	*dz = y ? sig_t - 1.0 : 1.0 - sig_t;
	return (t < 0 ? -t : 0.0) + log1p(e);
}

/* Adds the gradient of one block, whose d(loss)/d(logit) is in delta[0]. */
static void backward(const struct kopt_net *net, const double *theta,
		     const double *x, int rows, struct work *w, double *grad)
{
	double *delta = w->delta[0], *prev = w->delta[1], *t;
	double sum[KOPT_MLP_WIDTH];
	__u32 j, ni, no;
	int l, r;

	for (l = net->n_layers - 1; l >= 0; l--) {
		const double *in = l ? w->act[l - 1] : x;

		ni = net->in[l];
		no = net->out[l];
		/* dW += delta^T in */
		cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no, ni,
			    rows, 1.0, delta, no, in, ni, 1.0,
			    grad + net->w_off[l], ni);
		memset(sum, 0, sizeof(sum));
		for (r = 0; r < rows; r++)
			for (j = 0; j < no; j++)
				sum[j] += delta[(size_t)r * no + j];
		for (j = 0; j < no; j++)
			grad[net->b_off[l] + j] += sum[j];
		if (!l)
			break;
		/* d(in) = delta W, through the ReLU of layer l - 1 */
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, ni,
			    no, 1.0, delta, no, theta + net->w_off[l], ni, 0.0,
			    prev, ni);
		relu_mask(prev, in, (size_t)rows * ni);
		t = delta;
		delta = prev;
		prev = t;
	}
}

double kopt_net_loss(const struct kopt_net *net, const double *theta,
		     const double *x, const unsigned char *y, long n,
		     const double c[2], double l2, double *grad)
{
	__u32 d = net->in[0], out = net->n_layers - 1, l;
	double loss = 0, norm = 0, dz, reg = 0, wv;
	struct work w;
	long i, k;
	size_t p;
	int rows, r;

	for (i = 0; i < n; i++)
		norm += c[y[i]];
	if (grad)
		memset(grad, 0, net->n_params * sizeof(*grad));
	if (work_alloc(&w, net, grad != NULL) || norm <= 0) {
		work_free(&w);
		return NAN;
	}
	for (i = 0; i < n; i += BLOCK) {
		rows = n - i < BLOCK ? n - i : BLOCK;
		forward(net, theta, x + i * d, rows, &w);
		for (r = 0; r < rows; r++) {
			k = i + r;
			loss += c[y[k]] * bce(w.act[out][r], y[k], &dz);
			if (grad)
				w.delta[0][r] = c[y[k]] * dz / norm;
		}
		if (grad)
			backward(net, theta, x + i * d, rows, &w, grad);
	}
	work_free(&w);
	loss /= norm;
	for (l = 0; l < net->n_layers; l++)
		for (p = net->w_off[l]; p < net->b_off[l]; p++) {
			wv = theta[p];
			reg += wv * wv;
			if (grad)
				grad[p] += l2 * wv;
		}
	return loss + l2 / 2 * reg;
}

void kopt_net_logits(const struct kopt_net *net, const double *theta,
		     const double *x, long n, double *logit)
{
	__u32 d = net->in[0];
	struct work w;
	long i;
	int rows;

	if (work_alloc(&w, net, false)) {
		work_free(&w);
		for (i = 0; i < n; i++)
			logit[i] = NAN;
		return;
	}
	for (i = 0; i < n; i += BLOCK) {
		rows = n - i < BLOCK ? n - i : BLOCK;
		forward(net, theta, x + i * d, rows, &w);
		memcpy(logit + i, w.act[net->n_layers - 1],
		       rows * sizeof(double));
	}
	work_free(&w);
}

/* ---- training -------------------------------------------------------------------- */

void kopt_train_defaults(struct kopt_train_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->target = "forced";
	cfg->k = 7;
	cfg->n_hidden = 1;
	cfg->units[0] = 16;
	cfg->seed = 1;
	cfg->max_eval = 300;
	cfg->check_every = 5;
	cfg->patience = 50;
}

struct fit {
	const struct kopt_net *net;
	const double *x; /* training rows, then validation rows */
	const unsigned char *y;
	long n_train, n_val;
	double c[2];
	int evals, check_every, patience;
	double best_val;
	double *best; /* parameters with the best validation loss */
	int best_eval, improved_eval;
	bool early;
	nlopt_opt opt;
};

static double val_loss(struct fit *s, const double *theta)
{
	__u32 d = s->net->in[0];

	return kopt_net_loss(s->net, theta, s->x + s->n_train * d,
			     s->y + s->n_train, s->n_val, s->c, 0, NULL);
}

/* Validation loss of theta: keep it if best, stop after the patience. */
static void check_val(struct fit *s, const double *theta)
{
	double v = val_loss(s, theta);

	if (!(v < s->best_val))
		goto patience;
	/* only a relative gain of 1e-4 resets the patience */
	if (v < s->best_val - 1e-4 * fabs(s->best_val))
		s->improved_eval = s->evals;
	s->best_val = v;
	s->best_eval = s->evals;
	memcpy(s->best, theta, s->net->n_params * sizeof(*theta));
patience:
	if (s->evals - s->improved_eval >= s->patience) {
		s->early = true;
		nlopt_force_stop(s->opt);
	}
}

static double objective(unsigned n, const double *theta, double *grad,
			void *data)
{
	struct fit *s = data;
	double f = kopt_net_loss(s->net, theta, s->x, s->y, s->n_train, s->c,
				 KOPT_TRAIN_L2, grad);

	s->evals++;
	if ((s->evals - 1) % s->check_every == 0)
		check_val(s, theta);
	return f;
}

static const char *nlopt_why(nlopt_result r)
{
	switch (r) {
	case NLOPT_MAXEVAL_REACHED:
		return "evaluation cap (--max-iter)";
	case NLOPT_FTOL_REACHED:
	case NLOPT_XTOL_REACHED:
	case NLOPT_SUCCESS:
		return "converged (L-BFGS tolerance)";
	case NLOPT_ROUNDOFF_LIMITED:
		return "converged (L-BFGS roundoff limit)";
	default:
		return "L-BFGS failed (best validated parameters kept)";
	}
}

/* Trains theta in place (it holds the init); 0 or -ENOMEM. */
static int train_fit(const struct kopt_train_cfg *cfg,
		     const struct kopt_net *net, const double *x,
		     const unsigned char *y, long n_train, long n_val,
		     long pos_train, double *theta,
		     struct kopt_train_report *rep)
{
	struct fit s = {
		.net = net,
		.x = x,
		.y = y,
		.n_train = n_train,
		.n_val = n_val,
		.check_every = cfg->check_every,
		.patience = cfg->patience,
		.best_val = INFINITY,
	};
	nlopt_result res;
	double f;

	/* class-balanced: each class weighs half of the loss */
	s.c[0] = n_train / (2.0 * (n_train - pos_train));
	s.c[1] = n_train / (2.0 * pos_train);
	s.best = malloc(net->n_params * sizeof(double));
	s.opt = nlopt_create(NLOPT_LD_LBFGS, net->n_params);
	if (!s.best || !s.opt) {
		free(s.best);
		if (s.opt)
			nlopt_destroy(s.opt);
		return -ENOMEM;
	}
	nlopt_set_min_objective(s.opt, objective, &s);
	nlopt_set_maxeval(s.opt, cfg->max_eval);
	nlopt_set_ftol_rel(s.opt, 1e-10);
	res = nlopt_optimize(s.opt, theta, &f);
	/* the final point was not necessarily validated */
	if (!s.early && s.evals) {
		double v = val_loss(&s, theta);

		if (v < s.best_val) {
			s.best_val = v;
			s.best_eval = s.evals;
			memcpy(s.best, theta, net->n_params * sizeof(double));
		}
	}
	if (isfinite(s.best_val))
		memcpy(theta, s.best, net->n_params * sizeof(double));
	rep->evals = s.evals;
	rep->best_eval = s.best_eval;
	rep->val_loss = s.best_val;
	rep->train_loss = kopt_net_loss(net, theta, x, y, n_train, s.c,
					KOPT_TRAIN_L2, NULL);
	rep->stop = s.early ? "early stop: no validation gain within the "
			      "patience" :
			      nlopt_why(res);
	nlopt_destroy(s.opt);
	free(s.best);
	return 0;
}

/* ---- the pipeline ----------------------------------------------------------------- */

void kopt_fixed_logits(const struct kopt_mlp *mlp,
		       const struct kopt_dataset *ds, long lo, long n,
		       double *logit)
{
	__s64 in[KOPT_MLP_MAX_IN] = {};
	const __s64 *col[KOPT_MLP_MAX_IN];
	__u32 i, n_in = mlp->n_in;
	__s32 z;
	long r;

	for (i = 0; i < n_in; i++)
		col[i] = ds->col[mlp->feature[i]];
	for (r = 0; r < n; r++) {
		for (i = 0; i < n_in; i++)
			in[i] = col[i][lo + r];
		z = 0;
		kopt_mlp_eval_user(mlp, in, &z);
		logit[r] = z;
	}
}

/* Mean |z / 2^frac_bits - f| of integer logits z against float ones. */
static double logit_error(const double *z, __u32 frac_bits, const double *f,
			  long n)
{
	double scale = ldexp(1.0, -(int)frac_bits), sum = 0;
	long i;

	for (i = 0; i < n; i++)
		sum += fabs(z[i] * scale - f[i]);
	return n ? sum / n : 0;
}

static long agreement(const double *a, const double *b, long n)
{
	long i, same = 0;

	for (i = 0; i < n; i++)
		same += (a[i] >= 0) == (b[i] >= 0);
	return same;
}

static long correct(const double *z, const unsigned char *y, long n)
{
	long i, ok = 0;

	for (i = 0; i < n; i++)
		ok += (z[i] >= 0) == y[i];
	return ok;
}

static int check_classes(const struct kopt_train_cfg *cfg,
			 const struct kopt_dataset *ds,
			 struct kopt_train_report *rep, char *err,
			 size_t errlen)
{
	long n = ds->n, s, i;

	if (n < 20)
		return kopt_errf(
			err, errlen, -EINVAL,
			"%s: %ld rows: too few to split 70/15/15 by time "
			"(need at least 20)",
			cfg->path, n);
	if (ds->positives == 0 || ds->positives == n)
		return kopt_errf(err, errlen, -EINVAL,
				 "%s: all %ld rows have %s=%d: one class only, "
				 "training needs both",
				 cfg->path, n, cfg->target,
				 ds->positives ? 1 : 0);
	rep->n = n;
	rep->len[KOPT_TRAIN] = n * 70 / 100;
	rep->len[KOPT_VAL] = n * 15 / 100;
	rep->len[KOPT_TEST] = n - rep->len[KOPT_TRAIN] - rep->len[KOPT_VAL];
	for (s = 0; s < KOPT_NR_SPLITS; s++) {
		rep->lo[s] = s ? rep->lo[s - 1] + rep->len[s - 1] : 0;
		for (i = 0; i < rep->len[s]; i++)
			rep->pos[s] += ds->y[rep->lo[s] + i];
	}
	if (rep->pos[KOPT_TRAIN] == 0 ||
	    rep->pos[KOPT_TRAIN] == rep->len[KOPT_TRAIN])
		return kopt_errf(
			err, errlen, -EINVAL,
			"%s: the training split (the first 70%%, %ld rows) "
			"has only %s=%d: one class only, training needs "
			"both",
			cfg->path, rep->len[KOPT_TRAIN], cfg->target,
			rep->pos[KOPT_TRAIN] ? 1 : 0);
	rep->majority = 2 * rep->pos[KOPT_TRAIN] > rep->len[KOPT_TRAIN];
	return 0;
}

/* Chooses the inputs: the explicit list, or the best k candidates. */
static int choose_features(const struct kopt_train_cfg *cfg,
			   const struct kopt_dataset *ds,
			   struct kopt_train_report *rep, char *err,
			   size_t errlen)
{
	__u32 i;

	rep->n_rank = kopt_rank_features(ds, rep->len[KOPT_TRAIN], rep->rank);
	if (cfg->n_feat) {
		for (i = 0; i < cfg->n_feat; i++)
			if (!(cfg->exclude & KOPT_FEAT_BIT(cfg->feature[i])))
				rep->fl.feature[rep->fl.n_in++] =
					cfg->feature[i];
		if (!rep->fl.n_in)
			return kopt_errf(err, errlen, -EINVAL,
					 "%s: no --features column left",
					 cfg->path);
		return 0;
	}
	for (i = 0; i < rep->n_rank && rep->fl.n_in < cfg->k; i++)
		if (!rep->rank[i].excluded &&
		    !(cfg->exclude & KOPT_FEAT_BIT(rep->rank[i].id)))
			rep->fl.feature[rep->fl.n_in++] = rep->rank[i].id;
	if (!rep->fl.n_in)
		return kopt_errf(
			err, errlen, -EINVAL,
			"%s: no usable feature column: every feature "
			"column is absent, constant on the training split "
			"or an identifier (pid, vruntime, exec_start)",
			cfg->path);
	return 0;
}

/* Per-feature mean and scale of the training split, and the matrix x. */
static void normalize(const struct kopt_dataset *ds, long n_train,
		      struct kopt_train_report *rep, double *x)
{
	struct kopt_mlp_float *f = &rep->fl;
	__u32 d = f->n_in, i;
	double s, ss, v;
	long r;

	for (i = 0; i < d; i++) {
		const __s64 *c = ds->col[f->feature[i]];

		for (r = 0, s = 0; r < n_train; r++)
			s += (double)c[r];
		f->mean[i] = s / n_train;
		for (r = 0, ss = 0; r < n_train; r++) {
			v = (double)c[r] - f->mean[i];
			ss += v * v;
			if (c[r] > KOPT_MLP_S32_MAX || c[r] < KOPT_MLP_S32_MIN)
				rep->sat[i]++;
		}
		f->scale[i] = ss > 0 ? sqrt(ss / n_train) : 1.0;
		for (r = 0; r < ds->n; r++)
			x[r * d + i] =
				((double)c[r] - f->mean[i]) / f->scale[i];
	}
}

static void to_float(const struct kopt_net *net, const double *theta,
		     struct kopt_mlp_float *f)
{
	__u32 l, j, i;

	f->n_hidden = net->n_layers - 1;
	for (l = 0; l < net->n_layers; l++) {
		if (l < f->n_hidden)
			f->units[l] = net->out[l];
		for (j = 0; j < net->out[l]; j++) {
			f->b[l][j] = theta[net->b_off[l] + j];
			for (i = 0; i < net->in[l]; i++)
				f->w[l][j][i] =
					theta[net->w_off[l] +
					      (size_t)j * net->in[l] + i];
		}
	}
	f->threshold = 0;
}

/*
 * Every fixed-point format from 4 bits: the best validation balanced
 * accuracy, since training minimizes a class-balanced loss (raw accuracy
 * would prefer a format that collapses towards the majority class on an
 * imbalanced dataset); then the closest agreement with the float model,
 * then the smallest mean logit error against it (more bits resolve the
 * weights finer until activations start to saturate), then fewer bits.
 */
static int quantize(const struct kopt_dataset *ds,
		    struct kopt_train_report *rep, const double *val_float,
		    char *err, size_t errlen)
{
	long lo = rep->lo[KOPT_VAL], n = rep->len[KOPT_VAL];
	struct kopt_model *m = malloc(sizeof(*m));
	struct kopt_mlp *mlp = malloc(sizeof(*mlp));
	double *z = malloc(n * sizeof(double));
	struct kopt_quant_try *best = NULL;
	char qerr[KOPT_MODEL_ERR];
	struct kopt_metrics mt;
	__u32 fb;
	int ret = 0;

	if (!m || !mlp || !z) {
		ret = -ENOMEM;
		goto out;
	}
	for (fb = 4; fb <= KOPT_MLP_MAX_FRAC; fb++) {
		struct kopt_quant_try *q = &rep->quant[rep->n_quant++];

		q->frac_bits = fb;
		if (kopt_model_quantize(&rep->fl, fb, m, qerr, sizeof(qerr)))
			continue;
		q->ok = true;
		kopt_model_to_mlp(m, mlp);
		kopt_fixed_logits(mlp, ds, lo, n, z);
		q->correct = correct(z, ds->y + lo, n);
		q->agree = agreement(z, val_float, n);
		q->logit_err = logit_error(z, fb, val_float, n);
		kopt_metrics_compute(ds->y + lo, z, m->threshold, n, &mt);
		q->balanced = mt.balanced_accuracy;
		if (!best || q->balanced > best->balanced + 1e-12 ||
		    (fabs(q->balanced - best->balanced) <= 1e-12 &&
		     (q->agree > best->agree ||
		      (q->agree == best->agree &&
		       q->logit_err < best->logit_err)))) {
			best = q;
			rep->fixed = *m;
		}
	}
	if (!best)
		ret = kopt_errf(
			err, errlen, -EINVAL,
			"no fixed-point format from 4 to %d fractional bits "
			"holds the trained weights (last: %s)",
			KOPT_MLP_MAX_FRAC, qerr);
out:
	free(m);
	free(mlp);
	free(z);
	return ret;
}

/* Float, fixed and baseline figures on split s; rep->agree[s]. */
static int measure(const struct kopt_net *net, const double *theta,
		   const double *x, const struct kopt_dataset *ds,
		   struct kopt_train_report *rep, int s,
		   struct kopt_metrics *out)
{
	long lo = rep->lo[s], n = rep->len[s];
	double *zf = malloc(n * sizeof(double));
	double *zq = malloc(n * sizeof(double));
	struct kopt_mlp *mlp = malloc(sizeof(*mlp));
	int ret = 0;

	if (!zf || !zq || !mlp) {
		ret = -ENOMEM;
		goto out;
	}
	kopt_net_logits(net, theta, x + lo * net->in[0], n, zf);
	kopt_model_to_mlp(&rep->fixed, mlp);
	kopt_fixed_logits(mlp, ds, lo, n, zq);
	kopt_metrics_compute(ds->y + lo, zf, 0, n, &out[KOPT_M_FLOAT]);
	kopt_metrics_compute(ds->y + lo, zq, rep->fixed.threshold, n,
			     &out[KOPT_M_FIXED]);
	kopt_metrics_constant(ds->y + lo, n, rep->majority,
			      &out[KOPT_M_BASELINE]);
	rep->agree[s] = (double)agreement(zf, zq, n) / n;
out:
	free(zf);
	free(zq);
	free(mlp);
	return ret;
}

static int train_on(const struct kopt_train_cfg *cfg,
		    const struct kopt_dataset *ds,
		    struct kopt_train_report *rep, char *err, size_t errlen)
{
	long n_train = rep->len[KOPT_TRAIN], n_val = rep->len[KOPT_VAL];
	double *x, *theta = NULL, *zval = NULL, t0;
	struct kopt_net net;
	int ret;

	x = malloc((size_t)ds->n * rep->fl.n_in * sizeof(double));
	if (!x)
		return -ENOMEM;
	normalize(ds, n_train, rep, x);
	kopt_net_init(&net, rep->fl.n_in, cfg->n_hidden, cfg->units);
	theta = malloc(net.n_params * sizeof(double));
	zval = malloc(n_val * sizeof(double));
	if (!theta || !zval) {
		ret = -ENOMEM;
		goto out;
	}
	kopt_net_random(&net, theta, cfg->seed);
	t0 = now_s();
	ret = train_fit(cfg, &net, x, ds->y, n_train, n_val,
			rep->pos[KOPT_TRAIN], theta, rep);
	rep->train_s = now_s() - t0;
	if (ret)
		goto out;
	to_float(&net, theta, &rep->fl);
	kopt_net_logits(&net, theta, x + n_train * net.in[0], n_val, zval);
	ret = quantize(ds, rep, zval, err, errlen);
	/* the file says what it predicts: kopt model score checks it */
	rep->fixed.target = cfg->target ? kopt_model_target_id(cfg->target) :
					  KOPT_TARGET_FORCED;
	if ((int)rep->fixed.target < 0)
		rep->fixed.target = KOPT_TARGET_NONE;
	if (!ret)
		ret = measure(&net, theta, x, ds, rep, KOPT_VAL, rep->val);
	if (!ret)
		ret = measure(&net, theta, x, ds, rep, KOPT_TEST, rep->test);
out:
	free(x);
	free(theta);
	free(zval);
	return ret;
}

/*
 * The written (fixed-point) model against the rule's predictions on the
 * test split, row by row: is it better than what CFS already computes?
 */
static int vs_rule(const struct kopt_dataset *ds, struct kopt_train_report *rep,
		   const double *rule_pred)
{
	long lo = rep->lo[KOPT_TEST], n = rep->len[KOPT_TEST], i;
	unsigned char *a = malloc(n ? n : 1), *b = malloc(n ? n : 1);
	double *z = malloc((n ? n : 1) * sizeof(double));
	struct kopt_mlp *mlp = malloc(sizeof(*mlp));
	int ret = -ENOMEM;

	if (!a || !b || !z || !mlp)
		goto out;
	kopt_model_to_mlp(&rep->fixed, mlp);
	kopt_fixed_logits(mlp, ds, lo, n, z);
	for (i = 0; i < n; i++) {
		a[i] = z[i] >= rep->fixed.threshold;
		b[i] = rule_pred[i] >= 0.5;
	}
	ret = kopt_paired_bootstrap(ds->y + lo, a, b, n, KOPT_BOOT_REPS,
				    KOPT_BOOT_SEED, &rep->vs_rule);
out:
	free(a);
	free(b);
	free(z);
	free(mlp);
	return ret;
}

/* The columns CFS's can_migrate_task() defines forced and decision from. */
#define CFS_RULE_FEATS                                \
	(KOPT_FEAT_BIT(KOPT_FEAT_NR_BALANCE_FAILED) | \
	 KOPT_FEAT_BIT(KOPT_FEAT_CACHE_NICE_TRIES))

/*
 * CFS's own answer for the target on the test split, from the columns of
 * can_migrate_task() (Linux 6.12 kernel/sched/fair.c): a task migrates if
 * it is not cache hot, or if nr_balance_failed > cache_nice_tries, which
 * forces a hot one (schedstat nr_forced_migrations). For lookahead:K, the
 * failure count that forces it within K more failed attempts.
 */
static int cfs_rule(const struct kopt_dataset *ds, const char *target, __u32 k,
		    struct kopt_train_report *rep)
{
	const __s64 *nbf = ds->col[KOPT_FEAT_NR_BALANCE_FAILED];
	const __s64 *cnt = ds->col[KOPT_FEAT_CACHE_NICE_TRIES];
	long lo = rep->lo[KOPT_TEST], n = rep->len[KOPT_TEST], i, r;
	bool forced = !strcmp(target, "forced");
	double *pred;
	int ret;

	rep->rule = k	   ? "nr_balance_failed + K > cache_nice_tries" :
		    forced ? "hot && nr_balance_failed > cache_nice_tries" :
			     "!hot || nr_balance_failed > cache_nice_tries";
	snprintf(rep->rule_missing, sizeof(rep->rule_missing), "%s%s%s",
		 !k && !ds->hot ? "hot/" : "", nbf ? "" : "nr_balance_failed/",
		 cnt ? "" : "cache_nice_tries/");
	if (rep->rule_missing[0]) {
		rep->rule_missing[strlen(rep->rule_missing) - 1] = '\0';
		return 0;
	}
	pred = malloc(n * sizeof(*pred));
	if (!pred)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		bool over;

		r = lo + i;
		over = nbf[r] + (__s64)k > cnt[r];
		pred[i] = k	 ? over :
			  forced ? ds->hot[r] && over :
				   !ds->hot[r] || over;
	}
	kopt_metrics_compute(ds->y + lo, pred, 0.5, n, &rep->rule_test);
	rep->rule_ok = true;
	ret = vs_rule(ds, rep, pred);
	free(pred);
	return ret;
}

static bool same_inputs(const struct kopt_train_cfg *cfg)
{
	__u32 i;

	for (i = 0; i < cfg->n_feat; i++)
		if (CFS_RULE_FEATS & KOPT_FEAT_BIT(cfg->feature[i]))
			return false;
	return cfg->n_feat > 0;
}

/*
 * The same training without nr_balance_failed and cache_nice_tries: what
 * the model learns beyond the rule CFS already evaluates. Its failures
 * are reported, not returned; only -ENOMEM is.
 */
static int train_honest(const struct kopt_train_cfg *cfg,
			const struct kopt_dataset *ds,
			struct kopt_train_report *rep)
{
	struct kopt_train_report *h;
	struct kopt_train_cfg c = *cfg;
	char herr[256];
	int ret;

	if (same_inputs(cfg)) {
		/* --features without them: the first model is the answer */
		rep->honest = true;
		rep->honest_n_in = rep->fl.n_in;
		memcpy(rep->honest_feature, rep->fl.feature,
		       sizeof(rep->honest_feature));
		memcpy(rep->honest_test, rep->test, sizeof(rep->test));
		return 0;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	c.exclude |= CFS_RULE_FEATS;
	h->n = rep->n;
	memcpy(h->lo, rep->lo, sizeof(h->lo));
	memcpy(h->len, rep->len, sizeof(h->len));
	memcpy(h->pos, rep->pos, sizeof(h->pos));
	h->majority = rep->majority;
	ret = choose_features(&c, ds, h, herr, sizeof(herr));
	if (ret) {
		rep->honest_why = "no input left without nr_balance_failed "
				  "and cache_nice_tries";
		ret = 0;
		goto out;
	}
	ret = train_on(&c, ds, h, herr, sizeof(herr));
	if (ret) {
		rep->honest_why = "training without nr_balance_failed and "
				  "cache_nice_tries failed";
		ret = ret == -ENOMEM ? ret : 0;
		goto out;
	}
	rep->honest = true;
	rep->honest_n_in = h->fl.n_in;
	memcpy(rep->honest_feature, h->fl.feature, sizeof(rep->honest_feature));
	memcpy(rep->honest_test, h->test, sizeof(rep->test));
out:
	free(h);
	return ret;
}

static int read_target(const struct kopt_train_cfg *cfg, __u32 k, __u64 want,
		       __u64 need, struct kopt_dataset *ds,
		       struct kopt_train_report *rep, char *err, size_t errlen)
{
	int ret;

	ret = kopt_dataset_read(cfg->path, k ? "decision" : cfg->target, want,
				need, ds, err, errlen);
	if (ret)
		return ret;
	rep->rows_read = ds->n;
	rep->lookahead = k;
	if (!k)
		return 0;
	if (!ds->col[KOPT_FEAT_PID])
		return kopt_errf(err, errlen, -EINVAL,
				 "%s: the header has no column 'pid': --target "
				 "%s follows each task by its pid",
				 cfg->path, cfg->target);
	ret = kopt_dataset_lookahead(ds, k, &rep->dropped_decided,
				     &rep->dropped_unknown);
	if (ret)
		return ret;
	if (!ds->n)
		return kopt_errf(err, errlen, -EINVAL,
				 "%s: no row left for %s: of %ld rows, %ld "
				 "have decision=1 and %ld refused ones have "
				 "fewer than %u later rows of their pid",
				 cfg->path, cfg->target, rep->rows_read,
				 rep->dropped_decided, rep->dropped_unknown, k);
	return 0;
}

int kopt_train(const struct kopt_train_cfg *cfg, struct kopt_train_report *rep,
	       char *err, size_t errlen)
{
	struct kopt_dataset ds;
	__u64 need = 0, want;
	double t0 = now_s();
	char why[128];
	__u32 i, k;
	int ret;

	memset(rep, 0, sizeof(*rep));
	if (kopt_target_parse(cfg->target, &k, why, sizeof(why)))
		return kopt_errf(err, errlen, -EINVAL, "target '%s': %s",
				 cfg->target, why);
	for (i = 0; i < cfg->n_feat; i++)
		need |= KOPT_FEAT_BIT(cfg->feature[i]);
	/* auto ranks every feature column the file has; the rule its own */
	want = cfg->n_feat ? need | CFS_RULE_FEATS : ~0ULL;
	/* lookahead follows each pid (read_target checks it is there) */
	if (k)
		want |= KOPT_FEAT_BIT(KOPT_FEAT_PID);
	ret = read_target(cfg, k, want, need, &ds, rep, err, errlen);
	if (ret) {
		kopt_dataset_free(&ds);
		return ret == -ENOMEM ?
			       kopt_errf(err, errlen, ret, "%s: out of memory",
					 cfg->path) :
			       ret;
	}
	rep->load_s = now_s() - t0;
	ret = check_classes(cfg, &ds, rep, err, errlen);
	if (!ret)
		ret = choose_features(cfg, &ds, rep, err, errlen);
	if (!ret)
		ret = train_on(cfg, &ds, rep, err, errlen);
	if (!ret)
		ret = cfs_rule(&ds, cfg->target, k, rep);
	if (!ret && !k)
		ret = train_honest(cfg, &ds, rep);
	if (ret == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", cfg->path);
	kopt_dataset_free(&ds);
	rep->total_s = now_s() - t0;
	return ret;
}
