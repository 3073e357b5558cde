// SPDX-License-Identifier: GPL-2.0-only
/*
 * VM smoke tests: prove that the VM harness (kernel-patches/vm-run.sh, make
 * vmtest) gives kopt what it is for: a Linux 6.12 guest with two CPUs, BTF,
 * kprobes, a real e1000e NIC with MSI-X, and fexit on can_migrate_task(),
 * and that `kopt probe` sees the same.
 *
 * Every test here is named vm_* and is skipped unless KOPT_IN_VM=1, which
 * the guest's init sets (kernel-patches/guest-init.sh).
 */
#define _GNU_SOURCE
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <json-c/json.h>
#include <linux/bpf.h>

static bool in_vm(void)
{
	const char *v = getenv("KOPT_IN_VM");

	return v && strcmp(v, "1") == 0;
}

#define SKIP_UNLESS_IN_VM()                                                \
	do {                                                               \
		if (!in_vm()) {                                            \
			SKIP("not inside the kopt VM (KOPT_IN_VM unset)"); \
			return;                                            \
		}                                                          \
	} while (0)

/* Reads a small text file into buf (NUL-terminated); returns bytes or -1. */
static ssize_t read_text(const char *path, char *buf, size_t cap)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* Counts the CPUs in a kernel cpulist such as "0-1" or "0,2-3". */
static int cpulist_count(const char *s)
{
	int count = 0;

	while (*s && *s != '\n') {
		char *end;
		long lo = strtol(s, &end, 10), hi = lo;

		if (end == s)
			return -1;
		if (*end == '-') {
			s = end + 1;
			hi = strtol(s, &end, 10);
			if (end == s)
				return -1;
		}
		count += (int)(hi - lo + 1);
		s = end;
		if (*s == ',')
			s++;
	}
	return count;
}

KOPT_TEST(vm_guest_sees_two_cpus)
{
	char buf[256];

	SKIP_UNLESS_IN_VM();
	/* Load balancing, and so can_migrate_task(), needs two CPUs. */
	ASSERT_GE(sysconf(_SC_NPROCESSORS_ONLN), 2, "online CPUs (sysconf)");
	if (!ASSERT_GT(read_text("/sys/devices/system/cpu/online", buf,
				 sizeof(buf)),
		       0, "read /sys/devices/system/cpu/online"))
		return;
	ASSERT_GE(cpulist_count(buf), 2, "online CPUs (sysfs cpulist)");
}

KOPT_TEST(vm_kernel_is_612)
{
	struct utsname u;

	SKIP_UNLESS_IN_VM();
	if (!ASSERT_OK(uname(&u), "uname"))
		return;
	ASSERT_TRUE(strncmp(u.release, "6.12.", 5) == 0, u.release);
	ASSERT_HAS(u.release, "-kopt", "release names the kopt VM kernel");
}

KOPT_TEST(vm_btf_present)
{
	struct btf *btf;
	__u16 magic = 0;
	int fd;

	SKIP_UNLESS_IN_VM();
	fd = open("/sys/kernel/btf/vmlinux", O_RDONLY | O_CLOEXEC);
	if (!ASSERT_GE(fd, 0, "open /sys/kernel/btf/vmlinux"))
		return;
	ASSERT_EQ(read(fd, &magic, sizeof(magic)), sizeof(magic), "read");
	close(fd);
	ASSERT_EQ(magic, 0xeB9F, "BTF magic");

	btf = btf__load_vmlinux_btf();
	if (!ASSERT_OK_PTR(btf, "btf__load_vmlinux_btf"))
		return;
	/* The types kopt's CO-RE programs read. */
	ASSERT_GT(btf__find_by_name_kind(btf, "task_struct", BTF_KIND_STRUCT),
		  0, "struct task_struct in BTF");
	ASSERT_GT(btf__find_by_name_kind(btf, "lb_env", BTF_KIND_STRUCT), 0,
		  "struct lb_env in BTF");
	btf__free(btf);
}

KOPT_TEST(vm_e1000e_present)
{
	char path[PATH_MAX], target[PATH_MAX],
		ifname[sizeof(((struct dirent *)0)->d_name)] = "";
	static char irqs[65536];
	struct dirent *de;
	char needle[sizeof(ifname) + 8];
	DIR *d;

	SKIP_UNLESS_IN_VM();
	d = opendir("/sys/class/net");
	if (!ASSERT_OK_PTR(d, "opendir /sys/class/net"))
		return;
	while ((de = readdir(d))) {
		ssize_t n;
		const char *base;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/net/%s/device/driver",
			 de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		base = strrchr(target, '/');
		if (strcmp(base ? base + 1 : target, "e1000e") == 0) {
			snprintf(ifname, sizeof(ifname), "%s", de->d_name);
			break;
		}
	}
	closedir(d);
	if (!ASSERT_TRUE(ifname[0] != '\0', "an interface driven by e1000e"))
		return;

	/* e1000e in MSI-X mode names its vectors <if>-rx-0 and <if>-tx-0. */
	if (!ASSERT_GT(read_text("/proc/interrupts", irqs, sizeof(irqs)), 0,
		       "read /proc/interrupts"))
		return;
	snprintf(needle, sizeof(needle), "%s-rx-0", ifname);
	ASSERT_HAS(irqs, needle, "e1000e RX vector");
	snprintf(needle, sizeof(needle), "%s-tx-0", ifname);
	ASSERT_HAS(irqs, needle, "e1000e TX vector");
	ASSERT_HAS(irqs, "MSIX", "MSI-X interrupts");
}

KOPT_TEST(vm_kprobes_available)
{
	struct stat st;

	SKIP_UNLESS_IN_VM();
	/* perf's kprobe PMU (what libbpf attaches kprobes through) ... */
	ASSERT_OK(stat("/sys/bus/event_source/devices/kprobe/type", &st),
		  "kprobe PMU");
	/* ... and tracefs kprobe events (the legacy path), mounted by init. */
	ASSERT_OK(stat("/sys/kernel/tracing/kprobe_events", &st),
		  "tracefs kprobe_events");
}

/* Children that spin until killed, started on CPU 0 only. */
static int spawn_spinners(pid_t *pids, int n)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			return -1;
		if (pids[i] == 0) {
			volatile unsigned long x = 0;

			sched_setaffinity(0, sizeof(one), &one);
			for (;;)
				x++;
		}
	}
	return 0;
}

static void reap_spinners(pid_t *pids, int n)
{
	for (int i = 0; i < n; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
	}
}

static __u64 prog_run_cnt(int prog_fd)
{
	struct bpf_prog_info info;
	union bpf_attr attr;

	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = prog_fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (__u64)(uintptr_t)&info;
	if (syscall(__NR_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr)))
		return 0;
	return info.run_cnt;
}

/*
 * The reason the VM exists: an fexit program on can_migrate_task() loads,
 * attaches and runs. A two-instruction program (return 0) with run counts
 * from BPF stats, so the test needs no BPF object from the build.
 */
KOPT_TEST(vm_fexit_can_migrate_task)
{
	static char log[65536];
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	/* What LIBBPF_OPTS() expands to, spelled out for cppcheck. */
	struct bpf_prog_load_opts opts = {
		.sz = sizeof(opts),
		.log_buf = log,
		.log_size = sizeof(log),
		.log_level = 1,
		.expected_attach_type = BPF_TRACE_FEXIT,
	};
	int prog_fd = -1, link_fd = -1, stats_fd = -1;
	enum { NSPIN = 4 };
	pid_t pids[NSPIN] = { 0 };
	struct timespec t0, t;
	struct btf *btf;
	cpu_set_t all;
	__u64 runs = 0;
	int id;

	SKIP_UNLESS_IN_VM();
	btf = btf__load_vmlinux_btf();
	if (!ASSERT_OK_PTR(btf, "btf__load_vmlinux_btf"))
		return;
	id = btf__find_by_name_kind(btf, "can_migrate_task", BTF_KIND_FUNC);
	btf__free(btf);
	if (!ASSERT_GT(id, 0, "can_migrate_task in vmlinux BTF (not inlined)"))
		return;
	opts.attach_btf_id = id;

	prog_fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "kopt_vm_fexit", "GPL",
				insns, sizeof(insns) / sizeof(insns[0]), &opts);
	if (!ASSERT_GE(prog_fd, 0, "load fexit/can_migrate_task")) {
		fprintf(stderr, "verifier log:\n%s\n", log);
		return;
	}
	link_fd = bpf_raw_tracepoint_open(NULL, prog_fd);
	if (!ASSERT_GE(link_fd, 0, "attach fexit/can_migrate_task"))
		goto out;
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (!ASSERT_GE(stats_fd, 0, "bpf_enable_stats"))
		goto out;

	/* Pile spinners on CPU 0, then let them go: the balancer must pull. */
	if (!ASSERT_OK(spawn_spinners(pids, NSPIN), "fork spinners"))
		goto out;
	usleep(100 * 1000);
	CPU_ZERO(&all);
	for (int c = 0; c < CPU_SETSIZE && c < sysconf(_SC_NPROCESSORS_ONLN);
	     c++)
		CPU_SET(c, &all);
	for (int i = 0; i < NSPIN; i++)
		sched_setaffinity(pids[i], sizeof(all), &all);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		usleep(100 * 1000);
		runs = prog_run_cnt(prog_fd);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (runs == 0 && t.tv_sec - t0.tv_sec < 5);
	ASSERT_GT(runs, 0, "fexit/can_migrate_task calls within 5 s");
	fprintf(stderr, "vm_fexit_can_migrate_task: %llu calls\n",
		(unsigned long long)runs);
out:
	reap_spinners(pids, NSPIN);
	if (stats_fd >= 0)
		close(stats_fd);
	if (link_fd >= 0)
		close(link_fd);
	close(prog_fd);
}

static bool probe_feature_ok(struct json_object *root, const char *key,
			     const char **detail)
{
	struct json_object *f = NULL, *ok = NULL, *d = NULL;

	*detail = "(missing)";
	if (!json_object_object_get_ex(root, key, &f))
		return false;
	if (json_object_object_get_ex(f, "detail", &d))
		*detail = json_object_get_string(d);
	return json_object_object_get_ex(f, "ok", &ok) &&
	       json_object_get_boolean(ok);
}

/* kopt's own probe, run in the guest, must find the fexit rung usable. */
KOPT_TEST(vm_probe_fexit_ok)
{
	static char out[1 << 16];
	struct json_object *root;
	const char *detail;
	int st;

	SKIP_UNLESS_IN_VM();
	st = kopt_test_run(out, sizeof(out), "%s probe --json 2>/dev/null",
			   kopt_test_bin());
	if (!ASSERT_EQ(st, 0, "kopt probe --json exit"))
		return;
	root = json_tokener_parse(out);
	if (!ASSERT_OK_PTR(root, "probe output is JSON"))
		return;
	if (!ASSERT_TRUE(probe_feature_ok(root, "fexit_can_migrate_task",
					  &detail),
			 "fexit_can_migrate_task ok"))
		fprintf(stderr, "  detail: %s\n", detail);
	if (!ASSERT_TRUE(probe_feature_ok(root, "kprobe", &detail),
			 "kprobe ok"))
		fprintf(stderr, "  detail: %s\n", detail);
	if (!ASSERT_TRUE(probe_feature_ok(root, "btf", &detail), "btf ok"))
		fprintf(stderr, "  detail: %s\n", detail);
	json_object_put(root);
}
