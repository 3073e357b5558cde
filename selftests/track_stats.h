/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Does a server-side p99 track the client's? The statistics the tracking
 * tests share (test_srvlat_track.c in network namespaces, test_srvlat_guest.c
 * in the e1000e guest): over a sweep of settings at a few loads, the
 * Spearman rank correlation of server against client p99, the offset
 * (client - server p99), and whether the settings, ordered by p99 at each
 * load, come out in the same order wherever the client's figures differ
 * by more than their noise.
 */
#ifndef KOPT_SELFTESTS_TRACK_STATS_H
#define KOPT_SELFTESTS_TRACK_STATS_H

#include <stdbool.h>
#include <stdio.h>

#define TRACK_MAX_POINTS 128

/* One window: a setting at a load, the two p99s. */
struct track_pt {
	double load;
	long setting;
	double client_p99, server_p99;
	bool valid; /* false: kept in the CSV, left out of the figures */
};

struct track_fig {
	int n; /* valid points */
	double rho; /* Spearman, server vs client p99, valid points */
	double off_min, off_med, off_max; /* client - server p99, us */
	int pairs; /* setting pairs whose client p99s differ beyond a tie */
	int bad; /* of which the server p99 orders the other way */
};

/* Spearman's rank correlation (ties averaged); NAN if either is constant. */
double track_spearman(const double *x, const double *y, int n);

/* Mean p99 (client's, else the server's) of one setting at one load. */
double track_mean(const struct track_pt *p, int n, double load, long setting,
		  bool client);

/* The smallest and largest client p99 of one setting at one load. */
void track_client_range(const struct track_pt *p, int n, double load,
			long setting, double *lo, double *hi);

/*
 * The figures of one sweep into f: Spearman and offsets over the valid
 * points, and at each load the setting pairs whose mean client p99s
 * differ by more than tie (relative) and, with spread, whose client
 * rounds do not overlap (every round of one below every round of the
 * other: the difference is beyond the round-to-round noise), with those
 * the server orders the other way. The per-setting means, the pairs per
 * load and the summary go to csv as comment lines ("# mean,LOAD,SETTING,
 * LABEL,CLIENT,SERVER", "# order,LABEL,LOAD,..." and "# LABEL,spearman,
 * ..."); the summary and, per load, the settings in the client's and the
 * server's order to stderr, under label.
 */
void track_figures(const struct track_pt *p, int n, const double *loads,
		   int nload, const long *settings, int nset, double tie,
		   bool spread, const char *label, FILE *csv,
		   struct track_fig *f);

#endif /* KOPT_SELFTESTS_TRACK_STATS_H */
