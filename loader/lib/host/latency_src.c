// SPDX-License-Identifier: GPL-2.0-only
/*
 * External latency feed: p99/p50 (and optionally the request rate) of a
 * service kopt does not drive, read once per control window from a
 * command's one JSON line or from a file the service rewrites.
 *
 * Validation is strict because a wrong latency steers the optimizer
 * silently: the line must be exactly one JSON object (json-c's strict
 * tokener, nothing after it but whitespace), with numeric, finite,
 * non-negative p99_us and p50_us, p50 <= p99, an optional numeric qps,
 * and no other keys (a misspelt "p99" must fail, not read as missing).
 * A file not rewritten within max_age_s is stale, not a fresh reading.
 *
 * The command is exec'd as an argv (execvp: no shell ever sees a string
 * from a policy or a peer) in its own process group, stdin from
 * /dev/null, stderr passed through; after timeout_s the group is killed.
 * Why no quoting: a quote-aware splitter is a little shell; wordexp(3)
 * would expand variables and globs. Anything that needs them belongs in
 * a script the feed names.
 *
 * Cost: one fork/exec per read for a command, one small read for a file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "kopt.h"
#include "latency_src.h"

#define DEFAULT_TIMEOUT_S 10.0
#define REREAD_DELAY_NS 20000000L /* a rewrite caught half-way: retry once */

int latency_src_init(struct latency_src *src, const char *spec, char *err,
		     size_t errlen)
{
	memset(src, 0, sizeof(*src));
	src->timeout_s = DEFAULT_TIMEOUT_S;
	if (spec && !strncmp(spec, "cmd:", 4) && spec[4]) {
		int ret = latency_src_argv(spec + 4, &src->argv, err, errlen);

		if (ret)
			return ret;
		src->kind = LATENCY_SRC_CMD;
		src->arg = strdup(spec + 4);
	} else if (spec && !strncmp(spec, "file:", 5) && spec[5]) {
		src->kind = LATENCY_SRC_FILE;
		src->arg = strdup(spec + 5);
	} else {
		return kopt_errf(err, errlen, -EINVAL,
				 "latency feed '%s': expected cmd:COMMAND or "
				 "file:PATH",
				 spec ? spec : "");
	}
	if (!src->arg)
		return kopt_errf(err, errlen, -ENOMEM,
				 "latency feed: out of memory");
	return 0;
}

void latency_src_free(struct latency_src *src)
{
	free(src->arg);
	free(src->argv);
	src->arg = NULL;
	src->argv = NULL;
}

int latency_src_argv(const char *cmdline, char ***argv, char *err,
		     size_t errlen)
{
	size_t len = strlen(cmdline), words = 0, i;
	char **v, *copy, *tok, *save = NULL;

	*argv = NULL;
	for (i = 0; i < len; i++)
		if (!strchr(" \t", cmdline[i]) &&
		    (i == 0 || strchr(" \t", cmdline[i - 1])))
			words++;
	if (!words)
		return kopt_errf(err, errlen, -EINVAL,
				 "latency feed command '%s': no program to run",
				 cmdline);
	/* the pointers, then the words they point into */
	v = malloc((words + 1) * sizeof(*v) + len + 1);
	if (!v)
		return kopt_errf(err, errlen, -ENOMEM,
				 "latency feed: out of memory");
	copy = (char *)(v + words + 1);
	memcpy(copy, cmdline, len + 1);
	i = 0;
	for (tok = strtok_r(copy, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save))
		v[i++] = tok;
	v[i] = NULL;
	*argv = v;
	return 0;
}

/* ---- the line ------------------------------------------------------------ */

static int get_number(struct json_object *v, const char *key, double *out,
		      char *err, size_t errlen)
{
	enum json_type t = json_object_get_type(v);

	if (t != json_type_int && t != json_type_double)
		return kopt_errf(err, errlen, -EINVAL,
				 "\"%s\" is %s, expected a number", key,
				 json_type_to_name(t));
	*out = json_object_get_double(v);
	if (!isfinite(*out) || *out < 0)
		return kopt_errf(err, errlen, -EINVAL,
				 "\"%s\" is %g, expected a finite number >= 0",
				 key, *out);
	return 0;
}

static int read_keys(struct json_object *obj, struct latency_reading *r,
		     char *err, size_t errlen)
{
	struct json_object_iterator it = json_object_iter_begin(obj);
	struct json_object_iterator end = json_object_iter_end(obj);
	bool have99 = false, have50 = false;
	int ret;

	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);
		struct json_object *val = json_object_iter_peek_value(&it);

		if (!strcmp(key, "p99_us")) {
			ret = get_number(val, key, &r->p99_us, err, errlen);
			have99 = true;
		} else if (!strcmp(key, "p50_us")) {
			ret = get_number(val, key, &r->p50_us, err, errlen);
			have50 = true;
		} else if (!strcmp(key, "qps")) {
			ret = get_number(val, key, &r->qps, err, errlen);
		} else {
			ret = kopt_errf(err, errlen, -EINVAL,
					"unknown key \"%s\" (allowed: p99_us, "
					"p50_us, qps)",
					key);
		}
		if (ret)
			return ret;
	}
	if (!have99 || !have50)
		return kopt_errf(err, errlen, -EINVAL,
				 "missing \"%s\" (required: "
				 "p99_us and p50_us, in microseconds)",
				 have99 ? "p50_us" : "p99_us");
	if (r->p50_us > r->p99_us)
		return kopt_errf(
			err, errlen, -EINVAL,
			"p50_us %g > p99_us %g: a median cannot exceed "
			"the 99th percentile",
			r->p50_us, r->p99_us);
	return 0;
}

int latency_parse_line(const char *line, struct latency_reading *r, char *err,
		       size_t errlen)
{
	size_t len = strlen(line);
	enum json_tokener_error jerr;
	struct json_tokener *tok;
	struct json_object *obj;
	int ret;

	while (len && strchr(" \t\r\n", line[len - 1]))
		len--;
	if (!len)
		return kopt_errf(
			err, errlen, -EINVAL,
			"empty (expected one JSON "
			"line like {\"p99_us\": 400, \"p50_us\": 90})");
	if (memchr(line, '\n', len))
		return kopt_errf(err, errlen, -EINVAL,
				 "more than one line (expected one JSON line)");
	tok = json_tokener_new();
	if (!tok)
		return kopt_errf(err, errlen, -ENOMEM, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, line, (int)len);
	jerr = json_tokener_get_error(tok);
	if (!obj || jerr != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		ret = kopt_errf(err, errlen, -EINVAL, "not one JSON object: %s",
				obj ? "text after the object" :
				jerr == json_tokener_continue ?
				      "incomplete JSON" :
				      json_tokener_error_desc(jerr));
		goto out;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		ret = kopt_errf(err, errlen, -EINVAL,
				"JSON %s, expected an object",
				json_type_to_name(json_object_get_type(obj)));
		goto out;
	}
	r->qps = -1;
	ret = read_keys(obj, r, err, errlen);
out:
	json_object_put(obj);
	json_tokener_free(tok);
	return ret;
}

/* ---- a command --------------------------------------------------------- */

static void child_exec(char *const *argv, int out_fd)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC), n;
	char msg[256];

	setpgid(0, 0);
	if (null >= 0)
		dup2(null, STDIN_FILENO);
	dup2(out_fd, STDOUT_FILENO);
	execvp(argv[0], argv);
	/* no stdio after fork in a threaded parent */
	n = snprintf(msg, sizeof(msg), "latency feed: cannot run %s: %s\n",
		     argv[0], strerror(errno));
	if (n > 0 && write(STDERR_FILENO, msg, n) < 0)
		_exit(127);
	_exit(127);
}

/* Reads the child's stdout until EOF, the size cap or the deadline. */
static int read_output(int fd, char *buf, size_t cap, double deadline,
		       size_t *len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;
	double left;

	*len = 0;
	for (;;) {
		left = deadline - kopt_now_s();
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)ceil(left * 1e3)) == 0)
			return -ETIMEDOUT;
		if (*len == cap)
			return -E2BIG;
		n = read(fd, buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		*len += n;
	}
}

static int cmd_status(const struct latency_src *src, pid_t pid, int rd,
		      char *err, size_t errlen)
{
	int st;

	if (rd == -ETIMEDOUT || rd == -E2BIG)
		kill(-pid, SIGKILL); /* the whole group we started */
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (rd == -ETIMEDOUT)
		return kopt_errf(
			err, errlen, -ETIMEDOUT,
			"latency feed command '%s': no output within "
			"%.1f s (killed); make it print one line and exit",
			src->arg, src->timeout_s);
	if (rd == -E2BIG)
		return kopt_errf(
			err, errlen, -EINVAL,
			"latency feed command '%s': more than %d bytes of "
			"output (killed); expected one JSON line",
			src->arg, LATENCY_SRC_MAX_LINE);
	if (rd)
		return kopt_errf(
			err, errlen, rd,
			"latency feed command '%s': reading its output: %s",
			src->arg, strerror(-rd));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		return kopt_errf(
			err, errlen, -EIO,
			"latency feed command '%s' exited with status %d%s",
			src->arg, WEXITSTATUS(st),
			WEXITSTATUS(st) == 127 ? " (command not found?)" : "");
	return kopt_errf(err, errlen, -EIO,
			 "latency feed command '%s' killed by "
			 "signal %d",
			 src->arg, WTERMSIG(st));
}

static int run_cmd(const struct latency_src *src, char *buf, char *err,
		   size_t errlen)
{
	int pipefd[2], rd;
	size_t len = 0;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC))
		return kopt_errf(err, errlen, -errno, "latency feed: pipe: %s",
				 strerror(errno));
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return kopt_errf(err, errlen, -errno,
				 "latency feed command '%s': fork: %s",
				 src->arg, strerror(errno));
	}
	if (pid == 0)
		child_exec(src->argv, pipefd[1]);
	close(pipefd[1]);
	rd = read_output(pipefd[0], buf, LATENCY_SRC_MAX_LINE,
			 kopt_now_s() + src->timeout_s, &len);
	close(pipefd[0]);
	buf[len] = '\0';
	return cmd_status(src, pid, rd, err, errlen);
}

/* ---- a file -------------------------------------------------------------- */

static int read_file(const struct latency_src *src, char *buf, char *err,
		     size_t errlen)
{
	int fd = open(src->arg, O_RDONLY | O_CLOEXEC), ret = 0;
	struct timespec now;
	struct stat sb;
	ssize_t n;
	double age;

	if (fd < 0)
		return kopt_errf(
			err, errlen, -errno,
			"latency feed file '%s': cannot open: %s; does the "
			"service write it there?",
			src->arg, strerror(errno));
	if (fstat(fd, &sb)) {
		ret = -errno;
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	age = (now.tv_sec - sb.st_mtim.tv_sec) +
	      (now.tv_nsec - sb.st_mtim.tv_nsec) / 1e9;
	if (src->max_age_s > 0 && age > src->max_age_s) {
		ret = kopt_errf(
			err, errlen, -ESTALE,
			"latency feed file '%s': last rewritten %.1f s ago "
			"(limit %.1f s): the service stopped updating it",
			src->arg, age, src->max_age_s);
		goto out;
	}
	n = read(fd, buf, LATENCY_SRC_MAX_LINE);
	if (n < 0)
		ret = -errno;
	else
		buf[n] = '\0';
	if (n == LATENCY_SRC_MAX_LINE)
		ret = kopt_errf(
			err, errlen, -EINVAL,
			"latency feed file '%s': %d bytes or more; expected "
			"one JSON line",
			src->arg, LATENCY_SRC_MAX_LINE);
out:
	if (ret < 0 && ret != -ESTALE && ret != -EINVAL)
		kopt_errf(err, errlen, ret, "latency feed file '%s': %s",
			  src->arg, strerror(-ret));
	close(fd);
	return ret;
}

int latency_src_read(const struct latency_src *src, struct latency_reading *r,
		     char *err, size_t errlen)
{
	struct timespec pause = { .tv_nsec = REREAD_DELAY_NS };
	char buf[LATENCY_SRC_MAX_LINE + 1], why[LATENCY_SRC_ERR_LEN];
	int ret, tries = src->kind == LATENCY_SRC_FILE ? 2 : 1;

	do {
		ret = src->kind == LATENCY_SRC_CMD ?
			      run_cmd(src, buf, err, errlen) :
			      read_file(src, buf, err, errlen);
		if (ret)
			return ret;
		ret = latency_parse_line(buf, r, why, sizeof(why));
		if (!ret)
			return 0;
		if (--tries)
			nanosleep(&pause, NULL);
	} while (tries);
	if (src->kind == LATENCY_SRC_CMD)
		return kopt_errf(
			err, errlen, ret,
			"latency feed command '%s' printed '%.80s': %s",
			src->arg, buf, why);
	return kopt_errf(
		err, errlen, ret,
		"latency feed file '%s' holds '%.80s': %s (if the service "
		"rewrites it in place, have it write a temporary file and "
		"rename() it over this one)",
		src->arg, buf, why);
}
