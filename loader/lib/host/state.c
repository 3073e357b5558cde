// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host-change journal (see state.h). The file is JSON (json-c), one
 * object: {"pid": N, "entries": [{kind, target, knob, original,
 * original_str, netns}, ...]}, rewritten atomically (a mkstemp() file in
 * the state directory, fsync, rename) before every first change of a knob.
 *
 * Entries are of the actuators (actuator.c: knobs) and of the BPF side
 * (bpf_journal.c: XDP attachments, the bpffs mount, libxdp's directory).
 *
 * Ownership is a lock, not a PID: the process that journals takes an
 * exclusive flock() on $STATE_DIR/lock and keeps it until its changes
 * are undone or it dies, when the kernel drops it (SIGKILL included). So
 * two kopt starting together cannot both own the journal, and a journal
 * whose lock nobody holds belongs to a dead process whatever its recorded
 * PID is now (the PID is kept for messages only).
 *
 * The state directory is opened without following symlinks and must be
 * ours and private (kopt_state_dir_open()); the journal is read with
 * O_NOFOLLOW and must be a regular file of ours. A journal that does not
 * parse, or has an entry with a missing, mistyped or unsafe field (an
 * interface name with a '/', an unknown knob), is corrupt: nothing is
 * restored from it and nothing new is changed until a human looks.
 *
 * Restore order: the reverse of recording (a change undone before what it
 * was made on top of), except that a NIC's adaptive-rx/tx comes after
 * its rx/tx-usecs (i40e and ice refuse usecs while adaptive is on); an
 * entry that fails is tried once more after the others (scaling min/max
 * limits depend on each other's current value), then stays in the
 * journal in recorded order.
 *
 * Fault injection: KOPT_FAULT_KILL=POINT:N makes the process SIGKILL
 * itself the Nth time it passes POINT ("restore": after each entry
 * restored; "save": after the journal's temporary file is written, before
 * the rename). The fault matrix (selftests/faults.sh) uses it to land a
 * real SIGKILL mid-restore and mid-write every time, which kills from
 * outside at random instants do only by luck. Unset, it costs a getenv()
 * per journal write or restored entry.
 *
 * Cost: one small file write per newly touched knob; nothing per window.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "actuator.h"
#include "bpf_journal.h"
#include "kopt.h"
#include "state.h"

#define STATE_FILE "state.json"
#define STATE_LOCK "lock"
#define STATE_MAX_BYTES (1 << 20)

volatile int state_stop_signal;

/* The lock while this process owns the journal; -1 otherwise. */
static int lock_fd = -1;

static void fault_point(const char *point)
{
	static int passes;
	const char *spec = getenv("KOPT_FAULT_KILL");
	size_t n = strlen(point);
	long nth;

	if (!spec || strncmp(spec, point, n) || spec[n] != ':' ||
	    kopt_parse_long(spec + n + 1, 1, INT_MAX, &nth))
		return;
	if (++passes == nth)
		raise(SIGKILL);
}

const char *state_dir(void)
{
	return kopt_state_dir();
}

/* ---- parsing ------------------------------------------------------------- */

/* A string field that must be present and fit: no silent truncation. */
static int get_str(struct json_object *o, const char *key, char *dst,
		   size_t len, bool required, int idx, char *err, size_t errlen)
{
	struct json_object *v = NULL;
	const char *s;

	dst[0] = '\0';
	if (!json_object_object_get_ex(o, key, &v)) {
		if (!required)
			return 0;
		return kopt_errf(err, errlen, -EINVAL,
				 "entry %d: no \"%s\" field", idx, key);
	}
	if (!json_object_is_type(v, json_type_string))
		return kopt_errf(err, errlen, -EINVAL,
				 "entry %d: \"%s\" is not a string", idx, key);
	s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) >= len || strlen(s) >= len)
		return kopt_errf(err, errlen, -EINVAL,
				 "entry %d: \"%s\" is longer than %zu bytes",
				 idx, key, len - 1);
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static int entry_check(const struct state_entry *e, char *why, size_t len)
{
	return bpfj_kind(e->kind) ? bpfj_entry_check(e, why, len) :
				    act_entry_check(e, why, len);
}

static int entry_restore(const struct state_entry *e, char *why, size_t len)
{
	return bpfj_kind(e->kind) ? bpfj_restore_entry(e, why, len) :
				    act_restore_entry(e, why, len);
}

static int parse_entry(struct json_object *o, int idx, struct state_entry *e,
		       char *err, size_t errlen)
{
	struct json_object *v = NULL;
	char why[ACT_WHY_LEN];

	if (!json_object_is_type(o, json_type_object))
		return kopt_errf(err, errlen, -EINVAL,
				 "entry %d is not an object", idx);
	memset(e, 0, sizeof(*e));
	if (get_str(o, "kind", e->kind, sizeof(e->kind), true, idx, err,
		    errlen) ||
	    get_str(o, "target", e->target, sizeof(e->target), true, idx, err,
		    errlen) ||
	    get_str(o, "knob", e->knob, sizeof(e->knob), true, idx, err,
		    errlen) ||
	    get_str(o, "original_str", e->original_str, sizeof(e->original_str),
		    false, idx, err, errlen) ||
	    get_str(o, "netns", e->netns, sizeof(e->netns), false, idx, err,
		    errlen))
		return -EINVAL;
	if (!json_object_object_get_ex(o, "original", &v) ||
	    !json_object_is_type(v, json_type_int))
		return kopt_errf(err, errlen, -EINVAL,
				 "entry %d: \"original\" missing or not an "
				 "integer",
				 idx);
	e->original = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "ifindex", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) > INT_MAX)
			return kopt_errf(err, errlen, -EINVAL,
					 "entry %d: \"ifindex\" is not an "
					 "interface index",
					 idx);
		e->ifindex = (int)json_object_get_int64(v);
	}
	if (entry_check(e, why, sizeof(why)))
		return kopt_errf(err, errlen, -EINVAL, "entry %d: %s", idx,
				 why);
	return 0;
}

int state_parse(const char *text, size_t len, struct state_journal *j,
		char *err, size_t errlen)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *root = NULL, *arr = NULL, *pid = NULL;
	int ret = -EINVAL;
	size_t i, n;

	memset(j, 0, sizeof(*j));
	if (!tok)
		return kopt_errf(err, errlen, -ENOMEM, "out of memory");
	if (len > STATE_MAX_BYTES || len > INT_MAX) {
		kopt_errf(err, errlen, -EINVAL, "larger than %d bytes",
			  STATE_MAX_BYTES);
		goto out;
	}
	root = json_tokener_parse_ex(tok, text, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success) {
		kopt_errf(err, errlen, -EINVAL, "not JSON (%s)",
			  json_tokener_error_desc(json_tokener_get_error(tok)));
		goto out;
	}
	/* nothing but white space may follow the object */
	for (i = json_tokener_get_parse_end(tok); i < len; i++)
		if (!strchr(" \t\r\n", text[i])) {
			kopt_errf(err, errlen, -EINVAL,
				  "text after the JSON object");
			goto out;
		}
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "entries", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		kopt_errf(err, errlen, -EINVAL, "no \"entries\" array");
		goto out;
	}
	if (!json_object_object_get_ex(root, "pid", &pid) ||
	    !json_object_is_type(pid, json_type_int) ||
	    json_object_get_int64(pid) <= 0 ||
	    json_object_get_int64(pid) > INT_MAX) {
		kopt_errf(err, errlen, -EINVAL,
			  "\"pid\" missing or not a process id");
		goto out;
	}
	j->owner = (pid_t)json_object_get_int64(pid);
	n = json_object_array_length(arr);
	if (n > STATE_MAX_ENTRIES) {
		kopt_errf(err, errlen, -EINVAL, "more than %d entries",
			  STATE_MAX_ENTRIES);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (parse_entry(json_object_array_get_idx(arr, i), (int)i + 1,
				&j->e[j->n], err, errlen))
			goto out;
		j->n++;
	}
	ret = 0;
out:
	if (ret)
		j->n = 0;
	json_object_put(root);
	json_tokener_free(tok);
	return ret;
}

/* ---- the file ------------------------------------------------------------- */

static void corrupt_msg(const char *why)
{
	pr_warn("state: %s/" STATE_FILE " is corrupt: %s. kopt cannot tell "
		"from it what to restore: check the knobs it may have changed "
		"(`kopt knob list`, ethtool -c, cpufreq, XDP on the NICs), "
		"then delete it\n",
		kopt_state_dir(), why);
}

/*
 * 0 and j filled; -ENOENT if there is no journal (or no state
 * directory); -EINVAL if corrupt (said so); another -errno, said so.
 */
static int journal_load(int dfd, struct state_journal *j)
{
	char err[ACT_WHY_LEN + 64], *text = NULL;
	struct stat st;
	ssize_t got;
	int fd, ret;

	memset(j, 0, sizeof(*j));
	fd = openat(dfd, STATE_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		ret = -errno;
		corrupt_msg(errno == ELOOP ? "it is a symlink" :
					     strerror(errno));
		return ret == -ELOOP ? -EINVAL : ret;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_size > STATE_MAX_BYTES) {
		close(fd);
		corrupt_msg("not a regular file of ours of at most 1 MiB");
		return -EINVAL;
	}
	text = malloc(st.st_size + 1);
	if (!text) {
		close(fd);
		return -ENOMEM;
	}
	got = read(fd, text, st.st_size);
	close(fd);
	if (got != st.st_size) {
		free(text);
		corrupt_msg("short read");
		return -EINVAL;
	}
	text[got] = '\0';
	ret = state_parse(text, got, j, err, sizeof(err));
	free(text);
	if (ret)
		corrupt_msg(err);
	return ret ? -EINVAL : 0;
}

static struct json_object *entry_json(const struct state_entry *e)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "kind", json_object_new_string(e->kind));
	json_object_object_add(o, "target", json_object_new_string(e->target));
	json_object_object_add(o, "knob", json_object_new_string(e->knob));
	json_object_object_add(o, "original",
			       json_object_new_int64(e->original));
	json_object_object_add(o, "original_str",
			       json_object_new_string(e->original_str));
	json_object_object_add(o, "netns", json_object_new_string(e->netns));
	if (e->ifindex)
		json_object_object_add(o, "ifindex",
				       json_object_new_int(e->ifindex));
	return o;
}

/* Writes j atomically: a private temporary file, fsync, rename. */
static int journal_save(int dfd, const struct state_journal *j)
{
	struct json_object *root = json_object_new_object();
	struct json_object *arr = json_object_new_array();
	char path[PATH_MAX], tmp[PATH_MAX];
	const char *txt;
	int fd, i, err = 0;
	ssize_t len, wrote;

	for (i = 0; i < j->n; i++)
		json_object_array_add(arr, entry_json(&j->e[i]));
	json_object_object_add(root, "pid", json_object_new_int(j->owner));
	json_object_object_add(root, "entries", arr);
	txt = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
	snprintf(path, sizeof(path), "%s/" STATE_FILE, kopt_state_dir());
	snprintf(tmp, sizeof(tmp), "%s/" STATE_FILE ".XXXXXX",
		 kopt_state_dir());
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	len = strlen(txt);
	errno = 0;
	wrote = write(fd, txt, len);
	if (wrote >= 0 && wrote != len)
		err = -ENOSPC; /* a short write: the file system is full */
	else if (wrote < 0 || fsync(fd))
		err = errno ? -errno : -EIO;
	close(fd);
	if (!err)
		fault_point("save");
	if (!err && renameat(dfd, strrchr(tmp, '/') + 1, dfd, STATE_FILE))
		err = -errno;
	if (err)
		unlinkat(dfd, strrchr(tmp, '/') + 1, 0);
	else
		fsync(dfd);
out:
	if (err)
		pr_warn("state: cannot write %s: %s; refusing to change the "
			"host unrecorded\n",
			path, strerror(-err));
	json_object_put(root);
	return err;
}

/* Temporary files of writers that died between mkstemp and rename. */
static void remove_stale_tmp(int dfd)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, STATE_FILE ".",
			     strlen(STATE_FILE) + 1))
			unlinkat(dfd, de->d_name, 0);
	closedir(d);
}

/* ---- the lock ----------------------------------------------------------------- */

/* The PID the lock holder wrote into the lock file, or 0. */
static pid_t lock_holder(int fd)
{
	char buf[24] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return kopt_parse_long(buf, 1, INT_MAX, &pid) ? 0 : (pid_t)pid;
}

/*
 * Takes the journal's lock for this process (kept until release_lock or
 * exit). 0; -EBUSY with *holder if a live kopt has it; another -errno
 * with the reason printed.
 */
static int take_lock(int dfd, pid_t *holder)
{
	char buf[24];
	int fd;

	*holder = 0;
	if (lock_fd >= 0)
		return 0;
	fd = openat(dfd, STATE_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0) {
		int e = errno;

		pr_warn("state: %s/" STATE_LOCK ": %s\n", kopt_state_dir(),
			strerror(e));
		return -e;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;

		*holder = lock_holder(fd);
		close(fd);
		if (e == EWOULDBLOCK)
			return -EBUSY;
		pr_warn("state: flock %s/" STATE_LOCK ": %s\n",
			kopt_state_dir(), strerror(e));
		return -e;
	}
	snprintf(buf, sizeof(buf), "%d\n", getpid());
	if (ftruncate(fd, 0) || pwrite(fd, buf, strlen(buf), 0) < 0)
		pr_debug("state: writing our pid into the lock: %s\n",
			 strerror(errno));
	lock_fd = fd;
	remove_stale_tmp(dfd);
	return 0;
}

/* "kopt process N", or without N if it has not written it yet. */
static const char *holder_str(pid_t holder)
{
	static char buf[48];

	if (holder > 0)
		snprintf(buf, sizeof(buf), "kopt process %d", holder);
	else
		snprintf(buf, sizeof(buf), "another kopt process");
	return buf;
}

static void release_lock(void)
{
	if (lock_fd < 0)
		return;
	close(lock_fd); /* drops the flock */
	lock_fd = -1;
}

static int open_dir(bool create)
{
	char err[600];
	int dfd = kopt_state_dir_open(create, err, sizeof(err));

	if (dfd < 0 && dfd != -ENOENT)
		pr_warn("state: %s\n", err);
	return dfd;
}

int state_holder(pid_t *pid)
{
	int dfd = open_dir(false), fd, ret = 0;

	*pid = 0;
	if (dfd < 0)
		return dfd == -ENOENT ? 0 : dfd;
	/* no lock file: nobody ever held it (and a check creates nothing) */
	fd = openat(dfd, STATE_LOCK, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (lock_fd >= 0) {
		*pid = getpid();
		ret = 1;
	} else if (flock(fd, LOCK_SH | LOCK_NB)) {
		ret = errno == EWOULDBLOCK ? 1 : -errno;
		*pid = ret == 1 ? lock_holder(fd) : 0;
	}
	close(fd); /* drops a shared lock we got */
	return ret;
}

/* ---- recording and restoring ------------------------------------------------ */

static bool same_knob(const struct state_entry *a, const struct state_entry *b)
{
	return !strcmp(a->kind, b->kind) && !strcmp(a->target, b->target) &&
	       !strcmp(a->knob, b->knob) && !strcmp(a->netns, b->netns);
}

int state_record(const struct state_entry *e)
{
	struct state_journal *j;
	pid_t holder;
	int dfd, err, i;

	dfd = open_dir(true);
	if (dfd < 0)
		return dfd;
	j = malloc(sizeof(*j));
	if (!j) {
		close(dfd);
		return -ENOMEM;
	}
	err = take_lock(dfd, &holder);
	if (err == -EBUSY) {
		pr_warn("state: %s holds the host's knobs (%s/" STATE_FILE
			"); stop it first\n",
			holder_str(holder), kopt_state_dir());
		goto out;
	}
	if (err)
		goto out;
	err = journal_load(dfd, j);
	if (err && err != -ENOENT)
		goto out;
	if (!err && j->n && j->owner != getpid()) {
		/* we hold the lock: their owner is dead; undo them first */
		pr_warn("state: changes of a dead kopt process %d are pending "
			"(%s/" STATE_FILE "); run `kopt restore` first\n",
			j->owner, kopt_state_dir());
		err = -EBUSY;
		goto out;
	}
	j->owner = getpid();
	err = 0;
	for (i = 0; i < j->n; i++)
		if (same_knob(&j->e[i], e))
			goto out; /* keep the first original */
	if (j->n == STATE_MAX_ENTRIES) {
		err = -ENOSPC;
		goto out;
	}
	j->e[j->n++] = *e;
	err = journal_save(dfd, j);
out:
	free(j);
	close(dfd);
	return err;
}

/*
 * Loads our own journal (we hold the lock) for a change in place: the
 * journal in *j and the directory fd, or a negative errno.
 */
static int own_journal(struct state_journal *j)
{
	int dfd, err;

	if (lock_fd < 0)
		return -ENOENT;
	dfd = open_dir(false);
	if (dfd < 0)
		return dfd;
	err = journal_load(dfd, j);
	if (!err && j->owner != getpid())
		err = -ENOENT;
	if (err) {
		close(dfd);
		return err;
	}
	return dfd;
}

static int find_entry(const struct state_journal *j,
		      const struct state_entry *e)
{
	for (int i = 0; i < j->n; i++)
		if (same_knob(&j->e[i], e))
			return i;
	return -1;
}

int state_update(const struct state_entry *e)
{
	struct state_journal *j = malloc(sizeof(*j));
	int dfd, i, err;

	if (!j)
		return -ENOMEM;
	dfd = own_journal(j);
	if (dfd < 0) {
		free(j);
		return dfd;
	}
	i = find_entry(j, e);
	if (i < 0) {
		err = -ENOENT;
	} else {
		j->e[i].original = e->original;
		j->e[i].ifindex = e->ifindex;
		memcpy(j->e[i].original_str, e->original_str,
		       sizeof(e->original_str));
		err = journal_save(dfd, j);
	}
	close(dfd);
	free(j);
	return err;
}

int state_forget(const struct state_entry *e)
{
	struct state_journal *j = malloc(sizeof(*j));
	int dfd, i, err = 0;

	if (!j)
		return -ENOMEM;
	dfd = own_journal(j);
	if (dfd < 0) {
		free(j);
		return dfd;
	}
	i = find_entry(j, e);
	if (i >= 0) {
		memmove(&j->e[i], &j->e[i + 1],
			(j->n - i - 1) * sizeof(j->e[0]));
		j->n--;
		if (j->n) {
			err = journal_save(dfd, j);
		} else {
			unlinkat(dfd, STATE_FILE, 0);
			release_lock();
		}
	}
	close(dfd);
	free(j);
	return err;
}

int state_pending(pid_t *owner)
{
	struct state_journal *j = malloc(sizeof(*j));
	int dfd, ret;

	if (!j)
		return -ENOMEM;
	dfd = open_dir(false);
	ret = dfd < 0 ? dfd : journal_load(dfd, j);
	if (dfd >= 0)
		close(dfd);
	if (ret == -ENOENT) {
		ret = 0;
	} else if (!ret) {
		if (owner)
			*owner = j->owner;
		ret = j->n > 0;
	}
	free(j);
	return ret;
}

static bool is_adaptive(const struct state_entry *e)
{
	return !strcmp(e->kind, "nic-coalesce") &&
	       (!strcmp(e->knob, "adaptive-rx") ||
		!strcmp(e->knob, "adaptive-tx"));
}

void state_restore_order(const struct state_journal *j, int *order)
{
	int n = 0, i;

	for (i = j->n - 1; i >= 0; i--)
		if (!is_adaptive(&j->e[i]))
			order[n++] = i;
	for (i = j->n - 1; i >= 0; i--)
		if (is_adaptive(&j->e[i]))
			order[n++] = i;
}

/* Restores j's entries; failed[i] set for each entry that stays. */
static int restore_entries(const struct state_journal *j, bool *failed)
{
	char why[ACT_WHY_LEN];
	int order[STATE_MAX_ENTRIES], left = 0, i;

	state_restore_order(j, order);
	for (int pass = 0; pass < 2; pass++) {
		for (i = 0; i < j->n; i++) {
			const struct state_entry *e = &j->e[order[i]];
			bool last = pass == 1;

			if (pass == 1 && !failed[order[i]])
				continue;
			failed[order[i]] = entry_restore(e, why, sizeof(why)) !=
					   0;
			if (!failed[order[i]]) {
				pr_info("restored %s %s %s = %s\n", e->kind,
					e->target, e->knob, why);
				fault_point("restore");
			} else if (last)
				pr_warn("restore %s %s %s: %s\n", e->kind,
					e->target, e->knob, why);
		}
	}
	for (i = 0; i < j->n; i++)
		left += failed[i];
	return left;
}

int state_restore(bool only_dead)
{
	struct state_journal *j = malloc(sizeof(*j));
	bool failed[STATE_MAX_ENTRIES] = { false };
	pid_t holder;
	int dfd, err, left, i, n;

	if (!j)
		return -ENOMEM;
	dfd = open_dir(false);
	if (dfd < 0) {
		free(j);
		return dfd == -ENOENT ? 0 : -EINVAL;
	}
	err = take_lock(dfd, &holder);
	if (err == -EBUSY) {
		if (!only_dead)
			pr_warn("state: %s is running and holds the knobs; "
				"stop it (it restores on exit)\n",
				holder_str(holder));
		goto out;
	}
	if (err) {
		err = -EINVAL;
		goto out;
	}
	err = journal_load(dfd, j);
	if (err == -ENOENT) {
		err = 0;
		release_lock();
		goto out;
	}
	if (err) {
		err = -EINVAL;
		goto out;
	}
	left = restore_entries(j, failed);
	if (!left) {
		unlinkat(dfd, STATE_FILE, 0);
		release_lock();
		err = 0;
		goto out;
	}
	/* what failed stays, in the order it was recorded */
	for (i = 0, n = j->n, j->n = 0; i < n; i++)
		if (failed[i])
			j->e[j->n++] = j->e[i];
	err = journal_save(dfd, j) ? left + 1 : left;
out:
	close(dfd);
	free(j);
	return err;
}

int state_restore_dead(double wait_s)
{
	double until = kopt_now_s() + wait_s;
	int ret;

	/*
	 * A killed process keeps its files, the lock among them, until the
	 * kernel has torn down its memory: poll the lock (every 20 ms) for
	 * as long as the caller allows.
	 */
	while ((ret = state_restore(true)) == -EBUSY && kopt_now_s() < until)
		usleep(20000);
	return ret;
}

int state_recover(void)
{
	int ret = state_restore(true);

	/* a live owner: the first change will be refused, with its PID */
	return ret == -EBUSY ? 0 : ret;
}

static void restore_atexit(void)
{
	if (lock_fd >= 0)
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
