// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of kopt report's pictures (loader/tools/report.c), read from the
 * gnuplot script it writes: titles say where the figures come from, the
 * stock baseline is drawn whatever its source and no empty series is
 * plotted (gnuplot would warn), outliers do not squeeze the SLA, trials
 * are coloured per load level, every plot is in W, legends sit off the
 * data and the script redraws from its own directory.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

#define OUT_CAP (1 << 16)

#define LOG_HEAD                                                        \
	"t_s,seconds,trigger,phase,itr_us,freq_mhz,energy_j,objective," \
	"p50_us,p99_us,throughput,qps,sla_ok,stock_energy_j,"           \
	"oracle_energy_j,source,error\n"

static bool have_gnuplot(void)
{
	if (kopt_test_run(NULL, 0, "command -v gnuplot") == 0)
		return true;
	SKIP("gnuplot is not installed (make deps installs it)");
	return false;
}

static bool write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		__KOPT_FAIL("%s: cannot create", path);
		return false;
	}
	fputs(text, f);
	return !fclose(f);
}

/* Draws log (text) into tmp/name/, its report.gp into gp; 0 on success. */
static int draw(const char *name, const char *text, char *gp, size_t cap,
		char *out)
{
	char log[PATH_MAX], dir[PATH_MAX], path[PATH_MAX + 16];
	FILE *f;
	int st;

	snprintf(log, sizeof(log), "%s/%s.csv", kopt_test_tmpdir(), name);
	snprintf(dir, sizeof(dir), "%s/%s", kopt_test_tmpdir(), name);
	if (!write_text(log, text))
		return -1;
	st = kopt_test_run(out, OUT_CAP, "%s report %s -o %s", kopt_test_bin(),
			   log, dir);
	if (!ASSERT_EQ(st, 0, out))
		return -1;
	/* gnuplot said nothing: no empty series, no warning */
	ASSERT_FALSE(strstr(out, "Skipping data file"), out);
	ASSERT_FALSE(strstr(out, "warning"), out);
	snprintf(path, sizeof(path), "%s/report.gp", dir);
	f = fopen(path, "r");
	if (!f) {
		__KOPT_FAIL("%s: cannot open", path);
		return -1;
	}
	gp[fread(gp, 1, cap - 1, f)] = '\0';
	fclose(f);
	/* the script redraws from its own directory, silently */
	st = kopt_test_run(out, OUT_CAP,
			   "cd %s && rm -f *.png && gnuplot "
			   "report.gp && ls energy_time.png",
			   dir);
	ASSERT_EQ(st, 0, out);
	ASSERT_FALSE(strstr(out, "Skipping"), out);
	return 0;
}

/* Number of times needle occurs in s. */
static int count(const char *s, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/*
 * A host run: energy estimated, the baseline measured in stock windows
 * (the stock column empty), two load levels, one 20 ms outlier against
 * a 200 us SLA.
 */
KOPT_TEST(report_estimated_measured_stock)
{
	static char out[OUT_CAP], gp[OUT_CAP];
	const char *text =
		"# kopt run log: policy=host-test objective=energy "
		"sla_kind=latency sla_pct=p99 sla_bound=200 sla_aim=180 "
		"plant=host\n" LOG_HEAD
		"10,10,0,measure,stock,stock,300,30,50,150,,50000,1,,,estimate,\n"
		"20,10,0,stock,stock,stock,310,31,50,150,,50000,1,,,estimate,\n"
		"30,10,0,explore,50,1800,250,25,60,190,,50000,1,,,estimate,\n"
		"40,10,0,explore,100,1200,200,20,90,20000,,50000,0,,,estimate,\n"
		"50,10,0,hold,50,1800,250,25,60,190,,50000,1,,,estimate,\n"
		"60,10,1,measure,50,1800,400,40,60,170,,100000,1,,,estimate,\n"
		"70,10,1,stock,stock,stock,420,42,50,140,,100000,1,,,estimate,\n"
		"80,10,1,explore,30,2000,380,38,60,180,,101000,1,,,estimate,\n"
		"90,10,1,hold,30,2000,380,38,60,180,,101000,1,,,estimate,\n"
		"100,10,1,hold,30,2000,,,,,,,,,,,\"plant timed out\"\n";

	if (!have_gnuplot() || draw("rep-host", text, gp, sizeof(gp), out))
		return;
	ASSERT_EQ(count(gp, "(estimated)'"), 3, "every title says estimated");
	ASSERT_FALSE(strstr(gp, "(simulated)"), "not simulated");
	/* the stock line from the measured windows, not an empty column */
	ASSERT_HAS(gp, "'stock.dat' using ($1/1):2 with linespoints",
		   "stock windows drawn");
	ASSERT_HAS(gp, "title 'stock policy (measured windows)'", "its legend");
	ASSERT_FALSE(strstr(gp, "using ($1/1):3"), "no empty plant column");
	ASSERT_FALSE(strstr(gp, "'oracle'"), "no oracle without data");
	ASSERT_HAS(gp, "kopt vs stock policy", "time plot title");
	/* the outlier: a log axis, the SLA line still drawn at 200 */
	ASSERT_HAS(gp, "set logscale x\n", "log latency axis");
	ASSERT_HAS(gp, "p99 latency (us, log scale)", "axis says so");
	ASSERT_HAS(gp, "set arrow 1 from 200,", "SLA line at 200 us");
	ASSERT_HAS(gp, "unset logscale x", "only for that plot");
	/* one series per load level, in both trial plots */
	ASSERT_EQ(count(gp, "'trials.dat' index 0 "), 2, "level 0 twice");
	ASSERT_EQ(count(gp, "'trials.dat' index 1 "), 2, "level 1 twice");
	ASSERT_FALSE(strstr(gp, "'trials.dat' index 2 "), "two levels only");
	ASSERT_HAS(gp, "title 'trials at 50k qps'", "level 0 legend");
	ASSERT_HAS(gp, "title 'trials at 100k-101k qps'", "level 1 legend");
	/* W everywhere, legends below the data */
	ASSERT_EQ(count(gp, "set ylabel 'power (W)'"), 3, "W in every plot");
	ASSERT_FALSE(strstr(gp, "(J)"), "no joules per window axis");
	ASSERT_HAS(gp, "set key below", "legend off the data");
	ASSERT_FALSE(strstr(gp, "set key top right"), "not over the data");
}

/* Replayed figures say so; a log without any baseline says that too. */
KOPT_TEST(report_replayed_no_stock)
{
	static char out[OUT_CAP], gp[OUT_CAP];
	const char *text =
		"# kopt run log: policy=replay-test objective=energy "
		"sla_kind=latency sla_pct=p99 sla_bound=500 sla_aim=450 "
		"plant=replay\n" LOG_HEAD
		"10,10,0,measure,stock,stock,300,30,50,150,,50000,1,,,replay,\n"
		"20,10,0,explore,50,1800,250,25,60,190,,50000,1,,,replay,\n"
		"30,10,0,hold,50,1800,250,25,60,190,,50000,1,,,replay,\n";

	if (!have_gnuplot() || draw("rep-replay", text, gp, sizeof(gp), out))
		return;
	ASSERT_EQ(count(gp, "(replayed)'"), 3, "every title says replayed");
	ASSERT_HAS(gp, "(no stock baseline in this log)", "says none");
	ASSERT_FALSE(strstr(gp, "stock.dat'"), "no empty stock series");
	ASSERT_FALSE(strstr(gp, "using ($1/1):3"), "no empty stock column");
	ASSERT_FALSE(strstr(gp, "set logscale"), "no log axis needed");
}

/* A simulated run: the plant's stock and oracle columns, in W. */
KOPT_TEST(report_simulated_run)
{
	static char out[OUT_CAP], gp[OUT_CAP];
	char pol[PATH_MAX], log[PATH_MAX], *text;

	if (!have_gnuplot())
		return;
	snprintf(pol, sizeof(pol), "%s/../policies/memcached-sla500.conf",
		 kopt_test_builddir());
	snprintf(log, sizeof(log), "%s/sim-run.csv", kopt_test_tmpdir());
	if (!ASSERT_OK(kopt_test_run(out, OUT_CAP,
				     "%s run --policy %s --plant sim "
				     "--duration 3600 --log %s",
				     kopt_test_bin(), pol, log),
		       out))
		return;
	text = kopt_test_read_file(log);
	if (ASSERT_OK_PTR(text, "log text") &&
	    !draw("rep-sim", text, gp, sizeof(gp), out)) {
		ASSERT_EQ(count(gp, "(simulated)'"), 3, "titles say simulated");
		ASSERT_HAS(gp, "title 'stock policy (plant)'", "stock line");
		ASSERT_HAS(gp, "title 'oracle'", "oracle line");
		ASSERT_HAS(gp, "'chosen.dat' using 1:2", "chosen settings");
		ASSERT_HAS(gp, "'trials.dat' index 0 using 1:2", "trials");
	}
	free(text);
}
