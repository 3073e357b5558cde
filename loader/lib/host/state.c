// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host-change journal (see state.h). The file is JSON (json-c), one
 * object: {"pid": N, "entries": [{kind, target, knob, original,
 * original_str, netns}, ...]}, rewritten atomically (temp file, fsync,
 * rename) before every first change of a knob.
 *
 * Cost: one small file write per newly touched knob; nothing per window.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "actuator.h"
#include "kopt.h"
#include "state.h"

#define STATE_DEFAULT_DIR "/run/kopt"
#define STATE_FILE "state.json"

volatile int state_stop_signal;

struct journal {
	pid_t owner;
	struct state_entry e[STATE_MAX_ENTRIES];
	int n;
};

const char *state_dir(void)
{
	const char *d = getenv("KOPT_STATE_DIR");

	if (!d || !*d)
		d = STATE_DEFAULT_DIR;
	mkdir(d, 0700);
	return d;
}

static void state_path(char *buf, size_t len, const char *suffix)
{
	snprintf(buf, len, "%s/" STATE_FILE "%s", state_dir(), suffix);
}

static void copy_str(char *dst, size_t len, struct json_object *o,
		     const char *key)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	snprintf(dst, len, "%s", v ? json_object_get_string(v) : "");
}

/* 0 and j filled; -ENOENT if there is no journal; -EINVAL if corrupt. */
static int journal_load(struct journal *j)
{
	struct json_object *root, *arr = NULL, *pid = NULL;
	char path[512];
	size_t i;

	memset(j, 0, sizeof(*j));
	state_path(path, sizeof(path), "");
	if (access(path, F_OK))
		return -ENOENT;
	root = json_object_from_file(path);
	if (!root || !json_object_object_get_ex(root, "entries", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		pr_warn("state: %s is corrupt (%s); restore by hand and "
			"delete it\n",
			path, json_util_get_last_err());
		json_object_put(root);
		return -EINVAL;
	}
	json_object_object_get_ex(root, "pid", &pid);
	j->owner = pid ? json_object_get_int(pid) : 0;
	for (i = 0;
	     i < json_object_array_length(arr) && j->n < STATE_MAX_ENTRIES;
	     i++) {
		struct json_object *o = json_object_array_get_idx(arr, i), *v;
		struct state_entry *e = &j->e[j->n++];

		copy_str(e->kind, sizeof(e->kind), o, "kind");
		copy_str(e->target, sizeof(e->target), o, "target");
		copy_str(e->knob, sizeof(e->knob), o, "knob");
		copy_str(e->original_str, sizeof(e->original_str), o,
			 "original_str");
		copy_str(e->netns, sizeof(e->netns), o, "netns");
		e->original = json_object_object_get_ex(o, "original", &v) ?
				      json_object_get_int64(v) :
				      0;
	}
	json_object_put(root);
	return 0;
}

static int journal_save(const struct journal *j)
{
	struct json_object *root = json_object_new_object();
	struct json_object *arr = json_object_new_array();
	char path[512], tmp[520];
	const char *txt;
	int fd, i, err = 0;
	ssize_t len;

	for (i = 0; i < j->n; i++) {
		struct json_object *o = json_object_new_object();
		const struct state_entry *e = &j->e[i];

		json_object_object_add(o, "kind",
				       json_object_new_string(e->kind));
		json_object_object_add(o, "target",
				       json_object_new_string(e->target));
		json_object_object_add(o, "knob",
				       json_object_new_string(e->knob));
		json_object_object_add(o, "original",
				       json_object_new_int64(e->original));
		json_object_object_add(o, "original_str",
				       json_object_new_string(e->original_str));
		json_object_object_add(o, "netns",
				       json_object_new_string(e->netns));
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "pid", json_object_new_int(j->owner));
	json_object_object_add(root, "entries", arr);
	txt = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
	state_path(path, sizeof(path), "");
	state_path(tmp, sizeof(tmp), ".tmp");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	len = strlen(txt);
	if (write(fd, txt, len) != len || fsync(fd))
		err = -EIO;
	close(fd);
	if (!err && rename(tmp, path))
		err = -errno;
out:
	if (err)
		pr_warn("state: cannot write %s: %s; refusing to change the "
			"host unrecorded\n",
			path, strerror(-err));
	json_object_put(root);
	return err;
}

static bool owner_alive(pid_t pid)
{
	return pid > 0 && pid != getpid() &&
	       (kill(pid, 0) == 0 || errno == EPERM);
}

static bool same_knob(const struct state_entry *a, const struct state_entry *b)
{
	return !strcmp(a->kind, b->kind) && !strcmp(a->target, b->target) &&
	       !strcmp(a->knob, b->knob) && !strcmp(a->netns, b->netns);
}

int state_record(const struct state_entry *e)
{
	struct journal j;
	int err, i;

	err = journal_load(&j);
	if (err == -EINVAL)
		return err;
	if (!err && owner_alive(j.owner)) {
		pr_warn("state: kopt process %d holds the host's knobs "
			"(%s/" STATE_FILE "); stop it first\n",
			j.owner, state_dir());
		return -EBUSY;
	}
	if (!err && j.owner != getpid() && j.n) {
		/* a dead owner's changes must be undone before new ones */
		pr_warn("state: changes of a dead kopt process %d are pending; "
			"run `kopt restore` first\n",
			j.owner);
		return -EBUSY;
	}
	j.owner = getpid();
	for (i = 0; i < j.n; i++)
		if (same_knob(&j.e[i], e))
			return 0; /* keep the first original */
	if (j.n == STATE_MAX_ENTRIES)
		return -ENOSPC;
	j.e[j.n++] = *e;
	return journal_save(&j);
}

bool state_pending(pid_t *owner)
{
	struct journal j;

	if (journal_load(&j))
		return false;
	if (owner)
		*owner = j.owner;
	return j.n > 0;
}

int state_restore(bool only_dead)
{
	struct journal j, left = {};
	char why[ACT_WHY_LEN], path[512];
	int i, err;

	err = journal_load(&j);
	if (err == -ENOENT)
		return 0;
	if (err)
		return 1;
	if (owner_alive(j.owner)) {
		if (only_dead)
			return -EBUSY;
		pr_warn("state: kopt process %d is running and holds the "
			"knobs; stop it (it restores on exit)\n",
			j.owner);
		return -EBUSY;
	}
	left.owner = j.owner;
	for (i = j.n - 1; i >= 0; i--) {
		const struct state_entry *e = &j.e[i];

		if (act_restore_entry(e, why, sizeof(why))) {
			pr_warn("restore %s %s %s: %s\n", e->kind, e->target,
				e->knob, why);
			left.e[left.n++] = *e;
			continue;
		}
		pr_info("restored %s %s %s = %s\n", e->kind, e->target, e->knob,
			why);
	}
	if (left.n)
		return journal_save(&left) ? left.n + 1 : left.n;
	state_path(path, sizeof(path), "");
	unlink(path);
	return 0;
}

static void restore_atexit(void)
{
	pid_t owner;

	if (state_pending(&owner) && owner == getpid())
		state_restore(false);
}

static void on_stop(int sig)
{
	state_stop_signal = sig;
}

void state_restore_on_exit(void)
{
	/* no SA_RESTART: blocking calls return EINTR so loops notice */
	struct sigaction sa = { .sa_handler = on_stop };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	atexit(restore_atexit);
}
