// SPDX-License-Identifier: GPL-2.0-only
/*
 * ethtool netlink reads through libnl-genl (see ethtool_nl.h). Read-only
 * for now; the coalescing actuator adds COALESCE_SET on the same socket
 * code. Cost: one netlink round trip per call.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "ethtool_nl.h"

static const char *const coalesce_names[KOPT_COALESCE_MAX_ATTR + 1] = {
	[ETHTOOL_A_COALESCE_RX_USECS] = "rx-usecs",
	[ETHTOOL_A_COALESCE_RX_MAX_FRAMES] = "rx-frames",
	[ETHTOOL_A_COALESCE_RX_USECS_IRQ] = "rx-usecs-irq",
	[ETHTOOL_A_COALESCE_RX_MAX_FRAMES_IRQ] = "rx-frames-irq",
	[ETHTOOL_A_COALESCE_TX_USECS] = "tx-usecs",
	[ETHTOOL_A_COALESCE_TX_MAX_FRAMES] = "tx-frames",
	[ETHTOOL_A_COALESCE_TX_USECS_IRQ] = "tx-usecs-irq",
	[ETHTOOL_A_COALESCE_TX_MAX_FRAMES_IRQ] = "tx-frames-irq",
	[ETHTOOL_A_COALESCE_STATS_BLOCK_USECS] = "stats-block-usecs",
	[ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX] = "adaptive-rx",
	[ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX] = "adaptive-tx",
	[ETHTOOL_A_COALESCE_PKT_RATE_LOW] = "pkt-rate-low",
	[ETHTOOL_A_COALESCE_RX_USECS_LOW] = "rx-usecs-low",
	[ETHTOOL_A_COALESCE_RX_MAX_FRAMES_LOW] = "rx-frames-low",
	[ETHTOOL_A_COALESCE_TX_USECS_LOW] = "tx-usecs-low",
	[ETHTOOL_A_COALESCE_TX_MAX_FRAMES_LOW] = "tx-frames-low",
	[ETHTOOL_A_COALESCE_PKT_RATE_HIGH] = "pkt-rate-high",
	[ETHTOOL_A_COALESCE_RX_USECS_HIGH] = "rx-usecs-high",
	[ETHTOOL_A_COALESCE_RX_MAX_FRAMES_HIGH] = "rx-frames-high",
	[ETHTOOL_A_COALESCE_TX_USECS_HIGH] = "tx-usecs-high",
	[ETHTOOL_A_COALESCE_TX_MAX_FRAMES_HIGH] = "tx-frames-high",
	[ETHTOOL_A_COALESCE_RATE_SAMPLE_INTERVAL] = "sample-interval",
	[ETHTOOL_A_COALESCE_USE_CQE_MODE_TX] = "cqe-mode-tx",
	[ETHTOOL_A_COALESCE_USE_CQE_MODE_RX] = "cqe-mode-rx",
};

const char *ethtool_coalesce_attr_name(int attr)
{
	if (attr < 0 || attr > KOPT_COALESCE_MAX_ATTR)
		return NULL;
	return coalesce_names[attr];
}

static int coalesce_parse(struct nl_msg *msg, void *arg)
{
	struct ethtool_coalesce_info *info = arg;
	struct nlattr *tb[KOPT_COALESCE_MAX_ATTR + 1];
	int a;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, KOPT_COALESCE_MAX_ATTR, NULL))
		return NL_SKIP;
	for (a = ETHTOOL_A_COALESCE_HEADER + 1; a <= KOPT_COALESCE_MAX_ATTR;
	     a++) {
		if (!tb[a] || !coalesce_names[a])
			continue;
		info->present[a] = true;
		info->nr_present++;
		if (nla_len(tb[a]) >= 4)
			info->value[a] = nla_get_u32(tb[a]);
		else if (nla_len(tb[a]) >= 1)
			info->value[a] = nla_get_u8(tb[a]);
	}
	return NL_OK;
}

/* libnl errors are its own codes; map the ones kernels send to errnos. */
static int nl_to_errno(int nlerr)
{
	switch (-nlerr) {
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_NODEV:
	case NLE_OBJ_NOTFOUND:
		return -ENODEV;
	case NLE_PERM:
		return -EPERM;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_INVAL:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* Attributes to put into a COALESCE_SET request. */
struct coalesce_set_req {
	int attrs[4];
	__u32 values[4];
	int n;
};

/*
 * One ethtool netlink request for ifname: cmd with a header nest, plus
 * set attributes when req is given; replies go to info when given.
 */
static int ethtool_request(int cmd, int hdr_attr, const char *ifname,
			   const struct coalesce_set_req *req,
			   struct ethtool_coalesce_info *info)
{
	struct nl_msg *msg = NULL;
	struct nl_sock *sk;
	struct nlattr *hdr;
	int family, err, i;

	if (!if_nametoindex(ifname))
		return -ENODEV;
	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	err = genl_connect(sk);
	if (err) {
		err = nl_to_errno(err);
		goto out;
	}
	family = genl_ctrl_resolve(sk, ETHTOOL_GENL_NAME);
	if (family < 0) {
		err = -EPROTONOSUPPORT;
		goto out;
	}
	msg = nlmsg_alloc();
	err = -ENOMEM;
	if (!msg || !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0,
				 NLM_F_ACK, cmd, ETHTOOL_GENL_VERSION))
		goto out;
	hdr = nla_nest_start(msg, hdr_attr);
	if (!hdr || nla_put_string(msg, ETHTOOL_A_HEADER_DEV_NAME, ifname))
		goto out;
	nla_nest_end(msg, hdr);
	for (i = 0; req && i < req->n; i++) {
		bool u8 = req->attrs[i] == ETHTOOL_A_COALESCE_USE_ADAPTIVE_RX ||
			  req->attrs[i] == ETHTOOL_A_COALESCE_USE_ADAPTIVE_TX;

		if (u8 ? nla_put_u8(msg, req->attrs[i], req->values[i]) :
			 nla_put_u32(msg, req->attrs[i], req->values[i]))
			goto out;
	}
	if (info)
		nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM,
				    coalesce_parse, info);
	err = nl_send_auto(sk, msg);
	if (err < 0) {
		err = nl_to_errno(err);
		goto out;
	}
	err = nl_recvmsgs_default(sk);
	err = err < 0 ? nl_to_errno(err) : 0;
out:
	nlmsg_free(msg);
	nl_socket_free(sk);
	return err;
}

int ethtool_coalesce_get(const char *ifname, struct ethtool_coalesce_info *info)
{
	memset(info, 0, sizeof(*info));
	return ethtool_request(ETHTOOL_MSG_COALESCE_GET,
			       ETHTOOL_A_COALESCE_HEADER, ifname, NULL, info);
}

int ethtool_coalesce_set(const char *ifname, int attr, __u32 value)
{
	struct coalesce_set_req req = { .attrs = { attr },
					.values = { value },
					.n = 1 };

	if (!ethtool_coalesce_attr_name(attr))
		return -EINVAL;
	return ethtool_request(ETHTOOL_MSG_COALESCE_SET,
			       ETHTOOL_A_COALESCE_HEADER, ifname, &req, NULL);
}

int ethtool_coalesce_attr_parse(const char *name)
{
	int a;

	for (a = 0; a <= KOPT_COALESCE_MAX_ATTR; a++)
		if (coalesce_names[a] && !strcmp(coalesce_names[a], name))
			return a;
	return -EINVAL;
}

int ethtool_driver_name(const char *ifname, char *buf, size_t len)
{
	struct ethtool_drvinfo drv = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = {};
	int fd, err = 0;

	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, ifname);
	ifr.ifr_data = (void *)&drv;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		err = -errno;
	else
		snprintf(buf, len, "%s", drv.driver);
	close(fd);
	return err;
}
