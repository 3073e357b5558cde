// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt collect migrations: record the features and decision of every
 * can_migrate_task() call (bpf/migrate.bpf.c) into a CSV dataset, while an
 * optional workload runs.
 *
 * The attach ladder is walked top-down: fexit (every call), the kopt
 * patch's tracepoint (exact forced flag), tp_btf sched_migrate_task
 * (migrations only). Which rung was used, and why the higher ones were
 * refused, is printed and written into the dataset header, so a dataset
 * never hides that it holds positives only.
 *
 * Cost: the ring buffer is drained every 100 ms; each record is one
 * fprintf. The kernel side is measured by `kopt bench collector`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "cli.h"
#include "opts.h"
#include "kopt/migrate.h"
#include "kopt/sched_lb.h"
#include "migrate.skel.h"
#include "migrate_tp.skel.h"
#include "probe.h"

#define REASON_LEN 256
#define MIG_MAX_CPUS 1024

enum rung { RUNG_FEXIT, RUNG_PATCH_TP, RUNG_TP_BTF, NR_RUNGS };

static const char *const rung_names[NR_RUNGS] = {
	[RUNG_FEXIT] = "fexit",
	[RUNG_PATCH_TP] = "patch_tracepoint",
	[RUNG_TP_BTF] = "tp_btf",
};

struct collector {
	struct migrate_bpf *skel;
	struct migrate_tp_bpf *tp_skel; /* rung 2 only; maps are skel's */
	struct bpf_link *link;
	struct ring_buffer *rb;
	enum rung rung;
	char refused[NR_RUNGS][REASON_LEN];
	__u64 migration_cost_ns;
	char cost_source[128];
	FILE *csv;
	__u64 records;
	__u64 rec_migrate, rec_forced, rec_decision0;
	int nr_cpus;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* ---- what the kernel hides: migration cost, CPU -> node --------------- */

#define DEBUGFS_COST "/sys/kernel/debug/sched/migration_cost_ns"

/* debugfs is rarely mounted; a child mounts it in a private namespace. */
static int read_cost_private_debugfs(__u64 *out)
{
	int pfd[2], st;
	pid_t pid;

	if (pipe(pfd))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		__u64 v;

		close(pfd[0]);
		if (unshare(CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL))
			_exit(1);
		if (kopt_read_ull(DEBUGFS_COST, &v))
			_exit(2);
		_exit(write(pfd[1], &v, sizeof(v)) == sizeof(v) ? 0 : 3);
	}
	close(pfd[1]);
	st = read(pfd[0], out, sizeof(*out)) == sizeof(*out) ? 0 : -EPERM;
	close(pfd[0]);
	waitpid(pid, NULL, 0);
	return st;
}

static void find_migration_cost(struct collector *c)
{
	if (!kopt_read_ull("/proc/sys/kernel/sched_migration_cost_ns",
			   &c->migration_cost_ns)) {
		snprintf(c->cost_source, sizeof(c->cost_source),
			 "/proc/sys/kernel/sched_migration_cost_ns");
		return;
	}
	if (!kopt_read_ull(DEBUGFS_COST, &c->migration_cost_ns) ||
	    !read_cost_private_debugfs(&c->migration_cost_ns)) {
		snprintf(c->cost_source, sizeof(c->cost_source), "debugfs");
		return;
	}
	c->migration_cost_ns = KOPT_MIGRATION_COST_DEFAULT_NS;
	snprintf(c->cost_source, sizeof(c->cost_source),
		 "assumed kernel default (debugfs unreadable here)");
}

static void fill_cpu_nodes(volatile __u8 *nodes, int nr_cpus)
{
	char path[96];
	int cpu, node;

	for (cpu = 0; cpu < nr_cpus && cpu < MIG_MAX_CPUS; cpu++) {
		nodes[cpu] = 0;
		for (node = 0; node < 64; node++) {
			snprintf(path, sizeof(path),
				 "/sys/devices/system/cpu/cpu%d/node%d", cpu,
				 node);
			if (!access(path, F_OK)) {
				nodes[cpu] = node;
				break;
			}
		}
	}
}

/* ---- the attach ladder -------------------------------------------------- */

static int try_rung(struct collector *c, enum rung r, const char *prog,
		    enum kopt_prog_kind kind)
{
	struct bpf_program *p, *target = NULL;
	const char *step = "open";
	int err;

	c->skel = migrate_bpf__open();
	if (!c->skel) {
		err = errno ? errno : EINVAL;
		goto fail;
	}
	bpf_object__for_each_program(p, c->skel->obj) {
		bool me = !strcmp(bpf_program__name(p), prog);

		bpf_program__set_autoload(p, me);
		if (me)
			target = p;
	}
	c->skel->rodata->migration_cost_ns = c->migration_cost_ns;
	fill_cpu_nodes(c->skel->rodata->cpu_node, c->nr_cpus);
	step = "load";
	err = -migrate_bpf__load(c->skel);
	if (err)
		goto fail;
	step = "attach";
	c->link = bpf_program__attach(target);
	if (!c->link) {
		err = errno ? errno : EINVAL;
		goto fail;
	}
	c->rung = r;
	return 0;
fail:
	snprintf(c->refused[r], REASON_LEN, "%s refused (%s): %s", step,
		 strerrorname_np(err) ? strerrorname_np(err) : "?",
		 kopt_explain_refusal(kind, err));
	migrate_bpf__destroy(c->skel);
	c->skel = NULL;
	return -err;
}

/*
 * Rung 2: the patch tracepoint's program lives in its own object
 * (bpf/migrate_tp.bpf.c, built on migrate.bpf.c) so that migrate.bpf.c
 * stays what runs on unpatched kernels. migrate.bpf.c's skeleton is
 * loaded without programs, for its maps: the rest of the collector reads
 * them as on any other rung, and the tracepoint object shares them.
 */
static int load_patch_tp(struct collector *c, const char **step)
{
	struct bpf_program *p;
	int err;

	*step = "open";
	c->skel = migrate_bpf__open();
	c->tp_skel = migrate_tp_bpf__open();
	if (!c->skel || !c->tp_skel)
		return errno ? errno : EINVAL;
	bpf_object__for_each_program(p, c->skel->obj)
		bpf_program__set_autoload(p, false);
	bpf_object__for_each_program(p, c->tp_skel->obj)
		bpf_program__set_autoload(p, !strcmp(bpf_program__name(p),
						     "mig_patch_tp"));
	*step = "load";
	err = -migrate_bpf__load(c->skel);
	if (err)
		return err;
	c->tp_skel->rodata->migration_cost_ns = c->migration_cost_ns;
	fill_cpu_nodes(c->tp_skel->rodata->cpu_node, c->nr_cpus);
	err = -bpf_map__reuse_fd(c->tp_skel->maps.mig_events,
				 bpf_map__fd(c->skel->maps.mig_events));
	if (!err)
		err = -bpf_map__reuse_fd(c->tp_skel->maps.mig_stats,
					 bpf_map__fd(c->skel->maps.mig_stats));
	if (!err)
		err = -migrate_tp_bpf__load(c->tp_skel);
	if (err)
		return err;
	*step = "attach";
	c->link = bpf_program__attach(c->tp_skel->progs.mig_patch_tp);
	return c->link ? 0 : (errno ? errno : EINVAL);
}

static int try_patch_tp(struct collector *c)
{
	const char *step;
	int err = load_patch_tp(c, &step);

	if (!err) {
		c->rung = RUNG_PATCH_TP;
		return 0;
	}
	snprintf(c->refused[RUNG_PATCH_TP], REASON_LEN, "%s refused (%s): %s",
		 step, strerrorname_np(err) ? strerrorname_np(err) : "?",
		 kopt_explain_refusal(PK_TP_BTF, err));
	migrate_tp_bpf__destroy(c->tp_skel);
	migrate_bpf__destroy(c->skel);
	c->tp_skel = NULL;
	c->skel = NULL;
	return -err;
}

/* Forced-flag agreement of rung 2: exact flag vs the patch-free rule. */
static void read_agreement(struct collector *c, __u64 out[KOPT_MIG_AGREE_NR])
{
	int fd = bpf_map__fd(c->tp_skel->maps.mig_tp_agree);
	__u64 *vals = calloc(c->nr_cpus, sizeof(__u64));
	__u32 k;
	int cpu;

	for (k = 0; k < KOPT_MIG_AGREE_NR; k++) {
		out[k] = 0;
		if (!vals || bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (cpu = 0; cpu < c->nr_cpus; cpu++)
			out[k] += vals[cpu];
	}
	free(vals);
}

static bool kernel_has_patch_tp(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool has;

	if (libbpf_get_error(btf))
		return false;
	has = btf__find_by_name_kind(btf, "btf_trace_sched_can_migrate_task",
				     BTF_KIND_TYPEDEF) > 0;
	btf__free(btf);
	return has;
}

/* --rung: the ladder starts lower; the rungs above say why they were not tried. */
static void skip_rungs(struct collector *c, enum rung start)
{
	int r;

	for (r = 0; r < (int)start; r++)
		snprintf(c->refused[r], REASON_LEN, "not tried (--rung %s)",
			 rung_names[start]);
}

static int attach_ladder(struct collector *c, enum rung start)
{
	skip_rungs(c, start);
	if (start <= RUNG_FEXIT) {
		if (!try_rung(c, RUNG_FEXIT, "mig_fexit", PK_FEXIT))
			return 0;
		pr_info("fexit on can_migrate_task: %s; trying the next rung\n",
			c->refused[RUNG_FEXIT]);
	}
	if (start <= RUNG_PATCH_TP) {
		if (!kernel_has_patch_tp())
			snprintf(c->refused[RUNG_PATCH_TP], REASON_LEN,
				 "absent: the running kernel lacks the kopt "
				 "patch (no sched_can_migrate_task "
				 "tracepoint)");
		else if (!try_patch_tp(c)) {
			pr_info("using the kopt patch's sched_can_migrate_task "
				"tracepoint: every call, exact forced flag\n");
			return 0;
		}
		pr_info("patch tracepoint: %s\n", c->refused[RUNG_PATCH_TP]);
	}
	if (!try_rung(c, RUNG_TP_BTF, "mig_tp_btf", PK_TP_BTF)) {
		pr_info("using tp_btf sched_migrate_task: migrations only, "
			"every record marked positive-only\n");
		return 0;
	}
	pr_warn("no rung of the attach ladder works: tp_btf: %s\n",
		c->refused[RUNG_TP_BTF]);
	return -1;
}

/* ---- dataset --------------------------------------------------------------- */

static const char *const csv_columns =
	"ts_ns,pid,src_cpu,dst_cpu,idle_type,load_avg,util_avg,vruntime,"
	"nr_migrations,exec_start,delta_ns,src_nr_running,dst_nr_running,"
	"src_load_avg,dst_load_avg,src_util_avg,dst_util_avg,imbalance,"
	"nr_balance_failed,cache_nice_tries,same_node,task_running,throttled,"
	"hot,decision,forced,source,flags";

static void write_header(struct collector *c, const char *cmd)
{
	struct utsname u;
	int r;

	uname(&u);
	fprintf(c->csv, "# kopt collect migrations\n");
	fprintf(c->csv, "# kernel: %s\n", u.release);
	fprintf(c->csv, "# rung: %s%s\n", rung_names[c->rung],
		c->rung == RUNG_TP_BTF ?
			" (positive decisions only; sd fields approximate)" :
		c->rung == RUNG_PATCH_TP ? " (forced flag exact)" :
					   "");
	for (r = 0; r < (int)c->rung; r++)
		fprintf(c->csv, "# refused %s: %s\n", rung_names[r],
			c->refused[r]);
	fprintf(c->csv, "# migration_cost_ns: %llu (%s)\n",
		(unsigned long long)c->migration_cost_ns, c->cost_source);
	fprintf(c->csv, "# workload: %s\n", cmd ? cmd : "(none)");
	fprintf(c->csv,
		"# units: ts_ns, vruntime, exec_start, delta_ns in ns; "
		"load_avg/util_avg PELT (1024 = one busy CPU); idle_type "
		"0=not idle 1=idle 2=newly idle; source 1=fexit 2=patch "
		"tracepoint 3=tp_btf; flags bit0 positive-only bit1 sd "
		"approximate bit2 forced exact bit3 active balance bit4 run queues unseen; others "
		"counts or 0/1\n");
	fprintf(c->csv, "%s\n", csv_columns);
}

static int on_event(void *ctx, void *data, size_t len)
{
	const struct kopt_mig_event *e = data;
	struct collector *c = ctx;

	if (len < sizeof(*e))
		return 0;
	c->records++;
	c->rec_migrate += e->decision;
	c->rec_decision0 += !e->decision;
	c->rec_forced += e->forced;
	if (!c->csv)
		return 0;
	fprintf(c->csv,
		"%llu,%u,%u,%u,%u,%llu,%llu,%llu,%llu,%llu,%lld,%u,%u,%llu,"
		"%llu,%llu,%llu,%lld,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u\n",
		(unsigned long long)e->ts_ns, e->pid, e->src_cpu, e->dst_cpu,
		e->idle_type, (unsigned long long)e->load_avg,
		(unsigned long long)e->util_avg,
		(unsigned long long)e->vruntime,
		(unsigned long long)e->nr_migrations,
		(unsigned long long)e->exec_start_ns, (long long)e->delta_ns,
		e->src_nr_running, e->dst_nr_running,
		(unsigned long long)e->src_load_avg,
		(unsigned long long)e->dst_load_avg,
		(unsigned long long)e->src_util_avg,
		(unsigned long long)e->dst_util_avg, (long long)e->imbalance,
		e->nr_balance_failed, e->cache_nice_tries, e->same_node,
		e->task_running, e->throttled, e->hot, e->decision, e->forced,
		e->source, e->flags);
	return 0;
}

static int read_stats(struct collector *c, __u64 out[KOPT_MIG_NR_STATS])
{
	int fd = bpf_map__fd(c->skel->maps.mig_stats);
	__u64 *vals = calloc(c->nr_cpus, sizeof(__u64));
	__u32 k;
	int cpu;

	if (!vals)
		return -ENOMEM;
	for (k = 0; k < KOPT_MIG_NR_STATS; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (cpu = 0; cpu < c->nr_cpus; cpu++)
			out[k] += vals[cpu];
	}
	free(vals);
	return 0;
}

/* ---- workload ---------------------------------------------------------------- */

/* ---- main loop and summary --------------------------------------------- */

struct run_opts {
	enum rung start; /* --rung: the highest rung to try */
	double duration; /* 0 = until the workload exits or a signal */
	const char *out;
	char **cmd;
};

static double agreement_pct(const __u64 *a)
{
	__u64 agree = a[KOPT_MIG_AGREE_BOTH] + a[KOPT_MIG_AGREE_NEITHER];
	__u64 all = agree + a[KOPT_MIG_AGREE_EXACT_ONLY] +
		    a[KOPT_MIG_AGREE_RULE_ONLY];

	return all ? 100.0 * agree / all : 100.0;
}

/* Rung 2 only: how far the patch-free forced rule matches the exact flag. */
static void agreement_json(struct collector *c, struct json_object *o)
{
	struct json_object *a = json_object_new_object();
	__u64 n[KOPT_MIG_AGREE_NR];

	read_agreement(c, n);
	json_object_object_add(a, "both",
			       json_object_new_int64(n[KOPT_MIG_AGREE_BOTH]));
	json_object_object_add(
		a, "neither", json_object_new_int64(n[KOPT_MIG_AGREE_NEITHER]));
	json_object_object_add(
		a, "exact_only",
		json_object_new_int64(n[KOPT_MIG_AGREE_EXACT_ONLY]));
	json_object_object_add(
		a, "rule_only",
		json_object_new_int64(n[KOPT_MIG_AGREE_RULE_ONLY]));
	json_object_object_add(a, "agreement_pct",
			       json_object_new_double(agreement_pct(n)));
	json_object_object_add(o, "forced_rule_agreement", a);
}

static void agreement_text(struct collector *c)
{
	__u64 n[KOPT_MIG_AGREE_NR];

	read_agreement(c, n);
	printf("forced rule: %.2f%% agreement with the exact flag (both %llu, "
	       "neither %llu, missed %llu, extra %llu)\n",
	       agreement_pct(n), (unsigned long long)n[KOPT_MIG_AGREE_BOTH],
	       (unsigned long long)n[KOPT_MIG_AGREE_NEITHER],
	       (unsigned long long)n[KOPT_MIG_AGREE_EXACT_ONLY],
	       (unsigned long long)n[KOPT_MIG_AGREE_RULE_ONLY]);
}

static void print_summary(struct collector *c, const __u64 *st, double secs,
			  const char *workload_status)
{
	double pct = st[KOPT_MIG_STAT_MIGRATE] ?
			     100.0 * st[KOPT_MIG_STAT_FORCED] /
				     st[KOPT_MIG_STAT_MIGRATE] :
			     0;
	int r;

	if (kopt_env.json) {
		struct json_object *o = json_object_new_object();
		struct json_object *ref = json_object_new_object();

		json_object_object_add(
			o, "rung", json_object_new_string(rung_names[c->rung]));
		json_object_object_add(o, "positive_only",
				       json_object_new_boolean(c->rung ==
							       RUNG_TP_BTF));
		for (r = 0; r < (int)c->rung; r++)
			json_object_object_add(
				ref, rung_names[r],
				json_object_new_string(c->refused[r]));
		json_object_object_add(o, "refused", ref);
		json_object_object_add(o, "seconds",
				       json_object_new_double(secs));
		json_object_object_add(
			o, "calls",
			json_object_new_int64(st[KOPT_MIG_STAT_CALLS]));
		json_object_object_add(
			o, "migrations",
			json_object_new_int64(st[KOPT_MIG_STAT_MIGRATE]));
		json_object_object_add(
			o, "forced",
			json_object_new_int64(st[KOPT_MIG_STAT_FORCED]));
		json_object_object_add(o, "forced_pct",
				       json_object_new_double(pct));
		json_object_object_add(
			o, "lost",
			json_object_new_int64(st[KOPT_MIG_STAT_LOST]));
		json_object_object_add(o, "records",
				       json_object_new_int64(c->records));
		json_object_object_add(
			o, "migration_cost_ns",
			json_object_new_int64(c->migration_cost_ns));
		json_object_object_add(o, "migration_cost_source",
				       json_object_new_string(c->cost_source));
		json_object_object_add(o, "workload",
				       json_object_new_string(workload_status));
		if (c->rung == RUNG_PATCH_TP)
			agreement_json(c, o);
		printf("%s\n", kopt_json_text(o));
		json_object_put(o);
		return;
	}
	printf("rung:        %s%s\n", rung_names[c->rung],
	       c->rung == RUNG_TP_BTF ? " (migrations only)" : "");
	printf("seconds:     %.1f\n", secs);
	printf("calls:       %llu\n",
	       (unsigned long long)st[KOPT_MIG_STAT_CALLS]);
	printf("migrations:  %llu\n",
	       (unsigned long long)st[KOPT_MIG_STAT_MIGRATE]);
	printf("forced:      %llu (%.2f%% of migrations)\n",
	       (unsigned long long)st[KOPT_MIG_STAT_FORCED], pct);
	printf("lost:        %llu%s\n",
	       (unsigned long long)st[KOPT_MIG_STAT_LOST],
	       st[KOPT_MIG_STAT_LOST] ? " (ring buffer was full)" : "");
	printf("workload:    %s\n", workload_status);
	if (c->rung == RUNG_PATCH_TP)
		agreement_text(c);
}

static void progress(struct collector *c, double t0)
{
	__u64 st[KOPT_MIG_NR_STATS];

	if (kopt_env.json || !isatty(STDERR_FILENO))
		return;
	read_stats(c, st);
	fprintf(stderr,
		"\r%6.0fs calls %llu migrations %llu forced %llu lost %llu   ",
		kopt_now_s() - t0, (unsigned long long)st[KOPT_MIG_STAT_CALLS],
		(unsigned long long)st[KOPT_MIG_STAT_MIGRATE],
		(unsigned long long)st[KOPT_MIG_STAT_FORCED],
		(unsigned long long)st[KOPT_MIG_STAT_LOST]);
}

static int collect(struct collector *c, const struct run_opts *o)
{
	char status[64] = "none", cmdline[512];
	__u64 st[KOPT_MIG_NR_STATS];
	double t0, last = 0;
	pid_t child = -1;
	int wst;

	kopt_join_cmd(o->cmd, cmdline, sizeof(cmdline));
	if (c->csv)
		write_header(c, o->cmd ? cmdline : NULL);
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.mig_events),
				 on_event, c, NULL);
	if (!c->rb) {
		pr_warn("collect migrations: ring buffer setup failed: %s\n",
			strerror(errno));
		return KOPT_EXIT_BPF;
	}
	t0 = kopt_now_s();
	if (o->cmd)
		child = kopt_workload_start(o->cmd, "kopt collect migrations");
	while (!stop_signal) {
		ring_buffer__poll(c->rb, 100);
		if (o->duration > 0 && kopt_now_s() - t0 >= o->duration)
			break;
		if (child > 0 && waitpid(child, &wst, WNOHANG) == child) {
			kopt_describe_status(wst, status, sizeof(status));
			kopt_workload_stop_group(child);
			child = -1;
			break;
		}
		if (kopt_now_s() - last >= 1) {
			progress(c, t0);
			last = kopt_now_s();
		}
	}
	if (child > 0) {
		wst = kopt_workload_stop(child);
		kopt_describe_status(wst, status, sizeof(status));
		strncat(status, " (stopped at the end of collection)",
			sizeof(status) - strlen(status) - 1);
	}
	ring_buffer__consume(c->rb);
	if (!kopt_env.json && isatty(STDERR_FILENO))
		fprintf(stderr, "\n");
	if (stop_signal)
		pr_info("collect migrations: stopped by signal %d\n",
			(int)stop_signal);
	read_stats(c, st);
	print_summary(c, st, kopt_now_s() - t0, status);
	return KOPT_EXIT_OK;
}

static const struct kopt_opt_choice rung_choices[] = {
	{ "fexit", RUNG_FEXIT },
	{ "patch_tracepoint", RUNG_PATCH_TP },
	{ "tp_btf", RUNG_TP_BTF },
	{ NULL },
};

static bool parse_opts(int argc, char **argv, struct run_opts *o, int *ret)
{
	const struct kopt_opts spec = {
		.cmd = "kopt collect migrations",
		.usage = "[--duration S] [-o FILE.csv] [--json] "
			 "[-- CMD ARGS...]",
		.desc = "Records the features and decision of every "
			"can_migrate_task()\ncall while CMD runs (or for S "
			"seconds, or until Ctrl-C).\nAttach ladder: fexit, the "
			"kopt patch tracepoint, tp_btf\nsched_migrate_task "
			"(migrations only). The forced-migration\nlabel and what "
			"it cannot see are explained at the top of\n"
			"bpf/migrate.bpf.c.",
		.opts = KOPT_OPTS(
			KOPT_OPT_DOUBLE("duration", 'd', &o->duration, 0.001,
					1e7, "S",
					"stop after S seconds (stops CMD too)",
					.unit = "seconds"),
			KOPT_OPT_STR("output", 'o', &o->out, "FILE",
				     "write the dataset as CSV (header: rung,\n"
				     "refusals, units, feature names)"),
			KOPT_OPT_ENUM(
				"rung", 'r', (int *)&o->start, rung_choices,
				"NAME",
				"start the ladder at NAME: fexit (default),\n"
				"patch_tracepoint or tp_btf"),
			KOPT_OPT_JSON("print the summary as JSON")),
		.args = KOPT_ARGS(KOPT_ARG_REST("CMD", &o->cmd)),
		.flags = KOPT_OPTS_STOP,
	};

	return kopt_opts_parse(&spec, argc, argv, ret);
}

int cmd_collect_migrations(int argc, char **argv)
{
	struct collector c = { .nr_cpus = libbpf_num_possible_cpus() };
	struct sigaction sa = { .sa_handler = on_signal };
	struct run_opts o = {};
	int ret;

	if (!parse_opts(argc, argv, &o, &ret))
		return ret;
	if (!kopt_have_bpf_caps())
		return kopt_need_root("kopt collect migrations");
	if (o.out) {
		c.csv = fopen(o.out, "we");
		if (!c.csv) {
			pr_warn("collect migrations: cannot create '%s': %s\n",
				o.out, strerror(errno));
			return KOPT_EXIT_FAIL;
		}
	}
	find_migration_cost(&c);
	if (attach_ladder(&c, o.start)) {
		ret = KOPT_EXIT_BPF;
		goto out;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	ret = collect(&c, &o);
out:
	ring_buffer__free(c.rb);
	bpf_link__destroy(c.link);
	migrate_tp_bpf__destroy(c.tp_skel);
	migrate_bpf__destroy(c.skel);
	if (c.csv && fclose(c.csv)) {
		pr_warn("collect migrations: writing '%s' failed: %s\n", o.out,
			strerror(errno));
		ret = KOPT_EXIT_FAIL;
	}
	return ret;
}
