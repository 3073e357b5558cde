// SPDX-License-Identifier: GPL-2.0-only
/*
 * The plant protocol, kopt's side: start the plant, send one JSON request
 * per window, read and validate one JSON reply (see plant.h for the
 * protocol, README for its full description).
 *
 * The plant runs in its own process group with a socketpair as its stdin
 * and stdout: send(MSG_NOSIGNAL) turns a dead plant into EPIPE instead of
 * a SIGPIPE that would kill kopt, and killing the group also ends what a
 * `sh -c` plant started. Replies are read with poll() against a wall-clock
 * deadline, so a plant that hangs costs one timeout, not the run.
 *
 * Cost: one round trip on a local socket per window (tens of us) plus
 * json-c parsing; nothing while the plant measures.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "plant.h"
#include "policy.h"

_Static_assert(PLANT_MAX_KNOBS == POLICY_MAX_KNOBS &&
		       PLANT_KNOB_NAME_LEN == POLICY_KNOB_NAME_LEN,
	       "a policy's knobs fit a plant's");

extern char **environ;

#define STOP_GRACE_MS 1000
#define KILL_GRACE_MS 100
#define POLL_STEP_MS 10
/* sanity bounds: anything beyond is a broken plant, not a big machine */
#define MAX_ENERGY_J 1e12
#define MAX_LATENCY_US 1e12
#define MAX_RATE 1e12
#define MAX_SECONDS_RATIO 10

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- process control ----------------------------------------------------------- */

static void free_argv(char **argv)
{
	for (char **a = argv; a && *a; a++)
		free(*a);
	free(argv);
}

static char **copy_argv(char *const argv[])
{
	size_t n = 0;
	char **copy;

	while (argv[n])
		n++;
	copy = calloc(n + 1, sizeof(*copy));
	if (!copy)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		copy[i] = strdup(argv[i]);
		if (!copy[i]) {
			free_argv(copy);
			return NULL;
		}
	}
	return copy;
}

static int spawn(struct plant *p, char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		snprintf(err, errlen, "plant '%s': socketpair: %s", p->cmdline,
			 strerror(errno));
		return -errno;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, sv[1], STDOUT_FILENO);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
						POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);
	ret = posix_spawn(&p->pid, p->argv[0], &fa, &attr, p->argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(sv[1]);
	if (ret) {
		close(sv[0]);
		p->pid = 0;
		snprintf(err, errlen, "plant '%s': cannot start %s: %s",
			 p->cmdline, p->argv[0], strerror(ret));
		return -ret;
	}
	p->fd = sv[0];
	p->len = 0;
	return 0;
}

static struct plant *plant_new(char *const argv[], const char *label, char *err,
			       size_t errlen)
{
	struct plant *p = calloc(1, sizeof(*p));

	if (!p || !(p->argv = copy_argv(argv)) ||
	    !(p->cmdline = strdup(label))) {
		snprintf(err, errlen, "plant '%s': out of memory", label);
		if (p)
			free_argv(p->argv);
		free(p);
		return NULL;
	}
	p->fd = -1;
	if (spawn(p, err, errlen)) {
		plant_stop(p);
		return NULL;
	}
	return p;
}

struct plant *plant_start_cmd(const char *cmdline, char *err, size_t errlen)
{
	char *argv[] = { "/bin/sh", "-c", (char *)cmdline, NULL };

	return plant_new(argv, cmdline, err, errlen);
}

struct plant *plant_start_argv(char *const argv[], const char *label, char *err,
			       size_t errlen)
{
	return plant_new(argv, label, err, errlen);
}

struct plant *plant_start_ops(const struct plant_ops *ops, void *ctx,
			      const char *label, char *err, size_t errlen)
{
	struct plant *p = calloc(1, sizeof(*p));

	if (!p || !(p->cmdline = strdup(label))) {
		snprintf(err, errlen, "plant '%s': out of memory", label);
		free(p);
		return NULL;
	}
	p->ops = ops;
	p->ctx = ctx;
	p->fd = -1;
	return p;
}

bool plant_running(const struct plant *p)
{
	return p && (p->ops || p->pid > 0);
}

/* Waits up to ms for the plant to exit; its wait status, or -1. */
static int wait_exit(struct plant *p, int ms)
{
	int st = 0;

	for (int waited = 0;; waited += POLL_STEP_MS) {
		pid_t r = waitpid(p->pid, &st, WNOHANG);

		if (r > 0 || (r < 0 && errno != EINTR)) {
			p->pid = 0;
			return r > 0 ? st : -1;
		}
		if (waited >= ms)
			return -1;
		usleep(POLL_STEP_MS * 1000);
	}
}

/*
 * Ends the running plant: EOF on its stdin first (a well-behaved plant
 * exits), then SIGTERM, then SIGKILL to its whole process group. Returns
 * its wait status, or -1 if unknown.
 */
static int terminate(struct plant *p, int grace_ms)
{
	pid_t pid = p->pid;
	int st;

	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	if (!pid)
		return -1;
	st = wait_exit(p, grace_ms);
	if (!p->pid)
		return st;
	kill(-pid, SIGTERM);
	st = wait_exit(p, grace_ms);
	if (!p->pid)
		return st;
	kill(-pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	p->pid = 0;
	return st;
}

bool plant_setting_same(const struct plant_setting *a,
			const struct plant_setting *b)
{
	if (a->stock || b->stock)
		return a->stock == b->stock;
	if (a->n_knobs != b->n_knobs)
		return false;
	for (unsigned int i = 0; i < a->n_knobs; i++)
		if (a->knobs[i] != b->knobs[i])
			return false;
	/* without a DVFS knob both frequencies are NAN: equal */
	return a->itr_us == b->itr_us &&
	       (a->freq_mhz == b->freq_mhz ||
		(isnan(a->freq_mhz) && isnan(b->freq_mhz)));
}

int plant_set_knobs(struct plant *p, unsigned int n, const char *const *names)
{
	if (n > PLANT_MAX_KNOBS)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++)
		if (!policy_knob_name_ok(names[i]))
			return -EINVAL;
	for (unsigned int i = 0; i < n; i++)
		snprintf(p->knob_names[i], PLANT_KNOB_NAME_LEN, "%s", names[i]);
	p->n_knobs = n;
	return 0;
}

int plant_restart(struct plant *p, char *err, size_t errlen)
{
	if (p->ops)
		return 0;
	terminate(p, 0);
	return spawn(p, err, errlen);
}

void plant_stop(struct plant *p)
{
	if (!p)
		return;
	if (p->ops && p->ops->free)
		p->ops->free(p->ctx);
	terminate(p, STOP_GRACE_MS);
	free_argv(p->argv);
	free(p->cmdline);
	free(p);
}

static void describe_exit(int st, char *buf, size_t len)
{
	if (st == -1)
		snprintf(buf, len, "closed its output");
	else if (WIFEXITED(st))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	else
		snprintf(buf, len, "stopped (status %#x)", st);
}

/* ---- requests and replies ---------------------------------------------------- */

static struct json_object *knob(bool stock, double v)
{
	if (stock || isnan(v))
		return NULL; /* json null: stock, or a knob the policy lacks */
	if (v == floor(v) && fabs(v) < 1e15)
		return json_object_new_int64((int64_t)v);
	return json_object_new_double(v);
}

static int send_request(struct plant *p, const struct plant_setting *s,
			double seconds, char *err, size_t errlen)
{
	struct json_object *o = json_object_new_object();
	char line[1024];
	size_t len, off = 0;
	int ret = 0;

	json_object_object_add(o, "itr_us", knob(s->stock, s->itr_us));
	json_object_object_add(o, "freq_mhz", knob(s->stock, s->freq_mhz));
	if (!s->stock && p->n_knobs) {
		struct json_object *k = json_object_new_object();

		for (unsigned int i = 0; i < p->n_knobs; i++)
			json_object_object_add(k, p->knob_names[i],
					       knob(false, i < s->n_knobs ?
								   s->knobs[i] :
								   NAN));
		json_object_object_add(o, "knobs", k);
	}
	json_object_object_add(o, "seconds", knob(false, seconds));
	len = snprintf(line, sizeof(line), "%s\n",
		       json_object_to_json_string_ext(o,
						      JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	while (off < len) {
		ssize_t n = send(p->fd, line + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			snprintf(err, errlen,
				 "plant '%s': sending the request: %s",
				 p->cmdline, strerror(errno));
			return ret == -EPIPE || ret == -ECONNRESET ? -EPIPE :
								     ret;
		}
		off += n;
	}
	return 0;
}

/* A complete line in the buffer: its length (without '\n'), or -1. */
static ssize_t buffered_line(const struct plant *p)
{
	const char *nl = memchr(p->buf, '\n', p->len);

	return nl ? nl - p->buf : -1;
}

static int plant_gone(struct plant *p, const char *when, char *err,
		      size_t errlen)
{
	char how[96];
	int st = terminate(p, STOP_GRACE_MS);

	describe_exit(st, how, sizeof(how));
	snprintf(err, errlen,
		 "plant '%s' %s %s; check the plant's own messages above",
		 p->cmdline, how, when);
	return -EPIPE;
}

static int read_line(struct plant *p, double timeout_s, char *line, size_t cap,
		     char *err, size_t errlen)
{
	double deadline = now_s() + timeout_s;
	ssize_t nl;

	while ((nl = buffered_line(p)) < 0) {
		double left = deadline - now_s();
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
		ssize_t n;
		int r;

		if (p->len == sizeof(p->buf)) {
			p->len = 0;
			snprintf(err, errlen,
				 "plant '%s': reply longer than %d bytes",
				 p->cmdline, PLANT_LINE_MAX);
			return -EPROTO;
		}
		r = left > 0 ? poll(&pfd, 1, (int)ceil(left * 1000)) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			terminate(p, KILL_GRACE_MS);
			snprintf(err, errlen,
				 "plant '%s' sent no reply within %g s "
				 "(wall clock); stopped it. Raise [plant] "
				 "timeout_s if its windows take longer",
				 p->cmdline, timeout_s);
			return -ETIMEDOUT;
		}
		n = read(p->fd, p->buf + p->len, sizeof(p->buf) - p->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return plant_gone(p, "before replying", err, errlen);
		p->len += n;
	}
	snprintf(line, cap, "%.*s", (int)nl, p->buf);
	p->len -= nl + 1;
	memmove(p->buf, p->buf + nl + 1, p->len);
	return 0;
}

int plant_measure(struct plant *p, const struct plant_setting *s,
		  double seconds, double timeout_s, enum plant_need need,
		  struct plant_reply *r, char *err, size_t errlen)
{
	char *line;
	int ret;

	if (!plant_running(p)) {
		snprintf(err, errlen, "plant '%s' is not running", p->cmdline);
		return -EPIPE;
	}
	line = malloc(PLANT_LINE_MAX + 1);
	if (!line) {
		snprintf(err, errlen, "plant '%s': out of memory", p->cmdline);
		return -ENOMEM;
	}
	if (p->ops) {
		ret = p->ops->reply(p->ctx, s, seconds, line,
				    PLANT_LINE_MAX + 1, err, errlen);
	} else {
		/* whatever the plant said unasked belongs to no request */
		p->len = 0;
		ret = send_request(p, s, seconds, err, errlen);
		if (ret == -EPIPE)
			ret = plant_gone(p, "before the request", err, errlen);
		if (!ret)
			ret = read_line(p, timeout_s, line, PLANT_LINE_MAX + 1,
					err, errlen);
	}
	if (!ret) {
		ret = plant_parse_reply(line, seconds, need, r, err, errlen);
		if (ret) {
			/* name the plant in front of the reason */
			char reason[PLANT_ERR_LEN];

			snprintf(reason, sizeof(reason), "%s", err);
			snprintf(err, errlen, "plant '%s': %s", p->cmdline,
				 reason);
		}
	}
	free(line);
	return ret;
}

/* ---- reply validation ------------------------------------------------------------ */

static int bad(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EPROTO;
}

/*
 * A numeric field in [min, max]. Absent: NAN and 0 unless required.
 * json-c accepts NaN and Infinity literals, so finiteness is checked.
 */
static int get_num(struct json_object *o, const char *key, bool required,
		   double min, double max, double *out, char *err,
		   size_t errlen)
{
	struct json_object *v;

	*out = NAN;
	if (!json_object_object_get_ex(o, key, &v)) {
		if (required)
			return bad(err, errlen, "reply has no \"%s\"", key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double))
		return bad(err, errlen, "\"%s\" is %s, expected a number", key,
			   v ? json_type_to_name(json_object_get_type(v)) :
			       "null");
	*out = json_object_get_double(v);
	if (!isfinite(*out))
		return bad(err, errlen,
			   "\"%s\" is %g, expected a finite number", key, *out);
	if (*out < min || *out > max)
		return bad(err, errlen, "\"%s\" is %g, outside [%g, %g]", key,
			   *out, min, max);
	return 0;
}

/* An optional short lowercase word (source, latency_source). */
static int get_word(struct json_object *o, const char *key, char *out,
		    size_t cap, const char *examples, char *err, size_t errlen)
{
	struct json_object *v;
	const char *s;

	out[0] = '\0';
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return bad(err, errlen, "\"%s\" is not a string", key);
	s = json_object_get_string(v);
	if (!*s || strlen(s) >= cap ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(s))
		return bad(err, errlen,
			   "\"%s\" must be a short lowercase word (%s)", key,
			   examples);
	snprintf(out, cap, "%s", s);
	return 0;
}

static int get_source(struct json_object *o, struct plant_reply *r, char *err,
		      size_t errlen)
{
	return get_word(o, "source", r->source, sizeof(r->source), "sim, measured, estimate", err, errlen) ?:
		       get_word(o, "latency_source", r->latency_source,
				sizeof(r->latency_source), "bpf, feed, loadgen",
				err, errlen);
}

static int get_error(struct json_object *o, char *err, size_t errlen)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, "error", &v))
		return 0;
	return bad(err, errlen, "plant reported an error: %.300s",
		   json_object_is_type(v, json_type_string) ?
			   json_object_get_string(v) :
			   json_object_to_json_string_ext(
				   v, JSON_C_TO_STRING_PLAIN));
}

static int get_fields(struct json_object *o, double seconds,
		      enum plant_need need, struct plant_reply *r, char *err,
		      size_t errlen)
{
	double max_s = seconds > 0 ? seconds * MAX_SECONDS_RATIO : 1e9;

	if (get_error(o, err, errlen) ||
	    get_num(o, "energy_j", true, 0, MAX_ENERGY_J, &r->energy_j, err,
		    errlen) ||
	    get_num(o, "seconds", true, 1e-9, max_s, &r->seconds, err,
		    errlen) ||
	    get_num(o, "qps", true, 0, MAX_RATE, &r->qps, err, errlen) ||
	    get_num(o, "p99_us", need == PLANT_NEED_P99, 0, MAX_LATENCY_US,
		    &r->p99_us, err, errlen) ||
	    get_num(o, "p50_us", need == PLANT_NEED_P50, 0, MAX_LATENCY_US,
		    &r->p50_us, err, errlen) ||
	    get_num(o, "throughput", need == PLANT_NEED_THROUGHPUT, 0, MAX_RATE,
		    &r->throughput, err, errlen) ||
	    get_num(o, "stock_energy_j", false, 0, MAX_ENERGY_J,
		    &r->stock_energy_j, err, errlen) ||
	    get_num(o, "oracle_energy_j", false, 0, MAX_ENERGY_J,
		    &r->oracle_energy_j, err, errlen) ||
	    get_source(o, r, err, errlen))
		return -EPROTO;
	if (r->p50_us > r->p99_us)
		return bad(err, errlen,
			   "\"p50_us\" (%g) is above \"p99_us\" "
			   "(%g)",
			   r->p50_us, r->p99_us);
	return 0;
}

int plant_parse_reply(const char *line, double seconds, enum plant_need need,
		      struct plant_reply *r, char *err, size_t errlen)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = NULL;
	size_t len = strlen(line), end;
	int ret = -EPROTO;

	memset(r, 0, sizeof(*r));
	if (!tok)
		return bad(err, errlen, "out of memory");
	o = json_tokener_parse_ex(tok, line, len);
	end = json_tokener_get_parse_end(tok);
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		bad(err, errlen, "reply is not JSON (%s): '%.80s'",
		    json_tokener_error_desc(json_tokener_get_error(tok)), line);
		goto out;
	}
	if (line[end + strspn(line + end, " \t\r")] != '\0') {
		bad(err, errlen, "reply has text after the JSON: '%.80s'",
		    line);
		goto out;
	}
	if (!json_object_is_type(o, json_type_object)) {
		bad(err, errlen, "reply is not a JSON object: '%.80s'", line);
		goto out;
	}
	ret = get_fields(o, seconds, need, r, err, errlen);
out:
	json_object_put(o);
	json_tokener_free(tok);
	return ret;
}

/* ---- the plant's side: requests ---------------------------------------- */

/* A knob: a number >= 0, or null. 1 null, 0 set, -1 bad. */
static int request_knob(struct json_object *req, const char *key, double *out)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(req, key, &v) || !v)
		return 1;
	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double))
		return -1;
	*out = json_object_get_double(v);
	return isfinite(*out) && *out >= 0 ? 0 : -1;
}

/* The optional "knobs" object: names a policy could give, values >= 0. */
static int request_knobs(struct json_object *req, struct plant_request *rq,
			 char *err, size_t errlen)
{
	struct json_object *k = NULL;

	rq->n_knobs = 0;
	if (!json_object_object_get_ex(req, "knobs", &k) || !k)
		return 0;
	if (!json_object_is_type(k, json_type_object)) {
		snprintf(err, errlen, "knobs: not an object");
		return -EINVAL;
	}
	if (rq->stock && json_object_object_length(k)) {
		snprintf(err, errlen,
			 "knobs: set with itr_us null (the stock policy "
			 "sets every knob)");
		return -EINVAL;
	}
	for (struct json_object_iterator it = json_object_iter_begin(k),
					 end = json_object_iter_end(k);
	     !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *name = json_object_iter_peek_name(&it);
		struct json_object *v = json_object_iter_peek_value(&it);
		double d;

		if (rq->n_knobs == PLANT_MAX_KNOBS) {
			snprintf(err, errlen, "knobs: more than %d",
				 PLANT_MAX_KNOBS);
			return -EINVAL;
		}
		if (!policy_knob_name_ok(name)) {
			snprintf(err, errlen,
				 "knobs: '%.40s' is not a knob name "
				 "(a-z, 0-9, '_')",
				 name);
			return -EINVAL;
		}
		if (!v ||
		    (!json_object_is_type(v, json_type_int) &&
		     !json_object_is_type(v, json_type_double)) ||
		    !isfinite(d = json_object_get_double(v)) || d < 0) {
			snprintf(err, errlen,
				 "knobs: %s must be a non-negative number",
				 name);
			return -EINVAL;
		}
		snprintf(rq->knob_names[rq->n_knobs], PLANT_KNOB_NAME_LEN, "%s",
			 name);
		rq->knobs[rq->n_knobs++] = d;
	}
	return 0;
}

int plant_parse_request(const char *line, double max_seconds,
			struct plant_request *rq, char *err, size_t errlen)
{
	struct json_object *req = json_tokener_parse(line), *v = NULL;
	int itr, freq, ret = -EINVAL;

	if (!req || !json_object_is_type(req, json_type_object)) {
		snprintf(err, errlen, "request is not a JSON object");
		goto out;
	}
	itr = request_knob(req, "itr_us", &rq->itr_us);
	freq = request_knob(req, "freq_mhz", &rq->freq_mhz);
	if (itr < 0 || freq < 0) {
		snprintf(err, errlen,
			 "itr_us and freq_mhz must both be "
			 "non-negative numbers, or both null "
			 "(stock policy)");
		goto out;
	}
	if (itr == 1 && freq != 1) {
		snprintf(err, errlen,
			 "itr_us is null (stock policy) but "
			 "freq_mhz is not");
		goto out;
	}
	rq->stock = itr == 1;
	if (request_knobs(req, rq, err, errlen))
		goto out;
	if (freq == 1)
		rq->freq_mhz = NAN; /* ITR only: frequency left as it is */
	if (!json_object_object_get_ex(req, "seconds", &v) ||
	    (!json_object_is_type(v, json_type_int) &&
	     !json_object_is_type(v, json_type_double))) {
		snprintf(err, errlen, "seconds: missing or not a number");
		goto out;
	}
	rq->seconds = json_object_get_double(v);
	if (!(rq->seconds > 0 && rq->seconds <= max_seconds)) {
		snprintf(err, errlen, "seconds: %g is outside (0, %g]",
			 rq->seconds, max_seconds);
		goto out;
	}
	ret = 0;
out:
	json_object_put(req);
	return ret;
}
