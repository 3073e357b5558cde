/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Starting the named plants of a policy, for every front end that runs
 * the controller (kopt run, koptd): "sim" and "replay" are lab plants
 * (kopt-lab plant sim|replay), "host" is `kopt plant host` with the knobs
 * and measures of the policy's [host] section. Each is exec'd with an
 * argv built here: no value of the policy passes through a shell.
 *
 * Userspace only.
 */
#ifndef KOPT_CTL_PLANT_LAUNCH_H
#define KOPT_CTL_PLANT_LAUNCH_H

#include <stddef.h>

#include "plant.h"
#include "policy.h"

/* Where the binaries the plants run are. */
struct plant_bins {
	const char *kopt; /* for host: the kopt binary */
	const char *lab; /* for sim and replay: kopt-lab */
};

/* kopt-lab plant sim with the policy's [plant] sim_params and SLA. */
struct plant *plant_launch_sim(const struct policy *p,
			       const struct plant_bins *b, char *err,
			       size_t errlen);
/* kopt-lab plant replay --table TABLE with the policy's seed and SLA. */
struct plant *plant_launch_replay(const struct policy *p, const char *table,
				  const struct plant_bins *b, char *err,
				  size_t errlen);
/* kopt plant host with the policy's [host] section. */
struct plant *plant_launch_host(const struct policy *p,
				const struct plant_bins *b, char *err,
				size_t errlen);

#endif /* KOPT_CTL_PLANT_LAUNCH_H */
