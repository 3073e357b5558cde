// SPDX-License-Identifier: GPL-2.0-only
/*
 * The controller as a library (loader/lib/ctl/controller.c): driven in
 * this process by a fake plant through plant_start_ops(), with no child
 * process, no CLI and no files. The fake plant is a smooth analytic
 * server (power falls with the interrupt delay and the frequency, p99
 * rises with the delay and falls with the frequency), so the best
 * setting under the SLA is known by brute force over the policy's grid.
 */
#define _GNU_SOURCE
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "controller.h"
#include "kopt.h"
#include "plant.h"
#include "policy.h"
#include "test.h"

struct fake {
	unsigned int windows; /* replies given */
	bool lie_at_10; /* reply garbage to the 10th window */
};

static double fake_power(double itr, double mhz)
{
	double f = mhz / 2900;

	return 40 + 30 * f * f + 200 / (itr + 10);
}

static double fake_p99(double itr, double mhz)
{
	return 50 + 0.9 * itr + 100 * 2900 / mhz;
}

static int fake_reply(void *ctx, const struct plant_setting *s, double seconds,
		      char *line, size_t cap, char *err, size_t errlen)
{
	double itr = s->stock ? 50 : s->itr_us;
	double mhz = s->stock ? 2900 : s->freq_mhz;
	struct fake *fk = ctx;

	if (++fk->windows == 10 && fk->lie_at_10) {
		snprintf(line, cap, "{\"energy_j\": -1}");
		return 0;
	}
	snprintf(line, cap,
		 "{\"energy_j\": %.6f, \"p99_us\": %.3f, \"p50_us\": %.3f, "
		 "\"qps\": 100000, \"seconds\": %g, \"source\": \"sim\", "
		 "\"stock_energy_j\": %.6f}",
		 fake_power(itr, mhz) * seconds, fake_p99(itr, mhz),
		 fake_p99(itr, mhz) / 3, seconds,
		 fake_power(50, 2900) * seconds);
	return 0;
}

static const struct plant_ops fake_ops = { .reply = fake_reply };

static bool load_policy(struct policy *pol, const char *name)
{
	char path[PATH_MAX], tmp[PATH_MAX], err[KOPT_INI_ERR_LEN];

	snprintf(tmp, sizeof(tmp), "%s", kopt_test_builddir());
	snprintf(path, sizeof(path), "%s/policies/%s", dirname(tmp), name);
	return ASSERT_OK(policy_load(path, pol, err, sizeof(err)), err);
}

/* The cheapest power on the policy's grid with p99 under the bound. */
static double best_power(const struct policy *p)
{
	double best = INFINITY;

	for (double itr = p->itr_min_us; itr <= p->itr_max_us;
	     itr += p->itr_step_us)
		for (size_t k = 0; k < p->n_freqs; k++)
			if (fake_p99(itr, p->freqs_mhz[k]) < p->sla.bound_us)
				best = fmin(best,
					    fake_power(itr, p->freqs_mhz[k]));
	return best;
}

static double jget(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ?
		       json_object_get_double(v) :
		       NAN;
}

static struct json_object *run_fake(struct policy *pol, struct fake *fk,
				    double seconds)
{
	char err[PLANT_ERR_LEN];
	struct json_object *sum = NULL;
	struct plant *plant;
	struct run *r;

	plant = plant_start_ops(&fake_ops, fk, "fake", err, sizeof(err));
	if (!ASSERT_OK_PTR(plant, err))
		return NULL;
	ASSERT_EQ(plant->pid, 0, "no child process");
	r = ctl_new(pol,
		    &(struct ctl_opts){ .duration_s = seconds,
					.plant_name = "fake" },
		    plant, NULL);
	if (ASSERT_OK_PTR(r, "ctl_new")) {
		ASSERT_OK(ctl_loop(r), "ctl_loop");
		sum = ctl_summary_json(r);
	}
	ctl_free(r);
	plant_stop(plant);
	return sum;
}

KOPT_TEST(controller_fake_plant_in_process)
{
	struct policy *pol = calloc(1, sizeof(*pol));
	struct fake fk = {};
	struct json_object *sum, *levels, *best;
	double itr, mhz;

	if (!ASSERT_OK_PTR(pol, "calloc") ||
	    !load_policy(pol, "memcached-sla500.conf"))
		goto out;
	sum = run_fake(pol, &fk, 3600);
	if (!sum)
		goto out;
	ASSERT_EQ(jget(sum, "windows"), fk.windows, "every window asked once");
	ASSERT_EQ(jget(sum, "failed_windows"), 0, "failed windows");
	ASSERT_GT(jget(sum, "saving_vs_stock"), 0.1, "saving vs stock");
	/* the held setting: the last level's choice, under the SLA, near the
	 * grid's best */
	levels = json_object_object_get(sum, "levels");
	best = json_object_object_get(
		json_object_array_get_idx(levels,
					  json_object_array_length(levels) - 1),
		"chosen");
	itr = jget(best, "itr_us");
	mhz = jget(best, "freq_mhz");
	ASSERT_LT(fake_p99(itr, mhz), pol->sla.bound_us, "held meets the SLA");
	ASSERT_LT(fake_power(itr, mhz), best_power(pol) * 1.05,
		  "held within 5% of the best");
	json_object_put(sum);
out:
	free(pol);
}

KOPT_TEST(controller_fake_plant_lies_once)
{
	struct policy *pol = calloc(1, sizeof(*pol));
	struct fake fk = { .lie_at_10 = true };
	struct json_object *sum;

	if (!ASSERT_OK_PTR(pol, "calloc") ||
	    !load_policy(pol, "memcached-sla500.conf"))
		goto out;
	sum = run_fake(pol, &fk, 600);
	if (!sum)
		goto out;
	/* the lie fails its window, validated like a remote reply */
	ASSERT_EQ(jget(sum, "failed_windows"), 1, "the lying window failed");
	ASSERT_EQ(jget(sum, "windows") + 1, fk.windows, "others counted");
	json_object_put(sum);
out:
	free(pol);
}
