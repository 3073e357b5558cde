// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of loader/lib/util/histogram.c: percentiles against the exact nearest-rank
 * percentiles of known samples (sorted copies), within the relative error
 * the histogram declares, and the edges: empty, one sample, the linear
 * (exact) range, the highest trackable value, the overflow bucket, merge
 * and reset.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>

#include "histogram.h"
#include "test.h"

#define NS_PER_S 1000000000ULL

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank on a sorted array: the reference the histogram must meet. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double p)
{
	size_t rank = (size_t)ceil(p / 100.0 * (double)n);

	if (rank < 1)
		rank = 1;
	return sorted[rank - 1];
}

static bool within(const struct hist *h, uint64_t got, uint64_t want,
		   const char *what)
{
	double tol = (double)want * hist_rel_error(h);

	return ASSERT_NEAR((double)got, (double)want, tol, what);
}

static void check_against(const struct hist *h, uint64_t *samples, size_t n)
{
	static const double ps[] = {
		0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99
	};
	char what[64];
	size_t i;

	qsort(samples, n, sizeof(*samples), cmp_u64);
	for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		snprintf(what, sizeof(what), "p%g", ps[i]);
		within(h, hist_percentile(h, ps[i]),
		       exact_percentile(samples, n, ps[i]), what);
	}
	ASSERT_EQ(hist_percentile(h, 0), samples[0], "p0 is min");
	ASSERT_EQ(hist_percentile(h, 100), samples[n - 1], "p100 is max");
}

KOPT_TEST(histogram_empty)
{
	struct hist h = {};

	if (!ASSERT_OK(hist_init(&h, NS_PER_S, 3), "init"))
		return;
	ASSERT_EQ(h.total, 0, "total");
	ASSERT_EQ(hist_percentile(&h, 50), 0, "p50 of nothing");
	ASSERT_EQ(hist_percentile(&h, 100), 0, "p100 of nothing");
	ASSERT_NEAR(hist_mean(&h), 0, 0, "mean of nothing");
	hist_free(&h);
}

KOPT_TEST(histogram_one_sample)
{
	static const double ps[] = { 0, 1, 50, 99, 99.9, 100 };
	struct hist h = {};
	size_t i;

	if (!ASSERT_OK(hist_init(&h, NS_PER_S, 3), "init"))
		return;
	hist_record(&h, 123457);
	/* one sample: every percentile is that sample, exactly */
	for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
		ASSERT_EQ(hist_percentile(&h, ps[i]), 123457, "percentile");
	ASSERT_NEAR(hist_mean(&h), 123457, 0, "mean");
	hist_free(&h);
}

KOPT_TEST(histogram_linear_range_exact)
{
	uint64_t v[2048];
	struct hist h = {};
	size_t i;

	if (!ASSERT_OK(hist_init(&h, NS_PER_S, 3), "init"))
		return;
	for (i = 0; i < 2048; i++) {
		v[i] = (i * 7919) % 2048; /* every value once, shuffled */
		hist_record(&h, v[i]);
	}
	qsort(v, 2048, sizeof(v[0]), cmp_u64);
	/* below 2^11 every value has its own bucket: no error at all */
	ASSERT_EQ(hist_percentile(&h, 50), exact_percentile(v, 2048, 50),
		  "p50");
	ASSERT_EQ(hist_percentile(&h, 99), exact_percentile(v, 2048, 99),
		  "p99");
	ASSERT_EQ(hist_percentile(&h, 12.5), exact_percentile(v, 2048, 12.5),
		  "p12.5");
	hist_free(&h);
}

/* Log-uniform over 1 ns .. 1 s: every bucket size gets exercised. */
KOPT_TEST(histogram_known_samples)
{
	unsigned short rng[3] = { 1, 2, 3 };
	size_t n = 200000, i;
	uint64_t *v = malloc(n * sizeof(*v));
	struct hist h = {};

	if (!ASSERT_OK_PTR(v, "malloc") ||
	    !ASSERT_OK(hist_init(&h, NS_PER_S, 3), "init")) {
		free(v);
		return;
	}
	for (i = 0; i < n; i++) {
		v[i] = (uint64_t)exp(erand48(rng) * log((double)NS_PER_S));
		hist_record(&h, v[i]);
	}
	ASSERT_EQ(h.total, n, "total");
	ASSERT_EQ(h.overflow, 0, "no overflow");
	check_against(&h, v, n);
	hist_free(&h);
	free(v);
}

/* What memcached latencies look like: a tight body and a long tail. */
KOPT_TEST(histogram_latency_like_samples)
{
	unsigned short rng[3] = { 7, 8, 9 };
	size_t n = 50000, i;
	uint64_t *v = malloc(n * sizeof(*v));
	double sum = 0;
	struct hist h = {};

	if (!ASSERT_OK_PTR(v, "malloc") ||
	    !ASSERT_OK(hist_init(&h, 10 * NS_PER_S, 3), "init")) {
		free(v);
		return;
	}
	for (i = 0; i < n; i++) {
		double body = 30000 + 10000 * erand48(rng);
		double tail = -log1p(-erand48(rng)) * 200000;

		v[i] = (uint64_t)(i % 20 ? body : body + tail);
		sum += (double)v[i];
		hist_record(&h, v[i]);
	}
	/* the sum is kept exactly (in a double), not from buckets */
	ASSERT_NEAR(hist_mean(&h), sum / n, 1e-6 * sum / n, "mean");
	check_against(&h, v, n);
	hist_free(&h);
	free(v);
}

KOPT_TEST(histogram_max_value)
{
	uint64_t highest = 3600 * NS_PER_S, lo, hi;
	struct hist h = {};

	if (!ASSERT_OK(hist_init(&h, highest, 3), "init"))
		return;
	hist_record(&h, highest);
	hist_record(&h, highest - 1);
	hist_record(&h, 1);
	ASSERT_EQ(h.overflow, 0, "highest is not overflow");
	ASSERT_EQ(hist_percentile(&h, 100), highest, "p100 exact");
	within(&h, hist_percentile(&h, 50), highest - 1, "p50 near highest");
	hist_bucket_range(&h, highest, &lo, &hi);
	ASSERT_LE(lo, highest, "bucket of highest starts below it");
	ASSERT_GE(hi, highest, "bucket of highest ends above it");
	ASSERT_TRUE((double)(hi - lo + 1) <= 2 * hist_rel_error(&h) * lo + 1,
		    "bucket width within the declared error");
	hist_free(&h);
}

KOPT_TEST(histogram_overflow)
{
	struct hist h = {};
	int i;

	if (!ASSERT_OK(hist_init(&h, 1000000, 3), "init"))
		return;
	for (i = 0; i < 98; i++)
		hist_record(&h, 5000);
	hist_record(&h, 7000000); /* above highest */
	hist_record(&h, 9000000);
	ASSERT_EQ(h.total, 100, "overflow still counted in total");
	ASSERT_EQ(h.overflow, 2, "overflow count");
	within(&h, hist_percentile(&h, 50), 5000, "p50 below the overflow");
	within(&h, hist_percentile(&h, 98), 5000, "p98 below the overflow");
	/* a rank inside the overflow can only be bounded: it reports max */
	ASSERT_EQ(hist_percentile(&h, 99), 9000000, "p99 in the overflow");
	ASSERT_EQ(hist_percentile(&h, 100), 9000000, "max is exact");
	hist_free(&h);
}

KOPT_TEST(histogram_merge_reset)
{
	struct hist a = {}, b = {}, all = {}, other = {};
	unsigned short rng[3] = { 4, 5, 6 };
	uint64_t v;
	int i;

	if (!ASSERT_OK(hist_init(&a, NS_PER_S, 3), "init a") ||
	    !ASSERT_OK(hist_init(&b, NS_PER_S, 3), "init b") ||
	    !ASSERT_OK(hist_init(&all, NS_PER_S, 3), "init all") ||
	    !ASSERT_OK(hist_init(&other, NS_PER_S, 2), "init other"))
		return;
	for (i = 0; i < 10000; i++) {
		v = (uint64_t)(erand48(rng) * 1e7);
		hist_record(i % 3 ? &a : &b, v);
		hist_record(&all, v);
	}
	ASSERT_OK(hist_merge(&a, &b), "merge");
	ASSERT_EQ(a.total, all.total, "merged total");
	ASSERT_EQ(a.min, all.min, "merged min");
	ASSERT_EQ(a.max, all.max, "merged max");
	ASSERT_EQ(hist_percentile(&a, 50), hist_percentile(&all, 50), "p50");
	ASSERT_EQ(hist_percentile(&a, 99.9), hist_percentile(&all, 99.9),
		  "p99.9");
	ASSERT_EQ(hist_merge(&a, &other), -EINVAL, "layouts must match");
	hist_reset(&a);
	ASSERT_EQ(a.total, 0, "reset total");
	ASSERT_EQ(hist_percentile(&a, 50), 0, "reset p50");
	hist_record(&a, 42);
	ASSERT_EQ(hist_percentile(&a, 50), 42, "usable after reset");
	hist_free(&a);
	hist_free(&b);
	hist_free(&all);
	hist_free(&other);
}

KOPT_TEST(histogram_digits)
{
	struct hist h = {};
	int d;

	ASSERT_EQ(hist_init(&h, NS_PER_S, 0), -EINVAL, "0 digits");
	ASSERT_EQ(hist_init(&h, NS_PER_S, 6), -EINVAL, "6 digits");
	ASSERT_EQ(hist_init(&h, 0, 3), -EINVAL, "highest 0");
	for (d = HIST_MIN_DIGITS; d <= HIST_MAX_DIGITS; d++) {
		if (!ASSERT_OK(hist_init(&h, NS_PER_S, d), "init"))
			return;
		/* at least HdrHistogram's promise: 10^-d of the value */
		ASSERT_TRUE(hist_rel_error(&h) < pow(10, -d), "error bound");
		hist_free(&h);
	}
}
