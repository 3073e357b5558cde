// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt probe: what this host's kernel allows, found by trying.
 *
 * Every BPF feature is tested by loading and attaching the matching tiny
 * program of bpf/probe.bpf.c (or creating the map), so a refusal carries
 * the kernel's errno, and kopt adds the likely reason. Nothing on the host
 * is changed: XDP is attached to the loopback device of a throw-away
 * network namespace, lockdown is read through securityfs mounted in a
 * throw-away mount namespace, and ethtool is only asked (COALESCE_GET).
 *
 * Cost: a few BPF loads; well under a second.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <linux/perf_event.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <cpufreq.h>
#include <json-c/json.h>

#include "ethtool_nl.h"
#include "kopt.h"
#include "probe.h"
#include "probe.skel.h"

#define DETAIL_LEN 384

struct feature {
	const char *key;
	const char *label;
	bool ok;
	char detail[DETAIL_LEN];
	struct json_object *extra; /* extra JSON members, may be NULL */
};

struct probe_ctx {
	struct feature feats[KOPT_PROBE_NR];
	char lockdown[32];
	struct btf *vmlinux_btf;
};

static const char *const feature_keys[KOPT_PROBE_NR][2] = {
	[KOPT_PROBE_KERNEL] = { "kernel", "kernel release" },
	[KOPT_PROBE_BTF] = { "btf", "BTF (/sys/kernel/btf/vmlinux)" },
	[KOPT_PROBE_LOCKDOWN] = { "lockdown", "kernel lockdown" },
	[KOPT_PROBE_CAPS] = { "capabilities", "capabilities" },
	[KOPT_PROBE_RINGBUF] = { "ringbuf", "ring buffer map" },
	[KOPT_PROBE_TRACEPOINT] = { "tracepoint", "tracepoint program" },
	[KOPT_PROBE_TP_BTF] = { "tp_btf", "tp_btf sched_migrate_task" },
	[KOPT_PROBE_FEXIT] = { "fexit_can_migrate_task",
			       "fexit can_migrate_task" },
	[KOPT_PROBE_KPROBE] = { "kprobe", "kprobe can_migrate_task" },
	[KOPT_PROBE_XDP] = { "xdp", "XDP (generic, private netns)" },
	[KOPT_PROBE_TEST_RUN] = { "prog_test_run", "BPF_PROG_TEST_RUN" },
	[KOPT_PROBE_STRUCT_OPS] = { "struct_ops", "struct_ops" },
	[KOPT_PROBE_STATS] = { "bpf_stats", "bpf_stats_enabled" },
	[KOPT_PROBE_SCHED_EXT] = { "sched_ext", "sched_ext" },
	[KOPT_PROBE_KOPT_PATCH] = { "kopt_patch", "kopt 6.12 kernel patch" },
	[KOPT_PROBE_CPUFREQ] = { "cpufreq", "cpufreq (DVFS)" },
	[KOPT_PROBE_RAPL] = { "rapl_powercap", "RAPL powercap" },
	[KOPT_PROBE_PERF_POWER] = { "perf_power", "perf power PMU" },
	[KOPT_PROBE_NET] = { "net_coalesce", "NIC coalescing" },
};

static struct feature *feat(struct probe_ctx *ctx, enum kopt_probe_id id)
{
	return &ctx->feats[id];
}

static void set_feat(struct feature *f, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_feat(struct feature *f, bool ok, const char *fmt, ...)
{
	va_list ap;

	f->ok = ok;
	va_start(ap, fmt);
	vsnprintf(f->detail, sizeof(f->detail), fmt, ap);
	va_end(ap);
}

static bool path_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* ---- kernel, BTF, lockdown, capabilities ------------------------------- */

static void probe_kernel(struct probe_ctx *ctx)
{
	struct utsname u;

	if (uname(&u))
		set_feat(feat(ctx, KOPT_PROBE_KERNEL), false, "uname: %s",
			 strerror(errno));
	else
		set_feat(feat(ctx, KOPT_PROBE_KERNEL), true, "%s %s", u.release,
			 u.machine);
}

static void probe_btf(struct probe_ctx *ctx)
{
	struct feature *f = feat(ctx, KOPT_PROBE_BTF);
	long err;

	ctx->vmlinux_btf = btf__load_vmlinux_btf();
	err = libbpf_get_error(ctx->vmlinux_btf);
	if (err) {
		ctx->vmlinux_btf = NULL;
		set_feat(f, false,
			 "cannot load vmlinux BTF (%s): CO-RE programs cannot "
			 "load; the kernel needs CONFIG_DEBUG_INFO_BTF=y",
			 strerror(-err));
		return;
	}
	set_feat(f, true, "%u types", btf__type_cnt(ctx->vmlinux_btf));
}

/* "none [integrity] confidentiality" -> "integrity" */
static void parse_lockdown(const char *line, char *out, size_t len)
{
	const char *l = strchr(line, '['), *r = l ? strchr(l, ']') : NULL;

	if (!l || !r) {
		snprintf(out, len, "unknown");
		return;
	}
	snprintf(out, len, "%.*s", (int)(r - l - 1), l + 1);
}

/*
 * securityfs is often not mounted (this sandbox); mounting it on the host
 * would be a change, so a child mounts it in a private mount namespace.
 */
static int read_lockdown_private(char *buf, size_t len)
{
	int pfd[2], st;
	ssize_t n;
	pid_t pid;

	if (pipe(pfd))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char line[128] = "";

		close(pfd[0]);
		if (unshare(CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("securityfs", "/sys/kernel/security", "securityfs", 0,
			  NULL) ||
		    kopt_read_line("/sys/kernel/security/lockdown", line,
				   sizeof(line)))
			_exit(1);
		if (write(pfd[1], line, strlen(line)) < 0)
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	n = read(pfd[0], buf, len - 1);
	close(pfd[0]);
	waitpid(pid, &st, 0);
	if (n <= 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return -ENOENT;
	buf[n] = '\0';
	return 0;
}

/* Returns how it was read; mode is "unknown" when it could not be. */
static const char *read_lockdown(char *mode, size_t len)
{
	char line[128];

	if (!kopt_read_line("/sys/kernel/security/lockdown", line,
			    sizeof(line))) {
		parse_lockdown(line, mode, len);
		return "securityfs";
	}
	if (!read_lockdown_private(line, sizeof(line))) {
		parse_lockdown(line, mode, len);
		return "securityfs mounted in a private namespace";
	}
	snprintf(mode, len, "unknown");
	return NULL;
}

void kopt_lockdown_mode(char *mode, size_t len)
{
	static char cached[32];

	if (!cached[0])
		read_lockdown(cached, sizeof(cached));
	snprintf(mode, len, "%s", cached);
}

static void probe_lockdown(struct probe_ctx *ctx)
{
	struct feature *f = feat(ctx, KOPT_PROBE_LOCKDOWN);
	const char *how = read_lockdown(ctx->lockdown, sizeof(ctx->lockdown));

	if (!how) {
		set_feat(f, false,
			 "unknown: no lockdown LSM file in securityfs");
		return;
	}
	/* ok = "not locked down": nothing is refused by lockdown */
	set_feat(f, !strcmp(ctx->lockdown, "none"), "%s (read through %s)",
		 ctx->lockdown, how);
}

static void probe_caps(struct probe_ctx *ctx)
{
	static const struct {
		int cap;
		const char *name;
	} caps[] = {
		{ CAP_BPF, "CAP_BPF" },
		{ CAP_PERFMON, "CAP_PERFMON" },
		{ CAP_SYS_ADMIN, "CAP_SYS_ADMIN" },
		{ CAP_NET_ADMIN, "CAP_NET_ADMIN" },
	};
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = {};
	struct feature *f = feat(ctx, KOPT_PROBE_CAPS);
	char buf[DETAIL_LEN] = "";
	size_t i;

	if (syscall(SYS_capget, &hdr, data)) {
		set_feat(f, false, "capget: %s", strerror(errno));
		return;
	}
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		bool has = data[caps[i].cap / 32].effective &
			   (1U << (caps[i].cap % 32));
		size_t l = strlen(buf);

		snprintf(buf + l, sizeof(buf) - l, "%s%s%s", l ? " " : "",
			 has ? "+" : "-", caps[i].name);
	}
	set_feat(f, kopt_have_bpf_caps(), "effective: %s", buf);
}

/* ---- BPF programs ------------------------------------------------------------ */

const char *kopt_explain_refusal(enum kopt_prog_kind kind, int err)
{
	char mode[32];
	bool locked;

	kopt_lockdown_mode(mode, sizeof(mode));
	locked = strcmp(mode, "none") && strcmp(mode, "unknown");

	switch (err) {
	case EPERM:
	case EACCES:
		if (!kopt_have_bpf_caps())
			return "missing CAP_BPF/CAP_PERFMON";
		if (kind == PK_FEXIT && locked)
			return "kernel lockdown forbids BPF trampolines "
			       "(fentry/fexit) here";
		if (locked)
			return "refused under kernel lockdown";
		return "refused by the kernel (LSM or sysctl policy)";
	case ENOENT:
	case ESRCH:
		if (kind == PK_KPROBE &&
		    !path_exists("/sys/bus/event_source/devices/kprobe"))
			return "no kprobe PMU: kernel built without "
			       "CONFIG_KPROBES";
		return "the traced function or tracepoint does not exist "
		       "(inlined or renamed in this kernel)";
	case ENOTSUP:
	case 524: /* ENOTSUPP, kernel-internal */
		if (kind == PK_FEXIT)
			return "no BPF trampoline support on this kernel/arch";
		return "not supported by this kernel";
	case EINVAL:
		return "the kernel rejected the program (too old for it?)";
	default:
		return "see kopt -v probe for the verifier/libbpf log";
	}
}

/*
 * Loads only `prog` from the probe object, attaches it, and detaches.
 * Returns 0 or a positive errno; *step says which step failed.
 */
static int try_prog(const char *prog, const char **step)
{
	struct bpf_program *p, *target = NULL;
	struct bpf_link *link = NULL;
	struct probe_bpf *skel;
	int err = 0;

	*step = "open";
	skel = probe_bpf__open();
	if (!skel)
		return errno ? errno : EINVAL;
	bpf_object__for_each_program(p, skel->obj) {
		bool me = !strcmp(bpf_program__name(p), prog);

		bpf_program__set_autoload(p, me);
		if (me)
			target = p;
	}
	if (!target) {
		err = ENOENT;
		goto out;
	}
	*step = "load";
	err = -probe_bpf__load(skel);
	if (err)
		goto out;
	*step = "attach";
	link = bpf_program__attach(target);
	if (!link)
		err = errno ? errno : EINVAL;
out:
	bpf_link__destroy(link);
	probe_bpf__destroy(skel);
	return err;
}

#define TRACEFS "/sys/kernel/tracing"

/*
 * Classic (perf) tracepoints are attached by id, read from tracefs. Where
 * tracefs is not mounted, try again in a child that mounts it in a private
 * mount namespace: that tells "works once tracefs is mounted" from "no".
 */
static int try_prog_private_tracefs(const char *prog)
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return errno;
	if (pid == 0) {
		const char *step;

		if (unshare(CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("tracefs", TRACEFS, "tracefs", 0, NULL))
			_exit(255);
		_exit(try_prog(prog, &step) & 0xff);
	}
	if (waitpid(pid, &st, 0) < 0)
		return errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : EINTR;
}

static void probe_prog(struct probe_ctx *ctx, enum kopt_probe_id id,
		       const char *prog, enum kopt_prog_kind kind)
{
	struct feature *f = feat(ctx, id);
	const char *step;
	int err = try_prog(prog, &step);

	if (!err) {
		set_feat(f, true, "loaded and attached");
		return;
	}
	if (kind == PK_TRACEPOINT && err == ENOENT &&
	    !path_exists(TRACEFS "/events") &&
	    !try_prog_private_tracefs(prog)) {
		set_feat(f, true,
			 "loads; attach needs tracefs, not mounted at " TRACEFS
			 " here (works once mounted: tried in a private mount "
			 "namespace); kopt uses tp_btf, which needs none");
		return;
	}
	set_feat(f, false, "%s refused (%s, errno %d): %s", step,
		 strerrorname_np(err) ? strerrorname_np(err) : "?", err,
		 kopt_explain_refusal(kind, err));
	f->extra = json_object_new_object();
	json_object_object_add(f->extra, "errno", json_object_new_int(err));
	json_object_object_add(f->extra, "step", json_object_new_string(step));
}

static void probe_ringbuf(struct probe_ctx *ctx)
{
	struct feature *f = feat(ctx, KOPT_PROBE_RINGBUF);
	int ret = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL);

	if (ret == 1)
		set_feat(f, true, "BPF_MAP_TYPE_RINGBUF created");
	else if (ret == 0)
		set_feat(f, false,
			 "BPF_MAP_TYPE_RINGBUF unknown to this "
			 "kernel (needs 5.8+)");
	else
		set_feat(f, false, "map create failed: %s", strerror(-ret));
}

/* Attaches in a child in a new network namespace: the host sees nothing. */
static int xdp_attach_private(int prog_fd)
{
	int st, err = 0;
	pid_t pid = fork();

	if (pid < 0)
		return errno;
	if (pid == 0) {
		int ifindex;

		if (unshare(CLONE_NEWNET))
			_exit(errno & 0xff);
		ifindex = if_nametoindex("lo");
		if (!ifindex)
			_exit(ENODEV);
		err = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_SKB_MODE,
				     NULL);
		_exit(err < 0 ? (-err & 0xff) : 0);
	}
	if (waitpid(pid, &st, 0) < 0)
		return errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : EINTR;
}

static void probe_xdp(struct probe_ctx *ctx)
{
	struct feature *fx = feat(ctx, KOPT_PROBE_XDP);
	struct feature *ft = feat(ctx, KOPT_PROBE_TEST_RUN);
	unsigned char pkt[64] = { [12] = 0x08 }; /* IPv4 ethertype */
	LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = pkt,
		    .data_size_in = sizeof(pkt), .repeat = 1);
	struct probe_bpf *skel;
	struct bpf_program *p;
	int err, fd;

	skel = probe_bpf__open();
	if (!skel) {
		set_feat(fx, false, "open probe object: %s", strerror(errno));
		set_feat(ft, false, "needs the XDP probe program");
		return;
	}
	bpf_object__for_each_program(p, skel->obj)
		bpf_program__set_autoload(p, p == skel->progs.probe_xdp);
	err = probe_bpf__load(skel);
	if (err) {
		set_feat(fx, false, "load refused (errno %d): %s", -err,
			 strerror(-err));
		set_feat(ft, false, "needs the XDP probe program");
		goto out;
	}
	fd = bpf_program__fd(skel->progs.probe_xdp);
	err = xdp_attach_private(fd);
	if (err)
		set_feat(fx, false,
			 "load ok, generic attach to lo in a private netns "
			 "refused (errno %d: %s)",
			 err, strerror(err));
	else
		set_feat(fx, true,
			 "loaded; generic attach ok (lo of a private netns)");
	err = bpf_prog_test_run_opts(fd, &topts);
	if (err)
		set_feat(ft, false, "XDP test run refused (errno %d: %s)",
			 errno, strerror(errno));
	else if (topts.retval != XDP_PASS)
		set_feat(ft, false, "XDP test run returned %u, expected %u",
			 topts.retval, XDP_PASS);
	else
		set_feat(ft, true, "XDP test run ok (%u ns/run)",
			 topts.duration);
out:
	probe_bpf__destroy(skel);
}

/* ---- struct_ops, sched_ext, the kopt patch -------------------------------- */

#define STRUCT_OPS_PREFIX "bpf_struct_ops_"

/*
 * struct_ops types are those with a "bpf_struct_ops_<name>" value type in
 * vmlinux BTF; each is confirmed by creating a struct_ops map for it.
 */
static int try_struct_ops_map(const struct btf *btf, int value_id, int btf_fd)
{
	/* the kernel insists on a program BTF fd even for vmlinux types */
	LIBBPF_OPTS(bpf_map_create_opts, opts,
		    .btf_vmlinux_value_type_id = value_id, .btf_fd = btf_fd);
	__s64 size = btf__resolve_size(btf, value_id);
	int fd;

	if (size <= 0)
		return EINVAL;
	fd = bpf_map_create(BPF_MAP_TYPE_STRUCT_OPS, "kopt_probe_sto", 4, size,
			    1, &opts);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static bool struct_ops_listed(struct json_object *arr, const char *name)
{
	size_t i;

	for (i = 0; arr && i < json_object_array_length(arr); i++)
		if (!strcmp(json_object_get_string(
				    json_object_array_get_idx(arr, i)),
			    name))
			return true;
	return false;
}

/* Value types that are libbpf/kernel plumbing, not struct_ops types. */
static bool struct_ops_internal(const char *name)
{
	static const char *const internal[] = {
		"arg_info", "common_value", "desc", "link", "map", "value",
	};
	size_t i;

	for (i = 0; i < sizeof(internal) / sizeof(internal[0]); i++)
		if (!strcmp(name, internal[i]))
			return true;
	return false;
}

static void probe_struct_ops(struct probe_ctx *ctx)
{
	struct feature *f = feat(ctx, KOPT_PROBE_STRUCT_OPS);
	struct json_object *ok_arr = json_object_new_array();
	const struct btf *btf = ctx->vmlinux_btf;
	char list[DETAIL_LEN] = "";
	int id, n, last_err = 0;
	struct btf *prog_btf;

	f->extra = json_object_new_object();
	json_object_object_add(f->extra, "types", ok_arr);
	if (!btf) {
		set_feat(f, false, "needs vmlinux BTF");
		return;
	}
	prog_btf = btf__new_empty();
	if (!prog_btf || btf__add_int(prog_btf, "int", 4, BTF_INT_SIGNED) < 0 ||
	    btf__load_into_kernel(prog_btf)) {
		set_feat(f, false, "loading a BTF blob refused (errno %d: %s)",
			 errno, strerror(errno));
		btf__free(prog_btf);
		return;
	}
	n = btf__type_cnt(btf);
	for (id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const char *name = btf__name_by_offset(btf, t->name_off);
		size_t l;

		if (!btf_is_struct(t) ||
		    strncmp(name, STRUCT_OPS_PREFIX, strlen(STRUCT_OPS_PREFIX)))
			continue;
		name += strlen(STRUCT_OPS_PREFIX);
		if (struct_ops_internal(name))
			continue;
		last_err = try_struct_ops_map(btf, id, btf__fd(prog_btf));
		if (last_err)
			continue;
		json_object_array_add(ok_arr, json_object_new_string(name));
		l = strlen(list);
		snprintf(list + l, sizeof(list) - l, "%s%s", l ? ", " : "",
			 name);
	}
	btf__free(prog_btf);
	if (json_object_array_length(ok_arr))
		set_feat(f, true, "types: %s", list);
	else if (last_err)
		set_feat(f, false,
			 "struct_ops map create refused (errno %d: %s)",
			 last_err, strerror(last_err));
	else
		set_feat(f, false, "no struct_ops types in vmlinux BTF");
}

static void probe_sched_ext(struct probe_ctx *ctx)
{
	struct json_object *types = NULL;
	struct feature *f = feat(ctx, KOPT_PROBE_SCHED_EXT);

	json_object_object_get_ex(feat(ctx, KOPT_PROBE_STRUCT_OPS)->extra,
				  "types", &types);
	if (struct_ops_listed(types, "sched_ext_ops"))
		set_feat(f, true, "sched_ext_ops struct_ops available");
	else
		set_feat(f, false,
			 "absent: no sched_ext_ops struct_ops "
			 "(kernel without CONFIG_SCHED_CLASS_EXT)");
}

static bool btf_has(const struct btf *btf, const char *name, __u32 kind)
{
	return btf && btf__find_by_name_kind(btf, name, kind) > 0;
}

static void probe_kopt_patch(struct probe_ctx *ctx)
{
	struct feature *f = feat(ctx, KOPT_PROBE_KOPT_PATCH);
	struct json_object *types = NULL;
	bool tp, ops, kfunc;

	json_object_object_get_ex(feat(ctx, KOPT_PROBE_STRUCT_OPS)->extra,
				  "types", &types);
	tp = btf_has(ctx->vmlinux_btf, "btf_trace_sched_can_migrate_task",
		     BTF_KIND_TYPEDEF);
	ops = struct_ops_listed(types, "sched_lb_ops");
	kfunc = btf_has(ctx->vmlinux_btf, "bpf_kopt_mlp_eval", BTF_KIND_FUNC);
	if (tp && ops && kfunc)
		set_feat(f, true,
			 "sched_can_migrate_task tracepoint, "
			 "sched_lb_ops struct_ops, bpf_kopt_mlp_eval "
			 "kfunc");
	else
		set_feat(f, false,
			 "absent: tracepoint %s, struct_ops %s, kfunc %s "
			 "(see kernel-patches/)",
			 tp ? "yes" : "no", ops ? "yes" : "no",
			 kfunc ? "yes" : "no");
}

static void probe_stats(struct probe_ctx *ctx)
{
	struct feature *f = feat(ctx, KOPT_PROBE_STATS);
	char cur[16] = "?";
	int fd;

	kopt_read_line("/proc/sys/kernel/bpf_stats_enabled", cur, sizeof(cur));
	/* BPF_ENABLE_STATS is scoped to the fd: closing it undoes it */
	fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (fd < 0) {
		set_feat(f, false,
			 "BPF_ENABLE_STATS refused (errno %d: %s); sysctl "
			 "kernel.bpf_stats_enabled=%s",
			 errno, strerror(errno), cur);
		return;
	}
	close(fd);
	set_feat(f, true, "run_time_ns/run_cnt can be enabled (sysctl now %s)",
		 cur);
}

/* ---- cpufreq, energy ------------------------------------------------------------ */

static void probe_cpufreq(struct probe_ctx *ctx)
{
	struct feature *f = feat(ctx, KOPT_PROBE_CPUFREQ);
	struct cpufreq_available_frequencies *freqs, *fr;
	struct cpufreq_available_governors *govs, *g;
	char gbuf[128] = "", fbuf[160] = "";
	char *driver;
	int nfreq = 0;

	driver = cpufreq_get_driver(0);
	if (!driver) {
		set_feat(f, false,
			 "absent: no /sys/devices/system/cpu/cpu0/cpufreq "
			 "(no cpufreq driver; VMs rarely expose one)");
		return;
	}
	govs = cpufreq_get_available_governors(0);
	for (g = govs ? govs->first : NULL; g; g = g->next) {
		size_t l = strlen(gbuf);

		snprintf(gbuf + l, sizeof(gbuf) - l, "%s%s", l ? "," : "",
			 g->governor);
	}
	freqs = cpufreq_get_available_frequencies(0);
	for (fr = freqs ? freqs->first : NULL; fr; fr = fr->next) {
		size_t l = strlen(fbuf);

		nfreq++;
		if (l < sizeof(fbuf) - 12)
			snprintf(fbuf + l, sizeof(fbuf) - l, "%s%lu",
				 l ? "," : "", fr->frequency / 1000);
	}
	set_feat(f, true, "driver %s; governors %s; frequencies (MHz) %s",
		 driver, gbuf[0] ? gbuf : "?",
		 nfreq ? fbuf : "not listed (driver sets any in range)");
	if (freqs)
		cpufreq_put_available_frequencies(freqs);
	if (govs)
		cpufreq_put_available_governors(govs);
	cpufreq_put_driver(driver);
}

static void probe_rapl(struct probe_ctx *ctx)
{
	struct feature *f = feat(ctx, KOPT_PROBE_RAPL);
	char zones[DETAIL_LEN] = "", path[300], name[64], uj[32];
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir("/sys/class/powercap");
	if (!d) {
		set_feat(f, false, "absent: no /sys/class/powercap");
		return;
	}
	while ((de = readdir(d))) {
		size_t l = strlen(zones);

		if (!strstr(de->d_name, "rapl:"))
			continue;
		snprintf(path, sizeof(path), "/sys/class/powercap/%s/name",
			 de->d_name);
		if (kopt_read_line(path, name, sizeof(name)))
			continue;
		snprintf(path, sizeof(path), "/sys/class/powercap/%s/energy_uj",
			 de->d_name);
		if (kopt_read_line(path, uj, sizeof(uj)))
			continue; /* unreadable energy is no meter */
		n++;
		snprintf(zones + l, sizeof(zones) - l, "%s%s=%s", l ? ", " : "",
			 de->d_name, name);
	}
	closedir(d);
	if (n)
		set_feat(f, true, "%d readable zones: %s", n, zones);
	else
		set_feat(f, false,
			 "absent: no readable RAPL zone in "
			 "/sys/class/powercap");
}

#define POWER_PMU "/sys/bus/event_source/devices/power"

/*
 * Opens one power/energy-* event on CPU 0 and counts over ~100 ms of
 * spinning: a counter that opens but never moves is no meter (seen on
 * VMs that expose energy-psys). Returns the raw delta or -errno.
 */
static long long energy_event_delta(long type, const char *event)
{
	struct perf_event_attr attr = { .size = sizeof(attr) };
	unsigned long long a = 0, b = 0;
	char path[320], buf[64];
	unsigned int config;
	struct timespec t0, t;
	int fd;

	snprintf(path, sizeof(path), POWER_PMU "/events/%s", event);
	if (kopt_read_line(path, buf, sizeof(buf)) ||
	    sscanf(buf, "event=%x", &config) != 1)
		return -EINVAL;
	attr.type = type;
	attr.config = config;
	fd = syscall(SYS_perf_event_open, &attr, -1, 0, -1,
		     PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (read(fd, &a, sizeof(a)) != sizeof(a)) {
		close(fd);
		return -EIO;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000000000LL + t.tv_nsec - t0.tv_nsec <
	       100000000LL);
	if (read(fd, &b, sizeof(b)) != sizeof(b))
		b = a;
	close(fd);
	return (long long)(b - a);
}

static void probe_perf_power(struct probe_ctx *ctx)
{
	struct feature *f = feat(ctx, KOPT_PROBE_PERF_POWER);
	char buf[64], res[DETAIL_LEN] = "";
	struct dirent *de;
	bool any = false;
	long type;
	DIR *d;

	if (kopt_read_line(POWER_PMU "/type", buf, sizeof(buf))) {
		set_feat(f, false, "absent: no power PMU (" POWER_PMU ")");
		return;
	}
	type = strtol(buf, NULL, 10);
	d = opendir(POWER_PMU "/events");
	while (d && (de = readdir(d))) {
		size_t l = strlen(res);
		long long delta;

		if (strncmp(de->d_name, "energy-", 7) ||
		    strchr(de->d_name, '.'))
			continue;
		delta = energy_event_delta(type, de->d_name);
		if (delta > 0)
			any = true;
		if (delta < 0)
			snprintf(res + l, sizeof(res) - l, "%s%s refused (%s)",
				 l ? "; " : "", de->d_name,
				 strerror((int)-delta));
		else
			snprintf(res + l, sizeof(res) - l,
				 "%s%s opens, counted %lld in 100 ms%s",
				 l ? "; " : "", de->d_name, delta,
				 delta ? "" : " (not a working meter)");
	}
	if (d)
		closedir(d);
	if (!res[0])
		set_feat(f, false, "power PMU has no energy-* event");
	else
		set_feat(f, any, "%s", res);
}

/* ---- network interfaces ------------------------------------------------------ */

static struct json_object *probe_one_netif(const char *ifname, char *line,
					   size_t len)
{
	struct json_object *o = json_object_new_object();
	struct json_object *params = json_object_new_array();
	struct ethtool_coalesce_info info;
	char driver[64] = "?";
	int err, a;

	ethtool_driver_name(ifname, driver, sizeof(driver));
	json_object_object_add(o, "name", json_object_new_string(ifname));
	json_object_object_add(o, "driver", json_object_new_string(driver));
	err = ethtool_coalesce_get(ifname, &info);
	json_object_object_add(o, "coalesce_ok", json_object_new_boolean(!err));
	json_object_object_add(o, "coalesce_params", params);
	if (err) {
		snprintf(line, len, "%s (%s): no coalescing (%s)", ifname,
			 driver, strerror(-err));
		json_object_object_add(o, "detail",
				       json_object_new_string(strerror(-err)));
		return o;
	}
	snprintf(line, len, "%s (%s): ", ifname, driver);
	for (a = 0; a <= KOPT_COALESCE_MAX_ATTR; a++) {
		size_t l = strlen(line);

		if (!info.present[a])
			continue;
		json_object_array_add(
			params,
			json_object_new_string(ethtool_coalesce_attr_name(a)));
		snprintf(line + l, len - l, "%s%s=%u",
			 json_object_array_length(params) > 1 ? " " : "",
			 ethtool_coalesce_attr_name(a), info.value[a]);
	}
	if (!info.nr_present)
		snprintf(line + strlen(line), len - strlen(line),
			 "driver reports no coalescing parameter");
	return o;
}

static void probe_net(struct probe_ctx *ctx)
{
	struct feature *f = feat(ctx, KOPT_PROBE_NET);
	struct json_object *arr = json_object_new_array();
	struct if_nameindex *ifs, *i;
	char all[DETAIL_LEN] = "", line[256];
	bool any = false;

	f->extra = json_object_new_object();
	json_object_object_add(f->extra, "interfaces", arr);
	ifs = if_nameindex();
	if (!ifs) {
		set_feat(f, false, "if_nameindex: %s", strerror(errno));
		return;
	}
	for (i = ifs; i->if_index; i++) {
		struct json_object *o, *okv;
		size_t l = strlen(all);

		if (!strcmp(i->if_name, "lo"))
			continue;
		o = probe_one_netif(i->if_name, line, sizeof(line));
		json_object_array_add(arr, o);
		json_object_object_get_ex(o, "coalesce_ok", &okv);
		any |= json_object_get_boolean(okv);
		snprintf(all + l, sizeof(all) - l, "%s%s", l ? "; " : "", line);
	}
	if_freenameindex(ifs);
	set_feat(f, any, "%s", all[0] ? all : "no interface besides lo");
}

const char *kopt_probe_key(enum kopt_probe_id id)
{
	return feature_keys[id][0];
}

const char *kopt_probe_label(enum kopt_probe_id id)
{
	return feature_keys[id][1];
}

struct json_object *kopt_probe_all(void)
{
	struct json_object *root = json_object_new_object();
	struct probe_ctx ctx = {};
	int i;

	for (i = 0; i < KOPT_PROBE_NR; i++) {
		ctx.feats[i].key = feature_keys[i][0];
		ctx.feats[i].label = feature_keys[i][1];
	}
	probe_kernel(&ctx);
	probe_btf(&ctx);
	probe_lockdown(&ctx);
	probe_caps(&ctx);
	probe_ringbuf(&ctx);
	probe_prog(&ctx, KOPT_PROBE_TRACEPOINT, "probe_tracepoint",
		   PK_TRACEPOINT);
	probe_prog(&ctx, KOPT_PROBE_TP_BTF, "probe_tp_btf", PK_TP_BTF);
	probe_prog(&ctx, KOPT_PROBE_FEXIT, "probe_fexit", PK_FEXIT);
	probe_prog(&ctx, KOPT_PROBE_KPROBE, "probe_kprobe", PK_KPROBE);
	probe_xdp(&ctx);
	probe_struct_ops(&ctx);
	probe_stats(&ctx);
	probe_sched_ext(&ctx);
	probe_kopt_patch(&ctx);
	probe_cpufreq(&ctx);
	probe_rapl(&ctx);
	probe_perf_power(&ctx);
	probe_net(&ctx);
	for (i = 0; i < KOPT_PROBE_NR; i++) {
		struct feature *f = &ctx.feats[i];
		struct json_object *o = f->extra ? f->extra :
						   json_object_new_object();

		json_object_object_add(o, "ok", json_object_new_boolean(f->ok));
		json_object_object_add(o, "detail",
				       json_object_new_string(f->detail));
		json_object_object_add(root, f->key, o);
		f->extra = NULL; /* now owned by root */
	}
	btf__free(ctx.vmlinux_btf);
	return root;
}

/* ---- verdicts: what each job can do here ------------------------------------ */

static bool feat_ok(struct json_object *root, enum kopt_probe_id id)
{
	struct json_object *f, *ok;

	return json_object_object_get_ex(root, kopt_probe_key(id), &f) &&
	       json_object_object_get_ex(f, "ok", &ok) &&
	       json_object_get_boolean(ok);
}

/* Interfaces whose driver takes rx-usecs (the ITR knob), "a, b". */
static void itr_interfaces(struct json_object *root, char *buf, size_t len)
{
	struct json_object *f, *arr;
	size_t used = 0;

	buf[0] = '\0';
	if (!json_object_object_get_ex(root, kopt_probe_key(KOPT_PROBE_NET),
				       &f) ||
	    !json_object_object_get_ex(f, "interfaces", &arr))
		return;
	for (size_t i = 0; i < json_object_array_length(arr) && used < len;
	     i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		struct json_object *ok, *params, *name;
		bool rx = false;

		if (!json_object_object_get_ex(o, "coalesce_ok", &ok) ||
		    !json_object_get_boolean(ok) ||
		    !json_object_object_get_ex(o, "coalesce_params", &params) ||
		    !json_object_object_get_ex(o, "name", &name))
			continue;
		for (size_t k = 0; k < json_object_array_length(params); k++)
			rx |= !strcmp(
				json_object_get_string(
					json_object_array_get_idx(params, k)),
				"rx-usecs");
		if (rx)
			used += snprintf(buf + used, len - used, "%s%s",
					 used ? ", " : "",
					 json_object_get_string(name));
	}
}

/* An interface (not lo) with gro_flush_timeout: the sw-coalesce knob. */
static bool sw_coalesce_here(char *ifname, size_t len)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	bool found = false;

	for (i = ifs; i && i->if_index && !found; i++) {
		char path[128];

		if (!strcmp(i->if_name, "lo"))
			continue;
		snprintf(path, sizeof(path),
			 "/sys/class/net/%s/gro_flush_timeout", i->if_name);
		if (!access(path, R_OK)) {
			snprintf(ifname, len, "%s", i->if_name);
			found = true;
		}
	}
	if (ifs)
		if_freenameindex(ifs);
	return found;
}

static void add_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

static struct json_object *energy_verdict(struct json_object *root)
{
	struct json_object *o = json_object_new_object();
	struct json_object *limits = json_object_new_array();
	char nics[256], sw[IF_NAMESIZE + 1] = "", itr[300], text[1024];
	const char *meter, *lat;
	bool have_itr = true, measured = true;

	itr_interfaces(root, nics, sizeof(nics));
	if (nics[0]) {
		snprintf(itr, sizeof(itr), "nic-coalesce on %s", nics);
	} else if (sw_coalesce_here(sw, sizeof(sw))) {
		snprintf(itr, sizeof(itr),
			 "sw-coalesce (gro_flush_timeout) on %s: no NIC "
			 "takes rx-usecs",
			 sw);
		json_object_array_add(
			limits, json_object_new_string(
					"ITR through software coalescing only "
					"([host] coalesce = sw)"));
	} else {
		snprintf(itr, sizeof(itr), "none");
		have_itr = false;
		json_object_array_add(limits,
				      json_object_new_string(
					      "no ITR knob: no NIC takes "
					      "rx-usecs and no "
					      "gro_flush_timeout"));
	}
	if (!feat_ok(root, KOPT_PROBE_CPUFREQ))
		json_object_array_add(
			limits, json_object_new_string(
					"no DVFS knob: set [freq] list_mhz = "
					"none (ITR alone)"));
	if (feat_ok(root, KOPT_PROBE_RAPL)) {
		meter = "RAPL powercap";
	} else if (feat_ok(root, KOPT_PROBE_PERF_POWER)) {
		meter = "perf power PMU";
	} else {
		meter = "estimate (CPU time x frequency model)";
		measured = false;
		json_object_array_add(limits,
				      json_object_new_string(
					      "no energy meter: figures are "
					      "estimated and labelled so"));
	}
	/* the service's own traffic, timed in BPF, needs tp_btf */
	lat = feat_ok(root, KOPT_PROBE_TP_BTF) ?
		      "bpf:PORT (the service's traffic, timed in BPF)" :
		      "feed:cmd: or feed:file: (the service reports its p99; "
		      "no tp_btf for bpf:PORT)";
	add_str(o, "itr_knob", itr);
	add_str(o, "dvfs_knob",
		feat_ok(root, KOPT_PROBE_CPUFREQ) ? "cpufreq" : NULL);
	add_str(o, "meter", meter);
	json_object_object_add(o, "energy_measured",
			       json_object_new_boolean(measured));
	add_str(o, "latency_source", lat);
	json_object_object_add(o, "can_run", json_object_new_boolean(have_itr));
	json_object_object_add(o, "limits", limits);
	snprintf(text, sizeof(text),
		 "%s: ITR knob %s; DVFS %s; meter %s; "
		 "latency %s",
		 !have_itr ? "simulated only (kopt run --plant sim)" :
		 measured  ? "can run" :
			     "can run, energy estimated",
		 itr, feat_ok(root, KOPT_PROBE_CPUFREQ) ? "cpufreq" : "none",
		 meter, lat);
	add_str(o, "verdict", text);
	return o;
}

static struct json_object *migration_verdict(struct json_object *root)
{
	struct json_object *o = json_object_new_object();
	const char *rung = feat_ok(root, KOPT_PROBE_FEXIT)  ? "fexit" :
			   feat_ok(root, KOPT_PROBE_TP_BTF) ? "tp_btf" :
							      NULL;
	bool patch = feat_ok(root, KOPT_PROBE_KOPT_PATCH);
	char text[512];

	add_str(o, "collector", rung);
	json_object_object_add(o, "can_collect",
			       json_object_new_boolean(rung != NULL));
	json_object_object_add(o, "live_model", json_object_new_boolean(patch));
	snprintf(text, sizeof(text), "%s%s%s; live model: %s",
		 rung ? "collector rung " :
			"cannot collect (no fexit, no "
			"tp_btf)",
		 rung ? rung : "",
		 rung ? ": collect, train and score can run" : "",
		 patch ? "can run (kopt 6.12 patch present)" :
			 "needs the kopt 6.12 patch (kernel-patches/, make "
			 "vmtest)");
	add_str(o, "verdict", text);
	return o;
}

struct json_object *kopt_probe_verdicts(struct json_object *root)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "energy_job", energy_verdict(root));
	json_object_object_add(o, "migration_job", migration_verdict(root));
	return o;
}
