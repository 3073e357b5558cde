// SPDX-License-Identifier: GPL-2.0-only
/*
 * kopt collect: dispatch to the collectors (one per kernel data source).
 */
#include "cli.h"

static const struct kopt_cmd collect_cmds[] = {
	{ "migrations", cmd_collect_migrations,
	  "can_migrate_task() features and decisions -> CSV" },
	{ "nic", cmd_collect_nic, "per-interrupt NIC statistics -> CSV" },
	{ NULL },
};

int cmd_collect(int argc, char **argv)
{
	return kopt_dispatch("kopt collect", collect_cmds, argc, argv);
}
