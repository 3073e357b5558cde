// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tracking tests' statistics (track_stats.h). Spearman's rho is
 * a dozen lines over a few dozen points: GSL's gsl_stats_spearman would
 * add a library to the test build for them.
 */
#include <math.h>
#include <stdlib.h>

#include "track_stats.h"

/* Ranks with ties averaged (1-based). */
static void ranks(const double *v, int n, double *r)
{
	int i, j;

	for (i = 0; i < n; i++) {
		int below = 0, equal = 0;

		for (j = 0; j < n; j++) {
			below += v[j] < v[i];
			equal += v[j] == v[i];
		}
		r[i] = below + (equal + 1) / 2.0;
	}
}

double track_spearman(const double *x, const double *y, int n)
{
	double rx[TRACK_MAX_POINTS], ry[TRACK_MAX_POINTS];
	double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
	int i;

	if (n > TRACK_MAX_POINTS)
		n = TRACK_MAX_POINTS;
	ranks(x, n, rx);
	ranks(y, n, ry);
	for (i = 0; i < n; i++) {
		mx += rx[i] / n;
		my += ry[i] / n;
	}
	for (i = 0; i < n; i++) {
		sxy += (rx[i] - mx) * (ry[i] - my);
		sxx += (rx[i] - mx) * (rx[i] - mx);
		syy += (ry[i] - my) * (ry[i] - my);
	}
	return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double track_mean(const struct track_pt *p, int n, double load, long setting,
		  bool client)
{
	double sum = 0;
	int i, k = 0;

	for (i = 0; i < n; i++)
		if (p[i].load == load && p[i].setting == setting &&
		    p[i].valid) {
			sum += client ? p[i].client_p99 : p[i].server_p99;
			k++;
		}
	return k ? sum / k : NAN;
}

void track_client_range(const struct track_pt *p, int n, double load,
			long setting, double *lo, double *hi)
{
	int i;

	*lo = INFINITY;
	*hi = -INFINITY;
	for (i = 0; i < n; i++)
		if (p[i].load == load && p[i].setting == setting &&
		    p[i].valid) {
			*lo = fmin(*lo, p[i].client_p99);
			*hi = fmax(*hi, p[i].client_p99);
		}
}

/*
 * Settings at one load, compared by their mean p99 over the valid rounds:
 * pairs whose client p99s differ by more than tie (and, with spread,
 * whose client rounds do not overlap), and those the server's p99 orders
 * the other way.
 */
static void order_check(const struct track_pt *p, int n, double load,
			const long *settings, int nset, double tie, bool spread,
			const char *label, FILE *csv, int *pairs, int *bad)
{
	double c[TRACK_MAX_POINTS], b[TRACK_MAX_POINTS];
	double lo[TRACK_MAX_POINTS], hi[TRACK_MAX_POINTS];
	int i, j;

	if (nset > TRACK_MAX_POINTS)
		nset = TRACK_MAX_POINTS;
	for (i = 0; i < nset; i++) {
		c[i] = track_mean(p, n, load, settings[i], true);
		b[i] = track_mean(p, n, load, settings[i], false);
		track_client_range(p, n, load, settings[i], &lo[i], &hi[i]);
		fprintf(csv, "# mean,%g,%ld,%s,%.1f,%.1f\n", load, settings[i],
			label, c[i], b[i]);
	}
	for (i = 0; i < nset; i++)
		for (j = i + 1; j < nset; j++) {
			double m = c[i] < c[j] ? c[i] : c[j];

			if (isnan(c[i]) || isnan(c[j]) || isnan(b[i]) ||
			    isnan(b[j]) || fabs(c[i] - c[j]) <= tie * m)
				continue;
			if (spread && !(hi[i] < lo[j] || hi[j] < lo[i]))
				continue;
			(*pairs)++;
			if ((c[i] < c[j]) != (b[i] < b[j]))
				(*bad)++;
		}
}

/* The settings at one load, by their mean p99 (or p50), to stderr. */
static void print_order(const struct track_pt *p, int n, double load,
			const long *settings, int nset, bool client)
{
	double v[TRACK_MAX_POINTS];
	bool used[TRACK_MAX_POINTS] = { false };
	int i, k;

	for (i = 0; i < nset && i < TRACK_MAX_POINTS; i++)
		v[i] = track_mean(p, n, load, settings[i], client);
	for (k = 0; k < nset && k < TRACK_MAX_POINTS; k++) {
		int m = -1;

		for (i = 0; i < nset && i < TRACK_MAX_POINTS; i++)
			if (!used[i] && !isnan(v[i]) && (m < 0 || v[i] < v[m]))
				m = i;
		if (m < 0)
			break;
		used[m] = true;
		fprintf(stderr, "%s%ld", k ? " < " : "", settings[m]);
	}
}

void track_figures(const struct track_pt *p, int n, const double *loads,
		   int nload, const long *settings, int nset, double tie,
		   bool spread, const char *label, FILE *csv,
		   struct track_fig *f)
{
	double c[TRACK_MAX_POINTS], b[TRACK_MAX_POINTS];
	double off[TRACK_MAX_POINTS] = { 0 };
	int pairs[TRACK_MAX_POINTS] = { 0 }, bad[TRACK_MAX_POINTS] = { 0 };
	int i, k = 0, l;

	f->n = f->pairs = f->bad = 0;
	for (i = 0; i < n && k < TRACK_MAX_POINTS; i++) {
		if (!p[i].valid)
			continue;
		c[k] = p[i].client_p99;
		b[k] = p[i].server_p99;
		off[k] = c[k] - b[k];
		k++;
	}
	f->n = k;
	f->rho = k > 2 ? track_spearman(c, b, k) : NAN;
	qsort(off, k, sizeof(off[0]), cmp_double);
	f->off_min = k ? off[0] : NAN;
	f->off_med = k ? off[k / 2] : NAN;
	f->off_max = k ? off[k - 1] : NAN;
	if (nload > TRACK_MAX_POINTS)
		nload = TRACK_MAX_POINTS;
	for (l = 0; l < nload; l++) {
		order_check(p, n, loads[l], settings, nset, tie, spread, label,
			    csv, &pairs[l], &bad[l]);
		f->pairs += pairs[l];
		f->bad += bad[l];
		fprintf(csv, "# order,%s,%g,pairs,%d,order_disagreements,%d\n",
			label, loads[l], pairs[l], bad[l]);
	}
	fprintf(stderr,
		"  %-5s: Spearman %.3f over %d points; offset client - bpf"
		": min %.1f median %.1f max %.1f us; setting pairs "
		"ordered differently: %d of %d\n",
		label, f->rho, k, f->off_min, f->off_med, f->off_max, f->bad,
		f->pairs);
	fprintf(csv,
		"# %s,spearman,%.3f,points,%d,offset_min,%.1f,median,%.1f,"
		"max,%.1f,pairs,%d,order_disagreements,%d\n",
		label, f->rho, k, f->off_min, f->off_med, f->off_max, f->pairs,
		f->bad);
	for (l = 0; l < nload; l++) {
		fprintf(stderr,
			"         at load %g: %s (%d of %d pairs ordered "
			"differently); by client: ",
			loads[l],
			!pairs[l] ? "no pair differs beyond the noise" :
			bad[l]	  ? "settings ordered differently" :
				    "pairs beyond the noise ordered alike",
			bad[l], pairs[l]);
		print_order(p, n, loads[l], settings, nset, true);
		fprintf(stderr, "; by server: ");
		print_order(p, n, loads[l], settings, nset, false);
		fprintf(stderr, "\n");
	}
}
