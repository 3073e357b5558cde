/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ethtool netlink (genetlink family "ethtool") through libnl-genl: read
 * the interrupt-coalescing parameters a driver supports and their values.
 * The kernel puts only the attributes a driver supports into a
 * COALESCE_GET reply, so the reply itself tells what can be tuned.
 */
#ifndef KOPT_LOADER_ETHTOOL_NL_H
#define KOPT_LOADER_ETHTOOL_NL_H

#include <stdbool.h>
#include <linux/types.h>
#include <linux/ethtool_netlink.h>

#define KOPT_COALESCE_MAX_ATTR ETHTOOL_A_COALESCE_MAX

struct ethtool_coalesce_info {
	/* present[a] is true when the driver reported attribute a */
	bool present[KOPT_COALESCE_MAX_ATTR + 1];
	__u32 value[KOPT_COALESCE_MAX_ATTR + 1];
	int nr_present;
};

/*
 * Fills info for ifname; returns 0, or a negative errno (-EOPNOTSUPP when
 * the driver has no coalescing, -ENODEV for an unknown interface,
 * -EPROTONOSUPPORT when the kernel has no ethtool netlink family).
 */
int ethtool_coalesce_get(const char *ifname,
			 struct ethtool_coalesce_info *info);

/*
 * Sets one coalescing attribute (u8 for adaptive-rx/tx, else u32); the
 * kernel validates against what the driver supports (-EOPNOTSUPP).
 */
int ethtool_coalesce_set(const char *ifname, int attr, __u32 value);

/* Attribute id for an ethtool(8) name ("rx-usecs"), or -EINVAL. */
int ethtool_coalesce_attr_parse(const char *name);

/* "rx-usecs" etc. (ethtool(8)'s names), or NULL for unknown attributes. */
const char *ethtool_coalesce_attr_name(int attr);

/* Driver name through the ETHTOOL_GDRVINFO ioctl; 0 or negative errno. */
int ethtool_driver_name(const char *ifname, char *buf, size_t len);

#endif /* KOPT_LOADER_ETHTOOL_NL_H */
