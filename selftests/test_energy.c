// SPDX-License-Identifier: GPL-2.0-only
/*
 * Energy meter tests: RAPL counter wrap-around on a fake powercap tree
 * (this host has none), the estimate's response to CPU load, and the
 * labelling of the source.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "energy.h"
#include "test.h"

static void put(const char *dir, const char *file, unsigned long long v)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%llu\n", v);
		fclose(f);
	}
}

KOPT_TEST(energy_rapl_wraparound)
{
	char root[256], zone[300], sub[300], why[300];
	struct energy_meter *m;
	double j;

	snprintf(root, sizeof(root), "%s/powercap", kopt_test_tmpdir());
	snprintf(zone, sizeof(zone), "%s/intel-rapl:0", root);
	snprintf(sub, sizeof(sub), "%s/intel-rapl:0:0", root);
	mkdir(root, 0755);
	mkdir(zone, 0755);
	mkdir(sub, 0755);
	put(zone, "energy_uj", 1900000);
	put(zone, "max_energy_range_uj", 2000000);
	put(sub, "energy_uj", 5); /* a sub-zone: must not be counted */
	put(sub, "max_energy_range_uj", 2000000);
	setenv("KOPT_POWERCAP_ROOT", root, 1);
	m = energy_open(NULL, why, sizeof(why));
	unsetenv("KOPT_POWERCAP_ROOT");
	if (!ASSERT_OK_PTR(m, "open"))
		return;
	ASSERT_STREQ(energy_source_name(m), "rapl", "source");
	put(zone, "energy_uj", 1950000);
	ASSERT_OK(energy_read(m, &j), "read");
	ASSERT_NEAR(j, 0.05, 1e-9, "plain delta");
	put(zone, "energy_uj", 100000); /* wrapped */
	ASSERT_OK(energy_read(m, &j), "read across wrap");
	ASSERT_NEAR(j, 0.05 + 0.15, 1e-9, "delta across the wrap");
	energy_close(m);
}

KOPT_TEST(energy_rapl_unreadable_falls_back)
{
	char root[256], why[300];
	struct energy_meter *m;

	snprintf(root, sizeof(root), "%s/powercap-empty", kopt_test_tmpdir());
	mkdir(root, 0755);
	setenv("KOPT_POWERCAP_ROOT", root, 1);
	m = energy_open(NULL, why, sizeof(why));
	unsetenv("KOPT_POWERCAP_ROOT");
	if (!ASSERT_OK_PTR(m, "open"))
		return;
	ASSERT_NEQ(energy_source(m), ENERGY_RAPL, "no RAPL zone, no RAPL");
	ASSERT_HAS(why, "RAPL: no package zone", "why RAPL was not used");
	energy_close(m);
}

static void spin(double secs)
{
	struct timespec t0, t;
	volatile unsigned long x = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		x++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 <
		 secs);
}

KOPT_TEST(energy_estimate_counts_busy_time)
{
	struct energy_opts o;
	struct energy_meter *m;
	double j0, j1, floor_w;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	energy_opts_default(&o);
	o.force_estimate = true;
	m = energy_open(&o, NULL, 0);
	if (!ASSERT_OK_PTR(m, "open"))
		return;
	ASSERT_STREQ(energy_source_name(m), "estimate", "labelled estimate");
	energy_read(m, &j0);
	spin(0.5);
	energy_read(m, &j1);
	/*
	 * One CPU spun the whole window: at least static + all idle + most
	 * of one CPU's busy-idle difference (USER_HZ tick granularity).
	 */
	floor_w = o.static_w + ncpu * o.core_idle_w +
		  0.8 * (o.core_busy_w - o.core_idle_w);
	ASSERT_GE((j1 - j0) / 0.5 * 1000, floor_w * 1000, "busy window watts");
	ASSERT_LE((j1 - j0) / 0.5, (o.static_w + ncpu * o.core_busy_w) * 1.2,
		  "at most all busy");
	energy_close(m);
}

KOPT_TEST(energy_cli_labels_source)
{
	char out[4096];

	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"%s energy --duration 0.2 --json",
				kopt_test_bin()),
		  0, "kopt energy");
	ASSERT_HAS(out, "\"source\":", "source field");
	if (access("/sys/class/powercap/intel-rapl:0", F_OK))
		ASSERT_HAS(out, "\"estimate\":true", "estimate flagged here");
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s energy --duration 0",
				kopt_test_bin()),
		  2, "bad duration");
	ASSERT_HAS(out,
		   "kopt energy: --duration '0': expected seconds in "
		   "0.01..86400\n",
		   "the range named");
}

/* Spins until this process has used `secs` of CPU time. */
static void burn_cpu(double secs)
{
	struct timespec t;

	do
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	while (t.tv_sec + t.tv_nsec / 1e9 < secs);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

KOPT_TEST(energy_process_estimate)
{
	struct energy_opts o;
	struct energy_meter *m;
	double j0, j1, t0, t1;
	siginfo_t info;
	pid_t child;

	child = fork();
	if (child == 0) {
		burn_cpu(0.3); /* a known amount of CPU time, however busy */
		_exit(0);
	}
	if (!ASSERT_GT(child, 0, "fork"))
		return;
	energy_opts_default(&o);
	o.pid = child;
	t0 = now_s();
	m = energy_open(&o, NULL, 0);
	if (ASSERT_OK_PTR(m, "open on a live process")) {
		ASSERT_STREQ(energy_source_name(m), "estimate-process", "name");
		ASSERT_TRUE(energy_is_estimate(m), "labelled an estimate");
		energy_read(m, &j0);
		/* exited but not reaped: its /proc/PID/stat still has its times */
		waitid(P_PID, child, &info, WEXITED | WNOWAIT);
		energy_read(m, &j1);
		t1 = now_s();
		/* static power over the window plus 0.3 CPU-seconds (ticks) */
		ASSERT_GE(j1 - j0, o.core_busy_w * 0.27, "CPU time counted");
		ASSERT_LE(j1 - j0,
			  o.static_w * (t1 - t0) + o.core_busy_w * 0.33,
			  "no more than static + its CPU time");
		energy_close(m);
	}
	waitpid(child, NULL, 0);
	m = energy_open(&o, NULL, 0); /* reaped: gone */
	ASSERT_NULL(m, "a dead process has no energy");
	energy_close(m);
}
