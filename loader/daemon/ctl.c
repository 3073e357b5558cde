// SPDX-License-Identifier: GPL-2.0-only
/*
 * koptd's control socket: a Unix stream socket, mode 0600, one JSON
 * object per line each way (README, "kopt as a service"):
 *
 *   {"cmd": "status"|"pause"|"resume"|"advise"|"enforce"|"reload"|
 *           "restore"|"model-load", "job": "energy"|"migration",
 *    "file": PATH}
 *   {"ok": true, ...}  or  {"ok": false, "error": "..."}
 *
 * Every peer is checked with SO_PEERCRED when it connects: uid 0 or
 * koptd's own uid, anyone else is told why and disconnected (the mode
 * already keeps others out; the check also holds if the socket's folder
 * or mode is loosened). Requests are parsed and every field checked by
 * request.c before anything is done; a value from a peer is never
 * passed to a shell. A peer's
 * line is at most KOPTD_LINE_MAX bytes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "kopt.h"
#include "koptd.h"
#include "request.h"
#include "state.h"

#define KOPTD_LINE_MAX 8192

struct koptd_client {
	int fd;
	uid_t uid;
	pid_t pid;
	size_t len;
	char buf[KOPTD_LINE_MAX];
};

int koptd_sock_open(struct koptd *d, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd;

	if (strlen(path) >= sizeof(a.sun_path)) {
		pr_warn("socket %s: path too long\n", path);
		return -1;
	}
	strcpy(a.sun_path, path);
	/* koptd holds the lock: a socket left here is a dead koptd's */
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			pr_warn("socket %s: exists and is not a socket; "
				"not removing it\n",
				path);
			return -1;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		pr_warn("socket: %s\n", strerror(errno));
		return -1;
	}
	old = umask(0177); /* created 0600, no window with a wider mode */
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		umask(old);
		pr_warn("socket %s: bind: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if (chmod(path, 0600) || listen(fd, 16)) {
		pr_warn("socket %s: %s\n", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	d->listen_fd = fd;
	snprintf(d->sock_path, sizeof(d->sock_path), "%s", path);
	pr_info("control socket %s (mode 0600; uid 0 and %u)\n", path,
		(unsigned int)geteuid());
	return 0;
}

void koptd_sock_close(struct koptd *d)
{
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		unlink(d->sock_path);
	}
	d->listen_fd = -1;
	d->sock_path[0] = '\0';
}

static void send_obj(struct koptd_client *c, struct json_object *o)
{
	const char *s =
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(s), off = 0;
	ssize_t n;

	while (off < len) {
		n = write(c->fd, s + off, len - off);
		if (n <= 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += n;
	}
	while (write(c->fd, "\n", 1) < 0 && errno == EINTR)
		;
	json_object_put(o);
}

static struct json_object *fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static struct json_object *fail(const char *fmt, ...)
{
	struct json_object *o = json_object_new_object();
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(false));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

static struct json_object *ok(const char *msg)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(true));
	if (msg)
		json_object_object_add(o, "message",
				       json_object_new_string(msg));
	return o;
}

struct koptd_client *koptd_client_accept(struct koptd *d)
{
	struct koptd_client *c;
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct timeval tv = { .tv_sec = 2 };
	int fd;

	fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len)) {
		pr_warn("control: SO_PEERCRED: %s; closing\n", strerror(errno));
		close(fd);
		return NULL;
	}
	/* a peer that does not read its replies cannot hold koptd up */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->uid = cr.uid;
	c->pid = cr.pid;
	if (cr.uid != 0 && cr.uid != geteuid()) {
		pr_warn("control: refused pid %d uid %u (only uid 0 and "
			"koptd's uid %u may connect)\n",
			(int)cr.pid, (unsigned int)cr.uid,
			(unsigned int)geteuid());
		send_obj(c,
			 fail("refused: uid %u may not control koptd (only "
			      "uid 0 and koptd's own uid %u)",
			      (unsigned int)cr.uid, (unsigned int)geteuid()));
		koptd_client_free(c);
		return NULL;
	}
	return c;
}

int koptd_client_fd(const struct koptd_client *c)
{
	return c->fd;
}

void koptd_client_free(struct koptd_client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c);
}

static struct json_object *do_pause(struct koptd *d, const char *job,
				    bool pause)
{
	char err[512];

	if (!strcmp(job, "energy")) {
		if (!pause && d->ej.state == EJ_STOPPED && d->cfg.energy) {
			ej_stop(&d->ej, NULL); /* joins an ended thread */
			if (ej_start(&d->ej, &d->cfg))
				return fail("energy: could not start again "
					    "(see koptd's log)");
			return ok("energy: started again");
		}
		if (ej_pause(&d->ej, pause, err, sizeof(err)))
			return fail("%s", err);
		return ok(pause ? "energy: pausing after the current window; "
				  "the held setting stays" :
				  "energy: resumed");
	}
	pthread_mutex_lock(&d->mj_mu);
	if (!d->mj.configured || d->mj.mode == KOPTD_MIG_OFF) {
		pthread_mutex_unlock(&d->mj_mu);
		return fail("the migration job is not configured (%s)",
			    d->conf_path);
	}
	if (pause) {
		mj_stop(&d->mj);
		snprintf(d->mj.why, sizeof(d->mj.why),
			 "paused by kopt pause: CFS decides alone; kopt resume "
			 "migration starts it again");
	} else if (d->mj.hook == MJ_NONE) {
		mj_start(&d->mj, &d->cfg);
	}
	pthread_mutex_unlock(&d->mj_mu);
	pr_info("migration: %s over the control socket\n",
		pause ? "paused" : "resumed");
	return ok(pause ? "migration: unregistered; CFS decides alone" :
			  "migration: resumed");
}

/* advise or enforce: restart the job in that mode */
static struct json_object *do_mode(struct koptd *d, const char *job,
				   bool advise)
{
	struct koptd_config *c = &d->cfg;

	if (!strcmp(job, "energy")) {
		if (!c->energy)
			return fail("the energy job is not configured (%s)",
				    d->conf_path);
		if (c->advise == advise && d->ej.thread_live)
			return ok(advise ? "energy: already in advise mode" :
					   "energy: already enforcing");
		pr_info("energy: switching to %s mode: restarting the "
			"job%s\n",
			advise ? "advise" : "enforce",
			advise ? "; what it changed is restored first" : "");
		ej_stop(&d->ej, NULL);
		c->advise = advise;
		if (ej_start(&d->ej, c))
			return fail("energy: could not restart in %s mode (see "
				    "koptd's log)",
				    advise ? "advise" : "enforce");
		return ok(advise ? "energy: advise mode: the controller runs "
				   "and reports what it would set; nothing on "
				   "the host changes" :
				   "energy: enforce mode");
	}
	if (!c->migration)
		return fail("the migration job is not configured (%s)",
			    d->conf_path);
	pthread_mutex_lock(&d->mj_mu);
	mj_stop(&d->mj);
	c->mig_mode = advise ? KOPTD_MIG_SHADOW : KOPTD_MIG_ENFORCE;
	mj_start(&d->mj, c);
	pthread_mutex_unlock(&d->mj_mu);
	if (d->mj.hook == MJ_NONE)
		return fail("migration: %s mode is not running: %s",
			    koptd_mig_mode_names[c->mig_mode], d->mj.why);
	return ok(advise ? "migration: shadow mode (predicts, changes no "
			   "decision)" :
			   "migration: enforce mode");
}

static struct json_object *do_restore(struct koptd *d)
{
	pid_t owner = 0;
	int ret;

	pr_info("restore requested over the control socket: stopping "
		"the jobs and undoing every journaled change\n");
	if (d->ej.state != EJ_OFF)
		ej_stop(&d->ej, "stopped by kopt restore (its changes undone); "
				"kopt resume energy starts it again");
	pthread_mutex_lock(&d->mj_mu);
	if (d->mj.hook != MJ_NONE) {
		mj_stop(&d->mj);
		snprintf(d->mj.why, sizeof(d->mj.why),
			 "stopped by kopt restore; kopt resume migration "
			 "starts it again");
	}
	pthread_mutex_unlock(&d->mj_mu);
	ret = state_pending(&owner);
	if (ret < 0)
		return fail(
			"the journal in %s cannot be read (see koptd's log)",
			state_dir());
	if (ret > 0) {
		ret = state_restore_dead(5);
		if (ret)
			return fail(
				"%d change(s) could not be undone; they stay "
				"in the journal (see koptd's log)",
				ret);
	}
	return ok("jobs stopped; every journaled change is undone");
}

static struct json_object *handle(struct koptd *d, struct koptd_client *c,
				  const char *line)
{
	struct json_object *rep;
	struct koptd_req rq;
	char err[1024];

	if (koptd_req_parse(line, &rq, err, sizeof(err))) {
		pr_info("control: pid %d uid %u: refused: %s\n", (int)c->pid,
			(unsigned int)c->uid, err);
		return fail("%s", err);
	}
	switch (rq.cmd) {
	case KOPTD_CMD_STATUS:
		rep = koptd_status(d);
		json_object_object_add(rep, "ok",
				       json_object_new_boolean(true));
		return rep; /* not logged: monitors poll it */
	case KOPTD_CMD_PAUSE:
	case KOPTD_CMD_RESUME:
		rep = do_pause(d, rq.job, rq.cmd == KOPTD_CMD_PAUSE);
		break;
	case KOPTD_CMD_ADVISE:
	case KOPTD_CMD_ENFORCE:
		rep = do_mode(d, rq.job, rq.cmd == KOPTD_CMD_ADVISE);
		break;
	case KOPTD_CMD_RELOAD:
		if (koptd_reload(d, err, sizeof(err)))
			rep = fail("reload: %s; the running configuration is "
				   "kept",
				   err);
		else
			rep = ok("configuration reloaded");
		break;
	case KOPTD_CMD_RESTORE:
		rep = do_restore(d);
		break;
	case KOPTD_CMD_MODEL_LOAD:
	default:
		pthread_mutex_lock(&d->mj_mu);
		if (!d->mj.configured)
			rep = fail("model-load: koptd runs no migration job "
				   "(add [migration] to %s)",
				   d->conf_path);
		else if (mj_load(&d->mj, rq.file, err, sizeof(err)))
			rep = fail("model-load: %s", err);
		else {
			rep = ok(NULL);
			json_object_object_add(
				rep, "model_generation",
				json_object_new_uint64(d->mj.generation));
		}
		pthread_mutex_unlock(&d->mj_mu);
		break;
	}
	pr_info("control: pid %d uid %u: %s -> %s\n", (int)c->pid,
		(unsigned int)c->uid, koptd_cmd_names[rq.cmd],
		json_object_get_boolean(json_object_object_get(rep, "ok")) ?
			"ok" :
			json_object_get_string(
				json_object_object_get(rep, "error")));
	return rep;
}

int koptd_client_read(struct koptd *d, struct koptd_client *c)
{
	char *nl;
	ssize_t n;

	n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return -1;
	c->len += n;
	c->buf[c->len] = '\0';
	while ((nl = strchr(c->buf, '\n'))) {
		*nl = '\0';
		send_obj(c, handle(d, c, c->buf));
		c->len -= nl + 1 - c->buf;
		memmove(c->buf, nl + 1, c->len + 1);
	}
	if (c->len == sizeof(c->buf) - 1) {
		send_obj(c, fail("request longer than %d bytes",
				 KOPTD_LINE_MAX - 1));
		return -1;
	}
	return 0;
}
