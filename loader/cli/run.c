// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt run: the energy controller's front end. It loads the policy,
 * starts the plant (sim: kopt-lab plant sim; host: kopt plant host; or a
 * command speaking the plant protocol), hands both to the controller
 * (loader/lib/ctl/controller.c, which says how the loop works) and
 * prints its summary.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "opts.h"
#include "controller.h"
#include "plant.h"
#include "plant_launch.h"
#include "policy.h"
#include "state.h"

struct run_opts {
	const char *policy_path, *plant, *log_path;
	const char *warm_path, *save_path; /* the learned table */
	double duration_s; /* 0: until SIGINT/SIGTERM */
	bool have_seed;
	uint64_t seed;
	bool check; /* --check: preflight only */
};

static bool parse_run_opts(int argc, char **argv, struct run_opts *o, int *ret)
{
	long seed = 0;
	const struct kopt_opts spec = {
		.cmd = "kopt run",
		.usage = "--policy FILE [--plant sim|host|'CMD ARGS'] "
			 "[--duration S] [--log FILE] [--seed N] [--json] "
			 "[--check]\n[--warm-start FILE] [--save-table FILE]",
		.desc = "The energy controller: measure, ask the optimizer, "
			"apply, hold the\ncheapest setting that meets the SLA, "
			"re-optimize when the load moves,\nrevert when the SLA "
			"breaks. See the top of loader/lib/ctl/controller.c.",
		.opts = KOPT_OPTS(
			KOPT_OPT_STR("policy", 'p', &o->policy_path, "FILE",
				     "policies/NAME.conf (e.g. "
				     "policies/memcached-sla500.conf)",
				     .flags = KOPT_OPT_REQUIRED),
			KOPT_OPT_STR(
				"plant", 'P', &o->plant, "PLANT",
				"sim (simulated server, parameters from the "
				"policy's\n[plant] sim_params), host (the knobs, "
				"meters and load\nof the policy's [host] section), "
				"or\na command speaking the plant protocol "
				"(README)"),
			KOPT_OPT_DOUBLE(
				"duration", 'd', &o->duration_s, 1e-3, 1e12,
				"S",
				"stop after S seconds of plant time (default: "
				"until\nSIGINT/SIGTERM)",
				.unit = "seconds"),
			KOPT_OPT_STR("log", 'l', &o->log_path, "FILE",
				     "every window as CSV (for kopt report)"),
			KOPT_OPT_LONG(
				"seed", 's', &seed, 0, LONG_MAX, "N",
				"optimizer and sim seed (default: the policy's)",
				.given = &o->have_seed),
			KOPT_OPT_STR("warm-start", 'w', &o->warm_path, "FILE",
				     "start from a learned table (--save-table "
				     "of an\nidentical host under the same "
				     "policy): loads it\nknows cost at most 3 "
				     "trials"),
			KOPT_OPT_STR("save-table", 'T', &o->save_path, "FILE",
				     "at the end, write what the controller "
				     "learned\n(for --warm-start elsewhere)"),
			KOPT_OPT_JSON("summary as JSON"),
			KOPT_OPT_FLAG("check", 'C', &o->check,
				      "preflight, changing nothing: the "
				      "policy, and for\n--plant host the "
				      "interface, knobs (read, writable),\n"
				      "energy meter and latency source; exit "
				      "0 if all pass")),
	};

	if (!kopt_opts_parse(&spec, argc, argv, ret))
		return false;
	o->seed = seed;
	return true;
}

/*
 * A plant stopped on a timeout gets SIGKILL 100 ms after SIGTERM, and a
 * host plant may not have restored its knobs by then; on the last allowed
 * failure nothing would restart it to clean up. Its changes are in the
 * journal and it is gone, or going (its lock goes with it): undo them
 * now. Quiet when there is nothing (or no state directory: an
 * unprivileged sim run).
 */
static void restore_plant_leftovers(void)
{
	pid_t owner = 0;
	int ret;

	if (geteuid() != 0 && !kopt_have_bpf_caps())
		return;
	if (state_pending(&owner) <= 0)
		return;
	pr_warn("run: kopt process %d (the plant) left journaled changes "
		"behind; restoring them\n",
		owner);
	/* the plant (or a process under it) may still be exiting */
	ret = state_restore_dead(5);
	if (ret == -EBUSY)
		pr_warn("run: a live kopt holds them; it restores them when it "
			"exits\n");
	else if (ret)
		pr_warn("run: some could not be restored; see above, then run "
			"`kopt restore`\n");
}

static struct plant *start_plant(const struct policy *p, const char *plant)
{
	char err[PLANT_ERR_LEN], self[PATH_MAX], lab[PATH_MAX];
	struct plant_bins b = { .kopt = self, .lab = lab };
	struct plant *pl;
	ssize_t len;
	int e;

	if (!strcmp(plant, "sim") && p->freq_fixed) {
		pr_warn("run: --plant sim models DVFS: policy %s has [freq] "
			"list_mhz = none\n",
			p->path);
		return NULL;
	}
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len < 0) {
		pr_warn("run: /proc/self/exe: %s\n", strerror(errno));
		return NULL;
	}
	self[len] = '\0';
	e = kopt_lab_path(lab, sizeof(lab));
	if (e && !strcmp(plant, "sim")) {
		pr_warn("run: --plant sim: kopt-lab: %s\n", strerror(-e));
		return NULL;
	}
	if (!strcmp(plant, "host"))
		pl = plant_launch_host(p, &b, err, sizeof(err));
	else if (!strcmp(plant, "sim"))
		pl = plant_launch_sim(p, &b, err, sizeof(err));
	else
		pl = plant_start_cmd(plant, err, sizeof(err));
	if (!pl)
		pr_warn("run: %s\n", err);
	return pl;
}

/*
 * A run in which no window gave a figure (every one failed, or the plant
 * never answered) has measured nothing: it must not exit 0, and it says
 * why before anything else (a summary of zeros would bury it).
 */
static bool nothing_measured(const struct run *r)
{
	struct json_object *o = ctl_summary_json(r), *v;
	int windows = 0, failed = 0; /* measured windows; failed ones */
	const char *first = NULL;

	if (json_object_object_get_ex(o, "windows", &v))
		windows = json_object_get_int(v);
	if (json_object_object_get_ex(o, "failed_windows", &v))
		failed = json_object_get_int(v);
	if (json_object_object_get_ex(o, "first_error", &v) && v)
		first = json_object_get_string(v);
	if (windows > 0) {
		json_object_put(o);
		return false;
	}
	if (failed)
		pr_warn("run: nothing measured: every window failed (%d of "
			"%d); the first failure: %s\n",
			failed, failed, first ? first : "?");
	else
		pr_warn("run: nothing measured: no window completed\n");
	json_object_put(o);
	return true;
}

/*
 * --plant takes sim, host or a command line; a single word that is
 * neither and names no program in PATH is a typo (`--plant simm`), said
 * before anything starts rather than after three failed windows.
 */
static bool plant_word_ok(const char *plant)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX], *copy, *dir, *save = NULL;
	bool found = false;

	if (!strcmp(plant, "sim") || !strcmp(plant, "host") ||
	    strpbrk(plant, " \t/"))
		return true;
	copy = strdup(path ? path : "/usr/bin:/bin");
	for (dir = copy ? strtok_r(copy, ":", &save) : NULL; dir && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		snprintf(buf, sizeof(buf), "%s/%s", dir, plant);
		found = access(buf, X_OK) == 0;
	}
	free(copy);
	return found;
}

/* The live status line: one line, rewritten per window (stderr a TTY). */
static void status_line(struct run *r, void *arg)
{
	const struct ctl_status *st = ctl_last_status(r);
	char e[48], stock[128] = "", t[32];
	unsigned long s = (unsigned long)st->t_s;

	(void)arg;
	ctl_energy_str(st->energy_j, e, sizeof(e));
	if (isfinite(st->stock_j) && st->stock_j > 0) {
		char se[48];

		ctl_energy_str(st->stock_j, se, sizeof(se));
		snprintf(stock, sizeof(stock), " vs stock %s (%+.1f%%)", se,
			 100 * (st->energy_j / st->stock_j - 1));
	}
	snprintf(t, sizeof(t), "%luh%02lum%02lus", s / 3600, s / 60 % 60,
		 s % 60);
	/* \r back to the start, \033[K clears what a longer line left */
	fprintf(stderr,
		"\r\033[K%s %-7s %s | energy %s%s %s | SLA %s | %u windows, %u "
		"failed",
		t, st->phase, st->setting, e, stock, st->label,
		!st->window_ok ? "?" :
		st->sla_ok     ? "met" :
				 "BROKEN",
		st->windows, st->failed);
	fflush(stderr);
}

static void on_signal(int sig)
{
	ctl_request_stop();
}

/*
 * What the SLA's percentiles are, for --plant host (the controller
 * labels figures by the plant's "source", which is the energy meter's).
 */
static const char *latency_label(const struct policy *p, const char *plant,
				 char *buf, size_t len)
{
	const struct policy_latency *l = &p->host.latency;

	if (strcmp(plant, "host"))
		return NULL;
	switch (l->kind) {
	case POLICY_LAT_BPF:
		snprintf(buf, len,
			 "the service's own requests on port(s) %s, timed in "
			 "BPF on the server (the plant's first line says "
			 "which arrival stamp)",
			 l->spec + 4);
		break;
	case POLICY_LAT_FEED:
		snprintf(buf, len, "the service's feed %.200s", l->spec + 5);
		break;
	default:
		snprintf(buf, len,
			 "kopt's load generator against %.64s (client side, "
			 "lab load)",
			 p->host.server);
	}
	return buf;
}

static void report(const struct run *r, const struct policy *p,
		   const char *plant)
{
	char label[512];
	const char *lat = latency_label(p, plant, label, sizeof(label));
	struct json_object *o;

	if (!kopt_env.json) {
		ctl_print_summary(r, stdout);
		if (lat)
			printf("  latency figures   %s\n", lat);
		return;
	}
	o = ctl_summary_json(r);
	if (lat) {
		json_object_object_add(
			o, "latency_source",
			json_object_new_string(p->host.latency.spec));
		json_object_object_add(o, "latency_label",
				       json_object_new_string(lat));
	}
	puts(kopt_json_text(o));
	json_object_put(o);
}

int cmd_run(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
	struct run_opts o = { .plant = "host" };
	char err[KOPT_INI_ERR_LEN];
	struct plant *plant = NULL;
	struct policy *pol;
	struct run *r = NULL;
	FILE *log = NULL;
	int ret;

	if (!parse_run_opts(argc, argv, &o, &ret))
		return ret;
	pol = calloc(1, sizeof(*pol));
	if (!pol)
		return KOPT_EXIT_FAIL;
	ret = KOPT_EXIT_FAIL;
	if (policy_load(o.policy_path, pol, err, sizeof(err))) {
		/* every error of the file, one line each; nothing started */
		for (char *line = strtok(err, "\n"); line;
		     line = strtok(NULL, "\n"))
			pr_warn("run: %s\n", line);
		ret = KOPT_EXIT_USAGE;
		goto out;
	}
	if (o.have_seed)
		pol->seed = o.seed;
	if (o.duration_s > 0 && o.duration_s < pol->window_s) {
		ret = kopt_usage_error(
			"kopt run",
			"--duration %g is shorter than one window of policy %s "
			"(%g s): give at least %g, or set [window] seconds",
			o.duration_s, pol->name, pol->window_s, pol->window_s);
		goto out;
	}
	if (!plant_word_ok(o.plant)) {
		ret = kopt_usage_error(
			"kopt run",
			"--plant '%s': not sim or host, and no program of that "
			"name in PATH (a plant command with arguments is given "
			"quoted: --plant 'CMD ARGS')",
			o.plant);
		goto out;
	}
	/* a bad table changes nothing: checked before any plant starts */
	if (o.warm_path) {
		r = ctl_new(pol, &(struct ctl_opts){ .plant_name = o.plant },
			    NULL, NULL);
		if (!r || ctl_table_load(r, o.warm_path, err, sizeof(err))) {
			pr_warn("run: --warm-start %s\n",
				r ? err : "no memory");
			goto out;
		}
		ctl_free(r);
		r = NULL;
	}
	if (o.check || !strcmp(o.plant, "host")) {
		ret = run_check(pol, o.plant, !o.check);
		if (o.check || ret)
			goto out;
		ret = KOPT_EXIT_FAIL;
	}
	if (o.log_path) {
		log = fopen(o.log_path, "we");
		if (!log) {
			pr_warn("run: --log %s: %s\n", o.log_path,
				strerror(errno));
			goto out;
		}
	}
	plant = start_plant(pol, o.plant);
	if (!plant)
		goto out;
	r = ctl_new(pol,
		    &(struct ctl_opts){
			    .duration_s = o.duration_s,
			    .plant_name = o.plant,
			    .on_window = isatty(STDERR_FILENO) ? status_line :
								 NULL,
		    },
		    plant, log);
	if (!r)
		goto out;
	if (o.warm_path && ctl_table_load(r, o.warm_path, err, sizeof(err))) {
		pr_warn("run: --warm-start %s\n", err);
		goto out;
	}
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	ret = ctl_loop(r);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (isatty(STDERR_FILENO))
		fputc('\n', stderr); /* end the status line */
	if (log)
		fflush(log);
	if (nothing_measured(r)) {
		ret = KOPT_EXIT_FAIL;
		if (kopt_env.json)
			report(r, pol, o.plant);
	} else {
		report(r, pol, o.plant);
	}
	if (o.save_path && ctl_table_save(r, o.save_path, err, sizeof(err))) {
		pr_warn("run: --save-table %s\n", err);
		ret = KOPT_EXIT_FAIL;
	}
out:
	ctl_free(r);
	plant_stop(plant);
	restore_plant_leftovers();
	if (log)
		fclose(log);
	free(pol);
	return ret;
}
