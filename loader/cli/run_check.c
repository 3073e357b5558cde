// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt run --check: a preflight of a policy on its plant, changing
 * nothing. For --plant host (this host, the policy's [host] section):
 *
 *   policy      it loads (done by the caller; named here)
 *   journal     no live kopt holds knobs, no leftovers to restore
 *   interface   exists in this network namespace
 *   itr knob    the coalescing knob reads, and this process may write it
 *               (sysfs: write permission; ethtool: the driver reports
 *               the parameter and we have CAP_NET_ADMIN)
 *   dvfs knob   cpufreq on [host] cpus, unless [freq] list_mhz = none
 *   meter       the energy meter opens; with [host] energy = measured,
 *               a real one (RAPL, perf power)
 *   latency     the SLA source gives a reading: the BPF probe loads and
 *               attaches (hardware timestamps are queried, not turned
 *               on), a feed gives one valid line, the load generator's
 *               server accepts a TCP connection
 *
 * --plant sim checks the sim's parameter file; a plant command is not
 * run. Every failed check says what is missing and why; the exit code is
 * 0 only if every check passed. `kopt run --plant host` runs the same
 * checks (all but the journal's, which the plant settles itself) before
 * it starts the plant, and stops with the failed ones.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <net/if.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/capability.h>

#include <json-c/json.h>

#include "actuator.h"
#include "cli.h"
#include "energy.h"
#include "hwtstamp.h"
#include "latency_src.h"
#include "plant.h"
#include "policy.h"
#include "srvlat.h"
#include "state.h"

#define CHECK_MAX 12
#define CHECK_DETAIL 600

struct check {
	const char *what;
	bool ok;
	char detail[CHECK_DETAIL];
};

struct checks {
	struct check c[CHECK_MAX];
	int n;
};

static struct check *add(struct checks *cs, const char *what, bool ok,
			 const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static struct check *add(struct checks *cs, const char *what, bool ok,
			 const char *fmt, ...)
{
	struct check *c = &cs->c[cs->n < CHECK_MAX - 1 ? cs->n++ : cs->n];
	va_list ap;

	c->what = what;
	c->ok = ok;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
	return c;
}

static void check_journal(struct checks *cs)
{
	const char *dir = kopt_state_dir();
	pid_t owner = 0, holder = 0;
	int pending;

	/* state_dir() would create the directory: a check creates nothing */
	if (access(dir, F_OK)) {
		add(cs, "journal", true, "no kopt changes pending (%s absent)",
		    dir);
		return;
	}
	pending = state_pending(&owner);
	if (pending < 0) {
		add(cs, "journal", false,
		    "%s/state.json cannot be used (see the message above): "
		    "every change would be refused",
		    state_dir());
		return;
	}
	if (!pending) {
		add(cs, "journal", true, "no kopt changes pending in %s",
		    state_dir());
		return;
	}
	/* a live owner holds the journal's lock (state.c), not a PID */
	if (state_holder(&holder) > 0)
		add(cs, "journal", false,
		    "kopt pid %d holds knobs (%s/state.json): a second kopt "
		    "would refuse to touch them",
		    (int)(holder ? holder : owner), state_dir());
	else
		add(cs, "journal", false,
		    "leftovers of a killed kopt in %s/state.json: `kopt "
		    "restore` puts them back (a run would first)",
		    state_dir());
}

static bool have_cap(int cap)
{
	char line[256];
	unsigned long long eff = 0;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return eff & (1ULL << cap);
}

static void check_knob(struct checks *cs, const char *what, enum act_kind kind,
		       const char *target, const char *knob)
{
	struct actuator a;
	long v;

	if (act_probe(&a, kind, target, knob)) {
		add(cs, what, false, "%s %s %s: %s", act_kind_name(kind),
		    target, knob, a.why);
		return;
	}
	if (act_get(&a, &v)) {
		add(cs, what, false, "%s %s %s: cannot read it back: %s",
		    act_kind_name(kind), target, knob, a.why);
		return;
	}
	if (kind == ACT_NIC_COALESCE && !have_cap(CAP_NET_ADMIN)) {
		add(cs, what, false,
		    "%s %s %s = %ld, but without CAP_NET_ADMIN it cannot be "
		    "set",
		    act_kind_name(kind), target, knob, v);
		return;
	}
	add(cs, what, true,
	    "%s %s %s = %ld (read; writable; range %ld..%ld); not changed",
	    act_kind_name(kind), target, knob, v, a.min, a.max);
}

static void check_meter(struct checks *cs, const struct policy *p)
{
	struct energy_opts eo;
	struct energy_meter *m;
	char why[400] = "";
	double j;

	energy_opts_default(&eo);
	eo.force_estimate = p->host.energy == 1;
	m = energy_open(&eo, why, sizeof(why));
	if (!m) {
		add(cs, "meter", false, "energy meter: %s", strerror(errno));
		return;
	}
	if (energy_read(m, &j))
		add(cs, "meter", false, "%s: the first reading failed",
		    energy_source_name(m));
	else if (energy_is_estimate(m) && p->host.energy == 2)
		add(cs, "meter", false,
		    "no energy meter: %s; the policy asks for a measured one "
		    "([host] energy = measured)",
		    why);
	else if (energy_is_estimate(m))
		add(cs, "meter", true,
		    "%s: a model ESTIMATE, labelled so in every figure (%s)",
		    energy_source_name(m), why);
	else
		add(cs, "meter", true, "%s (measured)", energy_source_name(m));
	energy_close(m);
}

static void check_bpf(struct checks *cs, const struct policy *p)
{
	struct srvlat_opts so = { .no_hw = true };
	char err[SRVLAT_ERR_LEN];
	struct hwts_info hi;
	struct srvlat *s;

	srvlat_parse_ports(p->host.latency.spec + 4, &so, err, sizeof(err));
	if (p->host.ifname[0])
		so.ifname = p->host.ifname;
	if (!kopt_have_bpf_caps()) {
		add(cs, "latency", false,
		    "%s: loading the BPF probe needs CAP_BPF and CAP_PERFMON "
		    "(root)",
		    p->host.latency.spec);
		return;
	}
	kopt_setup_libbpf();
	s = srvlat_open(&so, err, sizeof(err));
	if (!s) {
		add(cs, "latency", false, "%s: %s", p->host.latency.spec, err);
		return;
	}
	/* hardware stamps are asked about, never turned on by a check */
	if (so.ifname && !hwts_query(so.ifname, &hi) && hi.usable)
		add(cs, "latency", true,
		    "%s: the BPF probe loads and attaches; %s: a run turns "
		    "them on (journaled) for the arrival time",
		    p->host.latency.spec, hi.why);
	else
		add(cs, "latency", true,
		    "%s: the BPF probe loads and attaches; %s",
		    p->host.latency.spec, srvlat_info(s)->arrival);
	srvlat_close(s);
}

static void check_feed(struct checks *cs, const struct policy *p)
{
	char err[LATENCY_SRC_ERR_LEN];
	struct latency_reading r;
	struct latency_src src;

	if (latency_src_init(&src, p->host.latency.spec + 5, err,
			     sizeof(err))) {
		add(cs, "latency", false, "%s", err);
		return;
	}
	if (latency_src_read(&src, &r, err, sizeof(err)))
		add(cs, "latency", false, "%s", err);
	else
		add(cs, "latency", true,
		    "%s: one reading: p99 %g us, p50 %g us%s",
		    p->host.latency.spec, r.p99_us, r.p50_us,
		    r.qps >= 0 ? ", with qps" : "");
	latency_src_free(&src);
}

/* The load generator's server accepts a connection (closed at once). */
static void check_server(struct checks *cs, const struct policy *p)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	char host[POLICY_NAME_LEN], *port;
	int fd = -1, rc;

	snprintf(host, sizeof(host), "%s", p->host.server);
	port = strrchr(host, ':');
	if (!port) {
		add(cs, "latency", false,
		    "[host] server '%s': expected "
		    "HOST:PORT",
		    p->host.server);
		return;
	}
	*port++ = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		add(cs, "latency", false, "loadgen: server %s: %s",
		    p->host.server, gai_strerror(rc));
		return;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd >= 0 && !connect(fd, res->ai_addr, res->ai_addrlen))
		add(cs, "latency", true,
		    "loadgen: %s accepts connections (kopt's own load, client "
		    "side: lab use)",
		    p->host.server);
	else
		add(cs, "latency", false, "loadgen: connect to %s: %s",
		    p->host.server, strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
}

static void check_host(struct checks *cs, const struct policy *p,
		       bool before_run)
{
	const struct policy_host *h = &p->host;

	/* a run restores a killed kopt's leftovers itself */
	if (!before_run)
		check_journal(cs);
	if (h->agent[0]) {
		add(cs, "interface", true,
		    "knobs and meter at the agent %s: not checked from here "
		    "(its listener serves one connection)",
		    h->agent);
	} else if (!h->ifname[0]) {
		add(cs, "interface", false,
		    "policy %.200s has no [host] interface (the NIC whose "
		    "coalescing kopt tunes)",
		    p->path);
	} else if (!if_nametoindex(h->ifname)) {
		add(cs, "interface", false,
		    "'%s' not found in this network namespace (%s); list "
		    "them with `ip link`",
		    h->ifname, strerror(errno));
	} else {
		add(cs, "interface", true, "%s (ifindex %u)", h->ifname,
		    if_nametoindex(h->ifname));
		check_knob(cs, "itr knob",
			   h->coalesce ? ACT_SW_COALESCE : ACT_NIC_COALESCE,
			   h->ifname,
			   h->coalesce ? "gro-flush-usecs" : "rx-usecs");
	}
	/* the policy's other knobs: defer_irqs is all the host plant turns */
	for (unsigned int i = 0; i < p->n_knobs; i++) {
		if (strcmp(p->knobs[i].name, PLANT_KNOB_DEFER_IRQS))
			add(cs, "knob", false,
			    "[knob %s]: the host plant turns " PLANT_KNOB_DEFER_IRQS
			    " (napi_defer_hard_irqs) "
			    "beside ITR and frequency, nothing else",
			    p->knobs[i].name);
		else if (!h->agent[0] && h->ifname[0] &&
			 if_nametoindex(h->ifname))
			check_knob(cs, "defer knob", ACT_SW_COALESCE, h->ifname,
				   "napi-defer-hard-irqs");
	}
	if (!h->agent[0] && !p->freq_fixed) {
		if (!h->cpus[0])
			add(cs, "dvfs knob", false,
			    "[host] cpus is empty but [freq] searches "
			    "frequencies (set list_mhz = none on a host "
			    "without DVFS)");
		else
			check_knob(cs, "dvfs knob", ACT_CPUFREQ, h->cpus,
				   "freq-khz");
	}
	if (!h->agent[0])
		check_meter(cs, p);
	switch (h->latency.kind) {
	case POLICY_LAT_BPF:
		check_bpf(cs, p);
		break;
	case POLICY_LAT_FEED:
		check_feed(cs, p);
		break;
	default:
		if (!h->server[0])
			add(cs, "latency", false,
			    "no latency source: set [host] latency "
			    "(bpf:PORT, a feed) or server and rate");
		else
			check_server(cs, p);
	}
}

static bool all_ok(const struct checks *cs)
{
	for (int i = 0; i < cs->n; i++)
		if (!cs->c[i].ok)
			return false;
	return true;
}

static void print(const struct checks *cs, const struct policy *p,
		  const char *plant)
{
	struct json_object *o, *arr;
	int i;

	if (!kopt_env.json) {
		printf("kopt run --check: policy %s, plant %s: %s\n", p->name,
		       plant, all_ok(cs) ? "ready" : "NOT ready");
		for (i = 0; i < cs->n; i++)
			printf("  %-10s %-4s %s\n", cs->c[i].what,
			       cs->c[i].ok ? "ok" : "FAIL", cs->c[i].detail);
		return;
	}
	o = json_object_new_object();
	arr = json_object_new_array();
	json_object_object_add(o, "policy", json_object_new_string(p->name));
	json_object_object_add(o, "plant", json_object_new_string(plant));
	json_object_object_add(o, "ok", json_object_new_boolean(all_ok(cs)));
	for (i = 0; i < cs->n; i++) {
		struct json_object *c = json_object_new_object();

		json_object_object_add(c, "check",
				       json_object_new_string(cs->c[i].what));
		json_object_object_add(c, "ok",
				       json_object_new_boolean(cs->c[i].ok));
		json_object_object_add(c, "detail",
				       json_object_new_string(cs->c[i].detail));
		json_object_array_add(arr, c);
	}
	json_object_object_add(o, "checks", arr);
	puts(kopt_json_text(o));
	json_object_put(o);
}

int run_check(const struct policy *p, const char *plant, bool before_run)
{
	static struct checks cs;
	char sla[64];

	memset(&cs, 0, sizeof(cs));
	policy_sla_str(&p->sla, sla, sizeof(sla));
	add(&cs, "policy", true, "%s loads: %s, window %g s, %u trials",
	    p->path, sla, p->window_s, p->trials);
	if (!strcmp(plant, "host"))
		check_host(&cs, p, before_run);
	else if (!strcmp(plant, "sim"))
		add(&cs, "plant",
		    p->sim_params[0] && !access(p->sim_params, R_OK),
		    "sim parameters %s%s",
		    p->sim_params[0] ? p->sim_params :
				       "(none: [plant] "
				       "sim_params)",
		    p->sim_params[0] && access(p->sim_params, R_OK) ?
			    ": not readable" :
			    "");
	else
		add(&cs, "plant", true,
		    "a plant command: not run by --check (it speaks the plant "
		    "protocol when `kopt run` starts it)");
	if (before_run && all_ok(&cs))
		return KOPT_EXIT_OK;
	if (before_run) {
		/* the table goes to stderr: stdout carries the summary */
		for (int i = 0; i < cs.n; i++)
			if (!cs.c[i].ok)
				pr_warn("run: preflight: %s: %s\n",
					cs.c[i].what, cs.c[i].detail);
		return KOPT_EXIT_FAIL;
	}
	print(&cs, p, plant);
	return all_ok(&cs) ? KOPT_EXIT_OK : KOPT_EXIT_FAIL;
}
