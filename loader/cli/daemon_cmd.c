// SPDX-License-Identifier: GPL-2.0-only
/*
 * The client side of koptd (loader/daemon/): kopt status, pause, resume,
 * advise, enforce and reload, and the "through koptd when it runs" step
 * of kopt restore and kopt model load. One JSON object per line each way
 * on koptd's control socket ($KOPT_STATE_DIR/koptd.sock, else
 * /run/kopt/koptd.sock; --socket PATH overrides), built and parsed with
 * json-c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "opts.h"

/* a restore can wait out a host window and the plant's exit */
#define REPLY_TIMEOUT_S 180
#define REPLY_MAX (1 << 20)

static const char *sock_path(const char *given, char *buf, size_t len)
{
	if (given)
		return given;
	snprintf(buf, len, "%s/koptd.sock", kopt_state_dir());
	return buf;
}

/*
 * Sends rq (taken) and reads one reply line. 0 with *rep set; 1 if no
 * koptd listens there (no socket, or nobody accepting); -1 with a message
 * printed.
 */
static int koptd_call(const char *path, struct json_object *rq,
		      struct json_object **rep)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = REPLY_TIMEOUT_S };
	const char *s;
	size_t len = 0, cap = 4096;
	char *buf = NULL, *nl;
	ssize_t n;
	int fd, ret = -1;

	*rep = NULL;
	if (strlen(path) >= sizeof(a.sun_path)) {
		pr_warn("%s: socket path too long\n", path);
		json_object_put(rq);
		return -1;
	}
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		json_object_put(rq);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		int e = errno;

		close(fd);
		json_object_put(rq);
		if (e == ENOENT || e == ECONNREFUSED)
			return 1;
		pr_warn("koptd's socket %s: %s%s\n", path, strerror(e),
			e == EACCES ? " (it is koptd's and root's only)" : "");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	s = json_object_to_json_string_ext(rq, JSON_C_TO_STRING_PLAIN);
	/*
	 * koptd refuses a peer it does not serve with a reply and a close,
	 * maybe before the request is written: EPIPE then (MSG_NOSIGNAL, no
	 * SIGPIPE), and the reply saying why is still there to read.
	 */
	if ((send(fd, s, strlen(s), MSG_NOSIGNAL) != (ssize_t)strlen(s) ||
	     send(fd, "\n", 1, MSG_NOSIGNAL) != 1) &&
	    errno != EPIPE) {
		pr_warn("koptd's socket %s: write: %s\n", path,
			strerror(errno));
		goto out;
	}
	buf = malloc(cap);
	while (buf) {
		if (len + 1 >= cap) {
			char *nb = cap < REPLY_MAX ? realloc(buf, cap * 2) :
						     NULL;

			if (!nb) {
				pr_warn("koptd's reply is too long\n");
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pr_warn("koptd closed the connection without a reply%s%s\n",
				n < 0 ? ": " : "",
				n < 0 ? strerror(errno) : "");
			goto out;
		}
		len += n;
		buf[len] = '\0';
		nl = strchr(buf, '\n');
		if (!nl)
			continue;
		*nl = '\0';
		*rep = json_tokener_parse(buf);
		if (!*rep || !json_object_is_type(*rep, json_type_object)) {
			json_object_put(*rep);
			*rep = NULL;
			pr_warn("koptd's reply is not a JSON object\n");
			goto out;
		}
		ret = 0;
		break;
	}
out:
	free(buf);
	close(fd);
	json_object_put(rq);
	return ret;
}

static struct json_object *request(const char *cmd, const char *job,
				   const char *file)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "cmd", json_object_new_string(cmd));
	if (job)
		json_object_object_add(o, "job", json_object_new_string(job));
	if (file)
		json_object_object_add(o, "file", json_object_new_string(file));
	return o;
}

static bool reply_ok(struct json_object *rep)
{
	struct json_object *v;

	return json_object_object_get_ex(rep, "ok", &v) &&
	       json_object_get_boolean(v);
}

static const char *reply_str(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, k, &v) || !v)
		return NULL;
	return json_object_get_string(v);
}

/* The reply of a command: its message, or its error; a kopt_exit code. */
static int report(const char *what, struct json_object *rep)
{
	const char *m;
	int ret = KOPT_EXIT_OK;

	if (!reply_ok(rep)) {
		pr_warn("%s: %s\n", what,
			reply_str(rep, "error") ?: "koptd refused");
		ret = KOPT_EXIT_FAIL;
	} else if (kopt_env.json) {
		json_object_object_del(rep, "ok");
		puts(json_object_to_json_string_ext(rep,
						    JSON_C_TO_STRING_PRETTY));
	} else {
		m = reply_str(rep, "message");
		printf("%s\n", m ? m : "ok");
	}
	json_object_put(rep);
	return ret;
}

static int not_running(const char *what, const char *path)
{
	pr_warn("%s: koptd is not running (no one listens on %s; --socket "
		"PATH names another)\n",
		what, path);
	return KOPT_EXIT_FAIL;
}

int koptd_try(const char *given_sock, const char *what, const char *cmd,
	      const char *file, int *ret)
{
	char buf[PATH_MAX];
	const char *path = sock_path(given_sock, buf, sizeof(buf));
	struct json_object *rep;
	int r;

	r = koptd_call(path, request(cmd, NULL, file), &rep);
	if (r > 0 && !given_sock)
		return 0; /* no koptd: the caller goes on alone */
	if (r > 0) {
		*ret = not_running(what, path);
		return 1;
	}
	if (r < 0) {
		*ret = KOPT_EXIT_FAIL;
		return 1;
	}
	if (!kopt_env.json && reply_ok(rep))
		printf("(through koptd at %s)\n", path);
	*ret = report(what, rep);
	return 1;
}

/* ---- one command, one request -------------------------------------------- */

static int simple(int argc, char **argv, const char *cmd, const char *what,
		  const char *usage, const char *desc, bool job_arg,
		  bool job_required)
{
	const char *sock = NULL, *job = NULL;
	char buf[PATH_MAX];
	struct kopt_arg args[] = {
		{ "JOB", &job, NULL,
		  job_required ? 0U : (unsigned int)KOPT_ARG_OPTIONAL },
		{ NULL },
	};
	const struct kopt_opts spec = {
		.cmd = what,
		.usage = usage,
		.desc = desc,
		.opts = KOPT_OPTS(KOPT_OPT_STR("socket", 'S', &sock, "PATH",
					       "koptd's control socket "
					       "(default:\n$KOPT_STATE_DIR/"
					       "koptd.sock, else "
					       "/run/kopt/koptd.sock)"),
				  KOPT_OPT_JSON("print koptd's reply as JSON")),
		.args = job_arg ? args : NULL,
	};
	struct json_object *rep;
	const char *path;
	int ret;

	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	if (job && strcmp(job, "energy") && strcmp(job, "migration"))
		return kopt_usage_error(what,
					"JOB '%s': expected energy or "
					"migration",
					job);
	path = sock_path(sock, buf, sizeof(buf));
	ret = koptd_call(path, request(cmd, job, NULL), &rep);
	if (ret > 0)
		return not_running(what, path);
	if (ret < 0)
		return KOPT_EXIT_FAIL;
	return report(what, rep);
}

int cmd_pause(int argc, char **argv)
{
	return simple(argc, argv, "pause", "kopt pause", "JOB [--socket PATH]",
		      "Asks koptd to pause JOB (energy or migration). energy: "
		      "the controller\nstops after its current window and the "
		      "setting it holds stays;\nmigration: the policy is "
		      "unregistered and CFS decides alone.",
		      true, true);
}

int cmd_resume(int argc, char **argv)
{
	return simple(argc, argv, "resume", "kopt resume",
		      "JOB [--socket PATH]",
		      "Asks koptd to resume JOB (energy or migration), or to "
		      "start it again\nafter kopt restore stopped it.",
		      true, true);
}

int cmd_advise(int argc, char **argv)
{
	return simple(argc, argv, "advise", "kopt advise",
		      "[JOB] [--socket PATH]",
		      "Switches JOB (default energy) to advice only. energy: "
		      "what it changed\nis restored, then the controller runs "
		      "and reports the setting it\nwould hold (kopt status) "
		      "while nothing on the host changes;\nmigration: shadow "
		      "mode (predicts, changes no decision).\nkopt enforce "
		      "switches back.",
		      true, false);
}

int cmd_enforce(int argc, char **argv)
{
	return simple(argc, argv, "enforce", "kopt enforce",
		      "[JOB] [--socket PATH]",
		      "Switches JOB (default energy) back from advice to "
		      "acting: the energy\ncontroller applies its settings; "
		      "the migration model decides.",
		      true, false);
}

int cmd_reload(int argc, char **argv)
{
	return simple(argc, argv, "reload", "kopt reload", "[--socket PATH]",
		      "Asks koptd to re-read its configuration (as SIGHUP "
		      "does). A bad file\nkeeps the running configuration; "
		      "the error names file, line and key.",
		      false, false);
}

/* ---- status ------------------------------------------------------------------- */

static double num(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, k, &v) || !v)
		return NAN;
	return json_object_get_double(v);
}

static struct json_object *obj(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, k, &v))
		return NULL;
	return v;
}

static void print_energy(struct json_object *e)
{
	struct json_object *held = obj(e, "held"), *lw = obj(e, "last_window");
	const char *state = reply_str(e, "state") ?: "?";
	const char *src = reply_str(e, "source");
	double saving = num(e, "saving_vs_stock");

	printf("%-10s %-12s %-8s", "energy", state,
	       reply_str(e, "mode") ?: "-");
	if (!strcmp(state, "off")) {
		printf(" not configured\n");
		return;
	}
	printf(" %s plant, policy %s\n", reply_str(e, "plant") ?: "?",
	       reply_str(e, "policy") ?: "?");
	if (reply_str(e, "why"))
		printf("%32s%s\n", "", reply_str(e, "why"));
	if (held)
		printf("%32sphase %s; %s %s: %s\n", "",
		       reply_str(e, "phase") ?: "?",
		       obj(e, "would_set") ? "would set" : "holds",
		       reply_str(held, "text") ?: "?",
		       reply_str(held, "why") ?: "");
	if (lw)
		printf("%32sSLA %s: last window p99 %.0f us at %.0f qps (%s); "
		       "%d violating windows\n",
		       "", reply_str(e, "sla") ?: "?", num(lw, "p99_us"),
		       num(lw, "qps"),
		       json_object_get_boolean(obj(lw, "sla_ok")) ? "met" :
								    "BROKEN",
		       (int)num(obj(e, "sla_violating_windows"), "total"));
	if (src)
		printf("%32senergy %.6g J, stock %.6g J: saved %s%.1f%s "
		       "(source: %s%s) in %d windows\n",
		       "", num(e, "energy_j"), num(obj(e, "stock"), "energy_j"),
		       isfinite(saving) ? "" : "n/a",
		       isfinite(saving) ? 100 * saving : 0,
		       isfinite(saving) ? "%" : "", src,
		       json_object_get_boolean(obj(e, "simulated")) ?
			       ", simulated" :
			       "",
		       (int)num(e, "windows"));
	if (reply_str(e, "advice_basis"))
		printf("%32sadvice: %s\n", "", reply_str(e, "advice_basis"));
}

static void print_migration(struct json_object *m)
{
	const char *state = reply_str(m, "state") ?: "?";
	const char *hook = reply_str(m, "hook"), *why = reply_str(m, "why");
	struct json_object *p = obj(m, "predictions");

	printf("%-10s %-12s %-8s", "migration", state,
	       reply_str(m, "mode") ?: "-");
	if (!reply_str(m, "mode")) {
		printf(" not configured\n");
		return;
	}
	if (hook)
		printf(" %s, model %s (generation %.0f)\n", hook,
		       reply_str(m, "model") ?: "?",
		       num(m, "model_generation"));
	else
		printf("\n");
	if (why)
		printf("%32s%s\n", "", why);
	if (p && json_object_object_length(p)) {
		struct json_object_iterator it = json_object_iter_begin(p),
					    end = json_object_iter_end(p);

		printf("%32spredictions:", "");
		for (; !json_object_iter_equal(&it, &end);
		     json_object_iter_next(&it))
			printf(" %s %lld", json_object_iter_peek_name(&it),
			       (long long)json_object_get_int64(
				       json_object_iter_peek_value(&it)));
		printf("\n");
	}
}

int cmd_status(int argc, char **argv)
{
	const char *sock = NULL;
	char buf[PATH_MAX];
	const struct kopt_opts spec = {
		.cmd = "kopt status",
		.usage = "[--json] [--socket PATH]",
		.desc = "What koptd is doing: its jobs, the energy "
			"controller's phase, the\nsetting it holds and why, "
			"the SLA, the energy saved so far (with its\nsource: "
			"measured, estimated or simulated), the migration "
			"model's\ngeneration and predictions, ring-buffer "
			"losses.",
		.opts = KOPT_OPTS(KOPT_OPT_STR("socket", 'S', &sock, "PATH",
					       "koptd's control socket"),
				  KOPT_OPT_JSON("koptd's status object")),
	};
	struct json_object *rep, *k, *jobs;
	const char *path;
	int ret;

	if (!kopt_opts_parse(&spec, argc, argv, &ret))
		return ret;
	path = sock_path(sock, buf, sizeof(buf));
	ret = koptd_call(path, request("status", NULL, NULL), &rep);
	if (ret > 0)
		return not_running("kopt status", path);
	if (ret < 0)
		return KOPT_EXIT_FAIL;
	if (!reply_ok(rep) || kopt_env.json)
		return report("kopt status", rep);
	k = obj(rep, "koptd");
	jobs = obj(rep, "jobs");
	printf("koptd %s, pid %.0f, up %.0f s, configuration %s\n",
	       reply_str(k, "version") ?: "?", num(k, "pid"),
	       num(k, "uptime_s"), reply_str(k, "config") ?: "?");
	printf("  socket %s, metrics %s, state %s\n",
	       reply_str(k, "socket") ?: "?", reply_str(k, "metrics") ?: "?",
	       reply_str(k, "state_dir") ?: "?");
	if (reply_str(k, "last_reload_error"))
		printf("  last reload failed (running configuration kept): "
		       "%s\n",
		       reply_str(k, "last_reload_error"));
	printf("%-10s %-12s %-8s %s\n", "JOB", "STATE", "MODE", "DETAIL");
	print_energy(obj(jobs, "energy"));
	print_migration(obj(jobs, "migration"));
	printf("ring-buffer records lost: %.0f\n", num(rep, "ringbuf_lost"));
	json_object_put(rep);
	return KOPT_EXIT_OK;
}
