// SPDX-License-Identifier: GPL-2.0-only
/*
 * Journal entries for XDP attachments, the bpffs mount and libxdp's state
 * directory (see bpf_journal.h): building them, checking them when a
 * journal is read, and undoing them after a crash. The normal path undoes
 * the same changes in nic.c and then drops the entries.
 *
 * Cost: nothing per packet; one libxdp query per entry at restore.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>
#include <fcntl.h>

#include <xdp/libxdp.h>

#include "actuator.h"
#include "bpf_journal.h"
#include "kopt.h"

/* "net:[INODE]" or "mnt:[INODE]" of this process. */
static void ns_str(const char *ns, char *buf, size_t len)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	if (stat(path, &st))
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%s:[%lu]", ns, (unsigned long)st.st_ino);
}

static bool ns_ok(const char *s, const char *ns)
{
	unsigned long long ino;
	char fmt[16];
	int end = 0;

	snprintf(fmt, sizeof(fmt), "%s:[%%llu]%%n", ns);
	return sscanf(s, fmt, &ino, &end) == 1 && !s[end];
}

void bpfj_xdp_entry(struct state_entry *e, const char *ifname, int ifindex,
		    const char *mode, __u32 prog_id, const char *prog_name)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->kind, sizeof(e->kind), BPFJ_XDP);
	snprintf(e->target, sizeof(e->target), "%s", ifname);
	snprintf(e->knob, sizeof(e->knob), "%s", mode);
	snprintf(e->original_str, sizeof(e->original_str), "%s", prog_name);
	ns_str("net", e->netns, sizeof(e->netns));
	e->ifindex = ifindex;
	e->original = prog_id;
}

void bpfj_mount_entry(struct state_entry *e, dev_t dev, const char *fresh)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->kind, sizeof(e->kind), BPFJ_MOUNT);
	snprintf(e->target, sizeof(e->target), BPFJ_BPFFS);
	snprintf(e->knob, sizeof(e->knob), "bpffs");
	snprintf(e->original_str, sizeof(e->original_str), "%s", fresh);
	ns_str("mnt", e->netns, sizeof(e->netns));
	e->original = (long long)dev;
}

void bpfj_dir_entry(struct state_entry *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->kind, sizeof(e->kind), BPFJ_DIR);
	snprintf(e->target, sizeof(e->target), BPFJ_XDP_DIR);
	snprintf(e->knob, sizeof(e->knob), "dir");
	ns_str("mnt", e->netns, sizeof(e->netns));
}

bool bpfj_kind(const char *kind)
{
	return !strcmp(kind, BPFJ_XDP) || !strcmp(kind, BPFJ_MOUNT) ||
	       !strcmp(kind, BPFJ_DIR);
}

/* A BPF object name: what libxdp and the kernel call the program. */
static bool prog_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= 16)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* "/maps.debug//progs.debug/": names between slashes, nothing else. */
static bool listing_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("._-/", *s)))
			return false;
	return true;
}

int bpfj_entry_check(const struct state_entry *e, char *why, size_t len)
{
	if (!strcmp(e->kind, BPFJ_XDP)) {
		if (!act_ifname_ok(e->target))
			return kopt_errf(why, len, -EINVAL,
					 "target '%s' is not an interface name",
					 e->target);
		if (strcmp(e->knob, "native") && strcmp(e->knob, "skb"))
			return kopt_errf(why, len, -EINVAL,
					 "xdp mode '%s' is not native or skb",
					 e->knob);
		if (e->original < 0 || e->original > UINT32_MAX ||
		    !prog_name_ok(e->original_str) || e->ifindex < 0)
			return kopt_errf(why, len, -EINVAL,
					 "xdp program id %lld / name '%s' / "
					 "ifindex %d out of range",
					 e->original, e->original_str,
					 e->ifindex);
		if (!ns_ok(e->netns, "net"))
			return kopt_errf(why, len, -EINVAL,
					 "netns '%s' is not net:[INODE]",
					 e->netns);
		return 0;
	}
	if (!strcmp(e->kind, BPFJ_MOUNT) || !strcmp(e->kind, BPFJ_DIR)) {
		bool mnt = !strcmp(e->kind, BPFJ_MOUNT);

		/* only the paths kopt mounts and makes, nothing a file chose */
		if (strcmp(e->target, mnt ? BPFJ_BPFFS : BPFJ_XDP_DIR) ||
		    strcmp(e->knob, mnt ? "bpffs" : "dir"))
			return kopt_errf(why, len, -EINVAL,
					 "%s '%s' %s is not one kopt makes",
					 e->kind, e->target, e->knob);
		if (e->original < 0 || !listing_ok(e->original_str))
			return kopt_errf(why, len, -EINVAL,
					 "%s: original out of range", e->kind);
		if (!ns_ok(e->netns, "mnt"))
			return kopt_errf(why, len, -EINVAL,
					 "mount namespace '%s' is not "
					 "mnt:[INODE]",
					 e->netns);
		return 0;
	}
	return kopt_errf(why, len, -EINVAL, "unknown kind '%s'", e->kind);
}

/* ---- undoing ------------------------------------------------------------- */

static bool ours(const struct xdp_program *p, const struct state_entry *e)
{
	if (e->original)
		return xdp_program__id(p) == (__u32)e->original;
	return !strcmp(xdp_program__name(p), e->original_str);
}

static int xdp_restore(const struct state_entry *e, char *why, size_t len)
{
	struct xdp_program *p = NULL, *it;
	struct xdp_multiprog *mp;
	char ns[64], name[IF_NAMESIZE], buf[128];
	int ifindex = e->ifindex, err;

	ns_str("net", ns, sizeof(ns));
	if (strcmp(e->netns, ns))
		return kopt_errf(why, len, -EXDEV,
				 "attached in network namespace %s; run `kopt "
				 "restore` inside it",
				 e->netns);
	/* the index names the device even if it was renamed since */
	if (!ifindex || !if_indextoname(ifindex, name))
		ifindex = if_nametoindex(e->target);
	if (!ifindex) {
		snprintf(why, len, "gone (the interface is gone)");
		return 0;
	}
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	err = libxdp_get_error(mp);
	if (err == -ENOENT || (!err && !mp)) {
		snprintf(why, len, "gone (no XDP program on it)");
		return 0;
	}
	if (err) {
		libxdp_strerror(err, buf, sizeof(buf));
		return kopt_errf(why, len, err,
				 "libxdp cannot read its XDP "
				 "programs: %s",
				 buf);
	}
	if (xdp_multiprog__is_legacy(mp)) {
		it = xdp_multiprog__main_prog(mp);
		p = it && ours(it, e) ? it : NULL;
	} else {
		for (it = xdp_multiprog__next_prog(NULL, mp); it && !p;
		     it = xdp_multiprog__next_prog(it, mp))
			if (ours(it, e))
				p = it;
	}
	if (!p) {
		xdp_multiprog__close(mp);
		snprintf(why, len, "gone (another program is attached now)");
		return 0;
	}
	err = xdp_program__detach(p, ifindex, xdp_multiprog__attach_mode(mp),
				  0);
	xdp_multiprog__close(mp);
	if (err) {
		libxdp_strerror(err, buf, sizeof(buf));
		return kopt_errf(why, len, err, "detach: %s", buf);
	}
	snprintf(why, len, "detached (program %lld, %s)", e->original,
		 e->original_str);
	return 0;
}

/* Entries of dir beyond the listing `had` ("/name/" each) and "xdp". */
static bool holds_new(const char *dir, const char *had)
{
	char name[NAME_MAX + 3];
	struct dirent *de;
	bool found = false;
	DIR *d = opendir(dir);

	while (d && !found && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, "xdp"))
			continue;
		snprintf(name, sizeof(name), "/%s/", de->d_name);
		found = !strstr(had, name);
	}
	if (d)
		closedir(d);
	return found;
}

/*
 * What a fresh bpffs holds on this kernel ("/maps.debug//progs.debug/"
 * where bpf_preload fills it, else ""), for a mount entry whose update
 * never landed: a child mounts one over BPFJ_BPFFS in a mount namespace
 * of its own, which ends with it, and lists it with system calls only
 * (the parent may have threads: no malloc after fork).
 */
static int fresh_bpffs_listing(char *buf, size_t len)
{
	ssize_t n, got = 0;
	int pfd[2], st;
	pid_t pid;

	buf[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	if (pid == 0) {
		char d[4096];
		int fd;

		if (unshare(CLONE_NEWNS) ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("bpf", BPFJ_BPFFS, "bpf", 0, "mode=0700"))
			_exit(1);
		fd = open(BPFJ_BPFFS, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			_exit(1);
		while ((n = getdents64(fd, d, sizeof(d))) > 0)
			for (ssize_t off = 0; off < n;) {
				struct dirent64 *de = (void *)(d + off);

				off += de->d_reclen;
				if (!strcmp(de->d_name, ".") ||
				    !strcmp(de->d_name, ".."))
					continue;
				if (write(pfd[1], "/", 1) != 1 ||
				    write(pfd[1], de->d_name,
					  strlen(de->d_name)) < 0 ||
				    write(pfd[1], "/", 1) != 1)
					_exit(1);
			}
		_exit(n < 0 ? 1 : 0);
	}
	close(pfd[1]);
	while (got + 1 < (ssize_t)len &&
	       (n = read(pfd[0], buf + got, len - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	close(pfd[0]);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return -EIO;
	return 0;
}

static int mount_restore(const struct state_entry *e, char *why, size_t len)
{
	const char *had = e->original_str;
	char fresh[256];
	struct stat st;

	if (!kopt_is_bpffs(BPFJ_BPFFS) || stat(BPFJ_BPFFS, &st)) {
		snprintf(why, len, "gone (no bpffs mounted there)");
		return 0;
	}
	if (e->original && (long long)st.st_dev != e->original) {
		snprintf(why, len, "left (another bpffs is mounted there now)");
		return 0;
	}
	/*
	 * original 0: killed between the mount and the update that records
	 * its device and what it held fresh. Nothing was mounted there when
	 * the entry was made, so this one is ours; what a fresh one holds
	 * (bpf_preload's iterators) is not "others' pins".
	 */
	if (!e->original) {
		if (fresh_bpffs_listing(fresh, sizeof(fresh))) {
			snprintf(why, len,
				 "left mounted (cannot tell what a fresh bpffs "
				 "holds; umount " BPFJ_BPFFS " when done)");
			return 0;
		}
		had = fresh;
	}
	rmdir(BPFJ_XDP_DIR);
	if (holds_new(BPFJ_BPFFS, had)) {
		snprintf(why, len,
			 "left mounted (others pinned objects there; "
			 "umount " BPFJ_BPFFS " when done)");
		return 0;
	}
	if (umount2(BPFJ_BPFFS, 0))
		return kopt_errf(why, len, -errno, "umount: %s",
				 strerror(errno));
	snprintf(why, len, "unmounted");
	return 0;
}

int bpfj_restore_entry(const struct state_entry *e, char *why, size_t len)
{
	char ns[64];
	int err = bpfj_entry_check(e, why, len);

	if (err)
		return err;
	if (!strcmp(e->kind, BPFJ_XDP))
		return xdp_restore(e, why, len);
	ns_str("mnt", ns, sizeof(ns));
	if (strcmp(e->netns, ns)) {
		char init_ns[64] = "";
		struct stat st;

		/* the host's own mount namespace lives on: go there */
		if (!stat("/proc/1/ns/mnt", &st))
			snprintf(init_ns, sizeof(init_ns), "mnt:[%lu]",
				 (unsigned long)st.st_ino);
		if (!strcmp(e->netns, init_ns))
			return kopt_errf(why, len, -EXDEV,
					 "made in the host's mount namespace "
					 "%s; run `kopt restore` there",
					 e->netns);
		/* a private one (ip netns exec's) ends with its last
		 * process, and its mounts with it */
		snprintf(why, len,
			 "gone with its mount namespace %s (not this one)",
			 e->netns);
		return 0;
	}
	if (!strcmp(e->kind, BPFJ_MOUNT))
		return mount_restore(e, why, len);
	if (!rmdir(BPFJ_XDP_DIR)) {
		snprintf(why, len, "removed");
		return 0;
	}
	if (errno == ENOENT) {
		snprintf(why, len, "gone");
		return 0;
	}
	if (errno == ENOTEMPTY || errno == EEXIST) {
		snprintf(why, len, "left (in use)");
		return 0;
	}
	return kopt_errf(why, len, -errno, "rmdir: %s", strerror(errno));
}
