/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Journal entries (state.h) for what the BPF side changes on the host for
 * a while, and how each is undone after a crash:
 *
 *   xdp        an XDP program kopt attached (libxdp, alone or through its
 *              dispatcher): target = interface, ifindex, knob = mode
 *              ("native", "skb"), original = program id (0 while the
 *              attach is under way: then the program's name,
 *              original_str, identifies it), netns = net:[INODE].
 *              Undone by detaching exactly that program (libxdp removes
 *              the dispatcher and its pins with the last one).
 *   mount      bpffs kopt mounted at /sys/fs/bpf for libxdp: original =
 *              its device (0 while mounting), original_str = what a
 *              fresh mount held, netns = mnt:[INODE]. Undone by umount
 *              if it is still that mount and holds nothing new.
 *   bpffs-dir  libxdp's state directory /sys/fs/bpf/xdp, made by kopt:
 *              removed if empty. netns = mnt:[INODE].
 *
 * A mount or directory in a mount namespace that is not ours any more
 * (the private one of an `ip netns exec` that ended) went with it: its
 * entry is done. Pins kopt makes on purpose to outlive it (kopt model
 * load/attach) are not journaled: kopt model unload/detach undo them.
 */
#ifndef KOPT_LOADER_BPF_JOURNAL_H
#define KOPT_LOADER_BPF_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

#include "state.h"

#define BPFJ_XDP "xdp"
#define BPFJ_MOUNT "mount"
#define BPFJ_DIR "bpffs-dir"
#define BPFJ_BPFFS "/sys/fs/bpf"
#define BPFJ_XDP_DIR BPFJ_BPFFS "/xdp"

/* An entry for an XDP attach (prog_id 0: not known yet). */
void bpfj_xdp_entry(struct state_entry *e, const char *ifname, int ifindex,
		    const char *mode, __u32 prog_id, const char *prog_name);
/* An entry for the bpffs mount at BPFJ_BPFFS (dev 0: not mounted yet). */
void bpfj_mount_entry(struct state_entry *e, dev_t dev, const char *fresh);
/* An entry for libxdp's state directory. */
void bpfj_dir_entry(struct state_entry *e);

/* True for the kinds above. */
bool bpfj_kind(const char *kind);
/* Whether an entry of these kinds is one kopt could have written. */
int bpfj_entry_check(const struct state_entry *e, char *why, size_t len);
/* Undoes one entry; 0 with why saying what was done, or -errno. */
int bpfj_restore_entry(const struct state_entry *e, char *why, size_t len);

#endif /* KOPT_LOADER_BPF_JOURNAL_H */
