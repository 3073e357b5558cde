/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * HDR-style log-linear histogram of non-negative integers (latencies in
 * nanoseconds for kopt): bounded relative error over a wide range in a
 * few hundred KiB, with record, merge, percentile and reset.
 *
 * Userspace only.
 */
#ifndef KOPT_LOADER_HISTOGRAM_H
#define KOPT_LOADER_HISTOGRAM_H

#ifdef __bpf__
#error "loader/lib/util/histogram.h is userspace-only"
#endif

#include <stdbool.h>
#include <stdint.h>

#define HIST_MIN_DIGITS 1
#define HIST_MAX_DIGITS 5

struct hist {
	uint64_t *counts; /* one count per bucket */
	uint32_t nr_buckets;
	uint32_t sub_bits; /* log2 of the buckets per power of two, doubled */
	int sig_digits; /* significant decimal digits asked for */
	uint64_t highest; /* largest value kept with bounded error */
	uint64_t total; /* every sample, overflow included */
	uint64_t overflow; /* samples above highest */
	uint64_t min, max; /* exact, over every sample */
	double sum; /* for the mean */
};

/*
 * Sets up h for values 0..highest kept to sig_digits significant digits
 * (HIST_MIN_DIGITS..HIST_MAX_DIGITS). Values above highest are still
 * counted (overflow) and still move max. 0 or -EINVAL / -ENOMEM.
 */
int hist_init(struct hist *h, uint64_t highest, int sig_digits);
/*
 * The same with the sub-bucket bits given (2^sub_bits exact values, then
 * 2^(sub_bits-1) buckets per power of two): for counts another program
 * bucketed with this layout (the BPF server-latency histogram,
 * include/kopt/srvlat.h). sig_digits is left 0. 0 or -EINVAL / -ENOMEM.
 */
int hist_init_bits(struct hist *h, uint64_t highest, uint32_t sub_bits);
void hist_free(struct hist *h);
/* Forgets every sample; keeps the layout. */
void hist_reset(struct hist *h);
void hist_record(struct hist *h, uint64_t value);
void hist_record_n(struct hist *h, uint64_t value, uint64_t n);
/*
 * Adds counts bucketed elsewhere with h's layout (n == h->nr_buckets,
 * else -EINVAL). Exact values are not known: min and max become the
 * bounds of the lowest and highest non-empty buckets and the sum uses
 * bucket middles, so hist_mean() is within hist_rel_error() too.
 */
int hist_add_buckets(struct hist *h, const uint64_t *counts, uint32_t n);
/* Adds src's samples to dst; -EINVAL if their layouts differ. */
int hist_merge(struct hist *dst, const struct hist *src);
/*
 * The nearest-rank percentile p (0..100): the smallest recorded value v
 * such that at least p% of the samples are <= v, to within
 * hist_rel_error() of v. p = 0 gives min, p = 100 gives max (both exact);
 * a rank inside the overflow gives max. 0 when h is empty.
 */
uint64_t hist_percentile(const struct hist *h, double p);
double hist_mean(const struct hist *h);
/* The largest |reported - exact| / exact a percentile can be off by. */
double hist_rel_error(const struct hist *h);
/* The range [lo, hi] of values sharing value's bucket (for tests). */
void hist_bucket_range(const struct hist *h, uint64_t value, uint64_t *lo,
		       uint64_t *hi);

#endif /* KOPT_LOADER_HISTOGRAM_H */
