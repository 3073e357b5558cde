// SPDX-License-Identifier: GPL-2.0-only
/*
 * Helpers the whole library uses: logging (to stderr), the libbpf print
 * hook, privilege checks, strict number parsing, small sysfs reads and
 * child process groups. Nothing here parses argv or prints to stdout.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/magic.h>

#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "kopt.h"

struct kopt_env kopt_env = { .prog = "kopt" };

static void vlog(const char *lvl, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: %s", kopt_env.prog, lvl);
	vfprintf(stderr, fmt, ap);
}

void pr_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void pr_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void pr_debug(const char *fmt, ...)
{
	va_list ap;

	if (kopt_env.verbose < 1)
		return;
	va_start(ap, fmt);
	vlog("debug: ", fmt, ap);
	va_end(ap);
}

/*
 * libbpf prints warnings for every refused load; kopt explains refusals
 * itself, so libbpf's own chatter shows only with -v (warnings, info) or
 * -vv (debug), as in xdp-tools.
 */
static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (kopt_env.verbose < 1)
		return 0;
	if (level == LIBBPF_DEBUG && kopt_env.verbose < 2)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void kopt_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

static bool cap_effective(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1U << (cap % 32));
}

bool kopt_have_bpf_caps(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = {};

	/* libcap is not worth a dependency for one capget() */
	if (syscall(SYS_capget, &hdr, data))
		return false;
	if (cap_effective(data, CAP_SYS_ADMIN))
		return true;
	return cap_effective(data, CAP_BPF) && cap_effective(data, CAP_PERFMON);
}

int kopt_need_root(const char *step)
{
	pr_warn("%s needs CAP_BPF and CAP_PERFMON (or root); run it as root "
		"or with sudo\n",
		step);
	return KOPT_EXIT_PERM;
}

int kopt_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int kopt_parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/*
 * OpenBLAS wakes its threads even for the small (n <= ~100) matrices of
 * the optimizer, which makes them several times slower and steals the
 * CPUs of the workload kopt tunes. Looked up at run time: reference BLAS
 * has no threads and no such function.
 */
void kopt_blas_single_thread(void)
{
	void (*set)(int) =
		(void (*)(int))dlsym(RTLD_DEFAULT, "openblas_set_num_threads");

	if (set)
		set(1);
}

int kopt_read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int err = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, len, f))
		err = -EIO;
	else
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
	return err;
}

int kopt_read_ull(const char *path, unsigned long long *v)
{
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%llu", v) == 1;
	fclose(f);
	return ok ? 0 : -EIO;
}

const char *kopt_state_dir(void)
{
	const char *d = getenv("KOPT_STATE_DIR");

	return d && *d ? d : KOPT_STATE_DIR_DEFAULT;
}

int kopt_state_dir_open(bool create, char *err, size_t len)
{
	const char *dir = kopt_state_dir();
	struct stat st;
	int fd;

	if (create && mkdir(dir, 0700) && errno != EEXIST)
		return kopt_errf(err, len, -errno,
				 "state directory %s: cannot create it: %s",
				 dir, strerror(errno));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		if (e == ENOENT)
			return kopt_errf(err, len, -ENOENT,
					 "state directory %s does not exist",
					 dir);
		if (!lstat(dir, &st) && S_ISLNK(st.st_mode))
			return kopt_errf(
				err, len, -ELOOP,
				"state directory %s is a symlink: kopt "
				"keeps its journal only in a directory "
				"of its own; remove the link (or set "
				"KOPT_STATE_DIR)",
				dir);
		return kopt_errf(err, len, -e, "state directory %s: %s", dir,
				 strerror(e));
	}
	if (fstat(fd, &st)) {
		int e = errno;

		close(fd);
		return kopt_errf(err, len, -e, "state directory %s: %s", dir,
				 strerror(e));
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		return kopt_errf(err, len, -EPERM,
				 "state directory %s is owned by uid %u, not "
				 "by us (uid %u): another user could forge "
				 "or remove the journal; remove it (or set "
				 "KOPT_STATE_DIR)",
				 dir, (unsigned int)st.st_uid,
				 (unsigned int)geteuid());
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		close(fd);
		return kopt_errf(err, len, -EPERM,
				 "state directory %s is writable by group or "
				 "others (mode %04o): anyone could forge the "
				 "journal; check what is in it, then chmod 700 "
				 "it or remove it",
				 dir, (unsigned int)(st.st_mode & 07777));
	}
	/* ours and not writable by others: make it private (best effort:
	 * a 9p share in the VM harness may not take a chmod) */
	if ((st.st_mode & 077) && fchmod(fd, 0700))
		pr_debug("state directory %s: chmod 700: %s\n", dir,
			 strerror(errno));
	return fd;
}

bool kopt_is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

__u64 kopt_mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (__u64)t.tv_sec * 1000000000ULL + t.tv_nsec;
}

struct json_object *kopt_json_num(double v, const char *fmt)
{
	char buf[32];

	if (!isfinite(v))
		return NULL;
	if (!fmt)
		return json_object_new_double(v);
	snprintf(buf, sizeof(buf), fmt, v);
	return json_object_new_double_s(v, buf);
}

const char *kopt_json_text(struct json_object *o)
{
	const char *txt;

	/*
	 * json-c prints a double to 17 digits (0.79805000000000004) unless
	 * given a format; six significant digits are what kopt's figures
	 * carry. Numbers made with kopt_json_num(v, fmt) keep their text.
	 */
	json_c_set_serialization_double_format("%.6g", JSON_C_OPTION_GLOBAL);
	txt = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	json_c_set_serialization_double_format(NULL, JSON_C_OPTION_GLOBAL);
	return txt;
}

double kopt_now_s(void)
{
	return kopt_mono_ns() / 1e9;
}

pid_t kopt_workload_start(char **argv, const char *what)
{
	pid_t pid = fork();

	if (pid == 0) {
		/*
		 * Its own process group, so stopping it stops everything it
		 * started (a shell's background loops included), not just the
		 * first process.
		 */
		setpgid(0, 0);
		/* keep our stdout for data (--json): workload output -> stderr */
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execvp(argv[0], argv);
		fprintf(stderr, "%s: cannot run '%s': %s\n", what, argv[0],
			strerror(errno));
		_exit(127);
	}
	return pid;
}

void kopt_workload_stop_group(pid_t pgid)
{
	int i;

	if (kill(-pgid, 0) < 0)
		return; /* nothing left */
	kill(-pgid, SIGTERM);
	for (i = 0; i < 20 && kill(-pgid, 0) == 0; i++)
		usleep(100000);
	kill(-pgid, SIGKILL);
}

int kopt_workload_stop(pid_t pid)
{
	int st = 0, i;

	if (waitpid(pid, &st, WNOHANG) != pid) {
		kill(-pid, SIGTERM);
		for (i = 0; i < 20; i++) {
			if (waitpid(pid, &st, WNOHANG) == pid)
				break;
			usleep(100000);
		}
		if (i == 20) {
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
		}
	}
	kopt_workload_stop_group(pid);
	return st;
}

void kopt_describe_status(int st, char *buf, size_t len)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "exited %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "stopped by signal %d", WTERMSIG(st));
	else
		snprintf(buf, len, "unknown");
}

void kopt_join_cmd(char **argv, char *buf, size_t len)
{
	size_t l = 0;

	buf[0] = '\0';
	for (; argv && *argv && l < len; argv++)
		l += snprintf(buf + l, len - l, "%s%s", l ? " " : "", *argv);
}

int kopt_sibling_path(const char *env, const char *name, char *buf, size_t len)
{
	const char *e = getenv(env);
	char self[PATH_MAX];
	ssize_t n;

	if (e && *e) {
		snprintf(buf, len, "%s", e);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -errno;
	self[n] = '\0';
	if ((size_t)snprintf(buf, len, "%s/%s", dirname(self), name) >= len)
		return -ENAMETOOLONG;
	return 0;
}
