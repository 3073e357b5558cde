// SPDX-License-Identifier: GPL-2.0-only
/*
 * koptd: kopt as a service. One process per host owns the jobs (the
 * energy controller, the migration model), the host-change journal and
 * a control socket; `kopt status|pause|resume|advise|reload|restore|
 * model load` talk to it (README, "kopt as a service").
 *
 * Threads and loops: the main thread runs a poll() loop over a signalfd
 * (SIGTERM, SIGINT, SIGHUP), the control socket and its clients, and the
 * systemd watchdog's period; every command and every job start and stop
 * happens there, so they need no locking among themselves. The energy
 * job runs the controller in a thread of its own, because a window blocks
 * for seconds (job_energy.c); libmicrohttpd serves /metrics from its own
 * thread and only reads (metrics.c). The migration job does not loop
 * (the kernel does the work), so it lives in the main thread.
 *
 * Lifetime: koptd holds flock() on <state-dir>/koptd.lock until it
 * exits (a second koptd exits 3 naming the holder's pid, from the lock
 * file, else /proc/locks); on start it restores what a crashed
 * predecessor left in the journal; SIGTERM/SIGINT stop the jobs and
 * restore every journaled change; SIGHUP re-reads the configuration and
 * keeps the running one if the new one is bad (file:line: key: why).
 * Every host change is made by a job's plant or hook, journaled there
 * (state.h), and logged with its reason on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <systemd/sd-daemon.h>

#include "kopt.h"
#include "koptd.h"
#include "policy.h"
#include "state.h"

#define MAX_CLIENTS 16
#define LOCK_NAME "koptd.lock"

/* ---- the lock ------------------------------------------------------------- */

/* The pid holding flock() on the file at fd's inode, from /proc/locks. */
static pid_t holder_from_proc_locks(int fd)
{
	struct stat st;
	char line[256];
	pid_t pid = 0;
	FILE *f;

	if (fstat(fd, &st))
		return 0;
	f = fopen("/proc/locks", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned int maj, min;
		unsigned long ino;
		int p;

		/* "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF" */
		if (!strstr(line, "FLOCK"))
			continue;
		if (sscanf(line, "%*d: FLOCK %*s %*s %d %x:%x:%lu", &p, &maj,
			   &min, &ino) == 4 &&
		    ino == st.st_ino && makedev(maj, min) == st.st_dev) {
			pid = p;
			break;
		}
	}
	fclose(f);
	return pid;
}

/*
 * The kernel's lock table says who holds the flock; the file is the
 * fallback where /proc/locks is not readable. The holder writes its pid
 * into the file right after taking the lock, so a loser that comes in
 * between reads nothing yet, or the pid of the koptd that held the lock
 * before and has gone (koptd_lock_race_20 saw that: a dead pid named as
 * the holder), which is why the file comes second.
 */
static pid_t lock_holder(int fd)
{
	pid_t holder = holder_from_proc_locks(fd);
	char buf[32];
	ssize_t n;
	long pid;

	if (holder)
		return holder;
	for (int i = 0; i < 100; i++) {
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			if (!kopt_parse_long(buf, 1, INT_MAX, &pid))
				return (pid_t)pid;
		}
		usleep(10000);
	}
	return 0;
}

static int take_lock(struct koptd *d)
{
	char path[PATH_MAX + 16], buf[32];
	pid_t holder;
	int fd, n;

	snprintf(path, sizeof(path), "%s/%s", d->state_dir, LOCK_NAME);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		pr_warn("%s: %s\n", path, strerror(errno));
		return KOPTD_EXIT_RUNTIME;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		if (errno != EWOULDBLOCK) {
			pr_warn("flock %s: %s\n", path, strerror(errno));
			close(fd);
			return KOPTD_EXIT_RUNTIME;
		}
		holder = lock_holder(fd);
		if (holder)
			pr_warn("another koptd (pid %d) holds %s; it "
				"owns this host's jobs and journal. Stop it "
				"first (kill -TERM %d, or systemctl stop "
				"koptd)\n",
				(int)holder, path, (int)holder);
		else
			pr_warn("another koptd holds %s (its pid is "
				"unknown: it has not written it yet)\n",
				path);
		close(fd);
		return KOPTD_EXIT_LOCKED;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, buf, n, 0) != n)
		pr_warn("%s: cannot record the pid: %s\n", path,
			strerror(errno));
	d->lock_fd = fd;
	return 0;
}

/* ---- status ----------------------------------------------------------------- */

struct json_object *koptd_status(struct koptd *d)
{
	struct json_object *o = json_object_new_object(), *k, *jobs, *m, *v;

	k = json_object_new_object();
	json_object_object_add(k, "pid", json_object_new_int(getpid()));
	json_object_object_add(k, "version",
			       json_object_new_string(KOPT_VERSION));
	json_object_object_add(k, "config",
			       json_object_new_string(d->conf_path));
	json_object_object_add(k, "state_dir",
			       json_object_new_string(d->state_dir));
	json_object_object_add(k, "socket",
			       json_object_new_string(d->sock_path));
	json_object_object_add(k, "metrics",
			       json_object_new_string(d->metrics_addr[0] ?
							      d->metrics_addr :
							      "off"));
	json_object_object_add(k, "uptime_s",
			       kopt_json_num(kopt_now_s() - d->start_s,
					     "%.0f"));
	json_object_object_add(k, "reloads",
			       json_object_new_uint64(d->reloads));
	json_object_object_add(k, "reload_errors",
			       json_object_new_uint64(d->reload_errors));
	if (d->last_reload_error[0])
		json_object_object_add(
			k, "last_reload_error",
			json_object_new_string(d->last_reload_error));
	json_object_object_add(o, "koptd", k);
	jobs = json_object_new_object();
	json_object_object_add(jobs, "energy", ej_status(&d->ej));
	pthread_mutex_lock(&d->mj_mu);
	m = mj_status(&d->mj);
	pthread_mutex_unlock(&d->mj_mu);
	json_object_object_add(jobs, "migration", m);
	json_object_object_add(o, "jobs", jobs);
	/* the one figure across jobs: records lost by koptd's ring buffers */
	json_object_object_add(
		o, "ringbuf_lost",
		json_object_object_get_ex(m, "ringbuf_lost", &v) && v ?
			json_object_get(v) :
			json_object_new_int(0));
	return o;
}

/* ---- jobs and reload ---------------------------------------------------------- */

static void start_jobs(struct koptd *d)
{
	if (d->cfg.energy)
		ej_start(&d->ej, &d->cfg);
	else
		d->ej.state = EJ_OFF;
	pthread_mutex_lock(&d->mj_mu);
	mj_start(&d->mj, &d->cfg);
	pthread_mutex_unlock(&d->mj_mu);
}

static void stop_jobs(struct koptd *d, const char *why)
{
	if (d->ej.thread_live || d->ej.state != EJ_OFF)
		ej_stop(&d->ej, why);
	pthread_mutex_lock(&d->mj_mu);
	mj_stop(&d->mj);
	pthread_mutex_unlock(&d->mj_mu);
}

static void notify_status(struct koptd *d)
{
	char s[256];

	snprintf(s, sizeof(s), "STATUS=energy %s, migration %s",
		 !d->cfg.energy ? "off" :
		 d->cfg.advise	? "advise" :
				  "enforce",
		 !d->cfg.migration ? "off" :
				     koptd_mig_mode_names[d->cfg.mig_mode]);
	sd_notify(0, s);
}

int koptd_reload(struct koptd *d, char *err, size_t errlen)
{
	struct koptd_config nc;
	bool metrics_moved;

	if (koptd_config_load(d->conf_path, d->state_dir, &nc, err, errlen)) {
		d->reload_errors++;
		snprintf(d->last_reload_error, sizeof(d->last_reload_error),
			 "%s", err);
		pr_warn("reload: %s; keeping the running "
			"configuration\n",
			err);
		return -1;
	}
	sd_notify(0, "RELOADING=1");
	pr_info("reload: %s is valid; restarting the jobs with it "
		"(what they changed is restored first)\n",
		d->conf_path);
	if (strcmp(nc.socket, d->cfg.socket)) {
		int old = d->listen_fd;
		char old_path[sizeof(d->sock_path)];

		snprintf(old_path, sizeof(old_path), "%s", d->sock_path);
		if (koptd_sock_open(d, nc.socket)) {
			pr_warn("reload: keeping socket %s\n", old_path);
			snprintf(nc.socket, sizeof(nc.socket), "%s", old_path);
		} else {
			close(old);
			unlink(old_path);
		}
	}
	metrics_moved = nc.metrics_on != d->cfg.metrics_on ||
			strcmp(nc.metrics_host, d->cfg.metrics_host) ||
			nc.metrics_port != d->cfg.metrics_port;
	stop_jobs(d, "restarted by a reload");
	koptd_config_free(&d->cfg);
	d->cfg = nc;
	if (metrics_moved) {
		koptd_metrics_stop(d);
		koptd_metrics_start(d);
	}
	start_jobs(d);
	d->reloads++;
	d->last_reload_error[0] = '\0';
	sd_notify(0, "READY=1");
	notify_status(d);
	return 0;
}

/* ---- main ------------------------------------------------------------------------ */

/*
 * Signals reach the loop through a pipe written by the handler. Not a
 * signalfd: that needs the signals blocked in every thread, and threads
 * a library starts before main (OpenBLAS's pool) would still take them.
 */
static int sig_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	unsigned char b = (unsigned char)sig;
	int e = errno;

	if (write(sig_pipe[1], &b, 1) < 0) {
		/* the pipe is full: a signal of each kind is pending anyway */
	}
	errno = e;
}

static int signals_setup(void)
{
	struct sigaction sa = { .sa_handler = on_signal,
				.sa_flags = SA_RESTART };

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK))
		return -1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return sig_pipe[0];
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: koptd [-c|--config FILE] [--check] [--state-dir DIR] "
		"[-h|--help] [--version]\n"
		"kopt as a service: runs the jobs of FILE (default "
		"%s), serves the\ncontrol socket and the metrics, and "
		"restores every host change it made\nwhen it stops.\n\n"
		"  -c, --config FILE  the configuration (INI: [koptd], "
		"[energy], [migration])\n"
		"      --check        validate FILE, print the effective "
		"configuration, exit\n"
		"                     0 (valid) or 1; changes nothing\n"
		"      --state-dir DIR  journal, lock and default socket "
		"(default $KOPT_STATE_DIR,\n"
		"                     else %s)\n"
		"  -h, --help         this help\n"
		"      --version      print the version\n\n"
		"Signals: SIGHUP reloads (a bad file keeps the running "
		"configuration),\nSIGTERM/SIGINT stop and restore. Exit codes: "
		"0 clean stop, 1 runtime error,\n2 usage or configuration "
		"error, 3 another koptd holds the lock.\n",
		KOPTD_CONF_DEFAULT, KOPT_STATE_DIR_DEFAULT);
}

static int parse_args(int argc, char **argv, struct koptd *d, bool *check)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = KOPTD_CONF_DEFAULT, *sd = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 'C':
			*check = true;
			break;
		case 'S':
			sd = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(KOPTD_EXIT_OK);
		case 'V':
			printf("koptd %s\n", KOPT_VERSION);
			exit(KOPTD_EXIT_OK);
		default:
			fprintf(stderr, "Try 'koptd --help'.\n");
			return KOPTD_EXIT_CONFIG;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"koptd: unexpected argument '%s'\nTry 'koptd "
			"--help'.\n",
			argv[optind]);
		return KOPTD_EXIT_CONFIG;
	}
	if (sd) {
		if (sd[0] != '/') {
			fprintf(stderr,
				"koptd: --state-dir '%s': an absolute "
				"path is required\n",
				sd);
			return KOPTD_EXIT_CONFIG;
		}
		/* the library and the plants koptd starts read it there */
		setenv("KOPT_STATE_DIR", sd, 1);
	}
	snprintf(d->state_dir, sizeof(d->state_dir), "%s", kopt_state_dir());
	if (conf[0] == '/') {
		snprintf(d->conf_path, sizeof(d->conf_path), "%s", conf);
	} else {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) ||
		    (size_t)snprintf(d->conf_path, sizeof(d->conf_path),
				     "%s/%s", cwd,
				     conf) >= sizeof(d->conf_path)) {
			fprintf(stderr, "koptd: --config '%s': path too long\n",
				conf);
			return KOPTD_EXIT_CONFIG;
		}
	}
	return -1;
}

/* What a crashed predecessor (or any dead kopt) left in the journal. */
static void restore_predecessor(void)
{
	pid_t owner = 0;
	int ret = state_pending(&owner);

	if (ret <= 0)
		return;
	pr_warn("the journal holds changes of process %d, which is "
		"not running; restoring them\n",
		(int)owner);
	ret = state_restore(true);
	if (ret == -EBUSY)
		pr_warn("a live kopt (pid %d) holds the journal; its "
			"changes are its own to restore\n",
			(int)owner);
	else if (ret)
		pr_warn("%d change(s) could not be restored; they stay "
			"in the journal (kopt restore retries)\n",
			ret);
	else
		pr_info("restored every change process %d left\n", (int)owner);
}

static int main_loop(struct koptd *d, int sfd)
{
	struct koptd_client *cl[MAX_CLIENTS] = {};
	struct pollfd pf[MAX_CLIENTS + 2];
	uint64_t wd_usec = 0;
	int timeout = -1, ret = KOPTD_EXIT_OK;
	bool running = true;

	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec)
		timeout = (int)(wd_usec / 2000);
	while (running) {
		int n = 0, i;

		pf[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pf[n++] =
			(struct pollfd){ .fd = d->listen_fd, .events = POLLIN };
		for (i = 0; i < MAX_CLIENTS; i++)
			pf[n++] = (struct pollfd){
				.fd = cl[i] ? koptd_client_fd(cl[i]) : -1,
				.events = POLLIN
			};
		if (poll(pf, n, timeout) < 0 && errno != EINTR) {
			pr_warn("poll: %s\n", strerror(errno));
			ret = KOPTD_EXIT_RUNTIME;
			break;
		}
		if (timeout >= 0)
			sd_notify(0, "WATCHDOG=1");
		if (pf[0].revents & POLLIN) {
			char err[KOPT_INI_ERR_LEN];
			unsigned char sig;

			while (running && read(sfd, &sig, 1) == 1) {
				if (sig == SIGHUP) {
					pr_info("SIGHUP: reloading %s\n",
						d->conf_path);
					koptd_reload(d, err, sizeof(err));
				} else {
					pr_info("%s: stopping; every "
						"journaled change is "
						"restored\n",
						strsignal(sig));
					running = false;
				}
			}
		}
		if (running && (pf[1].revents & POLLIN)) {
			struct koptd_client *c = koptd_client_accept(d);

			for (i = 0; c && i < MAX_CLIENTS && cl[i]; i++)
				;
			if (c && i == MAX_CLIENTS) {
				pr_warn("control: %d clients already; "
					"closing a new one\n",
					MAX_CLIENTS);
				koptd_client_free(c);
			} else if (c) {
				cl[i] = c;
			}
		}
		for (i = 0; running && i < MAX_CLIENTS; i++)
			if (cl[i] && (pf[2 + i].revents & (POLLIN | POLLHUP)) &&
			    koptd_client_read(d, cl[i])) {
				koptd_client_free(cl[i]);
				cl[i] = NULL;
			}
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		koptd_client_free(cl[i]);
	return ret;
}

int main(int argc, char **argv)
{
	struct koptd d = { .lock_fd = -1, .listen_fd = -1 };
	char err[KOPT_INI_ERR_LEN], derr[256];
	bool check = false;
	int ret, sfd = -1, dfd;

	kopt_env.prog = "koptd";
	kopt_blas_single_thread();
	ret = parse_args(argc, argv, &d, &check);
	if (ret >= 0)
		return ret;
	if (koptd_config_load(d.conf_path, d.state_dir, &d.cfg, err,
			      sizeof(err))) {
		pr_warn("%s\n", err);
		return check ? KOPTD_EXIT_RUNTIME : KOPTD_EXIT_CONFIG;
	}
	if (check) {
		koptd_config_print(&d.cfg, stdout);
		koptd_config_free(&d.cfg);
		return KOPTD_EXIT_OK;
	}
	kopt_setup_libbpf();
	d.start_s = kopt_now_s();
	ej_init(&d.ej);
	mj_init(&d.mj);
	pthread_mutex_init(&d.mj_mu, NULL);
	dfd = kopt_state_dir_open(true, derr, sizeof(derr));
	if (dfd < 0) {
		pr_warn("%s\n", derr);
		ret = KOPTD_EXIT_RUNTIME;
		goto out;
	}
	close(dfd);
	ret = take_lock(&d);
	if (ret)
		goto out;
	pr_info("koptd %s: pid %d, configuration %s, state %s\n", KOPT_VERSION,
		(int)getpid(), d.conf_path, d.state_dir);
	restore_predecessor();
	sfd = signals_setup();
	if (sfd < 0 || koptd_sock_open(&d, d.cfg.socket)) {
		if (sfd < 0)
			pr_warn("signal pipe: %s\n", strerror(errno));
		ret = KOPTD_EXIT_RUNTIME;
		goto out_sock;
	}
	if (koptd_metrics_start(&d)) {
		ret = KOPTD_EXIT_RUNTIME;
		goto out_sock;
	}
	start_jobs(&d);
	sd_notify(0, "READY=1");
	notify_status(&d);
	ret = main_loop(&d, sfd);
	sd_notify(0, "STOPPING=1");
	stop_jobs(&d, "koptd stopped");
	restore_predecessor(); /* anything a job's process left */
	koptd_metrics_stop(&d);
out_sock:
	koptd_sock_close(&d);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (sfd >= 0) {
		close(sig_pipe[0]);
		close(sig_pipe[1]);
	}
out:
	if (ret == KOPTD_EXIT_OK)
		pr_info("stopped\n");
	koptd_config_free(&d.cfg);
	ej_destroy(&d.ej);
	pthread_mutex_destroy(&d.mj_mu);
	if (d.lock_fd >= 0)
		close(d.lock_fd); /* lets go of the lock */
	return ret;
}
