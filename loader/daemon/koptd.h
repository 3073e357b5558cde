/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * koptd's state, shared by its main loop (koptd.c), the control
 * protocol (ctl.c) and the metrics server (metrics.c).
 *
 * Userspace only.
 */
#ifndef KOPTD_H
#define KOPTD_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>

#include "config.h"
#include "job_energy.h"
#include "job_migration.h"

/* koptd's exit codes (koptd --help) */
enum {
	KOPTD_EXIT_OK = 0,
	KOPTD_EXIT_RUNTIME = 1,
	KOPTD_EXIT_CONFIG = 2, /* usage or configuration */
	KOPTD_EXIT_LOCKED = 3, /* another koptd holds the lock */
};

struct MHD_Daemon;

struct koptd {
	struct koptd_config cfg; /* the running configuration */
	char conf_path[PATH_MAX];
	char state_dir[PATH_MAX];
	int lock_fd;
	int listen_fd;
	char sock_path[108]; /* the socket koptd created */
	struct energy_job ej;
	struct migration_job mj;
	/* the migration job: main thread and the metrics thread */
	pthread_mutex_t mj_mu;
	struct MHD_Daemon *mhd;
	char metrics_addr[96]; /* what mhd listens on */
	double start_s;
	unsigned long reloads, reload_errors;
	char last_reload_error[512];
};

/* ---- ctl.c: the control socket ---- */
int koptd_sock_open(struct koptd *d, const char *path);
void koptd_sock_close(struct koptd *d);
/* A connection is readable: 0 to keep it, -1 when closed. */
struct koptd_client;
struct koptd_client *koptd_client_accept(struct koptd *d);
int koptd_client_fd(const struct koptd_client *c);
int koptd_client_read(struct koptd *d, struct koptd_client *c);
void koptd_client_free(struct koptd_client *c);

/* ---- koptd.c: what commands do ---- */
/* Re-reads the configuration; on error keeps the running one. */
int koptd_reload(struct koptd *d, char *err, size_t errlen);
struct json_object *koptd_status(struct koptd *d);

/* ---- metrics.c ---- */
int koptd_metrics_start(struct koptd *d);
void koptd_metrics_stop(struct koptd *d);

#endif /* KOPTD_H */
