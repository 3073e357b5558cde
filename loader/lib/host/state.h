/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The host-change journal: every knob kopt is about to change is recorded,
 * with its original value, in a state file (/run/kopt/state.json, or
 * $KOPT_STATE_DIR/state.json) before the first write. Normal exit and
 * SIGINT/SIGTERM restore from it; after a crash or SIGKILL the next start
 * of kopt (or `kopt restore`) finds the file of a dead process and
 * restores from it. Nothing kopt changes can outlive it unrecorded.
 * Ownership is an flock() held by the recording process (state.c).
 *
 * Userspace only.
 */
#ifndef KOPT_LOADER_STATE_H
#define KOPT_LOADER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define STATE_KIND_LEN 32
#define STATE_TARGET_LEN 64
#define STATE_KNOB_LEN 32
#define STATE_MAX_ENTRIES 256

/* One recorded change: which knob and what it was before kopt. */
struct state_entry {
	char kind[STATE_KIND_LEN]; /* actuator kind, e.g. "nic-coalesce" */
	char target[STATE_TARGET_LEN]; /* interface or cpu, "eth1", "cpu3" */
	char knob[STATE_KNOB_LEN]; /* "rx-usecs", "governor", ... */
	long long original; /* numeric original value */
	char original_str[STATE_TARGET_LEN]; /* string originals (governor) */
	char netns[STATE_TARGET_LEN]; /* namespace of the change, "net:[N]" */
	int ifindex; /* xdp: the interface's index (0: not recorded) */
};

/* The whole journal, as read from the file. */
struct state_journal {
	pid_t owner; /* the process that recorded it (for messages) */
	int n;
	struct state_entry e[STATE_MAX_ENTRIES];
};

/* Directory of the state file: kopt_state_dir(). */
const char *state_dir(void);

/*
 * Records `e` before its first change; a knob already recorded keeps its
 * first original. Takes the journal's lock for this process (held until
 * its changes are restored, or it dies): -EBUSY if another live kopt
 * holds it, or if a dead kopt's changes are still pending; -EINVAL if
 * the journal is corrupt or the state directory unsafe (said so).
 */
int state_record(const struct state_entry *e);

/*
 * 1 if the journal has entries (*owner: the PID that recorded them), 0
 * if there is none, a negative errno if it cannot be read or is corrupt
 * (the message names the file and says what to do).
 */
int state_pending(pid_t *owner);

/*
 * 1 if a live kopt holds the journal (*pid: its PID, 0 if it has not
 * written it yet), 0 if nobody does, a negative errno if the state
 * directory is unsafe (said so). Takes nothing and creates nothing.
 */
int state_holder(pid_t *pid);

/*
 * Restores every recorded knob through the actuators (order: the top of
 * state.c) and removes the file when all succeeded; entries that fail
 * stay, in recorded order, with a message. only_dead: quietly do nothing
 * if a live kopt holds the journal (crash recovery at start). Returns the
 * number of failures, -EBUSY if a live owner holds it, -EINVAL if the
 * journal is corrupt or the state directory unsafe (said so).
 */
int state_restore(bool only_dead);

/*
 * state_restore(true), waiting up to wait_s seconds for a process that
 * was just killed to let go of the journal (a plant kopt run stopped).
 */
int state_restore_dead(double wait_s);

/*
 * Before a kopt changes anything: restores what a dead kopt left. 0 to go
 * on (a live owner is left to refuse the first change, naming itself);
 * non-zero if leftovers could not be restored or the journal is corrupt.
 */
int state_recover(void);

/*
 * After the change recorded as `e` (same kind, target, knob, namespace):
 * replaces its original, original_str and ifindex with e's (what is only
 * known once the change is made: an XDP program's id, a mount's device).
 * 0, -ENOENT if this process has no such entry.
 */
int state_update(const struct state_entry *e);

/*
 * After the change recorded as `e` was undone by the normal path: drops
 * its entry; the last one removes the journal and lets go of it.
 */
int state_forget(const struct state_entry *e);

/* Installs SIGINT/SIGTERM/SIGHUP handlers that stop loops, and atexit. */
void state_restore_on_exit(void);

/* Set by the signal handler; long loops poll it to stop cleanly. */
extern volatile int state_stop_signal;

/*
 * Parses a journal's text; 0, or -EINVAL with err naming the entry and
 * field. Every entry is checked as a restore would need it
 * (act_entry_check). Exposed for tests and the fuzz harness.
 */
int state_parse(const char *text, size_t len, struct state_journal *j,
		char *err, size_t errlen);

/* The order state_restore tries j's entries in: indexes into j->e. */
void state_restore_order(const struct state_journal *j, int *order);

#endif /* KOPT_LOADER_STATE_H */
