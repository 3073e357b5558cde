// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt run as a new user meets it: exit codes and the first message of
 * a run that cannot measure, a --duration shorter than a window, energy
 * printed for people, one JSON style for every command, a live status
 * line on a TTY (and none off it), and a --log file that can be followed
 * while the run goes on.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "controller.h"
#include "test.h"

#define OUT_CAP (1 << 17)

static void repo_path(char *buf, size_t len, const char *rel)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", kopt_test_builddir());
	snprintf(buf, len, "%s/%s", dirname(tmp), rel);
}

static bool matches(const char *s, const char *re)
{
	regex_t r;
	bool m;

	if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB))
		return false;
	m = regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	return m;
}

/* A typo'd plant, a plant that always fails, a window longer than the run */
KOPT_TEST(run_cli_refusals_say_why_first)
{
	static char out[OUT_CAP];
	char pol[PATH_MAX], plant[PATH_MAX];
	int st;

	repo_path(pol, sizeof(pol), "policies/memcached-sla500.conf");
	repo_path(plant, sizeof(plant), "selftests/plants/bad_plant.sh");
	ASSERT_REFUSES(2, "kopt run: --plant 'simm': not sim or host",
		       "%s run --policy %s --plant simm --duration 30",
		       kopt_test_bin(), pol);
	ASSERT_REFUSES(2,
		       "kopt run: --duration 5 is shorter than one window of "
		       "policy memcached-sla500 (10 s)",
		       "%s run --policy %s --plant sim --duration 5",
		       kopt_test_bin(), pol);
	/* every window fails: exit 1, the reason last, no summary of zeros */
	st = kopt_test_run(out, OUT_CAP,
			   "%s run --policy %s --plant '%s exit 1 99' "
			   "--duration 60",
			   kopt_test_bin(), pol, plant);
	ASSERT_EQ(st, 1, out);
	ASSERT_HAS(out,
		   "run: nothing measured: every window failed (3 of 3); the "
		   "first failure: plant ",
		   "the verdict with its first cause");
	ASSERT_FALSE(strstr(out, "plant time"), "no summary of nothing");
	ASSERT_FALSE(strstr(out, "nan"), "no nan figures");
	/* --json still gives the machine its object, with the first error */
	st = kopt_test_run(out, OUT_CAP,
			   "%s --json run --policy %s --plant '%s exit 1 99' "
			   "--duration 60 2>/dev/null",
			   kopt_test_bin(), pol, plant);
	ASSERT_EQ(st, 1, out);
	ASSERT_HAS(out, "\"first_error\":\"plant ", "first error in JSON");
	ASSERT_HAS(out, "\"windows\":0", "no window measured");
}

/* Energy in J/kJ/MJ with kWh, rounded; "1 window", not "1 windows". */
KOPT_TEST(run_cli_energy_for_people)
{
	static char out[OUT_CAP];
	char pol[PATH_MAX], e[48];

	repo_path(pol, sizeof(pol), "policies/memcached-sla500.conf");
	if (!ASSERT_OK(kopt_test_run(out, OUT_CAP,
				     "%s run --policy %s --plant sim "
				     "--duration 10",
				     kopt_test_bin(), pol),
		       out))
		return;
	ASSERT_HAS(out, " in 1 window (0 failed)", "one window, singular");
	ASSERT_TRUE(matches(out, "\n  energy +[0-9]{1,3} J \\(simulated\\)"),
		    out);
	if (!ASSERT_OK(kopt_test_run(out, OUT_CAP,
				     "%s run --policy %s --plant sim "
				     "--duration 7200",
				     kopt_test_bin(), pol),
		       out))
		return;
	ASSERT_TRUE(matches(out, "\n  energy +[0-9.]{1,4} kJ \\(simulated\\)"),
		    out);
	ASSERT_TRUE(matches(out, "\n  stock policy +[0-9.]{1,4} kJ "), out);
	ASSERT_FALSE(strstr(out, "e+0"), "no exponent for people");
	/* a day of a server: MJ, and kWh beside it */
	ctl_energy_str(1748940, e, sizeof(e));
	ASSERT_STREQ(e, "1.75 MJ (0.486 kWh)", "a day");
	ctl_energy_str(999.4, e, sizeof(e));
	ASSERT_STREQ(e, "999 J", "under a kJ");
	ctl_energy_str(10176.4, e, sizeof(e));
	ASSERT_STREQ(e, "10.2 kJ", "kJ");
}

/* Every command's --json: indented, short numbers, slashes unescaped. */
KOPT_TEST(run_cli_one_json_style)
{
	static char out[OUT_CAP];
	char pol[PATH_MAX];
	const char *cmds[] = {
		"run --policy %s --plant sim --duration 3600",
		"policy show %s",
		"plant sim --params %s/../policies/sim-memcached.params "
		"--oracle --sla-p99 500 --qps 200000",
	};

	repo_path(pol, sizeof(pol), "policies/memcached-sla500.conf");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char cmd[PATH_MAX * 2], full[PATH_MAX * 3];
		struct json_object *o;

		snprintf(cmd, sizeof(cmd), cmds[i],
			 i == 2 ? kopt_test_builddir() : pol);
		snprintf(full, sizeof(full), "%s --json %s 2>/dev/null",
			 kopt_test_bin(), cmd);
		if (!ASSERT_OK(kopt_test_run(out, OUT_CAP, "%s", full), full))
			continue;
		ASSERT_TRUE(!strncmp(out, "{\n  \"", 5), full);
		ASSERT_FALSE(strstr(out, "\\/"), full);
		/*
		 * 0.79805000000000004: 17 significant digits; six are what
		 * figures carry. Leading zeros are not significant: a share
		 * such as 0.000694444 (six digits) is fine.
		 */
		ASSERT_FALSE(matches(out, "[1-9]([0-9]|\\.){10,}"), full);
		o = json_tokener_parse(out);
		ASSERT_OK_PTR(o, full);
		json_object_put(o);
	}
	/* a path keeps its slashes */
	if (ASSERT_OK(kopt_test_run(out, OUT_CAP, "%s --json policy show %s",
				    kopt_test_bin(), pol),
		      out))
		ASSERT_HAS(out, "/policies/memcached-sla500.conf\"", "slashes");
}

/* kopt knob list --json and --help are flags, not interface names. */
KOPT_TEST(run_cli_knob_list_flags)
{
	static char out[OUT_CAP];
	struct json_object *o;

	ASSERT_OK(kopt_test_run(out, OUT_CAP, "%s knob list --help",
				kopt_test_bin()),
		  out);
	ASSERT_HAS(out, "Usage: kopt knob list", "help, not an interface");
	if (geteuid() != 0) {
		SKIP("knob list needs root to read the knobs");
		return;
	}
	if (!ASSERT_OK(kopt_test_run(out, OUT_CAP,
				     "%s knob list --json 2>/dev/null",
				     kopt_test_bin()),
		       out))
		return;
	ASSERT_TRUE(!strncmp(out, "[\n  {", 5), "indented array");
	ASSERT_FALSE(strstr(out, "\"--json\""), "--json is no interface");
	o = json_tokener_parse(out);
	ASSERT_TRUE(o && json_object_is_type(o, json_type_array), out);
	json_object_put(o);
	ASSERT_OK(kopt_test_run(out, OUT_CAP,
				"%s knob list lo --json 2>/dev/null",
				kopt_test_bin()),
		  out);
	ASSERT_FALSE(strstr(out, "\"--json\""), "after a name too");
	ASSERT_HAS(out, "\"target\":\"lo\"", "the interface named");
}

/* On a TTY a one-line status per window; off a TTY, none. */
KOPT_TEST(run_cli_live_status_line)
{
	static char out[OUT_CAP];
	char pol[PATH_MAX];

	if (kopt_test_run(NULL, 0, "command -v script")) {
		SKIP("script(1) (util-linux) is not installed: no pty");
		return;
	}
	repo_path(pol, sizeof(pol), "policies/memcached-sla500.conf");
	/* script(1) gives kopt a pty: stderr is a TTY there */
	if (!ASSERT_OK(kopt_test_run(out, OUT_CAP,
				     "script -qec '%s run --policy %s "
				     "--plant sim --duration 60' /dev/null",
				     kopt_test_bin(), pol),
		       out))
		return;
	ASSERT_HAS(out, "\r\033[K0h00m10s measure stock | energy 3",
		   "first window's line");
	ASSERT_HAS(out, " vs stock ", "energy against stock");
	ASSERT_HAS(out, "(simulated) | SLA met | ", "SLA state");
	ASSERT_HAS(out, " explore ITR ", "a trial's phase and setting");
	ASSERT_TRUE(matches(out, "\r\033\\[K0h01m00s [a-z]+ "),
		    "refreshed up to the last window");
	ASSERT_HAS(out, "kopt run: policy memcached-sla500", "then summary");
	/* not a TTY: no control characters in captured output */
	ASSERT_OK(kopt_test_run(out, OUT_CAP,
				"%s run --policy %s --plant sim --duration 60",
				kopt_test_bin(), pol),
		  out);
	ASSERT_FALSE(strchr(out, '\r') || strchr(out, '\033'), out);
}

/*
 * The log is flushed every window: a plant that holds its second reply
 * until this test has read the log shows the first window already there.
 */
KOPT_TEST_TIMEOUT(run_cli_log_flushed_per_window, 60)
{
	char dir[PATH_MAX], at[PATH_MAX + 8], go[PATH_MAX + 8], log[PATH_MAX];
	char pol[PATH_MAX], plant[PATH_MAX], cmd[8 * PATH_MAX], buf[64];
	char text[8192] = "";
	int fd, st = -1;
	pid_t pid;
	FILE *f;
	ssize_t n;

	snprintf(dir, sizeof(dir), "%s/gate", kopt_test_tmpdir());
	snprintf(at, sizeof(at), "%s/at", dir);
	snprintf(go, sizeof(go), "%s/go", dir);
	snprintf(log, sizeof(log), "%s/gate.csv", kopt_test_tmpdir());
	if (!ASSERT_OK(mkdir(dir, 0700), "mkdir") ||
	    !ASSERT_OK(mkfifo(at, 0600), "mkfifo at") ||
	    !ASSERT_OK(mkfifo(go, 0600), "mkfifo go"))
		return;
	repo_path(pol, sizeof(pol), "policies/memcached-sla500.conf");
	repo_path(plant, sizeof(plant), "selftests/plants/gate_plant.sh");
	snprintf(cmd, sizeof(cmd),
		 "exec %s run --policy %s --plant 'sh %s %s' --duration 30 "
		 "--log %s >%s/out 2>&1",
		 kopt_test_bin(), pol, plant, dir, log, dir);
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (!ASSERT_GT(pid, 0, "fork"))
		return;
	/* blocks until the plant is at its second request */
	fd = open(at, O_RDONLY);
	if (ASSERT_GE(fd, 0, "open at")) {
		n = read(fd, buf, sizeof(buf) - 1);
		ASSERT_GT(n, 0, "the plant says where it is");
		close(fd);
	}
	f = fopen(log, "r");
	if (ASSERT_OK_PTR(f, "the log exists while the run goes on")) {
		text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
		fclose(f);
	}
	ASSERT_HAS(text, "t_s,seconds,trigger,phase", "header written");
	ASSERT_HAS(text, ",measure,stock,stock,1500,", "window 1 written");
	/* let the plant answer; the run ends on its own */
	fd = open(go, O_WRONLY);
	if (ASSERT_GE(fd, 0, "open go")) {
		ASSERT_EQ(write(fd, "go\n", 3), 3, "release the plant");
		close(fd);
	}
	waitpid(pid, &st, 0);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "run exit 0");
}

/*
 * A policy with a third knob end to end: the sim plant gets defer_irqs
 * by name, the log has its column and uses more than one value, the hold
 * table carries it, and a two-knob policy refuses that table; on the
 * host plant, --check refuses a knob the host cannot turn.
 */
KOPT_TEST(run_cli_third_knob)
{
	static char out[OUT_CAP];
	char pol[PATH_MAX], two[PATH_MAX], log[PATH_MAX], table[PATH_MAX];
	char bad[PATH_MAX];
	int st;

	repo_path(pol, sizeof(pol), "policies/memcached-defer-sla200.conf");
	repo_path(two, sizeof(two), "policies/memcached-sla200.conf");
	snprintf(log, sizeof(log), "%s/knob3.csv", kopt_test_tmpdir());
	snprintf(table, sizeof(table), "%s/knob3.json", kopt_test_tmpdir());
	st = kopt_test_run(out, OUT_CAP,
			   "%s run --policy %s --plant sim --duration 7200 "
			   "--log %s --save-table %s",
			   kopt_test_bin(), pol, log, table);
	if (!ASSERT_EQ(st, 0, out))
		return;
	ASSERT_EQ(kopt_test_run(out, OUT_CAP,
				"grep -v '^#' %s | head -1 | "
				"grep -c ',knob_defer_irqs,error$'",
				log),
		  0, "the log has the knob's column before error");
	/* the values tried: more than one, every one of the policy's */
	st = kopt_test_run(out, OUT_CAP,
			   "grep -v '^#' %s | awk -F, 'NR > 1 && $5 != "
			   "\"stock\" { v[$(NF - 1)] = 1 } END { for (k in v) "
			   "print k }' | sort -n | tr '\\n' ' '",
			   log);
	ASSERT_EQ(st, 0, out);
	printf("defer_irqs values in the log: %s\n", out);
	ASSERT_TRUE(matches(out, "^([0-9]+ )+$"), "numbers only");
	{
		char *save = NULL, *tok;
		int n = 0;

		for (tok = strtok_r(out, " ", &save); tok;
		     tok = strtok_r(NULL, " ", &save), n++)
			ASSERT_TRUE(matches(tok, "^(0|1|2|4|8|16)$"), tok);
		ASSERT_GE(n, 2, "more than one value of the third knob");
	}
	ASSERT_EQ(kopt_test_run(out, OUT_CAP, "grep -c '\"defer_irqs\":' %s",
				table),
		  0, "the table carries the knob");
	ASSERT_REFUSES(1, "the policy declares no knob beside ITR",
		       "%s run --policy %s --plant sim --duration 600 "
		       "--warm-start %s",
		       kopt_test_bin(), two, table);
	snprintf(bad, sizeof(bad), "%s/busy.conf", kopt_test_tmpdir());
	st = kopt_test_run(
		out, OUT_CAP,
		"printf '[sla]\\nbound_us = 500\\n[freq]\\n"
		"list_mhz = none\\n[host]\\ninterface = lo\\n"
		"coalesce = sw\\n[knob busy_poll]\\nvalues = 0, 50\\n' "
		"> %s && %s run --check --policy %s --plant host",
		bad, kopt_test_bin(), bad);
	ASSERT_NEQ(st, 0, "not ready");
	ASSERT_HAS(out,
		   "FAIL [knob busy_poll]: the host plant turns defer_irqs "
		   "(napi_defer_hard_irqs) beside ITR and frequency",
		   "--check names the knob it cannot turn");
}
