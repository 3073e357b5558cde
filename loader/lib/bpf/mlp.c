// SPDX-License-Identifier: GPL-2.0-only
/*
 * The live model's maps and programs.
 *
 * Pinning: the maps mlp_weights (two slots) and mlp_active (sequence
 * count, mmap'ed by writers) and the shadow predictor's counters and link
 * live under $KOPT_PIN_DIR (/sys/fs/bpf/kopt). They are created by loading
 * bpf/mlp_shadow.bpf.c with libbpf pin paths (libbpf reuses a compatible
 * pinned map, or creates and pins one), so they carry the object's BTF and
 * `bpftool map dump` prints struct kopt_mlp field by field. If bpffs is
 * not mounted on /sys/fs/bpf, kopt mounts it and records that in
 * $KOPT_STATE_DIR/bpffs-mounted; `kopt model unload` unmounts it again
 * when nothing else is pinned there.
 *
 * Hot swap: see include/kopt/mlp_map.h; kopt_mlp_swap() is the writer.
 * Writers are serialized by flock() on the pin directory.
 *
 * Test runs: bpf/mlp.bpf.c with private maps (or the pinned ones), its
 * batch maps mmap'ed, for verify, bench and the tests.
 *
 * Cost: loading verifies one copy of the evaluator per program (~0.3 s);
 * a swap is one 17 KB map update and two stores.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kopt.h"
#include "mlp.h"
#include "mlp.skel.h"
#include "mlp_shadow.skel.h"

const char *kopt_pin_dir(void)
{
	const char *d = getenv("KOPT_PIN_DIR");

	return d && *d ? d : KOPT_PIN_DIR_DEFAULT;
}

static void pin_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", kopt_pin_dir(), name);
}

/* ---- bpffs ------------------------------------------------------------- */

static void parent_dir(const char *path, char *buf, size_t len)
{
	char *slash;

	snprintf(buf, len, "%s", path);
	slash = strrchr(buf, '/');
	if (slash && slash != buf)
		*slash = '\0';
	else if (slash)
		slash[1] = '\0';
}

static void state_file(char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", kopt_state_dir(), KOPT_STATE_BPFFS);
}

/* Records that kopt mounted bpffs on `where`, for unload to undo. */
static int record_mount(const char *where, char *err, size_t errlen)
{
	int dfd = kopt_state_dir_open(true, err, errlen), fd;
	FILE *f;

	if (dfd < 0)
		return dfd;
	fd = openat(dfd, KOPT_STATE_BPFFS,
		    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	close(dfd);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return kopt_errf(err, errlen, -e, "%s/%s: %s", kopt_state_dir(),
				 KOPT_STATE_BPFFS, strerror(e));
	}
	fprintf(f, "%s\n", where);
	fclose(f);
	return 0;
}

/* The bpffs mount point kopt recorded, or "" if none. */
static void recorded_mount(char *buf, size_t len)
{
	char err[256];
	int dfd = kopt_state_dir_open(false, err, sizeof(err)), fd;
	FILE *f = NULL;

	buf[0] = '\0';
	if (dfd < 0)
		return;
	fd = openat(dfd, KOPT_STATE_BPFFS, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd >= 0)
		f = fdopen(fd, "r");
	if (!f) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (fgets(buf, len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/*
 * The pin directory must sit on a bpffs. The one place kopt mounts bpffs
 * itself is the conventional /sys/fs/bpf; anywhere else is the user's.
 */
static int ensure_pin_dir(char *err, size_t errlen)
{
	const char *dir = kopt_pin_dir();
	char parent[PATH_MAX];
	int ret;

	parent_dir(dir, parent, sizeof(parent));
	if (!kopt_is_bpffs(parent)) {
		if (strcmp(parent, KOPT_BPFFS))
			return kopt_errf(
				err, errlen, -ENOTSUP,
				"%s is not a bpf filesystem: pins need one "
				"(mount -t bpf bpf %s, or unset "
				"KOPT_PIN_DIR)",
				parent, parent);
		if (mount("bpf", parent, "bpf", 0, "mode=0700"))
			return kopt_errf(err, errlen, -errno,
					 "mount bpffs on %s: %s", parent,
					 strerror(errno));
		pr_info("mounted bpffs on %s (kopt model unload unmounts it)\n",
			parent);
		ret = record_mount(parent, err, errlen);
		if (ret)
			return ret;
	}
	if (mkdir(dir, 0700) && errno != EEXIST)
		return kopt_errf(err, errlen, -errno, "mkdir %s: %s", dir,
				 strerror(errno));
	return 0;
}

static bool dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool empty = true;

	if (!d)
		return false;
	/* maps.debug, progs.debug: the kernel's bpf_preload iterators */
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, "maps.debug") &&
		    strcmp(e->d_name, "progs.debug"))
			empty = false;
	closedir(d);
	return empty;
}

/* ---- pinned maps ---------------------------------------------------------- */

static bool pinned(const char *name)
{
	char path[PATH_MAX];

	pin_path(path, sizeof(path), name);
	return access(path, F_OK) == 0;
}

static int attach_shadow(struct bpf_program *prog, char *warn)
{
	char path[PATH_MAX];
	struct bpf_link *link;
	int err;

	link = bpf_program__attach(prog);
	if (!link) {
		err = -errno;
		snprintf(
			warn, KOPT_WARN_LEN,
			"shadow predictor: attach to tp_btf/sched_migrate_task "
			"refused (%s); the model is loaded but not running",
			strerror(-err));
		return err;
	}
	pin_path(path, sizeof(path), KOPT_PIN_SHADOW);
	err = bpf_link__pin(link, path);
	if (err)
		snprintf(warn, KOPT_WARN_LEN,
			 "shadow predictor: pin %.160s: %s; it stops when kopt "
			 "exits",
			 path, strerror(-err));
	bpf_link__destroy(link);
	return err;
}

/* The shadow programs, best first (see bpf/mlp_shadow.bpf.c). */
static struct bpf_program *shadow_prog(struct mlp_shadow_bpf *skel, int v)
{
	return v == 0 ? skel->progs.mlp_shadow : skel->progs.mlp_shadow_task;
}
#define NR_SHADOW_VARIANTS 2

/*
 * Creates (or reuses) the pinned maps through the shadow object, whose
 * map definitions carry the BTF, with shadow program variant v attached
 * (none if v >= NR_SHADOW_VARIANTS). A refused variant falls back to the
 * next one, and at last to the maps alone.
 */
static int create_pins(int v, char *warn, char *err, size_t errlen)
{
	struct mlp_shadow_bpf *skel;
	char path[PATH_MAX];
	int ret, i;

	skel = mlp_shadow_bpf__open();
	if (!skel)
		return kopt_errf(err, errlen, -errno,
				 "open bpf/mlp_shadow.bpf.c object: %s",
				 strerror(errno));
	for (i = 0; i < NR_SHADOW_VARIANTS; i++)
		bpf_program__set_autoload(shadow_prog(skel, i), i == v);
	pin_path(path, sizeof(path), KOPT_PIN_WEIGHTS);
	bpf_map__set_pin_path(skel->maps.mlp_weights, path);
	pin_path(path, sizeof(path), KOPT_PIN_ACTIVE);
	bpf_map__set_pin_path(skel->maps.mlp_active, path);
	pin_path(path, sizeof(path), KOPT_PIN_STATS);
	bpf_map__set_pin_path(skel->maps.shadow_stats, path);
	ret = mlp_shadow_bpf__load(skel);
	if (ret && v < NR_SHADOW_VARIANTS) {
		pr_debug("shadow predictor %s: load refused (%s)\n",
			 bpf_program__name(shadow_prog(skel, v)),
			 strerror(-ret));
		if (v == NR_SHADOW_VARIANTS - 1)
			snprintf(
				warn, KOPT_WARN_LEN,
				"shadow predictor: load refused (%s); see kopt "
				"-vv model load; the model is loaded but not "
				"running",
				strerror(-ret));
		mlp_shadow_bpf__destroy(skel);
		return create_pins(v + 1, warn, err, errlen);
	}
	if (ret) {
		mlp_shadow_bpf__destroy(skel);
		return kopt_errf(
			err, errlen, ret,
			"create maps under %s: %s (pinned maps of another "
			"kopt version? kopt model unload removes them)",
			kopt_pin_dir(), strerror(-ret));
	}
	if (v < NR_SHADOW_VARIANTS)
		attach_shadow(shadow_prog(skel, v), warn);
	mlp_shadow_bpf__destroy(skel);
	return 0;
}

static int open_pin(const char *name, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int fd;

	pin_path(path, sizeof(path), name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return kopt_errf(err, errlen, -errno, "%s: %s%s", path,
				 strerror(errno),
				 errno == ENOENT ?
					 " (no model loaded: kopt model "
					 "load FILE)" :
					 "");
	return fd;
}

static void *map_mmap(int fd, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

static size_t page_len(size_t len)
{
	size_t page = sysconf(_SC_PAGESIZE);

	return (len + page - 1) / page * page;
}

/* Which shadow program the pinned link runs, if any. */
static void shadow_name(struct kopt_mlp_live *lv)
{
	struct bpf_link_info link = {};
	struct bpf_prog_info prog = {};
	__u32 len = sizeof(link);
	char path[PATH_MAX];
	int fd, pfd;

	pin_path(path, sizeof(path), KOPT_PIN_SHADOW);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	snprintf(lv->shadow, sizeof(lv->shadow), "?");
	if (!bpf_obj_get_info_by_fd(fd, &link, &len)) {
		pfd = bpf_prog_get_fd_by_id(link.prog_id);
		len = sizeof(prog);
		if (pfd >= 0 && !bpf_obj_get_info_by_fd(pfd, &prog, &len))
			snprintf(lv->shadow, sizeof(lv->shadow), "%s",
				 prog.name);
		if (pfd >= 0)
			close(pfd);
	}
	close(fd);
}

__u64 kopt_mlp_shadow_features(const char *prog)
{
	if (!strcmp(prog, "mlp_shadow"))
		return KOPT_MLP_SHADOW_FEATURES;
	if (!strcmp(prog, "mlp_shadow_task"))
		return KOPT_MLP_SHADOW_FEATURES_TASK;
	return 0;
}

int kopt_mlp_live_open(struct kopt_mlp_live *lv, bool create, bool shadow,
		       char *warn, char *err, size_t errlen)
{
	int ret;

	memset(lv, 0, sizeof(*lv));
	lv->weights_fd = lv->active_fd = lv->stats_fd = lv->lock_fd = -1;
	if (create) {
		ret = ensure_pin_dir(err, errlen);
		if (!ret)
			ret = create_pins(shadow && !pinned(KOPT_PIN_SHADOW) ?
						  0 :
						  NR_SHADOW_VARIANTS,
					  warn, err, errlen);
		if (ret)
			return ret;
	}
	lv->weights_fd = open_pin(KOPT_PIN_WEIGHTS, err, errlen);
	if (lv->weights_fd < 0)
		return lv->weights_fd;
	lv->active_fd = open_pin(KOPT_PIN_ACTIVE, err, errlen);
	if (lv->active_fd < 0) {
		ret = lv->active_fd;
		goto out;
	}
	if (pinned(KOPT_PIN_STATS))
		lv->stats_fd = open_pin(KOPT_PIN_STATS, err, errlen);
	shadow_name(lv);
	lv->lock_fd = open(kopt_pin_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	lv->active = map_mmap(lv->active_fd, page_len(sizeof(*lv->active)));
	if (!lv->active) {
		ret = kopt_errf(err, errlen, -errno, "mmap %s/%s: %s",
				kopt_pin_dir(), KOPT_PIN_ACTIVE,
				strerror(errno));
		goto out;
	}
	return 0;
out:
	kopt_mlp_live_close(lv);
	return ret;
}

void kopt_mlp_live_close(struct kopt_mlp_live *lv)
{
	if (lv->active)
		munmap(lv->active, page_len(sizeof(*lv->active)));
	if (lv->weights_fd >= 0)
		close(lv->weights_fd);
	if (lv->active_fd >= 0)
		close(lv->active_fd);
	if (lv->stats_fd >= 0)
		close(lv->stats_fd);
	if (lv->lock_fd >= 0)
		close(lv->lock_fd);
	memset(lv, 0, sizeof(*lv));
	lv->weights_fd = lv->active_fd = lv->stats_fd = lv->lock_fd = -1;
}

/* ---- swap, read back -------------------------------------------------------- */

int kopt_mlp_swap(int weights_fd, struct kopt_mlp_active *active, int lock_fd,
		  const struct kopt_mlp *m, __u64 *seq)
{
	__u64 s;
	__u32 standby;
	int ret = 0;

	if (lock_fd >= 0 && flock(lock_fd, LOCK_EX))
		return -errno;
	s = __atomic_load_n(&active->seq, __ATOMIC_ACQUIRE);
	standby = kopt_mlp_seq_standby(s);
	/* odd: readers keep using slot (s >> 1) & 1, never `standby` */
	__atomic_store_n(&active->seq, s | 1, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (bpf_map_update_elem(weights_fd, &standby, m, BPF_ANY)) {
		/* all or nothing: the kernel copies the value in first */
		ret = -errno;
		__atomic_store_n(&active->seq, s, __ATOMIC_SEQ_CST);
	} else {
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		/* the flip: one aligned 8-byte store */
		__atomic_store_n(&active->seq, (s | 1) + 1, __ATOMIC_RELEASE);
	}
	if (seq)
		*seq = __atomic_load_n(&active->seq, __ATOMIC_ACQUIRE);
	if (lock_fd >= 0)
		flock(lock_fd, LOCK_UN);
	return ret;
}

int kopt_mlp_live_read(const struct kopt_mlp_live *lv, struct kopt_mlp *m,
		       __u64 *seq)
{
	__u64 s1, s2;
	__u32 slot;
	int try;

	/* the reader protocol, with a syscall copy as the "inference" */
	for (try = 0; try < 100; try++) {
		s1 = kopt_mlp_load_seq(&lv->active->seq);
		slot = kopt_mlp_seq_slot(s1);
		if (bpf_map_lookup_elem(lv->weights_fd, &slot, m))
			return -errno;
		kopt_mlp_rmb();
		s2 = kopt_mlp_load_seq(&lv->active->seq);
		if (kopt_mlp_seq_valid(s1, s2)) {
			*seq = s1;
			return 0;
		}
	}
	return -EBUSY;
}

int kopt_mlp_live_stats(const struct kopt_mlp_live *lv,
			__u64 stats[KOPT_MLP_STAT_NR])
{
	int ncpu = libbpf_num_possible_cpus(), c;
	__u32 key;
	__u64 *per;

	memset(stats, 0, sizeof(__u64) * KOPT_MLP_STAT_NR);
	if (lv->stats_fd < 0)
		return -ENOENT;
	if (ncpu < 0)
		return ncpu;
	per = calloc(ncpu, sizeof(*per));
	if (!per)
		return -ENOMEM;
	for (key = 0; key < KOPT_MLP_STAT_NR; key++) {
		if (bpf_map_lookup_elem(lv->stats_fd, &key, per)) {
			free(per);
			return -errno;
		}
		for (c = 0; c < ncpu; c++)
			stats[key] += per[c];
	}
	free(per);
	return 0;
}

/* ---- unload ---------------------------------------------------------------- */

static void unmount_if_ours(const char *parent, char *note, size_t notelen)
{
	char mounted[PATH_MAX], path[PATH_MAX];
	size_t off = strlen(note);

	recorded_mount(mounted, sizeof(mounted));
	if (strcmp(mounted, parent))
		return;
	if (!dir_empty(parent)) {
		snprintf(note + off, notelen - off,
			 "; bpffs on %s was mounted by kopt but other objects "
			 "are pinned there: left mounted",
			 parent);
		return;
	}
	if (umount(parent)) {
		snprintf(note + off, notelen - off,
			 "; unmount bpffs on %s: %s: left mounted", parent,
			 strerror(errno));
		return;
	}
	state_file(path, sizeof(path));
	unlink(path);
	snprintf(note + off, notelen - off,
		 "; unmounted bpffs from %s (kopt had mounted it)", parent);
}

int kopt_mlp_unload(char *note, size_t notelen, char *err, size_t errlen)
{
	static const char *const pins[] = {
		KOPT_PIN_SHADOW,
		KOPT_PIN_STATS,
		KOPT_PIN_WEIGHTS,
		KOPT_PIN_ACTIVE,
	};
	const char *dir = kopt_pin_dir();
	char path[PATH_MAX], parent[PATH_MAX];
	int removed = 0;
	size_t i;

	for (i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		pin_path(path, sizeof(path), pins[i]);
		if (!unlink(path))
			removed++;
		else if (errno != ENOENT)
			return kopt_errf(err, errlen, -errno, "unpin %s: %s",
					 path, strerror(errno));
	}
	snprintf(note, notelen, "removed %d pin%s from %s", removed,
		 removed == 1 ? "" : "s", dir);
	if (rmdir(dir) && errno != ENOENT) {
		size_t off = strlen(note);

		snprintf(note + off, notelen - off, "; %s not removed (%s)",
			 dir, strerror(errno));
		return 0;
	}
	parent_dir(dir, parent, sizeof(parent));
	unmount_if_ours(parent, note, notelen);
	return 0;
}

/* ---- test-run evaluator ------------------------------------------------------- */

static int tr_mmap(struct kopt_mlp_tr *t, char *err, size_t errlen)
{
	t->active = map_mmap(bpf_map__fd(t->skel->maps.mlp_active),
			     page_len(sizeof(*t->active)));
	t->in = map_mmap(bpf_map__fd(t->skel->maps.mlp_batch_in),
			 page_len(sizeof(*t->in) * KOPT_MLP_BATCH));
	t->out = map_mmap(bpf_map__fd(t->skel->maps.mlp_batch_out),
			  page_len(sizeof(*t->out) * KOPT_MLP_BATCH));
	if (!t->active || !t->in || !t->out)
		return kopt_errf(err, errlen, -errno, "mmap test-run maps: %s",
				 strerror(errno));
	return 0;
}

static void set_pins(struct mlp_bpf *skel, const char *pin_dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, KOPT_PIN_WEIGHTS);
	bpf_map__set_pin_path(skel->maps.mlp_weights, path);
	snprintf(path, sizeof(path), "%s/%s", pin_dir, KOPT_PIN_ACTIVE);
	bpf_map__set_pin_path(skel->maps.mlp_active, path);
}

int kopt_mlp_tr_open(struct kopt_mlp_tr *t, unsigned int progs,
		     const char *pin_dir, char *err, size_t errlen)
{
	int ret;

	memset(t, 0, sizeof(*t));
	t->skel = mlp_bpf__open();
	if (!t->skel)
		return kopt_errf(err, errlen, -errno,
				 "open bpf/mlp.bpf.c object: %s",
				 strerror(errno));
	bpf_program__set_autoload(t->skel->progs.mlp_eval, progs & KOPT_TR_XDP);
	bpf_program__set_autoload(t->skel->progs.mlp_empty,
				  progs & KOPT_TR_XDP);
	bpf_program__set_autoload(t->skel->progs.mlp_batch,
				  progs & KOPT_TR_BATCH);
	if (pin_dir)
		set_pins(t->skel, pin_dir);
	ret = mlp_bpf__load(t->skel);
	if (ret) {
		kopt_errf(
			err, errlen, ret,
			"load bpf/mlp.bpf.c (the evaluator): %s; kopt -v shows "
			"the verifier log",
			strerror(-ret));
		goto out;
	}
	ret = tr_mmap(t, err, errlen);
	if (!ret)
		return 0;
out:
	kopt_mlp_tr_close(t);
	return ret;
}

void kopt_mlp_tr_close(struct kopt_mlp_tr *t)
{
	if (t->active)
		munmap(t->active, page_len(sizeof(*t->active)));
	if (t->in)
		munmap(t->in, page_len(sizeof(*t->in) * KOPT_MLP_BATCH));
	if (t->out)
		munmap(t->out, page_len(sizeof(*t->out) * KOPT_MLP_BATCH));
	mlp_bpf__destroy(t->skel);
	memset(t, 0, sizeof(*t));
}

int kopt_mlp_tr_set(struct kopt_mlp_tr *t, const struct kopt_mlp *m)
{
	return kopt_mlp_swap(bpf_map__fd(t->skel->maps.mlp_weights), t->active,
			     -1, m, NULL);
}

int kopt_mlp_tr_batch(struct kopt_mlp_tr *t, __u32 count)
{
	struct kopt_mlp_batch_ctx ctx = { .first = 0, .count = count };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));
	int ret;

	ret = bpf_prog_test_run_opts(bpf_program__fd(t->skel->progs.mlp_batch),
				     &opts);
	if (ret)
		return -errno;
	return (int)opts.retval == (int)count ? 0 : -EIO;
}

int kopt_mlp_tr_one(struct kopt_mlp_tr *t, struct kopt_mlp_pkt *pkt)
{
	struct kopt_mlp_pkt out;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt,
		    .data_size_in = sizeof(*pkt), .data_out = &out,
		    .data_size_out = sizeof(out), .repeat = 1);

	if (bpf_prog_test_run_opts(bpf_program__fd(t->skel->progs.mlp_eval),
				   &opts))
		return -errno;
	if (opts.data_size_out != sizeof(out) || opts.retval != XDP_PASS)
		return -EIO;
	*pkt = out;
	return 0;
}

int kopt_mlp_tr_time(struct kopt_mlp_tr *t, bool empty,
		     const struct kopt_mlp_pkt *pkt, __u32 repeat, __u32 *ns)
{
	struct bpf_program *p = empty ? t->skel->progs.mlp_empty :
					t->skel->progs.mlp_eval;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt,
		    .data_size_in = sizeof(*pkt), .repeat = repeat);

	if (bpf_prog_test_run_opts(bpf_program__fd(p), &opts))
		return -errno;
	*ns = opts.duration;
	return 0;
}
