/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * koptd's configuration (/etc/kopt/koptd.conf), an INI file read with
 * inih through kopt_ini_parse() (loader/lib/ctl/policy.h):
 *
 *   [koptd]
 *   socket = /run/kopt/koptd.sock   ; the control socket
 *   metrics = 127.0.0.1:9559        ; Prometheus text at /metrics, or off
 *   [energy]                        ; optional job
 *   policy = FILE                   ; a kopt run policy
 *   plant = host | sim | replay     ; sim and replay are lab plants
 *   table = FILE                    ; replay only: the measured sweep
 *   mode = enforce | advise         ; default enforce
 *   [migration]                     ; optional job
 *   model = FILE.kmlp
 *   mode = shadow | enforce | off   ; default shadow
 *
 * Relative paths are taken from the configuration file's folder. Every
 * value is checked, the policy and the model are loaded and validated
 * too, and the first problem is an error "file:line: [section] key:
 * reason"; a configuration that fails is never half applied.
 *
 * Userspace only.
 */
#ifndef KOPTD_CONFIG_H
#define KOPTD_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#define KOPTD_CONF_DEFAULT "/etc/kopt/koptd.conf"
#define KOPTD_METRICS_DEFAULT "127.0.0.1:9559"
#define KOPTD_SOCK_NAME "koptd.sock"

enum koptd_plant { KOPTD_PLANT_HOST, KOPTD_PLANT_SIM, KOPTD_PLANT_REPLAY };
enum koptd_mig_mode { KOPTD_MIG_SHADOW, KOPTD_MIG_ENFORCE, KOPTD_MIG_OFF };

extern const char *const koptd_plant_names[];
extern const char *const koptd_mig_mode_names[];

struct policy;

struct koptd_config {
	char path[PATH_MAX];
	char socket[108]; /* sun_path */
	bool metrics_on;
	char metrics_host[64]; /* numeric address */
	unsigned int metrics_port;
	/* [energy] */
	bool energy;
	char policy_path[PATH_MAX];
	struct policy *pol; /* loaded and checked; owned */
	enum koptd_plant plant;
	char table[PATH_MAX];
	bool advise;
	/* [migration] */
	bool migration;
	char model[PATH_MAX];
	enum koptd_mig_mode mig_mode;
};

/*
 * Reads and checks path into *c (cleared first); state_dir gives the
 * socket's default. 0, or -1 with err saying file, line, key and why.
 */
int koptd_config_load(const char *path, const char *state_dir,
		      struct koptd_config *c, char *err, size_t errlen);
/* The effective configuration, as an INI file with every default. */
void koptd_config_print(const struct koptd_config *c, FILE *f);
void koptd_config_free(struct koptd_config *c);

#endif /* KOPTD_CONFIG_H */
