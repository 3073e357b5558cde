// SPDX-License-Identifier: GPL-2.0-only
/*
 * koptd's configuration: parse, check, print (config.h says the format).
 * Parsed into a fresh struct so a bad file changes nothing: the caller
 * swaps it in only when koptd_config_load() succeeded.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "kopt.h"
#include "model.h"
#include "policy.h"

const char *const koptd_plant_names[] = { "host", "sim", "replay" };
const char *const koptd_mig_mode_names[] = { "shadow", "enforce", "off" };

struct conf_parse {
	struct koptd_config *c;
	char dir[PATH_MAX]; /* the file's folder, for relative paths */
	/* keys seen, to refuse duplicates; a section's first line */
	unsigned int seen;
	int energy_line, migration_line;
	bool have_policy, have_plant, have_model;
};

enum {
	SEEN_SOCKET = 1 << 0,
	SEEN_METRICS = 1 << 1,
	SEEN_POLICY = 1 << 2,
	SEEN_PLANT = 1 << 3,
	SEEN_TABLE = 1 << 4,
	SEEN_EMODE = 1 << 5,
	SEEN_MODEL = 1 << 6,
	SEEN_MMODE = 1 << 7,
};

static int once(struct kopt_ini *ini, struct conf_parse *cp, unsigned int bit,
		const char *section, const char *key)
{
	if (cp->seen & bit)
		return kopt_ini_err(ini, section, key,
				    "given twice (each key once)");
	cp->seen |= bit;
	return 0;
}

/* A path value: absolute, or taken from the configuration's folder. */
static int path_value(struct kopt_ini *ini, struct conf_parse *cp,
		      const char *section, const char *key, const char *v,
		      char *out, size_t len)
{
	int n;

	if (!*v)
		return kopt_ini_err(ini, section, key, "empty path");
	if (v[0] == '/')
		n = snprintf(out, len, "%s", v);
	else
		n = snprintf(out, len, "%s/%s", cp->dir, v);
	if (n < 0 || (size_t)n >= len)
		return kopt_ini_err(ini, section, key, "path too long");
	return 0;
}

static int pick(struct kopt_ini *ini, const char *section, const char *key,
		const char *v, const char *const *names, int n, int *out)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v, names[i])) {
			*out = i;
			return 0;
		}
	if (n == 2)
		return kopt_ini_err(ini, section, key,
				    "'%s': expected %s or %s", v, names[0],
				    names[1]);
	return kopt_ini_err(ini, section, key, "'%s': expected %s, %s or %s", v,
			    names[0], names[1], names[2]);
}

static int metrics_value(struct kopt_ini *ini, struct koptd_config *c,
			 const char *v)
{
	const char *colon = strrchr(v, ':');
	struct in_addr a4;
	struct in6_addr a6;
	char host[64];
	long port;
	size_t hl;

	if (!strcmp(v, "off")) {
		c->metrics_on = false;
		return 0;
	}
	if (!colon)
		return kopt_ini_err(ini, "koptd", "metrics",
				    "'%s': expected ADDRESS:PORT "
				    "(127.0.0.1:9559, [::1]:9559) or off",
				    v);
	hl = colon - v;
	if (hl >= 2 && v[0] == '[' && v[hl - 1] == ']') {
		v++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return kopt_ini_err(ini, "koptd", "metrics",
				    "missing or overlong address before ':'");
	memcpy(host, v, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, &a4) != 1 &&
	    inet_pton(AF_INET6, host, &a6) != 1)
		return kopt_ini_err(ini, "koptd", "metrics",
				    "'%s' is not a numeric IPv4 or IPv6 "
				    "address",
				    host);
	if (kopt_parse_long(colon + 1, 1, 65535, &port))
		return kopt_ini_err(ini, "koptd", "metrics",
				    "port '%s' is not in 1..65535", colon + 1);
	c->metrics_on = true;
	snprintf(c->metrics_host, sizeof(c->metrics_host), "%s", host);
	c->metrics_port = (unsigned int)port;
	return 0;
}

static int conf_handler(struct kopt_ini *ini, const char *section,
			const char *key, const char *v)
{
	struct conf_parse *cp = ini->user;
	struct koptd_config *c = cp->c;
	int i = 0;

	if (!strcmp(section, "koptd")) {
		if (!strcmp(key, "socket")) {
			if (once(ini, cp, SEEN_SOCKET, section, key))
				return -1;
			if (v[0] != '/')
				return kopt_ini_err(ini, section, key,
						    "'%s': an absolute path is "
						    "required",
						    v);
			if (strlen(v) >= sizeof(c->socket))
				return kopt_ini_err(ini, section, key,
						    "longer than a Unix socket "
						    "path can be (%zu)",
						    sizeof(c->socket) - 1);
			snprintf(c->socket, sizeof(c->socket), "%s", v);
			return 0;
		}
		if (!strcmp(key, "metrics"))
			return once(ini, cp, SEEN_METRICS, section, key) ?:
				       metrics_value(ini, c, v);
		return kopt_ini_err(ini, section, key,
				    "unknown key (known: socket, metrics)");
	}
	if (!strcmp(section, "energy")) {
		if (!cp->energy_line)
			cp->energy_line = ini->line;
		c->energy = true;
		if (!strcmp(key, "policy"))
			return once(ini, cp, SEEN_POLICY, section, key) ?:
				       path_value(ini, cp, section, key, v,
						  c->policy_path,
						  sizeof(c->policy_path));
		if (!strcmp(key, "table"))
			return once(ini, cp, SEEN_TABLE, section, key) ?:
				       path_value(ini, cp, section, key, v,
						  c->table, sizeof(c->table));
		if (!strcmp(key, "plant")) {
			if (once(ini, cp, SEEN_PLANT, section, key) ||
			    pick(ini, section, key, v, koptd_plant_names, 3,
				 &i))
				return -1;
			c->plant = i;
			return 0;
		}
		if (!strcmp(key, "mode")) {
			static const char *const m[] = { "enforce", "advise" };

			if (once(ini, cp, SEEN_EMODE, section, key) ||
			    pick(ini, section, key, v, m, 2, &i))
				return -1;
			c->advise = i == 1;
			return 0;
		}
		return kopt_ini_err(ini, section, key,
				    "unknown key (known: policy, plant, table, "
				    "mode)");
	}
	if (!strcmp(section, "migration")) {
		if (!cp->migration_line)
			cp->migration_line = ini->line;
		c->migration = true;
		if (!strcmp(key, "model"))
			return once(ini, cp, SEEN_MODEL, section, key) ?:
				       path_value(ini, cp, section, key, v,
						  c->model, sizeof(c->model));
		if (!strcmp(key, "mode")) {
			if (once(ini, cp, SEEN_MMODE, section, key) ||
			    pick(ini, section, key, v, koptd_mig_mode_names, 3,
				 &i))
				return -1;
			c->mig_mode = i;
			return 0;
		}
		return kopt_ini_err(ini, section, key,
				    "unknown key (known: model, mode)");
	}
	return kopt_ini_err(ini, section, NULL,
			    "unknown section (known: koptd, energy, "
			    "migration)");
}

/* What needs the whole file: required keys, and the files they name. */
static int conf_check(struct kopt_ini *ini, struct conf_parse *cp)
{
	struct koptd_config *c = cp->c;
	char err[KOPT_INI_ERR_LEN];
	struct kopt_model *m;

	if (c->energy) {
		ini->line = cp->energy_line;
		if (!(cp->seen & SEEN_POLICY))
			return kopt_ini_err(ini, "energy", NULL,
					    "missing key 'policy' (a kopt run "
					    "policy file)");
		if (!(cp->seen & SEEN_PLANT))
			return kopt_ini_err(ini, "energy", NULL,
					    "missing key 'plant' (host, sim or "
					    "replay)");
		if (c->plant == KOPTD_PLANT_REPLAY && !(cp->seen & SEEN_TABLE))
			return kopt_ini_err(ini, "energy", "plant",
					    "replay needs 'table = FILE' (a "
					    "measured sweep, policies/data/)");
		if (c->plant != KOPTD_PLANT_REPLAY && (cp->seen & SEEN_TABLE))
			return kopt_ini_err(ini, "energy", "table",
					    "only for plant = replay");
		c->pol = calloc(1, sizeof(*c->pol));
		if (!c->pol)
			return kopt_ini_err(ini, "energy", "policy",
					    "out of memory");
		if (policy_load(c->policy_path, c->pol, err, sizeof(err)))
			return kopt_ini_err(ini, "energy", "policy", "%s", err);
		if (c->plant == KOPTD_PLANT_SIM && !c->pol->sim_params[0])
			return kopt_ini_err(ini, "energy", "plant",
					    "sim: policy %s has no [plant] "
					    "sim_params",
					    c->policy_path);
		if (c->plant == KOPTD_PLANT_SIM && c->pol->freq_fixed)
			return kopt_ini_err(ini, "energy", "plant",
					    "sim models DVFS: policy %s has "
					    "[freq] list_mhz = none",
					    c->policy_path);
		if (c->plant == KOPTD_PLANT_HOST && !c->pol->host.ifname[0] &&
		    !c->pol->host.agent[0])
			return kopt_ini_err(ini, "energy", "plant",
					    "host: policy %s has no [host] "
					    "interface",
					    c->policy_path);
		if (c->plant == KOPTD_PLANT_REPLAY && access(c->table, R_OK))
			return kopt_ini_err(ini, "energy", "table", "%s: %s",
					    c->table, strerror(errno));
	}
	if (c->migration && c->mig_mode != KOPTD_MIG_OFF) {
		ini->line = cp->migration_line;
		if (!(cp->seen & SEEN_MODEL))
			return kopt_ini_err(ini, "migration", NULL,
					    "missing key 'model' (a .kmlp "
					    "file), or mode = off");
		m = malloc(sizeof(*m));
		if (!m)
			return kopt_ini_err(ini, "migration", "model",
					    "out of memory");
		if (kopt_model_read(c->model, m, err, sizeof(err))) {
			free(m);
			return kopt_ini_err(ini, "migration", "model", "%s",
					    err);
		}
		free(m);
	}
	return 0;
}

int koptd_config_load(const char *path, const char *state_dir,
		      struct koptd_config *c, char *err, size_t errlen)
{
	struct conf_parse cp = { .c = c };
	struct kopt_ini ini = {
		.path = path,
		.handler = conf_handler,
		.user = &cp,
	};
	char tmp[PATH_MAX];

	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s", path);
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(cp.dir, sizeof(cp.dir), "%s", dirname(tmp));
	if ((size_t)snprintf(c->socket, sizeof(c->socket), "%s/%s", state_dir,
			     KOPTD_SOCK_NAME) >= sizeof(c->socket))
		return kopt_errf(
			err, errlen, -1,
			"%s: the default socket %s/%s is longer than "
			"a Unix socket path can be: set [koptd] socket",
			path, state_dir, KOPTD_SOCK_NAME);
	metrics_value(&ini, c, KOPTD_METRICS_DEFAULT);
	if (kopt_ini_parse(&ini) || conf_check(&ini, &cp)) {
		snprintf(err, errlen, "%s", ini.err);
		koptd_config_free(c);
		return -1;
	}
	return 0;
}

void koptd_config_print(const struct koptd_config *c, FILE *f)
{
	fprintf(f, "; effective configuration of %s\n[koptd]\nsocket = %s\n",
		c->path, c->socket);
	if (!c->metrics_on)
		fprintf(f, "metrics = off\n");
	else if (strchr(c->metrics_host, ':'))
		fprintf(f, "metrics = [%s]:%u\n", c->metrics_host,
			c->metrics_port);
	else
		fprintf(f, "metrics = %s:%u\n", c->metrics_host,
			c->metrics_port);
	if (c->energy) {
		fprintf(f, "[energy]\npolicy = %s\nplant = %s\n",
			c->policy_path, koptd_plant_names[c->plant]);
		if (c->plant == KOPTD_PLANT_REPLAY)
			fprintf(f, "table = %s\n", c->table);
		fprintf(f, "mode = %s\n", c->advise ? "advise" : "enforce");
	}
	if (c->migration) {
		fprintf(f, "[migration]\n");
		if (c->model[0])
			fprintf(f, "model = %s\n", c->model);
		fprintf(f, "mode = %s\n", koptd_mig_mode_names[c->mig_mode]);
	}
}

void koptd_config_free(struct koptd_config *c)
{
	free(c->pol);
	c->pol = NULL;
}
