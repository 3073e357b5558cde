/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The host-change journal: every knob kopt is about to change is recorded,
 * with its original value, in a state file (/run/kopt/state.json, or
 * $KOPT_STATE_DIR/state.json) before the first write. Normal exit and
 * SIGINT/SIGTERM restore from it; after a crash or SIGKILL the next start
 * of kopt (or `kopt restore`) finds the file of a dead process and
 * restores from it. Nothing kopt changes can outlive it unrecorded.
 *
 * Userspace only.
 */
#ifndef KOPT_LOADER_STATE_H
#define KOPT_LOADER_STATE_H

#include <stdbool.h>
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
	char netns[STATE_TARGET_LEN]; /* network namespace path, "" = own */
};

/* Directory of the state file (creates it). */
const char *state_dir(void);

/*
 * Records `e` before its first change; a knob already recorded keeps its
 * first original. Takes ownership of the state file for this process:
 * fails with -EBUSY if a live kopt process owns it.
 */
int state_record(const struct state_entry *e);

/* True if the journal has entries (of any process). */
bool state_pending(pid_t *owner);

/*
 * Restores every recorded knob through the actuators and removes the
 * file when all succeeded; entries that fail stay (with a message).
 * only_dead: restore only if the owner process is gone (crash recovery).
 * Returns the number of failures, or -EBUSY if a live owner holds it.
 */
int state_restore(bool only_dead);

/* Installs SIGINT/SIGTERM handlers that restore and exit, and atexit. */
void state_restore_on_exit(void);

/* Set by the signal handler; long loops poll it to stop cleanly. */
extern volatile int state_stop_signal;

#endif /* KOPT_LOADER_STATE_H */
