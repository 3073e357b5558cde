// SPDX-License-Identifier: GPL-2.0-only
/*
 * NIC statistics collector: loads bpf/nic.bpf.c (tracepoints) and
 * bpf/nic_xdp.bpf.c (XDP counter, attached with libxdp) for one
 * interface and exposes window rates and per-interrupt records. See
 * loader/lib/bpf/nic.h for the API and the top of bpf/nic.bpf.c for what is
 * measured.
 *
 * Changes to the host, all undone by nic_close(): the XDP program on the
 * interface (libxdp; detached), bpffs at /sys/fs/bpf when absent (libxdp's
 * dispatcher needs it; unmounted if still ours and empty), libxdp's state
 * directory in it, perf events (closed). Nothing is pinned by kopt itself
 * (libxdp pins its dispatcher). The attach, the mount and the directory
 * are journaled (state.h, bpf_journal.h) before they are made, so a
 * killed kopt's are undone by `kopt restore` or the next kopt; a change
 * that cannot be journaled is not made.
 *
 * Cost: opening loads two small objects; a window read is one map lookup
 * (all CPUs) per call.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/perf_event.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "bpf_journal.h"
#include "kopt.h"
#include "nic.h"
#include "nic.skel.h"
#include "nic_xdp.skel.h"

#define BPFFS_DIR "/sys/fs/bpf"
#define LIBXDP_STATE_DIR BPFFS_DIR "/xdp"
#define PROC_INTERRUPTS "/proc/interrupts"
#define NS_PER_S 1e9

struct nic {
	struct nic_info info;
	struct nic_bpf *skel;
	struct nic_xdp_bpf *xskel;
	struct xdp_program *xprog;
	/*
	 * libxdp's dispatcher, when the counter runs through one: the
	 * kernel's run-time statistics count the dispatcher's runs, not
	 * those of the extension program it calls.
	 */
	struct xdp_multiprog *xmp;
	enum xdp_attach_mode xdp_attached; /* XDP_MODE_UNSPEC: none */
	struct ring_buffer *rb;
	nic_record_fn on_record;
	void *ctx;
	int nr_cpus;
	int *ctr_fds; /* NIC_NR_COUNTERS * nr_cpus, -1 where closed */
	struct nic_stats prev;
	double prev_s;
	dev_t bpffs_dev; /* of the bpffs nic_open mounted */
	bool had_xdp_dir; /* libxdp's state dir existed before open */
	/* journal entries of what this collector changed (state.h) */
	struct state_entry j_xdp, j_mount, j_dir;
	bool jd_xdp, jd_mount, jd_dir; /* ... and which are recorded */
	char bpffs_fresh[256]; /* entries of the bpffs right after mount */
	void *percpu_buf; /* nr_cpus values of the nic_percpu map */
	size_t percpu_size; /* one value, 8-byte aligned as the kernel copies */
	bool xdp_on; /* the XDP counter ran (it may be detached by now) */
	bool stopped; /* nic_stop() ran: nothing attached any more */
	bool rates_only; /* nic_opts.rates_only, in effect */
	__u64 staged_delivered; /* records nic_stop() took from the stages */
	__u64 ring_delivered; /* records that came through the ring */
	/* record layout of the session (struct nic_wire + tail words) */
	__u32 rec_words, rec_idle_states, rec_ctr_words;
	/*
	 * What the previous record carried, to difference the next one:
	 * per CPU and queue (cpu * NIC_MAX_QUEUES + queue), and per CPU.
	 */
	struct rec_last_queue *last_q;
	struct rec_last_cpu *last_cpu;
	__u64 malformed; /* records refused by decode_record() */
};

struct rec_last_queue {
	struct nic_queue_acc acc;
	__u64 ts_ns; /* 0: no record of this queue on this CPU yet */
};

struct rec_last_cpu {
	__u64 idle_ns;
	__u64 idle_state_ns[NIC_NR_IDLE_STATES];
	__u64 ctr[NIC_NR_COUNTERS];
	__u32 ctr_seen; /* bit k: ctr[k] holds a reading */
};

/* ---- interrupt vectors ------------------------------------------------- */

/*
 * Queue index in a vector name: trailing digits after '-', '.' or '_'
 * ("eth0-TxRx-3", "virtio2-input.0", "mlx5_comp5" is not matched). Names
 * without one (config, misc vectors) map to queue 0.
 */
static __u32 queue_from_name(const char *name)
{
	size_t n = strlen(name), i = n;

	while (i > 0 && isdigit((unsigned char)name[i - 1]))
		i--;
	if (i == n || i == 0 || !strchr("-._", name[i - 1]))
		return 0;
	return (__u32)strtoul(name + i, NULL, 10);
}

/* Action name of irq in /proc/interrupts (last column), "" if none. */
static void irq_name(__u32 irq, char *name, size_t len)
{
	char line[1024], *last, *tok, *save;
	FILE *f = fopen(PROC_INTERRUPTS, "re");

	name[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *end;
		unsigned long n = strtoul(line, &end, 10);

		if (end == line || *end != ':' || n != irq)
			continue;
		last = NULL;
		for (tok = strtok_r(end + 1, " \t\n", &save); tok;
		     tok = strtok_r(NULL, " \t\n", &save))
			last = tok;
		if (last)
			snprintf(name, len, "%s", last);
		break;
	}
	fclose(f);
}

static int cmp_irq(const void *a, const void *b)
{
	const struct nic_irq *x = a, *y = b;

	return (x->irq > y->irq) - (x->irq < y->irq);
}

/* Adds irq at n if there is room; the count goes on past max. */
static int add_irq(struct nic_irq *irqs, int n, int max, __u32 irq)
{
	if (n >= max)
		return n + 1;
	irqs[n].irq = irq;
	irq_name(irq, irqs[n].name, sizeof(irqs[n].name));
	irqs[n].queue = queue_from_name(irqs[n].name);
	return n + 1;
}

/* Vectors listed in DIR/msi_irqs (PCI MSI/MSI-X); count or -errno. */
static int irqs_from_msi_dir(const char *dir, struct nic_irq *irqs, int max)
{
	char path[PATH_MAX];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/msi_irqs", dir);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		unsigned long irq = strtoul(de->d_name, &end, 10);

		if (end != de->d_name && !*end)
			n = add_irq(irqs, n, max, irq);
	}
	closedir(d);
	qsort(irqs, n < max ? n : max, sizeof(*irqs), cmp_irq);
	return n;
}

/* True if name is "<prefix>" or starts with "<prefix>-"/":"/"_". */
static bool name_is_of(const char *name, const char *prefix)
{
	size_t l = strlen(prefix);

	return !strncmp(name, prefix, l) &&
	       (!name[l] || strchr("-:_", name[l]));
}

/* Vectors whose /proc/interrupts name belongs to ifname or its device. */
static int irqs_from_proc(const char *ifname, const char *devname,
			  struct nic_irq *irqs, int max)
{
	char line[1024], name[64];
	FILE *f = fopen(PROC_INTERRUPTS, "re");
	int n = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *end;
		unsigned long irq = strtoul(line, &end, 10);

		if (end == line || *end != ':')
			continue;
		irq_name(irq, name, sizeof(name));
		if (name_is_of(name, ifname) ||
		    (devname[0] && name_is_of(name, devname)))
			n = add_irq(irqs, n, max, irq);
	}
	fclose(f);
	return n;
}

int nic_find_disk_irqs(const char *path, struct nic_irq *irqs, int max,
		       char *source, size_t source_len)
{
	char dev[128];
	struct stat st;
	int n;

	if (stat(path, &st))
		return -errno;
	/* whole disk: /sys/dev/block/M:m/device; a partition: its parent */
	snprintf(dev, sizeof(dev), "/sys/dev/block/%u:%u/device",
		 major(st.st_dev), minor(st.st_dev));
	n = nic_find_dev_irqs(dev, irqs, max, source, source_len);
	if (n > 0)
		return n;
	snprintf(dev, sizeof(dev), "/sys/dev/block/%u:%u/../device",
		 major(st.st_dev), minor(st.st_dev));
	return nic_find_dev_irqs(dev, irqs, max, source, source_len);
}

int nic_find_dev_irqs(const char *dev, struct nic_irq *irqs, int max,
		      char *source, size_t source_len)
{
	char real[PATH_MAX], parent[PATH_MAX + 4];
	const char *base;
	int n;

	if (!realpath(dev, real))
		return -errno;
	n = irqs_from_msi_dir(real, irqs, max);
	if (n > 0) {
		snprintf(source, source_len, "%s/msi_irqs", real);
		return n;
	}
	/* virtio: the device sits under the PCI function that has them */
	base = strrchr(real, '/') + 1;
	if (strncmp(base, "virtio", 6))
		return 0;
	snprintf(parent, sizeof(parent), "%s/..", real);
	n = irqs_from_msi_dir(parent, irqs, max);
	if (n > 0)
		snprintf(source, source_len, "%.*s/msi_irqs",
			 (int)(base - real - 1), real);
	return n > 0 ? n : 0;
}

int nic_find_irqs(const char *ifname, struct nic_irq *irqs, int max,
		  char *source, size_t source_len)
{
	char dev[PATH_MAX], real[PATH_MAX];
	const char *devname;
	int n;

	snprintf(dev, sizeof(dev), "/sys/class/net/%s/device", ifname);
	if (!realpath(dev, real)) {
		n = irqs_from_proc(ifname, "", irqs, max);
		if (n > 0)
			snprintf(source, source_len,
				 "%s (names matching %s; no device in sysfs)",
				 PROC_INTERRUPTS, ifname);
		else
			snprintf(source, source_len,
				 "none: %s has no device in sysfs (a virtual "
				 "interface such as veth has no interrupt "
				 "vectors)",
				 ifname);
		return n;
	}
	n = nic_find_dev_irqs(real, irqs, max, source, source_len);
	if (n > 0)
		return n;
	devname = strrchr(real, '/') + 1;
	n = irqs_from_proc(ifname, devname, irqs, max);
	if (n > 0)
		snprintf(source, source_len, "%s (names matching %s or %s)",
			 PROC_INTERRUPTS, ifname, devname);
	else
		snprintf(source, source_len,
			 "none: no msi_irqs for %s and no %s line names %s or "
			 "%s; name the vectors with --irq",
			 real, PROC_INTERRUPTS, ifname, devname);
	return n;
}

/* ---- hardware counters ----------------------------------------------- */

static const struct {
	__u32 type;
	__u64 config;
	const char *name;
} ctr_defs[NIC_NR_COUNTERS] = {
	[NIC_CTR_INSTRUCTIONS] = { PERF_TYPE_HARDWARE,
				   PERF_COUNT_HW_INSTRUCTIONS, "instructions" },
	[NIC_CTR_CYCLES] = { PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES,
			     "cycles" },
	[NIC_CTR_REF_CYCLES] = { PERF_TYPE_HARDWARE,
				 PERF_COUNT_HW_REF_CPU_CYCLES, "ref-cycles" },
	/* the generic cache-misses event is the last-level cache on x86 */
	[NIC_CTR_LLC_MISSES] = { PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES,
				 "llc-misses" },
};

static int perf_open(__u32 type, __u64 config, int cpu)
{
	struct perf_event_attr attr = {
		.size = sizeof(attr),
		.type = type,
		.config = config,
	};

	return syscall(SYS_perf_event_open, &attr, -1, cpu, -1,
		       PERF_FLAG_FD_CLOEXEC);
}

/*
 * Opens every counter on every CPU; a counter that fails on an online
 * CPU is dropped with the reason (VMs rarely expose a PMU).
 */
static void counters_open(struct nic *n)
{
	int k, cpu, *fds;

	fds = malloc(sizeof(int) * NIC_NR_COUNTERS * n->nr_cpus);
	if (!fds) {
		snprintf(n->info.ctr_note, sizeof(n->info.ctr_note),
			 "out of memory");
		return;
	}
	n->ctr_fds = fds;
	for (k = 0; k < NIC_NR_COUNTERS * n->nr_cpus; k++)
		fds[k] = -1;
	for (k = 0; k < NIC_NR_COUNTERS; k++) {
		bool ok = true;

		for (cpu = 0; cpu < n->nr_cpus && ok; cpu++) {
			int fd = perf_open(ctr_defs[k].type, ctr_defs[k].config,
					   cpu);

			if (fd >= 0) {
				fds[k * n->nr_cpus + cpu] = fd;
				continue;
			}
			if (errno == ENODEV) /* offline CPU */
				continue;
			ok = false;
			if (!n->info.ctr_note[0])
				snprintf(n->info.ctr_note,
					 sizeof(n->info.ctr_note),
					 "perf_event_open(%s) failed (%s): "
					 "no hardware PMU exposed here",
					 ctr_defs[k].name, strerror(errno));
		}
		if (ok) {
			n->info.ctr_mask |= 1U << k;
			continue;
		}
		for (cpu = 0; cpu < n->nr_cpus; cpu++) {
			if (fds[k * n->nr_cpus + cpu] >= 0)
				close(fds[k * n->nr_cpus + cpu]);
			fds[k * n->nr_cpus + cpu] = -1;
		}
	}
}

static int counters_install(struct nic *n)
{
	int fd = bpf_map__fd(n->skel->maps.counters), i;

	for (i = 0; n->info.ctr_mask && i < NIC_NR_COUNTERS * n->nr_cpus; i++) {
		__u32 key = i;

		if (n->ctr_fds[i] >= 0 &&
		    bpf_map_update_elem(fd, &key, &n->ctr_fds[i], BPF_ANY))
			return -errno;
	}
	return 0;
}

static void counters_close(struct nic *n)
{
	int i;

	for (i = 0; n->ctr_fds && i < NIC_NR_COUNTERS * n->nr_cpus; i++)
		if (n->ctr_fds[i] >= 0)
			close(n->ctr_fds[i]);
	free(n->ctr_fds);
	n->ctr_fds = NULL;
}

/* ---- bpffs for libxdp -------------------------------------------------- */

/* Names in dir, '/'-separated, into buf (what a fresh bpffs holds). */
static void list_dir(const char *dir, char *buf, size_t len)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	size_t l = 0;

	buf[0] = '\0';
	while (d && (de = readdir(d)) && l + 2 < len) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		l += snprintf(buf + l, len - l, "/%s/", de->d_name);
		l = l < len ? l : len - 1;
	}
	if (d)
		closedir(d);
}

/* True if dir holds an entry that was not in the listing `had`. */
static bool dir_has_new(const char *dir, const char *had)
{
	char name[NAME_MAX + 3];
	struct dirent *de;
	bool found = false;
	DIR *d = opendir(dir);

	while (d && !found && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(name, sizeof(name), "/%s/", de->d_name);
		found = !strstr(had, name);
	}
	if (d)
		closedir(d);
	return found;
}

/*
 * libxdp makes its state (and lock) directory the first time a process
 * needs it and then keeps only the path. bpffs_restore removes the
 * directory when kopt's use made it, so a second nic_open() in the same
 * process (kopt bench collector's rounds) must make it again, or libxdp
 * cannot take its lock and attaches nothing.
 */
static void libxdp_state_dir(struct nic *n)
{
	if (!access(LIBXDP_STATE_DIR, F_OK))
		return;
	if (!n->jd_dir) {
		bpfj_dir_entry(&n->j_dir);
		if (state_record(&n->j_dir)) {
			pr_warn("not making %s: it cannot be journaled; libxdp "
				"may attach the XDP counter alone\n",
				LIBXDP_STATE_DIR);
			return;
		}
		n->jd_dir = true;
	}
	if (mkdir(LIBXDP_STATE_DIR, 0700) && errno != EEXIST)
		pr_warn("mkdir %s failed (%s): libxdp may attach the XDP "
			"counter alone\n",
			LIBXDP_STATE_DIR, strerror(errno));
}

/*
 * libxdp's multiprog dispatcher pins its state under /sys/fs/bpf/xdp;
 * without bpffs there it falls back to attaching one program alone. Mount
 * it when absent (journaled first, undone by bpffs_restore).
 */
static void bpffs_ensure(struct nic *n)
{
	struct stat st;

	if (kopt_is_bpffs(BPFFS_DIR)) {
		n->had_xdp_dir = !access(LIBXDP_STATE_DIR, F_OK);
		libxdp_state_dir(n);
		return;
	}
	bpfj_mount_entry(&n->j_mount, 0, "");
	if (state_record(&n->j_mount)) {
		pr_warn("not mounting bpffs at %s: the mount cannot be "
			"journaled; libxdp attaches the counter alone\n",
			BPFFS_DIR);
		return;
	}
	n->jd_mount = true;
	if (mount("bpf", BPFFS_DIR, "bpf", 0, "mode=0700")) {
		pr_warn("mount bpffs at %s failed (%s): libxdp cannot use its "
			"dispatcher and attaches the counter alone\n",
			BPFFS_DIR, strerror(errno));
		state_forget(&n->j_mount);
		n->jd_mount = false;
		return;
	}
	if (!stat(BPFFS_DIR, &st))
		n->bpffs_dev = st.st_dev;
	/* a fresh bpffs may hold maps.debug/progs.debug (bpf_preload) */
	list_dir(BPFFS_DIR, n->bpffs_fresh, sizeof(n->bpffs_fresh));
	bpfj_mount_entry(&n->j_mount, n->bpffs_dev, n->bpffs_fresh);
	state_update(&n->j_mount);
	n->info.bpffs_mounted = true;
	libxdp_state_dir(n);
	pr_info("mounted bpffs at %s for libxdp's dispatcher; it is "
		"unmounted on exit\n",
		BPFFS_DIR);
}

/* The normal path undid what the journal entry says: drop it. */
static void forget(struct state_entry *e, bool *recorded)
{
	if (*recorded)
		state_forget(e);
	*recorded = false;
}

static void bpffs_restore(struct nic *n)
{
	struct stat st;

	if (!n->info.bpffs_mounted) {
		/* libxdp made its state dir; remove it if it made it empty */
		if (!n->had_xdp_dir && kopt_is_bpffs(BPFFS_DIR))
			rmdir(LIBXDP_STATE_DIR); /* in use by others: kept */
		forget(&n->j_dir, &n->jd_dir);
		return;
	}
	n->info.bpffs_mounted = false;
	if (stat(BPFFS_DIR, &st) || st.st_dev != n->bpffs_dev) {
		pr_warn("bpffs at %s is no longer the one kopt mounted; left "
			"as is\n",
			BPFFS_DIR);
		forget(&n->j_dir, &n->jd_dir);
		forget(&n->j_mount, &n->jd_mount);
		return;
	}
	rmdir(LIBXDP_STATE_DIR);
	forget(&n->j_dir, &n->jd_dir);
	if (dir_has_new(BPFFS_DIR, n->bpffs_fresh)) {
		pr_warn("bpffs kopt mounted at %s now holds other pins; left "
			"mounted (umount %s when done)\n",
			BPFFS_DIR, BPFFS_DIR);
		forget(&n->j_mount, &n->jd_mount);
		return;
	}
	if (umount2(BPFFS_DIR, 0))
		pr_warn("umount %s failed (%s); run 'umount %s', or `kopt "
			"restore` after this kopt ends\n",
			BPFFS_DIR, strerror(errno), BPFFS_DIR);
	else
		forget(&n->j_mount, &n->jd_mount);
}

/* ---- XDP with libxdp ---------------------------------------------------- */

/* libxdp's warnings and notes during one attach: why it fell back. */
static char libxdp_last_warn[256];

static int libxdp_print(enum libxdp_print_level level, const char *fmt,
			va_list ap)
{
	size_t l = strlen(libxdp_last_warn);
	va_list cp;

	if (level != LIBXDP_DEBUG && l + 3 < sizeof(libxdp_last_warn)) {
		if (l) {
			strcpy(libxdp_last_warn + l, "; ");
			l += 2;
		}
		va_copy(cp, ap);
		vsnprintf(libxdp_last_warn + l, sizeof(libxdp_last_warn) - l,
			  fmt, cp);
		va_end(cp);
		libxdp_last_warn[strcspn(libxdp_last_warn, "\n")] = '\0';
	}
	if (kopt_env.verbose < 1 ||
	    (level == LIBXDP_DEBUG && kopt_env.verbose < 2))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static const char *xdp_mode_name(enum xdp_attach_mode m)
{
	return m == XDP_MODE_NATIVE ? "native" :
	       m == XDP_MODE_SKB    ? "skb" :
				      "none";
}

static void note_add(struct nic *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends to the XDP note, "; "-separated. */
static void note_add(struct nic *n, const char *fmt, ...)
{
	char *note = n->info.xdp_note;
	size_t l = strlen(note);
	va_list ap;

	if (l && l + 2 < sizeof(n->info.xdp_note)) {
		strcpy(note + l, "; ");
		l += 2;
	}
	va_start(ap, fmt);
	vsnprintf(note + l, sizeof(n->info.xdp_note) - l, fmt, ap);
	va_end(ap);
}

static int xdp_try_attach(struct nic *n, enum xdp_attach_mode mode, char *why,
			  size_t why_len)
{
	char buf[128];
	int err;

	libxdp_last_warn[0] = '\0';
	/* journaled before the attach: the id comes with the attach */
	bpfj_xdp_entry(&n->j_xdp, n->info.ifname, n->info.ifindex,
		       xdp_mode_name(mode), 0, "nic_xdp_count");
	err = state_record(&n->j_xdp);
	if (err) {
		snprintf(why, why_len,
			 "%s XDP attach to %s not tried: it cannot be "
			 "journaled (%s; see above)",
			 xdp_mode_name(mode), n->info.ifname, strerror(-err));
		return err;
	}
	n->jd_xdp = true;
	err = xdp_program__attach(n->xprog, n->info.ifindex, mode, 0);
	if (!err) {
		n->j_xdp.original = xdp_program__id(n->xprog);
		state_update(&n->j_xdp);
	} else {
		forget(&n->j_xdp, &n->jd_xdp);
	}
	if (!err) {
		n->xdp_attached = mode;
		return 0;
	}
	libxdp_strerror(err, buf, sizeof(buf));
	snprintf(why, why_len, "%s XDP attach to %s refused (%s)%s%.160s",
		 xdp_mode_name(mode), n->info.ifname, buf,
		 libxdp_last_warn[0] ? ": " : "", libxdp_last_warn);
	return err;
}

/* Was the counter attached through libxdp's dispatcher? Note why not. */
static void xdp_note_mode(struct nic *n, const char *dispatcher_warn)
{
	struct xdp_multiprog *mp;

	mp = xdp_multiprog__get_from_ifindex(n->info.ifindex);
	if (libxdp_get_error(mp) || !mp)
		return;
	n->info.xdp_multiprog = !xdp_multiprog__is_legacy(mp);
	if (n->info.xdp_multiprog) {
		n->xmp = mp;
		return;
	}
	xdp_multiprog__close(mp);
	note_add(
		n,
		"libxdp attached the counter alone (legacy mode, no "
		"dispatcher%s%.200s%s): other XDP programs cannot join it until "
		"kopt detaches",
		dispatcher_warn[0] ? ": " : "", dispatcher_warn,
		/* the dispatcher chains programs with freplace */
		strstr(dispatcher_warn, "not permitted") ?
			"; its freplace programs need BPF trampolines, which "
			"kernel lockdown refuses" :
			"");
}

static int xdp_open(struct nic *n)
{
	DECLARE_LIBXDP_OPTS(xdp_program_opts, xopts);
	struct nic_xdp_bpf *x;
	int err;

	x = nic_xdp_bpf__open();
	if (!x)
		return -errno;
	n->xskel = x;
	x->rodata->track_queues = n->on_record != NULL;
	err = bpf_map__reuse_fd(x->maps.nic_percpu,
				bpf_map__fd(n->skel->maps.nic_percpu));
	if (!err)
		err = bpf_map__reuse_fd(x->maps.nic_queues,
					bpf_map__fd(n->skel->maps.nic_queues));
	if (err)
		return err;
	bpf_program__set_autoload(x->progs.nic_xdp_empty, false);
	xopts.obj = x->obj;
	xopts.prog_name = "nic_xdp_count";
	n->xprog = xdp_program__create(&xopts);
	err = libxdp_get_error(n->xprog);
	if (err)
		n->xprog = NULL;
	return err;
}

/*
 * Attaches the counter: native first in NIC_XDP_AUTO mode, then generic.
 * In NIC_XDP_AUTO mode a refusal leaves XDP off with a note (returns 0);
 * in an explicit mode it is an error.
 */
static int xdp_attach(struct nic *n, enum nic_xdp_mode want)
{
	char why[512] = "", dispatcher_warn[256] = "";
	int err = -EINVAL;

	libxdp_set_print(libxdp_print);
	err = xdp_open(n);
	if (err) {
		note_add(n, "opening the XDP counter failed (%s)",
			 strerror(-err));
		return want == NIC_XDP_AUTO ? 0 : err;
	}
	bpffs_ensure(n);
	if (want != NIC_XDP_SKB) {
		err = xdp_try_attach(n, XDP_MODE_NATIVE, why, sizeof(why));
		if (err)
			note_add(n, "%s", why);
		snprintf(dispatcher_warn, sizeof(dispatcher_warn), "%s",
			 libxdp_last_warn);
	}
	if (want == NIC_XDP_SKB || (want == NIC_XDP_AUTO && err)) {
		err = xdp_try_attach(n, XDP_MODE_SKB, why, sizeof(why));
		if (err)
			note_add(n, "%s", why);
		else if (want == NIC_XDP_AUTO)
			note_add(n, "using generic (skb) mode");
		snprintf(dispatcher_warn, sizeof(dispatcher_warn), "%s",
			 libxdp_last_warn);
	}
	n->info.xdp_mode = xdp_mode_name(n->xdp_attached);
	if (err) {
		xdp_program__close(n->xprog);
		n->xprog = NULL;
		return want == NIC_XDP_AUTO ? 0 : err;
	}
	n->xdp_on = true;
	xdp_note_mode(n, dispatcher_warn);
	return 0;
}

/* Takes the counter off the interface; its maps stay readable. */
static void xdp_detach(struct nic *n)
{
	char buf[128];
	int err;

	xdp_multiprog__close(n->xmp);
	n->xmp = NULL;
	if (n->xprog && n->xdp_attached != XDP_MODE_UNSPEC) {
		err = xdp_program__detach(n->xprog, n->info.ifindex,
					  n->xdp_attached, 0);
		if (err) {
			libxdp_strerror(err, buf, sizeof(buf));
			pr_warn("detaching the XDP counter from %s failed (%s); "
				"`kopt restore` retries after this kopt ends\n",
				n->info.ifname, buf);
		} else {
			forget(&n->j_xdp, &n->jd_xdp);
		}
		n->xdp_attached = XDP_MODE_UNSPEC;
	}
	xdp_program__close(n->xprog);
	n->xprog = NULL;
}

/* ---- tracepoint programs ------------------------------------------------- */

static __u32 netns_inode(void)
{
	struct stat st;

	if (stat("/proc/thread-self/ns/net", &st))
		return 0;
	return (__u32)st.st_ino;
}

/*
 * sysfs shows the namespace it was mounted in: trust its device links
 * only when its ifindex for the name is ours.
 */
static bool sysfs_is_ours(const char *ifname, int ifindex)
{
	char path[PATH_MAX], buf[32];

	snprintf(path, sizeof(path), "/sys/class/net/%s/ifindex", ifname);
	if (kopt_read_line(path, buf, sizeof(buf)))
		return true; /* absent: discovery reports "no device" */
	return atoi(buf) == ifindex;
}

static int find_vectors(struct nic *n, const struct nic_opts *o)
{
	struct nic_info *in = &n->info;
	int i, cnt;

	if (o->nr_irqs > 0) {
		if (o->nr_irqs > NIC_MAX_IRQS)
			return -E2BIG;
		for (i = 0; i < o->nr_irqs; i++)
			add_irq(in->irqs, i, NIC_MAX_IRQS, o->irqs[i]);
		in->nr_irqs = o->nr_irqs;
		snprintf(in->irq_source, sizeof(in->irq_source),
			 "given by the caller (--irq)");
		return 0;
	}
	if (!sysfs_is_ours(in->ifname, in->ifindex)) {
		snprintf(in->irq_source, sizeof(in->irq_source),
			 "none found: /sys shows another network namespace "
			 "(run under 'ip netns exec', which remounts it, or "
			 "name the vectors with --irq)");
		return 0;
	}
	cnt = nic_find_irqs(in->ifname, in->irqs, NIC_MAX_IRQS, in->irq_source,
			    sizeof(in->irq_source));
	if (cnt > NIC_MAX_IRQS) {
		/*
		 * The BPF side scans a fixed list per interrupt; following
		 * part of the NIC silently would undercount its rates.
		 */
		pr_warn("%s has %d interrupt vectors (%s); the collector "
			"follows at most %d: name the ones to trace with --irq "
			"(the vectors of the queues the service uses)\n",
			in->ifname, cnt, in->irq_source, NIC_MAX_IRQS);
		return -E2BIG;
	}
	in->nr_irqs = cnt > 0 ? cnt : 0;
	return 0;
}

/*
 * Idle states the records carry: the most cpuidle states any CPU has,
 * and at least 2, because default_idle_call() (no cpuidle driver, as in
 * most VMs) reports state 1. Deeper ones fold into the last.
 */
static __u32 idle_state_count(void)
{
	__u32 most = 2;
	glob_t g;
	size_t i;

	if (glob("/sys/devices/system/cpu/cpu[0-9]*/cpuidle/state[0-9]*", 0,
		 NULL, &g))
		return most;
	for (i = 0; i < g.gl_pathc; i++) {
		const char *p = strrchr(g.gl_pathv[i], 'e'); /* "state" */
		unsigned long k = strtoul(p + 1, NULL, 10);

		if (k + 1 > most)
			most = k + 1 < NIC_NR_IDLE_STATES ? k + 1 :
							    NIC_NR_IDLE_STATES;
	}
	globfree(&g);
	return most;
}

static void set_rodata(struct nic *n)
{
	struct nic_bpf__rodata *ro = n->skel->rodata;
	int i;

	n->rec_idle_states = idle_state_count();
	n->rec_ctr_words = n->info.ctr_mask ? NIC_NR_COUNTERS : 0;
	n->rec_words =
		NIC_WIRE_HDR_WORDS + n->rec_idle_states + n->rec_ctr_words;
	n->info.record_bytes = n->rec_words * sizeof(__u64);
	n->info.idle_states = n->rec_idle_states;
	ro->rec_idle_states = n->rec_idle_states;
	ro->rec_ctr_words = n->rec_ctr_words;
	ro->rec_words = n->rec_words;
	ro->wakeup_bytes = n->info.ring_bytes / 4;

	ro->target_ifindex = n->info.ifindex;
	ro->target_netns = netns_inode();
	ro->nr_irqs = n->info.nr_irqs;
	for (i = 0; i < n->info.nr_irqs; i++) {
		ro->irq_list[i] = n->info.irqs[i].irq;
		ro->irq_queue[i] = n->info.irqs[i].queue;
		_Static_assert(NIC_MAX_IRQS < 255, "slot + 1 in a byte");
		if (n->info.irqs[i].irq < NIC_IRQ_INDEX)
			ro->irq_index[n->info.irqs[i].irq] = i + 1;
	}
	ro->emit_records = n->on_record != NULL;
	ro->irq_timed = n->info.irq_timed;
	ro->napi_records = n->on_record && !n->info.nr_irqs;
	ro->ctr_mask = n->info.ctr_mask;
	ro->nr_cpus = n->nr_cpus;
}

static int skel_load(struct nic *n)
{
	int err;

	n->skel = nic_bpf__open();
	if (!n->skel) {
		err = -errno;
		pr_warn("opening bpf/nic.bpf.o failed (%s)\n", strerror(-err));
		return err;
	}
	set_rodata(n);
	/* no vectors: the irq programs would only cost every interrupt */
	bpf_program__set_autoload(n->skel->progs.nic_irq_entry,
				  n->info.nr_irqs > 0 && n->info.irq_timed);
	bpf_program__set_autoload(n->skel->progs.nic_cpu_idle, !n->rates_only);
	bpf_program__set_autoload(n->skel->progs.nic_irq_exit,
				  n->info.nr_irqs > 0);
	if (n->info.ctr_mask)
		bpf_map__set_max_entries(n->skel->maps.counters,
					 NIC_NR_COUNTERS * n->nr_cpus);
	/* without records the ring only has to exist */
	bpf_map__set_max_entries(n->skel->maps.records,
				 n->on_record ? n->info.ring_bytes :
						(__u32)getpagesize());
	err = nic_bpf__load(n->skel);
	if (err) {
		pr_warn("loading bpf/nic.bpf.o failed (%s); run 'kopt -vv "
			"collect nic' for the verifier log\n",
			strerror(-err));
		return err;
	}
	err = counters_install(n);
	if (err)
		pr_warn("installing perf counters failed (%s)\n",
			strerror(-err));
	return err;
}

static int attach_progs(struct nic *n)
{
	struct bpf_program *p;
	struct bpf_link *link;
	int err;

	bpf_object__for_each_program(p, n->skel->obj) {
		const char *name = bpf_program__name(p);
		bool idle = p == n->skel->progs.nic_cpu_idle;

		if (!bpf_program__autoload(p))
			continue;
		link = bpf_program__attach(p);
		err = libbpf_get_error(link);
		if (!err) {
			if (idle)
				n->skel->links.nic_cpu_idle = link;
			else if (p == n->skel->progs.nic_irq_entry)
				n->skel->links.nic_irq_entry = link;
			else if (p == n->skel->progs.nic_irq_exit)
				n->skel->links.nic_irq_exit = link;
			else if (p == n->skel->progs.nic_rx)
				n->skel->links.nic_rx = link;
			else if (p == n->skel->progs.nic_tx)
				n->skel->links.nic_tx = link;
			else
				n->skel->links.nic_napi = link;
			n->info.idle_attached |= idle;
			continue;
		}
		if (idle) {
			/* idle residency is optional: say so, go on */
			pr_warn("attaching %s (tp_btf/cpu_idle) failed (%s): "
				"no idle times\n",
				name, strerror(-err));
			continue;
		}
		pr_warn("attaching %s (%s) failed (%s)\n", name,
			bpf_program__section_name(p), strerror(-err));
		return err;
	}
	return 0;
}

static void malformed(struct nic *n, const char *why)
{
	if (!n->malformed++)
		pr_warn("collector: record refused (%s); further refusals "
			"are counted and reported at stop\n",
			why);
}

/*
 * A queue's counters as they stand (acc, at ts) into r: delta and gap_ns
 * since lq, the queue's previous record on that CPU, which becomes this
 * one. False if no counter moved.
 */
static bool queue_delta(struct rec_last_queue *lq,
			const struct nic_queue_acc *acc, __u64 ts,
			struct nic_record *r)
{
	const __u64 *now = (const __u64 *)acc;
	__u64 *last = (__u64 *)&lq->acc, *d = (__u64 *)&r->delta;
	bool moved = false;
	size_t i;

	_Static_assert(sizeof(struct nic_queue_acc) % sizeof(__u64) == 0,
		       "acc is counters only");
	for (i = 0; i < sizeof(*acc) / sizeof(__u64); i++) {
		d[i] = now[i] - last[i];
		moved |= d[i] != 0;
		last[i] = now[i];
	}
	r->gap_ns = lq->ts_ns ? ts - lq->ts_ns : 0;
	lq->ts_ns = ts;
	return moved;
}

/*
 * Turns a record as BPF wrote it (cumulative counters, struct nic_wire)
 * into what it means: differences since the queue's previous record on
 * that CPU, idle and counters since that CPU's previous record.
 */
static void decode_record(struct nic *n, const __u64 *w)
{
	const struct nic_wire *h = (const void *)w;
	const __u64 *idle = w + NIC_WIRE_HDR_WORDS;
	const __u64 *ctr = idle + n->rec_idle_states;
	struct rec_last_cpu *lc;
	struct nic_record r;
	__u32 i, bit;

	if (h->cpu >= n->nr_cpus || h->queue >= NIC_MAX_QUEUES) {
		malformed(n, "cpu or queue out of range");
		return;
	}
	memset(&r, 0, sizeof(r));
	r.ts_ns = h->ts_ns;
	r.handler_ns = h->handler_ns;
	r.cpu = h->cpu;
	r.irq = h->irq;
	r.queue = h->queue;
	r.kind = h->kind;
	r.ret = h->ret;
	r.flags = h->flags;
	queue_delta(&n->last_q[h->cpu * NIC_MAX_QUEUES + h->queue], &h->acc,
		    h->ts_ns, &r);
	lc = &n->last_cpu[h->cpu];
	if (h->flags & NIC_REC_F_IDLE) {
		r.idle_ns = h->idle_ns - lc->idle_ns;
		lc->idle_ns = h->idle_ns;
		for (i = 0; i < n->rec_idle_states; i++) {
			r.idle_state_ns[i] = idle[i] - lc->idle_state_ns[i];
			lc->idle_state_ns[i] = idle[i];
		}
	}
	for (i = 0; i < n->rec_ctr_words; i++) {
		bit = 1U << i;
		if (!(h->ctr_mask & bit))
			continue;
		/* the first reading on a CPU only starts the count */
		if (lc->ctr_seen & bit) {
			r.ctr[i] = ctr[i] - lc->ctr[i];
			r.ctr_mask |= bit;
		}
		lc->ctr[i] = ctr[i];
		lc->ctr_seen |= bit;
	}
	n->on_record(n->ctx, &r);
}

/* A sample is a batch of records (bpf/nic.bpf.c stages them per CPU). */
static int on_ring_batch(void *ctx, void *data, size_t size)
{
	struct nic *n = ctx;
	size_t rec = n->rec_words * sizeof(__u64), i;

	if (size % rec) {
		malformed(n, "ring sample is not whole records");
		return 0;
	}
	for (i = 0; i < size / rec; i++)
		decode_record(n, (const __u64 *)data + i * n->rec_words);
	n->ring_delivered += size / rec;
	return 0;
}

struct nic *nic_open(const char *ifname, const struct nic_opts *opts)
{
	static const struct nic_opts defaults = {};
	const struct nic_opts *o = opts ? opts : &defaults;
	struct nic *n;
	int err;

	if (!ifname || strlen(ifname) >= IF_NAMESIZE) {
		errno = EINVAL;
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	snprintf(n->info.ifname, sizeof(n->info.ifname), "%s", ifname);
	n->info.xdp_mode = "none";
	n->on_record = o->on_record;
	/* records carry handler times and idle: rates only is for windows */
	n->rates_only = o->rates_only && !o->on_record;
	n->info.irq_timed = !n->rates_only;
	n->ctx = o->ctx;
	n->info.ifindex = if_nametoindex(ifname);
	if (!n->info.ifindex) {
		err = -errno;
		pr_warn("interface '%s' not found in this network namespace "
			"(%s); list them with 'ip link'\n",
			ifname, strerror(-err));
		goto fail;
	}
	n->nr_cpus = libbpf_num_possible_cpus();
	if (n->nr_cpus <= 0) {
		err = n->nr_cpus;
		goto fail;
	}
	_Static_assert(NIC_RING_MIN_BYTES > NIC_BATCH * NIC_WIRE_MAX_WORDS * 8,
		       "the smallest ring takes a batch");
	if (o->ring_bytes && (o->ring_bytes & (o->ring_bytes - 1) ||
			      o->ring_bytes < NIC_RING_MIN_BYTES ||
			      o->ring_bytes > NIC_RING_MAX_BYTES)) {
		pr_warn("ring buffer of %u bytes refused: need a power of two "
			"from %u to %u\n",
			o->ring_bytes, NIC_RING_MIN_BYTES, NIC_RING_MAX_BYTES);
		err = -EINVAL;
		goto fail;
	}
	if (n->on_record)
		n->info.ring_bytes = o->ring_bytes ? o->ring_bytes :
						     NIC_RINGBUF_BYTES;
	err = find_vectors(n, o);
	if (err)
		goto fail;
	if (o->no_counters)
		snprintf(n->info.ctr_note, sizeof(n->info.ctr_note),
			 "not requested");
	else if (n->on_record)
		counters_open(n);
	else
		snprintf(n->info.ctr_note, sizeof(n->info.ctr_note),
			 "read per record only; records are off");
	err = skel_load(n);
	if (!err) {
		/* the value starts with struct nic_stats; the rest is BPF's */
		n->percpu_size =
			(bpf_map__value_size(n->skel->maps.nic_percpu) + 7) &
			~(size_t)7;
		n->percpu_buf = calloc(n->nr_cpus, n->percpu_size);
		err = n->percpu_buf ? attach_progs(n) : -ENOMEM;
	}
	if (!err && o->xdp_mode != NIC_XDP_NONE) {
		err = xdp_attach(n, o->xdp_mode);
		if (err)
			pr_warn("%s\n", n->info.xdp_note);
	} else if (!err) {
		snprintf(n->info.xdp_note, sizeof(n->info.xdp_note),
			 "not requested");
	}
	if (!err && n->on_record) {
		n->last_q = calloc((size_t)n->nr_cpus * NIC_MAX_QUEUES,
				   sizeof(*n->last_q));
		n->last_cpu = calloc(n->nr_cpus, sizeof(*n->last_cpu));
		if (!n->last_q || !n->last_cpu)
			err = -ENOMEM;
	}
	if (!err && n->on_record) {
		n->rb = ring_buffer__new(bpf_map__fd(n->skel->maps.records),
					 on_ring_batch, n, NULL);
		if (!n->rb)
			err = -errno;
	}
	if (err)
		goto fail;
	nic_read_totals(n, &n->prev);
	n->prev_s = kopt_now_s();
	return n;
fail:
	nic_close(n);
	errno = err < 0 ? -err : EINVAL;
	return NULL;
}

const struct nic_info *nic_info(const struct nic *nic)
{
	return &nic->info;
}

int nic_poll(struct nic *nic, int timeout_ms)
{
	int err;

	if (!nic->rb) {
		if (timeout_ms > 0)
			usleep(timeout_ms * 1000);
		return 0;
	}
	/*
	 * BPF wakes us only when the ring fills up (a wakeup per record
	 * costs an interrupt): the wait is a timer, then drain.
	 */
	err = ring_buffer__poll(nic->rb, timeout_ms);
	if (err < 0)
		return err;
	return ring_buffer__consume(nic->rb);
}

int nic_read_totals(struct nic *nic, struct nic_stats *out)
{
	const struct nic_stats *per;
	__u32 zero = 0;
	int cpu, i;

	if (bpf_map_lookup_elem(bpf_map__fd(nic->skel->maps.nic_percpu), &zero,
				nic->percpu_buf))
		return -errno;
	memset(out, 0, sizeof(*out));
	for (cpu = 0; cpu < nic->nr_cpus; cpu++) {
		per = (const void *)((char *)nic->percpu_buf +
				     cpu * nic->percpu_size);
		for (i = 0; i < NIC_NR_STATS; i++)
			out->v[i] += per->v[i];
	}
	out->v[NIC_STAT_RECORDS] += nic->staged_delivered;
	return 0;
}

static double ratio(double num, double den)
{
	return den > 0 ? num / den : NAN;
}

int nic_read_window(struct nic *nic, struct nic_window *w)
{
	struct nic_stats cur;
	const __u64 *d;
	double t, s;
	int i, err;

	err = nic_read_totals(nic, &cur);
	if (err)
		return err;
	t = kopt_now_s();
	memset(w, 0, sizeof(*w));
	for (i = 0; i < NIC_NR_STATS; i++)
		w->delta.v[i] = cur.v[i] - nic->prev.v[i];
	s = t - nic->prev_s;
	nic->prev = cur;
	nic->prev_s = t;
	d = w->delta.v;
	w->seconds = s;
	w->rx_pps = ratio(d[NIC_STAT_RX_PKTS], s);
	w->rx_Bps = ratio(d[NIC_STAT_RX_BYTES], s);
	w->tx_pps = ratio(d[NIC_STAT_TX_PKTS], s);
	w->tx_Bps = ratio(d[NIC_STAT_TX_BYTES], s);
	w->xdp_pps = ratio(d[NIC_STAT_XDP_PKTS], s);
	w->xdp_Bps = ratio(d[NIC_STAT_XDP_BYTES], s);
	w->qps = nic->xdp_on ? ratio(d[NIC_STAT_XDP_DATA_PKTS], s) : w->rx_pps;
	w->irq_rate = ratio(d[NIC_STAT_IRQS], s);
	w->irq_ns_mean = nic->info.irq_timed ?
				 ratio(d[NIC_STAT_IRQ_NS], d[NIC_STAT_IRQS]) :
				 NAN;
	w->pkts_per_irq = ratio(d[NIC_STAT_RX_PKTS], d[NIC_STAT_IRQS]);
	w->napi_rate = ratio(d[NIC_STAT_NAPI_POLLS], s);
	w->napi_work_mean =
		ratio(d[NIC_STAT_NAPI_WORK], d[NIC_STAT_NAPI_POLLS]);
	w->napi_full_frac =
		ratio(d[NIC_STAT_NAPI_FULL], d[NIC_STAT_NAPI_POLLS]);
	w->batch = d[NIC_STAT_IRQS] ? w->pkts_per_irq : w->napi_work_mean;
	w->idle_frac = d[NIC_STAT_IDLE_EXITS] ?
			       ratio(d[NIC_STAT_IDLE_NS],
				     s * NS_PER_S * nic->nr_cpus) :
			       NAN;
	w->records = d[NIC_STAT_RECORDS];
	w->lost = d[NIC_STAT_LOST];
	return 0;
}

int nic_read_xdp_queues(struct nic *nic, struct nic_xdp_count *out,
			int max_queues)
{
	struct nic_xdp_count *per;
	__u32 q;
	int fd, cpu;

	if (!nic->xskel || !nic->xdp_on)
		return 0;
	per = calloc(nic->nr_cpus, sizeof(*per));
	if (!per)
		return -ENOMEM;
	fd = bpf_map__fd(nic->xskel->maps.nic_xdp_queues);
	for (q = 0; q < (__u32)max_queues && q < NIC_MAX_QUEUES; q++) {
		memset(&out[q], 0, sizeof(out[q]));
		if (bpf_map_lookup_elem(fd, &q, per))
			continue;
		for (cpu = 0; cpu < nic->nr_cpus; cpu++) {
			out[q].pkts += per[cpu].pkts;
			out[q].bytes += per[cpu].bytes;
			out[q].data_pkts += per[cpu].data_pkts;
		}
	}
	free(per);
	return q;
}

int nic_prog_fds(const struct nic *nic, const char **names, int *fds, int max)
{
	struct bpf_program *p;
	int n = 0;

	bpf_object__for_each_program(p, nic->skel->obj) {
		if (n >= max)
			break;
		names[n] = bpf_program__name(p);
		fds[n++] = bpf_program__fd(p);
	}
	if (nic->xmp && n < max) {
		/* what runs per packet: the dispatcher, then the counter */
		names[n] = "nic_xdp_count_via_dispatcher";
		fds[n++] = xdp_program__fd(xdp_multiprog__main_prog(nic->xmp));
	} else if (nic->xdp_on && n < max) {
		names[n] = bpf_program__name(nic->xskel->progs.nic_xdp_count);
		fds[n++] = bpf_program__fd(nic->xskel->progs.nic_xdp_count);
	}
	return n;
}

/* Records still staged per CPU; only safe once nothing is attached. */
static void deliver_staged(struct nic *nic)
{
	const struct nic_percpu *pc;
	__u32 zero = 0, i;
	int cpu;

	if (!nic->on_record ||
	    bpf_map_lookup_elem(bpf_map__fd(nic->skel->maps.nic_percpu), &zero,
				nic->percpu_buf))
		return;
	for (cpu = 0; cpu < nic->nr_cpus; cpu++) {
		pc = (const void *)((char *)nic->percpu_buf +
				    cpu * nic->percpu_size);
		for (i = 0; i < pc->nr_staged && i < NIC_BATCH; i++) {
			decode_record(nic, &pc->stage[i * nic->rec_words]);
			nic->staged_delivered++;
		}
	}
}

/*
 * What each CPU counted for a queue after the queue's last record there
 * (or with no record there at all): a NIC_REC_END record per CPU and
 * queue with counts, so that the records add up to the totals. Only safe
 * once nothing is attached.
 */
static void deliver_end(struct nic *nic)
{
	struct nic_queue_acc *accs;
	struct nic_record r;
	__u64 now;
	__u32 q;
	int fd, cpu;

	/* the kernel copies per-CPU values 8-byte aligned, as laid out here */
	_Static_assert(sizeof(struct nic_queue_acc) % 8 == 0, "acc stride");
	if (!nic->on_record)
		return;
	accs = calloc(nic->nr_cpus, sizeof(*accs));
	if (!accs)
		return;
	now = kopt_mono_ns();
	fd = bpf_map__fd(nic->skel->maps.nic_queues);
	for (q = 0; q < NIC_MAX_QUEUES; q++) {
		if (bpf_map_lookup_elem(fd, &q, accs))
			continue;
		for (cpu = 0; cpu < nic->nr_cpus; cpu++) {
			memset(&r, 0, sizeof(r));
			if (!queue_delta(&nic->last_q[cpu * NIC_MAX_QUEUES + q],
					 &accs[cpu], now, &r))
				continue;
			r.ts_ns = now;
			r.cpu = cpu;
			r.irq = NIC_IRQ_NONE;
			r.queue = q;
			r.kind = NIC_REC_END;
			nic->on_record(nic->ctx, &r);
		}
	}
	free(accs);
}

/* Records the programs put in the ring, by their own count. */
static __u64 ring_counted(struct nic *nic)
{
	const struct nic_stats *per;
	__u32 zero = 0;
	__u64 sum = 0;
	int cpu;

	if (bpf_map_lookup_elem(bpf_map__fd(nic->skel->maps.nic_percpu), &zero,
				nic->percpu_buf))
		return nic->ring_delivered;
	for (cpu = 0; cpu < nic->nr_cpus; cpu++) {
		per = (const void *)((char *)nic->percpu_buf +
				     cpu * nic->percpu_size);
		sum += per->v[NIC_STAT_RECORDS];
	}
	return sum;
}

/*
 * Detaching does not wait for a program that is already running on
 * another CPU (the kernel frees it after an RCU grace period), so a batch
 * can reach the ring after one consume: drain until the ring delivered
 * every record the programs counted, for at most DRAIN_MAX_MS.
 */
#define DRAIN_MAX_MS 200
static void drain_ring(struct nic *nic)
{
	for (int ms = 0; ms < DRAIN_MAX_MS; ms++) {
		ring_buffer__consume(nic->rb);
		if (ring_counted(nic) == nic->ring_delivered)
			return;
		usleep(1000);
	}
}

int nic_stop(struct nic *nic)
{
	if (nic->stopped)
		return 0;
	nic->stopped = true;
	/* interface first: XDP off, then what nic_open mounted */
	xdp_detach(nic);
	bpffs_restore(nic);
	if (nic->skel)
		nic_bpf__detach(nic->skel);
	if (!nic->rb || !nic->percpu_buf)
		return 0;
	drain_ring(nic);
	deliver_staged(nic);
	deliver_end(nic);
	if (nic->malformed)
		pr_warn("collector: %llu records refused in all\n",
			(unsigned long long)nic->malformed);
	return 0;
}

void nic_close(struct nic *nic)
{
	if (!nic)
		return;
	nic_stop(nic);
	ring_buffer__free(nic->rb);
	nic_xdp_bpf__destroy(nic->xskel);
	nic_bpf__destroy(nic->skel);
	counters_close(nic);
	free(nic->percpu_buf);
	free(nic->last_q);
	free(nic->last_cpu);
	free(nic);
}

/* ---- CSV ----------------------------------------------------------------- */

/* "irq", "napi", "end" (enum nic_rec_kind): the CSV's kind column. */
static const char *rec_kind_name(__u16 kind)
{
	switch (kind) {
	case NIC_REC_IRQ:
		return "irq";
	case NIC_REC_NAPI:
		return "napi";
	case NIC_REC_END:
		return "end";
	}
	return "?";
}

void nic_csv_header(FILE *f)
{
	int i;

	fprintf(f, "ts_ns,cpu,irq,queue,kind,handler_ns,gap_ns,rx_packets,"
		   "rx_bytes,tx_packets,tx_bytes,xdp_packets,xdp_bytes,"
		   "napi_polls,napi_work_packets,napi_budget_packets,idle_ns");
	for (i = 0; i < NIC_NR_IDLE_STATES; i++)
		fprintf(f, ",idle_state%d_ns", i);
	fprintf(f, ",instructions,cycles,ref_cycles,llc_misses\n");
}

void nic_csv_record(FILE *f, const struct nic_record *r)
{
	const struct nic_queue_acc *d = &r->delta;
	int i;

	fprintf(f, "%llu,%u,", (unsigned long long)r->ts_ns, r->cpu);
	if (r->irq != NIC_IRQ_NONE)
		fprintf(f, "%u", r->irq);
	fprintf(f,
		",%u,%s,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,"
		"%llu",
		r->queue, rec_kind_name(r->kind),
		(unsigned long long)r->handler_ns,
		(unsigned long long)r->gap_ns, (unsigned long long)d->rx_pkts,
		(unsigned long long)d->rx_bytes, (unsigned long long)d->tx_pkts,
		(unsigned long long)d->tx_bytes,
		(unsigned long long)d->xdp_pkts,
		(unsigned long long)d->xdp_bytes,
		(unsigned long long)d->napi_polls,
		(unsigned long long)d->napi_work,
		(unsigned long long)d->napi_budget);
	/* absent data is an empty cell, never a made-up 0 */
	if (r->flags & NIC_REC_F_IDLE) {
		fprintf(f, ",%llu", (unsigned long long)r->idle_ns);
		for (i = 0; i < NIC_NR_IDLE_STATES; i++)
			fprintf(f, ",%llu",
				(unsigned long long)r->idle_state_ns[i]);
	} else {
		for (i = 0; i <= NIC_NR_IDLE_STATES; i++)
			fprintf(f, ",");
	}
	for (i = 0; i < NIC_NR_COUNTERS; i++) {
		if (r->ctr_mask & (1U << i))
			fprintf(f, ",%llu", (unsigned long long)r->ctr[i]);
		else
			fprintf(f, ",");
	}
	fprintf(f, "\n");
}
