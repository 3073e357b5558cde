// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of `kopt collect migrations` (bpf/migrate.bpf.c): the attach
 * ladder picks the rung this kernel allows and says why the others were
 * refused; records appear under a workload that migrates tasks, and their
 * fields are sane. On this sandbox that is the tp_btf rung (fexit refused
 * under lockdown); in the 6.12 guest the vm_ test checks the fexit rung.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "kopt/migrate.h"
#include "sched_util.h"
#include "test.h"

#define NCOLS 28

struct csv_stats {
	long rows, decision0, decision1, forced, bad_cpu, same_cpu, neg_delta,
		not_positive_only, src_fexit, src_tp_btf;
	char rung[64];
	bool has_refusal_line;
};

static bool have_hackbench(void)
{
	return kopt_test_run(NULL, 0, "command -v hackbench") == 0;
}

static int parse_row(char *line, unsigned long long *v)
{
	char *tok, *save = NULL;
	int n = 0;

	for (tok = strtok_r(line, ",", &save); tok && n < NCOLS;
	     tok = strtok_r(NULL, ",", &save))
		v[n++] = strtoull(tok, NULL, 10);
	return n;
}

/* Column indexes, as in loader/cli/collect_migrations.c's header. */
enum {
	C_SRC = 2,
	C_DST = 3,
	C_DELTA = 10,
	C_DECISION = 24,
	C_FORCED = 25,
	C_SOURCE = 26,
	C_FLAGS = 27
};

static int read_csv(const char *path, struct csv_stats *s, long nr_cpus)
{
	unsigned long long v[NCOLS];
	char line[2048];
	bool header = false;
	FILE *f = fopen(path, "r");

	memset(s, 0, sizeof(*s));
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "# rung: ", 8))
			sscanf(line + 8, "%63s", s->rung);
		if (!strncmp(line, "# refused fexit: ", 17))
			s->has_refusal_line = true;
		if (line[0] == '#')
			continue;
		if (!header) {
			header = !strncmp(line, "ts_ns,pid,", 10);
			continue;
		}
		if (parse_row(line, v) != NCOLS)
			continue;
		s->rows++;
		s->decision0 += !v[C_DECISION];
		s->decision1 += !!v[C_DECISION];
		s->forced += !!v[C_FORCED];
		s->bad_cpu += v[C_SRC] >= (unsigned long long)nr_cpus ||
			      v[C_DST] >= (unsigned long long)nr_cpus;
		s->same_cpu += v[C_SRC] == v[C_DST];
		s->neg_delta += (long long)v[C_DELTA] < 0;
		s->not_positive_only +=
			!(v[C_FLAGS] & KOPT_MIG_F_POSITIVE_ONLY);
		s->src_fexit += v[C_SOURCE] == KOPT_MIG_SRC_FEXIT;
		s->src_tp_btf += v[C_SOURCE] == KOPT_MIG_SRC_TP_BTF;
	}
	fclose(f);
	return header ? 0 : -EINVAL;
}

static struct json_object *collect(const char *csv, const char *extra)
{
	static char out[1 << 16];
	struct json_object *o;
	char *brace;
	int st;

	st = kopt_test_run(out, sizeof(out),
			   "%s collect migrations --json -o %s %s 2>/dev/null",
			   kopt_test_bin(), csv, extra);
	if (!ASSERT_EQ(st, 0, "collect exit status"))
		return NULL;
	brace = strchr(out, '{'); /* workload output goes to stderr */
	o = brace ? json_tokener_parse(brace) : NULL;
	ASSERT_OK_PTR(o, "summary JSON");
	return o;
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, k, &v);
	return v ? json_object_get_string(v) : "";
}

static long long jint(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, k, &v);
	return v ? json_object_get_int64(v) : -1;
}

static bool fexit_allowed(void)
{
	struct json_object *root, *f = NULL, *ok = NULL;
	static char out[1 << 16];
	bool allowed;

	kopt_test_run(out, sizeof(out), "%s probe --json 2>/dev/null",
		      kopt_test_bin());
	root = json_tokener_parse(out);
	json_object_object_get_ex(root, "fexit_can_migrate_task", &f);
	json_object_object_get_ex(f, "ok", &ok);
	allowed = json_object_get_boolean(ok);
	json_object_put(root);
	return allowed;
}

KOPT_TEST(migrate_collect_ladder_host)
{
	long nr_cpus = sysconf(_SC_NPROCESSORS_CONF);
	struct json_object *o, *ref = NULL;
	struct csv_stats s;
	char csv[256];

	if (geteuid()) {
		SKIP("needs root (BPF)");
		return;
	}
	if (!have_hackbench()) {
		SKIP("hackbench (rt-tests) not installed");
		return;
	}
	if (nr_cpus < 2) {
		SKIP("one CPU: nothing to balance");
		return;
	}
	snprintf(csv, sizeof(csv), "%s/mig.csv", kopt_test_tmpdir());
	o = collect(csv, "--duration 20 -- hackbench -l 600 -g 4");
	if (!o)
		return;
	if (fexit_allowed()) {
		ASSERT_STREQ(jstr(o, "rung"), "fexit", "rung");
	} else {
		ASSERT_STREQ(jstr(o, "rung"), "tp_btf", "rung");
		json_object_object_get_ex(o, "refused", &ref);
		ASSERT_HAS(jstr(ref, "fexit"), "refused", "fexit refusal");
		ASSERT_HAS(jstr(ref, "patch_tracepoint"), "absent",
			   "patch rung absent");
	}
	ASSERT_EQ(jint(o, "lost"), 0, "lost records");
	ASSERT_EQ(jint(o, "records"), jint(o, "calls"), "records == calls");
	if (!ASSERT_OK(read_csv(csv, &s, nr_cpus), "read CSV"))
		goto out;
	ASSERT_GT(s.rows, 0, "records under hackbench");
	ASSERT_EQ(s.rows, jint(o, "records"), "CSV rows == records");
	ASSERT_EQ(s.bad_cpu, 0, "cpus in range");
	ASSERT_EQ(s.same_cpu, 0, "dst != src");
	ASSERT_STREQ(s.rung, jstr(o, "rung"), "rung in dataset header");
	if (!strcmp(jstr(o, "rung"), "tp_btf")) {
		ASSERT_TRUE(s.has_refusal_line, "refusal in dataset header");
		ASSERT_EQ(s.not_positive_only, 0, "all marked positive-only");
		ASSERT_EQ(s.decision0, 0, "tp_btf sees migrations only");
		ASSERT_EQ(s.src_tp_btf, s.rows, "source column");
	}
out:
	json_object_put(o);
}

KOPT_TEST(migrate_collect_bad_args)
{
	char out[4096];

	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"%s collect migrations --duration -3",
				kopt_test_bin()),
		  2, "negative duration");
	ASSERT_HAS(out, "--duration '-3': expected seconds in 0.001..",
		   "message names the option and its range");
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"%s collect migrations --duration abc",
				kopt_test_bin()),
		  2, "non-numeric duration");
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"%s collect migrations --nope",
				kopt_test_bin()),
		  2, "unknown option");
	ASSERT_EQ(kopt_test_run(out, sizeof(out), "%s collect bogus",
				kopt_test_bin()),
		  2, "unknown collector");
	if (geteuid())
		return;
	ASSERT_EQ(kopt_test_run(out, sizeof(out),
				"%s collect migrations --duration 1 "
				"-o /nonexistent/dir/x.csv",
				kopt_test_bin()),
		  1, "unwritable output");
	ASSERT_HAS(out, "/nonexistent/dir/x.csv", "message names the file");
}

/* SIGTERM mid-collection: summary printed, dataset complete, exit 0. */
KOPT_TEST(migrate_collect_sigterm)
{
	char csv[256], cmd[1024], out[8192], nap[32];
	int st;

	if (geteuid()) {
		SKIP("needs root (BPF)");
		return;
	}
	snprintf(csv, sizeof(csv), "%s/sig.csv", kopt_test_tmpdir());
	/* a sleep length unique to this run: other runs may be going on */
	snprintf(nap, sizeof(nap), "60.%d", getpid());
	snprintf(cmd, sizeof(cmd),
		 "%s collect migrations -o %s -- sleep %s & P=$!; "
		 "for i in $(seq 100); do grep -q '^ts_ns' %s 2>/dev/null && "
		 "break; sleep 0.05; done; kill -TERM $P; wait $P",
		 kopt_test_bin(), csv, nap, csv);
	st = kopt_test_run(out, sizeof(out), "%s", cmd);
	ASSERT_EQ(st, 0, "exit status after SIGTERM");
	ASSERT_HAS(out, "stopped by signal 15", "signal reported");
	ASSERT_HAS(out, "workload:", "summary printed");
	ASSERT_HAS(out, "stopped at the end of collection", "workload ended");
	ASSERT_EQ(kopt_test_run(NULL, 0, "grep -q '^ts_ns,pid,' %s", csv), 0,
		  "dataset header written");
	ASSERT_NEQ(kopt_test_run(NULL, 0, "pgrep -f '^sleep %s$'", nap), 0,
		   "no workload left behind");
}

/*
 * In the 6.12 guest: fexit attaches and sees both decisions.
 * Time limit: 60 s of hackbench in a possibly TCG guest: 10 min.
 */
KOPT_TEST_TIMEOUT(vm_migrate_fexit, 600)
{
	long nr_cpus = sysconf(_SC_NPROCESSORS_CONF);
	long old_cost;
	struct json_object *o;
	struct csv_stats s;
	char csv[256];

	if (!have_hackbench()) {
		SKIP("hackbench (rt-tests) not installed");
		return;
	}
	snprintf(csv, sizeof(csv), "%s/vm-mig.csv", kopt_test_tmpdir());
	/*
	 * The acceptance run: 60 s of hackbench in the guest, more
	 * than 10k calls and forced migrations among them.
	 *
	 * A forced migration needs a cache-hot task on a queue where
	 * balancing keeps failing. TCG runs the guest 10-50x slower than
	 * hardware, so at the default 0.5 ms window few tasks count as hot
	 * and there is always a cold one to move: set the window to 500 ms
	 * in this disposable guest (restored after), so every task that ran
	 * lately is hot, balancing fails on them and CFS forces one over
	 * once nr_balance_failed passes cache_nice_tries. The label reads
	 * the window from the kernel, whatever it is.
	 *
	 * The workload restarts hackbench -g 4 (160 tasks) in a loop: each
	 * start forks its tasks onto few CPUs, and balancing works on that.
	 * Measured in 20 s samples: 5.8k calls, 401 forced; one long
	 * hackbench instead settles, and gives 10k calls a minute (-g 4) or
	 * 800 (-g 2). At the default window, the loop gives 7k calls a
	 * minute and 17 forced; at 5 ms, a small hackbench (-g 1 -f 2)
	 * forces often but makes only 8k calls.
	 */
	old_cost = set_migration_cost(500000000);
	o = collect(csv, "--duration 60 -- sh -c 'while :; do hackbench -g 4 "
			 "-l 400 >/dev/null 2>&1; done'");
	if (old_cost >= 0)
		set_migration_cost(old_cost);
	if (!o)
		return;
	ASSERT_STREQ(jstr(o, "rung"), "fexit", "fexit rung in the guest");
	ASSERT_EQ(jint(o, "lost"), 0, "lost records");
	printf("  60 s of hackbench: %lld calls, %lld migrations, %lld forced\n",
	       jint(o, "calls"), jint(o, "migrations"), jint(o, "forced"));
	/*
	 * The forced label is checked against the kernel patch's exact flag
	 * in vm_kpatch_collector_rung2_agreement.
	 */
	ASSERT_GT(jint(o, "forced"), 0, "forced migrations labelled");
	ASSERT_GT(jint(o, "calls"), 10000, "calls in 60 s (the acceptance)");
	if (ASSERT_OK(read_csv(csv, &s, nr_cpus), "read CSV")) {
		ASSERT_GT(s.decision0, 0, "calls refused by CFS seen");
		ASSERT_GT(s.decision1, 0, "migrations seen");
		ASSERT_EQ(s.src_fexit, s.rows, "source column");
		ASSERT_EQ(s.bad_cpu, 0, "cpus in range");
		ASSERT_EQ(s.same_cpu, 0, "dst != src");
	}
	json_object_put(o);
}
