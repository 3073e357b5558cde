// SPDX-License-Identifier: GPL-2.0-only
/*
 * Helpers for the scheduler tests that run in the 6.12 guest: the
 * migration-cost knob lives in debugfs (sched/migration_cost_ns).
 */
#include <stdio.h>

#include "sched_util.h"

long set_migration_cost(long ns)
{
	long old = -1;
	FILE *f = fopen(MIGRATION_COST, "re");

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &old) != 1)
		old = -1;
	fclose(f);
	f = fopen(MIGRATION_COST, "we");
	if (!f)
		return -1;
	fprintf(f, "%ld\n", ns);
	if (fclose(f))
		return -1;
	return old;
}
