// SPDX-License-Identifier: GPL-2.0-only
/*
 * Energy meters (see energy.h).
 *
 * RAPL (powercap): the package zones intel-rapl:N (sub-zones would count
 * twice) are read from energy_uj, a counter that wraps at
 * max_energy_range_uj; a delta across a wrap is raw + range - last. The
 * counters are 32-bit-ish in hardware and wrap every few minutes under
 * load, so the meter must be read at least once per wrap period: the
 * control loop reads it every window.
 *
 * perf power PMU: the energy-pkg event, one fd per package, scaled by
 * the event's .scale file. Some hosts expose the PMU with counters that
 * never move (this sandbox's energy-psys); a meter that does not move
 * while a CPU spins for 50 ms is rejected.
 *
 * Estimate: P = static + sum over CPUs of idle + (busy - idle) * u * r^3,
 * with u the CPU's busy fraction from /proc/stat and r = current / max
 * frequency (1 without cpufreq): dynamic power grows roughly with f * V^2
 * and V with f. A model, labelled as such; its parameters are options.
 *
 * Process estimate: for a testbed that is itself a process (a VM under
 * emulation), P = static + busy * (CPU-seconds the process used per
 * second), from /proc/PID/stat utime + stime (all its threads).
 *
 * Cost: a few small file reads per energy_read().
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/perf_event.h>

#include <cpufreq.h>

#include "energy.h"
#include "kopt.h"

#define MAX_ZONES 16
#define MAX_EST_CPUS 1024
#define POWER_PMU "/sys/bus/event_source/devices/power"

struct rapl_zone {
	char path[512];
	unsigned long long last_uj, range_uj;
};

struct cpu_ticks {
	unsigned long long busy, total;
};

struct energy_meter {
	enum energy_source src;
	struct energy_opts opts;
	double joules; /* accumulated */
	/* rapl */
	struct rapl_zone zones[MAX_ZONES];
	int nr_zones;
	/* perf */
	int fds[MAX_ZONES];
	int nr_fds;
	double scale;
	unsigned long long last_count[MAX_ZONES];
	/* estimate */
	struct cpu_ticks ticks[MAX_EST_CPUS];
	int nr_cpus;
	struct timespec last_ts;
	/* process estimate */
	double last_cpu_s;
};

static const char *const source_names[] = {
	[ENERGY_RAPL] = "rapl",
	[ENERGY_PERF] = "perf-power",
	[ENERGY_ESTIMATE] = "estimate",
	[ENERGY_PROC_ESTIMATE] = "estimate-process",
};

void energy_opts_default(struct energy_opts *o)
{
	*o = (struct energy_opts){
		.static_w = 10.0,
		.core_idle_w = 1.0,
		.core_busy_w = 8.0,
	};
}

/* ---- RAPL ---------------------------------------------------------------------- */

static const char *powercap_root(void)
{
	const char *r = getenv("KOPT_POWERCAP_ROOT"); /* tests */

	return r && *r ? r : "/sys/class/powercap";
}

/* Package zones only: "intel-rapl:0", not "intel-rapl:0:1". */
static bool package_zone(const char *name)
{
	const char *c = strchr(name, ':');

	return !strncmp(name, "intel-rapl:", 11) && c && !strchr(c + 1, ':');
}

static int rapl_open(struct energy_meter *m, char *why, size_t len)
{
	const char *root = powercap_root();
	struct dirent *de;
	char path[600];
	DIR *d = opendir(root);
	int err = -ENOENT;

	if (!d) {
		snprintf(why, len, "RAPL: no %s", root);
		return -ENOENT;
	}
	while ((de = readdir(d)) && m->nr_zones < MAX_ZONES) {
		struct rapl_zone *z = &m->zones[m->nr_zones];

		if (!package_zone(de->d_name))
			continue;
		snprintf(z->path, sizeof(z->path), "%s/%s/energy_uj", root,
			 de->d_name);
		snprintf(path, sizeof(path), "%s/%s/max_energy_range_uj", root,
			 de->d_name);
		err = kopt_read_ull(z->path, &z->last_uj);
		if (!err)
			err = kopt_read_ull(path, &z->range_uj);
		if (err) {
			snprintf(why, len, "RAPL: %s unreadable (%s)", z->path,
				 strerror(-err));
			break;
		}
		m->nr_zones++;
	}
	closedir(d);
	if (!m->nr_zones && err == -ENOENT)
		snprintf(why, len, "RAPL: no package zone in %s", root);
	return m->nr_zones && !(err && err != -ENOENT) ? 0 : err;
}

static int rapl_read(struct energy_meter *m)
{
	unsigned long long raw, delta;
	int i, err;

	for (i = 0; i < m->nr_zones; i++) {
		struct rapl_zone *z = &m->zones[i];

		err = kopt_read_ull(z->path, &raw);
		if (err)
			return err;
		delta = raw >= z->last_uj ? raw - z->last_uj :
					    raw + z->range_uj - z->last_uj;
		z->last_uj = raw;
		m->joules += delta / 1e6;
	}
	return 0;
}

/* ---- perf power PMU ------------------------------------------------------- */

static int perf_read_counts(struct energy_meter *m, unsigned long long *out)
{
	int i;

	for (i = 0; i < m->nr_fds; i++)
		if (read(m->fds[i], &out[i], sizeof(out[i])) != sizeof(out[i]))
			return -EIO;
	return 0;
}

static void spin_ms(int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000 +
		       (t.tv_nsec - t0.tv_nsec) / 1000000 <
	       ms);
}

static int perf_open(struct energy_meter *m, char *why, size_t len)
{
	struct perf_event_attr attr = { .size = sizeof(attr) };
	unsigned long long after[MAX_ZONES];
	char buf[128], *tok, *save = NULL;
	unsigned int config;
	int i, moved = 0;

	if (kopt_read_line(POWER_PMU "/type", buf, sizeof(buf))) {
		snprintf(why, len, "perf: no power PMU");
		return -ENOENT;
	}
	attr.type = strtol(buf, NULL, 10);
	if (kopt_read_line(POWER_PMU "/events/energy-pkg", buf, sizeof(buf)) ||
	    sscanf(buf, "event=%x", &config) != 1) {
		snprintf(why, len, "perf: power PMU has no energy-pkg event");
		return -ENOENT;
	}
	attr.config = config;
	m->scale = kopt_read_line(POWER_PMU "/events/energy-pkg.scale", buf,
				  sizeof(buf)) ?
			   2.3283064365386962890625e-10 :
			   strtod(buf, NULL);
	if (kopt_read_line(POWER_PMU "/cpumask", buf, sizeof(buf)))
		snprintf(buf, sizeof(buf), "0");
	for (tok = strtok_r(buf, ",\n", &save); tok && m->nr_fds < MAX_ZONES;
	     tok = strtok_r(NULL, ",\n", &save)) {
		int fd = syscall(SYS_perf_event_open, &attr, -1, atoi(tok), -1,
				 PERF_FLAG_FD_CLOEXEC);

		if (fd < 0) {
			snprintf(why, len, "perf: energy-pkg on cpu %s: %s",
				 tok, strerror(errno));
			return -errno;
		}
		m->fds[m->nr_fds++] = fd;
	}
	if (perf_read_counts(m, m->last_count))
		return -EIO;
	spin_ms(50);
	perf_read_counts(m, after);
	for (i = 0; i < m->nr_fds; i++)
		moved |= after[i] != m->last_count[i];
	if (!moved) {
		snprintf(why, len, "perf: energy-pkg does not count");
		return -ENODATA;
	}
	memcpy(m->last_count, after, sizeof(after));
	return 0;
}

static int perf_read(struct energy_meter *m)
{
	unsigned long long now[MAX_ZONES];
	int i;

	if (perf_read_counts(m, now))
		return -EIO;
	for (i = 0; i < m->nr_fds; i++) {
		m->joules += (now[i] - m->last_count[i]) * m->scale;
		m->last_count[i] = now[i];
	}
	return 0;
}

static void perf_close(struct energy_meter *m)
{
	int i;

	for (i = 0; i < m->nr_fds; i++)
		close(m->fds[i]);
	m->nr_fds = 0;
}

/* ---- estimate -------------------------------------------------------------- */

/* Reads cpuN lines of /proc/stat (busy = all but idle and iowait). */
static int read_ticks(struct cpu_ticks *t, int *nr)
{
	unsigned long long v[10];
	char line[512];
	FILE *f = fopen("/proc/stat", "re");
	int cpu, n = 0, i;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "cpu", 3) || line[3] == ' ')
			continue;
		memset(v, 0, sizeof(v));
		if (sscanf(line,
			   "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu",
			   &cpu, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			   &v[6], &v[7]) < 5 ||
		    cpu < 0 || cpu >= MAX_EST_CPUS)
			continue;
		t[cpu].total = 0;
		for (i = 0; i < 8; i++)
			t[cpu].total += v[i];
		t[cpu].busy = t[cpu].total - v[3] - v[4];
		if (cpu + 1 > n)
			n = cpu + 1;
	}
	fclose(f);
	*nr = n;
	return n ? 0 : -EIO;
}

static double freq_ratio(int cpu)
{
	unsigned long min, max, cur;

	if (cpufreq_get_hardware_limits(cpu, &min, &max) || !max)
		return 1.0;
	cur = cpufreq_get_freq_kernel(cpu);
	return cur ? (double)cur / max : 1.0;
}

static double elapsed_s(struct timespec *last)
{
	struct timespec now;
	double dt;

	clock_gettime(CLOCK_MONOTONIC, &now);
	dt = (now.tv_sec - last->tv_sec) + (now.tv_nsec - last->tv_nsec) / 1e9;
	*last = now;
	return dt;
}

static int estimate_read(struct energy_meter *m)
{
	static struct cpu_ticks now[MAX_EST_CPUS];
	double dt = elapsed_s(&m->last_ts), watts = m->opts.static_w;
	int n, cpu, err = read_ticks(now, &n);

	if (err)
		return err;
	for (cpu = 0; cpu < n && cpu < m->nr_cpus; cpu++) {
		unsigned long long dtot = now[cpu].total - m->ticks[cpu].total;
		unsigned long long dbusy = now[cpu].busy - m->ticks[cpu].busy;
		double u = dtot ? (double)dbusy / dtot : 0, r = freq_ratio(cpu);

		watts += m->opts.core_idle_w +
			 (m->opts.core_busy_w - m->opts.core_idle_w) * u * r *
				 r * r;
		m->ticks[cpu] = now[cpu];
	}
	m->joules += watts * dt;
	return 0;
}

/* CPU-seconds (user + system, all threads) of pid, or -errno. */
static double proc_cpu_s(int pid)
{
	unsigned long long ut, st;
	char path[64], buf[1024], *p;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n > 0 ? n : 0] = '\0';
	p = strrchr(buf, ')'); /* comm may hold spaces */
	if (!p ||
	    sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
		   &st) != 2)
		return -EIO;
	return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

static int proc_estimate_read(struct energy_meter *m)
{
	double dt = elapsed_s(&m->last_ts), cpu = proc_cpu_s(m->opts.pid);

	if (cpu < 0)
		return (int)cpu;
	m->joules += m->opts.static_w * dt +
		     m->opts.core_busy_w * (cpu - m->last_cpu_s);
	m->last_cpu_s = cpu;
	return 0;
}

/* ---- interface -------------------------------------------------------------- */

struct energy_meter *energy_open(const struct energy_opts *o, char *why_not,
				 size_t len)
{
	struct energy_meter *m = calloc(1, sizeof(*m));
	char r1[160] = "", r2[160] = "";

	if (!m)
		return NULL;
	if (o)
		m->opts = *o;
	else
		energy_opts_default(&m->opts);
	if (m->opts.pid > 0) {
		snprintf(r1, sizeof(r1),
			 "estimating process %d's energy from its "
			 "CPU time",
			 m->opts.pid);
		m->last_cpu_s = proc_cpu_s(m->opts.pid);
		if (m->last_cpu_s < 0) {
			free(m);
			errno = ESRCH;
			return NULL;
		}
		m->src = ENERGY_PROC_ESTIMATE;
		clock_gettime(CLOCK_MONOTONIC, &m->last_ts);
		goto out;
	} else if (m->opts.force_estimate) {
		snprintf(r1, sizeof(r1), "real meters skipped on request");
	} else if (!rapl_open(m, r1, sizeof(r1))) {
		m->src = ENERGY_RAPL;
		goto out;
	} else if (!perf_open(m, r2, sizeof(r2))) {
		m->src = ENERGY_PERF;
		goto out;
	}
	perf_close(m);
	m->src = ENERGY_ESTIMATE;
	clock_gettime(CLOCK_MONOTONIC, &m->last_ts);
	read_ticks(m->ticks, &m->nr_cpus);
out:
	if (why_not)
		snprintf(why_not, len, "%s%s%s", r1, r2[0] ? "; " : "", r2);
	return m;
}

int energy_read(struct energy_meter *m, double *joules)
{
	int err;

	switch (m->src) {
	case ENERGY_RAPL:
		err = rapl_read(m);
		break;
	case ENERGY_PERF:
		err = perf_read(m);
		break;
	case ENERGY_PROC_ESTIMATE:
		err = proc_estimate_read(m);
		break;
	default:
		err = estimate_read(m);
		break;
	}
	*joules = m->joules;
	return err;
}

enum energy_source energy_source(const struct energy_meter *m)
{
	return m->src;
}

const char *energy_source_name(const struct energy_meter *m)
{
	return source_names[m->src];
}

bool energy_is_estimate(const struct energy_meter *m)
{
	return m->src == ENERGY_ESTIMATE || m->src == ENERGY_PROC_ESTIMATE;
}

void energy_close(struct energy_meter *m)
{
	if (!m)
		return;
	perf_close(m);
	free(m);
}
